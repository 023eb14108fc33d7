// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The CPU data cache of a non-coherent ARMv7 SoC, as ION's users had it, at cache-line granularity (64 bytes,
// CONFIG_ARM_L1_CACHE_SHIFT 6), and the coherency oracle built on it. The model's memory itself stays coherent
// (the bytes of a page are the latest bytes anyone wrote); beside it the cache keeps, per physical line, what a
// non-coherent machine would disagree about:
//   - a line is DIRTY when the CPU stored into it through a cacheable mapping (a user mapping of an
//     ION_FLAG_CACHED buffer, a cached kernel mapping) and no clean has written it back to memory since: a device
//     reading it through DMA sees memory, that is the bytes from before the store;
//   - a line is STALE when a device wrote it through DMA and no invalidate has dropped the CPU's copy since: a
//     CPU load through a cacheable mapping may hit that old copy.
// Write-combine and uncached mappings bypass the cache (their stores go to memory; their loads read memory).
// Maintenance is arch/arm/mm/cache-v7.S's, as the streaming DMA API reaches it (arch/arm/mm/dma-mapping.c
// __dma_page_cpu_to_dev / __dma_page_dev_to_cpu @ v4.4): cpu_cache_clean() writes dirty lines back
// (dma_map_sg and dma_sync_sg_for_device for DMA_TO_DEVICE and DMA_BIDIRECTIONAL); cpu_cache_invalidate() drops
// the CPU's copies, discarding dirty data that was never cleaned (dma_map_sg and dma_sync_sg_for_device for
// DMA_FROM_DEVICE; dma_unmap_sg and dma_sync_sg_for_cpu for every direction but DMA_TO_DEVICE).
//
// The oracle reports, as BugKind::kCoherency events (model/kernel/bug.h), naming the buffer, the line range,
// the operation that wrote the lines, the one that read them and the maintenance that was missing:
//   - a device read of a dirty line (missing: a clean for the device);
//   - a device write over a dirty line (missing: the sync for the device before the DMA; a later write-back of
//     the CPU's line would overwrite what the device wrote);
//   - a CPU load through a cacheable mapping of a stale line (missing: an invalidate for the CPU);
//   - an invalidate that discards dirty lines (CPU stores lost).
// In non-coherent mode (cpu_cache_set_noncoherent) the model also returns what the hardware would: a device
// reading a dirty line gets memory's older bytes, a CPU loading a stale line gets its old copy, an invalidate of
// a dirty line puts memory's bytes back.
//
// Divergence: a real cache holds a line only after it was touched and may evict (write back) a dirty line at any
// time; the model assumes every cacheable line may be cached and no dirty line is evicted, the worst case the
// maintenance rules are written for.
#ifndef MODEL_KERNEL_CPU_CACHE_H_
#define MODEL_KERNEL_CPU_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace ionsim::kernel {

struct page;
struct phys_mem;
struct cpu_cache;

// Mirrors arch/arm/include/asm/cache.h:L1_CACHE_BYTES @ v4.4 (CONFIG_ARM_L1_CACHE_SHIFT=6, Cortex-A).
inline constexpr size_t L1_CACHE_BYTES = 64;

// The cache of a machine, made with it and destroyed with it (phys_mem_destroy).
struct cpu_cache* cpu_cache_create();
void cpu_cache_destroy(struct cpu_cache* cache);

// Non-coherent mode: accesses return the bytes the hardware would (see above). Off by default.
void cpu_cache_set_noncoherent(struct phys_mem* mem, bool on);
bool cpu_cache_noncoherent(struct phys_mem* mem);
// The operation now running, named in reports as the writer of the lines it dirties or writes and as the reader
// ("line 7 `dev_read A off=0 len=4K`"); "" for none (reports then name the access alone).
void cpu_cache_set_origin(struct phys_mem* mem, const std::string& origin);

// The CPU's loads and stores of len bytes at offset in the page (inside the page) through a mapping that is
// cacheable or not. The page's bytes are read or written; a cacheable store dirties its lines.
void cpu_cache_read(const struct page* page, size_t offset, void* dst, size_t len, bool cacheable);
void cpu_cache_write(struct page* page, size_t offset, const void* src, size_t len, bool cacheable);
// Kernel zeroing of a whole page through a mapping that is cacheable or not (ion_heap_buffer_zero): with a
// cacheable mapping every line of the page is dirty afterwards, as a memset through a cached vmap leaves it.
void cpu_cache_zeroed(struct page* page, bool cacheable);

// Maintenance of the lines overlapping [offset, offset + len) of the page (len may run over following pages of
// the same struct page array: a scatterlist entry). `by` names the kernel function for reports.
void cpu_cache_clean(struct page* page, size_t offset, size_t len, const char* by);
void cpu_cache_invalidate(struct page* page, size_t offset, size_t len, const char* by);

// A device's DMA of len bytes at offset in the page (inside the page). `owner` names the memory in reports
// ("buffer b3"), `owner_offset` is the page's offset in it; `who` names the device ("device camera").
void dma_device_read(const char* who, const char* owner, uint64_t owner_offset, const struct page* page,
                     size_t offset, void* dst, size_t len);
void dma_device_write(const char* who, const char* owner, uint64_t owner_offset, struct page* page, size_t offset,
                      const void* src, size_t len);

// Records the hazards the accesses since the last call found as kCoherency events, merged into line ranges,
// `reader` naming the access kind ("CPU load", "device camera read"). Cheap when there is nothing to report.
void cpu_cache_report(struct phys_mem* mem, const char* reader);

// Lines now dirty, and stale, on the machine (tests, dumps).
size_t cpu_cache_dirty_lines(struct phys_mem* mem);
size_t cpu_cache_stale_lines(struct phys_mem* mem);
// Coherency hazards found on this machine since it booted (every report, also those not yet recorded).
size_t cpu_cache_hazard_count(struct phys_mem* mem);

}  // namespace ionsim::kernel

#endif  // MODEL_KERNEL_CPU_CACHE_H_
