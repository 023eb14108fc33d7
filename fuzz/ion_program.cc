// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "fuzz/ion_program.h"

#include <string.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <map>

#include "kmod/uapi/ion.h"

namespace ionsim::fuzz {

// The chunk heap's chunk is one page: with a larger chunk, a buffer whose size is not a multiple of it makes
// ion_heap_map_kernel() (first kernel mapping, e.g. DMA_BUF_IOCTL_SYNC START) fill more page pointers than
// PAGE_ALIGN(size) / PAGE_SIZE, the v4.4 overflow of its pages array that the model stops with a BUG
// (fuzz/findings/chunk-map-kernel-overflow.trace); every input would soon end there.
const char kFuzzBoard[] =
    "board fuzz\n"
    "ram size=32M lowmem=24M base=0x80000000\n"
    "heap system id=0 name=system\n"
    "heap system_contig id=1 name=system_contig\n"
    "heap carveout id=2 name=carveout size=1M\n"
    "heap chunk id=3 name=chunk size=1M chunk=4K\n"
    "heap dma id=4 name=dma size=4M align=4M\n";

namespace {

constexpr unsigned int kDmaBufIoctlSync = 0x40086200;  // _IOW('b', 0, struct dma_buf_sync)
constexpr uint64_t kScratchBytes = 1 << 16;
constexpr uint64_t kBadPointer = 0x1000;  // the first page above NULL: never mapped
constexpr uint64_t kHeapsOffset = 256;    // query: where heaps=buf points, inside the scratch memory

// The operation of each value of byte 0 (mod 32). Allocation, sharing and mapping come up more often.
constexpr OpKind kOpTable[32] = {
    OpKind::kSpawn,  OpKind::kFork,   OpKind::kExit,     OpKind::kOpen,     OpKind::kOpen,   OpKind::kClose,
    OpKind::kDup,    OpKind::kPass,   OpKind::kAlloc,    OpKind::kAlloc,    OpKind::kAlloc,  OpKind::kFree,
    OpKind::kFree,   OpKind::kShare,  OpKind::kShare,    OpKind::kMap,      OpKind::kImport, OpKind::kSync,
    OpKind::kCustom, OpKind::kNewAlloc, OpKind::kNewAlloc, OpKind::kQuery, OpKind::kIoctl,  OpKind::kIoctl,
    OpKind::kMmap,   OpKind::kMmap,   OpKind::kMunmap,   OpKind::kStore,    OpKind::kLoad,   OpKind::kDmabufSync,
    OpKind::kDrain,  OpKind::kShrink,  // kShrink: byte 1 bit 0 clear turns it into kDebugfs
};

constexpr const char* kComms[4] = {"app", "camera", "surfaceflinger", "mediaserver"};
constexpr const char* kHeapNames[5] = {"system", "system_contig", "carveout", "chunk", "dma"};
constexpr const char* kDebugfsPaths[8] = {"ion/heaps/system", "ion/heaps/system_contig", "ion/heaps/carveout",
                                          "ion/heaps/chunk",  "ion/heaps/dma",           "ion/heaps/system_shrink",
                                          "ion/state",        "ion/heaps/none"};
constexpr uint64_t kLens[32] = {
    0,        1,         100,       4095,      4096,      4097,         8192,        12288,
    16384,    16385,     32768,     65536,     65537,     131072,       262144,      1 << 20,
    (1 << 20) + 4096,    2 << 20,   4 << 20,   8 << 20,   16 << 20,     4096,        8192,
    4096,     0x80000000ULL, 0xfffff000ULL, ~0ULL - 4095, ~0ULL,      24576,       49152,
    3 << 20,  40960};
constexpr uint64_t kAligns[8] = {0, 4096, 16384, 65536, 1 << 20, 2 << 20, 3, 8 << 20};
constexpr uint64_t kFlags[8] = {0, 1, 2, 3, 0x10000, 0x80000000, 1, 0};
constexpr uint64_t kMapLens[8] = {4096, 8192, 12288, 16384, 65536, 1 << 20, 0, 4097};
constexpr uint64_t kMapOffs[8] = {0, 0, 0, 4096, 8192, 65536, 1 << 20, 1};
constexpr uint64_t kQueryCnts[8] = {0, 1, 2, 5, 6, 16, 0x7fffffff, 0xffffffff};

constexpr unsigned int Ioc(unsigned int dir, unsigned int type, unsigned int nr, unsigned int size) {
  return dir << 30 | size << 16 | type << 8 | nr;
}
constexpr unsigned int kIoctlCmds[16] = {
    ION_IOC_ALLOC,  ION_IOC_FREE,      ION_IOC_MAP,         ION_IOC_SHARE,    ION_IOC_IMPORT,  ION_IOC_SYNC,
    ION_IOC_CUSTOM, ION_IOC_HEAP_QUERY, ION_IOC_NEW_ALLOC, kDmaBufIoctlSync,
    Ioc(3, 'I', 0, 16),  // ALLOC with a size field no ABI has
    Ioc(0, 'I', 1, 0),   // FREE without direction or size
    Ioc(3, 'I', 9, 8),   // a command number ION does not know
    0x5451,              // FIOCLEX, answered by the VFS
    Ioc(1, 'b', 0, 4),   // DMA_BUF_IOCTL_SYNC with a 4-byte argument
    0,                   // raw: bytes 4 and 5 of the record
};

class Decoder {
 public:
  explicit Decoder(Program* p) : p_(p) {}

