#include "block/raw_driver.h"

#include <fcntl.h>
#include <linux/falloc.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "base/event_loop.h"
#include "block/iov_util.h"

namespace tandem {

namespace {

uint64_t align_down(uint64_t v, uint64_t a) {
  return v / a * a;
}
uint64_t align_up(uint64_t v, uint64_t a) {
  return align_down(v + a - 1, a);
}

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};
using AlignedBuffer = std::unique_ptr<uint8_t, FreeDeleter>;

AlignedBuffer aligned_buffer(size_t size, size_t align) {
  void* p = std::aligned_alloc(align, align_up(size, align));
  if (!p) throw std::bad_alloc();
  return AlignedBuffer(static_cast<uint8_t*>(p));
}

// fallocate results that mean "this file (system) cannot do that", not "it failed".
bool not_supported(int err) {
  return err == -EOPNOTSUPP || err == -ENOSYS || err == -EINVAL || err == -ENODEV;
}

}  // namespace

struct RawDriver::Request {
  Kind kind;
  uint64_t offset;
  uint64_t length;
  std::vector<iovec> iov;  // the caller's buffers
  bool may_unmap = false;
  bool ordered = false;    // counted in modifying_ (O_DIRECT writes, discards, zeroing)
  bool exclusive = false;  // read-modify-write: runs alone among modifying requests
  uint64_t epoch = 0;
  BlockCallback done;
  // Bounce path: the aligned cover [cover_begin, cover_end) of the request, walked in chunks.
  AlignedBuffer bounce;
  uint64_t cover_end = 0;
  uint64_t chunk = 0;  // start of the next chunk
};

struct RawDriver::Transfer : IovTransfer {
  // The system call in flight, handed to the engine as it is (no copy of the buffer list).
  struct Step final : IoRequest {
    RawDriver* driver = nullptr;
    Transfer* transfer = nullptr;
    void complete(int64_t result) override { driver->transfer_done(transfer, result); }
  };

  IoOp::Kind kind = IoOp::Kind::kRead;
  uint64_t epoch = 0;
  Then then;           // runs at the end, or...
  BlockCallback done;  // ...ends a request of its own (direct_transfer)
  bool local = false;  // belongs to the loop thread's pool (fixed at creation)
  Step step;
};

std::unique_ptr<RawDriver> RawDriver::open(const std::string& path, const Options& options,
                                           EventLoop& loop) {
  RawFile file = open_raw_file(path, options.read_only, options.cache);
  auto io = AsyncIo::create(options.aio, loop, options.ring_entries);
  return std::make_unique<RawDriver>(path, std::move(file), options, std::move(io));
}

RawDriver::RawDriver(std::string path, RawFile file, const Options& options,
                     std::unique_ptr<AsyncIo> io)
    : path_(std::move(path)),
      file_(std::move(file)),
      cache_(options.cache),
      read_only_(options.read_only),
      direct_(uses_o_direct(options.cache)),
      io_(std::move(io)) {}

RawDriver::~RawDriver() {
  // First stop the engine: it waits for the host operations that still use our fd and buffers
  // and drops the callbacks that refer to this object.
  io_.reset();
}

bool RawDriver::write_cache() const {
  return !uses_o_dsync(cache_);
}

bool RawDriver::in_range(uint64_t offset, uint64_t length) const {
  return length <= file_.size && offset <= file_.size - length;
}

std::shared_ptr<RawDriver::Request> RawDriver::start(Kind kind, uint64_t offset, uint64_t length,
                                                     std::span<const iovec> iov,
                                                     BlockCallback done) {
  auto req = std::make_shared<Request>();
  req->kind = kind;
  req->offset = offset;
  req->length = length;
  req->iov.assign(iov.begin(), iov.end());
  req->done = std::move(done);
  req->epoch = io_->epoch();
  in_flight_.start(io_->on_loop_thread());
  return req;
}

