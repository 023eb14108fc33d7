// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// `ionsim crosscheck [--random N --seed S] [TRACE...]`: replays traces on the model in-process and on the real
// module in one QEMU boot, compares the canonical outputs byte for byte, and minimises every divergence.
#ifndef TOOLS_IONSIM_CROSSCHECK_H_
#define TOOLS_IONSIM_CROSSCHECK_H_

#include <string>
#include <vector>

namespace ionsim {

// args: the trace files. 0 when every trace agrees; 1 on a divergence or a model failure; 2 for usage and input
// errors and a guest run that could not finish.
int CrosscheckMain(const std::vector<std::string>& args);

}  // namespace ionsim

#endif  // TOOLS_IONSIM_CROSSCHECK_H_
