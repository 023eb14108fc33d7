// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Trace executor throughput on the model: 32-operation random traces (tools/trace/generator.h), each on a
// fresh machine (as a fuzzer runs them) or each after a module reload on one machine (as the crosscheck runs
// them), with and without the canonical output text; and the boot + shutdown of the machine and the module
// reload alone, one of which is part of every trace.
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "model/backend/board_config.h"
#include "model/backend/libion.h"
#include "model/backend/model_backend.h"
#include "tools/trace/executor.h"
#include "tools/trace/generator.h"
#include "tools/trace/model_runner.h"

namespace ionsim::trace {
namespace {

ModelConfig Config() {
  std::string error;
  ModelConfig c = ModelConfigFromBoard("dummy", &error).value();
  c.lowmem_size = c.ram_size;
  return c;
}

void BM_BootAndShutdown(benchmark::State& state) {
  const ModelConfig config = Config();
  for (auto _ : state) {
    std::unique_ptr<ModelBackend> m = std::move(ModelBackend::Create(config).value());
    benchmark::DoNotOptimize(m->Shutdown());
  }
}
BENCHMARK(BM_BootAndShutdown);

void BM_ModuleReload(benchmark::State& state) {
  std::unique_ptr<ModelBackend> m = std::move(ModelBackend::Create(Config()).value());
  for (auto _ : state) benchmark::DoNotOptimize(m->ReloadModule());
  m->Shutdown();
}
BENCHMARK(BM_ModuleReload);

// 256 random 32-operation traces (seeds 1 to 256), and the executor's options for them: the canonical output
// text built when the benchmark's argument is 1.
std::vector<Trace> RandomTraces() {
  std::vector<Trace> traces;
  for (uint64_t seed = 1; seed <= 256; ++seed) traces.push_back(GenerateTrace(seed, 32));
  return traces;
}
ExecOptions RandomTraceOptions(const ModelConfig& config, const benchmark::State& state) {
  ExecOptions options;
  options.build_output = state.range(0) != 0;
  options.heaps = HeapTable(config);
  return options;
}

void BM_Random32OpTraces(benchmark::State& state) {
  const ModelConfig config = Config();
  const std::vector<Trace> traces = RandomTraces();
  const ExecOptions options = RandomTraceOptions(config, state);
  ExecReport report;
  size_t i = 0;
  for (auto _ : state) {
    std::unique_ptr<ModelBackend> m = std::move(ModelBackend::Create(config).value());
    Executor exec(m.get(), options);
    exec.Run(traces[i++ % traces.size()], &report);
    benchmark::DoNotOptimize(m->Shutdown());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Random32OpTraces)->Arg(0)->Arg(1);

void BM_Random32OpTracesWithReload(benchmark::State& state) {
  const ModelConfig config = Config();
  const std::vector<Trace> traces = RandomTraces();
  const ExecOptions options = RandomTraceOptions(config, state);
  ExecReport report;
  size_t i = 0;
  std::unique_ptr<ModelBackend> m = std::move(ModelBackend::Create(config).value());
  for (auto _ : state) {
    Executor exec(m.get(), options);
    exec.Run(traces[i++ % traces.size()], &report);
    benchmark::DoNotOptimize(m->ReloadModule());
  }
  state.SetItemsProcessed(state.iterations());
  m->Shutdown();
}
BENCHMARK(BM_Random32OpTracesWithReload)->Arg(0)->Arg(1);

// The executor's own cost per operation: one machine, each iteration a process that opens /dev/ion, makes 256
// ALLOC+FREE pairs of a 4 KiB carveout buffer (by handle symbol) and exits; against the same pairs made with
// LibIon directly (its argument structs written to and read back from the process's memory, as the executor's).
void BM_ExecutorAllocFreePairs(benchmark::State& state) {
  std::unique_ptr<ModelBackend> m = std::move(ModelBackend::Create(Config()).value());
  std::string text = "P = spawn bench\nC = open P\n";
  for (int i = 0; i < 256; ++i) {
    text += "H" + std::to_string(i) + " = alloc C len=4K heap=carveout\nfree C H" + std::to_string(i) + "\n";
  }
  text += "exit P\ndrain\n";
  Trace t;
  std::string error;
  if (!ParseTrace(text, &t, &error)) state.SkipWithError(error.c_str());
  ExecOptions options;
  options.build_output = false;
  options.heaps = HeapTable(Config());
  Executor exec(m.get(), options);
  ExecReport report;
  for (auto _ : state) exec.Run(t, &report);
  state.SetItemsProcessed(state.iterations() * 256);
  m->Shutdown();
}
BENCHMARK(BM_ExecutorAllocFreePairs);

void BM_LibIonAllocFreePairs(benchmark::State& state) {
  std::unique_ptr<ModelBackend> m = std::move(ModelBackend::Create(Config()).value());
  for (auto _ : state) {
    const ProcId p = m->spawn("bench").value();
    LibIon ion(m.get(), p);
    const int fd = ion.Open().value();
    for (int i = 0; i < 256; ++i) {
      const int h = ion.Alloc(fd, 4096, 0, 1U << 2, 0).value();
      ion.Free(fd, h).IgnoreError();
    }
    m->exit(p).IgnoreError();
    m->run_deferred_free().IgnoreError();
  }
  state.SetItemsProcessed(state.iterations() * 256);
  m->Shutdown();
}
BENCHMARK(BM_LibIonAllocFreePairs);

}  // namespace
}  // namespace ionsim::trace
