// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The legacy refcount graph of the ION model (reference ion.md section 2.2, section 8 items 3, 4 and 10): who
// holds a reference to a buffer and a handle, what ALLOC, SHARE, IMPORT, FREE, close and exit do to them, and the
// kmap count reached through DMA_BUF_IOCTL_SYNC. Every step is checked in the canonical dump (buffer ref=,
// handles=, kmap=; handle ref=). The fixture runs the invariant checker after every operation; the tests that
// break an invariant on purpose (a negative kmap_cnt, a wrapped handle ref) drive a bare ModelBackend and assert
// what the checker reports.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kmod/uapi/ion.h"
#include "model/backend/libion.h"
#include "model/backend/model_backend.h"
#include "model/ion.h"
#include "model/ion_priv.h"
#include "model/kernel/bug.h"
#include "model/kernel/dma_buf.h"
#include "model/kernel/fs.h"
#include "model/kernel/kref.h"
#include "model/kernel/mm_user.h"
#include "model/kernel/sched.h"
#include "tests/testing/errno_matchers.h"
#include "tests/testing/ion_fixture.h"

namespace ionsim::testing {
namespace {

using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr unsigned int kContigMask = 1U << 1;
constexpr unsigned int kCarveoutMask = 1U << 2;
constexpr int kProtRw = static_cast<int>(kernel::PROT_READ | kernel::PROT_WRITE);
constexpr int kMapShared = static_cast<int>(kernel::MAP_SHARED);
constexpr uint64_t kSyncStart = kernel::DMA_BUF_SYNC_START | kernel::DMA_BUF_SYNC_RW;
constexpr uint64_t kSyncEnd = kernel::DMA_BUF_SYNC_END | kernel::DMA_BUF_SYNC_RW;
constexpr char kGone[] = "gone";

// The refcount view of one canonical dump.
struct DumpView {
  std::map<int, std::string> buffers;                // serial -> "ref=R handles=H kmap=K"
  std::map<int, std::map<int, std::string>> clients;  // client serial -> handle id -> "bS ref=R kmap=K"
  std::map<std::string, std::string> free_lists;      // heap name -> "b3,b1" (head first) or "-"
};

DumpView ParseDump(const std::string& dump) {
  DumpView view;
  std::istringstream in(dump);
  std::string line;
  int client = -1;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string kind;
    words >> kind;
    if (kind == "heap") {
      std::string id, name;
      words >> id >> name;
      const size_t pos = line.find("free_list=");
      view.free_lists[name] = line.substr(pos + std::string("free_list=").size());
    } else if (kind == "buffer") {
      std::string serial;
      words >> serial;
      view.buffers[std::stoi(serial.substr(1))] = line.substr(line.find(" ref=") + 1);
    } else if (kind == "client") {
      std::string serial;
      words >> serial;
      client = std::stoi(serial.substr(1));
      view.clients[client];
    } else if (kind == "handle") {
      int id = 0;
      words >> id;
      std::string rest;
      std::getline(words, rest);
      view.clients[client][id] = rest.substr(rest.find_first_not_of(' '));
    }
  }
  return view;
}

DumpView View(IonBackend* backend) {
  ErrnoOr<std::string> dump = backend->canonical_dump();
  EXPECT_THAT(dump, IsOk());
  return dump.ok() ? ParseDump(dump.value()) : DumpView();
}

// "ref=R handles=H kmap=K" of buffer b<serial>, or "gone" once it has left the device tree.
std::string Buffer(IonBackend* backend, int serial) {
  const DumpView view = View(backend);
  auto it = view.buffers.find(serial);
  return it == view.buffers.end() ? kGone : it->second;
}

// "bS ref=R kmap=K" of handle `id` of client c<client>, or "gone" (no such handle or no such client).
std::string Handle(IonBackend* backend, int client, int id) {
  const DumpView view = View(backend);
  auto c = view.clients.find(client);
  if (c == view.clients.end()) return kGone;
  auto h = c->second.find(id);
  return h == c->second.end() ? kGone : h->second;
}

bool HasClient(IonBackend* backend, int client) { return View(backend).clients.count(client) != 0; }

std::string FreeList(IonBackend* backend, const std::string& heap) { return View(backend).free_lists[heap]; }

// Restores the kref counter width and the wrap counter whatever way a test leaves.
// Turns WARN printing off for a test that provokes many WARNs on purpose (they are still recorded).
class QuietWarnings {
 public:
  QuietWarnings() { kernel::set_bug_printing(false); }
  ~QuietWarnings() { kernel::set_bug_printing(true); }
  QuietWarnings(const QuietWarnings&) = delete;
  QuietWarnings& operator=(const QuietWarnings&) = delete;
};

class KrefWidthScope {
 public:
  explicit KrefWidthScope(int bits) : saved_(kernel::kref_counter_bits()) { kernel::kref_set_counter_bits(bits); }
  ~KrefWidthScope() {
    kernel::kref_set_counter_bits(saved_);
    kernel::kref_reset_wrap_count();
  }
  KrefWidthScope(const KrefWidthScope&) = delete;
  KrefWidthScope& operator=(const KrefWidthScope&) = delete;

