// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The ABI of kmod/uapi/ion.h: ioctl numbers and struct layouts as reference sections 1.2 and 1.3 give them
// for LP64 (computed there by compiling the upstream definitions).
#include "kmod/uapi/ion.h"

#include <cstddef>

#include "gtest/gtest.h"

namespace {

TEST(IonAbiTest, LegacyIoctlNumbersMatchV44OnLp64) {
  EXPECT_EQ(ION_IOC_ALLOC, 0xC0204900u);
  EXPECT_EQ(ION_IOC_FREE, 0xC0044901u);
  EXPECT_EQ(ION_IOC_MAP, 0xC0084902u);
  EXPECT_EQ(ION_IOC_SHARE, 0xC0084904u);
  EXPECT_EQ(ION_IOC_IMPORT, 0xC0084905u);
  EXPECT_EQ(ION_IOC_CUSTOM, 0xC0104906u);
  EXPECT_EQ(ION_IOC_SYNC, 0xC0084907u);
}

TEST(IonAbiTest, ModernIoctlNumbersMatch412) {
  EXPECT_EQ(ION_IOC_NEW_ALLOC, 0xC0184900u);
  EXPECT_EQ(ION_IOC_HEAP_QUERY, 0xC0184908u);
  // Same nr as legacy ALLOC, different size field: two distinct commands.
  EXPECT_EQ(_IOC_NR(ION_IOC_NEW_ALLOC), _IOC_NR(ION_IOC_ALLOC));
  EXPECT_NE(ION_IOC_NEW_ALLOC, ION_IOC_ALLOC);
}

TEST(IonAbiTest, StructLayoutsMatchLp64) {
  EXPECT_EQ(sizeof(struct ion_allocation_data), 32u);
  EXPECT_EQ(offsetof(struct ion_allocation_data, heap_id_mask), 16u);
  EXPECT_EQ(offsetof(struct ion_allocation_data, flags), 20u);
  EXPECT_EQ(offsetof(struct ion_allocation_data, handle), 24u);
  EXPECT_EQ(sizeof(struct ion_fd_data), 8u);
  EXPECT_EQ(sizeof(struct ion_handle_data), 4u);
  EXPECT_EQ(sizeof(struct ion_custom_data), 16u);
  EXPECT_EQ(sizeof(struct ion_new_allocation_data), 24u);
  EXPECT_EQ(sizeof(struct ion_heap_data), 52u);
  EXPECT_EQ(sizeof(struct ion_heap_query), 24u);
  EXPECT_EQ(offsetof(struct ion_heap_query, heaps), 8u);
}

TEST(IonAbiTest, HeapTypesAndMasksMatchMainline) {
  EXPECT_EQ(ION_HEAP_TYPE_SYSTEM, 0);
  EXPECT_EQ(ION_HEAP_TYPE_SYSTEM_CONTIG, 1);
  EXPECT_EQ(ION_HEAP_TYPE_CARVEOUT, 2);
  EXPECT_EQ(ION_HEAP_TYPE_CHUNK, 3);
  EXPECT_EQ(ION_HEAP_TYPE_DMA, 4);
  EXPECT_EQ(ION_HEAP_TYPE_CUSTOM, 5);
  EXPECT_EQ(ION_HEAP_TYPE_DMA_MASK, 16);
  EXPECT_EQ(ION_NUM_HEAP_IDS, 32u);
  EXPECT_EQ(ION_FLAG_CACHED, 1);
  EXPECT_EQ(ION_FLAG_CACHED_NEEDS_SYNC, 2);
}

}  // namespace
