// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// `ionsim exec [--board NAME|FILE] [--profile P] -- PROGRAM ARGS...`: runs an unmodified, dynamically linked ION
// program with /dev/ion and /sys/kernel/debug/ion served by the model (LD_PRELOAD=libionsim-preload.so,
// tools/preload/interposer.h). The exit status is the program's (128 + N when it dies of signal N); when the
// program exits 0 but the machine reported a kernel event (WARN, BUG...), an invariant violation or a leak at
// shutdown, the report is printed last on stderr and the status is 1.
#ifndef TOOLS_IONSIM_EXEC_H_
#define TOOLS_IONSIM_EXEC_H_

#include <string>
#include <vector>

namespace ionsim {

// args: PROGRAM ARGS...
int ExecMain(const std::vector<std::string>& args);

// The preload library beside an ionsim binary at exe_path: $IONSIM_PRELOAD when set, else the first of
// <exe>.runfiles/<workspace>/tools/preload/libionsim-preload.so, <dir>/libionsim-preload.so and
// <dir>/../preload/libionsim-preload.so that exists; "" when none does.
std::string FindPreload(const std::string& exe_path);

}  // namespace ionsim

#endif  // TOOLS_IONSIM_EXEC_H_
