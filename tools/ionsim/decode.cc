// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "tools/ionsim/decode.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz/fuzz_machine.h"
#include "fuzz/ion_program.h"

namespace ionsim {

int DecodeMain(int argc, char** argv) {
  bool run = false;
  std::vector<std::string> inputs;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--run") == 0) {
      run = true;
    } else {
      inputs.push_back(argv[i]);
    }
  }
  if (inputs.empty()) {
    std::fprintf(stderr, "usage: ionsim decode [--run] INPUT...\n");
    return 2;
  }
  for (const std::string& path : inputs) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "ionsim decode: cannot read %s\n", path.c_str());
      return 1;
    }
    const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const fuzz::Program program = fuzz::DecodeProgram(bytes.data(), bytes.size());
    std::printf("# decoded from %s (%zu bytes)\n", path.c_str(), bytes.size());
    if (!run) {
      std::printf("%s", fuzz::ProgramTrace(program).c_str());
      continue;
    }
    // Print each line as it completes, so a crash still shows the program up to the failing operation.
    std::string header = fuzz::ProgramTrace(fuzz::Program{});
    std::printf("%s", header.c_str());
    std::fflush(stdout);
    fuzz::FuzzMachine machine;
    fuzz::RunProgram(
        program, machine.backend(),
        [&](size_t, const fuzz::Op& op, const std::string& result) {
          const size_t nl = result.find('\n');
          std::printf("%s  # %s\n", fuzz::OpText(program, op).c_str(), result.substr(0, nl).c_str());
          if (nl != std::string::npos) {
            // Multi-line results (debugfs) as comments, so the trace stays replayable.
            size_t start = nl + 1;
            while (start < result.size()) {
              size_t end = result.find('\n', start);
              if (end == std::string::npos) end = result.size();
              std::printf("#%s\n", result.substr(start, end - start).c_str());
              start = end + 1;
            }
          }
          std::fflush(stdout);
          machine.Check(fuzz::OpText(program, op));
        },
        /*render=*/true);
    machine.Teardown();
    std::printf("# every oracle held after each operation and at teardown\n");
  }
  return 0;
}

}  // namespace ionsim
