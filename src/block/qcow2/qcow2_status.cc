// Qcow2Image::block_status: how a guest range is stored, for `tandem img map` and for copying
// only what holds data.
#include <algorithm>
#include <cerrno>

#include "block/qcow2/qcow2_format.h"
#include "block/qcow2/qcow2_image.h"

namespace tandem::qcow2 {

namespace {

struct ClusterKind {
  Qcow2Image::Extent::Kind kind;
  uint64_t host;  // 0: none
};

ClusterKind classify(uint64_t entry) {
  using Extent = Qcow2Image::Extent;
  if (entry & kOflagCompressed) return {Extent::kCompressed, 0};
  uint64_t host = entry & kOffsetMask;
  if (entry & kOflagZero) return {Extent::kZero, host};
  if (host == 0) return {Extent::kUnallocated, 0};
  return {Extent::kData, host};
}

}  // namespace

int Qcow2Image::block_status(uint64_t offset, uint64_t max_length, Extent& out) {
  if (offset >= size() || max_length == 0) return -EINVAL;
  max_length = std::min(max_length, size() - offset);
  uint64_t cs = cluster_size();
  unsigned cb = header_.cluster_bits;
  uint64_t l2_span_clusters = uint64_t{1} << l2_bits_;

  uint64_t first = offset >> cb;
  uint64_t in_off = offset & (cs - 1);
  uint64_t entry;
  if (int r = l2_entry(first, entry); r < 0) return r;
  ClusterKind kind = classify(entry);
  uint64_t len = std::min(cs - in_off, max_length);
  uint64_t vc = first + 1;
  while (len < max_length) {
    // A whole L2 table that is not allocated: unallocated without looking at each cluster.
    if (kind.kind == Extent::kUnallocated && (vc & (l2_span_clusters - 1)) == 0 &&
        (vc >> l2_bits_) < l1_.size() && (l1_[vc >> l2_bits_] & kOffsetMask) == 0) {
      len = std::min(max_length, len + (l2_span_clusters << cb));
      vc += l2_span_clusters;
      continue;
    }
    uint64_t next;
    if (int r = l2_entry(vc, next); r < 0) return r;
    ClusterKind k = classify(next);
    if (k.kind != kind.kind) break;
    if (kind.host == 0 ? k.host != 0 : k.host != kind.host + ((vc - first) << cb)) break;
    len = std::min(max_length, len + cs);
    ++vc;
  }
  out.kind = kind.kind;
  out.length = len;
  out.host_offset = kind.host ? kind.host + in_off : 0;
  l2_cache_.trim();
  return 0;
}

}  // namespace tandem::qcow2
