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
  EXPECT_FALSE(bus.read(0xffe, v));   // starts before the range
  EXPECT_FALSE(bus.read(0x10fe, v));  // runs past its end
  EXPECT_FALSE(bus.write(0x0, v));
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
