// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "model/kernel/cma.h"

#include "model/kernel/bitmap.h"
#include "model/kernel/bug.h"
#include "model/kernel/printk.h"
#include "model/kernel/slab.h"

namespace ionsim::kernel {
namespace {

// Mirrors mm/cma.c:cma_bitmap_aligned_mask() @ v4.4.
unsigned long cma_bitmap_aligned_mask(const struct cma* cma, unsigned int align_order) {
  if (align_order <= cma->order_per_bit) return 0;
  return (1UL << (align_order - cma->order_per_bit)) - 1;
}

// Mirrors mm/cma.c:cma_bitmap_aligned_offset() @ v4.4: aligns to the physical pfn, not to the area's start.
unsigned long cma_bitmap_aligned_offset(const struct cma* cma, unsigned int align_order) {
  if (align_order <= cma->order_per_bit) return 0;
  const unsigned long align = 1UL << align_order;
  return (((cma->base_pfn + align - 1) & ~(align - 1)) - cma->base_pfn) >> cma->order_per_bit;
}

// Mirrors mm/cma.c:cma_bitmap_maxno() @ v4.4.
unsigned long cma_bitmap_maxno(const struct cma* cma) { return cma->count >> cma->order_per_bit; }

// Mirrors mm/cma.c:cma_bitmap_pages_to_bits() @ v4.4.
unsigned long cma_bitmap_pages_to_bits(const struct cma* cma, unsigned long pages) {
  const unsigned long unit = 1UL << cma->order_per_bit;
  return ((pages + unit - 1) & ~(unit - 1)) >> cma->order_per_bit;
}

// Mirrors mm/cma.c:cma_clear_bitmap() @ v4.4.
void cma_clear_bitmap(struct cma* cma, unsigned long pfn, unsigned int count) {
  const unsigned long bitmap_no = (pfn - cma->base_pfn) >> cma->order_per_bit;
  const unsigned long bitmap_count = cma_bitmap_pages_to_bits(cma, count);
  mutex_lock(&cma->lock);
  bitmap_clear(cma->bitmap, static_cast<unsigned int>(bitmap_no), static_cast<int>(bitmap_count));
  mutex_unlock(&cma->lock);
}

}  // namespace

// Mirrors mm/cma.c:cma_init_reserved_mem() @ v4.4 (and cma_activate_area() for the bitmap).
ErrnoOr<struct cma*> cma_init_reserved_mem(struct phys_mem* mem, phys_addr_t base, phys_addr_t size,
                                           unsigned int order_per_bit) {
  if (!size) return Errno(-EINVAL);
  for (phys_addr_t p = base; p < base + size; p += PAGE_SIZE) {
    struct page* page = pfn_to_page(mem, PFN_DOWN(p));
    if (!page || !PageReserved(page)) return Errno(-EINVAL);
  }
  // Minimal alignment required by the mm core: a MAX_ORDER - 1 block (pageblock_order is not larger).
  const phys_addr_t alignment = PAGE_SIZE << (MAX_ORDER - 1);
  if (((alignment >> PAGE_SHIFT) & ((1UL << order_per_bit) - 1)) != 0) return Errno(-EINVAL);
  if ((base & (alignment - 1)) != 0 || (size & (alignment - 1)) != 0) return Errno(-EINVAL);

  struct cma* cma = kzalloc<struct cma>(GFP_KERNEL);
  if (!cma) return Errno(-ENOMEM);
  cma->base_pfn = PFN_DOWN(base);
  cma->count = size >> PAGE_SHIFT;
  cma->order_per_bit = order_per_bit;
  cma->mem = mem;
  mutex_init(&cma->lock);
  unsigned long* bitmap = kcalloc<unsigned long>(BITS_TO_LONGS(cma_bitmap_maxno(cma)), GFP_KERNEL);
  if (!bitmap) {
    kfree(cma);
    return Errno(-ENOMEM);
  }
  mutex_lock(&cma->lock);
  cma->bitmap = bitmap;
  mutex_unlock(&cma->lock);
  return cma;
}

unsigned long cma_destroy(struct cma* cma) {
  const unsigned long used = cma_used_pages(cma);
  mutex_lock(&cma->lock);
  kfree_array(cma->bitmap);
  cma->bitmap = nullptr;
  mutex_unlock(&cma->lock);
  kfree(cma);
  return used;
}

// Mirrors mm/cma.c:cma_get_base() @ v4.4.
phys_addr_t cma_get_base(const struct cma* cma) { return PFN_PHYS(cma->base_pfn); }

// Mirrors mm/cma.c:cma_get_size() @ v4.4.
unsigned long cma_get_size(const struct cma* cma) { return cma->count << PAGE_SHIFT; }

// Mirrors mm/cma.c:cma_alloc() @ v4.4.
struct page* cma_alloc(struct cma* cma, size_t count, unsigned int align) {
  if (!cma || !cma->count) return nullptr;
  pr_debug("%s(cma %p, count %zu, align %u)\n", __func__, static_cast<void*>(cma), count, align);
  if (!count) return nullptr;

  const unsigned long mask = cma_bitmap_aligned_mask(cma, align);
  const unsigned long offset = cma_bitmap_aligned_offset(cma, align);
  const unsigned long bitmap_maxno = cma_bitmap_maxno(cma);
  const unsigned long bitmap_count = cma_bitmap_pages_to_bits(cma, count);

  mutex_lock(&cma->lock);
  const unsigned long bitmap_no =
      bitmap_find_next_zero_area_off(cma->bitmap, bitmap_maxno, 0, static_cast<unsigned int>(bitmap_count), mask, offset);
  if (bitmap_no >= bitmap_maxno) {
    mutex_unlock(&cma->lock);
    pr_debug("%s(): returned %p\n", __func__, static_cast<void*>(nullptr));
    return nullptr;
  }
  bitmap_set(cma->bitmap, static_cast<unsigned int>(bitmap_no), static_cast<int>(bitmap_count));
  mutex_unlock(&cma->lock);
  // alloc_contig_range() always succeeds here: the area's pages are never lent out (see the header).
  const unsigned long pfn = cma->base_pfn + (bitmap_no << cma->order_per_bit);
  struct page* page = pfn_to_page(cma->mem, pfn);
  pr_debug("%s(): returned %p\n", __func__, static_cast<void*>(page));
  return page;
}

// Mirrors mm/cma.c:cma_release() @ v4.4.
bool cma_release(struct cma* cma, const struct page* pages, unsigned int count) {
  if (!cma || !pages) return false;
  pr_debug("%s(page %p)\n", __func__, static_cast<const void*>(pages));
  const unsigned long pfn = page_to_pfn(pages);
  if (pfn < cma->base_pfn || pfn >= cma->base_pfn + cma->count) return false;
  BUG_ON(pfn + count > cma->base_pfn + cma->count);
  cma_clear_bitmap(cma, pfn, count);
  return true;
}

unsigned long cma_used_pages(struct cma* cma) {
  mutex_lock(&cma->lock);
  const unsigned long bits = bitmap_weight(cma->bitmap, cma_bitmap_maxno(cma));
  mutex_unlock(&cma->lock);
  return bits << cma->order_per_bit;
}

}  // namespace ionsim::kernel
