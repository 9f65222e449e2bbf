// A KVM vCPU fd and its mmap'd kvm_run page.
#pragma once

#include <linux/kvm.h>
#include <signal.h>

#include <cstdint>
#include <span>
#include <vector>

#include "base/mapping.h"
#include "base/unique_fd.h"

namespace tandem::kvm {

class KvmVm;

class KvmVcpu {
 public:
  // KVM_CREATE_VCPU with `id` (also the initial APIC id) and the kvm_run mapping.
  KvmVcpu(const KvmVm& vm, unsigned id);
  KvmVcpu(const KvmVcpu&) = delete;
  KvmVcpu& operator=(const KvmVcpu&) = delete;

  int fd() const { return fd_.get(); }
  unsigned id() const { return id_; }
  kvm_run* run() const { return reinterpret_cast<kvm_run*>(run_.data()); }
  size_t run_size() const { return run_.size(); }

  kvm_regs get_regs() const;
  void set_regs(const kvm_regs& regs);
  kvm_sregs get_sregs() const;
  void set_sregs(const kvm_sregs& sregs);
  kvm_fpu get_fpu() const;
  void set_fpu(const kvm_fpu& fpu);
  kvm_lapic_state get_lapic() const;
  void set_lapic(const kvm_lapic_state& lapic);
  kvm_mp_state get_mp_state() const;
  void set_mp_state(const kvm_mp_state& state);
  void set_cpuid(std::span<const kvm_cpuid_entry2> entries);
  // KVM_SET_MSRS. Returns how many entries KVM accepted (it stops at the first it refuses).
  size_t set_msrs(std::span<const kvm_msr_entry> entries);
  // KVM_GET_MSRS for `indices`; returns the entries KVM could read (it stops at the first
  // it cannot).
  std::vector<kvm_msr_entry> get_msrs(std::span<const uint32_t> indices) const;
  // KVM_GET_TSC_KHZ; 0 when the host cannot tell.
  uint32_t tsc_khz() const;
  // KVM_SET_SIGNAL_MASK: the signal mask in effect while the thread is inside KVM_RUN.
  void set_signal_mask(const sigset_t& mask);

 private:
  unsigned id_;
  UniqueFd fd_;
  Mapping run_;
};

}  // namespace tandem::kvm
