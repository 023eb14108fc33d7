// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "model/kernel/lock.h"

#include "model/kernel/bug.h"

namespace ionsim::kernel {
namespace {

std::atomic<lock_hook_fn> g_hook{nullptr};
std::atomic<atomic_point_hook_fn> g_atomic_hook{nullptr};

inline void hook(LockEvent event, LockKind kind, const void* lock, const char* name) {
  if (lock_hook_fn fn = g_hook.load(std::memory_order_acquire)) fn(event, kind, lock, name);
}

// The current thread's id, read once per thread (std::this_thread::get_id() is a pthread_self() call).
inline std::thread::id current_thread_id() {
  static thread_local const std::thread::id id = std::this_thread::get_id();
  return id;
}

bool held_by_current(const lock_owner& debug) {
  return debug.owner.load(std::memory_order_relaxed) == current_thread_id();
}

// Blocking exclusive acquire shared by mutex, spinlock and the write side of rwsem.
template <typename Lock, typename Acquire>
void acquire_exclusive(Lock* lock, LockKind kind, Acquire acquire) {
  hook(LockEvent::kAcquire, kind, lock, lock->name);
  if (held_by_current(lock->debug)) {
    bug_slowpath(__FILE__, __LINE__, __func__, "possible recursive locking detected: %s %s (%p)",
                 lock_kind_name(kind), lock->name, static_cast<const void*>(lock));
  }
  acquire();
  lock->debug.owner.store(current_thread_id(), std::memory_order_relaxed);
  hook(LockEvent::kAcquired, kind, lock, lock->name);
}

// Exclusive release; returns false (after a WARN) when the current thread is not the holder.
template <typename Lock>
bool release_exclusive_ok(Lock* lock, LockKind kind) {
  if (WARN(!held_by_current(lock->debug), "DEBUG_LOCKS_WARN_ON(owner != current): %s %s released by a non-owner",
           lock_kind_name(kind), lock->name)) {
    return false;
  }
  lock->debug.owner.store(std::thread::id(), std::memory_order_relaxed);
  return true;
}

}  // namespace

const char* lock_event_name(LockEvent event) {
  switch (event) {
    case LockEvent::kAcquire: return "acquire";
    case LockEvent::kAcquired: return "acquired";
    case LockEvent::kRelease: return "release";
  }
  return "?";
}

const char* lock_kind_name(LockKind kind) {
  switch (kind) {
    case LockKind::kMutex: return "mutex";
    case LockKind::kSpinlock: return "spinlock";
    case LockKind::kRwsemRead: return "rwsem-read";
    case LockKind::kRwsemWrite: return "rwsem-write";
  }
  return "?";
}

void set_lock_hook(lock_hook_fn fn) { g_hook.store(fn, std::memory_order_release); }

void set_atomic_point_hook(atomic_point_hook_fn fn) { g_atomic_hook.store(fn, std::memory_order_release); }

void atomic_point(const char* what, const void* object) {
  if (atomic_point_hook_fn fn = g_atomic_hook.load(std::memory_order_acquire)) fn(what, object);
}

void mutex_init(struct mutex* lock, const char* name) {
  if (name != nullptr) lock->name = name;
}

void mutex_lock(struct mutex* lock) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  acquire_exclusive(lock, LockKind::kMutex, [lock] { lock->m.lock(); });
}

int mutex_trylock(struct mutex* lock) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  hook(LockEvent::kAcquire, LockKind::kMutex, lock, lock->name);
  if (held_by_current(lock->debug) || !lock->m.try_lock()) return 0;
  lock->debug.owner.store(current_thread_id(), std::memory_order_relaxed);
  hook(LockEvent::kAcquired, LockKind::kMutex, lock, lock->name);
  return 1;
}

void mutex_unlock(struct mutex* lock) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  if (!release_exclusive_ok(lock, LockKind::kMutex)) return;
  lock->m.unlock();
  hook(LockEvent::kRelease, LockKind::kMutex, lock, lock->name);
}

int mutex_is_locked(struct mutex* lock) {
  return lock->debug.owner.load(std::memory_order_relaxed) != std::thread::id() ? 1 : 0;
}

void spin_lock_init(spinlock_t* lock, const char* name) {
  if (name != nullptr) lock->name = name;
}

void spin_lock(spinlock_t* lock) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  acquire_exclusive(lock, LockKind::kSpinlock, [lock] { lock->m.lock(); });
}

void spin_unlock(spinlock_t* lock) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  if (!release_exclusive_ok(lock, LockKind::kSpinlock)) return;
  lock->m.unlock();
  hook(LockEvent::kRelease, LockKind::kSpinlock, lock, lock->name);
}

int spin_is_locked(spinlock_t* lock) {
  return lock->debug.owner.load(std::memory_order_relaxed) != std::thread::id() ? 1 : 0;
}

void init_rwsem(struct rw_semaphore* sem, const char* name) {
  if (name != nullptr) sem->name = name;
}

void down_read(struct rw_semaphore* sem) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  hook(LockEvent::kAcquire, LockKind::kRwsemRead, sem, sem->name);
  if (held_by_current(sem->debug)) {
    bug_slowpath(__FILE__, __LINE__, __func__, "possible recursive locking detected: down_read of %s (%p) "
                 "while holding it for write", sem->name, static_cast<const void*>(sem));
  }
  sem->m.lock_shared();
  hook(LockEvent::kAcquired, LockKind::kRwsemRead, sem, sem->name);
}

void up_read(struct rw_semaphore* sem) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  sem->m.unlock_shared();
  hook(LockEvent::kRelease, LockKind::kRwsemRead, sem, sem->name);
}

void down_write(struct rw_semaphore* sem) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  acquire_exclusive(sem, LockKind::kRwsemWrite, [sem] { sem->m.lock(); });
}

void up_write(struct rw_semaphore* sem) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  if (!release_exclusive_ok(sem, LockKind::kRwsemWrite)) return;
  sem->m.unlock();
  hook(LockEvent::kRelease, LockKind::kRwsemWrite, sem, sem->name);
}

void lockdep_assert_held(struct mutex* lock) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  WARN_ON(!held_by_current(lock->debug));
}

void lockdep_assert_held(spinlock_t* lock) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  WARN_ON(!held_by_current(lock->debug));
}

void lockdep_assert_held_write(struct rw_semaphore* sem) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  WARN_ON(!held_by_current(sem->debug));
}

}  // namespace ionsim::kernel
