// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Tests of debugfs and seq_file (fs/debugfs @ v4.4 with v4.7's removal protection, fs/seq_file.c @ v4.4): the
// tree and its path walk, single_open() files rendered once per open file and read from the file position,
// lseek re-rendering, short copies, reads and writes from a task through sys_open()/sys_read() and from a kernel
// context through debugfs_read_file()/debugfs_write_file(), and files removed while open (-EIO, the driver's
// release still runs, the entry is freed with the last file). Every test builds under its own directory "t".
#include "model/kernel/debugfs.h"

#include <sys/stat.h>

#include <atomic>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>
#include <typeinfo>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/kernel/bug.h"
#include "model/kernel/fs.h"
#include "model/kernel/mm.h"
#include "model/kernel/mm_user.h"
#include "model/kernel/sched.h"
#include "model/kernel/seq_file.h"
#include "model/kernel/slab.h"
#include "tests/testing/errno_matchers.h"

namespace ionsim::kernel {
namespace {

using ::ionsim::testing::IsErrno;
using ::ionsim::testing::IsOk;
using ::ionsim::testing::IsOkAndHolds;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::IsNull;
using ::testing::Not;
using ::testing::NotNull;

constexpr phys_addr_t kRamBase = 0x80000000UL;
constexpr unsigned long kRamPages = 64;

// The data behind a test file: what show() prints and returns, and what the driver saw.
struct FileData {
  std::string text;
  int show_ret = 0;
  std::atomic<int> show_calls = 0;
  std::atomic<void*> last_v = nullptr;
  int open_ret = 0;
  std::atomic<int> opens = 0;
  std::atomic<int> releases = 0;
  std::atomic<int> ioctls = 0;
  std::string written;
};

int data_show(struct seq_file* s, void* v) {
  FileData* data = static_cast<FileData*>(s->private_);
  data->show_calls++;
  data->last_v = v;
  seq_puts(s, data->text.c_str());
  return data->show_ret;
}

int data_open(struct inode* inode, struct file* file) {
  FileData* data = static_cast<FileData*>(inode->i_private);
  data->opens++;
  if (data->open_ret != 0) return data->open_ret;
  return single_open(file, data_show, data);
}

int data_release(struct inode* inode, struct file* file) {
  static_cast<FileData*>(inode->i_private)->releases++;
  return single_release(inode, file);
}

ssize_t data_write(struct file* file, user_ptr_t buf, size_t count, loff_t* pos) {
  FileData* data = static_cast<FileData*>(file_inode(file)->i_private);
  std::string chunk(count, '\0');
  if (copy_from_user(chunk.data(), buf, count) != 0) return -EFAULT;
  data->written += chunk;
  *pos += static_cast<loff_t>(count);
  return static_cast<ssize_t>(count);
}

long data_ioctl(struct file* file, unsigned int /*cmd*/, unsigned long /*arg*/) {
  static_cast<FileData*>(file_inode(file)->i_private)->ioctls++;
  return 0;
}

// A read-only seq file, as ION's heap and client files are.
const struct file_operations kSeqFops = {
    .read = seq_read,
    .llseek = seq_lseek,
    .open = data_open,
    .release = data_release,
};

// A seq file that also takes writes and ioctls.
const struct file_operations kRwFops = {
    .read = seq_read,
    .write = data_write,
    .llseek = seq_lseek,
    .unlocked_ioctl = data_ioctl,
    .open = data_open,
    .release = data_release,
};

std::vector<std::string> WarnMessages() {
  std::vector<std::string> out;
  for (const BugEvent& e : bug_events()) {
    if (e.kind == BugKind::kWarn) out.push_back(e.message);
  }
  return out;
}

class DebugfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    phys_mem_config config;
    config.ram_base = kRamBase;
    config.ram_size = kRamPages * PAGE_SIZE;
    config.lowmem_size = kRamPages * PAGE_SIZE;
    mem_ = phys_mem_create(config);
    ASSERT_THAT(mem_, NotNull());
    task_ = task_create("debugfs_test", mem_);
    ASSERT_THAT(task_, NotNull());
    scope_.emplace(task_);
    root_ = debugfs_create_dir("t", nullptr);
    ASSERT_THAT(root_, NotNull());
  }

