// The MSR values a vCPU boots with, filtered against what KVM says it can save and restore
// (KVM_GET_MSR_INDEX_LIST): this host refuses some MSRs, and setting an unlisted one fails.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <span>
#include <vector>

namespace tandem::kvm {

namespace msr {
constexpr uint32_t kTsc = 0x10;
constexpr uint32_t kSysenterCs = 0x174;
constexpr uint32_t kSysenterEsp = 0x175;
constexpr uint32_t kSysenterEip = 0x176;
constexpr uint32_t kMiscEnable = 0x1a0;
constexpr uint32_t kMtrrDefType = 0x2ff;
constexpr uint32_t kArchCapabilities = 0x10a;
constexpr uint32_t kStar = 0xc0000081;
constexpr uint32_t kLstar = 0xc0000082;
constexpr uint32_t kCstar = 0xc0000083;
constexpr uint32_t kSyscallMask = 0xc0000084;
constexpr uint32_t kKernelGsBase = 0xc0000102;

constexpr uint64_t kMiscEnableFastStrings = 1;
// MTRRs enabled, default memory type write-back: there is no firmware to program them, and
// Linux treats "MTRRs disabled" as all-uncached.
constexpr uint64_t kMtrrDefTypeEnabledWriteBack = (1u << 11) | 6;
}  // namespace msr

// Boot values for the MSRs Tandem sets, keeping only those in `supported` (in this order:
// SYSENTER_*, STAR/LSTAR/CSTAR/SFMASK, KERNEL_GS_BASE, TSC, MISC_ENABLE, MTRR_DEF_TYPE).
std::vector<kvm_msr_entry> boot_msrs(std::span<const uint32_t> supported);

}  // namespace tandem::kvm
