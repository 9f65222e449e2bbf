// Qcow2Image: writes, write-zeroes and discards. They change metadata in memory only (see the
// header for when and in what order it reaches the file); data goes to the file at once, into
// clusters no metadata on disk references yet, or in place into clusters the active L1 table
// owns alone (COPIED).
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "block/iov_util.h"
#include "block/qcow2/iov_slice.h"
#include "block/qcow2/qcow2_format.h"
#include "block/qcow2/qcow2_image.h"

namespace tandem::qcow2 {

namespace {

constexpr size_t kMaxPendingFrees = 65536;
constexpr uint64_t kZeroChunk = 1 << 20;

bool standard(uint64_t entry) {
  return !(entry & kOflagCompressed);
}
// A cluster the active image owns alone and that holds its data: written in place.
bool writable_in_place(uint64_t entry) {
  return standard(entry) && !(entry & kOflagZero) && (entry & kOflagCopied) &&
         (entry & kOffsetMask) != 0;
}

}  // namespace

int Qcow2Image::check_writable() const {
  if (read_only_) return -EROFS;
  if (corrupt_) return -EIO;
  return 0;
}

int Qcow2Image::writable_l2(uint64_t l1_index, TablePtr& out) {
  if (l1_index >= l1_.size()) return corrupt("guest cluster beyond the L1 table");
  uint64_t cs = cluster_size();
  uint64_t e = l1_[l1_index];
  uint64_t old = e & kOffsetMask;
  if (old != 0 && !valid_table_offset(old)) {
    return corrupt(fmt::format("L1 entry {} points to {:#x}", l1_index, old));
  }
  if (old != 0 && (e & kOflagCopied)) return load_table(l2_cache_, old, out);

  // No table yet, or one shared with a snapshot: the active image gets a table of its own. The
  // clusters a copied table references keep their refcounts (they counted the old table's
  // references, which the new one takes over).
  TablePtr source;
  if (old != 0) {
    if (int r = load_table(l2_cache_, old, source); r < 0) return r;
  }
  uint64_t fresh;
  if (int r = alloc_clusters(1, fresh); r < 0) return r;
  out = l2_cache_.insert(fresh);
  if (source) std::memcpy(out->data(), source->data(), cs);
  out->set_dirty(true);
  l1_[l1_index] = fresh | kOflagCopied;
  l1_dirty_.insert(l1_index);
  metadata_dirty_ = true;
  if (old != 0) {
    l2_cache_.erase(old);
    free_later(old, cs);
  }
  return 0;
}

void Qcow2Image::release(uint64_t entry) {
  if (entry & kOflagCompressed) {
    CompressedExtent c = decode_compressed(entry, header_.cluster_bits);
    uint64_t start = c.offset & ~uint64_t{511};
    free_later(start, c.length + (c.offset - start));
    compressed_entry_ = 0;
    return;
  }
  uint64_t off = entry & kOffsetMask;
  if (off != 0) free_later(off, cluster_size());
}

bool Qcow2Image::overlaps_metadata(uint64_t host, uint64_t length) const {
  uint64_t cs = cluster_size();
  auto inside = [&](uint64_t start, uint64_t bytes) {
    return bytes > 0 && host < start + bytes && start < host + length;
  };
  if (host < cs || inside(header_.l1_table_offset, uint64_t{header_.l1_size} * 8) ||
      inside(refcount_table_offset_, refcount_table_clusters_ * cs) ||
      (header_.nb_snapshots > 0 && inside(header_.snapshots_offset, cs))) {
    return true;
  }
  for (uint64_t c = host & ~(cs - 1); c < host + length; c += cs) {
    if (l2_cache_.contains(c) || refblock_cache_.contains(c)) return true;
  }
  return false;
}

int Qcow2Image::write_in_place(uint64_t host, std::span<const iovec> iov) {
  uint64_t len = iov_total(iov).value_or(0);
  if (overlaps_metadata(host, len)) {
    return corrupt(fmt::format("a data cluster at {:#x} overlaps metadata", host));
  }
  return file_write(host, iov);
}

int Qcow2Image::write_new_clusters(uint64_t vcluster, uint64_t count, uint64_t offset,
                                   uint64_t length, std::span<const iovec> iov) {
  uint64_t cs = cluster_size();
  unsigned cb = header_.cluster_bits;
  TablePtr l2;
  if (int r = writable_l2(vcluster >> l2_bits_, l2); r < 0) return r;
  uint64_t mask = (uint64_t{1} << l2_bits_) - 1;
  uint64_t head = offset - (vcluster << cb);                       // bytes kept before
  uint64_t tail = ((vcluster + count) << cb) - (offset + length);  // bytes kept after

  // What the request does not cover comes from the clusters' current contents: the backing
  // file, zeroes, a compressed cluster, or a cluster shared with a snapshot.
  std::vector<uint8_t> first, last;
  if (head > 0) {
    first.resize(cs);
    iovec v{first.data(), cs};
    if (int r = read_cluster_part(vcluster, l2->entry(vcluster & mask), 0, cs, {&v, 1}); r < 0) {
      return r;
    }
  }
  if (tail > 0 && !(count == 1 && head > 0)) {
    uint64_t vc = vcluster + count - 1;
    last.resize(cs);
    iovec v{last.data(), cs};
    if (int r = read_cluster_part(vc, l2->entry(vc & mask), 0, cs, {&v, 1}); r < 0) return r;
  }
  uint8_t* tail_src = count == 1 && head > 0 ? first.data() : last.data();

  uint64_t host;
  if (int r = alloc_clusters(count, host); r < 0) return r;
  std::vector<iovec> out;
  if (head > 0) out.push_back({first.data(), head});
  out.insert(out.end(), iov.begin(), iov.end());
  if (tail > 0) out.push_back({tail_src + (cs - tail), tail});
  if (int r = file_write(host, out); r < 0) return r;  // the clusters leak; nothing references them

  // Only now may the L2 table point at the data (the write-back orders them on disk too).
  for (uint64_t i = 0; i < count; ++i) {
    size_t index = (vcluster + i) & mask;
    uint64_t old = l2->entry(index);
    l2->set_entry(index, (host + i * cs) | kOflagCopied);
    release(old);
  }
  metadata_dirty_ = true;
  return 0;
}

int Qcow2Image::write_data(uint64_t offset, std::span<const iovec> iov) {
  uint64_t len = iov_total(iov).value_or(0);
  uint64_t cs = cluster_size();
  unsigned cb = header_.cluster_bits;
  std::vector<iovec> part;
  uint64_t done = 0;
  while (done < len) {
    uint64_t pos = offset + done;
    uint64_t vc = pos >> cb;
    uint64_t in_off = pos & (cs - 1);
    uint64_t entry;
    if (int r = l2_entry(vc, entry); r < 0) return r;
    uint64_t n = std::min(cs - in_off, len - done);
    uint64_t count = 1;
    bool in_place = writable_in_place(entry);
    // Gather the following clusters that go the same way: in place and contiguous in the file,
    // or all new (then within one L2 table).
    while (done + n < len) {
      uint64_t next_vc = vc + count;
      if (!in_place && (next_vc >> l2_bits_) != (vc >> l2_bits_)) break;
      uint64_t next;
      if (int r = l2_entry(next_vc, next); r < 0) return r;
      if (writable_in_place(next) != in_place) break;
      if (in_place && (next & kOffsetMask) != (entry & kOffsetMask) + count * cs) break;
      n += std::min(cs, len - done - n);
      ++count;
    }
    part.clear();
    iov_slice(iov, done, n, part);
    int r = in_place ? write_in_place((entry & kOffsetMask) + in_off, part)
                     : write_new_clusters(vc, count, pos, n, part);
    if (r < 0) return r;
    done += n;
  }
  return 0;
}

int Qcow2Image::write(uint64_t offset, std::span<const iovec> iov) {
  if (read_only_) return -EROFS;
  auto total = iov_total(iov);
  if (!total || offset > size() || *total > size() - offset) return -EINVAL;
  if (int r = check_writable(); r < 0) return r;
  return end_modify(write_data(offset, iov));
}

int Qcow2Image::write_zero_bytes(uint64_t offset, uint64_t length) {
  if (zeroes_.empty()) zeroes_.resize(kZeroChunk);
  while (length > 0) {
    uint64_t n = std::min(length, kZeroChunk);
    iovec v{zeroes_.data(), n};
    if (int r = write_data(offset, {&v, 1}); r < 0) return r;
    offset += n;
    length -= n;
  }
  return 0;
}

int Qcow2Image::zero_partial_cluster(uint64_t offset, uint64_t length) {
  uint64_t entry;
  if (int r = l2_entry(offset >> header_.cluster_bits, entry); r < 0) return r;
  if (reads_as_zero(entry)) return 0;
  return write_zero_bytes(offset, length);
}

template <typename Next>
int Qcow2Image::rewrite_entries(uint64_t first, uint64_t count, Next next) {
  // Look first: a range that needs no change must not allocate or copy an L2 table.
  bool change = false;
  for (uint64_t i = 0; i < count && !change; ++i) {
    uint64_t entry;
    if (int r = l2_entry(first + i, entry); r < 0) return r;
    change = next(entry) != entry;
  }
  if (!change) return 0;
  TablePtr l2;
  if (int r = writable_l2(first >> l2_bits_, l2); r < 0) return r;
  uint64_t mask = (uint64_t{1} << l2_bits_) - 1;
  for (uint64_t i = 0; i < count; ++i) {
    size_t index = (first + i) & mask;
    uint64_t old = l2->entry(index);
    if (int r = check_l2_entry(old); r < 0) return r;
    uint64_t fresh = next(old);
    if (fresh == old) continue;
    l2->set_entry(index, fresh);
    if ((old & kOflagCompressed) || (old & kOffsetMask) != (fresh & kOffsetMask)) release(old);
  }
  metadata_dirty_ = true;
  return 0;
}

int Qcow2Image::zero_v2_cluster(uint64_t vcluster, bool may_unmap) {
  // Version 2 has no zero flag: a cluster reads as zeroes when it is unallocated and there is no
  // backing file, or when it holds zeroes.
  uint64_t entry;
  if (int r = l2_entry(vcluster, entry); r < 0) return r;
  if (reads_as_zero(entry)) return 0;
  if (!backing_ && (may_unmap || !writable_in_place(entry))) {
    return rewrite_entries(vcluster, 1, [](uint64_t) { return uint64_t{0}; });
  }
  return write_zero_bytes(vcluster << header_.cluster_bits, cluster_size());
}

int Qcow2Image::write_zeroes(uint64_t offset, uint64_t length, bool may_unmap) {
  if (read_only_) return -EROFS;
  if (offset > size() || length > size() - offset) return -EINVAL;
  if (int r = check_writable(); r < 0) return r;
  uint64_t cs = cluster_size();
  unsigned cb = header_.cluster_bits;
  uint64_t end = offset + length;
  uint64_t whole_begin = std::min(end, (offset + cs - 1) & ~(cs - 1));
  uint64_t whole_end = std::max(whole_begin, end & ~(cs - 1));
  int r = 0;
  if (offset < whole_begin) r = zero_partial_cluster(offset, whole_begin - offset);
  uint64_t pos = whole_begin;
  while (r == 0 && pos < whole_end) {
    uint64_t vc = pos >> cb;
    uint64_t table_left = (uint64_t{1} << l2_bits_) - (vc & ((uint64_t{1} << l2_bits_) - 1));
    uint64_t count = std::min((whole_end - pos) >> cb, table_left);
    if (header_.version >= 3) {
      bool has_backing = backing_ != nullptr;
      r = rewrite_entries(vc, count, [may_unmap, has_backing](uint64_t old) -> uint64_t {
        bool unallocated = standard(old) && (old & kOffsetMask) == 0;
        if (unallocated && ((old & kOflagZero) || !has_backing)) return old;  // reads zeroes
        if (!may_unmap && writable_in_place(old)) {
          // Keep the cluster allocated (the caller may rely on later writes not needing space).
          return (old & kOffsetMask) | kOflagCopied | kOflagZero;
        }
        if (!may_unmap && standard(old) && (old & kOflagZero) && (old & kOflagCopied)) {
          return old;  // zeroed already, still allocated
        }
        return kOflagZero;
      });
    } else {
      for (uint64_t i = 0; r == 0 && i < count; ++i) r = zero_v2_cluster(vc + i, may_unmap);
    }
    pos += count << cb;
    // Long requests: let the caches drain between L2 tables.
    if (r == 0 && pos < whole_end &&
        (l2_cache_.over_capacity() || refblock_cache_.over_capacity() ||
         pending_frees_.size() > kMaxPendingFrees)) {
      r = write_back();
      l2_cache_.trim();
      refblock_cache_.trim();
    }
  }
  if (r == 0 && whole_end < end) r = zero_partial_cluster(whole_end, end - whole_end);
  return end_modify(r);
}

int Qcow2Image::discard(uint64_t offset, uint64_t length) {
  if (read_only_) return -EROFS;
  if (offset > size() || length > size() - offset) return -EINVAL;
  if (int r = check_writable(); r < 0) return r;
  uint64_t cs = cluster_size();
  unsigned cb = header_.cluster_bits;
  uint64_t end = offset + length;
  uint64_t pos = (offset + cs - 1) & ~(cs - 1);
  // The last cluster may be partial when the virtual size is not a multiple of the cluster size.
  uint64_t whole_end = end == size() ? (end + cs - 1) & ~(cs - 1) : end & ~(cs - 1);
  bool v3 = header_.version >= 3;
  bool has_backing = backing_ != nullptr;
  int r = 0;
  while (r == 0 && pos < whole_end) {
    uint64_t vc = pos >> cb;
    uint64_t table_left = (uint64_t{1} << l2_bits_) - (vc & ((uint64_t{1} << l2_bits_) - 1));
    uint64_t count = std::min((whole_end - pos) >> cb, table_left);
    r = rewrite_entries(vc, count, [v3, has_backing](uint64_t old) -> uint64_t {
      if (!has_backing) {  // unallocated reads zeroes
        return standard(old) && (old & kOffsetMask) == 0 ? old : 0;
      }
      if (v3) return kOflagZero;  // the backing file must not show through
      return old;                 // version 2 over a backing file: keep the data
    });
    pos += count << cb;
    if (r == 0 && pos < whole_end &&
        (l2_cache_.over_capacity() || refblock_cache_.over_capacity() ||
         pending_frees_.size() > kMaxPendingFrees)) {
      r = write_back();
      l2_cache_.trim();
      refblock_cache_.trim();
    }
  }
  return end_modify(r);
}

int Qcow2Image::end_modify(int result) {
  bool must = uses_o_dsync(cache_);  // every completed write is durable, metadata included
  bool pressure = l2_cache_.over_capacity() || refblock_cache_.over_capacity() ||
                  pending_frees_.size() > kMaxPendingFrees;
  if (must || pressure) {
    int r = write_back();
    if (result == 0) result = r;
  }
  l2_cache_.trim();
  refblock_cache_.trim();
  return result;
}

}  // namespace tandem::qcow2
