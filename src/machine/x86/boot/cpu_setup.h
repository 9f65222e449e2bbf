// The processor state the boot protocols ask for, and the GDT / page tables behind it.
#pragma once

#include <cstdint>

#include "machine/x86/entry_state.h"
#include "memory/guest_ram.h"

namespace tandem::x86 {

inline constexpr uint16_t kBootCs = 0x10;  // __BOOT_CS
inline constexpr uint16_t kBootDs = 0x18;  // __BOOT_DS

inline constexpr uint64_t kCr0Pe = 1ull << 0;
inline constexpr uint64_t kCr0Et = 1ull << 4;
inline constexpr uint64_t kCr0Ne = 1ull << 5;
inline constexpr uint64_t kCr0Pg = 1ull << 31;
inline constexpr uint64_t kCr4Pae = 1ull << 5;
inline constexpr uint64_t kEferLme = 1ull << 8;
inline constexpr uint64_t kEferLma = 1ull << 10;

// 64-bit mode, paging on with the first 4 GiB identity-mapped by 2 MiB pages, flat __BOOT_CS /
// __BOOT_DS, interrupts off. Writes the GDT and page tables to guest RAM.
EntryState long_mode_entry(const GuestRam& ram, uint64_t rip);

// 32-bit protected mode, paging off, flat 4 GiB code (__BOOT_CS) and data (__BOOT_DS) segments,
// interrupts off. Writes the GDT to guest RAM.
EntryState protected_mode_entry(const GuestRam& ram, uint64_t eip);

}  // namespace tandem::x86
