// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// A seeded, reproducible random trace generator weighted toward lifetime-rich sequences: share, import, free,
// client close with live dma-bufs, fork, fd passing, exit, orphans, deferred free, drain and shrink. It tracks
// which symbols are alive in which process so that most operations act on live objects, while some deliberately
// use stale ones (closed fds, freed handles). Every generated trace parses; the generator keeps away from
// sequences the kernel reports with a WARN or BUG (a DMA_BUF_IOCTL_SYNC start is always followed by its end,
// HEAP_QUERY reserved fields stay zero, no kernel mapping of chunk buffers of a partial chunk). The same seed gives the same trace on every platform (no std distributions).
#ifndef TOOLS_TRACE_GENERATOR_H_
#define TOOLS_TRACE_GENERATOR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "tools/trace/trace.h"

namespace ionsim::trace {

struct GeneratorOptions {
  // Heap names usable as heap=NAME (blanks written as '_'), and which of them have a shrink file.
  std::vector<std::string> heaps = {"system", "system_contig", "carveout", "chunk"};
  std::vector<std::string> shrinkable = {"system", "carveout", "chunk"};
  // The chunk heap (name, id mask and chunk size): an allocation that may come from it asks for a whole number
  // of chunks, because a kernel mapping (DMA_BUF_IOCTL_SYNC start) of a chunk buffer of a partial chunk makes
  // v4.4's ion_heap_map_kernel() write past its page array (the model stops with a BUG).
  std::string chunk_heap = "chunk";
  uint64_t chunk_mask = 1 << 3;
  uint64_t chunk_size = 16 << 10;
  // `shrink <heap> n=<n>` with n > 0 (a partial scan from the head of the free list). The crosscheck turns it
  // off: buffers freed together by a client close enter the free list in buffer-address order, which differs
  // between the model and the kernel (docs/trace.md, "Known divergences"), and a partial scan would free
  // different buffers.
  bool partial_shrink = true;
  // Append a `state` line at the end (the canonical dump, for comparisons).
  bool final_state = true;
};

// A trace of `ops` operations (plus the final state line) from `seed`.
Trace GenerateTrace(uint64_t seed, int ops, const GeneratorOptions& options = GeneratorOptions());

}  // namespace ionsim::trace

#endif  // TOOLS_TRACE_GENERATOR_H_
