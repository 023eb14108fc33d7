// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The crosscheck (docs/trace.md, "Crosscheck"):
//   1. every trace runs on the model on a freshly loaded ION module, all on one machine (the board with all of RAM
//      lowmem, as on the 64-bit guest) with a module reload between traces (ModelBackend::ReloadModule, the
//      like of the guest's), with the invariant checker after each operation;
//   2. all traces go to the guest in one bundle; tools/qemu/ionsim-qemu boots once and the guest replayer
//      (ionsim-guest-replay) runs each on a freshly loaded module through KernelBackend;
//   3. outputs are compared byte for byte; for each divergence the first differing line is reported and the
//      trace is minimised by delta debugging, all divergences in lockstep, each round's candidates in one boot.
#include "tools/ionsim/crosscheck.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/marshalling.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "kmod/uapi/ion.h"
#include "model/backend/model_backend.h"
#include "model/kernel/bug.h"
#include "tools/ionsim/cli.h"
#include "tools/ionsim/decode.h"
#include "tools/ionsim/flags.h"
#include "fuzz/fuzz_machine.h"
#include "fuzz/ion_program.h"
#include "tools/ionsim/inputs.h"
#include "tools/ionsim/json.h"
#include "tools/ionsim/progress.h"
#include "tools/trace/bundle.h"
#include "tools/trace/executor.h"
#include "tools/trace/generator.h"
#include "tools/trace/minimize.h"
#include "tools/trace/model_runner.h"
#include "tools/trace/trace.h"

ABSL_FLAG(uint64_t, random, 0, "<N> random traces to add, from seeds --seed to --seed+N-1");
ABSL_FLAG(std::string, guest_bin, "",
          "<PATH> the guest replayer (default: ionsim-guest-replay of this binary's build, else bazel-bin's)");
ABSL_FLAG(std::string, qemu, "tools/qemu/ionsim-qemu", "<PATH> the QEMU harness");
ABSL_FLAG(uint64_t, max_rounds, 40, "<R> minimisation rounds at most (each round is one boot)");
ABSL_FLAG(bool, no_minimise, false, "report divergences without minimising them");
ABSL_FLAG(std::string, junit, "", "<FILE> also write the results as JUnit XML, one test case per trace");
ABSL_FLAG(std::vector<std::string>, corpus, {},
          "<DIR,...> also cross-check every ion_ops_fuzzer input in these directories, decoded into a trace as "
          "`ionsim decode` does (the board defaults to the fuzz board)");
ABSL_FLAG(bool, fresh_machines, false,
          "the model boots a machine per trace (default: one machine, the ION module reloaded between traces, as "
          "in the guest)");

namespace ionsim {
namespace {

using trace::ExecReport;
using trace::Trace;

struct Options {
  uint64_t random = 0;
  uint64_t seed = 1;
  uint64_t ops = 32;
  std::string board;
  std::string profile;  // "" : the board's profile record, else the default
  std::string out_dir = "crosscheck-out";
  std::string guest_bin;  // default: GuestBinDefault()
  std::string qemu = "tools/qemu/ionsim-qemu";
  uint64_t max_rounds = 40;
  bool minimise = true;
  bool fresh_machines = false;  // the model boots a machine per trace instead of reloading the module
  bool json = false;            // the report as one JSON document on stdout; the text goes to stderr
  std::string junit;            // where the JUnit XML goes, "" for none
  std::vector<std::string> files;
  std::vector<std::string> corpora;  // ion_ops_fuzzer corpus directories
};

struct Item {
  std::string name;
  std::string source;  // the file, or "random trace of seed N"
  Trace trace;
  std::string text;  // as the guest gets it (a file's own text, so line numbers agree)
  std::string model_out;
  std::string guest_out;
  std::string guest_status;
  uint64_t guest_us = 0;                    // the guest's time for the trace
  std::vector<std::string> model_failures;  // the checker's findings on the model
  bool diverged = false;
  std::string difference;                   // "output line N ..." or "guest error: ..."
  std::string min_path;                     // the minimised trace, "" when not minimised
  size_t min_ops = 0;
  bool min_complete = false;                // false: the round limit stopped the minimiser
  bool fuzz_input = false;                  // decoded from a fuzz corpus (--corpus)
};

// ionsim-guest-replay of the same build as this binary (bazel-out/<config>/bin/tools/ionsim/ionsim ->
// .../bin/tools/trace/ionsim-guest-replay), else bazel-bin's.
std::string GuestBinDefault() {
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n > 0) {
    self[n] = '\0';
    std::string path(self);
    const size_t tools = path.rfind("/tools/ionsim/");
    if (tools != std::string::npos) {
      const std::string guest = path.substr(0, tools) + "/tools/trace/ionsim-guest-replay";
      if (access(guest.c_str(), X_OK) == 0) return guest;
    }
  }
  return "bazel-bin/tools/trace/ionsim-guest-replay";
}

double Now() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream s;
  s << in.rdbuf();
  *out = s.str();
  return true;
}

std::string Basename(const std::string& path) {
  std::string b = path.substr(path.rfind('/') + 1);
  const size_t dot = b.rfind(".trace");
  if (dot != std::string::npos && dot + 6 == b.size()) b.resize(dot);
  for (char& c : b) {
    if (c == ' ') c = '_';
  }
  return b;
}

