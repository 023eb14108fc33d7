// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "tools/ionsim/explore.h"

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "model/kernel/bug.h"
#include "tools/ionsim/cli.h"
#include "tools/ionsim/flags.h"
#include "tools/ionsim/inputs.h"
#include "tools/trace/explorer.h"
#include "tools/trace/model_runner.h"
#include "tools/trace/trace.h"

ABSL_FLAG(int, preemptions, 2, "<K> explore: schedules with at most K preemptions");
ABSL_FLAG(std::string, strategy, "dfs",
          "<S> explore: dfs (every schedule within --preemptions, fewest preemptions first) or pct (random)");
ABSL_FLAG(uint64_t, budget, 0, "<N> explore: N schedules at most (0: dfs until exhausted, pct 1000)");
ABSL_FLAG(bool, no_reduction, false,
          "explore: branch at every scheduling point (by default, points after a release and at a system call's "
          "entry are skipped as equivalent to the thread's next point)");
ABSL_FLAG(std::string, result, "",
          "<LINE=RESULT> explore: also look for a schedule in which the operation of trace line LINE gives RESULT "
          "(ENOMEM, ok, ok id=2)");
ABSL_FLAG(std::string, schedule, "",
          "<S> replay: run the trace's threads with schedule S (point:thread,..., as explore prints it)");

ABSL_DECLARE_FLAG(int, seconds);  // fuzz.cc: the time budget

namespace ionsim {

int ExploreMain(const std::vector<std::string>& args) {
  const std::string& path = args.at(0);
  const absl::StatusOr<std::string> board_flag = BoardFlag();
  if (!board_flag.ok()) return cli::UsageError("explore", board_flag.status().message());
  const absl::StatusOr<std::string> profile = ProfileFlag();
  if (!profile.ok()) return cli::UsageError("explore", profile.status().message());
  const std::string strategy = absl::GetFlag(FLAGS_strategy);
  trace::ExploreOptions options;
  if (strategy == "dfs") {
    options.strategy = trace::ExploreOptions::Strategy::kDfs;
  } else if (strategy == "pct") {
    options.strategy = trace::ExploreOptions::Strategy::kPct;
  } else {
    return cli::UsageError("explore", "bad value '" + strategy + "' for --strategy (S: dfs or pct)");
  }
  options.preemptions = absl::GetFlag(FLAGS_preemptions);
  if (options.preemptions < 0) return cli::UsageError("explore", "bad value for --preemptions (K: 0 or more)");
  options.budget = absl::GetFlag(FLAGS_budget);
  options.seconds = absl::GetFlag(FLAGS_seconds);
  options.seed = absl::GetFlag(FLAGS_seed);
  options.reduce = !absl::GetFlag(FLAGS_no_reduction);
  if (const std::string want = absl::GetFlag(FLAGS_result); !want.empty()) {
    const size_t eq = want.find('=');
    int line = 0;
    if (eq == std::string::npos || eq + 1 == want.size() || !absl::SimpleAtoi(want.substr(0, eq), &line) || line <= 0) {
      return cli::UsageError("explore", "bad value '" + want + "' for --result (LINE=RESULT: a trace line and a result)");
    }
    // The line's canonical output is "<line> <operation> => <result>" followed by a newline or details.
    const std::string prefix = std::to_string(line) + " ";
    const std::string result = want.substr(eq + 1);
    options.outcome = [prefix, result](const trace::ScheduleRun& run) -> std::string {
      size_t pos = 0;
      while (pos < run.output.size()) {
        size_t nl = run.output.find('\n', pos);
        if (nl == std::string::npos) nl = run.output.size();
        const std::string l = run.output.substr(pos, nl - pos);
        const size_t arrow = l.find(" => ");
        if (l.rfind(prefix, 0) == 0 && arrow != std::string::npos &&
            (l.substr(arrow + 4) == result || (result == "ok" && l.compare(arrow + 4, 2, "ok") == 0))) {
          return l;
        }
        pos = nl + 1;
      }
      return "";
    };
  }
  absl::StatusOr<trace::Trace> t = LoadTrace(path);
  if (!t.ok()) {
    absl::FPrintF(stderr, "ionsim explore: %s\n", t.status().message());
    return cli::kExitError;
  }
  if (!t->HasThreads()) {
    absl::FPrintF(stderr, "ionsim explore: %s declares no thread (docs/trace.md, Threads): nothing to interleave\n",
                  path);
    return cli::kExitError;
  }
  const std::string& board = *board_flag;
  // One machine for every schedule, the ION module reloaded between them: booting dominates a run otherwise.
  absl::StatusOr<std::unique_ptr<trace::ModelRunner>> runner =
      BoardRunner(board.empty() ? t->board : board, /*all_lowmem=*/false, trace::MachineMode::kReload);
  if (!runner.ok()) {
    absl::FPrintF(stderr, "ionsim explore: %s\n", runner.status().message());
    return cli::kExitError;
  }
  if (std::string error; !(*runner)->SetProfile(profile->empty() ? t->profile : *profile, &error)) {
    absl::FPrintF(stderr, "ionsim explore: %s\n", error);
    return cli::kExitError;
  }
  kernel::set_bug_printing(false);
  trace::Explorer explorer(runner->get(), *t);
  const trace::ExploreResult r = explorer.Explore(options);
  absl::PrintF("explore %s: profile %s, strategy %s, at most %d preemptions\n", path, (*runner)->profile(), strategy,
               options.preemptions);
  absl::PrintF("schedules explored: %d (%s), %.3f s, %.0f schedules/s; alternatives pruned as equivalent: %d, "
               "beyond the preemption bound: %d\n",
               r.explored, r.found ? "stopped at the first failure" : r.exhausted ? "exhausted" : "budget reached",
               r.seconds, r.seconds > 0 ? static_cast<double>(r.explored) / r.seconds : 0.0, r.pruned, r.bounded_out);
  if (!r.found) {
    absl::PrintF("nothing found\n");
    return cli::kExitOk;
  }
  absl::PrintF("FAILING SCHEDULE (shortened in %d more runs):\n%s", r.minimise_runs, explorer.FormatRun(r.failure));
  absl::PrintF("replay: ionsim replay --profile %s --schedule '%s' %s\n", (*runner)->profile(),
               kernel::FormatSchedule(r.failure.schedule), path);
  return cli::kExitFinding;
}

}  // namespace ionsim
