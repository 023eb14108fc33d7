// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Runs traces on the model: each trace on a fresh ModelBackend booted from one board, with the invariant checker
// after every operation, and the machine's shutdown leak report and any WARN the model raised counted as
// failures.
#ifndef TOOLS_TRACE_MODEL_RUNNER_H_
#define TOOLS_TRACE_MODEL_RUNNER_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "model/backend/model_backend.h"
#include "tools/trace/executor.h"
#include "tools/trace/trace.h"

namespace ionsim::trace {

// The board text for a name or file: an embedded board's name is returned as it is; anything else is read as a
// file. "" is "dummy". False with a message when a file cannot be read.
bool ResolveBoard(const std::string& name_or_file, std::string* board_text, std::string* error);

// The heap table (name, id) of a machine.
std::vector<std::pair<std::string, unsigned int>> HeapTable(const ModelConfig& config);

class ModelRunner {
 public:
  // A runner for a board (an embedded board's name or board text). all_lowmem makes all of RAM lowmem, as on a
  // 64-bit guest (no highmem zone), so the system heap's pool counts compare with the kernel's.
  static std::unique_ptr<ModelRunner> Create(const std::string& board_text, bool all_lowmem, std::string* error);

  const ModelConfig& config() const { return config_; }

  // Boots a fresh machine and runs the trace. check: run the invariant checker after every operation.
  bool Run(const Trace& trace, bool build_output, bool check, ExecReport* report);

 private:
  ModelConfig config_;
  std::vector<std::pair<std::string, unsigned int>> heaps_;
};

}  // namespace ionsim::trace

#endif  // TOOLS_TRACE_MODEL_RUNNER_H_
