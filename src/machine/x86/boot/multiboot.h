// Multiboot v1 kernels as QEMU's -kernel loads them: a header with magic 0x1BADB002 in the first
// 8 KiB, either address fields (the "a.out kludge") or an ELF32 image; entered in 32-bit
// protected mode with eax = 0x2BADB002 and ebx = the multiboot information structure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "machine/x86/boot/bytes.h"
#include "machine/x86/boot/loader.h"

namespace tandem::x86 {

inline constexpr uint32_t kMultibootHeaderMagic = 0x1badb002;
inline constexpr uint32_t kMultibootBootloaderMagic = 0x2badb002;
inline constexpr uint64_t kMultibootSearchLimit = 8192;

// Header flags.
inline constexpr uint32_t kMbPageAlignModules = 1u << 0;
inline constexpr uint32_t kMbMemoryInfo = 1u << 1;
inline constexpr uint32_t kMbVideoMode = 1u << 2;
inline constexpr uint32_t kMbAddressFields = 1u << 16;

// Multiboot information flags.
inline constexpr uint32_t kMbiMem = 1u << 0;
inline constexpr uint32_t kMbiBootDevice = 1u << 1;
inline constexpr uint32_t kMbiCmdline = 1u << 2;
inline constexpr uint32_t kMbiMods = 1u << 3;
inline constexpr uint32_t kMbiMmap = 1u << 6;
inline constexpr uint32_t kMbiLoaderName = 1u << 9;

struct MultibootHeader {
  uint64_t offset = 0;  // of the magic in the file
  uint32_t flags = 0;
  uint32_t header_addr = 0, load_addr = 0, load_end_addr = 0, bss_end_addr = 0, entry_addr = 0;
};

// The first valid header (magic, 4-byte aligned, checksum) in the first 8 KiB, if any.
std::optional<MultibootHeader> find_multiboot_header(ByteView file);

// `initrd_path` may list several modules, comma-separated as QEMU's -initrd does for multiboot
// ("file args,file2"; ",," is a literal comma); each module's string is its whole entry.
BootResult load_multiboot(GuestRam& ram, const BootRequest& req, ByteView file,
                          const MultibootHeader& header);

}  // namespace tandem::x86
