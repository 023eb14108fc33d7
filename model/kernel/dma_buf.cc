// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "model/kernel/dma_buf.h"

#include <cstdint>
#include <cstdio>

#include "model/kernel/bug.h"
#include "model/kernel/mm.h"
#include "model/kernel/sched.h"
#include "model/kernel/slab.h"

namespace ionsim::kernel {
namespace {

// Mirrors drivers/dma-buf/dma-buf.c:struct dma_buf_list @ v4.4.
struct dma_buf_list {
  struct list_head head ABSL_GUARDED_BY(lock);
  struct mutex lock;
};

// Mirrors drivers/dma-buf/dma-buf.c:dma_buf_init() @ v4.4: the list is set up once, before the first export.
struct dma_buf_list* db_list() {
  static struct dma_buf_list* list = [] {
    auto* l = new dma_buf_list();
    mutex_init(&l->lock, "db_list.lock");
    mutex_lock(&l->lock);
    INIT_LIST_HEAD(&l->head);
    mutex_unlock(&l->lock);
    return l;
  }();
  return list;
}

// Mirrors include/linux/err.h:IS_ERR() @ v4.4 (MAX_ERRNO 4095), for what an exporter's vmap returns.
bool is_err_ptr(const void* ptr) {
  return reinterpret_cast<uintptr_t>(ptr) >= static_cast<uintptr_t>(-4095);
}

// The oops the kernel takes when a function WARNs on a NULL dma-buf and then dereferences it anyway.
[[noreturn]] void null_dmabuf_oops(const char* function) {
  bug_slowpath(__FILE__, __LINE__, function, "BUG: unable to handle kernel NULL pointer dereference at %p",
               static_cast<const void*>(nullptr));
}

int dma_buf_release(struct inode* inode, struct file* file);
int dma_buf_mmap_internal(struct file* file, struct vm_area_struct* vma);
loff_t dma_buf_llseek(struct file* file, loff_t offset, int whence);
long dma_buf_ioctl(struct file* file, unsigned int cmd, unsigned long arg);

// Mirrors drivers/dma-buf/dma-buf.c:dma_buf_fops @ v4.4 (unlocked_ioctl from v4.6; no poll: the model has no
// fences).
const struct file_operations dma_buf_fops = {
    .llseek = dma_buf_llseek,
    .unlocked_ioctl = dma_buf_ioctl,
    .mmap = dma_buf_mmap_internal,
    .release = dma_buf_release,
};

// Mirrors drivers/dma-buf/dma-buf.c:dma_buf_release() @ v4.4.
int dma_buf_release(struct inode* /*inode*/, struct file* file) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  // The file's last reference is gone, so nothing else can reach dmabuf: its fields are read without its lock.
  if (!is_dma_buf_file(file)) return -EINVAL;
  struct dma_buf* dmabuf = static_cast<struct dma_buf*>(file->private_data);

  BUG_ON(dmabuf->vmapping_counter);

  dmabuf->ops->release(dmabuf);

  struct dma_buf_list* list = db_list();
  mutex_lock(&list->lock);
  list_del(&dmabuf->list_node);
  mutex_unlock(&list->lock);

