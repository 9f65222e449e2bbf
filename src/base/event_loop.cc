#include "base/event_loop.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

#include "base/error.h"
#include "base/log.h"

namespace tandem {

EventLoop::EventLoop() {
  epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_) fail_errno("epoll_create1");
  wake_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_) fail_errno("eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_.get();
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wake_.get(), &ev) < 0) fail_errno("epoll_ctl");
}

EventLoop::~EventLoop() = default;

void EventLoop::add_fd(int fd, uint32_t events, Callback callback) {
  std::lock_guard lock(mutex_);
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) < 0) fail_errno("epoll_ctl add fd {}", fd);
  callbacks_[fd] = std::make_shared<Callback>(std::move(callback));
}

void EventLoop::remove_fd(int fd) {
  std::lock_guard lock(mutex_);
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  callbacks_.erase(fd);
}

void EventLoop::post(std::function<void()> fn) {
  {
    std::lock_guard lock(mutex_);
    posted_.push_back(std::move(fn));
  }
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_.get(), &one, sizeof one);
}

int EventLoop::add_poller(std::function<bool()> poll, std::function<void(bool)> polling) {
  std::lock_guard lock(mutex_);
  const int id = next_poller_id_++;
  pollers_.push_back(std::make_shared<Poller>(Poller{id, std::move(poll), std::move(polling)}));
  return id;
}

void EventLoop::remove_poller(int id) {
  std::lock_guard lock(mutex_);
  std::erase_if(pollers_, [id](const std::shared_ptr<Poller>& p) { return p->id == id; });
}

bool EventLoop::poll_for_work() {
  const uint64_t budget = poll_max_ns_;
  std::vector<std::shared_ptr<Poller>> pollers;
  {
    std::lock_guard lock(mutex_);
    pollers = pollers_;
  }
  if (budget == 0 || pollers.empty()) return false;
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::nanoseconds(budget);
  for (auto& p : pollers) p->polling(true);
  bool work = false;
  while (!work && !stopping_) {
    for (auto& p : pollers) work |= p->poll();
    // Completions (io_uring, the thread pool) and posted work arrive through fds.
    if (!work) work = run_once(0) > 0;
    if (Clock::now() >= deadline) break;
  }
  for (auto& p : pollers) p->polling(false);
  return work;
}

void EventLoop::stop() {
  stopping_ = true;
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_.get(), &one, sizeof one);
}

void EventLoop::drain_posted() {
  std::vector<std::function<void()>> work;
  {
    std::lock_guard lock(mutex_);
    work.swap(posted_);
  }
  for (auto& fn : work) fn();
}

int EventLoop::run_once(int timeout_ms) {
  epoll_event events[32];
  int n = ::epoll_wait(epoll_.get(), events, 32, timeout_ms);
  if (n < 0) {
    if (errno == EINTR) return 0;
    fail_errno("epoll_wait");
  }
  for (int i = 0; i < n; ++i) {
    int fd = events[i].data.fd;
    if (fd == wake_.get()) {
      uint64_t value;
      [[maybe_unused]] auto r = ::read(wake_.get(), &value, sizeof value);
      drain_posted();
      continue;
    }
    std::shared_ptr<Callback> callback;
    {
      std::lock_guard lock(mutex_);
      auto it = callbacks_.find(fd);
      if (it != callbacks_.end()) callback = it->second;
    }
    if (callback) (*callback)(events[i].events);
  }
  return n;
}

void EventLoop::run() {
  while (!stopping_) {
    // Out of events: spin a while before sleeping, unless there is nothing to poll.
    if (run_once(0) > 0 || poll_for_work()) continue;
    run_once(-1);
  }
  drain_posted();
}

IoThread::IoThread() : thread_([this] { loop_.run(); }) {}

IoThread::~IoThread() {
  stop();
}

void IoThread::stop() {
  loop_.stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace tandem
