#!/bin/bash -eu
# Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#
# Builds every ionsim fuzz harness for ClusterFuzzLite / OSS-Fuzz without Bazel: the sources each harness needs
# are compiled directly with $CC/$CXX and $CFLAGS/$CXXFLAGS (the engine's instrumentation and sanitizer), linked
# with $LIB_FUZZING_ENGINE into $OUT/<name>, with $OUT/<name>_seed_corpus.zip, $OUT/<name>.options and (ION harnesses) $OUT/<name>.dict.
# Locally: CC=clang-14 CXX=clang++-14 CFLAGS="-fsanitize=fuzzer-no-link,address" \
#   CXXFLAGS="-fsanitize=fuzzer-no-link,address" LIB_FUZZING_ENGINE=-fsanitize=fuzzer OUT=/tmp/out \
#   .clusterfuzzlite/build.sh
# The repository: next to this script, or $SRC/ionsim when the builder runs it as $SRC/build.sh.
here=$(cd "$(dirname "$0")" && pwd)
if [[ -f "$here/../fuzz/ion_program.cc" ]]; then cd "$here/.."; else cd "$SRC/ionsim"; fi
: "${OUT:?set OUT}" "${CC:?set CC}" "${CXX:?set CXX}" "${LIB_FUZZING_ENGINE:?set LIB_FUZZING_ENGINE}"
CFLAGS=${CFLAGS:-}
CXXFLAGS=${CXXFLAGS:-}
obj=${WORK:-$(mktemp -d)}/ionsim-obj
mkdir -p "$obj" "$OUT"

# The model (model/ and model/kernel/), its machine (model/backend/), the board parser (kmod/), the trace
# library the op fuzzer runs its programs with, the fuzz machine and oracles, and the genalloc reference.
cxx_sources=(
  model/*.cc
  model/kernel/*.cc
  model/backend/board_config.cc
  model/backend/model_backend.cc
  tools/trace/trace.cc
  tools/trace/executor.cc
  fuzz/ion_program.cc
  fuzz/fuzz_machine.cc
  tests/testing/genalloc_reference.cc
)
# As in the Bazel fuzz configs (.bazelrc), when the engine is libFuzzer: the model's plumbing, the model backend,
# the trace library, the harnesses' decoding and oracles and the test reference are built without its
# instrumentation, and the kernel code ION drives (genalloc aside) keeps edge coverage without comparison tracing.
coverage_flags() {
  [[ " $CXXFLAGS " == *fuzzer-no-link* ]] || return 0
  case "$1" in
    model/kernel/lock.cc | model/kernel/slab.cc | model/kernel/bug.cc | model/kernel/printk.cc | \
      model/kernel/current.cc | model/kernel/sched.cc | model/kernel/err.cc | model/kernel/seq_file.cc | \
      model/kernel/debugfs.cc | model/backend/* | tools/* | fuzz/ion_program.cc | fuzz/fuzz_machine.cc | \
      fuzz/ion_ops_fuzzer.cc | tests/*)
      echo "-fno-sanitize=fuzzer-no-link" ;;
    model/kernel/genalloc*) ;;
    model/kernel/*) echo "-fno-sanitize-coverage=trace-cmp" ;;
  esac
}
objects=()
for src in ${cxx_sources[@]}; do
  o="$obj/${src//\//_}.o"
  # shellcheck disable=SC2086
  $CXX $CXXFLAGS $(coverage_flags "$src") -std=c++20 -I. -c "$src" -o "$o" &
  objects+=("$o")
  # One compiler per CPU.
  while (( $(jobs -rp | wc -l) >= $(nproc) )); do wait -n; done
done
# shellcheck disable=SC2086
$CC $CFLAGS -std=gnu11 -I. -c kmod/ion_board.c -o "$obj/kmod_ion_board.o" &
objects+=("$obj/kmod_ion_board.o")
wait

for harness in ion_ops ion_ioctl genalloc; do
  name=${harness}_fuzzer
  # shellcheck disable=SC2086
  $CXX $CXXFLAGS $(coverage_flags "fuzz/$name.cc") -std=c++20 -I. -c "fuzz/$name.cc" -o "$obj/$name.o"
  # shellcheck disable=SC2086
  $CXX $CXXFLAGS "$obj/$name.o" "${objects[@]}" $LIB_FUZZING_ENGINE -lpthread -o "$OUT/$name"
  rm -f "$OUT/${name}_seed_corpus.zip"
  (cd "fuzz/corpus/$harness" && zip -q -j "$OUT/${name}_seed_corpus.zip" ./*)
  if [[ $harness == ion_* ]]; then cp fuzz/ion.dict "$OUT/$name.dict"; fi
  printf '[libfuzzer]\nmax_len = %s\n' "$([[ $harness == ion_ops ]] && echo 256 || echo 4096)" >"$OUT/$name.options"
done
echo "built: $(cd "$OUT" && ls ./*_fuzzer | tr '\n' ' ')"
