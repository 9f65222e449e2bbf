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
  // Runs fn on the loop's thread, soon. May be called from any thread.
  void post(std::function<void()> fn);

  // Busy polling, as QEMU's iothreads do (poll-max-ns): when run() runs out of events, it first
  // spins for up to poll_max_ns, calling every poller and dispatching ready fds, before it
  // sleeps in epoll_wait. Waking a sleeping thread costs tens of microseconds on a loaded or
  // virtualised host; a device whose driver keeps it busy (virtio-blk at depth) is then served
  // at once, and with its notifications off the guest need not exit to kick it at all.
  //   poll: looks for work and does it; returns true if there was any. Loop thread.
  //   polling: called with true before a spin and false after it (a virtio device turns its
  //   driver's notifications off and on again; after `false` it must handle work that arrived
  //   in between). Loop thread.
  // Returns an id for remove_poller. May be called from any thread.
  int add_poller(std::function<bool()> poll, std::function<void(bool)> polling);
  // Not called again after this, except by a spin already under way on the loop thread (so
  // pollers should hold weak references to what they poll).
  void remove_poller(int id);
  // 0 turns spinning off. Default kDefaultPollMaxNs.
  static constexpr uint64_t kDefaultPollMaxNs = 32'000;
  void set_poll_max_ns(uint64_t ns) { poll_max_ns_ = ns; }

  // Dispatches events until stop(). Call from one thread only.
  void run();
  // Dispatches what is ready now, waiting at most timeout_ms (-1: forever). Returns events handled.
  int run_once(int timeout_ms);
  // Makes run() return. May be called from any thread, including callbacks.
  void stop();

 private:
  void drain_posted();
  // One spin (see add_poller); returns true if a poller or an fd had work.
  bool poll_for_work();

  struct Poller {
    int id;
    std::function<bool()> poll;
    std::function<void(bool)> polling;
  };

  UniqueFd epoll_;
  UniqueFd wake_;  // eventfd: post() and stop() wake the loop through it
  std::mutex mutex_;
  std::unordered_map<int, std::shared_ptr<Callback>> callbacks_;
  std::vector<std::function<void()>> posted_;
  std::atomic<bool> stopping_{false};
  std::vector<std::shared_ptr<Poller>> pollers_;
  int next_poller_id_ = 1;
  std::atomic<uint64_t> poll_max_ns_{kDefaultPollMaxNs};
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
