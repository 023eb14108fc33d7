// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// libionsim-preload.so: `LD_PRELOAD=libionsim-preload.so PROGRAM` runs an unmodified, dynamically linked
// program with /dev/ion and /sys/kernel/debug/ion/... served by the ionsim model (tools/preload/interposer.h says
// how and what is not covered); every other file and system call goes to the real kernel untouched.
//
// The machine boots on the first open of a path the model serves. Configuration by environment:
//   IONSIM_BOARD    an embedded board's name or a board file (docs/boards.md); default "dummy"
//   IONSIM_PROFILE  an ION profile (docs/profiles.md); default the board's
//   IONSIM_REPORT   a file the exit report is appended to: kernel events (WARN, BUG...), invariant violations and
//                   the teardown leak report of the machine, nothing when clean. Without it a non-empty report
//                   goes to stderr.
// A configuration error (an unknown board or profile) fails the open with ENODEV and says why on stderr.
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>

#include "tools/preload/interposer.h"

namespace {

using ionsim::Interposer;

Interposer* g_ip = nullptr;
std::mutex g_boot_mu;
bool g_boot_failed = false;
// Set while this thread is inside the interposer: the model's own system calls go straight to the kernel.
thread_local bool t_busy = false;

class BusyScope {
 public:
  BusyScope() : prev_(t_busy) { t_busy = true; }
  ~BusyScope() { t_busy = prev_; }