  kfree(dmabuf);
  return 0;
}

// Mirrors drivers/dma-buf/dma-buf.c:dma_buf_mmap_internal() @ v4.4.
int dma_buf_mmap_internal(struct file* file, struct vm_area_struct* vma) {
  if (!is_dma_buf_file(file)) return -EINVAL;
  struct dma_buf* dmabuf = static_cast<struct dma_buf*>(file->private_data);

  // No overflow check, as upstream: mmap has already refused a pgoff + pages that wraps.
  if (vma->vm_pgoff + vma_pages(vma) > dmabuf->size >> PAGE_SHIFT) return -EINVAL;

  return dmabuf->ops->mmap(dmabuf, vma);
}

// Mirrors drivers/dma-buf/dma-buf.c:dma_buf_llseek() @ v4.4: only SEEK_END(0), to learn the size, and SEEK_SET(0).
loff_t dma_buf_llseek(struct file* file, loff_t offset, int whence) {
  if (!is_dma_buf_file(file)) return -EBADF;
  struct dma_buf* dmabuf = static_cast<struct dma_buf*>(file->private_data);

  loff_t base;
  if (whence == SEEK_END) {
    base = static_cast<loff_t>(dmabuf->size);
  } else if (whence == SEEK_SET) {
    base = 0;
  } else {
    return -EINVAL;
  }
  if (offset != 0) return -EINVAL;
  return base + offset;
}

// Mirrors drivers/dma-buf/dma-buf.c:dma_buf_ioctl() @ v4.6: the flags are copied in before they are checked.
// Divergence: the v4.6 handler is always in dma_buf_fops; on a machine whose kernel predates it
// (phys_mem::dma_buf_ioctl false, an ION profile without the dma_buf_sync switch) it answers every command with
// ENOTTY before touching the argument, as vfs_ioctl() does for v4.4's dma_buf_fops, which have no unlocked_ioctl.
long dma_buf_ioctl(struct file* file, unsigned int cmd, unsigned long arg) {
  struct dma_buf* dmabuf = static_cast<struct dma_buf*>(file->private_data);
  const struct task_struct* task = get_current();
  if (task != nullptr && task->mm != nullptr && task->mm->mem != nullptr && !task->mm->mem->dma_buf_ioctl) {
    return -ENOTTY;
  }

  switch (cmd) {
    case DMA_BUF_IOCTL_SYNC: {
      struct dma_buf_sync sync;
      if (copy_from_user(&sync, arg, sizeof(sync)) != 0) return -EFAULT;

      if (sync.flags & ~DMA_BUF_SYNC_VALID_FLAGS_MASK) return -EINVAL;

      enum dma_data_direction direction;
      switch (sync.flags & DMA_BUF_SYNC_RW) {
        case DMA_BUF_SYNC_READ:
          direction = DMA_FROM_DEVICE;
          break;
        case DMA_BUF_SYNC_WRITE:
          direction = DMA_TO_DEVICE;
          break;
        case DMA_BUF_SYNC_RW:
          direction = DMA_BIDIRECTIONAL;
          break;
        default:
          return -EINVAL;
      }

      // START and END are independent calls: nothing checks that an END follows a START.
      const Errno ret = (sync.flags & DMA_BUF_SYNC_END) ? dma_buf_end_cpu_access(dmabuf, direction)
                                                        : dma_buf_begin_cpu_access(dmabuf, direction);
      return ret.kernel_ret();
    }
    default:
      return -ENOTTY;
  }
}

}  // namespace

// Mirrors drivers/dma-buf/dma-buf.c:is_dma_buf_file() @ v4.4.
bool is_dma_buf_file(const struct file* file) { return file->f_op == &dma_buf_fops; }

// Mirrors drivers/dma-buf/dma-buf.c:dma_buf_export() @ v4.4.
ErrnoOr<struct dma_buf*> dma_buf_export(const struct dma_buf_export_info* exp_info) {
  if (WARN_ON(!exp_info->priv || !exp_info->ops || !exp_info->ops->map_dma_buf || !exp_info->ops->unmap_dma_buf ||
              !exp_info->ops->release || !exp_info->ops->kmap_atomic || !exp_info->ops->kmap ||
              !exp_info->ops->mmap)) {
    return Errno(-EINVAL);
  }

  struct dma_buf* dmabuf = kzalloc<struct dma_buf>(GFP_KERNEL);
  if (dmabuf == nullptr) return Errno(-ENOMEM);

  dmabuf->priv = exp_info->priv;
  dmabuf->ops = exp_info->ops;
  dmabuf->size = exp_info->size;
  dmabuf->exp_name = exp_info->exp_name;

  ErrnoOr<struct file*> file =
      anon_inode_getfile("dmabuf", &dma_buf_fops, dmabuf, static_cast<unsigned int>(exp_info->flags));
  if (!file.ok()) {
    kfree(dmabuf);
    return file.error();
  }
  (*file)->f_mode |= FMODE_LSEEK;
  dmabuf->file = *file;

  mutex_init(&dmabuf->lock, "dmabuf->lock");
  mutex_lock(&dmabuf->lock);
  INIT_LIST_HEAD(&dmabuf->attachments);
  mutex_unlock(&dmabuf->lock);

  struct dma_buf_list* list = db_list();
  mutex_lock(&list->lock);
  list_add(&dmabuf->list_node, &list->head);
  mutex_unlock(&list->lock);

  return dmabuf;
}

// Mirrors drivers/dma-buf/dma-buf.c:dma_buf_fd() @ v4.4.
ErrnoOr<int> dma_buf_fd(struct dma_buf* dmabuf, int flags) {
  if (dmabuf == nullptr || dmabuf->file == nullptr) return Errno(-EINVAL);

  ION_ASSIGN_OR_RETURN(const int fd, get_unused_fd_flags(static_cast<unsigned int>(flags)));
  fd_install(static_cast<unsigned int>(fd), dmabuf->file);
  return fd;
}

