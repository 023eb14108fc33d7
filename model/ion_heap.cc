// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Helpers shared by the heaps (kernel and user mappings, zeroing), the deferred-free list and its thread, the
// heap shrinker, and the heap table. Mirrors drivers/staging/android/ion/ion_heap.c @ v4.4.
#include <algorithm>
#include <array>
#include <cstring>
#include <mutex>

#include "model/ion_priv.h"
#include "model/kernel/bug.h"
#include "model/kernel/compiler.h"
#include "model/kernel/cpu_cache.h"
#include "model/kernel/printk.h"
#include "model/kernel/slab.h"

namespace ionsim::kernel {

struct page** ion_page_array_alloc(size_t npages) {
  // vmalloc upstream: whole pages.
  const size_t slots = PAGE_ALIGN(npages * sizeof(struct page*)) / sizeof(struct page*);
  return kcalloc<struct page*>(slots, GFP_KERNEL);
}

void ion_page_array_fill(struct page** pages, size_t npages, struct sg_table* table, const char* caller) {
  const size_t slots = PAGE_ALIGN(npages * sizeof(struct page*)) / sizeof(struct page*);
  size_t stored = 0;
  size_t kept = 0;
  struct scatterlist* sg;
  unsigned int i;
  for_each_sg(table->sgl, sg, table->nents, i) {
    const size_t npages_this_entry = PAGE_ALIGN(sg->length) / PAGE_SIZE;
    struct page* page = sg_page(sg);
    for (size_t j = 0; j < npages_this_entry; j++, stored++) {
      if (stored < slots) pages[kept++] = page + j;
    }
  }
  if (stored > npages) {
    // Divergence: upstream stores past the array without noticing (vmalloc's rounding absorbs the stores, or the
    // guard page faults); the model reports it, as KASAN would, and keeps running so a trace keeps its output.
    report_kernel_event(BugKind::kOutOfBounds, __FILE__, __LINE__, caller, true,
                        "%s stored %zu page pointers into an array of %zu (vmalloc'd for %zu)%s", caller, stored,
                        npages, slots, stored > slots ? ": the stores past the vmalloc area would fault" : "");
  }
}

// Mirrors ion_heap.c:ion_heap_map_kernel() @ v4.4: a vmap of every page of the buffer, cached or
// write-combine as the buffer's flags say. The check is on the sg index, as upstream: a chunk-heap buffer that is
// not a whole number of chunks stores page pointers past the array (ion_page_array_fill reports it). A failed
// array allocation returns NULL, not an ERR_PTR, as upstream (ion_buffer_kmap_get WARNs).
ErrnoOr<void*> ion_heap_map_kernel(struct ion_heap* /*heap*/, struct ion_buffer* buffer) {
  struct sg_table* table = buffer->sg_table;
  const size_t npages = PAGE_ALIGN(buffer->size) / PAGE_SIZE;
  struct page** pages = ion_page_array_alloc(npages);
  if (!pages) return static_cast<void*>(nullptr);
  const pgprot_t pgprot = (buffer->flags & ION_FLAG_CACHED) ? PAGE_KERNEL : pgprot_writecombine(PAGE_KERNEL);

  struct scatterlist* sg;
  unsigned int i;
  for_each_sg(table->sgl, sg, table->nents, i) BUG_ON(i >= npages);
  ion_page_array_fill(pages, npages, table, __func__);
  void* vaddr = vmap(pages, static_cast<unsigned int>(npages), VM_MAP, pgprot);
  kfree_array(pages);
  if (vaddr == nullptr) return Errno(-ENOMEM);
  return vaddr;
}

// Mirrors ion_heap.c:ion_heap_unmap_kernel() @ v4.4.
void ion_heap_unmap_kernel(struct ion_heap* /*heap*/, struct ion_buffer* buffer) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  vunmap(buffer->vaddr);
}

// Mirrors ion_heap.c:ion_heap_map_user() @ v4.4: remaps the sg entries from vm_pgoff on, stopping at vm_end.
// kmod/ion_heap.c makes the same mapping through ion_remap_pfn_range(), which inserts the pages one by one so
// that x86 PAT keeps no memtype record a partial munmap could strand; the pages, their bytes and refcounts, the
// COW rule and the errnos are remap_pfn_range()'s, as here.
int ion_heap_map_user(struct ion_heap* /*heap*/, struct ion_buffer* buffer, struct vm_area_struct* vma) {
  struct sg_table* table = buffer->sg_table;
  unsigned long addr = vma->vm_start;
  unsigned long offset = vma->vm_pgoff * PAGE_SIZE;
  struct scatterlist* sg;
  unsigned int i;
  for_each_sg(table->sgl, sg, table->nents, i) {
    struct page* page = sg_page(sg);
    const unsigned long remainder = vma->vm_end - addr;
    unsigned long len = sg->length;
    if (offset >= sg->length) {
      offset -= sg->length;
      continue;
    } else if (offset) {
      page += offset / PAGE_SIZE;
      len = sg->length - offset;
      offset = 0;
    }
    len = std::min(len, remainder);
    const Errno ret = remap_pfn_range(vma, addr, page_to_pfn(page), len, vma->vm_page_prot);
    if (!ret.ok()) return ret.kernel_ret();
    addr += len;
    if (addr >= vma->vm_end) return 0;
  }
  return 0;
}

