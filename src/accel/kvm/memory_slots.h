// KVM memory slots from guest RAM regions. The machine lays RAM out (on x86 around the 32-bit
// MMIO hole); each RamRegion becomes one slot. Pure, so the checks are unit-testable.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <span>
#include <vector>

#include "memory/guest_ram.h"

namespace tandem::kvm {

// Guest-physical pages KVM needs for itself on Intel (VMX): the real-mode TSS (3 pages) and the
// EPT identity-map page table (1 page), just below the 4 GiB BIOS area like QEMU places them.
constexpr uint64_t kTssAddr = 0xfffbd000;
constexpr uint64_t kIdentityMapAddr = 0xfffbc000;
constexpr uint64_t kKvmPrivateBase = kIdentityMapAddr;
constexpr uint64_t kKvmPrivateEnd = kTssAddr + 3 * 4096;

// One slot per region, numbered from 0. Throws Error if a region is not page aligned, would
// overlap KVM's private pages, or there are more regions than `max_slots`.
std::vector<kvm_userspace_memory_region> memory_slots_for(std::span<const RamRegion> regions,
                                                          unsigned max_slots);

}  // namespace tandem::kvm
