// Synchronous, whole-length I/O on an open image file, for the qcow2 driver and for the images
// of a backing chain. Reads past the end of the file read zeroes; with O_DIRECT, requests whose
// offset, length or buffers break the host's alignment go through an aligned bounce buffer (a
// partial block is read, patched and written back: callers serialize writes). Results are 0 or
// -errno, as the block layer reports them to guests.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <span>
#include <string>

#include "block/raw_file.h"

namespace tandem::qcow2 {

// Test hook: sees every write, hole and fdatasync on a file, in the order they are issued (to
// replay them as a crash would have left them).
class WriteObserver {
 public:
  virtual ~WriteObserver() = default;
  virtual void on_write(uint64_t offset, std::span<const iovec> iov) = 0;
  virtual void on_punch_hole(uint64_t offset, uint64_t length) = 0;
  virtual void on_sync() = 0;
};

class ImageFile {
 public:
  ImageFile(std::string path, RawFile file, bool direct)
      : path_(std::move(path)), file_(std::move(file)), direct_(direct) {}

  const std::string& path() const { return path_; }
  int fd() const { return file_.fd.get(); }
  // The file's size: at open, then grown by our writes.
  uint64_t size() const { return size_; }
  uint32_t offset_align() const { return file_.offset_align; }
  // Whether (offset, iov) reaches the file as it is: always without O_DIRECT; with it, when the
  // offset, every buffer's length and address are aligned (otherwise read/write bounce).
  bool aligned(uint64_t offset, std::span<const iovec> iov) const;
  // Whether a test's WriteObserver watches the writes (they must then all go through here).
  bool observed() const { return observer_ != nullptr; }

  int read(uint64_t offset, std::span<const iovec> iov);
  int read(uint64_t offset, void* buf, size_t len);
  int write(uint64_t offset, std::span<const iovec> iov);
  int write(uint64_t offset, const void* buf, size_t len);
  int sync();
  // Deallocates [offset, offset+len) if the file system can (the range reads as zeroes after).
  void punch_hole(uint64_t offset, uint64_t len);
  void set_observer(WriteObserver* observer) { observer_ = observer; }

 private:
  int read_direct(uint64_t offset, std::span<const iovec> iov, uint64_t len);
  int read_bounced(uint64_t offset, std::span<const iovec> iov, uint64_t len);
  int write_direct(uint64_t offset, std::span<const iovec> iov, uint64_t len);
  int write_bounced(uint64_t offset, std::span<const iovec> iov, uint64_t len);

  std::string path_;
  RawFile file_;
  bool direct_;
  uint64_t size_ = file_.size;
  WriteObserver* observer_ = nullptr;
};

}  // namespace tandem::qcow2