void RawDriver::finish(const std::shared_ptr<Request>& req, int result) {
  if (req->ordered) end_modify(*req);
  BlockCallback done = std::move(req->done);
  req->bounce.reset();
  done(result);
  in_flight_.finish();
}

void RawDriver::finish_later(const std::shared_ptr<Request>& req, int result) {
  io_->defer([this, req, result] { finish(req, result); });
}

// --- Public requests ----------------------------------------------------------------------------

void RawDriver::read(uint64_t offset, std::span<const iovec> iov, BlockCallback done) {
  auto total = iov_total(iov);
  if (total && *total > 0 && in_range(offset, *total) && !needs_bounce(offset, *total, iov)) {
    return direct_transfer(IoOp::Kind::kRead, offset, iov, *total, std::move(done));
  }
  auto req = start(Kind::kRead, offset, total.value_or(UINT64_MAX), iov, std::move(done));
  if (!total || !in_range(offset, *total)) return finish_later(req, -EINVAL);
  if (req->length == 0) return finish_later(req, 0);
  read_write(req, [this, req](int r) { finish(req, r); });
}

void RawDriver::write(uint64_t offset, std::span<const iovec> iov, BlockCallback done) {
  auto total = iov_total(iov);
  // Without O_DIRECT writes need no ordering among themselves (begin_modify).
  if (!read_only_ && !direct_ && total && *total > 0 && in_range(offset, *total)) {
    return direct_transfer(IoOp::Kind::kWrite, offset, iov, *total, std::move(done));
  }
  auto req = start(Kind::kWrite, offset, total.value_or(UINT64_MAX), iov, std::move(done));
  if (read_only_) return finish_later(req, -EROFS);
  if (!total || !in_range(offset, *total)) return finish_later(req, -EINVAL);
  if (req->length == 0) return finish_later(req, 0);
  begin_modify(req, [this, req] { read_write(req, [this, req](int r) { finish(req, r); }); });
}

void RawDriver::flush(BlockCallback done) {
  auto req = start(Kind::kFlush, 0, 0, {}, std::move(done));
  // Nothing to make durable: cache=unsafe ignores flushes, a read-only image has no writes, and
  // O_DSYNC made every write durable already.
  if (cache_ == CacheMode::kUnsafe || read_only_ || uses_o_dsync(cache_)) {
    return finish_later(req, 0);
  }
  IoOp op;
  op.kind = IoOp::Kind::kFdatasync;
  op.fd = file_.fd.get();
  if (!io_->submit(std::move(op), req->epoch,
                   [this, req](int64_t r) { finish(req, static_cast<int>(r)); })) {
    finish_later(req, -ECANCELED);
  }
}

void RawDriver::discard(uint64_t offset, uint64_t length, BlockCallback done) {
  auto req = start(Kind::kDiscard, offset, length, {}, std::move(done));
  if (read_only_) return finish_later(req, -EROFS);
  if (!in_range(offset, length)) return finish_later(req, -EINVAL);
  if (length == 0) return finish_later(req, 0);
  begin_modify(req, [this, req] {
    fallocate(req, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, [this, req](int r) {
      // Discard is a hint: a file system that cannot punch holes simply keeps the data.
      finish(req, not_supported(r) ? 0 : r);
    });
  });
}

