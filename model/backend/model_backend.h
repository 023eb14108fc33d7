// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The model backend: a simulated machine (physical memory, tasks, VFS) with the ION model loaded, driven
// through IonBackend. It also offers white-box access (the device, the heaps, the invariant checker) for
// policy tests that need to look inside.
#ifndef MODEL_BACKEND_MODEL_BACKEND_H_
#define MODEL_BACKEND_MODEL_BACKEND_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kmod/uapi/ion.h"
#include "model/backend/ion_backend.h"
#include "model/ion_priv.h"
#include "model/ion_state.h"
#include "model/kernel/dma_mapping.h"
#include "model/kernel/mm.h"
#include "model/kernel/sched.h"

namespace ionsim {

// One heap of the platform data (struct ion_platform_heap).
struct ModelHeapConfig {
  ion_heap_type type = ION_HEAP_TYPE_SYSTEM;
  unsigned int id = 0;
  std::string name;
  uint64_t base = 0;        // carveout-like heaps: physical base (reserved at boot)
  uint64_t size = 0;        // bytes
  uint64_t align = 0;
  uint64_t chunk_size = 0;  // chunk heap: the chunk size (platform priv)
  // carveout, chunk: the heap's range; dma: the range becomes the CMA area of the heap's device (4 MiB aligned).
};

// The machine and its heaps.
struct ModelConfig {
  uint64_t ram_base = 0x80000000ULL;
  uint64_t ram_size = 512ULL << 20;
  uint64_t lowmem_size = 448ULL << 20;
  std::vector<ModelHeapConfig> heaps;
  // The ION profile (kmod/ion_profile.h, docs/profiles.md); "" for the default (4.4-compat).
  std::string profile;
};

// A machine with the heap types of the ION core: system_contig (id 1) and a 4 MiB carveout (id 2) reserved at
// the top of RAM, as the dummy board lays them out.
ModelConfig CoreModelConfig();

// A machine with one heap of every type, as the dummy board plus a DMA heap (ids in type order): system 0,
// system_contig 1 ("system contig"), carveout 2 (4 MiB at the top of RAM), chunk 3 (4 MiB below it, 16 KiB
// chunks) and dma 4 (an 8 MiB CMA area below that). 512 MiB of RAM at 0x80000000 with 448 MiB of lowmem, so the
// three ranges sit in highmem and the system heap's pools see both zones.
ModelConfig AllHeapsModelConfig();

class ModelBackend : public IonBackend {
 public:
  // Boots the machine: physical memory with every carveout-like range reserved and a CMA area over each dma
  // heap's range, then loads the module: the ION device, then every heap in config order. The error of the
  // first step that fails.
  static ErrnoOr<std::unique_ptr<ModelBackend>> Create(const ModelConfig& config);
  // Shuts down (Shutdown() if it has not run).
  ~ModelBackend() override;

  // Shuts the machine down after a module unload: every process exits (closing its files), then
  // ion_device_teardown() frees whatever is still alive, then the CMA areas and the machine go. Returns the
  // leak report, "" when everything came back: ion_device_teardown()'s lines, plus
  //   cma: area <heap name>: <n> pages still allocated
  //   page allocator: <n> pages still allocated
  // Only the first call does anything; later calls return "".
  std::string Shutdown();

  // Reloads the ION module on the same machine, as rmmod + insmod do in a guest that keeps its kernel: every
  // process exits (closing its files) and is reaped, ion_device_teardown() frees whatever is still alive and
  // destroys the heaps; then the device and every heap are made again from the config over the same physical
  // memory (reserved ranges stay reserved, the CMA areas stay, as the kernel's do; the page allocator carries
  // on). The next operations see a fresh device: serials b1 and c1, empty pools, free lists and genalloc pools;
  // the CMA bitmaps are empty again when every buffer came back. Returns the unload's leak report, "" when
  // everything came back: the lines Shutdown() reports for the device and the CMA areas, plus
  //   page allocator: <n> pages still allocated
  // when pages are still out once the module and every process are gone. When the load fails the report
  // says "module load: <errno name>", what the load made is undone and the backend has no device until a later
  // reload succeeds: only Shutdown() and ReloadModule() may be called on it then. After Shutdown() the report is
  // "module load: ENODEV".
  std::string ReloadModule();

