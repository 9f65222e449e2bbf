#include "accel/kvm/memory_slots.h"

#include "base/error.h"

namespace tandem::kvm {

std::vector<kvm_userspace_memory_region> memory_slots_for(std::span<const RamRegion> regions,
                                                          unsigned max_slots) {
  constexpr uint64_t kPage = 4096;
  if (regions.size() > max_slots) {
    fail("guest RAM has {} regions but KVM offers only {} memory slots", regions.size(), max_slots);
  }
  std::vector<kvm_userspace_memory_region> slots;
  for (size_t i = 0; i < regions.size(); ++i) {
    const RamRegion& r = regions[i];
    if (r.gpa % kPage || r.size % kPage || reinterpret_cast<uintptr_t>(r.host) % kPage) {
      fail("guest RAM region [{:#x}, {:#x}) is not page aligned", r.gpa, r.gpa + r.size);
    }
    if (r.gpa < kKvmPrivateEnd && kKvmPrivateBase < r.gpa + r.size) {
      fail("guest RAM region [{:#x}, {:#x}) overlaps KVM's TSS/identity-map pages at {:#x}", r.gpa,
           r.gpa + r.size, kKvmPrivateBase);
    }
    kvm_userspace_memory_region slot{};
    slot.slot = static_cast<uint32_t>(i);
    slot.flags = 0;
    slot.guest_phys_addr = r.gpa;
    slot.memory_size = r.size;
    slot.userspace_addr = reinterpret_cast<uint64_t>(r.host);
    slots.push_back(slot);
  }
  return slots;
}

}  // namespace tandem::kvm
