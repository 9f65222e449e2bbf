# Sourced by the fetch-* scripts: reads a Debian suite's package lists for one architecture with a
# private apt configuration (its own sources list, lists, cache and an empty dpkg status; nothing
# of the host's apt state is read or changed) and downloads packages from it. apt checks the
# signatures against Debian's archive keyring.
#
#   archive_setup NAME DIR ARCH SUITE   sets apt_opts and apt_dir, updates the lists
#   archive_download PKG                downloads PKG's candidate into $apt_dir/debs; sets
#                                       archive_deb (path) and archive_version
# TANDEM_DEBIAN_MIRROR overrides the mirror (default: the one the host's apt uses).

archive_die() {
  echo "$archive_name: $*" >&2
  exit 1
}

# The mirror the host uses for Debian (first URIs: line of a deb822 source that is not the
# security archive), falling back to the one-line format and then to deb.debian.org.
archive_mirror() {
  local mirror=""
  if [ -r /etc/apt/sources.list.d/debian.sources ]; then
    mirror=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$mirror" ] && [ -r /etc/apt/sources.list ]; then
    mirror=$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' /etc/apt/sources.list)
  fi
  echo "${TANDEM_DEBIAN_MIRROR:-${mirror:-http://deb.debian.org/debian}}"
}

archive_setup() {
  archive_name=$1
  apt_dir=$2
  local arch=$3 suite=$4
  local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  for tool in apt-get apt-cache dpkg-deb; do
    command -v "$tool" >/dev/null || archive_die "'$tool' is missing (Debian: apt-get install apt dpkg)"
  done
  [ -r "$keyring" ] || archive_die "$keyring is missing (apt-get install debian-archive-keyring)"
  local mirror
  mirror=$(archive_mirror)

  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/debs"
  echo "deb [arch=$arch signed-by=$keyring] $mirror $suite main" >"$apt_dir/sources.list"
  : >"$apt_dir/status" # an empty dpkg status: the host's installed packages play no part
  apt_opts=(
    -o APT::Architecture="$arch"
    -o APT::Architectures="$arch"
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

  echo "$archive_name: updating the $suite $arch package lists from $mirror"
  # apt-get update only warns when an index cannot be fetched or verified: check for the index.
  apt-get "${apt_opts[@]}" -qq update 2>&1 | sed 's/^/  apt: /' >&2 || true
  ls "$apt_dir"/lists/*_dists_"${suite}"_main_binary-"${arch}"_Packages* >/dev/null 2>&1 ||
    archive_die "no verified $suite $arch package list from $mirror (network down, or a signature apt rejected)"
}

archive_download() {
  local pkg=$1
  archive_version=$(apt-cache "${apt_opts[@]}" policy "$pkg" | awk '/Candidate:/ {print $2}')
  [ -n "$archive_version" ] && [ "$archive_version" != "(none)" ] ||
    archive_die "no candidate for $pkg"
  local pattern="${pkg}_${archive_version//:/%3a}_"
  archive_deb=$(ls "$apt_dir/debs/$pattern"*.deb 2>/dev/null | head -n1 || true)
  if [ -z "$archive_deb" ]; then
    echo "$archive_name: downloading $pkg $archive_version"
    (cd "$apt_dir/debs" && apt-get "${apt_opts[@]}" -qq download "$pkg=$archive_version") ||
      archive_die "apt-get download $pkg failed"
    archive_deb=$(ls "$apt_dir/debs/$pattern"*.deb | head -n1)
  fi
}
