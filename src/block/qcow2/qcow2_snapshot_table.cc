#include "block/qcow2/qcow2_snapshot_table.h"

#include <cerrno>
#include <cstring>

#include "base/error.h"
#include "block/qcow2/qcow2_format.h"

namespace tandem::qcow2 {

namespace {

constexpr uint64_t kEntryFixedBytes = 40;

void read_exact(const FileReader& read, uint64_t offset, void* buf, size_t len,
                const std::string& path) {
  if (int r = read(offset, buf, len); r < 0) {
    errno = -r;
    fail_errno("could not read the snapshot table of '{}'", path);
  }
}

}  // namespace

std::vector<SnapshotEntry> read_snapshot_entries(const FileReader& read, const Header& h,
                                                 uint64_t file_size, const std::string& path,
                                                 uint64_t* table_bytes) {
  std::vector<SnapshotEntry> entries;
  uint64_t pos = h.snapshots_offset;
  for (uint32_t i = 0; i < h.nb_snapshots; ++i) {
    uint8_t fixed[kEntryFixedBytes];
    if (pos > file_size || file_size - pos < kEntryFixedBytes) {
      fail("invalid qcow2 image '{}': snapshot {} lies outside the file", path, i);
    }
    read_exact(read, pos, fixed, sizeof fixed, path);
    SnapshotEntry s;
    s.l1_table_offset = load_be64(fixed);
    s.l1_size = load_be32(fixed + 8);
    uint16_t id_size = load_be16(fixed + 12);
    uint16_t name_size = load_be16(fixed + 14);
    s.date_sec = load_be32(fixed + 16);
    s.date_nsec = load_be32(fixed + 20);
    s.vm_clock_nsec = load_be64(fixed + 24);
    s.vm_state_size = load_be32(fixed + 32);
    uint32_t extra_size = load_be32(fixed + 36);
    if (extra_size > kMaxSnapshotExtraData) {
      fail("invalid qcow2 image '{}': snapshot {} has {} bytes of extra data (at most {})", path, i,
           extra_size, kMaxSnapshotExtraData);
    }
    uint64_t rest = uint64_t{extra_size} + id_size + name_size;
    if (file_size - pos - kEntryFixedBytes < rest) {
      fail("invalid qcow2 image '{}': snapshot {} lies outside the file", path, i);
    }
    std::vector<uint8_t> tail(rest);
    read_exact(read, pos + kEntryFixedBytes, tail.data(), tail.size(), path);
    s.extra.assign(tail.begin(), tail.begin() + extra_size);
    if (extra_size >= 8) s.vm_state_size = load_be64(&tail[0]);
    if (extra_size >= 16) s.disk_size = load_be64(&tail[8]);
    if (extra_size >= 24) {
      uint64_t icount = load_be64(&tail[16]);
      if (icount != ~uint64_t{0}) s.icount = icount;
    }
    s.id.assign(reinterpret_cast<const char*>(&tail[extra_size]), id_size);
    s.name.assign(reinterpret_cast<const char*>(&tail[extra_size + id_size]), name_size);
    entries.push_back(std::move(s));
    pos += (kEntryFixedBytes + rest + 7) & ~uint64_t{7};
  }
  if (table_bytes) *table_bytes = pos - h.snapshots_offset;
  return entries;
}

std::vector<uint8_t> snapshot_extra_data(uint64_t vm_state_size, uint64_t disk_size,
                                         std::optional<uint64_t> icount) {
  std::vector<uint8_t> extra(24);
  store_be64(&extra[0], vm_state_size);
  store_be64(&extra[8], disk_size);
  store_be64(&extra[16], icount.value_or(~uint64_t{0}));
  return extra;
}

std::vector<uint8_t> encode_snapshot_table(const std::vector<SnapshotEntry>& entries) {
  std::vector<uint8_t> out;
  for (const SnapshotEntry& s : entries) {
    std::vector<uint8_t> extra = s.extra;
    if (extra.empty()) {
      extra = snapshot_extra_data(s.vm_state_size, s.disk_size.value_or(0), s.icount);
    }
    size_t pos = out.size();
    size_t len = kEntryFixedBytes + extra.size() + s.id.size() + s.name.size();
    out.resize(pos + ((len + 7) & ~size_t{7}), 0);
    uint8_t* p = &out[pos];
    store_be64(p, s.l1_table_offset);
    store_be32(p + 8, s.l1_size);
    store_be16(p + 12, static_cast<uint16_t>(s.id.size()));
    store_be16(p + 14, static_cast<uint16_t>(s.name.size()));
    store_be32(p + 16, s.date_sec);
    store_be32(p + 20, s.date_nsec);
    store_be64(p + 24, s.vm_clock_nsec);
    // The 32-bit field holds the low half, as QEMU stores it; the extra data the whole size.
    store_be32(p + 32, static_cast<uint32_t>(s.vm_state_size));
    store_be32(p + 36, static_cast<uint32_t>(extra.size()));
    std::memcpy(p + 40, extra.data(), extra.size());
    std::memcpy(p + 40 + extra.size(), s.id.data(), s.id.size());
    std::memcpy(p + 40 + extra.size() + s.id.size(), s.name.data(), s.name.size());
  }
  return out;
}

}  // namespace tandem::qcow2
