// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The op-program fuzzer: the input decodes (fuzz/ion_program.h) into a program of up to 32 IonBackend
// operations over several processes and clients, which runs on a fresh fuzz machine with every oracle of
// fuzz/fuzz_machine.h after each operation and at teardown. A violation prints the program as a trace with the
// result of every operation so far, then aborts.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/fuzz_machine.h"
#include "fuzz/ion_program.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using ionsim::fuzz::Op;
  const ionsim::fuzz::Program program = ionsim::fuzz::DecodeProgram(data, size);
  ionsim::fuzz::FuzzMachine machine;
  std::vector<std::string> done;
  size_t ran = 0;
  bool checking = false;  // the oracles run on the last operation done (not the next one)
  machine.set_context([&] {
    std::string out;
    for (size_t i = 0; i < ran && i < program.ops.size(); i++) {
      out += ionsim::fuzz::OpText(program, program.ops[i]) + "  # " + done[i] + "\n";
    }
    if (!checking && ran < program.ops.size()) {
      out += ionsim::fuzz::OpText(program, program.ops[ran]) + "  # (running)\n";
    }
    return out;
  });
  done.reserve(program.ops.size());
  ionsim::fuzz::RunProgram(
      program, machine.backend(),
      [&](size_t index, const Op& op, const std::string& result) {
        done.push_back(result.substr(0, result.find('\n')));
        ran = index + 1;
        checking = true;
        machine.Check(ionsim::fuzz::OpText(program, op));
        checking = false;
      },
      /*render=*/false);
  checking = true;
  machine.Teardown();
  return 0;
}
