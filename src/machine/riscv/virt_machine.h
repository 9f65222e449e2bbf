// Tandem's RISC-V `virt` board, as QEMU's `-M virt`: RAM at 0x80000000, CLINT, PLIC, a 16550A
// UART (IRQ 10), goldfish RTC (IRQ 11), the SiFive test finisher and eight virtio-mmio slots
// (IRQ 1-8) holding the virtio devices of the command line (virtio_slots.h), described to the
// guest by a device tree. Boot follows QEMU: the firmware (OpenSBI fw_jump.bin / fw_dynamic.bin) at
// 0x80000000 in M mode with a0 = hartid, a1 = DTB, a2 = fw_dynamic_info; the kernel Image at
// 0x80200000; the initrd above it (linux,initrd-start/end in /chosen); the DTB near the top
// of RAM. With --bios none the kernel (a flat binary) itself is loaded at 0x80000000 and
// started in M mode, for bare-metal programs.
//
// The harts run full-system on the reference interpreter, round-robin on the calling thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "base/event_loop.h"
#include "hw/core/vm_control.h"
#include "machine/machine_config.h"
#include "memory/guest_ram.h"
#include "memory/io_bus.h"
#include "target/riscv/system/hart.h"

namespace tandem::riscv {

class Clint;
class Plic;
class VirtioSlots;

struct VirtBootLayout {
  uint64_t firmware = 0;  // 0 with --bios none
  uint64_t kernel = 0, kernel_end = 0;
  uint64_t initrd = 0, initrd_end = 0;
  uint64_t fdt = 0;
  uint64_t dynamic_info = 0;
};

class VirtMachine final : public VmControl {
 public:
  // Builds the board and loads the images. Throws Error with a one-line message on bad input.
  explicit VirtMachine(const MachineConfig& config);
  ~VirtMachine() override;
  VirtMachine(const VirtMachine&) = delete;
  VirtMachine& operator=(const VirtMachine&) = delete;

  // Runs until the guest powers off / resets / fails (sifive_test) or the user quits.
  int run();

  void request_exit(int status) override;
  void request_reset() override { request_exit(0); }  // as QEMU -no-reboot

  const GuestRam& ram() const { return ram_; }
  HartGroup& harts() { return *harts_; }
  const VirtBootLayout& layout() const { return layout_; }

 private:
  void load_images();
  static uint64_t read_mtime(void* self);

  MachineConfig config_;
  GuestRam ram_;
  IoThread io_;
  // Before mmio_: the bus holds the virtio transports, whose devices use what this owns.
  std::unique_ptr<VirtioSlots> virtio_;
  IoBus mmio_{"mmio"};
  std::unique_ptr<HartGroup> harts_;
  std::shared_ptr<Clint> clint_;
  std::shared_ptr<Plic> plic_;
  VirtBootLayout layout_;
  std::atomic<int> status_{0};
};

// Checks a RISC-V Linux Image header (magic "RSC\x05" at offset 56) and returns its
// text_offset and image_size. Throws Error naming what the file is instead (x86 bzImage, ELF).
struct ImageHeader {
  uint64_t text_offset = 0;
  uint64_t image_size = 0;
};
ImageHeader parse_riscv_image(const std::vector<uint8_t>& image, const std::string& path);

}  // namespace tandem::riscv
