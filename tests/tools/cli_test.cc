// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The ionsim command line (tools/ionsim/cli.h), through the binary: every subcommand rejects a misspelt flag
// with exit code 2 and names it, --help is generated from the flag definitions, both flag syntaxes mean the
// same, README's command table is `ionsim help --markdown`, and `gen --board` writes traces that board runs.
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/tools/ionsim_runner.h"

namespace ionsim::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::IsSupersetOf;
using ::testing::Not;
using ::testing::StartsWith;

TEST(CliTest, HelpListsEveryCommand) {
  const Outcome help = RunIonsim({"help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_THAT(CommandNames(), IsSupersetOf({"run", "demo", "replay", "gen", "crosscheck", "decode", "fuzz"}));
  EXPECT_EQ(RunIonsim({"--help"}).out, help.out);
  const Outcome bare = RunIonsim({});
  EXPECT_EQ(bare.code, 2);
  EXPECT_EQ(bare.err, help.out);
  const Outcome unknown = RunIonsim({"replya"});
  EXPECT_EQ(unknown.code, 2);
  EXPECT_THAT(unknown.err, HasSubstr("unknown command 'replya'"));
}

TEST(CliTest, EveryCommandRejectsAMisspeltFlagWithExitCode2) {
  for (const std::string& command : CommandNames()) {
    for (const std::string arg : {"--sede=3", "--sede", "-sede"}) {
      const Outcome o = RunIonsim({command, arg});
      EXPECT_EQ(o.code, 2) << command << " " << arg;
      EXPECT_THAT(o.err, HasSubstr("unknown flag --sede")) << command;
      EXPECT_THAT(o.err, HasSubstr("ionsim " + command + ":")) << command;
      EXPECT_EQ(o.out, "") << command;
    }
  }
}

TEST(CliTest, EveryCommandHasGeneratedHelpNamingItsFlags) {
  const std::string table = RunIonsim({"help", "--markdown"}).out;
  for (const std::string& command : CommandNames()) {
    const Outcome o = RunIonsim({command, "--help"});
    EXPECT_EQ(o.code, 0) << command;
    EXPECT_THAT(o.out, StartsWith("usage: ionsim " + command)) << command;
    EXPECT_EQ(RunIonsim({command, "-h"}).out, o.out);
    EXPECT_EQ(RunIonsim({"help", command}).out, o.out);
    // Each flag in the command's table row has an entry in its help, and the command accepts it.
    const size_t row = table.find("| `ionsim " + command);
    ASSERT_NE(row, std::string::npos) << command;
    std::string line = table.substr(row, table.find('\n', row) - row);
    for (size_t at = line.find("`--"); at != std::string::npos; at = line.find("`--", at + 1)) {
      const std::string flag = line.substr(at + 1, line.find('`', at + 1) - at - 1);
      EXPECT_THAT(o.out, HasSubstr("\n  " + flag)) << command;
    }
  }
}

TEST(CliTest, EveryCommandThatBootsAModelRejectsAnUnknownProfileTheSameWay) {
  const std::vector<std::vector<std::string>> commands = {
      {"run"},       {"demo"},           {"replay", "x.trace"}, {"explore", "x.trace"}, {"explain", "x.trace"},
      {"gen"},       {"crosscheck"},     {"decode", "x.input"}, {"fuzz"},               {"exec", "--", "true"}};
  for (std::vector<std::string> args : commands) {
    const std::string command = args[0];
    args.insert(args.begin() + 1, "--profile=4.5");
    const Outcome o = RunIonsim(args);
    EXPECT_EQ(o.code, 2) << command;
    EXPECT_THAT(o.err, HasSubstr("ionsim " + command +
                                 ": bad value '4.5' for --profile (NAME: one of 4.4-compat, 4.4, 4.4.0, android-3.18)"))
        << command;
    EXPECT_EQ(o.out, "") << command;
  }
}

TEST(CliTest, EveryCommandThatBootsAModelTakesBoardAndRejectsAnUnknownOne) {
  const std::vector<std::vector<std::string>> commands = {
      {"run"},       {"demo"},           {"replay", "x.trace"}, {"explore", "x.trace"}, {"explain", "x.trace"},
      {"gen"},       {"crosscheck"},     {"decode", "x.input"}, {"fuzz"},               {"exec", "--", "true"}};
  for (std::vector<std::string> args : commands) {
    const std::string command = args[0];
    args.insert(args.begin() + 1, "--board=no-such-board");
    const Outcome o = RunIonsim(args);
    EXPECT_EQ(o.code, 2) << command;
    EXPECT_THAT(o.err, HasSubstr("ionsim " + command +
                                 ": bad value 'no-such-board' for --board (NAME|FILE: an embedded board, one of "
                                 "dummy, msm8x25, phone, or a readable board file; no-such-board: No such file or "
                                 "directory)"))
        << command << ": " << o.err;
    EXPECT_EQ(o.out, "") << command;
  }
}

// A fuzz input decoded for a board names the board and allocates from the board's heaps, and the board's
// machine runs it (--run records every result); on the fuzz board the same input names only the fuzz heaps.
TEST(CliTest, DecodeUsesTheHeapsOfTheBoardItIsGiven) {
  // Records of 8 bytes (fuzz/ion_program.h): byte 0 picks the operation (8: alloc), byte 1 the client, byte 3
  // the length (4: 4 KiB), byte 4 the heap (below 5: the board's heap of that index, modulo the heap count).
  std::string input;
  for (char heap = 0; heap < 5; ++heap) input += std::string({8, 0, 0, 4, heap, 0, 0, 0});
  const std::string path = TempPath("decode-board.input");
  {
    std::ofstream out(path, std::ios::binary);
    out << input;
  }
  const Outcome msm = RunIonsim({"decode", "--board=msm8x25", "--run", path});
  ASSERT_EQ(msm.code, 0) << msm.err;
  EXPECT_THAT(msm.out, HasSubstr("\nboard msm8x25\n"));
  EXPECT_THAT(msm.out, HasSubstr("# Board msm8x25: heaps vmalloc 30, camera_preview 20, audio 28, sf 24."));
  for (const std::string heap : {"vmalloc", "camera_preview", "audio", "sf"}) {
    EXPECT_THAT(msm.out, HasSubstr("heap=" + heap + "  # ")) << msm.out;
  }
  EXPECT_THAT(msm.out, Not(HasSubstr("heap=system")));
  const Outcome fuzz_board = RunIonsim({"decode", path});
  ASSERT_EQ(fuzz_board.code, 0) << fuzz_board.err;
  EXPECT_THAT(fuzz_board.out, HasSubstr("\nboard fuzz/fuzz.board\n"));
  EXPECT_THAT(fuzz_board.out, HasSubstr("heap=system_contig\n"));
}

// demo's ION walk-through runs on the board's first carveout heap, with sizes in proportion.
TEST(CliTest, DemoRunsItsIonWalkThroughOnTheBoardsCarveout) {
  const Outcome msm = RunIonsim({"demo", "--board=msm8x25"});
  ASSERT_EQ(msm.code, 0) << msm.err;
  EXPECT_THAT(msm.out, HasSubstr("through /dev/ion on a 18 MiB carveout (heap id 20)"));
  EXPECT_THAT(msm.out, HasSubstr("/sys/kernel/debug/ion/heaps/camera_preview:"));
  const Outcome plain = RunIonsim({"demo"});
  ASSERT_EQ(plain.code, 0) << plain.err;
  EXPECT_THAT(plain.out, HasSubstr("through /dev/ion on a 10 MiB carveout (heap id 2)"));
  EXPECT_THAT(plain.out, HasSubstr("ION_IOC_ALLOC 4 MiB"));
}

TEST(CliTest, AFlagOfAnotherCommandIsRejected) {
  const Outcome o = RunIonsim({"replay", "--ops=3", "x.trace"});
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("unknown flag --ops (replay accepts --board, --profile, --json, --schedule, "
                               "--noncoherent, --timeline)"));
}

TEST(CliTest, BothFlagSyntaxesMeanTheSame) {
  const Outcome spaced = RunIonsim({"gen", "--seed", "7", "--ops", "9"});
  const Outcome joined = RunIonsim({"gen", "--seed=7", "--ops=9"});
  EXPECT_EQ(spaced.code, 0);
  EXPECT_EQ(spaced.out, joined.out);
  EXPECT_NE(spaced.out, RunIonsim({"gen", "--seed=8", "--ops=9"}).out);
}

TEST(CliTest, MalformedValuesAreUsageErrorsNamingTheFlag) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"gen", "--seed", "x"}, "bad value 'x' for --seed"},
      {{"gen", "--seed=-1"}, "bad value '-1' for --seed"},
      {{"gen", "--ops"}, "flag --ops needs a value"},
      {{"gen", "--ops=2000000"}, "--ops (K: 0 to 1000000)"},
      {{"run", "--frames", "3"}, "bad value '3' for --frames"},
      {{"run", "--svg="}, "--svg"},
      {{"crosscheck", "--ops=0"}, "--ops (K: 1 to 99999)"},
      {{"crosscheck", "--no-minimise=maybe"}, "bad value 'maybe' for --no-minimise (true or false)"},
      {{"fuzz", "--harness=foo"}, "--harness (one of genalloc, ion_ioctl, ion_ops)"},
      {{"fuzz", "--jobs=0"}, "--jobs"},
      {{"replay"}, "missing TRACE"},
      {{"replay", "a", "b"}, "unexpected argument 'b'"},
      {{"demo", "extra"}, "unexpected argument 'extra'"},
      {{"decode"}, "missing INPUT..."},
  };
  for (const Case& c : cases) {
    const Outcome o = RunIonsim(c.args);
    EXPECT_EQ(o.code, 2) << c.args[0] << " " << c.message;
    EXPECT_THAT(o.err, HasSubstr(c.message));
  }
}

