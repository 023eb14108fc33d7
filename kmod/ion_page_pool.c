// SPDX-License-Identifier: GPL-2.0-only
/*
 * ionsim: page pools, per-order caches of free blocks in front of the page
 * allocator, used by the system heap for uncached buffers. Mirrors
 * drivers/staging/android/ion/ion_page_pool.c @ v4.4, ported to Linux 6.1.
 */

#include <linux/dma-mapping.h>
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/swap.h>

#include "ion_priv.h"

/* Mirrors ion_page_pool.c:ion_page_pool_alloc_pages() @ v4.4. */
static void *ion_page_pool_alloc_pages(struct ion_page_pool *pool)
{
	struct page *page = alloc_pages(pool->gfp_mask, pool->order);

	if (!page)
		return NULL;
	atomic_long_add(1L << pool->order, &ion_counters.pages_allocated);
	ion_pages_sync_for_device(NULL, page, PAGE_SIZE << pool->order,
				  DMA_BIDIRECTIONAL);
	return page;
}

/* Mirrors ion_page_pool.c:ion_page_pool_free_pages() @ v4.4. */
static void ion_page_pool_free_pages(struct ion_page_pool *pool,
				     struct page *page)
{
	__free_pages(page, pool->order);
	atomic_long_add(1L << pool->order, &ion_counters.pages_freed);
}

/*
 * Mirrors ion_page_pool.c:ion_page_pool_add() @ v4.4: at the tail of the
 * list of the block's zone.
 */
static int ion_page_pool_add(struct ion_page_pool *pool, struct page *page)
{
	mutex_lock(&pool->mutex);
	if (PageHighMem(page)) {
		list_add_tail(&page->lru, &pool->high_items);
		pool->high_count++;
	} else {
		list_add_tail(&page->lru, &pool->low_items);
		pool->low_count++;
	}
	atomic_long_add(1L << pool->order, &ion_counters.pool_pages);
	mutex_unlock(&pool->mutex);
	return 0;
}

/* Mirrors ion_page_pool.c:ion_page_pool_remove() @ v4.4: the first block. */
static struct page *ion_page_pool_remove(struct ion_page_pool *pool, bool high)
{
	struct page *page;

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
	atomic_long_sub(1L << pool->order, &ion_counters.pool_pages);
	return page;
}

/*
 * Mirrors ion_page_pool.c:ion_page_pool_alloc() @ v4.4: a pooled highmem
 * block, else a lowmem one, else a new block (the pool mutex is released
 * before falling back to the page allocator).
 */
struct page *ion_page_pool_alloc(struct ion_page_pool *pool)
{
	struct page *page = NULL;

	BUG_ON(!pool);

	mutex_lock(&pool->mutex);
	if (pool->high_count)
		page = ion_page_pool_remove(pool, true);
	else if (pool->low_count)
		page = ion_page_pool_remove(pool, false);
	mutex_unlock(&pool->mutex);

	if (!page)
		page = ion_page_pool_alloc_pages(pool);

	return page;
}

/* Mirrors ion_page_pool.c:ion_page_pool_free() @ v4.4. */
void ion_page_pool_free(struct ion_page_pool *pool, struct page *page)
{
	int ret;

	BUG_ON(pool->order != compound_order(page));

	ret = ion_page_pool_add(pool, page);
	if (ret)
		ion_page_pool_free_pages(pool, page);
}

/* Mirrors ion_page_pool.c:ion_page_pool_total() @ v4.4: in base pages. */
static int ion_page_pool_total(struct ion_page_pool *pool, bool high)
{
	int count = pool->low_count;

	if (high)
		count += pool->high_count;

	return count << pool->order;
}

/*
 * Mirrors ion_page_pool.c:ion_page_pool_shrink() @ v4.4: nr_to_scan 0
 * counts; otherwise lowmem blocks go first, highmem ones only for kswapd or
 * a __GFP_HIGHMEM caller, until nr_to_scan base pages are freed.
 */
int ion_page_pool_shrink(struct ion_page_pool *pool, gfp_t gfp_mask,
			 int nr_to_scan)
{
	int freed = 0;
	bool high;

	if (current_is_kswapd())
		high = true;
	else
		high = !!(gfp_mask & __GFP_HIGHMEM);

	if (nr_to_scan == 0)
		return ion_page_pool_total(pool, high);

	while (freed < nr_to_scan) {
		struct page *page;

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
		freed += (1 << pool->order);
	}

	return freed;
}

/* Mirrors ion_page_pool.c:ion_page_pool_create() @ v4.4. */
struct ion_page_pool *ion_page_pool_create(gfp_t gfp_mask, unsigned int order)
{
	struct ion_page_pool *pool = kmalloc(sizeof(*pool), GFP_KERNEL);

	if (!pool)
		return NULL;
	pool->high_count = 0;
	pool->low_count = 0;
	INIT_LIST_HEAD(&pool->low_items);
	INIT_LIST_HEAD(&pool->high_items);
	pool->gfp_mask = gfp_mask | __GFP_COMP;
	pool->order = order;
	mutex_init(&pool->mutex);
	plist_node_init(&pool->list, order);

	return pool;
}

/*
 * Mirrors ion_page_pool.c:ion_page_pool_destroy() @ v4.4, which frees only
 * the struct.
 * Port: every pooled block goes back to the page allocator first; v4.4
 * never destroys a pool, the module's unload does and must return every
 * page.
 */
void ion_page_pool_destroy(struct ion_page_pool *pool)
{
	ion_page_pool_shrink(pool, __GFP_HIGHMEM, INT_MAX);
	kfree(pool);
}
