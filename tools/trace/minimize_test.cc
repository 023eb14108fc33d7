// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "tools/trace/minimize.h"

#include <string>

#include "gtest/gtest.h"
#include "tools/trace/trace.h"

namespace ionsim::trace {
namespace {

Trace Parse(const std::string& text) {
  Trace t;
  std::string error;
  EXPECT_TRUE(ParseTrace(text, &t, &error)) << error;
  return t;
}

constexpr char kLong[] = R"(P = spawn a
Q = spawn b
C = open P
D = open Q
H1 = alloc C len=4K heap=system
H2 = alloc C len=8K heap=carveout
F1 = share C H1
M1 = mmap F1 len=4K
store M1 off=0 len=4K byte=1
H3 = alloc D len=16K heap=system
F2 = share C H2
G = pass F2 Q
I = import D G
load M1 off=0 len=4K
free C H1
drain
free D H3
state
close F1
exit Q
)";

// The synthetic failure: a pass of a carveout buffer's fd followed by its import in the receiver.
bool PassThenImport(const Trace& t) {
  int pass_line = -1;
  for (size_t i = 0; i < t.ops.size(); ++i) {
    const Op& op = t.ops[i];
    if (op.kind == OpKind::kPass) pass_line = static_cast<int>(i);
    if (op.kind == OpKind::kImport && pass_line >= 0 && op.b.sym == t.ops[pass_line].bind) return true;
  }
  return false;
}

TEST(MinimizeTest, KeepsOnlyTheOperationsTheFailureNeedsAndTheirBindings) {
  const Trace t = Parse(kLong);
  ASSERT_TRUE(PassThenImport(t));
  int evaluations = 0;
  const Trace m = Minimize(t, PassThenImport, &evaluations);
  EXPECT_EQ(PrintTrace(m),
            "P = spawn a\n"
            "Q = spawn b\n"
            "C = open P\n"
            "D = open Q\n"
            "H2 = alloc C len=8K heap=carveout\n"
            "F2 = share C H2\n"
            "G = pass F2 Q\n"
            "I = import D G\n");
  EXPECT_GT(evaluations, 0);
  // The result parses back as it prints, with compact symbols and renumbered lines.
  const Trace again = Parse(PrintTrace(m));
  EXPECT_TRUE(m.SameAs(again));
  EXPECT_EQ(m.ops.back().line, 8);
}

TEST(MinimizeTest, ResultIsOneMinimal) {
  const Trace t = Parse(kLong);
  const Trace m = Minimize(t, PassThenImport, nullptr);
  for (size_t i = 0; i < m.ops.size(); ++i) {
    std::vector<int> keep;
    for (size_t j = 0; j < m.ops.size(); ++j) {
      if (j != i) keep.push_back(static_cast<int>(j));
    }
    EXPECT_FALSE(PassThenImport(SubTrace(m, keep, nullptr))) << "op " << i << " is not needed";
  }
}

TEST(MinimizeTest, RemovingABindingRemovesItsUsers) {
  const Trace t = Parse(kLong);
  std::vector<int> keep;
  for (size_t i = 0; i < t.ops.size(); ++i) {
    if (i != 2) keep.push_back(static_cast<int>(i));  // drop "C = open P"
  }
  std::vector<int> kept;
  const Trace s = SubTrace(t, keep, &kept);
  EXPECT_EQ(PrintTrace(s),
            "P = spawn a\n"
            "Q = spawn b\n"
            "D = open Q\n"
            "H3 = alloc D len=16K heap=system\n"
            "drain\n"
            "free D H3\n"
            "state\n"
            "exit Q\n");
  EXPECT_EQ(kept, (std::vector<int>{0, 1, 3, 9, 15, 16, 17, 19}));
}

TEST(MinimizeTest, BatchedRoundsGiveTheSameResult) {
  const Trace t = Parse(kLong);
  Minimizer m(t);
  while (!m.done()) {
    std::vector<bool> v;
    for (const Trace& c : m.candidates()) v.push_back(PassThenImport(c));
    m.Feed(v);
  }
  EXPECT_EQ(PrintTrace(m.result()), PrintTrace(Minimize(t, PassThenImport, nullptr)));
  EXPECT_GT(m.rounds(), 1);
}

}  // namespace
}  // namespace ionsim::trace
