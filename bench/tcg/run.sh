#!/usr/bin/env bash
# The translator benchmark: each kernel of bench/tcg/kernels runs natively (x86-64), under the
# host's qemu-riscv64, under the newest packaged QEMU (scripts/fetch-qemu10.sh) and under
# `tandem user`, in one run, repetitions interleaved so that the machine's load falls on all
# runners alike. Prints the best-of-N times, the ratios Tandem/QEMU and Tandem/native and their
# geometric means, and checks that every runner printed the same checksum.
#
#   bench/tcg/run.sh [-B build-dir] [-n N] [-s scale] [-k "crc32 fib ..."] [-m wall|cpu]
#                    [--no-build]
#   -B  build directory (default: build); its bench_tcg target is built first
#   -n  repetitions per kernel and runner, the best one counts (default 3)
#   -s  work scale passed to every kernel (default 1: about 0.1-0.4 s of native CPU each)
#   -k  the kernels to run (default: all)
#   -m  wall: wall-clock time (default); cpu: user+system CPU time of the process, steadier
#       on a loaded machine
# Environment: QEMU7 (default /usr/bin/qemu-riscv64), QEMU10 (default
# ${TANDEM_CACHE:-$HOME/.cache/tandem}/qemu10/usr/bin/qemu-riscv64), TANDEM (the command that
# runs a riscv64 program, default: the build's `tandem user`).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$root/build
reps=3
scale=1
kernels="crc32 sieve qsort fib interp matmul nbody"
metric=wall
do_build=1

die() {
  echo "bench/tcg: $*" >&2
  exit 1
}

while (($#)); do
  case "$1" in
    -B) build=$(cd "$2" && pwd) && shift ;;
    -n) reps=$2 && shift ;;
    -s) scale=$2 && shift ;;
    -k) kernels=$2 && shift ;;
    -m) metric=$2 && shift ;;
    --no-build) do_build=0 ;;
    -h | --help)
      sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done
[[ "$reps" =~ ^[1-9][0-9]*$ ]] || die "-n wants a positive number"
[[ "$scale" =~ ^[1-9][0-9]*$ ]] || die "-s wants a positive number"
[ "$metric" = wall ] || [ "$metric" = cpu ] || die "-m is wall or cpu"

if ((do_build)); then
  cmake --build "$build" --target bench_tcg -- -j2 >/dev/null ||
    die "building bench_tcg in $build failed (configure it first: cmake -S $root -B $build -G Ninja)"
fi
kdir=$build/bench/tcg/kernels

qemu7=${QEMU7:-/usr/bin/qemu-riscv64}
qemu10=${QEMU10:-${TANDEM_CACHE:-$HOME/.cache/tandem}/qemu10/usr/bin/qemu-riscv64}
if [ -n "${TANDEM:-}" ]; then
  read -r -a tandem <<<"$TANDEM"
elif [ -x "$build/tandem" ]; then
  tandem=("$build/tandem" user)
else
  die "no tandem binary in $build (set TANDEM)"
fi

runners=(native)
names=(native)
if [ -x "$qemu7" ]; then
  runners+=(qemu7)
  names+=("qemu-$("$qemu7" --version | awk 'NR == 1 {print $3}')")
else
  echo "bench/tcg: $qemu7 not found: the host QEMU column is left out" >&2
fi
if [ -x "$qemu10" ]; then
  runners+=(qemu10)
  names+=("qemu-$("$qemu10" --version | awk 'NR == 1 {print $3}')")
else
  echo "bench/tcg: $qemu10 not found (scripts/fetch-qemu10.sh fetches it): column left out" >&2
fi
runners+=(tandem)
names+=(tandem)

