// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "tools/ionsim/decode.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "fuzz/fuzz_machine.h"
#include "fuzz/ion_program.h"
#include "model/kernel/bug.h"
#include "tools/ionsim/cli.h"
#include "tools/ionsim/flags.h"
#include "tools/trace/executor.h"
#include "tools/trace/trace.h"

ABSL_FLAG(bool, run, false,
          "also run each program on the fuzz machine with every oracle on and write each line's result as its "
          "expected result");

namespace ionsim {

namespace {

// Runs the decoded trace on the fuzz machine with every oracle (a violation aborts with the trace so far) and
// records each operation's result as its expected result, with `warn` where the operation raised one of the
// WARNs the oracles accept.
void AddExpectations(trace::Trace* t) {
  fuzz::FuzzMachine machine;
  trace::ExecOptions options;
  options.build_output = true;
  options.heaps = fuzz::FuzzHeaps();
  size_t warns = 0;
  std::vector<bool> warned;
  options.check = [&](const trace::Op& op) {
    machine.Check(trace::FormatOp(*t, op));
    const size_t now = kernel::bug_event_count(kernel::BugKind::kWarn);
    warned.push_back(now > warns);
    warns = now;
    return std::string();
  };
  trace::Executor executor(machine.backend(), options);
  trace::ExecReport report;
  executor.Run(*t, &report);
  if (!report.error.empty()) machine.Fail("the trace", "the executor stopped: " + report.error);
  machine.Teardown();
  // The canonical output has one unindented line per operation: "<line> <op> => <result>".
  const std::vector<std::string> results = trace::ResultsOfOutput(report.output);
  for (size_t i = 0; i < results.size() && i < t->ops.size(); ++i) {
    t->ops[i].expect = results[i];
    t->ops[i].expect_warn = i < warned.size() && warned[i];
  }
}

// What the decoded traces' header says of the machine they run on.
std::string MachineComment() {
  if (fuzz::FuzzBoardName() == fuzz::kFuzzBoardPath) {
    return "# The fuzz board: 16 MiB of RAM; heaps system 0, system_contig 1, carveout 2 (1 MiB), chunk 3 (1 MiB,\n"
           "# 4 KiB chunks), dma 4 (4 MiB CMA area). Replay from the repository root: ionsim replay FILE\n";
  }
  std::vector<std::string> heaps;
  for (const auto& [name, id] : fuzz::FuzzHeaps()) heaps.push_back(absl::StrCat(name, " ", id));
  return absl::StrCat("# Board ", fuzz::FuzzBoardName(), ": heaps ", absl::StrJoin(heaps, ", "),
                      ". Replay: ionsim replay FILE\n");
}

}  // namespace

absl::Status SetFuzzMachineFlags() {
  const absl::StatusOr<std::string> board_flag = BoardFlag();
  if (!board_flag.ok()) return board_flag.status();
  const absl::StatusOr<std::string> profile = ProfileFlag();
  if (!profile.ok()) return profile.status();
  std::string board = *board_flag;
  if (!board.empty()) {
    // A board file is named by its absolute path, so the fuzzer processes and the decoded traces find it from
    // any directory.
    std::error_code ec;
    if (std::filesystem::is_regular_file(board, ec)) board = std::filesystem::absolute(board, ec).string();
    setenv(fuzz::kFuzzBoardEnv, board.c_str(), 1);
  }
  if (!profile->empty()) setenv(fuzz::kFuzzProfileEnv, profile->c_str(), 1);
  return absl::OkStatus();
}

int DecodeMain(const std::vector<std::string>& inputs) {
  const bool run = absl::GetFlag(FLAGS_run);
  // The traces run (--run) on the fuzz machine of --board under --profile, and name both in their header lines.
  if (const absl::Status status = SetFuzzMachineFlags(); !status.ok()) {
    return cli::UsageError("decode", status.message());
  }
  const absl::StatusOr<std::string> profile = ProfileFlag();
  for (const std::string& path : inputs) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "ionsim decode: cannot read %s\n", path.c_str());
      return cli::kExitError;
    }
    const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    trace::Trace t = fuzz::DecodeProgram(bytes.data(), bytes.size());
    t.profile = *profile;
    const std::string base = path.substr(path.find_last_of('/') + 1);
    std::printf("# ion_ops_fuzzer input %s (%zu bytes), decoded by `ionsim decode%s`.\n", base.c_str(), bytes.size(),
                run ? " --run" : "");
    std::printf("%s", MachineComment().c_str());
    if (run) {
      std::fflush(stdout);
      AddExpectations(&t);
    }
    std::printf("%s", trace::PrintTrace(t).c_str());
  }
  return 0;
}

}  // namespace ionsim
