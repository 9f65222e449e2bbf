#include "hw/rtc/goldfish/goldfish_rtc.h"

#include <gtest/gtest.h>

#include <vector>

namespace tandem {
namespace {

class RecordingLine : public IrqLine {
 public:
  void set_level(bool asserted) override {
    level = asserted;
    changes.push_back(asserted);
  }
  bool level = false;
  std::vector<bool> changes;
};

constexpr uint64_t kStart = 0x1234'5678'9abc'def0ull;

class GoldfishRtcTest : public ::testing::Test {
 protected:
  GoldfishRtcTest()
      : line(std::make_shared<RecordingLine>()), rtc(std::make_shared<GoldfishRtc>(line, clock)) {}
  uint32_t read(uint64_t off) {
    uint8_t b[4];
    rtc->io_read(off, b);
    return uint32_t{b[0]} | uint32_t{b[1]} << 8 | uint32_t{b[2]} << 16 | uint32_t{b[3]} << 24;
  }
  void write(uint64_t off, uint32_t v) {
    uint8_t b[4] = {uint8_t(v), uint8_t(v >> 8), uint8_t(v >> 16), uint8_t(v >> 24)};
    rtc->io_write(off, b);
  }
  uint64_t read_time() {
    uint64_t lo = read(GoldfishRtc::kTimeLow);
    return uint64_t{read(GoldfishRtc::kTimeHigh)} << 32 | lo;
  }
  void set_alarm(uint64_t t) {
    write(GoldfishRtc::kAlarmHigh, static_cast<uint32_t>(t >> 32));
    write(GoldfishRtc::kAlarmLow, static_cast<uint32_t>(t));
  }

