#include "img/snapshot_table.h"

#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <ctime>

#include "base/error.h"
#include "block/qcow2/qcow2_format.h"
#include "img/options.h"

namespace tandem::img {

SnapshotTable read_snapshot_table(int fd, const qcow2::Header& h, uint64_t file_size,
                                  const std::string& path) {
  auto read = [fd](uint64_t offset, void* buf, size_t len) -> int {
    auto* p = static_cast<uint8_t*>(buf);
    while (len > 0) {
      ssize_t n = ::pread(fd, p, len, static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return -errno;
      if (n == 0) return -EIO;  // the caller checked the bounds: the file shrank
      p += n;
      len -= static_cast<size_t>(n);
      offset += static_cast<uint64_t>(n);
    }
    return 0;
  };
  SnapshotTable table;
  table.snapshots = qcow2::read_snapshot_entries(read, h, file_size, path, &table.bytes);
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
