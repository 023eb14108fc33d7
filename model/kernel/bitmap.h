// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Bit searches over arrays of unsigned long, as include/linux/bitmap.h and lib/find_bit.c provide them. Every
// search scans whole 64-bit words (a word with nothing of interest costs one load and one compare); nothing
// walks bit by bit. Loads are relaxed atomic loads so that genalloc's lockless cmpxchg updates, which these
// searches race with by design (as in the kernel), are not data races under ThreadSanitizer.
#ifndef MODEL_KERNEL_BITMAP_H_
#define MODEL_KERNEL_BITMAP_H_

#include <climits>
#include <cstddef>

namespace ionsim::kernel {

inline constexpr unsigned long BITS_PER_LONG = sizeof(unsigned long) * CHAR_BIT;

inline constexpr unsigned long BIT_WORD(unsigned long nr) { return nr / BITS_PER_LONG; }
inline constexpr unsigned long BITS_TO_LONGS(unsigned long nr) { return (nr + BITS_PER_LONG - 1) / BITS_PER_LONG; }
// Mask of the bits at and above `start` within its word.
inline constexpr unsigned long BITMAP_FIRST_WORD_MASK(unsigned long start) {
  return ~0UL << (start & (BITS_PER_LONG - 1));
}
// Mask of the bits below `nbits` within the last word (all ones when nbits is a multiple of the word size).
inline constexpr unsigned long BITMAP_LAST_WORD_MASK(unsigned long nbits) {
  return ~0UL >> (-nbits & (BITS_PER_LONG - 1));
}
// Mirrors include/linux/kernel.h:__ALIGN_MASK() @ v4.4.
inline constexpr unsigned long __ALIGN_MASK(unsigned long x, unsigned long mask) { return (x + mask) & ~mask; }
// Mirrors include/linux/log2.h:roundup_pow_of_two() @ v4.4 (undefined for 0 there; 1 here).
inline constexpr unsigned long roundup_pow_of_two(unsigned long n) {
  return n <= 1 ? 1UL : 1UL << (BITS_PER_LONG - static_cast<unsigned long>(__builtin_clzl(n - 1)));
}

inline unsigned long bitmap_load_word(const unsigned long* addr, unsigned long word) {
  return __atomic_load_n(&addr[word], __ATOMIC_RELAXED);
}

// Mirrors lib/find_bit.c:find_next_bit() @ v4.4: the first set bit at or after `offset`, or `size`.
unsigned long find_next_bit(const unsigned long* addr, unsigned long size, unsigned long offset);
// Mirrors lib/find_bit.c:find_next_zero_bit() @ v4.4: the first clear bit at or after `offset`, or `size`.
unsigned long find_next_zero_bit(const unsigned long* addr, unsigned long size, unsigned long offset);
// Mirrors lib/find_bit.c:find_first_bit() @ v4.4.
inline unsigned long find_first_bit(const unsigned long* addr, unsigned long size) {
  return find_next_bit(addr, size, 0);
}
// Mirrors lib/find_bit.c:find_first_zero_bit() @ v4.4.
inline unsigned long find_first_zero_bit(const unsigned long* addr, unsigned long size) {
  return find_next_zero_bit(addr, size, 0);
}

// Mirrors lib/bitmap.c:bitmap_find_next_zero_area_off() @ v4.4: the first index >= start, aligned so that
// (index + align_offset) & align_mask == 0, of `nr` clear bits. Failure returns a value > size (the end of the
// last candidate tried), which callers test with `>= size`.
unsigned long bitmap_find_next_zero_area_off(const unsigned long* map, unsigned long size, unsigned long start,
                                             unsigned int nr, unsigned long align_mask,
                                             unsigned long align_offset);
// Mirrors include/linux/bitmap.h:bitmap_find_next_zero_area() @ v4.4.
inline unsigned long bitmap_find_next_zero_area(const unsigned long* map, unsigned long size,
                                                unsigned long start, unsigned int nr, unsigned long align_mask) {
  return bitmap_find_next_zero_area_off(map, size, start, nr, align_mask, 0);
}

// Mirrors lib/bitmap.c:bitmap_set() @ v4.4 (non-atomic).
void bitmap_set(unsigned long* map, unsigned int start, int len);
// Mirrors lib/bitmap.c:bitmap_clear() @ v4.4 (non-atomic).
void bitmap_clear(unsigned long* map, unsigned int start, int len);
// Mirrors include/linux/bitmap.h:bitmap_weight() @ v4.4: the number of set bits among the first nbits.
unsigned long bitmap_weight(const unsigned long* map, unsigned long nbits);

inline bool test_bit(unsigned long nr, const unsigned long* addr) {
  return (bitmap_load_word(addr, BIT_WORD(nr)) >> (nr & (BITS_PER_LONG - 1))) & 1UL;
}

}  // namespace ionsim::kernel

#endif  // MODEL_KERNEL_BITMAP_H_
