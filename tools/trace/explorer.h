// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Interleaving exploration of a threaded trace (docs/trace.md, "Threads") on the model: every run boots a fresh
// machine, runs the trace's concurrent sections under model/kernel/sched_explore.h's scheduler with a given
// schedule, with the slab quarantine on, and collects the scheduler's findings (use-after-free, double free,
// kref misuse, a lock held at a system call's return, deadlock) and the run's own (a WARN, an invariant the
// checker finds broken, a leak). Expected results written in the trace are not checked: they hold for one
// schedule, not for every one.
//
// Reduction: a point after a lock release or at a system call's entry is not branched on, since under the
// assumption that threads share memory only under locks and through krefs (what the oracles watch), switching
// there is equivalent to switching at the same thread's next point, which is branched on; ExploreResult::pruned
// counts the alternatives skipped.
//
// Strategies: "dfs" enumerates every schedule with at most K preemptions, fewest preemptions first (so the first
// failing schedule found has the fewest preemptions of any); "pct" runs random schedules with K+1 priority change
// points (probabilistic concurrency testing). The failing schedule is then shortened: each choice that is not
// needed for the same kind of finding is dropped.
#ifndef TOOLS_TRACE_EXPLORER_H_
#define TOOLS_TRACE_EXPLORER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "model/kernel/sched_explore.h"
#include "tools/trace/model_runner.h"
#include "tools/trace/trace.h"

namespace ionsim::trace {

struct ScheduleRun {
  std::map<size_t, int> schedule;  // the choices that differ from the default (what replays it)
  int preemptions = 0;
  std::vector<std::string> names;  // every section's threads, in order (a thread index names the section's)
  std::vector<kernel::SchedPoint> points;
  std::vector<kernel::SchedFinding> findings;
  std::vector<std::string> failures;  // the run's own: WARN, invariant, leak, teardown reports
  std::string output;                 // the canonical output
  bool diverged = false;              // a choice of the schedule could not be honoured
  bool abandoned = false;             // a deadlock: the run's machine is left as it is

  bool failed() const { return !findings.empty() || !failures.empty(); }
  // The first finding's kind, "failure" for a failure of the run's own, "" when none.
  std::string kind() const;
};

struct ExploreOptions {
  enum class Strategy { kDfs, kPct };
  Strategy strategy = Strategy::kDfs;
  int preemptions = 2;   // K
  uint64_t budget = 0;   // schedules at most; 0: dfs until exhausted, pct 1000
  double seconds = 0;    // wall-clock limit; 0: none
  uint64_t seed = 1;     // pct
  bool reduce = true;    // dfs: skip the points the reduction (above) finds equivalent
  // An outcome to look for beside the oracles: "" when the run does not show it, otherwise what it shows (the
  // run then counts as failing, with "outcome: <text>" among its failures).
  std::function<std::string(const ScheduleRun& run)> outcome;
};

struct ExploreResult {
  uint64_t explored = 0;     // schedules run
  uint64_t bounded_out = 0;  // alternatives not tried because they exceed K preemptions
  uint64_t pruned = 0;       // alternatives not tried because an equivalent one is (see Explore())
  bool exhausted = false;    // dfs: every schedule within K was run
  double seconds = 0;
  bool found = false;
  ScheduleRun failure;       // when found: the shortened failing run
  uint64_t minimise_runs = 0;
};

class Explorer {
 public:
  // runner: the machine every run boots (its board and profile); trace: a parsed trace (with or without threads).
  Explorer(ModelRunner* runner, const Trace& trace);

  // One run of the trace with a schedule (or, when chooser is set, the chooser's choices).
  ScheduleRun Run(const std::map<size_t, int>& schedule, const kernel::SchedChooser& chooser = nullptr);
  ExploreResult Explore(const ExploreOptions& options);

  // The run as a reader follows it: the schedule, then which thread ran from which point to which, in which
  // operation, and the findings with every thread's position.
  std::string FormatRun(const ScheduleRun& run) const;

 private:
  ScheduleRun Shorten(const ScheduleRun& run, const ExploreOptions& options, uint64_t* runs);
  // Run() with the options' outcome judged.
  ScheduleRun Judged(const std::map<size_t, int>& schedule, const kernel::SchedChooser& chooser,
                     const ExploreOptions& options);

  ModelRunner* runner_;
  Trace trace_;
};

}  // namespace ionsim::trace

#endif  // TOOLS_TRACE_EXPLORER_H_
