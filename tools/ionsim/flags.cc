// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "tools/ionsim/flags.h"

#include <cstdint>
#include <string>

#include "absl/flags/flag.h"

ABSL_FLAG(std::string, board, "",
          "<NAME|FILE> the board: an embedded board (dummy, msm8x25, phone) or a board file (docs/boards.md); "
          "empty means dummy (replay: the trace's board line)");
ABSL_FLAG(std::string, profile, "",
          "<NAME> the ION profile (era; `ionsim profiles` lists them); empty means the trace's profile line, else "
          "the board's profile record");
ABSL_FLAG(uint64_t, seed, 1, "<N> seed of the random choices");
ABSL_FLAG(std::string, out_dir, "", "<DIR> where the files go; empty means the command's default");
ABSL_FLAG(bool, json, false, "print one JSON document on stdout instead of the text report (docs/json.md)");
ABSL_FLAG(uint64_t, ops, 32, "<K> operations per generated trace");
