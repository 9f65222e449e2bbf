// Soft-float core. Every finite operation computes an exact (or exactly sticky-jammed) result
// as an integer significand times a power of two, then rounds once in round_pack(). The
// intermediates keep at least two guard bits above the jammed sticky bit, which is what makes
// the single rounding exact.
#include "target/riscv/fp.h"

#include <algorithm>

#include "target/riscv/cpu_state.h"

namespace tandem::riscv::fp {
namespace {

using u128 = unsigned __int128;

template <int kExpBits, int kFracBits>
struct Format {
  static constexpr int kM = kFracBits;
  static constexpr int kP = kFracBits + 1;  // precision
  static constexpr int kBias = (1 << (kExpBits - 1)) - 1;
  static constexpr int kEmin = 1 - kBias;
  static constexpr int kMaxExpField = (1 << kExpBits) - 1;
  static constexpr uint64_t kFracMask = (1ull << kFracBits) - 1;
  static constexpr uint64_t kSign = 1ull << (kExpBits + kFracBits);
  static constexpr uint64_t kQuiet = 1ull << (kFracBits - 1);
  static constexpr uint64_t kInf = static_cast<uint64_t>(kMaxExpField) << kFracBits;
  static constexpr uint64_t kNaN = kInf | kQuiet;
  static constexpr uint64_t kMaxFinite = kInf - 1;

