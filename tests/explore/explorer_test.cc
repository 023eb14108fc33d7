// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The explorer on CVE-2016-9120 (two threads of one process free one handle id): found on profile 4.4.0 as a
// use-after-free and kref put below zero with one preemption; every schedule of 4.4-compat within two
// preemptions is clean; the failing schedule replays to the same output and report.
#include "tools/trace/explorer.h"

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "gtest/gtest.h"
#include "model/kernel/bug.h"
#include "tools/trace/model_runner.h"
#include "tools/trace/trace.h"

namespace ionsim::trace {
namespace {

Trace LoadTrace(const std::string& name) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  const std::string path = (srcdir && workspace ? std::string(srcdir) + "/" + workspace + "/" : std::string()) +
                           "tests/explore/" + name;
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  Trace t;
  std::string error;
  EXPECT_TRUE(ParseTrace(text.str(), &t, &error)) << path << ": " << error;
  return t;
}

std::unique_ptr<ModelRunner> Runner(const std::string& profile, const std::string& board = "dummy") {
  std::string error;
  std::unique_ptr<ModelRunner> runner = ModelRunner::Create(board, false, &error, MachineMode::kReload);
  EXPECT_NE(runner, nullptr) << error;
  EXPECT_TRUE(runner->SetProfile(profile, &error)) << error;
  return runner;
}

class ExplorerTest : public ::testing::Test {
 protected:
  void SetUp() override { kernel::set_bug_printing(false); }
  void TearDown() override { kernel::set_bug_printing(true); }
};

TEST_F(ExplorerTest, FindsCve20169120OnProfile440) {
  const Trace t = LoadTrace("cve_2016_9120.trace");
  std::unique_ptr<ModelRunner> runner = Runner("4.4.0");
  Explorer explorer(runner.get(), t);
  ExploreOptions options;
  options.preemptions = 2;
  const ExploreResult r = explorer.Explore(options);
  ASSERT_TRUE(r.found) << "explored " << r.explored;
  const std::string report = explorer.FormatRun(r.failure);
  // The fewest preemptions that show the race: one (a thread stops between its validation and its put).
  EXPECT_EQ(r.failure.preemptions, 1) << report;
  EXPECT_EQ(r.failure.schedule.size(), 1u) << report;
  bool uaf = false;
  bool below_zero = false;
  for (const kernel::SchedFinding& f : r.failure.findings) {
    uaf |= f.kind == "use-after-free" && f.message.find("ion_handle") != std::string::npos;
    below_zero |= f.kind == "kref-put-below-zero";
    EXPECT_EQ(f.positions.size(), 2u);
  }
  EXPECT_TRUE(uaf) << report;
  EXPECT_TRUE(below_zero) << report;
  EXPECT_NE(report.find("T1: free C H"), std::string::npos) << report;
  EXPECT_NE(report.find("preempted"), std::string::npos) << report;
}

// The fixed FREE (one hold of client->lock), and Android 3.18's hardened handles on top of it.
TEST_F(ExplorerTest, ExhaustsCve20169120CleanOnTheFixedProfiles) {
  const Trace t = LoadTrace("cve_2016_9120.trace");
  for (const char* profile : {"4.4-compat", "android-3.18"}) {
    std::unique_ptr<ModelRunner> runner = Runner(profile);
    Explorer explorer(runner.get(), t);
    ExploreOptions options;
    options.preemptions = 2;
    const ExploreResult r = explorer.Explore(options);
    EXPECT_FALSE(r.found) << profile << "\n" << explorer.FormatRun(r.failure);
    EXPECT_TRUE(r.exhausted) << profile;
    EXPECT_GT(r.explored, 10u) << profile;
    EXPECT_GT(r.bounded_out, 0u) << profile;
    EXPECT_GT(r.pruned, 0u) << profile;
  }
}

TEST_F(ExplorerTest, ReplayOfTheFailingScheduleReproducesIt) {
  const Trace t = LoadTrace("cve_2016_9120.trace");
  std::unique_ptr<ModelRunner> runner = Runner("4.4.0");
  Explorer explorer(runner.get(), t);
  const ExploreResult r = explorer.Explore(ExploreOptions());
  ASSERT_TRUE(r.found);
  const ScheduleRun again = explorer.Run(r.failure.schedule);
  const ScheduleRun third = explorer.Run(r.failure.schedule);
  EXPECT_FALSE(again.diverged);
  EXPECT_EQ(again.schedule, r.failure.schedule);
  EXPECT_EQ(explorer.FormatRun(again), explorer.FormatRun(r.failure));
  EXPECT_EQ(again.output, r.failure.output);
  EXPECT_EQ(explorer.FormatRun(third), explorer.FormatRun(again));
  EXPECT_EQ(third.output, again.output);
  // Both FREEs succeed in the racy schedule; without a schedule the second FREE is EINVAL.
  EXPECT_NE(again.output.find("13 T2: free C H => ok"), std::string::npos) << again.output;
  const ScheduleRun plain = explorer.Run({});
  EXPECT_FALSE(plain.failed()) << explorer.FormatRun(plain);
  EXPECT_NE(plain.output.find("13 T2: free C H => EINVAL"), std::string::npos) << plain.output;
}

TEST_F(ExplorerTest, PctFindsCve20169120OnProfile440) {
  const Trace t = LoadTrace("cve_2016_9120.trace");
  std::unique_ptr<ModelRunner> runner = Runner("4.4.0");
  Explorer explorer(runner.get(), t);
  ExploreOptions options;
  options.strategy = ExploreOptions::Strategy::kPct;
  options.budget = 2000;
  options.preemptions = 1;
  const ExploreResult r = explorer.Explore(options);
  ASSERT_TRUE(r.found) << "explored " << r.explored;
  EXPECT_FALSE(r.failure.findings.empty()) << explorer.FormatRun(r.failure);
}

TEST_F(ExplorerTest, ReachesTheDeferredFreeEnomemOnMsm8x25) {
  const Trace t = LoadTrace("deferred_free_enomem.trace");
  std::unique_ptr<ModelRunner> runner = Runner("", "msm8x25");
  Explorer explorer(runner.get(), t);
  const std::string enomem = "12 T1: H2 = alloc C len=2M heap=audio => ENOMEM";
  // The threads one after another: the ALLOC drains the list itself and succeeds.
  const ScheduleRun plain = explorer.Run({});
  EXPECT_FALSE(plain.failed()) << explorer.FormatRun(plain);
  EXPECT_NE(plain.output.find("12 T1: H2 = alloc C len=2M heap=audio => ok id=1"), std::string::npos) << plain.output;
  ExploreOptions options;
  options.outcome = [&enomem](const ScheduleRun& run) {
    return run.output.find(enomem) != std::string::npos ? enomem : std::string();
  };
  const ExploreResult r = explorer.Explore(options);
  ASSERT_TRUE(r.found) << "explored " << r.explored;
  const std::string report = explorer.FormatRun(r.failure);
  EXPECT_EQ(r.failure.findings.size(), 0u) << report;
  ASSERT_EQ(r.failure.failures.size(), 1u) << report;
  EXPECT_EQ(r.failure.failures[0], "outcome: " + enomem);
  // K stops between taking the buffer off the list and giving its memory back to the carveout.
  EXPECT_NE(report.find("K [points"), std::string::npos) << report;
  EXPECT_NE(report.find("to gen_pool_free -- preempted"), std::string::npos) << report;
  EXPECT_NE(explorer.Run(r.failure.schedule).output.find(enomem), std::string::npos);
}

}  // namespace
}  // namespace ionsim::trace
