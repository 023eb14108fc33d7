// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// struct mutex, struct rw_semaphore and spinlock_t with the kernel's function names and Abseil thread-safety
// annotations, so clang's -Wthread-safety checks the "must hold X" rules that upstream states in comments.
//
// Every acquire and release passes through one hook (set_lock_hook): kAcquire before blocking, kAcquired once
// held, kRelease after letting go. The default is no hook; an interleaving explorer installs one to take control
// of scheduling.
//
// Lock debugging as CONFIG_DEBUG_MUTEXES and lockdep would report it, instead of hanging: taking a mutex or
// spinlock the current thread already holds is a BUG ("possible recursive locking detected"), and releasing one
// the current thread does not hold WARNs and leaves the lock alone.
#ifndef MODEL_KERNEL_LOCK_H_
#define MODEL_KERNEL_LOCK_H_

#include <atomic>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include "absl/base/thread_annotations.h"

namespace ionsim::kernel {

enum class LockEvent { kAcquire, kAcquired, kRelease };
enum class LockKind { kMutex, kSpinlock, kRwsemRead, kRwsemWrite };

const char* lock_event_name(LockEvent event);
const char* lock_kind_name(LockKind kind);

// Called at every acquire and release of every lock; must not take a model lock itself.
using lock_hook_fn = void (*)(LockEvent event, LockKind kind, const void* lock, const char* name);
void set_lock_hook(lock_hook_fn hook);

// A shared-memory update made outside every lock (genalloc's bitmap, which upstream updates with cmpxchg): an
// interleaving explorer's scheduling point, through its own hook. The default is none.
using atomic_point_hook_fn = void (*)(const char* what, const void* object);
void set_atomic_point_hook(atomic_point_hook_fn hook);
void atomic_point(const char* what, const void* object);

// Owner tracking shared by mutex and spinlock.
struct lock_owner {
  std::atomic<std::thread::id> owner{};
};

// The lock word of mutex and spinlock_t: test-and-test-and-set, yielding the CPU while another thread holds it.
// Uncontended acquire and release are one atomic operation each.
struct word_lock {
  std::atomic<bool> locked{false};
  void lock() {
    while (locked.exchange(true, std::memory_order_acquire)) {
      while (locked.load(std::memory_order_relaxed)) std::this_thread::yield();
    }
  }
  bool try_lock() { return !locked.load(std::memory_order_relaxed) && !locked.exchange(true, std::memory_order_acquire); }
  void unlock() { locked.store(false, std::memory_order_release); }
};

struct ABSL_LOCKABLE mutex {
  word_lock m;
  lock_owner debug;
  const char* name = "mutex";
};

struct ABSL_LOCKABLE spinlock_t {
  word_lock m;
  lock_owner debug;
  const char* name = "spinlock";
};

struct ABSL_LOCKABLE rw_semaphore {
  std::shared_mutex m;
  // The writer, when write-held; readers are not tracked.
  lock_owner debug;
  const char* name = "rw_semaphore";
};

// Mirrors include/linux/mutex.h @ v4.4.
void mutex_init(struct mutex* lock, const char* name = nullptr);
void mutex_lock(struct mutex* lock) ABSL_EXCLUSIVE_LOCK_FUNCTION(lock);
int mutex_trylock(struct mutex* lock) ABSL_EXCLUSIVE_TRYLOCK_FUNCTION(1, lock);
void mutex_unlock(struct mutex* lock) ABSL_UNLOCK_FUNCTION(lock);
int mutex_is_locked(struct mutex* lock);

// Mirrors include/linux/spinlock.h @ v4.4 (irq variants are the plain ones: the model has no interrupts).
void spin_lock_init(spinlock_t* lock, const char* name = nullptr);
void spin_lock(spinlock_t* lock) ABSL_EXCLUSIVE_LOCK_FUNCTION(lock);
void spin_unlock(spinlock_t* lock) ABSL_UNLOCK_FUNCTION(lock);
int spin_is_locked(spinlock_t* lock);

// Mirrors include/linux/rwsem.h @ v4.4.
void init_rwsem(struct rw_semaphore* sem, const char* name = nullptr);
void down_read(struct rw_semaphore* sem) ABSL_SHARED_LOCK_FUNCTION(sem);
void up_read(struct rw_semaphore* sem) ABSL_UNLOCK_FUNCTION(sem);
void down_write(struct rw_semaphore* sem) ABSL_EXCLUSIVE_LOCK_FUNCTION(sem);
void up_write(struct rw_semaphore* sem) ABSL_UNLOCK_FUNCTION(sem);

// Mirrors include/linux/lockdep.h:lockdep_assert_held() @ v4.4: WARNs unless the current thread holds the lock.
void lockdep_assert_held(struct mutex* lock) ABSL_ASSERT_EXCLUSIVE_LOCK(lock);
void lockdep_assert_held(spinlock_t* lock) ABSL_ASSERT_EXCLUSIVE_LOCK(lock);
void lockdep_assert_held_write(struct rw_semaphore* sem) ABSL_ASSERT_EXCLUSIVE_LOCK(sem);

}  // namespace ionsim::kernel

#endif  // MODEL_KERNEL_LOCK_H_
