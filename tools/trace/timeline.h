// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// A timeline of a trace run on the model (`ionsim replay --timeline PATH`): an SVG with one lane per ION buffer
// from the operation that allocated it to the one that destroyed it, a mark wherever an operation changed the
// buffer's holders (its reference count, handle count, or deferred-free list membership) or the coherency oracle
// reported on it, each mark coloured by the process whose operation it was and with the operation's line as hover
// text (an SVG <title>). A lane turns hatched where the buffer has no handle left (an orphan) and grey where it
// waits on a deferred-free list.
#ifndef TOOLS_TRACE_TIMELINE_H_
#define TOOLS_TRACE_TIMELINE_H_

#include <map>
#include <string>
#include <vector>

#include "model/backend/model_backend.h"
#include "tools/trace/trace.h"

namespace ionsim::trace {

class Timeline {
 public:
  // After each operation of a run on `model`: samples every buffer's state; `coherency` holds the oracle's
  // reports of the operation (their messages).
  void Sample(ModelBackend* model, const Trace& trace, const Op& op, const std::vector<std::string>& coherency);
  // The picture of everything sampled.
  std::string Svg(const std::string& caption) const;

 private:
  struct State {
    int ref = 0;
    int handles = 0;
    bool freeing = false;  // on a deferred-free list
    bool operator==(const State& o) const { return ref == o.ref && handles == o.handles && freeing == o.freeing; }
  };
  struct Mark {
    int step;
    std::string process;  // the trace symbol of the process whose operation it was
    std::string text;     // hover text
    bool coherency = false;
  };
  struct Lane {
    unsigned long serial = 0;
    std::string label;  // "b3 64K carveout"
    int first = 0;      // the step it appeared at
    int last = -1;      // the last step it was alive at (-1: still alive)
    std::vector<std::pair<int, State>> states;  // each change
    std::vector<Mark> marks;
  };
  std::map<unsigned long, Lane> lanes_;  // by serial
  std::vector<std::string> steps_;       // "line N `op`" per step
  std::vector<std::string> processes_;   // in order of first mark, for colours and the legend
  int step_ = 0;
};

// The trace symbol of the process an operation runs in (its first operand's process), "" for none.
std::string ProcessOfOp(const Trace& trace, const Op& op);

}  // namespace ionsim::trace

#endif  // TOOLS_TRACE_TIMELINE_H_
