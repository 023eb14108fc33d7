// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// WARN and BUG as recorded events. WARN(cond, ...) returns cond, as in the kernel, and records the site
// (file:line, function) and message. BUG() records the site, prints the kernel's "kernel BUG at" line and aborts,
// so a fuzzer sees a crash. WARN_ON_ONCE records every time but prints only the first time per site: the "once"
// in the kernel limits the splat, not the condition, and an oracle must see each occurrence.
//
// Other kernel reports that are not WARN() but that a test must be able to assert on (a bad page state, a page
// allocation failure report, an out-of-bounds store that upstream makes without noticing) are recorded with their
// own kind.
#ifndef MODEL_KERNEL_BUG_H_
#define MODEL_KERNEL_BUG_H_

#include <atomic>
#include <cstddef>
#include <string>
#include <vector>

namespace ionsim::kernel {

enum class BugKind {
  kWarn,               // WARN(), WARN_ON(), WARN_ONCE(), WARN_ON_ONCE()
  kBug,                // BUG(), BUG_ON(); the process aborts right after recording
  kBadPage,            // mm/page_alloc.c:bad_page(): "BUG: Bad page state", the page is not freed
  kPageAllocFailure,   // mm/page_alloc.c:warn_alloc_failed(): "page allocation failure" (not a WARN)
  kSoftLockup,         // kernel/watchdog.c: "BUG: soft lockup"; the kernel would spin, the model stops the loop
  kOutOfBounds,        // a store past the end of an allocation (what KASAN would report); the model bounds the
                       // store, records it and carries on, so a run keeps its output
  kCoherency,          // model/kernel/cpu_cache.h: stale data a non-coherent SoC would see (a device reading lines
                       // the CPU dirtied and nobody cleaned, a CPU load of lines a device wrote and nobody
                       // invalidated, ...); x86 is coherent, so only the model reports it
};

const char* bug_kind_name(BugKind kind);

struct BugEvent {
  BugKind kind;
  const char* file;
  int line;
  const char* function;
  std::string message;
};

// Every event recorded since the last clear_bug_events(), oldest first. Thread-safe.
std::vector<BugEvent> bug_events();
size_t bug_event_count();
size_t bug_event_count(BugKind kind);
void clear_bug_events();
// "file:line func(): message" for each event, one per line.
std::string format_bug_events();

// Printing of WARN splats and reports to stderr (recording is unconditional). On by default.
void set_bug_printing(bool enabled);

// Records an event of `kind` (never kBug) and prints it unless printing is off or `print` is false.
void report_kernel_event(BugKind kind, const char* file, int line, const char* function, bool print,
                         const char* fmt, ...) __attribute__((format(printf, 6, 7)));

// Implementation of WARN(): returns cond; records only when cond is true.
bool warn_slowpath(bool cond, bool print, const char* file, int line, const char* function, const char* fmt,
                   ...) __attribute__((format(printf, 6, 7)));

// Implementation of BUG(): records, prints "kernel BUG at file:line!", aborts.
[[noreturn]] void bug_slowpath(const char* file, int line, const char* function, const char* fmt, ...)
    __attribute__((format(printf, 4, 5)));

}  // namespace ionsim::kernel

// Mirrors include/asm-generic/bug.h @ v4.4: WARN(condition, format...) evaluates to the condition.
// The condition is tested inline; only a true condition reaches the out-of-line recorder.
#define WARN(cond, ...)                                                                                  \
  (__builtin_expect(!!(cond), 0) ? ::ionsim::kernel::warn_slowpath(true, true, __FILE__, __LINE__, __func__, \
                                                                   __VA_ARGS__)                          \
                                 : false)
#define WARN_ON(cond) WARN((cond), "WARN_ON(%s)", #cond)

// Prints once per call site per process; records every occurrence.
#define WARN_ONCE(cond, ...)                                                                           \
  ([&]() -> bool {                                                                                     \
    static std::atomic<bool> ion_warned_once_{false};                                                 \
    const bool ion_cond_ = !!(cond);                                                                   \
    if (!ion_cond_) return false;                                                                      \
    const bool ion_print_ = !ion_warned_once_.exchange(true, std::memory_order_relaxed);              \
    return ::ionsim::kernel::warn_slowpath(true, ion_print_, __FILE__, __LINE__, __func__, __VA_ARGS__); \
  }())
#define WARN_ON_ONCE(cond) WARN_ONCE((cond), "WARN_ON_ONCE(%s)", #cond)

#define BUG() ::ionsim::kernel::bug_slowpath(__FILE__, __LINE__, __func__, "BUG()")
#define BUG_ON(cond)                                                                         \
  do {                                                                                       \
    if (cond) ::ionsim::kernel::bug_slowpath(__FILE__, __LINE__, __func__, "BUG_ON(%s)", #cond); \
  } while (0)

#endif  // MODEL_KERNEL_BUG_H_
