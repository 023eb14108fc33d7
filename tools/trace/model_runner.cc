// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "tools/trace/model_runner.h"

#include <algorithm>
#include <cstdint>
#include <string>

#include "kmod/ion_board.h"
#include "kmod/ion_profile.h"
#include "kmod/uapi/ion.h"
#include "model/backend/board_config.h"
#include "model/kernel/bug.h"
#include "model/kernel/cpu_cache.h"
#include "tools/trace/model_devices.h"
#include "tools/trace/model_explain.h"
#include "tools/trace/timeline.h"

namespace ionsim::trace {

bool ResolveBoard(const std::string& name_or_file, std::string* board_text, std::string* error) {
  if (name_or_file.empty()) {
    *board_text = "dummy";
    return true;
  }
  for (unsigned int i = 0; ion_board_builtin_name(i) != nullptr; ++i) {
    if (name_or_file == ion_board_builtin_name(i)) {
      *board_text = name_or_file;
      return true;
    }
  }
  ErrnoOr<std::string> text = LoadBoardFile(name_or_file, error);
  if (!text.ok()) return false;
  *board_text = text.value();
  return true;
}

std::vector<std::pair<std::string, unsigned int>> HeapTable(const ModelConfig& config) {
  std::vector<std::pair<std::string, unsigned int>> heaps;
  for (const ModelHeapConfig& h : config.heaps) heaps.emplace_back(h.name, h.id);
  return heaps;
}

GeneratorOptions GeneratorOptionsFor(const ModelConfig& config) {
  GeneratorOptions gen;
  gen.heaps.clear();
  gen.shrinkable.clear();
  gen.chunk_heap.clear();
  gen.chunk_mask = 0;
  for (const ModelHeapConfig& h : config.heaps) {
    std::string name = h.name;
    std::replace(name.begin(), name.end(), ' ', '_');
    gen.heaps.push_back(name);
    if (h.type == ION_HEAP_TYPE_SYSTEM || h.type == ION_HEAP_TYPE_CARVEOUT || h.type == ION_HEAP_TYPE_CHUNK) {
      gen.shrinkable.push_back(name);
    }
    if (h.type == ION_HEAP_TYPE_CHUNK) {
      gen.chunk_heap = name;
      gen.chunk_mask |= 1ULL << h.id;
      gen.chunk_size = std::max<uint64_t>(gen.chunk_size, h.chunk_size);
    }
  }
  if (gen.shrinkable.empty() && !gen.heaps.empty()) gen.shrinkable.push_back(gen.heaps.front());
  return gen;
}

std::unique_ptr<ModelRunner> ModelRunner::Create(const std::string& board_text, bool all_lowmem,
                                                 std::string* error, MachineMode mode) {
  ErrnoOr<ModelConfig> config = ModelConfigFromBoard(board_text, error);
  if (!config.ok()) return nullptr;
  std::unique_ptr<ModelRunner> runner(new ModelRunner());
  runner->config_ = config.value();
  runner->mode_ = mode;
  if (all_lowmem) runner->config_.lowmem_size = runner->config_.ram_size;
  runner->heaps_ = HeapTable(runner->config_);
  return runner;
}

bool ModelRunner::SetProfile(const std::string& name, std::string* error) {
  if (name.empty()) return true;
  if (std::string unknown = UnknownProfile(name); !unknown.empty()) {
    *error = std::move(unknown);
    return false;
  }
  if (config_.profile != name) machine_.reset();
  config_.profile = name;
  return true;
}

std::string ModelRunner::profile() const { return config_.profile.empty() ? ION_PROFILE_DEFAULT : config_.profile; }

bool ModelRunner::Run(const Trace& trace, bool build_output, bool check, ExecReport* report) {
  const size_t events_before = kernel::bug_event_count();
  std::unique_ptr<ModelBackend> fresh;
  std::unique_ptr<ModelBackend>& machine = mode_ == MachineMode::kReload ? machine_ : fresh;
  if (!machine) {
    ErrnoOr<std::unique_ptr<ModelBackend>> booted = ModelBackend::Create(config_);
    if (!booted.ok()) {
      *report = ExecReport();
      report->error = std::string("the model machine does not boot: ") + booted.error().name();
      return false;
    }
    machine = std::move(booted.value());
  }
  ModelBackend* model = machine.get();
  kernel::cpu_cache_set_noncoherent(model->mem(), noncoherent_);
  ModelDevices devices(model);
  ExecOptions options;
  options.build_output = build_output;
  options.heaps = heaps_;
  options.devices = &devices;
  options.explain = [model](const Op& op, const std::vector<Binding>& bindings) {
    return ExplainModel(model, op, bindings);
  };
  // The coherency oracle names each operation by its line and text.
  options.before = [model](const Trace& t, const Op& op) {
    kernel::cpu_cache_set_origin(model->mem(), "line " + std::to_string(op.line) + " `" + FormatOp(t, op) + "`");
  };
  // After every operation: the invariants, WARNs only where the trace expects one (`# ... warn`), and coherency
  // reports only where it expects one (`# ... coherency`).
  size_t events = events_before;
  size_t coherency = kernel::bug_event_count(kernel::BugKind::kCoherency);
  size_t done = 0;
  options.check = [this, model, check, &trace, &events, &coherency, &done](const Op& op) {
    if (after_op_) after_op_(++done);
    kernel::cpu_cache_report(model->mem(), "CPU access");
    if (timeline_ != nullptr) {
      std::vector<std::string> reports;
      if (kernel::bug_event_count(kernel::BugKind::kCoherency) != coherency) {
        for (const kernel::BugEvent& e : kernel::bug_events()) {
          if (e.kind == kernel::BugKind::kCoherency) reports.push_back(e.message);
        }
      }
      timeline_->Sample(model, trace, op, reports);
    }
    std::string out = check ? model->check_invariants() : std::string();
    const size_t now = kernel::bug_event_count();
    const size_t coh_now = kernel::bug_event_count(kernel::BugKind::kCoherency);
    const bool other = now - coh_now != events - coherency;
    if (other && !op.expect_warn) out += "unexpected kernel report: " + kernel::format_bug_events();
    if (!other && op.expect_warn) out += "expected a kernel WARN, none came";
    if (coh_now != coherency && !op.expect_coherency) {
      for (const kernel::BugEvent& e : kernel::bug_events()) {
        if (e.kind == kernel::BugKind::kCoherency) out += "coherency: " + e.message + "\n";
      }
      if (!out.empty() && out.back() == '\n') out.pop_back();
      kernel::clear_bug_events();
    } else if (coh_now == coherency && op.expect_coherency) {
      out += "expected a coherency report, none came";
    } else if (coh_now != coherency) {
      // Expected: the report is in the output's failures only when it was not.
      kernel::clear_bug_events();
    }
    events = kernel::bug_event_count();
    coherency = kernel::bug_event_count(kernel::BugKind::kCoherency);
    return out;
  };
  options.run_threads = run_threads_;
  options.thread_op = thread_op_;
  Executor exec(model, std::move(options));
  exec.Run(trace, report);
  if (report->abandoned) {
    // Threads blocked for good hold the machine's locks: it cannot be shut down, so it is left as it is.
    static_cast<void>(machine.release());
    return false;
  }
  const std::string left = devices.Teardown();
  if (!left.empty()) report->failures.push_back("model devices: " + left);
  if (mode_ == MachineMode::kReload) {
    const std::string leaks = model->ReloadModule();
    if (!leaks.empty()) {
      report->failures.push_back("model module reload: " + leaks);
      // What leaked stays out of the next trace: it gets a new machine.
      const std::string more = model->Shutdown();
      if (!more.empty()) report->failures.push_back("model shutdown: " + more);
      machine.reset();
    }
  } else {
    const std::string leaks = model->Shutdown();
    machine.reset();
    if (!leaks.empty()) report->failures.push_back("model shutdown: " + leaks);
  }
  if (kernel::bug_event_count() != events) {
    report->failures.push_back("model kernel reports at shutdown:\n" + kernel::format_bug_events());
  }
  kernel::clear_bug_events();
  return report->ok();
}

}  // namespace ionsim::trace
