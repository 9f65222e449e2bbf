#include "machine/x86/boot/loader_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "base/error.h"
#include "machine/x86/boot/boot_layout.h"
#include "machine/x86/boot/bytes.h"
#include "machine/x86/boot/e820.h"

namespace tandem::x86 {
namespace {

uint64_t file_size_or_throw(int fd, const std::string& path) {
  struct stat st;
  if (::fstat(fd, &st) != 0) fail_errno("cannot stat {}", path);
  if (S_ISDIR(st.st_mode)) throw SystemError("cannot read " + path, EISDIR);
  if (!S_ISREG(st.st_mode)) fail("{}: not a regular file", path);
  return static_cast<uint64_t>(st.st_size);
}

// pread until `len` bytes arrived; the file may not shrink under us without an error.
void read_exact(int fd, const std::string& path, uint8_t* out, uint64_t len) {
  uint64_t done = 0;
  while (done < len) {
    size_t chunk = static_cast<size_t>(std::min<uint64_t>(len - done, 1u << 30));
    ssize_t n = ::pread(fd, out + done, chunk, static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_errno("cannot read {}", path);
    }
    if (n == 0) fail("cannot read {}: file shrank while loading", path);
    done += static_cast<uint64_t>(n);
  }
}

}  // namespace

std::vector<uint8_t> read_whole_file(const std::string& path, uint64_t max_size, const char* what) {
  UniqueFd fd = open_or_throw(path.c_str(), O_RDONLY);
  uint64_t size = file_size_or_throw(fd.get(), path);
  if (size > max_size) {
    fail("{}: {} of {} bytes does not fit in guest RAM", path, what, size);
  }
  std::vector<uint8_t> data(size);
  read_exact(fd.get(), path, data.data(), size);
  return data;
}

HostFile open_host_file(const std::string& path) {
  HostFile file;
  file.fd = open_or_throw(path.c_str(), O_RDONLY);
  file.size = file_size_or_throw(file.fd.get(), path);
  file.path = path;
  return file;
}

void load_host_file(const GuestRam& ram, const HostFile& file, uint64_t gpa) {
  if (file.size == 0) return;
  uint8_t* host = ram.host_ptr(gpa, file.size);
  if (!host) fail("{}: [{:#x}, +{:#x}) is not guest RAM", file.path, gpa, file.size);
  read_exact(file.fd.get(), file.path, host, file.size);
}

uint64_t place_high(uint64_t size, uint64_t floor, uint64_t ceiling, uint64_t align,
                    const char* what) {
  if (ceiling > floor && size <= ceiling - floor) {
    uint64_t addr = align_down(ceiling - size, align);
    if (addr >= floor) return addr;
  }
  fail("{} ({} bytes) does not fit in guest RAM between {:#x} and {:#x}", what, size, floor,
       ceiling);
}

void check_load_range(const GuestRam& ram, uint64_t gpa, uint64_t size, const char* what) {
  if (size == 0) return;
  if (gpa + size < gpa) fail("{} [{:#x}, +{:#x}) wraps the address space", what, gpa, size);
  if (gpa < kBootDataEnd) {
    fail("{} [{:#x}, {:#x}) overlaps the loader's boot data below {:#x}", what, gpa, gpa + size,
         kBootDataEnd);
  }
  for (const auto& e : e820_map(ram)) {
    if (e.type == kE820Ram && gpa >= e.addr && size <= e.size && gpa - e.addr <= e.size - size) {
      return;
    }
  }
  fail("{} [{:#x}, {:#x}) is not in usable guest RAM", what, gpa, gpa + size);
}

uint64_t StringArea::put(const std::string& text, const char* what) {
  uint64_t need = text.size() + 1;
  if (need > kStringAreaSize - used_) {
    fail("{} is too long ({} bytes; the boot string area holds {})", what, text.size(),
         kStringAreaSize - 1);
  }
  uint64_t gpa = kStringAreaAddr + used_;
  std::vector<uint8_t> bytes(text.begin(), text.end());
  bytes.push_back(0);
  write_guest(ram_, gpa, bytes);
  used_ += need;
  return gpa;
}

void write_guest(const GuestRam& ram, uint64_t gpa, const std::vector<uint8_t>& bytes) {
  if (!ram.write(gpa, bytes)) {
    fail("boot data of {} bytes at {:#x} is outside guest RAM", bytes.size(), gpa);
  }
}

}  // namespace tandem::x86
