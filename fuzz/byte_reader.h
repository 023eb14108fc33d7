// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Decodes fuzzer input bytes into values, front to back, so that changing one byte changes one decision and
// leaves the rest of the program alone (libFuzzer's mutations then make small program edits). Past the end of
// the input every read returns the low end of its range. Written for ionsim because clang's
// FuzzedDataProvider.h is not on gcc's include path and the harnesses build with both.
#ifndef FUZZ_BYTE_READER_H_
#define FUZZ_BYTE_READER_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>

namespace ionsim::fuzz {

class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  size_t remaining_bytes() const { return size_ - pos_; }

  // A value in [lo, hi], from as few bytes as the range needs (little-endian), reduced modulo the range size.
  template <typename T>
  T ConsumeIntegralInRange(T lo, T hi) {
    static_assert(std::is_integral_v<T>);
    using U = std::make_unsigned_t<T>;
    const uint64_t range = static_cast<uint64_t>(static_cast<U>(hi) - static_cast<U>(lo));
    uint64_t raw = 0;
    for (uint64_t span = range; span != 0 && pos_ < size_; span >>= 8) raw = raw << 8 | data_[pos_++];
    const uint64_t offset = range == UINT64_MAX ? raw : raw % (range + 1);
    return static_cast<T>(static_cast<U>(static_cast<U>(lo) + static_cast<U>(offset)));
  }

  template <typename T>
  T ConsumeIntegral() {
    return ConsumeIntegralInRange<T>(std::numeric_limits<T>::min(), std::numeric_limits<T>::max());
  }

  bool ConsumeBool() { return (ConsumeIntegral<uint8_t>() & 1) != 0; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

}  // namespace ionsim::fuzz

#endif  // FUZZ_BYTE_READER_H_
