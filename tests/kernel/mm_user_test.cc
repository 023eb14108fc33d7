// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Tests of user address spaces and kernel virtual addresses: mmap placement and errnos, munmap splitting with
// the vm_ops open/close and file references it implies, fork's copy of an mm, the fault path (pfn insertion,
// handler pages, copy-on-write, zapping), remap_pfn_range, copy_from_user/copy_to_user at mapping boundaries,
// set_fs(KERNEL_DS), vmap/kmap/page_address and teardown. Layouts are drawn as "B+n" page offsets from
// TASK_UNMAPPED_BASE.
#include "model/kernel/mm_user.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <typeinfo>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/kernel/bug.h"
#include "model/kernel/fs.h"
#include "model/kernel/mm.h"
#include "model/kernel/sched.h"
#include "model/kernel/slab.h"
#include "tests/testing/errno_matchers.h"

namespace ionsim::kernel {
namespace {

using ::ionsim::testing::IsErrno;
using ::ionsim::testing::IsOk;
using ::ionsim::testing::IsOkAndHolds;
using ::testing::ElementsAre;
using ::testing::IsNull;
using ::testing::NotNull;

constexpr unsigned long P = PAGE_SIZE;
constexpr unsigned long B = TASK_UNMAPPED_BASE;
constexpr phys_addr_t kRamBase = 0x80000000UL;
constexpr unsigned long kRamPages = 2048;
constexpr unsigned long kLowmemPages = 512;
constexpr unsigned long RW = PROT_READ | PROT_WRITE;
constexpr unsigned long kAnon = MAP_PRIVATE | MAP_ANONYMOUS;
// Mirrors arch/x86/include/asm/page_64_types.h:__PAGE_OFFSET @ v4.4.
constexpr unsigned long kPageOffset = 0xffff880000000000UL;

phys_mem_config SmallMachine() {
  phys_mem_config config;
  config.ram_base = kRamBase;
  config.ram_size = kRamPages * PAGE_SIZE;
  config.lowmem_size = kLowmemPages * PAGE_SIZE;
  return config;
}

// A character device whose mmap() does what the test asks.
struct TestDevice {
  enum class Mode {
    kRemap,              // remap_pfn_range() of every page; vm_ops with open/close only
    kRemapNoVmOps,       // remap_pfn_range() of every page; no vm_ops at all
    kFaultPfn,           // VM_PFNMAP, pages inserted by the fault handler with vm_insert_pfn (as ION does)
    kFaultPage,          // the fault handler returns a referenced page in vmf->page
    kFaultNothing,       // the fault handler claims VM_FAULT_NOPAGE but maps nothing
    kInsertPage,         // vm_insert_page() of every page at mmap time
    kInsertPageThenFail, // vm_insert_page() of the first page, then -EINVAL
    kFail,               // -EPERM
  };
  Mode mode = Mode::kRemap;
  bool write_combine = false;
  unsigned long sigbus_pgoff = ~0UL;  // the fault handler fails for this file page
  std::vector<struct page*> pages;    // the device's memory, by file page offset
  std::atomic<int> opens{0};
  std::atomic<int> closes{0};
  std::atomic<int> faults{0};
  std::atomic<int> releases{0};
};

TestDevice* DeviceOf(struct vm_area_struct* vma) { return static_cast<TestDevice*>(vma->vm_private_data); }

void DeviceVmOpen(struct vm_area_struct* vma) { DeviceOf(vma)->opens++; }
void DeviceVmClose(struct vm_area_struct* vma) { DeviceOf(vma)->closes++; }

int DeviceFaultPfn(struct vm_area_struct* vma, struct vm_fault* vmf) {
  TestDevice* dev = DeviceOf(vma);
  dev->faults++;
  if (vmf->pgoff == dev->sigbus_pgoff || vmf->pgoff >= dev->pages.size()) return VM_FAULT_SIGBUS;
  const Errno ret = vm_insert_pfn(vma, vmf->virtual_address, page_to_pfn(dev->pages[vmf->pgoff]));
  return ret.ok() ? VM_FAULT_NOPAGE : VM_FAULT_SIGBUS;
}

int DeviceFaultPage(struct vm_area_struct* vma, struct vm_fault* vmf) {
  TestDevice* dev = DeviceOf(vma);
  dev->faults++;
  if (vmf->pgoff >= dev->pages.size()) return VM_FAULT_SIGBUS;
  get_page(dev->pages[vmf->pgoff]);
  vmf->page = dev->pages[vmf->pgoff];
  return 0;
}

int DeviceFaultNothing(struct vm_area_struct* vma, struct vm_fault* /*vmf*/) {
  DeviceOf(vma)->faults++;
  return VM_FAULT_NOPAGE;
}

const struct vm_operations_struct kOpenCloseOps = {.open = DeviceVmOpen, .close = DeviceVmClose, .fault = nullptr};
const struct vm_operations_struct kFaultPfnOps = {
    .open = DeviceVmOpen, .close = DeviceVmClose, .fault = DeviceFaultPfn};
const struct vm_operations_struct kFaultPageOps = {
    .open = DeviceVmOpen, .close = DeviceVmClose, .fault = DeviceFaultPage};
const struct vm_operations_struct kFaultNothingOps = {
    .open = DeviceVmOpen, .close = DeviceVmClose, .fault = DeviceFaultNothing};

int RemapAll(TestDevice* dev, struct vm_area_struct* vma) {
  for (unsigned long i = 0; i < vma_pages(vma); i++) {
    if (vma->vm_pgoff + i >= dev->pages.size()) return -EINVAL;
    const Errno ret = remap_pfn_range(vma, vma->vm_start + i * P, page_to_pfn(dev->pages[vma->vm_pgoff + i]), P,
                                      vma->vm_page_prot);
    if (!ret.ok()) return ret.kernel_ret();
  }
  return 0;
}

int DeviceMmap(struct file* file, struct vm_area_struct* vma) {
  TestDevice* dev = static_cast<TestDevice*>(file->private_data);
  vma->vm_private_data = dev;
  if (dev->write_combine) vma->vm_page_prot = pgprot_writecombine(vma->vm_page_prot);
  switch (dev->mode) {
    case TestDevice::Mode::kRemap:
      vma->vm_ops = &kOpenCloseOps;
      return RemapAll(dev, vma);
    case TestDevice::Mode::kRemapNoVmOps:
      return RemapAll(dev, vma);
    case TestDevice::Mode::kFaultPfn:
      vma->vm_flags |= VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP;
      vma->vm_ops = &kFaultPfnOps;
      return 0;
    case TestDevice::Mode::kFaultPage:
      vma->vm_ops = &kFaultPageOps;
      return 0;
    case TestDevice::Mode::kFaultNothing:
      vma->vm_ops = &kFaultNothingOps;
      return 0;
    case TestDevice::Mode::kInsertPage:
      vma->vm_ops = &kOpenCloseOps;
      for (unsigned long i = 0; i < vma_pages(vma); i++) {
        const Errno ret = vm_insert_page(vma, vma->vm_start + i * P, dev->pages[vma->vm_pgoff + i]);
        if (!ret.ok()) return ret.kernel_ret();
      }
      return 0;
    case TestDevice::Mode::kInsertPageThenFail:
      vma->vm_ops = &kOpenCloseOps;
      if (!vm_insert_page(vma, vma->vm_start, dev->pages[vma->vm_pgoff]).ok()) return -EFAULT;
      return -EINVAL;
    case TestDevice::Mode::kFail:
      return -EPERM;
  }
  return -EINVAL;
}

int DeviceRelease(struct inode* /*inode*/, struct file* file) {
  static_cast<TestDevice*>(file->private_data)->releases++;
  return 0;
}

const struct file_operations kDeviceFops = {.mmap = DeviceMmap, .release = DeviceRelease};
const struct file_operations kNoMmapFops = {.release = DeviceRelease};

std::string Read(struct mm_struct* mm, unsigned long addr, size_t len) {
  std::string out(len, '?');
  if (!user_read(mm, addr, out.data(), len).ok()) return "EFAULT";
  return out;
}

std::string ReadPage(const struct page* page, size_t offset, size_t len) {
  std::string out(len, '?');
  page_read(page, offset, out.data(), len);
  return out;
}

// The vma containing addr, looked up under mmap_sem.
struct vm_area_struct* VmaAt(struct mm_struct* mm, unsigned long addr) {
  struct vm_area_struct* found = nullptr;
  down_read(&mm->mmap_sem);
  auto it = mm->vmas.upper_bound(addr);
  if (it != mm->vmas.begin() && std::prev(it)->second->vm_end > addr) found = std::prev(it)->second;
  up_read(&mm->mmap_sem);
  return found;
}

// "B+start..B+end" for each vma, in page offsets from TASK_UNMAPPED_BASE.
std::vector<std::string> Layout(struct mm_struct* mm) {
  std::vector<std::string> out;
  for (const vma_info& v : mm_vmas(mm)) {
    out.push_back("B+" + std::to_string((v.start - B) / P) + "..B+" + std::to_string((v.end - B) / P));
  }
  return out;
}

// A machine and a current task with an empty address space.
class MmUserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mem_ = phys_mem_create(SmallMachine());
    ASSERT_THAT(mem_, NotNull());
    task_ = task_create("mm_user_test", mem_);
    ASSERT_THAT(task_, NotNull());
    scope_ = std::make_unique<current_task_scope>(task_);
  }