std::string XmlEscape(absl::string_view s) {
  return absl::StrReplaceAll(s, {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}, {"'", "&apos;"}});
}

// The first line where a and b differ: "line <n> model: <..> / kernel: <..>".
std::string FirstDifference(const std::string& a, const std::string& b) {
  size_t pa = 0;
  size_t pb = 0;
  int n = 1;
  while (pa < a.size() || pb < b.size()) {
    size_t ea = a.find('\n', pa);
    size_t eb = b.find('\n', pb);
    if (ea == std::string::npos) ea = a.size();
    if (eb == std::string::npos) eb = b.size();
    const std::string la = pa < a.size() ? a.substr(pa, ea - pa) : "<end of output>";
    const std::string lb = pb < b.size() ? b.substr(pb, eb - pb) : "<end of output>";
    if (la != lb) return "output line " + std::to_string(n) + "\n    model:  " + la + "\n    kernel: " + lb;
    pa = ea + 1;
    pb = eb + 1;
    ++n;
  }
  return "";
}

// Follows a guest run as it goes, for the progress line: finds the harness's live serial log in its output
// (`ionsim-qemu: run: live serial log PATH`), then reads the console as it grows: IONSIM_BOOTED, and each trace's
// IONSIM_TRACE ... IONSIM_TRACE_END block, whose output is compared with the model's at once. That comparison is
// provisional (kernel messages may cut into the console); the verdict comes from the --out file afterwards.
class GuestWatch {
 public:
  GuestWatch(std::string harness_log, const std::vector<std::string>& names,
             const std::vector<std::string>& model_outs)
      : harness_log_(std::move(harness_log)) {
    for (size_t i = 0; i < names.size() && i < model_outs.size(); ++i) expected_[names[i]] = &model_outs[i];
  }

  // Reads what came since the last call.
  void Poll() {
    if (serial_.empty()) {
      std::string log;
      ReadFile(harness_log_, &log);
      const std::string kMarker = "ionsim-qemu: run: live serial log ";
      const size_t at = log.find(kMarker);
      if (at == std::string::npos) return;
      const size_t end = log.find('\n', at);
      if (end == std::string::npos) return;
      serial_ = log.substr(at + kMarker.size(), end - at - kMarker.size());
    }
    std::ifstream in(serial_, std::ios::binary);
    if (!in) return;
    in.seekg(static_cast<std::streamoff>(offset_));
    std::string chunk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    offset_ += chunk.size();
    pending_ += chunk;
    size_t nl;
    while ((nl = pending_.find('\n')) != std::string::npos) {
      std::string line = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      Line(line);
    }
  }

  bool booted() const { return booted_; }
  size_t done() const { return done_; }
  size_t diverging() const { return diverging_; }

 private:
  void Line(const std::string& line) {
    if (absl::StartsWith(line, "IONSIM_BOOTED ")) {
      booted_ = true;
    } else if (absl::StartsWith(line, "IONSIM_TRACE_END ")) {
      ++done_;
      const auto it = expected_.find(current_);
      if (!current_ok_ || it == expected_.end() ||
          trace::NormaliseAddressOrder(*it->second) != trace::NormaliseAddressOrder(output_)) {
        ++diverging_;
      }
      current_.clear();
    } else if (absl::StartsWith(line, "IONSIM_TRACE ")) {
      const std::vector<std::string> words = absl::StrSplit(line, ' ');
      current_ = words.size() > 1 ? words[1] : "";
      current_ok_ = words.size() > 2 && words[2] == "ok";
      output_.clear();
    } else if (!current_.empty()) {
      absl::StrAppend(&output_, line, "\n");
    }
  }

  std::string harness_log_;
  std::map<std::string, const std::string*> expected_;
  std::string serial_;
  size_t offset_ = 0;
  std::string pending_;
  bool booted_ = false;
  size_t done_ = 0;
  size_t diverging_ = 0;
  std::string current_;
  bool current_ok_ = false;
  std::string output_;
};

class Crosscheck {
 public:
  explicit Crosscheck(Options o) : o_(std::move(o)) {}

  int Run() {
    std::vector<Item> items;
    const int code = Check(&items);
    if (!o_.junit.empty()) {
      const absl::Status written = WriteFile(o_.junit, Junit(items));
      if (!written.ok()) {
        absl::FPrintF(stderr, "ionsim crosscheck: %s\n", written.message());
        if (code == cli::kExitOk) return cli::kExitError;
      }
    }
    if (o_.json) std::fputs(JsonReport(items, code).Print().c_str(), stdout);
    return code;
  }

 private:
  template <typename... Args>
  void Say(const absl::FormatSpec<Args...>& format, const Args&... args) {
    absl::FPrintF(o_.json ? stderr : stdout, format, args...);
  }

  // "agree", "diverge", "model failure", or "not run" (the guest run stopped before the trace).
  static const char* Verdict(const Item& it) {
    if (it.diverged) return "diverge";
    if (!it.model_failures.empty()) return "model failure";
    return it.guest_status.empty() ? "not run" : "agree";
  }

