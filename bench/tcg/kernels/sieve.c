// Sieve of Eratosthenes over 4 M numbers, repeated: byte stores with strides, a counting loop.
#include <string.h>

#include "bench_common.h"

enum { kN = 4 * 1024 * 1024 };
static uint8_t composite[kN];

int main(int argc, char** argv) {
  const int rounds = 10 * bench_scale(argc, argv);
  uint64_t sum = 0;
  for (int r = 0; r < rounds; ++r) {
    const uint32_t n = kN - (uint32_t)r * 1000;
    memset(composite, 0, n);
    for (uint32_t i = 2; (uint64_t)i * i < n; ++i)
      if (!composite[i])
        for (uint32_t j = i * i; j < n; j += i) composite[j] = 1;
    uint64_t count = 0, last = 0;
    for (uint32_t i = 2; i < n; ++i)
      if (!composite[i]) {
        ++count;
        last = i;
      }
    sum = sum * 1000003 + count * 7 + last;
  }
  bench_result("sieve", sum);
  return 0;
}
