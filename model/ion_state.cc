// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "model/ion_state.h"

#include <algorithm>
#include <cinttypes>
#include <cstdarg>
#include <cstdlib>
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "model/kernel/compiler.h"
#include "model/kernel/genalloc.h"

namespace ionsim::kernel {

extern const struct dma_buf_ops ion_dma_buf_ops;

namespace {

const char* heap_type_name(enum ion_heap_type type) {
  switch (type) {
    case ION_HEAP_TYPE_SYSTEM:
      return "system";
    case ION_HEAP_TYPE_SYSTEM_CONTIG:
      return "system_contig";
    case ION_HEAP_TYPE_CARVEOUT:
      return "carveout";
    case ION_HEAP_TYPE_CHUNK:
      return "chunk";
    case ION_HEAP_TYPE_DMA:
      return "dma";
    case ION_HEAP_TYPE_CUSTOM:
      return "custom";
  }
  return "unknown";
}

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  return buf;
}

// The physical base of a heap with a fixed range (carveout, chunk, dma), or false for the system heaps.
bool heap_range_base(struct ion_heap* heap, phys_addr_t* base) {
  switch (heap->type) {
    case ION_HEAP_TYPE_CARVEOUT:
      *base = ion_carveout_heap_base(heap);
      return true;
    case ION_HEAP_TYPE_CHUNK:
      *base = ion_chunk_heap_base(heap);
      return true;
    case ION_HEAP_TYPE_DMA:
      *base = ion_cma_heap_base(heap);
      return true;
    default:
      return false;
  }
}

// The offsets of a buffer's sg entries from its heap's base ("0x0,0x4000"), or "-" when the heap has no range.
std::string buffer_offsets(struct ion_buffer* buffer) {
  phys_addr_t base;
  if (!buffer->sg_table || !heap_range_base(buffer->heap, &base)) return "-";
  std::string out;
  struct scatterlist* sg;
  unsigned int i;
  for_each_sg(buffer->sg_table->sgl, sg, buffer->sg_table->nents, i) {
    const unsigned long long off = page_to_phys(sg_page(sg)) - base;
    out += (out.empty() ? "" : ",") + format("0x%llx", off);
  }
  return out.empty() ? "-" : out;
}

std::string buffer_line(struct ion_buffer* buffer) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  const std::string off = buffer_offsets(buffer);
  // The offset list can be long (a chunk buffer has one entry per chunk): it is appended, not formatted.
  std::string line = format("buffer b%lu heap=%s size=%zu offset=", buffer->serial, buffer->heap->name, buffer->size);
  line += off;
  line += format(" flags=0x%lx ref=%d handles=%d kmap=%d", buffer->flags, kref_read(&buffer->ref),
                 buffer->handle_count, buffer->kmap_cnt);
  if (buffer->heap->type == ION_HEAP_TYPE_DMA) line += format(" map=%s", ion_cma_buffer_map_attr(buffer));
  return line + "\n";
}

// The lines a heap adds under its "heap" line: the system heap's pools, the chunk heap's counter.
std::string heap_detail_lines(struct ion_heap* heap) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  std::string out;
  if (heap->type == ION_HEAP_TYPE_SYSTEM) {
    for (int i = 0; i < ion_system_heap_num_orders; i++) {
      struct ion_page_pool* pool = ion_system_heap_pool(heap, i);
      mutex_lock(&pool->mutex);
      out += format("  pool order=%u high=%d low=%d\n", pool->order, pool->high_count, pool->low_count);
      mutex_unlock(&pool->mutex);
    }
  } else if (heap->type == ION_HEAP_TYPE_CHUNK) {
    out += format("  chunk allocated=%lu\n", ion_chunk_heap_allocated(heap));
  } else if (heap->type == ION_HEAP_TYPE_DMA) {
    out += format("  dma alloc=%s\n", ion_cma_heap_alloc_name(heap));
  }
  return out;
}

