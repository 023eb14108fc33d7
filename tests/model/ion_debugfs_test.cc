// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// ION's debugfs files in their exact v4.4 formats (reference ion.md section 4; ion.c:ion_debug_heap_show(),
// debug_shrink_fops and ion_debug_client_show() @ v4.4), the orphan bookkeeping behind them (section 2.2), the
// client file removal rule (section 5 item 9), and the canonical state dump (model/ion_state.h). Expected text
// is built with the kernel's own format strings; every operation runs the invariant checker.
#include <algorithm>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kmod/uapi/ion.h"
#include "model/backend/board_config.h"
#include "model/ion_state.h"
#include "model/kernel/debugfs.h"
#include "model/kernel/dma_buf.h"
#include "tests/testing/errno_matchers.h"
#include "tests/testing/ion_fixture.h"

namespace ionsim::testing {
namespace {

using ::testing::AnyOfArray;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr unsigned int kContigMask = 1U << 1;
constexpr unsigned int kCarveoutMask = 1U << 2;
constexpr size_t kPage = 4096;
constexpr unsigned int kORdonly = kernel::O_RDONLY;

std::string Format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string Format(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  return buf;
}

// The separator of the heap file: 52 dashes.
const std::string& Dashes() {
  static const std::string* dashes = new std::string(std::string(52, '-') + "\n");
  return *dashes;
}

// A row for a client with handles on the heap: comm (or name), pid, the sum of its handles' buffer sizes.
std::string ClientRow(const std::string& comm, int pid, size_t size) {
  return Format("%16s %16u %16zu\n", comm.c_str(), static_cast<unsigned int>(pid), size);
}

// A row for a buffer no handle holds: the last client's comm and pid, size, kmap_cnt, refcount.
std::string OrphanRow(const std::string& comm, int pid, size_t size, int kmap_cnt, int ref) {
  return Format("%16s %16u %16zu %d %d\n", comm.c_str(), static_cast<unsigned int>(pid), size, kmap_cnt, ref);
}

// The contents of heaps/<name>. Clients are walked in the order of the device's client tree and orphans in the
// order of its buffer tree, both keyed by kernel address, so a file with several rows may list them in any order.
struct HeapFile {
  std::vector<std::string> client_rows;
  std::vector<std::string> orphan_rows;
  size_t total_orphaned = 0;
  size_t total = 0;
  bool defer_free = false;
  size_t deferred_free = 0;

  std::string Render(const std::vector<std::string>& clients, const std::vector<std::string>& orphans) const {
    std::string out = Format("%16s %16s %16s\n", "client", "pid", "size") + Dashes();
    for (const std::string& row : clients) out += row;
    out += Dashes() + "orphaned allocations (info is from last known client):\n";
    for (const std::string& row : orphans) out += row;
    out += Dashes();
    out += Format("%16s %16zu\n", "total orphaned", total_orphaned);
    out += Format("%16s %16zu\n", "total ", total);
    if (defer_free) out += Format("%16s %16zu\n", "deferred free", deferred_free);
    out += Dashes();
    return out;
  }

  // Every rendering: each order of the client rows with each order of the orphan rows.
  std::vector<std::string> AllOrders() const {
    std::vector<std::string> out;
    std::vector<std::string> clients = client_rows;
    std::sort(clients.begin(), clients.end());
    do {
      std::vector<std::string> orphans = orphan_rows;
      std::sort(orphans.begin(), orphans.end());
      do {
        out.push_back(Render(clients, orphans));
      } while (std::next_permutation(orphans.begin(), orphans.end()));
    } while (std::next_permutation(clients.begin(), clients.end()));
    return out;
  }
};

HeapFile CarveoutFile() {
  HeapFile f;
  f.defer_free = true;
  return f;
}

// The contents of clients/<pid>-<serial>: the client's handle totals per heap, by ascending heap id.
std::string ClientFile(const std::vector<std::pair<std::string, size_t>>& heaps) {
  std::string out = Format("%16.16s: %16.16s\n", "heap_name", "size_in_bytes");
  for (const auto& [name, size] : heaps) out += Format("%16.16s: %16zu\n", name.c_str(), size);
  return out;
}

std::string ClientPath(ProcId pid, int serial) {
  return "ion/clients/" + std::to_string(pid) + "-" + std::to_string(serial);
}

class IonDebugfsTest : public IonTest {
 protected:
  IonDebugfsTest() = default;
  explicit IonDebugfsTest(const ModelConfig& config) : IonTest(config) {}

