// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "model/kernel/task_work.h"

#include <cerrno>

#include "model/kernel/sched.h"

namespace ionsim::kernel {
namespace {

// Marks a list closed by an exiting task's last run (only its address matters, as upstream).
struct callback_head work_exited;

}  // namespace

int task_work_add(struct task_struct* task, struct callback_head* work) {
  struct callback_head* head = task->task_works.load(std::memory_order_acquire);
  do {
    if (head == &work_exited) return -ESRCH;
    work->next = head;
  } while (!task->task_works.compare_exchange_weak(head, work, std::memory_order_acq_rel));
  return 0;
}

void task_work_run() {
  struct task_struct* task = get_current();
  if (task == nullptr) return;
  for (;;) {
    // A func may queue more work: the list is closed only when it is found empty while exiting.
    struct callback_head* work = task->task_works.load(std::memory_order_acquire);
    struct callback_head* head;
    do {
      head = (work == nullptr && task->exiting) ? &work_exited : nullptr;
      if (work == &work_exited) return;
    } while (!task->task_works.compare_exchange_weak(work, head, std::memory_order_acq_rel));
    if (work == nullptr) break;
    // From the head: the newest first.
    do {
      struct callback_head* next = work->next;
      work->func(work);
      work = next;
    } while (work != nullptr);
  }
}

void exit_task_work(struct task_struct* task) {
  current_task_scope scope(task);
  task_work_run();
}

}  // namespace ionsim::kernel
