// tandem img info [-f fmt] [--output=human|json] [--backing-chain] [-U] filename
//
// Reads the header (and the snapshot table) directly: info works on images the driver would
// refuse to open for I/O (dirty, marked corrupt, extended L2 entries), as qemu-img's does.
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>

#include "base/error.h"
#include "base/unique_fd.h"
#include "block/qcow2/backing.h"
#include "block/qcow2/qcow2_format.h"
#include "block/qcow2/qcow2_header.h"
#include "img/image_source.h"
#include "img/img.h"
#include "img/options.h"
#include "img/snapshot_table.h"

namespace tandem::img {

namespace {

using Json = nlohmann::ordered_json;

enum { kFormat, kOutput, kBackingChain, kForceShare, kHelp };
constexpr OptionSpec kSpec[] = {
    {'f', nullptr, true, kFormat},
    {0, "output", true, kOutput},
    {0, "backing-chain", false, kBackingChain},
    {'U', "force-share", false, kForceShare},
    {'h', "help", false, kHelp},
};

struct ImageInfo {
  std::string filename;
  std::string format;
  uint64_t virtual_size = 0;
  std::optional<uint64_t> actual_size;
  bool dirty = false;
  // qcow2
  std::optional<qcow2::Header> header;
  std::vector<Snapshot> snapshots;
  std::string full_backing;  // resolved backing file path
};

ImageInfo collect(const std::string& path, const std::string& requested_format) {
  ImageInfo info;
  info.filename = path;
  info.format = resolve_format(path, requested_format);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) fail_errno("Could not open '{}'", path);
  struct stat st;
  if (::fstat(fd.get(), &st) < 0) fail_errno("could not stat '{}'", path);
  uint64_t file_size = static_cast<uint64_t>(st.st_size);
  if (S_ISBLK(st.st_mode)) {
    uint64_t bytes = 0;
    if (::ioctl(fd.get(), BLKGETSIZE64, &bytes) < 0) fail_errno("could not size '{}'", path);
    file_size = bytes;
  } else {
    info.actual_size = static_cast<uint64_t>(st.st_blocks) * 512;
  }
  if (info.format == "raw") {
    info.virtual_size = file_size;
    return info;
  }
  std::vector<uint8_t> first(std::min<uint64_t>(file_size, 2u << 20));
  ssize_t n = ::pread(fd.get(), first.data(), first.size(), 0);
  if (n < 0) fail_errno("could not read '{}'", path);
  first.resize(static_cast<size_t>(n));
  if (first.size() >= 24 && qcow2::load_be32(first.data()) == qcow2::kMagic) {
    uint32_t bits = qcow2::load_be32(&first[20]);
    if (bits >= qcow2::kMinClusterBits && bits <= qcow2::kMaxClusterBits) {
      first.resize(std::min<size_t>(first.size(), size_t{1} << bits));
    }
  }
  info.header = qcow2::parse_header(first, file_size, path);
  info.virtual_size = info.header->size;
  info.dirty = info.header->incompatible_features & qcow2::kIncompatDirty;
  info.snapshots = read_snapshot_table(fd.get(), *info.header, file_size, path).snapshots;
  if (!info.header->backing_file.empty()) {
    info.full_backing = qcow2::resolve_backing_path(path, info.header->backing_file);
  }
  return info;
}

Json format_specific(const qcow2::Header& h) {
  Json data;
  data["compat"] = h.version >= 3 ? "1.1" : "0.10";
  data["compression-type"] = h.compression_type == qcow2::kCompressionZstd ? "zstd" : "zlib";
  if (h.version >= 3) {
    data["lazy-refcounts"] = (h.compatible_features & qcow2::kCompatLazyRefcounts) != 0;
  }
  data["refcount-bits"] = h.refcount_bits();
  if (h.version >= 3) {
    data["corrupt"] = (h.incompatible_features & qcow2::kIncompatCorrupt) != 0;
    data["extended-l2"] = (h.incompatible_features & qcow2::kIncompatExtendedL2) != 0;
  }
  Json out;
  out["type"] = "qcow2";
  out["data"] = data;
  return out;
}

Json to_json(const ImageInfo& info) {
  Json j;
  if (!info.snapshots.empty()) {
    Json list = Json::array();
    for (const Snapshot& s : info.snapshots) {
      Json e;
      if (s.icount) e["icount"] = *s.icount;
      e["vm-clock-nsec"] = s.vm_clock_nsec % 1000000000;
      e["name"] = s.name;
      e["date-sec"] = s.date_sec;
      e["date-nsec"] = s.date_nsec;
      e["vm-clock-sec"] = s.vm_clock_nsec / 1000000000;
      e["id"] = s.id;
      e["vm-state-size"] = s.vm_state_size;
      list.push_back(e);
    }
    j["snapshots"] = list;
  }
  bool backing = info.header && !info.header->backing_file.empty();
  if (backing && !info.header->backing_format.empty()) {
    j["backing-filename-format"] = info.header->backing_format;
  }
  j["virtual-size"] = info.virtual_size;
  j["filename"] = info.filename;
  if (info.header) j["cluster-size"] = info.header->cluster_size();
  j["format"] = info.format;
  if (info.actual_size) j["actual-size"] = *info.actual_size;
  if (info.header) j["format-specific"] = format_specific(*info.header);
  if (backing) {
    j["full-backing-filename"] = info.full_backing;
    j["backing-filename"] = info.header->backing_file;
  }
  j["dirty-flag"] = info.dirty;
  return j;
}

// QAPI names as qemu-img's human output spells them.
std::string human_key(std::string key) {
  for (char& c : key) {
    if (c == '-') c = ' ';
  }
  return key;
}

void print_human(const ImageInfo& info, std::FILE* out) {
  fmt::print(out, "image: {}\nfile format: {}\nvirtual size: {} ({} bytes)\ndisk size: {}\n",
             info.filename, info.format, size_to_str(info.virtual_size), info.virtual_size,
             info.actual_size ? size_to_str(*info.actual_size) : "unavailable");
  if (!info.header) return;
  const qcow2::Header& h = *info.header;
  fmt::print(out, "cluster_size: {}\n", h.cluster_size());
  if (info.dirty) fmt::print(out, "cleanly shut down: no\n");
  if (!h.backing_file.empty()) {
    fmt::print(out, "backing file: {}", h.backing_file);
    if (info.full_backing != h.backing_file) {
      fmt::print(out, " (actual path: {})", info.full_backing);
    }
    fmt::print(out, "\n");
    if (!h.backing_format.empty()) fmt::print(out, "backing file format: {}\n", h.backing_format);
  }
  if (!info.snapshots.empty()) {
    fmt::print(out, "Snapshot list:\n{}\n", snapshot_header_line());
    for (const Snapshot& s : info.snapshots) fmt::print(out, "{}\n", snapshot_line(s));
  }
  fmt::print(out, "Format specific information:\n");
  Json specific = format_specific(h);
  for (const auto& [key, value] : specific["data"].items()) {
    fmt::print(out, "    {}: {}\n", human_key(key),
               value.is_string() ? value.get<std::string>() : value.dump());
  }
}

}  // namespace

