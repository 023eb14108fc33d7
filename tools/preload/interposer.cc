// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "tools/preload/interposer.h"

// The model's headers come first: they name O_*, PROT_* and MAP_* as constants, which the system headers
// below then define as macros of the same values.
#include "kmod/uapi/ion.h"
#include "model/backend/board_config.h"
#include "model/backend/model_backend.h"
#include "model/kernel/bug.h"
#include "model/kernel/dma_buf.h"
#include "model/kernel/fs.h"
#include "model/kernel/mm_user.h"
#include "model/kernel/sched.h"
#include "model/kernel/slab.h"

#include <fcntl.h>
#include <linux/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace ionsim {
namespace {

constexpr uintptr_t kPage = 4096;
constexpr uintptr_t PageDown(uintptr_t a) { return a & ~(kPage - 1); }
constexpr uintptr_t PageUp(uintptr_t a) { return (a + kPage - 1) & ~(kPage - 1); }
// The model's own fd table holds at most this many fds (fs.h: NR_OPEN_DEFAULT_LIMIT); reading a real fd beyond
// the preload's table is not a model file.
constexpr size_t kMaxHeapQueryMirror = 1024;
// The first fd number the interposer's own memfds move to, out of the way of the program's lowest-free fds.
constexpr int kPrivateFdBase = 800;

// The real system calls, bypassing the preload's interposed symbols.
long RealMmap(uintptr_t addr, size_t len, int prot, int flags, int fd, off_t off) {
  return syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}
long RealMunmap(uintptr_t addr, size_t len) { return syscall(SYS_munmap, addr, len); }
long RealClose(int fd) { return syscall(SYS_close, fd); }
long Neg(long ret) { return ret < 0 ? -errno : ret; }

// This process's pid for process_vm_readv/writev (getpid() is a system call; fork() updates it).
pid_t g_self = 0;

// Reads up to len bytes of this process's memory at addr without faulting: the readable prefix.
size_t SafeRead(uintptr_t addr, void* buf, size_t len) {
  size_t done = 0;
  while (done < len) {
    const size_t chunk = std::min(len - done, PageUp(addr + done + 1) - (addr + done));
    struct iovec local = {static_cast<uint8_t*>(buf) + done, chunk};
    struct iovec remote = {reinterpret_cast<void*>(addr + done), chunk};
    const ssize_t got = syscall(SYS_process_vm_readv, g_self, &local, 1, &remote, 1, 0);
    if (got <= 0) break;
    done += static_cast<size_t>(got);
    if (static_cast<size_t>(got) < chunk) break;
  }
  return done;
}

// Writes len bytes to this process's memory at addr without faulting; false when a page is not writable.
bool SafeWrite(uintptr_t addr, const void* buf, size_t len) {
  struct iovec local = {const_cast<void*>(buf), len};
  struct iovec remote = {reinterpret_cast<void*>(addr), len};
  return syscall(SYS_process_vm_writev, g_self, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(len);
}

// The file_operations of the stand-in for a real, non-model fd: a file the model knows nothing else about.
const kernel::file_operations kForeignFops = {};

// "kernel <kind>: file:line function(): message" for each kernel event since the first `first`.
std::string EventsSince(size_t first) {
  std::string out;
  const std::vector<kernel::BugEvent> events = kernel::bug_events();
  for (size_t i = first; i < events.size(); ++i) {
    const kernel::BugEvent& e = events[i];
    out += std::string("kernel ") + kernel::bug_kind_name(e.kind) + ": " + e.file + ":" + std::to_string(e.line) +
           " " + e.function + "(): " + e.message + "\n";
  }
  return out;
}

}  // namespace

std::unique_ptr<Interposer> Interposer::Create(const InterposerOptions& options, std::string* error) {
  std::string board_error;
  ErrnoOr<ModelConfig> config = ModelConfigFromBoard(options.board, &board_error);
  if (!config.ok()) {
    *error = "board " + options.board + ": " + board_error;
    return nullptr;
  }
  if (!options.profile.empty()) config.value().profile = options.profile;
  const size_t objects_before = kernel::live_object_count();
  ErrnoOr<std::unique_ptr<ModelBackend>> backend = ModelBackend::Create(config.value());
  if (!backend.ok()) {
    *error = std::string("cannot boot the model: ") + backend.error().name();
    return nullptr;
  }
  std::unique_ptr<Interposer> ip(new Interposer());
  ip->events_at_start_ = kernel::bug_event_count();
  ip->objects_at_start_ = objects_before;
  ip->backend_ = std::move(backend.value());
  ErrnoOr<ProcId> proc = ip->backend_->spawn(options.comm);
  if (!proc.ok()) {
    *error = std::string("cannot spawn the model process: ") + proc.error().name();
    return nullptr;
  }
  ip->proc_ = proc.value();
  ip->boot_pid_ = getpid();
  g_self = ip->boot_pid_;
  ip->model_fd_.reset(new std::atomic<int>[kMaxFds]);
  for (int i = 0; i < kMaxFds; ++i) ip->model_fd_[i].store(0, std::memory_order_relaxed);
  return ip;
}

Interposer::~Interposer() {
  std::string report = Exit();
  (void)report;
}

bool Interposer::ServesPath(const char* path) {
  if (path == nullptr) return false;
  if (std::strcmp(path, "/dev/ion") == 0) return true;
  static constexpr char kDebugfs[] = "/sys/kernel/debug/ion";
  const size_t n = sizeof(kDebugfs) - 1;
  return std::strncmp(path, kDebugfs, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

bool Interposer::IsModelFd(int fd) const { return ModelFd(fd) >= 0; }

int Interposer::ModelFd(int fd) const {
  if (fd < 0 || fd >= kMaxFds) return -1;
  return model_fd_[fd].load(std::memory_order_acquire) - 1;
}

void Interposer::SetModelFd(int fd, int model_fd) { model_fd_[fd].store(model_fd + 1, std::memory_order_release); }

void Interposer::ClearModelFd(int fd) { model_fd_[fd].store(0, std::memory_order_release); }

bool Interposer::OverlapsModelMapping(const void* addr, size_t len) {
  if (mapping_count_.load(std::memory_order_acquire) == 0) return false;
  std::lock_guard<std::recursive_mutex> lock(mu_);
  const uintptr_t start = reinterpret_cast<uintptr_t>(addr);
  const uintptr_t end = start + len;
  for (const Mapping& m : mappings_) {
    if (m.start < end && start < m.end) return true;
  }
  return false;
}

// A real fd for a new model fd, close-on-exec as the model's fd is.
long Interposer::NewPlaceholder(int model_fd) {
  bool cloexec = false;
  if (kernel::task_struct* t = backend_->task(proc_)) {
    kernel::current_task_scope scope(t);
    cloexec = kernel::get_close_on_exec(static_cast<unsigned int>(model_fd));
  }
  const long fd = Neg(syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDWR | (cloexec ? O_CLOEXEC : 0)));
  if (fd < 0) return fd;
  if (fd >= kMaxFds) {
    RealClose(static_cast<int>(fd));
    return -EMFILE;
  }
  SetModelFd(static_cast<int>(fd), model_fd);
  return fd;
}

long Interposer::Open(const char* path, int flags) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  ErrnoOr<int> fd = backend_->open(proc_, path, static_cast<unsigned int>(flags));
  if (!fd.ok()) return fd.error().kernel_ret();
  const long real = NewPlaceholder(fd.value());
  if (real < 0) backend_->close(proc_, fd.value()).IgnoreError();
  return real;
}

long Interposer::Close(int fd) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  const int mfd = ModelFd(fd);
  if (mfd < 0) return Neg(RealClose(fd));
  SyncIn();
  ClearModelFd(fd);
  RealClose(fd);
  Errno err = backend_->close(proc_, mfd);
  SyncOut();
  return err.kernel_ret();
}

