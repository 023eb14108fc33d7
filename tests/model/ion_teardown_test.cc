// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Module unload (ion_device_teardown, ModelBackend::Shutdown): every buffer still alive is freed and reported
// with its last owner, every page comes back, and a clean machine reports nothing. A module reload
// (ModelBackend::ReloadModule) unloads the same way and loads a device that starts afresh on the same machine.
// Runs on a machine with one heap of every type (AllHeapsModelConfig).
#include <string>
#include <utility>

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
  EXPECT_THAT(dump, HasSubstr("kmap=0 map=coherent\n"));
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

// One process allocates 1 MiB from every heap and frees the system heap's buffer (its pages go to the pools)
// and the carveout's (into its free list: the carveout defers frees); returns the device's canonical dump then,
// and the dump after the process exited with the rest still held.
std::pair<std::string, std::string> AllocateFromEveryHeapAndExit(ModelBackend* model) {
  ErrnoOr<ProcId> proc = model->spawn("app");
  EXPECT_TRUE(proc.ok());
  LibIon ion(model, proc.value());
  const int fd = ion.Open().value();
  for (unsigned int id = 0; id <= 4; id++) {
    EXPECT_THAT(ion.Alloc(fd, 1 << 20, 0, 1U << id, 0), IsOkAndHolds(static_cast<int>(id + 1)));
  }
  EXPECT_TRUE(ion.Free(fd, 1).ok());
  EXPECT_TRUE(ion.Free(fd, 3).ok());
  std::pair<std::string, std::string> dumps;
  dumps.first = model->canonical_dump().value();
  EXPECT_TRUE(model->exit(proc.value()).ok());
  dumps.second = model->canonical_dump().value();
  return dumps;
}

TEST(IonTeardownTest, AReloadedModuleStartsAfreshOnTheSameMachine) {
  // What a freshly booted machine shows (one machine at a time: /dev/ion is registered once).
  std::string booted;
  std::pair<std::string, std::string> on_fresh;
  {
    std::unique_ptr<ModelBackend> fresh = NewMachine();
    booted = fresh->canonical_dump().value();
    on_fresh = AllocateFromEveryHeapAndExit(fresh.get());
    EXPECT_THAT(fresh->Shutdown(), IsEmpty());
  }
  EXPECT_THAT(on_fresh.first, HasSubstr("buffer b5 heap=dma size=1048576 offset=0x0 "));
  EXPECT_THAT(on_fresh.first, HasSubstr("client c1 handles=3\n"));
  EXPECT_THAT(on_fresh.second, HasSubstr("free_list=b3\n"));

  std::unique_ptr<ModelBackend> model = NewMachine();
  kernel::phys_mem* const mem = model->mem();
  const std::pair<std::string, std::string> first = AllocateFromEveryHeapAndExit(model.get());
  EXPECT_EQ(first, on_fresh);
  // The system heap's pool and its deferred buffer hold pages of the machine.
  EXPECT_GT(mem->nr_allocated.load(), 0);
  EXPECT_THAT(model->ReloadModule(), IsEmpty());
  // The same machine (its page allocator carried on and got every page back) with a device as booted: serials,
  // pools, free lists, the chunk heap's counter, and the CMA area of the dma heap.
  EXPECT_EQ(model->mem(), mem);
  EXPECT_EQ(mem->nr_allocated.load(), 0);
  EXPECT_EQ(model->canonical_dump().value(), booted);
  EXPECT_EQ(model->check_invariants(), "");
  EXPECT_EQ(AllocateFromEveryHeapAndExit(model.get()), on_fresh);
  EXPECT_EQ(model->check_invariants(), "");
  // Processes still running at the reload exit first, as rmmod needs them gone.
  ErrnoOr<ProcId> proc = model->spawn("late");
  ASSERT_TRUE(proc.ok());
  LibIon ion(model.get(), proc.value());
  const int fd = ion.Open().value();
  ASSERT_TRUE(ion.Alloc(fd, 4096, 0, 1U << 4, 0).ok());
  EXPECT_THAT(model->ReloadModule(), IsEmpty());
  EXPECT_EQ(model->task(proc.value()), nullptr);
  EXPECT_EQ(model->canonical_dump().value(), booted);
  EXPECT_THAT(model->Shutdown(), IsEmpty());
}

TEST(IonTeardownTest, AReloadReportsAKernelClientStillOpenAndTheNextDeviceStartsAfresh) {
  std::unique_ptr<ModelBackend> model = NewMachine();
  const std::string booted = model->canonical_dump().value();
  ErrnoOr<kernel::ion_client*> client = kernel::ion_client_create(model->device(), "vidc");
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE(kernel::ion_alloc(client.value(), 65536, 0, 1U << 4, 0).ok());
  const std::string report = model->ReloadModule();
  EXPECT_THAT(report, HasSubstr("ion: teardown: client vidc-0 (pid 0) still open with 1 handles\n"));
  EXPECT_THAT(report, Not(HasSubstr("cma")));
  EXPECT_THAT(report, Not(HasSubstr("page allocator")));
  EXPECT_EQ(model->canonical_dump().value(), booted);
  ErrnoOr<kernel::ion_client*> again = kernel::ion_client_create(model->device(), "vidc");
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(kernel::ion_alloc(again.value(), 65536, 0, 1U << 4, 0).ok());
  EXPECT_THAT(model->canonical_dump().value(), HasSubstr("buffer b1 heap=dma size=65536 offset=0x0 "));
  EXPECT_THAT(model->canonical_dump().value(), HasSubstr("client c1 handles=1\n"));
  kernel::ion_client_destroy(again.value());
  EXPECT_THAT(model->Shutdown(), IsEmpty());
}

TEST(IonTeardownTest, AReloadReportsPagesTheMachineStillHasOut) {
  std::unique_ptr<ModelBackend> model = NewMachine();
  kernel::page* page = kernel::alloc_page(model->mem(), kernel::GFP_KERNEL);
  ASSERT_NE(page, nullptr);
  EXPECT_EQ(model->ReloadModule(), "page allocator: 1 pages still allocated\n");
  kernel::__free_pages(page, 0);
  EXPECT_THAT(model->ReloadModule(), IsEmpty());
  EXPECT_THAT(model->Shutdown(), IsEmpty());
  EXPECT_EQ(model->ReloadModule(), "module load: ENODEV\n");
}

}  // namespace
}  // namespace ionsim::testing
