// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Tests of the CPU cache model and its coherency oracle (model/kernel/cpu_cache.h) through the streaming DMA API
// (model/kernel/dma_mapping.h): which accesses dirty or stale a line, which maintenance each direction does (as
// arch/arm's __dma_page_cpu_to_dev / __dma_page_dev_to_cpu @ v4.4), what is reported, and the bytes each side
// sees in non-coherent mode.
#include "model/kernel/cpu_cache.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/kernel/bug.h"
#include "model/kernel/dma_mapping.h"
#include "model/kernel/mm.h"
#include "model/kernel/scatterlist.h"

namespace ionsim::kernel {
namespace {

using ::testing::HasSubstr;

class CpuCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    clear_bug_events();
    set_bug_printing(false);
    phys_mem_config config;
    config.ram_base = 0x80000000UL;
    config.ram_size = 64 * PAGE_SIZE;
    config.lowmem_size = config.ram_size;
    mem_ = phys_mem_create(config);
    ASSERT_NE(mem_, nullptr);
    pages_ = alloc_pages(mem_, GFP_KERNEL | __GFP_ZERO, 1);  // two pages
    ASSERT_NE(pages_, nullptr);
    sg_init_table(&sg_, 1);
    sg_set_page(&sg_, pages_, 2 * PAGE_SIZE, 0);
    dev_.name = "isp";
    ASSERT_EQ(dma_map_sg(&dev_, &sg_, 1, DMA_BIDIRECTIONAL), 1);
  }
  void TearDown() override {
    __free_pages(pages_, 1);
    EXPECT_EQ(phys_mem_destroy(mem_), 0u);
    set_bug_printing(true);
    clear_bug_events();
  }

  // The CPU's store through a mapping of the buffer, at a byte offset of the two pages.
  void CpuStore(size_t off, size_t len, uint8_t byte, bool cacheable) {
    std::vector<uint8_t> b(len, byte);
    cpu_cache_write(nth_page(pages_, off / PAGE_SIZE), off % PAGE_SIZE, b.data(), len, cacheable);
  }
  std::vector<uint8_t> CpuLoad(size_t off, size_t len, bool cacheable) {
    std::vector<uint8_t> b(len);
    cpu_cache_read(nth_page(pages_, off / PAGE_SIZE), off % PAGE_SIZE, b.data(), len, cacheable);
    cpu_cache_report(mem_, "CPU load");
    return b;
  }
  std::vector<uint8_t> DevRead(size_t off, size_t len) {
    std::vector<uint8_t> b(len);
    EXPECT_TRUE(dma_device_transfer(&dev_, &sg_, 1, off, b.data(), len, false, "buffer b1").ok());
    return b;
  }
  void DevWrite(size_t off, size_t len, uint8_t byte) {
    std::vector<uint8_t> b(len, byte);
    EXPECT_TRUE(dma_device_transfer(&dev_, &sg_, 1, off, b.data(), len, true, "buffer b1").ok());
  }
  // The coherency reports since the last call, one per line.
  std::string TakeReports() {
    std::string out;
    for (const BugEvent& e : bug_events()) {
      if (e.kind == BugKind::kCoherency) out += e.message + "\n";
    }
    clear_bug_events();
    return out;
  }

  struct phys_mem* mem_ = nullptr;
  struct page* pages_ = nullptr;
  struct scatterlist sg_;
  struct device dev_;
};

TEST_F(CpuCacheTest, DeviceReadOfDirtyLinesIsReportedWithTheLineRange) {
  CpuStore(100, 10, 0x5a, true);  // one line: bytes 0x40-0x7f
  EXPECT_EQ(cpu_cache_dirty_lines(mem_), 1u);
  DevRead(0, 2 * PAGE_SIZE);
  const std::string r = TakeReports();
  EXPECT_THAT(r, HasSubstr("stale read by the device: buffer b1 bytes 0x40-0x7f (lines 1-1)"));
  EXPECT_THAT(r, HasSubstr("missing: a clean for the device"));
  EXPECT_EQ(std::count(r.begin(), r.end(), '\n'), 1);
}

TEST_F(CpuCacheTest, CleanForTheDeviceBeforeTheReadIsNotReported) {
  CpuStore(0, PAGE_SIZE, 0x5a, true);
  dma_sync_sg_for_device(&dev_, &sg_, 1, DMA_TO_DEVICE);
  EXPECT_EQ(cpu_cache_dirty_lines(mem_), 0u);
  EXPECT_EQ(DevRead(0, 4)[0], 0x5a);
  EXPECT_EQ(TakeReports(), "");
}

TEST_F(CpuCacheTest, BidirectionalSyncForTheDeviceCleansToo) {
  CpuStore(0, 64, 1, true);
  dma_sync_sg_for_device(nullptr, &sg_, 1, DMA_BIDIRECTIONAL);
  DevRead(0, 64);
  EXPECT_EQ(TakeReports(), "");
}

TEST_F(CpuCacheTest, SyncForTheCpuDoesNotCleanAndToDeviceUnmapDoesNotInvalidate) {
  CpuStore(0, 64, 1, true);
  dma_sync_sg_for_cpu(&dev_, &sg_, 1, DMA_TO_DEVICE);  // no maintenance for DMA_TO_DEVICE
  DevRead(0, 64);
  EXPECT_THAT(TakeReports(), HasSubstr("stale read by the device"));
}

