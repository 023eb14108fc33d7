// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The trace language (docs/trace.md): a program of IonBackend operations with symbolic operands, one operation
// per line. This header holds the in-memory form, the parser (text -> Trace, errors name the line) and the
// printer (Trace -> text that parses back to an equal Trace). Running a trace is executor.h.
#ifndef TOOLS_TRACE_TRACE_H_
#define TOOLS_TRACE_TRACE_H_

#include <cstdint>
#include <string>
#include <vector>

namespace ionsim::trace {

// The operations, in the order of docs/trace.md.
enum class OpKind : uint8_t {
  kSpawn,
  kFork,
  kExit,
  kOpen,
  kClose,
  kDup,
  kPass,
  kAlloc,
  kFree,
  kShare,
  kMap,
  kImport,
  kSync,
  kCustom,
  kNewAlloc,
  kQuery,
  kIoctl,
  kMmap,
  kMunmap,
  kStore,
  kLoad,
  kDmabufSync,
  kDrain,
  kShrink,
  kDebugfs,
  kState,
  // Simulated devices (docs/trace.md, "Devices"): a driver's dma-buf importer side.
  kDevice,    // D = device <name>
  kAttach,    // A = attach D F: dma_buf_get + dma_buf_attach
  kDevMap,    // dev_map A [dir=...]: dma_buf_map_attachment
  kDevUnmap,  // dev_unmap A: dma_buf_unmap_attachment
  kDevWrite,  // dev_write A off= len= byte=: DMA into the buffer
  kDevRead,   // dev_read A off= len=: DMA out of the buffer, crc32
  kDevSync,   // dev_sync A cpu|device: the driver's dma_sync_sg_for_cpu / dma_sync_sg_for_device
  kDetach,    // detach A: dma_buf_detach + dma_buf_put
  // Who holds a buffer (docs/trace.md, "Explain"): model only.
  kExplain,  // explain [b<N>|table]
};
inline constexpr int kNumOpKinds = static_cast<int>(OpKind::kExplain) + 1;

// Whether an operation drives a simulated device.
bool IsDeviceOp(OpKind kind);
// Whether a trace has a device operation.
bool UsesDevices(const struct Trace& trace);
// Whether an operation runs on the model only (the device operations and explain).
bool IsModelOnlyOp(OpKind kind);
// Whether a trace has an operation that runs on the model only.
bool UsesModelOnlyOps(const struct Trace& trace);

// The keyword of an operation ("alloc").
const char* OpName(OpKind kind);

// What a symbol names; fixed by the operation that binds it.
enum class SymKind : uint8_t { kProcess, kFd, kHandle, kMapping, kThread, kDevice, kAttachment };

// A symbolic operand: symbol `sym` (an index into Trace::symbols), seen from process `at` (also a symbol index)
// when written SYM@AT, otherwise at == -1.
struct SymRef {
  int32_t sym = -1;
  int32_t at = -1;
  friend bool operator==(const SymRef& a, const SymRef& b) { return a.sym == b.sym && a.at == b.at; }
};

struct Symbol {
  std::string name;
  SymKind kind = SymKind::kProcess;
  friend bool operator==(const Symbol& a, const Symbol& b) { return a.name == b.name && a.kind == b.kind; }
};

// Where an ioctl's argument pointer points.
enum class ArgMode : uint8_t {
  kBuf,   // the process's scratch memory, holding the operation's bytes
  kNull,  // 0
  kBad,   // an address with nothing mapped (kBadUserAddress)
  kRo,    // a read-only page of zeros in the process
  kMap,   // inside a mapping: Op::b names it, Op::off is the offset (arg=M+off)
};

// dmabuf_sync direction bits, as struct dma_buf_sync's flags.
inline constexpr uint64_t kDmaBufSyncRead = 1;
inline constexpr uint64_t kDmaBufSyncWrite = 2;
inline constexpr uint64_t kDmaBufSyncEnd = 4;

// Address used for `bad` pointers: below mmap_min_addr, so never mapped in a real process or the model.
inline constexpr uint64_t kBadUserAddress = 0x1000;

// One operation. Which fields mean something depends on kind (docs/trace.md); unused fields keep their
// defaults, so two equal operations compare equal field by field.
struct Op {
  OpKind kind = OpKind::kDrain;
  int line = 0;          // 1-based source line (not part of equality)
  int32_t bind = -1;     // the symbol this operation binds, or -1
  SymRef a;              // first operand: process, fd, client fd or mapping
  SymRef b;              // second operand: handle, fd, or receiving process
  bool raw_id = false;   // free/share/map: the handle is `id` rather than symbol b
  int64_t id = 0;        // raw handle id
  int32_t heap = -1;     // alloc/new_alloc: index into Trace::heap_names (heap=NAME), or -1 for mask=
  uint64_t mask = 0;     // alloc/new_alloc mask=; custom cmd=; ioctl cmd=
  uint64_t len = 0;      // alloc/new_alloc/mmap/munmap/store/load len=; query cnt=; ioctl size=
  uint64_t align = 0;    // alloc align=; query reserved=; custom arg=
  uint64_t flags = 0;    // alloc/new_alloc flags=; open O_ flags; mmap MAP_ flags; dmabuf_sync flags; shrink n=
  uint64_t off = 0;      // mmap/munmap/store/load off=
  int prot = 3;          // mmap PROT_ bits
  uint8_t byte = 0;      // store byte=
  bool has_len = false;  // munmap: len= given (default: the whole mapping from off)
  ArgMode arg = ArgMode::kBuf;  // query heaps=, ioctl arg=
  std::string text;      // spawn comm, open path, shrink heap name, debugfs path
  std::vector<uint8_t> bytes;  // ioctl arg=hex:, store hex=
  std::string expect;    // expected result ("EINVAL", "ok", "ok id=3"), "" when none
  bool expect_warn = false;  // `# <result> warn`: the operation is expected to raise a kernel WARN
  int32_t thread = -1;   // `T: op`: the thread symbol that runs the operation, or -1 (the trace's own thread)
  bool expect_coherency = false;  // `# <result> coherency`: the model's coherency oracle is expected to report

