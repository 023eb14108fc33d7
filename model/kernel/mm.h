// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The simulated machine's physical memory: RAM split into lowmem (ZONE_NORMAL) and highmem (ZONE_HIGHMEM) as on
// the 32-bit ARM boards ION ran on, a struct page for every page frame, and the v4.4 buddy allocator over it.
// A machine is an explicit object (struct phys_mem); tests may create several side by side.
//
// Page frames and bytes:
//   - every pfn of RAM and of every reserved range has a struct page; reserved ranges may lie outside RAM (a
//     carveout at physical 0 on a board whose RAM starts at 0x80000000). Reserved pages are PG_reserved with
//     _count 1, as memblock-reserved pages are, and never enter the buddy allocator. pfns in between are holes:
//     pfn_to_page() gives NULL for them.
//   - mem_map is an anonymous mapping, so struct pages that are never touched cost no memory; a zeroed struct
//     page is a valid "not in use" page. A page's 4096 bytes are allocated on first write; an untouched page
//     reads as zeros. Zeroing a page (clear_page, __GFP_ZERO) drops its bytes.
//   - freeing a page keeps its bytes, so an allocation without __GFP_ZERO sees what the previous owner wrote,
//     exactly the information leak a real kernel has.
//
// The allocator, as mm/page_alloc.c @ v4.4:
//   - orders 0..MAX_ORDER-1; allocation takes the first block on the free list of the smallest order that has
//     one, and expand() puts the upper halves back, so the lowest-addressed part is handed out;
//   - freeing merges with the buddy (pfn ^ (1 << order)) while it is free, of the same order and in the same
//     zone; a block whose parent's buddy is free goes to the tail of its list, any other to the head;
//   - __GFP_HIGHMEM walks the zonelist HighMem then Normal; without it only Normal is used;
//   - __GFP_ZERO zeroes, __GFP_COMP makes a compound page (PG_head, tails pointing at the head);
//   - order >= MAX_ORDER fails with WARN_ON_ONCE unless __GFP_NOWARN; other failures report "page allocation
//     failure" (BugKind::kPageAllocFailure, not a WARN) unless __GFP_NOWARN;
//   - with __GFP_DIRECT_RECLAIM a failed attempt runs the registered shrinkers and retries: once with
//     __GFP_NORETRY or above PAGE_ALLOC_COSTLY_ORDER, otherwise while the shrinkers make progress;
//   - freeing a page that is free, reserved, part of another allocation or freed with the wrong order is
//     reported as a bad page (BugKind::kBadPage) and nothing is freed.
//
// Divergences, each repeated where it happens:
//   - one migrate type, no per-cpu page lists, no watermarks, no fair-zone batches, no compaction, no kswapd,
//     no OOM killer: allocation order is the plain buddy order of the zonelist, and a zone can be drained to its
//     last page;
//   - buddy pages are marked with a PG_buddy flag bit instead of v4.4's _mapcount value, and the zone of a page
//     is computed from its pfn instead of being stored in page->flags, so an all-zero struct page is valid;
//   - reclaim progress is what the shrinkers report freed (there is no LRU to reclaim from);
//   - a bad free leaves the page exactly as it was (v4.4 has already dropped _count when it notices).
//
// Locking: each zone's free lists are under zone->lock (a spinlock, as upstream); the shrinker list is under
// mem->shrinker_rwsem. _count and page flags are atomic. A page's bytes are not locked, as RAM is not: callers
// order their accesses to one page as kernel code must.
#ifndef MODEL_KERNEL_MM_H_
#define MODEL_KERNEL_MM_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "model/kernel/err.h"
#include "model/kernel/gfp.h"
#include "model/kernel/list.h"
#include "model/kernel/lock.h"

