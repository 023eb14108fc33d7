// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// `ionsim decode [--board B] [--profile P] [--run] INPUT...`: prints an ion_ops_fuzzer input (fuzz/ion_program.h) as a trace in the trace
// language, on the fuzz board or --board. With --run the program also runs on that machine with every oracle on, and each line carries
// its result as the trace's expected result (`# ok`, `# EINVAL`), so the output is a regression trace.
#ifndef TOOLS_IONSIM_DECODE_H_
#define TOOLS_IONSIM_DECODE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace ionsim {

// Points the fuzz machine (fuzz/ion_program.h) of this process, and of the fuzzer processes it starts, at
// --board and --profile: sets IONSIM_FUZZ_BOARD (a board file as an absolute path) and IONSIM_FUZZ_PROFILE when
// the flags are given. InvalidArgument naming the flag when a board does not resolve or validate or a profile is
// unknown; nothing is set then. Call it before the first use of the fuzz machine.
absl::Status SetFuzzMachineFlags();

// inputs: the files to decode. Returns 0, or 2 when an input cannot be read.
int DecodeMain(const std::vector<std::string>& inputs);

}  // namespace ionsim

#endif  // TOOLS_IONSIM_DECODE_H_
