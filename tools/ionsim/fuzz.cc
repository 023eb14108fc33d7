// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "tools/ionsim/fuzz.h"

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "fuzz/ion_program.h"
#include "tools/ionsim/cli.h"
#include "tools/ionsim/decode.h"
#include "tools/ionsim/flags.h"
#include "tools/ionsim/json.h"
#include "tools/ionsim/progress.h"
#include "tools/trace/trace.h"

ABSL_FLAG(int, seconds, 60, "<N> how long the campaign runs, in seconds");
ABSL_FLAG(int, jobs, 2, "<J> libFuzzer fork-mode jobs");
ABSL_FLAG(std::string, harness, "ion_ops", "<NAME> the harness: ion_ops, ion_ioctl or genalloc");
ABSL_FLAG(std::string, workdir, "", "<DIR> the working corpus and findings (default fuzz-work/HARNESS)");
ABSL_FLAG(std::string, binary, "", "<PATH> a harness already built with --config=fuzz (default: build it)");

namespace ionsim {

namespace {

namespace fs = std::filesystem;

struct Options {
  int seconds = 60;
  int jobs = 2;
  std::string harness = "ion_ops";
  std::string workdir;
  std::string binary;
};

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// Runs a shell command, returning its stdout (trailing newline removed) and setting *status.
std::string Capture(const std::string& cmd, int* status) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) {
    *status = -1;
    return out;
  }
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  const int st = pclose(p);
  *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// The value after "key" in a libFuzzer status line ("cov: 123"), or -1.
long long Field(const std::string& line, const char* key) {
  const size_t pos = line.find(key);
  if (pos == std::string::npos) return -1;
  return std::strtoll(line.c_str() + pos + std::strlen(key), nullptr, 10);
}

size_t CountFiles(const fs::path& dir) {
  std::error_code ec;
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir, ec)) n += e.is_regular_file() ? 1 : 0;
  return n;
}

// Decodes an ion_ops finding into a trace next to it; returns the trace path, or "".
std::string DecodeFinding(const fs::path& input) {
  std::ifstream in(input, std::ios::binary);
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const trace::Trace t = fuzz::DecodeProgram(bytes.data(), bytes.size());
  const fs::path out = input.string() + ".trace";
  std::ofstream o(out);
  o << "# ion_ops_fuzzer finding " << input.filename().string() << ", decoded by ionsim fuzz.\n"
    << "# Results and the violation: ionsim decode --run " << input.string() << "\n"
    << trace::PrintTrace(t);
  return o ? out.string() : "";
}

}  // namespace

