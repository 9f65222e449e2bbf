// Qcow2Image::map_plain: the mapping half of Qcow2Driver's asynchronous data path.
#include <algorithm>

#include "block/iov_util.h"
#include "block/qcow2/iov_slice.h"
#include "block/qcow2/qcow2_format.h"
#include "block/qcow2/qcow2_image.h"

namespace tandem::qcow2 {

bool Qcow2Image::map_plain(bool write, uint64_t offset, std::span<const iovec> iov,
                           std::vector<PlainExtent>& out) {
  out.clear();
  auto total = iov_total(iov);
  if (!total || *total == 0 || offset > size() || *total > size() - offset) return false;
  if (write && check_writable() < 0) return false;
  // Test observers must see every write (the crash tests replay them).
  if (file_.observed()) return false;
  uint64_t cs = cluster_size();
  // With O_DIRECT, the synchronous path's read-modify-write of a partial block must stay inside
  // one cluster, so that it can only race with transfers into that same cluster (the guest
  // racing itself): true when clusters are at least as large as the host's blocks.
  if (cs % file_.offset_align() != 0) return false;
  if (!file_.aligned(offset, iov)) return false;

  uint64_t len = *total;
  uint64_t done = 0;
  while (done < len) {
    uint64_t pos = offset + done;
    uint64_t vc = pos >> header_.cluster_bits;
    uint64_t entry;
    if (l2_entry(vc, entry) < 0) return false;
    uint64_t host = entry & kOffsetMask;
    bool plain = !(entry & (kOflagCompressed | kOflagZero)) && host != 0;
    // Writes in place only where write_data() would write in place (see writable_in_place).
    if (!plain || (write && !(entry & kOflagCopied))) return false;
    uint64_t in_off = pos & (cs - 1);
    uint64_t n = std::min(cs - in_off, len - done);
    host += in_off;
    if (host + n > file_.size()) return false;  // a short file: the synchronous path zero-fills
    if (write && overlaps_metadata(host, n)) return false;  // write() reports the corruption
    if (!out.empty() && out.back().host_offset + out.back().length == host) {
      out.back().length += n;
    } else {
      out.push_back({done, host, n});
    }
    done += n;
  }
  l2_cache_.trim();
  // Every piece starts at a cluster boundary of an aligned request: aligned too, but check what
  // the host will see rather than rely on that.
  std::vector<iovec> piece;
  for (const PlainExtent& e : out) {
    piece.clear();
    iov_slice(iov, e.request_offset, e.length, piece);
    if (!file_.aligned(e.host_offset, piece)) return false;
  }
  return true;
}

}  // namespace tandem::qcow2
