#include "machine/riscv/virtio_slots.h"

#include <algorithm>
#include <cstring>

#include "base/error.h"
#include "hw/char/char_backend.h"
#include "hw/riscv/plic/plic.h"
#include "hw/virtio/virtio_mmio.h"
#include "machine/riscv/virt_memory_map.h"
#include "machine/virtio_devices.h"

namespace tandem::riscv {
namespace {}  // namespace

void EmptyVirtioSlot::io_read(uint64_t offset, std::span<uint8_t> data) {
  uint32_t value = 0;
  switch (offset & ~uint64_t{3}) {
    case 0x000:
      value = VirtioMmio::kMagic;
      break;
    case 0x004:
      value = VirtioMmio::kVersion;
      break;
    case 0x00c:
      value = VirtioMmio::kVendorId;
      break;
    default:
      break;  // DeviceID (0x008) and everything else: 0
  }
  // Registers are 32-bit; a narrower read sees the addressed bytes, a wider one zeros beyond.
  uint8_t bytes[4];
  std::memcpy(bytes, &value, 4);
  for (size_t i = 0; i < data.size(); ++i) {
    const uint64_t at = (offset & 3) + i;
    data[i] = at < 4 ? bytes[at] : 0;
  }
}

VirtioSlots::VirtioSlots(const MachineConfig& config, const GuestRam& ram, Plic& plic,
                         EventLoop& loop, VmControl& control, IoBus& bus)
    : transports_(virt::kVirtioSlots) {
  const auto& devices = config.virtio_devices;
  if (devices.size() > virt::kVirtioSlots) {
    fail("the virt machine has {} virtio-mmio slots; {} virtio devices were asked for",
         virt::kVirtioSlots, devices.size());
  }
  // The UART takes the terminal unless -serial says otherwise; one terminal serves one device.
  VirtioDeviceBuilder builder(
      config, loop, control,
      config.serials.empty() ? !config.nodefaults : is_stdio_backend(config.serials[0].backend));
  for (unsigned i = 0; i < devices.size(); ++i) {
    const VirtioDeviceConfig& dev = devices[i];
    const unsigned slot = virtio_slot_of(i, virt::kVirtioSlots);
    std::unique_ptr<VirtioDevice> device = builder.build(dev, backends_);
    irqs_.push_back(plic.irq(virt::virtio_irq(slot)));
    transports_[slot] = VirtioMmio::create(std::move(device), ram, *irqs_.back(), loop);
  }
  for (unsigned slot = 0; slot < virt::kVirtioSlots; ++slot) {
    std::shared_ptr<IoDevice> device = transports_[slot];
    if (!device) device = std::make_shared<EmptyVirtioSlot>();
    bus.add(virt::virtio_base(slot), VirtioMmio::kSize, std::move(device),
            "virtio-mmio" + std::to_string(slot));
  }
}

VirtioSlots::~VirtioSlots() = default;

VirtioMmio* VirtioSlots::transport(unsigned slot) const {
  return slot < transports_.size() ? transports_[slot].get() : nullptr;
}

}  // namespace tandem::riscv
