// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Tests of dma-buf (drivers/dma-buf/dma-buf.c @ v4.4 with v4.6's DMA_BUF_IOCTL_SYNC) and of the streaming DMA
// API on a coherent machine. A small test exporter backs each dma-buf with order-0 pages of a simulated machine
// and records every callback, so the tests see exactly when dma-buf calls it: release on the file's last
// reference (fd, dma_buf_get, mapping), the mmap bounds check before ops->mmap, the SYNC ioctl's checks before
// begin/end_cpu_access, and the attachment and vmap bookkeeping. System calls run for a task made with
// task_create() and set as current for the whole test.
#include "model/kernel/dma_buf.h"

#include <atomic>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <typeinfo>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/kernel/bug.h"
#include "model/kernel/dma_mapping.h"
#include "model/kernel/fs.h"
#include "model/kernel/mm.h"
#include "model/kernel/mm_user.h"
#include "model/kernel/scatterlist.h"
#include "model/kernel/sched.h"
#include "model/kernel/slab.h"
#include "tests/testing/errno_matchers.h"

namespace ionsim::kernel {
namespace {

using ::ionsim::testing::IsErrno;
using ::ionsim::testing::IsOk;
using ::ionsim::testing::IsOkAndHolds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::IsNull;
using ::testing::NotNull;
using ::testing::Pair;

constexpr phys_addr_t kRamBase = 0x80000000UL;
constexpr unsigned long kRamPages = 256;

// One exporter call to begin_cpu_access ('B') or end_cpu_access ('E') with its direction.
using CpuCall = std::pair<char, enum dma_data_direction>;

// The test exporter's buffer: npages order-0 pages, each starting with its own index as a marker byte, plus a
// record of every callback dma-buf made and knobs that make a callback fail.
struct TestBuffer {
  struct phys_mem* mem = nullptr;
  std::vector<struct page*> pages;
  int released = 0;
  int attach_calls = 0;
  int detach_calls = 0;
  int attach_ret = 0;
  std::vector<CpuCall> cpu_calls;
  int cpu_access_ret = 0;
  bool map_returns_null = false;
  int map_calls = 0;
  int unmap_calls = 0;
  int mmap_calls = 0;
  int mmap_ret = 0;
  std::vector<unsigned long> kmap_pages;
  int vmap_calls = 0;
  int vunmap_calls = 0;
  bool vmap_fails = false;
};

TestBuffer* buffer_of(struct dma_buf* dmabuf) { return static_cast<TestBuffer*>(dmabuf->priv); }

int test_attach(struct dma_buf* dmabuf, struct device* /*dev*/, struct dma_buf_attachment* /*attach*/) {
  TestBuffer* buf = buffer_of(dmabuf);
  buf->attach_calls++;
  return buf->attach_ret;
}

void test_detach(struct dma_buf* dmabuf, struct dma_buf_attachment* /*attach*/) { buffer_of(dmabuf)->detach_calls++; }

ErrnoOr<struct sg_table*> test_map_dma_buf(struct dma_buf_attachment* attach, enum dma_data_direction dir) {
  TestBuffer* buf = buffer_of(attach->dmabuf);
  buf->map_calls++;
  if (buf->map_returns_null) return static_cast<struct sg_table*>(nullptr);
  struct sg_table* table = kzalloc<struct sg_table>(GFP_KERNEL);
  if (table == nullptr) return Errno(-ENOMEM);
  const Errno ret = sg_alloc_table(table, static_cast<unsigned int>(buf->pages.size()), GFP_KERNEL);
  if (!ret.ok()) {
    kfree(table);
    return ret;
  }
  struct scatterlist* sg;
  unsigned int i;
  for_each_sg(table->sgl, sg, table->nents, i) sg_set_page(sg, buf->pages[i], PAGE_SIZE, 0);
  dma_map_sg(attach->dev, table->sgl, static_cast<int>(table->nents), dir);
  return table;
}

void test_unmap_dma_buf(struct dma_buf_attachment* attach, struct sg_table* table, enum dma_data_direction dir) {
  buffer_of(attach->dmabuf)->unmap_calls++;
  dma_unmap_sg(attach->dev, table->sgl, static_cast<int>(table->nents), dir);
  sg_free_table(table);
  kfree(table);
}

void test_release(struct dma_buf* dmabuf) {
  TestBuffer* buf = buffer_of(dmabuf);
  for (struct page* page : buf->pages) __free_page(page);
  buf->pages.clear();
  buf->released++;
}

int test_begin_cpu_access(struct dma_buf* dmabuf, enum dma_data_direction dir) {
  TestBuffer* buf = buffer_of(dmabuf);
  buf->cpu_calls.emplace_back('B', dir);
  return buf->cpu_access_ret;
}

int test_end_cpu_access(struct dma_buf* dmabuf, enum dma_data_direction dir) {
  TestBuffer* buf = buffer_of(dmabuf);
  buf->cpu_calls.emplace_back('E', dir);
  return buf->cpu_access_ret;
}

// The exporter checks the page number itself (dma-buf does not).
void* test_kmap(struct dma_buf* dmabuf, unsigned long page_num) {
  TestBuffer* buf = buffer_of(dmabuf);
  buf->kmap_pages.push_back(page_num);
  if (page_num >= buf->pages.size()) return nullptr;
  return kmap(buf->pages[page_num]);
}

void test_kunmap(struct dma_buf* dmabuf, unsigned long page_num, void* /*vaddr*/) {
  kunmap(buffer_of(dmabuf)->pages[page_num]);
}

int test_mmap(struct dma_buf* dmabuf, struct vm_area_struct* vma) {
  TestBuffer* buf = buffer_of(dmabuf);
  buf->mmap_calls++;
  if (buf->mmap_ret != 0) return buf->mmap_ret;
  for (unsigned long i = 0; i < vma_pages(vma); ++i) {
    const Errno ret = remap_pfn_range(vma, vma->vm_start + i * PAGE_SIZE,
                                      page_to_pfn(buf->pages[vma->vm_pgoff + i]), PAGE_SIZE, vma->vm_page_prot);
    if (!ret.ok()) return ret.kernel_ret();
  }
  return 0;
}

void* test_vmap(struct dma_buf* dmabuf) {
  TestBuffer* buf = buffer_of(dmabuf);
  buf->vmap_calls++;
  if (buf->vmap_fails) return nullptr;
  return vmap(buf->pages.data(), static_cast<unsigned int>(buf->pages.size()), VM_MAP, PAGE_KERNEL);
}

void test_vunmap(struct dma_buf* dmabuf, void* vaddr) {
  buffer_of(dmabuf)->vunmap_calls++;
  vunmap(vaddr);
}

const struct dma_buf_ops kTestOps = {
    .attach = test_attach,
    .detach = test_detach,
    .map_dma_buf = test_map_dma_buf,
    .unmap_dma_buf = test_unmap_dma_buf,
    .release = test_release,
    .begin_cpu_access = test_begin_cpu_access,
    .end_cpu_access = test_end_cpu_access,
    .kmap_atomic = test_kmap,
    .kunmap_atomic = test_kunmap,
    .kmap = test_kmap,
    .kunmap = test_kunmap,
    .mmap = test_mmap,
    .vmap = test_vmap,
    .vunmap = test_vunmap,
};

// Only the ops dma_buf_export() insists on.
const struct dma_buf_ops kMandatoryOnlyOps = {
    .map_dma_buf = test_map_dma_buf,
    .unmap_dma_buf = test_unmap_dma_buf,
    .release = test_release,
    .kmap_atomic = test_kmap,
    .kmap = test_kmap,
    .mmap = test_mmap,
};

// A file that is not a dma-buf; its priv is a dma-buf that its mmap maps with dma_buf_mmap(), as a driver
// importing a dma-buf lets userspace map it through its own file.
std::atomic<int> g_importer_releases{0};

int importer_mmap(struct file* file, struct vm_area_struct* vma) {
  return dma_buf_mmap(static_cast<struct dma_buf*>(file->private_data), vma, 0).kernel_ret();
}

int importer_release(struct inode* /*inode*/, struct file* /*file*/) {
  g_importer_releases++;
  return 0;
}

const struct file_operations kImporterFops = {
    .mmap = importer_mmap,
    .release = importer_release,
};

class DmaBufTest : public ::testing::Test {
 protected:
  void SetUp() override {
    phys_mem_config config;
    config.ram_base = kRamBase;
    config.ram_size = kRamPages * PAGE_SIZE;
    config.lowmem_size = kRamPages * PAGE_SIZE;
    mem_ = phys_mem_create(config);
    ASSERT_THAT(mem_, NotNull());
    task_ = task_create("dmabuf_test", mem_);
    ASSERT_THAT(task_, NotNull());
    scope_.emplace(task_);
    dma_bufs_at_start_ = dma_buf_count();
    g_importer_releases = 0;
    ErrnoOr<unsigned long> page =
        sys_mmap(0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_THAT(page, IsOk());
    user_page_ = *page;
  }

  void TearDown() override {
    scope_.reset();
    if (task_ != nullptr) task_free(task_);
    EXPECT_EQ(dma_buf_count(), dma_bufs_at_start_) << "a dma-buf outlived its last reference";
    if (mem_ != nullptr) {
      EXPECT_EQ(phys_mem_destroy(mem_), 0u) << "pages still allocated at teardown";
    }
  }

  // A buffer of npages pages; page i starts with the byte 'A' + i.
  TestBuffer* NewBuffer(size_t npages) {
    buffers_.push_back(std::make_unique<TestBuffer>());
    TestBuffer* buf = buffers_.back().get();
    buf->mem = mem_;
    for (size_t i = 0; i < npages; ++i) {
      struct page* page = alloc_page(mem_, GFP_KERNEL);
      EXPECT_THAT(page, NotNull());
      const char marker = static_cast<char>('A' + i);
      page_write(page, 0, &marker, 1);
      buf->pages.push_back(page);
    }
    return buf;
  }

  // Gives back the pages of a buffer whose export failed (a released buffer has none left).
  void FreeUnexported(TestBuffer* buf) {
    for (struct page* page : buf->pages) __free_page(page);
    buf->pages.clear();
  }

  dma_buf_export_info ExportInfo(TestBuffer* buf, const struct dma_buf_ops* ops = &kTestOps) {
    dma_buf_export_info info{};
    info.exp_name = "dma_buf_test";
    info.ops = ops;
    info.size = buf->pages.size() * PAGE_SIZE;
    info.flags = static_cast<int>(O_RDWR);
    info.priv = buf;
    return info;
  }

  struct dma_buf* Export(TestBuffer* buf, const struct dma_buf_ops* ops = &kTestOps) {
    const dma_buf_export_info info = ExportInfo(buf, ops);
    ErrnoOr<struct dma_buf*> dmabuf = dma_buf_export(&info);
    EXPECT_THAT(dmabuf, IsOk());
    return dmabuf.ok() ? *dmabuf : nullptr;
  }

  // Exports a buffer and installs its reference at a new fd.
  int ExportFd(TestBuffer* buf, struct dma_buf** out = nullptr) {
    struct dma_buf* dmabuf = Export(buf);
    if (dmabuf == nullptr) return -1;
    ErrnoOr<int> fd = dma_buf_fd(dmabuf, static_cast<int>(O_CLOEXEC));
    EXPECT_THAT(fd, IsOk());
    if (out != nullptr) *out = dmabuf;
    return fd.ok() ? *fd : -1;
  }

  ErrnoOr<long> Sync(int fd, uint64_t flags) {
    const struct dma_buf_sync sync = {flags};
    EXPECT_THAT(user_write(task_->mm, user_page_, &sync, sizeof(sync)), IsOk());
    return sys_ioctl(static_cast<unsigned int>(fd), DMA_BUF_IOCTL_SYNC, user_page_);
  }

  // Maps len bytes of fd at byte offset `offset`, shared and read-write.
  ErrnoOr<unsigned long> Mmap(int fd, unsigned long len, unsigned long offset) {
    return sys_mmap(0, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, offset);
  }

  char UserByte(unsigned long addr) {
    char c = 0;
    EXPECT_THAT(user_read(task_->mm, addr, &c, 1), IsOk());
    return c;
  }

  size_t AttachmentCount(struct dma_buf* dmabuf) {
    size_t n = 0;
    mutex_lock(&dmabuf->lock);
    struct list_head* pos;
    list_for_each(pos, &dmabuf->attachments) ++n;
    mutex_unlock(&dmabuf->lock);
    return n;
  }

  struct phys_mem* mem_ = nullptr;
  struct task_struct* task_ = nullptr;
  std::optional<current_task_scope> scope_;
  size_t dma_bufs_at_start_ = 0;
  unsigned long user_page_ = 0;
  std::vector<std::unique_ptr<TestBuffer>> buffers_;
};

// ---- Export and the file's references ------------------------------------------------------------------------

TEST_F(DmaBufTest, ExportWrapsTheBufferInAReadWriteDmaBufFileWithOneReference) {
  TestBuffer* buf = NewBuffer(2);
  struct dma_buf* dmabuf = Export(buf);
  ASSERT_THAT(dmabuf, NotNull());

  EXPECT_EQ(dmabuf->size, 2 * PAGE_SIZE);
  EXPECT_EQ(dmabuf->priv, buf);
  EXPECT_STREQ(dmabuf->exp_name, "dma_buf_test");
  ASSERT_THAT(dmabuf->file, NotNull());
  EXPECT_TRUE(is_dma_buf_file(dmabuf->file));
  EXPECT_STREQ(file_inode(dmabuf->file)->name, "anon_inode:dmabuf");
  EXPECT_EQ(dmabuf->file->private_data, dmabuf);
  EXPECT_EQ(dmabuf->file->f_count.load(), 1);
  EXPECT_EQ(dmabuf->file->f_mode & (FMODE_READ | FMODE_WRITE | FMODE_LSEEK),
            FMODE_READ | FMODE_WRITE | FMODE_LSEEK);
  EXPECT_EQ(AttachmentCount(dmabuf), 0u);
  EXPECT_EQ(dma_buf_count(), dma_bufs_at_start_ + 1);

  dma_buf_put(dmabuf);
  task_work_run();  // the last fput() releases on the way back to userspace
  EXPECT_EQ(buf->released, 1);
  EXPECT_EQ(dma_buf_count(), dma_bufs_at_start_);
}

TEST_F(DmaBufTest, ExportWithoutPrivOrAMandatoryOpIsEinvalWithAWarn) {
  TestBuffer* buf = NewBuffer(1);
  const std::vector<std::pair<const char*, std::function<void(dma_buf_export_info*, dma_buf_ops*)>>> strips = {
      {"priv", [](dma_buf_export_info* info, dma_buf_ops*) { info->priv = nullptr; }},
      {"ops", [](dma_buf_export_info* info, dma_buf_ops*) { info->ops = nullptr; }},
      {"map_dma_buf", [](dma_buf_export_info*, dma_buf_ops* ops) { ops->map_dma_buf = nullptr; }},
      {"unmap_dma_buf", [](dma_buf_export_info*, dma_buf_ops* ops) { ops->unmap_dma_buf = nullptr; }},
      {"release", [](dma_buf_export_info*, dma_buf_ops* ops) { ops->release = nullptr; }},
      {"kmap_atomic", [](dma_buf_export_info*, dma_buf_ops* ops) { ops->kmap_atomic = nullptr; }},
      {"kmap", [](dma_buf_export_info*, dma_buf_ops* ops) { ops->kmap = nullptr; }},
      {"mmap", [](dma_buf_export_info*, dma_buf_ops* ops) { ops->mmap = nullptr; }},
  };
  set_bug_printing(false);
  for (const auto& [name, strip] : strips) {
    SCOPED_TRACE(name);
    dma_buf_ops ops = kTestOps;
    dma_buf_export_info info = ExportInfo(buf, &ops);
    strip(&info, &ops);
    EXPECT_THAT(dma_buf_export(&info), IsErrno(EINVAL));
    EXPECT_EQ(bug_event_count(BugKind::kWarn), 1u);
    EXPECT_EQ(bug_event_count(), 1u);
    clear_bug_events();
  }
  set_bug_printing(true);
  EXPECT_EQ(dma_buf_count(), dma_bufs_at_start_);

  // The optional ops may all be missing.
  struct dma_buf* dmabuf = Export(buf, &kMandatoryOnlyOps);
  ASSERT_THAT(dmabuf, NotNull());
  dma_buf_put(dmabuf);
  task_work_run();  // the last fput() releases on the way back to userspace
  EXPECT_EQ(buf->released, 1);
}

TEST_F(DmaBufTest, ExportFailsWithEnomemWhenTheDmaBufOrItsFileCannotBeAllocated) {
  TestBuffer* buf = NewBuffer(1);
  const dma_buf_export_info info = ExportInfo(buf);
  set_slab_fail_hook([](const std::type_info& type, gfp_t) { return type == typeid(struct dma_buf); });
  EXPECT_THAT(dma_buf_export(&info), IsErrno(ENOMEM));
  // The file fails after the dma_buf was allocated: the dma_buf is freed again (the test main sees any leak).
  set_slab_fail_hook([](const std::type_info& type, gfp_t) { return type == typeid(struct file); });
  EXPECT_THAT(dma_buf_export(&info), IsErrno(ENOMEM));
  set_slab_fail_hook(nullptr);
  EXPECT_EQ(dma_buf_count(), dma_bufs_at_start_);
  EXPECT_EQ(buf->released, 0);
  FreeUnexported(buf);
}


TEST_F(DmaBufTest, ReleaseRunsOnlyWhenTheFdAndTheDmaBufGetReferenceAreBothGone) {
  // export (1) -> dma_buf_fd: the fd owns that reference -> dma_buf_get: 2 -> close: 1 -> dma_buf_put: 0.
  // Expect release exactly at the put, after the close left one reference.
  TestBuffer* buf = NewBuffer(1);
  struct dma_buf* dmabuf = nullptr;
  const int fd = ExportFd(buf, &dmabuf);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(dmabuf->file->f_count.load(), 1);

  ErrnoOr<struct dma_buf*> got = dma_buf_get(fd);
  ASSERT_THAT(got, IsOkAndHolds(dmabuf));
  EXPECT_EQ(dmabuf->file->f_count.load(), 2);

  EXPECT_THAT(sys_close(static_cast<unsigned int>(fd)), IsOk());
  EXPECT_EQ(buf->released, 0);
  EXPECT_EQ(dma_buf_count(), dma_bufs_at_start_ + 1);

  dma_buf_put(*got);
  task_work_run();  // the last fput() releases on the way back to userspace
  EXPECT_EQ(buf->released, 1);
  EXPECT_EQ(dma_buf_count(), dma_bufs_at_start_);
}

TEST_F(DmaBufTest, ReleaseWaitsForTheLastMappingAfterTheFdIsClosed) {
  TestBuffer* buf = NewBuffer(2);
  const int fd = ExportFd(buf);
  ASSERT_GE(fd, 0);
  ErrnoOr<unsigned long> addr = Mmap(fd, 2 * PAGE_SIZE, 0);
  ASSERT_THAT(addr, IsOk());
  EXPECT_EQ(buf->mmap_calls, 1);

  EXPECT_THAT(sys_close(static_cast<unsigned int>(fd)), IsOk());
  EXPECT_EQ(buf->released, 0);
  EXPECT_EQ(UserByte(*addr), 'A');
  EXPECT_EQ(UserByte(*addr + PAGE_SIZE), 'B');

  EXPECT_THAT(sys_munmap(*addr, 2 * PAGE_SIZE), IsOk());
  EXPECT_EQ(buf->released, 1);
}

TEST_F(DmaBufTest, GetDmaBufTakesAReferenceThatDmaBufPutDrops) {
  TestBuffer* buf = NewBuffer(1);
  struct dma_buf* dmabuf = Export(buf);
  ASSERT_THAT(dmabuf, NotNull());
  get_dma_buf(dmabuf);
  EXPECT_EQ(dmabuf->file->f_count.load(), 2);
  dma_buf_put(dmabuf);
  EXPECT_EQ(buf->released, 0);
  dma_buf_put(dmabuf);
  task_work_run();  // the last fput() releases on the way back to userspace
  EXPECT_EQ(buf->released, 1);
}

TEST_F(DmaBufTest, ExitingTaskReleasesTheDmaBufsItsFdsAndMappingsHeld) {
  TestBuffer* mapped = NewBuffer(1);
  TestBuffer* open = NewBuffer(1);
  const int mapped_fd = ExportFd(mapped);
  ASSERT_GE(mapped_fd, 0);
  ASSERT_THAT(Mmap(mapped_fd, PAGE_SIZE, 0), IsOk());
  ASSERT_THAT(sys_close(static_cast<unsigned int>(mapped_fd)), IsOk());
  ASSERT_GE(ExportFd(open), 0);

  scope_.reset();
  do_exit(task_);
  EXPECT_EQ(mapped->released, 1);
  EXPECT_EQ(open->released, 1);
}

// ---- dma_buf_fd, dma_buf_get, dma_buf_put --------------------------------------------------------------------

TEST_F(DmaBufTest, DmaBufFdOfNullIsEinvalWithoutAWarn) {
  EXPECT_THAT(dma_buf_fd(nullptr, 0), IsErrno(EINVAL));
  EXPECT_EQ(bug_event_count(), 0u);
}

TEST_F(DmaBufTest, DmaBufFdOnAFullTableIsEmfileAndTheCallerKeepsItsReference) {
  TestBuffer* buf = NewBuffer(1);
  struct dma_buf* dmabuf = Export(buf);
  ASSERT_THAT(dmabuf, NotNull());
  task_->files->max_fds = 0;
  EXPECT_THAT(dma_buf_fd(dmabuf, static_cast<int>(O_CLOEXEC)), IsErrno(EMFILE));
  task_->files->max_fds = NR_OPEN_DEFAULT_LIMIT;
  EXPECT_EQ(dmabuf->file->f_count.load(), 1);
  EXPECT_EQ(buf->released, 0);
  dma_buf_put(dmabuf);
  task_work_run();  // the last fput() releases on the way back to userspace
  EXPECT_EQ(buf->released, 1);
}

TEST_F(DmaBufTest, DmaBufGetOfAnFdThatIsNotOpenIsEbadf) {
  TestBuffer* buf = NewBuffer(1);
  const int fd = ExportFd(buf);
  ASSERT_GE(fd, 0);
  ASSERT_THAT(sys_close(static_cast<unsigned int>(fd)), IsOk());
  EXPECT_EQ(buf->released, 1);
  EXPECT_THAT(dma_buf_get(fd), IsErrno(EBADF));
  EXPECT_THAT(dma_buf_get(-1), IsErrno(EBADF));
  EXPECT_THAT(dma_buf_get(100000), IsErrno(EBADF));
}

TEST_F(DmaBufTest, DmaBufGetOfAFileThatIsNotADmaBufIsEinvalAndDropsTheReferenceItTook) {
  ErrnoOr<struct file*> other = anon_inode_getfile("importer", &kImporterFops, nullptr, O_RDWR);
  ASSERT_THAT(other, IsOk());
  ErrnoOr<int> fd = get_unused_fd_flags(0);
  ASSERT_THAT(fd, IsOk());
  fd_install(static_cast<unsigned int>(*fd), *other);
  EXPECT_FALSE(is_dma_buf_file(*other));

  EXPECT_THAT(dma_buf_get(*fd), IsErrno(EINVAL));
  EXPECT_EQ((*other)->f_count.load(), 1);
  EXPECT_EQ(g_importer_releases.load(), 0);
  EXPECT_THAT(sys_close(static_cast<unsigned int>(*fd)), IsOk());
  EXPECT_EQ(g_importer_releases.load(), 1);
}

TEST_F(DmaBufTest, DmaBufPutOfNullWarnsAndDoesNothing) {
  set_bug_printing(false);
  dma_buf_put(nullptr);
  set_bug_printing(true);
  ASSERT_EQ(bug_event_count(BugKind::kWarn), 1u);
  EXPECT_THAT(bug_events()[0].message, HasSubstr("WARN_ON"));
  clear_bug_events();
}

// ---- mmap and llseek of the file -----------------------------------------------------------------------------

TEST_F(DmaBufTest, MmapBeyondTheBufferIsEinvalBeforeTheExporterSeesIt) {
  // A 2-page buffer: [page 0][page 1]. pgoff + pages must stay <= 2.
  // Expect 3 pages at 0 and 2 pages at 1 to fail without calling ops->mmap, and 1 page at 1 to map page 1.
  TestBuffer* buf = NewBuffer(2);
  const int fd = ExportFd(buf);
  ASSERT_GE(fd, 0);
  EXPECT_THAT(Mmap(fd, 3 * PAGE_SIZE, 0), IsErrno(EINVAL));
  EXPECT_THAT(Mmap(fd, 2 * PAGE_SIZE, PAGE_SIZE), IsErrno(EINVAL));
  EXPECT_THAT(Mmap(fd, PAGE_SIZE, 2 * PAGE_SIZE), IsErrno(EINVAL));
  EXPECT_EQ(buf->mmap_calls, 0);

  ErrnoOr<unsigned long> addr = Mmap(fd, PAGE_SIZE, PAGE_SIZE);
  ASSERT_THAT(addr, IsOk());
  EXPECT_EQ(buf->mmap_calls, 1);
  EXPECT_EQ(UserByte(*addr), 'B');
  ASSERT_THAT(sys_munmap(*addr, PAGE_SIZE), IsOk());

  // The failed mmaps kept no reference: closing the fd is the last one.
  ASSERT_THAT(sys_close(static_cast<unsigned int>(fd)), IsOk());
  EXPECT_EQ(buf->released, 1);
}

TEST_F(DmaBufTest, AFailingExporterMmapFailsTheSyscallAndKeepsNoReference) {
  TestBuffer* buf = NewBuffer(1);
  struct dma_buf* dmabuf = nullptr;
  const int fd = ExportFd(buf, &dmabuf);
  ASSERT_GE(fd, 0);
  buf->mmap_ret = -ENOMEM;
  EXPECT_THAT(Mmap(fd, PAGE_SIZE, 0), IsErrno(ENOMEM));
  EXPECT_EQ(dmabuf->file->f_count.load(), 1);
  ASSERT_THAT(sys_close(static_cast<unsigned int>(fd)), IsOk());
  EXPECT_EQ(buf->released, 1);
}

TEST_F(DmaBufTest, LlseekOnlyFindsTheSizeWithSeekEndOrRewindsWithSeekSet) {
  TestBuffer* buf = NewBuffer(3);
  const int fd = ExportFd(buf);
  ASSERT_GE(fd, 0);
  const unsigned int ufd = static_cast<unsigned int>(fd);
  EXPECT_THAT(sys_lseek(ufd, 0, SEEK_END), IsOkAndHolds(static_cast<loff_t>(3 * PAGE_SIZE)));
  EXPECT_THAT(sys_lseek(ufd, 0, SEEK_SET), IsOkAndHolds(0));
  EXPECT_THAT(sys_lseek(ufd, 0, SEEK_CUR), IsErrno(EINVAL));
  EXPECT_THAT(sys_lseek(ufd, 1, SEEK_END), IsErrno(EINVAL));
  EXPECT_THAT(sys_lseek(ufd, -1, SEEK_END), IsErrno(EINVAL));
  EXPECT_THAT(sys_lseek(ufd, static_cast<loff_t>(PAGE_SIZE), SEEK_SET), IsErrno(EINVAL));
}

// ---- DMA_BUF_IOCTL_SYNC --------------------------------------------------------------------------------------

TEST_F(DmaBufTest, SyncCallsBeginOrEndWithTheDirectionOfItsReadWriteBits) {
  TestBuffer* buf = NewBuffer(1);
  const int fd = ExportFd(buf);
  ASSERT_GE(fd, 0);
  EXPECT_THAT(Sync(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ), IsOkAndHolds(0));
  EXPECT_THAT(Sync(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE), IsOkAndHolds(0));
  EXPECT_THAT(Sync(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW), IsOkAndHolds(0));
  EXPECT_THAT(Sync(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ), IsOkAndHolds(0));
  EXPECT_THAT(Sync(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE), IsOkAndHolds(0));
  EXPECT_THAT(Sync(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW), IsOkAndHolds(0));
  EXPECT_THAT(buf->cpu_calls, ElementsAre(Pair('B', DMA_FROM_DEVICE), Pair('B', DMA_TO_DEVICE),
                                          Pair('B', DMA_BIDIRECTIONAL), Pair('E', DMA_FROM_DEVICE),
                                          Pair('E', DMA_TO_DEVICE), Pair('E', DMA_BIDIRECTIONAL)));
}

TEST_F(DmaBufTest, SyncStartAndEndAreNotPaired) {
  // END with no START before it, START twice in a row, END twice: every call reaches the exporter, none fails.
  TestBuffer* buf = NewBuffer(1);
  const int fd = ExportFd(buf);
  ASSERT_GE(fd, 0);
  EXPECT_THAT(Sync(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW), IsOkAndHolds(0));
  EXPECT_THAT(Sync(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ), IsOkAndHolds(0));
  EXPECT_THAT(Sync(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ), IsOkAndHolds(0));
  EXPECT_THAT(Sync(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE), IsOkAndHolds(0));
  EXPECT_THAT(Sync(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE), IsOkAndHolds(0));
  EXPECT_THAT(buf->cpu_calls,
              ElementsAre(Pair('E', DMA_BIDIRECTIONAL), Pair('B', DMA_FROM_DEVICE), Pair('B', DMA_FROM_DEVICE),
                          Pair('E', DMA_TO_DEVICE), Pair('E', DMA_TO_DEVICE)));
  EXPECT_EQ(bug_event_count(), 0u);
}

TEST_F(DmaBufTest, SyncWithUnknownFlagsOrNoDirectionIsEinvalAndCallsNothing) {
  TestBuffer* buf = NewBuffer(1);
  const int fd = ExportFd(buf);
  ASSERT_GE(fd, 0);
  EXPECT_THAT(Sync(fd, DMA_BUF_SYNC_RW | (1u << 3)), IsErrno(EINVAL));
  EXPECT_THAT(Sync(fd, DMA_BUF_SYNC_READ | (uint64_t{1} << 63)), IsErrno(EINVAL));
  EXPECT_THAT(Sync(fd, DMA_BUF_SYNC_START), IsErrno(EINVAL));
  EXPECT_THAT(Sync(fd, DMA_BUF_SYNC_END), IsErrno(EINVAL));
  EXPECT_THAT(buf->cpu_calls, IsEmpty());
}

TEST_F(DmaBufTest, SyncFromAnUnreadableUserAddressIsEfault) {
  TestBuffer* buf = NewBuffer(1);
  const int fd = ExportFd(buf);
  ASSERT_GE(fd, 0);
  const unsigned int ufd = static_cast<unsigned int>(fd);
  EXPECT_THAT(sys_ioctl(ufd, DMA_BUF_IOCTL_SYNC, 0), IsErrno(EFAULT));
  EXPECT_THAT(sys_ioctl(ufd, DMA_BUF_IOCTL_SYNC, TASK_SIZE - 4), IsErrno(EFAULT));

  // The struct straddles the end of a mapping: its second half is unmapped.
  ErrnoOr<unsigned long> two = sys_mmap(0, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_THAT(two, IsOk());
  ASSERT_THAT(sys_munmap(*two + PAGE_SIZE, PAGE_SIZE), IsOk());
  const uint32_t valid_half = static_cast<uint32_t>(DMA_BUF_SYNC_RW);
  ASSERT_THAT(user_write(task_->mm, *two + PAGE_SIZE - 4, &valid_half, sizeof(valid_half)), IsOk());
  EXPECT_THAT(sys_ioctl(ufd, DMA_BUF_IOCTL_SYNC, *two + PAGE_SIZE - 4), IsErrno(EFAULT));

  // A mapping without PROT_READ cannot be read by copy_from_user.
  ErrnoOr<unsigned long> none = sys_mmap(0, PAGE_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_THAT(none, IsOk());
  EXPECT_THAT(sys_ioctl(ufd, DMA_BUF_IOCTL_SYNC, *none), IsErrno(EFAULT));
  EXPECT_THAT(buf->cpu_calls, IsEmpty());
}

TEST_F(DmaBufTest, AnIoctlOtherThanSyncIsEnotty) {
  TestBuffer* buf = NewBuffer(1);
  const int fd = ExportFd(buf);
  ASSERT_GE(fd, 0);
  const unsigned int ufd = static_cast<unsigned int>(fd);
  EXPECT_THAT(sys_ioctl(ufd, DMA_BUF_IOCTL_SYNC + 1, user_page_), IsErrno(ENOTTY));
  EXPECT_THAT(sys_ioctl(ufd, 0x40046200, user_page_), IsErrno(ENOTTY));  // _IOW('b', 0, __u32)
  EXPECT_THAT(sys_ioctl(ufd, 0, 0), IsErrno(ENOTTY));
  EXPECT_THAT(buf->cpu_calls, IsEmpty());
}

TEST_F(DmaBufTest, SyncReturnsTheExportersError) {
  TestBuffer* buf = NewBuffer(1);
  const int fd = ExportFd(buf);
  ASSERT_GE(fd, 0);
  buf->cpu_access_ret = -EIO;
  EXPECT_THAT(Sync(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW), IsErrno(EIO));
  EXPECT_THAT(Sync(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW), IsErrno(EIO));
  EXPECT_EQ(buf->cpu_calls.size(), 2u);
}

TEST_F(DmaBufTest, CpuAccessWithoutTheExporterOpsSucceeds) {
  TestBuffer* buf = NewBuffer(1);
  struct dma_buf* dmabuf = Export(buf, &kMandatoryOnlyOps);
  ASSERT_THAT(dmabuf, NotNull());
  EXPECT_THAT(dma_buf_begin_cpu_access(dmabuf, DMA_TO_DEVICE), IsOk());
  EXPECT_THAT(dma_buf_end_cpu_access(dmabuf, DMA_TO_DEVICE), IsOk());
  dma_buf_put(dmabuf);
}

TEST_F(DmaBufTest, BeginCpuAccessOfNullIsEinvalWithAWarn) {
  set_bug_printing(false);
  EXPECT_THAT(dma_buf_begin_cpu_access(nullptr, DMA_TO_DEVICE), IsErrno(EINVAL));
  set_bug_printing(true);
  EXPECT_EQ(bug_event_count(BugKind::kWarn), 1u);
  clear_bug_events();
}

TEST_F(DmaBufTest, EndCpuAccessOfNullWarnsThenOopses) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(dma_buf_end_cpu_access(nullptr, DMA_TO_DEVICE).IgnoreError(), "NULL pointer dereference");
}

// ---- Attachments ---------------------------------------------------------------------------------------------

TEST_F(DmaBufTest, AttachMapUnmapDetachReachTheExporterAndTheDevice) {
  TestBuffer* buf = NewBuffer(3);
  struct dma_buf* dmabuf = Export(buf);
  ASSERT_THAT(dmabuf, NotNull());
  struct device dev;
  dev.name = "test-dev";

  ErrnoOr<struct dma_buf_attachment*> attach = dma_buf_attach(dmabuf, &dev);
  ASSERT_THAT(attach, IsOk());
  EXPECT_EQ((*attach)->dmabuf, dmabuf);
  EXPECT_EQ((*attach)->dev, &dev);
  EXPECT_EQ(buf->attach_calls, 1);
  EXPECT_EQ(AttachmentCount(dmabuf), 1u);

  ErrnoOr<struct sg_table*> table = dma_buf_map_attachment(*attach, DMA_BIDIRECTIONAL);
  ASSERT_THAT(table, IsOk());
  EXPECT_EQ(dev.nr_map_sg.load(), 1);
  struct scatterlist* sg;
  unsigned int i;
  for_each_sg((*table)->sgl, sg, (*table)->nents, i) {
    EXPECT_EQ(sg_dma_address(sg), page_to_phys(buf->pages[i])) << "entry " << i;
    EXPECT_EQ(sg_dma_len(sg), PAGE_SIZE) << "entry " << i;
  }
  EXPECT_EQ(i, 3u);

  dma_buf_unmap_attachment(*attach, *table, DMA_BIDIRECTIONAL);
  EXPECT_EQ(buf->unmap_calls, 1);
  EXPECT_EQ(dev.nr_unmap_sg.load(), 1);

  dma_buf_detach(dmabuf, *attach);
  EXPECT_EQ(buf->detach_calls, 1);
  EXPECT_EQ(AttachmentCount(dmabuf), 0u);
  dma_buf_put(dmabuf);
  task_work_run();  // the last fput() releases on the way back to userspace
  EXPECT_EQ(buf->released, 1);
}

TEST_F(DmaBufTest, TwoDevicesAttachIndependently) {
  TestBuffer* buf = NewBuffer(1);
  struct dma_buf* dmabuf = Export(buf);
  ASSERT_THAT(dmabuf, NotNull());
  struct device a;
  struct device b;
  ErrnoOr<struct dma_buf_attachment*> at_a = dma_buf_attach(dmabuf, &a);
  ErrnoOr<struct dma_buf_attachment*> at_b = dma_buf_attach(dmabuf, &b);
  ASSERT_THAT(at_a, IsOk());
  ASSERT_THAT(at_b, IsOk());
  EXPECT_EQ(AttachmentCount(dmabuf), 2u);
  ErrnoOr<struct sg_table*> table = dma_buf_map_attachment(*at_b, DMA_TO_DEVICE);
  ASSERT_THAT(table, IsOk());
  EXPECT_EQ(a.nr_map_sg.load(), 0);
  EXPECT_EQ(b.nr_map_sg.load(), 1);
  dma_buf_unmap_attachment(*at_b, *table, DMA_TO_DEVICE);
  dma_buf_detach(dmabuf, *at_a);
  EXPECT_EQ(AttachmentCount(dmabuf), 1u);
  dma_buf_detach(dmabuf, *at_b);
  dma_buf_put(dmabuf);
}

TEST_F(DmaBufTest, AnExporterAttachErrorIsReturnedAndNothingStaysAttached) {
  TestBuffer* buf = NewBuffer(1);
  struct dma_buf* dmabuf = Export(buf);
  ASSERT_THAT(dmabuf, NotNull());
  struct device dev;
  buf->attach_ret = -ENODEV;
  EXPECT_THAT(dma_buf_attach(dmabuf, &dev), IsErrno(ENODEV));
  EXPECT_EQ(buf->attach_calls, 1);
  EXPECT_EQ(AttachmentCount(dmabuf), 0u);
  dma_buf_put(dmabuf);
}

TEST_F(DmaBufTest, AttachWithoutADeviceIsEinvalWithAWarn) {
  TestBuffer* buf = NewBuffer(1);
  struct dma_buf* dmabuf = Export(buf);
  ASSERT_THAT(dmabuf, NotNull());
  set_bug_printing(false);
  EXPECT_THAT(dma_buf_attach(dmabuf, nullptr), IsErrno(EINVAL));
  set_bug_printing(true);
  EXPECT_EQ(bug_event_count(BugKind::kWarn), 1u);
  clear_bug_events();
  EXPECT_EQ(buf->attach_calls, 0);
  dma_buf_put(dmabuf);
}

TEST_F(DmaBufTest, AttachWithoutExporterAttachOrDetachStillTracksTheAttachment) {
  TestBuffer* buf = NewBuffer(1);
  struct dma_buf* dmabuf = Export(buf, &kMandatoryOnlyOps);
  ASSERT_THAT(dmabuf, NotNull());
  struct device dev;
  ErrnoOr<struct dma_buf_attachment*> attach = dma_buf_attach(dmabuf, &dev);
  ASSERT_THAT(attach, IsOk());
  EXPECT_EQ(AttachmentCount(dmabuf), 1u);
  dma_buf_detach(dmabuf, *attach);
  EXPECT_EQ(AttachmentCount(dmabuf), 0u);
  dma_buf_put(dmabuf);
}

TEST_F(DmaBufTest, AnExporterMapReturningNullIsEnomem) {
  TestBuffer* buf = NewBuffer(1);
  struct dma_buf* dmabuf = Export(buf);
  ASSERT_THAT(dmabuf, NotNull());
  struct device dev;
  ErrnoOr<struct dma_buf_attachment*> attach = dma_buf_attach(dmabuf, &dev);
  ASSERT_THAT(attach, IsOk());
  buf->map_returns_null = true;
  EXPECT_THAT(dma_buf_map_attachment(*attach, DMA_FROM_DEVICE), IsErrno(ENOMEM));
  EXPECT_EQ(buf->map_calls, 1);
  dma_buf_detach(dmabuf, *attach);
  dma_buf_put(dmabuf);
}

TEST_F(DmaBufTest, NullAttachmentArgumentsWarnAndAreRefused) {
  TestBuffer* buf = NewBuffer(1);
  struct dma_buf* dmabuf = Export(buf);
  ASSERT_THAT(dmabuf, NotNull());
  struct device dev;
  ErrnoOr<struct dma_buf_attachment*> attach = dma_buf_attach(dmabuf, &dev);
  ASSERT_THAT(attach, IsOk());

  set_bug_printing(false);
  EXPECT_THAT(dma_buf_map_attachment(nullptr, DMA_TO_DEVICE), IsErrno(EINVAL));
  dma_buf_unmap_attachment(*attach, nullptr, DMA_TO_DEVICE);
  dma_buf_detach(dmabuf, nullptr);
  set_bug_printing(true);
  EXPECT_EQ(bug_event_count(BugKind::kWarn), 3u);
  clear_bug_events();
  EXPECT_EQ(buf->map_calls, 0);
  EXPECT_EQ(buf->unmap_calls, 0);
  EXPECT_EQ(buf->detach_calls, 0);

  dma_buf_detach(dmabuf, *attach);
  dma_buf_put(dmabuf);
}

// ---- Kernel mappings: kmap, vmap, dma_buf_mmap ---------------------------------------------------------------

TEST_F(DmaBufTest, KmapPassesThePageNumberToTheExporterUnchecked) {
  TestBuffer* buf = NewBuffer(2);
  struct dma_buf* dmabuf = Export(buf);
  ASSERT_THAT(dmabuf, NotNull());
  void* vaddr = dma_buf_kmap(dmabuf, 1);
  ASSERT_THAT(vaddr, NotNull());
  char c = 0;
  ASSERT_THAT(kva_read(vaddr, &c, 1), IsOk());
  EXPECT_EQ(c, 'B');
  dma_buf_kunmap(dmabuf, 1, vaddr);

  // Page 5 of a 2-page buffer reaches the exporter, whose own check refuses it.
  EXPECT_THAT(dma_buf_kmap(dmabuf, 5), IsNull());
  EXPECT_THAT(buf->kmap_pages, ElementsAre(1u, 5u));
  dma_buf_put(dmabuf);
}

TEST_F(DmaBufTest, VmapIsCountedAndTheExporterMapsAndUnmapsOnce) {
  TestBuffer* buf = NewBuffer(2);
  struct dma_buf* dmabuf = Export(buf);
  ASSERT_THAT(dmabuf, NotNull());
  const size_t vmaps_at_start = vmap_area_count();

  void* first = dma_buf_vmap(dmabuf);
  ASSERT_THAT(first, NotNull());
  void* second = dma_buf_vmap(dmabuf);
  EXPECT_EQ(second, first);
  EXPECT_EQ(buf->vmap_calls, 1);
  EXPECT_EQ(vmap_area_count(), vmaps_at_start + 1);
  char c = 0;
  ASSERT_THAT(kva_read(static_cast<char*>(first) + PAGE_SIZE, &c, 1), IsOk());
  EXPECT_EQ(c, 'B');

  dma_buf_vunmap(dmabuf, first);
  EXPECT_EQ(buf->vunmap_calls, 0);
  dma_buf_vunmap(dmabuf, second);
  EXPECT_EQ(buf->vunmap_calls, 1);
  EXPECT_EQ(vmap_area_count(), vmaps_at_start);

  // A new vmap after the last vunmap asks the exporter again.
  void* third = dma_buf_vmap(dmabuf);
  ASSERT_THAT(third, NotNull());
  EXPECT_EQ(buf->vmap_calls, 2);
  dma_buf_vunmap(dmabuf, third);
  dma_buf_put(dmabuf);
  task_work_run();  // the last fput() releases on the way back to userspace
  EXPECT_EQ(buf->released, 1);
}

TEST_F(DmaBufTest, VmapIsNullWithoutTheOpOrWhenTheExporterFails) {
  TestBuffer* plain = NewBuffer(1);
  struct dma_buf* no_op = Export(plain, &kMandatoryOnlyOps);
  ASSERT_THAT(no_op, NotNull());
  EXPECT_THAT(dma_buf_vmap(no_op), IsNull());
  dma_buf_put(no_op);

  TestBuffer* buf = NewBuffer(1);
  struct dma_buf* dmabuf = Export(buf);
  ASSERT_THAT(dmabuf, NotNull());
  buf->vmap_fails = true;
  EXPECT_THAT(dma_buf_vmap(dmabuf), IsNull());
  EXPECT_THAT(dma_buf_vmap(dmabuf), IsNull());
  EXPECT_EQ(buf->vmap_calls, 2);  // a failure is not counted as a mapping
  // Release with no mapping left is not a BUG.
  dma_buf_put(dmabuf);
  task_work_run();  // the last fput() releases on the way back to userspace
  EXPECT_EQ(buf->released, 1);
}

TEST_F(DmaBufTest, VunmapOfAnAddressThatIsNotTheMappingIsABug) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  TestBuffer* buf = NewBuffer(1);
  struct dma_buf* dmabuf = Export(buf);
  ASSERT_THAT(dmabuf, NotNull());
  EXPECT_DEATH(dma_buf_vunmap(dmabuf, nullptr), "kernel BUG");  // nothing is mapped
  void* vaddr = dma_buf_vmap(dmabuf);
  ASSERT_THAT(vaddr, NotNull());
  EXPECT_DEATH(dma_buf_vunmap(dmabuf, static_cast<char*>(vaddr) + PAGE_SIZE), "kernel BUG");
  dma_buf_vunmap(dmabuf, vaddr);
  dma_buf_put(dmabuf);
}

TEST_F(DmaBufTest, ReleasingADmaBufThatIsStillVmappedIsABug) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  TestBuffer* buf = NewBuffer(1);
  struct dma_buf* dmabuf = Export(buf);
  ASSERT_THAT(dmabuf, NotNull());
  void* vaddr = dma_buf_vmap(dmabuf);
  ASSERT_THAT(vaddr, NotNull());
  EXPECT_DEATH(
      {
        dma_buf_put(dmabuf);
        task_work_run();
      },
      "kernel BUG");
  dma_buf_vunmap(dmabuf, vaddr);
  dma_buf_put(dmabuf);
}

TEST_F(DmaBufTest, DmaBufMmapMovesTheVmaFromTheImportersFileToTheDmaBufs) {
  // importer fd --mmap--> importer_mmap --dma_buf_mmap--> vma->vm_file = the dma-buf's file.
  // Expect the importer's file to be released as soon as its fd closes (the vma no longer holds it), and the
  // dma-buf to live on until the mapping goes.
  TestBuffer* buf = NewBuffer(2);
  struct dma_buf* dmabuf = nullptr;
  const int dmabuf_fd = ExportFd(buf, &dmabuf);
  ASSERT_GE(dmabuf_fd, 0);
  ErrnoOr<struct file*> importer = anon_inode_getfile("importer", &kImporterFops, dmabuf, O_RDWR);
  ASSERT_THAT(importer, IsOk());
  ErrnoOr<int> importer_fd = get_unused_fd_flags(0);
  ASSERT_THAT(importer_fd, IsOk());
  fd_install(static_cast<unsigned int>(*importer_fd), *importer);

  ErrnoOr<unsigned long> addr = Mmap(*importer_fd, 2 * PAGE_SIZE, 0);
  ASSERT_THAT(addr, IsOk());
  EXPECT_EQ((*importer)->f_count.load(), 1);
  EXPECT_EQ(dmabuf->file->f_count.load(), 2);
  EXPECT_EQ(UserByte(*addr + PAGE_SIZE), 'B');

  ASSERT_THAT(sys_close(static_cast<unsigned int>(*importer_fd)), IsOk());
  EXPECT_EQ(g_importer_releases.load(), 1);
  ASSERT_THAT(sys_close(static_cast<unsigned int>(dmabuf_fd)), IsOk());
  EXPECT_EQ(buf->released, 0);
  ASSERT_THAT(sys_munmap(*addr, 2 * PAGE_SIZE), IsOk());
  EXPECT_EQ(buf->released, 1);
}

TEST_F(DmaBufTest, AFailedDmaBufMmapLeavesTheVmaOnTheImportersFile) {
  TestBuffer* buf = NewBuffer(1);
  struct dma_buf* dmabuf = nullptr;
  const int dmabuf_fd = ExportFd(buf, &dmabuf);
  ASSERT_GE(dmabuf_fd, 0);
  ErrnoOr<struct file*> importer = anon_inode_getfile("importer", &kImporterFops, dmabuf, O_RDWR);
  ASSERT_THAT(importer, IsOk());
  ErrnoOr<int> importer_fd = get_unused_fd_flags(0);
  ASSERT_THAT(importer_fd, IsOk());
  fd_install(static_cast<unsigned int>(*importer_fd), *importer);

  // Too long for the 1-page buffer, then the exporter's own failure.
  EXPECT_THAT(Mmap(*importer_fd, 2 * PAGE_SIZE, 0), IsErrno(EINVAL));
  buf->mmap_ret = -EAGAIN;
  EXPECT_THAT(Mmap(*importer_fd, PAGE_SIZE, 0), IsErrno(EAGAIN));
  EXPECT_EQ(buf->mmap_calls, 1);
  EXPECT_EQ((*importer)->f_count.load(), 1);
  EXPECT_EQ(dmabuf->file->f_count.load(), 1);

  ASSERT_THAT(sys_close(static_cast<unsigned int>(*importer_fd)), IsOk());
  EXPECT_EQ(g_importer_releases.load(), 1);
  ASSERT_THAT(sys_close(static_cast<unsigned int>(dmabuf_fd)), IsOk());
  EXPECT_EQ(buf->released, 1);
}

TEST_F(DmaBufTest, DmaBufMmapChecksOverflowThenSizeBeforeTouchingTheVma) {
  TestBuffer* buf = NewBuffer(2);
  struct dma_buf* dmabuf = Export(buf);
  ASSERT_THAT(dmabuf, NotNull());
  struct vm_area_struct vma{};
  vma.vm_start = TASK_UNMAPPED_BASE;
  vma.vm_end = TASK_UNMAPPED_BASE + 2 * PAGE_SIZE;
  vma.vm_pgoff = 7;

  EXPECT_THAT(dma_buf_mmap(dmabuf, &vma, ULONG_MAX), IsErrno(EOVERFLOW));
  EXPECT_THAT(dma_buf_mmap(dmabuf, &vma, ULONG_MAX - 1), IsErrno(EOVERFLOW));
  EXPECT_THAT(dma_buf_mmap(dmabuf, &vma, 1), IsErrno(EINVAL));
  EXPECT_EQ(vma.vm_file, nullptr);
  EXPECT_EQ(vma.vm_pgoff, 7u);
  EXPECT_EQ(buf->mmap_calls, 0);
  EXPECT_EQ(dmabuf->file->f_count.load(), 1);

  set_bug_printing(false);
  EXPECT_THAT(dma_buf_mmap(dmabuf, nullptr, 0), IsErrno(EINVAL));
  EXPECT_THAT(dma_buf_mmap(nullptr, &vma, 0), IsErrno(EINVAL));
  set_bug_printing(true);
  EXPECT_EQ(bug_event_count(BugKind::kWarn), 2u);
  clear_bug_events();
  dma_buf_put(dmabuf);
}

// ---- The streaming DMA API -----------------------------------------------------------------------------------

class DmaMappingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    phys_mem_config config;
    config.ram_base = kRamBase;
    config.ram_size = 16 * PAGE_SIZE;
    config.lowmem_size = 16 * PAGE_SIZE;
    mem_ = phys_mem_create(config);
    ASSERT_THAT(mem_, NotNull());
  }
  void TearDown() override {
    if (mem_ != nullptr) {
      EXPECT_EQ(phys_mem_destroy(mem_), 0u);
    }
  }
  struct phys_mem* mem_ = nullptr;
};

