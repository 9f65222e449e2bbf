#include "memory/io_bus.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>

#include "base/error.h"

namespace tandem {
namespace {

class Recorder : public IoDevice {
 public:
  void io_read(uint64_t offset, std::span<uint8_t> data) override {
    last_offset = offset;
    std::memset(data.data(), static_cast<int>(0x40 + offset), data.size());
  }
  void io_write(uint64_t offset, std::span<const uint8_t> data) override {
    last_offset = offset;
    last_value = data[0];
    last_size = data.size();
  }
  uint64_t last_offset = ~0ull;
  uint8_t last_value = 0;
  size_t last_size = 0;
};

TEST(IoBus, DispatchesByRangeWithOffset) {
  IoBus bus("pio");
  auto a = std::make_shared<Recorder>();
  auto b = std::make_shared<Recorder>();
  bus.add(0x3f8, 8, a, "uart");
  bus.add(0x501, 2, b, "debug-exit");
  std::array<uint8_t, 1> v{};
  EXPECT_TRUE(bus.read(0x3fd, v));
  EXPECT_EQ(a->last_offset, 5u);
  EXPECT_EQ(v[0], 0x45);
  uint8_t w = 9;
  EXPECT_TRUE(bus.write(0x502, {&w, 1}));
  EXPECT_EQ(b->last_offset, 1u);
  EXPECT_EQ(b->last_value, 9);
}

TEST(IoBus, UnclaimedReadsAreAllOnes) {
  IoBus bus("mmio");
  bus.add(0x1000, 0x100, std::make_shared<Recorder>(), "dev");
  std::array<uint8_t, 4> v{};
  EXPECT_FALSE(bus.read(0x2000, v));
  EXPECT_EQ(v[0], 0xff);
  EXPECT_EQ(v[3], 0xff);
  EXPECT_FALSE(bus.write(0x0, v));
}

// Accesses crossing range boundaries are split as QEMU splits them.
TEST(IoBus, StraddlingAccessesAreSplitAtRangeBoundaries) {
  IoBus bus("pio");
  auto dev = std::make_shared<Recorder>();
  bus.add(0x501, 2, dev, "debug-exit");
  const uint8_t outl[4] = {0x10, 0, 0, 0};  // outl 0x10 to 0x501: the device sees 2 bytes
  EXPECT_TRUE(bus.write(0x501, outl));
  EXPECT_EQ(dev->last_offset, 0u);
  EXPECT_EQ(dev->last_size, 2u);
  EXPECT_EQ(dev->last_value, 0x10);
  EXPECT_TRUE(bus.write(0x500, outl));  // starts before the range
  EXPECT_EQ(dev->last_offset, 0u);
  EXPECT_EQ(dev->last_size, 2u);
  EXPECT_EQ(dev->last_value, 0x00);
  std::array<uint8_t, 4> v{};
  EXPECT_TRUE(bus.read(0x500, v));
  EXPECT_EQ(v, (std::array<uint8_t, 4>{0xff, 0x40, 0x40, 0xff}));  // one 2-byte read at offset 0
  EXPECT_TRUE(bus.read(0x502, v));  // runs past its end
  EXPECT_EQ(v, (std::array<uint8_t, 4>{0x41, 0xff, 0xff, 0xff}));
  auto next = std::make_shared<Recorder>();
  bus.add(0x503, 1, next, "next");
  EXPECT_TRUE(bus.read(0x502, v));  // two devices and a gap
  EXPECT_EQ(v, (std::array<uint8_t, 4>{0x41, 0x40, 0xff, 0xff}));
  EXPECT_FALSE(bus.read(0x4fc, v));  // ends right before the range
  EXPECT_EQ(v, (std::array<uint8_t, 4>{0xff, 0xff, 0xff, 0xff}));
}

TEST(IoBus, RefusesOverlaps) {
  IoBus bus("mmio");
  bus.add(0x1000, 0x100, std::make_shared<Recorder>(), "a");
  EXPECT_THROW(bus.add(0x10ff, 0x10, std::make_shared<Recorder>(), "b"), Error);
  EXPECT_THROW(bus.add(0xf00, 0x101, std::make_shared<Recorder>(), "c"), Error);
  EXPECT_THROW(bus.add(0x5000, 0, std::make_shared<Recorder>(), "d"), Error);
  bus.add(0x1100, 0x10, std::make_shared<Recorder>(), "e");
  EXPECT_EQ(bus.ranges().size(), 2u);
}

}  // namespace
}  // namespace tandem