 private:
  bool prev_;
};

template <typename Fn>
Fn Real(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

long SetErrno(long ret) {
  if (ret < 0) {
    errno = static_cast<int>(-ret);
    return -1;
  }
  return ret;
}

void WriteReport(const std::string& report) {
  if (report.empty()) return;
  const char* path = getenv("IONSIM_REPORT");
  if (path != nullptr && *path != '\0') {
    const int fd = static_cast<int>(syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (fd >= 0) {
      size_t done = 0;
      while (done < report.size()) {
        const long n = syscall(SYS_write, fd, report.data() + done, report.size() - done);
        if (n <= 0) break;
        done += static_cast<size_t>(n);
      }
      syscall(SYS_close, fd);
      return;
    }
  }
  std::fprintf(stderr, "ionsim: %s", report.c_str());
}

void AtExit() {
  if (g_ip == nullptr) return;
  BusyScope busy;
  WriteReport(g_ip->Exit());
}

std::string ProcessName() {
  char buf[64] = {0};
  const int fd = static_cast<int>(syscall(SYS_openat, AT_FDCWD, "/proc/self/comm", O_RDONLY | O_CLOEXEC));
  if (fd < 0) return "prog";
  const long n = syscall(SYS_read, fd, buf, sizeof(buf) - 1);
  syscall(SYS_close, fd);
  std::string name(buf, n > 0 ? static_cast<size_t>(n) : 0);
  while (!name.empty() && name.back() == '\n') name.pop_back();
  return name.empty() ? "prog" : name;
}

// The interposer, booted on first use; NULL when the configuration is bad.
Interposer* Boot() {
  std::lock_guard<std::mutex> lock(g_boot_mu);
  if (g_ip != nullptr || g_boot_failed) return g_ip;
  ionsim::InterposerOptions options;
  if (const char* board = getenv("IONSIM_BOARD"); board != nullptr && *board != '\0') {
    options.board = board;
    struct stat st;
    if (stat(board, &st) == 0 && S_ISREG(st.st_mode)) {
      std::ifstream in(board);
      std::stringstream text;
      text << in.rdbuf();
      options.board = text.str();
    }
  }
  if (const char* profile = getenv("IONSIM_PROFILE"); profile != nullptr) options.profile = profile;
  options.comm = ProcessName();
  std::string error;
  std::unique_ptr<Interposer> ip = Interposer::Create(options, &error);
  if (ip == nullptr) {
    std::fprintf(stderr, "ionsim: %s\n", error.c_str());
    g_boot_failed = true;
    return nullptr;
  }
  g_ip = ip.release();
  atexit(AtExit);
  return g_ip;
}

bool ModelFd(int fd) { return !t_busy && g_ip != nullptr && g_ip->IsModelFd(fd); }

int OpenModel(const char* path, int flags) {
  BusyScope busy;
  Interposer* ip = Boot();
  if (ip == nullptr) return static_cast<int>(SetErrno(-ENODEV));
  return static_cast<int>(SetErrno(ip->Open(path, flags)));
}

mode_t ModeArg(int flags, va_list ap) {
  return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? static_cast<mode_t>(va_arg(ap, int)) : 0;
}

// The model's side of the exit paths that skip atexit().
void ExitNow() { AtExit(); }

}  // namespace

extern "C" {

#define IONSIM_EXPORT __attribute__((visibility("default")))

IONSIM_EXPORT int open(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = ModeArg(flags, ap);
  va_end(ap);
  if (!t_busy && Interposer::ServesPath(path)) return OpenModel(path, flags);
  static auto real = Real<int (*)(const char*, int, ...)>("open");
  return real(path, flags, mode);
}

IONSIM_EXPORT int open64(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = ModeArg(flags, ap);
  va_end(ap);
  if (!t_busy && Interposer::ServesPath(path)) return OpenModel(path, flags);
  static auto real = Real<int (*)(const char*, int, ...)>("open64");
  return real(path, flags, mode);
}

IONSIM_EXPORT int __open_2(const char* path, int flags) {
  if (!t_busy && Interposer::ServesPath(path)) return OpenModel(path, flags);
  static auto real = Real<int (*)(const char*, int)>("__open_2");
  return real(path, flags);
}

IONSIM_EXPORT int __open64_2(const char* path, int flags) {
  if (!t_busy && Interposer::ServesPath(path)) return OpenModel(path, flags);
  static auto real = Real<int (*)(const char*, int)>("__open64_2");
  return real(path, flags);
}

IONSIM_EXPORT int openat(int dirfd, const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = ModeArg(flags, ap);
  va_end(ap);
  if (!t_busy && Interposer::ServesPath(path)) return OpenModel(path, flags);  // absolute: dirfd is ignored
  static auto real = Real<int (*)(int, const char*, int, ...)>("openat");
  return real(dirfd, path, flags, mode);
}

IONSIM_EXPORT int openat64(int dirfd, const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = ModeArg(flags, ap);
  va_end(ap);
  if (!t_busy && Interposer::ServesPath(path)) return OpenModel(path, flags);
  static auto real = Real<int (*)(int, const char*, int, ...)>("openat64");
  return real(dirfd, path, flags, mode);
}

IONSIM_EXPORT int __openat_2(int dirfd, const char* path, int flags) {
  if (!t_busy && Interposer::ServesPath(path)) return OpenModel(path, flags);
  static auto real = Real<int (*)(int, const char*, int)>("__openat_2");
  return real(dirfd, path, flags);
}

IONSIM_EXPORT int close(int fd) {
  if (ModelFd(fd)) {
    BusyScope busy;
    return static_cast<int>(SetErrno(g_ip->Close(fd)));
  }
  static auto real = Real<int (*)(int)>("close");
  return real(fd);
}

IONSIM_EXPORT int ioctl(int fd, unsigned long request, ...) {
  va_list ap;
  va_start(ap, request);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  if (ModelFd(fd)) {
    BusyScope busy;
    return static_cast<int>(SetErrno(g_ip->Ioctl(fd, request, arg)));
  }
  static auto real = Real<int (*)(int, unsigned long, ...)>("ioctl");
  return real(fd, request, arg);
}

IONSIM_EXPORT ssize_t read(int fd, void* buf, size_t count) {
  if (ModelFd(fd)) {
    BusyScope busy;
    return SetErrno(g_ip->Read(fd, buf, count));
  }
  static auto real = Real<ssize_t (*)(int, void*, size_t)>("read");
  return real(fd, buf, count);
}

IONSIM_EXPORT ssize_t __read_chk(int fd, void* buf, size_t count, size_t buflen) {
  if (count > buflen) std::abort();  // what glibc's __chk_fail does, minus the message
  return read(fd, buf, count);
}

IONSIM_EXPORT ssize_t write(int fd, const void* buf, size_t count) {
  if (ModelFd(fd)) {
    BusyScope busy;
    return SetErrno(g_ip->Write(fd, buf, count));
  }
  static auto real = Real<ssize_t (*)(int, const void*, size_t)>("write");
  return real(fd, buf, count);
}

IONSIM_EXPORT off_t lseek(int fd, off_t offset, int whence) {
  if (ModelFd(fd)) {
    BusyScope busy;
    return SetErrno(g_ip->Lseek(fd, offset, whence));
  }
  static auto real = Real<off_t (*)(int, off_t, int)>("lseek");
  return real(fd, offset, whence);
}

IONSIM_EXPORT off_t lseek64(int fd, off_t offset, int whence) {
  if (ModelFd(fd)) {
    BusyScope busy;
    return SetErrno(g_ip->Lseek(fd, offset, whence));
  }
  static auto real = Real<off_t (*)(int, off_t, int)>("lseek64");
  return real(fd, offset, whence);
}

IONSIM_EXPORT void* mmap(void* addr, size_t len, int prot, int flags, int fd, off_t offset) {
  if (ModelFd(fd) && !(flags & MAP_ANONYMOUS)) {
    BusyScope busy;
    const long ret = g_ip->Mmap(addr, len, prot, flags, fd, offset);
    if (ret < 0 && ret > -4096) {
      errno = static_cast<int>(-ret);
      return MAP_FAILED;
    }
    return reinterpret_cast<void*>(ret);
  }
  if (!t_busy && g_ip != nullptr && (flags & MAP_FIXED) && g_ip->OverlapsModelMapping(addr, len)) {
    BusyScope busy;
    g_ip->ForgetRange(addr, len);
  }
  static auto real = Real<void* (*)(void*, size_t, int, int, int, off_t)>("mmap");
  return real(addr, len, prot, flags, fd, offset);
}

IONSIM_EXPORT void* mmap64(void* addr, size_t len, int prot, int flags, int fd, off_t offset) {
  return mmap(addr, len, prot, flags, fd, offset);
}

IONSIM_EXPORT int munmap(void* addr, size_t len) {
  if (!t_busy && g_ip != nullptr && g_ip->OverlapsModelMapping(addr, len)) {
    BusyScope busy;
    return static_cast<int>(SetErrno(g_ip->Munmap(addr, len)));
  }
  static auto real = Real<int (*)(void*, size_t)>("munmap");
  return real(addr, len);
}

IONSIM_EXPORT int dup(int fd) {
  if (ModelFd(fd)) {
    BusyScope busy;
    return static_cast<int>(SetErrno(g_ip->Dup(fd)));
  }
  static auto real = Real<int (*)(int)>("dup");
  return real(fd);
}

IONSIM_EXPORT int dup2(int oldfd, int newfd) {
  if (ModelFd(oldfd) || ModelFd(newfd)) {
    BusyScope busy;
    return static_cast<int>(SetErrno(g_ip->Dup3(oldfd, newfd, 0, false)));
  }
  static auto real = Real<int (*)(int, int)>("dup2");
  return real(oldfd, newfd);
}

IONSIM_EXPORT int dup3(int oldfd, int newfd, int flags) {
  if (ModelFd(oldfd) || ModelFd(newfd)) {
    BusyScope busy;
    return static_cast<int>(SetErrno(g_ip->Dup3(oldfd, newfd, flags, true)));
  }
  static auto real = Real<int (*)(int, int, int)>("dup3");
  return real(oldfd, newfd, flags);
}

// fcntl() and fcntl64() of a model fd go to the model; of any other fd to the real function.
static int Fcntl(int (*real)(int, int, ...), int fd, int cmd, long arg) {
  if (ModelFd(fd)) {
    BusyScope busy;
    return static_cast<int>(SetErrno(g_ip->Fcntl(fd, cmd, arg)));
  }
  return real(fd, cmd, arg);
}

IONSIM_EXPORT int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  const long arg = va_arg(ap, long);
  va_end(ap);
  static auto real = Real<int (*)(int, int, ...)>("fcntl");
  return Fcntl(real, fd, cmd, arg);
}

IONSIM_EXPORT int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  const long arg = va_arg(ap, long);
  va_end(ap);
  static auto real = Real<int (*)(int, int, ...)>("fcntl64");
  return Fcntl(real, fd, cmd, arg);
}

IONSIM_EXPORT pid_t fork(void) {
  static auto real = Real<pid_t (*)()>("fork");
  if (t_busy || g_ip == nullptr) return real();
  BusyScope busy;
  return g_ip->Fork(real);
}

IONSIM_EXPORT void _exit(int status) {
  static auto real = Real<void (*)(int)>("_exit");
  if (!t_busy) ExitNow();
  real(status);
  __builtin_unreachable();
}

IONSIM_EXPORT void _Exit(int status) {
  static auto real = Real<void (*)(int)>("_Exit");
  if (!t_busy) ExitNow();
  real(status);
  __builtin_unreachable();
}

}  // extern "C"
