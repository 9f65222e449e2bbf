// An interrupt line from a device to the machine's interrupt controller. Each machine provides
// its own: KVM's in-kernel irqchip (KVM_IRQ_LINE or an irqfd) on x86, the PLIC on RISC-V. Devices
// only see this interface, so one device serves both machines.
#pragma once

namespace tandem {

class IrqLine {
 public:
  virtual ~IrqLine() = default;
  // Level-triggered: the line stays asserted until set_level(false).
  virtual void set_level(bool asserted) = 0;
  // Edge: a rising and falling edge (for edge-triggered inputs such as MSI-like notifications).
  virtual void pulse() {
    set_level(true);
    set_level(false);
  }
};

}  // namespace tandem
