// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The errno paths of /dev/ion's ioctls (reference ion.md sections 1.2 and 1.3: ion.c:ion_ioctl() @ v4.4,
// HEAP_QUERY of v4.11 and the 4.12 ALLOC), on every backend. The model's white-box versions of these rules are
// in tests/model/ion_ioctl_test.cc and ion_alloc_test.cc.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kmod/uapi/ion.h"
#include "tests/conformance/conformance.h"
#include "tests/testing/errno_matchers.h"

namespace ionsim::conformance {
namespace {

using ::ionsim::testing::IsErrno;
using ::ionsim::testing::IsOk;
using ::ionsim::testing::IsOkAndHolds;
using ::testing::HasSubstr;
using ::testing::Not;

// include/uapi/asm-generic/ioctl.h: _IOC(dir, type, nr, size).
constexpr unsigned int kIocNone = 0, kIocWrite = 1, kIocRead = 2;
constexpr unsigned int Ioc(unsigned int dir, unsigned int type, unsigned int nr, unsigned int size) {
  return (dir << 30) | (size << 16) | (type << 8) | nr;
}
constexpr unsigned int kUnusedNr = 0x3f;

class IonIoctlConformanceTest : public ConformanceTest {};

// ---- The common prelude ------------------------------------------------------------------------------------------

TEST_F(IonIoctlConformanceTest, SizeFieldLargerThanTheUnionFailsWithEinvalBeforeDispatch) {
  const uint64_t scratch = ion_->Scratch();
  EXPECT_THAT(RawIoctl(Ioc(kIocRead | kIocWrite, 'I', kUnusedNr, 33), scratch), IsErrno(EINVAL));
  EXPECT_THAT(RawIoctl(Ioc(kIocNone, 'I', kUnusedNr, 33), scratch), IsErrno(EINVAL));
  EXPECT_THAT(RawIoctl(Ioc(kIocRead | kIocWrite, 'I', 0, 40), scratch), IsErrno(EINVAL));
  EXPECT_THAT(RawIoctl(Ioc(kIocWrite, 'I', kUnusedNr, 33), UnmappedAddress()), IsErrno(EINVAL));
  EXPECT_THAT(RawIoctl(Ioc(kIocRead | kIocWrite, 'I', kUnusedNr, 32), scratch), IsErrno(ENOTTY));
}

TEST_F(IonIoctlConformanceTest, UnknownCmdFailsWithEnottyAndCopiesInOnlyForTheWriteDirection) {
  const uint64_t scratch = ion_->Scratch();
  EXPECT_THAT(RawIoctl(Ioc(kIocRead | kIocWrite, 'I', kUnusedNr, 8), scratch), IsErrno(ENOTTY));
  EXPECT_THAT(RawIoctl(Ioc(kIocRead | kIocWrite, 'I', 3, sizeof(ion_fd_data)), scratch), IsErrno(ENOTTY));
  EXPECT_THAT(RawIoctl(Ioc(kIocRead | kIocWrite, 'I', 1, 8), scratch), IsErrno(ENOTTY));
  EXPECT_THAT(RawIoctl(0xC0144900U, scratch), IsErrno(ENOTTY));  // the ILP32 ALLOC
  const uint64_t bad = UnmappedAddress();
  EXPECT_THAT(RawIoctl(Ioc(kIocWrite, 'I', kUnusedNr, 8), bad), IsErrno(EFAULT));
  EXPECT_THAT(RawIoctl(Ioc(kIocRead | kIocWrite, 'I', kUnusedNr, 8), bad), IsErrno(EFAULT));
  EXPECT_THAT(RawIoctl(Ioc(kIocRead, 'I', kUnusedNr, 8), bad), IsErrno(ENOTTY));
  EXPECT_THAT(RawIoctl(Ioc(kIocNone, 'I', kUnusedNr, 8), bad), IsErrno(ENOTTY));
}

TEST_F(IonIoctlConformanceTest, UnmappedArgumentFailsEveryCommandWithEfaultBeforeItActs) {
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  const std::string before = Dump();
  const int next_fd = NextFd();
  const uint64_t bad = UnmappedAddress();
  for (unsigned int cmd : {ION_IOC_ALLOC, ION_IOC_FREE, ION_IOC_MAP, ION_IOC_SHARE, ION_IOC_IMPORT, ION_IOC_SYNC,
                           ION_IOC_CUSTOM, ION_IOC_HEAP_QUERY, ION_IOC_NEW_ALLOC}) {
    EXPECT_THAT(RawIoctl(cmd, bad), IsErrno(EFAULT)) << std::hex << cmd;
  }
  EXPECT_THAT(RawIoctl(ION_IOC_FREE, 0), IsErrno(EFAULT));
  EXPECT_EQ(Dump(), before);
  EXPECT_EQ(NextFd(), next_fd);
}

TEST_F(IonIoctlConformanceTest, ArgumentStraddlingTheEndOfAMappingFailsWithEfault) {
  const uint64_t page = PageBeforeAHole();
  ion_allocation_data data;
  std::memset(&data, 0, sizeof(data));
  data.len = kPage;
  data.heap_id_mask = kCarveoutMask;
  const uint64_t straddling = page + kPage - 16;
  ASSERT_THAT(backend_->poke(proc_, straddling, &data, 16), IsOk());
  EXPECT_THAT(RawIoctl(ION_IOC_ALLOC, straddling), IsErrno(EFAULT));
  EXPECT_THAT(Dump(), Not(HasSubstr("buffer ")));
  const uint64_t fitting = page + kPage - sizeof(data);
  ASSERT_THAT(backend_->poke(proc_, fitting, &data, sizeof(data)), IsOk());
  EXPECT_THAT(RawIoctl(ION_IOC_ALLOC, fitting), IsOkAndHolds(0));
  ion_allocation_data out;
  ASSERT_THAT(backend_->peek(proc_, fitting, &out, sizeof(out)), IsOk());
  EXPECT_EQ(out.handle, 1);
}

// ---- ALLOC --------------------------------------------------------------------------------------------------------

TEST_F(IonIoctlConformanceTest, HeapsAreTriedInDescendingIdOrderAndOnlyThoseInTheMask) {
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask | kContigMask, 0), IsOkAndHolds(1));
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kContigMask | kSystemMask, 0), IsOkAndHolds(2));
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, ~0U, 0), IsOkAndHolds(3));
  const std::string dump = Dump();
  EXPECT_THAT(dump, HasSubstr("buffer b1 heap=carveout size=4096 offset=0x0 flags=0x0 ref=1 handles=1 kmap=0\n"));
  EXPECT_THAT(dump, HasSubstr("buffer b2 heap=system contig size=4096 offset=- flags=0x0 ref=1 handles=1 kmap=0\n"));
  EXPECT_THAT(dump, HasSubstr("buffer b3 heap=chunk size=4096 offset=0x0 flags=0x0 ref=1 handles=1 kmap=0\n"));
}

