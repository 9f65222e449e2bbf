// What a device may ask of the machine that holds it: stop with an exit status (debug-exit,
// SBI shutdown, test finisher) or reset (i8042 reset line, SBI reboot). The machine decides what
// that means; Tandem ends the VMM in both cases, as QEMU does with -no-reboot.
#pragma once

namespace tandem {

class VmControl {
 public:
  virtual ~VmControl() = default;
  // Ends the VM; the VMM process exits with `status`. Callable from any thread.
  virtual void request_exit(int status) = 0;
  // Guest-requested reset. Callable from any thread.
  virtual void request_reset() = 0;
};

}  // namespace tandem
