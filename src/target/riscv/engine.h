// The seam between the user-mode (and later full-system) run loop and whatever executes guest
// code: the reference interpreter or the binary translator.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>

#include "target/riscv/cpu_state.h"
#include "target/riscv/guest_memory.h"

namespace tandem::riscv {

// What -d asks to trace, and where to.
struct TraceOptions {
  bool in_asm = false;  // guest instructions as they are first translated / executed
  bool exec = false;    // each executed block (translator) or instruction (interpreter)
  bool cpu = false;     // register dump before each block (translator) / at each exit
  FILE* log = stderr;
};

class ExecutionEngine {
 public:
  virtual ~ExecutionEngine() = default;
  // Runs guest code from cpu.pc until something needs the caller (see ExitKind). May return
  // kInterrupted at any time; the caller just calls run() again.
  virtual ExitInfo run(CpuState& cpu) = 0;
  // Guest code in [start, start + len) may have changed (fence.i, munmap/mprotect of code,
  // riscv_flush_icache). len == UINT64_MAX: everything.
  virtual void invalidate_code(uint64_t start, uint64_t len) = 0;
  // The host kernel is about to write guest bytes [start, start + len) on the guest's behalf
  // (a system call's output buffer). An engine that write-protects host pages holding
  // translated code must drop those translations and lift the protection first: the kernel
  // reports EFAULT for such a page instead of raising a fault the engine could handle.
  virtual void prepare_host_write(uint64_t /*start*/, uint64_t /*len*/) {}
  virtual const char* name() const = 0;
  // Makes run() return kInterrupted soon. Any thread; async-signal-safe.
  virtual void request_exit() {}
};

// The reference interpreter as an engine.
std::unique_ptr<ExecutionEngine> make_interpreter_engine(GuestMemory& mem,
                                                         const TraceOptions& trace);

// Prints the integer and FP registers the way -d cpu does.
void dump_cpu_state(FILE* out, const CpuState& cpu);

}  // namespace tandem::riscv
