// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The kernel's intrusive red-black tree with the v4.4 API. A struct embeds a struct rb_node; the tree holds no
// keys and does no comparisons: the caller walks `struct rb_node** link` down from the root comparing its own
// keys, then calls rb_link_node() and rb_insert_color(). Parent pointer and colour share one word,
// __rb_parent_color, whose low bit is the colour (RB_RED = 0, RB_BLACK = 1); rb_node is aligned to a long so
// the low bits of a node address are free. A freshly linked node is red, because rb_link_node() stores the bare
// parent pointer.
//
// Kernel behaviour kept on purpose:
//   - rb_erase() leaves the erased node's fields as they were; only RB_CLEAR_NODE() marks a node as out of any
//     tree. Erasing a node twice, or a node of another tree, corrupts the tree as it would in the kernel.
//   - An "empty" node (RB_CLEAR_NODE) is its own parent. rb_next()/rb_prev() of an empty node return NULL, and
//     rb_erase() of an empty node without children changes nothing (the parent is the node itself and it is red).
//   - rb_replace_node() copies the victim's links and colour into the replacement and leaves the victim alone;
//     keeping the order is the caller's business.
//
// rb_check() and rb_check_order() are the model's own invariant checkers for tests and oracles.
#ifndef MODEL_KERNEL_RBTREE_H_
#define MODEL_KERNEL_RBTREE_H_

#include <cstddef>
#include <type_traits>

#include "model/kernel/compiler.h"

namespace ionsim::kernel {

// Mirrors include/linux/rbtree.h:struct rb_node @ v4.4.
struct alignas(sizeof(long)) rb_node {
  unsigned long __rb_parent_color = 0;
  struct rb_node* rb_right = nullptr;
  struct rb_node* rb_left = nullptr;
};

// Mirrors include/linux/rbtree.h:struct rb_root @ v4.4. A value-initialised root is the empty tree (RB_ROOT).
struct rb_root {
  struct rb_node* rb_node = nullptr;
};

// Mirrors include/linux/rbtree_augmented.h:RB_RED/RB_BLACK @ v4.4.
inline constexpr unsigned long RB_RED = 0;
inline constexpr unsigned long RB_BLACK = 1;

// Mirrors include/linux/rbtree.h:rb_parent() @ v4.4.
inline struct rb_node* rb_parent(const struct rb_node* r) {
  return reinterpret_cast<struct rb_node*>(r->__rb_parent_color & ~3UL);
}

// Mirrors include/linux/rbtree_augmented.h:rb_color() @ v4.4.
inline unsigned long rb_color(const struct rb_node* rb) { return rb->__rb_parent_color & 1; }
// Mirrors include/linux/rbtree_augmented.h:rb_is_red() @ v4.4.
inline bool rb_is_red(const struct rb_node* rb) { return rb_color(rb) == RB_RED; }
// Mirrors include/linux/rbtree_augmented.h:rb_is_black() @ v4.4.
inline bool rb_is_black(const struct rb_node* rb) { return rb_color(rb) == RB_BLACK; }

// Mirrors include/linux/rbtree.h:rb_insert_color() @ v4.4.
void rb_insert_color(struct rb_node* node, struct rb_root* root);
// Mirrors include/linux/rbtree.h:rb_erase() @ v4.4.
void rb_erase(struct rb_node* node, struct rb_root* root);

// Mirrors include/linux/rbtree.h:rb_next() @ v4.4.
struct rb_node* rb_next(const struct rb_node* node);
// Mirrors include/linux/rbtree.h:rb_prev() @ v4.4.
struct rb_node* rb_prev(const struct rb_node* node);
// Mirrors include/linux/rbtree.h:rb_first() @ v4.4.
struct rb_node* rb_first(const struct rb_root* root);
// Mirrors include/linux/rbtree.h:rb_last() @ v4.4.
struct rb_node* rb_last(const struct rb_root* root);

// Mirrors include/linux/rbtree.h:rb_first_postorder() @ v4.4.
struct rb_node* rb_first_postorder(const struct rb_root* root);
// Mirrors include/linux/rbtree.h:rb_next_postorder() @ v4.4.
struct rb_node* rb_next_postorder(const struct rb_node* node);

// Mirrors include/linux/rbtree.h:rb_replace_node() @ v4.4.
void rb_replace_node(struct rb_node* victim, struct rb_node* replacement, struct rb_root* root);

// Mirrors include/linux/rbtree.h:rb_link_node() @ v4.4.
inline void rb_link_node(struct rb_node* node, struct rb_node* parent, struct rb_node** rb_link) {
  node->__rb_parent_color = reinterpret_cast<unsigned long>(parent);
  node->rb_left = nullptr;
  node->rb_right = nullptr;
  *rb_link = node;
}

// The first violated red-black or linkage invariant of the tree, or nullptr when the tree is valid. Checked, in
// this order while walking from the root: the root has no parent; the root is black; every child's parent
// pointer points back to the node holding it; no node has the same child on both sides; no red node has a red
// child; every path from the root to a leaf crosses the same number of black nodes. When `where` is not null it
// receives the node at which the violation was found (nullptr when the tree is valid).
const char* rb_check(const struct rb_root* root, const struct rb_node** where = nullptr);

// rb_check(), then the in-order sequence (rb_first, rb_next) must be strictly increasing under `less`, a callable
// taking two `const struct rb_node*`. Returns the first violation or nullptr; `where` receives the offending
// node (for an order violation, the node that is not greater than its predecessor).
template <typename Less>
const char* rb_check_order(const struct rb_root* root, Less&& less, const struct rb_node** where = nullptr) {
  if (const char* error = rb_check(root, where)) return error;
  const struct rb_node* prev = nullptr;
  for (const struct rb_node* node = rb_first(root); node != nullptr; node = rb_next(node)) {
    if (prev != nullptr && !less(prev, node)) {
      if (where != nullptr) *where = node;
      return "in-order sequence is not strictly increasing";
    }
    prev = node;
  }
  return nullptr;
}

namespace rbtree_internal {

template <typename T, typename M>
inline auto entry_safe(M* ptr, size_t offset) {
  return ptr != nullptr ? compiler_internal::container_of_impl<T>(ptr, offset) : nullptr;
}

}  // namespace rbtree_internal

}  // namespace ionsim::kernel