int FuzzMain(const std::vector<std::string>&) {
  Options o;
  const bool json = absl::GetFlag(FLAGS_json);
  FILE* const text = json ? stderr : stdout;  // with --json, stdout carries the JSON document only
  o.seconds = absl::GetFlag(FLAGS_seconds);
  o.jobs = absl::GetFlag(FLAGS_jobs);
  o.harness = absl::GetFlag(FLAGS_harness);
  o.workdir = absl::GetFlag(FLAGS_workdir);
  o.binary = absl::GetFlag(FLAGS_binary);
  // The harness's machine is --board's running --profile: the fuzzer processes inherit IONSIM_FUZZ_BOARD and
  // IONSIM_FUZZ_PROFILE (fuzz/ion_program.h).
  if (const absl::Status status = SetFuzzMachineFlags(); !status.ok()) return cli::UsageError("fuzz", status.message());
  if (o.seconds <= 0) {
    return cli::UsageError("fuzz", absl::StrFormat("bad value '%d' for --seconds (N > 0)", o.seconds));
  }
  if (o.jobs <= 0) return cli::UsageError("fuzz", absl::StrFormat("bad value '%d' for --jobs (J > 0)", o.jobs));
  static const std::set<std::string> kHarnesses = {"ion_ops", "ion_ioctl", "genalloc"};
  if (kHarnesses.count(o.harness) == 0) {
    return cli::UsageError("fuzz", absl::StrFormat("bad value '%s' for --harness (one of %s)", o.harness,
                                                   absl::StrJoin(kHarnesses, ", ")));
  }

  // The workspace: where `bazel run` was started, or the current directory.
  const char* ws = std::getenv("BUILD_WORKSPACE_DIRECTORY");
  const fs::path root = ws != nullptr ? fs::path(ws) : fs::current_path();
  const std::string target = o.harness + "_fuzzer";
  int status = 0;
  if (o.binary.empty()) {
    absl::FPrintF(text, "building //fuzz:%s with --config=fuzz...\n", target.c_str());
    std::fflush(text);
    // --symlink_prefix=/ leaves bazel-bin and friends pointing at the user's last build.
    Capture("cd " + Quote(root) + " && bazel build --config=fuzz --symlink_prefix=/ //fuzz:" + target + " 2>&1",
            &status);
    if (status != 0) {
      std::fprintf(stderr, "ionsim fuzz: bazel build --config=fuzz //fuzz:%s failed (run it to see why)\n",
                   target.c_str());
      return cli::kExitError;
    }
    const std::string bin = Capture("cd " + Quote(root) + " && bazel info --config=fuzz bazel-bin 2>/dev/null", &status);
    o.binary = bin + "/fuzz/" + target;
  }
  if (!fs::exists(o.binary)) {
    std::fprintf(stderr, "ionsim fuzz: no harness at %s\n", o.binary.c_str());
    return cli::kExitError;
  }
  const fs::path work = o.workdir.empty() ? root / "fuzz-work" / o.harness : fs::path(o.workdir);
  const fs::path corpus = work / "corpus";
  const fs::path run_corpus = work / "run";
  const fs::path findings = work / "findings";
  std::error_code ec;
  fs::create_directories(corpus, ec);
  fs::create_directories(findings, ec);
  fs::remove_all(run_corpus, ec);
  fs::create_directories(run_corpus, ec);
  const fs::path seeds = root / "fuzz" / "corpus" / o.harness;
  if (CountFiles(corpus) == 0 && fs::exists(seeds)) {
    for (const auto& e : fs::directory_iterator(seeds)) fs::copy_file(e.path(), corpus / e.path().filename(), ec);
  }
  std::set<std::string> known_findings;
  for (const auto& e : fs::directory_iterator(findings, ec)) known_findings.insert(e.path().filename().string());
  const size_t corpus_before = CountFiles(corpus);
  const fs::path dict = root / "fuzz" / "ion.dict";
  const std::string max_len = o.harness == "ion_ops" ? " -max_len=256" : "";

  absl::FPrintF(text, "campaign: %s, %d s, %d job(s); working corpus %s (%zu inputs); findings in %s\n", target.c_str(),
              o.seconds, o.jobs, corpus.c_str(), corpus_before, findings.c_str());
  std::fflush(text);
  const std::string cmd = Quote(o.binary) + " -fork=" + std::to_string(o.jobs) + " -ignore_crashes=1" +
                          " -max_total_time=" + std::to_string(o.seconds) + max_len +
                          (fs::exists(dict) ? " -dict=" + Quote(dict) : "") + " -artifact_prefix=" +
                          Quote(findings.string() + "/") + " -print_final_stats=1 " + Quote(run_corpus) + " " +
                          Quote(corpus) + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) {
    std::perror("popen");
    return cli::kExitError;
  }
  const auto start = std::chrono::steady_clock::now();
  Progress::Options progress_options;
  progress_options.rate = false;  // done counts seconds
  Progress progress(absl::StrCat("fuzz ", target), "s", static_cast<uint64_t>(o.seconds), progress_options);
  long long execs = 0, cov = 0, ft = 0, corp = 0, crashes = 0, eps = 0;
  std::string tail;
  std::string pending;
  auto report = [&](std::chrono::steady_clock::time_point now) {
    const long long t = std::chrono::duration_cast<std::chrono::seconds>(now - start).count();
    // Saved crash inputs (libFuzzer's own count restarts with each fork-mode report).
    long long saved = -static_cast<long long>(known_findings.size());
    for (const auto& e : fs::directory_iterator(findings, ec)) saved += e.path().extension() == ".trace" ? 0 : 1;
    crashes = std::max(crashes, saved);
    progress.Update(static_cast<uint64_t>(std::min<long long>(t, o.seconds)),
                    absl::StrFormat("execs %d, exec/s %d, cov %d, ft %d, corpus %d, findings %d", execs, eps, cov, ft,
                                    corp, crashes));
  };
  // Read libFuzzer's output as it comes, and report every 5 s whether or not it printed anything.
  const int fd = fileno(p);
  for (;;) {
    struct pollfd pfd = {fd, POLLIN, 0};
    const int ready = poll(&pfd, 1, 1000);
    if (ready > 0) {
      char buf[8192];
      const ssize_t n = read(fd, buf, sizeof(buf));
      if (n <= 0) break;
      pending.append(buf, static_cast<size_t>(n));
      size_t nl;
      while ((nl = pending.find('\n')) != std::string::npos) {
        const std::string l = pending.substr(0, nl + 1);
        pending.erase(0, nl + 1);
        tail = l;
        // Fork mode: "#123456: cov: 4000 ft: 13000 corp: 900 exec/s 700 oom/timeout/crash: 0/0/1 time: 60s ..."
        if (l.size() > 1 && l[0] == '#' && l.find(" cov: ") != std::string::npos) {
          execs = std::strtoll(l.c_str() + 1, nullptr, 10);
          cov = Field(l, " cov: ");
          ft = Field(l, " ft: ");
          corp = Field(l, " corp: ");
          eps = Field(l, " exec/s ");
          if (eps < 0) eps = Field(l, " exec/s: ");
          const size_t slash = l.find("oom/timeout/crash: ");
          if (slash != std::string::npos) {
            const std::string v = l.substr(slash + std::strlen("oom/timeout/crash: "));
            const size_t last = v.find_last_of('/');
            crashes = std::strtoll(v.c_str() + last + 1, nullptr, 10);
          }
        }
      }
    } else if (ready < 0 && errno != EINTR) {
      break;
    }
    report(std::chrono::steady_clock::now());  // Progress prints at its own interval
  }
  progress.Finish();
  const int st = pclose(p);
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!WIFEXITED(st)) absl::FPrintF(text, "libFuzzer ended abnormally; last line: %s", tail.c_str());

  // Merge the inputs of this run into the working corpus (libFuzzer keeps only those adding coverage).
  Capture(Quote(o.binary) + " -merge=1" + max_len + " " + Quote(corpus) + " " + Quote(run_corpus) + " 2>&1", &status);
  const size_t corpus_after = CountFiles(corpus);
  fs::remove_all(run_corpus, ec);

  std::vector<fs::path> new_findings;
  for (const auto& e : fs::directory_iterator(findings, ec)) {
    const std::string name = e.path().filename().string();
    if (known_findings.count(name) || e.path().extension() == ".trace") continue;
    new_findings.push_back(e.path());
  }
  absl::FPrintF(text, "\n== summary: %s, %.0f s, %d job(s)\n", target.c_str(), elapsed, o.jobs);
  absl::FPrintF(text, "   executions %lld (%.0f/s overall), coverage %lld edges, %lld features\n", execs,
              elapsed > 0 ? static_cast<double>(execs) / elapsed : 0.0, cov, ft);
  absl::FPrintF(text, "   working corpus %s: %zu -> %zu inputs (merge %s)\n", corpus.c_str(), corpus_before, corpus_after,
              status == 0 ? "ok" : "failed");
  absl::FPrintF(text, "   findings: %zu new\n", new_findings.size());
  Json findings_json = Json::Array();
  for (const fs::path& f : new_findings) {
    absl::FPrintF(text, "   - %s\n", f.c_str());
    Json finding = Json::Object();
    finding.Set("path", f.string());
    if (o.harness == "ion_ops") {
      const std::string tr = DecodeFinding(f);
      if (!tr.empty()) absl::FPrintF(text, "     decoded: %s\n", tr.c_str());
      finding.Set("trace", tr);
    } else {
      absl::FPrintF(text, "     replay: %s %s\n", o.binary.c_str(), f.c_str());
      finding.Set("replay", absl::StrCat(o.binary, " ", f.string()));
    }
    findings_json.Push(std::move(finding));
  }
  const int code = new_findings.empty() ? cli::kExitOk : cli::kExitFinding;
  if (json) {
    Json doc = Json::Object();
    doc.Set("command", "fuzz")
        .Set("harness", o.harness)
        .Set("binary", o.binary)
        .Set("seconds", elapsed)
        .Set("jobs", o.jobs)
        .Set("executions", static_cast<int64_t>(execs))
        .Set("executions_per_second", elapsed > 0 ? static_cast<double>(execs) / elapsed : 0.0)
        .Set("coverage", static_cast<int64_t>(cov))
        .Set("features", static_cast<int64_t>(ft))
        .Set("corpus", Json::Object()
                           .Set("path", corpus.string())
                           .Set("before", static_cast<uint64_t>(corpus_before))
                           .Set("after", static_cast<uint64_t>(corpus_after))
                           .Set("merged", status == 0))
        .Set("findings", std::move(findings_json))
        .Set("ok", code == cli::kExitOk)
        .Set("exit_code", code);
    std::fputs(doc.Print().c_str(), stdout);
  }
  return code;
}

}  // namespace ionsim