  std::string Read(const std::string& path) {
    ErrnoOr<std::string> text = backend_->debugfs_read(path);
    EXPECT_THAT(text, IsOk()) << path;
    return text.ok() ? text.value() : "";
  }

  std::string Dump() {
    ErrnoOr<std::string> dump = backend_->canonical_dump();
    return dump.ok() ? dump.value() : "";
  }

  // read(2) of up to 4 KiB from a process's fd into its scratch page; the bytes read.
  ErrnoOr<std::string> ReadFd(LibIon* ion, int fd) {
    const uint64_t buf = ion->Scratch();
    ErrnoOr<long> n = backend_->read(ion->proc(), fd, buf, kPage);
    if (!n.ok()) return n.error();
    std::string out(static_cast<size_t>(n.value()), '\0');
    ION_RETURN_IF_ERROR(backend_->peek(ion->proc(), buf, out.data(), out.size()));
    return out;
  }

  // A second process with /dev/ion open.
  struct Peer {
    std::unique_ptr<LibIon> ion;
    int fd = -1;
  };
  Peer NewPeer(const std::string& comm) {
    Peer peer;
    peer.ion = NewProcess(comm);
    if (peer.ion == nullptr) return peer;
    ErrnoOr<int> fd = peer.ion->Open();
    EXPECT_THAT(fd, IsOk());
    if (fd.ok()) peer.fd = fd.value();
    return peer;
  }
};

// ---- heaps/<name> ------------------------------------------------------------------------------------------------

TEST_F(IonDebugfsTest, EmptyHeapFileHasTheHeaderTheOrphanBannerAndZeroTotals) {
  EXPECT_EQ(Read("ion/heaps/carveout"), CarveoutFile().Render({}, {}));
  // system_contig has no DEFER_FREE: no "deferred free" line. Neither heap has a debug_show.
  EXPECT_EQ(Read("ion/heaps/system_contig"), HeapFile().Render({}, {}));
  EXPECT_THAT(Read("ion/heaps/carveout"), HasSubstr("\n----------------------------------------------------\n"));
}

TEST_F(IonDebugfsTest, ClientRowIsTheTaskCommPidAndTheSumOfItsHandlesOnThatHeap) {
  ASSERT_THAT(ion_->Alloc(fd_, 8192, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ASSERT_THAT(ion_->Alloc(fd_, 1, 0, kCarveoutMask, 0), IsOkAndHolds(2));  // a page
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kContigMask, 0), IsOkAndHolds(3));

  HeapFile carveout = CarveoutFile();
  carveout.client_rows = {ClientRow("app", proc_, 12288)};
  carveout.total = 12288;
  EXPECT_EQ(Read("ion/heaps/carveout"), carveout.Render(carveout.client_rows, {}));
  HeapFile contig;
  contig.client_rows = {ClientRow("app", proc_, 4096)};
  contig.total = 4096;
  EXPECT_EQ(Read("ion/heaps/system_contig"), contig.Render(contig.client_rows, {}));
}

TEST_F(IonDebugfsTest, ClientWithNoHandleOnAHeapHasNoRowInThatHeapsFile) {
  Peer peer = NewPeer("peer");
  ASSERT_NE(peer.ion, nullptr);
  ASSERT_THAT(peer.ion->Alloc(peer.fd, kPage, 0, kContigMask, 0), IsOkAndHolds(1));
  Peer idle = NewPeer("idle");  // a client without any handle
  ASSERT_NE(idle.ion, nullptr);
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask, 0), IsOkAndHolds(1));

  HeapFile carveout = CarveoutFile();
  carveout.client_rows = {ClientRow("app", proc_, 4096)};
  carveout.total = 4096;
  EXPECT_EQ(Read("ion/heaps/carveout"), carveout.Render(carveout.client_rows, {}));
  HeapFile contig;
  contig.client_rows = {ClientRow("peer", peer.ion->proc(), 4096)};
  contig.total = 4096;
  EXPECT_EQ(Read("ion/heaps/system_contig"), contig.Render(contig.client_rows, {}));
}

