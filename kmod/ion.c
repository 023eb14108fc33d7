// SPDX-License-Identifier: GPL-2.0-only
/*
 * ionsim: the ION core -- buffers, handles, clients, the dma-buf exporter,
 * the device and its debugfs files -- and the module that builds a device
 * from a board description. Mirrors drivers/staging/android/ion/ion.c and
 * ion_dummy_driver.c @ v4.4 function by function, ported to Linux 6.1.
 */

#include <linux/debugfs.h>
#include <linux/device.h>
#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/err.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/ioport.h>
#include <linux/kernel.h>
#include <linux/list.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/mm_types.h>
#include <linux/module.h>
#include <linux/rbtree.h>
#include <linux/sched/task.h>
#include <linux/scatterlist.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "ion.h"
#include "ion_board.h"
#include "ion_priv.h"

/* Mirrors ion.c:ion_buffer_fault_user_mappings() @ v4.4. */
bool ion_buffer_fault_user_mappings(struct ion_buffer *buffer)
{
	return (buffer->flags & ION_FLAG_CACHED) &&
		!(buffer->flags & ION_FLAG_CACHED_NEEDS_SYNC);
}

/* Mirrors ion.c:ion_buffer_cached() @ v4.4. */
bool ion_buffer_cached(struct ion_buffer *buffer)
{
	return !!(buffer->flags & ION_FLAG_CACHED);
}

/* Mirrors ion.c:ion_buffer_page() @ v4.4. */
static inline struct page *ion_buffer_page(struct page *page)
{
	return (struct page *)((unsigned long)page & ~(1UL));
}

/* Mirrors ion.c:ion_buffer_page_is_dirty() @ v4.4. */
static inline bool ion_buffer_page_is_dirty(struct page *page)
{
	return !!((unsigned long)page & 1UL);
}

/* Mirrors ion.c:ion_buffer_page_dirty() @ v4.4. */
static inline void ion_buffer_page_dirty(struct page **page)
{
	*page = (struct page *)((unsigned long)(*page) | 1UL);
}

/* Mirrors ion.c:ion_buffer_page_clean() @ v4.4. */
static inline void ion_buffer_page_clean(struct page **page)
{
	*page = (struct page *)((unsigned long)(*page) & ~(1UL));
}

/* Mirrors ion.c:ion_buffer_add() @ v4.4: the tree is keyed by address. */
static void ion_buffer_add(struct ion_device *dev,
			   struct ion_buffer *buffer)
{
	struct rb_node **p = &dev->buffers.rb_node;
	struct rb_node *parent = NULL;
	struct ion_buffer *entry;

