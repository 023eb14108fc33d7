// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "tools/trace/explorer.h"

#include <algorithm>
#include <chrono>
#include <queue>
#include <random>
#include <utility>

namespace ionsim::trace {
namespace {

using kernel::InterleavingScheduler;
using kernel::SchedPoint;

// A schedule still to run: its choices and its preemptions.
struct Pending {
  int preemptions = 0;
  uint64_t order = 0;  // among equal preemptions, first come first run
  std::map<size_t, int> schedule;
};
struct FewerPreemptions {
  bool operator()(const Pending& a, const Pending& b) const {
    return a.preemptions != b.preemptions ? a.preemptions > b.preemptions : a.order < b.order;
  }
};

int DefaultChoice(const SchedPoint& p) {
  const bool cur = p.thread >= 0 && ((p.enabled >> p.thread) & 1);
  return cur ? p.thread : __builtin_ctzll(p.enabled);
}

}  // namespace

std::string ScheduleRun::kind() const {
  if (!findings.empty()) return findings.front().kind;
  return failures.empty() ? "" : "failure";
}

Explorer::Explorer(ModelRunner* runner, const Trace& trace) : runner_(runner), trace_(trace) {
  for (Op& op : trace_.ops) op.expect.clear();
}

ScheduleRun Explorer::Run(const std::map<size_t, int>& schedule, const kernel::SchedChooser& chooser) {
  ScheduleRun run;
  size_t offset = 0;  // points of the sections before
  runner_->set_threads(
      [&](const std::vector<std::string>& names, const std::function<void(size_t)>& body) {
        std::map<size_t, int> forced;
        for (auto it = schedule.lower_bound(offset); it != schedule.end(); ++it) forced[it->first - offset] = it->second;
        InterleavingScheduler sched(names, std::move(forced));
        const size_t base = offset;
        if (chooser) sched.set_chooser([&chooser, base](size_t p, int cur, uint64_t en) { return chooser(base + p, cur, en); });
        const bool ok = sched.Run(body);
        for (const SchedPoint& p : sched.points()) run.points.push_back(p);
        for (kernel::SchedFinding f : sched.findings()) {
          f.point += base;
          run.findings.push_back(std::move(f));
        }
        run.names.insert(run.names.end(), names.begin(), names.end());
        run.preemptions += sched.preemptions();
        run.diverged |= sched.diverged();
        offset += sched.points().size();
        return ok;
      },
      [this](const Op& op, bool before) {
        InterleavingScheduler::OpBoundary("line " + std::to_string(op.line) + " '" + FormatOp(trace_, op) + "'",
                                          before);
      });
  kernel::QuarantineBegin();
  ExecReport report;
  runner_->Run(trace_, /*build_output=*/true, /*check=*/true, &report);
  for (const std::string& r : kernel::QuarantineEnd()) run.failures.push_back(r);
  runner_->set_threads(nullptr, nullptr);
  run.abandoned = report.abandoned;
  if (!report.error.empty() && !report.abandoned) run.failures.push_back(report.error);
  for (const std::string& f : report.failures) run.failures.push_back(f);
  run.output = std::move(report.output);
  for (size_t p = 0; p < run.points.size(); ++p) {
    if (run.points[p].chosen != DefaultChoice(run.points[p])) run.schedule[p] = run.points[p].chosen;
  }
  return run;
}

ScheduleRun Explorer::Judged(const std::map<size_t, int>& schedule, const kernel::SchedChooser& chooser,
                             const ExploreOptions& options) {
  ScheduleRun run = Run(schedule, chooser);
  if (options.outcome) {
    if (const std::string o = options.outcome(run); !o.empty()) run.failures.push_back("outcome: " + o);
  }
  return run;
}

ScheduleRun Explorer::Shorten(const ScheduleRun& failing, const ExploreOptions& options, uint64_t* runs) {
  ScheduleRun best = failing;
  if (best.abandoned) return best;  // a deadlocked machine cannot be run again beside the one left behind
  bool progress = true;
  while (progress) {
    progress = false;
    for (const auto& [point, thread] : best.schedule) {
      std::map<size_t, int> fewer = best.schedule;
      fewer.erase(point);
      ScheduleRun r = Judged(fewer, nullptr, options);
      ++*runs;
      if (r.abandoned) return best;
      if (r.failed() && r.kind() == best.kind() && r.preemptions <= best.preemptions) {
        best = std::move(r);
        progress = true;
        break;
      }
    }
  }
  return best;
}

ExploreResult Explorer::Explore(const ExploreOptions& options) {
  ExploreResult result;
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&start] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  auto out_of_time = [&] {
    return (options.seconds > 0 && elapsed() >= options.seconds) ||
           (options.budget > 0 && result.explored >= options.budget);
  };
  auto finish = [&](ScheduleRun failing) {
    result.found = true;
    result.failure = Shorten(failing, options, &result.minimise_runs);
    result.seconds = elapsed();
    return result;
  };
  if (options.strategy == ExploreOptions::Strategy::kDfs) {
    std::priority_queue<Pending, std::vector<Pending>, FewerPreemptions> frontier;
    uint64_t order = 0;
    frontier.push(Pending{0, order--, {}});
    while (!frontier.empty()) {
      if (out_of_time()) {
        result.seconds = elapsed();
        return result;
      }
      Pending next = frontier.top();
      frontier.pop();
      ScheduleRun run = Judged(next.schedule, nullptr, options);
      ++result.explored;
      if (run.failed()) return finish(std::move(run));
      // The choices beyond this schedule's last forced one were the defaults: each other runnable thread at each
      // of those points is a new schedule.
      const size_t from = next.schedule.empty() ? 0 : next.schedule.rbegin()->first + 1;
      int before = 0;  // preemptions of the points before p
      for (size_t p = 0; p < run.points.size(); ++p) {
        const SchedPoint& sp = run.points[p];
        // Under the assumption that the model's threads share memory only under its locks and through krefs, what
        // a thread does after a release or a system call's entry, up to its next lock or kref, is invisible to the
        // others: switching there is the same as switching at that next point. Such points are not branched on.
        const bool invisible =
            options.reduce && (sp.where.rfind("released ", 0) == 0 || sp.where == "system call entry");
        if (p >= from && invisible && sp.thread >= 0 && ((sp.enabled >> sp.thread) & 1)) {
          result.pruned += static_cast<uint64_t>(__builtin_popcountll(sp.enabled)) - 1;
        } else if (p >= from) {
          const bool cur = sp.thread >= 0 && ((sp.enabled >> sp.thread) & 1);
          for (int t = 0; t < 64; ++t) {
            if (!((sp.enabled >> t) & 1) || t == sp.chosen) continue;
            const int pre = before + (cur && t != sp.thread ? 1 : 0);
            if (pre > options.preemptions) {
              ++result.bounded_out;
              continue;
            }
            Pending child{pre, order--, {}};
            for (auto it = run.schedule.begin(); it != run.schedule.end() && it->first < p; ++it) {
              child.schedule.insert(*it);
            }
            if (t != DefaultChoice(sp)) child.schedule[p] = t;
            frontier.push(std::move(child));
          }
        }
        if (sp.preemption) ++before;
      }
    }
    result.exhausted = true;
    result.seconds = elapsed();
    return result;
  }
  // PCT: random thread priorities and K+1 priority change points over the length of the default run.
  const ScheduleRun first = Judged({}, nullptr, options);
  ++result.explored;
  if (first.failed()) return finish(first);
  const size_t length = std::max<size_t>(first.points.size(), 1);
  const uint64_t budget = options.budget > 0 ? options.budget : 1000;
  std::mt19937_64 rng(options.seed);
  while (result.explored < budget && !(options.seconds > 0 && elapsed() >= options.seconds)) {
    std::vector<int> priority(64);
    for (int k = 0; k < 64; ++k) priority[k] = 64 + static_cast<int>(rng() % 1000000);
    std::map<size_t, int> changes;  // point -> the new (low) priority of the running thread
    for (int d = 0; d <= options.preemptions; ++d) changes[rng() % length] = d;
    auto chooser = [&priority, &changes](size_t p, int cur, uint64_t en) {
      if (auto it = changes.find(p); it != changes.end() && cur >= 0) priority[cur] = it->second;
      int best = -1;
      for (int t = 0; t < 64; ++t) {
        if (((en >> t) & 1) && (best < 0 || priority[t] > priority[best])) best = t;
      }
      return best;
    };
    ScheduleRun run = Judged({}, chooser, options);
    ++result.explored;
    if (run.failed()) return finish(std::move(run));
  }
  result.seconds = elapsed();
  return result;
}

