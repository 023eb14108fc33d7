// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <utility>

#include "model/kernel/bug.h"
#include "model/kernel/compiler.h"
#include "model/kernel/cpu_cache.h"
#include "model/kernel/mm.h"
#include "model/kernel/slab.h"

namespace ionsim::kernel {

struct page_change_log g_page_changes;

void page_range_changed(const struct page* page, unsigned long nr) {
  const uintptr_t addr = reinterpret_cast<uintptr_t>(page);
  if (nr == 0 || addr < g_page_changes.begin || addr >= g_page_changes.end) return;
  const size_t first = (addr - g_page_changes.begin) / sizeof(struct page);
  const size_t limit = (g_page_changes.end - g_page_changes.begin) / sizeof(struct page);
  const size_t last = std::min(first + nr, limit);  // exclusive
  for (size_t i = first; i < last;) {
    const size_t bit = i % 64;
    const size_t n = std::min<size_t>(64 - bit, last - i);
    const unsigned long mask = (n == 64 ? ~0UL : ((1UL << n) - 1)) << bit;
    page_change_mark(i / 64, mask);
    i += n;
  }
}

namespace {

// Divergence: the kernel has one mem_map; the model has one per machine, and a struct page finds its machine
// through this table of mem_map ranges (keyed by the address one past each mem_map's last struct page).
struct MemMapTable {
  std::shared_mutex mu;
  std::map<uintptr_t, struct phys_mem*> by_end;
  // Bumped whenever a machine comes or goes: a thread's cached lookup (page_phys_mem) is good while it holds.
  std::atomic<uint64_t> generation{0};
};

// The last machine a thread found with page_phys_mem(), valid while the table's generation is unchanged.
struct MemMapLookup {
  uint64_t generation = ~0ULL;
  uintptr_t begin = 0;
  uintptr_t end = 0;
  struct phys_mem* mem = nullptr;
};
thread_local MemMapLookup last_lookup;

MemMapTable& mem_map_table() {
  static MemMapTable* table = new MemMapTable();  // never destroyed: machines may outlive static destruction
  return *table;
}

// What a pfn was at the last buddy_check() of a machine whose writes are tracked (phys_mem::page_class).
enum page_class : uint8_t { kClassHole = 0, kClassReserved = 1, kClassFree = 2, kClassInUse = 3 };

// Whether this machine's struct page writes are being recorded.
bool page_changes_tracked(const struct phys_mem* mem) {
  return g_page_changes.begin != 0 && g_page_changes.begin == reinterpret_cast<uintptr_t>(mem->mem_map);
}

bool any_page_changed(const struct phys_mem* mem) {
  for (unsigned long w : mem->changed_summary) {
    if (w != 0) return true;
  }
  return false;
}

// Calls fn(idx) for each pfn index written since the last check, in order, and clears the record as it goes.
template <typename Fn>
ION_NO_COVERAGE void for_each_changed_page(struct phys_mem* mem, Fn fn) {
  unsigned long* bits = mem->changed_bits.data();
  for (size_t s = 0; s < mem->changed_summary.size(); s++) {
    unsigned long summary = mem->changed_summary[s];
    mem->changed_summary[s] = 0;
    while (summary != 0) {
      const size_t word = s * 64 + static_cast<size_t>(__builtin_ctzl(summary));
      summary &= summary - 1;
      unsigned long w = bits[word];
      bits[word] = 0;
      while (w != 0) {
        fn(word * 64 + static_cast<size_t>(__builtin_ctzl(w)));
        w &= w - 1;
      }
    }
  }
}

void forget_page_changes(struct phys_mem* mem) {
  std::fill(mem->changed_bits.begin(), mem->changed_bits.end(), 0UL);
  std::fill(mem->changed_summary.begin(), mem->changed_summary.end(), 0UL);
}

// The counters a passing check saw, and whether they still read the same.
void remember_counters(struct phys_mem* mem) {
  mem->checked_allocated = mem->nr_allocated.load(std::memory_order_relaxed);
  for (int z = 0; z < MAX_NR_ZONES; z++) mem->checked_free[z] = mem->zones[z].free_pages.load(std::memory_order_relaxed);
}
bool counters_as_checked(const struct phys_mem* mem) {
  if (mem->checked_allocated != mem->nr_allocated.load(std::memory_order_relaxed)) return false;
  for (int z = 0; z < MAX_NR_ZONES; z++) {
    if (mem->checked_free[z] != mem->zones[z].free_pages.load(std::memory_order_relaxed)) return false;
  }
  return true;
}

// The current task's PF_MEMALLOC: set while it runs direct reclaim, so allocations made by shrinkers do not
// recurse into reclaim (mm/page_alloc.c:__perform_reclaim @ v4.4).
thread_local bool current_pf_memalloc = false;

// Divergence: where the kernel would loop for ever (shrinkers that always claim progress, a __GFP_NOFAIL
// allocation nothing can satisfy), the model gives up after this many reclaim rounds with a soft-lockup report.
constexpr int kMaxReclaimRounds = 1000;

struct page* pfn_to_page_in_span(struct phys_mem* mem, unsigned long pfn) {
  if (pfn < mem->min_pfn || pfn >= mem->max_pfn) return nullptr;
  return mem->mem_map + (pfn - mem->min_pfn);
}

unsigned long pfn_of(const struct phys_mem* mem, const struct page* page) {
  return mem->min_pfn + static_cast<unsigned long>(page - mem->mem_map);
}

enum zone_type zonenum_of_pfn(const struct phys_mem* mem, unsigned long pfn) {
  return pfn < mem->max_low_pfn ? ZONE_NORMAL : ZONE_HIGHMEM;
}

struct phys_mem* page_mem_or_bug(const struct page* page, const char* function) {
  struct phys_mem* mem = page_phys_mem(page);
  if (mem == nullptr) {
    bug_slowpath(__FILE__, __LINE__, function, "%p is not a struct page of any machine",
                 static_cast<const void*>(page));
  }
  return mem;
}

int page_count_raw(const struct page* page) { return __atomic_load_n(&page->_count, __ATOMIC_RELAXED); }

void set_page_count(struct page* page, int v) {
  page_changed(page);
  __atomic_store_n(&page->_count, v, __ATOMIC_RELAXED);
}

uint8_t* page_backing(const struct page* page) { return __atomic_load_n(&page->backing, __ATOMIC_ACQUIRE); }

std::string flag_names(unsigned long flags) {
  static constexpr std::pair<unsigned int, const char*> kNames[] = {
      {PG_locked, "locked"}, {PG_dirty, "dirty"}, {PG_reserved, "reserved"},
      {PG_private, "private"}, {PG_head, "head"}, {PG_buddy, "buddy"},
  };
  std::string out;
  for (const auto& [bit, name] : kNames) {
    if ((flags >> bit) & 1UL) {
      if (!out.empty()) out += "|";
      out += name;
    }
  }
  return out;
}

// Mirrors mm/page_alloc.c:bad_page() @ v4.4: reports the page; the caller then leaves it alone.
void bad_page(const struct phys_mem* mem, const struct page* page, const char* reason, unsigned long bad_flags) {
  const unsigned long flags = __atomic_load_n(&page->flags, __ATOMIC_RELAXED);
  std::string bad;
  if (bad_flags & flags) bad = " bad because of flags: " + flag_names(bad_flags & flags);
  report_kernel_event(BugKind::kBadPage, __FILE__, __LINE__, __func__, true,
                      "BUG: Bad page state pfn:%05lx page:%p count:%d flags: %#lx(%s) page dumped because: %s%s",
                      pfn_of(mem, page), static_cast<const void*>(page), page_count_raw(page), flags,
                      flag_names(flags).c_str(), reason, bad.c_str());
}

// Mirrors mm/page_alloc.c:set_page_order() @ v4.4.
void set_page_order(struct page* page, unsigned int order) {
  set_page_private(page, order);
  page_flag_set(page, PG_buddy);
}

// Mirrors mm/page_alloc.c:rmv_page_order() @ v4.4.
void rmv_page_order(struct page* page) {
  page_flag_clear(page, PG_buddy);
  set_page_private(page, 0);
}

// Mirrors mm/page_alloc.c:page_is_buddy() @ v4.4: buddy heads a free block of this order in the same zone.
bool page_is_buddy(const struct phys_mem* mem, enum zone_type zone, const struct page* buddy, unsigned int order) {
  // The zone is compared first: a page of the other zone is under the other zone's lock.
  if (buddy == nullptr || zonenum_of_pfn(mem, pfn_of(mem, buddy)) != zone) return false;
  return PageBuddy(buddy) && page_private(buddy) == order;
}

// Mirrors mm/page_alloc.c:__free_one_page() @ v4.4.
void __free_one_page(struct zone* zone, struct page* page, unsigned long pfn, unsigned int order)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(zone->lock) {
  struct phys_mem* mem = zone->mem;
  zone->free_pages.fetch_add(1L << order, std::memory_order_relaxed);
  unsigned long buddy_pfn = pfn;
  bool merging_stopped_early = false;
  while (order < MAX_ORDER - 1) {
    buddy_pfn = pfn ^ (1UL << order);
    struct page* buddy = pfn_to_page_in_span(mem, buddy_pfn);
    if (!page_is_buddy(mem, zone->idx, buddy, order)) {
      merging_stopped_early = true;
      break;
    }
    list_del(&buddy->lru);
    zone->free_area[order].nr_free--;
    rmv_page_order(buddy);
    pfn &= buddy_pfn;
    page = pfn_to_page_in_span(mem, pfn);
    order++;
  }
  set_page_order(page, order);

  // A block whose buddy is in use but whose parent's buddy is free is likely to merge further soon: keep it at
  // the tail so it is handed out last.
  if (merging_stopped_early && order < MAX_ORDER - 2) {
    const unsigned long combined_pfn = buddy_pfn & pfn;
    const unsigned long higher_buddy_pfn = combined_pfn ^ (1UL << (order + 1));
    if (page_is_buddy(mem, zone->idx, pfn_to_page_in_span(mem, higher_buddy_pfn), order + 1)) {
      list_add_tail(&page->lru, &zone->free_area[order].free_list);
      zone->free_area[order].nr_free++;
      return;
    }
  }
  list_add(&page->lru, &zone->free_area[order].free_list);
  zone->free_area[order].nr_free++;
}

// Mirrors mm/page_alloc.c:expand() @ v4.4: the upper halves go back on the lower lists, the lowest part stays.
void expand(struct zone* zone, struct page* page, unsigned int low, unsigned int high)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(zone->lock) {
  unsigned long size = 1UL << high;
  while (high > low) {
    high--;
    size >>= 1;
    struct page* upper = page + size;
    list_add(&upper->lru, &zone->free_area[high].free_list);
    zone->free_area[high].nr_free++;
    set_page_order(upper, high);
  }
}

// Mirrors mm/page_alloc.c:__rmqueue_smallest() @ v4.4.
struct page* __rmqueue_smallest(struct zone* zone, unsigned int order) ABSL_EXCLUSIVE_LOCKS_REQUIRED(zone->lock) {
  for (unsigned int current_order = order; current_order < MAX_ORDER; ++current_order) {
    struct free_area* area = &zone->free_area[current_order];
    if (list_empty(&area->free_list)) continue;
    struct page* page = list_first_entry(&area->free_list, struct page, lru);
    list_del(&page->lru);
    rmv_page_order(page);
    area->nr_free--;
    expand(zone, page, order, current_order);
    zone->free_pages.fetch_sub(1L << order, std::memory_order_relaxed);
    return page;
  }
  return nullptr;
}

// Mirrors mm/page_alloc.c:prep_compound_page() @ v4.4.
void prep_compound_page(struct page* page, unsigned int order) {
  page_range_changed(page, 1UL << order);
  page[1].compound_order = order;
  page_flag_set(page, PG_head);
  const unsigned long head = reinterpret_cast<unsigned long>(page) | 1UL;
  for (unsigned long i = 1; i < (1UL << order); i++) {
    set_page_count(page + i, 0);
    __atomic_store_n(&page[i].compound_head, head, __ATOMIC_RELAXED);
  }
}

// Mirrors mm/page_alloc.c:prep_new_page() @ v4.4.
void prep_new_page(struct phys_mem* mem, struct page* page, unsigned int order, gfp_t gfp_flags) {
  page_range_changed(page, 1UL << order);  // every page of the block leaves the free state
  set_page_private(page, 0);
  set_page_count(page, 1);
  page->owner_order = order;
  if (gfp_flags & __GFP_ZERO) {
    for (unsigned long i = 0; i < (1UL << order); i++) clear_highpage(page + i);
  }
  if (order && (gfp_flags & __GFP_COMP)) prep_compound_page(page, order);
  mem->nr_allocated.fetch_add(1L << order, std::memory_order_relaxed);
  registry_pages_allocated(1L << order);
}

// Mirrors mm/page_alloc.c:get_page_from_freelist() @ v4.4: walks the zonelist of gfp_zone(gfp_mask).
// Divergence: no watermarks and no fair-zone batches, so the first zone with a block of the order serves it.
struct page* get_page_from_freelist(struct phys_mem* mem, gfp_t gfp_mask, unsigned int order) {
  if (order >= MAX_ORDER) return nullptr;
  static constexpr enum zone_type kHighmemZonelist[] = {ZONE_HIGHMEM, ZONE_NORMAL};
  static constexpr enum zone_type kNormalZonelist[] = {ZONE_NORMAL};
  const bool highmem = (gfp_mask & __GFP_HIGHMEM) != 0;
  const enum zone_type* zonelist = highmem ? kHighmemZonelist : kNormalZonelist;
  const int nr_zones = highmem ? 2 : 1;
  for (int i = 0; i < nr_zones; i++) {
    struct zone* zone = &mem->zones[zonelist[i]];
    if (zone->managed_pages == 0) continue;
    // Mirrors mm/page_alloc.c:buffered_rmqueue() @ v4.4: __GFP_NOFAIL above order 1 is discouraged.
    if (order > 0 && (gfp_mask & __GFP_NOFAIL)) WARN_ON_ONCE(order > 1);
    spin_lock(&zone->lock);
    struct page* page = __rmqueue_smallest(zone, order);
    spin_unlock(&zone->lock);
    if (page != nullptr) {
      prep_new_page(mem, page, order, gfp_mask);
      return page;
    }
  }
  return nullptr;
}

// Mirrors mm/page_alloc.c:should_fail_alloc_page() @ v4.4, with the machine's hook as the fault attribute.
bool should_fail_alloc_page(struct phys_mem* mem, gfp_t gfp_mask, unsigned int order) {
  if (gfp_mask & __GFP_NOFAIL) return false;
  page_alloc_fail_fn hook;
  {
    std::lock_guard<std::mutex> lock(mem->fail_mu);
    hook = mem->fail_hook;
  }
  return hook && hook(gfp_mask, order);
}

// Mirrors mm/page_alloc.c:warn_alloc_failed() @ v4.4: a report, not a WARN; silent with __GFP_NOWARN.
void warn_alloc_failed(gfp_t gfp_mask, unsigned int order) {
  if (gfp_mask & __GFP_NOWARN) return;
  report_kernel_event(BugKind::kPageAllocFailure, __FILE__, __LINE__, __func__, true,
                      "page allocation failure: order:%u, mode:0x%x", order, gfp_mask);
}

// Mirrors mm/page_alloc.c:__perform_reclaim() @ v4.4.
// Divergence: there is no LRU; reclaim is the shrinkers alone, and what they report freed is the progress.
unsigned long __perform_reclaim(struct phys_mem* mem, gfp_t gfp_mask) {
  const bool saved = current_pf_memalloc;
  current_pf_memalloc = true;
  const unsigned long progress = shrink_slab(mem, gfp_mask);
  current_pf_memalloc = saved;
  return progress;
}

// Mirrors mm/page_alloc.c:__alloc_pages_slowpath() @ v4.4.
// Divergence: no OOM killer, no compaction and no kswapd; where v4.4 would invoke the OOM killer (order <= 3
// and reclaim made no progress) the model fails the allocation with the usual failure report.
struct page* __alloc_pages_slowpath(struct phys_mem* mem, gfp_t gfp_mask, unsigned int order) {
  const bool can_direct_reclaim = (gfp_mask & __GFP_DIRECT_RECLAIM) != 0;
  unsigned long pages_reclaimed = 0;

