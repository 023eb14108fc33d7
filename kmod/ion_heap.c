// SPDX-License-Identifier: GPL-2.0-only
/*
 * ionsim: helpers shared by the heaps (kernel and user mappings, zeroing,
 * cache maintenance), the deferred-free list and its thread, the heap
 * shrinker, and the heap create/destroy switch. Mirrors
 * drivers/staging/android/ion/ion_heap.c @ v4.4, ported to Linux 6.1.
 */

#include <linux/err.h>
#include <linux/freezer.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/dma-mapping.h>
#include <linux/pfn_t.h>
#include <linux/sched.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "ion.h"
#include "ion_priv.h"

/*
 * The device ION memory is synced for.
 * Port: v4.4 passes a NULL device to the DMA API, which ARM accepted and
 * 6.1 dereferences. The module syncs for its own misc device, which
 * ion_device_create() gives a 64-bit DMA mask. On x86 this is the dma-direct
 * path of a cache-coherent machine: nothing is written back, and ION memory
 * never goes through swiotlb.
 */
static struct device *ion_dma_dev;

void ion_heap_set_dma_device(struct device *dev)
{
	ion_dma_dev = dev;
}

/* The device to sync for in place of v4.4's NULL: @dev, else the module's. */
struct device *ion_heap_dma_device(struct device *dev)
{
	return dev ? dev : ion_dma_dev;
}

/*
 * The page protection of a buffer's kernel and user mappings.
 * Port: v4.4 maps uncached buffers write-combine. x86 PAT does not allow a
 * write-combine alias of RAM that the kernel's direct map holds write-back
 * (x86's memtype lookup turns such a user mapping back to write-back), so
 * buffers from the page allocator (the system heaps) are mapped
 * write-back; the reserved range has no direct mapping and keeps v4.4's
 * write-combine kernel mappings for uncached buffers (for its user
 * mappings see ion_remap_pfn_range()).
 */
pgprot_t ion_buffer_pgprot(struct ion_buffer *buffer, pgprot_t prot)
{
	if ((buffer->flags & ION_FLAG_CACHED) || buffer->heap->page_allocator)
		return prot;
	return pgprot_writecombine(prot);
}

/*
 * Whether every page of [base, base + size) has a struct page, as the
 * carveout, chunk and dma heaps need (see ion_priv.h).
 */
bool ion_heap_range_has_pages(phys_addr_t base, size_t size)
{
	unsigned long pfn;

	if (!size || base + size < base)
		return false;
	for (pfn = PHYS_PFN(base); pfn < PHYS_PFN(base + size); pfn++)
		if (!pfn_valid(pfn))
			return false;
	return true;
}

/*
 * Mirrors ion_heap.c:ion_heap_map_kernel() @ v4.4: a vmap of every page of
 * the buffer.
 */
void *ion_heap_map_kernel(struct ion_heap *heap,
			  struct ion_buffer *buffer)
{
	struct scatterlist *sg;
	int i, j;
	void *vaddr;
	pgprot_t pgprot;
	struct sg_table *table = buffer->sg_table;
	int npages = PAGE_ALIGN(buffer->size) / PAGE_SIZE;
	struct page **pages = vmalloc(array_size(npages, sizeof(struct page *)));
	struct page **tmp = pages;

	if (!pages)
		return NULL;

	pgprot = ion_buffer_pgprot(buffer, PAGE_KERNEL);

	for_each_sg(table->sgl, sg, table->nents, i) {
		int npages_this_entry = PAGE_ALIGN(sg->length) / PAGE_SIZE;
		struct page *page = sg_page(sg);

		BUG_ON(i >= npages);
		for (j = 0; j < npages_this_entry; j++)
			*(tmp++) = nth_page(page, j);
	}
	vaddr = vmap(pages, npages, VM_MAP, pgprot);
	vfree(pages);

	if (!vaddr)
		return ERR_PTR(-ENOMEM);

	atomic_long_inc(&ion_counters.kernel_mappings_live);
	return vaddr;
}

/* Mirrors ion_heap.c:ion_heap_unmap_kernel() @ v4.4. */
void ion_heap_unmap_kernel(struct ion_heap *heap,
			   struct ion_buffer *buffer)
{
	vunmap(buffer->vaddr);
	atomic_long_dec(&ion_counters.kernel_mappings_live);
}