	while (*p) {
		parent = *p;
		entry = rb_entry(parent, struct ion_buffer, node);

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

/*
 * Mirrors ion.c:ion_buffer_create() @ v4.4. Called with dev->lock held for
 * read.
 */
static struct ion_buffer *ion_buffer_create(struct ion_heap *heap,
					    struct ion_device *dev,
					    unsigned long len,
					    unsigned long align,
					    unsigned long flags)
{
	struct ion_buffer *buffer;
	struct sg_table *table;
	struct scatterlist *sg;
	int i, ret;

	buffer = kzalloc(sizeof(*buffer), GFP_KERNEL);
	if (!buffer)
		return ERR_PTR(-ENOMEM);

	buffer->heap = heap;
	buffer->flags = flags;
	kref_init(&buffer->ref);

	ret = heap->ops->allocate(heap, buffer, len, align, flags);

	if (ret) {
		if (!(heap->flags & ION_HEAP_FLAG_DEFER_FREE))
			goto err2;

		ion_heap_freelist_drain(heap, 0);
		ret = heap->ops->allocate(heap, buffer, len, align,
					  flags);
		if (ret)
			goto err2;
	}

	buffer->dev = dev;
	buffer->size = len;

	table = heap->ops->map_dma(heap, buffer);
	if (WARN_ONCE(!table,
		      "heap->ops->map_dma should return ERR_PTR on error"))
		table = ERR_PTR(-EINVAL);
	if (IS_ERR(table)) {
		heap->ops->free(buffer);
		kfree(buffer);
		return ERR_CAST(table);
	}
	buffer->sg_table = table;
	if (ion_buffer_fault_user_mappings(buffer)) {
		int num_pages = PAGE_ALIGN(buffer->size) / PAGE_SIZE;
		struct scatterlist *sg;
		int i, j, k = 0;

		buffer->pages = vmalloc(sizeof(struct page *) * num_pages);
		if (!buffer->pages) {
			ret = -ENOMEM;
			goto err1;
		}

		/*
		 * As upstream, no bound: a chunk-heap buffer that is not a
		 * whole number of chunks stores past num_pages, into vmalloc's
		 * page rounding (reported by the model as an out-of-bounds
		 * event).
		 */
		for_each_sg(table->sgl, sg, table->nents, i) {
			struct page *page = sg_page(sg);

			for (j = 0; j < sg->length / PAGE_SIZE; j++)
				buffer->pages[k++] = nth_page(page, j);
		}
	}

	buffer->dev = dev;
	buffer->size = len;
	INIT_LIST_HEAD(&buffer->vmas);
	mutex_init(&buffer->lock);
	/*
	 * This sets up DMA addresses for the sglist -- not technically
	 * correct as per the DMA API (no device takes ownership here), but
	 * the only DMA address space is physical addresses, and memory coming
	 * from the heaps is ready for DMA.
	 */
	for_each_sg(buffer->sg_table->sgl, sg, buffer->sg_table->nents, i) {
		sg_dma_address(sg) = sg_phys(sg);
		sg_dma_len(sg) = sg->length;
	}
	mutex_lock(&dev->buffer_lock);
	buffer->serial = ++dev->next_buffer_serial;
	ion_buffer_add(dev, buffer);
	mutex_unlock(&dev->buffer_lock);
	atomic_long_inc(&ion_counters.buffers_created);
	return buffer;

err1:
	heap->ops->unmap_dma(heap, buffer);
	heap->ops->free(buffer);
err2:
	kfree(buffer);
	return ERR_PTR(ret);
}

/* Mirrors ion.c:ion_buffer_destroy() @ v4.4. */
void ion_buffer_destroy(struct ion_buffer *buffer)
{
	if (WARN_ON(buffer->kmap_cnt > 0))
		buffer->heap->ops->unmap_kernel(buffer->heap, buffer);
	buffer->heap->ops->unmap_dma(buffer->heap, buffer);
	buffer->heap->ops->free(buffer);
	vfree(buffer->pages);
	kfree(buffer);
	atomic_long_inc(&ion_counters.buffers_destroyed);
}

/*
 * Mirrors ion.c:_ion_buffer_destroy() @ v4.4: the buffer leaves the device
 * tree, then goes to the heap's free list or is destroyed.
 */
static void _ion_buffer_destroy(struct kref *kref)
{
	struct ion_buffer *buffer = container_of(kref, struct ion_buffer, ref);
	struct ion_heap *heap = buffer->heap;
	struct ion_device *dev = buffer->dev;

	mutex_lock(&dev->buffer_lock);
	rb_erase(&buffer->node, &dev->buffers);
	mutex_unlock(&dev->buffer_lock);

	if (heap->flags & ION_HEAP_FLAG_DEFER_FREE)
		ion_heap_freelist_add(heap, buffer);
	else
		ion_buffer_destroy(buffer);
}

/* Mirrors ion.c:ion_buffer_get() @ v4.4. */
static void ion_buffer_get(struct ion_buffer *buffer)
{
	kref_get(&buffer->ref);
}

/* Mirrors ion.c:ion_buffer_put() @ v4.4. */
static int ion_buffer_put(struct ion_buffer *buffer)
{
	return kref_put(&buffer->ref, _ion_buffer_destroy);
}

/* Mirrors ion.c:ion_buffer_add_to_handle() @ v4.4. */
static void ion_buffer_add_to_handle(struct ion_buffer *buffer)
{
	mutex_lock(&buffer->lock);
	buffer->handle_count++;
	mutex_unlock(&buffer->lock);
}

/*
 * Mirrors ion.c:ion_buffer_remove_from_handle() @ v4.4: when the last handle
 * goes, the comm and pid of current's group leader are kept as the orphan's
 * "last known client".
 */
static void ion_buffer_remove_from_handle(struct ion_buffer *buffer)
{
	mutex_lock(&buffer->lock);
	buffer->handle_count--;
	BUG_ON(buffer->handle_count < 0);
	if (!buffer->handle_count) {
		struct task_struct *task;

		task = current->group_leader;
		get_task_comm(buffer->task_comm, task);
		buffer->pid = task_pid_nr(task);
	}
	mutex_unlock(&buffer->lock);
}

/* Mirrors ion.c:ion_handle_create() @ v4.4. */
static struct ion_handle *ion_handle_create(struct ion_client *client,
					    struct ion_buffer *buffer)
{
	struct ion_handle *handle;

	handle = kzalloc(sizeof(*handle), GFP_KERNEL);
	if (!handle)
		return ERR_PTR(-ENOMEM);
	kref_init(&handle->ref);
	RB_CLEAR_NODE(&handle->node);
	handle->client = client;
	ion_buffer_get(buffer);
	ion_buffer_add_to_handle(buffer);
	handle->buffer = buffer;
	atomic_long_inc(&ion_counters.handles_live);

	return handle;
}

static void ion_handle_kmap_put(struct ion_handle *);

/*
 * Mirrors ion.c:ion_handle_destroy() @ v4.4. Runs under client->lock (from
 * the last put, and from ion_client_destroy()).
 */
static void ion_handle_destroy(struct kref *kref)
{
	struct ion_handle *handle = container_of(kref, struct ion_handle, ref);
	struct ion_client *client = handle->client;
	struct ion_buffer *buffer = handle->buffer;

	mutex_lock(&buffer->lock);
	while (handle->kmap_cnt)
		ion_handle_kmap_put(handle);
	mutex_unlock(&buffer->lock);

	idr_remove(&client->idr, handle->id);
	if (!RB_EMPTY_NODE(&handle->node))
		rb_erase(&handle->node, &client->handles);

	ion_buffer_remove_from_handle(buffer);
	ion_buffer_put(buffer);

	kfree(handle);
	atomic_long_dec(&ion_counters.handles_live);
}

/* Mirrors ion.c:ion_handle_get() @ v4.4. */
static void ion_handle_get(struct ion_handle *handle)
{
	kref_get(&handle->ref);
}

/* Mirrors ion.c:ion_handle_put_nolock() @ v4.4. */
int ion_handle_put_nolock(struct ion_handle *handle)
{
	return kref_put(&handle->ref, ion_handle_destroy);
}

/* Mirrors ion.c:ion_handle_put() @ v4.4. */
int ion_handle_put(struct ion_handle *handle)
{
	struct ion_client *client = handle->client;
	int ret;

	mutex_lock(&client->lock);
	ret = ion_handle_put_nolock(handle);
	mutex_unlock(&client->lock);

	return ret;
}

/*
 * Mirrors ion.c:ion_handle_lookup() @ v4.4: the client's handle for a
 * buffer, found by buffer address.
 */
static struct ion_handle *ion_handle_lookup(struct ion_client *client,
					    struct ion_buffer *buffer)
{
	struct rb_node *n = client->handles.rb_node;

	while (n) {
		struct ion_handle *entry = rb_entry(n, struct ion_handle, node);

		if (buffer < entry->buffer)
			n = n->rb_left;
		else if (buffer > entry->buffer)
			n = n->rb_right;
		else
			return entry;
	}
	return ERR_PTR(-EINVAL);
}

/*
 * Mirrors ion.c:ion_handle_get_check_overflow() @ v4.9.299 (Android 3.18
 * marlin; profile android-3.18, switch handle_overflow_check).
 */
struct ion_handle *ion_handle_get_check_overflow(struct ion_handle *handle)
{
	if (kref_read(&handle->ref) + 1 == 0)
		return ERR_PTR(-EOVERFLOW);
	ion_handle_get(handle);
	return handle;
}

/*
 * Mirrors ion.c:ion_handle_get_by_id_nolock() @ v4.4 (profile
 * android-3.18, switch handle_overflow_check: the reference through
 * ion_handle_get_check_overflow(), @ v4.9.299).
 */
struct ion_handle *ion_handle_get_by_id_nolock(struct ion_client *client,
					       int id)
{
	struct ion_handle *handle;

	handle = idr_find(&client->idr, id);
	if (!handle)
		return ERR_PTR(-EINVAL);
	if (ion_profile_has(client->dev->profile,
			    ION_SW_HANDLE_OVERFLOW_CHECK))
		return ion_handle_get_check_overflow(handle);
	ion_handle_get(handle);
	return handle;
}

/* Mirrors ion.c:ion_handle_get_by_id() @ v4.4. */
struct ion_handle *ion_handle_get_by_id(struct ion_client *client, int id)
{
	struct ion_handle *handle;

	mutex_lock(&client->lock);
	handle = ion_handle_get_by_id_nolock(client, id);
	mutex_unlock(&client->lock);

	return handle;
}

/* Mirrors ion.c:ion_handle_validate() @ v4.4. */
static bool ion_handle_validate(struct ion_client *client,
				struct ion_handle *handle)
{
	WARN_ON(!mutex_is_locked(&client->lock));
	return idr_find(&client->idr, handle->id) == handle;
}

/* Mirrors ion.c:ion_handle_add() @ v4.4. */
static int ion_handle_add(struct ion_client *client, struct ion_handle *handle)
{
	int id;
	struct rb_node **p = &client->handles.rb_node;
	struct rb_node *parent = NULL;
	struct ion_handle *entry;

	id = idr_alloc(&client->idr, handle, 1, 0, GFP_KERNEL);
	if (id < 0)
		return id;

	handle->id = id;

	while (*p) {
		parent = *p;
		entry = rb_entry(parent, struct ion_handle, node);

		if (handle->buffer < entry->buffer) {
			p = &(*p)->rb_left;
		} else if (handle->buffer > entry->buffer) {
			p = &(*p)->rb_right;
		} else {
			WARN(1, "%s: buffer already found.", __func__);
			/*
			 * Port: v4.4 loops here forever, WARNing on every
			 * pass; the module takes the id back and fails the
			 * add instead of locking up the CPU.
			 */
			idr_remove(&client->idr, handle->id);
			handle->id = 0;
			return -EINVAL;
		}
	}

	rb_link_node(&handle->node, parent, p);
	rb_insert_color(&handle->node, &client->handles);

	return 0;
}

/*
 * The heap walk of ion.c:ion_alloc() @ v4.4, which ion_alloc_fd() @ v4.14
 * repeats: PAGE_ALIGN, then 0 is -EINVAL; heaps in plist order, skipping
 * ids outside the mask; the first buffer created wins; -ENODEV when no heap
 * matched, otherwise the error of the last heap tried. dev->lock is held for
 * read across the heap allocations.
 */
static struct ion_buffer *ion_alloc_buffer(struct ion_device *dev, size_t len,
					   size_t align,
					   unsigned int heap_id_mask,
					   unsigned int flags)
{
	struct ion_buffer *buffer = NULL;
	struct ion_heap *heap;

	len = PAGE_ALIGN(len);

	if (!len)
		return ERR_PTR(-EINVAL);

	down_read(&dev->lock);
	plist_for_each_entry(heap, &dev->heaps, node) {
		/* if the caller didn't specify this heap id */
		if (!((1U << heap->id) & heap_id_mask))
			continue;
		buffer = ion_buffer_create(heap, dev, len, align, flags);
		if (!IS_ERR(buffer))
			break;
	}
	up_read(&dev->lock);

	if (!buffer)
		return ERR_PTR(-ENODEV);

	return buffer;
}

/*
 * Mirrors ion.c:ion_alloc() @ v4.4, as ion.c:__ion_alloc() @ v4.9.299
 * (Android 3.18 marlin) split it: with grab_handle (profile android-3.18,
 * switch alloc_grab_handle) a second reference is taken under client->lock
 * before ion_handle_add() makes the id visible.
 */
struct ion_handle *__ion_alloc(struct ion_client *client, size_t len,
			       size_t align, unsigned int heap_id_mask,
			       unsigned int flags, bool grab_handle)
{
	struct ion_handle *handle;
	struct ion_device *dev = client->dev;
	struct ion_buffer *buffer;
	int ret;

	pr_debug("%s: len %zu align %zu heap_id_mask %u flags %x\n", __func__,
		 len, align, heap_id_mask, flags);

	buffer = ion_alloc_buffer(dev, len, align, heap_id_mask, flags);
	if (IS_ERR(buffer))
		return ERR_CAST(buffer);

	handle = ion_handle_create(client, buffer);

	/*
	 * ion_buffer_create will create a buffer with a ref_cnt of 1,
	 * and ion_handle_create will take a second reference, drop one here
	 */
	ion_buffer_put(buffer);

	if (IS_ERR(handle))
		return handle;

	mutex_lock(&client->lock);
	if (grab_handle)
		ion_handle_get(handle);
	ret = ion_handle_add(client, handle);
	mutex_unlock(&client->lock);
	if (ret) {
		ion_handle_put(handle);
		handle = ERR_PTR(ret);
	}

	return handle;
}

/* Mirrors ion.c:ion_alloc() @ v4.9.299: the in-kernel interface. */
struct ion_handle *ion_alloc(struct ion_client *client, size_t len,
			     size_t align, unsigned int heap_id_mask,
			     unsigned int flags)
{
	return __ion_alloc(client, len, align, heap_id_mask, flags, false);
}

/*
 * Android's user handle references (profile android-3.18, switch
 * user_ref_count): ion.c @ Android 3.18 marlin, the same functions as
 * ion-ioctl.c @ v4.9.299.
 */

/* Mirrors ion.c:user_ion_handle_get() @ marlin; client->lock held. */
static void user_ion_handle_get(struct ion_handle *handle)
{
	if (handle->user_ref_count++ == 0)
		kref_get(&handle->ref);
}

/*
 * Mirrors ion.c:user_ion_handle_get_check_overflow() @ marlin;
 * client->lock held.
 */
static struct ion_handle *
user_ion_handle_get_check_overflow(struct ion_handle *handle)
{
	if (handle->user_ref_count + 1 == 0)
		return ERR_PTR(-EOVERFLOW);
	user_ion_handle_get(handle);
	return handle;
}

/*
 * Mirrors ion.c:pass_to_user() @ marlin: the caller's temporary reference
 * becomes a user reference.
 */
struct ion_handle *pass_to_user(struct ion_handle *handle)
{
	struct ion_client *client = handle->client;
	struct ion_handle *ret;

	mutex_lock(&client->lock);
	ret = user_ion_handle_get_check_overflow(handle);
	ion_handle_put_nolock(handle);
	mutex_unlock(&client->lock);
	return ret;
}

/*
 * Mirrors ion.c:user_ion_handle_put_nolock() @ marlin. Port: upstream
 * returns an uninitialised int when the count stays above zero (no caller
 * reads it); 0 here.
 */
static int user_ion_handle_put_nolock(struct ion_handle *handle)
{
	if (--handle->user_ref_count == 0)
		return ion_handle_put_nolock(handle);
	return 0;
}

/* Mirrors ion-ioctl.c:user_ion_free_nolock() @ v4.9.299. */
void user_ion_free_nolock(struct ion_client *client, struct ion_handle *handle)
{
	bool valid_handle;

	WARN_ON(client != handle->client);

	valid_handle = ion_handle_validate(client, handle);
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

/* Mirrors ion.c:ion_free_nolock() @ v4.4. */
void ion_free_nolock(struct ion_client *client, struct ion_handle *handle)
{
	bool valid_handle;

	BUG_ON(client != handle->client);

	valid_handle = ion_handle_validate(client, handle);

	if (!valid_handle) {
		WARN(1, "%s: invalid handle passed to free.\n", __func__);
		return;
	}
	ion_handle_put_nolock(handle);
}

/* Mirrors ion.c:ion_free() @ v4.4. */
void ion_free(struct ion_client *client, struct ion_handle *handle)
{
	BUG_ON(client != handle->client);

	mutex_lock(&client->lock);
	ion_free_nolock(client, handle);
	mutex_unlock(&client->lock);
}

/*
 * Mirrors ion.c:ion_free() @ v4.4.0 (before 9590232bb4f4; profile 4.4.0,
 * switch free_one_lock off): the handle is validated under client->lock,
 * which is dropped before the put takes it again.
 */
void ion_free_unlocked_put(struct ion_client *client,
			   struct ion_handle *handle)
{
	bool valid_handle;

	BUG_ON(client != handle->client);

	mutex_lock(&client->lock);
	valid_handle = ion_handle_validate(client, handle);
	if (!valid_handle) {
		WARN(1, "%s: invalid handle passed to free.\n", "ion_free");
		mutex_unlock(&client->lock);
		return;
	}
	mutex_unlock(&client->lock);
	ion_handle_put(handle);
}

/* Mirrors ion.c:ion_phys() @ v4.4. */
int ion_phys(struct ion_client *client, struct ion_handle *handle,
	     ion_phys_addr_t *addr, size_t *len)
{
	struct ion_buffer *buffer;
	int ret;

	mutex_lock(&client->lock);
	if (!ion_handle_validate(client, handle)) {
		mutex_unlock(&client->lock);
		return -EINVAL;
	}

	buffer = handle->buffer;

	if (!buffer->heap->ops->phys) {
		pr_err("%s: ion_phys is not implemented by this heap (name=%s, type=%d).\n",
		       __func__, buffer->heap->name, buffer->heap->type);
		mutex_unlock(&client->lock);
		return -ENODEV;
	}
	mutex_unlock(&client->lock);
	ret = buffer->heap->ops->phys(buffer->heap, buffer, addr, len);
	return ret;
}

/* Mirrors ion.c:ion_buffer_kmap_get() @ v4.4. */
static void *ion_buffer_kmap_get(struct ion_buffer *buffer)
{
	void *vaddr;

	if (buffer->kmap_cnt) {
		buffer->kmap_cnt++;
		return buffer->vaddr;
	}
	vaddr = buffer->heap->ops->map_kernel(buffer->heap, buffer);
	if (WARN_ONCE(!vaddr,
		      "heap->ops->map_kernel should return ERR_PTR on error"))
		return ERR_PTR(-EINVAL);
	if (IS_ERR(vaddr))
		return vaddr;
	buffer->vaddr = vaddr;
	buffer->kmap_cnt++;
	return vaddr;
}

/* Mirrors ion.c:ion_handle_kmap_get() @ v4.4. */
static void *ion_handle_kmap_get(struct ion_handle *handle)
{
	struct ion_buffer *buffer = handle->buffer;
	void *vaddr;

	if (handle->kmap_cnt) {
		handle->kmap_cnt++;
		return buffer->vaddr;
	}
	vaddr = ion_buffer_kmap_get(buffer);
	if (IS_ERR(vaddr))
		return vaddr;
	handle->kmap_cnt++;
	return vaddr;
}

/*
 * Mirrors ion.c:ion_buffer_kmap_put() @ v4.4. No underflow check: an
 * unpaired put drives kmap_cnt negative.
 */
static void ion_buffer_kmap_put(struct ion_buffer *buffer)
{
	buffer->kmap_cnt--;
	if (!buffer->kmap_cnt) {
		buffer->heap->ops->unmap_kernel(buffer->heap, buffer);
		buffer->vaddr = NULL;
	}
}

/* Mirrors ion.c:ion_handle_kmap_put() @ v4.4. */
static void ion_handle_kmap_put(struct ion_handle *handle)
{
	struct ion_buffer *buffer = handle->buffer;

	if (!handle->kmap_cnt) {
		WARN(1, "%s: Double unmap detected! bailing...\n", __func__);
		return;
	}
	handle->kmap_cnt--;
	if (!handle->kmap_cnt)
		ion_buffer_kmap_put(buffer);
}

/* Mirrors ion.c:ion_map_kernel() @ v4.4. */
void *ion_map_kernel(struct ion_client *client, struct ion_handle *handle)
{
	struct ion_buffer *buffer;
	void *vaddr;

	mutex_lock(&client->lock);
	if (!ion_handle_validate(client, handle)) {
		pr_err("%s: invalid handle passed to map_kernel.\n",
		       __func__);
		mutex_unlock(&client->lock);
		return ERR_PTR(-EINVAL);
	}

	buffer = handle->buffer;

	if (!handle->buffer->heap->ops->map_kernel) {
		pr_err("%s: map_kernel is not implemented by this heap.\n",
		       __func__);
		mutex_unlock(&client->lock);
		return ERR_PTR(-ENODEV);
	}

	mutex_lock(&buffer->lock);
	vaddr = ion_handle_kmap_get(handle);
	mutex_unlock(&buffer->lock);
	mutex_unlock(&client->lock);
	return vaddr;
}

/* Mirrors ion.c:ion_unmap_kernel() @ v4.4. */
void ion_unmap_kernel(struct ion_client *client, struct ion_handle *handle)
{
	struct ion_buffer *buffer;

	mutex_lock(&client->lock);
	buffer = handle->buffer;
	mutex_lock(&buffer->lock);
	ion_handle_kmap_put(handle);
	mutex_unlock(&buffer->lock);
	mutex_unlock(&client->lock);
}

/*
 * Mirrors ion.c:ion_debug_client_show() @ v4.4: one line per heap id with
 * the sizes of the client's handles' buffers on it.
 */
static int ion_debug_client_show(struct seq_file *s, void *unused)
{
	struct ion_client *client = s->private;
	struct rb_node *n;
	size_t sizes[ION_NUM_HEAP_IDS] = {0};
	const char *names[ION_NUM_HEAP_IDS] = {NULL};
	int i;

	mutex_lock(&client->lock);
	for (n = rb_first(&client->handles); n; n = rb_next(n)) {
		struct ion_handle *handle = rb_entry(n, struct ion_handle,
						     node);
		unsigned int id = handle->buffer->heap->id;

		if (!names[id])
			names[id] = handle->buffer->heap->name;
		sizes[id] += handle->buffer->size;
	}
	mutex_unlock(&client->lock);

	seq_printf(s, "%16.16s: %16.16s\n", "heap_name", "size_in_bytes");
	for (i = 0; i < ION_NUM_HEAP_IDS; i++) {
		if (!names[i])
			continue;
		seq_printf(s, "%16.16s: %16zu\n", names[i], sizes[i]);
	}
	return 0;
}

/* Mirrors ion.c:ion_debug_client_open() @ v4.4. */
static int ion_debug_client_open(struct inode *inode, struct file *file)
{
	return single_open(file, ion_debug_client_show, inode->i_private);
}

/* Mirrors ion.c:debug_client_fops @ v4.4. */
static const struct file_operations debug_client_fops = {
	.open = ion_debug_client_open,
	.read = seq_read,
	.llseek = seq_lseek,
	.release = single_release,
};

/*
 * Mirrors ion.c:ion_get_client_serial() @ v4.4: one more than the largest
 * serial among clients of the same name.
 */
static int ion_get_client_serial(const struct rb_root *root,
				 const char *name)
{
	int serial = -1;
	struct rb_node *node;

	for (node = rb_first(root); node; node = rb_next(node)) {
		struct ion_client *client = rb_entry(node, struct ion_client,
						     node);

		if (strcmp(client->name, name))
			continue;
		serial = max(serial, client->display_serial);
	}
	return serial + 1;
}

/* Mirrors ion.c:ion_client_create() @ v4.4. */
struct ion_client *ion_client_create(struct ion_device *dev,
				     const char *name)
{
	struct ion_client *client;
	struct task_struct *task;
	struct rb_node **p;
	struct rb_node *parent = NULL;
	struct ion_client *entry;
	pid_t pid;

	if (!name) {
		pr_err("%s: Name cannot be null\n", __func__);
		return ERR_PTR(-EINVAL);
	}

	get_task_struct(current->group_leader);
	task_lock(current->group_leader);
	pid = task_pid_nr(current->group_leader);
	/*
	 * don't bother to store task struct for kernel threads,
	 * they can't be killed anyway
	 */
	if (current->group_leader->flags & PF_KTHREAD) {
		put_task_struct(current->group_leader);
		task = NULL;
	} else {
		task = current->group_leader;
	}
	task_unlock(current->group_leader);

	client = kzalloc(sizeof(*client), GFP_KERNEL);
	if (!client)
		goto err_put_task_struct;

	client->dev = dev;
	client->handles = RB_ROOT;
	idr_init(&client->idr);
	mutex_init(&client->lock);
	client->task = task;
	client->pid = pid;
	client->name = kstrdup(name, GFP_KERNEL);
	if (!client->name)
		goto err_free_client;

	down_write(&dev->lock);
	client->serial = ++dev->next_client_serial;
	client->display_serial = ion_get_client_serial(&dev->clients, name);
	client->display_name = kasprintf(
		GFP_KERNEL, "%s-%d", name, client->display_serial);
	if (!client->display_name) {
		up_write(&dev->lock);
		goto err_free_client_name;
	}
	p = &dev->clients.rb_node;
	while (*p) {
		parent = *p;
		entry = rb_entry(parent, struct ion_client, node);

		if (client < entry)
			p = &(*p)->rb_left;
		else if (client > entry)
			p = &(*p)->rb_right;
	}
	rb_link_node(&client->node, parent, p);
	rb_insert_color(&client->node, &dev->clients);

	client->debug_root = debugfs_create_file(client->display_name, 0664,
						 dev->clients_debug_root,
						 client, &debug_client_fops);
	/* Port: debugfs reports failure with an ERR_PTR since v4.19. */
	if (IS_ERR_OR_NULL(client->debug_root)) {
		char buf[256], *path;

		path = dentry_path_raw(dev->clients_debug_root, buf, 256);
		pr_err("Failed to create client debugfs at %s/%s\n",
		       IS_ERR(path) ? "ion/clients" : path,
		       client->display_name);
	}

	up_write(&dev->lock);
	atomic_long_inc(&ion_counters.clients_live);

	return client;

err_free_client_name:
	kfree(client->name);
err_free_client:
	kfree(client);
err_put_task_struct:
	if (task)
		put_task_struct(current->group_leader);
	return ERR_PTR(-ENOMEM);
}

/*
 * Mirrors ion.c:ion_client_destroy() @ v4.4: every handle is destroyed
 * directly, whatever its count, in buffer-address order.
 */
void ion_client_destroy(struct ion_client *client)
{
	struct ion_device *dev = client->dev;
	struct rb_node *n;

	pr_debug("%s: %d\n", __func__, __LINE__);
	/*
	 * Divergence: v4.4 walks and destroys the handles without
	 * client->lock, racing a reader of the client's debugfs file, which
	 * takes it to walk the same rb-tree (a use-after-free of the handles).
	 * The module runs real concurrent processes on 6.1 and must not crash
	 * the guest, so it holds the lock here, as Android 3.18 does. Nothing
	 * a single-threaded trace sees changes (the order of destruction is
	 * the same); the model keeps v4.4's lock-free walk, so the two lock
	 * sequences differ only by this C+ ... C- pair (kmod/ion_priv.h).
	 */
	mutex_lock(&client->lock);
	while ((n = rb_first(&client->handles))) {
		struct ion_handle *handle = rb_entry(n, struct ion_handle,
						     node);
		/*
		 * ion/state bookkeeping (not in v4.4): this handle holds the
		 * buffer's last reference.
		 */
		handle->buffer->free_group =
			kref_read(&handle->buffer->ref) == 1 ? client->serial : 0;
		ion_handle_destroy(&handle->ref);
	}
	/*
	 * Profile android-3.18 (switch client_destroy_lock): the idr goes
	 * under the lock too, as ion.c:ion_client_destroy() @ marlin.
	 */
	if (ion_profile_has(dev->profile, ION_SW_CLIENT_DESTROY_LOCK)) {
		idr_destroy(&client->idr);
		mutex_unlock(&client->lock);
	} else {
		mutex_unlock(&client->lock);
		idr_destroy(&client->idr);
	}

	down_write(&dev->lock);
	if (client->task)
		put_task_struct(client->task);
	rb_erase(&client->node, &dev->clients);
	debugfs_remove_recursive(client->debug_root);
	up_write(&dev->lock);

	kfree(client->display_name);
	kfree(client->name);
	kfree(client);
	atomic_long_dec(&ion_counters.clients_live);
}

/*
 * Mirrors ion.c:ion_buffer_sync_for_device() @ v4.4: for fault-mode
 * buffers, sync the dirty pages and zap every user mapping so the next
 * touch faults (and dirties) again.
 */
static void ion_buffer_sync_for_device(struct ion_buffer *buffer,
				       struct device *dev,
				       enum dma_data_direction dir)
{
	struct ion_vma_list *vma_list;
	int pages = PAGE_ALIGN(buffer->size) / PAGE_SIZE;
	int i;

	pr_debug("%s: syncing for device %s\n", __func__,
		 dev ? dev_name(dev) : "null");

	if (!ion_buffer_fault_user_mappings(buffer))
		return;

	mutex_lock(&buffer->lock);
	for (i = 0; i < pages; i++) {
		struct page *page = buffer->pages[i];

		if (ion_buffer_page_is_dirty(page))
			ion_pages_sync_for_device(dev, ion_buffer_page(page),
						  PAGE_SIZE, dir);

		ion_buffer_page_clean(buffer->pages + i);
	}
	list_for_each_entry(vma_list, &buffer->vmas, list) {
		struct vm_area_struct *vma = vma_list->vma;

		/*
		 * Port: zap_page_range() takes no details argument in 6.1;
		 * zap_vma_ptes() is its form for a driver's VM_PFNMAP vma.
		 */
		zap_vma_ptes(vma, vma->vm_start, vma->vm_end - vma->vm_start);
	}
	mutex_unlock(&buffer->lock);
}

/* Mirrors ion.c:ion_map_dma_buf() @ v4.4. */
static struct sg_table *ion_map_dma_buf(struct dma_buf_attachment *attachment,
					enum dma_data_direction direction)
{
	struct dma_buf *dmabuf = attachment->dmabuf;
	struct ion_buffer *buffer = dmabuf->priv;

	ion_buffer_sync_for_device(buffer, attachment->dev, direction);
	return buffer->sg_table;
}

/* Mirrors ion.c:ion_unmap_dma_buf() @ v4.4. */
static void ion_unmap_dma_buf(struct dma_buf_attachment *attachment,
			      struct sg_table *table,
			      enum dma_data_direction direction)
{
}

/*
 * Mirrors ion.c:ion_vm_fault() @ v4.4.
 * Port: 6.1 fault handlers take only the vm_fault and return a vm_fault_t;
 * vmf_insert_pfn() returns it directly (VM_FAULT_NOPAGE on success).
 */
static vm_fault_t ion_vm_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct ion_buffer *buffer = vma->vm_private_data;
	unsigned long pfn;
	vm_fault_t ret;

	mutex_lock(&buffer->lock);
	ion_buffer_page_dirty(buffer->pages + vmf->pgoff);
	BUG_ON(!buffer->pages || !buffer->pages[vmf->pgoff]);

	pfn = page_to_pfn(ion_buffer_page(buffer->pages[vmf->pgoff]));
	ret = vmf_insert_pfn(vma, vmf->address, pfn);
	mutex_unlock(&buffer->lock);

	return ret;
}

/* Mirrors ion.c:ion_vm_open() @ v4.4. */
static void ion_vm_open(struct vm_area_struct *vma)
{
	struct ion_buffer *buffer = vma->vm_private_data;
	struct ion_vma_list *vma_list;

	vma_list = kmalloc(sizeof(*vma_list), GFP_KERNEL);
	if (!vma_list)
		return;
	vma_list->vma = vma;
	mutex_lock(&buffer->lock);
	list_add(&vma_list->list, &buffer->vmas);
	mutex_unlock(&buffer->lock);
	pr_debug("%s: adding %p\n", __func__, vma);
}

/* Mirrors ion.c:ion_vm_close() @ v4.4. */
static void ion_vm_close(struct vm_area_struct *vma)
{
	struct ion_buffer *buffer = vma->vm_private_data;
	struct ion_vma_list *vma_list, *tmp;

	pr_debug("%s\n", __func__);
	mutex_lock(&buffer->lock);
	list_for_each_entry_safe(vma_list, tmp, &buffer->vmas, list) {
		if (vma_list->vma != vma)
			continue;
		list_del(&vma_list->list);
		kfree(vma_list);
		pr_debug("%s: deleting %p\n", __func__, vma);
		break;
	}
	mutex_unlock(&buffer->lock);
}

/* Mirrors ion.c:ion_vma_ops @ v4.4. */
static const struct vm_operations_struct ion_vma_ops = {
	.open = ion_vm_open,
	.close = ion_vm_close,
	.fault = ion_vm_fault,
};

/* Mirrors ion.c:ion_mmap() @ v4.4. */
static int ion_mmap(struct dma_buf *dmabuf, struct vm_area_struct *vma)
{
	struct ion_buffer *buffer = dmabuf->priv;
	int ret = 0;

	if (!buffer->heap->ops->map_user) {
		pr_err("%s: this heap does not define a method for mapping to userspace\n",
		       __func__);
		return -EINVAL;
	}

	if (ion_buffer_fault_user_mappings(buffer)) {
		vma->vm_flags |= VM_IO | VM_PFNMAP | VM_DONTEXPAND |
							VM_DONTDUMP;
		vma->vm_private_data = buffer;
		vma->vm_ops = &ion_vma_ops;
		ion_vm_open(vma);
		return 0;
	}

	/* Port: write-combine only where x86 PAT allows it (ion_heap.c). */
	vma->vm_page_prot = ion_buffer_pgprot(buffer, vma->vm_page_prot);

	mutex_lock(&buffer->lock);
	/* now map it to userspace */
	ret = buffer->heap->ops->map_user(buffer->heap, buffer, vma);
	mutex_unlock(&buffer->lock);

	if (ret)
		pr_err("%s: failure mapping buffer to userspace\n",
		       __func__);

	return ret;
}

/* Mirrors ion.c:ion_dma_buf_release() @ v4.4. */
static void ion_dma_buf_release(struct dma_buf *dmabuf)
{
	struct ion_buffer *buffer = dmabuf->priv;

	ion_buffer_put(buffer);
	atomic_long_dec(&ion_counters.dmabufs_live);
}

/*
 * Mirrors ion.c:ion_dma_buf_begin_cpu_access() @ v4.4: a buffer kmap
 * reference, taken for DMA_BUF_IOCTL_SYNC's START.
 * Port: the 6.1 callback has no start/len arguments (gone in v4.6).
 */
static int ion_dma_buf_begin_cpu_access(struct dma_buf *dmabuf,
					enum dma_data_direction direction)
{
	struct ion_buffer *buffer = dmabuf->priv;
	void *vaddr;

	if (!buffer->heap->ops->map_kernel) {
		pr_err("%s: map kernel is not implemented by this heap.\n",
		       __func__);
		return -ENODEV;
	}

	mutex_lock(&buffer->lock);
	vaddr = ion_buffer_kmap_get(buffer);
	mutex_unlock(&buffer->lock);
	return PTR_ERR_OR_ZERO(vaddr);
}

/*
 * Mirrors ion.c:ion_dma_buf_end_cpu_access() @ v4.4: drops the buffer kmap
 * reference, paired or not.
 * Port: the 6.1 callback returns int (v4.4's returned void).
 */
static int ion_dma_buf_end_cpu_access(struct dma_buf *dmabuf,
				      enum dma_data_direction direction)
{
	struct ion_buffer *buffer = dmabuf->priv;

	mutex_lock(&buffer->lock);
	ion_buffer_kmap_put(buffer);
	mutex_unlock(&buffer->lock);

	return 0;
}

/*
 * Port: 6.1's dma-buf core always has DMA_BUF_IOCTL_SYNC, whose only way
 * into ION is begin/end_cpu_access (the module has no in-kernel caller of
 * them). On a profile without the dma_buf_sync switch (a pre-4.6 kernel,
 * whose dma-buf files have no ioctl at all: ENOTTY) they answer -ENOTTY,
 * which dma_buf_ioctl() returns. Its own checks come first: a bad pointer
 * (EFAULT) or bad flags (EINVAL) still get those errnos here, where v4.4
 * says ENOTTY; the model answers ENOTTY before them (model/kernel/
 * dma_buf.cc), and traces that reach those paths on such a profile are a
 * known divergence (docs/profiles.md).
 */
static bool ion_dma_buf_has_sync(struct dma_buf *dmabuf)
{
	struct ion_buffer *buffer = dmabuf->priv;

	return ion_profile_has(buffer->dev->profile, ION_SW_DMA_BUF_SYNC);
}

static int ion_dma_buf_sync_begin(struct dma_buf *dmabuf,
				  enum dma_data_direction direction)
{
	if (!ion_dma_buf_has_sync(dmabuf))
		return -ENOTTY;
	return ion_dma_buf_begin_cpu_access(dmabuf, direction);
}

static int ion_dma_buf_sync_end(struct dma_buf *dmabuf,
				enum dma_data_direction direction)
{
	if (!ion_dma_buf_has_sync(dmabuf))
		return -ENOTTY;
	return ion_dma_buf_end_cpu_access(dmabuf, direction);
}

/*
 * Mirrors ion.c:dma_buf_ops @ v4.4.
 * Port: 6.1 dma-buf has no kmap/kmap_atomic callbacks (removed in v5.6);
 * kernel access goes through begin/end_cpu_access, behind the profile's
 * dma_buf_sync switch (above).
 */
static const struct dma_buf_ops dma_buf_ops = {
	.map_dma_buf = ion_map_dma_buf,
	.unmap_dma_buf = ion_unmap_dma_buf,
	.mmap = ion_mmap,
	.release = ion_dma_buf_release,
	.begin_cpu_access = ion_dma_buf_sync_begin,
	.end_cpu_access = ion_dma_buf_sync_end,
};

/*
 * The export of ion.c:ion_share_dma_buf() @ v4.4, shared with the 4.12
 * ALLOC: the dma-buf owns one buffer reference, dropped at release.
 * Port: DEFINE_DMA_BUF_EXPORT_INFO names the exporter after the module;
 * the name stays "ion" as in v4.4. The module owns every dma-buf it
 * exports, so it cannot be unloaded while one is alive.
 */
static struct dma_buf *ion_export_dma_buf(struct ion_buffer *buffer)
{
	DEFINE_DMA_BUF_EXPORT_INFO(exp_info);
	struct dma_buf *dmabuf;

	exp_info.exp_name = "ion";
	exp_info.ops = &dma_buf_ops;
	exp_info.size = buffer->size;
	exp_info.flags = O_RDWR;
	exp_info.priv = buffer;

	dmabuf = dma_buf_export(&exp_info);
	if (!IS_ERR(dmabuf))
		atomic_long_inc(&ion_counters.dmabufs_live);
	return dmabuf;
}

/*
 * Mirrors ion.c:ion_share_dma_buf() @ v4.4: the buffer reference is taken
 * under client->lock.
 */
struct dma_buf *ion_share_dma_buf(struct ion_client *client,
				  struct ion_handle *handle)
{
	struct ion_buffer *buffer;
	struct dma_buf *dmabuf;
	bool valid_handle;

	mutex_lock(&client->lock);
	valid_handle = ion_handle_validate(client, handle);
	if (!valid_handle) {
		WARN(1, "%s: invalid handle passed to share.\n", __func__);
		mutex_unlock(&client->lock);
		return ERR_PTR(-EINVAL);
	}
	buffer = handle->buffer;
	ion_buffer_get(buffer);
	mutex_unlock(&client->lock);

	dmabuf = ion_export_dma_buf(buffer);
	if (IS_ERR(dmabuf)) {
		ion_buffer_put(buffer);
		return dmabuf;
	}

	return dmabuf;
}

/* Mirrors ion.c:ion_share_dma_buf_fd() @ v4.4. */
int ion_share_dma_buf_fd(struct ion_client *client, struct ion_handle *handle)
{
	struct dma_buf *dmabuf;
	int fd;

	dmabuf = ion_share_dma_buf(client, handle);
	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);

	fd = dma_buf_fd(dmabuf, O_CLOEXEC);
	if (fd < 0)
		dma_buf_put(dmabuf);

	return fd;
}

/* Mirrors ion.c:ion_import_dma_buf() @ v4.4. */
struct ion_handle *ion_import_dma_buf(struct ion_client *client, int fd)
{
	struct dma_buf *dmabuf;
	struct ion_buffer *buffer;
	struct ion_handle *handle;
	int ret;

