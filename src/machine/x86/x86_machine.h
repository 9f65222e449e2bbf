// The x86-64 PC machine on KVM: guest RAM around the 32-bit MMIO hole, the in-kernel irqchip
// (PIC, IOAPIC, LAPICs) and PIT, the legacy devices (COM1, i8042, CMOS RTC, isa-debug-exit),
// optionally tandem-testdev, the virtio-mmio devices of the command line (x86_virtio.h), a direct
// kernel boot with ACPI/MP tables, and one thread per vCPU.
#pragma once

#include <memory>
#include <vector>

#include "accel/kvm/kvm_irq.h"
#include "accel/kvm/kvm_system.h"
#include "accel/kvm/kvm_vcpu.h"
#include "accel/kvm/kvm_vm.h"
#include "accel/kvm/vm_runner.h"
#include "base/event_loop.h"
#include "base/unique_fd.h"
#include "machine/machine_config.h"
#include "machine/x86/x86_memory_map.h"
#include "memory/guest_ram.h"
#include "memory/io_bus.h"

namespace tandem {
class TestDev;
}

namespace tandem::x86 {

class X86Virtio;

class X86Machine {
 public:
  // Validates the config and builds the whole machine, kernel loaded and vCPUs set up.
  // Throws Error with a one-line message on any problem.
  explicit X86Machine(const MachineConfig& config);
  ~X86Machine();
  X86Machine(const X86Machine&) = delete;
  X86Machine& operator=(const X86Machine&) = delete;

  // Runs the guest until it ends; returns the VMM exit status (see accel/kvm/exit_status.h and
  // the devices' own, e.g. isa-debug-exit's (v << 1) | 1).
  int run();

  const GuestRam& ram() const { return ram_; }
  const IoBus& pio() const { return pio_; }
  const IoBus& mmio() const { return mmio_; }
  VmControl& control() { return runner_; }
  // The virtio-mmio transports, in command-line order.
  const X86Virtio& virtio() const { return *virtio_; }

 private:
  void add_testdev();

  // Declaration order is teardown order in reverse: the I/O thread is stopped first (in the
  // destructor), devices go before the VM and RAM they use.
  MachineConfig config_;
  kvm::KvmSystem sys_;
  RamLayout layout_;
  GuestRam ram_;
  // Declared before vm_, so closed after it: then the teardown process drops the last
  // reference to the VM (kvm/async_teardown.h).
  UniqueFd teardown_;
  kvm::KvmVm vm_;
  IoThread io_;
  // Before the buses: mmio_ holds the virtio transports, whose devices use what this owns; the
  // ioeventfds and irqfds it holds go before vm_.
  std::unique_ptr<X86Virtio> virtio_;
  IoBus pio_{"pio"};
  IoBus mmio_{"mmio"};
  kvm::VmRunner runner_;
  std::shared_ptr<TestDev> testdev_;
  std::unique_ptr<kvm::IoEventFd> testdev_doorbell_;
  std::vector<std::unique_ptr<kvm::KvmVcpu>> vcpus_;
};

}  // namespace tandem::x86
