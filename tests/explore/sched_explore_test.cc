// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The interleaving scheduler on model primitives: the baton and the default schedule, forced choices and their
// replay, a thread blocked on a held lock, and each oracle (deadlock, lock held at a system call's return, kref
// put below zero and get from zero, use-after-free and double free through the slab quarantine).
#include "model/kernel/sched_explore.h"

#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "model/kernel/bug.h"
#include "model/kernel/kref.h"
#include "model/kernel/lock.h"
#include "model/kernel/slab.h"

namespace ionsim::kernel {
namespace {

struct counted {
  struct kref ref;
  int payload;
};

void release_counted(struct kref* ref) { kfree(reinterpret_cast<counted*>(ref)); }

bool HasFinding(const InterleavingScheduler& s, const std::string& kind) {
  for (const SchedFinding& f : s.findings()) {
    if (f.kind == kind) return true;
  }
  return false;
}

class SchedExploreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    set_bug_printing(false);
    clear_bug_events();
  }
  void TearDown() override {
    clear_bug_events();
    set_bug_printing(true);
  }
};

TEST_F(SchedExploreTest, DefaultScheduleRunsThreadsInOrderAndReplays) {
  struct mutex m;
  mutex_init(&m, "test.m");
  std::vector<int> order;
  auto body = [&](size_t k) {
    for (int i = 0; i < 2; ++i) {
      mutex_lock(&m);
      order.push_back(static_cast<int>(k));
      mutex_unlock(&m);
    }
  };
  InterleavingScheduler plain({"A", "B"}, {});
  ASSERT_TRUE(plain.Run(body));
  EXPECT_EQ(order, (std::vector<int>{0, 0, 1, 1}));
  EXPECT_EQ(plain.preemptions(), 0);
  EXPECT_TRUE(plain.Deviations().empty());
  EXPECT_TRUE(plain.findings().empty());

  // Switch to B at A's second acquire (point 3: start, acquire, released, acquire).
  order.clear();
  InterleavingScheduler forced({"A", "B"}, {{3, 1}});
  ASSERT_TRUE(forced.Run(body));
  EXPECT_EQ(order, (std::vector<int>{0, 1, 1, 0}));
  EXPECT_EQ(forced.preemptions(), 1);
  EXPECT_FALSE(forced.diverged());
  EXPECT_EQ(forced.Deviations(), (std::map<size_t, int>{{3, 1}}));

  order.clear();
  InterleavingScheduler again({"A", "B"}, forced.Deviations());
  ASSERT_TRUE(again.Run(body));
  EXPECT_EQ(order, (std::vector<int>{0, 1, 1, 0}));
  ASSERT_EQ(again.points().size(), forced.points().size());
  for (size_t p = 0; p < again.points().size(); ++p) {
    EXPECT_EQ(again.points()[p].chosen, forced.points()[p].chosen);
    EXPECT_EQ(again.points()[p].where, forced.points()[p].where);
  }
}

TEST_F(SchedExploreTest, ThreadBlockedOnAHeldLockIsNotRunnable) {
  struct mutex m;
  struct mutex n;
  mutex_init(&m, "test.m");
  mutex_init(&n, "test.n");
  std::vector<int> order;
  // A takes m and is preempted about to take n (point 2); B wants m: it cannot run, so A goes on, releases m,
  // and only then B gets it.
  auto body = [&](size_t k) {
    mutex_lock(&m);
    if (k == 0) {
      mutex_lock(&n);
      mutex_unlock(&n);
    }
    order.push_back(static_cast<int>(k));
    mutex_unlock(&m);
  };
  InterleavingScheduler s({"A", "B"}, {{2, 1}});
  ASSERT_TRUE(s.Run(body));
  EXPECT_EQ(order, (std::vector<int>{0, 1}));
  EXPECT_EQ(s.preemptions(), 1);
  bool saw_blocked = false;
  for (const SchedPoint& p : s.points()) {
    saw_blocked |= p.thread == 1 && p.where == "acquire mutex test.m" && !((p.enabled >> 1) & 1);
  }
  EXPECT_TRUE(saw_blocked);
}

