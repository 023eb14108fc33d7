// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
#include "model/backend/model_backend.h"

#include <utility>

#include "model/ion_state.h"
#include "model/kernel/debugfs.h"
#include "model/kernel/fs.h"
#include "model/kernel/mm_user.h"
#include "model/kernel/printk.h"

namespace ionsim {

using namespace ::ionsim::kernel;  // NOLINT(build/namespaces): the backend speaks the kernel's names

ModelConfig CoreModelConfig() {
  ModelConfig config;
  ModelHeapConfig contig;
  contig.type = ION_HEAP_TYPE_SYSTEM_CONTIG;
  contig.id = 1;
  contig.name = "system_contig";
  config.heaps.push_back(contig);
  ModelHeapConfig carveout;
  carveout.type = ION_HEAP_TYPE_CARVEOUT;
  carveout.id = 2;
  carveout.name = "carveout";
  carveout.size = 4ULL << 20;
  carveout.base = config.ram_base + config.ram_size - carveout.size;
  config.heaps.push_back(carveout);
  return config;
}

ModelConfig AllHeapsModelConfig() {
  ModelConfig config;
  const uint64_t top = config.ram_base + config.ram_size;
  config.heaps.push_back(ModelHeapConfig{ION_HEAP_TYPE_SYSTEM, 0, "system", 0, 0, 0, 0});
  config.heaps.push_back(ModelHeapConfig{ION_HEAP_TYPE_SYSTEM_CONTIG, 1, "system contig", 0, 0, 0, 0});
  config.heaps.push_back(ModelHeapConfig{ION_HEAP_TYPE_CARVEOUT, 2, "carveout", top - (4ULL << 20), 4ULL << 20, 0, 0});
  config.heaps.push_back(
      ModelHeapConfig{ION_HEAP_TYPE_CHUNK, 3, "chunk", top - (8ULL << 20), 4ULL << 20, 16ULL << 10, 16ULL << 10});
  config.heaps.push_back(ModelHeapConfig{ION_HEAP_TYPE_DMA, 4, "dma", top - (16ULL << 20), 8ULL << 20, 0, 0});
  return config;
}

namespace {

// The profile a machine of config runs: its own, else the default; NULL for an unknown name.
const ion_profile* ConfigProfile(const ModelConfig& config) {
  return config.profile.empty() ? ion_profile_default() : ion_profile_find(config.profile.c_str());
}

bool heap_has_range(ion_heap_type type) {
  return type == ION_HEAP_TYPE_CARVEOUT || type == ION_HEAP_TYPE_CHUNK || type == ION_HEAP_TYPE_DMA;
}

}  // namespace

ErrnoOr<std::unique_ptr<ModelBackend>> ModelBackend::Create(const ModelConfig& config) {
  std::unique_ptr<ModelBackend> backend(new ModelBackend());
  backend->config_ = config;
  phys_mem_config mc;
  mc.ram_base = config.ram_base;
  mc.ram_size = config.ram_size;
  mc.lowmem_size = config.lowmem_size;
  for (const ModelHeapConfig& h : config.heaps) {
    if (heap_has_range(h.type) && h.size != 0) mc.reserved.push_back(phys_mem_range{h.base, h.size});
  }
  const ion_profile* profile = ConfigProfile(config);
  if (profile == nullptr) return Errno(-EINVAL);
  backend->mem_ = phys_mem_create(mc);
  if (!backend->mem_) return Errno(-EINVAL);
  // The machine's kernel is the profile's: dma-buf files have DMA_BUF_IOCTL_SYNC from v4.6 on.
  backend->mem_->dma_buf_ioctl = ion_profile_has(profile, ION_SW_DMA_BUF_SYNC);
  // The CMA areas of the dma heaps belong to the machine, not to the module: the kernel declares them at boot
  // (dma_contiguous_reserve, or a board's "linux,cma" reserved-memory region) and they outlive every rmmod.
  for (const ModelHeapConfig& h : config.heaps) {
    if (h.type != ION_HEAP_TYPE_DMA) continue;
    auto cma_dev = std::make_unique<kernel::device>();
    cma_dev->name = "ion-" + h.name;
    ErrnoOr<cma*> area = cma_init_reserved_mem(backend->mem_, h.base, h.size, 0);
    if (!area.ok()) return area.error();
    cma_dev->cma_area = area.value();
    backend->cma_devices_.push_back(std::move(cma_dev));
  }
  Errno loaded = backend->LoadModule();
  if (!loaded.ok()) return loaded;
  return backend;
}

Errno ModelBackend::LoadModule() {
  ErrnoOr<ion_device*> dev = ion_device_create(mem_, nullptr, ConfigProfile(config_));
  if (!dev.ok()) return dev.error();
  dev_ = dev.value();

  size_t next_cma = 0;
  for (const ModelHeapConfig& h : config_.heaps) {
    auto name = std::make_unique<std::string>(h.name);
    auto data = std::make_unique<ion_platform_heap>();
    data->type = h.type;
    data->id = h.id;
    data->name = name->c_str();
    data->base = h.base;
    data->size = h.size;
    data->align = h.align;
    data->priv = reinterpret_cast<void*>(static_cast<uintptr_t>(h.chunk_size));
    data->mem = mem_;
    data->dma_writecombine = h.dma_writecombine;
    // A dma heap's platform data names the device whose CMA area it allocates from (made at boot, in Create()).
    if (h.type == ION_HEAP_TYPE_DMA) data->priv = cma_devices_[next_cma++].get();
    ErrnoOr<ion_heap*> heap = ion_heap_create(data.get());
    if (!heap.ok()) return heap.error();
    ion_device_add_heap(dev_, heap.value());
    heaps_.push_back(heap.value());
    heap_names_.push_back(std::move(name));
    heap_data_.push_back(std::move(data));
  }
  return Errno::Ok();
}

ModelBackend::~ModelBackend() { Shutdown(); }

std::string ModelBackend::UnloadModule() {
  std::string report;
  for (auto& [pid, t] : tasks_) {
    {
      current_task_scope scope(t);
      if (!t->exited) do_exit(t);
    }
    task_free(t);
  }
  tasks_.clear();
  if (dev_) {
    report += ion_device_teardown(dev_);
    dev_ = nullptr;
  }
  heaps_.clear();
  // With the module gone, nothing should hold CMA pages.
  for (auto& dev : cma_devices_) {
    const unsigned long used = cma_used_pages(dev->cma_area);
    if (used) {
      std::string line = "cma: area " + dev->name.substr(4) + ": " + std::to_string(used) + " pages still allocated";
      pr_warn("%s\n", line.c_str());
      report += line + "\n";
    }
  }
  heap_data_.clear();
  heap_names_.clear();
  return report;
}

std::string ModelBackend::Shutdown() {
  std::string report = UnloadModule();
  for (auto& dev : cma_devices_) cma_destroy(dev->cma_area);  // what is still allocated was reported above
  cma_devices_.clear();
  if (mem_) {
    const unsigned long pages = phys_mem_destroy(mem_);
    mem_ = nullptr;
    if (pages) {
      std::string line = "page allocator: " + std::to_string(pages) + " pages still allocated";
      report += line + "\n";
    }
  }
  return report;
}

std::string ModelBackend::ReloadModule() {
  std::string report = UnloadModule();
  if (!mem_) return report + "module load: " + Errno(-ENODEV).name() + "\n";
  // The module and every process are gone: whatever the page allocator still has out leaked.
  const long pages = mem_->nr_allocated.load(std::memory_order_relaxed);
  if (pages != 0) report += "page allocator: " + std::to_string(pages) + " pages still allocated\n";
  Errno loaded = LoadModule();
  if (!loaded.ok()) {
    report += std::string("module load: ") + loaded.name() + "\n";
    // A failed insmod leaves nothing behind: undo what the load made (its own teardown is clean).
    report += UnloadModule();
  }
  return report;
}

ion_heap* ModelBackend::heap(unsigned int id) const {
  for (ion_heap* h : heaps_) {
    if (h->id == id) return h;
  }
  return nullptr;
}

task_struct* ModelBackend::task(ProcId proc) const {
  auto it = tasks_.find(proc);
  return it == tasks_.end() || it->second->exited ? nullptr : it->second;
}

ErrnoOr<task_struct*> ModelBackend::live_task(ProcId proc) const {
  task_struct* t = task(proc);
  if (!t) return Errno(-ESRCH);
  return t;
}

std::string ModelBackend::check_invariants(kernel::ion_check_debugfs debugfs, bool in_creation_order,
                                           kernel::ion_check_locking locking) const {
  return ion_check_invariants(dev_, debugfs, in_creation_order, locking);
}

ErrnoOr<ProcId> ModelBackend::spawn(const std::string& comm) {
  task_struct* t = task_create(comm.c_str(), mem_);
  if (!t) return Errno(-ENOMEM);
  tasks_[t->pid] = t;
  return t->pid;
}

ErrnoOr<ProcId> ModelBackend::fork(ProcId parent) {
  ION_ASSIGN_OR_RETURN(task_struct * p, live_task(parent));
  ErrnoOr<task_struct*> child = [&] {
    current_task_scope scope(p);
    return copy_process(p);
  }();
  if (!child.ok()) return child.error();
  tasks_[child.value()->pid] = child.value();
  return child.value()->pid;
}

Errno ModelBackend::exit(ProcId proc) {
  ION_ASSIGN_OR_RETURN(task_struct * t, live_task(proc));
  current_task_scope scope(t);
  do_exit(t);
  return Errno::Ok();
}

ErrnoOr<int> ModelBackend::open(ProcId proc, const std::string& path, unsigned int flags) {
  ION_ASSIGN_OR_RETURN(task_struct * t, live_task(proc));
  current_task_scope scope(t);
  return sys_open(path.c_str(), flags);
}

Errno ModelBackend::close(ProcId proc, int fd) {
  ION_ASSIGN_OR_RETURN(task_struct * t, live_task(proc));
  current_task_scope scope(t);
  return sys_close(static_cast<unsigned int>(fd));
}

ErrnoOr<int> ModelBackend::dup(ProcId proc, int fd) {
  ION_ASSIGN_OR_RETURN(task_struct * t, live_task(proc));
  current_task_scope scope(t);
  return sys_dup(static_cast<unsigned int>(fd));
}

ErrnoOr<int> ModelBackend::pass_fd(ProcId from, int fd, ProcId to) {
  ION_ASSIGN_OR_RETURN(task_struct * sender, live_task(from));
  ION_ASSIGN_OR_RETURN(task_struct * receiver, live_task(to));
  file* f = nullptr;
  {
    current_task_scope scope(sender);
    f = fget(static_cast<unsigned int>(fd));
  }
  if (!f) return Errno(-EBADF);
  ErrnoOr<int> newfd = [&] {
    current_task_scope scope(receiver);
    return receive_fd(receiver->files, f, 0);
  }();
  {
    current_task_scope scope(sender);
    fput(f);
  }
  return newfd;
}

ErrnoOr<long> ModelBackend::ioctl(ProcId proc, int fd, unsigned int cmd, uint64_t arg) {
  ION_ASSIGN_OR_RETURN(task_struct * t, live_task(proc));
  current_task_scope scope(t);
  return sys_ioctl(static_cast<unsigned int>(fd), cmd, static_cast<unsigned long>(arg));
}

ErrnoOr<long> ModelBackend::read(ProcId proc, int fd, uint64_t buf, size_t count) {
  ION_ASSIGN_OR_RETURN(task_struct * t, live_task(proc));
  current_task_scope scope(t);
  return sys_read(static_cast<unsigned int>(fd), static_cast<user_ptr_t>(buf), count);
}

ErrnoOr<long> ModelBackend::write(ProcId proc, int fd, uint64_t buf, size_t count) {
  ION_ASSIGN_OR_RETURN(task_struct * t, live_task(proc));
  current_task_scope scope(t);
  return sys_write(static_cast<unsigned int>(fd), static_cast<user_ptr_t>(buf), count);
}

ErrnoOr<uint64_t> ModelBackend::mmap(ProcId proc, uint64_t addr, size_t len, int prot, int flags, int fd,
                                     uint64_t offset) {
  ION_ASSIGN_OR_RETURN(task_struct * t, live_task(proc));
  current_task_scope scope(t);
  ErrnoOr<unsigned long> got = sys_mmap(static_cast<unsigned long>(addr), len, static_cast<unsigned long>(prot),
                                        static_cast<unsigned long>(flags), fd, static_cast<unsigned long>(offset));
  if (!got.ok()) return got.error();
  return static_cast<uint64_t>(got.value());
}

Errno ModelBackend::munmap(ProcId proc, uint64_t addr, size_t len) {
  ION_ASSIGN_OR_RETURN(task_struct * t, live_task(proc));
  current_task_scope scope(t);
  return sys_munmap(static_cast<unsigned long>(addr), len);
}

Errno ModelBackend::peek(ProcId proc, uint64_t addr, void* buf, size_t len) {
  ION_ASSIGN_OR_RETURN(task_struct * t, live_task(proc));
  current_task_scope scope(t);
  return user_read(t->mm, static_cast<unsigned long>(addr), buf, len);
}

Errno ModelBackend::poke(ProcId proc, uint64_t addr, const void* buf, size_t len) {
  ION_ASSIGN_OR_RETURN(task_struct * t, live_task(proc));
  current_task_scope scope(t);
  return user_write(t->mm, static_cast<unsigned long>(addr), buf, len);
}

ErrnoOr<std::string> ModelBackend::debugfs_read(const std::string& path) { return debugfs_read_file(path); }

Errno ModelBackend::debugfs_write(const std::string& path, const std::string& text) {
  return debugfs_write_file(path, text);
}

Errno ModelBackend::run_deferred_free() {
  for (ion_heap* heap : heaps_) {
    if (heap->flags & ION_HEAP_FLAG_DEFER_FREE) ion_heap_deferred_free_run(heap, ~size_t{0});
  }
  return Errno::Ok();
}

ErrnoOr<std::string> ModelBackend::canonical_dump() { return ion_canonical_dump(dev_); }

}  // namespace ionsim