bool Interposer::CoveredByMapping(uintptr_t page) const {
  for (const Mapping& m : mappings_) {
    if (m.start <= page && page < m.end) return true;
  }
  return false;
}

void Interposer::MirrorIn(uintptr_t addr, size_t len, std::vector<Mirror>* mirrors,
                          const std::vector<uint8_t>* bytes) {
  if (len == 0) return;
  Mirror m;
  m.addr = addr;
  m.before.resize(len);
  m.before.resize(SafeRead(addr, m.before.data(), len));
  std::vector<uint8_t> contents = bytes ? *bytes : m.before;
  contents.resize(m.before.size());
  const uintptr_t readable_end = addr + m.before.size();
  // The pages of the readable bytes and the first page after them: the kernel side's copy stops at that one.
  uintptr_t end = addr + len < addr ? ~uintptr_t{0} : addr + len;
  const uintptr_t stop = PageUp(readable_end) + kPage;
  if (stop > readable_end && stop < end) end = stop;
  // Only the readable bytes are mapped: the first unreadable byte is where the kernel side's copy faults.
  for (uintptr_t page = PageDown(addr); page < end && page >= PageDown(addr); page += kPage) {
    if (CoveredByMapping(page)) continue;  // a dma-buf mapping: the model has it (kept in sync)
    auto cached = std::find(mirror_pages_.begin(), mirror_pages_.end(), page);
    const bool readable = readable_end > addr && page < readable_end;
    if (!readable) {
      if (cached != mirror_pages_.end()) {
        backend_->munmap(proc_, page, kPage).IgnoreError();
        mirror_pages_.erase(cached);
      }
      continue;
    }
    if (cached != mirror_pages_.end()) continue;
    ErrnoOr<uint64_t> got = backend_->mmap(proc_, page, kPage, PROT_READ | PROT_WRITE,
                                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (got.ok()) mirror_pages_.push_back(page);
  }
  if (!contents.empty()) backend_->poke(proc_, addr, contents.data(), contents.size()).IgnoreError();
  mirrors->push_back(std::move(m));
}

void Interposer::MirrorOut(std::vector<Mirror>* mirrors) {
  for (Mirror& m : *mirrors) {
    if (m.before.empty()) continue;
    std::vector<uint8_t> after(m.before.size());
    if (!backend_->peek(proc_, m.addr, after.data(), after.size()).ok()) continue;
    // Write back the changed runs only, so bytes the call did not touch stay the program's.
    size_t i = 0;
    while (i < after.size()) {
      if (after[i] == m.before[i]) {
        ++i;
        continue;
      }
      size_t j = i;
      while (j < after.size() && after[j] != m.before[j]) ++j;
      SafeWrite(m.addr + i, after.data() + i, j - i);
      i = j;
    }
  }
  mirrors->clear();
  // The mirror pages stay mapped in the model for the next calls (arguments mostly live on the same stack
  // pages); the oldest go beyond kMaxMirrorPages.
  while (mirror_pages_.size() > kMaxMirrorPages) {
    backend_->munmap(proc_, mirror_pages_.front(), kPage).IgnoreError();
    mirror_pages_.erase(mirror_pages_.begin());
  }
}

// The model's mappings in [start, end) went (munmap, or a MAP_FIXED mapping replaced them): forget the mirror
// pages there.
void Interposer::DropMirrorPages(uintptr_t start, uintptr_t end) {
  mirror_pages_.erase(std::remove_if(mirror_pages_.begin(), mirror_pages_.end(),
                                     [&](uintptr_t page) { return start <= page && page < end; }),
                      mirror_pages_.end());
}

// A model fd standing for the real fd a program put in an ioctl argument: its model fd, a stand-in file for a
// real non-model fd (*standin set; the caller closes it), or the number itself (not open in the model: EBADF).
long Interposer::TranslateFdIn(int real_fd, bool* standin) {
  *standin = false;
  const int mfd = ModelFd(real_fd);
  if (mfd >= 0) return mfd;
  if (real_fd < 0 || syscall(SYS_fcntl, real_fd, F_GETFD) < 0) return -1;
  kernel::task_struct* t = backend_->task(proc_);
  if (t == nullptr) return -1;
  kernel::current_task_scope scope(t);
  ErrnoOr<kernel::file*> file = kernel::anon_inode_getfile("[host]", &kForeignFops, nullptr, O_RDWR);
  if (!file.ok()) return -1;
  ErrnoOr<int> fd = kernel::get_unused_fd_flags(0);
  if (!fd.ok()) {
    kernel::fput(file.value());
    return -1;
  }
  kernel::fd_install(static_cast<unsigned int>(fd.value()), file.value());
  *standin = true;
  return fd.value();
}

long Interposer::Ioctl(int fd, unsigned long cmd, void* arg) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  const int mfd = ModelFd(fd);
  if (mfd < 0) return -EBADF;
  const unsigned int ucmd = static_cast<unsigned int>(cmd);
  const uintptr_t uarg = reinterpret_cast<uintptr_t>(arg);
  size_t size = _IOC_SIZE(ucmd);
  // The VFS's own commands (FIONBIO, FIOASYNC, FIOQSIZE...) have no size in their number: an int or loff_t.
  if (size == 0) size = 8;
  SyncIn();
  std::vector<Mirror> mirrors;
  std::vector<uint8_t> in(size);
  in.resize(SafeRead(uarg, in.data(), size));
  // fds the kernel side reads from the argument: IMPORT and SYNC name a dma-buf.
  bool standin = false;
  long in_model_fd = -1;
  const bool fd_in = ucmd == ION_IOC_IMPORT || ucmd == ION_IOC_SYNC;
  if (fd_in && in.size() >= sizeof(ion_fd_data)) {
    ion_fd_data data;
    std::memcpy(&data, in.data(), sizeof(data));
    in_model_fd = TranslateFdIn(data.fd, &standin);
    data.fd = static_cast<int>(in_model_fd);
    std::memcpy(in.data(), &data, sizeof(data));
  }
  MirrorIn(uarg, size, &mirrors, &in);
  if (ucmd == ION_IOC_HEAP_QUERY && in.size() >= sizeof(ion_heap_query)) {
    ion_heap_query query;
    std::memcpy(&query, in.data(), sizeof(query));
    const size_t cnt = std::min<size_t>(query.cnt, kMaxHeapQueryMirror);
    if (query.heaps != 0 && cnt != 0) MirrorIn(query.heaps, cnt * sizeof(ion_heap_data), &mirrors);
  }
  ErrnoOr<long> ret = backend_->ioctl(proc_, mfd, ucmd, uarg);
  long result = ret.ok() ? ret.value() : ret.error().kernel_ret();
  // fds the kernel side wrote into the argument become real placeholders.
  if (ret.ok() && !mirrors.empty() && mirrors[0].before.size() == size) {
    if (ucmd == ION_IOC_SHARE || ucmd == ION_IOC_MAP) {
      ion_fd_data data;
      if (backend_->peek(proc_, uarg, &data, sizeof(data)).ok()) {
        const long real = NewPlaceholder(data.fd);
        if (real < 0) {
          backend_->close(proc_, data.fd).IgnoreError();
          result = real;
        } else {
          data.fd = static_cast<int>(real);
          backend_->poke(proc_, uarg, &data, sizeof(data)).IgnoreError();
        }
      }
    } else if (ucmd == ION_IOC_NEW_ALLOC) {
      ion_new_allocation_data data;
      if (backend_->peek(proc_, uarg, &data, sizeof(data)).ok()) {
        const long real = NewPlaceholder(static_cast<int>(data.fd));
        if (real < 0) {
          backend_->close(proc_, static_cast<int>(data.fd)).IgnoreError();
          result = real;
        } else {
          data.fd = static_cast<__u32>(real);
          backend_->poke(proc_, uarg, &data, sizeof(data)).IgnoreError();
        }
      }
    }
  }
  if (fd_in && !mirrors.empty() && mirrors[0].before.size() >= sizeof(ion_fd_data)) {
    // The program's fd goes back where the model's stood (the kernel does not write it).
    ion_fd_data data;
    if (backend_->peek(proc_, uarg, &data, sizeof(data)).ok() && data.fd == static_cast<int>(in_model_fd)) {
      std::memcpy(&data.fd, mirrors[0].before.data() + offsetof(ion_fd_data, fd), sizeof(data.fd));
      backend_->poke(proc_, uarg, &data, sizeof(data)).IgnoreError();
    }
  }
  MirrorOut(&mirrors);
  if (standin) backend_->close(proc_, static_cast<int>(in_model_fd)).IgnoreError();
  SyncOut();
  return result;
}

