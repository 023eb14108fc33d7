// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The protocol between the controller and a worker. Every message is one SOCK_SEQPACKET record.
//   request:  Request (fixed header) + payload (open: the NUL-terminated path; poke: the bytes)
//             + at most one fd as SCM_RIGHTS (fork: the child's control socket; pass_fd: a transfer socket)
//   response: Response (the syscall's result: a value >= 0 or -errno) + payload (peek: the bytes)
// A new worker (spawned or forked) first sends one Response on its control channel: 0 when it is ready, or
// -errno of the setup step that failed (then it exits).
#include "model/backend/kernel_backend.h"

#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <vector>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

namespace ionsim {

enum Op : uint32_t {
  kOpExit = 1,
  kOpFork,
  kOpOpen,
  kOpClose,
  kOpDup,
  kOpSendFd,  // sendmsg(transfer socket, SCM_RIGHTS fd)
  kOpRecvFd,  // recvmsg(transfer socket) -> the new fd
  kOpIoctl,
  kOpRead,
  kOpWrite,
  kOpMmap,
  kOpMunmap,
  kOpPeek,
  kOpPoke,
  kOpOpenTransferSlot,  // RLIMIT_NOFILE to kTransferFd + 1 until the next request that carries an fd
};

struct KernelBackend::Request {
  uint32_t op = 0;
  int32_t fd = -1;
  uint32_t cmd = 0;    // ioctl: the command; open: the flags
  int32_t prot = 0;    // mmap
  int32_t flags = 0;   // mmap
  uint32_t reserved = 0;
  uint64_t addr = 0;   // ioctl: arg; read/write/mmap/munmap/peek/poke: the user address
  uint64_t len = 0;    // read/write: count; mmap/munmap/peek/poke: length
  uint64_t offset = 0; // mmap
};

namespace {

struct Response {
  int64_t ret = 0;
};

// The largest payload of one message; longer peeks and pokes are split.
constexpr size_t kMaxChunk = 32 << 10;
// The worker's RLIMIT_NOFILE: the process's 1024 fds plus the control socket. A request that carries an fd
// (fork, pass_fd) is preceded by kOpOpenTransferSlot, which raises it by one so that the fd can be received
// even into a full table and parked at kTransferFd; the request lowers it again.
constexpr rlim_t kWorkerNofile = KernelBackend::kControlFd + 1;

using Request = KernelBackend::Request;  // NOLINT: file-local alias of a private type

// --- worker side ---------------------------------------------------------------------------------------------

sigjmp_buf g_fault_env;
volatile sig_atomic_t g_fault_guarded = 0;
// One message in, one out; static so that a worker never allocates after fork().
alignas(16) uint8_t g_in[sizeof(Request) + kMaxChunk + 1];
alignas(16) uint8_t g_out[kMaxChunk];

void OnFault(int sig) {
  if (g_fault_guarded) siglongjmp(g_fault_env, 1);
  signal(sig, SIG_DFL);
  raise(sig);
}

// Copies n bytes with the process's own loads and stores; false when one of them faulted (SIGSEGV or SIGBUS).
__attribute__((noinline, no_sanitize_address)) bool GuardedCopy(volatile uint8_t* dst, const volatile uint8_t* src,
                                                                 size_t n) {
  if (sigsetjmp(g_fault_env, 1) != 0) {
    g_fault_guarded = 0;
    return false;
  }
  g_fault_guarded = 1;
  for (size_t i = 0; i < n; i++) dst[i] = src[i];
  g_fault_guarded = 0;
  return true;
}

int64_t Result(long ret) { return ret < 0 ? -static_cast<int64_t>(errno) : ret; }

// Sends one Response (+ payload) on the worker's control socket; the worker exits if the controller is gone.
void Reply(int64_t ret, const void* payload = nullptr, size_t len = 0) {
  Response resp;
  resp.ret = ret;
  iovec iov[2] = {{&resp, sizeof(resp)}, {const_cast<void*>(payload), len}};
  msghdr msg = {};
  msg.msg_iov = iov;
  msg.msg_iovlen = len > 0 ? 2 : 1;
  ssize_t n;
  do {
    n = sendmsg(KernelBackend::kControlFd, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) _exit(0);
}

// Receives one message on `sock` into buf; *fd is the fd that came with it as SCM_RIGHTS, or -1. Returns the
// byte count (0 at EOF) or -errno.
ssize_t RecvWithFd(int sock, void* buf, size_t len, int* fd) {
  *fd = -1;
  iovec iov = {buf, len};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n;
  do {
    n = recvmsg(sock, &msg, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int))) {
      std::memcpy(fd, CMSG_DATA(c), sizeof(int));
    }
  }
  if ((msg.msg_flags & MSG_CTRUNC) && *fd < 0) return -EMFILE;
  return n;
}

// Sends one message on `sock` with `fd` as SCM_RIGHTS when fd >= 0. 0 or -errno.
int SendWithFd(int sock, const iovec* iov, int iovcnt, int fd) {
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msghdr msg = {};
  msg.msg_iov = const_cast<iovec*>(iov);
  msg.msg_iovlen = iovcnt;
  if (fd >= 0) {
    std::memset(control, 0, sizeof(control));
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  }
  ssize_t n;
  do {
    n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n < 0 ? -errno : 0;
}

void CloseAllExcept(int keep) {
  if (syscall(SYS_close_range, 0U, static_cast<unsigned int>(keep - 1), 0U) == 0 &&
      syscall(SYS_close_range, static_cast<unsigned int>(keep + 1), ~0U, 0U) == 0) {
    return;
  }
  rlimit rl;
  rlim_t max = 1 << 20;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < max) max = rl.rlim_cur;
  for (rlim_t fd = 0; fd < max; fd++) {
    if (static_cast<int>(fd) != keep) ::close(static_cast<int>(fd));
  }
}

int SetNofile(rlim_t cur) {
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return -errno;
  rl.rlim_cur = cur;
  return setrlimit(RLIMIT_NOFILE, &rl) == 0 ? 0 : -errno;
}

// Moves an fd received with a request to kTransferFd, so that the lowest free fd it took is free again.
// Returns kTransferFd or -errno (the fd is closed then).
int ParkTransfer(int rfd) {
  if (rfd == KernelBackend::kTransferFd) return rfd;
  const int ret = dup2(rfd, KernelBackend::kTransferFd) < 0 ? -errno : KernelBackend::kTransferFd;
  ::close(rfd);
  return ret;
}

// Closes the parked fd and lowers RLIMIT_NOFILE to the process's table again.
void DropTransfer() {
  ::close(KernelBackend::kTransferFd);
  SetNofile(kWorkerNofile);
}

// Runs one request; returns its result. Fills *out_len for a peek.
int64_t Serve(const Request& req, const uint8_t* payload, size_t payload_len, int rfd, size_t* out_len) {
  *out_len = 0;
  // The backend's own fds are beyond the process's table, as fds >= RLIMIT_NOFILE are in the model.
  const bool anon = req.op == kOpMmap && (req.flags & MAP_ANONYMOUS);
  if (req.fd >= KernelBackend::kControlFd && !anon) return -EBADF;
  switch (req.op) {
    case kOpOpen: {
      if (payload_len == 0 || payload[payload_len - 1] != '\0') return -EINVAL;
      return Result(::open(reinterpret_cast<const char*>(payload), static_cast<int>(req.cmd), 0));
    }
    case kOpClose:
      return Result(::close(req.fd));
    case kOpDup:
      return Result(::dup(req.fd));
    case kOpSendFd: {
      if (rfd < 0) return -EPROTO;
      // A negative fd in SCM_RIGHTS makes sendmsg() fail with EBADF (SendWithFd would send no fd at all).
      if (req.fd < 0) return -EBADF;
      char byte = 0;
      iovec iov = {&byte, 1};
      return SendWithFd(rfd, &iov, 1, req.fd);
    }
    case kOpRecvFd: {
      if (rfd < 0) return -EPROTO;
      char byte;
      int got = -1;
      const ssize_t n = RecvWithFd(rfd, &byte, 1, &got);
      if (n < 0) return n;
      if (got < 0) return -EPROTO;
      return got;
    }
    case kOpIoctl:
      return Result(::ioctl(req.fd, req.cmd, static_cast<unsigned long>(req.addr)));
    case kOpRead:
      return Result(::read(req.fd, reinterpret_cast<void*>(req.addr), req.len));
    case kOpWrite:
      return Result(::write(req.fd, reinterpret_cast<const void*>(req.addr), req.len));
    case kOpMmap: {
      void* p = ::mmap(reinterpret_cast<void*>(req.addr), req.len, req.prot, req.flags, req.fd,
                       static_cast<off_t>(req.offset));
      if (p == MAP_FAILED) return -static_cast<int64_t>(errno);
      return static_cast<int64_t>(reinterpret_cast<uintptr_t>(p));
    }
    case kOpMunmap:
      return Result(::munmap(reinterpret_cast<void*>(req.addr), req.len));
    case kOpPeek: {
      if (req.len > kMaxChunk) return -EINVAL;
      if (!GuardedCopy(g_out, reinterpret_cast<const volatile uint8_t*>(req.addr), req.len)) return -EFAULT;
      *out_len = req.len;
      return 0;
    }
    case kOpPoke: {
      if (payload_len != req.len) return -EINVAL;
      if (!GuardedCopy(reinterpret_cast<volatile uint8_t*>(req.addr), payload, payload_len)) return -EFAULT;
      return 0;
    }
    default:
      return -EPROTO;
  }
}

// The worker's request loop: it only ever leaves through _exit().
[[noreturn]] void WorkerLoop() {
  for (;;) {
    int rfd = -1;
    const ssize_t n = RecvWithFd(KernelBackend::kControlFd, g_in, sizeof(g_in), &rfd);
    if (n <= 0) _exit(0);  // the controller is gone
    if (static_cast<size_t>(n) < sizeof(Request)) {
      if (rfd >= 0) ::close(rfd);
      Reply(-EPROTO);
      continue;
    }
    Request req;
    std::memcpy(&req, g_in, sizeof(req));
    if (req.op == kOpOpenTransferSlot) {
      if (rfd >= 0) ::close(rfd);
      Reply(SetNofile(KernelBackend::kTransferFd + 1));
      continue;
    }
    if (rfd >= 0) {
      rfd = ParkTransfer(rfd);
      if (rfd < 0) {
        DropTransfer();
        Reply(rfd);
        continue;
      }
    }
    if (req.op == kOpExit) {
      if (rfd >= 0) ::close(rfd);
      Reply(0);
      _exit(0);
    }
    if (req.op == kOpFork) {
      if (rfd < 0) {
        Reply(-EPROTO);
        continue;
      }
      const pid_t pid = ::fork();
      if (pid == 0) {
        // The child: its own control channel replaces the parent's at kControlFd.
        if (dup2(rfd, KernelBackend::kControlFd) < 0) _exit(1);
        DropTransfer();
        Reply(0);
        continue;
      }
      const int64_t ret = pid < 0 ? -static_cast<int64_t>(errno) : pid;
      DropTransfer();
      Reply(ret);
      continue;
    }
    size_t out_len = 0;
    const int64_t ret = Serve(req, g_in + sizeof(Request), static_cast<size_t>(n) - sizeof(Request), rfd, &out_len);
    if (rfd >= 0) DropTransfer();
    Reply(ret, g_out, out_len);
  }
}

// The child side of spawn(): becomes a worker with `sock` as its control channel. Never returns.
[[noreturn]] void WorkerMain(int sock, const char* comm) {
  auto fail = [sock](int err) {
    Response resp;
    resp.ret = -err;
    ssize_t ignored = send(sock, &resp, sizeof(resp), MSG_NOSIGNAL);
    (void)ignored;
    _exit(1);
  };
  if (prctl(PR_SET_NAME, comm, 0, 0, 0) != 0) fail(errno);
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) fail(errno);
  rl.rlim_cur = kWorkerNofile;
  if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < kWorkerNofile) rl.rlim_max = kWorkerNofile;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) fail(errno);
  if (sock != KernelBackend::kControlFd && dup2(sock, KernelBackend::kControlFd) < 0) fail(errno);
  CloseAllExcept(KernelBackend::kControlFd);

  struct sigaction sa = {};
  sa.sa_handler = OnFault;
  sa.sa_flags = SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, nullptr);
  sigaction(SIGBUS, &sa, nullptr);
  // Children of a worker are reaped by the kernel; a peer that went away is an EPIPE, not a signal.
  signal(SIGCHLD, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  sigset_t unblock;
  sigemptyset(&unblock);
  sigaddset(&unblock, SIGSEGV);
  sigaddset(&unblock, SIGBUS);
  sigprocmask(SIG_UNBLOCK, &unblock, nullptr);
  Reply(0);
  WorkerLoop();
}