  static bool sign(uint64_t x) { return x & kSign; }
  static int exp_field(uint64_t x) { return static_cast<int>((x >> kM) & kMaxExpField); }
  static uint64_t frac(uint64_t x) { return x & kFracMask; }
  static bool is_nan(uint64_t x) { return exp_field(x) == kMaxExpField && frac(x) != 0; }
  static bool is_snan(uint64_t x) { return is_nan(x) && !(x & kQuiet); }
  static bool is_inf(uint64_t x) { return exp_field(x) == kMaxExpField && frac(x) == 0; }
  static bool is_zero(uint64_t x) { return (x & ~kSign) == 0; }
  static uint64_t signed_zero(bool s) { return s ? kSign : 0; }
};
using F32 = Format<8, 23>;
using F64 = Format<11, 52>;

int msb128(u128 v) {
  const uint64_t hi = static_cast<uint64_t>(v >> 64);
  if (hi) return 127 - __builtin_clzll(hi);
  return 63 - __builtin_clzll(static_cast<uint64_t>(v));
}

u128 shift_right_jam(u128 v, int n) {
  if (n <= 0) return v;
  if (n >= 128) return v != 0;
  return (v >> n) | ((v & ((static_cast<u128>(1) << n) - 1)) != 0);
}

// A finite nonzero value: sig * 2^exp.
struct Finite {
  bool sign;
  int exp;
  uint64_t sig;
};

template <class F>
Finite unpack(uint64_t x) {
  const int e = F::exp_field(x);
  if (e == 0) return {F::sign(x), F::kEmin - F::kM, F::frac(x)};
  return {F::sign(x), e - F::kBias - F::kM, F::frac(x) | (1ull << F::kM)};
}

// Rounds sig / 2^shift to an integer in mode rm; `inexact` reports discarded bits.
u128 shift_round(u128 sig, int shift, bool sign, unsigned rm, bool& inexact) {
  if (shift <= 0) {
    inexact = false;
    return sig << -shift;
  }
  u128 kept, rem, half;
  bool above_half, at_half;
  if (shift < 128) {
    kept = sig >> shift;
    rem = sig & ((static_cast<u128>(1) << shift) - 1);
    half = static_cast<u128>(1) << (shift - 1);
    above_half = rem > half;
    at_half = rem == half;
  } else {
    kept = 0;
    rem = sig;
    half = static_cast<u128>(1) << 127;
    above_half = shift == 128 && rem > half;
    at_half = shift == 128 && rem == half;
  }
  inexact = rem != 0;
  bool up = false;
  switch (rm) {
    case kRNE:
      up = above_half || (at_half && (kept & 1));
      break;
    case kRTZ:
      up = false;
      break;
    case kRDN:
      up = sign && inexact;
      break;
    case kRUP:
      up = !sign && inexact;
      break;
    default:
      up = above_half || at_half;
      break;  // kRMM
  }
  return kept + up;
}

// Rounds the exact value (-1)^sign * sig * 2^exp (sig != 0, possibly sticky-jammed) to F.
template <class F>
uint64_t round_pack(bool sign, int exp, u128 sig, unsigned rm, uint32_t& flags) {
  const int msb = msb128(sig);
  const int e = exp + msb;  // value in [2^e, 2^(e+1))
  int lsb_e = std::max(e, F::kEmin) - F::kM;
  bool inexact = false;
  u128 kept = shift_round(sig, lsb_e - exp, sign, rm, inexact);
  if (kept >> F::kP) {  // rounding carried into a new binade
    kept >>= 1;
    ++lsb_e;
  }
  bool tiny = false;
  if (e < F::kEmin - 1) {
    tiny = true;
  } else if (e == F::kEmin - 1) {
    // Tininess after rounding: would rounding with an unbounded exponent reach 2^emin?
    bool ignored;
    const u128 unbounded = shift_round(sig, e - F::kM - exp, sign, rm, ignored);
    tiny = !(unbounded >> F::kP);
  }
  const uint64_t sign_bit = sign ? F::kSign : 0;
  uint64_t bits;
  if (kept >> F::kM) {
    const int biased = lsb_e + F::kM + F::kBias;
    if (biased >= F::kMaxExpField) {
      flags |= kOF | kNX;
      const bool to_inf = rm == kRNE || rm == kRMM || (rm == kRDN && sign) || (rm == kRUP && !sign);
      return sign_bit | (to_inf ? F::kInf : F::kMaxFinite);
    }
    bits = static_cast<uint64_t>(biased) << F::kM | (static_cast<uint64_t>(kept) & F::kFracMask);
  } else {
    bits = static_cast<uint64_t>(kept);  // subnormal or zero
  }
  if (inexact) {
    flags |= kNX;
    if (tiny) flags |= kUF;
  }
  return sign_bit | bits;
}

// Sum of two finite nonzero exact values, rounded once.
template <class F>
uint64_t add_exact(bool sx, int ex, u128 x, bool sy, int ey, u128 y, unsigned rm, uint32_t& flags) {
  // Normalize both to bit 125: the operand with the larger exponent is then the larger one.
  int nx = 125 - msb128(x), ny = 125 - msb128(y);
  x <<= nx;
  ex -= nx;
  y <<= ny;
  ey -= ny;
  if (ex < ey) {
    std::swap(sx, sy);
    std::swap(ex, ey);
    std::swap(x, y);
  }
  y = shift_right_jam(y, ex - ey);
  if (sx == sy) return round_pack<F>(sx, ex, x + y, rm, flags);
  if (x == y) return F::signed_zero(rm == kRDN);
  if (x > y) return round_pack<F>(sx, ex, x - y, rm, flags);
  return round_pack<F>(sy, ex, y - x, rm, flags);
}

template <class F>
uint64_t nan_result(uint64_t a, uint64_t b, uint32_t& flags) {
  if (F::is_snan(a) || F::is_snan(b)) flags |= kNV;
  return F::kNaN;
}

template <class F>
uint64_t add(uint64_t a, uint64_t b, unsigned rm, uint32_t& flags) {
  if (F::is_nan(a) || F::is_nan(b)) return nan_result<F>(a, b, flags);
  if (F::is_inf(a)) {
    if (F::is_inf(b) && F::sign(a) != F::sign(b)) {
      flags |= kNV;
      return F::kNaN;
    }
    return a;
  }
  if (F::is_inf(b)) return b;
  if (F::is_zero(a) && F::is_zero(b)) {
    return F::sign(a) == F::sign(b) ? a : F::signed_zero(rm == kRDN);
  }
  if (F::is_zero(a)) return b;
  if (F::is_zero(b)) return a;
  const Finite x = unpack<F>(a), y = unpack<F>(b);
  return add_exact<F>(x.sign, x.exp, x.sig, y.sign, y.exp, y.sig, rm, flags);
}

template <class F>
uint64_t mul(uint64_t a, uint64_t b, unsigned rm, uint32_t& flags) {
  if (F::is_nan(a) || F::is_nan(b)) return nan_result<F>(a, b, flags);
  const bool sign = F::sign(a) != F::sign(b);
  if (F::is_inf(a) || F::is_inf(b)) {
    if (F::is_zero(a) || F::is_zero(b)) {
      flags |= kNV;
      return F::kNaN;
    }
    return (sign ? F::kSign : 0) | F::kInf;
  }
  if (F::is_zero(a) || F::is_zero(b)) return F::signed_zero(sign);
  const Finite x = unpack<F>(a), y = unpack<F>(b);
  return round_pack<F>(sign, x.exp + y.exp, static_cast<u128>(x.sig) * y.sig, rm, flags);
}

template <class F>
uint64_t div(uint64_t a, uint64_t b, unsigned rm, uint32_t& flags) {
  if (F::is_nan(a) || F::is_nan(b)) return nan_result<F>(a, b, flags);
  const bool sign = F::sign(a) != F::sign(b);
  const uint64_t inf = (sign ? F::kSign : 0) | F::kInf;
  if (F::is_inf(a)) {
    if (F::is_inf(b)) {
      flags |= kNV;
      return F::kNaN;
    }
    return inf;
  }
  if (F::is_inf(b)) return F::signed_zero(sign);
  if (F::is_zero(b)) {
    if (F::is_zero(a)) {
      flags |= kNV;
      return F::kNaN;
    }
    flags |= kDZ;
    return inf;
  }
  if (F::is_zero(a)) return F::signed_zero(sign);
  Finite x = unpack<F>(a), y = unpack<F>(b);
  // Normalize both significands to P bits so the quotient has 74 or 75 bits.
  const int nx = F::kM - msb128(x.sig), ny = F::kM - msb128(y.sig);
  const u128 num = static_cast<u128>(x.sig << nx) << 74;
  const uint64_t den = y.sig << ny;
  u128 q = num / den;
  if (num % den) q |= 1;
  return round_pack<F>(sign, (x.exp - nx) - 74 - (y.exp - ny), q, rm, flags);
}

template <class F>
uint64_t sqrt(uint64_t a, unsigned rm, uint32_t& flags) {
  if (F::is_nan(a)) return nan_result<F>(a, a, flags);
  if (F::is_zero(a)) return a;
  if (F::sign(a)) {
    flags |= kNV;
    return F::kNaN;
  }
  if (F::is_inf(a)) return a;
  const Finite x = unpack<F>(a);
  int shift = 124 - msb128(x.sig);
  if ((x.exp - shift) & 1) ++shift;  // make the exponent even
  u128 op = static_cast<u128>(x.sig) << shift;
  const int exp = x.exp - shift;
  u128 res = 0, one = static_cast<u128>(1) << 126;
  while (one > op) one >>= 2;
  while (one != 0) {
    if (op >= res + one) {
      op -= res + one;
      res = (res >> 1) + one;
    } else {
      res >>= 1;
    }
    one >>= 2;
  }
  if (op != 0) res |= 1;
  return round_pack<F>(false, exp / 2, res, rm, flags);
}

template <class F>
uint64_t fma(uint64_t a, uint64_t b, uint64_t c, bool neg_product, bool neg_addend, unsigned rm,
             uint32_t& flags) {
  const bool inf_times_zero = (F::is_inf(a) && F::is_zero(b)) || (F::is_zero(a) && F::is_inf(b));
  if (F::is_nan(a) || F::is_nan(b) || F::is_nan(c)) {
    // The spec requires NV for inf * 0 even when the addend is a quiet NaN.
    if (F::is_snan(a) || F::is_snan(b) || F::is_snan(c) || inf_times_zero) flags |= kNV;
    return F::kNaN;
  }
  if (inf_times_zero) {
    flags |= kNV;
    return F::kNaN;
  }
  const bool ps = (F::sign(a) != F::sign(b)) != neg_product;
  const bool cs = F::sign(c) != neg_addend;
  const uint64_t cv = (c & ~F::kSign) | (cs ? F::kSign : 0);
  if (F::is_inf(a) || F::is_inf(b)) {
    if (F::is_inf(c) && cs != ps) {
      flags |= kNV;
      return F::kNaN;
    }
    return (ps ? F::kSign : 0) | F::kInf;
  }
  if (F::is_inf(c)) return cv;
  if (F::is_zero(a) || F::is_zero(b)) {
    if (F::is_zero(c)) return ps == cs ? F::signed_zero(ps) : F::signed_zero(rm == kRDN);
    return cv;
  }
  const Finite x = unpack<F>(a), y = unpack<F>(b);
  const u128 product = static_cast<u128>(x.sig) * y.sig;
  if (F::is_zero(c)) return round_pack<F>(ps, x.exp + y.exp, product, rm, flags);
  const Finite z = unpack<F>(c);
  return add_exact<F>(ps, x.exp + y.exp, product, cs, z.exp, z.sig, rm, flags);
}

// True when a < b as numbers, for non-NaN operands (-0 and +0 are equal).
template <class F>
bool less(uint64_t a, uint64_t b) {
  if (F::is_zero(a) && F::is_zero(b)) return false;
  if (F::sign(a) != F::sign(b)) return F::sign(a);
  return F::sign(a) ? a > b : a < b;
}

template <class F>
uint64_t minmax(uint64_t a, uint64_t b, bool want_max, uint32_t& flags) {
  if (F::is_snan(a) || F::is_snan(b)) flags |= kNV;
  if (F::is_nan(a) && F::is_nan(b)) return F::kNaN;
  if (F::is_nan(a)) return b;
  if (F::is_nan(b)) return a;
  // -0 is below +0 here, unlike in comparisons.
  bool a_less;
  if (F::sign(a) != F::sign(b)) {
    a_less = F::sign(a);
  } else {
    a_less = F::sign(a) ? a > b : a < b;
  }
  return a_less == want_max ? b : a;
}

template <class F>
bool eq(uint64_t a, uint64_t b, uint32_t& flags) {
  if (F::is_nan(a) || F::is_nan(b)) {
    if (F::is_snan(a) || F::is_snan(b)) flags |= kNV;
    return false;
  }
  return a == b || (F::is_zero(a) && F::is_zero(b));
}

template <class F>
bool lt(uint64_t a, uint64_t b, uint32_t& flags) {
  if (F::is_nan(a) || F::is_nan(b)) {
    flags |= kNV;
    return false;
  }
  return less<F>(a, b);
}

template <class F>
bool le(uint64_t a, uint64_t b, uint32_t& flags) {
  if (F::is_nan(a) || F::is_nan(b)) {
    flags |= kNV;
    return false;
  }
  return !less<F>(b, a);
}

template <class F>
uint32_t classify(uint64_t a) {
  const bool s = F::sign(a);
  if (F::is_nan(a)) return F::is_snan(a) ? 1u << 8 : 1u << 9;
  if (F::is_inf(a)) return s ? 1u << 0 : 1u << 7;
  if (F::is_zero(a)) return s ? 1u << 3 : 1u << 4;
  if (F::exp_field(a) == 0) return s ? 1u << 2 : 1u << 5;
  return s ? 1u << 1 : 1u << 6;
}

template <class From, class To>
uint64_t convert(uint64_t a, unsigned rm, uint32_t& flags) {
  if (From::is_nan(a)) {
    if (From::is_snan(a)) flags |= kNV;
    return To::kNaN;
  }
  const bool s = From::sign(a);
  if (From::is_inf(a)) return (s ? To::kSign : 0) | To::kInf;
  if (From::is_zero(a)) return To::signed_zero(s);
  const Finite x = unpack<From>(a);
  return round_pack<To>(s, x.exp, x.sig, rm, flags);
}

// Float to a `width`-bit integer; the result is sign-extended from `width` bits.
template <class F>
uint64_t to_int(uint64_t a, unsigned rm, uint32_t& flags, bool is_signed, int width) {
  const u128 umax = (static_cast<u128>(1) << width) - 1;
  const u128 smax = (static_cast<u128>(1) << (width - 1)) - 1;
  const uint64_t max_pos = static_cast<uint64_t>(is_signed ? smax : umax);
  const uint64_t min_neg = is_signed ? static_cast<uint64_t>(-static_cast<__int128>(smax) - 1) : 0;
  auto finish = [&](uint64_t v) {
    if (width == 32) return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(v)));
    return v;
  };
  if (F::is_nan(a)) {
    flags |= kNV;
    return finish(max_pos);
  }
  const bool s = F::sign(a);
  if (F::is_inf(a)) {
    flags |= kNV;
    return finish(s ? min_neg : max_pos);
  }
  if (F::is_zero(a)) return 0;
  const Finite x = unpack<F>(a);
  bool inexact = false;
  u128 mag;
  bool overflow = false;
  if (x.exp > 64) {
    overflow = true;
    mag = 0;
  } else {
    mag = shift_round(x.sig, -x.exp, s, rm, inexact);
  }
  if (!overflow) {
    if (is_signed) {
      overflow = s ? mag > smax + 1 : mag > smax;
    } else {
      overflow = s ? mag != 0 : mag > umax;
    }
  }
  if (overflow) {
    flags |= kNV;
    return finish(s ? min_neg : max_pos);
  }
  if (inexact) flags |= kNX;
  const uint64_t m = static_cast<uint64_t>(mag);
  return finish(s ? 0 - m : m);
}