namespace {

// Mirrors ion_heap.c:ion_heap_clear_pages() / ion_heap_sglist_zero() @ v4.4.
// Divergence: upstream vmaps 32 pages at a time and memsets through the mapping; the model clears the struct
// pages directly (the same bytes result, and clearing drops a page's backing), telling the CPU cache model
// (model/kernel/cpu_cache.h) that a cacheable pgprot leaves every line dirty, as the memset through a cached vmap
// does: the flushes upstream makes after zeroing (the heaps' free paths, the pools' allocations) clean them.
// Left out of fuzzing coverage (ION_NO_COVERAGE): its one comparison is the loop's page counter, and
// libFuzzer's callback for it on every page of a zeroed range was a noticeable part of each input.
ION_NO_COVERAGE int ion_heap_clear_pages(struct page** pages, int num, pgprot_t pgprot) {
  const bool cacheable = pgprot.cache == page_cache_mode::kCached;
  for (int i = 0; i < num; i++) cpu_cache_zeroed(pages[i], cacheable);
  return 0;
}

}  // namespace

// Mirrors ion_heap.c:ion_heap_buffer_zero() @ v4.4. Left out of fuzzing coverage like ion_heap_clear_pages():
// its comparisons are of the page counter, once per page of every buffer zeroed.
ION_NO_COVERAGE int ion_heap_buffer_zero(struct ion_buffer* buffer) {
  struct sg_table* table = buffer->sg_table;
  const pgprot_t pgprot = (buffer->flags & ION_FLAG_CACHED) ? PAGE_KERNEL : pgprot_writecombine(PAGE_KERNEL);
  std::array<struct page*, 32> pages;
  int p = 0;
  struct sg_page_iter piter;
  for_each_sg_page(table->sgl, &piter, table->nents, 0) {
    pages[p++] = sg_page_iter_page(&piter);
    if (p == static_cast<int>(pages.size())) {
      const int ret = ion_heap_clear_pages(pages.data(), p, pgprot);
      if (ret) return ret;
      p = 0;
    }
  }
  if (p) return ion_heap_clear_pages(pages.data(), p, pgprot);
  return 0;
}

// Mirrors ion_heap.c:ion_heap_pages_zero() @ v4.4. Only heap creation calls it (a carveout or chunk heap zeroes
// its whole range), with nothing an input chooses: left out of fuzzing coverage like ion_heap_clear_pages().
ION_NO_COVERAGE int ion_heap_pages_zero(struct page* page, size_t size, pgprot_t pgprot) {
  const size_t npages = PAGE_ALIGN(size) / PAGE_SIZE;
  // Divergence: a range none of whose pages has bytes already reads as zero (clear_page() of each would do
  // nothing), which the model knows without visiting every struct page; each module load zeroes two 1 MiB heaps.
  if (!page_range_backed(page, npages)) return 0;
  std::array<struct page*, 32> pages;
  int p = 0;
  for (size_t i = 0; i < npages; i++) {
    pages[p++] = nth_page(page, i);
    if (p == static_cast<int>(pages.size())) {
      const int ret = ion_heap_clear_pages(pages.data(), p, pgprot);
      if (ret) return ret;
      p = 0;
    }
  }
  if (p) return ion_heap_clear_pages(pages.data(), p, pgprot);
  return 0;
}

// Mirrors ion_heap.c:ion_pages_sync_for_device() @ v4.4.
void ion_pages_sync_for_device(struct device* dev, struct page* page, size_t size, enum dma_data_direction dir) {
  struct scatterlist sg;
  sg_init_table(&sg, 1);
  sg_set_page(&sg, page, static_cast<unsigned int>(size), 0);
  // This is not correct per the DMA API (sg_dma_address of a table nobody mapped), as upstream says.
  sg_dma_address(&sg) = page_to_phys(page);
  dma_sync_sg_for_device(dev, &sg, 1, dir);
}

