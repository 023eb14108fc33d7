// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Tests of list_head (include/linux/list.h with lib/list_debug.c's checks) and plist (lib/plist.c): scenario
// tests of each operation and macro, the CONFIG_DEBUG_LIST WARNs with their exact v4.4 text, plist ordering and
// its two-list structure, plist_check() against injected corruption, the ION heap order, and randomized
// differential tests against plain std containers.
#include "model/kernel/list.h"

#include <algorithm>
#include <climits>
#include <cstdarg>
#include <cstdio>
#include <deque>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/kernel/bug.h"
#include "model/kernel/plist.h"

namespace ionsim::kernel {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::IsNull;
using ::testing::NotNull;

std::string Format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string Format(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  return buf;
}

// The messages of the recorded WARNs, oldest first.
std::vector<std::string> WarnMessages() {
  std::vector<std::string> out;
  for (const BugEvent& e : bug_events()) {
    if (e.kind == BugKind::kWarn) out.push_back(e.message);
  }
  return out;
}

struct item {
  int value = 0;
  struct list_head link;
};

// The values along head's next pointers, checking every prev pointer on the way.
std::vector<int> Values(const struct list_head* head) {
  std::vector<int> out;
  const struct list_head* prev = head;
  for (const struct list_head* p = head->next; p != head; p = p->next) {
    EXPECT_EQ(p->prev, prev) << "broken prev link at position " << out.size();
    out.push_back(list_entry(p, struct item, link)->value);
    prev = p;
  }
  EXPECT_EQ(head->prev, prev);
  return out;
}

std::vector<int> ValuesBackwards(const struct list_head* head) {
  std::vector<int> out;
  for (const struct list_head* p = head->prev; p != head; p = p->prev) {
    out.push_back(list_entry(p, struct item, link)->value);
  }
  return out;
}

class ListTest : public ::testing::Test {
 protected:
  void SetUp() override { set_bug_printing(false); }
  void TearDown() override { set_bug_printing(true); }

  // Items 0..n-1 appended to head in order.
  void Fill(struct list_head* head, std::vector<item>& items) {
    for (size_t i = 0; i < items.size(); ++i) {
      items[i].value = static_cast<int>(i);
      list_add_tail(&items[i].link, head);
    }
  }
};

// --- list_head -------------------------------------------------------------------------------------------------

TEST_F(ListTest, InitializedHeadIsAnEmptyListPointingAtItself) {
  LIST_HEAD(declared);
  struct list_head runtime;
  EXPECT_EQ(runtime.next, nullptr);
  INIT_LIST_HEAD(&runtime);

  EXPECT_TRUE(list_empty(&declared));
  EXPECT_EQ(declared.next, &declared);
  EXPECT_EQ(declared.prev, &declared);
  EXPECT_TRUE(list_empty(&runtime));
  EXPECT_TRUE(list_empty_careful(&runtime));
  EXPECT_FALSE(list_is_singular(&runtime));
}

TEST_F(ListTest, AddInsertsAfterTheHeadAndAddTailBeforeIt) {
  // list_add(a), list_add(b), list_add_tail(c):
  //   head <-> b <-> a <-> c <-> head
  // Expect b, a, c forwards and c, a, b backwards.
  LIST_HEAD(head);
  item a{1}, b{2}, c{3};
  list_add(&a.link, &head);
  list_add(&b.link, &head);
  list_add_tail(&c.link, &head);

  EXPECT_THAT(Values(&head), ElementsAre(2, 1, 3));
  EXPECT_THAT(ValuesBackwards(&head), ElementsAre(3, 1, 2));
  EXPECT_TRUE(list_is_last(&c.link, &head));
  EXPECT_FALSE(list_is_last(&a.link, &head));
  EXPECT_EQ(bug_event_count(), 0u);
}

TEST_F(ListTest, DelUnlinksTheEntryAndPoisonsIt) {
  LIST_HEAD(head);
  std::vector<item> items(3);
  Fill(&head, items);

  list_del(&items[1].link);

  EXPECT_THAT(Values(&head), ElementsAre(0, 2));
  EXPECT_EQ(items[1].link.next, LIST_POISON1);
  EXPECT_EQ(items[1].link.prev, LIST_POISON2);
  EXPECT_NE(LIST_POISON1, LIST_POISON2);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(LIST_POISON1), 0xdead000000100100u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(LIST_POISON2), 0xdead000000200200u);
  EXPECT_EQ(bug_event_count(), 0u);
}

TEST_F(ListTest, DelOfAnAlreadyDeletedEntryWarnsPoison1AndChangesNothing) {
  LIST_HEAD(head);
  std::vector<item> items(2);
  Fill(&head, items);
  list_del(&items[0].link);

  list_del(&items[0].link);

  EXPECT_THAT(WarnMessages(),
              ElementsAre(Format("list_del corruption, %p->next is LIST_POISON1 (%p)",
                                 static_cast<void*>(&items[0].link), static_cast<void*>(LIST_POISON1))));
  EXPECT_THAT(Values(&head), ElementsAre(1));
  clear_bug_events();
}