// The clients or buffers of a device tree (each linked by its `node`) into *out: in creation order when
// by_serial, otherwise in tree order (no sorting).
template <typename T>
void collect_tree(struct rb_root* root, std::vector<T*>* out, bool by_serial) {
  out->clear();
  for (struct rb_node* n = rb_first(root); n; n = rb_next(n)) out->push_back(rb_entry(n, T, node));
  if (by_serial) std::sort(out->begin(), out->end(), [](const T* a, const T* b) { return a->serial < b->serial; });
}

}  // namespace

std::string ion_canonical_dump(struct ion_device* dev) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  std::string out = "ionsim-state 1\n";
  down_read(&dev->lock);
  struct ion_heap* heap;
  plist_for_each_entry(heap, &dev->heaps, node) {
    std::string free_list;
    size_t free_bytes = 0;
    spin_lock(&heap->free_lock);
    if (heap->flags & ION_HEAP_FLAG_DEFER_FREE) {
      struct ion_buffer* buffer;
      const struct ion_buffer* prev = nullptr;
      list_for_each_entry(buffer, &heap->free_list, list) {
        // '+' joins neighbours one client destroy freed (in buffer-address order); ',' separates the rest.
        const bool joined = prev != nullptr && prev->free_group != 0 && prev->free_group == buffer->free_group;
        free_list += (prev == nullptr ? "" : joined ? "+" : ",") + format("b%lu", buffer->serial);
        prev = buffer;
      }
      free_bytes = heap->free_list_size;
    }
    spin_unlock(&heap->free_lock);
    out += format("heap %u %s type=%s defer=%d free_list_bytes=%zu free_list=%s\n", heap->id, heap->name,
                  heap_type_name(heap->type), (heap->flags & ION_HEAP_FLAG_DEFER_FREE) ? 1 : 0, free_bytes,
                  free_list.empty() ? "-" : free_list.c_str());
    out += heap_detail_lines(heap);
  }
  std::vector<struct ion_buffer*> buffers;
  mutex_lock(&dev->buffer_lock);
  collect_tree(&dev->buffers, &buffers, /*by_serial=*/true);
  for (struct ion_buffer* buffer : buffers) out += buffer_line(buffer);
  mutex_unlock(&dev->buffer_lock);
  std::vector<struct ion_client*> clients;
  collect_tree(&dev->clients, &clients, /*by_serial=*/true);
  for (struct ion_client* client : clients) {
    mutex_lock(&client->lock);
    std::map<int, struct ion_handle*> handles;
    for (struct rb_node* n = rb_first(&client->handles); n; n = rb_next(n)) {
      struct ion_handle* handle = rb_entry(n, struct ion_handle, node);
      handles[handle->id] = handle;
    }
    out += format("client c%lu handles=%zu\n", client->serial, handles.size());
    // Profile android-3.18 (switch user_ref_count): userspace's references, counted apart from the kref.
    const bool user_refs = ion_profile_has(dev->profile, ION_SW_USER_REF_COUNT);
    for (const auto& [id, handle] : handles) {
      out += format("  handle %d b%lu ref=%d kmap=%u", id, handle->buffer->serial, kref_read(&handle->ref),
                    handle->kmap_cnt);
      out += user_refs ? format(" user=%u\n", handle->user_ref_count) : "\n";
    }
    mutex_unlock(&client->lock);
  }
  up_read(&dev->lock);
  return out;
}

