// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// A trace run after a module reload on a machine that ran other traces gives the output it gives on a freshly
// booted machine: nothing of a previous trace reaches the next one (MachineMode::kReload against kFresh).
#include "tools/trace/model_runner.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "tools/trace/executor.h"
#include "tools/trace/generator.h"
#include "tools/trace/trace.h"

namespace ionsim::trace {
namespace {

// The generator set up for a board's heaps, as the crosscheck does (whole-list shrinks only).
GeneratorOptions GeneratorFor(const ModelConfig& config) {
  GeneratorOptions gen = GeneratorOptionsFor(config);
  gen.partial_shrink = false;
  return gen;
}

struct Outcome {
  bool ok = false;
  std::string failures;
  std::string output;  // after NormaliseAddressOrder
};

// Runs traces on the board in the mode. One runner at a time: a machine registers /dev/ion, and a kReload
// runner keeps its machine until it is destroyed.
std::vector<Outcome> RunAll(const std::string& board, MachineMode mode, const std::vector<Trace>& traces) {
  std::string error;
  std::unique_ptr<ModelRunner> runner = ModelRunner::Create(board, true, &error, mode);
  EXPECT_NE(runner, nullptr) << error;
  std::vector<Outcome> outcomes;
  if (!runner) return outcomes;
  for (const Trace& t : traces) {
    ExecReport report;
    Outcome o;
    o.ok = runner->Run(t, true, true, &report);
    o.failures = report.error;
    for (const std::string& f : report.failures) o.failures += f + "\n";
    o.output = NormaliseAddressOrder(report.output);
    outcomes.push_back(std::move(o));
  }
  return outcomes;
}

// Runs `count` random traces of `ops` operations on the board both ways and requires clean runs and
// byte-identical canonical outputs (after NormaliseAddressOrder, as the crosscheck compares).
void ExpectReloadMatchesFreshBoot(const std::string& board, uint64_t first_seed, int count, int ops) {
  std::string error;
  std::string board_text;
  ASSERT_TRUE(ResolveBoard(board, &board_text, &error)) << error;
  std::vector<Trace> traces;
  {
    std::unique_ptr<ModelRunner> runner = ModelRunner::Create(board_text, true, &error);
    ASSERT_NE(runner, nullptr) << error;
    const GeneratorOptions gen = GeneratorFor(runner->config());
    for (int i = 0; i < count; ++i) traces.push_back(GenerateTrace(first_seed + static_cast<uint64_t>(i), ops, gen));
  }
  const std::vector<Outcome> fresh = RunAll(board_text, MachineMode::kFresh, traces);
  const std::vector<Outcome> reload = RunAll(board_text, MachineMode::kReload, traces);
  ASSERT_EQ(fresh.size(), traces.size());
  ASSERT_EQ(reload.size(), traces.size());
  size_t lines = 0;
  for (size_t i = 0; i < traces.size(); ++i) {
    EXPECT_TRUE(fresh[i].ok) << board << " trace " << i << ": " << fresh[i].failures;
    EXPECT_TRUE(reload[i].ok) << board << " trace " << i << ": " << reload[i].failures;
    ASSERT_EQ(reload[i].output, fresh[i].output) << board << " trace " << i << "\n" << PrintTrace(traces[i]);
    lines += static_cast<size_t>(std::count(fresh[i].output.begin(), fresh[i].output.end(), '\n'));
  }
  // The traces did run: a line per operation, and the final state dump's lines.
  EXPECT_GT(lines, traces.size() * static_cast<size_t>(ops));
}

TEST(ModelRunnerTest, ATraceAfterAModuleReloadGivesTheOutputOfAFreshMachineOnTheDummyBoard) {
  ExpectReloadMatchesFreshBoot("dummy", 1, 300, 40);
}

// The phone board has a dma heap (its CMA area is destroyed and made again by every reload), a 3 GiB machine and
// heap ids that are not 0..n-1.
TEST(ModelRunnerTest, ATraceAfterAModuleReloadGivesTheOutputOfAFreshMachineOnThePhoneBoard) {
  ExpectReloadMatchesFreshBoot("phone", 1001, 60, 40);
}

}  // namespace
}  // namespace ionsim::trace
