// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "tools/ionsim/workload.h"

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "kmod/ion_board.h"
#include "kmod/uapi/ion.h"
#include "model/backend/board_config.h"
#include "model/backend/libion.h"
#include "model/backend/model_backend.h"
#include "model/ion_priv.h"
#include "model/kernel/bug.h"
#include "model/kernel/cpu_cache.h"
#include "model/kernel/debugfs.h"
#include "model/kernel/dma_buf.h"
#include "model/kernel/fs.h"
#include "model/kernel/genalloc.h"
#include "model/kernel/idr.h"
#include "model/kernel/mm.h"
#include "model/kernel/mm_user.h"
#include "model/kernel/sched.h"
#include "model/kernel/slab.h"
#include "tools/ionsim/heap_svg.h"
#include "tools/ionsim/json.h"
#include "tools/trace/model_devices.h"

namespace ionsim {
namespace {

namespace k = ::ionsim::kernel;

constexpr int kProtRw = static_cast<int>(k::PROT_READ | k::PROT_WRITE);
constexpr int kMapShared = static_cast<int>(k::MAP_SHARED);
// CAF msm's ION_CP_MM_HEAP_ID (include/linux/msm_ion.h): the content-protection heap Qualcomm codecs ask for
// secure playback. Boards without it answer ENODEV.
constexpr unsigned int kSecureVideoHeapId = 8;

// The board format's keyword for a heap type (kmod/ion_board.h), "custom" beyond it.
const char* TypeName(unsigned int type) {
  if (type > ION_BOARD_HEAP_DMA) return "custom";
  return ion_board_heap_type_name(static_cast<enum ion_board_heap_type>(type));
}

// splitmix64: the workload's only source of randomness.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

 private:
  uint64_t state_;
};

// FNV-1a over a byte range: what a producer wrote and what a consumer read must hash the same.
uint64_t Hash(const std::vector<uint8_t>& data) {
  uint64_t h = 0xCBF29CE484222325ULL;
  for (uint8_t b : data) h = (h ^ b) * 0x100000001B3ULL;
  return h;
}

size_t Nv12Bytes(int width, int height) { return static_cast<size_t>(width) * height * 3 / 2; }

struct Process {
  std::string comm;
  ProcId pid = 0;
  std::unique_ptr<LibIon> ion;
  int ion_fd = -1;
  bool alive = false;
};

// An allocation as its allocator holds it.
struct Buffer {
  std::string what;
  size_t len = 0;
  int handle = -1;
  int fd = -1;        // the dma-buf fd from ION_IOC_SHARE, or -1
  uint64_t addr = 0;  // the process's mapping, or 0
  unsigned int heap_id = 0;
  uint64_t hash = 0;  // of the last frame written
};

// A producer's buffer as the compositor holds it: the fd it received, its import (camera buffers only), its mapping.
struct Received {
  int fd = -1;
  int handle = -1;
  uint64_t addr = 0;
  size_t len = 0;
};

struct Failure {
  std::string frame;
  std::string proc;
  std::string what;
  size_t len = 0;
  size_t align = 0;
  unsigned int mask = 0;
  unsigned int flags = 0;
  std::string error;
  std::string why;
};

struct HeapStats {
  unsigned int id = 0;
  std::string name;
  unsigned int type = 0;
  int allocs = 0;
  uint64_t bytes = 0;  // sum of the sizes of the buffers this heap served
  uint64_t held = 0;   // live buffers plus the deferred-free list, now
  uint64_t peak = 0;
  std::set<unsigned long> free_list;  // serials on the deferred-free list at the last sample
};

enum class DrainCause { kOther, kAllocation, kThread };

class Workload {
 public:
  explicit Workload(const WorkloadOptions& options) : options_(options), rng_(options.seed) {}
  WorkloadResult Run();

 private:
  template <typename... Args>
  void Out(const absl::FormatSpec<Args...>& format, const Args&... args) {
    absl::StrAppendFormat(&result_.report, format, args...);
  }
  void Event(const std::string& text);
  void Error(const std::string& text);
  std::string FrameName() const { return frame_ < 0 ? "setup" : absl::StrFormat("frame %d", frame_); }

  // After every operation: the invariant checker, then the heaps' usage and deferred-free lists.
  void Step(const std::string& op);
  void SampleHeaps();

  bool Spawn(Process* p, const std::string& comm);
  std::optional<Buffer> Alloc(Process* p, const std::string& what, size_t len, size_t align, unsigned int mask,
                              unsigned int flags);
  // Alloc, then SHARE and mmap the dma-buf fd, and check the new buffer reads back zeroed.
  std::optional<Buffer> NewSharedBuffer(Process* p, const std::string& what, size_t len, unsigned int mask,
                                        unsigned int flags);
  void ReleaseBuffer(Process* p, Buffer* b);
  uint64_t Map(Process* p, int fd, size_t len);
  uint64_t Write(Process* p, uint64_t addr, size_t len, uint64_t seed);
  std::optional<uint64_t> ReadHash(Process* p, uint64_t addr, size_t len);
  bool ReadsZero(Process* p, uint64_t addr, size_t len);
  // Sends a producer's buffer to the compositor the first time it is queued (BufferQueue's slot cache).
  Received* Deliver(Process* from, const Buffer& b, std::map<int, Received>* cache, int slot, bool import);
  void Drop(Received* r);
  void RunDeferredThread();

  // The mask bit of the first heap of `type` in HEAP_QUERY order whose name contains one of `names`, else of the
  // first heap of that type; 0 when the board has none.
  unsigned int PickHeap(unsigned int type, const std::vector<std::string>& names) const;
  // White-box: the buffer behind a handle id of a process's client.
  k::ion_buffer* BufferOf(const Process& p, int handle);
  std::string Explain(size_t len, size_t align, unsigned int mask);
  std::string HeapWhy(k::ion_heap* heap, size_t len, size_t align);
  int CountOrphans();
  size_t LiveBuffers();

  void Setup();
  void ConfigureCamera(int width, int height);
  void ConfigureVideo(int width, int height);
  void ReleaseCameraRing();
  void ReleaseVideoOutputs();
  void StillCapture(int width, int height);
  void CameraFrame(int f);
  void VideoFrame(int f);
  void Compose(int f);
  void CodecDies();
  void VpuDecode(int f, size_t au);
  void VpuDetach();
  void Summary();
  void DebugfsViews();
  void Teardown();

  WorkloadOptions options_;
  Rng rng_;
  WorkloadResult result_;
  std::unique_ptr<ModelBackend> backend_;
  ModelConfig config_;  // the machine the run boots (the board, with the profile it runs)
  int frame_ = -1;

  Process sf_, cam_, codec_;
  unsigned int system_mask_ = 0, contig_mask_ = 0, carveout_mask_ = 0, chunk_mask_ = 0, video_carveout_mask_ = 0;
  std::vector<ion_heap_data> heaps_;  // as HEAP_QUERY reported them
  std::map<unsigned int, HeapStats> stats_;
  std::vector<Failure> failures_;

