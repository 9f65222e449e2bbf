// tandem img commit [-q] [-f fmt] [-b base] [-d] [-p] filename
//
// As qemu-img: what the image and the layers between it and the base (its backing file unless
// -b names one further down) hold is written into the base, which grows to the image's size if
// it is smaller; then the image is emptied so that the base shows through (not with -d, nor with
// -b, after which the layers in between no longer make sense).
//
// Each layer is opened on its own (not through its backing chain, so that the base may be opened
// read-write) and only its allocated clusters are read; the layers are copied from the one just
// above the base upwards, so that higher layers win.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "base/error.h"
#include "block/qcow2/qcow2_image.h"
#include "block/raw_file.h"
#include "img/backing_chain.h"
#include "img/image_source.h"
#include "img/img.h"
#include "img/options.h"
#include "img/progress.h"

namespace tandem::img {

namespace {

enum { kFormat, kBase, kDrop, kProgress, kQuiet, kHelp };
constexpr OptionSpec kSpec[] = {
    {'f', nullptr, true, kFormat},    {'b', nullptr, true, kBase},   {'d', nullptr, false, kDrop},
    {'p', nullptr, false, kProgress}, {'q', nullptr, false, kQuiet}, {'h', "help", false, kHelp},
};

constexpr const char* kHelpText =
    "usage: tandem img commit [-q] [-f fmt] [-b base] [-d] [-p] filename\n"
    "Writes what a qcow2 image holds into its backing file (or into -b base, further down its\n"
    "backing chain) and empties the image (not with -d or -b).\n";

constexpr uint64_t kChunk = 4 << 20;

// The image written into: raw or qcow2 (opened read-write with its own backing chain).
class Base {
 public:
  explicit Base(const ChainLayer& layer) : path_(layer.path) {
    if (layer.format == "qcow2") {
      qcow2::Qcow2Image::Options options;
      qcow2_ = qcow2::Qcow2Image::open(layer.path, options);
    } else {
      raw_ = open_raw_file(layer.path, false, CacheMode::kWriteback);
    }
  }

  uint64_t size() const { return qcow2_ ? qcow2_->size() : raw_.size; }

  void grow_to(uint64_t size) {
    if (qcow2_) {
      qcow2_->resize((size + 511) & ~uint64_t{511});
    } else if (::ftruncate(raw_.fd.get(), static_cast<off_t>(size)) < 0) {
      fail_errno("could not resize '{}'", path_);
    } else {
      raw_.size = size;
    }
  }

  void write(uint64_t offset, const uint8_t* data, size_t len) {
    if (qcow2_) {
      iovec v{const_cast<uint8_t*>(data), len};
      check(qcow2_->write(offset, {&v, 1}));
      return;
    }
    while (len > 0) {
      ssize_t n = ::pwrite(raw_.fd.get(), data, len, static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) check(-errno);
      data += n;
      len -= static_cast<size_t>(n);
      offset += static_cast<uint64_t>(n);
    }
  }

  void write_zeroes(uint64_t offset, uint64_t len) {
    if (qcow2_) {
      check(qcow2_->write_zeroes(offset, len, false));
      return;
    }
    if (::fallocate(raw_.fd.get(), FALLOC_FL_ZERO_RANGE, static_cast<off_t>(offset),
                    static_cast<off_t>(len)) == 0) {
      return;
    }
    std::vector<uint8_t> zeroes(std::min(len, kChunk));
    while (len > 0) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(len, zeroes.size()));
      write(offset, zeroes.data(), n);
      offset += n;
      len -= n;
    }
  }

  void flush() {
    if (qcow2_) {
      check(qcow2_->flush());
    } else if (::fdatasync(raw_.fd.get()) < 0) {
      check(-errno);
    }
  }

 private:
  void check(int r) {
    if (r < 0) fail("Error while committing: could not write to '{}': {}", path_, strerror(-r));
  }

  std::string path_;
  std::unique_ptr<qcow2::Qcow2Image> qcow2_;
  RawFile raw_;
};

// Copies what `layer` holds in [0, end) into `base`.
void copy_layer(qcow2::Qcow2Image& layer, uint64_t end, Base& base, Progress& progress) {
  std::vector<uint8_t> buf;
  for (uint64_t offset = 0; offset < end;) {
    qcow2::Qcow2Image::Extent e;
    if (int r = layer.block_status(offset, end - offset, e); r < 0) {
      fail("Error while committing: could not read '{}': {}", layer.path(), strerror(-r));
    }
    switch (e.kind) {
      case qcow2::Qcow2Image::Extent::kUnallocated:
        break;
      case qcow2::Qcow2Image::Extent::kZero:
        base.write_zeroes(offset, e.length);
        break;
      case qcow2::Qcow2Image::Extent::kData:
      case qcow2::Qcow2Image::Extent::kCompressed:
        for (uint64_t done = 0; done < e.length;) {
          size_t n = static_cast<size_t>(std::min(kChunk, e.length - done));
          buf.resize(n);
          iovec v{buf.data(), n};
          if (int r = layer.read(offset + done, {&v, 1}); r < 0) {
            fail("Error while committing: could not read '{}': {}", layer.path(), strerror(-r));
          }
          base.write(offset + done, buf.data(), n);
          done += n;
        }
        break;
    }
    offset += e.length;
    progress.advance(e.length);
  }
}

}  // namespace

int commit_command(const Args& args, const Io& io) {
  ParsedArgs parsed = parse_args("commit", args, kSpec);
  std::string format, base_name;
  bool have_base = false, drop = false, progress = false, quiet = false;
  for (const auto& [id, value] : parsed.options) {
    switch (id) {
      case kFormat:
        format = value;
        break;
      case kBase:
        base_name = value;
        have_base = true;
        break;
      case kDrop:
        drop = true;
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
  if (parsed.positional.size() != 1) fail("commit: Expecting one image file name");
  if (quiet) progress = false;
  const std::string& path = parsed.positional[0];

  std::vector<ChainLayer> chain = backing_chain(path, format);
  if (chain.size() < 2) fail("Image does not have a backing file");
  size_t base_index = 1;
  if (have_base) {
    struct stat st;
    base_index = 0;
    if (::stat(base_name.c_str(), &st) == 0) {
      for (size_t i = 1; i < chain.size(); ++i) {
        if (chain[i].dev == st.st_dev && chain[i].ino == st.st_ino) base_index = i;
      }
    }
    if (base_index == 0) {
      fail("Did not find '{}' in the backing chain of '{}'", base_name, path);
    }
    drop = true;  // -b implies -d: the layers in between are stale afterwards
  }

  // The layers above the base, top first; the top read-write when it is to be emptied.
  std::vector<std::unique_ptr<qcow2::Qcow2Image>> layers;
  for (size_t i = 0; i < base_index; ++i) {
    qcow2::Qcow2Image::Options options;
    options.read_only = i > 0 || drop;
    options.open_backing = false;
    layers.push_back(qcow2::Qcow2Image::open(chain[i].path, options));
  }
  Base base(chain[base_index]);

  uint64_t size = layers[0]->size();
  if (base.size() < size) base.grow_to(size);
  {
    Progress bar(io.out, progress, size * base_index);
    for (size_t i = base_index; i-- > 0;) {
      uint64_t end = std::min(size, layers[i]->size());
      copy_layer(*layers[i], end, base, bar);
      bar.advance(size - end);
    }
    base.flush();
  }
  if (!drop) layers[0]->make_empty();
  if (!quiet) fmt::print(io.out, "Image committed.\n");
  return 0;
}

}  // namespace tandem::img
