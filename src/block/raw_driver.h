// The raw format: guest sector n is byte n*512 of the image file (or block device), nothing
// in between. Requests go to the host through an AsyncIo engine (io_uring or threads).
//
// Short transfers are resumed where they stopped; a read that meets the end of the file (the
// file shrank behind our back) reads zeroes beyond it. With O_DIRECT (cache=none/directsync),
// requests whose offset, length or buffers break the host's alignment go through an aligned
// bounce buffer, in chunks of kBounceChunk; a write that covers only part of an aligned block
// reads the block, patches it and writes it back, alone among writes, so that neighbouring
// writes into the same block cannot undo each other.
// One corner is left: with O_DIRECT, a write into the last partial block of an image whose size
// is not a multiple of the alignment writes the whole block, so the file grows to the next
// multiple (size() does not change; the guest never sees the extra bytes).
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "block/async_io.h"
#include "block/block_driver.h"
#include "block/block_options.h"
#include "block/in_flight_counter.h"
#include "block/raw_file.h"

namespace tandem {

class EventLoop;

class RawDriver final : public BlockDriver {
 public:
  static constexpr uint64_t kBounceChunk = 256 * 1024;

  struct Options {
    bool read_only = false;
    CacheMode cache = CacheMode::kWriteback;
    AioMode aio = AioMode::kIoUring;
    unsigned ring_entries = 128;  // io_uring submission slots
  };

  // Opens and locks the image. Throws Error (one line, naming the file) on failure.
  static std::unique_ptr<RawDriver> open(const std::string& path, const Options& options,
                                         EventLoop& loop);
  RawDriver(std::string path, RawFile file, const Options& options, std::unique_ptr<AsyncIo> io);
  // Waits for running host operations; callbacks not run yet are dropped. Destroy on the loop's
  // thread or after the loop has stopped.
  ~RawDriver() override;

  // The engine actually in use: "io_uring" or "threads" (io_uring may have fallen back).
  const char* aio_name() const { return io_->name(); }
  AsyncIo::Stats aio_stats() const { return io_->stats(); }
  // Transfer objects made so far: bounded by the requests in flight at once (pooled).
  size_t transfers_made() {
    std::lock_guard lock(transfer_mutex_);
    return transfers_.size();
  }
  CacheMode cache_mode() const { return cache_; }

  // BlockDriver
  const std::string& filename() const override { return path_; }
  uint64_t size() const override { return file_.size; }
  bool read_only() const override { return read_only_; }
  bool write_cache() const override;
  uint32_t request_alignment() const override { return file_.offset_align; }
  void read(uint64_t offset, std::span<const iovec> iov, BlockCallback done) override;
  void write(uint64_t offset, std::span<const iovec> iov, BlockCallback done) override;
  void flush(BlockCallback done) override;
  void discard(uint64_t offset, uint64_t length, BlockCallback done) override;
  void write_zeroes(uint64_t offset, uint64_t length, bool may_unmap, BlockCallback done) override;
  void cancel_all() override { io_->cancel_all(); }
  size_t in_flight() const override { return in_flight_.count(); }
  void plug() override { io_->plug(); }
  void unplug() override { io_->unplug(); }

 private:
  enum class Kind { kRead, kWrite, kFlush, kDiscard, kWriteZeroes };
  struct Request;
  struct Transfer;
  using Then = std::function<void(int result)>;

  std::shared_ptr<Request> start(Kind kind, uint64_t offset, uint64_t length,
                                 std::span<const iovec> iov, BlockCallback done);
  bool in_range(uint64_t offset, uint64_t length) const;
  void finish(const std::shared_ptr<Request>& req, int result);
  void finish_later(const std::shared_ptr<Request>& req, int result);

  // Reads or writes req's buffers at req's offset: directly, or through the bounce buffer.
  void read_write(const std::shared_ptr<Request>& req, Then then);
  bool needs_bounce(const Request& req) const;
  bool needs_bounce(uint64_t offset, uint64_t length, std::span<const iovec> iov) const;
  void bounce_chunk(const std::shared_ptr<Request>& req, Then then);
  void bounce_write_fill(const std::shared_ptr<Request>& req, uint64_t c0, uint64_t c1, Then then);
  // Moves bytes between buffers and the file until done or failed, resuming short transfers;
  // then runs `then`. Transfers come from a pool (no allocation per request).
  void transfer(IoOp::Kind kind, uint64_t offset, std::span<const iovec> iov, uint64_t total,
                uint64_t epoch, Then then);
  // The common case, a read or write the host takes as it is (no bounce buffer, no ordering):
  // one transfer that ends the request itself, with no Request object.
  void direct_transfer(IoOp::Kind kind, uint64_t offset, std::span<const iovec> iov, uint64_t total,
                       BlockCallback done);
  // `total`: the bytes `iov` holds.
  Transfer* new_transfer(IoOp::Kind kind, uint64_t offset, std::span<const iovec> iov,
                         uint64_t total, uint64_t epoch);
  void transfer_step(Transfer* t);
  void transfer_done(Transfer* t, int64_t result);
  void transfer_end(Transfer* t, int result);

  void fallocate(const std::shared_ptr<Request>& req, int mode, Then then);
  void write_zeroes_by_writing(const std::shared_ptr<Request>& req, uint64_t pos, Then then);
  const uint8_t* zero_buffer();

  // Ordering of modifying requests under O_DIRECT (see the header comment).
  void begin_modify(const std::shared_ptr<Request>& req, std::function<void()> go);
  void end_modify(const Request& req);

  std::string path_;
  RawFile file_;
  CacheMode cache_;
  bool read_only_;
  bool direct_;
  InFlightCounter in_flight_;
  std::atomic<bool> zero_range_works_{true};

  std::mutex order_mutex_;
  unsigned modifying_ = 0;
  bool exclusive_running_ = false;
  std::deque<std::pair<std::shared_ptr<Request>, std::function<void()>>> waiting_;

  std::once_flag zero_once_;
  std::unique_ptr<uint8_t, void (*)(void*)> zeroes_{nullptr, nullptr};

  // Every Transfer ever made (bounded by the requests in flight at once), and the idle ones:
  // those of other threads under transfer_mutex_, the loop thread's own without a lock (see
  // new_transfer).
  std::mutex transfer_mutex_;
  std::vector<std::unique_ptr<Transfer>> transfers_;
  std::vector<Transfer*> free_transfers_;
  std::vector<Transfer*> local_free_transfers_;  // loop thread only

  std::unique_ptr<AsyncIo> io_;  // destroyed first (see the destructor)
};

}  // namespace tandem
