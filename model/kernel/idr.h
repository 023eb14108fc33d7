// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Small-integer id to pointer maps with the v4.4 idr API. idr_alloc() hands out the lowest free id in the
// requested range, so a removed id is the next one given out.
//
// The store is a radix tree of 64-way layers (the kernel's are 256-way). Layer 0 holds the user pointers; every
// layer keeps a bitmap whose bit i says "slot i is full": in a leaf, id allocated; above, the child's subtree
// has no free id left. The lowest-free search follows clear bits (one ctz per layer), so it costs O(depth) and
// never walks ids one by one. A tree of `layers` levels covers ids [0, 64^layers); ids run up to INT_MAX, which
// needs six levels, and only the layers on the paths to allocated ids exist. Every layer comes from
// kzalloc<idr_layer>() with the caller's gfp, so injected slab failures reach idr_alloc() as -ENOMEM, and the
// live-object registry sees any layer left behind: idr_destroy() returns them all (never the user pointers).
//
// Kernel behaviour kept on purpose:
//   - idr_alloc() may store NULL: the id is allocated (a later idr_alloc() passes over it, idr_remove() takes
//     it without a WARN, idr_replace() finds it), yet idr_find() returns NULL for it and idr_for_each(),
//     idr_get_next() and idr_is_empty() do not see it, since they look at the stored pointers.
//   - idr_remove() of a negative id does nothing; of any other id that is not allocated it WARNs
//     "idr_remove called for id=%d which is not allocated.".
//   - A negative start is WARN_ON_ONCE and -EINVAL; end <= 0 means "up to INT_MAX".
//
// The idr has no lock of its own: as in the kernel, the caller serialises every call on one idr.
#ifndef MODEL_KERNEL_IDR_H_
#define MODEL_KERNEL_IDR_H_

#include <cstdint>

#include "model/kernel/err.h"
#include "model/kernel/gfp.h"

namespace ionsim::kernel {

// Divergence: 6 bits per layer instead of v4.4's IDR_BITS = 8, so that a layer's bitmap is one 64-bit word.
inline constexpr int IDR_BITS = 6;
inline constexpr int IDR_SIZE = 1 << IDR_BITS;
inline constexpr int IDR_MASK = IDR_SIZE - 1;
// Layers needed to reach INT_MAX.
inline constexpr int MAX_IDR_LEVEL = (31 + IDR_BITS - 1) / IDR_BITS;

// Mirrors include/linux/idr.h:struct idr_layer @ v4.4 (without the prefix and the RCU head).
struct idr_layer {
  int layer = 0;             // 0 for a leaf
  int count = 0;             // leaf: allocated ids; above: non-NULL children
  uint64_t bitmap = 0;       // bit i set: slot i is full (leaf: id allocated; above: subtree without a free id)
  void* ary[IDR_SIZE] = {};  // leaf: the user pointers; above: struct idr_layer*
};

// Mirrors include/linux/idr.h:struct idr @ v4.4 (without the lookup hint, the cyclic cursor, the lock and the
// free-layer cache). A value-initialised idr is empty, as DEFINE_IDR() makes it.
struct idr {
  struct idr_layer* top = nullptr;
  int layers = 0;  // 0 exactly when top is NULL
};

// Mirrors lib/idr.c:idr_init() @ v4.4.
void idr_init(struct idr* idp);

// Mirrors lib/idr.c:idr_alloc() @ v4.4: the lowest free id in [start, end) (end <= 0: [start, INT_MAX]),
// -EINVAL with a WARN for a negative start, -ENOSPC when the range is empty or full, -ENOMEM when a layer
// cannot be allocated (the idr is then unchanged).
ErrnoOr<int> idr_alloc(struct idr* idp, void* ptr, int start, int end, gfp_t gfp_mask);

// Mirrors include/linux/idr.h:idr_find() @ v4.4: the pointer stored under id, NULL when none (or id < 0).
void* idr_find(const struct idr* idp, int id);

// Mirrors lib/idr.c:idr_remove() @ v4.4.
void idr_remove(struct idr* idp, int id);

// Mirrors lib/idr.c:idr_replace() @ v4.4: stores ptr under an allocated id and returns the old pointer;
// -EINVAL for a negative id, -ENOENT for an id that is not allocated.
ErrnoOr<void*> idr_replace(struct idr* idp, void* ptr, int id);

// Mirrors lib/idr.c:idr_for_each() @ v4.4: calls fn(id, ptr, data) for each non-NULL pointer in ascending id
// order and stops at, and returns, the first nonzero value fn returns; 0 when fn never did.
int idr_for_each(const struct idr* idp, int (*fn)(int id, void* p, void* data), void* data);

// Mirrors lib/idr.c:idr_get_next() @ v4.4: the non-NULL pointer with the lowest id >= *nextidp, whose id is
// stored into *nextidp; NULL (and *nextidp untouched) when there is none.
void* idr_get_next(const struct idr* idp, int* nextidp);

// Mirrors lib/idr.c:idr_is_empty() @ v4.4: true when no non-NULL pointer is stored.
bool idr_is_empty(const struct idr* idp);

// Mirrors lib/idr.c:idr_destroy() @ v4.4: frees every layer; the idr is empty and usable afterwards. The stored
// pointers are the caller's.
void idr_destroy(struct idr* idp);

}  // namespace ionsim::kernel

// Mirrors include/linux/idr.h:idr_for_each_entry() @ v4.4.
#define idr_for_each_entry(idp, entry, id) \
  for (id = 0; ((entry) = static_cast<decltype(entry)>(::ionsim::kernel::idr_get_next((idp), &(id)))) != nullptr; ++id)

#endif  // MODEL_KERNEL_IDR_H_