TEST_F(IonIoctlConformanceTest, MaskMatchingNoHeapFailsWithEnodevAndZeroLengthWithEinval) {
  EXPECT_THAT(ion_->Alloc(fd_, kPage, 0, 0, 0), IsErrno(ENODEV));
  EXPECT_THAT(ion_->Alloc(fd_, kPage, 0, 1U << 9, 0), IsErrno(ENODEV));
  EXPECT_THAT(ion_->Alloc(fd_, 0, 0, kCarveoutMask, 0), IsErrno(EINVAL));
  EXPECT_THAT(ion_->Alloc(fd_, UINT64_MAX, 0, kCarveoutMask, 0), IsErrno(EINVAL));
  EXPECT_THAT(Dump(), Not(HasSubstr("buffer ")));
}

TEST_F(IonIoctlConformanceTest, LengthIsPageAlignedAndCarveoutRefusesLargeAlignmentAndExhaustion) {
  ASSERT_THAT(ion_->Alloc(fd_, 5000, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  EXPECT_THAT(Dump(), HasSubstr("buffer b1 heap=carveout size=8192 "));
  EXPECT_THAT(ion_->Alloc(fd_, kPage, 2 * kPage, kCarveoutMask, 0), IsErrno(EINVAL));
  EXPECT_THAT(ion_->Alloc(fd_, 8ULL << 20, 0, kCarveoutMask, 0), IsErrno(ENOMEM));
  // The core validates neither flags nor the alignment (the heap checks only that it is at most a page).
  EXPECT_THAT(ion_->Alloc(fd_, kPage, 3, kContigMask, 0xf0f0), IsOkAndHolds(2));
}

TEST_F(IonIoctlConformanceTest, HandleIdsStartAtOneArePerClientAndTheLowestFreeIdIsReusedAtOnce) {
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask, 0), IsOkAndHolds(2));
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask, 0), IsOkAndHolds(3));
  ASSERT_THAT(ion_->Free(fd_, 2), IsOk());
  EXPECT_THAT(ion_->Alloc(fd_, kPage, 0, kContigMask, 0), IsOkAndHolds(2));
  EXPECT_THAT(ion_->Alloc(fd_, kPage, 0, kContigMask, 0), IsOkAndHolds(4));
  ErrnoOr<int> fd2 = ion_->Open();
  ASSERT_THAT(fd2, IsOk());
  EXPECT_THAT(ion_->Alloc(fd2.value(), kPage, 0, kContigMask, 0), IsOkAndHolds(1));
}

