// Host time for the benchmarks: a monotonic nanosecond clock and the TSC rate (guests under
// KVM read the same TSC: this host's KVM does no TSC scaling).
#pragma once

#include <x86intrin.h>

#include <cstdint>
#include <ctime>

namespace tandem::bench {

inline double now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

// Measured over 200 ms.
inline uint64_t host_tsc_khz() {
  const double t0 = now_ns();
  const uint64_t c0 = __rdtsc();
  while (now_ns() - t0 < 200e6) {
  }
  const double t1 = now_ns();
  const uint64_t c1 = __rdtsc();
  return static_cast<uint64_t>((c1 - c0) / ((t1 - t0) / 1e6));
}

}  // namespace tandem::bench
