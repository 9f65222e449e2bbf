#include "memory/guest_ram.h"

#include <gtest/gtest.h>

#include <array>

namespace tandem {
namespace {

TEST(GuestRam, ReadsBackWhatWasWritten) {
  GuestRam ram;
  ram.add_region(0, 1 << 20);
  ram.store<uint32_t>(0x1000, 0xdeadbeef);
  EXPECT_EQ(ram.load<uint32_t>(0x1000), 0xdeadbeefu);
  EXPECT_EQ(ram.total_size(), 1u << 20);
}

TEST(GuestRam, RejectsAccessesOutsideRam) {
  GuestRam ram;
  ram.add_region(0x1000, 0x1000);
  std::array<uint8_t, 16> buf{};
  EXPECT_FALSE(ram.read(0, buf));
  EXPECT_FALSE(ram.read(0x1ff8, buf));     // straddles the end
  EXPECT_TRUE(ram.read(0x1ff0, buf));      // ends exactly at the end
  EXPECT_FALSE(ram.read(~uint64_t{0} - 4, buf));  // would wrap
  EXPECT_EQ(ram.host_ptr(0x2000, 1), nullptr);
  EXPECT_EQ(ram.host_ptr(0x1000, 0x1001), nullptr);
  EXPECT_THROW(ram.load<uint64_t>(0x1ffc), GuestMemoryError);
}

TEST(GuestRam, AccessMayNotSpanTwoRegions) {
  GuestRam ram;
  ram.add_region(0, 0x1000);
  ram.add_region(0x1000, 0x1000);
  EXPECT_EQ(ram.host_ptr(0xffc, 8), nullptr);
  EXPECT_NE(ram.host_ptr(0x1000, 8), nullptr);
}

TEST(GuestRam, RefusesOverlapAndEmptyRegions) {
  GuestRam ram;
  ram.add_region(0x10000, 0x10000);
  EXPECT_THROW(ram.add_region(0x18000, 0x10000), Error);
  EXPECT_THROW(ram.add_region(0x0, 0x10001), Error);
  EXPECT_THROW(ram.add_region(0x40000, 0), Error);
  EXPECT_THROW(ram.add_region(~uint64_t{0} - 0xfff, 0x2000), Error);
}

}  // namespace
}  // namespace tandem