TEST_F(IonDebugfsTest, BufferSharedByTwoClientsCountsInBothClientRowsButOnceInTheTotal) {
  Peer peer = NewPeer("peer");
  ASSERT_NE(peer.ion, nullptr);
  ASSERT_THAT(ion_->Alloc(fd_, 8192, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ErrnoOr<int> shared = ion_->Share(fd_, 1);
  ASSERT_THAT(shared, IsOk());
  ErrnoOr<int> received = backend_->pass_fd(proc_, shared.value(), peer.ion->proc());
  ASSERT_THAT(received, IsOk());
  ASSERT_THAT(peer.ion->Import(peer.fd, received.value()), IsOkAndHolds(1));

  HeapFile carveout = CarveoutFile();
  carveout.client_rows = {ClientRow("app", proc_, 8192), ClientRow("peer", peer.ion->proc(), 8192)};
  carveout.total = 8192;
  EXPECT_THAT(Read("ion/heaps/carveout"), AnyOfArray(carveout.AllOrders()));
}

// app allocates b1 and shares it; peer receives the fd and imports it; both free their handles, peer last.
//   handles: app h1 -> b1 <- peer h1      after both FREEs: b1 <- dma-buf (fds in app and peer)
// Expect b1 to become an orphan row naming peer (the last process to drop a handle) with kmap 0 and ref 1, and
// to leave the heap file for the free list when the last fd closes.
TEST_F(IonDebugfsTest, BufferKeptOnlyByADmaBufIsAnOrphanRowNamingTheLastProcessThatDroppedAHandle) {
  Peer peer = NewPeer("peer");
  ASSERT_NE(peer.ion, nullptr);
  const ProcId peer_pid = peer.ion->proc();
  ASSERT_THAT(ion_->Alloc(fd_, 8192, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ErrnoOr<int> shared = ion_->Share(fd_, 1);
  ASSERT_THAT(shared, IsOk());
  ErrnoOr<int> received = backend_->pass_fd(proc_, shared.value(), peer_pid);
  ASSERT_THAT(received, IsOk());
  ASSERT_THAT(peer.ion->Import(peer.fd, received.value()), IsOkAndHolds(1));
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());

  HeapFile carveout = CarveoutFile();
  carveout.client_rows = {ClientRow("peer", peer_pid, 8192)};
  carveout.total = 8192;
  EXPECT_EQ(Read("ion/heaps/carveout"), carveout.Render(carveout.client_rows, {}));

  ASSERT_THAT(peer.ion->Free(peer.fd, 1), IsOk());
  carveout.client_rows = {};
  carveout.orphan_rows = {OrphanRow("peer", peer_pid, 8192, 0, 1)};
  carveout.total_orphaned = 8192;
  EXPECT_EQ(Read("ion/heaps/carveout"), carveout.Render({}, carveout.orphan_rows));

  ASSERT_THAT(backend_->close(proc_, shared.value()), IsOk());
  ASSERT_THAT(backend_->close(peer_pid, received.value()), IsOk());
  HeapFile freed = CarveoutFile();
  freed.deferred_free = 8192;
  EXPECT_EQ(Read("ion/heaps/carveout"), freed.Render({}, {}));
}

// The orphan's comm and pid are current's when the last handle goes, not the client's task: app's client is
// destroyed by peer, which holds the last reference to app's /dev/ion file.
//   app: open /dev/ion (client of app), ALLOC h1 -> b1, SHARE -> fd s; pass the /dev/ion fd to peer;
//   app closes its /dev/ion fd (the client lives on); peer closes its copy -> ion_release runs in peer.
// Expect the client row to name app while the client lives, and the orphan row to name peer afterwards.
TEST_F(IonDebugfsTest, OrphanNamesTheProcessThatDroppedTheLastHandleNotTheClientsOwner) {
  Peer peer = NewPeer("peer");
  ASSERT_NE(peer.ion, nullptr);
  const ProcId peer_pid = peer.ion->proc();
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ErrnoOr<int> shared = ion_->Share(fd_, 1);
  ASSERT_THAT(shared, IsOk());
  ErrnoOr<int> passed = backend_->pass_fd(proc_, fd_, peer_pid);
  ASSERT_THAT(passed, IsOk());
  ASSERT_THAT(backend_->close(proc_, fd_), IsOk());

  HeapFile carveout = CarveoutFile();
  carveout.client_rows = {ClientRow("app", proc_, 4096)};
  carveout.total = 4096;
  EXPECT_EQ(Read("ion/heaps/carveout"), carveout.Render(carveout.client_rows, {}));

  ASSERT_THAT(backend_->close(peer_pid, passed.value()), IsOk());
  carveout.client_rows = {};
  carveout.orphan_rows = {OrphanRow("peer", peer_pid, 4096, 0, 1)};
  carveout.total_orphaned = 4096;
  EXPECT_EQ(Read("ion/heaps/carveout"), carveout.Render({}, carveout.orphan_rows));
}

TEST_F(IonDebugfsTest, OrphanRowShowsTheBufferKmapCountAndReferenceCount) {
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ErrnoOr<int> first = ion_->Share(fd_, 1);
  ErrnoOr<int> second = ion_->Map(fd_, 1);
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT(second, IsOk());
  // DMA_BUF_IOCTL_SYNC START maps the buffer into the kernel: kmap_cnt 1.
  ASSERT_THAT(ion_->DmaBufSync(first.value(), kernel::DMA_BUF_SYNC_START | kernel::DMA_BUF_SYNC_RW), IsOk());
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());

  // Two dma-bufs: ref 2.
  HeapFile carveout = CarveoutFile();
  carveout.orphan_rows = {OrphanRow("app", proc_, 4096, 1, 2)};
  carveout.total_orphaned = 4096;
  carveout.total = 4096;
  EXPECT_EQ(Read("ion/heaps/carveout"), carveout.Render({}, carveout.orphan_rows));

  ASSERT_THAT(ion_->DmaBufSync(first.value(), kernel::DMA_BUF_SYNC_END | kernel::DMA_BUF_SYNC_RW), IsOk());
  ASSERT_THAT(backend_->close(proc_, first.value()), IsOk());
  carveout.orphan_rows = {OrphanRow("app", proc_, 4096, 0, 1)};
  EXPECT_EQ(Read("ion/heaps/carveout"), carveout.Render({}, carveout.orphan_rows));
}

TEST_F(IonDebugfsTest, FreeListedBuffersLeaveTheTotalAndCountAsDeferredFree) {
  ASSERT_THAT(ion_->Alloc(fd_, 8192, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask, 0), IsOkAndHolds(2));
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  HeapFile carveout = CarveoutFile();
  carveout.client_rows = {ClientRow("app", proc_, 4096)};
  carveout.total = 4096;
  carveout.deferred_free = 8192;
  EXPECT_EQ(Read("ion/heaps/carveout"), carveout.Render(carveout.client_rows, {}));
  ASSERT_THAT(ion_->Free(fd_, 2), IsOk());
  EXPECT_EQ(Read("ion/heaps/carveout"), [] {
    HeapFile f = CarveoutFile();
    f.deferred_free = 12288;
    return f.Render({}, {});
  }());
  ASSERT_THAT(backend_->run_deferred_free(), IsOk());
  EXPECT_EQ(Read("ion/heaps/carveout"), CarveoutFile().Render({}, {}));
}

// ---- heaps/<name>_shrink -----------------------------------------------------------------------------------------

// Frees carveout buffers of 4, 8 and 4 KiB in the order 1, 3, 2, so the LIFO free list is b2 (8K), b3, b1.
class IonShrinkFileTest : public IonDebugfsTest {
 protected:
  void MakeFreeList() {
    ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask, 0), IsOkAndHolds(1));
    ASSERT_THAT(ion_->Alloc(fd_, 8192, 0, kCarveoutMask, 0), IsOkAndHolds(2));
    ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask, 0), IsOkAndHolds(3));
    ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
    ASSERT_THAT(ion_->Free(fd_, 3), IsOk());
    ASSERT_THAT(ion_->Free(fd_, 2), IsOk());
    ASSERT_THAT(Dump(), HasSubstr("free_list_bytes=16384 free_list=b2,b3,b1\n"));
  }
  std::string Count() { return Read("ion/heaps/carveout_shrink"); }
  Errno Scan(const std::string& text) { return backend_->debugfs_write("ion/heaps/carveout_shrink", text); }
};

