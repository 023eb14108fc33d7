// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "tests/conformance/conformance.h"

#include <utility>

#include "tests/testing/errno_matchers.h"

namespace ionsim::conformance {

using ::ionsim::testing::IsErrno;
using ::ionsim::testing::IsOk;

void ConformanceTest::SetUp() {
  std::string error;
  backend_ = NewBackend(&error);
  ASSERT_NE(backend_, nullptr) << error;
  ErrnoOr<ProcId> proc = backend_->spawn("app");
  ASSERT_THAT(proc, IsOk());
  proc_ = proc.value();
  ion_ = std::make_unique<LibIon>(backend_.get(), proc_);
  ErrnoOr<int> fd = ion_->Open();
  ASSERT_THAT(fd, IsOk());
  fd_ = fd.value();
  ASSERT_NE(ion_->Scratch(), 0U);
}

void ConformanceTest::TearDown() {
  if (backend_ == nullptr) return;
  const std::string leaks = FinishBackend(backend_.get());
  EXPECT_EQ(leaks, "") << "still alive after every process exited and the deferred frees ran";
  ion_.reset();
  backend_.reset();
}

std::unique_ptr<LibIon> ConformanceTest::NewProcess(const std::string& comm) {
  ErrnoOr<ProcId> proc = backend_->spawn(comm);
  EXPECT_THAT(proc, IsOk());
  if (!proc.ok()) return nullptr;
  auto ion = std::make_unique<LibIon>(backend_.get(), proc.value());
  EXPECT_NE(ion->Scratch(), 0U);
  return ion;
}

std::string ConformanceTest::Dump() {
  ErrnoOr<std::string> dump = backend_->canonical_dump();
  EXPECT_THAT(dump, IsOk());
  return dump.ok() ? dump.value() : "";
}

std::string ConformanceTest::Read(const std::string& path) {
  ErrnoOr<std::string> text = backend_->debugfs_read(path);
  EXPECT_THAT(text, IsOk()) << path;
  return text.ok() ? text.value() : "";
}

std::string ConformanceTest::DrainedDump() {
  EXPECT_THAT(backend_->run_deferred_free(), IsOk());
  return Dump();
}

uint64_t ConformanceTest::MapAnon(LibIon* ion, uint64_t bytes, int prot, uint64_t at) {
  EXPECT_NE(ion->Scratch(), 0U);
  const int flags = kMapPrivate | kMapAnonymous | (at != 0 ? kMapFixed : 0);
  ErrnoOr<uint64_t> addr = backend_->mmap(ion->proc(), at, bytes, prot, flags, -1, 0);
  EXPECT_THAT(addr, IsOk());
  return addr.ok() ? addr.value() : 0;
}

uint64_t ConformanceTest::PageBeforeAHole() {
  const uint64_t addr = MapAnon(2 * kPage, kProtRw);
  EXPECT_THAT(backend_->munmap(proc_, addr + kPage, kPage), IsOk());
  return addr;
}

std::vector<int> ConformanceTest::FillFdTable(int fd) {
  std::vector<int> fds;
  for (;;) {
    ErrnoOr<int> got = backend_->dup(proc_, fd);
    if (!got.ok()) {
      EXPECT_THAT(got, IsErrno(EMFILE));
      break;
    }
    fds.push_back(got.value());
  }
  return fds;
}

void ConformanceTest::CloseAll(const std::vector<int>& fds) {
  for (int fd : fds) EXPECT_THAT(backend_->close(proc_, fd), IsOk());
}

int ConformanceTest::NextFd() {
  ErrnoOr<int> fd = backend_->dup(proc_, fd_);
  EXPECT_THAT(fd, IsOk());
  if (!fd.ok()) return -1;
  EXPECT_THAT(backend_->close(proc_, fd.value()), IsOk());
  return fd.value();
}

}  // namespace ionsim::conformance
