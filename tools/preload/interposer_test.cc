// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "tools/preload/interposer.h"

// The model's headers before the system's (interposer.cc says why).
#include "kmod/uapi/ion.h"
#include "model/backend/model_backend.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "gtest/gtest.h"

namespace ionsim {
namespace {

constexpr unsigned int kSystemHeapMask = 1u << 0;  // the dummy board's system heap (id 0)
// _IOW('b', 0, struct dma_buf_sync)
constexpr unsigned long kDmaBufIoctlSync = 0x40086200;

pid_t RealFork() { return static_cast<pid_t>(syscall(SYS_fork)); }

class InterposerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    InterposerOptions options;
    options.comm = "interposer_test";
    std::string error;
    ip_ = Interposer::Create(options, &error);
    ASSERT_NE(ip_, nullptr) << error;
  }
  void TearDown() override {
    if (ip_) {
      EXPECT_EQ(ip_->Exit(), "");
    }
  }

  int OpenIon() {
    const long fd = ip_->Open("/dev/ion", O_RDONLY | O_CLOEXEC);
    EXPECT_GE(fd, 0);
    return static_cast<int>(fd);
  }

  // ION_IOC_ALLOC then SHARE: the real fd of the buffer.
  int AllocShared(int ion, size_t len, int* handle) {
    ion_allocation_data alloc = {len, 0, kSystemHeapMask, 0, 0};
    EXPECT_EQ(ip_->Ioctl(ion, ION_IOC_ALLOC, &alloc), 0);
    *handle = alloc.handle;
    ion_fd_data share = {alloc.handle, -1};
    EXPECT_EQ(ip_->Ioctl(ion, ION_IOC_SHARE, &share), 0);
    return share.fd;
  }

  std::unique_ptr<Interposer> ip_;
};

TEST_F(InterposerTest, ServesPathTakesIonAndItsDebugfsOnly) {
  EXPECT_TRUE(Interposer::ServesPath("/dev/ion"));
  EXPECT_TRUE(Interposer::ServesPath("/sys/kernel/debug/ion"));
  EXPECT_TRUE(Interposer::ServesPath("/sys/kernel/debug/ion/heaps/system"));
  EXPECT_FALSE(Interposer::ServesPath("/sys/kernel/debug/ionx"));
  EXPECT_FALSE(Interposer::ServesPath("/dev/ion2"));
  EXPECT_FALSE(Interposer::ServesPath("/dev/null"));
  EXPECT_FALSE(Interposer::ServesPath(nullptr));
}

TEST_F(InterposerTest, OpenGivesARealPlaceholderFd) {
  const int fd = OpenIon();
  EXPECT_TRUE(ip_->IsModelFd(fd));
  EXPECT_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);  // the real fd carries the open's O_CLOEXEC
  EXPECT_FALSE(ip_->IsModelFd(0));
  EXPECT_EQ(ip_->Open("/sys/kernel/debug/ion/nonexistent", O_RDONLY), -ENOENT);
  EXPECT_EQ(ip_->Close(fd), 0);
  EXPECT_FALSE(ip_->IsModelFd(fd));
  EXPECT_EQ(fcntl(fd, F_GETFD), -1);  // the placeholder went with it
}

