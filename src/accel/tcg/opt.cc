#include "accel/tcg/opt.h"

namespace tandem::tcg {

void count_defs(const Ir& ir, std::vector<uint32_t>& defs) {
  defs.assign(ir.temps.size(), 0);
  for (const Op& op : ir.ops)
    if (op.d != kNoTemp) ++defs[op.d];
}

std::vector<uint32_t> count_defs(const Ir& ir) {
  std::vector<uint32_t> defs;
  count_defs(ir, defs);
  return defs;
}

void optimize(Ir& ir, const OptFlags& flags) {
  if (flags.globals) opt_globals(ir, flags.pinned);
  if (flags.pinned_stores) opt_pinned(ir, flags.pinned);
  if (flags.copy_prop) opt_copy_prop(ir);
  if (flags.const_fold) opt_const_fold(ir);
  if (flags.copy_prop) opt_copy_prop(ir);
  if (flags.fuse) opt_fuse(ir);
  if (flags.dce) opt_dce(ir);
}

}  // namespace tandem::tcg
