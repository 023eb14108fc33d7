// SPDX-License-Identifier: GPL-2.0-only
/*
 * ionsim: the module's own debugfs files beside v4.4's -- ion/state (the
 * canonical dump that the userspace model renders identically), ion/drain,
 * ion/board and ion/counters (formats in ion_priv.h).
 *
 * Canonical dump, format "ionsim-state 1" (model/ion_state.h; one record
 * per line, no pointers, no pids):
 *   heap <id> <name> type=<type name> defer=<0|1> free_list_bytes=<n>
 *       free_list=<b..,b..|-> ('+' joins a run one client destroy freed)
 *     pool order=<o> high=<n> low=<n>	system heap only, orders 8, 4, 0
 *     chunk allocated=<bytes>		chunk heap only
 *     dma alloc=<coherent|wc>		dma heap only: the board's alloc=
 *   buffer b<serial> heap=<name> size=<bytes> offset=<offsets|->
 *       flags=0x<hex> ref=<n> handles=<handle_count> kmap=<kmap_cnt>
 *       [ map=<coherent|wc>]
 *   client c<serial> handles=<n>
 *     handle <id> b<serial> ref=<n> kmap=<kmap_cnt>[ user=<n>]
 *       (user=: profiles with user_ref_count, handle->user_ref_count)
 * Heaps in plist order, buffers in the device tree by serial, free lists
 * from head to tail, clients by serial, handles by id. offset= lists the
 * offset from the heap's base of each sg entry of a carveout, chunk or dma
 * buffer, in hex, comma-separated; map= is printed for dma-heap buffers.
 * Hex numbers are always written 0x%x: %#x prints "0" for zero in C
 * libraries and "0x0" in the kernel.
 */

#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/kernel.h>
#include <linux/rbtree.h>
#include <linux/scatterlist.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/uaccess.h>

#include "ion.h"
#include "ion_priv.h"

struct ion_counters ion_counters;

