// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "tests/tools/xml_check.h"

#include <cctype>
#include <set>
#include <string>
#include <vector>

namespace ionsim::testing {
namespace {

bool NameStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':'; }
bool NameChar(char c) {
  return NameStart(c) || std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '.';
}

class Checker {
 public:
  explicit Checker(const std::string& doc) : s_(doc) {}

  std::string Run() {
    if (s_.compare(0, 5, "<?xml") == 0) {
      const size_t end = s_.find("?>");
      if (end == std::string::npos) return Fail("unterminated XML declaration");
      i_ = end + 2;
    }
    int roots = 0;
    while (i_ < s_.size()) {
      const char c = s_[i_];
      if (c == '<') {
        if (s_.compare(i_, 4, "<!--") == 0) {
          const size_t end = s_.find("-->", i_ + 4);
          if (end == std::string::npos) return Fail("unterminated comment");
          i_ = end + 3;
          continue;
        }
        if (s_.compare(i_, 2, "</") == 0) {
          i_ += 2;
          const std::string name = Name();
          if (name.empty()) return Fail("bad closing tag");
          SkipSpace();
          if (i_ >= s_.size() || s_[i_] != '>') return Fail("bad closing tag " + name);
          ++i_;
          if (stack_.empty() || stack_.back() != name) return Fail("</" + name + "> closes nothing open");
          stack_.pop_back();
          continue;
        }
        ++i_;
        const std::string name = Name();
        if (name.empty()) return Fail("'<' that starts no tag");
        if (stack_.empty() && roots++ > 0) return Fail("a second root element");
        std::set<std::string> attrs;
        for (;;) {
          const bool spaced = SkipSpace();
          if (i_ >= s_.size()) return Fail("unterminated tag " + name);
          if (s_[i_] == '>') {
            ++i_;
            stack_.push_back(name);
            break;
          }
          if (s_.compare(i_, 2, "/>") == 0) {
            i_ += 2;
            break;
          }
          if (!spaced) return Fail("attribute without space before it in " + name);
          const std::string attr = Name();
          if (attr.empty()) return Fail("bad attribute in " + name);
          if (!attrs.insert(attr).second) return Fail("duplicate attribute " + attr);
          SkipSpace();
          if (i_ >= s_.size() || s_[i_] != '=') return Fail("attribute " + attr + " without a value");
          ++i_;
          SkipSpace();
          if (i_ >= s_.size() || (s_[i_] != '"' && s_[i_] != '\'')) return Fail("unquoted attribute " + attr);
          const char quote = s_[i_++];
          while (i_ < s_.size() && s_[i_] != quote) {
            if (s_[i_] == '<') return Fail("'<' in attribute " + attr);
            std::string problem = Char();
            if (!problem.empty()) return problem;
          }
          if (i_ >= s_.size()) return Fail("unterminated attribute " + attr);
          ++i_;
        }
        continue;
      }
      if (stack_.empty() && !std::isspace(static_cast<unsigned char>(c))) return Fail("text outside the root");
      std::string problem = Char();
      if (!problem.empty()) return problem;
    }
    if (!stack_.empty()) return Fail("<" + stack_.back() + "> never closed");
    if (roots != 1) return Fail("no root element");
    return "";
  }

 private:
  std::string Fail(const std::string& what) const { return what + " at byte " + std::to_string(i_); }

  bool SkipSpace() {
    const size_t start = i_;
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
    return i_ > start;
  }

  std::string Name() {
    const size_t start = i_;
    if (i_ < s_.size() && NameStart(s_[i_])) {
      ++i_;
      while (i_ < s_.size() && NameChar(s_[i_])) ++i_;
    }
    return s_.substr(start, i_ - start);
  }

  // One character of text or attribute value: an entity, or a plain character.
  std::string Char() {
    const unsigned char c = static_cast<unsigned char>(s_[i_]);
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return Fail("control character");
    if (c != '&') {
      ++i_;
      return "";
    }
    static const char* kEntities[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
    for (const char* e : kEntities) {
      const std::string entity = e;
      if (s_.compare(i_, entity.size(), entity) == 0) {
        i_ += entity.size();
        return "";
      }
    }
    if (s_.compare(i_, 2, "&#") == 0) {
      size_t j = i_ + 2;
      const bool hex = j < s_.size() && s_[j] == 'x';
      if (hex) ++j;
      const size_t digits = j;
      while (j < s_.size() && (hex ? std::isxdigit(static_cast<unsigned char>(s_[j]))
                                   : std::isdigit(static_cast<unsigned char>(s_[j])))) {
        ++j;
      }
      if (j > digits && j < s_.size() && s_[j] == ';') {
        i_ = j + 1;
        return "";
      }
    }
    return Fail("bare '&'");
  }

  const std::string& s_;
  size_t i_ = 0;
  std::vector<std::string> stack_;
};

}  // namespace

std::string XmlProblem(const std::string& doc) { return Checker(doc).Run(); }

}  // namespace ionsim::testing