  std::string name() const override { return "model"; }
  ErrnoOr<ProcId> spawn(const std::string& comm) override;
  ErrnoOr<ProcId> fork(ProcId parent) override;
  Errno exit(ProcId proc) override;
  ErrnoOr<int> open(ProcId proc, const std::string& path, unsigned int flags) override;
  Errno close(ProcId proc, int fd) override;
  ErrnoOr<int> dup(ProcId proc, int fd) override;
  ErrnoOr<int> pass_fd(ProcId from, int fd, ProcId to) override;
  ErrnoOr<long> ioctl(ProcId proc, int fd, unsigned int cmd, uint64_t arg) override;
  ErrnoOr<long> read(ProcId proc, int fd, uint64_t buf, size_t count) override;
  ErrnoOr<long> write(ProcId proc, int fd, uint64_t buf, size_t count) override;
  ErrnoOr<uint64_t> mmap(ProcId proc, uint64_t addr, size_t len, int prot, int flags, int fd,
                         uint64_t offset) override;
  Errno munmap(ProcId proc, uint64_t addr, size_t len) override;
  Errno peek(ProcId proc, uint64_t addr, void* buf, size_t len) override;
  Errno poke(ProcId proc, uint64_t addr, const void* buf, size_t len) override;
  ErrnoOr<std::string> debugfs_read(const std::string& path) override;
  Errno debugfs_write(const std::string& path, const std::string& text) override;
  Errno run_deferred_free() override;
  ErrnoOr<std::string> canonical_dump() override;

  // White-box access.
  kernel::ion_device* device() const { return dev_; }
  kernel::phys_mem* mem() const { return mem_; }
  // The heap with this id, or NULL.
  kernel::ion_heap* heap(unsigned int id) const;
  // The task of a live process, or NULL.
  kernel::task_struct* task(ProcId proc) const;
  // The invariant checker (model/ion_state.h): "" when every invariant holds. `debugfs` chooses how the heaps'
  // debugfs totals are read: the rendered text (the default) or the sum the text would print; reports come in
  // creation order unless in_creation_order is false; `locking` says whether ION's locks are taken (the
  // default) or the caller guarantees no operation runs meanwhile.
  std::string check_invariants(kernel::ion_check_debugfs debugfs = kernel::ION_CHECK_DEBUGFS_TEXT,
                               bool in_creation_order = true,
                               kernel::ion_check_locking locking = kernel::ION_CHECK_LOCKED) const;

 private:
  ModelBackend() = default;
  ErrnoOr<kernel::task_struct*> live_task(ProcId proc) const;
  // Module load: the device, every heap in config order (a dma heap over its CMA area from Create()). The
  // error of the first step that fails (what was made stays for UnloadModule()).
  Errno LoadModule();
  // Every process exits and is reaped, then the device and the heaps go. The leak report (CMA pages still
  // allocated included).
  std::string UnloadModule();

  ModelConfig config_;

  kernel::phys_mem* mem_ = nullptr;
  kernel::ion_device* dev_ = nullptr;
  // The devices of the dma heaps, each with its CMA area (platform priv of the heap).
  std::vector<std::unique_ptr<kernel::device>> cma_devices_;
  std::vector<kernel::ion_heap*> heaps_;
  std::vector<std::unique_ptr<kernel::ion_platform_heap>> heap_data_;
  std::vector<std::unique_ptr<std::string>> heap_names_;
  std::map<ProcId, kernel::task_struct*> tasks_;
};

}  // namespace ionsim

#endif  // MODEL_BACKEND_MODEL_BACKEND_H_
