// Qcow2Image: internal snapshots (create, apply, delete), as QEMU's docs/interop/qcow2.txt lays
// them out. A snapshot is a copy of the active L1 table plus an entry in the snapshot table; the
// L2 tables and data clusters stay shared, each holding one reference per L1 table (active or
// snapshot) that reaches it, and the active image's entries lose their COPIED flag so that the
// next write to them copies first (qcow2_write.cc).
//
// Crash ordering. Create: the L1 copy (unreferenced: a leak), then the refcount increments and
// COPIED flags (write_back orders refcount blocks before the tables), then the new snapshot
// table, and only then the header pointing at it (one 12-byte write of nb_snapshots and
// snapshots_offset). Delete: the table without the entry and the header first; then the
// decrements. Apply: increments for the snapshot's clusters, the active L1 rewritten, then the
// old active clusters' decrements. Until the header changes, a crash leaves leaked clusters only.
// One window cannot be closed by ordering (QEMU has it too): a COPIED flag and the refcount it
// mirrors live in different clusters, so between the two writes `qemu-img check` reports an
// OFLAG_COPIED mismatch. The order chosen makes it the harmless one wherever a reference goes
// away (refcount 1, flag still clear: the next write copies once more than needed);
// `check -r all` clears it.
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "base/error.h"
#include "block/qcow2/qcow2_format.h"
#include "block/qcow2/qcow2_image.h"

