// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// `ionsim fuzz --seconds N --jobs J [--harness NAME] [--workdir DIR] [--binary PATH]`: a fuzzing campaign in
// libFuzzer's fork mode on a --config=fuzz harness (ion_ops by default; ion_ioctl, genalloc), with live progress,
// a final summary, every finding decoded to a trace, and the new inputs merged (-merge=1) into the working corpus.
#ifndef TOOLS_IONSIM_FUZZ_H_
#define TOOLS_IONSIM_FUZZ_H_

#include <string>
#include <vector>

namespace ionsim {

// args: none (the flags say what to run). Returns 0 when the campaign found nothing, 1 when it found something,
// 2 on usage errors and when the harness cannot be built or run.
int FuzzMain(const std::vector<std::string>& args);

}  // namespace ionsim

#endif  // TOOLS_IONSIM_FUZZ_H_
