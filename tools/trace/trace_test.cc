// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "tools/trace/trace.h"

#include <string>

#include "gtest/gtest.h"

namespace ionsim::trace {
namespace {

constexpr char kEveryOp[] = R"(board dummy
# every operation once
P1 = spawn app
P2 = fork P1
C1 = open P1
C2 = open P2 path=/dev/ion flags=rdwr
H1 = alloc C1 len=4K heap=system align=4K flags=0x1   # ok id=1
F1 = share C1 H1
F2 = map C1 id=1
H2 = import C1 F1   # ok id=1
sync C1 F1
custom C1 cmd=0x5 arg=0x10   # ENOTTY
F3 = new_alloc C1 len=1M mask=0x4 flags=0x3
query C1
query C1 cnt=4
query C1 cnt=2 heaps=bad reserved=1   # EINVAL -- reserved must be zero
ioctl C1 cmd=0xc0044901 arg=hex:01000000
ioctl C1 cmd=0xc0044901 size=8 arg=null
ioctl F1 cmd=0x1234 arg=ro
M1 = mmap F1 len=4K prot=r flags=private
M2 = mmap F3 len=8K off=4K
store M2 off=0 len=4K byte=171
load M2 off=0 len=4K
munmap M2 off=4K len=4K
munmap M1
dmabuf_sync F1 start rw
dmabuf_sync F1 end read
dmabuf_sync F1 flags=0x8
F4 = dup F1
F5 = pass F1 P2
close F1@P2
free C1 H1
exit P2
drain
shrink system n=16
debugfs ion/heaps/system
state
)";

TEST(TraceTest, PrintedTraceParsesBackToTheSameTrace) {
  Trace t;
  std::string error;
  ASSERT_TRUE(ParseTrace(kEveryOp, &t, &error)) << error;
  EXPECT_EQ(t.ops.size(), 35u);
  const std::string printed = PrintTrace(t);
  Trace again;
  ASSERT_TRUE(ParseTrace(printed, &again, &error)) << error << "\n" << printed;
  EXPECT_TRUE(t.SameAs(again)) << printed;
  EXPECT_EQ(PrintTrace(again), printed);
}

TEST(TraceTest, NormalisesSpellingOfNumbers) {
  Trace t;
  std::string error;
  ASSERT_TRUE(ParseTrace("P = spawn a\nC = open P\nH = alloc   C len=4096 mask=4 align=0x100000\n", &t, &error));
  EXPECT_EQ(FormatOp(t, t.ops[2]), "H = alloc C len=4K mask=0x4 align=1M");
}

TEST(TraceTest, ExpectedResultsComeFromTrailingComments) {
  Trace t;
  std::string error;
  ASSERT_TRUE(ParseTrace("P = spawn a  # ok\nC = open P # EBADF -- why\n# EINVAL\nexit P # plain words\n", &t,
                         &error));
  ASSERT_EQ(t.ops.size(), 3u);
  EXPECT_EQ(t.ops[0].expect, "ok");
  EXPECT_EQ(t.ops[1].expect, "EBADF");
  EXPECT_EQ(t.ops[2].expect, "");
  EXPECT_EQ(t.ops[2].line, 4);
}

struct BadCase {
  const char* text;
  const char* error;
};

TEST(TraceTest, ErrorsNameTheLine) {
  const BadCase cases[] = {
      {"P = spawn a\nfrob P\n", "line 2: unknown operation 'frob'"},
      {"P = spawn a\nclose C\n", "line 2: symbol 'C' is not bound"},
      {"P = spawn a\nclose P\n", "line 2: 'P' is a process, expected a fd"},
      {"P = spawn a\nP = spawn b\n", "line 2: symbol 'P' is already bound"},
      {"P = spawn a\nC = open P\n\nH = alloc C len=4K\n", "line 4: give exactly one of heap= and mask="},
      {"P = spawn a\nC = open P\nH = alloc C len=4Q mask=1\n", "line 3: bad number '4Q' for len="},
      {"P = spawn a\nC = open P\nH = alloc C len=4K mask=1 bogus=3\n", "line 3: 'alloc' takes no 'bogus='"},
      {"P = spawn a\nX = exit P\n", "line 2: 'exit' binds no symbol"},
      {"P = spawn a\nboard dummy\n", "line 2: 'board' must be the first operation"},
      {"P = spawn a\nC = open P\nfree C H@P\n", "line 3: 'H@P': a handle takes no @process"},
      {"P = spawn a\nC = open P # EINVAL because\n", "line 2: an expected errno is one word (explain after ' -- ')"},
      {"P = spawn a\nC = open P\nioctl C cmd=1 size=5000\n", "line 3: size is at most 4096"},
      {"P = spawn a\nQ = fork P@P\n", "line 2: 'P@P': a process takes no @process"},
      {"P = spawn a\nprofile 4.4\n", "line 2: 'profile' must come before every operation (after an optional board line)"},
      {"profile 4.4\nboard dummy\n", "line 2: 'board' must be the first operation"},
      {"profile 4.4\nprofile 4.4\n", "line 2: 'profile' must come before every operation (after an optional board line)"},
      {"profile 2.6\n", "line 1: unknown profile '2.6' (known: 4.4-compat, 4.4, 4.4.0, android-3.18)"},
      {"profile\n", "line 1: profile takes one name"},
      {"profile 4.4   # ok\n", "line 1: 'profile' has no result"},
  };
  for (const BadCase& c : cases) {
    Trace t;
    std::string error;
    EXPECT_FALSE(ParseTrace(c.text, &t, &error)) << c.text;
    EXPECT_EQ(error, c.error) << c.text;
  }
}

TEST(TraceTest, ProfileLineFollowsTheBoardLineAndIsPrintedBack) {
  Trace t;
  std::string error;
  ASSERT_TRUE(ParseTrace("board msm8x25\nprofile 4.4.0\nP = spawn a\n", &t, &error)) << error;
  EXPECT_EQ(t.board, "msm8x25");
  EXPECT_EQ(t.profile, "4.4.0");
  EXPECT_EQ(PrintTrace(t), "board msm8x25\nprofile 4.4.0\nP = spawn a\n");
  Trace alone;
  ASSERT_TRUE(ParseTrace("profile 4.4\n", &alone, &error)) << error;
  EXPECT_EQ(alone.profile, "4.4");
  EXPECT_TRUE(alone.board.empty());
}

TEST(TraceTest, ThreadsParseAndPrintBack) {
  const std::string text =
      "P = spawn a\nC = open P\nH = alloc C len=4K heap=system\nT1 = thread P\nK = thread kernel\n"
      "T1: free C H  # ok\nK: drain\nT1: H2 = alloc C len=4K heap=system\nstate\nfree C H2\n";
  Trace t;
  std::string error;
  ASSERT_TRUE(ParseTrace(text, &t, &error)) << error;
  ASSERT_EQ(t.threads.size(), 2u);
  EXPECT_TRUE(t.HasThreads());
  EXPECT_EQ(t.symbols[t.threads[0].sym].name, "T1");
  EXPECT_EQ(t.symbols[t.threads[0].sym].kind, SymKind::kThread);
  EXPECT_EQ(t.threads[0].proc, t.FindSymbol("P"));
  EXPECT_EQ(t.threads[1].proc, -1);
  EXPECT_EQ(t.threads[0].before_op, 3u);
  ASSERT_EQ(t.ops.size(), 8u);
  EXPECT_EQ(t.ops[3].thread, t.FindSymbol("T1"));
  EXPECT_EQ(t.ops[3].expect, "ok");
  EXPECT_EQ(t.ops[4].thread, t.FindSymbol("K"));
  EXPECT_EQ(t.ops[5].thread, t.FindSymbol("T1"));
  EXPECT_EQ(t.ops[5].bind, t.FindSymbol("H2"));
  EXPECT_EQ(FormatOp(t, t.ops[5]), "T1: H2 = alloc C len=4K heap=system");
  EXPECT_EQ(FormatOp(t, t.ops[3]), "T1: free C H");
  const std::string printed = PrintTrace(t);
  EXPECT_EQ(printed,
            "P = spawn a\nC = open P\nH = alloc C len=4K heap=system\nT1 = thread P\nK = thread kernel\n"
            "T1: free C H  # ok\nK: drain\nT1: H2 = alloc C len=4K heap=system\nstate\nfree C H2\n");
  Trace again;
  ASSERT_TRUE(ParseTrace(printed, &again, &error)) << error;
  EXPECT_TRUE(again.SameAs(t));
  Trace plain;
  ASSERT_TRUE(ParseTrace("P = spawn a\n", &plain, &error));
  EXPECT_FALSE(plain.HasThreads());
}

TEST(TraceTest, ThreadErrorsNameTheLine) {
  Trace t;
  std::string error;
  EXPECT_FALSE(ParseTrace("P = spawn a\nX: exit P\n", &t, &error));
  EXPECT_EQ(error, "line 2: 'X' is not a thread (declare it with 'X = thread P')");
  EXPECT_FALSE(ParseTrace("P = spawn a\nP: exit P\n", &t, &error));
  EXPECT_EQ(error, "line 2: 'P' is not a thread (declare it with 'P = thread P')");
  EXPECT_FALSE(ParseTrace("T = thread Q\n", &t, &error));
  EXPECT_EQ(error, "line 1: symbol 'Q' is not bound");
  EXPECT_FALSE(ParseTrace("P = spawn a\nC = open P\nT = thread C\n", &t, &error));
  EXPECT_EQ(error, "line 3: 'C' is not a process");
  EXPECT_FALSE(ParseTrace("P = spawn a\nT = thread P\nT = thread P\n", &t, &error));
  EXPECT_EQ(error, "line 3: symbol 'T' is already bound");
  EXPECT_FALSE(ParseTrace("P = spawn a\nK = thread kernel\nK: exit P\n", &t, &error));
  EXPECT_EQ(error, "line 3: a kernel thread runs drain, shrink, debugfs or state, not 'exit'");
  EXPECT_FALSE(ParseTrace("P = spawn a\nT = thread P\nT:\n", &t, &error));
  EXPECT_EQ(error, "line 3: missing operation after 'T:'");
  std::string many = "P = spawn a\n";
  for (int i = 0; i <= 64; ++i) many += "T" + std::to_string(i) + " = thread P\n";
  EXPECT_FALSE(ParseTrace(many, &t, &error));
  EXPECT_EQ(error, "line 66: a trace declares at most 64 threads");
  EXPECT_FALSE(ParseTrace("P = spawn a\nT = thread P\nexit T\n", &t, &error));
  EXPECT_EQ(error, "line 3: 'T' is a thread, expected a process");
}

TEST(TraceTest, NumbersTakeHexAndSuffixes) {
  uint64_t v;
  ASSERT_TRUE(ParseNumber("0x10", &v));
  EXPECT_EQ(v, 16u);
  ASSERT_TRUE(ParseNumber("4K", &v));
  EXPECT_EQ(v, 4096u);
  ASSERT_TRUE(ParseNumber("0x2M", &v));
  EXPECT_EQ(v, 2u << 20);
  ASSERT_TRUE(ParseNumber("1G", &v));
  EXPECT_EQ(v, 1u << 30);
  EXPECT_FALSE(ParseNumber("0x", &v));
  EXPECT_FALSE(ParseNumber("K", &v));
  EXPECT_FALSE(ParseNumber("99999999999999999999", &v));
  EXPECT_FALSE(ParseNumber("17179869184G", &v));
}

}  // namespace
}  // namespace ionsim::trace
