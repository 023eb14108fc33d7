// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The ION core: buffers, handles, clients, the dma-buf exporter, the device and its debugfs files. Mirrors
// drivers/staging/android/ion/ion.c @ v4.4 function by function.
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "model/ion_priv.h"
#include "model/ion_state.h"
#include "model/kernel/bug.h"
#include "model/kernel/compiler.h"
#include "model/kernel/libfs.h"
#include "model/kernel/printk.h"
#include "model/kernel/slab.h"

namespace ionsim::kernel {

extern const struct dma_buf_ops ion_dma_buf_ops;
extern const struct file_operations ion_fops;

// Mirrors ion.c:ion_buffer_fault_user_mappings() @ v4.4.
bool ion_buffer_fault_user_mappings(const struct ion_buffer* buffer) {
  return (buffer->flags & ION_FLAG_CACHED) && !(buffer->flags & ION_FLAG_CACHED_NEEDS_SYNC);
}

// Mirrors ion.c:ion_buffer_cached() @ v4.4.
bool ion_buffer_cached(const struct ion_buffer* buffer) { return !!(buffer->flags & ION_FLAG_CACHED); }

namespace {

// Mirrors ion.c:ion_buffer_page() @ v4.4: the page without its dirty bit.
struct page* ion_buffer_page(struct page* page) {
  return reinterpret_cast<struct page*>(reinterpret_cast<uintptr_t>(page) & ~1UL);
}
// Mirrors ion.c:ion_buffer_page_is_dirty() @ v4.4.
bool ion_buffer_page_is_dirty(struct page* page) { return (reinterpret_cast<uintptr_t>(page) & 1UL) != 0; }
// Mirrors ion.c:ion_buffer_page_dirty() @ v4.4.
void ion_buffer_page_dirty(struct page** page) {
  *page = reinterpret_cast<struct page*>(reinterpret_cast<uintptr_t>(*page) | 1UL);
}
// Mirrors ion.c:ion_buffer_page_clean() @ v4.4.
void ion_buffer_page_clean(struct page** page) {
  *page = reinterpret_cast<struct page*>(reinterpret_cast<uintptr_t>(*page) & ~1UL);
}

// Mirrors ion.c:ion_buffer_add() @ v4.4: the device tree is keyed by buffer address.
void ion_buffer_add(struct ion_device* dev, struct ion_buffer* buffer) ABSL_EXCLUSIVE_LOCKS_REQUIRED(dev->buffer_lock) {
  struct rb_node** p = &dev->buffers.rb_node;
  struct rb_node* parent = nullptr;
  while (*p) {
    parent = *p;
    struct ion_buffer* entry = rb_entry(parent, struct ion_buffer, node);
    if (buffer < entry) {
      p = &(*p)->rb_left;
    } else if (buffer > entry) {
      p = &(*p)->rb_right;
    } else {
      pr_err("%s: buffer already found.", __func__);
      BUG();
    }
  }
  rb_link_node(&buffer->node, parent, p);
  rb_insert_color(&buffer->node, &dev->buffers);
}

// Mirrors ion.c:ion_buffer_create() @ v4.4. Called with dev->lock held for read.
ErrnoOr<struct ion_buffer*> ion_buffer_create(struct ion_heap* heap, struct ion_device* dev, unsigned long len,
                                              unsigned long align, unsigned long flags)
    ABSL_NO_THREAD_SAFETY_ANALYSIS {
  struct ion_buffer* buffer = kzalloc<struct ion_buffer>(GFP_KERNEL);
  if (!buffer) return Errno(-ENOMEM);

  buffer->heap = heap;
  buffer->flags = flags;
  kref_init(&buffer->ref);

  int ret = heap->ops->allocate(heap, buffer, len, align, flags);
  if (ret) {
    if (!(heap->flags & ION_HEAP_FLAG_DEFER_FREE)) goto err2;
    ion_heap_freelist_drain(heap, 0);
    ret = heap->ops->allocate(heap, buffer, len, align, flags);
    if (ret) goto err2;
  }

  buffer->dev = dev;
  buffer->size = len;

  {
    ErrnoOr<struct sg_table*> table = heap->ops->map_dma(heap, buffer);
    if (table.ok() && WARN_ONCE(table.value() == nullptr, "heap->ops->map_dma should return ERR_PTR on error")) {
      table = Errno(-EINVAL);
    }
    if (!table.ok()) {
      heap->ops->free(buffer);
      kfree(buffer);
      return table.error();
    }
    buffer->sg_table = table.value();
  }
  if (ion_buffer_fault_user_mappings(buffer)) {
    const size_t num_pages = PAGE_ALIGN(buffer->size) / PAGE_SIZE;
    buffer->pages = ion_page_array_alloc(num_pages);
    if (!buffer->pages) {
      ret = -ENOMEM;
      goto err1;
    }
    buffer->npages = num_pages;
    // Every page of every sg entry, as upstream: a chunk-heap buffer that is not a whole number of chunks stores
    // past num_pages, which ion_page_array_fill reports.
    ion_page_array_fill(buffer->pages, num_pages, buffer->sg_table, __func__);
  }

  buffer->dev = dev;
  buffer->size = len;
  INIT_LIST_HEAD(&buffer->vmas);
  mutex_init(&buffer->lock, "ion_buffer.lock");
  // v4.4 sets every entry's DMA address to its physical address ("not technically correct as per the dma
  // api"), so devices can use the table without mapping it.
  {
    struct scatterlist* sg;
    unsigned int i;
    for_each_sg(buffer->sg_table->sgl, sg, buffer->sg_table->nents, i) {
      sg_dma_address(sg) = sg_phys(sg);
      sg_dma_len(sg) = sg->length;
    }
  }
  mutex_lock(&dev->buffer_lock);
  buffer->serial = ++dev->next_buffer_serial;
  ion_buffer_add(dev, buffer);
  mutex_unlock(&dev->buffer_lock);
  return buffer;

err1:
  heap->ops->unmap_dma(heap, buffer);
  heap->ops->free(buffer);
err2:
  kfree(buffer);
  return Errno(ret);
}

// Mirrors ion.c:_ion_buffer_destroy() @ v4.4: leaves the device tree, then the free list or destroy.
void _ion_buffer_destroy(struct kref* kref) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  struct ion_buffer* buffer = container_of(kref, struct ion_buffer, ref);
  struct ion_heap* heap = buffer->heap;
  struct ion_device* dev = buffer->dev;

  mutex_lock(&dev->buffer_lock);
  rb_erase(&buffer->node, &dev->buffers);
  mutex_unlock(&dev->buffer_lock);

  if (heap->flags & ION_HEAP_FLAG_DEFER_FREE) {
    ion_heap_freelist_add(heap, buffer);
  } else {
    ion_buffer_destroy(buffer);
  }
}

// Mirrors ion.c:ion_buffer_get() @ v4.4.
void ion_buffer_get(struct ion_buffer* buffer) { kref_get(&buffer->ref); }

// Mirrors ion.c:ion_buffer_put() @ v4.4.
int ion_buffer_put(struct ion_buffer* buffer) { return kref_put(&buffer->ref, _ion_buffer_destroy); }

// Mirrors ion.c:ion_buffer_add_to_handle() @ v4.4.
void ion_buffer_add_to_handle(struct ion_buffer* buffer) {
  mutex_lock(&buffer->lock);
  buffer->handle_count++;
  mutex_unlock(&buffer->lock);
}

// Mirrors ion.c:ion_buffer_remove_from_handle() @ v4.4: the last handle records the comm and pid of
// current's group leader (not the client's task) as the orphan's "last known client".
void ion_buffer_remove_from_handle(struct ion_buffer* buffer) {
  mutex_lock(&buffer->lock);
  buffer->handle_count--;
  BUG_ON(buffer->handle_count < 0);
  if (!buffer->handle_count) {
    struct task_struct* task = get_current();
    if (task) {
      task = task->group_leader;
      get_task_comm(buffer->task_comm, task);
      buffer->pid = task_pid_nr(task);
    } else {
      // Divergence: the model runs kernel-context code without a task; the kernel's idle task is swapper/0.
      std::snprintf(buffer->task_comm, sizeof(buffer->task_comm), "%s", "swapper/0");
      buffer->pid = 0;
    }
  }
  mutex_unlock(&buffer->lock);
}

// Mirrors ion.c:ion_handle_create() @ v4.4.
ErrnoOr<struct ion_handle*> ion_handle_create(struct ion_client* client, struct ion_buffer* buffer) {
  struct ion_handle* handle = kzalloc<struct ion_handle>(GFP_KERNEL);
  if (!handle) return Errno(-ENOMEM);
  kref_init(&handle->ref);
  RB_CLEAR_NODE(&handle->node);
  handle->client = client;
  ion_buffer_get(buffer);
  ion_buffer_add_to_handle(buffer);
  handle->buffer = buffer;
  return handle;
}

void ion_handle_kmap_put(struct ion_handle* handle) ABSL_EXCLUSIVE_LOCKS_REQUIRED(handle->buffer->lock);

// Mirrors ion.c:ion_handle_destroy() @ v4.4. Runs under client->lock, except from ion_client_destroy().
void ion_handle_destroy(struct kref* kref) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  struct ion_handle* handle = container_of(kref, struct ion_handle, ref);
  struct ion_client* client = handle->client;
  struct ion_buffer* buffer = handle->buffer;

