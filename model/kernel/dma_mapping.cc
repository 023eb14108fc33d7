// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "model/kernel/dma_mapping.h"

#include <atomic>

#include "model/kernel/bug.h"
#include "model/kernel/slab.h"

namespace ionsim::kernel {
namespace {

std::atomic<long> g_null_device_syncs{0};

// Mirrors include/linux/dma-direction.h:valid_dma_direction() @ v4.4.
bool valid_dma_direction(enum dma_data_direction dir) {
  return dir == DMA_BIDIRECTIONAL || dir == DMA_TO_DEVICE || dir == DMA_FROM_DEVICE;
}

void count_sync(struct device* dev, std::atomic<long> device::*counter) {
  if (dev == nullptr) {
    g_null_device_syncs.fetch_add(1, std::memory_order_relaxed);
  } else {
    (dev->*counter).fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace

long dma_null_device_sync_count() { return g_null_device_syncs.load(std::memory_order_relaxed); }

// Mirrors include/asm-generic/dma-mapping-common.h:dma_map_sg_attrs() @ v4.4 with
// arch/arm/mm/dma-mapping.c:arm_dma_map_sg() as the ops: each entry's DMA address is its physical address.
int dma_map_sg(struct device* dev, struct scatterlist* sg, int nents, enum dma_data_direction dir) {
  BUG_ON(!valid_dma_direction(dir));
  struct scatterlist* s;
  int i;
  for_each_sg(sg, s, nents, i) {
    sg_dma_address(s) = sg_phys(s);
    sg_dma_len(s) = s->length;
  }
  if (dev != nullptr) dev->nr_map_sg.fetch_add(1, std::memory_order_relaxed);
  return nents;
}

// Mirrors include/asm-generic/dma-mapping-common.h:dma_unmap_sg_attrs() @ v4.4.
void dma_unmap_sg(struct device* dev, struct scatterlist* /*sg*/, int /*nents*/, enum dma_data_direction dir) {
  BUG_ON(!valid_dma_direction(dir));
  if (dev != nullptr) dev->nr_unmap_sg.fetch_add(1, std::memory_order_relaxed);
}

// Mirrors include/asm-generic/dma-mapping-common.h:dma_sync_sg_for_device() @ v4.4: coherent memory, so only the
// call is counted.
void dma_sync_sg_for_device(struct device* dev, struct scatterlist* /*sg*/, int /*nents*/,
                            enum dma_data_direction dir) {
  BUG_ON(!valid_dma_direction(dir));
  count_sync(dev, &device::nr_sync_for_device);
}

// Mirrors include/asm-generic/dma-mapping-common.h:dma_sync_sg_for_cpu() @ v4.4.
void dma_sync_sg_for_cpu(struct device* dev, struct scatterlist* /*sg*/, int /*nents*/,
                         enum dma_data_direction dir) {
  BUG_ON(!valid_dma_direction(dir));
  count_sync(dev, &device::nr_sync_for_cpu);
}

// Mirrors arch/arm/mm/dma-mapping.c:__alloc_from_contiguous() @ v4.4 (reached through __dma_alloc()).
void* dma_alloc_attrs_cma(struct device* dev, size_t size, phys_addr_t* handle, pgprot_t prot) {
  if (!dev || !dev->cma_area) return nullptr;
  size = PAGE_ALIGN(size);
  const unsigned int order = static_cast<unsigned int>(get_order(size));
  const size_t count = size >> PAGE_SHIFT;
  // Mirrors drivers/base/dma-contiguous.c:dma_alloc_from_contiguous() @ v4.4: the alignment is capped.
  struct page* page = cma_alloc(dev->cma_area, count, order > CONFIG_CMA_ALIGNMENT ? CONFIG_CMA_ALIGNMENT : order);
  if (!page) return nullptr;
  // __dma_clear_buffer(): the whole run is zeroed through the kernel's view. cma_alloc() @ v4.4 searches and
  // sets its bitmap with the count truncated to an unsigned int, so for 2^32 pages or more it hands out fewer
  // pages than are zeroed here: the kernel writes on past the allocation, over whatever follows, until it
  // reaches memory that is not mapped and oopses. The model does the same writes and stops with that oops at
  // the first page frame that has no struct page, instead of faulting itself.
  struct phys_mem* mem = page_phys_mem(page);
  const unsigned long first_pfn = page_to_pfn(page);
  for (size_t i = 0; i < count; i++) {
    if (!pfn_valid(mem, first_pfn + i)) {
      bug_slowpath(__FILE__, __LINE__, __func__, "BUG: unable to handle kernel paging request at pfn %#lx",
                   first_pfn + i);
    }
    clear_highpage(nth_page(page, i));
  }
  void* ptr;
  if (PageHighMem(page)) {
    struct page** pages = kcalloc<struct page*>(count, GFP_KERNEL);
    if (!pages) {
      cma_release(dev->cma_area, page, static_cast<unsigned int>(count));
      return nullptr;
    }
    for (size_t i = 0; i < count; i++) pages[i] = nth_page(page, i);
    ptr = vmap(pages, static_cast<unsigned int>(count), VM_MAP, prot);
    kfree_array(pages);
    if (!ptr) {
      cma_release(dev->cma_area, page, static_cast<unsigned int>(count));
      return nullptr;
    }
  } else {
    ptr = page_address(page);
  }
  *handle = page_to_phys(page);
  return ptr;
}

// Mirrors arch/arm/mm/dma-mapping.c:__arm_dma_free() @ v4.4 with __free_from_contiguous().
void dma_free_coherent(struct device* dev, size_t size, void* cpu_addr, phys_addr_t handle) {
  size = PAGE_ALIGN(size);
  struct page* page = phys_to_page(dev->cma_area->mem, handle);
  if (PageHighMem(page)) vunmap(cpu_addr);
  WARN_ON(!cma_release(dev->cma_area, page, static_cast<unsigned int>(size >> PAGE_SHIFT)));
}

// Mirrors arch/arm/mm/dma-mapping.c:arm_dma_get_sgtable() @ v4.4.
Errno dma_get_sgtable(struct device* dev, struct sg_table* sgt, void* /*cpu_addr*/, phys_addr_t handle, size_t size) {
  struct page* page = phys_to_page(dev->cma_area->mem, handle);
  Errno ret = sg_alloc_table(sgt, 1, GFP_KERNEL);
  if (!ret.ok()) return ret;
  sg_set_page(sgt->sgl, page, static_cast<unsigned int>(PAGE_ALIGN(size)), 0);
  return Errno::Ok();
}

// Mirrors arch/arm/mm/dma-mapping.c:arm_dma_mmap() @ v4.4.
Errno dma_mmap_coherent(struct device* /*dev*/, struct vm_area_struct* vma, void* /*cpu_addr*/, phys_addr_t handle,
                        size_t size) {
  const unsigned long nr_vma_pages = (vma->vm_end - vma->vm_start) >> PAGE_SHIFT;
  const unsigned long nr_pages = PAGE_ALIGN(size) >> PAGE_SHIFT;
  const unsigned long pfn = PFN_DOWN(handle);
  const unsigned long off = vma->vm_pgoff;
  vma->vm_page_prot = pgprot_writecombine(vma->vm_page_prot);
  if (off < nr_pages && nr_vma_pages <= nr_pages - off) {
    return remap_pfn_range(vma, vma->vm_start, pfn + off, vma->vm_end - vma->vm_start, vma->vm_page_prot);
  }
  return Errno(-ENXIO);
}

}  // namespace ionsim::kernel
