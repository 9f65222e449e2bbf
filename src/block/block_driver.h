// The block layer's view of a disk image: what a storage device model (virtio-blk today) asks of
// an image format (raw today, qcow2 next), independent of how the bytes reach the host.
//
// Every request is asynchronous. Its callback runs exactly once, later, on the EventLoop the
// driver was opened with (the I/O thread's), never inside the call that issued the request, with
// 0 on success or a negative errno. Requests may be issued from any thread.
//
// Buffers (iovecs) belong to the caller and must stay valid until the callback has run or
// cancel_all() has returned; data moves straight between them and the host (no copy unless the
// host needs aligned buffers, see request_alignment()).
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>

namespace tandem {

using BlockCallback = std::function<void(int result)>;  // 0 or -errno, on the loop thread

class BlockDriver {
 public:
  virtual ~BlockDriver() = default;

  // The image as the user named it (for messages).
  virtual const std::string& filename() const = 0;
  // Guest-visible size in bytes; fixed while the driver is open.
  virtual uint64_t size() const = 0;
  // Opened read-only: writes, discards and write-zeroes fail with -EROFS.
  virtual bool read_only() const = 0;
  // True if a completed write may still sit in a volatile cache until flush() (cache=writeback,
  // none, unsafe); false if every write is durable when it completes (writethrough, directsync).
  virtual bool write_cache() const = 0;
  // Offset and length granularity that reaches the host without a bounce buffer: 1 for buffered
  // I/O, the O_DIRECT alignment for cache=none. Any request works; aligned ones are cheaper.
  virtual uint32_t request_alignment() const = 0;

  // Reads/writes sum(iov lengths) bytes at byte `offset`. A request that does not lie wholly
  // inside [0, size()) fails with -EINVAL without reaching the host.
  virtual void read(uint64_t offset, std::span<const iovec> iov, BlockCallback done) = 0;
  virtual void write(uint64_t offset, std::span<const iovec> iov, BlockCallback done) = 0;
  // Completes once every write that completed before the call is durable (fdatasync returned);
  // at once with cache=unsafe.
  virtual void flush(BlockCallback done) = 0;
  // Tells the host that [offset, offset+length) is no longer needed (a hint: success when the
  // host cannot deallocate). The range reads back as zeroes or as its old contents.
  virtual void discard(uint64_t offset, uint64_t length, BlockCallback done) = 0;
  // Makes [offset, offset+length) read back as zeroes, deallocating it if `may_unmap`.
  virtual void write_zeroes(uint64_t offset, uint64_t length, bool may_unmap,
                            BlockCallback done) = 0;

  // Abandons every request issued so far (device reset): returns once none of them touches its
  // buffers or the image any more and none will be continued. Their callbacks still run later on
  // the loop, with their result or -ECANCELED. Does not need the loop thread; may be called from
  // any thread, including with a lock held that the loop thread's callbacks take.
  virtual void cancel_all() = 0;
  // Requests whose callback has not run yet.
  virtual size_t in_flight() const = 0;

  // Batching: requests issued between plug() and unplug() may wait for unplug() to reach the host
  // together (one system call for a batch). Pairs nest. A hint: drivers may ignore it.
  virtual void plug() {}
  virtual void unplug() {}
};

}  // namespace tandem
