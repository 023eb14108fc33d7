// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Allocation policy of the chunk heap (reference ion.md section 3.4) and of the DMA/CMA heap (section 3.5) at
// v4.4. The chunk heap: the chunk size from the board, align beyond a chunk is EINVAL, a capacity check on the
// allocated counter before anything is taken, one genalloc block per chunk (a buffer need not be contiguous),
// rollback of a partial allocation, zeroing and the counter going down only when the deferred free runs. The
// DMA heap: cached buffers and align beyond a page are EINVAL, every other failure is v4.4's -1 (EPERM in
// userspace), no deferred free, one contiguous entry, write-combine kernel mappings, zeroed memory. Every
// operation runs the invariant checker.
#include <cstdint>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kmod/uapi/ion.h"
#include "model/ion_priv.h"
#include "model/kernel/genalloc.h"
#include "model/kernel/mm.h"
#include "tests/testing/errno_matchers.h"
#include "tests/testing/ion_fixture.h"

namespace ionsim::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr unsigned int kCarveoutMask = 1U << 2;
constexpr unsigned int kChunkMask = 1U << 3;
constexpr unsigned int kDmaMask = 1U << 4;
constexpr size_t kKiB = 1 << 10;
constexpr size_t kMiB = 1 << 20;

class IonHeapPolicyTest : public IonTest {
 protected:
  explicit IonHeapPolicyTest(const ModelConfig& config) : IonTest(config) {}
  IonHeapPolicyTest() : IonTest(AllHeapsModelConfig()) {}

  std::string Dump() {
    ErrnoOr<std::string> dump = backend_->canonical_dump();
    return dump.ok() ? dump.value() : "";
  }
  // The canonical buffer line of b<serial> (without the newline), or "".
  std::string BufferLine(unsigned long serial) {
    const std::string dump = Dump();
    const std::string key = "buffer b" + std::to_string(serial) + " ";
    const size_t at = dump.find(key);
    if (at == std::string::npos) return "";
    return dump.substr(at, dump.find('\n', at) - at);
  }
  unsigned long ChunkAllocated() { return kernel::ion_chunk_heap_allocated(backend_->model()->heap(3)); }
  unsigned long CmaUsedPages() { return kernel::ion_cma_heap_used_pages(backend_->model()->heap(4)); }
};

// ---- chunk heap ------------------------------------------------------------------------------------------------

// The dummy board's chunk heap: 4 MiB of 16 KiB chunks. 20 KiB rounds up to two chunks.
//   chunks: [b1 b1 . . . ...]
// Expect two sg entries at offsets 0x0 and 0x4000 and the allocated counter at 32 KiB.
TEST_F(IonHeapPolicyTest, ChunkBufferIsWholeChunksOfTheBoardsChunkSize) {
  ASSERT_THAT(ion_->Alloc(fd_, 20 * kKiB, 0, kChunkMask, 0), IsOkAndHolds(1));
  EXPECT_EQ(BufferLine(1), "buffer b1 heap=chunk size=20480 offset=0x0,0x4000 flags=0x0 ref=1 handles=1 kmap=0");
  EXPECT_EQ(ChunkAllocated(), 32 * kKiB);
  EXPECT_THAT(Dump(), HasSubstr("  chunk allocated=32768\n"));
}

TEST_F(IonHeapPolicyTest, ChunkAlignAboveTheChunkSizeFailsWithEinvalAndUpToItIsAccepted) {
  EXPECT_THAT(ion_->Alloc(fd_, 16 * kKiB, 32 * kKiB, kChunkMask, 0), IsErrno(EINVAL));
  EXPECT_THAT(ion_->Alloc(fd_, 16 * kKiB, 16 * kKiB, kChunkMask, 0), IsOkAndHolds(1));
  EXPECT_EQ(ChunkAllocated(), 16 * kKiB);
}

