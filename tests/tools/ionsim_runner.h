// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Runs the ionsim binary (a data dependency of the test) and captures its exit code, stdout and stderr.
#ifndef TESTS_TOOLS_IONSIM_RUNNER_H_
#define TESTS_TOOLS_IONSIM_RUNNER_H_

#include <string>
#include <vector>

namespace ionsim::testing {

struct Outcome {
  int code = -1;  // the exit code; -1 when the program did not exit normally
  std::string out;
  std::string err;
};

// Runs tools/ionsim/ionsim with args (no shell quoting needed: each is passed as it is); stdin is `input`.
Outcome RunIonsim(const std::vector<std::string>& args, const std::string& input = "");

// The words of `ionsim help`'s command list.
std::vector<std::string> CommandNames();

// A file's text ("" when it cannot be read).
std::string ReadText(const std::string& path);

// A path under the test's temporary directory.
std::string TempPath(const std::string& name);

}  // namespace ionsim::testing

#endif  // TESTS_TOOLS_IONSIM_RUNNER_H_
