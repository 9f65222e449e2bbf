// The virtio devices a MachineConfig asks for, built the same way for every machine; the
// machine only decides where each transport goes (riscv: device-tree slots, x86: ACPI windows).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "hw/char/char_backend.h"
#include "hw/virtio/virtio_device.h"
#include "machine/machine_config.h"

namespace tandem {

class EventLoop;
class VmControl;

// Builds the devices of config.virtio_devices in order. Host sides of virtio consoles go into
// `backends`, which must outlive the devices. Throws Error with a one-line message (a drive
// that cannot be opened, a second user of the terminal, ...).
class VirtioDeviceBuilder {
 public:
  // `stdio_taken`: a serial port already has the terminal.
  VirtioDeviceBuilder(const MachineConfig& config, EventLoop& loop, VmControl& control,
                      bool stdio_taken)
      : config_(config), loop_(loop), control_(control), stdio_taken_(stdio_taken) {}

  std::unique_ptr<VirtioDevice> build(const VirtioDeviceConfig& device,
                                      std::vector<std::unique_ptr<CharBackend>>& backends);

 private:
  const MachineConfig& config_;
  EventLoop& loop_;
  VmControl& control_;
  bool stdio_taken_;
};

// Whether a character-backend spec is the terminal.
bool is_stdio_backend(const std::string& spec);

}  // namespace tandem
