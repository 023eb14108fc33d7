// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Tests of the VFS side of the simulated kernel (fs/file.c, fs/file_table.c, fs/open.c, fs/ioctl.c,
// fs/read_write.c, fs/anon_inodes.c, drivers/char/misc.c, kernel/fork.c and kernel/exit.c @ v4.4): struct file
// refcounting, the fd table (lowest free fd, reservations, close-on-exec, RLIMIT_NOFILE), misc device
// registration, the file system calls with their errnos and generic ioctls, fork/exit of fd tables, and
// SCM_RIGHTS-style fd passing. Each test runs as a task made by task_create() and set as current.
#include "model/kernel/fs.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <optional>
#include <string>
#include <thread>
#include <typeinfo>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/kernel/bug.h"
#include "model/kernel/mm.h"
#include "model/kernel/mm_user.h"
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

constexpr phys_addr_t kRamBase = 0x80000000UL;
constexpr unsigned long kRamPages = 64;

// What the test driver saw. Reset before every test.
struct DriverLog {
  int opens = 0;
  int releases = 0;
  int ioctls = 0;
  int reads = 0;
  int writes = 0;
  int open_ret = 0;
  long ioctl_ret = 0;
  void* private_at_open = nullptr;
  std::string inode_name_at_open;
  unsigned int f_mode_at_open = 0;
  size_t last_count = 0;
  loff_t last_pos = 0;
  std::vector<std::string> events;
};
DriverLog g_log;

// The bytes the test device reads out.
constexpr char kDeviceData[] = "0123456789abcdef";

int test_open(struct inode* inode, struct file* file) {
  g_log.opens++;
  g_log.private_at_open = file->private_data;
  g_log.inode_name_at_open = inode->name;
  g_log.f_mode_at_open = file->f_mode;
  return g_log.open_ret;
}

int test_release(struct inode* inode, struct file* /*file*/) {
  g_log.releases++;
  g_log.events.push_back(std::string("release ") + inode->name);
  return 0;
}

long test_ioctl(struct file* /*file*/, unsigned int /*cmd*/, unsigned long /*arg*/) {
  g_log.ioctls++;
  return g_log.ioctl_ret;
}

// Reads kDeviceData from *pos, as simple_read_from_buffer() does.
ssize_t test_read(struct file* /*file*/, user_ptr_t buf, size_t count, loff_t* pos) {
  g_log.reads++;
  g_log.last_count = count;
  g_log.last_pos = *pos;
  const size_t size = sizeof(kDeviceData) - 1;
  if (*pos >= static_cast<loff_t>(size)) return 0;
  const size_t n = std::min(count, size - static_cast<size_t>(*pos));
  if (copy_to_user(buf, kDeviceData + *pos, n) != 0) return -EFAULT;
  *pos += static_cast<loff_t>(n);
  return static_cast<ssize_t>(n);
}

ssize_t test_write(struct file* /*file*/, user_ptr_t /*buf*/, size_t count, loff_t* pos) {
  g_log.writes++;
  g_log.last_count = count;
  g_log.last_pos = *pos;
  *pos += static_cast<loff_t>(count);
  return static_cast<ssize_t>(count);
}

loff_t test_llseek(struct file* file, loff_t offset, int whence) {
  return fixed_size_llseek(file, offset, whence, sizeof(kDeviceData) - 1);
}

void test_vm_close(struct vm_area_struct* /*vma*/) { g_log.events.push_back("vm close"); }

const struct vm_operations_struct kTestVmOps = {.close = test_vm_close};

int test_mmap(struct file* /*file*/, struct vm_area_struct* vma) {
  vma->vm_ops = &kTestVmOps;
  return 0;
}

const struct file_operations kFullFops = {
    .read = test_read,
    .write = test_write,
    .llseek = test_llseek,
    .unlocked_ioctl = test_ioctl,
    .mmap = test_mmap,
    .open = test_open,
    .release = test_release,
};

// Only open and release: every other operation is missing.
const struct file_operations kBareFops = {
    .open = test_open,
    .release = test_release,
};

const struct file_operations kReleaseOnlyFops = {.release = test_release};

std::vector<std::string> WarnMessages() {
  std::vector<std::string> out;
  for (const BugEvent& e : bug_events()) {
    if (e.kind == BugKind::kWarn) out.push_back(e.message);
  }
  return out;
}

class VfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    g_log = DriverLog{};
    pid_ns_reset(100);
    phys_mem_config config;
    config.ram_base = kRamBase;
    config.ram_size = kRamPages * PAGE_SIZE;
    config.lowmem_size = kRamPages * PAGE_SIZE;
    mem_ = phys_mem_create(config);
    ASSERT_THAT(mem_, NotNull());
    task_ = task_create("fs_test", mem_);
    ASSERT_THAT(task_, NotNull());
    scope_.emplace(task_);
  }

  void TearDown() override {
    scope_.reset();
    task_free(task_);
    set_slab_fail_hook(nullptr);
    if (mem_ != nullptr) {
      EXPECT_EQ(phys_mem_destroy(mem_), 0u);
    }
  }

  // A new anonymous file named "anon_inode:<name>".
  struct file* NewAnon(const char* name, unsigned int flags = O_RDWR, const struct file_operations* fops = &kFullFops) {
    ErrnoOr<struct file*> file = anon_inode_getfile(name, fops, nullptr, flags);
    EXPECT_THAT(file, IsOk());
    return file.ok() ? *file : nullptr;
  }

  // Installs a new anonymous file at the lowest free fd of the current task.
  int InstallAnon(const char* name, unsigned int fd_flags = 0, unsigned int flags = O_RDWR,
                  const struct file_operations* fops = &kFullFops) {
    ErrnoOr<int> fd = get_unused_fd_flags(fd_flags);
    EXPECT_THAT(fd, IsOk());
    if (!fd.ok()) return -1;
    fd_install(static_cast<unsigned int>(*fd), NewAnon(name, flags, fops));
    return *fd;
  }

  unsigned long MapUser(size_t len) {
    ErrnoOr<unsigned long> addr = sys_mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT_THAT(addr, IsOk());
    return addr.ok() ? *addr : 0;
  }

  long FileCount(int fd) {
    struct file* file = fget(static_cast<unsigned int>(fd));
    if (file == nullptr) return 0;
    const long count = file->f_count.load() - 1;
    fput(file);
    return count;
  }

  struct phys_mem* mem_ = nullptr;
  struct task_struct* task_ = nullptr;
  std::optional<current_task_scope> scope_;
};

// ---- The fd table ------------------------------------------------------------------------------------------------

TEST_F(VfsTest, NewFdIsTheLowestFreeSoAClosedFdIsReusedAtOnce) {
  EXPECT_EQ(InstallAnon("a"), 0);
  EXPECT_EQ(InstallAnon("b"), 1);
  EXPECT_EQ(InstallAnon("c"), 2);
  EXPECT_THAT(sys_close(1), IsOk());
  EXPECT_THAT(files_open_fds(task_->files), ElementsAre(0, 2));
  EXPECT_EQ(InstallAnon("d"), 1);
  EXPECT_EQ(InstallAnon("e"), 3);
}

TEST_F(VfsTest, ReservedFdIsTakenButNotOpenUntilInstalled) {
  EXPECT_THAT(get_unused_fd_flags(0), IsOkAndHolds(0));
  EXPECT_THAT(get_unused_fd_flags(0), IsOkAndHolds(1));
  EXPECT_THAT(files_open_fds(task_->files), IsEmpty());
  EXPECT_THAT(fget(0), IsNull());
  EXPECT_THAT(sys_close(0), IsErrno(EBADF));
  put_unused_fd(0);
  EXPECT_THAT(get_unused_fd_flags(0), IsOkAndHolds(0));
  put_unused_fd(0);
  put_unused_fd(1);
}

TEST_F(VfsTest, TableHoldsAtMostRlimitNofileFdsThenEmfile) {
  EXPECT_EQ(task_->files->max_fds, NR_OPEN_DEFAULT_LIMIT);
  task_->files->max_fds = 3;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(InstallAnon("f"), i);
  EXPECT_THAT(get_unused_fd_flags(0), IsErrno(EMFILE));
  // do_sys_open() takes the fd before it walks the path: a full table hides -ENOENT.
  EXPECT_THAT(sys_open("/dev/no_such_device", O_RDWR), IsErrno(EMFILE));
  EXPECT_THAT(sys_dup(0), IsErrno(EMFILE));
  EXPECT_EQ(FileCount(0), 1) << "a failed dup must drop the reference it took";
}

TEST_F(VfsTest, DefaultLimitIs1024Fds) {
  for (int i = 0; i < 1024; ++i) ASSERT_EQ(InstallAnon("f"), i);
  EXPECT_THAT(get_unused_fd_flags(0), IsErrno(EMFILE));
  EXPECT_THAT(sys_close(1023), IsOk());
  EXPECT_THAT(get_unused_fd_flags(0), IsOkAndHolds(1023));
  put_unused_fd(1023);
}

TEST_F(VfsTest, CloseOnExecBelongsToTheFdNotTheFile) {
  const int fd = InstallAnon("a", O_CLOEXEC);
  EXPECT_TRUE(get_close_on_exec(static_cast<unsigned int>(fd)));
  ErrnoOr<int> dup = sys_dup(static_cast<unsigned int>(fd));
  ASSERT_THAT(dup, IsOkAndHolds(1));
  EXPECT_FALSE(get_close_on_exec(1)) << "dup(2) clears FD_CLOEXEC on the new fd";
  struct file* a = fget(0);
  struct file* b = fget(1);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a->f_flags & O_CLOEXEC, 0u);
  fput(a);
  fput(b);
  // Closing clears the flag: the next file at fd 0 starts without it.
  EXPECT_THAT(sys_close(0), IsOk());
  EXPECT_EQ(InstallAnon("c"), 0);
  EXPECT_FALSE(get_close_on_exec(0));
}

TEST_F(VfsTest, CloseOfAnFdThatIsNotOpenIsEbadf) {
  const int fd = InstallAnon("a");
  EXPECT_THAT(sys_close(static_cast<unsigned int>(fd)), IsOk());
  EXPECT_THAT(sys_close(static_cast<unsigned int>(fd)), IsErrno(EBADF));
  EXPECT_THAT(sys_close(7), IsErrno(EBADF));
  EXPECT_THAT(sys_close(UINT_MAX), IsErrno(EBADF));
}

