// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "tools/trace/minimize.h"

#include <algorithm>
#include <string>

namespace ionsim::trace {

Trace SubTrace(const Trace& t, const std::vector<int>& keep, std::vector<int>* kept) {
  std::vector<bool> bound(t.symbols.size(), false);
  auto ok = [&bound](const SymRef& r) { return r.sym < 0 || (bound[r.sym] && (r.at < 0 || bound[r.at])); };
  Trace out;
  out.board = t.board;
  out.profile = t.profile;
  std::vector<int32_t> remap(t.symbols.size(), -1);
  std::vector<int32_t> heap_remap(t.heap_names.size(), -1);
  auto map_ref = [&remap](const SymRef& r) {
    SymRef m;
    m.sym = r.sym < 0 ? -1 : remap[r.sym];
    m.at = r.at < 0 ? -1 : remap[r.at];
    return m;
  };
  if (kept) kept->clear();
  int line = (t.board.empty() ? 0 : 1) + (t.profile.empty() ? 0 : 1);
  for (int i : keep) {
    const Op& op = t.ops[i];
    const bool uses_b = !op.raw_id && op.b.sym >= 0;
    if (!ok(op.a) || (uses_b && !ok(op.b))) continue;
    Op n = op;
    n.a = map_ref(op.a);
    n.b = uses_b ? map_ref(op.b) : op.b;
    if (op.heap >= 0) {
      if (heap_remap[op.heap] < 0) {
        heap_remap[op.heap] = static_cast<int32_t>(out.heap_names.size());
        out.heap_names.push_back(t.heap_names[op.heap]);
      }
      n.heap = heap_remap[op.heap];
    }
    if (op.bind >= 0) {
      bound[op.bind] = true;
      remap[op.bind] = static_cast<int32_t>(out.symbols.size());
      out.symbols.push_back(t.symbols[op.bind]);
      n.bind = remap[op.bind];
    }
    n.line = ++line;
    out.ops.push_back(std::move(n));
    if (kept) kept->push_back(i);
  }
  return out;
}

Minimizer::Minimizer(const Trace& trace) : original_(trace) {
  std::vector<int> all;
  for (size_t i = 0; i < trace.ops.size(); ++i) all.push_back(static_cast<int>(i));
  current_ = SubTrace(original_, all, &kept_);
  MakeRound();
}

void Minimizer::MakeRound() {
  candidate_sets_.clear();
  candidates_.clear();
  const int n = static_cast<int>(kept_.size());
  if (n <= 1) {
    done_ = true;
    return;
  }
  granularity_ = std::min(granularity_, n);
  // Complements: kept_ without one of granularity_ chunks (with everything that depends on the chunk).
  for (int c = 0; c < granularity_; ++c) {
    const int begin = c * n / granularity_;
    const int end = (c + 1) * n / granularity_;
    std::vector<int> keep;
    for (int i = 0; i < n; ++i) {
      if (i < begin || i >= end) keep.push_back(kept_[i]);
    }
    std::vector<int> really;
    Trace t = SubTrace(original_, keep, &really);
    if (really.size() == kept_.size()) continue;
    bool seen = false;
    for (const auto& s : candidate_sets_) seen |= s == really;
    if (seen) continue;
    candidate_sets_.push_back(std::move(really));
    candidates_.push_back(std::move(t));
  }
  if (candidates_.empty()) {
    if (granularity_ >= n) {
      done_ = true;
    } else {
      granularity_ = std::min(n, granularity_ * 2);
      MakeRound();
    }
  }
}

void Minimizer::Feed(const std::vector<bool>& still_fails) {
  if (done_) return;
  ++rounds_;
  // The smallest candidate that still fails becomes the trace.
  int best = -1;
  for (size_t i = 0; i < candidates_.size() && i < still_fails.size(); ++i) {
    if (still_fails[i] && (best < 0 || candidate_sets_[i].size() < candidate_sets_[best].size())) {
      best = static_cast<int>(i);
    }
  }
  if (best >= 0) {
    kept_ = candidate_sets_[best];
    current_ = candidates_[best];
    granularity_ = std::max(granularity_ - 1, 2);
  } else if (granularity_ >= static_cast<int>(kept_.size())) {
    done_ = true;
    candidates_.clear();
    candidate_sets_.clear();
    return;
  } else {
    granularity_ = std::min(static_cast<int>(kept_.size()), granularity_ * 2);
  }
  MakeRound();
}

Trace Minimize(const Trace& trace, const std::function<bool(const Trace&)>& still_fails, int* evaluations) {
  Minimizer m(trace);
  int evals = 0;
  while (!m.done()) {
    std::vector<bool> verdicts;
    for (const Trace& c : m.candidates()) {
      verdicts.push_back(still_fails(c));
      ++evals;
    }
    m.Feed(verdicts);
  }
  if (evaluations) *evaluations = evals;
  return m.result();
}

}  // namespace ionsim::trace
