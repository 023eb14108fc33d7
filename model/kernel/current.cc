// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "model/kernel/sched.h"

namespace ionsim::kernel {
namespace {

thread_local struct task_struct* t_current = nullptr;

}  // namespace

struct task_struct* get_current() { return t_current; }

void set_current(struct task_struct* task) { t_current = task; }

current_task_scope::current_task_scope(struct task_struct* task) : prev_(t_current) { t_current = task; }

// Leaving a task's outermost scope is its return to userspace: its pending task_work runs first.
current_task_scope::~current_task_scope() {
  if (t_current != nullptr && t_current != prev_) task_work_run();
  t_current = prev_;
}

}  // namespace ionsim::kernel
