// Where RAM goes on the x86 machine, and the checks on the machine's size that come before
// anything is built. Pure functions, unit-tested.
//
// Guest-physical layout (like QEMU's pc/q35 with -m):
//   [0, min(mem, 3 GiB))              RAM ("below 4G")
//   [3 GiB, 4 GiB)                    32-bit MMIO hole: IOAPIC 0xfec00000, LAPIC 0xfee00000,
//                                     tandem-testdev 0xfe000000, virtio-mmio 0xfeb00000 + 0x200 * i
//                                     (x86_virtio.h), KVM's TSS/identity map pages
//   [4 GiB, 4 GiB + mem - 3 GiB)      the rest of RAM ("above 4G"), if mem > 3 GiB
#pragma once

#include <cstdint>

#include "machine/machine_config.h"
#include "memory/guest_ram.h"

namespace tandem::x86 {

inline constexpr uint64_t kMmioHoleStart = 3ull << 30;
inline constexpr uint64_t kHighRamStart = 4ull << 30;
inline constexpr uint64_t kMinMemory = 16ull << 20;
// xAPIC ids, the MP table and ACPI's local APIC entries top out at 255 processors.
inline constexpr unsigned kMaxCpus = 255;

struct RamLayout {
  uint64_t below_4g = 0;
  uint64_t above_4g = 0;
};

RamLayout ram_layout(uint64_t memory_bytes);
// Adds the layout's regions to `ram`.
void add_ram_regions(GuestRam& ram, const RamLayout& layout);

// What the host offers; the machine reads these from the system and KVM.
struct HostLimits {
  uint64_t ram_bytes = 0;
  unsigned max_vcpus = 0;
};
HostLimits host_limits(unsigned kvm_max_vcpus);

// Throws Error with a one-line message naming the problem: accelerator, memory size, CPU count,
// kernel. (The machine kind is checked by run_machine.)
void validate_config(const MachineConfig& config, const HostLimits& host);

}  // namespace tandem::x86
