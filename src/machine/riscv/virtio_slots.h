// The virt machine's eight virtio-mmio slots, filled as QEMU's `-M virt` fills them: the first
// virtio device of the command line goes to the highest slot (7, at 0x10008000, PLIC source 8),
// the next to slot 6, and so on. The device tree lists the slots from the highest address down
// (build_virt_fdt), so Linux probes the first device first and, e.g., the first disk is vda.
// Every slot is in the tree; an empty one is a transport whose DeviceID reads 0, which Linux
// skips, as on QEMU.
//
// Device work runs on the machine's I/O thread; interrupts go to the PLIC.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "hw/core/irq.h"
#include "machine/machine_config.h"
#include "memory/io_bus.h"

namespace tandem {
class CharBackend;
class EventLoop;
class GuestRam;
class VmControl;
class VirtioMmio;
}  // namespace tandem

namespace tandem::riscv {

class Plic;

// A virtio-mmio slot with no device behind it: magic, version 2 and vendor read as on a real
// transport, DeviceID reads 0 ("no device": the driver leaves it alone), every other register
// reads 0 and writes are ignored.
class EmptyVirtioSlot final : public IoDevice {
 public:
  void io_read(uint64_t offset, std::span<uint8_t> data) override;
  void io_write(uint64_t, std::span<const uint8_t>) override {}
};

// The slot that the index-th virtio device of the command line occupies.
constexpr unsigned virtio_slot_of(unsigned index, unsigned slots) {
  return slots - 1 - index;
}

class VirtioSlots {
 public:
  // Builds the configured devices and claims every slot on `bus`. `ram`, `plic`, `loop` and
  // `control` must outlive this object, which must outlive `bus`'s use of the devices (the
  // devices refer to the console backends it owns). Throws Error for a configuration the
  // machine cannot build (too many devices, a console on stdio that the UART already uses).
  VirtioSlots(const MachineConfig& config, const GuestRam& ram, Plic& plic, EventLoop& loop,
              VmControl& control, IoBus& bus);
  ~VirtioSlots();
  VirtioSlots(const VirtioSlots&) = delete;
  VirtioSlots& operator=(const VirtioSlots&) = delete;

  // The transport in `slot`, or nullptr when the slot is empty.
  VirtioMmio* transport(unsigned slot) const;

 private:
  std::vector<std::unique_ptr<CharBackend>> backends_;
  std::vector<std::shared_ptr<IrqLine>> irqs_;
  std::vector<std::shared_ptr<VirtioMmio>> transports_;  // by slot; nullptr when empty
};

}  // namespace tandem::riscv
