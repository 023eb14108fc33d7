/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ionsim: the ION core's private structures, mirroring
 * drivers/staging/android/ion/ion_priv.h and the structs at the top of
 * ion.c @ v4.4, ported to Linux 6.1.
 *
 * Lock order (from the v4.4 call paths; a lock is only taken while holding
 * locks above it):
 *   1. dev->lock (rwsem)		read across the ALLOC heap loop (heap
 *					allocate and its free-list drain run
 *					under it), the heap and state debugfs
 *					files and ion/drain; write for client
 *					create/destroy and heap add
 *   2. heap->defer_lock (mutex)	the deferred-free thread from pop to
 *					destroy; ion/drain
 *   3. client->lock (mutex)		the client's idr, handle rb-tree and
 *					handle refcounts
 *   4. buffer->lock (mutex)		kmap counts, vmas, handle_count, the
 *					fault-mode page dirty bits
 *   5. dev->buffer_lock (mutex)	the device's buffer rb-tree
 *   6. heap->free_lock (spinlock)	the deferred-free list; dropped around
 *					each buffer destroy
 * A buffer's last put (under client->lock from FREE, or under no ION lock
 * from dma-buf release) takes dev->buffer_lock and then heap->free_lock;
 * destroying a buffer takes no ION device lock (heap->ops->free takes the
 * heap's own locks: page pool mutexes, the genalloc pool, the CMA area).
 *
 * Locks the module takes beyond v4.4 (each a Divergence at its site, kept
 * because the module runs real concurrent processes on 6.1 and v4.4's
 * unlocked walks there are use-after-free races that would crash the guest):
 * ion_client_destroy() holds client->lock around its handle walk, and
 * ion_debug_heap_show() holds dev->lock for read around its dev->clients
 * walk. The model (model/ion.cc) keeps v4.4's lock-free forms, so its lock
 * sequence for client destroy and a heap file read lacks exactly these two
 * pairs; nothing else differs, and no single-threaded trace can see them.
 *
 * Memory. The system and system contig heaps take pages from the page
 * allocator (alloc_pages). The carveout, chunk and dma heaps live in the
 * physical range the module parameters reserve_base= and reserve_size= name,
 * which the kernel was booted to keep out of System RAM with
 * memmap=<size>$<base>. On x86_64 6.1 (SPARSEMEM_VMEMMAP) that range lies in
 * memory sections that also hold RAM, so every page of it has a struct page
 * (pfn_valid() is true, PageReserved is set) while the kernel's direct map
 * does not cover it. The module therefore keeps v4.4's page handling for
 * these heaps: sg entries carry struct pages (sg_set_page(pfn_to_page())),
 * kernel mappings are vmap()s of those pages (ion_heap_map_kernel(), the
 * zeroing of ion_heap_pages_zero()), user mappings are remap_pfn_range() by
 * pfn, and page_address() is never used on them. A heap whose range has a
 * page without a struct page is refused at creation (-EINVAL). The dma heap's
 * kernel address (dma_alloc_coherent()'s cpu_addr in v4.4) is a memremap() of
 * the buffer, write-combine, matching the write-combine user mappings of its
 * always-uncached buffers so the x86 PAT memtype of the range stays one type.
 *
 * debugfs (under /sys/kernel/debug/ion/):
 *   heaps/<name>		v4.4's heap file (ion_debug_heap_show())
 *   heaps/<name>_shrink	v4.4's shrinker file: read the count, write N
 *				to scan N objects, 0 to scan all it counts
 *   clients/<pid>-<serial>	v4.4's client file (ion_debug_client_show())
 *   state			the canonical dump, format "ionsim-state 1"
 *				(see ion_state.c and model/ion_state.h)
 *   drain			write anything: every DEFER_FREE heap's free
 *				list is destroyed synchronously (the deferred
 *				thread's destroy in flight is waited for)
 *   board			the board, as ion_board_render() prints it
 *   counters			one "<name> <value>" line per counter:
 *	buffers_created		buffers that ion_buffer_create() made
 *	buffers_destroyed	buffers that ion_buffer_destroy() freed
 *	buffers_live		created - destroyed (free-listed ones included)
 *	clients_live		clients not yet destroyed
 *	handles_live		handles not yet destroyed
 *	dmabufs_live		ION dma-bufs not yet released
 *	kernel_mappings_live	heap map_kernel mappings not yet unmapped
 *	pages_allocated		base pages taken from the page allocator
 *	pages_freed		base pages given back to the page allocator
 *	pages_live		allocated - freed
 *	pool_pages		base pages held by the system heap's page pools
 *	reserved_pages_allocated base pages of the reserved range handed to
 *				carveout, chunk and dma buffers
 *	reserved_pages_freed	base pages of the reserved range given back
 *	reserved_pages_live	allocated - freed
 *   With every client closed, every dma-buf released and ion/drain written,
 *   every *_live counter is 0 except pages_live, which equals pool_pages.
 *   Module unload destroys the heaps (their pools included) and prints the
 *   same counters on one line ("ionsim: unload: name=value ..."), where
 *   pages_live is 0 as well.
 */
#ifndef _IONSIM_ION_PRIV_H
#define _IONSIM_ION_PRIV_H

#include <linux/atomic.h>
#include <linux/device.h>
#include <linux/dma-direction.h>
#include <linux/idr.h>
#include <linux/kref.h>
#include <linux/miscdevice.h>
#include <linux/mm_types.h>
#include <linux/mutex.h>
#include <linux/plist.h>
#include <linux/rbtree.h>
#include <linux/rwsem.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/shrinker.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>

#include "ion.h"
#include "ion_profile.h"

/**
 * struct ion_buffer - metadata for a particular buffer
 * (mirrors ion_priv.h:struct ion_buffer @ v4.4)
 * @ref:		reference count
 * @node:		node in the ion_device buffers tree
 * @list:		element in the heap's list of deferred freeable buffers
 * @dev:		back pointer to the ion_device
 * @heap:		back pointer to the heap the buffer came from
 * @flags:		buffer specific flags
 * @private_flags:	internal buffer specific flags
 * @size:		size of the buffer
 * @priv_virt:		private data to the buffer representable as a void *
 * @priv_phys:		private data to the buffer representable as an
 *			ion_phys_addr_t (and someday a phys_addr_t)
 * @lock:		protects the buffers cnt fields
 * @kmap_cnt:		number of times the buffer is mapped to the kernel
 * @vaddr:		the kernel mapping if kmap_cnt is not zero
 * @dmap_cnt:		number of times the buffer is mapped for dma
 * @sg_table:		the sg table for the buffer if dmap_cnt is not zero
 * @pages:		flat array of pages in the buffer -- used by fault
 *			handler and only valid for buffers that are faulted in
 * @vmas:		list of vma's mapping this buffer
 * @handle_count:	count of handles referencing this buffer
 * @task_comm:		taskcomm of last client to reference this buffer in a
 *			handle, used for debugging
 * @pid:		pid of last client to reference this buffer in a
 *			handle, used for debugging
 * @serial:		creation sequence number (ion/state's stable key;
 *			module bookkeeping, not in v4.4)
 * @free_group:		serial of the client whose destroy dropped the last
 *			reference, 0 when another path did: ion/state joins
 *			such a run of the free list with '+' (module
 *			bookkeeping, not in v4.4; the run is in buffer-address
 *			order, which differs from the model's)
 */
struct ion_buffer {
	struct kref ref;
	union {
		struct rb_node node;
		struct list_head list;
	};
	struct ion_device *dev;
	struct ion_heap *heap;
	unsigned long flags;
	unsigned long private_flags;
	size_t size;
	union {
		void *priv_virt;
		ion_phys_addr_t priv_phys;
	};
	struct mutex lock;
	int kmap_cnt;
	void *vaddr;
	int dmap_cnt;
	struct sg_table *sg_table;
	struct page **pages;
	struct list_head vmas;
	/* used to track orphaned buffers */
	int handle_count;
	char task_comm[TASK_COMM_LEN];
	pid_t pid;
	unsigned long serial;
	unsigned long free_group;
};

/**
 * struct ion_heap_ops - ops to operate on a given heap
 * (mirrors ion_priv.h:struct ion_heap_ops @ v4.4)
 * @allocate:		allocate memory
 * @free:		free memory
 * @phys:		get physical address of a buffer (only define on
 *			physically contiguous heaps)
 * @map_dma:		map the memory for dma to a scatterlist
 * @unmap_dma:		unmap the memory for dma
 * @map_kernel:		map memory to the kernel
 * @unmap_kernel:	unmap memory to the kernel
 * @map_user:		map memory to userspace
 * @shrink:		shrinker hook to reduce freelist/pool sizes
 *
 * allocate, phys, and map_user return 0 on success, -errno on error.
 * map_dma and map_kernel return pointer on success, ERR_PTR on
 * error. @free will be called with ION_PRIV_FLAG_SHRINKER_FREE set in
 * the buffer's private_flags when called from a shrinker. In that
 * case, the pages being free'd must be truly free'd back to the
 * system, not put in a page pool or otherwise cached.
 */
struct ion_heap_ops {
	int (*allocate)(struct ion_heap *heap,
			struct ion_buffer *buffer, unsigned long len,
			unsigned long align, unsigned long flags);
	void (*free)(struct ion_buffer *buffer);
	int (*phys)(struct ion_heap *heap, struct ion_buffer *buffer,
		    ion_phys_addr_t *addr, size_t *len);
	struct sg_table * (*map_dma)(struct ion_heap *heap,
				     struct ion_buffer *buffer);
	void (*unmap_dma)(struct ion_heap *heap, struct ion_buffer *buffer);
	void * (*map_kernel)(struct ion_heap *heap, struct ion_buffer *buffer);
	void (*unmap_kernel)(struct ion_heap *heap, struct ion_buffer *buffer);
	int (*map_user)(struct ion_heap *mapper, struct ion_buffer *buffer,
			struct vm_area_struct *vma);
	int (*shrink)(struct ion_heap *heap, gfp_t gfp_mask, int nr_to_scan);
};

/* Mirrors ion_priv.h:ION_HEAP_FLAG_DEFER_FREE @ v4.4. */
#define ION_HEAP_FLAG_DEFER_FREE (1 << 0)

/*
 * Mirrors ion_priv.h:ION_PRIV_FLAG_SHRINKER_FREE @ v4.4: the buffer is being
 * freed from a shrinker function; skip any possible object caching.
 */
#define ION_PRIV_FLAG_SHRINKER_FREE (1 << 0)

/**
 * struct ion_heap - represents a heap in the system
 * (mirrors ion_priv.h:struct ion_heap @ v4.4)
 * @node:		rb node to put the heap on the device's tree of heaps
 * @dev:		back pointer to the ion_device
 * @type:		type of heap
 * @ops:		ops struct as above
 * @flags:		flags
 * @id:			id of heap, also indicates priority of this heap when
 *			allocating.  These are specified by platform data and
 *			MUST be unique
 * @name:		used for debugging
 * @shrinker:		a shrinker for the heap
 * @free_list:		free list head if deferred free is used
 * @free_list_size	size of the deferred free list in bytes
 * @free_lock:		protects the free list
 * @waitqueue:		queue to wait on from deferred free thread
 * @task:		task struct of deferred free thread
 * @debug_show:		called when heap debug file is read to add any
 *			heap specific debug info to output
 * @defer_lock:		held by the deferred free thread from taking a buffer
 *			off the free list to destroying it, and by ion/drain
 *			(module bookkeeping, not in v4.4)
 * @shrinker_registered: register_shrinker() succeeded
 * @page_allocator:	the heap's buffers come from the page allocator, so
 *			the kernel's direct map holds them write-back
 *
 * Represents a pool of memory from which buffers can be made.  In some
 * systems the only heap is regular system memory allocated via vmalloc.
 * On others, some blocks might require large physically contiguous buffers
 * that are allocated from a specially reserved heap.
 */
struct ion_heap {
	struct plist_node node;
	struct ion_device *dev;
	enum ion_heap_type type;
	struct ion_heap_ops *ops;
	unsigned long flags;
	unsigned int id;
	const char *name;
	struct shrinker shrinker;
	struct list_head free_list;
	size_t free_list_size;
	spinlock_t free_lock;
	wait_queue_head_t waitqueue;
	struct task_struct *task;

	int (*debug_show)(struct ion_heap *heap, struct seq_file *s,
			  void *unused);

	struct mutex defer_lock;
	bool shrinker_registered;
	bool page_allocator;
};

/**
 * struct ion_device - the metadata of the ion device node
 * (mirrors ion.c:struct ion_device @ v4.4, plus heap_cnt from v4.11)
 * @dev:		the actual misc device
 * @buffers:		an rb tree of all the existing buffers
 * @buffer_lock:	lock protecting the tree of buffers
 * @lock:		rwsem protecting the tree of heaps and clients
 * @heaps:		list of all the heaps in the system
 * @custom_ioctl:	the platform's ION_IOC_CUSTOM handler (none here)
 * @clients:		an rb tree of all the clients
 * @debug_root:		debugfs ion/
 * @heaps_debug_root:	debugfs ion/heaps/
 * @clients_debug_root:	debugfs ion/clients/
 * @heap_cnt:		number of heaps, for ION_IOC_HEAP_QUERY
 * @next_buffer_serial:	the last buffer serial handed out (buffer_lock)
 * @next_client_serial:	the last client serial handed out (lock, write)
 */
struct ion_device {
	struct miscdevice dev;
	struct rb_root buffers;
	struct mutex buffer_lock;
	struct rw_semaphore lock;
	struct plist_head heaps;
	long (*custom_ioctl)(struct ion_client *client, unsigned int cmd,
			     unsigned long arg);
	struct rb_root clients;
	struct dentry *debug_root;
	struct dentry *heaps_debug_root;
	struct dentry *clients_debug_root;
	int heap_cnt;
	/*
	 * Not in v4.4 (one kernel is one era): the profile chosen at
	 * creation (ion_profile.h), read-only after.
	 */
	const struct ion_profile *profile;
	unsigned long next_buffer_serial;
	unsigned long next_client_serial;
};

/**
 * struct ion_client - a process/hw block local address space
 * (mirrors ion.c:struct ion_client @ v4.4)
 * @node:		node in the tree of all clients
 * @dev:		backpointer to ion device
 * @handles:		an rb tree of all the handles in this client
 * @idr:		an idr space for allocating handle ids
 * @lock:		lock protecting the tree of handles
 * @name:		used for debugging
 * @display_name:	used for debugging (unique version of @name)
 * @display_serial:	used for debugging (to make display_name unique)
 * @task:		used for debugging
 * @pid:		used for debugging
 * @debug_root:		the client's debugfs file
 * @serial:		creation sequence number (ion/state's stable key;
 *			module bookkeeping, not in v4.4)
 *
 * A client represents a list of buffers this client may access.
 * The mutex stored here is used to protect both handles tree
 * as well as the handles themselves, and should be held while modifying
 * either.
 */
struct ion_client {
	struct rb_node node;
	struct ion_device *dev;
	struct rb_root handles;
	struct idr idr;
	struct mutex lock;
	const char *name;
	char *display_name;
	int display_serial;
	struct task_struct *task;
	pid_t pid;
	struct dentry *debug_root;
	unsigned long serial;
};

/**
 * struct ion_handle - a client local reference to a buffer
 * (mirrors ion.c:struct ion_handle @ v4.4)
 * @ref:		reference count
 * @client:		back pointer to the client the buffer resides in
 * @buffer:		pointer to the buffer
 * @node:		node in the client's handle rbtree
 * @kmap_cnt:		count of times this client has mapped to kernel
 * @id:			client-unique id allocated by client->idr
 *
 * Modifications to node, map_cnt or mapping should be protected by the
 * lock in the client.  Other fields are never changed after initialization.
 */
struct ion_handle {
	struct kref ref;
	struct ion_client *client;
	struct ion_buffer *buffer;
	struct rb_node node;
	unsigned int kmap_cnt;
	int id;
	/*
	 * Mirrors ion_priv.h:struct ion_handle.user_ref_count @ v4.9.299
	 * (Android 3.18 marlin; profile android-3.18, switch user_ref_count):
	 * userspace's references, which together hold one kref.
	 */
	unsigned int user_ref_count;
};

/* Mirrors ion.c:struct ion_vma_list @ v4.4. */
struct ion_vma_list {
	struct list_head list;
	struct vm_area_struct *vma;
};

/* The counters of debugfs ion/counters (see the top of this file). */
struct ion_counters {
	atomic_long_t buffers_created;
	atomic_long_t buffers_destroyed;
	atomic_long_t clients_live;
	atomic_long_t handles_live;
	atomic_long_t dmabufs_live;
	atomic_long_t kernel_mappings_live;
	atomic_long_t pages_allocated;
	atomic_long_t pages_freed;
	atomic_long_t pool_pages;
	atomic_long_t reserved_pages_allocated;
	atomic_long_t reserved_pages_freed;
};

extern struct ion_counters ion_counters;

/* ion.c */

bool ion_buffer_fault_user_mappings(struct ion_buffer *buffer);
bool ion_buffer_cached(struct ion_buffer *buffer);
void ion_buffer_destroy(struct ion_buffer *buffer);
struct ion_handle *ion_handle_get_by_id_nolock(struct ion_client *client,
					       int id);
struct ion_handle *ion_handle_get_by_id(struct ion_client *client, int id);
int ion_handle_put_nolock(struct ion_handle *handle);
int ion_handle_put(struct ion_handle *handle);
void ion_free_nolock(struct ion_client *client, struct ion_handle *handle);
struct ion_handle *__ion_alloc(struct ion_client *client, size_t len,
			       size_t align, unsigned int heap_id_mask,
			       unsigned int flags, bool grab_handle);
struct ion_handle *ion_handle_get_check_overflow(struct ion_handle *handle);
struct ion_handle *pass_to_user(struct ion_handle *handle);
void user_ion_free_nolock(struct ion_client *client, struct ion_handle *handle);
int ion_sync_for_device(struct ion_client *client, int fd);
int ion_query_heaps(struct ion_client *client, struct ion_heap_query *query);
int ion_alloc_fd(struct ion_device *dev, size_t len, unsigned int heap_id_mask,
		 unsigned int flags);
struct ion_device *ion_device_create(long (*custom_ioctl)
				     (struct ion_client *client,
				      unsigned int cmd,
				      unsigned long arg),
				     const struct ion_profile *profile);
void ion_free_unlocked_put(struct ion_client *client,
			   struct ion_handle *handle);
void ion_device_destroy(struct ion_device *dev);
void ion_device_add_heap(struct ion_device *dev, struct ion_heap *heap);
void ion_device_remove_heap(struct ion_device *dev, struct ion_heap *heap);

/* ion-ioctl.c */

long ion_ioctl(struct file *filp, unsigned int cmd, unsigned long arg);

/* ion_heap.c */

void ion_heap_set_dma_device(struct device *dev);
struct device *ion_heap_dma_device(struct device *dev);
pgprot_t ion_buffer_pgprot(struct ion_buffer *buffer, pgprot_t prot);
void *ion_heap_map_kernel(struct ion_heap *heap, struct ion_buffer *buffer);
void ion_heap_unmap_kernel(struct ion_heap *heap, struct ion_buffer *buffer);
int ion_remap_pfn_range(struct vm_area_struct *vma, unsigned long addr,
			unsigned long pfn, unsigned long size, pgprot_t prot);
int ion_heap_map_user(struct ion_heap *heap, struct ion_buffer *buffer,
		      struct vm_area_struct *vma);
int ion_heap_buffer_zero(struct ion_buffer *buffer);
int ion_heap_pages_zero(struct page *page, size_t size, pgprot_t pgprot);
bool ion_heap_range_has_pages(phys_addr_t base, size_t size);

int ion_heap_init_deferred_free(struct ion_heap *heap);
void ion_heap_stop_deferred_free(struct ion_heap *heap);
void ion_heap_freelist_add(struct ion_heap *heap, struct ion_buffer *buffer);
size_t ion_heap_freelist_drain(struct ion_heap *heap, size_t size);
size_t ion_heap_freelist_shrink(struct ion_heap *heap, size_t size);
size_t ion_heap_freelist_size(struct ion_heap *heap);
int ion_heap_init_shrinker(struct ion_heap *heap);
void ion_heap_cleanup_shrinker(struct ion_heap *heap);

struct ion_heap *ion_heap_create(struct ion_platform_heap *heap_data);
void ion_heap_destroy(struct ion_heap *heap);

void ion_pages_sync_for_device(struct device *dev, struct page *page,
			       size_t size, enum dma_data_direction dir);

/* ion_system_heap.c */

struct ion_heap *ion_system_heap_create(struct ion_platform_heap *unused);
void ion_system_heap_destroy(struct ion_heap *heap);
struct ion_page_pool *ion_system_heap_pool(struct ion_heap *heap, int index);

struct ion_heap *ion_system_contig_heap_create(struct ion_platform_heap *heap);
void ion_system_contig_heap_destroy(struct ion_heap *heap);

/* ion_carveout_heap.c */

/* Mirrors ion_carveout_heap.c:ION_CARVEOUT_ALLOCATE_FAIL @ v4.4. */
#define ION_CARVEOUT_ALLOCATE_FAIL -1

struct ion_heap *ion_carveout_heap_create(struct ion_platform_heap *heap_data);
void ion_carveout_heap_destroy(struct ion_heap *heap);
ion_phys_addr_t ion_carveout_allocate(struct ion_heap *heap,
				      unsigned long size, unsigned long align);
void ion_carveout_free(struct ion_heap *heap, ion_phys_addr_t addr,
		       unsigned long size);
ion_phys_addr_t ion_carveout_heap_base(struct ion_heap *heap);

/* ion_chunk_heap.c */

struct ion_heap *ion_chunk_heap_create(struct ion_platform_heap *heap_data);
void ion_chunk_heap_destroy(struct ion_heap *heap);
ion_phys_addr_t ion_chunk_heap_base(struct ion_heap *heap);
unsigned long ion_chunk_heap_allocated(struct ion_heap *heap);

/* ion_cma_heap.c */

/* Mirrors ion_cma_heap.c:ION_CMA_ALLOCATE_FAILED @ v4.4. */
#define ION_CMA_ALLOCATE_FAILED -1

struct ion_heap *ion_cma_heap_create(struct ion_platform_heap *data);
void ion_cma_heap_destroy(struct ion_heap *heap);
ion_phys_addr_t ion_cma_heap_base(struct ion_heap *heap);
const char *ion_cma_buffer_map_attr(struct ion_buffer *buffer);
const char *ion_cma_heap_alloc_name(struct ion_heap *heap);

/* ion_page_pool.c */

/**
 * struct ion_page_pool - pagepool struct
 * (mirrors ion_priv.h:struct ion_page_pool @ v4.4)
 * @high_count:		number of highmem items in the pool
 * @low_count:		number of lowmem items in the pool
 * @high_items:		list of highmem items
 * @low_items:		list of lowmem items
 * @mutex:		lock protecting this struct and especially the count
 *			item list
 * @gfp_mask:		gfp_mask to use from alloc
 * @order:		order of pages in the pool
 * @list:		plist node for list of pools
 *
 * Allows you to keep a pool of pre allocated pages to use from your heap.
 * Keeping a pool of pages that is ready for dma, ie any cached mapping have
 * been invalidated from the cache, provides a significant performance benefit
 * on many systems.
 */
struct ion_page_pool {
	int high_count;
	int low_count;
	struct list_head high_items;
	struct list_head low_items;
	struct mutex mutex;
	gfp_t gfp_mask;
	unsigned int order;
	struct plist_node list;
};

struct ion_page_pool *ion_page_pool_create(gfp_t gfp_mask, unsigned int order);
void ion_page_pool_destroy(struct ion_page_pool *pool);
struct page *ion_page_pool_alloc(struct ion_page_pool *pool);
void ion_page_pool_free(struct ion_page_pool *pool, struct page *page);
int ion_page_pool_shrink(struct ion_page_pool *pool, gfp_t gfp_mask,
			 int nr_to_scan);

/* ion_state.c */

int ion_state_debugfs_init(struct ion_device *dev, const char *board_text);
void ion_counters_print(const char *prefix);

#endif /* _IONSIM_ION_PRIV_H */