// --- controller side -----------------------------------------------------------------------------------------

// True once the process has exited (a zombie or gone).
bool ProcessGone(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", static_cast<int>(pid));
  FILE* f = std::fopen(path, "re");
  if (!f) return true;
  char buf[512];
  const size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  const char* paren = std::strrchr(buf, ')');
  return paren && (paren[2] == 'Z' || paren[2] == 'X');
}

}  // namespace

ErrnoOr<std::unique_ptr<KernelBackend>> KernelBackend::Create(const KernelBackendOptions& options) {
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) return Errno(-errno);
  return std::unique_ptr<KernelBackend>(new KernelBackend(options));
}

KernelBackend::~KernelBackend() { ExitAll(); }

int KernelBackend::ExitAll() {
  int n = 0;
  while (!workers_.empty()) {
    exit(workers_.begin()->first).IgnoreError();
    n++;
  }
  return n;
}

void KernelBackend::Reap(Worker& w) {
  if (w.pidfd >= 0) {
    pollfd p = {w.pidfd, POLLIN, 0};
    while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
    }
  } else {
    while (!ProcessGone(w.pid)) usleep(1000);
  }
  int status = 0;
  pid_t got;
  do {
    got = waitpid(w.pid, &status, WNOHANG | __WALL);
  } while (got < 0 && errno == EINTR);
  if (got == w.pid && WIFSIGNALED(status)) {
    std::fprintf(stderr, "kernel backend: worker %d died of signal %d\n", static_cast<int>(w.pid),
                 WTERMSIG(status));
  }
  if (w.ctl >= 0) ::close(w.ctl);
  if (w.pidfd >= 0) ::close(w.pidfd);
  w.ctl = w.pidfd = -1;
}

