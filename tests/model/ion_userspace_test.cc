// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// ION as a process sees it through the simulated userspace: fd numbering, dup, close-on-exec, fork, exit and fd
// passing; the bytes behind user mappings, other processes' mappings and the kernel's vmap; mmap bounds, cache
// modes and the fault-mode page-by-page mappings of cached buffers (reference ion.md sections 1.2 and 2.3); and
// EFAULT for bad user pointers. Every operation runs the invariant checker.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kmod/uapi/ion.h"
#include "model/backend/libion.h"
#include "model/backend/model_backend.h"
#include "model/ion.h"
#include "model/ion_priv.h"
#include "model/kernel/dma_buf.h"
#include "model/kernel/dma_mapping.h"
#include "model/kernel/fs.h"
#include "model/kernel/mm_user.h"
#include "model/kernel/sched.h"
#include "tests/testing/errno_matchers.h"
#include "tests/testing/ion_fixture.h"

namespace ionsim::testing {
namespace {

using ::testing::HasSubstr;

constexpr unsigned int kSystemMask = 1U << 0;
constexpr unsigned int kContigMask = 1U << 1;
constexpr unsigned int kCarveoutMask = 1U << 2;
constexpr size_t kPage = 4096;
constexpr int kProtRw = static_cast<int>(kernel::PROT_READ | kernel::PROT_WRITE);
constexpr int kProtRead = static_cast<int>(kernel::PROT_READ);
constexpr int kMapShared = static_cast<int>(kernel::MAP_SHARED);
constexpr int kMapPrivate = static_cast<int>(kernel::MAP_PRIVATE);
constexpr unsigned int kCachedNeedsSync = ION_FLAG_CACHED | ION_FLAG_CACHED_NEEDS_SYNC;

std::string Dump(IonBackend* backend) {
  ErrnoOr<std::string> dump = backend->canonical_dump();
  EXPECT_THAT(dump, IsOk());
  return dump.ok() ? dump.value() : "";
}

// The canonical dump's line for buffer b<serial> (from "ref="), or "gone".
std::string Buffer(IonBackend* backend, int serial) {
  const std::string dump = Dump(backend);
  const std::string key = "buffer b" + std::to_string(serial) + " ";
  const size_t pos = dump.find(key);
  if (pos == std::string::npos) return "gone";
  const size_t ref = dump.find(" ref=", pos) + 1;
  return dump.substr(ref, dump.find('\n', pos) - ref);
}

// The handle lines of client c<serial> ("handle 1 b1 ref=1 kmap=0", ...), or {"gone"} without such a client.
std::vector<std::string> ClientHandles(IonBackend* backend, int serial) {
  std::istringstream in(Dump(backend));
  const std::string header = "client c" + std::to_string(serial) + " ";
  std::vector<std::string> handles;
  bool found = false;
  bool inside = false;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("client ", 0) == 0) {
      inside = line.rfind(header, 0) == 0;
      found = found || inside;
    } else if (inside && line.rfind("  handle ", 0) == 0) {
      handles.push_back(line.substr(2));
    }
  }
  if (!found) return {"gone"};
  return handles;
}

std::vector<uint8_t> Pattern(size_t len, uint8_t seed) {
  std::vector<uint8_t> bytes(len);
  for (size_t i = 0; i < len; i++) bytes[i] = static_cast<uint8_t>(seed + i * 7 + (i >> 12));
  return bytes;
}

class IonUserspaceTest : public IonTest {
 protected:
  IonBackend* b() { return backend_.get(); }
  ModelBackend* model() { return backend_->model(); }

  // Runs fn as process `proc` (get_current() is its task).
  void AsProcess(ProcId proc, const std::function<void(kernel::task_struct*)>& fn) {
    kernel::task_struct* task = model()->task(proc);
    ASSERT_NE(task, nullptr);
    kernel::current_task_scope scope(task);
    fn(task);
  }

  bool CloseOnExec(ProcId proc, int fd) {
    bool cloexec = false;
    AsProcess(proc, [&](kernel::task_struct*) { cloexec = kernel::get_close_on_exec(static_cast<unsigned int>(fd)); });
    return cloexec;
  }

  std::vector<int> OpenFds(ProcId proc) {
    kernel::task_struct* task = model()->task(proc);
    if (task == nullptr) return {};
    return kernel::files_open_fds(task->files);
  }

  // The mapping of proc that starts at addr, white-box from its mm.
  kernel::vma_info Vma(ProcId proc, uint64_t addr) {
    kernel::task_struct* task = model()->task(proc);
    EXPECT_NE(task, nullptr);
    if (task == nullptr) return {};
    for (const kernel::vma_info& vma : kernel::mm_vmas(task->mm)) {
      if (vma.start == addr) return vma;
    }
    ADD_FAILURE() << "no mapping starts at " << std::hex << addr;
    return {};
  }

  // Allocates a buffer on `mask` with `flags` as handle `id` and shares it: the SHARE fd.
  int AllocShared(int id, size_t len, unsigned int mask, unsigned int flags) {
    EXPECT_THAT(ion_->Alloc(fd_, len, 0, mask, flags), IsOkAndHolds(id));
    ErrnoOr<int> share = ion_->Share(fd_, id);
    EXPECT_THAT(share, IsOk());
    return share.ok() ? share.value() : -1;
  }
};

