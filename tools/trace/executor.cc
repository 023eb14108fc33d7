// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "tools/trace/executor.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "kmod/uapi/ion.h"

namespace ionsim::trace {
namespace {

constexpr size_t kScratchBytes = 64 << 10;
constexpr size_t kPageBytes = 4096;
// Where HEAP_QUERY's heaps array goes inside the scratch memory.
constexpr size_t kQueryHeapsOffset = 256;
constexpr int kProtRead = 1;
constexpr int kProtRw = 3;
constexpr int kMapPrivateAnon = 0x02 | 0x20;
// _IOW('b', 0, struct dma_buf_sync), include/uapi/linux/dma-buf.h.
constexpr unsigned int kDmaBufIoctlSync = 0x40086200;

constexpr std::array<uint32_t, 256> MakeCrcTable() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320U ^ (c >> 1) : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr std::array<uint32_t, 256> kCrcTable = MakeCrcTable();

void AppendHex(std::string* s, const uint8_t* p, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; ++i) {
    *s += kDigits[p[i] >> 4];
    *s += kDigits[p[i] & 15];
  }
}

std::string Indent(const std::string& text) {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    out += "  ";
    out.append(text, pos, nl - pos);
    out += '\n';
    pos = nl + 1;
  }
  return out;
}

// A client or orphan row of a heap file: "%16s %16u %16zu" (v4.4 ion_debug_heap_show), then " %d %d" for
// orphans. The comm may be empty (a buffer that never had a handle), so rows are recognised by columns.
bool IsHeapRowAt(const std::string& s, size_t b, size_t e) {
  if (e - b < 50 || s[b + 16] != ' ' || s[b + 33] != ' ') return false;
  auto number_field = [&s](size_t from, size_t to) {  // right-aligned digits (or the mask) after blanks
    size_t i = from;
    while (i < to && s[i] == ' ') ++i;
    if (i == to) return false;
    for (; i < to; ++i) {
      if (!((s[i] >= '0' && s[i] <= '9') || (s[i] == '-' && i + 1 == to))) return false;
    }
    return true;
  };
  return number_field(b + 17, b + 33) && number_field(b + 34, b + 50);
}

}  // namespace

void MaskHeapFilePids(std::string* text) {
  size_t pos = 0;
  while (pos < text->size()) {
    size_t nl = text->find('\n', pos);
    if (nl == std::string::npos) nl = text->size();
    if (IsHeapRowAt(*text, pos, nl)) {
      for (size_t k = pos + 17; k < pos + 32; ++k) (*text)[k] = ' ';
      (*text)[pos + 32] = '-';
    }
    pos = nl + 1;
  }
}

std::string NormaliseAddressOrder(const std::string& out) {
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < out.size()) {
    size_t nl = out.find('\n', pos);
    if (nl == std::string::npos) nl = out.size();
    lines.push_back(out.substr(pos, nl - pos));
    pos = nl + 1;
  }
  // A free list is a sequence; only a run joined by '+' (what one client destroy freed, in buffer-address
  // order) is sorted by serial.
  for (std::string& line : lines) {
    const size_t f = line.find(" free_list=");
    if (line.rfind("  heap ", 0) != 0 || f == std::string::npos) continue;
    const std::string list = line.substr(f + 11);
    std::string sorted;
    size_t p = 0;
    while (p <= list.size()) {
      size_t c = list.find(',', p);
      if (c == std::string::npos) c = list.size();
      const std::string run = list.substr(p, c - p);
      std::vector<std::pair<long, std::string>> entries;
      size_t q = 0;
      while (q <= run.size()) {
        size_t plus = run.find('+', q);
        if (plus == std::string::npos) plus = run.size();
        const std::string e = run.substr(q, plus - q);
        entries.emplace_back(e.size() > 1 ? std::strtol(e.c_str() + 1, nullptr, 10) : 0, e);
        q = plus + 1;
      }
      std::sort(entries.begin(), entries.end());
      if (p != 0) sorted += ',';
      for (size_t i = 0; i < entries.size(); ++i) {
        if (i) sorted += '+';
        sorted += entries[i].second;
      }
      p = c + 1;
    }
    line.resize(f + 11);
    line += sorted;
  }
  // Runs of heap-file rows (indented by two) are sorted.
  for (size_t i = 0; i < lines.size();) {
    auto row = [&lines](size_t k) { return lines[k].rfind("  ", 0) == 0 && IsHeapRowAt(lines[k], 2, lines[k].size()); };
    if (!row(i)) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < lines.size() && row(j)) ++j;
    std::sort(lines.begin() + static_cast<long>(i), lines.begin() + static_cast<long>(j));
    i = j;
  }
  std::string res;
  for (const std::string& l : lines) {
    res += l;
    res += '\n';
  }
  return res;
}

