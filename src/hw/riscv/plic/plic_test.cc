#include "hw/riscv/plic/plic.h"

#include <gtest/gtest.h>

#include "base/error.h"
#include "hw/riscv/fake_hart_sink.h"

namespace tandem::riscv {
namespace {

class PlicTest : public ::testing::Test {
 protected:
  PlicTest() : plic(std::make_shared<Plic>(2, sink)) {}

  uint32_t read(uint64_t off) {
    uint8_t b[4];
    plic->io_read(off, b);
    return uint32_t{b[0]} | uint32_t{b[1]} << 8 | uint32_t{b[2]} << 16 | uint32_t{b[3]} << 24;
  }
  void write(uint64_t off, uint32_t v) {
    uint8_t b[4] = {uint8_t(v), uint8_t(v >> 8), uint8_t(v >> 16), uint8_t(v >> 24)};
    plic->io_write(off, b);
  }
  static uint64_t prio(unsigned src) { return 4 * src; }
  static uint64_t enable(unsigned ctx, unsigned word = 0) { return 0x2000 + 0x80 * ctx + 4 * word; }
  static uint64_t threshold(unsigned ctx) { return 0x200000 + 0x1000 * ctx; }
  static uint64_t claim(unsigned ctx) { return threshold(ctx) + 4; }

