// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The progress line of ionsim's long commands (run --frames, replay of a long trace, crosscheck, fuzz), on
// stderr. On a terminal it is one line redrawn in place a few times a second; otherwise (a CI log) it is a plain
// line every few seconds ($IONSIM_PROGRESS_SECONDS, default 5). Either way nothing is printed for a command
// that ends within its first interval (half a second on a terminal), so quick runs stay quiet. A line reads
//   crosscheck guest: 120/2000 traces, 9.8/s, elapsed 12s, ETA 3m12s, 0 diverging so far
// (what, done/total, rate, elapsed, estimated time left, the command's note).
#ifndef TOOLS_IONSIM_PROGRESS_H_
#define TOOLS_IONSIM_PROGRESS_H_

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>

namespace ionsim {

class Progress {
 public:
  struct Options {
    FILE* out = stderr;
    int terminal = -1;      // 1 or 0; -1: whether `out` is a terminal
    double interval = -1;   // seconds between lines; -1: 0.2 on a terminal, else $IONSIM_PROGRESS_SECONDS or 5
    std::function<double()> clock;  // seconds; default: the monotonic clock
    bool rate = true;       // show done per second (off where done counts seconds)
  };

  // what: "replay"; unit: "operations"; total: 0 when not known.
  Progress(std::string what, std::string unit, uint64_t total, Options options);
  Progress(std::string what, std::string unit, uint64_t total) : Progress(what, unit, total, Options()) {}
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // A new stage (a new label, unit and total; counting restarts).
  void Stage(std::string what, std::string unit, uint64_t total);
  // done so far, and an optional note; prints when the interval has passed.
  void Update(uint64_t done, const std::string& note = "");
  // Ends the line: on a terminal the last state stays on screen; elsewhere a final line is printed. Nothing
  // when nothing was printed yet. Called by the destructor too.
  void Finish();

  // The text of a line (no line break or terminal controls); public for tests.
  std::string Line(double now) const;
  // "3m12s", "12s", "1h04m".
  static std::string Duration(double seconds);

 private:
  void Print(double now);

  std::string what_;
  std::string unit_;
  uint64_t total_ = 0;
  uint64_t done_ = 0;
  std::string note_;
  Options options_;
  bool terminal_ = false;
  double start_ = 0;
  double last_ = 0;
  bool printed_ = false;
  bool finished_ = false;
};

}  // namespace ionsim

#endif  // TOOLS_IONSIM_PROGRESS_H_
