// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "tools/ionsim/gen.h"

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/ionsim/cli.h"
#include "tools/ionsim/flags.h"
#include "tools/trace/generator.h"
#include "tools/trace/model_runner.h"
#include "tools/trace/trace.h"

namespace ionsim {

int GenMain(const std::vector<std::string>&) {
  const uint64_t ops = absl::GetFlag(FLAGS_ops);
  if (ops > 1000000) return cli::UsageError("gen", absl::StrFormat("bad value '%d' for --ops (K: 0 to 1000000)", ops));
  const std::string board = absl::GetFlag(FLAGS_board);
  trace::GeneratorOptions options;
  if (!board.empty()) {
    // The board's heap names, and a `board` line so that replay and crosscheck boot the same board.
    std::string board_text;
    std::string error;
    if (!trace::ResolveBoard(board, &board_text, &error)) return cli::UsageError("gen", error);
    std::unique_ptr<trace::ModelRunner> runner = trace::ModelRunner::Create(board_text, false, &error);
    if (!runner) return cli::UsageError("gen", absl::StrCat("board: ", error));
    options = trace::GeneratorOptionsFor(runner->config());
    if (options.heaps.empty()) return cli::UsageError("gen", "the board has no heaps to generate traces for");
  }
  trace::Trace t = trace::GenerateTrace(absl::GetFlag(FLAGS_seed), static_cast<int>(ops), options);
  if (!board.empty() && board != "dummy") t.board = board;
  const std::string text = trace::PrintTrace(t);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return cli::kExitOk;
}

}  // namespace ionsim
