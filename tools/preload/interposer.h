// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The logic of libionsim-preload.so: one process's view of a simulated machine. A real program's calls on
// /dev/ion and /sys/kernel/debug/ion/... are served by the model (ModelBackend, in this process), every other
// file and system call by the real kernel. The preload's exported open/ioctl/mmap/... (preload.cc) call these
// methods for the fds and address ranges that belong to the model; the tests call them directly.
//
// Files. Every model file has a real placeholder fd (an open of /dev/null with the file's O_CLOEXEC), so the
// numbers the program sees are real fd numbers, allocated, closed, dup'ed and inherited by the real kernel;
// the interposer maps each to the model process's own fd. fds inside ioctl arguments (SHARE, MAP and the 4.12
// ALLOC return one; IMPORT and SYNC take one) are translated both ways. A real fd that is not a model file,
// given where the model expects a dma-buf, reaches the model as an open file of another kind (EINVAL from
// dma_buf_get() as on a real kernel); a closed fd as a closed one (EBADF).
//
// User memory. The model's address space of the process mirrors the real one where it matters, at the same
// addresses:
//   - ioctl and read arguments: before the call the bytes the call may touch (the argument struct,
//     ION_IOC_HEAP_QUERY's heap array, read's buffer) are written into the model at their real addresses, on
//     anonymous model pages mapped there (kept for later calls, at most kMaxMirrorPages); what the kernel side
//     changed is written back to real memory, byte ranges only, after the call. A range the process cannot read
//     is unmapped in the model, so the kernel side's copy gets EFAULT as on a real kernel. Divergence: the other
//     bytes of a mirror page are stale or zero in the model (the kernel side reads only the argument).
//   - dma-buf mappings: mmap() maps the model's file (f_op->mmap, ION's checks and errno) at an address the real
//     kernel reserved, then backs the real range with a memfd holding the buffer's bytes (one memfd per dma-buf,
//     so every mapping of a buffer in this process and in its forked children shares the same real pages: a
//     store through one mapping is seen at once through every other). The model's pages and the memfd are
//     synchronised at every system call the model serves: before the call, pages the process changed are stored
//     into the model through its own mapping of them (user_write(): ION's fault handler and dirty tracking see
//     them); after it, pages the kernel side changed are copied out. Divergence: the model sees the program's
//     stores at its next ION system call, not as they happen, and every page of a mapping is faulted in when it
//     is mapped (the real kernel faults it on first touch).
//
// Processes. fork() forks the model process too (the child shares every model file, as in the kernel). Because
// the machine lives in the process's own memory, the real child continues on its copy of the machine: buffer
// bytes stay shared through the memfds, but model objects the child makes or frees after the fork are not seen
// by the parent's machine and the reverse (the parent's machine keeps a forked model process holding the
// child's files until the parent exits). Several unrelated processes on one machine, and fds passed with
// SCM_RIGHTS, need a machine shared across processes (a server), which this interposer does not provide.
// exec() starts a new machine; model fds inherited across exec are not model files in the new image.
#ifndef TOOLS_PRELOAD_INTERPOSER_H_
#define TOOLS_PRELOAD_INTERPOSER_H_

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "model/backend/ion_backend.h"

namespace ionsim {

class ModelBackend;

struct InterposerOptions {
  std::string board = "dummy";  // an embedded board's name or board text (docs/boards.md)
  std::string profile;          // "" for the board's
  std::string comm = "prog";    // the model process's name
};

class Interposer {
 public:
  // Boots the machine and spawns the model process for this real process. On failure *error says why.
  static std::unique_ptr<Interposer> Create(const InterposerOptions& options, std::string* error);
  ~Interposer();

  // Whether the model serves this path: /dev/ion, /sys/kernel/debug/ion and everything below it.
  static bool ServesPath(const char* path);
  // Whether fd is a model file of this process: a lock-free look-up, for the preload's fast path.
  bool IsModelFd(int fd) const;
  // Whether [addr, addr + len) overlaps a model mapping (lock-free when there is none).
  bool OverlapsModelMapping(const void* addr, size_t len);