TEST_F(InterposerTest, IoctlCopiesArgumentsAndTranslatesFds) {
  const int ion = OpenIon();
  int handle = 0;
  const int buf = AllocShared(ion, 8192, &handle);
  EXPECT_GT(handle, 0);
  ASSERT_TRUE(ip_->IsModelFd(buf));
  EXPECT_EQ(fcntl(buf, F_GETFD), FD_CLOEXEC);  // dma_buf_fd(.., O_CLOEXEC)
  ion_fd_data import = {0, buf};
  ASSERT_EQ(ip_->Ioctl(ion, ION_IOC_IMPORT, &import), 0);
  EXPECT_EQ(import.handle, handle);  // the same buffer in the same client: the same handle
  EXPECT_EQ(import.fd, buf);         // the program's fd is left as it was
  ion_fd_data sync = {0, buf};
  EXPECT_EQ(ip_->Ioctl(ion, ION_IOC_SYNC, &sync), 0);
  // A real fd that is not a dma-buf: dma_buf_get()'s EINVAL; a closed one: EBADF.
  const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  ion_fd_data foreign = {0, null_fd};
  EXPECT_EQ(ip_->Ioctl(ion, ION_IOC_IMPORT, &foreign), -EINVAL);
  close(null_fd);
  ion_fd_data closed = {0, null_fd};
  EXPECT_EQ(ip_->Ioctl(ion, ION_IOC_IMPORT, &closed), -EBADF);
  ion_handle_data free_data = {handle};
  EXPECT_EQ(ip_->Ioctl(ion, ION_IOC_FREE, &free_data), 0);
  EXPECT_EQ(ip_->Ioctl(ion, ION_IOC_FREE, &free_data), 0);  // the import took a second reference
  EXPECT_EQ(ip_->Ioctl(ion, ION_IOC_FREE, &free_data), -EINVAL);
  EXPECT_EQ(ip_->Ioctl(ion, ION_IOC_ALLOC, nullptr), -EFAULT);
  EXPECT_EQ(ip_->Ioctl(ion, ION_IOC_ALLOC, reinterpret_cast<void*>(16)), -EFAULT);
  EXPECT_EQ(ip_->Ioctl(ion, 0x1234, nullptr), -ENOTTY);
  EXPECT_EQ(ip_->Close(buf), 0);
  EXPECT_EQ(ip_->Close(ion), 0);
}

TEST_F(InterposerTest, HeapQueryFillsTheProgramsArray) {
  const int ion = OpenIon();
  ion_heap_query query = {};
  ASSERT_EQ(ip_->Ioctl(ion, ION_IOC_HEAP_QUERY, &query), 0);
  ASSERT_GT(query.cnt, 0u);
  std::vector<ion_heap_data> heaps(query.cnt);
  query.heaps = reinterpret_cast<uintptr_t>(heaps.data());
  ASSERT_EQ(ip_->Ioctl(ion, ION_IOC_HEAP_QUERY, &query), 0);
  bool system = false;
  for (const ion_heap_data& h : heaps) {
    system |= std::string(h.name) == "system" && h.type == ION_HEAP_TYPE_SYSTEM && h.heap_id == 0;
  }
  EXPECT_TRUE(system);
  EXPECT_EQ(ip_->Close(ion), 0);
}

TEST_F(InterposerTest, MappingsShareBytesWithEachOtherAndTheModel) {
  const int ion = OpenIon();
  int handle = 0;
  const int buf = AllocShared(ion, 8192, &handle);
  const long a = ip_->Mmap(nullptr, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
  const long b = ip_->Mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 4096);
  ASSERT_GT(a, 0);
  ASSERT_GT(b, 0);
  auto* pa = reinterpret_cast<uint8_t*>(a);
  auto* pb = reinterpret_cast<uint8_t*>(b);
  std::memcpy(pa + 4096, "written by the program", 23);
  EXPECT_STREQ(reinterpret_cast<char*>(pb), "written by the program");  // at once, no system call
  // The model sees the store at the next system call it serves.
  ion_fd_data sync = {0, buf};
  ASSERT_EQ(ip_->Ioctl(ion, ION_IOC_SYNC, &sync), 0);
  char seen[23] = {0};
  ASSERT_TRUE(ip_->backend()->peek(ip_->proc(), static_cast<uint64_t>(b), seen, sizeof(seen)).ok());
  EXPECT_STREQ(seen, "written by the program");
  // And the program sees what the model's side stores, after the next call.
  ASSERT_TRUE(ip_->backend()->poke(ip_->proc(), static_cast<uint64_t>(a), "kernel", 7).ok());
  ASSERT_EQ(ip_->Ioctl(ion, ION_IOC_SYNC, &sync), 0);
  EXPECT_STREQ(reinterpret_cast<char*>(pa), "kernel");
  // munmap of half a mapping keeps the other half.
  EXPECT_EQ(ip_->Munmap(pa, 4096), 0);
  EXPECT_STREQ(reinterpret_cast<char*>(pa + 4096), "written by the program");
  EXPECT_EQ(ip_->Munmap(pa + 4096, 4096), 0);
  EXPECT_EQ(ip_->Munmap(pb, 4096), 0);
  EXPECT_FALSE(ip_->OverlapsModelMapping(pb, 4096));
  ion_handle_data free_data = {handle};
  EXPECT_EQ(ip_->Ioctl(ion, ION_IOC_FREE, &free_data), 0);
  EXPECT_EQ(ip_->Close(buf), 0);
  EXPECT_EQ(ip_->Close(ion), 0);
}

