// Shared by the translator benchmark kernels: the work scale from argv[1] and the checksum
// line every kernel prints (bench/tcg/run.sh compares it across runners).
#ifndef TANDEM_BENCH_COMMON_H
#define TANDEM_BENCH_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static inline int bench_scale(int argc, char** argv) {
  int s = argc > 1 ? atoi(argv[1]) : 1;
  return s > 0 ? s : 1;
}

static inline void bench_result(const char* name, uint64_t checksum) {
  printf("%s checksum %016llx\n", name, (unsigned long long)checksum);
}

// A fixed pseudo-random sequence (xorshift64*): identical on every host.
static inline uint64_t bench_rand(uint64_t* s) {
  uint64_t x = *s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  return x * 0x2545f4914f6cdd1dull;
}

#endif