	dmabuf = dma_buf_get(fd);
	if (IS_ERR(dmabuf))
		return ERR_CAST(dmabuf);
	/* if this memory came from ion */

	if (dmabuf->ops != &dma_buf_ops) {
		pr_err("%s: can not import dmabuf from another exporter\n",
		       __func__);
		dma_buf_put(dmabuf);
		return ERR_PTR(-EINVAL);
	}
	buffer = dmabuf->priv;

	mutex_lock(&client->lock);
	/* if a handle exists for this buffer just take a reference to it */
	handle = ion_handle_lookup(client, buffer);
	if (!IS_ERR(handle)) {
		/*
		 * Profile android-3.18, switch handle_overflow_check:
		 * ion_handle_get_check_overflow() @ v4.9.299.
		 */
		if (ion_profile_has(client->dev->profile,
				    ION_SW_HANDLE_OVERFLOW_CHECK))
			handle = ion_handle_get_check_overflow(handle);
		else
			ion_handle_get(handle);
		mutex_unlock(&client->lock);
		goto end;
	}

	handle = ion_handle_create(client, buffer);
	if (IS_ERR(handle)) {
		mutex_unlock(&client->lock);
		goto end;
	}

	ret = ion_handle_add(client, handle);
	mutex_unlock(&client->lock);
	if (ret) {
		ion_handle_put(handle);
		handle = ERR_PTR(ret);
	}

end:
	dma_buf_put(dmabuf);
	return handle;
}

/* Mirrors ion.c:ion_sync_for_device() @ v4.4. */
int ion_sync_for_device(struct ion_client *client, int fd)
{
	struct dma_buf *dmabuf;
	struct ion_buffer *buffer;

	dmabuf = dma_buf_get(fd);
	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);

