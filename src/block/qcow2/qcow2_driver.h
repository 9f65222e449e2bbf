// The qcow2 format as a BlockDriver (the image work itself is Qcow2Image).
//
// Design: every request runs synchronously, to the end, inside the call that issues it (on the
// caller's thread, the I/O thread for virtio-blk), under one mutex: metadata lookups and updates
// and the data transfer alike, with pread/pwrite on the image file. Only the completion is
// asynchronous: the callback is posted to the EventLoop, so it never runs inside the call, as the
// BlockDriver contract requires. This keeps the metadata simple and its on-disk ordering easy to
// prove (see qcow2_image.h); the price is that requests do not overlap each other's host I/O.
//
// cancel_all() therefore only waits for the request running now (if any) to leave the mutex:
// afterwards no request touches buffers or the image; callbacks already posted still run with
// their results. Destroying the driver writes the metadata back; posted callbacks that have not
// run by then are dropped.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "block/block_driver.h"
#include "block/block_options.h"
#include "block/qcow2/qcow2_image.h"

namespace tandem {

class EventLoop;

class Qcow2Driver final : public BlockDriver {
 public:
  struct Options {
    bool read_only = false;
    CacheMode cache = CacheMode::kWriteback;
  };

  // Opens and locks the image and its backing chain. Throws Error (one line, naming the file).
  static std::unique_ptr<Qcow2Driver> open(const std::string& path, const Options& options,
                                           EventLoop& loop);
  Qcow2Driver(std::unique_ptr<qcow2::Qcow2Image> image, const Options& options, EventLoop& loop);
  ~Qcow2Driver() override;

  qcow2::Qcow2Image& image() { return *image_; }
  CacheMode cache_mode() const { return cache_; }

  // BlockDriver
  const std::string& filename() const override { return image_->path(); }
  uint64_t size() const override { return image_->size(); }
  bool read_only() const override { return image_->read_only(); }
  bool write_cache() const override { return !uses_o_dsync(cache_); }
  uint32_t request_alignment() const override { return image_->request_alignment(); }
  void read(uint64_t offset, std::span<const iovec> iov, BlockCallback done) override;
  void write(uint64_t offset, std::span<const iovec> iov, BlockCallback done) override;
  void flush(BlockCallback done) override;
  void discard(uint64_t offset, uint64_t length, BlockCallback done) override;
  void write_zeroes(uint64_t offset, uint64_t length, bool may_unmap, BlockCallback done) override;
  void cancel_all() override;
  size_t in_flight() const override { return state_->in_flight.load(); }

 private:
  // Shared with the posted completions, which may outlive the driver.
  struct State {
    std::atomic<size_t> in_flight{0};
    std::atomic<bool> alive{true};
  };

  // Runs one request's work under the mutex; an exception (out of memory) becomes -ENOMEM/-EIO.
  int locked(const std::function<int()>& work);
  void complete(BlockCallback done, int result);

  std::unique_ptr<qcow2::Qcow2Image> image_;
  CacheMode cache_;
  EventLoop& loop_;
  std::mutex mutex_;  // one request at a time in image_
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace tandem