  int Bind(SymKind kind, const std::string& prefix, int owner, int client) {
    int& counter = counters_[prefix[0] & 0x7f];
    Symbol s;
    s.name = prefix + std::to_string(++counter);
    s.kind = kind;
    s.owner = owner;
    s.client = client;
    p_->symbols.push_back(s);
    const int id = static_cast<int>(p_->symbols.size()) - 1;
    if (kind == SymKind::kProc) procs_.push_back(id);
    if (kind == SymKind::kFd) fds_.push_back(id);
    if (kind == SymKind::kHandle) handles_.push_back(id);
    if (kind == SymKind::kMapping) maps_.push_back(id);
    return id;
  }
  // A copy of an fd or mapping in a forked child: "<base>@<child>".
  int BindCopy(int original, int child) {
    const Symbol o = p_->symbols[original];  // a copy: push_back below may move the vector
    Symbol s;
    s.name = o.name.substr(0, o.name.find('@')) + "@" + p_->symbols[child].name;
    s.kind = o.kind;
    s.owner = child;
    s.client = o.client;
    p_->symbols.push_back(s);
    const int id = static_cast<int>(p_->symbols.size()) - 1;
    (o.kind == SymKind::kFd ? fds_ : maps_).push_back(id);
    return id;
  }
  void Retire(std::vector<int>* list, int sym) {
    for (size_t i = 0; i < list->size(); i++) {
      if ((*list)[i] == sym) {
        list->erase(list->begin() + static_cast<long>(i));
        return;
      }
    }
  }
  void RetireProc(int proc) {
    Retire(&procs_, proc);
    auto owned = [&](int s) { return p_->symbols[s].owner == proc; };
    std::erase_if(fds_, owned);
    std::erase_if(maps_, owned);
  }
  static int Pick(const std::vector<int>& from, uint8_t b) {
    return from.empty() ? -1 : from[b % from.size()];
  }
  std::vector<int> ClientFds() const {
    std::vector<int> out;
    for (int f : fds_) {
      if (p_->symbols[f].client >= 0) out.push_back(f);
    }
    return out.empty() ? fds_ : out;
  }
  // The handle operand: a symbol, or -1 with a raw id in *raw.
  int PickHandle(int client_fd, uint8_t choice, uint8_t index, uint64_t* raw) {
    if (choice >= 0xf0) {
      *raw = choice - 0xf0u;
      return -1;
    }
    std::vector<int> own;
    const int client = p_->symbols[client_fd].client;
    for (int h : handles_) {
      if ((choice & 0x80) || p_->symbols[h].owner == client) own.push_back(h);
    }
    if (own.empty()) {
      *raw = choice & 0xf;
      return -1;
    }
    return own[index % own.size()];
  }