TEST_F(IonShrinkFileTest, ReadingGivesTheFreeListPagesPlusPoolPages) {
  EXPECT_EQ(Count(), Format("%llu\n", 0ULL));
  MakeFreeList();
  // The carveout has no page pool: the free list alone, 16 KiB = 4 pages.
  EXPECT_EQ(Count(), Format("%llu\n", 4ULL));
  // A live buffer is not counted.
  ASSERT_THAT(ion_->Alloc(fd_, 8192, 0, kContigMask, 0), IsOkAndHolds(1));
  EXPECT_EQ(Count(), Format("%llu\n", 4ULL));
}

TEST_F(IonShrinkFileTest, HeapWithoutDeferredFreeOrShrinkHasNoShrinkFile) {
  EXPECT_THAT(backend_->debugfs_read("ion/heaps/system_contig_shrink"), IsErrno(ENOENT));
  ErrnoOr<std::vector<std::string>> names = kernel::debugfs_list("ion/heaps");
  ASSERT_THAT(names, IsOk());
  EXPECT_THAT(names.value(), ElementsAre("system_contig", "carveout", "carveout_shrink"));
}

TEST_F(IonShrinkFileTest, WritingNScansNPagesInWholeBuffersFromTheHeadOfTheFreeList) {
  MakeFreeList();
  // One page asked: the head buffer goes whole, both its pages.
  ASSERT_THAT(Scan("1"), IsOk());
  EXPECT_EQ(Count(), Format("%llu\n", 2ULL));
  EXPECT_THAT(Dump(), HasSubstr("free_list_bytes=8192 free_list=b3,b1\n"));
  // simple_strtoll with base 0: "0x1" is 1.
  ASSERT_THAT(Scan("0x1"), IsOk());
  EXPECT_EQ(Count(), Format("%llu\n", 1ULL));
  EXPECT_THAT(Dump(), HasSubstr("free_list_bytes=4096 free_list=b1\n"));
  // More than there is: what there is.
  ASSERT_THAT(Scan("5"), IsOk());
  EXPECT_EQ(Count(), Format("%llu\n", 0ULL));
  EXPECT_THAT(Dump(), HasSubstr("free_list_bytes=0 free_list=-\n"));
}

