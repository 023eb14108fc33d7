// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "tools/ionsim/progress.h"

#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ionsim {
namespace {

double MonotonicSeconds() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// The first line of a terminal's progress waits this long, so quick commands print nothing.
constexpr double kTerminalGrace = 0.5;

}  // namespace

Progress::Progress(std::string what, std::string unit, uint64_t total, Options options)
    : what_(std::move(what)), unit_(std::move(unit)), total_(total), options_(std::move(options)) {
  if (!options_.clock) options_.clock = MonotonicSeconds;
  terminal_ = options_.terminal >= 0 ? options_.terminal == 1 : isatty(fileno(options_.out)) == 1;
  if (options_.interval < 0) {
    double seconds = 5;
    const char* env = std::getenv("IONSIM_PROGRESS_SECONDS");
    if (env != nullptr && !absl::SimpleAtod(env, &seconds)) seconds = 5;
    options_.interval = terminal_ ? 0.2 : seconds;
  }
  start_ = options_.clock();
  last_ = start_ + (terminal_ ? kTerminalGrace - options_.interval : 0);
}

Progress::~Progress() { Finish(); }

void Progress::Stage(std::string what, std::string unit, uint64_t total) {
  what_ = std::move(what);
  unit_ = std::move(unit);
  total_ = total;
  done_ = 0;
  note_.clear();
  start_ = options_.clock();
}

std::string Progress::Duration(double seconds) {
  const long s = seconds < 0 ? 0 : static_cast<long>(seconds + 0.5);
  if (s >= 3600) return absl::StrFormat("%dh%02dm", s / 3600, s / 60 % 60);
  if (s >= 60) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%ds", s);
}

std::string Progress::Line(double now) const {
  const double elapsed = now - start_;
  std::string line = absl::StrCat(what_, ": ");
  if (total_ > 0) {
    absl::StrAppend(&line, done_, "/", total_, " ", unit_);
  } else {
    absl::StrAppend(&line, done_, " ", unit_);
  }
  const double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0;
  if (options_.rate) absl::StrAppend(&line, absl::StrFormat(", %.1f/s", rate));
  absl::StrAppend(&line, ", elapsed ", Duration(elapsed));
  if (total_ > 0 && done_ > 0 && done_ < total_) {
    absl::StrAppend(&line, ", ETA ", Duration(static_cast<double>(total_ - done_) / rate));
  }
  if (!note_.empty()) absl::StrAppend(&line, ", ", note_);
  return line;
}

void Progress::Print(double now) {
  last_ = now;
  printed_ = true;
  const std::string line = Line(now);
  if (terminal_) {
    absl::FPrintF(options_.out, "\r%s\x1b[K", line);
  } else {
    absl::FPrintF(options_.out, "%s\n", line);
  }
  std::fflush(options_.out);
}

void Progress::Update(uint64_t done, const std::string& note) {
  done_ = done;
  note_ = note;
  finished_ = false;
  const double now = options_.clock();
  if (now - last_ >= options_.interval) Print(now);
}

void Progress::Finish() {
  if (finished_ || !printed_) return;
  finished_ = true;
  Print(options_.clock());
  if (terminal_) absl::FPrintF(options_.out, "\n");
  std::fflush(options_.out);
}

}  // namespace ionsim
