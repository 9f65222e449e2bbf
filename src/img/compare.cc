// tandem img compare [-f fmt] [-F fmt] [-p] [-q] [-s] [-U] filename1 filename2
//
// Compares what a guest would read from two images. Ranges both images report as zero are not
// read; a range only one image holds must read as zeroes. Exit status as qemu-img's: 0 identical,
// 1 different, 2 an error. Mismatch offsets are those of the first differing 512-byte sector.
#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "base/error.h"
#include "img/image_source.h"
#include "img/img.h"
#include "img/options.h"
#include "img/progress.h"

namespace tandem::img {

namespace {

enum { kFormat1, kFormat2, kProgress, kQuiet, kStrict, kForceShare, kCache, kHelp };
constexpr OptionSpec kSpec[] = {
    {'f', nullptr, true, kFormat1},   {'F', nullptr, true, kFormat2},
    {'p', nullptr, false, kProgress}, {'q', nullptr, false, kQuiet},
    {'s', nullptr, false, kStrict},   {'U', "force-share", false, kForceShare},
    {'T', nullptr, true, kCache},     {'h', "help", false, kHelp},
};

constexpr uint64_t kChunk = 2 << 20;
constexpr uint64_t kSector = 512;

// Offset of the first 512-byte sector where a and b differ, or len.
uint64_t first_difference(const uint8_t* a, const uint8_t* b, uint64_t len) {
  for (uint64_t off = 0; off < len; off += kSector) {
    uint64_t n = std::min(kSector, len - off);
    if (std::memcmp(a + off, b + off, n) != 0) return off;
  }
  return len;
}

uint64_t first_nonzero(const uint8_t* a, uint64_t len) {
  static const uint8_t kZero[kSector] = {};
  for (uint64_t off = 0; off < len; off += kSector) {
    uint64_t n = std::min(kSector, len - off);
    if (std::memcmp(a + off, kZero, n) != 0) return off;
  }
  return len;
}

}  // namespace

int compare_command(const Args& args, const Io& io) {
  ParsedArgs parsed = parse_args("compare", args, kSpec);
  std::string fmt1, fmt2;
  bool progress = false, quiet = false, strict = false;
  for (const auto& [id, value] : parsed.options) {
    switch (id) {
      case kFormat1:
        fmt1 = value;
        break;
      case kFormat2:
        fmt2 = value;
        break;
      case kProgress:
        progress = true;
        break;
      case kQuiet:
        quiet = true;
        break;
      case kStrict:
        strict = true;
        break;
      case kForceShare:
      case kCache:
        break;
      case kHelp:
        std::fputs(
            "usage: tandem img compare [-f fmt] [-F fmt] [-p] [-q] [-s] [-U] filename1 "
            "filename2\n",
            io.out);
        return 0;
    }
  }
  if (quiet) progress = false;
  if (parsed.positional.size() != 2) fail("compare: Expecting two image file names");
  auto a = SourceImage::open(parsed.positional[0], fmt1);
  auto b = SourceImage::open(parsed.positional[1], fmt2.empty() ? fmt1 : fmt2);
  auto say = [&](const std::string& line) {
    if (!quiet) fmt::print(io.out, "{}\n", line);
  };

  uint64_t size1 = a->size(), size2 = b->size();
  uint64_t common = std::min(size1, size2);
  if (size1 != size2 && strict) {
    say("Strict mode: Image size mismatch!");
    return 1;
  }
  Progress bar(io.out, progress, std::max(size1, size2));
  std::vector<uint8_t> buf1(kChunk), buf2(kChunk);
  for (uint64_t off = 0; off < common;) {
    BlockStatus s1 = a->block_status(off, common - off);
    BlockStatus s2 = b->block_status(off, common - off);
    uint64_t n = std::min(s1.length, s2.length);
    if (strict && (s1.present != s2.present || s1.zero != s2.zero || s1.data != s2.data)) {
      bar.finish();
      say(fmt::format("Strict mode: Offset {} block status mismatch!", off));
      return 1;
    }
    if (s1.zero && s2.zero) {
      // both read as zeroes
    } else if (!s1.zero && !s2.zero) {
      n = std::min(n, kChunk);
      a->read(off, buf1.data(), n);
      b->read(off, buf2.data(), n);
      uint64_t d = first_difference(buf1.data(), buf2.data(), n);
      if (d < n) {
        bar.finish();
        say(fmt::format("Content mismatch at offset {}!", off + d));
        return 1;
      }
    } else {
      n = std::min(n, kChunk);
      SourceImage& holder = s1.zero ? *b : *a;
      holder.read(off, buf1.data(), n);
      uint64_t d = first_nonzero(buf1.data(), n);
      if (d < n) {
        bar.finish();
        say(fmt::format("Content mismatch at offset {}!", off + d));
        return 1;
      }
    }
    off += n;
    bar.advance(n);
  }
  if (size1 != size2) {
    bar.finish();
    say("Warning: Image size mismatch!");
    SourceImage& longer = size1 > size2 ? *a : *b;
    uint64_t end = std::max(size1, size2);
    for (uint64_t off = common; off < end;) {
      BlockStatus s = longer.block_status(off, end - off);
      uint64_t n = s.length;
      if (!s.zero) {
        n = std::min(n, kChunk);
        longer.read(off, buf1.data(), n);
        uint64_t d = first_nonzero(buf1.data(), n);
        if (d < n) {
          say(fmt::format("Content mismatch at offset {}!", off + d));
          return 1;
        }
      }
      off += n;
    }
  }
  bar.finish();
  say("Images are identical.");
  return 0;
}

}  // namespace tandem::img