  void TearDown() override {
    scope_.reset();
    task_free(task_);
    debugfs_remove_recursive(root_);
    EXPECT_THAT(*debugfs_list(""), Not(Contains("t")));
    if (mem_ != nullptr) {
      EXPECT_EQ(phys_mem_destroy(mem_), 0u);
    }
  }

  unsigned long MapUser(size_t len) {
    ErrnoOr<unsigned long> addr = sys_mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT_THAT(addr, IsOk());
    return addr.ok() ? *addr : 0;
  }

  std::string UserString(unsigned long addr, size_t len) {
    std::string out(len, '\0');
    EXPECT_THAT(user_read(task_->mm, addr, out.data(), len), IsOk());
    return out;
  }

  // Reads fd to the end in chunks of `chunk` bytes, through user memory.
  std::string ReadAll(unsigned int fd, size_t chunk) {
    const unsigned long user = MapUser(PAGE_ALIGN(chunk));
    std::string out;
    for (;;) {
      ErrnoOr<ssize_t> n = sys_read(fd, user, chunk);
      EXPECT_THAT(n, IsOk());
      if (!n.ok() || *n == 0) break;
      out += UserString(user, static_cast<size_t>(*n));
    }
    EXPECT_THAT(sys_munmap(user, PAGE_ALIGN(chunk)), IsOk());
    return out;
  }

  ErrnoOr<int> OpenDebug(const std::string& path, unsigned int flags) {
    return sys_open(("/sys/kernel/debug/" + path).c_str(), flags);
  }

  struct phys_mem* mem_ = nullptr;
  struct task_struct* task_ = nullptr;
  std::optional<current_task_scope> scope_;
  struct dentry* root_ = nullptr;
};

// ---- The tree ----------------------------------------------------------------------------------------------------

TEST_F(DebugfsTest, EntriesAreListedInCreationOrderAndFoundByPath) {
  // t/ion/heaps/system (a file), t/ion/clients/ (a directory): the layout ION builds.
  FileData data;
  struct dentry* ion = debugfs_create_dir("ion", root_);
  struct dentry* heaps = debugfs_create_dir("heaps", ion);
  struct dentry* clients = debugfs_create_dir("clients", ion);
  struct dentry* system = debugfs_create_file("system", 0444, heaps, &data, &kSeqFops);
  ASSERT_THAT(system, NotNull());
  EXPECT_THAT(debugfs_list("t/ion"), IsOkAndHolds(ElementsAre("heaps", "clients")));
  EXPECT_THAT(debugfs_list(""), IsOkAndHolds(Contains("t")));
  EXPECT_EQ(debugfs_lookup("t/ion/heaps/system"), system);
  EXPECT_EQ(debugfs_lookup("t/ion/clients"), clients);
  EXPECT_EQ(system->d_parent, heaps);
  EXPECT_THAT(root_->d_parent, IsNull()) << "a child of the debugfs root has no parent dentry";
  EXPECT_EQ(system->d_inode->i_private, &data);
  EXPECT_STREQ(system->d_inode->name, "/sys/kernel/debug/t/ion/heaps/system");
  EXPECT_EQ(system->mode, S_IFREG | 0444);
  EXPECT_EQ(ion->mode, S_IFDIR | 0755);
  EXPECT_FALSE(system->is_dir);
  EXPECT_TRUE(heaps->is_dir);
  EXPECT_EQ(system->fops, &kSeqFops);
}

