// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "model/kernel/idr.h"

#include <algorithm>
#include <climits>

#include "model/kernel/bug.h"
#include "model/kernel/slab.h"

namespace ionsim::kernel {
namespace {

constexpr uint64_t kAllSlots = ~uint64_t{0};

uint64_t slot_bit(int slot) { return uint64_t{1} << slot; }

// Ids covered by a tree of `layers` levels: [0, idr_capacity(layers)).
int64_t idr_capacity(int layers) { return layers == 0 ? 0 : int64_t{1} << (IDR_BITS * layers); }

// The fewest levels whose tree covers `id`.
int idr_layers_for(int64_t id) {
  int layers = 1;
  while (id >= idr_capacity(layers)) ++layers;
  return layers;
}

int slot_of(int64_t id, int layer) { return static_cast<int>((id >> (IDR_BITS * layer)) & IDR_MASK); }

struct idr_layer* child_of(const struct idr_layer* p, int slot) {
  return static_cast<struct idr_layer*>(p->ary[slot]);
}

// The lowest id >= start that is free in the subtree `p` covering ids from `base`, or -1. A NULL subtree is all
// free. start lies inside the subtree's range.
int64_t sub_find_free(const struct idr_layer* p, int64_t base, int64_t start) {
  if (p == nullptr) return std::max(base, start);
  const int shift = IDR_BITS * p->layer;
  const int first = start > base ? static_cast<int>((start - base) >> shift) : 0;
  uint64_t candidates = ~p->bitmap & (kAllSlots << first);
  while (candidates != 0) {
    const int slot = __builtin_ctzll(candidates);
    const int64_t slot_base = base + (int64_t{slot} << shift);
    // In a leaf a clear bit at or after `first` is the answer; above, only the subtree holding `start` can be
    // free solely below start, and then the next candidate subtree (not full) has a free id.
    if (p->layer == 0) return slot_base;
    const int64_t id = sub_find_free(child_of(p, slot), slot_base, std::max(slot_base, start));
    if (id >= 0) return id;
    candidates &= candidates - 1;
  }
  return -1;
}

// The lowest id >= start in the subtree `p` whose stored pointer is not NULL, or -1; its pointer in *entry.
int64_t sub_find_entry(const struct idr_layer* p, int64_t base, int64_t start, void** entry) {
  const int shift = IDR_BITS * p->layer;
  const int first = start > base ? static_cast<int>((start - base) >> shift) : 0;
  if (p->layer == 0) {
    uint64_t allocated = p->bitmap & (kAllSlots << first);
    while (allocated != 0) {
      const int slot = __builtin_ctzll(allocated);
      if (p->ary[slot] != nullptr) {
        *entry = p->ary[slot];
        return base + slot;
      }
      allocated &= allocated - 1;
    }
    return -1;
  }
  for (int slot = first; slot < IDR_SIZE; ++slot) {
    const struct idr_layer* child = child_of(p, slot);
    if (child == nullptr) continue;
    const int64_t slot_base = base + (int64_t{slot} << shift);
    const int64_t id = sub_find_entry(child, slot_base, std::max(slot_base, start), entry);
    if (id >= 0) return id;
  }
  return -1;
}

// The leaf layer that holds `id`, or NULL; path[l] receives the layer at level l on the way down.
struct idr_layer* idr_leaf(const struct idr* idp, int id, struct idr_layer** path) {
  if (id < 0 || id >= idr_capacity(idp->layers)) return nullptr;
  struct idr_layer* p = idp->top;
  for (int l = idp->layers - 1; l > 0; --l) {
    path[l] = p;
    p = child_of(p, slot_of(id, l));
    if (p == nullptr) return nullptr;
  }
  path[0] = p;
  return p;
}

// Layers idr_alloc() must create to store `id` in a tree grown to `layers` levels.
int idr_layers_needed(const struct idr* idp, int64_t id, int layers) {
  if (idp->top == nullptr) return layers;
  if (layers > idp->layers) {
    // New top layers above the old top, and the whole path below the new top: id's slot in the new top is not
    // slot 0 (that is where the old tree hangs), so nothing on it exists yet.
    return (layers - idp->layers) + (layers - 1);
  }
  const struct idr_layer* p = idp->top;
  for (int l = layers - 1; l > 0; --l) {
    const struct idr_layer* child = child_of(p, slot_of(id, l));
    if (child == nullptr) return l;
    p = child;
  }
  return 0;
}

void free_subtree(struct idr_layer* p) {
  if (p->layer > 0) {
    for (int slot = 0; slot < IDR_SIZE; ++slot) {
      if (p->ary[slot] != nullptr) free_subtree(child_of(p, slot));
    }
  }
  kfree(p);
}

int idr_has_entry(int /*id*/, void* /*p*/, void* /*data*/) { return 1; }

}  // namespace

// Mirrors lib/idr.c:idr_init() @ v4.4.
void idr_init(struct idr* idp) {
  idp->top = nullptr;
  idp->layers = 0;
}

// Mirrors lib/idr.c:idr_alloc() @ v4.4.
// Divergence: the free id is found before any layer is allocated, and a failed allocation leaves the tree as it
// was. v4.4 grows and fills in layers first, so it can report -ENOMEM where the range is in fact exhausted
// (-ENOSPC here), and it keeps the empty layers it built.
ErrnoOr<int> idr_alloc(struct idr* idp, void* ptr, int start, int end, gfp_t gfp_mask) {
  const int max = end > 0 ? end - 1 : INT_MAX;

  if (WARN_ON_ONCE(start < 0)) return Errno(-EINVAL);
  if (max < start) return Errno(-ENOSPC);

  const int64_t capacity = idr_capacity(idp->layers);
  int64_t id = start;
  if (start < capacity) {
    id = sub_find_free(idp->top, 0, start);
    if (id < 0) id = capacity;
  }
  if (id > max) return Errno(-ENOSPC);

  const int layers = std::max(idp->layers, idr_layers_for(id));
  struct idr_layer* spare[2 * MAX_IDR_LEVEL];
  const int needed = idr_layers_needed(idp, id, layers);
  BUG_ON(needed > 2 * MAX_IDR_LEVEL);
  for (int i = 0; i < needed; ++i) {
    spare[i] = kzalloc<struct idr_layer>(gfp_mask);
    if (spare[i] == nullptr) {
      while (i > 0) kfree(spare[--i]);
      return Errno(-ENOMEM);
    }
  }
  int used = 0;
  auto take = [&](int layer) {
    BUG_ON(used == needed);
    struct idr_layer* p = spare[used++];
    p->layer = layer;
    return p;
  };

  if (idp->top == nullptr) {
    idp->top = take(layers - 1);
    idp->layers = layers;
  }
  while (idp->layers < layers) {
    struct idr_layer* p = take(idp->layers);
    p->ary[0] = idp->top;
    p->count = 1;
    if (idp->top->bitmap == kAllSlots) p->bitmap = slot_bit(0);
    idp->top = p;
    ++idp->layers;
  }

  struct idr_layer* path[MAX_IDR_LEVEL];
  struct idr_layer* p = idp->top;
  for (int l = layers - 1; l > 0; --l) {
    path[l] = p;
    const int slot = slot_of(id, l);
    if (p->ary[slot] == nullptr) {
      p->ary[slot] = take(l - 1);
      ++p->count;
    }
    p = child_of(p, slot);
  }
  path[0] = p;
  BUG_ON(used != needed);

  const int slot = slot_of(id, 0);
  p->ary[slot] = ptr;
  p->bitmap |= slot_bit(slot);
  ++p->count;
  // A layer that just became full marks its slot in the parent.
  for (int l = 0; l + 1 < layers && path[l]->bitmap == kAllSlots; ++l) {
    path[l + 1]->bitmap |= slot_bit(slot_of(id, l + 1));
  }

  return static_cast<int>(id);
}

// Mirrors include/linux/idr.h:idr_find() @ v4.4.
void* idr_find(const struct idr* idp, int id) {
  struct idr_layer* path[MAX_IDR_LEVEL];
  const struct idr_layer* leaf = idr_leaf(idp, id, path);
  return leaf == nullptr ? nullptr : leaf->ary[slot_of(id, 0)];
}

// Mirrors lib/idr.c:idr_remove() @ v4.4.
// Divergence: the tree shrinks as far as it can (v4.4 drops at most one top layer per call) and frees emptied
// layers at once (v4.4 frees them after an RCU grace period).
void idr_remove(struct idr* idp, int id) {
  if (id < 0) return;

  struct idr_layer* path[MAX_IDR_LEVEL];
  struct idr_layer* leaf = idr_leaf(idp, id, path);
  const int slot = slot_of(id, 0);
  if (leaf == nullptr || (leaf->bitmap & slot_bit(slot)) == 0) {
    WARN(1, "idr_remove called for id=%d which is not allocated.", id);
    return;
  }

  leaf->bitmap &= ~slot_bit(slot);
  leaf->ary[slot] = nullptr;
  --leaf->count;
  for (int l = 1; l < idp->layers; ++l) path[l]->bitmap &= ~slot_bit(slot_of(id, l));

  // Free the layers the removal emptied, bottom up.
  const int layers = idp->layers;
  for (int l = 0; l < layers && path[l]->count == 0; ++l) {
    kfree(path[l]);
    if (l + 1 < layers) {
      path[l + 1]->ary[slot_of(id, l + 1)] = nullptr;
      --path[l + 1]->count;
    } else {
      idp->top = nullptr;
      idp->layers = 0;
    }
  }

  // A top layer whose only child is slot 0 adds nothing.
  while (idp->layers > 1 && idp->top->count == 1 && idp->top->ary[0] != nullptr) {
    struct idr_layer* old_top = idp->top;
    idp->top = child_of(old_top, 0);
    --idp->layers;
    kfree(old_top);
  }
}

// Mirrors lib/idr.c:idr_replace() @ v4.4.
ErrnoOr<void*> idr_replace(struct idr* idp, void* ptr, int id) {
  if (id < 0) return Errno(-EINVAL);

  struct idr_layer* path[MAX_IDR_LEVEL];
  struct idr_layer* leaf = idr_leaf(idp, id, path);
  const int slot = slot_of(id, 0);
  if (leaf == nullptr || (leaf->bitmap & slot_bit(slot)) == 0) return Errno(-ENOENT);

  void* old_ptr = leaf->ary[slot];
  leaf->ary[slot] = ptr;
  return old_ptr;
}

// Mirrors lib/idr.c:idr_for_each() @ v4.4.
// Divergence: each step looks the next entry up afresh, so fn may remove the entry it is called for.
int idr_for_each(const struct idr* idp, int (*fn)(int id, void* p, void* data), void* data) {
  int id = 0;
  void* p;
  while ((p = idr_get_next(idp, &id)) != nullptr) {
    const int error = fn(id, p, data);
    if (error != 0) return error;
    if (id == INT_MAX) break;
    ++id;
  }
  return 0;
}

// Mirrors lib/idr.c:idr_get_next() @ v4.4.
void* idr_get_next(const struct idr* idp, int* nextidp) {
  const int id = *nextidp;
  if (id < 0 || id >= idr_capacity(idp->layers)) return nullptr;
  void* entry = nullptr;
  const int64_t found = sub_find_entry(idp->top, 0, id, &entry);
  if (found < 0) return nullptr;
  *nextidp = static_cast<int>(found);
  return entry;
}

// Mirrors lib/idr.c:idr_is_empty() @ v4.4.
bool idr_is_empty(const struct idr* idp) { return idr_for_each(idp, &idr_has_entry, nullptr) == 0; }

// Mirrors lib/idr.c:idr_destroy() @ v4.4.
void idr_destroy(struct idr* idp) {
  if (idp->top != nullptr) free_subtree(idp->top);
  idp->top = nullptr;
  idp->layers = 0;
}

}  // namespace ionsim::kernel