	/* if this memory came from ion */
	if (dmabuf->ops != &dma_buf_ops) {
		pr_err("%s: can not sync dmabuf from another exporter\n",
		       __func__);
		dma_buf_put(dmabuf);
		return -EINVAL;
	}
	buffer = dmabuf->priv;

	/* Port: the device is the module's own (see ion_heap.c). */
	dma_sync_sg_for_device(ion_heap_dma_device(NULL), buffer->sg_table->sgl,
			       buffer->sg_table->nents, DMA_BIDIRECTIONAL);
	dma_buf_put(dmabuf);
	return 0;
}

/*
 * Mirrors ion.c:ion_query_heaps() @ v4.11: entries in plist order; a copy
 * fault leaves cnt untouched.
 */
int ion_query_heaps(struct ion_client *client, struct ion_heap_query *query)
{
	struct ion_device *dev = client->dev;
	struct ion_heap_data __user *buffer = u64_to_user_ptr(query->heaps);
	int ret = -EINVAL, cnt = 0, max_cnt;
	struct ion_heap *heap;
	struct ion_heap_data hdata;

	memset(&hdata, 0, sizeof(hdata));

	down_read(&dev->lock);
	if (!buffer) {
		query->cnt = dev->heap_cnt;
		ret = 0;
		goto out;
	}

	if (query->cnt <= 0)
		goto out;

	max_cnt = query->cnt;

	plist_for_each_entry(heap, &dev->heaps, node) {
		/*
		 * Port: strscpy_pad() in place of strncpy() plus a forced
		 * terminator; the bytes copied out are the same.
		 */
		strscpy_pad(hdata.name, heap->name, sizeof(hdata.name));
		hdata.type = heap->type;
		hdata.heap_id = heap->id;

		if (copy_to_user(&buffer[cnt], &hdata, sizeof(hdata))) {
			ret = -EFAULT;
			goto out;
		}

		cnt++;
		if (cnt >= max_cnt)
			break;
	}

	query->cnt = cnt;
	ret = 0;
out:
	up_read(&dev->lock);
	return ret;
}

