// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Tests of the intrusive red-black tree: the shapes insertion and erasure produce, iteration in order, reverse
// order and postorder, the kernel's node-state macros and rb_replace_node(), a randomized differential test
// against std::set with the kernel's insertion idiom, and rb_check() catching injected corruption.
//
// Shapes are written as key, colour (B or R), then (left,right) when the node has a child; "-" is no child.
// "4B(2B(1R,3R),6B)" is a black 4 with a black 2 (red children 1 and 3) on the left and a black leaf 6 on the right.
// Drawings show the tree on its side: the root at the left, right subtrees above their parent, left ones below.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/kernel/rbtree.h"

namespace ionsim::kernel {
namespace {

using ::testing::ElementsAre;
using ::testing::IsNull;
using ::testing::StrEq;

struct Item {
  unsigned long key = 0;
  struct rb_node node;
};

unsigned long KeyOf(const struct rb_node* node) { return rb_entry(node, Item, node)->key; }

bool NodeLess(const struct rb_node* a, const struct rb_node* b) { return KeyOf(a) < KeyOf(b); }

// The kernel's insertion idiom: walk the links from the root comparing keys, link a red leaf, rebalance.
// Returns false, linking nothing, when the key is already in the tree.
bool Insert(struct rb_root* root, Item* item) {
  struct rb_node** link = &root->rb_node;
  struct rb_node* parent = nullptr;
  while (*link != nullptr) {
    parent = *link;
    const unsigned long key = KeyOf(parent);
    if (item->key < key) {
      link = &parent->rb_left;
    } else if (item->key > key) {
      link = &parent->rb_right;
    } else {
      return false;
    }
  }
  rb_link_node(&item->node, parent, link);
  rb_insert_color(&item->node, root);
  return true;
}

Item* Find(const struct rb_root* root, unsigned long key) {
  struct rb_node* node = root->rb_node;
  while (node != nullptr) {
    Item* item = rb_entry(node, Item, node);
    if (key < item->key) {
      node = node->rb_left;
    } else if (key > item->key) {
      node = node->rb_right;
    } else {
      return item;
    }
  }
  return nullptr;
}

std::vector<unsigned long> KeysInOrder(const struct rb_root* root) {
  std::vector<unsigned long> keys;
  for (struct rb_node* node = rb_first(root); node != nullptr; node = rb_next(node)) keys.push_back(KeyOf(node));
  return keys;
}

std::vector<unsigned long> KeysInReverse(const struct rb_root* root) {
  std::vector<unsigned long> keys;
  for (struct rb_node* node = rb_last(root); node != nullptr; node = rb_prev(node)) keys.push_back(KeyOf(node));
  return keys;
}

std::string ShapeOf(const struct rb_node* node) {
  if (node == nullptr) return "-";
  std::string shape = std::to_string(KeyOf(node)) + (rb_is_black(node) ? "B" : "R");
  if (node->rb_left != nullptr || node->rb_right != nullptr) {
    shape += "(" + ShapeOf(node->rb_left) + "," + ShapeOf(node->rb_right) + ")";
  }
  return shape;
}

std::string Shape(const struct rb_root* root) { return ShapeOf(root->rb_node); }

int Height(const struct rb_node* node) {
  if (node == nullptr) return 0;
  return 1 + std::max(Height(node->rb_left), Height(node->rb_right));
}

// Black nodes on the leftmost root-to-leaf path (equal on every path once rb_check() passes).
int BlackHeight(const struct rb_root* root) {
  int black = 0;
  for (const struct rb_node* node = root->rb_node; node != nullptr; node = node->rb_left) {
    if (rb_is_black(node)) ++black;
  }
  return black;
}

void SetColor(struct rb_node* node, unsigned long color) {
  node->__rb_parent_color = (node->__rb_parent_color & ~1UL) | color;
}

void SetParent(struct rb_node* node, struct rb_node* parent) {
  node->__rb_parent_color = reinterpret_cast<unsigned long>(parent) | rb_color(node);
}

// A tree of Items keyed 1..n, inserted in the order given.
class Tree {
 public:
  explicit Tree(int n) : items_(n + 1) {
    for (int key = 0; key <= n; ++key) {
      items_[key].key = key;
      RB_CLEAR_NODE(&items_[key].node);
    }
  }

