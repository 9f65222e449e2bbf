// The PC's 8042 keyboard controller at ports 0x60 (data) and 0x64 (status/command), with no
// keyboard and no mouse plugged in. That is enough for Linux's i8042 driver to probe it, find
// both ports empty and move on quickly, and for the reset line: command 0xFE (any pulse command
// with bit 0 clear) or an output-port write with bit 0 clear asks the machine to reset.
//
// Commands: 0x20-0x3F read controller RAM (0x20: configuration byte), 0x60-0x7F write it,
// 0xA7/0xA8 aux disable/enable, 0xA9 aux interface test (0x00), 0xAA self test (0x55),
// 0xAB keyboard interface test (0x00), 0xAD/0xAE keyboard disable/enable, 0xC0 read input port,
// 0xD0/0xD1 read/write output port, 0xD2/0xD3 write the keyboard/aux output buffer (loopback;
// Linux's AUX probe uses 0xD3), 0xD4 write to the aux device, 0xF0-0xFF pulse output lines.
// Bytes sent to a device (a data write with no command pending, or 0xD4's data) find nobody
// there: the controller answers 0xFE with the timeout bit set, as a real one does when the
// device does not respond, and raises the device's interrupt if enabled.
// A20 (output port bit 1) is recorded but not modelled: KVM has no A20 masking.
#pragma once

#include <memory>
#include <mutex>

#include "hw/core/irq.h"
#include "hw/core/vm_control.h"
#include "hw/x86/i8042/i8042_state.h"
#include "memory/io_bus.h"

namespace tandem {

class I8042 final : public IoDevice {
 public:
  // kbd_irq is IRQ1, aux_irq IRQ12; either may be null (not wired).
  I8042(VmControl& control, std::shared_ptr<IrqLine> kbd_irq, std::shared_ptr<IrqLine> aux_irq);

  // As an IoDevice the controller spans offsets 0..4: offset 0 is port 0x60, offset 4 port 0x64.
  // add_i8042_ports() registers just those two ports.
  void io_read(uint64_t offset, std::span<uint8_t> data) override;
  void io_write(uint64_t offset, std::span<const uint8_t> data) override;

  uint8_t read_data();
  uint8_t read_status();
  void write_data(uint8_t value);
  void write_command(uint8_t value);

  I8042State save() const;
  void restore(const I8042State& state);

 private:
  // mutex_ held.
  void queue(uint8_t value, bool aux = false, bool timeout = false);
  void reset_request();
  void update_irqs();
  uint8_t config() const { return s_.ram[0]; }

  VmControl& control_;
  std::shared_ptr<IrqLine> kbd_irq_, aux_irq_;
  mutable std::mutex mutex_;
  I8042State s_;
  bool kbd_level_ = false, aux_level_ = false;
};

// Claims ports base (data, 0x60) and base + 4 (status/command, 0x64) on the PIO bus, leaving
// 0x61-0x63 (port B, the PIT speaker gate) to others.
void add_i8042_ports(IoBus& pio, std::shared_ptr<I8042> controller, uint16_t base = 0x60);

}  // namespace tandem
