// Naive recursive Fibonacci: calls, returns (indirect jumps through ra), stack traffic.
#include "bench_common.h"

__attribute__((noinline)) static uint64_t fib(uint32_t n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

int main(int argc, char** argv) {
  const int scale = bench_scale(argc, argv);
  uint64_t sum = 0;
  for (int i = 0; i < scale; ++i) sum = sum * 3 + fib(38 + (argc > 5));
  bench_result("fib", sum);
  return 0;
}
