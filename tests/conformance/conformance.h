// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Backend-neutral ION conformance tests: each test body is written once against IonBackend and runs on every
// backend, one test target per backend (conformance_model_test on the host, conformance_kernel_test in the QEMU
// guest). A target supplies NewBackend() and FinishBackend(). Every test starts on a fresh machine with the
// dummy board (kmod/ion_board.c: system 0, "system contig" 1, a 4 MiB carveout 2, a 4 MiB chunk heap 3 of 16 KiB
// chunks) and one process "app" with /dev/ion open, and ends by exiting every process and draining the
// deferred frees, after which nothing may be left alive. A divergence between backends is an explicit
// GTEST_SKIP() naming its reason, never a silently weaker check.
#ifndef TESTS_CONFORMANCE_CONFORMANCE_H_
#define TESTS_CONFORMANCE_CONFORMANCE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "model/backend/ion_backend.h"
#include "model/backend/libion.h"

namespace ionsim::conformance {

// Defined by the target. A fresh machine with the dummy board's heaps and no process, or nullptr with the
// reason in *error.
std::unique_ptr<IonBackend> NewBackend(std::string* error);
// Exits every process of the backend, runs the deferred frees and returns what is still alive, one line each
// ("" when everything came back). The backend is destroyed afterwards.
std::string FinishBackend(IonBackend* backend);

// The dummy board's heaps.
inline constexpr unsigned int kSystemMask = 1U << 0;
inline constexpr unsigned int kContigMask = 1U << 1;
inline constexpr unsigned int kCarveoutMask = 1U << 2;
inline constexpr unsigned int kChunkMask = 1U << 3;
inline constexpr size_t kPage = 4096;

// open(2), mmap(2) and ioctl(2) numbers as userspace passes them (asm-generic values, x86_64).
inline constexpr unsigned int kORdonly = 0;
inline constexpr unsigned int kORdwr = 02;
inline constexpr unsigned int kOCloexec = 02000000;
inline constexpr int kProtRead = 0x1;
inline constexpr int kProtRw = 0x3;
inline constexpr int kMapShared = 0x01;
inline constexpr int kMapPrivate = 0x02;
inline constexpr int kMapFixed = 0x10;
inline constexpr int kMapAnonymous = 0x20;

class ConformanceTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  bool IsKernel() const { return backend_->name() == "kernel"; }

  // Another process with its own libion (nullptr and a failure when spawn fails).
  std::unique_ptr<LibIon> NewProcess(const std::string& comm);

  // The canonical dump ("" and a failure when it cannot be read).
  std::string Dump();
  // A debugfs file ("" and a failure when it cannot be read).
  std::string Read(const std::string& path);
  // The canonical dump after the deferred frees ran.
  std::string DrainedDump();

  // Anonymous memory of a process; 0 and a failure when mmap fails. libion's scratch page is mapped first so
  // that it never lands in a hole a test made on purpose.
  uint64_t MapAnon(LibIon* ion, uint64_t bytes, int prot, uint64_t at = 0);
  uint64_t MapAnon(uint64_t bytes, int prot, uint64_t at = 0) { return MapAnon(ion_.get(), bytes, prot, at); }
  // One read-write page of the app whose next page is unmapped.
  uint64_t PageBeforeAHole();
  uint64_t UnmappedAddress() { return PageBeforeAHole() + kPage; }

  ErrnoOr<long> RawIoctl(unsigned int cmd, uint64_t arg) { return backend_->ioctl(proc_, fd_, cmd, arg); }

  // dup()s fd until the app's fd table is full (EMFILE); returns the new fds.
  std::vector<int> FillFdTable(int fd);
  void CloseAll(const std::vector<int>& fds);
  // The fd the app's next open would get (found with dup and closed again).
  int NextFd();

  std::unique_ptr<IonBackend> backend_;
  ProcId proc_ = 0;
  std::unique_ptr<LibIon> ion_;
  int fd_ = -1;
};

}  // namespace ionsim::conformance

#endif  // TESTS_CONFORMANCE_CONFORMANCE_H_
