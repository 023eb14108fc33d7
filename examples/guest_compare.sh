#!/usr/bin/env bash
# The example programs (and tools/preload/testdata/raw_ion.c) on the real module: builds each statically (//examples:<name>_guest), runs them all in
# one QEMU boot (tools/qemu/ionsim-qemu run --no-build: the module of the last build) and requires their output
# to equal the .expected files, which examples_test requires of the same sources run on the model under
# `ionsim exec`. Usage: examples/guest_compare.sh   (from anywhere; needs a built module: ionsim-qemu build)
set -euo pipefail
cd "$(dirname "$0")/.."
examples=(alloc_map heap_query legacy_fork)
targets=()
for e in "${examples[@]}"; do targets+=("//examples:${e}_guest"); done
bazel build "${targets[@]}"
work=$(mktemp -d)
bins=()
for e in "${examples[@]}"; do
  cp "bazel-bin/examples/${e}_guest" "$work/$e"
  bins+=(--bin "$work/$e")
  cat "examples/$e.expected" >>"$work/expected"
done
# The program nobody wrote against ionsim (tools/preload/testdata/raw_ion.c), built with the system's cc.
cc -static -Ikmod/uapi tools/preload/testdata/raw_ion.c -o "$work/raw_ion"
bins+=(--bin "$work/raw_ion")
cat tools/preload/testdata/raw_ion.expected >>"$work/expected"
tools/qemu/ionsim-qemu run --no-build "${bins[@]}" --out "$work/guest.out" -- "${examples[@]}" raw_ion
if ! diff -u "$work/expected" "$work/guest.out"; then
  echo "FAIL: the examples' output in the QEMU guest differs from the model's (examples/*.expected)" >&2
  exit 1
fi
echo "examples: the QEMU guest prints what the model prints (${examples[*]} raw_ion)"