// b1 = 16 KiB, b2 = 16 KiB, b3 = 16 KiB; b2 is freed and drained:
//   chunks: [b1 .. b3 . . ...]
// A 32 KiB buffer takes one genalloc block per chunk, first fit each time.
// Expect its two entries at 0x4000 (b2's old chunk) and 0xc000: a chunk buffer is not contiguous.
TEST_F(IonHeapPolicyTest, ChunkBufferTakesOneGenallocBlockPerChunkSoItNeedNotBeContiguous) {
  ASSERT_THAT(ion_->Alloc(fd_, 16 * kKiB, 0, kChunkMask, 0), IsOkAndHolds(1));
  ASSERT_THAT(ion_->Alloc(fd_, 16 * kKiB, 0, kChunkMask, 0), IsOkAndHolds(2));
  ASSERT_THAT(ion_->Alloc(fd_, 16 * kKiB, 0, kChunkMask, 0), IsOkAndHolds(3));
  ASSERT_THAT(ion_->Free(fd_, 2), IsOk());
  ASSERT_THAT(backend_->run_deferred_free(), IsOk());
  ASSERT_THAT(ion_->Alloc(fd_, 32 * kKiB, 0, kChunkMask, 0), IsOkAndHolds(2));
  EXPECT_EQ(BufferLine(4), "buffer b4 heap=chunk size=32768 offset=0x4000,0xc000 flags=0x0 ref=1 handles=1 kmap=0");
}

// The heap is full but for one chunk. A two-chunk request fails the capacity check on the allocated counter.
// Expect ENOMEM with the genalloc pool untouched (its one free chunk still free).
TEST_F(IonHeapPolicyTest, ChunkRequestBeyondWhatIsLeftFailsWithEnomemBeforeAnyChunkIsTaken) {
  ASSERT_THAT(ion_->Alloc(fd_, 4 * kMiB - 16 * kKiB, 0, kChunkMask, 0), IsOkAndHolds(1));
  kernel::gen_pool* pool = kernel::ion_chunk_heap_pool(backend_->model()->heap(3));
  ASSERT_EQ(kernel::gen_pool_avail(pool), 16 * kKiB);
  EXPECT_THAT(ion_->Alloc(fd_, 32 * kKiB, 0, kChunkMask, 0), IsErrno(ENOMEM));
  EXPECT_EQ(kernel::gen_pool_avail(pool), 16 * kKiB);
  EXPECT_THAT(ion_->Alloc(fd_, 16 * kKiB, 0, kChunkMask, 0), IsOkAndHolds(2));
}

// A freed chunk buffer waits on the deferred-free list and still counts as allocated, so the capacity check
// fails; the core then drains the free list and retries once. Expect the retry to succeed, the counter to have
// dropped when the deferred free ran, and the freed chunks to have been zeroed before reuse.
TEST_F(IonHeapPolicyTest, ChunkCounterDropsOnlyWhenTheDeferredFreeRunsAndAllocRetriesAfterTheDrain) {
  ASSERT_THAT(ion_->Alloc(fd_, 4 * kMiB, 0, kChunkMask, 0), IsOkAndHolds(1));
  ASSERT_THAT(WriteThroughMapping(ion_.get(), fd_, 1, 4 * kMiB, 0x77), IsOk());
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  EXPECT_EQ(ChunkAllocated(), 4 * kMiB);
  EXPECT_THAT(Dump(), HasSubstr("free_list_bytes=4194304 free_list=b1\n"));
  ASSERT_THAT(ion_->Alloc(fd_, 64 * kKiB, 0, kChunkMask, 0), IsOkAndHolds(1));
  EXPECT_THAT(Dump(), Not(HasSubstr("free_list=b1\n")));
  EXPECT_EQ(ChunkAllocated(), 64 * kKiB);
  EXPECT_EQ(ReadThroughMapping(ion_.get(), fd_, 1, 64 * kKiB), std::vector<uint8_t>(64 * kKiB, 0));
}

// A chunk heap whose range starts at physical address 0: genalloc hands out chunk 0 as address 0, which
// ion_chunk_heap_allocate takes for failure, so chunk 0 is lost and counted nowhere (the allocated counter
// never sees it). A request for the whole heap then passes the capacity check, takes chunks 1..63 and fails
// on the 64th. Expect ENOMEM, every chunk taken given back (63 chunks free again), and the counter at 0.
class IonChunkAtZeroTest : public IonHeapPolicyTest {
 protected:
  static ModelConfig Config() {
    ModelConfig config;
    config.ram_base = 0;
    config.ram_size = 64 * kMiB;
    config.lowmem_size = 64 * kMiB;
    config.heaps.push_back(ModelHeapConfig{ION_HEAP_TYPE_CHUNK, 3, "chunk", 0, kMiB, 0, 16 * kKiB});
    return config;
  }
  IonChunkAtZeroTest() : IonHeapPolicyTest(Config()) {}
};

