// Loads static riscv64 Linux executables (ET_EXEC, and static-PIE ET_DYN without PT_INTERP)
// into an AddressSpace, and builds the initial process stack the way Linux does.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "user/address_space.h"

namespace tandem::user {

struct LoadedImage {
  uint64_t entry = 0;
  uint64_t load_bias = 0;  // 0 for ET_EXEC
  uint64_t phdr_addr = 0;  // guest address of the program headers (AT_PHDR)
  uint16_t phnum = 0;
  uint16_t phentsize = 0;
  uint64_t start = 0;      // lowest mapped address
  uint64_t brk_start = 0;  // page-aligned end of the highest segment
};

// Where a static-PIE executable is placed (like Linux's ELF_ET_DYN_BASE: 2/3 of the window).
uint64_t pie_load_base(const AddressSpace& as);

// Validates every header field against the file and maps the PT_LOAD segments. Throws
// tandem::Error with a one-line reason (bad ELF, wrong machine/class, dynamically linked, ...).
LoadedImage load_elf(AddressSpace& as, const std::string& path);

struct StackArgs {
  std::vector<std::string> argv;
  std::vector<std::string> envp;
  std::string execfn;  // AT_EXECFN: the path the program was started with
};

// riscv64 AT_HWCAP bits: one per single-letter extension ('a' = bit 0); IMAFDC.
constexpr uint64_t kHwcapImafdc = (1u << ('i' - 'a')) | (1u << ('m' - 'a')) | (1u << ('a' - 'a')) |
                                  (1u << ('f' - 'a')) | (1u << ('d' - 'a')) | (1u << ('c' - 'a'));

// Writes strings, AT_RANDOM bytes, auxv, envp, argv and argc below stack_top (the stack must be
// mapped read/write) and returns the initial sp (16-byte aligned, pointing at argc).
uint64_t build_initial_stack(AddressSpace& as, uint64_t stack_top, const LoadedImage& image,
                             const StackArgs& args);

}  // namespace tandem::user