// Mirrors ion_heap.c:ion_heap_freelist_add() @ v4.4: at the head; the thread is woken.
void ion_heap_freelist_add(struct ion_heap* heap, struct ion_buffer* buffer) {
  spin_lock(&heap->free_lock);
  list_add(&buffer->list, &heap->free_list);
  heap->free_list_size += buffer->size;
  spin_unlock(&heap->free_lock);
}

// Mirrors ion_heap.c:ion_heap_freelist_size() @ v4.4.
size_t ion_heap_freelist_size(struct ion_heap* heap) {
  spin_lock(&heap->free_lock);
  const size_t size = heap->free_list_size;
  spin_unlock(&heap->free_lock);
  return size;
}

namespace {

// Mirrors ion_heap.c:_ion_heap_freelist_drain() @ v4.4: the spinlock is dropped around each destroy.
size_t _ion_heap_freelist_drain(struct ion_heap* heap, size_t size, bool skip_pools) {
  size_t total_drained = 0;
  if (ion_heap_freelist_size(heap) == 0) return 0;

  spin_lock(&heap->free_lock);
  if (size == 0) size = heap->free_list_size;
  while (!list_empty(&heap->free_list)) {
    if (total_drained >= size) break;
    struct ion_buffer* buffer = list_first_entry(&heap->free_list, struct ion_buffer, list);
    list_del(&buffer->list);
    heap->free_list_size -= buffer->size;
    if (skip_pools) buffer->private_flags |= ION_PRIV_FLAG_SHRINKER_FREE;
    total_drained += buffer->size;
    spin_unlock(&heap->free_lock);
    ion_buffer_destroy(buffer);
    spin_lock(&heap->free_lock);
  }
  spin_unlock(&heap->free_lock);
  return total_drained;
}

}  // namespace

// Mirrors ion_heap.c:ion_heap_freelist_drain() @ v4.4.
size_t ion_heap_freelist_drain(struct ion_heap* heap, size_t size) {
  return _ion_heap_freelist_drain(heap, size, false);
}

// Mirrors ion_heap.c:ion_heap_freelist_shrink() @ v4.4.
size_t ion_heap_freelist_shrink(struct ion_heap* heap, size_t size) {
  return _ion_heap_freelist_drain(heap, size, true);
}

// Mirrors ion_heap.c:ion_heap_deferred_free() @ v4.4, one wake-up per buffer: pop the head, destroy it.
size_t ion_heap_deferred_free_run(struct ion_heap* heap, size_t max_buffers) {
  size_t done = 0;
  while (done < max_buffers) {
    spin_lock(&heap->free_lock);
    if (list_empty(&heap->free_list)) {
      spin_unlock(&heap->free_lock);
      break;
    }
    struct ion_buffer* buffer = list_first_entry(&heap->free_list, struct ion_buffer, list);
    list_del(&buffer->list);
    heap->free_list_size -= buffer->size;
    spin_unlock(&heap->free_lock);
    ion_buffer_destroy(buffer);
    done++;
  }
  return done;
}

// Mirrors ion_heap.c:ion_heap_init_deferred_free() @ v4.4. The kthread (named after the heap, SCHED_IDLE) is
// the explicit step ion_heap_deferred_free_run().
ION_MODULE_INIT int ion_heap_init_deferred_free(struct ion_heap* heap) {
  spin_lock(&heap->free_lock);
  INIT_LIST_HEAD(&heap->free_list);
  spin_unlock(&heap->free_lock);
  heap->task = true;
  return 0;
}

