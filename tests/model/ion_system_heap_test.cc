// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Allocation policy of the system heap and its page pools (reference ion.md section 3.1, section 8 item 8):
// greedy chunks of orders 8, 4 and 0 whose order never grows again, one sg entry per chunk, the alignment and
// half-of-RAM limits, rollback of a failed allocation, pools that uncached buffers fill on free (after zeroing)
// and empty on allocation (highmem first), cached buffers that bypass the pools, and the pool lines of
// heaps/system (section 4) and of the canonical dump. Every operation runs the invariant checker.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kmod/uapi/ion.h"
#include "model/ion_priv.h"
#include "model/kernel/mm.h"
#include "tests/testing/errno_matchers.h"
#include "tests/testing/ion_fixture.h"

namespace ionsim::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::EndsWith;
using ::testing::HasSubstr;

constexpr unsigned int kSystemMask = 1U << 0;
constexpr size_t kKiB = 1 << 10;
constexpr size_t kMiB = 1 << 20;

// The page order of each sg entry of buffer b<serial>, in sg order ({} when the buffer is not alive or an entry
// is not a whole power-of-two block).
std::vector<unsigned int> ChunkOrders(CheckingBackend* backend, unsigned long serial) {
  kernel::ion_buffer* buffer = FindBuffer(backend, serial);
  if (!buffer) return {};
  std::vector<unsigned int> orders;
  kernel::scatterlist* sg;
  unsigned int i;
  for_each_sg(buffer->sg_table->sgl, sg, buffer->sg_table->nents, i) {
    unsigned int order = 0;
    while ((kernel::PAGE_SIZE << order) < sg->length) order++;
    if ((kernel::PAGE_SIZE << order) != sg->length) return {};
    orders.push_back(order);
  }
  return orders;
}

std::vector<unsigned int> Repeat(unsigned int order, int n) { return std::vector<unsigned int>(n, order); }

