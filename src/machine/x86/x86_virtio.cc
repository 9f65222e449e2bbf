#include "machine/x86/x86_virtio.h"

#include <fcntl.h>

#include <algorithm>

#include "accel/kvm/kvm_vm.h"
#include "base/error.h"
#include "hw/char/char_backend.h"
#include "hw/virtio/virtio_mmio.h"
#include "machine/virtio_devices.h"
#include "memory/io_bus.h"

namespace tandem::x86 {

namespace {}  // namespace

std::vector<VirtioMmioAcpi> virtio_mmio_acpi(unsigned count) {
  std::vector<VirtioMmioAcpi> out;
  for (unsigned i = 0; i < count; ++i) {
    out.push_back({static_cast<uint32_t>(virtio_mmio_base(i)),
                   static_cast<uint32_t>(kVirtioMmioStride), virtio_mmio_gsi(i)});
  }
  return out;
}

X86Virtio::X86Virtio(const MachineConfig& config, const GuestRam& ram, const kvm::KvmVm& vm,
                     EventLoop& loop, VmControl& control, IoBus& mmio) {
  static_assert(kVirtioMmioStride == VirtioMmio::kSize);
  const auto& devices = config.virtio_devices;
  if (devices.size() > kVirtioMmioSlots) {
    fail("the x86 machine has {} virtio-mmio slots; {} virtio devices were asked for",
         kVirtioMmioSlots, devices.size());
  }
  // A serial port on stdio has the terminal (COM1 by default, unless -nodefaults or -serial).
  VirtioDeviceBuilder builder(
      config, loop, control,
      config.serials.empty()
          ? !config.nodefaults
          : std::any_of(config.serials.begin(), config.serials.end(),
                        [](const SerialConfig& s) { return is_stdio_backend(s.backend); }));
  slots_.reserve(devices.size());
  for (unsigned i = 0; i < devices.size(); ++i) {
    const VirtioDeviceConfig& dev = devices[i];
    std::unique_ptr<VirtioDevice> device = builder.build(dev, backends_);
    Slot slot;
    const uint64_t base = virtio_mmio_base(i);
    slot.irq = std::make_unique<kvm::LevelIrqFd>(vm, virtio_mmio_gsi(i), loop);
    slot.transport = VirtioMmio::create(std::move(device), ram, *slot.irq, loop);
    // One ioeventfd per queue on the same address, told apart by the value written. Each wrapper
    // owns a duplicate of the transport's eventfd (same counter).
    const uint16_t queues = slot.transport->device().num_queues();
    for (uint16_t q = 0; q < queues; ++q) {
      int fd = ::fcntl(slot.transport->notify_eventfd(q), F_DUPFD_CLOEXEC, 0);
      if (fd < 0) fail_errno("dup of virtio queue {} notify eventfd", q);
      slot.notify.push_back(std::make_unique<kvm::IoEventFd>(vm, kvm::IoEventFd::Space::kMmio,
                                                             base + VirtioMmio::kQueueNotifyOffset,
                                                             4, uint64_t{q}, UniqueFd(fd)));
    }
    mmio.add(base, VirtioMmio::kSize, slot.transport, "virtio-mmio" + std::to_string(i));
    slots_.push_back(std::move(slot));
  }
}

X86Virtio::~X86Virtio() = default;

}  // namespace tandem::x86
