// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Tests of the idr (lib/idr.c @ v4.4): lowest-free allocation and reuse, range checks and their errnos, the WARNs
// with their exact text, sparse ids up to INT_MAX, iteration, NULL entries, failslab injection, and a randomized
// differential test against std::map.
#include "model/kernel/idr.h"

#include <climits>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <typeinfo>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/kernel/bug.h"
#include "model/kernel/slab.h"
#include "tests/testing/errno_matchers.h"

namespace ionsim::kernel {
namespace {

using ::ionsim::testing::IsErrno;
using ::ionsim::testing::IsOk;
using ::ionsim::testing::IsOkAndHolds;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::IsNull;
using ::testing::Pair;

// Distinct non-NULL pointers that are never dereferenced.
void* Tag(uintptr_t n) { return reinterpret_cast<void*>(0x1000 + 16 * n); }

std::vector<std::string> WarnMessages() {
  std::vector<std::string> out;
  for (const BugEvent& e : bug_events()) {
    if (e.kind == BugKind::kWarn) out.push_back(e.message);
  }
  return out;
}

size_t LiveIdrLayers() {
  size_t n = 0;
  const std::string name = "ionsim::kernel::idr_layer";
  for (const LiveObject& o : live_objects()) n += o.type == name;
  return n;
}

// (id, ptr) pairs in idr_for_each order.
std::vector<std::pair<int, void*>> Entries(const struct idr* idp) {
  std::vector<std::pair<int, void*>> out;
  out.reserve(1024);
  idr_for_each(
      idp,
      [](int id, void* p, void* data) {
        static_cast<std::vector<std::pair<int, void*>>*>(data)->emplace_back(id, p);
        return 0;
      },
      &out);
  return out;
}

class IdrTest : public ::testing::Test {
 protected:
  void SetUp() override {
    set_bug_printing(false);
    idr_init(&idr_);
  }
  void TearDown() override {
    idr_destroy(&idr_);
    set_slab_fail_hook(nullptr);
    set_bug_printing(true);
  }