  if (order >= MAX_ORDER) {
    WARN_ON_ONCE(!(gfp_mask & __GFP_NOWARN));
    return nullptr;
  }
  if (WARN_ON_ONCE((gfp_mask & (__GFP_ATOMIC | __GFP_DIRECT_RECLAIM)) == (__GFP_ATOMIC | __GFP_DIRECT_RECLAIM))) {
    gfp_mask &= ~__GFP_ATOMIC;
  }

  for (int round = 0;; round++) {
    struct page* page = get_page_from_freelist(mem, gfp_mask, order);
    if (page != nullptr) return page;

    if (!can_direct_reclaim) {
      WARN_ON_ONCE(gfp_mask & __GFP_NOFAIL);
      break;
    }
    // A shrinker allocating is already in reclaim: no recursion.
    if (current_pf_memalloc) break;

    // Mirrors mm/page_alloc.c:__alloc_pages_direct_reclaim() @ v4.4: retry the freelists only after progress.
    const unsigned long progress = __perform_reclaim(mem, gfp_mask);
    if (progress) {
      page = get_page_from_freelist(mem, gfp_mask, order);
      if (page != nullptr) return page;
    }

    if (gfp_mask & __GFP_NORETRY) break;

    pages_reclaimed += progress;
    // Divergence: __GFP_REPEAT also needs progress to go round again (v4.4 would spin without it).
    const bool retry = progress != 0 && (order <= PAGE_ALLOC_COSTLY_ORDER ||
                                         ((gfp_mask & __GFP_REPEAT) && pages_reclaimed < (1UL << order)));
    if (!retry) {
      if (gfp_mask & __GFP_NOFAIL) {
        // Divergence: v4.4 loops in the OOM killer until a __GFP_NOFAIL allocation succeeds.
        report_kernel_event(BugKind::kSoftLockup, __FILE__, __LINE__, __func__, true,
                            "__GFP_NOFAIL allocation of order:%u, mode:0x%x cannot succeed and v4.4 would "
                            "retry for ever (the model has no OOM killer)",
                            order, gfp_mask);
        return nullptr;
      }
      break;
    }
    if (round + 1 >= kMaxReclaimRounds) {
      report_kernel_event(BugKind::kSoftLockup, __FILE__, __LINE__, __func__, true,
                          "order:%u, mode:0x%x allocation still failing after %d reclaim rounds that each "
                          "claimed progress",
                          order, gfp_mask, kMaxReclaimRounds);
      return nullptr;
    }
  }
  warn_alloc_failed(gfp_mask, order);
  return nullptr;
}

// The model's free_pages_check() over a whole block, run before anything is changed. Reports the first bad
// page found and returns false; the caller then frees nothing.
// Mirrors mm/page_alloc.c:free_pages_prepare() @ v4.4 (its checks).
bool free_pages_prepare_check(const struct phys_mem* mem, const struct page* page, unsigned int order) {
  const unsigned long flags = __atomic_load_n(&page->flags, __ATOMIC_RELAXED);
  if (flags & PAGE_FLAGS_CHECK_AT_FREE) {
    bad_page(mem, page, "PAGE_FLAGS_CHECK_AT_FREE flag(s) set", PAGE_FLAGS_CHECK_AT_FREE);
    return false;
  }
  // v4.4 BUGs on this for a compound page (VM_BUG_ON_PAGE in free_pages_prepare) and cannot tell for any other
  // page; the model knows every allocation's order.
  const bool compound = PageHead(page);
  if (page->owner_order != order || (compound && compound_order(page) != order)) {
    char reason[96];
    std::snprintf(reason, sizeof(reason), "freed with order %u, allocated with order %u%s", order,
                  page->owner_order, compound ? " (compound)" : "");
    bad_page(mem, page, reason, 0);
    return false;
  }
  const unsigned long head = reinterpret_cast<unsigned long>(page) | 1UL;
  for (unsigned long i = 1; i < (1UL << order); i++) {
    const struct page* p = page + i;
    if (compound && __atomic_load_n(&p->compound_head, __ATOMIC_RELAXED) != head) {
      bad_page(mem, p, PageTail(p) ? "compound_head not consistent" : "PageTail not set", 0);
      return false;
    }
    if (PageBuddy(p)) {
      bad_page(mem, p, "nonzero mapcount", 0);
      return false;
    }
    if (page_count_raw(p) != 0) {
      bad_page(mem, p, "nonzero _count", 0);
      return false;
    }
    if (__atomic_load_n(&p->flags, __ATOMIC_RELAXED) & PAGE_FLAGS_CHECK_AT_FREE) {
      bad_page(mem, p, "PAGE_FLAGS_CHECK_AT_FREE flag(s) set", PAGE_FLAGS_CHECK_AT_FREE);
      return false;
    }
  }
  return true;
}

// Mirrors mm/page_alloc.c:__free_pages_ok() @ v4.4 after the checks passed: clears the compound markers and the
// page flags (PAGE_FLAGS_CHECK_AT_PREP) and returns the block to its zone.
void free_checked_pages(struct phys_mem* mem, struct page* page, unsigned int order) {
  page_range_changed(page, 1UL << order);
  for (unsigned long i = 0; i < (1UL << order); i++) {
    __atomic_store_n(&page[i].compound_head, 0UL, __ATOMIC_RELAXED);
    __atomic_store_n(&page[i].flags, 0UL, __ATOMIC_RELAXED);
  }
  const unsigned long pfn = pfn_of(mem, page);
  struct zone* zone = &mem->zones[zonenum_of_pfn(mem, pfn)];
  spin_lock(&zone->lock);
  __free_one_page(zone, page, pfn, order);
  spin_unlock(&zone->lock);
  mem->nr_allocated.fetch_sub(1L << order, std::memory_order_relaxed);
  registry_pages_allocated(-(1L << order));
}

// Frees a block that was never allocated: how boot hands RAM to the buddy allocator.
// Mirrors mm/page_alloc.c:__free_pages_boot_core() @ v4.4.
void free_boot_range(struct phys_mem* mem, unsigned long start, unsigned long end) {
  while (start < end) {
    unsigned int order = MAX_ORDER - 1;
    while (order > 0 && ((start & ((1UL << order) - 1)) != 0 || start + (1UL << order) > end)) order--;
    struct zone* zone = &mem->zones[zonenum_of_pfn(mem, start)];
    zone->managed_pages += 1UL << order;
    spin_lock(&zone->lock);
    __free_one_page(zone, pfn_to_page_in_span(mem, start), start, order);
    spin_unlock(&zone->lock);
    start += 1UL << order;
  }
}

bool range_ok(phys_addr_t base, unsigned long size) { return base + size >= base; }

}  // namespace

int get_order(unsigned long size) {
  size--;
  size >>= PAGE_SHIFT;
  int order = 0;
  while (size != 0) {
    order++;
    size >>= 1;
  }
  return order;
}

// ---- The machine ----------------------------------------------------------------------------------------------

namespace {

// Performance only, no behaviour: the mem_map of the last small machine shut down is kept for the next machine
// of the same size and zeroed again, which is cheaper than the host page faults of a fresh mapping (tests and
// tools that boot many small machines). A zeroed map is exactly what a fresh anonymous mapping reads as. Maps above
// kMaxCachedMemMap are always unmapped: a large machine touches only the struct pages it uses.
constexpr size_t kMaxCachedMemMap = 1 << 20;
struct MemMapCache {
  std::mutex mu;
  void* map = nullptr;
  size_t bytes = 0;
};
MemMapCache& mem_map_cache() {
  static MemMapCache* cache = new MemMapCache();
  return *cache;
}

void* take_cached_mem_map(size_t bytes) {
  MemMapCache& c = mem_map_cache();
  void* map = nullptr;
  {
    std::lock_guard<std::mutex> lock(c.mu);
    if (c.map == nullptr || c.bytes != bytes) return nullptr;
    map = c.map;
    c.map = nullptr;
    c.bytes = 0;
  }
  std::memset(map, 0, bytes);
  return map;
}

// LeakSanitizer's interface, when the binary has it (the ASan builds): a machine's mem_map is mmap'd, which the
// leak checker does not scan, yet it holds the only pointers to the bytes of every written page (struct
// page::backing). Registered as a root region, those bytes are reachable while the machine lives; otherwise a
// leak check while a machine runs (libFuzzer's after an input that grew the heap) reports them as leaked.
extern "C" void __lsan_register_root_region(const void* p, size_t size) __attribute__((weak));
extern "C" void __lsan_unregister_root_region(const void* p, size_t size) __attribute__((weak));

void register_mem_map(const void* map, size_t bytes) {
  if (&__lsan_register_root_region != nullptr) __lsan_register_root_region(map, bytes);
}

void keep_mem_map(void* map, size_t bytes) {
  if (&__lsan_unregister_root_region != nullptr) __lsan_unregister_root_region(map, bytes);
  if (bytes <= kMaxCachedMemMap) {
    MemMapCache& c = mem_map_cache();
    std::lock_guard<std::mutex> lock(c.mu);
    std::swap(map, c.map);
    std::swap(bytes, c.bytes);
  }
  if (map != nullptr) munmap(map, bytes);
}

}  // namespace

struct phys_mem* phys_mem_create(const struct phys_mem_config& config) {
  if (config.ram_size == 0 || (config.ram_base & ~PAGE_MASK) || (config.ram_size & ~PAGE_MASK)) return nullptr;
  if (config.lowmem_size == 0 || config.lowmem_size > config.ram_size || (config.lowmem_size & ~PAGE_MASK)) {
    return nullptr;
  }
  if (!range_ok(config.ram_base, config.ram_size)) return nullptr;

