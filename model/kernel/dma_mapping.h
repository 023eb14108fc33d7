// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Devices and the streaming DMA API, as include/linux/dma-mapping.h @ v4.4 behaves with arch/arm's
// arm_dma_ops on an IOMMU-less machine: a mapped entry's DMA address is its physical address; maps, unmaps and
// syncs do the cache maintenance of arch/arm/mm/dma-mapping.c on the CPU cache model
// (model/kernel/cpu_cache.h), whose oracle reports stale data; the bytes stay coherent unless the machine is
// put in non-coherent mode. Each device counts its maps, unmaps and syncs so tests can see cache maintenance
// happen. A direction other than DMA_BIDIRECTIONAL, DMA_TO_DEVICE or DMA_FROM_DEVICE is a BUG, as
// valid_dma_direction() makes it.
#ifndef MODEL_KERNEL_DMA_MAPPING_H_
#define MODEL_KERNEL_DMA_MAPPING_H_

#include <atomic>
#include <string>

#include "model/kernel/cma.h"
#include "model/kernel/mm_user.h"
#include "model/kernel/scatterlist.h"

namespace ionsim::kernel {

// Mirrors include/linux/dma-direction.h:enum dma_data_direction @ v4.4.
enum dma_data_direction { DMA_BIDIRECTIONAL = 0, DMA_TO_DEVICE = 1, DMA_FROM_DEVICE = 2, DMA_NONE = 3 };

// Mirrors include/linux/device.h:struct device @ v4.4, reduced to a name, the CMA area and the DMA counters.
struct device {
  std::string name;
  struct cma* cma_area = nullptr;  // CONFIG_DMA_CMA: the area dma_alloc_coherent() takes memory from
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

// A device's DMA engine (not a kernel function): reads (write false) or writes len bytes at byte offset `off` of
// a scatterlist the device mapped, through the CPU cache model (model/kernel/cpu_cache.h), which reports stale
// data under `owner`'s name ("buffer b3"). -EFAULT when an entry the range touches is not mapped for DMA,
// -EINVAL when the range runs past the list.
Errno dma_device_transfer(struct device* dev, struct scatterlist* sg, int nents, uint64_t off, void* buf,
                          size_t len, bool write, const char* owner);

// ---- Coherent allocations (arch/arm/mm/dma-mapping.c @ v4.4, CMA path) --------------------------------------------

// Mirrors arch/arm/mm/dma-mapping.c:__dma_alloc() @ v4.4 for a device with a CMA area: PAGE_ALIGN(size) bytes
// from the area (dma_alloc_from_contiguous: alignment order min(get_order(size), CONFIG_CMA_ALIGNMENT)),
// cleared, and mapped into the kernel with `prot` (page_address() for lowmem, a vmap for highmem). *handle gets
// the physical address. NULL when the area has no room, or the device has no area.
void* dma_alloc_attrs_cma(struct device* dev, size_t size, phys_addr_t* handle, pgprot_t prot);
// Mirrors include/asm-generic/dma-mapping-common.h:dma_alloc_coherent() @ v4.4 (pgprot_dmacoherent: on ARMv7
// a bufferable, uncached mapping; the model's name for that memory type is write-combine).
inline void* dma_alloc_coherent(struct device* dev, size_t size, phys_addr_t* handle, gfp_t /*gfp*/) {
  return dma_alloc_attrs_cma(dev, size, handle, pgprot_writecombine(PAGE_KERNEL));
}
// Mirrors include/linux/dma-mapping.h:dma_alloc_writecombine() @ v4.4.
inline void* dma_alloc_writecombine(struct device* dev, size_t size, phys_addr_t* handle, gfp_t /*gfp*/) {
  return dma_alloc_attrs_cma(dev, size, handle, pgprot_writecombine(PAGE_KERNEL));
}
// Mirrors arch/arm/mm/dma-mapping.c:__arm_dma_free() @ v4.4 (CMA path): unmaps and returns the pages.
void dma_free_coherent(struct device* dev, size_t size, void* cpu_addr, phys_addr_t handle);
// Mirrors arch/arm/mm/dma-mapping.c:arm_dma_get_sgtable() @ v4.4: one entry of PAGE_ALIGN(size) bytes.
Errno dma_get_sgtable(struct device* dev, struct sg_table* sgt, void* cpu_addr, phys_addr_t handle, size_t size);
// Mirrors arch/arm/mm/dma-mapping.c:arm_dma_mmap() @ v4.4: the vma gets a write-combine pgprot and the pfns from
// vm_pgoff on; -ENXIO when the vma does not fit inside the allocation.
Errno dma_mmap_coherent(struct device* dev, struct vm_area_struct* vma, void* cpu_addr, phys_addr_t handle,
                        size_t size);

}  // namespace ionsim::kernel

#endif  // MODEL_KERNEL_DMA_MAPPING_H_
