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

  // Dispatches events until stop(). Call from one thread only.
  void run();
  // Dispatches what is ready now, waiting at most timeout_ms (-1: forever). Returns events handled.
  int run_once(int timeout_ms);
  // Makes run() return. May be called from any thread, including callbacks.
  void stop();

 private:
  void drain_posted();

  UniqueFd epoll_;
  UniqueFd wake_;  // eventfd: post() and stop() wake the loop through it
  std::mutex mutex_;
  std::unordered_map<int, std::shared_ptr<Callback>> callbacks_;
  std::vector<std::function<void()>> posted_;
  std::atomic<bool> stopping_{false};
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
