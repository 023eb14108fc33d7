// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "tools/trace/bundle.h"

#include <cstdlib>

namespace ionsim::trace {
namespace {

// Splits data into lines (without '\n').
std::vector<std::string> Lines(const std::string& data) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < data.size()) {
    size_t nl = data.find('\n', pos);
    if (nl == std::string::npos) nl = data.size();
    out.push_back(data.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

}  // namespace

std::string WriteBundle(const std::string& board, const std::vector<BundleEntry>& entries) {
  std::string board_line = board;
  for (char& c : board_line) {
    if (c == '\n') c = ';';
  }
  std::string out = "ionsim-bundle 1\nboard " + board_line + "\n";
  for (const BundleEntry& e : entries) {
    std::vector<std::string> lines = Lines(e.text);
    out += "trace " + e.name + " " + std::to_string(lines.size()) + "\n";
    for (const std::string& l : lines) out += l + "\n";
  }
  return out;
}

bool ReadBundle(const std::string& data, std::string* board, std::vector<BundleEntry>* entries, std::string* error) {
  const std::vector<std::string> lines = Lines(data);
  if (lines.size() < 2 || lines[0] != "ionsim-bundle 1" || lines[1].rfind("board ", 0) != 0) {
    *error = "not an ionsim bundle";
    return false;
  }
  *board = lines[1].substr(6);
  entries->clear();
  size_t i = 2;
  while (i < lines.size()) {
    const std::string& l = lines[i++];
    if (l.empty()) continue;
    const size_t sp = l.rfind(' ');
    if (l.rfind("trace ", 0) != 0 || sp <= 6) {
      *error = "bad bundle line " + std::to_string(i);
      return false;
    }
    BundleEntry e;
    e.name = l.substr(6, sp - 6);
    const size_t n = std::strtoul(l.c_str() + sp + 1, nullptr, 10);
    if (i + n > lines.size()) {
      *error = "bundle ends inside trace " + e.name;
      return false;
    }
    for (size_t k = 0; k < n; ++k) e.text += lines[i + k] + "\n";
    i += n;
    entries->push_back(std::move(e));
  }
  return true;
}

bool ReadGuestResults(const std::string& data, std::vector<GuestResult>* results, uint64_t* total_us,
                      std::string* error) {
  results->clear();
  *total_us = 0;
  const std::vector<std::string> lines = Lines(data);
  GuestResult* cur = nullptr;
  for (const std::string& l : lines) {
    if (cur == nullptr) {
      if (l.rfind("IONSIM_TRACE ", 0) == 0) {
        GuestResult r;
        const std::string rest = l.substr(13);
        const size_t sp = rest.find(' ');
        const size_t us = rest.rfind(" us=");
        if (sp == std::string::npos || us == std::string::npos || us < sp) {
          *error = "bad result line: " + l;
          return false;
        }
        r.name = rest.substr(0, sp);
        r.status = rest.substr(sp + 1, us - sp - 1);
        r.us = std::strtoull(rest.c_str() + us + 4, nullptr, 10);
        const size_t reload = rest.find(" reload_us=", us);
        if (reload != std::string::npos) r.reload_us = std::strtoull(rest.c_str() + reload + 11, nullptr, 10);
        results->push_back(std::move(r));
        cur = &results->back();
      } else if (l.rfind("IONSIM_REPLAY ", 0) == 0) {
        const size_t us = l.rfind(" us=");
        if (us != std::string::npos) *total_us = std::strtoull(l.c_str() + us + 4, nullptr, 10);
      }
      continue;
    }
    if (l == "IONSIM_TRACE_END " + cur->name) {
      cur = nullptr;
      continue;
    }
    cur->output += l + "\n";
  }
  if (cur != nullptr) {
    *error = "guest output ends inside trace " + cur->name;
    return false;
  }
  return true;
}

}  // namespace ionsim::trace