  ManualClock clock{0, kStart};
  std::shared_ptr<RecordingLine> line;
  std::shared_ptr<GoldfishRtc> rtc;
};

TEST_F(GoldfishRtcTest, TimeFollowsTheHostWallClock) {
  EXPECT_EQ(read_time(), kStart);
  clock.advance(1'000'000'000);
  EXPECT_EQ(read_time(), kStart + 1'000'000'000);
}

TEST_F(GoldfishRtcTest, TimeHighIsLatchedByTheLowRead) {
  clock.set_realtime(0x5'ffff'fff0ull);
  uint32_t lo = read(GoldfishRtc::kTimeLow);
  clock.advance(0x20);  // the low half wraps meanwhile
  EXPECT_EQ(read(GoldfishRtc::kTimeHigh), 5u);
  EXPECT_EQ(lo, 0xfffffff0u);
  EXPECT_EQ(read(GoldfishRtc::kTimeHigh), 5u);  // still the latched value
  EXPECT_EQ(read(GoldfishRtc::kTimeLow), 0x10u);
  EXPECT_EQ(read(GoldfishRtc::kTimeHigh), 6u);
}

TEST_F(GoldfishRtcTest, GuestSetsTheTimeHighThenLowAsLinuxDoes) {
  uint64_t t = 1'700'000'000ull * 1'000'000'000ull;
  write(GoldfishRtc::kTimeHigh, static_cast<uint32_t>(t >> 32));
  write(GoldfishRtc::kTimeLow, static_cast<uint32_t>(t));
  EXPECT_EQ(read_time(), t);
  clock.advance(500);
  EXPECT_EQ(read_time(), t + 500);
  EXPECT_EQ(rtc->time_ns(), t + 500);
}

TEST_F(GoldfishRtcTest, AlarmFiresRaisesTheLineOnlyWhenEnabledAndClears) {
  write(GoldfishRtc::kIrqEnabled, 1);
  EXPECT_EQ(read(GoldfishRtc::kIrqEnabled), 1u);
  set_alarm(kStart + 1000);
  EXPECT_EQ(read(GoldfishRtc::kAlarmStatus), 1u);
  EXPECT_EQ(read(GoldfishRtc::kAlarmLow), static_cast<uint32_t>(kStart + 1000));
  EXPECT_EQ(read(GoldfishRtc::kAlarmHigh), static_cast<uint32_t>((kStart + 1000) >> 32));
  ASSERT_TRUE(rtc->next_alarm_ns().has_value());
  EXPECT_EQ(*rtc->next_alarm_ns(), kStart + 1000);

  clock.advance(999);
  rtc->check_alarm();
  EXPECT_FALSE(line->level);
  clock.advance(1);
  rtc->check_alarm();
  EXPECT_TRUE(line->level);
  EXPECT_EQ(read(GoldfishRtc::kAlarmStatus), 0u);  // one-shot
  EXPECT_FALSE(rtc->next_alarm_ns().has_value());

  write(GoldfishRtc::kIrqEnabled, 0);  // masks the line, interrupt stays pending
  EXPECT_FALSE(line->level);
  write(GoldfishRtc::kIrqEnabled, 1);
  EXPECT_TRUE(line->level);
  write(GoldfishRtc::kClearInterrupt, 1);
  EXPECT_FALSE(line->level);
}

TEST_F(GoldfishRtcTest, DisabledInterruptStillSetsPendingState) {
  set_alarm(kStart + 10);
  clock.advance(10);
  rtc->check_alarm();
  EXPECT_FALSE(line->level);
  EXPECT_EQ(read(GoldfishRtc::kAlarmStatus), 0u);
  write(GoldfishRtc::kIrqEnabled, 1);
  EXPECT_TRUE(line->level);
}

TEST_F(GoldfishRtcTest, AlarmInThePastFiresAtOnceAndClearAlarmCancels) {
  write(GoldfishRtc::kIrqEnabled, 1);
  set_alarm(kStart - 5);
  EXPECT_TRUE(line->level);
  write(GoldfishRtc::kClearInterrupt, 0);
  set_alarm(kStart + 100);
  write(GoldfishRtc::kClearAlarm, 1);
  EXPECT_EQ(read(GoldfishRtc::kAlarmStatus), 0u);
  clock.advance(1000);
  rtc->check_alarm();
  EXPECT_FALSE(line->level);
}

TEST_F(GoldfishRtcTest, OtherSizesAndOffsetsAreHarmless) {
  uint8_t b8[8] = {1, 1, 1, 1, 1, 1, 1, 1};
  rtc->io_write(GoldfishRtc::kIrqEnabled, b8);
  EXPECT_EQ(read(GoldfishRtc::kIrqEnabled), 0u);
  rtc->io_read(GoldfishRtc::kTimeLow, b8);
  for (uint8_t v : b8) EXPECT_EQ(v, 0);
  write(0x800, 5);
  EXPECT_EQ(read(0x800), 0u);
}

TEST_F(GoldfishRtcTest, SaveRestoreCarriesGuestTimeAndAlarm) {
  write(GoldfishRtc::kTimeHigh, 0);
  write(GoldfishRtc::kTimeLow, 1000);
  write(GoldfishRtc::kIrqEnabled, 1);
  set_alarm(5000);
  GoldfishRtcState s = rtc->save();
  EXPECT_EQ(s.time_ns, 1000u);
  EXPECT_TRUE(s.alarm_running);

  ManualClock clock2{0, 99'999};
  auto line2 = std::make_shared<RecordingLine>();
  auto other = std::make_shared<GoldfishRtc>(line2, clock2);
  other->restore(s);
  EXPECT_EQ(other->time_ns(), 1000u);
  clock2.advance(4000);
  other->check_alarm();
  EXPECT_TRUE(line2->level);
}

TEST(GoldfishRtc, StartsAtHostTimeAndHostTimerFiresTheAlarm) {
  auto line = std::make_shared<RecordingLine>();
  auto rtc = std::make_shared<GoldfishRtc>(line);
  uint64_t host = host_clock().realtime_ns();
  EXPECT_LT(rtc->time_ns() - host, 1'000'000'000ull);
  EventLoop loop;
  rtc->attach_timer(loop);
  auto write = [&](uint64_t off, uint32_t v) {
    uint8_t b[4] = {uint8_t(v), uint8_t(v >> 8), uint8_t(v >> 16), uint8_t(v >> 24)};
    rtc->io_write(off, b);
  };
  write(GoldfishRtc::kIrqEnabled, 1);
  uint64_t when = rtc->time_ns() + 20'000'000;
  write(GoldfishRtc::kAlarmHigh, static_cast<uint32_t>(when >> 32));
  write(GoldfishRtc::kAlarmLow, static_cast<uint32_t>(when));
  EXPECT_FALSE(line->level);
  uint64_t start = host_clock().monotonic_ns();
  while (!line->level && host_clock().monotonic_ns() - start < 2'000'000'000ull) loop.run_once(100);
  EXPECT_TRUE(line->level);
  EXPECT_GE(rtc->time_ns(), when);
}

}  // namespace
}  // namespace tandem
