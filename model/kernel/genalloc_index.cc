// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "model/kernel/genalloc_index.h"

#include <algorithm>

#include "model/kernel/bitmap.h"

namespace ionsim::kernel {
namespace {

constexpr unsigned long kNone = ~0UL;

inline unsigned long ctz_or_64(unsigned long v) {
  return v == 0 ? 64 : static_cast<unsigned long>(__builtin_ctzl(v));
}
inline uint32_t clz_or_64(unsigned long v) { return v == 0 ? 64 : static_cast<uint32_t>(__builtin_clzl(v)); }
constexpr uint32_t kWordBits = 64;

}  // namespace

genalloc_index::genalloc_index(const unsigned long* map, unsigned long nbits)
    : map_(map), nbits_(nbits), nwords_(BITS_TO_LONGS(nbits)) {
  leaves_ = 1;
  while (leaves_ < nwords_) leaves_ <<= 1;
  tree_.assign(2 * leaves_, node{});
  for (unsigned long w = 0; w < leaves_; ++w) tree_[leaves_ + w] = leaf(w);
  for (unsigned long i = leaves_ - 1; i >= 1; --i) tree_[i] = combine(tree_[2 * i], tree_[2 * i + 1]);
}

genalloc_index::node genalloc_index::leaf(unsigned long word) const {
  if (word >= nwords_) return node{kWordBits, 0, 0, 0};  // padding: all busy
  unsigned long busy = bitmap_load_word(map_, word);
  if (word == nwords_ - 1 && nbits_ % BITS_PER_LONG) busy |= ~BITMAP_LAST_WORD_MASK(nbits_);  // past the end
  if (busy == 0) return node{kWordBits, kWordBits, kWordBits, kWordBits};
  if (busy == ~0UL) return node{kWordBits, 0, 0, 0};
  node n{kWordBits, static_cast<uint32_t>(ctz_or_64(busy)), clz_or_64(busy), 0};
  n.best = std::max(n.pre, n.suf);
  // The inner clear runs, one step per run.
  unsigned long pos = n.pre;
  while (pos < BITS_PER_LONG - n.suf) {
    const unsigned long zero = pos + ctz_or_64(~busy >> pos);
    if (zero >= BITS_PER_LONG - n.suf) break;
    const unsigned long run = ctz_or_64(busy >> zero);
    n.best = std::max(n.best, static_cast<uint32_t>(run));
    pos = zero + run;
  }
  return n;
}

genalloc_index::node genalloc_index::combine(const node& l, const node& r) {
  node n;
  n.len = l.len + r.len;
  n.pre = l.pre == l.len ? l.len + r.pre : l.pre;
  n.suf = r.suf == r.len ? r.len + l.suf : r.suf;
  n.best = std::max({l.best, r.best, l.suf + r.pre});
  return n;
}

void genalloc_index::update(unsigned long start, unsigned long nr) {
  if (nr == 0) return;
  const unsigned long first = BIT_WORD(start);
  const unsigned long last = std::min(BIT_WORD(start + nr - 1), nwords_ - 1);
  for (unsigned long w = first; w <= last; ++w) tree_[leaves_ + w] = leaf(w);
  // Recompute the parents of the changed range one level at a time, each node once.
  for (unsigned long lo = (leaves_ + first) >> 1, hi = (leaves_ + last) >> 1; lo >= 1; lo >>= 1, hi >>= 1) {
    for (unsigned long i = lo; i <= hi; ++i) tree_[i] = combine(tree_[2 * i], tree_[2 * i + 1]);
  }
}

unsigned long genalloc_index::find(unsigned long i, unsigned long lo, unsigned long start, unsigned long nr,
                                   unsigned long* carry) const {
  const node& n = tree_[i];
  const unsigned long hi = lo + n.len;
  if (hi <= start) {
    *carry = 0;
    return kNone;
  }
  if (lo >= start) {
    if (*carry + n.pre >= nr) return lo - *carry;
    if (n.best < nr && n.pre < n.len) {
      *carry = n.suf;
      return kNone;
    }
    if (n.pre == n.len) {
      *carry += n.len;
      return kNone;
    }
  }
  if (i >= leaves_) {
    // One word, partly before start: walk its clear runs with word operations.
    unsigned long busy = bitmap_load_word(map_, i - leaves_);
    const unsigned long w = i - leaves_;
    if (w == nwords_ - 1 && nbits_ % BITS_PER_LONG) busy |= ~BITMAP_LAST_WORD_MASK(nbits_);
    if (start > lo) {
      busy |= ~BITMAP_FIRST_WORD_MASK(start - lo);  // bits before start do not count
      *carry = 0;
    }
    unsigned long pos = 0;
    while (pos < BITS_PER_LONG) {
      const unsigned long zero = pos + ctz_or_64(~busy >> pos);
      if (zero >= BITS_PER_LONG) {
        *carry = 0;
        return kNone;
      }
      const unsigned long run = std::min(ctz_or_64(busy >> zero), BITS_PER_LONG - zero);
      const unsigned long run_start = zero == 0 ? lo - *carry : lo + zero;
      const unsigned long run_len = zero == 0 ? *carry + run : run;
      if (run_len >= nr) return run_start;
      if (zero + run == BITS_PER_LONG) {
        *carry = run_len;
        return kNone;
      }
      pos = zero + run;
    }
    *carry = 0;
    return kNone;
  }
  const unsigned long left = find(2 * i, lo, start, nr, carry);
  if (left != kNone) return left;
  return find(2 * i + 1, lo + tree_[2 * i].len, start, nr, carry);
}

unsigned long genalloc_index::failure_value(unsigned long start, unsigned long nr) const {
  // Upstream's loop fails at the first candidate (a clear-run start at or after `start`, runs clipped at
  // `start`) whose end passes nbits; every earlier candidate's run was too short. That candidate is the first
  // run start at or after q = nbits - nr + 1, or nbits when there is none.
  const unsigned long q = nr > nbits_ ? 0 : nbits_ - nr + 1;
  const unsigned long y = std::max(start, q);
  unsigned long candidate;
  if (y == start || y == 0 || test_bit(y - 1, map_)) {
    candidate = find_next_zero_bit(map_, nbits_, y);
  } else {
    // y sits inside a run that began before q and was already rejected: the next candidate follows its end.
    const unsigned long end = find_next_bit(map_, nbits_, y);
    candidate = end >= nbits_ ? nbits_ : find_next_zero_bit(map_, nbits_, end + 1);
  }
  return candidate + nr;
}

unsigned long genalloc_index::first_fit(unsigned long start, unsigned int nr) const {
  if (nr == 0) return find_next_zero_bit(map_, nbits_, start);
  if (start >= nbits_) return nbits_ + nr;
  unsigned long carry = 0;
  const unsigned long found = find(1, 0, start, nr, &carry);
  if (found != kNone && found + nr <= nbits_) return found;
  return failure_value(start, nr);
}

}  // namespace ionsim::kernel