  const unsigned long ram_start_pfn = PFN_DOWN(config.ram_base);
  const unsigned long ram_end_pfn = ram_start_pfn + PFN_DOWN(config.ram_size);
  unsigned long min_pfn = ram_start_pfn;
  unsigned long max_pfn = ram_end_pfn;
  std::vector<std::pair<unsigned long, unsigned long>> reserved_pfns;  // [start, end)
  std::vector<phys_mem_range> reserved;
  for (const phys_mem_range& r : config.reserved) {
    if (r.size == 0) continue;
    if (!range_ok(r.base, r.size) || r.base + r.size > ~0UL - PAGE_SIZE) return nullptr;
    const unsigned long start = PFN_DOWN(r.base);
    const unsigned long end = PFN_UP(r.base + r.size);
    reserved_pfns.emplace_back(start, end);
    reserved.push_back(phys_mem_range{PFN_PHYS(start), (end - start) << PAGE_SHIFT});
    min_pfn = std::min(min_pfn, start);
    max_pfn = std::max(max_pfn, end);
  }
  const unsigned long span = max_pfn - min_pfn;
  if (span > (~0UL) / sizeof(struct page)) return nullptr;
  const size_t bytes = span * sizeof(struct page);

  // Untouched struct pages must cost nothing: an anonymous mapping is zero-filled on first touch. A small map
  // the last machine left behind is zeroed and taken instead (MemMapCache).
  void* map = take_cached_mem_map(bytes);
  if (map == nullptr) {
    map = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (map == MAP_FAILED) return nullptr;
  }