  // The JSON document (docs/json.md).
  Json JsonReport(const std::vector<Item>& items, int code) const {
    Json traces = Json::Array();
    for (const Item& it : items) {
      Json t = Json::Object();
      t.Set("name", it.name)
          .Set("operations", static_cast<uint64_t>(it.trace.ops.size()))
          .Set("verdict", Verdict(it))
          .Set("guest_status", it.guest_status)
          .Set("guest_seconds", static_cast<double>(it.guest_us) * 1e-6)
          .Set("model_failures", it.model_failures);
      if (it.diverged) {
        t.Set("difference", it.difference)
            .Set("files", Json::Object()
                              .Set("trace", o_.out_dir + "/" + it.name + ".trace")
                              .Set("model_output", o_.out_dir + "/" + it.name + ".model.out")
                              .Set("kernel_output", o_.out_dir + "/" + it.name + ".kernel.out"));
        if (!it.min_path.empty()) {
          t.Set("minimised", Json::Object()
                                 .Set("path", it.min_path)
                                 .Set("operations", static_cast<uint64_t>(it.min_ops))
                                 .Set("complete", it.min_complete));
        }
      }
      traces.Push(std::move(t));
    }
    Json doc = Json::Object();
    doc.Set("command", "crosscheck")
        .Set("board", o_.board.empty() ? "dummy" : o_.board)
        .Set("profile", runner_ ? runner_->profile() : o_.profile)
        .Set("files", o_.files)
        .Set("random", o_.random)
        .Set("seed", o_.seed)
        .Set("ops", o_.ops)
        .Set("traces", std::move(traces))
        .Set("divergences", divergent_)
        .Set("model_failures", model_failures_)
        .Set("model", Json::Object().Set("seconds", model_s_).Set("traces_per_second", model_rate_))
        .Set("guest", Json::Object()
                          .Set("seconds", guest_s_)
                          .Set("reload_seconds", reload_s_)
                          .Set("boot_to_verdict_seconds", boot_s_)
                          .Set("traces_per_second", guest_rate_));
    if (!error_.empty()) doc.Set("error", error_);
    doc.Set("ok", code == cli::kExitOk).Set("exit_code", code);
    return doc;
  }

  // JUnit XML: one test case per trace, a failure for a divergence or a model failure, an error for a trace the
  // guest could not run; a run that stopped early is one failing case.
  std::string Junit(const std::vector<Item>& items) const {
    std::string cases;
    int failures = 0;
    int errors = 0;
    int skipped = 0;
    const std::string suite = absl::StrCat("crosscheck.", o_.board.empty() ? "dummy" : o_.board);
    for (const Item& it : items) {
      absl::StrAppendFormat(&cases, "    <testcase classname=\"%s\" name=\"%s\" time=\"%.3f\"", XmlEscape(suite),
                            XmlEscape(it.name), static_cast<double>(it.guest_us) * 1e-6);
      if (it.diverged && absl::StartsWith(it.difference, "guest ")) {
        ++errors;
        absl::StrAppendFormat(&cases, ">\n      <error message=\"%s\"/>\n    </testcase>\n", XmlEscape(it.difference));
      } else if (it.diverged || !it.model_failures.empty()) {
        ++failures;
        const std::string what = it.diverged ? "the model and the module diverge" : "model failure";
        std::string body = it.diverged ? it.difference : absl::StrJoin(it.model_failures, "\n");
        if (!it.min_path.empty()) absl::StrAppend(&body, "\nminimised: ", it.min_path);
        absl::StrAppendFormat(&cases, ">\n      <failure message=\"%s\">%s</failure>\n    </testcase>\n",
                              XmlEscape(what), XmlEscape(body));
      } else if (it.guest_status.empty()) {
        ++skipped;
        absl::StrAppend(&cases, ">\n      <skipped/>\n    </testcase>\n");
      } else {
        absl::StrAppend(&cases, "/>\n");
      }
    }
    size_t tests = items.size();
    if (!error_.empty()) {
      ++tests;
      ++errors;
      absl::StrAppendFormat(&cases, "    <testcase classname=\"%s\" name=\"run\">\n      <error message=\"%s\"/>\n"
                            "    </testcase>\n", XmlEscape(suite), XmlEscape(error_));
    }
    return absl::StrFormat(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<testsuites>\n  <testsuite name=\"%s\" tests=\"%d\" failures=\"%d\" errors=\"%d\" skipped=\"%d\" "
        "time=\"%.3f\">\n%s  </testsuite>\n</testsuites>\n",
        XmlEscape(suite), tests, failures, errors, skipped, guest_s_, cases);
  }

  // A decoded fuzz input carries no expected results: it gets the model's, as `ionsim decode --run` writes
  // them. Returns the first kernel report (WARN, BUG) the model recorded on the way, including at the module
  // reload after the trace, or "": a fuzz input may reach a known v4.4 defect that WARNs (DMA_BUF_IOCTL_SYNC
  // START without END leaves a kernel mapping that ion_buffer_destroy() WARNs about when the last reference
  // goes, at the reload), which the guest, booted with panic_on_warn, cannot run past.
  std::string ExpectModelResults(Trace* t) {
    ExecReport report;
    runner_->Run(*t, /*build_output=*/true, /*check=*/false, &report);
    const std::vector<std::string> results = trace::ResultsOfOutput(report.output);
    for (size_t i = 0; i < results.size() && i < t->ops.size(); ++i) t->ops[i].expect = results[i];
    // Without the checker, the runner's failures are the kernel reports (model/kernel/bug.h) and leaks.
    if (report.failures.empty()) return "";
    std::string first = absl::StrReplaceAll(report.failures.front(), {{"\n", " "}});
    return std::string(absl::StripTrailingAsciiWhitespace(first));
  }

