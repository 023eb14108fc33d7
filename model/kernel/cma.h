// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Contiguous memory areas: a physical range reserved at boot and handed out in page runs by a bitmap.
// Mirrors mm/cma.c @ v4.4.
// Divergence: the area's pages never enter the buddy allocator (v4.4 lends them to movable allocations and
// migrates those away in alloc_contig_range()); the model has no page migration, so an allocation never finds
// its range busy and never retries.
#ifndef MODEL_KERNEL_CMA_H_
#define MODEL_KERNEL_CMA_H_

#include <cstddef>

#include "absl/base/thread_annotations.h"
#include "model/kernel/err.h"
#include "model/kernel/lock.h"
#include "model/kernel/mm.h"

namespace ionsim::kernel {

// Mirrors arch/arm/configs (CONFIG_CMA_ALIGNMENT default) @ v4.4: allocations align to at most 2^8 pages.
inline constexpr unsigned int CONFIG_CMA_ALIGNMENT = 8;

// Mirrors mm/cma.h:struct cma @ v4.4.
struct cma {
  unsigned long base_pfn;
  unsigned long count;
  unsigned long* bitmap ABSL_GUARDED_BY(lock);
  unsigned int order_per_bit;  // order of pages represented by one bit
  struct mutex lock;
  // Divergence: the machine the area belongs to (the kernel has one).
  struct phys_mem* mem;
};

// Mirrors mm/cma.c:cma_init_reserved_mem() @ v4.4 with cma_activate_area(): the range must be reserved memory
// with struct pages; base and size aligned to PAGE_SIZE << max(MAX_ORDER - 1, pageblock_order) (4 MiB), and that
// alignment to order_per_bit. -EINVAL otherwise, -ENOMEM when the bitmap cannot be allocated.
ErrnoOr<struct cma*> cma_init_reserved_mem(struct phys_mem* mem, phys_addr_t base, phys_addr_t size,
                                           unsigned int order_per_bit);
// Frees the area's bookkeeping; the model's module unload needs it (v4.4 areas live forever). Returns the pages
// still allocated from the area (0 for a clean teardown).
unsigned long cma_destroy(struct cma* cma);
// Mirrors mm/cma.c:cma_get_base() @ v4.4.
phys_addr_t cma_get_base(const struct cma* cma);
// Mirrors mm/cma.c:cma_get_size() @ v4.4.
unsigned long cma_get_size(const struct cma* cma);
// Mirrors mm/cma.c:cma_alloc() @ v4.4: the first free run of count pages (in bits of 2^order_per_bit pages)
// whose physical pfn is aligned to 2^align pages; NULL when none (or count is 0).
struct page* cma_alloc(struct cma* cma, size_t count, unsigned int align);
// Mirrors mm/cma.c:cma_release() @ v4.4: false for pages outside the area.
bool cma_release(struct cma* cma, const struct page* pages, unsigned int count);
// The pages currently allocated from the area (for invariant checks).
unsigned long cma_used_pages(struct cma* cma);

}  // namespace ionsim::kernel

#endif  // MODEL_KERNEL_CMA_H_
