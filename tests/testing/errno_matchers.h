// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// GoogleTest matchers for Errno and ErrnoOr<T> (Abseil 20220623 has no status matchers, and absl::Status could
// not carry the errno anyway):
//   EXPECT_THAT(ion_free(client, id), IsOk());
//   EXPECT_THAT(idr_alloc(&idr, p, 1, 0, GFP_KERNEL), IsOkAndHolds(1));
//   EXPECT_THAT(ion_alloc(client, 0, 4096, 1, 0), IsErrno(EINVAL));
#ifndef TESTS_TESTING_ERRNO_MATCHERS_H_
#define TESTS_TESTING_ERRNO_MATCHERS_H_

#include <ostream>
#include <string>
#include <utility>

#include "gmock/gmock.h"
#include "model/kernel/err.h"

namespace ionsim::kernel {

inline void PrintTo(Errno e, std::ostream* os) { *os << e.name(); }

template <typename T>
void PrintTo(const ErrnoOr<T>& r, std::ostream* os) {
  if (!r.ok()) {
    *os << r.error().name();
  } else {
    *os << "OK(" << ::testing::PrintToString(r.value()) << ")";
  }
}

}  // namespace ionsim::kernel

namespace ionsim::testing {
namespace internal {

inline kernel::Errno ErrorOf(kernel::Errno e) { return e; }
template <typename T>
kernel::Errno ErrorOf(const kernel::ErrnoOr<T>& r) {
  return r.error();
}

}  // namespace internal

// Matches an Errno or ErrnoOr<T> that succeeded.
MATCHER(IsOk, negation ? "is an error" : "is OK") {
  const kernel::Errno e = internal::ErrorOf(arg);
  if (!e.ok()) *result_listener << "which is " << e.name();
  return e.ok();
}

// Matches an Errno or ErrnoOr<T> that failed with `code`, given as the positive errno (EINVAL) or as the kernel
// spells it (-EINVAL).
MATCHER_P(IsErrno, code,
          std::string(negation ? "isn't " : "is ") + kernel::errno_name(code < 0 ? -code : code)) {
  const kernel::Errno e = internal::ErrorOf(arg);
  const int want = code < 0 ? -code : code;
  if (e.code() != want) *result_listener << "which is " << e.name();
  return e.code() == want;
}

// Matches an ErrnoOr<T> that holds a value matching `inner`.
MATCHER_P(IsOkAndHolds, inner, std::string(negation ? "isn't OK or doesn't hold " : "is OK and holds ") +
                                   ::testing::DescribeMatcher<decltype(std::declval<const arg_type&>().value())>(inner)) {
  if (!arg.ok()) {
    *result_listener << "which is " << arg.error().name();
    return false;
  }
  return ::testing::ExplainMatchResult(inner, arg.value(), result_listener);
}

}  // namespace ionsim::testing

#endif  // TESTS_TESTING_ERRNO_MATCHERS_H_
