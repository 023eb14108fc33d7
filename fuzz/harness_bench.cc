// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The throughput of a harness as libFuzzer executes it, without libFuzzer's file reading and corpus
// bookkeeping. Linked into a harness, it defines LLVMFuzzerInitialize, which libFuzzer's driver (and
// //fuzz:replay_main) calls at startup: when IONSIM_FUZZ_BENCH=N[:ROUNDS[:LEN]] is in the environment it makes N
// inputs of LEN random bytes (default 256, which the op-program fuzzer decodes into 32 operations) from a fixed
// seed, runs LLVMFuzzerTestOneInput on every one ROUNDS times (default 5), prints the inputs per second of each
// round and of the best one, and exits. Without the variable it does nothing. The binary, its instrumentation and
// its oracles are exactly those of the campaigns (tools/fuzz/bench_ops.sh).
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  const char* spec = std::getenv("IONSIM_FUZZ_BENCH");
  if (spec == nullptr || spec[0] == '\0') return 0;
  unsigned long n = 0, rounds = 5, len = 256;
  if (std::sscanf(spec, "%lu:%lu:%lu", &n, &rounds, &len) < 1 || n == 0 || rounds == 0 || len == 0) {
    std::fprintf(stderr, "IONSIM_FUZZ_BENCH=%s: expected N[:ROUNDS[:LEN]]\n", spec);
    std::exit(2);
  }
  std::mt19937_64 rng(20261203);
  std::vector<std::vector<uint8_t>> inputs(n, std::vector<uint8_t>(len));
  for (std::vector<uint8_t>& input : inputs) {
    for (uint8_t& b : input) b = static_cast<uint8_t>(rng());
  }
  double best = 0;
  for (unsigned long r = 1; r <= rounds; r++) {
    const auto start = std::chrono::steady_clock::now();
    for (const std::vector<uint8_t>& input : inputs) LLVMFuzzerTestOneInput(input.data(), input.size());
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double rate = static_cast<double>(n) / seconds;
    if (rate > best) best = rate;
    std::printf("round %lu: %lu inputs of %lu bytes in %.1f ms: %.0f inputs/s (%.1f us each)\n", r, n, len,
                seconds * 1e3, rate, 1e6 / rate);
  }
  std::printf("best: %.0f inputs/s\n", best);
  std::fflush(stdout);
  std::exit(0);
}