  void TearDown() override {
    scope_.reset();
    if (task_ != nullptr) task_free(task_);
    for (TestDevice* dev : devices_) {
      for (struct page* page : dev->pages) __free_page(page);
      delete dev;
    }
    if (mem_ != nullptr) {
      EXPECT_EQ(phys_mem_destroy(mem_), 0u) << "pages still allocated at teardown";
    }
  }

  struct mm_struct* mm() const { return task_->mm; }

  // A device with npages pages of memory, page i starting with the text "page<i>".
  TestDevice* NewDevice(TestDevice::Mode mode, size_t npages, gfp_t gfp = GFP_KERNEL) {
    TestDevice* dev = new TestDevice();
    dev->mode = mode;
    for (size_t i = 0; i < npages; i++) {
      struct page* page = alloc_page(mem_, gfp | __GFP_ZERO);
      EXPECT_THAT(page, NotNull());
      const std::string text = "page" + std::to_string(i);
      page_write(page, 0, text.data(), text.size());
      dev->pages.push_back(page);
    }
    devices_.push_back(dev);
    return dev;
  }

  // Opens the device as a new fd of the current task; *file_out gets the file (the fd holds its reference).
  int Open(TestDevice* dev, unsigned int flags = O_RDWR, struct file** file_out = nullptr,
           const struct file_operations* fops = &kDeviceFops) {
    ErrnoOr<struct file*> file = anon_inode_getfile("test_dev", fops, dev, flags);
    EXPECT_THAT(file, IsOk());
    ErrnoOr<int> fd = get_unused_fd_flags(0);
    EXPECT_THAT(fd, IsOk());
    fd_install(*fd, *file);
    if (file_out != nullptr) *file_out = *file;
    return *fd;
  }

  ErrnoOr<unsigned long> Mmap(unsigned long addr, unsigned long len, unsigned long prot, unsigned long flags,
                              int fd = -1, unsigned long offset = 0) {
    return sys_mmap(addr, len, prot, flags, fd, offset);
  }

  unsigned long MustMmap(unsigned long addr, unsigned long len, unsigned long prot, unsigned long flags,
                         int fd = -1, unsigned long offset = 0) {
    ErrnoOr<unsigned long> ret = Mmap(addr, len, prot, flags, fd, offset);
    EXPECT_THAT(ret, IsOk());
    return ret.ok() ? *ret : 0;
  }

  phys_mem* mem_ = nullptr;
  task_struct* task_ = nullptr;
  std::unique_ptr<current_task_scope> scope_;
  std::vector<TestDevice*> devices_;
};

using MmapTest = MmUserTest;
using MunmapTest = MmUserTest;
using ForkTest = MmUserTest;
using FaultTest = MmUserTest;
using ProtectionTest = MmUserTest;
using RemapTest = MmUserTest;
using CopyUserTest = MmUserTest;
using VmapTest = MmUserTest;
using PageAddressTest = MmUserTest;
using TaskExitTest = MmUserTest;
using MmUserDeathTest = MmUserTest;

// --- mmap placement --------------------------------------------------------------------------------------------

TEST_F(MmapTest, AnonymousMappingsTakeTheLowestGapFromTaskUnmappedBase) {
  // a:B+0  b:B+1..B+3 (unmapped again)  c:B+3  d:B+4..B+7 (3 pages skip the 2-page hole)  e:B+1  f:B+2  g:B+7
  //   B+0 [a] [e] [f] [c] [d d d] [g]
  // Expect every mapping at the lowest address where it fits, from TASK_UNMAPPED_BASE up.
  EXPECT_THAT(Mmap(0, P, RW, kAnon), IsOkAndHolds(B));
  const unsigned long b = MustMmap(0, 2 * P, RW, kAnon);
  EXPECT_EQ(b, B + P);
  EXPECT_THAT(Mmap(0, P, RW, kAnon), IsOkAndHolds(B + 3 * P));
  EXPECT_THAT(sys_munmap(b, 2 * P), IsOk());
  EXPECT_THAT(Mmap(0, 3 * P, RW, kAnon), IsOkAndHolds(B + 4 * P));
  EXPECT_THAT(Mmap(0, P, RW, kAnon), IsOkAndHolds(B + P));
  EXPECT_THAT(Mmap(0, P, RW, kAnon), IsOkAndHolds(B + 2 * P));
  EXPECT_THAT(Mmap(0, P, RW, kAnon), IsOkAndHolds(B + 7 * P));
  EXPECT_THAT(Layout(mm()), ElementsAre("B+0..B+1", "B+1..B+2", "B+2..B+3", "B+3..B+4", "B+4..B+7", "B+7..B+8"));
  // A private anonymous vma's pgoff is its address in pages; lengths are rounded up to whole pages.
  EXPECT_THAT(Mmap(0, 10, RW, kAnon), IsOkAndHolds(B + 8 * P));
  const std::vector<vma_info> vmas = mm_vmas(mm());
  EXPECT_EQ(vmas.back().pgoff, (B + 8 * P) >> PAGE_SHIFT);
  EXPECT_EQ(vmas.back().end - vmas.back().start, P);
  EXPECT_EQ(vmas.back().flags, VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE);
}

