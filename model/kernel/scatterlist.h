// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Scatter-gather lists as include/linux/scatterlist.h and lib/scatterlist.c @ v4.4 (CONFIG_ARCH_HAS_SG_CHAIN,
// CONFIG_NEED_SG_DMA_LENGTH, no CONFIG_DEBUG_SG). What callers must know, all as upstream:
//   - page_link holds the page pointer with two flag bits: 0x01 marks a chain entry (it points at the next
//     chunk of the table, not at a page), 0x02 marks the last entry;
//   - sg_alloc_table() allocates chunks of SG_MAX_SINGLE_ALLOC entries; when more are needed, the last entry of
//     each full chunk becomes a chain link, so only sg_next()/for_each_sg() walk a big table correctly and
//     table->sgl[i] is not entry i beyond the first chunk;
//   - sg_alloc_table(nents == 0) is -EINVAL; a failed chunk allocation frees what was allocated and is -ENOMEM.
#ifndef MODEL_KERNEL_SCATTERLIST_H_
#define MODEL_KERNEL_SCATTERLIST_H_

#include "model/kernel/bug.h"
#include "model/kernel/err.h"
#include "model/kernel/gfp.h"
#include "model/kernel/mm.h"

namespace ionsim::kernel {

using dma_addr_t = unsigned long;

// Mirrors include/linux/scatterlist.h:struct scatterlist @ v4.4.
struct scatterlist {
  unsigned long page_link;
  unsigned int offset;
  unsigned int length;
  dma_addr_t dma_address;
  unsigned int dma_length;
};

// Mirrors include/linux/scatterlist.h:struct sg_table @ v4.4.
struct sg_table {
  struct scatterlist* sgl;  // the list
  unsigned int nents;       // number of mapped entries
  unsigned int orig_nents;  // original size of the list
};

// Mirrors include/linux/scatterlist.h:SG_MAX_SINGLE_ALLOC @ v4.4: entries per page-sized chunk.
inline constexpr unsigned int SG_MAX_SINGLE_ALLOC = PAGE_SIZE / sizeof(struct scatterlist);

inline constexpr unsigned long SG_CHAIN = 0x01UL;
inline constexpr unsigned long SG_END = 0x02UL;

// Mirrors include/linux/scatterlist.h:sg_is_chain() @ v4.4.
inline bool sg_is_chain(const struct scatterlist* sg) { return (sg->page_link & SG_CHAIN) != 0; }
// Mirrors include/linux/scatterlist.h:sg_is_last() @ v4.4.
inline bool sg_is_last(const struct scatterlist* sg) { return (sg->page_link & SG_END) != 0; }
// Mirrors include/linux/scatterlist.h:sg_chain_ptr() @ v4.4.
inline struct scatterlist* sg_chain_ptr(const struct scatterlist* sg) {
  return reinterpret_cast<struct scatterlist*>(sg->page_link & ~(SG_CHAIN | SG_END));
}

// Mirrors include/linux/scatterlist.h:sg_assign_page() @ v4.4: keeps the entry's chain/end bits.
inline void sg_assign_page(struct scatterlist* sg, struct page* page) {
  const unsigned long page_link = sg->page_link & (SG_CHAIN | SG_END);
  BUG_ON(reinterpret_cast<unsigned long>(page) & (SG_CHAIN | SG_END));
  sg->page_link = page_link | reinterpret_cast<unsigned long>(page);
}

// Mirrors include/linux/scatterlist.h:sg_set_page() @ v4.4.
inline void sg_set_page(struct scatterlist* sg, struct page* page, unsigned int len, unsigned int offset) {
  sg_assign_page(sg, page);
  sg->offset = offset;
  sg->length = len;
}

// Mirrors include/linux/scatterlist.h:sg_page() @ v4.4.
inline struct page* sg_page(const struct scatterlist* sg) {
  return reinterpret_cast<struct page*>(sg->page_link & ~(SG_CHAIN | SG_END));
}

// Mirrors include/linux/scatterlist.h:sg_chain() @ v4.4: turns prv[prv_nents - 1] into a link to sgl.
inline void sg_chain(struct scatterlist* prv, unsigned int prv_nents, struct scatterlist* sgl) {
  prv[prv_nents - 1].offset = 0;
  prv[prv_nents - 1].length = 0;
  prv[prv_nents - 1].page_link = (reinterpret_cast<unsigned long>(sgl) | SG_CHAIN) & ~SG_END;
}

// Mirrors include/linux/scatterlist.h:sg_mark_end() @ v4.4.
inline void sg_mark_end(struct scatterlist* sg) {
  sg->page_link |= SG_END;
  sg->page_link &= ~SG_CHAIN;
}

// Mirrors include/linux/scatterlist.h:sg_unmark_end() @ v4.4.
inline void sg_unmark_end(struct scatterlist* sg) { sg->page_link &= ~SG_END; }

// Mirrors include/linux/scatterlist.h:sg_phys() @ v4.4.
inline phys_addr_t sg_phys(const struct scatterlist* sg) { return page_to_phys(sg_page(sg)) + sg->offset; }

// Mirrors include/linux/scatterlist.h:sg_dma_address() @ v4.4 (an lvalue, as the macro is).
inline dma_addr_t& sg_dma_address(struct scatterlist* sg) { return sg->dma_address; }
// Mirrors include/linux/scatterlist.h:sg_dma_len() @ v4.4 (CONFIG_NEED_SG_DMA_LENGTH: dma_length).
inline unsigned int& sg_dma_len(struct scatterlist* sg) { return sg->dma_length; }

// Mirrors lib/scatterlist.c:sg_next() @ v4.4: the next entry, following chain links; NULL after the last.
struct scatterlist* sg_next(struct scatterlist* sg);
// Mirrors lib/scatterlist.c:sg_nents() @ v4.4: entries up to and including the one marked last.
int sg_nents(struct scatterlist* sg);
// Mirrors lib/scatterlist.c:sg_init_table() @ v4.4: zeroes nents entries and marks the last one.
void sg_init_table(struct scatterlist* sgl, unsigned int nents);
// Mirrors lib/scatterlist.c:sg_alloc_table() @ v4.4.
Errno sg_alloc_table(struct sg_table* table, unsigned int nents, gfp_t gfp_mask);
// Mirrors lib/scatterlist.c:sg_free_table() @ v4.4.
void sg_free_table(struct sg_table* table);

// Mirrors include/linux/scatterlist.h:struct sg_page_iter @ v4.4.
struct sg_page_iter {
  struct scatterlist* sg;    // the entry holding the page
  unsigned int sg_pgoffset;  // page index within that entry
  unsigned int __nents;      // entries left (internal)
  int __pg_advance;          // pages to advance at the next step (internal)
};

// Mirrors lib/scatterlist.c:__sg_page_iter_start() @ v4.4.
void __sg_page_iter_start(struct sg_page_iter* piter, struct scatterlist* sglist, unsigned int nents,
                          unsigned long pgoffset);
// Mirrors lib/scatterlist.c:__sg_page_iter_next() @ v4.4.
bool __sg_page_iter_next(struct sg_page_iter* piter);
// Mirrors include/linux/scatterlist.h:sg_page_iter_page() @ v4.4.
inline struct page* sg_page_iter_page(struct sg_page_iter* piter) {
  return nth_page(sg_page(piter->sg), piter->sg_pgoffset);
}

}  // namespace ionsim::kernel

// Mirrors include/linux/scatterlist.h:for_each_sg() @ v4.4.
#define for_each_sg(sglist, sg, nr, __i) \
  for (__i = 0, sg = (sglist); __i < (nr); __i++, sg = ::ionsim::kernel::sg_next(sg))

// Mirrors include/linux/scatterlist.h:for_each_sg_page() @ v4.4.
#define for_each_sg_page(sglist, piter, nents, pgoffset)                             \
  for (::ionsim::kernel::__sg_page_iter_start((piter), (sglist), (nents), (pgoffset)); \
       ::ionsim::kernel::__sg_page_iter_next(piter);)

#endif  // MODEL_KERNEL_SCATTERLIST_H_
