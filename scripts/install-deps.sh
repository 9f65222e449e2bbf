#!/usr/bin/env bash
# Installs everything Tandem needs to build, test and benchmark on Debian 12. Idempotent.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config git
  # libraries (README: "Dependencies" says why each is here)
  libgtest-dev libgmock-dev libbenchmark-dev libfmt-dev libspdlog-dev libcli11-dev
  libxbyak-dev libcapstone-dev libfdt-dev liburing-dev
  zlib1g-dev libzstd-dev  # qcow2 compressed clusters
  nlohmann-json3-dev  # tandem img --output=json
  # test guests and test programs for the RISC-V translator
  gcc-riscv64-linux-gnu g++-riscv64-linux-gnu libc6-dev-riscv64-cross
  # fuzzing and the sanitizer build
  clang lld libclang-rt-14-dev
  # peers for side-by-side tests and benchmarks (never part of Tandem)
  qemu-user qemu-utils qemu-system-x86 qemu-system-misc
  # RISC-V virt machine: dtc and cpio check the device tree and initramfs in tests, e2fsprogs
  # makes and checks the Debian boot test's disk; the rest serve scripts/fetch-riscv-guest.sh
  device-tree-compiler cpio e2fsprogs debian-archive-keyring kmod xz-utils file
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
