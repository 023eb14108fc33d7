// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "tools/ionsim/gen.h"

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "tools/ionsim/cli.h"
#include "tools/ionsim/flags.h"
#include "tools/ionsim/inputs.h"
#include "tools/trace/generator.h"
#include "tools/trace/model_runner.h"
#include "tools/trace/trace.h"

namespace ionsim {

int GenMain(const std::vector<std::string>&) {
  const uint64_t ops = absl::GetFlag(FLAGS_ops);
  if (ops > 1000000) return cli::UsageError("gen", absl::StrFormat("bad value '%d' for --ops (K: 0 to 1000000)", ops));
  const absl::StatusOr<std::string> board_flag = BoardFlag();
  if (!board_flag.ok()) return cli::UsageError("gen", board_flag.status().message());
  const std::string& board = *board_flag;
  trace::GeneratorOptions options;
  if (!board.empty()) {
    // The board's heap names, and a `board` line so that replay and crosscheck boot the same board.
    absl::StatusOr<std::unique_ptr<trace::ModelRunner>> runner = BoardRunner(board);
    if (!runner.ok()) return cli::UsageError("gen", runner.status().message());
    options = trace::GeneratorOptionsFor((*runner)->config());
    if (options.heaps.empty()) return cli::UsageError("gen", "the board has no heaps to generate traces for");
  }
  // A `profile` line pins the trace's era (docs/profiles.md).
  const absl::StatusOr<std::string> profile = ProfileFlag();
  if (!profile.ok()) return cli::UsageError("gen", profile.status().message());
  trace::Trace t = trace::GenerateTrace(absl::GetFlag(FLAGS_seed), static_cast<int>(ops), options);
  if (!board.empty() && board != "dummy") t.board = board;
  t.profile = *profile;
  const std::string text = trace::PrintTrace(t);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return cli::kExitOk;
}

}  // namespace ionsim
