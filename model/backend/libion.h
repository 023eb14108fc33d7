// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// libion for one process of an IonBackend: the calls AOSP's system/memory/libion makes (ion_open, ion_alloc,
// ion_free, ion_share, ion_map, ion_import, ion_sync_fd, ion_alloc_fd, ion_query_heap_cnt/get_heaps), each one
// ioctl with its argument marshalled through the process's own memory (a scratch page mapped on first use),
// so the kernel side copies it in and out exactly as it would for a real process.
#ifndef MODEL_BACKEND_LIBION_H_
#define MODEL_BACKEND_LIBION_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kmod/uapi/ion.h"
#include "model/backend/ion_backend.h"

namespace ionsim {

class LibIon {
 public:
  LibIon(IonBackend* backend, ProcId proc) : backend_(backend), proc_(proc) {}

  ProcId proc() const { return proc_; }
  IonBackend* backend() const { return backend_; }

  // open("/dev/ion", O_RDONLY | O_CLOEXEC), as libion's ion_open.
  ErrnoOr<int> Open();
  Errno Close(int fd);
  // ION_IOC_ALLOC: the handle id.
  ErrnoOr<int> Alloc(int fd, size_t len, size_t align, unsigned int heap_mask, unsigned int flags);
  // ION_IOC_NEW_ALLOC (the 4.12 ABI): a dma-buf fd.
  ErrnoOr<int> AllocFd(int fd, size_t len, unsigned int heap_mask, unsigned int flags);
  Errno Free(int fd, int handle);
  // ION_IOC_SHARE / ION_IOC_MAP: the dma-buf fd.
  ErrnoOr<int> Share(int fd, int handle);
  ErrnoOr<int> Map(int fd, int handle);
  // ION_IOC_IMPORT: the handle id.
  ErrnoOr<int> Import(int fd, int share_fd);
  Errno Sync(int fd, int share_fd);
  // ION_IOC_HEAP_QUERY with a NULL heaps pointer.
  ErrnoOr<int> HeapCount(int fd);
  // ION_IOC_HEAP_QUERY for up to cnt heaps.
  ErrnoOr<std::vector<ion_heap_data>> QueryHeaps(int fd, unsigned int cnt);
  // DMA_BUF_IOCTL_SYNC on a dma-buf fd.
  Errno DmaBufSync(int dmabuf_fd, uint64_t flags);

  // Any ioctl with an argument of `size` bytes: arg is copied into the scratch page, the ioctl runs on it, and
  // the scratch bytes are copied back into arg whatever the result.
  ErrnoOr<long> Ioctl(int fd, unsigned int cmd, void* arg, size_t size);
  // The user address of the scratch page (mapped on first use), or 0 when it cannot be mapped.
  uint64_t Scratch();

 private:
  IonBackend* backend_;
  ProcId proc_;
  uint64_t scratch_ = 0;
};

}  // namespace ionsim

#endif  // MODEL_BACKEND_LIBION_H_
