// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The op-program fuzzer: the input decodes (fuzz/ion_program.h) into a trace of up to 32 IonBackend operations
// over several processes and clients, which the trace executor (tools/trace/executor.h) runs on a fresh fuzz
// machine with every oracle of fuzz/fuzz_machine.h after each operation and at teardown. A violation prints the
// trace with the result of every operation so far, then aborts.
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "fuzz/fuzz_machine.h"
#include "fuzz/ion_program.h"
#include "tools/trace/executor.h"
#include "tools/trace/trace.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace trace = ionsim::trace;
  const trace::Trace program = ionsim::fuzz::DecodeProgram(data, size);
  ionsim::fuzz::FuzzMachine machine;
  trace::ExecReport report;
  size_t done = 0;         // operations whose result is in report
  bool checking = false;   // the oracles run on the last operation done (not the next one)
  machine.set_context([&] {
    std::string out;
    for (size_t i = 0; i < done && i < program.ops.size(); i++) {
      out += trace::FormatOp(program, program.ops[i]) + "   # " + trace::ResultText(report.results[i], "") + "\n";
    }
    if (!checking && done < program.ops.size()) {
      out += trace::FormatOp(program, program.ops[done]) + "   # (running)\n";
    }
    return out;
  });
  trace::ExecOptions options;
  options.build_output = false;
  options.heaps = ionsim::fuzz::FuzzHeaps();
  options.check = [&](const trace::Op& op) {
    ++done;
    checking = true;
    machine.Check([&] { return trace::FormatOp(program, op); });
    checking = false;
    return std::string();
  };
  trace::Executor executor(machine.backend(), std::move(options));
  executor.Run(program, &report);
  if (!report.error.empty()) machine.Fail("the trace", "the executor stopped: " + report.error);
  checking = true;
  machine.Teardown();
  return 0;
}
