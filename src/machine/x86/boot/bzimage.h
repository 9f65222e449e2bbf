// Linux bzImage loading by the 64-bit boot protocol (Documentation/x86/boot.rst).
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "machine/x86/boot/bytes.h"
#include "machine/x86/boot/loader.h"

namespace tandem::x86 {

// Offsets into the image / struct boot_params.
inline constexpr uint64_t kSetupSectsOffset = 0x1f1;
inline constexpr uint64_t kBootFlagOffset = 0x1fe;
inline constexpr uint64_t kHeaderMagicOffset = 0x202;  // "HdrS"

inline constexpr uint8_t kLoadedHigh = 0x01;     // loadflags
inline constexpr uint16_t kXlfKernel64 = 0x01;   // xloadflags
inline constexpr uint16_t kMinProtocol = 0x206;  // cmdline_size
inline constexpr uint16_t kProtocolWithXloadflags = 0x20c;

// The setup header fields the loader uses, validated against the file.
struct SetupHeader {
  uint16_t version = 0;
  uint8_t setup_sects = 0;   // as in the file; 0 means 4
  uint64_t setup_size = 0;   // bytes of real-mode setup before the protected-mode kernel
  uint64_t header_end = 0;   // end of the setup header: 0x202 + byte at 0x201
  uint64_t kernel_size = 0;  // bytes of protected-mode kernel (syssize * 16)
  uint8_t loadflags = 0;
  uint16_t xloadflags = 0;
  uint32_t initrd_addr_max = 0;
  uint32_t kernel_alignment = 0;
  bool relocatable = false;
  uint8_t min_alignment = 0;
  uint32_t cmdline_size = 0;
  uint64_t pref_address = 0;
  uint32_t init_size = 0;
};

bool is_bzimage(ByteView image);
// Throws Error ("<path>: ...") when the header is malformed, too old, or lacks a 64-bit entry.
SetupHeader parse_setup_header(ByteView image, const std::string& path);

BootResult load_bzimage(GuestRam& ram, const BootRequest& req, ByteView image);

}  // namespace tandem::x86
