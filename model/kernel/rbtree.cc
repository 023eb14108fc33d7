// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Red-black balancing in terms of the packed parent/colour word. Insertion links a red leaf and repairs red-red
// violations upwards (recolour while the uncle is red, otherwise one or two rotations). Erasure unlinks the node
// (a node with two children is replaced in place by its in-order successor, which takes over its colour, since
// the tree cannot move keys between nodes) and, when a black node left the tree, repairs the missing black on
// the path through the removed position ("double black") with the sibling cases.
#include "model/kernel/rbtree.h"

namespace ionsim::kernel {
namespace {

void set_parent(struct rb_node* node, struct rb_node* parent) {
  node->__rb_parent_color = reinterpret_cast<unsigned long>(parent) | rb_color(node);
}

void set_color(struct rb_node* node, unsigned long color) {
  node->__rb_parent_color = (node->__rb_parent_color & ~1UL) | color;
}

// A NULL leaf counts as black.
bool is_red_node(const struct rb_node* node) { return node != nullptr && rb_is_red(node); }

// Makes `replacement` take the place of `old` below `parent` (or as the root when parent is NULL).
void change_child(struct rb_node* old, struct rb_node* replacement, struct rb_node* parent, struct rb_root* root) {
  if (parent == nullptr) {
    root->rb_node = replacement;
  } else if (parent->rb_left == old) {
    parent->rb_left = replacement;
  } else {
    parent->rb_right = replacement;
  }
}

// x's right child y takes x's place; x becomes y's left child and takes over y's former left subtree. In-order
// sequence and the colours are unchanged.
void rotate_left(struct rb_node* x, struct rb_root* root) {
  struct rb_node* y = x->rb_right;
  struct rb_node* parent = rb_parent(x);
  x->rb_right = y->rb_left;
  if (y->rb_left != nullptr) set_parent(y->rb_left, x);
  y->rb_left = x;
  set_parent(y, parent);
  set_parent(x, y);
  change_child(x, y, parent, root);
}

// The mirror image of rotate_left().
void rotate_right(struct rb_node* x, struct rb_root* root) {
  struct rb_node* y = x->rb_left;
  struct rb_node* parent = rb_parent(x);
  x->rb_left = y->rb_right;
  if (y->rb_right != nullptr) set_parent(y->rb_right, x);
  y->rb_right = x;
  set_parent(y, parent);
  set_parent(x, y);
  change_child(x, y, parent, root);
}

// One more black is owed on every path through `node` (NULL for an empty leaf position) below `parent`.
void erase_fixup(struct rb_node* node, struct rb_node* parent, struct rb_root* root) {
  while (node != root->rb_node && !is_red_node(node)) {
    if (node == parent->rb_left) {
      struct rb_node* sibling = parent->rb_right;
      if (rb_is_red(sibling)) {
        // A red sibling: rotate it above the parent so the new sibling is black.
        set_color(sibling, RB_BLACK);
        set_color(parent, RB_RED);
        rotate_left(parent, root);
        sibling = parent->rb_right;
      }
      if (!is_red_node(sibling->rb_left) && !is_red_node(sibling->rb_right)) {
        // Both nephews black: take one black off the sibling's side and push the debt up.
        set_color(sibling, RB_RED);
        node = parent;
        parent = rb_parent(node);
        continue;
      }
      if (!is_red_node(sibling->rb_right)) {
        // Only the near nephew is red: turn it into the far one.
        set_color(sibling->rb_left, RB_BLACK);
        set_color(sibling, RB_RED);
        rotate_right(sibling, root);
        sibling = parent->rb_right;
      }
      // The far nephew is red: one rotation settles the debt.
      set_color(sibling, rb_color(parent));
      set_color(parent, RB_BLACK);
      set_color(sibling->rb_right, RB_BLACK);
      rotate_left(parent, root);
      node = root->rb_node;
      break;
    }
    struct rb_node* sibling = parent->rb_left;
    if (rb_is_red(sibling)) {
      set_color(sibling, RB_BLACK);
      set_color(parent, RB_RED);
      rotate_right(parent, root);
      sibling = parent->rb_left;
    }
    if (!is_red_node(sibling->rb_left) && !is_red_node(sibling->rb_right)) {
      set_color(sibling, RB_RED);
      node = parent;
      parent = rb_parent(node);
      continue;
    }
    if (!is_red_node(sibling->rb_left)) {
      set_color(sibling->rb_right, RB_BLACK);
      set_color(sibling, RB_RED);
      rotate_left(sibling, root);
      sibling = parent->rb_left;
    }
    set_color(sibling, rb_color(parent));
    set_color(parent, RB_BLACK);
    set_color(sibling->rb_left, RB_BLACK);
    rotate_right(parent, root);
    node = root->rb_node;
    break;
  }
  if (node != nullptr) set_color(node, RB_BLACK);
}

struct rb_node* leftmost(struct rb_node* node) {
  while (node->rb_left != nullptr) node = node->rb_left;
  return node;
}

struct rb_node* rightmost(struct rb_node* node) {
  while (node->rb_right != nullptr) node = node->rb_right;
  return node;
}

// Descends to the first node in postorder: left when possible, else right, until a leaf.
struct rb_node* left_deepest(struct rb_node* node) {
  for (;;) {
    if (node->rb_left != nullptr) {
      node = node->rb_left;
    } else if (node->rb_right != nullptr) {
      node = node->rb_right;
    } else {
      return node;
    }
  }
}

// The black height of the subtree at `node` (a NULL leaf counts 1), or -1 after storing the first violation.
int check_subtree(const struct rb_node* node, const char** error, const struct rb_node** where) {
  if (node == nullptr) return 1;
  if (node->rb_left != nullptr && node->rb_left == node->rb_right) {
    *error = "node has the same child on both sides";
    *where = node;
    return -1;
  }
  const struct rb_node* const children[] = {node->rb_left, node->rb_right};
  for (const struct rb_node* child : children) {
    if (child == nullptr) continue;
    if (rb_parent(child) != node) {
      *error = "child's parent pointer does not point back to its parent";
      *where = child;
      return -1;
    }
    if (rb_is_red(node) && rb_is_red(child)) {
      *error = "red node has a red child";
      *where = node;
      return -1;
    }
  }
  const int left = check_subtree(node->rb_left, error, where);
  if (left < 0) return -1;
  const int right = check_subtree(node->rb_right, error, where);
  if (right < 0) return -1;
  if (left != right) {
    *error = "black height differs between the left and right subtrees";
    *where = node;
    return -1;
  }
  return left + (rb_is_black(node) ? 1 : 0);
}

}  // namespace

// Mirrors lib/rbtree.c:rb_insert_color() @ v4.4.
void rb_insert_color(struct rb_node* node, struct rb_root* root) {
  for (;;) {
    struct rb_node* parent = rb_parent(node);
    if (parent == nullptr || rb_is_black(parent)) break;
    // A red parent is never the root, so the grandparent exists (and is black).
    struct rb_node* gparent = rb_parent(parent);
    const bool parent_is_left = parent == gparent->rb_left;
    struct rb_node* uncle = parent_is_left ? gparent->rb_right : gparent->rb_left;
    if (is_red_node(uncle)) {
      // Red uncle: push the grandparent's black down one level and continue from the grandparent.
      set_color(parent, RB_BLACK);
      set_color(uncle, RB_BLACK);
      set_color(gparent, RB_RED);
      node = gparent;
      continue;
    }
    if (parent_is_left) {
      if (node == parent->rb_right) {
        // Inner grandchild: rotate it outwards first.
        rotate_left(parent, root);
        parent = node;
      }
      set_color(parent, RB_BLACK);
      set_color(gparent, RB_RED);
      rotate_right(gparent, root);
    } else {
      if (node == parent->rb_left) {
        rotate_right(parent, root);
        parent = node;
      }
      set_color(parent, RB_BLACK);
      set_color(gparent, RB_RED);
      rotate_left(gparent, root);
    }
    break;
  }
  set_color(root->rb_node, RB_BLACK);
}

// Mirrors lib/rbtree.c:rb_erase() @ v4.4.
void rb_erase(struct rb_node* node, struct rb_root* root) {
  struct rb_node* child;        // what now sits where a node left the tree
  struct rb_node* parent;       // the parent of that position
  bool removed_black;           // whether that position lost a black node
  if (node->rb_left == nullptr || node->rb_right == nullptr) {
    child = node->rb_left != nullptr ? node->rb_left : node->rb_right;
    parent = rb_parent(node);
    removed_black = rb_is_black(node);
    change_child(node, child, parent, root);
    if (child != nullptr) set_parent(child, parent);
  } else {
    // The successor leaves its own position and takes over the node's links and colour.
    struct rb_node* successor = leftmost(node->rb_right);
    child = successor->rb_right;
    removed_black = rb_is_black(successor);
    if (successor == node->rb_right) {
      parent = successor;
    } else {
      parent = rb_parent(successor);
      parent->rb_left = child;
      if (child != nullptr) set_parent(child, parent);
      successor->rb_right = node->rb_right;
      set_parent(node->rb_right, successor);
    }
    successor->rb_left = node->rb_left;
    set_parent(node->rb_left, successor);
    change_child(node, successor, rb_parent(node), root);
    successor->__rb_parent_color = node->__rb_parent_color;
  }
  if (removed_black) erase_fixup(child, parent, root);
}

// Mirrors lib/rbtree.c:rb_first() @ v4.4.
struct rb_node* rb_first(const struct rb_root* root) {
  return root->rb_node == nullptr ? nullptr : leftmost(root->rb_node);
}

// Mirrors lib/rbtree.c:rb_last() @ v4.4.
struct rb_node* rb_last(const struct rb_root* root) {
  return root->rb_node == nullptr ? nullptr : rightmost(root->rb_node);
}

// Mirrors lib/rbtree.c:rb_next() @ v4.4: NULL for an empty (cleared) node.
struct rb_node* rb_next(const struct rb_node* node) {
  if (RB_EMPTY_NODE(node)) return nullptr;
  if (node->rb_right != nullptr) return leftmost(node->rb_right);
  // Climb while coming from a right child; the first ancestor reached from the left is next.
  struct rb_node* parent = rb_parent(node);
  while (parent != nullptr && node == parent->rb_right) {
    node = parent;
    parent = rb_parent(node);
  }
  return parent;
}

// Mirrors lib/rbtree.c:rb_prev() @ v4.4: NULL for an empty (cleared) node.
struct rb_node* rb_prev(const struct rb_node* node) {
  if (RB_EMPTY_NODE(node)) return nullptr;
  if (node->rb_left != nullptr) return rightmost(node->rb_left);
  struct rb_node* parent = rb_parent(node);
  while (parent != nullptr && node == parent->rb_left) {
    node = parent;
    parent = rb_parent(node);
  }
  return parent;
}

// Mirrors lib/rbtree.c:rb_first_postorder() @ v4.4.
struct rb_node* rb_first_postorder(const struct rb_root* root) {
  return root->rb_node == nullptr ? nullptr : left_deepest(root->rb_node);
}

// Mirrors lib/rbtree.c:rb_next_postorder() @ v4.4: NULL in, NULL out.
struct rb_node* rb_next_postorder(const struct rb_node* node) {
  if (node == nullptr) return nullptr;
  struct rb_node* parent = rb_parent(node);
  // From a left child with a right sibling, the sibling's subtree comes next; otherwise the parent.
  if (parent != nullptr && node == parent->rb_left && parent->rb_right != nullptr) {
    return left_deepest(parent->rb_right);
  }
  return parent;
}

// Mirrors lib/rbtree.c:rb_replace_node() @ v4.4: the victim's fields are left untouched.
void rb_replace_node(struct rb_node* victim, struct rb_node* replacement, struct rb_root* root) {
  change_child(victim, replacement, rb_parent(victim), root);
  if (victim->rb_left != nullptr) set_parent(victim->rb_left, replacement);
  if (victim->rb_right != nullptr) set_parent(victim->rb_right, replacement);
  *replacement = *victim;
}

const char* rb_check(const struct rb_root* root, const struct rb_node** where) {
  const struct rb_node* unused = nullptr;
  if (where == nullptr) where = &unused;
  *where = nullptr;
  const struct rb_node* top = root->rb_node;
  if (top == nullptr) return nullptr;
  if (rb_parent(top) != nullptr) {
    *where = top;
    return "root has a parent";
  }
  if (!rb_is_black(top)) {
    *where = top;
    return "root is red";
  }
  const char* error = nullptr;
  check_subtree(top, &error, where);
  return error;
}

}  // namespace ionsim::kernel
