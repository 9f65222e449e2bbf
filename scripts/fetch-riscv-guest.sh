#!/usr/bin/env bash
# Fetches the riscv64 guest's parts from Debian's archive into a cache outside the tree:
#   ${TANDEM_CACHE:-$HOME/.cache/tandem}/riscv64/
#     Image            the Debian 13 (trixie) riscv64 kernel, uncompressed (RISC-V "Image" format)
#     fw_jump.bin, fw_dynamic.bin   OpenSBI for the generic platform
#     busybox          busybox-static for riscv64
#     modules/         the virtio modules that the kernel builds as modules (uncompressed .ko),
#                      with modules.dep restricted to them and kernel-config (the kernel's config)
#     VERSIONS         which packages (and versions) these came from
# Debian's packages come through apt with a private configuration (own sources list, lists and
# cache; nothing of the host's apt state is changed) and apt checks their signatures.
# Idempotent: a second run only re-checks the lists and reuses what is already there.
# TANDEM_DEBIAN_MIRROR overrides the mirror (default: the one the host's apt uses),
# TANDEM_DEBIAN_SUITE the suite (default: trixie).
set -euo pipefail

die() {
  echo "fetch-riscv-guest: $*" >&2
  exit 1
}

cache=${TANDEM_CACHE:-$HOME/.cache/tandem}/riscv64
suite=${TANDEM_DEBIAN_SUITE:-trixie}
# The virtio drivers a virt-machine guest wants, and what they need.
# ext4 lets the guest mount a Debian disk image on a virtio disk; it checksums its metadata
# with crc32c, a soft dependency (modules.softdep) that modules.dep does not name.
wanted_modules=(virtio_mmio virtio_blk virtio_console virtio_rng virtio_net crc32c_generic ext4)

for tool in xz gzip file depmod; do
  command -v "$tool" >/dev/null || die "'$tool' is missing (Debian: apt-get install xz-utils gzip file kmod)"
done
# shellcheck source=lib/debian-archive.sh
. "$(dirname "$0")/lib/debian-archive.sh"
mkdir -p "$cache/extract"
archive_setup fetch-riscv-guest "$cache/apt" riscv64 "$suite"
mirror=$(archive_mirror)

# linux-image-riscv64 is a metapackage: its dependency names the versioned kernel package.
kernel_pkg=$(apt-cache "${apt_opts[@]}" depends linux-image-riscv64 |
  awk '/Depends: linux-image-[0-9].*-riscv64$/ {print $2; exit}' || true)
[ -n "$kernel_pkg" ] || die "cannot resolve linux-image-riscv64 to a versioned kernel package"

packages=("$kernel_pkg" busybox-static opensbi)
for pkg in "${packages[@]}"; do
  archive_download "$pkg"
  deb=$archive_deb
  version=$archive_version
  dest=$cache/extract/$pkg
  if [ ! -e "$dest/.done-$version" ]; then
    rm -rf "$dest"
    mkdir -p "$dest"
    dpkg-deb -x "$deb" "$dest" || die "cannot unpack $deb"
    touch "$dest/.done-$version"
  fi
done

# --- the kernel ----------------------------------------------------------------------------
kdir=$cache/extract/$kernel_pkg
kimage=$(ls "$kdir"/boot/vmlinux-* "$kdir"/boot/vmlinuz-* 2>/dev/null | head -n1 || true)
[ -n "$kimage" ] || die "no /boot/vmlinux-* or /boot/vmlinuz-* in $kernel_pkg"
kver=${kimage##*/vmlinu?-}
case "$(file -b "$kimage")" in
  gzip*) gzip -dc "$kimage" >"$cache/Image.tmp" ;;
  XZ*) xz -dc "$kimage" >"$cache/Image.tmp" ;;
  *) cp "$kimage" "$cache/Image.tmp" ;;
esac
# A RISC-V Image has "RISCV\0\0\0" at offset 48 and "RSC\x05" at offset 56.
magic=$(dd if="$cache/Image.tmp" bs=1 skip=56 count=4 status=none | od -An -c | tr -d ' ')
[ "$magic" = 'RSC005' ] || die "$kimage is not a RISC-V Image (magic '$magic')"
mv "$cache/Image.tmp" "$cache/Image"
cp "$kdir/boot/config-$kver" "$cache/kernel-config"

