// SPDX-License-Identifier: GPL-2.0-only
/*
 * ionsim: the dma heap, contiguous buffers from a device's CMA area.
 * Mirrors drivers/staging/android/ion/ion_cma_heap.c @ v4.4, ported to
 * Linux 6.1.
 *
 * Port: Debian's 6.1 kernel has no CMA (CONFIG_CMA is off), so
 * dma_alloc_coherent() cannot be given a CMA area. The heap's range of the
 * reserved memory stands in for the device's area, managed as mm/cma.c
 * manages one: a bitmap with one bit per page, first fit, each allocation
 * aligned to order min(get_order(size), CONFIG_CMA_ALIGNMENT = 8) in
 * physical address (cma_alloc() as called by dma_alloc_from_contiguous()).
 * The kernel address dma_alloc_coherent() returned is a write-combine
 * memremap() of the buffer, zeroed at allocation (GFP_HIGHUSER |
 * __GFP_ZERO); the user mapping is dma_mmap_coherent()'s remap of the
 * buffer's pfns.
 */

#include <linux/bitmap.h>
#include <linux/device.h>
#include <linux/dma-mapping.h>
#include <linux/err.h>
#include <linux/io.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>

#include "ion.h"
#include "ion_priv.h"

/* CONFIG_CMA_ALIGNMENT's default: the largest alignment order cma_alloc uses. */
#define ION_CMA_ALIGNMENT 8

/*
 * The stand-in for the device's struct cma (mm/cma.h @ v6.1) with
 * order_per_bit 0.
 */
struct ion_cma_area {
	unsigned long base_pfn;
	unsigned long count;
	unsigned long *bitmap;
	struct mutex lock;
};

/* Mirrors ion_cma_heap.c:struct ion_cma_heap @ v4.4. */
struct ion_cma_heap {
	struct ion_heap heap;
	struct device *dev;
	struct ion_cma_area area;
};

#define to_cma_heap(x) container_of(x, struct ion_cma_heap, heap)

/* Mirrors ion_cma_heap.c:struct ion_cma_buffer_info @ v4.4. */
struct ion_cma_buffer_info {
	void *cpu_addr;
	dma_addr_t handle;
	struct sg_table *table;
};

/*
 * Mirrors mm/cma.c:cma_alloc() @ v6.1 over the stand-in area: the first
 * free run of count pages whose physical pfn is a multiple of 1 << align
 * (cma_bitmap_aligned_mask() and cma_bitmap_aligned_offset() with
 * order_per_bit 0). Returns the first pfn, or 0 when nothing fits.
 */
static unsigned long ion_cma_area_alloc(struct ion_cma_area *cma,
					unsigned long count, unsigned int align)
{
	unsigned long mask, offset, bitmap_no;

	if (!cma->count || !count)
		return 0;

	mask = (1UL << align) - 1;
	offset = cma->base_pfn & mask;

	mutex_lock(&cma->lock);
	bitmap_no = bitmap_find_next_zero_area_off(cma->bitmap, cma->count, 0,
						   count, mask, offset);
	if (bitmap_no >= cma->count) {
		mutex_unlock(&cma->lock);
		return 0;
	}
	bitmap_set(cma->bitmap, bitmap_no, count);
	mutex_unlock(&cma->lock);

	return cma->base_pfn + bitmap_no;
}

/* Mirrors mm/cma.c:cma_release() @ v6.1 over the stand-in area. */
static void ion_cma_area_release(struct ion_cma_area *cma, unsigned long pfn,
				 unsigned long count)
{
	mutex_lock(&cma->lock);
	bitmap_clear(cma->bitmap, pfn - cma->base_pfn, count);
	mutex_unlock(&cma->lock);
}

/*
 * The dma_alloc_coherent() of the stand-in: pages from the area
 * (dma_alloc_from_contiguous()'s count and alignment), mapped
 * write-combine and zeroed. Returns the kernel address, or NULL.
 */
static void *ion_cma_alloc_coherent(struct ion_cma_heap *cma_heap, size_t size,
				    dma_addr_t *handle)
{
	unsigned long count = PAGE_ALIGN(size) >> PAGE_SHIFT;
	unsigned int align = min(get_order(size), ION_CMA_ALIGNMENT);
	unsigned long pfn;
	void *cpu_addr;

	pfn = ion_cma_area_alloc(&cma_heap->area, count, align);
	if (!pfn)
		return NULL;

	cpu_addr = memremap(PFN_PHYS(pfn), count << PAGE_SHIFT, MEMREMAP_WC);
	if (!cpu_addr) {
		ion_cma_area_release(&cma_heap->area, pfn, count);
		return NULL;
	}
	memset(cpu_addr, 0, count << PAGE_SHIFT);
	atomic_long_add(count, &ion_counters.reserved_pages_allocated);
	*handle = PFN_PHYS(pfn);
	return cpu_addr;
}

