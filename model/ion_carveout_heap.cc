// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The carveout heap: a genalloc first-fit pool with 4 KiB granules over a physical range reserved at boot.
// Mirrors drivers/staging/android/ion/ion_carveout_heap.c @ v4.4.
#include "model/ion_priv.h"
#include "model/kernel/bug.h"
#include "model/kernel/compiler.h"
#include "model/kernel/genalloc.h"
#include "model/kernel/printk.h"
#include "model/kernel/slab.h"

namespace ionsim::kernel {
namespace {

// Mirrors ion_carveout_heap.c:struct ion_carveout_heap @ v4.4.
struct ion_carveout_heap {
  struct ion_heap heap;
  struct gen_pool* pool;
  ion_phys_addr_t base;
};

struct ion_carveout_heap* to_carveout(struct ion_heap* heap) { return container_of(heap, struct ion_carveout_heap, heap); }

// Mirrors ion_carveout_heap.c:ion_carveout_heap_phys() @ v4.4.
int ion_carveout_heap_phys(struct ion_heap* /*heap*/, struct ion_buffer* buffer, phys_addr_t* addr, size_t* len) {
  struct sg_table* table = static_cast<struct sg_table*>(buffer->priv_virt);
  struct page* page = sg_page(table->sgl);
  *addr = PFN_PHYS(page_to_pfn(page));
  *len = buffer->size;
  return 0;
}

// Mirrors ion_carveout_heap.c:ion_carveout_heap_allocate() @ v4.4: align beyond a page is -EINVAL, otherwise
// ignored; an empty pool is -ENOMEM.
int ion_carveout_heap_allocate(struct ion_heap* heap, struct ion_buffer* buffer, unsigned long size,
                               unsigned long align, unsigned long /*flags*/) {
  if (align > PAGE_SIZE) return -EINVAL;

  struct sg_table* table = kzalloc<struct sg_table>(GFP_KERNEL);
  if (!table) return -ENOMEM;
  Errno ret = sg_alloc_table(table, 1, GFP_KERNEL);
  if (!ret.ok()) {
    kfree(table);
    return ret.kernel_ret();
  }
  const phys_addr_t paddr = ion_carveout_allocate(heap, size, align);
  if (paddr == ION_CARVEOUT_ALLOCATE_FAIL) {
    sg_free_table(table);
    kfree(table);
    return -ENOMEM;
  }
  sg_set_page(table->sgl, pfn_to_page(heap->mem, PFN_DOWN(paddr)), static_cast<unsigned int>(size), 0);
  buffer->priv_virt = table;
  return 0;
}

// Mirrors ion_carveout_heap.c:ion_carveout_heap_free() @ v4.4: zero, sync if cached, then back to the pool.
void ion_carveout_heap_free(struct ion_buffer* buffer) {
  struct ion_heap* heap = buffer->heap;
  struct sg_table* table = static_cast<struct sg_table*>(buffer->priv_virt);
  struct page* page = sg_page(table->sgl);
  const phys_addr_t paddr = PFN_PHYS(page_to_pfn(page));

  ion_heap_buffer_zero(buffer);
  if (ion_buffer_cached(buffer)) {
    dma_sync_sg_for_device(nullptr, table->sgl, static_cast<int>(table->nents), DMA_BIDIRECTIONAL);
  }
  ion_carveout_free(heap, paddr, buffer->size);
  sg_free_table(table);
  kfree(table);
}

// Mirrors ion_carveout_heap.c:ion_carveout_heap_map_dma() @ v4.4.
ErrnoOr<struct sg_table*> ion_carveout_heap_map_dma(struct ion_heap* /*heap*/, struct ion_buffer* buffer) {
  return static_cast<struct sg_table*>(buffer->priv_virt);
}

// Mirrors ion_carveout_heap.c:ion_carveout_heap_unmap_dma() @ v4.4.
void ion_carveout_heap_unmap_dma(struct ion_heap* /*heap*/, struct ion_buffer* /*buffer*/) {}

// Mirrors ion_carveout_heap.c:carveout_heap_ops @ v4.4.
const struct ion_heap_ops carveout_heap_ops = {
    .allocate = ion_carveout_heap_allocate,
    .free = ion_carveout_heap_free,
    .phys = ion_carveout_heap_phys,
    .map_dma = ion_carveout_heap_map_dma,
    .unmap_dma = ion_carveout_heap_unmap_dma,
    .map_kernel = ion_heap_map_kernel,
    .unmap_kernel = ion_heap_unmap_kernel,
    .map_user = ion_heap_map_user,
    .shrink = nullptr,
};

// The debug_show of the carveout: v4.4 has none, so the heap file ends at its last dashes.
const struct ion_heap_type_ops carveout_type = {
    .type = ION_HEAP_TYPE_CARVEOUT,
    .name = "carveout",
    .create = ion_carveout_heap_create,
    .destroy = ion_carveout_heap_destroy,
};
const bool carveout_registered = ion_register_heap_type(&carveout_type);

}  // namespace

// Mirrors ion_carveout_heap.c:ion_carveout_allocate() @ v4.4: genalloc's 0 (failure) becomes -1.
phys_addr_t ion_carveout_allocate(struct ion_heap* heap, unsigned long size, unsigned long /*align*/) {
  const unsigned long offset = gen_pool_alloc(to_carveout(heap)->pool, size);
  if (!offset) return ION_CARVEOUT_ALLOCATE_FAIL;
  return offset;
}

// Mirrors ion_carveout_heap.c:ion_carveout_free() @ v4.4.
void ion_carveout_free(struct ion_heap* heap, phys_addr_t addr, unsigned long size) {
  if (addr == ION_CARVEOUT_ALLOCATE_FAIL) return;
  gen_pool_free(to_carveout(heap)->pool, addr, size);
}

// Mirrors ion_carveout_heap.c:ion_carveout_heap_create() @ v4.4: the region is synced and zeroed, then handed
// to a genalloc pool of 4 KiB granules (order 12).
ION_MODULE_INIT ErrnoOr<struct ion_heap*> ion_carveout_heap_create(const struct ion_platform_heap* heap_data) {
  struct page* page = pfn_to_page(heap_data->mem, PFN_DOWN(heap_data->base));
  const size_t size = heap_data->size;
  if (!page || !pfn_to_page(heap_data->mem, PFN_DOWN(heap_data->base + size - 1))) {
    // Divergence: v4.4 trusts the board file; the model refuses a range with no struct pages behind it.
    pr_err("%s: no memory at %#lx size %zu\n", __func__, heap_data->base, size);
    return Errno(-EINVAL);
  }
  ion_pages_sync_for_device(nullptr, page, size, DMA_BIDIRECTIONAL);
  const int ret = ion_heap_pages_zero(page, size, pgprot_writecombine(PAGE_KERNEL));
  if (ret) return Errno(ret);

  struct ion_carveout_heap* carveout_heap = kzalloc<struct ion_carveout_heap>(GFP_KERNEL);
  if (!carveout_heap) return Errno(-ENOMEM);
  carveout_heap->pool = gen_pool_create(12, -1);
  if (!carveout_heap->pool) {
    kfree(carveout_heap);
    return Errno(-ENOMEM);
  }
  carveout_heap->base = heap_data->base;
  gen_pool_add(carveout_heap->pool, carveout_heap->base, heap_data->size, -1).IgnoreError();
  carveout_heap->heap.ops = &carveout_heap_ops;
  carveout_heap->heap.type = ION_HEAP_TYPE_CARVEOUT;
  carveout_heap->heap.flags = ION_HEAP_FLAG_DEFER_FREE;
  carveout_heap->heap.mem = heap_data->mem;
  return &carveout_heap->heap;
}

// Mirrors ion_carveout_heap.c:ion_carveout_heap_destroy() @ v4.4.
ION_MODULE_EXIT void ion_carveout_heap_destroy(struct ion_heap* heap) {
  struct ion_carveout_heap* carveout_heap = to_carveout(heap);
  // Divergence: a carveout based at physical 0 still holds the granule that genalloc handed out as address 0
  // and the allocator took for failure; gen_pool_destroy() would BUG on it. v4.4 never destroys a carveout (it
  // is built in); the model's module unload gives the granule back first and says so.
  if (carveout_heap->base == 0 && gen_pool_avail(carveout_heap->pool) + PAGE_SIZE == gen_pool_size(carveout_heap->pool)) {
    pr_warn("%s: %s: returning granule 0, lost to the address-0 quirk\n", __func__, heap->name);
    gen_pool_free(carveout_heap->pool, 0, PAGE_SIZE);
  }
  gen_pool_destroy(carveout_heap->pool);
  kfree(carveout_heap);
}

struct gen_pool* ion_carveout_heap_pool(struct ion_heap* heap) { return to_carveout(heap)->pool; }
phys_addr_t ion_carveout_heap_base(struct ion_heap* heap) { return to_carveout(heap)->base; }

}  // namespace ionsim::kernel