TEST_F(IonShrinkFileTest, WritingZeroScansTheWholeFreeList) {
  MakeFreeList();
  ASSERT_THAT(Scan("0"), IsOk());
  EXPECT_EQ(Count(), Format("%llu\n", 0ULL));
  EXPECT_THAT(Dump(), HasSubstr("free_list_bytes=0 free_list=-\n"));
  // The granules are back: the whole 4 MiB carveout can be allocated at once.
  EXPECT_THAT(ion_->Alloc(fd_, 4 << 20, 0, kCarveoutMask, 0), IsOkAndHolds(1));
}

TEST_F(IonShrinkFileTest, WritingTextThatIsNotANumberParsesAsZeroAndScansEverything) {
  MakeFreeList();
  ASSERT_THAT(Scan("abc"), IsOk());
  EXPECT_EQ(Count(), Format("%llu\n", 0ULL));
  EXPECT_THAT(Dump(), HasSubstr("free_list_bytes=0 free_list=-\n"));
}

// ---- clients/<pid>-<serial> --------------------------------------------------------------------------------------

TEST_F(IonDebugfsTest, ClientFileListsTheClientsHandleTotalsPerHeapByAscendingHeapId) {
  const std::string path = ClientPath(proc_, 0);
  EXPECT_EQ(Read(path), ClientFile({}));
  ASSERT_THAT(ion_->Alloc(fd_, 8192, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask, 0), IsOkAndHolds(2));
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kContigMask, 0), IsOkAndHolds(3));
  EXPECT_EQ(Read(path), ClientFile({{"system_contig", 4096}, {"carveout", 12288}}));
  // An imported buffer is the importer's handle like any other.
  Peer peer = NewPeer("peer");
  ASSERT_NE(peer.ion, nullptr);
  ASSERT_THAT(peer.ion->Alloc(peer.fd, 3 * kPage, 0, kContigMask, 0), IsOkAndHolds(1));
  ErrnoOr<int> shared = peer.ion->Share(peer.fd, 1);
  ASSERT_THAT(shared, IsOk());
  ErrnoOr<int> received = backend_->pass_fd(peer.ion->proc(), shared.value(), proc_);
  ASSERT_THAT(received, IsOk());
  ASSERT_THAT(ion_->Import(fd_, received.value()), IsOkAndHolds(4));
  ASSERT_THAT(ion_->Free(fd_, 2), IsOk());
  EXPECT_EQ(Read(path), ClientFile({{"system_contig", 16384}, {"carveout", 8192}}));
  EXPECT_EQ(Read(ClientPath(peer.ion->proc(), 0)), ClientFile({{"system_contig", 12288}}));
}

