// The F and D extensions. Arithmetic in round-to-nearest-even runs inline on SSE (the guest
// MXCSR accrues the flags, which match RISC-V's for these operations; NaN results are
// canonicalised); other rounding modes, fmin/fmax, fclass and the rarer conversions call the
// exact soft-float helpers in fp.h.
#include "target/riscv/fp.h"
#include "target/riscv/translate_internal.h"

namespace tandem::riscv::translate_detail {

namespace {

using H = const void*;

// ---- helpers (CpuState* first; flags accrue in env->fflags) -----------------------------
#define BIN_HELPER(name, fn, T)                                                                \
  uint64_t name(CpuState* e, uint64_t a, uint64_t b, uint64_t rm) {                            \
    return fp::fn(static_cast<T>(a), static_cast<T>(b), static_cast<unsigned>(rm), e->fflags); \
  }
BIN_HELPER(h_f32_add, f32_add, uint32_t)
BIN_HELPER(h_f32_sub, f32_sub, uint32_t)
BIN_HELPER(h_f32_mul, f32_mul, uint32_t)
BIN_HELPER(h_f32_div, f32_div, uint32_t)
BIN_HELPER(h_f64_add, f64_add, uint64_t)
BIN_HELPER(h_f64_sub, f64_sub, uint64_t)
BIN_HELPER(h_f64_mul, f64_mul, uint64_t)
BIN_HELPER(h_f64_div, f64_div, uint64_t)
#undef BIN_HELPER

uint64_t h_f32_sqrt(CpuState* e, uint64_t a, uint64_t rm) {
  return fp::f32_sqrt(static_cast<uint32_t>(a), static_cast<unsigned>(rm), e->fflags);
}
uint64_t h_f64_sqrt(CpuState* e, uint64_t a, uint64_t rm) {
  return fp::f64_sqrt(a, static_cast<unsigned>(rm), e->fflags);
}
uint64_t h_f32_min(CpuState* e, uint64_t a, uint64_t b) {
  return fp::f32_min(static_cast<uint32_t>(a), static_cast<uint32_t>(b), e->fflags);
}
uint64_t h_f32_max(CpuState* e, uint64_t a, uint64_t b) {
  return fp::f32_max(static_cast<uint32_t>(a), static_cast<uint32_t>(b), e->fflags);
}
uint64_t h_f64_min(CpuState* e, uint64_t a, uint64_t b) {
  return fp::f64_min(a, b, e->fflags);
}
uint64_t h_f64_max(CpuState* e, uint64_t a, uint64_t b) {
  return fp::f64_max(a, b, e->fflags);
}
uint64_t h_f32_class(uint64_t a) {
  return fp::f32_classify(static_cast<uint32_t>(a));
}
uint64_t h_f64_class(uint64_t a) {
  return fp::f64_classify(a);
}
uint64_t h_f64_to_f32(CpuState* e, uint64_t a, uint64_t rm) {
  return fp::f64_to_f32(a, static_cast<unsigned>(rm), e->fflags);
}

template <bool D, int K, unsigned RM>
uint64_t h_fma(CpuState* e, uint64_t a, uint64_t b, uint64_t c) {
  constexpr bool np = K >= 2;            // fnmsub, fnmadd negate the product
  constexpr bool na = K == 1 || K == 3;  // fmsub, fnmadd negate the addend
  if constexpr (D) {
    return fp::f64_fma(a, b, c, np, na, RM, e->fflags);
  } else {
    return fp::f32_fma(static_cast<uint32_t>(a), static_cast<uint32_t>(b), static_cast<uint32_t>(c),
                       np, na, RM, e->fflags);
  }
}
template <bool D, int K>
const H kFmaRow[5] = {reinterpret_cast<H>(&h_fma<D, K, 0>), reinterpret_cast<H>(&h_fma<D, K, 1>),
                      reinterpret_cast<H>(&h_fma<D, K, 2>), reinterpret_cast<H>(&h_fma<D, K, 3>),
                      reinterpret_cast<H>(&h_fma<D, K, 4>)};
H fma_helper(bool d, int k, unsigned rm) {
  static const H* const rows[2][4] = {
      {kFmaRow<false, 0>, kFmaRow<false, 1>, kFmaRow<false, 2>, kFmaRow<false, 3>},
      {kFmaRow<true, 0>, kFmaRow<true, 1>, kFmaRow<true, 2>, kFmaRow<true, 3>}};
  return rows[d][k][rm];
}

// Float -> integer, kind 0 i32, 1 u32, 2 i64, 3 u64.
using CvtFn32 = uint64_t (*)(uint32_t, unsigned, uint32_t&);
using CvtFn64 = uint64_t (*)(uint64_t, unsigned, uint32_t&);
template <bool D, int KIND>
uint64_t h_to_int(CpuState* e, uint64_t a, uint64_t rm) {
  if constexpr (D) {
    constexpr CvtFn64 fns[4] = {fp::f64_to_i32, fp::f64_to_u32, fp::f64_to_i64, fp::f64_to_u64};
    return fns[KIND](a, static_cast<unsigned>(rm), e->fflags);
  } else {
    constexpr CvtFn32 fns[4] = {fp::f32_to_i32, fp::f32_to_u32, fp::f32_to_i64, fp::f32_to_u64};
    return fns[KIND](static_cast<uint32_t>(a), static_cast<unsigned>(rm), e->fflags);
  }
}
// Slow path of the inline round-toward-zero conversion (called through the save-all thunk).
template <bool D, int KIND>
uint64_t h_to_int_rtz(CpuState* e, uint64_t a, uint64_t) {
  return h_to_int<D, KIND>(e, a, kRTZ);
}
H to_int_helper(bool d, int kind) {
  static const H t[2][4] = {
      {reinterpret_cast<H>(&h_to_int<false, 0>), reinterpret_cast<H>(&h_to_int<false, 1>),
       reinterpret_cast<H>(&h_to_int<false, 2>), reinterpret_cast<H>(&h_to_int<false, 3>)},
      {reinterpret_cast<H>(&h_to_int<true, 0>), reinterpret_cast<H>(&h_to_int<true, 1>),
       reinterpret_cast<H>(&h_to_int<true, 2>), reinterpret_cast<H>(&h_to_int<true, 3>)}};
  return t[d][kind];
}
H to_int_rtz_helper(bool d, int kind) {
  static const H t[2][4] = {
      {reinterpret_cast<H>(&h_to_int_rtz<false, 0>), reinterpret_cast<H>(&h_to_int_rtz<false, 1>),
       reinterpret_cast<H>(&h_to_int_rtz<false, 2>), reinterpret_cast<H>(&h_to_int_rtz<false, 3>)},
      {reinterpret_cast<H>(&h_to_int_rtz<true, 0>), reinterpret_cast<H>(&h_to_int_rtz<true, 1>),
       reinterpret_cast<H>(&h_to_int_rtz<true, 2>), reinterpret_cast<H>(&h_to_int_rtz<true, 3>)}};
  return t[d][kind];
}

// Integer -> float.
template <bool D, int KIND>
uint64_t h_from_int(CpuState* e, uint64_t v, uint64_t rm) {
  const unsigned r = static_cast<unsigned>(rm);
  if constexpr (D) {
    if constexpr (KIND == 0) return fp::i32_to_f64(static_cast<int32_t>(v), r, e->fflags);
    if constexpr (KIND == 1) return fp::u32_to_f64(static_cast<uint32_t>(v), r, e->fflags);
    if constexpr (KIND == 2) return fp::i64_to_f64(static_cast<int64_t>(v), r, e->fflags);
    return fp::u64_to_f64(v, r, e->fflags);
  } else {
    if constexpr (KIND == 0) return fp::i32_to_f32(static_cast<int32_t>(v), r, e->fflags);
    if constexpr (KIND == 1) return fp::u32_to_f32(static_cast<uint32_t>(v), r, e->fflags);
    if constexpr (KIND == 2) return fp::i64_to_f32(static_cast<int64_t>(v), r, e->fflags);
    return fp::u64_to_f32(v, r, e->fflags);
  }
}
H from_int_helper(bool d, int kind) {
  static const H t[2][4] = {
      {reinterpret_cast<H>(&h_from_int<false, 0>), reinterpret_cast<H>(&h_from_int<false, 1>),
       reinterpret_cast<H>(&h_from_int<false, 2>), reinterpret_cast<H>(&h_from_int<false, 3>)},
      {reinterpret_cast<H>(&h_from_int<true, 0>), reinterpret_cast<H>(&h_from_int<true, 1>),
       reinterpret_cast<H>(&h_from_int<true, 2>), reinterpret_cast<H>(&h_from_int<true, 3>)}};
  return t[d][kind];
}

constexpr uint8_t kEnv = tcg::kCallPassEnv;

// ---- translation -------------------------------------------------------------------------

struct Fp {
  Ctx& c;
  Ir& ir;
  const DecodedInsn& d;
  bool dbl;  // double precision
  Type ft() const { return dbl ? Type::kF64 : Type::kF32; }
  Temp src(unsigned r) { return dbl ? c.f64(r) : c.f32(r); }
  void set(unsigned r, Temp v) { dbl ? c.set_f64(r, v) : c.set_f32(r, v); }
  Temp rmc(unsigned rm) { return c.c64(rm); }

