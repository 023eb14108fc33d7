// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// `ionsim gen --seed N --ops K`: prints a random trace (tools/trace/generator.h).
#ifndef TOOLS_IONSIM_GEN_H_
#define TOOLS_IONSIM_GEN_H_

namespace ionsim {

// args: the words after "gen". 0, or 2 for usage errors.
int GenMain(int argc, char** argv);

}  // namespace ionsim

#endif  // TOOLS_IONSIM_GEN_H_
