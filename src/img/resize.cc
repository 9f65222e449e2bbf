// tandem img resize [-f fmt] [--shrink] [--preallocation=off] [-q] filename [+|-]size
//
// As qemu-img: the size is the last argument (so that "-1G" is not an option), relative with a
// sign; shrinking needs --shrink; qcow2 sizes are multiples of 512, raw sizes any byte count.
#include <unistd.h>

#include <fmt/format.h>

#include "base/error.h"
#include "block/qcow2/qcow2_image.h"
#include "block/raw_file.h"
#include "img/image_source.h"
#include "img/img.h"
#include "img/options.h"

namespace tandem::img {

namespace {

enum { kFormat, kShrink, kPreallocation, kQuiet, kHelp };
constexpr OptionSpec kSpec[] = {
    {'f', nullptr, true, kFormat},
    {0, "shrink", false, kShrink},
    {0, "preallocation", true, kPreallocation},
    {'q', nullptr, false, kQuiet},
    {'h', "help", false, kHelp},
};

constexpr const char* kHelpText =
    "usage: tandem img resize [-f fmt] [--shrink] [--preallocation=off] [-q] filename "
    "[+|-]size\n"
    "Changes the virtual size of a raw or qcow2 image; shrinking needs --shrink.\n";

uint64_t parse_resize_size(const std::string& text) {
  try {
    return parse_size(text);
  } catch (const Error&) {
    fail(
        "Parameter 'size' expects a non-negative number below 2^64\n"
        "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\n"
        "and exabytes, respectively.");
  }
}

}  // namespace

int resize_command(const Args& args, const Io& io) {
  if (args.size() == 1 && (args[0] == "-h" || args[0] == "--help")) {
    std::fputs(kHelpText, io.out);
    return 0;
  }
  if (args.size() < 2) fail("resize: Not enough arguments");
  std::string size_arg = args.back();
  ParsedArgs parsed = parse_args("resize", Args(args.begin(), args.end() - 1), kSpec);
  std::string format;
  bool shrink = false, quiet = false;
  for (const auto& [id, value] : parsed.options) {
    switch (id) {
      case kFormat:
        format = value;
        break;
      case kShrink:
        shrink = true;
        break;
      case kPreallocation:
        if (value != "off") {
          fail("resize: preallocation mode '{}' is not supported by Tandem (off only)", value);
        }
        break;
      case kQuiet:
        quiet = true;
        break;
      case kHelp:
        std::fputs(kHelpText, io.out);
        return 0;
    }
  }
  if (parsed.positional.size() != 1) fail("resize: Expecting one image file name");
  const std::string& path = parsed.positional[0];

  int sign = 0;
  std::string number = size_arg;
  if (!number.empty() && (number[0] == '+' || number[0] == '-')) {
    sign = number[0] == '+' ? 1 : -1;
    number.erase(0, 1);
  }
  uint64_t amount = parse_resize_size(number);

  format = resolve_format(path, format);
  std::unique_ptr<qcow2::Qcow2Image> image;
  RawFile raw;
  uint64_t current;
  if (format == "qcow2") {
    qcow2::Qcow2Image::Options options;
    image = qcow2::Qcow2Image::open(path, options);
    current = image->size();
  } else {
    raw = open_raw_file(path, false, CacheMode::kWriteback);
    current = raw.size;
  }
  uint64_t new_size = amount;
  if (sign > 0) {
    if (amount > uint64_t{INT64_MAX} - current)
      fail("Image size too large: {}+{}", current, amount);
    new_size = current + amount;
  } else if (sign < 0) {
    new_size = amount >= current ? 0 : current - amount;
  }
  if (new_size == 0 || new_size > uint64_t{INT64_MAX}) fail("New image size must be positive");
  if (new_size < current && !shrink) {
    std::fflush(io.out);
    fmt::print(io.err,
               "tandem: Use the --shrink option to perform a shrink operation.\n"
               "tandem: warning: Shrinking an image will delete all data beyond the shrunken "
               "image's end. Before performing such an operation, make sure there is no "
               "important data there.\n");
    return 1;
  }

  if (image) {
    image->resize(new_size);
  } else if (::ftruncate(raw.fd.get(), static_cast<off_t>(new_size)) < 0 ||
             ::fdatasync(raw.fd.get()) < 0) {
    fail_errno("Error resizing image '{}'", path);
  }
  if (!quiet) fmt::print(io.out, "Image resized.\n");
  return 0;
}

}  // namespace tandem::img
