// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The flags shared by ionsim's subcommands, each defined once (flags.cc). A subcommand takes one of them by
// naming it in its cli::Command entry (ionsim.cc); it reads the value with absl::GetFlag(FLAGS_<name>). A flag
// that every model-booting command should take is added here and named in those entries.
//
// Help strings start with the flag's value name in angle brackets ("<N> ..."): cli.cc prints it as
// `--seed=N` in the generated help.
#ifndef TOOLS_IONSIM_FLAGS_H_
#define TOOLS_IONSIM_FLAGS_H_

#include <cstdint>
#include <string>

#include "absl/flags/declare.h"
#include "absl/status/statusor.h"

// An embedded board's name or a board file (docs/boards.md); "" is the command's default (dummy; for replay
// the trace's `board` line).
ABSL_DECLARE_FLAG(std::string, board);
// An ION profile (era, kmod/ion_profile.h, docs/profiles.md); "" is the trace's profile line, else the board's
// profile record.
ABSL_DECLARE_FLAG(std::string, profile);
// The seed of the command's random choices.
ABSL_DECLARE_FLAG(uint64_t, seed);
// Where the command writes its files; "" is the command's default.
ABSL_DECLARE_FLAG(std::string, out_dir);
// One JSON document on stdout instead of the text report (docs/json.md).
ABSL_DECLARE_FLAG(bool, json);
// Operations per generated trace (gen, crosscheck --random).
ABSL_DECLARE_FLAG(uint64_t, ops);

namespace ionsim {

// The value of --profile: "" or an ION profile's name; any other value is an InvalidArgument error
// "bad value '<value>' for --profile (NAME: one of <every name>)". Every command that takes --profile checks it
// with this before it boots anything.
absl::StatusOr<std::string> ProfileFlag();

// The value of --board: "" or a board that resolves (an embedded board's name or a readable board file) and
// validates; otherwise an InvalidArgument error "bad value '<value>' for --board ..." naming what is wrong. Every
// command that takes --board checks it with this before it reads any other input or boots anything.
absl::StatusOr<std::string> BoardFlag();

}  // namespace ionsim

#endif  // TOOLS_IONSIM_FLAGS_H_
