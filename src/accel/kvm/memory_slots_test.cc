#include "accel/kvm/memory_slots.h"

#include <gtest/gtest.h>

namespace tandem::kvm {
namespace {

uint8_t* fake_host(uint64_t addr) {
  return reinterpret_cast<uint8_t*>(addr);
}

TEST(MemorySlots, OneSlotPerRegion) {
  std::vector<RamRegion> regions = {{0, 3ull << 30, fake_host(0x7f0000000000)},
                                    {4ull << 30, 1ull << 30, fake_host(0x7f1000000000)}};
  auto slots = memory_slots_for(regions, 32);
  ASSERT_EQ(slots.size(), 2u);
  EXPECT_EQ(slots[0].slot, 0u);
  EXPECT_EQ(slots[0].guest_phys_addr, 0u);
  EXPECT_EQ(slots[0].memory_size, 3ull << 30);
  EXPECT_EQ(slots[0].userspace_addr, 0x7f0000000000u);
  EXPECT_EQ(slots[1].slot, 1u);
  EXPECT_EQ(slots[1].guest_phys_addr, 4ull << 30);
  EXPECT_EQ(slots[1].memory_size, 1ull << 30);
  EXPECT_EQ(slots[1].userspace_addr, 0x7f1000000000u);
}

TEST(MemorySlots, RejectsUnalignedRegions) {
  std::vector<RamRegion> bad_gpa = {{0x800, 0x1000, fake_host(0x10000)}};
  EXPECT_THROW(memory_slots_for(bad_gpa, 32), Error);
  std::vector<RamRegion> bad_size = {{0, 0x1800, fake_host(0x10000)}};
  EXPECT_THROW(memory_slots_for(bad_size, 32), Error);
  std::vector<RamRegion> bad_host = {{0, 0x1000, fake_host(0x10010)}};
  EXPECT_THROW(memory_slots_for(bad_host, 32), Error);
}

TEST(MemorySlots, RejectsRamOverKvmPrivatePages) {
  // RAM running up to 4 GiB would cover the TSS and identity map.
  std::vector<RamRegion> regions = {{0, 4ull << 30, fake_host(0x7f0000000000)}};
  try {
    memory_slots_for(regions, 32);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("TSS"), std::string::npos) << e.what();
  }
}

TEST(MemorySlots, RejectsTooManyRegions) {
  std::vector<RamRegion> regions = {{0, 0x1000, fake_host(0x10000)},
                                    {0x2000, 0x1000, fake_host(0x20000)}};
  EXPECT_THROW(memory_slots_for(regions, 1), Error);
  EXPECT_EQ(memory_slots_for(regions, 2).size(), 2u);
}

}  // namespace
}  // namespace tandem::kvm
