#!/usr/bin/env bash
# Shows that the op-program fuzzer finds a real lifetime bug: it switches on the model's test-only injected bug
# (model/ion_priv.h: ion_injected_bugs.free_unlinks_referenced_handle; ION_IOC_FREE of a handle imported again
# unlinks its id while the handle stays referenced), runs //fuzz:ion_ops_fuzzer built with --config=fuzz from
# its committed seed corpus (a scratch copy) for at most 60 s, and succeeds only if the fuzzer reports the bug
# through its oracles. Prints the time to the finding and the decoded program.
# Usage: tools/fuzz/prove_bug_found.sh [SECONDS]   (default 60)
set -euo pipefail
cd "$(dirname "$0")/../.."
limit=${1:-60}
build() { "$@" >/dev/null 2>&1 || "$@"; }
build bazel build --config=fuzz --symlink_prefix=/ //fuzz:ion_ops_fuzzer
build bazel build //tools/ionsim:ionsim
bin=$(bazel info --config=fuzz bazel-bin 2>/dev/null)/fuzz/ion_ops_fuzzer
ionsim=$(bazel info bazel-bin 2>/dev/null)/tools/ionsim/ionsim
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus"
cp fuzz/corpus/ion_ops/* "$work/corpus/"
echo "seed corpus: $(ls "$work/corpus" | wc -l) inputs; injected bug: free-unlinks-referenced-handle; limit ${limit} s"
start=$(date +%s.%N)
set +e
IONSIM_FUZZ_INJECT=free-unlinks-referenced-handle "$bin" -max_total_time="$limit" -max_len=256 \
  -dict=fuzz/ion.dict -artifact_prefix="$work/" "$work/corpus" >"$work/log" 2>&1
status=$?
set -e
end=$(date +%s.%N)
crash=$(ls "$work"/crash-* 2>/dev/null | head -n 1 || true)
if [[ $status -eq 0 || -z "$crash" ]]; then
  tail -n 5 "$work/log"
  echo "NOT FOUND: the fuzzer ran ${limit} s without reporting the injected bug" >&2
  exit 1
fi
if ! grep -q "ionsim fuzz oracle violation" "$work/log"; then
  tail -n 40 "$work/log"
  echo "FAIL: the fuzzer crashed, but not through an oracle" >&2
  exit 1
fi
echo "FOUND after $(printf '%.1f' "$(echo "$end - $start" | bc)") s ($(grep -c '^#[0-9]' "$work/log") progress lines)"
sed -n '/==== ionsim fuzz oracle violation/,/^$/p' "$work/log" | head -n 60
echo "--- the finding decoded (ionsim decode $crash):"
"$ionsim" decode "$crash"
