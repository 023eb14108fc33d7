// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Runs traces on the model: each trace on a fresh ModelBackend booted from one board, or each on a fresh ION
// module reloaded on one machine (as the crosscheck's guest runs them), with the invariant checker after every
// operation, and the leak report of the machine's shutdown or of the module's unload and any WARN the model
// raised counted as failures.
#ifndef TOOLS_TRACE_MODEL_RUNNER_H_
#define TOOLS_TRACE_MODEL_RUNNER_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "model/backend/model_backend.h"
#include "tools/trace/executor.h"
#include "tools/trace/generator.h"
#include "tools/trace/trace.h"

namespace ionsim::trace {

// The board text for a name or file: an embedded board's name is returned as it is; anything else is read as a
// file. "" is "dummy". False with a message when a file cannot be read.
bool ResolveBoard(const std::string& name_or_file, std::string* board_text, std::string* error);

// The heap table (name, id) of a machine.
std::vector<std::pair<std::string, unsigned int>> HeapTable(const ModelConfig& config);

// Generator options for a machine's heaps: every heap by name (blanks as '_'), the deferred-free ones (system,
// carveout, chunk) for shrink (the first heap when none is), and the chunk heap's name, id and chunk size.
// Other options keep GeneratorOptions' defaults.
GeneratorOptions GeneratorOptionsFor(const ModelConfig& config);

// What each trace runs on.
enum class MachineMode {
  kFresh,   // a machine booted for the trace and shut down after it
  kReload,  // one machine for every trace, the ION module reloaded after each (ModelBackend::ReloadModule())
};

class Timeline;

class ModelRunner {
 public:
  // A runner for a board (an embedded board's name or board text). all_lowmem makes all of RAM lowmem, as on a
  // 64-bit guest (no highmem zone), so the system heap's pool counts compare with the kernel's.
  static std::unique_ptr<ModelRunner> Create(const std::string& board_text, bool all_lowmem, std::string* error,
                                             MachineMode mode = MachineMode::kFresh);
  // Runs the machines with ION profile `name` (kmod/ion_profile.h) instead of the board's; false with the known
  // names in *error when there is no such profile. "" keeps the board's.
  bool SetProfile(const std::string& name, std::string* error);
  // The profile the machines run.
  std::string profile() const;

  const ModelConfig& config() const { return config_; }

  // Runs the trace on a fresh ION device: on a freshly booted machine (kFresh, shut down after), or on the
  // runner's machine (kReload: booted by the first trace, the module reloaded after each trace; a trace whose
  // unload reports anything leaves the machine shut down, and the next trace boots a new one). A kReload runner
  // keeps its machine, and with it the model's only /dev/ion, until it is destroyed: no other ModelBackend
  // boots meanwhile. check: run the invariant checker after every operation.
  bool Run(const Trace& trace, bool build_output, bool check, ExecReport* report);

  // Called after each operation of every later Run() with the number of operations done in that run (progress
  // reports); nullptr for none.
  void set_after_op(std::function<void(size_t done)> after_op) { after_op_ = std::move(after_op); }
  // How later runs execute the concurrent sections of threaded traces (ExecOptions::run_threads, thread_op);
  // unset, their threads run one after another. A run whose section is abandoned (a deadlock) leaves its machine
  // unreleased: its threads still hold it.
  void set_threads(decltype(ExecOptions::run_threads) run_threads, decltype(ExecOptions::thread_op) thread_op) {
    run_threads_ = std::move(run_threads);
    thread_op_ = std::move(thread_op);
  }

  // Non-coherent mode for every later Run() (model/kernel/cpu_cache.h): the model returns the stale bytes a
  // non-coherent SoC would, where its coherency oracle reports.
  void set_noncoherent(bool on) { noncoherent_ = on; }
  // Samples every later Run()'s buffers after each operation into `timeline` (timeline.h); nullptr for none.
  void set_timeline(Timeline* timeline) { timeline_ = timeline; }

 private:
  ModelConfig config_;
  MachineMode mode_ = MachineMode::kFresh;
  std::vector<std::pair<std::string, unsigned int>> heaps_;
  std::unique_ptr<ModelBackend> machine_;
  decltype(ExecOptions::run_threads) run_threads_;
  decltype(ExecOptions::thread_op) thread_op_;
  std::function<void(size_t)> after_op_;
  bool noncoherent_ = false;
  Timeline* timeline_ = nullptr;  // kReload: the machine, NULL until the first trace
};

}  // namespace ionsim::trace

#endif  // TOOLS_TRACE_MODEL_RUNNER_H_
