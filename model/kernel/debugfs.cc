// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "model/kernel/debugfs.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "model/kernel/bug.h"
#include "model/kernel/compiler.h"
#include "model/kernel/gfp.h"
#include "model/kernel/lock.h"
#include "model/kernel/mm_user.h"
#include "model/kernel/slab.h"
#include "model/kernel/task_work.h"

namespace ionsim::kernel {
namespace {

constexpr char kDebugfsMount[] = "/sys/kernel/debug";
// The chunk debugfs_read_file() reads at a time.
constexpr size_t kReadChunk = 4096;

// One debugfs entry: its dentry, its inode and, for a file, the driver's operations behind the removal check
// (the per-file full_proxy_fops of fs/debugfs/file.c @ v4.7, built once per entry here).
struct debugfs_node {
  struct dentry dentry;
  struct inode inode;
  struct file_operations proxy_fops;
  std::unique_ptr<char[]> path;  // the inode's name: "/sys/kernel/debug/ion/heaps/system"
  size_t path_len = 0;
};

// Gives n the name dir_path + "/" + name (just name when dir_path is NULL), which the inode and dentry point at.
// One allocation: the node is made on every client's creation.
void set_path(debugfs_node* n, const char* dir_path, size_t dir_len, const char* name) {
  const size_t name_len = std::strlen(name);
  const size_t prefix = dir_path == nullptr ? 0 : dir_len + 1;
  n->path_len = prefix + name_len;
  n->path.reset(new char[n->path_len + 1]);
  if (dir_path != nullptr) {
    std::memcpy(n->path.get(), dir_path, dir_len);
    n->path[dir_len] = '/';
  }
  std::memcpy(n->path.get() + prefix, name, name_len + 1);
  n->inode.name = n->path.get();
  n->dentry.d_name = n->path.get() + prefix;
}

// Serialises the tree and every entry's removed/open_count (the parent directory's i_mutex upstream).
struct mutex debugfs_mutex = {.name = "debugfs_mutex"};

// The mount's root directory: lives as long as the process, like the real mount.
debugfs_node* root_node() {
  static debugfs_node* const root = [] {
    debugfs_node* n = new debugfs_node();
    n->dentry.is_dir = true;
    n->dentry.mode = S_IFDIR | S_IRWXU;
    n->dentry.d_inode = &n->inode;
    n->inode.i_mode = n->dentry.mode;
    INIT_LIST_HEAD(&n->dentry.d_child);
    INIT_LIST_HEAD(&n->dentry.d_subdirs);
    set_path(n, nullptr, 0, kDebugfsMount);
    return n;
  }();
  return root;
}

// NULL is the root, as a NULL parent is for debugfs_create_*().
debugfs_node* node_of(struct dentry* dentry) {
  return dentry == nullptr ? root_node() : container_of(dentry, debugfs_node, dentry);
}

debugfs_node* file_node(struct file* file) { return container_of(file->f_inode, debugfs_node, inode); }

debugfs_node* find_child(debugfs_node* dir, const char* name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(debugfs_mutex) {
  struct dentry* child;
  list_for_each_entry(child, &dir->dentry.d_subdirs, d_child) {
    if (child->d_name[0] == name[0] && std::strcmp(child->d_name, name) == 0) return node_of(child);
  }
  return nullptr;
}

// Mirrors fs/namei.c:lookup_one_len() @ v4.4's checks of a name: not empty, ".", ".." or containing '/'.
bool valid_name(const char* name) {
  if (name == nullptr || name[0] == '\0') return false;
  if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) return false;  // "." or ".."
  return std::strchr(name, '/') == nullptr;
}

// Walks path ("ion/heaps/system", relative to the mount) from the root, as the path walk does: empty components
// and "." stay, ".." goes up; -ENOENT for a missing entry or ".." above the mount, -ENOTDIR for a component
// (or a trailing '/') that names a file.
Errno walk_locked(const std::string& path, debugfs_node** out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(debugfs_mutex) {
  debugfs_node* cur = root_node();
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    const std::string comp = path.substr(i, j - i);
    i = j + 1;
    if (comp.empty()) continue;
    if (!cur->dentry.is_dir) return Errno(-ENOTDIR);
    if (comp == ".") continue;
    if (comp == "..") {
      if (cur == root_node()) return Errno(-ENOENT);
      cur = node_of(cur->dentry.d_parent);
      continue;
    }
    debugfs_node* child = find_child(cur, comp.c_str());
    if (child == nullptr) return Errno(-ENOENT);
    cur = child;
  }
  if (!path.empty() && path.back() == '/' && !cur->dentry.is_dir) return Errno(-ENOTDIR);
  *out = cur;
  return Errno::Ok();
}

// Drops an open file's hold on its entry; the last one frees a removed entry.
void debugfs_node_put(debugfs_node* n) {
  mutex_lock(&debugfs_mutex);
  const bool free_it = --n->dentry.open_count == 0 && n->dentry.removed;
  mutex_unlock(&debugfs_mutex);
  if (free_it) kfree(n);
}

// Mirrors fs/debugfs/file.c:debugfs_use_file_start() @ v4.7: whether the file's entry is still in the tree.
// Divergence: removal does not wait for an operation already past this check (v4.7's synchronize_srcu).
bool debugfs_file_alive(struct file* file) {
  debugfs_node* n = file_node(file);
  mutex_lock(&debugfs_mutex);
  const bool alive = !n->dentry.removed;
  mutex_unlock(&debugfs_mutex);
  return alive;
}

const struct file_operations* real_fops(struct file* file) { return file_node(file)->dentry.fops; }

// Mirrors fs/debugfs/file.c:FULL_PROXY_FUNC(read) @ v4.7.
ssize_t full_proxy_read(struct file* file, user_ptr_t buf, size_t count, loff_t* pos) {
  if (!debugfs_file_alive(file)) return -EIO;
  return real_fops(file)->read(file, buf, count, pos);
}

// Mirrors fs/debugfs/file.c:FULL_PROXY_FUNC(write) @ v4.7.
ssize_t full_proxy_write(struct file* file, user_ptr_t buf, size_t count, loff_t* pos) {
  if (!debugfs_file_alive(file)) return -EIO;
  return real_fops(file)->write(file, buf, count, pos);
}

// Mirrors fs/debugfs/file.c:FULL_PROXY_FUNC(llseek) @ v4.7.
loff_t full_proxy_llseek(struct file* file, loff_t offset, int whence) {
  if (!debugfs_file_alive(file)) return -EIO;
  return real_fops(file)->llseek(file, offset, whence);
}

// Mirrors fs/debugfs/file.c:FULL_PROXY_FUNC(unlocked_ioctl) @ v4.7.
long full_proxy_unlocked_ioctl(struct file* file, unsigned int cmd, unsigned long arg) {
  if (!debugfs_file_alive(file)) return -EIO;
  return real_fops(file)->unlocked_ioctl(file, cmd, arg);
}

// Divergence: v4.7's proxy has no mmap (a debugfs file loses it); the model keeps v4.4's mmap behind the same
// removal check.
int full_proxy_mmap(struct file* file, struct vm_area_struct* vma) {
  if (!debugfs_file_alive(file)) return -EIO;
  return real_fops(file)->mmap(file, vma);
}

// Mirrors fs/debugfs/file.c:full_proxy_release() @ v4.7: the driver's release runs even after removal, so it
// frees what its open allocated.
int full_proxy_release(struct inode* inode, struct file* file) {
  debugfs_node* n = file_node(file);
  const struct file_operations* real = n->dentry.fops;
  int ret = 0;
  if (real->release != nullptr) ret = real->release(inode, file);
  debugfs_node_put(n);
  return ret;
}

// Mirrors fs/debugfs/file.c:full_proxy_open() @ v4.7: only the operations the driver has.
void build_proxy_fops(debugfs_node* n) {
  const struct file_operations* real = n->dentry.fops;
  struct file_operations* proxy = &n->proxy_fops;
  *proxy = {};
  if (real->read != nullptr) proxy->read = full_proxy_read;
  if (real->write != nullptr) proxy->write = full_proxy_write;
  if (real->llseek != nullptr) proxy->llseek = full_proxy_llseek;
  if (real->unlocked_ioctl != nullptr) proxy->unlocked_ioctl = full_proxy_unlocked_ioctl;
  if (real->mmap != nullptr) proxy->mmap = full_proxy_mmap;
  proxy->release = full_proxy_release;
}

// Mirrors fs/debugfs/file.c:default_read_file() @ v4.4.
ssize_t default_read_file(struct file* /*file*/, user_ptr_t /*buf*/, size_t /*count*/, loff_t* /*pos*/) {
  return 0;
}

// Mirrors fs/debugfs/file.c:default_write_file() @ v4.4.
ssize_t default_write_file(struct file* /*file*/, user_ptr_t /*buf*/, size_t count, loff_t* /*pos*/) {
  return static_cast<ssize_t>(count);
}

// Mirrors fs/libfs.c:simple_open() @ v4.4.
int simple_open(struct inode* inode, struct file* file) {
  if (inode->i_private != nullptr) file->private_data = inode->i_private;
  return 0;
}

// Mirrors fs/read_write.c:noop_llseek() @ v4.4.
loff_t noop_llseek(struct file* file, loff_t /*offset*/, int /*whence*/) { return file->f_pos; }

// Mirrors fs/debugfs/file.c:debugfs_file_operations @ v4.4: the operations of a file created with NULL fops.
const struct file_operations debugfs_file_operations = {
    .read = default_read_file,
    .write = default_write_file,
    .llseek = noop_llseek,
    .open = simple_open,
};

// Mirrors fs/libfs.c:generic_read_dir() @ v4.4.
ssize_t generic_read_dir(struct file* /*file*/, user_ptr_t /*buf*/, size_t /*count*/, loff_t* /*pos*/) {
  return -EISDIR;
}

// Mirrors fs/libfs.c:dcache_dir_lseek() @ v4.4 (SEEK_SET and SEEK_CUR to a non-negative position).
loff_t dcache_dir_lseek(struct file* file, loff_t offset, int whence) {
  if (whence == SEEK_CUR) {
    offset = static_cast<loff_t>(static_cast<unsigned long long>(offset) +
                                 static_cast<unsigned long long>(file->f_pos));
  } else if (whence != SEEK_SET) {
    return -EINVAL;
  }
  if (offset < 0) return -EINVAL;
  file->f_pos = offset;
  return offset;
}

// Mirrors fs/libfs.c:dcache_dir_close() @ v4.4.
int dcache_dir_close(struct inode* /*inode*/, struct file* file) {
  debugfs_node_put(file_node(file));
  return 0;
}

// Mirrors fs/libfs.c:simple_dir_operations @ v4.4 (no readdir: the model lists with debugfs_list()).
const struct file_operations debugfs_dir_operations = {
    .read = generic_read_dir,
    .llseek = dcache_dir_lseek,
    .release = dcache_dir_close,
};

// Mirrors fs/debugfs/inode.c:start_creating() + end_creating() @ v4.4.
struct dentry* debugfs_create(const char* name, unsigned short mode, struct dentry* parent, void* data,
                              const struct file_operations* fops, bool is_dir) {
  if (!valid_name(name)) return nullptr;
  mutex_lock(&debugfs_mutex);
  debugfs_node* dir = node_of(parent);
  if (!dir->dentry.is_dir || dir->dentry.removed || find_child(dir, name) != nullptr) {
    mutex_unlock(&debugfs_mutex);
    return nullptr;
  }
  debugfs_node* n = kzalloc<debugfs_node>(GFP_KERNEL);
  if (n == nullptr) {
    mutex_unlock(&debugfs_mutex);
    return nullptr;
  }
  n->dentry.d_parent = parent;
  n->dentry.is_dir = is_dir;
  n->dentry.mode = mode;
  n->dentry.fops = fops;
  n->dentry.d_inode = &n->inode;
  set_path(n, dir->path.get(), dir->path_len, name);
  n->inode.i_private = data;
  n->inode.i_mode = mode;
  if (!is_dir) build_proxy_fops(n);
  INIT_LIST_HEAD(&n->dentry.d_subdirs);
  list_add_tail(&n->dentry.d_child, &dir->dentry.d_subdirs);
  mutex_unlock(&debugfs_mutex);
  return &n->dentry;
}

// Mirrors fs/debugfs/inode.c:__debugfs_remove() @ v4.4 for an entry that may go: it leaves the tree at once;
// an entry no file holds is freed, others when their last file closes.
void unlink_locked(debugfs_node* n, std::vector<debugfs_node*>* to_free)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(debugfs_mutex) {
  list_del_init(&n->dentry.d_child);
  n->dentry.removed = true;
  n->dentry.d_parent = nullptr;
  if (n->dentry.open_count == 0) to_free->push_back(n);
}

void remove_recursive_locked(debugfs_node* n, std::vector<debugfs_node*>* to_free)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(debugfs_mutex) {
  while (!list_empty(&n->dentry.d_subdirs)) {
    remove_recursive_locked(node_of(list_last_entry(&n->dentry.d_subdirs, struct dentry, d_child)), to_free);
  }
  unlink_locked(n, to_free);
}

void free_nodes(const std::vector<debugfs_node*>& nodes) {
  for (debugfs_node* n : nodes) kfree(n);
}

}  // namespace

// Mirrors fs/debugfs/inode.c:debugfs_create_dir() @ v4.4.
struct dentry* debugfs_create_dir(const char* name, struct dentry* parent) {
  constexpr unsigned short kDirMode = S_IFDIR | S_IRWXU | S_IRGRP | S_IXGRP | S_IROTH | S_IXOTH;
  return debugfs_create(name, kDirMode, parent, nullptr, nullptr, true);
}

// Mirrors fs/debugfs/inode.c:debugfs_create_file() @ v4.4.
struct dentry* debugfs_create_file(const char* name, unsigned short mode, struct dentry* parent, void* data,
                                   const struct file_operations* fops) {
  if ((mode & S_IFMT) == 0) mode |= S_IFREG;
  BUG_ON(!S_ISREG(mode));
  return debugfs_create(name, mode, parent, data, fops != nullptr ? fops : &debugfs_file_operations, false);
}

// Mirrors fs/debugfs/inode.c:debugfs_remove() @ v4.4.
void debugfs_remove(struct dentry* dentry) {
  if (dentry == nullptr) return;
  std::vector<debugfs_node*> to_free;
  mutex_lock(&debugfs_mutex);
  debugfs_node* n = node_of(dentry);
  // simple_rmdir() refuses a directory that is not empty, and debugfs_remove() says nothing.
  if (!dentry->removed && !(dentry->is_dir && !list_empty(&dentry->d_subdirs))) unlink_locked(n, &to_free);
  mutex_unlock(&debugfs_mutex);
  free_nodes(to_free);
}

// Mirrors fs/debugfs/inode.c:debugfs_remove_recursive() @ v4.4.
void debugfs_remove_recursive(struct dentry* dentry) {
  if (dentry == nullptr) return;
  std::vector<debugfs_node*> to_free;
  mutex_lock(&debugfs_mutex);
  if (!dentry->removed) remove_recursive_locked(node_of(dentry), &to_free);
  mutex_unlock(&debugfs_mutex);
  free_nodes(to_free);
}

// The path walk below /sys/kernel/debug, for tools and tests.
struct dentry* debugfs_lookup(const std::string& path) {
  mutex_lock(&debugfs_mutex);
  debugfs_node* n = nullptr;
  const Errno err = walk_locked(path, &n);
  mutex_unlock(&debugfs_mutex);
  if (!err.ok() || n == root_node()) return nullptr;
  return &n->dentry;
}

// A directory's names, as ls lists them (creation order here).
ErrnoOr<std::vector<std::string>> debugfs_list(const std::string& dir) {
  mutex_lock(&debugfs_mutex);
  debugfs_node* n = nullptr;
  const Errno err = walk_locked(dir, &n);
  if (!err.ok()) {
    mutex_unlock(&debugfs_mutex);
    return err;
  }
  if (!n->dentry.is_dir) {
    mutex_unlock(&debugfs_mutex);
    return Errno(-ENOTDIR);
  }
  std::vector<std::string> names;
  const struct dentry* child;
  list_for_each_entry(child, &n->dentry.d_subdirs, d_child) names.push_back(child->d_name);
  mutex_unlock(&debugfs_mutex);
  return names;
}

// Mirrors fs/open.c:do_dentry_open() @ v4.4 for a debugfs inode, with v4.7's full_proxy_open().
ErrnoOr<struct file*> debugfs_open(const std::string& path, unsigned int flags) {
  mutex_lock(&debugfs_mutex);
  debugfs_node* n = nullptr;
  const Errno err = walk_locked(path, &n);
  if (!err.ok()) {
    mutex_unlock(&debugfs_mutex);
    return err;
  }
  // may_open(): a directory opens for reading only.
  if (n->dentry.is_dir && (flags & O_ACCMODE) != O_RDONLY) {
    mutex_unlock(&debugfs_mutex);
    return Errno(-EISDIR);
  }
  ++n->dentry.open_count;
  mutex_unlock(&debugfs_mutex);

  struct file* file = kzalloc<struct file>(GFP_KERNEL);
  if (file == nullptr) {
    debugfs_node_put(n);
    return Errno(-ENOMEM);
  }
  file->f_count.store(1, std::memory_order_relaxed);
  file->f_inode = &n->inode;
  file->f_flags = flags;
  file->f_mode = OPEN_FMODE(flags) | FMODE_LSEEK;
  if (n->dentry.is_dir) {
    file->f_op = &debugfs_dir_operations;
    return file;
  }
  file->f_op = &n->proxy_fops;
  const struct file_operations* real = n->dentry.fops;
  if (real->open != nullptr) {
    const int ret = real->open(&n->inode, file);
    if (ret > 0) {
      bug_slowpath(__FILE__, __LINE__, __func__, "%s open() returned %d, neither 0 nor a -errno",
                   n->path.get(), ret);
    }
    if (ret != 0) {
      // do_dentry_open(): a failed open frees the file without release().
      kfree(file);
      debugfs_node_put(n);
      return Errno(ret);
    }
  }
  return file;
}

// open(O_RDONLY), read() to the end, close(): `cat` from a kernel context (set_fs(KERNEL_DS)).
ErrnoOr<std::string> debugfs_read_file(const std::string& path) {
  ION_ASSIGN_OR_RETURN(struct file* file, debugfs_open(path, O_RDONLY));
  std::string out;
  Errno err;
  {
    kernel_ds_scope kernel_ds;
    char chunk[kReadChunk];
    loff_t pos = file->f_pos;
    for (;;) {
      ErrnoOr<ssize_t> n = vfs_read(file, reinterpret_cast<user_ptr_t>(chunk), sizeof(chunk), &pos);
      if (!n.ok()) {
        err = n.error();
        break;
      }
      if (*n == 0) break;
      out.append(chunk, static_cast<size_t>(*n));
    }
    file->f_pos = pos;
  }
  fput(file);
  // The close()'s return to userspace: the release queued by the last fput runs now.
  task_work_run();
  if (!err.ok()) return err;
  return out;
}

// open(O_WRONLY), write() until everything is taken, close(): `echo -n` from a kernel context.
Errno debugfs_write_file(const std::string& path, const std::string& text) {
  ION_ASSIGN_OR_RETURN(struct file* file, debugfs_open(path, O_WRONLY));
  Errno err;
  {
    kernel_ds_scope kernel_ds;
    loff_t pos = 0;
    size_t done = 0;
    do {
      ErrnoOr<ssize_t> n = vfs_write(file, reinterpret_cast<user_ptr_t>(text.data() + done), text.size() - done,
                                     &pos);
      if (!n.ok()) {
        err = n.error();
        break;
      }
      if (*n == 0) break;
      done += static_cast<size_t>(*n);
    } while (done < text.size());
    file->f_pos = pos;
  }
  fput(file);
  // The close()'s return to userspace: the release queued by the last fput runs now.
  task_work_run();
  return err;
}

}  // namespace ionsim::kernel
