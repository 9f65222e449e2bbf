#include "hw/x86/i8042/i8042.h"

#include <gtest/gtest.h>

namespace tandem {
namespace {

struct RecordingControl : VmControl {
  void request_exit(int status) override { last_exit = status; }
  void request_reset() override { ++resets; }
  int resets = 0;
  int last_exit = -1;
};

struct FakeIrq : IrqLine {
  void set_level(bool asserted) override { level = asserted; }
  bool level = false;
};

class I8042Test : public ::testing::Test {
 protected:
  I8042Test() {
    ctl = std::make_shared<I8042>(control, kbd, aux);
    add_i8042_ports(pio, ctl);
  }
  uint8_t in(uint16_t port) {
    uint8_t v = 0;
    pio.read(port, {&v, 1});
    return v;
  }
  void out(uint16_t port, uint8_t v) { pio.write(port, {&v, 1}); }
  // A command with a one-byte answer, as Linux's i8042_command() does it.
  uint8_t command(uint8_t cmd) {
    out(0x64, cmd);
    EXPECT_TRUE(in(0x64) & 0x01) << "no answer to command " << int(cmd);
    return in(0x60);
  }

  RecordingControl control;
  std::shared_ptr<FakeIrq> kbd = std::make_shared<FakeIrq>();
  std::shared_ptr<FakeIrq> aux = std::make_shared<FakeIrq>();
  std::shared_ptr<I8042> ctl;
  IoBus pio{"pio"};
};

TEST_F(I8042Test, ClaimsOnlyPorts60And64) {
  uint8_t v;
  EXPECT_FALSE(pio.read(0x61, {&v, 1}));  // port B belongs to the PIT/speaker
  EXPECT_TRUE(pio.read(0x60, {&v, 1}));
  EXPECT_TRUE(pio.read(0x64, {&v, 1}));
}

TEST_F(I8042Test, StatusAfterReset) {
  uint8_t st = in(0x64);
  EXPECT_EQ(st & 0x01, 0);  // output buffer empty
  EXPECT_EQ(st & 0x02, 0);  // never busy
  EXPECT_EQ(st & 0x10, 0x10);
  EXPECT_EQ(st & 0x04, 0);  // no self test yet
}

TEST_F(I8042Test, SelfTestAndInterfaceTests) {
  EXPECT_EQ(command(0xaa), 0x55);
  EXPECT_EQ(in(0x64) & 0x04, 0x04);  // system flag
  EXPECT_EQ(command(0xab), 0x00);
  EXPECT_EQ(command(0xa9), 0x00);
  EXPECT_EQ(in(0x64) & 0x01, 0);
}

TEST_F(I8042Test, ConfigByteReadWrite) {
  EXPECT_EQ(command(0x20), 0x03);
  out(0x64, 0x60);
  EXPECT_EQ(in(0x64) & 0x08, 0x08);  // last write was a command
  out(0x60, 0x65);
  EXPECT_EQ(in(0x64) & 0x08, 0x00);
  EXPECT_EQ(command(0x20), 0x65);
  EXPECT_EQ(in(0x64) & 0x04, 0x04);  // SYS bit from the config byte
}

TEST_F(I8042Test, PortEnableDisableBits) {
  out(0x64, 0xad);
  EXPECT_EQ(command(0x20) & 0x10, 0x10);
  out(0x64, 0xae);
  EXPECT_EQ(command(0x20) & 0x10, 0x00);
  out(0x64, 0xa7);
  EXPECT_EQ(command(0x20) & 0x20, 0x20);
  out(0x64, 0xa8);
  EXPECT_EQ(command(0x20) & 0x20, 0x00);
}

TEST_F(I8042Test, KeyboardInterruptFollowsConfigBit) {
  out(0x64, 0x20);  // answer queued; KBD interrupt enabled at reset
  EXPECT_TRUE(kbd->level);
  EXPECT_FALSE(aux->level);
  in(0x60);
  EXPECT_FALSE(kbd->level);
  out(0x64, 0x60);
  out(0x60, 0x00);  // interrupts off
  out(0x64, 0x20);
  EXPECT_FALSE(kbd->level);
  EXPECT_EQ(in(0x60), 0x00);
}

TEST_F(I8042Test, AuxLoopbackAsLinuxProbesIt) {
  out(0x64, 0xd3);
  out(0x60, 0x5a);
  uint8_t st = in(0x64);
  EXPECT_EQ(st & 0x21, 0x21);  // full, from the aux side
  EXPECT_TRUE(aux->level);
  EXPECT_FALSE(kbd->level);
  EXPECT_EQ(in(0x60), 0x5a);
  EXPECT_FALSE(aux->level);
}

TEST_F(I8042Test, NoKeyboardAndNoMouseAnswerWithTimeout) {
  out(0x60, 0xf2);  // keyboard "get ID"
  uint8_t st = in(0x64);
  EXPECT_EQ(st & 0x61, 0x41);  // full + timeout, keyboard side
  EXPECT_TRUE(kbd->level);
  EXPECT_EQ(in(0x60), 0xfe);
  EXPECT_EQ(in(0x64) & 0x41, 0);
  out(0x64, 0xd4);
  out(0x60, 0xf2);  // mouse "get ID"
  EXPECT_EQ(in(0x64) & 0x61, 0x61);
  EXPECT_TRUE(aux->level);
  EXPECT_EQ(in(0x60), 0xfe);
}

TEST_F(I8042Test, EmptyDataPortRepeatsLastByte) {
  EXPECT_EQ(command(0xaa), 0x55);
  EXPECT_EQ(in(0x60), 0x55);
}

TEST_F(I8042Test, PulseResetCommand) {
  out(0x64, 0xff);  // pulse nothing
  EXPECT_EQ(control.resets, 0);
  out(0x64, 0xfe);
  EXPECT_EQ(control.resets, 1);
  out(0x64, 0xf0);  // pulses all four lines, reset included
  EXPECT_EQ(control.resets, 2);
}

TEST_F(I8042Test, OutputPortWriteWithResetLow) {
  EXPECT_EQ(command(0xd0) & 0x03, 0x03);  // reset high, A20 on
  out(0x64, 0xd1);
  out(0x60, 0xdf);  // reset line still high: nothing happens
  EXPECT_EQ(control.resets, 0);
  out(0x64, 0xd1);
  out(0x60, 0xde);
  EXPECT_EQ(control.resets, 1);
}

TEST_F(I8042Test, WriteOutputBufferCommand) {
  out(0x64, 0xd2);
  out(0x60, 0x1c);
  EXPECT_EQ(in(0x64) & 0x21, 0x01);
  EXPECT_EQ(in(0x60), 0x1c);
}

TEST_F(I8042Test, DataWithoutPendingCommandDoesNotReachRam) {
  out(0x64, 0x61);  // write RAM byte 1
  out(0x60, 0x42);
  EXPECT_EQ(command(0x21), 0x42);
  out(0x60, 0x99);  // goes to the (absent) keyboard, not to RAM
  in(0x60);
  EXPECT_EQ(command(0x21), 0x42);
}

TEST_F(I8042Test, SaveRestoreAndFloodedBuffer) {
  for (int i = 0; i < 100; ++i) out(0x64, 0xaa);  // a guest that never reads
  auto st = ctl->save();
  EXPECT_EQ(st.out_count, 16);
  st.out_head = 250;
  st.out_count = 250;
  RecordingControl c2;
  I8042 other(c2, nullptr, nullptr);
  other.restore(st);
  int n = 0;
  while ((other.read_status() & 1) && n < 100) {
    other.read_data();
    ++n;
  }
  EXPECT_EQ(n, 16);
}

}  // namespace
}  // namespace tandem