ErrnoOr<ProcId> KernelBackend::Adopt(pid_t pid, int ctl) {
  Worker w;
  w.pid = pid;
  w.ctl = ctl;
  const long pidfd = syscall(SYS_pidfd_open, pid, 0);
  w.pidfd = pidfd >= 0 ? static_cast<int>(pidfd) : -1;
  Response resp;
  ssize_t n;
  do {
    n = ::recv(ctl, &resp, sizeof(resp), 0);
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(sizeof(resp)) || resp.ret != 0) {
    const int64_t err = n < 0 ? -errno : n == static_cast<ssize_t>(sizeof(resp)) ? resp.ret : -ECHILD;
    Reap(w);
    return Errno(static_cast<int>(err));
  }
  workers_[pid] = w;
  return pid;
}

ErrnoOr<ProcId> KernelBackend::spawn(const std::string& comm) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return Errno(-errno);
  // PR_SET_NAME keeps 15 characters; so does the copy made here before fork().
  char name[16];
  std::snprintf(name, sizeof(name), "%s", comm.c_str());
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    ::close(sv[0]);
    ::close(sv[1]);
    return Errno(-err);
  }
  if (pid == 0) WorkerMain(sv[1], name);
  ::close(sv[1]);
  return Adopt(pid, sv[0]);
}

