// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Runs a Trace against any IonBackend and produces the canonical output of docs/trace.md. Every ioctl argument
// is placed in the calling process's own scratch memory, mapped through the backend (64 KiB read-write plus one
// read-only page, per process, on first use), so bad pointers, EFAULT and read-only memory behave as for a real
// process. Symbols are resolved by index; nothing is parsed and, unless output is asked for, nothing is formatted
// while a trace runs.
#ifndef TOOLS_TRACE_EXECUTOR_H_
#define TOOLS_TRACE_EXECUTOR_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "model/backend/ion_backend.h"
#include "tools/trace/devices.h"
#include "tools/trace/trace.h"

namespace ionsim::trace {

// What one operation did.
struct OpResult {
  int32_t err = 0;    // 0, or the positive errno
  int64_t value = 0;  // alloc/import: the handle id; query: cnt; ioctl: the return value; load: the crc32;
                      // shrink: the count read back
};

struct ExecOptions {
  // Build ExecReport::output. Off, only results, failures and violations are recorded (and a result string is
  // formatted only for operations that carry an expected result).
  bool build_output = true;
  // Heap ids by name (the board's heap table). When empty, heap=NAME is resolved once per run with
  // ION_IOC_HEAP_QUERY on the client of the first operation that names a heap.
  std::vector<std::pair<std::string, unsigned int>> heaps;
  // Runs after every operation: returns "" when all is well, otherwise the violations (one per line).
  std::function<std::string(const Op&)> check;
  // Runs a concurrent section of a threaded trace (docs/trace.md): names are the section's threads in order of
  // first appearance and body(k) runs thread k's operations; returns once every body has run. Unset, the threads
  // run one after another in that order. The check runs once after the section, not between its operations.
  // Returns false when the threads could not all finish (a deadlock): the run stops there, abandoned.
  std::function<bool(const std::vector<std::string>& names, const std::function<void(size_t)>& body)> run_threads;
  // Called on the thread that runs it just before (before=true) and just after each operation of a declared
  // thread.
  std::function<void(const Op& op, bool before)> thread_op;
  // Runs before every operation (naming it to the model's coherency oracle); may be empty.
  std::function<void(const Trace&, const Op&)> before;
  // The simulated devices of device operations (docs/trace.md, "Devices"); nullptr on a backend without them:
  // a trace with a device operation then does not run (ExecReport::error).
  TraceDevices* devices = nullptr;
  // The text of an `explain` operation (docs/trace.md, "Explain"), given what the trace's symbols are bound to;
  // empty on a backend that cannot look inside: a trace with `explain` then does not run.
  std::function<std::string(const Op& op, const std::vector<struct Binding>& bindings)> explain;
};

// A bound symbol, for explanations: what the trace calls a process, fd, handle or mapping, and the operation that
// bound it.
struct Binding {
  std::string name;      // the symbol
  SymKind kind = SymKind::kProcess;
  ProcId pid = -1;       // the process (of a process symbol: itself)
  std::string process;   // the process's symbol
  int64_t value = -1;    // fd number, handle id, mapping address
  uint64_t len = 0;      // a mapping's length
  int client_fd = -1;    // a handle: the fd of its client (/dev/ion) in `pid`
  int line = 0;          // the binding operation's line
  std::string op;        // its text
};

struct ExecReport {
  std::vector<OpResult> results;      // one per operation
  std::string output;                 // the canonical output (when build_output)
  std::vector<std::string> failures;  // "line N: expected EINVAL, got ok" and "line N: invariant: ..."
  int mismatches = 0;                 // expected results that did not match
  int violations = 0;                 // operations after which the check reported something
  std::string error;                  // a run that could not start or go on ("line 3: unknown heap 'x'")
  bool abandoned = false;             // a concurrent section did not finish: its threads hold the machine

  bool ok() const { return failures.empty() && error.empty(); }
};

class Executor {
 public:
  Executor(IonBackend* backend, ExecOptions options);

  // Runs the trace from its first operation on the backend (normally a fresh one). Returns report->ok().
  bool Run(const Trace& trace, ExecReport* report);

