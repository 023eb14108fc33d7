// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "model/kernel/bug.h"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace ionsim::kernel {
namespace {

std::mutex& events_mu() {
  static std::mutex mu;
  return mu;
}

std::vector<BugEvent>& events() {
  static std::vector<BugEvent> v;
  return v;
}

std::atomic<bool> g_printing{true};

// The number of recorded events in all and of each kind, kept with the list (under events_mu) and readable
// without the lock: the fuzzers ask after every operation.
constexpr size_t kKinds = static_cast<size_t>(BugKind::kCoherency) + 1;
std::atomic<size_t> g_event_count{0};
std::atomic<size_t> g_kind_count[kKinds];

void count_event(BugKind kind, long delta) {
  g_event_count.fetch_add(static_cast<size_t>(delta), std::memory_order_relaxed);
  g_kind_count[static_cast<size_t>(kind)].fetch_add(static_cast<size_t>(delta), std::memory_order_relaxed);
}

std::string vformat(const char* fmt, va_list ap) {
  va_list copy;
  va_copy(copy, ap);
  const int n = std::vsnprintf(nullptr, 0, fmt, copy);
  va_end(copy);
  std::string out(n > 0 ? static_cast<size_t>(n) : 0, '\0');
  if (n > 0) std::vsnprintf(out.data(), out.size() + 1, fmt, ap);
  return out;
}

void record(BugKind kind, const char* file, int line, const char* function, std::string message) {
  std::lock_guard<std::mutex> lock(events_mu());
  events().push_back(BugEvent{kind, file, line, function, std::move(message)});
  count_event(kind, 1);
}

}  // namespace

const char* bug_kind_name(BugKind kind) {
  switch (kind) {
    case BugKind::kWarn: return "WARNING";
    case BugKind::kBug: return "BUG";
    case BugKind::kBadPage: return "BUG: Bad page state";
    case BugKind::kPageAllocFailure: return "page allocation failure";
    case BugKind::kSoftLockup: return "BUG: soft lockup";
    case BugKind::kOutOfBounds: return "BUG: out-of-bounds write";
    case BugKind::kCoherency: return "coherency";
  }
  return "?";
}

std::vector<BugEvent> bug_events() {
  std::lock_guard<std::mutex> lock(events_mu());
  return events();
}

size_t bug_event_count() { return g_event_count.load(std::memory_order_relaxed); }

size_t bug_event_count(BugKind kind) {
  return g_kind_count[static_cast<size_t>(kind)].load(std::memory_order_relaxed);
}

void clear_bug_events() {
  std::lock_guard<std::mutex> lock(events_mu());
  for (const BugEvent& e : events()) count_event(e.kind, -1);
  events().clear();
}

std::string format_bug_events() {
  std::string out;
  for (const BugEvent& e : bug_events()) {
    out += std::string(bug_kind_name(e.kind)) + " at " + e.file + ":" + std::to_string(e.line) + " " +
           e.function + "(): " + e.message + "\n";
  }
  return out;
}

void set_bug_printing(bool enabled) { g_printing.store(enabled, std::memory_order_relaxed); }

void report_kernel_event(BugKind kind, const char* file, int line, const char* function, bool print,
                         const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::string message = vformat(fmt, ap);
  va_end(ap);
  if (print && g_printing.load(std::memory_order_relaxed)) {
    std::fprintf(stderr, "%s: at %s:%d %s(): %s\n", bug_kind_name(kind), file, line, function, message.c_str());
  }
  record(kind, file, line, function, std::move(message));
}

bool warn_slowpath(bool cond, bool print, const char* file, int line, const char* function, const char* fmt,
                   ...) {
  if (!cond) return false;
  va_list ap;
  va_start(ap, fmt);
  std::string message = vformat(fmt, ap);
  va_end(ap);
  if (print && g_printing.load(std::memory_order_relaxed)) {
    // The first line of the kernel's splat, then the message.
    std::fprintf(stderr, "WARNING: at %s:%d %s()\n%s\n", file, line, function, message.c_str());
  }
  record(BugKind::kWarn, file, line, function, std::move(message));
  return true;
}

void bug_slowpath(const char* file, int line, const char* function, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::string message = vformat(fmt, ap);
  va_end(ap);
  std::fprintf(stderr, "kernel BUG at %s:%d! %s(): %s\n", file, line, function, message.c_str());
  std::fflush(stderr);
  record(BugKind::kBug, file, line, function, std::move(message));
  std::abort();
}

}  // namespace ionsim::kernel
