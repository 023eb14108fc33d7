// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "fuzz/ion_program.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>

#include "kmod/uapi/ion.h"
#include "model/backend/board_config.h"
#include "tools/trace/model_runner.h"

namespace ionsim::fuzz {

using trace::OpKind;
using trace::SymKind;
using trace::SymRef;

// The chunk heap's chunk is one page: with a larger chunk, a buffer whose size is not a multiple of it makes
// ion_heap_map_kernel() (first kernel mapping, e.g. DMA_BUF_IOCTL_SYNC START) fill more page pointers than
// PAGE_ALIGN(size) / PAGE_SIZE, the v4.4 overflow of its pages array that the model stops with a BUG
// (fuzz/findings/chunk-map-kernel-overflow.trace); every input would soon end there.
const char kFuzzBoard[] =
    "board fuzz\n"
    "ram size=16M lowmem=12M base=0x80000000\n"
    "heap system id=0 name=system\n"
    "heap system_contig id=1 name=system_contig\n"
    "heap carveout id=2 name=carveout size=1M\n"
    "heap chunk id=3 name=chunk size=1M chunk=4K\n"
    "heap dma id=4 name=dma size=4M align=4M\n";
const char kFuzzBoardPath[] = "fuzz/fuzz.board";

const std::string& FuzzBoardName() {
  static const std::string* const name = [] {
    const char* board = std::getenv(kFuzzBoardEnv);
    return new std::string(board != nullptr && board[0] != '\0' ? board : kFuzzBoardPath);
  }();
  return *name;
}

const ModelConfig& FuzzConfig() {
  static const ModelConfig* config = [] {
    // The machine the harnesses run (docs/boards.md): IONSIM_FUZZ_BOARD, which `ionsim fuzz --board` and
    // `ionsim decode --board` set; unset or empty is the fuzz board.
    std::string error;
    std::string text = kFuzzBoard;
    if (FuzzBoardName() != kFuzzBoardPath && !trace::ResolveBoard(FuzzBoardName(), &text, &error)) {
      std::fprintf(stderr, "%s: board '%s' is neither an embedded board nor a readable board file (%s)\n",
                   kFuzzBoardEnv, FuzzBoardName().c_str(), error.c_str());
      std::abort();
    }
    ErrnoOr<ModelConfig> c = ModelConfigFromBoard(text, &error);
    if (!c.ok()) {
      std::fprintf(stderr, "fuzz board %s: %s\n", FuzzBoardName().c_str(), error.c_str());
      std::abort();
    }
    // The profile the harnesses run (docs/profiles.md): IONSIM_FUZZ_PROFILE, which `ionsim fuzz --profile` and
    // `ionsim decode --profile` set; unset or empty is the default.
    const char* profile = std::getenv(kFuzzProfileEnv);
    if (profile != nullptr && profile[0] != '\0') {
      if (const std::string unknown = trace::UnknownProfile(profile); !unknown.empty()) {
        std::fprintf(stderr, "%s: %s\n", kFuzzProfileEnv, unknown.c_str());
        std::abort();
      }
      c.value().profile = profile;
    }
    return new ModelConfig(c.value());
  }();
  return *config;
}

const std::vector<std::pair<std::string, unsigned int>>& FuzzHeaps() {
  static const auto* heaps = [] {
    auto* out = new std::vector<std::pair<std::string, unsigned int>>();
    for (const ModelHeapConfig& h : FuzzConfig().heaps) out->emplace_back(h.name, h.id);
    return out;
  }();
  return *heaps;
}

namespace {

constexpr unsigned int kDmaBufIoctlSync = 0x40086200;  // _IOW('b', 0, struct dma_buf_sync)
constexpr uint64_t kScratchBytes = 1 << 16;

// The operation of each value of byte 0 (mod 32). Allocation, sharing and mapping come up more often. The last
// entry is shrink when byte 1 is odd, otherwise debugfs.
constexpr OpKind kOpTable[32] = {
    OpKind::kSpawn,  OpKind::kFork,     OpKind::kExit,     OpKind::kOpen,  OpKind::kOpen,   OpKind::kClose,
    OpKind::kDup,    OpKind::kPass,     OpKind::kAlloc,    OpKind::kAlloc, OpKind::kAlloc,  OpKind::kFree,
    OpKind::kFree,   OpKind::kShare,    OpKind::kShare,    OpKind::kMap,   OpKind::kImport, OpKind::kSync,
    OpKind::kCustom, OpKind::kNewAlloc, OpKind::kNewAlloc, OpKind::kQuery, OpKind::kIoctl,  OpKind::kIoctl,
    OpKind::kMmap,   OpKind::kMmap,     OpKind::kMunmap,   OpKind::kStore, OpKind::kLoad,   OpKind::kDmabufSync,
    OpKind::kDrain,  OpKind::kShrink,
};

constexpr const char* kComms[4] = {"app", "camera", "surfaceflinger", "mediaserver"};

// The names a program can use on the board it runs: its heaps in board order (as trace tokens: a space in a
// heap's name becomes '_', as the generator writes them), and the debugfs files it reads: every heap's file,
// the first shrinkable heap's _shrink file, the canonical dump and a file no board has. On the fuzz board these
// are system, system_contig, carveout, chunk, dma and 8 files.
struct Vocabulary {
  std::vector<std::string> heaps;
  std::vector<std::string> debugfs;
};

const Vocabulary& Words() {
  static const Vocabulary* const words = [] {
    auto* w = new Vocabulary();
    const trace::GeneratorOptions gen = trace::GeneratorOptionsFor(FuzzConfig());
    w->heaps = gen.heaps;
    for (const std::string& heap : gen.heaps) w->debugfs.push_back("ion/heaps/" + heap);
    if (!gen.shrinkable.empty()) w->debugfs.push_back("ion/heaps/" + gen.shrinkable.front() + "_shrink");
    w->debugfs.push_back("ion/state");
    w->debugfs.push_back("ion/heaps/none");
    return w;
  }();
  return *words;
}

constexpr uint64_t kLens[32] = {
    0,         1,         100,       4095,          4096,          4097,         8192,    12288,
    16384,     16385,     32768,     65536,         65537,         131072,       262144,  1 << 20,
    (1 << 20) + 4096,     2 << 20,   4 << 20,       8 << 20,       16 << 20,     4096,    8192,
    4096,      0x80000000ULL,        0xfffff000ULL, ~0ULL - 4095,  ~0ULL,        24576,   49152,
    3 << 20,   40960};
constexpr uint64_t kAligns[8] = {0, 4096, 16384, 65536, 1 << 20, 2 << 20, 3, 8 << 20};
constexpr uint64_t kFlags[8] = {0, 1, 2, 3, 0x10000, 0x80000000, 1, 0};
constexpr uint64_t kMapLens[8] = {4096, 8192, 12288, 16384, 65536, 1 << 20, 0, 4097};
constexpr uint64_t kMapOffs[8] = {0, 0, 0, 4096, 8192, 65536, 1 << 20, 1};
constexpr uint64_t kQueryCnts[8] = {0, 1, 2, 5, 6, 16, 0x7fffffff, 0xffffffff};

constexpr unsigned int Ioc(unsigned int dir, unsigned int type, unsigned int nr, unsigned int size) {
  return dir << 30 | size << 16 | type << 8 | nr;
}
constexpr unsigned int kIoctlCmds[16] = {
    ION_IOC_ALLOC,  ION_IOC_FREE,       ION_IOC_MAP,       ION_IOC_SHARE,    ION_IOC_IMPORT, ION_IOC_SYNC,
    ION_IOC_CUSTOM, ION_IOC_HEAP_QUERY, ION_IOC_NEW_ALLOC, kDmaBufIoctlSync,
    Ioc(3, 'I', 0, 16),  // ALLOC with a size field no ABI has
    Ioc(0, 'I', 1, 0),   // FREE without direction or size
    Ioc(3, 'I', 9, 8),   // a command number ION does not know
    0x5451,              // FIOCLEX, answered by the VFS
    Ioc(1, 'b', 0, 4),   // DMA_BUF_IOCTL_SYNC with a 4-byte argument
    0,                   // raw: bytes 4 and 5 of the record
};

// An fd or a mapping as the program sees it: the reference the trace writes (SYM or SYM@CHILD), the process it
// is used from, and for fds the client number of its file (-1: not a /dev/ion client).
struct Live {
  SymRef ref;
  int proc;
  int client;
};

class Decoder {
 public:
  explicit Decoder(trace::Trace* t) : t_(t) {}

