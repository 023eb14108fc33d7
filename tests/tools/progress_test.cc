// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The progress line (tools/ionsim/progress.h) on a fake clock, in both modes, and the commands' progress when
// stderr is not a terminal.
#include "tools/ionsim/progress.h"

#include <cstdio>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/tools/ionsim_runner.h"

namespace ionsim::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

// A Progress writing into a temporary file at times the test sets.
class ProgressTest : public ::testing::Test {
 protected:
  void SetUp() override { file_ = std::tmpfile(); }
  void TearDown() override { std::fclose(file_); }

  Progress::Options Options(int terminal, double interval) {
    Progress::Options o;
    o.out = file_;
    o.terminal = terminal;
    o.interval = interval;
    o.clock = [this] { return now_; };
    return o;
  }
  std::string Written() {
    std::fflush(file_);
    std::rewind(file_);
    std::string text;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), file_)) > 0) text.append(buf, n);
    return text;
  }

  FILE* file_ = nullptr;
  double now_ = 100;
};

TEST_F(ProgressTest, PlainLinesEveryIntervalWithRateAndEta) {
  {
    Progress p("crosscheck guest", "traces", 200, Options(0, 5));
    now_ += 1;
    p.Update(10, "0 diverging so far");  // within the first interval: nothing
    now_ += 4;
    p.Update(50, "1 diverging so far");
    now_ += 2;
    p.Update(60, "1 diverging so far");  // 2 s after the last line: nothing
    now_ += 3;
    p.Update(100, "2 diverging so far");
  }
  EXPECT_EQ(Written(),
            "crosscheck guest: 50/200 traces, 10.0/s, elapsed 5s, ETA 15s, 1 diverging so far\n"
            "crosscheck guest: 100/200 traces, 10.0/s, elapsed 10s, ETA 10s, 2 diverging so far\n"
            "crosscheck guest: 100/200 traces, 10.0/s, elapsed 10s, ETA 10s, 2 diverging so far\n");
}

TEST_F(ProgressTest, AQuickCommandPrintsNothing) {
  {
    Progress p("replay", "operations", 40, Options(0, 5));
    now_ += 0.5;
    p.Update(40);
  }
  {
    Progress p("replay", "operations", 40, Options(1, 0.2));
    now_ += 0.3;
    p.Update(40);
  }
  EXPECT_EQ(Written(), "");
}

TEST_F(ProgressTest, ATerminalLineIsRedrawnInPlace) {
  {
    Progress p("run", "frames", 0, Options(1, 0.2));
    now_ += 0.6;
    p.Update(30);
    now_ += 0.6;
    p.Update(60);
  }
  const std::string text = Written();
  EXPECT_EQ(text,
            "\rrun: 30 frames, 50.0/s, elapsed 1s\x1b[K"
            "\rrun: 60 frames, 50.0/s, elapsed 1s\x1b[K"
            "\rrun: 60 frames, 50.0/s, elapsed 1s\x1b[K\n");
}

TEST_F(ProgressTest, StagesRestartTheCount) {
  Progress p("crosscheck model", "traces", 10, Options(0, 1));
  now_ += 2;
  p.Update(10);
  p.Stage("minimising round 1", "traces", 4);
  now_ += 2;
  p.Update(2);
  p.Finish();
  EXPECT_EQ(Written(),
            "crosscheck model: 10/10 traces, 5.0/s, elapsed 2s\n"
            "minimising round 1: 2/4 traces, 1.0/s, elapsed 2s, ETA 2s\n"
            "minimising round 1: 2/4 traces, 1.0/s, elapsed 2s, ETA 2s\n");
}

TEST(ProgressDurationTest, Formats) {
  EXPECT_EQ(Progress::Duration(0), "0s");
  EXPECT_EQ(Progress::Duration(59.4), "59s");
  EXPECT_EQ(Progress::Duration(192), "3m12s");
  EXPECT_EQ(Progress::Duration(3840), "1h04m");
}

// With stderr a file (as in CI), a long command prints plain progress lines there; stdout is unchanged.
TEST(CommandProgressTest, NonTerminalRunsPrintPeriodicLines) {
  setenv("IONSIM_PROGRESS_SECONDS", "0", 1);
  const Outcome run = RunIonsim({"run", "--frames=24", "--svg=" + TempPath("p.svg")});
  EXPECT_EQ(run.code, 0) << run.err;
  EXPECT_THAT(run.err, HasSubstr("run: 1/24 frames, "));
  EXPECT_THAT(run.err, HasSubstr("run: 24/24 frames, "));
  EXPECT_THAT(run.err, MatchesRegex("(run: [0-9]+/24 frames, [0-9.]+/s, elapsed [0-9]+s(, ETA [0-9ms]+)?\n)+"));

  const Outcome trace = RunIonsim({"gen", "--ops=50"});
  const Outcome replay = RunIonsim({"replay", "-"}, trace.out);
  EXPECT_EQ(replay.code, 0) << replay.err;
  EXPECT_THAT(replay.err, HasSubstr("replay: 51/51 operations"));
  unsetenv("IONSIM_PROGRESS_SECONDS");
  EXPECT_EQ(RunIonsim({"replay", "-"}, trace.out).err, "");  // quick: quiet at the default interval
  EXPECT_EQ(RunIonsim({"replay", "-"}, trace.out).out, replay.out);
}

}  // namespace
}  // namespace ionsim::testing
