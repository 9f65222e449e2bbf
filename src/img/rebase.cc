// tandem img rebase [-q] [-f fmt] [-p] [-u] -b backing_file [-F backing_fmt] filename
//
// As qemu-img: the safe mode first copies into the image every cluster it does not hold where
// the old and the new backing file differ (so that the guest sees the same disk), then changes
// the backing file name and format in the header; -u changes only the header; -b "" removes the
// backing file. Unlike qemu-img, a new backing file that would make a loop is refused in both
// modes (qemu-img -u writes it, and the image can no longer be opened).
#include <sys/stat.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "base/error.h"
#include "block/qcow2/backing.h"
#include "block/qcow2/qcow2_image.h"
#include "img/backing_chain.h"
#include "img/image_source.h"
#include "img/img.h"
#include "img/options.h"
#include "img/progress.h"

namespace tandem::img {

namespace {

enum { kFormat, kBacking, kBackingFormat, kUnsafe, kProgress, kQuiet, kHelp };
constexpr OptionSpec kSpec[] = {
    {'f', nullptr, true, kFormat},        {'b', nullptr, true, kBacking},
    {'F', nullptr, true, kBackingFormat}, {'u', nullptr, false, kUnsafe},
    {'p', nullptr, false, kProgress},     {'q', nullptr, false, kQuiet},
    {'h', "help", false, kHelp},
};

constexpr const char* kHelpText =
    "usage: tandem img rebase [-q] [-f fmt] [-p] [-u] -b backing_file [-F backing_fmt] "
    "filename\n"
    "Changes the backing file of a qcow2 image (\"\" for none), first copying into the image\n"
    "what differs between the old and the new backing file (not with -u).\n";

constexpr uint64_t kChunk = 1 << 20;

void read_or_fail(qcow2::SyncImage& image, uint64_t offset, uint8_t* buf, size_t len,
                  const char* which) {
  uint64_t inside = offset < image.size() ? std::min<uint64_t>(len, image.size() - offset) : 0;
  if (inside > 0) {
    iovec v{buf, inside};
    if (int r = image.read(offset, {&v, 1}); r < 0) {
      fail("Error while reading {} backing file '{}': {}", which, image.path(), strerror(-r));
    }
  }
  std::memset(buf + inside, 0, len - inside);
}

// Copies into `top` the clusters it does not hold whose contents differ between its current
// backing file (read through `top`) and `fresh` (null: none, zeroes).
void copy_differences(qcow2::Qcow2Image& top, qcow2::SyncImage* fresh, Progress& progress) {
  uint64_t size = top.size();
  uint64_t cs = top.header().cluster_size();
  std::vector<uint8_t> old_data, new_data;
  for (uint64_t offset = 0; offset < size;) {
    qcow2::Qcow2Image::Extent e;
    if (int r = top.block_status(offset, size - offset, e); r < 0) {
      fail("Error while reading '{}': {}", top.path(), strerror(-r));
    }
    uint64_t end = offset + e.length;
    if (e.kind == qcow2::Qcow2Image::Extent::kUnallocated) {
      for (uint64_t pos = offset; pos < end;) {
        // Chunks end at cluster boundaries (each write allocates whole clusters anyway).
        uint64_t chunk_end = std::min(end, (pos + kChunk) / cs * cs);
        if (chunk_end <= pos) chunk_end = std::min(end, (pos / cs + 1) * cs);
        size_t n = static_cast<size_t>(chunk_end - pos);
        old_data.resize(n);
        new_data.resize(n);
        read_or_fail(top, pos, old_data.data(), n, "old");
        if (fresh) {
          read_or_fail(*fresh, pos, new_data.data(), n, "new");
        } else {
          std::fill(new_data.begin(), new_data.end(), 0);
        }
        for (uint64_t c = pos; c < chunk_end;) {
          uint64_t c_end = std::min(chunk_end, (c / cs + 1) * cs);
          size_t at = static_cast<size_t>(c - pos), len = static_cast<size_t>(c_end - c);
          if (std::memcmp(&old_data[at], &new_data[at], len) != 0) {
            iovec v{&old_data[at], len};
            if (int r = top.write(c, {&v, 1}); r < 0) {
              fail("Error while writing to '{}': {}", top.path(), strerror(-r));
            }
          }
          c = c_end;
        }
        pos = chunk_end;
      }
    }
    progress.advance(e.length);
    offset = end;
  }
  if (int r = top.flush(); r < 0) fail("Error while writing to '{}': {}", top.path(), strerror(-r));
}

}  // namespace

int rebase_command(const Args& args, const Io& io) {
  ParsedArgs parsed = parse_args("rebase", args, kSpec);
  std::string format, backing, backing_format;
  bool have_backing = false, unsafe = false, progress = false, quiet = false;
  for (const auto& [id, value] : parsed.options) {
    switch (id) {
      case kFormat:
        format = value;
        break;
      case kBacking:
        backing = value;
        have_backing = true;
        break;
      case kBackingFormat:
        backing_format = value;
        break;
      case kUnsafe:
        unsafe = true;
        break;
      case kProgress:
        progress = true;
        break;
      case kQuiet:
        quiet = true;
        break;
      case kHelp:
        std::fputs(kHelpText, io.out);
        return 0;
    }
  }
  if (!have_backing && !unsafe) {
    fail("rebase: Must specify backing file (-b) or use unsafe mode (-u)");
  }
  if (parsed.positional.size() != 1) fail("rebase: Expecting one image file name");
  if (quiet) progress = false;
  const std::string& path = parsed.positional[0];
  if (!backing.empty() && backing_format.empty()) {
    fail("Could not change the backing file to '{}': backing format must be specified", backing);
  }
  if (backing.empty()) backing_format.clear();
  if (resolve_format(path, format) != "qcow2") {
    fail("Could not change the backing file to '{}': Operation not supported", backing);
  }
  if (!backing_format.empty() && backing_format != "raw" && backing_format != "qcow2") {
    resolve_format(backing, backing_format);  // throws the message for this format
  }

  struct stat top_st;
  if (::stat(path.c_str(), &top_st) < 0) fail_errno("Could not open '{}'", path);
  std::string backing_path = backing.empty() ? "" : qcow2::resolve_backing_path(path, backing);
  // A loop: the new backing file is the image, or has it in its own chain. With -u the new
  // file may be missing (that is what -u is for); what exists is still checked.
  if (!backing.empty()) {
    std::vector<ChainLayer> below;
    try {
      below = backing_chain(backing_path, backing_format, unsafe);
    } catch (const Error& e) {
      if (!unsafe || std::string(e.what()).starts_with("backing file loop")) {
        fail("Could not open new backing file '{}': {}", backing, e.what());
      }
    }
    for (const ChainLayer& l : below) {
      if (l.dev == top_st.st_dev && l.ino == top_st.st_ino) {
        fail("Could not change the backing file to '{}': '{}' would be in its own backing chain",
             backing, path);
      }
    }
  }

  qcow2::Qcow2Image::Options options;
  options.open_backing = !unsafe;
  auto top = qcow2::Qcow2Image::open(path, options);
  if (!unsafe) {
    std::unique_ptr<qcow2::SyncImage> fresh;
    if (!backing.empty()) {
      qcow2::BackingChain chain;
      chain.links.push_back(
          {static_cast<uint64_t>(top_st.st_dev), static_cast<uint64_t>(top_st.st_ino), path});
      try {
        fresh =
            qcow2::open_backing_image(backing_path, backing_format, CacheMode::kWriteback, chain);
      } catch (const Error& e) {
        fail("Could not open new backing file '{}': {}", backing, e.what());
      }
    }
    Progress bar(io.out, progress, top->size());
    copy_differences(*top, fresh.get(), bar);
  }
  try {
    top->set_backing_file(backing, backing_format);
  } catch (const Error& e) {
    fail("Could not change the backing file to '{}': {}", backing, e.what());
  }
  return 0;
}

}  // namespace tandem::img
