// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The ionsim command line (tools/ionsim/cli.h), through the binary: every subcommand rejects a misspelt flag
// with exit code 2 and names it, --help is generated from the flag definitions, both flag syntaxes mean the
// same, README's command table is `ionsim help --markdown`, and `gen --board` writes traces that board runs.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/tools/ionsim_runner.h"

namespace ionsim::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::IsSupersetOf;
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
      {"run"}, {"replay", "x.trace"}, {"gen"}, {"crosscheck"}, {"decode", "x.input"}, {"fuzz"}};
  for (std::vector<std::string> args : commands) {
    const std::string command = args[0];
    args.push_back("--profile=4.5");
    const Outcome o = RunIonsim(args);
    EXPECT_EQ(o.code, 2) << command;
    EXPECT_THAT(o.err, HasSubstr("ionsim " + command +
                                 ": bad value '4.5' for --profile (NAME: one of 4.4-compat, 4.4, 4.4.0)"))
        << command;
    EXPECT_EQ(o.out, "") << command;
  }
}

TEST(CliTest, AFlagOfAnotherCommandIsRejected) {
  const Outcome o = RunIonsim({"replay", "--ops=3", "x.trace"});
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("unknown flag --ops (replay accepts --board, --profile, --json, --noncoherent, --timeline)"));
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

}  // namespace
}  // namespace ionsim::testing