TEST_F(CpuCacheTest, CpuLoadOfLinesADeviceWroteIsReportedUntilInvalidated) {
  DevWrite(PAGE_SIZE, 128, 0x22);
  EXPECT_EQ(cpu_cache_stale_lines(mem_), 2u);
  CpuLoad(PAGE_SIZE, 128, true);
  EXPECT_THAT(TakeReports(), HasSubstr("stale read by the CPU: buffer b1 bytes 0x1000-0x107f (lines 64-65)"));
  dma_sync_sg_for_cpu(&dev_, &sg_, 1, DMA_FROM_DEVICE);
  EXPECT_EQ(cpu_cache_stale_lines(mem_), 0u);
  EXPECT_EQ(CpuLoad(PAGE_SIZE, 1, true)[0], 0x22);
  EXPECT_EQ(TakeReports(), "");
}

TEST_F(CpuCacheTest, UnmapForTheDeviceWritingInvalidates) {
  DevWrite(0, 64, 0x22);
  dma_unmap_sg(&dev_, &sg_, 1, DMA_FROM_DEVICE);
  CpuLoad(0, 64, true);
  EXPECT_EQ(TakeReports(), "");
}

TEST_F(CpuCacheTest, WriteCombineAndUncachedBypassTheCache) {
  CpuStore(0, PAGE_SIZE, 0x44, false);
  EXPECT_EQ(cpu_cache_dirty_lines(mem_), 0u);
  EXPECT_EQ(DevRead(0, 1)[0], 0x44);
  DevWrite(PAGE_SIZE, 64, 0x55);
  EXPECT_EQ(CpuLoad(PAGE_SIZE, 1, false)[0], 0x55);
  EXPECT_EQ(TakeReports(), "");
}

TEST_F(CpuCacheTest, InvalidateDiscardingDirtyLinesIsReported) {
  CpuStore(0, 64, 1, true);
  dma_sync_sg_for_device(&dev_, &sg_, 1, DMA_FROM_DEVICE);  // v7_dma_inv_range
  // No device touched the page: the report names the physical range.
  EXPECT_THAT(TakeReports(), HasSubstr("CPU stores discarded: phys 0x80000000-0x8000003f (1 lines) invalidated by "
                                       "dma_sync_sg_for_device"));
}

TEST_F(CpuCacheTest, DeviceWriteOverDirtyLinesIsReported) {
  CpuStore(0, 64, 1, true);
  DevWrite(0, 64, 2);
  EXPECT_THAT(TakeReports(), HasSubstr("device write over dirty lines"));
}

TEST_F(CpuCacheTest, NonCoherentModeReturnsTheStaleBytes) {
  cpu_cache_set_noncoherent(mem_, true);
  CpuStore(0, 64, 0x5a, true);
  EXPECT_EQ(DevRead(0, 1)[0], 0);  // memory still has the zeros
  EXPECT_EQ(CpuLoad(0, 1, true)[0], 0x5a);  // the CPU sees its own store
  dma_sync_sg_for_device(&dev_, &sg_, 1, DMA_TO_DEVICE);
  EXPECT_EQ(DevRead(0, 1)[0], 0x5a);
  DevWrite(PAGE_SIZE, 64, 0x22);
  EXPECT_EQ(CpuLoad(PAGE_SIZE, 1, true)[0], 0);  // the CPU's old copy
  EXPECT_EQ(CpuLoad(PAGE_SIZE, 1, false)[0], 0x22);  // memory
  dma_sync_sg_for_cpu(&dev_, &sg_, 1, DMA_FROM_DEVICE);
  EXPECT_EQ(CpuLoad(PAGE_SIZE, 1, true)[0], 0x22);
  // An invalidate of a dirty line puts memory's bytes back: the store is lost.
  CpuStore(2 * 64, 64, 0x77, true);
  dma_sync_sg_for_cpu(&dev_, &sg_, 1, DMA_BIDIRECTIONAL);
  EXPECT_EQ(CpuLoad(2 * 64, 1, true)[0], 0);
  TakeReports();
}

TEST_F(CpuCacheTest, CoherentModeKeepsTheLatestBytes) {
  CpuStore(0, 64, 0x5a, true);
  EXPECT_EQ(DevRead(0, 1)[0], 0x5a);
  DevWrite(PAGE_SIZE, 64, 0x22);
  EXPECT_EQ(CpuLoad(PAGE_SIZE, 1, true)[0], 0x22);
  EXPECT_THAT(TakeReports(), HasSubstr("stale read"));
}

TEST_F(CpuCacheTest, ReportsNameTheOperationsWhenAnOriginIsSet) {
  cpu_cache_set_origin(mem_, "line 3 `store M off=0 len=64 byte=1`");
  CpuStore(0, 64, 1, true);
  cpu_cache_set_origin(mem_, "line 4 `dev_read A off=0 len=64`");
  DevRead(0, 64);
  const std::string r = TakeReports();
  EXPECT_THAT(r, HasSubstr("read by device isp read at line 4 `dev_read A off=0 len=64`"));
  EXPECT_THAT(r, HasSubstr("dirtied these lines through a cached mapping at line 3 `store M off=0 len=64 byte=1`"));
}

TEST_F(CpuCacheTest, KernelZeroingThroughACachedMappingDirtiesEveryLine) {
  cpu_cache_zeroed(pages_, true);
  EXPECT_EQ(cpu_cache_dirty_lines(mem_), 64u);
  cpu_cache_zeroed(nth_page(pages_, 1), false);
  EXPECT_EQ(cpu_cache_dirty_lines(mem_), 64u);
  dma_sync_sg_for_device(nullptr, &sg_, 1, DMA_BIDIRECTIONAL);
  EXPECT_EQ(cpu_cache_dirty_lines(mem_), 0u);
}

TEST_F(CpuCacheTest, DeviceTransferOutsideTheListIsRefused) {
  std::vector<uint8_t> b(64);
  EXPECT_EQ(dma_device_transfer(&dev_, &sg_, 1, 2 * PAGE_SIZE - 32, b.data(), 64, false, "buffer b1").code(),
            EINVAL);
}

}  // namespace
}  // namespace ionsim::kernel
