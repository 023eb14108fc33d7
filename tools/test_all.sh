#!/usr/bin/env bash
# Runs every ionsim test: the whole suite under the default config (gcc), AddressSanitizer and
# UndefinedBehaviorSanitizer, the tests that run threads under ThreadSanitizer; the clang build with the thread-safety analysis; the fuzz
# build with a short run of every fuzzer from its committed corpus; the kernel module in QEMU
# (tools/qemu/ionsim-qemu). Stops at the first failure.
# Usage: tools/test_all.sh   (after tools/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n=== %s\n' "$*"; }

step "default (gcc): bazel test //..."
bazel test //...

step "asan: bazel test --config=asan //..."
bazel test --config=asan //...

step "ubsan: bazel test --config=ubsan //..."
bazel test --config=ubsan //...

# ThreadSanitizer where threads are involved: the interleaving scheduler and explorer, the lock, file and
# memory primitives the model's tests run from several threads, the concurrency tests, the executor and trace
# tests of threaded traces, the preload (fork, its lock) and the command line that drives them.
tsan_targets=(//tests/explore/... //tests/kernel/... //tests/model:ion_concurrency_test //tools/trace:executor_test
  //tools/trace:trace_test //tools/preload/... //tests/tools:cli_test)
step "tsan: bazel test --config=tsan ${tsan_targets[*]}"
bazel test --config=tsan "${tsan_targets[@]}"

step "clang-14 with -Wthread-safety: bazel build --config=clang //..."
bazel build --config=clang //...

step "fuzz (libFuzzer): bazel build --config=fuzz //fuzz/..., then 20 s per fuzzer"
bazel build --config=fuzz //fuzz/...
work=$(mktemp -d)
for fuzzer in $(bazel query 'kind(cc_binary, //fuzz/...) except //fuzz:replay_main' 2>/dev/null); do
  name=${fuzzer##*:}
  corpus=fuzz/corpus/${name%_fuzzer}
  mkdir -p "$work/$name"
  cp "$corpus"/* "$work/$name/"
  echo "--- $name"
  if ! "bazel-bin/fuzz/$name" -max_total_time=20 -print_final_stats=1 -artifact_prefix="$work/$name-" \
      "$work/$name" >"$work/$name.log" 2>&1; then
    tail -n 60 "$work/$name.log"
    echo "FAIL: $name found a crash (input saved as $work/$name-crash-*)" >&2
    exit 1
  fi
  grep -E '^stat::(number_of_executed_units|average_exec_per_sec)' "$work/$name.log"
done

step "kernel module in QEMU: ionsim-qemu selftest, smoke (dummy and msm8x25 boards), conformance tests, examples"
# The phone board's heaps span 424 MiB: more than one 128 MiB memory section, so a reservation for it would
# hold a section without RAM and without struct pages, which the module refuses; it is not booted here.
tools/qemu/ionsim-qemu selftest
tools/qemu/ionsim-qemu smoke
tools/qemu/ionsim-qemu smoke --no-build --board msm8x25
bazel build //tests/conformance:conformance_kernel_test
tools/qemu/ionsim-qemu run --no-build --timeout 120 \
  --bin bazel-bin/tests/conformance/conformance_kernel_test -- conformance_kernel_test
# The example programs print in the guest what they print on the model under `ionsim exec` (one boot).
examples/guest_compare.sh

step "trace crosscheck: the scenario corpus and 500 random traces, model vs the module in one QEMU boot"
bazel build //tools/ionsim //tools/trace:ionsim-guest-replay
bazel-bin/tools/ionsim/ionsim crosscheck --random 500 --seed 1 --out-dir "$(mktemp -d)" tests/traces/*.trace

step "fuzz corpora on the module: every committed ion_ops_fuzzer input, decoded, on the fuzz board"
bazel-bin/tools/ionsim/ionsim crosscheck --corpus fuzz/corpus/ion_ops,fuzz/reproducers/ion_ops --out-dir "$(mktemp -d)"

step "trace crosscheck per profile: each profile's scenario traces and 500 random traces (docs/profiles.md)"
for profile in 4.4 4.4.0 android-3.18; do
  bazel-bin/tools/ionsim/ionsim crosscheck --profile "$profile" --random 500 --seed 1 --out-dir "$(mktemp -d)" \
    tests/traces/"$profile"/*.trace
done

step "all tests passed"
