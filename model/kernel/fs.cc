// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "model/kernel/fs.h"

#include <sys/stat.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>

#include "model/kernel/bug.h"
#include "model/kernel/compiler.h"
#include "model/kernel/debugfs.h"
#include "model/kernel/gfp.h"
#include "model/kernel/mm.h"
#include "model/kernel/mm_user.h"
#include "model/kernel/sched.h"
#include "model/kernel/slab.h"

namespace ionsim::kernel {
namespace {

// Mirrors include/uapi/linux/fs.h:SEEK_MAX @ v4.4 (SEEK_HOLE).
constexpr unsigned int kSeekMax = 4;
// Mirrors include/linux/fs.h:MAX_RW_COUNT @ v4.4.
constexpr size_t kMaxRwCount = static_cast<size_t>(INT_MAX) & PAGE_MASK;
// Mirrors drivers/char/misc.c:DYNAMIC_MINORS @ v4.4.
constexpr int kDynamicMinors = 64;
// The block size of every filesystem the model's files live on (devtmpfs, anon_inodefs, debugfs): PAGE_SIZE.
constexpr int kBlockSize = static_cast<int>(PAGE_SIZE);

constexpr char kDevPrefix[] = "/dev/";
constexpr char kDebugfsMount[] = "/sys/kernel/debug";

// loff_t arithmetic wraps as the kernel's does (it builds with -fno-strict-overflow).
loff_t loff_add(loff_t a, loff_t b) {
  return static_cast<loff_t>(static_cast<unsigned long long>(a) + static_cast<unsigned long long>(b));
}

// An inode owned by one file (an anonymous or device file), with the storage of its name.
struct owned_inode {
  struct inode inode;
  std::string name;
};

struct inode* new_owned_inode(std::string name, unsigned int mode) {
  owned_inode* oi = kzalloc<owned_inode>(GFP_KERNEL);
  if (oi == nullptr) return nullptr;
  oi->name = std::move(name);
  oi->inode.name = oi->name.c_str();
  oi->inode.i_mode = mode;
  return &oi->inode;
}

void free_owned_inode(struct inode* inode) { kfree(container_of(inode, owned_inode, inode)); }

// Mirrors fs/file_table.c:__fput() @ v4.4.
void __fput(struct file* file) {
  struct inode* inode = file->f_inode;
  if (file->f_op != nullptr && file->f_op->release != nullptr) file->f_op->release(inode, file);
  const bool owns_inode = file->owns_inode;
  kfree(file);
  if (owns_inode) free_owned_inode(inode);
}

// Mirrors fs/open.c:filp_close() @ v4.4 (the model's files have no flush or locks).
void filp_close(struct file* file) { fput(file); }

// current->files for a system call; BUG without a live task.
struct files_struct* current_files(const char* caller) {
  struct task_struct* task = get_current();
  if (task == nullptr) {
    bug_slowpath(__FILE__, __LINE__, caller, "%s() called with no current task", caller);
  }
  if (task->exited) {
    bug_slowpath(__FILE__, __LINE__, caller, "%s() called for task %d, which has exited", caller, task->pid);
  }
  if (task->files == nullptr) {
    bug_slowpath(__FILE__, __LINE__, caller, "BUG: unable to handle kernel NULL pointer dereference: %s() for "
                 "task %d after exit_files()", caller, task->pid);
  }
  return task->files;
}

bool fd_in_use(struct files_struct* files, unsigned int fd) ABSL_EXCLUSIVE_LOCKS_REQUIRED(files->file_lock) {
  return fd < files->fd.size() && (files->fd[fd] != nullptr || files->reserved[fd]);
}

// Mirrors fs/file.c:__alloc_fd() @ v4.4 with start 0 and end RLIMIT_NOFILE: the lowest fd neither installed nor
// reserved; -EMFILE at the limit.
ErrnoOr<int> alloc_fd_locked(struct files_struct* files, unsigned int flags)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(files->file_lock) {
  unsigned int fd = 0;
  while (fd_in_use(files, fd)) ++fd;
  if (fd >= files->max_fds) return Errno(-EMFILE);
  if (fd >= files->fd.size()) {
    files->fd.resize(fd + 1, nullptr);
    files->close_on_exec.resize(fd + 1, false);
    files->reserved.resize(fd + 1, false);
  }
  files->reserved[fd] = true;
  files->close_on_exec[fd] = (flags & O_CLOEXEC) != 0;
  return static_cast<int>(fd);
}

// Mirrors arch/x86/include/asm/uaccess.h:access_ok() @ v4.4: the range lies below the address limit (TASK_SIZE,
// or everything inside a kernel_ds_scope).
bool access_ok(user_ptr_t addr, size_t size) {
  if (uaccess_kernel()) return true;
  return size <= TASK_SIZE && addr <= TASK_SIZE - size;
}

// Mirrors fs/read_write.c:rw_verify_area() @ v4.4 (no FMODE_UNSIGNED_OFFSET files, no mandatory locks).
ErrnoOr<size_t> rw_verify_area(const loff_t* ppos, size_t count) {
  if (static_cast<ssize_t>(count) < 0) return Errno(-EINVAL);
  const loff_t pos = *ppos;
  if (pos < 0) return Errno(-EINVAL);
  if (loff_add(pos, static_cast<loff_t>(count)) < 0) return Errno(-EINVAL);
  return std::min(count, kMaxRwCount);
}

ErrnoOr<ssize_t> ssize_result(ssize_t ret) {
  if (ret < 0) return Errno(static_cast<int>(ret));
  return ret;
}

// Mirrors include/asm-generic/uaccess.h:get_user() of an int @ v4.4.
int get_user_int(int* value, user_ptr_t uaddr) {
  return copy_from_user(value, uaddr, sizeof(*value)) != 0 ? -EFAULT : 0;
}

// Mirrors include/asm-generic/uaccess.h:put_user() of an int @ v4.4.
int put_user_int(int value, user_ptr_t uaddr) {
  return copy_to_user(uaddr, &value, sizeof(value)) != 0 ? -EFAULT : 0;
}

// Mirrors fs/ioctl.c:vfs_ioctl() @ v4.4. The driver's long is kept in an int, as upstream keeps it.
int vfs_ioctl(struct file* filp, unsigned int cmd, unsigned long arg) {
  if (filp->f_op == nullptr || filp->f_op->unlocked_ioctl == nullptr) return -ENOTTY;
  int error = static_cast<int>(filp->f_op->unlocked_ioctl(filp, cmd, arg));
  if (error == -ENOIOCTLCMD) error = -ENOTTY;
  return error;
}

// Mirrors fs/ioctl.c:ioctl_fionbio() @ v4.4.
int ioctl_fionbio(struct file* filp, user_ptr_t argp) {
  int on = 0;
  const int error = get_user_int(&on, argp);
  if (error != 0) return error;
  if (on != 0) {
    filp->f_flags |= O_NONBLOCK;
  } else {
    filp->f_flags &= ~O_NONBLOCK;
  }
  return 0;
}

// Mirrors fs/ioctl.c:ioctl_fioasync() @ v4.4. The model's file_operations have no fasync, so changing the
// FASYNC state is -ENOTTY.
int ioctl_fioasync(struct file* filp, user_ptr_t argp) {
  int on = 0;
  int error = get_user_int(&on, argp);
  if (error != 0) return error;
  const unsigned int flag = on != 0 ? FASYNC : 0;
  if (((flag ^ filp->f_flags) & FASYNC) != 0) error = -ENOTTY;
  return error < 0 ? error : 0;
}

// Mirrors fs/ioctl.c:file_ioctl() @ v4.4, for regular files (debugfs files).
// Divergence: the preallocation commands (FS_IOC_RESVSP and friends) reach the driver; no model file supports
// fallocate.
int file_ioctl(struct file* filp, unsigned int cmd, unsigned long arg) {
  switch (cmd) {
    case FIBMAP:
      // ioctl_fibmap(): debugfs' address_space has no bmap.
      return -EINVAL;
    case FIONREAD:
      // A debugfs inode's i_size is 0.
      return put_user_int(static_cast<int>(0 - filp->f_pos), arg);
    default:
      return vfs_ioctl(filp, cmd, arg);
  }
}

// Mirrors fs/ioctl.c:do_vfs_ioctl() @ v4.4. Tasks act with root's capabilities; none of the model's filesystems
// can freeze, has fiemap, or is frozen.
int do_vfs_ioctl(struct file* filp, unsigned int fd, unsigned int cmd, unsigned long arg) {
  const unsigned int mode = file_inode(filp)->i_mode;
  switch (cmd) {
    case FIOCLEX:
      set_close_on_exec(fd, 1);
      return 0;
    case FIONCLEX:
      set_close_on_exec(fd, 0);
      return 0;
    case FIONBIO:
      return ioctl_fionbio(filp, arg);
    case FIOASYNC:
      return ioctl_fioasync(filp, arg);
    case FIOQSIZE:
      if (S_ISDIR(mode) || S_ISREG(mode) || S_ISLNK(mode)) {
        const loff_t res = 0;  // inode_get_bytes(): nothing is stored on disk
        return copy_to_user(arg, &res, sizeof(res)) != 0 ? -EFAULT : 0;
      }
      return -ENOTTY;
    case FIFREEZE:
      // ioctl_fsfreeze(): no freeze_fs or freeze_super in the superblock.
      return -EOPNOTSUPP;
    case FITHAW:
      // ioctl_fsthaw() -> thaw_super() of a superblock that is not frozen.
      return -EINVAL;
    case FS_IOC_FIEMAP:
      // ioctl_fiemap(): no i_op->fiemap.
      return -EOPNOTSUPP;
    case FIGETBSZ:
      return put_user_int(kBlockSize, arg);
    default:
      if (S_ISREG(mode)) return file_ioctl(filp, cmd, arg);
      return vfs_ioctl(filp, cmd, arg);
  }
}

// ---- misc devices ------------------------------------------------------------------------------------------------

struct mutex misc_mtx = {.name = "misc_mtx"};
struct list_head misc_list ABSL_GUARDED_BY(misc_mtx) = LIST_HEAD_INIT(misc_list);
// Bit i set: dynamic minor DYNAMIC_MINORS - i - 1 is taken.
uint64_t misc_minors ABSL_GUARDED_BY(misc_mtx) = 0;

// Mirrors drivers/base/core.c:device_create() @ v4.4 as misc_register() meets it: the device's sysfs directory
// /sys/devices/virtual/misc/<name> and its /sys/dev/char/10:<minor> link must both be new, or device_add() fails
// with -EEXIST after sysfs and kobject WARN.
Errno misc_device_create(struct miscdevice* misc) ABSL_EXCLUSIVE_LOCKS_REQUIRED(misc_mtx) {
  struct miscdevice* c;
  list_for_each_entry(c, &misc_list, list) {
    if (std::strcmp(c->name, misc->name) == 0) {
      WARN(true, "sysfs: cannot create duplicate filename '/devices/virtual/misc/%s'", misc->name);
      WARN(true, "kobject_add_internal failed for %s with -EEXIST, don't try to register things with the same "
           "name in the same directory.", misc->name);
      return Errno(-EEXIST);
    }
  }
  list_for_each_entry(c, &misc_list, list) {
    if (c->minor == misc->minor) {
      WARN(true, "sysfs: cannot create duplicate filename '/dev/char/10:%d'", misc->minor);
      return Errno(-EEXIST);
    }
  }
  return Errno::Ok();
}

// Mirrors drivers/char/misc.c:misc_open() after the path walk found /dev/<name>, followed by fs/open.c:
// do_dentry_open(): misc_open() runs the driver's open with misc_mtx held; a failed open frees the file without
// release().
ErrnoOr<struct file*> misc_open_path(const char* name, unsigned int flags) {
  mutex_lock(&misc_mtx);
  struct miscdevice* found = nullptr;
  struct miscdevice* c;
  list_for_each_entry(c, &misc_list, list) {
    if (std::strcmp(c->name, name) == 0) {
      found = c;
      break;
    }
  }
  if (found == nullptr) {
    mutex_unlock(&misc_mtx);
    return Errno(-ENOENT);
  }
  if (found->fops == nullptr) {
    mutex_unlock(&misc_mtx);
    return Errno(-ENODEV);
  }
  struct inode* inode = new_owned_inode(std::string(kDevPrefix) + name, S_IFCHR | 0600);
  struct file* file = inode != nullptr ? kzalloc<struct file>(GFP_KERNEL) : nullptr;
  if (file == nullptr) {
    mutex_unlock(&misc_mtx);
    if (inode != nullptr) free_owned_inode(inode);
    return Errno(-ENOMEM);
  }
  inode->i_cdev_private = found;
  file->f_count.store(1, std::memory_order_relaxed);
  file->f_inode = inode;
  file->owns_inode = true;
  file->f_flags = flags;
  file->f_mode = OPEN_FMODE(flags) | FMODE_LSEEK;
  file->private_data = found;
  file->f_op = found->fops;
  int err = 0;
  if (file->f_op->open != nullptr) err = file->f_op->open(inode, file);
  mutex_unlock(&misc_mtx);
  if (err > 0) {
    bug_slowpath(__FILE__, __LINE__, __func__, "%s open() returned %d, neither 0 nor a -errno", name, err);
  }
  if (err != 0) {
    kfree(file);
    free_owned_inode(inode);
    return Errno(err);
  }
  return file;
}

// Mirrors fs/namei.c:do_filp_open() @ v4.4 for the paths the model knows.
ErrnoOr<struct file*> do_filp_open(const char* path, unsigned int flags) {
  const std::string p(path);
  const std::string dev(kDevPrefix);
  const std::string debug(kDebugfsMount);
  if (p.compare(0, dev.size(), dev) == 0 && p.size() > dev.size()) {
    return misc_open_path(p.c_str() + dev.size(), flags);
  }
  if (p == debug) return debugfs_open("", flags);
  if (p.compare(0, debug.size() + 1, debug + "/") == 0) return debugfs_open(p.substr(debug.size() + 1), flags);
  return Errno(-ENOENT);
}

}  // namespace

// Mirrors include/linux/fs.h:get_file() @ v4.4.
struct file* get_file(struct file* file) {
  file->f_count.fetch_add(1, std::memory_order_relaxed);
  return file;
}

namespace {

// Mirrors fs/file_table.c:____fput() @ v4.4.
void ____fput(struct callback_head* work) { __fput(container_of(work, struct file, f_u)); }

}  // namespace

// Mirrors fs/file_table.c:fput() @ v4.4: the last reference queues the release on the current task, which runs
// it on its way back to userspace (task_work.h).
void fput(struct file* file) {
  if (file->f_count.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  struct task_struct* task = get_current();
  if (task != nullptr) {
    init_task_work(&file->f_u, ____fput);
    if (!task_work_add(task, &file->f_u)) return;
    // After exit_task_work() the task takes no more work: the delayed list below.
  }
  // Divergence: a kernel thread's (or an exited task's) last fput goes to delayed_fput_list, which a workqueue
  // empties soon after; the model has no workqueue and releases at once.
  __fput(file);
}

// Mirrors fs/anon_inodes.c:anon_inode_getfile() @ v4.4.
// Divergence: each file owns an inode named after it (v4.4 shares the one anon_inode_inode).
ErrnoOr<struct file*> anon_inode_getfile(const char* name, const struct file_operations* fops, void* priv,
                                         unsigned int flags) {
  // alloc_anon_inode() gives the one anon inode S_IRUSR | S_IWUSR and no file type.
  struct inode* inode = new_owned_inode(std::string("anon_inode:") + name, S_IRUSR | S_IWUSR);
  if (inode == nullptr) return Errno(-ENOMEM);
  struct file* file = kzalloc<struct file>(GFP_KERNEL);
  if (file == nullptr) {
    free_owned_inode(inode);
    return Errno(-ENOMEM);
  }
  file->f_count.store(1, std::memory_order_relaxed);
  file->f_op = fops;
  file->f_inode = inode;
  file->owns_inode = true;
  file->f_mode = OPEN_FMODE(flags);
  file->f_flags = flags & (O_ACCMODE | O_NONBLOCK);
  file->private_data = priv;
  return file;
}

// An empty fd table for a new task (what init_files is to the first process).
struct files_struct* files_create() {
  struct files_struct* files = kzalloc<struct files_struct>(GFP_KERNEL);
  if (files == nullptr) return nullptr;
  spin_lock_init(&files->file_lock, "files->file_lock");
  return files;
}

// Mirrors fs/file.c:dup_fd() @ v4.4.
ErrnoOr<struct files_struct*> dup_fd(struct files_struct* old) {
  struct files_struct* newf = files_create();
  if (newf == nullptr) return Errno(-ENOMEM);
  newf->max_fds = old->max_fds;
  std::vector<struct file*> fds;
  std::vector<bool> cloexec;
  spin_lock(&old->file_lock);
  fds.assign(old->fd.size(), nullptr);
  cloexec.assign(old->fd.size(), false);
  for (size_t i = 0; i < old->fd.size(); ++i) {
    // An fd reserved by a sibling's open() in progress has no file yet: the copy does not inherit it.
    if (old->fd[i] == nullptr) continue;
    fds[i] = get_file(old->fd[i]);
    cloexec[i] = old->close_on_exec[i];
  }
  spin_unlock(&old->file_lock);
  spin_lock(&newf->file_lock);
  newf->reserved.assign(fds.size(), false);
  newf->fd = std::move(fds);
  newf->close_on_exec = std::move(cloexec);
  spin_unlock(&newf->file_lock);
  return newf;
}

// Mirrors fs/file.c:put_files_struct() -> close_files() @ v4.4.
void put_files_struct(struct files_struct* files) {
  if (files->count.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  // close_files(): every fd from the lowest up.
  for (size_t i = 0;; ++i) {
    spin_lock(&files->file_lock);
    if (i >= files->fd.size()) {
      spin_unlock(&files->file_lock);
      break;
    }
    struct file* file = std::exchange(files->fd[i], nullptr);
    spin_unlock(&files->file_lock);
    if (file != nullptr) filp_close(file);
  }
  kfree(files);
}

// Mirrors fs/file.c:get_unused_fd_flags() @ v4.4.
ErrnoOr<int> get_unused_fd_flags(unsigned int flags) {
  struct files_struct* files = current_files(__func__);
  spin_lock(&files->file_lock);
  ErrnoOr<int> fd = alloc_fd_locked(files, flags);
  spin_unlock(&files->file_lock);
  return fd;
}

// Mirrors fs/file.c:put_unused_fd() @ v4.4.
void put_unused_fd(unsigned int fd) {
  struct files_struct* files = current_files(__func__);
  spin_lock(&files->file_lock);
  if (fd < files->reserved.size()) files->reserved[fd] = false;
  spin_unlock(&files->file_lock);
}

// Mirrors fs/file.c:fd_install() -> __fd_install() @ v4.4.
void fd_install(unsigned int fd, struct file* file) {
  struct files_struct* files = current_files(__func__);
  spin_lock(&files->file_lock);
  if (fd >= files->fd.size()) {
    bug_slowpath(__FILE__, __LINE__, __func__, "fd_install(%u) of an fd that was never allocated", fd);
  }
  BUG_ON(files->fd[fd] != nullptr);
  files->fd[fd] = file;
  files->reserved[fd] = false;
  spin_unlock(&files->file_lock);
}

// Mirrors fs/file.c:fget() -> __fget() @ v4.4.
struct file* fget(unsigned int fd) {
  struct files_struct* files = current_files(__func__);
  spin_lock(&files->file_lock);
  struct file* file = fd < files->fd.size() ? files->fd[fd] : nullptr;
  if (file != nullptr) get_file(file);
  spin_unlock(&files->file_lock);
  return file;
}

// Mirrors fs/file.c:set_close_on_exec() @ v4.4.
void set_close_on_exec(unsigned int fd, int flag) {
  struct files_struct* files = current_files(__func__);
  spin_lock(&files->file_lock);
  if (fd < files->close_on_exec.size()) files->close_on_exec[fd] = flag != 0;
  spin_unlock(&files->file_lock);
}

// Mirrors fs/file.c:get_close_on_exec() @ v4.4.
bool get_close_on_exec(unsigned int fd) {
  struct files_struct* files = current_files(__func__);
  spin_lock(&files->file_lock);
  const bool res = fd < files->close_on_exec.size() && files->close_on_exec[fd];
  spin_unlock(&files->file_lock);
  return res;
}

// Mirrors fs/file.c:__close_fd() @ v4.4.
Errno __close_fd(struct files_struct* files, unsigned int fd) {
  spin_lock(&files->file_lock);
  if (fd >= files->fd.size() || files->fd[fd] == nullptr) {
    spin_unlock(&files->file_lock);
    return Errno(-EBADF);
  }
  struct file* file = std::exchange(files->fd[fd], nullptr);
  files->close_on_exec[fd] = false;
  spin_unlock(&files->file_lock);
  filp_close(file);
  return Errno::Ok();
}

// Mirrors net/core/scm.c:scm_detach_fds() @ v4.4 for one file: a new fd, then fd_install(get_file()).
ErrnoOr<int> receive_fd(struct files_struct* files, struct file* file, unsigned int flags) {
  spin_lock(&files->file_lock);
  ErrnoOr<int> fd = alloc_fd_locked(files, flags);
  if (fd.ok()) {
    files->fd[*fd] = get_file(file);
    files->reserved[*fd] = false;
  }
  spin_unlock(&files->file_lock);
  return fd;
}

// The installed fds of a table, ascending (what /proc/<pid>/fd lists).
std::vector<int> files_open_fds(struct files_struct* files) {
  std::vector<int> fds;
  spin_lock(&files->file_lock);
  for (size_t i = 0; i < files->fd.size(); ++i) {
    if (files->fd[i] != nullptr) fds.push_back(static_cast<int>(i));
  }
  spin_unlock(&files->file_lock);
  return fds;
}

// Mirrors drivers/char/misc.c:misc_register() @ v4.4.
ION_MODULE_INIT Errno misc_register(struct miscdevice* misc) {
  const bool is_dynamic = misc->minor == MISC_DYNAMIC_MINOR;
  INIT_LIST_HEAD(&misc->list);
  mutex_lock(&misc_mtx);
  if (is_dynamic) {
    const uint64_t free_bits = ~misc_minors;
    if (free_bits == 0) {
      mutex_unlock(&misc_mtx);
      return Errno(-EBUSY);
    }
    const int i = __builtin_ctzll(free_bits);
    misc->minor = kDynamicMinors - i - 1;
    misc_minors |= uint64_t{1} << i;
  } else {
    struct miscdevice* c;
    list_for_each_entry(c, &misc_list, list) {
      if (c->minor == misc->minor) {
        mutex_unlock(&misc_mtx);
        return Errno(-EBUSY);
      }
    }
  }
  const Errno err = misc_device_create(misc);
  if (!err.ok()) {
    if (is_dynamic) {
      const int i = kDynamicMinors - misc->minor - 1;
      if (i >= 0 && i < kDynamicMinors) misc_minors &= ~(uint64_t{1} << i);
      misc->minor = MISC_DYNAMIC_MINOR;
    }
    mutex_unlock(&misc_mtx);
    return err;
  }
  // At the front, so that later devices can override earlier ones.
  list_add(&misc->list, &misc_list);
  mutex_unlock(&misc_mtx);
  return Errno::Ok();
}

// Mirrors drivers/char/misc.c:misc_deregister() @ v4.4.
ION_MODULE_EXIT void misc_deregister(struct miscdevice* misc) {
  if (WARN_ON(list_empty(&misc->list))) return;
  mutex_lock(&misc_mtx);
  list_del(&misc->list);
  const int i = kDynamicMinors - misc->minor - 1;
  if (i >= 0 && i < kDynamicMinors) misc_minors &= ~(uint64_t{1} << i);
  mutex_unlock(&misc_mtx);
}

// Mirrors fs/open.c:do_sys_open() @ v4.4.
ErrnoOr<int> sys_open(const char* path, unsigned int flags) {
  syscall_return_work return_work;
  current_files(__func__);
  // build_open_flags(): O_CLOEXEC belongs to the fd, not to the file.
  const unsigned int file_flags = flags & ~O_CLOEXEC;
  ION_ASSIGN_OR_RETURN(const int fd, get_unused_fd_flags(flags));
  ErrnoOr<struct file*> file = do_filp_open(path, file_flags);
  if (!file.ok()) {
    put_unused_fd(static_cast<unsigned int>(fd));
    return file.error();
  }
  fd_install(static_cast<unsigned int>(fd), *file);
  return fd;
}

// Mirrors fs/open.c:SYSCALL_DEFINE1(close) @ v4.4.
Errno sys_close(unsigned int fd) {
  syscall_return_work return_work;
  return __close_fd(current_files(__func__), fd);
}

// Mirrors fs/file.c:SYSCALL_DEFINE1(dup) @ v4.4.
ErrnoOr<int> sys_dup(unsigned int fd) {
  syscall_return_work return_work;
  struct file* file = fget(fd);
  if (file == nullptr) return Errno(-EBADF);
  ErrnoOr<int> newfd = get_unused_fd_flags(0);
  if (newfd.ok()) {
    fd_install(static_cast<unsigned int>(*newfd), file);
  } else {
    fput(file);
  }
  return newfd;
}

// Mirrors fs/ioctl.c:SYSCALL_DEFINE3(ioctl) @ v4.4.
ErrnoOr<long> sys_ioctl(unsigned int fd, unsigned int cmd, unsigned long arg) {
  syscall_return_work return_work;
  struct file* file = fget(fd);
  if (file == nullptr) return Errno(-EBADF);
  const int error = do_vfs_ioctl(file, fd, cmd, arg);
  fput(file);
  if (error < 0) return Errno(error);
  return static_cast<long>(error);
}

// Mirrors fs/read_write.c:vfs_read() @ v4.4.
ErrnoOr<ssize_t> vfs_read(struct file* file, user_ptr_t buf, size_t count, loff_t* pos) {
  if ((file->f_mode & FMODE_READ) == 0) return Errno(-EBADF);
  if (file->f_op == nullptr || file->f_op->read == nullptr) return Errno(-EINVAL);
  if (!access_ok(buf, count)) return Errno(-EFAULT);
  ION_ASSIGN_OR_RETURN(const size_t n, rw_verify_area(pos, count));
  return ssize_result(file->f_op->read(file, buf, n, pos));
}

// Mirrors fs/read_write.c:vfs_write() @ v4.4.
ErrnoOr<ssize_t> vfs_write(struct file* file, user_ptr_t buf, size_t count, loff_t* pos) {
  if ((file->f_mode & FMODE_WRITE) == 0) return Errno(-EBADF);
  if (file->f_op == nullptr || file->f_op->write == nullptr) return Errno(-EINVAL);
  if (!access_ok(buf, count)) return Errno(-EFAULT);
  ION_ASSIGN_OR_RETURN(const size_t n, rw_verify_area(pos, count));
  return ssize_result(file->f_op->write(file, buf, n, pos));
}

// Mirrors fs/read_write.c:vfs_llseek() @ v4.4.
loff_t vfs_llseek(struct file* file, loff_t offset, int whence) {
  // no_llseek() unless the file is seekable and has the operation.
  if ((file->f_mode & FMODE_LSEEK) == 0 || file->f_op == nullptr || file->f_op->llseek == nullptr) {
    return -ESPIPE;
  }
  return file->f_op->llseek(file, offset, whence);
}

// Mirrors fs/read_write.c:SYSCALL_DEFINE3(read) @ v4.4.
ErrnoOr<ssize_t> sys_read(unsigned int fd, user_ptr_t buf, size_t count) {
  syscall_return_work return_work;
  struct file* file = fget(fd);
  if (file == nullptr) return Errno(-EBADF);
  loff_t pos = file->f_pos;
  ErrnoOr<ssize_t> ret = vfs_read(file, buf, count, &pos);
  if (ret.ok()) file->f_pos = pos;
  fput(file);
  return ret;
}

// Mirrors fs/read_write.c:SYSCALL_DEFINE3(write) @ v4.4.
ErrnoOr<ssize_t> sys_write(unsigned int fd, user_ptr_t buf, size_t count) {
  syscall_return_work return_work;
  struct file* file = fget(fd);
  if (file == nullptr) return Errno(-EBADF);
  loff_t pos = file->f_pos;
  ErrnoOr<ssize_t> ret = vfs_write(file, buf, count, &pos);
  if (ret.ok()) file->f_pos = pos;
  fput(file);
  return ret;
}

// Mirrors fs/read_write.c:SYSCALL_DEFINE3(lseek) @ v4.4.
ErrnoOr<loff_t> sys_lseek(unsigned int fd, loff_t offset, int whence) {
  syscall_return_work return_work;
  struct file* file = fget(fd);
  if (file == nullptr) return Errno(-EBADF);
  loff_t res = -EINVAL;
  if (static_cast<unsigned int>(whence) <= kSeekMax) res = vfs_llseek(file, offset, whence);
  fput(file);
  if (res < 0) return Errno(static_cast<int>(std::max<loff_t>(res, INT_MIN)));
  return res;
}

// Mirrors fs/read_write.c:fixed_size_llseek() @ v4.4.
loff_t fixed_size_llseek(struct file* file, loff_t offset, int whence, loff_t size) {
  // generic_file_llseek_size(file, offset, whence, size, size) for the three whences it accepts.
  switch (whence) {
    case SEEK_END:
      offset = loff_add(offset, size);
      break;
    case SEEK_CUR:
      // lseek(fd, 0, SEEK_CUR) only reports the position.
      if (offset == 0) return file->f_pos;
      offset = loff_add(file->f_pos, offset);
      break;
    case SEEK_SET:
      break;
    default:
      return -EINVAL;
  }
  // vfs_setpos().
  if (offset < 0 || offset > size) return -EINVAL;
  file->f_pos = offset;
  return offset;
}

}  // namespace ionsim::kernel
