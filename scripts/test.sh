#!/usr/bin/env bash
# Installs dependencies, builds, and runs the whole test suite:
#  1. the release build: every ctest test (unit, integration, slow)
#  2. an ASan+UBSan build of the unit tests
#  3. a bounded libFuzzer run of each fuzz target (clang, build-fuzz/)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs=$(nproc)
scripts/fetch-test-kernels.sh  # real kernels some tests parse, cached outside the tree
scripts/fetch-riscv-guest.sh   # OpenSBI, Debian's riscv64 kernel, busybox: the RISC-V guest

scripts/build.sh
(cd build && ctest --output-on-failure -j"$jobs" --timeout 600)

BUILD_DIR=build-asan BUILD_TYPE=Debug scripts/build.sh -DTANDEM_SANITIZE=ON -DTANDEM_UNIT_ONLY=ON
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --output-on-failure -j"$jobs" -L unit --timeout 600)

CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DTANDEM_FUZZ=ON -DTANDEM_UNIT_ONLY=ON >/dev/null
ninja -C build-fuzz virtqueue_fuzz virtio_blk_fuzz qcow2_fuzz
mkdir -p build-fuzz/corpus/virtqueue
build-fuzz/fuzz/virtqueue_fuzz -max_total_time=30 -timeout=10 -max_len=4096 -artifact_prefix=build-fuzz/ \
  build-fuzz/corpus/virtqueue fuzz/corpus/virtqueue
mkdir -p build-fuzz/corpus/virtio_blk
build-fuzz/fuzz/virtio_blk_fuzz -max_total_time=30 -timeout=10 -max_len=8192 -artifact_prefix=build-fuzz/ \
  build-fuzz/corpus/virtio_blk fuzz/corpus/virtio_blk
mkdir -p build-fuzz/corpus/qcow2
fuzz/make_qcow2_seeds.sh build-fuzz/corpus/qcow2-seeds
build-fuzz/fuzz/qcow2_fuzz -max_total_time=30 -timeout=10 -max_len=65536 -artifact_prefix=build-fuzz/ \
  build-fuzz/corpus/qcow2 build-fuzz/corpus/qcow2-seeds