std::string Explorer::FormatRun(const ScheduleRun& run) const {
  std::string out = "schedule '" + kernel::FormatSchedule(run.schedule) + "' (" +
                    std::to_string(run.preemptions) + " preemption" + (run.preemptions == 1 ? "" : "s") + ")\n";
  if (run.diverged) out += "  (the schedule did not fit this run: some of its choices were not possible)\n";
  // Segments: which thread ran from which point to which. A thread resumes where it last stopped.
  std::vector<std::string> resume(run.names.size(), "start");
  size_t base = 0;  // the index in names of the current section's first thread
  size_t size = 0;  // its number of threads
  for (size_t p = 0; p < run.points.size();) {
    const SchedPoint& sp = run.points[p];
    if (sp.thread < 0) {  // the start of a section: every thread of it can run
      base += size;
      size = static_cast<size_t>(__builtin_popcountll(sp.enabled));
    }
    const int c = sp.chosen;
    size_t q = p + 1;
    while (q < run.points.size() && run.points[q].thread == c && run.points[q].chosen == c) ++q;
    const size_t name = std::min(base + static_cast<size_t>(c), run.names.size() - 1);
    std::string line = "  " + run.names[name] + " [points " + std::to_string(p) + "-" + std::to_string(q) + "]";
    if (q < run.points.size() && run.points[q].thread == c) {
      const SchedPoint& stop = run.points[q];
      line += " in " + stop.position + ": from " + resume[name] + " to " + stop.where;
      line += stop.preemption ? " -- preempted\n" : stop.where == "finished" ? "\n" : " -- blocked\n";
      resume[name] = stop.where;
    } else {
      line += ": from " + resume[name] + " to the end\n";
    }
    out += line;
    p = q;
  }
  for (const kernel::SchedFinding& f : run.findings) {
    out += "FINDING " + f.kind + " at point " + std::to_string(f.point) + ": " + f.message + "\n";
    for (const std::string& pos : f.positions) out += "    " + pos + "\n";
  }
  for (const std::string& f : run.failures) out += "FAILURE " + f + "\n";
  return out;
}

}  // namespace ionsim::trace
