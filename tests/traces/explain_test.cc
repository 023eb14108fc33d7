// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// `explain` (docs/trace.md, "Explain") names every kind of holder of a buffer, with the operation that made it:
// handles of clients (and the fd each client is open at), dma-buf fds (shared, passed, inherited by fork),
// mappings, references only the kernel holds (a device's attachment), the deferred-free list, and the
// per-process table.
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/trace/executor.h"
#include "tools/trace/model_runner.h"
#include "tools/trace/trace.h"

namespace ionsim::trace {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Replay(const std::string& text) {
  Trace t;
  std::string error;
  EXPECT_TRUE(ParseTrace(text, &t, &error)) << error;
  std::unique_ptr<ModelRunner> runner = ModelRunner::Create("dummy", false, &error);
  EXPECT_NE(runner, nullptr) << error;
  ExecReport report;
  runner->Run(t, true, true, &report);
  EXPECT_TRUE(report.ok()) << report.error;
  for (const std::string& f : report.failures) ADD_FAILURE() << f;
  return report.output;
}

constexpr char kShared[] = R"(P = spawn camera.provider
C = open P
H = alloc C len=64K heap=carveout
F = share C H
M = mmap F len=64K
P2 = spawn surfaceflinger
F2 = pass F P2
C2 = open P2
H2 = import C2 F2@P2
M2 = mmap F2 len=4K
P3 = fork P2
D = device display
A = attach D F
explain b1
explain table
detach A
close C
explain b1
exit P
exit P2
exit P3
)";

TEST(ExplainTest, NamesEveryHolderWithTheOperationThatMadeIt) {
  const std::string out = Replay(kShared);
  EXPECT_THAT(out, HasSubstr("14 explain b1 => ok\n  b1: 64K heap carveout, flags 0, ref 3, handle_count 2"));
  EXPECT_THAT(out, HasSubstr("  handle id=1 refs=1 kmap_cnt=0 of client c1 (opened by camera.provider), at fd 0 of "
                             "P (camera.provider) (C, line 2) -- H from line 3 `H = alloc C len=64K heap=carveout`"));
  EXPECT_THAT(out, HasSubstr("of client c2 (opened by surfaceflinger), at fd 1 of P2 (surfaceflinger) (C2, line 8) "
                             "-- H2 from line 9 `H2 = import C2 F2@P2`"));
  EXPECT_THAT(out, HasSubstr("file count 7: 3 fd, 3 mapping, 1 other), attachments 1: display"));
  EXPECT_THAT(out, HasSubstr("    fd 1 of P (camera.provider) -- F from line 4 `F = share C H`\n"));
  EXPECT_THAT(out, HasSubstr("    mapping of 64K at page 0 in P (camera.provider) -- M from line 5 "));
  EXPECT_THAT(out, HasSubstr("    fd 0 of P2 (surfaceflinger) -- F2 from line 7 `F2 = pass F P2`\n"));
  // The child's copies of the fd and the mapping were bound by no operation of its own.
  EXPECT_THAT(out, HasSubstr("    fd 0 of P3 (surfaceflinger) -- inherited (fork) or received without a binding\n"));
  EXPECT_THAT(out, HasSubstr("    mapping of 4K at page 0 in P3 (surfaceflinger) -- inherited (fork) without a "
                             "binding\n"));
  EXPECT_THAT(out, HasSubstr("    1 reference(s) held in the kernel (a driver's dma_buf_get: attached display"));
  // After the device detached and camera.provider closed its client: its handle is gone, its fd stays.
  const std::string after = out.substr(out.find("18 explain b1"));
  EXPECT_THAT(after, Not(HasSubstr("client c1")));
  EXPECT_THAT(after, HasSubstr("attachments 0"));
  EXPECT_THAT(after, HasSubstr("file count 6: 3 fd, 3 mapping, 0 other"));
}

TEST(ExplainTest, TableHasARowPerProcessAndAColumnPerBuffer) {
  const std::string out = Replay(kShared);
  EXPECT_THAT(out, HasSubstr("  process              b1(64K)        total\n"
                             "  P (camera.provider)  fd+map+handle  64K\n"
                             "  P2 (surfaceflinger)  fd+map+handle  64K\n"
                             "  P3 (surfaceflinger)  fd+map+handle  64K\n"
                             "  processes            3\n"));
}

TEST(ExplainTest, DeferredFreeListAndOrphans) {
  const std::string out = Replay(R"(P = spawn media.codec
C = open P
H = alloc C len=4K heap=system
H2 = alloc C len=4K heap=system
F2 = share C H2
free C H
free C H2
explain
close F2
drain
explain b1
)");
  EXPECT_THAT(out, HasSubstr("  b1: 4K heap system, flags 0, ref 0, handle_count 0, kmap_cnt 0, no handle left: the "
                             "last was dropped by media.codec\n"
                             "    on the deferred-free list of heap system"));
  // b2 has no handle but its dma-buf fd keeps it alive: an orphan.
  EXPECT_THAT(out, HasSubstr("  b2: 4K heap system, flags 0, ref 1, handle_count 0, kmap_cnt 0, no handle left: the "
                             "last was dropped by media.codec\n"
                             "    dma-buf 1 (exporter ion, size 4K, file count 1: 1 fd, 0 mapping, 0 other)"));
  EXPECT_THAT(out, HasSubstr("11 explain b1 => ok\n  b1: no such buffer\n"));
}

TEST(ExplainTest, ExplainParsesAndPrints) {
  Trace t;
  std::string error;
  ASSERT_TRUE(ParseTrace("explain\nexplain b3\nexplain table\n", &t, &error)) << error;
  EXPECT_EQ(PrintTrace(t), "explain\nexplain b3\nexplain table\n");
  EXPECT_TRUE(UsesModelOnlyOps(t));
  EXPECT_FALSE(ParseTrace("explain x3\n", &t, &error));
  EXPECT_EQ(error, "line 1: explain takes a buffer (b1, b2, ...) or table, got 'x3'");
}

}  // namespace
}  // namespace ionsim::trace
