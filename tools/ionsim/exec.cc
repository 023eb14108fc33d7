// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "tools/ionsim/exec.h"

#include <link.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "tools/ionsim/cli.h"
#include "tools/ionsim/flags.h"
#include "tools/ionsim/inputs.h"

namespace ionsim {
namespace {

bool IsFile(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string SelfExe() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

// The sanitizer runtimes this binary has loaded (a sanitizer build: the preload library was built the same way
// and needs the same runtime first in the program's initial library list).
std::string SanitizerRuntimes() {
  std::string out;
  dl_iterate_phdr(
      [](struct dl_phdr_info* info, size_t, void* data) {
        const std::string name = info->dlpi_name != nullptr ? info->dlpi_name : "";
        for (const char* runtime : {"/libasan.so", "/libtsan.so", "/libubsan.so"}) {
          if (name.find(runtime) != std::string::npos) {
            std::string* list = static_cast<std::string*>(data);
            *list += (list->empty() ? "" : ":") + name;
          }
        }
        return 0;
      },
      &out);
  return out;
}

}  // namespace

std::string FindPreload(const std::string& exe_path) {
  if (const char* env = getenv("IONSIM_PRELOAD"); env != nullptr && *env != '\0') return env;
  const std::string dir = exe_path.substr(0, exe_path.rfind('/') + 1);
  std::vector<std::string> candidates;
  if (const char* runfiles = getenv("RUNFILES_DIR"); runfiles != nullptr && *runfiles != '\0') {
    candidates.push_back(std::string(runfiles) + "/ionsim/tools/preload/libionsim-preload.so");
  }
  candidates.push_back(exe_path + ".runfiles/ionsim/tools/preload/libionsim-preload.so");
  candidates.push_back(dir + "libionsim-preload.so");
  candidates.push_back(dir + "../preload/libionsim-preload.so");
  for (const std::string& c : candidates) {
    if (IsFile(c)) return c;
  }
  return "";
}

int ExecMain(const std::vector<std::string>& args) {
  // Checked here, so a bad board is a usage error rather than an ENODEV inside the program.
  const absl::StatusOr<std::string> board_flag = BoardFlag();
  if (!board_flag.ok()) return cli::UsageError("exec", board_flag.status().message());
  const absl::StatusOr<std::string> profile = ProfileFlag();
  if (!profile.ok()) return cli::UsageError("exec", profile.status().message());
  const std::string& board = *board_flag;
  std::string board_env = board.empty() ? "dummy" : board;
  if (IsFile(board_env)) {
    char* real = realpath(board_env.c_str(), nullptr);
    if (real != nullptr) {
      board_env = real;
      std::free(real);
    }
  }
  const std::string preload = FindPreload(SelfExe());
  if (preload.empty()) {
    std::fprintf(stderr, "ionsim exec: cannot find libionsim-preload.so beside %s (set IONSIM_PRELOAD)\n",
                 SelfExe().c_str());
    return cli::kExitError;
  }
  char report_path[] = "/tmp/ionsim-exec-report.XXXXXX";
  const int report_fd = mkstemp(report_path);
  if (report_fd < 0) {
    std::fprintf(stderr, "ionsim exec: cannot create a report file: %s\n", std::strerror(errno));
    return cli::kExitError;
  }
  close(report_fd);

  std::string ld_preload = preload;
  if (const std::string runtimes = SanitizerRuntimes(); !runtimes.empty()) ld_preload = runtimes + ":" + ld_preload;
  if (const char* old = getenv("LD_PRELOAD"); old != nullptr && *old != '\0') ld_preload += std::string(":") + old;
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    std::fprintf(stderr, "ionsim exec: fork: %s\n", std::strerror(errno));
    unlink(report_path);
    return cli::kExitError;
  }
  if (pid == 0) {
    setenv("LD_PRELOAD", ld_preload.c_str(), 1);
    setenv("IONSIM_BOARD", board_env.c_str(), 1);
    setenv("IONSIM_PROFILE", profile->c_str(), 1);
    setenv("IONSIM_REPORT", report_path, 1);
    // Under `bazel run` the program's relative path is the user's.
    if (const char* wd = getenv("BUILD_WORKING_DIRECTORY"); wd != nullptr && *wd != '\0') {
      if (chdir(wd) != 0) _exit(127);
    }
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    std::fprintf(stderr, "ionsim exec: %s: %s\n", args[0].c_str(), std::strerror(errno));
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) break;
  }
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;
  std::ifstream in(report_path);
  std::stringstream report;
  report << in.rdbuf();
  unlink(report_path);
  if (!report.str().empty()) {
    std::fflush(stdout);
    std::fprintf(stderr, "\n== ionsim exec: the machine reported\n%s", report.str().c_str());
    if (code == 0) code = cli::kExitFinding;
  }
  return code;
}

}  // namespace ionsim