  std::vector<Buffer> framebuffers_;
  std::vector<Buffer> camera_ring_;
  std::string camera_mode_;
  std::optional<Buffer> still_;
  size_t still_align_ = 1 << 20;
  Buffer bitstream_;
  // The video decoder's hardware (VPU): it reads each access unit from the bitstream buffer by DMA, mapping its
  // attachment for every frame as a V4L2 driver maps a queued dma-buf; the coherency oracle checks the reads.
  std::unique_ptr<trace::ModelDevices> devices_;
  int vpu_ = -1;
  int vpu_attachment_ = -1;
  std::vector<Buffer> video_out_;
  std::string video_mode_;
  std::map<int, Received> sf_camera_;  // slot -> received
  std::map<int, Received> sf_video_;
  int last_camera_slot_ = -1, last_video_slot_ = -1;

  // Counters for the summary.
  int passes_ = 0, imports_ = 0, mmaps_ = 0, zero_checked_ = 0, zero_failed_ = 0;
  int queued_ = 0, drained_by_thread_ = 0, drained_by_alloc_ = 0, drained_other_ = 0;
  uint64_t queued_bytes_ = 0, thread_bytes_ = 0, alloc_bytes_ = 0;
  int thread_runs_ = 0, thread_chances_ = 0;
  DrainCause cause_ = DrainCause::kOther;
  std::map<unsigned long, size_t> listed_size_;  // serial -> size of buffers seen on a free list
  std::string frame_note_;
};

void Workload::Event(const std::string& text) { result_.report += "  " + FrameName() + ": " + text + "\n"; }

void Workload::Error(const std::string& text) {
  ++result_.setup_errors;
  Event("ERROR: " + text);
}

void Workload::Step(const std::string& op) {
  ++result_.operations;
  const std::string violations = backend_->check_invariants();
  size_t start = 0;
  while (start < violations.size()) {
    size_t end = violations.find('\n', start);
    if (end == std::string::npos) end = violations.size();
    result_.invariant_violations.push_back(FrameName() + ", after " + op + ": " +
                                           violations.substr(start, end - start));
    start = end + 1;
  }
  SampleHeaps();
}

void Workload::SampleHeaps() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  k::ion_device* dev = backend_->device();
  std::map<const k::ion_heap*, uint64_t> live;
  k::mutex_lock(&dev->buffer_lock);
  for (struct k::rb_node* n = k::rb_first(&dev->buffers); n; n = k::rb_next(n)) {
    const k::ion_buffer* buffer = rb_entry(n, struct k::ion_buffer, node);
    live[buffer->heap] += buffer->size;
  }
  k::mutex_unlock(&dev->buffer_lock);
  for (auto& [id, s] : stats_) {
    k::ion_heap* heap = backend_->heap(id);
    std::set<unsigned long> listed;
    s.held = live[heap];
    s.peak = std::max(s.peak, s.held);
    // Only DEFER_FREE heaps have a free list (ion_heap_init_deferred_free initialises it).
    if (!(heap->flags & k::ION_HEAP_FLAG_DEFER_FREE)) continue;
    k::spin_lock(&heap->free_lock);
    const k::ion_buffer* buffer;
    list_for_each_entry(buffer, &heap->free_list, list) {
      listed.insert(buffer->serial);
      listed_size_[buffer->serial] = buffer->size;
    }
    const uint64_t listed_bytes = heap->free_list_size;
    k::spin_unlock(&heap->free_lock);
    s.held = live[heap] + listed_bytes;
    s.peak = std::max(s.peak, s.held);
    for (unsigned long serial : listed) {
      if (!s.free_list.count(serial)) {
        ++queued_;
        queued_bytes_ += listed_size_[serial];
      }
    }
    for (unsigned long serial : s.free_list) {
      if (listed.count(serial)) continue;
      switch (cause_) {
        case DrainCause::kThread:
          ++drained_by_thread_;
          thread_bytes_ += listed_size_[serial];
          break;
        case DrainCause::kAllocation:
          ++drained_by_alloc_;
          alloc_bytes_ += listed_size_[serial];
          break;
        case DrainCause::kOther:
          ++drained_other_;
          break;
      }
    }
    s.free_list = std::move(listed);
  }
}

unsigned int Workload::PickHeap(unsigned int type, const std::vector<std::string>& names) const {
  unsigned int first = 0;
  for (const ion_heap_data& h : heaps_) {
    if (h.type != type || h.heap_id >= 32) continue;
    for (const std::string& name : names) {
      if (std::strstr(h.name, name.c_str())) return 1U << h.heap_id;
    }
    if (!first) first = 1U << h.heap_id;
  }
  return first;
}

bool Workload::Spawn(Process* p, const std::string& comm) {
  ErrnoOr<ProcId> pid = backend_->spawn(comm);
  if (!pid.ok()) {
    Error("spawn " + comm + ": " + pid.error().name());
    return false;
  }
  p->comm = comm;
  p->pid = pid.value();
  p->ion = std::make_unique<LibIon>(backend_.get(), p->pid);
  p->alive = true;
  ErrnoOr<int> fd = p->ion->Open();
  Step(comm + " open /dev/ion");
  if (!fd.ok()) {
    Error(comm + ": open /dev/ion: " + fd.error().name());
    return false;
  }
  p->ion_fd = fd.value();
  return true;
}

k::ion_buffer* Workload::BufferOf(const Process& p, int handle) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  k::task_struct* task = backend_->task(p.pid);
  if (!task) return nullptr;
  k::current_task_scope scope(task);
  k::file* f = k::fget(static_cast<unsigned int>(p.ion_fd));
  if (!f) return nullptr;
  auto* client = static_cast<k::ion_client*>(f->private_data);
  k::mutex_lock(&client->lock);
  auto* h = static_cast<k::ion_handle*>(k::idr_find(&client->idr, handle));
  k::ion_buffer* buffer = h ? h->buffer : nullptr;
  k::mutex_unlock(&client->lock);
  k::fput(f);
  return buffer;
}

