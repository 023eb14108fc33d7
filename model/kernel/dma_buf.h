// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// dma-buf as drivers/dma-buf/dma-buf.c @ v4.4, with DMA_BUF_IOCTL_SYNC as v4.6 added it:
//   - dma_buf_export() wraps an exporter's buffer in an anonymous file ("dmabuf"), O_RDWR; the file's last
//     reference (every fd closed, every mapping gone, every dma_buf_get() put) calls ops->release();
//   - dma_buf_get(fd) is -EBADF for an fd that is not open and -EINVAL for a file that is not a dma-buf;
//   - mmap of the file checks pgoff + pages against the size (-EINVAL) and hands the vma to ops->mmap;
//   - DMA_BUF_IOCTL_SYNC validates its flags (-EINVAL), copies them from userspace (-EFAULT) and calls
//     begin_cpu_access for START and end_cpu_access for END; nothing pairs START with END;
//   - attach/detach call the exporter's callbacks under dmabuf->lock; map/unmap_attachment call theirs without
//     it, as upstream.
//
// The cpu-access callbacks take the v4.6 signature (dmabuf, direction): v4.4's extra start and len arguments
// were ignored by every exporter, ION included.
#ifndef MODEL_KERNEL_DMA_BUF_H_
#define MODEL_KERNEL_DMA_BUF_H_

#include <cstddef>
#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "model/kernel/dma_mapping.h"
#include "model/kernel/err.h"
#include "model/kernel/fs.h"
#include "model/kernel/list.h"
#include "model/kernel/lock.h"
#include "model/kernel/mm_user.h"
#include "model/kernel/scatterlist.h"