  bool DecodeOne(const uint8_t* r) {
    Op op;
    op.kind = kOpTable[r[0] % 32];
    if (op.kind == OpKind::kShrink && (r[1] & 1) == 0) op.kind = OpKind::kDebugfs;
    switch (op.kind) {
      case OpKind::kSpawn:
        op.text = kComms[r[1] % 4];
        op.dst = Bind(SymKind::kProc, "P", -1, -1);
        break;
      case OpKind::kFork: {
        op.x = Pick(procs_, r[1]);
        if (op.x < 0) return false;
        op.dst = Bind(SymKind::kProc, "P", -1, -1);
        const std::vector<int> fds = fds_, maps = maps_;
        for (int f : fds) {
          if (p_->symbols[f].owner == op.x) op.copies.emplace_back(BindCopy(f, op.dst), f);
        }
        for (int m : maps) {
          if (p_->symbols[m].owner == op.x) op.copies.emplace_back(BindCopy(m, op.dst), m);
        }
        break;
      }
      case OpKind::kExit:
        op.x = Pick(procs_, r[1]);
        if (op.x < 0) return false;
        RetireProc(op.x);
        break;
      case OpKind::kOpen: {
        op.x = Pick(procs_, r[1]);
        if (op.x < 0) return false;
        const int path = r[2] % 8;
        op.text = path < 6 ? "/dev/ion" : path == 6 ? "/sys/kernel/debug/ion/heaps/system" : "/dev/ionx";
        op.n[0] = r[3] % 3;  // 0 rdonly, 1 wronly, 2 rdwr (the O_ACCMODE values)
        const bool ion = path < 6;
        op.dst = Bind(SymKind::kFd, ion ? "C" : "D", op.x, ion ? next_client_++ : -1);
        break;
      }
      case OpKind::kClose:
        op.x = Pick(fds_, r[1]);
        if (op.x < 0) return false;
        Retire(&fds_, op.x);
        break;
      case OpKind::kDup:
      case OpKind::kPass: {
        op.x = Pick(fds_, r[1]);
        if (op.x < 0) return false;
        int owner = p_->symbols[op.x].owner;
        if (op.kind == OpKind::kPass) {
          op.y = Pick(procs_, r[2]);
          owner = op.y;
        }
        const int client = p_->symbols[op.x].client;
        op.dst = Bind(SymKind::kFd, client >= 0 ? "C" : "F", owner, client);
        break;
      }
      case OpKind::kAlloc:
      case OpKind::kNewAlloc: {
        op.x = Pick(ClientFds(), r[1]);
        if (op.x < 0) return false;
        op.n[0] = kLens[r[3] % 32];
        const int m = r[4] % 8;
        op.n[1] = m < 5 ? 1u << m : m == 5 ? 0 : m == 6 ? 0xffffffffu : 1u << (r[4] >> 3);
        op.n[2] = op.kind == OpKind::kAlloc ? kAligns[r[5] % 8] : 0;
        op.n[3] = kFlags[r[6] % 8];
        if (op.kind == OpKind::kAlloc) {
          op.dst = Bind(SymKind::kHandle, "H", p_->symbols[op.x].client, -1);
        } else {
          op.dst = Bind(SymKind::kFd, "F", p_->symbols[op.x].owner, -1);
        }
        break;
      }
      case OpKind::kFree:
      case OpKind::kShare:
      case OpKind::kMap:
        op.x = Pick(ClientFds(), r[1]);
        if (op.x < 0) return false;
        op.y = PickHandle(op.x, r[2], r[3], &op.n[0]);
        if (op.kind != OpKind::kFree) op.dst = Bind(SymKind::kFd, "F", p_->symbols[op.x].owner, -1);
        break;
      case OpKind::kImport:
      case OpKind::kSync: {
        op.x = Pick(ClientFds(), r[1]);
        if (op.x < 0) return false;
        // The fd is a number in the client fd's process: byte 2 below 0xc0 picks among that process's fds that
        // are not /dev/ion clients (its dma-bufs), otherwise among every fd.
        std::vector<int> local;
        if (r[2] < 0xc0) {
          for (int f : fds_) {
            if (p_->symbols[f].owner == p_->symbols[op.x].owner && p_->symbols[f].client < 0) local.push_back(f);
          }
        }
        op.y = Pick(local.empty() ? fds_ : local, r[2]);
        if (op.y < 0) return false;
        if (op.kind == OpKind::kImport) op.dst = Bind(SymKind::kHandle, "H", p_->symbols[op.x].client, -1);
        break;
      }
      case OpKind::kCustom:
        op.x = Pick(ClientFds(), r[1]);
        if (op.x < 0) return false;
        op.n[0] = r[3] | static_cast<uint64_t>(r[4]) << 8;
        op.n[1] = r[5];
        break;
      case OpKind::kQuery:
        op.x = Pick(ClientFds(), r[1]);
        if (op.x < 0) return false;
        op.n[0] = kQueryCnts[r[3] % 8];
        op.n[1] = r[4] % 3;  // heaps: 0 null, 1 bad, 2 buf
        op.n[2] = (r[5] & 3) == 3 ? r[6] : 0;
        break;
      case OpKind::kIoctl: {
        op.x = Pick(fds_, r[1]);
        if (op.x < 0) return false;
        unsigned int cmd = kIoctlCmds[r[3] % 16];
        if (r[3] % 16 == 15) cmd = Ioc(r[4] >> 6, r[4] & 1 ? 'I' : 'b', r[5] & 15, r[5] >> 4 << 2);
        op.n[0] = cmd;
        const uint64_t natural = (cmd >> 16) & 0x3fff;
        const uint64_t sizes[4] = {natural, natural, 0, 4u + (r[4] & 60u)};
        op.n[1] = sizes[(r[4] >> 1) % 4];
        op.n[2] = r[2] % 4 == 0 ? 0 : r[2] % 4 == 1 ? 1 : 2;  // arg: null, bad, bytes
        if (op.n[2] == 2) {
          op.text.assign(static_cast<size_t>(op.n[1]), '\0');
          // The first word from bytes 6 and 7 (a handle id, an fd, a flag), the rest zero.
          if (op.n[1] > 0) op.text[0] = static_cast<char>(r[6]);
          if (op.n[1] > 1) op.text[1] = static_cast<char>(r[7]);
        }
        break;
      }
      case OpKind::kMmap:
        op.x = Pick(fds_, r[1]);
        if (op.x < 0) return false;
        op.n[0] = kMapLens[r[3] % 8];
        op.n[1] = kMapOffs[r[4] % 8];
        op.n[2] = r[5] % 4;  // prot: 0 none, 1 r, 2 w, 3 rw
        if (r[5] % 8 < 4) op.n[2] = 3;
        // MAP_SHARED only: a MAP_PRIVATE mapping of a faulting (cached) buffer BUGs in vm_insert_pfn() at the
        // first access, as v4.4 does (fuzz/findings/cached-private-mmap-bug.trace).
        op.n[3] = 1;
        op.dst = Bind(SymKind::kMapping, "M", p_->symbols[op.x].owner, -1);
        break;
      case OpKind::kMunmap:
        op.x = Pick(maps_, r[1]);
        if (op.x < 0) return false;
        op.n[0] = (r[3] % 4) * 4096;
        op.n[1] = r[4] % 4 == 0 ? 0 : r[4] % 4 == 3 ? 1 : (r[4] % 4) * 4096;
        if (op.n[0] == 0 && op.n[1] == 0) Retire(&maps_, op.x);
        break;
      case OpKind::kStore:
      case OpKind::kLoad:
        op.x = Pick(maps_, r[1]);
        if (op.x < 0) return false;
        op.n[0] = (static_cast<uint64_t>(r[3]) << 8 | r[4]) % (kScratchBytes + 4096);
        if (r[3] < 0x80) op.n[0] &= 0x1fff;  // mostly inside the first two pages
        op.n[1] = 1 + static_cast<uint64_t>(r[5]) * 16;
        op.n[2] = r[6];
        break;
      case OpKind::kDmabufSync:
        op.x = Pick(fds_, r[1]);
        if (op.x < 0) return false;
        op.n[0] = r[3] % 2;      // 0 start, 1 end
        op.n[1] = 1 + r[4] % 3;  // 1 read, 2 write, 3 rw
        break;
      case OpKind::kDrain:
        break;
      case OpKind::kShrink:
        op.n[0] = r[3] % 5;
        op.n[1] = r[4] % 4 == 0 ? 0 : r[5];
        break;
      case OpKind::kDebugfs:
        op.text = kDebugfsPaths[r[3] % 8];
        break;
    }
    p_->ops.push_back(std::move(op));
    return true;
  }

