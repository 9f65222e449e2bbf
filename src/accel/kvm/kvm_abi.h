// C++-safe layouts for KVM's variable-length ioctl structures.
//
// Recent <linux/kvm.h> declares their trailing arrays with __DECLARE_FLEX_ARRAY, which wraps
// the array in a struct holding an empty struct. An empty struct has size 0 in C but 1 in C++,
// so in C++ `struct kvm_cpuid2` grows from 8 to 12 bytes, its entries move, and the ioctl
// numbers (which encode sizeof) change: KVM_GET_SUPPORTED_CPUID then fails with EINVAL. These
// headers and ioctl numbers have the C layout; each entry array starts right after the header.
#pragma once

#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <cstdint>

namespace tandem::kvm::abi {

struct Cpuid2Header {  // followed by kvm_cpuid_entry2[nent]
  uint32_t nent;
  uint32_t padding;
};
struct MsrsHeader {  // followed by kvm_msr_entry[nmsrs]
  uint32_t nmsrs;
  uint32_t pad;
};
struct MsrListHeader {  // followed by uint32_t[nmsrs]
  uint32_t nmsrs;
};
struct SignalMaskHeader {  // followed by `len` bytes of kernel sigset
  uint32_t len;
};

inline constexpr unsigned long kGetSupportedCpuid = _IOWR(KVMIO, 0x05, Cpuid2Header);
inline constexpr unsigned long kSetCpuid2 = _IOW(KVMIO, 0x90, Cpuid2Header);
inline constexpr unsigned long kGetMsrIndexList = _IOWR(KVMIO, 0x02, MsrListHeader);
inline constexpr unsigned long kGetMsrs = _IOWR(KVMIO, 0x88, MsrsHeader);
inline constexpr unsigned long kSetMsrs = _IOW(KVMIO, 0x89, MsrsHeader);
inline constexpr unsigned long kSetSignalMask = _IOW(KVMIO, 0x8b, SignalMaskHeader);

// The values from the KVM API (as a C compiler computes them from <linux/kvm.h>).
static_assert(kGetSupportedCpuid == 0xc008ae05);
static_assert(kSetCpuid2 == 0x4008ae90);
static_assert(kGetMsrIndexList == 0xc004ae02);
static_assert(kGetMsrs == 0xc008ae88);
static_assert(kSetMsrs == 0x4008ae89);
static_assert(kSetSignalMask == 0x4004ae8b);
static_assert(sizeof(kvm_cpuid_entry2) == 40 && sizeof(kvm_msr_entry) == 16);

}  // namespace tandem::kvm::abi
