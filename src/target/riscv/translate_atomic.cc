// The A extension: lr/sc against the CpuState reservation (compared by value at sc, like the
// interpreter and QEMU) and AMOs as host locked instructions.
#include "target/riscv/translate_internal.h"

namespace tandem::riscv::translate_detail {

bool translate_atomic(Ctx& c) {
  const DecodedInsn& d = *c.d;
  Ir& ir = c.ir;
  const bool word = (d.expanded >> 12 & 7) == 2;
  const uint8_t memop = word ? (tcg::kMemU32 | tcg::kMemSigned) : tcg::kMemU64;
  tcg::AmoKind kind;
  switch (d.op) {
    case Op::kLrW:
    case Op::kLrD: {
      Temp v = ir.new_temp(Type::kI64);
      ir.emit({.opc = Opc::kLr, .type = Type::kI64, .aux = memop, .d = v, .a = c.x(d.rs1)});
      c.set_x(d.rd, v);
      return true;
    }
    case Op::kScW:
    case Op::kScD: {
      Temp v = ir.new_temp(Type::kI64);
      ir.emit({.opc = Opc::kSc,
               .type = Type::kI64,
               .aux = memop,
               .d = v,
               .a = c.x(d.rs1),
               .b = c.x(d.rs2)});
      c.set_x(d.rd, v);
      return true;
    }
    case Op::kAmoswapW:
    case Op::kAmoswapD:
      kind = tcg::AmoKind::kSwap;
      break;
    case Op::kAmoaddW:
    case Op::kAmoaddD:
      kind = tcg::AmoKind::kAdd;
      break;
    case Op::kAmoxorW:
    case Op::kAmoxorD:
      kind = tcg::AmoKind::kXor;
      break;
    case Op::kAmoandW:
    case Op::kAmoandD:
      kind = tcg::AmoKind::kAnd;
      break;
    case Op::kAmoorW:
    case Op::kAmoorD:
      kind = tcg::AmoKind::kOr;
      break;
    case Op::kAmominW:
    case Op::kAmominD:
      kind = tcg::AmoKind::kMin;
      break;
    case Op::kAmomaxW:
    case Op::kAmomaxD:
      kind = tcg::AmoKind::kMax;
      break;
    case Op::kAmominuW:
    case Op::kAmominuD:
      kind = tcg::AmoKind::kMinu;
      break;
    case Op::kAmomaxuW:
    case Op::kAmomaxuD:
      kind = tcg::AmoKind::kMaxu;
      break;
    default:
      return false;
  }
  c.set_x(d.rd, ir.amo(kind, memop, c.x(d.rs1), c.x(d.rs2)));
  return true;
}

}  // namespace tandem::riscv::translate_detail