 private:
  struct Proc {
    ProcId pid = -1;
    uint64_t scratch = 0;
    uint64_t ro = 0;
  };
  struct Val {
    bool bound = false;
    int32_t proc = -1;  // the process symbol the fd or mapping belongs to
    int64_t v = -1;     // ProcId, fd, handle id, or address
    uint64_t len = 0;   // a mapping's length
  };

  // The process an fd or mapping reference is used from.
  int32_t ProcOf(const SymRef& r) const { return r.at >= 0 ? r.at : vals_[r.sym].proc; }
  Proc* ProcState(int32_t sym);
  int Fd(const SymRef& r) const { return vals_[r.sym].bound ? static_cast<int>(vals_[r.sym].v) : -1; }
  // Scratch memory of a process, mapped on first use. 0 and *err when the mapping fails.
  uint64_t Scratch(Proc* p, int* err);
  uint64_t ReadOnly(Proc* p, int* err);
  // ioctl(fd, cmd, scratch) with size bytes of arg copied in before and out after.
  int Call(Proc* p, int fd, unsigned int cmd, void* arg, size_t size, long* ret);
  bool ResolveHeaps(const Trace& trace, const Op& op, ExecReport* report);
  void Step(const Trace& trace, const Op& op, OpResult* res, bool want_text);
  // Runs operation i: its result into report->results[i], its output lines into *text and a mismatch of its
  // expected result into *failure.
  void RunOp(const Trace& trace, size_t i, ExecReport* report, std::string* text, std::string* failure);
  // Runs the threaded operations [begin, end) as one concurrent section.
  void RunSection(const Trace& trace, size_t begin, size_t end, ExecReport* report);
  // The device operations (executor_devices.cc).
  void StepDevice(const Trace& trace, const Op& op, OpResult* res, bool want_text);
  // What the trace's symbols are bound to now.
  std::vector<Binding> Bindings(const Trace& trace) const;

  IonBackend* backend_;
  ExecOptions options_;
  std::vector<Val> vals_;
  std::vector<Proc> procs_;            // indexed by process symbol
  std::vector<int64_t> heap_masks_;    // per Trace::heap_names entry, -1 unresolved
  std::unique_ptr<uint8_t[]> buf_;     // kScratchBytes, not zeroed: every use writes what it reads
  std::string details_;                // " id=3", multi-line text, ... of the current operation
};

// The result part of a canonical line ("ok id=3", "EINVAL") for an operation with result r and details.
std::string ResultText(const OpResult& r, const std::string& details);

// A heap name as a trace may write it: exactly, or with each blank of the board's name written as '_'
// (heap=system_contig for "system contig").
bool SameHeapName(const std::string& heap, const std::string& written);

// Pids are not part of the canonical output: in the text of an ion/heaps/<heap> file, the pid column of each
// client and orphan row ("%16s %16u %16zu", comm, pid, size) becomes "-", right-aligned in the same width.
void MaskHeapFilePids(std::string* text);

// The canonical output with what the order of kernel addresses decides put in a fixed order: in each state
// dump's `free_list=`, each run joined by '+' (the buffers one client destroy freed) sorted by serial, the list
// itself kept in order; and each run of client or orphan rows of a heap debugfs file sorted. v4.4 walks a
// client's handles at client destroy, the device's clients and the device's buffers in rb-trees keyed by the
// address of the struct (ion_handle's buffer, ion_client, ion_buffer), so that order is decided by malloc on the
// model and by slab in the kernel: comparisons of outputs (the crosscheck, determinism tests) compare these as
// sets. Everything else in a free list (the order of file releases, task_work's last-in first-out) is the same
// on both sides and compared as a sequence.
std::string NormaliseAddressOrder(const std::string& output);

// Each operation's result as the canonical output writes it, in operation order: the text after " => " of each
// unindented line ("ok id=3", "EINVAL"); "" for an operation line without one.
std::vector<std::string> ResultsOfOutput(const std::string& output);

// crc32 (IEEE, as zlib) of bytes.
uint32_t Crc32(uint32_t crc, const void* data, size_t len);

}  // namespace ionsim::trace

#endif  // TOOLS_TRACE_EXECUTOR_H_