  struct phys_mem* mem = new phys_mem();
  mem->cpu_cache = cpu_cache_create();
  mem->ram_base = config.ram_base;
  mem->ram_size = config.ram_size;
  mem->ram_start_pfn = ram_start_pfn;
  mem->ram_end_pfn = ram_end_pfn;
  mem->max_low_pfn = ram_start_pfn + PFN_DOWN(config.lowmem_size);
  mem->min_pfn = min_pfn;
  mem->max_pfn = max_pfn;
  mem->reserved = std::move(reserved);
  mem->mem_map = static_cast<struct page*>(map);
  mem->mem_map_bytes = bytes;
  register_mem_map(map, bytes);
  mem->backed_in_group.reset(new std::atomic<unsigned int>[span / kBackedGroupPages + 1]());
  init_rwsem(&mem->shrinker_rwsem, "shrinker_rwsem");
  down_write(&mem->shrinker_rwsem);
  INIT_LIST_HEAD(&mem->shrinker_list);
  up_write(&mem->shrinker_rwsem);

  static constexpr const char* kZoneNames[MAX_NR_ZONES] = {"Normal", "HighMem"};
  for (int z = 0; z < MAX_NR_ZONES; z++) {
    struct zone* zone = &mem->zones[z];
    spin_lock_init(&zone->lock, "zone->lock");
    zone->name = kZoneNames[z];
    zone->idx = static_cast<enum zone_type>(z);
    zone->mem = mem;
    spin_lock(&zone->lock);
    for (unsigned int o = 0; o < MAX_ORDER; o++) {
      INIT_LIST_HEAD(&zone->free_area[o].free_list);
      zone->free_area[o].nr_free = 0;
    }
    spin_unlock(&zone->lock);
  }
  struct zone* normal = &mem->zones[ZONE_NORMAL];
  struct zone* high = &mem->zones[ZONE_HIGHMEM];
  normal->zone_start_pfn = min_pfn;
  normal->spanned_pages = std::min(mem->max_low_pfn, max_pfn) - min_pfn;
  high->zone_start_pfn = mem->max_low_pfn;
  high->spanned_pages = max_pfn > mem->max_low_pfn ? max_pfn - mem->max_low_pfn : 0;

  // Mirrors mm/page_alloc.c:reserve_bootmem_region() @ v4.4: reserved pages keep _count 1 and PG_reserved.
  for (const auto& [start, end] : reserved_pfns) {
    for (unsigned long pfn = start; pfn < end; pfn++) {
      struct page* page = pfn_to_page_in_span(mem, pfn);
      if (PageReserved(page)) continue;  // ranges may overlap
      SetPageReserved(page);
      set_page_count(page, 1);
      mem->reserved_pages++;
      mem->zones[zonenum_of_pfn(mem, pfn)].present_pages++;
      if (pfn < ram_start_pfn || pfn >= ram_end_pfn) mem->present_pages++;
    }
  }
  mem->present_pages += ram_end_pfn - ram_start_pfn;

  // Hand every unreserved RAM run to the buddy allocator, zone by zone, in maximal aligned blocks.
  std::vector<std::pair<unsigned long, unsigned long>> holes;  // reserved parts of RAM, merged
  for (const auto& [start, end] : reserved_pfns) {
    const unsigned long s = std::max(start, ram_start_pfn);
    const unsigned long e = std::min(end, ram_end_pfn);
    if (s < e) holes.emplace_back(s, e);
  }
  std::sort(holes.begin(), holes.end());
  unsigned long cursor = ram_start_pfn;
  auto free_run = [&](unsigned long s, unsigned long e) {
    const unsigned long split = std::clamp(mem->max_low_pfn, s, e);
    free_boot_range(mem, s, split);
    free_boot_range(mem, split, e);
  };
  for (const auto& [s, e] : holes) {
    if (s > cursor) free_run(cursor, s);
    cursor = std::max(cursor, e);
  }
  if (cursor < ram_end_pfn) free_run(cursor, ram_end_pfn);
  // Reserved pages were counted present above; the managed ones complete each zone.
  normal->present_pages += normal->managed_pages;
  high->present_pages += high->managed_pages;
  mem->totalram_pages = normal->managed_pages + high->managed_pages;
  mem->totalhigh_pages = high->managed_pages;

