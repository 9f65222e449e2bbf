// The engines that carry host I/O for the block drivers: io_uring (UringIo) or a pool of worker
// threads (ThreadPoolIo). Both take the same operations, run them off the calling thread and
// hand each result back on the EventLoop, through an eventfd the loop watches.
//
// Completions reach the loop two ways: the engine's eventfd, and a poller (EventLoop::add_poller)
// that looks at the completion queue without a system call while the loop spins, so a busy
// device gets its completions in the same spin that submitted them.
//
// Batching: between plug() and unplug() operations are queued but not handed to the kernel;
// the last unplug() submits them together (one io_uring_enter for a whole batch of guest
// requests, as QEMU's blk_io_plug/unplug). Per-operation state is pooled, not allocated, or
// belongs to the caller (IoRequest: the engine takes a pointer to it and calls it back).
// A batch plugged on the loop's own thread (a device handling its queue) costs one lock for the
// whole batch: its operations wait in a list of the loop thread's and go to the engine together
// at the last unplug().
//
// Cancellation works by epochs: every operation is submitted on behalf of a request that
// started in some epoch; cancel_all() starts a new epoch, waits until no operation of the old
// ones is running, and from then on refuses to start operations of old epochs. So a request
// abandoned at a device reset can neither touch its buffers nor the image afterwards, even if
// its next step was already on its way.
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "base/unique_fd.h"
#include "block/block_options.h"

namespace tandem {

class EventLoop;

struct IoOp {
  enum class Kind : uint8_t { kRead, kWrite, kFdatasync, kFallocate };
  Kind kind = Kind::kRead;
  int fd = -1;
  uint64_t offset = 0;
  uint64_t length = 0;     // kFallocate
  int mode = 0;            // kFallocate: FALLOC_FL_* flags
  std::vector<iovec> iov;  // kRead/kWrite: at most kMaxIov buffers, valid until done runs
};

// Bytes transferred (kRead/kWrite), 0, or -errno. Runs on the loop thread.
using IoDone = std::function<void(int64_t result)>;

// An operation its caller owns and describes in place: what a driver with per-request state of
// its own (a transfer that resumes short reads, say) hands the engine instead of an IoOp and a
// callback, so that the hot path copies no buffer list, takes nothing from a pool and builds no
// std::function. The fields must stay as they are, and the object alive, from submit() until
// complete() has run or the engine is gone (after cancel_all() the operation no longer touches
// its buffers, but complete() still comes, with its result or -ECANCELED).
class IoRequest {
 public:
  IoOp::Kind kind = IoOp::Kind::kRead;
  int fd = -1;
  uint64_t offset = 0;
  uint64_t length = 0;         // kFallocate
  int mode = 0;                // kFallocate
  const iovec* iov = nullptr;  // kRead/kWrite: iov_count buffers, at most AsyncIo::kMaxIov
  size_t iov_count = 0;
  uint64_t epoch = 0;  // set by submit()

  // Runs once, on the loop thread, with what IoDone would get.
  virtual void complete(int64_t result) = 0;

 protected:
  ~IoRequest() = default;
};

class AsyncIo {
 public:
  // Largest iovec count one operation may carry (the kernel's UIO_MAXIOV).
  static constexpr size_t kMaxIov = 1024;

  // An io_uring engine with `ring_entries` submission slots, or the thread pool if the mode asks
  // for it or the kernel has no io_uring for us (logged). Throws SystemError if neither works.
  static std::unique_ptr<AsyncIo> create(AioMode mode, EventLoop& loop,
                                         unsigned ring_entries = 128);

  AsyncIo(const AsyncIo&) = delete;
  AsyncIo& operator=(const AsyncIo&) = delete;
  // Waits for running operations; results not delivered yet are dropped. Destroy on the loop's
  // thread or after the loop has stopped.
  virtual ~AsyncIo();

  virtual const char* name() const = 0;

  // The current epoch: requests remember it when they start. Lock-free: submit() checks the
  // epoch again under the lock, so a value that is stale by the time it is used is harmless.
  uint64_t epoch() const { return epoch_.load(std::memory_order_acquire); }
  // Whether the caller is the thread running the engine's loop (where callbacks run).
  bool on_loop_thread() const;
  // Queues op; `done` runs later on the loop with its result. Returns false, and never calls
  // done, if `epoch` is older than the last cancel_all().
  bool submit(IoOp op, uint64_t epoch, IoDone done);
  // The same for an operation the caller owns (see IoRequest): its complete() runs later on the
  // loop. Returns false, and never calls complete(), if `epoch` is stale.
  bool submit(IoRequest* r, uint64_t epoch);
  // The same for a read or write whose buffers are `iov` (copied; the memory they point to must
  // stay valid until done runs). Reuses pooled vectors: no allocation in the steady state.
  bool submit_rw(IoOp::Kind kind, int fd, uint64_t offset, std::span<const iovec> iov,
                 uint64_t epoch, IoDone done);
  // See the header comment. Nests; any thread, but a plug() and its unplug() on the same one.
  // On the loop thread, operations submitted while plugged are accepted (their epoch checked)
  // at once and handed to the engine at the last unplug(); should a cancel_all() come in
  // between, they complete with -ECANCELED, like operations queued in the engine.
  void plug();
  void unplug();