  int Check(std::vector<Item>* all) {
    std::vector<Item>& items = *all;
    std::string error;
    if (!trace::ResolveBoard(o_.board, &board_text_, &error)) return Fail(error);
    runner_ = trace::ModelRunner::Create(board_text_, /*all_lowmem=*/true, &error,
                                         o_.fresh_machines ? trace::MachineMode::kFresh : trace::MachineMode::kReload);
    if (!runner_) return Fail("board: " + error);
    if (!runner_->SetProfile(o_.profile, &error)) return Fail(error);
    mkdir(o_.out_dir.c_str(), 0755);
    for (const std::string& f : o_.files) {
      Item it;
      std::string text;
      if (!ReadFile(f, &text)) return Fail("cannot read " + f);
      if (!trace::ParseTrace(text, &it.trace, &error)) return Fail(f + ": " + error);
      it.text = text;
      if (!it.trace.board.empty() && it.trace.board != (o_.board.empty() ? "dummy" : o_.board)) {
        return Fail(f + ": the trace is for board '" + it.trace.board + "'; run it with --board " + it.trace.board);
      }
      if (!it.trace.profile.empty() && it.trace.profile != runner_->profile()) {
        return Fail(f + ": the trace is for profile '" + it.trace.profile + "'; run it with --profile " +
                    it.trace.profile);
      }
      it.name = Basename(f);
      it.source = f;
      // Device operations and explain run on the model only: the module side has no test device to drive them.
      if (trace::UsesModelOnlyOps(it.trace)) {
        Say("skipped %s: device operations (device, attach, dev_*) and explain run on the model only; the "
            "module has no simulated device yet (`ionsim replay` runs it)\n",
            it.name.c_str());
        continue;
      }
      items.push_back(std::move(it));
    }
    // Fuzz corpora: each input decoded as `ionsim decode` does, on the board of the run (the decoder's heap and
    // debugfs names are that board's: SetFuzzMachineFlags), in file-name order.
    for (const std::string& dir : o_.corpora) {
      std::vector<std::string> inputs;
      std::error_code ec;
      for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
        if (e.is_regular_file()) inputs.push_back(e.path().string());
      }
      if (ec) return Fail("cannot read the corpus " + dir + ": " + ec.message());
      std::sort(inputs.begin(), inputs.end());
      for (const std::string& input : inputs) {
        std::string bytes;
        if (!ReadFile(input, &bytes)) return Fail("cannot read " + input);
        Item it;
        Trace decoded = fuzz::DecodeProgram(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
        decoded.board.clear();  // the run's board, which decoded it
        if (const std::string report = ExpectModelResults(&decoded); !report.empty()) {
          Say("skipped %s: it raises a kernel report on the model (%s), which the guest, booted with "
              "panic_on_warn, cannot run past (`ionsim decode --run %s` shows it)\n",
              input.c_str(), report.c_str(), input.c_str());
          continue;
        }
        // Parsed back from its text, so its line numbers are the text's, as the guest counts them.
        it.text = trace::PrintTrace(decoded);
        if (!trace::ParseTrace(it.text, &it.trace, &error)) return Fail(input + " (decoded): " + error);
        it.name = Basename(dir) + "-" + Basename(input);
        it.fuzz_input = true;
        it.source = input + " (decoded)";
        items.push_back(std::move(it));
      }
    }
    // The generator uses the board's heaps, without partial shrinks (generator.h).
    trace::GeneratorOptions gen = trace::GeneratorOptionsFor(runner_->config());
    gen.partial_shrink = false;
    if (gen.heaps.empty() && o_.random > 0) return Fail("the board has no heaps to generate traces for");
    for (uint64_t i = 0; i < o_.random; ++i) {
      Item it;
      it.name = "random-" + std::to_string(o_.seed + i);
      it.source = absl::StrCat("random trace of seed ", o_.seed + i, ", ", o_.ops, " operations");
      it.trace = trace::GenerateTrace(o_.seed + i, static_cast<int>(o_.ops), gen);
      it.text = trace::PrintTrace(it.trace);
      items.push_back(std::move(it));
    }
    if (items.empty()) return Fail("no traces (give TRACE files, --random N or --corpus DIR)");

    // The model: first with the invariant checker (a violation is a model failure by itself), then timed as the
    // guest runs: a module reload and the canonical output per trace.
    int model_failures = 0;
    progress_ = std::make_unique<Progress>("crosscheck model", "traces", items.size());
    size_t model_done = 0;
    for (Item& it : items) {
      progress_->Update(model_done++);
      ExecReport report;
      bool ran = runner_->Run(it.trace, true, true, &report);
      if (!ran && it.fuzz_input && report.error.empty()) {
        // A fuzz input may reach the known v4.4 defect the fuzzers' oracles accept (fuzz/fuzz_machine.h).
        std::vector<std::string> kept;
        for (const std::string& f : report.failures) {
          const std::string rest = fuzz::WithoutKnownDefects(f);
          if (!rest.empty()) kept.push_back(rest);
        }
        report.failures = kept;
        ran = kept.empty();
      }
      if (!ran) {
        ++model_failures;
        Say("model failure in %s:\n", it.name.c_str());
        if (!report.error.empty()) Say("  %s\n", report.error.c_str());
        for (const std::string& f : report.failures) Say("  %s\n", f.c_str());
        if (!report.error.empty()) it.model_failures.push_back(report.error);
        for (const std::string& f : report.failures) it.model_failures.push_back(f);
      }
      it.model_out = report.output;
    }
    progress_->Finish();
    const double m0 = Now();
    for (Item& it : items) {
      ExecReport report;
      runner_->Run(it.trace, true, false, &report);
    }
    const double model_s = Now() - m0;
    model_s_ = model_s;
    model_failures_ = model_failures;

    // The guest: one boot for all.
    std::vector<const Trace*> traces;
    std::vector<std::string> names;
    std::vector<std::string> texts;
    for (const Item& it : items) {
      traces.push_back(&it.trace);
      names.push_back(it.name);
      texts.push_back(it.text);
    }
    std::vector<std::string> outs;
    std::vector<std::string> statuses;
    double guest_s = 0;
    double boot_s = 0;
    std::vector<std::string> model_outs;
    for (const Item& it : items) model_outs.push_back(it.model_out);
    if (!RunGuest("main", traces, names, texts, model_outs, "crosscheck guest", &outs, &statuses, &guest_s,
                  &boot_s)) {
      return cli::kExitError;
    }
    int divergent = 0;
    std::vector<size_t> diverged;
    for (size_t i = 0; i < items.size(); ++i) {
      items[i].guest_out = outs[i];
      items[i].guest_status = statuses[i];
      if (items[i].guest_status != "ok" || trace::NormaliseAddressOrder(items[i].model_out) != trace::NormaliseAddressOrder(items[i].guest_out)) {
        ++divergent;
        diverged.push_back(i);
        items[i].diverged = true;
        items[i].difference = items[i].guest_status != "ok"
                                  ? "guest " + items[i].guest_status
                                  : FirstDifference(trace::NormaliseAddressOrder(items[i].model_out),
                                                    trace::NormaliseAddressOrder(items[i].guest_out));
      }
      const auto us = guest_us_.find(items[i].name);
      if (us != guest_us_.end()) items[i].guest_us = us->second;
    }
    divergent_ = divergent;
    const double model_rate = static_cast<double>(items.size()) / std::max(model_s, 1e-9);
    const double guest_rate = static_cast<double>(items.size()) / std::max(guest_s, 1e-9);
    model_rate_ = model_rate;
    guest_rate_ = guest_rate;
    guest_s_ = guest_s;
    boot_s_ = boot_s;
    Say("crosscheck: %zu traces (%zu files, %llu random of %llu operations from seed %llu), board %s, profile %s\n",
        items.size(), o_.files.size(), static_cast<unsigned long long>(o_.random),
        static_cast<unsigned long long>(o_.ops), static_cast<unsigned long long>(o_.seed),
        o_.board.empty() ? "dummy" : o_.board.c_str(), runner_->profile().c_str());
    Say("model: %.0f traces/s (%.3f s; %s per trace, canonical output)\n", model_rate, model_s,
                o_.fresh_machines ? "a fresh machine" : "one machine, a module reload");
    Say("guest: %.1f traces/s (%.3f s in the guest, of which %.3f s module reloads; %.1f s boot to "
                "verdict)\n",
                guest_rate, guest_s, reload_s_, boot_s);
    Say("model/guest: %.0fx\n", model_rate / std::max(guest_rate, 1e-9));

    for (size_t i : diverged) {
      Item& it = items[i];
      Written(WriteFile(o_.out_dir + "/" + it.name + ".trace", it.text));
      Written(WriteFile(o_.out_dir + "/" + it.name + ".model.out", it.model_out));
      Written(WriteFile(o_.out_dir + "/" + it.name + ".kernel.out", it.guest_out));
      Say("DIVERGENCE %s: %s\n", it.name, it.difference);
    }
    if (!diverged.empty() && o_.minimise) Minimise(items, diverged);
    Say("crosscheck: %d of %zu traces diverge; %d model failures\n", divergent, items.size(),
                model_failures);
    return divergent == 0 && model_failures == 0 ? cli::kExitOk : cli::kExitFinding;
  }

