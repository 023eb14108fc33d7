// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The heap shrinker (reference ion.md section 2.4, section 8 item 7): its count is the free list's pages plus
// what the heap's pools hold; a scan frees the free list first, with ION_PRIV_FLAG_SHRINKER_FREE so the pages
// skip zeroing and the pools, then asks the heap to shrink its pools (largest order first, lowmem before
// highmem); the same shrinker answers heaps/<name>_shrink and the page allocator's direct reclaim. Every
// operation runs the invariant checker.
#include <cstdint>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kmod/uapi/ion.h"
#include "model/ion_priv.h"
#include "model/kernel/debugfs.h"
#include "model/kernel/fs.h"
#include "model/kernel/gfp.h"
#include "model/kernel/mm.h"
#include "model/kernel/mm_user.h"
#include "tests/testing/errno_matchers.h"
#include "tests/testing/ion_fixture.h"

namespace ionsim::testing {
namespace {

using ::testing::HasSubstr;

constexpr unsigned int kSystemMask = 1U << 0;
constexpr unsigned int kContigMask = 1U << 1;
constexpr size_t kKiB = 1 << 10;
constexpr size_t kMiB = 1 << 20;

class IonShrinkerTest : public IonTest {
 protected:
  explicit IonShrinkerTest(const ModelConfig& config) : IonTest(config) {}
  IonShrinkerTest() : IonTest(AllHeapsModelConfig()) {}

  kernel::phys_mem* mem() { return backend_->model()->mem(); }
  kernel::ion_heap* system_heap() { return backend_->model()->heap(0); }

