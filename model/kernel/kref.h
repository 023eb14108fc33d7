// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// struct kref with v4.4 semantics: an atomic_t, no saturation (refcount_t arrived in 4.11). kref_get from zero
// WARNs once; kref_put returns 1 when it ran the release function; a put below zero goes negative silently, as
// in v4.4, and is left to oracles to catch.
//
// The counter width is a switch for overflow experiments (reference ion.md section 5 item 4): with N bits the
// count is an N-bit two's-complement integer that wraps, so 2^N gets of a count of 1 bring it back to 1. The
// default is 32, the kernel's atomic_t. Every wrap is counted (kref_wrap_count) so an oracle can report it.
#ifndef MODEL_KERNEL_KREF_H_
#define MODEL_KERNEL_KREF_H_

#include <atomic>
#include <cstdint>

namespace ionsim::kernel {

struct kref {
  std::atomic<int32_t> refcount{0};
};

// Called before every get and put (an interleaving explorer's scheduling point and kref oracles); must not take
// a model lock. The default is none.
enum class KrefEvent { kGet, kGetUnlessZero, kPut };
using kref_hook_fn = void (*)(KrefEvent event, struct kref* kref);
void set_kref_hook(kref_hook_fn hook);

// Width of every kref counter in bits, 2..32. Set it before creating objects; it applies process-wide.
void kref_set_counter_bits(int bits);
int kref_counter_bits();
// Number of kref updates that wrapped past the largest or smallest value of the counter width.
uint64_t kref_wrap_count();
void kref_reset_wrap_count();

// Mirrors include/linux/kref.h:kref_init() @ v4.4.
void kref_init(struct kref* kref);
// Mirrors include/linux/kref.h:kref_get() @ v4.4: WARN_ON_ONCE(atomic_inc_return(&kref->refcount) < 2).
void kref_get(struct kref* kref);
// Mirrors include/linux/kref.h:kref_sub() @ v4.4: WARN_ON(release == NULL); release and return 1 at zero.
int kref_sub(struct kref* kref, unsigned int count, void (*release)(struct kref* kref));
// Mirrors include/linux/kref.h:kref_put() @ v4.4.
int kref_put(struct kref* kref, void (*release)(struct kref* kref));
// Mirrors include/linux/kref.h:kref_get_unless_zero() @ v4.4 (atomic_add_unless(&kref->refcount, 1, 0)).
int kref_get_unless_zero(struct kref* kref);
// The current count. Divergence: kref_read() arrived in 4.11; v4.4 code reads atomic_read(&kref->refcount),
// which is what debugfs prints.
int kref_read(const struct kref* kref);

}  // namespace ionsim::kernel

#endif  // MODEL_KERNEL_KREF_H_