TEST_F(IonUserspaceTest, NewFdsAreTheLowestFreeOnes) {
  EXPECT_EQ(fd_, 0);
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  EXPECT_THAT(ion_->Share(fd_, 1), IsOkAndHolds(1));
  EXPECT_THAT(ion_->Share(fd_, 1), IsOkAndHolds(2));
  EXPECT_THAT(ion_->Map(fd_, 1), IsOkAndHolds(3));
  ASSERT_THAT(backend_->close(proc_, 2), IsOk());
  EXPECT_THAT(ion_->Share(fd_, 1), IsOkAndHolds(2));
  ASSERT_THAT(backend_->close(proc_, 1), IsOk());
  EXPECT_THAT(ion_->AllocFd(fd_, kPage, kCarveoutMask, 0), IsOkAndHolds(1));
  EXPECT_THAT(ion_->Open(), IsOkAndHolds(4));
  EXPECT_THAT(OpenFds(proc_), ::testing::ElementsAre(0, 1, 2, 3, 4));
}

TEST_F(IonUserspaceTest, DupSharesTheFileSoClosingOneFdKeepsTheDmaBufAlive) {
  const int share = AllocShared(1, kPage, kCarveoutMask, 0);
  ErrnoOr<int> dup = backend_->dup(proc_, share);
  ASSERT_THAT(dup, IsOkAndHolds(2));
  EXPECT_EQ(kernel::dma_buf_count(), 1u);  // two fds, one file, one dma-buf
  EXPECT_EQ(Buffer(b(), 1), "ref=2 handles=1 kmap=0");
  ASSERT_THAT(backend_->close(proc_, share), IsOk());
  EXPECT_EQ(Buffer(b(), 1), "ref=2 handles=1 kmap=0");
  EXPECT_THAT(ion_->Import(fd_, dup.value()), IsOkAndHolds(1));  // the dup still names the dma-buf
  ASSERT_THAT(backend_->close(proc_, dup.value()), IsOk());
  EXPECT_EQ(Buffer(b(), 1), "ref=1 handles=1 kmap=0");
  EXPECT_EQ(kernel::dma_buf_count(), 0u);
}

TEST_F(IonUserspaceTest, ShareMapAndNewAllocFdsAreCloseOnExecButDupAndPassedFdsAreNot) {
  EXPECT_TRUE(CloseOnExec(proc_, fd_));  // libion opens /dev/ion with O_CLOEXEC
  const int share = AllocShared(1, kPage, kCarveoutMask, 0);
  EXPECT_TRUE(CloseOnExec(proc_, share));
  ErrnoOr<int> map = ion_->Map(fd_, 1);
  ASSERT_THAT(map, IsOk());
  EXPECT_TRUE(CloseOnExec(proc_, map.value()));
  ErrnoOr<int> alloc_fd = ion_->AllocFd(fd_, kPage, kCarveoutMask, 0);
  ASSERT_THAT(alloc_fd, IsOk());
  EXPECT_TRUE(CloseOnExec(proc_, alloc_fd.value()));
  ErrnoOr<int> dup = backend_->dup(proc_, share);
  ASSERT_THAT(dup, IsOk());
  EXPECT_FALSE(CloseOnExec(proc_, dup.value()));
  std::unique_ptr<LibIon> other = NewProcess("other");
  ErrnoOr<int> passed = backend_->pass_fd(proc_, share, other->proc());
  ASSERT_THAT(passed, IsOk());
  EXPECT_FALSE(CloseOnExec(other->proc(), passed.value()));
  ErrnoOr<int> plain = backend_->open(proc_, "/dev/ion", kernel::O_RDONLY);
  ASSERT_THAT(plain, IsOk());
  EXPECT_FALSE(CloseOnExec(proc_, plain.value()));
}

// Parent "app" and its fork share one open file of /dev/ion, so one ion_client:
//   client c1: handle 1 -> b1, handle 2 -> b2   (fd 0 in both processes)
// Expect the child to FREE the parent's handle 1 and to ALLOC into the same client, and the client to live until
// both processes have closed fd 0.
TEST_F(IonUserspaceTest, ForkedChildSharesTheIonClientThroughItsInheritedFd) {
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask, 0), IsOkAndHolds(1));
  ASSERT_THAT(ion_->Alloc(fd_, kPage, 0, kCarveoutMask, 0), IsOkAndHolds(2));
  ErrnoOr<ProcId> child_pid = backend_->fork(proc_);
  ASSERT_THAT(child_pid, IsOk());
  LibIon child(backend_.get(), child_pid.value());
  EXPECT_EQ(Dump(b()).find("client c2"), std::string::npos);  // fork made no new client

  ASSERT_THAT(child.Free(fd_, 1), IsOk());
  EXPECT_THAT(ClientHandles(b(), 1), ::testing::ElementsAre("handle 2 b2 ref=1 kmap=0"));
  EXPECT_THAT(child.Alloc(fd_, kPage, 0, kContigMask, 0), IsOkAndHolds(1));
  EXPECT_THAT(ion_->Free(fd_, 1), IsOk());  // the parent frees the child's allocation

  ASSERT_THAT(backend_->close(proc_, fd_), IsOk());
  EXPECT_THAT(ClientHandles(b(), 1), ::testing::ElementsAre("handle 2 b2 ref=1 kmap=0"));
  EXPECT_EQ(Buffer(b(), 2), "ref=1 handles=1 kmap=0");
  ASSERT_THAT(backend_->close(child_pid.value(), fd_), IsOk());
  EXPECT_THAT(ClientHandles(b(), 1), ::testing::ElementsAre("gone"));
  EXPECT_EQ(Buffer(b(), 2), "gone");
  ASSERT_THAT(backend_->exit(child_pid.value()), IsOk());
}

