#!/usr/bin/env bash
# Turns a trace (or an ion_ops_fuzzer input, decoded with `ionsim decode --run`) into a regression test:
# tests/regressions/NAME.trace, which //tests/regressions:regressions_test replays on the fuzz board with the
# fuzzers' oracles and its expected results under `bazel test`. The trace must pass now (after the fix).
# Usage: tools/fuzz/trace_to_regression.sh TRACE_OR_INPUT NAME
set -euo pipefail
if [[ $# -ne 2 ]]; then
  echo "usage: $0 TRACE_OR_INPUT NAME" >&2
  exit 2
fi
src=$1
name=$2
if [[ ! "$name" =~ ^[a-z0-9][a-z0-9_-]*$ ]]; then
  echo "NAME: lowercase letters, digits, '-' and '_'" >&2
  exit 2
fi
src=$(realpath "$src")
cd "$(dirname "$0")/../.."
out=tests/regressions/$name.trace
if [[ -e "$out" ]]; then
  echo "$out exists" >&2
  exit 1
fi
bazel build //tools/ionsim:ionsim //tests/regressions:replay_regressions >/dev/null 2>&1 ||
  bazel build //tools/ionsim:ionsim //tests/regressions:replay_regressions
bin=$(bazel info bazel-bin 2>/dev/null)
# A trace is text; anything else is taken as a fuzzer input and decoded, each line with its result expected.
if LC_ALL=C grep -qv '^[[:print:][:space:]]*$' "$src" || [[ ! -s "$src" ]]; then
  "$bin/tools/ionsim/ionsim" decode --run "$src" >"$out.tmp"
else
  cp "$src" "$out.tmp"
fi
if ! "$bin/tests/regressions/replay_regressions" "$out.tmp"; then
  rm -f "$out.tmp"
  echo "the trace does not pass yet; fix the bug first (or correct the expected results)" >&2
  exit 1
fi
mv "$out.tmp" "$out"
echo "added $out; bazel test //tests/regressions:regressions_test replays it"
