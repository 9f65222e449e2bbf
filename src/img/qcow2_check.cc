#include "img/qcow2_check.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <vector>

#include "base/error.h"
#include "base/unique_fd.h"
#include "block/image_lock.h"
#include "block/qcow2/qcow2_format.h"
#include "block/qcow2/qcow2_header.h"
#include "img/snapshot_table.h"

namespace tandem::img {

namespace {

using namespace qcow2;

constexpr uint64_t kRefTableOffsetMask = ~uint64_t{0x1ff};

class Checker {
 public:
  Checker(const std::string& path, unsigned fix, std::FILE* err)
      : path_(path), fix_(fix), err_(err) {}

  CheckResult run();

 private:
  struct Block {
    std::vector<uint8_t> data;
    bool dirty = false;
  };

  void open();
  bool read_at(uint64_t offset, void* buf, size_t len);  // zeroes past the end of the file
  void write_at(uint64_t offset, const void* buf, size_t len);
  void sync();

  uint64_t& reference(uint64_t cluster);
  uint64_t reference_of(uint64_t cluster) const;
  void inc(uint64_t offset, uint64_t size);
  void calculate();
  void check_l1(uint64_t l1_offset, uint64_t l1_size, bool active);
  void check_l2(uint64_t l2_offset, bool active);
  void check_refblocks();

  // The stored refcount of a cluster; false when its refcount block cannot be used.
  bool stored_refcount(uint64_t cluster, uint64_t& value);
  Block* refblock(uint64_t table_index);
  uint64_t get_refcount(const uint8_t* block, uint64_t index) const;
  void set_refcount(uint8_t* block, uint64_t index, uint64_t value) const;
  void compare(unsigned fix);
  void rebuild();
  void check_oflag_copied();
  void write_refblocks();
  void mark_clean();

  std::string path_;
  unsigned fix_;
  std::FILE* err_;
  UniqueFd fd_;
  uint64_t file_size_ = 0;
  Header h_;
  uint64_t cs_ = 0;
  unsigned cb_ = 0;
  uint64_t refcount_max_ = 0;
  unsigned refblock_bits_ = 0;  // log2(entries per refcount block)
  SnapshotTable snapshots_;

