#include "accel/kvm/kvm_vm.h"

#include <sys/ioctl.h>

#include "accel/kvm/kvm_vcpu.h"
#include "accel/kvm/memory_slots.h"
#include "base/error.h"

namespace tandem::kvm {

KvmVm::KvmVm(const KvmSystem& system) : system_(system) {
  // Type 0: the default VM type on x86.
  fd_.reset(ioctl_or_throw(system.fd(), KVM_CREATE_VM, 0ul, "KVM_CREATE_VM"));
}

KvmVm::~KvmVm() = default;

int KvmVm::check_extension(long cap) const {
  if (system_.check_extension(KVM_CAP_CHECK_EXTENSION_VM) > 0) {
    int ret = ::ioctl(fd_.get(), KVM_CHECK_EXTENSION, cap);
    return ret < 0 ? 0 : ret;
  }
  return system_.check_extension(cap);
}

void KvmVm::map_ram(const GuestRam& ram) {
  int nslots = check_extension(KVM_CAP_NR_MEMSLOTS);
  if (nslots <= 0) nslots = 32;
  for (const auto& slot : memory_slots_for(ram.regions(), static_cast<unsigned>(nslots))) {
    set_memory_slot(slot);
  }
}

void KvmVm::set_memory_slot(const kvm_userspace_memory_region& slot) {
  auto copy = slot;
  if (::ioctl(fd_.get(), KVM_SET_USER_MEMORY_REGION, &copy) < 0) {
    fail_errno("KVM_SET_USER_MEMORY_REGION slot {} [{:#x}, {:#x})", slot.slot, slot.guest_phys_addr,
               slot.guest_phys_addr + slot.memory_size);
  }
}

void KvmVm::set_tss_addr(uint64_t addr) {
  ioctl_or_throw(fd_.get(), KVM_SET_TSS_ADDR, static_cast<unsigned long>(addr), "KVM_SET_TSS_ADDR");
}

void KvmVm::set_identity_map_addr(uint64_t addr) {
  uint64_t a = addr;
  ioctl_or_throw(fd_.get(), KVM_SET_IDENTITY_MAP_ADDR, &a, "KVM_SET_IDENTITY_MAP_ADDR");
}

void KvmVm::create_irqchip() {
  ioctl_or_throw(fd_.get(), KVM_CREATE_IRQCHIP, 0ul, "KVM_CREATE_IRQCHIP");
  irqchip_ = true;
}

void KvmVm::create_pit2() {
  kvm_pit_config config{};
  // KVM also answers port 0x61 (speaker gate / PIT channel 2 output), which Linux polls to
  // calibrate the TSC against the PIT; Tandem has no speaker of its own.
  config.flags = KVM_PIT_SPEAKER_DUMMY;
  ioctl_or_throw(fd_.get(), KVM_CREATE_PIT2, &config, "KVM_CREATE_PIT2");
}

void KvmVm::set_irq_line(uint32_t gsi, bool level) const {
  kvm_irq_level irq{};
  irq.irq = gsi;
  irq.level = level ? 1 : 0;
  if (::ioctl(fd_.get(), KVM_IRQ_LINE, &irq) < 0) fail_errno("KVM_IRQ_LINE gsi {}", gsi);
}

std::unique_ptr<KvmVcpu> KvmVm::create_vcpu(unsigned id) const {
  return std::make_unique<KvmVcpu>(*this, id);
}

}  // namespace tandem::kvm
