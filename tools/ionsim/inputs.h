// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The inputs of ionsim's commands, checked at the edge with absl::Status (the model keeps Errno inside):
// a trace file that must read and parse, a board that must resolve and boot, an output file that must be
// written. Messages name the file and, for a trace, the line ("x.trace:3: unknown operation 'foo'").
#ifndef TOOLS_IONSIM_INPUTS_H_
#define TOOLS_IONSIM_INPUTS_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tools/trace/model_runner.h"
#include "tools/trace/trace.h"

namespace ionsim {

// A file's bytes; "-" is stdin. NotFound when it cannot be read.
absl::StatusOr<std::string> ReadInput(const std::string& path);

// A parsed trace file ("-": stdin). InvalidArgument "PATH:LINE: what" when it does not parse.
absl::StatusOr<trace::Trace> LoadTrace(const std::string& path);

// A model runner for a board (an embedded board's name or a board file; "" is dummy). InvalidArgument when the
// board cannot be read or does not validate.
absl::StatusOr<std::unique_ptr<trace::ModelRunner>> BoardRunner(
    const std::string& board, bool all_lowmem = false, trace::MachineMode mode = trace::MachineMode::kFresh);

// Writes data to path. Unavailable "cannot write PATH: <why>" when it cannot.
absl::Status WriteFile(const std::string& path, const std::string& data);

}  // namespace ionsim

#endif  // TOOLS_IONSIM_INPUTS_H_
