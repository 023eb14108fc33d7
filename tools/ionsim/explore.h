// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// `ionsim explore TRACE`: the interleavings of a threaded trace's concurrent sections (tools/trace/explorer.h),
// up to --preemptions preemptions, by --strategy dfs (every schedule, fewest preemptions first) or pct (random),
// within --budget schedules and --seconds. Prints the schedules explored and the first failing one, shortened,
// as an interleaving, with the command that replays it.
#ifndef TOOLS_IONSIM_EXPLORE_H_
#define TOOLS_IONSIM_EXPLORE_H_

#include <string>
#include <vector>

#include "absl/flags/declare.h"

// The schedule `replay` runs a threaded trace with ("point:thread,..."; docs/trace.md).
ABSL_DECLARE_FLAG(std::string, schedule);

namespace ionsim {

// Exit status 0 when nothing was found, 1 for a finding, 2 for usage and input errors.
int ExploreMain(const std::vector<std::string>& args);

}  // namespace ionsim

#endif  // TOOLS_IONSIM_EXPLORE_H_