template <typename Op>
long Interposer::Transfer(int fd, uintptr_t buf, size_t count, Op op) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  const int mfd = ModelFd(fd);
  if (mfd < 0) return -EBADF;
  std::vector<Mirror> mirrors;
  MirrorIn(buf, count, &mirrors);
  ErrnoOr<long> ret = (backend_.get()->*op)(proc_, mfd, buf, count);
  MirrorOut(&mirrors);
  return ret.ok() ? ret.value() : ret.error().kernel_ret();
}

long Interposer::Read(int fd, void* buf, size_t count) {
  return Transfer(fd, reinterpret_cast<uintptr_t>(buf), count, &ModelBackend::read);
}

long Interposer::Write(int fd, const void* buf, size_t count) {
  return Transfer(fd, reinterpret_cast<uintptr_t>(buf), count, &ModelBackend::write);
}

long Interposer::Lseek(int fd, off_t offset, int whence) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  const int mfd = ModelFd(fd);
  if (mfd < 0) return -EBADF;
  kernel::task_struct* t = backend_->task(proc_);
  if (t == nullptr) return -ESRCH;
  kernel::current_task_scope scope(t);
  ErrnoOr<kernel::loff_t> ret = kernel::sys_lseek(static_cast<unsigned int>(mfd), offset, whence);
  return ret.ok() ? static_cast<long>(ret.value()) : ret.error().kernel_ret();
}