TEST_F(ListTest, DelOfAnEntryWithPoison2PrevWarns) {
  LIST_HEAD(head);
  std::vector<item> items(2);
  Fill(&head, items);
  items[0].link.prev = LIST_POISON2;

  list_del(&items[0].link);

  EXPECT_THAT(WarnMessages(),
              ElementsAre(Format("list_del corruption, %p->prev is LIST_POISON2 (%p)",
                                 static_cast<void*>(&items[0].link), static_cast<void*>(LIST_POISON2))));
  EXPECT_EQ(head.next, &items[0].link);
  clear_bug_events();
}

TEST_F(ListTest, DelWhosePrevNoLongerPointsAtTheEntryWarnsAndSkipsTheUnlink) {
  // head <-> 0 <-> 1 <-> 2, then 0->next is pointed past 1 at 2. list_del(1) sees prev->next == 2.
  // Expect the prev->next WARN, no unlink (2->prev still points at 1), and 1 poisoned all the same.
  LIST_HEAD(head);
  std::vector<item> items(3);
  Fill(&head, items);
  items[0].link.next = &items[2].link;

  list_del(&items[1].link);

  EXPECT_THAT(WarnMessages(),
              ElementsAre(Format("list_del corruption. prev->next should be %p, but was %p",
                                 static_cast<void*>(&items[1].link), static_cast<void*>(&items[2].link))));
  EXPECT_EQ(items[2].link.prev, &items[1].link);
  EXPECT_EQ(items[1].link.next, LIST_POISON1);
  clear_bug_events();
}

TEST_F(ListTest, DelWhoseNextNoLongerPointsBackWarns) {
  LIST_HEAD(head);
  std::vector<item> items(3);
  Fill(&head, items);
  items[2].link.prev = &items[0].link;

  list_del_init(&items[1].link);

  EXPECT_THAT(WarnMessages(),
              ElementsAre(Format("list_del corruption. next->prev should be %p, but was %p",
                                 static_cast<void*>(&items[1].link), static_cast<void*>(&items[0].link))));
  EXPECT_EQ(items[0].link.next, &items[1].link);
  clear_bug_events();
}

TEST_F(ListTest, AddWithInconsistentNeighboursWarnsAndStillLinks) {
  // head <-> a, but a->prev points at a stray entry. list_add(n, head) checks next(a)->prev == head.
  // Expect exactly the next->prev WARN, and n linked in after head all the same (v4.4 does not skip).
  LIST_HEAD(head);
  item a{1}, n{9};
  struct list_head stray;
  INIT_LIST_HEAD(&stray);
  list_add(&a.link, &head);
  a.link.prev = &stray;

  list_add(&n.link, &head);

  EXPECT_THAT(WarnMessages(),
              ElementsAre(Format("list_add corruption. next->prev should be prev (%p), but was %p. (next=%p).",
                                 static_cast<void*>(&head), static_cast<void*>(&stray), static_cast<void*>(&a.link))));
  EXPECT_THAT(Values(&head), ElementsAre(9, 1));
  clear_bug_events();
}

TEST_F(ListTest, AddWhosePrevNoLongerPointsAtNextWarns) {
  LIST_HEAD(head);
  item a{1}, n{9};
  struct list_head stray;
  INIT_LIST_HEAD(&stray);
  list_add(&a.link, &head);
  a.link.next = &stray;

  list_add_tail(&n.link, &head);

  EXPECT_THAT(WarnMessages(),
              ElementsAre(Format("list_add corruption. prev->next should be next (%p), but was %p. (prev=%p).",
                                 static_cast<void*>(&head), static_cast<void*>(&stray), static_cast<void*>(&a.link))));
  EXPECT_EQ(a.link.next, &n.link);
  EXPECT_EQ(head.prev, &n.link);
  clear_bug_events();
}

TEST_F(ListTest, AddingTheEntryNextToItselfIsADoubleAdd) {
  LIST_HEAD(head);
  item a{1};
  list_add(&a.link, &head);

  list_add(&a.link, &head);

  EXPECT_THAT(WarnMessages(),
              ElementsAre(Format("list_add double add: new=%p, prev=%p, next=%p.", static_cast<void*>(&a.link),
                                 static_cast<void*>(&head), static_cast<void*>(&a.link))));
  clear_bug_events();
}

TEST_F(ListTest, AddOnADeletedHeadIsAnOopsNotADereference) {
  LIST_HEAD(head);
  item a{1}, n{2};
  list_add(&a.link, &head);
  list_del(&a.link);
  EXPECT_DEATH(list_add(&n.link, &a.link), "unable to handle kernel paging request");
}