 private:
  Program* p_;
  int counters_[128] = {};
  int next_client_ = 0;
  std::vector<int> procs_, fds_, handles_, maps_;
};

std::string Hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
  return buf;
}

std::string HexBytes(const std::string& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

uint32_t Crc32(const uint8_t* p, size_t n) {
  uint32_t crc = 0xffffffffu;
  for (size_t i = 0; i < n; i++) {
    crc ^= p[i];
    for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
  }
  return ~crc;
}

}  // namespace

Program DecodeProgram(const uint8_t* data, size_t size) {
  Program p;
  Decoder d(&p);
  static constexpr uint8_t kPrelude[2][kRecordBytes] = {{0, 0, 0, 0, 0, 0, 0, 0}, {3, 0, 0, 2, 0, 0, 0, 0}};
  d.DecodeOne(kPrelude[0]);
  d.DecodeOne(kPrelude[1]);
  for (size_t i = 0; i + kRecordBytes <= size && i / kRecordBytes < kMaxOps; i += kRecordBytes) {
    d.DecodeOne(data + i);
  }
  return p;
}

std::string OpText(const Program& p, const Op& op) {
  auto name = [&p](int s) { return p.symbols[s].name; };
  auto handle = [&](const Op& o) { return o.y >= 0 ? name(o.y) : "id=" + std::to_string(o.n[0]); };
  auto mask = [](uint64_t m) { return "mask=" + Hex(m); };
  static constexpr const char* kProt[4] = {"none", "r", "w", "rw"};
  static constexpr const char* kAccess[3] = {"rdonly", "wronly", "rdwr"};
  static constexpr const char* kSyncRw[4] = {"", "read", "write", "rw"};
  switch (op.kind) {
    case OpKind::kSpawn: return name(op.dst) + " = spawn " + op.text;
    case OpKind::kFork: return name(op.dst) + " = fork " + name(op.x);
    case OpKind::kExit: return "exit " + name(op.x);
    case OpKind::kOpen:
      return name(op.dst) + " = open " + name(op.x) + " path=" + op.text + " flags=" + kAccess[op.n[0]];
    case OpKind::kClose: return "close " + name(op.x);
    case OpKind::kDup: return name(op.dst) + " = dup " + name(op.x);
    case OpKind::kPass: return name(op.dst) + " = pass " + name(op.x) + " " + name(op.y);
    case OpKind::kAlloc:
      return name(op.dst) + " = alloc " + name(op.x) + " len=" + std::to_string(op.n[0]) + " " + mask(op.n[1]) +
             " align=" + std::to_string(op.n[2]) + " flags=" + Hex(op.n[3]);
    case OpKind::kFree: return "free " + name(op.x) + " " + handle(op);
    case OpKind::kShare: return name(op.dst) + " = share " + name(op.x) + " " + handle(op);
    case OpKind::kMap: return name(op.dst) + " = map " + name(op.x) + " " + handle(op);
    case OpKind::kImport: return name(op.dst) + " = import " + name(op.x) + " " + name(op.y);
    case OpKind::kSync: return "sync " + name(op.x) + " " + name(op.y);
    case OpKind::kCustom:
      return "custom " + name(op.x) + " cmd=" + std::to_string(op.n[0]) + " arg=" + std::to_string(op.n[1]);
    case OpKind::kNewAlloc:
      return name(op.dst) + " = new_alloc " + name(op.x) + " len=" + std::to_string(op.n[0]) + " " + mask(op.n[1]) +
             " flags=" + Hex(op.n[3]);
    case OpKind::kQuery: {
      static constexpr const char* kHeaps[3] = {"null", "bad", "buf"};
      return "query " + name(op.x) + " cnt=" + std::to_string(op.n[0]) + " heaps=" + kHeaps[op.n[1]] +
             " reserved=" + std::to_string(op.n[2]);
    }
    case OpKind::kIoctl: {
      std::string arg = op.n[2] == 0 ? "null" : op.n[2] == 1 ? "bad" : "hex:" + HexBytes(op.text);
      return "ioctl " + name(op.x) + " cmd=" + Hex(op.n[0]) + " size=" + std::to_string(op.n[1]) + " arg=" + arg;
    }
    case OpKind::kMmap:
      return name(op.dst) + " = mmap " + name(op.x) + " len=" + std::to_string(op.n[0]) +
             " off=" + std::to_string(op.n[1]) + " prot=" + kProt[op.n[2]] +
             " flags=" + (op.n[3] == 1 ? "shared" : "private");
    case OpKind::kMunmap:
      if (op.n[0] == 0 && op.n[1] == 0) return "munmap " + name(op.x);
      return "munmap " + name(op.x) + " off=" + std::to_string(op.n[0]) + " len=" + std::to_string(op.n[1]);
    case OpKind::kStore:
      return "store " + name(op.x) + " off=" + std::to_string(op.n[0]) + " len=" + std::to_string(op.n[1]) +
             " byte=" + std::to_string(op.n[2]);
    case OpKind::kLoad:
      return "load " + name(op.x) + " off=" + std::to_string(op.n[0]) + " len=" + std::to_string(op.n[1]);
    case OpKind::kDmabufSync:
      return "dmabuf_sync " + name(op.x) + (op.n[0] ? " end " : " start ") + kSyncRw[op.n[1]];
    case OpKind::kDrain: return "drain";
    case OpKind::kShrink: return std::string("shrink ") + kHeapNames[op.n[0]] + " n=" + std::to_string(op.n[1]);
    case OpKind::kDebugfs: return "debugfs " + op.text;
  }
  return "";
}

std::string ProgramTrace(const Program& p) {
  std::string out =
      "# ionsim fuzz program (fuzz/ion_program.h) on the fuzz board: 32 MiB of RAM; heaps system 0,\n"
      "# system_contig 1, carveout 2 (1 MiB), chunk 3 (1 MiB, 4 KiB chunks), dma 4 (4 MiB CMA area)\n"
      "board fuzz/fuzz.board\n";
  for (const Op& op : p.ops) out += OpText(p, op) + "\n";
  return out;
}

namespace {

class Runner {
 public:
  Runner(const Program& p, IonBackend* b) : p_(p), b_(b), val_(p.symbols.size(), -1), len_(p.symbols.size(), 0) {}