bool SameHeapName(const std::string& heap, const std::string& written) {
  if (heap.size() != written.size()) return false;
  for (size_t i = 0; i < heap.size(); ++i) {
    if (heap[i] != written[i] && !(heap[i] == ' ' && written[i] == '_')) return false;
  }
  return true;
}

uint32_t Crc32(uint32_t crc, const void* data, size_t len) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  crc = ~crc;
  for (size_t i = 0; i < len; ++i) crc = kCrcTable[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

std::string ResultText(const OpResult& r, const std::string& details) {
  if (r.err != 0) return kernel::errno_name(r.err);
  return "ok" + details;
}

Executor::Executor(IonBackend* backend, ExecOptions options) : backend_(backend), options_(std::move(options)) {
  buf_.reset(new uint8_t[kScratchBytes]);
}

Executor::Proc* Executor::ProcState(int32_t sym) {
  if (sym < 0 || static_cast<size_t>(sym) >= procs_.size()) return nullptr;
  Proc* p = &procs_[sym];
  return p->pid < 0 ? nullptr : p;
}

uint64_t Executor::Scratch(Proc* p, int* err) {
  if (p->scratch == 0) {
    ErrnoOr<uint64_t> addr = backend_->mmap(p->pid, 0, kScratchBytes, kProtRw, kMapPrivateAnon, -1, 0);
    if (!addr.ok()) {
      *err = addr.error().code();
      return 0;
    }
    p->scratch = addr.value();
  }
  return p->scratch;
}

uint64_t Executor::ReadOnly(Proc* p, int* err) {
  if (p->ro == 0) {
    ErrnoOr<uint64_t> addr = backend_->mmap(p->pid, 0, kPageBytes, kProtRead, kMapPrivateAnon, -1, 0);
    if (!addr.ok()) {
      *err = addr.error().code();
      return 0;
    }
    p->ro = addr.value();
  }
  return p->ro;
}

int Executor::Call(Proc* p, int fd, unsigned int cmd, void* arg, size_t size, long* ret) {
  int err = 0;
  const uint64_t user = Scratch(p, &err);
  if (user == 0) return err;
  if (size > 0) {
    Errno e = backend_->poke(p->pid, user, arg, size);
    if (!e.ok()) return e.code();
  }
  ErrnoOr<long> r = backend_->ioctl(p->pid, fd, cmd, user);
  if (size > 0) {
    Errno e = backend_->peek(p->pid, user, arg, size);
    if (!e.ok()) return e.code();
  }
  if (!r.ok()) return r.error().code();
  if (ret) *ret = r.value();
  return 0;
}

bool Executor::ResolveHeaps(const Trace& trace, const Op& op, ExecReport* report) {
  if (!options_.heaps.empty()) {
    for (size_t i = 0; i < trace.heap_names.size(); ++i) {
      for (const auto& [name, id] : options_.heaps) {
        if (SameHeapName(name, trace.heap_names[i])) heap_masks_[i] = static_cast<int64_t>(1ULL << (id & 31));
      }
    }
  } else {
    Proc* p = ProcState(ProcOf(op.a));
    int err = 0;
    const uint64_t user = p ? Scratch(p, &err) : 0;
    ion_heap_query q;
    std::memset(&q, 0, sizeof(q));
    q.cnt = ION_NUM_HEAP_IDS;
    q.heaps = user + kQueryHeapsOffset;
    long ret = 0;
    if (user != 0 && Call(p, Fd(op.a), ION_IOC_HEAP_QUERY, &q, sizeof(q), &ret) == 0) {
      std::vector<ion_heap_data> data(q.cnt);
      if (q.cnt > 0 && backend_->peek(p->pid, user + kQueryHeapsOffset, data.data(),
                                      data.size() * sizeof(ion_heap_data)).ok()) {
        for (size_t i = 0; i < trace.heap_names.size(); ++i) {
          for (const ion_heap_data& h : data) {
            if (strnlen(h.name, MAX_HEAP_NAME) < MAX_HEAP_NAME && SameHeapName(h.name, trace.heap_names[i])) {
              heap_masks_[i] = static_cast<int64_t>(1ULL << (h.heap_id & 31));
            }
          }
        }
      }
    }
  }
  for (size_t i = 0; i < trace.heap_names.size(); ++i) {
    if (heap_masks_[i] < 0) {
      int line = op.line;
      for (const Op& o : trace.ops) {
        if (o.heap == static_cast<int32_t>(i)) {
          line = o.line;
          break;
        }
      }
      report->error = "line " + std::to_string(line) + ": unknown heap '" + trace.heap_names[i] + "'";
      return false;
    }
  }
  return true;
}

bool Executor::Run(const Trace& trace, ExecReport* report) {
  report->results.assign(trace.ops.size(), OpResult());
  report->output.clear();
  report->failures.clear();
  report->mismatches = 0;
  report->violations = 0;
  report->error.clear();
  vals_.assign(trace.symbols.size(), Val());
  procs_.assign(trace.symbols.size(), Proc());
  heap_masks_.assign(trace.heap_names.size(), -1);
  bool heaps_resolved = trace.heap_names.empty();
  // With a heap table, every name is resolved before anything runs; without one, at the first operation that
  // names a heap (its client answers ION_IOC_HEAP_QUERY).
  if (!heaps_resolved && !options_.heaps.empty()) {
    if (!ResolveHeaps(trace, trace.ops.front(), report)) return false;
    heaps_resolved = true;
  }
  if ((options_.devices == nullptr && UsesDevices(trace)) || (!options_.explain && UsesModelOnlyOps(trace))) {
    for (const Op& op : trace.ops) {
      if (!(IsDeviceOp(op.kind) && options_.devices == nullptr) && !(op.kind == OpKind::kExplain && !options_.explain)) {
        continue;
      }
      report->error = "line " + std::to_string(op.line) + ": '" + OpName(op.kind) +
                      (op.kind == OpKind::kExplain
                           ? "': explain runs on the model only (this backend cannot look inside the kernel)"
                           : "': device operations run on the model only (this backend has no simulated devices)");
      return false;
    }
  }
  for (size_t i = 0; i < trace.ops.size();) {
    const Op& op = trace.ops[i];
    // A run of operations of declared threads is one concurrent section; every heap it names is resolved first.
    size_t end = i + 1;
    if (op.thread >= 0) {
      while (end < trace.ops.size() && trace.ops[end].thread >= 0) ++end;
    }
    for (size_t k = i; k < end && !heaps_resolved; ++k) {
      if (trace.ops[k].heap >= 0) {
        if (!ResolveHeaps(trace, trace.ops[k], report)) return false;
        heaps_resolved = true;
      }
    }
    if (op.thread >= 0) {
      RunSection(trace, i, end, report);
      if (report->abandoned) return false;
      i = end;
      continue;
    }
    std::string text;
    std::string failure;
    RunOp(trace, i, report, &text, &failure);
    report->output += text;
    if (!failure.empty()) report->failures.push_back(std::move(failure));
    if (options_.check) {
      const std::string v = options_.check(op);
      if (!v.empty()) {
        ++report->violations;
        report->failures.push_back("line " + std::to_string(op.line) + ": invariant violated after '" +
                                   FormatOp(trace, op) + "': " + v);
      }
    }
    ++i;
  }
  return report->ok();
}

void Executor::RunOp(const Trace& trace, size_t i, ExecReport* report, std::string* text, std::string* failure) {
  const Op& op = trace.ops[i];
  if (options_.before) options_.before(trace, op);
  const bool want_text = options_.build_output || !op.expect.empty();
  details_.clear();
  std::string block;
  OpResult& res = report->results[i];
  Step(trace, op, &res, want_text);
  if (!want_text) return;
  // Multi-line details (debugfs, state) start with a newline.
  std::string first = details_;
  const size_t nl = details_.find('\n');
  if (nl != std::string::npos) {
    first = details_.substr(0, nl);
    block = Indent(details_.substr(nl + 1));
  }
  const std::string result = ResultText(res, first);
  if (options_.build_output) {
    *text += std::to_string(op.line);
    *text += ' ';
    *text += FormatOp(trace, op);
    *text += " => ";
    *text += result;
    *text += '\n';
    *text += block;
  }
  if (!op.expect.empty()) {
    const bool match = op.expect == "ok" ? res.err == 0 : op.expect == result;
    if (!match) {
      ++report->mismatches;
      *failure = "line " + std::to_string(op.line) + ": " + FormatOp(trace, op) + ": expected " + op.expect +
                 ", got " + result;
    }
  }
}

void Executor::RunSection(const Trace& trace, size_t begin, size_t end, ExecReport* report) {
  // The threads in order of first appearance, and each one's operations.
  std::vector<int32_t> threads;
  std::vector<std::vector<size_t>> ops_of;
  for (size_t i = begin; i < end; ++i) {
    const int32_t t = trace.ops[i].thread;
    size_t k = 0;
    while (k < threads.size() && threads[k] != t) ++k;
    if (k == threads.size()) {
      threads.push_back(t);
      ops_of.emplace_back();
    }
    ops_of[k].push_back(i);
  }
  // Each thread runs on its own executor: the bindings made so far, its own scratch memory in its process (two
  // threads' ioctl arguments must not share user memory) and its own result text.
  std::vector<std::unique_ptr<Executor>> subs;
  std::vector<std::string> names;
  for (int32_t t : threads) {
    names.push_back(trace.symbols[t].name);
    auto sub = std::make_unique<Executor>(backend_, ExecOptions());
    sub->options_.build_output = options_.build_output;
    sub->vals_ = vals_;
    sub->procs_ = procs_;
    for (Proc& p : sub->procs_) p.scratch = p.ro = 0;
    sub->heap_masks_ = heap_masks_;
    subs.push_back(std::move(sub));
  }
  // Each thread's scratch memory is mapped and touched before the threads start, so the threads' operations are
  // only the trace's.
  for (size_t k = 0; k < threads.size(); ++k) {
    for (size_t i : ops_of[k]) {
      const Op& op = trace.ops[i];
      if (op.a.sym < 0 || trace.symbols[op.a.sym].kind == SymKind::kHandle) continue;
      Proc* p = subs[k]->ProcState(subs[k]->ProcOf(op.a));
      int err = 0;
      if (p == nullptr || p->scratch != 0) continue;
      const uint64_t user = subs[k]->Scratch(p, &err);
      if (user != 0) {
        std::memset(buf_.get(), 0, kPageBytes);
        static_cast<void>(backend_->poke(p->pid, user, buf_.get(), kPageBytes));
      }
    }
  }
  const size_t n = end - begin;
  std::vector<std::string> texts(n);
  std::vector<std::string> failures(n);
  std::vector<ExecReport> sub_reports(threads.size());
  for (ExecReport& r : sub_reports) r.results.assign(trace.ops.size(), OpResult());
  auto body = [&](size_t k) {
    for (size_t i : ops_of[k]) {
      if (options_.thread_op) options_.thread_op(trace.ops[i], true);
      subs[k]->RunOp(trace, i, &sub_reports[k], &texts[i - begin], &failures[i - begin]);
      if (options_.thread_op) options_.thread_op(trace.ops[i], false);
    }
  };
  if (options_.run_threads) {
    if (!options_.run_threads(names, body)) {
      report->abandoned = true;
      report->error = "line " + std::to_string(trace.ops[begin].line) + ": the threads of lines " +
                      std::to_string(trace.ops[begin].line) + "-" + std::to_string(trace.ops[end - 1].line) +
                      " did not finish (deadlock)";
      return;
    }
  } else {
    for (size_t k = 0; k < threads.size(); ++k) body(k);
  }
  for (size_t k = 0; k < threads.size(); ++k) {
    for (size_t i : ops_of[k]) report->results[i] = sub_reports[k].results[i];
    report->mismatches += sub_reports[k].mismatches;
    // What a thread bound is visible after the section; its scratch memory stays its own.
    for (size_t s = 0; s < vals_.size(); ++s) {
      if (subs[k]->vals_[s].bound && !vals_[s].bound) vals_[s] = subs[k]->vals_[s];
      if (procs_[s].pid < 0 && subs[k]->procs_[s].pid >= 0) {
        procs_[s] = subs[k]->procs_[s];
        procs_[s].scratch = procs_[s].ro = 0;
      }
    }
  }
  for (size_t j = 0; j < n; ++j) {
    report->output += texts[j];
    if (!failures[j].empty()) report->failures.push_back(std::move(failures[j]));
  }
  if (options_.check) {
    const Op& last = trace.ops[end - 1];
    const std::string v = options_.check(last);
    if (!v.empty()) {
      ++report->violations;
      report->failures.push_back("line " + std::to_string(last.line) + ": invariant violated after the threads of "
                                 "lines " + std::to_string(trace.ops[begin].line) + "-" + std::to_string(last.line) +
                                 ": " + v);
    }
  }
}

void Executor::Step(const Trace& trace, const Op& op, OpResult* res, bool want_text) {
  auto set_err = [res](Errno e) { res->err = e.code(); };
  // Binds op.bind to value v owned by process symbol proc when the operation succeeded; an operation that
  // failed leaves the symbol unbound (an unbound fd is -1, a handle 0, a mapping address 0).
  auto bind = [&](int32_t proc, int64_t v, uint64_t len) {
    if (op.bind < 0) return;
    Val& val = vals_[op.bind];
    val.proc = proc;
    val.bound = res->err == 0;
    val.v = val.bound ? v : (trace.symbols[op.bind].kind == SymKind::kFd ? -1 : 0);
    val.len = len;
  };
  if (IsDeviceOp(op.kind)) {
    StepDevice(trace, op, res, want_text);
    return;
  }
  if (op.kind == OpKind::kExplain) {
    // Reading has no side effect: without output there is nothing to do.
    if (want_text) details_ = "\n" + options_.explain(op, Bindings(trace));
    return;
  }
  switch (op.kind) {
    case OpKind::kSpawn: {
      ErrnoOr<ProcId> pid = backend_->spawn(op.text);
      if (!pid.ok()) {
        set_err(pid.error());
      } else if (op.bind >= 0) {
        procs_[op.bind].pid = pid.value();
      }
      bind(op.bind, pid.ok() ? pid.value() : -1, 0);
      return;
    }
    case OpKind::kFork: {
      Proc* parent = ProcState(op.a.sym);
      if (!parent) {
        res->err = ESRCH;
        bind(op.bind, -1, 0);
        return;
      }
      ErrnoOr<ProcId> pid = backend_->fork(parent->pid);
      if (!pid.ok()) {
        set_err(pid.error());
      } else if (op.bind >= 0) {
        procs_[op.bind].pid = pid.value();
        procs_[op.bind].scratch = parent->scratch;
        procs_[op.bind].ro = parent->ro;
      }
      bind(op.bind, pid.ok() ? pid.value() : -1, 0);
      return;
    }
    case OpKind::kExit: {
      Proc* p = ProcState(op.a.sym);
      if (!p) {
        res->err = ESRCH;
        return;
      }
      set_err(backend_->exit(p->pid));
      return;
    }
    case OpKind::kOpen: {
      Proc* p = ProcState(op.a.sym);
      int64_t fd = -1;
      if (!p) {
        res->err = ESRCH;
      } else {
        ErrnoOr<int> r = backend_->open(p->pid, op.text, static_cast<unsigned int>(op.flags));
        if (r.ok()) {
          fd = r.value();
        } else {
          set_err(r.error());
        }
      }
      bind(op.a.sym, fd, 0);
      return;
    }
    case OpKind::kDrain:
      set_err(backend_->run_deferred_free());
      return;
    case OpKind::kState: {
      // Reading has no side effect: without output there is nothing to do.
      if (!want_text) return;
      ErrnoOr<std::string> dump = backend_->canonical_dump();
      if (!dump.ok()) {
        set_err(dump.error());
      } else if (want_text) {
        details_ = "\n" + dump.value();
      }
      return;
    }
    case OpKind::kDebugfs: {
      if (!want_text) return;
      ErrnoOr<std::string> text = backend_->debugfs_read(op.text);
      if (!text.ok()) {
        set_err(text.error());
      } else if (want_text) {
        details_ = "\n" + text.value();
        if (op.text.rfind("ion/heaps/", 0) == 0) MaskHeapFilePids(&details_);
      }
      return;
    }
    case OpKind::kShrink: {
      std::string name = op.text;
      for (const auto& h : options_.heaps) {
        if (SameHeapName(h.first, op.text)) name = h.first;
      }
      const std::string path = "ion/heaps/" + name + "_shrink";
      ErrnoOr<std::string> before = backend_->debugfs_read(path);
      if (!before.ok()) {
        set_err(before.error());
        return;
      }
      res->value = std::strtoll(before.value().c_str(), nullptr, 10);
      Errno e = backend_->debugfs_write(path, std::to_string(op.flags));
      if (!e.ok()) {
        set_err(e);
        return;
      }
      if (want_text) details_ = " count=" + std::to_string(res->value);
      return;
    }
    default:
      break;
  }

  // Everything else runs in the process of its first operand.
  const int32_t psym = ProcOf(op.a);
  Proc* p = ProcState(psym);
  if (!p) {
    res->err = ESRCH;
    switch (op.kind) {
      case OpKind::kDup:
      case OpKind::kShare:
      case OpKind::kMap:
      case OpKind::kNewAlloc:
      case OpKind::kMmap:
      case OpKind::kAlloc:
      case OpKind::kImport:
        bind(psym, -1, 0);
        break;
      case OpKind::kPass:
        bind(op.b.sym, -1, 0);
        break;
      default:
        break;
    }
    return;
  }
  const int fd = op.kind == OpKind::kMunmap || op.kind == OpKind::kStore || op.kind == OpKind::kLoad ? -1 : Fd(op.a);
  int err = 0;
  long ret = 0;
  switch (op.kind) {
    case OpKind::kClose:
      set_err(backend_->close(p->pid, fd));
      return;
    case OpKind::kDup: {
      ErrnoOr<int> r = backend_->dup(p->pid, fd);
      if (!r.ok()) set_err(r.error());
      bind(psym, r.ok() ? r.value() : -1, 0);
      return;
    }
    case OpKind::kPass: {
      Proc* to = ProcState(op.b.sym);
      if (!to) {
        res->err = ESRCH;
        bind(op.b.sym, -1, 0);
        return;
      }
      ErrnoOr<int> r = backend_->pass_fd(p->pid, fd, to->pid);
      if (!r.ok()) set_err(r.error());
      bind(op.b.sym, r.ok() ? r.value() : -1, 0);
      return;
    }
    case OpKind::kAlloc: {
      ion_allocation_data d;
      std::memset(&d, 0, sizeof(d));
      d.len = op.len;
      d.align = op.align;
      d.heap_id_mask = static_cast<unsigned int>(op.heap >= 0 ? heap_masks_[op.heap] : op.mask);
      d.flags = static_cast<unsigned int>(op.flags);
      res->err = Call(p, fd, ION_IOC_ALLOC, &d, sizeof(d), &ret);
      if (res->err == 0) {
        res->value = d.handle;
        if (want_text) details_ = " id=" + std::to_string(d.handle);
      }
      bind(psym, d.handle, 0);
      return;
    }
    case OpKind::kNewAlloc: {
      ion_new_allocation_data d;
      std::memset(&d, 0, sizeof(d));
      d.len = op.len;
      d.heap_id_mask = static_cast<__u32>(op.heap >= 0 ? heap_masks_[op.heap] : op.mask);
      d.flags = static_cast<__u32>(op.flags);
      res->err = Call(p, fd, ION_IOC_NEW_ALLOC, &d, sizeof(d), &ret);
      bind(psym, static_cast<int>(d.fd), 0);
      return;
    }
    case OpKind::kFree: {
      ion_handle_data d;
      d.handle = static_cast<int>(op.raw_id ? op.id : vals_[op.b.sym].bound ? vals_[op.b.sym].v : 0);
      res->err = Call(p, fd, ION_IOC_FREE, &d, sizeof(d), &ret);
      return;
    }
    case OpKind::kShare:
    case OpKind::kMap: {
      ion_fd_data d;
      d.handle = static_cast<int>(op.raw_id ? op.id : vals_[op.b.sym].bound ? vals_[op.b.sym].v : 0);
      d.fd = 0;
      res->err = Call(p, fd, op.kind == OpKind::kShare ? ION_IOC_SHARE : ION_IOC_MAP, &d, sizeof(d), &ret);
      bind(psym, d.fd, 0);
      return;
    }
    case OpKind::kImport:
    case OpKind::kSync: {
      ion_fd_data d;
      d.handle = 0;
      d.fd = Fd(op.b);
      res->err = Call(p, fd, op.kind == OpKind::kImport ? ION_IOC_IMPORT : ION_IOC_SYNC, &d, sizeof(d), &ret);
      if (op.kind == OpKind::kImport) {
        if (res->err == 0) {
          res->value = d.handle;
          if (want_text) details_ = " id=" + std::to_string(d.handle);
        }
        bind(psym, d.handle, 0);
      }
      return;
    }
    case OpKind::kCustom: {
      ion_custom_data d;
      std::memset(&d, 0, sizeof(d));
      d.cmd = static_cast<unsigned int>(op.mask);
      d.arg = static_cast<unsigned long>(op.align);
      res->err = Call(p, fd, ION_IOC_CUSTOM, &d, sizeof(d), &ret);
      return;
    }
    case OpKind::kQuery: {
      uint64_t heaps = 0;
      const uint64_t user = Scratch(p, &err);
      if (user == 0) {
        res->err = err;
        return;
      }
      switch (op.arg) {
        case ArgMode::kBuf:
          heaps = user + kQueryHeapsOffset;
          break;
        case ArgMode::kNull:
          break;
        case ArgMode::kBad:
          heaps = kBadUserAddress;
          break;
        case ArgMode::kRo:
          heaps = ReadOnly(p, &err);
          if (heaps == 0) {
            res->err = err;
            return;
          }
          break;
        case ArgMode::kMap:
          break;
      }
      ion_heap_query q;
      std::memset(&q, 0, sizeof(q));
      q.cnt = static_cast<__u32>(op.len);
      q.heaps = heaps;
      q.reserved0 = static_cast<__u32>(op.align);
      res->err = Call(p, fd, ION_IOC_HEAP_QUERY, &q, sizeof(q), &ret);
      if (res->err != 0) return;
      res->value = q.cnt;
      if (!want_text) return;
      details_ = " cnt=" + std::to_string(q.cnt);
      if (op.arg == ArgMode::kBuf && q.cnt > 0) {
        const size_t n = std::min<size_t>(q.cnt, (kScratchBytes - kQueryHeapsOffset) / sizeof(ion_heap_data));
        std::vector<ion_heap_data> data(n);
        if (!backend_->peek(p->pid, heaps, data.data(), n * sizeof(ion_heap_data)).ok()) return;
        details_ += " heaps=";
        for (size_t i = 0; i < n; ++i) {
          const ion_heap_data& h = data[i];
          if (i) details_ += ',';
          details_.append(h.name, strnlen(h.name, MAX_HEAP_NAME));
          details_ += ':' + std::to_string(h.type) + ':' + std::to_string(h.heap_id);
          if (h.reserved0 || h.reserved1 || h.reserved2) {
            details_ += ":r=" + std::to_string(h.reserved0) + '/' + std::to_string(h.reserved1) + '/' +
                        std::to_string(h.reserved2);
          }
        }
      }
      return;
    }
    case OpKind::kIoctl: {
      const uint64_t user = Scratch(p, &err);
      if (user == 0) {
        res->err = err;
        return;
      }
      uint64_t arg = 0;
      const size_t size = static_cast<size_t>(op.len);
      switch (op.arg) {
        case ArgMode::kBuf: {
          arg = user;
          std::memset(buf_.get(), 0, size);
          if (!op.bytes.empty()) std::memcpy(buf_.get(), op.bytes.data(), op.bytes.size());
          if (size > 0) {
            Errno e = backend_->poke(p->pid, user, buf_.get(), size);
            if (!e.ok()) {
              set_err(e);
              return;
            }
          }
          break;
        }
        case ArgMode::kNull:
          break;
        case ArgMode::kBad:
          arg = kBadUserAddress;
          break;
        case ArgMode::kRo:
          arg = ReadOnly(p, &err);
          if (arg == 0) {
            res->err = err;
            return;
          }
          break;
        case ArgMode::kMap:
          arg = (vals_[op.b.sym].bound ? static_cast<uint64_t>(vals_[op.b.sym].v) : 0) + op.off;
          break;
      }
      ErrnoOr<long> r = backend_->ioctl(p->pid, fd, static_cast<unsigned int>(op.mask), arg);
      if (!r.ok()) {
        set_err(r.error());
        return;
      }
      res->value = r.value();
      if (!want_text) return;
      details_ = " ret=" + std::to_string(r.value());
      if (op.arg == ArgMode::kBuf && size > 0 && backend_->peek(p->pid, user, buf_.get(), size).ok()) {
        details_ += " out=hex:";
        AppendHex(&details_, buf_.get(), size);
      }
      return;
    }
    case OpKind::kMmap: {
      ErrnoOr<uint64_t> addr = backend_->mmap(p->pid, 0, static_cast<size_t>(op.len), op.prot,
                                              static_cast<int>(op.flags), fd, op.off);
      if (!addr.ok()) set_err(addr.error());
      bind(psym, addr.ok() ? static_cast<int64_t>(addr.value()) : 0, op.len);
      return;
    }
    case OpKind::kMunmap: {
      const Val& m = vals_[op.a.sym];
      const uint64_t base = m.bound ? static_cast<uint64_t>(m.v) : 0;
      const uint64_t len = op.has_len ? op.len : (op.off < m.len ? m.len - op.off : 0);
      set_err(backend_->munmap(p->pid, base + op.off, static_cast<size_t>(len)));
      return;
    }
    case OpKind::kStore:
    case OpKind::kLoad: {
      const Val& m = vals_[op.a.sym];
      uint64_t addr = (m.bound ? static_cast<uint64_t>(m.v) : 0) + op.off;
      uint64_t left = op.len;
      uint32_t crc = 0;
      if (op.kind == OpKind::kStore) {
        if (!op.bytes.empty()) {
          set_err(backend_->poke(p->pid, addr, op.bytes.data(), op.bytes.size()));
          return;
        }
        std::memset(buf_.get(), op.byte, std::min<uint64_t>(left, kScratchBytes));
      }
      while (left > 0) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(left, kScratchBytes));
        Errno e = op.kind == OpKind::kStore ? backend_->poke(p->pid, addr, buf_.get(), n)
                                            : backend_->peek(p->pid, addr, buf_.get(), n);
        if (!e.ok()) {
          set_err(e);
          return;
        }
        if (op.kind == OpKind::kLoad) crc = Crc32(crc, buf_.get(), n);
        addr += n;
        left -= n;
      }
      if (op.kind == OpKind::kLoad) {
        res->value = crc;
        if (want_text) {
          char b[24];
          std::snprintf(b, sizeof(b), " crc=0x%08x", crc);
          details_ = b;
        }
      }
      return;
    }
    case OpKind::kDmabufSync: {
      uint64_t flags = op.flags;
      res->err = Call(p, fd, kDmaBufIoctlSync, &flags, sizeof(flags), &ret);
      return;
    }
    default:
      res->err = EINVAL;
      return;
  }
}

std::vector<std::string> ResultsOfOutput(const std::string& output) {
  std::vector<std::string> results;
  size_t start = 0;
  while (start < output.size()) {
    size_t end = output.find('\n', start);
    if (end == std::string::npos) end = output.size();
    const std::string line = output.substr(start, end - start);
    start = end + 1;
    if (line.empty() || line[0] == ' ') continue;
    const size_t arrow = line.find(" => ");
    results.push_back(arrow == std::string::npos ? "" : line.substr(arrow + 4));
  }
  return results;
}

}  // namespace ionsim::trace
