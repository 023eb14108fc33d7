// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "tools/trace/generator.h"

#include <algorithm>
#include <utility>

namespace ionsim::trace {
namespace {

// splitmix64: small, fast and specified bit for bit.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t Next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) (n > 0; the modulo bias is irrelevant here).
  size_t Below(size_t n) { return static_cast<size_t>(Next() % n); }
  bool Chance(int percent) { return Below(100) < static_cast<size_t>(percent); }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[Below(v.size())];
  }

 private:
  uint64_t s_;
};

struct FdEntry {
  SymRef ref;
  uint64_t len = 0;  // a dma-buf's buffer length, 0 for /dev/ion
  bool client = false;
  int32_t client_file = -1;  // /dev/ion: the symbol of the open that made the file
};

struct MapEntry {
  SymRef ref;
  uint64_t len = 0;
};

struct Proc {
  int32_t sym = -1;
  std::vector<FdEntry> fds;
  std::vector<MapEntry> maps;
};

struct HandleEntry {
  int32_t sym = -1;
  int32_t client_file = -1;
  uint64_t len = 0;
};

class Gen {
 public:
  Gen(uint64_t seed, const GeneratorOptions& options) : rng_(seed), options_(options) {}

  Trace Run(int ops) {
    Spawn();
    while (static_cast<int>(t_.ops.size()) < ops) Step();
    if (options_.final_state) Emit(OpKind::kState);
    int line = 0;
    for (Op& op : t_.ops) op.line = ++line;
    return std::move(t_);
  }

 private:
  int32_t NewSym(SymKind kind, char prefix) {
    Symbol s;
    s.kind = kind;
    s.name = std::string(1, prefix) + std::to_string(++counter_[static_cast<int>(kind)]);
    t_.symbols.push_back(s);
    return static_cast<int32_t>(t_.symbols.size() - 1);
  }

  Op& Emit(OpKind kind) {
    t_.ops.emplace_back();
    t_.ops.back().kind = kind;
    return t_.ops.back();
  }

  int32_t Heap(const std::string& name) {
    for (size_t i = 0; i < t_.heap_names.size(); ++i) {
      if (t_.heap_names[i] == name) return static_cast<int32_t>(i);
    }
    t_.heap_names.push_back(name);
    return static_cast<int32_t>(t_.heap_names.size() - 1);
  }

  uint64_t Len() {
    static const uint64_t kLens[] = {4096, 4096, 8192, 12288, 16384, 65536, 1 << 20, 100, 0};
    const size_t n = sizeof(kLens) / sizeof(kLens[0]);
    // Length 0 only rarely.
    size_t i = rng_.Below(n);
    if (kLens[i] == 0 && !rng_.Chance(30)) i = 0;
    return kLens[i];
  }

  void Spawn() {
    Op& op = Emit(OpKind::kSpawn);
    op.bind = NewSym(SymKind::kProcess, 'P');
    op.text = "p" + std::to_string(counter_[0]);
    Proc p;
    p.sym = op.bind;
    procs_.push_back(p);
  }

  Proc& RandomProc() { return procs_[rng_.Below(procs_.size())]; }

  std::vector<FdEntry*> Fds(Proc& p, bool client) {
    std::vector<FdEntry*> out;
    for (FdEntry& f : p.fds) {
      if (f.client == client) out.push_back(&f);
    }
    return out;
  }

  void Open(Proc& p) {
    Op& op = Emit(OpKind::kOpen);
    op.a.sym = p.sym;
    op.text = "/dev/ion";
    op.bind = NewSym(SymKind::kFd, 'C');
    if (rng_.Chance(50)) op.flags = 2;
    FdEntry f;
    f.ref.sym = op.bind;
    f.client = true;
    f.client_file = op.bind;
    p.fds.push_back(f);
  }

