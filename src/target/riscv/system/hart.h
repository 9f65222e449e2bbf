// One RV64GC hart in full-system mode: the user-level CpuState run by the binary translator
// (accel/tcg, with its softmmu) or the reference interpreter, plus the privileged layer around
// it. Everything either engine hands back (ecall, ebreak, illegal instructions, faults) becomes
// an architectural trap here; CSR instructions, mret/sret/wfi/sfence.vma are executed here (and,
// for the interpreter, MMIO/page-crossing loads and stores; the translator's slow paths do those
// themselves). Interrupts are taken between engine runs: a device raising one makes the engine
// return (request_exit), and every instruction that can enable one leaves the engine anyway.
//
// HartGroup owns the harts of a machine, implements HartInterruptSink for the CLINT/PLIC (any
// thread; the pending bits are atomics) and runs the harts round-robin on the calling thread,
// sleeping while every hart waits in WFI. With more than one hart a kicker thread ends each
// hart's turn after kTimeSlice so that a spinning hart cannot starve the others.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "accel/tcg/softmmu.h"
#include "hw/riscv/hart_irq.h"
#include "target/riscv/cpu_state.h"
#include "target/riscv/engine.h"
#include "target/riscv/system/priv_state.h"
#include "target/riscv/system/system_memory.h"

namespace tandem::riscv {

struct HartOptions {
  bool translator = true;  // false: the reference interpreter
};

class SystemHart {
 public:
  // `code_pages` (translator only) is shared by the harts of a machine and outlives them.
  SystemHart(unsigned hartid, const GuestRam& ram, const IoBus& mmio, PrivEnv env,
             tcg::CodePages* code_pages = nullptr);
  ~SystemHart();

  // Runs up to `budget` instructions (interpreter) or engine exits (translator). Returns early
  // when the hart enters WFI or was kicked (request_exit, an interrupt).
  void run(uint64_t budget);
  // Makes run() return soon. Any thread.
  void kick() {
    if (engine_) engine_->request_exit();
  }
  bool translated() const { return engine_ != nullptr; }

  // True while the hart sleeps in WFI with nothing (pending & enabled in mie) to wake it.
  bool waiting() const;
  bool halted_in_wfi() const { return wfi_; }

  // Returns true when the line was newly raised.
  bool set_pending(unsigned bit, bool level) {
    if (level) {
      const uint64_t old = hw_pending_.fetch_or(1ull << bit, std::memory_order_acq_rel);
      if (old & (1ull << bit)) return false;
      kick();  // take it at the next block boundary
      return true;
    }
    hw_pending_.fetch_and(~(1ull << bit), std::memory_order_acq_rel);
    return false;
  }
  uint64_t hw_pending() const { return hw_pending_.load(std::memory_order_acquire); }

  // Takes a trap now (cause with kInterruptFlag for interrupts) at the current pc.
  void trap(uint64_t cause, uint64_t tval);

  CpuState cpu;
  PrivState ps;
  SystemMemory mem;
  uint64_t traps_taken = 0;
  // Translator: engine exits by ExitKind (TANDEM_HART_STATS=1 prints them at the end).
  uint64_t exits[16] = {};
  uint64_t csr_exits = 0;    // of the illegal-instruction exits: CSR accesses and xRET/WFI/SFENCE
  uint64_t inline_csrs = 0;  // CSR instructions done from generated code

 private:
  void run_interpreted(uint64_t max_insns);
  void run_translated(uint64_t max_exits);
  // The translator's cold tier (ExitKind::kColdCode): one block's worth of code at pc, through
  // the interpreter.
  void run_cold_block();
  static constexpr uint64_t kColdBlockInsns = 64;
  static constexpr uint8_t kTranslateAfter = 16;
  // False when the hart sleeps in WFI (nothing to run now).
  bool take_interrupts();
  void handle_exit(const ExitInfo& exit);
  void handle_illegal(uint32_t raw);
  friend class HartGroup;
  bool exec_system(uint32_t raw);  // CSR ops, mret, sret, wfi, sfence.vma; false: illegal
  // csrrw/csrrs/csrrc (and the immediate forms) with its operand: the old value, or nullopt
  // (illegal: nothing changed).
  std::optional<uint64_t> csr_op(uint32_t raw, uint64_t operand);
  // CpuState::csr_helper: a CSR instruction run from generated code (a CsrStatus).
  static uint64_t csr_from_block(CpuState* env, uint64_t operand, uint64_t insn);
  void emulate_access(FaultKind kind, Access access, uint64_t addr);
  void set_priv_context_changed() { mem.flush_tlb(); }

  PrivEnv env_;
  std::atomic<uint64_t> hw_pending_{0};
  bool wfi_ = false;
  std::unique_ptr<ExecutionEngine> engine_;
};

class HartGroup final : public HartInterruptSink {
 public:
  HartGroup(unsigned num_harts, const GuestRam& ram, const IoBus& mmio, PrivEnv env,
            HartOptions options = {});
  ~HartGroup() override;

  void set_pending(unsigned hart, unsigned irq_bit, bool level) override;

  // Runs all harts until stop(). `on_idle` is not used; time-based events come from the
  // devices' own host timers through set_pending().
  void run();
  void stop();
  bool stopped() const { return stop_.load(std::memory_order_acquire); }

  SystemHart& hart(unsigned i) { return *harts_[i]; }
  // The translator's record of code pages (nullptr with the interpreter): the machine reports
  // device writes to it (GuestRam::set_device_write_watcher).
  tcg::CodePages* code_pages() { return code_pages_.get(); }
  unsigned size() const { return static_cast<unsigned>(harts_.size()); }

  // Interpreter: instructions per round-robin turn (bounds interrupt latency). Translator: engine
  // exits per turn (bounds how long a trap storm keeps the loop from seeing stop()).
  static constexpr uint64_t kSlice = 4096;
  // Translator with several harts: the longest turn a hart gets.
  static constexpr std::chrono::milliseconds kTimeSlice{4};

 private:
  void kicker();

  std::unique_ptr<tcg::CodePages> code_pages_;  // before harts_: they refer to it
  std::vector<std::unique_ptr<SystemHart>> harts_;
  std::atomic<unsigned> running_{0};  // the hart whose turn it is
  std::thread kicker_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable kicker_wake_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> kicks_{0};
};

}  // namespace tandem::riscv