TEST_F(IonUserspaceTest, ExitUnmapsAndClosesEverythingAndTheProcessIsGone) {
  std::unique_ptr<LibIon> worker = NewProcess("worker");
  ErrnoOr<int> ion_fd = worker->Open();
  ASSERT_THAT(ion_fd, IsOk());
  ASSERT_THAT(worker->Alloc(ion_fd.value(), 2 * kPage, 0, kContigMask, 0), IsOkAndHolds(1));
  ErrnoOr<int> share = worker->Share(ion_fd.value(), 1);
  ASSERT_THAT(share, IsOk());
  ASSERT_THAT(backend_->dup(worker->proc(), share.value()), IsOk());
  ASSERT_THAT(backend_->mmap(worker->proc(), 0, 2 * kPage, kProtRw, kMapShared, share.value(), 0), IsOk());
  ErrnoOr<int> alloc_fd = worker->AllocFd(ion_fd.value(), kPage, kContigMask, 0);
  ASSERT_THAT(alloc_fd, IsOk());
  ASSERT_EQ(kernel::dma_buf_count(), 2u);

  ASSERT_THAT(backend_->exit(worker->proc()), IsOk());
  EXPECT_EQ(kernel::dma_buf_count(), 0u);
  EXPECT_EQ(Buffer(b(), 1), "gone");
  EXPECT_EQ(Buffer(b(), 2), "gone");
  EXPECT_THAT(ClientHandles(b(), 2), ::testing::ElementsAre("gone"));
  EXPECT_THAT(ClientHandles(b(), 1), ::testing::IsEmpty());  // the fixture's own client is untouched
  EXPECT_THAT(backend_->exit(worker->proc()), IsErrno(ESRCH));
  EXPECT_THAT(backend_->open(worker->proc(), "/dev/ion", 0), IsErrno(ESRCH));
  uint8_t byte = 0;
  EXPECT_THAT(backend_->peek(worker->proc(), kernel::TASK_UNMAPPED_BASE, &byte, 1), IsErrno(ESRCH));
}

TEST_F(IonUserspaceTest, PassedDmaBufIsImportedIntoTheReceiversOwnClient) {
  const int share = AllocShared(1, kPage, kCarveoutMask, 0);
  std::unique_ptr<LibIon> viewer = NewProcess("viewer");
  ErrnoOr<int> viewer_ion = viewer->Open();
  ASSERT_THAT(viewer_ion, IsOkAndHolds(0));
  ErrnoOr<int> passed = backend_->pass_fd(proc_, share, viewer->proc());
  ASSERT_THAT(passed, IsOkAndHolds(1));  // the receiver's lowest free fd
  EXPECT_THAT(viewer->Import(viewer_ion.value(), passed.value()), IsOkAndHolds(1));
  EXPECT_THAT(ClientHandles(b(), 2), ::testing::ElementsAre("handle 1 b1 ref=1 kmap=0"));
  EXPECT_THAT(ClientHandles(b(), 1), ::testing::ElementsAre("handle 1 b1 ref=1 kmap=0"));
  EXPECT_EQ(Buffer(b(), 1), "ref=3 handles=2 kmap=0");
  // The sender's fd stayed open: both fds are the one dma-buf.
  EXPECT_EQ(kernel::dma_buf_count(), 1u);
  EXPECT_THAT(viewer->Import(viewer_ion.value(), passed.value()), IsOkAndHolds(1));
  EXPECT_THAT(ion_->Import(fd_, share), IsOkAndHolds(1));
}

TEST_F(IonUserspaceTest, BytesWrittenThroughOneProcessesMappingAreReadThroughAnothers) {
  constexpr size_t kLen = 3 * kPage;
  for (const unsigned int mask : {kCarveoutMask, kContigMask}) {
    SCOPED_TRACE(mask == kCarveoutMask ? "carveout" : "system_contig");
    const int id = mask == kCarveoutMask ? 1 : 2;
    const int share = AllocShared(id, kLen, mask, 0);
    ErrnoOr<uint64_t> mine = backend_->mmap(proc_, 0, kLen, kProtRw, kMapShared, share, 0);
    ASSERT_THAT(mine, IsOk());
    const std::vector<uint8_t> written = Pattern(kLen, static_cast<uint8_t>(id));
    ASSERT_THAT(backend_->poke(proc_, mine.value(), written.data(), kLen), IsOk());

    std::unique_ptr<LibIon> viewer = NewProcess("viewer");
    ErrnoOr<int> passed = backend_->pass_fd(proc_, share, viewer->proc());
    ASSERT_THAT(passed, IsOk());
    ErrnoOr<uint64_t> theirs = backend_->mmap(viewer->proc(), 0, kLen, kProtRw, kMapShared, passed.value(), 0);
    ASSERT_THAT(theirs, IsOk());
    std::vector<uint8_t> read(kLen);
    ASSERT_THAT(backend_->peek(viewer->proc(), theirs.value(), read.data(), kLen), IsOk());
    EXPECT_EQ(read, written);

    const std::vector<uint8_t> reply = {'p', 'o', 'n', 'g'};
    ASSERT_THAT(backend_->poke(viewer->proc(), theirs.value() + kPage + 10, reply.data(), reply.size()), IsOk());
    std::vector<uint8_t> seen(reply.size());
    ASSERT_THAT(backend_->peek(proc_, mine.value() + kPage + 10, seen.data(), seen.size()), IsOk());
    EXPECT_EQ(seen, reply);
    ASSERT_THAT(backend_->exit(viewer->proc()), IsOk());
    ASSERT_THAT(backend_->munmap(proc_, mine.value(), kLen), IsOk());
    ASSERT_THAT(backend_->close(proc_, share), IsOk());
  }
}

