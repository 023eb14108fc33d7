// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "tools/trace/trace.h"

#include <cctype>
#include <cstdio>
#include <cstring>
#include <utility>

#include "kmod/ion_profile.h"

namespace ionsim::trace {
namespace {

// dev_map dir= names, by enum dma_data_direction value.
constexpr const char* kDmaDirNames[3] = {"bidirectional", "to_device", "from_device"};

constexpr const char* kOpNames[kNumOpKinds] = {
    "spawn", "fork",   "exit",      "open",    "close", "dup",   "pass",        "alloc",   "free",
    "share", "map",    "import",    "sync",    "custom", "new_alloc", "query",  "ioctl",   "mmap",
    "munmap", "store", "load",      "dmabuf_sync", "drain", "shrink", "debugfs", "state",
    // Simulated devices.
    "device", "attach", "dev_map", "dev_unmap", "dev_write", "dev_read", "dev_sync", "detach",
    // Explain.
    "explain",
};

// _IOC_SIZE of an ioctl command (asm-generic/ioctl.h: 14 size bits at bit 16).
uint64_t IocSize(uint64_t cmd) { return (cmd >> 16) & 0x3fff; }

constexpr uint64_t kMaxIoctlSize = 4096;

bool IsIdent(const std::string& s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  return true;
}

bool IsErrnoToken(const std::string& s) {
  if (s.size() < 2 || s[0] != 'E') return false;
  for (char c : s) {
    if (!(std::isupper(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)))) return false;
  }
  return true;
}

std::string Trim(const std::string& s) {
  size_t b = 0;
  size_t e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    size_t j = i;
    while (j < s.size() && !std::isspace(static_cast<unsigned char>(s[j]))) ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

std::string Size(uint64_t v) {
  if (v != 0 && v % (1ULL << 30) == 0) return std::to_string(v >> 30) + "G";
  if (v != 0 && v % (1ULL << 20) == 0) return std::to_string(v >> 20) + "M";
  if (v != 0 && v % (1ULL << 10) == 0) return std::to_string(v >> 10) + "K";
  return std::to_string(v);
}

std::string Hex(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

bool ParseHex(const std::string& h, std::vector<uint8_t>* out) {
  if (h.size() % 2 != 0) return false;
  for (size_t i = 0; i < h.size(); i += 2) {
    unsigned int b;
    if (!std::isxdigit(static_cast<unsigned char>(h[i])) || !std::isxdigit(static_cast<unsigned char>(h[i + 1])) ||
        std::sscanf(h.c_str() + i, "%2x", &b) != 1) {
      return false;
    }
    out->push_back(static_cast<uint8_t>(b));
  }
  return true;
}

std::string HexBytes(const std::vector<uint8_t>& bytes) {
  std::string h;
  char b[4];
  for (uint8_t byte : bytes) {
    std::snprintf(b, sizeof(b), "%02x", byte);
    h += b;
  }
  return h;
}

// Parses one line's operation.
class LineParser {
 public:
  LineParser(Trace* trace, int line, std::string* error) : trace_(trace), line_(line), error_(error) {}

  bool Fail(const std::string& what) {
    *error_ = "line " + std::to_string(line_) + ": " + what;
    return false;
  }

  // tokens: the operation's words without the binding.
  bool Parse(const std::string& bind_name, std::vector<std::string> tokens, Op* op) {
    const std::string& word = tokens[0];
    int kind = -1;
    for (int k = 0; k < kNumOpKinds; ++k) {
      if (word == kOpNames[k]) kind = k;
    }
    if (kind < 0) return Fail("unknown operation '" + word + "'");
    op->kind = static_cast<OpKind>(kind);
    op->line = line_;
    // Split key=value arguments from positional words.
    for (size_t i = 1; i < tokens.size(); ++i) {
      const size_t eq = tokens[i].find('=');
      if (eq == std::string::npos || eq == 0) {
        positional_.push_back(tokens[i]);
      } else {
        std::string key = tokens[i].substr(0, eq);
        for (const auto& kv : keys_) {
          if (kv.first == key) return Fail("'" + key + "=' given twice");
        }
        keys_.emplace_back(std::move(key), tokens[i].substr(eq + 1));
      }
    }
    SymKind binds = SymKind::kProcess;
    bool can_bind = true;
    if (!ParseBody(op, &binds, &can_bind)) return false;
    if (next_ < positional_.size()) return Fail("unexpected '" + positional_[next_] + "'");
    for (const auto& kv : keys_) {
      bool used = false;
      for (const std::string& u : used_) used |= u == kv.first;
      if (!used) return Fail("'" + word + "' takes no '" + kv.first + "='");
    }
    if (!bind_name.empty()) {
      if (!can_bind) return Fail("'" + word + "' binds no symbol");
      if (trace_->FindSymbol(bind_name) >= 0) return Fail("symbol '" + bind_name + "' is already bound");
      op->bind = static_cast<int32_t>(trace_->symbols.size());
      trace_->symbols.push_back(Symbol{bind_name, binds});
    }
    return true;
  }

 private:
  bool ParseBody(Op* op, SymKind* binds, bool* can_bind) {
    if (IsDeviceOp(op->kind)) return ParseDeviceOp(op, binds, can_bind);
    if (op->kind == OpKind::kExplain) return ParseExplain(op, can_bind);
    switch (op->kind) {
      case OpKind::kSpawn:
        *binds = SymKind::kProcess;
        if (next_ >= positional_.size()) return Fail("spawn needs a process name");
        op->text = positional_[next_++];
        return true;
      case OpKind::kFork:
        *binds = SymKind::kProcess;
        return Sym(SymKind::kProcess, false, &op->a);
      case OpKind::kExit:
        *can_bind = false;
        return Sym(SymKind::kProcess, false, &op->a);
      case OpKind::kOpen: {
        *binds = SymKind::kFd;
        if (!Sym(SymKind::kProcess, false, &op->a)) return false;
        op->text = "/dev/ion";
        std::string v;
        if (Key("path", &v)) op->text = v;
        if (Key("flags", &v)) {
          if (v == "rdonly") {
            op->flags = 0;
          } else if (v == "wronly") {
            op->flags = 1;
          } else if (v == "rdwr") {
            op->flags = 2;
          } else if (!ParseNumber(v, &op->flags)) {
            return Fail("bad flags '" + v + "' (rdonly, wronly, rdwr or a number)");
          }
        }
        return true;
      }
      case OpKind::kClose:
        *can_bind = false;
        return Sym(SymKind::kFd, true, &op->a);
      case OpKind::kDup:
        *binds = SymKind::kFd;
        return Sym(SymKind::kFd, true, &op->a);
      case OpKind::kPass:
        *binds = SymKind::kFd;
        return Sym(SymKind::kFd, true, &op->a) && Sym(SymKind::kProcess, false, &op->b);
      case OpKind::kAlloc:
      case OpKind::kNewAlloc:
        *binds = op->kind == OpKind::kAlloc ? SymKind::kHandle : SymKind::kFd;
        if (!Sym(SymKind::kFd, true, &op->a) || !Num("len", true, &op->len) || !HeapOrMask(op)) return false;
        if (op->kind == OpKind::kAlloc && !Num("align", false, &op->align)) return false;
        return Num("flags", false, &op->flags);
      case OpKind::kFree:
      case OpKind::kShare:
      case OpKind::kMap:
        if (op->kind == OpKind::kFree) {
          *can_bind = false;
        } else {
          *binds = SymKind::kFd;
        }
        if (!Sym(SymKind::kFd, true, &op->a)) return false;
        if (HasKey("id")) {
          op->raw_id = true;
          uint64_t id;
          std::string v;
          Key("id", &v);
          if (!v.empty() && v[0] == '-') {
            if (!ParseNumber(v.substr(1), &id) || id > 0x80000000ULL) return Fail("bad id '" + v + "'");
            op->id = -static_cast<int64_t>(id);
          } else {
            if (!ParseNumber(v, &id) || id > 0xffffffffULL) return Fail("bad id '" + v + "'");
            op->id = static_cast<int64_t>(id);
          }
          return true;
        }
        return Sym(SymKind::kHandle, false, &op->b);
      case OpKind::kImport:
        *binds = SymKind::kHandle;
        return Sym(SymKind::kFd, true, &op->a) && Sym(SymKind::kFd, true, &op->b);
      case OpKind::kSync:
        *can_bind = false;
        return Sym(SymKind::kFd, true, &op->a) && Sym(SymKind::kFd, true, &op->b);
      case OpKind::kCustom:
        *can_bind = false;
        return Sym(SymKind::kFd, true, &op->a) && Num("cmd", true, &op->mask) && Num("arg", false, &op->align);
      case OpKind::kQuery: {
        *can_bind = false;
        if (!Sym(SymKind::kFd, true, &op->a) || !Num("cnt", false, &op->len) ||
            !Num("reserved", false, &op->align)) {
          return false;
        }
        if (op->len > 0xffffffffULL || op->align > 0xffffffffULL) return Fail("cnt and reserved are 32-bit");
        op->arg = op->len == 0 ? ArgMode::kNull : ArgMode::kBuf;
        std::string v;
        if (Key("heaps", &v) && !Mode(v, &op->arg)) return false;
        return true;
      }
      case OpKind::kIoctl: {
        *can_bind = false;
        if (!Sym(SymKind::kFd, true, &op->a) || !Num("cmd", true, &op->mask)) return false;
        if (op->mask > 0xffffffffULL) return Fail("cmd is 32-bit");
        std::string v;
        if (Key("arg", &v)) {
          if (v.rfind("hex:", 0) == 0) {
            if (!ParseHex(v.substr(4), &op->bytes)) return Fail("bad hex: bytes (pairs of hex digits)");
          } else if (v != "null" && v != "bad" && v != "ro" && v != "buf") {
            // A mapping, optionally with +offset.
            const size_t plus = v.find('+');
            positional_.push_back(v.substr(0, plus));
            if (!Sym(SymKind::kMapping, true, &op->b)) return false;
            if (plus != std::string::npos && !ParseNumber(v.substr(plus + 1), &op->off)) {
              return Fail("bad offset in arg=" + v);
            }
            op->arg = ArgMode::kMap;
          } else if (!Mode(v, &op->arg)) {
            return false;
          }
        }
        op->len = std::max<uint64_t>(op->bytes.size(), IocSize(op->mask));
        if (!Num("size", false, &op->len)) return false;
        if (op->len > kMaxIoctlSize) return Fail("size is at most 4096");
        if (op->bytes.size() > op->len) return Fail("more hex: bytes than size=");
        if (op->arg != ArgMode::kBuf && !op->bytes.empty()) return Fail("hex: bytes need arg=hex:");
        if (op->arg == ArgMode::kMap && HasKey("size")) return Fail("arg=MAPPING takes no size=");
        return true;
      }
      case OpKind::kMmap: {
        *binds = SymKind::kMapping;
        if (!Sym(SymKind::kFd, true, &op->a) || !Num("len", true, &op->len) || !Num("off", false, &op->off)) {
          return false;
        }
        op->flags = 1;
        std::string v;
        if (Key("prot", &v)) {
          if (v == "none") {
            op->prot = 0;
          } else if (v == "r") {
            op->prot = 1;
          } else if (v == "w") {
            op->prot = 2;
          } else if (v == "rw") {
            op->prot = 3;
          } else {
            uint64_t n;
            if (!ParseNumber(v, &n) || n > 0xff) return Fail("bad prot '" + v + "' (r, w, rw, none or a number)");
            op->prot = static_cast<int>(n);
          }
        }
        if (Key("flags", &v)) {
          if (v == "shared") {
            op->flags = 1;
          } else if (v == "private") {
            op->flags = 2;
          } else if (!ParseNumber(v, &op->flags) || op->flags > 0xffffffffULL) {
            return Fail("bad flags '" + v + "' (shared, private or a number)");
          }
        }
        return true;
      }
      case OpKind::kMunmap:
        *can_bind = false;
        if (!Sym(SymKind::kMapping, true, &op->a) || !Num("off", false, &op->off)) return false;
        op->has_len = HasKey("len");
        return Num("len", false, &op->len);
      case OpKind::kStore: {
        *can_bind = false;
        uint64_t b = 0;
        if (!Sym(SymKind::kMapping, true, &op->a) || !Num("off", true, &op->off)) return false;
        std::string h;
        if (Key("hex", &h)) {
          if (!ParseHex(h, &op->bytes) || op->bytes.empty()) return Fail("bad hex= bytes (pairs of hex digits)");
          op->len = op->bytes.size();
          return true;
        }
        if (!Num("len", true, &op->len) || !Num("byte", true, &b)) return false;
        if (b > 0xff) return Fail("byte is 0..255");
        op->byte = static_cast<uint8_t>(b);
        return true;
      }
      case OpKind::kLoad:
        *can_bind = false;
        return Sym(SymKind::kMapping, true, &op->a) && Num("off", true, &op->off) && Num("len", true, &op->len);
      case OpKind::kDmabufSync: {
        *can_bind = false;
        if (!Sym(SymKind::kFd, true, &op->a)) return false;
        if (HasKey("flags")) return Num("flags", true, &op->flags);
        if (next_ + 2 > positional_.size()) return Fail("dmabuf_sync needs start|end and read|write|rw");
        const std::string& when = positional_[next_++];
        const std::string& dir = positional_[next_++];
        if (when == "end") {
          op->flags = kDmaBufSyncEnd;
        } else if (when != "start") {
          return Fail("expected start or end, got '" + when + "'");
        }
        if (dir == "read") {
          op->flags |= kDmaBufSyncRead;
        } else if (dir == "write") {
          op->flags |= kDmaBufSyncWrite;
        } else if (dir == "rw") {
          op->flags |= kDmaBufSyncRead | kDmaBufSyncWrite;
        } else {
          return Fail("expected read, write or rw, got '" + dir + "'");
        }
        return true;
      }
      case OpKind::kDrain:
      case OpKind::kState:
        *can_bind = false;
        return true;
      case OpKind::kShrink:
        *can_bind = false;
        if (next_ >= positional_.size()) return Fail("shrink needs a heap name");
        op->text = positional_[next_++];
        return Num("n", false, &op->flags);
      case OpKind::kDebugfs:
        *can_bind = false;
        if (next_ >= positional_.size()) return Fail("debugfs needs a path");
        op->text = positional_[next_++];
        if (op->text.find("..") != std::string::npos || op->text[0] == '/') return Fail("bad debugfs path");
        return true;
      default:
        break;  // the device operations: ParseDeviceOp
    }
    return Fail("unhandled operation");
  }

  bool Mode(const std::string& v, ArgMode* mode) {
    if (v == "null") {
      *mode = ArgMode::kNull;
    } else if (v == "bad") {
      *mode = ArgMode::kBad;
    } else if (v == "ro") {
      *mode = ArgMode::kRo;
    } else if (v == "buf") {
      *mode = ArgMode::kBuf;
    } else {
      return Fail("bad pointer '" + v + "' (null, bad, ro or buf)");
    }
    return true;
  }

  bool HeapOrMask(Op* op) {
    std::string name;
    const bool has_heap = Key("heap", &name);
    const bool has_mask = HasKey("mask");
    if (has_heap == has_mask) return Fail("give exactly one of heap= and mask=");
    if (has_mask) {
      if (!Num("mask", true, &op->mask)) return false;
      if (op->mask > 0xffffffffULL) return Fail("mask is 32-bit");
      return true;
    }
    if (name.empty()) return Fail("empty heap name");
    for (size_t i = 0; i < trace_->heap_names.size(); ++i) {
      if (trace_->heap_names[i] == name) op->heap = static_cast<int32_t>(i);
    }
    if (op->heap < 0) {
      op->heap = static_cast<int32_t>(trace_->heap_names.size());
      trace_->heap_names.push_back(name);
    }
    return true;
  }

  bool HasKey(const char* key) const {
    for (const auto& kv : keys_) {
      if (kv.first == key) return true;
    }
    return false;
  }

  bool Key(const char* key, std::string* value) {
    for (const auto& kv : keys_) {
      if (kv.first == key) {
        used_.push_back(key);
        *value = kv.second;
        return true;
      }
    }
    return false;
  }

  bool Num(const char* key, bool required, uint64_t* out) {
    std::string v;
    if (!Key(key, &v)) return required ? Fail(std::string("missing ") + key + "=") : true;
    if (!ParseNumber(v, out)) return Fail(std::string("bad number '") + v + "' for " + key + "=");
    return true;
  }

  bool Sym(SymKind kind, bool allow_at, SymRef* ref) {
    static constexpr const char* kKindNames[] = {"process", "fd",     "handle",    "mapping",
                                                 "thread",  "device", "attachment"};
    if (next_ >= positional_.size()) return Fail(std::string("missing ") + kKindNames[static_cast<int>(kind)]);
    const std::string word = positional_[next_++];
    std::string name = word;
    std::string at;
    const size_t pos = word.find('@');
    if (pos != std::string::npos) {
      name = word.substr(0, pos);
      at = word.substr(pos + 1);
      if (!allow_at) return Fail("'" + word + "': a " + kKindNames[static_cast<int>(kind)] + " takes no @process");
    }
    if (!IsIdent(name)) return Fail("'" + word + "' is not a symbol");
    ref->sym = trace_->FindSymbol(name);
    if (ref->sym < 0) return Fail("symbol '" + name + "' is not bound");
    const SymKind have = trace_->symbols[ref->sym].kind;
    if (have != kind) {
      return Fail("'" + name + "' is a " + kKindNames[static_cast<int>(have)] + ", expected a " +
                  kKindNames[static_cast<int>(kind)]);
    }
    if (pos != std::string::npos) {
      ref->at = trace_->FindSymbol(at);
      if (ref->at < 0) return Fail("symbol '" + at + "' is not bound");
      if (trace_->symbols[ref->at].kind != SymKind::kProcess) return Fail("'" + at + "' is not a process");
    }
    return true;
  }

  // ---- Simulated devices (docs/trace.md, "Devices") ----------------------------------------------------------
  bool ParseDeviceOp(Op* op, SymKind* binds, bool* can_bind) {
    switch (op->kind) {
      case OpKind::kDevice:
        *binds = SymKind::kDevice;
        if (next_ >= positional_.size()) return Fail("device needs a name");
        op->text = positional_[next_++];
        if (!IsIdent(op->text)) return Fail("bad device name '" + op->text + "'");
        return true;
      case OpKind::kAttach:
        *binds = SymKind::kAttachment;
        return Sym(SymKind::kDevice, false, &op->a) && Sym(SymKind::kFd, true, &op->b);
      case OpKind::kDevMap: {
        *can_bind = false;
        if (!Sym(SymKind::kAttachment, false, &op->a)) return false;
        std::string dir;
        op->flags = 0;
        if (!Key("dir", &dir)) return true;
        for (uint64_t d = 0; d < 3; ++d) {
          if (dir == kDmaDirNames[d]) {
            op->flags = d;
            return true;
          }
        }
        return Fail("bad dir '" + dir + "' (bidirectional, to_device or from_device)");
      }
      case OpKind::kDevUnmap:
      case OpKind::kDetach:
        *can_bind = false;
        return Sym(SymKind::kAttachment, false, &op->a);
      case OpKind::kDevWrite: {
        *can_bind = false;
        uint64_t b = 0;
        if (!Sym(SymKind::kAttachment, false, &op->a) || !Num("off", true, &op->off) ||
            !Num("len", true, &op->len) || !Num("byte", true, &b)) {
          return false;
        }
        if (b > 0xff) return Fail("byte is 0..255");
        op->byte = static_cast<uint8_t>(b);
        return true;
      }
      case OpKind::kDevRead:
        *can_bind = false;
        return Sym(SymKind::kAttachment, false, &op->a) && Num("off", true, &op->off) && Num("len", true, &op->len);
      case OpKind::kDevSync: {
        *can_bind = false;
        if (!Sym(SymKind::kAttachment, false, &op->a)) return false;
        if (next_ >= positional_.size()) return Fail("dev_sync needs cpu or device");
        const std::string& to = positional_[next_++];
        if (to != "cpu" && to != "device") return Fail("expected cpu or device, got '" + to + "'");
        op->flags = to == "device" ? 1 : 0;
        return true;
      }
      default:
        return Fail("unhandled operation");
    }
  }

  // ---- explain (docs/trace.md, "Explain") ---------------------------------------------------------------------
  // `explain` (every buffer), `explain b<N>` (op->id = N), `explain table` (op->flags = 1).
  bool ParseExplain(Op* op, bool* can_bind) {
    *can_bind = false;
    if (next_ >= positional_.size()) return true;
    const std::string& w = positional_[next_++];
    if (w == "table") {
      op->flags = 1;
      return true;
    }
    uint64_t serial = 0;
    if (w.size() < 2 || w[0] != 'b' || !ParseNumber(w.substr(1), &serial) || serial == 0 || serial > 0xffffffffULL) {
      return Fail("explain takes a buffer (b1, b2, ...) or table, got '" + w + "'");
    }
    op->id = static_cast<int64_t>(serial);
    return true;
  }

  Trace* trace_;
  int line_;
  std::string* error_;
  std::vector<std::string> positional_;
  size_t next_ = 0;
  std::vector<std::pair<std::string, std::string>> keys_;
  std::vector<std::string> used_;
};

std::string Ref(const Trace& t, const SymRef& r) {
  std::string s = t.symbols[r.sym].name;
  if (r.at >= 0) s += "@" + t.symbols[r.at].name;
  return s;
}

const char* ModeName(ArgMode m) {
  switch (m) {
    case ArgMode::kBuf:
      return "buf";
    case ArgMode::kNull:
      return "null";
    case ArgMode::kBad:
      return "bad";
    case ArgMode::kRo:
      return "ro";
    case ArgMode::kMap:
      return "map";
  }
  return "buf";
}

}  // namespace

const char* OpName(OpKind kind) { return kOpNames[static_cast<int>(kind)]; }

bool ParseNumber(const std::string& s, uint64_t* out) {
  if (s.empty()) return false;
  size_t end = s.size();
  unsigned shift = 0;
  const char last = s[end - 1];
  const bool hex = s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
  if (!hex || last == 'K' || last == 'M' || last == 'G') {
    if (last == 'K' || last == 'k') {
      shift = 10;
    } else if (last == 'M' || last == 'm') {
      shift = 20;
    } else if (last == 'G' || last == 'g') {
      shift = 30;
    }
  }
  if (shift) --end;
  size_t i = hex ? 2 : 0;
  if (i >= end) return false;
  uint64_t v = 0;
  for (; i < end; ++i) {
    const char c = s[i];
    uint64_t d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (hex && c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (hex && c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return false;
    }
    const uint64_t base = hex ? 16 : 10;
    if (v > (~0ULL - d) / base) return false;
    v = v * base + d;
  }
  if (shift && v > (~0ULL >> shift)) return false;
  *out = v << shift;
  return true;
}

bool IsDeviceOp(OpKind kind) { return kind >= OpKind::kDevice && kind <= OpKind::kDetach; }

bool UsesDevices(const Trace& trace) {
  for (const Op& op : trace.ops) {
    if (IsDeviceOp(op.kind)) return true;
  }
  return false;
}

bool IsModelOnlyOp(OpKind kind) { return IsDeviceOp(kind) || kind == OpKind::kExplain; }

bool UsesModelOnlyOps(const Trace& trace) {
  for (const Op& op : trace.ops) {
    if (IsModelOnlyOp(op.kind)) return true;
  }
  return false;
}

bool Op::SameAs(const Op& o) const {
  return kind == o.kind && bind == o.bind && a == o.a && b == o.b && raw_id == o.raw_id && id == o.id &&
         heap == o.heap && mask == o.mask && len == o.len && align == o.align && flags == o.flags && off == o.off &&
         prot == o.prot && byte == o.byte && has_len == o.has_len && arg == o.arg && text == o.text &&
         bytes == o.bytes && expect == o.expect && expect_warn == o.expect_warn && thread == o.thread &&
         expect_coherency == o.expect_coherency;
}

bool Trace::SameAs(const Trace& o) const {
  if (board != o.board || !(symbols == o.symbols) || heap_names != o.heap_names || ops.size() != o.ops.size() ||
      !(threads == o.threads)) {
    return false;
  }
  for (size_t i = 0; i < ops.size(); ++i) {
    if (!ops[i].SameAs(o.ops[i])) return false;
  }
  return true;
}

int32_t Trace::FindSymbol(const std::string& name) const {
  for (size_t i = 0; i < symbols.size(); ++i) {
    if (symbols[i].name == name) return static_cast<int32_t>(i);
  }
  return -1;
}

std::string UnknownProfile(const std::string& name) {
  if (ion_profile_find(name.c_str()) != nullptr) return "";
  char names[128];
  ion_profile_names(names, sizeof(names));
  return "unknown profile '" + name + "' (known: " + names + ")";
}

bool ParseTrace(const std::string& text, Trace* out, std::string* error) {
  *out = Trace();
  int line = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string raw = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line;
    std::string comment;
    const size_t hash = raw.find('#');
    if (hash != std::string::npos) {
      comment = Trim(raw.substr(hash + 1));
      raw = raw.substr(0, hash);
    }
    std::vector<std::string> tokens = Split(raw);
    if (tokens.empty()) {
      if (nl == text.size()) break;
      continue;
    }
    auto fail = [&](const std::string& what) {
      *error = "line " + std::to_string(line) + ": " + what;
      return false;
    };
    if (tokens[0] == "board") {
      if (!out->ops.empty() || !out->board.empty() || !out->profile.empty()) {
        return fail("'board' must be the first operation");
      }
      if (tokens.size() != 2) return fail("board takes one name or file");
      out->board = tokens[1];
      if (!comment.empty()) return fail("'board' has no result");
      continue;
    }
    if (tokens[0] == "profile") {
      if (!out->ops.empty() || !out->profile.empty()) {
        return fail("'profile' must come before every operation (after an optional board line)");
      }
      if (tokens.size() != 2) return fail("profile takes one name");
      if (const std::string unknown = UnknownProfile(tokens[1]); !unknown.empty()) return fail(unknown);
      out->profile = tokens[1];
      if (!comment.empty()) return fail("'profile' has no result");
      continue;
    }
    // `T = thread P` / `T = thread kernel` declares a thread.
    if (tokens.size() >= 3 && tokens[1] == "=" && tokens[2] == "thread") {
      if (!IsIdent(tokens[0])) return fail("'" + tokens[0] + "' is not a symbol name");
      if (tokens.size() != 4) return fail("'thread' takes one process (or 'kernel')");
      if (out->FindSymbol(tokens[0]) >= 0) return fail("symbol '" + tokens[0] + "' is already bound");
      if (!comment.empty()) return fail("'thread' has no result");
      if (out->threads.size() == 64) return fail("a trace declares at most 64 threads");
      ThreadDecl d;
      d.line = line;
      d.before_op = out->ops.size();
      if (tokens[3] != "kernel") {
        d.proc = out->FindSymbol(tokens[3]);
        if (d.proc < 0) return fail("symbol '" + tokens[3] + "' is not bound");
        if (out->symbols[d.proc].kind != SymKind::kProcess) return fail("'" + tokens[3] + "' is not a process");
      }
      d.sym = static_cast<int32_t>(out->symbols.size());
      out->symbols.push_back(Symbol{tokens[0], SymKind::kThread});
      out->threads.push_back(d);
      if (nl == text.size()) break;
      continue;
    }
    // `T: op` runs op on thread T.
    int32_t thread = -1;
    if (tokens[0].size() >= 2 && tokens[0].back() == ':') {
      const std::string name = tokens[0].substr(0, tokens[0].size() - 1);
      thread = out->FindSymbol(name);
      if (thread < 0 || out->symbols[thread].kind != SymKind::kThread) {
        return fail("'" + name + "' is not a thread (declare it with '" + name + " = thread P')");
      }
      tokens.erase(tokens.begin());
      if (tokens.empty()) return fail("missing operation after '" + name + ":'");
    }
    std::string bind;
    if (tokens.size() >= 2 && tokens[1] == "=") {
      bind = tokens[0];
      if (!IsIdent(bind)) return fail("'" + bind + "' is not a symbol name");
      if (tokens.size() == 2) return fail("missing operation after '='");
      tokens.erase(tokens.begin(), tokens.begin() + 2);
    }
    Op op;
    LineParser parser(out, line, error);
    if (!parser.Parse(bind, tokens, &op)) return false;
    op.thread = thread;
    if (thread >= 0 && out->FindThread(thread)->proc < 0 && op.kind != OpKind::kDrain &&
        op.kind != OpKind::kShrink && op.kind != OpKind::kDebugfs && op.kind != OpKind::kState) {
      return fail(std::string("a kernel thread runs drain, shrink, debugfs or state, not '") + OpName(op.kind) + "'");
    }
    if (!comment.empty()) {
      std::string expect = comment;
      const size_t dash = expect.find(" --");
      if (dash != std::string::npos) expect = Trim(expect.substr(0, dash));
      std::vector<std::string> words = Split(expect);
      if (words.size() >= 2 && words.back() == "coherency") {
        op.expect_coherency = true;
        words.pop_back();
      }
      if (words.size() >= 2 && words.back() == "warn") {
        op.expect_warn = true;
        words.pop_back();
      }
      if (!words.empty() && words[0] == "ok") {
        op.expect = words[0];
        for (size_t i = 1; i < words.size(); ++i) op.expect += " " + words[i];
      } else if (!words.empty() && IsErrnoToken(words[0])) {
        if (words.size() != 1) return fail("an expected errno is one word (explain after ' -- ')");
        op.expect = words[0];
      }
      // Any other trailing comment is a plain comment.
    }
    out->ops.push_back(std::move(op));
    if (nl == text.size()) break;
  }
  return true;
}

const ThreadDecl* Trace::FindThread(int32_t sym) const {
  for (const ThreadDecl& d : threads) {
    if (d.sym == sym) return &d;
  }
  return nullptr;
}

std::string FormatOp(const Trace& t, const Op& op) {
  std::string s;
  if (op.thread >= 0) s = t.symbols[op.thread].name + ": ";
  if (op.bind >= 0) s += t.symbols[op.bind].name + " = ";
  s += OpName(op.kind);
  auto add = [&s](const std::string& w) {
    s += ' ';
    s += w;
  };
  switch (op.kind) {
    case OpKind::kSpawn:
      add(op.text);
      break;
    case OpKind::kFork:
    case OpKind::kExit:
    case OpKind::kClose:
    case OpKind::kDup:
      add(Ref(t, op.a));
      break;
    case OpKind::kOpen:
      add(Ref(t, op.a));
      if (op.text != "/dev/ion") add("path=" + op.text);
      if (op.flags == 1) {
        add("flags=wronly");
      } else if (op.flags == 2) {
        add("flags=rdwr");
      } else if (op.flags != 0) {
        add("flags=" + Hex(op.flags));
      }
      break;
    case OpKind::kPass:
    case OpKind::kImport:
    case OpKind::kSync:
      add(Ref(t, op.a));
      add(Ref(t, op.b));
      break;
    case OpKind::kAlloc:
    case OpKind::kNewAlloc:
      add(Ref(t, op.a));
      add("len=" + Size(op.len));
      add(op.heap >= 0 ? "heap=" + t.heap_names[op.heap] : "mask=" + Hex(op.mask));
      if (op.align) add("align=" + Size(op.align));
      if (op.flags) add("flags=" + Hex(op.flags));
      break;
    case OpKind::kFree:
    case OpKind::kShare:
    case OpKind::kMap:
      add(Ref(t, op.a));
      add(op.raw_id ? "id=" + std::to_string(op.id) : Ref(t, op.b));
      break;
    case OpKind::kCustom:
      add(Ref(t, op.a));
      add("cmd=" + Hex(op.mask));
      if (op.align) add("arg=" + Hex(op.align));
      break;
    case OpKind::kQuery:
      add(Ref(t, op.a));
      if (op.len) add("cnt=" + std::to_string(op.len));
      if (op.arg != (op.len == 0 ? ArgMode::kNull : ArgMode::kBuf)) add(std::string("heaps=") + ModeName(op.arg));
      if (op.align) add("reserved=" + std::to_string(op.align));
      break;
    case OpKind::kIoctl: {
      add(Ref(t, op.a));
      add("cmd=" + Hex(op.mask));
      if (op.len != std::max<uint64_t>(op.bytes.size(), IocSize(op.mask))) add("size=" + std::to_string(op.len));
      if (op.arg == ArgMode::kMap) {
        add("arg=" + Ref(t, op.b) + (op.off ? "+" + Size(op.off) : ""));
      } else if (op.arg != ArgMode::kBuf) {
        add(std::string("arg=") + ModeName(op.arg));
      } else if (!op.bytes.empty()) {
        add("arg=hex:" + HexBytes(op.bytes));
      }
      break;
    }
    case OpKind::kMmap:
      add(Ref(t, op.a));
      add("len=" + Size(op.len));
      if (op.off) add("off=" + Size(op.off));
      if (op.prot != 3) {
        static constexpr const char* kProt[] = {"none", "r", "w"};
        add("prot=" + (op.prot < 3 ? std::string(kProt[op.prot]) : Hex(op.prot)));
      }
      if (op.flags == 2) {
        add("flags=private");
      } else if (op.flags != 1) {
        add("flags=" + Hex(op.flags));
      }
      break;
    case OpKind::kMunmap:
      add(Ref(t, op.a));
      if (op.off) add("off=" + Size(op.off));
      if (op.has_len) add("len=" + Size(op.len));
      break;
    case OpKind::kStore:
      add(Ref(t, op.a));
      add("off=" + Size(op.off));
      if (!op.bytes.empty()) {
        add("hex=" + HexBytes(op.bytes));
        break;
      }
      add("len=" + Size(op.len));
      add("byte=" + std::to_string(op.byte));
      break;
    case OpKind::kLoad:
      add(Ref(t, op.a));
      add("off=" + Size(op.off));
      add("len=" + Size(op.len));
      break;
    case OpKind::kDmabufSync: {
      add(Ref(t, op.a));
      const uint64_t dir = op.flags & 3;
      if ((op.flags & ~7ULL) == 0 && dir != 0) {
        add(op.flags & kDmaBufSyncEnd ? "end" : "start");
        add(dir == 1 ? "read" : dir == 2 ? "write" : "rw");
      } else {
        add("flags=" + Hex(op.flags));
      }
      break;
    }
    case OpKind::kDrain:
    case OpKind::kState:
      break;
    case OpKind::kShrink:
      add(op.text);
      if (op.flags) add("n=" + std::to_string(op.flags));
      break;
    case OpKind::kDebugfs:
      add(op.text);
      break;
    // Simulated devices.
    case OpKind::kDevice:
      add(op.text);
      break;
    case OpKind::kAttach:
      add(Ref(t, op.a));
      add(Ref(t, op.b));
      break;
    case OpKind::kDevMap:
      add(Ref(t, op.a));
      if (op.flags != 0 && op.flags < 3) add(std::string("dir=") + kDmaDirNames[op.flags]);
      break;
    case OpKind::kDevUnmap:
    case OpKind::kDetach:
      add(Ref(t, op.a));
      break;
    case OpKind::kDevWrite:
    case OpKind::kDevRead:
      add(Ref(t, op.a));
      add("off=" + Size(op.off));
      add("len=" + Size(op.len));
      if (op.kind == OpKind::kDevWrite) add("byte=" + std::to_string(op.byte));
      break;
    case OpKind::kDevSync:
      add(Ref(t, op.a));
      add(op.flags ? "device" : "cpu");
      break;
    case OpKind::kExplain:
      if (op.flags == 1) add("table");
      if (op.id > 0) add("b" + std::to_string(op.id));
      break;
  }
  return s;
}

std::string PrintTrace(const Trace& t) {
  std::string out;
  if (!t.board.empty()) out += "board " + t.board + "\n";
  if (!t.profile.empty()) out += "profile " + t.profile + "\n";
  size_t next_thread = 0;
  for (size_t i = 0; i <= t.ops.size(); ++i) {
    for (; next_thread < t.threads.size() && t.threads[next_thread].before_op <= i; ++next_thread) {
      const ThreadDecl& d = t.threads[next_thread];
      out += t.symbols[d.sym].name + " = thread " + (d.proc >= 0 ? t.symbols[d.proc].name : "kernel") + "\n";
    }
    if (i == t.ops.size()) break;
    const Op& op = t.ops[i];
    out += FormatOp(t, op);
    if (!op.expect.empty()) {
      out += "  # " + op.expect + (op.expect_warn ? " warn" : "") + (op.expect_coherency ? " coherency" : "");
    }
    out += '\n';
  }
  return out;
}

}  // namespace ionsim::trace
