// The interpreter behind the ExecutionEngine interface, with -d tracing.
#include <fmt/format.h>

#include <unordered_set>

#include "target/riscv/decode.h"
#include "target/riscv/engine.h"
#include "target/riscv/interp.h"

namespace tandem::riscv {
namespace {

// Instructions per run() call: bounds the latency of noticing asynchronous stop requests.
constexpr uint64_t kSlice = 1 << 20;

class InterpreterEngine : public ExecutionEngine {
 public:
  InterpreterEngine(GuestMemory& mem, const TraceOptions& trace) : mem_(mem), trace_(trace) {}

  ExitInfo run(CpuState& cpu) override {
    ExitInfo exit;
    if (!trace_.in_asm && !trace_.exec) {
      exit = interpret(cpu, mem_, kSlice);
    } else {
      exit = interpret(cpu, mem_, kSlice, [this](uint64_t pc, const DecodedInsn& d) {
        if (trace_.in_asm && seen_.insert(pc).second) {
          fmt::print(trace_.log, "IN:\n0x{:016x}:  {:0{}x}  {}\n\n", pc, d.raw,
                     d.length == 2 ? 4 : 8, disassemble(d, pc));
        }
        if (trace_.exec) fmt::print(trace_.log, "Trace: 0x{:016x}\n", pc);
      });
    }
    if (trace_.cpu) dump_cpu_state(trace_.log, cpu);
    return exit;
  }

  void invalidate_code(uint64_t, uint64_t) override {}  // nothing cached but the trace set
  const char* name() const override { return "interpreter"; }

 private:
  GuestMemory& mem_;
  TraceOptions trace_;
  std::unordered_set<uint64_t> seen_;
};

}  // namespace

std::unique_ptr<ExecutionEngine> make_interpreter_engine(GuestMemory& mem,
                                                         const TraceOptions& trace) {
  return std::make_unique<InterpreterEngine>(mem, trace);
}

void dump_cpu_state(FILE* out, const CpuState& cpu) {
  fmt::print(out, " pc       {:016x}\n", cpu.pc);
  for (unsigned i = 0; i < 32; ++i) {
    fmt::print(out, " x{:<2}/{:<4} {:016x}{}", i, xreg_name(i), cpu.x[i], i % 4 == 3 ? "\n" : "");
  }
  for (unsigned i = 0; i < 32; ++i) {
    fmt::print(out, " f{:<2}/{:<4} {:016x}{}", i, freg_name(i), cpu.f[i], i % 4 == 3 ? "\n" : "");
  }
  fmt::print(out, " fflags {:02x} frm {}\n", cpu.fflags, cpu.frm);
}

}  // namespace tandem::riscv
