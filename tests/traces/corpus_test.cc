// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Replays every trace of the scenario corpus (given on the command line) on the model: every expected result
// must match, the invariant checker must hold after every operation, the machine must shut down without leaks,
// and a WARN may come only where a line expects one.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/traces/corpus_files.h"
#include "tools/trace/executor.h"
#include "tools/trace/model_runner.h"
#include "tools/trace/trace.h"

namespace ionsim::trace {
namespace {

TEST(CorpusTest, EveryTraceMeetsItsExpectedResultsAndTheInvariants) {
  const std::vector<std::string> paths = CorpusPaths();
  ASSERT_GE(paths.size(), 9u);
  int expectations = 0;
  for (const std::string& path : paths) {
    SCOPED_TRACE(path);
    Trace t;
    std::string error;
    ASSERT_TRUE(ParseTrace(ReadCorpusFile(path), &t, &error)) << error;
    std::string board;
    ASSERT_TRUE(ResolveBoard(t.board, &board, &error)) << error;
    std::unique_ptr<ModelRunner> runner = ModelRunner::Create(board, false, &error);
    ASSERT_NE(runner, nullptr) << error;
    ASSERT_TRUE(runner->SetProfile(t.profile, &error)) << error;
    // A trace in tests/traces/<profile>/ names that profile.
    const std::string dir = std::filesystem::path(path).parent_path().filename().string();
    if (dir != "traces") {
      EXPECT_EQ(t.profile, dir);
    }
    ExecReport report;
    EXPECT_TRUE(runner->Run(t, true, true, &report)) << report.error;
    for (const std::string& f : report.failures) ADD_FAILURE() << f;
    for (const Op& op : t.ops) expectations += !op.expect.empty();
    // The printed trace replays to the same output.
    Trace again;
    ASSERT_TRUE(ParseTrace(PrintTrace(t), &again, &error)) << error;
    EXPECT_TRUE(t.SameAs(again));
  }
  // The corpus pins results, not only runs.
  EXPECT_GE(expectations, 120);
}

TEST(CorpusTest, ReplayIsDeterministic) {
  for (const std::string& path : CorpusPaths()) {
    SCOPED_TRACE(path);
    Trace t;
    std::string error;
    ASSERT_TRUE(ParseTrace(ReadCorpusFile(path), &t, &error)) << error;
    std::unique_ptr<ModelRunner> runner = ModelRunner::Create(t.board.empty() ? "dummy" : t.board, false, &error);
    ASSERT_NE(runner, nullptr) << error;
    ASSERT_TRUE(runner->SetProfile(t.profile, &error)) << error;
    ExecReport a;
    ExecReport b;
    runner->Run(t, true, true, &a);
    runner->Run(t, true, false, &b);
    // Free lists compare as sequences except their client-destroy runs (NormaliseAddressOrder).
    EXPECT_EQ(NormaliseAddressOrder(a.output), NormaliseAddressOrder(b.output));
  }
}

}  // namespace
}  // namespace ionsim::trace