  mutex_lock(&buffer->lock);
  while (handle->kmap_cnt) ion_handle_kmap_put(handle);
  mutex_unlock(&buffer->lock);

  idr_remove(&client->idr, handle->id);
  if (!RB_EMPTY_NODE(&handle->node)) rb_erase(&handle->node, &client->handles);

  ion_buffer_remove_from_handle(buffer);
  ion_buffer_put(buffer);

  kfree(handle);
}

// Mirrors ion.c:ion_handle_get() @ v4.4.
void ion_handle_get(struct ion_handle* handle) { kref_get(&handle->ref); }

// Mirrors ion.c:ion_handle_lookup() @ v4.4: the client's handle for a buffer, by buffer address.
ErrnoOr<struct ion_handle*> ion_handle_lookup(struct ion_client* client, struct ion_buffer* buffer)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(client->lock) {
  struct rb_node* n = client->handles.rb_node;
  while (n) {
    struct ion_handle* entry = rb_entry(n, struct ion_handle, node);
    if (buffer < entry->buffer) {
      n = n->rb_left;
    } else if (buffer > entry->buffer) {
      n = n->rb_right;
    } else {
      return entry;
    }
  }
  return Errno(-EINVAL);
}

// Mirrors ion.c:ion_handle_validate() @ v4.4.
bool ion_handle_validate(struct ion_client* client, struct ion_handle* handle)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(client->lock) {
  WARN_ON(!mutex_is_locked(&client->lock));
  return idr_find(&client->idr, handle->id) == handle;
}

// Mirrors ion.c:ion_handle_add() @ v4.4.
int ion_handle_add(struct ion_client* client, struct ion_handle* handle) ABSL_EXCLUSIVE_LOCKS_REQUIRED(client->lock) {
  ErrnoOr<int> id = idr_alloc(&client->idr, handle, 1, 0, GFP_KERNEL);
  if (!id.ok()) return id.error().kernel_ret();
  handle->id = id.value();

  struct rb_node** p = &client->handles.rb_node;
  struct rb_node* parent = nullptr;
  while (*p) {
    parent = *p;
    struct ion_handle* entry = rb_entry(parent, struct ion_handle, node);
    if (handle->buffer < entry->buffer) {
      p = &(*p)->rb_left;
    } else if (handle->buffer > entry->buffer) {
      p = &(*p)->rb_right;
    } else {
      WARN(1, "%s: buffer already found.", __func__);
      // Divergence: upstream spins here forever, WARNing on every pass (the loop never advances). The model
      // records the lockup, takes the id back and fails the add instead of hanging.
      report_kernel_event(BugKind::kSoftLockup, __FILE__, __LINE__, __func__, true,
                          "ion_handle_add: endless loop on a duplicate buffer in the client's handle tree");
      idr_remove(&client->idr, handle->id);
      handle->id = 0;
      return -EINVAL;
    }
  }
  rb_link_node(&handle->node, parent, p);
  rb_insert_color(&handle->node, &client->handles);
  return 0;
}

// Mirrors ion.c:ion_buffer_kmap_get() @ v4.4.
ErrnoOr<void*> ion_buffer_kmap_get(struct ion_buffer* buffer) ABSL_EXCLUSIVE_LOCKS_REQUIRED(buffer->lock) {
  if (buffer->kmap_cnt) {
    buffer->kmap_cnt++;
    return buffer->vaddr;
  }
  ErrnoOr<void*> vaddr = buffer->heap->ops->map_kernel(buffer->heap, buffer);
  if (vaddr.ok() && WARN_ONCE(vaddr.value() == nullptr, "heap->ops->map_kernel should return ERR_PTR on error")) {
    return Errno(-EINVAL);
  }
  if (!vaddr.ok()) return vaddr;
  buffer->vaddr = vaddr.value();
  buffer->kmap_cnt++;
  return vaddr;
}

// Mirrors ion.c:ion_handle_kmap_get() @ v4.4.
ErrnoOr<void*> ion_handle_kmap_get(struct ion_handle* handle) ABSL_EXCLUSIVE_LOCKS_REQUIRED(handle->buffer->lock) {
  if (handle->kmap_cnt) {
    handle->kmap_cnt++;
    return handle->buffer->vaddr;
  }
  ErrnoOr<void*> vaddr = ion_buffer_kmap_get(handle->buffer);
  if (!vaddr.ok()) return vaddr;
  handle->kmap_cnt++;
  return vaddr;
}

// Mirrors ion.c:ion_buffer_kmap_put() @ v4.4. No underflow check: an unpaired put drives kmap_cnt negative.
void ion_buffer_kmap_put(struct ion_buffer* buffer) ABSL_EXCLUSIVE_LOCKS_REQUIRED(buffer->lock) {
  buffer->kmap_cnt--;
  if (!buffer->kmap_cnt) {
    buffer->heap->ops->unmap_kernel(buffer->heap, buffer);
    buffer->vaddr = nullptr;
  }
}

// Mirrors ion.c:ion_handle_kmap_put() @ v4.4: "Double unmap detected" WARNs and bails.
void ion_handle_kmap_put(struct ion_handle* handle) ABSL_EXCLUSIVE_LOCKS_REQUIRED(handle->buffer->lock) {
  if (!handle->kmap_cnt) {
    WARN(1, "%s: Double unmap detected! bailing...\n", __func__);
    return;
  }
  handle->kmap_cnt--;
  if (!handle->kmap_cnt) ion_buffer_kmap_put(handle->buffer);
}

// Mirrors ion.c:ion_get_client_serial() @ v4.4: 1 + the largest serial among clients of the same name.
int ion_get_client_serial(const struct rb_root* root, const char* name) {
  int serial = -1;
  for (struct rb_node* node = rb_first(root); node; node = rb_next(node)) {
    struct ion_client* client = rb_entry(node, struct ion_client, node);
    if (std::strcmp(client->name, name)) continue;
    serial = std::max(serial, client->display_serial);
  }
  return serial + 1;
}

// Mirrors mm/util.c:kstrdup() @ v4.4 (GFP_KERNEL); the copy is freed with kfree_array.
char* kstrdup(const char* s) {
  const size_t len = std::strlen(s);
  char* out = kcalloc<char>(len + 1, GFP_KERNEL);
  if (out) std::memcpy(out, s, len + 1);
  return out;
}

}  // namespace

// Mirrors ion.c:ion_buffer_destroy() @ v4.4.
void ion_buffer_destroy(struct ion_buffer* buffer) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  if (WARN_ON(buffer->kmap_cnt > 0)) buffer->heap->ops->unmap_kernel(buffer->heap, buffer);
  buffer->heap->ops->unmap_dma(buffer->heap, buffer);
  buffer->heap->ops->free(buffer);
  kfree_array(buffer->pages);  // vfree upstream
  kfree(buffer);
}

// Mirrors ion.c:ion_handle_put_nolock() @ v4.4.
int ion_handle_put_nolock(struct ion_handle* handle) {
  lockdep_assert_held(&handle->client->lock);
  return kref_put(&handle->ref, ion_handle_destroy);
}

