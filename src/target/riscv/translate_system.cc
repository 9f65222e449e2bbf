// ecall, ebreak, fence, fence.i and the user-level CSRs (fflags, frm, fcsr, cycle, time,
// instret).
#include <xmmintrin.h>

#include "target/riscv/interp.h"
#include "target/riscv/translate_internal.h"

namespace tandem::riscv::translate_detail {

namespace {

// x86 MXCSR exception flags -> RISC-V fflags. Denormal-operand (bit 1) has no RISC-V meaning.
uint32_t mxcsr_to_fflags(uint32_t m) {
  uint32_t f = 0;
  if (m & 0x01) f |= kNV;
  if (m & 0x04) f |= kDZ;
  if (m & 0x08) f |= kOF;
  if (m & 0x10) f |= kUF;
  if (m & 0x20) f |= kNX;
  return f;
}

// Generated code accrues flags in MXCSR: the guest's fflags are CpuState::fflags | the MXCSR
// flags (the dispatcher folds them in when generated code exits, and the trampoline starts
// with clear MXCSR flags). Reads leave MXCSR alone, and writes clear its flags only when it
// holds one the new value lacks: ldmxcsr is slow, and the common `frflags t; ...; fsflags t`
// (glibc's sqrt, fenv save/restore) writes back a superset of what MXCSR holds.
uint32_t current_fflags(const CpuState* env) {
  return env->fflags | mxcsr_to_fflags(_mm_getcsr());
}
void set_fflags(CpuState* env, uint32_t v) {
  const uint32_t m = _mm_getcsr();
  if (mxcsr_to_fflags(m) & ~v) _mm_setcsr(m & ~0x3fu);
  env->fflags = v;
}

uint64_t h_read_fflags(CpuState* env) {
  return current_fflags(env);
}
uint64_t h_read_fcsr(CpuState* env) {
  return (env->frm << 5) | current_fflags(env);
}
uint64_t h_write_fflags(CpuState* env, uint64_t v) {
  set_fflags(env, v & 0x1f);
  return 0;
}
uint64_t h_write_fcsr(CpuState* env, uint64_t v) {
  set_fflags(env, v & 0x1f);
  env->frm = (v >> 5) & 7;
  return 0;
}
uint64_t h_read_time() {
  return read_time_counter();
}

}  // namespace

uint32_t fflags_from_mxcsr(uint32_t mxcsr) {
  return mxcsr_to_fflags(mxcsr);
}

// Full-system CSR access: the hart's helper does it in the block (a kernel toggles sstatus.SIE
// and reads time, sepc or scause hundreds of thousands of times per boot; a trip through the
// dispatcher and the hart costs far more than a call). The helper says whether it did it,
// whether the hart must look at its state before the next instruction (an enabled interrupt, a
// changed translation context), or whether the hart must run the instruction itself (a trap,
// a counter that needs the exact instruction count).
bool translate_csr_call(Ctx& c) {
  if (!c.csr_helper) return false;
  const DecodedInsn& d = *c.d;
  Ir& ir = c.ir;
  const bool imm_form = d.op == Op::kCsrrwi || d.op == Op::kCsrrsi || d.op == Op::kCsrrci;
  const Temp operand = imm_form ? c.c64(static_cast<uint64_t>(d.imm)) : c.x(d.rs1);
  const Temp status =
      ir.call(reinterpret_cast<const void*>(c.csr_helper), tcg::kCallPassEnv | tcg::kCallWritesEnv,
              Type::kI64, operand, c.c64(d.expanded));
  const uint32_t done = ir.new_label();
  ir.brcond(Cond::kNe, Type::kI64, status, c.c64(kCsrHart), done);
  c.side_exit(ExitKind::kIllegalInstruction, c.pc, /*retired=*/false, c.c64(d.raw));
  ir.label(done);
  c.set_x(d.rd, ir.ld_global(Type::kI64, offsetof(CpuState, csr_value)));
  const uint32_t go_on = ir.new_label();
  ir.brcond(Cond::kEq, Type::kI64, status, c.c64(kCsrDone), go_on);
  c.side_exit(ExitKind::kInterrupted, c.next_pc, /*retired=*/true);
  ir.label(go_on);
  return true;
}

bool translate_system(Ctx& c) {
  const DecodedInsn& d = *c.d;
  Ir& ir = c.ir;
  switch (d.op) {
    case Op::kEcall:
      c.exit_guest(ExitKind::kEcall, c.pc, false);
      return true;
    case Op::kEbreak:
      c.exit_guest(ExitKind::kEbreak, c.pc, false);
      return true;
    case Op::kFence:
      // Device threads (virtio) and other guest threads see guest memory concurrently.
      if (fence_orders_store_load(d)) ir.emit({.opc = Opc::kFence});
      return true;
    case Op::kFenceI:
      c.exit_guest(ExitKind::kFenceI, c.next_pc, true);
      return true;
    case Op::kCsrrw:
    case Op::kCsrrs:
    case Op::kCsrrc:
    case Op::kCsrrwi:
    case Op::kCsrrsi:
    case Op::kCsrrci:
      break;
    default:
      return false;
  }
  // Full-system mode: the counters obey mcounteren/scounteren and read the machine's clock,
  // and every other CSR is privileged: the hart executes those, through its helper from the
  // block. The FP CSRs stay here while mstatus.FS enables them.
  if (c.system() && (d.csr > 0x003 || !c.fp_enabled())) return translate_csr_call(c);
  const bool imm_form = d.op == Op::kCsrrwi || d.op == Op::kCsrrsi || d.op == Op::kCsrrci;
  const bool is_write_op = d.op == Op::kCsrrw || d.op == Op::kCsrrwi;
  const bool writes = is_write_op || d.rs1 != 0;
  const uint8_t env_only = tcg::kCallPassEnv;
  Temp old;
  switch (d.csr) {
    case 0x001:
      old = ir.call(reinterpret_cast<const void*>(&h_read_fflags), env_only, Type::kI64);
      break;
    case 0x002:
      old = ir.unop(Opc::kZext32, Type::kI64, ir.ld_global(Type::kI32, offsetof(CpuState, frm)));
      break;
    case 0x003:
      old = ir.call(reinterpret_cast<const void*>(&h_read_fcsr), env_only, Type::kI64);
      break;
    case 0xc00:
    case 0xc02:
      if (writes) return false;
      // Retired so far: the count at TB entry plus the instructions before this one.
      old = ir.binop_imm(Opc::kAdd, Type::kI64,
                         ir.ld_global(Type::kI64, offsetof(CpuState, instret)), c.insn_index);
      break;
    case 0xc01:
      if (writes) return false;
      old = ir.call(reinterpret_cast<const void*>(&h_read_time), 0, Type::kI64);
      break;
    default:
      return false;
  }
  if (writes) {
    Temp operand = imm_form ? c.c64(static_cast<uint64_t>(d.imm)) : c.x(d.rs1);
    Temp value;
    if (is_write_op) {
      value = operand;
    } else if (d.op == Op::kCsrrs || d.op == Op::kCsrrsi) {
      value = ir.binop(Opc::kOr, Type::kI64, old, operand);
    } else {
      value = ir.binop(Opc::kAndn, Type::kI64, old, operand);
    }
    const uint8_t fl = tcg::kCallPassEnv | tcg::kCallNoReturnValue;
    switch (d.csr) {
      case 0x001:
        ir.call(reinterpret_cast<const void*>(&h_write_fflags), fl, Type::kI64, value);
        break;
      case 0x002:
        ir.st_global(Type::kI32, offsetof(CpuState, frm),
                     ir.binop_imm(Opc::kAnd, Type::kI32, value, 7));
        break;
      default:
        ir.call(reinterpret_cast<const void*>(&h_write_fcsr), fl, Type::kI64, value);
        break;
    }
  }
  c.set_x(d.rd, old);
  if (writes && (d.csr == 0x002 || d.csr == 0x003)) {
    // TBs are specialised for frm: continue in the dispatcher with the new mode.
    c.exit_code(tcg::ExitCode::kContinue, c.next_pc);
  }
  return true;
}

}  // namespace tandem::riscv::translate_detail
