// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The kernel backend's process machinery on the host, without ION: workers are real processes whose fd numbers,
// fork, fd passing, memory and exit behave as the syscalls do (model/backend/kernel_backend.h).
#include "model/backend/kernel_backend.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace ionsim {
namespace {

constexpr size_t kPage = 4096;

class KernelBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ErrnoOr<std::unique_ptr<KernelBackend>> b = KernelBackend::Create();
    ASSERT_TRUE(b.ok()) << b.error();
    backend_ = std::move(b).value();
  }

  ProcId Spawn(const std::string& comm) {
    ErrnoOr<ProcId> p = backend_->spawn(comm);
    EXPECT_TRUE(p.ok()) << p.error();
    return p.ok() ? p.value() : -1;
  }

  int OpenNull(ProcId p) {
    ErrnoOr<int> fd = backend_->open(p, "/dev/null", O_RDWR);
    EXPECT_TRUE(fd.ok()) << fd.error();
    return fd.ok() ? fd.value() : -1;
  }

  uint64_t MapAnon(ProcId p, size_t len, int prot = PROT_READ | PROT_WRITE) {
    ErrnoOr<uint64_t> a = backend_->mmap(p, 0, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT_TRUE(a.ok()) << a.error();
    return a.ok() ? a.value() : 0;
  }

  std::unique_ptr<KernelBackend> backend_;
};

bool ProcessExists(pid_t pid) { return ::kill(pid, 0) == 0; }

TEST_F(KernelBackendTest, SpawnedProcessSeesNoFdAndGetsLowestFree) {
  const ProcId p = Spawn("app");
  EXPECT_EQ(OpenNull(p), 0);
  EXPECT_EQ(OpenNull(p), 1);
  EXPECT_EQ(OpenNull(p), 2);
  EXPECT_TRUE(backend_->close(p, 1).ok());
  EXPECT_EQ(OpenNull(p), 1);
  ErrnoOr<int> d = backend_->dup(p, 0);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.value(), 3);
  EXPECT_EQ(backend_->close(p, 7), Errno(-EBADF));
}

TEST_F(KernelBackendTest, TheBackendsOwnFdsAreBeyondTheProcessTable) {
  const ProcId p = Spawn("app");
  EXPECT_EQ(backend_->close(p, KernelBackend::kControlFd), Errno(-EBADF));
  EXPECT_EQ(backend_->dup(p, KernelBackend::kControlFd).error(), Errno(-EBADF));
  EXPECT_EQ(backend_->close(p, KernelBackend::kTransferFd), Errno(-EBADF));
  EXPECT_EQ(backend_->ioctl(p, KernelBackend::kControlFd, 0, 0).error(), Errno(-EBADF));
  EXPECT_EQ(backend_->mmap(p, 0, kPage, PROT_READ, MAP_SHARED, KernelBackend::kControlFd, 0).error(), Errno(-EBADF));
  EXPECT_TRUE(backend_->mmap(p, 0, kPage, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, KernelBackend::kControlFd, 0).ok());
  EXPECT_EQ(OpenNull(p), 0);
}

TEST_F(KernelBackendTest, ProcIdIsThePidAndCommIsSetTo15Characters) {
  const ProcId p = Spawn("a-very-long-process-name");
  std::ifstream comm("/proc/" + std::to_string(p) + "/comm");
  std::string name;
  std::getline(comm, name);
  EXPECT_EQ(name, "a-very-long-pro");
}

TEST_F(KernelBackendTest, TheFdTableHolds1024FdsThenEmfile) {
  const ProcId p = Spawn("app");
  for (int i = 0; i < KernelBackend::kMaxProcessFds; i++) ASSERT_EQ(OpenNull(p), i);
  EXPECT_EQ(backend_->open(p, "/dev/null", O_RDONLY).error(), Errno(-EMFILE));
  EXPECT_EQ(backend_->dup(p, 0).error(), Errno(-EMFILE));
  // A full table still sends and forks.
  ErrnoOr<ProcId> child = backend_->fork(p);
  ASSERT_TRUE(child.ok()) << child.error();
  EXPECT_EQ(backend_->open(child.value(), "/dev/null", O_RDONLY).error(), Errno(-EMFILE));
  EXPECT_TRUE(backend_->exit(child.value()).ok());
  const ProcId q = Spawn("peer");
  EXPECT_EQ(OpenNull(q), 0);
  EXPECT_EQ(backend_->pass_fd(q, 0, p).error(), Errno(-EMFILE));
  ErrnoOr<int> back = backend_->pass_fd(p, 1023, q);
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(back.value(), 1);
  EXPECT_EQ(backend_->open(p, "/dev/null", O_RDONLY).error(), Errno(-EMFILE)) << "the slot closed again";
  EXPECT_TRUE(backend_->close(p, 500).ok());
  ErrnoOr<int> got = backend_->pass_fd(q, 0, p);
  ASSERT_TRUE(got.ok()) << got.error();
  EXPECT_EQ(got.value(), 500);
}