TEST_F(SchedExploreTest, ReportsADeadlock) {
  // Leaked on purpose: the deadlocked threads stay parked on them.
  auto* a = new struct mutex;
  auto* b = new struct mutex;
  mutex_init(a, "test.a");
  mutex_init(b, "test.b");
  auto body = [a, b](size_t k) {
    struct mutex* first = k == 0 ? a : b;
    struct mutex* second = k == 0 ? b : a;
    mutex_lock(first);
    mutex_lock(second);
    mutex_unlock(second);
    mutex_unlock(first);
  };
  // Point 2 is A about to take b, holding a: B runs and takes b.
  auto* s = new InterleavingScheduler({"A", "B"}, {{2, 1}});
  EXPECT_FALSE(s->Run(body));
  ASSERT_TRUE(HasFinding(*s, "deadlock"));
  const SchedFinding& f = s->findings().front();
  EXPECT_NE(f.message.find("A waits for mutex test.b"), std::string::npos) << f.message;
  EXPECT_NE(f.message.find("B waits for mutex test.a"), std::string::npos) << f.message;
  ASSERT_EQ(f.positions.size(), 2u);
  EXPECT_NE(f.positions[0].find("holding mutex test.a"), std::string::npos) << f.positions[0];
}

TEST_F(SchedExploreTest, ReportsALockHeldAtSystemCallReturn) {
  struct mutex m;
  mutex_init(&m, "test.m");
  InterleavingScheduler s({"A"}, {});
  ASSERT_TRUE(s.Run([&m](size_t) {
    InterleavingScheduler::OpBoundary("op", true);
    mutex_lock(&m);
    InterleavingScheduler::OpBoundary("op", false);
    mutex_unlock(&m);
  }));
  ASSERT_TRUE(HasFinding(s, "lock-held-at-return"));
  EXPECT_NE(s.findings().front().message.find("mutex test.m"), std::string::npos);
}

TEST_F(SchedExploreTest, ReportsKrefMisuseAndUseAfterFree) {
  QuarantineBegin();
  counted* obj = kzalloc<counted>(GFP_KERNEL);
  ASSERT_NE(obj, nullptr);
  kref_init(&obj->ref);
  InterleavingScheduler s({"A", "B"}, {});
  // A drops the only reference (the object is freed into the quarantine); B puts it again.
  ASSERT_TRUE(s.Run([obj](size_t) { kref_put(&obj->ref, release_counted); }));
  EXPECT_TRUE(HasFinding(s, "use-after-free"));
  EXPECT_TRUE(HasFinding(s, "kref-put-below-zero"));
  EXPECT_TRUE(QuarantineEnd().empty());

  QuarantineBegin();
  counted* zero = kzalloc<counted>(GFP_KERNEL);
  InterleavingScheduler g({"A"}, {});
  ASSERT_TRUE(g.Run([zero](size_t) { kref_get(&zero->ref); }));
  EXPECT_TRUE(HasFinding(g, "kref-get-from-zero"));
  kfree(zero);
  QuarantineEnd();
  EXPECT_EQ(live_object_count(), 0u) << format_live_objects();
}

TEST_F(SchedExploreTest, ReportsADoubleFreeWithoutStopping) {
  QuarantineBegin();
  counted* obj = kzalloc<counted>(GFP_KERNEL);
  InterleavingScheduler s({"A", "B"}, {});
  ASSERT_TRUE(s.Run([obj](size_t) { kfree(obj); }));
  ASSERT_TRUE(HasFinding(s, "double-free"));
  EXPECT_NE(s.findings().front().message.find("counted"), std::string::npos) << s.findings().front().message;
  EXPECT_TRUE(QuarantineEnd().empty());
  EXPECT_EQ(live_object_count(), 0u) << format_live_objects();
}

TEST(ScheduleTextTest, ParsesWhatItFormats) {
  std::map<size_t, int> s;
  std::string error;
  ASSERT_TRUE(ParseSchedule("7:1,15:0", &s, &error)) << error;
  EXPECT_EQ(s, (std::map<size_t, int>{{7, 1}, {15, 0}}));
  EXPECT_EQ(FormatSchedule(s), "7:1,15:0");
  ASSERT_TRUE(ParseSchedule("", &s, &error));
  EXPECT_TRUE(s.empty());
  EXPECT_FALSE(ParseSchedule("7", &s, &error));
  EXPECT_FALSE(ParseSchedule("7:1,3:0", &s, &error));
  EXPECT_NE(error.find("increase"), std::string::npos);
  EXPECT_FALSE(ParseSchedule("x:1", &s, &error));
  EXPECT_FALSE(ParseSchedule("1:64", &s, &error));
}

}  // namespace
}  // namespace ionsim::kernel