// Mirrors include/linux/rbtree.h:RB_ROOT @ v4.4.
#define RB_ROOT (::ionsim::kernel::rb_root{})

// Mirrors include/linux/rbtree.h:rb_entry() @ v4.4.
#define rb_entry(ptr, type, member) container_of(ptr, type, member)

// Mirrors include/linux/rbtree.h:rb_entry_safe() @ v4.4: NULL stays NULL; ptr is evaluated once.
#define rb_entry_safe(ptr, type, member) \
  (::ionsim::kernel::rbtree_internal::entry_safe<type>((ptr), ION_OFFSETOF(type, member)))

// Mirrors include/linux/rbtree.h:RB_EMPTY_ROOT() @ v4.4.
#define RB_EMPTY_ROOT(root) ((root)->rb_node == nullptr)

// Mirrors include/linux/rbtree.h:RB_EMPTY_NODE() @ v4.4: a node known not to be in a tree is its own parent.
#define RB_EMPTY_NODE(node) ((node)->__rb_parent_color == reinterpret_cast<unsigned long>(node))

// Mirrors include/linux/rbtree.h:RB_CLEAR_NODE() @ v4.4.
#define RB_CLEAR_NODE(node) ((node)->__rb_parent_color = reinterpret_cast<unsigned long>(node))

// Mirrors include/linux/rbtree.h:rbtree_postorder_for_each_entry_safe() @ v4.4: children before parents, and
// `pos` may be freed in the body because `n` is read first.
#define rbtree_postorder_for_each_entry_safe(pos, n, root, field)                                              \
  for (pos = rb_entry_safe(::ionsim::kernel::rb_first_postorder(root), std::remove_reference_t<decltype(*pos)>, \
                           field);                                                                             \
       pos && ((n = rb_entry_safe(::ionsim::kernel::rb_next_postorder(&pos->field),                            \
                                  std::remove_reference_t<decltype(*pos)>, field)),                            \
               true);                                                                                          \
       pos = n)

#endif  // MODEL_KERNEL_RBTREE_H_
