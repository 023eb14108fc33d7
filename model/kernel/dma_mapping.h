// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Devices and the streaming DMA API, as include/linux/dma-mapping.h @ v4.4 behaves on a coherent, IOMMU-less
// machine: a mapped entry's DMA address is its physical address, and syncs move no data (the model's memory is
// coherent). Each device counts its maps, unmaps and syncs so tests can see cache maintenance happen. A direction
// other than DMA_BIDIRECTIONAL, DMA_TO_DEVICE or DMA_FROM_DEVICE is a BUG, as valid_dma_direction() makes it.
#ifndef MODEL_KERNEL_DMA_MAPPING_H_
#define MODEL_KERNEL_DMA_MAPPING_H_

#include <atomic>
#include <string>

#include "model/kernel/scatterlist.h"

namespace ionsim::kernel {

// Mirrors include/linux/dma-direction.h:enum dma_data_direction @ v4.4.
enum dma_data_direction { DMA_BIDIRECTIONAL = 0, DMA_TO_DEVICE = 1, DMA_FROM_DEVICE = 2, DMA_NONE = 3 };

// Mirrors include/linux/device.h:struct device @ v4.4, reduced to a name and the DMA counters.
struct device {
  std::string name;
  std::atomic<long> nr_map_sg{0};
  std::atomic<long> nr_unmap_sg{0};
  std::atomic<long> nr_sync_for_device{0};
  std::atomic<long> nr_sync_for_cpu{0};
};

// Syncs issued with a NULL device (ION's ION_IOC_SYNC and ion_buffer_sync_for_device do this), counted globally.
long dma_null_device_sync_count();

// Mirrors include/linux/dma-mapping.h:dma_map_sg() @ v4.4: sets each entry's dma_address and dma_length; returns
// nents (0 would be failure, which a direct mapping never has).
int dma_map_sg(struct device* dev, struct scatterlist* sg, int nents, enum dma_data_direction dir);
// Mirrors include/linux/dma-mapping.h:dma_unmap_sg() @ v4.4.
void dma_unmap_sg(struct device* dev, struct scatterlist* sg, int nents, enum dma_data_direction dir);
// Mirrors include/linux/dma-mapping.h:dma_sync_sg_for_device() @ v4.4; dev may be NULL.
void dma_sync_sg_for_device(struct device* dev, struct scatterlist* sg, int nents, enum dma_data_direction dir);
// Mirrors include/linux/dma-mapping.h:dma_sync_sg_for_cpu() @ v4.4; dev may be NULL.
void dma_sync_sg_for_cpu(struct device* dev, struct scatterlist* sg, int nents, enum dma_data_direction dir);

}  // namespace ionsim::kernel

#endif  // MODEL_KERNEL_DMA_MAPPING_H_
