// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The files the crosscheck exchanges with its guest replayer (tools/trace/guest_main.cc).
//
// A bundle holds several traces for one board:
//   ionsim-bundle 1
//   board <name or the board text with ';' for newlines>
//   trace <name> <number of lines>
//   <that many lines of trace text>
//   ...
// The guest's results, one block per trace in bundle order:
//   IONSIM_TRACE <name> <ok|error: message> us=<microseconds the trace took> reload_us=<of which the reload>
//   <canonical output>
//   IONSIM_TRACE_END <name>
// followed by one line "IONSIM_REPLAY traces=<n> us=<microseconds of all traces, module reloads included>".
#ifndef TOOLS_TRACE_BUNDLE_H_
#define TOOLS_TRACE_BUNDLE_H_

#include <cstdint>
#include <string>
#include <vector>

namespace ionsim::trace {

struct BundleEntry {
  std::string name;
  std::string text;
};

std::string WriteBundle(const std::string& board, const std::vector<BundleEntry>& entries);
bool ReadBundle(const std::string& data, std::string* board, std::vector<BundleEntry>* entries, std::string* error);

struct GuestResult {
  std::string name;
  std::string status;  // "ok" or "error: ..."
  std::string output;
  uint64_t us = 0;
  uint64_t reload_us = 0;
};

// Parses the guest's results; *total_us is the IONSIM_REPLAY figure (0 when missing).
bool ReadGuestResults(const std::string& data, std::vector<GuestResult>* results, uint64_t* total_us,
                      std::string* error);

}  // namespace ionsim::trace

#endif  // TOOLS_TRACE_BUNDLE_H_