TEST_F(ListTest, AddOnAnUninitializedHeadIsANullPointerOops) {
  struct list_head zeroed;
  item n{2};
  EXPECT_DEATH(list_add_tail(&n.link, &zeroed), "unable to handle kernel NULL pointer dereference");
}

TEST_F(ListTest, DelInitLeavesTheEntryEmptyAndReusable) {
  LIST_HEAD(head);
  std::vector<item> items(3);
  Fill(&head, items);

  list_del_init(&items[0].link);

  EXPECT_TRUE(list_empty(&items[0].link));
  EXPECT_THAT(Values(&head), ElementsAre(1, 2));
  list_add_tail(&items[0].link, &head);
  EXPECT_THAT(Values(&head), ElementsAre(1, 2, 0));
  EXPECT_EQ(bug_event_count(), 0u);
}

TEST_F(ListTest, ReplaceTakesTheOldEntrysPlace) {
  LIST_HEAD(head);
  std::vector<item> items(3);
  Fill(&head, items);
  item r{7}, s{8};

  list_replace(&items[1].link, &r.link);
  EXPECT_THAT(Values(&head), ElementsAre(0, 7, 2));

  list_replace_init(&items[0].link, &s.link);
  EXPECT_THAT(Values(&head), ElementsAre(8, 7, 2));
  EXPECT_TRUE(list_empty(&items[0].link));
}

TEST_F(ListTest, MoveAndMoveTailTransferBetweenLists) {
  LIST_HEAD(from);
  LIST_HEAD(to);
  std::vector<item> items(4);
  Fill(&from, items);

  list_move(&items[2].link, &to);
  list_move_tail(&items[0].link, &to);
  list_move(&items[3].link, &to);

  EXPECT_THAT(Values(&from), ElementsAre(1));
  EXPECT_THAT(Values(&to), ElementsAre(3, 2, 0));
  EXPECT_TRUE(list_is_singular(&from));
  EXPECT_FALSE(list_is_singular(&to));
  EXPECT_EQ(bug_event_count(), 0u);
}

TEST_F(ListTest, RotateLeftMovesTheFirstEntryToTheBack) {
  LIST_HEAD(head);
  std::vector<item> items(3);
  Fill(&head, items);

  list_rotate_left(&head);
  EXPECT_THAT(Values(&head), ElementsAre(1, 2, 0));

  LIST_HEAD(empty);
  list_rotate_left(&empty);
  EXPECT_TRUE(list_empty(&empty));
}

TEST_F(ListTest, SpliceVariantsJoinAtTheFrontOrTheBack) {
  LIST_HEAD(head);
  LIST_HEAD(front);
  LIST_HEAD(back);
  LIST_HEAD(empty);
  item h{0}, f1{1}, f2{2}, b1{3}, b2{4};
  list_add_tail(&h.link, &head);
  list_add_tail(&f1.link, &front);
  list_add_tail(&f2.link, &front);
  list_add_tail(&b1.link, &back);
  list_add_tail(&b2.link, &back);

  list_splice(&empty, &head);
  EXPECT_THAT(Values(&head), ElementsAre(0));

  list_splice_init(&front, &head);
  EXPECT_THAT(Values(&head), ElementsAre(1, 2, 0));
  EXPECT_TRUE(list_empty(&front));

  list_splice_tail_init(&back, &head);
  EXPECT_THAT(Values(&head), ElementsAre(1, 2, 0, 3, 4));
  EXPECT_TRUE(list_empty(&back));

  // Without _init the donor head still points into the joined list.
  LIST_HEAD(more);
  item m{5};
  list_add(&m.link, &more);
  list_splice_tail(&more, &head);
  EXPECT_THAT(Values(&head), ElementsAre(1, 2, 0, 3, 4, 5));
  EXPECT_EQ(more.next, &m.link);

  LIST_HEAD(again);
  item g{6};
  list_add(&g.link, &again);
  list_splice(&again, &head);
  EXPECT_THAT(Values(&head), ElementsAre(6, 1, 2, 0, 3, 4, 5));
}

TEST_F(ListTest, CutPositionMovesThePrefixUpToTheEntry) {
  LIST_HEAD(head);
  LIST_HEAD(cut);
  std::vector<item> items(4);
  Fill(&head, items);

  list_cut_position(&cut, &head, &items[1].link);
  EXPECT_THAT(Values(&cut), ElementsAre(0, 1));
  EXPECT_THAT(Values(&head), ElementsAre(2, 3));

  // entry == head: nothing is cut and `list` is reinitialised.
  LIST_HEAD(none);
  list_cut_position(&none, &head, &head);
  EXPECT_TRUE(list_empty(&none));
  EXPECT_THAT(Values(&head), ElementsAre(2, 3));

  // A singular list cut at an entry that is not its only one does nothing.
  LIST_HEAD(single);
  item s{9};
  list_add(&s.link, &single);
  LIST_HEAD(untouched);
  list_cut_position(&untouched, &single, &items[2].link);
  EXPECT_TRUE(list_empty(&untouched));
  EXPECT_THAT(Values(&single), ElementsAre(9));
}