  struct idr idr_;
};

TEST_F(IdrTest, AllocReturnsLowestFreeIdSoIdsAreReusedAtOnce) {
  // ION's pattern: idr_alloc(idr, handle, 1, 0, GFP_KERNEL). Allocate 1, 2, 3; remove 2:
  //   ids {1, 3}, free {2, 4, 5, ...}
  // Expect the next allocation to be 2 and the one after it 4.
  EXPECT_THAT(idr_alloc(&idr_, Tag(1), 1, 0, GFP_KERNEL), IsOkAndHolds(1));
  EXPECT_THAT(idr_alloc(&idr_, Tag(2), 1, 0, GFP_KERNEL), IsOkAndHolds(2));
  EXPECT_THAT(idr_alloc(&idr_, Tag(3), 1, 0, GFP_KERNEL), IsOkAndHolds(3));
  idr_remove(&idr_, 2);
  EXPECT_EQ(idr_find(&idr_, 2), nullptr);

  EXPECT_THAT(idr_alloc(&idr_, Tag(4), 1, 0, GFP_KERNEL), IsOkAndHolds(2));
  EXPECT_THAT(idr_alloc(&idr_, Tag(5), 1, 0, GFP_KERNEL), IsOkAndHolds(4));
  EXPECT_EQ(idr_find(&idr_, 2), Tag(4));
  EXPECT_EQ(idr_find(&idr_, 1), Tag(1));
  EXPECT_EQ(bug_event_count(), 0u);
}

TEST_F(IdrTest, AllocStaysWithinStartAndEndAndThenReportsEnospc) {
  EXPECT_THAT(idr_alloc(&idr_, Tag(1), 5, 8, GFP_KERNEL), IsOkAndHolds(5));
  EXPECT_THAT(idr_alloc(&idr_, Tag(2), 5, 8, GFP_KERNEL), IsOkAndHolds(6));
  EXPECT_THAT(idr_alloc(&idr_, Tag(3), 5, 8, GFP_KERNEL), IsOkAndHolds(7));
  EXPECT_THAT(idr_alloc(&idr_, Tag(4), 5, 8, GFP_KERNEL), IsErrno(ENOSPC));
  // Lower ids are still free; the range excluded them.
  EXPECT_THAT(idr_alloc(&idr_, Tag(5), 0, 8, GFP_KERNEL), IsOkAndHolds(0));
  EXPECT_THAT(idr_alloc(&idr_, Tag(6), 6, 0, GFP_KERNEL), IsOkAndHolds(8));
  EXPECT_EQ(bug_event_count(), 0u);
}

TEST_F(IdrTest, EmptyRangeIsEnospcWithoutAWarn) {
  EXPECT_THAT(idr_alloc(&idr_, Tag(1), 5, 5, GFP_KERNEL), IsErrno(ENOSPC));
  EXPECT_THAT(idr_alloc(&idr_, Tag(1), 5, 3, GFP_KERNEL), IsErrno(ENOSPC));
  EXPECT_THAT(idr_alloc(&idr_, Tag(1), 1, 1, GFP_KERNEL), IsErrno(ENOSPC));
  EXPECT_EQ(bug_event_count(), 0u);
  EXPECT_EQ(idr_.top, nullptr);
}

TEST_F(IdrTest, EndZeroOrNegativeMeansUpToIntMax) {
  EXPECT_THAT(idr_alloc(&idr_, Tag(1), INT_MAX, 0, GFP_KERNEL), IsOkAndHolds(INT_MAX));
  EXPECT_THAT(idr_alloc(&idr_, Tag(2), INT_MAX, 0, GFP_KERNEL), IsErrno(ENOSPC));
  EXPECT_THAT(idr_alloc(&idr_, Tag(3), INT_MAX - 1, -5, GFP_KERNEL), IsOkAndHolds(INT_MAX - 1));
  EXPECT_THAT(idr_alloc(&idr_, Tag(4), INT_MAX - 1, -1, GFP_KERNEL), IsErrno(ENOSPC));
  EXPECT_EQ(idr_find(&idr_, INT_MAX), Tag(1));
  EXPECT_EQ(idr_find(&idr_, INT_MAX - 1), Tag(3));
  // end == INT_MAX excludes INT_MAX itself.
  idr_remove(&idr_, INT_MAX);
  EXPECT_THAT(idr_alloc(&idr_, Tag(5), INT_MAX - 1, INT_MAX, GFP_KERNEL), IsErrno(ENOSPC));
  EXPECT_EQ(bug_event_count(), 0u);
}

TEST_F(IdrTest, NegativeStartWarnsOnceAndIsEinval) {
  EXPECT_THAT(idr_alloc(&idr_, Tag(1), -1, 0, GFP_KERNEL), IsErrno(EINVAL));
  EXPECT_THAT(WarnMessages(), ElementsAre("WARN_ON_ONCE(start < 0)"));
  // Every occurrence is recorded (only the splat is printed once).
  EXPECT_THAT(idr_alloc(&idr_, Tag(1), INT_MIN, 10, GFP_KERNEL), IsErrno(EINVAL));
  EXPECT_EQ(bug_event_count(BugKind::kWarn), 2u);
  EXPECT_EQ(idr_.top, nullptr);
  clear_bug_events();
}

TEST_F(IdrTest, RemoveOfAnUnallocatedIdWarnsWithTheV44Message) {
  idr_remove(&idr_, 5);  // empty idr
  ASSERT_THAT(idr_alloc(&idr_, Tag(1), 0, 0, GFP_KERNEL), IsOkAndHolds(0));
  idr_remove(&idr_, 1);        // next to an allocated id, same leaf
  idr_remove(&idr_, 1 << 30);  // far beyond the tree
  idr_remove(&idr_, INT_MAX);
  idr_remove(&idr_, 0);
  idr_remove(&idr_, 0);  // twice

  EXPECT_THAT(WarnMessages(), ElementsAre("idr_remove called for id=5 which is not allocated.",
                                          "idr_remove called for id=1 which is not allocated.",
                                          "idr_remove called for id=1073741824 which is not allocated.",
                                          "idr_remove called for id=2147483647 which is not allocated.",
                                          "idr_remove called for id=0 which is not allocated."));
  clear_bug_events();
}

TEST_F(IdrTest, RemoveOfANegativeIdIsSilentlyIgnored) {
  ASSERT_THAT(idr_alloc(&idr_, Tag(1), 0, 0, GFP_KERNEL), IsOkAndHolds(0));
  idr_remove(&idr_, -1);
  idr_remove(&idr_, INT_MIN);
  EXPECT_EQ(bug_event_count(), 0u);
  EXPECT_EQ(idr_find(&idr_, 0), Tag(1));
}

TEST_F(IdrTest, FindOfNegativeOrAbsentIdIsNull) {
  ASSERT_THAT(idr_alloc(&idr_, Tag(1), 3, 0, GFP_KERNEL), IsOkAndHolds(3));
  EXPECT_THAT(idr_find(&idr_, -1), IsNull());
  EXPECT_THAT(idr_find(&idr_, INT_MIN), IsNull());
  EXPECT_THAT(idr_find(&idr_, 2), IsNull());
  EXPECT_THAT(idr_find(&idr_, 4), IsNull());
  EXPECT_THAT(idr_find(&idr_, INT_MAX), IsNull());
  EXPECT_EQ(idr_find(&idr_, 3), Tag(1));
}

TEST_F(IdrTest, SparseHighIdsCostOnlyOnePathOfLayers) {
  // One id at 2^30 in an empty idr: one layer per level down to it, nothing for the 2^30 ids below.
  // Expect at most MAX_IDR_LEVEL layers, and every layer returned when the ids go.
  const size_t layers_before = LiveIdrLayers();
  EXPECT_THAT(idr_alloc(&idr_, Tag(1), 1 << 30, 0, GFP_KERNEL), IsOkAndHolds(1 << 30));
  EXPECT_LE(LiveIdrLayers() - layers_before, static_cast<size_t>(MAX_IDR_LEVEL));
  EXPECT_EQ(idr_find(&idr_, 1 << 30), Tag(1));
  EXPECT_THAT(idr_find(&idr_, (1 << 30) - 1), IsNull());
  EXPECT_THAT(idr_find(&idr_, (1 << 30) + 1), IsNull());

  // A low id next to it adds a second short path only.
  EXPECT_THAT(idr_alloc(&idr_, Tag(2), 0, 0, GFP_KERNEL), IsOkAndHolds(0));
  EXPECT_LE(LiveIdrLayers() - layers_before, static_cast<size_t>(2 * MAX_IDR_LEVEL));
  EXPECT_THAT(idr_alloc(&idr_, Tag(3), (1 << 30) - 1, 0, GFP_KERNEL), IsOkAndHolds((1 << 30) - 1));
  EXPECT_THAT(idr_alloc(&idr_, Tag(4), (1 << 30) - 1, 0, GFP_KERNEL), IsOkAndHolds((1 << 30) + 1));
  EXPECT_THAT(Entries(&idr_), ElementsAre(Pair(0, Tag(2)), Pair((1 << 30) - 1, Tag(3)), Pair(1 << 30, Tag(1)),
                                          Pair((1 << 30) + 1, Tag(4))));

  idr_remove(&idr_, 1 << 30);
  idr_remove(&idr_, (1 << 30) - 1);
  idr_remove(&idr_, (1 << 30) + 1);
  idr_remove(&idr_, 0);
  EXPECT_EQ(LiveIdrLayers(), layers_before);
  EXPECT_EQ(idr_.top, nullptr);
  EXPECT_EQ(idr_.layers, 0);
}

TEST_F(IdrTest, FullLeavesAndSubtreesAreSkippedAndReopenOnRemove) {
  // Fill ids 0..4095 (64 full leaves under one full layer-1 node), so the next id must come from a new subtree.
  // Expect 4096, then 1000 once 1000 is removed, then 4097.
  for (int i = 0; i < 4096; ++i) ASSERT_THAT(idr_alloc(&idr_, Tag(i), 0, 0, GFP_KERNEL), IsOkAndHolds(i));
  EXPECT_THAT(idr_alloc(&idr_, Tag(9000), 0, 0, GFP_KERNEL), IsOkAndHolds(4096));
  idr_remove(&idr_, 1000);
  EXPECT_THAT(idr_alloc(&idr_, Tag(9001), 0, 0, GFP_KERNEL), IsOkAndHolds(1000));
  EXPECT_THAT(idr_alloc(&idr_, Tag(9002), 0, 0, GFP_KERNEL), IsOkAndHolds(4097));
  EXPECT_THAT(idr_alloc(&idr_, Tag(9003), 0, 4096, GFP_KERNEL), IsErrno(ENOSPC));
  idr_remove(&idr_, 63);
  idr_remove(&idr_, 64);
  EXPECT_THAT(idr_alloc(&idr_, Tag(9004), 10, 4096, GFP_KERNEL), IsOkAndHolds(63));
  EXPECT_THAT(idr_alloc(&idr_, Tag(9005), 10, 4096, GFP_KERNEL), IsOkAndHolds(64));
  EXPECT_EQ(idr_find(&idr_, 1000), Tag(9001));
}

TEST_F(IdrTest, FreeIdBelowStartInTheSameSubtreeIsNotTaken) {
  // ids 0..200 taken, 50 freed. A search from 100 must not return 50 and must move on to 201.
  for (int i = 0; i <= 200; ++i) ASSERT_THAT(idr_alloc(&idr_, Tag(i), 0, 0, GFP_KERNEL), IsOk());
  idr_remove(&idr_, 50);
  EXPECT_THAT(idr_alloc(&idr_, Tag(1000), 100, 0, GFP_KERNEL), IsOkAndHolds(201));
  EXPECT_THAT(idr_alloc(&idr_, Tag(1001), 100, 201, GFP_KERNEL), IsErrno(ENOSPC));
  EXPECT_THAT(idr_alloc(&idr_, Tag(1002), 0, 0, GFP_KERNEL), IsOkAndHolds(50));
}

TEST_F(IdrTest, ForEachVisitsInAscendingIdOrderAndStopsAtTheFirstNonzeroReturn) {
  const std::vector<int> ids = {5000, 3, 1 << 20, 0, 70};
  for (int id : ids) ASSERT_THAT(idr_alloc(&idr_, Tag(id), id, id + 1, GFP_KERNEL), IsOkAndHolds(id));

  EXPECT_THAT(Entries(&idr_), ElementsAre(Pair(0, Tag(0)), Pair(3, Tag(3)), Pair(70, Tag(70)), Pair(5000, Tag(5000)),
                                          Pair(1 << 20, Tag(1 << 20))));

  struct Visit {
    std::vector<int> seen;
  } visit;
  const int ret = idr_for_each(
      &idr_,
      [](int id, void*, void* data) {
        auto* v = static_cast<Visit*>(data);
        v->seen.push_back(id);
        return id == 70 ? -EBUSY : 0;
      },
      &visit);
  EXPECT_EQ(ret, -EBUSY);
  EXPECT_THAT(visit.seen, ElementsAre(0, 3, 70));
}

TEST_F(IdrTest, ForEachCallbackMayRemoveTheEntryItIsGiven) {
  for (int i = 0; i < 100; ++i) ASSERT_THAT(idr_alloc(&idr_, Tag(i), 0, 0, GFP_KERNEL), IsOk());
  const int ret = idr_for_each(
      &idr_,
      [](int id, void*, void* data) {
        if (id % 3 != 0) idr_remove(static_cast<struct idr*>(data), id);
        return 0;
      },
      &idr_);
  EXPECT_EQ(ret, 0);
  const std::vector<std::pair<int, void*>> left = Entries(&idr_);
  ASSERT_EQ(left.size(), 34u);
  for (const auto& [id, p] : left) EXPECT_EQ(id % 3, 0);
  EXPECT_EQ(bug_event_count(), 0u);
}

TEST_F(IdrTest, GetNextFindsTheLowestEntryAtOrAfterTheId) {
  for (int id : {2, 64, 4097}) ASSERT_THAT(idr_alloc(&idr_, Tag(id), id, 0, GFP_KERNEL), IsOkAndHolds(id));

  int id = 0;
  EXPECT_EQ(idr_get_next(&idr_, &id), Tag(2));
  EXPECT_EQ(id, 2);
  id = 3;
  EXPECT_EQ(idr_get_next(&idr_, &id), Tag(64));
  EXPECT_EQ(id, 64);
  id = 65;
  EXPECT_EQ(idr_get_next(&idr_, &id), Tag(4097));
  EXPECT_EQ(id, 4097);
  id = 4098;
  EXPECT_THAT(idr_get_next(&idr_, &id), IsNull());
  EXPECT_EQ(id, 4098);
  id = -1;
  EXPECT_THAT(idr_get_next(&idr_, &id), IsNull());
  EXPECT_EQ(id, -1);
  id = INT_MAX;
  EXPECT_THAT(idr_get_next(&idr_, &id), IsNull());

  std::vector<int> walked;
  void* entry;
  idr_for_each_entry(&idr_, entry, id) walked.push_back(id);
  EXPECT_THAT(walked, ElementsAre(2, 64, 4097));
}

TEST_F(IdrTest, NullPointerAllocatesAnIdThatIterationDoesNotSee) {
  // v4.4 stores NULL like any pointer: the id is taken, but idr_find() cannot tell it from a free id and
  // idr_for_each()/idr_get_next()/idr_is_empty() look at the pointers only.
  EXPECT_TRUE(idr_is_empty(&idr_));
  EXPECT_THAT(idr_alloc(&idr_, nullptr, 0, 0, GFP_KERNEL), IsOkAndHolds(0));
  EXPECT_THAT(idr_find(&idr_, 0), IsNull());
  EXPECT_TRUE(idr_is_empty(&idr_));
  EXPECT_THAT(Entries(&idr_), IsEmpty());
  int id = 0;
  EXPECT_THAT(idr_get_next(&idr_, &id), IsNull());

  EXPECT_THAT(idr_alloc(&idr_, Tag(1), 0, 0, GFP_KERNEL), IsOkAndHolds(1));
  EXPECT_FALSE(idr_is_empty(&idr_));
  EXPECT_THAT(Entries(&idr_), ElementsAre(Pair(1, Tag(1))));

  // idr_replace() sees the NULL entry; afterwards iteration does too.
  EXPECT_THAT(idr_replace(&idr_, Tag(7), 0), IsOkAndHolds(nullptr));
  EXPECT_THAT(Entries(&idr_), ElementsAre(Pair(0, Tag(7)), Pair(1, Tag(1))));
  EXPECT_THAT(idr_replace(&idr_, nullptr, 0), IsOkAndHolds(Tag(7)));

  idr_remove(&idr_, 0);  // allocated, so no WARN
  idr_remove(&idr_, 1);
  EXPECT_EQ(bug_event_count(), 0u);
  EXPECT_EQ(idr_.top, nullptr);
}

TEST_F(IdrTest, ReplaceSwapsThePointerOrReportsEnoentAndEinval) {
  ASSERT_THAT(idr_alloc(&idr_, Tag(1), 10, 0, GFP_KERNEL), IsOkAndHolds(10));
  EXPECT_THAT(idr_replace(&idr_, Tag(2), 10), IsOkAndHolds(Tag(1)));
  EXPECT_EQ(idr_find(&idr_, 10), Tag(2));
  EXPECT_THAT(idr_replace(&idr_, Tag(3), 11), IsErrno(ENOENT));
  EXPECT_THAT(idr_replace(&idr_, Tag(3), 1 << 29), IsErrno(ENOENT));
  EXPECT_THAT(idr_replace(&idr_, Tag(3), -1), IsErrno(EINVAL));
  idr_remove(&idr_, 10);
  EXPECT_THAT(idr_replace(&idr_, Tag(3), 10), IsErrno(ENOENT));
  EXPECT_THAT(idr_replace(&idr_, Tag(3), 0), IsErrno(ENOENT));
  EXPECT_EQ(bug_event_count(), 0u);
}

TEST_F(IdrTest, FailslabMakesAllocEnomemAndLeavesTheIdrUnchangedAndUsable) {
  ASSERT_THAT(idr_alloc(&idr_, Tag(1), 0, 0, GFP_KERNEL), IsOkAndHolds(0));
  const size_t layers_before = LiveIdrLayers();
  set_slab_fail_hook([](const std::type_info& type, gfp_t) { return type == typeid(struct idr_layer); });

  // Needs a new path of layers: fails.
  EXPECT_THAT(idr_alloc(&idr_, Tag(2), 1 << 20, 0, GFP_KERNEL), IsErrno(ENOMEM));
  // Fits in the existing leaf: needs no layer, succeeds even now.
  EXPECT_THAT(idr_alloc(&idr_, Tag(3), 0, 0, GFP_KERNEL), IsOkAndHolds(1));
  // __GFP_NOFAIL is never failed.
  EXPECT_THAT(idr_alloc(&idr_, Tag(4), 5000, 0, GFP_KERNEL | __GFP_NOFAIL), IsOkAndHolds(5000));
  idr_remove(&idr_, 5000);
  EXPECT_EQ(LiveIdrLayers(), layers_before);

  set_slab_fail_hook(nullptr);
  EXPECT_THAT(Entries(&idr_), ElementsAre(Pair(0, Tag(1)), Pair(1, Tag(3))));
  EXPECT_THAT(idr_alloc(&idr_, Tag(2), 1 << 20, 0, GFP_KERNEL), IsOkAndHolds(1 << 20));
  EXPECT_EQ(bug_event_count(), 0u);
}

TEST_F(IdrTest, FailureHalfwayThroughAPathFreesTheLayersAlreadyTaken) {
  ASSERT_THAT(idr_alloc(&idr_, Tag(1), 0, 0, GFP_KERNEL), IsOkAndHolds(0));
  const size_t layers_before = LiveIdrLayers();
  // Growing from one layer to six for 2^30 needs 5 new top layers and 5 path layers; fail at each in turn.
  for (int allowed = 0; allowed < 10; ++allowed) {
    int calls = 0;
    set_slab_fail_hook([&calls, allowed](const std::type_info& type, gfp_t) {
      return type == typeid(struct idr_layer) && calls++ >= allowed;
    });
    EXPECT_THAT(idr_alloc(&idr_, Tag(2), 1 << 30, 0, GFP_KERNEL), IsErrno(ENOMEM)) << "allowed " << allowed;
    EXPECT_EQ(LiveIdrLayers(), layers_before) << "allowed " << allowed;
    EXPECT_EQ(idr_.layers, 1);
  }
  set_slab_fail_hook(nullptr);
  EXPECT_THAT(idr_alloc(&idr_, Tag(2), 1 << 30, 0, GFP_KERNEL), IsOkAndHolds(1 << 30));
  EXPECT_EQ(LiveIdrLayers() - layers_before, 10u);
  EXPECT_EQ(idr_find(&idr_, 0), Tag(1));
}

TEST_F(IdrTest, FullRangeBeforeAllocationFailureIsEnospcNotEnomem) {
  for (int i = 0; i < 64; ++i) ASSERT_THAT(idr_alloc(&idr_, Tag(i), 0, 64, GFP_KERNEL), IsOkAndHolds(i));
  set_slab_fail_hook([](const std::type_info&, gfp_t) { return true; });
  EXPECT_THAT(idr_alloc(&idr_, Tag(64), 0, 64, GFP_KERNEL), IsErrno(ENOSPC));
  EXPECT_THAT(idr_alloc(&idr_, Tag(64), 0, 0, GFP_KERNEL), IsErrno(ENOMEM));
}

TEST_F(IdrTest, DestroyFreesTheLayersButNotTheUserObjectsAndLeavesTheIdrUsable) {
  const size_t objects_before = live_object_count();
  std::vector<int*> objects;
  for (int i = 0; i < 5; ++i) {
    int* obj = kzalloc<int>(GFP_KERNEL);
    objects.push_back(obj);
    ASSERT_THAT(idr_alloc(&idr_, obj, i * 1000, 0, GFP_KERNEL), IsOkAndHolds(i * 1000));
  }
  ASSERT_GT(LiveIdrLayers(), 0u);

  idr_destroy(&idr_);

  EXPECT_EQ(LiveIdrLayers(), 0u);
  EXPECT_TRUE(idr_is_empty(&idr_));
  EXPECT_THAT(idr_find(&idr_, 1000), IsNull());
  EXPECT_EQ(live_object_count(), objects_before + objects.size());  // the user objects are still there
  for (int* obj : objects) kfree(obj);

  EXPECT_THAT(idr_alloc(&idr_, Tag(1), 0, 0, GFP_KERNEL), IsOkAndHolds(0));
}

TEST_F(IdrTest, ValueInitializedIdrIsEmpty) {
  struct idr fresh;
  EXPECT_TRUE(idr_is_empty(&fresh));
  EXPECT_THAT(idr_find(&fresh, 0), IsNull());
  EXPECT_THAT(idr_alloc(&fresh, Tag(1), 1, 0, GFP_KERNEL), IsOkAndHolds(1));
  idr_destroy(&fresh);
}

// --- randomized differential test against std::map ---------------------------------------------------------------

// The id the reference expects from idr_alloc(start, end), or -ENOSPC.
int RefAlloc(const std::map<int, void*>& ref, int start, int end) {
  const int64_t max = end > 0 ? end - 1 : INT_MAX;
  if (max < start) return -ENOSPC;
  int64_t candidate = start;
  for (auto it = ref.lower_bound(start); it != ref.end() && it->first == candidate; ++it) ++candidate;
  return candidate > max ? -ENOSPC : static_cast<int>(candidate);
}

void ExpectSameContents(const struct idr* idp, const std::map<int, void*>& ref) {
  std::vector<std::pair<int, void*>> want;
  for (const auto& [id, p] : ref) {
    if (p != nullptr) want.emplace_back(id, p);
  }
  ASSERT_EQ(Entries(idp), want);
  ASSERT_EQ(idr_is_empty(idp), want.empty());
}

TEST_F(IdrTest, RandomOperationsMatchAMap) {
  int enomem_seen = 0;
  for (unsigned seed = 1; seed <= 6; ++seed) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937 rng(seed);
    std::map<int, void*> ref;
    bool fail_next = false;
    set_slab_fail_hook(
        [&fail_next](const std::type_info& type, gfp_t) { return fail_next && type == typeid(struct idr_layer); });
    // Ids cluster in a few windows so that leaves fill up, plus the top of the id space.
    const int windows[] = {0, 60, 4090, 262140, 1 << 24, INT_MAX - 129};
    auto random_id = [&]() {
      const int base = windows[rng() % 6];
      return base + static_cast<int>(rng() % 130);
    };

    for (int step = 0; step < 2000; ++step) {
      const unsigned op = rng() % 10;
      if (op < 5) {
        const int start = random_id();
        const unsigned shape = rng() % 4;
        const int end = shape == 0   ? 0
                        : shape == 1 ? -static_cast<int>(rng() % 3)
                                     : static_cast<int>(std::min<int64_t>(INT_MAX, int64_t{start} + 1 + rng() % 20));
        void* ptr = rng() % 16 == 0 ? nullptr : Tag(step + 1);
        fail_next = rng() % 8 == 0;
        const ErrnoOr<int> got = idr_alloc(&idr_, ptr, start, end, GFP_KERNEL);
        fail_next = false;
        const int want = RefAlloc(ref, start, end);
        if (!got.ok() && got.error().code() == ENOMEM) {
          ++enomem_seen;
          ASSERT_GE(want, 0) << "ENOMEM where the range is full, step " << step;
        } else if (want < 0) {
          ASSERT_THAT(got, IsErrno(-want)) << "step " << step << " start " << start << " end " << end;
        } else {
          ASSERT_THAT(got, IsOkAndHolds(want)) << "step " << step << " start " << start << " end " << end;
          ref[want] = ptr;
        }
      } else if (op < 8) {
        const bool existing = !ref.empty() && rng() % 4 != 0;
        int id = random_id();
        if (existing) {
          auto it = ref.lower_bound(id);
          if (it == ref.end()) it = ref.begin();
          id = it->first;
        }
        idr_remove(&idr_, id);
        if (ref.erase(id) == 1) {
          ASSERT_EQ(bug_event_count(), 0u) << "step " << step;
        } else {
          ASSERT_THAT(WarnMessages(),
                      ElementsAre("idr_remove called for id=" + std::to_string(id) + " which is not allocated."));
          clear_bug_events();
        }
      } else if (op == 8) {
        const int id = random_id();
        void* ptr = Tag(100000 + step);
        const ErrnoOr<void*> got = idr_replace(&idr_, ptr, id);
        auto it = ref.find(id);
        if (it == ref.end()) {
          ASSERT_THAT(got, IsErrno(ENOENT)) << "step " << step;
        } else {
          ASSERT_THAT(got, IsOkAndHolds(it->second)) << "step " << step;
          it->second = ptr;
        }
      } else {
        int id = random_id();
        const int asked = id;
        void* got = idr_get_next(&idr_, &id);
        auto it = ref.lower_bound(asked);
        while (it != ref.end() && it->second == nullptr) ++it;
        if (it == ref.end()) {
          ASSERT_EQ(got, nullptr) << "step " << step;
          ASSERT_EQ(id, asked);
        } else {
          ASSERT_EQ(got, it->second) << "step " << step;
          ASSERT_EQ(id, it->first);
        }
      }

      for (int probe = 0; probe < 4; ++probe) {
        const int id = random_id();
        auto it = ref.find(id);
        ASSERT_EQ(idr_find(&idr_, id), it == ref.end() ? nullptr : it->second) << "step " << step << " id " << id;
      }
      ExpectSameContents(&idr_, ref);
      if (::testing::Test::HasFatalFailure()) return;
    }
    set_slab_fail_hook(nullptr);

    // Removing everything returns every layer.
    for (const auto& [id, p] : ref) idr_remove(&idr_, id);
    ASSERT_EQ(idr_.top, nullptr);
    ASSERT_EQ(LiveIdrLayers(), 0u);
  }
  EXPECT_GT(enomem_seen, 0);
  EXPECT_EQ(bug_event_count(), 0u);
}

}  // namespace
}  // namespace ionsim::kernel
