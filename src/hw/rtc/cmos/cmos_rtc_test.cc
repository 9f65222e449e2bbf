#include "hw/rtc/cmos/cmos_rtc.h"

#include <gtest/gtest.h>

#include <chrono>

#include "base/event_loop.h"

namespace tandem {
namespace {

struct FakeIrq : IrqLine {
  void set_level(bool asserted) override { level = asserted; }
  bool level = false;
};

constexpr int64_t kSec = 1'000'000'000;
// 2024-02-29 13:45:56 UTC, a Thursday.
constexpr int64_t kLeapDay = 1709214356;

class CmosTest : public ::testing::Test {
 protected:
  CmosTest() : rtc(irq, loop, {.clock = [this] { return now; }}) {}
  uint8_t rd(uint8_t index) {
    uint8_t v = index;
    rtc.io_write(0, {&v, 1});
    rtc.io_read(1, {&v, 1});
    return v;
  }
  void wr(uint8_t index, uint8_t value) {
    rtc.io_write(0, {&index, 1});
    rtc.io_write(1, {&value, 1});
  }

  int64_t now = kLeapDay * kSec + kSec / 2;
  EventLoop loop;
  std::shared_ptr<FakeIrq> irq = std::make_shared<FakeIrq>();
  CmosRtc rtc;
};

TEST_F(CmosTest, BcdTwentyFourHour) {
  EXPECT_EQ(rd(0x0b), 0x02);
  EXPECT_EQ(rd(0x00), 0x56);
  EXPECT_EQ(rd(0x02), 0x45);
  EXPECT_EQ(rd(0x04), 0x13);
  EXPECT_EQ(rd(0x06), 0x05);  // Thursday (1 = Sunday)
  EXPECT_EQ(rd(0x07), 0x29);
  EXPECT_EQ(rd(0x08), 0x02);
  EXPECT_EQ(rd(0x09), 0x24);
  EXPECT_EQ(rd(0x32), 0x20);
  EXPECT_EQ(rd(0x0d), 0x80);
}

TEST_F(CmosTest, BinaryMode) {
  wr(0x0b, 0x06);
  EXPECT_EQ(rd(0x00), 56);
  EXPECT_EQ(rd(0x04), 13);
  EXPECT_EQ(rd(0x07), 29);
  EXPECT_EQ(rd(0x09), 24);
  EXPECT_EQ(rd(0x32), 20);
}

TEST_F(CmosTest, TwelveHourMode) {
  wr(0x0b, 0x00);
  EXPECT_EQ(rd(0x04), 0x81);                      // 1 PM
  now = (kLeapDay - 13 * 3600 - 45 * 60) * kSec;  // 00:00:56
  EXPECT_EQ(rd(0x04), 0x12);                      // 12 AM
  now += 12 * 3600 * kSec;
  EXPECT_EQ(rd(0x04), 0x92);  // 12 PM
  wr(0x0b, 0x04);             // binary, 12 h
  EXPECT_EQ(rd(0x04), 0x8c);
}

TEST_F(CmosTest, ClockAdvancesWithHost) {
  now += 10 * kSec;
  EXPECT_EQ(rd(0x00), 0x06);
  EXPECT_EQ(rd(0x02), 0x46);
  now += 2 * 86400 * kSec;  // into March
  EXPECT_EQ(rd(0x07), 0x02);
  EXPECT_EQ(rd(0x08), 0x03);
}

TEST_F(CmosTest, SettingTheClock) {
  wr(0x0b, 0x82);  // SET: registers freeze
  now += 5 * kSec;
  EXPECT_EQ(rd(0x00), 0x56);
  wr(0x00, 0x30);
  wr(0x02, 0x15);
  wr(0x04, 0x08);
  wr(0x07, 0x31);
  wr(0x08, 0x12);
  wr(0x09, 0x99);
  wr(0x32, 0x19);
  EXPECT_EQ(rd(0x00), 0x30);
  wr(0x0b, 0x02);  // run from 1999-12-31 08:15:30
  now += 3 * kSec;
  EXPECT_EQ(rd(0x00), 0x33);
  EXPECT_EQ(rd(0x04), 0x08);
  EXPECT_EQ(rd(0x09), 0x99);
  EXPECT_EQ(rd(0x06), 0x06);  // a Friday
  now += 16 * 3600 * kSec;    // past midnight: a new century
  EXPECT_EQ(rd(0x09), 0x00);
  EXPECT_EQ(rd(0x32), 0x20);
  EXPECT_EQ(rd(0x08), 0x01);
}

TEST_F(CmosTest, WritingATimeRegisterWhileRunning) {
  wr(0x02, 0x10);
  EXPECT_EQ(rd(0x02), 0x10);
  EXPECT_EQ(rd(0x04), 0x13);
  now += 60 * kSec;
  EXPECT_EQ(rd(0x02), 0x11);
}

TEST_F(CmosTest, GarbageTimeDoesNotBreakTheClock) {
  wr(0x0b, 0x82);
  for (uint8_t r : {0x00, 0x02, 0x04, 0x07, 0x08, 0x09, 0x32}) wr(r, 0xff);
  wr(0x0b, 0x02);
  for (uint8_t r : {0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, 0x32}) rd(r);
  EXPECT_EQ(rd(0x32), 0x21);  // century 165 is clamped to 2199
  EXPECT_EQ(rd(0x09), 0x99);
  auto st = rtc.save();
  st.offset_ns = INT64_MAX;  // a hostile snapshot
  rtc.restore(st);
  EXPECT_EQ(rd(0x32), 0x21);
  now += 3600 * kSec;
  rd(0x0c);
}

TEST_F(CmosTest, UpdateInProgressWindow) {
  now = kLeapDay * kSec + kSec / 2;
  EXPECT_EQ(rd(0x0a) & 0x80, 0);
  now = kLeapDay * kSec + kSec - 100'000;  // 100 us before the update
  EXPECT_EQ(rd(0x0a) & 0x80, 0x80);
  EXPECT_EQ(rd(0x0a) & 0x7f, 0x26);
  wr(0x0b, 0x82);  // SET stops updates
  EXPECT_EQ(rd(0x0a) & 0x80, 0);
}

TEST_F(CmosTest, RegisterCFlagsForPollingGuests) {
  EXPECT_EQ(rd(0x0c), 0x00);
  now += kSec;
  uint8_t c = rd(0x0c);
  EXPECT_EQ(c & 0x10, 0x10);      // update ended
  EXPECT_EQ(c & 0x80, 0x00);      // not enabled: no IRQF
  EXPECT_EQ(rd(0x0c) & 0x10, 0);  // cleared by the read
  EXPECT_FALSE(irq->level);
}

TEST_F(CmosTest, AlarmFlagAndDontCare) {
  wr(0x01, 0x00);
  wr(0x03, 0x46);
  wr(0x05, 0x13);  // 13:46:00
  rd(0x0c);
  now += 3 * kSec;  // 13:45:59
  EXPECT_EQ(rd(0x0c) & 0x20, 0);
  now += 2 * kSec;  // 13:46:01
  EXPECT_EQ(rd(0x0c) & 0x20, 0x20);
  wr(0x03, 0xc0);
  wr(0x05, 0xc0);  // every minute at :00
  now += 60 * kSec;
  wr(0x0b, 0x22);  // AIE: the pending flag raises the line at once
  EXPECT_TRUE(irq->level);
  EXPECT_EQ(rd(0x0c) & 0xb0, 0xb0);  // IRQF | AF | UF (and PF: the rate is 1024 Hz)
  EXPECT_FALSE(irq->level);
}

TEST_F(CmosTest, NmiMaskBitAndIndexPort) {
  uint8_t idx = 0x80 | 0x0b;
  rtc.io_write(0, {&idx, 1});
  EXPECT_TRUE(rtc.nmi_masked());
  uint8_t v = 0;
  rtc.io_read(1, {&v, 1});
  EXPECT_EQ(v, 0x02);  // register B despite bit 7
  rtc.io_read(0, {&v, 1});
  EXPECT_EQ(v, 0xff);
  idx = 0x0b;
  rtc.io_write(0, {&idx, 1});
  EXPECT_FALSE(rtc.nmi_masked());
}

TEST_F(CmosTest, NvramBytes) {
  wr(0x40, 0xab);
  wr(0x7f, 0xcd);
  EXPECT_EQ(rd(0x40), 0xab);
  EXPECT_EQ(rd(0x7f), 0xcd);
  wr(0x0d, 0x00);  // read-only
  EXPECT_EQ(rd(0x0d), 0x80);
}

TEST_F(CmosTest, PcMemoryLayout) {
  store_pc_cmos_layout(rtc, 32ull << 20, 0, 2);
  EXPECT_EQ(rd(0x15) | rd(0x16) << 8, 640);
  EXPECT_EQ(rd(0x17) | rd(0x18) << 8, 31744);  // 32 MiB - 1 MiB in KiB
  EXPECT_EQ(rd(0x30) | rd(0x31) << 8, 31744);
  EXPECT_EQ(rd(0x34) | rd(0x35) << 8, 256);  // 16 MiB above 16 MiB in 64 KiB units
  EXPECT_EQ(rd(0x5b) | rd(0x5c) << 8 | rd(0x5d) << 16, 0);
  EXPECT_EQ(rd(0x5f), 1);
  unsigned sum = 0;
  for (uint8_t i = 0x10; i <= 0x2d; ++i) sum += rd(i);
  EXPECT_EQ(rd(0x2e) << 8 | rd(0x2f), sum);

  store_pc_cmos_layout(rtc, 3ull << 30, 5ull << 30, 1);
  EXPECT_EQ(rd(0x17) | rd(0x18) << 8, 0xffff);                    // capped
  EXPECT_EQ(rd(0x34) | rd(0x35) << 8, 0xbf00);                    // (3 GiB - 16 MiB) / 64 KiB
  EXPECT_EQ(rd(0x5b) | rd(0x5c) << 8 | rd(0x5d) << 16, 0x14000);  // 5 GiB / 64 KiB
  EXPECT_EQ(rd(0x5f), 0);
}

TEST_F(CmosTest, SaveRestore) {
  wr(0x40, 0x11);
  wr(0x02, 0x00);  // set the minutes: an offset from the host clock
  auto st = rtc.save();
  EventLoop loop2;
  CmosRtc other(nullptr, loop2, {.clock = [this] { return now; }});
  other.restore(st);
  uint8_t idx = 0x02, v = 0;
  other.io_write(0, {&idx, 1});
  other.io_read(1, {&v, 1});
  EXPECT_EQ(v, 0x00);
  EXPECT_EQ(other.byte(0x40), 0x11);
}

// Interrupts with the real clock, driven by the event loop.
TEST(CmosInterrupts, PeriodicInterrupt) {
  EventLoop loop;
  auto irq = std::make_shared<FakeIrq>();
  CmosRtc rtc(irq, loop);
  auto wr = [&](uint8_t index, uint8_t value) {
    rtc.io_write(0, {&index, 1});
    rtc.io_write(1, {&value, 1});
  };
  auto rd = [&](uint8_t index) {
    uint8_t v = index;
    rtc.io_write(0, {&v, 1});
    rtc.io_read(1, {&v, 1});
    return v;
  };
  wr(0x0a, 0x26);  // 1024 Hz
  rd(0x0c);
  wr(0x0b, 0x42);  // PIE
  for (int round = 0; round < 3; ++round) {
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (!irq->level && std::chrono::steady_clock::now() < end) loop.run_once(10);
    ASSERT_TRUE(irq->level) << "round " << round;
    EXPECT_EQ(rd(0x0c) & 0xc0, 0xc0);
    EXPECT_FALSE(irq->level);
  }
  wr(0x0b, 0x02);
  rd(0x0c);
  for (int i = 0; i < 5; ++i) loop.run_once(2);
  EXPECT_FALSE(irq->level);
}

TEST(CmosInterrupts, UpdateEndedInterrupt) {
  EventLoop loop;
  auto irq = std::make_shared<FakeIrq>();
  CmosRtc rtc(irq, loop);
  uint8_t idx = 0x0b, v = 0x12;  // UIE, 24 h
  rtc.io_write(0, {&idx, 1});
  rtc.io_write(1, {&v, 1});
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(2500);
  while (!irq->level && std::chrono::steady_clock::now() < end) loop.run_once(50);
  ASSERT_TRUE(irq->level);
  idx = 0x0c;
  rtc.io_write(0, {&idx, 1});
  rtc.io_read(1, {&v, 1});
  EXPECT_EQ(v & 0x90, 0x90);
}

}  // namespace
}  // namespace tandem
