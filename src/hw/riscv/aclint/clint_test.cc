#include "hw/riscv/aclint/clint.h"

#include <gtest/gtest.h>

#include "base/error.h"
#include "hw/riscv/fake_hart_sink.h"
#include "memory/io_bus.h"

namespace tandem::riscv {
namespace {

constexpr uint64_t kBase = 0x2000000;

class ClintTest : public ::testing::Test {
 protected:
  ClintTest() : clint(std::make_shared<Clint>(2, sink, clock)), bus("mmio") {
    bus.add(kBase, Clint::kSize, clint, "clint");
  }
  uint64_t read(uint64_t off, unsigned size) {
    uint8_t buf[8] = {};
    EXPECT_TRUE(bus.read(kBase + off, {buf, size}));
    uint64_t v = 0;
    for (unsigned i = 0; i < size; ++i) v |= uint64_t{buf[i]} << (8 * i);
    return v;
  }
  void write(uint64_t off, unsigned size, uint64_t v) {
    uint8_t buf[8];
    for (unsigned i = 0; i < size; ++i) buf[i] = static_cast<uint8_t>(v >> (8 * i));
    EXPECT_TRUE(bus.write(kBase + off, {buf, size}));
  }

  ManualClock clock{1'000'000'000, 0};
  FakeHartSink sink;
  std::shared_ptr<Clint> clint;
  IoBus bus;
};

TEST_F(ClintTest, MsipBitZeroDrivesMsipOfThatHartOnly) {
  write(0x4, 4, 0xffffffff);
  EXPECT_EQ(read(0x4, 4), 1u);
  EXPECT_EQ(read(0x0, 4), 0u);
  EXPECT_TRUE(sink.level(1, kMipMsip));
  EXPECT_FALSE(sink.level(0, kMipMsip));
  size_t calls = sink.call_count();
  write(0x4, 4, 3);  // no change: no call
  EXPECT_EQ(sink.call_count(), calls);
  write(0x4, 4, 2);  // bit 0 clear
  EXPECT_FALSE(sink.level(1, kMipMsip));
  EXPECT_EQ(read(0x4, 4), 0u);
}

TEST_F(ClintTest, MsipBeyondTheHartsReadsZeroAndIgnoresWrites) {
  write(0x8, 4, 1);
  EXPECT_EQ(read(0x8, 4), 0u);
  for (auto& [hart, bit, level] : sink.calls) EXPECT_LT(hart, 2u);
}

TEST_F(ClintTest, MtimeCountsAtTenMegahertzFromZero) {
  EXPECT_EQ(read(0xbff8, 8), 0u);
  clock.advance(1'000'000'000);  // 1 s
  EXPECT_EQ(read(0xbff8, 8), 10'000'000u);
  clock.advance(250);  // 2.5 ticks
  EXPECT_EQ(read(0xbff8, 8), 10'000'002u);
  EXPECT_EQ(clint->mtime(), 10'000'002u);
}

TEST_F(ClintTest, MtimeHalvesAndWrites) {
  write(0xbff8, 8, 0x1'2345'6789ull);
  EXPECT_EQ(read(0xbff8, 4), 0x23456789u);
  EXPECT_EQ(read(0xbffc, 4), 0x1u);
  write(0xbffc, 4, 0x5);
  EXPECT_EQ(read(0xbff8, 8), 0x5'2345'6789ull);
  clock.advance(1000);
  EXPECT_EQ(read(0xbff8, 8), 0x5'2345'6789ull + 10);
}

TEST_F(ClintTest, MtipIsMtimeAtOrPastMtimecmp) {
  // Reset value 0: due at once (as QEMU); firmware sets it to all-ones first.
  EXPECT_TRUE(sink.level(0, kMipMtip));
  write(0x4000, 8, ~0ull);
  write(0x4008, 8, ~0ull);
  EXPECT_FALSE(sink.level(0, kMipMtip));
  EXPECT_FALSE(sink.level(1, kMipMtip));
  EXPECT_FALSE(clint->next_deadline_ns().has_value());

  write(0x4008, 8, 100);  // hart 1, 10 us from now
  EXPECT_EQ(read(0x4008, 8), 100u);
  EXPECT_FALSE(sink.level(1, kMipMtip));
  ASSERT_TRUE(clint->next_deadline_ns().has_value());
  EXPECT_EQ(*clint->next_deadline_ns(), 1'000'000'000u + 100 * 100);

  clock.advance(9'999);
  clint->update_timers();
  EXPECT_FALSE(sink.level(1, kMipMtip));
  clock.advance(1);
  clint->update_timers();
  EXPECT_TRUE(sink.level(1, kMipMtip));
  EXPECT_FALSE(sink.level(0, kMipMtip));
  EXPECT_FALSE(clint->next_deadline_ns().has_value());  // raised already

  write(0x4008, 8, 1000);  // moving cmp ahead lowers MTIP
  EXPECT_FALSE(sink.level(1, kMipMtip));
}

TEST_F(ClintTest, MtimecmpHalfWritesAsOpenSbiDoes) {
  write(0x4000, 4, 0xffffffff);  // hi first would glitch; write all-ones low then high
  write(0x4004, 4, 0x00000001);
  EXPECT_EQ(read(0x4000, 8), 0x1'ffff'ffffull);
  EXPECT_EQ(read(0x4004, 4), 1u);
  EXPECT_FALSE(sink.level(0, kMipMtip));
}

TEST_F(ClintTest, WritingMtimePastCmpRaisesMtip) {
  write(0x4000, 8, 5000);
  EXPECT_FALSE(sink.level(0, kMipMtip));
  write(0xbff8, 8, 5000);
  EXPECT_TRUE(sink.level(0, kMipMtip));
}

TEST_F(ClintTest, DeadlineIsPastWhenDueButNotYetUpdated) {
  write(0x4000, 8, 10);
  write(0x4008, 8, ~0ull);
  clock.advance(5000);
  ASSERT_TRUE(clint->next_deadline_ns().has_value());
  EXPECT_LE(*clint->next_deadline_ns(), clock.monotonic_ns());
}

TEST_F(ClintTest, OddSizesAndUnmappedOffsetsAreHarmless) {
  uint8_t b[2] = {1, 1};
  EXPECT_TRUE(bus.write(kBase + 0x0, {b, 2}));
  EXPECT_EQ(read(0x0, 4), 0u);
  EXPECT_EQ(read(0x5000, 8), 0u);  // past hart 1's mtimecmp
  write(0x5000, 8, 1234);
  EXPECT_EQ(read(0x4002, 4), 0u);  // misaligned
  uint8_t wide[16];
  EXPECT_TRUE(bus.read(kBase + 0xbff0, {wide, 16}));
}

TEST_F(ClintTest, SaveAndRestoreKeepTimeRunning) {
  write(0x4, 4, 1);
  write(0x4008, 8, 777);
  clock.advance(1000);
  ClintState s = clint->save();
  EXPECT_EQ(s.mtime, 10u);
  EXPECT_EQ(s.mtimecmp[1], 777u);
  EXPECT_EQ(s.msip[1], 1u);

  FakeHartSink sink2;
  ManualClock clock2(55, 0);
  auto other = std::make_shared<Clint>(2, sink2, clock2);
  other->restore(s);
  EXPECT_EQ(other->mtime(), 10u);
  clock2.advance(100);
  EXPECT_EQ(other->mtime(), 11u);
  EXPECT_TRUE(sink2.level(1, kMipMsip));
  EXPECT_EQ(other->save().mtimecmp[1], 777u);

  auto wrong = std::make_shared<Clint>(1, sink2, clock2);
  EXPECT_THROW(wrong->restore(s), Error);
}

TEST(Clint, RejectsZeroHarts) {
  FakeHartSink sink;
  EXPECT_THROW(Clint(0, sink), Error);
}

TEST(Clint, HostTimerRaisesMtipWithoutPolling) {
  FakeHartSink sink;
  auto clint = std::make_shared<Clint>(1, sink);
  EventLoop loop;
  clint->attach_timer(loop);
  uint8_t buf[8];
  uint64_t now = clint->mtime();
  uint64_t cmp = now + 20'000;  // 2 ms
  for (int i = 0; i < 8; ++i) buf[i] = static_cast<uint8_t>(cmp >> (8 * i));
  clint->io_write(Clint::kMtimecmpBase, {buf, 8});
  EXPECT_FALSE(sink.level(0, kMipMtip));
  uint64_t start = host_clock().monotonic_ns();
  while (!sink.level(0, kMipMtip) && host_clock().monotonic_ns() - start < 2'000'000'000ull)
    loop.run_once(100);
  EXPECT_TRUE(sink.level(0, kMipMtip));
  EXPECT_GE(clint->mtime(), cmp);
}

}  // namespace
}  // namespace tandem::riscv