// Maps handle `id` of the client behind /dev/ion fd `fd` into the kernel with ion_map_kernel (a vmap of the
// buffer's pages), runs fn on the kernel address, then unmaps.
void WithKernelMapping(ModelBackend* model, ProcId proc, int fd, int id, const std::function<void(void*)>& fn) {
  kernel::task_struct* task = model->task(proc);
  ASSERT_NE(task, nullptr);
  kernel::current_task_scope scope(task);
  kernel::file* file = kernel::fget(static_cast<unsigned int>(fd));
  ASSERT_NE(file, nullptr);
  auto* client = static_cast<kernel::ion_client*>(file->private_data);
  ErrnoOr<kernel::ion_handle*> handle = kernel::ion_handle_get_by_id(client, id);
  EXPECT_THAT(handle, IsOk());
  if (handle.ok()) {
    ErrnoOr<void*> vaddr = kernel::ion_map_kernel(client, handle.value());
    EXPECT_THAT(vaddr, IsOk());
    if (vaddr.ok()) {
      fn(vaddr.value());
      kernel::ion_unmap_kernel(client, handle.value());
    }
    kernel::ion_handle_put(handle.value());
  }
  kernel::fput(file);
}

TEST_F(IonUserspaceTest, KernelVmapOfAHandleSeesTheBytesOfUserMappingsAndTheReverse) {
  constexpr size_t kLen = 2 * kPage;
  for (const unsigned int mask : {kCarveoutMask, kContigMask}) {
    SCOPED_TRACE(mask == kCarveoutMask ? "carveout (highmem)" : "system_contig (lowmem)");
    const int id = mask == kCarveoutMask ? 1 : 2;
    const int share = AllocShared(id, kLen, mask, 0);
    ErrnoOr<uint64_t> addr = backend_->mmap(proc_, 0, kLen, kProtRw, kMapShared, share, 0);
    ASSERT_THAT(addr, IsOk());
    const std::vector<uint8_t> user_bytes = Pattern(kLen, 0x40);
    ASSERT_THAT(backend_->poke(proc_, addr.value(), user_bytes.data(), kLen), IsOk());
    const std::vector<uint8_t> kernel_bytes = Pattern(kPage, 0x90);

    WithKernelMapping(model(), proc_, fd_, id, [&](void* vaddr) {
      std::vector<uint8_t> read(kLen);
      ASSERT_THAT(kernel::kva_read(vaddr, read.data(), kLen), IsOk());
      EXPECT_EQ(read, user_bytes);
      EXPECT_THAT(Buffer(b(), id), HasSubstr("kmap=1"));
      EXPECT_THAT(kernel::kva_write(static_cast<uint8_t*>(vaddr) + kPage, kernel_bytes.data(), kPage), IsOk());
    });
    EXPECT_THAT(Buffer(b(), id), HasSubstr("kmap=0"));
    std::vector<uint8_t> read(kLen);
    ASSERT_THAT(backend_->peek(proc_, addr.value(), read.data(), kLen), IsOk());
    EXPECT_TRUE(std::equal(read.begin(), read.begin() + kPage, user_bytes.begin()));
    EXPECT_TRUE(std::equal(read.begin() + kPage, read.end(), kernel_bytes.begin()));
    ASSERT_THAT(backend_->munmap(proc_, addr.value(), kLen), IsOk());
    ASSERT_THAT(backend_->close(proc_, share), IsOk());
  }
}

