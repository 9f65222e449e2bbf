// An epoll event loop. Devices register fds (eventfds from ioeventfd, the terminal, sockets,
// io_uring completions) with a callback; IoThread runs one loop on a thread of its own so that
// device work happens off the vCPU threads.
#pragma once

#include <sys/epoll.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/unique_fd.h"

namespace tandem {

class EventLoop {
 public:
  using Callback = std::function<void(uint32_t events)>;

  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Watches fd for `events` (EPOLLIN...). The callback runs on the loop's thread.
  // May be called from any thread. Throws SystemError if epoll refuses the fd.
  void add_fd(int fd, uint32_t events, Callback callback);
  // Stops watching fd. After it returns on the loop thread, the callback is not called again.
  void remove_fd(int fd);
  // Runs fn on the loop's thread, soon. May be called from any thread. Called from a callback of
  // this loop, fn runs once the current round of callbacks is over (before the loop sleeps) and
  // costs no system call: devices use it to do per-batch work once per batch.
  void post(std::function<void()> fn);

  // Busy polling, as QEMU's iothreads do (poll-max-ns): when run() runs out of events, it
  // spins, calling every poller and dispatching ready fds, until it has found no work for
  // poll_max_ns; only then does it sleep in epoll_wait. Waking a sleeping thread costs tens of
  // microseconds on a loaded or virtualised host; a device whose driver keeps it busy
  // (virtio-blk at depth) is then served at once, and with its notifications off the guest need
  // not exit to kick it at all. The spin looks at the fds only every kFdCheckRounds rounds (an
  // epoll_wait each), so a busy device costs almost no system call of the loop's own.
  //   poll: looks for work and does it; returns true if there was any. Loop thread.
  //   polling: called with true before a spin and false after it (a virtio device turns its
  //   driver's notifications off and on again; after `false` it must handle work that arrived
  //   in between). Loop thread.
  // Returns an id for remove_poller. May be called from any thread.
  int add_poller(std::function<bool()> poll, std::function<void(bool)> polling);
  // Not called again once this returns on the loop thread; called from another thread, a spin
  // already under way may call it once more (so pollers should hold weak references to what
  // they poll).
  void remove_poller(int id);
  static constexpr unsigned kFdCheckRounds = 16;
  // For a poller, from a callback of this loop: true if run() will call its polling(true) and
  // then polling(false) before the loop next sleeps (a spin, maybe of zero length). A virtio
  // device handling a kick can then leave the driver's notifications off, rather than turn
  // them on only for the spin to turn them off again (the guest would kick in between).
  bool will_poll() const;
  // How long a spin lasts without work adapts, as QEMU's iothreads do (poll-grow/poll-shrink):
  // it starts at kPollStartNs, doubles (up to poll_max_ns) each time the loop, having slept,
  // was woken within poll_max_ns of the spin's end (a longer spin would have caught that work,
  // e.g. a guest's next request, without the guest's kick and the wake-up), and halves (down to
  // kPollStartNs) each time it slept longer. On this kind of host a guest's kick costs tens of
  // microseconds of exit, more than a fixed short spin: the spin must outlast it once so that
  // the guest need not kick at all.
  // set_poll_max_ns: the cap, and the spin's length from now on; 0 turns spinning off (pollers
  // still get polling(true) and polling(false) before each sleep, with no poll() in between).
  static constexpr uint64_t kDefaultPollMaxNs = 256'000;
  static constexpr uint64_t kPollStartNs = 32'000;
  void set_poll_max_ns(uint64_t ns) {
    poll_max_ns_ = ns;
    poll_ns_ = ns;
  }
  uint64_t poll_ns() const { return poll_ns_; }  // the current spin length

  // Dispatches events until stop(). Call from one thread only.
  void run();
  // Dispatches what is ready now, waiting at most timeout_ms (-1: forever). Returns events handled.
  int run_once(int timeout_ms);
  // Calls every poller's poll() once, as a round of a spin would (no polling() bracket). For
  // whoever drives the loop by hand with run_once (tests). Returns whether any had work.
  bool poll_once();
  // Makes run() return. May be called from any thread, including callbacks.
  void stop();
  // Whether the calling thread is inside this loop's run() or run_once() (in a callback).
  bool on_loop_thread() const;

 private:
  // Runs posted work; returns true if there was any.
  bool drain_posted();
  // One spin (see add_poller). Returns true if it stopped because the pollers changed (spin
  // again with the new set), false once idle for poll_max_ns, stopping, or with nothing to poll.
  bool poll_for_work();
  // After a sleep that followed a spin: grows or shrinks poll_ns_ (see set_poll_max_ns).
  void adapt_poll_ns();

  struct Poller {
    int id;
    std::function<bool()> poll;
    std::function<void(bool)> polling;
    std::atomic<bool> removed{false};  // a spin skips removed pollers
  };

  using PollerList = std::vector<std::shared_ptr<Poller>>;
  // The pollers as of *generation: the loop thread's cached snapshot, refreshed (under mutex_)
  // only when pollers_generation_ moved, so a spin or poll_once() takes no lock and copies no
  // list. The snapshot is immutable (add/remove_poller make a new one), and the caller holds its
  // own reference: a poller that adds or removes pollers cannot pull it from under the spin.
  std::shared_ptr<const PollerList> current_pollers(uint64_t* generation);

  UniqueFd epoll_;
  UniqueFd wake_;  // eventfd: post() and stop() wake the loop through it
  std::mutex mutex_;
  std::unordered_map<int, std::shared_ptr<Callback>> callbacks_;
  std::vector<std::function<void()>> posted_;  // from other threads (mutex_)
  std::atomic<bool> remote_posted_{false};  // posted_ is not empty (set and cleared under mutex_)
  // Posted from the loop thread: no lock and no wake-up (see post()). Only the thread inside
  // run()/run_once()/poll_once() touches these, and only one thread may drive the loop.
  std::vector<std::function<void()>> local_work_;
  std::vector<std::function<void()>> drain_spare_;  // keeps a drained vector's capacity
  std::atomic<bool> local_posted_{false};
  std::atomic<bool> stopping_{false};
  bool in_run_ = false;                                                         // loop thread only
  std::shared_ptr<const PollerList> pollers_ = std::make_shared<PollerList>();  // mutex_
  std::atomic<uint64_t> pollers_generation_{0};  // bumped by add_poller/remove_poller
  int next_poller_id_ = 1;
  // current_pollers()'s snapshot (loop thread only). It may keep a removed poller's functions
  // alive until the next refresh; they are never called again (Poller::removed).
  std::shared_ptr<const PollerList> cached_pollers_;
  uint64_t cached_generation_ = UINT64_MAX;
  std::atomic<uint64_t> poll_max_ns_{kDefaultPollMaxNs};
  std::atomic<uint64_t> poll_ns_{kPollStartNs};
  // When the last spin ended idle (loop thread only); 0 if the last sleep followed no spin.
  int64_t spin_end_ns_ = 0;
};

// An EventLoop running on its own thread from construction until destruction.
class IoThread {
 public:
  IoThread();
  ~IoThread();
  IoThread(const IoThread&) = delete;
  IoThread& operator=(const IoThread&) = delete;

  EventLoop& loop() { return loop_; }
  // Stops the loop and joins the thread; the loop object stays usable (add_fd/remove_fd) but no
  // callback runs any more. Idempotent; the destructor calls it. Not from the loop's own thread.
  void stop();

 private:
  EventLoop loop_;
  std::thread thread_;
};

}  // namespace tandem
