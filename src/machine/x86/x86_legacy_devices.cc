#include "machine/x86/x86_legacy_devices.h"

#include <mutex>
#include <string>
#include <vector>

#include "base/error.h"
#include "hw/char/char_backend.h"
#include "hw/char/uart16550/uart16550.h"
#include "hw/misc/debug_exit/debug_exit.h"
#include "hw/rtc/cmos/cmos_rtc.h"
#include "hw/x86/i8042/i8042.h"

namespace tandem::x86 {
namespace {

struct ComPort {
  uint16_t base;
  unsigned irq;
  const char* name;
};
constexpr ComPort kComPorts[] = {
    {0x3f8, 4, "COM1"}, {0x2f8, 3, "COM2"}, {0x3e8, 4, "COM3"}, {0x2e8, 3, "COM4"}};

// COM1 and COM3 (and COM2/COM4) share an ISA IRQ: the line is asserted while any of its
// devices asserts it, like the open-collector wiring of shared ISA interrupts.
class SharedIrq : public std::enable_shared_from_this<SharedIrq> {
 public:
  explicit SharedIrq(std::shared_ptr<IrqLine> line) : line_(std::move(line)) {}

  // A line for one more device; it keeps the SharedIrq alive.
  std::shared_ptr<IrqLine> source() { return std::make_shared<Source>(shared_from_this()); }

 private:
  class Source final : public IrqLine {
   public:
    explicit Source(std::shared_ptr<SharedIrq> owner) : owner_(std::move(owner)) {}
    void set_level(bool asserted) override {
      std::lock_guard lock(owner_->mutex_);
      if (asserted == level_) return;
      level_ = asserted;
      bool was_asserted = owner_->count_ != 0;
      owner_->count_ += asserted ? 1 : -1;
      if (was_asserted != (owner_->count_ != 0)) owner_->line_->set_level(owner_->count_ != 0);
    }

   private:
    std::shared_ptr<SharedIrq> owner_;
    bool level_ = false;
  };

  std::shared_ptr<IrqLine> line_;
  std::mutex mutex_;
  unsigned count_ = 0;
};

bool is_stdio(const std::string& backend) {
  return backend == "stdio" || backend == "mon:stdio";
}

}  // namespace

void add_x86_legacy_devices(IoBus& pio, EventLoop& io, VmControl& control, const IrqFactory& irq,
                            const MachineConfig& config, uint64_t ram_below_4g,
                            uint64_t ram_above_4g) {
  // Serial ports.
  std::vector<SerialConfig> serials = config.serials;
  if (serials.empty() && !config.nodefaults) serials.push_back(SerialConfig{"stdio"});
  if (serials.size() > std::size(kComPorts)) {
    fail("too many serial ports ({}); the PC has four (COM1-COM4)", serials.size());
  }
  int stdio_users = 0;
  for (const auto& s : serials) stdio_users += is_stdio(s.backend);
  if (stdio_users > 1) fail("only one serial port can use stdio");

  // One SharedIrq per IRQ used by serial ports (COM1 and COM3 share IRQ4).
  std::vector<std::pair<unsigned, std::shared_ptr<SharedIrq>>> shared;
  auto serial_irq = [&](unsigned gsi) {
    for (auto& [n, line] : shared) {
      if (n == gsi) return line->source();
    }
    shared.emplace_back(gsi, std::make_shared<SharedIrq>(irq(gsi)));
    return shared.back().second->source();
  };
  for (size_t i = 0; i < serials.size(); ++i) {
    if (serials[i].backend == "none") continue;  // QEMU's -serial none: no device at all
    const ComPort& port = kComPorts[i];
    auto backend = make_char_backend(serials[i].backend, io, control);
    auto line = serial_irq(port.irq);
    pio.add(port.base, 8, std::make_shared<Uart16550>(std::move(line), std::move(backend), io),
            port.name);
  }

  // Keyboard controller: Linux's probe and the reset line.
  add_i8042_ports(pio, std::make_shared<I8042>(control, irq(1), irq(12)));

  // RTC and CMOS.
  auto rtc = std::make_shared<CmosRtc>(irq(8), io);
  store_pc_cmos_layout(*rtc, ram_below_4g, ram_above_4g, config.cpus);
  pio.add(0x70, 2, rtc, "rtc-cmos");

  // isa-debug-exit.
  std::vector<DebugExitConfig> exits = config.debug_exits;
  if (exits.empty() && !config.nodefaults) exits.push_back(DebugExitConfig{});
  for (const auto& e : exits) {
    if (e.iosize == 0 || uint32_t{e.iobase} + e.iosize > 0x10000) {
      fail("isa-debug-exit: ports [{:#x}, {:#x}) are outside the I/O space", e.iobase,
           uint32_t{e.iobase} + e.iosize);
    }
    pio.add(e.iobase, e.iosize, std::make_shared<DebugExit>(control), "isa-debug-exit");
  }
}

}  // namespace tandem::x86