TEST_F(IonUserspaceTest, MmapBeyondTheBufferFailsWithEinvalAndAnOffsetWithinMapsTheRightPages) {
  constexpr size_t kLen = 3 * kPage;
  const int share = AllocShared(1, kLen, kCarveoutMask, 0);
  ErrnoOr<uint64_t> whole = backend_->mmap(proc_, 0, kLen, kProtRw, kMapShared, share, 0);
  ASSERT_THAT(whole, IsOk());
  const std::vector<uint8_t> bytes = Pattern(kLen, 0x11);
  ASSERT_THAT(backend_->poke(proc_, whole.value(), bytes.data(), kLen), IsOk());

  // dma_buf_mmap_internal: vm_pgoff + vma pages must not exceed the buffer's pages.
  EXPECT_THAT(backend_->mmap(proc_, 0, 4 * kPage, kProtRw, kMapShared, share, 0), IsErrno(EINVAL));
  EXPECT_THAT(backend_->mmap(proc_, 0, 2 * kPage, kProtRw, kMapShared, share, 2 * kPage), IsErrno(EINVAL));
  EXPECT_THAT(backend_->mmap(proc_, 0, kPage, kProtRw, kMapShared, share, 3 * kPage), IsErrno(EINVAL));
  // The last page alone, and the middle page alone.
  ErrnoOr<uint64_t> last = backend_->mmap(proc_, 0, kPage, kProtRw, kMapShared, share, 2 * kPage);
  ASSERT_THAT(last, IsOk());
  ErrnoOr<uint64_t> middle = backend_->mmap(proc_, 0, kPage, kProtRead, kMapShared, share, kPage);
  ASSERT_THAT(middle, IsOk());
  std::vector<uint8_t> read(kPage);
  ASSERT_THAT(backend_->peek(proc_, last.value(), read.data(), kPage), IsOk());
  EXPECT_TRUE(std::equal(read.begin(), read.end(), bytes.begin() + 2 * kPage));
  ASSERT_THAT(backend_->peek(proc_, middle.value(), read.data(), kPage), IsOk());
  EXPECT_TRUE(std::equal(read.begin(), read.end(), bytes.begin() + kPage));
  EXPECT_EQ(Vma(proc_, last.value()).pgoff, 2u);
  // A store through the offset mapping lands in the buffer's third page.
  const uint8_t mark = 0xee;
  ASSERT_THAT(backend_->poke(proc_, last.value() + 5, &mark, 1), IsOk());
  uint8_t seen = 0;
  ASSERT_THAT(backend_->peek(proc_, whole.value() + 2 * kPage + 5, &seen, 1), IsOk());
  EXPECT_EQ(seen, mark);

  ASSERT_THAT(backend_->munmap(proc_, whole.value(), kLen), IsOk());
  ASSERT_THAT(backend_->munmap(proc_, last.value(), kPage), IsOk());
  ASSERT_THAT(backend_->munmap(proc_, middle.value(), kPage), IsOk());
  ASSERT_THAT(backend_->close(proc_, share), IsOk());
}

TEST_F(IonUserspaceTest, UncachedBufferIsMappedWriteCombineAndANeedsSyncCachedBufferCached) {
  const int uncached = AllocShared(1, 2 * kPage, kCarveoutMask, 0);
  const int cached = AllocShared(2, 2 * kPage, kCarveoutMask, kCachedNeedsSync);
  ErrnoOr<uint64_t> wc = backend_->mmap(proc_, 0, 2 * kPage, kProtRw, kMapShared, uncached, 0);
  ASSERT_THAT(wc, IsOk());
  ErrnoOr<uint64_t> wb = backend_->mmap(proc_, 0, 2 * kPage, kProtRw, kMapShared, cached, 0);
  ASSERT_THAT(wb, IsOk());
  const kernel::vma_info wc_vma = Vma(proc_, wc.value());
  const kernel::vma_info wb_vma = Vma(proc_, wb.value());
  EXPECT_EQ(kernel::page_cache_mode_name(wc_vma.cache), std::string("writecombine"));
  EXPECT_EQ(kernel::page_cache_mode_name(wb_vma.cache), std::string("cached"));
  // NEEDS_SYNC keeps the buffer out of fault mode: ion_heap_map_user remaps every page at mmap time.
  EXPECT_EQ(wc_vma.present, 2u);
  EXPECT_EQ(wb_vma.present, 2u);
  EXPECT_NE(wb_vma.flags & kernel::VM_PFNMAP, 0u);
  EXPECT_EQ(wb_vma.file, "anon_inode:dmabuf");
}

// A buffer with ION_FLAG_CACHED and without NEEDS_SYNC is mapped through ion_vm_fault, one page per touch.
class IonFaultModeTest : public IonUserspaceTest {
 protected:
  static constexpr size_t kLen = 4 * kPage;

  void SetUp() override {
    share_ = AllocShared(1, kLen, kCarveoutMask, ION_FLAG_CACHED);
    ErrnoOr<uint64_t> addr = backend_->mmap(proc_, 0, kLen, kProtRw, kMapShared, share_, 0);
    ASSERT_THAT(addr, IsOk());
    addr_ = addr.value();
  }

  unsigned long Present() { return Vma(proc_, addr_).present; }

  int share_ = -1;
  uint64_t addr_ = 0;
};

TEST_F(IonFaultModeTest, PagesAppearOnlyWhenTouched) {
  EXPECT_EQ(Present(), 0u);
  EXPECT_EQ(kernel::page_cache_mode_name(Vma(proc_, addr_).cache), std::string("cached"));
  const uint8_t mark = 0x77;
  ASSERT_THAT(backend_->poke(proc_, addr_ + 2 * kPage + 1, &mark, 1), IsOk());
  EXPECT_EQ(Present(), 1u);
  uint8_t byte = 0xff;
  ASSERT_THAT(backend_->peek(proc_, addr_, &byte, 1), IsOk());
  EXPECT_EQ(byte, 0);
  EXPECT_EQ(Present(), 2u);
  ASSERT_THAT(backend_->peek(proc_, addr_ + 2 * kPage + 1, &byte, 1), IsOk());  // already present
  EXPECT_EQ(byte, mark);
  EXPECT_EQ(Present(), 2u);
}