std::string Workload::HeapWhy(k::ion_heap* heap, size_t len, size_t align) {
  const uint64_t need = k::PAGE_ALIGN(len);
  const std::string name = heap->name;
  switch (heap->type) {
    case ION_HEAP_TYPE_CARVEOUT: {
      if (align > k::PAGE_SIZE) {
        return absl::StrFormat("%s: align %s > PAGE_SIZE is refused (EINVAL)", name.c_str(), FormatBytes(align).c_str());
      }
      ErrnoOr<HeapPicture> pic = CaptureHeapPicture(backend_.get(), heap->id);
      if (!pic.ok()) return name + ": no picture";
      const uint64_t free = FreeBytes(pic.value());
      const uint64_t largest = LargestFreeExtent(pic.value());
      if (largest >= need) {
        return absl::StrFormat("%s: has a free extent of %s, enough for %s", name.c_str(), FormatBytes(largest).c_str(),
                      FormatBytes(need).c_str());
      }
      if (free >= need) {
        return absl::StrFormat("%s: %s free, but the largest free extent is %s < %s needed: fragmented (ENOMEM)",
                      name.c_str(), FormatBytes(free).c_str(), FormatBytes(largest).c_str(),
                      FormatBytes(need).c_str());
      }
      return absl::StrFormat("%s: only %s free < %s needed (ENOMEM)", name.c_str(), FormatBytes(free).c_str(),
                    FormatBytes(need).c_str());
    }
    case ION_HEAP_TYPE_CHUNK: {
      const unsigned long chunk = k::ion_chunk_heap_chunk_size(heap);
      if (align > chunk) {
        return absl::StrFormat("%s: align %s > the %s chunk is refused (EINVAL)", name.c_str(), FormatBytes(align).c_str(),
                      FormatBytes(chunk).c_str());
      }
      const uint64_t rounded = (need + chunk - 1) / chunk * chunk;
      const uint64_t size = k::gen_pool_size(k::ion_chunk_heap_pool(heap));
      const uint64_t left = size - k::ion_chunk_heap_allocated(heap);
      if (rounded > left) {
        return absl::StrFormat("%s: %s unallocated < %s needed (%" PRIu64 " chunks of %s) (ENOMEM)", name.c_str(),
                      FormatBytes(left).c_str(), FormatBytes(rounded).c_str(), rounded / chunk,
                      FormatBytes(chunk).c_str());
      }
      return absl::StrFormat("%s: %s unallocated, enough for %s", name.c_str(), FormatBytes(left).c_str(),
                    FormatBytes(rounded).c_str());
    }
    case ION_HEAP_TYPE_SYSTEM:
      if (align > k::PAGE_SIZE) {
        return absl::StrFormat("%s: align %s > PAGE_SIZE is refused (EINVAL)", name.c_str(), FormatBytes(align).c_str());
      }
      return name + ": out of pages (ENOMEM)";
    case ION_HEAP_TYPE_SYSTEM_CONTIG: {
      unsigned int order = 0;
      while ((k::PAGE_SIZE << order) < need) ++order;
      if (align > (k::PAGE_SIZE << order)) {
        return absl::StrFormat("%s: align %s > the order-%u block is refused (EINVAL)", name.c_str(),
                      FormatBytes(align).c_str(), order);
      }
      if (order >= k::MAX_ORDER) {
        return absl::StrFormat("%s: order %u >= MAX_ORDER (ENOMEM)", name.c_str(), order);
      }
      return absl::StrFormat("%s: no free order-%u block (ENOMEM)", name.c_str(), order);
    }
    default:
      return name + ": failed";
  }
}

// Why an ALLOC failed, from the state the failed call left (a DEFER_FREE heap has drained its free list and
// retried): each heap of the mask in the order ALLOC tried them (descending id, reference ion.md section 2.5).
std::string Workload::Explain(size_t len, size_t align, unsigned int mask) {
  std::string why;
  for (int id = static_cast<int>(ION_NUM_HEAP_IDS) - 1; id >= 0; --id) {
    if (!(mask & (1U << id))) continue;
    k::ion_heap* heap = backend_->heap(static_cast<unsigned int>(id));
    if (!heap) continue;
    why += (why.empty() ? "" : "; ") + HeapWhy(heap, len, align);
  }
  if (why.empty()) return absl::StrFormat("no heap of this board has an id in mask 0x%x (ENODEV)", mask);
  return why;
}

std::optional<Buffer> Workload::Alloc(Process* p, const std::string& what, size_t len, size_t align,
                                      unsigned int mask, unsigned int flags) {
  cause_ = DrainCause::kAllocation;
  ErrnoOr<int> handle = p->ion->Alloc(p->ion_fd, len, align, mask, flags);
  Step(p->comm + " ALLOC " + what);
  cause_ = DrainCause::kOther;
  if (!handle.ok()) {
    Failure f{FrameName(), p->comm, what, len, align, mask, flags, handle.error().name(), Explain(len, align, mask)};
    Event(absl::StrFormat("%s: ALLOC %s (%s%s, heap mask 0x%x) failed: %s; %s", p->comm.c_str(), what.c_str(),
                 FormatBytes(len).c_str(), align ? (", align " + FormatBytes(align)).c_str() : "", mask,
                 f.error.c_str(), f.why.c_str()));
    failures_.push_back(std::move(f));
    ++result_.allocation_failures;
    return std::nullopt;
  }
  Buffer b;
  b.what = what;
  b.len = len;
  b.handle = handle.value();
  k::ion_buffer* buffer = BufferOf(*p, b.handle);
  if (!buffer) {
    Error(p->comm + ": no buffer behind handle " + std::to_string(b.handle));
    return b;
  }
  b.heap_id = buffer->heap->id;
  HeapStats& s = stats_[b.heap_id];
  ++s.allocs;
  s.bytes += buffer->size;
  return b;
}

uint64_t Workload::Map(Process* p, int fd, size_t len) {
  ErrnoOr<uint64_t> addr = backend_->mmap(p->pid, 0, len, kProtRw, kMapShared, fd, 0);
  Step(p->comm + " mmap");
  if (!addr.ok()) {
    Error(p->comm + ": mmap: " + addr.error().name());
    return 0;
  }
  ++mmaps_;
  return addr.value();
}

std::optional<Buffer> Workload::NewSharedBuffer(Process* p, const std::string& what, size_t len, unsigned int mask,
                                                unsigned int flags) {
  std::optional<Buffer> b = Alloc(p, what, len, 0, mask, flags);
  if (!b) return b;
  ErrnoOr<int> fd = p->ion->Share(p->ion_fd, b->handle);
  Step(p->comm + " SHARE " + what);
  if (!fd.ok()) {
    Error(p->comm + ": SHARE " + what + ": " + fd.error().name());
    return b;
  }
  b->fd = fd.value();
  b->addr = Map(p, b->fd, len);
  if (b->addr) {
    ++zero_checked_;
    if (!ReadsZero(p, b->addr, len)) {
      ++zero_failed_;
      Error(p->comm + ": new buffer " + what + " does not read back zeroed");
    }
  }
  return b;
}

void Workload::ReleaseBuffer(Process* p, Buffer* b) {
  if (b->addr) {
    Errno e = backend_->munmap(p->pid, b->addr, b->len);
    Step(p->comm + " munmap " + b->what);
    if (!e.ok()) Error(p->comm + ": munmap " + b->what + ": " + e.name());
    b->addr = 0;
  }
  if (b->fd >= 0) {
    Errno e = backend_->close(p->pid, b->fd);
    Step(p->comm + " close " + b->what);
    if (!e.ok()) Error(p->comm + ": close " + b->what + ": " + e.name());
    b->fd = -1;
  }
  if (b->handle > 0) {
    Errno e = p->ion->Free(p->ion_fd, b->handle);
    Step(p->comm + " FREE " + b->what);
    if (!e.ok()) Error(p->comm + ": FREE " + b->what + ": " + e.name());
    b->handle = -1;
  }
}

uint64_t Workload::Write(Process* p, uint64_t addr, size_t len, uint64_t seed) {
  std::vector<uint8_t> data(len);
  Rng bytes(seed);
  for (size_t i = 0; i < len; i += 8) {
    const uint64_t v = bytes.Next();
    std::memcpy(&data[i], &v, std::min<size_t>(8, len - i));
  }
  Errno e = backend_->poke(p->pid, addr, data.data(), len);
  Step(p->comm + " writes a frame");
  if (!e.ok()) Error(p->comm + ": write through the mapping: " + e.name());
  return Hash(data);
}

std::optional<uint64_t> Workload::ReadHash(Process* p, uint64_t addr, size_t len) {
  std::vector<uint8_t> data(len);
  Errno e = backend_->peek(p->pid, addr, data.data(), len);
  Step(p->comm + " reads a frame");
  if (!e.ok()) {
    Error(p->comm + ": read through the mapping: " + e.name());
    return std::nullopt;
  }
  return Hash(data);
}

