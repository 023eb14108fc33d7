// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The errno paths of /dev/ion's ioctls, driven from userspace through the model backend: the common prelude and
// the legacy commands of reference ion.md section 1.2 (ion.c:ion_ioctl() @ v4.4), then ION_IOC_HEAP_QUERY and
// the 4.12 ALLOC of section 1.3. Every operation runs the invariant checker.
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kmod/uapi/ion.h"
#include "model/kernel/bug.h"
#include "model/kernel/dma_buf.h"
#include "model/kernel/dma_mapping.h"
#include "model/kernel/fs.h"
#include "model/kernel/sched.h"
#include "tests/testing/errno_matchers.h"
#include "tests/testing/ion_fixture.h"

namespace ionsim::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr unsigned int kContigMask = 1U << 1;
constexpr unsigned int kCarveoutMask = 1U << 2;
constexpr uint64_t kPage = 4096;

// mmap(2) and open(2) arguments as userspace passes them (asm-generic values).
constexpr int kProtRead = 0x1;
constexpr int kProtRw = 0x3;
constexpr int kMapShared = 0x01;
constexpr int kMapPrivate = 0x02;
constexpr int kMapFixed = 0x10;
constexpr int kMapAnonymous = 0x20;

// include/uapi/asm-generic/ioctl.h: _IOC(dir, type, nr, size).
constexpr unsigned int kIocNone = 0, kIocWrite = 1, kIocRead = 2;
constexpr unsigned int Ioc(unsigned int dir, unsigned int type, unsigned int nr, unsigned int size) {
  return (dir << 30) | (size << 16) | (type << 8) | nr;
}
// An ioctl nr /dev/ion has never used.
constexpr unsigned int kUnusedNr = 0x3f;

static_assert(ION_IOC_ALLOC == 0xC0204900U);
static_assert(ION_IOC_FREE == 0xC0044901U);
static_assert(ION_IOC_MAP == 0xC0084902U);
static_assert(ION_IOC_SHARE == 0xC0084904U);
static_assert(ION_IOC_IMPORT == 0xC0084905U);
static_assert(ION_IOC_CUSTOM == 0xC0104906U);
static_assert(ION_IOC_SYNC == 0xC0084907U);
static_assert(ION_IOC_HEAP_QUERY == 0xC0184908U);
static_assert(ION_IOC_NEW_ALLOC == 0xC0184900U);
static_assert(sizeof(ion_heap_data) == 52);

class IonIoctlTest : public IonTest {
 protected:
  IonIoctlTest() = default;
  explicit IonIoctlTest(const ModelConfig& config) : IonTest(config) {}

  ErrnoOr<long> RawIoctl(unsigned int cmd, uint64_t arg) { return backend_->ioctl(proc_, fd_, cmd, arg); }

  // Anonymous memory of the process; 0 (and a test failure) when mmap fails. libion's scratch page is mapped
  // first, so that it never lands in a hole a test made on purpose.
  uint64_t MapAnon(uint64_t bytes, int prot, uint64_t at = 0) {
    EXPECT_NE(ion_->Scratch(), 0U);
    const int flags = kMapPrivate | kMapAnonymous | (at != 0 ? kMapFixed : 0);
    ErrnoOr<uint64_t> addr = backend_->mmap(proc_, at, bytes, prot, flags, -1, 0);
    if (!addr.ok()) {
      ADD_FAILURE() << "mmap: " << addr.error();
      return 0;
    }
    return addr.value();
  }

  // One read-write page whose next page is unmapped: the end of the page is the end of a mapping.
  uint64_t PageBeforeAHole() {
    const uint64_t addr = MapAnon(2 * kPage, kProtRw);
    EXPECT_THAT(backend_->munmap(proc_, addr + kPage, kPage), IsOk());
    return addr;
  }

  // An address with nothing mapped at it.
  uint64_t UnmappedAddress() { return PageBeforeAHole() + kPage; }

  std::string Dump() {
    ErrnoOr<std::string> dump = backend_->canonical_dump();
    return dump.ok() ? dump.value() : "";
  }

  kernel::task_struct* Task() { return backend_->model()->task(proc_); }

  // fcntl(fd, F_GETFD) & FD_CLOEXEC, read from the process's files_struct.
  bool CloseOnExec(int fd) {
    kernel::current_task_scope scope(Task());
    return kernel::get_close_on_exec(static_cast<unsigned int>(fd));
  }

  std::vector<int> OpenFds() { return kernel::files_open_fds(Task()->files); }

  bool IsDmaBufFd(int fd) {
    kernel::current_task_scope scope(Task());
    struct kernel::file* f = kernel::fget(static_cast<unsigned int>(fd));
    if (f == nullptr) return false;
    const bool is_dma_buf = kernel::is_dma_buf_file(f);
    kernel::fput(f);
    return is_dma_buf;
  }

  // dup()s the /dev/ion fd until the fd table is full (EMFILE); returns the new fds.
  std::vector<int> FillFdTable() {
    std::vector<int> fds;
    for (;;) {
      ErrnoOr<int> fd = backend_->dup(proc_, fd_);
      if (!fd.ok()) {
        EXPECT_THAT(fd, IsErrno(EMFILE));
        break;
      }
      fds.push_back(fd.value());
    }
    return fds;
  }

  void CloseAll(const std::vector<int>& fds) {
    for (int fd : fds) EXPECT_THAT(backend_->close(proc_, fd), IsOk());
  }
};

// ---- The common prelude (section 1.2) ---------------------------------------------------------------------------

