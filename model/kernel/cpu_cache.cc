// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "model/kernel/cpu_cache.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "model/kernel/bug.h"
#include "model/kernel/mm.h"

namespace ionsim::kernel {
namespace {

constexpr size_t kLinesPerPage = PAGE_SIZE / L1_CACHE_BYTES;
static_assert(kLinesPerPage == 64, "one bit per line in a uint64_t");

enum class hazard_kind { kDeviceReadDirty, kDeviceWriteDirty, kCpuReadStale, kDirtyDiscarded };

// The lines of one page that the cache and memory disagree about.
struct cache_page {
  uint64_t dirty = 0;  // the CPU's copy is newer than memory
  uint64_t stale = 0;  // memory is newer than the CPU's copy
  uint32_t cpu_origin[kLinesPerPage] = {};  // who dirtied each dirty line (index into cpu_cache::strings)
  uint32_t dev_origin[kLinesPerPage] = {};  // who wrote each stale line
  uint32_t owner = 0;                       // the memory's name for reports, 0 unknown
  uint64_t owner_offset = 0;                // the page's offset in it
  // Non-coherent mode: for a dirty line memory's bytes, for a stale line the CPU's copy.
  std::unique_ptr<uint8_t[]> other;
};

struct hazard {
  hazard_kind kind;
  unsigned long pfn;
  unsigned int line;
  uint32_t writer;
  uint32_t owner;
  uint64_t owner_offset;
  const char* by;  // kDirtyDiscarded: the maintenance function
};

}  // namespace

struct cpu_cache {
  std::mutex mu;
  bool noncoherent = false;
  std::unordered_map<unsigned long, std::unique_ptr<cache_page>> pages;  // by pfn
  std::vector<std::string> strings{std::string()};
  std::unordered_map<std::string, uint32_t> string_index;
  std::string origin;
  uint32_t origin_index = 0;  // origin interned, 0 when not yet
  std::vector<hazard> pending;
  std::atomic<size_t> tracked{0};       // pages.size(), readable without mu
  std::atomic<size_t> pending_count{0};  // pending.size(), readable without mu
  size_t hazards = 0;
};

namespace {

struct cpu_cache* cache_of(const struct page* page) {
  struct phys_mem* mem = page_phys_mem(page);
  return mem == nullptr ? nullptr : mem->cpu_cache;
}

uint32_t intern(struct cpu_cache* c, const std::string& s) {
  auto it = c->string_index.find(s);
  if (it != c->string_index.end()) return it->second;
  const uint32_t idx = static_cast<uint32_t>(c->strings.size());
  c->strings.push_back(s);
  c->string_index.emplace(s, idx);
  return idx;
}

// The current operation's name, or `fallback` when none is set.
uint32_t origin(struct cpu_cache* c, const char* fallback) {
  if (!c->origin.empty()) {
    if (c->origin_index == 0) c->origin_index = intern(c, c->origin);
    return c->origin_index;
  }
  return intern(c, fallback);
}

cache_page* find_page(struct cpu_cache* c, unsigned long pfn) {
  auto it = c->pages.find(pfn);
  return it == c->pages.end() ? nullptr : it->second.get();
}

cache_page* get_page_state(struct cpu_cache* c, unsigned long pfn) {
  std::unique_ptr<cache_page>& slot = c->pages[pfn];
  if (!slot) {
    slot = std::make_unique<cache_page>();
    c->tracked.store(c->pages.size(), std::memory_order_relaxed);
  }
  if (c->noncoherent && !slot->other) slot->other = std::make_unique<uint8_t[]>(PAGE_SIZE);
  return slot.get();
}

void drop_if_clean(struct cpu_cache* c, unsigned long pfn, cache_page* st) {
  if (st->dirty == 0 && st->stale == 0) {
    c->pages.erase(pfn);
    c->tracked.store(c->pages.size(), std::memory_order_relaxed);
  }
}

// The bit mask of the lines overlapping [offset, offset + len) of a page.
uint64_t line_mask(size_t offset, size_t len) {
  if (len == 0) return 0;
  const size_t first = offset / L1_CACHE_BYTES;
  const size_t last = (offset + len - 1) / L1_CACHE_BYTES;
  const size_t n = last - first + 1;
  return (n >= 64 ? ~uint64_t{0} : ((uint64_t{1} << n) - 1)) << first;
}

void add_hazard(struct cpu_cache* c, hazard h) {
  c->pending.push_back(h);
  c->hazards++;
  c->pending_count.store(c->pending.size(), std::memory_order_relaxed);
}

// Copies the part of line `line` inside [offset, offset + len) from `from` (a page image) into dst (the
// caller's buffer for that range).
void copy_line_part(uint8_t* dst, size_t offset, size_t len, const uint8_t* from, unsigned int line) {
  const size_t lo = std::max<size_t>(offset, line * L1_CACHE_BYTES);
  const size_t hi = std::min<size_t>(offset + len, (line + 1) * L1_CACHE_BYTES);
  if (lo < hi) std::memcpy(dst + (lo - offset), from + lo, hi - lo);
}

void save_line(cache_page* st, const struct page* page, unsigned int line) {
  page_read(page, line * L1_CACHE_BYTES, st->other.get() + line * L1_CACHE_BYTES, L1_CACHE_BYTES);
}

void restore_line(cache_page* st, struct page* page, unsigned int line) {
  page_write(page, line * L1_CACHE_BYTES, st->other.get() + line * L1_CACHE_BYTES, L1_CACHE_BYTES);
}

std::string hex(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

// "buffer b3 bytes 0x0-0xfff (lines 0-63)" or "phys 0x9fc00000-0x9fc00fff (lines ...)".
std::string where(const struct cpu_cache* c, const hazard& first, const hazard& last, unsigned long first_pfn_phys) {
  std::string out;
  if (first.owner != 0) {
    const uint64_t lo = first.owner_offset + first.line * L1_CACHE_BYTES;
    const uint64_t hi = last.owner_offset + (last.line + 1) * L1_CACHE_BYTES - 1;
    out = c->strings[first.owner] + " bytes " + hex(lo) + "-" + hex(hi) + " (lines " +
          std::to_string(lo / L1_CACHE_BYTES) + "-" + std::to_string(hi / L1_CACHE_BYTES) + ")";
  } else {
    const uint64_t lo = first_pfn_phys + first.line * L1_CACHE_BYTES;
    const uint64_t hi = (static_cast<uint64_t>(last.pfn) << PAGE_SHIFT) + (last.line + 1) * L1_CACHE_BYTES - 1;
    out = "phys " + hex(lo) + "-" + hex(hi) + " (" +
          std::to_string((hi + 1 - lo) / L1_CACHE_BYTES) + " lines)";
  }
  return out;
}

bool follows(const hazard& a, const hazard& b) {
  if (a.kind != b.kind || a.writer != b.writer || a.owner != b.owner || a.by != b.by) return false;
  if (a.owner != 0) {
    return b.owner_offset + b.line * L1_CACHE_BYTES == a.owner_offset + (a.line + 1) * L1_CACHE_BYTES;
  }
  return (static_cast<uint64_t>(b.pfn) << PAGE_SHIFT) + b.line * L1_CACHE_BYTES ==
         (static_cast<uint64_t>(a.pfn) << PAGE_SHIFT) + (a.line + 1) * L1_CACHE_BYTES;
}

}  // namespace

struct cpu_cache* cpu_cache_create() { return new cpu_cache(); }

void cpu_cache_destroy(struct cpu_cache* cache) { delete cache; }

void cpu_cache_set_noncoherent(struct phys_mem* mem, bool on) {
  struct cpu_cache* c = mem->cpu_cache;
  std::lock_guard<std::mutex> lock(c->mu);
  c->noncoherent = on;
  // Lines tracked before the switch have no second image: memory is taken to agree with the cache for them.
  for (auto& [pfn, st] : c->pages) {
    if (on && !st->other) {
      st->other = std::make_unique<uint8_t[]>(PAGE_SIZE);
      page_read(pfn_to_page(mem, pfn), 0, st->other.get(), PAGE_SIZE);
    }
  }
}

bool cpu_cache_noncoherent(struct phys_mem* mem) {
  std::lock_guard<std::mutex> lock(mem->cpu_cache->mu);
  return mem->cpu_cache->noncoherent;
}

void cpu_cache_set_origin(struct phys_mem* mem, const std::string& origin) {
  struct cpu_cache* c = mem->cpu_cache;
  std::lock_guard<std::mutex> lock(c->mu);
  c->origin = origin;
  c->origin_index = 0;
}

void cpu_cache_read(const struct page* page, size_t offset, void* dst, size_t len, bool cacheable) {
  page_read(page, offset, dst, len);
  struct cpu_cache* c = cache_of(page);
  if (c == nullptr || c->tracked.load(std::memory_order_relaxed) == 0) return;
  std::lock_guard<std::mutex> lock(c->mu);
  const unsigned long pfn = page_to_pfn(page);
  cache_page* st = find_page(c, pfn);
  if (st == nullptr) return;
  const uint64_t mask = line_mask(offset, len);
  // A cacheable load of a stale line hits the CPU's old copy; an uncached load of a dirty line reads memory.
  const uint64_t hit = cacheable ? (st->stale & mask) : (st->dirty & mask);
  for (unsigned int line = 0; line < kLinesPerPage; line++) {
    if (!(hit & (uint64_t{1} << line))) continue;
    if (cacheable) {
      add_hazard(c, hazard{hazard_kind::kCpuReadStale, pfn, line, st->dev_origin[line], st->owner, st->owner_offset,
                           nullptr});
    }
    if (c->noncoherent) copy_line_part(static_cast<uint8_t*>(dst), offset, len, st->other.get(), line);
  }
}

void cpu_cache_write(struct page* page, size_t offset, const void* src, size_t len, bool cacheable) {
  struct cpu_cache* c = cache_of(page);
  if (c == nullptr || (!cacheable && c->tracked.load(std::memory_order_relaxed) == 0)) {
    page_write(page, offset, src, len);
    return;
  }
  std::lock_guard<std::mutex> lock(c->mu);
  const unsigned long pfn = page_to_pfn(page);
  const uint64_t mask = line_mask(offset, len);
  if (!cacheable) {
    // To memory: the older image of a dirty line is memory, and takes the store.
    cache_page* st = find_page(c, pfn);
    if (st != nullptr && c->noncoherent) {
      for (unsigned int line = 0; line < kLinesPerPage; line++) {
        if (!(st->dirty & mask & (uint64_t{1} << line))) continue;
        const size_t lo = std::max<size_t>(offset, line * L1_CACHE_BYTES);
        const size_t hi = std::min<size_t>(offset + len, (line + 1) * L1_CACHE_BYTES);
        std::memcpy(st->other.get() + lo, static_cast<const uint8_t*>(src) + (lo - offset), hi - lo);
      }
    }
    page_write(page, offset, src, len);
    return;
  }
  cache_page* st = get_page_state(c, pfn);
  const uint32_t who = origin(c, "CPU store");
  for (unsigned int line = 0; line < kLinesPerPage; line++) {
    const uint64_t bit = uint64_t{1} << line;
    if (!(mask & bit)) continue;
    if (st->stale & bit) {
      // The store lands in the CPU's old copy, which becomes dirty; memory keeps the device's bytes.
      if (c->noncoherent) {
        uint8_t device_bytes[L1_CACHE_BYTES];
        page_read(page, line * L1_CACHE_BYTES, device_bytes, L1_CACHE_BYTES);
        restore_line(st, page, line);
        std::memcpy(st->other.get() + line * L1_CACHE_BYTES, device_bytes, L1_CACHE_BYTES);
      }
      st->stale &= ~bit;
    } else if (!(st->dirty & bit) && c->noncoherent) {
      save_line(st, page, line);
    }
    st->dirty |= bit;
    st->cpu_origin[line] = who;
  }
  page_write(page, offset, src, len);
}

void cpu_cache_zeroed(struct page* page, bool cacheable) {
  static const uint8_t zeros[PAGE_SIZE] = {};
  struct cpu_cache* c = cache_of(page);
  if (!cacheable || c == nullptr) {
    if (c != nullptr && c->tracked.load(std::memory_order_relaxed) != 0) {
      cpu_cache_write(page, 0, zeros, PAGE_SIZE, false);
    }
    clear_page(page);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(c->mu);
    const unsigned long pfn = page_to_pfn(page);
    cache_page* st = get_page_state(c, pfn);
    const uint32_t who = intern(c, "kernel zeroing (ion_heap_buffer_zero)");
    if (c->noncoherent) {
      for (unsigned int line = 0; line < kLinesPerPage; line++) {
        const uint64_t bit = uint64_t{1} << line;
        if (st->stale & bit) {
          // The zeros land in the CPU's old copy; memory keeps the device's bytes.
          page_read(page, line * L1_CACHE_BYTES, st->other.get() + line * L1_CACHE_BYTES, L1_CACHE_BYTES);
        } else if (!(st->dirty & bit)) {
          save_line(st, page, line);
        }
      }
    }
    st->stale = 0;
    st->dirty = ~uint64_t{0};
    std::fill(std::begin(st->cpu_origin), std::end(st->cpu_origin), who);
  }
  clear_page(page);
}

namespace {

// Walks the pages of [offset, offset + len) from `page` (consecutive struct pages), calling fn(pfn page, mask).
template <typename Fn>
void for_each_page_lines(struct page* page, size_t offset, size_t len, Fn fn) {
  size_t done = 0;
  size_t at = offset;
  while (done < len) {
    struct page* p = nth_page(page, at / PAGE_SIZE);
    const size_t in = at % PAGE_SIZE;
    const size_t n = std::min<size_t>(len - done, PAGE_SIZE - in);
    fn(p, line_mask(in, n));
    done += n;
    at += n;
  }
}

}  // namespace

void cpu_cache_clean(struct page* page, size_t offset, size_t len, const char* /*by*/) {
  struct cpu_cache* c = cache_of(page);
  if (c == nullptr || c->tracked.load(std::memory_order_relaxed) == 0) return;
  std::lock_guard<std::mutex> lock(c->mu);
  for_each_page_lines(page, offset, len, [c](struct page* p, uint64_t mask) {
    const unsigned long pfn = page_to_pfn(p);
    cache_page* st = find_page(c, pfn);
    if (st == nullptr) return;
    st->dirty &= ~mask;  // written back: memory now holds the page's bytes
    drop_if_clean(c, pfn, st);
  });
}

void cpu_cache_invalidate(struct page* page, size_t offset, size_t len, const char* by) {
  struct cpu_cache* c = cache_of(page);
  if (c == nullptr || c->tracked.load(std::memory_order_relaxed) == 0) return;
  std::lock_guard<std::mutex> lock(c->mu);
  for_each_page_lines(page, offset, len, [c, by](struct page* p, uint64_t mask) {
    const unsigned long pfn = page_to_pfn(p);
    cache_page* st = find_page(c, pfn);
    if (st == nullptr) return;
    const uint64_t lost = st->dirty & mask;
    for (unsigned int line = 0; line < kLinesPerPage && lost != 0; line++) {
      if (!(lost & (uint64_t{1} << line))) continue;
      add_hazard(c, hazard{hazard_kind::kDirtyDiscarded, pfn, line, st->cpu_origin[line], st->owner,
                           st->owner_offset, by});
      if (c->noncoherent) restore_line(st, p, line);  // the CPU's stores are gone
    }
    st->dirty &= ~mask;
    st->stale &= ~mask;  // the CPU's next load reads memory
    drop_if_clean(c, pfn, st);
  });
}

void dma_device_read(const char* who, const char* owner, uint64_t owner_offset, const struct page* page,
                     size_t offset, void* dst, size_t len) {
  page_read(page, offset, dst, len);
  struct cpu_cache* c = cache_of(page);
  if (c == nullptr || c->tracked.load(std::memory_order_relaxed) == 0) return;
  std::lock_guard<std::mutex> lock(c->mu);
  const unsigned long pfn = page_to_pfn(page);
  cache_page* st = find_page(c, pfn);
  if (st == nullptr) return;
  st->owner = intern(c, owner);
  st->owner_offset = owner_offset;
  const uint64_t hit = st->dirty & line_mask(offset, len);
  for (unsigned int line = 0; line < kLinesPerPage && hit != 0; line++) {
    if (!(hit & (uint64_t{1} << line))) continue;
    add_hazard(c, hazard{hazard_kind::kDeviceReadDirty, pfn, line, st->cpu_origin[line], st->owner, owner_offset,
                         who});
    if (c->noncoherent) copy_line_part(static_cast<uint8_t*>(dst), offset, len, st->other.get(), line);
  }
}

void dma_device_write(const char* who, const char* owner, uint64_t owner_offset, struct page* page, size_t offset,
                      const void* src, size_t len) {
  struct cpu_cache* c = cache_of(page);
  if (c == nullptr) {
    page_write(page, offset, src, len);
    return;
  }
  std::lock_guard<std::mutex> lock(c->mu);
  const unsigned long pfn = page_to_pfn(page);
  cache_page* st = get_page_state(c, pfn);
  st->owner = intern(c, owner);
  st->owner_offset = owner_offset;
  const uint32_t writer = origin(c, who);
  const uint64_t mask = line_mask(offset, len);
  for (unsigned int line = 0; line < kLinesPerPage; line++) {
    const uint64_t bit = uint64_t{1} << line;
    if (!(mask & bit)) continue;
    if (st->dirty & bit) {
      add_hazard(c, hazard{hazard_kind::kDeviceWriteDirty, pfn, line, st->cpu_origin[line], st->owner,
                           owner_offset, who});
      // The CPU's dirty copy stays in the cache: from the CPU's side the line is now stale.
      if (c->noncoherent) save_line(st, page, line);
      st->dirty &= ~bit;
    } else if (!(st->stale & bit) && c->noncoherent) {
      save_line(st, page, line);  // the CPU's copy is what memory held
    }
    st->stale |= bit;
    st->dev_origin[line] = writer;
  }
  page_write(page, offset, src, len);
}

void cpu_cache_report(struct phys_mem* mem, const char* reader) {
  struct cpu_cache* c = mem == nullptr ? nullptr : mem->cpu_cache;
  if (c == nullptr || c->pending_count.load(std::memory_order_relaxed) == 0) return;
  std::vector<std::string> messages;
  {
    std::lock_guard<std::mutex> lock(c->mu);
    std::vector<hazard> hs;
    hs.swap(c->pending);
    c->pending_count.store(0, std::memory_order_relaxed);
    std::stable_sort(hs.begin(), hs.end(), [](const hazard& a, const hazard& b) {
      if (a.kind != b.kind) return a.kind < b.kind;
      if (a.owner != b.owner) return a.owner < b.owner;
      if (a.owner != 0 && a.owner_offset != b.owner_offset) return a.owner_offset < b.owner_offset;
      if (a.pfn != b.pfn) return a.pfn < b.pfn;
      return a.line < b.line;
    });
    const std::string now = c->origin.empty() ? std::string(reader) : reader + std::string(" at ") + c->origin;
    for (size_t i = 0; i < hs.size();) {
      size_t j = i;
      while (j + 1 < hs.size() && follows(hs[j], hs[j + 1])) j++;
      const hazard& h = hs[i];
      const std::string range = where(c, h, hs[j], static_cast<unsigned long>(h.pfn) << PAGE_SHIFT);
      const std::string& writer = c->strings[h.writer];
      std::string m;
      switch (h.kind) {
        case hazard_kind::kDeviceReadDirty:
          m = "stale read by the device: " + range + " read by " + now + "; the CPU dirtied these lines through " +
              "a cached mapping at " + writer + " and nobody cleaned them (the device reads memory's older " +
              "bytes); missing: a " +
              "clean for the device after the CPU's stores (dma_sync_sg_for_device or dma_map_sg with " +
              "DMA_TO_DEVICE or DMA_BIDIRECTIONAL: ION_IOC_SYNC on the buffer's fd, or, for a fault-mode " +
              "buffer, mapping the attachment after the stores: ion_map_dma_buf syncs its dirty pages)";
          break;
        case hazard_kind::kDeviceWriteDirty:
          m = "device write over dirty lines: " + range + " written by " + now + "; the CPU dirtied these lines at " +
              writer + " and nobody cleaned or invalidated them (a later write-back of the CPU's lines overwrites " +
              "the " +
              "device's bytes, and CPU loads see the CPU's copy); missing: the sync for the device before the " +
              "DMA (dma_sync_sg_for_device or dma_map_sg: ION_IOC_SYNC, or a map_dma_buf that cleans)";
          break;
        case hazard_kind::kCpuReadStale:
          m = "stale read by the CPU: " + range + " read through a cached mapping by " + now + "; " + writer +
              " wrote these lines by DMA and nobody invalidated the CPU's copy (the CPU reads its old cached " +
              "bytes); missing: an invalidate " +
              "for the CPU (dma_sync_sg_for_cpu or dma_unmap_sg with DMA_FROM_DEVICE or DMA_BIDIRECTIONAL) after " +
              "the device's write";
          break;
        case hazard_kind::kDirtyDiscarded:
          m = std::string("CPU stores discarded: ") + range + " invalidated by " + h.by +
              (c->origin.empty() ? std::string() : " at " + c->origin) + "; the CPU dirtied these lines at " +
              writer + " and nobody cleaned them (the stores never reach memory); missing: a clean " +
              "(dma_sync_sg_for_device " +
              "with DMA_TO_DEVICE or DMA_BIDIRECTIONAL: ION_IOC_SYNC) before the invalidate";
          break;
      }
      messages.push_back(std::move(m));
      i = j + 1;
    }
  }
  for (const std::string& m : messages) {
    report_kernel_event(BugKind::kCoherency, __FILE__, __LINE__, __func__, true, "%s", m.c_str());
  }
}

size_t cpu_cache_dirty_lines(struct phys_mem* mem) {
  std::lock_guard<std::mutex> lock(mem->cpu_cache->mu);
  size_t n = 0;
  for (const auto& [pfn, st] : mem->cpu_cache->pages) n += static_cast<size_t>(__builtin_popcountll(st->dirty));
  return n;
}

size_t cpu_cache_stale_lines(struct phys_mem* mem) {
  std::lock_guard<std::mutex> lock(mem->cpu_cache->mu);
  size_t n = 0;
  for (const auto& [pfn, st] : mem->cpu_cache->pages) n += static_cast<size_t>(__builtin_popcountll(st->stale));
  return n;
}

size_t cpu_cache_hazard_count(struct phys_mem* mem) {
  std::lock_guard<std::mutex> lock(mem->cpu_cache->mu);
  return mem->cpu_cache->hazards;
}

}  // namespace ionsim::kernel