  int64_t V(int sym) const { return sym < 0 ? -1 : val_[static_cast<size_t>(sym)]; }
  ProcId Owner(int sym) const { return static_cast<ProcId>(V(p_.symbols[static_cast<size_t>(sym)].owner)); }

  // The process's scratch memory (64 KiB, mapped on first use), or 0.
  uint64_t Scratch(int proc_sym) {
    auto it = scratch_.find(proc_sym);
    if (it != scratch_.end()) return it->second;
    ErrnoOr<uint64_t> a = b_->mmap(static_cast<ProcId>(V(proc_sym)), 0, kScratchBytes, 3, 0x22, -1, 0);
    const uint64_t addr = a.ok() ? a.value() : 0;
    scratch_[proc_sym] = addr;
    return addr;
  }

  // An ioctl whose argument is `size` bytes at arg, marshalled through the process's scratch memory.
  ErrnoOr<long> Call(int fd_sym, unsigned int cmd, void* arg, size_t size) {
    const int proc = p_.symbols[static_cast<size_t>(fd_sym)].owner;
    const uint64_t user = Scratch(proc);
    if (user == 0) return Errno(-ENOMEM);
    const ProcId pid = static_cast<ProcId>(V(proc));
    if (size > 0 && !b_->poke(pid, user, arg, size).ok()) return Errno(-EFAULT);
    ErrnoOr<long> ret = b_->ioctl(pid, static_cast<int>(V(fd_sym)), cmd, user);
    if (size > 0 && !b_->peek(pid, user, arg, size).ok()) return Errno(-EFAULT);
    return ret;
  }

