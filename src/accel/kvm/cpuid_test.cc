#include "accel/kvm/cpuid.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace tandem::kvm {
namespace {

kvm_cpuid_entry2 entry(uint32_t fn, uint32_t idx, uint32_t eax, uint32_t ebx, uint32_t ecx,
                       uint32_t edx, bool indexed = false) {
  kvm_cpuid_entry2 e{};
  e.function = fn;
  e.index = idx;
  e.flags = indexed ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0;
  e.eax = eax;
  e.ebx = ebx;
  e.ecx = ecx;
  e.edx = edx;
  return e;
}

// A host-like supported list: "GenuineIntel", leaf 1 with the host's own APIC id 0x17 and
// 16 logical processors, three caches, host topology leaves for 8 threads, KVM leaves.
std::vector<kvm_cpuid_entry2> intel_supported() {
  return {
      entry(0, 0, 0x1f, 0x756e6547, 0x6c65746e, 0x49656e69),
      entry(1, 0, 0x000906ea, 0x17100800, 0x7ffafbff, 0x0fabfbff),
      entry(4, 0, (3u << 26) | (1u << 14) | (1 << 5) | 1, 0x1c0003f, 0x3f, 0, true),
      entry(4, 1, (3u << 26) | (1u << 14) | (2 << 5) | 3, 0x1c0003f, 0x3ff, 0, true),
      entry(4, 2, (3u << 26) | (15u << 14) | (3 << 5) | 3, 0x3c0003f, 0x3fff, 0, true),
      entry(4, 3, 0, 0, 0, 0, true),
      entry(0xb, 0, 1, 2, 0x100, 0x17, true),
      entry(0xb, 1, 4, 16, 0x201, 0x17, true),
      entry(0x1f, 0, 1, 2, 0x100, 0x17, true),
      entry(0x1f, 1, 4, 16, 0x201, 0x17, true),
      entry(0x40000000, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d),
      entry(0x40000001, 0, 0xffffffff, 0, 0, 0),
      entry(0x80000008, 0, 0x3027, 0, 0x1234, 0),
  };
}

TEST(Cpuid, Leaf1CarriesApicIdHypervisorBitAndLogicalCount) {
  auto sup = intel_supported();
  auto out = vcpu_cpuid(sup, 3, 4, 0);
  const auto* l1 = find_cpuid(out, 1);
  ASSERT_NE(l1, nullptr);
  EXPECT_EQ(l1->ebx >> 24, 3u);
  EXPECT_EQ((l1->ebx >> 16) & 0xff, 4u);
  EXPECT_EQ(l1->ebx & 0xffff, 0x0800u);  // CLFLUSH size and brand index kept
  EXPECT_TRUE(l1->ecx & (1u << 31));
  EXPECT_TRUE(l1->edx & (1u << 28));
  EXPECT_EQ(l1->eax, 0x000906eau);

  auto single = vcpu_cpuid(sup, 0, 1, 0);
  const auto* s1 = find_cpuid(single, 1);
  EXPECT_EQ(s1->ebx >> 24, 0u);
  EXPECT_FALSE(s1->edx & (1u << 28));
}

TEST(Cpuid, LogicalCountRoundsUpToPowerOfTwo) {
  auto out = vcpu_cpuid(intel_supported(), 5, 6, 0);
  EXPECT_EQ((find_cpuid(out, 1)->ebx >> 16) & 0xff, 8u);
}

TEST(Cpuid, TopologyLeavesDescribeNCoresWithX2ApicId) {
  for (uint32_t leaf : {0xbu, 0x1fu}) {
    auto out = vcpu_cpuid(intel_supported(), 2, 3, 0);
    const auto* smt = find_cpuid(out, leaf, 0);
    const auto* core = find_cpuid(out, leaf, 1);
    const auto* end = find_cpuid(out, leaf, 2);
    ASSERT_TRUE(smt && core && end) << std::hex << leaf;
    EXPECT_EQ(smt->eax, 0u);
    EXPECT_EQ(smt->ebx, 1u);
    EXPECT_EQ((smt->ecx >> 8) & 0xff, 1u);
    EXPECT_EQ(smt->edx, 2u);
    EXPECT_EQ(core->eax, 2u);  // 3 cores need 2 APIC id bits
    EXPECT_EQ(core->ebx, 3u);
    EXPECT_EQ((core->ecx >> 8) & 0xff, 2u);
    EXPECT_EQ(core->ecx & 0xff, 1u);
    EXPECT_EQ(core->edx, 2u);
    EXPECT_EQ((end->ecx >> 8) & 0xff, 0u);
    int count = 0;
    for (const auto& e : out) count += e.function == leaf;
    EXPECT_EQ(count, 3);
  }
}

TEST(Cpuid, CacheLeafMatchesCoreCount) {
  auto out = vcpu_cpuid(intel_supported(), 0, 4, 0);
  const auto* l1d = find_cpuid(out, 4, 0);
  const auto* l3 = find_cpuid(out, 4, 2);
  EXPECT_EQ(l1d->eax >> 26, 3u);
  EXPECT_EQ((l1d->eax >> 14) & 0xfff, 0u);
  EXPECT_EQ((l3->eax >> 14) & 0xfff, 3u);
  EXPECT_EQ(l3->eax & 0x3fff, (3u << 5) | 3u);
  EXPECT_EQ(find_cpuid(out, 4, 3)->eax, 0u);
}

TEST(Cpuid, KvmLeavesWithTscFrequency) {
  auto out = vcpu_cpuid(intel_supported(), 0, 1, 2'500'000);
  const auto* sig = find_cpuid(out, 0x40000000);
  ASSERT_NE(sig, nullptr);
  EXPECT_EQ(sig->eax, 0x40000010u);
  char name[13] = {};
  std::memcpy(name, &sig->ebx, 4);
  std::memcpy(name + 4, &sig->ecx, 4);
  std::memcpy(name + 8, &sig->edx, 4);
  EXPECT_STREQ(name, "KVMKVMKVM");
  const auto* feat = find_cpuid(out, 0x40000001);
  EXPECT_EQ(feat->eax, offered_kvm_features(0xffffffff));
  EXPECT_TRUE(feat->eax & (1u << 3));    // kvmclock (new MSRs)
  EXPECT_TRUE(feat->eax & (1u << 24));   // clocksource stable bit
  EXPECT_FALSE(feat->eax & (1u << 15));  // MSI extended dest id: not offered
  const auto* timing = find_cpuid(out, 0x40000010);
  ASSERT_NE(timing, nullptr);
  EXPECT_EQ(timing->eax, 2'500'000u);
  EXPECT_EQ(timing->ebx, 1'000'000u);
}

TEST(Cpuid, NoTimingLeafWithoutTscFrequency) {
  auto out = vcpu_cpuid(intel_supported(), 0, 1, 0);
  EXPECT_EQ(find_cpuid(out, 0x40000000)->eax, 0x40000001u);
  EXPECT_EQ(find_cpuid(out, 0x40000010), nullptr);
}

TEST(Cpuid, KvmFeaturesOnlyWhatKvmSupports) {
  auto sup = intel_supported();
  for (auto& e : sup) {
    if (e.function == 0x40000001) e.eax = 1u << 3;
  }
  auto out = vcpu_cpuid(sup, 0, 1, 0);
  EXPECT_EQ(find_cpuid(out, 0x40000001)->eax, 1u << 3);
}

TEST(Cpuid, IntelLeaves80000008Untouched) {
  auto out = vcpu_cpuid(intel_supported(), 1, 2, 0);
  EXPECT_EQ(find_cpuid(out, 0x80000008)->ecx, 0x1234u);
}

TEST(Cpuid, AmdCoreCountAndExtendedApicId) {
  std::vector<kvm_cpuid_entry2> sup = {
      entry(0, 0, 0x10, 0x68747541, 0x444d4163, 0x69746e65),
      entry(1, 0, 0x00a20f10, 0x00100800, 0x7ed8320b, 0x178bfbff),
      entry(0x80000008, 0, 0x3030, 0, 0x700f, 0),
      entry(0x8000001e, 0, 0x11, 0x105, 0x301, 0),
  };
  auto out = vcpu_cpuid(sup, 5, 6, 0);
  const auto* l8 = find_cpuid(out, 0x80000008);
  EXPECT_EQ(l8->ecx & 0xff, 5u);
  EXPECT_EQ((l8->ecx >> 12) & 0xf, 3u);
  const auto* l1e = find_cpuid(out, 0x8000001e);
  EXPECT_EQ(l1e->eax, 5u);
  EXPECT_EQ(l1e->ebx & 0xffff, 5u);
  EXPECT_EQ(l1e->ecx & 0x7ff, 0u);
  // Max basic leaf 0x10: no topology leaf is invented.
  EXPECT_EQ(find_cpuid(out, 0xb), nullptr);
}

}  // namespace
}  // namespace tandem::kvm
