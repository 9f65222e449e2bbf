// Qcow2Image: cluster allocation, refcounts, and writing metadata back in crash-safe order.
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/log.h"
#include "block/qcow2/qcow2_format.h"
#include "block/qcow2/qcow2_image.h"

namespace tandem::qcow2 {

namespace {

constexpr uint64_t kMaxHostOffset = uint64_t{1} << 56;  // L2 entries hold offset bits 9-55

}  // namespace

uint64_t Qcow2Image::get_refcount(const Table& block, uint64_t index) const {
  return load_refcount(block.data(), header_.refcount_order, index);
}

void Qcow2Image::set_refcount(Table& block, uint64_t index, uint64_t value) {
  store_refcount(block.data(), header_.refcount_order, index, value);
  block.set_dirty(true);
}

int Qcow2Image::refcount_block(uint64_t table_index, TablePtr& out) {
  uint64_t offset = refcount_table_[table_index];
  if (!valid_table_offset(offset)) {
    return corrupt(fmt::format("refcount table entry {} points to {:#x}", table_index, offset));
  }
  return load_table(refblock_cache_, offset, out);
}

int Qcow2Image::cluster_refcount(uint64_t cluster_index, uint64_t& value) {
  value = 0;
  uint64_t ti = cluster_index >> refblock_bits_;
  if (ti >= refcount_table_.size() || refcount_table_[ti] == 0) return 0;
  TablePtr block;
  if (int r = refcount_block(ti, block); r < 0) return r;
  value = get_refcount(*block, cluster_index & ((uint64_t{1} << refblock_bits_) - 1));
  return 0;
}

int Qcow2Image::claim_clusters(uint64_t count, uint64_t& offset) {
  uint64_t cs = cluster_size();
  unsigned cb = header_.cluster_bits;
  // Normally everything past the end of the file is free; an image may still count clusters
  // there (leaked ones), which must not be handed out twice.
  for (uint64_t i = 0; i < count;) {
    if (alloc_end_ + count * cs > kMaxHostOffset) return -ENOSPC;
    uint64_t value;
    if (int r = cluster_refcount((alloc_end_ >> cb) + i, value); r < 0) return r;
    if (value != 0) {
      alloc_end_ += (i + 1) * cs;
      i = 0;
      continue;
    }
    ++i;
  }
  offset = alloc_end_;
  alloc_end_ += count * cs;
  return 0;
}

int Qcow2Image::alloc_clusters(uint64_t count, uint64_t& offset) {
  if (int r = claim_clusters(count, offset); r < 0) return r;
  for (uint64_t i = 0; i < count; ++i) {
    if (int r = update_refcount((offset >> header_.cluster_bits) + i, 1); r < 0) return r;
  }
  metadata_dirty_ = true;
  return 0;
}

int Qcow2Image::update_refcount(uint64_t cluster_index, int64_t delta, uint64_t* result) {
  uint64_t cs = cluster_size();
  uint64_t ti = cluster_index >> refblock_bits_;
  if (ti >= refcount_table_.size()) {
    if (delta < 0) {
      return corrupt(
          fmt::format("freeing cluster {:#x}, which has no refcount", cluster_index * cs));
    }
    if (int r = grow_refcount_table(ti); r < 0) return r;
  }
  if (refcount_table_[ti] == 0) {
    if (delta < 0) {
      return corrupt(
          fmt::format("freeing cluster {:#x}, which has no refcount block", cluster_index * cs));
    }
    // A new refcount block, which counts itself where it lands (possibly in a block of its own,
    // created the same way).
    uint64_t block_offset;
    if (int r = claim_clusters(1, block_offset); r < 0) return r;
    TablePtr block = refblock_cache_.insert(block_offset);
    block->set_dirty(true);
    refcount_table_[ti] = block_offset;
    refcount_table_dirty_.insert(ti);
    metadata_dirty_ = true;
    if (int r = update_refcount(block_offset >> header_.cluster_bits, 1); r < 0) return r;
  }
  TablePtr block;
  if (int r = refcount_block(ti, block); r < 0) return r;
  uint64_t index = cluster_index & ((uint64_t{1} << refblock_bits_) - 1);
  uint64_t value = get_refcount(*block, index);
  unsigned bits = header_.refcount_bits();
  uint64_t max = bits == 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
  if (delta < 0 && value < static_cast<uint64_t>(-delta)) {
    return corrupt(fmt::format("refcount of cluster {:#x} would drop below 0", cluster_index * cs));
  }
  if (delta > 0 && value > max - static_cast<uint64_t>(delta)) {
    return corrupt(
        fmt::format("refcount of cluster {:#x} would exceed {}", cluster_index * cs, max));
  }
  value += static_cast<uint64_t>(delta);
  set_refcount(*block, index, value);
  metadata_dirty_ = true;
  if (result) *result = value;
  return 0;
}

int Qcow2Image::grow_refcount_table(uint64_t needed_index) {
  uint64_t cs = cluster_size();
  uint64_t per_cluster = cs / 8;
  uint64_t entries = std::max<uint64_t>(needed_index + 1, refcount_table_.size() * 3 / 2);
  uint64_t clusters;
  while (true) {
    clusters = (entries + per_cluster - 1) / per_cluster;
    // The new table lands at the end, followed by the blocks that count it: they must all be
    // covered by the new table too (with slack for blocks created on the way).
    uint64_t last = (alloc_end_ >> header_.cluster_bits) + clusters + 16;
    uint64_t need = (last >> refblock_bits_) + 1;
    if (need <= clusters * per_cluster) break;
    entries = need;
  }
  if (clusters * cs > kMaxRefcountTableBytes) {
    TLOG_ERROR("qcow2 image '{}': the refcount table would exceed 8 MiB", path());
    return -ENOSPC;
  }
  uint64_t table_offset;
  if (int r = claim_clusters(clusters, table_offset); r < 0) return r;
  uint64_t old_offset = refcount_table_offset_;
  uint64_t old_clusters = refcount_table_clusters_;
  refcount_table_.resize(clusters * per_cluster, 0);
  refcount_table_offset_ = table_offset;
  refcount_table_clusters_ = clusters;
  refcount_table_moved_ = true;
  metadata_dirty_ = true;
  for (uint64_t i = 0; i < clusters; ++i) {
    if (int r = update_refcount((table_offset >> header_.cluster_bits) + i, 1); r < 0) return r;
  }
  free_later(old_offset, old_clusters * cs);
  return 0;
}

void Qcow2Image::free_later(uint64_t offset, uint64_t length) {
  if (length == 0) return;
  // Ranges may be merged only at cluster boundaries: a cluster that two compressed clusters
  // share must lose two references.
  if (!pending_frees_.empty() && offset % cluster_size() == 0) {
    auto& [o, l] = pending_frees_.back();
    if (o + l == offset) {
      l += length;
      return;
    }
  }
  pending_frees_.emplace_back(offset, length);
}

// --- Write-back ---------------------------------------------------------------------------------

int Qcow2Image::file_write(uint64_t offset, const void* buf, size_t len) {
  unsynced_ = true;
  return file_.write(offset, buf, len);
}

int Qcow2Image::file_write(uint64_t offset, std::span<const iovec> iov) {
  unsynced_ = true;
  return file_.write(offset, iov);
}

int Qcow2Image::barrier() {
  if (!unsynced_) return 0;
  if (cache_ != CacheMode::kUnsafe && !uses_o_dsync(cache_)) {
    if (int r = file_.sync(); r < 0) return r;
    ++syncs_;
  }
  unsynced_ = false;
  return 0;
}

int Qcow2Image::write_tables(TableCache& cache) {
  for (const TablePtr& t : cache.dirty_tables()) {
    if (int r = file_write(t->offset(), t->data(), t->size()); r < 0) return r;
    t->set_dirty(false);
  }
  return 0;
}

int Qcow2Image::apply_frees() {
  uint64_t cs = cluster_size();
  unsigned cb = header_.cluster_bits;
  std::vector<std::pair<uint64_t, uint64_t>> frees;
  frees.swap(pending_frees_);
  std::vector<std::pair<uint64_t, uint64_t>> holes;
  for (const auto& [offset, length] : frees) {
    for (uint64_t c = offset >> cb; c <= (offset + length - 1) >> cb; ++c) {
      uint64_t value = 0;
      // A failure marks the image corrupt (logged); the other frees still happen.
      if (update_refcount(c, -1, &value) < 0 || value != 0) continue;
      if (!holes.empty() && holes.back().first + holes.back().second == c * cs) {
        holes.back().second += cs;
      } else {
        holes.emplace_back(c * cs, cs);
      }
    }
  }
  if (int r = write_tables(refblock_cache_); r < 0) return r;
  for (const auto& [offset, length] : holes) file_.punch_hole(offset, length);
  return 0;
}

int Qcow2Image::write_back() {
  if (!metadata_dirty_ && pending_frees_.empty()) return 0;
  uint64_t cs = cluster_size();

  // 1. Refcount blocks: so far they only gained references.
  if (int r = write_tables(refblock_cache_); r < 0) return r;

  // 2. The refcount table: a new copy, then the header pointing at it; or changed entries.
  if (refcount_table_moved_) {
    if (int r = barrier(); r < 0) return r;
    std::vector<uint8_t> table(refcount_table_clusters_ * cs);
    for (size_t i = 0; i < refcount_table_.size(); ++i) {
      store_be64(&table[i * 8], refcount_table_[i]);
    }
    if (int r = file_write(refcount_table_offset_, table.data(), table.size()); r < 0) return r;
    if (int r = barrier(); r < 0) return r;
    uint8_t field[12];
    store_be64(field, refcount_table_offset_);
    store_be32(field + 8, static_cast<uint32_t>(refcount_table_clusters_));
    if (int r = file_write(kRefcountTableOffsetField, field, sizeof field); r < 0) return r;
    header_.refcount_table_offset = refcount_table_offset_;
    header_.refcount_table_clusters = static_cast<uint32_t>(refcount_table_clusters_);
    refcount_table_moved_ = false;
    refcount_table_dirty_.clear();
  } else if (!refcount_table_dirty_.empty()) {
    if (int r = barrier(); r < 0) return r;
    while (!refcount_table_dirty_.empty()) {
      uint64_t i = *refcount_table_dirty_.begin();
      uint8_t e[8];
      store_be64(e, refcount_table_[i]);
      if (int r = file_write(refcount_table_offset_ + i * 8, e, 8); r < 0) return r;
      refcount_table_dirty_.erase(refcount_table_dirty_.begin());
    }
  }

  // 3. L2 tables, after the data and the refcounts of every cluster they point at.
  if (l2_cache_.has_dirty()) {
    if (int r = barrier(); r < 0) return r;
    if (int r = write_tables(l2_cache_); r < 0) return r;
  }

  // 4. L1 entries, after the L2 tables they point at.
  if (!l1_dirty_.empty()) {
    if (int r = barrier(); r < 0) return r;
    while (!l1_dirty_.empty()) {
      uint64_t i = *l1_dirty_.begin();
      uint8_t e[8];
      store_be64(e, l1_[i]);
      if (int r = file_write(header_.l1_table_offset + i * 8, e, 8); r < 0) return r;
      l1_dirty_.erase(l1_dirty_.begin());
    }
  }

  // 5. Now that nothing on disk references them any more, the freed clusters lose their counts.
  if (!pending_frees_.empty()) {
    if (int r = barrier(); r < 0) return r;
    if (int r = apply_frees(); r < 0) return r;
  }
  metadata_dirty_ = false;
  return 0;
}

int Qcow2Image::flush() {
  if (read_only_) return 0;
  if (int r = write_back(); r < 0) return r;
  return barrier();
}

}  // namespace tandem::qcow2
