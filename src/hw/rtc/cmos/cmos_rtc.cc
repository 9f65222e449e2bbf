#include "hw/rtc/cmos/cmos_rtc.h"

#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <limits>

#include "base/error.h"
#include "base/event_loop.h"

namespace tandem {
namespace {

enum : uint8_t {
  kSec = 0x00,
  kSecAlarm = 0x01,
  kMin = 0x02,
  kMinAlarm = 0x03,
  kHour = 0x04,
  kHourAlarm = 0x05,
  kWeekday = 0x06,
  kDay = 0x07,
  kMonth = 0x08,
  kYear = 0x09,
  kRegA = 0x0a,
  kRegB = 0x0b,
  kRegC = 0x0c,
  kRegD = 0x0d,
  kCentury = 0x32,
};
constexpr uint8_t kTimeRegisters[] = {kSec, kMin, kHour, kWeekday, kDay, kMonth, kYear, kCentury};

constexpr uint8_t kAUip = 0x80, kADividerMask = 0x70, kADividerNormal = 0x20, kARateMask = 0x0f;
constexpr uint8_t kBSet = 0x80, kBPie = 0x40, kBAie = 0x20, kBUie = 0x10, kBBinary = 0x04,
                  kB24Hour = 0x02;
constexpr uint8_t kCIrqf = 0x80, kCPf = 0x40, kCAf = 0x20, kCUf = 0x10;
constexpr uint8_t kDValid = 0x80;

constexpr int64_t kNsPerSec = 1'000'000'000;
constexpr int64_t kSecPerDay = 86400;
// UIP rises this long before each update (8 periods of the 32.768 kHz clock).
constexpr int64_t kUipWindowNs = 8 * kNsPerSec / 32768;

int64_t floor_div(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

bool is_time_register(uint8_t index) {
  return std::find(std::begin(kTimeRegisters), std::end(kTimeRegisters), index) !=
         std::end(kTimeRegisters);
}

// Proleptic Gregorian calendar <-> days since 1970-01-01 (H. Hinnant's algorithms).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = floor_div(y, 400);
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

struct Civil {
  int64_t year;
  unsigned month, day, hour, minute, second, weekday;  // weekday: 0 = Sunday
};

Civil civil_from_seconds(int64_t secs) {
  int64_t days = floor_div(secs, kSecPerDay);
  int64_t sod = secs - days * kSecPerDay;
  int64_t z = days + 719468;
  int64_t era = floor_div(z, 146097);
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  Civil c;
  c.day = static_cast<unsigned>(doy - (153 * mp + 2) / 5 + 1);
  c.month = static_cast<unsigned>(mp < 10 ? mp + 3 : mp - 9);
  c.year = yoe + era * 400 + (c.month <= 2);
  c.hour = static_cast<unsigned>(sod / 3600);
  c.minute = static_cast<unsigned>(sod / 60 % 60);
  c.second = static_cast<unsigned>(sod % 60);
  int64_t weekday = (days + 4) % 7;  // 1970-01-01 was a Thursday
  c.weekday = static_cast<unsigned>(weekday < 0 ? weekday + 7 : weekday);
  return c;
}

int64_t host_realtime_ns() {
  timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * kNsPerSec + ts.tv_nsec;
}

}  // namespace

struct CmosTimerLink {
  std::mutex mutex;
  CmosRtc* rtc = nullptr;
};

namespace {

// Register encodings under register B's format bits.
struct Format {
  bool binary;
  bool h24;
  uint8_t encode(unsigned v) const {
    v %= 100;
    return static_cast<uint8_t>(binary ? v : ((v / 10) << 4) | (v % 10));
  }
  unsigned decode(uint8_t v) const { return binary ? v : (v >> 4) * 10 + (v & 0x0f); }
  uint8_t encode_hour(unsigned h) const {
    if (h24) return encode(h);
    unsigned h12 = h % 12 == 0 ? 12 : h % 12;
    return static_cast<uint8_t>(encode(h12) | (h >= 12 ? 0x80 : 0));
  }
  unsigned decode_hour(uint8_t v) const {
    if (h24) return decode(v);
    return decode(v & 0x7f) % 12 + ((v & 0x80) ? 12 : 0);
  }
};

}  // namespace

CmosRtc::CmosRtc(std::shared_ptr<IrqLine> irq, EventLoop& loop, Options options)
    : irq_(std::move(irq)), loop_(loop), clock_(std::move(options.clock)) {
  if (!clock_) clock_ = host_realtime_ns;
  s_.cmos[kRegA] = kADividerNormal | 0x06;  // 32.768 kHz time base, 1024 Hz periodic rate
  s_.cmos[kRegB] = kB24Hour;
  s_.cmos[kRegD] = kDValid;
  s_.last_check_ns = clock_();
  timer_.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  if (!timer_) fail_errno("timerfd_create");
  link_ = std::make_shared<CmosTimerLink>();
  link_->rtc = this;
  loop_.add_fd(timer_.get(), EPOLLIN, [link = link_, fd = timer_.get()](uint32_t) {
    uint64_t expirations;
    [[maybe_unused]] auto n = ::read(fd, &expirations, sizeof expirations);
    std::lock_guard lock(link->mutex);
    if (link->rtc) link->rtc->on_timer();
  });
}

CmosRtc::~CmosRtc() {
  {
    std::lock_guard lock(link_->mutex);
    link_->rtc = nullptr;
  }
  loop_.remove_fd(timer_.get());
}

void CmosRtc::io_read(uint64_t offset, std::span<uint8_t> data) {
  std::fill(data.begin(), data.end(), 0xff);
  if (data.empty() || offset != 1) return;  // the index port is write-only
  std::lock_guard lock(mutex_);
  data[0] = read_register(s_.index);
}

void CmosRtc::io_write(uint64_t offset, std::span<const uint8_t> data) {
  if (data.empty()) return;
  std::lock_guard lock(mutex_);
  if (offset == 0) {
    s_.index = data[0] & 0x7f;
    s_.nmi_disabled = data[0] & 0x80;
  } else if (offset == 1) {
    write_register(s_.index, data[0]);
  }
}

void CmosRtc::set_byte(uint8_t index, uint8_t value) {
  std::lock_guard lock(mutex_);
  s_.cmos[index & 0x7f] = value;
}

uint8_t CmosRtc::byte(uint8_t index) const {
  std::lock_guard lock(mutex_);
  return s_.cmos[index & 0x7f];
}

bool CmosRtc::nmi_masked() const {
  std::lock_guard lock(mutex_);
  return s_.nmi_disabled;
}

int64_t CmosRtc::guest_now() const {
  return clock_() + s_.offset_ns;
}

uint8_t CmosRtc::time_register(uint8_t index, int64_t guest_ns) const {
  Format f{static_cast<bool>(s_.cmos[kRegB] & kBBinary),
           static_cast<bool>(s_.cmos[kRegB] & kB24Hour)};
  Civil c = civil_from_seconds(floor_div(guest_ns, kNsPerSec));
  switch (index) {
    case kSec:
      return f.encode(c.second);
    case kMin:
      return f.encode(c.minute);
    case kHour:
      return f.encode_hour(c.hour);
    case kWeekday:
      return f.encode(c.weekday + 1);  // 1 = Sunday
    case kDay:
      return f.encode(c.day);
    case kMonth:
      return f.encode(c.month);
    case kYear:
      return f.encode(static_cast<unsigned>(((c.year % 100) + 100) % 100));
    default:  // century
      return f.encode(static_cast<unsigned>(std::clamp<int64_t>(c.year / 100, 0, 99)));
  }
}

void CmosRtc::freeze_time(int64_t guest_ns) {
  for (uint8_t index : kTimeRegisters) s_.cmos[index] = time_register(index, guest_ns);
}

void CmosRtc::start_clock_from_registers() {
  Format f{static_cast<bool>(s_.cmos[kRegB] & kBBinary),
           static_cast<bool>(s_.cmos[kRegB] & kB24Hour)};
  // Guest-written values may be anything; clamp them into a valid date instead of trusting them.
  // The clock counts nanoseconds in 64 bits, which reach from 1677 to 2262: keep to 1900-2199.
  int64_t year = int64_t{f.decode(s_.cmos[kCentury])} * 100 + f.decode(s_.cmos[kYear]) % 100;
  year = std::clamp<int64_t>(year, 1900, 2199);
  unsigned month = std::clamp(f.decode(s_.cmos[kMonth]), 1u, 12u);
  unsigned day = std::clamp(f.decode(s_.cmos[kDay]), 1u, 31u);
  unsigned hour = std::min(f.decode_hour(s_.cmos[kHour]), 23u);
  unsigned minute = std::min(f.decode(s_.cmos[kMin]), 59u);
  unsigned second = std::min(f.decode(s_.cmos[kSec]), 59u);
  int64_t secs =
      days_from_civil(year, month, day) * kSecPerDay + hour * 3600 + minute * 60 + second;
  int64_t target = secs * kNsPerSec;
  s_.offset_ns = target - clock_();
  s_.last_check_ns = target;  // no flags for the jump itself
}

uint8_t CmosRtc::read_register(uint8_t index) {
  bool running = !(s_.cmos[kRegB] & kBSet);
  if (is_time_register(index)) return running ? time_register(index, guest_now()) : s_.cmos[index];
  switch (index) {
    case kRegA: {
      uint8_t value = s_.cmos[kRegA] & ~kAUip;
      if (running && (value & kADividerMask) == kADividerNormal) {
        int64_t into_second = guest_now() - floor_div(guest_now(), kNsPerSec) * kNsPerSec;
        if (kNsPerSec - into_second <= kUipWindowNs) value |= kAUip;
      }
      return value;
    }
    case kRegC: {
      update_flags(guest_now());
      uint8_t flags = s_.cmos[kRegC];
      uint8_t value = flags | ((flags & s_.cmos[kRegB] & (kCPf | kCAf | kCUf)) ? kCIrqf : 0);
      s_.cmos[kRegC] = 0;  // reading clears all flags and the interrupt
      update_irq();
      rearm_timer();
      return value;
    }
    case kRegD:
      return kDValid;
    default:
      return s_.cmos[index];
  }
}

void CmosRtc::write_register(uint8_t index, uint8_t value) {
  if (is_time_register(index)) {
    if (s_.cmos[kRegB] & kBSet) {
      s_.cmos[index] = value;
    } else {
      // The clock is running: the write takes effect at once and the clock goes on from there.
      freeze_time(guest_now());
      s_.cmos[index] = value;
      start_clock_from_registers();
      rearm_timer();
    }
    return;
  }
  switch (index) {
    case kRegA:
      update_flags(guest_now());
      s_.cmos[kRegA] = value & ~kAUip;
      rearm_timer();
      return;
    case kRegB: {
      int64_t now = guest_now();
      update_flags(now);
      uint8_t old = s_.cmos[kRegB];
      if (value & kBSet) value &= ~kBUie;  // setting SET clears UIE
      if (!(old & kBSet) && (value & kBSet)) freeze_time(now);
      s_.cmos[kRegB] = value;
      if ((old & kBSet) && !(value & kBSet)) start_clock_from_registers();
      update_irq();
      rearm_timer();
      return;
    }
    case kRegC:
    case kRegD:
      return;  // read-only
    default:
      s_.cmos[index] = value;  // alarms, NVRAM
  }
}

void CmosRtc::update_flags(int64_t guest_ns) {
  int64_t last = s_.last_check_ns;
  if (guest_ns <= last) {
    s_.last_check_ns = guest_ns;  // the clock was set back
    return;
  }
  uint8_t flags = 0;
  if (!(s_.cmos[kRegB] & kBSet)) {
    int64_t first = floor_div(last, kNsPerSec) + 1;  // first update in (last, guest_ns]
    int64_t end = floor_div(guest_ns, kNsPerSec);
    if (end >= first) {
      flags |= kCUf;
      // The alarm compares hours, minutes and seconds: a day of updates covers every case.
      first = std::max(first, end - kSecPerDay + 1);
      Format f{static_cast<bool>(s_.cmos[kRegB] & kBBinary),
               static_cast<bool>(s_.cmos[kRegB] & kB24Hour)};
      auto matches = [](uint8_t alarm, uint8_t now) {
        return (alarm & 0xc0) == 0xc0 || alarm == now;
      };
      for (int64_t t = first; t <= end && !(flags & kCAf); ++t) {
        int64_t sod = t - floor_div(t, kSecPerDay) * kSecPerDay;
        if (matches(s_.cmos[kSecAlarm], f.encode(static_cast<unsigned>(sod % 60))) &&
            matches(s_.cmos[kMinAlarm], f.encode(static_cast<unsigned>(sod / 60 % 60))) &&
            matches(s_.cmos[kHourAlarm], f.encode_hour(static_cast<unsigned>(sod / 3600)))) {
          flags |= kCAf;
        }
      }
    }
  }
  unsigned rate = s_.cmos[kRegA] & kARateMask;
  if (rate) {
    if (rate <= 2) rate += 7;  // rates 1 and 2 repeat 8 and 9 (256 and 128 Hz)
    int64_t period = (int64_t{1} << (rate - 1)) * kNsPerSec / 32768;
    if (floor_div(guest_ns, period) > floor_div(last, period)) flags |= kCPf;
  }
  s_.cmos[kRegC] |= flags;
  s_.last_check_ns = guest_ns;
}

void CmosRtc::update_irq() {
  bool level = s_.cmos[kRegC] & s_.cmos[kRegB] & (kCPf | kCAf | kCUf);
  if (level == irq_level_) return;
  irq_level_ = level;
  if (irq_) irq_->set_level(level);
}

void CmosRtc::rearm_timer() {
  int64_t now = guest_now();
  int64_t next = std::numeric_limits<int64_t>::max();
  uint8_t b = s_.cmos[kRegB], c = s_.cmos[kRegC];
  // Wake only for an enabled interrupt whose flag is not already up (a raised one stays raised
  // until the guest reads register C, which re-arms).
  unsigned rate = s_.cmos[kRegA] & kARateMask;
  if ((b & kBPie) && !(c & kCPf) && rate) {
    if (rate <= 2) rate += 7;
    int64_t period = (int64_t{1} << (rate - 1)) * kNsPerSec / 32768;
    next = std::min(next, (floor_div(now, period) + 1) * period);
  }
  if (!(b & kBSet) && (((b & kBUie) && !(c & kCUf)) || ((b & kBAie) && !(c & kCAf)))) {
    next = std::min(next, (floor_div(now, kNsPerSec) + 1) * kNsPerSec);
  }
  itimerspec spec{};
  if (next != std::numeric_limits<int64_t>::max()) {
    int64_t delay = std::max<int64_t>(next - now, 1);
    spec.it_value.tv_sec = delay / kNsPerSec;
    spec.it_value.tv_nsec = delay % kNsPerSec;
  }
  ::timerfd_settime(timer_.get(), 0, &spec, nullptr);  // all zero disarms
}

void CmosRtc::on_timer() {
  std::lock_guard lock(mutex_);
  update_flags(guest_now());
  update_irq();
  rearm_timer();
}

CmosRtcState CmosRtc::save() const {
  std::lock_guard lock(mutex_);
  return s_;
}

void CmosRtc::restore(const CmosRtcState& state) {
  std::lock_guard lock(mutex_);
  s_ = state;
  s_.index &= 0x7f;
  // Untrusted: keep the guest's time within 1900-2199, as setting the clock does, so that the
  // nanosecond arithmetic cannot overflow.
  int64_t now = clock_();
  int64_t earliest = days_from_civil(1900, 1, 1) * kSecPerDay * kNsPerSec;
  int64_t latest = (days_from_civil(2200, 1, 1) * kSecPerDay - 1) * kNsPerSec;
  s_.offset_ns = std::clamp(s_.offset_ns, earliest - now, latest - now);
  s_.last_check_ns = guest_now();
  update_irq();
  rearm_timer();
}

void store_pc_cmos_layout(CmosRtc& rtc, uint64_t ram_below_4g, uint64_t ram_above_4g,
                          unsigned cpus) {
  constexpr uint64_t kKiB = 1024, kMiB = 1024 * kKiB;
  auto set16 = [&](uint8_t index, uint64_t value) {
    rtc.set_byte(index, static_cast<uint8_t>(value));
    rtc.set_byte(index + 1, static_cast<uint8_t>(value >> 8));
  };
  rtc.set_byte(0x14, 0x06);  // equipment: FPU, PS/2 mouse port; no floppy, EGA/VGA display
  set16(0x15, 640);          // base memory, KiB
  uint64_t ext_kib =
      ram_below_4g > kMiB ? std::min<uint64_t>(ram_below_4g / kKiB - 1024, 0xffff) : 0;
  set16(0x17, ext_kib);
  set16(0x30, ext_kib);
  uint64_t above_16m = ram_below_4g > 16 * kMiB
                           ? std::min<uint64_t>((ram_below_4g - 16 * kMiB) / (64 * kKiB), 0xffff)
                           : 0;
  set16(0x34, above_16m);
  uint64_t above_4g = std::min<uint64_t>(ram_above_4g / (64 * kKiB), 0xffffff);
  rtc.set_byte(0x5b, static_cast<uint8_t>(above_4g));
  rtc.set_byte(0x5c, static_cast<uint8_t>(above_4g >> 8));
  rtc.set_byte(0x5d, static_cast<uint8_t>(above_4g >> 16));
  rtc.set_byte(0x5f, static_cast<uint8_t>(cpus ? cpus - 1 : 0));
  unsigned sum = 0;
  for (uint8_t i = 0x10; i <= 0x2d; ++i) sum += rtc.byte(i);
  // Checksum of 0x10-0x2d, high byte first.
  rtc.set_byte(0x2e, static_cast<uint8_t>(sum >> 8));
  rtc.set_byte(0x2f, static_cast<uint8_t>(sum));
}

}  // namespace tandem