TEST_F(IonDebugfsTest, ClientSerialIsOneAboveTheLargestLiveSerialOfTheSamePid) {
  ErrnoOr<int> second = ion_->Open();
  ASSERT_THAT(second, IsOk());
  Peer peer = NewPeer("peer");
  ASSERT_NE(peer.ion, nullptr);
  const std::string app = std::to_string(proc_);
  const std::string other = std::to_string(peer.ion->proc());
  ErrnoOr<std::vector<std::string>> names = kernel::debugfs_list("ion/clients");
  ASSERT_THAT(names, IsOk());
  EXPECT_THAT(names.value(), ElementsAre(app + "-0", app + "-1", other + "-0"));

  // With serial 0 gone and 1 alive, the next client of the same pid is 2, not the free 0.
  ASSERT_THAT(backend_->close(proc_, fd_), IsOk());
  ErrnoOr<int> third = ion_->Open();
  ASSERT_THAT(third, IsOk());
  names = kernel::debugfs_list("ion/clients");
  ASSERT_THAT(names, IsOk());
  EXPECT_THAT(names.value(), ElementsAre(app + "-1", other + "-0", app + "-2"));

  // Once every client of the pid is gone, serials start at 0 again.
  ASSERT_THAT(backend_->close(proc_, second.value()), IsOk());
  ASSERT_THAT(backend_->close(proc_, third.value()), IsOk());
  ErrnoOr<int> fourth = ion_->Open();
  ASSERT_THAT(fourth, IsOk());
  names = kernel::debugfs_list("ion/clients");
  ASSERT_THAT(names, IsOk());
  EXPECT_THAT(names.value(), ElementsAre(other + "-0", app + "-0"));
}

TEST_F(IonDebugfsTest, ClientFileDisappearsWhenTheClientIsDestroyed) {
  const std::string path = ClientPath(proc_, 0);
  // A second fd on the same file keeps the client.
  ErrnoOr<int> dup = backend_->dup(proc_, fd_);
  ASSERT_THAT(dup, IsOk());
  ASSERT_THAT(backend_->close(proc_, fd_), IsOk());
  EXPECT_THAT(backend_->debugfs_read(path), IsOk());
  ASSERT_THAT(backend_->close(proc_, dup.value()), IsOk());
  EXPECT_THAT(backend_->debugfs_read(path), IsErrno(ENOENT));
}

// v4.4 reads a destroyed client through the open file's stale pointer (reference section 5 item 9a); the model's
// debugfs fails every read of a removed file with EIO, as debugfs' removal protection does from v4.7
// (model/kernel/debugfs.h).
TEST_F(IonDebugfsTest, ClientFileOpenedBeforeTheClientIsDestroyedFailsWithEioAfterwards) {
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kContigMask, 0), IsOkAndHolds(1));
  const std::string path = "/sys/kernel/debug/" + ClientPath(proc_, 0);
  ErrnoOr<int> before = backend_->open(proc_, path, kORdonly);
  ErrnoOr<int> after = backend_->open(proc_, path, kORdonly);
  ASSERT_THAT(before, IsOk());
  ASSERT_THAT(after, IsOk());
  EXPECT_THAT(ReadFd(ion_.get(), before.value()), IsOkAndHolds(ClientFile({{"system_contig", 4096}})));

  ASSERT_THAT(backend_->close(proc_, fd_), IsOk());
  EXPECT_THAT(ReadFd(ion_.get(), after.value()), IsErrno(EIO));
  EXPECT_THAT(backend_->close(proc_, before.value()), IsOk());
  EXPECT_THAT(backend_->close(proc_, after.value()), IsOk());
}

