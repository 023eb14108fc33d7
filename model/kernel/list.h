// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The kernel's intrusive circular doubly linked list with the v4.4 API, built as with CONFIG_DEBUG_LIST=y: the
// entry points that lib/list_debug.c replaces (__list_add, __list_del_entry, list_del) carry its checks and its
// exact WARN messages. A struct embeds a struct list_head; an empty list is a head that points at itself.
//
// Kernel behaviour kept on purpose:
//   - __list_add() WARNs on each inconsistency it sees (next->prev != prev, prev->next != next, a double add)
//     and links the entry anyway, as v4.4 does.
//   - __list_del_entry() WARNs on the first inconsistency (a poisoned next or prev, prev->next != entry,
//     next->prev != entry) and then leaves the list alone.
//   - list_del() poisons the entry with LIST_POISON1/LIST_POISON2 even when the unlink was refused, so a second
//     list_del() of the same entry is reported as "->next is LIST_POISON1".
//   - list_replace(), list_splice() and friends are unchecked inline pointer surgery, as in the kernel.
//
// The poison values are the x86_64 ones (0x100/0x200 + POISON_POINTER_DELTA). They are recognisable in a WARN
// message and are never dereferenced by this code: where the kernel would touch memory through a NULL or
// poisoned pointer (and oops), the model stops with "unable to handle kernel ..." through the BUG machinery.
//
// The iteration macros name the element type with decltype where the kernel uses typeof.
#ifndef MODEL_KERNEL_LIST_H_
#define MODEL_KERNEL_LIST_H_

#include <cstdint>
#include <type_traits>

#include "model/kernel/bug.h"
#include "model/kernel/compiler.h"

