// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "tools/trace/generator.h"

#include <map>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "tools/trace/executor.h"
#include "tools/trace/model_runner.h"
#include "tools/trace/trace.h"

namespace ionsim::trace {
namespace {

TEST(GeneratorTest, SameSeedSameTraceOtherSeedOtherTrace) {
  EXPECT_EQ(PrintTrace(GenerateTrace(7, 40)), PrintTrace(GenerateTrace(7, 40)));
  EXPECT_NE(PrintTrace(GenerateTrace(7, 40)), PrintTrace(GenerateTrace(8, 40)));
}

TEST(GeneratorTest, ManySeedsParseAndReplayOnTheModelWithoutViolations) {
  std::string error;
  std::unique_ptr<ModelRunner> runner = ModelRunner::Create("dummy", true, &error);
  ASSERT_NE(runner, nullptr) << error;
  std::map<OpKind, int> kinds;
  int failed_ops = 0;
  int ops = 0;
  for (uint64_t seed = 1; seed <= 400; ++seed) {
    const Trace t = GenerateTrace(seed, 40);
    const std::string text = PrintTrace(t);
    Trace parsed;
    ASSERT_TRUE(ParseTrace(text, &parsed, &error)) << "seed " << seed << ": " << error << "\n" << text;
    for (size_t i = 0; i < t.ops.size() && i < parsed.ops.size(); ++i) {
      ASSERT_TRUE(parsed.ops[i].SameAs(t.ops[i])) << "seed " << seed << " op " << i << ": "
                                                  << FormatOp(t, t.ops[i]);
    }
    ASSERT_TRUE(parsed.SameAs(t)) << "seed " << seed;
    ASSERT_EQ(PrintTrace(parsed), text);
    ExecReport report;
    EXPECT_TRUE(runner->Run(parsed, false, true, &report)) << "seed " << seed << ": " << report.error << "\n"
                                                           << (report.failures.empty() ? "" : report.failures[0])
                                                           << "\n" << text;
    for (size_t i = 0; i < t.ops.size(); ++i) {
      ++kinds[t.ops[i].kind];
      ++ops;
      failed_ops += report.results[i].err != 0;
    }
  }
  // Lifetime-rich: every operation kind the generator promises shows up, and most operations succeed.
  for (OpKind k : {OpKind::kSpawn, OpKind::kFork, OpKind::kExit, OpKind::kOpen, OpKind::kClose, OpKind::kDup,
                   OpKind::kPass, OpKind::kAlloc, OpKind::kFree, OpKind::kShare, OpKind::kMap, OpKind::kImport,
                   OpKind::kSync, OpKind::kNewAlloc, OpKind::kQuery, OpKind::kMmap, OpKind::kMunmap,
                   OpKind::kStore, OpKind::kLoad, OpKind::kDmabufSync, OpKind::kDrain, OpKind::kShrink,
                   OpKind::kState}) {
    EXPECT_GT(kinds[k], 20) << OpName(k);
  }
  EXPECT_LT(failed_ops * 4, ops) << failed_ops << " of " << ops << " operations failed";
}

}  // namespace
}  // namespace ionsim::trace
