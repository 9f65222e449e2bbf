// Test-only: decodes the subset of AML that Tandem's DSDT uses (Scope, Device, Name with
// Integer/String/Buffer values) and resource templates, independently of the encoder in aml.cc,
// so that the tests check the bytes against the ACPI specification rather than against
// themselves. Anything else in the byte stream is a decode error.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace tandem::x86::testing {

struct AmlObject {
  enum class Kind { kScope, kDevice, kName };
  Kind kind;
  std::string name;  // as written: "\\_SB_", "VR00", "_HID"
  // kName only: exactly one of these.
  std::optional<uint64_t> integer;
  std::optional<std::string> string;
  std::optional<std::vector<uint8_t>> buffer;
  std::vector<AmlObject> children;  // kScope, kDevice

  const AmlObject* child(const std::string& n) const {
    for (const AmlObject& c : children) {
      if (c.name == n) return &c;
    }
    return nullptr;
  }
};

// Throws std::runtime_error on anything malformed or outside the subset.
std::vector<AmlObject> decode_aml(std::span<const uint8_t> aml);

struct AmlResource {
  uint8_t tag;  // small items: bits 6-3 of the first byte; large items: the byte
  bool large;
  std::vector<uint8_t> data;  // the item's data bytes after tag/length
};
// A resource template's descriptors up to (not including) the End Tag, which must come last.
std::vector<AmlResource> decode_resources(std::span<const uint8_t> buffer);

}  // namespace tandem::x86::testing