namespace ionsim::kernel {

using phys_addr_t = unsigned long;

// Mirrors arch/arm/include/asm/page.h:PAGE_SHIFT @ v4.4 (4 KiB pages).
inline constexpr unsigned int PAGE_SHIFT = 12;
inline constexpr unsigned long PAGE_SIZE = 1UL << PAGE_SHIFT;
inline constexpr unsigned long PAGE_MASK = ~(PAGE_SIZE - 1);
// Mirrors include/linux/mmzone.h:MAX_ORDER @ v4.4 (CONFIG_FORCE_MAX_ZONEORDER unset): orders 0..10.
inline constexpr unsigned int MAX_ORDER = 11;
inline constexpr unsigned long MAX_ORDER_NR_PAGES = 1UL << (MAX_ORDER - 1);
// Mirrors include/linux/mmzone.h:PAGE_ALLOC_COSTLY_ORDER @ v4.4.
inline constexpr unsigned int PAGE_ALLOC_COSTLY_ORDER = 3;

// Mirrors include/linux/mm.h:PAGE_ALIGN() @ v4.4.
inline constexpr unsigned long PAGE_ALIGN(unsigned long addr) { return (addr + PAGE_SIZE - 1) & PAGE_MASK; }
// Mirrors include/linux/pfn.h:PFN_DOWN() @ v4.4.
inline constexpr unsigned long PFN_DOWN(phys_addr_t x) { return x >> PAGE_SHIFT; }
// Mirrors include/linux/pfn.h:PFN_UP() @ v4.4.
inline constexpr unsigned long PFN_UP(phys_addr_t x) { return (x + PAGE_SIZE - 1) >> PAGE_SHIFT; }
// Mirrors include/linux/pfn.h:PFN_PHYS() @ v4.4.
inline constexpr phys_addr_t PFN_PHYS(unsigned long pfn) { return static_cast<phys_addr_t>(pfn) << PAGE_SHIFT; }

// Mirrors include/asm-generic/getorder.h:get_order() @ v4.4: the order of the smallest block holding `size`
// bytes. get_order(0) is 52 on a 64-bit kernel ((0 - 1) >> PAGE_SHIFT has 52 bits set), as upstream.
int get_order(unsigned long size);

// Mirrors include/linux/mmzone.h:enum zone_type @ v4.4 for a board without ZONE_DMA and ZONE_MOVABLE.
enum zone_type { ZONE_NORMAL = 0, ZONE_HIGHMEM = 1, MAX_NR_ZONES = 2 };

// Bit numbers in page->flags. Mirrors include/linux/page-flags.h:enum pageflags @ v4.4 for the flags the model
// uses; PG_buddy is the model's own.
enum pageflags : unsigned int {
  PG_locked = 0,
  PG_dirty = 4,
  PG_reserved = 10,
  PG_private = 11,
  PG_head = 14,
  // Divergence: v4.4 marks a free block's head with _mapcount == PAGE_BUDDY_MAPCOUNT_VALUE; a flag bit (as
  // kernels before 2.6.38 had) keeps an all-zero struct page a valid page that is not free.
  PG_buddy = 24,
};

// Mirrors include/linux/page-flags.h:PAGE_FLAGS_CHECK_AT_FREE @ v4.4, restricted to the flags above.
inline constexpr unsigned long PAGE_FLAGS_CHECK_AT_FREE =
    (1UL << PG_locked) | (1UL << PG_private) | (1UL << PG_reserved);

// Mirrors include/linux/mm_types.h:struct page @ v4.4, the fields the model uses.
struct page {
  unsigned long flags;           // PG_* bits, accessed atomically
  int _count;                    // atomic_t _count: 1 when allocated, 0 when free or a compound tail
  unsigned long private_;        // page_private(): the buddy order while PageBuddy; accessed atomically
  struct list_head lru;          // free-list link while PageBuddy; the owner's to use while allocated
  unsigned long compound_head;   // tail pages: the head's address | 1
  unsigned int compound_order;   // in the first tail page of a compound page
  // The order of the allocation this page heads, as CONFIG_PAGE_OWNER records it; lets __free_pages() notice a
  // wrong order. Meaningful only while the page is allocated.
  unsigned int owner_order;
  // Divergence: the page's 4096 bytes, allocated on first write (NULL reads as zeros); a kernel page is
  // reached through its linear-map or kmap address instead.
  uint8_t* backing;
};

// Mirrors include/linux/mmzone.h:struct free_area @ v4.4.
// Divergence: one free list instead of one per migrate type.
struct free_area {
  struct list_head free_list;
  unsigned long nr_free;
};

struct phys_mem;

// Mirrors include/linux/mmzone.h:struct zone @ v4.4, the fields the model uses.
struct zone {
  spinlock_t lock;
  struct free_area free_area[MAX_ORDER] ABSL_GUARDED_BY(lock);
  std::atomic<long> free_pages{0};  // vm_stat[NR_FREE_PAGES]
  unsigned long zone_start_pfn = 0;
  unsigned long spanned_pages = 0;
  unsigned long present_pages = 0;  // pages with a struct page, reserved ones included
  unsigned long managed_pages = 0;  // pages handed to the buddy allocator
  const char* name = "";
  enum zone_type idx = ZONE_NORMAL;
  struct phys_mem* mem = nullptr;
};

// A physical address range [base, base + size).
struct phys_mem_range {
  phys_addr_t base = 0;
  unsigned long size = 0;
};

struct phys_mem_config {
  phys_addr_t ram_base = 0;        // page aligned
  unsigned long ram_size = 0;      // bytes, page aligned, > 0
  unsigned long lowmem_size = 0;   // bytes of RAM from ram_base in ZONE_NORMAL; page aligned, 0 < lowmem <= ram
  // memblock_reserve'd ranges (carveouts, firmware): they get struct pages and bytes but never enter the buddy
  // allocator. Partial pages are reserved whole; a range may lie partly or wholly outside RAM.
  std::vector<phys_mem_range> reserved;
};

// Decides whether an allocation fails by injection (fail_page_alloc): return true to fail it.
using page_alloc_fail_fn = std::function<bool(gfp_t gfp_mask, unsigned int order)>;

// Mirrors include/linux/shrinker.h:struct shrink_control @ v4.4 (no nid or memcg: one node, no cgroups).
struct shrink_control {
  gfp_t gfp_mask;
  unsigned long nr_to_scan;
};

// Mirrors include/linux/shrinker.h:SHRINK_STOP @ v4.4.
inline constexpr unsigned long SHRINK_STOP = ~0UL;
// Mirrors include/linux/shrinker.h:DEFAULT_SEEKS @ v4.4.
inline constexpr int DEFAULT_SEEKS = 2;
// Mirrors mm/vmscan.c:SHRINK_BATCH @ v4.4.
inline constexpr long SHRINK_BATCH = 128;

// Mirrors include/linux/shrinker.h:struct shrinker @ v4.4.
struct shrinker {
  unsigned long (*count_objects)(struct shrinker* shrinker, struct shrink_control* sc);
  unsigned long (*scan_objects)(struct shrinker* shrinker, struct shrink_control* sc);
  int seeks;
  long batch;  // objects per scan_objects() call; 0 means SHRINK_BATCH
  unsigned long flags;
  struct list_head list;
  // Allocated by register_shrinker() as upstream (its failure is register_shrinker's -ENOMEM).
  // Divergence: the model scans everything a shrinker counts, so no work is ever deferred into it.
  long* nr_deferred;
};

// The simulated machine. Layout fields are fixed at creation; read them freely.
struct cpu_cache;

struct phys_mem {
  phys_addr_t ram_base = 0;
  unsigned long ram_size = 0;
  unsigned long ram_start_pfn = 0;
  unsigned long ram_end_pfn = 0;    // exclusive
  unsigned long max_low_pfn = 0;    // first highmem pfn
  unsigned long min_pfn = 0;        // mem_map[0] describes this pfn
  unsigned long max_pfn = 0;        // exclusive end of mem_map
  std::vector<phys_mem_range> reserved;  // page-rounded, as configured
  struct page* mem_map = nullptr;
  size_t mem_map_bytes = 0;
  struct zone zones[MAX_NR_ZONES];

