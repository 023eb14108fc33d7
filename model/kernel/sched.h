// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Tasks: the simulated userspace processes. A task owns a files_struct and an mm_struct; fork copies both (fds
// share their files, anonymous memory is copied, file mappings are shared and the driver's vm_ops->open runs for
// each copy), exit tears both down (every mapping is unmapped, then every fd closed, as do_exit orders
// exit_mm before exit_files).
//
// get_current() is the task a system call runs for. It is thread-local: the backend sets it around each call
// with a current_task_scope, so two host threads can act for two tasks at once. Leaving the outermost scope of a
// task is its return to userspace: the task's pending task_work runs then (and at the return of every sys_*).
//
// Divergence: a task is a process with one thread (tgid == pid, group_leader is itself), and pids come from one
// counter that pid_ns_reset() rewinds; v4.4 recycles pids after pid_max.
#ifndef MODEL_KERNEL_SCHED_H_
#define MODEL_KERNEL_SCHED_H_

#include <atomic>

#include "model/kernel/err.h"
#include "model/kernel/fs.h"
#include "model/kernel/mm_user.h"
#include "model/kernel/task_work.h"

namespace ionsim::kernel {

using pid_t = int;

// Mirrors include/linux/sched.h:TASK_COMM_LEN @ v4.4.
inline constexpr int TASK_COMM_LEN = 16;

// Mirrors include/linux/sched.h:struct task_struct @ v4.4, the fields ION and the VFS read.
struct task_struct {
  pid_t pid;
  pid_t tgid;
  char comm[TASK_COMM_LEN];  // NUL-terminated, truncated to 15 characters
  struct task_struct* group_leader;
  struct files_struct* files;
  struct mm_struct* mm;
  std::atomic<struct callback_head*> task_works{nullptr};  // task_work.h: pending work, newest first
  bool exiting;  // PF_EXITING: do_exit() has begun
  bool exited;
};

// Creates a task with the next pid, an empty fd table and an empty address space over mem. comm is truncated to
// TASK_COMM_LEN - 1 characters. NULL when an allocation fails.
struct task_struct* task_create(const char* comm, struct phys_mem* mem);
// Mirrors kernel/fork.c:copy_process() @ v4.4 for fork(): same comm, the next pid, dup_fd() and dup_mm().
ErrnoOr<struct task_struct*> copy_process(struct task_struct* parent);
// Mirrors kernel/exit.c:do_exit() @ v4.4: exit_mm(), exit_files(), then exit_task_work() runs the releases both
// queued, newest first. The task struct stays (exited) until
// task_free(), so a test can still look at it; running a syscall for an exited task is a BUG. The teardown runs
// with the task as current, as upstream; a second do_exit() WARNs and does nothing.
void do_exit(struct task_struct* task);
// Frees an exited task (release_task); a task that has not exited is exited first.
void task_free(struct task_struct* task);

// Mirrors include/linux/sched.h:get_task_comm() @ v4.4: copies comm into buf (TASK_COMM_LEN bytes).
char* get_task_comm(char* buf, const struct task_struct* task);
// Mirrors include/linux/sched.h:task_pid_nr() @ v4.4.
inline pid_t task_pid_nr(const struct task_struct* task) { return task->pid; }

// Mirrors arch/x86/include/asm/current.h:get_current() @ v4.4. NULL outside a current_task_scope: a kernel
// thread context (the deferred-free thread, module init).
struct task_struct* get_current();
void set_current(struct task_struct* task);

// Sets get_current() for the lifetime of the scope and restores the previous task after.
class current_task_scope {
 public:
  explicit current_task_scope(struct task_struct* task);
  ~current_task_scope();
  current_task_scope(const current_task_scope&) = delete;
  current_task_scope& operator=(const current_task_scope&) = delete;

 private:
  struct task_struct* prev_;
};

// The next task_create() or copy_process() gets pid `next`. Rewinding while tasks made since the last rewind are
// alive WARNs and does nothing.
void pid_ns_reset(pid_t next);

}  // namespace ionsim::kernel

#endif  // MODEL_KERNEL_SCHED_H_