TEST_F(IonChunkAtZeroTest, ChunkZeroIsLostAndAWholeHeapRequestRollsBackEveryChunkItTook) {
  kernel::gen_pool* pool = kernel::ion_chunk_heap_pool(backend_->model()->heap(3));
  // The first request gets address 0: the chunk is taken in the bitmap but the allocation fails (twice: the
  // first try and the retry after the drain of the empty free list; the second try gets chunk 1 at 0x4000).
  ASSERT_THAT(ion_->Alloc(fd_, 16 * kKiB, 0, kChunkMask, 0), IsOkAndHolds(1));
  EXPECT_EQ(BufferLine(1), "buffer b1 heap=chunk size=16384 offset=0x4000 flags=0x0 ref=1 handles=1 kmap=0");
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  ASSERT_THAT(backend_->run_deferred_free(), IsOk());
  ASSERT_EQ(kernel::gen_pool_avail(pool), kMiB - 16 * kKiB);
  ASSERT_EQ(ChunkAllocated(), 0U);

  EXPECT_THAT(ion_->Alloc(fd_, kMiB, 0, kChunkMask, 0), IsErrno(ENOMEM));
  EXPECT_EQ(kernel::gen_pool_avail(pool), kMiB - 16 * kKiB);
  EXPECT_EQ(ChunkAllocated(), 0U);
  EXPECT_THAT(ion_->Alloc(fd_, kMiB - 16 * kKiB, 0, kChunkMask, 0), IsOkAndHolds(1));
}

// ---- DMA (CMA) heap --------------------------------------------------------------------------------------------

TEST_F(IonHeapPolicyTest, DmaCachedBufferFailsWithEinval) {
  EXPECT_THAT(ion_->Alloc(fd_, 64 * kKiB, 0, kDmaMask, ION_FLAG_CACHED), IsErrno(EINVAL));
  EXPECT_THAT(ion_->Alloc(fd_, 64 * kKiB, 0, kDmaMask, ION_FLAG_CACHED | ION_FLAG_CACHED_NEEDS_SYNC),
              IsErrno(EINVAL));
  EXPECT_EQ(CmaUsedPages(), 0U);
}

TEST_F(IonHeapPolicyTest, DmaAlignAboveAPageFailsWithEinval) {
  EXPECT_THAT(ion_->Alloc(fd_, 64 * kKiB, 2 * kernel::PAGE_SIZE, kDmaMask, 0), IsErrno(EINVAL));
  EXPECT_THAT(ion_->Alloc(fd_, 64 * kKiB, kernel::PAGE_SIZE, kDmaMask, 0), IsOkAndHolds(1));
}

// The CMA area is 8 MiB. A 16 MiB request fails inside dma_alloc_*; v4.4's ion_cma_allocate returns
// ION_CMA_ALLOCATE_FAILED (-1), which the ioctl hands to userspace as -EPERM.
// Expect EPERM, not ENOMEM.
TEST_F(IonHeapPolicyTest, DmaAllocationFailureIsMinusOneWhichUserspaceSeesAsEperm) {
  EXPECT_THAT(ion_->Alloc(fd_, 16 * kMiB, 0, kDmaMask, 0), IsErrno(EPERM));
  EXPECT_THAT(ion_->AllocFd(fd_, 16 * kMiB, kDmaMask, 0), IsErrno(EPERM));
}

// 2^39 + 2 pages: cma_alloc() @ v4.4 searches its bitmap for the count truncated to an unsigned int (2 pages)
// and succeeds, then dma_alloc_from_contiguous()'s caller zeroes the whole length, writing on past the area
// and past the end of RAM. Expect the model to stop with the kernel's oops at the first page frame without a
// struct page (fixed upstream in v5.2 by "mm: cma: fix incorrect type conversion for size during dma
// allocation").
TEST_F(IonHeapPolicyTest, DmaAllocationOfTwoTo32PagesOrMoreZeroesPastTheAreaAndOopsAtTheEndOfRam) {
  EXPECT_DEATH(ion_->Alloc(fd_, (1ULL << 51) + 2 * kernel::PAGE_SIZE, 0, kDmaMask, 0).IgnoreError(),
               "unable to handle kernel paging request at pfn 0xa0000");
}