  static std::string Res(Errno e) { return e.ok() ? "ok" : e.name(); }
  template <typename T>
  static std::string Res(const ErrnoOr<T>& e) {
    return e.ok() ? "ok" : e.error().name();
  }

  std::string RunOne(const Op& op, bool render) {
    switch (op.kind) {
      case OpKind::kSpawn: {
        ErrnoOr<ProcId> pid = b_->spawn(op.text);
        val_[op.dst] = pid.ok() ? pid.value() : -1;
        return Res(pid);
      }
      case OpKind::kFork: {
        ErrnoOr<ProcId> pid = b_->fork(static_cast<ProcId>(V(op.x)));
        val_[op.dst] = pid.ok() ? pid.value() : -1;
        if (pid.ok()) {
          auto it = scratch_.find(op.x);
          if (it != scratch_.end()) scratch_[op.dst] = it->second;
        }
        for (const auto& [copy, original] : op.copies) {
          val_[copy] = pid.ok() ? val_[original] : (p_.symbols[copy].kind == SymKind::kFd ? -1 : 0);
          len_[copy] = len_[original];
        }
        return Res(pid);
      }
      case OpKind::kExit: return Res(b_->exit(static_cast<ProcId>(V(op.x))));
      case OpKind::kOpen: {
        static constexpr unsigned int kAccess[3] = {0, 1, 2};
        ErrnoOr<int> fd = b_->open(static_cast<ProcId>(V(op.x)), op.text, kAccess[op.n[0]]);
        val_[op.dst] = fd.ok() ? fd.value() : -1;
        return Res(fd);
      }
      case OpKind::kClose: return Res(b_->close(Owner(op.x), static_cast<int>(V(op.x))));
      case OpKind::kDup: {
        ErrnoOr<int> fd = b_->dup(Owner(op.x), static_cast<int>(V(op.x)));
        val_[op.dst] = fd.ok() ? fd.value() : -1;
        return Res(fd);
      }
      case OpKind::kPass: {
        ErrnoOr<int> fd = b_->pass_fd(Owner(op.x), static_cast<int>(V(op.x)), static_cast<ProcId>(V(op.y)));
        val_[op.dst] = fd.ok() ? fd.value() : -1;
        return Res(fd);
      }
      case OpKind::kAlloc: {
        ion_allocation_data d;
        std::memset(&d, 0, sizeof(d));
        d.len = op.n[0];
        d.align = op.n[2];
        d.heap_id_mask = static_cast<unsigned int>(op.n[1]);
        d.flags = static_cast<unsigned int>(op.n[3]);
        ErrnoOr<long> r = Call(op.x, ION_IOC_ALLOC, &d, sizeof(d));
        val_[op.dst] = r.ok() ? d.handle : 0;
        return r.ok() ? "ok id=" + std::to_string(d.handle) : Res(r);
      }
      case OpKind::kFree: {
        ion_handle_data d = {HandleId(op)};
        return Res(Call(op.x, ION_IOC_FREE, &d, sizeof(d)));
      }
      case OpKind::kShare:
      case OpKind::kMap: {
        ion_fd_data d = {HandleId(op), 0};
        ErrnoOr<long> r = Call(op.x, op.kind == OpKind::kShare ? ION_IOC_SHARE : ION_IOC_MAP, &d, sizeof(d));
        val_[op.dst] = r.ok() ? d.fd : -1;
        return Res(r);
      }
      case OpKind::kImport:
      case OpKind::kSync: {
        // The fd number of y, passed to x's process as a number: meaningful when both are in one process.
        ion_fd_data d = {0, static_cast<int>(V(op.y))};
        ErrnoOr<long> r = Call(op.x, op.kind == OpKind::kImport ? ION_IOC_IMPORT : ION_IOC_SYNC, &d, sizeof(d));
        if (op.kind == OpKind::kSync) return Res(r);
        val_[op.dst] = r.ok() ? d.handle : 0;
        return r.ok() ? "ok id=" + std::to_string(d.handle) : Res(r);
      }
      case OpKind::kCustom: {
        ion_custom_data d;
        std::memset(&d, 0, sizeof(d));
        d.cmd = static_cast<unsigned int>(op.n[0]);
        d.arg = op.n[1];
        return Res(Call(op.x, ION_IOC_CUSTOM, &d, sizeof(d)));
      }
      case OpKind::kNewAlloc: {
        ion_new_allocation_data d;
        std::memset(&d, 0, sizeof(d));
        d.len = op.n[0];
        d.heap_id_mask = static_cast<__u32>(op.n[1]);
        d.flags = static_cast<__u32>(op.n[3]);
        ErrnoOr<long> r = Call(op.x, ION_IOC_NEW_ALLOC, &d, sizeof(d));
        val_[op.dst] = r.ok() ? static_cast<int>(d.fd) : -1;
        return Res(r);
      }
      case OpKind::kQuery: return Query(op, render);
      case OpKind::kIoctl: return RawIoctl(op, render);
      case OpKind::kMmap: {
        ErrnoOr<uint64_t> a = b_->mmap(Owner(op.x), 0, op.n[0], static_cast<int>(op.n[2]),
                                       static_cast<int>(op.n[3]), static_cast<int>(V(op.x)), op.n[1]);
        val_[op.dst] = a.ok() ? static_cast<int64_t>(a.value()) : 0;
        len_[op.dst] = op.n[0];
        return Res(a);
      }
      case OpKind::kMunmap: {
        const uint64_t len = op.n[0] == 0 && op.n[1] == 0 ? len_[op.x] : op.n[1];
        return Res(b_->munmap(Owner(op.x), static_cast<uint64_t>(V(op.x)) + op.n[0], len));
      }
      case OpKind::kStore: {
        buf_.assign(op.n[1], static_cast<uint8_t>(op.n[2]));
        return Res(b_->poke(Owner(op.x), static_cast<uint64_t>(V(op.x)) + op.n[0], buf_.data(), buf_.size()));
      }
      case OpKind::kLoad: {
        buf_.assign(op.n[1], 0);
        Errno e = b_->peek(Owner(op.x), static_cast<uint64_t>(V(op.x)) + op.n[0], buf_.data(), buf_.size());
        if (!e.ok()) return e.name();
        return render ? "ok crc=" + Hex(Crc32(buf_.data(), buf_.size())) : "ok";
      }
      case OpKind::kDmabufSync: {
        uint64_t flags = op.n[1] | (op.n[0] ? 4 : 0);
        return Res(Call(op.x, kDmaBufIoctlSync, &flags, sizeof(flags)));
      }
      case OpKind::kDrain: return Res(b_->run_deferred_free());
      case OpKind::kShrink: {
        const std::string path = std::string("ion/heaps/") + kHeapNames[op.n[0]] + "_shrink";
        ErrnoOr<std::string> before = b_->debugfs_read(path);
        if (!before.ok()) return before.error().name();
        Errno e = b_->debugfs_write(path, std::to_string(op.n[1]) + "\n");
        if (!e.ok()) return e.name();
        std::string count = before.value();
        while (!count.empty() && count.back() == '\n') count.pop_back();
        return "ok count=" + count;
      }
      case OpKind::kDebugfs: {
        ErrnoOr<std::string> text = b_->debugfs_read(op.text);
        if (!text.ok()) return text.error().name();
        if (!render) return "ok";
        std::string out = "ok";
        size_t start = 0;
        const std::string& s = text.value();
        while (start < s.size()) {
          size_t end = s.find('\n', start);
          if (end == std::string::npos) end = s.size();
          out += "\n  " + s.substr(start, end - start);
          start = end + 1;
        }
        return out;
      }
    }
    return "";
  }