/*
 * Mirrors ion.c:ion_alloc_fd() @ v4.14 (the 4.12 ALLOC) over the v4.4
 * object model: the buffer's creation reference passes to the dma-buf, so
 * the buffer dies with the last dma-buf reference.
 */
int ion_alloc_fd(struct ion_device *dev, size_t len, unsigned int heap_id_mask,
		 unsigned int flags)
{
	struct ion_buffer *buffer;
	struct dma_buf *dmabuf;
	int fd;

	buffer = ion_alloc_buffer(dev, len, 0, heap_id_mask, flags);
	if (IS_ERR(buffer))
		return PTR_ERR(buffer);

	dmabuf = ion_export_dma_buf(buffer);
	if (IS_ERR(dmabuf)) {
		ion_buffer_put(buffer);
		return PTR_ERR(dmabuf);
	}

	fd = dma_buf_fd(dmabuf, O_CLOEXEC);
	if (fd < 0)
		dma_buf_put(dmabuf);

	return fd;
}

/* Mirrors ion.c:ion_release() @ v4.4. */
static int ion_release(struct inode *inode, struct file *file)
{
	struct ion_client *client = file->private_data;

	pr_debug("%s: %d\n", __func__, __LINE__);
	ion_client_destroy(client);
	return 0;
}