  // Counters, for tests and benchmarks.
  struct Stats {
    uint64_t submit_calls = 0;  // system calls that handed operations to the kernel (io_uring)
    uint64_t polled = 0;        // completions the loop's poller found (no eventfd round trip)
  };
  Stats stats() const;
  // Runs fn now, under the engine's lock, if `epoch` is still current: for work on a request's
  // buffers (copies out of a bounce buffer) that must not happen after cancel_all(). Returns
  // whether it ran. fn must not call back into the engine.
  bool run_if_current(uint64_t epoch, const std::function<void()>& fn);
  // Runs fn later on the loop (no I/O), as if an operation had completed.
  void defer(std::function<void()> fn);
  // See the header comment. Operations queued but not started complete with -ECANCELED.
  void cancel_all();

 protected:
  // An operation of the IoOp-and-callback kind: the engine's own, pooled.
  struct Pending;

  explicit AsyncIo(EventLoop& loop);
  // Subclasses call this last in their constructors, once reap_locked and
  // engine_has_completions work: from then on the loop's poller looks for completions.
  void start_polling();
  // Subclasses call this first in their destructors, while their resources still exist.
  void shutdown();

  // All three run with mutex_ held.
  // Starts r now or keeps it until there is room; finishes it (finish_locked) on early errors.
  virtual void start_locked(IoRequest* r) = 0;
  // Collects operations that finished (the loop thread calls it on every wake-up).
  virtual void reap_locked() = 0;
  // Finishes every operation not started yet with -ECANCELED and waits (dropping and
  // re-taking `lock` as needed) until no started operation is running.
  virtual void cancel_locked(std::unique_lock<std::mutex>& lock) = 0;

  // Submits what start_locked queued while plugged (mutex_ held, plug count back at 0).
  virtual void flush_locked() {}
  // Whether the engine holds finished operations that reap_locked would collect. Called on the
  // loop thread without the lock: must be cheap and safe against concurrent reaping.
  virtual bool engine_has_completions() const { return false; }

  // With mutex_ held: the result goes to the loop on the next wake-up (or poll).
  void finish_locked(IoRequest* r, int64_t result);
  // Wakes the loop (any thread, lock or not).
  void wake();
  int event_fd() const { return event_fd_.get(); }
  bool plugged_locked() const { return plugged_ > 0; }
  Stats stats_;  // guarded by mutex_

  mutable std::mutex mutex_;

 private:
  using Completion = std::pair<IoRequest*, int64_t>;

  void on_event();  // loop thread
  bool poll();      // loop thread (the poller)
  // Loop thread: reaps and runs callbacks; returns whether any ran.
  bool deliver(bool polled);
  // A Pending from the pools (the loop thread's without a lock), or a new one.
  Pending* take_pending();
  // p is done with (its callback ran, or submit refused it): back to the list it came from.
  // The loop thread's own Pendings are taken and given back on that thread only.
  void recycle(Pending* p);
  // Fills p (its buffers already in place) and submits it; gives it back if refused.
  bool submit_pending(Pending* p, IoOp::Kind kind, int fd, uint64_t offset, uint64_t length,
                      int mode, uint64_t epoch, IoDone done);
  bool start_op_locked(IoRequest* r, uint64_t epoch);
  // Loop thread, inside a plug(): true if r went to staged_ (accepted or not).
  bool stage(IoRequest* r, uint64_t epoch, bool* accepted);
  // Loop thread: hands staged_ to the engine under one lock (the last unplug()).
  void flush_staged();

  EventLoop& loop_;
  UniqueFd event_fd_;
  int poller_id_ = 0;
  bool shut_down_ = false;
  // Written under mutex_ (cancel_all, shutdown), read anywhere.
  std::atomic<uint64_t> epoch_{0};
  unsigned plugged_ = 0;
  // The loop thread's own batch (see plug()): touched only on the loop thread, so no lock.
  // Only one thread drives a loop, and on_loop_thread() is checked before these are looked at.
  unsigned local_plugged_ = 0;
  std::vector<IoRequest*> staged_;
  std::vector<Pending*> local_free_;  // loop thread: idle Pendings
  std::vector<Completion> completed_;
  std::vector<Completion> spare_;  // completed_'s twin, swapped in to keep its capacity
  std::atomic<bool> completed_waiting_{false};
  // Every Pending ever made (bounded by the operations in flight at once), and the idle ones
  // other threads take from (under mutex_).
  std::vector<std::unique_ptr<Pending>> pendings_;
  std::vector<Pending*> free_pending_;
};

// Runs one operation synchronously with the matching system call (preadv, pwritev, fdatasync,
// fallocate); returns its result like a completion (-errno on failure).
int64_t run_io_op(const IoRequest& r);

}  // namespace tandem
