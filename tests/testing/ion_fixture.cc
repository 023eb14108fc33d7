// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "tests/testing/ion_fixture.h"

#include <utility>

namespace ionsim::testing {

void CheckingBackend::Check(const char* op) const {
  const std::string violations = model_->check_invariants();
  if (!violations.empty()) ADD_FAILURE() << "invariant violated after " << op << ":\n" << violations;
}

#define ION_CHECKED(op, call) \
  auto result = (call);       \
  Check(op);                  \
  return result

ErrnoOr<ProcId> CheckingBackend::spawn(const std::string& comm) { ION_CHECKED("spawn", model_->spawn(comm)); }
ErrnoOr<ProcId> CheckingBackend::fork(ProcId parent) { ION_CHECKED("fork", model_->fork(parent)); }
Errno CheckingBackend::exit(ProcId proc) { ION_CHECKED("exit", model_->exit(proc)); }
ErrnoOr<int> CheckingBackend::open(ProcId proc, const std::string& path, unsigned int flags) {
  ION_CHECKED("open", model_->open(proc, path, flags));
}
Errno CheckingBackend::close(ProcId proc, int fd) { ION_CHECKED("close", model_->close(proc, fd)); }
ErrnoOr<int> CheckingBackend::dup(ProcId proc, int fd) { ION_CHECKED("dup", model_->dup(proc, fd)); }
ErrnoOr<int> CheckingBackend::pass_fd(ProcId from, int fd, ProcId to) {
  ION_CHECKED("pass_fd", model_->pass_fd(from, fd, to));
}
ErrnoOr<long> CheckingBackend::ioctl(ProcId proc, int fd, unsigned int cmd, uint64_t arg) {
  ION_CHECKED("ioctl", model_->ioctl(proc, fd, cmd, arg));
}
ErrnoOr<long> CheckingBackend::read(ProcId proc, int fd, uint64_t buf, size_t count) {
  ION_CHECKED("read", model_->read(proc, fd, buf, count));
}
ErrnoOr<long> CheckingBackend::write(ProcId proc, int fd, uint64_t buf, size_t count) {
  ION_CHECKED("write", model_->write(proc, fd, buf, count));
}
ErrnoOr<uint64_t> CheckingBackend::mmap(ProcId proc, uint64_t addr, size_t len, int prot, int flags, int fd,
                                        uint64_t offset) {
  ION_CHECKED("mmap", model_->mmap(proc, addr, len, prot, flags, fd, offset));
}
Errno CheckingBackend::munmap(ProcId proc, uint64_t addr, size_t len) {
  ION_CHECKED("munmap", model_->munmap(proc, addr, len));
}
Errno CheckingBackend::peek(ProcId proc, uint64_t addr, void* buf, size_t len) {
  ION_CHECKED("peek", model_->peek(proc, addr, buf, len));
}
Errno CheckingBackend::poke(ProcId proc, uint64_t addr, const void* buf, size_t len) {
  ION_CHECKED("poke", model_->poke(proc, addr, buf, len));
}
ErrnoOr<std::string> CheckingBackend::debugfs_read(const std::string& path) {
  ION_CHECKED("debugfs_read", model_->debugfs_read(path));
}
Errno CheckingBackend::debugfs_write(const std::string& path, const std::string& text) {
  ION_CHECKED("debugfs_write", model_->debugfs_write(path, text));
}
Errno CheckingBackend::run_deferred_free() { ION_CHECKED("run_deferred_free", model_->run_deferred_free()); }
ErrnoOr<std::string> CheckingBackend::canonical_dump() { return model_->canonical_dump(); }

#undef ION_CHECKED

IonTest::IonTest(const ModelConfig& config) {
  ErrnoOr<std::unique_ptr<ModelBackend>> model = ModelBackend::Create(config);
  if (!model.ok()) {
    ADD_FAILURE() << "ModelBackend::Create: " << model.error();
    return;
  }
  backend_ = std::make_unique<CheckingBackend>(std::move(model).value());
  ErrnoOr<ProcId> proc = backend_->spawn("app");
  if (!proc.ok()) {
    ADD_FAILURE() << "spawn: " << proc.error();
    return;
  }
  proc_ = proc.value();
  ion_ = std::make_unique<LibIon>(backend_.get(), proc_);
  ErrnoOr<int> fd = ion_->Open();
  if (!fd.ok()) {
    ADD_FAILURE() << "open /dev/ion: " << fd.error();
    return;
  }
  fd_ = fd.value();
}

IonTest::~IonTest() {
  ion_.reset();
  backend_.reset();
}

std::unique_ptr<LibIon> IonTest::NewProcess(const std::string& comm) {
  ErrnoOr<ProcId> proc = backend_->spawn(comm);
  if (!proc.ok()) {
    ADD_FAILURE() << "spawn: " << proc.error();
    return nullptr;
  }
  return std::make_unique<LibIon>(backend_.get(), proc.value());
}

namespace {
constexpr int kProtRw = 0x3;     // PROT_READ | PROT_WRITE
constexpr int kMapShared = 0x01;  // MAP_SHARED
}  // namespace

Errno WriteThroughMapping(LibIon* ion, int fd, int handle, size_t len, uint8_t byte) {
  ION_ASSIGN_OR_RETURN(int share, ion->Share(fd, handle));
  IonBackend* b = ion->backend();
  ErrnoOr<uint64_t> addr = b->mmap(ion->proc(), 0, len, kProtRw, kMapShared, share, 0);
  Errno ret = addr.ok() ? Errno::Ok() : addr.error();
  if (addr.ok()) {
    const std::vector<uint8_t> bytes(len, byte);
    ret = b->poke(ion->proc(), addr.value(), bytes.data(), len);
    b->munmap(ion->proc(), addr.value(), len).IgnoreError();
  }
  b->close(ion->proc(), share).IgnoreError();
  return ret;
}

std::vector<uint8_t> ReadThroughMapping(LibIon* ion, int fd, int handle, size_t len) {
  ErrnoOr<int> share = ion->Share(fd, handle);
  if (!share.ok()) return {};
  IonBackend* b = ion->backend();
  std::vector<uint8_t> bytes(len, 0xee);
  ErrnoOr<uint64_t> addr = b->mmap(ion->proc(), 0, len, kProtRw, kMapShared, share.value(), 0);
  if (!addr.ok() || !b->peek(ion->proc(), addr.value(), bytes.data(), len).ok()) bytes.clear();
  if (addr.ok()) b->munmap(ion->proc(), addr.value(), len).IgnoreError();
  b->close(ion->proc(), share.value()).IgnoreError();
  return bytes;
}

kernel::ion_buffer* FindBuffer(CheckingBackend* backend, unsigned long serial) {
  kernel::ion_device* dev = backend->model()->device();
  kernel::ion_buffer* found = nullptr;
  kernel::mutex_lock(&dev->buffer_lock);
  for (kernel::rb_node* n = kernel::rb_first(&dev->buffers); n; n = kernel::rb_next(n)) {
    kernel::ion_buffer* buffer = rb_entry(n, kernel::ion_buffer, node);
    if (buffer->serial == serial) found = buffer;
  }
  kernel::mutex_unlock(&dev->buffer_lock);
  return found;
}

std::vector<kernel::page*> ChunkPages(CheckingBackend* backend, unsigned long serial) {
  kernel::ion_buffer* buffer = FindBuffer(backend, serial);
  if (!buffer) return {};
  std::vector<kernel::page*> pages;
  kernel::scatterlist* sg;
  unsigned int i;
  for_each_sg(buffer->sg_table->sgl, sg, buffer->sg_table->nents, i) pages.push_back(kernel::sg_page(sg));
  return pages;
}

}  // namespace ionsim::testing
