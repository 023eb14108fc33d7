// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// kzalloc/kfree for model objects, and the registry of everything alive. Every object the model allocates
// through kzalloc/kcalloc is registered until kfree; every page the simulated page allocator hands out is
// counted until it is freed. A test or a fuzz iteration ends with live_objects() empty and
// allocated_page_count() zero: that is how "nothing is leaked" is checked.
//
// Allocation failure can be injected (the kernel's failslab): the hook sees the type name and the gfp flags and
// may make the allocation return NULL. __GFP_NOFAIL allocations never fail.
#ifndef MODEL_KERNEL_SLAB_H_
#define MODEL_KERNEL_SLAB_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <new>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <vector>

#include "model/kernel/gfp.h"

namespace ionsim::kernel {

struct LiveObject {
  const void* address;
  std::string type;  // demangled C++ type name
  size_t count;      // array length for kcalloc, 1 otherwise
};

// Every kzalloc/kcalloc allocation starts with this header, just before the object: the registry is an
// intrusive list of headers, so registering and unregistering cost a lock and four pointer writes.
struct alignas(16) slab_header {
  slab_header* prev;
  slab_header* next;
  const std::type_info* type;
  size_t count;
  uint64_t magic;  // kSlabLive while allocated
};
inline constexpr uint64_t kSlabLive = 0x5fa11a4e11ab1e00ULL;
inline constexpr uint64_t kSlabFreed = 0x6b6b6b6b6b6b6b6bULL;  // POISON_FREE, as SLAB_POISON writes

// Registry of live objects (thread-safe).
void registry_link(slab_header* header);
// Unlinks a live header; BUGs (a double free or a foreign pointer) when the header is not live.
void registry_unlink(slab_header* header, const void* obj);
std::vector<LiveObject> live_objects();
size_t live_object_count();
// "type @ address" per line, sorted by type name.
std::string format_live_objects();

// Pages handed out by every simulated page allocator and not yet returned.
void registry_pages_allocated(int64_t delta);
int64_t allocated_page_count();

// Failslab: return true to make the allocation fail.
using slab_fail_hook_fn = std::function<bool(const std::type_info& type, gfp_t flags)>;
void set_slab_fail_hook(slab_fail_hook_fn hook);
bool slab_should_fail(const std::type_info& type, gfp_t flags);

// Quarantine of freed blocks (an interleaving explorer's use-after-free and double-free oracles), as KASAN's
// quarantine keeps freed objects out of reuse. Installed, kfree asks check_free first (false: the block is not
// live, which the quarantine reports as a double free, and kfree does nothing more), then destroys the objects,
// marks the header freed and hands the block to take() instead of freeing it; alloc() sees every new block.
// Not installed (the default), kfree and kzalloc pay one predictable branch.
struct slab_quarantine_ops {
  bool (*check_free)(slab_header* header, const void* obj);
  void (*take)(slab_header* header, size_t bytes);
  void (*alloc)(slab_header* header, size_t bytes);
};
void set_slab_quarantine(const slab_quarantine_ops* ops);

namespace slab_internal {

extern std::atomic<const slab_quarantine_ops*> g_quarantine;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr size_t kCacheDepth = 0;  // every block goes back to the sanitizer's allocator at once
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr size_t kCacheDepth = 0;
#else
inline constexpr size_t kCacheDepth = 64;
#endif
#else
inline constexpr size_t kCacheDepth = 64;
#endif

// A per-thread cache of freed blocks of one object size, as a kmem_cache's per-cpu array keeps recently freed
// objects for the next allocation. Blocks in it are not live (their header says freed), so a double kfree is
// still caught. Sanitizer builds keep no cache, so every freed block is poisoned at once.
template <size_t kBytes>
struct block_cache {
  size_t n = 0;
  void* blocks[kCacheDepth == 0 ? 1 : kCacheDepth];
  ~block_cache() {
    while (n > 0) ::operator delete(blocks[--n]);
  }
};
template <size_t kBytes>
block_cache<kBytes>& cache() {
  static thread_local block_cache<kBytes> c;
  return c;
}

template <typename T>
T* alloc(size_t n, const std::type_info& type) {
  static_assert(alignof(T) <= alignof(slab_header), "kzalloc of an over-aligned type");
  // operator new's memory is aligned for max_align_t (16 bytes on x86-64), enough for the header and T.
  static_assert(alignof(slab_header) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__);
  void* raw = nullptr;
  if (kCacheDepth > 0 && n == 1 && cache<sizeof(T)>().n > 0) {
    raw = cache<sizeof(T)>().blocks[--cache<sizeof(T)>().n];
  } else {
    raw = ::operator new(sizeof(slab_header) + sizeof(T) * (n == 0 ? 1 : n));
  }
  auto* header = static_cast<slab_header*>(raw);
  header->type = &type;
  header->count = n;
  header->magic = kSlabLive;
  T* obj = reinterpret_cast<T*>(header + 1);
  for (size_t i = 0; i < (n == 0 ? 1 : n); i++) new (obj + i) T();
  registry_link(header);
  if (const slab_quarantine_ops* q = g_quarantine.load(std::memory_order_acquire)) {
    q->alloc(header, sizeof(T) * (n == 0 ? 1 : n));
  }
  return obj;
}

template <typename T>
void free(T* obj) {
  slab_header* header = reinterpret_cast<slab_header*>(const_cast<std::remove_cv_t<T>*>(obj)) - 1;
  const slab_quarantine_ops* q = g_quarantine.load(std::memory_order_acquire);
  if (q != nullptr && !q->check_free(header, obj)) return;
  registry_unlink(header, obj);
  const size_t n = header->count == 0 ? 1 : header->count;
  for (size_t i = 0; i < n; i++) obj[i].~T();
  header->magic = kSlabFreed;
  if (q != nullptr) {
    q->take(header, sizeof(T) * n);
    return;
  }
  if (kCacheDepth > 0 && header->count == 1 && cache<sizeof(T)>().n < kCacheDepth) {
    cache<sizeof(T)>().blocks[cache<sizeof(T)>().n++] = header;
    return;
  }
  ::operator delete(static_cast<void*>(header));
}
}  // namespace slab_internal

// Mirrors include/linux/slab.h:kzalloc() @ v4.4: a zero-initialized object, or NULL on (injected) failure.
template <typename T>
T* kzalloc(gfp_t flags) {
  if (slab_should_fail(typeid(T), flags)) return nullptr;
  return slab_internal::alloc<T>(1, typeid(T));
}

// Mirrors include/linux/slab.h:kcalloc() @ v4.4: n zeroed elements; NULL on overflow, n == 0 gives a
// distinct non-NULL pointer as ZERO_SIZE_PTR does in spirit (it is still freed with kfree).
template <typename T>
T* kcalloc(size_t n, gfp_t flags) {
  if (n != 0 && (SIZE_MAX - sizeof(slab_header)) / n < sizeof(T)) return nullptr;
  if (slab_should_fail(typeid(T), flags)) return nullptr;
  return slab_internal::alloc<T>(n, typeid(T[]));
}

// Frees an object from kzalloc; NULL is ignored. A pointer that is not live is a BUG (the kernel would corrupt
// its slab; the model stops at once).
template <typename T>
void kfree(T* obj) {
  if (obj == nullptr) return;
  slab_internal::free(obj);
}

// Frees an array from kcalloc.
template <typename T>
void kfree_array(T* arr) {
  if (arr == nullptr) return;
  slab_internal::free(arr);
}

}  // namespace ionsim::kernel

#endif  // MODEL_KERNEL_SLAB_H_
