// SPDX-License-Identifier: GPL-2.0-only
/*
 * ionsim: the system heap (greedy chunks of orders 8, 4 and 0 from the page
 * allocator, with per-order page pools for uncached buffers) and the system
 * contig heap (one physically contiguous block per buffer). Mirrors
 * drivers/staging/android/ion/ion_system_heap.c @ v4.4, ported to Linux 6.1.
 */

#include <asm/page.h>
#include <linux/dma-mapping.h>
#include <linux/err.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/scatterlist.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "ion.h"
#include "ion_priv.h"

/* Mirrors ion_system_heap.c:high_order_gfp_flags @ v4.4. */
static gfp_t high_order_gfp_flags = (GFP_HIGHUSER | __GFP_ZERO | __GFP_NOWARN |
				     __GFP_NORETRY) & ~__GFP_DIRECT_RECLAIM;
/* Mirrors ion_system_heap.c:low_order_gfp_flags @ v4.4. */
static gfp_t low_order_gfp_flags  = (GFP_HIGHUSER | __GFP_ZERO | __GFP_NOWARN);
/* Mirrors ion_system_heap.c:orders[] @ v4.4. */
static const unsigned int orders[] = {8, 4, 0};
static const int num_orders = ARRAY_SIZE(orders);

/* Mirrors ion_system_heap.c:order_to_index() @ v4.4. */
static int order_to_index(unsigned int order)
{
	int i;

	for (i = 0; i < num_orders; i++)
		if (order == orders[i])
			return i;
	BUG();
	return -1;
}

/* Mirrors ion_system_heap.c:order_to_size() @ v4.4. */
static inline unsigned int order_to_size(int order)
{
	return PAGE_SIZE << order;
}

/* Mirrors ion_system_heap.c:struct ion_system_heap @ v4.4. */
struct ion_system_heap {
	struct ion_heap heap;
	struct ion_page_pool *pools[];
};

/*
 * Mirrors ion_system_heap.c:alloc_buffer_page() @ v4.4: uncached buffers
 * take blocks from the order's pool; cached ones straight from the page
 * allocator.
 */
static struct page *alloc_buffer_page(struct ion_system_heap *heap,
				      struct ion_buffer *buffer,
				      unsigned long order)
{
	bool cached = ion_buffer_cached(buffer);
	struct ion_page_pool *pool = heap->pools[order_to_index(order)];
	struct page *page;

	if (!cached) {
		page = ion_page_pool_alloc(pool);
	} else {
		gfp_t gfp_flags = low_order_gfp_flags;

		if (order > 4)
			gfp_flags = high_order_gfp_flags;
		page = alloc_pages(gfp_flags | __GFP_COMP, order);
		if (!page)
			return NULL;
		atomic_long_add(1L << order, &ion_counters.pages_allocated);
		ion_pages_sync_for_device(NULL, page, PAGE_SIZE << order,
					  DMA_BIDIRECTIONAL);
	}

	return page;
}

/*
 * Mirrors ion_system_heap.c:free_buffer_page() @ v4.4: back to the pool for
 * uncached buffers, unless the shrinker frees them.
 */
static void free_buffer_page(struct ion_system_heap *heap,
			     struct ion_buffer *buffer, struct page *page)
{
	unsigned int order = compound_order(page);
	bool cached = ion_buffer_cached(buffer);

	if (!cached && !(buffer->private_flags & ION_PRIV_FLAG_SHRINKER_FREE)) {
		struct ion_page_pool *pool = heap->pools[order_to_index(order)];

		ion_page_pool_free(pool, page);
	} else {
		__free_pages(page, order);
		atomic_long_add(1L << order, &ion_counters.pages_freed);
	}
}

/*
 * Mirrors ion_system_heap.c:alloc_largest_available() @ v4.4: the largest
 * order that fits the remaining size and does not exceed max_order.
 */
static struct page *alloc_largest_available(struct ion_system_heap *heap,
					    struct ion_buffer *buffer,
					    unsigned long size,
					    unsigned int max_order)
{
	struct page *page;
	int i;

	for (i = 0; i < num_orders; i++) {
		if (size < order_to_size(orders[i]))
			continue;
		if (max_order < orders[i])
			continue;

		page = alloc_buffer_page(heap, buffer, orders[i]);
		if (!page)
			continue;

		return page;
	}

	return NULL;
}