ErrnoOr<ProcId> KernelBackend::fork(ProcId parent) {
  if (workers_.find(parent) == workers_.end()) return Errno(-ESRCH);
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return Errno(-errno);
  Request req;
  req.op = kOpFork;
  size_t out_len = 0;
  ErrnoOr<int64_t> ret = Call(parent, req, nullptr, 0, sv[1], nullptr, 0, &out_len);
  ::close(sv[1]);
  if (!ret.ok() || ret.value() < 0) {
    ::close(sv[0]);
    return ret.ok() ? Errno(static_cast<int>(ret.value())) : ret.error();
  }
  return Adopt(static_cast<pid_t>(ret.value()), sv[0]);
}

Errno KernelBackend::exit(ProcId proc) {
  Request req;
  req.op = kOpExit;
  size_t out_len = 0;
  ErrnoOr<int64_t> ret = Call(proc, req, nullptr, 0, -1, nullptr, 0, &out_len);
  if (!ret.ok()) return ret.error();
  auto it = workers_.find(proc);
  if (it != workers_.end()) {
    Reap(it->second);
    workers_.erase(it);
  }
  return Errno::Ok();
}

ErrnoOr<int64_t> KernelBackend::Call(ProcId proc, const Request& req, const void* payload, size_t payload_len,
                                     int send_fd, void* out, size_t out_cap, size_t* out_len) {
  *out_len = 0;
  auto it = workers_.find(proc);
  if (it == workers_.end()) return Errno(-ESRCH);
  Worker& w = it->second;
  if (send_fd >= 0) {
    Request slot;
    slot.op = kOpOpenTransferSlot;
    size_t ignored;
    ErrnoOr<int64_t> r = Call(proc, slot, nullptr, 0, -1, nullptr, 0, &ignored);
    if (!r.ok() || r.value() < 0) return r;
  }
  iovec iov[2] = {{const_cast<Request*>(&req), sizeof(req)}, {const_cast<void*>(payload), payload_len}};
  int err = SendWithFd(w.ctl, iov, payload_len > 0 ? 2 : 1, send_fd);
  Response resp;
  if (err == 0) {
    iovec riov[2] = {{&resp, sizeof(resp)}, {out, out_cap}};
    msghdr msg = {};
    msg.msg_iov = riov;
    msg.msg_iovlen = out_cap > 0 ? 2 : 1;
    ssize_t n;
    do {
      n = recvmsg(w.ctl, &msg, 0);
    } while (n < 0 && errno == EINTR);
    if (n >= static_cast<ssize_t>(sizeof(resp))) {
      *out_len = static_cast<size_t>(n) - sizeof(resp);
      return resp.ret;
    }
    err = n < 0 ? -errno : -EPIPE;
  }
  // The worker is gone (it crashed or was killed): reap it; the process no longer exists.
  std::fprintf(stderr, "kernel backend: worker %d is gone (%s)\n", static_cast<int>(w.pid), std::strerror(-err));
  ::kill(w.pid, SIGKILL);
  Reap(w);
  workers_.erase(it);
  return Errno(-ESRCH);
}

