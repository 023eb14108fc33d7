// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// ION profiles (kmod/ion_profile.h, docs/profiles.md): the switch table and what each switch changes on the
// model (the board's profile record: board_test.cc). 4.4-compat is v4.4.121 with HEAP_QUERY (v4.11), the 4.12 ALLOC and
// DMA_BUF_IOCTL_SYNC (v4.6); 4.4 is strict v4.4.121; 4.4.0 is v4.4 before the CVE-2016-9120 fix.
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kmod/ion_profile.h"
#include "kmod/uapi/ion.h"
#include "model/backend/libion.h"
#include "model/backend/model_backend.h"
#include "model/kernel/bug.h"
#include "model/kernel/lock.h"
#include "tests/testing/errno_matchers.h"

namespace ionsim {
namespace {

namespace k = ::ionsim::kernel;
using ::ionsim::testing::IsErrno;
using ::ionsim::testing::IsOk;
using ::ionsim::testing::IsOkAndHolds;
using ::testing::HasSubstr;

constexpr unsigned int kCarveoutMask = 1U << 2;
constexpr unsigned long kDmaBufIoctlSync = 0x40086200;  // _IOW('b', 0, struct dma_buf_sync)
constexpr uint64_t kDmaBufSyncStartRw = 3;

TEST(IonProfileTableTest, DefaultIsTheCompatMixAndEveryProfileIsFoundByItsName) {
  ASSERT_NE(ion_profile_default(), nullptr);
  EXPECT_STREQ(ion_profile_default()->name, "4.4-compat");
  std::vector<std::string> names;
  for (unsigned int i = 0; ion_profile_at(i) != nullptr; i++) {
    const ion_profile* p = ion_profile_at(i);
    names.push_back(p->name);
    EXPECT_EQ(ion_profile_find(p->name), p);
    EXPECT_GT(std::strlen(p->upstream), 0u);
    EXPECT_LE(std::strlen(p->name), static_cast<size_t>(ION_PROFILE_NAME_MAX));
  }
  EXPECT_THAT(names, ::testing::ElementsAre("4.4-compat", "4.4", "4.4.0", "android-3.18"));
  EXPECT_EQ(ion_profile_find("4.14"), nullptr);
  EXPECT_EQ(ion_profile_find(nullptr), nullptr);
  char list[128];
  ion_profile_names(list, sizeof(list));
  EXPECT_STREQ(list, "4.4-compat, 4.4, 4.4.0, android-3.18");
}

TEST(IonProfileTableTest, EverySwitchNamesItsUpstreamSourceAndSomeProfileHasIt) {
  for (int sw = 0; sw < ION_SW_COUNT; sw++) {
    const struct ion_profile_switch_info* info = ion_profile_switch_info(static_cast<ion_profile_switch>(sw));
    ASSERT_NE(info, nullptr);
    EXPECT_THAT(info->provenance, HasSubstr(" @ ")) << info->name;
    EXPECT_THAT(info->provenance, HasSubstr("()")) << info->name;
    EXPECT_GT(std::strlen(info->without), 0u) << info->name;
    bool someone = false;
    for (unsigned int i = 0; ion_profile_at(i) != nullptr; i++) {
      someone |= ion_profile_has(ion_profile_at(i), static_cast<ion_profile_switch>(sw));
    }
    EXPECT_TRUE(someone) << info->name;
  }
  // The default keeps v4.4.121's core with the three later ABI additions, and none of Android's hardening.
  for (ion_profile_switch sw : {ION_SW_HEAP_QUERY, ION_SW_NEW_ALLOC, ION_SW_DMA_BUF_SYNC, ION_SW_FREE_ONE_LOCK}) {
    EXPECT_TRUE(ion_profile_has(ion_profile_default(), sw)) << sw;
  }
  const ion_profile* android = ion_profile_find("android-3.18");
  for (ion_profile_switch sw : {ION_SW_USER_REF_COUNT, ION_SW_ALLOC_GRAB_HANDLE, ION_SW_HANDLE_OVERFLOW_CHECK,
                                ION_SW_CLIENT_DESTROY_LOCK}) {
    EXPECT_FALSE(ion_profile_has(ion_profile_default(), sw)) << sw;
    EXPECT_TRUE(ion_profile_has(android, sw)) << sw;
  }
  EXPECT_TRUE(ion_profile_has(android, ION_SW_FREE_ONE_LOCK));
  EXPECT_FALSE(ion_profile_has(android, ION_SW_HEAP_QUERY));
  EXPECT_FALSE(ion_profile_has(android, ION_SW_DMA_BUF_SYNC));
  EXPECT_EQ(ion_profile_switch_info(ION_SW_COUNT), nullptr);
  EXPECT_FALSE(ion_profile_has(nullptr, ION_SW_HEAP_QUERY));
  const ion_profile* strict = ion_profile_find("4.4");
  EXPECT_FALSE(ion_profile_has(strict, ION_SW_HEAP_QUERY));
  EXPECT_FALSE(ion_profile_has(strict, ION_SW_NEW_ALLOC));
  EXPECT_FALSE(ion_profile_has(strict, ION_SW_DMA_BUF_SYNC));
  EXPECT_TRUE(ion_profile_has(strict, ION_SW_FREE_ONE_LOCK));
  EXPECT_FALSE(ion_profile_has(ion_profile_find("4.4.0"), ION_SW_FREE_ONE_LOCK));
}

// A model machine of the core heaps running `profile`, with one process "app" holding /dev/ion.
class IonProfileTest : public ::testing::Test {
 protected:
  void Boot(const std::string& profile) {
    ModelConfig config = CoreModelConfig();
    config.profile = profile;
    ErrnoOr<std::unique_ptr<ModelBackend>> b = ModelBackend::Create(config);
    ASSERT_THAT(b, IsOk());
    backend_ = std::move(b).value();
    ErrnoOr<ProcId> p = backend_->spawn("app");
    ASSERT_THAT(p, IsOk());
    proc_ = p.value();
    ion_ = std::make_unique<LibIon>(backend_.get(), proc_);
    ErrnoOr<int> fd = ion_->Open();
    ASSERT_THAT(fd, IsOk());
    fd_ = fd.value();
  }
  void TearDown() override {
    if (backend_) {
      EXPECT_EQ(backend_->Shutdown(), "");
    }
  }

