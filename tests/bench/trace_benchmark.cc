// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Trace executor throughput on the model: 32-operation random traces (tools/trace/generator.h), each on a
// fresh machine as the crosscheck and a fuzzer run them, with and without the canonical output text; and the
// boot + shutdown of the machine alone, which is part of every trace.
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "model/backend/board_config.h"
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

void BM_Random32OpTraces(benchmark::State& state) {
  const ModelConfig config = Config();
  std::vector<Trace> traces;
  for (uint64_t seed = 1; seed <= 256; ++seed) traces.push_back(GenerateTrace(seed, 32));
  ExecOptions options;
  options.build_output = state.range(0) != 0;
  options.heaps = HeapTable(config);
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

}  // namespace
}  // namespace ionsim::trace