TEST_F(IonIoctlTest, SizeFieldLargerThanTheUnionFailsWithEinvalBeforeDispatch) {
  const uint64_t scratch = ion_->Scratch();
  // The union is 32 bytes (ion_allocation_data on LP64). 33 bytes is refused whatever the cmd and direction.
  EXPECT_THAT(RawIoctl(Ioc(kIocRead | kIocWrite, 'I', kUnusedNr, 33), scratch), IsErrno(EINVAL));
  EXPECT_THAT(RawIoctl(Ioc(kIocNone, 'I', kUnusedNr, 33), scratch), IsErrno(EINVAL));
  EXPECT_THAT(RawIoctl(Ioc(kIocRead | kIocWrite, 'I', 0, 40), scratch), IsErrno(EINVAL));  // ALLOC's nr
  EXPECT_THAT(RawIoctl(Ioc(kIocRead | kIocWrite, 'Z', 1, 0x3fff), scratch), IsErrno(EINVAL));
  // Before copy_from_user too: a bad pointer does not turn it into EFAULT.
  EXPECT_THAT(RawIoctl(Ioc(kIocWrite, 'I', kUnusedNr, 33), UnmappedAddress()), IsErrno(EINVAL));
  // 32 bytes fits, and the unknown cmd reaches dispatch.
  EXPECT_THAT(RawIoctl(Ioc(kIocRead | kIocWrite, 'I', kUnusedNr, 32), scratch), IsErrno(ENOTTY));
}

TEST_F(IonIoctlTest, UnknownCmdFailsWithEnotty) {
  const uint64_t scratch = ion_->Scratch();
  EXPECT_THAT(RawIoctl(Ioc(kIocRead | kIocWrite, 'I', kUnusedNr, 8), scratch), IsErrno(ENOTTY));
  // nr 3 was never assigned between MAP (2) and SHARE (4).
  EXPECT_THAT(RawIoctl(Ioc(kIocRead | kIocWrite, 'I', 3, sizeof(ion_fd_data)), scratch), IsErrno(ENOTTY));
  // The command is the whole number: a known nr with another size or magic is unknown.
  EXPECT_THAT(RawIoctl(Ioc(kIocRead | kIocWrite, 'I', 1, 8), scratch), IsErrno(ENOTTY));
  EXPECT_THAT(RawIoctl(Ioc(kIocRead | kIocWrite, 'J', 1, sizeof(ion_handle_data)), scratch), IsErrno(ENOTTY));
  // The ILP32 ALLOC number (20-byte struct) is for compat_ion_ioctl; the native handler does not know it.
  EXPECT_THAT(RawIoctl(0xC0144900U, scratch), IsErrno(ENOTTY));
  EXPECT_THAT(Dump(), Not(HasSubstr("buffer ")));
}

TEST_F(IonIoctlTest, UnknownCmdWithWriteDirectionCopiesInBeforeDispatchSoABadPointerFailsWithEfault) {
  const uint64_t bad = UnmappedAddress();
  EXPECT_THAT(RawIoctl(Ioc(kIocWrite, 'I', kUnusedNr, 8), bad), IsErrno(EFAULT));
  EXPECT_THAT(RawIoctl(Ioc(kIocRead | kIocWrite, 'I', kUnusedNr, 8), bad), IsErrno(EFAULT));
}

TEST_F(IonIoctlTest, UnknownCmdWithoutWriteDirectionNeverTouchesTheArgumentAndFailsWithEnotty) {
  // v4.4 copies in only for _IOC_WRITE, and an unknown cmd returns before any copy out.
  const uint64_t bad = UnmappedAddress();
  EXPECT_THAT(RawIoctl(Ioc(kIocRead, 'I', kUnusedNr, 8), bad), IsErrno(ENOTTY));
  EXPECT_THAT(RawIoctl(Ioc(kIocNone, 'I', kUnusedNr, 8), bad), IsErrno(ENOTTY));
}

TEST_F(IonIoctlTest, UnmappedArgumentFailsEveryCommandWithEfaultBeforeItActs) {
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  const std::string before = Dump();
  const std::vector<int> fds_before = OpenFds();
  const uint64_t bad = UnmappedAddress();
  for (unsigned int cmd : {ION_IOC_ALLOC, ION_IOC_FREE, ION_IOC_MAP, ION_IOC_SHARE, ION_IOC_IMPORT, ION_IOC_SYNC,
                           ION_IOC_CUSTOM, ION_IOC_HEAP_QUERY, ION_IOC_NEW_ALLOC}) {
    EXPECT_THAT(RawIoctl(cmd, bad), IsErrno(EFAULT)) << std::hex << cmd;
  }
  // Address 0 (NULL) as well.
  EXPECT_THAT(RawIoctl(ION_IOC_FREE, 0), IsErrno(EFAULT));
  EXPECT_EQ(Dump(), before);
  EXPECT_EQ(OpenFds(), fds_before);
}

TEST_F(IonIoctlTest, ArgumentStraddlingTheEndOfAMappingFailsWithEfault) {
  const uint64_t page = PageBeforeAHole();
  ion_allocation_data data;
  std::memset(&data, 0, sizeof(data));
  data.len = kPage;
  data.heap_id_mask = kCarveoutMask;
  // 16 of the 32 bytes are mapped: copy_from_user comes up short.
  const uint64_t straddling = page + kPage - 16;
  ASSERT_THAT(backend_->poke(proc_, straddling, &data, 16), IsOk());
  EXPECT_THAT(RawIoctl(ION_IOC_ALLOC, straddling), IsErrno(EFAULT));
  EXPECT_THAT(Dump(), Not(HasSubstr("buffer ")));
  // The same struct ending exactly at the end of the mapping is fine.
  const uint64_t fitting = page + kPage - sizeof(data);
  ASSERT_THAT(backend_->poke(proc_, fitting, &data, sizeof(data)), IsOk());
  EXPECT_THAT(RawIoctl(ION_IOC_ALLOC, fitting), IsOkAndHolds(0));
  ion_allocation_data out;
  ASSERT_THAT(backend_->peek(proc_, fitting, &out, sizeof(out)), IsOk());
  EXPECT_EQ(out.handle, 1);
}

// ---- ALLOC (section 1.2) -----------------------------------------------------------------------------------------