  // ALLOC of handle 1, SHARE of it and two IMPORTs of the shared fd: three userspace references to one handle.
  // Returns the shared fd.
  int ThreeUserReferences() {
    EXPECT_THAT(ion_->Alloc(fd_, 4096, 0, kCarveoutMask, 0), IsOkAndHolds(1));
    ErrnoOr<int> shared = ion_->Share(fd_, 1);
    EXPECT_THAT(shared, IsOk());
    const int fd = shared.ok() ? shared.value() : -1;
    EXPECT_THAT(ion_->Import(fd_, fd), IsOkAndHolds(1));
    EXPECT_THAT(ion_->Import(fd_, fd), IsOkAndHolds(1));
    return fd;
  }

  std::string Dump() {
    ErrnoOr<std::string> dump = backend_->canonical_dump();
    EXPECT_THAT(dump, IsOk());
    return dump.ok() ? dump.value() : "";
  }

  ErrnoOr<long> Query(uint32_t cnt, uint64_t heaps, uint32_t reserved0) {
    ion_heap_query q = {};
    q.cnt = cnt;
    q.heaps = heaps;
    q.reserved0 = reserved0;
    return ion_->Ioctl(fd_, ION_IOC_HEAP_QUERY, &q, sizeof(q));
  }

  std::unique_ptr<ModelBackend> backend_;
  ProcId proc_ = 0;
  std::unique_ptr<LibIon> ion_;
  int fd_ = -1;
};

TEST_F(IonProfileTest, UnknownProfileDoesNotBoot) {
  ModelConfig config = CoreModelConfig();
  config.profile = "2.6.32";
  EXPECT_THAT(ModelBackend::Create(config), IsErrno(EINVAL));
}

TEST_F(IonProfileTest, CompatAnswersHeapQueryNewAllocAndDmaBufSync) {
  Boot("");
  EXPECT_THAT(ion_->HeapCount(fd_), IsOkAndHolds(2));
  ErrnoOr<int> buf = ion_->AllocFd(fd_, 4096, kCarveoutMask, 0);
  ASSERT_THAT(buf, IsOk());
  uint64_t flags = kDmaBufSyncStartRw;
  EXPECT_THAT(ion_->Ioctl(buf.value(), kDmaBufIoctlSync, &flags, sizeof(flags)), IsOkAndHolds(0));
  flags |= 4;  // DMA_BUF_SYNC_END
  EXPECT_THAT(ion_->Ioctl(buf.value(), kDmaBufIoctlSync, &flags, sizeof(flags)), IsOkAndHolds(0));
  EXPECT_THAT(backend_->close(proc_, buf.value()), IsOk());
}

TEST_F(IonProfileTest, StrictV44AnswersHeapQueryNewAllocAndDmaBufSyncWithEnotty) {
  Boot("4.4");
  EXPECT_THAT(ion_->HeapCount(fd_), IsErrno(ENOTTY));
  EXPECT_THAT(ion_->AllocFd(fd_, 4096, kCarveoutMask, 0), IsErrno(ENOTTY));
  EXPECT_THAT(ion_->Alloc(fd_, 4096, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ErrnoOr<int> shared = ion_->Share(fd_, 1);
  ASSERT_THAT(shared, IsOk());
  uint64_t flags = kDmaBufSyncStartRw;
  EXPECT_THAT(ion_->Ioctl(shared.value(), kDmaBufIoctlSync, &flags, sizeof(flags)), IsErrno(ENOTTY));
  flags = ~0ULL;  // flags v4.6 would refuse with EINVAL: a v4.4 dma-buf file has no ioctl at all
  EXPECT_THAT(ion_->Ioctl(shared.value(), kDmaBufIoctlSync, &flags, sizeof(flags)), IsErrno(ENOTTY));
  EXPECT_THAT(backend_->close(proc_, shared.value()), IsOk());
  EXPECT_THAT(ion_->Free(fd_, 1), IsOk());
}

TEST_F(IonProfileTest, StrictV44CopiesTheArgumentInBeforeItsEnottyAndHasNoReservedFieldCheck) {
  Boot("4.4");
  // ion_ioctl() @ v4.4 copies _IOC_SIZE bytes in for a write-direction command before its switch.
  EXPECT_THAT(backend_->ioctl(proc_, fd_, ION_IOC_HEAP_QUERY, 8), IsErrno(EFAULT));
  // No validate_ioctl_arg() (v4.11): a nonzero reserved field is ENOTTY without a WARN.
  EXPECT_THAT(Query(0, 0, 1), IsErrno(ENOTTY));
  EXPECT_EQ(k::bug_event_count(k::BugKind::kWarn), 0u);
}

TEST_F(IonProfileTest, CompatRefusesANonzeroReservedFieldWithEinvalAndAWarn) {
  Boot("4.4-compat");
  EXPECT_THAT(Query(0, 0, 1), IsErrno(EINVAL));
  ASSERT_EQ(k::bug_event_count(k::BugKind::kWarn), 1u);
  k::clear_bug_events();
}

// The client->lock acquisitions of one FREE, by a lock hook.
int g_client_locks = 0;
void CountClientLocks(k::LockEvent event, k::LockKind, const void*, const char* name) {
  if (event == k::LockEvent::kAcquired && std::strcmp(name, "ion_client.lock") == 0) g_client_locks++;
}

// The client->lock acquisitions of op.
int ClientLocksOf(const std::function<void()>& op) {
  g_client_locks = 0;
  k::set_lock_hook(CountClientLocks);
  op();
  k::set_lock_hook(nullptr);
  return g_client_locks;
}

int ClientLocksOfOneFree(LibIon* ion, int fd, int id) {
  return ClientLocksOf([&] { EXPECT_THAT(ion->Free(fd, id), IsOk()); });
}

TEST_F(IonProfileTest, FixedFreeTakesTheClientLockOnce) {
  Boot("4.4");
  ASSERT_THAT(ion_->Alloc(fd_, 4096, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  EXPECT_EQ(ClientLocksOfOneFree(ion_.get(), fd_, 1), 1);
  EXPECT_THAT(ion_->Free(fd_, 1), IsErrno(EINVAL));
}

TEST_F(IonProfileTest, PreFixFreeTakesTheClientLockFourTimesWithTheSameResult) {
  Boot("4.4.0");
  ASSERT_THAT(ion_->Alloc(fd_, 4096, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  // ion_handle_get_by_id(), ion_free()'s validate, ion_free()'s ion_handle_put(), the final ion_handle_put().
  EXPECT_EQ(ClientLocksOfOneFree(ion_.get(), fd_, 1), 4);
  EXPECT_THAT(ion_->Free(fd_, 1), IsErrno(EINVAL));
  // A handle held by a second import: the pre-fix FREE drops one reference, the id stays valid.
  ASSERT_THAT(ion_->Alloc(fd_, 4096, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ErrnoOr<int> shared = ion_->Share(fd_, 1);
  ASSERT_THAT(shared, IsOk());
  EXPECT_THAT(ion_->Import(fd_, shared.value()), IsOkAndHolds(1));
  EXPECT_THAT(ion_->Free(fd_, 1), IsOk());
  EXPECT_THAT(ion_->Free(fd_, 1), IsOk());
  EXPECT_THAT(ion_->Free(fd_, 1), IsErrno(EINVAL));
  EXPECT_THAT(backend_->close(proc_, shared.value()), IsOk());
}

// Android 3.18: userspace's references are counted apart; repeated IMPORTs leave the kref alone and every one
// of them needs its FREE.
TEST_F(IonProfileTest, AndroidFreeDropsOneUserReferenceAndTheKrefWithTheLast) {
  Boot("android-3.18");
  const int shared = ThreeUserReferences();
  EXPECT_THAT(Dump(), HasSubstr("  handle 1 b1 ref=1 kmap=0 user=3\n"));
  EXPECT_THAT(ion_->Free(fd_, 1), IsOk());
  EXPECT_THAT(ion_->Free(fd_, 1), IsOk());
  EXPECT_THAT(ion_->Free(fd_, 1), IsOk());
  EXPECT_THAT(ion_->Free(fd_, 1), IsErrno(EINVAL));
  EXPECT_EQ(k::bug_event_count(k::BugKind::kWarn), 0u);
  EXPECT_THAT(backend_->close(proc_, shared), IsOk());
}

// The same three references on v4.4 are three krefs of the handle, and no user= column is printed.
TEST_F(IonProfileTest, V44ImportsMoveTheHandleKref) {
  Boot("4.4");
  const int shared = ThreeUserReferences();
  EXPECT_THAT(Dump(), HasSubstr("  handle 1 b1 ref=3 kmap=0\n"));
  for (int i = 0; i < 3; i++) EXPECT_THAT(ion_->Free(fd_, 1), IsOk());
  EXPECT_THAT(backend_->close(proc_, shared), IsOk());
}

// ALLOC on Android 3.18 takes client->lock three times (the grab with ion_handle_add(), pass_to_user(), the
// grab's put when the ioctl ends); v4.4 once.
TEST_F(IonProfileTest, AndroidAllocHoldsAGrabbedReferenceUntilTheIoctlEnds) {
  Boot("android-3.18");
  EXPECT_EQ(ClientLocksOf([&] { EXPECT_THAT(ion_->Alloc(fd_, 4096, 0, kCarveoutMask, 0), IsOkAndHolds(1)); }), 3);
  EXPECT_THAT(Dump(), HasSubstr("  handle 1 b1 ref=1 kmap=0 user=1\n"));
  EXPECT_THAT(ion_->Free(fd_, 1), IsOk());
}

TEST_F(IonProfileTest, V44AllocTakesTheClientLockOnce) {
  Boot("4.4");
  EXPECT_EQ(ClientLocksOf([&] { EXPECT_THAT(ion_->Alloc(fd_, 4096, 0, kCarveoutMask, 0), IsOkAndHolds(1)); }), 1);
  EXPECT_THAT(ion_->Free(fd_, 1), IsOk());
}

// Reference section 5 item 4 with 8-bit counters: on v4.4 the 255th IMPORT wraps the handle's kref; on
// Android 3.18 it fails with EOVERFLOW (the user count would wrap) and nothing wraps.
class IonOverflowTest : public IonProfileTest {
 protected:
  void SetUp() override {
    k::kref_set_counter_bits(8);
    k::kref_reset_wrap_count();
  }
  void TearDown() override {
    IonProfileTest::TearDown();
    k::kref_set_counter_bits(32);
    k::clear_bug_events();
  }
};

TEST_F(IonOverflowTest, AndroidImportGivesEoverflowBeforeTheUserCountWraps) {
  Boot("android-3.18");
  ASSERT_THAT(ion_->Alloc(fd_, 4096, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ErrnoOr<int> shared = ion_->Share(fd_, 1);
  ASSERT_THAT(shared, IsOk());
  for (int i = 0; i < 254; i++) ASSERT_THAT(ion_->Import(fd_, shared.value()), IsOkAndHolds(1)) << i;
  EXPECT_THAT(ion_->Import(fd_, shared.value()), IsErrno(EOVERFLOW));
  EXPECT_EQ(k::kref_wrap_count(), 0u);
  for (int i = 0; i < 255; i++) ASSERT_THAT(ion_->Free(fd_, 1), IsOk()) << i;
  EXPECT_THAT(ion_->Free(fd_, 1), IsErrno(EINVAL));
  EXPECT_THAT(backend_->close(proc_, shared.value()), IsOk());
}

TEST_F(IonOverflowTest, V44ImportWrapsTheHandleKref) {
  Boot("4.4");
  ASSERT_THAT(ion_->Alloc(fd_, 4096, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ErrnoOr<int> shared = ion_->Share(fd_, 1);
  ASSERT_THAT(shared, IsOk());
  // An 8-bit two's-complement count goes 1 .. 127, wraps to -128, and reaches -1 after 254 IMPORTs.
  for (int i = 0; i < 254; i++) ASSERT_THAT(ion_->Import(fd_, shared.value()), IsOkAndHolds(1)) << i;
  EXPECT_EQ(k::kref_wrap_count(), 1u);
  // The next IMPORT takes the count to 0 without a release: the handle is still in the idr with no references.
  EXPECT_THAT(ion_->Import(fd_, shared.value()), IsOkAndHolds(1));
  EXPECT_THAT(backend_->close(proc_, shared.value()), IsOk());
}

}  // namespace
}  // namespace ionsim
