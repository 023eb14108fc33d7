// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "tools/ionsim/json.h"

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ionsim {
namespace {

void Quote(absl::string_view s, std::string* out) {
  out->push_back('"');
  for (const char c : s) {
    switch (c) {
      case '"': absl::StrAppend(out, "\\\""); break;
      case '\\': absl::StrAppend(out, "\\\\"); break;
      case '\n': absl::StrAppend(out, "\\n"); break;
      case '\r': absl::StrAppend(out, "\\r"); break;
      case '\t': absl::StrAppend(out, "\\t"); break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppendFormat(out, "\\u%04x", static_cast<unsigned char>(c));
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

}  // namespace

Json::Json(const std::vector<std::string>& strings) : kind_(Kind::kArray) {
  for (const std::string& s : strings) elements_.emplace_back(s);
}

Json& Json::Set(absl::string_view key, Json value) {
  members_.emplace_back(std::string(key), std::move(value));
  return *this;
}

Json& Json::Push(Json value) {
  elements_.push_back(std::move(value));
  return *this;
}

std::string Json::Print() const {
  std::string out;
  PrintTo(&out, 0);
  out.push_back('\n');
  return out;
}

void Json::PrintTo(std::string* out, int depth) const {
  const std::string indent(2 * (depth + 1), ' ');
  const std::string close(2 * depth, ' ');
  switch (kind_) {
    case Kind::kNull: absl::StrAppend(out, "null"); break;
    case Kind::kBool: absl::StrAppend(out, bool_ ? "true" : "false"); break;
    case Kind::kInt: absl::StrAppend(out, int_); break;
    case Kind::kDouble:
      if (std::isfinite(double_)) {
        absl::StrAppendFormat(out, "%.6g", double_);
      } else {
        absl::StrAppend(out, "null");
      }
      break;
    case Kind::kString: Quote(string_, out); break;
    case Kind::kArray:
      if (elements_.empty()) {
        absl::StrAppend(out, "[]");
        break;
      }
      absl::StrAppend(out, "[\n");
      for (size_t i = 0; i < elements_.size(); ++i) {
        absl::StrAppend(out, indent);
        elements_[i].PrintTo(out, depth + 1);
        absl::StrAppend(out, i + 1 < elements_.size() ? ",\n" : "\n");
      }
      absl::StrAppend(out, close, "]");
      break;
    case Kind::kObject:
      if (members_.empty()) {
        absl::StrAppend(out, "{}");
        break;
      }
      absl::StrAppend(out, "{\n");
      for (size_t i = 0; i < members_.size(); ++i) {
        absl::StrAppend(out, indent);
        Quote(members_[i].first, out);
        absl::StrAppend(out, ": ");
        members_[i].second.PrintTo(out, depth + 1);
        absl::StrAppend(out, i + 1 < members_.size() ? ",\n" : "\n");
      }
      absl::StrAppend(out, close, "}");
      break;
  }
}

}  // namespace ionsim
