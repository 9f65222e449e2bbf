// The SiFive test finisher ("sifive,test0", QEMU's virt machine at 0x100000). A 2- or 4-byte
// write to offset 0 with low half `status` and high half `code` (as QEMU):
//   0x5555 (PASS)  -> the VMM exits with status 0 (poweroff; Linux's syscon-poweroff writes it)
//   0x3333 (FAIL)  -> the VMM exits with status `code`
//   0x7777 (RESET) -> a guest reset request (syscon-reboot)
// Anything else is ignored (logged). Reads return 0. The device has no state to snapshot.
#pragma once

#include <cstdint>

#include "hw/core/vm_control.h"
#include "memory/io_bus.h"

namespace tandem {

class SifiveTest : public IoDevice {
 public:
  static constexpr uint64_t kSize = 0x1000;
  enum Status : uint32_t { kFail = 0x3333, kPass = 0x5555, kReset = 0x7777 };

  // `control` must outlive the device.
  explicit SifiveTest(VmControl& control) : control_(control) {}

  void io_read(uint64_t offset, std::span<uint8_t> data) override;
  void io_write(uint64_t offset, std::span<const uint8_t> data) override;

 private:
  VmControl& control_;
};

}  // namespace tandem