template <class F>
uint64_t from_int(bool sign, uint64_t mag, unsigned rm, uint32_t& flags) {
  if (mag == 0) return 0;
  return round_pack<F>(sign, 0, mag, rm, flags);
}

uint64_t magnitude(int64_t v) {
  return v < 0 ? 0 - static_cast<uint64_t>(v) : v;
}

}  // namespace

uint32_t f32_add(uint32_t a, uint32_t b, unsigned rm, uint32_t& flags) {
  return static_cast<uint32_t>(add<F32>(a, b, rm, flags));
}
uint32_t f32_sub(uint32_t a, uint32_t b, unsigned rm, uint32_t& flags) {
  return static_cast<uint32_t>(add<F32>(a, b ^ F32::kSign, rm, flags));
}
uint32_t f32_mul(uint32_t a, uint32_t b, unsigned rm, uint32_t& flags) {
  return static_cast<uint32_t>(mul<F32>(a, b, rm, flags));
}
uint32_t f32_div(uint32_t a, uint32_t b, unsigned rm, uint32_t& flags) {
  return static_cast<uint32_t>(div<F32>(a, b, rm, flags));
}
uint32_t f32_sqrt(uint32_t a, unsigned rm, uint32_t& flags) {
  return static_cast<uint32_t>(sqrt<F32>(a, rm, flags));
}
uint32_t f32_fma(uint32_t a, uint32_t b, uint32_t c, bool negate_product, bool negate_addend,
                 unsigned rm, uint32_t& flags) {
  return static_cast<uint32_t>(fma<F32>(a, b, c, negate_product, negate_addend, rm, flags));
}
uint32_t f32_min(uint32_t a, uint32_t b, uint32_t& flags) {
  return static_cast<uint32_t>(minmax<F32>(a, b, false, flags));
}
uint32_t f32_max(uint32_t a, uint32_t b, uint32_t& flags) {
  return static_cast<uint32_t>(minmax<F32>(a, b, true, flags));
}
bool f32_eq(uint32_t a, uint32_t b, uint32_t& flags) {
  return eq<F32>(a, b, flags);
}
bool f32_lt(uint32_t a, uint32_t b, uint32_t& flags) {
  return lt<F32>(a, b, flags);
}
bool f32_le(uint32_t a, uint32_t b, uint32_t& flags) {
  return le<F32>(a, b, flags);
}
uint32_t f32_classify(uint32_t a) {
  return classify<F32>(a);
}