void RawDriver::write_zeroes(uint64_t offset, uint64_t length, bool may_unmap, BlockCallback done) {
  auto req = start(Kind::kWriteZeroes, offset, length, {}, std::move(done));
  req->may_unmap = may_unmap;
  if (read_only_) return finish_later(req, -EROFS);
  if (!in_range(offset, length)) return finish_later(req, -EINVAL);
  if (length == 0) return finish_later(req, 0);
  begin_modify(req, [this, req] {
    auto by_writing = [this, req](int r) {
      if (r == 0) return finish(req, 0);
      if (!not_supported(r)) return finish(req, r);
      zero_range_works_ = false;  // don't ask again
      write_zeroes_by_writing(req, req->offset, [this, req](int r2) { finish(req, r2); });
    };
    auto zero_range = [this, req, by_writing](int r) {
      if (r == 0) return finish(req, 0);
      if (!not_supported(r)) return finish(req, r);
      if (!zero_range_works_) return by_writing(-EOPNOTSUPP);
      fallocate(req, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, by_writing);
    };
    // A punched hole reads as zeroes and frees the space; without may_unmap the blocks must
    // stay allocated, which ZERO_RANGE does.
    if (req->may_unmap) {
      fallocate(req, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, zero_range);
    } else {
      zero_range(-EOPNOTSUPP);
    }
  });
}

// --- Reads and writes ---------------------------------------------------------------------------

bool RawDriver::needs_bounce(uint64_t offset, uint64_t length, std::span<const iovec> iov) const {
  if (!direct_) return false;
  uint64_t a = file_.offset_align;
  if (offset % a || length % a) return true;
  for (const iovec& v : iov) {
    if (reinterpret_cast<uintptr_t>(v.iov_base) % file_.mem_align || v.iov_len % a) return true;
  }
  return false;
}

bool RawDriver::needs_bounce(const Request& req) const {
  return needs_bounce(req.offset, req.length, req.iov);
}

void RawDriver::read_write(const std::shared_ptr<Request>& req, Then then) {
  if (!needs_bounce(*req)) {
    IoOp::Kind kind = req->kind == Kind::kRead ? IoOp::Kind::kRead : IoOp::Kind::kWrite;
    transfer(kind, req->offset, req->iov, req->length, req->epoch, std::move(then));
    return;
  }
  uint64_t a = file_.offset_align;
  req->chunk = align_down(req->offset, a);
  req->cover_end = align_up(req->offset + req->length, a);
  try {
    req->bounce = aligned_buffer(std::min(req->cover_end - req->chunk, kBounceChunk),
                                 std::max<size_t>(file_.mem_align, 64));
  } catch (const std::bad_alloc&) {
    return io_->defer([then] { then(-ENOMEM); });
  }
  bounce_chunk(req, std::move(then));
}

void RawDriver::bounce_chunk(const std::shared_ptr<Request>& req, Then then) {
  uint64_t c0 = req->chunk;
  uint64_t c1 = std::min(req->cover_end, c0 + kBounceChunk);
  uint64_t end = req->offset + req->length;
  iovec bounce{req->bounce.get(), c1 - c0};
  // The part of the chunk the caller's buffers cover, and where it starts in them.
  uint64_t lo = std::max(c0, req->offset), hi = std::min(c1, end);
  auto next = [this, req, c1, then](int r) {
    if (r < 0) return then(r);
    req->chunk = c1;
    if (c1 == req->cover_end) return then(0);
    bounce_chunk(req, then);
  };

  if (req->kind == Kind::kRead) {
    transfer(IoOp::Kind::kRead, c0, {&bounce, 1}, bounce.iov_len, req->epoch,
             [this, req, c0, lo, hi, next](int r) {
               if (r < 0) return next(r);
               // Guest buffers are written only while the request is still wanted.
               bool copied = io_->run_if_current(req->epoch, [&] {
                 copy_to_iov(req->iov, lo - req->offset, req->bounce.get() + (lo - c0), hi - lo);
               });
               next(copied ? 0 : -ECANCELED);
             });
    return;
  }
  if (lo == c0 && hi == c1) return bounce_write_fill(req, c0, c1, next);
  // Partial block(s) at an end: read the chunk first so the bytes around ours survive.
  transfer(IoOp::Kind::kRead, c0, {&bounce, 1}, bounce.iov_len, req->epoch,
           [this, req, c0, c1, next](int r) {
             if (r < 0) return next(r);
             bounce_write_fill(req, c0, c1, next);
           });
}

