// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// `ionsim replay [--board NAME|FILE] TRACE`: runs a trace (docs/trace.md) on the model and prints its canonical
// output.
#ifndef TOOLS_IONSIM_REPLAY_H_
#define TOOLS_IONSIM_REPLAY_H_

#include <string>
#include <vector>

namespace ionsim {

// args: the trace path ("-" for stdin). Exit status 0 when every expected result matched and the invariant
// checker, the shutdown leak check and the model's WARN record found nothing; 1 otherwise; 2 for usage and
// input errors (a trace that does not parse, a board that does not validate, a heap the board does not have).
int ReplayMain(const std::vector<std::string>& args);

}  // namespace ionsim

#endif  // TOOLS_IONSIM_REPLAY_H_
