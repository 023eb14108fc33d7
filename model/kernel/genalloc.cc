// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "model/kernel/genalloc.h"

#include "model/kernel/bitmap.h"
#include "model/kernel/bug.h"
#include "model/kernel/compiler.h"
#include "model/kernel/lock.h"
#include "model/kernel/slab.h"

namespace ionsim::kernel {
namespace {

// int arithmetic as a v4.4 kernel does it (built with -fno-strict-overflow): wraps, never traps.
inline int32_t wrap_int(unsigned long v) { return static_cast<int32_t>(static_cast<uint32_t>(v)); }
inline int32_t int_shl(int32_t v, int order) {
  return static_cast<int32_t>(static_cast<uint32_t>(v) << order);
}

// Atomically sets (or clears) every bit of `mask` in *addr, failing without change when any of them is already
// set (or already clear). Mirrors lib/genalloc.c:set_bits_ll() and clear_bits_ll() @ v4.4.
bool update_bits_ll(unsigned long* addr, unsigned long mask, bool set) {
  unsigned long val = __atomic_load_n(addr, __ATOMIC_RELAXED);
  for (;;) {
    if (set ? (val & mask) != 0 : (val & mask) != mask) return false;
    const unsigned long next = set ? (val | mask) : (val & ~mask);
    if (__atomic_compare_exchange_n(addr, &val, next, /*weak=*/true, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
      return true;
    }
  }
}

// Sets (or clears) bits [start, start + nr) word by word and returns 0, or the number of bits not yet done when
// a word was found in the wrong state. Mirrors lib/genalloc.c:bitmap_set_ll() and bitmap_clear_ll() @ v4.4.
int bitmap_update_ll(unsigned long* map, int start, int nr, bool set) {
  unsigned long* p = map + BIT_WORD(static_cast<unsigned long>(start));
  const unsigned long end = static_cast<unsigned long>(start) + static_cast<unsigned long>(nr);
  int bits_in_word = static_cast<int>(BITS_PER_LONG - (static_cast<unsigned long>(start) % BITS_PER_LONG));
  unsigned long mask = BITMAP_FIRST_WORD_MASK(static_cast<unsigned long>(start));
  while (nr - bits_in_word >= 0) {
    if (!update_bits_ll(p, mask, set)) return nr;
    nr -= bits_in_word;
    bits_in_word = static_cast<int>(BITS_PER_LONG);
    mask = ~0UL;
    ++p;
  }
  if (nr != 0) {
    mask &= BITMAP_LAST_WORD_MASK(end);
    if (!update_bits_ll(p, mask, set)) return nr;
  }
  return 0;
}

// Sets (or clears) bits [start, start + nr) of a chunk and keeps its index in step. Returns what
// bitmap_update_ll returns.
int chunk_update_bits(struct gen_pool_chunk* chunk, int start, int nr, bool set) {
  const int remain = bitmap_update_ll(chunk->bits, start, nr, set);
  if (!chunk->index) return remain;
  std::lock_guard<std::mutex> guard(chunk->index->lock());
  chunk->index->update(static_cast<unsigned long>(start), static_cast<unsigned long>(nr));
  return remain;
}

// One search of one chunk with `algo`, then the claim of the bits found. Returns the start bit, or the failed
// search's value (>= end_bit). first fit, the algorithm of every ION heap, is answered by the chunk's index
// under the index lock, so the search and the claim are one step; other algorithms scan the bitmap as upstream
// and retry when they lose a race for the bits.
int chunk_alloc_bits(struct gen_pool_chunk* chunk, int end_bit, int start_bit, int nbits, genpool_algo_t algo,
                     void* data, struct gen_pool* pool) {
  if (algo == gen_pool_first_fit && chunk->index) {
    std::lock_guard<std::mutex> guard(chunk->index->lock());
    for (;;) {
      start_bit = wrap_int(chunk->index->first_fit(static_cast<unsigned long>(start_bit),
                                                   static_cast<unsigned int>(nbits)));
      if (start_bit >= end_bit) return start_bit;
      const int remain = bitmap_update_ll(chunk->bits, start_bit, nbits, /*set=*/true);
      if (remain != 0) {
        // Another algorithm's caller claimed bits the index had not seen yet: undo, re-read, search again.
        BUG_ON(bitmap_update_ll(chunk->bits, start_bit, nbits - remain, /*set=*/false));
      }
      chunk->index->update(static_cast<unsigned long>(start_bit), static_cast<unsigned long>(nbits));
      if (remain == 0) return start_bit;
    }
  }
  for (;;) {
    start_bit = wrap_int(algo(chunk->bits, static_cast<unsigned long>(end_bit), static_cast<unsigned long>(start_bit),
                              static_cast<unsigned int>(nbits), data, pool));
    if (start_bit >= end_bit) return start_bit;
    int remain = chunk_update_bits(chunk, start_bit, nbits, /*set=*/true);
    if (remain == 0) return start_bit;
    // Lost a race for some of the bits: give back the ones this call set, and search again.
    remain = chunk_update_bits(chunk, start_bit, nbits - remain, /*set=*/false);
    BUG_ON(remain);
  }
}

}  // namespace

struct gen_pool* gen_pool_create(int min_alloc_order, int /*nid*/) {
  struct gen_pool* pool = kzalloc<struct gen_pool>(GFP_KERNEL);
  if (pool == nullptr) return nullptr;
  spin_lock_init(&pool->lock, "gen_pool->lock");
  INIT_LIST_HEAD(&pool->chunks);
  pool->min_alloc_order = min_alloc_order;
  pool->algo = gen_pool_first_fit;
  pool->data = nullptr;
  pool->name = nullptr;
  return pool;
}

Errno gen_pool_add_virt(struct gen_pool* pool, unsigned long virt, phys_addr_t phys, size_t size, int /*nid*/) {
  const int nbits = wrap_int(size >> pool->min_alloc_order);
  struct gen_pool_chunk* chunk = kzalloc<struct gen_pool_chunk>(GFP_KERNEL);
  if (chunk == nullptr) return Errno(-ENOMEM);
  chunk->bits = kcalloc<unsigned long>(BITS_TO_LONGS(static_cast<unsigned int>(nbits)), GFP_KERNEL);
  if (chunk->bits == nullptr) {
    kfree(chunk);
    return Errno(-ENOMEM);
  }
  chunk->phys_addr = phys;
  chunk->start_addr = virt;
  chunk->end_addr = virt + size - 1;
  chunk->avail.store(wrap_int(size), std::memory_order_relaxed);
  const unsigned long index_bits = static_cast<unsigned int>(nbits);
  if (index_bits <= genalloc_index::kMaxBits) chunk->index = std::make_unique<genalloc_index>(chunk->bits, index_bits);

  spin_lock(&pool->lock);
  list_add(&chunk->next_chunk, &pool->chunks);  // upstream: list_add_rcu
  spin_unlock(&pool->lock);
  return Errno::Ok();
}

Errno gen_pool_add(struct gen_pool* pool, unsigned long addr, size_t size, int nid) {
  return gen_pool_add_virt(pool, addr, static_cast<phys_addr_t>(-1), size, nid);
}

phys_addr_t gen_pool_virt_to_phys(struct gen_pool* pool, unsigned long addr) {
  struct gen_pool_chunk* chunk;
  list_for_each_entry(chunk, &pool->chunks, next_chunk) {
    if (addr >= chunk->start_addr && addr <= chunk->end_addr) {
      return chunk->phys_addr + (addr - chunk->start_addr);
    }
  }
  return static_cast<phys_addr_t>(-1);
}

void gen_pool_destroy(struct gen_pool* pool) {
  const int order = pool->min_alloc_order;
  struct gen_pool_chunk* chunk;
  struct gen_pool_chunk* next;
  list_for_each_entry_safe(chunk, next, &pool->chunks, next_chunk) {
    list_del(&chunk->next_chunk);
    const int end_bit = wrap_int(chunk_size(chunk) >> order);
    const int bit = static_cast<int>(find_next_bit(chunk->bits, static_cast<unsigned long>(end_bit), 0));
    BUG_ON(bit < end_bit);
    kfree_array(chunk->bits);
    kfree(chunk);
  }
  kfree(pool);
}

unsigned long gen_pool_alloc(struct gen_pool* pool, size_t size) {
  return gen_pool_alloc_algo(pool, size, pool->algo, pool->data);
}

unsigned long gen_pool_alloc_algo(struct gen_pool* pool, size_t size, genpool_algo_t algo, void* data) {
  unsigned long addr = 0;
  const int order = pool->min_alloc_order;
  // As upstream, start_bit is set once here and not per chunk: a failed search leaves it past the end of that
  // chunk's bitmap, and the next chunk's search starts from there.
  int start_bit = 0;

  if (size == 0) return 0;
  // The bitmap search and update are lock-free (upstream: cmpxchg): a scheduling point for an explorer.
  atomic_point("gen_pool_alloc", pool);

  const int nbits = wrap_int((size + (1UL << order) - 1) >> order);
  struct gen_pool_chunk* chunk;
  list_for_each_entry(chunk, &pool->chunks, next_chunk) {
    // size_t compared with an int: a negative avail converts to a huge unsigned value, as in C.
    if (size > static_cast<size_t>(static_cast<long>(chunk->avail.load(std::memory_order_relaxed)))) continue;

    const int end_bit = wrap_int(chunk_size(chunk) >> order);
    start_bit = chunk_alloc_bits(chunk, end_bit, start_bit, nbits, algo, data, pool);
    if (start_bit >= end_bit) continue;
    addr = chunk->start_addr + (static_cast<unsigned long>(start_bit) << order);
    size = static_cast<size_t>(static_cast<long>(int_shl(nbits, order)));
    chunk->avail.fetch_sub(wrap_int(size), std::memory_order_relaxed);
    break;
  }
  return addr;
}

void gen_pool_free(struct gen_pool* pool, unsigned long addr, size_t size) {
  atomic_point("gen_pool_free", pool);
  const int order = pool->min_alloc_order;
  const int nbits = wrap_int((size + (1UL << order) - 1) >> order);
  struct gen_pool_chunk* chunk;
  list_for_each_entry(chunk, &pool->chunks, next_chunk) {
    if (addr >= chunk->start_addr && addr <= chunk->end_addr) {
      BUG_ON(addr + size - 1 > chunk->end_addr);
      const int start_bit = wrap_int((addr - chunk->start_addr) >> order);
      const int remain = chunk_update_bits(chunk, start_bit, nbits, /*set=*/false);
      BUG_ON(remain);
      size = static_cast<size_t>(static_cast<long>(int_shl(nbits, order)));
      chunk->avail.fetch_add(wrap_int(size), std::memory_order_relaxed);
      return;
    }
  }
  BUG();
}

void gen_pool_for_each_chunk(struct gen_pool* pool,
                             void (*func)(struct gen_pool* pool, struct gen_pool_chunk* chunk, void* data),
                             void* data) {
  struct gen_pool_chunk* chunk;
  list_for_each_entry(chunk, &pool->chunks, next_chunk) func(pool, chunk, data);
}

bool addr_in_gen_pool(struct gen_pool* pool, unsigned long start, size_t size) {
  const unsigned long end = start + size - 1;
  struct gen_pool_chunk* chunk;
  list_for_each_entry(chunk, &pool->chunks, next_chunk) {
    if (start >= chunk->start_addr && start <= chunk->end_addr && end <= chunk->end_addr) return true;
  }
  return false;
}

size_t gen_pool_avail(struct gen_pool* pool) {
  size_t avail = 0;
  struct gen_pool_chunk* chunk;
  list_for_each_entry(chunk, &pool->chunks, next_chunk) {
    avail += static_cast<size_t>(static_cast<long>(chunk->avail.load(std::memory_order_relaxed)));
  }
  return avail;
}

ION_NO_COVERAGE const char* gen_pool_check(struct gen_pool* pool) {
  struct gen_pool_chunk* chunk;
  list_for_each_entry(chunk, &pool->chunks, next_chunk) {
    const unsigned long nbits = chunk_size(chunk) >> pool->min_alloc_order;
    const unsigned long used = bitmap_weight(chunk->bits, nbits);
    // avail is an atomic_t: compared as the int it holds (genalloc.h: chunks of 2 GiB and more wrap).
    const int32_t avail = chunk->avail.load(std::memory_order_relaxed);
    const int32_t clear = static_cast<int32_t>(static_cast<uint32_t>((nbits - used) << pool->min_alloc_order));
    if (avail != clear) {
      return "a chunk's avail does not match the clear bits of its bitmap";
    }
  }
  return nullptr;
}

size_t gen_pool_size(struct gen_pool* pool) {
  size_t size = 0;
  struct gen_pool_chunk* chunk;
  list_for_each_entry(chunk, &pool->chunks, next_chunk) size += chunk_size(chunk);
  return size;
}

void gen_pool_set_algo(struct gen_pool* pool, genpool_algo_t algo, void* data) {
  pool->algo = algo != nullptr ? algo : gen_pool_first_fit;
  pool->data = data;
}

unsigned long gen_pool_first_fit(unsigned long* map, unsigned long size, unsigned long start, unsigned int nr,
                                 void* /*data*/, struct gen_pool* /*pool*/) {
  return bitmap_find_next_zero_area(map, size, start, nr, 0);
}

unsigned long gen_pool_first_fit_align(unsigned long* map, unsigned long size, unsigned long start,
                                       unsigned int nr, void* data, struct gen_pool* pool) {
  const auto* alignment = static_cast<const struct genpool_data_align*>(data);
  const int order = pool->min_alloc_order;
  const unsigned long align = static_cast<unsigned long>(static_cast<long>(alignment->align));
  const unsigned long align_mask = ((align + (1UL << order) - 1) >> order) - 1;
  return bitmap_find_next_zero_area(map, size, start, nr, align_mask);
}

unsigned long gen_pool_fixed_alloc(unsigned long* map, unsigned long size, unsigned long start, unsigned int nr,
                                   void* data, struct gen_pool* pool) {
  const auto* fixed_data = static_cast<const struct genpool_data_fixed*>(data);
  const int order = pool->min_alloc_order;
  const unsigned long offset_bit = fixed_data->offset >> order;
  if (WARN_ON(fixed_data->offset & ((1UL << order) - 1))) return size;
  unsigned long start_bit = bitmap_find_next_zero_area(map, size, start + offset_bit, nr, 0);
  if (start_bit != offset_bit) start_bit = size;
  return start_bit;
}

unsigned long gen_pool_first_fit_order_align(unsigned long* map, unsigned long size, unsigned long start,
                                             unsigned int nr, void* /*data*/, struct gen_pool* /*pool*/) {
  const unsigned long align_mask = roundup_pow_of_two(nr) - 1;
  return bitmap_find_next_zero_area(map, size, start, nr, align_mask);
}

unsigned long gen_pool_best_fit(unsigned long* map, unsigned long size, unsigned long start, unsigned int nr,
                                void* /*data*/, struct gen_pool* /*pool*/) {
  unsigned long start_bit = size;
  unsigned long len = size + 1;
  unsigned long index = bitmap_find_next_zero_area(map, size, start, nr, 0);
  while (index < size) {
    // The free run starting at index ends at the next set bit (or the end of the map).
    const unsigned long next_bit = find_next_bit(map, size, index + nr);
    if (next_bit - index < len) {
      len = next_bit - index;
      start_bit = index;
      if (len == nr) return start_bit;
    }
    index = bitmap_find_next_zero_area(map, size, next_bit + 1, nr, 0);
  }
  return start_bit;
}

}  // namespace ionsim::kernel
