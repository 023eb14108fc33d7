// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The system heap (greedy chunks of orders 8, 4 and 0 from per-order page pools) and the system-contig heap
// (one physically contiguous, zeroed block per buffer). Mirrors drivers/staging/android/ion/ion_system_heap.c
// @ v4.4.
#include <string>

#include "model/ion_priv.h"
#include "model/kernel/bug.h"
#include "model/kernel/compiler.h"
#include "model/kernel/slab.h"

namespace ionsim::kernel {
namespace {

// Mirrors ion_system_heap.c:high_order_gfp_flags @ v4.4: no direct reclaim, no retry, no warning.
constexpr gfp_t high_order_gfp_flags = (GFP_HIGHUSER | __GFP_ZERO | __GFP_NOWARN | __GFP_NORETRY) & ~__GFP_DIRECT_RECLAIM;
// Mirrors ion_system_heap.c:low_order_gfp_flags @ v4.4.
constexpr gfp_t low_order_gfp_flags = GFP_HIGHUSER | __GFP_ZERO | __GFP_NOWARN;

constexpr const unsigned int* orders = ion_system_heap_orders;
constexpr int num_orders = ion_system_heap_num_orders;

// Mirrors ion_system_heap.c:order_to_index() @ v4.4: BUG for an order the heap does not use.
int order_to_index(unsigned int order) {
  for (int i = 0; i < num_orders; i++) {
    if (order == orders[i]) return i;
  }
  BUG();
  return -1;
}

// Mirrors ion_system_heap.c:order_to_size() @ v4.4.
unsigned long order_to_size(unsigned int order) { return PAGE_SIZE << order; }

// Mirrors ion_system_heap.c:struct ion_system_heap @ v4.4.
struct ion_system_heap {
  struct ion_heap heap;
  struct ion_page_pool** pools;
};

struct ion_system_heap* to_system_heap(struct ion_heap* heap) { return container_of(heap, struct ion_system_heap, heap); }

// Mirrors ion_system_heap.c:alloc_buffer_page() @ v4.4: uncached buffers take blocks from the pool of the order;
// cached ones go to the page allocator directly and are synced for the device.
struct page* alloc_buffer_page(struct ion_system_heap* heap, struct ion_buffer* buffer, unsigned long order) {
  const bool cached = ion_buffer_cached(buffer);
  struct ion_page_pool* pool = heap->pools[order_to_index(static_cast<unsigned int>(order))];
  struct page* page;
  if (!cached) {
    page = ion_page_pool_alloc(pool);
  } else {
    gfp_t gfp_flags = low_order_gfp_flags;
    if (order > 4) gfp_flags = high_order_gfp_flags;
    page = alloc_pages(heap->heap.mem, gfp_flags | __GFP_COMP, static_cast<unsigned int>(order));
    if (!page) return nullptr;
    ion_pages_sync_for_device(nullptr, page, PAGE_SIZE << order, DMA_BIDIRECTIONAL);
  }
  return page;
}

// Mirrors ion_system_heap.c:free_buffer_page() @ v4.4: back to the pool for uncached buffers, unless the
// shrinker is freeing the buffer; to the page allocator otherwise.
void free_buffer_page(struct ion_system_heap* heap, struct ion_buffer* buffer, struct page* page) {
  const unsigned int order = compound_order(page);
  const bool cached = ion_buffer_cached(buffer);
  if (!cached && !(buffer->private_flags & ION_PRIV_FLAG_SHRINKER_FREE)) {
    struct ion_page_pool* pool = heap->pools[order_to_index(order)];
    ion_page_pool_free(pool, page);
  } else {
    __free_pages(page, order);
  }
}

// Mirrors ion_system_heap.c:alloc_largest_available() @ v4.4: the first order (largest first) that fits both the
// remaining size and max_order and whose allocation succeeds.
struct page* alloc_largest_available(struct ion_system_heap* heap, struct ion_buffer* buffer, unsigned long size,
                                     unsigned int max_order) {
  for (int i = 0; i < num_orders; i++) {
    if (size < order_to_size(orders[i])) continue;
    if (max_order < orders[i]) continue;
    struct page* page = alloc_buffer_page(heap, buffer, orders[i]);
    if (!page) continue;
    return page;
  }
  return nullptr;
}

// Mirrors ion_system_heap.c:ion_system_heap_allocate() @ v4.4: align beyond a page is -EINVAL, more than half of
// RAM is -ENOMEM; then greedy chunks whose order never grows again, one sg entry per chunk in allocation order
// (so in descending size). Any failure gives every chunk back and -ENOMEM.
int ion_system_heap_allocate(struct ion_heap* heap, struct ion_buffer* buffer, unsigned long size,
                             unsigned long align, unsigned long /*flags*/) {
  struct ion_system_heap* sys_heap = to_system_heap(heap);
  unsigned long size_remaining = PAGE_ALIGN(size);
  unsigned int max_order = orders[0];
  int i = 0;

  if (align > PAGE_SIZE) return -EINVAL;
  if (size / PAGE_SIZE > totalram_pages(heap->mem) / 2) return -ENOMEM;

  LIST_HEAD(pages);
  struct page* page;
  struct page* tmp_page;
  struct sg_table* table;
  struct scatterlist* sg;
  while (size_remaining > 0) {
    page = alloc_largest_available(sys_heap, buffer, size_remaining, max_order);
    if (!page) goto free_pages;
    list_add_tail(&page->lru, &pages);
    size_remaining -= PAGE_SIZE << compound_order(page);
    max_order = compound_order(page);
    i++;
  }
  table = kzalloc<struct sg_table>(GFP_KERNEL);
  if (!table) goto free_pages;
  if (!sg_alloc_table(table, static_cast<unsigned int>(i), GFP_KERNEL).ok()) goto free_table;

  sg = table->sgl;
  list_for_each_entry_safe(page, tmp_page, &pages, lru) {
    sg_set_page(sg, page, static_cast<unsigned int>(PAGE_SIZE << compound_order(page)), 0);
    sg = sg_next(sg);
    list_del(&page->lru);
  }
  buffer->priv_virt = table;
  return 0;

free_table:
  kfree(table);
free_pages:
  list_for_each_entry_safe(page, tmp_page, &pages, lru) {
    list_del(&page->lru);
    free_buffer_page(sys_heap, buffer, page);
  }
  return -ENOMEM;
}

// Mirrors ion_system_heap.c:ion_system_heap_free() @ v4.4: an uncached buffer is zeroed (its blocks go to the
// pools, which hand them out again without zeroing) unless the shrinker frees it; a cached buffer goes straight
// back to the page allocator unzeroed (its next allocation is __GFP_ZERO). Then every chunk goes back.
void ion_system_heap_free(struct ion_buffer* buffer) {
  struct ion_system_heap* sys_heap = to_system_heap(buffer->heap);
  struct sg_table* table = buffer->sg_table;
  const bool cached = ion_buffer_cached(buffer);
  if (!cached && !(buffer->private_flags & ION_PRIV_FLAG_SHRINKER_FREE)) ion_heap_buffer_zero(buffer);
  struct scatterlist* sg;
  unsigned int i;
  for_each_sg(table->sgl, sg, table->nents, i) free_buffer_page(sys_heap, buffer, sg_page(sg));
  sg_free_table(table);
  kfree(table);
}

// Mirrors ion_system_heap.c:ion_system_heap_map_dma() @ v4.4.
ErrnoOr<struct sg_table*> ion_system_heap_map_dma(struct ion_heap* /*heap*/, struct ion_buffer* buffer) {
  return static_cast<struct sg_table*>(buffer->priv_virt);
}

// Mirrors ion_system_heap.c:ion_system_heap_unmap_dma() @ v4.4.
void ion_system_heap_unmap_dma(struct ion_heap* /*heap*/, struct ion_buffer* /*buffer*/) {}

// Mirrors ion_system_heap.c:ion_system_heap_shrink() @ v4.4: nr_to_scan 0 sums every pool's count; otherwise
// the pools are shrunk largest order first until nr_to_scan base pages are freed.
int ion_system_heap_shrink(struct ion_heap* heap, gfp_t gfp_mask, int nr_to_scan) {
  struct ion_system_heap* sys_heap = to_system_heap(heap);
  const bool only_scan = nr_to_scan == 0;
  int nr_total = 0;
  for (int i = 0; i < num_orders; i++) {
    struct ion_page_pool* pool = sys_heap->pools[i];
    if (only_scan) {
      nr_total += ion_page_pool_shrink(pool, gfp_mask, nr_to_scan);
    } else {
      const int nr_freed = ion_page_pool_shrink(pool, gfp_mask, nr_to_scan);
      nr_to_scan -= nr_freed;
      nr_total += nr_freed;
      if (nr_to_scan <= 0) break;
    }
  }
  return nr_total;
}

// Mirrors ion_system_heap.c:system_heap_ops @ v4.4.
const struct ion_heap_ops system_heap_ops = {
    .allocate = ion_system_heap_allocate,
    .free = ion_system_heap_free,
    .phys = nullptr,
    .map_dma = ion_system_heap_map_dma,
    .unmap_dma = ion_system_heap_unmap_dma,
    .map_kernel = ion_heap_map_kernel,
    .unmap_kernel = ion_heap_unmap_kernel,
    .map_user = ion_heap_map_user,
    .shrink = ion_system_heap_shrink,
};

// Mirrors ion_system_heap.c:ion_system_heap_debug_show() @ v4.4: per pool, the highmem line then the lowmem line.
int ion_system_heap_debug_show(struct ion_heap* heap, struct seq_file* s, void* /*unused*/) {
  struct ion_system_heap* sys_heap = to_system_heap(heap);
  for (int i = 0; i < num_orders; i++) {
    struct ion_page_pool* pool = sys_heap->pools[i];
    mutex_lock(&pool->mutex);
    const int high = pool->high_count;
    const int low = pool->low_count;
    mutex_unlock(&pool->mutex);
    seq_printf(s, "%d order %u highmem pages in pool = %lu total\n", high, pool->order,
               (PAGE_SIZE << pool->order) * static_cast<unsigned long>(high));
    seq_printf(s, "%d order %u lowmem pages in pool = %lu total\n", low, pool->order,
               (PAGE_SIZE << pool->order) * static_cast<unsigned long>(low));
  }
  return 0;
}

const struct ion_heap_type_ops system_type = {
    .type = ION_HEAP_TYPE_SYSTEM,
    .name = "system",
    .create = ion_system_heap_create,
    .destroy = ion_system_heap_destroy,
};
const bool system_registered = ion_register_heap_type(&system_type);

// Mirrors ion_system_heap.c:ion_system_contig_heap_allocate() @ v4.4: a block of get_order(len), split, the
// pages beyond PAGE_ALIGN(len) freed again.
int ion_system_contig_heap_allocate(struct ion_heap* heap, struct ion_buffer* buffer, unsigned long len,
                                    unsigned long align, unsigned long /*flags*/) {
  const int order = get_order(len);
  // PAGE_SIZE << order wraps to 0 for get_order(0) == 52, as the unsigned long shift does upstream.
  if (align > (PAGE_SIZE << order)) return -EINVAL;

  struct page* page = alloc_pages(heap->mem, low_order_gfp_flags, static_cast<unsigned int>(order));
  if (!page) return -ENOMEM;

  split_page(page, static_cast<unsigned int>(order));

  len = PAGE_ALIGN(len);
  for (unsigned long i = len >> PAGE_SHIFT; i < (1UL << order); i++) __free_page(nth_page(page, i));

  int ret = 0;
  struct sg_table* table = kzalloc<struct sg_table>(GFP_KERNEL);
  if (!table) {
    ret = -ENOMEM;
    goto free_pages;
  }
  ret = sg_alloc_table(table, 1, GFP_KERNEL).kernel_ret();
  if (ret) goto free_table;

  sg_set_page(table->sgl, page, static_cast<unsigned int>(len), 0);
  buffer->priv_virt = table;
  ion_pages_sync_for_device(nullptr, page, len, DMA_BIDIRECTIONAL);
  return 0;

free_table:
  kfree(table);
free_pages:
  for (unsigned long i = 0; i < len >> PAGE_SHIFT; i++) __free_page(nth_page(page, i));
  return ret;
}

// Mirrors ion_system_heap.c:ion_system_contig_heap_free() @ v4.4: no zeroing (the block was zeroed at
// allocation), no pool.
void ion_system_contig_heap_free(struct ion_buffer* buffer) {
  struct sg_table* table = static_cast<struct sg_table*>(buffer->priv_virt);
  struct page* page = sg_page(table->sgl);
  const unsigned long pages = PAGE_ALIGN(buffer->size) >> PAGE_SHIFT;
  for (unsigned long i = 0; i < pages; i++) __free_page(nth_page(page, i));
  sg_free_table(table);
  kfree(table);
}

// Mirrors ion_system_heap.c:ion_system_contig_heap_phys() @ v4.4.
int ion_system_contig_heap_phys(struct ion_heap* /*heap*/, struct ion_buffer* buffer, phys_addr_t* addr,
                                size_t* len) {
  struct sg_table* table = static_cast<struct sg_table*>(buffer->priv_virt);
  *addr = page_to_phys(sg_page(table->sgl));
  *len = buffer->size;
  return 0;
}

// Mirrors ion_system_heap.c:ion_system_contig_heap_map_dma() @ v4.4.
ErrnoOr<struct sg_table*> ion_system_contig_heap_map_dma(struct ion_heap* /*heap*/, struct ion_buffer* buffer) {
  return static_cast<struct sg_table*>(buffer->priv_virt);
}

// Mirrors ion_system_heap.c:ion_system_contig_heap_unmap_dma() @ v4.4.
void ion_system_contig_heap_unmap_dma(struct ion_heap* /*heap*/, struct ion_buffer* /*buffer*/) {}

// Mirrors ion_system_heap.c:kmalloc_ops @ v4.4.
const struct ion_heap_ops kmalloc_ops = {
    .allocate = ion_system_contig_heap_allocate,
    .free = ion_system_contig_heap_free,
    .phys = ion_system_contig_heap_phys,
    .map_dma = ion_system_contig_heap_map_dma,
    .unmap_dma = ion_system_contig_heap_unmap_dma,
    .map_kernel = ion_heap_map_kernel,
    .unmap_kernel = ion_heap_unmap_kernel,
    .map_user = ion_heap_map_user,
    .shrink = nullptr,
};

const struct ion_heap_type_ops system_contig_type = {
    .type = ION_HEAP_TYPE_SYSTEM_CONTIG,
    .name = "system_contig",
    .create = ion_system_contig_heap_create,
    .destroy = ion_system_contig_heap_destroy,
};
const bool system_contig_registered = ion_register_heap_type(&system_contig_type);

}  // namespace

// Mirrors ion_system_heap.c:ion_system_heap_create() @ v4.4: DEFER_FREE, one pool per order (the high-order
// pool never enters direct reclaim).
ION_MODULE_INIT ErrnoOr<struct ion_heap*> ion_system_heap_create(const struct ion_platform_heap* heap_data) {
  struct ion_system_heap* heap = kzalloc<struct ion_system_heap>(GFP_KERNEL);
  if (!heap) return Errno(-ENOMEM);
  heap->heap.ops = &system_heap_ops;
  heap->heap.type = ION_HEAP_TYPE_SYSTEM;
  heap->heap.flags = ION_HEAP_FLAG_DEFER_FREE;
  heap->heap.mem = heap_data->mem;
  heap->pools = kcalloc<struct ion_page_pool*>(num_orders, GFP_KERNEL);
  if (!heap->pools) goto free_heap;
  for (int i = 0; i < num_orders; i++) {
    gfp_t gfp_flags = low_order_gfp_flags;
    if (orders[i] > 4) gfp_flags = high_order_gfp_flags;
    struct ion_page_pool* pool = ion_page_pool_create(heap_data->mem, gfp_flags, orders[i]);
    if (!pool) goto destroy_pools;
    heap->pools[i] = pool;
  }
  heap->heap.debug_show = ion_system_heap_debug_show;
  return &heap->heap;

destroy_pools:
  for (int i = 0; i < num_orders; i++) {
    if (heap->pools[i]) ion_page_pool_destroy(heap->pools[i]);
  }
  kfree_array(heap->pools);
free_heap:
  kfree(heap);
  return Errno(-ENOMEM);
}

// Mirrors ion_system_heap.c:ion_system_heap_destroy() @ v4.4.
ION_MODULE_EXIT void ion_system_heap_destroy(struct ion_heap* heap) {
  struct ion_system_heap* sys_heap = to_system_heap(heap);
  for (int i = 0; i < num_orders; i++) ion_page_pool_destroy(sys_heap->pools[i]);
  kfree_array(sys_heap->pools);
  kfree(sys_heap);
}

struct ion_page_pool* ion_system_heap_pool(struct ion_heap* heap, int index) {
  return to_system_heap(heap)->pools[index];
}

// Mirrors ion_system_heap.c:ion_system_contig_heap_create() @ v4.4.
ION_MODULE_INIT ErrnoOr<struct ion_heap*> ion_system_contig_heap_create(const struct ion_platform_heap* heap_data) {
  struct ion_heap* heap = kzalloc<struct ion_heap>(GFP_KERNEL);
  if (!heap) return Errno(-ENOMEM);
  heap->ops = &kmalloc_ops;
  heap->type = ION_HEAP_TYPE_SYSTEM_CONTIG;
  heap->mem = heap_data->mem;
  return heap;
}

// Mirrors ion_system_heap.c:ion_system_contig_heap_destroy() @ v4.4.
ION_MODULE_EXIT void ion_system_contig_heap_destroy(struct ion_heap* heap) { kfree(heap); }

}  // namespace ionsim::kernel
