// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "model/kernel/sched.h"

#include <atomic>
#include <cstring>

#include "model/kernel/bug.h"
#include "model/kernel/gfp.h"
#include "model/kernel/slab.h"

namespace ionsim::kernel {
namespace {

// The next pid to hand out (kernel/pid.c:alloc_pid() without recycling) and the tasks not yet freed.
std::atomic<pid_t> g_next_pid{1};
std::atomic<long> g_live_tasks{0};

// Mirrors fs/exec.c:__set_task_comm() @ v4.4: strlcpy into TASK_COMM_LEN bytes.
void set_task_comm(struct task_struct* task, const char* comm) {
  size_t len = 0;
  while (comm != nullptr && len < TASK_COMM_LEN - 1 && comm[len] != '\0') ++len;
  std::memset(task->comm, 0, sizeof(task->comm));
  if (len > 0) std::memcpy(task->comm, comm, len);
}

// Mirrors kernel/pid.c:alloc_pid() @ v4.4 and the leader setup of copy_process(): a one-thread process.
void task_attach_pid(struct task_struct* task) {
  task->pid = g_next_pid.fetch_add(1, std::memory_order_relaxed);
  task->tgid = task->pid;
  task->group_leader = task;
  g_live_tasks.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

// A new process with nothing open and nothing mapped (what exec leaves of init, without the binary).
struct task_struct* task_create(const char* comm, struct phys_mem* mem) {
  struct task_struct* task = kzalloc<struct task_struct>(GFP_KERNEL);
  if (task == nullptr) return nullptr;
  task->files = files_create();
  if (task->files == nullptr) {
    kfree(task);
    return nullptr;
  }
  task->mm = mm_create(mem);
  if (task->mm == nullptr) {
    put_files_struct(task->files);
    kfree(task);
    return nullptr;
  }
  set_task_comm(task, comm);
  task_attach_pid(task);
  return task;
}

// Mirrors kernel/fork.c:copy_process() @ v4.4 for fork(): copy_files() then copy_mm(), the pid last.
ErrnoOr<struct task_struct*> copy_process(struct task_struct* parent) {
  if (parent->exited) {
    bug_slowpath(__FILE__, __LINE__, __func__, "fork() of task %d, which has exited", parent->pid);
  }
  // dup_task_struct()
  struct task_struct* p = kzalloc<struct task_struct>(GFP_KERNEL);
  if (p == nullptr) return Errno(-ENOMEM);
  std::memcpy(p->comm, parent->comm, sizeof(p->comm));
  // copy_files()
  ErrnoOr<struct files_struct*> files = dup_fd(parent->files);
  if (!files.ok()) {
    kfree(p);
    return files.error();
  }
  p->files = *files;
  // copy_mm()
  ErrnoOr<struct mm_struct*> mm = dup_mm(parent->mm);
  if (!mm.ok()) {
    // bad_fork_cleanup_files: exit_files(p).
    put_files_struct(p->files);
    kfree(p);
    return mm.error();
  }
  p->mm = *mm;
  // The pid comes last, after everything that can fail, as in copy_process().
  task_attach_pid(p);
  return p;
}

// Mirrors kernel/exit.c:do_exit() @ v4.4: exit_mm(), exit_files(), then exit_task_work(): the releases of the
// files both dropped run last-in first-out (the fds from the highest down, then the mappings' files).
void do_exit(struct task_struct* task) {
  if (WARN(task->exited, "do_exit() of task %d, which has already exited", task->pid)) return;
  // Teardown runs in the exiting task's context, as upstream (do_exit() acts on current).
  current_task_scope scope(task);
  // exit_signals(): PF_EXITING.
  task->exiting = true;
  // exit_mm(): the task loses its mm before mmput() drops it.
  struct mm_struct* mm = task->mm;
  task->mm = nullptr;
  mmput(mm);
  // exit_files()
  struct files_struct* files = task->files;
  task->files = nullptr;
  if (files != nullptr) put_files_struct(files);
  exit_task_work(task);
  task->exited = true;
}

// Mirrors kernel/exit.c:release_task() @ v4.4, after do_exit() when the task has not exited.
void task_free(struct task_struct* task) {
  if (task == nullptr) return;
  if (!task->exited) do_exit(task);
  kfree(task);
  g_live_tasks.fetch_sub(1, std::memory_order_relaxed);
}

// Mirrors fs/exec.c:__get_task_comm() @ v4.4.
char* get_task_comm(char* buf, const struct task_struct* task) {
  // __get_task_comm(): strncpy of TASK_COMM_LEN bytes; comm is always NUL-terminated.
  std::memcpy(buf, task->comm, TASK_COMM_LEN);
  return buf;
}

// Rewinds the pid counter; only when every task made so far has been freed.
void pid_ns_reset(pid_t next) {
  const long live = g_live_tasks.load(std::memory_order_relaxed);
  if (WARN(live != 0, "pid_ns_reset(%d) with %ld task(s) still alive: pids would repeat", next, live)) return;
  g_next_pid.store(next, std::memory_order_relaxed);
}

}  // namespace ionsim::kernel
