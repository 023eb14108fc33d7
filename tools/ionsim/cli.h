// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// ionsim's subcommand layer. Each subcommand is a Command: its name, its positional arguments, a one-line
// summary and the names of the Abseil flags it accepts (the shared ones from flags.h, its own defined next to
// its code). Dispatch() picks the command from argv[1] and parses the rest against that command's flags only:
//   --flag=value and --flag value (a boolean flag takes no value, or =true/=false); `-` and `--` as usual;
//   -h/--help prints the command's help, generated from the flag definitions;
//   an unknown flag, a missing value or a value the flag's type does not take is a usage error: a message
//   naming the flag and what the command accepts, exit code 2.
// `ionsim help` (and `ionsim --help`) lists the commands; `ionsim help --markdown` prints the same list as the
// Markdown table README.md carries.
#ifndef TOOLS_IONSIM_CLI_H_
#define TOOLS_IONSIM_CLI_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace ionsim::cli {

// Exit codes of every subcommand (README.md, "Exit codes").
inline constexpr int kExitOk = 0;       // all good
inline constexpr int kExitFinding = 1;  // a finding: a divergence, an invariant violation, a leak, a mismatch
// The command could not do its job: a usage or input error (a flag, a file that cannot be read, a trace that
// does not parse, a board that does not validate), or a run that could not finish (a guest that did not boot).
inline constexpr int kExitError = 2;

struct Command {
  absl::string_view name;
  absl::string_view args;     // the positional arguments' synopsis: "TRACE", "[TRACE...]", "" for none
  absl::string_view summary;  // one line, for `ionsim help` and README's table
  absl::string_view details;  // more help text, printed after the flags ("" for none)
  std::vector<absl::string_view> flags;  // flag names as defined (out_dir); printed and parsed as --out-dir
  int min_args = 0;
  int max_args = 0;  // -1: no limit
  int (*main)(const std::vector<std::string>& args) = nullptr;
};

// Runs the command argv[1] names with the rest of argv; returns the exit code.
int Dispatch(const std::vector<Command>& commands, int argc, char** argv);

// The command's --help text.
std::string CommandHelp(const Command& command);
// The `ionsim help` text.
std::string CommandsHelp(const std::vector<Command>& commands);
// README's command table.
std::string CommandsMarkdown(const std::vector<Command>& commands);

// Parses args (the words after the command's name) against the command's flags, setting them; the other words
// go to *positional. False with a message naming the flag in *error. *help is set for -h/--help.
bool ParseArgs(const Command& command, const std::vector<std::string>& args, std::vector<std::string>* positional,
               bool* help, std::string* error);

// Prints "ionsim <command>: <message>" and the pointer to the command's help on stderr; returns kExitError.
int UsageError(absl::string_view command, absl::string_view message);

}  // namespace ionsim::cli

#endif  // TOOLS_IONSIM_CLI_H_