namespace {

// A worker's result as an ErrnoOr<T>.
template <typename T>
ErrnoOr<T> AsResult(const ErrnoOr<int64_t>& r) {
  if (!r.ok()) return r.error();
  if (r.value() < 0) return Errno(static_cast<int>(r.value()));
  return static_cast<T>(r.value());
}

Errno AsErrno(const ErrnoOr<int64_t>& r) {
  if (!r.ok()) return r.error();
  return r.value() < 0 ? Errno(static_cast<int>(r.value())) : Errno::Ok();
}

}  // namespace

ErrnoOr<int> KernelBackend::open(ProcId proc, const std::string& path, unsigned int flags) {
  const size_t len = std::strlen(path.c_str()) + 1;
  if (len > kMaxChunk) return Errno(-ENAMETOOLONG);
  Request req;
  req.op = kOpOpen;
  req.cmd = flags;
  size_t out_len;
  return AsResult<int>(Call(proc, req, path.c_str(), len, -1, nullptr, 0, &out_len));
}

Errno KernelBackend::close(ProcId proc, int fd) {
  Request req;
  req.op = kOpClose;
  req.fd = fd;
  size_t out_len;
  return AsErrno(Call(proc, req, nullptr, 0, -1, nullptr, 0, &out_len));
}

ErrnoOr<int> KernelBackend::dup(ProcId proc, int fd) {
  Request req;
  req.op = kOpDup;
  req.fd = fd;
  size_t out_len;
  return AsResult<int>(Call(proc, req, nullptr, 0, -1, nullptr, 0, &out_len));
}

ErrnoOr<int> KernelBackend::pass_fd(ProcId from, int fd, ProcId to) {
  if (workers_.find(from) == workers_.end() || workers_.find(to) == workers_.end()) return Errno(-ESRCH);
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return Errno(-errno);
  Request req;
  req.op = kOpSendFd;
  req.fd = fd;
  size_t out_len;
  ErrnoOr<int64_t> sent = Call(from, req, nullptr, 0, sv[0], nullptr, 0, &out_len);
  ::close(sv[0]);
  if (!sent.ok() || sent.value() < 0) {
    ::close(sv[1]);
    return AsResult<int>(sent);
  }
  req.op = kOpRecvFd;
  req.fd = -1;
  ErrnoOr<int64_t> got = Call(to, req, nullptr, 0, sv[1], nullptr, 0, &out_len);
  ::close(sv[1]);
  return AsResult<int>(got);
}

