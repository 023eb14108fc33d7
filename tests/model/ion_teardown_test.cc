// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Module unload (ion_device_teardown, ModelBackend::Shutdown): every buffer still alive is freed and reported
// with its last owner, every page comes back, and a clean machine reports nothing. Runs on a machine with one
// heap of every type (AllHeapsModelConfig).
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kmod/uapi/ion.h"
#include "model/backend/libion.h"
#include "model/backend/model_backend.h"
#include "model/ion.h"
#include "model/ion_priv.h"
#include "model/kernel/kref.h"
#include "model/kernel/rbtree.h"
#include "model/kernel/mm.h"
#include "tests/testing/errno_matchers.h"

namespace ionsim::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

std::unique_ptr<ModelBackend> NewMachine() {
  ErrnoOr<std::unique_ptr<ModelBackend>> model = ModelBackend::Create(AllHeapsModelConfig());
  EXPECT_TRUE(model.ok());
  return std::move(model).value();
}

TEST(IonTeardownTest, EveryHeapTypeAllocatesAndAnOrderlyExitLeavesNothingToReport) {
  std::unique_ptr<ModelBackend> model = NewMachine();
  ASSERT_EQ(model->check_invariants(), "");
  ErrnoOr<ProcId> proc = model->spawn("app");
  ASSERT_TRUE(proc.ok());
  LibIon ion(model.get(), proc.value());
  ErrnoOr<int> fd = ion.Open();
  ASSERT_TRUE(fd.ok());
  for (unsigned int id = 0; id <= 4; id++) {
    EXPECT_THAT(ion.Alloc(fd.value(), 3 << 20, 0, 1U << id, 0), IsOkAndHolds(static_cast<int>(id + 1)))
        << "heap id " << id;
  }
  const std::string dump = model->canonical_dump().value();
  EXPECT_THAT(dump, HasSubstr("buffer b1 heap=system size=3145728 offset=- "));
  EXPECT_THAT(dump, HasSubstr("buffer b3 heap=carveout size=3145728 offset=0x0 "));
  EXPECT_THAT(dump, HasSubstr("buffer b4 heap=chunk size=3145728 offset=0x0,0x4000,0x8000,"));
  EXPECT_THAT(dump, HasSubstr("kmap=0 map=wc\n"));
  EXPECT_THAT(dump, HasSubstr("  chunk allocated=3145728\n"));
  EXPECT_EQ(model->check_invariants(), "");
  ASSERT_TRUE(model->exit(proc.value()).ok());
  EXPECT_THAT(model->Shutdown(), IsEmpty());
}

TEST(IonTeardownTest, ABufferWithALeakedReferenceIsFreedAndReportedWithItsLastOwner) {
  std::unique_ptr<ModelBackend> model = NewMachine();
  ErrnoOr<ProcId> proc = model->spawn("camera");
  ASSERT_TRUE(proc.ok());
  LibIon ion(model.get(), proc.value());
  const int fd = ion.Open().value();
  ASSERT_THAT(ion.Alloc(fd, 8192, 0, 1U << 2, 0), IsOkAndHolds(1));
  // A driver takes a buffer reference and never drops it: the leak the unload must report.
  kernel::rb_node* node = kernel::rb_first(&model->device()->buffers);
  ASSERT_NE(node, nullptr);
  kernel::kref_get(&rb_entry(node, kernel::ion_buffer, node)->ref);
  ASSERT_TRUE(model->exit(proc.value()).ok());
  const std::string report = model->Shutdown();
  EXPECT_THAT(report, HasSubstr("ion: teardown: buffer b1 heap carveout size 8192 leaked by camera (pid "));
  EXPECT_THAT(report, HasSubstr("): ref 1, handles 0\n"));
  // The buffer's granules and pages came back.
  EXPECT_THAT(report, Not(HasSubstr("page allocator")));
}

TEST(IonTeardownTest, AKernelClientStillOpenIsReportedAndItsBuffersFreed) {
  std::unique_ptr<ModelBackend> model = NewMachine();
  ErrnoOr<kernel::ion_client*> client = kernel::ion_client_create(model->device(), "vidc");
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE(kernel::ion_alloc(client.value(), 65536, 0, 1U << 0, 0).ok());
  ASSERT_TRUE(kernel::ion_alloc(client.value(), 16384, 0, 1U << 3, 0).ok());
  const std::string report = model->Shutdown();
  EXPECT_THAT(report, HasSubstr("ion: teardown: client vidc-0 (pid 0) still open with 2 handles\n"));
  EXPECT_THAT(report, Not(HasSubstr("buffer")));
  EXPECT_THAT(report, Not(HasSubstr("page allocator")));
}

}  // namespace
}  // namespace ionsim::testing