TEST_F(DebugfsTest, LookupWalksPathsAsThePathWalkDoes) {
  struct dentry* a = debugfs_create_dir("a", root_);
  struct dentry* f = debugfs_create_file("f", 0444, a, nullptr, &kSeqFops);
  EXPECT_EQ(debugfs_lookup("/t//a/./f"), f);
  EXPECT_EQ(debugfs_lookup("t/a/../a/f"), f);
  EXPECT_EQ(debugfs_lookup("t/a/"), a);
  EXPECT_THAT(debugfs_lookup("t/a/f/"), IsNull()) << "a trailing slash needs a directory";
  EXPECT_THAT(debugfs_lookup("t/a/f/x"), IsNull());
  EXPECT_THAT(debugfs_lookup("t/b"), IsNull());
  EXPECT_THAT(debugfs_lookup(".."), IsNull());
  EXPECT_THAT(debugfs_lookup(""), IsNull()) << "the root itself is not a driver's dentry";
}

TEST_F(DebugfsTest, ExistingNameInTheSameDirectoryIsNullAndAnotherDirectoryMayReuseIt) {
  struct dentry* a = debugfs_create_dir("a", root_);
  struct dentry* b = debugfs_create_dir("b", root_);
  ASSERT_THAT(debugfs_create_file("x", 0444, a, nullptr, &kSeqFops), NotNull());
  EXPECT_THAT(debugfs_create_file("x", 0444, a, nullptr, &kSeqFops), IsNull());
  EXPECT_THAT(debugfs_create_dir("x", a), IsNull());
  EXPECT_THAT(debugfs_create_dir("a", root_), IsNull());
  EXPECT_THAT(debugfs_create_file("x", 0444, b, nullptr, &kSeqFops), NotNull());
  EXPECT_THAT(debugfs_list("t/a"), IsOkAndHolds(ElementsAre("x")));
}

TEST_F(DebugfsTest, NamesThePathWalkRejectsAreNull) {
  for (const char* name : {"", ".", "..", "a/b", "/"}) {
    EXPECT_THAT(debugfs_create_dir(name, root_), IsNull()) << name;
    EXPECT_THAT(debugfs_create_file(name, 0444, root_, nullptr, &kSeqFops), IsNull()) << name;
  }
  EXPECT_THAT(debugfs_create_dir(nullptr, root_), IsNull());
  EXPECT_THAT(debugfs_list("t"), IsOkAndHolds(IsEmpty()));
}

TEST_F(DebugfsTest, NothingIsCreatedUnderAFile) {
  struct dentry* f = debugfs_create_file("f", 0444, root_, nullptr, &kSeqFops);
  EXPECT_THAT(debugfs_create_dir("d", f), IsNull());
  EXPECT_THAT(debugfs_create_file("g", 0444, f, nullptr, &kSeqFops), IsNull());
}

TEST_F(DebugfsTest, ListOfAMissingDirectoryIsEnoentAndOfAFileEnotdir) {
  debugfs_create_file("f", 0444, root_, nullptr, &kSeqFops);
  EXPECT_THAT(debugfs_list("t/missing"), IsErrno(ENOENT));
  EXPECT_THAT(debugfs_list("t/f"), IsErrno(ENOTDIR));
}

TEST_F(DebugfsTest, FileModeOfAnotherTypeIsABug) {
  EXPECT_DEATH(debugfs_create_file("f", S_IFDIR | 0755, root_, nullptr, &kSeqFops), "kernel BUG at");
}

TEST_F(DebugfsTest, RemoveLeavesANonEmptyDirectoryAndRemoveRecursiveTakesEverything) {
  struct dentry* d = debugfs_create_dir("d", root_);
  struct dentry* sub = debugfs_create_dir("sub", d);
  debugfs_create_file("f", 0444, sub, nullptr, &kSeqFops);
  debugfs_create_file("g", 0444, d, nullptr, &kSeqFops);
  debugfs_remove(d);
  EXPECT_EQ(debugfs_lookup("t/d"), d) << "simple_rmdir() refuses a directory that is not empty";
  debugfs_remove(nullptr);
  debugfs_remove_recursive(nullptr);
  debugfs_remove_recursive(d);
  EXPECT_THAT(debugfs_lookup("t/d"), IsNull());
  EXPECT_THAT(debugfs_list("t"), IsOkAndHolds(IsEmpty()));
}

