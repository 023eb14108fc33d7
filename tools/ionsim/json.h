// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// A JSON value built in memory and printed, for `--json` (docs/json.md). Objects keep their keys in insertion
// order, so a command's document reads in the order its text report does.
#ifndef TOOLS_IONSIM_JSON_H_
#define TOOLS_IONSIM_JSON_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace ionsim {

class Json {
 public:
  static Json Object() { return Json(Kind::kObject); }
  static Json Array() { return Json(Kind::kArray); }

  Json() : kind_(Kind::kNull) {}
  Json(bool b) : kind_(Kind::kBool), bool_(b) {}  // NOLINT: a value converts implicitly
  Json(int v) : Json(static_cast<int64_t>(v)) {}  // NOLINT
  Json(int64_t v) : kind_(Kind::kInt), int_(v) {}  // NOLINT
  Json(uint64_t v) : Json(static_cast<int64_t>(v)) {}  // NOLINT
  Json(double v) : kind_(Kind::kDouble), double_(v) {}  // NOLINT
  Json(absl::string_view s) : kind_(Kind::kString), string_(s) {}  // NOLINT
  Json(const std::string& s) : kind_(Kind::kString), string_(s) {}  // NOLINT
  Json(const char* s) : kind_(Kind::kString), string_(s) {}  // NOLINT
  Json(const std::vector<std::string>& strings);  // NOLINT: an array of strings

  // Adds a member (objects) and returns *this.
  Json& Set(absl::string_view key, Json value);
  // Appends an element (arrays) and returns *this.
  Json& Push(Json value);

  // The document, indented by two spaces, with a final newline.
  std::string Print() const;

 private:
  enum class Kind { kNull, kBool, kInt, kDouble, kString, kArray, kObject };
  explicit Json(Kind kind) : kind_(kind) {}
  void PrintTo(std::string* out, int depth) const;

  Kind kind_;
  bool bool_ = false;
  int64_t int_ = 0;
  double double_ = 0;
  std::string string_;
  std::vector<Json> elements_;
  std::vector<std::pair<std::string, Json>> members_;
};

}  // namespace ionsim

#endif  // TOOLS_IONSIM_JSON_H_
