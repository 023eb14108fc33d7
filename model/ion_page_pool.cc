// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Page pools: per-order caches of free blocks in front of the page allocator, used by the system heap for
// uncached buffers. Mirrors drivers/staging/android/ion/ion_page_pool.c @ v4.4.
#include "model/ion_priv.h"
#include "model/kernel/bug.h"
#include "model/kernel/compiler.h"
#include "model/kernel/slab.h"

#include <climits>

namespace ionsim::kernel {
namespace {

// Mirrors ion_page_pool.c:ion_page_pool_alloc_pages() @ v4.4.
struct page* ion_page_pool_alloc_pages(struct ion_page_pool* pool) {
  struct page* page = alloc_pages(pool->mem, pool->gfp_mask, pool->order);
  if (!page) return nullptr;
  ion_pages_sync_for_device(nullptr, page, PAGE_SIZE << pool->order, DMA_BIDIRECTIONAL);
  return page;
}

// Mirrors ion_page_pool.c:ion_page_pool_free_pages() @ v4.4.
void ion_page_pool_free_pages(struct ion_page_pool* pool, struct page* page) { __free_pages(page, pool->order); }

// Mirrors ion_page_pool.c:ion_page_pool_add() @ v4.4: at the tail of the list of the block's zone.
int ion_page_pool_add(struct ion_page_pool* pool, struct page* page) {
  mutex_lock(&pool->mutex);
  if (PageHighMem(page)) {
    list_add_tail(&page->lru, &pool->high_items);
    pool->high_count++;
  } else {
    list_add_tail(&page->lru, &pool->low_items);
    pool->low_count++;
  }
  mutex_unlock(&pool->mutex);
  return 0;
}

// Mirrors ion_page_pool.c:ion_page_pool_remove() @ v4.4: the first block of the list; BUG on an empty count.
struct page* ion_page_pool_remove(struct ion_page_pool* pool, bool high) ABSL_EXCLUSIVE_LOCKS_REQUIRED(pool->mutex) {
  struct page* page;
  if (high) {
    BUG_ON(!pool->high_count);
    page = list_first_entry(&pool->high_items, struct page, lru);
    pool->high_count--;
  } else {
    BUG_ON(!pool->low_count);
    page = list_first_entry(&pool->low_items, struct page, lru);
    pool->low_count--;
  }
  list_del(&page->lru);
  return page;
}

// Mirrors ion_page_pool.c:ion_page_pool_total() @ v4.4: in base pages.
int ion_page_pool_total(struct ion_page_pool* pool, bool high) {
  mutex_lock(&pool->mutex);
  int count = pool->low_count;
  if (high) count += pool->high_count;
  mutex_unlock(&pool->mutex);
  return count << pool->order;
}

}  // namespace

// Mirrors ion_page_pool.c:ion_page_pool_alloc() @ v4.4.
struct page* ion_page_pool_alloc(struct ion_page_pool* pool) {
  struct page* page = nullptr;
  BUG_ON(!pool);
  mutex_lock(&pool->mutex);
  if (pool->high_count) {
    page = ion_page_pool_remove(pool, true);
  } else if (pool->low_count) {
    page = ion_page_pool_remove(pool, false);
  }
  mutex_unlock(&pool->mutex);
  // The pool mutex is released before falling back to the page allocator.
  if (!page) page = ion_page_pool_alloc_pages(pool);
  return page;
}

// Mirrors ion_page_pool.c:ion_page_pool_free() @ v4.4.
void ion_page_pool_free(struct ion_page_pool* pool, struct page* page) {
  BUG_ON(pool->order != compound_order(page));
  const int ret = ion_page_pool_add(pool, page);
  if (ret) ion_page_pool_free_pages(pool, page);
}

// Mirrors ion_page_pool.c:ion_page_pool_shrink() @ v4.4 (the "shrink page-pool by page unit" form: freed
// counts base pages, so one order-8 block is 256).
int ion_page_pool_shrink(struct ion_page_pool* pool, gfp_t gfp_mask, int nr_to_scan) {
  const bool high = current_is_kswapd() ? true : (gfp_mask & __GFP_HIGHMEM) != 0;
  if (nr_to_scan == 0) return ion_page_pool_total(pool, high);

  int freed = 0;
  while (freed < nr_to_scan) {
    struct page* page;
    mutex_lock(&pool->mutex);
    if (pool->low_count) {
      page = ion_page_pool_remove(pool, false);
    } else if (high && pool->high_count) {
      page = ion_page_pool_remove(pool, true);
    } else {
      mutex_unlock(&pool->mutex);
      break;
    }
    mutex_unlock(&pool->mutex);
    ion_page_pool_free_pages(pool, page);
    freed += 1 << pool->order;
  }
  return freed;
}

// Mirrors ion_page_pool.c:ion_page_pool_create() @ v4.4.
ION_MODULE_INIT struct ion_page_pool* ion_page_pool_create(struct phys_mem* mem, gfp_t gfp_mask, unsigned int order) {
  struct ion_page_pool* pool = kzalloc<struct ion_page_pool>(GFP_KERNEL);
  if (!pool) return nullptr;
  mutex_init(&pool->mutex);
  mutex_lock(&pool->mutex);
  pool->high_count = 0;
  pool->low_count = 0;
  INIT_LIST_HEAD(&pool->low_items);
  INIT_LIST_HEAD(&pool->high_items);
  mutex_unlock(&pool->mutex);
  pool->gfp_mask = gfp_mask | __GFP_COMP;
  pool->order = order;
  plist_node_init(&pool->list, static_cast<int>(order));
  pool->mem = mem;
  return pool;
}

// Mirrors ion_page_pool.c:ion_page_pool_destroy() @ v4.4.
ION_MODULE_EXIT void ion_page_pool_destroy(struct ion_page_pool* pool) {
  // Divergence (see ion_priv.h): every pooled block goes back to the page allocator before the struct.
  ion_page_pool_shrink(pool, __GFP_HIGHMEM, INT_MAX);
  kfree(pool);
}

}  // namespace ionsim::kernel
