#include "img/image_source.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/error.h"
#include "block/qcow2/format_probe.h"
#include "block/qcow2/qcow2_image.h"
#include "block/raw_file.h"
#include "img/log_capture.h"

namespace tandem::img {

namespace {

// What a failed request on an image means, with the driver's explanation when it logged one.
std::string describe(int r, bool qcow2) {
  if (r == -EIO && qcow2) {
    std::string why = last_log_message();
    return why.empty() ? "the image is corrupt" : why;
  }
  return std::strerror(-r);
}

}  // namespace

std::string resolve_format(const std::string& path, const std::string& format) {
  if (format.empty()) {
    std::string probed = probe_image_format(path);
    if (probed != "raw" && probed != "qcow2") {
      fail("'{}' is a {} image; Tandem opens raw and qcow2 images only", path, probed);
    }
    return probed;
  }
  if (format == "raw" || format == "qcow2") return format;
  static const char* const kOther[] = {"qcow", "vmdk",      "vdi",   "vhdx",  "vpc", "qed",
                                       "luks", "parallels", "bochs", "cloop", "dmg", "vvfat"};
  for (const char* other : kOther) {
    if (format == other) fail("format '{}' is not supported by Tandem (raw or qcow2)", format);
  }
  fail("Unknown file format '{}'", format);
}

SourceImage::~SourceImage() = default;

std::unique_ptr<SourceImage> SourceImage::open(const std::string& path, const std::string& format) {
  std::unique_ptr<SourceImage> s(new SourceImage);
  s->path_ = path;
  s->format_ = resolve_format(path, format);
  if (s->format_ == "raw") {
    RawFile file = open_raw_file(path, true, CacheMode::kWriteback);
    s->top_ = std::make_unique<qcow2::RawImage>(qcow2::ImageFile(path, std::move(file), false));
  } else {
    qcow2::Qcow2Image::Options options;
    options.read_only = true;
    auto image = qcow2::Qcow2Image::open(path, options);
    s->qcow2_ = image.get();
    s->top_ = std::move(image);
  }
  for (qcow2::SyncImage* layer = s->top_.get(); layer;) {
    auto* q = dynamic_cast<qcow2::Qcow2Image*>(layer);
    UniqueFd fd;
    if (!q) {
      fd = UniqueFd(::open(layer->path().c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd) fail_errno("could not open '{}'", layer->path());
    }
    s->layers_.push_back({layer, q, std::move(fd)});
    layer = q ? q->backing() : nullptr;
  }
  return s;
}

std::vector<std::string> SourceImage::chain_files() const {
  std::vector<std::string> out;
  for (const Layer& l : layers_) out.push_back(l.image->path());
  return out;
}

void SourceImage::read(uint64_t offset, void* buf, size_t len) {
  iovec v{buf, len};
  if (int r = top_->read(offset, {&v, 1}); r < 0) {
    fail("could not read '{}' at offset {}: {}", path_, offset, describe(r, qcow2_ != nullptr));
  }
}

BlockStatus SourceImage::layer_status(Layer& layer, uint64_t offset, uint64_t max_length) {
  BlockStatus st;
  const std::string& path = layer.image->path();
  if (layer.qcow2) {
    qcow2::Qcow2Image::Extent e;
    if (int r = layer.qcow2->block_status(offset, max_length, e); r < 0) {
      fail("could not get the block status of '{}' at offset {}: {}", path, offset,
           describe(r, true));
    }
    st.length = e.length;
    using Extent = qcow2::Qcow2Image::Extent;
    st.data = e.kind == Extent::kData || e.kind == Extent::kCompressed;
    st.zero = e.kind == Extent::kZero;
    st.offset_valid = e.host_offset != 0;
    st.offset = e.host_offset;
    if (st.offset_valid) st.file = path;
    st.present = st.data || st.zero;
    return st;
  }
  // Raw: holes of the file read as zeroes; both kinds are allocated, at the guest's offset.
  uint64_t size = layer.image->size();
  uint64_t end = offset + std::min(max_length, size - offset);
  auto answer = [&](bool is_data, uint64_t length) {
    st.length = length;
    st.data = is_data;
    st.zero = !is_data;
    st.present = true;
    st.offset_valid = true;
    st.offset = offset;
    st.file = path;
    return st;
  };
  if (offset >= layer.known_start && offset < layer.known_end) {
    return answer(layer.known_data, std::min(layer.known_end, end) - offset);
  }
  off_t data = ::lseek(layer.seek_fd.get(), static_cast<off_t>(offset), SEEK_DATA);
  bool is_data;
  uint64_t next;
  if (data < 0 && errno == ENXIO) {  // a hole up to the end of the file
    is_data = false;
    next = size;
  } else if (data < 0) {  // no SEEK_DATA here: all of it is data
    is_data = true;
    next = size;
  } else if (static_cast<uint64_t>(data) > offset) {
    is_data = false;
    next = static_cast<uint64_t>(data);
  } else {
    is_data = true;
    off_t hole = ::lseek(layer.seek_fd.get(), static_cast<off_t>(offset), SEEK_HOLE);
    next = hole < 0 ? size : static_cast<uint64_t>(hole);
  }
  if (next <= offset) next = size;
  layer.known_start = offset;
  layer.known_end = std::min(next, size);
  layer.known_data = is_data;
  return answer(is_data, std::min(next, end) - offset);
}

BlockStatus SourceImage::block_status(uint64_t offset, uint64_t max_length) {
  max_length = std::min(max_length, size() - offset);
  for (size_t depth = 0;; ++depth) {
    BlockStatus st = layer_status(layers_[depth], offset, max_length);
    st.depth = static_cast<int>(depth);
    if (st.data || st.zero) return st;
    // Unallocated here: the image below answers, zeroes without one or past its end.
    max_length = st.length;
    if (depth + 1 >= layers_.size() || offset >= layers_[depth + 1].image->size()) {
      st.zero = true;
      st.file.clear();
      return st;
    }
    max_length = std::min(max_length, layers_[depth + 1].image->size() - offset);
  }
}

}  // namespace tandem::img
