#include "base/event_loop.h"

#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

#include "base/error.h"
#include "base/log.h"

namespace tandem {

namespace {
// The loop whose run() or run_once() the current thread is in (nested loops are not a thing).
thread_local const EventLoop* tls_current_loop = nullptr;

class CurrentLoop {
 public:
  explicit CurrentLoop(const EventLoop* loop) : saved_(tls_current_loop) {
    tls_current_loop = loop;
  }
  ~CurrentLoop() { tls_current_loop = saved_; }

 private:
  const EventLoop* saved_;
};
}  // namespace

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

bool EventLoop::on_loop_thread() const {
  return tls_current_loop == this;
}

bool EventLoop::will_poll() const {
  // run() goes through poll_for_work() before every sleep, and each spin ends with
  // polling(false); only stop() skips it, and then nobody cares.
  return on_loop_thread() && in_run_ && !stopping_;
}

void EventLoop::post(std::function<void()> fn) {
  if (on_loop_thread()) {
    // The dispatcher drains this before it next waits (run_once, poll_for_work). Only the
    // thread that drives the loop gets here, so local_work_ needs no lock.
    local_work_.push_back(std::move(fn));
    local_posted_ = true;
    return;
  }
  {
    std::lock_guard lock(mutex_);
    posted_.push_back(std::move(fn));
    remote_posted_ = true;
  }
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_.get(), &one, sizeof one);
}

int EventLoop::add_poller(std::function<bool()> poll, std::function<void(bool)> polling) {
  std::lock_guard lock(mutex_);
  const int id = next_poller_id_++;
  auto p = std::make_shared<Poller>();
  p->id = id;
  p->poll = std::move(poll);
  p->polling = std::move(polling);
  auto list = std::make_shared<PollerList>(*pollers_);
  list->push_back(std::move(p));
  pollers_ = std::move(list);
  ++pollers_generation_;
  return id;
}

void EventLoop::remove_poller(int id) {
  std::lock_guard lock(mutex_);
  auto list = std::make_shared<PollerList>(*pollers_);
  std::erase_if(*list, [id](const std::shared_ptr<Poller>& p) {
    if (p->id != id) return false;
    p->removed = true;
    return true;
  });
  pollers_ = std::move(list);
  ++pollers_generation_;
}

std::shared_ptr<const EventLoop::PollerList> EventLoop::current_pollers(uint64_t* generation) {
  // A change that is under way (list swapped, generation not bumped yet) is seen next time; a
  // removed poller is skipped meanwhile through its `removed` flag, set before the swap.
  if (pollers_generation_.load() != cached_generation_ || !cached_pollers_) {
    std::lock_guard lock(mutex_);
    cached_pollers_ = pollers_;
    cached_generation_ = pollers_generation_.load();
  }
  *generation = cached_generation_;
  return cached_pollers_;
}

bool EventLoop::poll_for_work() {
  const uint64_t budget = std::min<uint64_t>(poll_ns_, poll_max_ns_);
  uint64_t generation;
  const std::shared_ptr<const PollerList> snapshot = current_pollers(&generation);
  const PollerList& pollers = *snapshot;
  if (pollers.empty()) return false;
  for (auto& p : pollers) {
    if (!p->removed) p->polling(true);
  }
  if (budget == 0) {
    // No spin, but the bracket will_poll() promised.
    for (auto& p : pollers) {
      if (!p->removed) p->polling(false);
    }
    return false;
  }
  using Clock = std::chrono::steady_clock;
  auto deadline = Clock::now() + std::chrono::nanoseconds(budget);
  bool idle = false;  // the last round found no work; deadline counts from its start
  unsigned rounds = 0;
  // Until no poller, fd or posted function has had work for `budget`, or the set of pollers
  // changed (the caller starts a new spin with the new set).
  while (!stopping_ && pollers_generation_ == generation) {
    bool work = false;
    for (auto& p : pollers) {
      if (!p->removed) work |= p->poll();
    }
    if (local_posted_) work |= drain_posted();
    // Other devices, posted work and stray completions arrive through fds: look at them every
    // kFdCheckRounds rounds (a round without work takes well under a microsecond).
    if (++rounds >= kFdCheckRounds) {
      rounds = 0;
      work |= run_once(0) > 0;
    }
    if (work) {
      // The clock is read only in idle rounds: a busy device's rounds cost no clock read.
      idle = false;
      continue;
    }
    // An idle round gives the CPU to whatever else is runnable on it: the kernel's I/O workers
    // (io_uring's io-wq does buffered writes) and the vCPU threads, which on a host with few
    // cores would otherwise wait for the spin to end. Alone on the CPU, it returns at once.
    sched_yield();
    auto now = Clock::now();
    if (!idle) {
      idle = true;
      deadline = now + std::chrono::nanoseconds(budget);
    } else if (now >= deadline) {
      spin_end_ns_ = now.time_since_epoch().count();
      break;
    }
  }
  for (auto& p : pollers) {
    if (!p->removed) p->polling(false);
  }
  return !stopping_ && pollers_generation_ != generation;
}