TEST(CliTest, InputErrorsExitWith2) {
  EXPECT_EQ(RunIonsim({"replay", TempPath("no-such.trace")}).code, 2);
  EXPECT_EQ(RunIonsim({"replay", "-"}, "this is not a trace\n").code, 2);
  EXPECT_EQ(RunIonsim({"replay", "--board=nosuchboard", "-"}, "state\n").code, 2);
  EXPECT_EQ(RunIonsim({"decode", TempPath("no-such-input")}).code, 2);
  EXPECT_EQ(RunIonsim({"gen", "--board=nosuchboard"}).code, 2);
  const Outcome run = RunIonsim({"run", "--board=nosuchboard"});
  EXPECT_EQ(run.code, 2);
  EXPECT_THAT(run.err, HasSubstr("nosuchboard"));
  // The msm8x25 board has no heap called chunk.
  EXPECT_EQ(
      RunIonsim({"replay", "--board=msm8x25", "-"}, "P = spawn a\nC = open P\nH = alloc C len=4K heap=chunk\n").code,
      2);
  // A result that does not match is a finding.
  EXPECT_EQ(RunIonsim({"replay", "-"}, "P = spawn a\nC = open P\nH = alloc C len=4K heap=system  # EINVAL\n").code, 1);
  EXPECT_EQ(RunIonsim({"replay", "-"}, "P = spawn a\nC = open P\nH = alloc C len=4K heap=system  # ok id=1\n").code, 0);
}

