#include "block/async_io.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

#include "base/error.h"
#include "base/event_loop.h"
#include "base/log.h"
#include "block/thread_pool_io.h"
#include "block/uring_io.h"

namespace tandem {

struct AsyncIo::Pending final : IoRequest {
  AsyncIo* owner = nullptr;
  bool local = false;  // taken from and given back to the loop thread's list (fixed at creation)
  std::vector<iovec> buffers;  // iov points here
  IoDone done;

  void complete(int64_t result) override {
    done(result);
    owner->recycle(this);
  }
};

std::unique_ptr<AsyncIo> AsyncIo::create(AioMode mode, EventLoop& loop, unsigned ring_entries) {
  if (mode == AioMode::kIoUring) {
    try {
      return std::make_unique<UringIo>(loop, ring_entries);
    } catch (const SystemError& e) {
      // Old kernels, seccomp filters and kernel.io_uring_disabled all land here.
      TLOG_WARN("io_uring unavailable ({}); using aio=threads", e.what());
    }
  }
  return std::make_unique<ThreadPoolIo>(loop);
}

AsyncIo::AsyncIo(EventLoop& loop) : loop_(loop) {
  event_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!event_fd_) fail_errno("eventfd for block I/O completions");
  loop_.add_fd(event_fd_.get(), EPOLLIN, [this](uint32_t) { on_event(); });
}

void AsyncIo::start_polling() {
  // Not in our constructor: the loop thread may call the poller at once, and it needs the
  // subclass (its ring) in place.
  poller_id_ = loop_.add_poller([this] { return poll(); }, [](bool) {});
}

AsyncIo::~AsyncIo() {
  // No virtual calls here: the subclass is gone. It called shutdown() unless its constructor
  // threw, in which case nothing was ever started.
  if (!shut_down_) {
    if (poller_id_) loop_.remove_poller(poller_id_);
    loop_.remove_fd(event_fd_.get());
  }
}

void AsyncIo::shutdown() {
  std::vector<Completion> dropped;
  {
    std::unique_lock lock(mutex_);
    if (shut_down_) return;
    cancel_locked(lock);
    ++epoch_;
    shut_down_ = true;
    dropped.swap(completed_);
  }
  if (poller_id_) loop_.remove_poller(poller_id_);
  loop_.remove_fd(event_fd_.get());
}

bool AsyncIo::on_loop_thread() const {
  return loop_.on_loop_thread();
}

AsyncIo::Pending* AsyncIo::take_pending() {
  // The loop thread (a device handling its queue, a step after a completion) has a list of its
  // own and takes no lock; other threads share the locked one. A Pending always goes back to
  // the list it came from (recycle), so each stays bounded by what its threads have in flight.
  const bool local = loop_.on_loop_thread();
  if (local && !local_free_.empty()) {
    Pending* p = local_free_.back();
    local_free_.pop_back();
    return p;
  }
  std::lock_guard lock(mutex_);
  if (!local && !free_pending_.empty()) {
    Pending* p = free_pending_.back();
    free_pending_.pop_back();
    return p;
  }
  pendings_.push_back(std::make_unique<Pending>());
  Pending* p = pendings_.back().get();
  p->owner = this;
  p->local = local;
  return p;
}

void AsyncIo::recycle(Pending* p) {
  p->done = nullptr;  // drops what the callback captured
  p->buffers.clear();
  if (p->local) {
    local_free_.push_back(p);  // local ones are taken and recycled on the loop thread only
    return;
  }
  std::lock_guard lock(mutex_);
  free_pending_.push_back(p);
}

bool AsyncIo::start_op_locked(IoRequest* r, uint64_t epoch) {
  if (epoch != epoch_ || shut_down_) return false;
  r->epoch = epoch;
  start_locked(r);
  return true;
}

bool AsyncIo::stage(IoRequest* r, uint64_t epoch, bool* accepted) {
  // on_loop_thread() first: other threads must not read local_plugged_.
  if (!loop_.on_loop_thread() || local_plugged_ == 0) return false;
  // Refused now if already stale; otherwise flush_staged() checks again under the lock.
  *accepted = epoch == epoch_.load(std::memory_order_acquire);
  if (!*accepted) return true;
  r->epoch = epoch;
  staged_.push_back(r);
  return true;
}

void AsyncIo::flush_staged() {
  bool cancelled = false;
  {
    std::lock_guard lock(mutex_);
    // Plugged while we start them, so that the engine submits them together below.
    ++plugged_;
    for (IoRequest* r : staged_) {
      if (shut_down_) {
        // Dropped like every result not delivered before shutdown.
      } else if (r->epoch != epoch_.load(std::memory_order_relaxed)) {
        // A cancel_all() came after submit() accepted it: it never starts.
        finish_locked(r, -ECANCELED);
        cancelled = true;
      } else {
        start_locked(r);
      }
    }
    staged_.clear();
    if (--plugged_ == 0 && !shut_down_) flush_locked();
  }
  if (cancelled) wake();
}

