// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The system-contig heap: one physically contiguous, zeroed block from the page allocator per buffer.
// Mirrors the ion_system_contig_heap part of drivers/staging/android/ion/ion_system_heap.c @ v4.4.
#include "model/ion_priv.h"
#include "model/kernel/bug.h"
#include "model/kernel/slab.h"

namespace ionsim::kernel {
namespace {

// Mirrors ion_system_heap.c:low_order_gfp_flags @ v4.4.
constexpr gfp_t low_order_gfp_flags = GFP_HIGHUSER | __GFP_ZERO | __GFP_NOWARN;

// Mirrors ion_system_heap.c:ion_system_contig_heap_allocate() @ v4.4: a block of get_order(len), split, the
// pages beyond PAGE_ALIGN(len) freed again.
int ion_system_contig_heap_allocate(struct ion_heap* heap, struct ion_buffer* buffer, unsigned long len,
                                    unsigned long align, unsigned long /*flags*/) {
  const int order = get_order(len);
  // PAGE_SIZE << order wraps to 0 for get_order(0) == 52, as the unsigned long shift does upstream.
  if (align > (PAGE_SIZE << order)) return -EINVAL;

  struct page* page = alloc_pages(heap->mem, low_order_gfp_flags, static_cast<unsigned int>(order));
  if (!page) return -ENOMEM;

  split_page(page, static_cast<unsigned int>(order));

  len = PAGE_ALIGN(len);
  for (unsigned long i = len >> PAGE_SHIFT; i < (1UL << order); i++) __free_page(nth_page(page, i));

  int ret = 0;
  struct sg_table* table = kzalloc<struct sg_table>(GFP_KERNEL);
  if (!table) {
    ret = -ENOMEM;
    goto free_pages;
  }
  ret = sg_alloc_table(table, 1, GFP_KERNEL).kernel_ret();
  if (ret) goto free_table;

  sg_set_page(table->sgl, page, static_cast<unsigned int>(len), 0);
  buffer->priv_virt = table;
  ion_pages_sync_for_device(nullptr, page, len, DMA_BIDIRECTIONAL);
  return 0;

free_table:
  kfree(table);
free_pages:
  for (unsigned long i = 0; i < len >> PAGE_SHIFT; i++) __free_page(nth_page(page, i));
  return ret;
}

// Mirrors ion_system_heap.c:ion_system_contig_heap_free() @ v4.4: no zeroing (the block was zeroed at
// allocation), no pool.
void ion_system_contig_heap_free(struct ion_buffer* buffer) {
  struct sg_table* table = static_cast<struct sg_table*>(buffer->priv_virt);
  struct page* page = sg_page(table->sgl);
  const unsigned long pages = PAGE_ALIGN(buffer->size) >> PAGE_SHIFT;
  for (unsigned long i = 0; i < pages; i++) __free_page(nth_page(page, i));
  sg_free_table(table);
  kfree(table);
}

// Mirrors ion_system_heap.c:ion_system_contig_heap_phys() @ v4.4.
int ion_system_contig_heap_phys(struct ion_heap* /*heap*/, struct ion_buffer* buffer, phys_addr_t* addr,
                                size_t* len) {
  struct sg_table* table = static_cast<struct sg_table*>(buffer->priv_virt);
  *addr = page_to_phys(sg_page(table->sgl));
  *len = buffer->size;
  return 0;
}

// Mirrors ion_system_heap.c:ion_system_contig_heap_map_dma() @ v4.4.
ErrnoOr<struct sg_table*> ion_system_contig_heap_map_dma(struct ion_heap* /*heap*/, struct ion_buffer* buffer) {
  return static_cast<struct sg_table*>(buffer->priv_virt);
}

// Mirrors ion_system_heap.c:ion_system_contig_heap_unmap_dma() @ v4.4.
void ion_system_contig_heap_unmap_dma(struct ion_heap* /*heap*/, struct ion_buffer* /*buffer*/) {}

// Mirrors ion_system_heap.c:kmalloc_ops @ v4.4.
const struct ion_heap_ops kmalloc_ops = {
    .allocate = ion_system_contig_heap_allocate,
    .free = ion_system_contig_heap_free,
    .phys = ion_system_contig_heap_phys,
    .map_dma = ion_system_contig_heap_map_dma,
    .unmap_dma = ion_system_contig_heap_unmap_dma,
    .map_kernel = ion_heap_map_kernel,
    .unmap_kernel = ion_heap_unmap_kernel,
    .map_user = ion_heap_map_user,
    .shrink = nullptr,
};

const struct ion_heap_type_ops system_contig_type = {
    .type = ION_HEAP_TYPE_SYSTEM_CONTIG,
    .name = "system_contig",
    .create = ion_system_contig_heap_create,
    .destroy = ion_system_contig_heap_destroy,
};
const bool system_contig_registered = ion_register_heap_type(&system_contig_type);

}  // namespace

// Mirrors ion_system_heap.c:ion_system_contig_heap_create() @ v4.4.
ErrnoOr<struct ion_heap*> ion_system_contig_heap_create(const struct ion_platform_heap* heap_data) {
  struct ion_heap* heap = kzalloc<struct ion_heap>(GFP_KERNEL);
  if (!heap) return Errno(-ENOMEM);
  heap->ops = &kmalloc_ops;
  heap->type = ION_HEAP_TYPE_SYSTEM_CONTIG;
  heap->mem = heap_data->mem;
  return heap;
}

// Mirrors ion_system_heap.c:ion_system_contig_heap_destroy() @ v4.4.
void ion_system_contig_heap_destroy(struct ion_heap* heap) { kfree(heap); }

}  // namespace ionsim::kernel