namespace ionsim::kernel {

struct dma_buf;
struct dma_buf_attachment;

// Mirrors include/linux/dma-buf.h:struct dma_buf_ops @ v4.4 (cpu access with the v4.6 signature).
// map_dma_buf, unmap_dma_buf, release, kmap_atomic, kmap and mmap are mandatory (dma_buf_export checks).
struct dma_buf_ops {
  int (*attach)(struct dma_buf* dmabuf, struct device* dev, struct dma_buf_attachment* attach);
  void (*detach)(struct dma_buf* dmabuf, struct dma_buf_attachment* attach);
  ErrnoOr<struct sg_table*> (*map_dma_buf)(struct dma_buf_attachment* attach, enum dma_data_direction dir);
  void (*unmap_dma_buf)(struct dma_buf_attachment* attach, struct sg_table* table, enum dma_data_direction dir);
  void (*release)(struct dma_buf* dmabuf);
  int (*begin_cpu_access)(struct dma_buf* dmabuf, enum dma_data_direction dir);
  int (*end_cpu_access)(struct dma_buf* dmabuf, enum dma_data_direction dir);
  void* (*kmap_atomic)(struct dma_buf* dmabuf, unsigned long page_num);
  void (*kunmap_atomic)(struct dma_buf* dmabuf, unsigned long page_num, void* vaddr);
  void* (*kmap)(struct dma_buf* dmabuf, unsigned long page_num);
  void (*kunmap)(struct dma_buf* dmabuf, unsigned long page_num, void* vaddr);
  int (*mmap)(struct dma_buf* dmabuf, struct vm_area_struct* vma);
  void* (*vmap)(struct dma_buf* dmabuf);
  void (*vunmap)(struct dma_buf* dmabuf, void* vaddr);
};

// Mirrors include/linux/dma-buf.h:struct dma_buf @ v4.4.
struct dma_buf {
  size_t size;
  struct file* file;
  struct list_head attachments ABSL_GUARDED_BY(lock);
  const struct dma_buf_ops* ops;
  struct mutex lock;  // protects attachments and the vmap state
  unsigned int vmapping_counter ABSL_GUARDED_BY(lock);
  void* vmap_ptr ABSL_GUARDED_BY(lock);
  const char* exp_name;
  struct list_head list_node;  // on the global dma-buf list (db_list)
  void* priv;
};

// Mirrors include/linux/dma-buf.h:struct dma_buf_attachment @ v4.4.
struct dma_buf_attachment {
  struct dma_buf* dmabuf;
  struct device* dev;
  struct list_head node;
  void* priv;
};

// Mirrors include/linux/dma-buf.h:struct dma_buf_export_info @ v4.4.
struct dma_buf_export_info {
  const char* exp_name;
  const struct dma_buf_ops* ops;
  size_t size;
  int flags;  // O_* flags of the file
  void* priv;
};

// Mirrors drivers/dma-buf/dma-buf.c:dma_buf_export() @ v4.4: -EINVAL (with a WARN_ON) when priv or a mandatory
// op is missing; -ENOMEM when an allocation fails. The file has f_count 1.
ErrnoOr<struct dma_buf*> dma_buf_export(const struct dma_buf_export_info* exp_info);
// Mirrors drivers/dma-buf/dma-buf.c:dma_buf_fd() @ v4.4: installs the caller's file reference at a new fd of
// get_current(); -EINVAL for a NULL dmabuf, -EMFILE when the table is full.
ErrnoOr<int> dma_buf_fd(struct dma_buf* dmabuf, int flags);
// Mirrors drivers/dma-buf/dma-buf.c:dma_buf_get() @ v4.4: takes a file reference.
ErrnoOr<struct dma_buf*> dma_buf_get(int fd);
// Mirrors drivers/dma-buf/dma-buf.c:dma_buf_put() @ v4.4: WARNs on NULL.
void dma_buf_put(struct dma_buf* dmabuf);
// Mirrors include/linux/dma-buf.h:get_dma_buf() @ v4.4.
void get_dma_buf(struct dma_buf* dmabuf);
// Mirrors drivers/dma-buf/dma-buf.c:is_dma_buf_file() @ v4.4.
bool is_dma_buf_file(const struct file* file);

// Mirrors drivers/dma-buf/dma-buf.c:dma_buf_attach() @ v4.4: -EINVAL for NULL arguments, -ENOMEM, or the
// exporter's attach error.
ErrnoOr<struct dma_buf_attachment*> dma_buf_attach(struct dma_buf* dmabuf, struct device* dev);
// Mirrors drivers/dma-buf/dma-buf.c:dma_buf_detach() @ v4.4.
void dma_buf_detach(struct dma_buf* dmabuf, struct dma_buf_attachment* attach);
// Mirrors drivers/dma-buf/dma-buf.c:dma_buf_map_attachment() @ v4.4: -EINVAL for NULL arguments.
ErrnoOr<struct sg_table*> dma_buf_map_attachment(struct dma_buf_attachment* attach, enum dma_data_direction dir);
// Mirrors drivers/dma-buf/dma-buf.c:dma_buf_unmap_attachment() @ v4.4.
void dma_buf_unmap_attachment(struct dma_buf_attachment* attach, struct sg_table* sg_table,
                              enum dma_data_direction dir);

// Mirrors drivers/dma-buf/dma-buf.c:dma_buf_begin_cpu_access() @ v4.6: -EINVAL for NULL, else the exporter's.
Errno dma_buf_begin_cpu_access(struct dma_buf* dmabuf, enum dma_data_direction dir);
// Mirrors drivers/dma-buf/dma-buf.c:dma_buf_end_cpu_access() @ v4.6: WARNs on NULL and then oopses (a BUG).
Errno dma_buf_end_cpu_access(struct dma_buf* dmabuf, enum dma_data_direction dir);
// Mirrors drivers/dma-buf/dma-buf.c:dma_buf_kmap() @ v4.4: page_num goes to the exporter's kmap unchecked (a page
// beyond the buffer gives whatever the exporter returns); NULL dmabuf WARNs and then oopses.
void* dma_buf_kmap(struct dma_buf* dmabuf, unsigned long page_num);
// Mirrors drivers/dma-buf/dma-buf.c:dma_buf_kunmap() @ v4.4.
void dma_buf_kunmap(struct dma_buf* dmabuf, unsigned long page_num, void* vaddr);
// Mirrors drivers/dma-buf/dma-buf.c:dma_buf_mmap() @ v4.4 (a kernel user mapping a dma-buf into a vma it owns):
// -EOVERFLOW when pgoff + vma pages wraps, -EINVAL when it exceeds the size; the vma's file becomes the dma-buf's.
Errno dma_buf_mmap(struct dma_buf* dmabuf, struct vm_area_struct* vma, unsigned long pgoff);
// Mirrors drivers/dma-buf/dma-buf.c:dma_buf_vmap() @ v4.4: counted; the exporter's vmap runs on 0 -> 1.
void* dma_buf_vmap(struct dma_buf* dmabuf);
// Mirrors drivers/dma-buf/dma-buf.c:dma_buf_vunmap() @ v4.4: BUG_ON a vaddr that is not the current mapping.
void dma_buf_vunmap(struct dma_buf* dmabuf, void* vaddr);

// Mirrors include/uapi/linux/dma-buf.h @ v4.6.
struct dma_buf_sync {
  uint64_t flags;
};
inline constexpr uint64_t DMA_BUF_SYNC_READ = 1 << 0;
inline constexpr uint64_t DMA_BUF_SYNC_WRITE = 2 << 0;
inline constexpr uint64_t DMA_BUF_SYNC_RW = DMA_BUF_SYNC_READ | DMA_BUF_SYNC_WRITE;
inline constexpr uint64_t DMA_BUF_SYNC_START = 0 << 2;
inline constexpr uint64_t DMA_BUF_SYNC_END = 1 << 2;
inline constexpr uint64_t DMA_BUF_SYNC_VALID_FLAGS_MASK = DMA_BUF_SYNC_RW | DMA_BUF_SYNC_END;
// _IOW('b', 0, struct dma_buf_sync)
inline constexpr unsigned int DMA_BUF_IOCTL_SYNC = 0x40086200;

// Live dma-bufs (the global db_list), for leak checks and dumps.
size_t dma_buf_count();
// Calls fn for every dma-buf on db_list, under the list's lock (fn must not export or release a dma-buf).
// Mirrors the walk of drivers/dma-buf/dma-buf.c:dma_buf_debug_show() @ v4.4.
void dma_buf_for_each(void (*fn)(struct dma_buf* dmabuf, void* data), void* data);

}  // namespace ionsim::kernel

#endif  // MODEL_KERNEL_DMA_BUF_H_
