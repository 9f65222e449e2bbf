// A human-readable dump of a vCPU's registers, printed when the guest triple-faults or KVM
// reports an error, so that a broken boot can be debugged from the message alone.
#pragma once

#include <linux/kvm.h>

#include <string>

namespace tandem::kvm {

class KvmVcpu;

std::string format_registers(const kvm_regs& regs, const kvm_sregs& sregs);
// Reads the registers and formats them; if KVM cannot return them, says so instead of throwing.
std::string dump_registers(const KvmVcpu& vcpu);

}  // namespace tandem::kvm
