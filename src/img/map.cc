// tandem img map [-f fmt] [--output=human|json] [--start-offset=N] [--max-length=N] [-U] filename
//
// qemu-img map's output: runs of the same block status through the backing chain, merged when
// they continue each other (and, for data, continue in the same file).
#include <fmt/format.h>

#include <optional>

#include "base/error.h"
#include "img/image_source.h"
#include "img/img.h"
#include "img/options.h"

namespace tandem::img {

namespace {

enum { kFormat, kOutput, kStart, kMaxLength, kForceShare, kHelp };
constexpr OptionSpec kSpec[] = {
    {'f', nullptr, true, kFormat},
    {0, "output", true, kOutput},
    {0, "start-offset", true, kStart},
    {0, "max-length", true, kMaxLength},
    {'U', "force-share", false, kForceShare},
    {'h', "help", false, kHelp},
};

struct Entry {
  uint64_t start = 0;
  BlockStatus st;
};

bool mergeable(const Entry& cur, const Entry& next) {
  const BlockStatus &a = cur.st, &b = next.st;
  if (a.length == 0) return false;
  if (a.zero != b.zero || a.data != b.data || a.depth != b.depth || a.present != b.present ||
      a.offset_valid != b.offset_valid || a.file != b.file) {
    return false;
  }
  return !a.offset_valid || a.offset + a.length == b.offset;
}

// Throws Error when the human format cannot show the entry.
void dump(bool json, const Entry& e, Entry* next, std::FILE* out) {
  const BlockStatus& s = e.st;
  if (!json) {
    if (s.data && !s.offset_valid) {
      fail("File contains external, encrypted or compressed clusters.");
    }
    if (s.data && !s.zero) {
      // printf's %#x: no 0x for zero.
      auto hex = [](uint64_t v) { return v ? fmt::format("{:#x}", v) : std::string("0"); };
      fmt::print(out, "{:<16}{:<16}{:<16}{}\n", hex(e.start), hex(s.length),
                 hex(s.offset_valid ? s.offset : 0), s.file);
    }
    // The human format does not tell zero from unallocated: let them merge.
    if (next && (!next->st.data || next->st.zero)) {
      next->st.data = false;
      next->st.zero = true;
    }
    return;
  }
  fmt::print(out,
             "{{ \"start\": {}, \"length\": {}, \"depth\": {}, \"present\": {}, \"zero\": {}, "
             "\"data\": {}",
             e.start, s.length, s.depth, s.present, s.zero, s.data);
  if (s.offset_valid) fmt::print(out, ", \"offset\": {}", s.offset);
  std::fputc('}', out);
  if (next) std::fputs(",\n", out);
}

}  // namespace

int map_command(const Args& args, const Io& io) {
  ParsedArgs parsed = parse_args("map", args, kSpec);
  std::string format, output = "human";
  uint64_t start = 0;
  std::optional<uint64_t> max_length;
  for (const auto& [id, value] : parsed.options) {
    switch (id) {
      case kFormat:
        format = value;
        break;
      case kOutput:
        output = value;
        break;
      case kStart:
        start = parse_size(value);
        break;
      case kMaxLength:
        max_length = parse_size(value);
        break;
      case kForceShare:
        break;
      case kHelp:
        std::fputs(
            "usage: tandem img map [-f fmt] [--output=human|json] [--start-offset=N] "
            "[--max-length=N] [-U] filename\n",
            io.out);
        return 0;
    }
  }
  if (output != "human" && output != "json") {
    fail("map: --output must be used with human or json as argument.");
  }
  if (parsed.positional.size() != 1) fail("map: Expecting one image file name");
  auto image = SourceImage::open(parsed.positional[0], format);
  bool json = output == "json";

  uint64_t end = image->size();
  if (max_length) end = std::min(end, start + *max_length);
  if (json) {
    std::fputc('[', io.out);
  } else {
    fmt::print(io.out, "{:<16}{:<16}{:<16}{}\n", "Offset", "Length", "Mapped to", "File");
  }
  Entry cur;
  cur.start = start;
  for (uint64_t off = start; off < end;) {
    Entry next;
    next.start = off;
    next.st = image->block_status(off, std::min<uint64_t>(uint64_t{1} << 30, end - off));
    off += next.st.length;
    if (mergeable(cur, next)) {
      cur.st.length += next.st.length;
      continue;
    }
    if (cur.st.length > 0) dump(json, cur, &next, io.out);
    cur = next;
  }
  dump(json, cur, nullptr, io.out);
  if (json) std::fputs("]\n", io.out);
  return 0;
}

}  // namespace tandem::img
