// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "model/backend/libion.h"

#include <cstring>

namespace ionsim {
namespace {

constexpr unsigned int kORdonly = 0;
constexpr unsigned int kOCloexec = 02000000;
constexpr int kProtRw = 0x3;
constexpr int kMapPrivateAnon = 0x02 | 0x20;
constexpr size_t kScratchBytes = 1 << 16;  // room for 1260 ion_heap_data entries
// _IOW('b', 0, struct dma_buf_sync)
constexpr unsigned int kDmaBufIoctlSync = 0x40086200;

}  // namespace

uint64_t LibIon::Scratch() {
  if (scratch_ == 0) {
    ErrnoOr<uint64_t> addr = backend_->mmap(proc_, 0, kScratchBytes, kProtRw, kMapPrivateAnon, -1, 0);
    if (addr.ok()) scratch_ = addr.value();
  }
  return scratch_;
}

ErrnoOr<long> LibIon::Ioctl(int fd, unsigned int cmd, void* arg, size_t size) {
  const uint64_t user = Scratch();
  if (user == 0) return Errno(-ENOMEM);
  if (size > 0) ION_RETURN_IF_ERROR(backend_->poke(proc_, user, arg, size));
  ErrnoOr<long> ret = backend_->ioctl(proc_, fd, cmd, user);
  if (size > 0) ION_RETURN_IF_ERROR(backend_->peek(proc_, user, arg, size));
  return ret;
}

ErrnoOr<int> LibIon::Open() { return backend_->open(proc_, "/dev/ion", kORdonly | kOCloexec); }

Errno LibIon::Close(int fd) { return backend_->close(proc_, fd); }

ErrnoOr<int> LibIon::Alloc(int fd, size_t len, size_t align, unsigned int heap_mask, unsigned int flags) {
  ion_allocation_data data;
  std::memset(&data, 0, sizeof(data));
  data.len = len;
  data.align = align;
  data.heap_id_mask = heap_mask;
  data.flags = flags;
  ErrnoOr<long> ret = Ioctl(fd, ION_IOC_ALLOC, &data, sizeof(data));
  if (!ret.ok()) return ret.error();
  return data.handle;
}

ErrnoOr<int> LibIon::AllocFd(int fd, size_t len, unsigned int heap_mask, unsigned int flags) {
  ion_new_allocation_data data;
  std::memset(&data, 0, sizeof(data));
  data.len = len;
  data.heap_id_mask = heap_mask;
  data.flags = flags;
  ErrnoOr<long> ret = Ioctl(fd, ION_IOC_NEW_ALLOC, &data, sizeof(data));
  if (!ret.ok()) return ret.error();
  return static_cast<int>(data.fd);
}

Errno LibIon::Free(int fd, int handle) {
  ion_handle_data data = {handle};
  ErrnoOr<long> ret = Ioctl(fd, ION_IOC_FREE, &data, sizeof(data));
  return ret.ok() ? Errno::Ok() : ret.error();
}

ErrnoOr<int> LibIon::Share(int fd, int handle) {
  ion_fd_data data = {handle, 0};
  ErrnoOr<long> ret = Ioctl(fd, ION_IOC_SHARE, &data, sizeof(data));
  if (!ret.ok()) return ret.error();
  return data.fd;
}

ErrnoOr<int> LibIon::Map(int fd, int handle) {
  ion_fd_data data = {handle, 0};
  ErrnoOr<long> ret = Ioctl(fd, ION_IOC_MAP, &data, sizeof(data));
  if (!ret.ok()) return ret.error();
  return data.fd;
}

ErrnoOr<int> LibIon::Import(int fd, int share_fd) {
  ion_fd_data data = {0, share_fd};
  ErrnoOr<long> ret = Ioctl(fd, ION_IOC_IMPORT, &data, sizeof(data));
  if (!ret.ok()) return ret.error();
  return data.handle;
}

Errno LibIon::Sync(int fd, int share_fd) {
  ion_fd_data data = {0, share_fd};
  ErrnoOr<long> ret = Ioctl(fd, ION_IOC_SYNC, &data, sizeof(data));
  return ret.ok() ? Errno::Ok() : ret.error();
}

ErrnoOr<int> LibIon::HeapCount(int fd) {
  ion_heap_query query;
  std::memset(&query, 0, sizeof(query));
  ErrnoOr<long> ret = Ioctl(fd, ION_IOC_HEAP_QUERY, &query, sizeof(query));
  if (!ret.ok()) return ret.error();
  return static_cast<int>(query.cnt);
}

ErrnoOr<std::vector<ion_heap_data>> LibIon::QueryHeaps(int fd, unsigned int cnt) {
  const uint64_t user = Scratch();
  if (user == 0) return Errno(-ENOMEM);
  const uint64_t heaps = user + 64;
  if (64 + static_cast<uint64_t>(cnt) * sizeof(ion_heap_data) > kScratchBytes) return Errno(-E2BIG);
  ion_heap_query query;
  std::memset(&query, 0, sizeof(query));
  query.cnt = cnt;
  query.heaps = heaps;
  ION_RETURN_IF_ERROR(backend_->poke(proc_, user, &query, sizeof(query)));
  ErrnoOr<long> ret = backend_->ioctl(proc_, fd, ION_IOC_HEAP_QUERY, user);
  if (!ret.ok()) return ret.error();
  ION_RETURN_IF_ERROR(backend_->peek(proc_, user, &query, sizeof(query)));
  std::vector<ion_heap_data> out(query.cnt);
  if (!out.empty()) ION_RETURN_IF_ERROR(backend_->peek(proc_, heaps, out.data(), out.size() * sizeof(ion_heap_data)));
  return out;
}

Errno LibIon::DmaBufSync(int dmabuf_fd, uint64_t flags) {
  ErrnoOr<long> ret = Ioctl(dmabuf_fd, kDmaBufIoctlSync, &flags, sizeof(flags));
  return ret.ok() ? Errno::Ok() : ret.error();
}

}  // namespace ionsim
