// One RV64GC hart in full-system mode: the user-level CpuState run by the reference
// interpreter, plus the privileged layer around it. Everything the interpreter hands back
// (ecall, ebreak, illegal instructions, faults) becomes an architectural trap here; CSR
// instructions, mret/sret/wfi/sfence.vma and MMIO/page-crossing loads and stores are executed
// here; interrupts are taken between interpreter slices (every kSlice instructions at most, and
// after every instruction that can enable one, since those leave the interpreter).
//
// HartGroup owns the harts of a machine, implements HartInterruptSink for the CLINT/PLIC (any
// thread; the pending bits are atomics) and runs the harts round-robin on the calling thread,
// sleeping while every hart waits in WFI.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "hw/riscv/hart_irq.h"
#include "target/riscv/cpu_state.h"
#include "target/riscv/system/priv_state.h"
#include "target/riscv/system/system_memory.h"

namespace tandem::riscv {

class SystemHart {
 public:
  SystemHart(unsigned hartid, const GuestRam& ram, const IoBus& mmio, PrivEnv env);

  // Runs up to `max_insns` instructions. Returns early when the hart enters WFI.
  void run(uint64_t max_insns);

  // True while the hart sleeps in WFI with nothing (pending & enabled in mie) to wake it.
  bool waiting() const;
  bool halted_in_wfi() const { return wfi_; }

  void set_pending(unsigned bit, bool level) {
    if (level) {
      hw_pending_.fetch_or(1ull << bit, std::memory_order_acq_rel);
    } else {
      hw_pending_.fetch_and(~(1ull << bit), std::memory_order_acq_rel);
    }
  }
  uint64_t hw_pending() const { return hw_pending_.load(std::memory_order_acquire); }

  // Takes a trap now (cause with kInterruptFlag for interrupts) at the current pc.
  void trap(uint64_t cause, uint64_t tval);

  CpuState cpu;
  PrivState ps;
  SystemMemory mem;
  uint64_t traps_taken = 0;

 private:
  void handle_exit(const ExitInfo& exit);
  void handle_illegal(uint32_t raw);
  bool exec_system(uint32_t raw);  // CSR ops, mret, sret, wfi, sfence.vma; false: illegal
  void emulate_access(FaultKind kind, Access access, uint64_t addr);
  void set_priv_context_changed() { mem.flush_tlb(); }

  PrivEnv env_;
  std::atomic<uint64_t> hw_pending_{0};
  bool wfi_ = false;
};

class HartGroup final : public HartInterruptSink {
 public:
  HartGroup(unsigned num_harts, const GuestRam& ram, const IoBus& mmio, PrivEnv env);

  void set_pending(unsigned hart, unsigned irq_bit, bool level) override;

  // Runs all harts until stop(). `on_idle` is not used; time-based events come from the
  // devices' own host timers through set_pending().
  void run();
  void stop();
  bool stopped() const { return stop_.load(std::memory_order_acquire); }

  SystemHart& hart(unsigned i) { return *harts_[i]; }
  unsigned size() const { return static_cast<unsigned>(harts_.size()); }

  // Instructions per round-robin turn: bounds interrupt latency.
  static constexpr uint64_t kSlice = 4096;

 private:
  std::vector<std::unique_ptr<SystemHart>> harts_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> kicks_{0};
};

}  // namespace tandem::riscv
