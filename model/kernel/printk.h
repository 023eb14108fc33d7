// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// printk as drivers use it (pr_err, pr_warn, pr_info, pr_debug @ v4.4). Messages go to the kernel log, a ring
// of the last 1024 lines that tests and tools can read (dmesg); pr_err and pr_warn are also printed to stderr
// while printing is on (set_printk_console). pr_debug is that of a kernel built with CONFIG_DYNAMIC_DEBUG=y,
// as Debian's is (the kmod/ module runs on it): every call site is compiled in and off, so nothing reaches the
// log and the arguments are not even formatted until debugging is switched on (set_pr_debug, the model's
// "echo 'module ion +p' > <debugfs>/dynamic_debug/control"); then the messages are logged, never printed.
#ifndef MODEL_KERNEL_PRINTK_H_
#define MODEL_KERNEL_PRINTK_H_

#include <atomic>
#include <string>
#include <vector>

namespace ionsim::kernel {

enum class LogLevel { kErr = 3, kWarning = 4, kInfo = 6, kDebug = 7 };

// Mirrors kernel/printk/printk.c:printk() @ v4.4 with a level.
void printk_level(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
// The kernel log, oldest first ("<3>message" lines without the trailing newline).
std::vector<std::string> dmesg();
void dmesg_clear();
// Whether pr_err/pr_warn also print to stderr (default: off; the log keeps them).
void set_printk_console(bool enabled);

// Dynamic debug for every pr_debug call site at once (default: off, as after boot without dyndbg= options).
void set_pr_debug(bool enabled);
extern std::atomic<bool> g_pr_debug;
inline bool pr_debug_enabled() { return g_pr_debug.load(std::memory_order_relaxed); }

}  // namespace ionsim::kernel

#define pr_err(...) ::ionsim::kernel::printk_level(::ionsim::kernel::LogLevel::kErr, __VA_ARGS__)
#define pr_warn(...) ::ionsim::kernel::printk_level(::ionsim::kernel::LogLevel::kWarning, __VA_ARGS__)
#define pr_info(...) ::ionsim::kernel::printk_level(::ionsim::kernel::LogLevel::kInfo, __VA_ARGS__)
// Mirrors include/linux/dynamic_debug.h:dynamic_pr_debug(): a disabled site costs one test.
#define pr_debug(...)                                                                 \
  do {                                                                                \
    if (::ionsim::kernel::pr_debug_enabled()) {                                       \
      ::ionsim::kernel::printk_level(::ionsim::kernel::LogLevel::kDebug, __VA_ARGS__); \
    }                                                                                 \
  } while (0)

#endif  // MODEL_KERNEL_PRINTK_H_
