// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// ION model throughput through the model backend, as userspace drives it (libion: each ioctl argument written
// to and read back from the process's memory): legacy ALLOC+FREE pairs, SHARE+IMPORT+FREE+close cycles, and
// the host memory 100,000 live 4 KiB carveout buffers cost.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <vector>

#include "benchmark/benchmark.h"
#include "kmod/uapi/ion.h"
#include "model/backend/libion.h"
#include "model/backend/model_backend.h"

namespace ionsim {
namespace {

constexpr unsigned int kContigMask = 1U << 1;
constexpr unsigned int kCarveoutMask = 1U << 2;

struct Session {
  std::unique_ptr<ModelBackend> backend;
  std::unique_ptr<LibIon> ion;
  int fd = -1;
};

Session Boot(const ModelConfig& config) {
  Session s;
  ErrnoOr<std::unique_ptr<ModelBackend>> backend = ModelBackend::Create(config);
  if (!backend.ok()) return s;
  s.backend = std::move(backend).value();
  ErrnoOr<ProcId> proc = s.backend->spawn("bench");
  if (!proc.ok()) return s;
  s.ion = std::make_unique<LibIon>(s.backend.get(), proc.value());
  ErrnoOr<int> fd = s.ion->Open();
  if (fd.ok()) s.fd = fd.value();
  return s;
}

void AllocFreePairs(benchmark::State& state, size_t len, unsigned int mask) {
  Session s = Boot(CoreModelConfig());
  if (s.fd < 0) {
    state.SkipWithError("boot failed");
    return;
  }
  for (auto _ : state) {
    ErrnoOr<int> handle = s.ion->Alloc(s.fd, len, 0, mask, 0);
    if (!handle.ok() || !s.ion->Free(s.fd, handle.value()).ok()) {
      state.SkipWithError("ALLOC+FREE failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["pairs/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

// 4 KiB from the carveout: genalloc first fit, zeroing on free, deferred free drained by the allocation that
// finds the carveout full (as ion_buffer_create's retry does).
void BM_LegacyAllocFree4KiBCarveout(benchmark::State& state) { AllocFreePairs(state, 4096, kCarveoutMask); }
BENCHMARK(BM_LegacyAllocFree4KiBCarveout);

// 1 MiB from system_contig: an order-8 block from the buddy allocator, zeroed at allocation.
void BM_LegacyAllocFree1MiBSystemContig(benchmark::State& state) { AllocFreePairs(state, 1 << 20, kContigMask); }
BENCHMARK(BM_LegacyAllocFree1MiBSystemContig);

// The same pairs as a tight userspace loop issues them: both argument structs written once to the process's
// memory and reused (the id FREE names is always 1: ALLOC hands out the lowest free id, reused at once).
void BM_RawIoctlAllocFree4KiBCarveout(benchmark::State& state) {
  Session s = Boot(CoreModelConfig());
  const uint64_t user = s.fd < 0 ? 0 : s.ion->Scratch();
  if (user == 0) {
    state.SkipWithError("boot failed");
    return;
  }
  ion_allocation_data alloc = {};
  alloc.len = 4096;
  alloc.heap_id_mask = kCarveoutMask;
  ion_handle_data free_arg = {1};
  const uint64_t alloc_at = user;
  const uint64_t free_at = user + 64;
  const ProcId proc = s.ion->proc();
  if (!s.backend->poke(proc, alloc_at, &alloc, sizeof(alloc)).ok() ||
      !s.backend->poke(proc, free_at, &free_arg, sizeof(free_arg)).ok()) {
    state.SkipWithError("poke failed");
    return;
  }
  for (auto _ : state) {
    if (!s.backend->ioctl(proc, s.fd, ION_IOC_ALLOC, alloc_at).ok() ||
        !s.backend->ioctl(proc, s.fd, ION_IOC_FREE, free_at).ok()) {
      state.SkipWithError("ALLOC+FREE failed");
      break;
    }
  }
  state.counters["pairs/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_RawIoctlAllocFree4KiBCarveout);

// One buffer, then per iteration: SHARE (a dma-buf and an fd), IMPORT (the same handle, +1), FREE (-1), close.
void BM_ShareImportFreeClose(benchmark::State& state) {
  Session s = Boot(CoreModelConfig());
  ErrnoOr<int> handle = s.fd < 0 ? ErrnoOr<int>(Errno(-ENODEV)) : s.ion->Alloc(s.fd, 4096, 0, kCarveoutMask, 0);
  if (!handle.ok()) {
    state.SkipWithError("boot failed");
    return;
  }
  for (auto _ : state) {
    ErrnoOr<int> share = s.ion->Share(s.fd, handle.value());
    if (!share.ok() || !s.ion->Import(s.fd, share.value()).ok() || !s.ion->Free(s.fd, handle.value()).ok() ||
        !s.backend->close(s.ion->proc(), share.value()).ok()) {
      state.SkipWithError("cycle failed");
      break;
    }
  }
  state.counters["cycles/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ShareImportFreeClose);

constexpr unsigned int kSystemMask = 1U << 0;

// System heap ALLOC+FREE of one uncached buffer, then the heap's deferred-free thread's work (the buffer is
// zeroed and its chunks go back to the page pools). After the first iteration every chunk comes from a pool:
// 1 MiB is one order-8 block, 8 MiB eight of them.
void SystemHeapAllocFree(benchmark::State& state, size_t len) {
  Session s = Boot(AllHeapsModelConfig());
  if (s.fd < 0) {
    state.SkipWithError("boot failed");
    return;
  }
  for (auto _ : state) {
    ErrnoOr<int> handle = s.ion->Alloc(s.fd, len, 0, kSystemMask, 0);
    if (!handle.ok() || !s.ion->Free(s.fd, handle.value()).ok() || !s.backend->run_deferred_free().ok()) {
      state.SkipWithError("ALLOC+FREE failed");
      break;
    }
  }
  state.counters["pairs/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_SystemHeapAllocFree1MiB(benchmark::State& state) { SystemHeapAllocFree(state, 1 << 20); }
BENCHMARK(BM_SystemHeapAllocFree1MiB);

void BM_SystemHeapAllocFree8MiB(benchmark::State& state) { SystemHeapAllocFree(state, 8 << 20); }
BENCHMARK(BM_SystemHeapAllocFree8MiB);

// The shrinker scanning 1 GiB of pooled pages: 128 uncached 8 MiB buffers are allocated, freed and drained so
// the system heap's order-8 pool holds 1 GiB (1,024 blocks); the timed part is one write of 0 to
// heaps/system_shrink (count, then scan everything). A 4 GiB machine, all lowmem.
void BM_ShrinkerScan1GiBPooled(benchmark::State& state) {
  ModelConfig config = AllHeapsModelConfig();
  config.ram_size = 4ULL << 30;
  config.lowmem_size = config.ram_size;
  const uint64_t top = config.ram_base + config.ram_size;
  config.heaps[2].base = top - (4ULL << 20);
  config.heaps[3].base = top - (8ULL << 20);
  config.heaps[4].base = top - (16ULL << 20);
  Session s = Boot(config);
  if (s.fd < 0) {
    state.SkipWithError("boot failed");
    return;
  }
  constexpr int kBuffers = 128;
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<int> handles;
    for (int i = 0; i < kBuffers; i++) {
      ErrnoOr<int> handle = s.ion->Alloc(s.fd, 8 << 20, 0, kSystemMask, 0);
      if (!handle.ok()) break;
      handles.push_back(handle.value());
    }
    for (int handle : handles) s.ion->Free(s.fd, handle).IgnoreError();
    s.backend->run_deferred_free().IgnoreError();
    if (handles.size() != kBuffers) {
      state.SkipWithError("filling the pools failed");
      break;
    }
    state.ResumeTiming();
    if (!s.backend->debugfs_write("ion/heaps/system_shrink", "0").ok()) {
      state.SkipWithError("shrink failed");
      break;
    }
  }
  state.SetBytesProcessed(state.iterations() * (1LL << 30));
}
BENCHMARK(BM_ShrinkerScan1GiBPooled)->Unit(benchmark::kMillisecond);

long ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  statm >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

// Host memory for 100,000 live 4 KiB carveout buffers (512 MiB carveout), none of them touched: the growth of
// the resident set, so run it once in a fresh process (--benchmark_filter=HostMemory).
void BM_HostMemoryFor100kLiveBuffers(benchmark::State& state) {
  constexpr int kBuffers = 100000;
  for (auto _ : state) {
    ModelConfig config = CoreModelConfig();
    config.ram_size = 1ULL << 30;
    config.lowmem_size = 768ULL << 20;
    config.heaps[1].size = 512ULL << 20;
    config.heaps[1].base = config.ram_base + config.ram_size - config.heaps[1].size;
    Session s = Boot(config);
    if (s.fd < 0) {
      state.SkipWithError("boot failed");
      return;
    }
    const long before = ResidentBytes();
    for (int i = 0; i < kBuffers; i++) {
      if (!s.ion->Alloc(s.fd, 4096, 0, kCarveoutMask, 0).ok()) {
        state.SkipWithError("ALLOC failed");
        return;
      }
    }
    const long after = ResidentBytes();
    state.counters["MiB"] = static_cast<double>(after - before) / (1 << 20);
    state.counters["bytes/buffer"] = static_cast<double>(after - before) / kBuffers;
  }
}
BENCHMARK(BM_HostMemoryFor100kLiveBuffers)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace ionsim
