// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The Executor's device operations (docs/trace.md, "Devices"), kept apart from the ION operations.
#include <cstdio>

#include "tools/trace/executor.h"

namespace ionsim::trace {

std::vector<Binding> Executor::Bindings(const Trace& trace) const {
  std::vector<const Op*> binder(trace.symbols.size(), nullptr);
  for (const Op& op : trace.ops) {
    if (op.bind >= 0) binder[static_cast<size_t>(op.bind)] = &op;
  }
  std::vector<Binding> out;
  for (size_t i = 0; i < trace.symbols.size() && i < vals_.size(); ++i) {
    const Val& v = vals_[i];
    const SymKind kind = trace.symbols[i].kind;
    if (!v.bound || binder[i] == nullptr) continue;
    if (kind == SymKind::kDevice || kind == SymKind::kAttachment) continue;
    Binding b;
    b.name = trace.symbols[i].name;
    b.kind = kind;
    b.line = binder[i]->line;
    b.op = FormatOp(trace, *binder[i]);
    b.value = v.v;
    b.len = v.len;
    const int32_t psym = kind == SymKind::kProcess ? static_cast<int32_t>(i) : v.proc;
    if (psym < 0 || static_cast<size_t>(psym) >= procs_.size()) continue;
    b.pid = procs_[static_cast<size_t>(psym)].pid;
    b.process = trace.symbols[static_cast<size_t>(psym)].name;
    if (kind == SymKind::kHandle) b.client_fd = Fd(binder[i]->a);
    out.push_back(std::move(b));
  }
  return out;
}

void Executor::StepDevice(const Trace& /*trace*/, const Op& op, OpResult* res, bool want_text) {
  TraceDevices* devices = options_.devices;
  auto set_err = [res](Errno e) { res->err = e.code(); };
  // A symbol of a failed binding stays unbound; an operation on it gets EINVAL from the device.
  auto id_of = [this](const SymRef& r) { return vals_[r.sym].bound ? static_cast<int>(vals_[r.sym].v) : -1; };
  auto bind = [&](int64_t v) {
    if (op.bind < 0) return;
    Val& val = vals_[op.bind];
    val.bound = res->err == 0;
    val.v = val.bound ? v : -1;
  };
  switch (op.kind) {
    case OpKind::kDevice: {
      ErrnoOr<int> d = devices->Create(op.text);
      if (!d.ok()) set_err(d.error());
      bind(d.ok() ? d.value() : -1);
      return;
    }
    case OpKind::kAttach: {
      // The fd is taken in the process that holds it (F, or F@P).
      Proc* p = ProcState(ProcOf(op.b));
      if (p == nullptr) {
        res->err = ESRCH;
        bind(-1);
        return;
      }
      ErrnoOr<int> a = devices->Attach(id_of(op.a), p->pid, Fd(op.b));
      if (!a.ok()) set_err(a.error());
      bind(a.ok() ? a.value() : -1);
      return;
    }
    case OpKind::kDevMap:
      set_err(devices->Map(id_of(op.a), static_cast<int>(op.flags)));
      return;
    case OpKind::kDevUnmap:
      set_err(devices->Unmap(id_of(op.a)));
      return;
    case OpKind::kDevWrite:
      set_err(devices->Write(id_of(op.a), op.off, op.len, op.byte));
      return;
    case OpKind::kDevRead: {
      ErrnoOr<uint32_t> crc = devices->Read(id_of(op.a), op.off, op.len);
      if (!crc.ok()) {
        set_err(crc.error());
        return;
      }
      res->value = crc.value();
      if (want_text) {
        char b[24];
        std::snprintf(b, sizeof(b), " crc=0x%08x", crc.value());
        details_ = b;
      }
      return;
    }
    case OpKind::kDevSync:
      set_err(devices->Sync(id_of(op.a), op.flags != 0));
      return;
    case OpKind::kDetach:
      set_err(devices->Detach(id_of(op.a)));
      return;
    default:
      res->err = EINVAL;
      return;
  }
}

}  // namespace ionsim::trace
