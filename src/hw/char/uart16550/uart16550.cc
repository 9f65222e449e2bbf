#include "hw/char/uart16550/uart16550.h"

#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "base/error.h"
#include "base/event_loop.h"
#include "base/log.h"

namespace tandem {
namespace {

// Register offsets.
enum : unsigned {
  kRbrThr = 0,
  kIer = 1,
  kIirFcr = 2,
  kLcr = 3,
  kMcr = 4,
  kLsr = 5,
  kMsr = 6,
  kScr = 7
};

constexpr uint8_t kIerRxData = 0x01, kIerThre = 0x02, kIerLineStatus = 0x04, kIerModem = 0x08;
constexpr uint8_t kIirNone = 0x01, kIirLineStatus = 0x06, kIirRxData = 0x04, kIirTimeout = 0x0c,
                  kIirThre = 0x02, kIirModem = 0x00, kIirFifoBits = 0xc0;
constexpr uint8_t kLcrDlab = 0x80;
constexpr uint8_t kMcrDtr = 0x01, kMcrRts = 0x02, kMcrOut1 = 0x04, kMcrOut2 = 0x08, kMcrLoop = 0x10;
constexpr uint8_t kLsrDr = 0x01, kLsrOe = 0x02, kLsrThre = 0x20, kLsrTemt = 0x40;
constexpr uint8_t kMsrCts = 0x10, kMsrDsr = 0x20, kMsrRi = 0x40, kMsrDcd = 0x80;
constexpr uint8_t kMsrDcts = 0x01, kMsrDdsr = 0x02, kMsrTeri = 0x04, kMsrDdcd = 0x08;

int64_t monotonic_ns() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

void arm_timer(int fd, int64_t deadline_ns) {
  itimerspec spec{};
  spec.it_value.tv_sec = deadline_ns / 1'000'000'000;
  spec.it_value.tv_nsec = deadline_ns % 1'000'000'000;
  if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;
  ::timerfd_settime(fd, TFD_TIMER_ABSTIME, &spec, nullptr);
}

}  // namespace

// The timer callback reaches the device through this, so that a callback already dispatched
// by the loop when the device is destroyed finds nullptr instead of a dead object.
struct UartTimerLink {
  std::mutex mutex;
  Uart16550* uart = nullptr;
};

Uart16550::Uart16550(std::shared_ptr<IrqLine> irq, std::unique_ptr<CharBackend> backend,
                     EventLoop& loop, Options options)
    : irq_(std::move(irq)), backend_(std::move(backend)), loop_(loop), options_(options) {
  if (!backend_) backend_ = std::make_unique<NullCharBackend>();
  timer_.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  if (!timer_) fail_errno("timerfd_create");
  link_ = std::make_shared<UartTimerLink>();
  link_->uart = this;
  loop_.add_fd(timer_.get(), EPOLLIN, [link = link_, fd = timer_.get()](uint32_t) {
    uint64_t expirations;
    [[maybe_unused]] auto n = ::read(fd, &expirations, sizeof expirations);
    std::lock_guard lock(link->mutex);
    if (link->uart) link->uart->on_timer();
  });
  backend_->set_frontend(this);
}

Uart16550::~Uart16550() {
  backend_->set_frontend(nullptr);
  {
    std::lock_guard lock(link_->mutex);
    link_->uart = nullptr;
  }
  loop_.remove_fd(timer_.get());
}

void Uart16550::io_read(uint64_t offset, std::span<uint8_t> data) {
  // The registers are bytes; a wider access reads the addressed register, zero-extended.
  std::fill(data.begin(), data.end(), 0);
  if (data.empty() || offset >= 8) return;
  bool accept;
  {
    std::lock_guard lock(mutex_);
    data[0] = read_register(static_cast<unsigned>(offset));
    accept = std::exchange(accept_pending_, false);
  }
  if (accept) backend_->accept_input();
}

void Uart16550::io_write(uint64_t offset, std::span<const uint8_t> data) {
  if (data.empty() || offset >= 8) return;
  bool accept;
  {
    std::lock_guard lock(mutex_);
    write_register(static_cast<unsigned>(offset), data[0]);
    accept = std::exchange(accept_pending_, false);
  }
  if (accept) backend_->accept_input();
}

uint8_t Uart16550::read_register(unsigned reg) {
  bool dlab = s_.lcr & kLcrDlab;
  switch (reg) {
    case kRbrThr: {
      if (dlab) return s_.divisor & 0xff;
      if (s_.rx_count > 0) {
        s_.rbr = s_.rx_fifo[s_.rx_head];
        s_.rx_head = (s_.rx_head + 1) % s_.rx_fifo.size();
        --s_.rx_count;
      }
      // Reading the FIFO clears a timeout indication and restarts the timeout window.
      s_.timeout_ipending = false;
      restart_rx_timer();
      if (backend_waiting_ && s_.rx_count < rx_capacity() && !(s_.mcr & kMcrLoop)) {
        backend_waiting_ = false;
        accept_pending_ = true;
      }
      update_irq();
      return s_.rbr;
    }
    case kIer:
      return dlab ? s_.divisor >> 8 : s_.ier;
    case kIirFcr: {
      uint8_t value = iir();
      // Reading IIR while THRE is the reported source acknowledges it.
      if ((value & 0x0f) == kIirThre) {
        s_.thr_ipending = false;
        update_irq();
      }
      return value;
    }
    case kLcr:
      return s_.lcr;
    case kMcr:
      return s_.mcr;
    case kLsr: {
      uint8_t value = lsr();
      s_.lsr_errors = 0;
      update_irq();
      return value;
    }
    case kMsr: {
      uint8_t value = s_.msr;
      s_.msr &= 0xf0;  // reading clears the delta bits
      update_irq();
      return value;
    }
    default:
      return s_.scr;
  }
}

void Uart16550::write_register(unsigned reg, uint8_t value) {
  bool dlab = s_.lcr & kLcrDlab;
  switch (reg) {
    case kRbrThr:
      if (dlab) {
        s_.divisor = (s_.divisor & 0xff00) | value;
        return;
      }
      // The THRE interrupt drops with the write and rises again once the byte has gone (at
      // once here): two edges, so an edge-triggered PIC sees a fresh interrupt.
      s_.thr_ipending = false;
      update_irq();
      if (s_.mcr & kMcrLoop) {
        push_rx(value);
        if (!s_.timeout_ipending) restart_rx_timer();
      } else {
        backend_->write({&value, 1});
      }
      s_.thr_ipending = true;
      update_irq();
      return;
    case kIer: {
      if (dlab) {
        s_.divisor = static_cast<uint16_t>((s_.divisor & 0x00ff) | (value << 8));
        return;
      }
      uint8_t changed = (s_.ier ^ value) & 0x0f;
      s_.ier = value & 0x0f;
      // Enabling ETBEI with THR empty raises THRE at once (drivers rely on this to kick TX).
      if (changed & kIerThre) s_.thr_ipending = s_.ier & kIerThre;
      update_irq();
      return;
    }
    case kIirFcr: {
      bool was_enabled = fifo_enabled();
      if (!(value & 1)) {
        // FIFO off: 16450 mode. The other bits only take effect with bit 0 set.
        if (was_enabled) clear_rx();
        s_.fcr = 0;
      } else {
        if (!was_enabled || (value & 0x02)) clear_rx();
        s_.fcr = value & 0xc9;  // bits 1 and 2 (FIFO resets) self-clear
      }
      update_irq();
      return;
    }
    case kLcr:
      s_.lcr = value;
      return;
    case kMcr: {
      uint8_t old_inputs = s_.msr & 0xf0;
      bool was_loop = s_.mcr & kMcrLoop;
      s_.mcr = value & 0x1f;
      set_modem_inputs(old_inputs);
      if (was_loop && !(s_.mcr & kMcrLoop) && backend_waiting_) {
        backend_waiting_ = false;
        accept_pending_ = true;
      }
      update_irq();
      return;
    }
    case kLsr:
    case kMsr:
      return;  // read-only (factory test writes on real parts)
    default:
      s_.scr = value;
      return;
  }
}

unsigned Uart16550::rx_trigger() const {
  static constexpr unsigned kLevels[] = {1, 4, 8, 14};
  return kLevels[s_.fcr >> 6];
}

void Uart16550::push_rx(uint8_t byte) {
  if (s_.rx_count < rx_capacity()) {
    s_.rx_fifo[(s_.rx_head + s_.rx_count) % s_.rx_fifo.size()] = byte;
    ++s_.rx_count;
    return;
  }
  s_.lsr_errors |= kLsrOe;
  // In FIFO mode the byte in the shift register is lost; the 16450's holding register is
  // overwritten.
  if (!fifo_enabled()) s_.rx_fifo[s_.rx_head] = byte;
}

void Uart16550::clear_rx() {
  s_.rx_head = 0;
  s_.rx_count = 0;
  s_.timeout_ipending = false;
  rx_deadline_ns_ = 0;
  if (backend_waiting_ && !(s_.mcr & kMcrLoop)) {
    backend_waiting_ = false;
    accept_pending_ = true;
  }
}

uint8_t Uart16550::lsr() const {
  uint8_t value = kLsrThre | kLsrTemt | s_.lsr_errors;
  if (s_.rx_count > 0) value |= kLsrDr;
  return value;
}

uint8_t Uart16550::iir() const {
  uint8_t id = kIirNone;
  if ((s_.ier & kIerLineStatus) && s_.lsr_errors) {
    id = kIirLineStatus;
  } else if ((s_.ier & kIerRxData) && s_.timeout_ipending) {
    id = kIirTimeout;
  } else if ((s_.ier & kIerRxData) && s_.rx_count > 0 &&
             (!fifo_enabled() || s_.rx_count >= rx_trigger())) {
    id = kIirRxData;
  } else if ((s_.ier & kIerThre) && s_.thr_ipending) {
    id = kIirThre;
  } else if ((s_.ier & kIerModem) && (s_.msr & 0x0f)) {
    id = kIirModem;
  }
  return id | (fifo_enabled() ? kIirFifoBits : 0);
}

uint8_t Uart16550::modem_inputs() const {
  if (!(s_.mcr & kMcrLoop)) return kMsrDcd | kMsrDsr | kMsrCts;  // a host side is always there
  // Loopback: the modem outputs drive the inputs (RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD).
  uint8_t in = 0;
  if (s_.mcr & kMcrRts) in |= kMsrCts;
  if (s_.mcr & kMcrDtr) in |= kMsrDsr;
  if (s_.mcr & kMcrOut1) in |= kMsrRi;
  if (s_.mcr & kMcrOut2) in |= kMsrDcd;
  return in;
}

void Uart16550::set_modem_inputs(uint8_t old_inputs) {
  uint8_t now = modem_inputs();
  uint8_t changed = old_inputs ^ now;
  uint8_t deltas = 0;
  if (changed & kMsrCts) deltas |= kMsrDcts;
  if (changed & kMsrDsr) deltas |= kMsrDdsr;
  if ((old_inputs & kMsrRi) && !(now & kMsrRi)) deltas |= kMsrTeri;  // trailing edge only
  if (changed & kMsrDcd) deltas |= kMsrDdcd;
  s_.msr = static_cast<uint8_t>(now | (s_.msr & 0x0f) | deltas);
}

void Uart16550::update_irq() {
  bool pending = !(iir() & kIirNone);
  bool gate_open = !options_.out2_gates_irq || ((s_.mcr & kMcrOut2) && !(s_.mcr & kMcrLoop));
  bool level = pending && gate_open;
  if (level == irq_level_) return;
  irq_level_ = level;
  if (irq_) irq_->set_level(level);
}

void Uart16550::restart_rx_timer() {
  if (!fifo_enabled() || s_.rx_count == 0) {
    rx_deadline_ns_ = 0;  // an armed timer finds nothing to do
    return;
  }
  // Four character times at the programmed rate: start + data + parity + stop bits, at
  // 115200 / divisor baud (1.8432 MHz clock / 16).
  int64_t bits = 1 + 5 + (s_.lcr & 3) + ((s_.lcr & 0x08) ? 1 : 0) + ((s_.lcr & 0x04) ? 2 : 1);
  int64_t divisor = s_.divisor ? s_.divisor : 65536;
  int64_t char_ns = bits * divisor * 1'000'000'000 / 115200;
  rx_deadline_ns_ = monotonic_ns() + 4 * char_ns;
  if (!timer_armed_ || rx_deadline_ns_ < timer_deadline_ns_) {
    arm_timer(timer_.get(), rx_deadline_ns_);
    timer_armed_ = true;
    timer_deadline_ns_ = rx_deadline_ns_;
  }
}

void Uart16550::on_timer() {
  std::lock_guard lock(mutex_);
  timer_armed_ = false;
  if (rx_deadline_ns_ == 0) return;
  if (monotonic_ns() < rx_deadline_ns_) {  // activity moved the deadline: wait for the rest
    arm_timer(timer_.get(), rx_deadline_ns_);
    timer_armed_ = true;
    timer_deadline_ns_ = rx_deadline_ns_;
    return;
  }
  rx_deadline_ns_ = 0;
  if (fifo_enabled() && s_.rx_count > 0) {
    s_.timeout_ipending = true;
    update_irq();
  }
}

size_t Uart16550::can_receive() {
  std::lock_guard lock(mutex_);
  // In loopback the serial input is disconnected from the outside world.
  size_t room = (s_.mcr & kMcrLoop) ? 0 : rx_capacity() - s_.rx_count;
  if (room == 0) backend_waiting_ = true;
  return room;
}

void Uart16550::receive(std::span<const uint8_t> data) {
  std::lock_guard lock(mutex_);
  if (s_.mcr & kMcrLoop) return;
  for (uint8_t byte : data) push_rx(byte);
  // A new character restarts the timeout window unless a timeout is already being reported.
  if (!s_.timeout_ipending) restart_rx_timer();
  update_irq();
}

Uart16550State Uart16550::save() const {
  std::lock_guard lock(mutex_);
  return s_;
}

void Uart16550::restore(const Uart16550State& state) {
  bool accept;
  {
    std::lock_guard lock(mutex_);
    s_ = state;
    s_.rx_head %= s_.rx_fifo.size();
    s_.rx_count = std::min<uint8_t>(s_.rx_count, static_cast<uint8_t>(rx_capacity()));
    s_.ier &= 0x0f;
    s_.mcr &= 0x1f;
    s_.fcr &= 0xc9;
    s_.msr = static_cast<uint8_t>(modem_inputs() | (s_.msr & 0x0f));
    restart_rx_timer();
    // The backend may have been paused by the state we replaced.
    accept = !(s_.mcr & kMcrLoop) && s_.rx_count < rx_capacity();
    backend_waiting_ = false;
    update_irq();
  }
  if (accept) backend_->accept_input();
}

}  // namespace tandem
