// The terminal as a serial console, as QEMU's "-serial mon:stdio" / -nographic:
// input is read on the I/O thread (non-blocking; a pipe or file is read as it comes and reading
// stops at EOF), output is written from whichever thread the guest writes on. A TTY is put into
// raw mode for the backend's lifetime (TerminalGuard).
//
// The Ctrl-A escape, as in QEMU: C-a x ends the VM (exit status 0), C-a h prints help,
// C-a C-a sends one C-a to the guest; any other key after C-a is dropped. It applies to any
// input, TTY or pipe, as in QEMU.
#pragma once

#include <memory>
#include <mutex>

#include "hw/char/char_backend.h"

namespace tandem {

class TerminalGuard;

class StdioBackend final : public CharBackend {
 public:
  // in_fd/out_fd are 0 and 1 in the VMM; tests pass pipes or a pty. Callbacks run on `loop`,
  // which must outlive the backend.
  StdioBackend(EventLoop& loop, VmControl& control, int in_fd = 0, int out_fd = 1);
  ~StdioBackend() override;

  void write(std::span<const uint8_t> data) override;
  void set_frontend(CharFrontend* frontend) override;
  void accept_input() override;

 private:
  struct Output;
  struct Input;
  std::unique_ptr<TerminalGuard> terminal_;
  std::shared_ptr<Output> output_;
  // Shared with callbacks on the loop thread, which hold only a weak reference: a callback that
  // runs after the backend is gone does nothing.
  std::shared_ptr<Input> input_;
};

}  // namespace tandem