uint64_t f64_add(uint64_t a, uint64_t b, unsigned rm, uint32_t& flags) {
  return add<F64>(a, b, rm, flags);
}
uint64_t f64_sub(uint64_t a, uint64_t b, unsigned rm, uint32_t& flags) {
  return add<F64>(a, b ^ F64::kSign, rm, flags);
}
uint64_t f64_mul(uint64_t a, uint64_t b, unsigned rm, uint32_t& flags) {
  return mul<F64>(a, b, rm, flags);
}
uint64_t f64_div(uint64_t a, uint64_t b, unsigned rm, uint32_t& flags) {
  return div<F64>(a, b, rm, flags);
}
uint64_t f64_sqrt(uint64_t a, unsigned rm, uint32_t& flags) {
  return sqrt<F64>(a, rm, flags);
}
uint64_t f64_fma(uint64_t a, uint64_t b, uint64_t c, bool negate_product, bool negate_addend,
                 unsigned rm, uint32_t& flags) {
  return fma<F64>(a, b, c, negate_product, negate_addend, rm, flags);
}
uint64_t f64_min(uint64_t a, uint64_t b, uint32_t& flags) {
  return minmax<F64>(a, b, false, flags);
}
uint64_t f64_max(uint64_t a, uint64_t b, uint32_t& flags) {
  return minmax<F64>(a, b, true, flags);
}
bool f64_eq(uint64_t a, uint64_t b, uint32_t& flags) {
  return eq<F64>(a, b, flags);
}
bool f64_lt(uint64_t a, uint64_t b, uint32_t& flags) {
  return lt<F64>(a, b, flags);
}
bool f64_le(uint64_t a, uint64_t b, uint32_t& flags) {
  return le<F64>(a, b, flags);
}
uint32_t f64_classify(uint64_t a) {
  return classify<F64>(a);
}