TEST_F(ListTest, EntryMacrosFindTheContainingStruct) {
  LIST_HEAD(head);
  EXPECT_THAT(list_first_entry_or_null(&head, struct item, link), IsNull());

  std::vector<item> items(3);
  Fill(&head, items);
  struct item* first = list_first_entry(&head, struct item, link);
  struct item* last = list_last_entry(&head, struct item, link);
  EXPECT_EQ(first, &items[0]);
  EXPECT_EQ(last, &items[2]);
  EXPECT_EQ(list_first_entry_or_null(&head, struct item, link), &items[0]);
  EXPECT_EQ(list_next_entry(first, link), &items[1]);
  EXPECT_EQ(list_prev_entry(last, link), &items[1]);
  EXPECT_EQ(list_entry(&items[1].link, struct item, link), &items[1]);
}

TEST_F(ListTest, IterationMacrosVisitEveryEntryInOrder) {
  LIST_HEAD(head);
  std::vector<item> items(5);
  Fill(&head, items);

  std::vector<int> seen;
  struct list_head* pos;
  list_for_each(pos, &head) seen.push_back(list_entry(pos, struct item, link)->value);
  EXPECT_THAT(seen, ElementsAre(0, 1, 2, 3, 4));

  seen.clear();
  list_for_each_prev(pos, &head) seen.push_back(list_entry(pos, struct item, link)->value);
  EXPECT_THAT(seen, ElementsAre(4, 3, 2, 1, 0));

  seen.clear();
  struct item* it;
  list_for_each_entry(it, &head, link) seen.push_back(it->value);
  EXPECT_THAT(seen, ElementsAre(0, 1, 2, 3, 4));

  seen.clear();
  list_for_each_entry_reverse(it, &head, link) seen.push_back(it->value);
  EXPECT_THAT(seen, ElementsAre(4, 3, 2, 1, 0));

  seen.clear();
  it = &items[1];
  list_for_each_entry_continue(it, &head, link) seen.push_back(it->value);
  EXPECT_THAT(seen, ElementsAre(2, 3, 4));

  seen.clear();
  it = &items[3];
  list_for_each_entry_from(it, &head, link) seen.push_back(it->value);
  EXPECT_THAT(seen, ElementsAre(3, 4));

  const struct list_head* const_head = &head;
  const struct item* cit;
  int sum = 0;
  list_for_each_entry(cit, const_head, link) sum += cit->value;
  EXPECT_EQ(sum, 10);
}

TEST_F(ListTest, SafeIterationAllowsDeletingTheCurrentEntry) {
  LIST_HEAD(head);
  std::vector<item> items(6);
  Fill(&head, items);

  struct item* it;
  struct item* tmp;
  list_for_each_entry_safe(it, tmp, &head, link) {
    if (it->value % 2 == 0) list_del(&it->link);
  }
  EXPECT_THAT(Values(&head), ElementsAre(1, 3, 5));

  std::vector<int> seen;
  list_for_each_entry_safe_reverse(it, tmp, &head, link) {
    seen.push_back(it->value);
    list_del_init(&it->link);
  }
  EXPECT_THAT(seen, ElementsAre(5, 3, 1));
  EXPECT_TRUE(list_empty(&head));

  Fill(&head, items);
  struct list_head* pos;
  struct list_head* n;
  list_for_each_safe(pos, n, &head) list_del(pos);
  EXPECT_TRUE(list_empty(&head));
  list_for_each_prev_safe(pos, n, &head) ADD_FAILURE() << "empty list visited";
  EXPECT_EQ(bug_event_count(), 0u);
}

TEST_F(ListTest, RandomOperationsMatchADeque) {
  constexpr int kItems = 24;
  for (unsigned seed = 1; seed <= 10; ++seed) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937 rng(seed);
    LIST_HEAD(head);
    std::vector<item> items(kItems);
    std::vector<bool> linked(kItems, false);
    std::deque<int> ref;
    for (int i = 0; i < kItems; ++i) items[i].value = i;

    for (int step = 0; step < 2000; ++step) {
      const int i = static_cast<int>(rng() % kItems);
      const int op = static_cast<int>(rng() % 6);
      if (!linked[i]) {
        if (op % 2 == 0) {
          list_add(&items[i].link, &head);
          ref.push_front(i);
        } else {
          list_add_tail(&items[i].link, &head);
          ref.push_back(i);
        }
        linked[i] = true;
      } else if (op == 0) {
        list_del(&items[i].link);
        ref.erase(std::find(ref.begin(), ref.end(), i));
        linked[i] = false;
      } else if (op == 1) {
        list_move(&items[i].link, &head);
        ref.erase(std::find(ref.begin(), ref.end(), i));
        ref.push_front(i);
      } else if (op == 2) {
        list_move_tail(&items[i].link, &head);
        ref.erase(std::find(ref.begin(), ref.end(), i));
        ref.push_back(i);
      } else if (op == 3) {
        list_rotate_left(&head);
        std::rotate(ref.begin(), ref.begin() + 1, ref.end());
      } else {
        list_del_init(&items[i].link);
        ref.erase(std::find(ref.begin(), ref.end(), i));
        linked[i] = false;
      }
      ASSERT_EQ(Values(&head), std::vector<int>(ref.begin(), ref.end())) << "step " << step;
      ASSERT_EQ(list_empty(&head), ref.empty());
      ASSERT_EQ(list_is_singular(&head), ref.size() == 1);
    }
    ASSERT_EQ(bug_event_count(), 0u);
  }
}