/*
 * Mirrors ion_system_heap.c:ion_system_heap_allocate() @ v4.4: greedy
 * chunks that never grow again; one sg entry per chunk.
 */
static int ion_system_heap_allocate(struct ion_heap *heap,
				    struct ion_buffer *buffer,
				    unsigned long size, unsigned long align,
				    unsigned long flags)
{
	struct ion_system_heap *sys_heap = container_of(heap,
							struct ion_system_heap,
							heap);
	struct sg_table *table;
	struct scatterlist *sg;
	struct list_head pages;
	struct page *page, *tmp_page;
	int i = 0;
	unsigned long size_remaining = PAGE_ALIGN(size);
	unsigned int max_order = orders[0];

	if (align > PAGE_SIZE)
		return -EINVAL;

	/* Port: totalram_pages became a function in v5.0. */
	if (size / PAGE_SIZE > totalram_pages() / 2)
		return -ENOMEM;

	INIT_LIST_HEAD(&pages);
	while (size_remaining > 0) {
		page = alloc_largest_available(sys_heap, buffer, size_remaining,
					       max_order);
		if (!page)
			goto free_pages;
		list_add_tail(&page->lru, &pages);
		size_remaining -= PAGE_SIZE << compound_order(page);
		max_order = compound_order(page);
		i++;
	}
	table = kmalloc(sizeof(*table), GFP_KERNEL);
	if (!table)
		goto free_pages;

	if (sg_alloc_table(table, i, GFP_KERNEL))
		goto free_table;

	sg = table->sgl;
	list_for_each_entry_safe(page, tmp_page, &pages, lru) {
		sg_set_page(sg, page, PAGE_SIZE << compound_order(page), 0);
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

/*
 * Mirrors ion_system_heap.c:ion_system_heap_free() @ v4.4: uncached pages
 * come from the page pools, so they are zeroed before they go back (other
 * allocations are zeroed at allocation time).
 */
static void ion_system_heap_free(struct ion_buffer *buffer)
{
	struct ion_system_heap *sys_heap = container_of(buffer->heap,
							struct ion_system_heap,
							heap);
	struct sg_table *table = buffer->sg_table;
	bool cached = ion_buffer_cached(buffer);
	struct scatterlist *sg;
	int i;

	if (!cached && !(buffer->private_flags & ION_PRIV_FLAG_SHRINKER_FREE))
		ion_heap_buffer_zero(buffer);

	for_each_sg(table->sgl, sg, table->nents, i)
		free_buffer_page(sys_heap, buffer, sg_page(sg));
	sg_free_table(table);
	kfree(table);
}

/* Mirrors ion_system_heap.c:ion_system_heap_map_dma() @ v4.4. */
static struct sg_table *ion_system_heap_map_dma(struct ion_heap *heap,
						struct ion_buffer *buffer)
{
	return buffer->priv_virt;
}

/* Mirrors ion_system_heap.c:ion_system_heap_unmap_dma() @ v4.4. */
static void ion_system_heap_unmap_dma(struct ion_heap *heap,
				      struct ion_buffer *buffer)
{
}

/*
 * Mirrors ion_system_heap.c:ion_system_heap_shrink() @ v4.4: nr_to_scan 0
 * counts the pools' pages; otherwise the pools are shrunk in order until
 * nr_to_scan base pages are freed.
 */
static int ion_system_heap_shrink(struct ion_heap *heap, gfp_t gfp_mask,
				  int nr_to_scan)
{
	struct ion_system_heap *sys_heap;
	int nr_total = 0;
	int i, nr_freed;
	int only_scan = 0;

	sys_heap = container_of(heap, struct ion_system_heap, heap);

	if (!nr_to_scan)
		only_scan = 1;

	for (i = 0; i < num_orders; i++) {
		struct ion_page_pool *pool = sys_heap->pools[i];

		nr_freed = ion_page_pool_shrink(pool, gfp_mask, nr_to_scan);
		nr_total += nr_freed;

		if (!only_scan) {
			nr_to_scan -= nr_freed;
			/* shrink completed */
			if (nr_to_scan <= 0)
				break;
		}
	}

	return nr_total;
}

/* Mirrors ion_system_heap.c:system_heap_ops @ v4.4. */
static struct ion_heap_ops system_heap_ops = {
	.allocate = ion_system_heap_allocate,
	.free = ion_system_heap_free,
	.map_dma = ion_system_heap_map_dma,
	.unmap_dma = ion_system_heap_unmap_dma,
	.map_kernel = ion_heap_map_kernel,
	.unmap_kernel = ion_heap_unmap_kernel,
	.map_user = ion_heap_map_user,
	.shrink = ion_system_heap_shrink,
};

/*
 * Mirrors ion_system_heap.c:ion_system_heap_debug_show() @ v4.4: the
 * highmem and lowmem blocks of each pool (no highmem on x86_64).
 */
static int ion_system_heap_debug_show(struct ion_heap *heap,
				      struct seq_file *s,
				      void *unused)
{
	struct ion_system_heap *sys_heap = container_of(heap,
							struct ion_system_heap,
							heap);
	int i;

	for (i = 0; i < num_orders; i++) {
		struct ion_page_pool *pool = sys_heap->pools[i];

		seq_printf(s, "%d order %u highmem pages in pool = %lu total\n",
			   pool->high_count, pool->order,
			   (PAGE_SIZE << pool->order) * pool->high_count);
		seq_printf(s, "%d order %u lowmem pages in pool = %lu total\n",
			   pool->low_count, pool->order,
			   (PAGE_SIZE << pool->order) * pool->low_count);
	}
	return 0;
}

/* Mirrors ion_system_heap.c:ion_system_heap_create() @ v4.4. */
struct ion_heap *ion_system_heap_create(struct ion_platform_heap *unused)
{
	struct ion_system_heap *heap;
	int i;

	heap = kzalloc(struct_size(heap, pools, num_orders), GFP_KERNEL);
	if (!heap)
		return ERR_PTR(-ENOMEM);
	heap->heap.ops = &system_heap_ops;
	heap->heap.type = ION_HEAP_TYPE_SYSTEM;
	heap->heap.flags = ION_HEAP_FLAG_DEFER_FREE;
	heap->heap.page_allocator = true;

	for (i = 0; i < num_orders; i++) {
		struct ion_page_pool *pool;
		gfp_t gfp_flags = low_order_gfp_flags;

		if (orders[i] > 4)
			gfp_flags = high_order_gfp_flags;
		pool = ion_page_pool_create(gfp_flags, orders[i]);
		if (!pool)
			goto destroy_pools;
		heap->pools[i] = pool;
	}

	heap->heap.debug_show = ion_system_heap_debug_show;
	return &heap->heap;

destroy_pools:
	while (i--)
		ion_page_pool_destroy(heap->pools[i]);
	kfree(heap);
	return ERR_PTR(-ENOMEM);
}

/* Mirrors ion_system_heap.c:ion_system_heap_destroy() @ v4.4. */
void ion_system_heap_destroy(struct ion_heap *heap)
{
	struct ion_system_heap *sys_heap = container_of(heap,
							struct ion_system_heap,
							heap);
	int i;

	for (i = 0; i < num_orders; i++)
		ion_page_pool_destroy(sys_heap->pools[i]);
	kfree(sys_heap);
}

/* The system heap's pool for orders[index] (ion/state), NULL past them. */
struct ion_page_pool *ion_system_heap_pool(struct ion_heap *heap, int index)
{
	struct ion_system_heap *sys_heap = container_of(heap,
							struct ion_system_heap,
							heap);

	if (index < 0 || index >= num_orders)
		return NULL;
	return sys_heap->pools[index];
}

/*
 * Mirrors ion_system_heap.c:ion_system_contig_heap_allocate() @ v4.4: a
 * block of get_order(len) pages, split, the pages beyond PAGE_ALIGN(len)
 * freed again.
 */
static int ion_system_contig_heap_allocate(struct ion_heap *heap,
					   struct ion_buffer *buffer,
					   unsigned long len,
					   unsigned long align,
					   unsigned long flags)
{
	int order = get_order(len);
	struct page *page;
	struct sg_table *table;
	unsigned long i;
	int ret;

	if (align > (PAGE_SIZE << order))
		return -EINVAL;

	page = alloc_pages(low_order_gfp_flags, order);
	if (!page)
		return -ENOMEM;
	atomic_long_add(1L << order, &ion_counters.pages_allocated);

	split_page(page, order);

	len = PAGE_ALIGN(len);
	for (i = len >> PAGE_SHIFT; i < (1 << order); i++) {
		__free_page(nth_page(page, i));
		atomic_long_inc(&ion_counters.pages_freed);
	}

	table = kmalloc(sizeof(*table), GFP_KERNEL);
	if (!table) {
		ret = -ENOMEM;
		goto free_pages;
	}

	ret = sg_alloc_table(table, 1, GFP_KERNEL);
	if (ret)
		goto free_table;

	sg_set_page(table->sgl, page, len, 0);

	buffer->priv_virt = table;

	ion_pages_sync_for_device(NULL, page, len, DMA_BIDIRECTIONAL);

	return 0;

free_table:
	kfree(table);
free_pages:
	for (i = 0; i < len >> PAGE_SHIFT; i++) {
		__free_page(nth_page(page, i));
		atomic_long_inc(&ion_counters.pages_freed);
	}

	return ret;
}

/*
 * Mirrors ion_system_heap.c:ion_system_contig_heap_free() @ v4.4: no
 * zeroing (the block was zeroed at allocation) and no pool.
 */
static void ion_system_contig_heap_free(struct ion_buffer *buffer)
{
	struct sg_table *table = buffer->priv_virt;
	struct page *page = sg_page(table->sgl);
	unsigned long pages = PAGE_ALIGN(buffer->size) >> PAGE_SHIFT;
	unsigned long i;

	for (i = 0; i < pages; i++) {
		__free_page(nth_page(page, i));
		atomic_long_inc(&ion_counters.pages_freed);
	}
	sg_free_table(table);
	kfree(table);
}

/* Mirrors ion_system_heap.c:ion_system_contig_heap_phys() @ v4.4. */
static int ion_system_contig_heap_phys(struct ion_heap *heap,
				       struct ion_buffer *buffer,
				       ion_phys_addr_t *addr, size_t *len)
{
	struct sg_table *table = buffer->priv_virt;
	struct page *page = sg_page(table->sgl);
	*addr = page_to_phys(page);
	*len = buffer->size;
	return 0;
}

/* Mirrors ion_system_heap.c:ion_system_contig_heap_map_dma() @ v4.4. */
static struct sg_table *ion_system_contig_heap_map_dma(struct ion_heap *heap,
						       struct ion_buffer *buffer)
{
	return buffer->priv_virt;
}

/* Mirrors ion_system_heap.c:ion_system_contig_heap_unmap_dma() @ v4.4. */
static void ion_system_contig_heap_unmap_dma(struct ion_heap *heap,
					     struct ion_buffer *buffer)
{
}

/* Mirrors ion_system_heap.c:kmalloc_ops @ v4.4. */
static struct ion_heap_ops kmalloc_ops = {
	.allocate = ion_system_contig_heap_allocate,
	.free = ion_system_contig_heap_free,
	.phys = ion_system_contig_heap_phys,
	.map_dma = ion_system_contig_heap_map_dma,
	.unmap_dma = ion_system_contig_heap_unmap_dma,
	.map_kernel = ion_heap_map_kernel,
	.unmap_kernel = ion_heap_unmap_kernel,
	.map_user = ion_heap_map_user,
};

/* Mirrors ion_system_heap.c:ion_system_contig_heap_create() @ v4.4. */
struct ion_heap *ion_system_contig_heap_create(struct ion_platform_heap *unused)
{
	struct ion_heap *heap;

	heap = kzalloc(sizeof(*heap), GFP_KERNEL);
	if (!heap)
		return ERR_PTR(-ENOMEM);
	heap->ops = &kmalloc_ops;
	heap->type = ION_HEAP_TYPE_SYSTEM_CONTIG;
	heap->page_allocator = true;
	return heap;
}

/* Mirrors ion_system_heap.c:ion_system_contig_heap_destroy() @ v4.4. */
void ion_system_contig_heap_destroy(struct ion_heap *heap)
{
	kfree(heap);
}