// The argument straddles a read-write page and a read-only one: the input fields are readable, handle is not
// writable. ALLOC allocates, cannot copy the id out, frees the handle it made and fails with EFAULT.
TEST_F(IonIoctlConformanceTest, AllocWhoseResultCannotBeCopiedBackFreesTheHandleAndFailsWithEfault) {
  const uint64_t addr = MapAnon(2 * kPage, kProtRw);
  ASSERT_EQ(MapAnon(kPage, kProtRead, addr + kPage), addr + kPage);
  const uint64_t arg = addr + kPage - 24;
  ion_allocation_data data;
  std::memset(&data, 0, sizeof(data));
  data.len = 8192;
  data.heap_id_mask = kCarveoutMask;
  ASSERT_THAT(backend_->poke(proc_, arg, &data, 24), IsOk());
  EXPECT_THAT(RawIoctl(ION_IOC_ALLOC, arg), IsErrno(EFAULT));
  const std::string dump = Dump();
  EXPECT_THAT(dump, Not(HasSubstr("buffer b1 ")));
  EXPECT_THAT(dump, HasSubstr("client c1 handles=0\n"));
  EXPECT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask, 0), IsOkAndHolds(1));
}

// ---- FREE ---------------------------------------------------------------------------------------------------------

TEST_F(IonIoctlConformanceTest, FreeOfAnIdThatIsNotInTheClientsIdrFailsWithEinval) {
  EXPECT_THAT(ion_->Free(fd_, 0), IsErrno(EINVAL));  // libion's legacy-ABI probe
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  EXPECT_THAT(ion_->Free(fd_, 0), IsErrno(EINVAL));
  EXPECT_THAT(ion_->Free(fd_, 2), IsErrno(EINVAL));
  EXPECT_THAT(ion_->Free(fd_, -1), IsErrno(EINVAL));
  EXPECT_THAT(ion_->Free(fd_, INT32_MIN), IsErrno(EINVAL));
  ErrnoOr<int> fd2 = ion_->Open();
  ASSERT_THAT(fd2, IsOk());
  EXPECT_THAT(ion_->Free(fd2.value(), 1), IsErrno(EINVAL));
  EXPECT_THAT(ion_->Free(fd_, 1), IsOk());
  EXPECT_THAT(ion_->Free(fd_, 1), IsErrno(EINVAL));
}

// ---- SHARE and MAP ------------------------------------------------------------------------------------------------

TEST_F(IonIoctlConformanceTest, ShareAndMapOfAnIdThatIsNotInTheClientsIdrFailWithEinvalAndMakeNoFd) {
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  const int next_fd = NextFd();
  for (int id : {0, 2, -1}) {
    EXPECT_THAT(ion_->Share(fd_, id), IsErrno(EINVAL)) << id;
    EXPECT_THAT(ion_->Map(fd_, id), IsErrno(EINVAL)) << id;
  }
  EXPECT_EQ(NextFd(), next_fd);
}

TEST_F(IonIoctlConformanceTest, ShareAndMapEachReturnADmaBufFdHoldingOneBufferReference) {
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  const int next_fd = NextFd();
  EXPECT_THAT(ion_->Share(fd_, 1), IsOkAndHolds(next_fd));
  EXPECT_THAT(ion_->Map(fd_, 1), IsOkAndHolds(next_fd + 1));
  EXPECT_THAT(Dump(), HasSubstr("buffer b1 heap=carveout size=4096 offset=0x0 flags=0x0 ref=3 handles=1 kmap=0\n"));
}