  // Resolved rounding mode, or -1 when reserved (illegal).
  int rm() const {
    unsigned r = d.rm == kDYN ? c.frm : d.rm;
    return r <= kRMM ? static_cast<int>(r) : -1;
  }

  bool arith(Opc o, H h32, H h64) {
    int r = rm();
    if (r < 0) return false;
    Temp a = src(d.rs1), b = src(d.rs2);
    Temp v =
        r == kRNE ? ir.binop(o, ft(), a, b) : ir.call(dbl ? h64 : h32, kEnv, ft(), a, b, rmc(r));
    set(d.rd, v);
    return true;
  }
  bool sqrt() {
    int r = rm();
    if (r < 0) return false;
    Temp a = src(d.rs1);
    Temp v = r == kRNE ? ir.unop(Opc::kFSqrt, ft(), a)
                       : ir.call(dbl ? reinterpret_cast<H>(&h_f64_sqrt)
                                     : reinterpret_cast<H>(&h_f32_sqrt),
                                 kEnv, ft(), a, rmc(r));
    set(d.rd, v);
    return true;
  }
  bool fma(int k) {
    int r = rm();
    if (r < 0) return false;
    Temp a = src(d.rs1), b = src(d.rs2), cc = src(d.rs3);
    Temp v;
    if (r == kRNE && c.host.fma) {
      v = ir.new_temp(ft());
      ir.emit({.opc = Opc::kFMadd,
               .type = ft(),
               .aux = static_cast<uint8_t>(k),
               .d = v,
               .a = a,
               .b = b,
               .c = cc});
    } else {
      v = ir.call(fma_helper(dbl, k, static_cast<unsigned>(r)), kEnv, ft(), a, b, cc);
    }
    set(d.rd, v);
    return true;
  }
  void minmax(H h32, H h64) {
    set(d.rd, ir.call(dbl ? h64 : h32, kEnv, ft(), src(d.rs1), src(d.rs2)));
  }
  void cmp(tcg::FCmp k) {
    Temp v = ir.new_temp(Type::kI64);
    ir.emit({.opc = Opc::kFCmp,
             .type = Type::kI64,
             .aux = static_cast<uint8_t>(k),
             .aux2 = static_cast<uint8_t>(dbl),
             .d = v,
             .a = src(d.rs1),
             .b = src(d.rs2)});
    c.set_x(d.rd, v);
  }
  // Sign injection on the raw bits. mode 0 sgnj, 1 sgnjn, 2 sgnjx.
  void sgnj(int mode) {
    if (d.rs1 == d.rs2 && mode == 0) {  // fmv
      set(d.rd, src(d.rs1));
      return;
    }
    const Type it = dbl ? Type::kI64 : Type::kI32;
    const uint64_t sign = dbl ? 0x8000000000000000ull : 0x80000000ull;
    Temp a = ir.unop(Opc::kBitcast, it, src(d.rs1));
    Temp b = d.rs1 == d.rs2 ? a : ir.unop(Opc::kBitcast, it, src(d.rs2));
    Temp r;
    if (mode == 2) {
      r = ir.binop(Opc::kXor, it, a, ir.binop(Opc::kAnd, it, b, ir.constant(it, sign)));
    } else {
      Temp mag = ir.binop(Opc::kAnd, it, a, ir.constant(it, ~sign));
      Temp s = mode == 0 ? ir.binop(Opc::kAnd, it, b, ir.constant(it, sign))
                         : ir.binop(Opc::kAndn, it, ir.constant(it, sign), b);
      r = ir.binop(Opc::kOr, it, mag, s);
    }
    set(d.rd, ir.unop(Opc::kBitcast, ft(), r));
  }
  // float -> integer; kind 0 i32, 1 u32, 2 i64, 3 u64.
  bool to_int(int kind) {
    int r = rm();
    if (r < 0) return false;
    Temp a = src(d.rs1);
    Temp v;
    if (r == kRTZ) {
      v = ir.new_temp(Type::kI64);
      ir.emit(
          {.opc = Opc::kFCvtFI,
           .type = Type::kI64,
           .aux = static_cast<uint8_t>(dbl),
           .aux2 = static_cast<uint8_t>(kind),
           .d = v,
           .a = a,
           .imm = static_cast<int64_t>(reinterpret_cast<uintptr_t>(to_int_rtz_helper(dbl, kind)))});
    } else {
      v = ir.call(to_int_helper(dbl, kind), kEnv, Type::kI64, a, rmc(r));
    }
    c.set_x(d.rd, v);
    return true;
  }
  // integer -> float.
  bool from_int(int kind) {
    int r = rm();
    if (r < 0) return false;
    Temp x = c.x(d.rs1);
    // Exact conversions need no rounding: 32-bit integers to double.
    const bool exact = dbl && kind <= 1;
    Temp v;
    if (kind <= 2 && (exact || r == kRNE)) {
      v = ir.new_temp(ft());
      ir.emit(
          {.opc = Opc::kFCvtIF, .type = ft(), .aux2 = static_cast<uint8_t>(kind), .d = v, .a = x});
    } else {
      v = ir.call(from_int_helper(dbl, kind), kEnv, ft(), x, rmc(r));
    }
    set(d.rd, v);
    return true;
  }
};

}  // namespace

bool translate_fp(Ctx& c) {
  const DecodedInsn& d = *c.d;
  Ir& ir = c.ir;
  auto h = [](auto* fn) { return reinterpret_cast<H>(fn); };
  Fp s{c, ir, d, false};
  Fp dd{c, ir, d, true};
  switch (d.op) {
    case Op::kFlw:
      c.set_f32(d.rd, ir.load_float(Type::kF32, c.x(d.rs1), d.imm));
      return true;
    case Op::kFld:
      c.set_f64(d.rd, ir.load_float(Type::kF64, c.x(d.rs1), d.imm));
      return true;
    case Op::kFsw:
      // Stores the low 32 bits as they are (no NaN-box check).
      ir.store(tcg::kMemU32, c.x(d.rs1), d.imm, ir.ld_global(Type::kI32, f_off(d.rs2)));
      return true;
    case Op::kFsd:
      ir.store(tcg::kMemU64, c.x(d.rs1), d.imm, c.f64(d.rs2));
      return true;

    case Op::kFaddS:
      return s.arith(Opc::kFAdd, h(&h_f32_add), h(&h_f64_add));
    case Op::kFsubS:
      return s.arith(Opc::kFSub, h(&h_f32_sub), h(&h_f64_sub));
    case Op::kFmulS:
      return s.arith(Opc::kFMul, h(&h_f32_mul), h(&h_f64_mul));
    case Op::kFdivS:
      return s.arith(Opc::kFDiv, h(&h_f32_div), h(&h_f64_div));
    case Op::kFaddD:
      return dd.arith(Opc::kFAdd, h(&h_f32_add), h(&h_f64_add));
    case Op::kFsubD:
      return dd.arith(Opc::kFSub, h(&h_f32_sub), h(&h_f64_sub));
    case Op::kFmulD:
      return dd.arith(Opc::kFMul, h(&h_f32_mul), h(&h_f64_mul));
    case Op::kFdivD:
      return dd.arith(Opc::kFDiv, h(&h_f32_div), h(&h_f64_div));
    case Op::kFsqrtS:
      return s.sqrt();
    case Op::kFsqrtD:
      return dd.sqrt();
    case Op::kFmaddS:
      return s.fma(0);
    case Op::kFmsubS:
      return s.fma(1);
    case Op::kFnmsubS:
      return s.fma(2);
    case Op::kFnmaddS:
      return s.fma(3);
    case Op::kFmaddD:
      return dd.fma(0);
    case Op::kFmsubD:
      return dd.fma(1);
    case Op::kFnmsubD:
      return dd.fma(2);
    case Op::kFnmaddD:
      return dd.fma(3);
    case Op::kFsgnjS:
      s.sgnj(0);
      return true;
    case Op::kFsgnjnS:
      s.sgnj(1);
      return true;
    case Op::kFsgnjxS:
      s.sgnj(2);
      return true;
    case Op::kFsgnjD:
      dd.sgnj(0);
      return true;
    case Op::kFsgnjnD:
      dd.sgnj(1);
      return true;
    case Op::kFsgnjxD:
      dd.sgnj(2);
      return true;
    case Op::kFminS:
      s.minmax(h(&h_f32_min), h(&h_f64_min));
      return true;
    case Op::kFmaxS:
      s.minmax(h(&h_f32_max), h(&h_f64_max));
      return true;
    case Op::kFminD:
      dd.minmax(h(&h_f32_min), h(&h_f64_min));
      return true;
    case Op::kFmaxD:
      dd.minmax(h(&h_f32_max), h(&h_f64_max));
      return true;
    case Op::kFeqS:
      s.cmp(tcg::FCmp::kEq);
      return true;
    case Op::kFltS:
      s.cmp(tcg::FCmp::kLt);
      return true;
    case Op::kFleS:
      s.cmp(tcg::FCmp::kLe);
      return true;
    case Op::kFeqD:
      dd.cmp(tcg::FCmp::kEq);
      return true;
    case Op::kFltD:
      dd.cmp(tcg::FCmp::kLt);
      return true;
    case Op::kFleD:
      dd.cmp(tcg::FCmp::kLe);
      return true;
    case Op::kFclassS:
      c.set_x(d.rd, ir.call(h(&h_f32_class), 0, Type::kI64,
                            ir.unop(Opc::kBitcast, Type::kI32, c.f32(d.rs1))));
      return true;
    case Op::kFclassD:
      c.set_x(d.rd, ir.call(h(&h_f64_class), 0, Type::kI64,
                            ir.unop(Opc::kBitcast, Type::kI64, c.f64(d.rs1))));
      return true;
    case Op::kFcvtWS:
      return s.to_int(0);
    case Op::kFcvtWuS:
      return s.to_int(1);
    case Op::kFcvtLS:
      return s.to_int(2);
    case Op::kFcvtLuS:
      return s.to_int(3);
    case Op::kFcvtWD:
      return dd.to_int(0);
    case Op::kFcvtWuD:
      return dd.to_int(1);
    case Op::kFcvtLD:
      return dd.to_int(2);
    case Op::kFcvtLuD:
      return dd.to_int(3);
    case Op::kFcvtSW:
      return s.from_int(0);
    case Op::kFcvtSWu:
      return s.from_int(1);
    case Op::kFcvtSL:
      return s.from_int(2);
    case Op::kFcvtSLu:
      return s.from_int(3);
    case Op::kFcvtDW:
      return dd.from_int(0);
    case Op::kFcvtDWu:
      return dd.from_int(1);
    case Op::kFcvtDL:
      return dd.from_int(2);
    case Op::kFcvtDLu:
      return dd.from_int(3);
    case Op::kFcvtSD: {  // double -> single (rounds)
      int r = s.rm();
      if (r < 0) return false;
      Temp a = c.f64(d.rs1);
      Temp v = r == kRNE ? ir.unop(Opc::kFCvtFF, Type::kF32, a)
                         : ir.call(h(&h_f64_to_f32), kEnv, Type::kF32, a, c.c64(r));
      c.set_f32(d.rd, v);
      return true;
    }
    case Op::kFcvtDS: {  // single -> double (exact)
      if (s.rm() < 0) return false;
      c.set_f64(d.rd, ir.unop(Opc::kFCvtFF, Type::kF64, c.f32(d.rs1)));
      return true;
    }
    case Op::kFmvXW:
      c.set_x(d.rd, ir.unop(Opc::kSext32, Type::kI64, ir.ld_global(Type::kI32, f_off(d.rs1))));
      return true;
    case Op::kFmvWX:
      c.set_f32(d.rd, ir.unop(Opc::kBitcast, Type::kF32, c.x(d.rs1)));
      return true;
    case Op::kFmvXD:
      c.set_x(d.rd, ir.unop(Opc::kBitcast, Type::kI64, c.f64(d.rs1)));
      return true;
    case Op::kFmvDX:
      c.set_f64(d.rd, ir.unop(Opc::kBitcast, Type::kF64, c.x(d.rs1)));
      return true;
    default:
      return false;
  }
}

}  // namespace tandem::riscv::translate_detail
