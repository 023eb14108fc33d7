/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libion's calls over ioctl(2), as include/ion/ion.h documents them. Errors are returned as -errno; a
 * failed ioctl is also reported on stderr as "ion: <call> failed: <strerror>" only when $IONSIM_LIBION_DEBUG is
 * set (libion logs to the Android log, which a plain Linux program does not have).
 */
#define _GNU_SOURCE
#include "tools/libion/include/ion/ion.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

enum { ION_VERSION_UNKNOWN, ION_VERSION_MODERN, ION_VERSION_LEGACY };

/* The probed ABI of this process (libion keeps one per process too). */
static int ion_version = ION_VERSION_UNKNOWN;

static void ion_log(const char *what, int err) {
	if (getenv("IONSIM_LIBION_DEBUG") != NULL)
		fprintf(stderr, "ion: %s failed: %s\n", what, strerror(err));
}

static int ion_ioctl(int fd, unsigned long req, void *arg, const char *what) {
	int err;

	if (ioctl(fd, req, arg) >= 0)
		return 0;
	err = errno;
	ion_log(what, err);
	return -err;
}

int ion_open(void) {
	int fd = open("/dev/ion", O_RDONLY | O_CLOEXEC);
	int err;

	if (fd >= 0)
		return fd;
	err = errno;
	ion_log("open /dev/ion", err);
	return -err;
}

int ion_close(int fd) {
	return close(fd) < 0 ? -errno : 0;
}

int ion_is_legacy(int fd) {
	if (ion_version == ION_VERSION_UNKNOWN) {
		/* FREE exists only in the legacy ABI; handle 0 is never a valid handle. */
		struct ion_handle_data data;
		int ret;

		memset(&data, 0, sizeof(data));
		ret = ioctl(fd, ION_IOC_FREE, &data) < 0 ? -errno : 0;
		ion_version = ret == -ENOTTY ? ION_VERSION_MODERN : ION_VERSION_LEGACY;
	}
	return ion_version == ION_VERSION_LEGACY;
}

int ion_alloc(int fd, size_t len, size_t align, unsigned int heap_mask, unsigned int flags,
              ion_user_handle_t *handle) {
	struct ion_allocation_data data;
	int ret;

	if (handle == NULL)
		return -EINVAL;
	memset(&data, 0, sizeof(data));
	data.len = len;
	data.align = align;
	data.heap_id_mask = heap_mask;
	data.flags = flags;
	ret = ion_ioctl(fd, ION_IOC_ALLOC, &data, "ION_IOC_ALLOC");
	if (ret < 0)
		return ret;
	*handle = data.handle;
	return 0;
}

int ion_free(int fd, ion_user_handle_t handle) {
	struct ion_handle_data data;

	memset(&data, 0, sizeof(data));
	data.handle = handle;
	return ion_ioctl(fd, ION_IOC_FREE, &data, "ION_IOC_FREE");
}

int ion_map(int fd, ion_user_handle_t handle, size_t length, int prot, int flags, off_t offset,
            unsigned char **ptr, int *map_fd) {
	struct ion_fd_data data;
	void *addr;
	int ret, err;

	if (ptr == NULL || map_fd == NULL)
		return -EINVAL;
	memset(&data, 0, sizeof(data));
	data.handle = handle;
	ret = ion_ioctl(fd, ION_IOC_MAP, &data, "ION_IOC_MAP");
	if (ret < 0)
		return ret;
	if (data.fd < 0)
		return -EINVAL;
	addr = mmap(NULL, length, prot, flags, data.fd, offset);
	if (addr == MAP_FAILED) {
		err = errno;
		ion_log("mmap", err);
		close(data.fd);
		return -err;
	}
	*map_fd = data.fd;
	*ptr = addr;
	return 0;
}

int ion_share(int fd, ion_user_handle_t handle, int *share_fd) {
	struct ion_fd_data data;
	int ret;

	if (share_fd == NULL)
		return -EINVAL;
	memset(&data, 0, sizeof(data));
	data.handle = handle;
	ret = ion_ioctl(fd, ION_IOC_SHARE, &data, "ION_IOC_SHARE");
	if (ret < 0)
		return ret;
	if (data.fd < 0)
		return -EINVAL;
	*share_fd = data.fd;
	return 0;
}

int ion_alloc_fd(int fd, size_t len, size_t align, unsigned int heap_mask, unsigned int flags, int *handle_fd) {
	ion_user_handle_t handle;
	int ret;

	if (handle_fd == NULL)
		return -EINVAL;
	if (!ion_is_legacy(fd)) {
		struct ion_new_allocation_data data;

		memset(&data, 0, sizeof(data));
		data.len = len;
		data.heap_id_mask = heap_mask;
		data.flags = flags;
		ret = ion_ioctl(fd, ION_IOC_NEW_ALLOC, &data, "ION_IOC_NEW_ALLOC");
		if (ret < 0)
			return ret;
		*handle_fd = (int)data.fd;
		return 0;
	}
	ret = ion_alloc(fd, len, align, heap_mask, flags, &handle);
	if (ret < 0)
		return ret;
	ret = ion_share(fd, handle, handle_fd);
	/* The dma-buf fd holds the buffer; the handle is not needed any more, whatever SHARE said. */
	ion_free(fd, handle);
	return ret;
}

int ion_import(int fd, int share_fd, ion_user_handle_t *handle) {
	struct ion_fd_data data;
	int ret;

	if (handle == NULL)
		return -EINVAL;
	memset(&data, 0, sizeof(data));
	data.fd = share_fd;
	ret = ion_ioctl(fd, ION_IOC_IMPORT, &data, "ION_IOC_IMPORT");
	if (ret < 0)
		return ret;
	*handle = data.handle;
	return 0;
}

int ion_sync_fd(int fd, int handle_fd) {
	struct ion_fd_data data;

	memset(&data, 0, sizeof(data));
	data.fd = handle_fd;
	return ion_ioctl(fd, ION_IOC_SYNC, &data, "ION_IOC_SYNC");
}

int ion_query_heap_cnt(int fd, int *cnt) {
	struct ion_heap_query query;
	int ret;

	if (cnt == NULL)
		return -EINVAL;
	memset(&query, 0, sizeof(query));
	ret = ion_ioctl(fd, ION_IOC_HEAP_QUERY, &query, "ION_IOC_HEAP_QUERY");
	if (ret < 0)
		return ret;
	*cnt = (int)query.cnt;
	return 0;
}

int ion_query_get_heaps(int fd, int cnt, void *buffers) {
	struct ion_heap_query query;

	if (buffers == NULL)
		return -EINVAL;
	memset(&query, 0, sizeof(query));
	query.cnt = (__u32)cnt;
	query.heaps = (__u64)(uintptr_t)buffers;
	return ion_ioctl(fd, ION_IOC_HEAP_QUERY, &query, "ION_IOC_HEAP_QUERY");
}
