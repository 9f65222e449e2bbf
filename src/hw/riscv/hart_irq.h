// How RISC-V platform devices (CLINT, PLIC) reach a hart's interrupt-pending bits (mip). The CPU
// side implements HartInterruptSink; the devices only call it. Bits are mip bit numbers.
#pragma once

namespace tandem::riscv {

enum MipBit : unsigned {
  kMipSsip = 1,   // supervisor software
  kMipMsip = 3,   // machine software (CLINT msip)
  kMipStip = 5,   // supervisor timer
  kMipMtip = 7,   // machine timer (CLINT mtimecmp)
  kMipSeip = 9,   // supervisor external (PLIC S-mode context)
  kMipMeip = 11,  // machine external (PLIC M-mode context)
};

class HartInterruptSink {
 public:
  virtual ~HartInterruptSink() = default;
  // Drives mip bit `irq_bit` of hart `hart` to `level`. Devices call it only when the level
  // changes, from any thread (vCPU threads, the I/O thread, a timer), with their own lock held:
  // an implementation must not call back into the device, and should only record the bit and
  // wake the hart (e.g. out of WFI).
  virtual void set_pending(unsigned hart, unsigned irq_bit, bool level) = 0;
};

}  // namespace tandem::riscv