TEST_F(DmaMappingTest, MapSgGivesEachEntryItsPhysicalAddressAndLength) {
  struct page* pages = alloc_pages(mem_, GFP_KERNEL, 2);
  ASSERT_THAT(pages, NotNull());
  struct sg_table table{};
  ASSERT_THAT(sg_alloc_table(&table, 2, GFP_KERNEL), IsOk());
  sg_set_page(&table.sgl[0], pages, 100, 0x10);
  sg_set_page(&table.sgl[1], pages + 2, 2 * PAGE_SIZE, 0);
  struct device dev;

  EXPECT_EQ(dma_map_sg(&dev, table.sgl, 2, DMA_TO_DEVICE), 2);
  EXPECT_EQ(sg_dma_address(&table.sgl[0]), page_to_phys(pages) + 0x10);
  EXPECT_EQ(sg_dma_len(&table.sgl[0]), 100u);
  EXPECT_EQ(sg_dma_address(&table.sgl[1]), kRamBase + 2 * PAGE_SIZE);
  EXPECT_EQ(sg_dma_len(&table.sgl[1]), 2 * PAGE_SIZE);
  EXPECT_EQ(dev.nr_map_sg.load(), 1);

  dma_unmap_sg(&dev, table.sgl, 2, DMA_TO_DEVICE);
  EXPECT_EQ(dev.nr_unmap_sg.load(), 1);
  EXPECT_EQ(dev.nr_sync_for_device.load(), 0);
  sg_free_table(&table);
  __free_pages(pages, 2);
}

