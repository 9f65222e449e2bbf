#include "machine/x86/boot/aml_decoder_test_util.h"

#include <stdexcept>

namespace tandem::x86::testing {

namespace {

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  bool done() const { return pos_ == bytes_.size(); }
  size_t pos() const { return pos_; }
  uint8_t peek() const {
    need(1);
    return bytes_[pos_];
  }
  uint8_t u8() {
    need(1);
    return bytes_[pos_++];
  }
  uint64_t le(unsigned n) {
    need(n);
    uint64_t v = 0;
    for (unsigned i = 0; i < n; ++i) v |= uint64_t{bytes_[pos_ + i]} << (8 * i);
    pos_ += n;
    return v;
  }
  std::span<const uint8_t> take(size_t n) {
    need(n);
    auto s = bytes_.subspan(pos_, n);
    pos_ += n;
    return s;
  }
  // PkgLength: returns the package's end position (the length counts the PkgLength bytes).
  size_t pkg_end() {
    size_t start = pos_;
    uint8_t lead = u8();
    unsigned extra = lead >> 6;
    uint64_t len;
    if (extra == 0) {
      len = lead & 0x3f;
    } else {
      if (lead & 0x30) throw std::runtime_error("PkgLength: bits 5-4 of a multi-byte lead set");
      len = (lead & 0xf) | (le(extra) << 4);
    }
    if (len < pos_ - start || start + len > bytes_.size()) {
      throw std::runtime_error("PkgLength " + std::to_string(len) + " out of bounds");
    }
    return start + len;
  }

 private:
  void need(size_t n) const {
    if (n > bytes_.size() - pos_) throw std::runtime_error("AML truncated");
  }
  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
};

bool lead_char(uint8_t c) {
  return (c >= 'A' && c <= 'Z') || c == '_';
}
bool digit(uint8_t c) {
  return c >= '0' && c <= '9';
}

std::string name_seg(Reader& r) {
  std::string s;
  for (int i = 0; i < 4; ++i) {
    uint8_t c = r.u8();
    if (i == 0 ? !lead_char(c) : !(lead_char(c) || digit(c))) {
      throw std::runtime_error("bad NameSeg character");
    }
    s.push_back(static_cast<char>(c));
  }
  return s;
}

std::string name_string(Reader& r) {
  std::string out;
  if (r.peek() == '\\') {
    out = "\\";
    r.u8();
  }
  while (r.peek() == '^') {
    out += "^";
    r.u8();
  }
  unsigned segs = 1;
  if (r.peek() == 0x2e) {
    r.u8();
    segs = 2;
  } else if (r.peek() == 0x2f) {
    r.u8();
    segs = r.u8();
  } else if (r.peek() == 0x00) {
    r.u8();
    return out;  // NullName
  }
  for (unsigned i = 0; i < segs; ++i) {
    if (i) out += ".";
    out += name_seg(r);
  }
  return out;
}

void data_object(Reader& r, AmlObject& o) {
  uint8_t op = r.u8();
  switch (op) {
    case 0x00:
      o.integer = 0;
      return;
    case 0x01:
      o.integer = 1;
      return;
    case 0xff:
      o.integer = ~uint64_t{0};
      return;
    case 0x0a:
      o.integer = r.le(1);
      return;
    case 0x0b:
      o.integer = r.le(2);
      return;
    case 0x0c:
      o.integer = r.le(4);
      return;
    case 0x0e:
      o.integer = r.le(8);
      return;
    case 0x0d: {
      std::string s;
      for (uint8_t c; (c = r.u8()) != 0;) {
        if (c > 0x7f) throw std::runtime_error("non-ASCII AML string");
        s.push_back(static_cast<char>(c));
      }
      o.string = s;
      return;
    }
    case 0x11: {
      size_t end = r.pkg_end();
      AmlObject size;
      data_object(r, size);
      if (!size.integer) throw std::runtime_error("Buffer size is not an integer");
      if (r.pos() > end) throw std::runtime_error("Buffer size overruns the package");
      auto bytes = r.take(end - r.pos());
      if (*size.integer != bytes.size()) {
        throw std::runtime_error("Buffer size " + std::to_string(*size.integer) + " but " +
                                 std::to_string(bytes.size()) + " bytes");
      }
      o.buffer = std::vector<uint8_t>(bytes.begin(), bytes.end());
      return;
    }
    default:
      throw std::runtime_error("unsupported data object opcode " + std::to_string(op));
  }
}

std::vector<AmlObject> term_list(Reader& r, size_t end);

AmlObject term(Reader& r) {
  AmlObject o{};
  uint8_t op = r.u8();
  if (op == 0x08) {
    o.kind = AmlObject::Kind::kName;
    o.name = name_string(r);
    data_object(r, o);
    return o;
  }
  if (op == 0x10 || (op == 0x5b && r.peek() == 0x82)) {
    if (op == 0x5b) r.u8();
    o.kind = op == 0x10 ? AmlObject::Kind::kScope : AmlObject::Kind::kDevice;
    size_t end = r.pkg_end();
    o.name = name_string(r);
    o.children = term_list(r, end);
    return o;
  }
  throw std::runtime_error("unsupported AML opcode " + std::to_string(op));
}

std::vector<AmlObject> term_list(Reader& r, size_t end) {
  std::vector<AmlObject> out;
  while (r.pos() < end) out.push_back(term(r));
  if (r.pos() != end) throw std::runtime_error("term overruns its package");
  return out;
}

}  // namespace

std::vector<AmlObject> decode_aml(std::span<const uint8_t> aml) {
  Reader r(aml);
  return term_list(r, aml.size());
}

std::vector<AmlResource> decode_resources(std::span<const uint8_t> buffer) {
  Reader r(buffer);
  std::vector<AmlResource> out;
  while (!r.done()) {
    uint8_t first = r.u8();
    AmlResource res{};
    res.large = first & 0x80;
    size_t len;
    if (res.large) {
      res.tag = first;
      len = r.le(2);
    } else {
      res.tag = (first >> 3) & 0xf;
      len = first & 7;
    }
    auto data = r.take(len);
    res.data.assign(data.begin(), data.end());
    if (!res.large && res.tag == 0xf) {  // End Tag
      if (len != 1) throw std::runtime_error("End Tag with length " + std::to_string(len));
      if (!r.done()) throw std::runtime_error("bytes after the End Tag");
      return out;
    }
    out.push_back(std::move(res));
  }
  throw std::runtime_error("resource template without an End Tag");
}

}  // namespace tandem::x86::testing