uint64_t f32_to_f64(uint32_t a, uint32_t& flags) {
  return convert<F32, F64>(a, kRNE, flags);
}
uint32_t f64_to_f32(uint64_t a, unsigned rm, uint32_t& flags) {
  return static_cast<uint32_t>(convert<F64, F32>(a, rm, flags));
}

uint64_t f32_to_i32(uint32_t a, unsigned rm, uint32_t& flags) {
  return to_int<F32>(a, rm, flags, true, 32);
}
uint64_t f32_to_u32(uint32_t a, unsigned rm, uint32_t& flags) {
  return to_int<F32>(a, rm, flags, false, 32);
}
uint64_t f32_to_i64(uint32_t a, unsigned rm, uint32_t& flags) {
  return to_int<F32>(a, rm, flags, true, 64);
}
uint64_t f32_to_u64(uint32_t a, unsigned rm, uint32_t& flags) {
  return to_int<F32>(a, rm, flags, false, 64);
}
uint64_t f64_to_i32(uint64_t a, unsigned rm, uint32_t& flags) {
  return to_int<F64>(a, rm, flags, true, 32);
}
uint64_t f64_to_u32(uint64_t a, unsigned rm, uint32_t& flags) {
  return to_int<F64>(a, rm, flags, false, 32);
}
uint64_t f64_to_i64(uint64_t a, unsigned rm, uint32_t& flags) {
  return to_int<F64>(a, rm, flags, true, 64);
}
uint64_t f64_to_u64(uint64_t a, unsigned rm, uint32_t& flags) {
  return to_int<F64>(a, rm, flags, false, 64);
}