TEST_F(VfsTest, FgetTakesAReferenceAndNullForAnFdThatIsNotOpen) {
  EXPECT_THAT(fget(0), IsNull());
  const int fd = InstallAnon("a");
  EXPECT_EQ(FileCount(fd), 1) << "fd_install takes over the caller's reference";
  struct file* file = fget(static_cast<unsigned int>(fd));
  ASSERT_THAT(file, NotNull());
  EXPECT_EQ(file->f_count.load(), 2);
  fput(file);
  EXPECT_THAT(fget(1), IsNull());
}

TEST_F(VfsTest, LastReferenceReleasesOnceAndNotBefore) {
  const int fd = InstallAnon("a");
  ASSERT_THAT(sys_dup(static_cast<unsigned int>(fd)), IsOkAndHolds(1));
  struct file* extra = fget(0);
  EXPECT_THAT(sys_close(0), IsOk());
  EXPECT_THAT(sys_close(1), IsOk());
  EXPECT_EQ(g_log.releases, 0) << "a kernel reference still holds the file";
  fput(extra);
  EXPECT_EQ(g_log.releases, 0) << "the release waits for the task's return to userspace";
  task_work_run();
  EXPECT_THAT(g_log.events, ElementsAre("release anon_inode:a"));
}

TEST_F(VfsTest, ConcurrentGetFileAndFputReleaseExactlyOnce) {
  struct file* file = NewAnon("shared");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([file] {
      for (int i = 0; i < 20000; ++i) {
        get_file(file);
        fput(file);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(g_log.releases, 0);
  EXPECT_EQ(file->f_count.load(), 1);
  fput(file);
  task_work_run();
  EXPECT_EQ(g_log.releases, 1);
}

TEST_F(VfsTest, FdInstallOverAnInstalledFdIsABug) {
  const int fd = InstallAnon("a");
  struct file* file = NewAnon("b");
  EXPECT_DEATH(fd_install(static_cast<unsigned int>(fd), file), "kernel BUG at");
  fput(file);
}

TEST_F(VfsTest, SyscallWithoutATaskIsABug) {
  scope_.reset();
  EXPECT_DEATH(sys_close(0).IgnoreError(), "sys_close\\(\\) called with no current task");
  scope_.emplace(task_);
}

// ---- Anonymous files -------------------------------------------------------------------------------------------

TEST_F(VfsTest, AnonInodeFileKeepsOnlyAccessModeAndNonblockAndHasNoLseek) {
  ErrnoOr<struct file*> file =
      anon_inode_getfile("dmabuf", &kFullFops, &g_log, O_RDWR | O_CLOEXEC | O_NONBLOCK | FASYNC);
  ASSERT_THAT(file, IsOk());
  EXPECT_EQ((*file)->f_flags, O_RDWR | O_NONBLOCK);
  EXPECT_EQ((*file)->f_mode, FMODE_READ | FMODE_WRITE);
  EXPECT_EQ((*file)->f_count.load(), 1);
  EXPECT_EQ((*file)->private_data, &g_log);
  EXPECT_STREQ(file_inode(*file)->name, "anon_inode:dmabuf");
  EXPECT_EQ(g_log.opens, 0) << "anon_inode_getfile() does not call open";
  fput(*file);
  task_work_run();
  EXPECT_EQ(g_log.releases, 1);
}

TEST_F(VfsTest, OpenFmodeFollowsTheAccessMode) {
  EXPECT_EQ(OPEN_FMODE(O_RDONLY), FMODE_READ);
  EXPECT_EQ(OPEN_FMODE(O_WRONLY), FMODE_WRITE);
  EXPECT_EQ(OPEN_FMODE(O_RDWR), FMODE_READ | FMODE_WRITE);
  EXPECT_EQ(OPEN_FMODE(3), 0u);
}

TEST_F(VfsTest, AnonInodeAllocationFailureIsEnomemAndLeaksNothing) {
  set_slab_fail_hook([](const std::type_info& type, gfp_t) { return type == typeid(struct file); });
  EXPECT_THAT(anon_inode_getfile("x", &kFullFops, nullptr, O_RDWR), IsErrno(ENOMEM));
  set_slab_fail_hook([](const std::type_info&, gfp_t) { return true; });
  EXPECT_THAT(anon_inode_getfile("x", &kFullFops, nullptr, O_RDWR), IsErrno(ENOMEM));
  set_slab_fail_hook(nullptr);
  EXPECT_EQ(g_log.releases, 0);
}

// ---- misc devices -----------------------------------------------------------------------------------------------

class MiscTest : public VfsTest {
 protected:
  void TearDown() override {
    for (struct miscdevice* misc : registered_) misc_deregister(misc);
    VfsTest::TearDown();
  }

  // A device that lives until the end of the test, TearDown included.
  struct miscdevice* Dev(const std::string& name, int minor = MISC_DYNAMIC_MINOR,
                         const struct file_operations* fops = &kFullFops) {
    names_.push_back(name);
    devs_.push_back({.minor = minor, .name = names_.back().c_str(), .fops = fops});
    return &devs_.back();
  }

  Errno Register(struct miscdevice* misc) {
    const Errno err = misc_register(misc);
    if (err.ok()) registered_.push_back(misc);
    return err;
  }

  void Deregister(struct miscdevice* misc) {
    misc_deregister(misc);
    registered_.erase(std::find(registered_.begin(), registered_.end(), misc));
  }

  std::deque<std::string> names_;
  std::deque<struct miscdevice> devs_;
  std::vector<struct miscdevice*> registered_;
};

TEST_F(MiscTest, DynamicMinorsCountDownFrom63AndAFreedOneIsReusedFirst) {
  struct miscdevice* a = Dev("a");
  struct miscdevice* b = Dev("b");
  struct miscdevice* c = Dev("c");
  ASSERT_THAT(Register(a), IsOk());
  ASSERT_THAT(Register(b), IsOk());
  EXPECT_EQ(a->minor, 63);
  EXPECT_EQ(b->minor, 62);
  Deregister(a);
  ASSERT_THAT(Register(c), IsOk());
  EXPECT_EQ(c->minor, 63);
}

TEST_F(MiscTest, SixtyFiveDynamicMinorsRunOutWithEbusy) {
  for (int i = 0; i < 64; ++i) {
    struct miscdevice* dev = Dev("dev" + std::to_string(i));
    ASSERT_THAT(Register(dev), IsOk());
    EXPECT_EQ(dev->minor, 63 - i);
  }
  struct miscdevice* last = Dev("dev64");
  EXPECT_THAT(Register(last), IsErrno(EBUSY));
  EXPECT_EQ(last->minor, MISC_DYNAMIC_MINOR);
}

TEST_F(MiscTest, TakenFixedMinorIsEbusy) {
  struct miscdevice* a = Dev("watchdog", 130);
  struct miscdevice* b = Dev("watchdog2", 130);
  ASSERT_THAT(Register(a), IsOk());
  EXPECT_THAT(Register(b), IsErrno(EBUSY));
  EXPECT_THAT(bug_events(), IsEmpty());
}

TEST_F(MiscTest, TakenNameFailsInDeviceCreateWithEexistAndSysfsWarnings) {
  struct miscdevice* a = Dev("ion");
  struct miscdevice* b = Dev("ion");
  ASSERT_THAT(Register(a), IsOk());
  set_bug_printing(false);
  EXPECT_THAT(Register(b), IsErrno(EEXIST));
  set_bug_printing(true);
  EXPECT_THAT(WarnMessages(),
              ElementsAre(HasSubstr("sysfs: cannot create duplicate filename '/devices/virtual/misc/ion'"),
                          HasSubstr("kobject_add_internal failed for ion with -EEXIST")));
  clear_bug_events();
  EXPECT_EQ(b->minor, MISC_DYNAMIC_MINOR) << "the dynamic minor is given back";
  struct miscdevice* c = Dev("c");
  ASSERT_THAT(Register(c), IsOk());
  EXPECT_EQ(c->minor, 62);
}

TEST_F(MiscTest, DynamicMinorEqualToAFixedMinorCollidesInSysfsEveryTime) {
  // v4.4 marks only dynamically assigned minors in misc_minors: a fixed minor 63 is not skipped.
  struct miscdevice* fixed = Dev("fixed", 63);
  struct miscdevice* dyn = Dev("dyn");
  ASSERT_THAT(Register(fixed), IsOk());
  set_bug_printing(false);
  EXPECT_THAT(Register(dyn), IsErrno(EEXIST));
  EXPECT_THAT(Register(dyn), IsErrno(EEXIST));
  set_bug_printing(true);
  EXPECT_THAT(WarnMessages(), ElementsAre(HasSubstr("'/dev/char/10:63'"), HasSubstr("'/dev/char/10:63'")));
  clear_bug_events();
}

TEST_F(MiscTest, DeregisterOfADeviceThatFailedToRegisterWarns) {
  struct miscdevice* a = Dev("a", 5);
  struct miscdevice* b = Dev("b", 5);
  ASSERT_THAT(Register(a), IsOk());
  ASSERT_THAT(Register(b), IsErrno(EBUSY));
  set_bug_printing(false);
  misc_deregister(b);
  set_bug_printing(true);
  EXPECT_THAT(WarnMessages(), ElementsAre(HasSubstr("list_empty(&misc->list)")));
  clear_bug_events();
}

TEST_F(MiscTest, OpenRunsTheDriverOpenWithTheMiscdeviceAsPrivateData) {
  struct miscdevice* misc = Dev("testdev");
  ASSERT_THAT(Register(misc), IsOk());
  ErrnoOr<int> fd = sys_open("/dev/testdev", O_RDWR | O_CLOEXEC);
  ASSERT_THAT(fd, IsOkAndHolds(0));
  EXPECT_EQ(g_log.opens, 1);
  EXPECT_EQ(g_log.private_at_open, misc);
  EXPECT_EQ(g_log.inode_name_at_open, "/dev/testdev");
  EXPECT_EQ(g_log.f_mode_at_open, FMODE_READ | FMODE_WRITE | FMODE_LSEEK)
      << "do_dentry_open() sets f_mode before calling open";
  struct file* file = fget(0);
  EXPECT_EQ(file->f_flags, O_RDWR) << "O_CLOEXEC is the fd's, not the file's";
  EXPECT_EQ(file_inode(file)->i_cdev_private, misc);
  fput(file);
  EXPECT_TRUE(get_close_on_exec(0));
  EXPECT_THAT(sys_close(0), IsOk());
  EXPECT_EQ(g_log.releases, 1);
}

TEST_F(MiscTest, FailedOpenFreesTheFileWithoutReleaseAndGivesTheFdBack) {
  struct miscdevice* misc = Dev("testdev");
  ASSERT_THAT(Register(misc), IsOk());
  g_log.open_ret = -EPERM;
  EXPECT_THAT(sys_open("/dev/testdev", O_RDWR), IsErrno(EPERM));
  EXPECT_EQ(g_log.opens, 1);
  EXPECT_EQ(g_log.releases, 0);
  EXPECT_THAT(files_open_fds(task_->files), IsEmpty());
  EXPECT_EQ(InstallAnon("a"), 0);
}

TEST_F(MiscTest, PathsThatNameNoDeviceAreEnoent) {
  struct miscdevice* misc = Dev("testdev");
  ASSERT_THAT(Register(misc), IsOk());
  EXPECT_THAT(sys_open("/dev/testde", O_RDWR), IsErrno(ENOENT));
  EXPECT_THAT(sys_open("/dev/", O_RDWR), IsErrno(ENOENT));
  EXPECT_THAT(sys_open("/tmp/testdev", O_RDWR), IsErrno(ENOENT));
  EXPECT_THAT(sys_open("testdev", O_RDWR), IsErrno(ENOENT));
  Deregister(misc);
  EXPECT_THAT(sys_open("/dev/testdev", O_RDWR), IsErrno(ENOENT));
  EXPECT_EQ(g_log.opens, 0);
}

TEST_F(MiscTest, DeviceWithoutOpenStillOpensAndKeepsTheMiscdevice) {
  struct miscdevice* misc = Dev("plain", MISC_DYNAMIC_MINOR, &kReleaseOnlyFops);
  ASSERT_THAT(Register(misc), IsOk());
  ASSERT_THAT(sys_open("/dev/plain", O_RDONLY), IsOkAndHolds(0));
  struct file* file = fget(0);
  EXPECT_EQ(file->private_data, misc);
  EXPECT_EQ(file->f_mode, FMODE_READ | FMODE_LSEEK);
  fput(file);
  EXPECT_THAT(sys_close(0), IsOk());
}

// ---- ioctl -----------------------------------------------------------------------------------------------------

TEST_F(VfsTest, IoctlReturnsTheDriverResultAndItsErrors) {
  const int fd = InstallAnon("a");
  const unsigned int ufd = static_cast<unsigned int>(fd);
  EXPECT_THAT(sys_ioctl(9, 0x4901, 0), IsErrno(EBADF));
  g_log.ioctl_ret = 42;
  EXPECT_THAT(sys_ioctl(ufd, 0x4901, 0), IsOkAndHolds(42));
  g_log.ioctl_ret = -EINVAL;
  EXPECT_THAT(sys_ioctl(ufd, 0x4901, 0), IsErrno(EINVAL));
  g_log.ioctl_ret = -ENOIOCTLCMD;
  EXPECT_THAT(sys_ioctl(ufd, 0x4901, 0), IsErrno(ENOTTY)) << "vfs_ioctl() turns -ENOIOCTLCMD into -ENOTTY";
  EXPECT_EQ(g_log.ioctls, 3);
}

TEST_F(VfsTest, IoctlKeepsTheDriversLongInAnInt) {
  const int fd = InstallAnon("a");
  g_log.ioctl_ret = 0x100000005L;
  EXPECT_THAT(sys_ioctl(static_cast<unsigned int>(fd), 0x4901, 0), IsOkAndHolds(5));
}

TEST_F(VfsTest, IoctlWithoutUnlockedIoctlIsEnotty) {
  const int fd = InstallAnon("bare", 0, O_RDWR, &kBareFops);
  EXPECT_THAT(sys_ioctl(static_cast<unsigned int>(fd), 0x4901, 0), IsErrno(ENOTTY));
}

TEST_F(VfsTest, GenericIoctlsAreAnsweredBeforeTheDriver) {
  const int fd = InstallAnon("a");
  const unsigned int ufd = static_cast<unsigned int>(fd);
  const unsigned long user = MapUser(PAGE_SIZE);
  g_log.ioctl_ret = 99;

  EXPECT_THAT(sys_ioctl(ufd, FIOCLEX, 0), IsOkAndHolds(0));
  EXPECT_TRUE(get_close_on_exec(ufd));
  EXPECT_THAT(sys_ioctl(ufd, FIONCLEX, 0), IsOkAndHolds(0));
  EXPECT_FALSE(get_close_on_exec(ufd));

  const int one = 1;
  ASSERT_THAT(user_write(task_->mm, user, &one, sizeof(one)), IsOk());
  EXPECT_THAT(sys_ioctl(ufd, FIONBIO, user), IsOkAndHolds(0));
  struct file* file = fget(ufd);
  EXPECT_EQ(file->f_flags & O_NONBLOCK, O_NONBLOCK);
  fput(file);
  EXPECT_THAT(sys_ioctl(ufd, FIONBIO, 0), IsErrno(EFAULT));
  EXPECT_THAT(sys_ioctl(ufd, FIOASYNC, user), IsErrno(ENOTTY)) << "no fasync to turn FASYNC on";

  EXPECT_THAT(sys_ioctl(ufd, FIOQSIZE, user), IsErrno(ENOTTY)) << "an anonymous inode is not a regular file";
  int bsz = 0;
  EXPECT_THAT(sys_ioctl(ufd, FIGETBSZ, user), IsOkAndHolds(0));
  ASSERT_THAT(user_read(task_->mm, user, &bsz, sizeof(bsz)), IsOk());
  EXPECT_EQ(bsz, 4096);
  EXPECT_THAT(sys_ioctl(ufd, FIFREEZE, 0), IsErrno(EOPNOTSUPP));
  EXPECT_THAT(sys_ioctl(ufd, FITHAW, 0), IsErrno(EINVAL));
  EXPECT_THAT(sys_ioctl(ufd, FS_IOC_FIEMAP, user), IsErrno(EOPNOTSUPP));
  EXPECT_EQ(g_log.ioctls, 0) << "none of these reaches the driver";

  // FIONREAD and FIBMAP are only answered for regular files: an anonymous file's driver sees them.
  EXPECT_THAT(sys_ioctl(ufd, FIONREAD, user), IsOkAndHolds(99));
  EXPECT_THAT(sys_ioctl(ufd, FIBMAP, user), IsOkAndHolds(99));
  EXPECT_EQ(g_log.ioctls, 2);
}

// ---- read, write, lseek ------------------------------------------------------------------------------------------

TEST_F(VfsTest, ReadCopiesOutAndAdvancesTheFilePosition) {
  const int fd = InstallAnon("a", 0, O_RDONLY);
  const unsigned int ufd = static_cast<unsigned int>(fd);
  const unsigned long user = MapUser(PAGE_SIZE);
  EXPECT_THAT(sys_read(ufd, user, 10), IsOkAndHolds(10));
  EXPECT_THAT(sys_read(ufd, user + 10, 10), IsOkAndHolds(6));
  EXPECT_EQ(g_log.last_pos, 10);
  EXPECT_THAT(sys_read(ufd, user + 16, 10), IsOkAndHolds(0));
  char got[17] = {};
  ASSERT_THAT(user_read(task_->mm, user, got, 16), IsOk());
  EXPECT_STREQ(got, kDeviceData);
}

TEST_F(VfsTest, ReadAndWriteCheckTheFdTheModeThenTheOperation) {
  const unsigned long user = MapUser(PAGE_SIZE);
  EXPECT_THAT(sys_read(5, user, 1), IsErrno(EBADF));
  EXPECT_THAT(sys_write(5, user, 1), IsErrno(EBADF));
  const unsigned int wronly = static_cast<unsigned int>(InstallAnon("w", 0, O_WRONLY, &kBareFops));
  const unsigned int rdonly = static_cast<unsigned int>(InstallAnon("r", 0, O_RDONLY, &kBareFops));
  const unsigned int rdwr = static_cast<unsigned int>(InstallAnon("rw", 0, O_RDWR, &kBareFops));
  // Not open for reading beats having no read: -EBADF before -EINVAL, as vfs_read() orders them.
  EXPECT_THAT(sys_read(wronly, user, 1), IsErrno(EBADF));
  EXPECT_THAT(sys_write(rdonly, user, 1), IsErrno(EBADF));
  EXPECT_THAT(sys_read(rdwr, user, 1), IsErrno(EINVAL));
  EXPECT_THAT(sys_write(rdwr, user, 1), IsErrno(EINVAL));
  const unsigned int neither = static_cast<unsigned int>(InstallAnon("n", 0, 3));
  EXPECT_THAT(sys_read(neither, user, 1), IsErrno(EBADF));
  EXPECT_THAT(sys_write(neither, user, 1), IsErrno(EBADF));
  EXPECT_EQ(g_log.reads + g_log.writes, 0);
}

TEST_F(VfsTest, UserRangeBeyondTaskSizeIsEfaultBeforeTheDriver) {
  const unsigned int fd = static_cast<unsigned int>(InstallAnon("a"));
  EXPECT_THAT(sys_read(fd, TASK_SIZE - 4, 8), IsErrno(EFAULT));
  EXPECT_THAT(sys_write(fd, TASK_SIZE, 1), IsErrno(EFAULT));
  EXPECT_THAT(sys_read(fd, 0, ~size_t{0}), IsErrno(EFAULT));
  EXPECT_EQ(g_log.reads + g_log.writes, 0);
  // An unmapped address below TASK_SIZE passes access_ok(): the driver's copy_to_user() is what fails.
  EXPECT_THAT(sys_read(fd, 0x1000, 4), IsErrno(EFAULT));
  EXPECT_EQ(g_log.reads, 1);
}

TEST_F(VfsTest, CountIsCappedAtMaxRwCount) {
  const unsigned int fd = static_cast<unsigned int>(InstallAnon("a"));
  EXPECT_THAT(sys_write(fd, 0x10000, 0x80000000UL), IsOkAndHolds(0x7ffff000L));
  EXPECT_EQ(g_log.last_count, 0x7ffff000UL);
  struct file* file = fget(fd);
  EXPECT_EQ(file->f_pos, 0x7ffff000L);
  fput(file);
}

TEST_F(VfsTest, LseekNeedsFmodeLseekAndLlseek) {
  // anon_inode_getfile() does not set FMODE_LSEEK: lseek() never reaches the driver's llseek.
  const unsigned int anon = static_cast<unsigned int>(InstallAnon("a"));
  EXPECT_THAT(sys_lseek(anon, 0, SEEK_END), IsErrno(ESPIPE));
  struct file* file = fget(anon);
  file->f_mode |= FMODE_LSEEK;
  fput(file);
  EXPECT_THAT(sys_lseek(anon, 0, SEEK_END), IsOkAndHolds(16));
  EXPECT_THAT(sys_lseek(anon, 5, 5), IsErrno(EINVAL)) << "whence above SEEK_MAX";
  EXPECT_THAT(sys_lseek(anon, 5, -1), IsErrno(EINVAL));
  EXPECT_THAT(sys_lseek(9, 0, SEEK_SET), IsErrno(EBADF));

  const unsigned int bare = static_cast<unsigned int>(InstallAnon("b", 0, O_RDWR, &kBareFops));
  file = fget(bare);
  file->f_mode |= FMODE_LSEEK;
  fput(file);
  EXPECT_THAT(sys_lseek(bare, 0, SEEK_SET), IsErrno(ESPIPE));
}

TEST_F(VfsTest, FixedSizeLlseekStaysInsideTheSize) {
  struct file* file = NewAnon("a");
  EXPECT_EQ(fixed_size_llseek(file, 4, SEEK_SET, 10), 4);
  EXPECT_EQ(fixed_size_llseek(file, 3, SEEK_CUR, 10), 7);
  EXPECT_EQ(fixed_size_llseek(file, 0, SEEK_CUR, 10), 7);
  EXPECT_EQ(fixed_size_llseek(file, -2, SEEK_END, 10), 8);
  EXPECT_EQ(fixed_size_llseek(file, 0, SEEK_END, 10), 10);
  EXPECT_EQ(fixed_size_llseek(file, 1, SEEK_END, 10), -EINVAL);
  EXPECT_EQ(fixed_size_llseek(file, -1, SEEK_SET, 10), -EINVAL);
  EXPECT_EQ(fixed_size_llseek(file, LLONG_MAX, SEEK_CUR, 10), -EINVAL);
  EXPECT_EQ(fixed_size_llseek(file, 0, 3 /* SEEK_DATA */, 10), -EINVAL);
  EXPECT_EQ(file->f_pos, 10) << "a refused seek leaves the position";
  fput(file);
}

// ---- dup, fork, exit -----------------------------------------------------------------------------------------------

TEST_F(VfsTest, DupOfAnFdThatIsNotOpenIsEbadf) {
  EXPECT_THAT(sys_dup(0), IsErrno(EBADF));
  EXPECT_THAT(get_unused_fd_flags(0), IsOkAndHolds(0));
  EXPECT_THAT(sys_dup(0), IsErrno(EBADF)) << "a reserved fd has no file";
  put_unused_fd(0);
}

TEST_F(VfsTest, ForkSharesEveryOpenFileWithItsCloseOnExecFlag) {
  EXPECT_EQ(task_->pid, 100);
  EXPECT_EQ(InstallAnon("a", O_CLOEXEC), 0);
  EXPECT_EQ(InstallAnon("b"), 1);
  ErrnoOr<struct task_struct*> child = copy_process(task_);
  ASSERT_THAT(child, IsOk());
  EXPECT_EQ((*child)->pid, 101);
  EXPECT_EQ((*child)->tgid, 101);
  EXPECT_EQ((*child)->group_leader, *child);
  EXPECT_STREQ((*child)->comm, "fs_test");
  EXPECT_EQ(FileCount(0), 2);
  struct file* parent_file = fget(0);
  {
    current_task_scope in_child(*child);
    EXPECT_THAT(files_open_fds((*child)->files), ElementsAre(0, 1));
    EXPECT_TRUE(get_close_on_exec(0));
    EXPECT_FALSE(get_close_on_exec(1));
    struct file* child_file = fget(0);
    EXPECT_EQ(child_file, parent_file);
    fput(child_file);
    EXPECT_THAT(sys_close(0), IsOk());
  }
  fput(parent_file);
  EXPECT_EQ(g_log.releases, 0) << "the parent's fd still holds the file";
  EXPECT_EQ(FileCount(0), 1);
  task_free(*child);
  EXPECT_EQ(g_log.releases, 0);
}

TEST_F(VfsTest, ForkDoesNotInheritAnFdReservedByAnOpenInProgress) {
  EXPECT_EQ(InstallAnon("a"), 0);
  ASSERT_THAT(get_unused_fd_flags(0), IsOkAndHolds(1));
  ErrnoOr<struct task_struct*> child = copy_process(task_);
  ASSERT_THAT(child, IsOk());
  {
    current_task_scope in_child(*child);
    EXPECT_THAT(get_unused_fd_flags(0), IsOkAndHolds(1)) << "fd 1 is free in the child";
    put_unused_fd(1);
  }
  put_unused_fd(1);
  task_free(*child);
}

TEST_F(VfsTest, ForkFailureFreesThePartialChildAndUsesNoPid) {
  EXPECT_EQ(InstallAnon("a"), 0);
  set_slab_fail_hook([](const std::type_info& type, gfp_t) { return type == typeid(struct mm_struct); });
  EXPECT_THAT(copy_process(task_), IsErrno(ENOMEM));
  set_slab_fail_hook([](const std::type_info& type, gfp_t) { return type == typeid(struct files_struct); });
  EXPECT_THAT(copy_process(task_), IsErrno(ENOMEM));
  set_slab_fail_hook(nullptr);
  EXPECT_EQ(FileCount(0), 1) << "the failed copy's fd table dropped its references";
  ErrnoOr<struct task_struct*> child = copy_process(task_);
  ASSERT_THAT(child, IsOk());
  EXPECT_EQ((*child)->pid, 101);
  task_free(*child);
}

TEST_F(VfsTest, ExitUnmapsFirstThenClosesEveryFdLowestFirstAndReleasesLastInFirstOut) {
  // fd 0: c (installed last), fd 1: a (also mapped), fd 2: b; plus anonymous memory.
  // Expect the mapping of a closed first (exit_mm), then exit_files() dropping c, a, b in fd order, and
  // exit_task_work() running their releases newest first: b, a, c.
  ASSERT_THAT(get_unused_fd_flags(0), IsOkAndHolds(0));
  EXPECT_EQ(InstallAnon("a"), 1);
  EXPECT_EQ(InstallAnon("b"), 2);
  fd_install(0, NewAnon("c"));
  ASSERT_THAT(sys_mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, 1, 0), IsOk());
  const unsigned long user = MapUser(PAGE_SIZE);
  const char byte = 'x';
  ASSERT_THAT(user_write(task_->mm, user, &byte, 1), IsOk());
  scope_.reset();
  do_exit(task_);
  EXPECT_TRUE(task_->exited);
  EXPECT_THAT(task_->files, IsNull());
  EXPECT_THAT(task_->mm, IsNull());
  EXPECT_THAT(g_log.events,
              ElementsAre("vm close", "release anon_inode:b", "release anon_inode:a", "release anon_inode:c"));
  task_free(task_);
  task_ = nullptr;
}

TEST_F(VfsTest, SyscallForAnExitedTaskIsABug) {
  scope_.reset();
  do_exit(task_);
  current_task_scope as_exited(task_);
  EXPECT_DEATH(sys_close(0).IgnoreError(), "task 100, which has exited");
}

TEST_F(VfsTest, SecondExitWarnsAndDoesNothing) {
  scope_.reset();
  do_exit(task_);
  set_bug_printing(false);
  do_exit(task_);
  set_bug_printing(true);
  EXPECT_THAT(WarnMessages(), ElementsAre(HasSubstr("already exited")));
  clear_bug_events();
}

TEST_F(VfsTest, PidRewindWhileTasksAreAliveWarnsAndDoesNothing) {
  set_bug_printing(false);
  pid_ns_reset(1);
  set_bug_printing(true);
  EXPECT_THAT(WarnMessages(), ElementsAre(HasSubstr("pid_ns_reset(1) with 1 task(s) still alive")));
  clear_bug_events();
  struct task_struct* next = task_create("next", mem_);
  ASSERT_THAT(next, NotNull());
  EXPECT_EQ(next->pid, 101);
  task_free(next);
}

TEST_F(VfsTest, CommIsTruncatedTo15Characters) {
  struct task_struct* task = task_create("a_very_long_process_name", mem_);
  ASSERT_THAT(task, NotNull());
  char buf[TASK_COMM_LEN];
  std::memset(buf, 'z', sizeof(buf));
  EXPECT_EQ(get_task_comm(buf, task), buf);
  EXPECT_STREQ(buf, "a_very_long_pro");
  EXPECT_EQ(task_pid_nr(task), 101);
  task_free(task);
}

TEST_F(VfsTest, TaskCreateFailureIsNullAndLeaksNothing) {
  set_slab_fail_hook([](const std::type_info& type, gfp_t) { return type == typeid(struct mm_struct); });
  EXPECT_THAT(task_create("x", mem_), IsNull());
  set_slab_fail_hook([](const std::type_info& type, gfp_t) { return type == typeid(struct files_struct); });
  EXPECT_THAT(task_create("x", mem_), IsNull());
  set_slab_fail_hook(nullptr);
}

// ---- Passing fds ---------------------------------------------------------------------------------------------------

TEST_F(VfsTest, ReceiveFdInstallsANewReferenceAtTheReceiversLowestFreeFd) {
  struct task_struct* receiver = task_create("receiver", mem_);
  ASSERT_THAT(receiver, NotNull());
  const int fd = InstallAnon("a");
  struct file* file = fget(static_cast<unsigned int>(fd));
  {
    current_task_scope as_receiver(receiver);
    EXPECT_EQ(InstallAnon("mine"), 0);
  }
  EXPECT_THAT(receive_fd(receiver->files, file, O_CLOEXEC), IsOkAndHolds(1));
  EXPECT_EQ(file->f_count.load(), 3);
  {
    current_task_scope as_receiver(receiver);
    EXPECT_TRUE(get_close_on_exec(1));
    struct file* got = fget(1);
    EXPECT_EQ(got, file);
    fput(got);
  }
  receiver->files->max_fds = 2;
  EXPECT_THAT(receive_fd(receiver->files, file, 0), IsErrno(EMFILE));
  EXPECT_EQ(file->f_count.load(), 3) << "a refused fd takes no reference";
  fput(file);
  task_free(receiver);
  EXPECT_THAT(g_log.events, ElementsAre("release anon_inode:mine"));
}

}  // namespace
}  // namespace ionsim::kernel
