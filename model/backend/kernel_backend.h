// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The kernel backend: IonBackend over real Linux system calls, for a machine with the ION module loaded (the
// QEMU guest of tools/qemu/ionsim-qemu). It compiles anywhere; it only works where /dev/ion and
// /sys/kernel/debug/ion exist and the caller is root.
//
// Processes. Every ProcId is a real process, named by its pid: a worker. The controlling process (the one that
// creates the backend) forks a worker for spawn() and drives it over a SOCK_SEQPACKET socketpair with a small
// request/response protocol (kernel_backend.cc); each call runs as a system call in the worker, so errnos are
// exactly what the syscalls return. fork() makes the worker fork itself; the child gets a control channel of
// its own. exit() makes the worker _exit() and waits (pidfd) until the kernel has finished do_exit() (its mm
// and files are released); every worker is reaped. The controller becomes a child subreaper
// (PR_SET_CHILD_SUBREAPER) so that workers whose parent worker exited first are reparented to it and reaped.
//
// A worker's fd table. The process's own fds are 0..1023 and follow "lowest free fd" as the model's do: a
// worker starts with no fd open but its control socket, which sits at fd kControlFd (1024), above the model's
// RLIMIT_NOFILE; pass_fd() holds a transfer socket at kTransferFd (1025) for the duration of the call only. A
// worker's RLIMIT_NOFILE is 1026, so the process gets EMFILE exactly when fds 0..1023 are all open, as the
// model's 1024-fd table does.
//
// Memory. A spawned worker is a fork of the controller, so its address space is not empty: it holds the
// controller's mappings (copy-on-write). mmap() with addr 0 is placed by the kernel; MAP_FIXED is only safe over
// the process's own earlier mappings. peek()/poke() are the worker's own loads and stores (a copy loop guarded
// by SIGSEGV/SIGBUS handlers), so they work on dma-buf mappings made with remap_pfn_range() (VM_IO|VM_PFNMAP,
// which process_vm_readv() refuses) and give -EFAULT where the process would take SIGSEGV or SIGBUS; a poke()
// that faults part-way has stored the bytes before the fault, as user_write() may.
//
// debugfs_read/write() and run_deferred_free() (a write to ion/drain) and canonical_dump() (ion/state) run in
// the controller, as root.
//
// One thread drives a KernelBackend (calls are not synchronised), and the controller should have no other
// threads when it spawns: a spawned worker is a fork() of it.
#ifndef MODEL_BACKEND_KERNEL_BACKEND_H_
#define MODEL_BACKEND_KERNEL_BACKEND_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "model/backend/ion_backend.h"

namespace ionsim {

struct KernelBackendOptions {
  // Where debugfs is mounted.
  std::string debugfs_root = "/sys/kernel/debug";
};

class KernelBackend : public IonBackend {
 public:
  // The fixed fds of a worker that the process never sees (see the header comment).
  static constexpr int kControlFd = 1024;
  static constexpr int kTransferFd = 1025;
  // The process's own fds are 0..kMaxProcessFds-1.
  static constexpr int kMaxProcessFds = 1024;
  // One request of the worker protocol (kernel_backend.cc).
  struct Request;

  // Makes the calling process a child subreaper. -errno of prctl() on failure.
  static ErrnoOr<std::unique_ptr<KernelBackend>> Create(const KernelBackendOptions& options = {});
  // Exits every live worker and reaps it.
  ~KernelBackend() override;
  KernelBackend(const KernelBackend&) = delete;
  KernelBackend& operator=(const KernelBackend&) = delete;

  // Exits every live worker (in ProcId order) and waits until each is gone. Returns the number that had to be
  // exited.
  int ExitAll();

  std::string name() const override { return "kernel"; }
  ErrnoOr<ProcId> spawn(const std::string& comm) override;
  ErrnoOr<ProcId> fork(ProcId parent) override;
  Errno exit(ProcId proc) override;
  ErrnoOr<int> open(ProcId proc, const std::string& path, unsigned int flags) override;
  Errno close(ProcId proc, int fd) override;
  ErrnoOr<int> dup(ProcId proc, int fd) override;
  ErrnoOr<int> pass_fd(ProcId from, int fd, ProcId to) override;
  ErrnoOr<long> ioctl(ProcId proc, int fd, unsigned int cmd, uint64_t arg) override;
  ErrnoOr<long> read(ProcId proc, int fd, uint64_t buf, size_t count) override;
  ErrnoOr<long> write(ProcId proc, int fd, uint64_t buf, size_t count) override;
  ErrnoOr<uint64_t> mmap(ProcId proc, uint64_t addr, size_t len, int prot, int flags, int fd,
                         uint64_t offset) override;
  Errno munmap(ProcId proc, uint64_t addr, size_t len) override;
  Errno peek(ProcId proc, uint64_t addr, void* buf, size_t len) override;
  Errno poke(ProcId proc, uint64_t addr, const void* buf, size_t len) override;
  ErrnoOr<std::string> debugfs_read(const std::string& path) override;
  Errno debugfs_write(const std::string& path, const std::string& text) override;
  Errno run_deferred_free() override;
  ErrnoOr<std::string> canonical_dump() override;

  // The number of live workers.
  size_t live_processes() const { return workers_.size(); }

 private:
  struct Worker {
    pid_t pid = -1;
    int ctl = -1;     // the controller's end of the control socketpair
    int pidfd = -1;   // pidfd_open(pid), or -1 where the kernel lacks it
  };
  explicit KernelBackend(const KernelBackendOptions& options) : options_(options) {}

  // Sends a request (with an optional fd as SCM_RIGHTS) and receives the response: the worker's result
  // (a value >= 0 or -errno) and up to out_cap payload bytes into out (their count in *out_len). -ESRCH when
  // the process is unknown or its worker is gone.
  ErrnoOr<int64_t> Call(ProcId proc, const Request& req, const void* payload, size_t payload_len, int send_fd,
                        void* out, size_t out_cap, size_t* out_len);
  // Registers a worker whose control channel is `ctl` once it has reported ready. Returns its pid.
  ErrnoOr<ProcId> Adopt(pid_t pid, int ctl);
  // Waits until the worker's process has exited, reaps it if it is the controller's child, closes its fds.
  void Reap(Worker& w);
  std::string DebugfsPath(const std::string& path) const;

  KernelBackendOptions options_;
  std::map<ProcId, Worker> workers_;
};

}  // namespace ionsim

#endif  // MODEL_BACKEND_KERNEL_BACKEND_H_
