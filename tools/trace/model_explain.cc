// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "tools/trace/model_explain.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "model/ion_priv.h"
#include "model/kernel/dma_buf.h"
#include "model/kernel/fs.h"
#include "model/kernel/mm_user.h"
#include "model/kernel/sched.h"

namespace ionsim::trace {

namespace k = ::ionsim::kernel;

namespace {


std::string Size(uint64_t v) {
  if (v != 0 && v % (1ULL << 20) == 0) return std::to_string(v >> 20) + "M";
  if (v != 0 && v % (1ULL << 10) == 0) return std::to_string(v >> 10) + "K";
  return std::to_string(v);
}

// A process of the trace: its symbol, task and what it holds.
struct Proc {
  std::string sym;
  k::task_struct* task = nullptr;
  std::vector<std::pair<int, k::file*>> fds;  // open fds, ascending
  struct Vma {
    unsigned long start, end, pgoff;
    k::file* file;
  };
  std::vector<Vma> vmas;
};

struct Snapshot {
  std::vector<Proc> procs;
  std::vector<k::dma_buf*> dmabufs;  // ION's, in db_list order
};

void CollectDmaBuf(k::dma_buf* dmabuf, void* data) {
  if (dmabuf->exp_name != nullptr && std::strcmp(dmabuf->exp_name, "ion") == 0) {
    static_cast<Snapshot*>(data)->dmabufs.push_back(dmabuf);
  }
}

Snapshot Take(ModelBackend* model, const std::vector<Binding>& bindings) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  Snapshot s;
  std::set<ProcId> seen;
  for (const Binding& b : bindings) {
    if (b.kind != SymKind::kProcess || !seen.insert(b.pid).second) continue;
    k::task_struct* t = model->task(b.pid);
    if (t == nullptr || t->exited) continue;
    Proc p;
    p.sym = b.name;
    p.task = t;
    if (t->files != nullptr) {
      spin_lock(&t->files->file_lock);
      for (size_t fd = 0; fd < t->files->fd.size(); ++fd) {
        if (t->files->fd[fd] != nullptr) p.fds.emplace_back(static_cast<int>(fd), t->files->fd[fd]);
      }
      spin_unlock(&t->files->file_lock);
    }
    if (t->mm != nullptr) {
      down_read(&t->mm->mmap_sem);
      for (const auto& [start, vma] : t->mm->vmas) {
        if (vma->vm_file != nullptr) p.vmas.push_back({vma->vm_start, vma->vm_end, vma->vm_pgoff, vma->vm_file});
      }
      up_read(&t->mm->mmap_sem);
    }
    s.procs.push_back(std::move(p));
  }
  k::dma_buf_for_each(CollectDmaBuf, &s);
  return s;
}

std::string ProcName(const Proc& p) { return p.sym + " (" + p.task->comm + ")"; }

// The binding of fd `fd` in process `sym`, or nullptr.
const Binding* FdBinding(const std::vector<Binding>& bindings, const std::string& sym, int fd) {
  for (const Binding& b : bindings) {
    if (b.kind == SymKind::kFd && b.process == sym && b.value == fd) return &b;
  }
  return nullptr;
}

const Binding* MapBinding(const std::vector<Binding>& bindings, const std::string& sym, unsigned long start) {
  for (const Binding& b : bindings) {
    if (b.kind == SymKind::kMapping && b.process == sym && static_cast<uint64_t>(b.value) <= start &&
        start < static_cast<uint64_t>(b.value) + b.len) {
      return &b;
    }
  }
  return nullptr;
}

std::string From(const Binding* b, const char* otherwise) {
  if (b == nullptr) return std::string(" -- ") + otherwise;
  return " -- " + b->name + " from line " + std::to_string(b->line) + " `" + b->op + "`";
}

// The process and fd a client is open at (the first, in process order).
std::string ClientWhere(const Snapshot& s, const std::vector<Binding>& bindings, const k::ion_client* client,
                        const Proc** proc, int* fd_out) {
  for (const Proc& p : s.procs) {
    for (const auto& [fd, file] : p.fds) {
      if (file->private_data == client) {
        *proc = &p;
        *fd_out = fd;
        const Binding* b = FdBinding(bindings, p.sym, fd);
        return "fd " + std::to_string(fd) + " of " + ProcName(p) +
               (b != nullptr ? " (" + b->name + ", line " + std::to_string(b->line) + ")" : std::string());
      }
    }
  }
  return "no open fd (the client is being released)";
}

std::string ExplainBuffer(const Snapshot& s, const std::vector<Binding>& bindings, k::ion_device* dev,
                          k::ion_buffer* buffer, bool on_free_list) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  std::string out;
  mutex_lock(&buffer->lock);
  const int kmap_cnt = buffer->kmap_cnt;
  const int handle_count = buffer->handle_count;
  mutex_unlock(&buffer->lock);
  out += absl::StrFormat("b%lu: %s heap %s, flags %#lx%s, ref %d, handle_count %d, kmap_cnt %d", buffer->serial,
                Size(buffer->size).c_str(), buffer->heap->name, buffer->flags, (buffer->flags & 1) ? " (cached)" : "",
                k::kref_read(&buffer->ref), handle_count, kmap_cnt);
  // v4.4 records the last client to drop a handle (ion_buffer_remove_from_handle): an orphan's "owner".
  if (handle_count == 0 && buffer->task_comm[0] != '\0') {
    out += absl::StrFormat(", no handle left: the last was dropped by %s", buffer->task_comm);
  }
  out += "\n";
  if (on_free_list) {
    out += absl::StrFormat("  on the deferred-free list of heap %s: no reference is left; the heap's free thread frees it\n",
                  buffer->heap->name);
    return out;
  }
  // Handles, client by client.
  down_read(&dev->lock);
  std::vector<k::ion_client*> clients;
  for (k::rb_node* n = k::rb_first(&dev->clients); n; n = k::rb_next(n)) {
    clients.push_back(rb_entry(n, k::ion_client, node));
  }
  std::sort(clients.begin(), clients.end(),
            [](const k::ion_client* a, const k::ion_client* b) { return a->serial < b->serial; });
  for (k::ion_client* client : clients) {
    mutex_lock(&client->lock);
    std::vector<k::ion_handle*> handles;
    for (k::rb_node* n = k::rb_first(&client->handles); n; n = k::rb_next(n)) {
      k::ion_handle* h = rb_entry(n, k::ion_handle, node);
      if (h->buffer == buffer) handles.push_back(h);
    }
    for (k::ion_handle* h : handles) {
      const Proc* proc = nullptr;
      int fd = -1;
      const std::string where = ClientWhere(s, bindings, client, &proc, &fd);
      const Binding* hb = nullptr;
      for (const Binding& b : bindings) {
        if (b.kind == SymKind::kHandle && b.value == h->id && proc != nullptr && b.process == proc->sym &&
            b.client_fd == fd) {
          hb = &b;
        }
      }
      out += absl::StrFormat("  handle id=%d refs=%d kmap_cnt=%u of client c%lu (opened by %s), at %s", h->id,
                    k::kref_read(&h->ref), h->kmap_cnt, client->serial, client->task ? client->task->comm : "kernel",
                    where.c_str());
      out += From(hb, "no operation of the trace bound it") + "\n";
    }
    mutex_unlock(&client->lock);
  }
  up_read(&dev->lock);
  // dma-bufs.
  int n = 0;
  for (k::dma_buf* dmabuf : s.dmabufs) {
    if (dmabuf->priv != buffer) continue;
    ++n;
    long fds = 0;
    long maps = 0;
    std::string lines;
    for (const Proc& p : s.procs) {
      for (const auto& [fd, file] : p.fds) {
        if (file != dmabuf->file) continue;
        ++fds;
        lines += "    fd " + std::to_string(fd) + " of " + ProcName(p) +
                 From(FdBinding(bindings, p.sym, fd), "inherited (fork) or received without a binding") + "\n";
      }
      for (const Proc::Vma& v : p.vmas) {
        if (v.file != dmabuf->file) continue;
        ++maps;
        lines += "    mapping of " + Size(v.end - v.start) + " at page " + std::to_string(v.pgoff) + " in " +
                 ProcName(p) + From(MapBinding(bindings, p.sym, v.start), "inherited (fork) without a binding") +
                 "\n";
      }
    }
    mutex_lock(&dmabuf->lock);
    std::vector<std::string> devices;
    k::dma_buf_attachment* a;
    list_for_each_entry(a, &dmabuf->attachments, node) devices.push_back(a->dev ? a->dev->name : "?");
    const unsigned int vmaps = dmabuf->vmapping_counter;
    mutex_unlock(&dmabuf->lock);
    const long f_count = dmabuf->file->f_count.load();
    std::string att;
    for (const std::string& d : devices) att += (att.empty() ? "" : ",") + d;
    out += absl::StrFormat("  dma-buf %d (exporter ion, size %s, file count %ld: %ld fd, %ld mapping, %ld other), "
                  "attachments %zu%s%s, vmap %u\n",
                  n, Size(dmabuf->size).c_str(), f_count, fds, maps, f_count - fds - maps, devices.size(),
                  att.empty() ? "" : ": ", att.c_str(), vmaps);
    out += lines;
    if (f_count - fds - maps > 0) {
      out += "    " + std::to_string(f_count - fds - maps) +
             " reference(s) held in the kernel (a driver's dma_buf_get" +
             (att.empty() ? std::string() : ": attached " + att) + "; a file being passed or closed)\n";
    }
  }
  if (n == 0) out += "  no dma-buf\n";
  return out;
}

