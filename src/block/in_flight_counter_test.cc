#include "block/in_flight_counter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace tandem {
namespace {

TEST(InFlightCounter, CountsStartsFromBothSidesAndFinishes) {
  InFlightCounter c;
  EXPECT_EQ(c.count(), 0u);
  c.start(true);
  c.start(false);
  c.start(true);
  EXPECT_EQ(c.count(), 3u);
  c.finish();
  c.finish();
  EXPECT_EQ(c.count(), 1u);
  c.finish();
  EXPECT_EQ(c.count(), 0u);
}

TEST(InFlightCounter, ReadersSeeOnlyCountsThatWereTrue) {
  // Other threads start requests and hand them to the "loop thread" (this one), which starts
  // and finishes many of its own too, and finishes every request; a reader watches the count
  // meanwhile. The true count never exceeds what the starters handed over plus one; a reader
  // that mixed old finishes with new starts would see far more (or wrap below zero).
  constexpr int kPerThread = 20000;
  InFlightCounter c;
  std::atomic<int> handed{0};
  std::atomic<bool> done{false};
  std::atomic<size_t> worst{0};
  std::thread reader([&] {
    while (!done.load()) {
      size_t n = c.count();
      if (n > worst.load()) worst = n;
    }
  });
  std::vector<std::thread> starters;
  for (int t = 0; t < 2; ++t) {
    starters.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        c.start(false);
        handed.fetch_add(1, std::memory_order_release);
      }
    });
  }
  int finished = 0;
  while (finished < 2 * kPerThread) {
    c.start(true);
    c.finish();
    if (finished < handed.load(std::memory_order_acquire)) {
      c.finish();
      ++finished;
    }
  }
  for (std::thread& t : starters) t.join();
  done = true;
  reader.join();
  EXPECT_EQ(c.count(), 0u);
  EXPECT_LE(worst.load(), static_cast<size_t>(2 * kPerThread + 1));
}

}  // namespace
}  // namespace tandem
