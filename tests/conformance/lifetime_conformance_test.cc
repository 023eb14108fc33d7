// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Buffer lifetime and what processes see (reference ion.md sections 2-4 @ v4.4), on every backend: orphans,
// client close with live dma-bufs, fork and fd passing, mmap round trips and bounds, deferred free and drain.
// The model's white-box versions are in tests/model/ion_lifetime_test.cc and ion_userspace_test.cc.
#include <algorithm>
#include <cstdint>
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

std::vector<uint8_t> Pattern(size_t len, uint8_t seed) {
  std::vector<uint8_t> out(len);
  for (size_t i = 0; i < len; i++) out[i] = static_cast<uint8_t>(seed + i * 13 + (i >> 12));
  return out;
}

class IonLifetimeConformanceTest : public ConformanceTest {
 protected:
  // ALLOC (expecting `id`) and SHARE: the dma-buf fd.
  int AllocShared(int id, size_t len, unsigned int mask) {
    EXPECT_THAT(ion_->Alloc(fd_, len, 0, mask, 0), IsOkAndHolds(id));
    ErrnoOr<int> shared = ion_->Share(fd_, id);
    EXPECT_THAT(shared, IsOk());
    return shared.ok() ? shared.value() : -1;
  }
};

TEST_F(IonLifetimeConformanceTest, SharedBufferOutlivesItsLastHandleAsAnOrphanUntilTheDmaBufFdCloses) {
  const int shared = AllocShared(1, kPage, kCarveoutMask);
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  EXPECT_THAT(Dump(), HasSubstr("buffer b1 heap=carveout size=4096 offset=0x0 flags=0x0 ref=1 handles=0 kmap=0\n"));
  EXPECT_THAT(Dump(), HasSubstr("client c1 handles=0\n"));
  ASSERT_THAT(backend_->close(proc_, shared), IsOk());
  EXPECT_THAT(Dump(), Not(HasSubstr("buffer b1 ")));
  EXPECT_THAT(DrainedDump(), HasSubstr("heap 2 carveout type=carveout defer=1 free_list_bytes=0 free_list=-\n"));
}

TEST_F(IonLifetimeConformanceTest, ClientCloseDestroysEveryHandleWhateverItsRefcountAndLeavesDmaBufsUsable) {
  const int shared = AllocShared(1, 2 * kPage, kCarveoutMask);
  ErrnoOr<int> again = ion_->Import(fd_, shared);
  ASSERT_THAT(again, IsOkAndHolds(1));  // handle ref 2
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kContigMask, 0), IsOkAndHolds(2));
  ErrnoOr<uint64_t> addr = backend_->mmap(proc_, 0, 2 * kPage, kProtRw, kMapShared, shared, 0);
  ASSERT_THAT(addr, IsOk());
  const std::vector<uint8_t> bytes = Pattern(2 * kPage, 0x40);
  ASSERT_THAT(backend_->poke(proc_, addr.value(), bytes.data(), bytes.size()), IsOk());

  ASSERT_THAT(backend_->close(proc_, fd_), IsOk());
  std::string dump = Dump();
  EXPECT_THAT(dump, Not(HasSubstr("client c1 ")));
  EXPECT_THAT(dump, HasSubstr("buffer b1 heap=carveout size=8192 offset=0x0 flags=0x0 ref=1 handles=0 kmap=0\n"));
  EXPECT_THAT(dump, Not(HasSubstr("buffer b2 ")));
  // The mapping and the fd still reach the same bytes.
  std::vector<uint8_t> back(bytes.size());
  ASSERT_THAT(backend_->peek(proc_, addr.value(), back.data(), back.size()), IsOk());
  EXPECT_EQ(back, bytes);
  ASSERT_THAT(backend_->close(proc_, shared), IsOk());
  EXPECT_THAT(Dump(), HasSubstr("buffer b1 "));  // the mapping's reference
  ASSERT_THAT(backend_->munmap(proc_, addr.value(), 2 * kPage), IsOk());
  EXPECT_THAT(Dump(), Not(HasSubstr("buffer b1 ")));
}