  int Bind(SymKind kind, char prefix) {
    char name[16] = {prefix};
    const auto [end, ec] = std::to_chars(name + 1, name + sizeof(name), ++counters_[prefix & 0x7f]);
    (void)ec;  // an int always fits
    trace::Symbol& s = t_->symbols.emplace_back();
    s.name.assign(name, end);
    s.kind = kind;
    return static_cast<int>(t_->symbols.size()) - 1;
  }
  int HeapIndex(const std::string& name) {
    for (size_t i = 0; i < t_->heap_names.size(); ++i) {
      if (t_->heap_names[i] == name) return static_cast<int>(i);
    }
    t_->heap_names.push_back(name);
    return static_cast<int>(t_->heap_names.size()) - 1;
  }
  template <typename T>
  static const T* Pick(const std::vector<T>& from, uint8_t b) {
    return from.empty() ? nullptr : &from[b % from.size()];
  }
  // The fds that are /dev/ion clients, or every fd when none is. Valid until the next call.
  const std::vector<Live>& ClientFds() {
    client_fds_.clear();
    for (const Live& f : fds_) {
      if (f.client >= 0) client_fds_.push_back(f);
    }
    return client_fds_.empty() ? fds_ : client_fds_;
  }
  void RetireProc(int proc) {
    procs_.erase(std::remove(procs_.begin(), procs_.end(), proc), procs_.end());
    auto owned = [proc](const Live& l) { return l.proc == proc; };
    fds_.erase(std::remove_if(fds_.begin(), fds_.end(), owned), fds_.end());
    maps_.erase(std::remove_if(maps_.begin(), maps_.end(), owned), maps_.end());
  }
  static void Retire(std::vector<Live>* list, const Live& l) {
    for (size_t i = 0; i < list->size(); ++i) {
      if ((*list)[i].ref == l.ref) {
        list->erase(list->begin() + static_cast<long>(i));
        return;
      }
    }
  }
  // The handle operand of free/share/map: symbol b, or a raw id.
  void PickHandle(const Live& client_fd, uint8_t choice, uint8_t index, trace::Op* op) {
    if (choice >= 0xf0) {
      op->raw_id = true;
      op->id = choice - 0xf0;
      return;
    }
    std::vector<int> own;
    for (const auto& [h, client] : handles_) {
      if ((choice & 0x80) || client == client_fd.client) own.push_back(h);
    }
    if (own.empty()) {
      op->raw_id = true;
      op->id = choice & 0xf;
      return;
    }
    op->b.sym = own[index % own.size()];
  }
  void SetHeapMask(uint8_t r, trace::Op* op) {
    const int m = r % 8;
    const std::vector<std::string>& heaps = Words().heaps;
    if (m < 5 && !heaps.empty()) {
      op->heap = HeapIndex(heaps[m % heaps.size()]);
    } else {
      op->mask = m == 5 ? 0 : m == 6 ? 0xffffffffu : 1u << (r >> 3);
    }
  }

