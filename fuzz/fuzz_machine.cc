// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "fuzz/fuzz_machine.h"

#include <signal.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "fuzz/ion_program.h"
#include "model/ion_priv.h"
#include "model/kernel/compiler.h"
#include "model/kernel/bug.h"
#include "model/kernel/mm.h"
#include "model/kernel/sched.h"
#include "model/kernel/slab.h"

namespace ionsim::fuzz {

namespace k = ::ionsim::kernel;

namespace {

// The WARNs upstream lets userspace provoke (fuzz_machine.h): file, message.
constexpr const char* kKnownWarns[][2] = {
    {"model/ion.cc", "WARN_ON(buffer->kmap_cnt > 0)"},  // unpaired DMA_BUF_IOCTL_SYNC START, then the last close
    {"model/ion-ioctl.cc", "WARN_ON_ONCE(ret)"},       // HEAP_QUERY with a nonzero reserved field (v4.11)
};

bool KnownDefect(const k::BugEvent& e) {
  if (e.kind != k::BugKind::kWarn) return false;
  for (const auto& known : kKnownWarns) {
    if (std::strcmp(e.file, known[0]) == 0 && e.message == known[1]) return true;
  }
  return false;
}


// Every recorded report except page allocation failures, which are what a too-large request legitimately
// produces, and the known defect.
std::string UnexpectedReports() {
  if (k::bug_event_count() == k::bug_event_count(k::BugKind::kPageAllocFailure)) return "";
  std::string out;
  for (const k::BugEvent& e : k::bug_events()) {
    if (e.kind == k::BugKind::kPageAllocFailure || KnownDefect(e)) continue;
    out += std::string(k::bug_kind_name(e.kind)) + " at " + e.file + ":" + std::to_string(e.line) + " " +
           e.function + "(): " + e.message + "\n";
  }
  return out;
}

FuzzMachine* g_current = nullptr;
bool g_failing = false;

struct sigaction g_previous_abort;

// A BUG() in the model aborts inside the call; print the program that led there first, then hand the signal
// to the handler that was there before (libFuzzer's, which saves the input), or the default one.
void OnAbort(int sig, siginfo_t* info, void* uctx) {
  if (g_current != nullptr && !g_failing && g_current->context()) {
    g_failing = true;
    const std::string text = g_current->context()();
    std::fprintf(stderr, "==== ionsim fuzz: the model aborted (a BUG or a crash); program so far:\n%s", text.c_str());
  }
  if (g_previous_abort.sa_flags & SA_SIGINFO) {
    if (g_previous_abort.sa_sigaction != nullptr) {
      g_previous_abort.sa_sigaction(sig, info, uctx);
      return;
    }
  } else if (g_previous_abort.sa_handler != SIG_DFL && g_previous_abort.sa_handler != SIG_IGN &&
             g_previous_abort.sa_handler != nullptr) {
    g_previous_abort.sa_handler(sig);
    return;
  }
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

// The page allocator check (buddy_check_changes) as an oracle's lines: "" when it holds.
std::string PageAllocatorViolation(k::phys_mem* mem) {
  const char* buddy = k::buddy_check_changes(mem);
  return buddy == nullptr ? "" : std::string("buddy allocator: ") + buddy + "\n";
}

// The invariant checker's report without the known defects: "" when it holds. The machine has one thread and
// no operation runs while it checks, so the checker need not take ION's locks.
std::string InvariantViolations(const ModelBackend* backend, bool in_creation_order) {
  return WithoutKnownDefects(
      backend->check_invariants(k::ION_CHECK_DEBUGFS_SUM, in_creation_order, k::ION_CHECK_QUIESCENT));
}

// The process's machine, booted by the first FuzzMachine and reused by every later one (fuzz_machine.h).
struct Machine {
  std::unique_ptr<ModelBackend> backend;
  size_t live_objects = 0;        // the model's objects with the module freshly loaded
  k::free_area_layout free_area;  // the page allocator's free lists then
  bool in_use = false;
};

Machine& machine() {
  static Machine* m = new Machine();
  return *m;
}

// At exit the machine shuts down like any machine (every page's bytes freed, the module unloaded): a leak
// checker running at exit (LeakSanitizer in the ASan builds) would otherwise find the bytes of the machine's
// pages, which only its mmap'd memory map points at. Not while an input runs: a crash exits without it.
void ShutdownAtExit() {
  Machine& m = machine();
  if (!m.backend || m.in_use) return;
  k::set_bug_printing(false);
  m.backend->Shutdown();
  m.backend.reset();
}

}  // namespace

std::string WithoutKnownDefects(const std::string& report) {
  if (report.empty()) return report;
  std::string out;
  size_t start = 0;
  while (start < report.size()) {
    size_t end = report.find('\n', start);
    if (end == std::string::npos) end = report.size();
    const std::string line = report.substr(start, end - start);
    if (line.find(": negative kmap_cnt ") == std::string::npos) out += line + "\n";
    start = end + 1;
  }
  return out;
}

FuzzMachine::FuzzMachine() {
  static const bool quiet = [] {
    k::set_bug_printing(false);
    struct sigaction action = {};
    action.sa_sigaction = OnAbort;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    sigaction(SIGABRT, &action, &g_previous_abort);
    const char* inject = std::getenv("IONSIM_FUZZ_INJECT");
    if (inject != nullptr && std::strcmp(inject, "free-unlinks-referenced-handle") == 0) {
      k::ion_injected_bugs.free_unlinks_referenced_handle = true;
      std::fprintf(stderr, "ionsim fuzz: injected bug free-unlinks-referenced-handle is on\n");
    } else if (inject != nullptr && inject[0] != '\0') {
      std::fprintf(stderr, "IONSIM_FUZZ_INJECT: unknown bug '%s' (known: free-unlinks-referenced-handle)\n", inject);
      std::abort();
    }
    return true;
  }();
  (void)quiet;
  g_current = this;
  Machine& m = machine();
  if (m.in_use) Fail("boot", "two FuzzMachines at once");
  if (!m.backend) {
    if (k::live_object_count() != 0 || k::allocated_page_count() != 0) {
      Fail("boot", "objects or pages left over before the boot:\n" + k::format_live_objects());
    }
    k::pid_ns_reset(1);
    ErrnoOr<std::unique_ptr<ModelBackend>> b = ModelBackend::Create(FuzzConfig());
    if (!b.ok()) Fail("boot", std::string("ModelBackend::Create: ") + b.error().name());
    m.backend = std::move(b).value();
    m.live_objects = k::live_object_count();
    m.free_area = k::free_area_snapshot(m.backend->mem());
    // Registered once everything the shutdown uses exists, so that it runs before their destructors.
    (void)k::bug_event_count();
    std::atexit(ShutdownAtExit);
    // From here on the page allocator check looks only at the struct pages the model wrote since the last one.
    if (const char* buddy = k::buddy_track_changes(m.backend->mem())) {
      Fail("boot", std::string("buddy allocator: ") + buddy);
    }
  }
  m.in_use = true;
  k::clear_bug_events();
  k::pid_ns_reset(1);
  backend_ = m.backend.get();
}

FuzzMachine::~FuzzMachine() {
  Teardown();
  g_current = nullptr;
}

void FuzzMachine::Fail(const std::string& what, const std::string& violation) {
  g_failing = true;
  std::fprintf(stderr, "==== ionsim fuzz oracle violation after: %s\n", what.c_str());
  if (context_) std::fprintf(stderr, "---- program so far:\n%s", context_().c_str());
  std::fprintf(stderr, "---- violation:\n%s\n", violation.c_str());
  std::abort();
}

void FuzzMachine::Check(const std::string& what) {
  Check([&what] { return what; });
}

ION_NO_COVERAGE void FuzzMachine::Check(const std::function<std::string()>& what) {
  // In tree order: a state with a known defect (a negative kmap_cnt stays for the rest of the input) reports on
  // every check, and the report is filtered; a real violation is reported again in creation order below.
  std::string v = InvariantViolations(backend_, false);
  if (!v.empty()) v = InvariantViolations(backend_, true);
  k::phys_mem* mem = backend_->mem();
  if (mem->nr_allocated.load() < 0) v += "page allocator: negative allocated-page count\n";
  v += PageAllocatorViolation(mem);
  v += UnexpectedReports();
  if (!v.empty()) Fail(what(), v);
}

void FuzzMachine::CheckPageAllocator(const std::string& what) {
  const std::string v = PageAllocatorViolation(backend_->mem());
  if (!v.empty()) Fail(what, v);
}

void FuzzMachine::Teardown() {
  if (torn_down_) return;
  torn_down_ = true;
  Machine& m = machine();
  std::string v = InvariantViolations(backend_, true);
  if (!v.empty()) Fail("the last operation", v);
  CheckPageAllocator("the last operation");
  v = backend_->ReloadModule();
  v += UnexpectedReports();
  v += PageAllocatorViolation(backend_->mem());
  if (k::live_object_count() != m.live_objects) {
    v += "live objects after the module reload: " + std::to_string(k::live_object_count()) + ", a fresh load has " +
         std::to_string(m.live_objects) + ":\n" + k::format_live_objects();
  }
  if (v.empty() && !k::free_area_restore(backend_->mem(), m.free_area)) {
    v += "page allocator: the free blocks after the module reload are not those after the boot\n" +
         k::buddyinfo(backend_->mem());
  }
  // Free pages lose the bytes this input wrote, as after a boot.
  if (v.empty()) k::free_pages_drop_bytes(backend_->mem());
  if (!v.empty()) Fail("teardown", v);
  m.in_use = false;
  backend_ = nullptr;
}

}  // namespace ionsim::fuzz
