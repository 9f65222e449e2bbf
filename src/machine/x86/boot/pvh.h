// PVH direct boot (Xen's x86/HVM direct boot ABI, as QEMU's -kernel uses it for ELF kernels):
// an ELF whose XEN_ELFNOTE_PHYS32_ENTRY note gives a 32-bit entry point, entered in protected
// mode without paging and with %ebx pointing at struct hvm_start_info.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "machine/x86/boot/bytes.h"
#include "machine/x86/boot/elf.h"
#include "machine/x86/boot/loader.h"

namespace tandem::x86 {

inline constexpr uint32_t kXenElfnotePhys32Entry = 18;
inline constexpr uint32_t kHvmStartMagic = 0x336ec578;

// The PVH entry point of an ELF, or nullopt when it has no PHYS32_ENTRY note. Throws Error for a
// note whose descriptor is not 4 or 8 bytes or whose entry does not fit in 32 bits.
std::optional<uint32_t> pvh_entry_point(const ElfImage& elf, ByteView file,
                                        const std::string& path);

BootResult load_pvh(GuestRam& ram, const BootRequest& req, ByteView file, const ElfImage& elf,
                    uint32_t entry);

}  // namespace tandem::x86