TEST_F(MmapTest, HintAddressIsUsedOnlyWhenTheRangeThereIsFree) {
  EXPECT_THAT(Mmap(B + 10 * P, P, RW, kAnon), IsOkAndHolds(B + 10 * P));
  // Taken: the lowest gap instead.
  EXPECT_THAT(Mmap(B + 10 * P, P, RW, kAnon), IsOkAndHolds(B));
  // Free at the hint but running into B+10: the lowest gap.
  EXPECT_THAT(Mmap(B + 9 * P, 2 * P, RW, kAnon), IsOkAndHolds(B + P));
  // An unaligned hint is rounded down (round_hint_to_min masks it).
  EXPECT_THAT(Mmap(B + 20 * P + 5, P, RW, kAnon), IsOkAndHolds(B + 20 * P));
  // A free hint below TASK_UNMAPPED_BASE is used too; one inside the first page rounds down to no hint at all.
  EXPECT_THAT(Mmap(0x10000, P, RW, kAnon), IsOkAndHolds(0x10000UL));
  EXPECT_THAT(Mmap(0x100, P, RW, kAnon), IsOkAndHolds(B + 3 * P));
}

TEST_F(MmapTest, MapFixedReplacesTheMappingsItOverlaps) {
  // Before: B+0..B+3 anonymous, every byte 'A'. MAP_FIXED of B+1..B+2:
  //   [B+0 'A'] [B+1 new, zero] [B+2 'A']
  // Expect three vmas, the middle one fresh.
  const unsigned long a = MustMmap(0, 3 * P, RW, kAnon);
  ASSERT_EQ(a, B);
  const std::string fill(3 * P, 'A');
  ASSERT_THAT(user_write(mm(), a, fill.data(), fill.size()), IsOk());
  EXPECT_THAT(Mmap(a + P, P, RW, kAnon | MAP_FIXED), IsOkAndHolds(a + P));
  EXPECT_THAT(Layout(mm()), ElementsAre("B+0..B+1", "B+1..B+2", "B+2..B+3"));
  EXPECT_EQ(Read(mm(), a + P - 2, 4), std::string("AA\0\0", 4));
  EXPECT_EQ(Read(mm(), a + 3 * P - 2, 2), "AA");

  // MAP_FIXED over a file mapping closes the part it replaces.
  TestDevice* dev = NewDevice(TestDevice::Mode::kRemap, 2);
  struct file* file = nullptr;
  const int fd = Open(dev, O_RDWR, &file);
  const unsigned long f = MustMmap(0, 2 * P, RW, MAP_SHARED, fd);
  EXPECT_THAT(Mmap(f, P, RW, kAnon | MAP_FIXED), IsOkAndHolds(f));
  EXPECT_EQ(dev->opens.load(), 1);   // the piece [f, f+P) split off below the rest
  EXPECT_EQ(dev->closes.load(), 1);  // and then unmapped
  EXPECT_EQ(file->f_count.load(), 2);
  EXPECT_EQ(Read(mm(), f + P, 5), "page1");
  EXPECT_THAT(sys_close(fd), IsOk());
}

TEST_F(MmapTest, ErrnosFollowTheMmapSyscallOrder) {
  TestDevice* dev = NewDevice(TestDevice::Mode::kRemap, 1);
  const int rw = Open(dev, O_RDWR);
  const int ro = Open(dev, O_RDONLY);
  const int wo = Open(dev, O_WRONLY);
  const int nommap = Open(dev, O_RDWR, nullptr, &kNoMmapFops);

  EXPECT_THAT(Mmap(0, P, RW, kAnon, -1, 1), IsErrno(EINVAL));  // offset first, even for anonymous memory
  EXPECT_THAT(Mmap(0, 0, RW, MAP_SHARED, 77), IsErrno(EBADF));  // fget before the length
  EXPECT_THAT(Mmap(0, P, RW, MAP_SHARED, -1), IsErrno(EBADF));
  EXPECT_THAT(Mmap(0, 0, RW, kAnon), IsErrno(EINVAL));
  EXPECT_THAT(Mmap(B + 1, P, RW, kAnon | MAP_FIXED), IsErrno(EINVAL));
  EXPECT_THAT(Mmap(0, P, RW, MAP_SHARED | MAP_PRIVATE | MAP_ANONYMOUS), IsErrno(EINVAL));
  EXPECT_THAT(Mmap(0, P, RW, MAP_ANONYMOUS), IsErrno(EINVAL));
  EXPECT_THAT(Mmap(0, P, RW, MAP_SHARED | MAP_PRIVATE, rw), IsErrno(EINVAL));
  EXPECT_THAT(Mmap(0, ~0UL, RW, kAnon), IsErrno(ENOMEM));  // PAGE_ALIGN overflows to 0
  EXPECT_THAT(Mmap(0, TASK_SIZE + P, RW, kAnon), IsErrno(ENOMEM));
  EXPECT_THAT(Mmap(TASK_SIZE - P, 2 * P, RW, kAnon | MAP_FIXED), IsErrno(ENOMEM));
  EXPECT_THAT(Mmap(0, P, RW, MAP_SHARED, ro), IsErrno(EACCES));
  EXPECT_THAT(Mmap(0, P, PROT_READ, MAP_SHARED, wo), IsErrno(EACCES));  // not open for reading
  EXPECT_THAT(Mmap(0, P, PROT_READ, MAP_PRIVATE, wo), IsErrno(EACCES));
  EXPECT_THAT(Mmap(0, P, PROT_READ, MAP_SHARED, nommap), IsErrno(ENODEV));
  dev->mode = TestDevice::Mode::kFail;
  EXPECT_THAT(Mmap(0, P, RW, MAP_SHARED, rw), IsErrno(EPERM));
  EXPECT_TRUE(mm_vmas(mm()).empty());
  EXPECT_EQ(dev->opens.load() + dev->closes.load(), 0);
}

TEST_F(MmapTest, SharedMappingOfAReadOnlyFileIsNeitherSharedNorMayWrite) {
  // do_mmap clears VM_SHARED and VM_MAYWRITE for a file not open for writing, so the mapping can never become
  // writable; a private writable mapping of it is allowed.
  TestDevice* dev = NewDevice(TestDevice::Mode::kFaultPage, 1);
  const int ro = Open(dev, O_RDONLY);
  const unsigned long a = MustMmap(0, P, PROT_READ, MAP_SHARED, ro);
  const unsigned long b = MustMmap(0, P, RW, MAP_PRIVATE, ro);
  const std::vector<vma_info> vmas = mm_vmas(mm());
  ASSERT_EQ(vmas.size(), 2u);
  EXPECT_EQ(vmas[0].flags, VM_READ | VM_MAYREAD | VM_MAYSHARE);
  EXPECT_EQ(vmas[1].flags, VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE);
  EXPECT_EQ(Read(mm(), a, 5), "page0");
  EXPECT_EQ(Read(mm(), b, 5), "page0");
}

TEST_F(MmapTest, FailingDriverMmapUndoesItsMappingsWithoutCloseAndDropsTheFileReference) {
  TestDevice* dev = NewDevice(TestDevice::Mode::kInsertPageThenFail, 1);
  struct file* file = nullptr;
  const int fd = Open(dev, O_RDWR, &file);
  EXPECT_THAT(Mmap(0, P, RW, MAP_SHARED, fd), IsErrno(EINVAL));
  EXPECT_TRUE(mm_vmas(mm()).empty());
  EXPECT_EQ(dev->closes.load(), 0);
  EXPECT_EQ(file->f_count.load(), 1);                // the fd's reference only
  EXPECT_EQ(page_count(dev->pages[0]), 1);    // the inserted page's reference was dropped with the pte
  // The range is free again.
  EXPECT_THAT(Mmap(0, P, RW, kAnon), IsOkAndHolds(B));
}

// --- munmap ----------------------------------------------------------------------------------------------------