TEST_F(KernelBackendTest, PassFdGivesTheReceiverItsLowestFreeFdAndKeepsTheSendersOpen) {
  const ProcId a = Spawn("sender");
  const ProcId b = Spawn("receiver");
  EXPECT_EQ(OpenNull(a), 0);
  EXPECT_EQ(OpenNull(a), 1);
  EXPECT_EQ(OpenNull(b), 0);
  ErrnoOr<int> got = backend_->pass_fd(a, 1, b);
  ASSERT_TRUE(got.ok()) << got.error();
  EXPECT_EQ(got.value(), 1);
  EXPECT_EQ(OpenNull(b), 2) << "the transfer socket left no fd behind";
  EXPECT_EQ(OpenNull(a), 2);
  EXPECT_TRUE(backend_->close(a, 1).ok());
  EXPECT_EQ(backend_->pass_fd(a, 1, b).error(), Errno(-EBADF));
  EXPECT_EQ(backend_->pass_fd(a, 0, 999999).error(), Errno(-ESRCH));
  // The passed fd is a real copy of the file: a pipe written in one process is read in the other.
}

TEST_F(KernelBackendTest, PassedFdRefersToTheSameOpenFile) {
  const ProcId a = Spawn("sender");
  const ProcId b = Spawn("receiver");
  // Both processes read /proc/self/fdinfo-independent state: the file offset is shared by the passed fd.
  ErrnoOr<int> fd = backend_->open(a, "/proc/self/cmdline", O_RDONLY);
  ASSERT_TRUE(fd.ok());
  const uint64_t buf_a = MapAnon(a, kPage);
  const uint64_t buf_b = MapAnon(b, kPage);
  ErrnoOr<long> n = backend_->read(a, fd.value(), buf_a, 1);
  ASSERT_TRUE(n.ok()) << n.error();
  EXPECT_EQ(n.value(), 1);
  ErrnoOr<int> got = backend_->pass_fd(a, fd.value(), b);
  ASSERT_TRUE(got.ok());
  // The receiver continues at the sender's offset (one open file, one f_pos).
  std::vector<char> whole(kPage), rest(kPage);
  ErrnoOr<long> m = backend_->read(b, got.value(), buf_b, kPage);
  ASSERT_TRUE(m.ok()) << m.error();
  ErrnoOr<long> end = backend_->read(a, fd.value(), buf_a, kPage);
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(end.value(), 0) << "the sender's fd shares the offset the receiver advanced";
}

TEST_F(KernelBackendTest, PeekAndPokeRoundTripAndFaultWithEfault) {
  const ProcId p = Spawn("app");
  const uint64_t addr = MapAnon(p, 3 * kPage);
  std::vector<uint8_t> data(3 * kPage);
  for (size_t i = 0; i < data.size(); i++) data[i] = static_cast<uint8_t>(i * 7);
  ASSERT_TRUE(backend_->poke(p, addr, data.data(), data.size()).ok());
  std::vector<uint8_t> back(data.size());
  ASSERT_TRUE(backend_->peek(p, addr, back.data(), back.size()).ok());
  EXPECT_EQ(back, data);
  uint8_t byte = 0;
  EXPECT_EQ(backend_->peek(p, 8, &byte, 1), Errno(-EFAULT));
  EXPECT_EQ(backend_->poke(p, 8, &byte, 1), Errno(-EFAULT));
  EXPECT_TRUE(backend_->munmap(p, addr + kPage, kPage).ok());
  EXPECT_EQ(backend_->peek(p, addr, back.data(), back.size()), Errno(-EFAULT));
  const uint64_t ro = MapAnon(p, kPage, PROT_READ);
  EXPECT_TRUE(backend_->peek(p, ro, &byte, 1).ok());
  EXPECT_EQ(byte, 0);
  EXPECT_EQ(backend_->poke(p, ro, &byte, 1), Errno(-EFAULT)) << "a store to a read-only mapping";
  // Large transfers cross the protocol's chunk size.
  const size_t big = 1 << 20;
  const uint64_t b = MapAnon(p, big);
  std::vector<uint8_t> pattern(big);
  for (size_t i = 0; i < big; i++) pattern[i] = static_cast<uint8_t>(i ^ (i >> 9));
  ASSERT_TRUE(backend_->poke(p, b, pattern.data(), big).ok());
  std::vector<uint8_t> got(big);
  ASSERT_TRUE(backend_->peek(p, b, got.data(), big).ok());
  EXPECT_EQ(got, pattern);
}