void EventLoop::stop() {
  stopping_ = true;
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_.get(), &one, sizeof one);
}

bool EventLoop::drain_posted() {
  // Local work first, then what other threads posted (they have no order between them anyway);
  // the lock only when another thread did post.
  std::vector<std::function<void()>> work;
  work.swap(local_work_);
  local_work_.swap(drain_spare_);  // the next local posts reuse an earlier drain's capacity
  local_posted_ = false;
  if (remote_posted_.load(std::memory_order_acquire)) {
    std::lock_guard lock(mutex_);
    remote_posted_ = false;
    if (work.empty()) {
      work.swap(posted_);
    } else {
      for (auto& fn : posted_) work.push_back(std::move(fn));
      posted_.clear();
    }
  }
  if (work.empty()) return false;
  for (auto& fn : work) fn();
  work.clear();
  if (drain_spare_.capacity() < work.capacity()) drain_spare_.swap(work);
  return true;
}

int EventLoop::run_once(int timeout_ms) {
  CurrentLoop current(this);
  epoll_event events[32];
  // Work posted from a callback of ours must not wait for the next event.
  if (local_posted_) timeout_ms = 0;
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
  if (local_posted_ && drain_posted() && n == 0) n = 1;
  return n;
}

bool EventLoop::poll_once() {
  CurrentLoop current(this);
  uint64_t generation;
  const std::shared_ptr<const PollerList> pollers = current_pollers(&generation);
  bool work = false;
  for (auto& p : *pollers) {
    if (!p->removed) work |= p->poll();
  }
  if (local_posted_) work |= drain_posted();
  return work;
}

void EventLoop::adapt_poll_ns() {
  if (spin_end_ns_ == 0) return;  // no spin before that sleep
  const uint64_t max = poll_max_ns_;
  const uint64_t slept = static_cast<uint64_t>(
      std::chrono::steady_clock::now().time_since_epoch().count() - spin_end_ns_);
  const uint64_t now_ns = poll_ns_;
  if (slept <= max) {
    poll_ns_ = std::min(max, now_ns * 2);  // a longer spin would have seen it coming
  } else {
    poll_ns_ = std::max(std::min(kPollStartNs, max), now_ns / 2);
  }
}

void EventLoop::run() {
  CurrentLoop current(this);
  in_run_ = true;
  while (!stopping_) {
    if (run_once(0) > 0) continue;
    // Out of events: spin until idle for poll_max_ns (unless there is nothing to poll), then
    // sleep. The pollers' polling(false) has handled what came in without an event.
    spin_end_ns_ = 0;
    if (poll_for_work()) continue;
    // The spin looks at the fds too and may have consumed stop()'s wake-up: without this check
    // the loop would then sleep for good.
    if (stopping_) break;
    run_once(-1);
    adapt_poll_ns();
  }
  in_run_ = false;
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
