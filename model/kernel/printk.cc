// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "model/kernel/printk.h"

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <deque>
#include <mutex>

namespace ionsim::kernel {
namespace {

constexpr size_t kLogLines = 1024;

struct Log {
  std::mutex mu;
  std::deque<std::string> lines;
};

Log& log() {
  static Log* l = new Log();
  return *l;
}

std::atomic<bool> g_console{false};

}  // namespace

void printk_level(LogLevel level, const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  std::string line = "<" + std::to_string(static_cast<int>(level)) + ">" + buf;
  while (!line.empty() && line.back() == '\n') line.pop_back();
  if (g_console.load(std::memory_order_relaxed) && level <= LogLevel::kWarning) {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  Log& l = log();
  std::lock_guard<std::mutex> lock(l.mu);
  if (l.lines.size() == kLogLines) l.lines.pop_front();
  l.lines.push_back(std::move(line));
}

std::vector<std::string> dmesg() {
  Log& l = log();
  std::lock_guard<std::mutex> lock(l.mu);
  return std::vector<std::string>(l.lines.begin(), l.lines.end());
}

void dmesg_clear() {
  Log& l = log();
  std::lock_guard<std::mutex> lock(l.mu);
  l.lines.clear();
}

void set_printk_console(bool enabled) { g_console.store(enabled, std::memory_order_relaxed); }

std::atomic<bool> g_pr_debug{false};

void set_pr_debug(bool enabled) { g_pr_debug.store(enabled, std::memory_order_relaxed); }

}  // namespace ionsim::kernel
