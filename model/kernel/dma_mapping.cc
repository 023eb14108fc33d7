// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "model/kernel/dma_mapping.h"

#include <algorithm>
#include <atomic>
#include <string>

#include "model/kernel/bug.h"
#include "model/kernel/cpu_cache.h"
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

// Mirrors arch/arm/mm/dma-mapping.c:__dma_page_cpu_to_dev() @ v4.4 with arch/arm/mm/cache-v7.S:v7_dma_map_area:
// DMA_FROM_DEVICE invalidates (v7_dma_inv_range), every other direction cleans (v7_dma_clean_range).
void dma_page_cpu_to_dev(struct scatterlist* sg, int nents, enum dma_data_direction dir, const char* by) {
  struct scatterlist* s;
  int i;
  for_each_sg(sg, s, nents, i) {
    if (sg_page(s) == nullptr) continue;
    if (dir == DMA_FROM_DEVICE) {
      cpu_cache_invalidate(sg_page(s), s->offset, s->length, by);
    } else {
      cpu_cache_clean(sg_page(s), s->offset, s->length, by);
    }
  }
}

// Mirrors arch/arm/mm/dma-mapping.c:__dma_page_dev_to_cpu() @ v4.4 with arch/arm/mm/cache-v7.S:v7_dma_unmap_area:
// every direction but DMA_TO_DEVICE invalidates.
void dma_page_dev_to_cpu(struct scatterlist* sg, int nents, enum dma_data_direction dir, const char* by) {
  if (dir == DMA_TO_DEVICE) return;
  struct scatterlist* s;
  int i;
  for_each_sg(sg, s, nents, i) {
    if (sg_page(s) != nullptr) cpu_cache_invalidate(sg_page(s), s->offset, s->length, by);
  }
}

void report_maintenance(struct scatterlist* sg, int nents, const char* by) {
  if (nents > 0 && sg != nullptr && sg_page(sg) != nullptr) cpu_cache_report(page_phys_mem(sg_page(sg)), by);
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
  dma_page_cpu_to_dev(sg, nents, dir, "dma_map_sg");
  report_maintenance(sg, nents, "dma_map_sg");
  if (dev != nullptr) dev->nr_map_sg.fetch_add(1, std::memory_order_relaxed);
  return nents;
}

// Mirrors include/asm-generic/dma-mapping-common.h:dma_unmap_sg_attrs() @ v4.4 with
// arch/arm/mm/dma-mapping.c:arm_dma_unmap_sg() as the ops.
void dma_unmap_sg(struct device* dev, struct scatterlist* sg, int nents, enum dma_data_direction dir) {
  BUG_ON(!valid_dma_direction(dir));
  dma_page_dev_to_cpu(sg, nents, dir, "dma_unmap_sg");
  report_maintenance(sg, nents, "dma_unmap_sg");
  if (dev != nullptr) dev->nr_unmap_sg.fetch_add(1, std::memory_order_relaxed);
}

// Mirrors include/asm-generic/dma-mapping-common.h:dma_sync_sg_for_device() @ v4.4 with
// arch/arm/mm/dma-mapping.c:arm_dma_sync_sg_for_device() as the ops (a NULL device gets arm_dma_ops too).
void dma_sync_sg_for_device(struct device* dev, struct scatterlist* sg, int nents, enum dma_data_direction dir) {
  BUG_ON(!valid_dma_direction(dir));
  dma_page_cpu_to_dev(sg, nents, dir, "dma_sync_sg_for_device");
  report_maintenance(sg, nents, "dma_sync_sg_for_device");
  count_sync(dev, &device::nr_sync_for_device);
}

// Mirrors include/asm-generic/dma-mapping-common.h:dma_sync_sg_for_cpu() @ v4.4 with
// arch/arm/mm/dma-mapping.c:arm_dma_sync_sg_for_cpu() as the ops.
void dma_sync_sg_for_cpu(struct device* dev, struct scatterlist* sg, int nents, enum dma_data_direction dir) {
  BUG_ON(!valid_dma_direction(dir));
  dma_page_dev_to_cpu(sg, nents, dir, "dma_sync_sg_for_cpu");
  report_maintenance(sg, nents, "dma_sync_sg_for_cpu");
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

// A device's DMA engine, not a kernel function: len bytes at byte `off` of the scatterlist, entry after entry,
// through each entry's DMA address (a direct mapping: its physical address, so its pages).
Errno dma_device_transfer(struct device* dev, struct scatterlist* sg, int nents, uint64_t off, void* buf,
                          size_t len, bool write, const char* owner) {
  const std::string who = "device " + (dev != nullptr ? dev->name : std::string("?"));
  uint64_t base = 0;  // offset of the entry in the whole list
  size_t done = 0;
  struct phys_mem* mem = nullptr;
  struct scatterlist* s;
  int i;
  for_each_sg(sg, s, nents, i) {
    const uint64_t end = base + s->length;
    if (done < len && off + done < end) {
      if (sg_dma_len(s) == 0 || sg_page(s) == nullptr) return Errno(-EFAULT);  // not mapped for DMA
      while (done < len && off + done < end) {
        const uint64_t in_entry = off + done - base + s->offset;
        struct page* page = nth_page(sg_page(s), in_entry / PAGE_SIZE);
        const size_t in_page = in_entry % PAGE_SIZE;
        const size_t n = std::min<size_t>({len - done, PAGE_SIZE - in_page, static_cast<size_t>(end - (off + done))});
        const uint64_t owner_offset = off + done - in_page;
        uint8_t* at = static_cast<uint8_t*>(buf) + done;
        if (write) {
          dma_device_write(who.c_str(), owner, owner_offset, page, in_page, at, n);
        } else {
          dma_device_read(who.c_str(), owner, owner_offset, page, in_page, at, n);
        }
        mem = page_phys_mem(page);
        done += n;
      }
    }
    base = end;
  }
  if (mem != nullptr) cpu_cache_report(mem, write ? (who + " write").c_str() : (who + " read").c_str());
  return done == len ? Errno::Ok() : Errno(-EINVAL);
}

}  // namespace ionsim::kernel