int info_command(const Args& args, const Io& io) {
  ParsedArgs parsed = parse_args("info", args, kSpec);
  std::string format, output = "human";
  bool chain = false;
  for (const auto& [id, value] : parsed.options) {
    switch (id) {
      case kFormat:
        format = value;
        break;
      case kOutput:
        output = value;
        break;
      case kBackingChain:
        chain = true;
        break;
      case kForceShare:
        break;  // info never locks
      case kHelp:
        std::fputs(
            "usage: tandem img info [-f fmt] [--output=human|json] [--backing-chain] [-U] "
            "filename\n",
            io.out);
        return 0;
    }
  }
  if (output != "human" && output != "json") {
    fail("info: --output must be used with human or json as argument.");
  }
  if (parsed.positional.size() != 1) fail("info: Expecting one image file name");

  std::vector<ImageInfo> infos;
  std::string path = parsed.positional[0];
  std::vector<std::pair<dev_t, ino_t>> seen;
  while (true) {
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) {
      for (const auto& [dev, ino] : seen) {
        if (dev == st.st_dev && ino == st.st_ino) {
          fail("Backing file '{}' creates an infinite loop.", path);
        }
      }
      seen.emplace_back(st.st_dev, st.st_ino);
    }
    infos.push_back(collect(path, format));
    const ImageInfo& last = infos.back();
    if (!chain || !last.header || last.header->backing_file.empty()) break;
    path = last.full_backing;
    format = last.header->backing_format;
  }

  if (output == "json") {
    Json j;
    if (chain) {
      j = Json::array();
      for (const ImageInfo& i : infos) j.push_back(to_json(i));
    } else {
      j = to_json(infos[0]);
    }
    fmt::print(io.out, "{}\n", j.dump(4));
    return 0;
  }
  for (size_t i = 0; i < infos.size(); ++i) {
    if (i > 0) fmt::print(io.out, "\n");
    print_human(infos[i], io.out);
  }
  return 0;
}

}  // namespace tandem::img
