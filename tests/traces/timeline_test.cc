// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The replay timeline (tools/trace/timeline.h): a lane per buffer from its allocation to its destruction, marks
// where its holders changed, coloured by process, with the operation as hover text, orphaned and deferred-free
// stretches, and the coherency oracle's reports.
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/trace/executor.h"
#include "tools/trace/model_runner.h"
#include "tools/trace/timeline.h"
#include "tools/trace/trace.h"

namespace ionsim::trace {
namespace {

using ::testing::HasSubstr;

size_t Count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

std::string TimelineOf(const std::string& text) {
  Trace t;
  std::string error;
  EXPECT_TRUE(ParseTrace(text, &t, &error)) << error;
  std::unique_ptr<ModelRunner> runner = ModelRunner::Create("dummy", false, &error);
  EXPECT_NE(runner, nullptr) << error;
  Timeline timeline;
  runner->set_timeline(&timeline);
  ExecReport report;
  runner->Run(t, true, true, &report);
  return timeline.Svg("test");
}

TEST(TimelineTest, ALanePerBufferWithMarksColouredByProcess) {
  const std::string svg = TimelineOf(R"(P = spawn camera.provider
C = open P
H = alloc C len=4K heap=system
F = share C H
P2 = spawn surfaceflinger
F2 = pass F P2
close C
close F
close F2
H3 = alloc C len=4K heap=system  # EBADF
drain
)");
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_THAT(svg, HasSubstr(">b1 4K system</text>"));
  // Allocated by camera.provider, orphaned by its close, destroyed by the last close in surfaceflinger.
  EXPECT_THAT(svg, HasSubstr("<title>line 3 `H = alloc C len=4K heap=system` (P)</title>"));
  EXPECT_THAT(svg, HasSubstr("<title>line 7 `close C` (P)</title>"));
  EXPECT_THAT(svg, HasSubstr("fill=\"url(#orphan)\""));
  EXPECT_THAT(svg, HasSubstr("<title>line 9 `close F2` (P2)</title>"));  // onto the deferred-free list
  EXPECT_THAT(svg, HasSubstr("<title>line 11 `drain` (root): destroyed</title>"));
  EXPECT_THAT(svg, HasSubstr("fill=\"#c8c8c8\""));  // the deferred-free list: the system heap defers
  EXPECT_EQ(Count(svg, "<svg"), 1u);
  EXPECT_EQ(Count(svg, "</svg>"), 1u);
}

TEST(TimelineTest, CoherencyReportsAreMarked) {
  const std::string svg = TimelineOf(R"(P = spawn app
C = open P
H = alloc C len=4K heap=system flags=3
F = share C H
M = mmap F len=4K
D = device isp
A = attach D F
dev_map A
store M off=0 len=64 byte=1
dev_read A off=0 len=64  # ok coherency
dev_unmap A
detach A
munmap M
close F
free C H
)");
  EXPECT_EQ(Count(svg, "fill=\"#e00\""), 1u);
  EXPECT_THAT(svg, HasSubstr("<title>stale read by the device: buffer b1 bytes 0x0-0x3f (lines 0-0)"));
}

}  // namespace
}  // namespace ionsim::trace
