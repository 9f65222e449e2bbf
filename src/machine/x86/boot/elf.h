// A bounds-checked reader for the parts of ELF32/ELF64 executables the x86 loaders use:
// program headers (PT_LOAD, PT_NOTE) and the notes inside PT_NOTE segments.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "machine/x86/boot/bytes.h"
#include "memory/guest_ram.h"

namespace tandem::x86 {

inline constexpr uint32_t kPtLoad = 1;
inline constexpr uint32_t kPtNote = 4;
inline constexpr uint16_t kEm386 = 3;
inline constexpr uint16_t kEmX86_64 = 62;

struct ElfSegment {
  uint32_t type = 0;
  uint64_t offset = 0, vaddr = 0, paddr = 0, filesz = 0, memsz = 0, align = 0;
};

struct ElfImage {
  bool is64 = false;
  uint16_t machine = 0;
  uint64_t entry = 0;
  std::vector<ElfSegment> segments;  // every program header; offsets checked against the file
};

bool is_elf(ByteView file);
// Throws Error ("<path>: ...") for a malformed little-endian ELF executable.
ElfImage parse_elf(ByteView file, const std::string& path);

// The descriptor of the first note named `name` with `type` in a PT_NOTE segment, if any.
std::optional<ByteView> find_elf_note(const ElfImage& elf, ByteView file, std::string_view name,
                                      uint32_t type);

// Copies every PT_LOAD segment to guest RAM at its physical address and zeroes the rest of its
// memory size. Returns the end of the highest segment. Throws Error if a segment is not in usable
// guest RAM.
uint64_t load_elf_segments(const GuestRam& ram, const ElfImage& elf, ByteView file,
                           const std::string& path);

}  // namespace tandem::x86
