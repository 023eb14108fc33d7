// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// A trivially correct genalloc: one bool per granule, every search a plain loop over single bits. It states
// genalloc's v4.4 semantics (newest chunk first, first-fit candidates rounded up to the alignment, the failure
// value of a search carried into the next chunk, best fit by smallest run then lowest address, BUG conditions of
// gen_pool_free) without any of the word-scanning or atomic machinery of model/kernel/genalloc.cc, so the two can
// be compared operation by operation. Sizes must stay below 2 GiB per chunk (the int arithmetic of v4.4 is not
// modelled here).
#ifndef TESTS_TESTING_GENALLOC_REFERENCE_H_
#define TESTS_TESTING_GENALLOC_REFERENCE_H_

#include <cstddef>
#include <string>
#include <vector>

namespace ionsim::testing {

enum class GenAlgo { kFirstFit, kFirstFitAlign, kFixed, kFirstFitOrderAlign, kBestFit };

const char* GenAlgoName(GenAlgo algo);

class GenallocReference {
 public:
  explicit GenallocReference(int min_alloc_order) : order_(min_alloc_order) {}

  void AddChunk(unsigned long start, size_t size);

  // The address gen_pool_alloc_algo returns, 0 on failure. `param` is the alignment in bytes for kFirstFitAlign
  // and the offset in bytes for kFixed. Sets *warns to the number of WARNs upstream would print (one per chunk
  // searched with a misaligned fixed offset).
  unsigned long Alloc(size_t size, GenAlgo algo, unsigned long param, int* warns);

  // What gen_pool_free does: returns "" after freeing, or the reason upstream would BUG (nothing changes then).
  std::string Free(unsigned long addr, size_t size);

  size_t Avail() const;
  size_t Size() const;
  bool AnyBitSet() const;

 private:
  struct Chunk {
    unsigned long start;
    size_t size;
    std::vector<bool> used;  // one per whole granule
    size_t avail;
  };

  // One algorithm call on one chunk's bitmap, as upstream's algo callback: a start bit, or a value >= the bitmap
  // size on failure.
  unsigned long Search(const std::vector<bool>& used, unsigned long start, unsigned long nr, GenAlgo algo,
                       unsigned long param, int* warns) const;
  static unsigned long FirstFit(const std::vector<bool>& used, unsigned long start, unsigned long nr,
                                unsigned long align_mask);

  int order_;
  std::vector<Chunk> chunks_;  // newest first
};

}  // namespace ionsim::testing

#endif  // TESTS_TESTING_GENALLOC_REFERENCE_H_
