// The PC's MC146818 real-time clock and CMOS memory: index port 0x70 (bit 7 masks NMI), data
// port 0x71, 128 bytes.
//
// Time: the host's wall clock (UTC, as QEMU's default -rtc base=utc) plus an offset the guest
// changes by setting the clock (SET in register B freezes the time registers; clearing it starts
// the clock from what was written). BCD or binary (register B DM) and 12/24-hour (register B
// 24/12) apply to every read. Century at 0x32. Register A: UIP reads 1 during the last 244 us
// before each update, as on the chip; the rate select drives the periodic flag. Register C holds
// the interrupt flags (PF periodic, AF alarm, UF update-ended, IRQF) and is cleared by reading;
// register D reports valid RAM and time.
// Interrupts: the periodic, alarm (with "don't care" alarm bytes 0xC0-0xFF) and update-ended
// interrupts are raised on the IRQ line (IRQ8) when enabled in register B, timed by a timer on
// the event loop; the flags are also correct for guests that poll register C.
// Not modelled: the divider-chain reset in register A (the clock keeps running), daylight
// saving (DSE), square-wave output.
#pragma once

#include <functional>
#include <memory>
#include <mutex>

#include "base/unique_fd.h"
#include "hw/core/irq.h"
#include "hw/rtc/cmos/cmos_rtc_state.h"
#include "memory/io_bus.h"

namespace tandem {

class EventLoop;
struct CmosTimerLink;

class CmosRtc final : public IoDevice {
 public:
  struct Options {
    // Host wall-clock time in ns since the epoch; tests pass a fake. Default: CLOCK_REALTIME.
    std::function<int64_t()> clock;
  };

  // `loop` runs the interrupt timer and must outlive the device. irq may be null.
  CmosRtc(std::shared_ptr<IrqLine> irq, EventLoop& loop, Options options);
  CmosRtc(std::shared_ptr<IrqLine> irq, EventLoop& loop) : CmosRtc(std::move(irq), loop, {}) {}
  ~CmosRtc() override;

  // Offset 0: index port (write-only; reads 0xff), offset 1: data port.
  void io_read(uint64_t offset, std::span<uint8_t> data) override;
  void io_write(uint64_t offset, std::span<const uint8_t> data) override;

  // Machine set-up: raw CMOS bytes (memory sizes, equipment) and their checksum.
  void set_byte(uint8_t index, uint8_t value);
  uint8_t byte(uint8_t index) const;
  bool nmi_masked() const;

  CmosRtcState save() const;
  void restore(const CmosRtcState& state);

 private:
  uint8_t read_register(uint8_t index);
  void write_register(uint8_t index, uint8_t value);

  // mutex_ held.
  int64_t guest_now() const;
  uint8_t time_register(uint8_t index, int64_t guest_ns) const;
  void freeze_time(int64_t guest_ns);
  void start_clock_from_registers();
  void update_flags(int64_t guest_ns);
  void update_irq();
  void rearm_timer();
  void on_timer();

  std::shared_ptr<IrqLine> irq_;
  EventLoop& loop_;
  std::function<int64_t()> clock_;
  UniqueFd timer_;
  std::shared_ptr<CmosTimerLink> link_;

  mutable std::mutex mutex_;
  CmosRtcState s_;
  bool irq_level_ = false;
};

// Fills the CMOS bytes PC firmware and SeaBIOS read, as QEMU's pc machine does: base memory
// (0x15/0x16, 640 KiB), extended memory in KiB above 1 MiB (0x17/0x18 and 0x30/0x31, at most
// 65535), memory above 16 MiB in 64 KiB units (0x34/0x35), memory above 4 GiB in 64 KiB units
// (0x5b-0x5d), CPU count - 1 (0x5f), the equipment byte (0x14: FPU, PS/2 mouse port) and the
// standard checksum of 0x10-0x2d at 0x2e/0x2f.
void store_pc_cmos_layout(CmosRtc& rtc, uint64_t ram_below_4g, uint64_t ram_above_4g,
                          unsigned cpus);

}  // namespace tandem
