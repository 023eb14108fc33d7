// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// An index over one genalloc chunk's bitmap that answers gen_pool_first_fit's question, "the first run of nr
// clear bits that starts at or after bit `start`", in O(log n) instead of a walk past every hole too small to
// use. It is a segment tree over the bitmap's words; each node keeps the free run at its low end, at its high
// end, and the longest inside. The bitmap stays the only truth: the index is rebuilt from the words a change
// touched. Upstream has no such index (Divergence: speed only; results are identical, including the value a
// failed search returns, which v4.4 carries into the next chunk's search).
#ifndef MODEL_KERNEL_GENALLOC_INDEX_H_
#define MODEL_KERNEL_GENALLOC_INDEX_H_

#include <cstdint>
#include <mutex>
#include <vector>

namespace ionsim::kernel {

class genalloc_index {
 public:
  // The largest bitmap an index covers; larger chunks are searched by scanning, as upstream.
  static constexpr unsigned long kMaxBits = 1UL << 31;

  // Indexes `map` of `nbits` (<= kMaxBits) bits; the map must outlive the index.
  genalloc_index(const unsigned long* map, unsigned long nbits);

  // Re-reads the words covering bits [start, start + nr) after the bitmap changed there.
  void update(unsigned long start, unsigned long nr);

  // What bitmap_find_next_zero_area(map, nbits, start, nr, 0) returns: the first index >= start with nr clear
  // bits, or on failure the end of the last candidate upstream's loop would have tried (a value > nbits).
  unsigned long first_fit(unsigned long start, unsigned int nr) const;

  // Serializes a search with the bitmap update that follows it.
  std::mutex& lock() { return mu_; }

 private:
  // 16 bytes, so that a leaf-to-root walk touches few cache lines. Chunks index at most 2^31 bits.
  struct node {
    uint32_t len;   // bits covered
    uint32_t pre;   // clear bits at the low end
    uint32_t suf;   // clear bits at the high end
    uint32_t best;  // longest clear run inside
  };

  node leaf(unsigned long word) const;
  static node combine(const node& l, const node& r);
  // Leftmost start of nr clear bits inside node i (covering [lo, lo + len)), counting only bits >= start, with
  // `carry` clear bits running into the node from the left. Returns ~0UL when none; updates carry.
  unsigned long find(unsigned long i, unsigned long lo, unsigned long start, unsigned long nr,
                     unsigned long* carry) const;
  unsigned long failure_value(unsigned long start, unsigned long nr) const;

  const unsigned long* map_;
  unsigned long nbits_;
  unsigned long nwords_;
  unsigned long leaves_;  // a power of two >= nwords_
  std::vector<node> tree_;
  std::mutex mu_;
};

}  // namespace ionsim::kernel

#endif  // MODEL_KERNEL_GENALLOC_INDEX_H_