// The argument must be readable in full but not writable in full. It straddles two anonymous pages:
//
//   addr                       addr+4K                      addr+8K
//   |  read-write ...  len align mask flags | handle pad  ... read-only |
//                      <------- 24 -------> <--- 8 --->
//
// The struct starts 24 bytes before the boundary, so len, align, heap_id_mask and flags are in the writable page,
// where the test fills them, and handle plus the tail padding are in the read-only page (mapped over the second
// page with MAP_FIXED), which reads as zeros. copy_from_user reads all 32 bytes; copy_to_user stops at byte 24.
// Expect ALLOC to fail with EFAULT after allocating, free the handle it made, and leave no handle behind.
TEST_F(IonIoctlTest, AllocWhoseResultCannotBeCopiedBackFreesTheHandleAndFailsWithEfault) {
  const uint64_t addr = MapAnon(2 * kPage, kProtRw);
  ASSERT_EQ(MapAnon(kPage, kProtRead, addr + kPage), addr + kPage);
  const uint64_t arg = addr + kPage - 24;
  ion_allocation_data data;
  std::memset(&data, 0, sizeof(data));
  data.len = 8192;
  data.heap_id_mask = kCarveoutMask;
  ASSERT_THAT(backend_->poke(proc_, arg, &data, 24), IsOk());

  EXPECT_THAT(RawIoctl(ION_IOC_ALLOC, arg), IsErrno(EFAULT));
  // The buffer was made (b1), its only handle freed, and the carveout buffer went to the free list.
  const std::string dump = Dump();
  EXPECT_THAT(dump, HasSubstr("heap 2 carveout type=carveout defer=1 free_list_bytes=8192 free_list=b1\n"));
  EXPECT_THAT(dump, Not(HasSubstr("buffer b1 ")));
  EXPECT_THAT(dump, HasSubstr("client c1 handles=0\n"));
  EXPECT_THAT(dump, Not(HasSubstr("  handle ")));
  // The id went back to the idr: the next ALLOC gets 1 again.
  EXPECT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask, 0), IsOkAndHolds(1));
}

// ---- FREE (section 1.2) ------------------------------------------------------------------------------------------