/* Mirrors ion.c:ion_open() @ v4.4: the client is named after the pid. */
static int ion_open(struct inode *inode, struct file *file)
{
	struct miscdevice *miscdev = file->private_data;
	struct ion_device *dev = container_of(miscdev, struct ion_device, dev);
	struct ion_client *client;
	char debug_name[64];

	pr_debug("%s: %d\n", __func__, __LINE__);
	snprintf(debug_name, 64, "%u", task_pid_nr(current->group_leader));
	client = ion_client_create(dev, debug_name);
	if (IS_ERR(client))
		return PTR_ERR(client);
	file->private_data = client;

	return 0;
}

/*
 * Mirrors ion.c:ion_fops @ v4.4.
 * Port: no compat_ioctl; 32-bit callers are not served.
 */
static const struct file_operations ion_fops = {
	.owner = THIS_MODULE,
	.open = ion_open,
	.release = ion_release,
	.unlocked_ioctl = ion_ioctl,
};

/*
 * Mirrors ion.c:ion_debug_heap_total() @ v4.4: the sizes of the client's
 * handles' buffers on the heap.
 */
static size_t ion_debug_heap_total(struct ion_client *client,
				   unsigned int id)
{
	size_t size = 0;
	struct rb_node *n;

	mutex_lock(&client->lock);
	for (n = rb_first(&client->handles); n; n = rb_next(n)) {
		struct ion_handle *handle = rb_entry(n,
						     struct ion_handle,
						     node);
		if (handle->buffer->heap->id == id)
			size += handle->buffer->size;
	}
	mutex_unlock(&client->lock);
	return size;
}

/* Mirrors ion.c:ion_debug_heap_show() @ v4.4. */
static int ion_debug_heap_show(struct seq_file *s, void *unused)
{
	struct ion_heap *heap = s->private;
	struct ion_device *dev = heap->dev;
	struct rb_node *n;
	size_t total_size = 0;
	size_t total_orphaned_size = 0;

	seq_printf(s, "%16s %16s %16s\n", "client", "pid", "size");
	seq_puts(s, "----------------------------------------------------\n");

	/*
	 * Divergence: v4.4 walks dev->clients without dev->lock, racing
	 * ion_client_destroy()'s rb_erase and kfree of a client (a
	 * use-after-free). The module runs real concurrent processes on 6.1
	 * and must not crash the guest, so it reads the tree under dev->lock
	 * for read. The text is the same; the model keeps v4.4's unlocked
	 * walk, so the lock sequences differ only by this D.r pair
	 * (kmod/ion_priv.h).
	 */
	down_read(&dev->lock);
	for (n = rb_first(&dev->clients); n; n = rb_next(n)) {
		struct ion_client *client = rb_entry(n, struct ion_client,
						     node);
		size_t size = ion_debug_heap_total(client, heap->id);

		if (!size)
			continue;
		if (client->task) {
			char task_comm[TASK_COMM_LEN];

			get_task_comm(task_comm, client->task);
			seq_printf(s, "%16s %16u %16zu\n", task_comm,
				   client->pid, size);
		} else {
			seq_printf(s, "%16s %16u %16zu\n", client->name,
				   client->pid, size);
		}
	}
	up_read(&dev->lock);
	seq_puts(s, "----------------------------------------------------\n");
	seq_puts(s, "orphaned allocations (info is from last known client):\n");
	mutex_lock(&dev->buffer_lock);
	for (n = rb_first(&dev->buffers); n; n = rb_next(n)) {
		struct ion_buffer *buffer = rb_entry(n, struct ion_buffer,
						     node);
		if (buffer->heap->id != heap->id)
			continue;
		total_size += buffer->size;
		if (!buffer->handle_count) {
			seq_printf(s, "%16s %16u %16zu %d %d\n",
				   buffer->task_comm, buffer->pid,
				   buffer->size, buffer->kmap_cnt,
				   kref_read(&buffer->ref));
			total_orphaned_size += buffer->size;
		}
	}
	mutex_unlock(&dev->buffer_lock);
	seq_puts(s, "----------------------------------------------------\n");
	seq_printf(s, "%16s %16zu\n", "total orphaned",
		   total_orphaned_size);
	seq_printf(s, "%16s %16zu\n", "total ", total_size);
	if (heap->flags & ION_HEAP_FLAG_DEFER_FREE)
		seq_printf(s, "%16s %16zu\n", "deferred free",
			   heap->free_list_size);
	seq_puts(s, "----------------------------------------------------\n");

	if (heap->debug_show)
		heap->debug_show(heap, s, unused);

	return 0;
}

/* Mirrors ion.c:ion_debug_heap_open() @ v4.4. */
static int ion_debug_heap_open(struct inode *inode, struct file *file)
{
	return single_open(file, ion_debug_heap_show, inode->i_private);
}

/* Mirrors ion.c:debug_heap_fops @ v4.4. */
static const struct file_operations debug_heap_fops = {
	.open = ion_debug_heap_open,
	.read = seq_read,
	.llseek = seq_lseek,
	.release = single_release,
};

/* Mirrors ion.c:debug_shrink_set() @ v4.4: 0 scans all the count. */
static int debug_shrink_set(void *data, u64 val)
{
	struct ion_heap *heap = data;
	struct shrink_control sc;
	int objs;

	sc.gfp_mask = -1;
	sc.nr_to_scan = val;

	if (!val) {
		objs = heap->shrinker.count_objects(&heap->shrinker, &sc);
		sc.nr_to_scan = objs;
	}

	heap->shrinker.scan_objects(&heap->shrinker, &sc);
	return 0;
}

/* Mirrors ion.c:debug_shrink_get() @ v4.4. */
static int debug_shrink_get(void *data, u64 *val)
{
	struct ion_heap *heap = data;
	struct shrink_control sc;
	int objs;

	sc.gfp_mask = -1;
	sc.nr_to_scan = 0;

	objs = heap->shrinker.count_objects(&heap->shrinker, &sc);
	*val = objs;
	return 0;
}

/*
 * DEFINE_SIMPLE_ATTRIBUTE(debug_shrink_fops, debug_shrink_get,
 * debug_shrink_set, "%llu\n") @ v4.4, spelled out.
 * Port: 6.1's simple_attr_write() parses with kstrtoull() and rejects text
 * that is not a number (-EINVAL), accepts a leading '+' and fails on
 * overflow (-ERANGE); v4.4 parsed with simple_strtoll(), so such text read
 * as 0 and scanned everything, and a value beyond 64 bits wrapped. These
 * mirror fs/libfs.c's simple_attr_*() @ v4.4 to keep that behaviour (6.1's
 * simple_strtoll() and simple_read_from_buffer() behave as v4.4's; a
 * continued read serves the text saved at the first read, as both do), and
 * the model's model/kernel/libfs.cc mirrors the same v4.4 functions.
 */
struct ion_shrink_attr {
	char get_buf[24];
	char set_buf[24];
	void *data;
	struct mutex mutex;
};

/* Mirrors fs/libfs.c:simple_attr_open() @ v4.4. */
static int debug_shrink_open(struct inode *inode, struct file *file)
{
	struct ion_shrink_attr *attr;

	attr = kmalloc(sizeof(*attr), GFP_KERNEL);
	if (!attr)
		return -ENOMEM;

	attr->data = inode->i_private;
	mutex_init(&attr->mutex);

	file->private_data = attr;

	return nonseekable_open(inode, file);
}

