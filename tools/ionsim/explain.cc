// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "tools/ionsim/explain.h"

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
#include "tools/trace/executor.h"
#include "tools/trace/model_runner.h"
#include "tools/trace/trace.h"

ABSL_FLAG(uint64_t, at, 0, "<LINE> explain after the operation of this line of the trace (0: after the last)");
ABSL_FLAG(bool, all, false, "also print the per-process table of buffers, in the spirit of AOSP's dmabuf_dump");

namespace ionsim {
namespace {

// The indented block an operation printed (state, debugfs, explain), unindented.
std::string BlockOf(const std::string& output, int line) {
  const std::string head = std::to_string(line) + " explain";
  size_t at = 0;
  std::string block;
  bool in = false;
  while (at < output.size()) {
    size_t end = output.find('\n', at);
    if (end == std::string::npos) end = output.size();
    const std::string l = output.substr(at, end - at);
    at = end + 1;
    if (!l.empty() && l[0] != ' ') {
      in = l.rfind(head, 0) == 0;
      continue;
    }
    if (in) block += (l.size() >= 2 ? l.substr(2) : l) + "\n";
  }
  return block;
}

}  // namespace

int ExplainMain(const std::vector<std::string>& args) {
  const std::string& path = args.at(0);
  const absl::StatusOr<std::string> board_flag = BoardFlag();
  if (!board_flag.ok()) return cli::UsageError("explain", board_flag.status().message());
  const std::string& board = *board_flag;
  const uint64_t at = absl::GetFlag(FLAGS_at);
  const bool all = absl::GetFlag(FLAGS_all);
  const absl::StatusOr<std::string> profile = ProfileFlag();
  if (!profile.ok()) return cli::UsageError("explain", profile.status().message());
  absl::StatusOr<trace::Trace> t = LoadTrace(path);
  if (!t.ok()) {
    absl::FPrintF(stderr, "ionsim explain: %s\n", t.status().message());
    return cli::kExitError;
  }
  int last = 0;
  for (const trace::Op& op : t->ops) last = std::max(last, op.line);
  if (at > static_cast<uint64_t>(last)) {
    absl::FPrintF(stderr, "ionsim explain: --at %d is past the trace's last operation (line %d)\n", at, last);
    return cli::kExitError;
  }
  // The trace up to the line, then the explanations.
  trace::Trace cut = *t;
  if (at > 0) {
    cut.ops.clear();
    for (const trace::Op& op : t->ops) {
      if (op.line <= static_cast<int>(at)) cut.ops.push_back(op);
    }
  }
  for (trace::Op& op : cut.ops) {
    op.expect.clear();  // a prefix's results are not checked here: `replay` does that
    op.expect_warn = false;
    op.expect_coherency = false;
  }
  const int base = last + 1;
  trace::Op table;
  table.kind = trace::OpKind::kExplain;
  table.flags = 1;
  table.line = base;
  trace::Op every;
  every.kind = trace::OpKind::kExplain;
  every.line = base + 1;
  if (all) cut.ops.push_back(table);
  cut.ops.push_back(every);
  absl::StatusOr<std::unique_ptr<trace::ModelRunner>> runner = BoardRunner(board.empty() ? t->board : board);
  if (!runner.ok()) {
    absl::FPrintF(stderr, "ionsim explain: %s\n", runner.status().message());
    return cli::kExitError;
  }
  if (std::string error; !(*runner)->SetProfile(profile->empty() ? t->profile : *profile, &error)) {
    absl::FPrintF(stderr, "ionsim explain: %s\n", error);
    return cli::kExitError;
  }
  trace::ExecReport report;
  (*runner)->Run(cut, /*build_output=*/true, /*check=*/true, &report);
  if (!report.error.empty()) {
    absl::FPrintF(stderr, "ionsim explain: %s\n", report.error);
    return cli::kExitError;
  }
  std::string out = absl::StrFormat("# %s, after %s\n", path,
                                    at > 0 ? absl::StrFormat("line %d", at) : std::string("the last operation"));
  if (all) out += BlockOf(report.output, base) + "\n";
  out += BlockOf(report.output, base + 1);
  // What the run found on the way and at the teardown (what still held a buffer when every process exited).
  for (const std::string& f : report.failures) out += "# " + f + "\n";
  std::fputs(out.c_str(), stdout);
  return cli::kExitOk;
}

}  // namespace ionsim