bool Workload::ReadsZero(Process* p, uint64_t addr, size_t len) {
  std::vector<uint8_t> data(len, 0xFF);
  Errno e = backend_->peek(p->pid, addr, data.data(), len);
  Step(p->comm + " reads a new buffer");
  return e.ok() && std::all_of(data.begin(), data.end(), [](uint8_t b) { return b == 0; });
}

Received* Workload::Deliver(Process* from, const Buffer& b, std::map<int, Received>* cache, int slot, bool import) {
  auto it = cache->find(slot);
  if (it != cache->end()) return &it->second;
  Received r;
  r.len = b.len;
  ErrnoOr<int> fd = backend_->pass_fd(from->pid, b.fd, sf_.pid);
  Step(from->comm + " passes a dma-buf fd to " + sf_.comm);
  if (!fd.ok()) {
    Error(from->comm + ": pass fd: " + fd.error().name());
    return nullptr;
  }
  ++passes_;
  r.fd = fd.value();
  if (import) {
    ErrnoOr<int> handle = sf_.ion->Import(sf_.ion_fd, r.fd);
    Step(sf_.comm + " IMPORT");
    if (!handle.ok()) {
      Error(sf_.comm + ": IMPORT: " + handle.error().name());
    } else {
      r.handle = handle.value();
      ++imports_;
    }
  }
  r.addr = Map(&sf_, r.fd, r.len);
  Received& stored = (*cache)[slot];
  stored = r;
  return &stored;
}

void Workload::Drop(Received* r) {
  if (r->addr) {
    Errno e = backend_->munmap(sf_.pid, r->addr, r->len);
    Step(sf_.comm + " munmap a received buffer");
    if (!e.ok()) Error(sf_.comm + ": munmap: " + e.name());
    r->addr = 0;
  }
  if (r->fd >= 0) {
    Errno e = backend_->close(sf_.pid, r->fd);
    Step(sf_.comm + " close a received fd");
    if (!e.ok()) Error(sf_.comm + ": close: " + e.name());
    r->fd = -1;
  }
  if (r->handle > 0) {
    Errno e = sf_.ion->Free(sf_.ion_fd, r->handle);
    Step(sf_.comm + " FREE an import");
    if (!e.ok()) Error(sf_.comm + ": FREE import: " + e.name());
    r->handle = -1;
  }
}

void Workload::RunDeferredThread() {
  ++thread_runs_;
  const int before = drained_by_thread_;
  const uint64_t bytes_before = thread_bytes_;
  cause_ = DrainCause::kThread;
  Errno e = backend_->run_deferred_free();
  Step("the deferred-free threads run");
  cause_ = DrainCause::kOther;
  if (!e.ok()) Error(std::string("deferred free: ") + e.name());
  const int n = drained_by_thread_ - before;
  frame_note_ = n ? absl::StrFormat("deferred-free thread returned %d buffer%s (%s)", n, n == 1 ? "" : "s",
                           FormatBytes(thread_bytes_ - bytes_before).c_str())
                  : "deferred-free thread ran, list empty";
}

int Workload::CountOrphans() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  k::ion_device* dev = backend_->device();
  int orphans = 0;
  k::mutex_lock(&dev->buffer_lock);
  for (struct k::rb_node* n = k::rb_first(&dev->buffers); n; n = k::rb_next(n)) {
    const k::ion_buffer* buffer = rb_entry(n, struct k::ion_buffer, node);
    if (buffer->handle_count == 0) ++orphans;
  }
  k::mutex_unlock(&dev->buffer_lock);
  return orphans;
}

size_t Workload::LiveBuffers() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  k::ion_device* dev = backend_->device();
  size_t live = 0;
  k::mutex_lock(&dev->buffer_lock);
  for (struct k::rb_node* n = k::rb_first(&dev->buffers); n; n = k::rb_next(n)) ++live;
  k::mutex_unlock(&dev->buffer_lock);
  return live;
}

void Workload::Setup() {
  if (!Spawn(&sf_, "surfaceflinger") || !Spawn(&cam_, "camera.provider") || !Spawn(&codec_, "media.codec")) return;
  Out("processes: %s (pid %d), %s (pid %d), %s (pid %d), each with its own /dev/ion client\n", sf_.comm.c_str(),
      sf_.pid, cam_.comm.c_str(), cam_.pid, codec_.comm.c_str(), codec_.pid);

  // The compositor asks which heaps exist (ION_IOC_HEAP_QUERY); every process picks its heaps by type.
  ErrnoOr<int> count = sf_.ion->HeapCount(sf_.ion_fd);
  Step("HEAP_QUERY count");
  const bool compiled_in = !count.ok() && count.error().code() == ENOTTY;
  if (compiled_in) {
    // A kernel before 4.11 has no HEAP_QUERY: the HAL of that era carries the board's heap table, in the order
    // ALLOC tries the heaps (highest id first).
    heaps_.clear();
    for (const ModelHeapConfig& h : config_.heaps) {
      ion_heap_data d = {};
      absl::SNPrintF(d.name, sizeof(d.name), "%s", h.name);
      d.type = static_cast<__u32>(h.type);
      d.heap_id = h.id;
      heaps_.push_back(d);
    }
    std::stable_sort(heaps_.begin(), heaps_.end(),
                     [](const ion_heap_data& a, const ion_heap_data& b) { return a.heap_id > b.heap_id; });
  } else {
    ErrnoOr<std::vector<ion_heap_data>> heaps =
        count.ok() ? sf_.ion->QueryHeaps(sf_.ion_fd, static_cast<unsigned int>(count.value()))
                   : ErrnoOr<std::vector<ion_heap_data>>(count.error());
    Step("HEAP_QUERY");
    if (!heaps.ok()) {
      Error(std::string("HEAP_QUERY: ") + heaps.error().name());
      return;
    }
    heaps_ = heaps.value();
  }
  std::string list;
  for (const ion_heap_data& h : heaps_) {
    list += absl::StrFormat("%s%s (id %u, %s)", list.empty() ? "" : ", ", h.name, h.heap_id, TypeName(h.type));
    HeapStats& s = stats_[h.heap_id];
    s.id = h.heap_id;
    s.name = h.name;
    s.type = h.type;
  }
  Out("heaps (%s, in the order ALLOC tries them): %s\n",
      compiled_in ? "the HAL's own table: HEAP_QUERY is ENOTTY on this profile" : "ION_IOC_HEAP_QUERY", list.c_str());
  // Each process takes the first heap of its type in try order, preferring one named for its use (a board with
  // several carveouts names them: camera, video, sf...).
  system_mask_ = PickHeap(ION_HEAP_TYPE_SYSTEM, {});
  contig_mask_ = PickHeap(ION_HEAP_TYPE_SYSTEM_CONTIG, {});
  chunk_mask_ = PickHeap(ION_HEAP_TYPE_CHUNK, {});
  carveout_mask_ = PickHeap(ION_HEAP_TYPE_CARVEOUT, {"camera"});
  video_carveout_mask_ = PickHeap(ION_HEAP_TYPE_CARVEOUT, {"video", "mm", "sf"});
  // A board without one of these heap types: the stack falls back to what it has (contiguous memory for the
  // camera, the system heap for the rest).
  if (!contig_mask_) contig_mask_ = system_mask_;
  if (!carveout_mask_) carveout_mask_ = contig_mask_;
  if (!video_carveout_mask_) video_carveout_mask_ = carveout_mask_;
  Out("heap masks: graphics 0x%x (system), control 0x%x (system_contig), camera 0x%x (carveout), video 0x%x "
      "(chunk, carveout fallback)\n\n",
      system_mask_, contig_mask_, carveout_mask_, chunk_mask_ | video_carveout_mask_);

  // Display: two RGBA framebuffers from the system heap (double buffering).
  for (int i = 0; i < 2; ++i) {
    std::optional<Buffer> fb =
        NewSharedBuffer(&sf_, absl::StrFormat("framebuffer %d 1280x720 RGBA", i), 1280 * 720 * 4, system_mask_, 0);
    if (fb) framebuffers_.push_back(*fb);
  }
  ConfigureCamera(640, 480);
  // The decoder probes secure playback, then sets up its input and output buffers.
  std::optional<Buffer> secure = Alloc(&codec_, "secure probe", 64 << 10, 0, 1U << kSecureVideoHeapId, 0);
  if (secure) {
    Event("media.codec: secure heap present");
    ReleaseBuffer(&codec_, &*secure);
  }
  std::optional<Buffer> input = NewSharedBuffer(&codec_, "bitstream", 256 << 10, system_mask_, ION_FLAG_CACHED);
  if (input) bitstream_ = *input;
  ConfigureVideo(960, 540);
}