// Mirrors ion.c:ion_handle_put() @ v4.4.
int ion_handle_put(struct ion_handle* handle) {
  struct ion_client* client = handle->client;
  mutex_lock(&client->lock);
  const int ret = ion_handle_put_nolock(handle);
  mutex_unlock(&client->lock);
  return ret;
}

// Mirrors ion.c:ion_handle_get_check_overflow() @ v4.9.299 (Android 3.18 marlin; profile android-3.18, switch
// handle_overflow_check). With the model's narrowed counters (kref_set_counter_bits) the wrap comes sooner.
ErrnoOr<struct ion_handle*> ion_handle_get_check_overflow(struct ion_handle* handle) {
  if (kref_read(&handle->ref) + 1 == 0) return Errno(-EOVERFLOW);
  ion_handle_get(handle);
  return handle;
}

// Mirrors ion.c:ion_handle_get_by_id_nolock() @ v4.4 (profile android-3.18, switch handle_overflow_check: the
// reference through ion_handle_get_check_overflow(), @ v4.9.299).
ErrnoOr<struct ion_handle*> ion_handle_get_by_id_nolock(struct ion_client* client, int id) {
  struct ion_handle* handle = static_cast<struct ion_handle*>(idr_find(&client->idr, id));
  if (!handle) return Errno(-EINVAL);
  if (ion_profile_has(client->dev->profile, ION_SW_HANDLE_OVERFLOW_CHECK)) {
    return ion_handle_get_check_overflow(handle);
  }
  ion_handle_get(handle);
  return handle;
}

// Mirrors ion.c:ion_handle_get_by_id() @ v4.4.
ErrnoOr<struct ion_handle*> ion_handle_get_by_id(struct ion_client* client, int id) {
  mutex_lock(&client->lock);
  ErrnoOr<struct ion_handle*> handle = ion_handle_get_by_id_nolock(client, id);
  mutex_unlock(&client->lock);
  return handle;
}

// The heap walk of ion.c:ion_alloc() @ v4.4, which ion_alloc_fd() @ v4.14 repeats: PAGE_ALIGN, then 0 is
// -EINVAL; heaps in plist order, skipping ids outside the mask; the first buffer created wins; -ENODEV when no
// heap matched, otherwise the error of the last heap tried. dev->lock is held for read across the heap
// allocations.
namespace {
ErrnoOr<struct ion_buffer*> ion_alloc_buffer(struct ion_device* dev, size_t len, size_t align,
                                             unsigned int heap_id_mask, unsigned int flags) {
  ErrnoOr<struct ion_buffer*> buffer = static_cast<struct ion_buffer*>(nullptr);

  len = PAGE_ALIGN(len);
  if (!len) return Errno(-EINVAL);

  down_read(&dev->lock);
  struct ion_heap* heap;
  plist_for_each_entry(heap, &dev->heaps, node) {
    // Divergence: `1 << heap->id` is undefined for ids of 32 and more; the model shifts as x86 does (by the
    // low five bits).
    if (!((1U << (heap->id & 31)) & heap_id_mask)) continue;
    buffer = ion_buffer_create(heap, dev, len, align, flags);
    if (buffer.ok()) break;
  }
  up_read(&dev->lock);

  if (buffer.ok() && buffer.value() == nullptr) return Errno(-ENODEV);
  return buffer;
}
}  // namespace

// Mirrors ion.c:ion_alloc() @ v4.4, as ion.c:__ion_alloc() @ v4.9.299 (Android 3.18 marlin) split it: with
// grab_handle (profile android-3.18, switch alloc_grab_handle) a second handle reference is taken under
// client->lock before ion_handle_add() makes the id visible, so a FREE of the id from another thread cannot
// destroy the handle under the ioctl. If ion_handle_add() then fails, upstream puts once and the grabbed
// reference keeps the handle (and buffer) forever; the model does the same.
ErrnoOr<struct ion_handle*> __ion_alloc(struct ion_client* client, size_t len, size_t align, unsigned int heap_id_mask,
                                        unsigned int flags, bool grab_handle) {
  ErrnoOr<struct ion_buffer*> buffer = ion_alloc_buffer(client->dev, len, align, heap_id_mask, flags);
  if (!buffer.ok()) return buffer.error();

  ErrnoOr<struct ion_handle*> handle = ion_handle_create(client, buffer.value());
  // ion_buffer_create made the buffer with one reference and ion_handle_create took a second: drop one.
  ion_buffer_put(buffer.value());
  if (!handle.ok()) return handle;

  mutex_lock(&client->lock);
  if (grab_handle) ion_handle_get(handle.value());
  const int ret = ion_handle_add(client, handle.value());
  mutex_unlock(&client->lock);
  if (ret) {
    ion_handle_put(handle.value());
    return Errno(ret);
  }
  return handle;
}

// Mirrors ion.c:ion_alloc() @ v4.9.299: the in-kernel interface never grabs.
ErrnoOr<struct ion_handle*> ion_alloc(struct ion_client* client, size_t len, size_t align, unsigned int heap_id_mask,
                                      unsigned int flags) {
  return __ion_alloc(client, len, align, heap_id_mask, flags, false);
}

namespace {

// The width of handle->user_ref_count: an unsigned int, narrowed with the model's counters
// (kref_set_counter_bits) so that overflow experiments reach its wrap too.
unsigned int user_ref_mask() {
  const int bits = kref_counter_bits();
  return bits >= 32 ? ~0U : (1U << bits) - 1;
}

// Mirrors ion-ioctl.c:user_ion_handle_get() @ v4.9.299: the first user reference takes the user's kref.
void user_ion_handle_get(struct ion_handle* handle) {
  if (handle->user_ref_count++ == 0) kref_get(&handle->ref);
  handle->user_ref_count &= user_ref_mask();
}

// Mirrors ion-ioctl.c:user_ion_handle_get_check_overflow() @ v4.9.299.
ErrnoOr<struct ion_handle*> user_ion_handle_get_check_overflow(struct ion_handle* handle) {
  if (((handle->user_ref_count + 1) & user_ref_mask()) == 0) return Errno(-EOVERFLOW);
  user_ion_handle_get(handle);
  return handle;
}

// Mirrors ion-ioctl.c:user_ion_handle_put_nolock() @ v4.9.299: the last user reference puts the user's kref.
// Upstream returns an uninitialised int when the count stays above zero; no caller reads it, and the model
// returns 0 there.
int user_ion_handle_put_nolock(struct ion_handle* handle) {
  handle->user_ref_count = (handle->user_ref_count - 1) & user_ref_mask();
  if (handle->user_ref_count == 0) return ion_handle_put_nolock(handle);
  return 0;
}

}  // namespace

// Mirrors ion-ioctl.c:pass_to_user() @ v4.9.299 (Android 3.18 marlin): under client->lock, a user reference is
// taken and the caller's temporary reference dropped; the handle is not validated again, because the caller's
// reference kept it alive.
ErrnoOr<struct ion_handle*> pass_to_user(struct ion_handle* handle) {
  struct ion_client* client = handle->client;
  mutex_lock(&client->lock);
  ErrnoOr<struct ion_handle*> ret = user_ion_handle_get_check_overflow(handle);
  ion_handle_put_nolock(handle);
  mutex_unlock(&client->lock);
  return ret;
}

// Mirrors ion-ioctl.c:user_ion_free_nolock() @ v4.9.299 (Android 3.18 marlin).
void user_ion_free_nolock(struct ion_client* client, struct ion_handle* handle) {
  WARN_ON(client != handle->client);
  const bool valid_handle = ion_handle_validate(client, handle);
  if (!valid_handle) {
    WARN(1, "%s: invalid handle passed to free.\n", __func__);
    return;
  }
  if (handle->user_ref_count == 0) {
    WARN(1, "%s: User does not have access!\n", __func__);
    return;
  }
  user_ion_handle_put_nolock(handle);
}

struct ion_injected_bugs ion_injected_bugs;

// Mirrors ion.c:ion_free_nolock() @ v4.4.
void ion_free_nolock(struct ion_client* client, struct ion_handle* handle) {
  BUG_ON(client != handle->client);
  const bool valid_handle = ion_handle_validate(client, handle);
  if (!valid_handle) {
    WARN(1, "%s: invalid handle passed to free.\n", __func__);
    return;
  }
  ion_handle_put_nolock(handle);
}

