// x86-64 instruction-set extensions the back end may use, probed once with cpuid.
#pragma once

namespace tandem::tcg {

struct HostFeatures {
  bool bmi1 = false;    // andn, tzcnt
  bool bmi2 = false;    // shlx/shrx/sarx, rorx
  bool lzcnt = false;   // lzcnt (ABM)
  bool popcnt = false;  // popcnt
  bool sse41 = false;   // roundsd/roundss
  bool fma = false;     // vfmadd*sd/ss (needs AVX/VEX)
  bool avx = false;

  // The features of this host (probed on first use).
  static const HostFeatures& host();
  // Only baseline x86-64 (SSE2): exercises every fallback path.
  static HostFeatures baseline() { return {}; }
};

}  // namespace tandem::tcg
