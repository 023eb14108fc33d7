// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "tests/testing/genalloc_reference.h"

namespace ionsim::testing {

const char* GenAlgoName(GenAlgo algo) {
  switch (algo) {
    case GenAlgo::kFirstFit: return "first_fit";
    case GenAlgo::kFirstFitAlign: return "first_fit_align";
    case GenAlgo::kFixed: return "fixed_alloc";
    case GenAlgo::kFirstFitOrderAlign: return "first_fit_order_align";
    case GenAlgo::kBestFit: return "best_fit";
  }
  return "?";
}

void GenallocReference::AddChunk(unsigned long start, size_t size) {
  chunks_.insert(chunks_.begin(), Chunk{start, size, std::vector<bool>(size >> order_, false), size});
}

unsigned long GenallocReference::FirstFit(const std::vector<bool>& used, unsigned long start, unsigned long nr,
                                          unsigned long align_mask) {
  const unsigned long size = used.size();
  for (;;) {
    // The first clear bit at or after start; the bitmap size when there is none (also when start is past it).
    unsigned long index = start < size ? start : size;
    while (index < size && used[index]) ++index;
    while ((index & align_mask) != 0) ++index;     // round up to the alignment
    if (index + nr > size) return index + nr;      // the failure value is the end of the last candidate
    unsigned long busy = index;
    while (busy < index + nr && !used[busy]) ++busy;
    if (busy == index + nr) return index;
    start = busy + 1;
  }
}

unsigned long GenallocReference::Search(const std::vector<bool>& used, unsigned long start, unsigned long nr,
                                        GenAlgo algo, unsigned long param, int* warns) const {
  const unsigned long size = used.size();
  switch (algo) {
    case GenAlgo::kFirstFit:
      return FirstFit(used, start, nr, 0);
    case GenAlgo::kFirstFitAlign: {
      const unsigned long granules = (param + (1UL << order_) - 1) >> order_;
      return FirstFit(used, start, nr, granules - 1);
    }
    case GenAlgo::kFixed: {
      if (param & ((1UL << order_) - 1)) {
        ++*warns;
        return size;
      }
      const unsigned long offset_bit = param >> order_;
      const unsigned long found = FirstFit(used, start + offset_bit, nr, 0);
      return found == offset_bit ? found : size;
    }
    case GenAlgo::kFirstFitOrderAlign: {
      unsigned long pow2 = 1;
      while (pow2 < nr) pow2 <<= 1;
      return FirstFit(used, start, nr, pow2 - 1);
    }
    case GenAlgo::kBestFit: {
      // Every maximal run of clear bits at or after start that can hold nr; the shortest wins, the lowest
      // among equals. A run that begins before start counts from start.
      unsigned long best = size;
      unsigned long best_len = size + 1;
      unsigned long i = start;
      while (i < size) {
        if (used[i]) {
          ++i;
          continue;
        }
        unsigned long end = i;
        while (end < size && !used[end]) ++end;
        if (end - i >= nr && end - i < best_len) {
          best = i;
          best_len = end - i;
        }
        i = end;
      }
      return best;
    }
  }
  return size;
}

unsigned long GenallocReference::Alloc(size_t size, GenAlgo algo, unsigned long param, int* warns) {
  *warns = 0;
  if (size == 0) return 0;
  const unsigned long nr = (size + (1UL << order_) - 1) >> order_;
  unsigned long start_bit = 0;  // not reset per chunk, as upstream
  for (Chunk& chunk : chunks_) {
    if (size > chunk.avail) continue;
    start_bit = Search(chunk.used, start_bit, nr, algo, param, warns);
    if (start_bit >= chunk.used.size()) continue;
    for (unsigned long b = start_bit; b < start_bit + nr; ++b) chunk.used[b] = true;
    chunk.avail -= nr << order_;
    return chunk.start + (start_bit << order_);
  }
  return 0;
}

std::string GenallocReference::Free(unsigned long addr, size_t size) {
  const unsigned long nr = (size + (1UL << order_) - 1) >> order_;
  for (Chunk& chunk : chunks_) {
    const unsigned long last = chunk.start + chunk.size - 1;
    if (addr < chunk.start || addr > last) continue;
    if (addr + size - 1 > last) return "range crosses the end of its chunk";
    const unsigned long first = (addr - chunk.start) >> order_;
    for (unsigned long b = first; b < first + nr; ++b) {
      if (b >= chunk.used.size() || !chunk.used[b]) return "bits already clear (double free)";
    }
    for (unsigned long b = first; b < first + nr; ++b) chunk.used[b] = false;
    chunk.avail += nr << order_;
    return "";
  }
  return "address in no chunk";
}

size_t GenallocReference::Avail() const {
  size_t avail = 0;
  for (const Chunk& chunk : chunks_) avail += chunk.avail;
  return avail;
}

size_t GenallocReference::Size() const {
  size_t size = 0;
  for (const Chunk& chunk : chunks_) size += chunk.size;
  return size;
}

bool GenallocReference::AnyBitSet() const {
  for (const Chunk& chunk : chunks_) {
    for (bool b : chunk.used) {
      if (b) return true;
    }
  }
  return false;
}

}  // namespace ionsim::testing
