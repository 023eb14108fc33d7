// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// ionsim-guest-replay BUNDLE: the crosscheck's replayer inside the QEMU guest. For each trace of the bundle
// (tools/trace/bundle.h) it reloads the ION module (as ionsim-reload does: a fresh device, so buffer and client serials,
// pools and heaps start as on a freshly booted model), runs the trace with the executor on a KernelBackend (real
// syscalls, each process a forked worker), exits every worker, and prints the canonical output in a framed
// block. Heap names resolve through the bundle's board, as on the model.
#include <fcntl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "kmod/ion_board.h"
#include "model/backend/kernel_backend.h"
#include "tools/trace/bundle.h"
#include "tools/trace/executor.h"
#include "tools/trace/trace.h"

namespace ionsim::trace {
namespace {

// The module's arguments as /ionsim/modargs holds them (sh words, quoted as tools/qemu/ionsim-qemu quotes them:
// '...' with '\'' for a quote), joined with blanks as insmod passes them to the kernel.
bool ReadModArgs(std::string* params, std::string* error) {
  std::ifstream in("/ionsim/modargs");
  std::string line;
  if (!std::getline(in, line)) {
    *error = "cannot read /ionsim/modargs";
    return false;
  }
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '\'') {
        quoted = false;
      } else {
        word += c;
      }
    } else if (c == '\'') {
      quoted = true;
      in_word = true;
    } else if (c == '\\' && i + 1 < line.size()) {
      word += line[++i];
      in_word = true;
    } else if (c == ' ' || c == '\t') {
      if (in_word) words.push_back(word);
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (quoted) {
    *error = "unterminated quote in /ionsim/modargs";
    return false;
  }
  if (in_word) words.push_back(word);
  params->clear();
  for (const std::string& w : words) *params += w + " ";
  // defer_hold=1: the deferred-free threads leave the free lists to synchronous drains, as the model's deferred
  // free runs only when asked (docs/trace.md, "Crosscheck").
  *params += "defer_hold=1";
  return true;
}

// A freshly loaded module, as ionsim-reload does (drain, rmmod, insmod with the run's arguments), with direct
// system calls: no shell and no module tools per trace.
bool Reload(const std::string& params, std::string* error) {
  {
    std::ofstream drain("/sys/kernel/debug/ion/drain");
    if (drain) drain << "0";
  }
  if (syscall(SYS_delete_module, "ionsim", O_NONBLOCK) != 0 && errno != ENOENT) {
    *error = std::string("delete_module: ") + std::strerror(errno);
    return false;
  }
  const int fd = ::open("/ionsim/ionsim.ko", O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *error = std::string("/ionsim/ionsim.ko: ") + std::strerror(errno);
    return false;
  }
  const long rc = syscall(SYS_finit_module, fd, params.c_str(), 0);
  const int err = errno;
  ::close(fd);
  if (rc != 0) {
    *error = std::string("finit_module: ") + std::strerror(err);
    return false;
  }
  return true;
}

uint64_t NowUs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
}

bool HeapTableOf(const std::string& board_text, std::vector<std::pair<std::string, unsigned int>>* heaps,
                 std::string* error) {
  std::string text = board_text;
  for (char& c : text) {
    if (c == ';') c = '\n';
  }
  auto board = std::make_unique<ion_board>();
  char err[ION_BOARD_ERR_LEN] = {};
  if (ion_board_load(board.get(), text.data(), text.size(), err, sizeof(err)) != 0) {
    *error = err;
    return false;
  }
  for (unsigned int i = 0; i < board->nr_heaps; ++i) heaps->emplace_back(board->heaps[i].name, board->heaps[i].id);
  return true;
}

int Main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: ionsim-guest-replay BUNDLE\n");
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  std::stringstream data;
  data << in.rdbuf();
  std::string board;
  std::vector<BundleEntry> entries;
  std::string error;
  if (!in || !ReadBundle(data.str(), &board, &entries, &error)) {
    std::fprintf(stderr, "ionsim-guest-replay: %s: %s\n", argv[1], in ? error.c_str() : "cannot read");
    return 1;
  }
  std::vector<std::pair<std::string, unsigned int>> heaps;
  if (!HeapTableOf(board, &heaps, &error)) {
    std::fprintf(stderr, "ionsim-guest-replay: board: %s\n", error.c_str());
    return 1;
  }
  std::string params;
  if (!ReadModArgs(&params, &error)) {
    std::fprintf(stderr, "ionsim-guest-replay: %s\n", error.c_str());
    return 1;
  }
  const uint64_t start = NowUs();
  int failures = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    const BundleEntry& e = entries[i];
    const uint64_t t0 = NowUs();
    std::string status = "ok";
    std::string output;
    Trace t;
    const bool reloaded = Reload(params, &error);
    const uint64_t reload_us = NowUs() - t0;
    if (!reloaded) {
      status = "error: reloading the module: " + error;
    } else if (!ParseTrace(e.text, &t, &error)) {
      status = "error: " + error;
    } else {
      ErrnoOr<std::unique_ptr<KernelBackend>> backend = KernelBackend::Create();
      if (!backend.ok()) {
        status = std::string("error: kernel backend: ") + backend.error().name();
      } else {
        ExecOptions options;
        options.heaps = heaps;
        Executor exec(backend.value().get(), options);
        ExecReport report;
        exec.Run(t, &report);
        output = std::move(report.output);
        if (!report.error.empty()) status = "error: " + report.error;
        backend.value()->ExitAll();
      }
    }
    failures += status != "ok";
    std::printf("IONSIM_TRACE %s %s us=%llu reload_us=%llu\n", e.name.c_str(), status.c_str(),
                static_cast<unsigned long long>(NowUs() - t0), static_cast<unsigned long long>(reload_us));
    std::fwrite(output.data(), 1, output.size(), stdout);
    std::printf("IONSIM_TRACE_END %s\n", e.name.c_str());
    std::fflush(stdout);
  }
  std::printf("IONSIM_REPLAY traces=%zu us=%llu\n", entries.size(),
              static_cast<unsigned long long>(NowUs() - start));
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace ionsim::trace

int main(int argc, char** argv) { return ionsim::trace::Main(argc, argv); }
