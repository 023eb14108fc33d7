// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// TraceDevices on the model: each device is a struct device of the model's kernel, and each operation is the
// dma-buf and DMA API calls a driver makes (model/kernel/dma_buf.h, model/kernel/dma_mapping.h), so the CPU cache
// model's oracle (model/kernel/cpu_cache.h) sees every DMA and every maintenance step.
#ifndef TOOLS_TRACE_MODEL_DEVICES_H_
#define TOOLS_TRACE_MODEL_DEVICES_H_

#include <memory>
#include <string>
#include <vector>

#include "model/backend/model_backend.h"
#include "model/kernel/dma_buf.h"
#include "tools/trace/devices.h"

namespace ionsim::trace {

class ModelDevices : public TraceDevices {
 public:
  explicit ModelDevices(ModelBackend* model) : model_(model) {}
  // Teardown() if it has not run.
  ~ModelDevices() override;

  ErrnoOr<int> Create(const std::string& name) override;
  ErrnoOr<int> Attach(int dev, ProcId proc, int fd) override;
  Errno Map(int attachment, int dir) override;
  Errno Unmap(int attachment) override;
  Errno Write(int attachment, uint64_t off, uint64_t len, uint8_t byte) override;
  ErrnoOr<uint32_t> Read(int attachment, uint64_t off, uint64_t len) override;
  Errno Sync(int attachment, bool for_device) override;
  Errno Detach(int attachment) override;
  std::string Teardown() override;

 private:
  struct Attachment {
    int dev = -1;
    kernel::dma_buf* dmabuf = nullptr;
    kernel::dma_buf_attachment* attach = nullptr;
    kernel::sg_table* sgt = nullptr;  // while mapped
    kernel::dma_data_direction dir = kernel::DMA_BIDIRECTIONAL;
    bool attached = false;
    std::string owner;  // "buffer b3", for the oracle's reports
  };
  Attachment* Find(int attachment);
  Errno Transfer(Attachment* a, uint64_t off, uint64_t len, bool write, uint8_t byte, uint32_t* crc);

  ModelBackend* model_;
  std::vector<std::unique_ptr<kernel::device>> devices_;
  std::vector<Attachment> attachments_;
};

}  // namespace ionsim::trace

#endif  // TOOLS_TRACE_MODEL_DEVICES_H_
