// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "model/kernel/plist.h"

#include <cstdarg>
#include <cstdio>
#include <vector>

#include "model/kernel/bug.h"

namespace ionsim::kernel {

// Mirrors lib/plist.c:plist_add() @ v4.4.
void plist_add(struct plist_node* node, struct plist_head* head) {
  struct list_head* node_next = &head->node_list;

  WARN_ON(!plist_node_empty(node));
  WARN_ON(!list_empty(&node->prio_list));

  if (!plist_head_empty(head)) {
    // Walk the distinct priorities; stop at the first one above node->prio.
    struct plist_node* const first = plist_first(head);
    struct plist_node* iter = first;
    struct plist_node* prev = nullptr;
    do {
      if (node->prio < iter->prio) {
        node_next = &iter->node_list;
        break;
      }
      prev = iter;
      iter = list_entry(iter->prio_list.next, struct plist_node, prio_list);
    } while (iter != first);

    // A new distinct prio joins the prio ring just before the first higher one (or at the ring's end).
    if (prev == nullptr || prev->prio != node->prio) list_add_tail(&node->prio_list, &iter->prio_list);
  }
  list_add_tail(&node->node_list, node_next);
}

// Mirrors lib/plist.c:plist_del() @ v4.4.
void plist_del(struct plist_node* node, struct plist_head* head) {
  if (!list_empty(&node->prio_list)) {
    if (node->node_list.next != &head->node_list) {
      struct plist_node* next = list_entry(node->node_list.next, struct plist_node, node_list);
      // The next node takes over the prio ring slot when it has the same prio (it is off the ring then).
      if (list_empty(&next->prio_list)) list_add(&next->prio_list, &node->prio_list);
    }
    list_del_init(&node->prio_list);
  }
  list_del_init(&node->node_list);
}

// Mirrors lib/plist.c:plist_requeue() @ v4.4.
void plist_requeue(struct plist_node* node, struct plist_head* head) {
  struct list_head* node_next = &head->node_list;

  BUG_ON(plist_head_empty(head));
  BUG_ON(plist_node_empty(node));

  if (node == plist_last(head)) return;

  struct plist_node* iter = plist_next(node);
  if (node->prio != iter->prio) return;

  plist_del(node, head);

  plist_for_each_continue(iter, head) {
    if (node->prio != iter->prio) {
      node_next = &iter->node_list;
      break;
    }
  }
  list_add_tail(&node->node_list, node_next);
}

namespace {

const char* describe(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

const char* describe(const char* fmt, ...) {
  thread_local char buf[256];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  return buf;
}

bool unusable(const struct list_head* p) { return p == nullptr || list_internal::is_poison(p); }

}  // namespace

const char* plist_check(const struct plist_head* head) {
  const struct list_head* const top = &head->node_list;
  if (unusable(top->next) || unusable(top->prev)) {
    return describe("node_list: head %p has next %p, prev %p", static_cast<const void*>(top),
                    static_cast<const void*>(top->next), static_cast<const void*>(top->prev));
  }

  // node_list: a ring through the head with matching prev/next. Checking n->prev == p at every step makes the
  // walk injective (a revisited node would need two predecessors), so it ends at the head or at a bad link.
  std::vector<const struct plist_node*> nodes;
  for (const struct list_head* p = top;;) {
    const struct list_head* n = p->next;
    if (unusable(n)) {
      return describe("node_list: %p->next is %p", static_cast<const void*>(p), static_cast<const void*>(n));
    }
    if (n->prev != p) {
      return describe("node_list: %p->next->prev is %p, expected %p", static_cast<const void*>(p),
                      static_cast<const void*>(n->prev), static_cast<const void*>(p));
    }
    if (n == top) break;
    nodes.push_back(list_entry(n, struct plist_node, node_list));
    p = n;
  }

  // Ascending prio along node_list.
  for (size_t i = 1; i < nodes.size(); ++i) {
    if (nodes[i - 1]->prio > nodes[i]->prio) {
      return describe("node_list: node %p (prio %d) follows node %p (prio %d)", static_cast<const void*>(nodes[i]),
                      nodes[i]->prio, static_cast<const void*>(nodes[i - 1]), nodes[i - 1]->prio);
    }
  }

  // The first node of each distinct prio, in node_list order: exactly the prio ring.
  std::vector<const struct plist_node*> firsts;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const bool is_first = i == 0 || nodes[i - 1]->prio != nodes[i]->prio;
    const struct list_head* pl = &nodes[i]->prio_list;
    if (is_first) {
      firsts.push_back(nodes[i]);
    } else if (pl->next != pl || pl->prev != pl) {
      return describe("prio_list: node %p (prio %d) is not the first of its prio but its prio_list is linked",
                      static_cast<const void*>(nodes[i]), nodes[i]->prio);
    }
  }
  for (size_t k = 0; k < firsts.size(); ++k) {
    const struct list_head* cur = &firsts[k]->prio_list;
    const struct plist_node* want = firsts[(k + 1) % firsts.size()];
    const struct list_head* n = cur->next;
    if (unusable(n)) {
      return describe("prio_list: node %p (prio %d) has prio_list.next %p", static_cast<const void*>(firsts[k]),
                      firsts[k]->prio, static_cast<const void*>(n));
    }
    if (n != &want->prio_list) {
      return describe("prio_list: after node %p (prio %d) comes %p, expected node %p (prio %d)",
                      static_cast<const void*>(firsts[k]), firsts[k]->prio, static_cast<const void*>(n),
                      static_cast<const void*>(want), want->prio);
    }
    if (n->prev != cur) {
      return describe("prio_list: node %p (prio %d) has prio_list.prev %p, expected %p", static_cast<const void*>(want),
                      want->prio, static_cast<const void*>(n->prev), static_cast<const void*>(cur));
    }
  }
  return nullptr;
}

}  // namespace ionsim::kernel