ModelConfig LongHeapNameConfig() {
  ModelConfig config = CoreModelConfig();
  config.heaps[0].name = "system_contig_with_a_long_name";  // 30 characters
  return config;
}

class IonDebugfsLongNameTest : public IonDebugfsTest {
 protected:
  IonDebugfsLongNameTest() : IonDebugfsTest(LongHeapNameConfig()) {}
};

TEST_F(IonDebugfsLongNameTest, ClientFileCutsHeapNamesAtSixteenCharacters) {
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kContigMask, 0), IsOkAndHolds(1));
  const std::string expected = ClientFile({{"system_contig_with_a_long_name", 4096}});
  EXPECT_THAT(expected, HasSubstr("\nsystem_contig_wi: "));
  EXPECT_EQ(Read(ClientPath(proc_, 0)), expected);
  // The heap file itself keeps the whole name.
  HeapFile contig;
  contig.client_rows = {ClientRow("app", proc_, 4096)};
  contig.total = 4096;
  EXPECT_EQ(Read("ion/heaps/system_contig_with_a_long_name"), contig.Render(contig.client_rows, {}));
}

// ---- The canonical dump ------------------------------------------------------------------------------------------

// Two clients on the two heaps, one shared buffer and a two-entry free list:
//   c1 (app):  h1 -> b1 (carveout 8K @0, ref 2: ALLOC + own IMPORT), h2 -> b2 (system_contig 4K, flags 3)
//   c2 (peer): h1 -> b1 (imported from app's SHARE fd)
//   b1 ref 3 = two handles + one dma-buf; handles=2
//   app allocated b3 (4K @0x2000) and b4 (12K @0x3000) and freed b3 then b4: free list b4,b3 (16K)
// Expect heaps in plist order, live buffers by serial, clients by creation and handles by id, exactly.
TEST_F(IonDebugfsTest, CanonicalDumpOfTwoClientsOnTwoHeapsWithAFreeList) {
  Peer peer = NewPeer("peer");
  ASSERT_NE(peer.ion, nullptr);
  ASSERT_THAT(ion_->Alloc(fd_, 8192, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kContigMask, ION_FLAG_CACHED | ION_FLAG_CACHED_NEEDS_SYNC),
              IsOkAndHolds(2));
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask, 0), IsOkAndHolds(3));
  ASSERT_THAT(ion_->Alloc(fd_, 3 * kPage, 0, kCarveoutMask, 0), IsOkAndHolds(4));
  ErrnoOr<int> shared = ion_->Share(fd_, 1);
  ASSERT_THAT(shared, IsOk());
  ASSERT_THAT(ion_->Import(fd_, shared.value()), IsOkAndHolds(1));
  ErrnoOr<int> received = backend_->pass_fd(proc_, shared.value(), peer.ion->proc());
  ASSERT_THAT(received, IsOk());
  ASSERT_THAT(peer.ion->Import(peer.fd, received.value()), IsOkAndHolds(1));
  ASSERT_THAT(ion_->Free(fd_, 3), IsOk());
  ASSERT_THAT(ion_->Free(fd_, 4), IsOk());

  std::string expected = "ionsim-state 1\n";
  expected += Format("heap %u %s type=%s defer=%d free_list_bytes=%zu free_list=%s\n", 2U, "carveout", "carveout", 1,
                     size_t{16384}, "b4,b3");
  expected += Format("heap %u %s type=%s defer=%d free_list_bytes=%zu free_list=%s\n", 1U, "system_contig",
                     "system_contig", 0, size_t{0}, "-");
  const char* buffer_fmt = "buffer b%lu heap=%s size=%zu offset=%s flags=0x%lx ref=%d handles=%d kmap=%d\n";
  expected += Format(buffer_fmt, 1UL, "carveout", size_t{8192}, Format("0x%llx", 0ULL).c_str(), 0UL, 3, 2, 0);
  expected += Format(buffer_fmt, 2UL, "system_contig", size_t{4096}, "-", 3UL, 1, 1, 0);
  expected += Format("client c%lu handles=%zu\n", 1UL, size_t{2});
  expected += Format("  handle %d b%lu ref=%d kmap=%u\n", 1, 1UL, 2, 0U);
  expected += Format("  handle %d b%lu ref=%d kmap=%u\n", 2, 2UL, 1, 0U);
  expected += Format("client c%lu handles=%zu\n", 2UL, size_t{1});
  expected += Format("  handle %d b%lu ref=%d kmap=%u\n", 1, 1UL, 1, 0U);
  EXPECT_EQ(Dump(), expected);

  // The free-listed buffers sat at the offsets the comment gives: once drained, first fit puts a 4K and then a
  // 12K allocation exactly there.
  ASSERT_THAT(backend_->run_deferred_free(), IsOk());
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask, 0), IsOkAndHolds(3));
  ASSERT_THAT(ion_->Alloc(fd_, 3 * kPage, 0, kCarveoutMask, 0), IsOkAndHolds(4));
  EXPECT_THAT(Dump(), HasSubstr(Format(buffer_fmt, 5UL, "carveout", size_t{4096}, Format("0x%llx", 0x2000ULL).c_str(),
                                       0UL, 1, 1, 0)));
  EXPECT_THAT(Dump(), HasSubstr(Format(buffer_fmt, 6UL, "carveout", size_t{12288},
                                       Format("0x%llx", 0x3000ULL).c_str(), 0UL, 1, 1, 0)));
}

