#!/usr/bin/env bash
# ION throughput three ways, in one run: the model backend in-process (inprocess_bench), the same loops as a real
# program through the preload (ion_bench.c under `ionsim exec`), and ion_bench.c on the module in the QEMU guest.
# Usage: tools/preload/bench/run_bench.sh [PAIRS] [BAZEL_FLAGS...]   e.g. run_bench.sh 20000 --config=opt
set -euo pipefail
cd "$(dirname "$0")/../../.."
pairs=${1:-20000}
shift || true
bazel build "$@" //tools/ionsim //tools/preload/bench:inprocess_bench
bin=$(bazel info "$@" bazel-bin 2>/dev/null)
work=$(mktemp -d)
cc -O2 -Ikmod/uapi tools/preload/bench/ion_bench.c -o "$work/ion_bench"
cc -O2 -static -Ikmod/uapi tools/preload/bench/ion_bench.c -o "$work/guest/ion_bench" 2>/dev/null ||
  { mkdir -p "$work/guest" && cc -O2 -static -Ikmod/uapi tools/preload/bench/ion_bench.c -o "$work/guest/ion_bench"; }
echo "== model backend, in-process"
"$bin/tools/preload/bench/inprocess_bench" "$pairs"
echo "== a real program through libionsim-preload.so (ionsim exec)"
"$bin/tools/ionsim/ionsim" exec -- "$work/ion_bench" "$pairs"
echo "== the module in the QEMU guest (TCG)"
tools/qemu/ionsim-qemu run --no-build --bin "$work/guest/ion_bench" --out "$work/guest.out" -- "ion_bench $pairs" \
  >"$work/qemu.log" 2>&1 || { tail -20 "$work/qemu.log"; exit 1; }
cat "$work/guest.out"