  int HandleId(const Op& op) const { return op.y >= 0 ? static_cast<int>(V(op.y)) : static_cast<int>(op.n[0]); }

  std::string Query(const Op& op, bool render) {
    const int proc = p_.symbols[static_cast<size_t>(op.x)].owner;
    const uint64_t user = Scratch(proc);
    if (user == 0) return "ENOMEM";
    ion_heap_query q;
    std::memset(&q, 0, sizeof(q));
    q.cnt = static_cast<__u32>(op.n[0]);
    q.heaps = op.n[1] == 0 ? 0 : op.n[1] == 1 ? kBadPointer : user + kHeapsOffset;
    q.reserved0 = static_cast<__u32>(op.n[2]);
    ErrnoOr<long> r = Call(op.x, ION_IOC_HEAP_QUERY, &q, sizeof(q));
    if (!r.ok()) return r.error().name();
    std::string out = "ok cnt=" + std::to_string(q.cnt);
    if (render && op.n[1] == 2) {
      const size_t n = std::min<size_t>(q.cnt, 16);
      std::vector<ion_heap_data> heaps(n);
      if (n > 0 && b_->peek(static_cast<ProcId>(V(proc)), user + kHeapsOffset, heaps.data(),
                            n * sizeof(ion_heap_data)).ok()) {
        for (const ion_heap_data& h : heaps) {
          out += " " + std::string(h.name, strnlen(h.name, MAX_HEAP_NAME)) + ":" + std::to_string(h.type) + ":" +
                 std::to_string(h.heap_id);
        }
      }
    }
    return out;
  }