  // Reports a file that could not be written (the run goes on).
  void Written(const absl::Status& status) {
    if (!status.ok()) Say("crosscheck: %s\n", status.message());
  }

  int Fail(const std::string& what) {
    std::fprintf(stderr, "ionsim crosscheck: %s\n", what.c_str());
    error_ = what;
    return cli::kExitError;
  }

  // Runs the traces in one boot. outs/statuses are filled per trace ("" and "error: missing" for a trace the
  // guest did not report).
  bool RunGuest(const std::string& tag, const std::vector<const Trace*>& traces,
                const std::vector<std::string>& names, const std::vector<std::string>& texts,
                const std::vector<std::string>& model_outs, const std::string& what, std::vector<std::string>* outs,
                std::vector<std::string>* statuses, double* guest_s, double* boot_s) {
    const std::string data_dir = o_.out_dir + "/guest-" + tag;
    mkdir(data_dir.c_str(), 0755);
    std::vector<trace::BundleEntry> entries;
    int warn_traces = 0;
    for (size_t i = 0; i < traces.size(); ++i) {
      entries.push_back({names[i], texts[i]});
      bool warns = false;
      for (const trace::Op& op : traces[i]->ops) warns |= op.expect_warn;
      warn_traces += warns;
    }
    if (!WriteFile(data_dir + "/bundle", trace::WriteBundle(board_text_, entries)).ok()) {
      Say("crosscheck: cannot write %s/bundle\n", data_dir.c_str());
      error_ = absl::StrCat("cannot write ", data_dir, "/bundle");
      return false;
    }
    const std::string out_file = o_.out_dir + "/guest-" + tag + ".out";
    const std::string log_file = o_.out_dir + "/guest-" + tag + ".log";
    std::remove(out_file.c_str());
    const uint64_t timeout = 120 + traces.size() / 2;
    std::string board_arg = o_.board.empty() ? "dummy" : o_.board;
    // The harness boots with panic_on_warn=1; traces that expect a WARN need the guest to go on after it.
    const std::string append = warn_traces > 0 ? " --append panic_on_warn=0" : "";
    // The first boot builds the module (make is incremental); the minimisation rounds reuse it.
    const std::string build = built_ ? " --no-build" : "";
    built_ = true;
    // The module's profile= parameter overrides the board's profile record, as --profile does on the model.
    const std::string profile = o_.profile.empty() ? "" : " --profile '" + o_.profile + "'";
    const std::string cmd = o_.qemu + " run" + build + append + profile + " --board '" + board_arg + "' --timeout " +
                            std::to_string(timeout) + " --bin '" + o_.guest_bin + "' --data '" + data_dir +
                            "' --out '" + out_file + "' -- 'ionsim-guest-replay /ionsim/data/bundle' >'" +
                            log_file + "' 2>&1";
    const double t0 = Now();
    const int rc = RunShowingProgress(cmd, log_file, names, model_outs, what);
    *boot_s = Now() - t0;
    std::string log;
    ReadFile(log_file, &log);
    std::string data;
    if (!ReadFile(out_file, &data)) {
      Say("crosscheck: the guest run gave no output (rc %d); see %s\n", rc, log_file.c_str());
      error_ = absl::StrFormat("the guest run gave no output (rc %d); see %s", rc, log_file);
      return false;
    }
    if (rc != 0) {
      // A guest whose only complaint is the WARNs the traces expect (`# ... warn`, one per trace: the module
      // is reloaded between traces, so WARN_ON_ONCE fires once per trace) is a pass.
      // The log may hold the serial log twice (the harness prints it on failure): count distinct WARNING lines.
      std::vector<std::string> warning_lines;
      bool only_warns = warn_traces > 0;
      std::istringstream lines(log);
      std::string line;
      while (std::getline(lines, line)) {
        if (line.rfind("ionsim-qemu: FAIL: ", 0) == 0) {
          const std::string reason = line.substr(19);
          unsigned long taint = 0;
          const bool warn_taint = std::sscanf(reason.c_str(), "kernel tainted %lu", &taint) == 1 &&
                                  (taint & ~(4096UL | 8192UL | 512UL)) == 0;  // O, E and W (a WARN happened)
          if (reason.find("WARNING:") == std::string::npos && !warn_taint && reason.rfind("FAIL (boot", 0) != 0) {
            only_warns = false;
          }
        } else if (line.find("] WARNING: ") != std::string::npos &&
                   std::find(warning_lines.begin(), warning_lines.end(), line) == warning_lines.end()) {
          warning_lines.push_back(line);
        }
      }
      const size_t warnings = warning_lines.size();
      if (!only_warns || warnings != static_cast<size_t>(warn_traces)) {
        Say("crosscheck: the guest run failed (rc %d, %zu WARNING lines for %d traces that expect one); "
                    "see %s\n",
                    rc, warnings, warn_traces, log_file.c_str());
        error_ = absl::StrFormat("the guest run failed (rc %d); see %s", rc, log_file);
        return false;
      }
      Say("crosscheck: the guest log has the %d WARNs the traces expect\n", warn_traces);
    }
    std::vector<trace::GuestResult> results;
    uint64_t total_us = 0;
    std::string error;
    if (!trace::ReadGuestResults(data, &results, &total_us, &error)) {
      Say("crosscheck: %s (%s)\n", error.c_str(), out_file.c_str());
      error_ = absl::StrCat(error, " (", out_file, ")");
      return false;
    }
    *guest_s = static_cast<double>(total_us) * 1e-6;
    uint64_t reload_us = 0;
    for (const trace::GuestResult& r : results) reload_us += r.reload_us;
    reload_s_ = static_cast<double>(reload_us) * 1e-6;
    outs->assign(traces.size(), "");
    statuses->assign(traces.size(), "error: no result from the guest");
    for (size_t i = 0, r = 0; i < traces.size() && r < results.size(); ++i) {
      if (results[r].name != names[i]) continue;
      (*outs)[i] = results[r].output;
      guest_us_[names[i]] = results[r].us;
      (*statuses)[i] = results[r].status;
      ++r;
    }
    return true;
  }

