// The x86 machine's virtio-mmio transports, one per MachineConfig::virtio_devices entry in
// command-line order, in the 32-bit MMIO hole:
//
//   device i: registers [0xfeb00000 + 0x200 * i, +0x200), IOAPIC pin / GSI 16 + i, i < 8
//
// the layout of QEMU's microvm (which also starts at 0xfeb00000 with GSI 16), clear of
// tandem-testdev (0xfe000000), the IOAPIC (0xfec00000), the HPET's usual place (0xfed00000) and
// the LAPIC (0xfee00000). GSIs 16-23 are the IOAPIC pins no ISA device uses, so no line is shared.
// The guest learns of the devices from the DSDT (Device "VRnn", _HID "LNRO0005", see
// boot/firmware_tables.h), as Linux's virtio_mmio driver expects on an ACPI system.
//
// KVM does the hot paths without a trip through a vCPU thread: each queue's QueueNotify
// (base + 0x50, 4-byte write, data = queue index) is a KVM ioeventfd signalling the transport's
// notify eventfd, watched by the I/O thread; the interrupt is a LevelIrqFd (a resampling KVM
// irqfd) on the device's GSI, level-triggered as virtio-mmio's InterruptStatus requires.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "accel/kvm/kvm_irq.h"
#include "accel/kvm/level_irqfd.h"
#include "machine/machine_config.h"
#include "machine/x86/boot/firmware_tables.h"

namespace tandem {
class CharBackend;
class EventLoop;
class GuestRam;
class IoBus;
class VirtioMmio;
class VmControl;
}  // namespace tandem

namespace tandem::kvm {
class KvmVm;
}

namespace tandem::x86 {

inline constexpr uint64_t kVirtioMmioBase = 0xfeb00000;
inline constexpr uint64_t kVirtioMmioStride = 0x200;
inline constexpr uint32_t kVirtioMmioFirstGsi = 16;
inline constexpr unsigned kVirtioMmioSlots = 8;  // IOAPIC pins 16..23

constexpr uint64_t virtio_mmio_base(unsigned index) {
  return kVirtioMmioBase + kVirtioMmioStride * index;
}
constexpr uint32_t virtio_mmio_gsi(unsigned index) {
  return kVirtioMmioFirstGsi + index;
}

// What the DSDT says about the first `count` transports.
std::vector<VirtioMmioAcpi> virtio_mmio_acpi(unsigned count);

class X86Virtio {
 public:
  // Builds the configured devices on `mmio` with their ioeventfds and irqfds. Everything passed
  // in must outlive this object, and this object must outlive `mmio`'s use of the devices.
  // Throws Error with a one-line message for a configuration the machine cannot build (more than
  // kVirtioMmioSlots devices, an unknown drive, an image that does not open...).
  X86Virtio(const MachineConfig& config, const GuestRam& ram, const kvm::KvmVm& vm, EventLoop& loop,
            VmControl& control, IoBus& mmio);
  ~X86Virtio();
  X86Virtio(const X86Virtio&) = delete;
  X86Virtio& operator=(const X86Virtio&) = delete;

  size_t size() const { return slots_.size(); }
  VirtioMmio& transport(unsigned index) const { return *slots_.at(index).transport; }
  const kvm::LevelIrqFd& irq(unsigned index) const { return *slots_.at(index).irq; }

 private:
  struct Slot {
    std::unique_ptr<kvm::LevelIrqFd> irq;
    std::shared_ptr<VirtioMmio> transport;
    std::vector<std::unique_ptr<kvm::IoEventFd>> notify;
  };
  std::vector<std::unique_ptr<CharBackend>> backends_;
  std::vector<Slot> slots_;
};

}  // namespace tandem::x86