namespace {

// Mirrors ion_heap.c:ion_heap_shrink_count() @ v4.4: free-list pages plus what the heap's pools hold.
unsigned long ion_heap_shrink_count(struct shrinker* shrinker, struct shrink_control* sc) {
  struct ion_heap* heap = container_of(shrinker, struct ion_heap, shrinker);
  unsigned long total = ion_heap_freelist_size(heap) / PAGE_SIZE;
  if (heap->ops->shrink) total += static_cast<unsigned long>(heap->ops->shrink(heap, sc->gfp_mask, 0));
  return total;
}

// Mirrors ion_heap.c:ion_heap_shrink_scan() @ v4.4: the free list first (bypassing pools and zeroing), then
// the heap's own shrink. The counts are ints, as upstream: nr_to_scan is truncated (2^32 scans nothing), a
// negative count converts to a huge byte size for the free list, and the subtraction wraps (the kernel builds
// with -fno-strict-overflow).
unsigned long ion_heap_shrink_scan(struct shrinker* shrinker, struct shrink_control* sc) {
  struct ion_heap* heap = container_of(shrinker, struct ion_heap, shrinker);
  int freed = 0;
  int to_scan = static_cast<int>(static_cast<unsigned int>(sc->nr_to_scan));
  if (to_scan == 0) return 0;

  // Shrink the free list first: no point in zeroing memory that is about to be reclaimed.
  if (heap->flags & ION_HEAP_FLAG_DEFER_FREE) {
    const size_t bytes = static_cast<unsigned long>(static_cast<long>(to_scan)) * PAGE_SIZE;
    freed = static_cast<int>(static_cast<unsigned int>(ion_heap_freelist_shrink(heap, bytes) / PAGE_SIZE));
  }
  to_scan = static_cast<int>(static_cast<unsigned int>(to_scan) - static_cast<unsigned int>(freed));
  if (to_scan <= 0) return static_cast<unsigned long>(static_cast<long>(freed));
  if (heap->ops->shrink) {
    freed = static_cast<int>(static_cast<unsigned int>(freed) +
                             static_cast<unsigned int>(heap->ops->shrink(heap, sc->gfp_mask, to_scan)));
  }
  return static_cast<unsigned long>(static_cast<long>(freed));
}

}  // namespace

// Mirrors ion_heap.c:ion_heap_init_shrinker() @ v4.4.
ION_MODULE_INIT int ion_heap_init_shrinker(struct ion_heap* heap) {
  heap->shrinker.count_objects = ion_heap_shrink_count;
  heap->shrinker.scan_objects = ion_heap_shrink_scan;
  heap->shrinker.seeks = DEFAULT_SEEKS;
  heap->shrinker.batch = 0;
  if (!heap->mem) return 0;
  const Errno ret = register_shrinker(heap->mem, &heap->shrinker);
  heap->shrinker_registered = ret.ok();
  return ret.kernel_ret();
}

ION_MODULE_EXIT void ion_heap_cleanup(struct ion_heap* heap) {
  if (heap->shrinker_registered) {
    unregister_shrinker(heap->mem, &heap->shrinker);
    heap->shrinker_registered = false;
  }
  if (heap->flags & ION_HEAP_FLAG_DEFER_FREE) ion_heap_freelist_drain(heap, 0);
}

namespace {

struct HeapTable {
  std::mutex mu;
  std::array<const struct ion_heap_type_ops*, 32> types{};
};

HeapTable& heap_table() {
  static HeapTable* t = new HeapTable();
  return *t;
}

}  // namespace

bool ion_register_heap_type(const struct ion_heap_type_ops* ops) {
  HeapTable& t = heap_table();
  std::lock_guard<std::mutex> lock(t.mu);
  const unsigned int type = static_cast<unsigned int>(ops->type);
  if (type >= t.types.size() || t.types[type] != nullptr) return false;
  t.types[type] = ops;
  return true;
}

const struct ion_heap_type_ops* ion_find_heap_type(enum ion_heap_type type) {
  HeapTable& t = heap_table();
  std::lock_guard<std::mutex> lock(t.mu);
  const unsigned int index = static_cast<unsigned int>(type);
  return index < t.types.size() ? t.types[index] : nullptr;
}

// Mirrors ion_heap.c:ion_heap_create() @ v4.4: the heap type's create, then name and id from the platform data.
ION_MODULE_INIT ErrnoOr<struct ion_heap*> ion_heap_create(const struct ion_platform_heap* heap_data) {
  const struct ion_heap_type_ops* ops = ion_find_heap_type(heap_data->type);
  if (!ops) {
    pr_err("%s: Invalid heap type %d\n", __func__, heap_data->type);
    return Errno(-EINVAL);
  }
  ErrnoOr<struct ion_heap*> heap = ops->create(heap_data);
  if (!heap.ok() || heap.value() == nullptr) {
    pr_err("%s: error creating heap %s type %d base %lu size %zu\n", __func__, heap_data->name, heap_data->type,
           heap_data->base, heap_data->size);
    return Errno(-EINVAL);
  }
  heap.value()->name = heap_data->name;
  heap.value()->id = heap_data->id;
  heap.value()->mem = heap_data->mem;
  return heap;
}

// Mirrors ion_heap.c:ion_heap_destroy() @ v4.4.
ION_MODULE_EXIT void ion_heap_destroy(struct ion_heap* heap) {
  if (!heap) return;
  const struct ion_heap_type_ops* ops = ion_find_heap_type(heap->type);
  if (!ops) {
    pr_err("%s: Invalid heap type %d\n", __func__, heap->type);
    return;
  }
  ops->destroy(heap);
}

}  // namespace ionsim::kernel