TEST_F(DebugfsTest, RemovedNameCanBeCreatedAgain) {
  struct dentry* f = debugfs_create_file("f", 0444, root_, nullptr, &kSeqFops);
  debugfs_remove(f);
  EXPECT_THAT(debugfs_lookup("t/f"), IsNull());
  struct dentry* g = debugfs_create_file("f", 0444, root_, nullptr, &kSeqFops);
  EXPECT_THAT(g, NotNull());
  EXPECT_EQ(debugfs_lookup("t/f"), g);
}

// ---- seq_file reads ------------------------------------------------------------------------------------------------

TEST_F(DebugfsTest, ReadFileGivesWhatCatPrintsFromAKernelContext) {
  FileData data{.text = "client pid size\nfoo 12 4096\n"};
  debugfs_create_file("heap", 0444, root_, &data, &kSeqFops);
  scope_.reset();
  EXPECT_THAT(debugfs_read_file("t/heap"), IsOkAndHolds(data.text));
  scope_.emplace(task_);
  EXPECT_EQ(data.opens, 1);
  EXPECT_EQ(data.show_calls, 1);
  EXPECT_EQ(data.releases, 1);
  EXPECT_EQ(data.last_v, reinterpret_cast<void*>(1)) << "single_start()'s token";
  EXPECT_THAT(debugfs_read_file("t/nope"), IsErrno(ENOENT));
  EXPECT_THAT(debugfs_read_file("t"), IsErrno(EISDIR));
}

TEST_F(DebugfsTest, SysOpenReadsADebugfsFileIntoUserMemoryAndRendersOncePerOpenFile) {
  // 1000 lines of 10 bytes: the file spans several reads and still renders once per open file.
  FileData data;
  for (int i = 0; i < 1000; ++i) {
    char line[16];
    std::snprintf(line, sizeof(line), "line %4d\n", i);
    data.text += line;
  }
  debugfs_create_file("big", 0444, root_, &data, &kSeqFops);
  ErrnoOr<int> fd = OpenDebug("t/big", O_RDONLY);
  ASSERT_THAT(fd, IsOkAndHolds(0));
  EXPECT_EQ(ReadAll(0, 999), data.text);
  EXPECT_EQ(data.show_calls, 1);
  EXPECT_THAT(sys_close(0), IsOk());
  EXPECT_EQ(data.releases, 1);
  ASSERT_THAT(OpenDebug("t/big", O_RDONLY), IsOkAndHolds(0));
  EXPECT_EQ(ReadAll(0, 4096), data.text);
  EXPECT_EQ(data.show_calls, 2) << "a new open file renders again";
  EXPECT_THAT(sys_close(0), IsOk());
}

TEST_F(DebugfsTest, ShowErrorIsTheReadErrorAndTheNextReadRendersAgain) {
  FileData data{.text = "partial", .show_ret = -ENOMEM};
  debugfs_create_file("f", 0444, root_, &data, &kSeqFops);
  ASSERT_THAT(OpenDebug("t/f", O_RDONLY), IsOkAndHolds(0));
  const unsigned long user = MapUser(PAGE_SIZE);
  EXPECT_THAT(sys_read(0, user, 100), IsErrno(ENOMEM));
  data.show_ret = 0;
  data.text = "whole";
  EXPECT_THAT(sys_read(0, user, 100), IsOkAndHolds(5));
  EXPECT_EQ(UserString(user, 5), "whole");
  EXPECT_EQ(data.show_calls, 2);
  EXPECT_THAT(sys_close(0), IsOk());
}

TEST_F(DebugfsTest, SeqSkipDiscardsTheOutput) {
  FileData data{.text = "hidden", .show_ret = 1};
  debugfs_create_file("f", 0444, root_, &data, &kSeqFops);
  EXPECT_THAT(debugfs_read_file("t/f"), IsOkAndHolds(""));
}

