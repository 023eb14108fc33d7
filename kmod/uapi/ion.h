/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * ionsim: the ION userspace ABI, the single header shared by the kernel module (kmod/), the model (model/), the
 * tests and the fuzzers. Plain C.
 *
 * Two generations answer on one /dev/ion:
 *   - the legacy handle ABI of drivers/staging/android/uapi/ion.h @ v4.4 (ALLOC returns a handle id; FREE,
 *     MAP, SHARE, IMPORT, SYNC, CUSTOM), with ION_IOC_HEAP_QUERY as 4.10/4.11 kernels added it;
 *   - the 4.12 ALLOC, which returns a dma-buf fd. Its struct has the same ioctl nr as legacy ALLOC but a
 *     different size, so its command number differs; it is named as libion names it (ion_4.12.h):
 *     struct ion_new_allocation_data and ION_IOC_NEW_ALLOC.
 */
#ifndef _UAPI_LINUX_ION_H
#define _UAPI_LINUX_ION_H

#include <linux/ioctl.h>
#include <linux/types.h>
#ifndef __KERNEL__
#include <stddef.h>
#endif

typedef int ion_user_handle_t;

/* Heap types (mainline enum ion_heap_type @ v4.4). */
enum ion_heap_type {
	ION_HEAP_TYPE_SYSTEM,
	ION_HEAP_TYPE_SYSTEM_CONTIG,
	ION_HEAP_TYPE_CARVEOUT,
	ION_HEAP_TYPE_CHUNK,
	ION_HEAP_TYPE_DMA,
	ION_HEAP_TYPE_CUSTOM, /* must be last so device specific heaps always are at the end of this enum */
};

#define ION_NUM_HEAPS 16

#define ION_HEAP_SYSTEM_MASK ((1 << ION_HEAP_TYPE_SYSTEM))
#define ION_HEAP_SYSTEM_CONTIG_MASK ((1 << ION_HEAP_TYPE_SYSTEM_CONTIG))
#define ION_HEAP_CARVEOUT_MASK ((1 << ION_HEAP_TYPE_CARVEOUT))
#define ION_HEAP_TYPE_DMA_MASK ((1 << ION_HEAP_TYPE_DMA))

#define ION_NUM_HEAP_IDS (sizeof(unsigned int) * 8)

/* Allocation flags: the low 16 bits belong to the core, the high 16 to heaps. */
#define ION_FLAG_CACHED 1           /* mappings of this buffer should be cached */
#define ION_FLAG_CACHED_NEEDS_SYNC 2 /* cache maintenance is explicit (DMA_BUF_IOCTL_SYNC / ION_IOC_SYNC) */

/* Legacy ALLOC: 32 bytes on LP64 (4 bytes of tail padding), 20 on ILP32. */
struct ion_allocation_data {
	size_t len;
	size_t align;
	unsigned int heap_id_mask;
	unsigned int flags;
	ion_user_handle_t handle;
};

/* SHARE, MAP, IMPORT and SYNC. */
struct ion_fd_data {
	ion_user_handle_t handle;
	int fd;
};

/* FREE. */
struct ion_handle_data {
	ion_user_handle_t handle;
};

/* CUSTOM: 16 bytes on LP64, 8 on ILP32. */
struct ion_custom_data {
	unsigned int cmd;
	unsigned long arg;
};

/* The 4.12 ALLOC: fixed width, 24 bytes everywhere. */
struct ion_new_allocation_data {
	__u64 len;
	__u32 heap_id_mask;
	__u32 flags;
	__u32 fd;
	__u32 unused;
};

#define MAX_HEAP_NAME 32

/* One heap as ION_IOC_HEAP_QUERY reports it: 52 bytes. */
struct ion_heap_data {
	char name[MAX_HEAP_NAME];
	__u32 type;
	__u32 heap_id;
	__u32 reserved0;
	__u32 reserved1;
	__u32 reserved2;
};

/* ION_IOC_HEAP_QUERY: heaps is a user pointer to cnt struct ion_heap_data; 24 bytes. */
struct ion_heap_query {
	__u32 cnt;
	__u32 reserved0;
	__u64 heaps;
	__u32 reserved1;
	__u32 reserved2;
};

#define ION_IOC_MAGIC 'I'

#define ION_IOC_ALLOC _IOWR(ION_IOC_MAGIC, 0, struct ion_allocation_data)
#define ION_IOC_FREE _IOWR(ION_IOC_MAGIC, 1, struct ion_handle_data)
#define ION_IOC_MAP _IOWR(ION_IOC_MAGIC, 2, struct ion_fd_data)
#define ION_IOC_SHARE _IOWR(ION_IOC_MAGIC, 4, struct ion_fd_data)
#define ION_IOC_IMPORT _IOWR(ION_IOC_MAGIC, 5, struct ion_fd_data)
#define ION_IOC_SYNC _IOWR(ION_IOC_MAGIC, 7, struct ion_fd_data)
#define ION_IOC_CUSTOM _IOWR(ION_IOC_MAGIC, 6, struct ion_custom_data)
#define ION_IOC_HEAP_QUERY _IOWR(ION_IOC_MAGIC, 8, struct ion_heap_query)
#define ION_IOC_NEW_ALLOC _IOWR(ION_IOC_MAGIC, 0, struct ion_new_allocation_data)

#endif /* _UAPI_LINUX_ION_H */
