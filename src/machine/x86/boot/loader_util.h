// Pieces the three kernel loaders share: reading files, placing blobs in guest RAM, strings.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/unique_fd.h"
#include "memory/guest_ram.h"

namespace tandem::x86 {

// Reads a whole file. Throws Error naming the path (and errno text) when it cannot be opened or
// read, or when it is larger than max_size (described as `what`, e.g. "kernel").
std::vector<uint8_t> read_whole_file(const std::string& path, uint64_t max_size, const char* what);

// An open file whose contents go straight into guest RAM (initrds can be large).
struct HostFile {
  UniqueFd fd;
  uint64_t size = 0;
  std::string path;
};
HostFile open_host_file(const std::string& path);
// Copies the whole file to guest RAM at gpa (which must be RAM). Throws Error on short reads.
void load_host_file(const GuestRam& ram, const HostFile& file, uint64_t gpa);

// Highest `align`-aligned address a such that [a, a + size) lies within [floor, ceiling).
// Throws Error ("<what> (<size> bytes) does not fit ...") when there is no such address.
uint64_t place_high(uint64_t size, uint64_t floor, uint64_t ceiling, uint64_t align,
                    const char* what);

// Throws Error unless [gpa, gpa + size) is usable RAM per the e820 map and above the loader's
// own boot data, so a kernel segment can neither leave RAM nor clobber the boot structures.
void check_load_range(const GuestRam& ram, uint64_t gpa, uint64_t size, const char* what);

// Zero-terminated strings packed into the string area (kStringAreaAddr..+kStringAreaSize).
class StringArea {
 public:
  explicit StringArea(const GuestRam& ram) : ram_(ram) {}
  // Writes `text` and its terminator; returns its address. Throws Error when the area is full.
  uint64_t put(const std::string& text, const char* what);

 private:
  const GuestRam& ram_;
  uint64_t used_ = 0;
};

// Writes bytes to guest RAM, throwing Error (not just GuestMemoryError) with context.
void write_guest(const GuestRam& ram, uint64_t gpa, const std::vector<uint8_t>& bytes);

}  // namespace tandem::x86