TEST_F(DebugfsTest, ShortCopyIsEfaultAndConsumesNothing) {
  FileData data{.text = "0123456789"};
  debugfs_create_file("f", 0444, root_, &data, &kSeqFops);
  ASSERT_THAT(OpenDebug("t/f", O_RDONLY), IsOkAndHolds(0));
  const unsigned long user = MapUser(PAGE_SIZE);
  // Three bytes fit before the end of the mapping: copy_to_user() copies them and reports 7 not copied.
  EXPECT_THAT(sys_read(0, user + PAGE_SIZE - 3, 10), IsErrno(EFAULT));
  EXPECT_THAT(sys_lseek(0, 0, SEEK_CUR), IsOkAndHolds(0));
  EXPECT_THAT(sys_read(0, user, 10), IsOkAndHolds(10));
  EXPECT_EQ(UserString(user, 10), "0123456789");
  EXPECT_EQ(data.show_calls, 1);
  EXPECT_THAT(sys_close(0), IsOk());
}

TEST_F(DebugfsTest, LseekToAnotherPositionRendersAgain) {
  FileData data{.text = "abcdef"};
  debugfs_create_file("f", 0444, root_, &data, &kSeqFops);
  ASSERT_THAT(OpenDebug("t/f", O_RDONLY), IsOkAndHolds(0));
  const unsigned long user = MapUser(PAGE_SIZE);
  EXPECT_THAT(sys_read(0, user, 2), IsOkAndHolds(2));
  EXPECT_EQ(data.show_calls, 1);

  // To 0: traverse() only rewinds, and the next read renders.
  data.text = "ABCDEF";
  EXPECT_THAT(sys_lseek(0, 0, SEEK_SET), IsOkAndHolds(0));
  EXPECT_EQ(data.show_calls, 1);
  EXPECT_THAT(sys_read(0, user, 3), IsOkAndHolds(3));
  EXPECT_EQ(UserString(user, 3), "ABC");
  EXPECT_EQ(data.show_calls, 2);

  // The same position: nothing happens.
  EXPECT_THAT(sys_lseek(0, 3, SEEK_SET), IsOkAndHolds(3));
  EXPECT_EQ(data.show_calls, 2);

  // Elsewhere: rendered at once, at lseek time.
  data.text = "uvwxyz";
  EXPECT_THAT(sys_lseek(0, 4, SEEK_SET), IsOkAndHolds(4));
  EXPECT_EQ(data.show_calls, 3);
  data.text = "changed after the seek";
  EXPECT_THAT(sys_read(0, user, 10), IsOkAndHolds(2));
  EXPECT_EQ(UserString(user, 2), "yz");

  EXPECT_THAT(sys_lseek(0, -7, SEEK_SET), IsErrno(EINVAL));
  EXPECT_THAT(sys_lseek(0, -7, SEEK_CUR), IsErrno(EINVAL));
  EXPECT_THAT(sys_lseek(0, 0, SEEK_END), IsErrno(EINVAL)) << "seq_lseek() has no SEEK_END";
  EXPECT_THAT(sys_lseek(0, 0, SEEK_CUR), IsOkAndHolds(6));

  // A show() error while seeking resets the file to 0 and is lseek's error.
  data.show_ret = -ENOMEM;
  EXPECT_THAT(sys_lseek(0, 2, SEEK_SET), IsErrno(ENOMEM));
  EXPECT_THAT(sys_lseek(0, 0, SEEK_CUR), IsOkAndHolds(0));
  EXPECT_THAT(sys_close(0), IsOk());
}

TEST_F(DebugfsTest, SeqPrintfFormatsLinesLongerThanItsFirstBuffer) {
  struct seq_file s{};
  const std::string long_name(300, 'n');
  seq_printf(&s, "%s-%d", long_name.c_str(), 42);
  seq_printf(&s, "%16s|", "x");
  seq_putc(&s, '\n');
  seq_puts(&s, "end");
  EXPECT_EQ(s.buf, long_name + "-42" + std::string(15, ' ') + "x|\nend");
}