  void InsertAll(const std::vector<unsigned long>& keys) {
    for (unsigned long key : keys) EXPECT_TRUE(Insert(&root_, &items_[key])) << key;
  }
  void Erase(unsigned long key) {
    rb_erase(node(key), &root_);
    RB_CLEAR_NODE(node(key));
  }

  struct rb_root* root() { return &root_; }
  struct rb_node* node(unsigned long key) { return &items_[key].node; }
  Item* item(unsigned long key) { return &items_[key]; }

 private:
  std::vector<Item> items_;
  struct rb_root root_ = RB_ROOT;
};

// Keys 4, 2, 6, 1, 3, 5, 7 in this order. Inserting 1 under the red 2 with a red uncle 6 recolours 2 and 6 black
// and 4 red, and the root is made black again; 3, 5 and 7 then land as red leaves under black parents.
std::vector<unsigned long> FullSevenOrder() { return {4, 2, 6, 1, 3, 5, 7}; }

// --- Insertion -------------------------------------------------------------------------------------------------

TEST(RbTreeTest, EmptyRootHasNoFirstLastOrPostorderNodeAndIsValid) {
  struct rb_root root = RB_ROOT;
  EXPECT_TRUE(RB_EMPTY_ROOT(&root));
  EXPECT_THAT(rb_first(&root), IsNull());
  EXPECT_THAT(rb_last(&root), IsNull());
  EXPECT_THAT(rb_first_postorder(&root), IsNull());
  EXPECT_THAT(rb_next_postorder(nullptr), IsNull());
  EXPECT_THAT(rb_check(&root), IsNull());
  struct rb_root value_initialised{};
  EXPECT_TRUE(RB_EMPTY_ROOT(&value_initialised));
}

TEST(RbTreeTest, FirstInsertedNodeBecomesTheBlackRoot) {
  Tree tree(1);
  tree.InsertAll({1});
  // 1B
  // Expect a single black root without a parent.
  EXPECT_EQ(Shape(tree.root()), "1B");
  EXPECT_THAT(rb_parent(tree.node(1)), IsNull());
  EXPECT_FALSE(RB_EMPTY_ROOT(tree.root()));
  EXPECT_THAT(rb_check(tree.root()), IsNull());
}

TEST(RbTreeTest, ThreeAscendingKeysRotateTheMiddleKeyToTheRoot) {
  Tree tree(3);
  tree.InsertAll({1, 2, 3});
  //     3R
  // 2B
  //     1R
  // Expect the red-red chain 1-2-3 to be rotated left at 1 with 2 recoloured black and 1 red.
  EXPECT_EQ(Shape(tree.root()), "2B(1R,3R)");
  EXPECT_EQ(rb_parent(tree.node(1)), tree.node(2));
  EXPECT_EQ(rb_parent(tree.node(3)), tree.node(2));
  EXPECT_THAT(rb_check(tree.root()), IsNull());
}

TEST(RbTreeTest, InnerGrandchildIsRotatedOutwardsThenUp) {
  Tree tree(3);
  tree.InsertAll({3, 1, 2});
  //     3R
  // 2B
  //     1R
  // Expect 2, the right child of the left child 1, to end at the root after a double rotation.
  EXPECT_EQ(Shape(tree.root()), "2B(1R,3R)");
  EXPECT_THAT(rb_check(tree.root()), IsNull());
}

TEST(RbTreeTest, RedUncleIsRecolouredInsteadOfRotated) {
  Tree tree(7);
  tree.InsertAll(FullSevenOrder());
  //         7R
  //     6B
  //         5R
  // 4B
  //         3R
  //     2B
  //         1R
  // Expect the perfect tree shape: the red uncle 6 was recoloured, nothing was rotated.
  EXPECT_EQ(Shape(tree.root()), "4B(2B(1R,3R),6B(5R,7R))");
  EXPECT_THAT(rb_check(tree.root()), IsNull());
}

TEST(RbTreeTest, DuplicateKeyIsRejectedByTheInsertionWalk) {
  Tree tree(2);
  tree.InsertAll({1, 2});
  Item duplicate{.key = 2};
  EXPECT_FALSE(Insert(tree.root(), &duplicate));
  EXPECT_THAT(KeysInOrder(tree.root()), ElementsAre(1, 2));
}

TEST(RbTreeTest, AscendingInsertsKeepTheHeightLogarithmic) {
  // An unbalanced search tree would be a list of height n here.
  constexpr int kCount = 2047;
  Tree tree(kCount);
  for (int n = 1; n <= kCount; ++n) {
    ASSERT_TRUE(Insert(tree.root(), tree.item(n)));
    ASSERT_THAT(rb_check(tree.root()), IsNull()) << "after inserting " << n;
    const double log_bound = std::log2(n + 1.0);
    // n >= 2^bh - 1 nodes for black height bh, and no path is more than twice the black height.
    ASSERT_LE(BlackHeight(tree.root()), log_bound) << n;
    ASSERT_LE(Height(tree.root()->rb_node), 2 * log_bound) << n;
  }
  EXPECT_EQ(KeysInOrder(tree.root()).size(), static_cast<size_t>(kCount));
}

TEST(RbTreeTest, DescendingInsertsKeepTheHeightLogarithmic) {
  constexpr int kCount = 2047;
  Tree tree(kCount);
  for (int n = kCount; n >= 1; --n) {
    ASSERT_TRUE(Insert(tree.root(), tree.item(n)));
    ASSERT_THAT(rb_check(tree.root()), IsNull()) << "after inserting " << n;
  }
  EXPECT_LE(Height(tree.root()->rb_node), 2 * std::log2(kCount + 1.0));
}

// --- Iteration -------------------------------------------------------------------------------------------------

TEST(RbTreeTest, NextWalksKeysAscendingAndPrevDescending) {
  Tree tree(9);
  tree.InsertAll({5, 9, 1, 7, 3, 8, 2, 6, 4});
  EXPECT_THAT(KeysInOrder(tree.root()), ElementsAre(1, 2, 3, 4, 5, 6, 7, 8, 9));
  EXPECT_THAT(KeysInReverse(tree.root()), ElementsAre(9, 8, 7, 6, 5, 4, 3, 2, 1));
  EXPECT_EQ(rb_first(tree.root()), tree.node(1));
  EXPECT_EQ(rb_last(tree.root()), tree.node(9));
  EXPECT_THAT(rb_next(tree.node(9)), IsNull());
  EXPECT_THAT(rb_prev(tree.node(1)), IsNull());
}

TEST(RbTreeTest, PostorderVisitsBothChildrenBeforeTheirParent) {
  Tree tree(7);
  tree.InsertAll(FullSevenOrder());
  std::vector<unsigned long> order;
  std::set<const struct rb_node*> visited;
  for (struct rb_node* node = rb_first_postorder(tree.root()); node != nullptr; node = rb_next_postorder(node)) {
    for (const struct rb_node* child : {node->rb_left, node->rb_right}) {
      if (child != nullptr) {
        EXPECT_TRUE(visited.count(child)) << KeyOf(child) << " after its parent " << KeyOf(node);
      }
    }
    EXPECT_TRUE(visited.insert(node).second) << "visited twice: " << KeyOf(node);
    order.push_back(KeyOf(node));
  }
  //         7R
  //     6B
  //         5R
  // 4B
  //         3R
  //     2B
  //         1R
  // Expect left subtree, right subtree, then the node: 1 3 2 5 7 6 4.
  EXPECT_THAT(order, ElementsAre(1, 3, 2, 5, 7, 6, 4));
}

TEST(RbTreeTest, PostorderDescendsRightWhenThereIsNoLeftChild) {
  Tree tree(3);
  tree.InsertAll({2, 1, 3});
  tree.Erase(1);
  //     3R
  // 2B
  // Expect the first postorder node to be 3, found through the missing left child, then 2.
  ASSERT_EQ(Shape(tree.root()), "2B(-,3R)");
  EXPECT_EQ(rb_first_postorder(tree.root()), tree.node(3));
  EXPECT_EQ(rb_next_postorder(tree.node(3)), tree.node(2));
  EXPECT_THAT(rb_next_postorder(tree.node(2)), IsNull());
}

TEST(RbTreeTest, PostorderSafeIterationMayFreeEveryEntry) {
  struct rb_root root = RB_ROOT;
  for (unsigned long key : {50, 20, 80, 10, 30, 70, 90, 60}) {
    Item* item = new Item{.key = key};
    ASSERT_TRUE(Insert(&root, item));
  }
  Item* pos = nullptr;
  Item* n = nullptr;
  std::vector<unsigned long> freed;
  rbtree_postorder_for_each_entry_safe(pos, n, &root, node) {
    freed.push_back(pos->key);
    delete pos;
  }
  // Under AddressSanitizer a read of a freed entry by the iterator would fail the test.
  EXPECT_EQ(freed.size(), 8u);
  EXPECT_EQ(freed.back(), 50u);
}

TEST(RbTreeTest, EntrySafeMapsNullToNull) {
  Item item{.key = 7};
  struct rb_node* none = nullptr;
  EXPECT_EQ(rb_entry_safe(&item.node, Item, node), &item);
  EXPECT_THAT(rb_entry_safe(none, Item, node), IsNull());
  const struct rb_node* const_node = &item.node;
  const Item* const_item = rb_entry(const_node, Item, node);
  EXPECT_EQ(const_item, &item);
}

// --- Erasure ---------------------------------------------------------------------------------------------------

TEST(RbTreeTest, ErasingARedLeafChangesNothingElse) {
  Tree tree(7);
  tree.InsertAll(FullSevenOrder());
  tree.Erase(1);
  //         7R
  //     6B
  //         5R
  // 4B
  //         3R
  //     2B
  // Expect only the leaf 1 to be gone, with no recolouring.
  EXPECT_EQ(Shape(tree.root()), "4B(2B(-,3R),6B(5R,7R))");
  EXPECT_THAT(rb_check(tree.root()), IsNull());
}

TEST(RbTreeTest, ErasingTheRootMovesItsSuccessorIntoPlaceWithTheRootsColour) {
  Tree tree(7);
  tree.InsertAll(FullSevenOrder());
  tree.Erase(4);
  //         7R
  //     6B
  // 5B
  //         3R
  //     2B
  //         1R
  // Expect the successor 5 (a red leaf) to become the black root, the same node object now holding the links.
  EXPECT_EQ(Shape(tree.root()), "5B(2B(1R,3R),6B(-,7R))");
  EXPECT_EQ(tree.root()->rb_node, tree.node(5));
  EXPECT_THAT(rb_parent(tree.node(5)), IsNull());
  EXPECT_EQ(rb_parent(tree.node(2)), tree.node(5));
  EXPECT_EQ(rb_parent(tree.node(6)), tree.node(5));
  EXPECT_THAT(rb_check(tree.root()), IsNull());
}

TEST(RbTreeTest, ErasingANodeWithTwoChildrenPromotesItsRightChildWhenThatIsTheSuccessor) {
  Tree tree(7);
  tree.InsertAll(FullSevenOrder());
  tree.Erase(2);
  //         7R
  //     6B
  //         5R
  // 4B
  //     3B
  //         1R
  // Expect 3, the right child and successor of 2, to take 2's place and colour and adopt 1.
  EXPECT_EQ(Shape(tree.root()), "4B(3B(1R,-),6B(5R,7R))");
  EXPECT_EQ(rb_parent(tree.node(1)), tree.node(3));
  EXPECT_THAT(rb_check(tree.root()), IsNull());
}

TEST(RbTreeTest, ErasingABlackLeafWithBlackNephewsRecoloursTheSibling) {
  Tree tree(6);
  tree.InsertAll({4, 2, 6, 1});
  tree.Erase(1);
  ASSERT_EQ(Shape(tree.root()), "4B(2B,6B)");
  tree.Erase(2);
  //     6R
  // 4B
  // Expect the missing black to be paid by turning the sibling 6 red; the debt reaches the root and stops.
  EXPECT_EQ(Shape(tree.root()), "4B(-,6R)");
  EXPECT_THAT(rb_check(tree.root()), IsNull());
}

TEST(RbTreeTest, ErasingABlackLeafWithARedFarNephewRotatesOnce) {
  Tree tree(7);
  tree.InsertAll(FullSevenOrder());
  tree.Erase(1);
  tree.Erase(3);
  ASSERT_EQ(Shape(tree.root()), "4B(2B,6B(5R,7R))");
  tree.Erase(2);
  //     7B
  // 6B
  //         5R
  //     4B
  // Expect a left rotation at 4: 6 takes 4's black, 4 and the far nephew 7 are black, 4 adopts the near nephew 5.
  EXPECT_EQ(Shape(tree.root()), "6B(4B(-,5R),7B)");
  EXPECT_THAT(rb_check(tree.root()), IsNull());
}

TEST(RbTreeTest, ErasingABlackLeafWithOnlyARedNearNephewRotatesTwice) {
  Tree tree(6);
  tree.InsertAll({4, 2, 6, 5});
  ASSERT_EQ(Shape(tree.root()), "4B(2B,6B(5R,-))");
  tree.Erase(2);
  //     6B
  // 5B
  //     4B
  // Expect the near nephew 5 to be rotated up twice and end at the root with 4's colour.
  EXPECT_EQ(Shape(tree.root()), "5B(4B,6B)");
  EXPECT_THAT(rb_check(tree.root()), IsNull());
}

TEST(RbTreeTest, ErasingTheLastNodeEmptiesTheRoot) {
  Tree tree(1);
  tree.InsertAll({1});
  tree.Erase(1);
  EXPECT_TRUE(RB_EMPTY_ROOT(tree.root()));
  EXPECT_THAT(rb_check(tree.root()), IsNull());
}

// --- Node state and replacement --------------------------------------------------------------------------------

TEST(RbTreeTest, ClearedNodeIsEmptyAndLinkingMakesItNonEmpty) {
  Tree tree(2);
  EXPECT_TRUE(RB_EMPTY_NODE(tree.node(1)));
  tree.InsertAll({1});
  EXPECT_FALSE(RB_EMPTY_NODE(tree.node(1)));
  RB_CLEAR_NODE(tree.node(2));
  EXPECT_TRUE(RB_EMPTY_NODE(tree.node(2)));
  EXPECT_THAT(rb_next(tree.node(2)), IsNull());
  EXPECT_THAT(rb_prev(tree.node(2)), IsNull());
}

TEST(RbTreeTest, EraseLeavesTheNodeNonEmptySoCallersMustClearIt) {
  Tree tree(3);
  tree.InsertAll({1, 2, 3});
  rb_erase(tree.node(3), tree.root());
  // The kernel's rb_erase() does not touch the erased node: it still looks linked.
  EXPECT_FALSE(RB_EMPTY_NODE(tree.node(3)));
  EXPECT_EQ(rb_parent(tree.node(3)), tree.node(2));
  RB_CLEAR_NODE(tree.node(3));
  EXPECT_TRUE(RB_EMPTY_NODE(tree.node(3)));
  EXPECT_THAT(KeysInOrder(tree.root()), ElementsAre(1, 2));
}

TEST(RbTreeTest, ErasingAClearedChildlessNodeLeavesTheTreeUnchanged) {
  Tree tree(7);
  tree.InsertAll(FullSevenOrder());
  Item stray{.key = 99};
  RB_CLEAR_NODE(&stray.node);
  // A cleared node is its own (red) parent, so unlinking it only rewrites its own NULL child link.
  rb_erase(&stray.node, tree.root());
  EXPECT_EQ(Shape(tree.root()), "4B(2B(1R,3R),6B(5R,7R))");
  EXPECT_THAT(rb_check(tree.root()), IsNull());
  EXPECT_TRUE(RB_EMPTY_NODE(&stray.node));
}

TEST(RbTreeTest, ReplaceNodeTakesOverLinksAndColourAndLeavesTheVictimAlone) {
  Tree tree(7);
  tree.InsertAll(FullSevenOrder());
  Item replacement{.key = 2};
  const struct rb_node victim_before = *tree.node(2);
  rb_replace_node(tree.node(2), &replacement.node, tree.root());
  EXPECT_EQ(tree.node(4)->rb_left, &replacement.node);
  EXPECT_EQ(rb_parent(tree.node(1)), &replacement.node);
  EXPECT_EQ(rb_parent(tree.node(3)), &replacement.node);
  EXPECT_EQ(replacement.node.__rb_parent_color, victim_before.__rb_parent_color);
  EXPECT_EQ(tree.node(2)->__rb_parent_color, victim_before.__rb_parent_color);
  EXPECT_EQ(tree.node(2)->rb_left, victim_before.rb_left);
  EXPECT_EQ(tree.node(2)->rb_right, victim_before.rb_right);
  EXPECT_THAT(rb_check_order(tree.root(), NodeLess), IsNull());
  EXPECT_EQ(Find(tree.root(), 2), &replacement);
  EXPECT_THAT(KeysInOrder(tree.root()), ElementsAre(1, 2, 3, 4, 5, 6, 7));
}

TEST(RbTreeTest, ReplacingTheRootUpdatesTheRootPointer) {
  Tree tree(3);
  tree.InsertAll({1, 2, 3});
  Item replacement{.key = 2};
  rb_replace_node(tree.node(2), &replacement.node, tree.root());
  EXPECT_EQ(tree.root()->rb_node, &replacement.node);
  EXPECT_TRUE(rb_is_black(&replacement.node));
  EXPECT_THAT(rb_check_order(tree.root(), NodeLess), IsNull());
}

TEST(RbTreeTest, ReplaceNodeDoesNotReorderSoAnOutOfOrderKeyIsCaught) {
  Tree tree(3);
  tree.InsertAll({1, 2, 3});
  Item replacement{.key = 10};
  rb_replace_node(tree.node(1), &replacement.node, tree.root());
  const struct rb_node* where = nullptr;
  EXPECT_THAT(rb_check(tree.root()), IsNull());
  EXPECT_THAT(rb_check_order(tree.root(), NodeLess, &where), StrEq("in-order sequence is not strictly increasing"));
  EXPECT_EQ(where, tree.node(2));
}

// --- Randomized differential test ------------------------------------------------------------------------------

TEST(RbTreeDifferentialTest, RandomInsertsErasesAndReplacesMatchStdSet) {
  constexpr unsigned long kKeys = 300;
  constexpr int kOps = 3000;
  for (uint32_t seed = 1; seed <= 8; ++seed) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937 rng(seed);
    // Two items per key so a present key's node can be replaced by its twin.
    std::vector<Item> items(2 * kKeys);
    std::vector<int> current(kKeys, 0);
    for (unsigned long i = 0; i < items.size(); ++i) {
      items[i].key = i / 2;
      RB_CLEAR_NODE(&items[i].node);
    }
    struct rb_root root = RB_ROOT;
    std::set<unsigned long> reference;
    for (int op = 0; op < kOps; ++op) {
      const unsigned long key = rng() % kKeys;
      const uint32_t kind = rng() % 10;
      Item* item = &items[2 * key + current[key]];
      if (kind < 5) {
        const bool inserted = reference.insert(key).second;
        if (!RB_EMPTY_NODE(&item->node)) {
          // Already linked: the walk must find the key and refuse a second node for it.
          Item* twin = &items[2 * key + 1 - current[key]];
          ASSERT_FALSE(Insert(&root, twin)) << "op " << op;
          ASSERT_FALSE(inserted) << "op " << op;
        } else {
          ASSERT_TRUE(Insert(&root, item)) << "op " << op;
          ASSERT_TRUE(inserted) << "op " << op;
        }
      } else if (kind < 9) {
        Item* found = Find(&root, key);
        ASSERT_EQ(found != nullptr, reference.erase(key) == 1) << "op " << op;
        if (found != nullptr) {
          ASSERT_EQ(found, item) << "op " << op;
          rb_erase(&found->node, &root);
          RB_CLEAR_NODE(&found->node);
        }
      } else {
        Item* found = Find(&root, key);
        ASSERT_EQ(found != nullptr, reference.count(key) == 1) << "op " << op;
        if (found != nullptr) {
          current[key] = 1 - current[key];
          Item* twin = &items[2 * key + current[key]];
          rb_replace_node(&found->node, &twin->node, &root);
          RB_CLEAR_NODE(&found->node);
        }
      }
      ASSERT_THAT(rb_check_order(&root, NodeLess), IsNull()) << "op " << op;
      ASSERT_EQ(KeysInOrder(&root), std::vector<unsigned long>(reference.begin(), reference.end())) << "op " << op;
      ASSERT_EQ(KeysInReverse(&root), std::vector<unsigned long>(reference.rbegin(), reference.rend())) << "op " << op;
    }
    // Drain in random order through lookups, as a driver tearing down its tree would.
    std::vector<unsigned long> rest(reference.begin(), reference.end());
    std::shuffle(rest.begin(), rest.end(), rng);
    for (unsigned long key : rest) {
      Item* found = Find(&root, key);
      ASSERT_NE(found, nullptr);
      rb_erase(&found->node, &root);
      reference.erase(key);
      ASSERT_THAT(rb_check_order(&root, NodeLess), IsNull());
      ASSERT_EQ(KeysInOrder(&root), std::vector<unsigned long>(reference.begin(), reference.end()));
    }
    EXPECT_TRUE(RB_EMPTY_ROOT(&root));
  }
}

// --- rb_check() on corrupted trees ------------------------------------------------------------------------------

class RbCheckTest : public ::testing::Test {
 protected:
  RbCheckTest() : tree_(7) {
    tree_.InsertAll(FullSevenOrder());
    // 4B(2B(1R,3R),6B(5R,7R)); every corruption below starts from a valid tree.
    EXPECT_THAT(rb_check(tree_.root()), IsNull());
  }

