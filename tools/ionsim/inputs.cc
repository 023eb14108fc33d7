// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "tools/ionsim/inputs.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace ionsim {

absl::StatusOr<std::string> ReadInput(const std::string& path) {
  std::stringstream text;
  if (path == "-") {
    text << std::cin.rdbuf();
    return text.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path, ": ", std::strerror(errno)));
  text << in.rdbuf();
  return text.str();
}

absl::StatusOr<trace::Trace> LoadTrace(const std::string& path) {
  absl::StatusOr<std::string> text = ReadInput(path);
  if (!text.ok()) return text.status();
  trace::Trace t;
  std::string error;
  if (!trace::ParseTrace(*text, &t, &error)) {
    // "line 3: what" -> "PATH:3: what", as compilers name places.
    if (absl::StartsWith(error, "line ")) return absl::InvalidArgumentError(absl::StrCat(path, ":", error.substr(5)));
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", error));
  }
  return t;
}

absl::StatusOr<std::unique_ptr<trace::ModelRunner>> BoardRunner(const std::string& board, bool all_lowmem,
                                                                trace::MachineMode mode) {
  std::string text;
  std::string error;
  if (!trace::ResolveBoard(board, &text, &error)) {
    return absl::InvalidArgumentError(absl::StrCat("board '", board,
                                                   "' is neither an embedded board (dummy, msm8x25, phone) nor a "
                                                   "readable board file (",
                                                   error, ")"));
  }
  std::unique_ptr<trace::ModelRunner> runner = trace::ModelRunner::Create(text, all_lowmem, &error, mode);
  if (!runner) return absl::InvalidArgumentError(absl::StrCat("board: ", error));
  return runner;
}

absl::Status WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  out << data;
  out.close();
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", path, ": ", std::strerror(errno)));
  return absl::OkStatus();
}

}  // namespace ionsim
