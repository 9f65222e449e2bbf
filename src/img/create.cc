// tandem img create [-q] [-f fmt] [-b backing_file [-F backing_fmt]] [-u] [-o options]
//                   filename [size]
#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include <map>
#include <optional>

#include "base/error.h"
#include "base/unique_fd.h"
#include "block/qcow2/backing.h"
#include "block/qcow2/qcow2_create.h"
#include "img/image_source.h"
#include "img/img.h"
#include "img/options.h"

namespace tandem::img {

namespace {

enum { kFormat, kBacking, kBackingFormat, kOptions, kQuiet, kUnsafe, kHelp };
constexpr OptionSpec kSpec[] = {
    {'f', nullptr, true, kFormat},        {'b', nullptr, true, kBacking},
    {'F', nullptr, true, kBackingFormat}, {'o', nullptr, true, kOptions},
    {'q', nullptr, false, kQuiet},        {'u', nullptr, false, kUnsafe},
    {'h', "help", false, kHelp},
};

constexpr const char* kHelpText =
    "usage: tandem img create [-q] [-f fmt] [-b backing_file [-F backing_fmt]] [-u]\n"
    "                         [-o options] filename [size]\n"
    "Creates a raw or qcow2 image (size with k, M, G, T, P or E suffixes; taken from the\n"
    "backing file when omitted).\n";

constexpr const char* kQcow2OptionHelp =
    "Supported qcow2 options:\n"
    "  backing_file=<str>      - File name of a base image\n"
    "  backing_fmt=<str>       - Image format of the base image\n"
    "  cluster_size=<size>     - qcow2 cluster size\n"
    "  compat=<str>            - Compatibility level (v2 [0.10], v3 [1.1])\n"
    "  compression_type=<str>  - Compression method used for image cluster compression\n"
    "  extended_l2=<bool>      - Extended L2 tables (off only)\n"
    "  lazy_refcounts=<bool>   - Postpone refcount updates\n"
    "  preallocation=<str>     - Preallocation mode (off only)\n"
    "  refcount_bits=<num>     - Width of a reference count entry in bits\n"
    "  size=<size>             - Virtual disk size\n";

constexpr const char* kRawOptionHelp =
    "Supported raw options:\n"
    "  preallocation=<str>     - Preallocation mode (off only)\n"
    "  size=<size>             - Virtual disk size\n";

void create_raw(const std::string& path, uint64_t size) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) fail_errno("{}: could not create the image", path);
  if (::ftruncate(fd.get(), static_cast<off_t>((size + 511) & ~uint64_t{511})) < 0) {
    fail_errno("{}: could not resize the image", path);
  }
  if (::fsync(fd.get()) < 0) fail_errno("{}: could not sync the image", path);
}

}  // namespace