namespace {

// The "total" line of a heap's debugfs file, rendered and parsed, or -1 when it cannot be read.
long long debugfs_heap_total_text(const struct ion_heap* heap) {
  ErrnoOr<std::string> text = debugfs_read_file(std::string("ion/heaps/") + heap->name);
  if (!text.ok()) return -1;
  // The line is "%16s %16zu" of "total ": ten spaces, "total ", then the number.
  const std::string& s = text.value();
  for (size_t pos = s.find("total "); pos != std::string::npos; pos = s.find("total ", pos + 1)) {
    if (pos == 10 || (pos > 10 && s[pos - 11] == '\n')) {
      if (s.compare(pos - 10, 10, std::string(10, ' ')) == 0) return std::strtoll(s.c_str() + pos + 6, nullptr, 10);
    }
  }
  return -1;
}

// The checker's locking (ion_check_locking): each call takes the lock only when the state may change under it.
struct CheckLocks {
  bool on;
  void lock(struct mutex* m) const ABSL_NO_THREAD_SAFETY_ANALYSIS {
    if (on) mutex_lock(m);
  }
  void unlock(struct mutex* m) const ABSL_NO_THREAD_SAFETY_ANALYSIS {
    if (on) mutex_unlock(m);
  }
  void lock(spinlock_t* l) const ABSL_NO_THREAD_SAFETY_ANALYSIS {
    if (on) spin_lock(l);
  }
  void unlock(spinlock_t* l) const ABSL_NO_THREAD_SAFETY_ANALYSIS {
    if (on) spin_unlock(l);
  }
  void read_lock(struct rw_semaphore* sem) const ABSL_NO_THREAD_SAFETY_ANALYSIS {
    if (on) down_read(sem);
  }
  void read_unlock(struct rw_semaphore* sem) const ABSL_NO_THREAD_SAFETY_ANALYSIS {
    if (on) up_read(sem);
  }
};

// The heap-type allocator checks: the system heap's pools hold blocks of their order in the right zone list
// and have non-negative counts; the chunk heap's allocated counter and genalloc pool agree with the chunks its
// buffers hold; a dma heap's CMA area has exactly its buffers' pages in use.
template <typename Fail>
ION_NO_COVERAGE void check_heap_allocator(struct ion_heap* heap, const std::vector<struct ion_buffer*>& held,
                                          const CheckLocks& locks, Fail& fail) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  if (heap->type == ION_HEAP_TYPE_SYSTEM) {
    for (int i = 0; i < ion_system_heap_num_orders; i++) {
      struct ion_page_pool* pool = ion_system_heap_pool(heap, i);
      locks.lock(&pool->mutex);
      for (int high = 0; high <= 1; high++) {
        struct list_head* items = high ? &pool->high_items : &pool->low_items;
        const int count = high ? pool->high_count : pool->low_count;
        int n = 0;
        struct page* page;
        list_for_each_entry(page, items, lru) {
          n++;
          if (compound_order(page) != pool->order || PageHighMem(page) != static_cast<bool>(high) ||
              PageBuddy(page)) {
            fail(format("heap %s: pool order %u holds a page of order %u (%s, %s)", heap->name, pool->order,
                        compound_order(page), PageHighMem(page) ? "highmem" : "lowmem",
                        PageBuddy(page) ? "free in the buddy allocator" : "allocated"));
          }
        }
        if (count < 0 || n != count) {
          fail(format("heap %s: pool order %u %s count %d but the list holds %d", heap->name, pool->order,
                      high ? "high" : "low", count, n));
        }
      }
      locks.unlock(&pool->mutex);
    }
  } else if (heap->type == ION_HEAP_TYPE_CHUNK) {
    const unsigned long chunk = ion_chunk_heap_chunk_size(heap);
    unsigned long held_bytes = 0;
    for (const struct ion_buffer* buffer : held) held_bytes += (buffer->size + chunk - 1) & ~(chunk - 1);
    const unsigned long allocated = ion_chunk_heap_allocated(heap);
    if (allocated != held_bytes) {
      fail(format("heap %s: allocated counter %lu but buffers hold %lu bytes of chunks", heap->name, allocated, held_bytes));
    }
    struct gen_pool* pool = ion_chunk_heap_pool(heap);
    if (const char* bad = gen_pool_check(pool)) fail(format("heap %s: genalloc: %s", heap->name, bad));
    const size_t expected = gen_pool_size(pool) - held_bytes;
    const bool lost_chunk_zero = ion_chunk_heap_base(heap) == 0 && gen_pool_avail(pool) + chunk == expected;
    if (gen_pool_avail(pool) != expected && !lost_chunk_zero) {
      fail(format("heap %s: genalloc has %zu bytes free, buffers leave %zu", heap->name, gen_pool_avail(pool), expected));
    }
  } else if (heap->type == ION_HEAP_TYPE_DMA) {
    unsigned long pages = 0;
    for (const struct ion_buffer* buffer : held) pages += PAGE_ALIGN(buffer->size) >> PAGE_SHIFT;
    const unsigned long used = ion_cma_heap_used_pages(heap);
    if (used != pages) fail(format("heap %s: CMA area has %lu pages in use, buffers hold %lu", heap->name, used, pages));
  }
}

