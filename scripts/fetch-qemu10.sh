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
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

for tool in apt-get apt-cache dpkg-deb; do
  command -v "$tool" >/dev/null || die "'$tool' is missing (Debian: apt-get install apt dpkg)"
done
[ -r "$keyring" ] || die "$keyring is missing (apt-get install debian-archive-keyring)"

mirror=""
if [ -r /etc/apt/sources.list.d/debian.sources ]; then
  mirror=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
fi
if [ -z "$mirror" ] && [ -r /etc/apt/sources.list ]; then
  mirror=$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' /etc/apt/sources.list)
fi
mirror=${TANDEM_DEBIAN_MIRROR:-${mirror:-http://deb.debian.org/debian}}

apt_dir=$cache/apt
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/debs"
echo "deb [arch=amd64 signed-by=$keyring] $mirror $suite main" >"$apt_dir/sources.list"
: >"$apt_dir/status" # an empty dpkg status: the host's installed packages play no part

apt_opts=(
  -o APT::Architecture=amd64
  -o APT::Architectures=amd64
  -o Dir::Etc::SourceList="$apt_dir/sources.list"
  -o Dir::Etc::SourceParts=/dev/null
  -o Dir::Etc::Preferences=/dev/null
  -o Dir::Etc::PreferencesParts=/dev/null
  -o Dir::State::Lists="$apt_dir/lists"
  -o Dir::State::status="$apt_dir/status"
  -o Dir::Cache="$apt_dir/cache"
  -o Debug::NoLocking=1
)
# As root, apt drops to the _apt user for downloads, which cannot write to root's home.
[ "$(id -u)" = 0 ] && apt_opts+=(-o APT::Sandbox::User=root)

echo "fetch-qemu10: updating the $suite amd64 package lists from $mirror"
apt-get "${apt_opts[@]}" -qq update 2>&1 | sed 's/^/  apt: /' >&2 || true
ls "$apt_dir"/lists/*_dists_"${suite}"_main_binary-amd64_Packages* >/dev/null 2>&1 ||
  die "no verified $suite amd64 package list from $mirror (network down, or a signature apt rejected)"

pkg=qemu-user
version=$(apt-cache "${apt_opts[@]}" policy "$pkg" | awk '/Candidate:/ {print $2}')
[ -n "$version" ] && [ "$version" != "(none)" ] || die "no candidate for $pkg in $suite amd64"
cd "$apt_dir/debs"
deb=$(ls "${pkg}_${version//:/%3a}_"*.deb 2>/dev/null | head -n1 || true)
if [ -z "$deb" ]; then
  echo "fetch-qemu10: downloading $pkg $version"
  apt-get "${apt_opts[@]}" -qq download "$pkg=$version" || die "apt-get download $pkg failed"
  deb=$(ls "${pkg}_${version//:/%3a}_"*.deb | head -n1)
fi
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