/*
 * remap_pfn_range() as v4.4 calls it, with the mapping it makes: a range
 * inside the vma, which for a private writable (COW) mapping must be the
 * whole vma and then sets vm_pgoff to the first pfn (-EINVAL otherwise); a
 * VM_IO | VM_DONTEXPAND | VM_DONTDUMP vma of raw pfns whose page table
 * entries hold no page reference.
 * Port: the pfns are inserted one by one (vmf_insert_pfn_prot(), or
 * vmf_insert_mixed_prot() in a COW vma, where 6.1 refuses VM_PFNMAP
 * insertion, so that vma is VM_MIXEDMAP instead). x86 PAT makes a
 * remap_pfn_range() that covers a whole vma over memory outside System RAM
 * (the memmap= reservation the carveout, chunk and dma heaps live in)
 * reserve one memtype record for the range, and frees it per vma at
 * munmap: after a partial munmap or an mprotect split, each piece frees a
 * range that matches no record ("freeing invalid memtype"), the record
 * outlives the buffer and the module, and a later mapping of those pages
 * in another cache mode fails ("conflicting memory types"). A pfn inserted
 * alone only looks its memtype up and reserves nothing, so no record is
 * ever made. Where none exists x86 maps reserved memory uncached-minus
 * whatever protection ion_buffer_pgprot() asked for; System RAM keeps its
 * write-back. The bytes a mapping shows are the same (x86 is coherent), and
 * v4.4 on ARM tracked no memtypes at all. The model keeps v4.4's
 * remap_pfn_range() (model/kernel/mm_user.cc), whose mapping this is.
 */
int ion_remap_pfn_range(struct vm_area_struct *vma, unsigned long addr,
			unsigned long pfn, unsigned long size, pgprot_t prot)
{
	unsigned long end = addr + PAGE_ALIGN(size);
	bool cow = is_cow_mapping(vma->vm_flags);
	vm_fault_t ret;

	if (addr < vma->vm_start || addr >= end || end > vma->vm_end)
		return -EINVAL;
	if (cow) {
		if (addr != vma->vm_start || end != vma->vm_end)
			return -EINVAL;
		vma->vm_pgoff = pfn;
	}
	vma->vm_flags |= VM_IO | (cow ? VM_MIXEDMAP : VM_PFNMAP) |
			 VM_DONTEXPAND | VM_DONTDUMP;
	for (; addr < end; addr += PAGE_SIZE, pfn++) {
		if (cow)
			ret = vmf_insert_mixed_prot(vma, addr,
						    pfn_to_pfn_t(pfn), prot);
		else
			ret = vmf_insert_pfn_prot(vma, addr, pfn, prot);
		if (ret == VM_FAULT_OOM)
			return -ENOMEM;
		if (ret != VM_FAULT_NOPAGE)
			return -EFAULT;
	}
	return 0;
}

/*
 * Mirrors ion_heap.c:ion_heap_map_user() @ v4.4: the sg entries from
 * vm_pgoff on are remapped by pfn until vm_end (through
 * ion_remap_pfn_range(), the port of remap_pfn_range() above).
 */
int ion_heap_map_user(struct ion_heap *heap, struct ion_buffer *buffer,
		      struct vm_area_struct *vma)
{
	struct sg_table *table = buffer->sg_table;
	unsigned long addr = vma->vm_start;
	unsigned long offset = vma->vm_pgoff * PAGE_SIZE;
	struct scatterlist *sg;
	int i;
	int ret;

	for_each_sg(table->sgl, sg, table->nents, i) {
		struct page *page = sg_page(sg);
		unsigned long remainder = vma->vm_end - addr;
		unsigned long len = sg->length;

		if (offset >= sg->length) {
			offset -= sg->length;
			continue;
		} else if (offset) {
			page = nth_page(page, offset / PAGE_SIZE);
			len = sg->length - offset;
			offset = 0;
		}
		len = min(len, remainder);
		ret = ion_remap_pfn_range(vma, addr, page_to_pfn(page), len,
					  vma->vm_page_prot);
		if (ret)
			return ret;
		addr += len;
		if (addr >= vma->vm_end)
			return 0;
	}
	return 0;
}

/*
 * Mirrors ion_heap.c:ion_heap_clear_pages() @ v4.4: the pages are vmapped
 * with the buffer's protection and cleared through that mapping (the
 * reserved range has no direct mapping to clear through).
 */
