// A small ACPI Machine Language encoder (ACPI 6.5 chapter 20, "ACPI Machine Language
// Specification", and section 6.4, "Resource Data Types") for the DSDT that Tandem writes: the
// few objects a device description needs (Scope, Device, Name with integers, strings and
// resource templates). Each function returns the encoded bytes of one term; terms are
// concatenated with append().
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace tandem::x86::aml {

using Bytes = std::vector<uint8_t>;

// Opcodes and resource descriptor tags used here (also what the decoder in the tests reads).
inline constexpr uint8_t kZeroOp = 0x00;
inline constexpr uint8_t kOneOp = 0x01;
inline constexpr uint8_t kNameOp = 0x08;
inline constexpr uint8_t kBytePrefix = 0x0a;
inline constexpr uint8_t kWordPrefix = 0x0b;
inline constexpr uint8_t kDWordPrefix = 0x0c;
inline constexpr uint8_t kStringPrefix = 0x0d;
inline constexpr uint8_t kQWordPrefix = 0x0e;
inline constexpr uint8_t kScopeOp = 0x10;
inline constexpr uint8_t kBufferOp = 0x11;
inline constexpr uint8_t kDualNamePrefix = 0x2e;
inline constexpr uint8_t kMultiNamePrefix = 0x2f;
inline constexpr uint8_t kRootChar = 0x5c;
inline constexpr uint8_t kExtOpPrefix = 0x5b;
inline constexpr uint8_t kDeviceOp = 0x82;  // after kExtOpPrefix
inline constexpr uint8_t kOnesOp = 0xff;

inline constexpr uint8_t kEndTag = 0x79;                // small item, length 1
inline constexpr uint8_t kMemory32FixedTag = 0x86;      // large item, length 9
inline constexpr uint8_t kExtendedInterruptTag = 0x89;  // large item, length 2 + 4 * count

// Extended Interrupt Descriptor flags (ACPI 6.5 table 6.260).
inline constexpr uint8_t kIrqConsumer = 1 << 0;
inline constexpr uint8_t kIrqEdge = 1 << 1;       // clear: level-triggered
inline constexpr uint8_t kIrqActiveLow = 1 << 2;  // clear: active-high
inline constexpr uint8_t kIrqShared = 1 << 3;     // clear: exclusive

void append(Bytes& to, std::span<const uint8_t> term);

// PkgLength for a package whose contents (after the PkgLength) are `content_size` bytes: the
// encoded value counts the PkgLength bytes themselves. Throws Error past 2^28 bytes.
Bytes pkg_length(size_t content_size);
// A NameString: an optional leading '\' (root), then 1 or more 4-character segments separated by
// '.'; shorter segments are padded with '_' ("_SB" -> "_SB_"). Throws Error on a bad name.
Bytes name_string(std::string_view path);
// The shortest integer encoding (ZeroOp, OneOp, OnesOp for all-ones, Byte/Word/DWord/QWord).
Bytes integer(uint64_t value);
// A null-terminated ASCII string. Throws Error on a NUL or non-ASCII character.
Bytes string(std::string_view text);

// Name(name, value)
Bytes name(std::string_view name, std::span<const uint8_t> value);
// Scope(path) { body }
Bytes scope(std::string_view path, std::span<const uint8_t> body);
// Device(name) { body }
Bytes device(std::string_view name, std::span<const uint8_t> body);
// Buffer() { bytes }
Bytes buffer(std::span<const uint8_t> bytes);
// ResourceTemplate() { descriptors }: a Buffer of the descriptors and an End Tag.
Bytes resource_template(std::span<const uint8_t> descriptors);

// Memory32Fixed(ReadWrite or ReadOnly, base, length)
Bytes memory32_fixed(bool writable, uint32_t base, uint32_t length);
// Interrupt(ResourceConsumer, ...) { gsi }: an Extended Interrupt Descriptor with one entry and
// `flags` from the kIrq* bits above.
Bytes extended_interrupt(uint8_t flags, uint32_t gsi);

}  // namespace tandem::x86::aml
