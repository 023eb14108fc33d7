// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// `ionsim run`'s workload (tools/ionsim/workload.h) on the dummy board: it keeps every invariant after every
// operation, gives everything back at shutdown, reads every frame back intact, is deterministic for a seed, and
// shows what it is meant to show (orphans, a fragmented carveout, the debugfs views, a well-formed picture).
#include "tools/ionsim/workload.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/tools/xml_check.h"

namespace ionsim::testing {
namespace {

TEST(WorkloadTest, DefaultRunKeepsEveryInvariantAndLeaksNothing) {
  const WorkloadResult r = RunWorkload(WorkloadOptions());
  EXPECT_TRUE(r.invariant_violations.empty()) << r.report;
  EXPECT_EQ(r.leak_report, "") << r.report;
  EXPECT_EQ(r.setup_errors, 0) << r.report;
  EXPECT_EQ(r.kernel_reports, 0u) << r.report;
  EXPECT_TRUE(r.ok()) << r.report;
  EXPECT_GT(r.operations, 100);
  EXPECT_GT(r.frames_checked, 12);
  EXPECT_EQ(r.frame_mismatches, 0);
  EXPECT_GT(r.orphans_seen, 0);
  EXPECT_GT(r.allocation_failures, 0);
  // The verdict comes last.
  const size_t verdict = r.report.rfind("\n== verdict\n");
  ASSERT_NE(verdict, std::string::npos);
  EXPECT_EQ(r.report.find("== ", verdict + 2), r.report.npos);
  EXPECT_NE(r.report.find("result: OK", verdict), std::string::npos);
}

TEST(WorkloadTest, ReportShowsResultsDebugfsAndTheFragmentedCarveout) {
  const WorkloadResult r = RunWorkload(WorkloadOptions());
  for (const char* part :
       {"== results", "allocations:", "fragmentation after the last frame", "largest free extent",
        "---- /sys/kernel/debug/ion/heaps/carveout", "---- /sys/kernel/debug/ion/heaps/chunk",
        "---- /sys/kernel/debug/ion/heaps/system contig", "---- /sys/kernel/debug/ion/heaps/system\n",
        "---- /sys/kernel/debug/ion/clients/", "orphaned allocations (info is from last known client):",
        "     media.codec", "fragmented (ENOMEM)", "ENODEV", "EINVAL", "deferred free:"}) {
    EXPECT_NE(r.report.find(part), std::string::npos) << part << "\n" << r.report;
  }
  EXPECT_EQ(XmlProblem(r.svg), "");
  EXPECT_NE(r.svg.find("data-name=\"carveout\""), std::string::npos);
  EXPECT_NE(r.svg.find("data-name=\"chunk\""), std::string::npos);
  EXPECT_NE(r.svg.find("data-state=\"orphaned\""), std::string::npos);
}

// The report with the rows of the debugfs section sorted: the heap files list clients in the order of the
// device's client rb-tree, which v4.4 keys by the client's address (reference ion.md section 2.1), so that order
// is the allocator's, not the workload's.
std::string Canonical(const std::string& report) {
  const size_t start = report.find("\n== debugfs");
  const size_t end = report.find("\n== verdict");
  if (start == std::string::npos || end == std::string::npos) return report;
  std::vector<std::string> lines;
  size_t pos = start;
  while (pos < end) {
    const size_t nl = std::min(report.find('\n', pos + 1), end);
    lines.push_back(report.substr(pos, nl - pos));
    pos = nl;
  }
  std::sort(lines.begin(), lines.end());
  std::string out = report.substr(0, start);
  for (const std::string& line : lines) out += line;
  return out + report.substr(end);
}

TEST(WorkloadTest, SameSeedGivesTheSameRunAndOtherSeedsAlsoHold) {
  WorkloadOptions options;
  const WorkloadResult a = RunWorkload(options);
  const WorkloadResult b = RunWorkload(options);
  EXPECT_EQ(Canonical(a.report), Canonical(b.report));
  EXPECT_EQ(a.svg, b.svg);
  for (uint64_t seed : {2, 3, 99}) {
    options.seed = seed;
    options.frames = 16;
    const WorkloadResult r = RunWorkload(options);
    EXPECT_TRUE(r.ok()) << "seed " << seed << "\n" << r.report;
    EXPECT_EQ(XmlProblem(r.svg), "") << "seed " << seed;
  }
}

TEST(WorkloadTest, RunsOnTheOtherEmbeddedBoardsToo) {
  for (const char* board : {"phone", "msm8x25"}) {
    WorkloadOptions options;
    options.board = board;
    const WorkloadResult r = RunWorkload(options);
    EXPECT_TRUE(r.ok()) << board << "\n" << r.report;
  }
}

// On strict 4.4 the HAL of that era uses its own heap table (no HEAP_QUERY) and the codec flushes its bitstream
// writes with ION_IOC_SYNC (no DMA_BUF_IOCTL_SYNC); the run holds as on the default profile, with the same heaps.
TEST(WorkloadTest, RunsOnTheStrictV44ProfileWithTheHalsOwnHeapTableAndIonIocSync) {
  WorkloadOptions options;
  const WorkloadResult compat = RunWorkload(options);
  options.profile = "4.4";
  const WorkloadResult strict = RunWorkload(options);
  EXPECT_TRUE(strict.ok()) << strict.report;
  EXPECT_NE(strict.report.find("ionsim run: board dummy, profile 4.4, seed 1"), std::string::npos);
  EXPECT_NE(strict.report.find("heaps (the HAL's own table: HEAP_QUERY is ENOTTY on this profile, in the order ALLOC "
                               "tries them): chunk (id 3, chunk), carveout (id 2, carveout), system contig (id 1, "
                               "system_contig), system (id 0, system)"),
            std::string::npos)
      << strict.report;
  EXPECT_NE(compat.report.find("heaps (ION_IOC_HEAP_QUERY, in the order ALLOC tries them): chunk (id 3, chunk), "
                               "carveout (id 2, carveout), system contig (id 1, system_contig), system (id 0, system)"),
            std::string::npos)
      << compat.report;
  // Without DMA_BUF_IOCTL_SYNC nothing is mapped for the kernel: the sync is ION_IOC_SYNC's.
  EXPECT_EQ(strict.frames_checked, compat.frames_checked);
  EXPECT_EQ(strict.frame_mismatches, 0);
  options.profile = "4.4.0";
  EXPECT_TRUE(RunWorkload(options).ok());
}

TEST(WorkloadTest, UnknownBoardIsAnErrorNotACrash) {
  WorkloadOptions options;
  options.board = "nosuchboard";
  const WorkloadResult r = RunWorkload(options);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.report.find("board"), std::string::npos);
}

// `ionsim run --svg PATH` writes the picture there and exits 0 (flag errors: tests/tools/cli_test.cc).
TEST(WorkloadCommandTest, WritesTheSvgWhereTold) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string path = std::string(tmp ? tmp : "/tmp") + "/heaps.svg";
  std::remove(path.c_str());
  WorkloadOptions options;
  options.seed = 7;
  EXPECT_EQ(RunWorkloadCommand(options, path), 0);
  std::ifstream in(path);
  const std::string svg((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(XmlProblem(svg), "");
  EXPECT_NE(svg.find("seed 7"), std::string::npos);
  EXPECT_EQ(RunWorkloadCommand(options, std::string(tmp ? tmp : "/tmp") + "/no-such-dir/heaps.svg"), 2);
}

}  // namespace
}  // namespace ionsim::testing
