#!/usr/bin/env bash
# Fetches the real kernels some tests parse (outside the tree, in a cache):
#   ${TANDEM_CACHE:-$HOME/.cache/tandem}/x86/vmlinuz   Debian's linux-image-*-cloud-amd64 bzImage
# Idempotent: does nothing when the cached kernel already comes from the current package.
set -euo pipefail

cache="${TANDEM_CACHE:-$HOME/.cache/tandem}/x86"
mkdir -p "$cache"

# linux-image-cloud-amd64 is a metapackage; the kernel is in its versioned dependency.
pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
  sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-cloud-amd64\)$/\1/p' | head -n1 || true)
if [[ -z "$pkg" ]]; then
  if [[ -s "$cache/vmlinuz" ]]; then
    echo "fetch-test-kernels: apt cannot resolve linux-image-cloud-amd64; keeping $cache/vmlinuz" >&2
    exit 0
  fi
  echo "fetch-test-kernels: cannot resolve linux-image-cloud-amd64 (run apt-get update?)" >&2
  exit 1
fi

if [[ -s "$cache/vmlinuz" && "$(cat "$cache/vmlinuz.package" 2>/dev/null)" == "$pkg" ]]; then
  exit 0
fi

work=$(mktemp -d "$cache/fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
# apt-get download writes into the current directory; run it where _apt may write too.
chmod 755 "$work"
(cd "$work" && apt-get download -q "$pkg")
deb=$(ls "$work"/*.deb)
dpkg-deb -x "$deb" "$work/root"
kernel=$(ls "$work"/root/boot/vmlinuz-* | head -n1)
[[ -s "$kernel" ]] || { echo "fetch-test-kernels: no /boot/vmlinuz-* in $deb" >&2; exit 1; }
cp "$kernel" "$cache/vmlinuz.tmp"
mv "$cache/vmlinuz.tmp" "$cache/vmlinuz"
echo "$pkg" > "$cache/vmlinuz.package"
echo "fetch-test-kernels: $cache/vmlinuz from $pkg"
