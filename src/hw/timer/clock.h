// Where devices read time from. Devices take a Clock so that tests (and, later, record/replay)
// can drive time by hand; the machine passes host_clock().
#pragma once

#include <atomic>
#include <cstdint>

namespace tandem {

class Clock {
 public:
  virtual ~Clock() = default;
  // Nanoseconds on CLOCK_MONOTONIC (never jumps; for timers such as the CLINT's mtime).
  virtual uint64_t monotonic_ns() const = 0;
  // Nanoseconds since the Unix epoch on CLOCK_REALTIME (wall clock; for RTCs).
  virtual uint64_t realtime_ns() const = 0;
};

// The host's clocks.
const Clock& host_clock();

// A clock that moves only when told to (tests).
class ManualClock : public Clock {
 public:
  explicit ManualClock(uint64_t monotonic = 0, uint64_t realtime = 0)
      : monotonic_(monotonic), realtime_(realtime) {}
  uint64_t monotonic_ns() const override { return monotonic_.load(); }
  uint64_t realtime_ns() const override { return realtime_.load(); }
  void advance(uint64_t ns) {
    monotonic_ += ns;
    realtime_ += ns;
  }
  void set_realtime(uint64_t ns) { realtime_ = ns; }

 private:
  std::atomic<uint64_t> monotonic_;
  std::atomic<uint64_t> realtime_;
};

}  // namespace tandem
