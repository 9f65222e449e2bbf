#!/usr/bin/env bash
# Seeds for qcow2_fuzz: small qcow2 images made by qemu-img/qemu-io (512-byte clusters keep them
# a few KiB): versions 2 and 3, data, zero clusters, zlib and zstd compressed clusters, a
# backing file name, wider refcounts. Usage: fuzz/make_qcow2_seeds.sh OUT_DIR
set -euo pipefail
out=$1
mkdir -p "$out"
command -v qemu-img >/dev/null || { echo "make_qcow2_seeds: qemu-img not installed, no seeds"; exit 0; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mk() {  # name, create options, qemu-io commands...
  local name=$1 opts=$2
  shift 2
  qemu-img create -q -f qcow2 -o "cluster_size=512,$opts" "$tmp/$name" 64K
  for cmd in "$@"; do qemu-io -f qcow2 -c "$cmd" "$tmp/$name" >/dev/null; done
  cp "$tmp/$name" "$out/$name"
}
mk v2-data compat=0.10 "write -P 0x11 0 4k" "write -P 0x22 32k 1k"
mk v3-data compat=1.1 "write -P 0x33 512 3k" "write -z 8k 2k"
mk v3-refcount64 compat=1.1,refcount_bits=64 "write -P 0x44 0 2k"
qemu-img create -q -f raw "$tmp/base.raw" 64K
qemu-img create -q -f qcow2 -o cluster_size=512 -b base.raw -F raw "$tmp/overlay"
(cd "$tmp" && qemu-io -f qcow2 -c "write -P 0x55 1k 1k" overlay >/dev/null)
cp "$tmp/overlay" "$out/v3-backing"
for c in zlib zstd; do
  qemu-img create -q -f raw "$tmp/src.raw" 64K
  qemu-io -f raw -c "write -P 0x66 0 16k" "$tmp/src.raw" >/dev/null
  qemu-img convert -q -c -f raw -O qcow2 -o "cluster_size=512,compression_type=$c" \
    "$tmp/src.raw" "$out/v3-compressed-$c"
done
