// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// ION under concurrent userspace threads (run under --config=tsan too). v4.4's locking is the post-fix
// ordering of reference ion.md section 5: FREE looks up, frees and puts under one hold of client->lock
// (CVE-2016-9120), SHARE takes its buffer reference before dropping client->lock. Invariants are checked at
// quiescent points (the checker walks state other threads would be changing mid-operation).
#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "kmod/uapi/ion.h"
#include "model/backend/libion.h"
#include "model/backend/model_backend.h"
#include "tests/testing/errno_matchers.h"

namespace ionsim::testing {
namespace {

constexpr unsigned int kCarveoutMask = 1U << 2;
constexpr unsigned int kContigMask = 1U << 1;

std::unique_ptr<ModelBackend> Boot() {
  ErrnoOr<std::unique_ptr<ModelBackend>> backend = ModelBackend::Create(CoreModelConfig());
  if (!backend.ok()) return nullptr;
  return std::move(backend).value();
}

// Two threads of one process FREE the same id at the same moment, 200 times. With the fixed ordering exactly
// one FREE finds the handle; the other gets EINVAL, and no handle is put twice.
TEST(IonConcurrencyTest, ConcurrentFreesOfOneIdSucceedExactlyOnce) {
  std::unique_ptr<ModelBackend> backend = Boot();
  ASSERT_NE(backend, nullptr);
  ErrnoOr<ProcId> proc = backend->spawn("racer");
  ASSERT_THAT(proc, IsOk());
  LibIon main_ion(backend.get(), proc.value());
  LibIon a(backend.get(), proc.value());
  LibIon b(backend.get(), proc.value());
  ErrnoOr<int> fd = main_ion.Open();
  ASSERT_THAT(fd, IsOk());
  ASSERT_NE(a.Scratch(), 0U);
  ASSERT_NE(b.Scratch(), 0U);
  for (int round = 0; round < 200; round++) {
    ASSERT_THAT(main_ion.Alloc(fd.value(), 4096, 0, kCarveoutMask | kContigMask, 0), IsOkAndHolds(1));
    std::atomic<int> go{0};
    Errno ra, rb;
    std::thread ta([&] {
      go.fetch_add(1);
      while (go.load() < 2) {
      }
      ra = a.Free(fd.value(), 1);
    });
    std::thread tb([&] {
      go.fetch_add(1);
      while (go.load() < 2) {
      }
      rb = b.Free(fd.value(), 1);
    });
    ta.join();
    tb.join();
    EXPECT_EQ(ra.ok() + rb.ok(), 1) << "round " << round << ": " << ra << " " << rb;
    EXPECT_TRUE(ra.ok() || ra.code() == EINVAL);
    EXPECT_TRUE(rb.ok() || rb.code() == EINVAL);
    ASSERT_EQ(backend->check_invariants(), "");
  }
}

// Four processes allocate, share, import into a neighbour's client and free, all at once, on both heaps.
TEST(IonConcurrencyTest, ProcessesAllocatingSharingAndFreeingAtOnceKeepEveryInvariant) {
  std::unique_ptr<ModelBackend> backend = Boot();
  ASSERT_NE(backend, nullptr);
  constexpr int kProcs = 4;
  std::vector<std::unique_ptr<LibIon>> ions;
  std::vector<int> fds;
  for (int i = 0; i < kProcs; i++) {
    ErrnoOr<ProcId> proc = backend->spawn("worker");
    ASSERT_THAT(proc, IsOk());
    ions.push_back(std::make_unique<LibIon>(backend.get(), proc.value()));
    ErrnoOr<int> fd = ions.back()->Open();
    ASSERT_THAT(fd, IsOk());
    fds.push_back(fd.value());
    ASSERT_NE(ions.back()->Scratch(), 0U);
  }
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < kProcs; i++) {
    threads.emplace_back([&, i] {
      LibIon& ion = *ions[i];
      for (int n = 0; n < 300; n++) {
        ErrnoOr<int> id = ion.Alloc(fds[i], 4096 * (1 + n % 4), 0, n % 2 ? kCarveoutMask : kContigMask, 0);
        if (!id.ok()) {
          if (id.error().code() != ENOMEM) failures++;
          continue;
        }
        ErrnoOr<int> share = ion.Share(fds[i], id.value());
        if (!share.ok()) {
          failures++;
          continue;
        }
        ErrnoOr<int> again = ion.Import(fds[i], share.value());
        if (!again.ok() || again.value() != id.value()) failures++;
        if (!ion.Free(fds[i], id.value()).ok() || !ion.Free(fds[i], id.value()).ok()) failures++;
        if (!ion.backend()->close(ion.proc(), share.value()).ok()) failures++;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(backend->check_invariants(), "");
  ASSERT_THAT(backend->run_deferred_free(), IsOk());
  ErrnoOr<std::string> dump = backend->canonical_dump();
  ASSERT_THAT(dump, IsOk());
  EXPECT_EQ(dump.value().find("buffer "), std::string::npos) << dump.value();
}

}  // namespace
}  // namespace ionsim::testing
