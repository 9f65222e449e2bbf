// The VMM's exit status when a KVM VM ends. Devices choose their own (isa-debug-exit gives
// (value << 1) | 1, always odd); these are the ones the accelerator itself produces.
#pragma once

namespace tandem::kvm {

// Guest powered off (ACPI/PSCI-style KVM_SYSTEM_EVENT_SHUTDOWN) or reset: Tandem does not
// reboot a guest, it exits like QEMU -no-reboot.
constexpr int kExitPoweredOff = 0;
// A VMM-side failure: KVM_RUN failed, KVM entry failure, KVM internal error, an exit reason
// Tandem does not know, or an error on a vCPU thread. Same status as any other Tandem error.
constexpr int kExitVmmError = 1;
// The guest triple-faulted (KVM_EXIT_SHUTDOWN); the registers are dumped to stderr.
constexpr int kExitTripleFault = 2;
// The guest reported a crash (KVM_SYSTEM_EVENT_CRASH).
constexpr int kExitGuestCrash = 3;

}  // namespace tandem::kvm
