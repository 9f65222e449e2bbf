// Soft-float tests. For the four rounding modes x86 also has (RNE, RTZ, RDN, RUP), results and
// flags are compared with the host's SSE/FMA3 instructions, which implement IEEE 754 with
// tininess detected after rounding, like RISC-V. RMM and the RISC-V specific rules (canonical
// NaNs, fmin/fmax, saturating conversions, NV for inf*0+qNaN) are checked against values
// worked out from the spec.
#include "target/riscv/fp.h"

#include <gtest/gtest.h>

#include <cfenv>
#include <cmath>
#include <cstring>
#include <random>

#include "target/riscv/cpu_state.h"

namespace tandem::riscv::fp {
namespace {

uint32_t host_flags() {
  const int e = std::fetestexcept(FE_ALL_EXCEPT);
  uint32_t f = 0;
  if (e & FE_INEXACT) f |= kNX;
  if (e & FE_UNDERFLOW) f |= kUF;
  if (e & FE_OVERFLOW) f |= kOF;
  if (e & FE_DIVBYZERO) f |= kDZ;
  if (e & FE_INVALID) f |= kNV;
  return f;
}

int host_mode(unsigned rm) {
  switch (rm) {
    case kRNE:
      return FE_TONEAREST;
    case kRTZ:
      return FE_TOWARDZERO;
    case kRDN:
      return FE_DOWNWARD;
    default:
      return FE_UPWARD;
  }
}

template <typename T, typename Bits>
T as(Bits b) {
  T v;
  std::memcpy(&v, &b, sizeof v);
  return v;
}
template <typename Bits, typename T>
Bits bits(T v) {
  Bits b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

enum class HostOp { kAdd, kSub, kMul, kDiv, kSqrt, kFma };

// The host operation under `rm`, in inline assembly so nothing is folded or moved across the
// rounding-mode change.
double host_d(HostOp op, double a, double b, double c) {
  switch (op) {
    case HostOp::kAdd:
      asm volatile("addsd %1, %0" : "+x"(a) : "x"(b) : "memory");
      break;
    case HostOp::kSub:
      asm volatile("subsd %1, %0" : "+x"(a) : "x"(b) : "memory");
      break;
    case HostOp::kMul:
      asm volatile("mulsd %1, %0" : "+x"(a) : "x"(b) : "memory");
      break;
    case HostOp::kDiv:
      asm volatile("divsd %1, %0" : "+x"(a) : "x"(b) : "memory");
      break;
    case HostOp::kSqrt:
      asm volatile("sqrtsd %1, %0" : "=x"(a) : "x"(a) : "memory");
      break;
    case HostOp::kFma:
      asm volatile("vfmadd231sd %2, %1, %0" : "+x"(c) : "x"(a), "x"(b) : "memory");
      a = c;
      break;
  }
  return a;
}
float host_s(HostOp op, float a, float b, float c) {
  switch (op) {
    case HostOp::kAdd:
      asm volatile("addss %1, %0" : "+x"(a) : "x"(b) : "memory");
      break;
    case HostOp::kSub:
      asm volatile("subss %1, %0" : "+x"(a) : "x"(b) : "memory");
      break;
    case HostOp::kMul:
      asm volatile("mulss %1, %0" : "+x"(a) : "x"(b) : "memory");
      break;
    case HostOp::kDiv:
      asm volatile("divss %1, %0" : "+x"(a) : "x"(b) : "memory");
      break;
    case HostOp::kSqrt:
      asm volatile("sqrtss %1, %0" : "=x"(a) : "x"(a) : "memory");
      break;
    case HostOp::kFma:
      asm volatile("vfmadd231ss %2, %1, %0" : "+x"(c) : "x"(a), "x"(b) : "memory");
      a = c;
      break;
  }
  return a;
}

bool cpu_has_fma() {
  return __builtin_cpu_supports("fma");
}

// Random operands biased toward the interesting places: specials, subnormals, the edges of
// the exponent range, and values whose results land near those edges.
class Gen {
 public:
  explicit Gen(uint64_t seed) : rng_(seed) {}
  uint64_t d() {
    static constexpr uint64_t kSpecial[] = {0,
                                            0x8000000000000000,
                                            0x7ff0000000000000,
                                            0xfff0000000000000,
                                            0x7ff8000000000000,
                                            0x7ff4000000000000,
                                            1,
                                            0x000fffffffffffff,
                                            0x0010000000000000,
                                            0x7fefffffffffffff,
                                            0x3ff0000000000000,
                                            0xbff0000000000000,
                                            0x3ff0000000000001,
                                            0x3cb0000000000000};
    const unsigned pick = rng_() % 16;
    uint64_t v;
    if (pick < 3) {
      v = kSpecial[rng_() % std::size(kSpecial)];
    } else if (pick < 8) {
      v = rng_();
    } else {
      // Exponent near the bottom, middle or top; short or full mantissa.
      static constexpr int kCenters[] = {0, 27, 511, 1023, 1023 + 52, 1996, 2046};
      int e = kCenters[rng_() % std::size(kCenters)] + static_cast<int>(rng_() % 61) - 30;
      e = std::clamp(e, 0, 2046);
      uint64_t frac = rng_() & 0xfffffffffffff;
      if (rng_() & 1) frac &= ~((1ull << (rng_() % 52)) - 1);
      v = (static_cast<uint64_t>(e) << 52) | frac;
    }
    if (rng_() & 1) v ^= 0x8000000000000000;
    return v;
  }
  uint32_t s() {
    static constexpr uint32_t kSpecial[] = {
        0,          0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0x7fa00000, 1,
        0x007fffff, 0x00800000, 0x7f7fffff, 0x3f800000, 0x3f800001, 0x33800000};
    const unsigned pick = rng_() % 16;
    uint32_t v;
    if (pick < 3) {
      v = kSpecial[rng_() % std::size(kSpecial)];
    } else if (pick < 8) {
      v = static_cast<uint32_t>(rng_());
    } else {
      static constexpr int kCenters[] = {0, 12, 63, 127, 127 + 23, 190, 254};
      int e = kCenters[rng_() % std::size(kCenters)] + static_cast<int>(rng_() % 31) - 15;
      e = std::clamp(e, 0, 254);
      uint32_t frac = static_cast<uint32_t>(rng_()) & 0x7fffff;
      if (rng_() & 1) frac &= ~((1u << (rng_() % 23)) - 1);
      v = (static_cast<uint32_t>(e) << 23) | frac;
    }
    if (rng_() & 1) v ^= 0x80000000;
    return v;
  }

 private:
  std::mt19937_64 rng_;
};

void check_double(HostOp op, uint64_t a, uint64_t b, uint64_t c, unsigned rm) {
  uint32_t flags = 0;
  uint64_t ours = 0;
  switch (op) {
    case HostOp::kAdd:
      ours = f64_add(a, b, rm, flags);
      break;
    case HostOp::kSub:
      ours = f64_sub(a, b, rm, flags);
      break;
    case HostOp::kMul:
      ours = f64_mul(a, b, rm, flags);
      break;
    case HostOp::kDiv:
      ours = f64_div(a, b, rm, flags);
      break;
    case HostOp::kSqrt:
      ours = f64_sqrt(a, rm, flags);
      break;
    case HostOp::kFma:
      ours = f64_fma(a, b, c, false, false, rm, flags);
      break;
  }
  std::fesetround(host_mode(rm));
  std::feclearexcept(FE_ALL_EXCEPT);
  const double h = host_d(op, as<double>(a), as<double>(b), as<double>(c));
  const uint32_t hf = host_flags();
  std::fesetround(FE_TONEAREST);
  const uint64_t hb = bits<uint64_t>(h);
  const bool host_nan = std::isnan(h);
  if (host_nan) {
    ASSERT_EQ(ours, kCanonicalNaN64) << std::hex << a << " " << b << " " << c << " rm " << rm;
  } else {
    ASSERT_EQ(ours, hb) << std::hex << "op " << int(op) << " a " << a << " b " << b << " c " << c
                        << " rm " << rm;
  }
  // x86 reports inf*0+qNaN as NV-free; RISC-V requires NV (checked separately).
  uint32_t expected_flags = hf;
  if (op == HostOp::kFma && std::isnan(as<double>(c)) &&
      ((std::isinf(as<double>(a)) && as<double>(b) == 0) ||
       (as<double>(a) == 0 && std::isinf(as<double>(b))))) {
    expected_flags |= kNV;
  }
  ASSERT_EQ(flags, expected_flags)
      << std::hex << "op " << int(op) << " a " << a << " b " << b << " c " << c << " rm " << rm;
}

void check_single(HostOp op, uint32_t a, uint32_t b, uint32_t c, unsigned rm) {
  uint32_t flags = 0;
  uint32_t ours = 0;
  switch (op) {
    case HostOp::kAdd:
      ours = f32_add(a, b, rm, flags);
      break;
    case HostOp::kSub:
      ours = f32_sub(a, b, rm, flags);
      break;
    case HostOp::kMul:
      ours = f32_mul(a, b, rm, flags);
      break;
    case HostOp::kDiv:
      ours = f32_div(a, b, rm, flags);
      break;
    case HostOp::kSqrt:
      ours = f32_sqrt(a, rm, flags);
      break;
    case HostOp::kFma:
      ours = f32_fma(a, b, c, false, false, rm, flags);
      break;
  }
  std::fesetround(host_mode(rm));
  std::feclearexcept(FE_ALL_EXCEPT);
  const float h = host_s(op, as<float>(a), as<float>(b), as<float>(c));
  const uint32_t hf = host_flags();
  std::fesetround(FE_TONEAREST);
  if (std::isnan(h)) {
    ASSERT_EQ(ours, kCanonicalNaN32) << std::hex << a << " " << b << " " << c;
  } else {
    ASSERT_EQ(ours, bits<uint32_t>(h))
        << std::hex << "op " << int(op) << " a " << a << " b " << b << " c " << c << " rm " << rm;
  }
  uint32_t expected_flags = hf;
  if (op == HostOp::kFma && std::isnan(as<float>(c)) &&
      ((std::isinf(as<float>(a)) && as<float>(b) == 0) ||
       (as<float>(a) == 0 && std::isinf(as<float>(b))))) {
    expected_flags |= kNV;
  }
  ASSERT_EQ(flags, expected_flags)
      << std::hex << "op " << int(op) << " a " << a << " b " << b << " c " << c << " rm " << rm;
}

constexpr HostOp kOps[] = {HostOp::kAdd, HostOp::kSub,  HostOp::kMul,
                           HostOp::kDiv, HostOp::kSqrt, HostOp::kFma};

TEST(SoftFloat, DoubleMatchesHostInFourModes) {
  Gen g(1);
  for (HostOp op : kOps) {
    if (op == HostOp::kFma && !cpu_has_fma()) continue;
    for (int i = 0; i < 40000; ++i) {
      uint64_t a = g.d(), b = g.d(), c = g.d();
      if (op == HostOp::kSqrt && (i & 1)) a &= ~0x8000000000000000ull;
      if (op == HostOp::kFma && (i & 3) == 0) {
        // Make the addend cancel most of the product to exercise the exact-sum path.
        uint32_t ignored = 0;
        c = f64_mul(a, b, kRNE, ignored) ^ 0x8000000000000000ull;
        if (i & 4) c ^= 1;
      }
      for (unsigned rm = 0; rm < 4; ++rm) {
        check_double(op, a, b, c, rm);
        if (HasFatalFailure()) return;
      }
    }
  }
}

TEST(SoftFloat, SingleMatchesHostInFourModes) {
  Gen g(2);
  for (HostOp op : kOps) {
    if (op == HostOp::kFma && !cpu_has_fma()) continue;
    for (int i = 0; i < 40000; ++i) {
      uint32_t a = g.s(), b = g.s(), c = g.s();
      if (op == HostOp::kSqrt && (i & 1)) a &= ~0x80000000u;
      if (op == HostOp::kFma && (i & 3) == 0) {
        uint32_t ignored = 0;
        c = f32_mul(a, b, kRNE, ignored) ^ 0x80000000u;
        if (i & 4) c ^= 1;
      }
      for (unsigned rm = 0; rm < 4; ++rm) {
        check_single(op, a, b, c, rm);
        if (HasFatalFailure()) return;
      }
    }
  }
}

TEST(SoftFloat, ConversionsMatchHostWhereInRange) {
  Gen g(3);
  for (int i = 0; i < 100000; ++i) {
    const uint64_t a = g.d();
    const double v = as<double>(a);
    for (unsigned rm = 0; rm < 4; ++rm) {
      // double -> float
      uint32_t flags = 0;
      const uint32_t ours = f64_to_f32(a, rm, flags);
      std::fesetround(host_mode(rm));
      std::feclearexcept(FE_ALL_EXCEPT);
      float h;
      asm volatile("cvtsd2ss %1, %0" : "=x"(h) : "x"(v) : "memory");
      const uint32_t hf = host_flags();
      std::fesetround(FE_TONEAREST);
      if (std::isnan(h)) {
        ASSERT_EQ(ours, kCanonicalNaN32);
      } else {
        ASSERT_EQ(ours, bits<uint32_t>(h)) << std::hex << a << " rm " << rm;
      }
      ASSERT_EQ(flags, hf) << std::hex << a << " rm " << rm;
      // double -> int64 where the host does not overflow.
      if (!std::isnan(v) && std::fabs(v) < 9.2e18) {
        flags = 0;
        const uint64_t oi = f64_to_i64(a, rm, flags);
        std::fesetround(host_mode(rm));
        std::feclearexcept(FE_ALL_EXCEPT);
        int64_t hi;
        asm volatile("cvtsd2si %1, %0" : "=r"(hi) : "x"(v) : "memory");
        const uint32_t hf2 = host_flags();
        std::fesetround(FE_TONEAREST);
        ASSERT_EQ(oi, static_cast<uint64_t>(hi)) << std::hex << a << " rm " << rm;
        ASSERT_EQ(flags, hf2) << std::hex << a << " rm " << rm;
      }
    }
    // int64 -> double / float
    const int64_t n = static_cast<int64_t>(a);
    for (unsigned rm = 0; rm < 4; ++rm) {
      uint32_t flags = 0;
      const uint64_t od = i64_to_f64(n, rm, flags);
      std::fesetround(host_mode(rm));
      std::feclearexcept(FE_ALL_EXCEPT);
      double hd;
      asm volatile("cvtsi2sd %1, %0" : "=x"(hd) : "r"(n) : "memory");
      const uint32_t hf = host_flags();
      std::fesetround(FE_TONEAREST);
      ASSERT_EQ(od, bits<uint64_t>(hd));
      ASSERT_EQ(flags, hf);
      flags = 0;
      const uint32_t os = i64_to_f32(n, rm, flags);
      std::fesetround(host_mode(rm));
      std::feclearexcept(FE_ALL_EXCEPT);
      float hs;
      asm volatile("cvtsi2ss %1, %0" : "=x"(hs) : "r"(n) : "memory");
      const uint32_t hf2 = host_flags();
      std::fesetround(FE_TONEAREST);
      ASSERT_EQ(os, bits<uint32_t>(hs));
      ASSERT_EQ(flags, hf2);
    }
  }
}

// ---- Spec-derived cases ----

constexpr uint32_t kOne32 = 0x3f800000;

TEST(SoftFloat, RoundToNearestMaxMagnitude) {
  uint32_t f = 0;
  // 1 + 2^-24 is a tie between 1 and 1 + 2^-23.
  EXPECT_EQ(f32_add(kOne32, 0x33800000, kRNE, f), kOne32);
  EXPECT_EQ(f32_add(kOne32, 0x33800000, kRMM, f), 0x3f800001u);
  EXPECT_EQ(f32_add(0xbf800000, 0xb3800000, kRMM, f), 0xbf800001u);
  // (1 + 2^-23) + 2^-24: tie, both modes go away from the even... RNE picks even (up here).
  EXPECT_EQ(f32_add(0x3f800001, 0x33800000, kRNE, f), 0x3f800002u);
  EXPECT_EQ(f32_add(0x3f800001, 0x33800000, kRMM, f), 0x3f800002u);
  // Just below a tie rounds down in RMM too.
  EXPECT_EQ(f32_add(kOne32, 0x337fffff, kRMM, f), kOne32);
  EXPECT_EQ(f, kNX);
  // Double: 1 + 2^-53.
  f = 0;
  EXPECT_EQ(f64_add(0x3ff0000000000000, 0x3ca0000000000000, kRMM, f), 0x3ff0000000000001u);
  EXPECT_EQ(f, kNX);
  // Conversions: 2.5 -> 3 and -2.5 -> -3 in RMM, 2 / -2 in RNE.
  f = 0;
  EXPECT_EQ(f64_to_i64(0x4004000000000000, kRMM, f), 3u);
  EXPECT_EQ(f64_to_i64(0xc004000000000000, kRMM, f), static_cast<uint64_t>(-3));
  EXPECT_EQ(f64_to_i64(0x4004000000000000, kRNE, f), 2u);
  EXPECT_EQ(f32_to_i32(0x40200000, kRMM, f), 3u);  // 2.5f
  // RMM overflow goes to infinity.
  f = 0;
  EXPECT_EQ(f32_mul(0x7f7fffff, 0x40000000, kRMM, f), 0x7f800000u);
  EXPECT_EQ(f, kOF | kNX);
  // A subnormal tie: 1.5 * 2^-149 -> 2^-148 (RMM), and tininess is reported with NX.
  f = 0;
  EXPECT_EQ(f32_mul(0x00000003, 0x3f000000, kRMM, f), 0x00000002u);
  EXPECT_EQ(f, kUF | kNX);
  f = 0;
  EXPECT_EQ(f32_mul(0x00000001, 0x3f000000, kRMM, f), 0x00000001u);
  EXPECT_EQ(f32_mul(0x00000001, 0x3f000000, kRNE, f), 0x00000000u);
}

TEST(SoftFloat, TininessAfterRounding) {
  // x = (1 - 2^-25) * 2^-126 is below 2^-126, but rounded to 24 bits with an unbounded
  // exponent it becomes 2^-126: not tiny after rounding, so RNE raises NX without UF.
  const uint64_t x = 0x380ffffff0000000;  // exactly (2 - 2^-24) * 2^-127 as a double
  uint32_t f = 0;
  EXPECT_EQ(f64_to_f32(x, kRNE, f), 0x00800000u);
  EXPECT_EQ(f, kNX);
  // In RTZ the result stays below 2^-126: tiny and inexact -> UF.
  f = 0;
  EXPECT_EQ(f64_to_f32(x, kRTZ, f), 0x007fffffu);
  EXPECT_EQ(f, kUF | kNX);
  // (1 - 2^-24) * 2^-126 needs only 24 bits: with an unbounded exponent it is exact and tiny,
  // so rounding it to the subnormal grid (a tie, to even = 2^-126) raises UF.
  f = 0;
  EXPECT_EQ(f32_mul(0x3f7fffff, 0x00800000, kRNE, f), 0x00800000u);
  EXPECT_EQ(f, kUF | kNX);
  // An exact subnormal result raises nothing.
  f = 0;
  EXPECT_EQ(f32_mul(0x00000002, 0x3f000000, kRNE, f), 0x00000001u);
  EXPECT_EQ(f, 0u);
}

TEST(SoftFloat, CanonicalNaNsAndInvalid) {
  uint32_t f = 0;
  EXPECT_EQ(f32_add(0x7fc01234, kOne32, kRNE, f), kCanonicalNaN32);  // qNaN: no flag
  EXPECT_EQ(f, 0u);
  EXPECT_EQ(f32_add(0x7f801234, kOne32, kRNE, f), kCanonicalNaN32);  // sNaN: NV
  EXPECT_EQ(f, kNV);
  f = 0;
  EXPECT_EQ(f64_sub(0x7ff0000000000000, 0x7ff0000000000000, kRNE, f), kCanonicalNaN64);
  EXPECT_EQ(f, kNV);
  f = 0;
  EXPECT_EQ(f64_sqrt(0xbff0000000000000, kRNE, f), kCanonicalNaN64);
  EXPECT_EQ(f, kNV);
  f = 0;
  EXPECT_EQ(f64_sqrt(0x8000000000000000, kRNE, f), 0x8000000000000000u);  // sqrt(-0) = -0
  EXPECT_EQ(f, 0u);
  f = 0;
  EXPECT_EQ(f64_div(0x3ff0000000000000, 0x8000000000000000, kRNE, f), 0xfff0000000000000u);
  EXPECT_EQ(f, kDZ);
  f = 0;
  EXPECT_EQ(f64_div(0, 0, kRNE, f), kCanonicalNaN64);
  EXPECT_EQ(f, kNV);
}

TEST(SoftFloat, FmaInfTimesZeroPlusQuietNaNIsInvalid) {
  uint32_t f = 0;
  EXPECT_EQ(f64_fma(0x7ff0000000000000, 0, 0x7ff8000000000000, false, false, kRNE, f),
            kCanonicalNaN64);
  EXPECT_EQ(f, kNV);
  f = 0;
  EXPECT_EQ(f32_fma(0, 0xff800000, 0x7fc00000, false, false, kRNE, f), kCanonicalNaN32);
  EXPECT_EQ(f, kNV);
  // A quiet NaN addend with finite product: no flag.
  f = 0;
  EXPECT_EQ(f32_fma(kOne32, kOne32, 0x7fc00000, false, false, kRNE, f), kCanonicalNaN32);
  EXPECT_EQ(f, 0u);
}

TEST(SoftFloat, FusedNegations) {
  uint32_t f = 0;
  const uint64_t two = 0x4000000000000000, three = 0x4008000000000000, one = 0x3ff0000000000000;
  EXPECT_EQ(f64_fma(two, three, one, false, false, kRNE, f), 0x401c000000000000u);  // 7
  EXPECT_EQ(f64_fma(two, three, one, false, true, kRNE, f), 0x4014000000000000u);   // 5
  EXPECT_EQ(f64_fma(two, three, one, true, false, kRNE, f), 0xc014000000000000u);   // -5
  EXPECT_EQ(f64_fma(two, three, one, true, true, kRNE, f), 0xc01c000000000000u);    // -7
  // Exact zero sums: +0 except in RDN.
  EXPECT_EQ(f64_fma(one, one, 0xbff0000000000000, false, false, kRNE, f), 0u);
  EXPECT_EQ(f64_fma(one, one, 0xbff0000000000000, false, false, kRDN, f), 0x8000000000000000u);
  // fnmadd(+0 * 1, -0): -(0) - (-0) = -0 + +0 = +0.
  EXPECT_EQ(f64_fma(0, one, 0x8000000000000000, true, true, kRNE, f), 0u);
  EXPECT_EQ(f, 0u);
  // Single rounding: fma(1+2^-52, 1-2^-52, -1) = -2^-104 exactly.
  EXPECT_EQ(
      f64_fma(0x3ff0000000000001, 0x3feffffffffffffe, 0xbff0000000000000, false, false, kRNE, f),
      0xb970000000000000u);
  EXPECT_EQ(f, 0u);
}

TEST(SoftFloat, MinMax2019) {
  uint32_t f = 0;
  EXPECT_EQ(f32_min(0x80000000, 0x00000000, f), 0x80000000u);  // -0 < +0
  EXPECT_EQ(f32_min(0x00000000, 0x80000000, f), 0x80000000u);
  EXPECT_EQ(f32_max(0x80000000, 0x00000000, f), 0x00000000u);
  EXPECT_EQ(f, 0u);
  EXPECT_EQ(f32_min(0x7fc00000, kOne32, f), kOne32);  // one quiet NaN: the other operand
  EXPECT_EQ(f, 0u);
  EXPECT_EQ(f32_max(kOne32, 0x7f800001, f), kOne32);  // signalling NaN: NV, other operand
  EXPECT_EQ(f, kNV);
  f = 0;
  EXPECT_EQ(f64_max(0x7ff8000000000001, 0x7ff8000000000002, f), kCanonicalNaN64);
  EXPECT_EQ(f, 0u);
  EXPECT_EQ(f64_min(0xc000000000000000, 0x3ff0000000000000, f), 0xc000000000000000u);
  EXPECT_EQ(f64_max(0xc000000000000000, 0xc008000000000000, f), 0xc000000000000000u);
}

TEST(SoftFloat, Compares) {
  uint32_t f = 0;
  EXPECT_TRUE(f32_eq(0x80000000, 0, f));
  EXPECT_FALSE(f32_lt(0x80000000, 0, f));
  EXPECT_TRUE(f32_le(0x80000000, 0, f));
  EXPECT_EQ(f, 0u);
  EXPECT_FALSE(f32_eq(0x7fc00000, 0x7fc00000, f));  // quiet: no flag for qNaN
  EXPECT_EQ(f, 0u);
  EXPECT_FALSE(f32_eq(0x7f800001, 0, f));  // sNaN: NV even in feq
  EXPECT_EQ(f, kNV);
  f = 0;
  EXPECT_FALSE(f64_lt(kCanonicalNaN64, 0, f));  // signalling compare: NV for qNaN
  EXPECT_EQ(f, kNV);
  f = 0;
  EXPECT_FALSE(f64_le(0, kCanonicalNaN64, f));
  EXPECT_EQ(f, kNV);
  f = 0;
  EXPECT_TRUE(f64_lt(0xbff0000000000000, 0x3ff0000000000000, f));
  EXPECT_TRUE(f64_lt(0xc000000000000000, 0xbff0000000000000, f));
  EXPECT_FALSE(f64_lt(0x3ff0000000000000, 0x3ff0000000000000, f));
}

TEST(SoftFloat, Classify) {
  EXPECT_EQ(f32_classify(0xff800000), 1u << 0);
  EXPECT_EQ(f32_classify(0xbf800000), 1u << 1);
  EXPECT_EQ(f32_classify(0x80000001), 1u << 2);
  EXPECT_EQ(f32_classify(0x80000000), 1u << 3);
  EXPECT_EQ(f32_classify(0x00000000), 1u << 4);
  EXPECT_EQ(f32_classify(0x00000001), 1u << 5);
  EXPECT_EQ(f32_classify(0x3f800000), 1u << 6);
  EXPECT_EQ(f32_classify(0x7f800000), 1u << 7);
  EXPECT_EQ(f32_classify(0x7f800001), 1u << 8);
  EXPECT_EQ(f32_classify(0x7fc00000), 1u << 9);
  EXPECT_EQ(f64_classify(0x7ff4000000000000), 1u << 8);
  EXPECT_EQ(f64_classify(0x7ff8000000000000), 1u << 9);
  EXPECT_EQ(f64_classify(0x000fffffffffffff), 1u << 5);
}

TEST(SoftFloat, SaturatingConversions) {
  uint32_t f = 0;
  EXPECT_EQ(f32_to_i32(0x7fc00000, kRNE, f), 0x7fffffffu);  // NaN -> max positive
  EXPECT_EQ(f, kNV);
  f = 0;
  EXPECT_EQ(f32_to_u32(0x7fc00000, kRNE, f), 0xffffffffffffffffu);  // sign-extended 2^32-1
  EXPECT_EQ(f64_to_i64(0x7ff8000000000000, kRNE, f), 0x7fffffffffffffffu);
  EXPECT_EQ(f64_to_u64(0x7ff8000000000000, kRNE, f), 0xffffffffffffffffu);
  EXPECT_EQ(f64_to_i32(0xfff0000000000000, kRNE, f), 0xffffffff80000000u);  // -inf -> INT_MIN
  EXPECT_EQ(f64_to_u32(0xfff0000000000000, kRNE, f), 0u);
  EXPECT_EQ(f64_to_i32(0x41e0000000000000, kRNE, f), 0x7fffffffu);  // 2^31 saturates
  f = 0;
  EXPECT_EQ(f64_to_i32(0xc1e0000000000000, kRNE, f), 0xffffffff80000000u);  // -2^31 is exact
  EXPECT_EQ(f, 0u);
  EXPECT_EQ(f64_to_u32(0xbff0000000000000, kRNE, f), 0u);  // -1.0 -> 0, NV
  EXPECT_EQ(f, kNV);
  f = 0;
  EXPECT_EQ(f64_to_u32(0xbfe0000000000000, kRTZ, f), 0u);  // -0.5 -> 0 with NX only
  EXPECT_EQ(f, kNX);
  f = 0;
  EXPECT_EQ(f64_to_u32(0xbfe0000000000000, kRDN, f), 0u);  // -0.5 rounds to -1: NV
  EXPECT_EQ(f, kNV);
  f = 0;
  EXPECT_EQ(f64_to_u64(0x43f0000000000000, kRNE, f), 0xffffffffffffffffu);  // 2^64
  EXPECT_EQ(f, kNV);
  f = 0;
  EXPECT_EQ(f64_to_u64(0x43efffffffffffff, kRNE, f), 0xfffffffffffff800u);
  EXPECT_EQ(f, 0u);
  EXPECT_EQ(f32_to_u32(0x4f800000, kRNE, f), 0xffffffffffffffffu);  // 2^32 saturates
  EXPECT_EQ(f, kNV);
  f = 0;
  EXPECT_EQ(f32_to_u32(0x4f7fffff, kRNE, f), 0xffffffffffffff00u);  // sign-extended result
  EXPECT_EQ(f, 0u);
}

TEST(SoftFloat, NaNBoxing) {
  EXPECT_EQ(unbox32(0xffffffff3f800000), kOne32);
  EXPECT_EQ(unbox32(0x000000003f800000), kCanonicalNaN32);
  EXPECT_EQ(unbox32(0xfffffffe3f800000), kCanonicalNaN32);
  EXPECT_EQ(box32(kOne32), 0xffffffff3f800000u);
}

TEST(SoftFloat, WidenNarrow) {
  uint32_t f = 0;
  EXPECT_EQ(f32_to_f64(0x00000001, f), 0x36a0000000000000u);  // smallest subnormal -> normal
  EXPECT_EQ(f32_to_f64(0x7f800001, f), kCanonicalNaN64);
  EXPECT_EQ(f, kNV);
  f = 0;
  EXPECT_EQ(f64_to_f32(0x7ff8000000000001, kRNE, f), kCanonicalNaN32);
  EXPECT_EQ(f, 0u);
  EXPECT_EQ(f64_to_f32(0x47efffffffffffff, kRTZ, f), 0x7f7fffffu);
  EXPECT_EQ(f, kNX);
  f = 0;
  EXPECT_EQ(u64_to_f32(0xffffffffffffffff, kRNE, f), 0x5f800000u);
  EXPECT_EQ(f, kNX);
  f = 0;
  EXPECT_EQ(u64_to_f64(0xffffffffffffffff, kRTZ, f), 0x43efffffffffffffu);
  EXPECT_EQ(u32_to_f32(0, kRNE, f), 0u);
  EXPECT_EQ(i32_to_f64(-1, kRNE, f), 0xbff0000000000000u);
}

}  // namespace
}  // namespace tandem::riscv::fp
