// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The kernel's general-purpose special-memory allocator (lib/genalloc.c), which ION's carveout and chunk heaps
// allocate from. v4.4 semantics, with the per-call algorithm entry point and the extra algorithms of v4.14
// (gen_pool_alloc_algo, first_fit_align, fixed_alloc, whose algorithm signature takes the pool).
//
// What callers must know, all as upstream:
//   - one bit per 2^min_alloc_order bytes; a chunk's bitmap covers size >> order whole granules;
//   - gen_pool_add puts the new chunk at the head of the list, so the newest chunk is searched first;
//   - gen_pool_alloc returns 0 for size 0 or when nothing fits (0 is the failure value, so an allocation at
//     address 0 is indistinguishable from failure);
//   - the search position is not reset between chunks (v4.4): after a failed search in one chunk, the next chunk
//     is searched from the bit where the last candidate ended;
//   - chunk->avail is an atomic_t and the sizes in alloc/free are computed in int, so chunks of 2 GiB and more
//     wrap exactly as they do in a v4.4 kernel;
//   - gen_pool_free BUGs on an address outside every chunk, on a range crossing the chunk end and on bits that
//     are already clear (double free); gen_pool_destroy BUGs while any bit is still set.
#ifndef MODEL_KERNEL_GENALLOC_H_
#define MODEL_KERNEL_GENALLOC_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "model/kernel/err.h"
#include "model/kernel/genalloc_index.h"
#include "model/kernel/list.h"
#include "model/kernel/lock.h"

namespace ionsim::kernel {

using phys_addr_t = unsigned long;

struct gen_pool;

// Mirrors include/linux/genalloc.h:genpool_algo_t @ v4.14.
using genpool_algo_t = unsigned long (*)(unsigned long* map, unsigned long size, unsigned long start,
                                         unsigned int nr, void* data, struct gen_pool* pool);

// Mirrors include/linux/genalloc.h:struct gen_pool @ v4.4.
struct gen_pool {
  spinlock_t lock;
  struct list_head chunks;
  int min_alloc_order;
  genpool_algo_t algo;
  void* data;
  const char* name;
};

// Mirrors include/linux/genalloc.h:struct gen_pool_chunk @ v4.4.
struct gen_pool_chunk {
  struct list_head next_chunk;
  std::atomic<int32_t> avail;  // atomic_t
  phys_addr_t phys_addr;
  unsigned long start_addr;
  unsigned long end_addr;  // inclusive
  // Divergence: a flexible array member upstream; a separate kcalloc here (C++ has no flexible arrays).
  unsigned long* bits;
  // Divergence: not upstream. Answers first-fit searches without walking every hole (genalloc_index.h).
  std::unique_ptr<genalloc_index> index;
};

// Mirrors include/linux/genalloc.h:struct genpool_data_align @ v4.14.
struct genpool_data_align {
  int align;
};

// Mirrors include/linux/genalloc.h:struct genpool_data_fixed @ v4.14.
struct genpool_data_fixed {
  unsigned long offset;
};

// Mirrors lib/genalloc.c:gen_pool_create() @ v4.4. Returns NULL when the pool cannot be allocated.
struct gen_pool* gen_pool_create(int min_alloc_order, int nid);
// Mirrors lib/genalloc.c:gen_pool_add_virt() @ v4.4: 0 or -ENOMEM.
Errno gen_pool_add_virt(struct gen_pool* pool, unsigned long virt, phys_addr_t phys, size_t size, int nid);
// Mirrors include/linux/genalloc.h:gen_pool_add() @ v4.4 (phys = -1).
Errno gen_pool_add(struct gen_pool* pool, unsigned long addr, size_t size, int nid);
// Mirrors lib/genalloc.c:gen_pool_virt_to_phys() @ v4.4: -1 when addr is in no chunk.
phys_addr_t gen_pool_virt_to_phys(struct gen_pool* pool, unsigned long addr);
// Mirrors lib/genalloc.c:gen_pool_destroy() @ v4.4.
void gen_pool_destroy(struct gen_pool* pool);
// Mirrors lib/genalloc.c:gen_pool_alloc() @ v4.4 (the pool's own algorithm).
unsigned long gen_pool_alloc(struct gen_pool* pool, size_t size);
// Mirrors lib/genalloc.c:gen_pool_alloc_algo() @ v4.14.
unsigned long gen_pool_alloc_algo(struct gen_pool* pool, size_t size, genpool_algo_t algo, void* data);
// Mirrors lib/genalloc.c:gen_pool_free() @ v4.4.
void gen_pool_free(struct gen_pool* pool, unsigned long addr, size_t size);
// Mirrors lib/genalloc.c:gen_pool_for_each_chunk() @ v4.4.
void gen_pool_for_each_chunk(struct gen_pool* pool,
                             void (*func)(struct gen_pool* pool, struct gen_pool_chunk* chunk, void* data),
                             void* data);
// Mirrors lib/genalloc.c:addr_in_gen_pool() @ v4.4.
bool addr_in_gen_pool(struct gen_pool* pool, unsigned long start, size_t size);
// Mirrors lib/genalloc.c:gen_pool_avail() @ v4.4.
size_t gen_pool_avail(struct gen_pool* pool);
// Not a kernel function: the invariant checker's look at a pool. NULL when, in every chunk, avail equals the
// clear bits of the chunk's bitmap times the granule (as an int, like avail); otherwise what is wrong. Call it under no allocation.
const char* gen_pool_check(struct gen_pool* pool);
// Mirrors lib/genalloc.c:gen_pool_size() @ v4.4.
size_t gen_pool_size(struct gen_pool* pool);
// Mirrors lib/genalloc.c:gen_pool_set_algo() @ v4.4: NULL selects gen_pool_first_fit.
void gen_pool_set_algo(struct gen_pool* pool, genpool_algo_t algo, void* data);

// Mirrors lib/genalloc.c:gen_pool_first_fit() @ v4.14.
unsigned long gen_pool_first_fit(unsigned long* map, unsigned long size, unsigned long start, unsigned int nr,
                                 void* data, struct gen_pool* pool);
// Mirrors lib/genalloc.c:gen_pool_first_fit_align() @ v4.14: data is a genpool_data_align; the alignment is
// relative to the start of the chunk, not to the absolute address (5.x added align_off).
unsigned long gen_pool_first_fit_align(unsigned long* map, unsigned long size, unsigned long start,
                                       unsigned int nr, void* data, struct gen_pool* pool);
// Mirrors lib/genalloc.c:gen_pool_fixed_alloc() @ v4.14: data is a genpool_data_fixed (offset from the chunk
// start); a misaligned offset WARNs and fails.
unsigned long gen_pool_fixed_alloc(unsigned long* map, unsigned long size, unsigned long start, unsigned int nr,
                                   void* data, struct gen_pool* pool);
// Mirrors lib/genalloc.c:gen_pool_first_fit_order_align() @ v4.14.
unsigned long gen_pool_first_fit_order_align(unsigned long* map, unsigned long size, unsigned long start,
                                             unsigned int nr, void* data, struct gen_pool* pool);
// Mirrors lib/genalloc.c:gen_pool_best_fit() @ v4.14.
unsigned long gen_pool_best_fit(unsigned long* map, unsigned long size, unsigned long start, unsigned int nr,
                                void* data, struct gen_pool* pool);

// Mirrors lib/genalloc.c:chunk_size() @ v4.4.
inline size_t chunk_size(const struct gen_pool_chunk* chunk) { return chunk->end_addr - chunk->start_addr + 1; }

}  // namespace ionsim::kernel

#endif  // MODEL_KERNEL_GENALLOC_H_
