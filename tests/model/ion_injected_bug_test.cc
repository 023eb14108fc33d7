// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The test-only injected bug (model/ion_priv.h: ion_injected_bugs) that tools/fuzz/prove_bug_found.sh makes the
// op fuzzer find: off by default, the faithful FREE of a handle imported twice keeps it reachable by id, and with
// the bug on the invariant checker reports the handle that left the idr while still in the rb-tree, as it does
// without taking ION's locks (ION_CHECK_QUIESCENT, the fuzz machine's way), which takes none of them.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/backend/libion.h"
#include "model/backend/model_backend.h"
#include "model/ion_priv.h"
#include "model/kernel/bug.h"
#include "model/kernel/lock.h"

namespace ionsim {
namespace {

namespace k = ::ionsim::kernel;

class InjectedFreeBugTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ErrnoOr<std::unique_ptr<ModelBackend>> b = ModelBackend::Create(CoreModelConfig());
    ASSERT_TRUE(b.ok());
    backend_ = std::move(b).value();
    ErrnoOr<ProcId> p = backend_->spawn("app");
    ASSERT_TRUE(p.ok());
    ion_ = std::make_unique<LibIon>(backend_.get(), p.value());
    ErrnoOr<int> fd = ion_->Open();
    ASSERT_TRUE(fd.ok());
    fd_ = fd.value();
  }
  void TearDown() override { k::ion_injected_bugs.free_unlinks_referenced_handle = false; }

  // alloc, map, import into the same client (the handle's second reference), then FREE once.
  int AllocImportFree() {
    ErrnoOr<int> h = ion_->Alloc(fd_, 4096, 0, 1u << 2, 0);
    EXPECT_TRUE(h.ok());
    ErrnoOr<int> dmabuf = ion_->Map(fd_, h.value());
    EXPECT_TRUE(dmabuf.ok());
    ErrnoOr<int> again = ion_->Import(fd_, dmabuf.value());
    EXPECT_TRUE(again.ok());
    EXPECT_EQ(again.value(), h.value());
    EXPECT_TRUE(ion_->Free(fd_, h.value()).ok());
    EXPECT_TRUE(ion_->Close(dmabuf.value()).ok());
    return h.value();
  }

  std::unique_ptr<ModelBackend> backend_;
  std::unique_ptr<LibIon> ion_;
  int fd_ = -1;
};

TEST_F(InjectedFreeBugTest, IsOffByDefault) { EXPECT_FALSE(k::ion_injected_bugs.free_unlinks_referenced_handle); }

TEST_F(InjectedFreeBugTest, FaithfulFreeOfAHandleImportedTwiceKeepsItReachableById) {
  const int id = AllocImportFree();
  EXPECT_EQ(backend_->check_invariants(), "");
  ErrnoOr<int> shared = ion_->Share(fd_, id);
  ASSERT_TRUE(shared.ok());
  EXPECT_TRUE(ion_->Close(shared.value()).ok());
  EXPECT_TRUE(ion_->Free(fd_, id).ok());
  EXPECT_EQ(ion_->Free(fd_, id).code(), EINVAL);
  EXPECT_EQ(backend_->Shutdown(), "");
}

TEST_F(InjectedFreeBugTest, WhenOnTheCheckerSeesAReferencedHandleMissingFromTheIdr) {
  k::ion_injected_bugs.free_unlinks_referenced_handle = true;
  const int id = AllocImportFree();
  const std::string report = backend_->check_invariants();
  EXPECT_NE(report.find("is in the tree but not in the idr"), std::string::npos) << report;
  // Without ION's locks (the fuzz machine's way) the checker sees the same.
  EXPECT_EQ(backend_->check_invariants(k::ION_CHECK_DEBUGFS_TEXT, true, k::ION_CHECK_QUIESCENT), report);
  EXPECT_EQ(ion_->Share(fd_, id).error().code(), EINVAL);  // unreachable by id while alive
  // The client's teardown destroys the handle and removes its id a second time: idr_remove() WARNs.
  EXPECT_EQ(backend_->Shutdown(), "");
  ASSERT_EQ(k::bug_event_count(k::BugKind::kWarn), 1u) << k::format_bug_events();
  EXPECT_NE(k::bug_events()[0].message.find("which is not allocated"), std::string::npos);
  k::clear_bug_events();
}

// The locks the checker takes, by name, while a lock hook records them.
std::vector<std::string> g_acquired;
void RecordAcquired(k::LockEvent event, k::LockKind, const void*, const char* name) {
  if (event == k::LockEvent::kAcquired) g_acquired.push_back(name);
}

TEST_F(InjectedFreeBugTest, TheQuiescentCheckerTakesNoIonLock) {
  AllocImportFree();
  auto ion_locks = [] {
    std::vector<std::string> out;
    for (const std::string& name : g_acquired) {
      if (name.rfind("ion_", 0) == 0) out.push_back(name);
    }
    return out;
  };
  g_acquired.clear();
  k::set_lock_hook(RecordAcquired);
  EXPECT_EQ(backend_->check_invariants(k::ION_CHECK_DEBUGFS_SUM), "");
  k::set_lock_hook(nullptr);
  EXPECT_THAT(ion_locks(), ::testing::IsSupersetOf({"ion_device.lock", "ion_device.buffer_lock", "ion_client.lock",
                                                     "ion_buffer.lock", "ion_heap.free_lock"}));
  g_acquired.clear();
  k::set_lock_hook(RecordAcquired);
  EXPECT_EQ(backend_->check_invariants(k::ION_CHECK_DEBUGFS_SUM, true, k::ION_CHECK_QUIESCENT), "");
  k::set_lock_hook(nullptr);
  EXPECT_THAT(ion_locks(), ::testing::IsEmpty());
  EXPECT_EQ(backend_->Shutdown(), "");
}

}  // namespace
}  // namespace ionsim