std::string Table(const Snapshot& s, const std::vector<Binding>& bindings, const std::vector<k::ion_buffer*>& bufs,
                  k::ion_device* dev) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  // Per process and buffer: how the process holds it.
  std::vector<std::vector<std::string>> cells(s.procs.size(), std::vector<std::string>(bufs.size()));
  auto add = [&cells](size_t p, size_t b, const char* how) {
    std::string& c = cells[p][b];
    if (c.find(how) == std::string::npos) c += (c.empty() ? "" : "+") + std::string(how);
  };
  for (size_t b = 0; b < bufs.size(); ++b) {
    for (k::dma_buf* dmabuf : s.dmabufs) {
      if (dmabuf->priv != bufs[b]) continue;
      for (size_t p = 0; p < s.procs.size(); ++p) {
        for (const auto& [fd, file] : s.procs[p].fds) {
          if (file == dmabuf->file) add(p, b, "fd");
        }
        for (const Proc::Vma& v : s.procs[p].vmas) {
          if (v.file == dmabuf->file) add(p, b, "map");
        }
      }
    }
  }
  down_read(&dev->lock);
  for (k::rb_node* n = k::rb_first(&dev->clients); n; n = k::rb_next(n)) {
    k::ion_client* client = rb_entry(n, k::ion_client, node);
    mutex_lock(&client->lock);
    for (k::rb_node* h = k::rb_first(&client->handles); h; h = k::rb_next(h)) {
      k::ion_handle* handle = rb_entry(h, k::ion_handle, node);
      for (size_t b = 0; b < bufs.size(); ++b) {
        if (handle->buffer != bufs[b]) continue;
        for (size_t p = 0; p < s.procs.size(); ++p) {
          for (const auto& [fd, file] : s.procs[p].fds) {
            if (file->private_data == client) add(p, b, "handle");
          }
        }
      }
    }
    mutex_unlock(&client->lock);
  }
  up_read(&dev->lock);
  (void)bindings;
  std::string out = "dma-buf and ION usage by process (columns: buffers; fd, map: through a dma-buf fd or mapping; "
                    "handle: through a client the process has open)\n";
  std::vector<std::string> head{"process"};
  for (k::ion_buffer* b : bufs) head.push_back(absl::StrFormat("b%lu(%s)", b->serial, Size(b->size).c_str()));
  head.push_back("total");
  std::vector<std::vector<std::string>> rows{head};
  std::vector<int> holders(bufs.size(), 0);
  for (size_t p = 0; p < s.procs.size(); ++p) {
    std::vector<std::string> row{ProcName(s.procs[p])};
    uint64_t total = 0;
    for (size_t b = 0; b < bufs.size(); ++b) {
      row.push_back(cells[p][b].empty() ? "-" : cells[p][b]);
      if (!cells[p][b].empty()) {
        total += bufs[b]->size;
        holders[b]++;
      }
    }
    row.push_back(Size(total));
    rows.push_back(row);
  }
  std::vector<std::string> share{"processes"};
  for (size_t b = 0; b < bufs.size(); ++b) share.push_back(std::to_string(holders[b]));
  share.push_back("");
  rows.push_back(share);
  std::vector<size_t> width(head.size(), 0);
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

}  // namespace