long Interposer::Mmap(void* addr, size_t len, int prot, int flags, int fd, off_t offset) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  const int mfd = ModelFd(fd);
  if (mfd < 0) return -EBADF;
  SyncIn();
  // The real kernel chooses the address (and honours MAP_FIXED); the model maps its file there.
  const int fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE);
  const long reserved = Neg(RealMmap(reinterpret_cast<uintptr_t>(addr), len, PROT_NONE,
                                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | fixed, -1, 0));
  if (reserved < 0) return reserved;
  const uintptr_t start = static_cast<uintptr_t>(reserved);
  const uintptr_t end = start + PageUp(len);
  if (flags & MAP_FIXED) RemoveRange(start, end);
  ErrnoOr<uint64_t> got = backend_->mmap(proc_, start, len, prot, (flags & (MAP_SHARED | MAP_PRIVATE)) | MAP_FIXED,
                                         mfd, static_cast<uint64_t>(offset));
  DropMirrorPages(start, end);  // MAP_FIXED replaced any mirror page there, failing or not
  if (!got.ok()) {
    RealMunmap(start, len);
    SyncOut();
    return got.error().kernel_ret();
  }
  // The dma-buf behind the file: its bytes live in one memfd for every mapping of it.
  const void* key = nullptr;
  size_t size = 0;
  if (kernel::task_struct* t = backend_->task(proc_)) {
    kernel::current_task_scope scope(t);
    if (kernel::file* f = kernel::fget(static_cast<unsigned int>(mfd))) {
      if (kernel::is_dma_buf_file(f)) {
        auto* dmabuf = static_cast<kernel::dma_buf*>(f->private_data);
        key = dmabuf;
        size = dmabuf->size;
      }
      kernel::fput(f);
    }
  }
  auto it = buffers_.find(key);
  if (key != nullptr && it == buffers_.end()) {
    Buffer b;
    b.size = PageUp(size);
    b.memfd = static_cast<int>(Neg(syscall(SYS_memfd_create, "ionsim-dma-buf", MFD_CLOEXEC)));
    if (b.memfd >= 0) {
      const long moved = syscall(SYS_fcntl, b.memfd, F_DUPFD_CLOEXEC, kPrivateFdBase);
      if (moved >= 0) {
        RealClose(b.memfd);
        b.memfd = static_cast<int>(moved);
      }
      if (syscall(SYS_ftruncate, b.memfd, b.size) == 0) {
        const long view = RealMmap(0, b.size, PROT_READ | PROT_WRITE, MAP_SHARED, b.memfd, 0);
        if (view != -1) b.view = reinterpret_cast<uint8_t*>(view);
      }
    }
    if (b.view == nullptr) {
      if (b.memfd >= 0) RealClose(b.memfd);
      backend_->munmap(proc_, start, len).IgnoreError();
      RealMunmap(start, len);
      SyncOut();
      return -ENOMEM;
    }
    b.shadow.assign(b.size, 0);
    b.valid.assign(b.size / kPage, false);
    it = buffers_.emplace(key, std::move(b)).first;
  }
  if (key == nullptr) {
    // Not a dma-buf (no other model file has mmap): anonymous real memory stands for it.
    mappings_.push_back(Mapping{start, end, static_cast<unsigned long>(offset) / kPage, nullptr, prot});
    mapping_count_.store(mappings_.size(), std::memory_order_release);
    RealMmap(start, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    SyncOut();
    return static_cast<long>(start);
  }
  Buffer& b = it->second;
  const unsigned long pgoff = static_cast<unsigned long>(offset) / kPage;
  const int share = (flags & MAP_SHARED) ? MAP_SHARED : MAP_PRIVATE;
  RealMmap(start, end - start, prot, share | MAP_FIXED, b.memfd, static_cast<off_t>(pgoff * kPage));
  mappings_.push_back(Mapping{start, end, pgoff, key, prot});
  mapping_count_.store(mappings_.size(), std::memory_order_release);
  // Pages seen for the first time take the model's bytes (ION's fault handler runs for each).
  for (uintptr_t a = start; a < end; a += kPage) {
    const size_t page = pgoff + (a - start) / kPage;
    if (page >= b.valid.size() || b.valid[page] || !(prot & PROT_READ)) continue;
    if (backend_->peek(proc_, a, b.shadow.data() + page * kPage, kPage).ok()) {
      std::memcpy(b.view + page * kPage, b.shadow.data() + page * kPage, kPage);
      b.valid[page] = true;
    }
  }
  SyncOut();
  return static_cast<long>(start);
}