bool AsyncIo::submit(IoRequest* r, uint64_t epoch) {
  bool accepted;
  if (stage(r, epoch, &accepted)) return accepted;
  std::lock_guard lock(mutex_);
  return start_op_locked(r, epoch);
}

bool AsyncIo::submit(IoOp op, uint64_t epoch, IoDone done) {
  Pending* p = take_pending();
  p->buffers = std::move(op.iov);
  return submit_pending(p, op.kind, op.fd, op.offset, op.length, op.mode, epoch, std::move(done));
}

bool AsyncIo::submit_rw(IoOp::Kind kind, int fd, uint64_t offset, std::span<const iovec> iov,
                        uint64_t epoch, IoDone done) {
  Pending* p = take_pending();
  p->buffers.assign(iov.begin(), iov.end());  // keeps the pooled vector's capacity
  return submit_pending(p, kind, fd, offset, 0, 0, epoch, std::move(done));
}

bool AsyncIo::submit_pending(Pending* p, IoOp::Kind kind, int fd, uint64_t offset, uint64_t length,
                             int mode, uint64_t epoch, IoDone done) {
  p->kind = kind;
  p->fd = fd;
  p->offset = offset;
  p->length = length;
  p->mode = mode;
  p->iov = p->buffers.data();
  p->iov_count = p->buffers.size();
  p->done = std::move(done);
  if (submit(p, epoch)) return true;
  recycle(p);
  return false;
}

void AsyncIo::plug() {
  if (loop_.on_loop_thread()) {
    ++local_plugged_;
    return;
  }
  std::lock_guard lock(mutex_);
  ++plugged_;
}

void AsyncIo::unplug() {
  if (loop_.on_loop_thread() && local_plugged_ > 0) {
    if (--local_plugged_ == 0 && !staged_.empty()) flush_staged();
    return;
  }
  std::lock_guard lock(mutex_);
  if (plugged_ == 0 || --plugged_ > 0 || shut_down_) return;
  flush_locked();
}

bool AsyncIo::run_if_current(uint64_t epoch, const std::function<void()>& fn) {
  std::lock_guard lock(mutex_);
  if (epoch != epoch_ || shut_down_) return false;
  fn();
  return true;
}

void AsyncIo::defer(std::function<void()> fn) {
  Pending* p = take_pending();
  p->done = [fn = std::move(fn)](int64_t) { fn(); };
  {
    std::lock_guard lock(mutex_);
    if (!shut_down_) {
      completed_.emplace_back(p, 0);
      completed_waiting_.store(true, std::memory_order_release);
      p = nullptr;
    }
  }
  if (p) return recycle(p);
  wake();
}

void AsyncIo::cancel_all() {
  {
    std::unique_lock lock(mutex_);
    if (shut_down_) return;
    ++epoch_;
    cancel_locked(lock);
  }
  wake();  // deliver what cancel_locked finished
}

void AsyncIo::finish_locked(IoRequest* r, int64_t result) {
  completed_.emplace_back(r, result);
  completed_waiting_.store(true, std::memory_order_release);
}

void AsyncIo::wake() {
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(event_fd_.get(), &one, sizeof one);
}

void AsyncIo::on_event() {
  uint64_t count;
  [[maybe_unused]] ssize_t n = ::read(event_fd_.get(), &count, sizeof count);
  deliver(false);
}

AsyncIo::Stats AsyncIo::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

bool AsyncIo::poll() {
  if (!completed_waiting_.load(std::memory_order_relaxed) && !engine_has_completions()) {
    return false;
  }
  return deliver(true);
}

bool AsyncIo::deliver(bool polled) {
  std::vector<Completion> ready;
  {
    std::lock_guard lock(mutex_);
    if (shut_down_) return false;
    reap_locked();
    if (completed_.empty()) {
      completed_waiting_.store(false, std::memory_order_relaxed);
      return false;
    }
    ready.swap(spare_);  // an empty vector with capacity, if we have one
    ready.swap(completed_);
    completed_waiting_.store(false, std::memory_order_relaxed);
    if (polled) stats_.polled += ready.size();
  }
  for (auto& [request, result] : ready) request->complete(result);
  ready.clear();
  std::lock_guard lock(mutex_);
  if (spare_.capacity() < ready.capacity()) spare_.swap(ready);
  return true;
}

int64_t run_io_op(const IoRequest& op) {
  ssize_t r = -1;
  do {
    switch (op.kind) {
      case IoOp::Kind::kRead:
        r = ::preadv(op.fd, op.iov, static_cast<int>(op.iov_count), static_cast<off_t>(op.offset));
        break;
      case IoOp::Kind::kWrite:
        r = ::pwritev(op.fd, op.iov, static_cast<int>(op.iov_count), static_cast<off_t>(op.offset));
        break;
      case IoOp::Kind::kFdatasync:
        r = ::fdatasync(op.fd);
        break;
      case IoOp::Kind::kFallocate:
        r = ::fallocate(op.fd, op.mode, static_cast<off_t>(op.offset),
                        static_cast<off_t>(op.length));
        break;
    }
  } while (r < 0 && errno == EINTR);
  return r < 0 ? -errno : r;
}

}  // namespace tandem
