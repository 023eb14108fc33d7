// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "tests/tools/ionsim_runner.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

namespace ionsim::testing {

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string TempPath(const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  return std::string(tmp ? tmp : "/tmp") + "/" + name;
}

Outcome RunIonsim(const std::vector<std::string>& args, const std::string& input) {
  const std::string in_path = TempPath("ionsim.stdin");
  const std::string out_path = TempPath("ionsim.stdout");
  const std::string err_path = TempPath("ionsim.stderr");
  std::ofstream(in_path, std::ios::binary) << input;
  Outcome outcome;
  const pid_t pid = fork();
  if (pid == 0) {
    const int in = open(in_path.c_str(), O_RDONLY);
    const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || out < 0 || err < 0) _exit(127);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    std::vector<char*> argv;
    std::string binary = "tools/ionsim/ionsim";
    argv.push_back(binary.data());
    std::vector<std::string> copy = args;
    for (std::string& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  int status = 0;
  if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status)) outcome.code = WEXITSTATUS(status);
  outcome.out = ReadText(out_path);
  outcome.err = ReadText(err_path);
  return outcome;
}

std::vector<std::string> CommandNames() {
  std::vector<std::string> names;
  std::istringstream lines(RunIonsim({"help"}).out);
  std::string line;
  bool in_list = false;
  while (std::getline(lines, line)) {
    if (line == "commands:") {
      in_list = true;
    } else if (in_list && line.empty()) {
      break;
    } else if (in_list && line.size() > 2 && line[2] != ' ') {
      names.push_back(line.substr(2, line.find(' ', 2) - 2));
    }
  }
  return names;
}

}  // namespace ionsim::testing