// --- plist -----------------------------------------------------------------------------------------------------

struct pitem {
  char tag = '?';
  struct plist_node node;
};

// (tag, prio) along node_list.
std::vector<std::pair<char, int>> Order(const struct plist_head* head) {
  std::vector<std::pair<char, int>> out;
  const struct pitem* it;
  plist_for_each_entry(it, head, node) out.emplace_back(it->tag, it->node.prio);
  return out;
}

// Tags along the prio ring, starting at the first node.
std::vector<char> PrioRing(const struct plist_head* head) {
  std::vector<char> out;
  if (plist_head_empty(head)) return out;
  const struct plist_node* first = plist_first(head);
  const struct plist_node* p = first;
  do {
    out.push_back(container_of(p, struct pitem, node)->tag);
    p = list_entry(p->prio_list.next, struct plist_node, prio_list);
  } while (p != first && out.size() < 1000);
  return out;
}

class PlistTest : public ListTest {
 protected:
  // One pitem per (tag, prio), node-initialised, not on any list.
  static std::vector<pitem> Make(const std::vector<std::pair<char, int>>& spec) {
    std::vector<pitem> items(spec.size());
    for (size_t i = 0; i < spec.size(); ++i) {
      items[i].tag = spec[i].first;
      plist_node_init(&items[i].node, spec[i].second);
    }
    return items;
  }
};

TEST_F(PlistTest, AddSortsByAscendingPrioAndKeepsInsertionOrderAmongEquals) {
  // Added in order A(5) B(1) C(5) D(3) E(1):
  //   node_list: head -> B(1) -> E(1) -> D(3) -> A(5) -> C(5)
  // Expect that order: equal priorities in the order they were added.
  PLIST_HEAD(head);
  std::vector<pitem> items = Make({{'A', 5}, {'B', 1}, {'C', 5}, {'D', 3}, {'E', 1}});
  for (pitem& it : items) plist_add(&it.node, &head);

  EXPECT_THAT(Order(&head), ElementsAre(std::pair{'B', 1}, std::pair{'E', 1}, std::pair{'D', 3}, std::pair{'A', 5},
                                        std::pair{'C', 5}));
  EXPECT_THAT(plist_check(&head), IsNull());
  EXPECT_EQ(bug_event_count(), 0u);
}

TEST_F(PlistTest, PrioListLinksOnlyTheFirstNodeOfEachPrio) {
  // node_list: B(1) E(1) D(3) A(5) C(5)
  // prio_list: B -> D -> A -> (back to B); E and C are self-linked.
  // Expect the ring B, D, A and empty prio_lists on E and C.
  PLIST_HEAD(head);
  std::vector<pitem> items = Make({{'A', 5}, {'B', 1}, {'C', 5}, {'D', 3}, {'E', 1}});
  for (pitem& it : items) plist_add(&it.node, &head);

  EXPECT_THAT(PrioRing(&head), ElementsAre('B', 'D', 'A'));
  EXPECT_TRUE(list_empty(&items[2].node.prio_list));   // C
  EXPECT_TRUE(list_empty(&items[4].node.prio_list));   // E
  EXPECT_FALSE(list_empty(&items[0].node.prio_list));  // A
}

TEST_F(PlistTest, NegativeAndExtremePrioritiesSortLikeInts) {
  PLIST_HEAD(head);
  std::vector<pitem> items = Make({{'a', 0}, {'b', INT_MIN}, {'c', INT_MAX}, {'d', -1}});
  for (pitem& it : items) plist_add(&it.node, &head);
  EXPECT_THAT(Order(&head),
              ElementsAre(std::pair{'b', INT_MIN}, std::pair{'d', -1}, std::pair{'a', 0}, std::pair{'c', INT_MAX}));
  EXPECT_THAT(plist_check(&head), IsNull());
}