void RawDriver::bounce_write_fill(const std::shared_ptr<Request>& req, uint64_t c0, uint64_t c1,
                                  Then then) {
  uint64_t lo = std::max(c0, req->offset), hi = std::min(c1, req->offset + req->length);
  copy_from_iov(req->iov, lo - req->offset, req->bounce.get() + (lo - c0), hi - lo);
  iovec bounce{req->bounce.get(), c1 - c0};
  transfer(IoOp::Kind::kWrite, c0, {&bounce, 1}, bounce.iov_len, req->epoch, std::move(then));
}

RawDriver::Transfer* RawDriver::new_transfer(IoOp::Kind kind, uint64_t offset,
                                             std::span<const iovec> iov, uint64_t total,
                                             uint64_t epoch) {
  // The loop thread (a device handling its queue, a step that follows a completion) has a pool
  // of its own and takes no lock; other threads share the locked one. A transfer always goes
  // back to the pool it came from (transfer_end, on the loop thread), so both stay bounded by
  // the transfers their threads have in flight at once.
  Transfer* t = nullptr;
  const bool local = io_->on_loop_thread();
  if (local && !local_free_transfers_.empty()) {
    t = local_free_transfers_.back();
    local_free_transfers_.pop_back();
  } else {
    std::lock_guard lock(transfer_mutex_);
    if (!local && !free_transfers_.empty()) {
      t = free_transfers_.back();
      free_transfers_.pop_back();
    } else {
      transfers_.push_back(std::make_unique<Transfer>());
      t = transfers_.back().get();
      t->local = local;
      t->step.driver = this;
      t->step.transfer = t;
    }
  }
  t->kind = kind;
  t->offset = offset;
  t->iov.assign(iov.begin(), iov.end());  // keeps the pooled vector's capacity
  t->index = 0;
  t->skip = 0;
  t->remaining = total;
  t->epoch = epoch;
  return t;
}

void RawDriver::transfer(IoOp::Kind kind, uint64_t offset, std::span<const iovec> iov,
                         uint64_t total, uint64_t epoch, Then then) {
  Transfer* t = new_transfer(kind, offset, iov, total, epoch);
  t->then = std::move(then);
  transfer_step(t);
}

void RawDriver::direct_transfer(IoOp::Kind kind, uint64_t offset, std::span<const iovec> iov,
                                uint64_t total, BlockCallback done) {
  Transfer* t = new_transfer(kind, offset, iov, total, io_->epoch());
  in_flight_.start(t->local);  // a transfer of the loop thread's pool is taken on that thread
  t->done = std::move(done);
  transfer_step(t);
}

void RawDriver::transfer_end(Transfer* t, int result) {
  Then then = std::move(t->then);
  BlockCallback done = std::move(t->done);
  t->then = nullptr;
  t->done = nullptr;
  // Completions and deferred steps run on the loop thread: the local pool needs no lock.
  if (t->local) {
    local_free_transfers_.push_back(t);
  } else {
    std::lock_guard lock(transfer_mutex_);
    free_transfers_.push_back(t);
  }
  if (then) return then(result);
  done(result);
  in_flight_.finish();
}

void RawDriver::transfer_step(Transfer* t) {
  // Resuming a short transfer, or more buffers than one system call takes: the rest.
  std::span<const iovec> iov = t->rest(AsyncIo::kMaxIov);
  Transfer::Step& step = t->step;
  step.kind = t->kind;
  step.fd = file_.fd.get();
  step.offset = t->offset;
  step.iov = iov.data();
  step.iov_count = iov.size();
  if (!io_->submit(&step, t->epoch)) {
    // Cancelled: end it from the loop, as a completion would.
    io_->defer([this, t] { transfer_end(t, -ECANCELED); });
  }
}

