// A KVM VM fd: memory slots, KVM's private pages, the in-kernel irqchip and PIT, interrupt lines.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <memory>

#include "accel/kvm/kvm_system.h"
#include "base/unique_fd.h"
#include "memory/guest_ram.h"

namespace tandem::kvm {

class KvmVcpu;

class KvmVm {
 public:
  // KVM_CREATE_VM. `system` must outlive the VM.
  explicit KvmVm(const KvmSystem& system);
  ~KvmVm();
  KvmVm(const KvmVm&) = delete;
  KvmVm& operator=(const KvmVm&) = delete;

  int fd() const { return fd_.get(); }
  const KvmSystem& system() const { return system_; }
  // KVM_CHECK_EXTENSION on the VM fd when the host supports that, else on the system fd.
  int check_extension(long cap) const;

  // One memory slot per RAM region (see memory_slots.h). `ram` must outlive the VM.
  void map_ram(const GuestRam& ram);
  void set_memory_slot(const kvm_userspace_memory_region& slot);

  void set_tss_addr(uint64_t addr);
  void set_identity_map_addr(uint64_t addr);
  // KVM_CREATE_IRQCHIP (PIC + IOAPIC + per-vCPU LAPIC). Must come before the first vCPU.
  void create_irqchip();
  // KVM_CREATE_PIT2 (i8254 on port 0x40; speaker port 0x61 left to user space). Needs irqchip.
  void create_pit2();
  bool has_irqchip() const { return irqchip_; }

  // KVM_IRQ_LINE: drives an irqchip input (a GSI: 0-15 ISA IRQs, 16-23 IOAPIC pins).
  void set_irq_line(uint32_t gsi, bool level) const;

  std::unique_ptr<KvmVcpu> create_vcpu(unsigned id) const;

 private:
  const KvmSystem& system_;
  UniqueFd fd_;
  bool irqchip_ = false;
};

}  // namespace tandem::kvm
