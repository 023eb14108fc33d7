// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// `ionsim gen [--board NAME|FILE] [--seed N] [--ops K]`: prints a random trace (tools/trace/generator.h) that
// uses the board's heaps; for a board other than dummy the trace starts with its `board` line.
#ifndef TOOLS_IONSIM_GEN_H_
#define TOOLS_IONSIM_GEN_H_

#include <string>
#include <vector>

namespace ionsim {

// args: none (the flags say what to generate). 0, or 2 for usage errors.
int GenMain(const std::vector<std::string>& args);

}  // namespace ionsim

#endif  // TOOLS_IONSIM_GEN_H_