void Interposer::SyncIn() {
  for (auto& [key, b] : buffers_) {
    for (size_t page = 0; page < b.valid.size(); ++page) {
      if (!b.valid[page]) continue;
      uint8_t* now = b.view + page * kPage;
      uint8_t* was = b.shadow.data() + page * kPage;
      if (std::memcmp(now, was, kPage) == 0) continue;
      // The process stored into the page: store it through a writable mapping of it in the model.
      for (const Mapping& m : mappings_) {
        if (m.buffer != key || !(m.prot & PROT_WRITE) || page < m.pgoff ||
            page >= m.pgoff + (m.end - m.start) / kPage) {
          continue;
        }
        const uintptr_t addr = m.start + (page - m.pgoff) * kPage;
        if (backend_->poke(proc_, addr, now, kPage).ok()) std::memcpy(was, now, kPage);
        break;
      }
    }
  }
}

void Interposer::SyncOut() {
  std::vector<uint8_t> model(kPage);
  for (auto& [key, b] : buffers_) {
    for (size_t page = 0; page < b.valid.size(); ++page) {
      if (!b.valid[page]) continue;
      for (const Mapping& m : mappings_) {
        if (m.buffer != key || !(m.prot & PROT_READ) || page < m.pgoff ||
            page >= m.pgoff + (m.end - m.start) / kPage) {
          continue;
        }
        const uintptr_t addr = m.start + (page - m.pgoff) * kPage;
        if (backend_->peek(proc_, addr, model.data(), kPage).ok() &&
            std::memcmp(model.data(), b.shadow.data() + page * kPage, kPage) != 0) {
          std::memcpy(b.shadow.data() + page * kPage, model.data(), kPage);
          std::memcpy(b.view + page * kPage, model.data(), kPage);
        }
        break;
      }
    }
  }
}