static int ion_heap_clear_pages(struct page **pages, int num, pgprot_t pgprot)
{
	void *addr = vmap(pages, num, VM_MAP, pgprot);

	if (!addr)
		return -ENOMEM;
	memset(addr, 0, PAGE_SIZE * num);
	vunmap(addr);

	return 0;
}

/* Mirrors ion_heap.c:ion_heap_sglist_zero() @ v4.4: 32 pages at a time. */
static int ion_heap_sglist_zero(struct scatterlist *sgl, unsigned int nents,
				pgprot_t pgprot)
{
	int p = 0;
	int ret = 0;
	struct sg_page_iter piter;
	struct page *pages[32];

	for_each_sg_page(sgl, &piter, nents, 0) {
		pages[p++] = sg_page_iter_page(&piter);
		if (p == ARRAY_SIZE(pages)) {
			ret = ion_heap_clear_pages(pages, p, pgprot);
			if (ret)
				return ret;
			p = 0;
		}
	}
	if (p)
		ret = ion_heap_clear_pages(pages, p, pgprot);

	return ret;
}

/* Mirrors ion_heap.c:ion_heap_buffer_zero() @ v4.4. */
int ion_heap_buffer_zero(struct ion_buffer *buffer)
{
	struct sg_table *table = buffer->sg_table;
	pgprot_t pgprot;

	pgprot = ion_buffer_pgprot(buffer, PAGE_KERNEL);

	return ion_heap_sglist_zero(table->sgl, table->nents, pgprot);
}

/* Mirrors ion_heap.c:ion_heap_pages_zero() @ v4.4. */
int ion_heap_pages_zero(struct page *page, size_t size, pgprot_t pgprot)
{
	struct scatterlist sg;

	sg_init_table(&sg, 1);
	sg_set_page(&sg, page, size, 0);
	return ion_heap_sglist_zero(&sg, 1, pgprot);
}

/*
 * Mirrors ion_heap.c:ion_pages_sync_for_device() (ion_priv.h) @ v4.4: this
 * is not correct per the DMA API (sg_dma_address of a table nobody
 * mapped), as upstream says; on x86 nothing is written back.
 */
void ion_pages_sync_for_device(struct device *dev, struct page *page,
			       size_t size, enum dma_data_direction dir)
{
	struct scatterlist sg;

	sg_init_table(&sg, 1);
	sg_set_page(&sg, page, size, 0);
	/*
	 * This is not correct - sg_dma_address needs a dma_addr_t that is valid
	 * for the targeted device, but this works on the currently targeted
	 * hardware.
	 */
	sg_dma_address(&sg) = page_to_phys(page);
	dma_sync_sg_for_device(ion_heap_dma_device(dev), &sg, 1, dir);
}

/*
 * Mirrors ion_heap.c:ion_heap_freelist_add() @ v4.4: at the head; the
 * thread is woken.
 */
void ion_heap_freelist_add(struct ion_heap *heap, struct ion_buffer *buffer)
{
	spin_lock(&heap->free_lock);
	list_add(&buffer->list, &heap->free_list);
	heap->free_list_size += buffer->size;
	spin_unlock(&heap->free_lock);
	wake_up(&heap->waitqueue);
}

/* Mirrors ion_heap.c:ion_heap_freelist_size() @ v4.4. */
size_t ion_heap_freelist_size(struct ion_heap *heap)
{
	size_t size;

	spin_lock(&heap->free_lock);
	size = heap->free_list_size;
	spin_unlock(&heap->free_lock);

	return size;
}

/*
 * Mirrors ion_heap.c:_ion_heap_freelist_drain() @ v4.4: from the head
 * until size bytes are drained (0: all); the lock is dropped around each
 * destroy.
 */
static size_t _ion_heap_freelist_drain(struct ion_heap *heap, size_t size,
				       bool skip_pools)
{
	struct ion_buffer *buffer;
	size_t total_drained = 0;

	if (ion_heap_freelist_size(heap) == 0)
		return 0;

	spin_lock(&heap->free_lock);
	if (size == 0)
		size = heap->free_list_size;

	while (!list_empty(&heap->free_list)) {
		if (total_drained >= size)
			break;
		buffer = list_first_entry(&heap->free_list, struct ion_buffer,
					  list);
		list_del(&buffer->list);
		heap->free_list_size -= buffer->size;
		if (skip_pools)
			buffer->private_flags |= ION_PRIV_FLAG_SHRINKER_FREE;
		total_drained += buffer->size;
		spin_unlock(&heap->free_lock);
		ion_buffer_destroy(buffer);
		spin_lock(&heap->free_lock);
	}
	spin_unlock(&heap->free_lock);

	return total_drained;
}