/* Mirrors fs/libfs.c:simple_attr_release() @ v4.4. */
static int debug_shrink_release(struct inode *inode, struct file *file)
{
	kfree(file->private_data);
	return 0;
}

/* Mirrors fs/libfs.c:simple_attr_read() @ v4.4. */
static ssize_t debug_shrink_read(struct file *file, char __user *buf,
				 size_t len, loff_t *ppos)
{
	struct ion_shrink_attr *attr = file->private_data;
	size_t size;
	ssize_t ret;

	ret = mutex_lock_interruptible(&attr->mutex);
	if (ret)
		return ret;

	if (*ppos) {		/* continued read */
		size = strlen(attr->get_buf);
	} else {		/* first read */
		u64 val;

		ret = debug_shrink_get(attr->data, &val);
		if (ret)
			goto out;

		size = scnprintf(attr->get_buf, sizeof(attr->get_buf),
				 "%llu\n", (unsigned long long)val);
	}

	ret = simple_read_from_buffer(buf, len, ppos, attr->get_buf, size);
out:
	mutex_unlock(&attr->mutex);
	return ret;
}

/* Mirrors fs/libfs.c:simple_attr_write() @ v4.4. */
static ssize_t debug_shrink_write(struct file *file, const char __user *buf,
				  size_t len, loff_t *ppos)
{
	struct ion_shrink_attr *attr = file->private_data;
	u64 val;
	size_t size;
	ssize_t ret;

	ret = mutex_lock_interruptible(&attr->mutex);
	if (ret)
		return ret;

	ret = -EFAULT;
	size = min(sizeof(attr->set_buf) - 1, len);
	if (copy_from_user(attr->set_buf, buf, size))
		goto out;

	attr->set_buf[size] = '\0';
	val = simple_strtoll(attr->set_buf, NULL, 0);
	ret = debug_shrink_set(attr->data, val);
	if (ret == 0)
		ret = len; /* on success, claim we got the whole input */
out:
	mutex_unlock(&attr->mutex);
	return ret;
}

static const struct file_operations debug_shrink_fops = {
	.owner = THIS_MODULE,
	.open = debug_shrink_open,
	.release = debug_shrink_release,
	.read = debug_shrink_read,
	.write = debug_shrink_write,
	.llseek = no_llseek,
};

/*
 * Mirrors lib/plist.c:plist_add() @ v4.4 for the device's heaps: after every
 * node of higher or equal priority (lower or equal prio value), so equal
 * priorities keep their insertion order.
 * Port: plist_add() and plist_del() are not exported to modules in 6.1.
 * Only the node list is kept (the prio_list shortcut of lib/plist.c stays
 * empty); plist_for_each_entry() walks exactly that list.
 */
static void ion_heap_plist_add(struct plist_node *node, struct plist_head *head)
{
	struct plist_node *pos;

	list_for_each_entry(pos, &head->node_list, node_list)
		if (pos->prio > node->prio)
			break;
	list_add_tail(&node->node_list, &pos->node_list);
}

/* Mirrors ion.c:ion_device_add_heap() @ v4.4 (heap_cnt from v4.11). */
void ion_device_add_heap(struct ion_device *dev, struct ion_heap *heap)
{
	struct dentry *debug_file;

	if (!heap->ops->allocate || !heap->ops->free || !heap->ops->map_dma ||
	    !heap->ops->unmap_dma)
		pr_err("%s: can not add heap with invalid ops struct.\n",
		       __func__);

	spin_lock_init(&heap->free_lock);
	heap->free_list_size = 0;

	if (heap->flags & ION_HEAP_FLAG_DEFER_FREE)
		ion_heap_init_deferred_free(heap);

	if ((heap->flags & ION_HEAP_FLAG_DEFER_FREE) || heap->ops->shrink)
		ion_heap_init_shrinker(heap);

	heap->dev = dev;
	down_write(&dev->lock);
	/*
	 * use negative heap->id to reverse the priority -- when traversing
	 * the list later attempt higher id numbers first
	 */
	plist_node_init(&heap->node, -heap->id);
	ion_heap_plist_add(&heap->node, &dev->heaps);
	debug_file = debugfs_create_file(heap->name, 0664,
					 dev->heaps_debug_root, heap,
					 &debug_heap_fops);

	if (IS_ERR_OR_NULL(debug_file)) {
		char buf[256], *path;

		path = dentry_path_raw(dev->heaps_debug_root, buf, 256);
		pr_err("Failed to create heap debugfs at %s/%s\n",
		       IS_ERR(path) ? "ion/heaps" : path, heap->name);
	}

	if (heap->shrinker.count_objects && heap->shrinker.scan_objects) {
		char debug_name[64];

		snprintf(debug_name, 64, "%s_shrink", heap->name);
		debug_file = debugfs_create_file(
			debug_name, 0644, dev->heaps_debug_root, heap,
			&debug_shrink_fops);
		if (IS_ERR_OR_NULL(debug_file)) {
			char buf[256], *path;

			path = dentry_path_raw(dev->heaps_debug_root, buf, 256);
			pr_err("Failed to create heap shrinker debugfs at %s/%s\n",
			       IS_ERR(path) ? "ion/heaps" : path, debug_name);
		}
	}

	dev->heap_cnt++;
	up_write(&dev->lock);
}

/*
 * Takes a heap out of the device for module unload (v4.4 never removes
 * heaps): off the plist, its shrinker unregistered, its deferred-free
 * thread stopped and its free list destroyed. ion_device_destroy() has
 * removed the debugfs files by then.
 */
void ion_device_remove_heap(struct ion_device *dev, struct ion_heap *heap)
{
	down_write(&dev->lock);
	list_del_init(&heap->node.node_list);
	dev->heap_cnt--;
	up_write(&dev->lock);

	ion_heap_cleanup_shrinker(heap);
	if (heap->flags & ION_HEAP_FLAG_DEFER_FREE) {
		ion_heap_stop_deferred_free(heap);
		ion_heap_freelist_drain(heap, 0);
	}
}

/*
 * Module unload: every buffer still in the device tree is held by a
 * reference nobody will drop (no client and no dma-buf can outlive the
 * module), a leak. Each is reported with its heap, size and last owner
 * (the model's teardown report, line for line) and released as its last
 * put would release it.
 */
static void ion_device_reap_buffers(struct ion_device *dev)
{
	struct ion_buffer *buffer;
	struct rb_node *n;

	for (;;) {
		mutex_lock(&dev->buffer_lock);
		n = rb_first(&dev->buffers);
		buffer = n ? rb_entry(n, struct ion_buffer, node) : NULL;
		mutex_unlock(&dev->buffer_lock);
		if (!buffer)
			break;
		pr_warn("ion: teardown: buffer b%lu heap %s size %zu leaked by %s (pid %d): ref %d, handles %d\n",
			buffer->serial, buffer->heap->name, buffer->size,
			buffer->task_comm[0] ? buffer->task_comm : "?",
			buffer->pid, kref_read(&buffer->ref),
			buffer->handle_count);
		_ion_buffer_destroy(&buffer->ref);
	}
}

/*
 * Mirrors ion.c:ion_device_create() @ v4.4.
 * Divergence: takes the profile the device runs (ion_profile.h; NULL: the
 * default), which v4.4, being one era, has no notion of.
 */
struct ion_device *ion_device_create(long (*custom_ioctl)
				     (struct ion_client *client,
				      unsigned int cmd,
				      unsigned long arg),
				     const struct ion_profile *profile)
{
	struct ion_device *idev;
	int ret;

	idev = kzalloc(sizeof(*idev), GFP_KERNEL);
	if (!idev)
		return ERR_PTR(-ENOMEM);
	idev->profile = profile ? profile : ion_profile_default();

	idev->dev.minor = MISC_DYNAMIC_MINOR;
	idev->dev.name = "ion";
	idev->dev.fops = &ion_fops;
	idev->dev.parent = NULL;
	/* Port: userspace clients open /dev/ion without udev rules. */
	idev->dev.mode = 0666;
	ret = misc_register(&idev->dev);
	if (ret) {
		pr_err("ion: failed to register misc device.\n");
		kfree(idev);
		return ERR_PTR(ret);
	}

	/*
	 * Port: v4.4 syncs for a NULL device, which 6.1's DMA API
	 * dereferences; the module syncs for its misc device, given a 64-bit
	 * DMA mask here (see ion_heap.c).
	 */
	ret = dma_coerce_mask_and_coherent(idev->dev.this_device,
					   DMA_BIT_MASK(64));
	if (ret) {
		pr_err("ion: failed to set the DMA mask.\n");
		misc_deregister(&idev->dev);
		kfree(idev);
		return ERR_PTR(ret);
	}
	ion_heap_set_dma_device(idev->dev.this_device);

	idev->debug_root = debugfs_create_dir("ion", NULL);
	if (IS_ERR_OR_NULL(idev->debug_root)) {
		pr_err("ion: failed to create debugfs root directory.\n");
		goto debugfs_done;
	}
	idev->heaps_debug_root = debugfs_create_dir("heaps", idev->debug_root);
	if (IS_ERR_OR_NULL(idev->heaps_debug_root)) {
		pr_err("ion: failed to create debugfs heaps directory.\n");
		goto debugfs_done;
	}
	idev->clients_debug_root = debugfs_create_dir("clients",
						      idev->debug_root);
	if (IS_ERR_OR_NULL(idev->clients_debug_root))
		pr_err("ion: failed to create debugfs clients directory.\n");

debugfs_done:

	idev->custom_ioctl = custom_ioctl;
	idev->buffers = RB_ROOT;
	mutex_init(&idev->buffer_lock);
	init_rwsem(&idev->lock);
	plist_head_init(&idev->heaps);
	idev->clients = RB_ROOT;
	return idev;
}