TEST(CliTest, ReadmeCommandTableIsTheGeneratedOne) {
  const std::string readme = ReadText("README.md");
  const std::string begin = "<!-- ionsim help --markdown -->\n";
  const std::string end = "<!-- end of ionsim help --markdown -->";
  const size_t from = readme.find(begin);
  ASSERT_NE(from, std::string::npos) << "README.md has no " << begin;
  const size_t to = readme.find(end, from);
  ASSERT_NE(to, std::string::npos);
  EXPECT_EQ(readme.substr(from + begin.size(), to - from - begin.size()), RunIonsim({"help", "--markdown"}).out)
      << "update README.md's table from `ionsim help --markdown`";
}

// A generated trace uses the board's heap names, so the board replays it.
TEST(CliTest, GenWritesTracesForTheBoardItIsGiven) {
  for (const std::string board : {"msm8x25", "phone", "dummy"}) {
    const Outcome gen = RunIonsim({"gen", "--board", board, "--seed=3", "--ops=40"});
    ASSERT_EQ(gen.code, 0) << gen.err;
    EXPECT_EQ(gen.out.rfind("board " + board + "\n", 0) == 0, board != "dummy") << board;
    const Outcome replay = RunIonsim({"replay", "--board=" + board, "-"}, gen.out);
    EXPECT_EQ(replay.code, 0) << board << ": " << replay.err;
    EXPECT_EQ(RunIonsim({"replay", "-"}, gen.out).out, replay.out) << board;
  }
  EXPECT_EQ(RunIonsim({"gen", "--seed=3"}).out, RunIonsim({"gen", "--seed=3", "--board=dummy"}).out);
}