// Mirrors drivers/dma-buf/dma-buf.c:dma_buf_get() @ v4.4.
ErrnoOr<struct dma_buf*> dma_buf_get(int fd) {
  struct file* file = fget(static_cast<unsigned int>(fd));
  if (file == nullptr) return Errno(-EBADF);

  if (!is_dma_buf_file(file)) {
    fput(file);
    return Errno(-EINVAL);
  }
  return static_cast<struct dma_buf*>(file->private_data);
}

// Mirrors drivers/dma-buf/dma-buf.c:dma_buf_put() @ v4.4.
void dma_buf_put(struct dma_buf* dmabuf) {
  if (WARN_ON(!dmabuf || !dmabuf->file)) return;
  fput(dmabuf->file);
}

// Mirrors include/linux/dma-buf.h:get_dma_buf() @ v4.4.
void get_dma_buf(struct dma_buf* dmabuf) { get_file(dmabuf->file); }

// Mirrors drivers/dma-buf/dma-buf.c:dma_buf_attach() @ v4.4.
ErrnoOr<struct dma_buf_attachment*> dma_buf_attach(struct dma_buf* dmabuf, struct device* dev) {
  if (WARN_ON(!dmabuf || !dev)) return Errno(-EINVAL);

  struct dma_buf_attachment* attach = kzalloc<struct dma_buf_attachment>(GFP_KERNEL);
  if (attach == nullptr) return Errno(-ENOMEM);

  attach->dev = dev;
  attach->dmabuf = dmabuf;

  mutex_lock(&dmabuf->lock);
  if (dmabuf->ops->attach != nullptr) {
    const int ret = dmabuf->ops->attach(dmabuf, dev, attach);
    if (ret != 0) {
      kfree(attach);
      mutex_unlock(&dmabuf->lock);
      return Errno(ret);
    }
  }
  list_add(&attach->node, &dmabuf->attachments);
  mutex_unlock(&dmabuf->lock);
  return attach;
}

// Mirrors drivers/dma-buf/dma-buf.c:dma_buf_detach() @ v4.4.
void dma_buf_detach(struct dma_buf* dmabuf, struct dma_buf_attachment* attach) {
  if (WARN_ON(!dmabuf || !attach)) return;

  mutex_lock(&dmabuf->lock);
  list_del(&attach->node);
  if (dmabuf->ops->detach != nullptr) dmabuf->ops->detach(dmabuf, attach);
  mutex_unlock(&dmabuf->lock);
  kfree(attach);
}

// Mirrors drivers/dma-buf/dma-buf.c:dma_buf_map_attachment() @ v4.4: the exporter runs without dmabuf->lock, and
// a NULL table from it is -ENOMEM.
ErrnoOr<struct sg_table*> dma_buf_map_attachment(struct dma_buf_attachment* attach, enum dma_data_direction dir) {
  if (WARN_ON(!attach || !attach->dmabuf)) return Errno(-EINVAL);

  ErrnoOr<struct sg_table*> sg_table = attach->dmabuf->ops->map_dma_buf(attach, dir);
  if (sg_table.ok() && *sg_table == nullptr) return Errno(-ENOMEM);
  return sg_table;
}

// Mirrors drivers/dma-buf/dma-buf.c:dma_buf_unmap_attachment() @ v4.4.
void dma_buf_unmap_attachment(struct dma_buf_attachment* attach, struct sg_table* sg_table,
                              enum dma_data_direction dir) {
  if (WARN_ON(!attach || !attach->dmabuf || !sg_table)) return;
  attach->dmabuf->ops->unmap_dma_buf(attach, sg_table, dir);
}

// Mirrors drivers/dma-buf/dma-buf.c:dma_buf_begin_cpu_access() @ v4.6.
Errno dma_buf_begin_cpu_access(struct dma_buf* dmabuf, enum dma_data_direction dir) {
  if (WARN_ON(!dmabuf)) return Errno(-EINVAL);

  int ret = 0;
  if (dmabuf->ops->begin_cpu_access != nullptr) ret = dmabuf->ops->begin_cpu_access(dmabuf, dir);
  return Errno(ret);
}

// Mirrors drivers/dma-buf/dma-buf.c:dma_buf_end_cpu_access() @ v4.6: WARNs on NULL and then oopses on it.
Errno dma_buf_end_cpu_access(struct dma_buf* dmabuf, enum dma_data_direction dir) {
  if (WARN_ON(!dmabuf)) null_dmabuf_oops(__func__);

  int ret = 0;
  if (dmabuf->ops->end_cpu_access != nullptr) ret = dmabuf->ops->end_cpu_access(dmabuf, dir);
  return Errno(ret);
}

