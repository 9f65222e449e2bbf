#!/usr/bin/env bash
# Fetches the newest packaged QEMU user-mode emulator (Debian 13 "trixie" qemu-user, amd64,
# whose binaries are static) into a cache outside the tree, for the translator benchmark
# (bench/tcg/run.sh compares `tandem user` with it):
#   ${TANDEM_CACHE:-$HOME/.cache/tandem}/qemu10/usr/bin/qemu-riscv64
#   ${TANDEM_CACHE:-$HOME/.cache/tandem}/qemu10/VERSION
# Debian's package comes through apt with a private configuration (own sources list, lists and
# cache; nothing of the host's apt state is changed) and apt checks its signature, as in
# scripts/fetch-riscv-guest.sh. Idempotent.
# TANDEM_DEBIAN_MIRROR overrides the mirror (default: the one the host's apt uses),
# TANDEM_DEBIAN_SUITE the suite (default: trixie).
set -euo pipefail

die() {
  echo "fetch-qemu10: $*" >&2
  exit 1
}

cache=${TANDEM_CACHE:-$HOME/.cache/tandem}/qemu10
suite=${TANDEM_DEBIAN_SUITE:-trixie}
# shellcheck source=lib/debian-archive.sh
. "$(dirname "$0")/lib/debian-archive.sh"
archive_setup fetch-qemu10 "$cache/apt" amd64 "$suite"
mirror=$(archive_mirror)

pkg=qemu-user
archive_download "$pkg"
deb=$archive_deb
version=$archive_version
if [ ! -e "$cache/.done-$version" ]; then
  rm -rf "$cache/usr" "$cache"/.done-*
  dpkg-deb -x "$deb" "$cache" || die "cannot unpack $deb"
  touch "$cache/.done-$version"
fi
bin=$cache/usr/bin/qemu-riscv64
[ -x "$bin" ] || die "$pkg $version has no usr/bin/qemu-riscv64"
"$bin" --version >/dev/null 2>&1 || die "$bin does not run on this host"
echo "$pkg $version ($suite, $mirror)" >"$cache/VERSION"
echo "fetch-qemu10: done: $bin"
"$bin" --version | head -n1 | sed 's/^/  /'
