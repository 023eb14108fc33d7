// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The ION core's private structures, mirroring drivers/staging/android/ion/ion_priv.h and the structs at the
// top of ion.c @ v4.4.
//
// Lock order (derived from the v4.4 call paths; a lock is only taken while holding locks above it):
//   1. dev->lock (rwsem)           read across the ALLOC heap loop (so heap allocate and deferred-free drain
//                                  run under it), write for client create/destroy bookkeeping and heap add
//   2. client->lock (mutex)        the client's idr, handle rb-tree and handle refcounts
//   3. buffer->lock (mutex)        kmap counts, vmas, handle_count, the fault-mode page dirty bits
//   4. dev->buffer_lock (mutex)    the device's buffer rb-tree
//   5. heap->free_lock (spinlock)  the deferred-free list; dropped around each buffer destroy
// A buffer's last put (under client->lock from FREE, or under no ION lock from dma-buf release) takes
// dev->buffer_lock and then heap->free_lock; destroying a buffer takes no ION lock (heap->ops->free may take
// the heap's own allocator lock, e.g. the genalloc pool's).
// v4.4 quirks kept: ion_client_destroy walks the client's handles without client->lock, and the heap debugfs
// walk over dev->clients takes no dev->lock (reference ion.md section 5 item 9).
#ifndef MODEL_ION_PRIV_H_
#define MODEL_ION_PRIV_H_

#include <cstddef>
#include <string>

#include "absl/base/thread_annotations.h"
#include "kmod/ion_profile.h"
#include "kmod/uapi/ion.h"
#include "model/ion.h"
#include "model/kernel/debugfs.h"
#include "model/kernel/dma_buf.h"
#include "model/kernel/fs.h"
#include "model/kernel/gfp.h"
#include "model/kernel/idr.h"
#include "model/kernel/kref.h"
#include "model/kernel/list.h"
#include "model/kernel/lock.h"
#include "model/kernel/mm.h"
#include "model/kernel/mm_user.h"
#include "model/kernel/plist.h"
#include "model/kernel/rbtree.h"
#include "model/kernel/scatterlist.h"
#include "model/kernel/sched.h"
#include "model/kernel/seq_file.h"

