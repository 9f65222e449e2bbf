#include "machine/x86/boot/aml.h"

#include "base/error.h"

namespace tandem::x86::aml {

namespace {

Bytes join(std::initializer_list<std::span<const uint8_t>> parts) {
  Bytes out;
  for (auto p : parts) append(out, p);
  return out;
}

void add_le(Bytes& out, uint64_t v, unsigned bytes) {
  for (unsigned i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

bool lead_char(char c) {
  return (c >= 'A' && c <= 'Z') || c == '_';
}

bool name_char(char c) {
  return lead_char(c) || (c >= '0' && c <= '9');
}

// Op PkgLength contents...
Bytes package(std::initializer_list<uint8_t> op, std::span<const uint8_t> contents) {
  Bytes out(op);
  append(out, pkg_length(contents.size()));
  append(out, contents);
  return out;
}

}  // namespace

void append(Bytes& to, std::span<const uint8_t> term) {
  to.insert(to.end(), term.begin(), term.end());
}

Bytes pkg_length(size_t content_size) {
  // One byte holds 0..63 in bits 5-0. Longer lengths use 1-3 following bytes: bits 3-0 of the
  // lead byte are the low nibble, the following bytes the rest, bits 7-6 their count.
  if (content_size + 1 <= 0x3f) return {static_cast<uint8_t>(content_size + 1)};
  for (unsigned extra = 1; extra <= 3; ++extra) {
    uint64_t total = content_size + 1 + extra;
    if (total >= (uint64_t{1} << (4 + 8 * extra))) continue;
    Bytes out{static_cast<uint8_t>((extra << 6) | (total & 0xf))};
    add_le(out, total >> 4, extra);
    return out;
  }
  fail("AML package of {} bytes is too large for a PkgLength", content_size);
}

Bytes name_string(std::string_view path) {
  Bytes out;
  if (!path.empty() && path[0] == '\\') {
    out.push_back(kRootChar);
    path.remove_prefix(1);
  }
  std::vector<std::string_view> segs;
  while (true) {
    size_t dot = path.find('.');
    segs.push_back(path.substr(0, dot));
    if (dot == std::string_view::npos) break;
    path.remove_prefix(dot + 1);
  }
  if (segs.size() > 255) fail("AML name with {} segments", segs.size());
  if (segs.size() == 2) out.push_back(kDualNamePrefix);
  if (segs.size() > 2) {
    out.push_back(kMultiNamePrefix);
    out.push_back(static_cast<uint8_t>(segs.size()));
  }
  for (std::string_view seg : segs) {
    if (seg.empty() || seg.size() > 4 || !lead_char(seg[0])) fail("bad AML name segment '{}'", seg);
    for (size_t i = 0; i < 4; ++i) {
      char c = i < seg.size() ? seg[i] : '_';
      if (!name_char(c)) fail("bad AML name segment '{}'", seg);
      out.push_back(static_cast<uint8_t>(c));
    }
  }
  return out;
}

Bytes integer(uint64_t value) {
  if (value == 0) return {kZeroOp};
  if (value == 1) return {kOneOp};
  if (value == ~uint64_t{0}) return {kOnesOp};
  Bytes out;
  if (value <= 0xff) {
    out.push_back(kBytePrefix);
    add_le(out, value, 1);
  } else if (value <= 0xffff) {
    out.push_back(kWordPrefix);
    add_le(out, value, 2);
  } else if (value <= 0xffffffff) {
    out.push_back(kDWordPrefix);
    add_le(out, value, 4);
  } else {
    out.push_back(kQWordPrefix);
    add_le(out, value, 8);
  }
  return out;
}

Bytes string(std::string_view text) {
  Bytes out{kStringPrefix};
  for (char c : text) {
    if (c == '\0' || static_cast<unsigned char>(c) > 0x7f) fail("bad character in AML string");
    out.push_back(static_cast<uint8_t>(c));
  }
  out.push_back(0);
  return out;
}

Bytes name(std::string_view name, std::span<const uint8_t> value) {
  return join({Bytes{kNameOp}, name_string(name), value});
}

Bytes scope(std::string_view path, std::span<const uint8_t> body) {
  return package({kScopeOp}, join({name_string(path), body}));
}

Bytes device(std::string_view name, std::span<const uint8_t> body) {
  return package({kExtOpPrefix, kDeviceOp}, join({name_string(name), body}));
}

Bytes buffer(std::span<const uint8_t> bytes) {
  return package({kBufferOp}, join({integer(bytes.size()), bytes}));
}

Bytes resource_template(std::span<const uint8_t> descriptors) {
  // End Tag with a zero checksum byte: "the resource data is treated as if the checksum
  // operation yielded zero" (ACPI 6.5 section 6.4.2.9).
  return buffer(join({descriptors, Bytes{kEndTag, 0}}));
}

Bytes memory32_fixed(bool writable, uint32_t base, uint32_t length) {
  Bytes out{kMemory32FixedTag};
  add_le(out, 9, 2);
  out.push_back(writable ? 1 : 0);
  add_le(out, base, 4);
  add_le(out, length, 4);
  return out;
}

Bytes extended_interrupt(uint8_t flags, uint32_t gsi) {
  Bytes out{kExtendedInterruptTag};
  add_le(out, 6, 2);  // flags, table length, one 32-bit interrupt number
  out.push_back(flags);
  out.push_back(1);
  add_le(out, gsi, 4);
  return out;
}

}  // namespace tandem::x86::aml