void Workload::ConfigureCamera(int width, int height) {
  camera_mode_ = absl::StrFormat("%dx%d", width, height);
  for (int i = 0; i < 4; ++i) {
    std::optional<Buffer> b = NewSharedBuffer(&cam_, absl::StrFormat("preview %d %s NV12", i, camera_mode_.c_str()),
                                              Nv12Bytes(width, height), carveout_mask_, 0);
    if (b) camera_ring_.push_back(*b);
  }
  if (camera_ring_.size() < 4) {
    Event(absl::StrFormat("camera.provider: preview runs with %zu of 4 buffers", camera_ring_.size()));
  }
}

void Workload::ConfigureVideo(int width, int height) {
  video_mode_ = absl::StrFormat("%dx%d", width, height);
  for (int i = 0; i < 4; ++i) {
    std::optional<Buffer> b = NewSharedBuffer(&codec_, absl::StrFormat("video frame %d %s NV12", i, video_mode_.c_str()),
                                              Nv12Bytes(width, height), chunk_mask_ | video_carveout_mask_, 0);
    if (b) video_out_.push_back(*b);
  }
  if (video_out_.size() < 4) {
    Event(absl::StrFormat("media.codec: decoding into %zu of 4 output buffers", video_out_.size()));
  }
}

void Workload::ReleaseCameraRing() {
  // The compositor lets go of the old slots first (BufferQueue disconnect), then the HAL frees its buffers.
  for (auto& [slot, r] : sf_camera_) Drop(&r);
  sf_camera_.clear();
  for (Buffer& b : camera_ring_) ReleaseBuffer(&cam_, &b);
  camera_ring_.clear();
  last_camera_slot_ = -1;
}

void Workload::ReleaseVideoOutputs() {
  for (auto& [slot, r] : sf_video_) Drop(&r);
  sf_video_.clear();
  for (Buffer& b : video_out_) ReleaseBuffer(&codec_, &b);
  video_out_.clear();
  last_video_slot_ = -1;
}

void Workload::StillCapture(int width, int height) {
  const size_t len = Nv12Bytes(width, height);
  const std::string what = absl::StrFormat("still %dx%d NV12", width, height);
  // The ISP wants 1 MiB alignment; a v4.4 carveout refuses any align above a page (EINVAL), so the HAL retries
  // without and remembers.
  std::optional<Buffer> b = Alloc(&cam_, what, len, still_align_, carveout_mask_, 0);
  if (!b && still_align_) {
    still_align_ = 0;
    b = Alloc(&cam_, what, len, 0, carveout_mask_, 0);
  }
  if (!b) {
    Event("camera.provider: still capture dropped");
    return;
  }
  ErrnoOr<int> fd = cam_.ion->Map(cam_.ion_fd, b->handle);  // libion ion_map: MAP, then mmap the fd
  Step("camera.provider MAP still");
  if (fd.ok()) {
    b->fd = fd.value();
    b->addr = Map(&cam_, b->fd, len);
    if (b->addr) {
      b->hash = Write(&cam_, b->addr, len, rng_.Next());
      std::optional<uint64_t> back = ReadHash(&cam_, b->addr, len);
      ++result_.frames_checked;
      if (!back || *back != b->hash) ++result_.frame_mismatches;
    }
  } else {
    Error(std::string("camera.provider: MAP still: ") + fd.error().name());
  }
  Event(absl::StrFormat("camera.provider: still capture %s in %s", FormatBytes(len).c_str(),
               stats_[b->heap_id].name.c_str()));
  still_ = *b;
}

void Workload::CameraFrame(int f) {
  if (camera_ring_.empty()) return;
  const int slot = f % static_cast<int>(camera_ring_.size());
  Buffer& b = camera_ring_[static_cast<size_t>(slot)];
  if (!b.addr) return;
  b.hash = Write(&cam_, b.addr, b.len, rng_.Next());
  Received* r = Deliver(&cam_, b, &sf_camera_, slot, /*import=*/true);
  if (!r || !r->addr) return;
  std::optional<uint64_t> seen = ReadHash(&sf_, r->addr, r->len);
  ++result_.frames_checked;
  if (!seen || *seen != b.hash) {
    ++result_.frame_mismatches;
    Event(absl::StrFormat("surfaceflinger: camera slot %d does not read back as written", slot));
  }
  last_camera_slot_ = slot;
}

void Workload::VideoFrame(int f) {
  if (!codec_.alive || video_out_.empty()) return;
  // The parser writes the next access unit into the cached input buffer under DMA_BUF_IOCTL_SYNC.
  if (bitstream_.addr) {
    const Errno start = codec_.ion->DmaBufSync(bitstream_.fd, k::DMA_BUF_SYNC_START | k::DMA_BUF_SYNC_WRITE);
    Step("media.codec DMA_BUF_SYNC start");
    const size_t au = (16 << 10) + (rng_.Next() % (200 << 10));
    bitstream_.hash = Write(&codec_, bitstream_.addr, au, rng_.Next());
    if (start.code() == ENOTTY) {
      // A kernel before 4.6 has no DMA_BUF_IOCTL_SYNC: the codec of that era flushed its writes for the device
      // with ION_IOC_SYNC (libion's ion_sync_fd()).
      const Errno e = codec_.ion->Sync(codec_.ion_fd, bitstream_.fd);
      Step("media.codec ION_IOC_SYNC");
      if (!e.ok()) Error(std::string("media.codec: ION_IOC_SYNC: ") + e.name());
    } else {
      const Errno e = codec_.ion->DmaBufSync(bitstream_.fd, k::DMA_BUF_SYNC_END | k::DMA_BUF_SYNC_WRITE);
      Step("media.codec DMA_BUF_SYNC end");
      if (!e.ok()) Error(std::string("media.codec: DMA_BUF_SYNC: ") + e.name());
    }
    VpuDecode(f, au);
  }
  const int slot = f % static_cast<int>(video_out_.size());
  Buffer& b = video_out_[static_cast<size_t>(slot)];
  if (!b.addr) return;
  b.hash = Write(&codec_, b.addr, b.len, bitstream_.hash);
  Received* r = Deliver(&codec_, b, &sf_video_, slot, /*import=*/false);
  if (!r || !r->addr) return;
  std::optional<uint64_t> seen = ReadHash(&sf_, r->addr, r->len);
  ++result_.frames_checked;
  if (!seen || *seen != b.hash) {
    ++result_.frame_mismatches;
    Event(absl::StrFormat("surfaceflinger: video slot %d does not read back as written", slot));
  }
  last_video_slot_ = slot;
}

