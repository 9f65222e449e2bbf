// Copy propagation: after `d = mov a`, later reads of d read a instead (when both are written
// only once, so the substitution cannot observe a different value), and the mov goes away.
#include "accel/tcg/opt.h"

namespace tandem::tcg {

void opt_copy_prop(Ir& ir) {
  // Per-thread tables, reused from block to block (count_defs in opt.h).
  thread_local std::vector<uint32_t> defs;
  thread_local std::vector<Temp> repl;
  count_defs(ir, defs);
  repl.resize(ir.temps.size());
  for (Temp t = 0; t < repl.size(); ++t) repl[t] = t;

  for (Op& op : ir.ops) {
    for_each_input(ir, op, [&](Temp& t) { t = repl[t]; });
    if (op.opc == Opc::kMov && defs[op.d] == 1 && (ir.is_const(op.a) || defs[op.a] <= 1) &&
        ir.temps[op.a].type == ir.temps[op.d].type) {
      repl[op.d] = op.a;
      op = Op{};
    }
  }
}

}  // namespace tandem::tcg
