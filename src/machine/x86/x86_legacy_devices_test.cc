#include "machine/x86/x86_legacy_devices.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <vector>

#include "base/error.h"

namespace tandem::x86 {
namespace {

struct RecordingControl : VmControl {
  void request_exit(int status) override { exits.push_back(status); }
  void request_reset() override { ++resets; }
  std::vector<int> exits;
  int resets = 0;
};

struct FakeIrq : IrqLine {
  void set_level(bool asserted) override { level = asserted; }
  bool level = false;
};

class LegacyDevicesTest : public ::testing::Test {
 protected:
  void build(const MachineConfig& config, uint64_t below = 512ull << 20, uint64_t above = 0) {
    add_x86_legacy_devices(pio, loop, control, factory, config, below, above);
  }
  std::set<std::string> labels() const {
    std::set<std::string> out;
    for (const auto& r : pio.ranges()) out.insert(r.label);
    return out;
  }
  const IoBus::Range* range(const std::string& label) const {
    for (const auto& r : pio.ranges()) {
      if (r.label == label) return &r;
    }
    return nullptr;
  }
  uint8_t in(uint16_t port) {
    uint8_t v = 0;
    pio.read(port, {&v, 1});
    return v;
  }
  void out(uint16_t port, uint8_t v) { pio.write(port, {&v, 1}); }
  static MachineConfig null_serial() {
    MachineConfig c;
    c.serials = {SerialConfig{"null"}};
    return c;
  }

  EventLoop loop;
  RecordingControl control;
  IoBus pio{"pio"};
  std::map<unsigned, std::shared_ptr<FakeIrq>> irqs;
  IrqFactory factory = [this](unsigned gsi) -> std::shared_ptr<IrqLine> {
    auto& line = irqs[gsi];
    if (!line) line = std::make_shared<FakeIrq>();
    return line;
  };
};

TEST_F(LegacyDevicesTest, DefaultMachine) {
  build(null_serial());
  EXPECT_EQ(labels(), (std::set<std::string>{"COM1", "i8042-data", "i8042-cmd", "rtc-cmos",
                                             "isa-debug-exit"}));
  EXPECT_EQ(range("COM1")->base, 0x3f8u);
  EXPECT_EQ(range("COM1")->size, 8u);
  EXPECT_EQ(range("isa-debug-exit")->base, 0x501u);
  EXPECT_EQ(range("isa-debug-exit")->size, 2u);
  EXPECT_EQ(range("rtc-cmos")->base, 0x70u);
  EXPECT_TRUE(irqs.count(4) && irqs.count(1) && irqs.count(12) && irqs.count(8));
  out(0x501, 0x10);
  EXPECT_EQ(control.exits, std::vector<int>{0x21});
  out(0x64, 0xfe);
  EXPECT_EQ(control.resets, 1);
}

TEST_F(LegacyDevicesTest, Com1InterruptReachesIrq4) {
  build(null_serial());
  out(0x3f8 + 4, 0x08);  // OUT2
  out(0x3f8 + 1, 0x02);  // THRE interrupt
  EXPECT_TRUE(irqs[4]->level);
  in(0x3f8 + 2);
  EXPECT_FALSE(irqs[4]->level);
}

TEST_F(LegacyDevicesTest, NoDefaults) {
  MachineConfig c;
  c.nodefaults = true;
  build(c);
  EXPECT_EQ(labels(), (std::set<std::string>{"i8042-data", "i8042-cmd", "rtc-cmos"}));
}

TEST_F(LegacyDevicesTest, ExplicitDebugExitReplacesTheDefault) {
  MachineConfig c = null_serial();
  c.debug_exits = {DebugExitConfig{0xf4, 4}};
  build(c);
  EXPECT_EQ(range("isa-debug-exit")->base, 0xf4u);
  EXPECT_EQ(range("isa-debug-exit")->size, 4u);
  uint8_t none = 0;
  EXPECT_FALSE(pio.write(0x501, {&none, 1}));
  const uint8_t v[4] = {0x01, 0, 0, 0};
  pio.write(0xf4, v);
  EXPECT_EQ(control.exits, std::vector<int>{3});
}

TEST_F(LegacyDevicesTest, SerialPortsInOrderAndNoneSkipsAPort) {
  MachineConfig c;
  c.serials = {SerialConfig{"none"}, SerialConfig{"null"}, SerialConfig{"null"},
               SerialConfig{"null"}};
  build(c);
  EXPECT_EQ(range("COM1"), nullptr);
  EXPECT_EQ(range("COM2")->base, 0x2f8u);
  EXPECT_EQ(range("COM3")->base, 0x3e8u);
  EXPECT_EQ(range("COM4")->base, 0x2e8u);
  EXPECT_TRUE(irqs.count(3));
}

TEST_F(LegacyDevicesTest, Com1AndCom3ShareIrq4) {
  MachineConfig c;
  c.serials = {SerialConfig{"null"}, SerialConfig{"null"}, SerialConfig{"null"}};
  build(c);
  out(0x3f8 + 4, 0x08);
  out(0x3e8 + 4, 0x08);
  out(0x3f8 + 1, 0x02);
  out(0x3e8 + 1, 0x02);
  EXPECT_TRUE(irqs[4]->level);
  out(0x3f8 + 1, 0x00);  // COM1 lowers its request; COM3 still asserts
  EXPECT_TRUE(irqs[4]->level);
  out(0x3e8 + 1, 0x00);
  EXPECT_FALSE(irqs[4]->level);
}

TEST_F(LegacyDevicesTest, CmosMemoryFields) {
  build(null_serial(), 3ull << 30, 1ull << 30);
  out(0x70, 0x34);
  uint8_t lo = in(0x71);
  out(0x70, 0x35);
  uint8_t hi = in(0x71);
  EXPECT_EQ(lo | hi << 8, 0xbf00);
  out(0x70, 0x5c);
  EXPECT_EQ(in(0x71), 0x40);  // 1 GiB / 64 KiB = 0x4000
}

TEST_F(LegacyDevicesTest, Errors) {
  MachineConfig five;
  five.serials.assign(5, SerialConfig{"null"});
  EXPECT_THROW(build(five), Error);

  IoBus other("pio");
  MachineConfig two_stdio;
  two_stdio.serials = {SerialConfig{"stdio"}, SerialConfig{"mon:stdio"}};
  EXPECT_THROW(add_x86_legacy_devices(other, loop, control, factory, two_stdio, 1 << 30, 0), Error);

  IoBus third("pio");
  MachineConfig overlap = null_serial();
  overlap.debug_exits = {DebugExitConfig{0x70, 2}};
  EXPECT_THROW(add_x86_legacy_devices(third, loop, control, factory, overlap, 1 << 30, 0), Error);

  IoBus fourth("pio");
  MachineConfig outside = null_serial();
  outside.debug_exits = {DebugExitConfig{0xffff, 4}};
  EXPECT_THROW(add_x86_legacy_devices(fourth, loop, control, factory, outside, 1 << 30, 0), Error);
}

}  // namespace
}  // namespace tandem::x86
