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

#include <cstddef>
#include <cstdint>
#include <functional>
#include <new>
#include <string>
#include <typeinfo>
#include <vector>

#include "model/kernel/gfp.h"

namespace ionsim::kernel {

struct LiveObject {
  const void* address;
  std::string type;  // demangled C++ type name
  size_t count;      // array length for kcalloc, 1 otherwise
};

// Registry of live objects (thread-safe).
void registry_add(const void* obj, const std::type_info& type, size_t count);
// Returns false when obj was not registered (a double free or a foreign pointer).
bool registry_remove(const void* obj);
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

// Mirrors include/linux/slab.h:kzalloc() @ v4.4: a zero-initialized object, or NULL on (injected) failure.
template <typename T>
T* kzalloc(gfp_t flags) {
  if (slab_should_fail(typeid(T), flags)) return nullptr;
  T* obj = new T();
  registry_add(obj, typeid(T), 1);
  return obj;
}

// Mirrors include/linux/slab.h:kcalloc() @ v4.4: n zeroed elements; NULL on overflow, n == 0 gives a
// distinct non-NULL pointer as ZERO_SIZE_PTR does in spirit (it is still freed with kfree).
template <typename T>
T* kcalloc(size_t n, gfp_t flags) {
  if (n != 0 && SIZE_MAX / n < sizeof(T)) return nullptr;
  if (slab_should_fail(typeid(T), flags)) return nullptr;
  T* arr = new T[n == 0 ? 1 : n]();
  registry_add(arr, typeid(T[]), n);
  return arr;
}

// Frees an object from kzalloc; NULL is ignored. A pointer that is not live is a BUG (the kernel would corrupt
// its slab; the model stops at once).
void kfree_unregistered_bug(const void* obj);
template <typename T>
void kfree(T* obj) {
  if (obj == nullptr) return;
  if (!registry_remove(obj)) kfree_unregistered_bug(obj);
  delete obj;
}

// Frees an array from kcalloc.
template <typename T>
void kfree_array(T* arr) {
  if (arr == nullptr) return;
  if (!registry_remove(arr)) kfree_unregistered_bug(arr);
  delete[] arr;
}

}  // namespace ionsim::kernel

#endif  // MODEL_KERNEL_SLAB_H_