  // Whether the machine's kernel has dma_buf_ioctl() (DMA_BUF_IOCTL_SYNC, v4.6): false for an older kernel, whose
  // dma-buf files answer every ioctl with ENOTTY. Set at boot, before any dma-buf exists.
  bool dma_buf_ioctl = true;

  // The CPU data cache and coherency oracle of this machine (model/kernel/cpu_cache.h).
  struct cpu_cache* cpu_cache = nullptr;

  unsigned long totalram_pages = 0;   // managed pages of both zones
  unsigned long totalhigh_pages = 0;  // managed highmem pages
  unsigned long reserved_pages = 0;   // PG_reserved pages, in RAM or not
  unsigned long present_pages = 0;    // every pfn with a struct page

  std::atomic<long> nr_allocated{0};  // pages handed out and not freed
  std::atomic<long> nr_backed{0};     // pages whose bytes are allocated
  // The same per group of kBackedGroupPages pfns (from min_pfn), so that a range no page of which has bytes is
  // known at a glance (page_range_backed).
  std::unique_ptr<std::atomic<unsigned int>[]> backed_in_group;

  struct rw_semaphore shrinker_rwsem;
  struct list_head shrinker_list ABSL_GUARDED_BY(shrinker_rwsem);

  std::mutex fail_mu;
  page_alloc_fail_fn fail_hook;  // guarded by fail_mu

