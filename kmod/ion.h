/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ionsim: the ION kernel API, mirroring drivers/staging/android/ion/ion.h
 * @ v4.4: platform heap descriptions, device and heap creation, and the
 * in-kernel client interface. Userspace reaches the same code through
 * /dev/ion (ion_ioctl(), in ion_priv.h).
 */
#ifndef _IONSIM_ION_H
#define _IONSIM_ION_H

#include <linux/types.h>

#include "uapi/ion.h"

struct ion_handle;
struct ion_device;
struct ion_heap;
struct ion_client;
struct ion_buffer;
struct dma_buf;

/* Mirrors ion.h:ion_phys_addr_t @ v4.4. */
typedef unsigned long ion_phys_addr_t;

/**
 * struct ion_platform_heap - defines a heap in the given platform
 * (mirrors ion.h:struct ion_platform_heap @ v4.4)
 * @type:	type of the heap from ion_heap_type enum
 * @id:		unique identifier for heap; a heap id mask bit
 * @name:	used for debug purposes
 * @base:	base address of heap in physical memory if applicable
 * @size:	size of the heap in bytes if applicable
 * @align:	required alignment in physical memory if applicable
 * @priv:	private info passed from the board to the heap: the chunk
 *		size of a chunk heap, the struct device of a dma heap
 */
struct ion_platform_heap {
	enum ion_heap_type type;
	unsigned int id;
	const char *name;
	ion_phys_addr_t base;
	size_t size;
	ion_phys_addr_t align;
	void *priv;
	/*
	 * Divergence: a board option v4.4 does not have (docs/boards.md,
	 * alloc=wc): a dma heap allocates uncached buffers with
	 * dma_alloc_writecombine(); false is v4.4's dma_alloc_coherent().
	 */
	bool dma_writecombine;
};

/**
 * struct ion_platform_data - array of platform heaps
 * (mirrors ion.h:struct ion_platform_data @ v4.4)
 * @nr:		number of structures in the array
 * @heaps:	array of platform_heap structions
 */
struct ion_platform_data {
	int nr;
	struct ion_platform_heap *heaps;
};

/* Mirrors ion.h:ion_client_create() @ v4.4. */
struct ion_client *ion_client_create(struct ion_device *dev,
				     const char *name);

/* Mirrors ion.h:ion_client_destroy() @ v4.4. */
void ion_client_destroy(struct ion_client *client);

/* Mirrors ion.h:ion_alloc() @ v4.4. */
struct ion_handle *ion_alloc(struct ion_client *client, size_t len,
			     size_t align, unsigned int heap_id_mask,
			     unsigned int flags);

/* Mirrors ion.h:ion_free() @ v4.4. */
void ion_free(struct ion_client *client, struct ion_handle *handle);

/* Mirrors ion.h:ion_phys() @ v4.4. */
int ion_phys(struct ion_client *client, struct ion_handle *handle,
	     ion_phys_addr_t *addr, size_t *len);

/* Mirrors ion.h:ion_map_kernel() @ v4.4. */
void *ion_map_kernel(struct ion_client *client, struct ion_handle *handle);

/* Mirrors ion.h:ion_unmap_kernel() @ v4.4. */
void ion_unmap_kernel(struct ion_client *client, struct ion_handle *handle);

/* Mirrors ion.h:ion_share_dma_buf() @ v4.4. */
struct dma_buf *ion_share_dma_buf(struct ion_client *client,
				  struct ion_handle *handle);

/* Mirrors ion.h:ion_share_dma_buf_fd() @ v4.4. */
int ion_share_dma_buf_fd(struct ion_client *client, struct ion_handle *handle);

/* Mirrors ion.h:ion_import_dma_buf() @ v4.4. */
struct ion_handle *ion_import_dma_buf(struct ion_client *client, int fd);

#endif /* _IONSIM_ION_H */
