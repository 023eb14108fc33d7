// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The page arrays of v4.4: ion_buffer_create's buffer->pages (cached buffers whose user mappings fault) and
// ion_heap_map_kernel's temporary array for vmap are sized from the buffer's length, and both are filled from the
// sg table, whose entries can cover more (a chunk-heap buffer is whole chunks). Upstream stores every page of
// every entry, past the end of the array; vmalloc rounds the array up to whole pages, so the stores land in the
// slack and nothing crashes. The model reports each such store run as an out-of-bounds event and carries on. A
// failed page-array allocation in ion_heap_map_kernel returns NULL, which ion_buffer_kmap_get turns into a
// WARN_ONCE and EINVAL (reference ion.md section 2.2).
#include <cstdint>
#include <string>
#include <typeinfo>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kmod/uapi/ion.h"
#include "model/ion_priv.h"
#include "model/kernel/bug.h"
#include "model/kernel/dma_buf.h"
#include "model/kernel/slab.h"
#include "tests/testing/errno_matchers.h"
#include "tests/testing/ion_fixture.h"

namespace ionsim::testing {
namespace {

using ::testing::HasSubstr;

constexpr unsigned int kCarveoutMask = 1U << 2;
constexpr unsigned int kChunkMask = 1U << 3;
constexpr size_t kKiB = 1 << 10;

class IonKmapTest : public IonTest {
 protected:
  IonKmapTest() : IonTest(AllHeapsModelConfig()) {}
  ~IonKmapTest() override { kernel::set_slab_fail_hook(nullptr); }

