// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "tools/trace/model_devices.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "model/ion_priv.h"
#include "model/kernel/cpu_cache.h"
#include "model/kernel/dma_mapping.h"
#include "model/kernel/sched.h"
#include "tools/trace/executor.h"

namespace ionsim::trace {

namespace k = ::ionsim::kernel;

namespace {

// The oracle's name for a dma-buf: ION's buffers by their serial, as the state dump names them.
std::string OwnerName(const k::dma_buf* dmabuf) {
  if (dmabuf->exp_name != nullptr && std::strcmp(dmabuf->exp_name, "ion") == 0 && dmabuf->priv != nullptr) {
    return "buffer b" + std::to_string(static_cast<const k::ion_buffer*>(dmabuf->priv)->serial);
  }
  return std::string("dma-buf of ") + (dmabuf->exp_name != nullptr ? dmabuf->exp_name : "?");
}

constexpr size_t kChunk = 64 * 1024;

}  // namespace

ModelDevices::~ModelDevices() { Teardown(); }

ErrnoOr<int> ModelDevices::Create(const std::string& name) {
  auto dev = std::make_unique<k::device>();
  dev->name = name;
  devices_.push_back(std::move(dev));
  return static_cast<int>(devices_.size() - 1);
}

ModelDevices::Attachment* ModelDevices::Find(int attachment) {
  if (attachment < 0 || static_cast<size_t>(attachment) >= attachments_.size()) return nullptr;
  Attachment* a = &attachments_[static_cast<size_t>(attachment)];
  return a->attached ? a : nullptr;
}

ErrnoOr<int> ModelDevices::Attach(int dev, ProcId proc, int fd) {
  if (dev < 0 || static_cast<size_t>(dev) >= devices_.size()) return Errno(-ENODEV);
  k::task_struct* task = model_->task(proc);
  if (task == nullptr) return Errno(-ESRCH);
  ErrnoOr<k::dma_buf*> dmabuf = Errno(-EBADF);
  {
    // The driver's ioctl takes the fd in the calling process.
    k::current_task_scope scope(task);
    dmabuf = k::dma_buf_get(fd);
  }
  if (!dmabuf.ok()) return dmabuf.error();
  ErrnoOr<k::dma_buf_attachment*> attach = k::dma_buf_attach(dmabuf.value(), devices_[static_cast<size_t>(dev)].get());
  if (!attach.ok()) {
    k::dma_buf_put(dmabuf.value());
    return attach.error();
  }
  Attachment a;
  a.dev = dev;
  a.dmabuf = dmabuf.value();
  a.attach = attach.value();
  a.attached = true;
  a.owner = OwnerName(a.dmabuf);
  attachments_.push_back(std::move(a));
  return static_cast<int>(attachments_.size() - 1);
}

Errno ModelDevices::Map(int attachment, int dir) {
  Attachment* a = Find(attachment);
  if (a == nullptr) return Errno(-EINVAL);
  if (a->sgt != nullptr) return Errno(-EBUSY);
  if (dir < 0 || dir > 2) return Errno(-EINVAL);
  const auto d = static_cast<k::dma_data_direction>(dir);
  ErrnoOr<k::sg_table*> sgt = k::dma_buf_map_attachment(a->attach, d);
  if (!sgt.ok()) return sgt.error();
  a->sgt = sgt.value();
  a->dir = d;
  return Errno::Ok();
}

Errno ModelDevices::Unmap(int attachment) {
  Attachment* a = Find(attachment);
  if (a == nullptr || a->sgt == nullptr) return Errno(-EINVAL);
  k::dma_buf_unmap_attachment(a->attach, a->sgt, a->dir);
  a->sgt = nullptr;
  return Errno::Ok();
}

Errno ModelDevices::Transfer(Attachment* a, uint64_t off, uint64_t len, bool write, uint8_t byte, uint32_t* crc) {
  if (a == nullptr || a->sgt == nullptr) return Errno(-EINVAL);
  if (off > a->dmabuf->size || len > a->dmabuf->size - off) return Errno(-EINVAL);
  std::vector<uint8_t> buf(static_cast<size_t>(std::min<uint64_t>(len, kChunk)));
  if (write) std::fill(buf.begin(), buf.end(), byte);
  k::device* dev = devices_[static_cast<size_t>(a->dev)].get();
  for (uint64_t done = 0; done < len;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(len - done, kChunk));
    Errno e = k::dma_device_transfer(dev, a->sgt->sgl, static_cast<int>(a->sgt->nents), off + done, buf.data(), n,
                                     write, a->owner.c_str());
    if (!e.ok()) return e;
    if (!write) *crc = Crc32(*crc, buf.data(), n);
    done += n;
  }
  return Errno::Ok();
}

Errno ModelDevices::Write(int attachment, uint64_t off, uint64_t len, uint8_t byte) {
  return Transfer(Find(attachment), off, len, true, byte, nullptr);
}

ErrnoOr<uint32_t> ModelDevices::Read(int attachment, uint64_t off, uint64_t len) {
  uint32_t crc = 0;
  Errno e = Transfer(Find(attachment), off, len, false, 0, &crc);
  if (!e.ok()) return e;
  return crc;
}

Errno ModelDevices::Sync(int attachment, bool for_device) {
  Attachment* a = Find(attachment);
  if (a == nullptr || a->sgt == nullptr) return Errno(-EINVAL);
  k::device* dev = devices_[static_cast<size_t>(a->dev)].get();
  const int nents = static_cast<int>(a->sgt->nents);
  if (for_device) {
    k::dma_sync_sg_for_device(dev, a->sgt->sgl, nents, a->dir);
  } else {
    k::dma_sync_sg_for_cpu(dev, a->sgt->sgl, nents, a->dir);
  }
  return Errno::Ok();
}

Errno ModelDevices::Detach(int attachment) {
  Attachment* a = Find(attachment);
  if (a == nullptr) return Errno(-EINVAL);
  if (a->sgt != nullptr) return Errno(-EBUSY);
  k::dma_buf_detach(a->dmabuf, a->attach);
  k::dma_buf_put(a->dmabuf);
  a->attached = false;
  a->attach = nullptr;
  a->dmabuf = nullptr;
  return Errno::Ok();
}

std::string ModelDevices::Teardown() {
  std::string out;
  for (size_t i = 0; i < attachments_.size(); ++i) {
    Attachment& a = attachments_[i];
    if (!a.attached) continue;
    out += "device " + devices_[static_cast<size_t>(a.dev)]->name + ": attachment to " + a.owner +
           (a.sgt != nullptr ? " still mapped and" : "") + " still attached at the end (the driver's remove " +
           "unmapped, detached and put it)\n";
    if (a.sgt != nullptr) (void)Unmap(static_cast<int>(i));
    (void)Detach(static_cast<int>(i));  // neither can fail for an attached attachment
  }
  if (!out.empty()) out.pop_back();
  return out;
}

}  // namespace ionsim::trace
