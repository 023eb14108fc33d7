// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "model/kernel/scatterlist.h"

#include <cstring>

#include "model/kernel/slab.h"

namespace ionsim::kernel {
namespace {

// Mirrors lib/scatterlist.c:sg_kmalloc() @ v4.4.
// Divergence: a full chunk comes from __get_free_page() upstream; here every chunk is a kcalloc, so sg chunks
// are model objects (leak-checked, failslab-injectable) rather than pages of the simulated RAM.
struct scatterlist* sg_kmalloc(unsigned int nents, gfp_t gfp_mask) {
  return kcalloc<struct scatterlist>(nents, gfp_mask);
}

// Mirrors lib/scatterlist.c:sg_kfree() @ v4.4.
void sg_kfree(struct scatterlist* sg, unsigned int /*nents*/) { kfree_array(sg); }

// Mirrors lib/scatterlist.c:__sg_free_table() @ v4.4.
void __sg_free_table(struct sg_table* table, unsigned int max_ents) {
  if (table->sgl == nullptr) return;
  struct scatterlist* sgl = table->sgl;
  while (table->orig_nents) {
    unsigned int alloc_size = table->orig_nents;
    unsigned int sg_size;
    struct scatterlist* next;
    // More than max_ents left: this chunk is full and its last entry links to the next one.
    if (alloc_size > max_ents) {
      next = sg_chain_ptr(&sgl[max_ents - 1]);
      alloc_size = max_ents;
      sg_size = alloc_size - 1;
    } else {
      sg_size = alloc_size;
      next = nullptr;
    }
    table->orig_nents -= sg_size;
    sg_kfree(sgl, alloc_size);
    sgl = next;
  }
  table->sgl = nullptr;
}

// Mirrors lib/scatterlist.c:__sg_alloc_table() @ v4.4 (no first_chunk, sg_kmalloc as the allocator).
Errno __sg_alloc_table(struct sg_table* table, unsigned int nents, unsigned int max_ents, gfp_t gfp_mask) {
  std::memset(table, 0, sizeof(*table));
  if (nents == 0) return Errno(-EINVAL);

  unsigned int left = nents;
  struct scatterlist* prv = nullptr;
  do {
    unsigned int sg_size;
    unsigned int alloc_size = left;
    if (alloc_size > max_ents) {
      alloc_size = max_ents;
      sg_size = alloc_size - 1;
    } else {
      sg_size = alloc_size;
    }
    left -= sg_size;

    struct scatterlist* sg = sg_kmalloc(alloc_size, gfp_mask);
    if (sg == nullptr) {
      // The previous chunk's last entry is a chain link to nothing: count it as an entry so that
      // __sg_free_table() frees that chunk with its full size.
      if (prv != nullptr) table->nents = ++table->orig_nents;
      return Errno(-ENOMEM);
    }
    sg_init_table(sg, alloc_size);
    table->nents = table->orig_nents += sg_size;

    if (prv != nullptr) {
      sg_chain(prv, max_ents, sg);
    } else {
      table->sgl = sg;
    }
    if (left == 0) sg_mark_end(&sg[sg_size - 1]);
    prv = sg;
  } while (left);
  return Errno::Ok();
}

// Mirrors lib/scatterlist.c:sg_page_count() @ v4.4.
unsigned int sg_page_count(const struct scatterlist* sg) { return PAGE_ALIGN(sg->offset + sg->length) >> PAGE_SHIFT; }

}  // namespace

struct scatterlist* sg_next(struct scatterlist* sg) {
  if (sg_is_last(sg)) return nullptr;
  sg++;
  if (sg_is_chain(sg)) sg = sg_chain_ptr(sg);
  return sg;
}

int sg_nents(struct scatterlist* sg) {
  int nents = 0;
  for (; sg != nullptr; sg = sg_next(sg)) nents++;
  return nents;
}

void sg_init_table(struct scatterlist* sgl, unsigned int nents) {
  // Divergence: v4.4 writes sgl[-1] for nents == 0; the model stops instead.
  BUG_ON(nents == 0);
  std::memset(sgl, 0, sizeof(*sgl) * nents);
  sg_mark_end(&sgl[nents - 1]);
}

Errno sg_alloc_table(struct sg_table* table, unsigned int nents, gfp_t gfp_mask) {
  const Errno ret = __sg_alloc_table(table, nents, SG_MAX_SINGLE_ALLOC, gfp_mask);
  if (!ret.ok()) __sg_free_table(table, SG_MAX_SINGLE_ALLOC);
  return ret;
}

void sg_free_table(struct sg_table* table) { __sg_free_table(table, SG_MAX_SINGLE_ALLOC); }

void __sg_page_iter_start(struct sg_page_iter* piter, struct scatterlist* sglist, unsigned int nents,
                          unsigned long pgoffset) {
  piter->__pg_advance = 0;
  piter->__nents = nents;
  piter->sg = sglist;
  piter->sg_pgoffset = static_cast<unsigned int>(pgoffset);
}

bool __sg_page_iter_next(struct sg_page_iter* piter) {
  if (!piter->__nents || piter->sg == nullptr) return false;
  piter->sg_pgoffset += piter->__pg_advance;
  piter->__pg_advance = 1;
  while (piter->sg_pgoffset >= sg_page_count(piter->sg)) {
    piter->sg_pgoffset -= sg_page_count(piter->sg);
    piter->sg = sg_next(piter->sg);
    if (!--piter->__nents || piter->sg == nullptr) return false;
  }
  return true;
}

}  // namespace ionsim::kernel
