// How many requests a block driver has in flight, counted without a locked instruction on the
// I/O thread's path (two of them per request were a measurable share of a 4 KiB read's cost).
//
// Requests finish on the driver's loop thread only (BlockDriver's contract), and most start
// there too: those counts have a single writer each and need plain stores. Requests started on
// other threads go to a shared counter with an atomic add. count() may be called anywhere: it
// returns a value the count really had while it ran.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace tandem {

class InFlightCounter {
 public:
  // on_loop_thread: the caller is the thread driving the driver's loop.
  void start(bool on_loop_thread) {
    if (on_loop_thread) {
      bump(loop_started_);
    } else {
      other_started_.fetch_add(1, std::memory_order_acq_rel);
    }
  }
  // On the loop thread.
  void finish() { bump(finished_); }
  size_t count() const {
    // The three counters cannot be read at one instant. Read the finishes before and after the
    // starts: if no request finished meanwhile, the result lies between the true counts at the
    // first and the last read (starts only grow), so it is one the counter really had on the
    // way. The loop thread finishes a request every few hundred nanoseconds at most, and this is
    // read seldom (tests, draining), so the retry ends at once.
    for (;;) {
      const uint64_t finished = finished_.load(std::memory_order_acquire);
      const uint64_t started = loop_started_.load(std::memory_order_acquire) +
                               other_started_.load(std::memory_order_acquire);
      if (finished_.load(std::memory_order_acquire) == finished) {
        return static_cast<size_t>(started - finished);
      }
    }
  }

 private:
  // Single writer: a load and a store, no read-modify-write.
  static void bump(std::atomic<uint64_t>& c) {
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }

  std::atomic<uint64_t> loop_started_{0};
  std::atomic<uint64_t> other_started_{0};
  std::atomic<uint64_t> finished_{0};
};

}  // namespace tandem