  // Each returns what the system call returns: the result, or -errno.
  long Open(const char* path, int flags);
  long Close(int fd);
  long Ioctl(int fd, unsigned long cmd, void* arg);
  long Read(int fd, void* buf, size_t count);
  long Write(int fd, const void* buf, size_t count);
  long Lseek(int fd, off_t offset, int whence);
  // mmap of a model fd: the address (as a long) or -errno.
  long Mmap(void* addr, size_t len, int prot, int flags, int fd, off_t offset);
  // munmap of a range overlapping model mappings (the real pages in the range go too).
  long Munmap(void* addr, size_t len);
  // A real mapping is about to replace [addr, addr + len) (mmap MAP_FIXED of another file): the model mappings
  // there are unmapped first, as the kernel's mmap_region() unmaps what it replaces.
  void ForgetRange(void* addr, size_t len);
  long Dup(int fd);
  // dup2 (dup3 false, flags 0) and dup3 where oldfd or newfd is a model fd.
  long Dup3(int oldfd, int newfd, int flags, bool dup3);
  // fcntl F_DUPFD / F_DUPFD_CLOEXEC / F_SETFD on a model fd (F_GETFD and the rest are answered by the real fd).
  long Fcntl(int fd, int cmd, long arg);
  // fork() with the model: real_fork runs the real fork; the child continues as the model's forked process.
  pid_t Fork(pid_t (*real_fork)());

  // The process is exiting: the model process exits (closing everything it held). In the process that booted
  // the machine the machine is then shut down and the report returned: kernel events (WARN, BUG...), invariant
  // violations and the teardown leak report, "" when clean. A forked child returns its own kernel events since
  // the fork. Later calls return "".
  std::string Exit();

  ModelBackend* backend() const { return backend_.get(); }
  ProcId proc() const { return proc_; }

 private:
  struct Mapping {
    uintptr_t start, end;  // real == model addresses
    unsigned long pgoff;
    const void* buffer;  // the dma_buf
    int prot;
  };
  struct Buffer {
    int memfd = -1;
    size_t size = 0;
    uint8_t* view = nullptr;       // the interposer's own shared mapping of memfd
    std::vector<uint8_t> shadow;   // the bytes last exchanged with the model, per page where valid
    std::vector<bool> valid;       // whether the page's bytes have been exchanged
  };
  // A range of real memory mirrored into the model for one call.
  struct Mirror {
    uintptr_t addr;
    std::vector<uint8_t> before;  // the real bytes (readable prefix)
  };
  static constexpr size_t kMaxMirrorPages = 16;

  Interposer() = default;
  int ModelFd(int fd) const;  // -1 when fd is not a model file
  void SetModelFd(int fd, int model_fd);
  void ClearModelFd(int fd);
  long NewPlaceholder(int model_fd);
  // Mirrors [addr, addr + len) into the model (readable prefix only); bytes may replace the real contents.
  void MirrorIn(uintptr_t addr, size_t len, std::vector<Mirror>* mirrors, const std::vector<uint8_t>* bytes = nullptr);
  // Writes back what the model changed, then unmaps the mirrors. fix(after) may edit the bytes first.
  void MirrorOut(std::vector<Mirror>* mirrors);
  // read() or write() of a model fd: the user buffer mirrored around the backend's call (op: the backend's read
  // or write member).
  template <typename Op>
  long Transfer(int fd, uintptr_t buf, size_t count, Op op);
  void DropMirrorPages(uintptr_t start, uintptr_t end);
  bool CoveredByMapping(uintptr_t page) const;
  void SyncIn();
  void SyncOut();
  void DropMapping(size_t index);
  void RemoveRange(uintptr_t start, uintptr_t end);
  long TranslateFdIn(int real_fd, bool* standin);
  std::string ExitLocked();

  std::recursive_mutex mu_;  // recursive: the model's own mmap/munmap come back through the preload
  std::unique_ptr<ModelBackend> backend_;
  ProcId proc_ = 0;
  pid_t boot_pid_ = 0;
  size_t events_at_start_ = 0;
  size_t objects_at_start_ = 0;
  bool exited_ = false;
  static constexpr int kMaxFds = 1 << 16;
  std::unique_ptr<std::atomic<int>[]> model_fd_;  // real fd -> model fd + 1 (0: not a model file)
  std::vector<ProcId> forked_;                    // model processes of forked children (this machine's view)
  std::vector<Mapping> mappings_;
  // Pages of real memory mapped (anonymous) at the same address in the model for ioctl/read arguments, oldest
  // first; their bytes are rewritten from real memory before every use.
  std::vector<uintptr_t> mirror_pages_;
  std::atomic<size_t> mapping_count_{0};
  std::map<const void*, Buffer> buffers_;
};

}  // namespace ionsim

#endif  // TOOLS_PRELOAD_INTERPOSER_H_