// Forgets the model mappings in [start, end) (unmapping them in the model), splitting those that straddle it,
// and lets a buffer's memfd go with its last mapping.
void Interposer::RemoveRange(uintptr_t start, uintptr_t end) {
  std::vector<Mapping> kept;
  bool touched = false;
  for (const Mapping& m : mappings_) {
    if (m.end <= start || end <= m.start) {
      kept.push_back(m);
      continue;
    }
    touched = true;
    if (m.start < start) {
      Mapping left = m;
      left.end = start;
      kept.push_back(left);
    }
    if (end < m.end) {
      Mapping right = m;
      right.pgoff = m.pgoff + (end - m.start) / kPage;
      right.start = end;
      kept.push_back(right);
    }
  }
  if (!touched) return;
  backend_->munmap(proc_, start, end - start).IgnoreError();
  DropMirrorPages(start, end);
  mappings_ = std::move(kept);
  mapping_count_.store(mappings_.size(), std::memory_order_release);
  for (auto it = buffers_.begin(); it != buffers_.end();) {
    const void* key = it->first;
    if (std::any_of(mappings_.begin(), mappings_.end(), [key](const Mapping& m) { return m.buffer == key; })) {
      ++it;
      continue;
    }
    RealMunmap(reinterpret_cast<uintptr_t>(it->second.view), it->second.size);
    RealClose(it->second.memfd);
    it = buffers_.erase(it);
  }
}

