// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Looking at the whole ION state at once: the canonical dump that the model and the kernel module render
// identically (DESIGN.md section 3), and the invariant checker the policy tests run after every operation.
// Both take every ION lock they walk under; call them while no other thread is inside ION.
//
// Canonical dump, format "ionsim-state 1" (one record per line, no pointers, no pids):
//   heap <id> <name> type=<type name> defer=<0|1> free_list_bytes=<n> free_list=<b..,b..|->
//                                            ('+' instead of ',' joins the neighbours one client destroy freed:
//                                            their order follows buffer addresses, compared as a set)
//     pool order=<o> high=<n> low=<n>        system heap only: its page pools, orders 8, 4, 0 (counts of
//                                            order-o blocks, as debug_show prints them)
//     chunk allocated=<bytes>                chunk heap only: its allocated counter
//     dma alloc=<coherent|wc>                dma heap only: the board's alloc= (docs/boards.md)
//   buffer b<serial> heap=<name> size=<bytes> offset=<offsets|-> flags=0x<hex>
//       ref=<n> handles=<handle_count> kmap=<kmap_cnt>[ map=<coherent|wc>]
// Hex numbers are always written 0x%x (never %#x, which prints "0" for zero in C libraries and "0x0" in the
// kernel). offset= lists, for carveout, chunk and dma heaps, the offset of each sg entry from the heap's base in hex,
// comma-separated in sg order (a carveout or dma buffer has one entry); "-" for the system heaps. map= appears
// on dma-heap buffers only: the allocation call (coherent: dma_alloc_coherent, v4.4's; wc: dma_alloc_writecombine,
// an uncached buffer on a board with alloc=wc).
//   client c<serial> handles=<n>
//     handle <id> b<serial> ref=<n> kmap=<kmap_cnt>
// Heaps in plist order (the order ALLOC tries them); buffers alive in the device tree by creation serial;
// free lists from head to tail; clients by creation order; handles by id. b<serial> and c<serial> count from
// 1 since the device was created.
#ifndef MODEL_ION_STATE_H_
#define MODEL_ION_STATE_H_

#include <string>

#include "model/ion_priv.h"

namespace ionsim::kernel {

std::string ion_canonical_dump(struct ion_device* dev);

// Returns "" when every invariant holds, otherwise one line per violation:
//   - each client's idr and handle rb-tree hold the same handles; the rb-tree is ordered by buffer address with
//     at most one handle per buffer; every handle's client is its client and its ref is >= 1;
//   - every buffer's handle_count equals the handles that point at it; its ref equals those handles plus the
//     ION dma-bufs whose priv is the buffer; kmap_cnt and handle_count are not negative; a buffer with
//     kmap_cnt 0 has no vaddr;
//   - every buffer on a free list has left the device tree, and free_list_size is the sum of their sizes;
//   - the "total" line of heaps/<name> equals the sum of the live buffers of every heap with that heap's id
//     (v4.4 totals by heap->id, and heaps may share an id): with
//     ION_CHECK_DEBUGFS_TEXT the file is rendered and its line parsed; with ION_CHECK_DEBUGFS_SUM the number is
//     the sum ion_debug_heap_show() prints there (its walk of dev->buffers by heap id) without formatting the
//     text, which is what a check after every operation can afford;
//   - a carveout's genalloc pool has exactly size - (granule-rounded live and free-listed buffers) available,
//     and each of its chunks' avail matches its bitmap (gen_pool_check), as does the chunk heap's pool;
//   - each system-heap pool holds only blocks of its order, in the list of their zone, none free in the buddy
//     allocator, and its counts equal its list lengths;
//   - a chunk heap's allocated counter equals the chunk-rounded sizes of its live and free-listed buffers, and
//     its genalloc pool has exactly the rest available;
//   - a dma heap's CMA area has exactly its buffers' pages in use.
// The address-0 quirk (a carveout or chunk heap based at physical 0 loses its first granule) is tolerated.
enum ion_check_debugfs {
  ION_CHECK_DEBUGFS_TEXT,
  ION_CHECK_DEBUGFS_SUM,
};
// How the checker reads ION's state. ION_CHECK_LOCKED takes every lock a reader of that state takes (dev->lock,
// buffer_lock, each client's and buffer's lock, each heap's free list lock and pool mutexes), so it may run
// while other threads operate. ION_CHECK_QUIESCENT takes none of them: for a caller that runs it only while no
// operation is in progress, as the fuzz machine does between the operations of its one thread, where the locks
// would be uncontended and only cost. The allocators' own locks (the dma-buf list, CMA, genalloc) are taken
// either way.
enum ion_check_locking {
  ION_CHECK_LOCKED,
  ION_CHECK_QUIESCENT,
};
// Violations are reported in creation order (buffers, then clients, by serial) unless in_creation_order is
// false, when they come in tree order: cheaper for a caller that runs the checker after every operation and
// filters what it reports.
std::string ion_check_invariants(struct ion_device* dev, enum ion_check_debugfs debugfs = ION_CHECK_DEBUGFS_TEXT,
                                 bool in_creation_order = true, enum ion_check_locking locking = ION_CHECK_LOCKED);

}  // namespace ionsim::kernel

#endif  // MODEL_ION_STATE_H_