TEST_F(IonIoctlConformanceTest, ShareErrorIsReturnedAndAlsoWrittenIntoTheFdField) {
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  const std::vector<int> dups = FillFdTable(fd_);
  ASSERT_FALSE(dups.empty());
  for (unsigned int cmd : {ION_IOC_SHARE, ION_IOC_MAP}) {
    ion_fd_data data = {1, 12345};
    EXPECT_THAT(ion_->Ioctl(fd_, cmd, &data, sizeof(data)), IsErrno(EMFILE)) << std::hex << cmd;
    EXPECT_EQ(data.handle, 1);
    EXPECT_EQ(data.fd, -EMFILE);
  }
  EXPECT_THAT(Dump(), HasSubstr("buffer b1 heap=carveout size=4096 offset=0x0 flags=0x0 ref=1 handles=1 kmap=0\n"));
  ASSERT_THAT(backend_->close(proc_, dups.back()), IsOk());
  EXPECT_THAT(ion_->Share(fd_, 1), IsOkAndHolds(dups.back()));
  CloseAll(std::vector<int>(dups.begin(), dups.end() - 1));
}

// SHARE installs the fd before it copies the result out, and v4.4 does not undo it.
TEST_F(IonIoctlConformanceTest, ShareWhoseResultCannotBeCopiedBackFailsWithEfaultButKeepsTheNewFd) {
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  const uint64_t addr = MapAnon(2 * kPage, kProtRw);
  ASSERT_EQ(MapAnon(kPage, kProtRead, addr + kPage), addr + kPage);
  const uint64_t arg = addr + kPage - 4;
  const int handle = 1;
  ASSERT_THAT(backend_->poke(proc_, arg, &handle, sizeof(handle)), IsOk());
  const int next_fd = NextFd();
  EXPECT_THAT(RawIoctl(ION_IOC_SHARE, arg), IsErrno(EFAULT));
  EXPECT_EQ(NextFd(), next_fd + 1) << "the dma-buf fd the caller never learnt of";
  EXPECT_THAT(Dump(), HasSubstr("buffer b1 heap=carveout size=4096 offset=0x0 flags=0x0 ref=2 handles=1 kmap=0\n"));
  ASSERT_THAT(backend_->close(proc_, next_fd), IsOk());
  EXPECT_THAT(Dump(), HasSubstr("buffer b1 heap=carveout size=4096 offset=0x0 flags=0x0 ref=1 handles=1 kmap=0\n"));
}

// FREE, SYNC and CUSTOM only read their argument, so they work from read-only memory; IMPORT copies back and
// keeps the handle it made when that fails.
TEST_F(IonIoctlConformanceTest, WriteOnlyCommandsNeverCopyBackWhileImportKeepsItsHandleWhenTheCopyBackFails) {
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
  EXPECT_THAT(RawIoctl(ION_IOC_SYNC, ro.value()), IsOkAndHolds(0));
  EXPECT_THAT(RawIoctl(ION_IOC_CUSTOM, ro.value() + 64), IsErrno(ENOTTY));
  EXPECT_THAT(RawIoctl(ION_IOC_FREE, ro.value() + 128), IsOkAndHolds(0));
  EXPECT_THAT(Dump(), Not(HasSubstr("  handle 2 ")));
  EXPECT_THAT(RawIoctl(ION_IOC_IMPORT, ro.value()), IsErrno(EFAULT));
  EXPECT_THAT(Dump(), HasSubstr("  handle 2 b2 ref=1 kmap=0\n"));
  ASSERT_THAT(backend_->munmap(proc_, rw.value(), kPage), IsOk());
  ASSERT_THAT(backend_->munmap(proc_, ro.value(), kPage), IsOk());
}

// ---- IMPORT -------------------------------------------------------------------------------------------------------

