// The default guest of `tandem run` with no kernel: Debian's riscv64 kernel booted by OpenSBI
// with an initramfs of Debian's busybox that ends in an interactive shell.
// scripts/fetch-riscv-guest.sh fetches the parts into ${TANDEM_CACHE:-~/.cache/tandem}/riscv64.
#pragma once

#include <string>

#include "machine/machine_config.h"

namespace tandem::riscv {

// The folder the fetch script fills.
std::string default_guest_dir();

// Fills in what the command line left out (firmware, kernel, initrd, command line) from the
// fetched default guest, building its initramfs into the cache. Throws Error naming the fetch
// script when the parts are missing. Does nothing when a kernel was given.
void apply_default_guest(MachineConfig& config);

}  // namespace tandem::riscv
