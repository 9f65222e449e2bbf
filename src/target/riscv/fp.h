// IEEE 754 binary32/binary64 arithmetic exactly as the RISC-V F and D extensions define it,
// in integer arithmetic (no host FP state involved): all five rounding modes, exact accrued
// flags (tininess detected after rounding), canonical NaNs for every generated NaN, the 2019
// fmin/fmax semantics, and saturating float-to-integer conversions.
//
// Values travel as raw bits (binary32 in the low 32 bits). `rm` must be a concrete mode
// 0..4 (kRNE..kRMM): resolve the dynamic mode before calling. Flags are ORed into `flags`.
// The translator may call these directly as helpers.
#pragma once

#include <cstdint>

namespace tandem::riscv::fp {

constexpr uint32_t kCanonicalNaN32 = 0x7fc00000u;
constexpr uint64_t kCanonicalNaN64 = 0x7ff8000000000000ull;

// NaN boxing of single-precision values in 64-bit f registers.
inline uint64_t box32(uint32_t v) {
  return 0xffffffff00000000ull | v;
}
inline uint32_t unbox32(uint64_t reg) {
  return (reg >> 32) == 0xffffffffu ? static_cast<uint32_t>(reg) : kCanonicalNaN32;
}

uint32_t f32_add(uint32_t a, uint32_t b, unsigned rm, uint32_t& flags);
uint32_t f32_sub(uint32_t a, uint32_t b, unsigned rm, uint32_t& flags);
uint32_t f32_mul(uint32_t a, uint32_t b, unsigned rm, uint32_t& flags);
uint32_t f32_div(uint32_t a, uint32_t b, unsigned rm, uint32_t& flags);
uint32_t f32_sqrt(uint32_t a, unsigned rm, uint32_t& flags);
// (negate_product ? -(a*b) : a*b) + (negate_addend ? -c : c), rounded once.
uint32_t f32_fma(uint32_t a, uint32_t b, uint32_t c, bool negate_product, bool negate_addend,
                 unsigned rm, uint32_t& flags);
uint32_t f32_min(uint32_t a, uint32_t b, uint32_t& flags);
uint32_t f32_max(uint32_t a, uint32_t b, uint32_t& flags);
bool f32_eq(uint32_t a, uint32_t b, uint32_t& flags);  // quiet
bool f32_lt(uint32_t a, uint32_t b, uint32_t& flags);  // signalling
bool f32_le(uint32_t a, uint32_t b, uint32_t& flags);  // signalling
uint32_t f32_classify(uint32_t a);

uint64_t f64_add(uint64_t a, uint64_t b, unsigned rm, uint32_t& flags);
uint64_t f64_sub(uint64_t a, uint64_t b, unsigned rm, uint32_t& flags);
uint64_t f64_mul(uint64_t a, uint64_t b, unsigned rm, uint32_t& flags);
uint64_t f64_div(uint64_t a, uint64_t b, unsigned rm, uint32_t& flags);
uint64_t f64_sqrt(uint64_t a, unsigned rm, uint32_t& flags);
uint64_t f64_fma(uint64_t a, uint64_t b, uint64_t c, bool negate_product, bool negate_addend,
                 unsigned rm, uint32_t& flags);
uint64_t f64_min(uint64_t a, uint64_t b, uint32_t& flags);
uint64_t f64_max(uint64_t a, uint64_t b, uint32_t& flags);
bool f64_eq(uint64_t a, uint64_t b, uint32_t& flags);
bool f64_lt(uint64_t a, uint64_t b, uint32_t& flags);
bool f64_le(uint64_t a, uint64_t b, uint32_t& flags);
uint32_t f64_classify(uint64_t a);

uint64_t f32_to_f64(uint32_t a, uint32_t& flags);
uint32_t f64_to_f32(uint64_t a, unsigned rm, uint32_t& flags);

// Float to integer, saturating with NV (NaN gives the largest positive value). The 32-bit
// forms return their result sign-extended to 64 bits, as the W instructions write it.
uint64_t f32_to_i32(uint32_t a, unsigned rm, uint32_t& flags);
uint64_t f32_to_u32(uint32_t a, unsigned rm, uint32_t& flags);
uint64_t f32_to_i64(uint32_t a, unsigned rm, uint32_t& flags);
uint64_t f32_to_u64(uint32_t a, unsigned rm, uint32_t& flags);
uint64_t f64_to_i32(uint64_t a, unsigned rm, uint32_t& flags);
uint64_t f64_to_u32(uint64_t a, unsigned rm, uint32_t& flags);
uint64_t f64_to_i64(uint64_t a, unsigned rm, uint32_t& flags);
uint64_t f64_to_u64(uint64_t a, unsigned rm, uint32_t& flags);

uint32_t i32_to_f32(int32_t v, unsigned rm, uint32_t& flags);
uint32_t u32_to_f32(uint32_t v, unsigned rm, uint32_t& flags);
uint32_t i64_to_f32(int64_t v, unsigned rm, uint32_t& flags);
uint32_t u64_to_f32(uint64_t v, unsigned rm, uint32_t& flags);
uint64_t i32_to_f64(int32_t v, unsigned rm, uint32_t& flags);
uint64_t u32_to_f64(uint32_t v, unsigned rm, uint32_t& flags);
uint64_t i64_to_f64(int64_t v, unsigned rm, uint32_t& flags);
uint64_t u64_to_f64(uint64_t v, unsigned rm, uint32_t& flags);

}  // namespace tandem::riscv::fp