  // What heaps/system_shrink reads (the shrinker's count under gfp -1, so highmem pool pages count).
  unsigned long ShrinkFileCount() {
    ErrnoOr<std::string> text = backend_->debugfs_read("ion/heaps/system_shrink");
    if (!text.ok()) return ~0UL;
    return std::stoul(text.value());
  }
  Errno ShrinkFileScan(unsigned long n) {
    return backend_->debugfs_write("ion/heaps/system_shrink", std::to_string(n));
  }
  // The shrinker's count as reclaim under gfp would see it.
  unsigned long Count(kernel::gfp_t gfp) {
    kernel::shrink_control sc;
    sc.gfp_mask = gfp;
    sc.nr_to_scan = 0;
    kernel::shrinker* s = &system_heap()->shrinker;
    return s->count_objects(s, &sc);
  }
  std::string Dump() {
    ErrnoOr<std::string> dump = backend_->canonical_dump();
    return dump.ok() ? dump.value() : "";
  }
};

// b1 = 1 MiB + 64 KiB + 4 KiB (orders 8, 4, 0: 273 pages) is freed: the deferred-free list holds it.
// Expect the count to be its 273 pages; after the drain the same 273 pages sit in the pools and are counted
// there instead.
TEST_F(IonShrinkerTest, CountIsFreeListPagesPlusPoolPages) {
  EXPECT_EQ(ShrinkFileCount(), 0U);
  ASSERT_THAT(ion_->Alloc(fd_, kMiB + 64 * kKiB + 4 * kKiB, 0, kSystemMask, 0), IsOkAndHolds(1));
  EXPECT_EQ(ShrinkFileCount(), 0U);  // a live buffer is not reclaimable
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  EXPECT_THAT(Dump(), HasSubstr("free_list_bytes=1118208 free_list=b1\n"));
  EXPECT_EQ(ShrinkFileCount(), 273U);
  ASSERT_THAT(backend_->run_deferred_free(), IsOk());
  EXPECT_THAT(Dump(), HasSubstr("  pool order=8 high=1 low=0\n  pool order=4 high=1 low=0\n  pool order=0 high=1 low=0\n"));
  EXPECT_EQ(ShrinkFileCount(), 273U);
}

// The pooled blocks came from highmem (GFP_HIGHUSER walks HighMem first). Expect reclaim for a lowmem-only
// request (GFP_KERNEL) to count none of them, and one that may use highmem to count all 273 pages.
TEST_F(IonShrinkerTest, HighmemPoolPagesCountOnlyForAGfpThatAllowsHighmem) {
  ASSERT_THAT(ion_->Alloc(fd_, kMiB + 64 * kKiB + 4 * kKiB, 0, kSystemMask, 0), IsOkAndHolds(1));
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  ASSERT_THAT(backend_->run_deferred_free(), IsOk());
  EXPECT_EQ(Count(kernel::GFP_KERNEL), 0U);
  EXPECT_EQ(Count(kernel::GFP_HIGHUSER), 273U);
}

// b1 (64 KiB, one order-4 block) is filled with 0x5a, freed, and left on the free list. A scan of 16 pages
// takes it from the free list with ION_PRIV_FLAG_SHRINKER_FREE. Expect its block back in the buddy allocator,
// not in a pool, with its bytes untouched (no zeroing: the memory is being reclaimed).
TEST_F(IonShrinkerTest, ScanFreesTheFreeListFirstBypassingZeroingAndThePools) {
  ASSERT_THAT(ion_->Alloc(fd_, 64 * kKiB, 0, kSystemMask, 0), IsOkAndHolds(1));
  ASSERT_THAT(WriteThroughMapping(ion_.get(), fd_, 1, 64 * kKiB, 0x5a), IsOk());
  const std::vector<kernel::page*> pages = ChunkPages(backend_.get(), 1);
  ASSERT_EQ(pages.size(), 1U);
  const unsigned long free_before = kernel::nr_free_pages(mem());
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  ASSERT_THAT(ShrinkFileScan(16), IsOk());
  EXPECT_THAT(Dump(), HasSubstr("free_list_bytes=0 free_list=-\n"));
  EXPECT_THAT(Dump(), HasSubstr("  pool order=8 high=0 low=0\n  pool order=4 high=0 low=0\n  pool order=0 high=0 low=0\n"));
  EXPECT_EQ(kernel::nr_free_pages(mem()), free_before + 16);
  EXPECT_EQ(kernel::page_count(pages[0]), 0);
  uint8_t byte = 0;
  kernel::page_read(kernel::nth_page(pages[0], 15), 7, &byte, 1);
  EXPECT_EQ(byte, 0x5a);
}

// Pools hold one block of each order (256 + 16 + 1 pages) and the free list holds b2 (16 pages). A scan of 17
// pages frees b2 (16 pages: the free list goes first, whole buffers) and then asks the pools for the 1 page
// left; the largest order is asked first and gives a whole order-8 block. Expect 16 + 256 pages freed and the
// order-4 and order-0 blocks still pooled.
TEST_F(IonShrinkerTest, ScanThenShrinksThePoolsLargestOrderFirstInWholeBlocks) {
  ASSERT_THAT(ion_->Alloc(fd_, kMiB + 64 * kKiB + 4 * kKiB, 0, kSystemMask, 0), IsOkAndHolds(1));
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  ASSERT_THAT(backend_->run_deferred_free(), IsOk());
  ASSERT_THAT(ion_->Alloc(fd_, 64 * kKiB, 0, kSystemMask, ION_FLAG_CACHED), IsOkAndHolds(1));
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  // v4.4 allocates cached buffers straight from the page allocator, so the pools are untouched: 16 + 273.
  ASSERT_EQ(ShrinkFileCount(), 16U + 273U);
  const unsigned long free_before = kernel::nr_free_pages(mem());
  ASSERT_THAT(ShrinkFileScan(17), IsOk());
  EXPECT_EQ(kernel::nr_free_pages(mem()) - free_before, 16U + 256U);
  EXPECT_THAT(Dump(), HasSubstr("free_list_bytes=0 free_list=-\n"));
  EXPECT_THAT(Dump(), HasSubstr("  pool order=8 high=0 low=0\n  pool order=4 high=1 low=0\n  pool order=0 high=1 low=0\n"));
}

// ---- the count type of ion_heap_shrink_scan and the simple_attr file ------------------------------------------

// v4.4's ion_heap_shrink_scan() keeps nr_to_scan in an int: 2^32 truncates to 0, and a scan of 0 returns at
// once. b1 (64 KiB) sits on the free list. Expect writing 4294967296 to heaps/system_shrink to free nothing.
TEST_F(IonShrinkerTest, ScanCountIsAnIntSoTwoToTheThirtyTwoScansNothing) {
  ASSERT_THAT(ion_->Alloc(fd_, 64 * kKiB, 0, kSystemMask, 0), IsOkAndHolds(1));
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  ASSERT_THAT(ShrinkFileScan(1ULL << 32), IsOk());
  EXPECT_THAT(Dump(), HasSubstr("type=system defer=1 free_list_bytes=65536 free_list=b1\n"));
  ASSERT_THAT(ShrinkFileScan(0), IsOk());
  EXPECT_THAT(Dump(), HasSubstr("type=system defer=1 free_list_bytes=0 free_list=-\n"));
}

// simple_attr_write() parses with simple_strtoll(): a leading '+' or blank is not part of a number, so the
// value is 0, which debug_shrink_set() reads as "everything". b1..b3 (4 KiB each) sit on the free list.
// Expect "+1" and " 1" each to empty the list, where strtoll would have freed one buffer.
TEST_F(IonShrinkerTest, ShrinkFileWriteWithALeadingPlusOrBlankParsesAsZeroAndScansEverything) {
  for (const char* text : {"+1", " 1"}) {
    SCOPED_TRACE(text);
    for (int i = 0; i < 3; i++) ASSERT_THAT(ion_->Alloc(fd_, 4 * kKiB, 0, kSystemMask, 0), IsOkAndHolds(1 + i));
    for (int i = 0; i < 3; i++) ASSERT_THAT(ion_->Free(fd_, 1 + i), IsOk());
    ASSERT_THAT(backend_->debugfs_write("ion/heaps/system_shrink", text), IsOk());
    EXPECT_THAT(Dump(), HasSubstr("type=system defer=1 free_list_bytes=0 free_list=-\n"));
  }
}

// simple_strtoull() wraps a value that does not fit in 64 bits instead of clamping it: 2^64 + 1 is 1.
// b1..b3 (4 KiB each) sit on the free list. Expect a scan of one page: two buffers left.
TEST_F(IonShrinkerTest, ShrinkFileWriteWrapsAValueBeyondSixtyFourBits) {
  for (int i = 0; i < 3; i++) ASSERT_THAT(ion_->Alloc(fd_, 4 * kKiB, 0, kSystemMask, 0), IsOkAndHolds(1 + i));
  for (int i = 0; i < 3; i++) ASSERT_THAT(ion_->Free(fd_, 1 + i), IsOk());
  ASSERT_THAT(backend_->debugfs_write("ion/heaps/system_shrink", "18446744073709551617"), IsOk());
  EXPECT_THAT(Dump(), HasSubstr("type=system defer=1 free_list_bytes=8192 "));
}

// simple_attr_read() formats the value at offset 0 only; a read at a later offset continues from the text saved
// in the open file, whatever the count is by then. b1 (64 KiB: 16 pages) is on the free list; the file is
// read one byte at a time, and b2 (another 16 pages) is freed between the first and second byte.
// Expect "16\n" in three reads, then end of file.
TEST_F(IonShrinkerTest, ContinuedShrinkFileReadServesTheTextSavedAtTheFirstRead) {
  ASSERT_THAT(ion_->Alloc(fd_, 64 * kKiB, 0, kSystemMask, 0), IsOkAndHolds(1));
  ASSERT_THAT(ion_->Alloc(fd_, 64 * kKiB, 0, kSystemMask, 0), IsOkAndHolds(2));
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  ErrnoOr<kernel::file*> file = kernel::debugfs_open("ion/heaps/system_shrink", kernel::O_RDONLY);
  ASSERT_THAT(file, IsOk());
  std::string text;
  kernel::loff_t pos = 0;
  for (int i = 0; i < 5; i++) {
    char byte = 0;
    ErrnoOr<ssize_t> n = Errno(-EINVAL);
    {
      kernel::kernel_ds_scope kernel_ds;
      n = kernel::vfs_read(file.value(), reinterpret_cast<kernel::user_ptr_t>(&byte), 1, &pos);
    }
    ASSERT_THAT(n, IsOk());
    if (n.value() == 0) break;
    text += byte;
    if (i == 0) {
      ASSERT_THAT(ion_->Free(fd_, 2), IsOk());
    }
  }
  kernel::fput(file.value());
  EXPECT_EQ(text, "16\n");
  EXPECT_EQ(ShrinkFileCount(), 32U);
}

// A machine with 2 MiB of highmem: a 3 MiB + 68 KiB buffer leaves, once drained, two highmem and one lowmem
// order-8 block in the pool (plus a lowmem order-4 block and a lowmem page).
// Expect a 256-page scan to take the lowmem order-8 block, and only then the highmem ones.
class IonShrinkerSmallHighmemTest : public IonShrinkerTest {
 protected:
  static ModelConfig Config() {
    ModelConfig config = AllHeapsModelConfig();
    config.lowmem_size = 494 * kMiB;
    return config;
  }
  IonShrinkerSmallHighmemTest() : IonShrinkerTest(Config()) {}
};

TEST_F(IonShrinkerSmallHighmemTest, PoolShrinkFreesLowmemBlocksBeforeHighmemOnes) {
  ASSERT_THAT(ion_->Alloc(fd_, 3 * kMiB + 64 * kKiB + 4 * kKiB, 0, kSystemMask, 0), IsOkAndHolds(1));
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  ASSERT_THAT(backend_->run_deferred_free(), IsOk());
  ASSERT_THAT(Dump(), HasSubstr("  pool order=8 high=2 low=1\n  pool order=4 high=0 low=1\n  pool order=0 high=0 low=1\n"));
  // Reclaim without __GFP_HIGHMEM sees the lowmem blocks only: 256 + 16 + 1.
  EXPECT_EQ(Count(kernel::GFP_KERNEL), 273U);
  ASSERT_THAT(ShrinkFileScan(256), IsOk());
  EXPECT_THAT(Dump(), HasSubstr("  pool order=8 high=2 low=0\n  pool order=4 high=0 low=1\n  pool order=0 high=0 low=1\n"));
  ASSERT_THAT(ShrinkFileScan(256), IsOk());
  EXPECT_THAT(Dump(), HasSubstr("  pool order=8 high=1 low=0\n  pool order=4 high=0 low=1\n  pool order=0 high=0 low=1\n"));
}

// A 16 MiB machine with the system and system-contig heaps: two system buffers of 2047 pages (the most the
// half-of-RAM limit allows) take nearly all of RAM; freed and drained, they sit in the pools. A 4 MiB
// system-contig buffer (one order-10 block) then finds no free block, and direct reclaim calls the shrinker.
// Expect the shrinker to give every pooled page back (the model's reclaim scans all a shrinker counts, see
// model/kernel/mm.h) and the allocation to succeed with them.
class IonShrinkerReclaimTest : public IonShrinkerTest {
 protected:
  static ModelConfig Config() {
    ModelConfig config;
    config.ram_size = 16 * kMiB;
    config.lowmem_size = 16 * kMiB;
    config.heaps.push_back(ModelHeapConfig{ION_HEAP_TYPE_SYSTEM, 0, "system", 0, 0, 0, 0});
    config.heaps.push_back(ModelHeapConfig{ION_HEAP_TYPE_SYSTEM_CONTIG, 1, "system contig", 0, 0, 0, 0});
    return config;
  }
  IonShrinkerReclaimTest() : IonShrinkerTest(Config()) {}
};

TEST_F(IonShrinkerReclaimTest, DirectReclaimTakesPooledPagesBackSoAContiguousAllocationSucceeds) {
  ASSERT_EQ(kernel::totalram_pages(mem()), 4096U);
  ASSERT_THAT(ion_->Alloc(fd_, 2047 * kernel::PAGE_SIZE, 0, kSystemMask, 0), IsOkAndHolds(1));
  ASSERT_THAT(ion_->Alloc(fd_, 2047 * kernel::PAGE_SIZE, 0, kSystemMask, 0), IsOkAndHolds(2));
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  ASSERT_THAT(ion_->Free(fd_, 2), IsOk());
  ASSERT_THAT(backend_->run_deferred_free(), IsOk());
  const unsigned long pooled = ShrinkFileCount();
  ASSERT_EQ(pooled, 2U * 2047U);
  ASSERT_LT(kernel::nr_free_pages(mem()), 1024U);
  const unsigned long allocated_before = kernel::nr_allocated_pages(mem());

  ASSERT_THAT(ion_->Alloc(fd_, 4 * kMiB, 0, kContigMask, 0), IsOkAndHolds(1));
  EXPECT_EQ(ShrinkFileCount(), 0U);
  EXPECT_THAT(Dump(), HasSubstr("  pool order=8 high=0 low=0\n  pool order=4 high=0 low=0\n  pool order=0 high=0 low=0\n"));
  EXPECT_EQ(kernel::nr_allocated_pages(mem()), allocated_before - pooled + 1024U);
}

// The same machine with both system buffers alive (cached, so nothing is ever pooled): the shrinker counts 0
// and reclaim finds nothing. Expect the 4 MiB system-contig allocation to fail with ENOMEM.
TEST_F(IonShrinkerReclaimTest, WithEveryPageInLiveBuffersReclaimFindsNothingAndTheContiguousAllocationFails) {
  ASSERT_THAT(ion_->Alloc(fd_, 2047 * kernel::PAGE_SIZE, 0, kSystemMask, ION_FLAG_CACHED), IsOkAndHolds(1));
  ASSERT_THAT(ion_->Alloc(fd_, 2047 * kernel::PAGE_SIZE, 0, kSystemMask, ION_FLAG_CACHED), IsOkAndHolds(2));
  EXPECT_EQ(ShrinkFileCount(), 0U);
  EXPECT_THAT(ion_->Alloc(fd_, 4 * kMiB, 0, kContigMask, 0), IsErrno(ENOMEM));
}

}  // namespace
}  // namespace ionsim::testing
