// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// debugfs as fs/debugfs @ v4.4 offers it to a driver: directories and files in one tree under
// /sys/kernel/debug, each file with the driver's file_operations and an i_private pointer. sys_open() opens a
// file by path (fs.h); debugfs_read_file()/debugfs_write_file() are the same open, read/write, close done from
// a kernel context for tools and tests.
//
// Removal while open: a file removed while a struct file is open on it keeps its operations, but every later
// read, write, llseek, ioctl or mmap of that open file fails with -EIO, as debugfs' file-removal protection does
// since v4.7 (v4.4 had none: reading ION's client file after the client was destroyed is a use-after-free,
// reference ion.md section 5 item 9). The driver's release() still runs at the last close, and the removed entry
// is freed then. An open file's f_op carries only the operations the driver has, as v4.7's proxy does.
//
// Tasks act with root's capabilities: a file's mode bits never refuse an open. A directory opens for reading
// only (-EISDIR otherwise) and reading it is -EISDIR.
#ifndef MODEL_KERNEL_DEBUGFS_H_
#define MODEL_KERNEL_DEBUGFS_H_

#include <string>
#include <vector>

#include "model/kernel/err.h"
#include "model/kernel/fs.h"

namespace ionsim::kernel {

// Mirrors include/linux/dcache.h:struct dentry @ v4.4, as debugfs uses it.
struct dentry {
  const char* d_name;       // the last component of the inode's name, which holds its bytes
  struct dentry* d_parent;  // NULL for the debugfs root's children
  struct list_head d_child;    // in the parent's d_subdirs
  struct list_head d_subdirs;  // the children, in creation order
  bool is_dir;
  unsigned short mode;
  const struct file_operations* fops;
  struct inode* d_inode;  // i_private is the data given at creation
  bool removed;
  long open_count;        // struct files open on this file
};

// Mirrors fs/debugfs/inode.c:debugfs_create_dir() @ v4.4: NULL when the name exists in parent or on failure.
// A NULL parent means the debugfs root.
struct dentry* debugfs_create_dir(const char* name, struct dentry* parent);
// Mirrors fs/debugfs/inode.c:debugfs_create_file() @ v4.4: NULL when the name exists in parent or on failure.
struct dentry* debugfs_create_file(const char* name, unsigned short mode, struct dentry* parent, void* data,
                                   const struct file_operations* fops);
// Mirrors fs/debugfs/inode.c:debugfs_remove() @ v4.4: a file, or an empty directory; NULL is ignored.
void debugfs_remove(struct dentry* dentry);
// Mirrors fs/debugfs/inode.c:debugfs_remove_recursive() @ v4.4.
void debugfs_remove_recursive(struct dentry* dentry);

// The dentry at a path relative to /sys/kernel/debug ("ion/heaps/system"), or NULL.
struct dentry* debugfs_lookup(const std::string& path);
// The names in a debugfs directory ("" is the root), in creation order; -ENOENT for no such directory, -ENOTDIR
// for a file.
ErrnoOr<std::vector<std::string>> debugfs_list(const std::string& dir);

// Opens a debugfs file, reads it whole and closes it, from a kernel context (no task): the bytes a `cat` would
// print. -ENOENT for no such file, -EISDIR for a directory, otherwise the read's error.
ErrnoOr<std::string> debugfs_read_file(const std::string& path);
// Opens a debugfs file, writes text at offset 0 and closes it. -ENOENT, -EISDIR, -EINVAL without f_op->write,
// otherwise the write's error.
Errno debugfs_write_file(const std::string& path, const std::string& text);

// Internal to the VFS: opens a debugfs path for sys_open(). The returned file holds a reference. -ENOENT,
// -ENOTDIR, -EISDIR (a directory for writing), -ENOMEM, or the driver's open() error (the file is then freed
// without release(), as do_dentry_open() does).
ErrnoOr<struct file*> debugfs_open(const std::string& path, unsigned int flags);

}  // namespace ionsim::kernel

#endif  // MODEL_KERNEL_DEBUGFS_H_