// What one heap's buffers add up to (the heap is CheckScratch::heap_keys at the same index).
struct HeapSums {
  size_t live_bytes = 0;                  // live buffers (in the device tree)
  size_t debugfs_bytes = 0;               // live buffers of the heap's id, as ion_debug_heap_show() sums them
  size_t pool_bytes = 0;                  // page-rounded, live and free-listed
  std::vector<struct ion_buffer*> held;   // live and free-listed
};

// The checker's working memory, kept between calls so that a check after every operation allocates nothing
// once it has seen the largest state. Everything is a small sorted vector: the states the checker sees hold
// tens of objects.
struct CheckScratch {
  std::vector<const struct ion_buffer*> dmabuf_privs;   // the priv of every ION dma-buf, sorted
  std::vector<const struct ion_buffer*> handle_buffers;  // the buffer of every handle, sorted
  std::vector<std::pair<int, struct ion_handle*>> idr;  // one client's idr, by id
  std::vector<struct ion_client*> clients;
  std::vector<struct ion_buffer*> live;
  std::vector<HeapSums> heaps;
  std::vector<const struct ion_heap*> heap_keys;  // the heap of heaps[i], apart so the search reads only these
  size_t heaps_used = 0;
  size_t last = 0;  // the slot sums() returned last

  ION_NO_COVERAGE HeapSums& sums(struct ion_heap* heap) {
    if (last < heaps_used && heap_keys[last] == heap) return heaps[last];  // buffers come in runs of one heap
    for (size_t i = 0; i < heaps_used; i++) {
      if (heap_keys[i] == heap) {
        last = i;
        return heaps[i];
      }
    }
    if (heaps_used == heaps.size()) {
      heaps.emplace_back();
      heap_keys.emplace_back();
    }
    heap_keys[heaps_used] = heap;
    HeapSums& s = heaps[heaps_used++];
    s.live_bytes = 0;
    s.debugfs_bytes = 0;
    s.pool_bytes = 0;
    s.held.clear();
    return s;
  }
};

ION_NO_COVERAGE int count_in(const std::vector<const struct ion_buffer*>& sorted, const struct ion_buffer* buffer) {
  const auto [lo, hi] = std::equal_range(sorted.begin(), sorted.end(), buffer);
  return static_cast<int>(hi - lo);
}

ION_NO_COVERAGE void collect_dma_buf(struct dma_buf* dmabuf, void* data) {
  if (dmabuf->ops != &ion_dma_buf_ops) return;
  static_cast<CheckScratch*>(data)->dmabuf_privs.push_back(static_cast<const struct ion_buffer*>(dmabuf->priv));
}

ION_NO_COVERAGE int collect_idr(int id, void* p, void* data) {
  static_cast<CheckScratch*>(data)->idr.emplace_back(id, static_cast<struct ion_handle*>(p));
  return 0;
}

