// Builds the machine the config asks for, runs it, and returns the VMM's exit status. The one
// entry point apps/tandem needs for full-system guests.
#pragma once

#include "machine/machine_config.h"

namespace tandem {

// Throws Error (one-line message) for a config that cannot be built; otherwise returns the
// guest's exit status (0 powered off/reset, isa-debug-exit's (v << 1) | 1, 2 triple fault, ...;
// see accel/kvm/exit_status.h).
int run_machine(const MachineConfig& config);

}  // namespace tandem
