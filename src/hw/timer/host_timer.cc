#include "hw/timer/host_timer.h"

#include <sys/timerfd.h>
#include <unistd.h>

#include "base/error.h"
#include "hw/timer/clock.h"

namespace tandem {

namespace {

uint64_t read_clock(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

class HostClock : public Clock {
 public:
  uint64_t monotonic_ns() const override { return read_clock(CLOCK_MONOTONIC); }
  uint64_t realtime_ns() const override { return read_clock(CLOCK_REALTIME); }
};

}  // namespace

const Clock& host_clock() {
  static const HostClock clock;
  return clock;
}

HostTimer::HostTimer(EventLoop& loop, clockid_t clock, std::function<void()> on_expiry)
    : loop_(loop) {
  int fd = timerfd_create(clock, TFD_NONBLOCK | TFD_CLOEXEC);
  if (fd < 0) fail_errno("timerfd_create");
  fd_ = std::make_shared<UniqueFd>(fd);
  // The callback keeps the fd open until the loop has dropped it, so a late wake-up never reads
  // a closed (or reused) descriptor.
  loop_.add_fd(fd, EPOLLIN, [fd = fd_, on_expiry = std::move(on_expiry)](uint32_t) {
    uint64_t expirations = 0;
    if (::read(fd->get(), &expirations, sizeof(expirations)) == sizeof(expirations)) on_expiry();
  });
}

HostTimer::~HostTimer() {
  loop_.remove_fd(fd_->get());
}

void HostTimer::arm_at(uint64_t abs_ns) {
  itimerspec spec{};
  // A zero it_value disarms; the epoch itself is long past, so 1 ns fires at once all the same.
  if (abs_ns == 0) abs_ns = 1;
  spec.it_value.tv_sec = static_cast<time_t>(abs_ns / 1'000'000'000ull);
  spec.it_value.tv_nsec = static_cast<long>(abs_ns % 1'000'000'000ull);
  if (timerfd_settime(fd_->get(), TFD_TIMER_ABSTIME, &spec, nullptr) != 0)
    fail_errno("timerfd_settime");
}

void HostTimer::disarm() {
  itimerspec spec{};
  if (timerfd_settime(fd_->get(), 0, &spec, nullptr) != 0) fail_errno("timerfd_settime");
}

}  // namespace tandem
