// RV64I (without the system instructions), M, Zba and Zbb.
#include "target/riscv/translate_internal.h"

namespace tandem::riscv::translate_detail {

namespace {

using tcg::MemOp;

Temp sext32(Ctx& c, Temp t) {
  return c.ir.unop(Opc::kSext32, Type::kI64, t);
}

// rd = op(rs1, rs2 or imm) on 64 bits.
void rr(Ctx& c, Opc o) {
  c.set_x(c.d->rd, c.ir.binop(o, Type::kI64, c.x(c.d->rs1), c.x(c.d->rs2)));
}
void ri(Ctx& c, Opc o) {
  c.set_x(c.d->rd, c.ir.binop_imm(o, Type::kI64, c.x(c.d->rs1), c.d->imm));
}
// 32-bit op, result sign-extended (the W instructions).
void rrw(Ctx& c, Opc o) {
  c.set_x(c.d->rd, sext32(c, c.ir.binop(o, Type::kI32, c.x(c.d->rs1), c.x(c.d->rs2))));
}
void riw(Ctx& c, Opc o) {
  c.set_x(c.d->rd, sext32(c, c.ir.binop_imm(o, Type::kI32, c.x(c.d->rs1), c.d->imm)));
}
void setcc(Ctx& c, Cond cond, bool imm) {
  Temp b = imm ? c.c64(static_cast<uint64_t>(c.d->imm)) : c.x(c.d->rs2);
  c.set_x(c.d->rd, c.ir.setcc(cond, Type::kI64, c.x(c.d->rs1), b));
}
void unary(Ctx& c, Opc o, Type t, bool sext) {
  Temp v = c.ir.unop(o, t, c.x(c.d->rs1));
  c.set_x(c.d->rd, sext ? sext32(c, v) : v);
}

void branch(Ctx& c, Cond cond) {
  const uint64_t target = c.pc + static_cast<uint64_t>(c.d->imm);
  uint32_t taken = c.ir.new_label();
  c.ir.brcond(cond, Type::kI64, c.x(c.d->rs1), c.x(c.d->rs2), taken);
  c.jump(1, c.next_pc);
  c.ir.label(taken);
  c.jump(0, target);
  c.end = true;
}

void load(Ctx& c, uint8_t memop) {
  Temp v = c.ir.load(memop, c.x(c.d->rs1), c.d->imm);
  c.set_x(c.d->rd, v);
}
void store(Ctx& c, uint8_t memop) {
  c.ir.store(memop, c.x(c.d->rs1), c.d->imm, c.x(c.d->rs2));
}

// (zext32(rs1) if uw) << sh + rs2
void shadd(Ctx& c, unsigned sh, bool uw) {
  Temp a = c.x(c.d->rs1);
  if (uw) a = c.ir.unop(Opc::kZext32, Type::kI64, a);
  if (sh) a = c.ir.binop_imm(Opc::kShl, Type::kI64, a, sh);
  c.set_x(c.d->rd, c.ir.binop(Opc::kAdd, Type::kI64, a, c.x(c.d->rs2)));
}

}  // namespace

bool translate_int(Ctx& c) {
  const DecodedInsn& d = *c.d;
  Ir& ir = c.ir;
  switch (d.op) {
    case Op::kLui:
      c.set_x(d.rd, c.c64(static_cast<uint64_t>(d.imm)));
      return true;
    case Op::kAuipc:
      c.set_x(d.rd, c.c64(c.pc + static_cast<uint64_t>(d.imm)));
      return true;
    case Op::kJal:
      c.set_x(d.rd, c.c64(c.next_pc));
      c.jump(0, c.pc + static_cast<uint64_t>(d.imm));
      c.end = true;
      return true;
    case Op::kJalr: {
      Temp t = ir.binop_imm(Opc::kAdd, Type::kI64, c.x(d.rs1), d.imm);
      t = ir.binop_imm(Opc::kAnd, Type::kI64, t, ~int64_t{1});
      c.set_x(d.rd, c.c64(c.next_pc));
      ir.exit_indirect(t);
      c.end = true;
      return true;
    }
    case Op::kBeq:
      branch(c, Cond::kEq);
      return true;
    case Op::kBne:
      branch(c, Cond::kNe);
      return true;
    case Op::kBlt:
      branch(c, Cond::kLt);
      return true;
    case Op::kBge:
      branch(c, Cond::kGe);
      return true;
    case Op::kBltu:
      branch(c, Cond::kLtu);
      return true;
    case Op::kBgeu:
      branch(c, Cond::kGeu);
      return true;
    case Op::kLb:
      load(c, tcg::kMemU8 | tcg::kMemSigned);
      return true;
    case Op::kLh:
      load(c, tcg::kMemU16 | tcg::kMemSigned);
      return true;
    case Op::kLw:
      load(c, tcg::kMemU32 | tcg::kMemSigned);
      return true;
    case Op::kLd:
      load(c, tcg::kMemU64);
      return true;
    case Op::kLbu:
      load(c, tcg::kMemU8);
      return true;
    case Op::kLhu:
      load(c, tcg::kMemU16);
      return true;
    case Op::kLwu:
      load(c, tcg::kMemU32);
      return true;
    case Op::kSb:
      store(c, tcg::kMemU8);
      return true;
    case Op::kSh:
      store(c, tcg::kMemU16);
      return true;
    case Op::kSw:
      store(c, tcg::kMemU32);
      return true;
    case Op::kSd:
      store(c, tcg::kMemU64);
      return true;
    case Op::kAddi:
      ri(c, Opc::kAdd);
      return true;
    case Op::kSlti:
      setcc(c, Cond::kLt, true);
      return true;
    case Op::kSltiu:
      setcc(c, Cond::kLtu, true);
      return true;
    case Op::kXori:
      ri(c, Opc::kXor);
      return true;
    case Op::kOri:
      ri(c, Opc::kOr);
      return true;
    case Op::kAndi:
      ri(c, Opc::kAnd);
      return true;
    case Op::kSlli:
      ri(c, Opc::kShl);
      return true;
    case Op::kSrli:
      ri(c, Opc::kShr);
      return true;
    case Op::kSrai:
      ri(c, Opc::kSar);
      return true;
    case Op::kAdd:
      rr(c, Opc::kAdd);
      return true;
    case Op::kSub:
      rr(c, Opc::kSub);
      return true;
    case Op::kSll:
      rr(c, Opc::kShl);
      return true;
    case Op::kSlt:
      setcc(c, Cond::kLt, false);
      return true;
    case Op::kSltu:
      setcc(c, Cond::kLtu, false);
      return true;
    case Op::kXor:
      rr(c, Opc::kXor);
      return true;
    case Op::kSrl:
      rr(c, Opc::kShr);
      return true;
    case Op::kSra:
      rr(c, Opc::kSar);
      return true;
    case Op::kOr:
      rr(c, Opc::kOr);
      return true;
    case Op::kAnd:
      rr(c, Opc::kAnd);
      return true;
    case Op::kAddiw:
      riw(c, Opc::kAdd);
      return true;
    case Op::kSlliw:
      riw(c, Opc::kShl);
      return true;
    case Op::kSrliw:
      riw(c, Opc::kShr);
      return true;
    case Op::kSraiw:
      riw(c, Opc::kSar);
      return true;
    case Op::kAddw:
      rrw(c, Opc::kAdd);
      return true;
    case Op::kSubw:
      rrw(c, Opc::kSub);
      return true;
    case Op::kSllw:
      rrw(c, Opc::kShl);
      return true;
    case Op::kSrlw:
      rrw(c, Opc::kShr);
      return true;
    case Op::kSraw:
      rrw(c, Opc::kSar);
      return true;
    // M
    case Op::kMul:
      rr(c, Opc::kMul);
      return true;
    case Op::kMulh:
      rr(c, Opc::kMulh);
      return true;
    case Op::kMulhsu:
      rr(c, Opc::kMulhsu);
      return true;
    case Op::kMulhu:
      rr(c, Opc::kMulhu);
      return true;
    case Op::kDiv:
      rr(c, Opc::kDiv);
      return true;
    case Op::kDivu:
      rr(c, Opc::kDivu);
      return true;
    case Op::kRem:
      rr(c, Opc::kRem);
      return true;
    case Op::kRemu:
      rr(c, Opc::kRemu);
      return true;
    case Op::kMulw:
      rrw(c, Opc::kMul);
      return true;
    case Op::kDivw:
      rrw(c, Opc::kDiv);
      return true;
    case Op::kDivuw:
      rrw(c, Opc::kDivu);
      return true;
    case Op::kRemw:
      rrw(c, Opc::kRem);
      return true;
    case Op::kRemuw:
      rrw(c, Opc::kRemu);
      return true;
    // Zba
    case Op::kAddUw:
      shadd(c, 0, true);
      return true;
    case Op::kSh1add:
      shadd(c, 1, false);
      return true;
    case Op::kSh2add:
      shadd(c, 2, false);
      return true;
    case Op::kSh3add:
      shadd(c, 3, false);
      return true;
    case Op::kSh1addUw:
      shadd(c, 1, true);
      return true;
    case Op::kSh2addUw:
      shadd(c, 2, true);
      return true;
    case Op::kSh3addUw:
      shadd(c, 3, true);
      return true;
    case Op::kSlliUw: {
      Temp a = ir.unop(Opc::kZext32, Type::kI64, c.x(d.rs1));
      c.set_x(d.rd, ir.binop_imm(Opc::kShl, Type::kI64, a, d.imm));
      return true;
    }
    // Zbb
    case Op::kAndn:
      rr(c, Opc::kAndn);
      return true;
    case Op::kOrn:
      rr(c, Opc::kOrn);
      return true;
    case Op::kXnor:
      rr(c, Opc::kXnor);
      return true;
    case Op::kClz:
      unary(c, Opc::kClz, Type::kI64, false);
      return true;
    case Op::kClzw:
      unary(c, Opc::kClz, Type::kI32, false);
      return true;
    case Op::kCtz:
      unary(c, Opc::kCtz, Type::kI64, false);
      return true;
    case Op::kCtzw:
      unary(c, Opc::kCtz, Type::kI32, false);
      return true;
    case Op::kCpop:
      unary(c, Opc::kPopcnt, Type::kI64, false);
      return true;
    case Op::kCpopw:
      unary(c, Opc::kPopcnt, Type::kI32, false);
      return true;
    case Op::kMax:
      rr(c, Opc::kMax);
      return true;
    case Op::kMaxu:
      rr(c, Opc::kMaxu);
      return true;
    case Op::kMin:
      rr(c, Opc::kMin);
      return true;
    case Op::kMinu:
      rr(c, Opc::kMinu);
      return true;
    case Op::kSextB:
      unary(c, Opc::kSext8, Type::kI64, false);
      return true;
    case Op::kSextH:
      unary(c, Opc::kSext16, Type::kI64, false);
      return true;
    case Op::kZextH:
      unary(c, Opc::kZext16, Type::kI64, false);
      return true;
    case Op::kRol:
      rr(c, Opc::kRotl);
      return true;
    case Op::kRolw:
      rrw(c, Opc::kRotl);
      return true;
    case Op::kRor:
      rr(c, Opc::kRotr);
      return true;
    case Op::kRori:
      ri(c, Opc::kRotr);
      return true;
    case Op::kRoriw:
      riw(c, Opc::kRotr);
      return true;
    case Op::kRorw:
      rrw(c, Opc::kRotr);
      return true;
    case Op::kOrcB:
      unary(c, Opc::kOrcB, Type::kI64, false);
      return true;
    case Op::kRev8:
      unary(c, Opc::kBswap, Type::kI64, false);
      return true;
    default:
      return false;
  }
}

}  // namespace tandem::riscv::translate_detail
