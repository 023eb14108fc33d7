// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Test support for ION policy tests: a ModelBackend wrapped so that the invariant checker runs after every
// operation (any violation fails the test at the operation that caused it), and a fixture with one process
// and one open /dev/ion.
#ifndef TESTS_TESTING_ION_FIXTURE_H_
#define TESTS_TESTING_ION_FIXTURE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "model/backend/ion_backend.h"
#include "model/backend/libion.h"
#include "model/backend/model_backend.h"
#include "model/ion_priv.h"

namespace ionsim::testing {

// Forwards every call to a ModelBackend and then runs its invariant checker; a violation is a test failure
// naming the operation.
class CheckingBackend : public IonBackend {
 public:
  explicit CheckingBackend(std::unique_ptr<ModelBackend> model) : model_(std::move(model)) {}

  ModelBackend* model() const { return model_.get(); }
  // Runs the checker now (also done after every operation).
  void Check(const char* op) const;

  std::string name() const override { return model_->name(); }
  ErrnoOr<ProcId> spawn(const std::string& comm) override;
  ErrnoOr<ProcId> fork(ProcId parent) override;
  Errno exit(ProcId proc) override;
  ErrnoOr<int> open(ProcId proc, const std::string& path, unsigned int flags) override;
  Errno close(ProcId proc, int fd) override;
  ErrnoOr<int> dup(ProcId proc, int fd) override;
  ErrnoOr<int> pass_fd(ProcId from, int fd, ProcId to) override;
  ErrnoOr<long> ioctl(ProcId proc, int fd, unsigned int cmd, uint64_t arg) override;
  ErrnoOr<long> read(ProcId proc, int fd, uint64_t buf, size_t count) override;
  ErrnoOr<long> write(ProcId proc, int fd, uint64_t buf, size_t count) override;
  ErrnoOr<uint64_t> mmap(ProcId proc, uint64_t addr, size_t len, int prot, int flags, int fd,
                         uint64_t offset) override;
  Errno munmap(ProcId proc, uint64_t addr, size_t len) override;
  Errno peek(ProcId proc, uint64_t addr, void* buf, size_t len) override;
  Errno poke(ProcId proc, uint64_t addr, const void* buf, size_t len) override;
  ErrnoOr<std::string> debugfs_read(const std::string& path) override;
  Errno debugfs_write(const std::string& path, const std::string& text) override;
  Errno run_deferred_free() override;
  ErrnoOr<std::string> canonical_dump() override;

 private:
  std::unique_ptr<ModelBackend> model_;
};

// A checked model backend on CoreModelConfig() (or a given config), one process "app" and its /dev/ion fd.
class IonTest : public ::testing::Test {
 protected:
  IonTest() : IonTest(CoreModelConfig()) {}
  explicit IonTest(const ModelConfig& config);
  ~IonTest() override;

  // Spawns another process with its own libion.
  std::unique_ptr<LibIon> NewProcess(const std::string& comm);

  std::unique_ptr<CheckingBackend> backend_;
  ProcId proc_ = 0;
  std::unique_ptr<LibIon> ion_;
  int fd_ = -1;
};

// Writes `byte` over the first len bytes of handle's buffer through a fresh shared mapping of a SHARE fd (the
// fd and the mapping are gone again on return).
Errno WriteThroughMapping(LibIon* ion, int fd, int handle, size_t len, uint8_t byte);
// Reads the first len bytes of handle's buffer the same way; {} when any step fails.
std::vector<uint8_t> ReadThroughMapping(LibIon* ion, int fd, int handle, size_t len);

// The buffer in the device tree with canonical serial b<serial>, or NULL (white-box, under dev->buffer_lock).
kernel::ion_buffer* FindBuffer(CheckingBackend* backend, unsigned long serial);
// The first page of each sg entry of buffer b<serial>, in sg order ({} when it is not alive).
std::vector<kernel::page*> ChunkPages(CheckingBackend* backend, unsigned long serial);

}  // namespace ionsim::testing

#endif  // TESTS_TESTING_ION_FIXTURE_H_
