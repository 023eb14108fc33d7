// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Simulated devices for traces (docs/trace.md, "Devices"): the importer side of dma-buf as a driver does it. A
// device receives a dma-buf fd from a process (dma_buf_get in that process's context), attaches to the buffer
// (dma_buf_attach), maps it for DMA with a direction (dma_buf_map_attachment), reads and writes it through DMA,
// unmaps, detaches and puts the buffer. The Executor drives one through this interface; the model's is
// model_devices.h.
#ifndef TOOLS_TRACE_DEVICES_H_
#define TOOLS_TRACE_DEVICES_H_

#include <cstdint>
#include <string>

#include "model/backend/ion_backend.h"

namespace ionsim::trace {

class TraceDevices {
 public:
  virtual ~TraceDevices() = default;

  // A new device named `name`; returns its number.
  virtual ErrnoOr<int> Create(const std::string& name) = 0;
  // Device `dev` takes the dma-buf at `fd` of process `proc` and attaches to it; returns the attachment's number.
  // The fd's errno (EBADF, EINVAL for a file that is not a dma-buf) or the exporter's attach error.
  virtual ErrnoOr<int> Attach(int dev, ProcId proc, int fd) = 0;
  // dma_buf_map_attachment with dir (enum dma_data_direction: 0 bidirectional, 1 to device, 2 from device).
  // EBUSY when already mapped.
  virtual Errno Map(int attachment, int dir) = 0;
  // dma_buf_unmap_attachment with the direction of the map. EINVAL when not mapped.
  virtual Errno Unmap(int attachment) = 0;
  // DMA of len bytes of `byte` into the buffer at off. EINVAL when not mapped or the range leaves the buffer.
  virtual Errno Write(int attachment, uint64_t off, uint64_t len, uint8_t byte) = 0;
  // DMA of len bytes out of the buffer at off; the crc32 of what the device read. Errors as Write.
  virtual ErrnoOr<uint32_t> Read(int attachment, uint64_t off, uint64_t len) = 0;
  // The driver's dma_sync_sg_for_device (for_device) or dma_sync_sg_for_cpu on the mapped table, with the
  // direction of the map. EINVAL when not mapped.
  virtual Errno Sync(int attachment, bool for_device) = 0;
  // dma_buf_detach and dma_buf_put. EBUSY while mapped, EINVAL when already detached.
  virtual Errno Detach(int attachment) = 0;
  // The end of the run (the drivers' remove): every attachment still attached is unmapped, detached and put.
  // Returns one line per such attachment, "" when there was none.
  virtual std::string Teardown() = 0;
};

}  // namespace ionsim::trace

#endif  // TOOLS_TRACE_DEVICES_H_
