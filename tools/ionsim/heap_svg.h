// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// A picture of the genalloc-backed heaps (carveout and chunk): one bar per heap, one granule (one bitmap bit) per
// equal slice of the bar, free ranges light, every allocated range drawn as the buffer that holds it and coloured
// by the processes holding a handle on it (a buffer shared by several processes is split into one band per
// process), orphaned buffers (alive through a dma-buf only) hatched in their last known client's colour, buffers
// on the heap's deferred-free list hatched grey, set bits that no buffer accounts for in red; an address axis
// under each bar and a legend at the bottom.
//
// Two steps, so the renderer can be tested on hand-made state:
//   CaptureHeapPicture()  reads one heap of a ModelBackend (white-box: the genalloc bitmap, dev->buffers, the
//                         clients' handles and the heap's free list);
//   RenderHeapSvg()       turns pictures into a standalone SVG document (no scripts, no external references).
//
// Every extent is a <g class="extent" data-first=".." data-count=".." data-state=".."> group and every free run a
// <rect class="free" data-first=".." data-count=".."> (granule indexes), so tools and tests can read the picture
// back.
#ifndef TOOLS_IONSIM_HEAP_SVG_H_
#define TOOLS_IONSIM_HEAP_SVG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "model/backend/model_backend.h"

namespace ionsim {

// One buffer's run of consecutive granules in a heap (a chunk-heap buffer has one extent per run of its chunks).
struct HeapExtent {
  enum class State {
    kLive,          // in the device's buffer tree with at least one handle
    kOrphaned,      // in the device's buffer tree without a handle: held by dma-bufs only
    kDeferredFree,  // on the heap's deferred-free list: freed, its granules not yet back in the pool
  };
  uint64_t first = 0;  // first granule
  uint64_t count = 0;  // granules
  std::string buffer;  // "b12": the buffer's serial, as in the canonical dump
  // The processes holding a handle ("camera.provider 2"), in client creation order; for an orphaned or deferred
  // buffer, its last known client (the comm and pid debugfs prints).
  std::vector<std::string> holders;
  State state = State::kLive;
  std::string detail;  // tooltip text: size, references
};

// The occupancy of one genalloc-backed heap.
struct HeapPicture {
  std::string name;       // "carveout"
  std::string type;       // "carveout" or "chunk"
  uint64_t base = 0;      // physical address of granule 0
  uint64_t granule = 0;   // bytes per bit (2^min_alloc_order)
  std::vector<bool> bits; // the genalloc bitmap, one entry per granule
  std::vector<HeapExtent> extents;
};

// A run of clear bits.
struct FreeRun {
  uint64_t first = 0;
  uint64_t count = 0;
};

// The runs of clear bits of a picture, in address order.
std::vector<FreeRun> FreeRuns(const HeapPicture& picture);
// Bytes in the longest run of clear bits (the largest request the first-fit allocator can still satisfy).
uint64_t LargestFreeExtent(const HeapPicture& picture);
// Bytes in all clear bits.
uint64_t FreeBytes(const HeapPicture& picture);

// The picture of a carveout or chunk heap of the backend: -ENOENT when no heap has this id, -EINVAL when the heap
// has no genalloc pool (system, system_contig, dma) or its pool does not have exactly one chunk. Extents are in
// address order. Call it while no other thread is inside ION.
ErrnoOr<HeapPicture> CaptureHeapPicture(ModelBackend* backend, unsigned int heap_id);
// Every carveout and chunk heap of the backend, by ascending id.
std::vector<HeapPicture> CaptureGenallocHeaps(ModelBackend* backend);

// A standalone SVG document showing the heaps one under another, with `caption` as its title line.
std::string RenderHeapSvg(const std::vector<HeapPicture>& heaps, const std::string& caption);

// "4 MiB", "452 KiB", "720000 B": in the largest binary unit that divides the value exactly.
std::string FormatBytes(uint64_t bytes);

}  // namespace ionsim

#endif  // TOOLS_IONSIM_HEAP_SVG_H_