TEST_F(PlistTest, DelOfAFirstNodeHandsItsPrioListSlotToTheNextEqualNode) {
  // node_list: B(1) E(1) D(3); prio_list: B -> D. Deleting B leaves E first of prio 1.
  // Expect E on the prio ring in B's place, and B fully self-linked (reusable).
  PLIST_HEAD(head);
  std::vector<pitem> items = Make({{'B', 1}, {'E', 1}, {'D', 3}});
  for (pitem& it : items) plist_add(&it.node, &head);

  plist_del(&items[0].node, &head);

  EXPECT_THAT(Order(&head), ElementsAre(std::pair{'E', 1}, std::pair{'D', 3}));
  EXPECT_THAT(PrioRing(&head), ElementsAre('E', 'D'));
  EXPECT_TRUE(plist_node_empty(&items[0].node));
  EXPECT_TRUE(list_empty(&items[0].node.prio_list));
  EXPECT_THAT(plist_check(&head), IsNull());
}

TEST_F(PlistTest, DelOfTheOnlyNodeOfAPrioDropsThatPrio) {
  PLIST_HEAD(head);
  std::vector<pitem> items = Make({{'B', 1}, {'D', 3}, {'A', 5}});
  for (pitem& it : items) plist_add(&it.node, &head);

  plist_del(&items[1].node, &head);
  EXPECT_THAT(PrioRing(&head), ElementsAre('B', 'A'));

  plist_del(&items[2].node, &head);
  plist_del(&items[0].node, &head);
  EXPECT_TRUE(plist_head_empty(&head));
  EXPECT_THAT(plist_check(&head), IsNull());
  EXPECT_EQ(bug_event_count(), 0u);
}

TEST_F(PlistTest, FirstLastAndEmptiness) {
  PLIST_HEAD(head);
  EXPECT_TRUE(plist_head_empty(&head));
  std::vector<pitem> items = Make({{'x', 2}, {'y', -4}, {'z', 9}});
  EXPECT_TRUE(plist_node_empty(&items[0].node));
  for (pitem& it : items) plist_add(&it.node, &head);

  EXPECT_FALSE(plist_head_empty(&head));
  EXPECT_FALSE(plist_node_empty(&items[0].node));
  EXPECT_EQ(plist_first(&head), &items[1].node);
  EXPECT_EQ(plist_last(&head), &items[2].node);
  EXPECT_EQ(plist_first_entry(&head, struct pitem, node), &items[1]);
  EXPECT_EQ(plist_last_entry(&head, struct pitem, node), &items[2]);
  EXPECT_EQ(plist_next(&items[1].node), &items[0].node);
  EXPECT_EQ(plist_prev(&items[2].node), &items[0].node);
}

TEST_F(PlistTest, StaticInitializersBuildEmptyHeadAndNode) {
  static PLIST_HEAD(static_head);
  static struct plist_node static_node = PLIST_NODE_INIT(static_node, 7);
  EXPECT_TRUE(plist_head_empty(&static_head));
  EXPECT_TRUE(plist_node_empty(&static_node));
  EXPECT_EQ(static_node.prio, 7);
  plist_add(&static_node, &static_head);
  EXPECT_EQ(plist_first(&static_head), &static_node);
  plist_del(&static_node, &static_head);
  EXPECT_TRUE(plist_head_empty(&static_head));
}

TEST_F(PlistTest, AddOfANodeThatIsOnAnotherListWarns) {
  PLIST_HEAD(head);
  LIST_HEAD(elsewhere);
  std::vector<pitem> items = Make({{'n', 1}});
  list_add(&items[0].node.node_list, &elsewhere);

  plist_add(&items[0].node, &head);

  EXPECT_THAT(WarnMessages(), ElementsAre("WARN_ON(!plist_node_empty(node))"));
  clear_bug_events();
}

TEST_F(PlistTest, RequeueMovesANodeBehindItsEqualPriorityPeers) {
  // node_list: a(1) b(2) c(2) d(2) e(3). plist_requeue(b):
  //   a(1) c(2) d(2) b(2) e(3)
  // Expect b last among prio 2, c now first of prio 2 on the ring.
  PLIST_HEAD(head);
  std::vector<pitem> items = Make({{'a', 1}, {'b', 2}, {'c', 2}, {'d', 2}, {'e', 3}});
  for (pitem& it : items) plist_add(&it.node, &head);

  plist_requeue(&items[1].node, &head);

  EXPECT_THAT(Order(&head), ElementsAre(std::pair{'a', 1}, std::pair{'c', 2}, std::pair{'d', 2}, std::pair{'b', 2},
                                        std::pair{'e', 3}));
  EXPECT_THAT(PrioRing(&head), ElementsAre('a', 'c', 'e'));
  EXPECT_THAT(plist_check(&head), IsNull());

  // A node alone at its prio, and the last node, stay where they are.
  plist_requeue(&items[0].node, &head);
  plist_requeue(&items[4].node, &head);
  EXPECT_THAT(Order(&head), ElementsAre(std::pair{'a', 1}, std::pair{'c', 2}, std::pair{'d', 2}, std::pair{'b', 2},
                                        std::pair{'e', 3}));
}

