#include "hw/x86/i8042/i8042.h"

#include <algorithm>

#include "base/log.h"

namespace tandem {
namespace {

// Configuration byte (controller RAM 0).
constexpr uint8_t kCfgKbdInt = 0x01, kCfgAuxInt = 0x02, kCfgSys = 0x04, kCfgKbdDisable = 0x10,
                  kCfgAuxDisable = 0x20;
// Status register.
constexpr uint8_t kStOutFull = 0x01, kStCommand = 0x08, kStUnlocked = 0x10, kStAuxData = 0x20,
                  kStTimeout = 0x40;
// Output port.
constexpr uint8_t kOutReset = 0x01, kOutA20 = 0x02, kOutKbdFull = 0x10, kOutAuxFull = 0x20;
// What a device that does not answer leaves in the output buffer (with the timeout bit).
constexpr uint8_t kNoDevice = 0xfe;

// Restores a state's invariants (snapshots are untrusted input).
void sanitize(I8042State& s) {
  s.out_head %= s.out.size();
  s.out_count = std::min<uint8_t>(s.out_count, static_cast<uint8_t>(s.out.size()));
}

}  // namespace

I8042::I8042(VmControl& control, std::shared_ptr<IrqLine> kbd_irq, std::shared_ptr<IrqLine> aux_irq)
    : control_(control), kbd_irq_(std::move(kbd_irq)), aux_irq_(std::move(aux_irq)) {
  s_.ram[0] = kCfgKbdInt | kCfgAuxInt;  // as QEMU's controller comes out of reset
}

void I8042::io_read(uint64_t offset, std::span<uint8_t> data) {
  std::fill(data.begin(), data.end(), 0);
  if (data.empty()) return;
  if (offset == 0) {
    data[0] = read_data();
  } else if (offset == 4) {
    data[0] = read_status();
  } else {
    std::fill(data.begin(), data.end(), 0xff);
  }
}

void I8042::io_write(uint64_t offset, std::span<const uint8_t> data) {
  if (data.empty()) return;
  if (offset == 0) {
    write_data(data[0]);
  } else if (offset == 4) {
    write_command(data[0]);
  }
}

uint8_t I8042::read_status() {
  std::lock_guard lock(mutex_);
  uint8_t st = kStUnlocked | (config() & kCfgSys);
  if (s_.last_write_was_command) st |= kStCommand;
  if (s_.out_count) {
    const auto& head = s_.out[s_.out_head];
    st |= kStOutFull;
    if (head.aux) st |= kStAuxData;
    if (head.timeout) st |= kStTimeout;
  }
  return st;
}

uint8_t I8042::read_data() {
  std::lock_guard lock(mutex_);
  if (s_.out_count) {
    s_.last_out = s_.out[s_.out_head].value;
    s_.out_head = (s_.out_head + 1) % s_.out.size();
    --s_.out_count;
    update_irqs();
  }
  return s_.last_out;  // an empty buffer reads the last byte again
}

void I8042::write_command(uint8_t cmd) {
  bool reset = false;
  {
    std::lock_guard lock(mutex_);
    s_.last_write_was_command = true;
    s_.pending_command = 0;  // a new command abandons one still waiting for its data
    if (cmd >= 0x20 && cmd <= 0x3f) {
      queue(s_.ram[cmd & 0x1f]);
    } else if ((cmd >= 0x60 && cmd <= 0x7f) || (cmd >= 0xd1 && cmd <= 0xd4)) {
      s_.pending_command = cmd;  // the data byte follows at port 0x60
    } else {
      switch (cmd) {
        case 0xa7:
          s_.ram[0] |= kCfgAuxDisable;
          break;
        case 0xa8:
          s_.ram[0] &= ~kCfgAuxDisable;
          break;
        case 0xa9:
          queue(0x00);
          break;    // aux interface test: no error
        case 0xaa:  // self test: passed; sets the system flag
          s_.ram[0] |= kCfgSys;
          queue(0x55);
          break;
        case 0xab:
          queue(0x00);
          break;  // keyboard interface test: no error
        case 0xad:
          s_.ram[0] |= kCfgKbdDisable;
          break;
        case 0xae:
          s_.ram[0] &= ~kCfgKbdDisable;
          break;
        case 0xc0:
          queue(0x80);
          break;  // input port: keyboard not inhibited
        case 0xd0: {
          uint8_t port = s_.output_port & ~(kOutKbdFull | kOutAuxFull);
          if (s_.out_count) port |= s_.out[s_.out_head].aux ? kOutAuxFull : kOutKbdFull;
          queue(port);
          break;
        }
        case 0xdd:
          s_.output_port &= ~kOutA20;
          break;
        case 0xdf:
          s_.output_port |= kOutA20;
          break;
        default:
          if (cmd >= 0xf0) {
            // Pulse output-port lines low for a moment; bit 0 is the CPU reset line.
            reset = !(cmd & kOutReset);
          } else {
            TLOG_DEBUG("i8042: ignoring unknown command {:#x}", cmd);
          }
      }
    }
    update_irqs();
  }
  if (reset) control_.request_reset();
}

void I8042::write_data(uint8_t value) {
  bool reset = false;
  {
    std::lock_guard lock(mutex_);
    s_.last_write_was_command = false;
    uint8_t cmd = s_.pending_command;
    s_.pending_command = 0;
    if (cmd >= 0x60 && cmd <= 0x7f) {
      s_.ram[cmd & 0x1f] = value;
    } else if (cmd == 0xd1) {
      s_.output_port = value;
      reset = !(value & kOutReset);  // the reset line is active low
    } else if (cmd == 0xd2) {
      queue(value);
    } else if (cmd == 0xd3) {
      queue(value, /*aux=*/true);
    } else if (cmd == 0xd4) {
      queue(kNoDevice, /*aux=*/true, /*timeout=*/true);  // no mouse
    } else {
      queue(kNoDevice, /*aux=*/false, /*timeout=*/true);  // no keyboard
    }
    update_irqs();
  }
  if (reset) control_.request_reset();
}

void I8042::queue(uint8_t value, bool aux, bool timeout) {
  if (s_.out_count == s_.out.size()) return;  // a guest that never reads loses the newest
  s_.out[(s_.out_head + s_.out_count) % s_.out.size()] = {value, aux, timeout};
  ++s_.out_count;
}

void I8042::update_irqs() {
  bool kbd = false, aux = false;
  if (s_.out_count) {
    bool head_aux = s_.out[s_.out_head].aux;
    kbd = !head_aux && (config() & kCfgKbdInt);
    aux = head_aux && (config() & kCfgAuxInt);
  }
  if (kbd != kbd_level_) {
    kbd_level_ = kbd;
    if (kbd_irq_) kbd_irq_->set_level(kbd);
  }
  if (aux != aux_level_) {
    aux_level_ = aux;
    if (aux_irq_) aux_irq_->set_level(aux);
  }
}

I8042State I8042::save() const {
  std::lock_guard lock(mutex_);
  return s_;
}

void I8042::restore(const I8042State& state) {
  std::lock_guard lock(mutex_);
  s_ = state;
  sanitize(s_);
  update_irqs();
}

namespace {

// One port of the controller, forwarding to the offset the controller expects.
class I8042Port final : public IoDevice {
 public:
  I8042Port(std::shared_ptr<I8042> controller, uint64_t offset)
      : controller_(std::move(controller)), offset_(offset) {}
  void io_read(uint64_t, std::span<uint8_t> data) override { controller_->io_read(offset_, data); }
  void io_write(uint64_t, std::span<const uint8_t> data) override {
    controller_->io_write(offset_, data);
  }

 private:
  std::shared_ptr<I8042> controller_;
  uint64_t offset_;
};

}  // namespace

void add_i8042_ports(IoBus& pio, std::shared_ptr<I8042> controller, uint16_t base) {
  pio.add(base, 1, std::make_shared<I8042Port>(controller, 0), "i8042-data");
  pio.add(base + 4, 1, std::make_shared<I8042Port>(controller, 4), "i8042-cmd");
}

}  // namespace tandem
