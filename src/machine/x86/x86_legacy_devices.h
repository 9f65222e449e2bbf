// The PC's legacy ISA devices, shared by every x86 machine Tandem builds:
//   COM1-COM4 16550A UARTs (0x3f8 IRQ4, 0x2f8 IRQ3, 0x3e8 IRQ4, 0x2e8 IRQ3), one per entry of
//     config.serials in order; an entry "none" leaves its port out (QEMU's -serial none), and
//     with no entries there is one stdio serial on COM1 unless -nodefaults. Only one port may
//     use the terminal.
//   the i8042 keyboard controller (0x60/0x64, IRQ1/IRQ12; the reset line), always, as on a PC
//     (-nodefaults removes default devices, not the board's own).
//   the MC146818 RTC/CMOS (0x70/0x71, IRQ8) with the memory-size bytes SeaBIOS reads.
//   isa-debug-exit devices from config.debug_exits. QEMU creates none unless asked; Tandem's x86
//     machine has one at 0x501 (QEMU's default iobase, size 2) unless -nodefaults, so test guests
//     can report a status without extra options. An explicit -device isa-debug-exit replaces
//     that default.
// Errors (an overlapping debug-exit range, two stdio serials, an unopenable serial file) are
// thrown as Error with a one-line message.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "base/event_loop.h"
#include "hw/core/irq.h"
#include "hw/core/vm_control.h"
#include "machine/machine_config.h"
#include "memory/io_bus.h"

namespace tandem::x86 {

// Returns the interrupt line for an ISA IRQ / GSI number. Called once per device and IRQ.
using IrqFactory = std::function<std::shared_ptr<IrqLine>(unsigned gsi)>;

// Registers the devices on `pio`. Their timers and terminal input run on `io`, which must
// outlive them (the bus owns the devices).
void add_x86_legacy_devices(IoBus& pio, EventLoop& io, VmControl& control, const IrqFactory& irq,
                            const MachineConfig& config, uint64_t ram_below_4g,
                            uint64_t ram_above_4g);

}  // namespace tandem::x86
