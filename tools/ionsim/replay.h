// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// `ionsim replay TRACE [--board NAME|FILE]`: runs a trace (docs/trace.md) on the model and prints its canonical
// output.
#ifndef TOOLS_IONSIM_REPLAY_H_
#define TOOLS_IONSIM_REPLAY_H_

namespace ionsim {

// args: the words after "replay". Exit status 0 when every expected result matched and the invariant checker,
// the shutdown leak check and the model's WARN record found nothing; 1 otherwise; 2 for usage errors.
int ReplayMain(int argc, char** argv);

}  // namespace ionsim

#endif  // TOOLS_IONSIM_REPLAY_H_
