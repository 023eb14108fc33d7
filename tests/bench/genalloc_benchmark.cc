// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// genalloc alloc+free pairs per second on a 1 GiB pool of 4 KiB granules (ION's carveout configuration) at a
// steady fill level. Set-up: fill the pool completely with blocks of 1..32 granules (4 KiB .. 128 KiB), then
// free randomly chosen blocks until the fill level is reached, which scatters holes over the whole pool. Each
// iteration frees one random live block and allocates a new one of random size with first fit, so the fill
// level stays where it is. Allocations that find no hole are counted as "failed".
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include "benchmark/benchmark.h"
#include "model/kernel/genalloc.h"

namespace ionsim::kernel {
namespace {

constexpr unsigned long kBase = 0x40000000UL;
constexpr size_t kPoolSize = size_t{1} << 30;
constexpr int kOrder = 12;

void BM_GenallocAllocFreePair(benchmark::State& state) {
  const double fill = static_cast<double>(state.range(0)) / 100.0;
  std::mt19937_64 rng(42);
  auto random_size = [&rng] { return (1 + rng() % 32) << kOrder; };

  struct gen_pool* pool = gen_pool_create(kOrder, -1);
  if (!gen_pool_add(pool, kBase, kPoolSize, -1).ok()) {
    state.SkipWithError("gen_pool_add failed");
    return;
  }
  std::vector<std::pair<unsigned long, size_t>> live;
  size_t used = 0;
  for (;;) {
    const size_t size = random_size();
    const unsigned long addr = gen_pool_alloc(pool, size);
    if (addr == 0) break;
    live.emplace_back(addr, size);
    used += size;
  }
  auto free_random = [&] {
    const size_t i = rng() % live.size();
    gen_pool_free(pool, live[i].first, live[i].second);
    used -= live[i].second;
    live[i] = live.back();
    live.pop_back();
  };
  while (static_cast<double>(used) > fill * static_cast<double>(kPoolSize)) free_random();

  int64_t failed = 0;
  for (auto _ : state) {
    free_random();
    const size_t size = random_size();
    const unsigned long addr = gen_pool_alloc(pool, size);
    if (addr != 0) {
      live.emplace_back(addr, size);
      used += size;
    } else {
      ++failed;
    }
    benchmark::DoNotOptimize(addr);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["failed"] = static_cast<double>(failed);
  state.counters["fill_%"] = 100.0 * static_cast<double>(used) / static_cast<double>(kPoolSize);
  for (const auto& [addr, size] : live) gen_pool_free(pool, addr, size);
  gen_pool_destroy(pool);
}

BENCHMARK(BM_GenallocAllocFreePair)->Arg(50)->Arg(90)->Unit(benchmark::kNanosecond);

}  // namespace
}  // namespace ionsim::kernel