// Mirrors ion.c:ion_free() @ v4.4.
void ion_free(struct ion_client* client, struct ion_handle* handle) {
  BUG_ON(client != handle->client);
  mutex_lock(&client->lock);
  ion_free_nolock(client, handle);
  mutex_unlock(&client->lock);
}

// Mirrors ion.c:ion_free() @ v4.4.0 (before 9590232bb4f4; profile 4.4.0, switch free_one_lock off): the handle is
// validated under client->lock, which is dropped before the put takes it again.
void ion_free_unlocked_put(struct ion_client* client, struct ion_handle* handle) {
  BUG_ON(client != handle->client);
  mutex_lock(&client->lock);
  const bool valid_handle = ion_handle_validate(client, handle);
  if (!valid_handle) {
    WARN(1, "%s: invalid handle passed to free.\n", "ion_free");
    mutex_unlock(&client->lock);
    return;
  }
  mutex_unlock(&client->lock);
  ion_handle_put(handle);
}

// Mirrors ion.c:ion_phys() @ v4.4.
int ion_phys(struct ion_client* client, struct ion_handle* handle, ion_phys_addr_t* addr, size_t* len) {
  mutex_lock(&client->lock);
  if (!ion_handle_validate(client, handle)) {
    mutex_unlock(&client->lock);
    return -EINVAL;
  }
  struct ion_buffer* buffer = handle->buffer;
  if (!buffer->heap->ops->phys) {
    pr_err("%s: ion_phys is not implemented by this heap (name=%s, type=%d).\n", __func__, buffer->heap->name,
           buffer->heap->type);
    mutex_unlock(&client->lock);
    return -ENODEV;
  }
  mutex_unlock(&client->lock);
  return buffer->heap->ops->phys(buffer->heap, buffer, addr, len);
}

// Mirrors ion.c:ion_map_kernel() @ v4.4.
ErrnoOr<void*> ion_map_kernel(struct ion_client* client, struct ion_handle* handle) {
  mutex_lock(&client->lock);
  if (!ion_handle_validate(client, handle)) {
    pr_err("%s: invalid handle passed to map_kernel.\n", __func__);
    mutex_unlock(&client->lock);
    return Errno(-EINVAL);
  }
  if (!handle->buffer->heap->ops->map_kernel) {
    pr_err("%s: map_kernel is not implemented by this heap.\n", __func__);
    mutex_unlock(&client->lock);
    return Errno(-ENODEV);
  }
  mutex_lock(&handle->buffer->lock);
  ErrnoOr<void*> vaddr = ion_handle_kmap_get(handle);
  mutex_unlock(&handle->buffer->lock);
  mutex_unlock(&client->lock);
  return vaddr;
}

// Mirrors ion.c:ion_unmap_kernel() @ v4.4.
void ion_unmap_kernel(struct ion_client* client, struct ion_handle* handle) {
  mutex_lock(&client->lock);
  mutex_lock(&handle->buffer->lock);
  ion_handle_kmap_put(handle);
  mutex_unlock(&handle->buffer->lock);
  mutex_unlock(&client->lock);
}

namespace {

// Mirrors ion.c:ion_debug_client_show() @ v4.4: one line per heap id with the client's handle total.
int ion_debug_client_show(struct seq_file* s, void* /*unused*/) {
  struct ion_client* client = static_cast<struct ion_client*>(s->private_);
  size_t sizes[ION_NUM_HEAP_IDS] = {0};
  const char* names[ION_NUM_HEAP_IDS] = {nullptr};

  mutex_lock(&client->lock);
  for (struct rb_node* n = rb_first(&client->handles); n; n = rb_next(n)) {
    struct ion_handle* handle = rb_entry(n, struct ion_handle, node);
    const unsigned int id = handle->buffer->heap->id & (ION_NUM_HEAP_IDS - 1);
    if (!names[id]) names[id] = handle->buffer->heap->name;
    sizes[id] += handle->buffer->size;
  }
  mutex_unlock(&client->lock);

  seq_printf(s, "%16.16s: %16.16s\n", "heap_name", "size_in_bytes");
  for (unsigned int i = 0; i < ION_NUM_HEAP_IDS; i++) {
    if (!names[i]) continue;
    seq_printf(s, "%16.16s: %16zu\n", names[i], sizes[i]);
  }
  return 0;
}

// Mirrors ion.c:ion_debug_client_open() @ v4.4.
int ion_debug_client_open(struct inode* inode, struct file* file) {
  return single_open(file, ion_debug_client_show, inode->i_private);
}

// Mirrors ion.c:debug_client_fops @ v4.4.
const struct file_operations debug_client_fops = {
    .read = seq_read,
    .llseek = seq_lseek,
    .open = ion_debug_client_open,
    .release = single_release,
};

}  // namespace

// Mirrors ion.c:ion_client_create() @ v4.4.
ErrnoOr<struct ion_client*> ion_client_create(struct ion_device* dev, const char* name)
    ABSL_NO_THREAD_SAFETY_ANALYSIS {
  struct task_struct* current = get_current();
  struct task_struct* task = nullptr;
  pid_t pid = 0;
  if (current) {
    pid = task_pid_nr(current->group_leader);
    task = current->group_leader;
  }

  struct ion_client* client = kzalloc<struct ion_client>(GFP_KERNEL);
  if (!client) return Errno(-ENOMEM);

  client->dev = dev;
  client->handles = RB_ROOT;
  idr_init(&client->idr);
  mutex_init(&client->lock, "ion_client.lock");
  client->task = task;
  client->pid = pid;
  client->name = kstrdup(name);
  if (!client->name) {
    kfree(client);
    return Errno(-ENOMEM);
  }

  down_write(&dev->lock);
  client->serial = ++dev->next_client_serial;
  client->display_serial = ion_get_client_serial(&dev->clients, name);
  {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%s-%d", name, client->display_serial);
    client->display_name = kstrdup(buf);
  }
  if (!client->display_name) {
    up_write(&dev->lock);
    kfree_array(const_cast<char*>(client->name));
    kfree(client);
    return Errno(-ENOMEM);
  }
  struct rb_node** p = &dev->clients.rb_node;
  struct rb_node* parent = nullptr;
  while (*p) {
    parent = *p;
    struct ion_client* entry = rb_entry(parent, struct ion_client, node);
    if (client < entry) {
      p = &(*p)->rb_left;
    } else {
      p = &(*p)->rb_right;
    }
  }
  rb_link_node(&client->node, parent, p);
  rb_insert_color(&client->node, &dev->clients);

  client->debug_root = debugfs_create_file(client->display_name, 0664, dev->clients_debug_root, client,
                                           &debug_client_fops);
  if (!client->debug_root) {
    pr_err("Failed to create client debugfs at %s/%s\n", "/sys/kernel/debug/ion/clients", client->display_name);
  }
  up_write(&dev->lock);
  return client;
}

// Mirrors ion.c:ion_client_destroy() @ v4.4: handles are destroyed directly, whatever their counts, without
// client->lock. Profile android-3.18 (switch client_destroy_lock): the walk and idr_destroy() run under
// client->lock, as ion.c:ion_client_destroy() @ Android 3.18 marlin.
void ion_client_destroy(struct ion_client* client) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  struct ion_device* dev = client->dev;
  struct rb_node* n;
  // v4.4 takes no client->lock around the walk (the module does: see the Divergence in kmod/ion.c and the lock
  // notes in kmod/ion_priv.h).
  const bool locked = ion_profile_has(dev->profile, ION_SW_CLIENT_DESTROY_LOCK);
  if (locked) mutex_lock(&client->lock);
  while ((n = rb_first(&client->handles))) {
    struct ion_handle* handle = rb_entry(n, struct ion_handle, node);
    // Canonical-dump bookkeeping (not in v4.4): this handle holds the buffer's last reference.
    handle->buffer->free_group = kref_read(&handle->buffer->ref) == 1 ? client->serial : 0;
    ion_handle_destroy(&handle->ref);
  }
  idr_destroy(&client->idr);
  if (locked) mutex_unlock(&client->lock);

  down_write(&dev->lock);
  rb_erase(&client->node, &dev->clients);
  debugfs_remove_recursive(client->debug_root);
  up_write(&dev->lock);

  kfree_array(client->display_name);
  kfree_array(const_cast<char*>(client->name));
  kfree(client);
}

