// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Delta debugging (ddmin) over the operations of a trace, keeping symbol bindings consistent: removing the
// operation that binds a symbol removes every operation that uses it (transitively). Given a predicate "still
// fails", the result is 1-minimal: removing any single remaining operation (with its dependents) makes the
// predicate false.
//
// Minimizer is a step machine so that a caller can evaluate each round's candidates together (the crosscheck
// runs them in one QEMU boot) and can run several minimisations in lockstep.
#ifndef TOOLS_TRACE_MINIMIZE_H_
#define TOOLS_TRACE_MINIMIZE_H_

#include <functional>
#include <vector>

#include "tools/trace/trace.h"

namespace ionsim::trace {

class Minimizer {
 public:
  // trace must satisfy the predicate.
  explicit Minimizer(const Trace& trace);

  bool done() const { return done_; }
  // The candidates of the current round (empty once done()).
  const std::vector<Trace>& candidates() const { return candidates_; }
  // The predicate's verdict for each candidate of the round, in order.
  void Feed(const std::vector<bool>& still_fails);
  // The smallest trace found so far (the input until a candidate succeeds).
  const Trace& result() const { return current_; }
  int rounds() const { return rounds_; }

 private:
  void MakeRound();

  Trace original_;
  std::vector<int> kept_;  // indices into original_.ops
  Trace current_;
  int granularity_ = 2;
  std::vector<std::vector<int>> candidate_sets_;
  std::vector<Trace> candidates_;
  bool done_ = false;
  int rounds_ = 0;
};

// The trace made of the operations `keep` of t (indices in order) whose symbols stay bound, renumbered and with
// a compact symbol table. *kept receives the indices actually kept.
Trace SubTrace(const Trace& t, const std::vector<int>& keep, std::vector<int>* kept);

// Runs a Minimizer to the end with a one-at-a-time predicate.
Trace Minimize(const Trace& trace, const std::function<bool(const Trace&)>& still_fails, int* evaluations);

}  // namespace ionsim::trace

#endif  // TOOLS_TRACE_MINIMIZE_H_
