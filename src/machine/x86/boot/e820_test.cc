#include "machine/x86/boot/e820.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "machine/x86/boot/boot_test_util.h"

namespace tandem::x86 {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

constexpr uint64_t kMiB = 1ull << 20, kGiB = 1ull << 30;

TEST(E820Test, LowRamOnly) {
  auto ram = testing::make_ram(512 * kMiB);
  EXPECT_THAT(e820_map(*ram), ElementsAre(E820Entry{0, 0x9fc00, kE820Ram},
                                          E820Entry{0x9fc00, 0x60400, kE820Reserved},
                                          E820Entry{0x100000, 511 * kMiB, kE820Ram}));
  EXPECT_EQ(low_ram_end(*ram), 512 * kMiB);
}

TEST(E820Test, RamSplitAroundThePciHole) {
  auto ram = testing::make_ram(8 * kGiB);
  EXPECT_THAT(e820_map(*ram), ElementsAre(E820Entry{0, 0x9fc00, kE820Ram},
                                          E820Entry{0x9fc00, 0x60400, kE820Reserved},
                                          E820Entry{0x100000, 3 * kGiB - kMiB, kE820Ram},
                                          E820Entry{4 * kGiB, 5 * kGiB, kE820Ram}));
  EXPECT_EQ(low_ram_end(*ram), 3 * kGiB);
}

TEST(E820Test, NeedsLowMemory) {
  GuestRam none;
  none.add_region(1 * kGiB, 16 * kMiB);
  EXPECT_THAT([&] { e820_map(none); }, ThrowsMessage<Error>(HasSubstr("no region at address 0")));
  GuestRam tiny;
  tiny.add_region(0, 512 * 1024);
  EXPECT_THAT([&] { e820_map(tiny); }, ThrowsMessage<Error>(HasSubstr("at least 1 MiB")));
}

}  // namespace
}  // namespace tandem::x86