// Heaps are tried in descending id: dma (4) first, then the carveout (2). Both fail; the last heap's error
// wins. Expect the carveout's ENOMEM, not the dma heap's EPERM.
TEST_F(IonHeapPolicyTest, DmaFailureFollowedByACarveoutFailureReportsTheCarveoutsEnomem) {
  EXPECT_THAT(ion_->Alloc(fd_, 16 * kMiB, 0, kDmaMask | kCarveoutMask, 0), IsErrno(ENOMEM));
}

// Expect one contiguous entry at an offset inside the area, allocated with dma_alloc_coherent() as v4.4 does
// (map=coherent in the dump, alloc=coherent on the heap), and the pages back in the area as soon as the handle
// goes (the DMA heap has no deferred free).
TEST_F(IonHeapPolicyTest, DmaBufferIsOneContiguousCoherentEntryFreedAtOnce) {
  ASSERT_THAT(ion_->Alloc(fd_, 20 * kKiB, 0, kDmaMask, 0), IsOkAndHolds(1));
  EXPECT_EQ(BufferLine(1), "buffer b1 heap=dma size=20480 offset=0x0 flags=0x0 ref=1 handles=1 kmap=0 map=coherent");
  EXPECT_EQ(CmaUsedPages(), 5U);
  EXPECT_THAT(Dump(), HasSubstr("heap 4 dma type=dma defer=0 free_list_bytes=0 free_list=-\n  dma alloc=coherent\n"));
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  EXPECT_EQ(CmaUsedPages(), 0U);
  EXPECT_THAT(Dump(), Not(HasSubstr("buffer b1 ")));
}

// DMA memory is zeroed by the allocation (GFP_ZERO), never on free. Expect a buffer that reuses the pages of a
// buffer filled with 0x3c to read back zeros.
TEST_F(IonHeapPolicyTest, DmaMemoryIsZeroedByTheAllocation) {
  ASSERT_THAT(ion_->Alloc(fd_, 64 * kKiB, 0, kDmaMask, 0), IsOkAndHolds(1));
  ASSERT_THAT(WriteThroughMapping(ion_.get(), fd_, 1, 64 * kKiB, 0x3c), IsOk());
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  ASSERT_THAT(ion_->Alloc(fd_, 64 * kKiB, 0, kDmaMask, 0), IsOkAndHolds(1));
  EXPECT_EQ(BufferLine(2), "buffer b2 heap=dma size=65536 offset=0x0 flags=0x0 ref=1 handles=1 kmap=0 map=coherent");
  EXPECT_EQ(ReadThroughMapping(ion_.get(), fd_, 1, 64 * kKiB), std::vector<uint8_t>(64 * kKiB, 0));
}

// A board with alloc=wc on its dma heap: uncached buffers come from dma_alloc_writecombine(), as the Android CMA
// heap drivers allocate (cached ones are still EINVAL, v4.4's check comes first). The kernel mapping and the
// zeroing are the same on the model's ARMv7-like machine. Expect map=wc, the heap's alloc=wc line, zeroed
// memory and EINVAL for a cached buffer.
class IonDmaWriteCombineTest : public IonHeapPolicyTest {
 protected:
  static ModelConfig Config() {
    ModelConfig config = AllHeapsModelConfig();
    for (ModelHeapConfig& h : config.heaps) {
      if (h.type == ION_HEAP_TYPE_DMA) h.dma_writecombine = true;
    }
    return config;
  }
  IonDmaWriteCombineTest() : IonHeapPolicyTest(Config()) {}
};

TEST_F(IonDmaWriteCombineTest, BoardWithAllocWcAllocatesUncachedDmaBuffersWriteCombine) {
  ASSERT_THAT(ion_->Alloc(fd_, 16 * kKiB, 0, kDmaMask, 0), IsOkAndHolds(1));
  EXPECT_EQ(BufferLine(1), "buffer b1 heap=dma size=16384 offset=0x0 flags=0x0 ref=1 handles=1 kmap=0 map=wc");
  EXPECT_THAT(Dump(), HasSubstr("heap 4 dma type=dma defer=0 free_list_bytes=0 free_list=-\n  dma alloc=wc\n"));
  EXPECT_EQ(ReadThroughMapping(ion_.get(), fd_, 1, 16 * kKiB), std::vector<uint8_t>(16 * kKiB, 0));
  EXPECT_THAT(ion_->Alloc(fd_, 16 * kKiB, 0, kDmaMask, ION_FLAG_CACHED), IsErrno(EINVAL));
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
}

}  // namespace
}  // namespace ionsim::testing
