// Optimisation passes over the IR. Each pass lives in its own opt_*.cc file and can be switched
// off on its own (for debugging the translator and for the pass unit tests).
#pragma once

#include "accel/tcg/ir.h"
#include "accel/tcg/pinned.h"

namespace tandem::tcg {

struct OptFlags {
  bool globals = true;        // keep guest registers in temporaries, write back at exits only
  bool const_fold = true;     // constant propagation and folding, algebraic identities
  bool copy_prop = true;      // replace uses of a copy by the original
  bool dce = true;            // remove ops whose results are never used
  bool fuse = true;           // a shift by 1-3 feeding one add becomes one shladd (x86 lea)
  bool pinned_stores = true;  // forward pinned-register stores to loads, drop overwritten ones
  // The globals the back end keeps in host registers (nullptr: none): the globals pass leaves
  // them alone (reads and writes go straight to the register, nothing to write back).
  const PinnedMap* pinned = &PinnedMap::default_map();

  static OptFlags none() {
    return {false, false, false, false, false, false, &PinnedMap::default_map()};
  }
};

void opt_globals(Ir& ir, const PinnedMap* pinned = nullptr);
void opt_const_fold(Ir& ir);
void opt_copy_prop(Ir& ir);
void opt_dce(Ir& ir);
void opt_fuse(Ir& ir);
void opt_pinned(Ir& ir, const PinnedMap* pinned);

// Runs the enabled passes in a sensible order.
void optimize(Ir& ir, const OptFlags& flags);

// Number of ops that write each temp (temps written more than once are only legal across
// labels; passes treat them conservatively).
std::vector<uint32_t> count_defs(const Ir& ir);
// The same into `defs` (its memory reused: the passes run once per translated block, and
// allocating their per-temp tables each time was a measurable share of translation time).
void count_defs(const Ir& ir, std::vector<uint32_t>& defs);

}  // namespace tandem::tcg