ErrnoOr<long> KernelBackend::ioctl(ProcId proc, int fd, unsigned int cmd, uint64_t arg) {
  Request req;
  req.op = kOpIoctl;
  req.fd = fd;
  req.cmd = cmd;
  req.addr = arg;
  size_t out_len;
  return AsResult<long>(Call(proc, req, nullptr, 0, -1, nullptr, 0, &out_len));
}

ErrnoOr<long> KernelBackend::read(ProcId proc, int fd, uint64_t buf, size_t count) {
  Request req;
  req.op = kOpRead;
  req.fd = fd;
  req.addr = buf;
  req.len = count;
  size_t out_len;
  return AsResult<long>(Call(proc, req, nullptr, 0, -1, nullptr, 0, &out_len));
}

ErrnoOr<long> KernelBackend::write(ProcId proc, int fd, uint64_t buf, size_t count) {
  Request req;
  req.op = kOpWrite;
  req.fd = fd;
  req.addr = buf;
  req.len = count;
  size_t out_len;
  return AsResult<long>(Call(proc, req, nullptr, 0, -1, nullptr, 0, &out_len));
}

ErrnoOr<uint64_t> KernelBackend::mmap(ProcId proc, uint64_t addr, size_t len, int prot, int flags, int fd,
                                      uint64_t offset) {
  Request req;
  req.op = kOpMmap;
  req.fd = fd;
  req.prot = prot;
  req.flags = flags;
  req.addr = addr;
  req.len = len;
  req.offset = offset;
  size_t out_len;
  return AsResult<uint64_t>(Call(proc, req, nullptr, 0, -1, nullptr, 0, &out_len));
}

Errno KernelBackend::munmap(ProcId proc, uint64_t addr, size_t len) {
  Request req;
  req.op = kOpMunmap;
  req.addr = addr;
  req.len = len;
  size_t out_len;
  return AsErrno(Call(proc, req, nullptr, 0, -1, nullptr, 0, &out_len));
}

Errno KernelBackend::peek(ProcId proc, uint64_t addr, void* buf, size_t len) {
  uint8_t* dst = static_cast<uint8_t*>(buf);
  if (len == 0 && workers_.find(proc) == workers_.end()) return Errno(-ESRCH);
  for (size_t done = 0; done < len;) {
    const size_t chunk = len - done < kMaxChunk ? len - done : kMaxChunk;
    Request req;
    req.op = kOpPeek;
    req.addr = addr + done;
    req.len = chunk;
    size_t out_len = 0;
    ErrnoOr<int64_t> r = Call(proc, req, nullptr, 0, -1, dst + done, chunk, &out_len);
    ION_RETURN_IF_ERROR(AsErrno(r));
    if (out_len != chunk) return Errno(-EPROTO);
    done += chunk;
  }
  return Errno::Ok();
}

Errno KernelBackend::poke(ProcId proc, uint64_t addr, const void* buf, size_t len) {
  const uint8_t* src = static_cast<const uint8_t*>(buf);
  if (len == 0 && workers_.find(proc) == workers_.end()) return Errno(-ESRCH);
  for (size_t done = 0; done < len;) {
    const size_t chunk = len - done < kMaxChunk ? len - done : kMaxChunk;
    Request req;
    req.op = kOpPoke;
    req.addr = addr + done;
    req.len = chunk;
    size_t out_len = 0;
    ION_RETURN_IF_ERROR(AsErrno(Call(proc, req, src + done, chunk, -1, nullptr, 0, &out_len)));
    done += chunk;
  }
  return Errno::Ok();
}

std::string KernelBackend::DebugfsPath(const std::string& path) const { return options_.debugfs_root + "/" + path; }

ErrnoOr<std::string> KernelBackend::debugfs_read(const std::string& path) {
  const int fd = ::open(DebugfsPath(path).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno(-errno);
  std::string text;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return Errno(-err);
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return text;
}

Errno KernelBackend::debugfs_write(const std::string& path, const std::string& text) {
  const int fd = ::open(DebugfsPath(path).c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Errno(-errno);
  ssize_t n;
  do {
    n = ::write(fd, text.data(), text.size());
  } while (n < 0 && errno == EINTR);
  const int err = n < 0 ? errno : 0;
  ::close(fd);
  return err ? Errno(-err) : Errno::Ok();
}

Errno KernelBackend::run_deferred_free() { return debugfs_write("ion/drain", "1\n"); }

ErrnoOr<std::string> KernelBackend::canonical_dump() { return debugfs_read("ion/state"); }

}  // namespace ionsim