 private:
  int saved_;
};

// Runs fn with the ion_client behind the /dev/ion fd `fd` of process `proc` (file->private_data).
void WithClient(ModelBackend* model, ProcId proc, int fd, const std::function<void(kernel::ion_client*)>& fn) {
  kernel::task_struct* task = model->task(proc);
  ASSERT_NE(task, nullptr);
  kernel::current_task_scope scope(task);
  kernel::file* file = kernel::fget(static_cast<unsigned int>(fd));
  ASSERT_NE(file, nullptr);
  fn(static_cast<kernel::ion_client*>(file->private_data));
  kernel::fput(file);
}

class IonLifetimeTest : public IonTest {
 protected:
  IonBackend* b() { return backend_.get(); }
};

TEST_F(IonLifetimeTest, AllocLeavesTheHandleAsTheBuffersOnlyOwnerWithTheCreationRefDropped) {
  ASSERT_THAT(ion_->Alloc(fd_, 4096, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  // ion_buffer_create made ref 1, ion_handle_create took a second, ion_alloc dropped the first.
  EXPECT_EQ(Buffer(b(), 1), "ref=1 handles=1 kmap=0");
  EXPECT_EQ(Handle(b(), 1, 1), "b1 ref=1 kmap=0");
  ASSERT_THAT(ion_->Alloc(fd_, 4096, 0, kContigMask, 0), IsOkAndHolds(2));
  EXPECT_EQ(Buffer(b(), 2), "ref=1 handles=1 kmap=0");
  EXPECT_EQ(Handle(b(), 1, 2), "b2 ref=1 kmap=0");
}

TEST_F(IonLifetimeTest, ShareAndMapEachAddABufferRefHeldByTheirDmaBuf) {
  ASSERT_THAT(ion_->Alloc(fd_, 4096, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ErrnoOr<int> share = ion_->Share(fd_, 1);
  ASSERT_THAT(share, IsOk());
  EXPECT_EQ(Buffer(b(), 1), "ref=2 handles=1 kmap=0");
  EXPECT_EQ(Handle(b(), 1, 1), "b1 ref=1 kmap=0");  // the temporary get_by_id ref is gone again
  ErrnoOr<int> map = ion_->Map(fd_, 1);
  ASSERT_THAT(map, IsOk());
  EXPECT_EQ(Buffer(b(), 1), "ref=3 handles=1 kmap=0");
  ASSERT_THAT(backend_->close(proc_, share.value()), IsOk());
  EXPECT_EQ(Buffer(b(), 1), "ref=2 handles=1 kmap=0");
  ASSERT_THAT(backend_->close(proc_, map.value()), IsOk());
  EXPECT_EQ(Buffer(b(), 1), "ref=1 handles=1 kmap=0");
  EXPECT_EQ(Handle(b(), 1, 1), "b1 ref=1 kmap=0");
}

TEST_F(IonLifetimeTest, FreeDropsOneHandleRefAndTheLastDestroysHandleAndBuffer) {
  ASSERT_THAT(ion_->Alloc(fd_, 4096, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  EXPECT_EQ(Handle(b(), 1, 1), kGone);
  EXPECT_EQ(Buffer(b(), 1), kGone);
  EXPECT_EQ(FreeList(b(), "carveout"), "b1");
  EXPECT_THAT(ion_->Free(fd_, 1), IsErrno(EINVAL));
}

TEST_F(IonLifetimeTest, SharedBufferOutlivesItsLastHandleAsAnOrphanUntilTheDmaBufFdCloses) {
  ASSERT_THAT(ion_->Alloc(fd_, 4096, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ErrnoOr<int> share = ion_->Share(fd_, 1);
  ASSERT_THAT(share, IsOk());
  EXPECT_EQ(Buffer(b(), 1), "ref=2 handles=1 kmap=0");
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  EXPECT_EQ(Handle(b(), 1, 1), kGone);
  EXPECT_EQ(Buffer(b(), 1), "ref=1 handles=0 kmap=0");
  EXPECT_EQ(FreeList(b(), "carveout"), "-");
  ASSERT_THAT(backend_->close(proc_, share.value()), IsOk());
  EXPECT_EQ(Buffer(b(), 1), kGone);
  EXPECT_EQ(FreeList(b(), "carveout"), "b1");
}

TEST_F(IonLifetimeTest, ImportOfAHeldBufferReturnsTheSameIdWithOneMoreRefAndEachFreeDropsOne) {
  ASSERT_THAT(ion_->Alloc(fd_, 4096, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ErrnoOr<int> share = ion_->Share(fd_, 1);
  ASSERT_THAT(share, IsOk());
  EXPECT_THAT(ion_->Import(fd_, share.value()), IsOkAndHolds(1));
  EXPECT_EQ(Handle(b(), 1, 1), "b1 ref=2 kmap=0");
  EXPECT_THAT(ion_->Import(fd_, share.value()), IsOkAndHolds(1));
  EXPECT_EQ(Handle(b(), 1, 1), "b1 ref=3 kmap=0");
  // Handle refs are not buffer refs: the buffer is held once by the handle and once by the dma-buf.
  EXPECT_EQ(Buffer(b(), 1), "ref=2 handles=1 kmap=0");

  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  EXPECT_EQ(Handle(b(), 1, 1), "b1 ref=2 kmap=0");
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  EXPECT_EQ(Handle(b(), 1, 1), "b1 ref=1 kmap=0");
  EXPECT_EQ(Buffer(b(), 1), "ref=2 handles=1 kmap=0");
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  EXPECT_EQ(Handle(b(), 1, 1), kGone);
  EXPECT_EQ(Buffer(b(), 1), "ref=1 handles=0 kmap=0");
  EXPECT_THAT(ion_->Free(fd_, 1), IsErrno(EINVAL));
  ASSERT_THAT(backend_->close(proc_, share.value()), IsOk());
  EXPECT_EQ(Buffer(b(), 1), kGone);
}

TEST_F(IonLifetimeTest, ImportIntoASecondClientCreatesANewHandleThere) {
  ASSERT_THAT(ion_->Alloc(fd_, 4096, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ASSERT_THAT(ion_->Alloc(fd_, 4096, 0, kCarveoutMask, 0), IsOkAndHolds(2));
  ErrnoOr<int> share = ion_->Share(fd_, 2);
  ASSERT_THAT(share, IsOk());
  std::unique_ptr<LibIon> viewer = NewProcess("viewer");
  ErrnoOr<int> viewer_ion = viewer->Open();
  ASSERT_THAT(viewer_ion, IsOk());
  ErrnoOr<int> passed = backend_->pass_fd(proc_, share.value(), viewer->proc());
  ASSERT_THAT(passed, IsOk());
  // Ids are per client: the viewer's first handle is 1 although the buffer is the exporter's handle 2.
  EXPECT_THAT(viewer->Import(viewer_ion.value(), passed.value()), IsOkAndHolds(1));
  EXPECT_EQ(Handle(b(), 2, 1), "b2 ref=1 kmap=0");
  EXPECT_EQ(Handle(b(), 1, 2), "b2 ref=1 kmap=0");
  // Two handles and one dma-buf (two fds of one file).
  EXPECT_EQ(Buffer(b(), 2), "ref=3 handles=2 kmap=0");
  EXPECT_EQ(Buffer(b(), 1), "ref=1 handles=1 kmap=0");
}

TEST_F(IonLifetimeTest, ClosingAnImportedFdDoesNotAffectTheHandle) {
  ASSERT_THAT(ion_->Alloc(fd_, 4096, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ErrnoOr<int> share = ion_->Share(fd_, 1);
  ASSERT_THAT(share, IsOk());
  std::unique_ptr<LibIon> viewer = NewProcess("viewer");
  ErrnoOr<int> viewer_ion = viewer->Open();
  ASSERT_THAT(viewer_ion, IsOk());
  ErrnoOr<int> passed = backend_->pass_fd(proc_, share.value(), viewer->proc());
  ASSERT_THAT(passed, IsOk());
  ASSERT_THAT(viewer->Import(viewer_ion.value(), passed.value()), IsOkAndHolds(1));
  ASSERT_THAT(backend_->close(viewer->proc(), passed.value()), IsOk());
  EXPECT_EQ(Buffer(b(), 1), "ref=3 handles=2 kmap=0");  // the exporter's fd still holds the dma-buf
  ASSERT_THAT(backend_->close(proc_, share.value()), IsOk());
  // The dma-buf is gone; IMPORT's handle holds a buffer reference, not a dma-buf reference.
  EXPECT_EQ(Buffer(b(), 1), "ref=2 handles=2 kmap=0");
  EXPECT_EQ(Handle(b(), 2, 1), "b1 ref=1 kmap=0");
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  EXPECT_EQ(Buffer(b(), 1), "ref=1 handles=1 kmap=0");
  EXPECT_EQ(Handle(b(), 2, 1), "b1 ref=1 kmap=0");
  ASSERT_THAT(viewer->Free(viewer_ion.value(), 1), IsOk());
  EXPECT_EQ(Buffer(b(), 1), kGone);
}

// Client c1 before close:
//   handle 1 -> b1 ref=3 (ALLOC + two IMPORTs), b1 also held by the dma-buf of fd `share`
//   handle 2 -> b2 ref=1
// ion_client_destroy calls ion_handle_destroy directly, whatever the kref says.
// Expect both handles and the client gone, b2 on the free list, and b1 alive only through the dma-buf.
TEST_F(IonLifetimeTest, ClientCloseDestroysEveryHandleWhateverItsRefcount) {
  ASSERT_THAT(ion_->Alloc(fd_, 4096, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ASSERT_THAT(ion_->Alloc(fd_, 8192, 0, kCarveoutMask, 0), IsOkAndHolds(2));
  ErrnoOr<int> share = ion_->Share(fd_, 1);
  ASSERT_THAT(share, IsOk());
  ASSERT_THAT(ion_->Import(fd_, share.value()), IsOkAndHolds(1));
  ASSERT_THAT(ion_->Import(fd_, share.value()), IsOkAndHolds(1));
  ASSERT_EQ(Handle(b(), 1, 1), "b1 ref=3 kmap=0");
  ASSERT_EQ(Buffer(b(), 1), "ref=2 handles=1 kmap=0");

  ASSERT_THAT(backend_->close(proc_, fd_), IsOk());
  EXPECT_FALSE(HasClient(b(), 1));
  EXPECT_EQ(Buffer(b(), 1), "ref=1 handles=0 kmap=0");
  EXPECT_EQ(Buffer(b(), 2), kGone);
  EXPECT_EQ(FreeList(b(), "carveout"), "b2");
  ASSERT_THAT(backend_->close(proc_, share.value()), IsOk());
  EXPECT_EQ(Buffer(b(), 1), kGone);
  EXPECT_EQ(FreeList(b(), "carveout"), "b1,b2");
}

// The serials of the live buffers in ascending buffer address, read white-box from the device's buffers.
std::vector<std::string> SerialsByAddress(kernel::ion_device* dev) {
  std::vector<std::pair<uintptr_t, unsigned long>> buffers;
  kernel::mutex_lock(&dev->buffer_lock);
  for (kernel::rb_node* n = kernel::rb_first(&dev->buffers); n != nullptr; n = kernel::rb_next(n)) {
    const kernel::ion_buffer* buffer = rb_entry(n, kernel::ion_buffer, node);
    buffers.emplace_back(reinterpret_cast<uintptr_t>(buffer), buffer->serial);
  }
  kernel::mutex_unlock(&dev->buffer_lock);
  std::sort(buffers.begin(), buffers.end());
  std::vector<std::string> serials;
  for (const auto& [address, serial] : buffers) serials.push_back("b" + std::to_string(serial));
  return serials;
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ",") + item;
  return out;
}

// Five carveout buffers b1..b5 are imported into the viewer's client in DESCENDING buffer address, so the
// viewer's handle ids run opposite to the address order. The viewer's client then holds the only references
// and closes. The carveout free list is LIFO (pushed at the head), so it lists the buffers last-destroyed first.
// Expect the free list in descending address order: destroyed in ascending address, not in id order.
TEST_F(IonLifetimeTest, ClientCloseDestroysHandlesInAscendingBufferAddressOrder) {
  constexpr int kBuffers = 5;
  std::vector<int> shares;
  for (int id = 1; id <= kBuffers; id++) {
    ASSERT_THAT(ion_->Alloc(fd_, 4096, 0, kCarveoutMask, 0), IsOkAndHolds(id));
    ErrnoOr<int> share = ion_->Share(fd_, id);
    ASSERT_THAT(share, IsOk());
    shares.push_back(share.value());
  }
  const std::vector<std::string> ascending = SerialsByAddress(backend_->model()->device());
  ASSERT_EQ(ascending.size(), static_cast<size_t>(kBuffers));

  std::unique_ptr<LibIon> viewer = NewProcess("viewer");
  ErrnoOr<int> viewer_ion = viewer->Open();
  ASSERT_THAT(viewer_ion, IsOk());
  for (int i = kBuffers - 1; i >= 0; i--) {
    const int serial = std::stoi(ascending[i].substr(1));
    ErrnoOr<int> passed = backend_->pass_fd(proc_, shares[serial - 1], viewer->proc());
    ASSERT_THAT(passed, IsOk());
    ASSERT_THAT(viewer->Import(viewer_ion.value(), passed.value()), IsOkAndHolds(kBuffers - i));
    ASSERT_THAT(backend_->close(viewer->proc(), passed.value()), IsOk());
  }
  for (int share : shares) ASSERT_THAT(backend_->close(proc_, share), IsOk());
  ASSERT_THAT(backend_->close(proc_, fd_), IsOk());
  for (int serial = 1; serial <= kBuffers; serial++) ASSERT_EQ(Buffer(b(), serial), "ref=1 handles=1 kmap=0");
  ASSERT_EQ(FreeList(b(), "carveout"), "-");

  ASSERT_THAT(backend_->close(viewer->proc(), viewer_ion.value()), IsOk());
  const std::vector<std::string> descending(ascending.rbegin(), ascending.rend());
  // The canonical dump joins what one client destroy freed with '+'.
  std::string joined = Join(descending);
  std::replace(joined.begin(), joined.end(), ',', '+');
  EXPECT_EQ(FreeList(b(), "carveout"), joined);
}

TEST_F(IonLifetimeTest, MappingOfADmaBufStaysUsableAfterItsClientClosesAndReleasesTheBufferLast) {
  ASSERT_THAT(ion_->Alloc(fd_, 8192, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ErrnoOr<int> share = ion_->Share(fd_, 1);
  ASSERT_THAT(share, IsOk());
  ErrnoOr<uint64_t> addr = backend_->mmap(proc_, 0, 8192, kProtRw, kMapShared, share.value(), 0);
  ASSERT_THAT(addr, IsOk());
  const std::vector<uint8_t> before(8192, 0x3c);
  ASSERT_THAT(backend_->poke(proc_, addr.value(), before.data(), before.size()), IsOk());

  ASSERT_THAT(backend_->close(proc_, fd_), IsOk());
  EXPECT_FALSE(HasClient(b(), 1));
  EXPECT_EQ(Buffer(b(), 1), "ref=1 handles=0 kmap=0");
  std::vector<uint8_t> bytes(8192);
  ASSERT_THAT(backend_->peek(proc_, addr.value(), bytes.data(), bytes.size()), IsOk());
  EXPECT_EQ(bytes, before);
  const std::vector<uint8_t> after(8192, 0xc3);
  ASSERT_THAT(backend_->poke(proc_, addr.value(), after.data(), after.size()), IsOk());

  // The mapping holds the dma-buf file: closing the last fd releases nothing.
  ASSERT_THAT(backend_->close(proc_, share.value()), IsOk());
  EXPECT_EQ(Buffer(b(), 1), "ref=1 handles=0 kmap=0");
  ASSERT_THAT(backend_->peek(proc_, addr.value(), bytes.data(), bytes.size()), IsOk());
  EXPECT_EQ(bytes, after);
  ASSERT_THAT(backend_->munmap(proc_, addr.value(), 8192), IsOk());
  EXPECT_EQ(Buffer(b(), 1), kGone);
  EXPECT_EQ(FreeList(b(), "carveout"), "b1");
}

std::string HeapRow(const std::string& comm, int pid, size_t size) {
  char row[128];
  std::snprintf(row, sizeof(row), "%16s %16u %16zu\n", comm.c_str(), static_cast<unsigned int>(pid), size);
  return row;
}

std::string TotalRow(const std::string& label, size_t size) {
  char row[64];
  std::snprintf(row, sizeof(row), "%16s %16zu\n", label.c_str(), size);
  return row;
}

std::string OrphanRow(const std::string& comm, int pid, size_t size, int kmap_cnt, int ref) {
  char row[128];
  std::snprintf(row, sizeof(row), "%16s %16u %16zu %d %d\n", comm.c_str(), static_cast<unsigned int>(pid), size,
                kmap_cnt, ref);
  return row;
}

TEST_F(IonLifetimeTest, OrphanAppearsInTheHeapDebugfsFileOnceItsClientClosed) {
  ASSERT_THAT(ion_->Alloc(fd_, 8192, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ErrnoOr<int> share = ion_->Share(fd_, 1);
  ASSERT_THAT(share, IsOk());
  ErrnoOr<std::string> heap = backend_->debugfs_read("ion/heaps/carveout");
  ASSERT_THAT(heap, IsOk());
  EXPECT_THAT(heap.value(), HasSubstr(HeapRow("app", proc_, 8192)));
  EXPECT_THAT(heap.value(), HasSubstr(TotalRow("total orphaned", 0)));

  ASSERT_THAT(backend_->close(proc_, fd_), IsOk());
  heap = backend_->debugfs_read("ion/heaps/carveout");
  ASSERT_THAT(heap, IsOk());
  EXPECT_THAT(heap.value(), Not(HasSubstr(HeapRow("app", proc_, 8192))));
  // The last client to drop a handle is recorded: comm and pid, then kmap_cnt and the buffer's ref.
  EXPECT_THAT(heap.value(), HasSubstr(OrphanRow("app", proc_, 8192, 0, 1)));
  EXPECT_THAT(heap.value(), HasSubstr(TotalRow("total orphaned", 8192)));
  EXPECT_THAT(heap.value(), HasSubstr(TotalRow("total ", 8192)));

  ASSERT_THAT(backend_->close(proc_, share.value()), IsOk());
  heap = backend_->debugfs_read("ion/heaps/carveout");
  ASSERT_THAT(heap, IsOk());
  EXPECT_THAT(heap.value(), Not(HasSubstr(OrphanRow("app", proc_, 8192, 0, 1))));
  EXPECT_THAT(heap.value(), HasSubstr(TotalRow("total orphaned", 0)));
}

TEST_F(IonLifetimeTest, DmaBufSyncStartMapsTheBufferForTheKernelAndEndUnmapsIt) {
  ASSERT_THAT(ion_->Alloc(fd_, 8192, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ErrnoOr<int> share = ion_->Share(fd_, 1);
  ASSERT_THAT(share, IsOk());
  const size_t vmaps = kernel::vmap_area_count();
  ASSERT_THAT(ion_->DmaBufSync(share.value(), kSyncStart), IsOk());
  EXPECT_EQ(Buffer(b(), 1), "ref=2 handles=1 kmap=1");
  EXPECT_EQ(Handle(b(), 1, 1), "b1 ref=1 kmap=0");  // begin_cpu_access counts on the buffer only
  EXPECT_EQ(kernel::vmap_area_count(), vmaps + 1);
  ASSERT_THAT(ion_->DmaBufSync(share.value(), kSyncEnd), IsOk());
  EXPECT_EQ(Buffer(b(), 1), "ref=2 handles=1 kmap=0");
  EXPECT_EQ(kernel::vmap_area_count(), vmaps);
}

TEST_F(IonLifetimeTest, NestedDmaBufSyncStartsShareOneKernelMappingUntilTheLastEnd) {
  ASSERT_THAT(ion_->Alloc(fd_, 8192, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ErrnoOr<int> share = ion_->Share(fd_, 1);
  ASSERT_THAT(share, IsOk());
  const size_t vmaps = kernel::vmap_area_count();
  ASSERT_THAT(ion_->DmaBufSync(share.value(), kSyncStart), IsOk());
  ASSERT_THAT(ion_->DmaBufSync(share.value(), kSyncStart), IsOk());
  EXPECT_EQ(Buffer(b(), 1), "ref=2 handles=1 kmap=2");
  EXPECT_EQ(kernel::vmap_area_count(), vmaps + 1);
  ASSERT_THAT(ion_->DmaBufSync(share.value(), kSyncEnd), IsOk());
  EXPECT_EQ(Buffer(b(), 1), "ref=2 handles=1 kmap=1");
  EXPECT_EQ(kernel::vmap_area_count(), vmaps + 1);
  ASSERT_THAT(ion_->DmaBufSync(share.value(), kSyncEnd), IsOk());
  EXPECT_EQ(Buffer(b(), 1), "ref=2 handles=1 kmap=0");
  EXPECT_EQ(kernel::vmap_area_count(), vmaps);
}

TEST_F(IonLifetimeTest, FreeingAHandleDropsTheKernelMappingsItHolds) {
  ASSERT_THAT(ion_->Alloc(fd_, 8192, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ErrnoOr<int> share = ion_->Share(fd_, 1);  // keeps the buffer alive past the handle
  ASSERT_THAT(share, IsOk());
  const size_t vmaps = kernel::vmap_area_count();
  WithClient(backend_->model(), proc_, fd_, [&](kernel::ion_client* client) {
    ErrnoOr<kernel::ion_handle*> handle = kernel::ion_handle_get_by_id(client, 1);
    ASSERT_THAT(handle, IsOk());
    EXPECT_THAT(kernel::ion_map_kernel(client, handle.value()), IsOk());
    EXPECT_THAT(kernel::ion_map_kernel(client, handle.value()), IsOk());
    kernel::ion_handle_put(handle.value());
  });
  EXPECT_EQ(Handle(b(), 1, 1), "b1 ref=1 kmap=2");
  EXPECT_EQ(Buffer(b(), 1), "ref=2 handles=1 kmap=1");
  EXPECT_EQ(kernel::vmap_area_count(), vmaps + 1);
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  EXPECT_EQ(Buffer(b(), 1), "ref=1 handles=0 kmap=0");
  EXPECT_EQ(kernel::vmap_area_count(), vmaps);
}

// A bare ModelBackend (no invariant checking after each operation) with one process and its /dev/ion fd.
struct BareMachine {
  std::unique_ptr<ModelBackend> model;
  std::unique_ptr<LibIon> ion;
  int fd = -1;
};

BareMachine Boot() {
  BareMachine m;
  ErrnoOr<std::unique_ptr<ModelBackend>> model = ModelBackend::Create(CoreModelConfig());
  EXPECT_THAT(model, IsOk());
  if (!model.ok()) return m;
  m.model = std::move(model).value();
  ErrnoOr<ProcId> proc = m.model->spawn("app");
  EXPECT_THAT(proc, IsOk());
  if (!proc.ok()) return m;
  m.ion = std::make_unique<LibIon>(m.model.get(), proc.value());
  ErrnoOr<int> fd = m.ion->Open();
  EXPECT_THAT(fd, IsOk());
  m.fd = fd.ok() ? fd.value() : -1;
  return m;
}

// v4.4 ion_buffer_kmap_put has no underflow check and nothing pairs DMA_BUF_IOCTL_SYNC START with END
// (reference ion.md section 5, "kmap_cnt integrity"):
//   END            kmap_cnt 0 -> -1, nothing to unmap
//   START          kmap_cnt -1 -> 0 through the "already mapped" branch: returns vaddr, which is NULL
//   START          kmap_cnt 0 -> 1, a real mapping
// Expect END and START to succeed, the checker to report the negative count, and the following START to leave
// kmap 0 with no kernel mapping.
TEST(IonKmapUnderflowTest, EndWithoutStartDrivesKmapCntToMinusOneAndTheNextStartMapsNothing) {
  BareMachine m = Boot();
  ASSERT_NE(m.ion, nullptr);
  IonBackend* b = m.model.get();
  ASSERT_THAT(m.ion->Alloc(m.fd, 8192, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ErrnoOr<int> share = m.ion->Share(m.fd, 1);
  ASSERT_THAT(share, IsOk());
  const size_t vmaps = kernel::vmap_area_count();

  ASSERT_THAT(m.ion->DmaBufSync(share.value(), kSyncEnd), IsOk());
  EXPECT_EQ(Buffer(b, 1), "ref=2 handles=1 kmap=-1");
  EXPECT_THAT(m.model->check_invariants(), HasSubstr("buffer b1: negative kmap_cnt -1"));

  ASSERT_THAT(m.ion->DmaBufSync(share.value(), kSyncStart), IsOk());
  EXPECT_EQ(Buffer(b, 1), "ref=2 handles=1 kmap=0");
  EXPECT_EQ(kernel::vmap_area_count(), vmaps);  // the "successful" START mapped nothing
  EXPECT_THAT(m.model->check_invariants(), IsEmpty());  // includes: kmap_cnt 0 has no vaddr

  ASSERT_THAT(m.ion->DmaBufSync(share.value(), kSyncStart), IsOk());
  EXPECT_EQ(Buffer(b, 1), "ref=2 handles=1 kmap=1");
  EXPECT_EQ(kernel::vmap_area_count(), vmaps + 1);
  ASSERT_THAT(m.ion->DmaBufSync(share.value(), kSyncEnd), IsOk());
  EXPECT_EQ(kernel::vmap_area_count(), vmaps);
  EXPECT_THAT(m.model->check_invariants(), IsEmpty());
}

// Reference ion.md section 5 item 4 with an 8-bit kref: the handle's ref counts 1 (ALLOC) + 256 (IMPORTs), which
// is 257 = 1 mod 256. The 127th IMPORT takes the counter from 127 to -128 (one wrap); from there every kref_get
// returns a count below 2 and WARNs (130 of them: results -128..1).
// Expect the handle to look exactly as after ALLOC, and one FREE to destroy it although 256 more references were
// handed out.
TEST(IonKrefWidthTest, EightBitHandleRefWrapsAfter256ImportsAndOneFreeDestroysTheHandle) {
  KrefWidthScope width(8);
  QuietWarnings quiet;
  BareMachine m = Boot();
  ASSERT_NE(m.ion, nullptr);
  IonBackend* b = m.model.get();
  const uint64_t wraps = kernel::kref_wrap_count();
  ASSERT_THAT(m.ion->Alloc(m.fd, 4096, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ErrnoOr<int> share = m.ion->Share(m.fd, 1);
  ASSERT_THAT(share, IsOk());

  for (int i = 1; i <= 256; i++) {
    ASSERT_THAT(m.ion->Import(m.fd, share.value()), IsOkAndHolds(1)) << "import " << i;
    if (i == 126) {
      EXPECT_EQ(Handle(b, 1, 1), "b1 ref=127 kmap=0");
      EXPECT_EQ(kernel::kref_wrap_count(), wraps);
    }
    if (i == 128) {
      EXPECT_EQ(Handle(b, 1, 1), "b1 ref=-127 kmap=0");
      EXPECT_EQ(kernel::kref_wrap_count(), wraps + 1);
      EXPECT_THAT(m.model->check_invariants(), HasSubstr("handle 1 has ref -127"));
    }
  }
  EXPECT_EQ(kernel::kref_wrap_count(), wraps + 1);
  EXPECT_EQ(kernel::bug_event_count(kernel::BugKind::kWarn), 130u);
  EXPECT_EQ(kernel::bug_event_count(), 130u);
  kernel::clear_bug_events();
  EXPECT_EQ(Handle(b, 1, 1), "b1 ref=1 kmap=0");
  EXPECT_THAT(m.model->check_invariants(), IsEmpty());  // the wrap is invisible once it has come round

  ASSERT_THAT(m.ion->Free(m.fd, 1), IsOk());
  EXPECT_EQ(Handle(b, 1, 1), kGone);
  EXPECT_EQ(Buffer(b, 1), "ref=1 handles=0 kmap=0");
  EXPECT_THAT(m.ion->Free(m.fd, 1), IsErrno(EINVAL));
  ASSERT_THAT(m.model->close(m.ion->proc(), share.value()), IsOk());
  EXPECT_EQ(Buffer(b, 1), kGone);
  EXPECT_EQ(kernel::bug_event_count(), 0u);
}

TEST_F(IonLifetimeTest, NewAllocBufferDiesExactlyWithTheLastDmaBufReference) {
  ErrnoOr<int> fd = ion_->AllocFd(fd_, 8192, kCarveoutMask, 0);
  ASSERT_THAT(fd, IsOk());
  // No handle: the dma-buf owns the creation reference.
  EXPECT_EQ(Buffer(b(), 1), "ref=1 handles=0 kmap=0");
  ASSERT_TRUE(HasClient(b(), 1));
  EXPECT_THAT(View(b()).clients.at(1), IsEmpty());
  ErrnoOr<int> dup = backend_->dup(proc_, fd.value());
  ASSERT_THAT(dup, IsOk());
  ErrnoOr<uint64_t> addr = backend_->mmap(proc_, 0, 8192, kProtRw, kMapShared, dup.value(), 0);
  ASSERT_THAT(addr, IsOk());
  ASSERT_THAT(backend_->close(proc_, fd.value()), IsOk());
  EXPECT_EQ(Buffer(b(), 1), "ref=1 handles=0 kmap=0");
  ASSERT_THAT(backend_->close(proc_, dup.value()), IsOk());
  EXPECT_EQ(Buffer(b(), 1), "ref=1 handles=0 kmap=0");  // the mapping still holds the file
  ASSERT_THAT(backend_->munmap(proc_, addr.value(), 8192), IsOk());
  EXPECT_EQ(Buffer(b(), 1), kGone);
  EXPECT_EQ(FreeList(b(), "carveout"), "b1");
  EXPECT_EQ(kernel::dma_buf_count(), 0u);
}

TEST_F(IonLifetimeTest, NewAllocBufferImportedAndFreedStillBelongsToItsDmaBuf) {
  ErrnoOr<int> fd = ion_->AllocFd(fd_, 4096, kContigMask, 0);
  ASSERT_THAT(fd, IsOk());
  ASSERT_THAT(ion_->Import(fd_, fd.value()), IsOkAndHolds(1));
  EXPECT_EQ(Buffer(b(), 1), "ref=2 handles=1 kmap=0");
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  EXPECT_EQ(Buffer(b(), 1), "ref=1 handles=0 kmap=0");
  ASSERT_THAT(backend_->close(proc_, fd.value()), IsOk());
  EXPECT_EQ(Buffer(b(), 1), kGone);  // system_contig frees at once: no free list
}

// Process "app" at exit:
//   /dev/ion fd (client c1: handle 1 -> b1, handle 2 -> b2), a second /dev/ion fd (client c2: handle 1 -> b1),
//   a SHARE fd of b1 mapped shared, a MAP fd of b2, a NEW_ALLOC fd (b3)
// do_exit unmaps everything, then closes every fd.
// Expect no client, no live buffer and no dma-buf left, and the carveout free list holding all three buffers.
TEST_F(IonLifetimeTest, ExitClosesTheIonFdsAndEveryDmaBufFdAndReleasesEverything) {
  ASSERT_THAT(ion_->Alloc(fd_, 4096, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ASSERT_THAT(ion_->Alloc(fd_, 8192, 0, kCarveoutMask, 0), IsOkAndHolds(2));
  ErrnoOr<int> share = ion_->Share(fd_, 1);
  ASSERT_THAT(share, IsOk());
  ErrnoOr<int> map = ion_->Map(fd_, 2);
  ASSERT_THAT(map, IsOk());
  ErrnoOr<int> second = ion_->Open();
  ASSERT_THAT(second, IsOk());
  ASSERT_THAT(ion_->Import(second.value(), share.value()), IsOkAndHolds(1));
  ErrnoOr<int> fd = ion_->AllocFd(fd_, 4096, kCarveoutMask, 0);
  ASSERT_THAT(fd, IsOk());
  ASSERT_THAT(backend_->mmap(proc_, 0, 4096, kProtRw, kMapShared, share.value(), 0), IsOk());
  ASSERT_EQ(Buffer(b(), 1), "ref=3 handles=2 kmap=0");

  ASSERT_THAT(backend_->exit(proc_), IsOk());
  const DumpView view = View(b());
  EXPECT_THAT(view.clients, IsEmpty());
  EXPECT_THAT(view.buffers, IsEmpty());
  EXPECT_EQ(kernel::dma_buf_count(), 0u);
  std::vector<std::string> freed;
  std::string entries = view.free_lists.at("carveout");
  std::replace(entries.begin(), entries.end(), '+', ',');  // '+' joins what one client destroy freed
  std::stringstream list(entries);
  for (std::string item; std::getline(list, item, ',');) freed.push_back(item);
  std::sort(freed.begin(), freed.end());
  EXPECT_THAT(freed, ElementsAreArray({"b1", "b2", "b3"}));
  EXPECT_THAT(backend_->close(proc_, fd_), IsErrno(ESRCH));
  ASSERT_THAT(backend_->run_deferred_free(), IsOk());
  EXPECT_EQ(FreeList(b(), "carveout"), "-");
}

// ---- the order of file releases -------------------------------------------------------------------------------

// v4.4's fput() of a last reference queues __fput with task_work_add(), which pushes at the head of the task's
// list; the list runs on the way back to userspace and in do_exit() after exit_files(), so the releases of one
// exit run last-in first-out. exit_files() closes fd by fd from the lowest: the /dev/ion fd, then F1 (b1's
// dma-buf), then F2 (b2's). Their releases run F2, F1, the client: b2 enters the carveout free list first and b1
// is pushed in front of it.
//   free list: b1 -> b2    (released in fd order it would be b2 -> b1)
// Expect "b1,b2", and a one-page shrink (it drains from the head) to leave b2.
TEST_F(IonLifetimeTest, FileReleasesOfOneExitRunLastInFirstOut) {
  ASSERT_THAT(ion_->Alloc(fd_, 4096, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ASSERT_THAT(ion_->Alloc(fd_, 4096, 0, kCarveoutMask, 0), IsOkAndHolds(2));
  ErrnoOr<int> f1 = ion_->Share(fd_, 1);
  ASSERT_THAT(f1, IsOk());
  ErrnoOr<int> f2 = ion_->Share(fd_, 2);
  ASSERT_THAT(f2, IsOk());
  ASSERT_LT(fd_, f1.value());
  ASSERT_LT(f1.value(), f2.value());
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  ASSERT_THAT(ion_->Free(fd_, 2), IsOk());
  ASSERT_THAT(backend_->exit(proc_), IsOk());
  EXPECT_EQ(FreeList(b(), "carveout"), "b1,b2");
  ASSERT_THAT(backend_->debugfs_write("ion/heaps/carveout_shrink", "1"), IsOk());
  EXPECT_EQ(FreeList(b(), "carveout"), "b2");
  ASSERT_THAT(backend_->run_deferred_free(), IsOk());
}

// Within one system call the same holds: a close() of a last reference releases on the way out of close(), so
// the release has happened when close() returns. Expect b1 on the free list right after the close of its only
// dma-buf fd.
TEST_F(IonLifetimeTest, LastCloseReleasesTheFileBeforeCloseReturns) {
  ASSERT_THAT(ion_->Alloc(fd_, 4096, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ErrnoOr<int> f1 = ion_->Share(fd_, 1);
  ASSERT_THAT(f1, IsOk());
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  ASSERT_EQ(FreeList(b(), "carveout"), "-");
  ASSERT_THAT(backend_->close(proc_, f1.value()), IsOk());
  EXPECT_EQ(FreeList(b(), "carveout"), "b1");
  ASSERT_THAT(backend_->run_deferred_free(), IsOk());
}

}  // namespace
}  // namespace ionsim::testing