long Interposer::Munmap(void* addr, size_t len) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  const uintptr_t start = reinterpret_cast<uintptr_t>(addr);
  if ((start & (kPage - 1)) != 0 || len == 0) return -EINVAL;
  SyncIn();
  const long ret = Neg(RealMunmap(start, len));
  if (ret < 0) return ret;
  RemoveRange(start, start + PageUp(len));
  SyncOut();
  return 0;
}

void Interposer::ForgetRange(void* addr, size_t len) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  const uintptr_t start = PageDown(reinterpret_cast<uintptr_t>(addr));
  SyncIn();
  RemoveRange(start, PageUp(reinterpret_cast<uintptr_t>(addr) + len));
}

long Interposer::Dup(int fd) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  const int mfd = ModelFd(fd);
  if (mfd < 0) return Neg(syscall(SYS_dup, fd));
  ErrnoOr<int> nm = backend_->dup(proc_, mfd);
  if (!nm.ok()) return nm.error().kernel_ret();
  const long real = Neg(syscall(SYS_dup, fd));
  if (real < 0 || real >= kMaxFds) {
    if (real >= 0) RealClose(static_cast<int>(real));
    backend_->close(proc_, nm.value()).IgnoreError();
    return real < 0 ? real : -EMFILE;
  }
  SetModelFd(static_cast<int>(real), nm.value());
  return real;
}

long Interposer::Dup3(int oldfd, int newfd, int flags, bool dup3) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  const int old_m = ModelFd(oldfd);
  const int new_m = ModelFd(newfd);
  if (oldfd == newfd) {
    if (dup3) return -EINVAL;
    return syscall(SYS_fcntl, oldfd, F_GETFD) < 0 ? -EBADF : newfd;
  }
  if (newfd < 0 || newfd >= kMaxFds) return Neg(syscall(SYS_dup3, oldfd, newfd, flags));
  int nm = -1;
  if (old_m >= 0) {
    ErrnoOr<int> got = backend_->dup(proc_, old_m);
    if (!got.ok()) return got.error().kernel_ret();
    nm = got.value();
  }
  const long ret = Neg(syscall(SYS_dup3, oldfd, newfd, flags));
  if (ret < 0) {
    if (nm >= 0) backend_->close(proc_, nm).IgnoreError();
    return ret;
  }
  // The real dup3 closed what newfd was: so does the model.
  if (new_m >= 0) {
    ClearModelFd(newfd);
    SyncIn();
    backend_->close(proc_, new_m).IgnoreError();
    SyncOut();
  }
  if (nm >= 0) {
    if (flags & O_CLOEXEC) {
      kernel::current_task_scope scope(backend_->task(proc_));
      kernel::set_close_on_exec(static_cast<unsigned int>(nm), 1);
    }
    SetModelFd(newfd, nm);
  }
  return ret;
}

