// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The machine every ION fuzz harness runs one input on, and the oracles that judge it. A FuzzMachine is one
// input's run on the fuzz board (fuzz/ion_program.h: kFuzzBoard) on the model, with a freshly loaded module and
// pids counted from 1, so the same input always runs the same way. Check() runs after every operation and aborts
// the process with a clear message when:
//   - the invariant checker (model/ion_state.h) reports anything: refcounts recomputed from the object graph,
//     each client's idr against its rb-tree, debugfs heap totals against the live buffers, free lists, genalloc
//     (each pool's counters against its bitmap and against the buffers), the system heap's pools, the chunk and
//     CMA accounting;
//   - the buddy allocator's own check finds anything (free lists, merging, the state of every free, reserved
//     and allocated page, free + allocated + reserved == present). It looks at every free list and at the
//     struct pages the model wrote since the previous operation (model/kernel/mm.h: buddy_check_changes, after
//     one full buddy_check at the boot), which is what makes it affordable after every operation;
//   - the page allocator's allocated-page counter is negative;
//   - any WARN, BUG or bad page state was recorded (a page allocation failure report is an ordinary outcome of
//     asking for too much memory and is allowed).
// The heaps' debugfs totals are read as the sum ion_debug_heap_show() prints (ION_CHECK_DEBUGFS_SUM), without
// formatting the files' text; the text itself is what a program's own debugfs reads and the cross-check
// compare. The machine has one thread and the checker runs between its operations, so it takes none of ION's
// locks (ION_CHECK_QUIESCENT).
// Known upstream defects are not violations: v4.4 ION pairs nothing in its dma-buf begin/end_cpu_access
// (ion.c:ion_dma_buf_begin_cpu_access takes a kernel mapping reference, end_cpu_access drops one, and
// DMA_BUF_IOCTL_SYNC lets userspace call either any number of times), so a START without END leaves kmap_cnt
// above zero and ion_buffer_destroy() WARNs, and an END without START drives kmap_cnt negative. The oracles
// drop exactly those two reports (the WARN_ON in ion_buffer_destroy and the checker's "negative kmap_cnt"
// line). Likewise v4.11's ion_ioctl() WARN_ON_ONCE()s when HEAP_QUERY's reserved fields are not zero (reference
// ion.md section 1.3), which any process can do. Everything else still counts.
// Inputs share one machine per process, as a kernel under a fuzzer would: the first FuzzMachine boots it, and
// every Teardown() ends an input with a module reload (ModelBackend::ReloadModule: every process exits, the
// device and heaps are torn down and made again) instead of a reboot. The reload is what lets the oracles see
// everything come back, and it leaves the next input nothing of this one:
//   - the device, heaps, pools, free lists and genalloc pools are new (serials from b1 and c1), and the CMA
//     areas, which belong to the machine, have every page back;
//   - pids count from 1 again;
//   - the page allocator must have every page back, merged into exactly the free blocks it had after the boot;
//     its free lists are then put back in the boot's order, so the next input is handed the pages a fresh
//     machine would hand it (model/kernel/mm.h: free_area_restore), and the pages it holds free lose whatever
//     bytes the input wrote to them (free_pages_drop_bytes), as after a boot (the carveout and chunk ranges are
//     zeroed by the module load itself, CMA pages when they are allocated);
//   - the model's live objects must be those of a freshly loaded module, and the recorded reports are cleared.
// A machine that fails any of these is never reused: the harness aborts. At exit the machine is shut down.
// Teardown() aborts unless every process, object and page came back.
// IONSIM_FUZZ_INJECT=free-unlinks-referenced-handle in the environment switches on the model's test-only bug
// (model/ion_priv.h: ion_injected_bugs) for the whole process, to show the fuzzers find it
// (tools/fuzz/prove_bug_found.sh). Unset, the model is the faithful one.
#ifndef FUZZ_FUZZ_MACHINE_H_
#define FUZZ_FUZZ_MACHINE_H_

#include <functional>
#include <memory>
#include <string>

#include "model/backend/model_backend.h"

namespace ionsim::fuzz {

// The invariant checker's report (model/ion_state.h) without the lines of the known v4.4 defect the oracles
// accept: a negative kmap_cnt after DMA_BUF_IOCTL_SYNC END without START.
std::string WithoutKnownDefects(const std::string& report);

class FuzzMachine {
 public:
  // Starts an input on the process's machine, booting it the first time; aborts when it cannot (the board is
  // fixed, so that is a bug). One FuzzMachine at a time.
  FuzzMachine();
  ~FuzzMachine();

  ModelBackend* backend() const { return backend_; }

  // Text printed before a violation: the program so far. Set by the harness; called only on failure.
  // Also printed when the model aborts (a BUG()) while this machine runs.
  void set_context(std::function<std::string()> context) { context_ = std::move(context); }
  const std::function<std::string()>& context() const { return context_; }

  // The oracles after one operation; `what` names the operation in the message.
  void Check(const std::string& what);
  // The same, with the operation's name made only when something is reported.
  void Check(const std::function<std::string()>& what);
  // The page allocator check of Check() alone.
  void CheckPageAllocator(const std::string& what);
  // Ends the input: the invariant checker, CheckPageAllocator, then the module reload, and aborts unless
  // everything came back (above). Called by the destructor if not called before.
  void Teardown();

  [[noreturn]] void Fail(const std::string& what, const std::string& violation);

 private:
  ModelBackend* backend_ = nullptr;  // the process's machine
  std::function<std::string()> context_;
  bool torn_down_ = false;
};

}  // namespace ionsim::fuzz

#endif  // FUZZ_FUZZ_MACHINE_H_
