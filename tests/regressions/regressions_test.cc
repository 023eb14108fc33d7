// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Replays every regression trace (tests/regressions/*.trace, made by tools/fuzz/trace_to_regression.sh from
// fuzzer findings) on the fuzz machine with the fuzzers' oracles (fuzz/fuzz_machine.h) after every operation
// and at teardown, and checks each line's expected result. A violation aborts with the trace so far, as in the
// fuzzers; a mismatched result fails the test.
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "fuzz/fuzz_machine.h"
#include "fuzz/ion_program.h"
#include "tools/trace/executor.h"
#include "tools/trace/trace.h"

namespace {

namespace trace = ::ionsim::trace;

// Returns the failures of one trace ("" when it passes).
std::string Replay(const std::string& path) {
  std::ifstream in(path);
  if (!in) return path + ": cannot read";
  std::stringstream text;
  text << in.rdbuf();
  trace::Trace t;
  std::string error;
  if (!trace::ParseTrace(text.str(), &t, &error)) return path + ": " + error;
  if (!t.board.empty() && t.board != ionsim::fuzz::kFuzzBoardPath) {
    return path + ": regressions run on the fuzz board (board " + std::string(ionsim::fuzz::kFuzzBoardPath) + ")";
  }
  ionsim::fuzz::FuzzMachine machine;
  machine.set_context([&] { return path + "\n"; });
  trace::ExecOptions options;
  options.build_output = false;
  options.heaps = ionsim::fuzz::FuzzHeaps();
  options.check = [&](const trace::Op& op) {
    machine.Check(path + ":" + std::to_string(op.line) + ": " + trace::FormatOp(t, op));
    return std::string();
  };
  trace::Executor executor(machine.backend(), options);
  trace::ExecReport report;
  executor.Run(t, &report);
  machine.Teardown();
  std::string out;
  if (!report.error.empty()) out += path + ": " + report.error + "\n";
  for (const std::string& f : report.failures) out += path + ": " + f + "\n";
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int failed = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string failures = Replay(argv[i]);
    std::printf("%s %s\n", failures.empty() ? "PASS" : "FAIL", argv[i]);
    if (!failures.empty()) {
      std::printf("%s", failures.c_str());
      ++failed;
    }
  }
  std::printf("%d of %d regression trace(s) failed\n", failed, argc - 1);
  return failed == 0 && argc > 1 ? 0 : 1;
}