TEST_F(MunmapTest, PunchingAHoleSplitsTheVmaAndOpensEachNewPiece) {
  // [B+0 B+1 B+2 B+3] file pages 0..3; munmap(B+1, 2 pages):
  //   split at B+1: new upper piece B+1..B+4 (open #1); split it at B+3: new lower piece B+1..B+3 (open #2);
  //   B+1..B+3 removed (close #1).
  //   [B+0 pgoff 0]  hole  [B+3 pgoff 3]
  // Expect two opens, one close, and one file reference per remaining vma.
  TestDevice* dev = NewDevice(TestDevice::Mode::kRemap, 4);
  struct file* file = nullptr;
  const int fd = Open(dev, O_RDWR, &file);
  const unsigned long a = MustMmap(0, 4 * P, RW, MAP_SHARED, fd);
  ASSERT_EQ(a, B);
  EXPECT_EQ(file->f_count.load(), 2);
  EXPECT_THAT(sys_munmap(a + P, 2 * P), IsOk());
  EXPECT_EQ(dev->opens.load(), 2);
  EXPECT_EQ(dev->closes.load(), 1);
  EXPECT_EQ(file->f_count.load(), 3);
  const std::vector<vma_info> vmas = mm_vmas(mm());
  ASSERT_EQ(vmas.size(), 2u);
  EXPECT_EQ(vmas[0].pgoff, 0u);
  EXPECT_EQ(vmas[1].pgoff, 3u);
  EXPECT_EQ(vmas[1].present, 1u);
  EXPECT_EQ(Read(mm(), a, 5), "page0");
  EXPECT_EQ(Read(mm(), a + P, 1), "EFAULT");
  EXPECT_EQ(Read(mm(), a + 3 * P, 5), "page3");

  // The file outlives its fd while mapped; the last munmap releases it.
  EXPECT_THAT(sys_close(fd), IsOk());
  EXPECT_EQ(dev->releases.load(), 0);
  EXPECT_THAT(sys_munmap(a, 4 * P), IsOk());
  EXPECT_EQ(dev->closes.load(), 3);
  EXPECT_EQ(dev->releases.load(), 1);
}

TEST_F(MunmapTest, RejectsBadRangesAndIgnoresUnmappedOnes) {
  EXPECT_THAT(sys_munmap(B + 1, P), IsErrno(EINVAL));
  EXPECT_THAT(sys_munmap(B, 0), IsErrno(EINVAL));
  EXPECT_THAT(sys_munmap(TASK_SIZE + P, P), IsErrno(EINVAL));
  EXPECT_THAT(sys_munmap(TASK_SIZE - P, 2 * P), IsErrno(EINVAL));
  EXPECT_THAT(sys_munmap(B, 100 * P), IsOk());
  // A partial page at the end unmaps the whole page.
  const unsigned long a = MustMmap(0, 2 * P, RW, kAnon);
  EXPECT_THAT(sys_munmap(a, P + 1), IsOk());
  EXPECT_TRUE(mm_vmas(mm()).empty());
}

// --- fork ------------------------------------------------------------------------------------------------------

TEST_F(ForkTest, DupMmCopiesAnonymousBytesAndSharesFileMappings) {
  TestDevice* dev = NewDevice(TestDevice::Mode::kRemap, 1);
  struct file* file = nullptr;
  const int fd = Open(dev, O_RDWR, &file);
  const unsigned long anon = MustMmap(0, 2 * P, RW, kAnon);
  const unsigned long shared = MustMmap(0, P, RW, MAP_SHARED, fd);
  ASSERT_THAT(user_write(mm(), anon, "parent", 6), IsOk());

  ErrnoOr<struct mm_struct*> child = dup_mm(mm());
  ASSERT_THAT(child, IsOk());
  EXPECT_EQ(dev->opens.load(), 1);  // vm_ops->open for the child's copy
  EXPECT_EQ(file->f_count.load(), 3);
  EXPECT_EQ(mm_vmas(*child).size(), 2u);

  // Anonymous memory is copied.
  EXPECT_EQ(Read(*child, anon, 6), "parent");
  EXPECT_EQ(Read(*child, anon + P, 3), std::string(3, '\0'));
  ASSERT_THAT(user_write(*child, anon, "child!", 6), IsOk());
  EXPECT_EQ(Read(mm(), anon, 6), "parent");
  // The file mapping is the same page in both.
  ASSERT_THAT(user_write(*child, shared, "shared", 6), IsOk());
  EXPECT_EQ(Read(mm(), shared, 6), "shared");
  EXPECT_EQ(ReadPage(dev->pages[0], 0, 6), "shared");

  mmput(*child);
  EXPECT_EQ(dev->closes.load(), 1);
  EXPECT_EQ(file->f_count.load(), 2);
  EXPECT_THAT(sys_close(fd), IsOk());
}

TEST_F(ForkTest, FailedDupMmTearsThePartialCopyDown) {
  TestDevice* dev = NewDevice(TestDevice::Mode::kRemap, 1);
  const int fd = Open(dev, O_RDWR);
  MustMmap(0, P, RW, MAP_SHARED, fd);
  const unsigned long anon = MustMmap(0, P, RW, kAnon);
  ASSERT_THAT(user_write(mm(), anon, "x", 1), IsOk());
  // The second vma's copy fails: the first one, already opened, is closed again.
  int vmas_allocated = 0;
  set_slab_fail_hook([&](const std::type_info& type, gfp_t) {
    return type == typeid(struct vm_area_struct) && ++vmas_allocated == 2;
  });
  ErrnoOr<struct mm_struct*> child = dup_mm(mm());
  set_slab_fail_hook(nullptr);
  EXPECT_THAT(child, IsErrno(ENOMEM));
  EXPECT_EQ(dev->opens.load(), 1);
  EXPECT_EQ(dev->closes.load(), 1);
}

// --- faults ----------------------------------------------------------------------------------------------------

TEST_F(FaultTest, FirstTouchFaultsInThePfnAndZapMakesTheNextTouchFaultAgain) {
  TestDevice* dev = NewDevice(TestDevice::Mode::kFaultPfn, 2);
  const int fd = Open(dev);
  const unsigned long a = MustMmap(0, 2 * P, RW, MAP_SHARED, fd);
  std::vector<vma_info> vmas = mm_vmas(mm());
  ASSERT_EQ(vmas.size(), 1u);
  EXPECT_EQ(vmas[0].present, 0u);
  EXPECT_EQ(vmas[0].flags & (VM_IO | VM_PFNMAP), VM_IO | VM_PFNMAP);

  EXPECT_EQ(Read(mm(), a, 5), "page0");
  EXPECT_EQ(dev->faults.load(), 1);
  EXPECT_EQ(Read(mm(), a + 1, 4), "age0");
  EXPECT_EQ(dev->faults.load(), 1);
  EXPECT_EQ(Read(mm(), a + P, 5), "page1");
  EXPECT_EQ(dev->faults.load(), 2);
  EXPECT_EQ(mm_vmas(mm())[0].present, 2u);

  struct vm_area_struct* vma = VmaAt(mm(), a);
  ASSERT_THAT(vma, NotNull());
  EXPECT_EQ(zap_vma_ptes(vma, a, 3 * P), -1);  // beyond the vma
  EXPECT_EQ(zap_vma_ptes(vma, a, 2 * P), 0);
  EXPECT_EQ(mm_vmas(mm())[0].present, 0u);
  // PFN-mapped pages hold no reference: zapping left the device's pages alone.
  EXPECT_EQ(page_count(dev->pages[0]), 1);
  EXPECT_EQ(Read(mm(), a, 5), "page0");
  EXPECT_EQ(dev->faults.load(), 3);

  // zap_vma_ptes() refuses a vma that is not VM_PFNMAP.
  const unsigned long anon = MustMmap(0, P, RW, kAnon);
  EXPECT_EQ(zap_vma_ptes(VmaAt(mm(), anon), anon, P), -1);
}