std::vector<unsigned int> Concat(std::vector<unsigned int> a, const std::vector<unsigned int>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// The canonical dump's three pool lines of the system heap.
std::string PoolLines(IonBackend* backend) {
  ErrnoOr<std::string> dump = backend->canonical_dump();
  if (!dump.ok()) return "";
  const std::string& s = dump.value();
  const size_t start = s.find("  pool order=8 ");
  if (start == std::string::npos) return "";
  size_t end = start;
  for (int line = 0; line < 3 && end != std::string::npos; line++) end = s.find('\n', end) + 1;
  return s.substr(start, end - start);
}

// Counts the page allocator's calls per order (without failing any) while alive.
class AllocCounter {
 public:
  explicit AllocCounter(kernel::phys_mem* mem) : mem_(mem), counts_(std::make_shared<std::vector<int>>(11, 0)) {
    std::shared_ptr<std::vector<int>> counts = counts_;
    kernel::set_page_alloc_fail_hook(mem_, [counts](kernel::gfp_t, unsigned int order) {
      (*counts)[order]++;
      return false;
    });
  }
  ~AllocCounter() { kernel::set_page_alloc_fail_hook(mem_, {}); }
  int calls(unsigned int order) const { return (*counts_)[order]; }
  int total() const {
    int n = 0;
    for (int c : *counts_) n += c;
    return n;
  }

 private:
  kernel::phys_mem* mem_;
  std::shared_ptr<std::vector<int>> counts_;
};

class IonSystemHeapTest : public IonTest {
 protected:
  IonSystemHeapTest() : IonTest(AllHeapsModelConfig()) {}
  kernel::phys_mem* mem() { return backend_->model()->mem(); }
};

TEST_F(IonSystemHeapTest, ChunksAreGreedyOrders840WhoseOrderNeverGrowsAgain) {
  struct Case {
    size_t len;
    std::vector<unsigned int> orders;
  };
  const std::vector<Case> cases = {
      {1, {0}},
      {4 * kKiB, {0}},
      {8 * kKiB, {0, 0}},
      {60 * kKiB, Repeat(0, 15)},
      {64 * kKiB, {4}},
      {68 * kKiB, {4, 0}},
      {kMiB - 4 * kKiB, Concat(Repeat(4, 15), Repeat(0, 15))},
      {kMiB, {8}},
      {kMiB + 1, {8, 0}},
      {kMiB + 64 * kKiB + 4 * kKiB, {8, 4, 0}},
      {kMiB + kMiB / 2, Concat({8}, Repeat(4, 8))},
      {2 * kMiB + 4 * kKiB, {8, 8, 0}},
      {3 * kMiB + 128 * kKiB + 12 * kKiB, {8, 8, 8, 4, 4, 0, 0, 0}},
  };
  unsigned long serial = 0;
  for (const Case& c : cases) {
    ASSERT_THAT(ion_->Alloc(fd_, c.len, 0, kSystemMask, 0), IsOkAndHolds(1)) << "len " << c.len;
    serial++;
    EXPECT_EQ(ChunkOrders(backend_.get(), serial), c.orders) << "len " << c.len;
    // One sg entry per chunk, together exactly the page-aligned length.
    kernel::ion_buffer* buffer = FindBuffer(backend_.get(), serial);
    ASSERT_NE(buffer, nullptr);
    EXPECT_EQ(buffer->sg_table->nents, c.orders.size()) << "len " << c.len;
    EXPECT_EQ(buffer->size, kernel::PAGE_ALIGN(c.len)) << "len " << c.len;
    ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  }
}

TEST_F(IonSystemHeapTest, WithoutOrder8BlocksTheBufferIsBuiltFromOrder4) {
  kernel::set_page_alloc_fail_hook(mem(), [](kernel::gfp_t, unsigned int order) { return order == 8; });
  ASSERT_THAT(ion_->Alloc(fd_, 2 * kMiB, 0, kSystemMask, 0), IsOkAndHolds(1));
  kernel::set_page_alloc_fail_hook(mem(), {});
  EXPECT_EQ(ChunkOrders(backend_.get(), 1), Repeat(4, 32));
}

TEST_F(IonSystemHeapTest, OnceAnOrder8AllocationFailsTheBufferNeverReturnsToOrder8) {
  // The second order-8 request fails; every later one would succeed, but none is made: max_order stays 4.
  auto order8_calls = std::make_shared<int>(0);
  kernel::set_page_alloc_fail_hook(mem(), [order8_calls](kernel::gfp_t, unsigned int order) {
    return order == 8 && ++*order8_calls == 2;
  });
  ASSERT_THAT(ion_->Alloc(fd_, 3 * kMiB, 0, kSystemMask, 0), IsOkAndHolds(1));
  kernel::set_page_alloc_fail_hook(mem(), {});
  EXPECT_EQ(ChunkOrders(backend_.get(), 1), Concat({8}, Repeat(4, 32)));
  EXPECT_EQ(*order8_calls, 2);
}

TEST_F(IonSystemHeapTest, AlignAbovePageSizeFailsWithEinval) {
  EXPECT_THAT(ion_->Alloc(fd_, 64 * kKiB, 2 * kernel::PAGE_SIZE, kSystemMask, 0), IsErrno(EINVAL));
  EXPECT_THAT(ion_->Alloc(fd_, 64 * kKiB, kernel::PAGE_SIZE, kSystemMask, 0), IsOkAndHolds(1));
}

// A 16 MiB machine whose 4 KiB carveout is reserved: totalram_pages is 4095, so "half of RAM" is 4095 / 2 =
// 2047 pages in the kernel's integer division. Expect 2047 pages to pass the limit and 2048 (8 MiB, nominally
// half of RAM) to fail with ENOMEM before a single page is taken.
class IonSystemHeapSmallRamTest : public IonTest {
 protected:
  static ModelConfig Config() {
    ModelConfig config;
    config.ram_size = 16 * kMiB;
    config.lowmem_size = 16 * kMiB;
    config.heaps.push_back(ModelHeapConfig{ION_HEAP_TYPE_SYSTEM, 0, "system", 0, 0, 0, 0});
    config.heaps.push_back(ModelHeapConfig{ION_HEAP_TYPE_CARVEOUT, 2, "carveout",
                                           config.ram_base + config.ram_size - 4 * kKiB, 4 * kKiB, 0, 0});
    return config;
  }
  IonSystemHeapSmallRamTest() : IonTest(Config()) {}
};

TEST_F(IonSystemHeapSmallRamTest, MoreThanHalfOfTotalramPagesFailsWithEnomemBeforeAnyPageIsTaken) {
  kernel::phys_mem* mem = backend_->model()->mem();
  ASSERT_EQ(kernel::totalram_pages(mem), 4095U);
  ASSERT_EQ(kernel::nr_allocated_pages(mem), 0U);
  {
    AllocCounter counter(mem);
    EXPECT_THAT(ion_->Alloc(fd_, 2048 * kernel::PAGE_SIZE, 0, kSystemMask, 0), IsErrno(ENOMEM));
    EXPECT_EQ(counter.total(), 0);
  }
  EXPECT_EQ(kernel::nr_allocated_pages(mem), 0U);
  ASSERT_THAT(ion_->Alloc(fd_, 2047 * kernel::PAGE_SIZE, 0, kSystemMask, 0), IsOkAndHolds(1));
  // 2047 pages: 7 order-8 blocks, 15 order-4 blocks and 15 pages.
  EXPECT_EQ(ChunkOrders(backend_.get(), 1), Concat(Concat(Repeat(8, 7), Repeat(4, 15)), Repeat(0, 15)));
  EXPECT_EQ(kernel::nr_allocated_pages(mem), 2047U);
}

TEST_F(IonSystemHeapTest, AFailureMidwayGivesEveryChunkBackAndFailsWithEnomem) {
  // Fill the order-8 and order-4 pools with one block each.
  ASSERT_THAT(ion_->Alloc(fd_, kMiB + 64 * kKiB, 0, kSystemMask, 0), IsOkAndHolds(1));
  const std::vector<kernel::page*> pooled = ChunkPages(backend_.get(), 1);
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  ASSERT_THAT(backend_->run_deferred_free(), IsOk());
  ASSERT_EQ(PoolLines(backend_.get()), "  pool order=8 high=1 low=0\n  pool order=4 high=1 low=0\n  pool order=0 high=0 low=0\n");
  const unsigned long free_before = kernel::nr_free_pages(mem());

  // Order 8 and order 4 come from the pools, then every order-0 page fails: both blocks go back, twice (the
  // first attempt and the retry after the empty free list is drained).
  kernel::set_page_alloc_fail_hook(mem(), [](kernel::gfp_t, unsigned int order) { return order == 0; });
  EXPECT_THAT(ion_->Alloc(fd_, kMiB + 64 * kKiB + 4 * kKiB, 0, kSystemMask, 0), IsErrno(ENOMEM));
  kernel::set_page_alloc_fail_hook(mem(), {});
  EXPECT_EQ(PoolLines(backend_.get()), "  pool order=8 high=1 low=0\n  pool order=4 high=1 low=0\n  pool order=0 high=0 low=0\n");
  EXPECT_EQ(kernel::nr_free_pages(mem()), free_before);

  // The same two blocks are still the ones pooled.
  ASSERT_THAT(ion_->Alloc(fd_, kMiB + 64 * kKiB, 0, kSystemMask, 0), IsOkAndHolds(1));
  EXPECT_EQ(ChunkPages(backend_.get(), 2), pooled);
}

TEST_F(IonSystemHeapTest, ChunksTakenBeforeAFailureGoToThePoolsNotToThePageAllocator) {
  // Fresh pools: the order-8 and order-4 blocks come from the page allocator, the order-0 page fails, and the
  // rollback is free_buffer_page(), which pools blocks of an uncached buffer.
  const unsigned long free_before = kernel::nr_free_pages(mem());
  kernel::set_page_alloc_fail_hook(mem(), [](kernel::gfp_t, unsigned int order) { return order == 0; });
  EXPECT_THAT(ion_->Alloc(fd_, kMiB + 64 * kKiB + 4 * kKiB, 0, kSystemMask, 0), IsErrno(ENOMEM));
  kernel::set_page_alloc_fail_hook(mem(), {});
  EXPECT_EQ(PoolLines(backend_.get()), "  pool order=8 high=1 low=0\n  pool order=4 high=1 low=0\n  pool order=0 high=0 low=0\n");
  EXPECT_EQ(free_before - kernel::nr_free_pages(mem()), 256U + 16U);
}

TEST_F(IonSystemHeapTest, CachedChunksTakenBeforeAFailureGoBackToThePageAllocator) {
  const unsigned long free_before = kernel::nr_free_pages(mem());
  kernel::set_page_alloc_fail_hook(mem(), [](kernel::gfp_t, unsigned int order) { return order == 0; });
  EXPECT_THAT(ion_->Alloc(fd_, kMiB + 64 * kKiB + 4 * kKiB, 0, kSystemMask, ION_FLAG_CACHED), IsErrno(ENOMEM));
  kernel::set_page_alloc_fail_hook(mem(), {});
  EXPECT_EQ(PoolLines(backend_.get()), "  pool order=8 high=0 low=0\n  pool order=4 high=0 low=0\n  pool order=0 high=0 low=0\n");
  EXPECT_EQ(kernel::nr_free_pages(mem()), free_before);
}

TEST_F(IonSystemHeapTest, UncachedBlocksReturnToThePoolsAfterTheDeferredFreeAndAreReusedWithoutThePageAllocator) {
  ASSERT_THAT(ion_->Alloc(fd_, kMiB + 64 * kKiB + 4 * kKiB, 0, kSystemMask, 0), IsOkAndHolds(1));
  const std::vector<kernel::page*> first = ChunkPages(backend_.get(), 1);
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  // Still on the free list: nothing pooled yet.
  EXPECT_EQ(PoolLines(backend_.get()), "  pool order=8 high=0 low=0\n  pool order=4 high=0 low=0\n  pool order=0 high=0 low=0\n");
  ASSERT_THAT(backend_->debugfs_write("ion/drain", "1"), IsOk());
  EXPECT_EQ(PoolLines(backend_.get()), "  pool order=8 high=1 low=0\n  pool order=4 high=1 low=0\n  pool order=0 high=1 low=0\n");
  const unsigned long free_pooled = kernel::nr_free_pages(mem());

  AllocCounter counter(mem());
  ASSERT_THAT(ion_->Alloc(fd_, kMiB + 64 * kKiB + 4 * kKiB, 0, kSystemMask, 0), IsOkAndHolds(1));
  EXPECT_EQ(counter.total(), 0);
  EXPECT_EQ(ChunkPages(backend_.get(), 2), first);
  EXPECT_EQ(kernel::nr_free_pages(mem()), free_pooled);
  EXPECT_EQ(PoolLines(backend_.get()), "  pool order=8 high=0 low=0\n  pool order=4 high=0 low=0\n  pool order=0 high=0 low=0\n");
}

TEST_F(IonSystemHeapTest, CachedBuffersBypassThePoolsBothWays) {
  ASSERT_THAT(ion_->Alloc(fd_, kMiB, 0, kSystemMask, 0), IsOkAndHolds(1));
  const std::vector<kernel::page*> pooled = ChunkPages(backend_.get(), 1);
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  ASSERT_THAT(backend_->run_deferred_free(), IsOk());
  ASSERT_EQ(PoolLines(backend_.get()), "  pool order=8 high=1 low=0\n  pool order=4 high=0 low=0\n  pool order=0 high=0 low=0\n");
  const unsigned long free_before = kernel::nr_free_pages(mem());

  {
    AllocCounter counter(mem());
    ASSERT_THAT(ion_->Alloc(fd_, kMiB, 0, kSystemMask, ION_FLAG_CACHED), IsOkAndHolds(1));
    EXPECT_EQ(counter.calls(8), 1);
  }
  EXPECT_NE(ChunkPages(backend_.get(), 2), pooled);
  EXPECT_EQ(PoolLines(backend_.get()), "  pool order=8 high=1 low=0\n  pool order=4 high=0 low=0\n  pool order=0 high=0 low=0\n");
  EXPECT_EQ(free_before - kernel::nr_free_pages(mem()), 256U);

  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  ASSERT_THAT(backend_->run_deferred_free(), IsOk());
  EXPECT_EQ(PoolLines(backend_.get()), "  pool order=8 high=1 low=0\n  pool order=4 high=0 low=0\n  pool order=0 high=0 low=0\n");
  EXPECT_EQ(kernel::nr_free_pages(mem()), free_before);
}

TEST_F(IonSystemHeapTest, UncachedMemoryIsZeroedWhenTheDeferredFreeRunsBeforeItReachesAPool) {
  ASSERT_THAT(ion_->Alloc(fd_, 64 * kKiB, 0, kSystemMask, 0), IsOkAndHolds(1));
  ASSERT_THAT(WriteThroughMapping(ion_.get(), fd_, 1, 64 * kKiB, 0x5a), IsOk());
  kernel::page* page = ChunkPages(backend_.get(), 1).at(0);
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  // On the free list the bytes are still there: zeroing is part of the heap's free, run by the deferred free.
  uint8_t byte = 0;
  kernel::page_read(kernel::nth_page(page, 15), 4095, &byte, 1);
  EXPECT_EQ(byte, 0x5a);
  ASSERT_THAT(backend_->run_deferred_free(), IsOk());
  kernel::page_read(kernel::nth_page(page, 15), 4095, &byte, 1);
  EXPECT_EQ(byte, 0);

  ASSERT_THAT(ion_->Alloc(fd_, 64 * kKiB, 0, kSystemMask, 0), IsOkAndHolds(1));
  EXPECT_EQ(ChunkPages(backend_.get(), 2), std::vector<kernel::page*>{page});
  EXPECT_EQ(ReadThroughMapping(ion_.get(), fd_, 1, 64 * kKiB), std::vector<uint8_t>(64 * kKiB, 0));
}

TEST_F(IonSystemHeapTest, CachedMemoryIsNotZeroedOnFreeTheAllocationZeroesIt) {
  ASSERT_THAT(ion_->Alloc(fd_, 4 * kKiB, 0, kSystemMask, ION_FLAG_CACHED), IsOkAndHolds(1));
  ASSERT_THAT(WriteThroughMapping(ion_.get(), fd_, 1, 4 * kKiB, 0xa5), IsOk());
  kernel::page* page = ChunkPages(backend_.get(), 1).at(0);
  uint8_t byte = 0;
  kernel::page_read(page, 100, &byte, 1);
  ASSERT_EQ(byte, 0xa5);
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  ASSERT_THAT(backend_->run_deferred_free(), IsOk());
  // Back in the buddy allocator with its bytes: v4.4 zeroes only what goes to a pool.
  EXPECT_EQ(kernel::page_count(page), 0);
  byte = 0;
  kernel::page_read(page, 100, &byte, 1);
  EXPECT_EQ(byte, 0xa5);
  // The next cached allocation takes the same page with __GFP_ZERO.
  ASSERT_THAT(ion_->Alloc(fd_, 4 * kKiB, 0, kSystemMask, ION_FLAG_CACHED), IsOkAndHolds(1));
  EXPECT_EQ(ChunkPages(backend_.get(), 2), std::vector<kernel::page*>{page});
  EXPECT_EQ(ReadThroughMapping(ion_.get(), fd_, 1, 4 * kKiB), std::vector<uint8_t>(4 * kKiB, 0));
}

// A machine with 2 MiB of highmem (lowmem 494 MiB; the three reserved ranges take the top 16 MiB), so a 3 MiB
// buffer takes both highmem order-8 blocks and one lowmem block:
//   b1 = [H0 H1 L0] + order 4 (lowmem) + order 0 (lowmem)      freed and drained: pool 8 high=[H0,H1] low=[L0]
//   b2 = 1 MiB -> H0, b3 = 1 MiB -> H1, b4 = 1 MiB -> L0
// Expect the pool to hand out both highmem blocks, in the order they were pooled, before the lowmem one.
class IonSystemHeapSmallHighmemTest : public IonTest {
 protected:
  static ModelConfig Config() {
    ModelConfig config = AllHeapsModelConfig();
    config.lowmem_size = 494 * kMiB;
    return config;
  }
  IonSystemHeapSmallHighmemTest() : IonTest(Config()) {}
  kernel::phys_mem* mem() { return backend_->model()->mem(); }
};

TEST_F(IonSystemHeapSmallHighmemTest, PoolAllocTakesHighmemBlocksBeforeLowmemOnes) {
  ASSERT_EQ(kernel::zone_nr_free_pages(mem(), kernel::ZONE_HIGHMEM), 512U);
  ASSERT_THAT(ion_->Alloc(fd_, 3 * kMiB + 64 * kKiB + 4 * kKiB, 0, kSystemMask, 0), IsOkAndHolds(1));
  ASSERT_EQ(ChunkOrders(backend_.get(), 1), std::vector<unsigned int>({8, 8, 8, 4, 0}));
  const std::vector<kernel::page*> b1 = ChunkPages(backend_.get(), 1);
  std::vector<bool> highmem;
  for (kernel::page* page : b1) highmem.push_back(kernel::PageHighMem(page));
  EXPECT_THAT(highmem, ElementsAre(true, true, false, false, false));
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  ASSERT_THAT(backend_->run_deferred_free(), IsOk());
  EXPECT_EQ(PoolLines(backend_.get()), "  pool order=8 high=2 low=1\n  pool order=4 high=0 low=1\n  pool order=0 high=0 low=1\n");

  ASSERT_THAT(ion_->Alloc(fd_, kMiB, 0, kSystemMask, 0), IsOkAndHolds(1));
  EXPECT_EQ(ChunkPages(backend_.get(), 2), std::vector<kernel::page*>{b1[0]});
  EXPECT_EQ(PoolLines(backend_.get()), "  pool order=8 high=1 low=1\n  pool order=4 high=0 low=1\n  pool order=0 high=0 low=1\n");
  ASSERT_THAT(ion_->Alloc(fd_, kMiB, 0, kSystemMask, 0), IsOkAndHolds(2));
  EXPECT_EQ(ChunkPages(backend_.get(), 3), std::vector<kernel::page*>{b1[1]});
  ASSERT_THAT(ion_->Alloc(fd_, kMiB, 0, kSystemMask, 0), IsOkAndHolds(3));
  EXPECT_EQ(ChunkPages(backend_.get(), 4), std::vector<kernel::page*>{b1[2]});
  EXPECT_EQ(PoolLines(backend_.get()), "  pool order=8 high=0 low=0\n  pool order=4 high=0 low=1\n  pool order=0 high=0 low=1\n");
}

TEST_F(IonSystemHeapSmallHighmemTest, HeapFileEndsWithThePoolCountsHighmemThenLowmemPerOrder) {
  ASSERT_THAT(ion_->Alloc(fd_, 3 * kMiB + 64 * kKiB + 4 * kKiB, 0, kSystemMask, 0), IsOkAndHolds(1));
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  ASSERT_THAT(backend_->run_deferred_free(), IsOk());
  ErrnoOr<std::string> file = backend_->debugfs_read("ion/heaps/system");
  ASSERT_THAT(file, IsOk());
  EXPECT_THAT(file.value(), EndsWith("----------------------------------------------------\n"
                                     "2 order 8 highmem pages in pool = 2097152 total\n"
                                     "1 order 8 lowmem pages in pool = 1048576 total\n"
                                     "0 order 4 highmem pages in pool = 0 total\n"
                                     "1 order 4 lowmem pages in pool = 65536 total\n"
                                     "0 order 0 highmem pages in pool = 0 total\n"
                                     "1 order 0 lowmem pages in pool = 4096 total\n"));
  EXPECT_THAT(file.value(), HasSubstr("   deferred free                0\n"));
  EXPECT_EQ(PoolLines(backend_.get()), "  pool order=8 high=2 low=1\n  pool order=4 high=0 low=1\n  pool order=0 high=0 low=1\n");
}

}  // namespace
}  // namespace ionsim::testing