TEST_F(DebugfsTest, SingleOpenOverExistingPrivateDataWarns) {
  struct file file;
  int existing = 0;
  file.private_data = &existing;
  set_bug_printing(false);
  EXPECT_EQ(single_open(&file, data_show, nullptr), 0);
  set_bug_printing(true);
  EXPECT_THAT(WarnMessages(), ElementsAre(HasSubstr("private_data")));
  clear_bug_events();
  EXPECT_EQ(single_release(nullptr, &file), 0);
}

TEST_F(DebugfsTest, SingleOpenAllocationFailureIsEnomem) {
  FileData data{.text = "x"};
  debugfs_create_file("f", 0444, root_, &data, &kSeqFops);
  set_slab_fail_hook([](const std::type_info& type, gfp_t) { return type == typeid(struct seq_file); });
  EXPECT_THAT(OpenDebug("t/f", O_RDONLY), IsErrno(ENOMEM));
  set_slab_fail_hook(nullptr);
  EXPECT_EQ(data.releases, 0);
}

// ---- Writes, default operations, directories ----------------------------------------------------------------------

TEST_F(DebugfsTest, WriteFileHandsTheTextToTheDriver) {
  FileData rw;
  FileData ro;
  debugfs_create_file("rw", 0644, root_, &rw, &kRwFops);
  debugfs_create_file("ro", 0444, root_, &ro, &kSeqFops);
  scope_.reset();
  EXPECT_THAT(debugfs_write_file("t/rw", "100\n"), IsOk());
  EXPECT_THAT(debugfs_write_file("t/ro", "1"), IsErrno(EINVAL));
  EXPECT_THAT(debugfs_write_file("t/none", "1"), IsErrno(ENOENT));
  EXPECT_THAT(debugfs_write_file("t", "1"), IsErrno(EISDIR));
  scope_.emplace(task_);
  EXPECT_EQ(rw.written, "100\n");
  EXPECT_EQ(rw.releases, 1);
  EXPECT_EQ(ro.releases, 1);
}

TEST_F(DebugfsTest, FileWithoutFopsReadsEmptyTakesWritesAndGetsItsDataAsPrivateData) {
  int data = 0;
  struct dentry* f = debugfs_create_file("plain", 0644, root_, &data, nullptr);
  ASSERT_THAT(f, NotNull());
  EXPECT_THAT(f->fops, NotNull());
  EXPECT_THAT(debugfs_read_file("t/plain"), IsOkAndHolds(""));
  EXPECT_THAT(debugfs_write_file("t/plain", "ignored"), IsOk());
  ASSERT_THAT(OpenDebug("t/plain", O_RDWR), IsOkAndHolds(0));
  struct file* file = fget(0);
  EXPECT_EQ(file->private_data, &data) << "simple_open() hands i_private over";
  fput(file);
  EXPECT_THAT(sys_lseek(0, 100, SEEK_SET), IsOkAndHolds(0)) << "noop_llseek() keeps the position";
  EXPECT_THAT(sys_close(0), IsOk());
}

