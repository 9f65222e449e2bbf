// LevelIrqFd: a level-triggered IrqLine on an in-kernel irqchip GSI, backed by KVM_IRQFD with
// KVM_IRQFD_FLAG_RESAMPLE, so that raising the line from a device thread is an eventfd write
// (no ioctl, no vCPU exit) and yet the line behaves like a wire that stays high:
//
//   set_level(true)   remembers the level and writes the irqfd: KVM asserts the GSI.
//   guest EOI         KVM de-asserts the GSI itself and signals the resamplefd.
//   resamplefd        (on the I/O thread) if the level is still high, the irqfd is written again,
//                     so the guest is interrupted again, as with a real level-triggered wire.
//   set_level(false)  only remembers the level: the GSI stays asserted until the guest's EOI
//                     (KVM offers no early de-assert for a resampling irqfd; KVM_IRQ_LINE drives
//                     another IRQ source). A handler that finds nothing to do sees a spurious
//                     interrupt at most, as on hardware with a slow line.
//
// Needs KVM_CAP_IRQFD_RESAMPLE and an in-kernel irqchip (x86: the IOAPIC pins, GSIs 0-23).
//
// On kvm-pvm hosts the EOI (and so the resample) happens when KVM injects the interrupt, before
// the guest's handler runs; the line is then re-asserted once more than needed and the guest sees
// one extra interrupt with nothing pending. Level semantics (re-delivery while asserted) hold.
#pragma once

#include <atomic>
#include <cstdint>

#include "base/unique_fd.h"
#include "hw/core/irq.h"

namespace tandem {
class EventLoop;
}

namespace tandem::kvm {

class KvmVm;

class LevelIrqFd final : public IrqLine {
 public:
  // `vm` and `loop` must outlive the line; the resamplefd is watched on `loop`.
  // Throws Error/SystemError if the host lacks resampling irqfds or KVM refuses the GSI.
  LevelIrqFd(const KvmVm& vm, uint32_t gsi, EventLoop& loop);
  ~LevelIrqFd() override;
  LevelIrqFd(const LevelIrqFd&) = delete;
  LevelIrqFd& operator=(const LevelIrqFd&) = delete;

  // Any thread. Never throws: a failing eventfd write is logged.
  void set_level(bool asserted) override;
  bool level() const { return level_.load(); }
  uint32_t gsi() const { return gsi_; }
  // How many times the guest's EOI found the line still high and it was re-asserted.
  uint64_t reasserts() const { return reasserts_.load(); }

 private:
  void trigger();
  void on_resample();

  const KvmVm& vm_;
  EventLoop& loop_;
  uint32_t gsi_;
  UniqueFd irqfd_;
  UniqueFd resamplefd_;
  std::atomic<bool> level_{false};
  std::atomic<uint64_t> reasserts_{0};
};

}  // namespace tandem::kvm