TEST_F(FaultTest, HandlerReturningAPageMapsItWithTheHandlersReference) {
  TestDevice* dev = NewDevice(TestDevice::Mode::kFaultPage, 1);
  const int fd = Open(dev);
  const unsigned long a = MustMmap(0, P, RW, MAP_SHARED, fd);
  ASSERT_THAT(user_write(mm(), a + 4, "!", 1), IsOk());
  EXPECT_EQ(ReadPage(dev->pages[0], 0, 5), "page!");
  EXPECT_EQ(page_count(dev->pages[0]), 2);
  EXPECT_EQ(dev->faults.load(), 1);
  EXPECT_THAT(sys_munmap(a, P), IsOk());
  EXPECT_EQ(page_count(dev->pages[0]), 1);

  // vm_insert_page() at mmap time: VM_MIXEDMAP, and the page table holds a reference until unmapped.
  dev->mode = TestDevice::Mode::kInsertPage;
  const unsigned long b = MustMmap(0, P, RW, MAP_SHARED, fd);
  EXPECT_EQ(mm_vmas(mm())[0].flags & (VM_MIXEDMAP | VM_PFNMAP), VM_MIXEDMAP);
  EXPECT_EQ(page_count(dev->pages[0]), 2);
  EXPECT_EQ(Read(mm(), b, 5), "page!");
  EXPECT_THAT(sys_munmap(b, P), IsOk());
  EXPECT_EQ(page_count(dev->pages[0]), 1);
}

TEST_F(FaultTest, FailingHandlerIsEfaultAndUserWriteWritesNothing) {
  TestDevice* dev = NewDevice(TestDevice::Mode::kFaultPfn, 2);
  dev->sigbus_pgoff = 1;
  const int fd = Open(dev);
  const unsigned long a = MustMmap(0, 2 * P, RW, MAP_SHARED, fd);
  EXPECT_THAT(user_write(mm(), a + P - 4, "abcdefgh", 8), IsErrno(EFAULT));
  EXPECT_EQ(ReadPage(dev->pages[0], P - 4, 4), std::string(4, '\0'));
  // copy_to_user() copies up to the bad page.
  EXPECT_EQ(copy_to_user(a + P - 4, "abcdefgh", 8), 4u);
  EXPECT_EQ(ReadPage(dev->pages[0], P - 4, 4), "abcd");
}

TEST_F(FaultTest, NopageWithoutAMappingIsReportedAsASoftLockup) {
  TestDevice* dev = NewDevice(TestDevice::Mode::kFaultNothing, 1);
  const int fd = Open(dev);
  const unsigned long a = MustMmap(0, P, RW, MAP_SHARED, fd);
  set_bug_printing(false);
  EXPECT_EQ(Read(mm(), a, 1), "EFAULT");
  set_bug_printing(true);
  EXPECT_EQ(bug_event_count(BugKind::kSoftLockup), 1u);
  EXPECT_GT(dev->faults.load(), 1);
  clear_bug_events();
}

TEST_F(FaultTest, ZappedSharedMappingWithoutAFaultHandlerIsEfault) {
  // vm_ops without .fault: SIGBUS.
  TestDevice* dev = NewDevice(TestDevice::Mode::kRemap, 1);
  const int fd = Open(dev);
  const unsigned long a = MustMmap(0, P, RW, MAP_SHARED, fd);
  EXPECT_EQ(Read(mm(), a, 5), "page0");
  zap_page_range(VmaAt(mm(), a), a, P);
  EXPECT_EQ(Read(mm(), a, 5), "EFAULT");

  // No vm_ops at all: a shared file mapping is SIGBUS (do_anonymous_page), a private one gets anonymous memory.
  dev->mode = TestDevice::Mode::kRemapNoVmOps;
  const unsigned long s = MustMmap(0, P, RW, MAP_SHARED, fd);
  const unsigned long p = MustMmap(0, P, RW, MAP_PRIVATE, fd);
  EXPECT_EQ(Read(mm(), p, 5), "page0");
  zap_page_range(VmaAt(mm(), s), s, P);
  zap_page_range(VmaAt(mm(), p), p, P);
  EXPECT_EQ(Read(mm(), s, 5), "EFAULT");
  EXPECT_EQ(Read(mm(), p, 5), std::string(5, '\0'));
  ASSERT_THAT(user_write(mm(), p, "anon", 4), IsOk());
  EXPECT_EQ(Read(mm(), p, 4), "anon");
  EXPECT_EQ(ReadPage(dev->pages[0], 0, 5), "page0");
}

TEST_F(FaultTest, WritesToAPrivateFileMappingGoToAPrivateCopy) {
  TestDevice* dev = NewDevice(TestDevice::Mode::kRemap, 1);
  const int fd = Open(dev);
  const unsigned long a = MustMmap(0, P, RW, MAP_PRIVATE, fd);
  EXPECT_EQ(Read(mm(), a, 5), "page0");
  ASSERT_THAT(user_write(mm(), a, "PRIV", 4), IsOk());
  EXPECT_EQ(Read(mm(), a, 5), "PRIV0");
  EXPECT_EQ(ReadPage(dev->pages[0], 0, 5), "page0");

  // A write fault that the handler answers with a page copies it and drops the handler's reference.
  dev->mode = TestDevice::Mode::kFaultPage;
  const unsigned long b = MustMmap(0, P, RW, MAP_PRIVATE, fd);
  ASSERT_THAT(user_write(mm(), b + 4, "X", 1), IsOk());
  EXPECT_EQ(Read(mm(), b, 5), "pageX");
  EXPECT_EQ(ReadPage(dev->pages[0], 0, 5), "page0");
  EXPECT_EQ(page_count(dev->pages[0]), 1);
}

TEST_F(MmUserDeathTest, FaultModePfnInsertionIntoAPrivateWritableMappingIsABug) {
  // vm_insert_pfn() BUGs on a VM_PFNMAP copy-on-write mapping: what ION's fault mode does under MAP_PRIVATE.
  TestDevice* dev = NewDevice(TestDevice::Mode::kFaultPfn, 1);
  const int fd = Open(dev);
  const unsigned long a = MustMmap(0, P, RW, MAP_PRIVATE, fd);
  char byte;
  EXPECT_DEATH(user_read(mm(), a, &byte, 1).IgnoreError(), "kernel BUG");
}

// --- protection ------------------------------------------------------------------------------------------------

TEST_F(ProtectionTest, AccessesNeedTheMappingsProtection) {
  const unsigned long ro = MustMmap(0, P, PROT_READ, kAnon);
  const unsigned long none = MustMmap(0, P, PROT_NONE, kAnon);
  const unsigned long wo = MustMmap(0, P, PROT_WRITE, kAnon);
  EXPECT_EQ(Read(mm(), ro, 2), std::string(2, '\0'));
  EXPECT_THAT(user_write(mm(), ro, "x", 1), IsErrno(EFAULT));
  EXPECT_EQ(copy_to_user(ro, "xy", 2), 2u);
  EXPECT_EQ(Read(mm(), none, 1), "EFAULT");
  EXPECT_THAT(user_write(mm(), none, "x", 1), IsErrno(EFAULT));
  // x86: a write-only mapping can be read.
  ASSERT_THAT(user_write(mm(), wo, "w", 1), IsOk());
  EXPECT_EQ(Read(mm(), wo, 1), "w");
  EXPECT_EQ(vm_get_page_prot(VM_READ | VM_WRITE).prot, PROT_READ);  // PAGE_COPY until copy-on-write
  EXPECT_EQ(vm_get_page_prot(VM_READ | VM_WRITE | VM_SHARED).prot, PROT_READ | PROT_WRITE);
  EXPECT_EQ(vm_get_page_prot(0).prot, PROT_NONE);
}

