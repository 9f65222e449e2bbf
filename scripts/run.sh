#!/usr/bin/env bash
# Set-up command (a): installs dependencies, builds Tandem, fetches the default guest, and runs
# the main job: `tandem run` with no arguments boots Debian's riscv64 Linux (OpenSBI, Debian 13's
# kernel, an initramfs of Debian's busybox) on the RISC-V virt machine to an interactive shell
# on this terminal. Type `poweroff -f` in the guest, or Ctrl-A X, to end it.
# Extra arguments go to `tandem run` (e.g. --cpus 2, --memory 1G, --append ...).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
scripts/fetch-riscv-guest.sh
exec build/tandem run "$@"