TEST_F(PlistTest, RequeueOnAnEmptyHeadIsABug) {
  PLIST_HEAD(head);
  std::vector<pitem> items = Make({{'a', 1}});
  EXPECT_DEATH(plist_requeue(&items[0].node, &head), "plist_head_empty");
}

TEST_F(PlistTest, SafeIterationAllowsDeletingTheCurrentNode) {
  PLIST_HEAD(head);
  std::vector<pitem> items = Make({{'a', 1}, {'b', 1}, {'c', 2}, {'d', 3}, {'e', 3}});
  for (pitem& it : items) plist_add(&it.node, &head);

  struct pitem* it;
  struct pitem* tmp;
  plist_for_each_entry_safe(it, tmp, &head, node) {
    if (it->tag != 'c' && it->tag != 'e') plist_del(&it->node, &head);
  }
  EXPECT_THAT(Order(&head), ElementsAre(std::pair{'c', 2}, std::pair{'e', 3}));
  EXPECT_THAT(plist_check(&head), IsNull());

  std::vector<int> prios;
  struct plist_node* pos;
  struct plist_node* n;
  plist_for_each(pos, &head) prios.push_back(pos->prio);
  EXPECT_THAT(prios, ElementsAre(2, 3));
  plist_for_each_safe(pos, n, &head) plist_del(pos, &head);
  EXPECT_TRUE(plist_head_empty(&head));
}

// The shape of drivers/staging/android/ion's heap registry: heaps on dev->heaps with prio = -heap->id.
struct fake_ion_heap {
  unsigned int id = 0;
  const char* name = "";
  struct plist_node node;
};

TEST_F(PlistTest, IonHeapsAreTriedHighestIdFirstAndEqualIdsInRegistrationOrder) {
  // Registered: system(id 0), cma(id 4), carveout(id 2), second_cma(id 4), chunk(id 1); prio = -id:
  //   node_list: cma(-4) second_cma(-4) carveout(-2) chunk(-1) system(0)
  // Expect ion_alloc's walk to try ids 4, 4, 2, 1, 0, with the two id-4 heaps in registration order.
  PLIST_HEAD(heaps);
  std::vector<fake_ion_heap> registered(5);
  const std::vector<std::pair<unsigned int, const char*>> spec = {
      {0, "system"}, {4, "cma"}, {2, "carveout"}, {4, "second_cma"}, {1, "chunk"}};
  for (size_t i = 0; i < spec.size(); ++i) {
    registered[i].id = spec[i].first;
    registered[i].name = spec[i].second;
    plist_node_init(&registered[i].node, -static_cast<int>(registered[i].id));
    plist_add(&registered[i].node, &heaps);
  }

  std::vector<std::string> tried;
  struct fake_ion_heap* heap;
  plist_for_each_entry(heap, &heaps, node) tried.push_back(std::string(heap->name) + ":" + std::to_string(heap->id));

  EXPECT_THAT(tried, ElementsAre("cma:4", "second_cma:4", "carveout:2", "chunk:1", "system:0"));
  EXPECT_THAT(plist_check(&heaps), IsNull());
}

TEST_F(PlistTest, CheckReportsUnsortedNodeList) {
  PLIST_HEAD(head);
  std::vector<pitem> items = Make({{'a', 1}, {'b', 2}, {'c', 3}});
  for (pitem& it : items) plist_add(&it.node, &head);
  ASSERT_THAT(plist_check(&head), IsNull());

  items[1].node.prio = 7;  // b now claims prio 7 between 1 and 3

  const char* problem = plist_check(&head);
  ASSERT_THAT(problem, NotNull());
  EXPECT_THAT(problem, HasSubstr("node_list"));
  EXPECT_THAT(problem, HasSubstr("prio 3"));
}

TEST_F(PlistTest, CheckReportsAFirstNodeMissingFromThePrioRing) {
  PLIST_HEAD(head);
  std::vector<pitem> items = Make({{'a', 1}, {'b', 2}, {'c', 3}});
  for (pitem& it : items) plist_add(&it.node, &head);

  // Unhook b from the ring behind plist's back: a's ring successor becomes c.
  items[0].node.prio_list.next = &items[2].node.prio_list;
  items[2].node.prio_list.prev = &items[0].node.prio_list;
  INIT_LIST_HEAD(&items[1].node.prio_list);

  const char* problem = plist_check(&head);
  ASSERT_THAT(problem, NotNull());
  EXPECT_THAT(problem, HasSubstr("prio_list: after node"));
  EXPECT_THAT(problem, HasSubstr("expected node"));
}

TEST_F(PlistTest, CheckReportsANonFirstNodeLinkedIntoThePrioRing) {
  PLIST_HEAD(head);
  std::vector<pitem> items = Make({{'a', 1}, {'b', 1}, {'c', 3}});
  for (pitem& it : items) plist_add(&it.node, &head);

  list_add(&items[1].node.prio_list, &items[0].node.prio_list);  // b is second of prio 1

  const char* problem = plist_check(&head);
  ASSERT_THAT(problem, NotNull());
  EXPECT_THAT(problem, HasSubstr("is not the first of its prio"));
}