namespace {

// Mirrors ion.c:ion_buffer_sync_for_device() @ v4.4: for fault-mode buffers, flush dirty pages and zap every
// user mapping so the next touch faults (and dirties) again.
void ion_buffer_sync_for_device(struct ion_buffer* buffer, struct device* dev, enum dma_data_direction direction) {
  if (!ion_buffer_fault_user_mappings(buffer)) return;
  mutex_lock(&buffer->lock);
  const size_t pages = buffer->size / PAGE_SIZE;
  for (size_t i = 0; i < pages && i < buffer->npages; i++) {
    struct page* page = buffer->pages[i];
    if (ion_buffer_page_is_dirty(page)) ion_pages_sync_for_device(dev, ion_buffer_page(page), PAGE_SIZE, direction);
    ion_buffer_page_clean(buffer->pages + i);
  }
  struct ion_vma_list* vma_list;
  list_for_each_entry(vma_list, &buffer->vmas, list) {
    struct vm_area_struct* vma = vma_list->vma;
    zap_page_range(vma, vma->vm_start, vma->vm_end - vma->vm_start);
  }
  mutex_unlock(&buffer->lock);
}

// Mirrors ion.c:ion_map_dma_buf() @ v4.4.
ErrnoOr<struct sg_table*> ion_map_dma_buf(struct dma_buf_attachment* attachment, enum dma_data_direction direction) {
  struct dma_buf* dmabuf = attachment->dmabuf;
  struct ion_buffer* buffer = static_cast<struct ion_buffer*>(dmabuf->priv);
  ion_buffer_sync_for_device(buffer, attachment->dev, direction);
  return buffer->sg_table;
}

// Mirrors ion.c:ion_unmap_dma_buf() @ v4.4.
void ion_unmap_dma_buf(struct dma_buf_attachment* /*attachment*/, struct sg_table* /*table*/,
                       enum dma_data_direction /*direction*/) {}

// Mirrors ion.c:ion_vm_fault() @ v4.4.
int ion_vm_fault(struct vm_area_struct* vma, struct vm_fault* vmf) {
  struct ion_buffer* buffer = static_cast<struct ion_buffer*>(vma->vm_private_data);
  mutex_lock(&buffer->lock);
  BUG_ON(!buffer->pages || vmf->pgoff >= buffer->npages || !buffer->pages[vmf->pgoff]);
  ion_buffer_page_dirty(buffer->pages + vmf->pgoff);
  const unsigned long pfn = page_to_pfn(ion_buffer_page(buffer->pages[vmf->pgoff]));
  const Errno ret = vm_insert_pfn(vma, vmf->virtual_address, pfn);
  mutex_unlock(&buffer->lock);
  if (!ret.ok()) return VM_FAULT_ERROR;
  return VM_FAULT_NOPAGE;
}

// Mirrors ion.c:ion_vm_open() @ v4.4.
void ion_vm_open(struct vm_area_struct* vma) {
  struct ion_buffer* buffer = static_cast<struct ion_buffer*>(vma->vm_private_data);
  struct ion_vma_list* vma_list = kzalloc<struct ion_vma_list>(GFP_KERNEL);
  if (!vma_list) return;
  vma_list->vma = vma;
  mutex_lock(&buffer->lock);
  list_add(&vma_list->list, &buffer->vmas);
  mutex_unlock(&buffer->lock);
  pr_debug("%s: adding %p\n", __func__, static_cast<void*>(vma));
}

// Mirrors ion.c:ion_vm_close() @ v4.4.
void ion_vm_close(struct vm_area_struct* vma) {
  struct ion_buffer* buffer = static_cast<struct ion_buffer*>(vma->vm_private_data);
  struct ion_vma_list* vma_list;
  struct ion_vma_list* tmp;
  mutex_lock(&buffer->lock);
  list_for_each_entry_safe(vma_list, tmp, &buffer->vmas, list) {
    if (vma_list->vma != vma) continue;
    list_del(&vma_list->list);
    kfree(vma_list);
    break;
  }
  mutex_unlock(&buffer->lock);
}

// Mirrors ion.c:ion_vma_ops @ v4.4.
const struct vm_operations_struct ion_vma_ops = {
    .open = ion_vm_open,
    .close = ion_vm_close,
    .fault = ion_vm_fault,
};

// Mirrors ion.c:ion_mmap() @ v4.4.
int ion_mmap(struct dma_buf* dmabuf, struct vm_area_struct* vma) {
  struct ion_buffer* buffer = static_cast<struct ion_buffer*>(dmabuf->priv);
  if (!buffer->heap->ops->map_user) {
    pr_err("%s: this heap does not define a method for mapping to userspace\n", __func__);
    return -EINVAL;
  }
  if (ion_buffer_fault_user_mappings(buffer)) {
    vma->vm_flags |= VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP;
    vma->vm_private_data = buffer;
    vma->vm_ops = &ion_vma_ops;
    ion_vm_open(vma);
    return 0;
  }
  if (!(buffer->flags & ION_FLAG_CACHED)) vma->vm_page_prot = pgprot_writecombine(vma->vm_page_prot);

  mutex_lock(&buffer->lock);
  // Now map it to userspace.
  const int ret = buffer->heap->ops->map_user(buffer->heap, buffer, vma);
  mutex_unlock(&buffer->lock);
  if (ret) pr_err("%s: failure mapping buffer to userspace\n", __func__);
  return ret;
}

// Mirrors ion.c:ion_dma_buf_release() @ v4.4: the dma-buf's buffer reference goes.
void ion_dma_buf_release(struct dma_buf* dmabuf) {
  struct ion_buffer* buffer = static_cast<struct ion_buffer*>(dmabuf->priv);
  ion_buffer_put(buffer);
}

// Mirrors ion.c:ion_dma_buf_kmap() @ v4.4: vaddr + offset; NULL (plus the offset) when not kmapped.
void* ion_dma_buf_kmap(struct dma_buf* dmabuf, unsigned long offset) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  struct ion_buffer* buffer = static_cast<struct ion_buffer*>(dmabuf->priv);
  return reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(buffer->vaddr) + offset * PAGE_SIZE);
}

// Mirrors ion.c:ion_dma_buf_kunmap() @ v4.4.
void ion_dma_buf_kunmap(struct dma_buf* /*dmabuf*/, unsigned long /*offset*/, void* /*ptr*/) {}

// Mirrors ion.c:ion_dma_buf_begin_cpu_access() @ v4.4 (v4.6 signature).
int ion_dma_buf_begin_cpu_access(struct dma_buf* dmabuf, enum dma_data_direction /*direction*/) {
  struct ion_buffer* buffer = static_cast<struct ion_buffer*>(dmabuf->priv);
  if (!buffer->heap->ops->map_kernel) {
    pr_err("%s: map kernel is not implemented by this heap.\n", __func__);
    return -ENODEV;
  }
  mutex_lock(&buffer->lock);
  ErrnoOr<void*> vaddr = ion_buffer_kmap_get(buffer);
  mutex_unlock(&buffer->lock);
  return vaddr.ok() ? 0 : vaddr.error().kernel_ret();
}

// Mirrors ion.c:ion_dma_buf_end_cpu_access() @ v4.4 (v4.6 signature; v4.4 returned void).
int ion_dma_buf_end_cpu_access(struct dma_buf* dmabuf, enum dma_data_direction /*direction*/) {
  struct ion_buffer* buffer = static_cast<struct ion_buffer*>(dmabuf->priv);
  mutex_lock(&buffer->lock);
  ion_buffer_kmap_put(buffer);
  mutex_unlock(&buffer->lock);
  return 0;
}

}  // namespace