TEST_F(IonFaultModeTest, IonIocSyncSyncsTheWholeBufferButLeavesTheUserPagesMapped) {
  const std::vector<uint8_t> bytes = Pattern(2 * kPage, 0x21);
  ASSERT_THAT(backend_->poke(proc_, addr_, bytes.data(), bytes.size()), IsOk());
  ASSERT_EQ(Present(), 2u);
  const long syncs = kernel::dma_null_device_sync_count();
  // v4.4 ion_sync_for_device is one dma_sync_sg_for_device(NULL, whole table): it zaps nothing.
  ASSERT_THAT(ion_->Sync(fd_, share_), IsOk());
  EXPECT_EQ(kernel::dma_null_device_sync_count(), syncs + 1);
  EXPECT_EQ(Present(), 2u);
}

TEST_F(IonFaultModeTest, MapAttachmentSyncsTheDirtyPagesAndZapsEveryMappingSoATouchRefaultsTheSameBytes) {
  const std::vector<uint8_t> bytes = Pattern(kPage, 0x5e);
  ASSERT_THAT(backend_->poke(proc_, addr_ + kPage, bytes.data(), kPage), IsOk());
  // A second process maps the same buffer and touches another page.
  std::unique_ptr<LibIon> viewer = NewProcess("viewer");
  ErrnoOr<int> passed = backend_->pass_fd(proc_, share_, viewer->proc());
  ASSERT_THAT(passed, IsOk());
  ErrnoOr<uint64_t> theirs = backend_->mmap(viewer->proc(), 0, kLen, kProtRw, kMapShared, passed.value(), 0);
  ASSERT_THAT(theirs, IsOk());
  uint8_t byte = 0;
  ASSERT_THAT(backend_->peek(viewer->proc(), theirs.value() + 3 * kPage, &byte, 1), IsOk());
  ASSERT_EQ(Present(), 1u);
  ASSERT_EQ(Vma(viewer->proc(), theirs.value()).present, 1u);

  kernel::device dev;
  dev.name = "test-device";
  AsProcess(proc_, [&](kernel::task_struct*) {
    ErrnoOr<kernel::dma_buf*> dmabuf = kernel::dma_buf_get(share_);
    ASSERT_THAT(dmabuf, IsOk());
    ErrnoOr<kernel::dma_buf_attachment*> attach = kernel::dma_buf_attach(dmabuf.value(), &dev);
    ASSERT_THAT(attach, IsOk());
    ErrnoOr<kernel::sg_table*> table = kernel::dma_buf_map_attachment(attach.value(), kernel::DMA_BIDIRECTIONAL);
    EXPECT_THAT(table, IsOk());
    if (table.ok()) kernel::dma_buf_unmap_attachment(attach.value(), table.value(), kernel::DMA_BIDIRECTIONAL);
    kernel::dma_buf_detach(dmabuf.value(), attach.value());
    kernel::dma_buf_put(dmabuf.value());
  });
  // Only the two faulted (dirty) pages are synced, for the attaching device; both processes' mappings are zapped.
  EXPECT_EQ(dev.nr_sync_for_device.load(), 2);
  EXPECT_EQ(Present(), 0u);
  EXPECT_EQ(Vma(viewer->proc(), theirs.value()).present, 0u);

  std::vector<uint8_t> read(kPage);
  ASSERT_THAT(backend_->peek(proc_, addr_ + kPage, read.data(), kPage), IsOk());
  EXPECT_EQ(read, bytes);
  EXPECT_EQ(Present(), 1u);
  ASSERT_THAT(backend_->peek(viewer->proc(), theirs.value() + kPage, read.data(), kPage), IsOk());
  EXPECT_EQ(read, bytes);
  ASSERT_THAT(backend_->exit(viewer->proc()), IsOk());
}

