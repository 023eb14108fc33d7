/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A libion-compatible ION userspace library: the API of Android's libion (<ion/ion.h>), written in plain C
 * from its documented behaviour over ionsim's ABI header (kmod/uapi/ion.h). Every call is open(2), close(2),
 * ioctl(2) or mmap(2) on the real system-call interface, so a program built with it runs on any kernel with
 * ION and, unmodified, on the ionsim model under `ionsim exec` (LD_PRELOAD=libionsim-preload.so).
 *
 * Every function returns 0 (or a non-negative fd for ion_open) on success and -errno on failure; a NULL
 * output pointer is -EINVAL before any system call.
 */
#ifndef IONSIM_LIBION_ION_H_
#define IONSIM_LIBION_ION_H_

#include <stddef.h>
#include <sys/types.h>

#include "kmod/uapi/ion.h"

#ifdef __cplusplus
extern "C" {
#endif

/* open("/dev/ion", O_RDONLY | O_CLOEXEC): the fd, or -errno. */
int ion_open(void);
/* close(fd): 0 or -errno. */
int ion_close(int fd);
/*
 * Whether fd's kernel speaks the legacy handle ABI (1) or the 4.12 one (0). Probed once per process: the
 * legacy ION_IOC_FREE of handle 0 fails with ENOTTY on a 4.12+ kernel only (a legacy kernel answers EINVAL).
 */
int ion_is_legacy(int fd);
/* ION_IOC_ALLOC: the handle in *handle. */
int ion_alloc(int fd, size_t len, size_t align, unsigned int heap_mask, unsigned int flags,
              ion_user_handle_t *handle);
/*
 * A buffer as a dma-buf fd in *handle_fd: ION_IOC_NEW_ALLOC on a 4.12 kernel; on a legacy kernel ALLOC,
 * SHARE, then FREE of the handle (the fd keeps the buffer alive). align is ignored by the 4.12 ABI.
 */
int ion_alloc_fd(int fd, size_t len, size_t align, unsigned int heap_mask, unsigned int flags, int *handle_fd);
/* ION_IOC_FREE. */
int ion_free(int fd, ion_user_handle_t handle);
/*
 * ION_IOC_MAP then mmap(NULL, length, prot, flags, map_fd, offset): the mapping in *ptr, the dma-buf fd in
 * *map_fd (the caller closes it). A negative fd from the kernel is -EINVAL; a failed mmap is its -errno (the
 * fd is then closed).
 */
int ion_map(int fd, ion_user_handle_t handle, size_t length, int prot, int flags, off_t offset,
            unsigned char **ptr, int *map_fd);
/* ION_IOC_SHARE: a dma-buf fd for the handle in *share_fd (a negative fd from the kernel is -EINVAL). */
int ion_share(int fd, ion_user_handle_t handle, int *share_fd);
/* ION_IOC_IMPORT of a dma-buf fd: the handle in *handle. */
int ion_import(int fd, int share_fd, ion_user_handle_t *handle);
/* ION_IOC_SYNC of a dma-buf fd. */
int ion_sync_fd(int fd, int handle_fd);
/* ION_IOC_HEAP_QUERY with no array: the number of heaps in *cnt. */
int ion_query_heap_cnt(int fd, int *cnt);
/* ION_IOC_HEAP_QUERY into buffers, an array of cnt struct ion_heap_data. */
int ion_query_get_heaps(int fd, int cnt, void *buffers);

#ifdef __cplusplus
}
#endif

#endif /* IONSIM_LIBION_ION_H_ */
