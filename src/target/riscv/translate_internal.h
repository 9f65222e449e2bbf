// Shared by the translate_*.cc files: the per-instruction translation context.
#pragma once

#include <cstddef>

#include "accel/tcg/ir.h"
#include "accel/tcg/softmmu.h"
#include "target/riscv/cpu_state.h"
#include "target/riscv/decode.h"
#include "target/riscv/translate.h"

namespace tandem::riscv::translate_detail {

using tcg::Cond;
using tcg::Ir;
using tcg::Opc;
using tcg::Temp;
using tcg::Type;

inline int32_t x_off(unsigned r) {
  return static_cast<int32_t>(offsetof(CpuState, x) + 8 * r);
}
inline int32_t f_off(unsigned r) {
  return static_cast<int32_t>(offsetof(CpuState, f) + 8 * r);
}

struct Ctx {
  Ir& ir;
  const tcg::HostFeatures& host;
  uint32_t frm;
  uint32_t flags = 0;  // tcg::tb_flags (full-system mode), 0 in user mode
  uint64_t tb_pc = 0;
  uint64_t (*csr_helper)(CpuState*, uint64_t, uint64_t) = nullptr;  // TranslateParams'
  uint64_t pc = 0;                                                  // of the current instruction
  uint64_t next_pc = 0;                                             // pc + length
  unsigned insn_index = 0;  // instructions before this one in the TB
  const DecodedInsn* d = nullptr;
  bool end = false;  // the TB ends after this instruction
  // Set while translating instructions a short forward branch skips (translate.cc): all ones
  // when the branch is taken; register writes then keep the old value under the mask.
  Temp skip_mask = tcg::kNoTemp;

  bool system() const { return flags & tcg::tb_flags::kSystem; }
  bool fp_enabled() const { return !system() || (flags & tcg::tb_flags::kFpEnabled); }

  Temp c64(uint64_t v) { return ir.constant(Type::kI64, v); }

  // Continues at a fixed guest pc: a chainable goto_tb, except in full-system mode for a target
  // on another page, whose mapping may change without this block being retranslated: that
  // goes through the jump cache, which is flushed with the TLB.
  void jump(unsigned slot, uint64_t target) {
    if (system() && (target >> 12) != (tb_pc >> 12)) {
      ir.exit_indirect(c64(target));
    } else {
      ir.goto_tb(slot, target);
    }
  }
  Temp x(unsigned r) { return r == 0 ? c64(0) : ir.ld_global(Type::kI64, x_off(r)); }
  void set_x(unsigned r, Temp v) {
    if (r == 0) return;
    if (skip_mask != tcg::kNoTemp) {
      // v ^ ((v ^ old) & mask): the old value where the branch skips this instruction.
      const Temp old = ir.ld_global(Type::kI64, x_off(r));
      const Temp diff = ir.binop(tcg::Opc::kXor, Type::kI64, v, old);
      v = ir.binop(tcg::Opc::kXor, Type::kI64, v,
                   ir.binop(tcg::Opc::kAnd, Type::kI64, diff, skip_mask));
    }
    ir.st_global(Type::kI64, x_off(r), v);
  }
  Temp f64(unsigned r) { return ir.ld_global(Type::kF64, f_off(r)); }
  Temp f32(unsigned r) { return ir.ld_global(Type::kF32, f_off(r)); }  // NaN-box checked
  void set_f64(unsigned r, Temp v) { ir.st_global(Type::kF64, f_off(r), v); }
  void set_f32(unsigned r, Temp v) { ir.st_global(Type::kF32, f_off(r), v); }  // boxes

  // Leaves the TB to the dispatcher with a guest exit kind.
  void exit_guest(ExitKind kind, uint64_t pc_at, bool retired, Temp info = tcg::kNoTemp) {
    side_exit(kind, pc_at, retired, info);
    end = true;
  }
  // The same exit on one path only: the block goes on after it (behind a branch to a label).
  void side_exit(ExitKind kind, uint64_t pc_at, bool retired, Temp info = tcg::kNoTemp) {
    ir.exit(static_cast<tcg::ExitCode>(static_cast<uint32_t>(tcg::ExitCode::kGuest) +
                                       static_cast<uint32_t>(kind)),
            pc_at, info);
    ir.ops.back().aux2 = retired ? 1 : 0;
  }
  void exit_code(tcg::ExitCode code, uint64_t pc_at) {
    ir.exit(code, pc_at);
    ir.ops.back().aux2 = 1;
    end = true;
  }
  void illegal() { exit_guest(ExitKind::kIllegalInstruction, pc, false, c64(d->raw)); }
};

// Each returns false when the instruction is not theirs.
bool translate_int(Ctx& c);     // RV64I, M, Zba, Zbb
bool translate_atomic(Ctx& c);  // A
bool translate_fp(Ctx& c);      // F, D
bool translate_system(Ctx& c);  // ecall, ebreak, fence, fence.i, Zicsr

}  // namespace tandem::riscv::translate_detail
