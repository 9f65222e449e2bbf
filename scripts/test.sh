#!/usr/bin/env bash
# Installs dependencies, builds, and runs the whole test suite:
#  1. the release build: every ctest test (unit, integration, slow)
#  2. an ASan+UBSan build of the unit tests
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs=$(nproc)

scripts/build.sh
(cd build && ctest --output-on-failure -j"$jobs" --timeout 600)

BUILD_DIR=build-asan BUILD_TYPE=Debug scripts/build.sh -DTANDEM_SANITIZE=ON -DTANDEM_UNIT_ONLY=ON
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --output-on-failure -j"$jobs" -L unit --timeout 600)