# --- virtio modules --------------------------------------------------------------------------
# Which drivers are built in (=y) and which are modules (=m) in this kernel's config.
config_name() {
  case "$1" in
    virtio_mmio) echo CONFIG_VIRTIO_MMIO ;;
    virtio_blk) echo CONFIG_VIRTIO_BLK ;;
    virtio_console) echo CONFIG_VIRTIO_CONSOLE ;;
    virtio_rng) echo CONFIG_HW_RANDOM_VIRTIO ;;
    virtio_net) echo CONFIG_VIRTIO_NET ;;
    crc32c_generic) echo CONFIG_CRYPTO_CRC32C ;;
    ext4) echo CONFIG_EXT4_FS ;;
  esac
}
moddir=$kdir/lib/modules/$kver
[ -d "$moddir" ] || moddir=$kdir/usr/lib/modules/$kver
[ -d "$moddir" ] || die "no module directory for $kver in $kernel_pkg"
# The package ships no modules.dep (its postinst runs depmod); kmod's depmod reads riscv64
# modules on any host.
if [ ! -s "$moddir/modules.dep" ]; then
  depmod -b "${moddir%/lib/modules/*}" "$kver" || die "depmod failed on $kernel_pkg's modules"
fi
out=$cache/modules
rm -rf "$out.tmp"
mkdir -p "$out.tmp"
summary=()
module_list=()
for m in "${wanted_modules[@]}"; do
  opt=$(config_name "$m")
  val=$(awk -F= -v k="$opt" '$1 == k {print $2}' "$cache/kernel-config")
  case "$val" in
    y) summary+=("$m: built-in") ;;
    m) summary+=("$m: module") && module_list+=("$m") ;;
    *) summary+=("$m: not available ($opt=${val:-unset})") ;;
  esac
done
# The closure of the wanted modules' dependencies, from modules.dep ("path: dep dep ...").
declare -A need=()
queue=()
for m in "${module_list[@]}"; do
  path=$(awk -F: -v m="$m" '{n = $1; sub(/.*\//, "", n); sub(/\.ko(\.[a-z]+)?$/, "", n); gsub(/-/, "_", n)} n == m {print $1; exit}' "$moddir/modules.dep")
  [ -n "$path" ] || die "module $m is =m in the config but missing from modules.dep"
  queue+=("$path")
done
while ((${#queue[@]})); do
  path=${queue[0]}
  queue=("${queue[@]:1}")
  [ -n "${need[$path]:-}" ] && continue
  need[$path]=1
  for dep in $(awk -F: -v p="$path" '$1 == p {print $2; exit}' "$moddir/modules.dep"); do
    queue+=("$dep")
  done
done
for path in "${!need[@]}"; do
  name=${path%.xz}
  name=${name%.zst}
  name=${name%.gz}
  mkdir -p "$out.tmp/$(dirname "$name")"
  case "$path" in
    *.xz) xz -dc "$moddir/$path" >"$out.tmp/$name" ;;
    *.zst) zstd -qdc "$moddir/$path" >"$out.tmp/$name" ;;
    *.gz) gzip -dc "$moddir/$path" >"$out.tmp/$name" ;;
    *) cp "$moddir/$path" "$out.tmp/$name" ;;
  esac
done
# modules.dep for the copied modules, with the compression suffixes dropped.
for path in "${!need[@]}"; do
  awk -F: -v p="$path" '$1 == p {print; exit}' "$moddir/modules.dep"
done | sed -E 's/\.ko\.(xz|zst|gz)/.ko/g' | sort >"$out.tmp/modules.dep"
echo "$kver" >"$out.tmp/kernel-release"
rm -rf "$out"
mv "$out.tmp" "$out"

# --- busybox and OpenSBI -----------------------------------------------------------------------
bb=$cache/extract/busybox-static/usr/bin/busybox
[ -x "$bb" ] || bb=$cache/extract/busybox-static/bin/busybox
[ -x "$bb" ] || die "busybox-static has no /bin/busybox"
cp "$bb" "$cache/busybox"
sbidir=$cache/extract/opensbi/usr/lib/riscv64-linux-gnu/opensbi/generic
for fw in fw_jump.bin fw_dynamic.bin; do
  [ -r "$sbidir/$fw" ] || die "opensbi has no generic/$fw"
  cp "$sbidir/$fw" "$cache/$fw"
done

{
  echo "suite: $suite ($mirror)"
  for pkg in "${packages[@]}"; do
    echo "$pkg: $(apt-cache "${apt_opts[@]}" policy "$pkg" | awk '/Candidate:/ {print $2}')"
  done
  echo "kernel-release: $kver"
  printf '%s\n' "${summary[@]}"
} >"$cache/VERSIONS"

echo "fetch-riscv-guest: done, in $cache"
sed 's/^/  /' "$cache/VERSIONS"
(cd "$cache" && ls -l Image fw_jump.bin fw_dynamic.bin busybox | awk '{print "  " $5 "\t" $9}')
echo "  modules: $(cd "$out" && find . -name '*.ko' | sed 's|.*/||' | sort | tr '\n' ' ')"