TEST_F(InterposerTest, MmapErrorsAreTheModels) {
  const int ion = OpenIon();
  int handle = 0;
  const int buf = AllocShared(ion, 4096, &handle);
  EXPECT_EQ(ip_->Mmap(nullptr, 8192, PROT_READ, MAP_SHARED, buf, 0), -EINVAL);  // beyond the buffer
  EXPECT_EQ(ip_->Mmap(nullptr, 4096, PROT_READ, MAP_SHARED, buf, 4096), -EINVAL);
  EXPECT_EQ(ip_->Mmap(nullptr, 4096, PROT_READ, MAP_SHARED, ion, 0), -ENODEV);  // /dev/ion has no mmap
  EXPECT_EQ(ip_->Mmap(nullptr, 0, PROT_READ, MAP_SHARED, buf, 0), -EINVAL);
  EXPECT_EQ(ip_->Munmap(reinterpret_cast<void*>(0x1001), 4096), -EINVAL);
  EXPECT_EQ(ip_->Close(buf), 0);
  ion_handle_data free_data = {handle};
  EXPECT_EQ(ip_->Ioctl(ion, ION_IOC_FREE, &free_data), 0);
  EXPECT_EQ(ip_->Close(ion), 0);
}

TEST_F(InterposerTest, DupFamilyKeepsModelFdsAlive) {
  const int ion = OpenIon();
  int handle = 0;
  const int buf = AllocShared(ion, 4096, &handle);
  const long d = ip_->Dup(buf);
  ASSERT_GE(d, 0);
  EXPECT_TRUE(ip_->IsModelFd(static_cast<int>(d)));
  EXPECT_EQ(fcntl(static_cast<int>(d), F_GETFD), 0);  // dup clears close-on-exec
  const long c = ip_->Fcntl(buf, F_DUPFD_CLOEXEC, 100);
  ASSERT_GE(c, 100);
  EXPECT_EQ(fcntl(static_cast<int>(c), F_GETFD), FD_CLOEXEC);
  EXPECT_EQ(ip_->Fcntl(static_cast<int>(c), F_SETFD, 0), 0);
  EXPECT_EQ(fcntl(static_cast<int>(c), F_GETFD), 0);
  const int target = open("/dev/null", O_RDONLY);
  EXPECT_EQ(ip_->Dup3(buf, target, O_CLOEXEC, true), target);
  EXPECT_TRUE(ip_->IsModelFd(target));
  EXPECT_EQ(ip_->Dup3(buf, buf, 0, true), -EINVAL);
  EXPECT_EQ(ip_->Dup3(buf, buf, 0, false), buf);
  // Every fd names the same buffer: import through each gives the one handle.
  for (int fd : {buf, static_cast<int>(d), static_cast<int>(c), target}) {
    ion_fd_data import = {0, fd};
    ASSERT_EQ(ip_->Ioctl(ion, ION_IOC_IMPORT, &import), 0);
    EXPECT_EQ(import.handle, handle);
  }
  for (int fd : {buf, static_cast<int>(d), static_cast<int>(c), target}) EXPECT_EQ(ip_->Close(fd), 0);
  EXPECT_EQ(ip_->Close(ion), 0);
}