void Workload::Compose(int f) {
  // The layer list for the display controller: a small physically contiguous control buffer, mapped with
  // libion's ion_map (MAP + mmap), written, unmapped and freed every frame.
  std::optional<Buffer> ctl = Alloc(&sf_, "layer list", 4096, 0, contig_mask_, 0);
  if (ctl) {
    ErrnoOr<int> fd = sf_.ion->Map(sf_.ion_fd, ctl->handle);
    Step("surfaceflinger MAP layer list");
    if (fd.ok()) {
      const uint64_t addr = Map(&sf_, fd.value(), ctl->len);
      backend_->close(sf_.pid, fd.value()).IgnoreError();  // the mapping keeps the dma-buf
      Step("surfaceflinger close the layer list fd");
      if (addr) {
        const std::string layers = absl::StrFormat("frame %d: camera slot %d, video slot %d", f, last_camera_slot_,
                                          last_video_slot_);
        Errno e = backend_->poke(sf_.pid, addr, layers.data(), layers.size());
        Step("surfaceflinger writes the layer list");
        if (!e.ok()) Error(std::string("surfaceflinger: layer list write: ") + e.name());
        backend_->munmap(sf_.pid, addr, ctl->len).IgnoreError();
        Step("surfaceflinger munmap layer list");
      }
    }
    ReleaseBuffer(&sf_, &*ctl);
  }
  // Composition: the top rows of each layer go into the back framebuffer.
  if (framebuffers_.empty()) return;
  Buffer& fb = framebuffers_[static_cast<size_t>(f) % framebuffers_.size()];
  uint64_t offset = 0;
  for (const Received* layer :
       {last_camera_slot_ >= 0 && sf_camera_.count(last_camera_slot_) ? &sf_camera_[last_camera_slot_] : nullptr,
        last_video_slot_ >= 0 && sf_video_.count(last_video_slot_) ? &sf_video_[last_video_slot_] : nullptr}) {
    if (!layer || !layer->addr || !fb.addr) continue;
    std::vector<uint8_t> rows(std::min<size_t>(layer->len, 64 << 10));
    if (!backend_->peek(sf_.pid, layer->addr, rows.data(), rows.size()).ok() ||
        !backend_->poke(sf_.pid, fb.addr + offset, rows.data(), rows.size()).ok()) {
      Error("surfaceflinger: composition copy failed");
    }
    Step("surfaceflinger composes a layer");
    offset += rows.size();
  }
}

void Workload::VpuDecode(int f, size_t au) {
  if (!devices_) return;
  if (vpu_attachment_ < 0) {
    ErrnoOr<int> a = devices_->Attach(vpu_, codec_.pid, bitstream_.fd);
    if (!a.ok()) {
      Error(std::string("vpu: attach to the bitstream buffer: ") + a.error().name());
      return;
    }
    vpu_attachment_ = a.value();
  }
  k::cpu_cache_set_origin(backend_->mem(), absl::StrFormat("frame %d: the VPU decodes the access unit", f));
  Errno e = devices_->Map(vpu_attachment_, k::DMA_TO_DEVICE);
  if (!e.ok()) {
    Error(std::string("vpu: map the bitstream buffer: ") + e.name());
    return;
  }
  if (!devices_->Read(vpu_attachment_, 0, au).ok()) Error("vpu: DMA read of the bitstream buffer failed");
  ++result_.device_reads;
  e = devices_->Unmap(vpu_attachment_);
  if (!e.ok()) Error(std::string("vpu: unmap: ") + e.name());
  k::cpu_cache_set_origin(backend_->mem(), "");
}

void Workload::VpuDetach() {
  if (!devices_ || vpu_attachment_ < 0) return;
  const Errno e = devices_->Detach(vpu_attachment_);
  if (!e.ok()) Error(std::string("vpu: detach: ") + e.name());
  vpu_attachment_ = -1;
}

void Workload::CodecDies() {
  VpuDetach();  // the driver lets go of the decoder's buffers when its file is closed
  // The decoder's process goes away with its buffers still queued to the display: closing /dev/ion destroys
  // its handles (ion_client_destroy), exit closes its dma-buf fds and mappings. The compositor's fds and
  // mappings keep the buffers alive without any handle: orphans, which debugfs attributes to media.codec.
  Errno e = backend_->close(codec_.pid, codec_.ion_fd);
  Step("media.codec closes /dev/ion");
  if (!e.ok()) Error(std::string("media.codec: close /dev/ion: ") + e.name());
  e = backend_->exit(codec_.pid);
  Step("media.codec exits");
  if (!e.ok()) Error(std::string("media.codec: exit: ") + e.name());
  codec_.alive = false;
  video_out_.clear();
  bitstream_ = Buffer();
  result_.orphans_seen = CountOrphans();
  Event(absl::StrFormat("media.codec closed /dev/ion with its buffers still shared and exited: %d buffer%s orphaned",
               result_.orphans_seen, result_.orphans_seen == 1 ? "" : "s"));
}

void Workload::Summary() {
  Out("\n== results: board %s, seed %" PRIu64 ", %d frames, %d operations\n", options_.board.c_str(),
      options_.seed, options_.frames, result_.operations);
  Out("%-16s %-14s %3s %7s %16s %12s %12s\n", "heap", "type", "id", "allocs", "bytes allocated", "peak held",
      "held now");
  int allocs = 0;
  for (const ion_heap_data& h : heaps_) {
    const HeapStats& s = stats_[h.heap_id];
    allocs += s.allocs;
    Out("%-16s %-14s %3u %7d %16s %12s %12s\n", s.name.c_str(), TypeName(s.type), s.id, s.allocs,
        FormatBytes(s.bytes).c_str(), FormatBytes(s.peak).c_str(), FormatBytes(s.held).c_str());
  }
  Out("(held: live buffers plus the deferred-free list; peak sampled after every operation)\n");
  Out("\nallocations: %d succeeded, %zu failed\n", allocs, failures_.size());
  for (const Failure& f : failures_) {
    Out("  %s, %s, %s: %s%s, heap mask 0x%x: %s\n      why: %s\n", f.frame.c_str(), f.proc.c_str(),
        f.what.c_str(), FormatBytes(f.len).c_str(), f.align ? (", align " + FormatBytes(f.align)).c_str() : "",
        f.mask, f.error.c_str(), f.why.c_str());
  }
  Out("\nfragmentation after the last frame (from the genalloc bitmaps):\n");
  for (const HeapPicture& p : CaptureGenallocHeaps(backend_.get())) {
    const uint64_t free = FreeBytes(p);
    const uint64_t largest = LargestFreeExtent(p);
    const size_t runs = FreeRuns(p).size();
    Out("  %-10s %s: %s free in %zu extent%s, largest free extent %s", p.name.c_str(),
        FormatBytes(p.bits.size() * p.granule).c_str(), FormatBytes(free).c_str(), runs, runs == 1 ? "" : "s",
        FormatBytes(largest).c_str());
    if (free) {
      Out(" (%" PRIu64 "%% of the free memory is outside it)\n", (free - largest) * 100 / free);
    } else {
      Out("\n");
    }
  }
  int listed = 0;
  for (const auto& [id, s] : stats_) listed += static_cast<int>(s.free_list.size());
  Out("\ndeferred free: %d buffers (%s) queued; the deferred-free thread ran at %d of %d frame starts and returned "
      "%d (%s); allocation retries drained %d (%s); %d still listed\n",
      queued_, FormatBytes(queued_bytes_).c_str(), thread_runs_, thread_chances_, drained_by_thread_,
      FormatBytes(thread_bytes_).c_str(), drained_by_alloc_, FormatBytes(alloc_bytes_).c_str(), listed);
  Out("sharing: %d dma-buf fds passed between processes, %d imports, %d mmaps; %d buffer%s orphaned when "
      "media.codec closed /dev/ion, %d still orphaned now\n",
      passes_, imports_, mmaps_, result_.orphans_seen, result_.orphans_seen == 1 ? "" : "s", CountOrphans());
  Out("frames: %d written and read back through another mapping, %d mismatched; %d of %d new buffers read back "
      "zeroed\n",
      result_.frames_checked, result_.frame_mismatches, zero_checked_ - zero_failed_, zero_checked_);
}

