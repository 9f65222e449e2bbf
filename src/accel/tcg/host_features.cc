#include "accel/tcg/host_features.h"

#include <cpuid.h>

namespace tandem::tcg {

namespace {

HostFeatures probe() {
  HostFeatures f;
  unsigned a, b, c, d;
  if (__get_cpuid(1, &a, &b, &c, &d)) {
    f.popcnt = c & (1u << 23);
    f.sse41 = c & (1u << 19);
    bool osxsave = c & (1u << 27);
    bool avx = c & (1u << 28);
    bool fma = c & (1u << 12);
    if (osxsave && avx) {
      unsigned lo, hi;
      __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
      bool ymm_state = (lo & 6) == 6;
      f.avx = ymm_state;
      f.fma = ymm_state && fma;
    }
  }
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
    f.bmi1 = b & (1u << 3);
    f.bmi2 = b & (1u << 8);
  }
  if (__get_cpuid(0x80000001, &a, &b, &c, &d)) f.lzcnt = c & (1u << 5);
  return f;
}

}  // namespace

const HostFeatures& HostFeatures::host() {
  static const HostFeatures f = probe();
  return f;
}

}  // namespace tandem::tcg
