// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The DMA (CMA) heap: each buffer is one coherent allocation from the contiguous area of the heap's device.
// Mirrors drivers/staging/android/ion/ion_cma_heap.c @ v4.4.
#include "model/ion_priv.h"
#include "model/kernel/bug.h"
#include "model/kernel/compiler.h"
#include "model/kernel/dma_mapping.h"
#include "model/kernel/printk.h"
#include "model/kernel/slab.h"

namespace ionsim::kernel {
namespace {

// Mirrors ion_cma_heap.c:struct ion_cma_heap @ v4.4, plus the board's allocation choice.
struct ion_cma_heap {
  struct ion_heap heap;
  struct device* dev;
  // Divergence: the board's alloc=wc (ion_platform_heap::dma_writecombine); v4.4 has no such choice.
  bool writecombine_uncached;
};

struct ion_cma_heap* to_cma_heap(struct ion_heap* heap) { return container_of(heap, struct ion_cma_heap, heap); }

// Mirrors ion_cma_heap.c:struct ion_cma_buffer_info @ v4.4, plus the kernel mapping attribute the allocation
// chose.
struct ion_cma_buffer_info {
  void* cpu_addr;
  phys_addr_t handle;
  struct sg_table* table;
  bool writecombine;
};

// Mirrors ion_cma_heap.c:ion_cma_allocate() @ v4.4: cached buffers and align beyond a page are -EINVAL; every
// other failure is ION_CMA_ALLOCATE_FAILED (-1), which the ioctl returns as -EPERM. Every buffer comes from
// dma_alloc_coherent(), as v4.4.
// Divergence: on a board with alloc=wc, uncached buffers come from dma_alloc_writecombine() and cached ones from
// dma_alloc_coherent(), the choice of the Android CMA heap drivers (v4.4 rejects cached buffers first, so every
// buffer is then write-combine). On the model's ARMv7-like machine both give the same bufferable, uncached
// kernel mapping and both zero; what differs is the allocation call, which the canonical dump shows (map=).
int ion_cma_allocate(struct ion_heap* heap, struct ion_buffer* buffer, unsigned long len, unsigned long align,
                     unsigned long /*flags*/) {
  struct ion_cma_heap* cma_heap = to_cma_heap(heap);
  struct device* dev = cma_heap->dev;

  pr_debug("%s: Request buffer allocation len %ld\n", dev->name.c_str(), len);
  if (buffer->flags & ION_FLAG_CACHED) return -EINVAL;
  if (align > PAGE_SIZE) return -EINVAL;

  struct ion_cma_buffer_info* info = kzalloc<struct ion_cma_buffer_info>(GFP_KERNEL);
  if (!info) return ION_CMA_ALLOCATE_FAILED;

  info->writecombine = cma_heap->writecombine_uncached && !ion_buffer_cached(buffer);
  info->cpu_addr = info->writecombine ? dma_alloc_writecombine(dev, len, &info->handle, GFP_HIGHUSER | __GFP_ZERO)
                                      : dma_alloc_coherent(dev, len, &info->handle, GFP_HIGHUSER | __GFP_ZERO);
  if (!info->cpu_addr) {
    pr_err("%s: Fail to allocate buffer\n", dev->name.c_str());
    goto err;
  }
  info->table = kzalloc<struct sg_table>(GFP_KERNEL);
  if (!info->table) goto free_mem;
  if (!dma_get_sgtable(dev, info->table, info->cpu_addr, info->handle, len).ok()) goto free_table;
  // Keep this for memory release.
  buffer->priv_virt = info;
  pr_debug("%s: Allocate buffer %p\n", dev->name.c_str(), static_cast<void*>(buffer));
  return 0;

free_table:
  kfree(info->table);
free_mem:
  dma_free_coherent(dev, len, info->cpu_addr, info->handle);
err:
  kfree(info);
  return ION_CMA_ALLOCATE_FAILED;
}

// Mirrors ion_cma_heap.c:ion_cma_free() @ v4.4: straight back to the area (no zeroing: allocation zeroes).
void ion_cma_free(struct ion_buffer* buffer) {
  struct ion_cma_heap* cma_heap = to_cma_heap(buffer->heap);
  struct device* dev = cma_heap->dev;
  struct ion_cma_buffer_info* info = static_cast<struct ion_cma_buffer_info*>(buffer->priv_virt);
  pr_debug("%s: Release buffer %p\n", dev->name.c_str(), static_cast<void*>(buffer));
  dma_free_coherent(dev, buffer->size, info->cpu_addr, info->handle);
  sg_free_table(info->table);
  kfree(info->table);
  kfree(info);
}

// Mirrors ion_cma_heap.c:ion_cma_phys() @ v4.4.
int ion_cma_phys(struct ion_heap* /*heap*/, struct ion_buffer* buffer, phys_addr_t* addr, size_t* len) {
  struct ion_cma_buffer_info* info = static_cast<struct ion_cma_buffer_info*>(buffer->priv_virt);
  *addr = info->handle;
  *len = buffer->size;
  return 0;
}

// Mirrors ion_cma_heap.c:ion_cma_heap_map_dma() @ v4.4.
ErrnoOr<struct sg_table*> ion_cma_heap_map_dma(struct ion_heap* /*heap*/, struct ion_buffer* buffer) {
  return static_cast<struct ion_cma_buffer_info*>(buffer->priv_virt)->table;
}

// Mirrors ion_cma_heap.c:ion_cma_heap_unmap_dma() @ v4.4.
void ion_cma_heap_unmap_dma(struct ion_heap* /*heap*/, struct ion_buffer* /*buffer*/) {}

// Mirrors ion_cma_heap.c:ion_cma_mmap() @ v4.4.
int ion_cma_mmap(struct ion_heap* mapper, struct ion_buffer* buffer, struct vm_area_struct* vma) {
  struct ion_cma_heap* cma_heap = to_cma_heap(mapper);
  struct ion_cma_buffer_info* info = static_cast<struct ion_cma_buffer_info*>(buffer->priv_virt);
  return dma_mmap_coherent(cma_heap->dev, vma, info->cpu_addr, info->handle, buffer->size).kernel_ret();
}

// Mirrors ion_cma_heap.c:ion_cma_map_kernel() @ v4.4: the allocation's own kernel address.
ErrnoOr<void*> ion_cma_map_kernel(struct ion_heap* /*heap*/, struct ion_buffer* buffer) {
  return static_cast<struct ion_cma_buffer_info*>(buffer->priv_virt)->cpu_addr;
}

// Mirrors ion_cma_heap.c:ion_cma_unmap_kernel() @ v4.4.
void ion_cma_unmap_kernel(struct ion_heap* /*heap*/, struct ion_buffer* /*buffer*/) {}

// Mirrors ion_cma_heap.c:ion_cma_ops @ v4.4 (no shrink, no deferred free).
const struct ion_heap_ops ion_cma_ops = {
    .allocate = ion_cma_allocate,
    .free = ion_cma_free,
    .phys = ion_cma_phys,
    .map_dma = ion_cma_heap_map_dma,
    .unmap_dma = ion_cma_heap_unmap_dma,
    .map_kernel = ion_cma_map_kernel,
    .unmap_kernel = ion_cma_unmap_kernel,
    .map_user = ion_cma_mmap,
    .shrink = nullptr,
};

const struct ion_heap_type_ops cma_type = {
    .type = ION_HEAP_TYPE_DMA,
    .name = "dma",
    .create = ion_cma_heap_create,
    .destroy = ion_cma_heap_destroy,
};
const bool cma_registered = ion_register_heap_type(&cma_type);

}  // namespace

// Mirrors ion_cma_heap.c:ion_cma_heap_create() @ v4.4: the heap's device comes from platform priv.
ION_MODULE_INIT ErrnoOr<struct ion_heap*> ion_cma_heap_create(const struct ion_platform_heap* data) {
  struct device* dev = static_cast<struct device*>(data->priv);
  if (!dev || !dev->cma_area) {
    // Divergence: v4.4 would build the heap and fail every allocation; the model refuses a DMA heap whose device
    // has no contiguous area, so a board mistake shows at boot.
    pr_err("%s: heap %s has no CMA area\n", __func__, data->name);
    return Errno(-EINVAL);
  }
  struct ion_cma_heap* cma_heap = kzalloc<struct ion_cma_heap>(GFP_KERNEL);
  if (!cma_heap) return Errno(-ENOMEM);
  cma_heap->heap.ops = &ion_cma_ops;
  // Get device from private heaps data, later it will be used to make the link with reserved CMA memory.
  cma_heap->dev = dev;
  cma_heap->writecombine_uncached = data->dma_writecombine;
  cma_heap->heap.type = ION_HEAP_TYPE_DMA;
  cma_heap->heap.mem = data->mem;
  return &cma_heap->heap;
}

// Mirrors ion_cma_heap.c:ion_cma_heap_destroy() @ v4.4.
ION_MODULE_EXIT void ion_cma_heap_destroy(struct ion_heap* heap) { kfree(to_cma_heap(heap)); }

phys_addr_t ion_cma_heap_base(struct ion_heap* heap) { return cma_get_base(to_cma_heap(heap)->dev->cma_area); }

unsigned long ion_cma_heap_used_pages(struct ion_heap* heap) { return cma_used_pages(to_cma_heap(heap)->dev->cma_area); }

const char* ion_cma_buffer_map_attr(struct ion_buffer* buffer) {
  return static_cast<struct ion_cma_buffer_info*>(buffer->priv_virt)->writecombine ? "wc" : "coherent";
}

const char* ion_cma_heap_alloc_name(struct ion_heap* heap) {
  return to_cma_heap(heap)->writecombine_uncached ? "wc" : "coherent";
}

}  // namespace ionsim::kernel
