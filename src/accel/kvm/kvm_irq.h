// Interrupt and notification plumbing between devices and KVM:
//  - KvmIrqLine: an IrqLine (hw/core/irq.h) that drives one GSI of the in-kernel irqchip
//    with KVM_IRQ_LINE.
//  - IoEventFd: KVM_IOEVENTFD; a guest write to a PIO/MMIO address signals an eventfd inside
//    KVM, without a trip to user space on the vCPU thread.
//  - IrqFd: KVM_IRQFD; writing the eventfd injects an edge on a GSI from any thread.
// Each wrapper owns its eventfd and undoes its registration when destroyed.
#pragma once

#include <cstdint>
#include <optional>

#include "base/unique_fd.h"
#include "hw/core/irq.h"

namespace tandem::kvm {

class KvmVm;

class KvmIrqLine : public IrqLine {
 public:
  // `vm` must outlive the line and have an in-kernel irqchip.
  KvmIrqLine(const KvmVm& vm, uint32_t gsi) : vm_(vm), gsi_(gsi) {}
  // Called from device threads: a failure is logged (it means a VMM bug), never thrown.
  void set_level(bool asserted) override;
  uint32_t gsi() const { return gsi_; }

 private:
  const KvmVm& vm_;
  uint32_t gsi_;
};

// Creates a non-blocking, close-on-exec eventfd. Throws SystemError.
UniqueFd make_eventfd();

class IoEventFd {
 public:
  enum class Space { kPio, kMmio };

  // Registers `fd` (or a fresh eventfd when fd is invalid) for guest writes of `len` bytes
  // (1, 2, 4 or 8; 0 for MMIO means any length) at `addr`. With `datamatch`, only writes of that
  // value signal. `vm` must outlive this object. Throws SystemError.
  IoEventFd(const KvmVm& vm, Space space, uint64_t addr, uint32_t len,
            std::optional<uint64_t> datamatch, UniqueFd fd = UniqueFd());
  ~IoEventFd();
  IoEventFd(const IoEventFd&) = delete;
  IoEventFd& operator=(const IoEventFd&) = delete;

  int fd() const { return fd_.get(); }
  // Reads and clears the counter; 0 when nothing was signalled.
  uint64_t consume();

 private:
  const KvmVm& vm_;
  UniqueFd fd_;
  uint64_t addr_;
  uint32_t len_;
  uint32_t flags_;
  uint64_t datamatch_;
};

class IrqFd {
 public:
  // Connects a fresh eventfd to `gsi`. `vm` must outlive this object. Throws SystemError.
  IrqFd(const KvmVm& vm, uint32_t gsi);
  ~IrqFd();
  IrqFd(const IrqFd&) = delete;
  IrqFd& operator=(const IrqFd&) = delete;

  int fd() const { return fd_.get(); }
  uint32_t gsi() const { return gsi_; }
  // Injects an edge on the GSI (writes 1 to the eventfd). Callable from any thread.
  void trigger();

 private:
  const KvmVm& vm_;
  UniqueFd fd_;
  uint32_t gsi_;
};

}  // namespace tandem::kvm