  void Alloc(Proc& p, FdEntry* c, bool new_alloc) {
    Op& op = Emit(new_alloc ? OpKind::kNewAlloc : OpKind::kAlloc);
    op.a = c->ref;
    op.len = Len();
    if (rng_.Chance(8)) {
      op.mask = rng_.Chance(50) ? rng_.Below(16) : (1ULL << rng_.Below(32));
    } else {
      op.heap = Heap(rng_.Pick(options_.heaps));
    }
    if (!new_alloc && rng_.Chance(10)) op.align = rng_.Chance(50) ? 8192 : 4096;
    if (rng_.Chance(25)) op.flags = rng_.Below(4);
    // A buffer that may come from the chunk heap is a whole number of chunks (see GeneratorOptions).
    const bool may_be_chunk =
        op.heap >= 0 ? t_.heap_names[op.heap] == options_.chunk_heap : (op.mask & options_.chunk_mask) != 0;
    if (may_be_chunk && options_.chunk_size > 0) {
      op.len = (op.len + options_.chunk_size - 1) / options_.chunk_size * options_.chunk_size;
    }
    if (new_alloc) {
      op.bind = NewSym(SymKind::kFd, 'F');
      FdEntry f;
      f.ref.sym = op.bind;
      f.len = op.len;
      p.fds.push_back(f);
    } else {
      op.bind = NewSym(SymKind::kHandle, 'H');
      handles_.push_back({op.bind, c->client_file, op.len});
    }
  }

  // A handle of client file `file`, or -1.
  int Handle(int32_t file) {
    std::vector<int> idx;
    for (size_t i = 0; i < handles_.size(); ++i) {
      if (handles_[i].client_file == file) idx.push_back(static_cast<int>(i));
    }
    if (idx.empty()) return -1;
    return rng_.Pick(idx);
  }

