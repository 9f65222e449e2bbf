// A bare /dev/kvm runner for the exits guest: one VM, one vCPU, raw ioctls, the guest's PIO and
// MMIO exits handled in a switch. It is the baseline Tandem's exit path is compared against.
#pragma once

#include <cstdint>
#include <string>

namespace tandem::bench {

struct BareRunResult {
  int exit_status = -1;  // isa-debug-exit status ((v << 1) | 1), -1 when the guest did not exit
  std::string console;   // what the guest wrote to the serial port
  std::string error;     // set when the VM failed (shutdown, entry failure, ...)
};

// Boots a PVH ELF (32-bit entry from the Xen note) with `cmdline` and `mem_bytes` of RAM.
BareRunResult run_bare_kvm(const std::string& elf_path, const std::string& cmdline,
                           uint64_t mem_bytes);

}  // namespace tandem::bench