/*
 * Mirrors ion.c:ion_device_destroy() @ v4.4: removes the debugfs tree and
 * deregisters /dev/ion. v4.4 stops there ("XXX need to free the heaps
 * and clients ?"); the module also takes every heap out (thread,
 * shrinker, free list) and reaps leaked buffers, so that ion_heap_destroy()
 * of each heap returns all of its memory. No client can be left: each
 * holds /dev/ion open, which holds the module.
 */
void ion_device_destroy(struct ion_device *dev)
{
	struct ion_heap *heap, *tmp;

	debugfs_remove_recursive(dev->debug_root);
	WARN_ON(!RB_EMPTY_ROOT(&dev->clients));
	ion_device_reap_buffers(dev);
	plist_for_each_entry_safe(heap, tmp, &dev->heaps, node)
		ion_device_remove_heap(dev, heap);
	/* The heaps' frees above sync for the misc device: it goes last. */
	ion_heap_set_dma_device(NULL);
	misc_deregister(&dev->dev);
	kfree(dev);
}

/* ---- the module: a device built from a board (ion_dummy_driver.c) ---- */

static char *board = ION_BOARD_DEFAULT;
module_param(board, charp, 0444);
MODULE_PARM_DESC(board,
		 "embedded board name (dummy, msm8x25, phone) or board text, records separated by ';'");

static char *profile;
module_param(profile, charp, 0444);
MODULE_PARM_DESC(profile,
		 "ION profile (4.4-compat, 4.4, 4.4.0; docs/profiles.md); default: the board's profile record, else 4.4-compat");

static unsigned long reserve_base;
module_param(reserve_base, ulong, 0444);
MODULE_PARM_DESC(reserve_base,
		 "physical base of the range kept from the kernel with memmap=<size>$<base>");

static unsigned long reserve_size;
module_param(reserve_size, ulong, 0444);
MODULE_PARM_DESC(reserve_size,
		 "size of that range; carveout, chunk and dma heaps are laid out in it");

static struct ion_device *idev;
static struct ion_board *ionsim_board;
static struct ion_platform_heap *ionsim_heap_data;
static struct ion_heap **heaps;
static int ionsim_nr_heaps;
static char *ionsim_board_text;

static bool ionsim_heap_has_range(enum ion_board_heap_type type)
{
	return type == ION_BOARD_HEAP_CARVEOUT ||
		type == ION_BOARD_HEAP_CHUNK ||
		type == ION_BOARD_HEAP_DMA;
}

/*
 * The board's carveout, chunk and dma heaps go into [reserve_base,
 * reserve_base + reserve_size), which must be page aligned and kept out of
 * System RAM (memmap=<size>$<base>); ion_board_fit() moves the board's
 * layout there.
 */
static int ionsim_place_heaps(struct ion_board *b, char *err, size_t errlen)
{
	bool ranges = false;
	unsigned int i;
	int ret;

	for (i = 0; i < b->nr_heaps; i++)
		ranges |= ionsim_heap_has_range(b->heaps[i].type);
	if (!ranges)
		return 0;

	if (!reserve_size) {
		pr_err("ionsim: board %s has carveout, chunk or dma heaps: load with reserve_base= and reserve_size= naming a range booted with memmap=<size>$<base>\n",
		       b->name);
		return -EINVAL;
	}
	if (!PAGE_ALIGNED(reserve_base) || !PAGE_ALIGNED(reserve_size) ||
	    reserve_base + reserve_size < reserve_base) {
		pr_err("ionsim: reserve_base=%#lx reserve_size=%#lx: not a page-aligned range\n",
		       reserve_base, reserve_size);
		return -EINVAL;
	}
	if (region_intersects(reserve_base, reserve_size, IORESOURCE_SYSTEM_RAM,
			      IORES_DESC_NONE) != REGION_DISJOINT) {
		pr_err("ionsim: [%#lx-%#lx] overlaps System RAM: boot with memmap=%#lx$%#lx\n",
		       reserve_base, reserve_base + reserve_size - 1,
		       reserve_size, reserve_base);
		return -EINVAL;
	}
	ret = ion_board_fit(b, reserve_base, reserve_size, err, errlen);
	if (ret) {
		pr_err("ionsim: %s\n", err);
		return ret;
	}
	return 0;
}

static void ionsim_destroy_heaps(void)
{
	int i;

	for (i = 0; i < ionsim_nr_heaps; i++)
		if (!IS_ERR_OR_NULL(heaps[i]))
			ion_heap_destroy(heaps[i]);
}

static void ionsim_free(void)
{
	kfree(heaps);
	kfree(ionsim_heap_data);
	kfree(ionsim_board_text);
	kfree(ionsim_board);
}

/* Mirrors ion_dummy_driver.c:ion_dummy_init() @ v4.4. */
static int __init ion_dummy_init(void)
{
	const struct ion_profile *prof;
	char *err;
	int i, len, ret;

	ionsim_board = kzalloc(sizeof(*ionsim_board), GFP_KERNEL);
	err = kzalloc(ION_BOARD_ERR_LEN, GFP_KERNEL);
	if (!ionsim_board || !err) {
		ret = -ENOMEM;
		goto err_free;
	}
	ret = ion_board_load(ionsim_board, board, strlen(board), err,
			     ION_BOARD_ERR_LEN);
	if (ret) {
		pr_err("ionsim: %s\n", err);
		goto err_free;
	}
	ret = ionsim_place_heaps(ionsim_board, err, ION_BOARD_ERR_LEN);
	if (ret)
		goto err_free;

	len = ion_board_render(ionsim_board, NULL, 0);
	ionsim_board_text = kmalloc(len + 1, GFP_KERNEL);
	ionsim_nr_heaps = ionsim_board->nr_heaps;
	ionsim_heap_data = kcalloc(ionsim_nr_heaps ? ionsim_nr_heaps : 1,
				   sizeof(*ionsim_heap_data), GFP_KERNEL);
	heaps = kcalloc(ionsim_nr_heaps ? ionsim_nr_heaps : 1,
			sizeof(struct ion_heap *), GFP_KERNEL);
	if (!ionsim_board_text || !ionsim_heap_data || !heaps) {
		ret = -ENOMEM;
		goto err_free;
	}
	ion_board_render(ionsim_board, ionsim_board_text, len + 1);

	/* The profile= parameter, else the board's profile record. */
	prof = profile && profile[0] ? ion_profile_find(profile) :
	       ionsim_board->profile[0] ? ion_profile_find(ionsim_board->profile) :
	       ion_profile_default();
	if (!prof) {
		ion_profile_names(err, ION_BOARD_ERR_LEN);
		pr_err("ionsim: unknown profile '%s' (known: %s)\n", profile, err);
		ret = -EINVAL;
		goto err_free;
	}

	idev = ion_device_create(NULL, prof);
	if (IS_ERR(idev)) {
		ret = PTR_ERR(idev);
		goto err_free;
	}

	for (i = 0; i < ionsim_nr_heaps; i++) {
		struct ion_board_heap *bh = &ionsim_board->heaps[i];
		struct ion_platform_heap *heap_data = &ionsim_heap_data[i];

		heap_data->type = (enum ion_heap_type)bh->type;
		heap_data->id = bh->id;
		heap_data->name = bh->name;
		heap_data->align = bh->align;
		if (ionsim_heap_has_range(bh->type)) {
			heap_data->base = bh->phys;
			heap_data->size = bh->size;
		}
		if (bh->type == ION_BOARD_HEAP_CHUNK)
			heap_data->priv = (void *)(unsigned long)bh->chunk;
		if (bh->type == ION_BOARD_HEAP_DMA) {
			heap_data->priv = idev->dev.this_device;
			heap_data->dma_writecombine =
				bh->dma_alloc == ION_BOARD_DMA_ALLOC_WC;
		}

		heaps[i] = ion_heap_create(heap_data);
		if (IS_ERR_OR_NULL(heaps[i])) {
			ret = heaps[i] ? PTR_ERR(heaps[i]) : -EINVAL;
			goto err_device;
		}
		ion_device_add_heap(idev, heaps[i]);
	}

	ion_state_debugfs_init(idev, ionsim_board_text);
	pr_info("ionsim: board %s, profile %s: %d heaps, reserved range [%#lx-%#lx]\n",
		ionsim_board->name, prof->name, ionsim_nr_heaps, reserve_base,
		reserve_size ? reserve_base + reserve_size - 1 : reserve_base);
	kfree(err);
	return 0;

err_device:
	ion_device_destroy(idev);
	ionsim_destroy_heaps();
err_free:
	ionsim_free();
	kfree(err);
	return ret;
}

/*
 * Mirrors ion_dummy_driver.c:ion_dummy_exit() @ v4.4, then proves that
 * everything came back: the counters go to the kernel log.
 */
static void __exit ion_dummy_exit(void)
{
	ion_device_destroy(idev);
	ionsim_destroy_heaps();
	ionsim_free();
	ion_counters_print("ionsim: unload:");
}

module_init(ion_dummy_init);
module_exit(ion_dummy_exit);

MODULE_DESCRIPTION("ionsim: the ION memory allocator of Linux v4.4 on Linux 6.1");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(DMA_BUF);