TEST_F(KernelBackendTest, SyscallErrnosAreTheKernels) {
  const ProcId p = Spawn("app");
  const uint64_t addr = MapAnon(p, kPage);
  EXPECT_EQ(backend_->open(p, "/nonexistent/file", O_RDONLY).error(), Errno(-ENOENT));
  EXPECT_EQ(backend_->read(p, 5, addr, 1).error(), Errno(-EBADF));
  ErrnoOr<int> zero = backend_->open(p, "/dev/zero", O_RDONLY);
  ASSERT_TRUE(zero.ok());
  EXPECT_EQ(backend_->read(p, zero.value(), 8, 16).error(), Errno(-EFAULT));
  EXPECT_EQ(backend_->ioctl(p, zero.value(), 0x1234, 0).error(), Errno(-ENOTTY));
  EXPECT_EQ(backend_->mmap(p, 0, kPage, PROT_READ, MAP_SHARED, 9, 0).error(), Errno(-EBADF));
  EXPECT_EQ(backend_->munmap(p, addr + 1, kPage), Errno(-EINVAL));
  EXPECT_EQ(backend_->open(p, std::string(5000, 'a'), O_RDONLY).error(), Errno(-ENAMETOOLONG));
}

TEST_F(KernelBackendTest, ForkSharesFilesAndCopiesAnonymousMemory) {
  const ProcId parent = Spawn("parent");
  EXPECT_EQ(OpenNull(parent), 0);
  const uint64_t addr = MapAnon(parent, kPage);
  const uint32_t before = 0x11223344;
  ASSERT_TRUE(backend_->poke(parent, addr, &before, sizeof(before)).ok());
  ErrnoOr<ProcId> child = backend_->fork(parent);
  ASSERT_TRUE(child.ok()) << child.error();
  EXPECT_NE(child.value(), parent);
  uint32_t seen = 0;
  ASSERT_TRUE(backend_->peek(child.value(), addr, &seen, sizeof(seen)).ok());
  EXPECT_EQ(seen, before);
  const uint32_t after = 0x55667788;
  ASSERT_TRUE(backend_->poke(child.value(), addr, &after, sizeof(after)).ok());
  ASSERT_TRUE(backend_->peek(parent, addr, &seen, sizeof(seen)).ok());
  EXPECT_EQ(seen, before) << "the child's store went to its own copy";
  EXPECT_EQ(OpenNull(child.value()), 1) << "the child inherited fd 0 and nothing else";
  EXPECT_TRUE(backend_->close(child.value(), 0).ok());
  EXPECT_TRUE(backend_->close(parent, 0).ok());
  EXPECT_EQ(backend_->fork(424242).error(), Errno(-ESRCH));
}

TEST_F(KernelBackendTest, ExitEndsTheProcessAndLaterCallsGetEsrch) {
  const ProcId p = Spawn("app");
  ErrnoOr<ProcId> child = backend_->fork(p);
  ASSERT_TRUE(child.ok());
  ErrnoOr<ProcId> grandchild = backend_->fork(child.value());
  ASSERT_TRUE(grandchild.ok());
  EXPECT_TRUE(backend_->exit(child.value()).ok());
  EXPECT_FALSE(ProcessExists(child.value()));
  EXPECT_EQ(backend_->exit(child.value()), Errno(-ESRCH));
  EXPECT_EQ(backend_->open(child.value(), "/dev/null", O_RDONLY).error(), Errno(-ESRCH));
  // The orphaned grandchild still works, and is reaped when it exits (the controller is its subreaper).
  EXPECT_EQ(OpenNull(grandchild.value()), 0);
  EXPECT_TRUE(backend_->exit(grandchild.value()).ok());
  EXPECT_FALSE(ProcessExists(grandchild.value()));
  EXPECT_EQ(backend_->live_processes(), 1u);
  EXPECT_EQ(backend_->ExitAll(), 1);
  EXPECT_FALSE(ProcessExists(p));
}

TEST_F(KernelBackendTest, DestructionReapsEveryWorker) {
  std::vector<ProcId> pids;
  pids.push_back(Spawn("a"));
  pids.push_back(Spawn("b"));
  ErrnoOr<ProcId> c = backend_->fork(pids[0]);
  ASSERT_TRUE(c.ok());
  pids.push_back(c.value());
  backend_.reset();
  for (ProcId p : pids) EXPECT_FALSE(ProcessExists(p)) << p;
}

TEST_F(KernelBackendTest, DebugfsReadsAndWritesUnderItsRoot) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string root = std::string(tmp ? tmp : "/tmp");
  ::mkdir((root + "/ion").c_str(), 0755);
  {
    std::ofstream f(root + "/ion/state");
    f << "ionsim-state 1\n";
  }
  KernelBackendOptions options;
  options.debugfs_root = root;
  ErrnoOr<std::unique_ptr<KernelBackend>> b = KernelBackend::Create(options);
  ASSERT_TRUE(b.ok());
  ErrnoOr<std::string> dump = b.value()->canonical_dump();
  ASSERT_TRUE(dump.ok()) << dump.error();
  EXPECT_EQ(dump.value(), "ionsim-state 1\n");
  EXPECT_EQ(b.value()->debugfs_read("ion/missing").error(), Errno(-ENOENT));
  EXPECT_EQ(b.value()->run_deferred_free(), Errno(-ENOENT)) << "no ion/drain here";
  { std::ofstream drain(root + "/ion/drain"); }
  ASSERT_TRUE(b.value()->run_deferred_free().ok());
  EXPECT_EQ(b.value()->debugfs_read("ion/drain").value(), "1\n");
}

}  // namespace
}  // namespace ionsim
