// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// genalloc: layouts drawn as bitmaps (one character per 4 KiB granule, X allocated, . free, lowest address
// first), the v4.4 quirks, the BUG conditions, and a randomized differential test against the bit-by-bit
// reference in tests/testing/genalloc_reference.h.
#include <map>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/kernel/bitmap.h"
#include "model/kernel/bug.h"
#include "model/kernel/genalloc.h"
#include "model/kernel/slab.h"
#include "tests/testing/genalloc_reference.h"

namespace ionsim::kernel {
namespace {

using ::ionsim::testing::GenAlgo;
using ::ionsim::testing::GenallocReference;

constexpr unsigned long kBase = 0x10000000UL;
constexpr size_t kG = 4096;  // one granule at order 12

// The chunk's bitmap as a string of X and '.', lowest granule first.
std::string Picture(struct gen_pool* pool, unsigned long start) {
  struct gen_pool_chunk* chunk;
  list_for_each_entry(chunk, &pool->chunks, next_chunk) {
    if (chunk->start_addr != start) continue;
    std::string out;
    const unsigned long nbits = chunk_size(chunk) >> pool->min_alloc_order;
    for (unsigned long b = 0; b < nbits; ++b) out += test_bit(b, chunk->bits) ? 'X' : '.';
    return out;
  }
  return "<no chunk>";
}

struct gen_pool* NewPool(unsigned long base, size_t size) {
  struct gen_pool* pool = gen_pool_create(12, -1);
  EXPECT_NE(pool, nullptr);
  EXPECT_TRUE(gen_pool_add(pool, base, size, -1).ok());
  return pool;
}

TEST(GenallocTest, FirstFitFillsTheLowestHoleThatFits) {
  // alloc 4K, 8K, 4K:    X X X X . . . .
  // free the 8K block:   X . . X . . . .
  // alloc 12K:           X . . X X X X .   (the 2-granule hole is too small)
  // alloc 8K:            X X X X X X X .   (now the hole fits exactly)
  // Expect each allocation at the first run of clear granules that can hold it.
  struct gen_pool* pool = NewPool(kBase, 8 * kG);
  EXPECT_EQ(gen_pool_alloc(pool, kG), kBase);
  EXPECT_EQ(gen_pool_alloc(pool, 2 * kG), kBase + kG);
  EXPECT_EQ(gen_pool_alloc(pool, kG), kBase + 3 * kG);
  gen_pool_free(pool, kBase + kG, 2 * kG);
  EXPECT_EQ(Picture(pool, kBase), "X..X....");
  EXPECT_EQ(gen_pool_alloc(pool, 3 * kG), kBase + 4 * kG);
  EXPECT_EQ(gen_pool_alloc(pool, 2 * kG), kBase + kG);
  EXPECT_EQ(Picture(pool, kBase), "XXXXXXX.");
  EXPECT_EQ(gen_pool_avail(pool), kG);
  gen_pool_free(pool, kBase, kG);
  gen_pool_free(pool, kBase + kG, 2 * kG);
  gen_pool_free(pool, kBase + 3 * kG, kG);
  gen_pool_free(pool, kBase + 4 * kG, 3 * kG);
  EXPECT_EQ(gen_pool_avail(pool), 8 * kG);
  gen_pool_destroy(pool);
}

TEST(GenallocTest, CheckFindsAnAvailThatDisagreesWithTheBitmap) {
  struct gen_pool* pool = NewPool(kBase, 8 * kG);
  EXPECT_EQ(gen_pool_check(pool), nullptr);
  EXPECT_EQ(gen_pool_alloc(pool, 3 * kG), kBase);
  EXPECT_EQ(gen_pool_check(pool), nullptr);
  struct gen_pool_chunk* chunk = list_first_entry(&pool->chunks, struct gen_pool_chunk, next_chunk);
  bitmap_clear(chunk->bits, 1, 1);  // a granule freed behind the pool's back
  EXPECT_NE(gen_pool_check(pool), nullptr);
  bitmap_set(chunk->bits, 1, 1);
  EXPECT_EQ(gen_pool_check(pool), nullptr);
  chunk->avail.fetch_add(static_cast<int32_t>(kG));  // or counted back without clearing its bit
  EXPECT_NE(gen_pool_check(pool), nullptr);
  chunk->avail.fetch_sub(static_cast<int32_t>(kG));
  gen_pool_free(pool, kBase, 3 * kG);
  EXPECT_EQ(gen_pool_check(pool), nullptr);
  gen_pool_destroy(pool);
}

TEST(GenallocTest, SizesRoundUpToWholeGranules) {
  // alloc 1 byte, then 4097 bytes:   X X X .
  // Expect 1 granule then 2, and avail to drop by whole granules.
  struct gen_pool* pool = NewPool(kBase, 4 * kG);
  EXPECT_EQ(gen_pool_alloc(pool, 1), kBase);
  EXPECT_EQ(gen_pool_alloc(pool, kG + 1), kBase + kG);
  EXPECT_EQ(Picture(pool, kBase), "XXX.");
  EXPECT_EQ(gen_pool_avail(pool), kG);
  gen_pool_free(pool, kBase, 1);
  gen_pool_free(pool, kBase + kG, kG + 1);
  gen_pool_destroy(pool);
}

TEST(GenallocTest, SizeZeroAndNoFitReturnZero) {
  struct gen_pool* pool = NewPool(kBase, 2 * kG);
  EXPECT_EQ(gen_pool_alloc(pool, 0), 0u);
  EXPECT_EQ(gen_pool_alloc(pool, 3 * kG), 0u);
  EXPECT_EQ(gen_pool_avail(pool), 2 * kG);
  gen_pool_destroy(pool);
}

TEST(GenallocTest, NewestChunkIsSearchedFirst) {
  // chunk A (added first) at 0x10000000:  . . . .
  // chunk B (added second) at 0x20000000: X . . .
  // Expect the allocation in chunk B although A is lower and empty.
  struct gen_pool* pool = NewPool(kBase, 4 * kG);
  ASSERT_TRUE(gen_pool_add(pool, 0x20000000UL, 4 * kG, -1).ok());
  EXPECT_EQ(gen_pool_alloc(pool, kG), 0x20000000UL);
  EXPECT_EQ(Picture(pool, 0x20000000UL), "X...");
  EXPECT_EQ(Picture(pool, kBase), "....");
  EXPECT_EQ(gen_pool_size(pool), 8 * kG);
  gen_pool_free(pool, 0x20000000UL, kG);
  gen_pool_destroy(pool);
}

TEST(GenallocTest, FailedSearchPositionCarriesIntoTheNextChunkAsInV44) {
  // newest chunk N at 0x20000000 (4 granules): X . X .   avail 8K, but no 2 adjacent clear granules;
  //   the search ends with the candidate at bit 3, whose end is bit 5;
  // older chunk O at 0x10000000 (8 granules):  . . . . . X X .  after the allocation
  // Expect the 8K allocation at bit 5 of O, not bit 0: v4.4 does not reset start_bit between chunks.
  struct gen_pool* pool = NewPool(kBase, 8 * kG);
  ASSERT_TRUE(gen_pool_add(pool, 0x20000000UL, 4 * kG, -1).ok());
  genpool_data_fixed at0{0}, at2{2 * kG};
  ASSERT_EQ(gen_pool_alloc_algo(pool, kG, gen_pool_fixed_alloc, &at0), 0x20000000UL);
  ASSERT_EQ(gen_pool_alloc_algo(pool, kG, gen_pool_fixed_alloc, &at2), 0x20000000UL + 2 * kG);
  EXPECT_EQ(Picture(pool, 0x20000000UL), "X.X.");
  EXPECT_EQ(gen_pool_alloc(pool, 2 * kG), kBase + 5 * kG);
  EXPECT_EQ(Picture(pool, kBase), ".....XX.");
  gen_pool_free(pool, kBase + 5 * kG, 2 * kG);
  gen_pool_free(pool, 0x20000000UL, kG);
  gen_pool_free(pool, 0x20000000UL + 2 * kG, kG);
  gen_pool_destroy(pool);
}

TEST(GenallocTest, PoolAtAddressZeroCannotHandOutItsFirstGranule) {
  // pool at physical 0:  X . . .   after the first allocation, which returned 0 = "failure"
  // Expect the first call to return 0 with its granule taken, and the next to return 0x1000.
  struct gen_pool* pool = NewPool(0, 4 * kG);
  EXPECT_EQ(gen_pool_alloc(pool, kG), 0u);
  EXPECT_EQ(Picture(pool, 0), "X...");
  EXPECT_EQ(gen_pool_avail(pool), 3 * kG);
  EXPECT_EQ(gen_pool_alloc(pool, kG), kG);
  gen_pool_free(pool, kG, kG);
  gen_pool_free(pool, 0, kG);  // the granule a caller never saw, returned so destroy does not BUG
  gen_pool_destroy(pool);
}

TEST(GenallocTest, FirstFitAlignIsRelativeToTheChunkStart) {
  // chunk at 0x10001000 (not 16K-aligned):  X . . . X . . .
  // Expect the 16K-aligned request at bit 4 = 0x10005000: aligned within the bitmap, not in absolute terms.
  const unsigned long base = kBase + kG;
  struct gen_pool* pool = NewPool(base, 8 * kG);
  EXPECT_EQ(gen_pool_alloc(pool, kG), base);
  genpool_data_align align{static_cast<int>(4 * kG)};
  EXPECT_EQ(gen_pool_alloc_algo(pool, kG, gen_pool_first_fit_align, &align), base + 4 * kG);
  EXPECT_EQ(Picture(pool, base), "X...X...");
  gen_pool_free(pool, base, kG);
  gen_pool_free(pool, base + 4 * kG, kG);
  gen_pool_destroy(pool);
}

TEST(GenallocTest, OrderAlignRoundsTheRequestToAPowerOfTwoBoundary) {
  // after 1 granule:       X . . . . . . .
  // 3 granules, order-aligned to 4:  X . . . X X X .
  // Expect the 3-granule block at bit 4.
  struct gen_pool* pool = NewPool(kBase, 8 * kG);
  EXPECT_EQ(gen_pool_alloc(pool, kG), kBase);
  EXPECT_EQ(gen_pool_alloc_algo(pool, 3 * kG, gen_pool_first_fit_order_align, nullptr), kBase + 4 * kG);
  EXPECT_EQ(Picture(pool, kBase), "X...XXX.");
  gen_pool_free(pool, kBase, kG);
  gen_pool_free(pool, kBase + 4 * kG, 3 * kG);
  gen_pool_destroy(pool);
}

TEST(GenallocTest, BestFitTakesTheSmallestHoleThatFits) {
  // holes:  . . . X . . X X . X X X . . . .   (3, 2, 1 and 4 granules)
  // Expect a 2-granule request in the 2-granule hole at bit 4, and a 1-granule request in the hole at bit 8.
  struct gen_pool* pool = NewPool(kBase, 16 * kG);
  for (unsigned long bit : {3UL, 6UL, 7UL, 9UL, 10UL, 11UL}) {
    genpool_data_fixed at{bit * kG};
    ASSERT_EQ(gen_pool_alloc_algo(pool, kG, gen_pool_fixed_alloc, &at), kBase + bit * kG);
  }
  EXPECT_EQ(Picture(pool, kBase), "...X..XX.XXX....");
  EXPECT_EQ(gen_pool_alloc_algo(pool, 2 * kG, gen_pool_best_fit, nullptr), kBase + 4 * kG);
  EXPECT_EQ(gen_pool_alloc_algo(pool, kG, gen_pool_best_fit, nullptr), kBase + 8 * kG);
  EXPECT_EQ(Picture(pool, kBase), "...XXXXXXXXX....");
  gen_pool_free(pool, kBase + 3 * kG, 9 * kG);
  gen_pool_destroy(pool);
}

TEST(GenallocTest, FixedAllocFailsWhenTheRangeIsBusyAndWarnsWhenMisaligned) {
  struct gen_pool* pool = NewPool(kBase, 4 * kG);
  genpool_data_fixed at1{kG};
  EXPECT_EQ(gen_pool_alloc_algo(pool, 2 * kG, gen_pool_fixed_alloc, &at1), kBase + kG);
  EXPECT_EQ(gen_pool_alloc_algo(pool, kG, gen_pool_fixed_alloc, &at1), 0u);
  set_bug_printing(false);
  genpool_data_fixed misaligned{100};
  EXPECT_EQ(gen_pool_alloc_algo(pool, kG, gen_pool_fixed_alloc, &misaligned), 0u);
  set_bug_printing(true);
  ASSERT_EQ(bug_event_count(BugKind::kWarn), 1u);
  EXPECT_THAT(bug_events()[0].message, ::testing::HasSubstr("WARN_ON"));
  clear_bug_events();
  gen_pool_free(pool, kBase + kG, 2 * kG);
  gen_pool_destroy(pool);
}

TEST(GenallocTest, AlignmentOfZeroReportsTheSoftLockupUpstreamWouldHit) {
  // align 0 makes the mask ~0UL: upstream rounds every candidate back to bit 0 and spins forever once bit 0
  // is busy. Expect the model to record the lockup and fail the allocation.
  struct gen_pool* pool = NewPool(kBase, 4 * kG);
  EXPECT_EQ(gen_pool_alloc(pool, kG), kBase);
  genpool_data_align zero{0};
  set_bug_printing(false);
  EXPECT_EQ(gen_pool_alloc_algo(pool, kG, gen_pool_first_fit_align, &zero), 0u);
  set_bug_printing(true);
  EXPECT_EQ(bug_event_count(BugKind::kSoftLockup), 1u);
  clear_bug_events();
  gen_pool_free(pool, kBase, kG);
  gen_pool_destroy(pool);
}

TEST(GenallocTest, ChunkOfThreeGibWrapsItsIntAvailAsInV44) {
  // chunk->avail is an atomic_t: 3 GiB stored in it reads back as -1 GiB, which gen_pool_avail sums as a
  // size_t. Expect the wrapped value, and allocations that still work (the avail check passes).
  constexpr size_t k3G = size_t{3} << 30;
  struct gen_pool* pool = NewPool(0x100000000UL, k3G);
  EXPECT_EQ(gen_pool_avail(pool), static_cast<size_t>(-(long{1} << 30)));
  EXPECT_EQ(gen_pool_alloc(pool, kG), 0x100000000UL);
  gen_pool_free(pool, 0x100000000UL, kG);
  gen_pool_destroy(pool);
}

TEST(GenallocTest, AddFailsWithEnomemWhenTheChunkCannotBeAllocated) {
  struct gen_pool* pool = gen_pool_create(12, -1);
  set_slab_fail_hook([](const std::type_info& type, gfp_t) { return type == typeid(struct gen_pool_chunk); });
  EXPECT_EQ(gen_pool_add(pool, kBase, 4 * kG, -1).code(), ENOMEM);
  set_slab_fail_hook(nullptr);
  EXPECT_EQ(gen_pool_size(pool), 0u);
  EXPECT_EQ(gen_pool_alloc(pool, kG), 0u);
  gen_pool_destroy(pool);
}

TEST(GenallocTest, LookupHelpersAnswerForTheirChunk) {
  struct gen_pool* pool = gen_pool_create(12, -1);
  ASSERT_TRUE(gen_pool_add_virt(pool, kBase, 0x80000000UL, 4 * kG, -1).ok());
  EXPECT_EQ(gen_pool_virt_to_phys(pool, kBase + 5), 0x80000005UL);
  EXPECT_EQ(gen_pool_virt_to_phys(pool, kBase + 4 * kG), static_cast<phys_addr_t>(-1));
  EXPECT_TRUE(addr_in_gen_pool(pool, kBase, 4 * kG));
  EXPECT_FALSE(addr_in_gen_pool(pool, kBase + kG, 4 * kG));
  gen_pool_destroy(pool);
}

TEST(GenallocDeathTest, DoubleFreeIsABug) {
  EXPECT_DEATH(
      {
        struct gen_pool* pool = NewPool(kBase, 4 * kG);
        const unsigned long a = gen_pool_alloc(pool, kG);
        gen_pool_free(pool, a, kG);
        gen_pool_free(pool, a, kG);
      },
      "kernel BUG at .*genalloc.cc:[0-9]+! gen_pool_free\\(\\): BUG_ON\\(remain\\)");
}

TEST(GenallocDeathTest, FreeOfAForeignAddressIsABug) {
  EXPECT_DEATH(
      {
        struct gen_pool* pool = NewPool(kBase, 4 * kG);
        gen_pool_free(pool, kBase + 4 * kG, kG);
      },
      "kernel BUG at .*genalloc.cc:[0-9]+! gen_pool_free\\(\\): BUG\\(\\)");
}

TEST(GenallocDeathTest, FreeCrossingTheChunkEndIsABug) {
  EXPECT_DEATH(
      {
        struct gen_pool* pool = NewPool(kBase, 4 * kG);
        (void)gen_pool_alloc(pool, 4 * kG);
        gen_pool_free(pool, kBase + 3 * kG, 2 * kG);
      },
      "BUG_ON\\(addr \\+ size - 1 > chunk->end_addr\\)");
}

TEST(GenallocDeathTest, DestroyWithBitsStillSetIsABug) {
  EXPECT_DEATH(
      {
        struct gen_pool* pool = NewPool(kBase, 4 * kG);
        (void)gen_pool_alloc(pool, kG);
        gen_pool_destroy(pool);
      },
      "BUG_ON\\(bit < end_bit\\)");
}

// --- differential ----------------------------------------------------------------------------------------------

genpool_algo_t AlgoFn(GenAlgo algo) {
  switch (algo) {
    case GenAlgo::kFirstFit: return gen_pool_first_fit;
    case GenAlgo::kFirstFitAlign: return gen_pool_first_fit_align;
    case GenAlgo::kFixed: return gen_pool_fixed_alloc;
    case GenAlgo::kFirstFitOrderAlign: return gen_pool_first_fit_order_align;
    case GenAlgo::kBestFit: return gen_pool_best_fit;
  }
  return gen_pool_first_fit;
}

TEST(GenallocDifferentialTest, MatchesTheBitByBitReferenceOnRandomPrograms) {
  for (uint32_t seed = 1; seed <= 30; ++seed) {
    std::mt19937_64 rng(seed);
    const int order = 5 + static_cast<int>(rng() % 8);  // granules of 32 bytes .. 4 KiB
    const unsigned long g = 1UL << order;
    struct gen_pool* pool = gen_pool_create(order, -1);
    GenallocReference ref(order);
    const int chunks = 1 + static_cast<int>(rng() % 3);
    for (int c = 0; c < chunks; ++c) {
      const unsigned long start = 0x1000000UL * static_cast<unsigned long>(c + 1) + g * (rng() % 4);
      const size_t size = g * (1 + rng() % 300) + (rng() % 4 == 0 ? rng() % g : 0);
      ASSERT_TRUE(gen_pool_add(pool, start, size, -1).ok());
      ref.AddChunk(start, size);
    }
    std::map<unsigned long, size_t> live;
    for (int op = 0; op < 1500; ++op) {
      SCOPED_TRACE("seed " + std::to_string(seed) + " op " + std::to_string(op));
      if (live.empty() || rng() % 3 != 0) {
        const GenAlgo algo = static_cast<GenAlgo>(rng() % 5);
        const size_t size = 1 + rng() % (g * 24);
        unsigned long param = 0;
        genpool_data_align align{};
        genpool_data_fixed fixed{};
        void* data = nullptr;
        if (algo == GenAlgo::kFirstFitAlign) {
          param = 1UL << (rng() % (order + 5));
          align.align = static_cast<int>(param);
          data = &align;
        } else if (algo == GenAlgo::kFixed) {
          param = g * (rng() % 64);
          fixed.offset = param;
          data = &fixed;
        }
        int warns = 0;
        const unsigned long want = ref.Alloc(size, algo, param, &warns);
        const unsigned long got = gen_pool_alloc_algo(pool, size, AlgoFn(algo), data);
        ASSERT_EQ(got, want) << GenAlgoName(algo) << " size " << size << " param " << param;
        ASSERT_EQ(warns, 0);
        if (got != 0) live[got] = size;
      } else {
        auto it = live.begin();
        std::advance(it, static_cast<long>(rng() % live.size()));
        ASSERT_EQ(ref.Free(it->first, it->second), "");
        gen_pool_free(pool, it->first, it->second);
        live.erase(it);
      }
      ASSERT_EQ(gen_pool_avail(pool), ref.Avail());
    }
    ASSERT_EQ(gen_pool_size(pool), ref.Size());
    for (const auto& [addr, size] : live) gen_pool_free(pool, addr, size);
    gen_pool_destroy(pool);
  }
}

}  // namespace
}  // namespace ionsim::kernel
