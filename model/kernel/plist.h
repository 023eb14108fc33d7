// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Priority-sorted lists with the v4.4 API. Nodes are kept on head->node_list in ascending prio order; a node
// added with a prio already present goes after every node of that prio, so equal priorities keep insertion
// order. A second ring, prio_list, links exactly one node per distinct prio (the first one on node_list), so
// plist_add() walks distinct priorities rather than nodes. The ring is reached through the first node: the head
// has no prio_list of its own. A node that is not the first of its prio has an empty (self-linked) prio_list.
//
// ION keeps its heaps on a plist with prio = -heap->id, so ion_alloc() tries the highest heap id first.
//
// plist_check() is the model's own invariant checker, for tests and oracles. It is stricter than v4.4's
// CONFIG_DEBUG_PI_LIST plist_check_head() (which only checks prev/next consistency) and is not run inside
// plist_add()/plist_del(): v4.4 builds without CONFIG_DEBUG_PI_LIST run no check there either.
#ifndef MODEL_KERNEL_PLIST_H_
#define MODEL_KERNEL_PLIST_H_

#include "model/kernel/compiler.h"
#include "model/kernel/list.h"

namespace ionsim::kernel {

// Mirrors include/linux/plist.h:struct plist_head @ v4.4.
struct plist_head {
  struct list_head node_list;
};

// Mirrors include/linux/plist.h:struct plist_node @ v4.4.
struct plist_node {
  int prio = 0;
  struct list_head prio_list;
  struct list_head node_list;
};

// Mirrors include/linux/plist.h:PLIST_HEAD_INIT() @ v4.4.
#define PLIST_HEAD_INIT(head) \
  { LIST_HEAD_INIT((head).node_list) }
// Mirrors include/linux/plist.h:PLIST_HEAD() @ v4.4.
#define PLIST_HEAD(head) struct ::ionsim::kernel::plist_head head = PLIST_HEAD_INIT(head)
// Mirrors include/linux/plist.h:PLIST_NODE_INIT() @ v4.4.
#define PLIST_NODE_INIT(node, __prio) \
  { (__prio), LIST_HEAD_INIT((node).prio_list), LIST_HEAD_INIT((node).node_list) }

// Mirrors include/linux/plist.h:plist_head_init() @ v4.4.
inline void plist_head_init(struct plist_head* head) { INIT_LIST_HEAD(&head->node_list); }

// Mirrors include/linux/plist.h:plist_node_init() @ v4.4.
inline void plist_node_init(struct plist_node* node, int prio) {
  node->prio = prio;
  INIT_LIST_HEAD(&node->prio_list);
  INIT_LIST_HEAD(&node->node_list);
}

// Mirrors lib/plist.c:plist_add() @ v4.4.
void plist_add(struct plist_node* node, struct plist_head* head);
// Mirrors lib/plist.c:plist_del() @ v4.4.
void plist_del(struct plist_node* node, struct plist_head* head);
// Mirrors lib/plist.c:plist_requeue() @ v4.4: moves `node` behind the last node of its prio.
void plist_requeue(struct plist_node* node, struct plist_head* head);

// Mirrors include/linux/plist.h:plist_head_empty() @ v4.4.
inline bool plist_head_empty(const struct plist_head* head) { return list_empty(&head->node_list); }
// Mirrors include/linux/plist.h:plist_node_empty() @ v4.4.
inline bool plist_node_empty(const struct plist_node* node) { return list_empty(&node->node_list); }

// Mirrors include/linux/plist.h:plist_first() @ v4.4 (meaningless on an empty head, as in the kernel).
inline struct plist_node* plist_first(const struct plist_head* head) {
  return list_entry(head->node_list.next, struct plist_node, node_list);
}
// Mirrors include/linux/plist.h:plist_last() @ v4.4.
inline struct plist_node* plist_last(const struct plist_head* head) {
  return list_entry(head->node_list.prev, struct plist_node, node_list);
}

// The first violation of the plist invariants found in `head`, described, or nullptr when there is none:
// node_list and every prio_list ring have consistent prev/next links, node_list is sorted by prio, and the
// prio_list ring links exactly the first node of each distinct prio, in order. The string stays valid until
// the next call on the same thread.
const char* plist_check(const struct plist_head* head);

}  // namespace ionsim::kernel

// Mirrors include/linux/plist.h:plist_next() @ v4.4.
#define plist_next(pos) list_next_entry(pos, node_list)
// Mirrors include/linux/plist.h:plist_prev() @ v4.4.
#define plist_prev(pos) list_prev_entry(pos, node_list)

// Mirrors include/linux/plist.h:plist_first_entry() @ v4.4 (without CONFIG_DEBUG_PI_LIST).
#define plist_first_entry(head, type, member) container_of(::ionsim::kernel::plist_first(head), type, member)
// Mirrors include/linux/plist.h:plist_last_entry() @ v4.4 (without CONFIG_DEBUG_PI_LIST).
#define plist_last_entry(head, type, member) container_of(::ionsim::kernel::plist_last(head), type, member)

// Mirrors include/linux/plist.h:plist_for_each() @ v4.4.
#define plist_for_each(pos, head) list_for_each_entry(pos, &(head)->node_list, node_list)
// Mirrors include/linux/plist.h:plist_for_each_continue() @ v4.4.
#define plist_for_each_continue(pos, head) list_for_each_entry_continue(pos, &(head)->node_list, node_list)
// Mirrors include/linux/plist.h:plist_for_each_safe() @ v4.4.
#define plist_for_each_safe(pos, n, head) list_for_each_entry_safe(pos, n, &(head)->node_list, node_list)
// Mirrors include/linux/plist.h:plist_for_each_entry() @ v4.4.
#define plist_for_each_entry(pos, head, mem) list_for_each_entry(pos, &(head)->node_list, mem.node_list)
// Mirrors include/linux/plist.h:plist_for_each_entry_continue() @ v4.4.
#define plist_for_each_entry_continue(pos, head, m) list_for_each_entry_continue(pos, &(head)->node_list, m.node_list)
// Mirrors include/linux/plist.h:plist_for_each_entry_safe() @ v4.4.
#define plist_for_each_entry_safe(pos, n, head, m) list_for_each_entry_safe(pos, n, &(head)->node_list, m.node_list)

#endif  // MODEL_KERNEL_PLIST_H_