namespace ionsim::kernel {

// Mirrors include/linux/types.h:struct list_head @ v4.4. A value-initialised list_head holds NULL pointers, as
// a kzalloc'd one does in the kernel; it must go through INIT_LIST_HEAD() or LIST_HEAD_INIT() before use.
struct list_head {
  struct list_head* next = nullptr;
  struct list_head* prev = nullptr;
};

// Mirrors include/linux/poison.h:POISON_POINTER_DELTA @ v4.4 (CONFIG_ILLEGAL_POINTER_VALUE on x86_64).
inline constexpr uintptr_t POISON_POINTER_DELTA = static_cast<uintptr_t>(0xdead000000000000ULL);

namespace list_internal {

inline constexpr uintptr_t kPoison1 = 0x00100100u;
inline constexpr uintptr_t kPoison2 = 0x00200200u;

inline bool is_poison(const struct list_head* p) {
  const uintptr_t v = reinterpret_cast<uintptr_t>(p);
  return v == kPoison1 + POISON_POINTER_DELTA || v == kPoison2 + POISON_POINTER_DELTA;
}

// The model's stand-in for the oops the kernel takes when it dereferences a NULL or poisoned list pointer.
inline void check_deref(const struct list_head* p, const char* function) {
  if (p == nullptr) {
    ::ionsim::kernel::bug_slowpath(__FILE__, __LINE__, function,
                                   "BUG: unable to handle kernel NULL pointer dereference at %p",
                                   static_cast<const void*>(p));
  }
  if (is_poison(p)) {
    ::ionsim::kernel::bug_slowpath(__FILE__, __LINE__, function, "BUG: unable to handle kernel paging request at %p",
                                   static_cast<const void*>(p));
  }
}

}  // namespace list_internal

// Mirrors include/linux/poison.h:LIST_POISON1 @ v4.4.
#define LIST_POISON1                                                                                 \
  (reinterpret_cast<struct ::ionsim::kernel::list_head*>(::ionsim::kernel::list_internal::kPoison1 + \
                                                         ::ionsim::kernel::POISON_POINTER_DELTA))
// Mirrors include/linux/poison.h:LIST_POISON2 @ v4.4.
#define LIST_POISON2                                                                                 \
  (reinterpret_cast<struct ::ionsim::kernel::list_head*>(::ionsim::kernel::list_internal::kPoison2 + \
                                                         ::ionsim::kernel::POISON_POINTER_DELTA))

// Mirrors include/linux/list.h:LIST_HEAD_INIT() @ v4.4. __builtin_addressof is &: clang's self-initialisation
// warning takes &(x).member inside x's own initialiser for a read, which PLIST_HEAD_INIT() would trigger.
#define LIST_HEAD_INIT(name) \
  { __builtin_addressof(name), __builtin_addressof(name) }
// Mirrors include/linux/list.h:LIST_HEAD() @ v4.4.
#define LIST_HEAD(name) struct ::ionsim::kernel::list_head name = LIST_HEAD_INIT(name)

// Mirrors include/linux/list.h:INIT_LIST_HEAD() @ v4.4.
inline void INIT_LIST_HEAD(struct list_head* list) {
  list->next = list;
  list->prev = list;
}

// Mirrors lib/list_debug.c:__list_add() @ v4.4.
inline void __list_add(struct list_head* new_entry, struct list_head* prev, struct list_head* next) {
  list_internal::check_deref(next, __func__);
  list_internal::check_deref(prev, __func__);
  WARN(next->prev != prev, "list_add corruption. next->prev should be prev (%p), but was %p. (next=%p).",
       static_cast<void*>(prev), static_cast<void*>(next->prev), static_cast<void*>(next));
  WARN(prev->next != next, "list_add corruption. prev->next should be next (%p), but was %p. (prev=%p).",
       static_cast<void*>(next), static_cast<void*>(prev->next), static_cast<void*>(prev));
  WARN(new_entry == prev || new_entry == next, "list_add double add: new=%p, prev=%p, next=%p.",
       static_cast<void*>(new_entry), static_cast<void*>(prev), static_cast<void*>(next));
  next->prev = new_entry;
  new_entry->next = next;
  new_entry->prev = prev;
  prev->next = new_entry;
}

// Mirrors include/linux/list.h:list_add() @ v4.4.
inline void list_add(struct list_head* new_entry, struct list_head* head) {
  list_internal::check_deref(head, __func__);
  __list_add(new_entry, head, head->next);
}

// Mirrors include/linux/list.h:list_add_tail() @ v4.4.
inline void list_add_tail(struct list_head* new_entry, struct list_head* head) {
  list_internal::check_deref(head, __func__);
  __list_add(new_entry, head->prev, head);
}

// Mirrors include/linux/list.h:__list_del() @ v4.4.
inline void __list_del(struct list_head* prev, struct list_head* next) {
  list_internal::check_deref(next, __func__);
  list_internal::check_deref(prev, __func__);
  next->prev = prev;
  prev->next = next;
}

// Mirrors lib/list_debug.c:__list_del_entry() @ v4.4.
inline void __list_del_entry(struct list_head* entry) {
  struct list_head* prev = entry->prev;
  struct list_head* next = entry->next;
  if (WARN(next == LIST_POISON1, "list_del corruption, %p->next is LIST_POISON1 (%p)", static_cast<void*>(entry),
           static_cast<void*>(LIST_POISON1)) ||
      WARN(prev == LIST_POISON2, "list_del corruption, %p->prev is LIST_POISON2 (%p)", static_cast<void*>(entry),
           static_cast<void*>(LIST_POISON2))) {
    return;
  }
  list_internal::check_deref(prev, __func__);
  list_internal::check_deref(next, __func__);
  if (WARN(prev->next != entry, "list_del corruption. prev->next should be %p, but was %p", static_cast<void*>(entry),
           static_cast<void*>(prev->next)) ||
      WARN(next->prev != entry, "list_del corruption. next->prev should be %p, but was %p", static_cast<void*>(entry),
           static_cast<void*>(next->prev))) {
    return;
  }
  __list_del(prev, next);
}

// Mirrors lib/list_debug.c:list_del() @ v4.4.
inline void list_del(struct list_head* entry) {
  __list_del_entry(entry);
  entry->next = LIST_POISON1;
  entry->prev = LIST_POISON2;
}

// Mirrors include/linux/list.h:list_replace() @ v4.4.
inline void list_replace(struct list_head* old_entry, struct list_head* new_entry) {
  list_internal::check_deref(old_entry->next, __func__);
  list_internal::check_deref(old_entry->prev, __func__);
  new_entry->next = old_entry->next;
  new_entry->next->prev = new_entry;
  new_entry->prev = old_entry->prev;
  new_entry->prev->next = new_entry;
}

// Mirrors include/linux/list.h:list_replace_init() @ v4.4.
inline void list_replace_init(struct list_head* old_entry, struct list_head* new_entry) {
  list_replace(old_entry, new_entry);
  INIT_LIST_HEAD(old_entry);
}

// Mirrors include/linux/list.h:list_del_init() @ v4.4.
inline void list_del_init(struct list_head* entry) {
  __list_del_entry(entry);
  INIT_LIST_HEAD(entry);
}

// Mirrors include/linux/list.h:list_move() @ v4.4.
inline void list_move(struct list_head* list, struct list_head* head) {
  __list_del_entry(list);
  list_add(list, head);
}

// Mirrors include/linux/list.h:list_move_tail() @ v4.4.
inline void list_move_tail(struct list_head* list, struct list_head* head) {
  __list_del_entry(list);
  list_add_tail(list, head);
}

// Mirrors include/linux/list.h:list_is_last() @ v4.4.
inline bool list_is_last(const struct list_head* list, const struct list_head* head) { return list->next == head; }

// Mirrors include/linux/list.h:list_empty() @ v4.4.
inline bool list_empty(const struct list_head* head) { return head->next == head; }

// Mirrors include/linux/list.h:list_empty_careful() @ v4.4.
inline bool list_empty_careful(const struct list_head* head) {
  const struct list_head* next = head->next;
  return next == head && next == head->prev;
}

// Mirrors include/linux/list.h:list_rotate_left() @ v4.4.
inline void list_rotate_left(struct list_head* head) {
  if (!list_empty(head)) list_move_tail(head->next, head);
}

// Mirrors include/linux/list.h:list_is_singular() @ v4.4.
inline bool list_is_singular(const struct list_head* head) { return !list_empty(head) && head->next == head->prev; }

// Mirrors include/linux/list.h:__list_cut_position() @ v4.4.
inline void __list_cut_position(struct list_head* list, struct list_head* head, struct list_head* entry) {
  struct list_head* new_first = entry->next;
  list->next = head->next;
  list->next->prev = list;
  list->prev = entry;
  entry->next = list;
  head->next = new_first;
  new_first->prev = head;
}

// Mirrors include/linux/list.h:list_cut_position() @ v4.4: moves head's entries up to and including `entry`
// onto `list` (whose old contents are dropped).
inline void list_cut_position(struct list_head* list, struct list_head* head, struct list_head* entry) {
  if (list_empty(head)) return;
  if (list_is_singular(head) && head->next != entry && head != entry) return;
  if (entry == head) {
    INIT_LIST_HEAD(list);
  } else {
    __list_cut_position(list, head, entry);
  }
}

// Mirrors include/linux/list.h:__list_splice() @ v4.4.
inline void __list_splice(const struct list_head* list, struct list_head* prev, struct list_head* next) {
  struct list_head* first = list->next;
  struct list_head* last = list->prev;
  first->prev = prev;
  prev->next = first;
  last->next = next;
  next->prev = last;
}

// Mirrors include/linux/list.h:list_splice() @ v4.4: `list`'s entries go to the front of `head`; `list` itself
// is left pointing at them.
inline void list_splice(const struct list_head* list, struct list_head* head) {
  if (!list_empty(list)) __list_splice(list, head, head->next);
}

// Mirrors include/linux/list.h:list_splice_tail() @ v4.4.
inline void list_splice_tail(struct list_head* list, struct list_head* head) {
  if (!list_empty(list)) __list_splice(list, head->prev, head);
}

// Mirrors include/linux/list.h:list_splice_init() @ v4.4.
inline void list_splice_init(struct list_head* list, struct list_head* head) {
  if (!list_empty(list)) {
    __list_splice(list, head, head->next);
    INIT_LIST_HEAD(list);
  }
}

// Mirrors include/linux/list.h:list_splice_tail_init() @ v4.4.
inline void list_splice_tail_init(struct list_head* list, struct list_head* head) {
  if (!list_empty(list)) {
    __list_splice(list, head->prev, head);
    INIT_LIST_HEAD(list);
  }
}

}  // namespace ionsim::kernel