// ---- two heaps sharing an id -----------------------------------------------------------------------------------

// v4.4 lets two heaps share an id (ion_device_add_heap() checks nothing). ion_debug_heap_show() totals the
// device's buffers by heap->id, so both heaps' files print what the two hold together; the invariant checker
// must compare each file with that same sum, not with its own heap's buffers.
ModelConfig SharedIdConfig() {
  std::string error;
  ErrnoOr<ModelConfig> config = ModelConfigFromBoard(
      "board shared_id\n"
      "ram size=512M lowmem=448M base=0x80000000\n"
      "heap system id=0 name=system\n"
      "heap carveout id=2 name=carveout_a size=1M\n"
      "heap carveout id=2 name=carveout_b size=1M\n",
      &error);
  EXPECT_TRUE(config.ok()) << error;
  return config.ok() ? config.value() : CoreModelConfig();
}

class IonSharedHeapIdTest : public IonTest {
 protected:
  IonSharedHeapIdTest() : IonTest(SharedIdConfig()) {}
  std::string Total(size_t bytes) {
    char line[64];
    std::snprintf(line, sizeof(line), "%16s %16zu\n", "total ", bytes);
    return line;
  }
};

// b1 (8 KiB) comes from the first heap of id 2; the second is full-sized and empty. Expect both heap files to
// total 8192 and the checker (its computed totals and the rendered files) to report nothing, also after b2
// (1 MiB, which only the second heap can hold) is allocated: 8192 + 1048576 in both files.
TEST_F(IonSharedHeapIdTest, HeapFilesOfHeapsSharingAnIdBothTotalTheIdsBuffersWithoutViolations) {
  ASSERT_THAT(ion_->Alloc(fd_, 8 * 1024, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  for (const char* name : {"ion/heaps/carveout_a", "ion/heaps/carveout_b"}) {
    ErrnoOr<std::string> text = backend_->debugfs_read(name);
    ASSERT_THAT(text, IsOk());
    EXPECT_THAT(text.value(), HasSubstr(Total(8192))) << name;
  }
  EXPECT_EQ(kernel::ion_check_invariants(backend_->model()->device(), kernel::ION_CHECK_DEBUGFS_TEXT), "");
  ASSERT_THAT(ion_->Alloc(fd_, 1024 * 1024, 0, kCarveoutMask, 0), IsOkAndHolds(2));
  for (const char* name : {"ion/heaps/carveout_a", "ion/heaps/carveout_b"}) {
    ErrnoOr<std::string> text = backend_->debugfs_read(name);
    ASSERT_THAT(text, IsOk());
    EXPECT_THAT(text.value(), HasSubstr(Total(8192 + 1024 * 1024))) << name;
  }
  EXPECT_EQ(kernel::ion_check_invariants(backend_->model()->device(), kernel::ION_CHECK_DEBUGFS_TEXT), "");
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  ASSERT_THAT(ion_->Free(fd_, 2), IsOk());
}

}  // namespace
}  // namespace ionsim::testing
