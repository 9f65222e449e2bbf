// Fixed guest-physical addresses of what the loaders write in low memory. Everything here lies
// below kBootDataEnd, inside conventional memory [0, 0x9fc00); kernels and initrds go above 1 MiB.
#pragma once

#include <cstdint>

namespace tandem::x86 {

inline constexpr uint64_t kGdtAddr = 0x500;
// The zero page (bzImage), hvm_start_info (PVH) or multiboot info (multiboot): one per boot.
inline constexpr uint64_t kBootInfoAddr = 0x7000;
inline constexpr uint64_t kBootInfoSize = 0x1000;
// Lists that go with the boot info: PVH/multiboot module list and memory map.
inline constexpr uint64_t kModuleListAddr = 0x6000;
inline constexpr uint64_t kMemoryMapAddr = 0x6800;
inline constexpr uint64_t kMemoryMapSize = 0x800;
inline constexpr uint64_t kStackTop = 0x8ff0;
// Identity map for the 64-bit entry: PML4, one PDPT, four page directories of 2 MiB pages.
inline constexpr uint64_t kPml4Addr = 0x9000;
inline constexpr uint64_t kPdptAddr = 0xa000;
inline constexpr uint64_t kPageDirAddr = 0xb000;
inline constexpr uint64_t kIdentityMappedBytes = 4ull << 30;
// Command lines and other strings (module names, boot loader name).
inline constexpr uint64_t kStringAreaAddr = 0x20000;
inline constexpr uint64_t kStringAreaSize = 0x10000;
inline constexpr uint64_t kBootDataEnd = kStringAreaAddr + kStringAreaSize;

inline constexpr uint64_t kPageSize = 0x1000;

}  // namespace tandem::x86