TEST_F(IonLifetimeConformanceTest, DmaBufSyncStartMapsTheBufferForTheKernelAndEndUnmapsIt) {
  const int shared = AllocShared(1, kPage, kCarveoutMask);
  const uint64_t kStartRw = 0 | 3, kEndRw = 4 | 3;
  ASSERT_THAT(ion_->DmaBufSync(shared, kStartRw), IsOk());
  EXPECT_THAT(Dump(), HasSubstr("buffer b1 heap=carveout size=4096 offset=0x0 flags=0x0 ref=2 handles=1 kmap=1\n"));
  ASSERT_THAT(ion_->DmaBufSync(shared, kStartRw), IsOk());
  EXPECT_THAT(Dump(), HasSubstr(" kmap=2\n"));
  ASSERT_THAT(ion_->DmaBufSync(shared, kEndRw), IsOk());
  ASSERT_THAT(ion_->DmaBufSync(shared, kEndRw), IsOk());
  EXPECT_THAT(Dump(), HasSubstr("buffer b1 heap=carveout size=4096 offset=0x0 flags=0x0 ref=2 handles=1 kmap=0\n"));
  EXPECT_THAT(ion_->DmaBufSync(shared, 0x100), IsErrno(EINVAL));  // an undefined flag
}

TEST_F(IonLifetimeConformanceTest, ExitUnmapsAndClosesEverythingAndTheProcessIsGone) {
  std::unique_ptr<LibIon> other = NewProcess("other");
  ASSERT_NE(other, nullptr);
  ErrnoOr<int> fd = other->Open();
  ASSERT_THAT(fd, IsOk());
  ASSERT_THAT(other->Alloc(fd.value(), kPage, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ErrnoOr<int> shared = other->Share(fd.value(), 1);
  ASSERT_THAT(shared, IsOk());
  ErrnoOr<int> fd2 = other->AllocFd(fd.value(), 3 * kPage, kContigMask, 0);
  ASSERT_THAT(fd2, IsOk());
  ErrnoOr<uint64_t> addr = backend_->mmap(other->proc(), 0, 3 * kPage, kProtRw, kMapShared, fd2.value(), 0);
  ASSERT_THAT(addr, IsOk());
  ASSERT_THAT(backend_->close(other->proc(), fd2.value()), IsOk());
  EXPECT_THAT(Dump(), HasSubstr("client c2 handles=1\n"));
  ASSERT_THAT(backend_->exit(other->proc()), IsOk());
  const std::string dump = DrainedDump();
  EXPECT_THAT(dump, Not(HasSubstr("buffer ")));
  EXPECT_THAT(dump, Not(HasSubstr("client c2 ")));
  EXPECT_THAT(backend_->exit(other->proc()), IsErrno(ESRCH));
  EXPECT_THAT(backend_->open(other->proc(), "/dev/ion", kORdonly), IsErrno(ESRCH));
}

TEST_F(IonLifetimeConformanceTest, NewFdsAreTheLowestFreeOnes) {
  EXPECT_EQ(fd_, 0);
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  EXPECT_THAT(ion_->Share(fd_, 1), IsOkAndHolds(1));
  EXPECT_THAT(ion_->Share(fd_, 1), IsOkAndHolds(2));
  EXPECT_THAT(ion_->Open(), IsOkAndHolds(3));
  ASSERT_THAT(backend_->close(proc_, 1), IsOk());
  EXPECT_THAT(ion_->AllocFd(fd_, kPage, kContigMask, 0), IsOkAndHolds(1));
  EXPECT_THAT(backend_->dup(proc_, 2), IsOkAndHolds(4));
  EXPECT_THAT(backend_->close(proc_, 9), IsErrno(EBADF));
}

TEST_F(IonLifetimeConformanceTest, ForkedChildSharesTheIonClientThroughItsInheritedFd) {
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ErrnoOr<ProcId> child = backend_->fork(proc_);
  ASSERT_THAT(child, IsOk());
  LibIon child_ion(backend_.get(), child.value());
  // One client: the child's ALLOC through the inherited fd gets the next id of the same idr.
  EXPECT_THAT(child_ion.Alloc(fd_, kPage, 0, kContigMask, 0), IsOkAndHolds(2));
  EXPECT_THAT(child_ion.Free(fd_, 1), IsOk());
  EXPECT_THAT(ion_->Free(fd_, 1), IsErrno(EINVAL));
  EXPECT_THAT(Dump(), HasSubstr("client c1 handles=1\n  handle 2 b2 ref=1 kmap=0\n"));
  // The child's exit closes its copy only.
  ASSERT_THAT(backend_->exit(child.value()), IsOk());
  EXPECT_THAT(Dump(), HasSubstr("client c1 handles=1\n"));
  EXPECT_THAT(ion_->Free(fd_, 2), IsOk());
}

TEST_F(IonLifetimeConformanceTest, ForkedChildSeesTheParentsMappingOfTheSameBuffer) {
  const int shared = AllocShared(1, kPage, kCarveoutMask);
  ErrnoOr<uint64_t> addr = backend_->mmap(proc_, 0, kPage, kProtRw, kMapShared, shared, 0);
  ASSERT_THAT(addr, IsOk());
  ErrnoOr<ProcId> child = backend_->fork(proc_);
  ASSERT_THAT(child, IsOk());
  const uint32_t word = 0xfeedf00d;
  ASSERT_THAT(backend_->poke(child.value(), addr.value() + 8, &word, sizeof(word)), IsOk());
  uint32_t seen = 0;
  ASSERT_THAT(backend_->peek(proc_, addr.value() + 8, &seen, sizeof(seen)), IsOk());
  EXPECT_EQ(seen, word) << "a MAP_SHARED mapping is shared across fork";
  EXPECT_THAT(Dump(), HasSubstr("buffer b1 heap=carveout size=4096 offset=0x0 flags=0x0 ref=2 handles=1 kmap=0\n"));
  ASSERT_THAT(backend_->exit(child.value()), IsOk());
}

TEST_F(IonLifetimeConformanceTest, PassedDmaBufIsImportedIntoTheReceiversOwnClient) {
  std::unique_ptr<LibIon> peer = NewProcess("peer");
  ASSERT_NE(peer, nullptr);
  ErrnoOr<int> peer_fd = peer->Open();
  ASSERT_THAT(peer_fd, IsOkAndHolds(0));
  const int shared = AllocShared(1, kPage, kCarveoutMask);
  ErrnoOr<int> received = backend_->pass_fd(proc_, shared, peer->proc());
  ASSERT_THAT(received, IsOkAndHolds(1));
  EXPECT_THAT(peer->Import(peer_fd.value(), received.value()), IsOkAndHolds(1));
  EXPECT_THAT(Dump(), HasSubstr("buffer b1 heap=carveout size=4096 offset=0x0 flags=0x0 ref=3 handles=2 kmap=0\n"));
  EXPECT_THAT(Dump(), HasSubstr("client c2 handles=1\n  handle 1 b1 ref=1 kmap=0\n"));
  // The sender's fd stays open; an fd that is not open cannot be passed.
  EXPECT_THAT(backend_->close(proc_, shared), IsOk());
  EXPECT_THAT(backend_->pass_fd(proc_, shared, peer->proc()), IsErrno(EBADF));
}

TEST_F(IonLifetimeConformanceTest, BytesWrittenThroughOneProcessesMappingAreReadThroughAnothers) {
  std::unique_ptr<LibIon> peer = NewProcess("peer");
  ASSERT_NE(peer, nullptr);
  for (unsigned int mask : {kCarveoutMask, kContigMask, kChunkMask, kSystemMask}) {
    SCOPED_TRACE(mask);
    constexpr size_t kLen = 5 * kPage;
    ErrnoOr<int> shared = ion_->AllocFd(fd_, kLen, mask, 0);
    ASSERT_THAT(shared, IsOk());
    ErrnoOr<int> received = backend_->pass_fd(proc_, shared.value(), peer->proc());
    ASSERT_THAT(received, IsOk());
    ErrnoOr<uint64_t> mine = backend_->mmap(proc_, 0, kLen, kProtRw, kMapShared, shared.value(), 0);
    ErrnoOr<uint64_t> theirs = backend_->mmap(peer->proc(), 0, kLen, kProtRead, kMapShared, received.value(), 0);
    ASSERT_THAT(mine, IsOk());
    ASSERT_THAT(theirs, IsOk());
    std::vector<uint8_t> zeros(kLen, 0xaa);
    ASSERT_THAT(backend_->peek(peer->proc(), theirs.value(), zeros.data(), kLen), IsOk());
    EXPECT_EQ(std::count(zeros.begin(), zeros.end(), 0), static_cast<long>(kLen)) << "a new buffer reads as zero";
    const std::vector<uint8_t> bytes = Pattern(kLen, static_cast<uint8_t>(mask));
    ASSERT_THAT(backend_->poke(proc_, mine.value(), bytes.data(), kLen), IsOk());
    std::vector<uint8_t> back(kLen);
    ASSERT_THAT(backend_->peek(peer->proc(), theirs.value(), back.data(), kLen), IsOk());
    EXPECT_EQ(back, bytes);
    // The reader's mapping is read-only.
    EXPECT_THAT(backend_->poke(peer->proc(), theirs.value(), bytes.data(), 1), IsErrno(EFAULT));
    ASSERT_THAT(backend_->munmap(proc_, mine.value(), kLen), IsOk());
    ASSERT_THAT(backend_->munmap(peer->proc(), theirs.value(), kLen), IsOk());
    ASSERT_THAT(backend_->close(proc_, shared.value()), IsOk());
    ASSERT_THAT(backend_->close(peer->proc(), received.value()), IsOk());
  }
  EXPECT_THAT(Dump(), Not(HasSubstr("buffer ")));
}

TEST_F(IonLifetimeConformanceTest, MmapBeyondTheBufferFailsWithEinvalAndAnOffsetWithinMapsTheRightPages) {
  constexpr size_t kLen = 3 * kPage;
  const int share = AllocShared(1, kLen, kCarveoutMask);
  ErrnoOr<uint64_t> whole = backend_->mmap(proc_, 0, kLen, kProtRw, kMapShared, share, 0);
  ASSERT_THAT(whole, IsOk());
  const std::vector<uint8_t> bytes = Pattern(kLen, 0x11);
  ASSERT_THAT(backend_->poke(proc_, whole.value(), bytes.data(), kLen), IsOk());
  EXPECT_THAT(backend_->mmap(proc_, 0, 4 * kPage, kProtRw, kMapShared, share, 0), IsErrno(EINVAL));
  EXPECT_THAT(backend_->mmap(proc_, 0, 2 * kPage, kProtRw, kMapShared, share, 2 * kPage), IsErrno(EINVAL));
  EXPECT_THAT(backend_->mmap(proc_, 0, kPage, kProtRw, kMapShared, share, 3 * kPage), IsErrno(EINVAL));
  ErrnoOr<uint64_t> last = backend_->mmap(proc_, 0, kPage, kProtRw, kMapShared, share, 2 * kPage);
  ASSERT_THAT(last, IsOk());
  std::vector<uint8_t> read(kPage);
  ASSERT_THAT(backend_->peek(proc_, last.value(), read.data(), kPage), IsOk());
  EXPECT_TRUE(std::equal(read.begin(), read.end(), bytes.begin() + 2 * kPage));
  const uint8_t mark = 0xee;
  ASSERT_THAT(backend_->poke(proc_, last.value() + 5, &mark, 1), IsOk());
  uint8_t seen = 0;
  ASSERT_THAT(backend_->peek(proc_, whole.value() + 2 * kPage + 5, &seen, 1), IsOk());
  EXPECT_EQ(seen, mark);
  // The /dev/ion fd itself has no mmap (ENODEV), and is read-only for a shared writable mapping (EACCES first).
  EXPECT_THAT(backend_->mmap(proc_, 0, kPage, kProtRead, kMapShared, fd_, 0), IsErrno(ENODEV));
  EXPECT_THAT(backend_->mmap(proc_, 0, kPage, kProtRw, kMapShared, fd_, 0), IsErrno(EACCES));
  ASSERT_THAT(backend_->munmap(proc_, whole.value(), kLen), IsOk());
  ASSERT_THAT(backend_->munmap(proc_, last.value(), kPage), IsOk());
}

TEST_F(IonLifetimeConformanceTest, MunmapOfPartOfAMappingKeepsTheRestUsableAndUnmappedBytesFault) {
  constexpr size_t kLen = 4 * kPage;
  const int share = AllocShared(1, kLen, kContigMask);
  ErrnoOr<uint64_t> addr = backend_->mmap(proc_, 0, kLen, kProtRw, kMapShared, share, 0);
  ASSERT_THAT(addr, IsOk());
  const std::vector<uint8_t> bytes = Pattern(kLen, 0x77);
  ASSERT_THAT(backend_->poke(proc_, addr.value(), bytes.data(), kLen), IsOk());
  ASSERT_THAT(backend_->munmap(proc_, addr.value() + kPage, kPage), IsOk());
  uint8_t byte = 0;
  EXPECT_THAT(backend_->peek(proc_, addr.value() + kPage, &byte, 1), IsErrno(EFAULT));
  EXPECT_THAT(backend_->poke(proc_, addr.value() + kPage + 7, &byte, 1), IsErrno(EFAULT));
  std::vector<uint8_t> tail(2 * kPage);
  ASSERT_THAT(backend_->peek(proc_, addr.value() + 2 * kPage, tail.data(), tail.size()), IsOk());
  EXPECT_TRUE(std::equal(tail.begin(), tail.end(), bytes.begin() + 2 * kPage));
  std::vector<uint8_t> straddle(kPage + 1);
  EXPECT_THAT(backend_->peek(proc_, addr.value(), straddle.data(), straddle.size()), IsErrno(EFAULT));
  EXPECT_THAT(backend_->munmap(proc_, addr.value() + 1, kPage), IsErrno(EINVAL));
  ASSERT_THAT(backend_->munmap(proc_, addr.value(), kLen), IsOk());
}

TEST_F(IonLifetimeConformanceTest, FreedBuffersWaitOnTheFreeListUntilTheDeferredFreeRuns) {
  if (IsKernel()) {
    // The module's deferred-free thread runs on its own: what the free list holds between FREE and ion/drain
    // depends on the scheduler, so only the state after the drain is compared.
    ASSERT_THAT(ion_->Alloc(fd_, 8192, 0, kCarveoutMask, 0), IsOkAndHolds(1));
    ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
    EXPECT_THAT(Dump(), Not(HasSubstr("buffer b1 ")));
    EXPECT_THAT(DrainedDump(), HasSubstr("heap 2 carveout type=carveout defer=1 free_list_bytes=0 free_list=-\n"));
    GTEST_SKIP() << "the kernel's deferred-free thread empties the free list asynchronously; the model's runs "
                    "only in run_deferred_free()";
  }
  ASSERT_THAT(ion_->Alloc(fd_, 8192, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask, 0), IsOkAndHolds(2));
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  ASSERT_THAT(ion_->Free(fd_, 2), IsOk());
  EXPECT_THAT(Dump(), HasSubstr("heap 2 carveout type=carveout defer=1 free_list_bytes=12288 free_list=b2,b1\n"));
  EXPECT_THAT(DrainedDump(), HasSubstr("heap 2 carveout type=carveout defer=1 free_list_bytes=0 free_list=-\n"));
}

TEST_F(IonLifetimeConformanceTest, CarveoutSpaceComesBackAfterTheDrainAndIdsAndOffsetsAreReused) {
  // The whole 4 MiB carveout, freed and allocated again at offset 0.
  ASSERT_THAT(ion_->Alloc(fd_, 4ULL << 20, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  EXPECT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask, 0), IsErrno(ENOMEM));
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  ASSERT_THAT(backend_->run_deferred_free(), IsOk());
  ASSERT_THAT(ion_->Alloc(fd_, 4ULL << 20, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  EXPECT_THAT(Dump(), HasSubstr("buffer b2 heap=carveout size=4194304 offset=0x0 flags=0x0 ref=1 handles=1 kmap=0\n"));
}

// The partial-unmap sequences of the guest smoke test (tools/qemu/guest/ion_smoke.c, check_pat_sequences), on
// every heap and in every cache mode: what is still mapped keeps its bytes, and once the buffer is gone the same
// pages map again in the other cache mode. On the module this is where x86 PAT memtype records used to leak
// (kmod/ion_heap.c: ion_remap_pfn_range()); on v4.4 and the model a valid buffer always maps.
TEST_F(IonLifetimeConformanceTest, PiecewiseMunmapsKeepTheRestAndTheSamePagesMapAgainInTheOtherCacheMode) {
  constexpr size_t kPages = 16;
  constexpr size_t kLen = kPages * kPage;
  constexpr size_t kQ = kPages / 4;
  constexpr unsigned int kCachedSync = ION_FLAG_CACHED | ION_FLAG_CACHED_NEEDS_SYNC;
  enum Cut { kHead, kTail, kMiddle, kOffset, kForkedHalf };
  for (unsigned int mask : {kCarveoutMask, kChunkMask, kContigMask, kSystemMask}) {
    for (unsigned int flags : {static_cast<unsigned int>(ION_FLAG_CACHED), kCachedSync, 0U}) {
      for (Cut cut : {kHead, kTail, kMiddle, kOffset, kForkedHalf}) {
        SCOPED_TRACE(::testing::Message() << "heap mask " << mask << " flags " << flags << " cut " << cut);
        ErrnoOr<int> buf = ion_->AllocFd(fd_, kLen, mask, flags);
        ASSERT_THAT(buf, IsOk());
        ErrnoOr<uint64_t> m = backend_->mmap(proc_, 0, kLen, kProtRw, kMapShared, buf.value(), 0);
        ASSERT_THAT(m, IsOk());
        const std::vector<uint8_t> bytes = Pattern(kLen, static_cast<uint8_t>(mask + flags + cut));
        ASSERT_THAT(backend_->poke(proc_, m.value(), bytes.data(), kLen), IsOk());
        // Pages [first, first + n) still read what was written through the whole mapping at `base`.
        const auto expect_pages = [&](ProcId proc, uint64_t base, size_t first, size_t n) {
          std::vector<uint8_t> got(n * kPage);
          ASSERT_THAT(backend_->peek(proc, base + first * kPage, got.data(), got.size()), IsOk());
          EXPECT_TRUE(std::equal(got.begin(), got.end(), bytes.begin() + static_cast<long>(first * kPage)))
              << "pages " << first << ".." << first + n - 1;
        };
        const uint64_t a = m.value();
        switch (cut) {
          case kHead:
            ASSERT_THAT(backend_->munmap(proc_, a, kQ * kPage), IsOk());
            expect_pages(proc_, a, kQ, kPages - kQ);
            ASSERT_THAT(backend_->munmap(proc_, a + kQ * kPage, (kPages - kQ) * kPage), IsOk());
            break;
          case kTail:
            ASSERT_THAT(backend_->munmap(proc_, a + (kPages - kQ) * kPage, kQ * kPage), IsOk());
            expect_pages(proc_, a, 0, kPages - kQ);
            ASSERT_THAT(backend_->munmap(proc_, a, (kPages - kQ) * kPage), IsOk());
            break;
          case kMiddle:
            ASSERT_THAT(backend_->munmap(proc_, a + kQ * kPage, kQ * kPage), IsOk());
            expect_pages(proc_, a, 0, kQ);
            expect_pages(proc_, a, 2 * kQ, kPages - 2 * kQ);
            uint8_t byte;
            EXPECT_THAT(backend_->peek(proc_, a + kQ * kPage, &byte, 1), IsErrno(EFAULT));
            ASSERT_THAT(backend_->munmap(proc_, a, kLen), IsOk());
            break;
          case kOffset: {
            // A second mapping of the middle half (a nonzero vm_pgoff), cut in two.
            ErrnoOr<uint64_t> o =
                backend_->mmap(proc_, 0, kLen / 2, kProtRw, kMapShared, buf.value(), kQ * kPage);
            ASSERT_THAT(o, IsOk());
            ASSERT_THAT(backend_->munmap(proc_, o.value(), kQ * kPage), IsOk());
            expect_pages(proc_, o.value() - kQ * kPage, 2 * kQ, kQ);
            ASSERT_THAT(backend_->munmap(proc_, o.value() + kQ * kPage, kQ * kPage), IsOk());
            ASSERT_THAT(backend_->munmap(proc_, a, kLen), IsOk());
            break;
          }
          case kForkedHalf: {
            // The child drops the head half of its inherited mapping and exits holding the tail half.
            ErrnoOr<ProcId> child = backend_->fork(proc_);
            ASSERT_THAT(child, IsOk());
            ASSERT_THAT(backend_->munmap(child.value(), a, kLen / 2), IsOk());
            expect_pages(child.value(), a, kPages / 2, kPages / 2);
            ASSERT_THAT(backend_->exit(child.value()), IsOk());
            ASSERT_THAT(backend_->munmap(proc_, a + kLen / 2, kLen / 2), IsOk());
            expect_pages(proc_, a, 0, kPages / 2);
            ASSERT_THAT(backend_->munmap(proc_, a, kLen / 2), IsOk());
            break;
          }
        }
        ASSERT_THAT(backend_->close(proc_, buf.value()), IsOk());
        const std::string before = DrainedDump();
        EXPECT_THAT(before, Not(HasSubstr("buffer ")));
        // The same pages (carveout and chunk heaps hand out their lowest free range) in the other cache mode.
        ErrnoOr<int> again = ion_->AllocFd(fd_, kLen, mask, flags != 0 ? 0U : kCachedSync);
        ASSERT_THAT(again, IsOk());
        if (mask == kCarveoutMask || mask == kChunkMask) {
          EXPECT_THAT(Dump(), HasSubstr(" offset=0x0"));
        }
        ErrnoOr<uint64_t> m2 = backend_->mmap(proc_, 0, kLen, kProtRw, kMapShared, again.value(), 0);
        ASSERT_THAT(m2, IsOk());
        std::vector<uint8_t> fresh(kLen, 0xaa);
        ASSERT_THAT(backend_->peek(proc_, m2.value(), fresh.data(), kLen), IsOk());
        EXPECT_EQ(std::count(fresh.begin(), fresh.end(), 0), static_cast<long>(kLen)) << "zeroed again";
        ASSERT_THAT(backend_->poke(proc_, m2.value(), bytes.data(), kLen), IsOk());
        expect_pages(proc_, m2.value(), 0, kPages);
        ASSERT_THAT(backend_->munmap(proc_, m2.value(), kLen), IsOk());
        ASSERT_THAT(backend_->close(proc_, again.value()), IsOk());
        ASSERT_THAT(backend_->run_deferred_free(), IsOk());
      }
    }
  }
}

// A private writable mapping (a COW mapping) of a buffer of one sg entry maps (v4.4's remap_pfn_range() takes a
// COW range that covers the whole vma), and a store through it lands in a private copy of the page, never in the
// buffer. A buffer of several sg entries fails with EINVAL: tests/model/ion_userspace_test.cc (the module logs
// "ion_mmap: failure mapping buffer to userspace" for it, which ionsim-qemu judges a failed run).
TEST_F(IonLifetimeConformanceTest, PrivateWritableMappingWorksForOneSgEntryAndIsCopiedOnWrite) {
  constexpr size_t kLen = 4 * kPage;
  ErrnoOr<int> buf = ion_->AllocFd(fd_, kLen, kCarveoutMask, 0);
  ASSERT_THAT(buf, IsOk());
  ErrnoOr<uint64_t> shared = backend_->mmap(proc_, 0, kLen, kProtRw, kMapShared, buf.value(), 0);
  ErrnoOr<uint64_t> priv = backend_->mmap(proc_, 0, kLen, kProtRw, kMapPrivate, buf.value(), 0);
  ASSERT_THAT(shared, IsOk());
  ASSERT_THAT(priv, IsOk());
  const std::vector<uint8_t> bytes = Pattern(kLen, 0x3c);
  ASSERT_THAT(backend_->poke(proc_, shared.value(), bytes.data(), kLen), IsOk());
  std::vector<uint8_t> seen(kLen);
  ASSERT_THAT(backend_->peek(proc_, priv.value(), seen.data(), kLen), IsOk());
  EXPECT_EQ(seen, bytes) << "an untouched private page shows the buffer";
  const uint8_t mark = 0x99;
  ASSERT_THAT(backend_->poke(proc_, priv.value() + kPage + 3, &mark, 1), IsOk());
  uint8_t in_buffer = 0;
  ASSERT_THAT(backend_->peek(proc_, shared.value() + kPage + 3, &in_buffer, 1), IsOk());
  EXPECT_EQ(in_buffer, bytes[kPage + 3]) << "the private store went to a copy";
  ASSERT_THAT(backend_->munmap(proc_, priv.value() + kPage, kPage), IsOk());
  ASSERT_THAT(backend_->munmap(proc_, priv.value(), kLen), IsOk());
  ASSERT_THAT(backend_->munmap(proc_, shared.value(), kLen), IsOk());
  ASSERT_THAT(backend_->close(proc_, buf.value()), IsOk());
}

}  // namespace
}  // namespace ionsim::conformance