void Workload::DebugfsViews() {
  Out("\n== debugfs after the last frame\n");
  for (const ion_heap_data& h : heaps_) {
    const std::string path = std::string("ion/heaps/") + h.name;
    ErrnoOr<std::string> text = backend_->debugfs_read(path);
    Out("---- /sys/kernel/debug/%s\n%s", path.c_str(), text.ok() ? text.value().c_str() : text.error().name());
  }
  ErrnoOr<std::vector<std::string>> clients = k::debugfs_list("ion/clients");
  if (!clients.ok()) {
    Error(std::string("debugfs ion/clients: ") + clients.error().name());
    return;
  }
  for (const std::string& name : clients.value()) {
    const std::string path = "ion/clients/" + name;
    ErrnoOr<std::string> text = backend_->debugfs_read(path);
    Out("---- /sys/kernel/debug/%s\n%s", path.c_str(), text.ok() ? text.value().c_str() : text.error().name());
  }
}

void Workload::Teardown() {
  frame_ = -1;
  VpuDetach();
  // Every process lets go of what it holds, in the order a clean stop takes: the compositor drops the buffers it
  // received, the camera HAL frees its own, then both exit.
  for (auto& [slot, r] : sf_camera_) Drop(&r);
  for (auto& [slot, r] : sf_video_) Drop(&r);
  sf_camera_.clear();
  sf_video_.clear();
  for (Buffer& b : framebuffers_) ReleaseBuffer(&sf_, &b);
  for (Buffer& b : camera_ring_) ReleaseBuffer(&cam_, &b);
  if (still_) ReleaseBuffer(&cam_, &*still_);
  for (Process* p : {&sf_, &cam_, &codec_}) {
    if (!p->alive) continue;
    Errno e = backend_->close(p->pid, p->ion_fd);
    Step(p->comm + " closes /dev/ion");
    if (!e.ok()) Error(p->comm + ": close /dev/ion: " + e.name());
    e = backend_->exit(p->pid);
    Step(p->comm + " exits");
    if (!e.ok()) Error(p->comm + ": exit: " + e.name());
    p->alive = false;
  }
  cause_ = DrainCause::kThread;
  backend_->run_deferred_free().IgnoreError();
  Step("the deferred-free threads run");
  cause_ = DrainCause::kOther;
}

WorkloadResult Workload::Run() {
  const size_t objects_before = k::live_object_count();
  const int64_t pages_before = k::allocated_page_count();
  const size_t reports_before = k::bug_event_count();
  std::string error;
  ErrnoOr<ModelConfig> config = ModelConfigFromBoard(options_.board, &error);
  if (!config.ok()) {
    Error("board: " + error);
    return result_;
  }
  if (!options_.profile.empty()) config.value().profile = options_.profile;
  config_ = config.value();
  ErrnoOr<std::unique_ptr<ModelBackend>> booted = ModelBackend::Create(config.value());
  if (!booted.ok()) {
    Error(std::string("boot: ") + booted.error().name());
    return result_;
  }
  backend_ = std::move(booted.value());
  devices_ = std::make_unique<trace::ModelDevices>(backend_.get());
  vpu_ = devices_->Create("vpu").value();
  const size_t coherency_before = k::bug_event_count(k::BugKind::kCoherency);
  // A fresh machine numbers its processes from 1 (a WARN, counted in the verdict, if anyone's tasks are alive).
  k::pid_ns_reset(1);
  Out("ionsim run: board %s%s, seed %" PRIu64 ", %d frames\n", options_.board.c_str(),
      config_.profile.empty() ? "" : ", profile " + config_.profile, options_.seed, options_.frames);
  Setup();
  Out("frame log (events indented):\n");

  // The script, in frames of n (n = 12 by default): a still capture at n/4, freed the next frame; the decoder's
  // resolution change at 5n/12; the preview reconfiguration at 7n/12; the decoder dies at 3n/4 with its frames
  // queued to the display; in the last frame the compositor lets go of the orphaned frames off screen and the
  // camera tries another still capture.
  const int n = options_.frames;
  const int still1 = n / 4, video_change = 5 * n / 12, camera_change = 7 * n / 12, codec_death = 3 * n / 4;
  for (frame_ = 0; frame_ < n && result_.setup_errors == 0; ++frame_) {
    const int f = frame_;
    frame_note_ = "deferred-free thread idle";
    ++thread_chances_;
    if (rng_.Next() & 1) RunDeferredThread();
    if (f == still1) StillCapture(1280, 960);
    if (still_ && f == still1 + 1) {
      ReleaseBuffer(&cam_, &*still_);
      still_.reset();
      Event("camera.provider: still buffer handed to the JPEG encoder, then freed (deferred)");
    }
    if (f == video_change) {
      Event("media.codec: resolution change 960x540 -> 1280x720: output buffers reallocated");
      ReleaseVideoOutputs();
      ConfigureVideo(1280, 720);
    }
    if (f == camera_change) {
      Event("camera.provider: preview reconfigured 640x480 -> 800x600: ring reallocated");
      ReleaseCameraRing();
      ConfigureCamera(800, 600);
    }
    if (f == codec_death) CodecDies();
    CameraFrame(f);
    VideoFrame(f);
    Compose(f);
    if (f == n - 1) {
      // The display still shows the decoder's last frame; the compositor lets go of its other, orphaned slots.
      int released = 0;
      for (auto it = sf_video_.begin(); it != sf_video_.end();) {
        if (it->first == last_video_slot_) {
          ++it;
          continue;
        }
        Drop(&it->second);
        it = sf_video_.erase(it);
        ++released;
      }
      if (released) {
        Event(absl::StrFormat("surfaceflinger let go of %d orphaned video buffer%s off screen (deferred)", released,
                     released == 1 ? "" : "s"));
      }
      StillCapture(1280, 960);
    }
    const std::string video = !codec_.alive          ? last_video_slot_ >= 0
                                                         ? absl::StrFormat("video stopped, slot %d still shown", last_video_slot_)
                                                         : std::string("video stopped")
                              : video_out_.empty() ? "video " + video_mode_ + " without output buffers"
                                                   : absl::StrFormat("video %s slot %d", video_mode_.c_str(), last_video_slot_);
    Out("frame %2d: camera %s slot %d, %s, composed into framebuffer %zu; %s\n", f, camera_mode_.c_str(),
        last_camera_slot_, video.c_str(), framebuffers_.empty() ? 0 : f % framebuffers_.size(),
        frame_note_.c_str());
    if (options_.after_frame) options_.after_frame(f + 1);
  }
  frame_ = -1;

  Summary();
  DebugfsViews();
  const std::string caption = absl::StrFormat("ionsim run: board %s, seed %" PRIu64 ", after frame %d", options_.board.c_str(),
                                     options_.seed, n - 1);
  result_.svg = RenderHeapSvg(CaptureGenallocHeaps(backend_.get()), caption);

  Teardown();
  std::string leaks;
  const size_t live = LiveBuffers();
  if (live) leaks += absl::StrFormat("%zu buffers still alive after every process exited\n", live);
  for (const HeapPicture& p : CaptureGenallocHeaps(backend_.get())) {
    if (FreeBytes(p) != p.bits.size() * p.granule) {
      leaks += absl::StrFormat("heap %s: %s still allocated in its pool\n", p.name.c_str(),
                      FormatBytes(p.bits.size() * p.granule - FreeBytes(p)).c_str());
    }
  }
  result_.coherency_reports = k::bug_event_count(k::BugKind::kCoherency) - coherency_before;
  const std::string left = devices_->Teardown();
  if (!left.empty()) leaks += left + "\n";
  devices_.reset();
  leaks += backend_->Shutdown();
  backend_.reset();
  const size_t objects = k::live_object_count();
  const int64_t pages = k::allocated_page_count();
  if (objects != objects_before) {
    leaks += absl::StrFormat("%zu model objects still alive:\n%s", objects - objects_before, k::format_live_objects().c_str());
  }
  if (pages != pages_before) leaks += absl::StrFormat("%" PRId64 " simulated pages still allocated\n", pages - pages_before);
  result_.leak_report = leaks;
  result_.kernel_reports = k::bug_event_count() - reports_before;
  return result_;
}