// --- remap_pfn_range and friends -------------------------------------------------------------------------------

TEST_F(RemapTest, UserMappingBytesAreTheStructPageBytes) {
  TestDevice* dev = NewDevice(TestDevice::Mode::kRemap, 2);
  dev->write_combine = true;
  const int fd = Open(dev);
  const unsigned long a = MustMmap(0, 2 * P, RW, MAP_SHARED, fd);
  ASSERT_THAT(user_write(mm(), a + P - 3, "abcdef", 6), IsOk());
  EXPECT_EQ(ReadPage(dev->pages[0], P - 3, 3), "abc");
  EXPECT_EQ(ReadPage(dev->pages[1], 0, 3), "def");
  page_write(dev->pages[1], 100, "xyz", 3);
  EXPECT_EQ(Read(mm(), a + P + 100, 3), "xyz");

  const std::vector<vma_info> vmas = mm_vmas(mm());
  ASSERT_EQ(vmas.size(), 1u);
  const unsigned long special = VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP;
  EXPECT_EQ(vmas[0].flags & special, special);
  EXPECT_EQ(vmas[0].present, 2u);
  EXPECT_EQ(vmas[0].file, "anon_inode:test_dev");
  EXPECT_EQ(vmas[0].cache, page_cache_mode::kWriteCombine);
  EXPECT_STREQ(page_cache_mode_name(vmas[0].cache), "writecombine");
}

TEST_F(RemapTest, PageTableCallsCheckTheirRange) {
  TestDevice* dev = NewDevice(TestDevice::Mode::kFaultPfn, 2);
  const int fd = Open(dev);
  const unsigned long a = MustMmap(0, 2 * P, RW, MAP_SHARED, fd);
  struct vm_area_struct* vma = VmaAt(mm(), a);
  ASSERT_THAT(vma, NotNull());
  const unsigned long pfn = page_to_pfn(dev->pages[0]);
  EXPECT_THAT(remap_pfn_range(vma, a + P, pfn, 2 * P, vma->vm_page_prot), IsErrno(EINVAL));  // leaves the vma
  EXPECT_THAT(remap_pfn_range(vma, a, 0, P, vma->vm_page_prot), IsErrno(EINVAL));            // no struct page
  EXPECT_THAT(vm_insert_pfn(vma, a + 2 * P, pfn), IsErrno(EFAULT));
  EXPECT_THAT(vm_insert_pfn(vma, a, 0), IsErrno(EINVAL));
  EXPECT_THAT(vm_insert_pfn(vma, a, pfn), IsOk());
  EXPECT_THAT(vm_insert_pfn(vma, a, pfn), IsErrno(EBUSY));
  EXPECT_EQ(Read(mm(), a, 5), "page0");
  EXPECT_EQ(dev->faults.load(), 0);
}

TEST_F(MmUserDeathTest, RemappingOverAPresentPageIsABug) {
  TestDevice* dev = NewDevice(TestDevice::Mode::kRemap, 1);
  const int fd = Open(dev);
  const unsigned long a = MustMmap(0, P, RW, MAP_SHARED, fd);
  struct vm_area_struct* vma = VmaAt(mm(), a);
  EXPECT_DEATH(remap_pfn_range(vma, a, page_to_pfn(dev->pages[0]), P, vma->vm_page_prot).IgnoreError(),
               "kernel BUG");
}

// --- copy_from_user / copy_to_user -----------------------------------------------------------------------------

TEST_F(CopyUserTest, CopiesStopAtTheFirstUnmappedPage) {
  // [B+0 mapped] [B+1 unmapped]; a 32-byte copy starting 10 bytes before the end of B+0.
  // Expect 10 bytes copied and 22 reported as not copied, both ways; copy_from_user zeroes the 22.
  const unsigned long a = MustMmap(0, 2 * P, RW, kAnon);
  ASSERT_THAT(sys_munmap(a + P, P), IsOk());
  std::array<char, 32> src;
  for (size_t i = 0; i < src.size(); i++) src[i] = static_cast<char>('a' + i % 26);
  EXPECT_EQ(copy_to_user(a + P - 10, src.data(), src.size()), 22u);
  EXPECT_EQ(Read(mm(), a + P - 10, 10), std::string(src.data(), 10));

  std::array<char, 32> dst;
  dst.fill('\xaa');
  EXPECT_EQ(copy_from_user(dst.data(), a + P - 10, dst.size()), 22u);
  EXPECT_EQ(std::string(dst.data(), 10), std::string(src.data(), 10));
  EXPECT_EQ(std::string(dst.data() + 10, 22), std::string(22, '\0'));

  dst.fill('\xaa');
  EXPECT_EQ(copy_from_user(dst.data(), a + P, dst.size()), 32u);
  EXPECT_EQ(std::string(dst.data(), 32), std::string(32, '\0'));
  EXPECT_EQ(copy_from_user(dst.data(), a + P, 0), 0u);
}

TEST_F(CopyUserTest, CopiesCrossAdjacentMappings) {
  TestDevice* dev = NewDevice(TestDevice::Mode::kFaultPfn, 1);
  const int fd = Open(dev);
  const unsigned long anon = MustMmap(0, P, RW, kAnon);
  const unsigned long file = MustMmap(0, P, RW, MAP_SHARED, fd);
  ASSERT_EQ(file, anon + P);
  EXPECT_EQ(copy_to_user(file - 2, "<>PAGE", 6), 0u);
  EXPECT_EQ(ReadPage(dev->pages[0], 0, 5), "PAGE0");
  char buf[7] = {};
  EXPECT_EQ(copy_from_user(buf, file - 2, 7), 0u);
  EXPECT_EQ(std::string(buf, 7), "<>PAGE0");
}

TEST_F(CopyUserTest, RangesBeyondTaskSizeFailWhole) {
  char buf[16] = {};
  EXPECT_EQ(copy_to_user(TASK_SIZE - 8, buf, sizeof(buf)), sizeof(buf));
  EXPECT_EQ(copy_from_user(buf, ~0UL - 4, sizeof(buf)), sizeof(buf));
  EXPECT_THAT(user_write(mm(), TASK_SIZE - 8, buf, sizeof(buf)), IsErrno(EFAULT));
}

TEST(CopyUserNoTaskTest, WithoutACurrentTaskEveryCopyFails) {
  ASSERT_THAT(get_current(), IsNull());
  char buf[8];
  std::memset(buf, 'x', sizeof(buf));
  EXPECT_EQ(copy_to_user(TASK_UNMAPPED_BASE, buf, sizeof(buf)), sizeof(buf));
  EXPECT_EQ(copy_from_user(buf, TASK_UNMAPPED_BASE, sizeof(buf)), sizeof(buf));
  EXPECT_EQ(std::string(buf, sizeof(buf)), std::string(sizeof(buf), '\0'));
}