long Interposer::Fcntl(int fd, int cmd, long arg) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  const int mfd = ModelFd(fd);
  if (mfd < 0 || (cmd != F_DUPFD && cmd != F_DUPFD_CLOEXEC && cmd != F_SETFD)) {
    return Neg(syscall(SYS_fcntl, fd, cmd, arg));
  }
  if (cmd == F_SETFD) {
    const long ret = Neg(syscall(SYS_fcntl, fd, cmd, arg));
    if (ret == 0) {
      kernel::current_task_scope scope(backend_->task(proc_));
      kernel::set_close_on_exec(static_cast<unsigned int>(mfd), (arg & FD_CLOEXEC) ? 1 : 0);
    }
    return ret;
  }
  ErrnoOr<int> nm = backend_->dup(proc_, mfd);
  if (!nm.ok()) return nm.error().kernel_ret();
  const long real = Neg(syscall(SYS_fcntl, fd, cmd, arg));
  if (real < 0 || real >= kMaxFds) {
    if (real >= 0) RealClose(static_cast<int>(real));
    backend_->close(proc_, nm.value()).IgnoreError();
    return real < 0 ? real : -EMFILE;
  }
  if (cmd == F_DUPFD_CLOEXEC) {
    kernel::current_task_scope scope(backend_->task(proc_));
    kernel::set_close_on_exec(static_cast<unsigned int>(nm.value()), 1);
  }
  SetModelFd(static_cast<int>(real), nm.value());
  return real;
}

pid_t Interposer::Fork(pid_t (*real_fork)()) {
  ProcId child = 0;
  {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    SyncIn();
    ErrnoOr<ProcId> forked = backend_->fork(proc_);
    if (!forked.ok()) {
      errno = forked.error().code();
      return -1;
    }
    child = forked.value();
  }
  // Not under mu_: a mutex held across fork() stays locked in the child (its owner is the parent's thread).
  const pid_t pid = real_fork();
  if (pid == 0) {
    // The child, single-threaded: its own copy of the machine, in which it is the forked process.
    new (&mu_) std::recursive_mutex();
    g_self = getpid();
    proc_ = child;
    forked_.clear();
    events_at_start_ = kernel::bug_event_count();
    return 0;
  }
  std::lock_guard<std::recursive_mutex> lock(mu_);
  if (pid < 0) {
    const int err = errno;
    backend_->exit(child).IgnoreError();
    errno = err;
    return pid;
  }
  forked_.push_back(child);
  return pid;
}

std::string Interposer::Exit() {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  return ExitLocked();
}

std::string Interposer::ExitLocked() {
  if (exited_) return "";
  exited_ = true;
  SyncIn();
  backend_->exit(proc_).IgnoreError();
  std::string report;
  // The real mappings of the model's buffers stay (a process exiting does not unmap first); the model forgets
  // them with the process.
  mappings_.clear();
  mapping_count_.store(0, std::memory_order_release);
  for (auto& [key, b] : buffers_) {
    RealMunmap(reinterpret_cast<uintptr_t>(b.view), b.size);
    RealClose(b.memfd);
  }
  buffers_.clear();
  if (getpid() != boot_pid_) {
    // A forked child: its copy of the machine goes with it; what its deferred frees do is its to report.
    backend_->run_deferred_free().IgnoreError();
    return EventsSince(events_at_start_);
  }
  for (ProcId child : forked_) backend_->exit(child).IgnoreError();
  const std::string violations = backend_->check_invariants();
  if (!violations.empty()) report += "invariants: " + violations;
  const std::string leaks = backend_->Shutdown();
  backend_.reset();
  // After the shutdown: deferred frees (the heaps' free threads) run there and may WARN.
  report = EventsSince(events_at_start_) + report + leaks;
  const size_t objects = kernel::live_object_count();
  if (objects != objects_at_start_) {
    report += std::to_string(objects - objects_at_start_) + " model objects still alive:\n" +
              kernel::format_live_objects();
  }
  return report;
}

}  // namespace ionsim