static const char *ion_heap_type_name(enum ion_heap_type type)
{
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

/* The physical base of a heap with a range, or -1 (system heaps). */
static phys_addr_t ion_state_heap_base(struct ion_heap *heap)
{
	switch (heap->type) {
	case ION_HEAP_TYPE_CARVEOUT:
		return ion_carveout_heap_base(heap);
	case ION_HEAP_TYPE_CHUNK:
		return ion_chunk_heap_base(heap);
	case ION_HEAP_TYPE_DMA:
		return ion_cma_heap_base(heap);
	default:
		return (phys_addr_t)-1;
	}
}

static void ion_state_buffer(struct seq_file *s, struct ion_buffer *buffer)
{
	struct ion_heap *heap = buffer->heap;
	phys_addr_t base = ion_state_heap_base(heap);
	struct scatterlist *sg;
	int i;

	seq_printf(s, "buffer b%lu heap=%s size=%zu offset=", buffer->serial,
		   heap->name, buffer->size);
	if (base == (phys_addr_t)-1 || !buffer->sg_table) {
		seq_putc(s, '-');
	} else {
		for_each_sg(buffer->sg_table->sgl, sg, buffer->sg_table->nents,
			    i) {
			if (i)
				seq_putc(s, ',');
			seq_printf(s, "0x%llx",
				   (unsigned long long)(sg_phys(sg) - base));
		}
	}
	seq_printf(s, " flags=0x%lx ref=%d handles=%d kmap=%d", buffer->flags,
		   kref_read(&buffer->ref), buffer->handle_count,
		   buffer->kmap_cnt);
	if (heap->type == ION_HEAP_TYPE_DMA)
		seq_printf(s, " map=%s", ion_cma_buffer_map_attr(buffer));
	seq_putc(s, '\n');
}

static void ion_state_heap(struct seq_file *s, struct ion_heap *heap)
{
	bool defer = heap->flags & ION_HEAP_FLAG_DEFER_FREE;
	struct ion_page_pool *pool;
	struct ion_buffer *buffer;
	int i;

	seq_printf(s, "heap %u %s type=%s defer=%d free_list_bytes=",
		   heap->id, heap->name, ion_heap_type_name(heap->type),
		   defer ? 1 : 0);
	if (defer) {
		struct ion_buffer *prev = NULL;

		spin_lock(&heap->free_lock);
		seq_printf(s, "%zu free_list=", heap->free_list_size);
		list_for_each_entry(buffer, &heap->free_list, list) {
			/*
			 * '+' joins neighbours one client destroy freed (in
			 * buffer-address order); ',' separates the rest.
			 */
			bool joined = prev && prev->free_group &&
				      prev->free_group == buffer->free_group;

			seq_printf(s, "%sb%lu",
				   !prev ? "" : joined ? "+" : ",",
				   buffer->serial);
			prev = buffer;
		}
		spin_unlock(&heap->free_lock);
		if (!prev)
			seq_putc(s, '-');
	} else {
		seq_puts(s, "0 free_list=-");
	}
	seq_putc(s, '\n');

	if (heap->type == ION_HEAP_TYPE_SYSTEM) {
		for (i = 0; (pool = ion_system_heap_pool(heap, i)); i++) {
			mutex_lock(&pool->mutex);
			seq_printf(s, "  pool order=%u high=%d low=%d\n",
				   pool->order, pool->high_count,
				   pool->low_count);
			mutex_unlock(&pool->mutex);
		}
	}
	if (heap->type == ION_HEAP_TYPE_CHUNK)
		seq_printf(s, "  chunk allocated=%lu\n",
			   ion_chunk_heap_allocated(heap));
	if (heap->type == ION_HEAP_TYPE_DMA)
		seq_printf(s, "  dma alloc=%s\n", ion_cma_heap_alloc_name(heap));
}

static int ion_state_cmp_buffer(const void *a, const void *b)
{
	const struct ion_buffer *x = *(const struct ion_buffer * const *)a;
	const struct ion_buffer *y = *(const struct ion_buffer * const *)b;

	return x->serial < y->serial ? -1 : x->serial > y->serial;
}

static int ion_state_cmp_client(const void *a, const void *b)
{
	const struct ion_client *x = *(const struct ion_client * const *)a;
	const struct ion_client *y = *(const struct ion_client * const *)b;

	return x->serial < y->serial ? -1 : x->serial > y->serial;
}

/* The nodes of an rb-tree in an array (kvfree it), or NULL. */
static struct rb_node **ion_state_nodes(struct rb_root *root, size_t *count)
{
	struct rb_node **nodes, *n;
	size_t nr = 0;

	for (n = rb_first(root); n; n = rb_next(n))
		nr++;
	nodes = kvmalloc_array(nr ? nr : 1, sizeof(*nodes), GFP_KERNEL);
	if (!nodes)
		return NULL;
	nr = 0;
	for (n = rb_first(root); n; n = rb_next(n))
		nodes[nr++] = n;
	*count = nr;
	return nodes;
}

static int ion_state_show(struct seq_file *s, void *unused)
{
	struct ion_device *dev = s->private;
	struct ion_heap *heap;
	struct rb_node **nodes;
	size_t nr, i;
	int ret = 0;

	seq_puts(s, "ionsim-state 1\n");
	down_read(&dev->lock);
	plist_for_each_entry(heap, &dev->heaps, node)
		ion_state_heap(s, heap);

	mutex_lock(&dev->buffer_lock);
	nodes = ion_state_nodes(&dev->buffers, &nr);
	if (nodes) {
		struct ion_buffer **buffers = (struct ion_buffer **)nodes;

		for (i = 0; i < nr; i++)
			buffers[i] = rb_entry(nodes[i], struct ion_buffer,
					      node);
		sort(buffers, nr, sizeof(*buffers), ion_state_cmp_buffer, NULL);
		for (i = 0; i < nr; i++)
			ion_state_buffer(s, buffers[i]);
		kvfree(nodes);
	} else {
		ret = -ENOMEM;
	}
	mutex_unlock(&dev->buffer_lock);

	nodes = ret ? NULL : ion_state_nodes(&dev->clients, &nr);
	if (nodes) {
		struct ion_client **clients = (struct ion_client **)nodes;

		for (i = 0; i < nr; i++)
			clients[i] = rb_entry(nodes[i], struct ion_client,
					      node);
		sort(clients, nr, sizeof(*clients), ion_state_cmp_client, NULL);
		for (i = 0; i < nr; i++) {
			struct ion_client *client = clients[i];
			struct ion_handle *handle;
			size_t handles = 0;
			int id;

			mutex_lock(&client->lock);
			idr_for_each_entry(&client->idr, handle, id)
				handles++;
			seq_printf(s, "client c%lu handles=%zu\n",
				   client->serial, handles);
			idr_for_each_entry(&client->idr, handle, id) {
				seq_printf(s, "  handle %d b%lu ref=%d kmap=%u",
					   id, handle->buffer->serial,
					   kref_read(&handle->ref),
					   handle->kmap_cnt);
				if (ion_profile_has(dev->profile,
						    ION_SW_USER_REF_COUNT))
					seq_printf(s, " user=%u",
						   handle->user_ref_count);
				seq_puts(s, "\n");
			}
			mutex_unlock(&client->lock);
		}
		kvfree(nodes);
	} else if (!ret) {
		ret = -ENOMEM;
	}
	up_read(&dev->lock);
	return ret;
}

static int ion_state_open(struct inode *inode, struct file *file)
{
	return single_open(file, ion_state_show, inode->i_private);
}

static const struct file_operations ion_state_fops = {
	.owner = THIS_MODULE,
	.open = ion_state_open,
	.read = seq_read,
	.llseek = seq_lseek,
	.release = single_release,
};

/*
 * ion/drain: any write destroys every DEFER_FREE heap's free list now, as
 * ion_heap_freelist_drain(heap, 0) does, after any destroy the heap's
 * thread has in flight.
 */
static ssize_t ion_drain_write(struct file *file, const char __user *buf,
			       size_t len, loff_t *ppos)
{
	struct ion_device *dev = file->private_data;
	struct ion_heap *heap;

	down_read(&dev->lock);
	plist_for_each_entry(heap, &dev->heaps, node) {
		if (!(heap->flags & ION_HEAP_FLAG_DEFER_FREE))
			continue;
		mutex_lock(&heap->defer_lock);
		ion_heap_freelist_drain(heap, 0);
		mutex_unlock(&heap->defer_lock);
	}
	up_read(&dev->lock);
	return len;
}

static const struct file_operations ion_drain_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = ion_drain_write,
	.llseek = no_llseek,
};