  const char* Check() { return rb_check(tree_.root(), &where_); }

  Tree tree_;
  const struct rb_node* where_ = nullptr;
};

TEST_F(RbCheckTest, ValidTreeReportsNoNode) {
  where_ = tree_.node(1);
  EXPECT_THAT(Check(), IsNull());
  EXPECT_THAT(where_, IsNull());
}

TEST_F(RbCheckTest, DetectsARedRoot) {
  SetColor(tree_.node(4), RB_RED);
  EXPECT_THAT(Check(), StrEq("root is red"));
  EXPECT_EQ(where_, tree_.node(4));
}

TEST_F(RbCheckTest, DetectsARootWithAParent) {
  SetParent(tree_.node(4), tree_.node(7));
  EXPECT_THAT(Check(), StrEq("root has a parent"));
}

TEST_F(RbCheckTest, DetectsARedNodeWithARedChild) {
  SetColor(tree_.node(6), RB_RED);
  EXPECT_THAT(Check(), StrEq("red node has a red child"));
  EXPECT_EQ(where_, tree_.node(6));
}

TEST_F(RbCheckTest, DetectsAParentPointerThatDoesNotPointBack) {
  SetParent(tree_.node(3), tree_.node(6));
  EXPECT_THAT(Check(), StrEq("child's parent pointer does not point back to its parent"));
  EXPECT_EQ(where_, tree_.node(3));
}

TEST_F(RbCheckTest, DetectsUnequalBlackHeights) {
  // 4-2-1 now crosses three black nodes while 4-2-3 crosses two.
  SetColor(tree_.node(1), RB_BLACK);
  EXPECT_THAT(Check(), StrEq("black height differs between the left and right subtrees"));
  EXPECT_EQ(where_, tree_.node(2));
}

TEST_F(RbCheckTest, DetectsACutOffBlackSubtree) {
  // Without the subtree at 2 the path 4-nil crosses one black node and 4-6-nil two.
  tree_.node(4)->rb_left = nullptr;
  EXPECT_THAT(Check(), StrEq("black height differs between the left and right subtrees"));
  EXPECT_EQ(where_, tree_.node(4));
}

TEST_F(RbCheckTest, DetectsTheSameChildOnBothSides) {
  tree_.node(2)->rb_right = tree_.node(1);
  EXPECT_THAT(Check(), StrEq("node has the same child on both sides"));
  EXPECT_EQ(where_, tree_.node(2));
}

TEST_F(RbCheckTest, DetectsACycleThroughAParentPointerCheck) {
  tree_.node(7)->rb_left = tree_.node(4);
  EXPECT_THAT(Check(), StrEq("child's parent pointer does not point back to its parent"));
  EXPECT_EQ(where_, tree_.node(4));
}

TEST_F(RbCheckTest, OrderCheckDetectsSwappedKeys) {
  tree_.item(1)->key = 3;
  tree_.item(3)->key = 1;
  EXPECT_THAT(rb_check(tree_.root()), IsNull());
  EXPECT_THAT(rb_check_order(tree_.root(), NodeLess, &where_), StrEq("in-order sequence is not strictly increasing"));
  EXPECT_EQ(where_, tree_.node(2));
}

TEST_F(RbCheckTest, OrderCheckReportsStructuralErrorsFirst) {
  SetColor(tree_.node(4), RB_RED);
  EXPECT_THAT(rb_check_order(tree_.root(), NodeLess), StrEq("root is red"));
}

}  // namespace
}  // namespace ionsim::kernel
