// Helpers for the boot loader tests: temporary files, guest RAM layouts, synthetic images.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "machine/x86/boot/bytes.h"
#include "memory/guest_ram.h"

namespace tandem::x86::testing {

// A directory under $TMPDIR (or /tmp) removed with everything in it when the object goes away.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string write(const std::string& name, const std::vector<uint8_t>& bytes) const;

 private:
  std::string path_;
};

// The machine's layout: RAM at 0 of min(mem, 3 GiB), the rest at 4 GiB.
std::unique_ptr<GuestRam> make_ram(uint64_t mem_bytes);

std::vector<uint8_t> read_guest(const GuestRam& ram, uint64_t gpa, uint64_t len);
std::string read_guest_string(const GuestRam& ram, uint64_t gpa);
// Walks the guest's 4-level page tables from cr3; returns the physical address or ~0 if unmapped.
uint64_t translate(const GuestRam& ram, uint64_t cr3, uint64_t vaddr);
std::vector<uint8_t> pattern(size_t size, uint8_t seed);

// A synthetic bzImage: real-mode setup sectors with a setup header, then a protected-mode kernel.
struct BzImageSpec {
  uint8_t setup_sects = 4;
  uint16_t version = 0x20f;
  uint8_t loadflags = 0x01;  // LOADED_HIGH
  uint16_t xloadflags = 0x03;
  uint32_t initrd_addr_max = 0x7fffffff;
  uint32_t kernel_alignment = 0x200000;
  uint8_t relocatable = 1;
  uint8_t min_alignment = 21;
  uint32_t cmdline_size = 2047;
  uint64_t pref_address = 0x1000000;
  uint32_t init_size = 0x800000;
  size_t kernel_size = 0x3000;  // bytes of protected-mode kernel
  int syssize_delta = 0;        // paragraphs added to the true syssize (truncation tests)
};
std::vector<uint8_t> make_bzimage(const BzImageSpec& spec);

// A synthetic ELF executable: header, program headers, then each segment's bytes.
struct ElfSegmentSpec {
  uint32_t type = 1;  // PT_LOAD
  uint64_t paddr = 0, vaddr = 0;
  std::vector<uint8_t> data;
  uint64_t memsz = 0;  // 0: data.size()
  uint64_t align = 4;
};
std::vector<uint8_t> make_elf(bool is64, uint16_t machine, uint64_t entry,
                              const std::vector<ElfSegmentSpec>& segments);
// An ELF note: namesz, descsz, type, name (NUL-terminated, padded to 4), desc (padded to 4).
std::vector<uint8_t> make_note(const std::string& name, uint32_t type,
                               const std::vector<uint8_t>& desc);

}  // namespace tandem::x86::testing
