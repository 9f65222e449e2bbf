// The CPUID a vCPU sees: KVM_GET_SUPPORTED_CPUID adjusted for that vCPU. Pure (no ioctls), so
// it is unit-tested against hand-made supported lists.
//
// Topology: `cpus` vCPUs are cores of one package, one thread per core; vCPU i has APIC id i.
// Adjusted leaves: 1 (initial APIC id, logical count, HTT, hypervisor bit), 4 (cores/cache
// sharing), 0xB and 0x1F (x2APIC topology; 0x1F only if the host lists it), 0x80000008 and
// 0x8000001E on AMD, and the KVM leaves 0x40000000 (signature), 0x40000001 (paravirt features,
// kvmclock among them) and 0x40000010 (TSC and APIC-bus frequency in kHz, when tsc_khz != 0).
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <span>
#include <vector>

namespace tandem::kvm {

// KVM paravirtual features Tandem offers (when KVM supports them): kvmclock (both MSR sets and
// the stable bit), no-op port-0x80 delay, async page faults, steal time, PV EOI, PV TLB flush,
// PV IPIs, poll control, PV sched-yield. Not offered: features that need user-space support
// Tandem lacks (MSI extended destination ids, GPA-range hypercalls, migration control).
uint32_t offered_kvm_features(uint32_t supported);

std::vector<kvm_cpuid_entry2> vcpu_cpuid(std::span<const kvm_cpuid_entry2> supported,
                                         unsigned cpu_index, unsigned cpus, uint32_t tsc_khz);

// Lookup helper: the entry for (function, index), or nullptr.
const kvm_cpuid_entry2* find_cpuid(std::span<const kvm_cpuid_entry2> entries, uint32_t function,
                                   uint32_t index = 0);

}  // namespace tandem::kvm
