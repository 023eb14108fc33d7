// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "model/kernel/printk.h"

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>

namespace ionsim::kernel {
namespace {

constexpr size_t kLogLines = 1024;
// A line: "<N>", the message (formatted into printk's buffer of kMessageBytes, so up to 511 bytes), NUL.
constexpr size_t kMessageBytes = 512;
constexpr size_t kLineBytes = 4 + kMessageBytes;

// The kernel log: a ring of fixed-size lines, as the kernel's log buffer is, so that logging allocates nothing
// (a program that logs does not grow the heap: a fuzzer's leak detection counts allocations per input).
struct Log {
  std::mutex mu;
  char lines[kLogLines][kLineBytes];
  size_t first = 0;  // the oldest line
  size_t count = 0;
};

Log& log() {
  static Log* l = new Log();
  return *l;
}

std::atomic<bool> g_console{false};

}  // namespace

void printk_level(LogLevel level, const char* fmt, ...) {
  char line[kLineBytes];
  const int prefix = std::snprintf(line, sizeof(line), "<%d>", static_cast<int>(level));
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(line + prefix, kMessageBytes, fmt, ap);
  va_end(ap);
  size_t len = std::strlen(line);
  while (len > 0 && line[len - 1] == '\n') line[--len] = '\0';
  if (g_console.load(std::memory_order_relaxed) && level <= LogLevel::kWarning) {
    std::fprintf(stderr, "%s\n", line);
  }
  Log& l = log();
  std::lock_guard<std::mutex> lock(l.mu);
  size_t slot;
  if (l.count == kLogLines) {
    slot = l.first;
    l.first = (l.first + 1) % kLogLines;
  } else {
    slot = (l.first + l.count++) % kLogLines;
  }
  std::memcpy(l.lines[slot], line, len + 1);
}

std::vector<std::string> dmesg() {
  Log& l = log();
  std::lock_guard<std::mutex> lock(l.mu);
  std::vector<std::string> out;
  out.reserve(l.count);
  for (size_t i = 0; i < l.count; i++) out.emplace_back(l.lines[(l.first + i) % kLogLines]);
  return out;
}

void dmesg_clear() {
  Log& l = log();
  std::lock_guard<std::mutex> lock(l.mu);
  l.first = 0;
  l.count = 0;
}

void set_printk_console(bool enabled) { g_console.store(enabled, std::memory_order_relaxed); }

std::atomic<bool> g_pr_debug{false};

void set_pr_debug(bool enabled) { g_pr_debug.store(enabled, std::memory_order_relaxed); }

}  // namespace ionsim::kernel
