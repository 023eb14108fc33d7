// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "tools/ionsim/cli.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace ionsim::cli {
namespace {

// "out_dir" -> "--out-dir".
std::string Spelling(absl::string_view name) { return absl::StrCat("--", absl::StrReplaceAll(name, {{"_", "-"}})); }

// A flag's help string split into the value name ("<N> ..." -> "N") and the text.
void SplitHelp(const absl::CommandLineFlag& flag, std::string* value_name, std::string* text) {
  std::string help = flag.Help();
  value_name->clear();
  if (!help.empty() && help[0] == '<') {
    const size_t close = help.find("> ");
    if (close != std::string::npos) {
      *value_name = help.substr(1, close - 1);
      help.erase(0, close + 2);
    }
  }
  if (value_name->empty() && !flag.IsOfType<bool>()) *value_name = "VALUE";
  *text = help;
}

// What a flag's value must be: "N: an unsigned integer".
std::string Expected(const absl::CommandLineFlag& flag, const std::string& value_name) {
  if (flag.IsOfType<bool>()) return "true or false";
  if (flag.IsOfType<uint64_t>()) return absl::StrCat(value_name, ": an unsigned integer");
  if (flag.IsOfType<int>()) return absl::StrCat(value_name, ": an integer");
  return value_name;
}

// text as lines of at most kWidth columns, each starting with indent.
std::string Wrap(absl::string_view text, absl::string_view indent) {
  constexpr size_t kWidth = 100;
  std::string out;
  std::string line(indent);
  for (absl::string_view word : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    if (line.size() > indent.size() && line.size() + 1 + word.size() > kWidth) {
      absl::StrAppend(&out, line, "\n");
      line = std::string(indent);
    }
    absl::StrAppend(&line, line.size() > indent.size() ? " " : "", word);
  }
  absl::StrAppend(&out, line, "\n");
  return out;
}

std::string FlagList(const Command& command) {
  std::vector<std::string> names;
  for (absl::string_view f : command.flags) names.push_back(Spelling(f));
  return names.empty() ? "no flags" : absl::StrJoin(names, ", ");
}

std::string Synopsis(const Command& command) {
  std::string s = absl::StrCat("ionsim ", command.name);
  if (!command.flags.empty()) absl::StrAppend(&s, " [flags]");
  if (!command.args.empty()) absl::StrAppend(&s, " ", command.args);
  return s;
}

int ListCommands(const std::vector<Command>& commands, FILE* out, int code) {
  std::fputs(CommandsHelp(commands).c_str(), out);
  return code;
}

}  // namespace

bool ParseArgs(const Command& command, const std::vector<std::string>& args, std::vector<std::string>* positional,
               bool* help, std::string* error) {
  *help = false;
  bool flags_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (flags_done || arg.size() < 2 || arg[0] != '-') {
      positional->push_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_done = true;
      continue;
    }
    absl::string_view body = arg;
    if (!absl::ConsumePrefix(&body, "--")) absl::ConsumePrefix(&body, "-");
    const size_t eq = body.find('=');
    const std::string name = absl::StrReplaceAll(body.substr(0, eq), {{"-", "_"}});
    if (name == "help" || name == "h") {
      *help = true;
      return true;
    }
    const bool accepted = std::find(command.flags.begin(), command.flags.end(), name) != command.flags.end();
    absl::CommandLineFlag* flag = accepted ? absl::FindCommandLineFlag(name) : nullptr;
    if (flag == nullptr) {
      *error = absl::StrFormat("unknown flag %s (%s accepts %s)", Spelling(name), command.name, FlagList(command));
      return false;
    }
    std::string value;
    if (eq != absl::string_view::npos) {
      value = std::string(body.substr(eq + 1));
    } else if (flag->IsOfType<bool>()) {
      value = "true";
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      *error = absl::StrFormat("flag %s needs a value", Spelling(name));
      return false;
    }
    std::string why;
    if (!flag->ParseFrom(value, &why)) {
      std::string value_name;
      std::string text;
      SplitHelp(*flag, &value_name, &text);
      *error = absl::StrFormat("bad value '%s' for %s (%s)", value, Spelling(name), Expected(*flag, value_name));
      return false;
    }
  }
  return true;
}