# Runs one kernel under one runner; prints "seconds checksum".
run_one() {
  local runner=$1 k=$2 out tf t
  out=$(mktemp)
  tf=$(mktemp)
  local cmd
  case "$runner" in
    native) cmd=("$kdir/$k.x86_64") ;;
    qemu7) cmd=("$qemu7" "$kdir/$k.riscv64") ;;
    qemu10) cmd=("$qemu10" "$kdir/$k.riscv64") ;;
    tandem) cmd=("${tandem[@]}" "$kdir/$k.riscv64") ;;
  esac
  local TIMEFORMAT='%3R %3U %3S' rc=0
  { time "${cmd[@]}" "$scale" >"$out" 2>&1; } 2>"$tf" || rc=$?
  if ((rc != 0)); then
    echo "bench/tcg: $runner $k exited with $rc:" >&2
    sed 's/^/  /' "$out" | tail -n 5 >&2
    rm -f "$out" "$tf"
    echo "nan FAILED"
    return
  fi
  if [ "$metric" = wall ]; then
    t=$(awk '{print $1}' "$tf")
  else
    t=$(awk '{printf "%.3f", $2 + $3}' "$tf")
  fi
  echo "$t $(awk '$2 == "checksum" {print $3}' "$out")"
  rm -f "$out" "$tf"
}

echo "bench/tcg: best of $reps, metric $metric, scale $scale, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  tandem: ${tandem[*]}"
header=$(printf '%-8s' kernel)
for n in "${names[@]}"; do header+=$(printf ' %12s' "$n"); done
ratio_cols=()
for r in "${runners[@]}"; do [ "$r" = qemu7 ] || [ "$r" = qemu10 ] && ratio_cols+=("$r"); done
ratio_cols+=(native)
for r in "${ratio_cols[@]}"; do
  case "$r" in
    qemu7 | qemu10) header+=$(printf ' %9s' "T/${r}") ;;
    native) header+=$(printf ' %9s' "T/native") ;;
  esac
done
echo "$header"

status=0
declare -A logsum=()
for k in $kernels; do
  [ -x "$kdir/$k.riscv64" ] || die "no kernel $k in $kdir"
  declare -A best=() sum=()
  for ((i = 0; i < reps; i++)); do
    for r in "${runners[@]}"; do
      read -r t c < <(run_one "$r" "$k")
      if [ "$c" = FAILED ]; then
        best[$r]=nan
        sum[$r]=FAILED
        continue
      fi
      [ "${sum[$r]:-}" = FAILED ] && continue
      sum[$r]=$c
      if [ -z "${best[$r]:-}" ] || awk -v a="$t" -v b="${best[$r]}" 'BEGIN {exit !(a < b)}'; then
        best[$r]=$t
      fi
    done
  done
  line=$(printf '%-8s' "$k")
  for r in "${runners[@]}"; do line+=$(printf ' %12s' "${best[$r]}"); done
  for r in "${ratio_cols[@]}"; do
    ratio=$(awk -v a="${best[tandem]}" -v b="${best[$r]}" 'BEGIN {if (a == "nan" || b == "nan" || b <= 0) print "nan"; else printf "%.2f", a / b}')
    line+=$(printf ' %9s' "$ratio")
    [ "$ratio" = nan ] || logsum[$r]=$(awk -v s="${logsum[$r]:-0}" -v x="$ratio" 'BEGIN {printf "%.9f", s + log(x)}')
  done
  ref=${sum[native]}
  mismatch=""
  for r in "${runners[@]}"; do
    [ "${sum[$r]}" = "$ref" ] || mismatch+=" $r=${sum[$r]}"
  done
  if [ -n "$mismatch" ]; then
    line+="  CHECKSUM MISMATCH (native=$ref$mismatch)"
    status=1
  fi
  echo "$line"
  unset best sum
done

nk=$(wc -w <<<"$kernels")
line=$(printf '%-8s' geomean)
for r in "${runners[@]}"; do line+=$(printf ' %12s' ""); done
for r in "${ratio_cols[@]}"; do
  line+=$(printf ' %9s' "$(awk -v s="${logsum[$r]:-0}" -v n="$nk" 'BEGIN {printf "%.2f", exp(s / n)}')")
done
echo "$line"
echo "(T/x < 1: tandem is faster than x; checksums $([ $status = 0 ] && echo "all equal" || echo "DIFFER"))"
exit $status
