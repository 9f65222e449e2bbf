#include "block/qcow2/qcow2_driver.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <new>

#include "base/event_loop.h"
#include "base/log.h"
#include "block/iov_util.h"
#include "block/qcow2/iov_slice.h"

namespace tandem {

// A request on the asynchronous path: one Transfer per piece of the file it maps to.
struct Qcow2Driver::AsyncRequest {
  BlockCallback done;
  size_t transfers_left = 0;
  int result = 0;  // the first failure
  bool write = false;
};

// One piece: moves bytes between the caller's buffers and the file, resuming short transfers.
struct Qcow2Driver::Transfer : IovTransfer {  // offset: in the image file
  std::shared_ptr<AsyncRequest> request;
  IoOp::Kind kind = IoOp::Kind::kRead;
  uint64_t epoch = 0;
};

std::unique_ptr<Qcow2Driver> Qcow2Driver::open(const std::string& path, const Options& options,
                                               EventLoop& loop) {
  qcow2::Qcow2Image::Options image_options;
  image_options.read_only = options.read_only;
  image_options.cache = options.cache;
  return std::make_unique<Qcow2Driver>(qcow2::Qcow2Image::open(path, image_options), options, loop);
}

Qcow2Driver::Qcow2Driver(std::unique_ptr<qcow2::Qcow2Image> image, const Options& options,
                         EventLoop& loop)
    : image_(std::move(image)),
      cache_(options.cache),
      loop_(loop),
      io_(AsyncIo::create(options.aio, loop, options.ring_entries)) {}

Qcow2Driver::~Qcow2Driver() {
  state_->alive = false;
  // First the engine: it waits for the transfers that still use the file and the callers'
  // buffers, and drops their callbacks (which refer to this object).
  io_.reset();
  std::lock_guard lock(mutex_);
  if (data_written_) image_->note_data_written();
  image_.reset();  // writes the metadata back (and syncs, as a flush does)
}

// --- Ordering -----------------------------------------------------------------------------------
//
// The rule: nothing but a read runs on the synchronous path while an asynchronous transfer is
// running. Every synchronous write (allocation, COW, writes the asynchronous path does not take),
// discard, write-zeroes and flush waits until no transfer runs (a drain), and every request
// issued after it waits behind it (FIFO), so no new transfer starts meanwhile. Why this is sound:
//  - An asynchronous transfer goes to host clusters that map_plain resolved under mutex_: plain
//    data clusters inside the file (for writes COPIED ones, the active image's alone, clear of
//    metadata). What could go wrong is a transfer landing in, or reading from, a cluster that
//    meanwhile was freed, handed out again (to other guest data or to metadata), or whose L2
//    entry, refcount or hole-punch changed. Only synchronous writes, discard, write-zeroes and
//    flush (its write-back applies queued frees and punches holes) change L2 entries, refcounts,
//    allocation or the file's metadata: while one runs, no transfer is in flight, and a transfer
//    started after it resolves its mapping again from the metadata as it then is.
//  - Clusters freed by such a request stay free until a later write-back (pending frees): no
//    mapping resolved after the request leads to them, and a drained request applies them.
//  - Synchronous reads change no metadata on disk (they may load L2 tables into the cache) and
//    never write the file, so they may run next to transfers. A guest that reads or writes a
//    range while writing it (or discarding it) may see its own range garbled, nothing else:
//    transfers never touch a cluster that is not mapped to their own guest range at that time.
//  - A flush drains, so every asynchronous write issued before it has completed (more than
//    virtio asks: only writes completed before the flush must be covered); data_written_ then
//    makes the write-back's barriers sync them, ordered with the metadata as the synchronous
//    writes are. The dirty bit and lazy refcounts stay unused (qcow2_image.h) and transfers
//    change no metadata, so a crash leaves the metadata as the synchronous path alone would.
//  - Whole-image changes (snapshots, resize) are not BlockDriver requests: they go through
//    image(), only while no request is in flight.

void Qcow2Driver::issue(Request req) {
  req.epoch = io_->epoch();
  ++state_->in_flight;
  std::lock_guard lock(mutex_);
  // Behind a held-back request everything waits (no request overtakes a drain, none starves it).
  if (!waiting_.empty() || !try_start_locked(req)) waiting_.push_back(std::move(req));
}

bool Qcow2Driver::try_start_locked(Request& req) {
  // A request held back past a cancel_all() must not start (it may no longer touch its buffers).
  if (req.epoch != io_->epoch()) {
    complete(std::move(req.done), -ECANCELED);
    return true;
  }
  if ((req.kind == Kind::kRead || req.kind == Kind::kWrite) && start_async_locked(req)) {
    return true;
  }
  if (req.kind != Kind::kRead && async_running_ > 0) return false;  // drain first
  int result = run_sync_locked(req);
  complete(std::move(req.done), result);
  return true;
}

void Qcow2Driver::run_waiting_locked() {
  if (waiting_.empty()) return;
  io_->plug();  // the transfers started here reach the kernel together
  while (!waiting_.empty() && try_start_locked(waiting_.front())) waiting_.pop_front();
  io_->unplug();
}

int Qcow2Driver::run_sync_locked(const Request& req) {
  try {
    switch (req.kind) {
      case Kind::kRead:
        return image_->read(req.offset, req.iov);
      case Kind::kWrite:
        return image_->write(req.offset, req.iov);
      case Kind::kFlush:
        // Drained: every asynchronous write issued before this flush has completed.
        if (data_written_) image_->note_data_written();
        data_written_ = false;
        return image_->flush();
      case Kind::kDiscard:
        return image_->discard(req.offset, req.length);
      case Kind::kWriteZeroes:
        return image_->write_zeroes(req.offset, req.length, req.may_unmap);
    }
    return -EINVAL;
  } catch (const std::bad_alloc&) {
    return -ENOMEM;
  } catch (const std::exception& e) {
    TLOG_ERROR("qcow2 image '{}': {}", image_->path(), e.what());
    return -EIO;
  }
}

void Qcow2Driver::complete(BlockCallback done, int result) {
  loop_.post([state = state_, done = std::move(done), result] {
    if (state->alive) done(result);
    --state->in_flight;
  });
}

// --- The asynchronous path ----------------------------------------------------------------------

bool Qcow2Driver::start_async_locked(Request& req) {
  bool write = req.kind == Kind::kWrite;
  try {
    if (!image_->map_plain(write, req.offset, req.iov, extents_)) return false;
  } catch (const std::exception&) {
    return false;  // out of memory: the synchronous path reports it
  }
  auto request = std::make_shared<AsyncRequest>();
  request->done = std::move(req.done);
  request->transfers_left = extents_.size();
  request->write = write;
  std::vector<std::shared_ptr<Transfer>> transfers;
  transfers.reserve(extents_.size());
  for (const auto& e : extents_) {
    auto t = std::make_shared<Transfer>();
    t->request = request;
    t->kind = write ? IoOp::Kind::kWrite : IoOp::Kind::kRead;
    t->offset = e.host_offset;
    qcow2::iov_slice(req.iov, e.request_offset, e.length, t->iov);
    t->remaining = e.length;
    t->epoch = req.epoch;
    transfers.push_back(std::move(t));
  }
  ++async_running_;
  ++async_requests_;
  if (async_running_ > max_async_running_.load()) max_async_running_ = async_running_;
  for (const auto& t : transfers) transfer_step(t);
  return true;
}

void Qcow2Driver::transfer_step(const std::shared_ptr<Transfer>& t) {
  // Resuming a short transfer, or more buffers than one system call takes: the rest.
  if (!io_->submit_rw(t->kind, image_->fd(), t->offset, t->rest(AsyncIo::kMaxIov), t->epoch,
                      [this, t](int64_t r) { transfer_done(t, r); })) {
    // Cancelled: end it from the loop, as a completion would.
    io_->defer([this, t] { transfer_end(t, -ECANCELED); });
  }
}

void Qcow2Driver::transfer_done(const std::shared_ptr<Transfer>& t, int64_t result) {
  if (result == -EINTR || result == -EAGAIN) return transfer_step(t);
  if (result < 0) return transfer_end(t, static_cast<int>(result));
  t->advance(static_cast<uint64_t>(result));
  if (t->remaining == 0) return transfer_end(t, 0);
  if (result > 0) return transfer_step(t);
  if (t->kind == IoOp::Kind::kWrite) return transfer_end(t, -EIO);  // the host takes no more
  // map_plain mapped only inside the file: it shrank behind our back. What lies beyond reads as
  // zeroes, as on the synchronous path (written only while the request is still wanted).
  bool zeroed = io_->run_if_current(t->epoch, [&] { t->zero_rest(); });
  transfer_end(t, zeroed ? 0 : -ECANCELED);
}

void Qcow2Driver::transfer_end(const std::shared_ptr<Transfer>& t, int result) {
  // On the loop thread (completions and deferred steps run there).
  AsyncRequest& request = *t->request;
  if (result < 0 && request.result == 0) request.result = result;
  if (--request.transfers_left > 0) return;
  {
    std::lock_guard lock(mutex_);
    --async_running_;
    // Even a failed or cancelled write may have reached the file in part.
    if (request.write) data_written_ = true;
    if (async_running_ == 0) run_waiting_locked();
  }
  // Without the lock: the callback may issue the next request.
  BlockCallback done = std::move(request.done);
  done(request.result);
  --state_->in_flight;
}

// --- Requests -----------------------------------------------------------------------------------

void Qcow2Driver::issue_rw(Kind kind, uint64_t offset, std::span<const iovec> iov,
                           BlockCallback done) {
  Request req;
  req.kind = kind;
  req.offset = offset;
  req.iov.assign(iov.begin(), iov.end());
  req.done = std::move(done);
  issue(std::move(req));
}

void Qcow2Driver::read(uint64_t offset, std::span<const iovec> iov, BlockCallback done) {
  issue_rw(Kind::kRead, offset, iov, std::move(done));
}

void Qcow2Driver::write(uint64_t offset, std::span<const iovec> iov, BlockCallback done) {
  issue_rw(Kind::kWrite, offset, iov, std::move(done));
}

void Qcow2Driver::flush(BlockCallback done) {
  Request req;
  req.kind = Kind::kFlush;
  req.done = std::move(done);
  issue(std::move(req));
}

void Qcow2Driver::discard(uint64_t offset, uint64_t length, BlockCallback done) {
  Request req;
  req.kind = Kind::kDiscard;
  req.offset = offset;
  req.length = length;
  req.done = std::move(done);
  issue(std::move(req));
}

void Qcow2Driver::write_zeroes(uint64_t offset, uint64_t length, bool may_unmap,
                               BlockCallback done) {
  Request req;
  req.kind = Kind::kWriteZeroes;
  req.offset = offset;
  req.length = length;
  req.may_unmap = may_unmap;
  req.done = std::move(done);
  issue(std::move(req));
}

void Qcow2Driver::cancel_all() {
  // A new epoch: transfers of earlier requests are cancelled or waited for, and none starts
  // afterwards (the engine refuses old epochs; try_start_locked checks them for held-back
  // requests). Not under mutex_: the loop thread's completions take it.
  io_->cancel_all();
  // Then the synchronous request running now (if any) leaves the mutex: afterwards nothing
  // touches the buffers of a request issued before the call.
  std::lock_guard lock(mutex_);
}

}  // namespace tandem
