// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "tools/ionsim/replay.h"

#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "model/kernel/sched_explore.h"
#include "tools/ionsim/cli.h"
#include "tools/ionsim/explore.h"
#include "tools/ionsim/flags.h"
#include "tools/ionsim/inputs.h"
#include "tools/ionsim/json.h"
#include "tools/ionsim/progress.h"
#include "tools/trace/executor.h"
#include "tools/trace/explorer.h"
#include "tools/trace/model_runner.h"
#include "tools/trace/trace.h"

namespace ionsim {
namespace {

// "line 3: what" -> "PATH:3: what", as compilers name places.
std::string Where(const std::string& path, const std::string& message) {
  if (absl::StartsWith(message, "line ")) return absl::StrCat(path, ":", message.substr(5));
  return absl::StrCat(path, ": ", message);
}

// The --json document of a replay that could not run.
int JsonError(const std::string& path, const std::string& message, int code) {
  std::fputs(Json::Object()
                 .Set("command", "replay")
                 .Set("trace", path)
                 .Set("error", message)
                 .Set("ok", false)
                 .Set("exit_code", code)
                 .Print()
                 .c_str(),
             stdout);
  return code;
}

}  // namespace

int ReplayMain(const std::vector<std::string>& args) {
  const std::string& path = args.at(0);
  const bool json = absl::GetFlag(FLAGS_json);
  const absl::StatusOr<std::string> board_flag = BoardFlag();
  if (!board_flag.ok()) return cli::UsageError("replay", board_flag.status().message());
  const std::string& board = *board_flag;
  const absl::StatusOr<std::string> profile = ProfileFlag();
  if (!profile.ok()) return cli::UsageError("replay", profile.status().message());
  absl::StatusOr<trace::Trace> t = LoadTrace(path);
  if (!t.ok()) {
    const std::string message(t.status().message());
    absl::FPrintF(stderr, "ionsim replay: %s\n", message);
    return json ? JsonError(path, message, cli::kExitError) : cli::kExitError;
  }
  absl::StatusOr<std::unique_ptr<trace::ModelRunner>> runner = BoardRunner(board.empty() ? t->board : board);
  if (!runner.ok()) {
    const std::string message(runner.status().message());
    absl::FPrintF(stderr, "ionsim replay: %s\n", message);
    return json ? JsonError(path, message, cli::kExitError) : cli::kExitError;
  }
  // --profile, else the trace's profile line (checked by the parser), else the board's profile record.
  if (std::string error; !(*runner)->SetProfile(profile->empty() ? t->profile : *profile, &error)) {
    absl::FPrintF(stderr, "ionsim replay: %s\n", error);
    return json ? JsonError(path, error, cli::kExitError) : cli::kExitError;
  }
  if (const std::string text = absl::GetFlag(FLAGS_schedule); !text.empty()) {
    // A schedule: the threads run under the interleaving scheduler with those choices, and the run prints as
    // explore prints it.
    std::map<size_t, int> schedule;
    if (std::string error; !kernel::ParseSchedule(text, &schedule, &error)) {
      return cli::UsageError("replay", "bad value '" + text + "' for --schedule: " + error);
    }
    if (!t->HasThreads()) return cli::UsageError("replay", "--schedule needs a trace with threads");
    trace::Explorer explorer(runner->get(), *t);
    const trace::ScheduleRun run = explorer.Run(schedule);
    std::fwrite(run.output.data(), 1, run.output.size(), stdout);
    std::fputs(explorer.FormatRun(run).c_str(), stdout);
    std::fflush(stdout);
    return run.failed() ? cli::kExitFinding : cli::kExitOk;
  }
  trace::ExecReport report;
  {
    Progress progress("replay", "operations", t->ops.size());
    (*runner)->set_after_op([&progress](size_t done) { progress.Update(done); });
    (*runner)->Run(*t, /*build_output=*/true, /*check=*/true, &report);
  }
  // A run that could not start or go on (a heap the board does not have) is an input error; a result that did
  // not match, a violation, a leak or a WARN is a finding.
  const int code = !report.error.empty() ? cli::kExitError : report.ok() ? cli::kExitOk : cli::kExitFinding;
  if (!report.error.empty()) absl::FPrintF(stderr, "%s\n", Where(path, report.error));
  for (const std::string& f : report.failures) absl::FPrintF(stderr, "%s\n", Where(path, f));
  if (json) {
    Json ops = Json::Array();
    const std::vector<std::string> results = trace::ResultsOfOutput(report.output);
    for (size_t i = 0; i < t->ops.size() && i < report.results.size(); ++i) {
      const trace::Op& op = t->ops[i];
      ops.Push(Json::Object()
                   .Set("line", op.line)
                   .Set("op", trace::FormatOp(*t, op))
                   .Set("result", i < results.size() ? results[i] : "")
                   .Set("errno", report.results[i].err)
                   .Set("value", report.results[i].value)
                   .Set("expected", op.expect));
    }
    std::vector<std::string> failures;
    for (const std::string& f : report.failures) failures.push_back(Where(path, f));
    Json doc = Json::Object();
    doc.Set("command", "replay")
        .Set("trace", path)
        .Set("board", board.empty() ? (t->board.empty() ? "dummy" : t->board) : board)
        .Set("operations", ops)
        .Set("output", report.output)
        .Set("mismatches", report.mismatches)
        .Set("violations", report.violations)
        .Set("failures", failures);
    if (!report.error.empty()) doc.Set("error", Where(path, report.error));
    doc.Set("ok", code == cli::kExitOk).Set("exit_code", code);
    std::fputs(doc.Print().c_str(), stdout);
  } else {
    std::fwrite(report.output.data(), 1, report.output.size(), stdout);
  }
  std::fflush(stdout);
  return code;
}

}  // namespace ionsim