// The checker. With in_order, buffers and clients are visited (and reported) in creation order; otherwise in
// tree order, which costs no sorting.
ION_NO_COVERAGE std::string check_invariants(struct ion_device* dev, enum ion_check_debugfs debugfs, bool in_order,
                                             const CheckLocks& locks) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  std::string out;
  auto fail = [&out](const std::string& what) { out += what + "\n"; };
  thread_local CheckScratch scratch;
  CheckScratch& s = scratch;
  s.dmabuf_privs.clear();
  s.handle_buffers.clear();
  s.heaps_used = 0;

  dma_buf_for_each(collect_dma_buf, &s);
  std::sort(s.dmabuf_privs.begin(), s.dmabuf_privs.end());

  locks.read_lock(&dev->lock);
  locks.lock(&dev->buffer_lock);
  collect_tree(&dev->buffers, &s.live, in_order);
  locks.unlock(&dev->buffer_lock);
  collect_tree(&dev->clients, &s.clients, in_order);
  for (struct ion_client* client : s.clients) {
    locks.lock(&client->lock);
    s.idr.clear();
    idr_for_each(&client->idr, collect_idr, &s);  // in id order
    size_t in_tree = 0;
    const struct ion_buffer* prev = nullptr;
    for (struct rb_node* n = rb_first(&client->handles); n; n = rb_next(n)) {
      struct ion_handle* handle = rb_entry(n, struct ion_handle, node);
      in_tree++;
      if (prev && !(prev < handle->buffer)) {
        fail(format("client c%lu: handle tree not strictly ordered by buffer (two handles for one buffer?)",
                    client->serial));
      }
      prev = handle->buffer;
      if (handle->client != client) fail(format("client c%lu: handle %d names another client", client->serial, handle->id));
      if (kref_read(&handle->ref) < 1) fail(format("client c%lu: handle %d has ref %d", client->serial, handle->id, kref_read(&handle->ref)));
      const auto it = std::lower_bound(s.idr.begin(), s.idr.end(), handle->id,
                                       [](const std::pair<int, struct ion_handle*>& e, int id) { return e.first < id; });
      if (it == s.idr.end() || it->first != handle->id || it->second != handle) {
        fail(format("client c%lu: handle %d is in the tree but not in the idr", client->serial, handle->id));
      }
      s.handle_buffers.push_back(handle->buffer);
    }
    if (in_tree != s.idr.size()) {
      fail(format("client c%lu: idr holds %zu handles, tree %zu", client->serial, s.idr.size(), in_tree));
    }
    locks.unlock(&client->lock);
  }
  std::sort(s.handle_buffers.begin(), s.handle_buffers.end());

  // Every heap has its sums, in plist order, even with no buffers.
  struct ion_heap* heap;
  plist_for_each_entry(heap, &dev->heaps, node) s.sums(heap);

  for (struct ion_buffer* buffer : s.live) {
    locks.lock(&buffer->lock);
    const int hc = buffer->handle_count;
    const int kc = buffer->kmap_cnt;
    const bool has_vaddr = buffer->vaddr != nullptr;
    locks.unlock(&buffer->lock);
    const int handles = count_in(s.handle_buffers, buffer);
    const int dmabuf_refs = count_in(s.dmabuf_privs, buffer);
    if (hc != handles) fail(format("buffer b%lu: handle_count %d but %d handles point at it", buffer->serial, hc, handles));
    if (hc < 0) fail(format("buffer b%lu: negative handle_count %d", buffer->serial, hc));
    if (kc < 0) fail(format("buffer b%lu: negative kmap_cnt %d", buffer->serial, kc));
    if (kc == 0 && has_vaddr) fail(format("buffer b%lu: kmap_cnt 0 with a kernel mapping", buffer->serial));
    if (kref_read(&buffer->ref) != handles + dmabuf_refs) {
      fail(format("buffer b%lu: ref %d but %d handles and %d dma-bufs hold it", buffer->serial,
                  kref_read(&buffer->ref), handles, dmabuf_refs));
    }
    // ion_debug_heap_show()'s total (ion.c @ v4.4): its walk of dev->buffers, under buffer_lock, adds every
    // buffer whose heap has the file's heap id (not the file's heap), here in the same walk for every heap.
    for (size_t i = 0; i < s.heaps_used; i++) {
      if (s.heap_keys[i]->id == buffer->heap->id) s.heaps[i].debugfs_bytes += buffer->size;
    }
    HeapSums& sums = s.sums(buffer->heap);
    sums.live_bytes += buffer->size;
    sums.pool_bytes += PAGE_ALIGN(buffer->size);
    sums.held.push_back(buffer);
  }

  size_t slot = 0;  // the heaps took the first slots, in this order
  plist_for_each_entry(heap, &dev->heaps, node) {
    HeapSums& sums = s.heaps[slot++];
    if (heap->flags & ION_HEAP_FLAG_DEFER_FREE) {
      locks.lock(&heap->free_lock);
      size_t sum = 0;
      struct ion_buffer* buffer;
      list_for_each_entry(buffer, &heap->free_list, list) {
        sum += buffer->size;
        sums.pool_bytes += PAGE_ALIGN(buffer->size);
        sums.held.push_back(buffer);
        for (const struct ion_buffer* b : s.live) {
          if (b == buffer) fail(format("buffer b%lu: on the free list of %s and still in the device tree", buffer->serial, heap->name));
        }
      }
      if (sum != heap->free_list_size) {
        fail(format("heap %s: free_list_size %zu but the list holds %zu bytes", heap->name, heap->free_list_size, sum));
      }
      locks.unlock(&heap->free_lock);
    }
    const long long total = debugfs == ION_CHECK_DEBUGFS_TEXT ? debugfs_heap_total_text(heap)
                                                              : static_cast<long long>(sums.debugfs_bytes);
    // The file totals by heap id (v4.4 lets heaps share one), so it is compared with the live bytes of every
    // heap of this id.
    size_t id_live_bytes = 0;
    for (size_t i = 0; i < s.heaps_used; i++) {
      if (s.heap_keys[i]->id == heap->id) id_live_bytes += s.heaps[i].live_bytes;
    }
    if (total >= 0 && static_cast<size_t>(total) != id_live_bytes) {
      fail(format("heap %s: debugfs total %lld but live buffers of heap id %u hold %zu bytes", heap->name, total,
                  heap->id, id_live_bytes));
    }
    check_heap_allocator(heap, sums.held, locks, fail);
    if (heap->type == ION_HEAP_TYPE_CARVEOUT) {
      struct gen_pool* pool = ion_carveout_heap_pool(heap);
      if (const char* bad = gen_pool_check(pool)) fail(format("heap %s: genalloc: %s", heap->name, bad));
      const size_t expected = gen_pool_size(pool) - sums.pool_bytes;
      // A carveout based at physical 0 loses its first granule for good: genalloc hands out address 0, which
      // the carveout takes for failure and never frees (reference ion.md section 3.3).
      const bool lost_granule_zero = ion_carveout_heap_base(heap) == 0 && gen_pool_avail(pool) + PAGE_SIZE == expected;
      if (gen_pool_avail(pool) != expected && !lost_granule_zero) {
        fail(format("heap %s: genalloc has %zu bytes free, buffers leave %zu", heap->name, gen_pool_avail(pool), expected));
      }
    }
  }
  locks.read_unlock(&dev->lock);
  return out;
}

}  // namespace

ION_NO_COVERAGE std::string ion_check_invariants(struct ion_device* dev, enum ion_check_debugfs debugfs,
                                                 bool in_creation_order, enum ion_check_locking locking) {
  const CheckLocks locks{locking == ION_CHECK_LOCKED};
  // The walk in tree order costs no sorting; a state with violations is walked again in creation order.
  std::string out = check_invariants(dev, debugfs, /*in_order=*/false, locks);
  return out.empty() || !in_creation_order ? out : check_invariants(dev, debugfs, /*in_order=*/true, locks);
}

}  // namespace ionsim::kernel
