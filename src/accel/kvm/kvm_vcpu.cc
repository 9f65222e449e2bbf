#include "accel/kvm/kvm_vcpu.h"

#include <sys/ioctl.h>

#include <cstring>

#include "accel/kvm/kvm_abi.h"
#include "accel/kvm/kvm_vm.h"
#include "base/error.h"

namespace tandem::kvm {

KvmVcpu::KvmVcpu(const KvmVm& vm, unsigned id) : id_(id) {
  int fd = ::ioctl(vm.fd(), KVM_CREATE_VCPU, static_cast<unsigned long>(id));
  if (fd < 0) fail_errno("KVM_CREATE_VCPU {}", id);
  fd_.reset(fd);
  run_ = Mapping::file(fd_.get(), vm.system().vcpu_mmap_size(), PROT_READ | PROT_WRITE, MAP_SHARED);
}

kvm_regs KvmVcpu::get_regs() const {
  kvm_regs regs{};
  ioctl_or_throw(fd_.get(), KVM_GET_REGS, &regs, "KVM_GET_REGS");
  return regs;
}

void KvmVcpu::set_regs(const kvm_regs& regs) {
  auto copy = regs;
  ioctl_or_throw(fd_.get(), KVM_SET_REGS, &copy, "KVM_SET_REGS");
}

kvm_sregs KvmVcpu::get_sregs() const {
  kvm_sregs sregs{};
  ioctl_or_throw(fd_.get(), KVM_GET_SREGS, &sregs, "KVM_GET_SREGS");
  return sregs;
}

void KvmVcpu::set_sregs(const kvm_sregs& sregs) {
  auto copy = sregs;
  ioctl_or_throw(fd_.get(), KVM_SET_SREGS, &copy, "KVM_SET_SREGS");
}

kvm_fpu KvmVcpu::get_fpu() const {
  kvm_fpu fpu{};
  ioctl_or_throw(fd_.get(), KVM_GET_FPU, &fpu, "KVM_GET_FPU");
  return fpu;
}

void KvmVcpu::set_fpu(const kvm_fpu& fpu) {
  auto copy = fpu;
  ioctl_or_throw(fd_.get(), KVM_SET_FPU, &copy, "KVM_SET_FPU");
}

kvm_lapic_state KvmVcpu::get_lapic() const {
  kvm_lapic_state lapic{};
  ioctl_or_throw(fd_.get(), KVM_GET_LAPIC, &lapic, "KVM_GET_LAPIC");
  return lapic;
}

void KvmVcpu::set_lapic(const kvm_lapic_state& lapic) {
  auto copy = lapic;
  ioctl_or_throw(fd_.get(), KVM_SET_LAPIC, &copy, "KVM_SET_LAPIC");
}

kvm_mp_state KvmVcpu::get_mp_state() const {
  kvm_mp_state state{};
  ioctl_or_throw(fd_.get(), KVM_GET_MP_STATE, &state, "KVM_GET_MP_STATE");
  return state;
}

void KvmVcpu::set_mp_state(const kvm_mp_state& state) {
  auto copy = state;
  ioctl_or_throw(fd_.get(), KVM_SET_MP_STATE, &copy, "KVM_SET_MP_STATE");
}

void KvmVcpu::set_cpuid(std::span<const kvm_cpuid_entry2> entries) {
  std::vector<uint8_t> buf(sizeof(abi::Cpuid2Header) + entries.size() * sizeof(kvm_cpuid_entry2));
  auto* header = reinterpret_cast<abi::Cpuid2Header*>(buf.data());
  header->nent = static_cast<uint32_t>(entries.size());
  std::memcpy(buf.data() + sizeof(*header), entries.data(),
              entries.size() * sizeof(kvm_cpuid_entry2));
  ioctl_or_throw(fd_.get(), abi::kSetCpuid2, header, "KVM_SET_CPUID2");
}

size_t KvmVcpu::set_msrs(std::span<const kvm_msr_entry> entries) {
  std::vector<uint8_t> buf(sizeof(abi::MsrsHeader) + entries.size() * sizeof(kvm_msr_entry));
  auto* header = reinterpret_cast<abi::MsrsHeader*>(buf.data());
  header->nmsrs = static_cast<uint32_t>(entries.size());
  std::memcpy(buf.data() + sizeof(*header), entries.data(), entries.size() * sizeof(kvm_msr_entry));
  return static_cast<size_t>(ioctl_or_throw(fd_.get(), abi::kSetMsrs, header, "KVM_SET_MSRS"));
}

std::vector<kvm_msr_entry> KvmVcpu::get_msrs(std::span<const uint32_t> indices) const {
  std::vector<kvm_msr_entry> entries(indices.size());
  for (size_t i = 0; i < indices.size(); ++i) entries[i].index = indices[i];
  std::vector<uint8_t> buf(sizeof(abi::MsrsHeader) + entries.size() * sizeof(kvm_msr_entry));
  auto* header = reinterpret_cast<abi::MsrsHeader*>(buf.data());
  header->nmsrs = static_cast<uint32_t>(entries.size());
  std::memcpy(buf.data() + sizeof(*header), entries.data(), entries.size() * sizeof(kvm_msr_entry));
  int n = ioctl_or_throw(fd_.get(), abi::kGetMsrs, header, "KVM_GET_MSRS");
  std::memcpy(entries.data(), buf.data() + sizeof(*header), entries.size() * sizeof(kvm_msr_entry));
  entries.resize(static_cast<size_t>(n));
  return entries;
}

uint32_t KvmVcpu::tsc_khz() const {
  int khz = ::ioctl(fd_.get(), KVM_GET_TSC_KHZ, 0);
  return khz > 0 ? static_cast<uint32_t>(khz) : 0;
}

void KvmVcpu::set_signal_mask(const sigset_t& mask) {
  // The kernel's sigset is 8 bytes on x86-64; glibc's sigset_t is larger but starts with it.
  uint8_t buf[sizeof(abi::SignalMaskHeader) + 8];
  abi::SignalMaskHeader header{8};
  std::memcpy(buf, &header, sizeof(header));
  std::memcpy(buf + sizeof(header), &mask, 8);
  ioctl_or_throw(fd_.get(), abi::kSetSignalMask, buf, "KVM_SET_SIGNAL_MASK");
}

}  // namespace tandem::kvm
