// The SiFive CLINT (ACLINT MSWI + MTIMER in one window) of QEMU's virt machine, 0x10000 bytes:
//   0x0000 + 4*hart  msip      bit 0 drives the hart's MSIP
//   0x4000 + 8*hart  mtimecmp  MTIP = (mtime >= mtimecmp)
//   0xbff8           mtime     10 MHz, from the host's monotonic clock (writable, as in QEMU)
// 64-bit registers take 8-byte or 4-byte (half) accesses; msip takes 4-byte accesses.
// mtime moves on its own, so MTIP can become due between accesses: the machine either calls
// update_timers() when next_deadline_ns() passes or lets attach_timer() do it with a host timer.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "base/event_loop.h"
#include "hw/riscv/hart_irq.h"
#include "hw/timer/clock.h"
#include "hw/timer/host_timer.h"
#include "memory/io_bus.h"

namespace tandem::riscv {

// What a snapshot of the CLINT holds.
struct ClintState {
  std::vector<uint32_t> msip;      // per hart, bit 0
  std::vector<uint64_t> mtimecmp;  // per hart
  uint64_t mtime = 0;              // the counter's value when saved
};

class Clint : public IoDevice, public std::enable_shared_from_this<Clint> {
 public:
  static constexpr uint64_t kSize = 0x10000;
  static constexpr uint64_t kMsipBase = 0x0;
  static constexpr uint64_t kMtimecmpBase = 0x4000;
  static constexpr uint64_t kMtimeOffset = 0xbff8;
  static constexpr uint64_t kTimebaseHz = 10'000'000;
  static constexpr uint64_t kNsPerTick = 1'000'000'000 / kTimebaseHz;
  static constexpr unsigned kMaxHarts = 4095;  // msip array ends at 0x4000

  // `sink` and `clock` must outlive the device. mtime starts at 0.
  Clint(unsigned num_harts, HartInterruptSink& sink, const Clock& clock = host_clock());
  ~Clint() override;

  void io_read(uint64_t offset, std::span<uint8_t> data) override;
  void io_write(uint64_t offset, std::span<const uint8_t> data) override;

  // The timer's current value: what the harts' `time` CSR reads.
  uint64_t mtime() const;
  // Raises MTIP for every hart whose mtimecmp has been reached (and lowers it otherwise).
  void update_timers();
  // The earliest monotonic-clock time (ns) at which a hart's MTIP is due to rise, if any is not
  // raised yet. A past time means update_timers() is due now.
  std::optional<uint64_t> next_deadline_ns() const;
  // Arms a host timer on `loop` that calls update_timers() at each deadline. The device must be
  // owned by a shared_ptr. Call once, before the harts run.
  void attach_timer(EventLoop& loop);

  ClintState save() const;
  // Throws Error if the state is for a different number of harts.
  void restore(const ClintState& state);

  unsigned num_harts() const { return num_harts_; }

 private:
  uint64_t mtime_locked() const;
  void set_mtime_locked(uint64_t value);
  uint64_t read_reg_locked(uint64_t offset, unsigned size) const;
  void write_reg_locked(uint64_t offset, unsigned size, uint64_t value);
  void update_locked();
  std::optional<uint64_t> deadline_locked() const;
  void rearm_locked();

  const unsigned num_harts_;
  HartInterruptSink& sink_;
  const Clock& clock_;
  mutable std::mutex mutex_;
  std::vector<uint32_t> msip_;
  std::vector<uint64_t> mtimecmp_;
  std::vector<bool> mtip_;  // the level last given to the sink
  uint64_t base_ns_;        // monotonic time at which the counter read mtime_base_
  uint64_t mtime_base_ = 0;
  std::unique_ptr<HostTimer> timer_;
};

}  // namespace tandem::riscv
