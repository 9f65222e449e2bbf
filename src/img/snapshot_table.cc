#include "img/snapshot_table.h"

#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <ctime>

#include "base/error.h"
#include "block/qcow2/qcow2_format.h"
#include "img/options.h"

namespace tandem::img {

namespace {

constexpr uint64_t kEntryFixedBytes = 40;
constexpr uint32_t kMaxExtraData = 1024;  // QEMU's limit

void read_exact(int fd, uint64_t offset, void* buf, size_t len, const std::string& path) {
  auto* p = static_cast<uint8_t*>(buf);
  while (len > 0) {
    ssize_t n = ::pread(fd, p, len, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_errno("could not read the snapshot table of '{}'", path);
    if (n == 0) fail("invalid qcow2 image '{}': the snapshot table runs past the end", path);
    p += n;
    len -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
}

}  // namespace

SnapshotTable read_snapshot_table(int fd, const qcow2::Header& h, uint64_t file_size,
                                  const std::string& path) {
  SnapshotTable table;
  uint64_t pos = h.snapshots_offset;
  for (uint32_t i = 0; i < h.nb_snapshots; ++i) {
    uint8_t fixed[kEntryFixedBytes];
    if (pos > file_size || file_size - pos < kEntryFixedBytes) {
      fail("invalid qcow2 image '{}': snapshot {} lies outside the file", path, i);
    }
    read_exact(fd, pos, fixed, sizeof fixed, path);
    Snapshot s;
    s.l1_table_offset = qcow2::load_be64(fixed);
    s.l1_size = qcow2::load_be32(fixed + 8);
    uint16_t id_size = qcow2::load_be16(fixed + 12);
    uint16_t name_size = qcow2::load_be16(fixed + 14);
    s.date_sec = qcow2::load_be32(fixed + 16);
    s.date_nsec = qcow2::load_be32(fixed + 20);
    s.vm_clock_nsec = qcow2::load_be64(fixed + 24);
    s.vm_state_size = qcow2::load_be32(fixed + 32);
    uint32_t extra_size = qcow2::load_be32(fixed + 36);
    if (extra_size > kMaxExtraData) {
      fail("invalid qcow2 image '{}': snapshot {} has {} bytes of extra data (at most {})", path, i,
           extra_size, kMaxExtraData);
    }
    uint64_t rest = uint64_t{extra_size} + id_size + name_size;
    if (file_size - pos - kEntryFixedBytes < rest) {
      fail("invalid qcow2 image '{}': snapshot {} lies outside the file", path, i);
    }
    std::vector<uint8_t> tail(rest);
    read_exact(fd, pos + kEntryFixedBytes, tail.data(), tail.size(), path);
    if (extra_size >= 8) s.vm_state_size = qcow2::load_be64(&tail[0]);
    if (extra_size >= 24) {
      uint64_t icount = qcow2::load_be64(&tail[16]);
      if (icount != ~uint64_t{0}) s.icount = icount;
    }
    s.id.assign(reinterpret_cast<const char*>(&tail[extra_size]), id_size);
    s.name.assign(reinterpret_cast<const char*>(&tail[extra_size + id_size]), name_size);
    table.snapshots.push_back(std::move(s));
    pos += (kEntryFixedBytes + rest + 7) & ~uint64_t{7};
  }
  table.bytes = pos - h.snapshots_offset;
  return table;
}

std::string snapshot_header_line() {
  return fmt::format("{:<10}{:<17}{:>8}{:>20}{:>13}{:>11}", "ID", "TAG", "VM SIZE", "DATE",
                     "VM CLOCK", "ICOUNT");
}

std::string snapshot_line(const Snapshot& s) {
  std::time_t t = s.date_sec;
  std::tm tm{};
  ::localtime_r(&t, &tm);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S", &tm);
  uint64_t secs = s.vm_clock_nsec / 1000000000;
  std::string clock = fmt::format("{:02}:{:02}:{:02}.{:03}", secs / 3600, (secs / 60) % 60,
                                  secs % 60, (s.vm_clock_nsec / 1000000) % 1000);
  std::string icount = s.icount ? std::to_string(*s.icount) : "";
  return fmt::format("{:<9} {:<16} {:>8}{:>20}{:>13}{:>11}", s.id, s.name,
                     size_to_str(s.vm_state_size), date, clock, icount);
}

}  // namespace tandem::img