TEST_F(IonIoctlTest, FreeOfAnIdThatIsNotInTheClientsIdrFailsWithEinval) {
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  EXPECT_THAT(ion_->Free(fd_, 2), IsErrno(EINVAL));  // never allocated
  EXPECT_THAT(ion_->Free(fd_, -1), IsErrno(EINVAL));
  EXPECT_THAT(ion_->Free(fd_, INT32_MIN), IsErrno(EINVAL));
  EXPECT_THAT(ion_->Free(fd_, 1), IsOk());
  EXPECT_THAT(ion_->Free(fd_, 1), IsErrno(EINVAL));  // already freed
  // Another client's id is not this client's.
  ErrnoOr<int> fd2 = ion_->Open();
  ASSERT_THAT(fd2, IsOk());
  ASSERT_THAT(ion_->Alloc(fd2.value(), kPage, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  EXPECT_THAT(ion_->Free(fd_, 1), IsErrno(EINVAL));
  EXPECT_THAT(ion_->Free(fd2.value(), 1), IsOk());
  // The lookup fails before ion_free_nolock could WARN about an invalid handle.
  EXPECT_EQ(kernel::bug_event_count(), 0U);
}

TEST_F(IonIoctlTest, FreeOfHandleZeroFailsWithEinvalSoLibionRecognisesTheLegacyAbi) {
  // libion's ion_is_legacy(): FREE(0) is EINVAL on a legacy kernel (ids start at 1), ENOTTY on a 4.12+ one.
  EXPECT_THAT(ion_->Free(fd_, 0), IsErrno(EINVAL));
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  EXPECT_THAT(ion_->Free(fd_, 0), IsErrno(EINVAL));
}

// ---- SHARE and MAP (section 1.2) ---------------------------------------------------------------------------------

TEST_F(IonIoctlTest, ShareAndMapOfAnIdThatIsNotInTheClientsIdrFailWithEinvalAndMakeNoFd) {
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  const std::vector<int> fds_before = OpenFds();
  const size_t dma_bufs_before = kernel::dma_buf_count();
  for (int id : {0, 2, -1}) {
    EXPECT_THAT(ion_->Share(fd_, id), IsErrno(EINVAL)) << id;
    EXPECT_THAT(ion_->Map(fd_, id), IsErrno(EINVAL)) << id;
  }
  EXPECT_EQ(OpenFds(), fds_before);
  EXPECT_EQ(kernel::dma_buf_count(), dma_bufs_before);
  EXPECT_EQ(kernel::bug_event_count(), 0U);
}

TEST_F(IonIoctlTest, ShareAndMapReturnACloseOnExecDmaBufFdHoldingOneBufferReference) {
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ErrnoOr<int> shared = ion_->Share(fd_, 1);
  ASSERT_THAT(shared, IsOk());
  ErrnoOr<int> mapped = ion_->Map(fd_, 1);
  ASSERT_THAT(mapped, IsOk());
  EXPECT_TRUE(IsDmaBufFd(shared.value()));
  EXPECT_TRUE(IsDmaBufFd(mapped.value()));
  EXPECT_TRUE(CloseOnExec(shared.value()));
  EXPECT_TRUE(CloseOnExec(mapped.value()));
  // dup() clears the flag: the check can tell the two apart.
  ErrnoOr<int> duped = backend_->dup(proc_, shared.value());
  ASSERT_THAT(duped, IsOk());
  EXPECT_FALSE(CloseOnExec(duped.value()));
  // Two dma-bufs, one handle: ref 3.
  EXPECT_THAT(Dump(), HasSubstr("buffer b1 heap=carveout size=4096 offset=0x0 flags=0x0 ref=3 handles=1 kmap=0\n"));
}

TEST_F(IonIoctlTest, ShareErrorIsReturnedAndAlsoWrittenIntoTheFdField) {
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ASSERT_NE(ion_->Scratch(), 0U);
  const size_t dma_bufs_before = kernel::dma_buf_count();
  const std::vector<int> dups = FillFdTable();
  ASSERT_FALSE(dups.empty());
  for (unsigned int cmd : {ION_IOC_SHARE, ION_IOC_MAP}) {
    ion_fd_data data = {1, 12345};
    EXPECT_THAT(ion_->Ioctl(fd_, cmd, &data, sizeof(data)), IsErrno(EMFILE)) << std::hex << cmd;
    EXPECT_EQ(data.handle, 1);
    EXPECT_EQ(data.fd, -EMFILE);
  }
  // The exported dma-buf was put again, and with it its buffer reference.
  EXPECT_EQ(kernel::dma_buf_count(), dma_bufs_before);
  EXPECT_THAT(Dump(), HasSubstr("buffer b1 heap=carveout size=4096 offset=0x0 flags=0x0 ref=1 handles=1 kmap=0\n"));
  // One free slot is enough again.
  ASSERT_THAT(backend_->close(proc_, dups.back()), IsOk());
  EXPECT_THAT(ion_->Share(fd_, 1), IsOkAndHolds(dups.back()));
  CloseAll(std::vector<int>(dups.begin(), dups.end() - 1));
}

// ION_IOC_SHARE's fd is installed before the result is copied out, and v4.4 does not undo it. The argument
// straddles a read-write page and a read-only page so that handle (bytes 0..3) is readable and writable and fd
// (bytes 4..7) is readable but not writable. Expect EFAULT, and a dma-buf fd the caller never learns of.
TEST_F(IonIoctlTest, ShareWhoseResultCannotBeCopiedBackFailsWithEfaultButKeepsTheNewFd) {
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  const uint64_t addr = MapAnon(2 * kPage, kProtRw);
  ASSERT_EQ(MapAnon(kPage, kProtRead, addr + kPage), addr + kPage);
  const uint64_t arg = addr + kPage - 4;
  const int handle = 1;
  ASSERT_THAT(backend_->poke(proc_, arg, &handle, sizeof(handle)), IsOk());
  const std::vector<int> fds_before = OpenFds();

  EXPECT_THAT(RawIoctl(ION_IOC_SHARE, arg), IsErrno(EFAULT));
  const std::vector<int> fds_after = OpenFds();
  ASSERT_EQ(fds_after.size(), fds_before.size() + 1);
  EXPECT_TRUE(IsDmaBufFd(fds_after.back()));
  EXPECT_THAT(Dump(), HasSubstr("buffer b1 heap=carveout size=4096 offset=0x0 flags=0x0 ref=2 handles=1 kmap=0\n"));
}

// ---- The commands that only read their argument (ion_ioctl_dir) --------------------------------------------------

// FREE, SYNC and CUSTOM are declared _IOWR but ion_ioctl_dir() makes them write-only, so they never copy back.
// Their arguments are placed in a read-only view of an ION buffer: the test fills the buffer through a
// read-write mapping and passes addresses in a second, PROT_READ mapping of the same dma-buf.
// Expect FREE and SYNC to succeed from read-only memory while IMPORT, which copies back, fails with EFAULT
// and keeps the handle it made (v4.4 has no cleanup for IMPORT).
TEST_F(IonIoctlTest, WriteOnlyCommandsNeverCopyBackWhileImportKeepsItsHandleWhenTheCopyBackFails) {
  // b1 (id 1) carries the arguments; b2 (id 2) is the subject.
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kContigMask, 0), IsOkAndHolds(1));
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask, 0), IsOkAndHolds(2));
  ErrnoOr<int> carrier = ion_->Share(fd_, 1);
  ErrnoOr<int> subject = ion_->Share(fd_, 2);
  ASSERT_THAT(carrier, IsOk());
  ASSERT_THAT(subject, IsOk());
  ErrnoOr<uint64_t> rw = backend_->mmap(proc_, 0, kPage, kProtRw, kMapShared, carrier.value(), 0);
  ErrnoOr<uint64_t> ro = backend_->mmap(proc_, 0, kPage, kProtRead, kMapShared, carrier.value(), 0);
  ASSERT_THAT(rw, IsOk());
  ASSERT_THAT(ro, IsOk());
  const ion_fd_data sync_arg = {0, subject.value()};
  const ion_custom_data custom_arg = {1, 2};
  const ion_handle_data free_arg = {2};
  ASSERT_THAT(backend_->poke(proc_, rw.value() + 0, &sync_arg, sizeof(sync_arg)), IsOk());
  ASSERT_THAT(backend_->poke(proc_, rw.value() + 64, &custom_arg, sizeof(custom_arg)), IsOk());
  ASSERT_THAT(backend_->poke(proc_, rw.value() + 128, &free_arg, sizeof(free_arg)), IsOk());

  const long syncs = kernel::dma_null_device_sync_count();
  EXPECT_THAT(RawIoctl(ION_IOC_SYNC, ro.value()), IsOkAndHolds(0));
  EXPECT_EQ(kernel::dma_null_device_sync_count(), syncs + 1);
  EXPECT_THAT(RawIoctl(ION_IOC_CUSTOM, ro.value() + 64), IsErrno(ENOTTY));
  EXPECT_THAT(RawIoctl(ION_IOC_FREE, ro.value() + 128), IsOkAndHolds(0));
  EXPECT_THAT(Dump(), Not(HasSubstr("  handle 2 ")));

  // IMPORT of the subject from read-only memory: the handle is made (id 2 again), the copy back faults.
  EXPECT_THAT(RawIoctl(ION_IOC_IMPORT, ro.value()), IsErrno(EFAULT));
  EXPECT_THAT(Dump(), HasSubstr("  handle 2 b2 ref=1 kmap=0\n"));

  ASSERT_THAT(backend_->munmap(proc_, rw.value(), kPage), IsOk());
  ASSERT_THAT(backend_->munmap(proc_, ro.value(), kPage), IsOk());
}

// ---- IMPORT (section 1.2) ----------------------------------------------------------------------------------------

TEST_F(IonIoctlTest, ImportOfABufferTheClientAlreadyHoldsReturnsTheSameIdWithOneMoreReference) {
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ErrnoOr<int> shared = ion_->Share(fd_, 1);
  ASSERT_THAT(shared, IsOk());
  EXPECT_THAT(ion_->Import(fd_, shared.value()), IsOkAndHolds(1));
  std::string dump = Dump();
  EXPECT_THAT(dump, HasSubstr("client c1 handles=1\n  handle 1 b1 ref=2 kmap=0\n"));
  // The handle holds the buffer, not the dma-buf: closing the fd leaves the handle's two references.
  ASSERT_THAT(backend_->close(proc_, shared.value()), IsOk());
  EXPECT_THAT(Dump(), HasSubstr("buffer b1 heap=carveout size=4096 offset=0x0 flags=0x0 ref=1 handles=1 kmap=0\n"));
  EXPECT_THAT(ion_->Free(fd_, 1), IsOk());
  EXPECT_THAT(Dump(), HasSubstr("  handle 1 b1 ref=1 kmap=0\n"));
  EXPECT_THAT(ion_->Free(fd_, 1), IsOk());
  EXPECT_THAT(Dump(), Not(HasSubstr("  handle 1 ")));
  EXPECT_THAT(ion_->Free(fd_, 1), IsErrno(EINVAL));
}

