// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// `ionsim decode [--run] INPUT...`: prints an ion_ops_fuzzer input (fuzz/ion_program.h) as a trace in the trace
// language. With --run the program also runs on the fuzz machine with every oracle on, and each line carries
// its result as the trace's expected result (`# ok`, `# EINVAL`), so the output is a regression trace.
#ifndef TOOLS_IONSIM_DECODE_H_
#define TOOLS_IONSIM_DECODE_H_

#include <string>
#include <vector>

namespace ionsim {

// inputs: the files to decode. Returns 0, or 2 when an input cannot be read.
int DecodeMain(const std::vector<std::string>& inputs);

}  // namespace ionsim

#endif  // TOOLS_IONSIM_DECODE_H_
