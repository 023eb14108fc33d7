// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Files, fd tables and the file-level system calls, as fs/file.c, fs/file_table.c, fs/open.c, fs/ioctl.c,
// fs/read_write.c, fs/anon_inodes.c and drivers/char/misc.c @ v4.4 shape them for a driver:
//   - a struct file is refcounted by f_count; the last fput() calls f_op->release() and frees the file;
//   - every task has a files_struct; a new fd is the lowest free one (get_unused_fd_flags), O_CLOEXEC is kept
//     per fd, the table holds at most RLIMIT_NOFILE (1024) fds and running out is -EMFILE;
//   - anon_inode_getfile() makes the file a dma-buf lives in;
//   - misc_register() makes /dev/<name> openable; sys_open() also opens debugfs files under /sys/kernel/debug/;
//   - sys_ioctl() returns what the driver returned, with -ENOIOCTLCMD turned into -ENOTTY as the VFS does, after
//     the generic commands do_vfs_ioctl() answers itself (FIOCLEX, FIONBIO, FIGETBSZ...).
// System calls act for get_current() (sched.h): the backend sets the current task before calling them. A system
// call with no current task, or for a task that has exited, is a BUG.
//
// The last fput() of a file queues its release with task_work_add() (task_work.h): it runs when the system call
// returns, or in do_exit() after exit_files(), newest first, as v4.4.
#ifndef MODEL_KERNEL_FS_H_
#define MODEL_KERNEL_FS_H_

#include <atomic>
#include <cstddef>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "model/kernel/err.h"
#include "model/kernel/list.h"
#include "model/kernel/lock.h"
#include "model/kernel/task_work.h"

