// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Allocation policy of the ION model: heap selection (reference ion.md section 2.5 and section 8 item 1),
// length rules (item 2), handle ids (item 3), the carveout heap (section 3.3, item 9), system-contig
// (section 3.2) and deferred free (section 2.4, item 7). Every operation runs the invariant checker.
#include <cstdint>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kmod/uapi/ion.h"
#include "tests/testing/errno_matchers.h"
#include "tests/testing/ion_fixture.h"

namespace ionsim::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr unsigned int kContigMask = 1U << 1;
constexpr unsigned int kCarveoutMask = 1U << 2;
constexpr int kProtRw = 0x3;
constexpr int kMapShared = 0x01;

// The canonical dump's line for buffer b<serial>.
std::string BufferLine(IonBackend* backend, int serial) {
  ErrnoOr<std::string> dump = backend->canonical_dump();
  if (!dump.ok()) return "";
  const std::string key = "buffer b" + std::to_string(serial) + " ";
  size_t pos = dump.value().find(key);
  if (pos == std::string::npos) return "";
  return dump.value().substr(pos, dump.value().find('\n', pos) - pos);
}

ModelConfig CarveoutConfig(uint64_t base, uint64_t size) {
  ModelConfig config = CoreModelConfig();
  config.heaps[1].base = base;
  config.heaps[1].size = size;
  return config;
}

class IonAllocTest : public IonTest {};

TEST_F(IonAllocTest, HeapsAreTriedInDescendingIdOrderSoCarveoutWinsOverContig) {
  ASSERT_THAT(ion_->Alloc(fd_, 4096, 0, kContigMask | kCarveoutMask, 0), IsOkAndHolds(1));
  EXPECT_THAT(BufferLine(backend_.get(), 1), HasSubstr("heap=carveout"));
}

TEST_F(IonAllocTest, HeapsOutsideTheMaskAreSkipped) {
  ASSERT_THAT(ion_->Alloc(fd_, 4096, 0, kContigMask, 0), IsOkAndHolds(1));
  EXPECT_THAT(BufferLine(backend_.get(), 1), HasSubstr("heap=system_contig"));
}

TEST_F(IonAllocTest, MaskMatchingNoHeapFailsWithEnodev) {
  EXPECT_THAT(ion_->Alloc(fd_, 4096, 0, 0, 0), IsErrno(ENODEV));
  EXPECT_THAT(ion_->Alloc(fd_, 4096, 0, 1U << 3, 0), IsErrno(ENODEV));
  EXPECT_THAT(ion_->Alloc(fd_, 4096, 0, 1U << 0, 0), IsErrno(ENODEV));
}

TEST_F(IonAllocTest, FirstHeapThatSucceedsWinsAfterAnEarlierFailure) {
  // 16 KiB aligned to 8 KiB: the carveout rejects align > PAGE_SIZE, system_contig accepts align <= its block.
  ASSERT_THAT(ion_->Alloc(fd_, 16384, 8192, kContigMask | kCarveoutMask, 0), IsOkAndHolds(1));
  EXPECT_THAT(BufferLine(backend_.get(), 1), HasSubstr("heap=system_contig size=16384"));
}

TEST_F(IonAllocTest, WhenEveryMatchedHeapFailsTheLastHeapTriedGivesTheError) {
  // carveout (tried first): align 8 MiB > PAGE_SIZE -> EINVAL. system_contig (tried last): 6 MiB needs order
  // 11 >= MAX_ORDER -> ENOMEM. The last error wins.
  EXPECT_THAT(ion_->Alloc(fd_, 6 << 20, 8 << 20, kContigMask | kCarveoutMask, 0), IsErrno(ENOMEM));
  // Alone, the carveout's error is EINVAL.
  EXPECT_THAT(ion_->Alloc(fd_, 6 << 20, 8 << 20, kCarveoutMask, 0), IsErrno(EINVAL));
}

