// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "model/kernel/bitmap.h"

#include "model/kernel/bug.h"

namespace ionsim::kernel {
namespace {

// Shared word scan: `invert` is 0 to look for set bits and ~0UL to look for clear bits.
inline unsigned long find_next(const unsigned long* addr, unsigned long size, unsigned long offset,
                               unsigned long invert) {
  if (offset >= size) return size;
  unsigned long word = BIT_WORD(offset);
  unsigned long tmp = (bitmap_load_word(addr, word) ^ invert) & BITMAP_FIRST_WORD_MASK(offset);
  const unsigned long last = BIT_WORD(size - 1);
  while (tmp == 0) {
    if (++word > last) return size;
    tmp = bitmap_load_word(addr, word) ^ invert;
  }
  const unsigned long bit = word * BITS_PER_LONG + static_cast<unsigned long>(__builtin_ctzl(tmp));
  return bit < size ? bit : size;
}

// Calls op(word, mask) for each word that bits [start, start + len) touch, mask selecting those bits.
template <typename Op>
inline void for_each_masked_word(unsigned int start, int len, Op op) {
  if (len <= 0) return;
  const unsigned long end = static_cast<unsigned long>(start) + static_cast<unsigned long>(len);
  for (unsigned long word = BIT_WORD(start); word <= BIT_WORD(end - 1); ++word) {
    unsigned long mask = ~0UL;
    if (word == BIT_WORD(start)) mask &= BITMAP_FIRST_WORD_MASK(start);
    if (word == BIT_WORD(end - 1)) mask &= BITMAP_LAST_WORD_MASK(end);
    op(word, mask);
  }
}

}  // namespace

unsigned long find_next_bit(const unsigned long* addr, unsigned long size, unsigned long offset) {
  return find_next(addr, size, offset, 0UL);
}

unsigned long find_next_zero_bit(const unsigned long* addr, unsigned long size, unsigned long offset) {
  return find_next(addr, size, offset, ~0UL);
}

unsigned long bitmap_find_next_zero_area_off(const unsigned long* map, unsigned long size, unsigned long start,
                                             unsigned int nr, unsigned long align_mask,
                                             unsigned long align_offset) {
  for (;;) {
    unsigned long index = find_next_zero_bit(map, size, start);
    const unsigned long zero = index;
    // Round the candidate up so that (index + align_offset) is aligned.
    index = __ALIGN_MASK(index + align_offset, align_mask) - align_offset;
    if (index < zero) {
      // The rounding wrapped (an alignment mask such as ~0UL, from an alignment of 0): upstream would retry the
      // same candidate forever. The model reports the lockup and fails the search instead of hanging.
      report_kernel_event(BugKind::kSoftLockup, __FILE__, __LINE__, __func__, true,
                          "bitmap_find_next_zero_area_off: align_mask %#lx never advances past bit %lu",
                          align_mask, zero);
      return size + 1;
    }
    const unsigned long end = index + nr;
    if (end > size) return end;
    const unsigned long busy = find_next_bit(map, end, index);
    if (busy >= end) return index;
    start = busy + 1;
  }
}

void bitmap_set(unsigned long* map, unsigned int start, int len) {
  for_each_masked_word(start, len, [map](unsigned long word, unsigned long mask) {
    __atomic_store_n(&map[word], bitmap_load_word(map, word) | mask, __ATOMIC_RELAXED);
  });
}

void bitmap_clear(unsigned long* map, unsigned int start, int len) {
  for_each_masked_word(start, len, [map](unsigned long word, unsigned long mask) {
    __atomic_store_n(&map[word], bitmap_load_word(map, word) & ~mask, __ATOMIC_RELAXED);
  });
}

unsigned long bitmap_weight(const unsigned long* map, unsigned long nbits) {
  unsigned long count = 0;
  const unsigned long full = nbits / BITS_PER_LONG;
  for (unsigned long word = 0; word < full; ++word) {
    count += static_cast<unsigned long>(__builtin_popcountl(bitmap_load_word(map, word)));
  }
  if (nbits % BITS_PER_LONG) {
    count += static_cast<unsigned long>(
        __builtin_popcountl(bitmap_load_word(map, full) & BITMAP_LAST_WORD_MASK(nbits)));
  }
  return count;
}

}  // namespace ionsim::kernel
