// A one-shot host timer (timerfd) whose expiry runs a callback on an EventLoop's thread. Devices
// with deadlines (CLINT mtimecmp, RTC alarm) arm it at an absolute time on the clock they
// follow, so a deadline fires even while every hart sleeps.
#pragma once

#include <time.h>

#include <cstdint>
#include <functional>
#include <memory>

#include "base/event_loop.h"
#include "base/unique_fd.h"

namespace tandem {

class HostTimer {
 public:
  // clock: CLOCK_MONOTONIC or CLOCK_REALTIME. on_expiry runs on the loop's thread; it may outlive
  // this object by one call if the timer fires while being destroyed, so it must not capture
  // the HostTimer (devices capture a weak_ptr to themselves).
  HostTimer(EventLoop& loop, clockid_t clock, std::function<void()> on_expiry);
  ~HostTimer();
  HostTimer(const HostTimer&) = delete;
  HostTimer& operator=(const HostTimer&) = delete;

  // Fires once at abs_ns on the clock (at once if that time has passed). Replaces any earlier
  // arming. Callable from any thread.
  void arm_at(uint64_t abs_ns);
  void disarm();

 private:
  EventLoop& loop_;
  std::shared_ptr<UniqueFd> fd_;
};

}  // namespace tandem
