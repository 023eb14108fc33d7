// SPDX-License-Identifier: GPL-2.0-only
/*
 * ionsim: the carveout heap, a genalloc first-fit pool with 4 KiB granules
 * over a physical range kept from the kernel at boot. Mirrors
 * drivers/staging/android/ion/ion_carveout_heap.c @ v4.4, ported to Linux
 * 6.1.
 */

#include <linux/dma-mapping.h>
#include <linux/err.h>
#include <linux/genalloc.h>
#include <linux/io.h>
#include <linux/mm.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "ion.h"
#include "ion_priv.h"

/* Mirrors ion_carveout_heap.c:struct ion_carveout_heap @ v4.4. */
struct ion_carveout_heap {
	struct ion_heap heap;
	struct gen_pool *pool;
	ion_phys_addr_t base;
};

/*
 * Mirrors ion_carveout_heap.c:ion_carveout_allocate() @ v4.4: genalloc's 0
 * (failure) becomes ION_CARVEOUT_ALLOCATE_FAIL, so a carveout based at
 * physical 0 cannot hand out its first granule.
 */
ion_phys_addr_t ion_carveout_allocate(struct ion_heap *heap,
				      unsigned long size,
				      unsigned long align)
{
	struct ion_carveout_heap *carveout_heap =
		container_of(heap, struct ion_carveout_heap, heap);
	unsigned long offset = gen_pool_alloc(carveout_heap->pool, size);

	if (!offset)
		return ION_CARVEOUT_ALLOCATE_FAIL;

	atomic_long_add(PAGE_ALIGN(size) >> PAGE_SHIFT,
			&ion_counters.reserved_pages_allocated);
	return offset;
}

/* Mirrors ion_carveout_heap.c:ion_carveout_free() @ v4.4. */
void ion_carveout_free(struct ion_heap *heap, ion_phys_addr_t addr,
		       unsigned long size)
{
	struct ion_carveout_heap *carveout_heap =
		container_of(heap, struct ion_carveout_heap, heap);

	if (addr == ION_CARVEOUT_ALLOCATE_FAIL)
		return;
	gen_pool_free(carveout_heap->pool, addr, size);
	atomic_long_add(PAGE_ALIGN(size) >> PAGE_SHIFT,
			&ion_counters.reserved_pages_freed);
}

/* Mirrors ion_carveout_heap.c:ion_carveout_heap_phys() @ v4.4. */
static int ion_carveout_heap_phys(struct ion_heap *heap,
				  struct ion_buffer *buffer,
				  ion_phys_addr_t *addr, size_t *len)
{
	struct sg_table *table = buffer->priv_virt;
	struct page *page = sg_page(table->sgl);
	ion_phys_addr_t paddr = PFN_PHYS(page_to_pfn(page));

	*addr = paddr;
	*len = buffer->size;
	return 0;
}

/*
 * Mirrors ion_carveout_heap.c:ion_carveout_heap_allocate() @ v4.4: align
 * beyond a page is -EINVAL, otherwise ignored; an exhausted pool is
 * -ENOMEM.
 */
static int ion_carveout_heap_allocate(struct ion_heap *heap,
				      struct ion_buffer *buffer,
				      unsigned long size, unsigned long align,
				      unsigned long flags)
{
	struct sg_table *table;
	ion_phys_addr_t paddr;
	int ret;

	if (align > PAGE_SIZE)
		return -EINVAL;

	table = kmalloc(sizeof(*table), GFP_KERNEL);
	if (!table)
		return -ENOMEM;
	ret = sg_alloc_table(table, 1, GFP_KERNEL);
	if (ret)
		goto err_free;

	paddr = ion_carveout_allocate(heap, size, align);
	if (paddr == ION_CARVEOUT_ALLOCATE_FAIL) {
		ret = -ENOMEM;
		goto err_free_table;
	}

	sg_set_page(table->sgl, pfn_to_page(PFN_DOWN(paddr)), size, 0);
	buffer->priv_virt = table;

	return 0;

err_free_table:
	sg_free_table(table);
err_free:
	kfree(table);
	return ret;
}

/*
 * Mirrors ion_carveout_heap.c:ion_carveout_heap_free() @ v4.4: zeroed,
 * synced if cached, then back to the pool.
 */
static void ion_carveout_heap_free(struct ion_buffer *buffer)
{
	struct ion_heap *heap = buffer->heap;
	struct sg_table *table = buffer->priv_virt;
	struct page *page = sg_page(table->sgl);
	ion_phys_addr_t paddr = PFN_PHYS(page_to_pfn(page));

	ion_heap_buffer_zero(buffer);

	if (ion_buffer_cached(buffer))
		dma_sync_sg_for_device(ion_heap_dma_device(NULL), table->sgl,
				       table->nents, DMA_BIDIRECTIONAL);

	ion_carveout_free(heap, paddr, buffer->size);
	sg_free_table(table);
	kfree(table);
}

