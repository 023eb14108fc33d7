// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// IonBackend: the one interface through which tests, tools and fuzzers drive ION from "userspace"
// (DESIGN.md section 2). Every call is what a process would do with system calls: processes, fds, ioctls on
// /dev/ion and on dma-buf fds, mmap/munmap, loads and stores through its mappings, and root's view of debugfs.
// The model backend runs the C++ model in-process; a kernel backend runs the same calls against the real
// module. Results are errnos exactly as the syscalls return them.
//
// Processes are named by ProcId, the backend's own number (the model uses the simulated pid). User addresses
// are addresses in that process.
#ifndef MODEL_BACKEND_ION_BACKEND_H_
#define MODEL_BACKEND_ION_BACKEND_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "model/kernel/err.h"

namespace ionsim {

using kernel::Errno;
using kernel::ErrnoOr;

using ProcId = int;

class IonBackend {
 public:
  virtual ~IonBackend() = default;

  // "model" or "kernel".
  virtual std::string name() const = 0;

  // A new process with an empty fd table and address space; comm is its name (at most 15 characters kept).
  virtual ErrnoOr<ProcId> spawn(const std::string& comm) = 0;
  // fork(): the child shares every open file and file mapping and copies anonymous memory.
  virtual ErrnoOr<ProcId> fork(ProcId parent) = 0;
  // exit(): unmaps everything, then closes every fd. -ESRCH for an unknown or exited process.
  virtual Errno exit(ProcId proc) = 0;

  virtual ErrnoOr<int> open(ProcId proc, const std::string& path, unsigned int flags) = 0;
  virtual Errno close(ProcId proc, int fd) = 0;
  virtual ErrnoOr<int> dup(ProcId proc, int fd) = 0;
  // Passes an fd to another process as SCM_RIGHTS does: the receiver gets the lowest free fd, close-on-exec
  // clear. The sender's fd stays open.
  virtual ErrnoOr<int> pass_fd(ProcId from, int fd, ProcId to) = 0;
  virtual ErrnoOr<long> ioctl(ProcId proc, int fd, unsigned int cmd, uint64_t arg) = 0;
  virtual ErrnoOr<long> read(ProcId proc, int fd, uint64_t buf, size_t count) = 0;
  virtual ErrnoOr<long> write(ProcId proc, int fd, uint64_t buf, size_t count) = 0;

  virtual ErrnoOr<uint64_t> mmap(ProcId proc, uint64_t addr, size_t len, int prot, int flags, int fd,
                                 uint64_t offset) = 0;
  virtual Errno munmap(ProcId proc, uint64_t addr, size_t len) = 0;
  // The process's own loads and stores: -EFAULT where it would take SIGSEGV or SIGBUS.
  virtual Errno peek(ProcId proc, uint64_t addr, void* buf, size_t len) = 0;
  virtual Errno poke(ProcId proc, uint64_t addr, const void* buf, size_t len) = 0;

  // Root reading or writing a file under /sys/kernel/debug ("ion/heaps/carveout").
  virtual ErrnoOr<std::string> debugfs_read(const std::string& path) = 0;
  virtual Errno debugfs_write(const std::string& path, const std::string& text) = 0;

  // Lets every heap's deferred-free thread run until its free list is empty.
  virtual Errno run_deferred_free() = 0;
  // The canonical, pointer-free state dump of DESIGN.md section 3.
  virtual ErrnoOr<std::string> canonical_dump() = 0;
};

}  // namespace ionsim

#endif  // MODEL_BACKEND_ION_BACKEND_H_
