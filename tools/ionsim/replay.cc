// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "tools/ionsim/replay.h"

#include <cstdio>
#include <fstream>
#include <memory>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "tools/ionsim/cli.h"
#include "tools/ionsim/flags.h"
#include "tools/ionsim/progress.h"
#include "tools/trace/executor.h"
#include "tools/trace/model_runner.h"
#include "tools/trace/trace.h"

namespace ionsim {
namespace {

// "line 3: what" -> "PATH:3: what", as compilers name places.
std::string Where(const std::string& path, const std::string& message) {
  if (message.rfind("line ", 0) == 0) return path + ":" + message.substr(5);
  return path + ": " + message;
}

}  // namespace

int ReplayMain(const std::vector<std::string>& args) {
  const std::string& path = args.at(0);
  const std::string board = absl::GetFlag(FLAGS_board);
  std::stringstream text;
  if (path == "-") {
    text << std::cin.rdbuf();
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "ionsim replay: cannot read %s\n", path.c_str());
      return 2;
    }
    text << in.rdbuf();
  }
  trace::Trace t;
  std::string error;
  if (!trace::ParseTrace(text.str(), &t, &error)) {
    std::fprintf(stderr, "%s\n", Where(path, error).c_str());
    return 2;
  }
  std::string board_text;
  if (!trace::ResolveBoard(board.empty() ? t.board : board, &board_text, &error)) {
    std::fprintf(stderr, "ionsim replay: %s\n", error.c_str());
    return 2;
  }
  std::unique_ptr<trace::ModelRunner> runner = trace::ModelRunner::Create(board_text, false, &error);
  if (!runner) {
    std::fprintf(stderr, "ionsim replay: board: %s\n", error.c_str());
    return 2;
  }
  trace::ExecReport report;
  {
    Progress progress("replay", "operations", t.ops.size());
    runner->set_after_op([&progress](size_t done) { progress.Update(done); });
    runner->Run(t, /*build_output=*/true, /*check=*/true, &report);
  }
  std::fwrite(report.output.data(), 1, report.output.size(), stdout);
  std::fflush(stdout);
  if (!report.error.empty()) std::fprintf(stderr, "%s\n", Where(path, report.error).c_str());
  for (const std::string& f : report.failures) std::fprintf(stderr, "%s\n", Where(path, f).c_str());
  // A run that could not start or go on (a heap the board does not have) is an input error; a result that did
  // not match, a violation, a leak or a WARN is a finding.
  if (!report.error.empty()) return cli::kExitError;
  return report.ok() ? cli::kExitOk : cli::kExitFinding;
}

}  // namespace ionsim