  void DecodeOne(const uint8_t* r) {
    // Made in place; a record that finds nothing to act on takes its operation back.
    trace::Op& op = t_->ops.emplace_back();
    struct TakeBack {
      std::vector<trace::Op>* ops;
      bool keep = false;
      ~TakeBack() {
        if (!keep) ops->pop_back();
      }
    } take_back{&t_->ops};
    op.kind = kOpTable[r[0] % 32];
    if (op.kind == OpKind::kShrink && (r[1] & 1) == 0) op.kind = OpKind::kDebugfs;
    switch (op.kind) {
      case OpKind::kSpawn:
        op.text = kComms[r[1] % 4];
        op.bind = Bind(SymKind::kProcess, 'P');
        procs_.push_back(op.bind);
        break;
      case OpKind::kFork: {
        const int* parent = Pick(procs_, r[1]);
        if (!parent) return;
        op.a.sym = *parent;
        op.bind = Bind(SymKind::kProcess, 'P');
        procs_.push_back(op.bind);
        // The child's copies of the parent's fds and mappings: SYM@CHILD.
        for (std::vector<Live>* list : {&fds_, &maps_}) {
          const std::vector<Live> before = *list;
          for (const Live& l : before) {
            if (l.proc == op.a.sym) list->push_back(Live{SymRef{l.ref.sym, op.bind}, op.bind, l.client});
          }
        }
        break;
      }
      case OpKind::kExit: {
        const int* proc = Pick(procs_, r[1]);
        if (!proc) return;
        op.a.sym = *proc;
        RetireProc(*proc);
        break;
      }
      case OpKind::kOpen: {
        const int* proc = Pick(procs_, r[1]);
        if (!proc) return;
        op.a.sym = *proc;
        const int path = r[2] % 8;
        op.text = path < 6 ? "/dev/ion" : path == 6 ? "/sys/kernel/debug/ion/heaps/system" : "/dev/ionx";
        op.flags = r[3] % 3;  // O_RDONLY, O_WRONLY, O_RDWR
        const bool ion = path < 6;
        op.bind = Bind(SymKind::kFd, ion ? 'C' : 'D');
        fds_.push_back(Live{SymRef{op.bind, -1}, *proc, ion ? next_client_++ : -1});
        break;
      }
      case OpKind::kClose: {
        const Live* f = Pick(fds_, r[1]);
        if (!f) return;
        op.a = f->ref;
        Retire(&fds_, *f);
        break;
      }
      case OpKind::kDup:
      case OpKind::kPass: {
        const Live* f = Pick(fds_, r[1]);
        if (!f) return;
        const Live from = *f;
        op.a = from.ref;
        int owner = from.proc;
        if (op.kind == OpKind::kPass) {
          op.b.sym = *Pick(procs_, r[2]);
          owner = op.b.sym;
        }
        op.bind = Bind(SymKind::kFd, from.client >= 0 ? 'C' : 'F');
        fds_.push_back(Live{SymRef{op.bind, -1}, owner, from.client});
        break;
      }
      case OpKind::kAlloc:
      case OpKind::kNewAlloc: {
        const std::vector<Live>& clients = ClientFds();
        const Live* c = Pick(clients, r[1]);
        if (!c) return;
        const Live client = *c;
        op.a = client.ref;
        op.len = kLens[r[3] % 32];
        SetHeapMask(r[4], &op);
        if (op.kind == OpKind::kAlloc) op.align = kAligns[r[5] % 8];
        op.flags = kFlags[r[6] % 8];
        if (op.kind == OpKind::kAlloc) {
          op.bind = Bind(SymKind::kHandle, 'H');
          handles_.emplace_back(op.bind, client.client);
        } else {
          op.bind = Bind(SymKind::kFd, 'F');
          fds_.push_back(Live{SymRef{op.bind, -1}, client.proc, -1});
        }
        break;
      }
      case OpKind::kFree:
      case OpKind::kShare:
      case OpKind::kMap: {
        const std::vector<Live>& clients = ClientFds();
        const Live* c = Pick(clients, r[1]);
        if (!c) return;
        const Live client = *c;
        op.a = client.ref;
        PickHandle(client, r[2], r[3], &op);
        if (op.kind != OpKind::kFree) {
          op.bind = Bind(SymKind::kFd, 'F');
          fds_.push_back(Live{SymRef{op.bind, -1}, client.proc, -1});
        }
        break;
      }
      case OpKind::kImport:
      case OpKind::kSync: {
        const std::vector<Live>& clients = ClientFds();
        const Live* c = Pick(clients, r[1]);
        if (!c) return;
        const Live client = *c;
        op.a = client.ref;
        // The fd is a number in the client fd's process: byte 2 below 0xc0 picks among that process's fds that
        // are not /dev/ion clients (its dma-bufs), otherwise among every fd.
        std::vector<Live>& local = client_fds_;  // done with the client fds
        local.clear();
        if (r[2] < 0xc0) {
          for (const Live& f : fds_) {
            if (f.proc == client.proc && f.client < 0) local.push_back(f);
          }
        }
        const std::vector<Live>& targets = local.empty() ? fds_ : local;
        op.b = Pick(targets, r[2])->ref;
        if (op.kind == OpKind::kImport) {
          op.bind = Bind(SymKind::kHandle, 'H');
          handles_.emplace_back(op.bind, client.client);
        }
        break;
      }
      case OpKind::kCustom: {
        const std::vector<Live>& clients = ClientFds();
        const Live* c = Pick(clients, r[1]);
        if (!c) return;
        op.a = c->ref;
        op.mask = r[3] | static_cast<uint64_t>(r[4]) << 8;
        op.align = r[5];
        break;
      }
      case OpKind::kQuery: {
        const std::vector<Live>& clients = ClientFds();
        const Live* c = Pick(clients, r[1]);
        if (!c) return;
        op.a = c->ref;
        op.len = kQueryCnts[r[3] % 8];
        static constexpr trace::ArgMode kModes[3] = {trace::ArgMode::kNull, trace::ArgMode::kBad,
                                                      trace::ArgMode::kBuf};
        op.arg = kModes[r[4] % 3];
        op.align = (r[5] & 3) == 3 ? r[6] : 0;
        break;
      }
      case OpKind::kIoctl: {
        const Live* f = Pick(fds_, r[1]);
        if (!f) return;
        op.a = f->ref;
        unsigned int cmd = kIoctlCmds[r[3] % 16];
        if (r[3] % 16 == 15) cmd = Ioc(r[4] >> 6, r[4] & 1 ? 'I' : 'b', r[5] & 15, r[5] >> 4 << 2);
        op.mask = cmd;
        const uint64_t natural = (cmd >> 16) & 0x3fff;
        const uint64_t sizes[4] = {natural, natural, 0, 4u + (r[4] & 60u)};
        op.len = sizes[(r[4] >> 1) % 4];
        static constexpr trace::ArgMode kModes[4] = {trace::ArgMode::kNull, trace::ArgMode::kBad,
                                                      trace::ArgMode::kBuf, trace::ArgMode::kRo};
        op.arg = kModes[r[2] % 4];
        if (op.arg == trace::ArgMode::kBuf && op.len > 0) {
          // The first word from bytes 6 and 7 (a handle id, an fd, a flag), the rest zero.
          op.bytes.assign(static_cast<size_t>(op.len), 0);
          op.bytes[0] = r[6];
          if (op.len > 1) op.bytes[1] = r[7];
        }
        break;
      }
      case OpKind::kMmap: {
        const Live* f = Pick(fds_, r[1]);
        if (!f) return;
        const Live from = *f;
        op.a = from.ref;
        op.len = kMapLens[r[3] % 8];
        op.off = kMapOffs[r[4] % 8];
        op.prot = r[5] % 8 < 4 ? 3 : r[5] % 4;  // mostly rw; none, r, w
        // MAP_SHARED only: a MAP_PRIVATE mapping of a faulting (cached) buffer BUGs in vm_insert_pfn() at the
        // first access, as v4.4 does (fuzz/findings/cached-private-mmap-bug.trace).
        op.flags = 1;
        op.bind = Bind(SymKind::kMapping, 'M');
        maps_.push_back(Live{SymRef{op.bind, -1}, from.proc, -1});
        break;
      }
      case OpKind::kMunmap: {
        const Live* m = Pick(maps_, r[1]);
        if (!m) return;
        const Live map = *m;
        op.a = map.ref;
        op.off = (r[3] % 4) * 4096;
        const int l = r[4] % 4;
        op.has_len = l != 0;
        op.len = l == 0 ? 0 : l == 3 ? 1 : l * 4096u;
        if (op.off == 0 && !op.has_len) Retire(&maps_, map);
        break;
      }
      case OpKind::kStore:
      case OpKind::kLoad: {
        const Live* m = Pick(maps_, r[1]);
        if (!m) return;
        op.a = m->ref;
        op.off = (static_cast<uint64_t>(r[3]) << 8 | r[4]) % (kScratchBytes + 4096);
        if (r[3] < 0x80) op.off &= 0x1fff;  // mostly inside the first two pages
        op.len = 1 + static_cast<uint64_t>(r[5]) * 16;
        op.byte = r[6];
        break;
      }
      case OpKind::kDmabufSync: {
        const Live* f = Pick(fds_, r[1]);
        if (!f) return;
        op.a = f->ref;
        op.flags = (1 + r[4] % 3) | (r[3] % 2 ? trace::kDmaBufSyncEnd : 0);
        break;
      }
      case OpKind::kDrain:
        break;
      case OpKind::kShrink:
        if (Words().heaps.empty()) return;
        op.text = Words().heaps[r[3] % Words().heaps.size()];
        op.flags = r[4] % 4 == 0 ? 0 : r[5];
        break;
      case OpKind::kDebugfs:
        op.text = Words().debugfs[r[3] % Words().debugfs.size()];
        break;
      default:
        return;
    }
    op.line = static_cast<int>(t_->ops.size()) + 1;  // after the board line
    take_back.keep = true;
  }

 private:
  trace::Trace* t_;
  int counters_[128] = {};
  int next_client_ = 0;
  std::vector<int> procs_;
  std::vector<Live> fds_, maps_;
  std::vector<Live> client_fds_;  // scratch of ClientFds() and of import/sync's fd choice
  std::vector<std::pair<int, int>> handles_;  // (symbol, client number)
};

}  // namespace

trace::Trace DecodeProgram(const uint8_t* data, size_t size) {
  trace::Trace t;
  t.board = FuzzBoardName();
  t.ops.reserve(2 + std::min(size / kRecordBytes, kMaxOps));
  t.symbols.reserve(t.ops.capacity());  // at most one per operation
  Decoder d(&t);
  static constexpr uint8_t kPrelude[2][kRecordBytes] = {{0, 0, 0, 0, 0, 0, 0, 0}, {3, 0, 0, 2, 0, 0, 0, 0}};
  d.DecodeOne(kPrelude[0]);
  d.DecodeOne(kPrelude[1]);
  for (size_t i = 0; i + kRecordBytes <= size && i / kRecordBytes < kMaxOps; i += kRecordBytes) {
    d.DecodeOne(data + i);
  }
  return t;
}

}  // namespace ionsim::fuzz
