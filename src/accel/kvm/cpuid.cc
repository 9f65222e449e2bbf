#include "accel/kvm/cpuid.h"

#include <algorithm>
#include <bit>
#include <cstring>

namespace tandem::kvm {

namespace {

// KVM paravirt feature bits (CPUID 0x40000001 EAX), from the KVM API documentation.
constexpr uint32_t kKvmFeatureClocksource = 1u << 0;
constexpr uint32_t kKvmFeatureNopIoDelay = 1u << 1;
constexpr uint32_t kKvmFeatureClocksource2 = 1u << 3;
constexpr uint32_t kKvmFeatureAsyncPf = 1u << 4;
constexpr uint32_t kKvmFeatureStealTime = 1u << 5;
constexpr uint32_t kKvmFeaturePvEoi = 1u << 6;
constexpr uint32_t kKvmFeaturePvTlbFlush = 1u << 9;
constexpr uint32_t kKvmFeatureAsyncPfVmexit = 1u << 10;
constexpr uint32_t kKvmFeaturePvSendIpi = 1u << 11;
constexpr uint32_t kKvmFeaturePollControl = 1u << 12;
constexpr uint32_t kKvmFeaturePvSchedYield = 1u << 13;
constexpr uint32_t kKvmFeatureAsyncPfInt = 1u << 14;
constexpr uint32_t kKvmFeatureClocksourceStable = 1u << 24;

constexpr uint32_t kKvmSignatureLeaf = 0x40000000;
constexpr uint32_t kKvmFeaturesLeaf = 0x40000001;
constexpr uint32_t kTimingLeaf = 0x40000010;

// Bits needed to number `n` items (0 for n <= 1).
uint32_t id_bits(unsigned n) {
  return n <= 1 ? 0 : std::bit_width(n - 1);
}

bool is_amd(std::span<const kvm_cpuid_entry2> entries) {
  const kvm_cpuid_entry2* leaf0 = find_cpuid(entries, 0);
  if (!leaf0) return false;
  // "AuthenticAMD" and Hygon's "HygonGenuine" share AMD's topology leaves.
  return leaf0->ebx == 0x68747541 || leaf0->ebx == 0x6f677948;
}

kvm_cpuid_entry2 make_entry(uint32_t function, uint32_t index, uint32_t flags, uint32_t eax,
                            uint32_t ebx, uint32_t ecx, uint32_t edx) {
  kvm_cpuid_entry2 e{};
  e.function = function;
  e.index = index;
  e.flags = flags;
  e.eax = eax;
  e.ebx = ebx;
  e.ecx = ecx;
  e.edx = edx;
  return e;
}

// Replaces every subleaf of an x2APIC topology leaf (0xB or 0x1F) with: SMT level (1 thread
// per core), core level (`cpus` cores), then the invalid terminator level.
void set_topology_leaf(std::vector<kvm_cpuid_entry2>& out, uint32_t leaf, unsigned cpu_index,
                       unsigned cpus) {
  std::erase_if(out, [leaf](const kvm_cpuid_entry2& e) { return e.function == leaf; });
  constexpr uint32_t kSig = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
  constexpr uint32_t kLevelSmt = 1, kLevelCore = 2;
  out.push_back(make_entry(leaf, 0, kSig, 0, 1, (kLevelSmt << 8) | 0, cpu_index));
  out.push_back(make_entry(leaf, 1, kSig, id_bits(cpus), cpus, (kLevelCore << 8) | 1, cpu_index));
  out.push_back(make_entry(leaf, 2, kSig, 0, 0, 2, cpu_index));
}

}  // namespace

uint32_t offered_kvm_features(uint32_t supported) {
  constexpr uint32_t kOffered =
      kKvmFeatureClocksource | kKvmFeatureNopIoDelay | kKvmFeatureClocksource2 |
      kKvmFeatureAsyncPf | kKvmFeatureStealTime | kKvmFeaturePvEoi | kKvmFeaturePvTlbFlush |
      kKvmFeatureAsyncPfVmexit | kKvmFeaturePvSendIpi | kKvmFeaturePollControl |
      kKvmFeaturePvSchedYield | kKvmFeatureAsyncPfInt | kKvmFeatureClocksourceStable;
  return supported & kOffered;
}

const kvm_cpuid_entry2* find_cpuid(std::span<const kvm_cpuid_entry2> entries, uint32_t function,
                                   uint32_t index) {
  for (const auto& e : entries) {
    if (e.function != function) continue;
    if ((e.flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) && e.index != index) continue;
    return &e;
  }
  return nullptr;
}

std::vector<kvm_cpuid_entry2> vcpu_cpuid(std::span<const kvm_cpuid_entry2> supported,
                                         unsigned cpu_index, unsigned cpus, uint32_t tsc_khz) {
  std::vector<kvm_cpuid_entry2> out(supported.begin(), supported.end());
  const uint32_t apic_id = cpu_index;
  const uint32_t core_bits = id_bits(cpus);
  const bool amd = is_amd(supported);
  const kvm_cpuid_entry2* leaf0 = find_cpuid(supported, 0);
  const uint32_t max_basic = leaf0 ? leaf0->eax : 0;
  bool has_leaf_b = false, has_leaf_1f = false;

  for (auto& e : out) {
    switch (e.function) {
      case 1:
        // EBX[31:24] initial APIC id, EBX[23:16] addressable logical processor ids.
        e.ebx = (e.ebx & 0x0000ffff) | (apic_id << 24) | (std::min(1u << core_bits, 255u) << 16);
        if (cpus > 1) {
          e.edx |= 1u << 28;  // HTT: EBX[23:16] is valid
        } else {
          e.edx &= ~(1u << 28);
        }
        e.ecx |= 1u << 31;  // running under a hypervisor
        break;
      case 4: {
        // Deterministic cache parameters (Intel): EAX[31:26] cores per package - 1,
        // EAX[25:14] logical processors sharing the cache - 1. L1/L2 per core, L3 shared.
        uint32_t type = e.eax & 0x1f;
        if (type == 0) break;
        uint32_t level = (e.eax >> 5) & 0x7;
        uint32_t sharing = level >= 3 ? (1u << core_bits) - 1 : 0;
        uint32_t cores = std::min((1u << core_bits) - 1, 63u);
        e.eax = (e.eax & 0x3fff) | ((sharing & 0xfff) << 14) | (cores << 26);
        break;
      }
      case 0xb:
        has_leaf_b = true;
        break;
      case 0x1f:
        has_leaf_1f = true;
        break;
      case 0x80000008:
        if (amd) {
          // ECX[7:0] cores - 1, ECX[15:12] APIC id bits for the core id.
          e.ecx = (e.ecx & ~0xf0ffu) | (core_bits << 12) | ((cpus - 1) & 0xff);
        }
        break;
      case 0x8000001e:
        if (amd) {
          e.eax = apic_id;                                  // extended APIC id
          e.ebx = (e.ebx & ~0xffffu) | (cpu_index & 0xff);  // core id; 1 thread per core
          e.ecx &= ~0x7ffu;                                 // node 0, one node per package
        }
        break;
      default:
        break;
    }
  }
  if (has_leaf_b && max_basic >= 0xb) set_topology_leaf(out, 0xb, cpu_index, cpus);
  if (has_leaf_1f && max_basic >= 0x1f) set_topology_leaf(out, 0x1f, cpu_index, cpus);

  // KVM's own leaves: signature "KVMKVMKVM\0\0\0", features, and the timing leaf.
  const kvm_cpuid_entry2* kvm_features = find_cpuid(supported, kKvmFeaturesLeaf);
  uint32_t features = offered_kvm_features(kvm_features ? kvm_features->eax : 0);
  std::erase_if(out, [](const kvm_cpuid_entry2& e) {
    return e.function >= kKvmSignatureLeaf && e.function <= kTimingLeaf;
  });
  uint32_t max_kvm_leaf = tsc_khz ? kTimingLeaf : kKvmFeaturesLeaf;
  out.push_back(
      make_entry(kKvmSignatureLeaf, 0, 0, max_kvm_leaf, 0x4b4d564b, 0x564b4d56, 0x0000004d));
  out.push_back(make_entry(kKvmFeaturesLeaf, 0, 0, features, 0, 0, 0));
  if (tsc_khz) {
    // EBX: the local APIC timer's bus frequency; KVM's in-kernel LAPIC ticks at 1 GHz.
    out.push_back(make_entry(kTimingLeaf, 0, 0, tsc_khz, 1000000, 0, 0));
  }
  return out;
}

}  // namespace tandem::kvm
