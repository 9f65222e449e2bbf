// The qcow2 format as a BlockDriver (the image work itself is Qcow2Image).
//
// Two paths. Metadata lookups and updates run synchronously, inside the call that issues the
// request (on the caller's thread, the I/O thread for virtio-blk), under one mutex, with
// pread/pwrite on the image file: this keeps the metadata simple and its on-disk ordering easy
// to prove (see qcow2_image.h). But a read or write whose clusters all hold plain data already
// (Qcow2Image::map_plain: allocated, not compressed, not zero, no backing file or COW involved;
// for writes owned by the active image alone) only needs its mapping under the mutex: its data
// transfer then goes through an AsyncIo engine (io_uring, or the thread pool with aio=threads),
// as the raw driver's do, so that many such requests keep the host busy at once (cache=none
// would otherwise reach the disk one request at a time). Everything else (allocation, COW,
// compressed, zero, unallocated or backing-file clusters, unaligned O_DIRECT requests, discard,
// write-zeroes, flush) stays on the synchronous path. Completions always reach the caller on the
// EventLoop, never inside the call, as the BlockDriver contract requires.
//
// Why the asynchronous transfers are safe next to the synchronous path (the argument in full is
// at "Ordering" in qcow2_driver.cc): nothing but a read runs synchronously while a transfer is
// in flight. Every other synchronous request (any write the asynchronous path does not take, so
// every allocation and COW; discard, write-zeroes, flush) first DRAINS: it waits until no
// transfer runs, and every request issued after it waits behind it (FIFO), so none starts
// meanwhile. So no cluster is freed, reused or remapped, and no metadata is written, while a
// transfer whose mapping was resolved before could still land there. A flush runs once every
// transfer issued before it has completed, and makes the completed writes durable together with
// the metadata (Qcow2Image::flush's barriers).
//
// cancel_all() starts a new epoch in the engine (transfers of older requests are cancelled or
// waited for) and waits for the synchronous request running now (if any) to leave the mutex;
// requests held back behind a draining one complete with -ECANCELED when their turn comes.
// Destroying the driver waits for running transfers and writes the metadata back; callbacks
// that have not run by then are dropped.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "block/async_io.h"
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
    AioMode aio = AioMode::kIoUring;  // the engine for the asynchronous data path
    unsigned ring_entries = 128;      // io_uring submission slots
  };

  // Opens and locks the image and its backing chain. Throws Error (one line, naming the file).
  static std::unique_ptr<Qcow2Driver> open(const std::string& path, const Options& options,
                                           EventLoop& loop);
  Qcow2Driver(std::unique_ptr<qcow2::Qcow2Image> image, const Options& options, EventLoop& loop);
  // Waits for running transfers, writes the metadata back. Destroy on the loop's thread or after
  // the loop has stopped (as the AsyncIo engine requires).
  ~Qcow2Driver() override;

  // Only while no request is in flight (nothing else may touch the image meanwhile).
  qcow2::Qcow2Image& image() { return *image_; }
  CacheMode cache_mode() const { return cache_; }
  // The engine of the asynchronous path: "io_uring" or "threads".
  const char* aio_name() const { return io_->name(); }
  // Tests and benchmarks: requests that took the asynchronous path so far, and the most of them
  // running at once.
  uint64_t async_requests() const { return async_requests_.load(); }
  size_t max_async_running() const { return max_async_running_.load(); }

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
  void plug() override { io_->plug(); }
  void unplug() override { io_->unplug(); }

 private:
  enum class Kind { kRead, kWrite, kFlush, kDiscard, kWriteZeroes };
  struct Request {
    Kind kind = Kind::kRead;
    uint64_t offset = 0;
    uint64_t length = 0;     // discard, write-zeroes
    std::vector<iovec> iov;  // read, write
    bool may_unmap = false;
    uint64_t epoch = 0;  // the engine's, when the request was issued
    BlockCallback done;
  };
  struct AsyncRequest;
  struct Transfer;

  // Shared with the posted completions, which may outlive the driver.
  struct State {
    std::atomic<size_t> in_flight{0};
    std::atomic<bool> alive{true};
  };

  void issue(Request req);
  void issue_rw(Kind kind, uint64_t offset, std::span<const iovec> iov, BlockCallback done);
  // mutex_ held: starts req (or refuses it, cancelled) unless it must wait for the transfers
  // running now to end (false). See "Ordering" in qcow2_driver.cc.
  bool try_start_locked(Request& req);
  // mutex_ held: starts the held-back requests in order until one must wait again.
  void run_waiting_locked();
  // mutex_ held: starts req on the asynchronous path if it qualifies; false if it does not.
  bool start_async_locked(Request& req);
  // mutex_ held: the synchronous path; an exception (out of memory) becomes -ENOMEM/-EIO.
  int run_sync_locked(const Request& req);
  void complete(BlockCallback done, int result);

  void transfer_step(const std::shared_ptr<Transfer>& t);
  void transfer_done(const std::shared_ptr<Transfer>& t, int64_t result);
  void transfer_end(const std::shared_ptr<Transfer>& t, int result);

  std::unique_ptr<qcow2::Qcow2Image> image_;
  CacheMode cache_;
  EventLoop& loop_;
  std::shared_ptr<State> state_ = std::make_shared<State>();

  // Guards image_ and everything below (not io_, which has its own lock; order: mutex_ first).
  std::mutex mutex_;
  size_t async_running_ = 0;     // requests on the asynchronous path whose transfers run
  std::deque<Request> waiting_;  // held back behind a draining request, in issue order
  bool data_written_ = false;    // an asynchronous write completed since the last flush
  std::vector<qcow2::Qcow2Image::PlainExtent> extents_;  // scratch for map_plain

  std::atomic<uint64_t> async_requests_{0};
  std::atomic<size_t> max_async_running_{0};

  // Declared last: destroyed first, so that no transfer runs or completes after the members.
  std::unique_ptr<AsyncIo> io_;
};

}  // namespace tandem