TEST_F(IonFaultModeTest, MunmapOfPartOfAFaultModeMappingKeepsTheRestUsableAndStillZapped) {
  const std::vector<uint8_t> bytes = Pattern(kLen, 0x33);
  ASSERT_THAT(backend_->poke(proc_, addr_, bytes.data(), kLen), IsOk());
  ASSERT_THAT(backend_->munmap(proc_, addr_ + kPage, kPage), IsOk());
  uint8_t byte = 0;
  EXPECT_THAT(backend_->peek(proc_, addr_ + kPage, &byte, 1), IsErrno(EFAULT));
  std::vector<uint8_t> read(2 * kPage);
  ASSERT_THAT(backend_->peek(proc_, addr_ + 2 * kPage, read.data(), read.size()), IsOk());
  EXPECT_TRUE(std::equal(read.begin(), read.end(), bytes.begin() + 2 * kPage));

  // Both pieces are on the buffer's vma list (ion_vm_open ran for the split-off piece): an attachment zaps both.
  kernel::device dev;
  AsProcess(proc_, [&](kernel::task_struct*) {
    ErrnoOr<kernel::dma_buf*> dmabuf = kernel::dma_buf_get(share_);
    ASSERT_THAT(dmabuf, IsOk());
    ErrnoOr<kernel::dma_buf_attachment*> attach = kernel::dma_buf_attach(dmabuf.value(), &dev);
    ASSERT_THAT(attach, IsOk());
    ErrnoOr<kernel::sg_table*> table = kernel::dma_buf_map_attachment(attach.value(), kernel::DMA_BIDIRECTIONAL);
    EXPECT_THAT(table, IsOk());
    if (table.ok()) kernel::dma_buf_unmap_attachment(attach.value(), table.value(), kernel::DMA_BIDIRECTIONAL);
    kernel::dma_buf_detach(dmabuf.value(), attach.value());
    kernel::dma_buf_put(dmabuf.value());
  });
  EXPECT_EQ(Vma(proc_, addr_).present, 0u);
  EXPECT_EQ(Vma(proc_, addr_ + 2 * kPage).present, 0u);
  ASSERT_THAT(backend_->peek(proc_, addr_, &byte, 1), IsOk());
  EXPECT_EQ(byte, bytes[0]);
  ASSERT_THAT(backend_->peek(proc_, addr_ + 3 * kPage, &byte, 1), IsOk());
  EXPECT_EQ(byte, bytes[3 * kPage]);

  ASSERT_THAT(backend_->close(proc_, share_), IsOk());
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());
  EXPECT_EQ(Buffer(b(), 1), "ref=1 handles=0 kmap=0");  // the two pieces hold the file
  ASSERT_THAT(backend_->munmap(proc_, addr_, kPage), IsOk());
  EXPECT_EQ(Buffer(b(), 1), "ref=1 handles=0 kmap=0");
  ASSERT_THAT(backend_->munmap(proc_, addr_ + 2 * kPage, 2 * kPage), IsOk());
  EXPECT_EQ(Buffer(b(), 1), "gone");
}

TEST_F(IonUserspaceTest, MunmapOfPartOfAMappingKeepsTheRestUsable) {
  constexpr size_t kLen = 4 * kPage;
  const int share = AllocShared(1, kLen, kContigMask, 0);
  ErrnoOr<uint64_t> addr = backend_->mmap(proc_, 0, kLen, kProtRw, kMapShared, share, 0);
  ASSERT_THAT(addr, IsOk());
  const std::vector<uint8_t> bytes = Pattern(kLen, 0x0f);
  ASSERT_THAT(backend_->poke(proc_, addr.value(), bytes.data(), kLen), IsOk());
  ASSERT_THAT(backend_->close(proc_, share), IsOk());
  ASSERT_THAT(ion_->Free(fd_, 1), IsOk());

  ASSERT_THAT(backend_->munmap(proc_, addr.value() + kPage, 2 * kPage), IsOk());
  uint8_t byte = 0;
  EXPECT_THAT(backend_->peek(proc_, addr.value() + kPage, &byte, 1), IsErrno(EFAULT));
  EXPECT_THAT(backend_->poke(proc_, addr.value() + 2 * kPage, &byte, 1), IsErrno(EFAULT));
  // A range that crosses into the hole faults although it starts in a mapped page.
  std::vector<uint8_t> read(2 * kPage);
  EXPECT_THAT(backend_->peek(proc_, addr.value(), read.data(), read.size()), IsErrno(EFAULT));
  ASSERT_THAT(backend_->peek(proc_, addr.value(), read.data(), kPage), IsOk());
  EXPECT_TRUE(std::equal(read.begin(), read.begin() + kPage, bytes.begin()));
  ASSERT_THAT(backend_->peek(proc_, addr.value() + 3 * kPage, read.data(), kPage), IsOk());
  EXPECT_TRUE(std::equal(read.begin(), read.begin() + kPage, bytes.begin() + 3 * kPage));
  const uint8_t mark = 0xab;
  ASSERT_THAT(backend_->poke(proc_, addr.value() + 3 * kPage, &mark, 1), IsOk());
  EXPECT_EQ(Vma(proc_, addr.value() + 3 * kPage).pgoff, 3u);

  EXPECT_EQ(Buffer(b(), 1), "ref=1 handles=0 kmap=0");
  ASSERT_THAT(backend_->munmap(proc_, addr.value(), kLen), IsOk());  // both pieces at once
  EXPECT_EQ(Buffer(b(), 1), "gone");
}

TEST_F(IonUserspaceTest, LoadsAndStoresOfUnmappedAddressesFailWithEfault) {
  uint8_t byte = 0;
  EXPECT_THAT(backend_->peek(proc_, 0, &byte, 1), IsErrno(EFAULT));
  EXPECT_THAT(backend_->poke(proc_, 0x1000, &byte, 1), IsErrno(EFAULT));
  EXPECT_THAT(backend_->peek(proc_, kernel::TASK_SIZE, &byte, 1), IsErrno(EFAULT));
  const uint64_t scratch = ion_->Scratch();
  ASSERT_NE(scratch, 0u);
  EXPECT_THAT(backend_->poke(proc_, scratch, &byte, 1), IsOk());
  // The scratch page is 64 KiB of anonymous memory; the byte after it is not mapped.
  EXPECT_THAT(backend_->poke(proc_, scratch + (64 << 10), &byte, 1), IsErrno(EFAULT));
}