TEST_F(IonIoctlConformanceTest, ImportOfABufferTheClientAlreadyHoldsReturnsTheSameIdWithOneMoreReference) {
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ErrnoOr<int> shared = ion_->Share(fd_, 1);
  ASSERT_THAT(shared, IsOk());
  EXPECT_THAT(ion_->Import(fd_, shared.value()), IsOkAndHolds(1));
  EXPECT_THAT(Dump(), HasSubstr("client c1 handles=1\n  handle 1 b1 ref=2 kmap=0\n"));
  ASSERT_THAT(backend_->close(proc_, shared.value()), IsOk());
  EXPECT_THAT(Dump(), HasSubstr("buffer b1 heap=carveout size=4096 offset=0x0 flags=0x0 ref=1 handles=1 kmap=0\n"));
  EXPECT_THAT(ion_->Free(fd_, 1), IsOk());
  EXPECT_THAT(Dump(), HasSubstr("  handle 1 b1 ref=1 kmap=0\n"));
  EXPECT_THAT(ion_->Free(fd_, 1), IsOk());
  EXPECT_THAT(Dump(), Not(HasSubstr("  handle 1 ")));
  EXPECT_THAT(ion_->Free(fd_, 1), IsErrno(EINVAL));
}

TEST_F(IonIoctlConformanceTest, ImportIntoAnotherClientMakesANewHandleAtThatClientsLowestFreeId) {
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

TEST_F(IonIoctlConformanceTest, ImportOfANonDmaBufFailsWithEinvalAndOfAClosedFdWithEbadf) {
  EXPECT_THAT(ion_->Import(fd_, fd_), IsErrno(EINVAL));
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ErrnoOr<int> shared = ion_->Share(fd_, 1);
  ASSERT_THAT(shared, IsOk());
  ASSERT_THAT(backend_->close(proc_, shared.value()), IsOk());
  EXPECT_THAT(ion_->Import(fd_, shared.value()), IsErrno(EBADF));
  EXPECT_THAT(ion_->Import(fd_, -1), IsErrno(EBADF));
  EXPECT_THAT(ion_->Import(fd_, 100000), IsErrno(EBADF));
  EXPECT_THAT(Dump(), HasSubstr("client c1 handles=1\n"));
}

// ---- SYNC and CUSTOM ----------------------------------------------------------------------------------------------

TEST_F(IonIoctlConformanceTest, SyncOfAnIonDmaBufSucceedsFromAnyClientAndFailsForOtherFds) {
  ASSERT_THAT(ion_->Alloc(fd_, 3 * kPage, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ErrnoOr<int> shared = ion_->Share(fd_, 1);
  ASSERT_THAT(shared, IsOk());
  EXPECT_THAT(ion_->Sync(fd_, shared.value()), IsOk());
  ErrnoOr<int> fd2 = ion_->Open();
  ASSERT_THAT(fd2, IsOk());
  EXPECT_THAT(ion_->Sync(fd2.value(), shared.value()), IsOk());
  EXPECT_THAT(Dump(), HasSubstr("client c2 handles=0\n"));
  EXPECT_THAT(ion_->Sync(fd_, fd_), IsErrno(EINVAL));
  EXPECT_THAT(ion_->Sync(fd_, -1), IsErrno(EBADF));
  ASSERT_THAT(backend_->close(proc_, shared.value()), IsOk());
  EXPECT_THAT(ion_->Sync(fd_, shared.value()), IsErrno(EBADF));
}

TEST_F(IonIoctlConformanceTest, CustomWithoutACustomIoctlHandlerFailsWithEnotty) {
  ion_custom_data data = {0, 0};
  EXPECT_THAT(ion_->Ioctl(fd_, ION_IOC_CUSTOM, &data, sizeof(data)), IsErrno(ENOTTY));
  data = {0xdeadbeefU, 0x1234};
  EXPECT_THAT(ion_->Ioctl(fd_, ION_IOC_CUSTOM, &data, sizeof(data)), IsErrno(ENOTTY));
}

// ---- HEAP_QUERY ---------------------------------------------------------------------------------------------------

class IonHeapQueryConformanceTest : public ConformanceTest {
 protected:
  ErrnoOr<long> Query(ion_heap_query* query) { return ion_->Ioctl(fd_, ION_IOC_HEAP_QUERY, query, sizeof(*query)); }
  void FillEntries(uint64_t at, size_t n) {
    std::vector<uint8_t> junk(n * sizeof(ion_heap_data), 0xff);
    ASSERT_THAT(backend_->poke(proc_, at, junk.data(), junk.size()), IsOk());
  }
  std::vector<ion_heap_data> ReadEntries(uint64_t at, size_t n) {
    std::vector<ion_heap_data> out(n);
    EXPECT_THAT(backend_->peek(proc_, at, out.data(), n * sizeof(ion_heap_data)), IsOk());
    return out;
  }
};

bool AllBytesAre(const ion_heap_data& entry, uint8_t value) {
  const auto* p = reinterpret_cast<const uint8_t*>(&entry);
  for (size_t i = 0; i < sizeof(entry); i++) {
    if (p[i] != value) return false;
  }
  return true;
}

TEST_F(IonHeapQueryConformanceTest, NullHeapsPointerReportsTheHeapCountAndZeroCountWithAPointerFails) {
  EXPECT_THAT(ion_->HeapCount(fd_), IsOkAndHolds(4));
  ion_heap_query query = {};
  query.cnt = 7;
  EXPECT_THAT(Query(&query), IsOkAndHolds(0));
  EXPECT_EQ(query.cnt, 4U);
  const uint64_t entries = MapAnon(kPage, kProtRw);
  FillEntries(entries, 1);
  query = {};
  query.heaps = entries;
  EXPECT_THAT(Query(&query), IsErrno(EINVAL));
  EXPECT_TRUE(AllBytesAre(ReadEntries(entries, 1)[0], 0xff));
}

TEST_F(IonHeapQueryConformanceTest, EntriesComeInPlistOrderHighestIdFirstAndTheCountIsWhatWasCopied) {
  const uint64_t entries = MapAnon(kPage, kProtRw);
  FillEntries(entries, 6);
  ion_heap_query query = {};
  query.cnt = 6;
  query.heaps = entries;
  EXPECT_THAT(Query(&query), IsOkAndHolds(0));
  EXPECT_EQ(query.cnt, 4U);
  const std::vector<ion_heap_data> got = ReadEntries(entries, 6);
  const char* names[] = {"chunk", "carveout", "system contig", "system"};
  const unsigned int types[] = {ION_HEAP_TYPE_CHUNK, ION_HEAP_TYPE_CARVEOUT, ION_HEAP_TYPE_SYSTEM_CONTIG,
                                ION_HEAP_TYPE_SYSTEM};
  for (int i = 0; i < 4; i++) {
    EXPECT_STREQ(got[i].name, names[i]);
    EXPECT_EQ(got[i].type, types[i]);
    EXPECT_EQ(got[i].heap_id, static_cast<__u32>(3 - i));
    EXPECT_EQ(got[i].reserved0, 0U);
    EXPECT_EQ(got[i].reserved1, 0U);
    EXPECT_EQ(got[i].reserved2, 0U);
  }
  EXPECT_TRUE(AllBytesAre(got[4], 0xff));
  // cnt 0x80000000 is INT_MIN in ion_query_heaps(): one entry.
  FillEntries(entries, 2);
  query = {};
  query.cnt = 0x80000000U;
  query.heaps = entries;
  EXPECT_THAT(Query(&query), IsOkAndHolds(0));
  EXPECT_EQ(query.cnt, 1U);
  EXPECT_TRUE(AllBytesAre(ReadEntries(entries, 2)[1], 0xff));
}

TEST_F(IonHeapQueryConformanceTest, BadHeapsPointerFailsWithEfaultAfterTheEntriesThatFit) {
  ion_heap_query query = {};
  query.cnt = 2;
  query.heaps = UnmappedAddress();
  EXPECT_THAT(Query(&query), IsErrno(EFAULT));
  EXPECT_EQ(query.cnt, 2U);
  const uint64_t page = PageBeforeAHole();
  const uint64_t entries = page + kPage - sizeof(ion_heap_data) - 10;
  FillEntries(entries, 1);
  query = {};
  query.cnt = 2;
  query.heaps = entries;
  EXPECT_THAT(Query(&query), IsErrno(EFAULT));
  EXPECT_EQ(ReadEntries(entries, 1)[0].heap_id, 3U);
}

// ---- NEW_ALLOC (the 4.12 ALLOC) -----------------------------------------------------------------------------------

TEST_F(IonIoctlConformanceTest, NewAllocReturnsADmaBufFdAndMakesNoHandle) {
  const int next_fd = NextFd();
  EXPECT_THAT(ion_->AllocFd(fd_, 5000, kCarveoutMask, 0), IsOkAndHolds(next_fd));
  const std::string dump = Dump();
  EXPECT_THAT(dump, HasSubstr("buffer b1 heap=carveout size=8192 offset=0x0 flags=0x0 ref=1 handles=0 kmap=0\n"));
  EXPECT_THAT(dump, HasSubstr("client c1 handles=0\n"));
  EXPECT_THAT(ion_->AllocFd(fd_, 0, kCarveoutMask, 0), IsErrno(EINVAL));
  EXPECT_THAT(ion_->AllocFd(fd_, UINT64_MAX, kCarveoutMask, 0), IsErrno(EINVAL));
  EXPECT_THAT(ion_->AllocFd(fd_, kPage, 0, 0), IsErrno(ENODEV));
  EXPECT_THAT(ion_->AllocFd(fd_, kPage, 1U << 5, 0), IsErrno(ENODEV));
}

TEST_F(IonIoctlConformanceTest, NewAllocWithAFullFdTableFailsWithEmfileAndLeavesTheFdField) {
  const std::vector<int> dups = FillFdTable(fd_);
  ion_new_allocation_data data;
  std::memset(&data, 0, sizeof(data));
  data.len = kPage;
  data.heap_id_mask = kCarveoutMask;
  data.fd = 0xdeadbeefU;
  EXPECT_THAT(ion_->Ioctl(fd_, ION_IOC_NEW_ALLOC, &data, sizeof(data)), IsErrno(EMFILE));
  EXPECT_EQ(data.fd, 0xdeadbeefU);
  EXPECT_THAT(Dump(), Not(HasSubstr("buffer b1 ")));
  CloseAll(dups);
}

TEST_F(IonIoctlConformanceTest, NewAllocBufferGoesWithItsLastFdOrMappingAndLegacyCommandsFindNoHandle) {
  ErrnoOr<int> fd = ion_->AllocFd(fd_, 2 * kPage, kCarveoutMask, 0);
  ASSERT_THAT(fd, IsOk());
  const std::string before = Dump();
  EXPECT_THAT(ion_->Free(fd_, 1), IsErrno(EINVAL));
  EXPECT_THAT(ion_->Share(fd_, 1), IsErrno(EINVAL));
  EXPECT_THAT(ion_->Map(fd_, 1), IsErrno(EINVAL));
  EXPECT_EQ(Dump(), before);
  ErrnoOr<uint64_t> addr = backend_->mmap(proc_, 0, 2 * kPage, kProtRw, kMapShared, fd.value(), 0);
  ASSERT_THAT(addr, IsOk());
  ErrnoOr<int> dup = backend_->dup(proc_, fd.value());
  ASSERT_THAT(dup, IsOk());
  ASSERT_THAT(backend_->close(proc_, fd.value()), IsOk());
  ASSERT_THAT(backend_->close(proc_, dup.value()), IsOk());
  EXPECT_THAT(Dump(), HasSubstr("buffer b1 heap=carveout size=8192 offset=0x0 flags=0x0 ref=1 handles=0 kmap=0\n"));
  ASSERT_THAT(backend_->munmap(proc_, addr.value(), kPage), IsOk());
  EXPECT_THAT(Dump(), HasSubstr("buffer b1 "));
  ASSERT_THAT(backend_->munmap(proc_, addr.value() + kPage, kPage), IsOk());
  EXPECT_THAT(Dump(), Not(HasSubstr("buffer b1 ")));
}

TEST_F(IonIoctlConformanceTest, NewAllocFdIsAnIonDmaBufThatLegacyImportAccepts) {
  ErrnoOr<int> fd = ion_->AllocFd(fd_, kPage, kContigMask, 0);
  ASSERT_THAT(fd, IsOk());
  EXPECT_THAT(ion_->Import(fd_, fd.value()), IsOkAndHolds(1));
  EXPECT_THAT(Dump(),
              HasSubstr("buffer b1 heap=system contig size=4096 offset=- flags=0x0 ref=2 handles=1 kmap=0\n"));
  ASSERT_THAT(backend_->close(proc_, fd.value()), IsOk());
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  EXPECT_THAT(Dump(), Not(HasSubstr("buffer b1 ")));
}

}  // namespace
}  // namespace ionsim::conformance
