// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// container_of and friends. Model structs mirror kernel structs but may hold C++ members (locks, strings), which
// makes them non-standard-layout; offsetof on them is conditionally supported and works with gcc and clang for
// non-virtual types, so the warning is silenced in this one place.
#ifndef MODEL_KERNEL_COMPILER_H_
#define MODEL_KERNEL_COMPILER_H_

#include <cstddef>
#include <cstdint>

namespace ionsim::kernel::compiler_internal {

template <typename T, typename M>
inline T* container_of_impl(M* ptr, size_t offset) {
  return reinterpret_cast<T*>(reinterpret_cast<uintptr_t>(ptr) - offset);
}
template <typename T, typename M>
inline const T* container_of_impl(const M* ptr, size_t offset) {
  return reinterpret_cast<const T*>(reinterpret_cast<uintptr_t>(ptr) - offset);
}

}  // namespace ionsim::kernel::compiler_internal

#define ION_OFFSETOF(type, member)                                        \
  ([]() constexpr -> size_t {                                             \
    _Pragma("GCC diagnostic push")                                        \
    _Pragma("GCC diagnostic ignored \"-Winvalid-offsetof\"")              \
    return offsetof(type, member);                                        \
    _Pragma("GCC diagnostic pop")                                         \
  }())

// Mirrors include/linux/kernel.h:container_of() @ v4.4.
#define container_of(ptr, type, member) \
  (::ionsim::kernel::compiler_internal::container_of_impl<type>((ptr), ION_OFFSETOF(type, member)))

// Marks a function that judges the model instead of modelling the kernel (an invariant checker, the buddy
// allocator's consistency walk): libFuzzer's coverage instrumentation (clang's -fsanitize=fuzzer-no-link) leaves
// it out. Its branches say nothing about which kernel paths an input reached, and its loops over every page or
// object would otherwise run an instrumentation callback per comparison. Empty for other compilers and builds.
#if defined(__clang__)
#define ION_NO_COVERAGE __attribute__((no_sanitize("coverage")))
#else
#define ION_NO_COVERAGE
#endif

// The module's init and exit paths, as the kernel's __init and __exit mark them: the functions that only run
// while the ION module loads (the device, each heap and its pools, their debugfs files, shrinkers and the misc
// device) or unloads (their teardown). Every fuzz input ends with a module reload (fuzz/fuzz_machine.h), so
// their edges would be coverage that every execution has and that libFuzzer would count every time: they are
// left out like ION_NO_COVERAGE code. What unload finds to free depends on the input, but that work (destroying
// buffers, freeing pool pages, draining free lists) is done by functions the operations also use, which keep
// their coverage.
#define ION_MODULE_INIT ION_NO_COVERAGE
#define ION_MODULE_EXIT ION_NO_COVERAGE

#endif  // MODEL_KERNEL_COMPILER_H_
