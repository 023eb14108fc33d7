// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "tools/ionsim/flags.h"

#include <cstdint>
#include <string>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "kmod/ion_board.h"
#include "kmod/ion_profile.h"
#include "model/backend/board_config.h"
#include "tools/trace/model_runner.h"

ABSL_FLAG(std::string, board, "",
          "<NAME|FILE> the board: an embedded board (dummy, msm8x25, phone) or a board file (docs/boards.md); "
          "empty means dummy (replay: the trace's board line; decode and fuzz: the fuzz board, fuzz/fuzz.board)");
ABSL_FLAG(std::string, profile, "",
          "<NAME> the ION profile (era; `ionsim profiles` lists them); empty means the trace's profile line, else "
          "the board's profile record");
ABSL_FLAG(uint64_t, seed, 1, "<N> seed of the random choices");
ABSL_FLAG(std::string, out_dir, "", "<DIR> where the files go; empty means the command's default");
ABSL_FLAG(bool, json, false, "print one JSON document on stdout instead of the text report (docs/json.md)");
ABSL_FLAG(uint64_t, ops, 32, "<K> operations per generated trace");

namespace ionsim {

absl::StatusOr<std::string> ProfileFlag() {
  const std::string profile = absl::GetFlag(FLAGS_profile);
  if (profile.empty() || ion_profile_find(profile.c_str()) != nullptr) return profile;
  char names[128];
  ion_profile_names(names, sizeof(names));
  return absl::InvalidArgumentError(absl::StrFormat("bad value '%s' for --profile (NAME: one of %s)", profile, names));
}

absl::StatusOr<std::string> BoardFlag() {
  const std::string board = absl::GetFlag(FLAGS_board);
  if (board.empty()) return board;
  std::string text;
  std::string error;
  if (!trace::ResolveBoard(board, &text, &error)) {
    std::vector<std::string> names;
    for (unsigned int i = 0; ion_board_builtin_name(i) != nullptr; ++i) names.push_back(ion_board_builtin_name(i));
    return absl::InvalidArgumentError(
        absl::StrFormat("bad value '%s' for --board (NAME|FILE: an embedded board, one of %s, or a readable board "
                        "file; %s)",
                        board, absl::StrJoin(names, ", "), error));
  }
  if (!ModelConfigFromBoard(text, &error).ok()) {
    return absl::InvalidArgumentError(absl::StrFormat("bad value '%s' for --board: %s", board, error));
  }
  return board;
}

}  // namespace ionsim
