#!/usr/bin/env bash
# Throughput of the op-program fuzzer on programs of exactly 32 operations with every oracle on. Builds
# //fuzz:ion_ops_fuzzer (--config=fuzznoasan, or --config=fuzz with --asan) and measures the libFuzzer binary two
# ways, each over N inputs of 256 random bytes from a fixed seed (fuzz/ion_program.h: 8 bytes per operation, so
# every input decodes to 32 operations after the prelude), ROUNDS times:
#   - in memory: IONSIM_FUZZ_BENCH (fuzz/harness_bench.cc) runs LLVMFuzzerTestOneInput on inputs it made itself,
#     which is the harness's own cost per execution;
#   - from files: libFuzzer runs the inputs written to a directory, reading each from its file first.
# Prints every round and the best of each way in programs per second.
# Usage: tools/fuzz/bench_ops.sh [--asan] [N] [ROUNDS]   (defaults: 3000 inputs, 5 rounds)
set -euo pipefail
cd "$(dirname "$0")/../.."
config=fuzznoasan
if [[ ${1:-} == --asan ]]; then
  config=fuzz
  shift
fi
n=${1:-3000}
rounds=${2:-5}
bazel build --config="$config" --symlink_prefix=/ //fuzz:ion_ops_fuzzer >/dev/null 2>&1 || bazel build --config="$config" --symlink_prefix=/ //fuzz:ion_ops_fuzzer
bin=$(bazel info --config="$config" bazel-bin 2>/dev/null)/fuzz/ion_ops_fuzzer
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "in memory (--config=$config):"
IONSIM_FUZZ_BENCH="$n:$rounds:256" "$bin" 2>/dev/null | sed 's/^/  /' | tee "$work/memory"
memory=$(awk '/^  best:/ {print $2}' "$work/memory")

python3 - "$work/inputs" "$n" <<'EOF'
import os, random, sys
out, n = sys.argv[1], int(sys.argv[2])
os.makedirs(out)
rng = random.Random(20261203)
for i in range(n):
    with open('%s/%05d' % (out, i), 'wb') as f:
        f.write(bytes(rng.getrandbits(8) for _ in range(256)))
EOF
echo "from files (--config=$config):"
best=0
for ((r = 1; r <= rounds; r++)); do
  start=$(date +%s%N)
  "$bin" "$work"/inputs/* >"$work/log" 2>&1 || { tail -n 30 "$work/log"; echo "FAIL: the fuzzer stopped" >&2; exit 1; }
  end=$(date +%s%N)
  rate=$(( n * 1000000000 / (end - start) ))
  (( rate > best )) && best=$rate
  echo "  round $r: $n programs in $(( (end - start) / 1000000 )) ms: $rate programs/s"
done
echo "best: $memory programs/s in memory, $best programs/s from files (--config=$config, 32 operations each, every oracle on)"
