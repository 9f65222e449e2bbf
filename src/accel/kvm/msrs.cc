#include "accel/kvm/msrs.h"

#include <algorithm>

namespace tandem::kvm {

std::vector<kvm_msr_entry> boot_msrs(std::span<const uint32_t> supported) {
  struct Wanted {
    uint32_t index;
    uint64_t value;
  };
  // TSC 0 on every vCPU: KVM recognises writes close in time as one synchronised TSC.
  const Wanted wanted[] = {
      {msr::kSysenterCs, 0},
      {msr::kSysenterEsp, 0},
      {msr::kSysenterEip, 0},
      {msr::kStar, 0},
      {msr::kLstar, 0},
      {msr::kCstar, 0},
      {msr::kSyscallMask, 0},
      {msr::kKernelGsBase, 0},
      {msr::kTsc, 0},
      {msr::kMiscEnable, msr::kMiscEnableFastStrings},
      {msr::kMtrrDefType, msr::kMtrrDefTypeEnabledWriteBack},
  };
  std::vector<kvm_msr_entry> out;
  for (const auto& w : wanted) {
    if (std::find(supported.begin(), supported.end(), w.index) == supported.end()) continue;
    kvm_msr_entry e{};
    e.index = w.index;
    e.data = w.value;
    out.push_back(e);
  }
  return out;
}

}  // namespace tandem::kvm