namespace tandem::qcow2 {

namespace {

constexpr size_t kMaxPendingFrees = 65536;

uint64_t round_up(uint64_t v, uint64_t to) {
  return (v + to - 1) / to * to;
}

}  // namespace

void Qcow2Image::begin_update(const char* what) {
  if (read_only_) fail("could not {} '{}': the image is open read-only", what, path());
  if (corrupt_) fail("could not {} '{}': the image is corrupt", what, path());
  must(flush(), what);
}

void Qcow2Image::must(int r, const char* what) {
  if (r >= 0) return;
  corrupt_ = true;  // memory and file may disagree now: no more writes through this object
  fail("could not {} '{}': {}", what, path(), std::strerror(-r));
}

int Qcow2Image::write_header(uint64_t offset, const void* data, size_t len) {
  if (int r = file_write(offset, data, len); r < 0) return r;
  return barrier();
}

int Qcow2Image::drain() {
  if (!l2_cache_.over_capacity() && !refblock_cache_.over_capacity() &&
      pending_frees_.size() <= kMaxPendingFrees) {
    return 0;
  }
  int r = write_back();
  l2_cache_.trim();
  refblock_cache_.trim();
  return r;
}

std::vector<uint64_t> Qcow2Image::read_l1_table(uint64_t offset, uint32_t entries) {
  uint64_t cs = cluster_size();
  uint64_t bytes = uint64_t{entries} * 8;
  if (bytes > kMaxL1Bytes) {
    fail("invalid qcow2 image '{}': a snapshot's L1 table ({} entries) is larger than 32 MiB",
         path(), entries);
  }
  std::vector<uint64_t> l1(entries);
  if (entries == 0) return l1;
  if (offset % cs != 0 || offset < cs || offset > file_limit() || bytes > file_limit() - offset) {
    fail("invalid qcow2 image '{}': a snapshot's L1 table at {:#x} is not inside the file", path(),
         offset);
  }
  if (int r = file_.read(offset, l1.data(), bytes); r < 0) {
    errno = -r;
    fail_errno("could not read a snapshot's L1 table in '{}'", path());
  }
  for (uint32_t i = 0; i < entries; ++i) {
    uint64_t e = l1[i] = load_be64(reinterpret_cast<const uint8_t*>(&l1[i]));
    uint64_t off = e & kOffsetMask;
    if ((e & kL1ReservedMask) || (off != 0 && !valid_table_offset(off))) {
      fail("invalid qcow2 image '{}': snapshot L1 entry {} ({:#x}) is invalid", path(), i, e);
    }
  }
  return l1;
}

int Qcow2Image::reference_entry(uint64_t entry) {
  unsigned cb = header_.cluster_bits;
  if (entry & kOflagCompressed) {
    // Every cluster the compressed bytes touch, once (as QEMU and release() count them).
    CompressedExtent c = decode_compressed(entry, cb);
    uint64_t start = c.offset & ~uint64_t{511};
    uint64_t end = c.offset + c.length;
    for (uint64_t cl = start >> cb; cl <= (end - 1) >> cb; ++cl) {
      if (int r = update_refcount(cl, 1); r < 0) return r;
    }
    return 0;
  }
  uint64_t off = entry & kOffsetMask;
  return off == 0 ? 0 : update_refcount(off >> cb, 1);
}

int Qcow2Image::reference_l2(uint64_t l2_offset, bool clear_copied) {
  if (!valid_table_offset(l2_offset)) {
    return corrupt(fmt::format("an L1 entry points to {:#x}", l2_offset));
  }
  if (int r = update_refcount(l2_offset >> header_.cluster_bits, 1); r < 0) return r;
  TablePtr table;
  if (int r = load_table(l2_cache_, l2_offset, table); r < 0) return r;
  for (size_t i = 0; i < header_.l2_entries(); ++i) {
    uint64_t e = table->entry(i);
    if (e == 0) continue;
    if (int r = check_l2_entry(e); r < 0) return r;
    if (int r = reference_entry(e); r < 0) return r;
    if (clear_copied && (e & kOflagCopied)) {
      table->set_entry(i, e & ~kOflagCopied);
      metadata_dirty_ = true;
    }
  }
  return 0;
}

int Qcow2Image::release_l2(uint64_t l2_offset) {
  if (!valid_table_offset(l2_offset)) {
    return corrupt(fmt::format("an L1 entry points to {:#x}", l2_offset));
  }
  TablePtr table;
  if (int r = load_table(l2_cache_, l2_offset, table); r < 0) return r;
  for (size_t i = 0; i < header_.l2_entries(); ++i) {
    uint64_t e = table->entry(i);
    if (e == 0) continue;
    if (int r = check_l2_entry(e); r < 0) return r;
    release(e);
  }
  free_later(l2_offset, cluster_size());
  return 0;
}

int Qcow2Image::fix_copied_flags() {
  unsigned cb = header_.cluster_bits;
  for (size_t i = 0; i < l1_.size(); ++i) {
    uint64_t off = l1_[i] & kOffsetMask;
    if (off == 0) continue;
    uint64_t refcount;
    if (int r = cluster_refcount(off >> cb, refcount); r < 0) return r;
    uint64_t want = refcount == 1 ? l1_[i] | kOflagCopied : l1_[i] & ~kOflagCopied;
    if (want != l1_[i]) {
      l1_[i] = want;
      l1_dirty_.insert(i);
      metadata_dirty_ = true;
    }
    {
      TablePtr table;
      if (int r = load_table(l2_cache_, off, table); r < 0) return r;
      for (size_t j = 0; j < header_.l2_entries(); ++j) {
        uint64_t e = table->entry(j);
        uint64_t host = e & kOffsetMask;
        if ((e & kOflagCompressed) || host == 0) continue;
        if (int r = cluster_refcount(host >> cb, refcount); r < 0) return r;
        uint64_t fixed = refcount == 1 ? e | kOflagCopied : e & ~kOflagCopied;
        if (fixed != e) {
          table->set_entry(j, fixed);
          metadata_dirty_ = true;
        }
      }
    }
    if (int r = drain(); r < 0) return r;
  }
  return 0;
}

std::vector<SnapshotEntry> Qcow2Image::snapshots() {
  return read_snapshots(nullptr);
}

std::vector<SnapshotEntry> Qcow2Image::read_snapshots(uint64_t* table_bytes) {
  auto read = [this](uint64_t offset, void* buf, size_t len) {
    return file_.read(offset, buf, len);
  };
  return read_snapshot_entries(read, header_, file_limit(), path(), table_bytes);
}

void Qcow2Image::write_snapshot_table(const std::vector<SnapshotEntry>& entries,
                                      uint64_t old_bytes) {
  constexpr const char* kWhat = "write the snapshot table of";
  uint64_t cs = cluster_size();
  std::vector<uint8_t> data = encode_snapshot_table(entries);
  if (data.size() > kMaxSnapshotTableBytes) {
    fail("the snapshot table of '{}' would exceed 64 MiB", path());
  }
  uint64_t offset = 0;
  if (!entries.empty()) {
    uint64_t clusters = round_up(data.size(), cs) / cs;
    data.resize(clusters * cs);
    must(alloc_clusters(clusters, offset), kWhat);
    must(file_write(offset, data.data(), data.size()), kWhat);
  }
  // The table and its refcounts are durable before the header points at it.
  must(flush(), kWhat);
  uint8_t field[12];
  store_be32(field, static_cast<uint32_t>(entries.size()));
  store_be64(field + 4, offset);
  must(write_header(60, field, sizeof field), kWhat);  // nb_snapshots, snapshots_offset
  uint64_t old_offset = header_.snapshots_offset;
  bool had_table = header_.nb_snapshots > 0;
  header_.nb_snapshots = static_cast<uint32_t>(entries.size());
  header_.snapshots_offset = offset;
  if (had_table && old_bytes > 0) free_later(old_offset, round_up(old_bytes, cs));
  must(flush(), kWhat);
}

std::string Qcow2Image::create_snapshot(const std::string& name, uint32_t date_sec,
                                        uint32_t date_nsec) {
  constexpr const char* kWhat = "create a snapshot in";
  begin_update(kWhat);
  uint64_t old_bytes = 0;
  std::vector<SnapshotEntry> entries = read_snapshots(&old_bytes);
  uint64_t max_id = 0;
  for (const SnapshotEntry& e : entries) {
    if (e.name == name) fail("a snapshot named '{}' already exists (ID {})", name, e.id);
    char* end = nullptr;
    uint64_t id = std::strtoull(e.id.c_str(), &end, 10);
    if (!e.id.empty() && *end == '\0') max_id = std::max(max_id, id);
  }
  if (entries.size() >= kMaxSnapshots) {
    fail("'{}' has {} snapshots already, the most qcow2 images may have", path(), entries.size());
  }
  if (name.size() > 65535) fail("the snapshot name is too long ({} bytes)", name.size());

  // 1. The snapshot's L1 table: a copy of the active one (COPIED means nothing there).
  uint64_t cs = cluster_size();
  uint64_t l1_offset = 0;
  if (!l1_.empty()) {
    std::vector<uint8_t> copy(round_up(l1_.size() * 8, cs));
    for (size_t i = 0; i < l1_.size(); ++i) store_be64(&copy[i * 8], l1_[i] & ~kOflagCopied);
    must(alloc_clusters(copy.size() / cs, l1_offset), kWhat);
    must(file_write(l1_offset, copy.data(), copy.size()), kWhat);
  }
  // 2. Every L2 table and cluster the active L1 reaches gains the snapshot's reference and is
  // shared from now on: no COPIED flag on the active side.
  for (size_t i = 0; i < l1_.size(); ++i) {
    uint64_t off = l1_[i] & kOffsetMask;
    if (off == 0) continue;
    must(reference_l2(off, true), kWhat);
    if (l1_[i] & kOflagCopied) {
      l1_[i] &= ~kOflagCopied;
      l1_dirty_.insert(i);
      metadata_dirty_ = true;
    }
    must(drain(), kWhat);
  }
  must(flush(), kWhat);

  // 3. The entry (extra data as QEMU writes it: VM state size, disk size, icount 0 for
  // qemu-img's snapshots, which have no VM state), then the header.
  SnapshotEntry s;
  s.l1_table_offset = l1_offset;
  s.l1_size = static_cast<uint32_t>(l1_.size());
  s.id = std::to_string(max_id + 1);
  s.name = name;
  s.date_sec = date_sec;
  s.date_nsec = date_nsec;
  s.disk_size = header_.size;
  s.icount = 0;
  s.extra = snapshot_extra_data(0, header_.size, 0);
  entries.push_back(s);
  write_snapshot_table(entries, old_bytes);
  return s.id;
}

void Qcow2Image::apply_snapshot(const std::string& id) {
  constexpr const char* kWhat = "apply a snapshot to";
  begin_update(kWhat);
  std::vector<SnapshotEntry> entries = snapshots();
  auto it = std::find_if(entries.begin(), entries.end(),
                         [&](const SnapshotEntry& e) { return e.id == id; });
  if (it == entries.end()) fail("'{}' has no snapshot with ID '{}'", path(), id);
  std::vector<uint64_t> sn_l1 = read_l1_table(it->l1_table_offset, it->l1_size);
  uint64_t new_size = it->disk_size.value_or(header_.size);
  Header sized = header_;
  sized.size = new_size;
  uint64_t want = std::max<uint64_t>(it->l1_size, sized.l1_entries_needed());
  if (want > l1_.size()) grow_l1(want);

  // 1. The snapshot's tables and clusters gain the active L1's references.
  for (uint64_t e : sn_l1) {
    uint64_t off = e & kOffsetMask;
    if (off == 0) continue;
    must(reference_l2(off, false), kWhat);
    must(drain(), kWhat);
  }
  must(flush(), kWhat);

  // 2. The active L1 table becomes a copy of the snapshot's (shared: no COPIED), in one write.
  std::vector<uint64_t> old = l1_;
  std::vector<uint8_t> table(l1_.size() * 8);
  for (size_t i = 0; i < l1_.size(); ++i) {
    l1_[i] = i < sn_l1.size() ? sn_l1[i] & ~kOflagCopied : 0;
    store_be64(&table[i * 8], l1_[i]);
  }
  l1_dirty_.clear();
  if (!table.empty())
    must(write_header(header_.l1_table_offset, table.data(), table.size()), kWhat);
  if (new_size != header_.size) {
    uint8_t field[8];
    store_be64(field, new_size);
    must(write_header(24, field, sizeof field), kWhat);
    header_.size = new_size;
  }

  // 3. What the old active L1 referenced loses that reference.
  for (uint64_t e : old) {
    uint64_t off = e & kOffsetMask;
    if (off == 0) continue;
    must(release_l2(off), kWhat);
    must(drain(), kWhat);
  }
  must(flush(), kWhat);
  must(fix_copied_flags(), kWhat);
  must(flush(), kWhat);
}

void Qcow2Image::delete_snapshot(const std::string& id) {
  constexpr const char* kWhat = "delete a snapshot from";
  begin_update(kWhat);
  uint64_t old_bytes = 0;
  std::vector<SnapshotEntry> entries = read_snapshots(&old_bytes);
  auto it = std::find_if(entries.begin(), entries.end(),
                         [&](const SnapshotEntry& e) { return e.id == id; });
  if (it == entries.end()) fail("'{}' has no snapshot with ID '{}'", path(), id);
  SnapshotEntry gone = *it;
  std::vector<uint64_t> sn_l1 = read_l1_table(gone.l1_table_offset, gone.l1_size);
  entries.erase(it);
  write_snapshot_table(entries, old_bytes);

  // Nothing on disk names the snapshot now: its references go.
  for (uint64_t e : sn_l1) {
    uint64_t off = e & kOffsetMask;
    if (off == 0) continue;
    must(release_l2(off), kWhat);
    must(drain(), kWhat);
  }
  if (gone.l1_size > 0) {
    free_later(gone.l1_table_offset, round_up(uint64_t{gone.l1_size} * 8, cluster_size()));
  }
  must(flush(), kWhat);
  must(fix_copied_flags(), kWhat);
  must(flush(), kWhat);
}

}  // namespace tandem::qcow2