/* The dma_free_coherent() of the stand-in. */
static void ion_cma_free_coherent(struct ion_cma_heap *cma_heap, size_t size,
				  void *cpu_addr, dma_addr_t handle)
{
	unsigned long count = PAGE_ALIGN(size) >> PAGE_SHIFT;

	memunmap(cpu_addr);
	ion_cma_area_release(&cma_heap->area, PHYS_PFN(handle), count);
	atomic_long_add(count, &ion_counters.reserved_pages_freed);
}

/*
 * The dma_get_sgtable() of the stand-in (dma_common_get_sgtable()): one
 * entry for the contiguous buffer.
 */
static int ion_cma_get_sgtable(struct sg_table *sgt, dma_addr_t handle,
			       size_t size)
{
	int ret;

	ret = sg_alloc_table(sgt, 1, GFP_KERNEL);
	if (ret)
		return ret;
	sg_set_page(sgt->sgl, pfn_to_page(PHYS_PFN(handle)), PAGE_ALIGN(size),
		    0);
	return 0;
}

/*
 * Mirrors ion_cma_heap.c:ion_cma_allocate() @ v4.4: cached buffers and
 * alignment beyond a page are -EINVAL; every other failure returns
 * ION_CMA_ALLOCATE_FAILED (-1), which userspace sees as EPERM.
 */
static int ion_cma_allocate(struct ion_heap *heap, struct ion_buffer *buffer,
			    unsigned long len, unsigned long align,
			    unsigned long flags)
{
	struct ion_cma_heap *cma_heap = to_cma_heap(heap);
	struct device *dev = cma_heap->dev;
	struct ion_cma_buffer_info *info;

	dev_dbg(dev, "Request buffer allocation len %ld\n", len);

	if (buffer->flags & ION_FLAG_CACHED)
		return -EINVAL;

	if (align > PAGE_SIZE)
		return -EINVAL;

	info = kzalloc(sizeof(*info), GFP_KERNEL);
	if (!info)
		return ION_CMA_ALLOCATE_FAILED;

	info->cpu_addr = ion_cma_alloc_coherent(cma_heap, len, &info->handle);

	if (!info->cpu_addr) {
		dev_err(dev, "Fail to allocate buffer\n");
		goto err;
	}

	info->table = kmalloc(sizeof(*info->table), GFP_KERNEL);
	if (!info->table)
		goto free_mem;

	if (ion_cma_get_sgtable(info->table, info->handle, len))
		goto free_table;
	/* keep this for memory release */
	buffer->priv_virt = info;
	dev_dbg(dev, "Allocate buffer %p\n", buffer);
	return 0;

free_table:
	kfree(info->table);
free_mem:
	ion_cma_free_coherent(cma_heap, len, info->cpu_addr, info->handle);
err:
	kfree(info);
	return ION_CMA_ALLOCATE_FAILED;
}

/* Mirrors ion_cma_heap.c:ion_cma_free() @ v4.4: no zeroing, no free list. */
static void ion_cma_free(struct ion_buffer *buffer)
{
	struct ion_cma_heap *cma_heap = to_cma_heap(buffer->heap);
	struct device *dev = cma_heap->dev;
	struct ion_cma_buffer_info *info = buffer->priv_virt;

	dev_dbg(dev, "Release buffer %p\n", buffer);
	/* release memory */
	ion_cma_free_coherent(cma_heap, buffer->size, info->cpu_addr,
			      info->handle);
	/* release sg table */
	sg_free_table(info->table);
	kfree(info->table);
	kfree(info);
}

/* Mirrors ion_cma_heap.c:ion_cma_phys() @ v4.4: the DMA handle. */
static int ion_cma_phys(struct ion_heap *heap, struct ion_buffer *buffer,
			ion_phys_addr_t *addr, size_t *len)
{
	struct ion_cma_heap *cma_heap = to_cma_heap(buffer->heap);
	struct device *dev = cma_heap->dev;
	struct ion_cma_buffer_info *info = buffer->priv_virt;

	dev_dbg(dev, "Return buffer %p physical address %pa\n", buffer,
		&info->handle);

	*addr = info->handle;
	*len = buffer->size;

	return 0;
}

/* Mirrors ion_cma_heap.c:ion_cma_heap_map_dma() @ v4.4. */
static struct sg_table *ion_cma_heap_map_dma(struct ion_heap *heap,
					     struct ion_buffer *buffer)
{
	struct ion_cma_buffer_info *info = buffer->priv_virt;

	return info->table;
}

/* Mirrors ion_cma_heap.c:ion_cma_heap_unmap_dma() @ v4.4. */
static void ion_cma_heap_unmap_dma(struct ion_heap *heap,
				   struct ion_buffer *buffer)
{
}