// Mirrors ion.c:dma_buf_ops @ v4.4.
const struct dma_buf_ops ion_dma_buf_ops = {
    .attach = nullptr,
    .detach = nullptr,
    .map_dma_buf = ion_map_dma_buf,
    .unmap_dma_buf = ion_unmap_dma_buf,
    .release = ion_dma_buf_release,
    .begin_cpu_access = ion_dma_buf_begin_cpu_access,
    .end_cpu_access = ion_dma_buf_end_cpu_access,
    .kmap_atomic = ion_dma_buf_kmap,
    .kunmap_atomic = ion_dma_buf_kunmap,
    .kmap = ion_dma_buf_kmap,
    .kunmap = ion_dma_buf_kunmap,
    .mmap = ion_mmap,
    .vmap = nullptr,
    .vunmap = nullptr,
};

// Mirrors ion.c:ion_share_dma_buf() @ v4.4: the buffer reference is taken under client->lock (the 4.4
// ordering that closes the CAF share race).
ErrnoOr<struct dma_buf*> ion_share_dma_buf(struct ion_client* client, struct ion_handle* handle) {
  mutex_lock(&client->lock);
  const bool valid_handle = ion_handle_validate(client, handle);
  if (!valid_handle) {
    WARN(1, "%s: invalid handle passed to share.\n", __func__);
    mutex_unlock(&client->lock);
    return Errno(-EINVAL);
  }
  struct ion_buffer* buffer = handle->buffer;
  ion_buffer_get(buffer);
  mutex_unlock(&client->lock);

  struct dma_buf_export_info exp_info = {};
  exp_info.exp_name = "ion";
  exp_info.ops = &ion_dma_buf_ops;
  exp_info.size = buffer->size;
  exp_info.flags = O_RDWR;
  exp_info.priv = buffer;
  ErrnoOr<struct dma_buf*> dmabuf = dma_buf_export(&exp_info);
  if (!dmabuf.ok()) {
    ion_buffer_put(buffer);
    return dmabuf;
  }
  return dmabuf;
}

// Mirrors ion.c:ion_share_dma_buf_fd() @ v4.4.
int ion_share_dma_buf_fd(struct ion_client* client, struct ion_handle* handle) {
  ErrnoOr<struct dma_buf*> dmabuf = ion_share_dma_buf(client, handle);
  if (!dmabuf.ok()) return dmabuf.error().kernel_ret();
  ErrnoOr<int> fd = dma_buf_fd(dmabuf.value(), O_CLOEXEC);
  if (!fd.ok()) {
    dma_buf_put(dmabuf.value());
    return fd.error().kernel_ret();
  }
  return fd.value();
}

// Mirrors ion.c:ion_import_dma_buf() @ v4.4.
ErrnoOr<struct ion_handle*> ion_import_dma_buf(struct ion_client* client, int fd) {
  ErrnoOr<struct dma_buf*> got = dma_buf_get(fd);
  if (!got.ok()) return got.error();
  struct dma_buf* dmabuf = got.value();
  ErrnoOr<struct ion_handle*> handle = Errno(-EINVAL);

  // If this memory came from ion.
  if (dmabuf->ops != &ion_dma_buf_ops) {
    pr_err("%s: can not import dmabuf from another exporter\n", __func__);
    dma_buf_put(dmabuf);
    return Errno(-EINVAL);
  }
  struct ion_buffer* buffer = static_cast<struct ion_buffer*>(dmabuf->priv);

  mutex_lock(&client->lock);
  // If a handle exists for this buffer just take a reference to it.
  handle = ion_handle_lookup(client, buffer);
  if (handle.ok()) {
    // Profile android-3.18, switch handle_overflow_check: ion_handle_get_check_overflow() @ v4.9.299.
    if (ion_profile_has(client->dev->profile, ION_SW_HANDLE_OVERFLOW_CHECK)) {
      handle = ion_handle_get_check_overflow(handle.value());
    } else {
      ion_handle_get(handle.value());
    }
    mutex_unlock(&client->lock);
    dma_buf_put(dmabuf);
    return handle;
  }

  handle = ion_handle_create(client, buffer);
  if (!handle.ok()) {
    mutex_unlock(&client->lock);
    dma_buf_put(dmabuf);
    return handle;
  }
  const int ret = ion_handle_add(client, handle.value());
  mutex_unlock(&client->lock);
  if (ret) {
    ion_handle_put(handle.value());
    handle = Errno(ret);
  }
  dma_buf_put(dmabuf);
  return handle;
}

// Mirrors ion.c:ion_sync_for_device() @ v4.4: the whole table is synced for a NULL device.
int ion_sync_for_device(struct ion_client* /*client*/, int fd) {
  ErrnoOr<struct dma_buf*> dmabuf = dma_buf_get(fd);
  if (!dmabuf.ok()) return dmabuf.error().kernel_ret();
  // If this memory came from ion.
  if (dmabuf.value()->ops != &ion_dma_buf_ops) {
    pr_err("%s: can not sync dmabuf from another exporter\n", __func__);
    dma_buf_put(dmabuf.value());
    return -EINVAL;
  }
  struct ion_buffer* buffer = static_cast<struct ion_buffer*>(dmabuf.value()->priv);
  dma_sync_sg_for_device(nullptr, buffer->sg_table->sgl, static_cast<int>(buffer->sg_table->nents),
                         DMA_BIDIRECTIONAL);
  dma_buf_put(dmabuf.value());
  return 0;
}

// Mirrors ion.c:ion_query_heaps() @ v4.11: entries in plist order; a copy fault leaves cnt untouched.
int ion_query_heaps(struct ion_client* client, struct ion_heap_query* query) {
  struct ion_device* dev = client->dev;
  const user_ptr_t buffer = static_cast<user_ptr_t>(query->heaps);
  int ret = -EINVAL;
  int cnt = 0;
  struct ion_heap_data hdata;
  std::memset(&hdata, 0, sizeof(hdata));

  down_read(&dev->lock);
  if (!buffer) {
    query->cnt = static_cast<__u32>(dev->heap_cnt);
    ret = 0;
    up_read(&dev->lock);
    return ret;
  }
  if (query->cnt == 0) {
    up_read(&dev->lock);
    return ret;
  }
  // An int, as upstream: a cnt above INT_MAX is negative here, so the loop stops after the first entry.
  const int max_cnt = static_cast<int>(query->cnt);
  struct ion_heap* heap;
  plist_for_each_entry(heap, &dev->heaps, node) {
    std::strncpy(hdata.name, heap->name, MAX_HEAP_NAME);
    hdata.name[sizeof(hdata.name) - 1] = '\0';
    hdata.type = heap->type;
    hdata.heap_id = heap->id;
    if (copy_to_user(buffer + cnt * sizeof(hdata), &hdata, sizeof(hdata))) {
      up_read(&dev->lock);
      return -EFAULT;
    }
    cnt++;
    if (cnt >= max_cnt) break;
  }
  query->cnt = static_cast<__u32>(cnt);
  ret = 0;
  up_read(&dev->lock);
  return ret;
}

// Mirrors ion.c:ion_alloc_fd() @ v4.14 over the v4.4 object model: the buffer's creation reference passes to
// the dma-buf, so the buffer dies exactly with the last dma-buf reference.
int ion_alloc_fd(struct ion_device* dev, size_t len, unsigned int heap_id_mask, unsigned int flags) {
  ErrnoOr<struct ion_buffer*> buffer = ion_alloc_buffer(dev, len, 0, heap_id_mask, flags);
  if (!buffer.ok()) return buffer.error().kernel_ret();

  struct dma_buf_export_info exp_info = {};
  exp_info.exp_name = "ion";
  exp_info.ops = &ion_dma_buf_ops;
  exp_info.size = buffer.value()->size;
  exp_info.flags = O_RDWR;
  exp_info.priv = buffer.value();
  ErrnoOr<struct dma_buf*> dmabuf = dma_buf_export(&exp_info);
  if (!dmabuf.ok()) {
    ion_buffer_put(buffer.value());
    return dmabuf.error().kernel_ret();
  }
  ErrnoOr<int> fd = dma_buf_fd(dmabuf.value(), O_CLOEXEC);
  if (!fd.ok()) {
    dma_buf_put(dmabuf.value());
    return fd.error().kernel_ret();
  }
  return fd.value();
}

