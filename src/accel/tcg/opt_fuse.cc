// Fuses `t = shl x, k` (k = 1..3) into the one add that uses t: `d = shladd a, x, k`, which the
// back end emits as a single lea instead of a shift and an add. Guest code computes table and
// array addresses this way (slli + add, Zba's shNadd). The shl is left for dce.
//
// Guest registers the back end pins to host registers are not temporaries here (the globals
// pass leaves them alone), so a shift whose result goes to such a register first is not
// fused; measured on bench/tcg's crc32, fusing through the pinned register gained nothing.
#include <vector>

#include "accel/tcg/opt.h"

namespace tandem::tcg {

void opt_fuse(Ir& ir) {
  // Per-thread tables, reused from block to block (count_defs in opt.h).
  thread_local std::vector<uint32_t> defs, uses;
  thread_local std::vector<int32_t> shl_at;  // op index of a fusable shl defining t
  count_defs(ir, defs);
  uses.assign(ir.temps.size(), 0);
  shl_at.assign(ir.temps.size(), -1);
  for (const Op& op : ir.ops) {
    for (Temp t : {op.a, op.b, op.c}) {
      if (t != kNoTemp && !ir.is_const(t)) ++uses[t];
    }
  }
  // Values a fault stub writes back are uses too (the shl must stay for them).
  for (const auto& sync : ir.syncs) {
    for (const SyncEntry& s : sync) {
      if (!ir.is_const(s.value)) ++uses[s.value];
    }
  }
  for (size_t i = 0; i < ir.ops.size(); ++i) {
    Op& op = ir.ops[i];
    if (op.opc == Opc::kShl && op.type == Type::kI64 && op.d != kNoTemp && defs[op.d] == 1 &&
        !ir.is_const(op.a) && defs[op.a] == 1 && ir.is_const(op.b)) {
      const uint64_t k = ir.const_value(op.b);
      if (k >= 1 && k <= 3) shl_at[op.d] = static_cast<int32_t>(i);
      continue;
    }
    if (op.opc != Opc::kAdd || op.type != Type::kI64) continue;
    for (int side = 0; side < 2; ++side) {
      const Temp t = side == 0 ? op.b : op.a;
      const Temp other = side == 0 ? op.a : op.b;
      if (ir.is_const(t) || shl_at[t] < 0 || uses[t] != 1) continue;
      const Op& shl = ir.ops[static_cast<size_t>(shl_at[t])];
      op.opc = Opc::kShlAdd;
      op.aux = static_cast<uint8_t>(ir.const_value(shl.b));
      op.a = other;
      op.b = shl.a;
      --uses[t];
      break;
    }
  }
}

}  // namespace tandem::tcg
