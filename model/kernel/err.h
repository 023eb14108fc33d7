// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Errors the way the kernel returns them. A kernel function that returns 0 or -errno returns an Errno here; one
// that returns a value or ERR_PTR(-errno) returns an ErrnoOr<T>. absl::Status is not used inside the model: its
// canonical codes cannot tell EINVAL, EFAULT and ENOTTY apart, and the ioctl contract is the exact errno.
#ifndef MODEL_KERNEL_ERR_H_
#define MODEL_KERNEL_ERR_H_

#include <cerrno>
#include <cstdlib>
#include <ostream>
#include <type_traits>
#include <utility>
#include <variant>

namespace ionsim::kernel {

// ENOIOCTLCMD is kernel-internal (include/linux/errno.h): the VFS turns it into ENOTTY before userspace sees it.
inline constexpr int ENOIOCTLCMD = 515;

// The name of an errno ("EINVAL"), or "E<number>" for a value outside the table. 0 is "OK".
const char* errno_name(int code);

// Terminates the process with a message: an Errno or ErrnoOr was used against its contract (a positive errno,
// value() of an error). This is a bug in the model, never a modelled kernel outcome.
[[noreturn]] void errno_contract_violation(const char* what);

// 0 or a negative errno, spelled as the kernel spells it: `return Errno(-EINVAL);`.
class [[nodiscard]] Errno {
 public:
  constexpr Errno() = default;
  constexpr explicit Errno(int kernel_ret) : ret_(kernel_ret) {
    if (kernel_ret > 0) errno_contract_violation("Errno built from a positive value; spell it -EINVAL");
  }
  static constexpr Errno Ok() { return Errno(); }

  constexpr bool ok() const { return ret_ == 0; }
  // The positive errno (EINVAL), 0 when ok.
  constexpr int code() const { return -ret_; }
  // What a kernel function returns: 0 or -errno.
  constexpr int kernel_ret() const { return ret_; }
  const char* name() const { return errno_name(code()); }
  // Explicitly discards an error where the kernel ignores a return value.
  void IgnoreError() const {}

  friend constexpr bool operator==(Errno a, Errno b) { return a.ret_ == b.ret_; }
  friend constexpr bool operator!=(Errno a, Errno b) { return a.ret_ != b.ret_; }
  friend std::ostream& operator<<(std::ostream& os, Errno e) { return os << e.name(); }

 private:
  int ret_ = 0;
};

// A T or an error: the kernel's ERR_PTR idiom made type-safe.
template <typename T>
class [[nodiscard]] ErrnoOr {
 public:
  // NOLINTNEXTLINE(google-explicit-constructor): mirrors `return value;` in kernel code.
  ErrnoOr(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  // NOLINTNEXTLINE(google-explicit-constructor): mirrors `return ERR_PTR(-EINVAL);`.
  ErrnoOr(Errno error) : v_(std::in_place_index<1>, error) {
    if (error.ok()) errno_contract_violation("ErrnoOr built from Errno::Ok()");
  }

  bool ok() const { return v_.index() == 0; }
  // The error, or Errno::Ok() when a value is held.
  Errno error() const { return ok() ? Errno::Ok() : std::get<1>(v_); }

  T& value() & {
    if (!ok()) errno_contract_violation("value() of an ErrnoOr holding an error");
    return std::get<0>(v_);
  }
  const T& value() const& {
    if (!ok()) errno_contract_violation("value() of an ErrnoOr holding an error");
    return std::get<0>(v_);
  }
  T&& value() && {
    if (!ok()) errno_contract_violation("value() of an ErrnoOr holding an error");
    return std::get<0>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  void IgnoreError() const {}

 private:
  std::variant<T, Errno> v_;
};

template <typename T>
std::ostream& operator<<(std::ostream& os, const ErrnoOr<T>& r) {
  if (!r.ok()) return os << r.error();
  if constexpr (std::is_pointer_v<T>) {
    return os << "OK(" << static_cast<const void*>(r.value()) << ")";
  } else {
    return os << "OK(" << r.value() << ")";
  }
}

namespace errno_internal {
inline Errno ToErrno(Errno e) { return e; }
template <typename T>
Errno ToErrno(const ErrnoOr<T>& r) {
  return r.error();
}
}  // namespace errno_internal

}  // namespace ionsim::kernel

#define ION_ERRNO_CONCAT_INNER_(a, b) a##b
#define ION_ERRNO_CONCAT_(a, b) ION_ERRNO_CONCAT_INNER_(a, b)

// Returns the error of `expr` (an Errno or ErrnoOr) from the enclosing function if it is one.
#define ION_RETURN_IF_ERROR(expr)                                                              \
  do {                                                                                         \
    const ::ionsim::kernel::Errno ion_errno_ = ::ionsim::kernel::errno_internal::ToErrno(expr); \
    if (!ion_errno_.ok()) return ion_errno_;                                                   \
  } while (0)

// `ION_ASSIGN_OR_RETURN(struct ion_handle* handle, ion_handle_get_by_id(client, id));`
#define ION_ASSIGN_OR_RETURN(lhs, expr) \
  ION_ASSIGN_OR_RETURN_IMPL_(ION_ERRNO_CONCAT_(ion_errno_or_, __LINE__), lhs, expr)
#define ION_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return tmp.error();               \
  lhs = std::move(tmp).value()

#endif  // MODEL_KERNEL_ERR_H_
