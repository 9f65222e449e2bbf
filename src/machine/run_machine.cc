#include "machine/run_machine.h"

#include "base/error.h"
#include "machine/riscv/default_guest.h"
#include "machine/riscv/virt_machine.h"
#include "machine/x86/x86_machine.h"

namespace tandem {

int run_machine(const MachineConfig& config) {
  switch (config.machine) {
    case MachineKind::kX86: {
      x86::X86Machine machine(config);
      return machine.run();
    }
    case MachineKind::kRiscvVirt: {
      MachineConfig with_guest = config;
      riscv::apply_default_guest(with_guest);
      riscv::VirtMachine machine(with_guest);
      return machine.run();
    }
  }
  fail("unknown machine kind");
}

}  // namespace tandem