/* Mirrors ion_heap.c:ion_heap_freelist_drain() @ v4.4. */
size_t ion_heap_freelist_drain(struct ion_heap *heap, size_t size)
{
	return _ion_heap_freelist_drain(heap, size, false);
}

/* Mirrors ion_heap.c:ion_heap_freelist_shrink() @ v4.4. */
size_t ion_heap_freelist_shrink(struct ion_heap *heap, size_t size)
{
	return _ion_heap_freelist_drain(heap, size, true);
}

/*
 * Not in v4.4: with defer_hold set, the deferred-free threads never take a
 * buffer off their free list, so buffers wait there until a synchronous
 * drain (ion/drain, the drain-and-retry of a failed allocation, the
 * shrinker). The trace crosscheck loads the module with it so that every
 * free list it observes is the one the userspace model (whose deferred free
 * runs only when asked) has at the same step.
 */
static bool defer_hold;
module_param(defer_hold, bool, 0444);
MODULE_PARM_DESC(defer_hold,
		 "deferred-free threads leave the free lists alone (default 0)");

/*
 * Mirrors ion_heap.c:ion_heap_deferred_free() @ v4.4: pops the head of the
 * free list and destroys it, one buffer per wake-up.
 * Port: the thread also stops for module unload (kthread_should_stop), and
 * holds heap->defer_lock from pop to destroy so that ion/drain can wait for
 * a destroy in flight.
 */
static int ion_heap_deferred_free(void *data)
{
	struct ion_heap *heap = data;

	while (true) {
		struct ion_buffer *buffer;

		wait_event_freezable(heap->waitqueue,
				     (!defer_hold &&
				      ion_heap_freelist_size(heap) > 0) ||
				     kthread_should_stop());
		if (kthread_should_stop())
			break;

		mutex_lock(&heap->defer_lock);
		spin_lock(&heap->free_lock);
		if (list_empty(&heap->free_list)) {
			spin_unlock(&heap->free_lock);
			mutex_unlock(&heap->defer_lock);
			continue;
		}
		buffer = list_first_entry(&heap->free_list, struct ion_buffer,
					  list);
		list_del(&buffer->list);
		heap->free_list_size -= buffer->size;
		spin_unlock(&heap->free_lock);
		ion_buffer_destroy(buffer);
		mutex_unlock(&heap->defer_lock);
	}

	return 0;
}

/*
 * Mirrors ion_heap.c:ion_heap_init_deferred_free() @ v4.4: one thread per
 * heap, named after it.
 * Port: sched_setscheduler() is not exported to modules since v5.9, so
 * the thread runs at nice 19 (sched_set_normal()) instead of SCHED_IDLE.
 */
int ion_heap_init_deferred_free(struct ion_heap *heap)
{
	INIT_LIST_HEAD(&heap->free_list);
	init_waitqueue_head(&heap->waitqueue);
	mutex_init(&heap->defer_lock);
	heap->task = kthread_run(ion_heap_deferred_free, heap,
				 "%s", heap->name);
	if (IS_ERR(heap->task)) {
		pr_err("%s: creating thread for deferred free failed\n",
		       __func__);
		return PTR_ERR_OR_ZERO(heap->task);
	}
	sched_set_normal(heap->task, 19);
	return 0;
}

/* Stops the deferred-free thread for module unload (v4.4 never does). */
void ion_heap_stop_deferred_free(struct ion_heap *heap)
{
	if (!IS_ERR_OR_NULL(heap->task))
		kthread_stop(heap->task);
	heap->task = NULL;
}

/*
 * Mirrors ion_heap.c:ion_heap_shrink_count() @ v4.4: free-list pages plus
 * what the heap's own shrink counts (its pools).
 */
static unsigned long ion_heap_shrink_count(struct shrinker *shrinker,
					   struct shrink_control *sc)
{
	struct ion_heap *heap = container_of(shrinker, struct ion_heap,
					     shrinker);
	int total = 0;

	total = ion_heap_freelist_size(heap) / PAGE_SIZE;
	if (heap->ops->shrink)
		total += heap->ops->shrink(heap, sc->gfp_mask, 0);
	return total;
}