TEST_F(IonUserspaceTest, IoctlWhoseArgumentIsUnmappedFailsWithEfaultAndChangesNothing) {
  const std::string before = Dump(b());
  EXPECT_THAT(backend_->ioctl(proc_, fd_, ION_IOC_ALLOC, 0x1000), IsErrno(EFAULT));
  EXPECT_THAT(backend_->ioctl(proc_, fd_, ION_IOC_FREE, 0), IsErrno(EFAULT));
  EXPECT_THAT(backend_->ioctl(proc_, fd_, ION_IOC_HEAP_QUERY, 0x1000), IsErrno(EFAULT));
  // An argument that runs off the end of a mapping faults too.
  const uint64_t scratch = ion_->Scratch();
  ASSERT_NE(scratch, 0u);
  EXPECT_THAT(backend_->ioctl(proc_, fd_, ION_IOC_ALLOC, scratch + (64 << 10) - 8), IsErrno(EFAULT));
  EXPECT_EQ(Dump(b()), before);

  const int share = AllocShared(1, kPage, kCarveoutMask, 0);
  EXPECT_THAT(backend_->ioctl(proc_, share, kernel::DMA_BUF_IOCTL_SYNC, 0x1000), IsErrno(EFAULT));
  EXPECT_EQ(Buffer(b(), 1), "ref=2 handles=1 kmap=0");
}

// The ALLOC argument sits in a read-only mapping of another buffer (written through a second, writable mapping):
// copy_from_user succeeds, ion_alloc makes buffer b2 and handle 2, and copy_to_user of the result faults.
// Expect EFAULT, and handle 2 freed again by the ioctl's cleanup path with b2 on the free list.
TEST_F(IonUserspaceTest, AllocWhoseResultCannotBeCopiedOutFailsWithEfaultAndFreesTheNewHandle) {
  const int share = AllocShared(1, kPage, kCarveoutMask, 0);
  ErrnoOr<uint64_t> rw = backend_->mmap(proc_, 0, kPage, kProtRw, kMapShared, share, 0);
  ASSERT_THAT(rw, IsOk());
  ErrnoOr<uint64_t> ro = backend_->mmap(proc_, 0, kPage, kProtRead, kMapShared, share, 0);
  ASSERT_THAT(ro, IsOk());
  ion_allocation_data data;
  std::memset(&data, 0, sizeof(data));
  data.len = 2 * kPage;
  data.heap_id_mask = kCarveoutMask;
  ASSERT_THAT(backend_->poke(proc_, rw.value(), &data, sizeof(data)), IsOk());
  EXPECT_THAT(backend_->poke(proc_, ro.value(), &data, sizeof(data)), IsErrno(EFAULT));

  EXPECT_THAT(backend_->ioctl(proc_, fd_, ION_IOC_ALLOC, ro.value()), IsErrno(EFAULT));
  EXPECT_THAT(ClientHandles(b(), 1), ::testing::ElementsAre("handle 1 b1 ref=1 kmap=0"));
  EXPECT_EQ(Buffer(b(), 2), "gone");
  EXPECT_THAT(Dump(b()), HasSubstr("free_list=b2\n"));
  // The same argument in writable memory works, and gets the id the failed ALLOC gave back.
  EXPECT_THAT(backend_->ioctl(proc_, fd_, ION_IOC_ALLOC, rw.value()), IsOkAndHolds(0));
  ion_allocation_data out;
  ASSERT_THAT(backend_->peek(proc_, rw.value(), &out, sizeof(out)), IsOk());
  EXPECT_EQ(out.handle, 2);
  EXPECT_EQ(Buffer(b(), 3), "ref=1 handles=1 kmap=0");
  ASSERT_THAT(backend_->munmap(proc_, rw.value(), kPage), IsOk());
  ASSERT_THAT(backend_->munmap(proc_, ro.value(), kPage), IsOk());
}

// On a board with every heap type (the system heap as id 0).
class IonAllHeapsUserspaceTest : public IonTest {
 protected:
  IonAllHeapsUserspaceTest() : IonTest(AllHeapsModelConfig()) {}
};

// remap_pfn_range() takes a COW (private writable) range only when it covers the whole vma: a carveout buffer is
// one sg entry and maps, five pages of the system heap are five order-0 entries and fail with EINVAL.
TEST_F(IonAllHeapsUserspaceTest, PrivateWritableMappingOfABufferOfSeveralSgEntriesFailsWithEinval) {
  ErrnoOr<int> one = ion_->AllocFd(fd_, 4 * kPage, kCarveoutMask, 0);
  ErrnoOr<int> five = ion_->AllocFd(fd_, 5 * kPage, kSystemMask, 0);
  ASSERT_THAT(one, IsOk());
  ASSERT_THAT(five, IsOk());
  ErrnoOr<uint64_t> whole = backend_->mmap(proc_, 0, 4 * kPage, kProtRw, kMapPrivate, one.value(), 0);
  ASSERT_THAT(whole, IsOk());
  EXPECT_THAT(backend_->mmap(proc_, 0, 5 * kPage, kProtRw, kMapPrivate, five.value(), 0), IsErrno(EINVAL));
  ASSERT_THAT(backend_->munmap(proc_, whole.value(), 4 * kPage), IsOk());
  ASSERT_THAT(backend_->close(proc_, one.value()), IsOk());
  ASSERT_THAT(backend_->close(proc_, five.value()), IsOk());
}

}  // namespace
}  // namespace ionsim::testing