  FakeHartSink sink;
  std::shared_ptr<Plic> plic;
};

TEST_F(PlicTest, PriorityIsThreeBitsAndSourceZeroIsHardwiredZero) {
  write(prio(10), 0xffffffff);
  EXPECT_EQ(read(prio(10)), 7u);
  write(prio(10), 9);
  EXPECT_EQ(read(prio(10)), 1u);
  write(prio(0), 5);
  EXPECT_EQ(read(prio(0)), 0u);
  write(prio(95), 3);
  EXPECT_EQ(read(prio(95)), 3u);
  EXPECT_EQ(read(prio(96)), 0u);  // beyond the sources
}

TEST_F(PlicTest, EnableBitsPerContextWithoutSourceZero) {
  write(enable(1, 0), 0xffffffff);
  EXPECT_EQ(read(enable(1, 0)), 0xfffffffeu);
  write(enable(3, 2), 0x80000001);
  EXPECT_EQ(read(enable(3, 2)), 0x80000001u);
  EXPECT_EQ(read(enable(0, 0)), 0u);
  write(enable(4, 0), 0xffffffff);  // no context 4 with 2 harts
  EXPECT_EQ(read(enable(4, 0)), 0u);
  write(threshold(1), 0xff);
  EXPECT_EQ(read(threshold(1)), 7u);
}

TEST_F(PlicTest, LevelSourceRaisesSeipOfItsEnabledContextAndClaimCompleteCycle) {
  auto line = plic->irq(10);
  write(prio(10), 1);
  write(enable(1), 1u << 10);  // hart 0, S-mode
  line->set_level(true);
  EXPECT_EQ(read(0x1000), 1u << 10);
  EXPECT_TRUE(sink.level(0, kMipSeip));
  EXPECT_FALSE(sink.level(0, kMipMeip));
  EXPECT_FALSE(sink.level(1, kMipSeip));

  EXPECT_EQ(read(claim(1)), 10u);
  EXPECT_EQ(read(0x1000), 0u);            // claim clears pending
  EXPECT_FALSE(sink.level(0, kMipSeip));  // and the notification
  EXPECT_EQ(read(claim(1)), 0u);          // nothing else

  // Line still high at completion: pending again.
  write(claim(1), 10);
  EXPECT_EQ(read(0x1000), 1u << 10);
  EXPECT_TRUE(sink.level(0, kMipSeip));
  EXPECT_EQ(read(claim(1)), 10u);
  line->set_level(false);
  write(claim(1), 10);
  EXPECT_EQ(read(0x1000), 0u);
  EXPECT_FALSE(sink.level(0, kMipSeip));
}

TEST_F(PlicTest, NoNewRequestWhileInFlight) {
  auto line = plic->irq(5);
  write(prio(5), 2);
  write(enable(0), 1u << 5);
  line->set_level(true);
  EXPECT_EQ(read(claim(0)), 5u);
  line->set_level(false);
  line->set_level(true);  // a new edge while claimed: the gateway holds it back
  EXPECT_EQ(read(0x1000), 0u);
  EXPECT_FALSE(sink.level(0, kMipMeip));
  write(claim(0), 5);
  EXPECT_EQ(read(0x1000), 1u << 5);
  EXPECT_TRUE(sink.level(0, kMipMeip));
}

TEST_F(PlicTest, PendingStaysWhenTheLineDropsBeforeTheClaim) {
  auto line = plic->irq(3);
  write(prio(3), 1);
  write(enable(2), 1u << 3);  // hart 1, M-mode
  line->set_level(true);
  line->set_level(false);
  EXPECT_TRUE(sink.level(1, kMipMeip));
  EXPECT_EQ(read(claim(2)), 3u);
  write(claim(2), 3);
  EXPECT_EQ(read(0x1000), 0u);  // line low at completion: no new request
}

TEST_F(PlicTest, ClaimPicksHighestPriorityThenLowestId) {
  for (unsigned src : {4u, 7u, 9u, 40u}) {
    plic->set_source_level(src, true);
  }
  write(prio(4), 2);
  write(prio(7), 5);
  write(prio(9), 5);
  write(prio(40), 6);
  write(enable(1, 0), (1u << 4) | (1u << 7) | (1u << 9));
  write(enable(1, 1), 1u << 8);  // source 40
  EXPECT_EQ(read(0x1004), 1u << 8);
  EXPECT_EQ(read(claim(1)), 40u);
  EXPECT_EQ(read(claim(1)), 7u);
  EXPECT_EQ(read(claim(1)), 9u);
  EXPECT_EQ(read(claim(1)), 4u);
  EXPECT_EQ(read(claim(1)), 0u);
}

TEST_F(PlicTest, ThresholdMasksAtOrBelowAndPriorityZeroNeverInterrupts) {
  auto line = plic->irq(1);
  write(enable(0), 1u << 1);
  line->set_level(true);
  EXPECT_FALSE(sink.level(0, kMipMeip));  // priority 0
  EXPECT_EQ(read(claim(0)), 0u);
  write(prio(1), 3);
  EXPECT_TRUE(sink.level(0, kMipMeip));
  write(threshold(0), 3);
  EXPECT_FALSE(sink.level(0, kMipMeip));
  EXPECT_EQ(read(claim(0)), 0u);
  EXPECT_EQ(read(0x1000), 1u << 1);  // still pending
  write(threshold(0), 2);
  EXPECT_TRUE(sink.level(0, kMipMeip));
  EXPECT_EQ(read(claim(0)), 1u);
}

TEST_F(PlicTest, CompletionIgnoredForSourceNotEnabledOnThatContext) {
  auto line = plic->irq(6);
  write(prio(6), 1);
  write(enable(0), 1u << 6);
  line->set_level(true);
  EXPECT_EQ(read(claim(0)), 6u);
  write(claim(1), 6);  // context 1 does not enable 6
  EXPECT_EQ(read(0x1000), 0u);
  write(claim(0), 6);
  EXPECT_EQ(read(0x1000), 1u << 6);
  write(claim(0), 0);  // bogus ids are harmless
  write(claim(0), 500);
}

TEST_F(PlicTest, OneSourceEnabledOnTwoContextsIsClaimedOnce) {
  auto line = plic->irq(8);
  write(prio(8), 1);
  write(enable(1), 1u << 8);
  write(enable(3), 1u << 8);
  line->set_level(true);
  EXPECT_TRUE(sink.level(0, kMipSeip));
  EXPECT_TRUE(sink.level(1, kMipSeip));
  EXPECT_EQ(read(claim(3)), 8u);
  EXPECT_FALSE(sink.level(0, kMipSeip));
  EXPECT_EQ(read(claim(1)), 0u);
}

TEST_F(PlicTest, EightByteAccessCoversTwoRegisters) {
  uint8_t b[8] = {1, 0, 0, 0, 2, 0, 0, 0};
  plic->io_write(prio(2), b);
  EXPECT_EQ(read(prio(2)), 1u);
  EXPECT_EQ(read(prio(3)), 2u);
  uint8_t one[1] = {7};
  plic->io_write(prio(4), one);  // byte writes are ignored
  EXPECT_EQ(read(prio(4)), 0u);
}

TEST_F(PlicTest, IrqRejectsBadSources) {
  EXPECT_THROW(plic->irq(0), Error);
  EXPECT_THROW(plic->irq(96), Error);
  plic->set_source_level(1000, true);  // ignored
}

TEST_F(PlicTest, SaveRestore) {
  auto line = plic->irq(10);
  write(prio(10), 4);
  write(enable(1), 1u << 10);
  write(threshold(1), 1);
  line->set_level(true);
  PlicState s = plic->save();

  FakeHartSink sink2;
  auto other = std::make_shared<Plic>(2, sink2);
  other->restore(s);
  EXPECT_TRUE(sink2.level(0, kMipSeip));
  uint8_t b[4];
  other->io_read(claim(1), b);
  EXPECT_EQ(b[0], 10);

  auto small = std::make_shared<Plic>(1, sink2);
  EXPECT_THROW(small->restore(s), Error);
}

TEST(Plic, GeometryMatchesQemuVirt) {
  EXPECT_EQ(Plic::kSize, 0x600000u);
  EXPECT_EQ(Plic::kNumSources - 1, 95u);
  EXPECT_EQ(Plic::context_hart(5), 2u);
  EXPECT_EQ(Plic::context_mip_bit(4), unsigned{kMipMeip});
  EXPECT_EQ(Plic::context_mip_bit(5), unsigned{kMipSeip});
}

}  // namespace
}  // namespace tandem::riscv
