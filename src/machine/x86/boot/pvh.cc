#include "machine/x86/boot/pvh.h"

#include "base/error.h"
#include "base/log.h"
#include "machine/x86/boot/boot_layout.h"
#include "machine/x86/boot/cpu_setup.h"
#include "machine/x86/boot/e820.h"
#include "machine/x86/boot/firmware_tables.h"
#include "machine/x86/boot/loader_util.h"

namespace tandem::x86 {

std::optional<uint32_t> pvh_entry_point(const ElfImage& elf, ByteView file,
                                        const std::string& path) {
  auto desc = find_elf_note(elf, file, "Xen", kXenElfnotePhys32Entry);
  if (!desc) return std::nullopt;
  uint64_t entry;
  if (desc->size() == 4) {
    entry = desc->u32(0);
  } else if (desc->size() == 8) {
    entry = desc->u64(0);
  } else {
    fail("{}: XEN_ELFNOTE_PHYS32_ENTRY note has a {}-byte descriptor (expected 4 or 8)", path,
         desc->size());
  }
  if (entry > 0xffffffff) fail("{}: PVH entry point {:#x} is above 4 GiB", path, entry);
  return static_cast<uint32_t>(entry);
}

BootResult load_pvh(GuestRam& ram, const BootRequest& req, ByteView file, const ElfImage& elf,
                    uint32_t entry) {
  const std::string& path = req.kernel_path;
  if (elf.machine != kEmX86_64 && elf.machine != kEm386) {
    fail("{}: PVH ELF for machine {} is not an x86 kernel", path, elf.machine);
  }
  uint64_t kernel_end = load_elf_segments(ram, elf, file, path);
  uint64_t low_end = low_ram_end(ram);

  StringArea strings(ram);
  uint64_t cmdline = strings.put(req.cmdline, "kernel command line");

  // struct hvm_start_info, version 1 (with the memory map).
  ByteBuilder info(56);
  info.put32(0, kHvmStartMagic);
  info.put32(4, 1);
  info.put32(8, 0);  // flags
  info.put64(24, cmdline);
  info.put64(32, kRsdpAddress);

  if (!req.initrd_path.empty()) {
    HostFile initrd = open_host_file(req.initrd_path);
    std::string what = "initrd " + req.initrd_path;
    uint64_t at =
        place_high(initrd.size, align_up(kernel_end, kPageSize), low_end, kPageSize, what.c_str());
    check_load_range(ram, at, initrd.size, what.c_str());
    load_host_file(ram, initrd, at);
    ByteBuilder module(32);  // struct hvm_modlist_entry
    module.put64(0, at);
    module.put64(8, initrd.size);
    module.put64(16, 0);  // no module command line
    write_guest(ram, kModuleListAddr, module.bytes());
    info.put32(12, 1);
    info.put64(16, kModuleListAddr);
  }

  auto map = e820_map(ram);
  if (map.size() * 24 > kMemoryMapSize) fail("too many guest RAM regions for the PVH memory map");
  ByteBuilder memmap;
  for (const auto& e : map) {  // struct hvm_memmap_table_entry
    memmap.add64(e.addr);
    memmap.add64(e.size);
    memmap.add32(e.type);
    memmap.add32(0);
  }
  write_guest(ram, kMemoryMapAddr, memmap.bytes());
  info.put64(40, kMemoryMapAddr);
  info.put32(48, static_cast<uint32_t>(map.size()));
  write_guest(ram, kBootInfoAddr, info.bytes());
  TLOG_DEBUG("PVH {}: entry {:#x}, image ends at {:#x}", path, entry, kernel_end);

  BootResult result;
  result.format = "pvh";
  result.bsp = protected_mode_entry(ram, entry);
  result.bsp.rbx = kBootInfoAddr;
  return result;
}

}  // namespace tandem::x86
