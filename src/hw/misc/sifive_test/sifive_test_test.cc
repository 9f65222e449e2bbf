#include "hw/misc/sifive_test/sifive_test.h"

#include <gtest/gtest.h>

#include <vector>

namespace tandem {
namespace {

class RecordingControl : public VmControl {
 public:
  void request_exit(int status) override { exits.push_back(status); }
  void request_reset() override { ++resets; }
  std::vector<int> exits;
  int resets = 0;
};

void write32(SifiveTest& dev, uint64_t off, uint32_t v) {
  uint8_t b[4] = {uint8_t(v), uint8_t(v >> 8), uint8_t(v >> 16), uint8_t(v >> 24)};
  dev.io_write(off, b);
}

TEST(SifiveTest, PassExitsWithZero) {
  RecordingControl c;
  SifiveTest dev(c);
  write32(dev, 0, 0x5555);
  EXPECT_EQ(c.exits, std::vector<int>{0});
  write32(dev, 0, 0xabcd5555);  // PASS ignores the code
  EXPECT_EQ(c.exits, (std::vector<int>{0, 0}));
}

TEST(SifiveTest, FailExitsWithTheCodeInTheHighHalf) {
  RecordingControl c;
  SifiveTest dev(c);
  write32(dev, 0, (42u << 16) | 0x3333);
  write32(dev, 0, (0xffffu << 16) | 0x3333);
  write32(dev, 0, 0x3333);
  EXPECT_EQ(c.exits, (std::vector<int>{42, 0xffff, 0}));
}

TEST(SifiveTest, ResetRequestsAReset) {
  RecordingControl c;
  SifiveTest dev(c);
  write32(dev, 0, 0x7777);
  EXPECT_EQ(c.resets, 1);
  EXPECT_TRUE(c.exits.empty());
}

TEST(SifiveTest, SixteenBitWritesAsOpenSbiMakes) {
  RecordingControl c;
  SifiveTest dev(c);
  uint8_t pass[2] = {0x55, 0x55};
  dev.io_write(0, pass);
  uint8_t reset[2] = {0x77, 0x77};
  dev.io_write(0, reset);
  EXPECT_EQ(c.exits, std::vector<int>{0});
  EXPECT_EQ(c.resets, 1);
}

TEST(SifiveTest, OtherValuesOffsetsAndSizesDoNothing) {
  RecordingControl c;
  SifiveTest dev(c);
  write32(dev, 0, 0x1234);
  write32(dev, 4, 0x5555);
  uint8_t one[1] = {0x55};
  dev.io_write(0, one);
  uint8_t eight[8] = {0x55, 0x55, 0, 0, 0, 0, 0, 0};
  dev.io_write(0, eight);
  EXPECT_TRUE(c.exits.empty());
  EXPECT_EQ(c.resets, 0);
  uint8_t r[4] = {9, 9, 9, 9};
  dev.io_read(0, r);
  for (uint8_t v : r) EXPECT_EQ(v, 0);
}

}  // namespace
}  // namespace tandem