std::string ExplainModel(ModelBackend* model, const Op& op, const std::vector<Binding>& bindings)
    ABSL_NO_THREAD_SAFETY_ANALYSIS {
  k::ion_device* dev = model->device();
  if (dev == nullptr) return "no ION device\n";
  const Snapshot s = Take(model, bindings);
  std::vector<k::ion_buffer*> live;
  mutex_lock(&dev->buffer_lock);
  for (k::rb_node* n = k::rb_first(&dev->buffers); n; n = k::rb_next(n)) {
    live.push_back(rb_entry(n, k::ion_buffer, node));
  }
  mutex_unlock(&dev->buffer_lock);
  std::sort(live.begin(), live.end(),
            [](const k::ion_buffer* a, const k::ion_buffer* b) { return a->serial < b->serial; });
  if (op.flags == 1) return Table(s, bindings, live, dev);
  // The deferred-free lists.
  std::vector<k::ion_buffer*> freeing;
  down_read(&dev->lock);
  k::ion_heap* heap;
  plist_for_each_entry(heap, &dev->heaps, node) {
    if (!(heap->flags & k::ION_HEAP_FLAG_DEFER_FREE)) continue;  // only those heaps have a free list
    spin_lock(&heap->free_lock);
    k::ion_buffer* b;
    list_for_each_entry(b, &heap->free_list, list) freeing.push_back(b);
    spin_unlock(&heap->free_lock);
  }
  up_read(&dev->lock);
  std::sort(freeing.begin(), freeing.end(),
            [](const k::ion_buffer* a, const k::ion_buffer* b) { return a->serial < b->serial; });
  std::string out;
  for (k::ion_buffer* b : live) {
    if (op.id == 0 || b->serial == static_cast<unsigned long>(op.id)) out += ExplainBuffer(s, bindings, dev, b, false);
  }
  for (k::ion_buffer* b : freeing) {
    if (op.id == 0 || b->serial == static_cast<unsigned long>(op.id)) out += ExplainBuffer(s, bindings, dev, b, true);
  }
  if (out.empty()) out = op.id == 0 ? "no buffer\n" : "b" + std::to_string(op.id) + ": no such buffer\n";
  return out;
}

}  // namespace ionsim::trace