/* Mirrors ion_carveout_heap.c:ion_carveout_heap_map_dma() @ v4.4. */
static struct sg_table *ion_carveout_heap_map_dma(struct ion_heap *heap,
						  struct ion_buffer *buffer)
{
	return buffer->priv_virt;
}

/* Mirrors ion_carveout_heap.c:ion_carveout_heap_unmap_dma() @ v4.4. */
static void ion_carveout_heap_unmap_dma(struct ion_heap *heap,
					struct ion_buffer *buffer)
{
}

/* Mirrors ion_carveout_heap.c:carveout_heap_ops @ v4.4. */
static struct ion_heap_ops carveout_heap_ops = {
	.allocate = ion_carveout_heap_allocate,
	.free = ion_carveout_heap_free,
	.phys = ion_carveout_heap_phys,
	.map_dma = ion_carveout_heap_map_dma,
	.unmap_dma = ion_carveout_heap_unmap_dma,
	.map_user = ion_heap_map_user,
	.map_kernel = ion_heap_map_kernel,
	.unmap_kernel = ion_heap_unmap_kernel,
};

/*
 * Mirrors ion_carveout_heap.c:ion_carveout_heap_create() @ v4.4: the region
 * is synced and zeroed, then handed to a genalloc pool of 4 KiB granules
 * (order 12).
 */
struct ion_heap *ion_carveout_heap_create(struct ion_platform_heap *heap_data)
{
	struct ion_carveout_heap *carveout_heap;
	int ret;

	struct page *page;
	size_t size;

	/*
	 * Port: v4.4 trusts the board file; the module refuses a range with
	 * a page that has no struct page (see ion_priv.h).
	 */
	if (!ion_heap_range_has_pages(heap_data->base, heap_data->size)) {
		pr_err("%s: no struct pages for [%#lx, +%zu)\n", __func__,
		       heap_data->base, heap_data->size);
		return ERR_PTR(-EINVAL);
	}

	page = pfn_to_page(PFN_DOWN(heap_data->base));
	size = heap_data->size;

	ion_pages_sync_for_device(NULL, page, size, DMA_BIDIRECTIONAL);

	ret = ion_heap_pages_zero(page, size, pgprot_writecombine(PAGE_KERNEL));
	if (ret)
		return ERR_PTR(ret);

	carveout_heap = kzalloc(sizeof(*carveout_heap), GFP_KERNEL);
	if (!carveout_heap)
		return ERR_PTR(-ENOMEM);

	carveout_heap->pool = gen_pool_create(12, -1);
	if (!carveout_heap->pool) {
		kfree(carveout_heap);
		return ERR_PTR(-ENOMEM);
	}
	carveout_heap->base = heap_data->base;
	gen_pool_add(carveout_heap->pool, carveout_heap->base, heap_data->size,
		     -1);
	carveout_heap->heap.ops = &carveout_heap_ops;
	carveout_heap->heap.type = ION_HEAP_TYPE_CARVEOUT;
	carveout_heap->heap.flags = ION_HEAP_FLAG_DEFER_FREE;

	return &carveout_heap->heap;
}

/* Mirrors ion_carveout_heap.c:ion_carveout_heap_destroy() @ v4.4. */
void ion_carveout_heap_destroy(struct ion_heap *heap)
{
	struct ion_carveout_heap *carveout_heap =
	     container_of(heap, struct  ion_carveout_heap, heap);

	/*
	 * Port: a carveout based at physical 0 still holds the granule that
	 * genalloc handed out as address 0 and the heap took for failure;
	 * gen_pool_destroy() would BUG on it. v4.4 never destroys a carveout;
	 * the module's unload gives the granule back first.
	 */
	if (carveout_heap->base == 0 &&
	    gen_pool_avail(carveout_heap->pool) + PAGE_SIZE ==
	    gen_pool_size(carveout_heap->pool)) {
		pr_warn("%s: %s: returning granule 0, lost to the address-0 quirk\n",
			__func__, heap->name);
		gen_pool_free(carveout_heap->pool, 0, PAGE_SIZE);
	}
	gen_pool_destroy(carveout_heap->pool);
	kfree(carveout_heap);
	carveout_heap = NULL;
}

/* The carveout's physical base (ion/state offsets). */
ion_phys_addr_t ion_carveout_heap_base(struct ion_heap *heap)
{
	return container_of(heap, struct ion_carveout_heap, heap)->base;
}