  std::vector<uint64_t> refs_;           // references to the clusters of the file
  std::map<uint64_t, uint64_t> beyond_;  // references past the end of the file
  // What the old refcount structure itself added to refs_ (for a rebuild).
  std::vector<uint64_t> structure_clusters_;
  std::vector<uint64_t> rt_;  // the stored refcount table
  std::map<uint64_t, Block> blocks_;
  std::vector<uint64_t> l1_;  // the active L1 table
  bool rebuild_ = false;
  uint64_t highest_ = 0;
  bool any_ = false;  // highest_ is valid
  CheckResult res_;
};

void Checker::open() {
  bool writable = fix_ != kFixNone;
  fd_ = UniqueFd(::open(path_.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC));
  if (!fd_) fail_errno("Could not open '{}'", path_);
  struct stat st;
  if (::fstat(fd_.get(), &st) < 0) fail_errno("could not stat '{}'", path_);
  if (S_ISDIR(st.st_mode)) fail("'{}' is a directory, not a disk image", path_);
  file_size_ = static_cast<uint64_t>(st.st_size);
  lock_image(fd_.get(), path_, writable);

  std::vector<uint8_t> first(std::min<uint64_t>(file_size_, 2u << 20));
  if (!read_at(0, first.data(), first.size())) fail_errno("could not read '{}'", path_);
  if (first.size() >= 24 && load_be32(first.data()) == kMagic) {
    uint32_t bits = load_be32(&first[20]);
    if (bits >= kMinClusterBits && bits <= kMaxClusterBits) {
      first.resize(std::min<size_t>(first.size(), size_t{1} << bits));
    }
  }
  h_ = parse_header(first, file_size_, path_);
  if (h_.incompatible_features & kIncompatExtendedL2) {
    fail("qcow2 image '{}' uses extended L2 entries, which Tandem cannot check", path_);
  }
  if (h_.incompatible_features & kIncompatDataFile) {
    fail("qcow2 image '{}' uses an external data file, which Tandem cannot check", path_);
  }
  cs_ = h_.cluster_size();
  cb_ = h_.cluster_bits;
  unsigned bits = h_.refcount_bits();
  refcount_max_ = bits == 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
  refblock_bits_ = cb_ + 3 - h_.refcount_order;
  snapshots_ = read_snapshot_table(fd_.get(), h_, file_size_, path_);

  rt_.resize(uint64_t{h_.refcount_table_clusters} * cs_ / 8);
  if (!read_at(h_.refcount_table_offset, rt_.data(), rt_.size() * 8)) {
    fail_errno("could not read the refcount table of '{}'", path_);
  }
  for (uint64_t& e : rt_) e = load_be64(reinterpret_cast<const uint8_t*>(&e));
  l1_.resize(h_.l1_size);
  if (!l1_.empty() && !read_at(h_.l1_table_offset, l1_.data(), l1_.size() * 8)) {
    fail_errno("could not read the L1 table of '{}'", path_);
  }
  for (uint64_t& e : l1_) e = load_be64(reinterpret_cast<const uint8_t*>(&e));
}

bool Checker::read_at(uint64_t offset, void* buf, size_t len) {
  auto* p = static_cast<uint8_t*>(buf);
  while (len > 0) {
    ssize_t n = ::pread(fd_.get(), p, len, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) {
      std::fill(p, p + len, 0);
      return true;
    }
    p += n;
    len -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return true;
}

void Checker::write_at(uint64_t offset, const void* buf, size_t len) {
  const auto* p = static_cast<const uint8_t*>(buf);
  while (len > 0) {
    ssize_t n = ::pwrite(fd_.get(), p, len, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_errno("could not write the repair of '{}'", path_);
    p += n;
    len -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  file_size_ = std::max(file_size_, offset);
}

void Checker::sync() {
  if (::fdatasync(fd_.get()) < 0) fail_errno("could not sync '{}'", path_);
}

// --- References --------------------------------------------------------------------------------

uint64_t& Checker::reference(uint64_t cluster) {
  if (cluster < refs_.size()) return refs_[cluster];
  return beyond_[cluster];
}

uint64_t Checker::reference_of(uint64_t cluster) const {
  if (cluster < refs_.size()) return refs_[cluster];
  auto it = beyond_.find(cluster);
  return it == beyond_.end() ? 0 : it->second;
}

void Checker::inc(uint64_t offset, uint64_t size) {
  if (size == 0) return;
  uint64_t first = offset >> cb_, last = (offset + size - 1) >> cb_;
  for (uint64_t c = first; c <= last; ++c) {
    uint64_t& r = reference(c);
    if (r == refcount_max_) {
      fmt::print(err_, "ERROR: overflow cluster offset=0x{:x}\n", c << cb_);
      fmt::print(err_,
                 "Use qemu-img amend to increase the refcount entry width or qemu-img convert "
                 "to create a clean copy if the image cannot be opened for writing\n");
      ++res_.corruptions;
      continue;
    }
    ++r;
  }
}

void Checker::check_l2(uint64_t l2_offset, bool active) {
  uint64_t next_contiguous = 0;  // QEMU counts fragmentation within each L2 table
  std::vector<uint8_t> table(cs_);
  if (!read_at(l2_offset, table.data(), cs_)) {
    fmt::print(err_, "ERROR: I/O error in check_refcounts_l2\n");
    ++res_.check_errors;
    return;
  }
  for (uint64_t i = 0; i < cs_ / 8; ++i) {
    uint64_t e = load_be64(&table[i * 8]);
    if (e & kOflagCompressed) {
      if (e & kOflagCopied) {
        CompressedExtent c = decode_compressed(e & ~kOflagCopied, cb_);
        fmt::print(err_,
                   "ERROR: coffset=0x{:x}: copied flag must never be set for compressed "
                   "clusters\n",
                   c.offset);
        e &= ~kOflagCopied;
        ++res_.corruptions;
      }
      CompressedExtent c = decode_compressed(e, cb_);
      inc(c.offset, c.length);
      if (active) {
        ++res_.allocated_clusters;
        ++res_.compressed_clusters;
        ++res_.fragmented_clusters;  // compressed clusters are fragmented by nature
      }
      continue;
    }
    uint64_t offset = e & kOffsetMask;
    if (offset == 0) continue;  // unallocated or a plain zero cluster
    bool zero = e & kOflagZero;
    if (offset & (cs_ - 1)) {
      ++res_.corruptions;
      if (zero) {
        fmt::print(err_,
                   "ERROR offset={:x}: Preallocated cluster is not properly aligned; L2 "
                   "entry corrupted.\n",
                   offset);
      } else {
        fmt::print(err_,
                   "ERROR offset={:x}: Data cluster is not properly aligned; L2 entry "
                   "corrupted.\n",
                   offset);
      }
    }
    if (active) {
      ++res_.allocated_clusters;
      if (next_contiguous && offset != next_contiguous) ++res_.fragmented_clusters;
      next_contiguous = offset + cs_;
    }
    inc(offset, cs_);
  }
}

void Checker::check_l1(uint64_t l1_offset, uint64_t l1_size, bool active) {
  inc(l1_offset, l1_size * 8);
  std::vector<uint64_t> table(l1_size);
  if (l1_size && !read_at(l1_offset, table.data(), l1_size * 8)) {
    fmt::print(err_, "ERROR: I/O error in check_refcounts_l1\n");
    ++res_.check_errors;
    return;
  }
  for (uint64_t& raw : table) {
    uint64_t e = load_be64(reinterpret_cast<const uint8_t*>(&raw));
    if (e == 0) continue;
    if (e & kL1ReservedMask) {
      fmt::print(err_, "ERROR found L1 entry with reserved bits set: {:x}\n", e);
      ++res_.corruptions;
    }
    uint64_t l2 = e & kOffsetMask;
    if (l2 == 0) continue;
    inc(l2, cs_);
    if (l2 & (cs_ - 1)) {
      fmt::print(err_, "ERROR l2_offset={:x}: Table is not cluster aligned; L1 entry corrupted\n",
                 l2);
      ++res_.corruptions;
    }
    check_l2(l2, active);
  }
}

void Checker::check_refblocks() {
  uint64_t nb_clusters = refs_.size();
  for (uint64_t i = 0; i < rt_.size(); ++i) {
    uint64_t offset = rt_[i] & kRefTableOffsetMask;
    uint64_t cluster = offset >> cb_;
    if (offset & (cs_ - 1)) {
      fmt::print(err_,
                 "ERROR refcount block {} is not cluster aligned; refcount table entry "
                 "corrupted\n",
                 i);
      ++res_.corruptions;
      rebuild_ = true;
      continue;
    }
    if (offset != 0 && cluster >= nb_clusters) {
      fmt::print(err_, "{} refcount block {} is outside image\n",
                 fix_ & kFixErrors ? "Repairing" : "ERROR", i);
      ++res_.corruptions;
      rebuild_ = true;
      continue;
    }
    if (offset != 0) {
      inc(offset, cs_);
      structure_clusters_.push_back(cluster);
      if (refs_[cluster] != 1) {
        fmt::print(err_, "ERROR refcount block {} refcount={}\n", i, refs_[cluster]);
        ++res_.corruptions;
        rebuild_ = true;
      }
    }
  }
}

void Checker::calculate() {
  refs_.assign((file_size_ + cs_ - 1) >> cb_, 0);
  beyond_.clear();
  structure_clusters_.clear();
  inc(0, cs_);  // the header
  check_l1(h_.l1_table_offset, h_.l1_size, true);
  for (const Snapshot& s : snapshots_.snapshots) {
    if (s.l1_table_offset & (cs_ - 1)) {
      fmt::print(err_,
                 "ERROR snapshot {} ({}) l1_offset={:#x}: L1 table is not cluster aligned; "
                 "snapshot table entry corrupted\n",
                 s.id, s.name, s.l1_table_offset);
      ++res_.corruptions;
      continue;
    }
    if (uint64_t{s.l1_size} * 8 > kMaxL1Bytes) {
      fmt::print(err_,
                 "ERROR snapshot {} ({}) l1_size={:#x}: L1 table is too large; snapshot "
                 "table entry corrupted\n",
                 s.id, s.name, s.l1_size);
      ++res_.corruptions;
      continue;
    }
    check_l1(s.l1_table_offset, s.l1_size, false);
  }
  if (h_.nb_snapshots) inc(h_.snapshots_offset, snapshots_.bytes);
  uint64_t rt_bytes = uint64_t{h_.refcount_table_clusters} * cs_;
  inc(h_.refcount_table_offset, rt_bytes);
  for (uint64_t c = 0; c < rt_bytes / cs_; ++c) {
    structure_clusters_.push_back((h_.refcount_table_offset >> cb_) + c);
  }
  check_refblocks();
}

// --- Stored refcounts ---------------------------------------------------------------------------

uint64_t Checker::get_refcount(const uint8_t* p, uint64_t index) const {
  return load_refcount(p, h_.refcount_order, index);
}

void Checker::set_refcount(uint8_t* p, uint64_t index, uint64_t value) const {
  store_refcount(p, h_.refcount_order, index, value);
}

Checker::Block* Checker::refblock(uint64_t table_index) {
  uint64_t offset = rt_[table_index] & kRefTableOffsetMask;
  if (offset & (cs_ - 1) || offset < cs_) return nullptr;
  auto it = blocks_.find(offset);
  if (it != blocks_.end()) return &it->second;
  Block b;
  b.data.resize(cs_);
  if (!read_at(offset, b.data.data(), cs_)) return nullptr;
  return &blocks_.emplace(offset, std::move(b)).first->second;
}

bool Checker::stored_refcount(uint64_t cluster, uint64_t& value) {
  value = 0;
  uint64_t ti = cluster >> refblock_bits_;
  if (ti >= rt_.size() || (rt_[ti] & kRefTableOffsetMask) == 0) return true;
  Block* b = refblock(ti);
  if (!b) return false;
  value = get_refcount(b->data.data(), cluster & ((uint64_t{1} << refblock_bits_) - 1));
  return true;
}

void Checker::compare(unsigned fix) {
  std::vector<uint64_t> clusters;  // the file's clusters, then referenced ones past its end
  uint64_t n = refs_.size();
  auto visit = [&](uint64_t i) {
    uint64_t stored;
    if (!stored_refcount(i, stored)) {
      fmt::print(err_, "Can't get refcount for cluster {}: Input/output error\n", i);
      ++res_.check_errors;
      return;
    }
    uint64_t computed = reference_of(i);
    if (stored > 0 || computed > 0) {
      highest_ = i;
      any_ = true;
    }
    if (stored == computed) return;
    uint64_t* fixed = nullptr;
    if (stored == 0) {
      rebuild_ = true;
    } else if (stored > computed && (fix & kFixLeaks)) {
      fixed = &res_.leaks_fixed;
    } else if (stored < computed && (fix & kFixErrors)) {
      fixed = &res_.corruptions_fixed;
    }
    fmt::print(err_, "{} cluster {} refcount={} reference={}\n",
               fixed ? "Repairing" : (stored < computed ? "ERROR" : "Leaked"), i, stored, computed);
    if (fixed) {
      uint64_t ti = i >> refblock_bits_;
      Block* b = refblock(ti);
      set_refcount(b->data.data(), i & ((uint64_t{1} << refblock_bits_) - 1), computed);
      b->dirty = true;
      ++*fixed;
      return;
    }
    if (stored < computed) {
      ++res_.corruptions;
    } else {
      ++res_.leaks;
    }
  };
  for (uint64_t i = 0; i < n; ++i) visit(i);
  for (const auto& [c, count] : beyond_) visit(c);
  write_refblocks();
}

void Checker::write_refblocks() {
  bool wrote = false;
  for (auto& [offset, b] : blocks_) {
    if (!b.dirty) continue;
    write_at(offset, b.data.data(), cs_);
    b.dirty = false;
    wrote = true;
  }
  if (wrote) sync();
}

// A new refcount table and blocks at the end of the file, holding the computed references
// (those of the old structure left out: nothing references it any more), then the header
// pointing at them.
void Checker::rebuild() {
  fmt::print(err_, "Rebuilding refcount structure\n");
  for (uint64_t c : structure_clusters_) {
    uint64_t& r = reference(c);
    if (r > 0) --r;
  }
  uint64_t end = refs_.size();
  if (!beyond_.empty()) end = std::max(end, beyond_.rbegin()->first + 1);
  uint64_t per_block = uint64_t{1} << refblock_bits_;
  uint64_t blocks = 1, table = 1;
  while (true) {
    uint64_t total = end + blocks + table;
    uint64_t need_blocks = (total + per_block - 1) / per_block;
    uint64_t need_table = (need_blocks * 8 + cs_ - 1) / cs_;
    if (need_blocks <= blocks && need_table <= table) break;
    blocks = std::max(blocks, need_blocks);
    table = std::max(table, need_table);
  }
  if (table * cs_ > kMaxRefcountTableBytes) {
    fail("could not rebuild the refcounts of '{}': the refcount table would exceed 8 MiB", path_);
  }
  for (uint64_t c = end; c < end + blocks + table; ++c) reference(c) = 1;

  std::vector<uint8_t> data((blocks + table) * cs_, 0);
  for (uint64_t b = 0; b < blocks; ++b) {
    uint8_t* block = &data[b * cs_];
    for (uint64_t i = 0; i < per_block; ++i) {
      uint64_t c = b * per_block + i;
      uint64_t r = std::min(reference_of(c), refcount_max_);
      if (r) set_refcount(block, i, r);
    }
    store_be64(&data[blocks * cs_ + b * 8], (end + b) << cb_);
  }
  write_at(end << cb_, data.data(), data.size());
  sync();
  uint8_t field[12];
  store_be64(field, (end + blocks) << cb_);
  store_be32(field + 8, static_cast<uint32_t>(table));
  write_at(kRefcountTableOffsetField, field, sizeof field);
  sync();

  h_.refcount_table_offset = (end + blocks) << cb_;
  h_.refcount_table_clusters = static_cast<uint32_t>(table);
  rt_.assign(table * cs_ / 8, 0);
  for (uint64_t b = 0; b < blocks; ++b) rt_[b] = (end + b) << cb_;
  blocks_.clear();
  refs_.resize(std::max<uint64_t>(refs_.size(), end + blocks + table));
  for (auto it = beyond_.begin(); it != beyond_.end();) {
    if (it->first < refs_.size()) {
      refs_[it->first] += it->second;
      it = beyond_.erase(it);
    } else {
      ++it;
    }
  }
  highest_ = end + blocks + table - 1;
  any_ = true;
  rebuild_ = false;
}

void Checker::check_oflag_copied() {
  bool repair = fix_ & kFixErrors;
  bool l1_changed = false;
  for (uint64_t i = 0; i < l1_.size(); ++i) {
    uint64_t l1 = l1_[i];
    uint64_t l2_offset = l1 & kOffsetMask;
    if (!l2_offset) continue;
    uint64_t refcount;
    if (!stored_refcount(l2_offset >> cb_, refcount)) continue;
    if ((refcount == 1) != ((l1 & kOflagCopied) != 0)) {
      fmt::print(err_, "{} OFLAG_COPIED L2 cluster: l1_index={} l1_entry={:x} refcount={}\n",
                 repair ? "Repairing" : "ERROR", i, l1, refcount);
      if (repair) {
        l1_[i] = refcount == 1 ? l1 | kOflagCopied : l1 & ~kOflagCopied;
        uint8_t e[8];
        store_be64(e, l1_[i]);
        write_at(h_.l1_table_offset + i * 8, e, 8);
        l1_changed = true;
        ++res_.corruptions_fixed;
      } else {
        ++res_.corruptions;
      }
    }
    if (l2_offset & (cs_ - 1)) continue;
    std::vector<uint8_t> table(cs_);
    if (!read_at(l2_offset, table.data(), cs_)) {
      fmt::print(err_, "ERROR: Could not read L2 table: Input/output error\n");
      ++res_.check_errors;
      return;
    }
    uint64_t dirty = 0;
    for (uint64_t j = 0; j < cs_ / 8; ++j) {
      uint64_t e = load_be64(&table[j * 8]);
      if (e & kOflagCompressed) continue;
      uint64_t data = e & kOffsetMask;
      if (data == 0) continue;
      if (!stored_refcount(data >> cb_, refcount)) continue;
      if ((refcount == 1) != ((e & kOflagCopied) != 0)) {
        fmt::print(err_, "{} OFLAG_COPIED data cluster: l2_entry={:x} refcount={}\n",
                   repair ? "Repairing" : "ERROR", e, refcount);
        if (repair) {
          store_be64(&table[j * 8], refcount == 1 ? e | kOflagCopied : e & ~kOflagCopied);
          ++dirty;
        } else {
          ++res_.corruptions;
        }
      }
    }
    if (dirty) {
      write_at(l2_offset, table.data(), cs_);
      res_.corruptions_fixed += dirty;
    }
  }
  if (l1_changed || res_.corruptions_fixed) sync();
}

void Checker::mark_clean() {
  uint64_t bits = kIncompatDirty | kIncompatCorrupt;
  if (h_.version < 3 || !(h_.incompatible_features & bits)) return;
  uint8_t field[8];
  store_be64(field, h_.incompatible_features & ~bits);
  write_at(72, field, 8);
  sync();
}

CheckResult Checker::run() {
  open();
  res_.total_clusters = (h_.size + cs_ - 1) >> cb_;
  calculate();
  CheckResult before_compare = res_;
  compare(kFixNone);
  if (rebuild_ && (fix_ & kFixErrors)) {
    uint64_t corruptions = res_.corruptions - before_compare.corruptions;
    uint64_t leaks = res_.leaks;
    rebuild();
    res_.corruptions = before_compare.corruptions;
    res_.leaks = 0;
    res_.corruptions_fixed += corruptions;
    res_.leaks_fixed += leaks;
  } else if (fix_ != kFixNone) {
    if (rebuild_) {
      fmt::print(err_, "ERROR need to rebuild refcount structures\n");
      fail("Check failed: Input/output error");
    }
    if (res_.leaks || res_.corruptions) {
      res_ = before_compare;
      compare(fix_);
    }
  }
  check_oflag_copied();
  res_.image_end_offset = any_ ? (highest_ + 1) * cs_ : 0;
  if (fix_ != kFixNone && res_.check_errors == 0 && res_.corruptions == 0) mark_clean();
  return res_;
}

}  // namespace

CheckResult check_qcow2(const std::string& path, unsigned fix, std::FILE* err) {
  Checker checker(path, fix, err);
  return checker.run();
}

}  // namespace tandem::img