TEST(KernelDsTest, InsideTheScopeUserPointersAreHostPointers) {
  EXPECT_FALSE(uaccess_kernel());
  const char src[] = "kernel buffer";
  char dst[sizeof(src)] = {};
  {
    kernel_ds_scope outer;
    EXPECT_TRUE(uaccess_kernel());
    EXPECT_EQ(copy_from_user(dst, reinterpret_cast<user_ptr_t>(src), sizeof(src)), 0u);
    EXPECT_STREQ(dst, "kernel buffer");
    {
      kernel_ds_scope inner;
      EXPECT_EQ(copy_to_user(reinterpret_cast<user_ptr_t>(dst), "KERNEL", 6), 0u);
    }
    EXPECT_TRUE(uaccess_kernel());
  }
  EXPECT_FALSE(uaccess_kernel());
  EXPECT_STREQ(dst, "KERNEL buffer");
  // The scope is per thread.
  bool other_thread = true;
  {
    kernel_ds_scope scope;
    std::thread([&] { other_thread = uaccess_kernel(); }).join();
  }
  EXPECT_FALSE(other_thread);
}

// --- vmap, page_address, kmap ----------------------------------------------------------------------------------

TEST_F(VmapTest, KvaRoundTripsThroughTheMappedPages) {
  // Three lowmem pages and two highmem pages, in that order, in one vmap range.
  std::vector<struct page*> pages;
  for (int i = 0; i < 3; i++) pages.push_back(alloc_page(mem_, GFP_KERNEL));
  for (int i = 0; i < 2; i++) pages.push_back(alloc_page(mem_, GFP_HIGHUSER));
  ASSERT_TRUE(PageHighMem(pages[4]));
  const size_t areas = vmap_area_count();
  uint8_t* v = static_cast<uint8_t*>(vmap(pages.data(), 5, VM_MAP, PAGE_KERNEL));
  ASSERT_THAT(v, NotNull());
  EXPECT_EQ(vmap_area_count(), areas + 1);

  std::string pattern(5 * P, '\0');
  for (size_t i = 0; i < pattern.size(); i++) pattern[i] = static_cast<char>(i * 7 + i / P);
  ASSERT_THAT(kva_write(v, pattern.data(), pattern.size()), IsOk());
  for (size_t i = 0; i < 5; i++) EXPECT_EQ(ReadPage(pages[i], 0, P), pattern.substr(i * P, P)) << "page " << i;
  page_write(pages[3], P - 2, "hi", 2);
  page_write(pages[4], 0, "gh", 2);
  char buf[4];
  ASSERT_THAT(kva_read(v + 4 * P - 2, buf, 4), IsOk());
  EXPECT_EQ(std::string(buf, 4), "high");
  // The guard page after the range is not mapped; a range running into it accesses nothing.
  EXPECT_THAT(kva_read(v + 5 * P, buf, 1), IsErrno(EFAULT));
  EXPECT_THAT(kva_write(v + 5 * P - 2, "zzzz", 4), IsErrno(EFAULT));
  EXPECT_EQ(ReadPage(pages[4], P - 2, 2), pattern.substr(5 * P - 2, 2));

  // Every vmap gets a fresh range.
  uint8_t* w = static_cast<uint8_t*>(vmap(pages.data(), 1, VM_MAP, PAGE_KERNEL));
  ASSERT_THAT(w, NotNull());
  EXPECT_GE(w, v + 6 * P);
  vunmap(v);
  EXPECT_THAT(kva_read(v, buf, 1), IsErrno(EFAULT));
  ASSERT_THAT(kva_read(w, buf, 4), IsOk());
  EXPECT_EQ(std::string(buf, 4), pattern.substr(0, 4));
  vunmap(w);
  EXPECT_EQ(vmap_area_count(), areas);
  for (struct page* page : pages) __free_page(page);
}

TEST_F(VmapTest, BadArgumentsWarnOrFail) {
  struct page* page = alloc_page(mem_, GFP_KERNEL);
  struct page* with_hole[2] = {page, nullptr};
  EXPECT_THAT(vmap(&page, 0, VM_MAP, PAGE_KERNEL), IsNull());
  set_bug_printing(false);
  EXPECT_THAT(vmap(with_hole, 2, VM_MAP, PAGE_KERNEL), IsNull());
  EXPECT_EQ(bug_event_count(BugKind::kWarn), 1u);
  vunmap(nullptr);
  EXPECT_EQ(bug_event_count(BugKind::kWarn), 1u);
  vunmap(reinterpret_cast<void*>(0xffffc90000000000UL + 123 * P));  // never returned by vmap()
  vunmap(reinterpret_cast<void*>(0xffffc90000000000UL + 1));        // not even page aligned
  set_bug_printing(true);
  EXPECT_EQ(bug_event_count(BugKind::kWarn), 3u);
  clear_bug_events();
  __free_page(page);
}

TEST_F(PageAddressTest, LowmemPagesHaveLinearMapAddresses) {
  struct page* page = alloc_page(mem_, GFP_KERNEL);
  void* addr = page_address(page);
  EXPECT_EQ(reinterpret_cast<unsigned long>(addr), kPageOffset + page_to_phys(page));
  EXPECT_EQ(kmap(page), addr);
  kunmap(page);
  ASSERT_THAT(kva_write(static_cast<uint8_t*>(addr) + 10, "linear", 6), IsOk());
  EXPECT_EQ(ReadPage(page, 10, 6), "linear");
  // The linear map covers lowmem only.
  const unsigned long highmem_phys = kRamBase + kLowmemPages * P;
  char c;
  EXPECT_THAT(kva_read(reinterpret_cast<void*>(kPageOffset + highmem_phys), &c, 1), IsErrno(EFAULT));

  // A second machine gets a linear map of its own, even at the same physical addresses.
  phys_mem* other = phys_mem_create(SmallMachine());
  ASSERT_THAT(other, NotNull());
  struct page* other_page = alloc_page(other, GFP_KERNEL);
  EXPECT_EQ(page_to_phys(other_page), page_to_phys(page));
  void* other_addr = page_address(other_page);
  EXPECT_NE(other_addr, addr);
  page_write(other_page, 10, "second", 6);
  char buf[6];
  ASSERT_THAT(kva_read(static_cast<uint8_t*>(other_addr) + 10, buf, 6), IsOk());
  EXPECT_EQ(std::string(buf, 6), "second");
  __free_page(other_page);
  EXPECT_EQ(phys_mem_destroy(other), 0u);
  EXPECT_THAT(kva_read(static_cast<uint8_t*>(other_addr) + 10, buf, 6), IsErrno(EFAULT));
  __free_page(page);
}

TEST_F(PageAddressTest, HighmemPagesAreAddressableOnlyThroughKmap) {
  struct page* page = alloc_page(mem_, GFP_HIGHUSER);
  ASSERT_TRUE(PageHighMem(page));
  EXPECT_THAT(page_address(page), IsNull());
  void* k = kmap(page);
  ASSERT_THAT(k, NotNull());
  EXPECT_EQ(page_address(page), k);
  EXPECT_EQ(kmap(page), k);  // nested kmaps share the slot
  ASSERT_THAT(kva_write(k, "kmapped", 7), IsOk());
  EXPECT_EQ(ReadPage(page, 0, 7), "kmapped");
  kunmap(page);
  kunmap(page);
  // The unused slot stays mapped until the slot allocator wraps around and flushes it.
  EXPECT_EQ(page_address(page), k);
  char buf[7];
  ASSERT_THAT(kva_read(k, buf, 7), IsOk());

  // kmap and kunmap LAST_PKMAP (512) other highmem pages: the search wraps, flushing every unused slot.
  std::vector<struct page*> others;
  for (int i = 0; i < 512; i++) {
    struct page* other = alloc_page(mem_, GFP_HIGHUSER);
    ASSERT_TRUE(other != nullptr && PageHighMem(other));
    ASSERT_THAT(kmap(other), NotNull());
    kunmap(other);
    others.push_back(other);
  }
  EXPECT_THAT(page_address(page), IsNull());
  for (struct page* other : others) __free_page(other);
  __free_page(page);
}