TEST_F(DebugfsTest, DirectoryOpensForReadingOnlyAndReadsEisdir) {
  debugfs_create_file("f", 0444, root_, nullptr, &kSeqFops);
  ASSERT_THAT(OpenDebug("t", O_RDONLY), IsOkAndHolds(0));
  const unsigned long user = MapUser(PAGE_SIZE);
  EXPECT_THAT(sys_read(0, user, 10), IsErrno(EISDIR));
  EXPECT_THAT(sys_lseek(0, 5, SEEK_SET), IsOkAndHolds(5));
  EXPECT_THAT(sys_lseek(0, 0, SEEK_END), IsErrno(EINVAL));
  EXPECT_THAT(sys_write(0, user, 1), IsErrno(EBADF));
  EXPECT_THAT(sys_close(0), IsOk());
  EXPECT_THAT(OpenDebug("t", O_WRONLY), IsErrno(EISDIR));
  EXPECT_THAT(OpenDebug("t", O_RDWR), IsErrno(EISDIR));
  EXPECT_THAT(sys_open("/sys/kernel/debug", O_RDONLY), IsOkAndHolds(0));
  EXPECT_THAT(sys_close(0), IsOk());
  EXPECT_THAT(OpenDebug("t/f/", O_RDONLY), IsErrno(ENOTDIR));
  EXPECT_THAT(OpenDebug("t/missing", O_RDONLY), IsErrno(ENOENT));
}

TEST_F(DebugfsTest, FailedOpenHoldsNothing) {
  FileData data{.text = "x", .open_ret = -EACCES};
  struct dentry* f = debugfs_create_file("f", 0444, root_, &data, &kSeqFops);
  EXPECT_THAT(OpenDebug("t/f", O_RDONLY), IsErrno(EACCES));
  EXPECT_EQ(data.releases, 0);
  EXPECT_EQ(f->open_count, 0);
  EXPECT_THAT(files_open_fds(task_->files), IsEmpty());
}

TEST_F(DebugfsTest, RegularFileIoctlsAreAnsweredByFileIoctl) {
  FileData data{.text = "abc"};
  debugfs_create_file("f", 0444, root_, &data, &kSeqFops);
  ASSERT_THAT(OpenDebug("t/f", O_RDONLY), IsOkAndHolds(0));
  const unsigned long user = MapUser(PAGE_SIZE);
  EXPECT_THAT(sys_read(0, user, 2), IsOkAndHolds(2));
  EXPECT_THAT(sys_ioctl(0, 0x4901, 0), IsErrno(ENOTTY));
  EXPECT_THAT(sys_ioctl(0, FIBMAP, user), IsErrno(EINVAL));
  int nread = 0;
  EXPECT_THAT(sys_ioctl(0, FIONREAD, user), IsOkAndHolds(0));
  ASSERT_THAT(user_read(task_->mm, user, &nread, sizeof(nread)), IsOk());
  EXPECT_EQ(nread, -2) << "i_size (0) minus f_pos";
  long long qsize = -1;
  EXPECT_THAT(sys_ioctl(0, FIOQSIZE, user), IsOkAndHolds(0));
  ASSERT_THAT(user_read(task_->mm, user, &qsize, sizeof(qsize)), IsOk());
  EXPECT_EQ(qsize, 0);
  EXPECT_THAT(sys_close(0), IsOk());
}

// ---- Removal while open ----------------------------------------------------------------------------------------

TEST_F(DebugfsTest, OpenFileOfARemovedEntryFailsWithEioAndStillReleases) {
  FileData data{.text = "client"};
  struct dentry* f = debugfs_create_file("client", 0644, root_, &data, &kRwFops);
  ASSERT_THAT(OpenDebug("t/client", O_RDWR), IsOkAndHolds(0));
  const unsigned long user = MapUser(PAGE_SIZE);
  EXPECT_EQ(f->open_count, 1);
  debugfs_remove(f);
  EXPECT_THAT(debugfs_lookup("t/client"), IsNull());
  EXPECT_THAT(debugfs_list("t"), IsOkAndHolds(IsEmpty()));
  EXPECT_THAT(debugfs_read_file("t/client"), IsErrno(ENOENT));
  EXPECT_THAT(sys_read(0, user, 10), IsErrno(EIO));
  EXPECT_THAT(sys_write(0, user, 1), IsErrno(EIO));
  EXPECT_THAT(sys_lseek(0, 1, SEEK_SET), IsErrno(EIO));
  EXPECT_THAT(sys_ioctl(0, 0x4901, 0), IsErrno(EIO));
  EXPECT_EQ(data.show_calls + data.ioctls, 0) << "the driver's data was never touched after removal";
  EXPECT_TRUE(data.written.empty());
  // The name is free again while the old file is still open.
  FileData other{.text = "new"};
  ASSERT_THAT(debugfs_create_file("client", 0644, root_, &other, &kRwFops), NotNull());
  EXPECT_THAT(debugfs_read_file("t/client"), IsOkAndHolds("new"));
  EXPECT_THAT(sys_close(0), IsOk());
  EXPECT_EQ(data.releases, 1) << "release runs after removal so the driver frees what open allocated";
}