TEST_F(DmaMappingTest, SyncsCountOnTheirDeviceAndNullDeviceSyncsCountGlobally) {
  struct page* page = alloc_page(mem_, GFP_KERNEL);
  ASSERT_THAT(page, NotNull());
  struct sg_table table{};
  ASSERT_THAT(sg_alloc_table(&table, 1, GFP_KERNEL), IsOk());
  sg_set_page(table.sgl, page, PAGE_SIZE, 0);
  struct device dev;
  const long null_at_start = dma_null_device_sync_count();

  dma_sync_sg_for_device(&dev, table.sgl, 1, DMA_BIDIRECTIONAL);
  dma_sync_sg_for_device(&dev, table.sgl, 1, DMA_TO_DEVICE);
  dma_sync_sg_for_cpu(&dev, table.sgl, 1, DMA_FROM_DEVICE);
  EXPECT_EQ(dev.nr_sync_for_device.load(), 2);
  EXPECT_EQ(dev.nr_sync_for_cpu.load(), 1);
  EXPECT_EQ(dma_null_device_sync_count(), null_at_start);

  dma_sync_sg_for_device(nullptr, table.sgl, 1, DMA_BIDIRECTIONAL);
  dma_sync_sg_for_cpu(nullptr, table.sgl, 1, DMA_BIDIRECTIONAL);
  EXPECT_EQ(dma_null_device_sync_count(), null_at_start + 2);
  EXPECT_EQ(dev.nr_sync_for_device.load(), 2);
  EXPECT_EQ(dev.nr_sync_for_cpu.load(), 1);

  sg_free_table(&table);
  __free_page(page);
}

TEST_F(DmaMappingTest, DmaNoneIsNotAValidDirection) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  struct page* page = alloc_page(mem_, GFP_KERNEL);
  ASSERT_THAT(page, NotNull());
  struct sg_table table{};
  ASSERT_THAT(sg_alloc_table(&table, 1, GFP_KERNEL), IsOk());
  sg_set_page(table.sgl, page, PAGE_SIZE, 0);
  struct device dev;
  EXPECT_DEATH(dma_map_sg(&dev, table.sgl, 1, DMA_NONE), "kernel BUG");
  EXPECT_DEATH(dma_sync_sg_for_cpu(nullptr, table.sgl, 1, DMA_NONE), "kernel BUG");
  EXPECT_EQ(dev.nr_map_sg.load(), 0);
  sg_free_table(&table);
  __free_page(page);
}

}  // namespace
}  // namespace ionsim::kernel
