#!/usr/bin/env bash
# Throughput of the op-program fuzzer on programs of exactly 32 operations with every oracle on: builds
# //fuzz:ion_ops_fuzzer (--config=fuzznoasan, or --config=fuzz with --asan), writes N inputs of 256 random bytes
# from a fixed seed (fuzz/ion_program.h: 8 bytes per operation, so each decodes to 32 operations after the
# prelude), runs the libFuzzer binary over all of them in one process ROUNDS times and prints the programs per
# second of each round and of the best one. Each run includes libFuzzer reading every input from its file.
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
bazel build --config="$config" //fuzz:ion_ops_fuzzer >/dev/null 2>&1 || bazel build --config="$config" //fuzz:ion_ops_fuzzer
bin=$(bazel info --config="$config" bazel-bin 2>/dev/null)/fuzz/ion_ops_fuzzer
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$work" "$n" <<'EOF'
import random, sys
out, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(20261203)
for i in range(n):
    with open('%s/%05d' % (out, i), 'wb') as f:
        f.write(bytes(rng.getrandbits(8) for _ in range(256)))
EOF
best=0
for ((r = 1; r <= rounds; r++)); do
  start=$(date +%s%N)
  "$bin" "$work"/* >"$work/log" 2>&1 || { tail -n 30 "$work/log"; echo "FAIL: the fuzzer stopped" >&2; exit 1; }
  end=$(date +%s%N)
  rate=$(( n * 1000000000 / (end - start) ))
  (( rate > best )) && best=$rate
  echo "round $r: $n programs in $(( (end - start) / 1000000 )) ms: $rate programs/s"
done
echo "best: $best programs/s (--config=$config, 32 operations each, every oracle on)"