static int ion_board_show(struct seq_file *s, void *unused)
{
	seq_puts(s, s->private);
	return 0;
}

static int ion_board_open(struct inode *inode, struct file *file)
{
	return single_open(file, ion_board_show, inode->i_private);
}

static const struct file_operations ion_board_fops = {
	.owner = THIS_MODULE,
	.open = ion_board_open,
	.read = seq_read,
	.llseek = seq_lseek,
	.release = single_release,
};

struct ion_counter_value {
	const char *name;
	long value;
};

#define ION_NR_COUNTERS 14

static void ion_counters_read(struct ion_counter_value *v)
{
	struct ion_counters *c = &ion_counters;
	long created = atomic_long_read(&c->buffers_created);
	long destroyed = atomic_long_read(&c->buffers_destroyed);
	long allocated = atomic_long_read(&c->pages_allocated);
	long freed = atomic_long_read(&c->pages_freed);
	long r_allocated = atomic_long_read(&c->reserved_pages_allocated);
	long r_freed = atomic_long_read(&c->reserved_pages_freed);
	int i = 0;

	v[i++] = (struct ion_counter_value){ "buffers_created", created };
	v[i++] = (struct ion_counter_value){ "buffers_destroyed", destroyed };
	v[i++] = (struct ion_counter_value){ "buffers_live",
					     created - destroyed };
	v[i++] = (struct ion_counter_value){ "clients_live",
		atomic_long_read(&c->clients_live) };
	v[i++] = (struct ion_counter_value){ "handles_live",
		atomic_long_read(&c->handles_live) };
	v[i++] = (struct ion_counter_value){ "dmabufs_live",
		atomic_long_read(&c->dmabufs_live) };
	v[i++] = (struct ion_counter_value){ "kernel_mappings_live",
		atomic_long_read(&c->kernel_mappings_live) };
	v[i++] = (struct ion_counter_value){ "pages_allocated", allocated };
	v[i++] = (struct ion_counter_value){ "pages_freed", freed };
	v[i++] = (struct ion_counter_value){ "pages_live", allocated - freed };
	v[i++] = (struct ion_counter_value){ "pool_pages",
		atomic_long_read(&c->pool_pages) };
	v[i++] = (struct ion_counter_value){ "reserved_pages_allocated",
					     r_allocated };
	v[i++] = (struct ion_counter_value){ "reserved_pages_freed", r_freed };
	v[i++] = (struct ion_counter_value){ "reserved_pages_live",
					     r_allocated - r_freed };
	BUILD_BUG_ON(ION_NR_COUNTERS != 14);
}

static int ion_counters_show(struct seq_file *s, void *unused)
{
	struct ion_counter_value v[ION_NR_COUNTERS];
	int i;

	ion_counters_read(v);
	for (i = 0; i < ION_NR_COUNTERS; i++)
		seq_printf(s, "%s %ld\n", v[i].name, v[i].value);
	return 0;
}

static int ion_counters_open(struct inode *inode, struct file *file)
{
	return single_open(file, ion_counters_show, NULL);
}

static const struct file_operations ion_counters_fops = {
	.owner = THIS_MODULE,
	.open = ion_counters_open,
	.read = seq_read,
	.llseek = seq_lseek,
	.release = single_release,
};

/* The counters on one kernel log line: "<prefix> name=value ...". */
void ion_counters_print(const char *prefix)
{
	struct ion_counter_value v[ION_NR_COUNTERS];
	char line[768];
	int i, len;

	ion_counters_read(v);
	len = scnprintf(line, sizeof(line), "%s", prefix);
	for (i = 0; i < ION_NR_COUNTERS; i++)
		len += scnprintf(line + len, sizeof(line) - len, " %s=%ld",
				 v[i].name, v[i].value);
	pr_info("%s\n", line);
}

/* Creates ion/state, ion/drain, ion/board and ion/counters. */
int ion_state_debugfs_init(struct ion_device *dev, const char *board_text)
{
	if (IS_ERR_OR_NULL(dev->debug_root))
		return -ENOENT;
	debugfs_create_file("state", 0444, dev->debug_root, dev,
			    &ion_state_fops);
	debugfs_create_file("drain", 0200, dev->debug_root, dev,
			    &ion_drain_fops);
	debugfs_create_file("board", 0444, dev->debug_root, (void *)board_text,
			    &ion_board_fops);
	debugfs_create_file("counters", 0444, dev->debug_root, NULL,
			    &ion_counters_fops);
	return 0;
}