// Two threads freeing one id (CVE-2016-9120), from stdin.
constexpr char kTwoFrees[] =
    "P = spawn app\nC = open P\nH = alloc C len=4K heap=system\nT1 = thread P\nT2 = thread P\n"
    "T1: free C H\nT2: free C H\n";

TEST(CliTest, ExploreFindsTheRaceAndReplayReproducesItsSchedule) {
  const Outcome found = RunIonsim({"explore", "--profile=4.4.0", "-"}, kTwoFrees);
  EXPECT_EQ(found.code, 1) << found.err;
  EXPECT_THAT(found.out, HasSubstr("FINDING use-after-free"));
  const std::string marker = "--schedule '";
  const size_t at = found.out.find(marker);
  ASSERT_NE(at, std::string::npos) << found.out;
  const std::string schedule =
      found.out.substr(at + marker.size(), found.out.find('\'', at + marker.size()) - at - marker.size());
  const Outcome replay = RunIonsim({"replay", "--profile=4.4.0", "--schedule", schedule, "-"}, kTwoFrees);
  EXPECT_EQ(replay.code, 1) << replay.err;
  EXPECT_THAT(replay.out, HasSubstr("7 T2: free C H => ok"));
  EXPECT_THAT(replay.out, HasSubstr("FINDING use-after-free"));
  EXPECT_EQ(RunIonsim({"replay", "--profile=4.4.0", "--schedule", schedule, "-"}, kTwoFrees).out, replay.out);

  const Outcome clean = RunIonsim({"explore", "--profile=4.4-compat", "-"}, kTwoFrees);
  EXPECT_EQ(clean.code, 0) << clean.err;
  EXPECT_THAT(clean.out, HasSubstr("(exhausted)"));
  EXPECT_THAT(clean.out, HasSubstr("nothing found"));
}

TEST(CliTest, ExploreAndScheduleRejectBadInput) {
  EXPECT_EQ(RunIonsim({"explore", "-"}, "P = spawn a\n").code, 2);
  EXPECT_EQ(RunIonsim({"explore", "--strategy=bfs", "-"}, kTwoFrees).code, 2);
  EXPECT_EQ(RunIonsim({"explore", "--result=x", "-"}, kTwoFrees).code, 2);
  EXPECT_EQ(RunIonsim({"replay", "--schedule=3", "-"}, kTwoFrees).code, 2);
  EXPECT_EQ(RunIonsim({"replay", "--schedule=3:1", "-"}, "P = spawn a\n").code, 2);
}

}  // namespace
}  // namespace ionsim::testing