int create_command(const Args& args, const Io& io) {
  ParsedArgs parsed = parse_args("create", args, kSpec);
  std::string format = "raw";
  std::map<std::string, std::string> opts;
  std::vector<std::string> order;  // -o names in the order given (for error messages)
  bool quiet = false, unsafe = false, help_options = false;
  auto set_opt = [&](const std::string& name, const std::string& value) {
    auto it = opts.find(name);
    if (it != opts.end() && it->second != value) {
      fail("create: '{}' given twice with different values ('{}' and '{}')", name, it->second,
           value);
    }
    opts[name] = value;
    order.push_back(name);
  };
  for (const auto& [id, value] : parsed.options) {
    switch (id) {
      case kFormat:
        format = value;
        break;
      case kBacking:
        set_opt("backing_file", value);
        break;
      case kBackingFormat:
        set_opt("backing_fmt", value);
        break;
      case kOptions:
        if (value == "help" || value == "?") {
          help_options = true;
          break;
        }
        for (const auto& [n, v] : parse_option_list(value)) set_opt(n, v);
        break;
      case kQuiet:
        quiet = true;
        break;
      case kUnsafe:
        unsafe = true;
        break;
      case kHelp:
        std::fputs(kHelpText, io.out);
        return 0;
    }
  }
  if (format != "raw" && format != "qcow2") resolve_format("", format);  // throws its error
  if (help_options) {
    std::fputs(format == "qcow2" ? kQcow2OptionHelp : kRawOptionHelp, io.out);
    return 0;
  }
  if (parsed.positional.empty()) fail("create: Expecting image file name");
  if (parsed.positional.size() > 2) fail("create: Unexpected argument '{}'", parsed.positional[2]);
  const std::string& filename = parsed.positional[0];

  static const char* const kQcow2Options[] = {"size",         "backing_file",   "backing_fmt",
                                              "cluster_size", "compat",         "compression_type",
                                              "extended_l2",  "lazy_refcounts", "preallocation",
                                              "refcount_bits"};
  static const char* const kRawOptions[] = {"size", "preallocation"};
  for (const std::string& name : order) {
    bool known = false;
    if (format == "qcow2") {
      for (const char* o : kQcow2Options) known |= name == o;
    } else {
      for (const char* o : kRawOptions) known |= name == o;
    }
    if (!known) {
      if (format == "raw" && (name == "backing_file" || name == "backing_fmt")) {
        fail("{}: Backing file not supported for file format 'raw'", filename);
      }
      fail("{}: Invalid parameter '{}'", filename, name);
    }
  }
  auto opt = [&](const char* name) -> std::optional<std::string> {
    auto it = opts.find(name);
    if (it == opts.end()) return std::nullopt;
    return it->second;
  };

  std::optional<uint64_t> size;
  if (parsed.positional.size() == 2) size = parse_size(parsed.positional[1]);
  if (auto s = opt("size")) {
    uint64_t v = parse_size(*s);
    if (size && *size != v) fail("{}: the size is given twice ({} and {})", filename, *size, v);
    size = v;
  }
  if (auto p = opt("preallocation"); p && *p != "off") {
    fail("{}: preallocation={} is not supported (off only)", filename, *p);
  }

  qcow2::CreateOptions q;
  std::string compat_text, cluster_text = "65536", compression_text = "zlib";
  if (format == "qcow2") {
    if (auto v = opt("cluster_size")) {
      q.cluster_size = parse_size(*v);
      cluster_text = std::to_string(q.cluster_size);
    }
    if (auto v = opt("compat")) {
      compat_text = *v;
      if (*v == "0.10" || *v == "v2") {
        q.version = 2;
      } else if (*v == "1.1" || *v == "v3") {
        q.version = 3;
      } else {
        fail("{}: Invalid compatibility level: '{}'", filename, *v);
      }
    }
    if (auto v = opt("compression_type")) {
      compression_text = *v;
      if (*v == "zlib") {
        q.compression_type = qcow2::kCompressionZlib;
      } else if (*v == "zstd") {
        q.compression_type = qcow2::kCompressionZstd;
      } else {
        fail("{}: Parameter 'compression-type' does not accept value '{}'", filename, *v);
      }
    }
    if (auto v = opt("lazy_refcounts")) q.lazy_refcounts = parse_bool("lazy_refcounts", *v);
    if (auto v = opt("extended_l2"); v && parse_bool("extended_l2", *v)) {
      fail("{}: extended L2 entries are not supported by Tandem", filename);
    }
    if (auto v = opt("refcount_bits")) {
      char* end = nullptr;
      unsigned long bits = std::strtoul(v->c_str(), &end, 10);
      if (v->empty() || *end != '\0' || bits > 64) {
        fail("{}: Refcount width must be a power of two and may not exceed 64 bits", filename);
      }
      q.refcount_bits = static_cast<uint32_t>(bits);
    }
    if (auto v = opt("backing_file")) q.backing_file = *v;
    if (auto v = opt("backing_fmt")) q.backing_format = *v;
    if (!q.backing_file.empty() && q.backing_format.empty()) {
      fail("{}: Backing file specified without backing format (use -F)", filename);
    }
    if (q.backing_file.empty() && !q.backing_format.empty()) {
      fail("{}: a backing format was given without a backing file (-b)", filename);
    }
    if (!q.backing_file.empty()) {
      if (q.backing_format != "raw" && q.backing_format != "qcow2") {
        resolve_format("", q.backing_format);  // throws its error
      }
      std::string backing_path = qcow2::resolve_backing_path(filename, q.backing_file);
      if (!unsafe) {
        try {
          auto backing = SourceImage::open(backing_path, q.backing_format);
          if (!size) size = backing->size();
        } catch (const Error& e) {
          fail("{}: Could not open backing image: {}", filename, e.what());
        }
      }
    }
  }
  if (!size) fail("{}: Image creation needs a size parameter", filename);
  q.size = *size;

  if (!quiet) {
    std::string line = fmt::format("Formatting '{}', fmt={} ", filename, format);
    if (format == "qcow2") {
      // qemu-img 7.2's order.
      line += fmt::format("cluster_size={} extended_l2=off ", cluster_text);
      if (auto p = opt("preallocation")) line += fmt::format("preallocation={} ", *p);
      line += fmt::format("compression_type={} size={} ", compression_text, *size);
      if (!compat_text.empty()) line += fmt::format("compat={} ", compat_text);
      if (!q.backing_file.empty()) {
        line += fmt::format("backing_file={} backing_fmt={} ", q.backing_file, q.backing_format);
      }
      line += fmt::format("lazy_refcounts={} refcount_bits={}", q.lazy_refcounts ? "on" : "off",
                          q.refcount_bits);
    } else {
      line += fmt::format("size={}", *size);
      if (auto p = opt("preallocation")) line += fmt::format(" preallocation={}", *p);
    }
    fmt::print(io.out, "{}\n", line);
    std::fflush(io.out);
  }
  if (format == "qcow2") {
    try {
      qcow2::validate_create_options(q);
    } catch (const Error& e) {
      fail("{}: {}", filename, e.what());
    }
    qcow2::create_image(filename, q);
  } else {
    create_raw(filename, *size);
  }
  return 0;
}

}  // namespace tandem::img
