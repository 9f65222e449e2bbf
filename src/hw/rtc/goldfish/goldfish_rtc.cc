#include "hw/rtc/goldfish/goldfish_rtc.h"

#include "base/error.h"
#include "base/log.h"

namespace tandem {

namespace {

uint64_t deposit32(uint64_t reg, bool high, uint32_t value) {
  return high ? (reg & 0xffffffffull) | (uint64_t{value} << 32) : (reg & ~0xffffffffull) | value;
}

}  // namespace

GoldfishRtc::GoldfishRtc(std::shared_ptr<IrqLine> irq, const Clock& clock)
    : irq_(std::move(irq)), clock_(clock) {}

GoldfishRtc::~GoldfishRtc() = default;

uint64_t GoldfishRtc::time_ns() const {
  std::lock_guard lock(mutex_);
  return now_locked();
}

void GoldfishRtc::io_read(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard lock(mutex_);
  uint32_t value = 0;
  if (data.size() == 4) {
    switch (offset) {
      case kTimeLow: {
        uint64_t now = now_locked();
        time_high_ = static_cast<uint32_t>(now >> 32);
        value = static_cast<uint32_t>(now);
        break;
      }
      case kTimeHigh:
        value = time_high_;
        break;
      case kAlarmLow:
        value = static_cast<uint32_t>(alarm_ns_);
        break;
      case kAlarmHigh:
        value = static_cast<uint32_t>(alarm_ns_ >> 32);
        break;
      case kIrqEnabled:
        value = irq_enabled_;
        break;
      case kAlarmStatus:
        value = alarm_running_;
        break;
      default:
        TLOG_DEBUG("goldfish-rtc: read of {:#x}", offset);
        break;
    }
  } else {
    TLOG_DEBUG("goldfish-rtc: ignored {}-byte read at {:#x}", data.size(), offset);
  }
  for (size_t i = 0; i < data.size(); ++i)
    data[i] = i < 4 ? static_cast<uint8_t>(value >> (8 * i)) : 0;
}

void GoldfishRtc::io_write(uint64_t offset, std::span<const uint8_t> data) {
  if (data.size() != 4) {
    TLOG_DEBUG("goldfish-rtc: ignored {}-byte write at {:#x}", data.size(), offset);
    return;
  }
  uint32_t value = uint32_t{data[0]} | uint32_t{data[1]} << 8 | uint32_t{data[2]} << 16 |
                   uint32_t{data[3]} << 24;
  std::lock_guard lock(mutex_);
  switch (offset) {
    case kTimeLow:
    case kTimeHigh: {
      uint64_t now = now_locked();
      offset_ += deposit32(now, offset == kTimeHigh, value) - now;
      // A new time may reach (or leave behind) the armed alarm.
      check_alarm_locked();
      rearm_locked();
      break;
    }
    case kAlarmLow:
      alarm_ns_ = deposit32(alarm_ns_, false, value);
      alarm_running_ = true;
      check_alarm_locked();  // an alarm in the past fires at once
      rearm_locked();
      break;
    case kAlarmHigh:
      alarm_ns_ = deposit32(alarm_ns_, true, value);
      break;
    case kIrqEnabled:
      irq_enabled_ = value & 1;
      update_irq_locked();
      break;
    case kClearAlarm:
      alarm_running_ = false;
      rearm_locked();
      break;
    case kClearInterrupt:
      irq_pending_ = false;
      update_irq_locked();
      break;
    default:
      TLOG_DEBUG("goldfish-rtc: write of {:#x} to {:#x}", value, offset);
      break;
  }
}

void GoldfishRtc::check_alarm_locked() {
  if (!alarm_running_ || now_locked() < alarm_ns_) return;
  alarm_running_ = false;
  irq_pending_ = true;
  update_irq_locked();
}

void GoldfishRtc::check_alarm() {
  std::lock_guard lock(mutex_);
  check_alarm_locked();
  rearm_locked();
}

void GoldfishRtc::update_irq_locked() {
  bool level = irq_pending_ && irq_enabled_;
  if (level != line_) {
    line_ = level;
    if (irq_) irq_->set_level(level);
  }
}

std::optional<uint64_t> GoldfishRtc::next_alarm_ns() const {
  std::lock_guard lock(mutex_);
  if (!alarm_running_) return std::nullopt;
  uint64_t now = now_locked();
  uint64_t host_now = clock_.realtime_ns();
  return alarm_ns_ <= now ? host_now : host_now + (alarm_ns_ - now);
}

void GoldfishRtc::rearm_locked() {
  if (!timer_) return;
  if (!alarm_running_) {
    timer_->disarm();
    return;
  }
  uint64_t now = now_locked();
  uint64_t host_now = clock_.realtime_ns();
  // Saturate instead of wrapping for alarms beyond the year 2554.
  uint64_t wait = alarm_ns_ <= now ? 0 : alarm_ns_ - now;
  timer_->arm_at(wait > ~host_now ? ~0ull : host_now + wait);
}

void GoldfishRtc::attach_timer(EventLoop& loop) {
  std::weak_ptr<GoldfishRtc> weak = weak_from_this();
  if (weak.expired())
    fail("goldfish-rtc: attach_timer needs the device to be owned by a shared_ptr");
  auto timer = std::make_unique<HostTimer>(loop, CLOCK_REALTIME, [weak] {
    if (auto self = weak.lock()) self->check_alarm();
  });
  std::lock_guard lock(mutex_);
  timer_ = std::move(timer);
  rearm_locked();
}

GoldfishRtcState GoldfishRtc::save() const {
  std::lock_guard lock(mutex_);
  return GoldfishRtcState{now_locked(),   alarm_ns_,    time_high_,
                          alarm_running_, irq_pending_, irq_enabled_};
}

void GoldfishRtc::restore(const GoldfishRtcState& state) {
  std::lock_guard lock(mutex_);
  offset_ = state.time_ns - clock_.realtime_ns();
  alarm_ns_ = state.alarm_ns;
  time_high_ = state.time_high;
  alarm_running_ = state.alarm_running;
  irq_pending_ = state.irq_pending;
  irq_enabled_ = state.irq_enabled;
  update_irq_locked();
  check_alarm_locked();
  rearm_locked();
}

}  // namespace tandem