// Mirrors drivers/dma-buf/dma-buf.c:dma_buf_kmap() @ v4.4: page_num is the exporter's to check.
void* dma_buf_kmap(struct dma_buf* dmabuf, unsigned long page_num) {
  if (WARN_ON(!dmabuf)) null_dmabuf_oops(__func__);
  return dmabuf->ops->kmap(dmabuf, page_num);
}

// Mirrors drivers/dma-buf/dma-buf.c:dma_buf_kunmap() @ v4.4.
void dma_buf_kunmap(struct dma_buf* dmabuf, unsigned long page_num, void* vaddr) {
  if (WARN_ON(!dmabuf)) null_dmabuf_oops(__func__);
  if (dmabuf->ops->kunmap != nullptr) dmabuf->ops->kunmap(dmabuf, page_num, vaddr);
}

// Mirrors drivers/dma-buf/dma-buf.c:dma_buf_mmap() @ v4.4: on success the vma holds a reference to the dma-buf's
// file instead of its old one; on failure the old file is put back (vm_pgoff keeps the new value, as upstream).
Errno dma_buf_mmap(struct dma_buf* dmabuf, struct vm_area_struct* vma, unsigned long pgoff) {
  if (WARN_ON(!dmabuf || !vma)) return Errno(-EINVAL);

  const unsigned long pages = vma_pages(vma);
  if (pgoff + pages < pgoff) return Errno(-EOVERFLOW);
  if (pgoff + pages > dmabuf->size >> PAGE_SHIFT) return Errno(-EINVAL);

  get_file(dmabuf->file);
  struct file* oldfile = vma->vm_file;
  vma->vm_file = dmabuf->file;
  vma->vm_pgoff = pgoff;

  const int ret = dmabuf->ops->mmap(dmabuf, vma);
  if (ret != 0) {
    vma->vm_file = oldfile;
    fput(dmabuf->file);
  } else if (oldfile != nullptr) {
    fput(oldfile);
  }
  return Errno(ret);
}

// Mirrors drivers/dma-buf/dma-buf.c:dma_buf_vmap() @ v4.4.
void* dma_buf_vmap(struct dma_buf* dmabuf) {
  if (WARN_ON(!dmabuf)) return nullptr;
  if (dmabuf->ops->vmap == nullptr) return nullptr;

  void* ptr;
  mutex_lock(&dmabuf->lock);
  if (dmabuf->vmapping_counter != 0) {
    dmabuf->vmapping_counter++;
    BUG_ON(!dmabuf->vmap_ptr);
    ptr = dmabuf->vmap_ptr;
  } else {
    BUG_ON(dmabuf->vmap_ptr);
    ptr = dmabuf->ops->vmap(dmabuf);
    if (WARN_ON_ONCE(is_err_ptr(ptr))) ptr = nullptr;
    if (ptr != nullptr) {
      dmabuf->vmap_ptr = ptr;
      dmabuf->vmapping_counter = 1;
    }
  }
  mutex_unlock(&dmabuf->lock);
  return ptr;
}

// Mirrors drivers/dma-buf/dma-buf.c:dma_buf_vunmap() @ v4.4.
void dma_buf_vunmap(struct dma_buf* dmabuf, void* vaddr) {
  if (WARN_ON(!dmabuf)) return;

  mutex_lock(&dmabuf->lock);
  // Divergence: the three BUG_ONs run under dmabuf->lock; upstream reads the fields just before taking it,
  // which a concurrent dma_buf_vmap() would race with.
  BUG_ON(!dmabuf->vmap_ptr);
  BUG_ON(dmabuf->vmapping_counter == 0);
  BUG_ON(dmabuf->vmap_ptr != vaddr);

  if (--dmabuf->vmapping_counter == 0) {
    if (dmabuf->ops->vunmap != nullptr) dmabuf->ops->vunmap(dmabuf, vaddr);
    dmabuf->vmap_ptr = nullptr;
  }
  mutex_unlock(&dmabuf->lock);
}

void dma_buf_for_each(void (*fn)(struct dma_buf* dmabuf, void* data), void* data) {
  struct dma_buf_list* list = db_list();
  mutex_lock(&list->lock);
  struct dma_buf* dmabuf;
  list_for_each_entry(dmabuf, &list->head, list_node) fn(dmabuf, data);
  mutex_unlock(&list->lock);
}

size_t dma_buf_count() {
  struct dma_buf_list* list = db_list();
  size_t count = 0;
  mutex_lock(&list->lock);
  struct list_head* pos;
  list_for_each(pos, &list->head) ++count;
  mutex_unlock(&list->lock);
  return count;
}

}  // namespace ionsim::kernel
