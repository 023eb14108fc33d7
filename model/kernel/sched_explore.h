// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// A deterministic scheduler for interleaving exploration. Each simulated thread is a host thread, but a baton
// lets exactly one run at a time, and the baton changes hands only at scheduling points: a system call's entry
// (InterleavingScheduler::OpBoundary), before every lock acquire and after every release (lock.h's hook), and
// before every kref get and put (kref.h's hook), and before every lock-free update (lock.h's atomic_point: the
// genalloc bitmap). The scheduler tracks who holds each lock, so a thread about to
// take a lock another thread holds is not runnable; no runnable thread while some have not finished is a
// deadlock.
//
// Every point is numbered in the order the run reaches it. At each point the default is to keep running the
// current thread, or, when it cannot run, the lowest-numbered runnable one. A schedule lists only the points where
// the choice differs from that default, as "point:thread" pairs ("7:1,15:0"), so the same trace run with the
// same schedule makes the same choices and gives the same output.
//
// Oracles, reported as findings with every thread's position (never by stopping the host process): a use of a
// freed object (a lock or kref inside a block the slab quarantine holds), a double free, kref_put below zero,
// kref_get from zero, a lock held when a system call returns, and a deadlock.
//
// With no scheduler installed every hook is a null check; the model runs as without one.
#ifndef MODEL_KERNEL_SCHED_EXPLORE_H_
#define MODEL_KERNEL_SCHED_EXPLORE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace ionsim::kernel {

// One scheduling point of a run.
struct SchedPoint {
  int thread = -1;       // the thread that reached it (-1: the start of the section)
  uint64_t enabled = 0;  // bit k: thread k could run next
  int chosen = -1;       // the thread that runs next
  bool preemption = false;  // chosen != thread although thread could go on
  std::string where;     // what `thread` was about to do ("acquire mutex ion_client.lock")
  std::string position;  // the operation `thread` was in
};

struct SchedFinding {
  std::string kind;     // "use-after-free", "double-free", "kref-put-below-zero", "kref-get-from-zero",
                        // "lock-held-at-return", "deadlock"
  std::string message;  // what happened, to which object
  size_t point = 0;     // the scheduling points reached before it
  int thread = -1;
  std::vector<std::string> positions;  // every thread: "T1 at line 7 'free C H': release mutex ion_client.lock"
};

// Choice (point, current thread, enabled mask) -> the thread to run; must return a thread of the mask.
using SchedChooser = std::function<int(size_t point, int current, uint64_t enabled)>;

// Schedules as text: "" or "point:thread[,point:thread...]", points increasing.
std::string FormatSchedule(const std::map<size_t, int>& schedule);
bool ParseSchedule(const std::string& text, std::map<size_t, int>* schedule, std::string* error);

class InterleavingScheduler {
 public:
  // names: the threads (at most 64). forced: the schedule's choices.
  InterleavingScheduler(std::vector<std::string> names, std::map<size_t, int> forced);
  ~InterleavingScheduler();
  InterleavingScheduler(const InterleavingScheduler&) = delete;
  InterleavingScheduler& operator=(const InterleavingScheduler&) = delete;

  // A chooser replaces the forced choices (PCT); what it chose is recorded all the same.
  void set_chooser(SchedChooser chooser) { chooser_ = std::move(chooser); }

  // Runs body(k) for every thread k on its own host thread under the baton; returns when all have finished
  // (true) or on a deadlock (false: the blocked threads stay parked for good and hold what they hold).
  bool Run(const std::function<void(size_t)>& body);

  // Called by a simulated thread around each of its operations: before=true is the system call's entry (a
  // scheduling point; label is the operation as a reader sees it), before=false its return (a lock still held
  // is a finding). Outside a running scheduler it does nothing.
  static void OpBoundary(const std::string& label, bool before);

  const std::vector<SchedPoint>& points() const { return points_; }
  const std::vector<SchedFinding>& findings() const { return findings_; }
  const std::vector<std::string>& names() const { return names_; }
  int preemptions() const { return preemptions_; }
  // The choices of this run that differ from the default: replaying them reproduces the run.
  std::map<size_t, int> Deviations() const;
  // A forced choice named a thread that could not run at its point (a schedule of another trace or profile).
  bool diverged() const { return diverged_; }

  struct State;

 private:
  std::vector<std::string> names_;
  std::map<size_t, int> forced_;
  SchedChooser chooser_;
  std::vector<SchedPoint> points_;
  std::vector<SchedFinding> findings_;
  int preemptions_ = 0;
  bool diverged_ = false;
  State* state_ = nullptr;  // leaked after a deadlock: parked threads still wait on it
  friend struct SchedAccess;
};

// The slab quarantine (slab.h) for the duration of a run: freed blocks are kept, poisoned in their header, and
// released by End(). A lock or kref inside a quarantined block is a use-after-free; a kfree of one is a double
// free. Begin() and End() are called by the thread that runs the machine, around the whole run.
void QuarantineBegin();
// Returns the reports made outside every scheduler's threads (a double free at teardown).
std::vector<std::string> QuarantineEnd();
// "" when addr is in no quarantined block; otherwise "<type> (<n> bytes) allocated by ..., freed by ...".
std::string QuarantineDescribe(const void* addr);

}  // namespace ionsim::kernel

#endif  // MODEL_KERNEL_SCHED_EXPLORE_H_
