#include "accel/kvm/msrs.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace tandem::kvm {
namespace {

const kvm_msr_entry* find(const std::vector<kvm_msr_entry>& v, uint32_t index) {
  auto it = std::find_if(v.begin(), v.end(), [&](const auto& e) { return e.index == index; });
  return it == v.end() ? nullptr : &*it;
}

TEST(Msrs, KeepsOnlyListedMsrs) {
  // A host that lists neither MTRR_DEF_TYPE nor CSTAR.
  std::vector<uint32_t> list = {
      msr::kTsc,   msr::kSysenterCs,  msr::kSysenterEsp,  msr::kSysenterEip, msr::kStar,
      msr::kLstar, msr::kSyscallMask, msr::kKernelGsBase, msr::kMiscEnable,  msr::kArchCapabilities,
      0x4b564d01};
  auto msrs = boot_msrs(list);
  EXPECT_EQ(msrs.size(), 9u);
  EXPECT_EQ(find(msrs, msr::kMtrrDefType), nullptr);
  EXPECT_EQ(find(msrs, msr::kCstar), nullptr);
  // Listed but never set by Tandem.
  EXPECT_EQ(find(msrs, msr::kArchCapabilities), nullptr);
  EXPECT_EQ(find(msrs, 0x4b564d01u), nullptr);
  ASSERT_NE(find(msrs, msr::kMiscEnable), nullptr);
  EXPECT_EQ(find(msrs, msr::kMiscEnable)->data, 1u);
  EXPECT_EQ(find(msrs, msr::kLstar)->data, 0u);
  EXPECT_EQ(find(msrs, msr::kTsc)->data, 0u);
}

TEST(Msrs, MtrrDefaultIsEnabledWriteBack) {
  std::vector<uint32_t> list = {msr::kMtrrDefType};
  auto msrs = boot_msrs(list);
  ASSERT_EQ(msrs.size(), 1u);
  EXPECT_EQ(msrs[0].data, 0x806u);  // E (bit 11), default type 6 (WB)
}

TEST(Msrs, EmptyListSetsNothing) {
  EXPECT_TRUE(boot_msrs({}).empty());
}

}  // namespace
}  // namespace tandem::kvm
