// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The op-program fuzzer's programs: fuzzer input bytes decode into a program of IonBackend operations, which
// prints as a trace in the trace language (docs: the trace language's operation names and syntax) and runs on
// any IonBackend with a check hook after every operation.
//
// Decoding is stable: the input is a sequence of fixed 8-byte records, one per operation (at most
// kMaxOps), and every operand that names an object is chosen modulo the objects the program has bound so far
// (symbolically: a binding counts whether or not the call succeeds at run time, and close/exit retire
// symbols). So changing one byte changes one operation or one operand, and truncating the input truncates the
// program. Record layout:
//   byte 0      the operation (kOpTable, 32 entries, the frequent ones repeated)
//   byte 1      first object operand (process, fd, mapping...), modulo the candidates
//   byte 2      second object operand or a choice (handle: bit 7 set picks among every client's handles,
//               otherwise among the handles of the fd's own client; 0xf0 and above name a raw id)
//   bytes 3..7  numbers (lengths from a table, masks, flags, offsets, raw bytes)
// Every program starts with `P1 = spawn app` and `C1 = open P1`, which take no input bytes.
//
// Run-time values of failed bindings: a process that could not be made is pid -1, an fd that could not be
// made is -1, a handle is id 0 and a mapping is address 0; later operations pass those values on, so they get
// the kernel's answer to a bad fd, id or address.
#ifndef FUZZ_ION_PROGRAM_H_
#define FUZZ_ION_PROGRAM_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/backend/ion_backend.h"

namespace ionsim::fuzz {

inline constexpr size_t kRecordBytes = 8;
inline constexpr size_t kMaxOps = 32;

enum class OpKind : uint8_t {
  kSpawn, kFork, kExit, kOpen, kClose, kDup, kPass,
  kAlloc, kFree, kShare, kMap, kImport, kSync, kCustom, kNewAlloc, kQuery, kIoctl,
  kMmap, kMunmap, kStore, kLoad, kDmabufSync, kDrain, kShrink, kDebugfs,
};

enum class SymKind : uint8_t { kProc, kFd, kHandle, kMapping };

// A name the program binds. Fds and mappings belong to a process symbol; handles to a client (the open file
// an fd refers to, numbered per `open`).
struct Symbol {
  std::string name;
  SymKind kind;
  int owner = -1;  // fd, mapping: the process symbol; handle: the client number
  int client = -1;  // fd: the client number of its file (-1: not a /dev/ion file)
};

struct Op {
  OpKind kind;
  int dst = -1;  // the symbol bound, or -1
  int x = -1;    // first symbol operand
  int y = -1;    // second symbol operand
  uint64_t n[4] = {0, 0, 0, 0};
  std::string text;  // path, comm or raw bytes, by kind
  // fork: (child copy, parent original) symbol pairs for the parent's fds and mappings.
  std::vector<std::pair<int, int>> copies;
};

struct Program {
  std::vector<Symbol> symbols;
  std::vector<Op> ops;
};

// The fuzz machine: 32 MiB of RAM and a heap of every type (fuzz/fuzz.board). Small, so that a machine per
// input boots and shuts down quickly.
extern const char kFuzzBoard[];

Program DecodeProgram(const uint8_t* data, size_t size);

// One line of trace text per operation (no trailing newline).
std::string OpText(const Program& program, const Op& op);
// The whole program as a trace: a comment header, the board line, then one operation per line.
std::string ProgramTrace(const Program& program);

// The result of one operation in the trace language's canonical form: "ok", "ok <details>" or an errno name,
// then (debugfs) indented lines.
using CheckHook = std::function<void(size_t index, const Op& op, const std::string& result)>;

// Runs the program on backend, calling hook after every operation. With render, returns the canonical result
// of every operation (checksums, query entries, ioctl output bytes, debugfs text); without it the details that
// cost time to format are left out of the strings the hook sees, and nothing is returned.
std::vector<std::string> RunProgram(const Program& program, IonBackend* backend, const CheckHook& hook,
                                    bool render);

}  // namespace ionsim::fuzz

#endif  // FUZZ_ION_PROGRAM_H_