uint32_t i32_to_f32(int32_t v, unsigned rm, uint32_t& flags) {
  return static_cast<uint32_t>(from_int<F32>(v < 0, magnitude(v), rm, flags));
}
uint32_t u32_to_f32(uint32_t v, unsigned rm, uint32_t& flags) {
  return static_cast<uint32_t>(from_int<F32>(false, v, rm, flags));
}
uint32_t i64_to_f32(int64_t v, unsigned rm, uint32_t& flags) {
  return static_cast<uint32_t>(from_int<F32>(v < 0, magnitude(v), rm, flags));
}
uint32_t u64_to_f32(uint64_t v, unsigned rm, uint32_t& flags) {
  return static_cast<uint32_t>(from_int<F32>(false, v, rm, flags));
}
uint64_t i32_to_f64(int32_t v, unsigned rm, uint32_t& flags) {
  return from_int<F64>(v < 0, magnitude(v), rm, flags);
}
uint64_t u32_to_f64(uint32_t v, unsigned rm, uint32_t& flags) {
  return from_int<F64>(false, v, rm, flags);
}
uint64_t i64_to_f64(int64_t v, unsigned rm, uint32_t& flags) {
  return from_int<F64>(v < 0, magnitude(v), rm, flags);
}
uint64_t u64_to_f64(uint64_t v, unsigned rm, uint32_t& flags) {
  return from_int<F64>(false, v, rm, flags);
}

}  // namespace tandem::riscv::fp
