// Dense double-precision matrix multiply (i-k-j order), 240 x 240, repeated.
#include "bench_common.h"

enum { kN = 240 };
static double a[kN][kN], b[kN][kN], c[kN][kN];

int main(int argc, char** argv) {
  const int rounds = 50 * bench_scale(argc, argv);
  uint64_t s = 7;
  for (int i = 0; i < kN; ++i)
    for (int j = 0; j < kN; ++j) {
      a[i][j] = (double)(bench_rand(&s) % 2001) / 1000.0 - 1.0;
      b[i][j] = (double)(bench_rand(&s) % 2001) / 1000.0 - 1.0;
    }
  double total = 0;
  for (int r = 0; r < rounds; ++r) {
    for (int i = 0; i < kN; ++i)
      for (int j = 0; j < kN; ++j) c[i][j] = 0;
    for (int i = 0; i < kN; ++i)
      for (int k = 0; k < kN; ++k) {
        const double x = a[i][k];
        for (int j = 0; j < kN; ++j) c[i][j] += x * b[k][j];
      }
    for (int i = 0; i < kN; ++i) total += c[i][(i * 7 + r) % kN];
    a[r % kN][r % kN] += 0.5;
  }
  union {
    double d;
    uint64_t u;
  } bits = {total};
  bench_result("matmul", bits.u);
  return 0;
}