namespace ionsim::kernel {

struct ion_heap;
struct ion_client;

// Mirrors ion_priv.h:struct ion_buffer @ v4.4.
struct ion_buffer {
  struct kref ref;
  // `union { struct rb_node node; struct list_head list; }` upstream: the buffer is in dev->buffers while
  // alive and on heap->free_list once released; the union is split so each view stays a valid object.
  struct rb_node node;
  struct list_head list;
  struct ion_device* dev;
  struct ion_heap* heap;
  unsigned long flags;
  unsigned long private_flags;
  size_t size;
  void* priv_virt;  // union { void *priv_virt; ion_phys_addr_t priv_phys; }: the heap's sg_table
  struct mutex lock;
  int kmap_cnt ABSL_GUARDED_BY(lock);
  void* vaddr ABSL_GUARDED_BY(lock);
  int dmap_cnt;
  struct sg_table* sg_table;
  struct page** pages;  // fault-mode buffers only: bit 0 of each entry is the dirty bit
  size_t npages;
  struct list_head vmas ABSL_GUARDED_BY(lock);
  int handle_count ABSL_GUARDED_BY(lock);
  char task_comm[TASK_COMM_LEN];
  pid_t pid;
  // Model bookkeeping, not in v4.4: a creation sequence number (the canonical dump's stable key).
  unsigned long serial;
  // Model bookkeeping, not in v4.4: the serial of the client whose destroy dropped the last reference, 0 when
  // another path did. ion_client_destroy() frees in buffer-address order, which neither the model nor the kernel
  // controls, so the canonical dump joins such a run of the free list with '+' (compared as a set).
  unsigned long free_group;
};

// Mirrors ion_priv.h:ION_PRIV_FLAG_SHRINKER_FREE @ v4.4.
inline constexpr unsigned long ION_PRIV_FLAG_SHRINKER_FREE = 1UL << 0;

// Mirrors ion_priv.h:struct ion_heap_ops @ v4.4.
struct ion_heap_ops {
  int (*allocate)(struct ion_heap* heap, struct ion_buffer* buffer, unsigned long len, unsigned long align,
                  unsigned long flags);
  void (*free)(struct ion_buffer* buffer);
  int (*phys)(struct ion_heap* heap, struct ion_buffer* buffer, phys_addr_t* addr, size_t* len);
  ErrnoOr<struct sg_table*> (*map_dma)(struct ion_heap* heap, struct ion_buffer* buffer);
  void (*unmap_dma)(struct ion_heap* heap, struct ion_buffer* buffer);
  ErrnoOr<void*> (*map_kernel)(struct ion_heap* heap, struct ion_buffer* buffer);
  void (*unmap_kernel)(struct ion_heap* heap, struct ion_buffer* buffer);
  int (*map_user)(struct ion_heap* mapper, struct ion_buffer* buffer, struct vm_area_struct* vma);
  int (*shrink)(struct ion_heap* heap, gfp_t gfp_mask, int nr_to_scan);
};

// Mirrors ion_priv.h:ION_HEAP_FLAG_DEFER_FREE @ v4.4.
inline constexpr unsigned long ION_HEAP_FLAG_DEFER_FREE = 1UL << 0;

// Mirrors ion_priv.h:struct ion_heap @ v4.4.
struct ion_heap {
  struct plist_node node;
  struct ion_device* dev;
  enum ion_heap_type type;
  const struct ion_heap_ops* ops;
  unsigned long flags;
  unsigned int id;
  const char* name;
  struct shrinker shrinker;
  struct list_head free_list ABSL_GUARDED_BY(free_lock);
  size_t free_list_size ABSL_GUARDED_BY(free_lock);
  spinlock_t free_lock;
  // The deferred-free kthread: the model runs it as an explicit step (ion_heap_deferred_free_run); `task`
  // records that the thread exists.
  bool task;
  int (*debug_show)(struct ion_heap* heap, struct seq_file* s, void* unused);
  // Divergence: the machine the heap's pages come from (the kernel's page allocator is global).
  struct phys_mem* mem;
  // Whether register_shrinker() succeeded for this heap.
  bool shrinker_registered;
  // Divergence: the heaps/<name> and heaps/<name>_shrink files ion_device_add_heap() made (NULL when it could
  // not), which v4.4 does not keep: it never removes a heap; the model's ion_device_remove_heap() does.
  struct dentry* debug_file;
  struct dentry* debug_shrink_file;
};

// Mirrors ion.c:struct ion_device @ v4.4, plus heap_cnt from v4.11 for ION_IOC_HEAP_QUERY.
struct ion_device {
  struct miscdevice dev;
  struct rb_root buffers ABSL_GUARDED_BY(buffer_lock);
  struct mutex buffer_lock;
  struct rw_semaphore lock;
  struct plist_head heaps ABSL_GUARDED_BY(lock);
  long (*custom_ioctl)(struct ion_client* client, unsigned int cmd, unsigned long arg);
  struct rb_root clients ABSL_GUARDED_BY(lock);
  struct dentry* debug_root;
  struct dentry* heaps_debug_root;
  struct dentry* clients_debug_root;
  int heap_cnt ABSL_GUARDED_BY(lock);
  // Not in v4.4 (one kernel is one era): the profile chosen at creation (kmod/ion_profile.h), read-only after.
  const struct ion_profile* profile;
  // Model bookkeeping: the sources of ion_buffer::serial and ion_client::serial.
  unsigned long next_buffer_serial;
  unsigned long next_client_serial;
  struct phys_mem* mem;
};

// Mirrors ion.c:struct ion_client @ v4.4.
struct ion_client {
  struct rb_node node;
  struct ion_device* dev;
  struct rb_root handles ABSL_GUARDED_BY(lock);
  struct idr idr ABSL_GUARDED_BY(lock);
  struct mutex lock;
  const char* name;
  char* display_name;
  int display_serial;
  struct task_struct* task;
  pid_t pid;
  struct dentry* debug_root;
  // Model bookkeeping, not in v4.4: a creation sequence number (the canonical dump's stable key).
  unsigned long serial;
  // Model bookkeeping, not in v4.4: the serial of the client whose destroy dropped the last reference, 0 when
  // another path did. ion_client_destroy() frees in buffer-address order, which neither the model nor the kernel
  // controls, so the canonical dump joins such a run of the free list with '+' (compared as a set).
  unsigned long free_group;
};

// Mirrors ion.c:struct ion_handle @ v4.4.
struct ion_handle {
  struct kref ref;
  struct ion_client* client;
  struct ion_buffer* buffer;
  struct rb_node node;
  unsigned int kmap_cnt;
  int id;
  // Mirrors ion_priv.h:struct ion_handle.user_ref_count @ v4.9.299 (Android 3.18 marlin; profile android-3.18,
  // switch user_ref_count): userspace's references, which together hold one kref. Unused by other profiles.
  unsigned int user_ref_count;
};

// Mirrors ion.c:struct ion_vma_list @ v4.4.
struct ion_vma_list {
  struct list_head list;
  struct vm_area_struct* vma;
};

// ---- ion.c -----------------------------------------------------------------------------------------------------

// Mirrors ion.c:ion_buffer_fault_user_mappings() @ v4.4: cached buffers without NEEDS_SYNC are mapped to
// userspace page by page through a fault handler.
bool ion_buffer_fault_user_mappings(const struct ion_buffer* buffer);
// Mirrors ion.c:ion_buffer_cached() @ v4.4.
bool ion_buffer_cached(const struct ion_buffer* buffer);
// Mirrors ion.c:ion_buffer_destroy() @ v4.4: unmap_kernel (with a WARN) if still mapped, unmap_dma, heap free.
void ion_buffer_destroy(struct ion_buffer* buffer);

// Mirrors ion.c:ion_handle_get_by_id_nolock() @ v4.4: a temporary reference, or -EINVAL.
ErrnoOr<struct ion_handle*> ion_handle_get_by_id_nolock(struct ion_client* client, int id)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(client->lock);
// Mirrors ion.c:ion_handle_get_by_id() @ v4.4.
ErrnoOr<struct ion_handle*> ion_handle_get_by_id(struct ion_client* client, int id);
// Mirrors ion.c:ion_handle_put_nolock() @ v4.4. The caller holds handle->client->lock (checked at run time
// with lockdep_assert_held: callers reach the client through different pointers).
int ion_handle_put_nolock(struct ion_handle* handle);
// Test-only bug injection. Divergence: not in upstream. A deliberately wrong behaviour that a test or a fuzz
// harness switches on to show that its oracles catch such a bug; off by default, and nothing but tests and the
// fuzz harnesses (fuzz/fuzz_machine.cc: IONSIM_FUZZ_INJECT) ever sets it.
struct ion_injected_bugs {
  // ION_IOC_FREE of a handle that holds more than one reference (imported again by its client) removes the
  // handle's id from the client's idr although the handle stays referenced in the rb-tree: a lifetime bug
  // (the handle becomes unreachable by id while alive; the client's teardown later removes the id again).
  bool free_unlinks_referenced_handle = false;
};
extern struct ion_injected_bugs ion_injected_bugs;

// Mirrors ion.c:__ion_alloc() @ v4.9.299 (Android 3.18 marlin; switch alloc_grab_handle): ion_alloc() that, with
// grab_handle, takes a second handle reference under client->lock before the id is visible.
ErrnoOr<struct ion_handle*> __ion_alloc(struct ion_client* client, size_t len, size_t align, unsigned int heap_id_mask,
                                        unsigned int flags, bool grab_handle);
// Mirrors ion.c:ion_handle_get_check_overflow() @ v4.9.299 (Android 3.18 marlin; switch handle_overflow_check):
// a reference, or -EOVERFLOW when the count would wrap to 0.
ErrnoOr<struct ion_handle*> ion_handle_get_check_overflow(struct ion_handle* handle);
// Mirrors ion-ioctl.c:pass_to_user() @ v4.9.299 (switch user_ref_count): turns the caller's temporary reference
// into a user reference (-EOVERFLOW when the user count would wrap).
ErrnoOr<struct ion_handle*> pass_to_user(struct ion_handle* handle) ABSL_LOCKS_EXCLUDED(handle->client->lock);
// Mirrors ion-ioctl.c:user_ion_free_nolock() @ v4.9.299 (switch user_ref_count): drops one user reference.
void user_ion_free_nolock(struct ion_client* client, struct ion_handle* handle)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(client->lock);
// Mirrors ion.c:ion_free_nolock() @ v4.4: WARNs for a handle that is not the client's.
void ion_free_nolock(struct ion_client* client, struct ion_handle* handle) ABSL_EXCLUSIVE_LOCKS_REQUIRED(client->lock);
// Mirrors ion.c:ion_free() @ v4.4.0 (profile 4.4.0): validate under client->lock, unlock, then ion_handle_put().
void ion_free_unlocked_put(struct ion_client* client, struct ion_handle* handle) ABSL_LOCKS_EXCLUDED(client->lock);
// Mirrors ion.c:ion_share_dma_buf_fd() @ v4.4: a new O_CLOEXEC fd of get_current(), or the error.
int ion_share_dma_buf_fd(struct ion_client* client, struct ion_handle* handle);
// Mirrors ion.c:ion_sync_for_device() @ v4.4.
int ion_sync_for_device(struct ion_client* client, int fd);
// Mirrors ion.c:ion_query_heaps() @ v4.11.
int ion_query_heaps(struct ion_client* client, struct ion_heap_query* query);
// Mirrors ion.c:ion_alloc_fd() @ v4.14 (the 4.12 ALLOC): an O_CLOEXEC dma-buf fd of get_current(), or the
// error; the dma-buf owns the buffer's creation reference.
int ion_alloc_fd(struct ion_device* dev, size_t len, unsigned int heap_id_mask, unsigned int flags);

// Mirrors ion-ioctl.c:ion_ioctl() @ v4.11 (ion.c:ion_ioctl() @ v4.4 for the legacy commands).
long ion_ioctl(struct file* filp, unsigned int cmd, unsigned long arg);

// ---- ion_heap.c ------------------------------------------------------------------------------------------------

// Mirrors ion_heap.c:ion_heap_map_kernel() @ v4.4.
ErrnoOr<void*> ion_heap_map_kernel(struct ion_heap* heap, struct ion_buffer* buffer);

// The page arrays v4.4 vmallocs from a buffer's length and fills from its sg table (ion_buffer_create's
// buffer->pages, ion_heap_map_kernel's vmap array). vmalloc rounds the array up to whole pages, so stores past
// its length land in that slack: the model allocates the same slack (ion_page_array_alloc) and fills through
// ion_page_array_fill, which stores every page of every entry as upstream does and reports the first store past
// the asked length as a kOutOfBounds event naming `caller`. A store past the rounded allocation would fault in
// the kernel (vmalloc's guard page); the model reports it in the same event and stops storing.
struct page** ion_page_array_alloc(size_t npages);
void ion_page_array_fill(struct page** pages, size_t npages, struct sg_table* table, const char* caller);
// Mirrors ion_heap.c:ion_heap_unmap_kernel() @ v4.4.
void ion_heap_unmap_kernel(struct ion_heap* heap, struct ion_buffer* buffer);
// Mirrors ion_heap.c:ion_heap_map_user() @ v4.4.
int ion_heap_map_user(struct ion_heap* heap, struct ion_buffer* buffer, struct vm_area_struct* vma);
// Mirrors ion_heap.c:ion_heap_buffer_zero() @ v4.4.
int ion_heap_buffer_zero(struct ion_buffer* buffer);
// Mirrors ion_heap.c:ion_heap_pages_zero() @ v4.4.
int ion_heap_pages_zero(struct page* page, size_t size, pgprot_t pgprot);
// Mirrors ion_heap.c:ion_heap_init_deferred_free() @ v4.4.
int ion_heap_init_deferred_free(struct ion_heap* heap);
// Mirrors ion_heap.c:ion_heap_freelist_add() @ v4.4: at the head, free_list_size += size, wake the thread.
void ion_heap_freelist_add(struct ion_heap* heap, struct ion_buffer* buffer);
// Mirrors ion_heap.c:ion_heap_freelist_drain() @ v4.4: destroys from the head until `size` bytes are drained
// (0: everything); returns the bytes drained.
size_t ion_heap_freelist_drain(struct ion_heap* heap, size_t size);
// Mirrors ion_heap.c:ion_heap_freelist_shrink() @ v4.4: as drain, with ION_PRIV_FLAG_SHRINKER_FREE set.
size_t ion_heap_freelist_shrink(struct ion_heap* heap, size_t size);
// Mirrors ion_heap.c:ion_heap_freelist_size() @ v4.4.
size_t ion_heap_freelist_size(struct ion_heap* heap);
// Runs the heap's deferred-free thread (ion_heap_deferred_free @ v4.4) until its list is empty, one buffer
// at a time from the head; returns the buffers destroyed. The thread of a real kernel runs whenever the
// scheduler lets it; the model runs it only here, so traces stay deterministic.
size_t ion_heap_deferred_free_run(struct ion_heap* heap, size_t max_buffers);
// Mirrors ion_heap.c:ion_heap_init_shrinker() @ v4.4.
int ion_heap_init_shrinker(struct ion_heap* heap);
// Unregisters the shrinker and drains the free list: the teardown a module unload needs (v4.4 has none).
void ion_heap_cleanup(struct ion_heap* heap);
// Mirrors ion_heap.c:ion_pages_sync_for_device() (ion_priv.h) @ v4.4.
void ion_pages_sync_for_device(struct device* dev, struct page* page, size_t size, enum dma_data_direction dir);

// Mirrors ion_carveout_heap.c:ION_CARVEOUT_ALLOCATE_FAIL @ v4.4.
inline constexpr phys_addr_t ION_CARVEOUT_ALLOCATE_FAIL = static_cast<phys_addr_t>(-1);

// The heap table: how ion_heap_create() finds a heap type's create and destroy functions. A heap file
// registers its types at static initialisation (ION_REGISTER_HEAP_TYPE), so new heap types slot in without
// touching the core. Mirrors the switch statements of ion_heap.c:ion_heap_create()/ion_heap_destroy() @ v4.4.
struct ion_heap_type_ops {
  enum ion_heap_type type;
  const char* name;  // "carveout"...
  ErrnoOr<struct ion_heap*> (*create)(const struct ion_platform_heap* heap_data);
  void (*destroy)(struct ion_heap* heap);
};
bool ion_register_heap_type(const struct ion_heap_type_ops* ops);
const struct ion_heap_type_ops* ion_find_heap_type(enum ion_heap_type type);

// Mirrors ion_carveout_heap.c @ v4.4.
ErrnoOr<struct ion_heap*> ion_carveout_heap_create(const struct ion_platform_heap* heap_data);
void ion_carveout_heap_destroy(struct ion_heap* heap);
// Mirrors ion_carveout_heap.c:ion_carveout_allocate() @ v4.4.
phys_addr_t ion_carveout_allocate(struct ion_heap* heap, unsigned long size, unsigned long align);
// Mirrors ion_carveout_heap.c:ion_carveout_free() @ v4.4.
void ion_carveout_free(struct ion_heap* heap, phys_addr_t addr, unsigned long size);
// The carveout's genalloc pool (for layout dumps and the invariant checker).
struct gen_pool* ion_carveout_heap_pool(struct ion_heap* heap);
phys_addr_t ion_carveout_heap_base(struct ion_heap* heap);

// Mirrors ion_system_heap.c:ion_system_contig_heap_create() @ v4.4.
ErrnoOr<struct ion_heap*> ion_system_contig_heap_create(const struct ion_platform_heap* heap_data);
void ion_system_contig_heap_destroy(struct ion_heap* heap);

// ---- ion_page_pool.c -------------------------------------------------------------------------------------------

// Mirrors ion_priv.h:struct ion_page_pool @ v4.4: free blocks of one order, highmem and lowmem kept apart.
struct ion_page_pool {
  int high_count ABSL_GUARDED_BY(mutex);
  int low_count ABSL_GUARDED_BY(mutex);
  struct list_head high_items ABSL_GUARDED_BY(mutex);
  struct list_head low_items ABSL_GUARDED_BY(mutex);
  struct mutex mutex;
  gfp_t gfp_mask;
  unsigned int order;
  struct plist_node list;
  // Divergence: the machine the pool's pages come from (the kernel's page allocator is global).
  struct phys_mem* mem;
};

// Mirrors ion_page_pool.c:ion_page_pool_create() @ v4.4: the pool allocates with gfp_mask | __GFP_COMP.
struct ion_page_pool* ion_page_pool_create(struct phys_mem* mem, gfp_t gfp_mask, unsigned int order);
// Mirrors ion_page_pool.c:ion_page_pool_destroy() @ v4.4, which frees only the struct.
// Divergence: pages still pooled go back to the page allocator first (v4.4 never destroys a pool; the model's
// module unload does, and must return every page).
void ion_page_pool_destroy(struct ion_page_pool* pool);
// Mirrors ion_page_pool.c:ion_page_pool_alloc() @ v4.4: a pooled highmem block, else a lowmem one, else a new
// block from the page allocator (synced for device); NULL when that fails.
struct page* ion_page_pool_alloc(struct ion_page_pool* pool);
// Mirrors ion_page_pool.c:ion_page_pool_free() @ v4.4: BUG unless the block has the pool's order.
void ion_page_pool_free(struct ion_page_pool* pool, struct page* page);
// Mirrors ion_page_pool.c:ion_page_pool_shrink() @ v4.4: nr_to_scan 0 counts (base pages: lowmem, plus highmem
// when the caller may free it); otherwise frees lowmem blocks first, then highmem ones if allowed, until
// nr_to_scan base pages are freed; returns base pages freed.
int ion_page_pool_shrink(struct ion_page_pool* pool, gfp_t gfp_mask, int nr_to_scan);

// Mirrors ion_system_heap.c:ion_system_heap_create() @ v4.4.
ErrnoOr<struct ion_heap*> ion_system_heap_create(const struct ion_platform_heap* heap_data);
// Mirrors ion_system_heap.c:ion_system_heap_destroy() @ v4.4.
void ion_system_heap_destroy(struct ion_heap* heap);
// The page orders of the system heap's chunks, largest first (ion_system_heap.c:orders[] @ v4.4), and its pool
// for orders[i] (for the canonical dump and the invariant checker).
inline constexpr unsigned int ion_system_heap_orders[] = {8, 4, 0};
inline constexpr int ion_system_heap_num_orders = 3;
struct ion_page_pool* ion_system_heap_pool(struct ion_heap* heap, int index);

// ---- ion_chunk_heap.c ------------------------------------------------------------------------------------------

// Mirrors ion_chunk_heap.c:ion_chunk_heap_create() @ v4.4: platform priv is the chunk size.
ErrnoOr<struct ion_heap*> ion_chunk_heap_create(const struct ion_platform_heap* heap_data);
// Mirrors ion_chunk_heap.c:ion_chunk_heap_destroy() @ v4.4.
void ion_chunk_heap_destroy(struct ion_heap* heap);
// The chunk heap's pool, base, size, chunk size and allocated counter (layout dumps, invariant checker).
struct gen_pool* ion_chunk_heap_pool(struct ion_heap* heap);
phys_addr_t ion_chunk_heap_base(struct ion_heap* heap);
unsigned long ion_chunk_heap_chunk_size(struct ion_heap* heap);
unsigned long ion_chunk_heap_allocated(struct ion_heap* heap);

// ---- ion_cma_heap.c --------------------------------------------------------------------------------------------

// Mirrors ion_cma_heap.c:ION_CMA_ALLOCATE_FAILED @ v4.4: returned as an errno, so userspace sees EPERM.
inline constexpr int ION_CMA_ALLOCATE_FAILED = -1;
// Mirrors ion_cma_heap.c:ion_cma_heap_create() @ v4.4: platform priv is the device whose CMA area backs the
// heap (struct device with cma_area set).
ErrnoOr<struct ion_heap*> ion_cma_heap_create(const struct ion_platform_heap* heap_data);
// Mirrors ion_cma_heap.c:ion_cma_heap_destroy() @ v4.4.
void ion_cma_heap_destroy(struct ion_heap* heap);
// The base of the heap's CMA area, the allocation call of a buffer ("coherent": dma_alloc_coherent, "wc":
// dma_alloc_writecombine) and the heap's board choice (alloc=, "coherent" or "wc").
phys_addr_t ion_cma_heap_base(struct ion_heap* heap);
unsigned long ion_cma_heap_used_pages(struct ion_heap* heap);
const char* ion_cma_buffer_map_attr(struct ion_buffer* buffer);
const char* ion_cma_heap_alloc_name(struct ion_heap* heap);

}  // namespace ionsim::kernel

#endif  // MODEL_ION_PRIV_H_
