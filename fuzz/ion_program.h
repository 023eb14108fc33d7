// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The op-program fuzzer's programs: fuzzer input bytes decode into a trace (tools/trace/trace.h, the trace
// language of docs/trace.md) of IonBackend operations, which the trace executor runs with a check hook after
// every operation and which prints as trace text that `ionsim replay` runs again.
//
// Decoding is stable: the input is a sequence of fixed 8-byte records, one per operation (at most kMaxOps), and
// every operand that names an object is chosen modulo the objects the program has bound so far (symbolically: a
// binding counts whether or not the call succeeds at run time, and close/exit/munmap retire what they end). So
// changing one byte changes one operation or one operand, and truncating the input truncates the program.
// Record layout:
//   byte 0      the operation (kOpTable in ion_program.cc, 32 entries, the frequent ones repeated)
//   byte 1      first object operand (process, fd, client fd, mapping), modulo the candidates
//   byte 2      second operand or a choice (handle: bit 7 set picks among every client's handles, otherwise
//               among the handles of the fd's own client, 0xf0 and above name a raw id; import/sync: below 0xc0
//               the dma-bufs of the client's process, otherwise any fd)
//   bytes 3..7  numbers (lengths from a table, masks, flags, offsets, raw bytes)
// Every program starts with `P1 = spawn app` and `C1 = open P1 path=/dev/ion flags=rdwr`, which take no input.
// Fork copies are referred to as SYM@CHILD, as the trace language writes them.
#ifndef FUZZ_ION_PROGRAM_H_
#define FUZZ_ION_PROGRAM_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "model/backend/model_backend.h"
#include "tools/trace/trace.h"

namespace ionsim::fuzz {

inline constexpr size_t kRecordBytes = 8;
inline constexpr size_t kMaxOps = 32;

// The fuzz machine (fuzz/fuzz.board): 16 MiB of RAM and a heap of every type. Small, so that the oracles' walks
// and the module reload between inputs stay cheap.
extern const char kFuzzBoard[];
// The board path a decoded trace names (relative to the repository root).
extern const char kFuzzBoardPath[];
// The environment variable naming the board the harnesses run instead of the fuzz board (an embedded board's
// name or a board file, docs/boards.md); unset or empty: the fuzz board. The decoder's heap and debugfs names
// are the board's.
inline constexpr char kFuzzBoardEnv[] = "IONSIM_FUZZ_BOARD";
// What a decoded trace's `board` line names: IONSIM_FUZZ_BOARD, or kFuzzBoardPath.
const std::string& FuzzBoardName();
// The environment variable naming the ION profile the fuzz machine runs (docs/profiles.md); unset: the default.
inline constexpr char kFuzzProfileEnv[] = "IONSIM_FUZZ_PROFILE";
// The machine of IONSIM_FUZZ_BOARD (default kFuzzBoard; a board that does not resolve or validate aborts), running the profile IONSIM_FUZZ_PROFILE names (an unknown name aborts), and its
// heap table (name, id).
const ModelConfig& FuzzConfig();
const std::vector<std::pair<std::string, unsigned int>>& FuzzHeaps();

trace::Trace DecodeProgram(const uint8_t* data, size_t size);

}  // namespace ionsim::fuzz

#endif  // FUZZ_ION_PROGRAM_H_