  // Runs the harness command, following the guest on the progress line until it exits; returns its exit code
  // (128 + the signal when a signal ended it, -1 when it could not start).
  int RunShowingProgress(const std::string& cmd, const std::string& log_file, const std::vector<std::string>& names,
                         const std::vector<std::string>& model_outs, const std::string& what) {
    std::fflush(stdout);
    const pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
      execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    GuestWatch watch(log_file, names, model_outs);
    progress_->Stage(what, "traces", names.size());
    bool booted = false;
    int status = 0;
    for (;;) {
      const pid_t r = waitpid(pid, &status, WNOHANG);
      if (r == pid || (r < 0 && errno != EINTR)) break;
      watch.Poll();
      if (watch.booted() && !booted) {
        booted = true;
        progress_->Stage(what, "traces", names.size());  // the rate counts from the boot
      }
      std::string note = booted ? absl::StrCat(watch.diverging(), " diverging so far") : "booting";
      if (watch.done() == names.size()) absl::StrAppend(&note, ", the guest shutting down");
      progress_->Update(watch.done(), note);
      usleep(200 * 1000);
    }
    watch.Poll();
    progress_->Update(watch.done(), absl::StrCat(watch.diverging(), " diverging so far"));
    progress_->Finish();
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
  }

  // The minimised trace as written: a header naming the original trace, the first differing output line and
  // both outputs of it, then the trace whose expected results are the kernel's (the reference) when its output
  // for this trace is known; otherwise the original expectations that do not hold on the model are dropped.
  static std::string MinimisedText(const Item& it, Trace t, const std::string& model_out,
                                   const std::string& kernel_out) {
    std::string header = absl::StrFormat("# Minimised by ionsim crosscheck from %s (%s): %d of %d operations.\n",
                                         it.name, it.source, t.ops.size(), it.trace.ops.size());
    const std::vector<std::string> kernel = trace::ResultsOfOutput(kernel_out);
    if (!kernel_out.empty()) {
      const std::string difference =
          FirstDifference(trace::NormaliseAddressOrder(model_out), trace::NormaliseAddressOrder(kernel_out));
      bool first = true;
      for (absl::string_view line : absl::StrSplit(difference, '\n')) {
        absl::StrAppend(&header, first ? "# The first difference: " : "# ", absl::StripLeadingAsciiWhitespace(line),
                        "\n");
        first = false;
      }
    }
    if (!kernel_out.empty() && kernel.size() == t.ops.size()) {
      for (size_t i = 0; i < t.ops.size(); ++i) t.ops[i].expect = kernel[i];
      absl::StrAppend(&header,
                      "# Expected results: the kernel's for this trace; replayed on the model, the divergence shows "
                      "as a mismatch.\n");
    } else {
      const std::vector<std::string> model = trace::ResultsOfOutput(model_out);
      int dropped = 0;
      for (size_t i = 0; i < t.ops.size(); ++i) {
        if (!t.ops[i].expect.empty() && (i >= model.size() || model[i] != t.ops[i].expect)) {
          t.ops[i].expect.clear();
          ++dropped;
        }
      }
      absl::StrAppendFormat(&header,
                            "# Expected results: the original trace's that hold on the model; %d that do not were "
                            "dropped (no kernel output for this trace).\n",
                            dropped);
    }
    return header + trace::PrintTrace(t);
  }