TEST_F(MmUserDeathTest, KunmapOfAHighmemPageThatIsNotKmappedIsABug) {
  struct page* page = alloc_page(mem_, GFP_HIGHUSER);
  ASSERT_TRUE(PageHighMem(page));
  EXPECT_DEATH(kunmap(page), "kernel BUG");
  __free_page(page);
}

// --- teardown --------------------------------------------------------------------------------------------------

TEST_F(TaskExitTest, ExitUnmapsEveryMappingBeforeTheFilesAreClosed) {
  TestDevice* dev = NewDevice(TestDevice::Mode::kFaultPage, 2);
  struct task_struct* task = task_create("exiting", mem_);
  ASSERT_THAT(task, NotNull());
  {
    current_task_scope scope(task);
    const int fd = Open(dev);
    const unsigned long a = MustMmap(0, 2 * P, RW, MAP_SHARED, fd);
    ASSERT_THAT(user_write(task->mm, a, "x", 1), IsOk());
    ASSERT_THAT(user_write(task->mm, a + P, "y", 1), IsOk());
    MustMmap(0, 4 * P, RW, kAnon);
    EXPECT_EQ(page_count(dev->pages[1]), 2);
  }
  task_free(task);
  EXPECT_EQ(dev->closes.load(), 1);
  EXPECT_EQ(dev->releases.load(), 1);
  EXPECT_EQ(page_count(dev->pages[0]), 1);
  EXPECT_EQ(page_count(dev->pages[1]), 1);
}

// --- concurrency -----------------------------------------------------------------------------------------------

TEST_F(FaultTest, FaultsAndZapsFromAnotherThreadInterleaveSafely) {
  // One thread keeps reading a fault-mode mapping while another keeps zapping it, as ION's sync-for-device
  // zaps every mapping of a buffer from another task. Expect every read to see the device's bytes.
  TestDevice* dev = NewDevice(TestDevice::Mode::kFaultPfn, 2);
  const int fd = Open(dev);
  const unsigned long a = MustMmap(0, 2 * P, RW, MAP_SHARED, fd);
  struct vm_area_struct* vma = VmaAt(mm(), a);
  std::atomic<bool> stop{false};
  std::atomic<int> bad_reads{0};
  struct mm_struct* task_mm = mm();
  std::thread reader([&] {
    for (int i = 0; i < 2000; i++) {
      char buf[5];
      if (!user_read(task_mm, a + (i % 2) * P, buf, 5).ok() ||
          std::string(buf, 5) != "page" + std::to_string(i % 2)) {
        bad_reads++;
      }
    }
    stop = true;
  });
  while (!stop) zap_page_range(vma, a, 2 * P);
  reader.join();
  EXPECT_EQ(bad_reads, 0);
  EXPECT_GE(dev->faults.load(), 2);
}

// --- randomized differential test ------------------------------------------------------------------------------

TEST_F(MmUserTest, AnonymousMemoryMatchesAPageMapReference) {
  // Random mmap (placed or MAP_FIXED), munmap, user_write, user_read and copy_from_user over 48 pages from
  // TASK_UNMAPPED_BASE, against a map from page address to page bytes. Expect the same placement, the same
  // mapped pages, the same bytes and the same failures after every operation.
  constexpr unsigned long kWindow = 48;
  for (unsigned int seed = 1; seed <= 12; seed++) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 rng(seed);
    auto rand = [&](unsigned long lo, unsigned long hi) {  // inclusive
      return std::uniform_int_distribution<unsigned long>(lo, hi)(rng);
    };
    std::map<unsigned long, std::string> ref;
    auto mapped = [&](unsigned long addr, size_t len) {
      for (unsigned long page = addr & PAGE_MASK; page < addr + len; page += P) {
        if (!ref.count(page)) return false;
      }
      return true;
    };
    for (int op = 0; op < 150; op++) {
      const int kind = static_cast<int>(rand(0, 5));
      if (kind == 0 || kind == 1) {
        const unsigned long n = rand(1, 4);
        unsigned long expected = B;
        if (kind == 0) {
          while (!std::all_of(ref.begin(), ref.end(), [&](const auto& kv) {
            return kv.first < expected || kv.first >= expected + n * P;
          })) {
            expected += P;
          }
          ASSERT_THAT(Mmap(0, n * P, RW, kAnon), IsOkAndHolds(expected));
        } else {
          expected = B + rand(0, kWindow - n) * P;
          ASSERT_THAT(Mmap(expected, n * P, RW, kAnon | MAP_FIXED), IsOkAndHolds(expected));
        }
        for (unsigned long i = 0; i < n; i++) ref[expected + i * P] = std::string(P, '\0');
      } else if (kind == 2) {
        const unsigned long start = B + rand(0, kWindow) * P - 2 * P;
        const unsigned long n = rand(1, 6);
        ASSERT_THAT(sys_munmap(start, n * P), IsOk());
        for (unsigned long i = 0; i < n; i++) ref.erase(start + i * P);
      } else {
        const unsigned long addr = B - 2 * P + rand(0, (kWindow + 2) * P);
        const size_t len = rand(1, 3 * P);
        if (kind == 3) {
          std::string data(len, '\0');
          for (char& c : data) c = static_cast<char>(rand(0, 255));
          const bool ok = mapped(addr, len);
          ASSERT_EQ(user_write(mm(), addr, data.data(), len).ok(), ok);
          if (ok) {
            for (size_t i = 0; i < len; i++) ref[(addr + i) & PAGE_MASK][(addr + i) & ~PAGE_MASK] = data[i];
          }
        } else if (kind == 4) {
          std::string got(len, '\0');
          const bool ok = mapped(addr, len);
          ASSERT_EQ(user_read(mm(), addr, got.data(), len).ok(), ok);
          for (size_t i = 0; ok && i < len; i++) {
            ASSERT_EQ(got[i], ref[(addr + i) & PAGE_MASK][(addr + i) & ~PAGE_MASK]) << "at " << i;
          }
        } else {
          std::string got(len, '\x55');
          size_t expect_copied = 0;
          while (expect_copied < len && ref.count((addr + expect_copied) & PAGE_MASK)) {
            expect_copied = std::min<size_t>(len, ((addr + expect_copied) & PAGE_MASK) + P - addr);
          }
          ASSERT_EQ(copy_from_user(got.data(), addr, len), len - expect_copied);
          for (size_t i = 0; i < len; i++) {
            const char want = i < expect_copied ? ref[(addr + i) & PAGE_MASK][(addr + i) & ~PAGE_MASK] : '\0';
            ASSERT_EQ(got[i], want) << "at " << i;
          }
        }
      }
      std::vector<unsigned long> pages;
      for (const vma_info& v : mm_vmas(mm())) {
        for (unsigned long page = v.start; page < v.end; page += P) pages.push_back(page);
      }
      std::vector<unsigned long> want;
      for (const auto& kv : ref) want.push_back(kv.first);
      ASSERT_EQ(pages, want) << "after op " << op;
    }
    ASSERT_THAT(sys_munmap(B - 4 * P, 4096 * P), IsOk());
    ASSERT_TRUE(mm_vmas(mm()).empty());
  }
}

}  // namespace
}  // namespace ionsim::kernel
