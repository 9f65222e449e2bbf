#!/usr/bin/env bash
# Set-up command (a): installs dependencies, builds Tandem, and runs the main job.
# Today the main job boots one of the project's own x86 test guests on KVM with 2 vCPUs: it reads
# the ACPI tables Tandem wrote, starts the second vCPU with INIT-SIPI-SIPI, prints on the 16550
# UART and reports back through isa-debug-exit (status 33 = all checks passed).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
set +e
build/tandem run --machine x86 --accel kvm --cpus 2 --memory 512M \
  --kernel build/tests/guests/x86/smp.bzImage --append "expect_cpus=2" "$@"
status=$?
set -e
if [ "$status" = 33 ]; then
  echo "run.sh: the guest passed its checks (exit status 33)"
  exit 0
fi
echo "run.sh: the guest failed (exit status $status)" >&2
exit 1
