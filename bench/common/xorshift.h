// The benchmarks' random offsets: xorshift64, the same sequence as the test guests' drivers
// (tests/guests/x86/drivers/virtio_bench.c), so a guest and the host program it is compared
// with read the same blocks.
#pragma once

#include <cstdint>

namespace tandem::bench {

inline uint64_t xorshift(uint64_t* s) {
  uint64_t x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *s = x;
}

}  // namespace tandem::bench
