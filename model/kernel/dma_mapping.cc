// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "model/kernel/dma_mapping.h"

#include <atomic>

#include "model/kernel/bug.h"

namespace ionsim::kernel {
namespace {

std::atomic<long> g_null_device_syncs{0};

// Mirrors include/linux/dma-direction.h:valid_dma_direction() @ v4.4.
bool valid_dma_direction(enum dma_data_direction dir) {
  return dir == DMA_BIDIRECTIONAL || dir == DMA_TO_DEVICE || dir == DMA_FROM_DEVICE;
}

void count_sync(struct device* dev, std::atomic<long> device::*counter) {
  if (dev == nullptr) {
    g_null_device_syncs.fetch_add(1, std::memory_order_relaxed);
  } else {
    (dev->*counter).fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace

long dma_null_device_sync_count() { return g_null_device_syncs.load(std::memory_order_relaxed); }

// Mirrors include/asm-generic/dma-mapping-common.h:dma_map_sg_attrs() @ v4.4 with
// arch/arm/mm/dma-mapping.c:arm_dma_map_sg() as the ops: each entry's DMA address is its physical address.
int dma_map_sg(struct device* dev, struct scatterlist* sg, int nents, enum dma_data_direction dir) {
  BUG_ON(!valid_dma_direction(dir));
  struct scatterlist* s;
  int i;
  for_each_sg(sg, s, nents, i) {
    sg_dma_address(s) = sg_phys(s);
    sg_dma_len(s) = s->length;
  }
  if (dev != nullptr) dev->nr_map_sg.fetch_add(1, std::memory_order_relaxed);
  return nents;
}

// Mirrors include/asm-generic/dma-mapping-common.h:dma_unmap_sg_attrs() @ v4.4.
void dma_unmap_sg(struct device* dev, struct scatterlist* /*sg*/, int /*nents*/, enum dma_data_direction dir) {
  BUG_ON(!valid_dma_direction(dir));
  if (dev != nullptr) dev->nr_unmap_sg.fetch_add(1, std::memory_order_relaxed);
}

// Mirrors include/asm-generic/dma-mapping-common.h:dma_sync_sg_for_device() @ v4.4: coherent memory, so only the
// call is counted.
void dma_sync_sg_for_device(struct device* dev, struct scatterlist* /*sg*/, int /*nents*/,
                            enum dma_data_direction dir) {
  BUG_ON(!valid_dma_direction(dir));
  count_sync(dev, &device::nr_sync_for_device);
}

// Mirrors include/asm-generic/dma-mapping-common.h:dma_sync_sg_for_cpu() @ v4.4.
void dma_sync_sg_for_cpu(struct device* dev, struct scatterlist* /*sg*/, int /*nents*/,
                         enum dma_data_direction dir) {
  BUG_ON(!valid_dma_direction(dir));
  count_sync(dev, &device::nr_sync_for_cpu);
}

}  // namespace ionsim::kernel