// The element type a cursor `pos` points at (the kernel's typeof(*pos)).
#define ION_LIST_ENTRY_TYPE(pos) std::remove_pointer_t<decltype(pos)>

// Mirrors include/linux/list.h:list_entry() @ v4.4.
#define list_entry(ptr, type, member) container_of(ptr, type, member)
// Mirrors include/linux/list.h:list_first_entry() @ v4.4.
#define list_first_entry(ptr, type, member) list_entry((ptr)->next, type, member)
// Mirrors include/linux/list.h:list_last_entry() @ v4.4.
#define list_last_entry(ptr, type, member) list_entry((ptr)->prev, type, member)
// Mirrors include/linux/list.h:list_first_entry_or_null() @ v4.4.
#define list_first_entry_or_null(ptr, type, member) \
  (!::ionsim::kernel::list_empty(ptr) ? list_first_entry(ptr, type, member) : nullptr)
// Mirrors include/linux/list.h:list_next_entry() @ v4.4.
#define list_next_entry(pos, member) list_entry((pos)->member.next, ION_LIST_ENTRY_TYPE(pos), member)
// Mirrors include/linux/list.h:list_prev_entry() @ v4.4.
#define list_prev_entry(pos, member) list_entry((pos)->member.prev, ION_LIST_ENTRY_TYPE(pos), member)