  void Minimise(std::vector<Item>& items, const std::vector<size_t>& diverged) {
    std::vector<std::unique_ptr<trace::Minimizer>> mins;
    for (size_t i : diverged) mins.push_back(std::make_unique<trace::Minimizer>(items[i].trace));
    std::map<std::string, std::string> kernel_out_of;  // a diverging candidate's text -> the guest's output
    for (uint64_t round = 1; round <= o_.max_rounds; ++round) {
      std::vector<const Trace*> batch;
      std::vector<std::string> names;
      std::vector<std::string> texts;
      std::vector<std::string> model_outs;
      std::vector<std::pair<size_t, size_t>> owner;  // (minimizer, candidate)
      for (size_t m = 0; m < mins.size(); ++m) {
        if (mins[m]->done()) continue;
        for (size_t c = 0; c < mins[m]->candidates().size(); ++c) {
          const Trace& t = mins[m]->candidates()[c];
          ExecReport report;
          runner_->Run(t, true, false, &report);
          batch.push_back(&t);
          texts.push_back(trace::PrintTrace(t));
          names.push_back(items[diverged[m]].name + "-r" + std::to_string(round) + "-c" + std::to_string(c));
          model_outs.push_back(report.output);
          owner.emplace_back(m, c);
        }
      }
      if (batch.empty()) break;
      Say("minimising: round %llu, %zu candidates in one boot\n", static_cast<unsigned long long>(round),
                  batch.size());
      std::fflush(stdout);
      std::vector<std::string> outs;
      std::vector<std::string> statuses;
      double guest_s = 0;
      double boot_s = 0;
      if (!RunGuest("min" + std::to_string(round), batch, names, texts, model_outs,
                    absl::StrCat("minimising round ", round), &outs, &statuses, &guest_s, &boot_s)) {
        break;
      }
      std::vector<std::vector<bool>> verdicts(mins.size());
      for (size_t m = 0; m < mins.size(); ++m) verdicts[m].assign(mins[m]->candidates().size(), false);
      for (size_t k = 0; k < batch.size(); ++k) {
        verdicts[owner[k].first][owner[k].second] =
            statuses[k] == "ok" && trace::NormaliseAddressOrder(outs[k]) != trace::NormaliseAddressOrder(model_outs[k]);
        if (verdicts[owner[k].first][owner[k].second]) kernel_out_of[texts[k]] = outs[k];
      }
      for (size_t m = 0; m < mins.size(); ++m) {
        if (!mins[m]->done()) mins[m]->Feed(verdicts[m]);
      }
    }
    for (size_t m = 0; m < mins.size(); ++m) {
      Item& it = items[diverged[m]];
      const std::string path = o_.out_dir + "/" + it.name + ".min.trace";
      const Trace& t = mins[m]->result();
      ExecReport report;
      runner_->Run(t, true, false, &report);
      const auto kernel = kernel_out_of.find(trace::PrintTrace(t));
      const bool original = t.SameAs(it.trace) && it.guest_status == "ok";
      Written(WriteFile(path, MinimisedText(it, t, report.output,
                                            kernel != kernel_out_of.end() ? kernel->second
                                            : original                    ? it.guest_out
                                                                          : "")));
      it.min_path = path;
      it.min_ops = t.ops.size();
      it.min_complete = mins[m]->done();
      Say("MINIMISED %s: %zu of %zu operations%s, written to %s\n", it.name.c_str(), t.ops.size(),
                  it.trace.ops.size(), mins[m]->done() ? "" : " (round limit reached)", path.c_str());
    }
  }