  bool SameAs(const Op& o) const;
};

// `T = thread P` (a thread of process P) or `K = thread kernel` (a kernel thread: the deferred-free threads'
// loop as `drain`, the shrinker as `shrink`, debugfs reads). Declarations are not operations; each is printed
// back before operation `before_op`.
struct ThreadDecl {
  int32_t sym = -1;
  int32_t proc = -1;  // the process symbol, -1 for a kernel thread
  int line = 0;
  size_t before_op = 0;
  friend bool operator==(const ThreadDecl& a, const ThreadDecl& b) {
    return a.sym == b.sym && a.proc == b.proc && a.before_op == b.before_op;
  }
};

struct Trace {
  std::string board;    // `board` line, "" when absent (the default board)
  std::string profile;  // `profile` line, "" when absent (the board's or the default profile)
  std::vector<Symbol> symbols;
  std::vector<std::string> heap_names;  // distinct heap=NAME names in order of first use
  std::vector<Op> ops;
  std::vector<ThreadDecl> threads;  // in order of declaration

  // True when some operation runs on a declared thread.
  bool HasThreads() const { return !threads.empty(); }
  // The declaration of thread symbol sym, or nullptr.
  const ThreadDecl* FindThread(int32_t sym) const;

  // Equality ignoring source line numbers.
  bool SameAs(const Trace& o) const;
  // Index of a symbol by name, -1 if none.
  int32_t FindSymbol(const std::string& name) const;
};

// "" when name is an ION profile (kmod/ion_profile.h), else "unknown profile '<name>' (known: <every name>)".
std::string UnknownProfile(const std::string& name);

// Parses trace text. On error returns false with "line N: <what>" in *error.
bool ParseTrace(const std::string& text, Trace* out, std::string* error);

// The canonical text of one operation, without line number or expectation ("H1 = alloc C1 len=4K heap=system"),
// with its thread first when it has one ("T1: free C H").
std::string FormatOp(const Trace& trace, const Op& op);
// The whole trace, one operation per line (board and profile lines first when set), expectations as trailing
// `# <result>`.
// ParseTrace of the result gives a trace SameAs() this one.
std::string PrintTrace(const Trace& trace);

// Parses a number as the language writes it: decimal or 0x hex, optional K/M/G suffix. False on junk or
// overflow.
bool ParseNumber(const std::string& s, uint64_t* out);

}  // namespace ionsim::trace

#endif  // TOOLS_TRACE_TRACE_H_