TEST_F(DebugfsTest, RemoveRecursiveKeepsOnlyTheOpenEntriesUntilTheirLastClose) {
  FileData a{.text = "a"};
  FileData b{.text = "b"};
  struct dentry* d = debugfs_create_dir("d", root_);
  debugfs_create_file("a", 0444, d, &a, &kSeqFops);
  debugfs_create_file("b", 0444, d, &b, &kSeqFops);
  ASSERT_THAT(OpenDebug("t/d/a", O_RDONLY), IsOkAndHolds(0));
  ASSERT_THAT(OpenDebug("t/d", O_RDONLY), IsOkAndHolds(1));
  ASSERT_THAT(sys_dup(0), IsOkAndHolds(2));
  debugfs_remove_recursive(d);
  EXPECT_THAT(debugfs_lookup("t/d"), IsNull());
  const unsigned long user = MapUser(PAGE_SIZE);
  EXPECT_THAT(sys_read(0, user, 10), IsErrno(EIO));
  EXPECT_THAT(sys_read(1, user, 10), IsErrno(EISDIR)) << "a directory file is not behind the proxy";
  EXPECT_THAT(sys_close(0), IsOk());
  EXPECT_EQ(a.releases, 0) << "fd 2 still holds the file";
  EXPECT_THAT(sys_read(2, user, 10), IsErrno(EIO));
  EXPECT_THAT(sys_close(2), IsOk());
  EXPECT_EQ(a.releases, 1);
  EXPECT_THAT(sys_close(1), IsOk());
  EXPECT_EQ(b.opens + b.releases, 0);
}

TEST_F(DebugfsTest, ForkedFdOfARemovedEntryKeepsItUntilBothClose) {
  FileData data{.text = "x"};
  struct dentry* f = debugfs_create_file("f", 0444, root_, &data, &kSeqFops);
  ASSERT_THAT(OpenDebug("t/f", O_RDONLY), IsOkAndHolds(0));
  ErrnoOr<struct task_struct*> child = copy_process(task_);
  ASSERT_THAT(child, IsOk());
  debugfs_remove(f);
  EXPECT_THAT(sys_close(0), IsOk());
  EXPECT_EQ(data.releases, 0);
  task_free(*child);
  EXPECT_EQ(data.releases, 1);
}

TEST_F(DebugfsTest, ConcurrentReadersAndTreeChangesAgree) {
  FileData data{.text = "steady\n"};
  debugfs_create_file("f", 0444, root_, &data, &kSeqFops);
  std::vector<std::thread> readers;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&mismatches, t] {
      for (int i = 0; i < 200; ++i) {
        ErrnoOr<std::string> got = debugfs_read_file("t/f");
        if (!got.ok() || *got != "steady\n") mismatches[t]++;
      }
    });
  }
  for (int i = 0; i < 200; ++i) {
    struct dentry* tmp = debugfs_create_dir(("tmp" + std::to_string(i)).c_str(), root_);
    debugfs_create_file("x", 0444, tmp, nullptr, &kSeqFops);
    debugfs_remove_recursive(tmp);
  }
  for (std::thread& t : readers) t.join();
  EXPECT_THAT(mismatches, ElementsAre(0, 0, 0, 0));
  EXPECT_THAT(debugfs_list("t"), IsOkAndHolds(ElementsAre("f")));
}

}  // namespace
}  // namespace ionsim::kernel