TEST_F(IonIoctlTest, ImportIntoAnotherClientMakesANewHandleAtThatClientsLowestFreeId) {
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask, 0), IsOkAndHolds(2));
  ErrnoOr<int> shared = ion_->Share(fd_, 2);
  ASSERT_THAT(shared, IsOk());
  ErrnoOr<int> fd2 = ion_->Open();
  ASSERT_THAT(fd2, IsOk());
  EXPECT_THAT(ion_->Import(fd2.value(), shared.value()), IsOkAndHolds(1));
  EXPECT_THAT(Dump(), HasSubstr("buffer b2 heap=carveout size=4096 offset=0x1000 flags=0x0 ref=3 handles=2 kmap=0\n"));
  EXPECT_THAT(Dump(), HasSubstr("client c2 handles=1\n  handle 1 b2 ref=1 kmap=0\n"));
}

TEST_F(IonIoctlTest, ImportOfAFileThatIsNotADmaBufFailsWithEinval) {
  EXPECT_THAT(ion_->Import(fd_, fd_), IsErrno(EINVAL));
  EXPECT_THAT(Dump(), HasSubstr("client c1 handles=0\n"));
}

TEST_F(IonIoctlTest, ImportOfAnFdThatIsNotOpenFailsWithEbadf) {
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ErrnoOr<int> shared = ion_->Share(fd_, 1);
  ASSERT_THAT(shared, IsOk());
  ASSERT_THAT(backend_->close(proc_, shared.value()), IsOk());
  EXPECT_THAT(ion_->Import(fd_, shared.value()), IsErrno(EBADF));
  EXPECT_THAT(ion_->Import(fd_, -1), IsErrno(EBADF));
  EXPECT_THAT(ion_->Import(fd_, 100000), IsErrno(EBADF));
  EXPECT_THAT(Dump(), HasSubstr("client c1 handles=1\n"));
}

// A dma-buf exporter that is not ION: the callbacks v4.4's dma_buf_export() requires, and a release count.
ErrnoOr<kernel::sg_table*> ForeignMapDmaBuf(kernel::dma_buf_attachment*, kernel::dma_data_direction) {
  return Errno(-ENOMEM);
}
void ForeignUnmapDmaBuf(kernel::dma_buf_attachment*, kernel::sg_table*, kernel::dma_data_direction) {}
void ForeignRelease(kernel::dma_buf* dmabuf) { ++*static_cast<int*>(dmabuf->priv); }
void* ForeignKmap(kernel::dma_buf*, unsigned long) { return nullptr; }
int ForeignMmap(kernel::dma_buf*, kernel::vm_area_struct*) { return -ENODEV; }

const kernel::dma_buf_ops kForeignDmaBufOps = {
    .attach = nullptr,
    .detach = nullptr,
    .map_dma_buf = ForeignMapDmaBuf,
    .unmap_dma_buf = ForeignUnmapDmaBuf,
    .release = ForeignRelease,
    .begin_cpu_access = nullptr,
    .end_cpu_access = nullptr,
    .kmap_atomic = ForeignKmap,
    .kunmap_atomic = nullptr,
    .kmap = ForeignKmap,
    .kunmap = nullptr,
    .mmap = ForeignMmap,
    .vmap = nullptr,
    .vunmap = nullptr,
};

// Userspace cannot make a dma-buf of another exporter in this machine, so a kernel driver does it: the test
// exports one with dma_buf_export() and installs it in the process with dma_buf_fd(), as a driver's ioctl would.
TEST_F(IonIoctlTest, ImportAndSyncOfADmaBufFromAnotherExporterFailWithEinval) {
  int released = 0;
  int foreign_fd = -1;
  {
    kernel::current_task_scope scope(Task());
    kernel::dma_buf_export_info info = {};
    info.exp_name = "foreign";
    info.ops = &kForeignDmaBufOps;
    info.size = kPage;
    info.flags = static_cast<int>(kernel::O_RDWR);
    info.priv = &released;
    ErrnoOr<kernel::dma_buf*> dmabuf = kernel::dma_buf_export(&info);
    ASSERT_THAT(dmabuf, IsOk());
    ErrnoOr<int> fd = kernel::dma_buf_fd(dmabuf.value(), static_cast<int>(kernel::O_CLOEXEC));
    ASSERT_THAT(fd, IsOk());
    foreign_fd = fd.value();
  }
  ASSERT_TRUE(IsDmaBufFd(foreign_fd));
  const long syncs = kernel::dma_null_device_sync_count();
  EXPECT_THAT(ion_->Import(fd_, foreign_fd), IsErrno(EINVAL));
  EXPECT_THAT(ion_->Sync(fd_, foreign_fd), IsErrno(EINVAL));
  EXPECT_EQ(kernel::dma_null_device_sync_count(), syncs);
  EXPECT_THAT(Dump(), HasSubstr("client c1 handles=0\n"));
  // Both put their dma_buf_get() reference: the fd is the last one.
  EXPECT_EQ(released, 0);
  ASSERT_THAT(backend_->close(proc_, foreign_fd), IsOk());
  EXPECT_EQ(released, 1);
}

// ---- SYNC and CUSTOM (section 1.2) -------------------------------------------------------------------------------