namespace ionsim::kernel {

using loff_t = long long;
using ssize_t = long;
// A userspace address (void __user *): never dereferenced by the model, only passed to uaccess.h.
using user_ptr_t = unsigned long;

// Mirrors include/uapi/asm-generic/fcntl.h @ v4.4.
inline constexpr unsigned int O_RDONLY = 00;
inline constexpr unsigned int O_WRONLY = 01;
inline constexpr unsigned int O_RDWR = 02;
inline constexpr unsigned int O_ACCMODE = 03;
inline constexpr unsigned int O_NONBLOCK = 04000;
inline constexpr unsigned int FASYNC = 020000;
inline constexpr unsigned int O_CLOEXEC = 02000000;
// Mirrors include/linux/fs.h:FMODE_READ/FMODE_WRITE @ v4.4.
inline constexpr unsigned int FMODE_READ = 0x1;
inline constexpr unsigned int FMODE_WRITE = 0x2;
// Mirrors include/linux/fs.h:FMODE_LSEEK @ v4.4: lseek() reaches f_op->llseek only when set. do_dentry_open()
// sets it for every file opened by path; anon_inode_getfile() does not, so an exporter that wants lseek sets it
// (dma_buf_export() does).
inline constexpr unsigned int FMODE_LSEEK = 0x4;
// Mirrors include/linux/fs.h:OPEN_FMODE() @ v4.4: O_RDONLY reads, O_WRONLY writes, O_RDWR both, 3 neither.
inline constexpr unsigned int OPEN_FMODE(unsigned int flags) { return (flags + 1) & O_ACCMODE; }
// Mirrors include/uapi/asm-generic/resource.h:INR_OPEN_CUR @ v4.4: the default RLIMIT_NOFILE.
inline constexpr unsigned int NR_OPEN_DEFAULT_LIMIT = 1024;

struct file;
struct inode;
struct vm_area_struct;

// Mirrors include/linux/fs.h:struct file_operations @ v4.4, the members the model's drivers use. Every member
// may be NULL.
struct file_operations {
  ssize_t (*read)(struct file* file, user_ptr_t buf, size_t count, loff_t* pos);
  ssize_t (*write)(struct file* file, user_ptr_t buf, size_t count, loff_t* pos);
  loff_t (*llseek)(struct file* file, loff_t offset, int whence);
  long (*unlocked_ioctl)(struct file* file, unsigned int cmd, unsigned long arg);
  int (*mmap)(struct file* file, struct vm_area_struct* vma);
  int (*open)(struct inode* inode, struct file* file);
  int (*release)(struct inode* inode, struct file* file);
};

// Mirrors include/linux/fs.h:struct inode @ v4.4, reduced to what drivers read: i_private (debugfs data) and
// the device a char-device inode stands for.
struct inode {
  void* i_private;
  void* i_cdev_private;  // the struct miscdevice of a /dev node
  const char* name;      // "anon_inode:dmabuf", "/dev/ion", "/sys/kernel/debug/ion/heaps/system"...
  unsigned int i_mode;   // S_IFCHR, S_IFREG or S_IFDIR; no type bits for an anonymous inode, as upstream
};

// Mirrors include/linux/fs.h:struct file @ v4.4.
struct file {
  std::atomic<long> f_count{0};
  const struct file_operations* f_op = nullptr;
  struct inode* f_inode = nullptr;
  unsigned int f_flags = 0;  // O_* flags given to open
  unsigned int f_mode = 0;   // FMODE_*
  loff_t f_pos = 0;
  void* private_data = nullptr;
  // Divergence: the inode an anonymous or device file owns (v4.4 shares one anon inode and keeps device inodes
  // in the dcache).
  bool owns_inode = false;
  struct callback_head f_u;  // the release queued by the last fput() (f_u.fu_rcuhead upstream)
};

// Mirrors include/linux/fs.h:get_file() @ v4.4.
struct file* get_file(struct file* file);
// Mirrors fs/file_table.c:fput() @ v4.4: the last reference queues the release (f_op->release(), then the file
// is freed) on the current task's task_work; with no current task (a kernel thread) it releases at once.
void fput(struct file* file);
// Mirrors include/linux/fs.h:file_inode() @ v4.4.
inline struct inode* file_inode(const struct file* file) { return file->f_inode; }
// Mirrors fs/anon_inodes.c:anon_inode_getfile() @ v4.4: a new file with f_count 1 and the given private data;
// -ENOMEM when the allocation fails. flags are O_* (O_ACCMODE decides f_mode); f_flags keeps only O_ACCMODE and
// O_NONBLOCK, and f_mode has no FMODE_LSEEK.
ErrnoOr<struct file*> anon_inode_getfile(const char* name, const struct file_operations* fops, void* priv,
                                         unsigned int flags);

// Mirrors include/linux/fdtable.h:struct files_struct @ v4.4 (one flat table; no RCU).
struct files_struct {
  std::atomic<int> count{1};
  spinlock_t file_lock;
  std::vector<struct file*> fd ABSL_GUARDED_BY(file_lock);        // NULL: free
  std::vector<bool> close_on_exec ABSL_GUARDED_BY(file_lock);
  std::vector<bool> reserved ABSL_GUARDED_BY(file_lock);          // allocated by get_unused_fd, not installed
  unsigned int max_fds = NR_OPEN_DEFAULT_LIMIT;                   // RLIMIT_NOFILE
};

// A new, empty table (count 1).
struct files_struct* files_create();
// Mirrors kernel/fork.c:copy_files() -> fs/file.c:dup_fd() @ v4.4: a copy sharing every open file (each gets a
// reference), close-on-exec flags included.
ErrnoOr<struct files_struct*> dup_fd(struct files_struct* old);
// Mirrors fs/file.c:put_files_struct() @ v4.4: the last reference closes every fd (lowest first) and frees it.
void put_files_struct(struct files_struct* files);

// The following act on get_current()->files.
// Mirrors fs/file.c:get_unused_fd_flags() @ v4.4: the lowest free fd, reserved; -EMFILE when none is left.
ErrnoOr<int> get_unused_fd_flags(unsigned int flags);
// Mirrors fs/file.c:put_unused_fd() @ v4.4.
void put_unused_fd(unsigned int fd);
// Mirrors fs/file.c:fd_install() @ v4.4: the fd takes over the caller's file reference.
void fd_install(unsigned int fd, struct file* file);
// Mirrors fs/file.c:fget() @ v4.4: the file with a new reference, or NULL for an fd that is not open.
struct file* fget(unsigned int fd);
// Mirrors fs/file.c:set_close_on_exec() @ v4.4 (fcntl F_SETFD, ioctl FIOCLEX/FIONCLEX); an fd that is not open is
// ignored.
void set_close_on_exec(unsigned int fd, int flag);
// Mirrors fs/file.c:get_close_on_exec() @ v4.4 (fcntl F_GETFD): whether fd is close-on-exec.
bool get_close_on_exec(unsigned int fd);
// Mirrors fs/file.c:__close_fd() @ v4.4: -EBADF when fd is not open.
Errno __close_fd(struct files_struct* files, unsigned int fd);
// Mirrors fs/file.c:replace_fd()'s use by SCM_RIGHTS (net/core/scm.c:scm_detach_fds @ v4.4): installs a new
// reference to file at the lowest free fd of the given table; -EMFILE when full.
ErrnoOr<int> receive_fd(struct files_struct* files, struct file* file, unsigned int flags);
// The open fds of a table, ascending, for dumps and tests.
std::vector<int> files_open_fds(struct files_struct* files);

// Mirrors include/linux/miscdevice.h:struct miscdevice @ v4.4.
struct miscdevice {
  int minor;
  const char* name;
  const struct file_operations* fops;
  struct list_head list;
};
inline constexpr int MISC_DYNAMIC_MINOR = 255;
// Mirrors drivers/char/misc.c:misc_register() @ v4.4. MISC_DYNAMIC_MINOR takes the highest free minor below 64
// (63, 62, ...); -EBUSY when none is left or a fixed minor is taken. A name (or, for a dynamic minor, a 10:minor
// pair) that is already registered fails in device_create() with -EEXIST and sysfs' WARNs.
Errno misc_register(struct miscdevice* misc);
// Mirrors drivers/char/misc.c:misc_deregister() @ v4.4.
void misc_deregister(struct miscdevice* misc);

// System calls for get_current(). Each returns what the syscall returns to userspace.
// Mirrors fs/open.c:do_sys_open() @ v4.4: "/dev/<misc name>" or "/sys/kernel/debug/<path>"; -ENOENT otherwise.
// The fd is taken before the path is walked, so a full table is -EMFILE whatever the path. A misc file's
// private_data is its struct miscdevice until the driver's open() replaces it, and the driver's open() runs with
// misc_mtx held, as misc_open() runs it. A failed open() frees the file without release().
ErrnoOr<int> sys_open(const char* path, unsigned int flags);
// Mirrors fs/open.c:SYSCALL_DEFINE1(close) @ v4.4.
Errno sys_close(unsigned int fd);
// Mirrors fs/file.c:SYSCALL_DEFINE1(dup) @ v4.4: -EBADF, -EMFILE; the new fd is not close-on-exec.
ErrnoOr<int> sys_dup(unsigned int fd);
// Mirrors fs/ioctl.c:SYSCALL_DEFINE3(ioctl) @ v4.4: -EBADF; -ENOTTY without unlocked_ioctl or for
// -ENOIOCTLCMD. Returns the driver's non-negative result.
ErrnoOr<long> sys_ioctl(unsigned int fd, unsigned int cmd, unsigned long arg);
// Mirrors fs/read_write.c:SYSCALL_DEFINE3(read) @ v4.4: -EBADF, -EINVAL without f_op->read.
ErrnoOr<ssize_t> sys_read(unsigned int fd, user_ptr_t buf, size_t count);
// Mirrors fs/read_write.c:SYSCALL_DEFINE3(write) @ v4.4.
ErrnoOr<ssize_t> sys_write(unsigned int fd, user_ptr_t buf, size_t count);
// Mirrors fs/read_write.c:SYSCALL_DEFINE3(lseek) @ v4.4: -EINVAL for whence above SEEK_MAX; -ESPIPE without
// FMODE_LSEEK or f_op->llseek.
ErrnoOr<loff_t> sys_lseek(unsigned int fd, loff_t offset, int whence);

// The file-level halves of read(2), write(2) and lseek(2), for kernel callers holding a file reference.
// Mirrors fs/read_write.c:vfs_read() @ v4.4: -EBADF without FMODE_READ, -EINVAL without f_op->read, -EFAULT for a
// user range beyond TASK_SIZE (outside a kernel_ds_scope), -EINVAL for a negative position; count is capped at
// MAX_RW_COUNT.
ErrnoOr<ssize_t> vfs_read(struct file* file, user_ptr_t buf, size_t count, loff_t* pos);
// Mirrors fs/read_write.c:vfs_write() @ v4.4.
ErrnoOr<ssize_t> vfs_write(struct file* file, user_ptr_t buf, size_t count, loff_t* pos);
// Mirrors fs/read_write.c:vfs_llseek() @ v4.4.
loff_t vfs_llseek(struct file* file, loff_t offset, int whence);

// Mirrors include/uapi/asm-generic/ioctls.h and include/uapi/linux/fs.h @ v4.4: the commands do_vfs_ioctl() and
// file_ioctl() answer before the driver sees them.
inline constexpr unsigned int FIBMAP = 1;
inline constexpr unsigned int FIGETBSZ = 2;
inline constexpr unsigned int FIONREAD = 0x541B;
inline constexpr unsigned int FIONBIO = 0x5421;
inline constexpr unsigned int FIONCLEX = 0x5450;
inline constexpr unsigned int FIOCLEX = 0x5451;
inline constexpr unsigned int FIOASYNC = 0x5452;
inline constexpr unsigned int FIOQSIZE = 0x5460;
inline constexpr unsigned int FIFREEZE = 0xC0045877;      // _IOWR('X', 119, int)
inline constexpr unsigned int FITHAW = 0xC0045878;        // _IOWR('X', 120, int)
inline constexpr unsigned int FS_IOC_FIEMAP = 0xC020660B;  // _IOWR('f', 11, struct fiemap)

// Mirrors fs/read_write.c:fixed_size_llseek() @ v4.4 (SEEK_SET, SEEK_CUR, SEEK_END; -EINVAL otherwise).
loff_t fixed_size_llseek(struct file* file, loff_t offset, int whence, loff_t size);

}  // namespace ionsim::kernel

#endif  // MODEL_KERNEL_FS_H_