/*
 * Mirrors ion_heap.c:ion_heap_shrink_scan() @ v4.4: the free list first,
 * bypassing pools and zeroing, then the heap's own shrink.
 */
static unsigned long ion_heap_shrink_scan(struct shrinker *shrinker,
					  struct shrink_control *sc)
{
	struct ion_heap *heap = container_of(shrinker, struct ion_heap,
					     shrinker);
	int freed = 0;
	int to_scan = sc->nr_to_scan;

	if (to_scan == 0)
		return 0;

	/*
	 * shrink the free list first, no point in zeroing the memory if we're
	 * just going to reclaim it. Also, skip any possible page pooling.
	 */
	if (heap->flags & ION_HEAP_FLAG_DEFER_FREE)
		freed = ion_heap_freelist_shrink(heap, to_scan * PAGE_SIZE) /
				PAGE_SIZE;

	to_scan -= freed;
	if (to_scan <= 0)
		return freed;

	if (heap->ops->shrink)
		freed += heap->ops->shrink(heap, sc->gfp_mask, to_scan);
	return freed;
}

/*
 * Mirrors ion_heap.c:ion_heap_init_shrinker() @ v4.4.
 * Port: 6.1's register_shrinker() takes a name ("ion-<heap>").
 */
int ion_heap_init_shrinker(struct ion_heap *heap)
{
	int ret;

	heap->shrinker.count_objects = ion_heap_shrink_count;
	heap->shrinker.scan_objects = ion_heap_shrink_scan;
	heap->shrinker.seeks = DEFAULT_SEEKS;
	heap->shrinker.batch = 0;

	ret = register_shrinker(&heap->shrinker, "ion-%s", heap->name);
	heap->shrinker_registered = !ret;
	return ret;
}

/* Unregisters the heap's shrinker for module unload (v4.4 never does). */
void ion_heap_cleanup_shrinker(struct ion_heap *heap)
{
	if (heap->shrinker_registered)
		unregister_shrinker(&heap->shrinker);
	heap->shrinker_registered = false;
}

/* Mirrors ion_heap.c:ion_heap_create() @ v4.4. */
struct ion_heap *ion_heap_create(struct ion_platform_heap *heap_data)
{
	struct ion_heap *heap = NULL;

	switch (heap_data->type) {
	case ION_HEAP_TYPE_SYSTEM_CONTIG:
		heap = ion_system_contig_heap_create(heap_data);
		break;
	case ION_HEAP_TYPE_SYSTEM:
		heap = ion_system_heap_create(heap_data);
		break;
	case ION_HEAP_TYPE_CARVEOUT:
		heap = ion_carveout_heap_create(heap_data);
		break;
	case ION_HEAP_TYPE_CHUNK:
		heap = ion_chunk_heap_create(heap_data);
		break;
	case ION_HEAP_TYPE_DMA:
		heap = ion_cma_heap_create(heap_data);
		break;
	default:
		pr_err("%s: Invalid heap type %d\n", __func__,
		       heap_data->type);
		return ERR_PTR(-EINVAL);
	}

	if (IS_ERR_OR_NULL(heap)) {
		pr_err("%s: error creating heap %s type %d base %lu size %zu\n",
		       __func__, heap_data->name, heap_data->type,
		       heap_data->base, heap_data->size);
		return ERR_PTR(-EINVAL);
	}

	heap->name = heap_data->name;
	heap->id = heap_data->id;
	return heap;
}

/* Mirrors ion_heap.c:ion_heap_destroy() @ v4.4. */
void ion_heap_destroy(struct ion_heap *heap)
{
	if (!heap)
		return;

	switch (heap->type) {
	case ION_HEAP_TYPE_SYSTEM_CONTIG:
		ion_system_contig_heap_destroy(heap);
		break;
	case ION_HEAP_TYPE_SYSTEM:
		ion_system_heap_destroy(heap);
		break;
	case ION_HEAP_TYPE_CARVEOUT:
		ion_carveout_heap_destroy(heap);
		break;
	case ION_HEAP_TYPE_CHUNK:
		ion_chunk_heap_destroy(heap);
		break;
	case ION_HEAP_TYPE_DMA:
		ion_cma_heap_destroy(heap);
		break;
	default:
		pr_err("%s: Invalid heap type %d\n", __func__,
		       heap->type);
	}
}