TEST_F(InterposerTest, DebugfsReadsAndSeeks) {
  const int ion = OpenIon();
  int handle = 0;
  const int buf = AllocShared(ion, 4096, &handle);
  const long fd = ip_->Open("/sys/kernel/debug/ion/heaps/system", O_RDONLY);
  ASSERT_GE(fd, 0);
  char text[4096] = {0};
  const long n = ip_->Read(static_cast<int>(fd), text, sizeof(text) - 1);
  ASSERT_GT(n, 0);
  EXPECT_NE(std::string(text).find("interposer_test"), std::string::npos) << text;
  EXPECT_EQ(ip_->Lseek(static_cast<int>(fd), 0, SEEK_SET), 0);
  char again[8] = {0};
  EXPECT_EQ(ip_->Read(static_cast<int>(fd), again, 4), 4);
  EXPECT_EQ(std::string(again), std::string(text, 4));
  EXPECT_EQ(ip_->Read(ion, text, 4), -EINVAL);  // /dev/ion has no read
  EXPECT_EQ(ip_->Close(static_cast<int>(fd)), 0);
  EXPECT_EQ(ip_->Close(buf), 0);
  EXPECT_EQ(ip_->Close(ion), 0);
}

TEST_F(InterposerTest, DmaBufSyncIoctlReachesTheDmaBuf) {
  const int ion = OpenIon();
  int handle = 0;
  const int buf = AllocShared(ion, 4096, &handle);
  uint64_t flags = 0;  // DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ would be 1: 0 has no direction
  EXPECT_EQ(ip_->Ioctl(buf, kDmaBufIoctlSync, &flags), -EINVAL);
  flags = 1;  // START | READ: begin_cpu_access
  EXPECT_EQ(ip_->Ioctl(buf, kDmaBufIoctlSync, &flags), 0);
  flags = 5;  // END | READ: end_cpu_access (without it the buffer dies kmapped: v4.4's WARN)
  EXPECT_EQ(ip_->Ioctl(buf, kDmaBufIoctlSync, &flags), 0);
  EXPECT_EQ(ip_->Close(buf), 0);
  EXPECT_EQ(ip_->Close(ion), 0);
}

TEST_F(InterposerTest, ForkedChildSharesFilesAndBytes) {
  const int ion = OpenIon();
  int handle = 0;
  const int buf = AllocShared(ion, 4096, &handle);
  const long a = ip_->Mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
  ASSERT_GT(a, 0);
  const pid_t pid = ip_->Fork(RealFork);
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // The child: the parent's files are its own; it imports the buffer and writes it.
    ion_fd_data import = {0, buf};
    int status = ip_->Ioctl(ion, ION_IOC_IMPORT, &import) == 0 && import.handle == handle ? 0 : 1;
    std::memcpy(reinterpret_cast<char*>(a), "child", 6);
    if (!ip_->Exit().empty()) status |= 2;
    _exit(status);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_STREQ(reinterpret_cast<char*>(a), "child");
  ion_fd_data sync = {0, buf};
  ASSERT_EQ(ip_->Ioctl(ion, ION_IOC_SYNC, &sync), 0);
  char seen[6] = {0};
  ASSERT_TRUE(ip_->backend()->peek(ip_->proc(), static_cast<uint64_t>(a), seen, sizeof(seen)).ok());
  EXPECT_STREQ(seen, "child");
  EXPECT_EQ(ip_->Munmap(reinterpret_cast<void*>(a), 4096), 0);
  EXPECT_EQ(ip_->Close(buf), 0);
  EXPECT_EQ(ip_->Close(ion), 0);
}

TEST_F(InterposerTest, ExitClosesWhatTheProcessHeldWithoutLeaks) {
  const int ion = OpenIon();
  int handle = 0;
  const int buf = AllocShared(ion, 4096, &handle);
  ASSERT_GT(ip_->Mmap(nullptr, 4096, PROT_READ, MAP_SHARED, buf, 0), 0);
  // Nothing closed, freed or unmapped: the process's exit releases it all and the machine comes back clean.
  EXPECT_EQ(ip_->Exit(), "");
  EXPECT_EQ(ip_->Exit(), "");
  ip_.reset();
}

}  // namespace
}  // namespace ionsim
