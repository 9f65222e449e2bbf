// A character device's host side (the terminal, a file, nothing) and the guest-facing device it
// feeds (a UART). The backend writes the device's output out and delivers input to the device,
// no faster than the device can take it: when the UART's FIFO is full, can_receive() returns 0
// and the backend stops reading until the device calls accept_input().
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

namespace tandem {

class EventLoop;
class VmControl;

// The device side. Both calls come from the backend's I/O thread.
class CharFrontend {
 public:
  virtual ~CharFrontend() = default;
  // How many bytes receive() can take now. 0 pauses delivery until the device calls
  // CharBackend::accept_input().
  virtual size_t can_receive() = 0;
  // Bytes from the host. A backend never passes more than the last can_receive() allowed.
  virtual void receive(std::span<const uint8_t> data) = 0;
};

class CharBackend {
 public:
  virtual ~CharBackend() = default;
  // Sends the guest's bytes to the host. Any thread; returns when written (or dropped, when the
  // host side is gone: a closed pipe must not stop the guest).
  virtual void write(std::span<const uint8_t> data) = 0;
  // Connects the device that receives input (nullptr disconnects). When it returns, no call into
  // the previous frontend is running or will be made, so a device can disconnect in its
  // destructor.
  virtual void set_frontend(CharFrontend* frontend) = 0;
  // The frontend has room again after a can_receive() of 0. Any thread; cheap.
  virtual void accept_input() {}
};

// A backend that drops output and never has input ("null", and QEMU's "none" where a device
// exists without a host side).
class NullCharBackend final : public CharBackend {
 public:
  void write(std::span<const uint8_t>) override {}
  void set_frontend(CharFrontend*) override {}
};

// Builds a backend from a -serial spec: "stdio" or "mon:stdio" (the terminal, with the Ctrl-A
// escape), "file:PATH" (output to PATH, truncated; no input), "null"/"none" (nothing).
// Throws Error with a one-line message for anything else or an unopenable file.
std::unique_ptr<CharBackend> make_char_backend(std::string_view spec, EventLoop& loop,
                                               VmControl& control);

}  // namespace tandem