void RawDriver::transfer_done(Transfer* t, int64_t result) {
  if (result == -EINTR || result == -EAGAIN) return transfer_step(t);
  if (result < 0) return transfer_end(t, static_cast<int>(result));
  t->advance(static_cast<uint64_t>(result));
  if (t->remaining == 0) return transfer_end(t, 0);
  if (t->kind == IoOp::Kind::kWrite) {
    // 0: the host takes no more.
    return result == 0 ? transfer_end(t, -EIO) : transfer_step(t);
  }
  // With O_DIRECT a read cannot go on from the unaligned offset where the file ends, so the end
  // of the file counts as well as a read of nothing.
  if (result > 0 && t->offset < file_.size) return transfer_step(t);
  // The file ends early (it shrank under us): what lies beyond reads as zeroes.
  bool zeroed = io_->run_if_current(t->epoch, [&] { t->zero_rest(); });
  transfer_end(t, zeroed ? 0 : -ECANCELED);
}

// --- Discard and zeroing ------------------------------------------------------------------------

void RawDriver::fallocate(const std::shared_ptr<Request>& req, int mode, Then then) {
  IoOp op;
  op.kind = IoOp::Kind::kFallocate;
  op.fd = file_.fd.get();
  op.offset = req->offset;
  op.length = req->length;
  op.mode = mode;
  if (!io_->submit(std::move(op), req->epoch, [then](int64_t r) { then(static_cast<int>(r)); })) {
    io_->defer([then] { then(-ECANCELED); });
  }
}

const uint8_t* RawDriver::zero_buffer() {
  std::call_once(zero_once_, [this] {
    AlignedBuffer buf = aligned_buffer(kBounceChunk, std::max<size_t>(file_.mem_align, 64));
    std::memset(buf.get(), 0, kBounceChunk);
    zeroes_ = std::unique_ptr<uint8_t, void (*)(void*)>(buf.release(), std::free);
  });
  return zeroes_.get();
}

void RawDriver::write_zeroes_by_writing(const std::shared_ptr<Request>& req, uint64_t pos,
                                        Then then) {
  uint64_t end = req->offset + req->length;
  if (pos == end) return then(0);
  // One chunk at a time, through the ordinary write path (which bounces unaligned pieces).
  uint64_t n = std::min(end - pos, kBounceChunk);
  iovec zero{const_cast<uint8_t*>(zero_buffer()), n};
  auto piece = std::make_shared<Request>();
  piece->kind = Kind::kWrite;
  piece->offset = pos;
  piece->length = n;
  piece->iov = {zero};
  piece->epoch = req->epoch;
  read_write(piece, [this, req, piece, pos, n, then](int r) {
    if (r < 0) return then(r);
    write_zeroes_by_writing(req, pos + n, then);
  });
}

// --- Ordering under O_DIRECT --------------------------------------------------------------------

void RawDriver::begin_modify(const std::shared_ptr<Request>& req, std::function<void()> go) {
  if (!direct_) return go();
  uint64_t a = file_.offset_align;
  req->ordered = true;
  req->exclusive = req->offset % a != 0 || req->length % a != 0;
  {
    std::lock_guard lock(order_mutex_);
    if (exclusive_running_ || !waiting_.empty() || (req->exclusive && modifying_ > 0)) {
      waiting_.emplace_back(req, std::move(go));
      return;
    }
    ++modifying_;
    exclusive_running_ = req->exclusive;
  }
  go();
}

void RawDriver::end_modify(const Request& req) {
  std::vector<std::function<void()>> runnable;
  {
    std::lock_guard lock(order_mutex_);
    --modifying_;
    if (req.exclusive) exclusive_running_ = false;
    while (!waiting_.empty() && !exclusive_running_) {
      auto& [next, go] = waiting_.front();
      if (next->exclusive && modifying_ > 0) break;
      ++modifying_;
      exclusive_running_ = next->exclusive;
      runnable.push_back(std::move(go));
      waiting_.pop_front();
    }
  }
  for (auto& go : runnable) go();
}

}  // namespace tandem