// Mirrors include/linux/list.h:list_for_each() @ v4.4.
#define list_for_each(pos, head) for (pos = (head)->next; pos != (head); pos = pos->next)
// Mirrors include/linux/list.h:list_for_each_prev() @ v4.4.
#define list_for_each_prev(pos, head) for (pos = (head)->prev; pos != (head); pos = pos->prev)
// Mirrors include/linux/list.h:list_for_each_safe() @ v4.4.
#define list_for_each_safe(pos, n, head) for (pos = (head)->next, n = pos->next; pos != (head); pos = n, n = pos->next)
// Mirrors include/linux/list.h:list_for_each_prev_safe() @ v4.4.
#define list_for_each_prev_safe(pos, n, head) \
  for (pos = (head)->prev, n = pos->prev; pos != (head); pos = n, n = pos->prev)

// Mirrors include/linux/list.h:list_for_each_entry() @ v4.4.
#define list_for_each_entry(pos, head, member)                                                 \
  for (pos = list_first_entry(head, ION_LIST_ENTRY_TYPE(pos), member); &pos->member != (head); \
       pos = list_next_entry(pos, member))
// Mirrors include/linux/list.h:list_for_each_entry_reverse() @ v4.4.
#define list_for_each_entry_reverse(pos, head, member)                                        \
  for (pos = list_last_entry(head, ION_LIST_ENTRY_TYPE(pos), member); &pos->member != (head); \
       pos = list_prev_entry(pos, member))
// Mirrors include/linux/list.h:list_for_each_entry_continue() @ v4.4.
#define list_for_each_entry_continue(pos, head, member) \
  for (pos = list_next_entry(pos, member); &pos->member != (head); pos = list_next_entry(pos, member))
// Mirrors include/linux/list.h:list_for_each_entry_from() @ v4.4.
#define list_for_each_entry_from(pos, head, member) for (; &pos->member != (head); pos = list_next_entry(pos, member))
// Mirrors include/linux/list.h:list_for_each_entry_safe() @ v4.4.
#define list_for_each_entry_safe(pos, n, head, member)                                                   \
  for (pos = list_first_entry(head, ION_LIST_ENTRY_TYPE(pos), member), n = list_next_entry(pos, member); \
       &pos->member != (head); pos = n, n = list_next_entry(n, member))
// Mirrors include/linux/list.h:list_for_each_entry_safe_reverse() @ v4.4.
#define list_for_each_entry_safe_reverse(pos, n, head, member)                                          \
  for (pos = list_last_entry(head, ION_LIST_ENTRY_TYPE(pos), member), n = list_prev_entry(pos, member); \
       &pos->member != (head); pos = n, n = list_prev_entry(n, member))

#endif  // MODEL_KERNEL_LIST_H_