  std::string RawIoctl(const Op& op, bool render) {
    const int proc = p_.symbols[static_cast<size_t>(op.x)].owner;
    const ProcId pid = static_cast<ProcId>(V(proc));
    uint64_t arg = op.n[2] == 0 ? 0 : kBadPointer;
    if (op.n[2] == 2) {
      arg = Scratch(proc);
      if (arg == 0) return "ENOMEM";
      if (!op.text.empty() && !b_->poke(pid, arg, op.text.data(), op.text.size()).ok()) return "EFAULT";
    }
    ErrnoOr<long> r = b_->ioctl(pid, static_cast<int>(V(op.x)), static_cast<unsigned int>(op.n[0]), arg);
    if (!r.ok()) return r.error().name();
    std::string out = "ok ret=" + std::to_string(r.value());
    if (render && op.n[2] == 2) {
      std::string bytes(op.text.size(), '\0');
      if (!bytes.empty() && b_->peek(pid, arg, bytes.data(), bytes.size()).ok()) out += " out=hex:" + HexBytes(bytes);
    }
    return out;
  }

 private:
  const Program& p_;
  IonBackend* b_;
  std::vector<int64_t> val_;
  std::vector<uint64_t> len_;
  std::map<int, uint64_t> scratch_;
  std::vector<uint8_t> buf_;
};

}  // namespace

std::vector<std::string> RunProgram(const Program& program, IonBackend* backend, const CheckHook& hook,
                                    bool render) {
  Runner runner(program, backend);
  std::vector<std::string> results;
  if (render) results.reserve(program.ops.size());
  for (size_t i = 0; i < program.ops.size(); i++) {
    std::string r = runner.RunOne(program.ops[i], render);
    if (hook) hook(i, program.ops[i], r);
    if (render) results.push_back(std::move(r));
  }
  return results;
}

}  // namespace ionsim::fuzz
