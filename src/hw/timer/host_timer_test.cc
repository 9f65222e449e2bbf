#include "hw/timer/host_timer.h"

#include <gtest/gtest.h>

#include <atomic>

#include "hw/timer/clock.h"

namespace tandem {
namespace {

TEST(HostClock, MonotonicMovesForwardAndRealtimeIsNearTheEpochNow) {
  const Clock& c = host_clock();
  uint64_t a = c.monotonic_ns();
  uint64_t b = c.monotonic_ns();
  EXPECT_LE(a, b);
  // After 2020-01-01 and before 2100-01-01.
  EXPECT_GT(c.realtime_ns(), 1577836800ull * 1'000'000'000ull);
  EXPECT_LT(c.realtime_ns(), 4102444800ull * 1'000'000'000ull);
}

TEST(HostTimer, FiresOnceAtTheArmedTime) {
  EventLoop loop;
  int fired = 0;
  HostTimer timer(loop, CLOCK_MONOTONIC, [&] { ++fired; });
  uint64_t start = host_clock().monotonic_ns();
  timer.arm_at(start + 20'000'000);  // 20 ms
  while (fired == 0 && host_clock().monotonic_ns() < start + 2'000'000'000ull) loop.run_once(100);
  EXPECT_EQ(fired, 1);
  EXPECT_GE(host_clock().monotonic_ns(), start + 20'000'000);
  loop.run_once(50);  // one-shot: nothing more
  EXPECT_EQ(fired, 1);
}

TEST(HostTimer, PastTimeFiresAtOnceAndDisarmCancels) {
  EventLoop loop;
  int fired = 0;
  HostTimer timer(loop, CLOCK_REALTIME, [&] { ++fired; });
  timer.arm_at(1);
  loop.run_once(1000);
  EXPECT_EQ(fired, 1);
  timer.arm_at(host_clock().realtime_ns() + 30'000'000);
  timer.disarm();
  loop.run_once(80);
  EXPECT_EQ(fired, 1);
}

TEST(ManualClock, AdvancesBothClocks) {
  ManualClock c(100, 1000);
  c.advance(5);
  EXPECT_EQ(c.monotonic_ns(), 105u);
  EXPECT_EQ(c.realtime_ns(), 1005u);
  c.set_realtime(7);
  EXPECT_EQ(c.realtime_ns(), 7u);
}

}  // namespace
}  // namespace tandem
