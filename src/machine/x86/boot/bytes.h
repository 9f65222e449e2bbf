// Little-endian field access over untrusted bytes (kernel images, ELF files) and a builder for
// tables the loader writes into guest memory. Every read is bounds-checked; offsets and sizes
// are computed in uint64_t with overflow checks, so a hostile image cannot cause a host
// out-of-bounds access.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

namespace tandem::x86 {

// True when [offset, offset + len) lies within a buffer of `size` bytes (no overflow).
constexpr bool in_bounds(uint64_t size, uint64_t offset, uint64_t len) {
  return offset <= size && len <= size - offset;
}

class ByteView {
 public:
  ByteView() = default;
  explicit ByteView(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  uint64_t size() const { return bytes_.size(); }
  const uint8_t* data() const { return bytes_.data(); }
  bool has(uint64_t offset, uint64_t len) const { return in_bounds(size(), offset, len); }
  // Callers check has() first; these read zero past the end rather than crash.
  uint8_t u8(uint64_t offset) const { return static_cast<uint8_t>(read(offset, 1)); }
  uint16_t u16(uint64_t offset) const { return static_cast<uint16_t>(read(offset, 2)); }
  uint32_t u32(uint64_t offset) const { return static_cast<uint32_t>(read(offset, 4)); }
  uint64_t u64(uint64_t offset) const { return read(offset, 8); }
  // Sub-range; empty when out of bounds.
  ByteView sub(uint64_t offset, uint64_t len) const {
    if (!has(offset, len)) return ByteView();
    return ByteView(bytes_.subspan(offset, len));
  }
  std::span<const uint8_t> span() const { return bytes_; }
  bool starts_with(uint64_t offset, std::string_view magic) const {
    return has(offset, magic.size()) &&
           std::memcmp(bytes_.data() + offset, magic.data(), magic.size()) == 0;
  }

 private:
  uint64_t read(uint64_t offset, unsigned len) const {
    uint64_t value = 0;
    if (!has(offset, len)) return 0;
    for (unsigned i = 0; i < len; ++i) value |= uint64_t{bytes_[offset + i]} << (8 * i);
    return value;
  }
  std::span<const uint8_t> bytes_;
};

// A growable little-endian byte buffer for building guest tables.
class ByteBuilder {
 public:
  explicit ByteBuilder(size_t size = 0) : bytes_(size, 0) {}
  size_t size() const { return bytes_.size(); }
  std::vector<uint8_t>& bytes() { return bytes_; }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

  void put8(size_t offset, uint8_t v) { put(offset, v, 1); }
  void put16(size_t offset, uint16_t v) { put(offset, v, 2); }
  void put32(size_t offset, uint32_t v) { put(offset, v, 4); }
  void put64(size_t offset, uint64_t v) { put(offset, v, 8); }
  void put_bytes(size_t offset, std::span<const uint8_t> data) {
    grow(offset + data.size());
    if (!data.empty()) std::memcpy(bytes_.data() + offset, data.data(), data.size());
  }
  // Copies `text` without a terminator, padded with `pad` up to `width` bytes.
  void put_str(size_t offset, std::string_view text, size_t width, char pad = ' ') {
    grow(offset + width);
    for (size_t i = 0; i < width; ++i) {
      bytes_[offset + i] = static_cast<uint8_t>(i < text.size() ? text[i] : pad);
    }
  }
  // Appending forms.
  void add8(uint8_t v) { put8(size(), v); }
  void add16(uint16_t v) { put16(size(), v); }
  void add32(uint32_t v) { put32(size(), v); }
  void add64(uint64_t v) { put64(size(), v); }
  void add_str(std::string_view text, size_t width, char pad = ' ') {
    put_str(size(), text, width, pad);
  }

 private:
  void grow(size_t end) {
    if (bytes_.size() < end) bytes_.resize(end, 0);
  }
  void put(size_t offset, uint64_t v, unsigned len) {
    grow(offset + len);
    for (unsigned i = 0; i < len; ++i) bytes_[offset + i] = static_cast<uint8_t>(v >> (8 * i));
  }
  std::vector<uint8_t> bytes_;
};

// The byte that makes the sum of all bytes of `bytes` zero (ACPI and MP table checksums).
inline uint8_t checksum_byte(std::span<const uint8_t> bytes) {
  uint8_t sum = 0;
  for (uint8_t b : bytes) sum = static_cast<uint8_t>(sum + b);
  return static_cast<uint8_t>(-sum);
}

constexpr uint64_t align_up(uint64_t value, uint64_t align) {
  return (value + align - 1) & ~(align - 1);
}
constexpr uint64_t align_down(uint64_t value, uint64_t align) {
  return value & ~(align - 1);
}
constexpr bool is_power_of_two(uint64_t v) {
  return v != 0 && (v & (v - 1)) == 0;
}

}  // namespace tandem::x86