namespace {

// Mirrors ion.c:ion_release() @ v4.4.
int ion_release(struct inode* /*inode*/, struct file* file) {
  struct ion_client* client = static_cast<struct ion_client*>(file->private_data);
  ion_client_destroy(client);
  return 0;
}

// Mirrors ion.c:ion_open() @ v4.4: the client is named after the opener's pid.
int ion_open(struct inode* /*inode*/, struct file* file) {
  struct miscdevice* miscdev = static_cast<struct miscdevice*>(file->private_data);
  struct ion_device* dev = container_of(miscdev, struct ion_device, dev);
  char debug_name[64];
  struct task_struct* current = get_current();
  std::snprintf(debug_name, sizeof(debug_name), "%u",
                static_cast<unsigned int>(current ? task_pid_nr(current->group_leader) : 0));
  ErrnoOr<struct ion_client*> client = ion_client_create(dev, debug_name);
  if (!client.ok()) return client.error().kernel_ret();
  file->private_data = client.value();
  return 0;
}

// Mirrors ion.c:ion_debug_heap_total() @ v4.4: the sizes of the client's handles' buffers on the heap.
size_t ion_debug_heap_total(struct ion_client* client, unsigned int id) {
  size_t size = 0;
  mutex_lock(&client->lock);
  for (struct rb_node* n = rb_first(&client->handles); n; n = rb_next(n)) {
    struct ion_handle* handle = rb_entry(n, struct ion_handle, node);
    if (handle->buffer->heap->id == id) size += handle->buffer->size;
  }
  mutex_unlock(&client->lock);
  return size;
}

// Mirrors ion.c:ion_debug_heap_show() @ v4.4. The walk over dev->clients takes no dev->lock, as upstream (the
// module takes it for read: see the Divergence in kmod/ion.c and the lock notes in kmod/ion_priv.h).
int ion_debug_heap_show(struct seq_file* s, void* unused) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  struct ion_heap* heap = static_cast<struct ion_heap*>(s->private_);
  struct ion_device* dev = heap->dev;
  size_t total_size = 0;
  size_t total_orphaned_size = 0;

  seq_printf(s, "%16s %16s %16s\n", "client", "pid", "size");
  seq_puts(s, "----------------------------------------------------\n");

  for (struct rb_node* n = rb_first(&dev->clients); n; n = rb_next(n)) {
    struct ion_client* client = rb_entry(n, struct ion_client, node);
    const size_t size = ion_debug_heap_total(client, heap->id);
    if (!size) continue;
    if (client->task) {
      char task_comm[TASK_COMM_LEN];
      get_task_comm(task_comm, client->task);
      seq_printf(s, "%16s %16u %16zu\n", task_comm, static_cast<unsigned int>(client->pid), size);
    } else {
      seq_printf(s, "%16s %16u %16zu\n", client->name, static_cast<unsigned int>(client->pid), size);
    }
  }
  seq_puts(s, "----------------------------------------------------\n");
  seq_puts(s, "orphaned allocations (info is from last known client):\n");
  mutex_lock(&dev->buffer_lock);
  for (struct rb_node* n = rb_first(&dev->buffers); n; n = rb_next(n)) {
    struct ion_buffer* buffer = rb_entry(n, struct ion_buffer, node);
    if (buffer->heap->id != heap->id) continue;
    total_size += buffer->size;
    if (!buffer->handle_count) {
      seq_printf(s, "%16s %16u %16zu %d %d\n", buffer->task_comm, static_cast<unsigned int>(buffer->pid),
                 buffer->size, buffer->kmap_cnt, kref_read(&buffer->ref));
      total_orphaned_size += buffer->size;
    }
  }
  mutex_unlock(&dev->buffer_lock);
  seq_puts(s, "----------------------------------------------------\n");
  seq_printf(s, "%16s %16zu\n", "total orphaned", total_orphaned_size);
  seq_printf(s, "%16s %16zu\n", "total ", total_size);
  if (heap->flags & ION_HEAP_FLAG_DEFER_FREE) seq_printf(s, "%16s %16zu\n", "deferred free", heap->free_list_size);
  seq_puts(s, "----------------------------------------------------\n");

  if (heap->debug_show) heap->debug_show(heap, s, unused);
  return 0;
}

// Mirrors ion.c:ion_debug_heap_open() @ v4.4.
int ion_debug_heap_open(struct inode* inode, struct file* file) {
  return single_open(file, ion_debug_heap_show, inode->i_private);
}

// Mirrors ion.c:debug_heap_fops @ v4.4.
const struct file_operations debug_heap_fops = {
    .read = seq_read,
    .llseek = seq_lseek,
    .open = ion_debug_heap_open,
    .release = single_release,
};

// Mirrors ion.c:debug_shrink_set() @ v4.4: 0 scans everything the shrinker counts.
int debug_shrink_set(void* data, unsigned long long val) {
  struct ion_heap* heap = static_cast<struct ion_heap*>(data);
  struct shrink_control sc;
  sc.gfp_mask = static_cast<gfp_t>(-1);
  sc.nr_to_scan = val;
  if (!val) {
    const unsigned long objs = heap->shrinker.count_objects(&heap->shrinker, &sc);
    sc.nr_to_scan = objs;
  }
  heap->shrinker.scan_objects(&heap->shrinker, &sc);
  return 0;
}

// Mirrors ion.c:debug_shrink_get() @ v4.4.
int debug_shrink_get(void* data, unsigned long long* val) {
  struct ion_heap* heap = static_cast<struct ion_heap*>(data);
  struct shrink_control sc;
  sc.gfp_mask = static_cast<gfp_t>(-1);
  sc.nr_to_scan = 0;
  *val = heap->shrinker.count_objects(&heap->shrinker, &sc);
  return 0;
}

// Mirrors ion.c:DEFINE_SIMPLE_ATTRIBUTE(debug_shrink_fops, debug_shrink_get, debug_shrink_set, "%llu\n") @ v4.4:
// fs/libfs.c's simple_attr_* (model/kernel/libfs.h) with a per-open attribute: a continued read serves the text
// saved at the first read, a write parses with simple_strtoll under the attribute's mutex.
int debug_shrink_fops_open(struct inode* inode, struct file* file) {
  return simple_attr_open(inode, file, debug_shrink_get, debug_shrink_set, "%llu\n");
}

const struct file_operations debug_shrink_fops = {
    .read = simple_attr_read,
    .write = simple_attr_write,
    .open = debug_shrink_fops_open,
    .release = simple_attr_release,
};

// ion/state: the canonical dump (model/ion_state.h), which the kernel module renders byte for byte.
int ion_debug_state_show(struct seq_file* s, void* /*unused*/) {
  seq_puts(s, ion_canonical_dump(static_cast<struct ion_device*>(s->private_)).c_str());
  return 0;
}

int ion_debug_state_open(struct inode* inode, struct file* file) {
  return single_open(file, ion_debug_state_show, inode->i_private);
}

const struct file_operations debug_state_fops = {
    .read = seq_read,
    .llseek = seq_lseek,
    .open = ion_debug_state_open,
    .release = single_release,
};

// ion/drain: writing anything drains every deferred-free list synchronously, head first, as the heaps'
// threads would; traces use it to make the moment of a deferred free explicit.
ssize_t debug_drain_write(struct file* file, user_ptr_t /*buf*/, size_t len, loff_t* /*pos*/) {
  ion_device_drain(static_cast<struct ion_device*>(file->private_data));
  return static_cast<ssize_t>(len);
}

int debug_drain_open(struct inode* inode, struct file* file) {
  file->private_data = inode->i_private;
  return 0;
}

const struct file_operations debug_drain_fops = {
    .write = debug_drain_write,
    .open = debug_drain_open,
};

}  // namespace

size_t ion_device_drain(struct ion_device* dev) {
  size_t drained = 0;
  down_read(&dev->lock);
  struct ion_heap* heap;
  plist_for_each_entry(heap, &dev->heaps, node) {
    if (heap->flags & ION_HEAP_FLAG_DEFER_FREE) drained += ion_heap_freelist_drain(heap, 0);
  }
  up_read(&dev->lock);
  return drained;
}

// Mirrors ion.c:ion_fops @ v4.4.
const struct file_operations ion_fops = {
    .unlocked_ioctl = ion_ioctl,
    .open = ion_open,
    .release = ion_release,
};

