// The Goldfish RTC (QEMU's virt machine has one at 0x101000, PLIC source 11; Linux's
// rtc-goldfish drives it). Time is nanoseconds since the epoch, following the host's wall clock
// from an offset the guest may set. 32-bit registers:
//   0x00 TIME_LOW     read: low half of the time, and latches the high half for TIME_HIGH
//   0x04 TIME_HIGH    read: the latched high half. Writes to either set that half of the time.
//   0x08 ALARM_LOW    write: low half of the alarm time, and arms the alarm
//   0x0c ALARM_HIGH   write: high half of the alarm time
//   0x10 IRQ_ENABLED  bit 0: the interrupt line follows the pending alarm interrupt
//   0x14 CLEAR_ALARM  write: disarms the alarm
//   0x18 ALARM_STATUS read: 1 while the alarm is armed
//   0x1c CLEAR_INTERRUPT write: clears the pending alarm interrupt
// When the time reaches an armed alarm, the alarm disarms and its interrupt becomes pending.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>

#include "base/event_loop.h"
#include "hw/core/irq.h"
#include "hw/timer/clock.h"
#include "hw/timer/host_timer.h"
#include "memory/io_bus.h"

namespace tandem {

struct GoldfishRtcState {
  uint64_t time_ns = 0;  // the RTC's time when saved
  uint64_t alarm_ns = 0;
  uint32_t time_high = 0;  // latched by the last TIME_LOW read
  bool alarm_running = false;
  bool irq_pending = false;
  bool irq_enabled = false;
};

class GoldfishRtc : public IoDevice, public std::enable_shared_from_this<GoldfishRtc> {
 public:
  static constexpr uint64_t kSize = 0x1000;
  enum Reg : uint64_t {
    kTimeLow = 0x00,
    kTimeHigh = 0x04,
    kAlarmLow = 0x08,
    kAlarmHigh = 0x0c,
    kIrqEnabled = 0x10,
    kClearAlarm = 0x14,
    kAlarmStatus = 0x18,
    kClearInterrupt = 0x1c,
  };

  // The RTC starts at the host's wall-clock time. `clock` must outlive the device.
  explicit GoldfishRtc(std::shared_ptr<IrqLine> irq, const Clock& clock = host_clock());
  ~GoldfishRtc() override;

  void io_read(uint64_t offset, std::span<uint8_t> data) override;
  void io_write(uint64_t offset, std::span<const uint8_t> data) override;

  uint64_t time_ns() const;
  // Fires the alarm if its time has come.
  void check_alarm();
  // When (on the host's CLOCK_REALTIME, ns) the armed alarm is due; nullopt if none is armed.
  std::optional<uint64_t> next_alarm_ns() const;
  // Arms a host timer on `loop` that calls check_alarm() when the alarm is due. The device must
  // be owned by a shared_ptr.
  void attach_timer(EventLoop& loop);

  GoldfishRtcState save() const;
  void restore(const GoldfishRtcState& state);

 private:
  uint64_t now_locked() const { return clock_.realtime_ns() + offset_; }
  void check_alarm_locked();
  void update_irq_locked();
  void rearm_locked();

  std::shared_ptr<IrqLine> irq_;
  const Clock& clock_;
  mutable std::mutex mutex_;
  uint64_t offset_ = 0;  // RTC time - host wall-clock time, modulo 2^64
  uint64_t alarm_ns_ = 0;
  uint32_t time_high_ = 0;
  bool alarm_running_ = false;
  bool irq_pending_ = false;
  bool irq_enabled_ = false;
  bool line_ = false;  // the level last given to irq_
  std::unique_ptr<HostTimer> timer_;
};

}  // namespace tandem
