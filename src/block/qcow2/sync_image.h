// A disk image read synchronously on the calling thread: the images below a qcow2 image in its
// backing chain (raw files or qcow2 images, opened read-only).
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "block/qcow2/image_file.h"

namespace tandem::qcow2 {

class SyncImage {
 public:
  virtual ~SyncImage() = default;
  virtual const std::string& path() const = 0;
  virtual const char* format() const = 0;
  // Guest-visible size in bytes.
  virtual uint64_t size() const = 0;
  // Reads sum(iov lengths) bytes at `offset`; the range must lie inside [0, size()).
  // Returns 0 or -errno.
  virtual int read(uint64_t offset, std::span<const iovec> iov) = 0;
};

// A raw image: guest byte n is file byte n.
class RawImage final : public SyncImage {
 public:
  explicit RawImage(ImageFile file) : file_(std::move(file)), size_(file_.size()) {}
  const std::string& path() const override { return file_.path(); }
  const char* format() const override { return "raw"; }
  uint64_t size() const override { return size_; }
  int read(uint64_t offset, std::span<const iovec> iov) override { return file_.read(offset, iov); }

 private:
  ImageFile file_;
  uint64_t size_;
};

}  // namespace tandem::qcow2
