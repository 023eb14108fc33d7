// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Work a task runs for itself on its way back to userspace (kernel/task_work.c @ v4.4). The last fput() of a
// file queues its release here, so the releases of one system call, or of one exit, run when that call returns
// or in do_exit() after exit_files(), newest first:
//   - task_work_add() pushes at the head of the task's list;
//   - task_work_run() takes the whole list and runs it from the head (last in, first out: the FIFO reversal of
//     older kernels was removed before v4.4), again until the list stays empty; an exiting task's empty list
//     is then closed, and task_work_add() on a closed list fails with -ESRCH.
#ifndef MODEL_KERNEL_TASK_WORK_H_
#define MODEL_KERNEL_TASK_WORK_H_

namespace ionsim::kernel {

struct task_struct;

// Mirrors include/linux/types.h:struct callback_head @ v4.4.
struct callback_head {
  struct callback_head* next = nullptr;
  void (*func)(struct callback_head* head) = nullptr;
};
using task_work_func_t = void (*)(struct callback_head*);

// Mirrors include/linux/task_work.h:init_task_work() @ v4.4.
inline void init_task_work(struct callback_head* twork, task_work_func_t func) { twork->func = func; }

// Mirrors kernel/task_work.c:task_work_add() @ v4.4 (no notification: the model has no signals; the list runs
// at every system call's return). 0, or -ESRCH once the task has run exit_task_work().
int task_work_add(struct task_struct* task, struct callback_head* work);
// Mirrors kernel/task_work.c:task_work_run() @ v4.4, for get_current(). Nothing when there is no current task.
void task_work_run();
// Mirrors include/linux/task_work.h:exit_task_work() @ v4.4: the last run, from do_exit().
void exit_task_work(struct task_struct* task);

// The return to userspace of a system call: task_work_run() when the object goes out of scope.
class syscall_return_work {
 public:
  syscall_return_work() = default;
  ~syscall_return_work() { task_work_run(); }
  syscall_return_work(const syscall_return_work&) = delete;
  syscall_return_work& operator=(const syscall_return_work&) = delete;
};

}  // namespace ionsim::kernel

#endif  // MODEL_KERNEL_TASK_WORK_H_
