#!/usr/bin/env bash
# Runs every example program under `ionsim exec` on the dummy board and compares its stdout with the .expected
# file beside its source; the exec must exit 0 (the program succeeded and the machine reported nothing).
# Usage: examples_test.sh IONSIM EXAMPLE_BINARY...
set -euo pipefail
ionsim=$1
shift
dir=$(dirname "$0")
fail=0
for bin in "$@"; do
  name=$(basename "$bin")
  expected="$dir/$name.expected"
  [[ -f $expected ]] || expected="examples/$name.expected"
  out=$(mktemp)
  if ! "$ionsim" exec -- "$bin" >"$out"; then
    echo "FAIL: $name: ionsim exec exited nonzero"
    cat "$out"
    fail=1
    continue
  fi
  if ! diff -u "$expected" "$out"; then
    echo "FAIL: $name: output differs from $expected"
    fail=1
    continue
  fi
  echo "ok: $name"
done
exit $fail