  Options o_;
  std::string error_;  // why the run stopped early, "" when it did not
  int divergent_ = 0;
  int model_failures_ = 0;
  double model_s_ = 0;
  double model_rate_ = 0;
  double guest_s_ = 0;
  double guest_rate_ = 0;
  double boot_s_ = 0;
  std::map<std::string, uint64_t> guest_us_;  // the last guest run's time per trace
  bool built_ = false;
  double reload_s_ = 0;  // module reloads in the last guest run
  std::string board_text_;
  std::unique_ptr<trace::ModelRunner> runner_;
  std::unique_ptr<Progress> progress_;
};

}  // namespace

int CrosscheckMain(const std::vector<std::string>& args) {
  Options o;
  o.random = absl::GetFlag(FLAGS_random);
  o.seed = absl::GetFlag(FLAGS_seed);
  o.ops = absl::GetFlag(FLAGS_ops);
  if (o.ops == 0 || o.ops >= 100000) {
    return cli::UsageError("crosscheck", absl::StrFormat("bad value '%d' for --ops (K: 1 to 99999)", o.ops));
  }
  const absl::StatusOr<std::string> board = BoardFlag();
  if (!board.ok()) return cli::UsageError("crosscheck", board.status().message());
  o.board = *board;
  o.corpora = absl::GetFlag(FLAGS_corpus);
  if (!o.corpora.empty()) {
    // Fuzz inputs decode for the fuzz machine's board: --board, else the fuzz board (fuzz/fuzz.board, from the
    // repository root).
    if (o.board.empty()) {
      o.board = fuzz::kFuzzBoardPath;
      if (!std::filesystem::exists(o.board)) {
        return cli::UsageError("crosscheck", absl::StrCat("--corpus without --board needs ", fuzz::kFuzzBoardPath,
                                                          ": run from the repository root, or give --board"));
      }
    }
    // The decoder's machine: the same board (the fuzz board's embedded text without --board).
    if (const absl::Status status = SetFuzzMachineFlags(); !status.ok()) {
      return cli::UsageError("crosscheck", status.message());
    }
  }
  const absl::StatusOr<std::string> profile = ProfileFlag();
  if (!profile.ok()) return cli::UsageError("crosscheck", profile.status().message());
  o.profile = *profile;
  if (!absl::GetFlag(FLAGS_out_dir).empty()) o.out_dir = absl::GetFlag(FLAGS_out_dir);
  o.guest_bin = absl::GetFlag(FLAGS_guest_bin);
  o.qemu = absl::GetFlag(FLAGS_qemu);
  o.max_rounds = absl::GetFlag(FLAGS_max_rounds);
  o.minimise = !absl::GetFlag(FLAGS_no_minimise);
  o.fresh_machines = absl::GetFlag(FLAGS_fresh_machines);
  o.json = absl::GetFlag(FLAGS_json);
  o.junit = absl::GetFlag(FLAGS_junit);
  o.files = args;
  if (o.guest_bin.empty()) o.guest_bin = GuestBinDefault();
  return Crosscheck(std::move(o)).Run();
}

}  // namespace ionsim
