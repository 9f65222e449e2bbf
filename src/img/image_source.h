// An image opened read-only for `tandem img`: raw or qcow2 (probed as QEMU does when no format
// is given), with its backing chain, read as the guest sees it, and the block status of a range
// through the chain as QEMU reports it (qemu-img map's depth/present/zero/data/offset).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/unique_fd.h"
#include "block/qcow2/sync_image.h"

namespace tandem::qcow2 {
class Qcow2Image;
}

namespace tandem::img {

struct BlockStatus {
  uint64_t length = 0;
  int depth = 0;              // how many backing images down the answer came from
  bool present = false;       // allocated in some image of the chain (QEMU's "present")
  bool zero = false;          // reads as zeroes
  bool data = false;          // holds data
  bool offset_valid = false;  // `offset` is where the data are in `file`
  uint64_t offset = 0;
  std::string file;
};

class SourceImage {
 public:
  // `format`: "raw", "qcow2" or "" to probe. Throws Error naming the file and the problem.
  static std::unique_ptr<SourceImage> open(const std::string& path, const std::string& format);
  ~SourceImage();

  const std::string& path() const { return path_; }
  const std::string& format() const { return format_; }
  uint64_t size() const { return top_->size(); }
  qcow2::Qcow2Image* qcow2() const { return qcow2_; }
  // The files of the image and its backing chain, top first.
  std::vector<std::string> chain_files() const;

  // Reads [offset, offset+len) (inside the image). Throws Error naming the image.
  void read(uint64_t offset, void* buf, size_t len);
  // The status of the longest run from `offset` (at most `max_length` bytes) that is the same
  // throughout. Throws Error for a corrupt image.
  BlockStatus block_status(uint64_t offset, uint64_t max_length);

 private:
  struct Layer {
    qcow2::SyncImage* image;
    qcow2::Qcow2Image* qcow2;  // null: raw
    UniqueFd seek_fd;          // raw: for SEEK_DATA/SEEK_HOLE
    // raw: the last run SEEK_DATA/SEEK_HOLE found (the file does not change while it is open
    // read-only and locked), so that sequential queries cost no system call.
    uint64_t known_start = 0, known_end = 0;
    bool known_data = false;
  };
  SourceImage() = default;
  BlockStatus layer_status(Layer& layer, uint64_t offset, uint64_t max_length);

  std::string path_;
  std::string format_;
  std::unique_ptr<qcow2::SyncImage> top_;
  qcow2::Qcow2Image* qcow2_ = nullptr;
  std::vector<Layer> layers_;  // top first
};

// The format named by -f, or the probed one; throws Error for formats Tandem cannot open.
std::string resolve_format(const std::string& path, const std::string& format);

}  // namespace tandem::img