/*
 * Mirrors ion_cma_heap.c:ion_cma_mmap() @ v4.4, whose dma_mmap_coherent()
 * remaps the buffer's pfns from vm_pgoff on (-ENXIO past the end, which the
 * dma-buf core's own range check makes unreachable).
 */
static int ion_cma_mmap(struct ion_heap *mapper, struct ion_buffer *buffer,
			struct vm_area_struct *vma)
{
	struct ion_cma_buffer_info *info = buffer->priv_virt;
	unsigned long user_count = vma_pages(vma);
	unsigned long count = PAGE_ALIGN(buffer->size) >> PAGE_SHIFT;
	unsigned long off = vma->vm_pgoff;

	if (off >= count || user_count > count - off)
		return -ENXIO;

	/* Port: ion_remap_pfn_range() (ion_heap.c) for x86 PAT's sake. */
	return ion_remap_pfn_range(vma, vma->vm_start,
				   PHYS_PFN(info->handle) + off,
				   user_count << PAGE_SHIFT,
				   vma->vm_page_prot);
}

/*
 * Mirrors ion_cma_heap.c:ion_cma_map_kernel() @ v4.4: the kernel mapping
 * was made at allocation time.
 */
static void *ion_cma_map_kernel(struct ion_heap *heap,
				struct ion_buffer *buffer)
{
	struct ion_cma_buffer_info *info = buffer->priv_virt;
	/* kernel memory mapping has been done at allocation time */
	return info->cpu_addr;
}

/* Mirrors ion_cma_heap.c:ion_cma_unmap_kernel() @ v4.4. */
static void ion_cma_unmap_kernel(struct ion_heap *heap,
				 struct ion_buffer *buffer)
{
}

/* Mirrors ion_cma_heap.c:ion_cma_ops @ v4.4. */
static struct ion_heap_ops ion_cma_ops = {
	.allocate = ion_cma_allocate,
	.free = ion_cma_free,
	.map_dma = ion_cma_heap_map_dma,
	.unmap_dma = ion_cma_heap_unmap_dma,
	.phys = ion_cma_phys,
	.map_user = ion_cma_mmap,
	.map_kernel = ion_cma_map_kernel,
	.unmap_kernel = ion_cma_unmap_kernel,
};

/*
 * Mirrors ion_cma_heap.c:ion_cma_heap_create() @ v4.4: platform priv is the
 * device; its area is the heap's range (see the top of this file).
 */
struct ion_heap *ion_cma_heap_create(struct ion_platform_heap *data)
{
	struct ion_cma_heap *cma_heap;

	/*
	 * Port: the area must be pages with struct pages (see ion_priv.h);
	 * v4.4 took the device's CMA area as the board declared it.
	 */
	if (!ion_heap_range_has_pages(data->base, data->size)) {
		pr_err("%s: no struct pages for [%#lx, +%zu)\n", __func__,
		       data->base, data->size);
		return ERR_PTR(-EINVAL);
	}

	cma_heap = kzalloc(sizeof(*cma_heap), GFP_KERNEL);

	if (!cma_heap)
		return ERR_PTR(-ENOMEM);

	cma_heap->area.base_pfn = PHYS_PFN(data->base);
	cma_heap->area.count = data->size >> PAGE_SHIFT;
	cma_heap->area.bitmap = bitmap_zalloc(cma_heap->area.count, GFP_KERNEL);
	if (!cma_heap->area.bitmap) {
		kfree(cma_heap);
		return ERR_PTR(-ENOMEM);
	}
	mutex_init(&cma_heap->area.lock);

	cma_heap->heap.ops = &ion_cma_ops;
	/*
	 * get device from private heaps data, later it will be
	 * used to make the link with reserved CMA memory
	 */
	cma_heap->dev = data->priv;
	cma_heap->heap.type = ION_HEAP_TYPE_DMA;
	return &cma_heap->heap;
}

/* Mirrors ion_cma_heap.c:ion_cma_heap_destroy() @ v4.4. */
void ion_cma_heap_destroy(struct ion_heap *heap)
{
	struct ion_cma_heap *cma_heap = to_cma_heap(heap);

	bitmap_free(cma_heap->area.bitmap);
	kfree(cma_heap);
}

/* The physical base of the heap's area (ion/state offsets). */
ion_phys_addr_t ion_cma_heap_base(struct ion_heap *heap)
{
	return PFN_PHYS(to_cma_heap(heap)->area.base_pfn);
}

/*
 * The kernel mapping attribute of a dma-heap buffer (ion/state): "wc" for
 * uncached buffers (the only kind the heap accepts), "cached" otherwise.
 */
const char *ion_cma_buffer_map_attr(struct ion_buffer *buffer)
{
	return (buffer->flags & ION_FLAG_CACHED) ? "cached" : "wc";
}
