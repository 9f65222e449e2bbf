// Test-only: temporary image files and helpers to wait for block requests.
#pragma once

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/event_loop.h"
#include "block/block_driver.h"

namespace tandem::testing {

// A file of `size` bytes filled with pattern_byte(offset), removed again at the end. Lives in
// $TMPDIR (default /tmp), or in `dir` when given.
class TempImage {
 public:
  explicit TempImage(uint64_t size, std::string dir = "") {
    if (dir.empty()) {
      const char* tmp = getenv("TMPDIR");
      dir = tmp && *tmp ? tmp : "/tmp";
    }
    std::string templ = dir + "/tandem-image-XXXXXX";
    int fd = ::mkstemp(templ.data());
    if (fd < 0) fail_errno("mkstemp {}", templ);
    path_ = templ;
    std::vector<uint8_t> data(size);
    for (uint64_t i = 0; i < size; ++i) data[i] = pattern_byte(i);
    if (size > 0 && ::pwrite(fd, data.data(), size, 0) != static_cast<ssize_t>(size)) {
      ::close(fd);
      fail_errno("pwrite {}", path_);
    }
    ::close(fd);
  }
  ~TempImage() { ::unlink(path_.c_str()); }
  TempImage(const TempImage&) = delete;
  TempImage& operator=(const TempImage&) = delete;

  const std::string& path() const { return path_; }

  static uint8_t pattern_byte(uint64_t offset) {
    return static_cast<uint8_t>((offset * 7 + (offset >> 9) * 13 + 1) & 0xff);
  }

  // The file's bytes [offset, offset+len) read with plain pread (not through a driver).
  std::vector<uint8_t> contents(uint64_t offset, uint64_t len) const {
    std::vector<uint8_t> out(len);
    int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail_errno("open {}", path_);
    ssize_t n = ::pread(fd, out.data(), len, static_cast<off_t>(offset));
    ::close(fd);
    if (n != static_cast<ssize_t>(len)) fail("short pread of {}", path_);
    return out;
  }
  uint64_t file_size() const {
    struct stat st;
    if (::stat(path_.c_str(), &st) < 0) fail_errno("stat {}", path_);
    return static_cast<uint64_t>(st.st_size);
  }
  uint64_t allocated_bytes() const {
    struct stat st;
    if (::stat(path_.c_str(), &st) < 0) fail_errno("stat {}", path_);
    return static_cast<uint64_t>(st.st_blocks) * 512;
  }

 private:
  std::string path_;
};

// Runs the loop until `driver` has no request in flight (false after a 10 s timeout).
inline bool wait_idle(EventLoop& loop, const BlockDriver& driver) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (driver.in_flight() > 0) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    loop.run_once(100);
  }
  return true;
}

}  // namespace tandem::testing
