// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The chunk heap: a reserved range cut into fixed-size chunks by a genalloc pool whose granule is the chunk; a
// buffer is a list of chunks, not necessarily contiguous. Mirrors drivers/staging/android/ion/ion_chunk_heap.c
// @ v4.4.
#include "model/ion_priv.h"
#include "model/kernel/bug.h"
#include "model/kernel/compiler.h"
#include "model/kernel/genalloc.h"
#include "model/kernel/printk.h"
#include "model/kernel/slab.h"

namespace ionsim::kernel {
namespace {

// Mirrors ion_chunk_heap.c:struct ion_chunk_heap @ v4.4.
struct ion_chunk_heap {
  struct ion_heap heap;
  struct gen_pool* pool;
  ion_phys_addr_t base;
  unsigned long chunk_size;
  unsigned long size;
  // Updated without a lock while allocations run concurrently under the read side of dev->lock, as upstream
  // does (reference section 3.4): a latent race the model keeps.
  unsigned long allocated;
};

struct ion_chunk_heap* to_chunk_heap(struct ion_heap* heap) { return container_of(heap, struct ion_chunk_heap, heap); }

// Mirrors include/linux/kernel.h:ALIGN() @ v4.4 for the power-of-two chunk sizes the heap uses.
unsigned long align_up(unsigned long x, unsigned long a) { return (x + a - 1) & ~(a - 1); }

// Mirrors ion_chunk_heap.c:ion_chunk_heap_allocate() @ v4.4: align beyond a chunk is -EINVAL; a request larger
// than what is left unallocated is -ENOMEM before anything is taken; then one gen_pool_alloc per chunk, and on a
// failed chunk every chunk taken so far goes back (-ENOMEM).
int ion_chunk_heap_allocate(struct ion_heap* heap, struct ion_buffer* buffer, unsigned long size,
                            unsigned long align, unsigned long /*flags*/) {
  struct ion_chunk_heap* chunk_heap = to_chunk_heap(heap);
  if (align > chunk_heap->chunk_size) return -EINVAL;

  const unsigned long allocated_size = align_up(size, chunk_heap->chunk_size);
  const unsigned long num_chunks = allocated_size / chunk_heap->chunk_size;
  if (allocated_size > chunk_heap->size - chunk_heap->allocated) return -ENOMEM;

  struct sg_table* table = kzalloc<struct sg_table>(GFP_KERNEL);
  if (!table) return -ENOMEM;
  const Errno ret = sg_alloc_table(table, static_cast<unsigned int>(num_chunks), GFP_KERNEL);
  if (!ret.ok()) {
    kfree(table);
    return ret.kernel_ret();
  }

  struct scatterlist* sg = table->sgl;
  long i;
  for (i = 0; i < static_cast<long>(num_chunks); i++) {
    const unsigned long paddr = gen_pool_alloc(chunk_heap->pool, chunk_heap->chunk_size);
    if (!paddr) goto err;
    sg_set_page(sg, pfn_to_page(heap->mem, PFN_DOWN(paddr)), static_cast<unsigned int>(chunk_heap->chunk_size), 0);
    sg = sg_next(sg);
  }

  buffer->priv_virt = table;
  chunk_heap->allocated += allocated_size;
  return 0;

err:
  sg = table->sgl;
  for (i -= 1; i >= 0; i--) {
    gen_pool_free(chunk_heap->pool, page_to_phys(sg_page(sg)), sg->length);
    sg = sg_next(sg);
  }
  sg_free_table(table);
  kfree(table);
  return -ENOMEM;
}

// Mirrors ion_chunk_heap.c:ion_chunk_heap_free() @ v4.4: zero, sync if cached, every chunk back to the pool.
void ion_chunk_heap_free(struct ion_buffer* buffer) {
  struct ion_heap* heap = buffer->heap;
  struct ion_chunk_heap* chunk_heap = to_chunk_heap(heap);
  struct sg_table* table = buffer->sg_table;
  const unsigned long allocated_size = align_up(buffer->size, chunk_heap->chunk_size);

  ion_heap_buffer_zero(buffer);
  if (ion_buffer_cached(buffer)) {
    dma_sync_sg_for_device(nullptr, table->sgl, static_cast<int>(table->nents), DMA_BIDIRECTIONAL);
  }
  struct scatterlist* sg;
  unsigned int i;
  for_each_sg(table->sgl, sg, table->nents, i) gen_pool_free(chunk_heap->pool, page_to_phys(sg_page(sg)), sg->length);
  chunk_heap->allocated -= allocated_size;
  sg_free_table(table);
  kfree(table);
}

// Mirrors ion_chunk_heap.c:ion_chunk_heap_map_dma() @ v4.4.
ErrnoOr<struct sg_table*> ion_chunk_heap_map_dma(struct ion_heap* /*heap*/, struct ion_buffer* buffer) {
  return static_cast<struct sg_table*>(buffer->priv_virt);
}

// Mirrors ion_chunk_heap.c:ion_chunk_heap_unmap_dma() @ v4.4.
void ion_chunk_heap_unmap_dma(struct ion_heap* /*heap*/, struct ion_buffer* /*buffer*/) {}

// Mirrors ion_chunk_heap.c:chunk_heap_ops @ v4.4 (no phys, no shrink).
const struct ion_heap_ops chunk_heap_ops = {
    .allocate = ion_chunk_heap_allocate,
    .free = ion_chunk_heap_free,
    .phys = nullptr,
    .map_dma = ion_chunk_heap_map_dma,
    .unmap_dma = ion_chunk_heap_unmap_dma,
    .map_kernel = ion_heap_map_kernel,
    .unmap_kernel = ion_heap_unmap_kernel,
    .map_user = ion_heap_map_user,
    .shrink = nullptr,
};

const struct ion_heap_type_ops chunk_type = {
    .type = ION_HEAP_TYPE_CHUNK,
    .name = "chunk",
    .create = ion_chunk_heap_create,
    .destroy = ion_chunk_heap_destroy,
};
const bool chunk_registered = ion_register_heap_type(&chunk_type);

}  // namespace

// Mirrors ion_chunk_heap.c:ion_chunk_heap_create() @ v4.4: the region is synced and zeroed, then handed to a
// genalloc pool whose granule is the chunk (order get_order(chunk) + PAGE_SHIFT).
ION_MODULE_INIT ErrnoOr<struct ion_heap*> ion_chunk_heap_create(const struct ion_platform_heap* heap_data) {
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

  struct ion_chunk_heap* chunk_heap = kzalloc<struct ion_chunk_heap>(GFP_KERNEL);
  if (!chunk_heap) return Errno(-ENOMEM);
  chunk_heap->chunk_size = reinterpret_cast<unsigned long>(heap_data->priv);
  chunk_heap->pool = gen_pool_create(get_order(chunk_heap->chunk_size) + static_cast<int>(PAGE_SHIFT), -1);
  if (!chunk_heap->pool) {
    kfree(chunk_heap);
    return Errno(-ENOMEM);
  }
  chunk_heap->base = heap_data->base;
  chunk_heap->size = heap_data->size;
  chunk_heap->allocated = 0;
  gen_pool_add(chunk_heap->pool, chunk_heap->base, heap_data->size, -1).IgnoreError();
  chunk_heap->heap.ops = &chunk_heap_ops;
  chunk_heap->heap.type = ION_HEAP_TYPE_CHUNK;
  chunk_heap->heap.flags = ION_HEAP_FLAG_DEFER_FREE;
  chunk_heap->heap.mem = heap_data->mem;
  pr_debug("%s: base %lu size %zu align %lu\n", __func__, chunk_heap->base, heap_data->size, heap_data->align);
  return &chunk_heap->heap;
}

// Mirrors ion_chunk_heap.c:ion_chunk_heap_destroy() @ v4.4.
ION_MODULE_EXIT void ion_chunk_heap_destroy(struct ion_heap* heap) {
  struct ion_chunk_heap* chunk_heap = to_chunk_heap(heap);
  // Divergence: as for the carveout, a pool based at physical 0 keeps the chunk genalloc handed out as address 0
  // (taken for failure); it goes back before gen_pool_destroy(), which would BUG on it.
  if (chunk_heap->base == 0 && gen_pool_avail(chunk_heap->pool) + chunk_heap->chunk_size == gen_pool_size(chunk_heap->pool)) {
    pr_warn("%s: %s: returning chunk 0, lost to the address-0 quirk\n", __func__, heap->name);
    gen_pool_free(chunk_heap->pool, 0, chunk_heap->chunk_size);
  }
  gen_pool_destroy(chunk_heap->pool);
  kfree(chunk_heap);
}

struct gen_pool* ion_chunk_heap_pool(struct ion_heap* heap) { return to_chunk_heap(heap)->pool; }
phys_addr_t ion_chunk_heap_base(struct ion_heap* heap) { return to_chunk_heap(heap)->base; }
unsigned long ion_chunk_heap_chunk_size(struct ion_heap* heap) { return to_chunk_heap(heap)->chunk_size; }
unsigned long ion_chunk_heap_allocated(struct ion_heap* heap) { return to_chunk_heap(heap)->allocated; }

}  // namespace ionsim::kernel
