// What to do after KVM_RUN returns: dispatches I/O exits to the buses and turns every other
// exit reason into "continue", "halted" or "stop with status N and this message". Works on a
// kvm_run buffer only (no ioctls), so each exit reason is unit-tested with a hand-filled buffer.
#pragma once

#include <linux/kvm.h>

#include <cstddef>
#include <functional>
#include <string>

#include "memory/io_bus.h"

namespace tandem::kvm {

struct ExitContext {
  const IoBus* pio = nullptr;
  const IoBus* mmio = nullptr;
  // With the in-kernel irqchip, HLT sleeps in the kernel and never reaches user space.
  bool irqchip = true;
  unsigned vcpu_id = 0;
  // Called for exits that end the VM abnormally; returns the register dump text.
  std::function<std::string()> dump_registers;
};

struct ExitOutcome {
  enum class Kind {
    kContinue,  // re-enter the guest
    kHalted,    // HLT without irqchip: nothing can wake the vCPU, it waits until the VM stops
    kStop,      // end the VM with `status`; `message` says why (may include a register dump)
  };
  Kind kind = Kind::kContinue;
  int status = 0;
  std::string message;

  static ExitOutcome resume() { return {}; }
  static ExitOutcome halted() { return {Kind::kHalted, 0, {}}; }
  static ExitOutcome stop(int status, std::string message) {
    return {Kind::kStop, status, std::move(message)};
  }
};

// `run_size` is the size of the kvm_run mapping: I/O data offsets are checked against it.
ExitOutcome handle_exit(kvm_run& run, size_t run_size, const ExitContext& ctx);

const char* exit_reason_name(uint32_t reason);

}  // namespace tandem::kvm
