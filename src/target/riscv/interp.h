// The reference interpreter for RV64IMAFDC + Zicsr + Zifencei + Zba + Zbb user-level code.
// Differential tests hold the translator to it, so it follows the spec literally.
//
// Counters (user mode): `cycle` and `instret` read CpuState::instret, the number of retired
// instructions; `time` reads the host's CLOCK_MONOTONIC in units of 100 ns (10 MHz, the
// timebase QEMU's and Tandem's virt machines advertise). Writes to them are illegal.
#pragma once

#include <cstdint>
#include <functional>

#include "target/riscv/cpu_state.h"
#include "target/riscv/decode.h"
#include "target/riscv/guest_memory.h"

namespace tandem::riscv {

// Executes instructions from cpu.pc until one of them needs the caller (ecall, ebreak, an
// illegal instruction, a memory fault, a misaligned atomic, fence.i) or `max_insns` have
// retired (ExitKind::kInterrupted). ecall/ebreak/faults leave pc at the instruction and do not
// count it as retired.
ExitInfo interpret(CpuState& cpu, GuestMemory& mem, uint64_t max_insns);

// Called before each instruction executes (for -d in_asm/exec style traces); may be empty.
using InsnHook = std::function<void(uint64_t pc, const DecodedInsn& insn)>;
ExitInfo interpret(CpuState& cpu, GuestMemory& mem, uint64_t max_insns, const InsnHook& hook);

// Full-system mode (src/target/riscv/system): what the privileged layer takes over. With
// `system_counters`, the counter CSRs (cycle, time, instret) are not read here but reported as
// an illegal-instruction exit, so the system layer applies mcounteren/scounteren and reads
// `time` from the machine's timer. With `fp_disabled` (mstatus.FS == Off) every FP instruction
// and the FP CSRs are illegal.
// With `one_block`, it stops (kInterrupted) after the first jump or branch, taken or not: the
// translator's cold tier interprets one block's worth of code at a time.
struct InterpOptions {
  bool system_counters = false;
  bool fp_disabled = false;
  bool one_block = false;
};
ExitInfo interpret(CpuState& cpu, GuestMemory& mem, uint64_t max_insns, const InsnHook& hook,
                   const InterpOptions& options);

// Reads the 10 MHz `time` counter.
uint64_t read_time_counter();

}  // namespace tandem::riscv