TEST_F(PlistTest, CheckReportsABrokenPrevLink) {
  PLIST_HEAD(head);
  std::vector<pitem> items = Make({{'a', 1}, {'b', 2}, {'c', 3}});
  for (pitem& it : items) plist_add(&it.node, &head);

  items[2].node.node_list.prev = &items[0].node.node_list;

  const char* problem = plist_check(&head);
  ASSERT_THAT(problem, NotNull());
  EXPECT_EQ(std::string(problem),
            Format("node_list: %p->next->prev is %p, expected %p", static_cast<void*>(&items[1].node.node_list),
                   static_cast<void*>(&items[0].node.node_list), static_cast<void*>(&items[1].node.node_list)));
}

TEST_F(PlistTest, CheckReportsAPoisonedLinkWithoutFollowingIt) {
  PLIST_HEAD(head);
  std::vector<pitem> items = Make({{'a', 1}, {'b', 2}});
  for (pitem& it : items) plist_add(&it.node, &head);

  items[0].node.node_list.next = LIST_POISON1;

  const char* problem = plist_check(&head);
  ASSERT_THAT(problem, NotNull());
  EXPECT_THAT(problem, HasSubstr("->next is 0xdead000000100100"));
}

TEST_F(PlistTest, CheckReportsABrokenPrioRingPrevLink) {
  PLIST_HEAD(head);
  std::vector<pitem> items = Make({{'a', 1}, {'b', 2}});
  for (pitem& it : items) plist_add(&it.node, &head);
  ASSERT_THAT(PrioRing(&head), ElementsAre('a', 'b'));

  items[1].node.prio_list.prev = &items[1].node.prio_list;

  const char* problem = plist_check(&head);
  ASSERT_THAT(problem, NotNull());
  EXPECT_EQ(std::string(problem),
            Format("prio_list: node %p (prio 2) has prio_list.prev %p, expected %p", static_cast<void*>(&items[1].node),
                   static_cast<void*>(&items[1].node.prio_list), static_cast<void*>(&items[0].node.prio_list)));
}

// Reference: a vector kept stable-sorted by prio; a new tag goes after every tag of prio <= its prio.
struct RefEntry {
  int tag;
  int prio;
};

void RefAdd(std::vector<RefEntry>& ref, int tag, int prio) {
  auto pos = std::upper_bound(ref.begin(), ref.end(), prio, [](int p, const RefEntry& e) { return p < e.prio; });
  ref.insert(pos, RefEntry{tag, prio});
}

TEST_F(PlistTest, RandomOperationsMatchAStableSortedVector) {
  constexpr int kNodes = 40;
  for (unsigned seed = 1; seed <= 12; ++seed) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937 rng(seed);
    PLIST_HEAD(head);
    std::vector<pitem> items(kNodes);
    std::vector<bool> on_list(kNodes, false);
    std::vector<RefEntry> ref;
    for (int i = 0; i < kNodes; ++i) items[i].tag = static_cast<char>(i);

    for (int step = 0; step < 1500; ++step) {
      const int i = static_cast<int>(rng() % kNodes);
      const int op = static_cast<int>(rng() % 4);
      if (!on_list[i]) {
        const int prio = static_cast<int>(rng() % 9) - 4;
        plist_node_init(&items[i].node, prio);
        plist_add(&items[i].node, &head);
        RefAdd(ref, i, prio);
        on_list[i] = true;
      } else if (op <= 1) {
        plist_del(&items[i].node, &head);
        ref.erase(std::find_if(ref.begin(), ref.end(), [&](const RefEntry& e) { return e.tag == i; }));
        on_list[i] = false;
      } else {
        plist_requeue(&items[i].node, &head);
        auto it = std::find_if(ref.begin(), ref.end(), [&](const RefEntry& e) { return e.tag == i; });
        const RefEntry moved = *it;
        ref.erase(it);
        RefAdd(ref, moved.tag, moved.prio);
      }

      const char* problem = plist_check(&head);
      ASSERT_THAT(problem, IsNull()) << "step " << step << ": " << problem;
      std::vector<std::pair<char, int>> want;
      for (const RefEntry& e : ref) want.emplace_back(static_cast<char>(e.tag), e.prio);
      ASSERT_EQ(Order(&head), want) << "step " << step;
      ASSERT_EQ(plist_head_empty(&head), ref.empty());
      if (!ref.empty()) {
        ASSERT_EQ(plist_first(&head), &items[ref.front().tag].node);
        ASSERT_EQ(plist_last(&head), &items[ref.back().tag].node);
      }
    }
    ASSERT_EQ(bug_event_count(), 0u);
  }
}

}  // namespace
}  // namespace ionsim::kernel