TEST_F(IonIoctlTest, SyncOfAnIonDmaBufSyncsTheWholeTableForTheNullDevice) {
  ASSERT_THAT(ion_->Alloc(fd_, 3 * kPage, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ErrnoOr<int> shared = ion_->Share(fd_, 1);
  ASSERT_THAT(shared, IsOk());
  const long syncs = kernel::dma_null_device_sync_count();
  EXPECT_THAT(ion_->Sync(fd_, shared.value()), IsOk());
  EXPECT_EQ(kernel::dma_null_device_sync_count(), syncs + 1);
  // Any client may sync any ION dma-buf; it needs no handle.
  ErrnoOr<int> fd2 = ion_->Open();
  ASSERT_THAT(fd2, IsOk());
  EXPECT_THAT(ion_->Sync(fd2.value(), shared.value()), IsOk());
  EXPECT_EQ(kernel::dma_null_device_sync_count(), syncs + 2);
  EXPECT_THAT(Dump(), HasSubstr("client c2 handles=0\n"));
}

TEST_F(IonIoctlTest, SyncOfAClosedFdFailsWithEbadfAndOfANonDmaBufWithEinval) {
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ErrnoOr<int> shared = ion_->Share(fd_, 1);
  ASSERT_THAT(shared, IsOk());
  ASSERT_THAT(backend_->close(proc_, shared.value()), IsOk());
  const long syncs = kernel::dma_null_device_sync_count();
  EXPECT_THAT(ion_->Sync(fd_, shared.value()), IsErrno(EBADF));
  EXPECT_THAT(ion_->Sync(fd_, -1), IsErrno(EBADF));
  EXPECT_THAT(ion_->Sync(fd_, fd_), IsErrno(EINVAL));
  EXPECT_EQ(kernel::dma_null_device_sync_count(), syncs);
}

TEST_F(IonIoctlTest, CustomWithoutACustomIoctlHandlerFailsWithEnotty) {
  ion_custom_data data = {0, 0};
  EXPECT_THAT(ion_->Ioctl(fd_, ION_IOC_CUSTOM, &data, sizeof(data)), IsErrno(ENOTTY));
  data = {0xdeadbeefU, 0x1234};
  EXPECT_THAT(ion_->Ioctl(fd_, ION_IOC_CUSTOM, &data, sizeof(data)), IsErrno(ENOTTY));
}

// ---- HEAP_QUERY (section 1.3) ------------------------------------------------------------------------------------

// The query at the scratch page; heaps (if any) wherever the test says.
class IonHeapQueryTest : public IonIoctlTest {
 protected:
  IonHeapQueryTest() = default;
  explicit IonHeapQueryTest(const ModelConfig& config) : IonIoctlTest(config) {}

  ErrnoOr<long> Query(ion_heap_query* query) { return ion_->Ioctl(fd_, ION_IOC_HEAP_QUERY, query, sizeof(*query)); }

  // `count` entries at addr, every byte 0xff.
  void FillEntries(uint64_t addr, size_t count) {
    const std::vector<uint8_t> fill(count * sizeof(ion_heap_data), 0xff);
    ASSERT_THAT(backend_->poke(proc_, addr, fill.data(), fill.size()), IsOk());
  }
  std::vector<ion_heap_data> ReadEntries(uint64_t addr, size_t count) {
    std::vector<ion_heap_data> out(count);
    EXPECT_THAT(backend_->peek(proc_, addr, out.data(), count * sizeof(ion_heap_data)), IsOk());
    return out;
  }
  // A user array for heap entries, away from the scratch page.
  uint64_t EntriesArea() { return MapAnon(kPage, kProtRw); }
};

bool AllBytesAre(const ion_heap_data& entry, uint8_t value) {
  const auto* p = reinterpret_cast<const uint8_t*>(&entry);
  for (size_t i = 0; i < sizeof(entry); i++) {
    if (p[i] != value) return false;
  }
  return true;
}

// Every byte of the name after the first NUL is NUL too (hdata is zeroed once and strncpy pads).
bool NameIsPaddedWithNuls(const ion_heap_data& entry) {
  const size_t len = strnlen(entry.name, sizeof(entry.name));
  if (len == sizeof(entry.name)) return false;
  for (size_t i = len; i < sizeof(entry.name); i++) {
    if (entry.name[i] != '\0') return false;
  }
  return true;
}

TEST_F(IonHeapQueryTest, NullHeapsPointerReportsTheHeapCount) {
  EXPECT_THAT(ion_->HeapCount(fd_), IsOkAndHolds(2));
  // Whatever cnt says.
  ion_heap_query query = {};
  query.cnt = 7;
  EXPECT_THAT(Query(&query), IsOkAndHolds(0));
  EXPECT_EQ(query.cnt, 2U);
}

TEST_F(IonHeapQueryTest, ZeroCountWithAHeapsPointerFailsWithEinval) {
  const uint64_t entries = EntriesArea();
  FillEntries(entries, 1);
  ion_heap_query query = {};
  query.heaps = entries;
  EXPECT_THAT(Query(&query), IsErrno(EINVAL));
  EXPECT_EQ(query.cnt, 0U);
  EXPECT_TRUE(AllBytesAre(ReadEntries(entries, 1)[0], 0xff));
}

TEST_F(IonHeapQueryTest, NonzeroReservedFieldFailsWithEinvalAndWarnsBeforeDispatch) {
  kernel::set_bug_printing(false);
  for (int field = 0; field < 3; field++) {
    ion_heap_query query = {};  // a NULL heaps pointer, which alone would succeed
    if (field == 0) query.reserved0 = 1;
    if (field == 1) query.reserved1 = 0x80000000U;
    if (field == 2) query.reserved2 = 5;
    EXPECT_THAT(Query(&query), IsErrno(EINVAL)) << "reserved" << field;
    EXPECT_EQ(query.cnt, 0U) << "reserved" << field;
    // WARN_ON_ONCE in 4.11-4.14: every occurrence is recorded (only the first prints).
    EXPECT_EQ(kernel::bug_event_count(kernel::BugKind::kWarn), 1U) << "reserved" << field;
    kernel::clear_bug_events();
  }
  kernel::set_bug_printing(true);
}

TEST_F(IonHeapQueryTest, EntriesComeInPlistOrderHighestIdFirstWithZeroedReservedFields) {
  const uint64_t entries = EntriesArea();
  FillEntries(entries, 2);
  ion_heap_query query = {};
  query.cnt = 2;
  query.heaps = entries;
  EXPECT_THAT(Query(&query), IsOkAndHolds(0));
  EXPECT_EQ(query.cnt, 2U);
  const std::vector<ion_heap_data> got = ReadEntries(entries, 2);
  EXPECT_STREQ(got[0].name, "carveout");
  EXPECT_EQ(got[0].type, static_cast<__u32>(ION_HEAP_TYPE_CARVEOUT));
  EXPECT_EQ(got[0].heap_id, 2U);
  EXPECT_STREQ(got[1].name, "system_contig");
  EXPECT_EQ(got[1].type, static_cast<__u32>(ION_HEAP_TYPE_SYSTEM_CONTIG));
  EXPECT_EQ(got[1].heap_id, 1U);
  for (const ion_heap_data& entry : got) {
    EXPECT_TRUE(NameIsPaddedWithNuls(entry)) << entry.name;
    EXPECT_EQ(entry.reserved0, 0U);
    EXPECT_EQ(entry.reserved1, 0U);
    EXPECT_EQ(entry.reserved2, 0U);
  }
  // libion's view agrees.
  ErrnoOr<std::vector<ion_heap_data>> heaps = ion_->QueryHeaps(fd_, 2);
  ASSERT_THAT(heaps, IsOk());
  ASSERT_EQ(heaps.value().size(), 2U);
  EXPECT_EQ(heaps.value()[0].heap_id, 2U);
  EXPECT_EQ(heaps.value()[1].heap_id, 1U);
}

TEST_F(IonHeapQueryTest, CountLargerThanTheHeapCountIsSetToTheNumberCopied) {
  const uint64_t entries = EntriesArea();
  FillEntries(entries, 4);
  ion_heap_query query = {};
  query.cnt = 4;
  query.heaps = entries;
  EXPECT_THAT(Query(&query), IsOkAndHolds(0));
  EXPECT_EQ(query.cnt, 2U);
  const std::vector<ion_heap_data> got = ReadEntries(entries, 4);
  EXPECT_EQ(got[1].heap_id, 1U);
  EXPECT_TRUE(AllBytesAre(got[2], 0xff));
  EXPECT_TRUE(AllBytesAre(got[3], 0xff));
}

TEST_F(IonHeapQueryTest, CountOneCopiesOnlyTheFirstHeapInPlistOrder) {
  const uint64_t entries = EntriesArea();
  FillEntries(entries, 2);
  ion_heap_query query = {};
  query.cnt = 1;
  query.heaps = entries;
  EXPECT_THAT(Query(&query), IsOkAndHolds(0));
  EXPECT_EQ(query.cnt, 1U);
  const std::vector<ion_heap_data> got = ReadEntries(entries, 2);
  EXPECT_STREQ(got[0].name, "carveout");
  EXPECT_EQ(got[0].heap_id, 2U);
  EXPECT_TRUE(AllBytesAre(got[1], 0xff));
}

TEST_F(IonHeapQueryTest, CountAboveIntMaxCopiesOneEntryBecauseTheKernelComparesItAsAnInt) {
  // ion_query_heaps() keeps the limit in an int: 0x80000000 becomes INT_MIN, and the loop stops after one entry.
  const uint64_t entries = EntriesArea();
  FillEntries(entries, 2);
  ion_heap_query query = {};
  query.cnt = 0x80000000U;
  query.heaps = entries;
  EXPECT_THAT(Query(&query), IsOkAndHolds(0));
  EXPECT_EQ(query.cnt, 1U);
  const std::vector<ion_heap_data> got = ReadEntries(entries, 2);
  EXPECT_EQ(got[0].heap_id, 2U);
  EXPECT_TRUE(AllBytesAre(got[1], 0xff));
}

TEST_F(IonHeapQueryTest, BadHeapsPointerFailsWithEfaultAndLeavesTheCount) {
  ion_heap_query query = {};
  query.cnt = 2;
  query.heaps = UnmappedAddress();
  EXPECT_THAT(Query(&query), IsErrno(EFAULT));
  EXPECT_EQ(query.cnt, 2U);
}

TEST_F(IonHeapQueryTest, HeapsArrayRunningOffTheEndOfAMappingFailsWithEfaultAfterTheEntriesThatFit) {
  // One whole entry before the hole, the second straddles it.
  const uint64_t page = PageBeforeAHole();
  const uint64_t entries = page + kPage - sizeof(ion_heap_data) - 10;
  FillEntries(entries, 1);
  ion_heap_query query = {};
  query.cnt = 2;
  query.heaps = entries;
  EXPECT_THAT(Query(&query), IsErrno(EFAULT));
  EXPECT_EQ(query.cnt, 2U);
  EXPECT_EQ(ReadEntries(entries, 1)[0].heap_id, 2U);
}

ModelConfig LongHeapNameConfig() {
  ModelConfig config = CoreModelConfig();
  config.heaps[0].name = "system_contig_heap_with_a_very_long_name";  // 40 characters
  return config;
}

class IonHeapQueryLongNameTest : public IonHeapQueryTest {
 protected:
  IonHeapQueryLongNameTest() : IonHeapQueryTest(LongHeapNameConfig()) {}
};

TEST_F(IonHeapQueryLongNameTest, HeapNameIsCutAt31CharactersAndNulTerminated) {
  const uint64_t entries = EntriesArea();
  FillEntries(entries, 2);
  ion_heap_query query = {};
  query.cnt = 2;
  query.heaps = entries;
  EXPECT_THAT(Query(&query), IsOkAndHolds(0));
  const std::vector<ion_heap_data> got = ReadEntries(entries, 2);
  EXPECT_EQ(std::string(got[1].name, sizeof(got[1].name)),
            std::string("system_contig_heap_with_a_very_long_name", MAX_HEAP_NAME - 1) + '\0');
  EXPECT_EQ(got[1].type, static_cast<__u32>(ION_HEAP_TYPE_SYSTEM_CONTIG));
}

// ---- The 4.12 ALLOC, ION_IOC_NEW_ALLOC (section 1.3) -------------------------------------------------------------

class IonNewAllocTest : public IonIoctlTest {};

TEST_F(IonNewAllocTest, ReturnsACloseOnExecDmaBufFdAndMakesNoHandle) {
  ErrnoOr<int> fd = ion_->AllocFd(fd_, 5000, kCarveoutMask, 0);
  ASSERT_THAT(fd, IsOk());
  EXPECT_TRUE(IsDmaBufFd(fd.value()));
  EXPECT_TRUE(CloseOnExec(fd.value()));
  // The dma-buf owns the creation reference; no client holds the buffer.
  const std::string dump = Dump();
  EXPECT_THAT(dump, HasSubstr("buffer b1 heap=carveout size=8192 offset=0x0 flags=0x0 ref=1 handles=0 kmap=0\n"));
  EXPECT_THAT(dump, HasSubstr("client c1 handles=0\n"));
}

TEST_F(IonNewAllocTest, LengthZeroAfterPageAlignFailsWithEinval) {
  EXPECT_THAT(ion_->AllocFd(fd_, 0, kCarveoutMask, 0), IsErrno(EINVAL));
  EXPECT_THAT(ion_->AllocFd(fd_, UINT64_MAX, kCarveoutMask, 0), IsErrno(EINVAL));
  EXPECT_THAT(Dump(), Not(HasSubstr("buffer ")));
}

TEST_F(IonNewAllocTest, MaskMatchingNoHeapFailsWithEnodev) {
  EXPECT_THAT(ion_->AllocFd(fd_, kPage, 0, 0), IsErrno(ENODEV));
  EXPECT_THAT(ion_->AllocFd(fd_, kPage, 1U << 5, 0), IsErrno(ENODEV));
}

TEST_F(IonNewAllocTest, FdTableFullFailsWithEmfileDestroysTheBufferAndLeavesTheFdField) {
  ASSERT_NE(ion_->Scratch(), 0U);
  const std::vector<int> dups = FillFdTable();
  ion_new_allocation_data data;
  std::memset(&data, 0, sizeof(data));
  data.len = kPage;
  data.heap_id_mask = kCarveoutMask;
  data.fd = 0xdeadbeefU;
  EXPECT_THAT(ion_->Ioctl(fd_, ION_IOC_NEW_ALLOC, &data, sizeof(data)), IsErrno(EMFILE));
  EXPECT_EQ(data.fd, 0xdeadbeefU);  // the error returns before the copy out
  const std::string dump = Dump();
  EXPECT_THAT(dump, Not(HasSubstr("buffer b1 ")));
  EXPECT_THAT(dump, HasSubstr("free_list_bytes=4096 free_list=b1\n"));
  CloseAll(dups);
}

TEST_F(IonNewAllocTest, BufferIsDestroyedExactlyWhenTheLastDmaBufFdCloses) {
  ErrnoOr<int> fd = ion_->AllocFd(fd_, kPage, kCarveoutMask, 0);
  ASSERT_THAT(fd, IsOk());
  ErrnoOr<int> dup = backend_->dup(proc_, fd.value());
  ASSERT_THAT(dup, IsOk());
  ASSERT_THAT(backend_->close(proc_, fd.value()), IsOk());
  EXPECT_THAT(Dump(), HasSubstr("buffer b1 "));
  ASSERT_THAT(backend_->close(proc_, dup.value()), IsOk());
  EXPECT_THAT(Dump(), Not(HasSubstr("buffer b1 ")));
  EXPECT_THAT(Dump(), HasSubstr("free_list_bytes=4096 free_list=b1\n"));
}

TEST_F(IonNewAllocTest, WithAMappingAliveTheBufferGoesOnlyAtMunmap) {
  ErrnoOr<int> fd = ion_->AllocFd(fd_, 2 * kPage, kCarveoutMask, 0);
  ASSERT_THAT(fd, IsOk());
  ErrnoOr<uint64_t> addr = backend_->mmap(proc_, 0, 2 * kPage, kProtRw, kMapShared, fd.value(), 0);
  ASSERT_THAT(addr, IsOk());
  ASSERT_THAT(backend_->close(proc_, fd.value()), IsOk());
  EXPECT_THAT(Dump(), HasSubstr("buffer b1 heap=carveout size=8192 offset=0x0 flags=0x0 ref=1 handles=0 kmap=0\n"));
  // Unmapping half of it leaves the other half's reference.
  ASSERT_THAT(backend_->munmap(proc_, addr.value(), kPage), IsOk());
  EXPECT_THAT(Dump(), HasSubstr("buffer b1 "));
  ASSERT_THAT(backend_->munmap(proc_, addr.value() + kPage, kPage), IsOk());
  EXPECT_THAT(Dump(), Not(HasSubstr("buffer b1 ")));
  EXPECT_THAT(Dump(), HasSubstr("free_list_bytes=8192 free_list=b1\n"));
}

TEST_F(IonNewAllocTest, LegacyFreeShareAndMapFindNoHandleForANewAllocBuffer) {
  ErrnoOr<int> fd = ion_->AllocFd(fd_, kPage, kCarveoutMask, 0);
  ASSERT_THAT(fd, IsOk());
  const std::string before = Dump();
  EXPECT_THAT(ion_->Free(fd_, 1), IsErrno(EINVAL));
  EXPECT_THAT(ion_->Share(fd_, 1), IsErrno(EINVAL));
  EXPECT_THAT(ion_->Map(fd_, 1), IsErrno(EINVAL));
  EXPECT_EQ(Dump(), before);
  // A legacy ALLOC after it still gets id 1.
  EXPECT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask, 0), IsOkAndHolds(1));
}

TEST_F(IonNewAllocTest, NewAllocFdIsAnIonDmaBufThatLegacyImportAccepts) {
  ErrnoOr<int> fd = ion_->AllocFd(fd_, kPage, kContigMask, 0);
  ASSERT_THAT(fd, IsOk());
  EXPECT_THAT(ion_->Import(fd_, fd.value()), IsOkAndHolds(1));
  EXPECT_THAT(Dump(), HasSubstr("buffer b1 heap=system_contig size=4096 offset=- flags=0x0 ref=2 handles=1 kmap=0\n"));
  ASSERT_THAT(backend_->close(proc_, fd.value()), IsOk());
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  EXPECT_THAT(Dump(), Not(HasSubstr("buffer b1 ")));
}

}  // namespace
}  // namespace ionsim::testing
