// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "model/kernel/kref.h"

#include "model/kernel/bug.h"

namespace ionsim::kernel {
namespace {

std::atomic<int> g_bits{32};
std::atomic<uint64_t> g_wraps{0};
std::atomic<kref_hook_fn> g_kref_hook{nullptr};

inline void hook(KrefEvent event, struct kref* kref) {
  if (kref_hook_fn fn = g_kref_hook.load(std::memory_order_acquire)) fn(event, kref);
}

// Adds delta to the counter in the configured width, wrapping like a two's-complement integer of that width,
// unless the counter holds `unless` (when has_unless). Returns false, changing nothing, in that case; otherwise
// stores the new value in *result.
bool atomic_add_width(std::atomic<int32_t>* v, int64_t delta, bool has_unless, int32_t unless, int32_t* result) {
  const int bits = g_bits.load(std::memory_order_relaxed);
  const int64_t lo = -(int64_t{1} << (bits - 1));
  const int64_t hi = (int64_t{1} << (bits - 1)) - 1;
  const uint64_t mask = (uint64_t{1} << bits) - 1;
  int32_t old = v->load(std::memory_order_relaxed);
  for (;;) {
    if (has_unless && old == unless) return false;
    const int64_t exact = int64_t{old} + delta;
    uint64_t low_bits = static_cast<uint64_t>(exact) & mask;
    if (low_bits & (uint64_t{1} << (bits - 1))) low_bits |= ~mask;  // sign-extend
    const int32_t next = static_cast<int32_t>(static_cast<int64_t>(low_bits));
    if (v->compare_exchange_weak(old, next, std::memory_order_acq_rel, std::memory_order_relaxed)) {
      if (exact < lo || exact > hi) g_wraps.fetch_add(1, std::memory_order_relaxed);
      *result = next;
      return true;
    }
  }
}

int32_t atomic_add_return_width(std::atomic<int32_t>* v, int64_t delta) {
  int32_t result = 0;
  atomic_add_width(v, delta, /*has_unless=*/false, 0, &result);
  return result;
}

}  // namespace

void set_kref_hook(kref_hook_fn fn) { g_kref_hook.store(fn, std::memory_order_release); }

void kref_set_counter_bits(int bits) {
  BUG_ON(bits < 2 || bits > 32);
  g_bits.store(bits, std::memory_order_relaxed);
}
int kref_counter_bits() { return g_bits.load(std::memory_order_relaxed); }
uint64_t kref_wrap_count() { return g_wraps.load(std::memory_order_relaxed); }
void kref_reset_wrap_count() { g_wraps.store(0, std::memory_order_relaxed); }

void kref_init(struct kref* kref) { kref->refcount.store(1, std::memory_order_relaxed); }

void kref_get(struct kref* kref) {
  hook(KrefEvent::kGet, kref);
  WARN_ON_ONCE(atomic_add_return_width(&kref->refcount, 1) < 2);
}

int kref_sub(struct kref* kref, unsigned int count, void (*release)(struct kref* kref)) {
  WARN_ON(release == nullptr);
  hook(KrefEvent::kPut, kref);
  if (atomic_add_return_width(&kref->refcount, -static_cast<int64_t>(count)) == 0) {
    release(kref);
    return 1;
  }
  return 0;
}

int kref_put(struct kref* kref, void (*release)(struct kref* kref)) { return kref_sub(kref, 1, release); }

int kref_get_unless_zero(struct kref* kref) {
  hook(KrefEvent::kGetUnlessZero, kref);
  int32_t result = 0;
  return atomic_add_width(&kref->refcount, 1, /*has_unless=*/true, 0, &result) ? 1 : 0;
}

int kref_read(const struct kref* kref) { return kref->refcount.load(std::memory_order_relaxed); }

}  // namespace ionsim::kernel
