// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The debugfs files whose formats the model and the module must agree on (reference ion.md section 8 @ v4.4:
// heaps/<name>, clients/<pid>-<serial>, and the canonical ion/state dump), on every backend. The model's
// white-box versions are in tests/model/ion_debugfs_test.cc.
#include <cstdarg>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/conformance/conformance.h"
#include "tests/testing/errno_matchers.h"

namespace ionsim::conformance {
namespace {

using ::ionsim::testing::IsErrno;
using ::ionsim::testing::IsOk;
using ::ionsim::testing::IsOkAndHolds;
using ::testing::AnyOf;
using ::testing::Eq;
using ::testing::HasSubstr;

std::string Format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string Format(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  return buf;
}

const std::string kDashes = std::string(52, '-') + "\n";

std::string ClientRow(const std::string& comm, int pid, size_t size) {
  return Format("%16s %16u %16zu\n", comm.c_str(), static_cast<unsigned int>(pid), size);
}

std::string OrphanRow(const std::string& comm, int pid, size_t size, int kmap_cnt, int ref) {
  return Format("%16s %16u %16zu %d %d\n", comm.c_str(), static_cast<unsigned int>(pid), size, kmap_cnt, ref);
}

// heaps/<name> (ion_debug_heap_show() @ v4.4).
std::string HeapFile(const std::vector<std::string>& clients, const std::vector<std::string>& orphans,
                     size_t total_orphaned, size_t total, bool defer_free, size_t deferred_free = 0) {
  std::string out = Format("%16s %16s %16s\n", "client", "pid", "size") + kDashes;
  for (const std::string& row : clients) out += row;
  out += kDashes + "orphaned allocations (info is from last known client):\n";
  for (const std::string& row : orphans) out += row;
  out += kDashes;
  out += Format("%16s %16zu\n", "total orphaned", total_orphaned);
  out += Format("%16s %16zu\n", "total ", total);
  if (defer_free) out += Format("%16s %16zu\n", "deferred free", deferred_free);
  out += kDashes;
  return out;
}

// clients/<pid>-<serial> (ion_debug_client_show() @ v4.4).
std::string ClientFile(const std::vector<std::pair<std::string, size_t>>& heaps) {
  std::string out = Format("%16.16s: %16.16s\n", "heap_name", "size_in_bytes");
  for (const auto& [name, size] : heaps) out += Format("%16.16s: %16zu\n", name.c_str(), size);
  return out;
}

std::string ClientPath(ProcId pid, int serial) {
  return "ion/clients/" + std::to_string(pid) + "-" + std::to_string(serial);
}

class IonDebugfsConformanceTest : public ConformanceTest {
 protected:
  // The app shares its handle 1 as a dma-buf and passes it to `peer`, which imports it on its client peer_fd
  // as its handle 1. *shared is the app's dma-buf fd, *received the peer's.
  void ShareHandle1With(LibIon* peer, int peer_fd, int* shared, int* received) {
    ErrnoOr<int> fd = ion_->Share(fd_, 1);
    ASSERT_THAT(fd, IsOk());
    ErrnoOr<int> passed = backend_->pass_fd(proc_, fd.value(), peer->proc());
    ASSERT_THAT(passed, IsOk());
    ASSERT_THAT(peer->Import(peer_fd, passed.value()), IsOkAndHolds(1));
    *shared = fd.value();
    *received = passed.value();
  }
};

TEST_F(IonDebugfsConformanceTest, EmptyHeapFilesHaveTheHeaderTheOrphanBannerAndZeroTotals) {
  EXPECT_EQ(Read("ion/heaps/carveout"), HeapFile({}, {}, 0, 0, true));
  EXPECT_EQ(Read("ion/heaps/system contig"), HeapFile({}, {}, 0, 0, false));
  EXPECT_THAT(backend_->debugfs_read("ion/heaps/nonexistent"), IsErrno(ENOENT));
}

TEST_F(IonDebugfsConformanceTest, ClientRowIsTheTaskCommPidAndTheSumOfItsHandlesOnThatHeap) {
  ASSERT_THAT(ion_->Alloc(fd_, 8192, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ASSERT_THAT(ion_->Alloc(fd_, 1, 0, kCarveoutMask, 0), IsOkAndHolds(2));
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kContigMask, 0), IsOkAndHolds(3));
  EXPECT_EQ(Read("ion/heaps/carveout"), HeapFile({ClientRow("app", proc_, 12288)}, {}, 0, 12288, true));
  EXPECT_EQ(Read("ion/heaps/system contig"), HeapFile({ClientRow("app", proc_, 4096)}, {}, 0, 4096, false));
  // A client without handles on a heap has no row there.
  std::unique_ptr<LibIon> idle = NewProcess("idle");
  ASSERT_NE(idle, nullptr);
  ASSERT_THAT(idle->Open(), IsOk());
  EXPECT_EQ(Read("ion/heaps/carveout"), HeapFile({ClientRow("app", proc_, 12288)}, {}, 0, 12288, true));
}

TEST_F(IonDebugfsConformanceTest, BufferSharedByTwoClientsCountsInBothRowsButOnceInTheTotal) {
  std::unique_ptr<LibIon> peer = NewProcess("peer");
  ASSERT_NE(peer, nullptr);
  ErrnoOr<int> peer_fd = peer->Open();
  ASSERT_THAT(peer_fd, IsOk());
  ASSERT_THAT(ion_->Alloc(fd_, 8192, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  int shared = -1, received = -1;
  ASSERT_NO_FATAL_FAILURE(ShareHandle1With(peer.get(), peer_fd.value(), &shared, &received));
  // Clients are walked in the order of the device's client tree (kernel addresses): either order.
  const std::string app_row = ClientRow("app", proc_, 8192);
  const std::string peer_row = ClientRow("peer", peer->proc(), 8192);
  EXPECT_THAT(Read("ion/heaps/carveout"), AnyOf(Eq(HeapFile({app_row, peer_row}, {}, 0, 8192, true)),
                                                Eq(HeapFile({peer_row, app_row}, {}, 0, 8192, true))));
}

// app allocates b1 and shares it; peer imports it; both free their handles, peer last: b1 is an orphan row
// naming peer (the last process to drop a handle).
TEST_F(IonDebugfsConformanceTest, BufferKeptOnlyByADmaBufIsAnOrphanRowNamingTheLastProcessThatDroppedAHandle) {
  std::unique_ptr<LibIon> peer = NewProcess("peer");
  ASSERT_NE(peer, nullptr);
  ErrnoOr<int> peer_fd = peer->Open();
  ASSERT_THAT(peer_fd, IsOk());
  ASSERT_THAT(ion_->Alloc(fd_, 8192, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  int shared = -1, received = -1;
  ASSERT_NO_FATAL_FAILURE(ShareHandle1With(peer.get(), peer_fd.value(), &shared, &received));
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  EXPECT_EQ(Read("ion/heaps/carveout"), HeapFile({ClientRow("peer", peer->proc(), 8192)}, {}, 0, 8192, true));
  ASSERT_THAT(peer->Free(peer_fd.value(), 1), IsOk());
  EXPECT_EQ(Read("ion/heaps/carveout"),
            HeapFile({}, {OrphanRow("peer", peer->proc(), 8192, 0, 1)}, 8192, 8192, true));
  ASSERT_THAT(backend_->close(proc_, shared), IsOk());
  ASSERT_THAT(backend_->close(peer->proc(), received), IsOk());
  ASSERT_THAT(backend_->run_deferred_free(), IsOk());
  EXPECT_EQ(Read("ion/heaps/carveout"), HeapFile({}, {}, 0, 0, true));
}

TEST_F(IonDebugfsConformanceTest, OrphanRowShowsTheBufferKmapCountAndReferenceCount) {
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ErrnoOr<int> first = ion_->Share(fd_, 1);
  ErrnoOr<int> second = ion_->Map(fd_, 1);
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT(second, IsOk());
  ASSERT_THAT(ion_->DmaBufSync(first.value(), 0 | 3), IsOk());  // START | RW
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  EXPECT_EQ(Read("ion/heaps/carveout"), HeapFile({}, {OrphanRow("app", proc_, 4096, 1, 2)}, 4096, 4096, true));
  ASSERT_THAT(ion_->DmaBufSync(first.value(), 4 | 3), IsOk());  // END | RW
  ASSERT_THAT(backend_->close(proc_, first.value()), IsOk());
  EXPECT_EQ(Read("ion/heaps/carveout"), HeapFile({}, {OrphanRow("app", proc_, 4096, 0, 1)}, 4096, 4096, true));
}

TEST_F(IonDebugfsConformanceTest, ClientFileListsTheClientsHandleTotalsPerHeapByAscendingHeapId) {
  const std::string path = ClientPath(proc_, 0);
  EXPECT_EQ(Read(path), ClientFile({}));
  ASSERT_THAT(ion_->Alloc(fd_, 8192, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask, 0), IsOkAndHolds(2));
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kContigMask, 0), IsOkAndHolds(3));
  ASSERT_THAT(ion_->Alloc(fd_, 3 * kPage, 0, kChunkMask, 0), IsOkAndHolds(4));
  EXPECT_EQ(Read(path), ClientFile({{"system contig", 4096}, {"carveout", 12288}, {"chunk", 12288}}));
  ErrnoOr<int> second = ion_->Open();
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ(Read(ClientPath(proc_, 1)), ClientFile({}));
  ASSERT_THAT(backend_->close(proc_, second.value()), IsOk());
  EXPECT_THAT(backend_->debugfs_read(ClientPath(proc_, 1)), IsErrno(ENOENT));
}

TEST_F(IonDebugfsConformanceTest, ClientFileDisappearsWhenTheLastFdOfTheClientCloses) {
  const std::string path = ClientPath(proc_, 0);
  ErrnoOr<int> dup = backend_->dup(proc_, fd_);
  ASSERT_THAT(dup, IsOk());
  ASSERT_THAT(backend_->close(proc_, fd_), IsOk());
  EXPECT_THAT(backend_->debugfs_read(path), IsOk());
  ASSERT_THAT(backend_->close(proc_, dup.value()), IsOk());
  EXPECT_THAT(backend_->debugfs_read(path), IsErrno(ENOENT));
}

// debugfs' removal protection (since v4.7, so on the 6.1 kernel; the model's debugfs does the same): a client
// file a process opened before the client was destroyed reads EIO afterwards.
TEST_F(IonDebugfsConformanceTest, ClientFileOpenedBeforeTheClientIsDestroyedFailsWithEioAfterwards) {
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kContigMask, 0), IsOkAndHolds(1));
  const std::string path = "/sys/kernel/debug/" + ClientPath(proc_, 0);
  ErrnoOr<int> before = backend_->open(proc_, path, kORdonly);
  ErrnoOr<int> after = backend_->open(proc_, path, kORdonly);
  ASSERT_THAT(before, IsOk());
  ASSERT_THAT(after, IsOk());
  const uint64_t buf = ion_->Scratch();
  ErrnoOr<long> n = backend_->read(proc_, before.value(), buf, kPage);
  ASSERT_THAT(n, IsOk());
  std::string text(static_cast<size_t>(n.value()), '\0');
  ASSERT_THAT(backend_->peek(proc_, buf, text.data(), text.size()), IsOk());
  EXPECT_EQ(text, ClientFile({{"system contig", 4096}}));
  ASSERT_THAT(backend_->close(proc_, fd_), IsOk());
  EXPECT_THAT(backend_->read(proc_, after.value(), buf, kPage), IsErrno(EIO));
  EXPECT_THAT(backend_->close(proc_, before.value()), IsOk());
  EXPECT_THAT(backend_->close(proc_, after.value()), IsOk());
}

TEST_F(IonDebugfsConformanceTest, CanonicalDumpOfTwoClientsOnTwoHeapsAfterTheDrain) {
  std::unique_ptr<LibIon> peer = NewProcess("peer");
  ASSERT_NE(peer, nullptr);
  ErrnoOr<int> peer_fd = peer->Open();
  ASSERT_THAT(peer_fd, IsOk());
  ASSERT_THAT(ion_->Alloc(fd_, 8192, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kContigMask, 0), IsOkAndHolds(2));
  ASSERT_THAT(ion_->Alloc(fd_, 20000, 0, kChunkMask, 0), IsOkAndHolds(3));
  int shared = -1, received = -1;
  ASSERT_NO_FATAL_FAILURE(ShareHandle1With(peer.get(), peer_fd.value(), &shared, &received));
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask, 0), IsOkAndHolds(4));
  ASSERT_THAT(ion_->Free(fd_, 4), IsOk());
  ASSERT_THAT(backend_->close(proc_, shared), IsOk());
  EXPECT_EQ(DrainedDump(),
            "ionsim-state 1\n"
            "heap 3 chunk type=chunk defer=1 free_list_bytes=0 free_list=-\n"
            "  chunk allocated=32768\n"
            "heap 2 carveout type=carveout defer=1 free_list_bytes=0 free_list=-\n"
            "heap 1 system contig type=system_contig defer=0 free_list_bytes=0 free_list=-\n"
            "heap 0 system type=system defer=1 free_list_bytes=0 free_list=-\n"
            "  pool order=8 high=0 low=0\n"
            "  pool order=4 high=0 low=0\n"
            "  pool order=0 high=0 low=0\n"
            "buffer b1 heap=carveout size=8192 offset=0x0 flags=0x0 ref=3 handles=2 kmap=0\n"
            "buffer b2 heap=system contig size=4096 offset=- flags=0x0 ref=1 handles=1 kmap=0\n"
            "buffer b3 heap=chunk size=20480 offset=0x0,0x4000 flags=0x0 ref=1 handles=1 kmap=0\n"
            "client c1 handles=3\n"
            "  handle 1 b1 ref=1 kmap=0\n"
            "  handle 2 b2 ref=1 kmap=0\n"
            "  handle 3 b3 ref=1 kmap=0\n"
            "client c2 handles=1\n"
            "  handle 1 b1 ref=1 kmap=0\n");
}

}  // namespace
}  // namespace ionsim::conformance
