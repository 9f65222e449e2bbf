// Turning the accelerator-independent boot state (machine/x86/entry_state.h) into KVM vCPU
// state, and the per-vCPU set-up every x86 vCPU gets (CPUID, MSRs, FPU, LAPIC).
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <span>
#include <vector>

#include "machine/x86/entry_state.h"

namespace tandem::kvm {

class KvmSystem;
class KvmVcpu;

// General registers for the entry state.
kvm_regs entry_regs(const x86::EntryState& entry);
// Applies the entry state's control registers, EFER, segments and descriptor tables on top of
// `sregs` (read from the vCPU, so APIC base and the interrupt bitmap are kept). Throws Error
// when the state is inconsistent with its mode (e.g. long mode without EFER.LMA).
void apply_entry_sregs(const x86::EntryState& entry, kvm_sregs& sregs);
kvm_segment to_kvm_segment(const x86::Segment& seg);

// FPU at power-on: FCW 0x37f, MXCSR 0x1f80 (all exceptions masked).
kvm_fpu boot_fpu();
// LVT LINT0 = ExtINT (the 8259 PIC delivers through it), LINT1 = NMI: the BSP's state after
// a PC BIOS, which Linux expects when it starts in virtual-wire mode.
void set_bsp_lint(kvm_lapic_state& lapic);

struct VcpuSetup {
  unsigned cpus = 1;
  std::span<const kvm_cpuid_entry2> supported_cpuid;
  std::span<const uint32_t> msr_index_list;
  // The BSP's boot state; null for APs, which wait in the in-kernel LAPIC for INIT/SIPI.
  const x86::EntryState* entry = nullptr;
  // The VM has the in-kernel irqchip (so the vCPU has a LAPIC to set up).
  bool irqchip = true;
};

// CPUID, MSRs and FPU for every vCPU; registers and LAPIC LINTs for the BSP (the vCPU given an
// entry state). Throws Error.
void setup_vcpu(KvmVcpu& vcpu, const VcpuSetup& setup);

// Sets MSRs one batch at a time; an MSR KVM refuses despite listing it is reported and skipped.
// Returns how many were set.
size_t set_msrs_skipping_refused(KvmVcpu& vcpu, std::vector<kvm_msr_entry> entries);

}  // namespace tandem::kvm