std::string Verdict(const WorkloadResult& r) {
  std::string out = "\n== verdict\n";
  if (r.invariant_violations.empty()) {
    out += absl::StrFormat("invariants: all hold, checked after each of %d operations\n", r.operations);
  } else {
    out += absl::StrFormat("invariants: %zu VIOLATIONS in %d operations:\n", r.invariant_violations.size(), r.operations);
    for (const std::string& v : r.invariant_violations) out += "  " + v + "\n";
  }
  if (r.leak_report.empty()) {
    out += "shutdown: every process exited, every buffer freed, no model object or page leaked\n";
  } else {
    out += "shutdown: LEAKS:\n" + r.leak_report;
  }
  // Model only (x86 is coherent): what a non-coherent SoC would have read stale.
  out += absl::StrFormat("coherency: %d DMA reads of the cached bitstream buffer by the VPU, %zu stale-data "
                         "report%s\n",
                         r.device_reads, r.coherency_reports, r.coherency_reports == 1 ? "" : "s");
  if (r.kernel_reports) out += absl::StrFormat("kernel reports (WARN/BUG/coherency): %zu\n", r.kernel_reports);
  if (r.frame_mismatches) out += absl::StrFormat("frames read back wrong: %d\n", r.frame_mismatches);
  if (r.setup_errors) out += absl::StrFormat("operations that failed unexpectedly: %d (see ERROR lines)\n", r.setup_errors);
  out += r.ok() ? "result: OK\n" : "result: FAILED\n";
  return out;
}

}  // namespace

WorkloadResult RunWorkload(const WorkloadOptions& options) {
  Workload workload(options);
  WorkloadResult result = workload.Run();
  result.report += Verdict(result);
  return result;
}

Json WorkloadJson(const WorkloadOptions& options, const WorkloadResult& result, const std::string& svg_path,
                  bool svg_written) {
  Json doc = Json::Object();
  doc.Set("command", "run")
      .Set("board", options.board)
      .Set("seed", options.seed)
      .Set("frames", options.frames)
      .Set("operations", result.operations)
      .Set("frames_checked", result.frames_checked)
      .Set("frame_mismatches", result.frame_mismatches)
      .Set("allocation_failures", result.allocation_failures)
      .Set("orphans_seen", result.orphans_seen)
      .Set("setup_errors", result.setup_errors)
      .Set("kernel_reports", static_cast<uint64_t>(result.kernel_reports))
      .Set("invariant_violations", result.invariant_violations)
      .Set("leak_report", result.leak_report)
      .Set("svg", Json::Object()
                      .Set("path", svg_path)
                      .Set("bytes", static_cast<uint64_t>(result.svg.size()))
                      .Set("written", svg_written))
      .Set("ok", result.ok())
      .Set("report", result.report);
  return doc;
}

int RunWorkloadCommand(const WorkloadOptions& options, std::string svg_path, bool json) {
  const char* cwd = std::getenv("BUILD_WORKING_DIRECTORY");
  if (svg_path[0] != '/' && cwd && *cwd) svg_path = std::string(cwd) + "/" + svg_path;

  WorkloadResult result = RunWorkload(options);
  if (json) {
    bool svg_ok = result.svg.empty();
    if (!svg_ok) {
      std::ofstream f(svg_path, std::ios::binary);
      f << result.svg;
      svg_ok = static_cast<bool>(f);
    }
    const int code = !result.ok() ? 1 : svg_ok ? 0 : 2;
    std::fputs(WorkloadJson(options, result, svg_path, svg_ok).Set("exit_code", code).Print().c_str(), stdout);
    std::fflush(stdout);
    return code;
  }
  // The report goes out first, the verdict being its last section; the picture's path goes just before it.
  const size_t verdict = result.report.rfind("\n== verdict\n");
  std::string head = result.report.substr(0, verdict);
  std::string tail = verdict == std::string::npos ? "" : result.report.substr(verdict);
  std::fputs(head.c_str(), stdout);
  bool svg_ok = result.svg.empty();  // nothing to write is not a failure
  if (!result.svg.empty()) {
    FILE* f = std::fopen(svg_path.c_str(), "w");
    if (f) {
      svg_ok = std::fwrite(result.svg.data(), 1, result.svg.size(), f) == result.svg.size();
      svg_ok = std::fclose(f) == 0 && svg_ok;
    }
    if (svg_ok) {
      std::printf("\n== heap picture: %s (%zu bytes of SVG)\n", svg_path.c_str(), result.svg.size());
    } else {
      std::printf("\n== heap picture: cannot write %s: %s\n", svg_path.c_str(), std::strerror(errno));
    }
  }
  std::fputs(tail.c_str(), stdout);
  std::fflush(stdout);
  if (!result.ok()) return 1;  // a finding
  return svg_ok ? 0 : 2;      // the picture could not be written
}

}  // namespace ionsim