  std::string check_report;  // buddy_check()'s last finding
  std::vector<uint8_t> check_state;  // buddy_check()'s per-pfn scratch, kept between checks
  // buddy_check_changes(): while this machine's writes are tracked (g_page_changes), each pfn's class at the
  // last check (enum page_class in page_alloc.cc) and the number of pfns in each class.
  std::vector<uint8_t> page_class;
  unsigned long class_count[4] = {0, 0, 0, 0};
  std::vector<unsigned long> changed_bits;     // g_page_changes.bits while tracked
  std::vector<unsigned long> changed_summary;  // g_page_changes.summary while tracked
  // The allocated-page and per-zone free-page counters when the last check passed.
  long checked_allocated = -1;
  long checked_free[MAX_NR_ZONES] = {-1, -1};
};

// ---- The machine ----------------------------------------------------------------------------------------------

// Builds a machine: every RAM page outside the reserved ranges is free in the buddy allocator, in the largest
// naturally aligned blocks that fit. Returns NULL for an invalid config (unaligned, empty RAM, lowmem outside
// (0, ram_size], address overflow) or when the host cannot map mem_map.
struct phys_mem* phys_mem_create(const struct phys_mem_config& config);

// Tears a machine down and returns how many pages were still allocated (0 for a clean shutdown). Leaked pages
// stay counted in allocated_page_count(), so a test's leak check still sees them. NULL is ignored.
unsigned long phys_mem_destroy(struct phys_mem* mem);

// Installs (or, with an empty function, removes) the machine's allocation-failure injection hook. It is asked
// before every allocation except __GFP_NOFAIL ones, as should_fail_alloc_page() is; an injected failure
// returns NULL at once, without reclaim and without a failure report.
void set_page_alloc_fail_hook(struct phys_mem* mem, page_alloc_fail_fn hook);

// ---- pfn, page and physical address ----------------------------------------------------------------------------

// Mirrors arch/arm/mm/init.c:pfn_valid() @ v4.4: whether pfn has a struct page (RAM or a reserved range).
bool pfn_valid(const struct phys_mem* mem, unsigned long pfn);
// Mirrors include/asm-generic/memory_model.h:__pfn_to_page() @ v4.4; NULL where !pfn_valid().
struct page* pfn_to_page(struct phys_mem* mem, unsigned long pfn);
// Mirrors include/asm-generic/memory_model.h:__page_to_pfn() @ v4.4.
unsigned long page_to_pfn(const struct page* page);
// Mirrors arch/arm/include/asm/memory.h:page_to_phys() @ v4.4.
phys_addr_t page_to_phys(const struct page* page);
// Mirrors arch/arm/include/asm/memory.h:phys_to_page() @ v4.4; NULL where no struct page exists.
struct page* phys_to_page(struct phys_mem* mem, phys_addr_t phys);
// Mirrors include/linux/mm.h:nth_page() @ v4.4 (flat mem_map).
inline struct page* nth_page(struct page* page, unsigned long n) { return page + n; }
// The machine a struct page belongs to, or NULL for a pointer into no machine's mem_map.
struct phys_mem* page_phys_mem(const struct page* page);

// Mirrors include/linux/mm.h:page_zonenum() @ v4.4.
enum zone_type page_zonenum(const struct page* page);
// Mirrors include/linux/mm.h:page_zone() @ v4.4.
struct zone* page_zone(const struct page* page);
// Mirrors include/linux/mmzone.h:is_highmem() @ v4.4.
inline bool is_highmem(const struct zone* zone) { return zone->idx == ZONE_HIGHMEM; }
// Mirrors include/linux/page-flags.h:PageHighMem() @ v4.4.
bool PageHighMem(const struct page* page);

// ---- Page flags, references, compound pages --------------------------------------------------------------------

inline bool page_flag_test(const struct page* page, enum pageflags bit) {
  return (__atomic_load_n(&page->flags, __ATOMIC_RELAXED) >> bit) & 1UL;
}
// Not kernel code: the record of which struct pages the model wrote, for buddy_check_changes(). Off (begin ==
// end) until buddy_track_changes() turns it on for one machine; every write to a struct page field that
// buddy_check() reads goes through page_changed() or page_range_changed(). Two levels: one bit per struct page,
// and one summary bit per word of those, so that a check finds the few written pages without scanning the
// whole map. A bit already set is not written again (the common case: a page written many times between
// checks costs one atomic OR).
struct page_change_log {
  uintptr_t begin = 0;  // the tracked machine's mem_map
  uintptr_t end = 0;
  unsigned long* bits = nullptr;     // one bit per struct page
  unsigned long* summary = nullptr;  // one bit per word of bits: whether it has a bit set
};
extern struct page_change_log g_page_changes;
inline void page_change_mark(size_t word, unsigned long mask) {
  if ((__atomic_load_n(&g_page_changes.bits[word], __ATOMIC_RELAXED) & mask) != mask) {
    __atomic_fetch_or(&g_page_changes.bits[word], mask, __ATOMIC_RELAXED);
  }
  const unsigned long summary_bit = 1UL << (word % 64);
  if ((__atomic_load_n(&g_page_changes.summary[word / 64], __ATOMIC_RELAXED) & summary_bit) == 0) {
    __atomic_fetch_or(&g_page_changes.summary[word / 64], summary_bit, __ATOMIC_RELAXED);
  }
}
inline void page_changed(const struct page* page) {
  const uintptr_t addr = reinterpret_cast<uintptr_t>(page);
  if (addr >= g_page_changes.begin && addr < g_page_changes.end) {
    const size_t i = (addr - g_page_changes.begin) / sizeof(struct page);
    page_change_mark(i / 64, 1UL << (i % 64));
  }
}
void page_range_changed(const struct page* page, unsigned long nr);

inline void page_flag_set(struct page* page, enum pageflags bit) {
  page_changed(page);
  __atomic_fetch_or(&page->flags, 1UL << bit, __ATOMIC_RELAXED);
}
inline void page_flag_clear(struct page* page, enum pageflags bit) {
  page_changed(page);
  __atomic_fetch_and(&page->flags, ~(1UL << bit), __ATOMIC_RELAXED);
}

// Mirrors include/linux/page-flags.h:PageReserved() @ v4.4.
inline bool PageReserved(const struct page* page) { return page_flag_test(page, PG_reserved); }
// Mirrors include/linux/page-flags.h:SetPageReserved() @ v4.4.
inline void SetPageReserved(struct page* page) { page_flag_set(page, PG_reserved); }
// Mirrors include/linux/page-flags.h:ClearPageReserved() @ v4.4.
inline void ClearPageReserved(struct page* page) { page_flag_clear(page, PG_reserved); }
// Mirrors include/linux/mm.h:PageBuddy() @ v4.4 (the head of a free block).
inline bool PageBuddy(const struct page* page) { return page_flag_test(page, PG_buddy); }
// Mirrors include/linux/page-flags.h:PageHead() @ v4.4.
inline bool PageHead(const struct page* page) { return page_flag_test(page, PG_head); }
// Mirrors include/linux/page-flags.h:PageTail() @ v4.4.
inline bool PageTail(const struct page* page) {
  return (__atomic_load_n(&page->compound_head, __ATOMIC_RELAXED) & 1UL) != 0;
}
// Mirrors include/linux/page-flags.h:PageCompound() @ v4.4.
inline bool PageCompound(const struct page* page) { return PageHead(page) || PageTail(page); }

// Mirrors include/linux/page-flags.h:compound_head() @ v4.4.
inline struct page* compound_head(struct page* page) {
  const unsigned long head = __atomic_load_n(&page->compound_head, __ATOMIC_RELAXED);
  return (head & 1UL) ? reinterpret_cast<struct page*>(head - 1) : page;
}
inline const struct page* compound_head(const struct page* page) {
  return compound_head(const_cast<struct page*>(page));
}
// Mirrors include/linux/mm.h:compound_order() @ v4.4: 0 unless page is a compound head.
inline unsigned int compound_order(const struct page* page) { return PageHead(page) ? page[1].compound_order : 0; }

// Mirrors include/linux/mm.h:page_private() @ v4.4.
inline unsigned long page_private(const struct page* page) {
  return __atomic_load_n(&page->private_, __ATOMIC_RELAXED);
}
// Mirrors include/linux/mm.h:set_page_private() @ v4.4.
inline void set_page_private(struct page* page, unsigned long value) {
  page_changed(page);
  __atomic_store_n(&page->private_, value, __ATOMIC_RELAXED);
}

// Mirrors include/linux/mm.h:page_count() @ v4.4 (the head's count for a compound page).
inline int page_count(const struct page* page) {
  return __atomic_load_n(&compound_head(page)->_count, __ATOMIC_RELAXED);
}
// Mirrors include/linux/mm.h:get_page() @ v4.4: takes a reference on the (head) page. Getting a page whose
// count is zero is VM_BUG_ON_PAGE, which the model keeps on (CONFIG_DEBUG_VM).
void get_page(struct page* page);
// Mirrors mm/swap.c:put_page() @ v4.4: drops a reference; the last one frees the page, a compound page through
// its head with its compound order, any other page as order 0.
void put_page(struct page* page);

// ---- Bytes -----------------------------------------------------------------------------------------------------

// Copies len bytes at offset in the page to dst; an unbacked page reads as zeros. offset + len must stay in the
// page (BUG otherwise).
void page_read(const struct page* page, size_t offset, void* dst, size_t len);
// Copies len bytes from src to offset in the page, backing the page first if needed.
void page_write(struct page* page, size_t offset, const void* src, size_t len);
// Sets len bytes at offset to c. Zeroing a whole page drops its bytes; zeroing part of an unbacked page is free.
void memset_page(struct page* page, size_t offset, int c, size_t len);
// Zeroes the page by dropping its bytes.
void clear_backed_page(struct page* page);
inline void clear_page(struct page* page) {
  if (__atomic_load_n(&page->backing, __ATOMIC_ACQUIRE) != nullptr) clear_backed_page(page);  // else already zero
}
// Mirrors include/linux/highmem.h:clear_highpage() @ v4.4.
inline void clear_highpage(struct page* page) { clear_page(page); }
// Whether the page's bytes are allocated (it has been written since it was last zeroed).
bool page_is_backed(const struct page* page);
// Not a kernel function: false when none of the nr pages from `page` has bytes (every one reads as zero and
// clearing them would change nothing); true when one may have: the count is kept per group of
// kBackedGroupPages pfns, so a backed page in a group the range shares answers true. Pages outside every
// machine count as backed.
bool page_range_backed(const struct page* page, unsigned long nr);
inline constexpr unsigned long kBackedGroupPages = 64;
// Reads or writes len bytes at a physical address, across pages. -EFAULT (and no access at all) when any page
// of the range has no struct page.
Errno phys_read(struct phys_mem* mem, phys_addr_t phys, void* buf, size_t len);
Errno phys_write(struct phys_mem* mem, phys_addr_t phys, const void* buf, size_t len);

// ---- The buddy allocator ---------------------------------------------------------------------------------------

// Mirrors include/linux/gfp.h:alloc_pages() @ v4.4 (mm/page_alloc.c:__alloc_pages_nodemask): 2^order
// contiguous, naturally aligned pages with _count 1, or NULL.
struct page* alloc_pages(struct phys_mem* mem, gfp_t gfp_mask, unsigned int order);
// Mirrors include/linux/gfp.h:alloc_page() @ v4.4.
inline struct page* alloc_page(struct phys_mem* mem, gfp_t gfp_mask) { return alloc_pages(mem, gfp_mask, 0); }
// Mirrors mm/page_alloc.c:__free_pages() @ v4.4: drops a reference; the last one returns the block.
void __free_pages(struct page* page, unsigned int order);
// Mirrors include/linux/gfp.h:__free_page() @ v4.4.
inline void __free_page(struct page* page) { __free_pages(page, 0); }
// Mirrors mm/page_alloc.c:split_page() @ v4.4: turns a non-compound order-`order` allocation into 2^order
// independent order-0 pages, each with _count 1.
void split_page(struct page* page, unsigned int order);

// Mirrors include/linux/swap.h:nr_free_pages() @ v4.4 (global_page_state(NR_FREE_PAGES)).
unsigned long nr_free_pages(const struct phys_mem* mem);
// Mirrors mm/highmem.c:nr_free_highpages() @ v4.4.
unsigned long nr_free_highpages(const struct phys_mem* mem);
// Free pages of one zone (zone_page_state(zone, NR_FREE_PAGES)).
unsigned long zone_nr_free_pages(const struct phys_mem* mem, enum zone_type zone);
// Mirrors mm/page_alloc.c:totalram_pages @ v4.4: pages managed by the buddy allocator.
unsigned long totalram_pages(const struct phys_mem* mem);
// Mirrors mm/highmem.c:totalhigh_pages @ v4.4.
unsigned long totalhigh_pages(const struct phys_mem* mem);
// Pages handed out and not yet freed.
unsigned long nr_allocated_pages(const struct phys_mem* mem);

// The pfns of the blocks on one free list, in list order (the next allocation of that order takes the first).
std::vector<unsigned long> free_list_pfns(struct phys_mem* mem, enum zone_type zone, unsigned int order);
// Mirrors mm/vmstat.c:frag_show() @ v4.4 (/proc/buddyinfo): one line per zone with nr_free per order.
std::string buddyinfo(struct phys_mem* mem);

// Checks the allocator's invariants and returns a description of the first violation, or NULL when all hold:
// every free block is a PageBuddy head of its list's order, naturally aligned, inside one zone, on exactly one
// list, overlapping nothing reserved, allocated or free; no two free buddies of one order and zone are left
// unmerged; list lengths and free counters agree; free + allocated + reserved == present. O(pages); call it
// while no other thread allocates or frees on this machine. The text stays valid until the next buddy_check()
// of the same machine.
const char* buddy_check(struct phys_mem* mem);

// Starts recording which of this machine's struct pages the model writes (one machine at a time; another
// machine's tracking stops, and phys_mem_destroy() stops it), then runs buddy_check() and returns its report.
const char* buddy_track_changes(struct phys_mem* mem);
// What buddy_check() checks, in O(free blocks + struct pages written since the last check): every free list is
// walked in full, and only the pages written since then are checked one by one, since a page nobody wrote keeps
// its state (a free page that is allocated, or an allocated one that is freed, is written: its whole block is
// recorded). The per-state page counts carry over from check to check. When no struct page was written and the
// allocated and free page counters are those of the last passing check, nothing can have changed and it returns
// at once. Falls back to buddy_check() (and starts nothing) when the machine's writes are not tracked.
const char* buddy_check_changes(struct phys_mem* mem);

// Every free list of a machine, in list order.
struct free_area_layout {
  std::vector<unsigned long> pfns[MAX_NR_ZONES][MAX_ORDER];
};
struct free_area_layout free_area_snapshot(struct phys_mem* mem);
// Not a kernel function: resetting a machine without rebooting it (a fuzzer runs every input on one machine).
// When every free list holds exactly the blocks it held in `layout` (every page free then is free again, merged
// into the same blocks), relinks each list in the layout's order, so the next allocations take the pages a fresh
// boot would, and returns true. Otherwise changes nothing and returns false.
bool free_area_restore(struct phys_mem* mem, const struct free_area_layout& layout);
// Not a kernel function: drops the bytes of every page the buddy allocator holds free, so that each reads as
// zero again, as after a boot (the kernel leaves a freed page's bytes in place). For a fuzzer that reuses one
// machine: the next input finds no byte an earlier one wrote, and the bytes an input's pages were given are
// freed by its end. Returns the pages cleared.
unsigned long free_pages_drop_bytes(struct phys_mem* mem);

// ---- Shrinkers -------------------------------------------------------------------------------------------------

// Mirrors include/linux/swap.h:current_is_kswapd() @ v4.4.
// Divergence: the model has no kswapd; reclaim only runs in the allocating task (direct reclaim) or from an
// explicit shrink, so this is always false.
inline bool current_is_kswapd() { return false; }

// Mirrors mm/vmscan.c:register_shrinker() @ v4.4: -ENOMEM when nr_deferred cannot be allocated.
Errno register_shrinker(struct phys_mem* mem, struct shrinker* shrinker);
// Mirrors mm/vmscan.c:unregister_shrinker() @ v4.4.
void unregister_shrinker(struct phys_mem* mem, struct shrinker* shrinker);
// Mirrors mm/vmscan.c:shrink_slab() @ v4.4: asks every registered shrinker to scan; returns the objects freed.
unsigned long shrink_slab(struct phys_mem* mem, gfp_t gfp_mask);

}  // namespace ionsim::kernel

#endif  // MODEL_KERNEL_MM_H_
