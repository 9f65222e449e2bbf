// Dead-code removal: ops without side effects whose results are never read are deleted
// (backwards, so whole dead chains go in one sweep), as is code after an unconditional exit up
// to the next label.
#include "accel/tcg/opt.h"

namespace tandem::tcg {

void opt_dce(Ir& ir) {
  // Unreachable code.
  bool dead = false;
  for (Op& op : ir.ops) {
    if (op.opc == Opc::kLabel) dead = false;
    if (dead && op.opc != Opc::kInsnStart) op = Op{};
    if (op.opc == Opc::kBr || op.opc == Opc::kGotoTb || op.opc == Opc::kExitIndirect ||
        op.opc == Opc::kExit)
      dead = true;
  }

  thread_local std::vector<uint32_t> uses;  // reused from block to block (count_defs in opt.h)
  uses.assign(ir.temps.size(), 0);
  for (Op& op : ir.ops) for_each_input(ir, op, [&](Temp& t) { ++uses[t]; });
  for (size_t i = ir.ops.size(); i-- > 0;) {
    Op& op = ir.ops[i];
    if (op.opc == Opc::kNop || op.d == kNoTemp || !op_is_pure(op) || uses[op.d] != 0) continue;
    for_each_input(ir, op, [&](Temp& t) { --uses[t]; });
    op = Op{};
  }

  // Compact.
  size_t n = 0;
  for (Op& op : ir.ops)
    if (op.opc != Opc::kNop) ir.ops[n++] = op;
  ir.ops.resize(n);
}

}  // namespace tandem::tcg
