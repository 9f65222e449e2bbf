// QEMU's isa-debug-exit: a write of value v ends the VM with exit status (v << 1) | 1, so a test
// guest can report success or failure through the VMM's exit status (any status a guest can
// produce is odd, and so distinct from 0). v is the written value at the access width (1, 2
// or 4 bytes, little-endian); the process status keeps the low 8 bits, as exit() does in QEMU.
// Reads return 0, as in QEMU. The device has no state beyond its wiring.
#pragma once

#include <memory>

#include "hw/core/vm_control.h"
#include "memory/io_bus.h"

namespace tandem {

class DebugExit final : public IoDevice {
 public:
  explicit DebugExit(VmControl& control) : control_(control) {}

  void io_read(uint64_t offset, std::span<uint8_t> data) override;
  void io_write(uint64_t offset, std::span<const uint8_t> data) override;

  // The status a write of `value` produces.
  static int exit_status(uint64_t value) { return static_cast<int>(((value << 1) | 1) & 0xff); }

 private:
  VmControl& control_;
};

}  // namespace tandem