std::string CommandHelp(const Command& command) {
  std::string out = absl::StrFormat("usage: %s\n%s", Synopsis(command), Wrap(command.summary, ""));
  if (!command.flags.empty()) absl::StrAppend(&out, "\nflags:\n");
  for (absl::string_view name : command.flags) {
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr) continue;
    std::string value_name;
    std::string text;
    SplitHelp(*flag, &value_name, &text);
    absl::StrAppend(&out, "  ", Spelling(name), value_name.empty() ? "" : "=", value_name, "\n");
    const std::string def = flag->DefaultValue();
    if (!def.empty() && def != "false") absl::StrAppend(&text, " (default ", def, ")");
    absl::StrAppend(&out, Wrap(text, "      "));
  }
  if (!command.details.empty()) absl::StrAppend(&out, "\n", command.details);
  absl::StrAppend(&out, "\nexit codes: 0 all good, 1 a finding, 2 a usage or input error\n");
  return out;
}

std::string CommandsHelp(const std::vector<Command>& commands) {
  std::string out = "usage: ionsim COMMAND [flags] [arguments]\n\ncommands:\n";
  for (const Command& c : commands) {
    const std::string summary = Wrap(c.summary, std::string(14, ' '));
    absl::StrAppendFormat(&out, "  %-11s %s", c.name, summary.substr(14));
  }
  absl::StrAppend(&out,
                  "\n`ionsim COMMAND --help` lists a command's flags.\n"
                  "exit codes: 0 all good, 1 a finding (divergence, violation, leak), 2 a usage or input error\n");
  return out;
}

std::string CommandsMarkdown(const std::vector<Command>& commands) {
  std::string out = "| command | what it does | flags |\n| --- | --- | --- |\n";
  for (const Command& c : commands) {
    std::vector<std::string> flags;
    for (absl::string_view f : c.flags) flags.push_back(absl::StrCat("`", Spelling(f), "`"));
    absl::StrAppendFormat(&out, "| `%s` | %s | %s |\n", Synopsis(c), c.summary, absl::StrJoin(flags, " "));
  }
  return out;
}

int UsageError(absl::string_view command, absl::string_view message) {
  absl::FPrintF(stderr, "ionsim %s: %s\nrun `ionsim %s --help` for its flags\n", command, message, command);
  return kExitError;
}

int Dispatch(const std::vector<Command>& commands, int argc, char** argv) {
  if (argc < 2) return ListCommands(commands, stderr, kExitError);
  const absl::string_view name = argv[1];
  if (name == "help" || name == "--help" || name == "-h") {
    if (argc == 3 && absl::string_view(argv[2]) == "--markdown") {
      std::fputs(CommandsMarkdown(commands).c_str(), stdout);
      return kExitOk;
    }
    if (argc == 3) {
      for (const Command& c : commands) {
        if (c.name == argv[2]) {
          std::fputs(CommandHelp(c).c_str(), stdout);
          return kExitOk;
        }
      }
    }
    return ListCommands(commands, stdout, argc == 2 ? kExitOk : kExitError);
  }
  const auto it = std::find_if(commands.begin(), commands.end(), [&](const Command& c) { return c.name == name; });
  if (it == commands.end()) {
    absl::FPrintF(stderr, "ionsim: unknown command '%s'\n\n", name);
    return ListCommands(commands, stderr, kExitError);
  }
  const std::vector<std::string> args(argv + 2, argv + argc);
  std::vector<std::string> positional;
  bool help = false;
  std::string error;
  if (!ParseArgs(*it, args, &positional, &help, &error)) return UsageError(it->name, error);
  if (help) {
    std::fputs(CommandHelp(*it).c_str(), stdout);
    return kExitOk;
  }
  const int n = static_cast<int>(positional.size());
  if (n < it->min_args) return UsageError(it->name, absl::StrCat("missing ", it->args));
  if (it->max_args >= 0 && n > it->max_args) {
    return UsageError(it->name, absl::StrCat("unexpected argument '", positional[it->max_args], "' (",
                                             it->args.empty() ? "takes no arguments" : it->args, ")"));
  }
  return it->main(positional);
}

}  // namespace ionsim::cli
