// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The throughput of a harness as libFuzzer executes it, without libFuzzer's file reading and corpus
// bookkeeping. Linked into a harness, it defines LLVMFuzzerInitialize, which libFuzzer's driver (and
// //fuzz:replay_main) calls at startup: when IONSIM_FUZZ_BENCH=N[:ROUNDS[:LEN]] is in the environment it makes N
// inputs of LEN random bytes (default 256, which the op-program fuzzer decodes into 32 operations) from a fixed
// seed, runs LLVMFuzzerTestOneInput on every one ROUNDS times (default 5), prints the inputs per second of each
// round and of the best one, and exits. Without the variable it does nothing. The binary, its instrumentation and
// its oracles are exactly those of the campaigns (tools/fuzz/bench_ops.sh).
#include <time.h>

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
  // Wall-clock time, and the process's CPU time, which a busy or shared machine disturbs less.
  auto cpu_seconds = [] {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  };
  double best = 0, best_cpu = 0;
  for (unsigned long r = 1; r <= rounds; r++) {
    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = cpu_seconds();
    for (const std::vector<uint8_t>& input : inputs) LLVMFuzzerTestOneInput(input.data(), input.size());
    const double cpu = cpu_seconds() - cpu_start;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double rate = static_cast<double>(n) / seconds;
    const double cpu_rate = static_cast<double>(n) / cpu;
    if (rate > best) best = rate;
    if (cpu_rate > best_cpu) best_cpu = cpu_rate;
    std::printf("round %lu: %lu inputs of %lu bytes in %.1f ms (%.1f ms of CPU): %.0f inputs/s (%.1f us each), "
                "%.0f per CPU second\n",
                r, n, len, seconds * 1e3, cpu * 1e3, rate, 1e6 / rate, cpu_rate);
  }
  std::printf("best: %.0f inputs/s, %.0f inputs per CPU second\n", best, best_cpu);
  std::fflush(stdout);
  std::exit(0);
}