  std::string Dump() {
    ErrnoOr<std::string> dump = backend_->canonical_dump();
    return dump.ok() ? dump.value() : "";
  }
  // The recorded events of `kind`, formatted, and then every event cleared.
  static std::string TakeEvents(kernel::BugKind kind, size_t* count) {
    std::string out;
    *count = 0;
    for (const kernel::BugEvent& e : kernel::bug_events()) {
      if (e.kind != kind) continue;
      ++*count;
      out += std::string(e.function) + ": " + e.message + "\n";
    }
    kernel::clear_bug_events();
    return out;
  }
};

// The dummy board's chunk heap has 16 KiB chunks. A 4 KiB buffer takes one chunk: one sg entry of four pages.
//   buffer->pages (1 entry asked, vmalloc'd as one page of 512):  [p0][p1 p2 p3 ...slack...]
// Expect ion_buffer_create to report the three stores past the one-entry array as one out-of-bounds event, the
// allocation to succeed, and the buffer to stay usable through a mapping.
TEST_F(IonKmapTest, CachedChunkBufferShorterThanItsChunkReportsTheFaultPageArrayOverrun) {
  ASSERT_THAT(ion_->Alloc(fd_, 4 * kKiB, 0, kChunkMask, ION_FLAG_CACHED), IsOkAndHolds(1));
  size_t count = 0;
  const std::string events = TakeEvents(kernel::BugKind::kOutOfBounds, &count);
  EXPECT_EQ(count, 1u) << events;
  EXPECT_THAT(events, HasSubstr("ion_buffer_create"));
  EXPECT_THAT(events, HasSubstr("4 page pointers into an array of 1"));
  EXPECT_THAT(WriteThroughMapping(ion_.get(), fd_, 1, 4 * kKiB, 0x5a), IsOk());
  EXPECT_EQ(ReadThroughMapping(ion_.get(), fd_, 1, 4 * kKiB), std::vector<uint8_t>(4 * kKiB, 0x5a));
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
}

// The same 4 KiB chunk-heap buffer, uncached, mapped into the kernel by DMA_BUF_IOCTL_SYNC START: v4.4's
// BUG_ON(i >= npages) tests the sg index (0 < 1) and does not fire; the four page pointers go into a one-entry
// array. Expect one out-of-bounds event from ion_heap_map_kernel, the sync to succeed with kmap=1, and the
// process to carry on.
TEST_F(IonKmapTest, KernelMappingOfAChunkBufferShorterThanItsChunkReportsThePageArrayOverrun) {
  ASSERT_THAT(ion_->Alloc(fd_, 4 * kKiB, 0, kChunkMask, 0), IsOkAndHolds(1));
  ErrnoOr<int> share = ion_->Share(fd_, 1);
  ASSERT_THAT(share, IsOk());
  ASSERT_THAT(ion_->DmaBufSync(share.value(), kernel::DMA_BUF_SYNC_START | kernel::DMA_BUF_SYNC_RW), IsOk());
  size_t count = 0;
  const std::string events = TakeEvents(kernel::BugKind::kOutOfBounds, &count);
  EXPECT_EQ(count, 1u) << events;
  EXPECT_THAT(events, HasSubstr("ion_heap_map_kernel"));
  EXPECT_THAT(events, HasSubstr("4 page pointers into an array of 1"));
  EXPECT_THAT(Dump(), HasSubstr("buffer b1 heap=chunk size=4096 offset=0x0 flags=0x0 ref=2 handles=1 kmap=1\n"));
  ASSERT_THAT(ion_->DmaBufSync(share.value(), kernel::DMA_BUF_SYNC_END | kernel::DMA_BUF_SYNC_RW), IsOk());
  ASSERT_THAT(backend_->close(proc_, share.value()), IsOk());
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
}

// A chunk-heap buffer of whole chunks fills its arrays exactly. Expect no event.
TEST_F(IonKmapTest, KernelMappingOfAWholeChunkBufferStoresNothingPastThePageArray) {
  ASSERT_THAT(ion_->Alloc(fd_, 32 * kKiB, 0, kChunkMask, ION_FLAG_CACHED), IsOkAndHolds(1));
  ErrnoOr<int> share = ion_->Share(fd_, 1);
  ASSERT_THAT(share, IsOk());
  ASSERT_THAT(ion_->DmaBufSync(share.value(), kernel::DMA_BUF_SYNC_START | kernel::DMA_BUF_SYNC_RW), IsOk());
  EXPECT_EQ(kernel::bug_event_count(), 0u) << kernel::format_bug_events();
  ASSERT_THAT(ion_->DmaBufSync(share.value(), kernel::DMA_BUF_SYNC_END | kernel::DMA_BUF_SYNC_RW), IsOk());
  ASSERT_THAT(backend_->close(proc_, share.value()), IsOk());
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
}

// The page array of ion_heap_map_kernel cannot be allocated: v4.4 returns NULL instead of an ERR_PTR, and
// ion_buffer_kmap_get says so with WARN_ONCE("heap->ops->map_kernel should return ERR_PTR on error") and returns
// -EINVAL. Expect DMA_BUF_IOCTL_SYNC START to fail with EINVAL, that WARN, and kmap to stay 0.
TEST_F(IonKmapTest, FailedPageArrayAllocationInMapKernelWarnsAndGivesEinval) {
  ASSERT_THAT(ion_->Alloc(fd_, 8 * kKiB, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ErrnoOr<int> share = ion_->Share(fd_, 1);
  ASSERT_THAT(share, IsOk());
  kernel::set_slab_fail_hook(
      [](const std::type_info& type, kernel::gfp_t) { return type == typeid(kernel::page*); });
  EXPECT_THAT(ion_->DmaBufSync(share.value(), kernel::DMA_BUF_SYNC_START | kernel::DMA_BUF_SYNC_RW),
              IsErrno(EINVAL));
  kernel::set_slab_fail_hook(nullptr);
  size_t count = 0;
  const std::string warns = TakeEvents(kernel::BugKind::kWarn, &count);
  EXPECT_EQ(count, 1u) << warns;
  EXPECT_THAT(warns, HasSubstr("heap->ops->map_kernel should return ERR_PTR on error"));
  EXPECT_THAT(Dump(), HasSubstr("buffer b1 heap=carveout size=8192 offset=0x0 flags=0x0 ref=2 handles=1 kmap=0\n"));
  ASSERT_THAT(backend_->close(proc_, share.value()), IsOk());
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
}

}  // namespace
}  // namespace ionsim::testing