TEST_F(IonAllocTest, LengthIsPageAlignedAndTheBufferHasTheAlignedSize) {
  ASSERT_THAT(ion_->Alloc(fd_, 1, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  EXPECT_THAT(BufferLine(backend_.get(), 1), HasSubstr("size=4096 "));
}

TEST_F(IonAllocTest, ZeroLengthAfterPageAlignFailsWithEinval) {
  EXPECT_THAT(ion_->Alloc(fd_, 0, 0, kCarveoutMask, 0), IsErrno(EINVAL));
  EXPECT_THAT(ion_->Alloc(fd_, SIZE_MAX, 0, kCarveoutMask, 0), IsErrno(EINVAL));
  // Every len within PAGE_SIZE - 1 of SIZE_MAX wraps to 0 in PAGE_ALIGN.
  EXPECT_THAT(ion_->Alloc(fd_, SIZE_MAX - 4094, 0, kCarveoutMask, 0), IsErrno(EINVAL));
  // The first length below the wrap window is a real (impossible) size: the heap, not the core, refuses it.
  EXPECT_THAT(ion_->Alloc(fd_, SIZE_MAX - 4095, 0, kCarveoutMask, 0), IsErrno(ENOMEM));
}

TEST_F(IonAllocTest, HandleIdsStartAtOneAndTheLowestFreeIdIsReusedAtOnce) {
  EXPECT_THAT(ion_->Alloc(fd_, 4096, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  EXPECT_THAT(ion_->Alloc(fd_, 4096, 0, kCarveoutMask, 0), IsOkAndHolds(2));
  EXPECT_THAT(ion_->Alloc(fd_, 4096, 0, kCarveoutMask, 0), IsOkAndHolds(3));
  ASSERT_THAT(ion_->Free(fd_, 2), IsOk());
  EXPECT_THAT(ion_->Alloc(fd_, 4096, 0, kContigMask, 0), IsOkAndHolds(2));
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  EXPECT_THAT(ion_->Alloc(fd_, 4096, 0, kContigMask, 0), IsOkAndHolds(1));
  EXPECT_THAT(ion_->Alloc(fd_, 4096, 0, kContigMask, 0), IsOkAndHolds(4));
}

TEST_F(IonAllocTest, HandleIdsArePerClient) {
  ErrnoOr<int> fd2 = ion_->Open();
  ASSERT_THAT(fd2, IsOk());
  EXPECT_THAT(ion_->Alloc(fd_, 4096, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  EXPECT_THAT(ion_->Alloc(fd2.value(), 4096, 0, kCarveoutMask, 0), IsOkAndHolds(1));
}

TEST_F(IonAllocTest, CoreValidatesNeitherFlagsNorAlignment) {
  // Unknown flag bits and a huge align reach the heap; system_contig only checks align against its block.
  EXPECT_THAT(ion_->Alloc(fd_, 4096, 0, kCarveoutMask, 0xffff0000U), IsOk());
  EXPECT_THAT(ion_->Alloc(fd_, 4096, 4096, kContigMask, 0), IsOk());
  EXPECT_THAT(ion_->Alloc(fd_, 4096, 8192, kContigMask, 0), IsErrno(EINVAL));
}

TEST_F(IonAllocTest, CarveoutAlignAbovePageSizeFailsWithEinval) {
  EXPECT_THAT(ion_->Alloc(fd_, 4096, 8192, kCarveoutMask, 0), IsErrno(EINVAL));
  EXPECT_THAT(ion_->Alloc(fd_, 4096, 4096, kCarveoutMask, 0), IsOk());
}

TEST_F(IonAllocTest, CarveoutExhaustionFailsWithEnomem) {
  ASSERT_THAT(ion_->Alloc(fd_, 4 << 20, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  EXPECT_THAT(ion_->Alloc(fd_, 4096, 0, kCarveoutMask, 0), IsErrno(ENOMEM));
}

TEST_F(IonAllocTest, FreedCarveoutBufferWaitsOnTheFreeListOutsideTheDeviceTree) {
  ASSERT_THAT(ion_->Alloc(fd_, 8192, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  ErrnoOr<std::string> dump = backend_->canonical_dump();
  ASSERT_THAT(dump, IsOk());
  EXPECT_THAT(dump.value(), HasSubstr("heap 2 carveout type=carveout defer=1 free_list_bytes=8192 free_list=b1\n"));
  EXPECT_THAT(dump.value(), Not(HasSubstr("buffer b1 ")));
  ErrnoOr<std::string> heap_file = backend_->debugfs_read("ion/heaps/carveout");
  ASSERT_THAT(heap_file, IsOk());
  EXPECT_THAT(heap_file.value(), HasSubstr("          total                 0\n"));
  EXPECT_THAT(heap_file.value(), HasSubstr("   deferred free             8192\n"));
  ASSERT_THAT(backend_->run_deferred_free(), IsOk());
  dump = backend_->canonical_dump();
  EXPECT_THAT(dump.value(), HasSubstr("free_list_bytes=0 free_list=-\n"));
}

TEST_F(IonAllocTest, FreeListIsLifoAddedAndPoppedAtTheHead) {
  ASSERT_THAT(ion_->Alloc(fd_, 4096, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ASSERT_THAT(ion_->Alloc(fd_, 8192, 0, kCarveoutMask, 0), IsOkAndHolds(2));
  ASSERT_THAT(ion_->Alloc(fd_, 4096, 0, kCarveoutMask, 0), IsOkAndHolds(3));
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  ASSERT_THAT(ion_->Free(fd_, 3), IsOk());
  ASSERT_THAT(ion_->Free(fd_, 2), IsOk());
  ErrnoOr<std::string> dump = backend_->canonical_dump();
  EXPECT_THAT(dump.value(), HasSubstr("free_list_bytes=16384 free_list=b2,b3,b1\n"));
}

TEST_F(IonAllocTest, FailedCarveoutAllocationDrainsTheFreeListAndRetriesOnce) {
  ASSERT_THAT(ion_->Alloc(fd_, 4 << 20, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  // The whole carveout is on the free list; the allocation fails, drains, and succeeds on the retry.
  EXPECT_THAT(ion_->Alloc(fd_, 4 << 20, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  EXPECT_THAT(BufferLine(backend_.get(), 2), HasSubstr("offset=0x0 "));
  ErrnoOr<std::string> dump = backend_->canonical_dump();
  EXPECT_THAT(dump.value(), HasSubstr("free_list_bytes=0 free_list=-\n"));
}

// The Samsung walk-through of reference ion.md section 3.3 on a 10 MiB carveout (offsets in MiB):
//   alloc 4 -> @0     [AAAA......]
//   alloc 2 -> @4     [AAAABB....]
//   free A, free B    deferred: the pool still holds [AAAABB....]
//   alloc 3 -> @6     [AAAABBCCC.]
//   deferred frees run                 [......CCC.]
//   alloc 4 -> @0     [DDDD..CCC.]
//   alloc 3           2 + 1 MiB free, no 3 MiB run.
// Expect the 3 MiB request to fail with ENOMEM although 3 MiB are free.
class IonCarveoutFragmentationTest : public IonTest {
 protected:
  IonCarveoutFragmentationTest() : IonTest(CarveoutConfig(0x9f000000ULL, 10ULL << 20)) {}
};

TEST_F(IonCarveoutFragmentationTest, DeferredFreeFragmentsTheCarveoutAsTheSamsungCommitDescribes) {
  constexpr size_t kMiB = 1 << 20;
  ASSERT_THAT(ion_->Alloc(fd_, 4 * kMiB, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ASSERT_THAT(ion_->Alloc(fd_, 2 * kMiB, 0, kCarveoutMask, 0), IsOkAndHolds(2));
  EXPECT_THAT(BufferLine(backend_.get(), 1), HasSubstr("offset=0x0 "));
  EXPECT_THAT(BufferLine(backend_.get(), 2), HasSubstr("offset=0x400000 "));
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  ASSERT_THAT(ion_->Free(fd_, 2), IsOk());
  ASSERT_THAT(ion_->Alloc(fd_, 3 * kMiB, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  EXPECT_THAT(BufferLine(backend_.get(), 3), HasSubstr("offset=0x600000 "));
  ASSERT_THAT(backend_->run_deferred_free(), IsOk());
  ASSERT_THAT(ion_->Alloc(fd_, 4 * kMiB, 0, kCarveoutMask, 0), IsOkAndHolds(2));
  EXPECT_THAT(BufferLine(backend_.get(), 4), HasSubstr("offset=0x0 "));
  EXPECT_THAT(ion_->Alloc(fd_, 3 * kMiB, 0, kCarveoutMask, 0), IsErrno(ENOMEM));
}

class IonCarveoutAtZeroTest : public IonTest {
 protected:
  IonCarveoutAtZeroTest() : IonTest(CarveoutConfig(0, 64 << 10)) {}
};

TEST_F(IonCarveoutAtZeroTest, CarveoutBasedAtPhysicalZeroNeverHandsOutItsFirstGranule) {
  // genalloc returns address 0 for the first granule, which the carveout takes for failure and never
  // frees; the core then drains and retries, and the retry gets the next granule.
  ASSERT_THAT(ion_->Alloc(fd_, 4096, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  EXPECT_THAT(BufferLine(backend_.get(), 1), HasSubstr("offset=0x1000 "));
  // Granule 0 is lost and granule 1 is taken: 14 of the 16 granules are left.
  EXPECT_THAT(ion_->Alloc(fd_, 60 << 10, 0, kCarveoutMask, 0), IsErrno(ENOMEM));
  EXPECT_THAT(ion_->Alloc(fd_, 56 << 10, 0, kCarveoutMask, 0), IsOkAndHolds(2));
}

TEST_F(IonAllocTest, SystemContigOrderAtOrAboveMaxOrderFailsWithEnomem) {
  EXPECT_THAT(ion_->Alloc(fd_, 4 << 20, 0, kContigMask, 0), IsOk());  // order 10: the largest block
  EXPECT_THAT(ion_->Alloc(fd_, (4 << 20) + 1, 0, kContigMask, 0), IsErrno(ENOMEM));
}

TEST_F(IonAllocTest, SystemContigReturnsTheTailPagesBeyondTheAlignedLength) {
  const unsigned long before = kernel::nr_free_pages(backend_->model()->mem());
  ASSERT_THAT(ion_->Alloc(fd_, 5 * 4096, 0, kContigMask, 0), IsOkAndHolds(1));
  // get_order(20 KiB) is 3 (8 pages); the 3 pages past the length go back at once.
  EXPECT_EQ(before - kernel::nr_free_pages(backend_->model()->mem()), 5U);
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  EXPECT_EQ(kernel::nr_free_pages(backend_->model()->mem()), before);
}

TEST_F(IonAllocTest, NoCarveoutBufferEverShowsAPreviousOwnersBytes) {
  ASSERT_THAT(ion_->Alloc(fd_, 8192, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ErrnoOr<int> share = ion_->Share(fd_, 1);
  ASSERT_THAT(share, IsOk());
  ErrnoOr<uint64_t> addr = backend_->mmap(proc_, 0, 8192, kProtRw, kMapShared, share.value(), 0);
  ASSERT_THAT(addr, IsOk());
  const std::vector<uint8_t> secret(8192, 0x5a);
  ASSERT_THAT(backend_->poke(proc_, addr.value(), secret.data(), secret.size()), IsOk());
  ASSERT_THAT(backend_->munmap(proc_, addr.value(), 8192), IsOk());
  ASSERT_THAT(backend_->close(proc_, share.value()), IsOk());
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  ASSERT_THAT(backend_->run_deferred_free(), IsOk());

  std::unique_ptr<LibIon> other = NewProcess("other");
  ErrnoOr<int> other_fd = other->Open();
  ASSERT_THAT(other_fd, IsOk());
  ASSERT_THAT(other->Alloc(other_fd.value(), 8192, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  EXPECT_THAT(BufferLine(backend_.get(), 2), HasSubstr("offset=0x0 "));  // the same granules
  EXPECT_EQ(ReadThroughMapping(other.get(), other_fd.value(), 1, 8192), std::vector<uint8_t>(8192, 0));
}

TEST_F(IonAllocTest, NoSystemContigBufferEverShowsAPreviousOwnersBytes) {
  ASSERT_THAT(ion_->Alloc(fd_, 4096, 0, kContigMask, 0), IsOkAndHolds(1));
  ErrnoOr<int> share = ion_->Share(fd_, 1);
  ASSERT_THAT(share, IsOk());
  ErrnoOr<uint64_t> addr = backend_->mmap(proc_, 0, 4096, kProtRw, kMapShared, share.value(), 0);
  ASSERT_THAT(addr, IsOk());
  const std::vector<uint8_t> secret(4096, 0xa5);
  ASSERT_THAT(backend_->poke(proc_, addr.value(), secret.data(), secret.size()), IsOk());
  ASSERT_THAT(backend_->munmap(proc_, addr.value(), 4096), IsOk());
  ASSERT_THAT(backend_->close(proc_, share.value()), IsOk());
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  ASSERT_THAT(ion_->Alloc(fd_, 4096, 0, kContigMask, 0), IsOkAndHolds(1));
  EXPECT_EQ(ReadThroughMapping(ion_.get(), fd_, 1, 4096), std::vector<uint8_t>(4096, 0));
}

}  // namespace
}  // namespace ionsim::testing