// Mirrors ion.c:ion_device_add_heap() @ v4.4.
ION_MODULE_INIT void ion_device_add_heap(struct ion_device* dev, struct ion_heap* heap) {
  if (!heap->ops->allocate || !heap->ops->free || !heap->ops->map_dma || !heap->ops->unmap_dma) {
    pr_err("%s: can not add heap with invalid ops struct.\n", __func__);
  }
  spin_lock_init(&heap->free_lock, "ion_heap.free_lock");
  spin_lock(&heap->free_lock);
  heap->free_list_size = 0;
  spin_unlock(&heap->free_lock);

  if (heap->flags & ION_HEAP_FLAG_DEFER_FREE) ion_heap_init_deferred_free(heap);
  if ((heap->flags & ION_HEAP_FLAG_DEFER_FREE) || heap->ops->shrink) ion_heap_init_shrinker(heap);

  heap->dev = dev;
  down_write(&dev->lock);
  // Use negative heap->id to reverse the priority: higher ids are tried first.
  plist_node_init(&heap->node, -static_cast<int>(heap->id));
  plist_add(&heap->node, &dev->heaps);
  struct dentry* debug_file = debugfs_create_file(heap->name, 0664, dev->heaps_debug_root, heap, &debug_heap_fops);
  if (!debug_file) pr_err("Failed to create heap debugfs at %s/%s\n", "/sys/kernel/debug/ion/heaps", heap->name);
  heap->debug_file = debug_file;
  if (heap->shrinker.count_objects && heap->shrinker.scan_objects) {
    char debug_name[64];
    std::snprintf(debug_name, sizeof(debug_name), "%s_shrink", heap->name);
    debug_file = debugfs_create_file(debug_name, 0644, dev->heaps_debug_root, heap, &debug_shrink_fops);
    heap->debug_shrink_file = debug_file;
    if (!debug_file) pr_err("Failed to create heap shrinker debugfs at %s/%s\n", "/sys/kernel/debug/ion/heaps",
                            debug_name);
  }
  dev->heap_cnt++;
  up_write(&dev->lock);
}

// Removes a heap for module unload (v4.4 has no such path).
ION_MODULE_EXIT void ion_device_remove_heap(struct ion_device* dev, struct ion_heap* heap) {
  down_write(&dev->lock);
  plist_del(&heap->node, &dev->heaps);
  dev->heap_cnt--;
  debugfs_remove(heap->debug_file);
  debugfs_remove(heap->debug_shrink_file);
  heap->debug_file = nullptr;
  heap->debug_shrink_file = nullptr;
  up_write(&dev->lock);
  ion_heap_cleanup(heap);
  mutex_lock(&dev->buffer_lock);
  for (struct rb_node* n = rb_first(&dev->buffers); n; n = rb_next(n)) {
    struct ion_buffer* buffer = rb_entry(n, struct ion_buffer, node);
    WARN(buffer->heap == heap, "%s: heap %s still has a live buffer of %zu bytes\n", __func__, heap->name,
         buffer->size);
  }
  mutex_unlock(&dev->buffer_lock);
}

// Mirrors ion.c:ion_device_create() @ v4.4.
ION_MODULE_INIT ErrnoOr<struct ion_device*> ion_device_create(struct phys_mem* mem,
                                              long (*custom_ioctl)(struct ion_client* client, unsigned int cmd,
                                                                   unsigned long arg),
                                              const struct ion_profile* profile) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  struct ion_device* idev = kzalloc<struct ion_device>(GFP_KERNEL);
  if (!idev) return Errno(-ENOMEM);
  idev->profile = profile != nullptr ? profile : ion_profile_default();

  idev->dev.minor = MISC_DYNAMIC_MINOR;
  idev->dev.name = "ion";
  idev->dev.fops = &ion_fops;
  const Errno ret = misc_register(&idev->dev);
  if (!ret.ok()) {
    pr_err("ion: failed to register misc device.\n");
    kfree(idev);
    return ret;
  }

  idev->debug_root = debugfs_create_dir("ion", nullptr);
  if (!idev->debug_root) {
    pr_err("ion: failed to create debugfs root directory.\n");
  } else {
    idev->heaps_debug_root = debugfs_create_dir("heaps", idev->debug_root);
    if (!idev->heaps_debug_root) {
      pr_err("ion: failed to create debugfs heaps directory.\n");
    } else {
      idev->clients_debug_root = debugfs_create_dir("clients", idev->debug_root);
      if (!idev->clients_debug_root) pr_err("ion: failed to create debugfs clients directory.\n");
    }
    // Not in v4.4: the canonical state and the synchronous drain control, shared with the kernel module.
    if (!debugfs_create_file("state", 0444, idev->debug_root, idev, &debug_state_fops)) {
      pr_err("ion: failed to create debugfs state file.\n");
    }
    if (!debugfs_create_file("drain", 0200, idev->debug_root, idev, &debug_drain_fops)) {
      pr_err("ion: failed to create debugfs drain file.\n");
    }
  }

  idev->custom_ioctl = custom_ioctl;
  idev->buffers = RB_ROOT;
  mutex_init(&idev->buffer_lock, "ion_device.buffer_lock");
  init_rwsem(&idev->lock, "ion_device.lock");
  plist_head_init(&idev->heaps);
  idev->clients = RB_ROOT;
  idev->mem = mem;
  return idev;
}

ION_MODULE_EXIT std::string ion_device_teardown(struct ion_device* dev) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  std::string report;
  auto note = [&report](const char* fmt, auto... args) {
    char line[256];
    std::snprintf(line, sizeof(line), fmt, args...);
    pr_warn("%s\n", line);
    report += line;
    report += '\n';
  };

  // Clients still open: kernel clients (a user client goes with its /dev/ion file).
  for (;;) {
    down_read(&dev->lock);
    struct rb_node* n = rb_first(&dev->clients);
    struct ion_client* client = n ? rb_entry(n, struct ion_client, node) : nullptr;
    up_read(&dev->lock);
    if (!client) break;
    size_t handles = 0;
    for (struct rb_node* h = rb_first(&client->handles); h; h = rb_next(h)) handles++;
    note("ion: teardown: client %s (pid %d) still open with %zu handles", client->display_name, client->pid,
         handles);
    ion_client_destroy(client);
  }

  // Buffers still alive are held by references nobody will drop (dma-bufs held in the kernel, or leaked puts).
  for (;;) {
    mutex_lock(&dev->buffer_lock);
    struct rb_node* n = rb_first(&dev->buffers);
    struct ion_buffer* buffer = n ? rb_entry(n, struct ion_buffer, node) : nullptr;
    mutex_unlock(&dev->buffer_lock);
    if (!buffer) break;
    note("ion: teardown: buffer b%lu heap %s size %zu leaked by %s (pid %d): ref %d, handles %d", buffer->serial,
         buffer->heap->name, buffer->size, buffer->task_comm[0] ? buffer->task_comm : "?", buffer->pid,
         kref_read(&buffer->ref), buffer->handle_count);
    _ion_buffer_destroy(&buffer->ref);
  }

  // Every heap: drain its free list, unregister it, destroy it (pools and pools' pages included).
  for (;;) {
    down_read(&dev->lock);
    struct ion_heap* heap =
        plist_head_empty(&dev->heaps) ? nullptr : plist_first_entry(&dev->heaps, struct ion_heap, node);
    up_read(&dev->lock);
    if (!heap) break;
    ion_device_remove_heap(dev, heap);
    ion_heap_destroy(heap);
  }
  ion_device_destroy(dev);
  return report;
}

// Mirrors ion.c:ion_device_destroy() @ v4.4.
ION_MODULE_EXIT void ion_device_destroy(struct ion_device* dev) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  WARN(!plist_head_empty(&dev->heaps), "%s: heaps are still registered\n", __func__);
  WARN(!RB_EMPTY_ROOT(&dev->clients), "%s: clients are still open\n", __func__);
  WARN(!RB_EMPTY_ROOT(&dev->buffers), "%s: buffers are still alive\n", __func__);
  misc_deregister(&dev->dev);
  debugfs_remove_recursive(dev->debug_root);
  kfree(dev);
}

}  // namespace ionsim::kernel
