// Guest registers pinned to host registers (pinned.h): forwarding and dead stores.
//
// The globals pass leaves pinned registers alone, so each guest instruction writes its result
// into the host register and the next one reads it back. Between two points where the
// register is observable (an op that can leave the TB, a helper call, a label), only the last
// store of a run matters, and loads in between can use the stored temporary directly:
//
//   t1 = and t0, 255 ; st x15, t1 ; t2 = ld x15 ; t3 = shl t2, 2 ; st x15, t3 ;
//   t4 = ld x15 ; t5 = add t4, t6 ; st x15, t5
//
// becomes `t1 = and t0, 255 ; t3 = shl t1, 2 ; t5 = add t3, t6 ; st x15, t5`, which the fuse
// pass then turns into one lea (bench/tcg's crc32 inner loop is exactly this). The surviving
// store stays right after its definition, where the back end computes it into the register.
#include <algorithm>
#include <cstddef>

#include "accel/tcg/opt.h"

namespace tandem::tcg {

namespace {

// Whether the pinned registers can be observed at this op: it may leave the TB (the epilogue
// and fault stubs store them to CpuState), calls a helper (pinned registers are spilled around
// it), or is a point where control flow merges.
bool observes_pinned(Opc opc) {
  switch (opc) {
    case Opc::kLoad:
    case Opc::kStore:
    case Opc::kAmo:
    case Opc::kLr:
    case Opc::kSc:
    case Opc::kCall:
    case Opc::kBr:
    case Opc::kBrcond:
    case Opc::kGotoTb:
    case Opc::kExit:
    case Opc::kExitIndirect:
    case Opc::kLabel:
      return true;
    default:
      return false;
  }
}

struct LastStore {
  int32_t offset;
  Temp value;
  size_t op_index;  // of the store, in the output
  bool seen;        // the register was observable since: the store must stay
};

}  // namespace

void opt_pinned(Ir& ir, const PinnedMap* pinned) {
  if (!pinned) return;
  auto is_pinned_x = [&](const Op& op) {
    return (op.opc == Opc::kLdGlobal || op.opc == Opc::kStGlobal) &&
           pinned->reg_of(static_cast<int32_t>(op.imm)) >= 0 &&
           op.imm != static_cast<int64_t>(offsetof(riscv::CpuState, instret));
  };
  // Per-thread tables, reused from block to block (count_defs in opt.h).
  thread_local std::vector<Op> out;
  out.clear();
  thread_local std::vector<bool> dead;  // per output op: a pinned store overwritten unseen
  dead.clear();
  thread_local std::vector<LastStore> last;
  last.clear();
  auto find = [&](int32_t off) {
    return std::find_if(last.begin(), last.end(),
                        [off](const LastStore& s) { return s.offset == off; });
  };
  for (const Op& op : ir.ops) {
    if (op.opc == Opc::kLabel || (op.opc == Opc::kCall && (op.aux & kCallWritesEnv))) {
      last.clear();  // other paths, or a helper that may change the register
    } else if (observes_pinned(op.opc)) {
      // The stores stay. Constants are still known (lui/auipc + addi across a branch fold);
      // other values are read from the register again rather than kept alive in temporaries.
      std::erase_if(last, [&](const LastStore& s) { return !ir.is_const(s.value); });
      for (LastStore& s : last) s.seen = true;
    } else if (is_pinned_x(op)) {
      const int32_t off = static_cast<int32_t>(op.imm);
      auto it = find(off);
      if (op.opc == Opc::kLdGlobal) {
        if (it != last.end() && op.type == Type::kI64) {
          out.push_back({.opc = Opc::kMov, .type = Type::kI64, .d = op.d, .a = it->value});
          dead.push_back(false);
          continue;
        }
        if (it != last.end()) it->seen = true;  // read with another type: the store must stay
      } else {
        if (it != last.end()) {
          // Only a full-width store makes the earlier one dead.
          if (op.type == Type::kI64 && !it->seen) dead[it->op_index] = true;
          last.erase(it);
        }
        if (op.type == Type::kI64) last.push_back({off, op.a, out.size(), false});
      }
    }
    out.push_back(op);
    dead.push_back(false);
  }
  ir.ops.clear();
  for (size_t i = 0; i < out.size(); ++i)
    if (!dead[i]) ir.ops.push_back(out[i]);
}

}  // namespace tandem::tcg
