#include "machine/x86/boot/elf.h"

#include <cstring>

#include "base/error.h"
#include "machine/x86/boot/loader_util.h"

namespace tandem::x86 {
namespace {

constexpr uint8_t kElfClass32 = 1;
constexpr uint8_t kElfClass64 = 2;
constexpr uint8_t kElfDataLittle = 1;
constexpr uint16_t kEtExec = 2;

}  // namespace

bool is_elf(ByteView file) {
  return file.starts_with(0,
                          "\x7f"
                          "ELF");
}

ElfImage parse_elf(ByteView file, const std::string& path) {
  if (!is_elf(file)) fail("{}: not an ELF file", path);
  if (!file.has(0, 52)) fail("{}: truncated ELF header", path);
  ElfImage elf;
  uint8_t cls = file.u8(4);
  if (cls != kElfClass32 && cls != kElfClass64) fail("{}: unknown ELF class {}", path, cls);
  elf.is64 = cls == kElfClass64;
  if (file.u8(5) != kElfDataLittle) fail("{}: not a little-endian ELF file", path);
  if (elf.is64 && !file.has(0, 64)) fail("{}: truncated ELF header", path);
  if (file.u16(16) != kEtExec) fail("{}: not an ELF executable (e_type {})", path, file.u16(16));
  elf.machine = file.u16(18);

  uint64_t phoff, phentsize, phnum, want_entsize;
  if (elf.is64) {
    elf.entry = file.u64(24);
    phoff = file.u64(32);
    phentsize = file.u16(54);
    phnum = file.u16(56);
    want_entsize = 56;
  } else {
    elf.entry = file.u32(24);
    phoff = file.u32(28);
    phentsize = file.u16(42);
    phnum = file.u16(44);
    want_entsize = 32;
  }
  if (phnum == 0) fail("{}: ELF file has no program headers", path);
  if (phentsize < want_entsize) fail("{}: bad ELF program header size {}", path, phentsize);
  if (!file.has(phoff, phentsize * phnum)) fail("{}: ELF program headers beyond end of file", path);

  for (uint64_t i = 0; i < phnum; ++i) {
    uint64_t at = phoff + i * phentsize;
    ElfSegment s;
    s.type = file.u32(at);
    if (elf.is64) {
      s.offset = file.u64(at + 8);
      s.vaddr = file.u64(at + 16);
      s.paddr = file.u64(at + 24);
      s.filesz = file.u64(at + 32);
      s.memsz = file.u64(at + 40);
      s.align = file.u64(at + 48);
    } else {
      s.offset = file.u32(at + 4);
      s.vaddr = file.u32(at + 8);
      s.paddr = file.u32(at + 12);
      s.filesz = file.u32(at + 16);
      s.memsz = file.u32(at + 20);
      s.align = file.u32(at + 28);
    }
    if (s.type == kPtLoad || s.type == kPtNote) {
      if (!file.has(s.offset, s.filesz)) {
        fail("{}: ELF segment {} extends beyond the end of the file", path, i);
      }
      if (s.type == kPtLoad && s.filesz > s.memsz) {
        fail("{}: ELF segment {} has p_filesz > p_memsz", path, i);
      }
    }
    elf.segments.push_back(s);
  }
  return elf;
}

std::optional<ByteView> find_elf_note(const ElfImage& elf, ByteView file, std::string_view name,
                                      uint32_t type) {
  for (const auto& s : elf.segments) {
    if (s.type != kPtNote) continue;
    ByteView notes = file.sub(s.offset, s.filesz);
    uint64_t align = s.align == 8 ? 8 : 4;
    uint64_t off = 0;
    while (notes.has(off, 12)) {
      uint64_t namesz = notes.u32(off), descsz = notes.u32(off + 4);
      uint32_t note_type = notes.u32(off + 8);
      uint64_t name_at = off + 12;
      uint64_t desc_at = name_at + align_up(namesz, align);
      if (!notes.has(name_at, namesz) || !notes.has(desc_at, descsz)) break;
      // namesz counts the terminating NUL; tolerate a name without one.
      ByteView note_name = notes.sub(name_at, namesz);
      bool same =
          (namesz == name.size() + 1 && note_name.u8(name.size()) == 0) || namesz == name.size();
      if (same && std::memcmp(note_name.data(), name.data(), name.size()) == 0 &&
          note_type == type) {
        return notes.sub(desc_at, descsz);
      }
      off = desc_at + align_up(descsz, align);
    }
  }
  return std::nullopt;
}

uint64_t load_elf_segments(const GuestRam& ram, const ElfImage& elf, ByteView file,
                           const std::string& path) {
  uint64_t end = 0;
  bool any = false;
  for (const auto& s : elf.segments) {
    if (s.type != kPtLoad || s.memsz == 0) continue;
    std::string what = path + ": ELF segment";
    check_load_range(ram, s.paddr, s.memsz, what.c_str());
    uint8_t* host = ram.host_ptr(s.paddr, s.memsz);
    std::memcpy(host, file.data() + s.offset, s.filesz);
    std::memset(host + s.filesz, 0, s.memsz - s.filesz);
    end = std::max(end, s.paddr + s.memsz);
    any = true;
  }
  if (!any) fail("{}: ELF file has no loadable segments", path);
  return end;
}

}  // namespace tandem::x86
