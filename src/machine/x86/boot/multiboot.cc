#include "machine/x86/boot/multiboot.h"

#include <cstring>
#include <vector>

#include "base/error.h"
#include "base/log.h"
#include "machine/x86/boot/boot_layout.h"
#include "machine/x86/boot/cpu_setup.h"
#include "machine/x86/boot/e820.h"
#include "machine/x86/boot/elf.h"
#include "machine/x86/boot/loader_util.h"

namespace tandem::x86 {
namespace {

// Required-feature bits (the low 16) this loader honours: modules are always page-aligned, memory
// information is always given, and a video mode request is ignored as QEMU does.
constexpr uint32_t kMbSupportedRequired = kMbPageAlignModules | kMbMemoryInfo | kMbVideoMode;
constexpr uint64_t kMbiSize = 120;  // through the framebuffer fields; unused ones stay zero
constexpr uint64_t kModuleEntrySize = 16;
constexpr uint32_t kQemuBootDevice = 0x8000ffff;  // first BIOS hard disk, no partition

struct LoadedImage {
  uint64_t entry = 0;
  uint64_t end = 0;
};

LoadedImage load_with_address_fields(const GuestRam& ram, const std::string& path, ByteView file,
                                     const MultibootHeader& h) {
  if (!file.has(h.offset, 32))
    fail("{}: multiboot header truncated before its address fields", path);
  if (h.header_addr < h.load_addr || h.header_addr - h.load_addr > h.offset) {
    fail(
        "{}: multiboot header_addr {:#x} / load_addr {:#x} do not match the header's file offset "
        "{:#x}",
        path, h.header_addr, h.load_addr, h.offset);
  }
  uint64_t load_offset = h.offset - (h.header_addr - h.load_addr);
  uint64_t load_size = file.size() - load_offset;
  if (h.load_end_addr != 0) {
    if (h.load_end_addr < h.load_addr) {
      fail("{}: multiboot load_end_addr {:#x} is below load_addr {:#x}", path, h.load_end_addr,
           h.load_addr);
    }
    load_size = uint64_t{h.load_end_addr} - h.load_addr;
    if (!file.has(load_offset, load_size)) {
      fail(
          "{}: truncated: multiboot load_end_addr asks for {} bytes from offset {:#x} but the file "
          "has {}",
          path, load_size, load_offset, file.size());
    }
  }
  uint64_t mem_size = load_size;
  if (h.bss_end_addr != 0) {
    if (h.bss_end_addr < h.load_addr + load_size) {
      fail("{}: multiboot bss_end_addr {:#x} is below the end of the loaded image {:#x}", path,
           h.bss_end_addr, h.load_addr + load_size);
    }
    mem_size = uint64_t{h.bss_end_addr} - h.load_addr;
  }
  std::string what = path + ": multiboot image";
  check_load_range(ram, h.load_addr, mem_size, what.c_str());
  uint8_t* host = ram.host_ptr(h.load_addr, mem_size);
  if (mem_size != 0) {
    std::memcpy(host, file.data() + load_offset, load_size);
    std::memset(host + load_size, 0, mem_size - load_size);
  }
  return {h.entry_addr, h.load_addr + mem_size};
}

LoadedImage load_elf_kernel(const GuestRam& ram, const std::string& path, ByteView file) {
  if (!is_elf(file)) {
    fail("{}: multiboot kernel without address fields (flag 16) must be an ELF file", path);
  }
  ElfImage elf = parse_elf(file, path);
  if (elf.is64) fail("{}: multiboot ELF kernels must be 32-bit (ELF32), this one is ELF64", path);
  if (elf.machine != kEm386)
    fail("{}: multiboot ELF for machine {} is not i386", path, elf.machine);
  uint64_t end = load_elf_segments(ram, elf, file, path);
  // Like GRUB: an entry given as a virtual address inside a segment is translated to physical.
  uint64_t entry = elf.entry;
  for (const auto& s : elf.segments) {
    if (s.type == kPtLoad && entry >= s.vaddr && entry - s.vaddr < s.memsz) {
      entry = s.paddr + (entry - s.vaddr);
      break;
    }
  }
  if (entry > 0xffffffff) fail("{}: multiboot entry point {:#x} is above 4 GiB", path, entry);
  return {entry, end};
}

// QEMU's -initrd syntax for multiboot modules: comma-separated, ",," for a literal comma.
std::vector<std::string> split_modules(const std::string& list) {
  std::vector<std::string> modules;
  if (list.empty()) return modules;
  std::string current;
  for (size_t i = 0; i < list.size(); ++i) {
    if (list[i] == ',') {
      if (i + 1 < list.size() && list[i + 1] == ',') {
        current += ',';
        ++i;
        continue;
      }
      modules.push_back(current);
      current.clear();
    } else {
      current += list[i];
    }
  }
  modules.push_back(current);
  return modules;
}

}  // namespace

std::optional<MultibootHeader> find_multiboot_header(ByteView file) {
  uint64_t limit = std::min(file.size(), kMultibootSearchLimit);
  for (uint64_t off = 0; off + 12 <= limit; off += 4) {
    uint32_t magic = file.u32(off);
    if (magic != kMultibootHeaderMagic) continue;
    uint32_t flags = file.u32(off + 4);
    uint32_t checksum = file.u32(off + 8);
    if (static_cast<uint32_t>(magic + flags + checksum) != 0) continue;
    MultibootHeader h;
    h.offset = off;
    h.flags = flags;
    if (file.has(off, 32)) {
      h.header_addr = file.u32(off + 12);
      h.load_addr = file.u32(off + 16);
      h.load_end_addr = file.u32(off + 20);
      h.bss_end_addr = file.u32(off + 24);
      h.entry_addr = file.u32(off + 28);
    }
    return h;
  }
  return std::nullopt;
}

BootResult load_multiboot(GuestRam& ram, const BootRequest& req, ByteView file,
                          const MultibootHeader& header) {
  const std::string& path = req.kernel_path;
  uint32_t required = header.flags & 0xffff;
  if (required & ~kMbSupportedRequired) {
    fail("{}: multiboot header requires unsupported features (flags {:#x})", path,
         required & ~kMbSupportedRequired);
  }
  if (required & kMbVideoMode) TLOG_WARN("{}: multiboot video mode request ignored", path);

  LoadedImage image = (header.flags & kMbAddressFields)
                          ? load_with_address_fields(ram, path, file, header)
                          : load_elf_kernel(ram, path, file);
  uint64_t low_end = low_ram_end(ram);

  StringArea strings(ram);
  // Like GRUB and QEMU, the command line starts with the kernel's own name.
  std::string cmdline = req.cmdline.empty() ? path : path + " " + req.cmdline;

  ByteBuilder mbi(kMbiSize);
  mbi.put32(0, kMbiMem | kMbiBootDevice | kMbiCmdline | kMbiMods | kMbiMmap | kMbiLoaderName);
  mbi.put32(4, static_cast<uint32_t>(kEbdaStart / 1024));                    // mem_lower
  mbi.put32(8, static_cast<uint32_t>((low_end - kHighMemoryStart) / 1024));  // mem_upper
  mbi.put32(12, kQemuBootDevice);
  mbi.put32(16, static_cast<uint32_t>(strings.put(cmdline, "kernel command line")));

  // Modules go one after another, page-aligned, right after the kernel (as QEMU places them).
  auto modules = split_modules(req.initrd_path);
  if (modules.size() * kModuleEntrySize > kMemoryMapAddr - kModuleListAddr) {
    fail("too many multiboot modules ({})", modules.size());
  }
  ByteBuilder mods;
  uint64_t next = align_up(image.end, kPageSize);
  for (const auto& entry : modules) {
    std::string mod_path = entry.substr(0, entry.find(' '));
    HostFile mod = open_host_file(mod_path);
    std::string what = "multiboot module " + mod_path;
    uint64_t at = next;
    if (at > low_end || mod.size > low_end - at) {
      fail("{} ({} bytes) does not fit in guest RAM after the kernel (at {:#x}, RAM ends at {:#x})",
           what, mod.size, at, low_end);
    }
    check_load_range(ram, at, mod.size, what.c_str());
    load_host_file(ram, mod, at);
    mods.add32(static_cast<uint32_t>(at));
    mods.add32(static_cast<uint32_t>(at + mod.size));
    mods.add32(static_cast<uint32_t>(strings.put(entry, "multiboot module string")));
    mods.add32(0);
    next = align_up(at + mod.size, kPageSize);
  }
  if (!modules.empty()) write_guest(ram, kModuleListAddr, mods.bytes());
  mbi.put32(20, static_cast<uint32_t>(modules.size()));
  mbi.put32(24, static_cast<uint32_t>(kModuleListAddr));

  // The memory map: each entry is preceded by its size (20, not counting the size field).
  auto map = e820_map(ram);
  if (map.size() * 24 > kMemoryMapSize) fail("too many guest RAM regions for the multiboot mmap");
  ByteBuilder mmap;
  for (const auto& e : map) {
    mmap.add32(20);
    mmap.add64(e.addr);
    mmap.add64(e.size);
    mmap.add32(e.type);
  }
  write_guest(ram, kMemoryMapAddr, mmap.bytes());
  mbi.put32(44, static_cast<uint32_t>(mmap.size()));
  mbi.put32(48, static_cast<uint32_t>(kMemoryMapAddr));
  mbi.put32(64, static_cast<uint32_t>(strings.put("tandem", "boot loader name")));
  write_guest(ram, kBootInfoAddr, mbi.bytes());
  TLOG_DEBUG("multiboot {}: entry {:#x}, image ends at {:#x}, {} modules", path, image.entry,
             image.end, modules.size());

  BootResult result;
  result.format = "multiboot";
  result.bsp = protected_mode_entry(ram, image.entry);
  result.bsp.rax = kMultibootBootloaderMagic;
  result.bsp.rbx = kBootInfoAddr;
  return result;
}

}  // namespace tandem::x86