  void Step() {
    if (procs_.empty()) {
      Spawn();
      return;
    }
    Proc& p = RandomProc();
    std::vector<FdEntry*> clients = Fds(p, true);
    std::vector<FdEntry*> bufs = Fds(p, false);
    if (clients.empty() && rng_.Chance(70)) {
      Open(p);
      return;
    }
    const size_t r = rng_.Below(100);
    if (r < 16) {  // alloc
      if (clients.empty()) return Open(p);
      Alloc(p, rng_.Pick(clients), rng_.Chance(15));
    } else if (r < 28) {  // share or map
      if (clients.empty()) return Open(p);
      FdEntry* c = rng_.Pick(clients);
      const int h = Handle(c->client_file);
      Op& op = Emit(rng_.Chance(75) ? OpKind::kShare : OpKind::kMap);
      op.a = c->ref;
      uint64_t len = 4096;
      if (h < 0 || rng_.Chance(5)) {
        op.raw_id = true;
        op.id = static_cast<int64_t>(rng_.Below(4));
      } else {
        op.b.sym = handles_[h].sym;
        len = handles_[h].len;
      }
      op.bind = NewSym(SymKind::kFd, 'F');
      FdEntry f;
      f.ref.sym = op.bind;
      f.len = len;
      p.fds.push_back(f);
    } else if (r < 38) {  // free
      if (clients.empty()) return Open(p);
      FdEntry* c = rng_.Pick(clients);
      const int h = Handle(c->client_file);
      Op& op = Emit(OpKind::kFree);
      op.a = c->ref;
      if (h < 0 || rng_.Chance(5)) {
        op.raw_id = true;
        op.id = static_cast<int64_t>(rng_.Below(4));
      } else {
        op.b.sym = handles_[h].sym;
        if (rng_.Chance(80)) handles_.erase(handles_.begin() + h);
      }
    } else if (r < 47) {  // import, often in another process after a pass
      if (clients.empty()) return Open(p);
      FdEntry* c = rng_.Pick(clients);
      if (bufs.empty()) return Alloc(p, c, false);
      FdEntry* f = rng_.Pick(bufs);
      Op& op = Emit(OpKind::kImport);
      op.a = c->ref;
      op.b = f->ref;
      op.bind = NewSym(SymKind::kHandle, 'H');
      handles_.push_back({op.bind, c->client_file, f->len});
    } else if (r < 53) {  // pass a dma-buf to another process
      if (bufs.empty() || procs_.size() < 2) return Spawn();
      FdEntry* f = rng_.Pick(bufs);
      Proc& to = RandomProc();
      if (to.sym == p.sym) return;
      Op& op = Emit(OpKind::kPass);
      op.a = f->ref;
      op.b.sym = to.sym;
      op.bind = NewSym(SymKind::kFd, 'F');
      FdEntry n;
      n.ref.sym = op.bind;
      n.len = f->len;
      to.fds.push_back(n);
    } else if (r < 57) {  // dup
      if (bufs.empty()) return;
      FdEntry* f = rng_.Pick(bufs);
      Op& op = Emit(OpKind::kDup);
      op.a = f->ref;
      op.bind = NewSym(SymKind::kFd, 'F');
      FdEntry n;
      n.ref.sym = op.bind;
      n.len = f->len;
      p.fds.push_back(n);
    } else if (r < 66) {  // close a dma-buf fd, or a client with live dma-bufs
      if (p.fds.empty()) return;
      const size_t i = rng_.Below(p.fds.size());
      Op& op = Emit(OpKind::kClose);
      op.a = p.fds[i].ref;
      const FdEntry gone = p.fds[i];
      p.fds.erase(p.fds.begin() + i);
      if (gone.client) DropClientIfUnheld(gone.client_file);
    } else if (r < 74) {  // mmap, store, load, munmap
      if (!p.maps.empty() && rng_.Chance(60)) {
        const size_t i = rng_.Below(p.maps.size());
        const MapEntry m = p.maps[i];
        const uint64_t pages = std::max<uint64_t>(1, m.len / 4096);
        if (rng_.Chance(25)) {
          Op& op = Emit(OpKind::kMunmap);
          op.a = m.ref;
          p.maps.erase(p.maps.begin() + i);
        } else {
          Op& op = Emit(rng_.Chance(50) ? OpKind::kStore : OpKind::kLoad);
          op.a = m.ref;
          op.off = rng_.Below(pages) * 4096;
          op.len = std::min<uint64_t>(4096, m.len);
          if (op.len == 0) op.len = 1;
          if (op.kind == OpKind::kStore) op.byte = static_cast<uint8_t>(rng_.Below(256));
        }
        return;
      }
      if (bufs.empty()) return;
      FdEntry* f = rng_.Pick(bufs);
      Op& op = Emit(OpKind::kMmap);
      op.a = f->ref;
      const uint64_t len = std::max<uint64_t>(4096, (f->len + 4095) / 4096 * 4096);
      op.len = rng_.Chance(90) ? len : len + 4096;
      op.flags = 1;  // MAP_SHARED
      if (rng_.Chance(10)) op.prot = 1;
      op.bind = NewSym(SymKind::kMapping, 'M');
      MapEntry m;
      m.ref.sym = op.bind;
      m.len = op.len;
      p.maps.push_back(m);
    } else if (r < 78) {  // fork
      if (procs_.size() >= 4) return;
      Op& op = Emit(OpKind::kFork);
      op.a.sym = p.sym;
      op.bind = NewSym(SymKind::kProcess, 'P');
      Proc child;
      child.sym = op.bind;
      for (const FdEntry& f : p.fds) {
        FdEntry c = f;
        c.ref.at = child.sym;
        child.fds.push_back(c);
      }
      for (const MapEntry& m : p.maps) {
        MapEntry c = m;
        c.ref.at = child.sym;
        child.maps.push_back(c);
      }
      procs_.push_back(child);
    } else if (r < 81) {  // exit
      if (procs_.size() < 2 && rng_.Chance(70)) return;
      const int32_t sym = p.sym;
      std::vector<int32_t> files;
      for (const FdEntry& f : p.fds) {
        if (f.client) files.push_back(f.client_file);
      }
      Emit(OpKind::kExit).a.sym = sym;
      procs_.erase(std::find_if(procs_.begin(), procs_.end(), [sym](const Proc& q) { return q.sym == sym; }));
      for (int32_t file : files) DropClientIfUnheld(file);
    } else if (r < 83) {
      if (procs_.size() < 3) Spawn();
    } else if (r < 87) {
      Emit(OpKind::kDrain);
    } else if (r < 90) {
      Op& op = Emit(OpKind::kShrink);
      op.text = rng_.Pick(options_.shrinkable);
      op.flags = options_.partial_shrink && rng_.Chance(50) ? rng_.Below(300) : 0;
    } else if (r < 93) {  // DMA_BUF_IOCTL_SYNC, start and end together
      if (bufs.empty()) return;
      FdEntry* f = rng_.Pick(bufs);
      const uint64_t dir = 1 + rng_.Below(3);
      Op& start = Emit(OpKind::kDmabufSync);
      start.a = f->ref;
      start.flags = dir;
      Op& end = Emit(OpKind::kDmabufSync);
      end.a = f->ref;
      end.flags = dir | kDmaBufSyncEnd;
    } else if (r < 95) {  // ION_IOC_SYNC
      if (clients.empty() || bufs.empty()) return;
      Op& op = Emit(OpKind::kSync);
      op.a = rng_.Pick(clients)->ref;
      op.b = rng_.Pick(bufs)->ref;
    } else if (r < 97) {
      if (clients.empty()) return;
      Op& op = Emit(OpKind::kQuery);
      op.a = rng_.Pick(clients)->ref;
      op.len = rng_.Below(6);
      op.arg = op.len == 0 ? ArgMode::kNull : ArgMode::kBuf;
    } else if (r < 98) {  // error paths: raw ioctls with bad, null or read-only arguments, CUSTOM
      if (clients.empty()) return;
      static const uint64_t kCmds[] = {0xc0204900, 0xc0044901, 0xc0084902, 0xc0084904, 0xc0084905,
                                       0xc0104906, 0xc0084907, 0xc0184908, 0xc0184900, 0x4909};
      if (rng_.Chance(20)) {
        Op& op = Emit(OpKind::kCustom);
        op.a = rng_.Pick(clients)->ref;
        op.mask = rng_.Below(4);
        return;
      }
      Op& op = Emit(OpKind::kIoctl);
      op.a = rng_.Pick(clients)->ref;
      op.mask = kCmds[rng_.Below(sizeof(kCmds) / sizeof(kCmds[0]))];
      op.len = (op.mask >> 16) & 0x3fff;
      static const ArgMode kModes[] = {ArgMode::kBad, ArgMode::kNull, ArgMode::kRo};
      op.arg = kModes[rng_.Below(3)];
    } else if (r < 99) {
      Op& op = Emit(OpKind::kDebugfs);
      op.text = "ion/heaps/" + rng_.Pick(options_.heaps);
    } else {
      Emit(OpKind::kState);
    }
  }

  // A client file no process holds any more is released: its handles are gone.
  void DropClientIfUnheld(int32_t file) {
    for (const Proc& q : procs_) {
      for (const FdEntry& f : q.fds) {
        if (f.client && f.client_file == file) return;
      }
    }
    handles_.erase(std::remove_if(handles_.begin(), handles_.end(),
                                  [file](const HandleEntry& h) { return h.client_file == file; }),
                   handles_.end());
  }

  Rng rng_;
  GeneratorOptions options_;
  Trace t_;
  std::vector<Proc> procs_;
  std::vector<HandleEntry> handles_;
  int counter_[4] = {0, 0, 0, 0};
};

}  // namespace

Trace GenerateTrace(uint64_t seed, int ops, const GeneratorOptions& options) {
  Gen g(seed, options);
  return g.Run(ops);
}

}  // namespace ionsim::trace