  MemMapTable& table = mem_map_table();
  {
    std::unique_lock<std::shared_mutex> lock(table.mu);
    table.by_end[reinterpret_cast<uintptr_t>(mem->mem_map + span)] = mem;
    table.generation.fetch_add(1, std::memory_order_release);
  }
  return mem;
}

unsigned long phys_mem_destroy(struct phys_mem* mem) {
  if (mem == nullptr) return 0;
  const unsigned long span = mem->max_pfn - mem->min_pfn;
  if (g_page_changes.begin == reinterpret_cast<uintptr_t>(mem->mem_map)) g_page_changes = page_change_log();
  MemMapTable& table = mem_map_table();
  {
    std::unique_lock<std::shared_mutex> lock(table.mu);
    table.by_end.erase(reinterpret_cast<uintptr_t>(mem->mem_map + span));
    table.generation.fetch_add(1, std::memory_order_release);
  }
  const long leaked = mem->nr_allocated.load(std::memory_order_relaxed);
  long backed = mem->nr_backed.load(std::memory_order_relaxed);
  for (unsigned long i = 0; i < span && backed > 0; i++) {
    uint8_t* bytes = page_backing(&mem->mem_map[i]);
    if (bytes != nullptr) {
      std::free(bytes);
      backed--;
    }
  }
  keep_mem_map(mem->mem_map, mem->mem_map_bytes);
  cpu_cache_destroy(mem->cpu_cache);
  delete mem;
  return leaked > 0 ? static_cast<unsigned long>(leaked) : 0;
}

void set_page_alloc_fail_hook(struct phys_mem* mem, page_alloc_fail_fn hook) {
  std::lock_guard<std::mutex> lock(mem->fail_mu);
  mem->fail_hook = std::move(hook);
}

// ---- pfn, page and physical address ----------------------------------------------------------------------------

bool pfn_valid(const struct phys_mem* mem, unsigned long pfn) {
  if (pfn >= mem->ram_start_pfn && pfn < mem->ram_end_pfn) return true;
  for (const phys_mem_range& r : mem->reserved) {
    if (pfn >= PFN_DOWN(r.base) && pfn < PFN_DOWN(r.base + r.size)) return true;
  }
  return false;
}

struct page* pfn_to_page(struct phys_mem* mem, unsigned long pfn) {
  if (!pfn_valid(mem, pfn)) return nullptr;
  return pfn_to_page_in_span(mem, pfn);
}

struct phys_mem* page_phys_mem(const struct page* page) {
  MemMapTable& table = mem_map_table();
  const uintptr_t addr = reinterpret_cast<uintptr_t>(page);
  MemMapLookup& last = last_lookup;
  if (last.generation == table.generation.load(std::memory_order_acquire) && addr >= last.begin &&
      addr < last.end) {
    return (addr - last.begin) % sizeof(struct page) == 0 ? last.mem : nullptr;
  }
  std::shared_lock<std::shared_mutex> lock(table.mu);
  auto it = table.by_end.upper_bound(addr);
  if (it == table.by_end.end()) return nullptr;
  struct phys_mem* mem = it->second;
  if (addr < reinterpret_cast<uintptr_t>(mem->mem_map)) return nullptr;
  last = {table.generation.load(std::memory_order_relaxed), reinterpret_cast<uintptr_t>(mem->mem_map), it->first,
          mem};
  if ((addr - reinterpret_cast<uintptr_t>(mem->mem_map)) % sizeof(struct page) != 0) return nullptr;
  return mem;
}

unsigned long page_to_pfn(const struct page* page) {
  return pfn_of(page_mem_or_bug(page, __func__), page);
}

phys_addr_t page_to_phys(const struct page* page) { return PFN_PHYS(page_to_pfn(page)); }

struct page* phys_to_page(struct phys_mem* mem, phys_addr_t phys) { return pfn_to_page(mem, PFN_DOWN(phys)); }

enum zone_type page_zonenum(const struct page* page) {
  const struct phys_mem* mem = page_mem_or_bug(page, __func__);
  return zonenum_of_pfn(mem, pfn_of(mem, page));
}

struct zone* page_zone(const struct page* page) {
  struct phys_mem* mem = page_mem_or_bug(page, __func__);
  return &mem->zones[zonenum_of_pfn(mem, pfn_of(mem, page))];
}

bool PageHighMem(const struct page* page) { return page_zonenum(page) == ZONE_HIGHMEM; }

// ---- References ------------------------------------------------------------------------------------------------

void get_page(struct page* page) {
  page = compound_head(page);
  BUG_ON(page_count_raw(page) <= 0);
  page_changed(page);
  __atomic_fetch_add(&page->_count, 1, __ATOMIC_RELAXED);
}

void put_page(struct page* page) {
  if (PageCompound(page)) {
    struct page* head = compound_head(page);
    __free_pages(head, compound_order(head));
    return;
  }
  __free_pages(page, 0);
}

// ---- Bytes -----------------------------------------------------------------------------------------------------

namespace {

void check_page_span(size_t offset, size_t len, const char* function) {
  if (offset > PAGE_SIZE || len > PAGE_SIZE - offset) {
    bug_slowpath(__FILE__, __LINE__, function, "access of %zu bytes at offset %zu runs off the page", len, offset);
  }
}

// A page gained (+1) or lost (-1) its bytes: the machine's count and its group's (page_range_backed).
void count_backing(struct phys_mem* mem, const struct page* page, int delta) {
  mem->nr_backed.fetch_add(delta, std::memory_order_relaxed);
  mem->backed_in_group[static_cast<size_t>(page - mem->mem_map) / kBackedGroupPages].fetch_add(
      static_cast<unsigned int>(delta), std::memory_order_relaxed);
}

uint8_t* materialize(struct page* page) {
  uint8_t* bytes = page_backing(page);
  if (bytes != nullptr) return bytes;
  uint8_t* fresh = static_cast<uint8_t*>(std::calloc(1, PAGE_SIZE));
  if (fresh == nullptr) bug_slowpath(__FILE__, __LINE__, __func__, "host out of memory backing a page");
  uint8_t* expected = nullptr;
  if (__atomic_compare_exchange_n(&page->backing, &expected, fresh, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
    count_backing(page_mem_or_bug(page, __func__), page, 1);
    return fresh;
  }
  std::free(fresh);
  return expected;
}

}  // namespace

void page_read(const struct page* page, size_t offset, void* dst, size_t len) {
  check_page_span(offset, len, __func__);
  const uint8_t* bytes = page_backing(page);
  if (bytes == nullptr) {
    std::memset(dst, 0, len);
  } else {
    std::memcpy(dst, bytes + offset, len);
  }
}

void page_write(struct page* page, size_t offset, const void* src, size_t len) {
  check_page_span(offset, len, __func__);
  if (len == 0) return;
  std::memcpy(materialize(page) + offset, src, len);
}

void memset_page(struct page* page, size_t offset, int c, size_t len) {
  check_page_span(offset, len, __func__);
  if (len == 0) return;
  if (static_cast<uint8_t>(c) == 0) {
    if (offset == 0 && len == PAGE_SIZE) {
      clear_page(page);
      return;
    }
    uint8_t* bytes = page_backing(page);
    if (bytes != nullptr) std::memset(bytes + offset, 0, len);
    return;
  }
  std::memset(materialize(page) + offset, c, len);
}

void clear_backed_page(struct page* page) {
  uint8_t* old = __atomic_exchange_n(&page->backing, static_cast<uint8_t*>(nullptr), __ATOMIC_ACQ_REL);
  if (old == nullptr) return;
  std::free(old);
  count_backing(page_mem_or_bug(page, __func__), page, -1);
}

bool page_is_backed(const struct page* page) { return page_backing(page) != nullptr; }

bool page_range_backed(const struct page* page, unsigned long nr) {
  if (nr == 0) return false;
  struct phys_mem* mem = page_phys_mem(page);
  if (mem == nullptr) return true;
  const unsigned long span = mem->max_pfn - mem->min_pfn;
  const unsigned long first = static_cast<unsigned long>(page - mem->mem_map);
  const unsigned long last = std::min(first + nr, span) - 1;
  for (unsigned long g = first / kBackedGroupPages; g <= last / kBackedGroupPages; g++) {
    if (mem->backed_in_group[g].load(std::memory_order_relaxed) != 0) return true;
  }
  return first + nr > span;  // the range runs past this machine's pages
}

namespace {

bool phys_range_valid(struct phys_mem* mem, phys_addr_t phys, size_t len) {
  if (len == 0) return true;
  if (phys + len < phys) return false;
  for (unsigned long pfn = PFN_DOWN(phys); pfn <= PFN_DOWN(phys + len - 1); pfn++) {
    if (!pfn_valid(mem, pfn)) return false;
  }
  return true;
}

}  // namespace

namespace {

// Calls fn(page, offset_in_page, offset_in_buffer, length) for each page piece of [phys, phys + len).
template <typename Fn>
Errno for_each_phys_piece(struct phys_mem* mem, phys_addr_t phys, size_t len, Fn fn) {
  if (!phys_range_valid(mem, phys, len)) return Errno(-EFAULT);
  size_t done = 0;
  while (done < len) {
    const size_t offset = phys & ~PAGE_MASK;
    const size_t piece = std::min(len - done, PAGE_SIZE - offset);
    fn(pfn_to_page(mem, PFN_DOWN(phys)), offset, done, piece);
    phys += piece;
    done += piece;
  }
  return Errno::Ok();
}

}  // namespace

Errno phys_read(struct phys_mem* mem, phys_addr_t phys, void* buf, size_t len) {
  uint8_t* out = static_cast<uint8_t*>(buf);
  return for_each_phys_piece(mem, phys, len, [out](struct page* page, size_t offset, size_t done, size_t piece) {
    page_read(page, offset, out + done, piece);
  });
}

Errno phys_write(struct phys_mem* mem, phys_addr_t phys, const void* buf, size_t len) {
  const uint8_t* in = static_cast<const uint8_t*>(buf);
  return for_each_phys_piece(mem, phys, len, [in](struct page* page, size_t offset, size_t done, size_t piece) {
    page_write(page, offset, in + done, piece);
  });
}

// ---- The buddy allocator ---------------------------------------------------------------------------------------

struct page* alloc_pages(struct phys_mem* mem, gfp_t gfp_mask, unsigned int order) {
  BUG_ON(mem == nullptr);
  if (should_fail_alloc_page(mem, gfp_mask, order)) return nullptr;
  struct page* page = get_page_from_freelist(mem, gfp_mask, order);
  if (page == nullptr) page = __alloc_pages_slowpath(mem, gfp_mask, order);
  return page;
}

void __free_pages(struct page* page, unsigned int order) {
  struct phys_mem* mem = page_mem_or_bug(page, __func__);
  // Mirrors include/linux/mm.h:put_page_testzero() @ v4.4, with the free checks run before the last
  // reference is dropped.
  for (;;) {
    int count = page_count_raw(page);
    if (count <= 0) {
      // Divergence: with CONFIG_DEBUG_VM v4.4 BUGs here (VM_BUG_ON_PAGE); without it _count goes negative and
      // the page is reported only when it is next allocated. The model reports the double free itself.
      bad_page(mem, page, "page freed with a zero _count (double free?)", 0);
      return;
    }
    if (count > 1) {
      page_changed(page);
      if (__atomic_compare_exchange_n(&page->_count, &count, count - 1, false, __ATOMIC_ACQ_REL,
                                      __ATOMIC_RELAXED)) {
        return;
      }
      continue;
    }
    // Divergence: v4.4 has already dropped _count to 0 when free_pages_check() fails and leaks the page;
    // the model leaves the page untouched so the caller can still free it correctly.
    if (!free_pages_prepare_check(mem, page, order)) return;
    if (__atomic_compare_exchange_n(&page->_count, &count, 0, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) break;
  }
  free_checked_pages(mem, page, order);
}

void split_page(struct page* page, unsigned int order) {
  BUG_ON(PageCompound(page));
  BUG_ON(!page_count(page));
  // Divergence: v4.4 trusts the order it is given; splitting by a larger order than was allocated would turn
  // free or foreign pages into referenced ones, so the model stops.
  BUG_ON(page->owner_order != order);
  page->owner_order = 0;
  for (unsigned long i = 1; i < (1UL << order); i++) {
    set_page_count(page + i, 1);
    page[i].owner_order = 0;
  }
}

unsigned long nr_free_pages(const struct phys_mem* mem) {
  return zone_nr_free_pages(mem, ZONE_NORMAL) + zone_nr_free_pages(mem, ZONE_HIGHMEM);
}

unsigned long nr_free_highpages(const struct phys_mem* mem) { return zone_nr_free_pages(mem, ZONE_HIGHMEM); }

unsigned long zone_nr_free_pages(const struct phys_mem* mem, enum zone_type zone) {
  const long n = mem->zones[zone].free_pages.load(std::memory_order_relaxed);
  return n > 0 ? static_cast<unsigned long>(n) : 0;
}

unsigned long totalram_pages(const struct phys_mem* mem) { return mem->totalram_pages; }
unsigned long totalhigh_pages(const struct phys_mem* mem) { return mem->totalhigh_pages; }

unsigned long nr_allocated_pages(const struct phys_mem* mem) {
  const long n = mem->nr_allocated.load(std::memory_order_relaxed);
  return n > 0 ? static_cast<unsigned long>(n) : 0;
}

namespace {

// The head pfns on one free list, in list order, into *out (replacing what it held).
void read_free_list(struct phys_mem* mem, int zone_idx, unsigned int order, std::vector<unsigned long>* out) {
  out->clear();
  struct zone* zone = &mem->zones[zone_idx];
  spin_lock(&zone->lock);
  struct page* page;
  list_for_each_entry(page, &zone->free_area[order].free_list, lru) out->push_back(pfn_of(mem, page));
  spin_unlock(&zone->lock);
}

}  // namespace

std::vector<unsigned long> free_list_pfns(struct phys_mem* mem, enum zone_type zone_idx, unsigned int order) {
  std::vector<unsigned long> out;
  if (order < MAX_ORDER) read_free_list(mem, zone_idx, order, &out);
  return out;
}

std::string buddyinfo(struct phys_mem* mem) {
  std::string out;
  for (int z = 0; z < MAX_NR_ZONES; z++) {
    struct zone* zone = &mem->zones[z];
    if (zone->present_pages == 0) continue;
    char line[64];
    std::snprintf(line, sizeof(line), "Node 0, zone %8s ", zone->name);
    out += line;
    spin_lock(&zone->lock);
    for (unsigned int o = 0; o < MAX_ORDER; o++) {
      std::snprintf(line, sizeof(line), "%6lu ", zone->free_area[o].nr_free);
      out += line;
    }
    spin_unlock(&zone->lock);
    out += "\n";
  }
  return out;
}

namespace {

// The free-list walk both checks share: every list of every zone, each block's head checked (PageBuddy with its
// list's order, naturally aligned, inside the memory map and one zone, not left unmerged with a free buddy), the
// lists' lengths against nr_free and NR_FREE_PAGES. on_block(pfn, order) sees every block and may stop the walk
// by returning false. Returns the pages the lists hold; stops at the first failure.
template <typename Fail, typename OnBlock>
ION_NO_COVERAGE unsigned long walk_free_lists(struct phys_mem* mem, const std::string& report, Fail& fail,
                                              OnBlock on_block) {
  const unsigned long span = mem->max_pfn - mem->min_pfn;
  unsigned long free_total = 0;
  for (int z = 0; z < MAX_NR_ZONES && report.empty(); z++) {
    struct zone* zone = &mem->zones[z];
    spin_lock(&zone->lock);
    unsigned long zone_free = 0;
    for (unsigned int o = 0; o < MAX_ORDER && report.empty(); o++) {
      unsigned long n = 0;
      const struct list_head* head = &zone->free_area[o].free_list;
      for (const struct list_head* pos = head->next; pos != head && report.empty(); pos = pos->next) {
        if (n > span) {
          fail("zone %s order %u: free list does not end", zone->name, o);
          break;
        }
        const struct page* page = container_of(pos, struct page, lru);
        if (page < mem->mem_map || page >= mem->mem_map + span) {
          fail("zone %s order %u: list entry %p is not a struct page of this machine", zone->name, o,
               static_cast<const void*>(page));
          break;
        }
        const unsigned long pfn = pfn_of(mem, page);
        const unsigned long size = 1UL << o;
        n++;
        if (!PageBuddy(page)) fail("pfn %#lx on the order-%u list is not PageBuddy", pfn, o);
        if (page_private(page) != o) fail("pfn %#lx on the order-%u list has order %lu", pfn, o, page_private(page));
        if (pfn & (size - 1)) fail("pfn %#lx on the order-%u list is not aligned", pfn, o);
        if (pfn + size > mem->max_pfn) fail("order-%u block at pfn %#lx runs off the memory map", o, pfn);
        if (!report.empty()) break;
        if (zonenum_of_pfn(mem, pfn) != zone->idx || zonenum_of_pfn(mem, pfn + size - 1) != zone->idx) {
          fail("order-%u block at pfn %#lx is not inside zone %s", o, pfn, zone->name);
          break;
        }
        if (o < MAX_ORDER - 1) {
          const struct page* buddy = pfn_to_page_in_span(mem, pfn ^ size);
          if (page_is_buddy(mem, zone->idx, buddy, o)) {
            fail("free order-%u buddies at pfn %#lx and %#lx were not merged", o, pfn, pfn ^ size);
          }
        }
        if (!on_block(pfn, o)) break;
      }
      if (report.empty() && n != zone->free_area[o].nr_free) {
        fail("zone %s order %u: list holds %lu blocks but nr_free is %lu", zone->name, o, n,
             zone->free_area[o].nr_free);
      }
      zone_free += n << o;
    }
    if (report.empty() && static_cast<long>(zone_free) != zone->free_pages.load(std::memory_order_relaxed)) {
      fail("zone %s: free lists hold %lu pages but NR_FREE_PAGES is %ld", zone->name, zone_free,
           zone->free_pages.load(std::memory_order_relaxed));
    }
    spin_unlock(&zone->lock);
    free_total += zone_free;
  }
  return free_total;
}

// The checks of one pfn, free (inside the order-block_order block at `block`) or not; returns its class.
template <typename Fail>
ION_NO_COVERAGE uint8_t check_pfn(const struct phys_mem* mem, unsigned long pfn, bool is_free, unsigned long block,
                                  unsigned int block_order, Fail& fail) {
  const struct page* page = &mem->mem_map[pfn - mem->min_pfn];
  if (!pfn_valid(mem, pfn)) {
    if (is_free) {
      fail("free order-%u block at pfn %#lx covers pfn %#lx outside RAM", block_order, block, pfn);
    } else if (page->flags != 0 || page_count_raw(page) != 0) {
      fail("hole pfn %#lx has a used struct page", pfn);
    }
    return kClassHole;
  }
  if (is_free) {
    if (pfn < mem->ram_start_pfn || pfn >= mem->ram_end_pfn) {
      fail("free order-%u block at pfn %#lx covers pfn %#lx outside RAM", block_order, block, pfn);
    } else if (PageReserved(page)) {
      fail("free order-%u block at pfn %#lx covers reserved pfn %#lx", block_order, block, pfn);
    } else if (page_count_raw(page) != 0) {
      fail("free order-%u block at pfn %#lx covers pfn %#lx with _count %d", block_order, block, pfn,
           page_count_raw(page));
    } else if (pfn != block && PageBuddy(page)) {
      fail("pfn %#lx inside the free order-%u block at %#lx is itself PageBuddy", pfn, block_order, block);
    } else if (PageCompound(page)) {
      fail("pfn %#lx in a free block is still part of a compound page", pfn);
    }
    return kClassFree;
  }
  if (PageBuddy(page)) fail("PageBuddy pfn %#lx is on no free list", pfn);
  if (PageReserved(page)) return kClassReserved;
  if (pfn < mem->ram_start_pfn || pfn >= mem->ram_end_pfn) fail("pfn %#lx outside RAM is not reserved", pfn);
  return kClassInUse;
}

// The totals both checks end with, from the pages of each class and the pages on the free lists.
template <typename Fail>
ION_NO_COVERAGE void check_totals(const struct phys_mem* mem, const unsigned long* class_count,
                                  unsigned long free_total, const std::string& report, Fail& fail) {
  const unsigned long span = mem->max_pfn - mem->min_pfn;
  const unsigned long present = span - class_count[kClassHole];
  const unsigned long reserved = class_count[kClassReserved];
  const unsigned long in_use = class_count[kClassInUse];
  const unsigned long allocated = nr_allocated_pages(mem);
  if (report.empty() && class_count[kClassFree] != free_total) {
    fail("the free lists hold %lu pages but %lu pages lie in free blocks", free_total, class_count[kClassFree]);
  }
  if (report.empty() && present != mem->present_pages) {
    fail("%lu pfns have a struct page but the machine has %lu present pages", present, mem->present_pages);
  }
  if (report.empty() && reserved != mem->reserved_pages) {
    fail("%lu pages are PG_reserved but the machine reserved %lu", reserved, mem->reserved_pages);
  }
  if (report.empty() && in_use != allocated) {
    fail("%lu pages are neither free nor reserved but %lu are allocated", in_use, allocated);
  }
  if (report.empty() && free_total + allocated + reserved != present) {
    fail("free %lu + allocated %lu + reserved %lu != present %lu", free_total, allocated, reserved, present);
  }
}

// A check's record of its first failure.
struct CheckReport {
  std::string text;
  template <typename... Args>
  void operator()(const char* fmt, Args... args) {
    if (!text.empty()) return;
    char buf[256];
    std::snprintf(buf, sizeof(buf), fmt, args...);
    text = buf;
  }
};

// Ends a check: keeps its report for the caller and, when it passed, the counters it saw.
const char* finish_check(struct phys_mem* mem, CheckReport& report) {
  mem->check_report = std::move(report.text);
  if (mem->check_report.empty()) remember_counters(mem);
  return mem->check_report.empty() ? nullptr : mem->check_report.c_str();
}

}  // namespace

// One walk of the free lists (O(blocks)) that marks each free block's head with its order, then one pass over
// the struct pages in pfn order that checks each page against the free block it lies in, if any.
ION_NO_COVERAGE const char* buddy_check(struct phys_mem* mem) {
  const unsigned long span = mem->max_pfn - mem->min_pfn;
  // Per pfn: 0, or 1 + the order of the free block this pfn heads.
  std::vector<uint8_t>& head_order = mem->check_state;
  head_order.assign(span, 0);
  CheckReport report;
  const unsigned long free_total = walk_free_lists(mem, report.text, report, [&](unsigned long pfn, unsigned int o) {
    uint8_t& mark = head_order[pfn - mem->min_pfn];
    if (mark != 0) {
      report("pfn %#lx is in two free blocks (the order-%u block at %#lx and another)", pfn, o, pfn);
      return false;
    }
    mark = static_cast<uint8_t>(1 + o);
    return true;
  });

  const bool tracked = page_changes_tracked(mem);
  if (tracked) {
    mem->page_class.assign(span, kClassHole);
    forget_page_changes(mem);
  }
  unsigned long class_count[4] = {0, 0, 0, 0};
  unsigned long block = 0;      // the head pfn of the free block being walked
  unsigned long block_end = 0;  // its end; a pfn below it is free
  unsigned int block_order = 0;
  for (unsigned long idx = 0; idx < span && report.text.empty(); idx++) {
    const unsigned long pfn = mem->min_pfn + idx;
    if (head_order[idx] != 0) {
      if (pfn < block_end) {
        report("pfn %#lx is in two free blocks (the order-%u block at %#lx and another)", pfn, block_order, block);
        break;
      }
      block = pfn;
      block_order = head_order[idx] - 1u;
      block_end = pfn + (1UL << block_order);
    }
    const uint8_t c = check_pfn(mem, pfn, pfn < block_end, block, block_order, report);
    class_count[c]++;
    if (tracked) mem->page_class[idx] = c;
  }
  if (tracked) std::copy(std::begin(class_count), std::end(class_count), mem->class_count);
  check_totals(mem, class_count, free_total, report.text, report);
  return finish_check(mem, report);
}

const char* buddy_track_changes(struct phys_mem* mem) {
  const unsigned long span = mem->max_pfn - mem->min_pfn;
  mem->changed_bits.assign((span + 63) / 64, 0UL);
  mem->changed_summary.assign((mem->changed_bits.size() + 63) / 64, 0UL);
  g_page_changes.bits = mem->changed_bits.data();
  g_page_changes.summary = mem->changed_summary.data();
  g_page_changes.begin = reinterpret_cast<uintptr_t>(mem->mem_map);
  g_page_changes.end = reinterpret_cast<uintptr_t>(mem->mem_map + span);
  return buddy_check(mem);
}

ION_NO_COVERAGE const char* buddy_check_changes(struct phys_mem* mem) {
  const unsigned long span = mem->max_pfn - mem->min_pfn;
  // The classes come from a full check since the tracking started.
  if (!page_changes_tracked(mem) || mem->page_class.size() != span) return buddy_check(mem);
  if (!any_page_changed(mem) && counters_as_checked(mem)) {
    mem->check_report.clear();
    return nullptr;
  }
  CheckReport report;
  // Every free block, from the lists, sorted by pfn.
  thread_local std::vector<std::pair<unsigned long, unsigned int>> blocks;  // (head pfn, order)
  blocks.clear();
  const unsigned long free_total = walk_free_lists(mem, report.text, report, [](unsigned long pfn, unsigned int o) {
    blocks.emplace_back(pfn, o);
    return true;
  });
  std::sort(blocks.begin(), blocks.end());
  for (size_t i = 1; i < blocks.size() && report.text.empty(); i++) {
    const auto& [prev, prev_order] = blocks[i - 1];
    if (prev + (1UL << prev_order) > blocks[i].first) {
      report("pfn %#lx is in two free blocks (the order-%u block at %#lx and another)", blocks[i].first, prev_order,
             prev);
    }
  }

  // The pages written since the last check: the per-page checks of buddy_check(), and their class. Every
  // written page is looked at (and its record cleared) even after a failure, whose report is the first one.
  for_each_changed_page(mem, [&](unsigned long idx) {
    if (!report.text.empty()) return;
    const unsigned long pfn = mem->min_pfn + idx;
    // The free block holding pfn, if any: the last block starting at or below it.
    auto it = std::upper_bound(blocks.begin(), blocks.end(), std::make_pair(pfn, ~0U));
    bool is_free = false;
    unsigned long block = 0;
    unsigned int block_order = 0;
    if (it != blocks.begin()) {
      --it;
      block = it->first;
      block_order = it->second;
      is_free = pfn < block + (1UL << block_order);
    }
    const uint8_t c = check_pfn(mem, pfn, is_free, block, block_order, report);
    mem->class_count[mem->page_class[idx]]--;
    mem->class_count[c]++;
    mem->page_class[idx] = c;
  });
  // A failed check leaves the classes as they were found; the next full check rebuilds them.
  check_totals(mem, mem->class_count, free_total, report.text, report);
  return finish_check(mem, report);
}

ION_NO_COVERAGE struct free_area_layout free_area_snapshot(struct phys_mem* mem) {
  struct free_area_layout layout;
  for (int z = 0; z < MAX_NR_ZONES; z++) {
    for (unsigned int o = 0; o < MAX_ORDER; o++) layout.pfns[z][o] = free_list_pfns(mem, static_cast<enum zone_type>(z), o);
  }
  return layout;
}

ION_NO_COVERAGE bool free_area_restore(struct phys_mem* mem, const struct free_area_layout& layout) {
  // Called once per fuzz input: the lists are read into kept vectors, and only lists out of order are relinked.
  thread_local std::vector<unsigned long> now;
  thread_local std::vector<unsigned long> then;
  bool relink[MAX_NR_ZONES][MAX_ORDER] = {};
  for (int z = 0; z < MAX_NR_ZONES; z++) {
    for (unsigned int o = 0; o < MAX_ORDER; o++) {
      const std::vector<unsigned long>& want = layout.pfns[z][o];
      read_free_list(mem, z, o, &now);
      if (now.size() != want.size()) return false;
      if (now == want) continue;
      then.assign(want.begin(), want.end());
      std::sort(now.begin(), now.end());
      std::sort(then.begin(), then.end());
      if (now != then) return false;
      relink[z][o] = true;
    }
  }
  for (int z = 0; z < MAX_NR_ZONES; z++) {
    struct zone* zone = &mem->zones[z];
    spin_lock(&zone->lock);
    for (unsigned int o = 0; o < MAX_ORDER; o++) {
      if (!relink[z][o]) continue;
      struct list_head* head = &zone->free_area[o].free_list;
      INIT_LIST_HEAD(head);
      for (unsigned long pfn : layout.pfns[z][o]) list_add_tail(&mem->mem_map[pfn - mem->min_pfn].lru, head);
    }
    spin_unlock(&zone->lock);
  }
  return true;
}

ION_NO_COVERAGE unsigned long free_pages_drop_bytes(struct phys_mem* mem) {
  unsigned long cleared = 0;
  for (int z = 0; z < MAX_NR_ZONES; z++) {
    struct zone* zone = &mem->zones[z];
    spin_lock(&zone->lock);
    for (unsigned int o = 0; o < MAX_ORDER; o++) {
      struct page* head;
      list_for_each_entry(head, &zone->free_area[o].free_list, lru) {
        const unsigned long first = static_cast<unsigned long>(head - mem->mem_map);
        const unsigned long end = first + (1UL << o);
        // Only the groups that hold a backed page are visited.
        for (unsigned long g = first / kBackedGroupPages; g * kBackedGroupPages < end; g++) {
          if (mem->backed_in_group[g].load(std::memory_order_relaxed) == 0) continue;
          const unsigned long lo = std::max(first, g * kBackedGroupPages);
          const unsigned long hi = std::min(end, (g + 1) * kBackedGroupPages);
          for (unsigned long idx = lo; idx < hi; idx++) {
            if (page_backing(&mem->mem_map[idx]) == nullptr) continue;
            clear_backed_page(&mem->mem_map[idx]);
            cleared++;
          }
        }
      }
    }
    spin_unlock(&zone->lock);
  }
  return cleared;
}

// ---- Shrinkers -------------------------------------------------------------------------------------------------

ION_MODULE_INIT Errno register_shrinker(struct phys_mem* mem, struct shrinker* shrinker) {
  shrinker->nr_deferred = kcalloc<long>(1, GFP_KERNEL);
  if (shrinker->nr_deferred == nullptr) return Errno(-ENOMEM);
  down_write(&mem->shrinker_rwsem);
  list_add_tail(&shrinker->list, &mem->shrinker_list);
  up_write(&mem->shrinker_rwsem);
  return Errno::Ok();
}

ION_MODULE_EXIT void unregister_shrinker(struct phys_mem* mem, struct shrinker* shrinker) {
  down_write(&mem->shrinker_rwsem);
  list_del(&shrinker->list);
  up_write(&mem->shrinker_rwsem);
  kfree_array(shrinker->nr_deferred);
}

namespace {

// Mirrors mm/vmscan.c:do_shrink_slab() @ v4.4: scans in batches, stops at SHRINK_STOP.
// Divergence: total_scan is everything the shrinker counts (v4.4 scales it by the LRU scan ratio and seeks).
unsigned long do_shrink_slab(struct shrink_control* sc, struct shrinker* shrinker) {
  const unsigned long freeable = shrinker->count_objects(shrinker, sc);
  if (freeable == 0) return 0;
  const unsigned long batch_size = shrinker->batch > 0 ? static_cast<unsigned long>(shrinker->batch) : SHRINK_BATCH;
  unsigned long total_scan = freeable;
  unsigned long freed = 0;
  while (total_scan >= batch_size || total_scan >= freeable) {
    const unsigned long nr_to_scan = std::min(batch_size, total_scan);
    sc->nr_to_scan = nr_to_scan;
    const unsigned long ret = shrinker->scan_objects(shrinker, sc);
    if (ret == SHRINK_STOP) break;
    freed += ret;
    total_scan -= nr_to_scan;
  }
  return freed;
}

}  // namespace

unsigned long shrink_slab(struct phys_mem* mem, gfp_t gfp_mask) {
  unsigned long freed = 0;
  down_read(&mem->shrinker_rwsem);
  struct shrinker* shrinker;
  list_for_each_entry(shrinker, &mem->shrinker_list, list) {
    struct shrink_control sc = {gfp_mask, 0};
    freed += do_shrink_slab(&sc, shrinker);
  }
  up_read(&mem->shrinker_rwsem);
  return freed;
}

}  // namespace ionsim::kernel
