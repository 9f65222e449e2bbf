// The guest's physical memory map as the loaders report it (boot_params e820_table, PVH memmap,
// multiboot mmap), derived from the machine's RAM regions.
#pragma once

#include <cstdint>
#include <vector>

#include "memory/guest_ram.h"

namespace tandem::x86 {

// ACPI address range types (also used by e820 and PVH's XEN_HVM_MEMMAP_TYPE_*).
inline constexpr uint32_t kE820Ram = 1;
inline constexpr uint32_t kE820Reserved = 2;

// Below 1 MiB: conventional memory ends where the EBDA starts; the EBDA, VGA hole and BIOS area
// (where the firmware tables live) up to 1 MiB are reserved.
inline constexpr uint64_t kEbdaStart = 0x9fc00;
inline constexpr uint64_t kHighMemoryStart = 0x100000;

struct E820Entry {
  uint64_t addr = 0;
  uint64_t size = 0;
  uint32_t type = kE820Ram;
  bool operator==(const E820Entry&) const = default;
};

// Entries sorted by address: [0, 0x9fc00) RAM, [0x9fc00, 0x100000) reserved, then every RAM
// region (the part of the low one above 1 MiB, the high one at 4 GiB). Throws Error when RAM does
// not start at 0 with at least 1 MiB (no x86 boot path works without low memory).
std::vector<E820Entry> e820_map(const GuestRam& ram);

// End of the RAM region that starts at 0 (the "low" RAM, below the 32-bit PCI hole).
uint64_t low_ram_end(const GuestRam& ram);

}  // namespace tandem::x86
