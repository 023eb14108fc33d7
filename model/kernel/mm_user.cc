// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// Locking, as upstream: mm->mmap_sem is held for write across mmap, munmap, fork and exit (f_op->mmap and
// vm_ops->open/close run under it) and for read across user accesses and their faults (vm_ops->fault runs
// under it). mm->page_table_lock guards the page tables. Files whose last reference may go while mmap_sem is
// held are collected and fput() after up_write(), as v4.4's fput defers the release to task_work.
#include "model/kernel/mm_user.h"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "model/kernel/bug.h"
#include "model/kernel/cpu_cache.h"
#include "model/kernel/sched.h"
#include "model/kernel/slab.h"

namespace ionsim::kernel {
namespace {

// Mirrors include/uapi/asm-generic/mman-common.h:MAP_TYPE @ v4.4.
constexpr unsigned long MAP_TYPE = 0x0f;
// Mirrors mm/Kconfig:DEFAULT_MMAP_MIN_ADDR @ v4.4 (its default; mmap_min_addr).
constexpr unsigned long kMmapMinAddr = 4096;
// Mirrors include/linux/mm.h:DEFAULT_MAX_MAP_COUNT @ v4.4 (sysctl_max_map_count).
constexpr unsigned long kMaxMapCount = 65530;
// Divergence: a fault handler that returns VM_FAULT_NOPAGE without mapping the page makes the kernel fault on
// the same address for ever; the model gives up after this many rounds with a soft-lockup report.
constexpr int kMaxFaultRounds = 1000;

using file_list = std::vector<struct file*>;

void fput_all(const file_list& files) {
  for (struct file* file : files) fput(file);
}

unsigned long vma_flags(const struct vm_area_struct* vma) {
  return __atomic_load_n(&vma->vm_flags, __ATOMIC_RELAXED);
}

size_t pte_index(const struct vm_area_struct* vma, unsigned long addr) {
  return static_cast<size_t>((addr - vma->vm_start) >> PAGE_SHIFT);
}

// Mirrors mm/memory.c:is_cow_mapping() @ v4.4.
bool is_cow_mapping(unsigned long flags) { return (flags & (VM_SHARED | VM_MAYWRITE)) == VM_MAYWRITE; }

// Whether the vma's page table entries hold a page reference. Mirrors mm/memory.c:vm_normal_page() @ v4.4: the
// entries of a VM_PFNMAP mapping are raw pfns that zapping does not put; every other entry was mapped with a
// reference (vm_insert_page, a fault handler's page) that zapping drops.
bool ptes_hold_references(unsigned long flags) { return !(flags & VM_PFNMAP); }

// Anonymous bytes: one zeroed page.
uint8_t* alloc_anon_page() { return kcalloc<uint8_t>(PAGE_SIZE, GFP_HIGHUSER_MOVABLE); }

struct task_struct* current_task_for_syscall(const char* function) {
  struct task_struct* task = get_current();
  if (task == nullptr || task->exited || task->mm == nullptr) {
    bug_slowpath(__FILE__, __LINE__, function, "%s() called without a live current task that has an mm", function);
  }
  return task;
}

// Mirrors mm/mmap.c:find_vma() @ v4.4: the first vma ending above addr, or NULL.
struct vm_area_struct* find_vma(struct mm_struct* mm, unsigned long addr) ABSL_SHARED_LOCKS_REQUIRED(mm->mmap_sem) {
  auto it = mm->vmas.upper_bound(addr);
  if (it != mm->vmas.begin()) {
    struct vm_area_struct* prev = std::prev(it)->second;
    if (prev->vm_end > addr) return prev;
  }
  return it == mm->vmas.end() ? nullptr : it->second;
}

// Mirrors mm/memory.c:zap_pte_range() @ v4.4 for the entries [first, last) of one vma: page references are
// dropped (vm_normal_page) and anonymous pages freed.
void zap_pte_range(struct mm_struct* mm, struct vm_area_struct* vma, size_t first, size_t last)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(mm->page_table_lock) {
  lockdep_assert_held(&mm->page_table_lock);
  const bool refs = ptes_hold_references(vma_flags(vma));
  last = std::min(last, vma->ptes.size());
  for (size_t i = first; i < last; i++) {
    struct page* page = vma->ptes[i];
    vma->ptes[i] = nullptr;
    if (page != nullptr && refs) put_page(page);
    kfree_array(vma->anon_pages[i]);
    vma->anon_pages[i] = nullptr;
  }
}

// Mirrors mm/memory.c:unmap_single_vma() @ v4.4 over the whole vma.
void unmap_single_vma(struct mm_struct* mm, struct vm_area_struct* vma) {
  spin_lock(&mm->page_table_lock);
  zap_pte_range(mm, vma, 0, vma->ptes.size());
  spin_unlock(&mm->page_table_lock);
}

struct vm_area_struct* vm_area_alloc(struct mm_struct* mm, unsigned long start, unsigned long end) {
  struct vm_area_struct* vma = kzalloc<struct vm_area_struct>(GFP_KERNEL);
  if (vma == nullptr) return nullptr;
  vma->vm_mm = mm;
  vma->vm_start = start;
  vma->vm_end = end;
  vma->ptes.assign((end - start) >> PAGE_SHIFT, nullptr);
  vma->anon_pages.assign((end - start) >> PAGE_SHIFT, nullptr);
  return vma;
}

// Mirrors mm/mmap.c:remove_vma() @ v4.4: vm_ops->close, then the file reference (collected for fput), then the
// vma itself. Its page table was zapped before.
void remove_vma(struct vm_area_struct* vma, file_list* to_fput) {
  if (vma->vm_ops != nullptr && vma->vm_ops->close != nullptr) vma->vm_ops->close(vma);
  if (vma->vm_file != nullptr) to_fput->push_back(vma->vm_file);
  kfree(vma);
}

// Mirrors mm/mmap.c:__split_vma() @ v4.4: the new vma is the part below addr when new_below, else the part from
// addr; it takes its own file reference and vm_ops->open runs for it.
Errno __split_vma(struct mm_struct* mm, struct vm_area_struct* vma, unsigned long addr, bool new_below)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(mm->mmap_sem) {
  struct vm_area_struct* new_vma = kzalloc<struct vm_area_struct>(GFP_KERNEL);
  if (new_vma == nullptr) return Errno(-ENOMEM);
  const size_t split = pte_index(vma, addr);
  new_vma->vm_mm = mm;
  new_vma->vm_page_prot = vma->vm_page_prot;
  new_vma->vm_flags = vma_flags(vma);
  new_vma->vm_file = vma->vm_file;
  new_vma->vm_ops = vma->vm_ops;
  new_vma->vm_private_data = vma->vm_private_data;

  const unsigned long old_start = vma->vm_start;
  spin_lock(&mm->page_table_lock);
  if (new_below) {
    new_vma->vm_start = vma->vm_start;
    new_vma->vm_end = addr;
    new_vma->vm_pgoff = vma->vm_pgoff;
    new_vma->ptes.assign(vma->ptes.begin(), vma->ptes.begin() + split);
    new_vma->anon_pages.assign(vma->anon_pages.begin(), vma->anon_pages.begin() + split);
    vma->ptes.erase(vma->ptes.begin(), vma->ptes.begin() + split);
    vma->anon_pages.erase(vma->anon_pages.begin(), vma->anon_pages.begin() + split);
    vma->vm_start = addr;
    vma->vm_pgoff += split;
  } else {
    new_vma->vm_start = addr;
    new_vma->vm_end = vma->vm_end;
    new_vma->vm_pgoff = vma->vm_pgoff + split;
    new_vma->ptes.assign(vma->ptes.begin() + split, vma->ptes.end());
    new_vma->anon_pages.assign(vma->anon_pages.begin() + split, vma->anon_pages.end());
    vma->ptes.resize(split);
    vma->anon_pages.resize(split);
    vma->vm_end = addr;
  }
  spin_unlock(&mm->page_table_lock);

  if (new_vma->vm_file != nullptr) get_file(new_vma->vm_file);
  if (new_vma->vm_ops != nullptr && new_vma->vm_ops->open != nullptr) new_vma->vm_ops->open(new_vma);

  if (new_below) {
    mm->vmas.erase(old_start);
    mm->vmas[vma->vm_start] = vma;
  }
  mm->vmas[new_vma->vm_start] = new_vma;
  mm->map_count++;
  return Errno::Ok();
}

// Mirrors mm/mmap.c:do_munmap() @ v4.4.
Errno do_munmap(struct mm_struct* mm, unsigned long start, size_t len, file_list* to_fput)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(mm->mmap_sem) {
  if ((start & ~PAGE_MASK) || start > TASK_SIZE || len > TASK_SIZE - start) return Errno(-EINVAL);
  len = PAGE_ALIGN(len);
  if (len == 0) return Errno(-EINVAL);

  struct vm_area_struct* vma = find_vma(mm, start);
  if (vma == nullptr) return Errno::Ok();
  const unsigned long end = start + len;
  if (vma->vm_start >= end) return Errno::Ok();

  if (start > vma->vm_start) {
    // map_count may go one above the limit for a moment, never stay there.
    if (end < vma->vm_end && mm->map_count >= kMaxMapCount) return Errno(-ENOMEM);
    ION_RETURN_IF_ERROR(__split_vma(mm, vma, start, false));
  }
  struct vm_area_struct* last = find_vma(mm, end);
  if (last != nullptr && end > last->vm_start) ION_RETURN_IF_ERROR(__split_vma(mm, last, end, true));

  // detach_vmas_to_be_unmapped(), unmap_region(), remove_vma_list().
  std::vector<struct vm_area_struct*> detached;
  for (auto it = mm->vmas.lower_bound(start); it != mm->vmas.end() && it->first < end;) {
    detached.push_back(it->second);
    it = mm->vmas.erase(it);
    mm->map_count--;
  }
  for (struct vm_area_struct* v : detached) unmap_single_vma(mm, v);
  for (struct vm_area_struct* v : detached) remove_vma(v, to_fput);
  return Errno::Ok();
}

// Mirrors mm/mmap.c:unmapped_area() @ v4.4, bottom-up from TASK_UNMAPPED_BASE: the lowest gap that fits.
ErrnoOr<unsigned long> unmapped_area(struct mm_struct* mm, unsigned long len)
    ABSL_SHARED_LOCKS_REQUIRED(mm->mmap_sem) {
  unsigned long candidate = TASK_UNMAPPED_BASE;
  for (auto it = mm->vmas.begin(); it != mm->vmas.end(); ++it) {
    const struct vm_area_struct* vma = it->second;
    if (vma->vm_end <= candidate) continue;
    if (vma->vm_start >= candidate && vma->vm_start - candidate >= len) break;
    candidate = vma->vm_end;
  }
  if (candidate > TASK_SIZE || TASK_SIZE - candidate < len) return Errno(-ENOMEM);
  return candidate;
}

// Mirrors mm/mmap.c:get_unmapped_area() -> arch_get_unmapped_area() @ v4.4 (the legacy bottom-up layout).
ErrnoOr<unsigned long> get_unmapped_area(struct mm_struct* mm, unsigned long addr, unsigned long len,
                                         unsigned long flags) ABSL_SHARED_LOCKS_REQUIRED(mm->mmap_sem) {
  if (len > TASK_SIZE) return Errno(-ENOMEM);
  if (len > TASK_SIZE - kMmapMinAddr) return Errno(-ENOMEM);
  if (!(flags & MAP_FIXED)) {
    bool hint_fits = false;
    if (addr != 0) {
      addr = PAGE_ALIGN(addr);
      struct vm_area_struct* vma = find_vma(mm, addr);
      hint_fits = TASK_SIZE - len >= addr && addr >= kMmapMinAddr && (vma == nullptr || addr + len <= vma->vm_start);
    }
    if (!hint_fits) {
      ION_ASSIGN_OR_RETURN(addr, unmapped_area(mm, len));
    }
  }
  if (addr > TASK_SIZE - len) return Errno(-ENOMEM);
  if (addr & ~PAGE_MASK) return Errno(-EINVAL);
  return addr;
}

// Mirrors include/linux/mman.h:calc_vm_prot_bits() @ v4.4.
unsigned long calc_vm_prot_bits(unsigned long prot) {
  return ((prot & PROT_READ) ? VM_READ : 0) | ((prot & PROT_WRITE) ? VM_WRITE : 0);
}

// Mirrors mm/mmap.c:mmap_region() @ v4.4.
// Divergence: no vma_merge(): every mmap makes its own vma.
ErrnoOr<unsigned long> mmap_region(struct mm_struct* mm, struct file* file, unsigned long addr, unsigned long len,
                                   unsigned long vm_flags, unsigned long pgoff, file_list* to_fput)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(mm->mmap_sem) {
  // Clear old maps.
  struct vm_area_struct* old = find_vma(mm, addr);
  if (old != nullptr && old->vm_start < addr + len) {
    if (!do_munmap(mm, addr, len, to_fput).ok()) return Errno(-ENOMEM);
  }

  struct vm_area_struct* vma = vm_area_alloc(mm, addr, addr + len);
  if (vma == nullptr) return Errno(-ENOMEM);
  vma->vm_flags = vm_flags;
  vma->vm_page_prot = vm_get_page_prot(vm_flags);
  vma->vm_pgoff = pgoff;

  if (file != nullptr) {
    vma->vm_file = get_file(file);
    const int error = file->f_op->mmap(file, vma);
    if (error) {
      // Undo any partial mapping done by the driver; vm_ops->close does not run.
      vma->vm_file = nullptr;
      to_fput->push_back(file);
      unmap_single_vma(mm, vma);
      kfree(vma);
      return Errno(error);
    }
    // Drivers may move vm_start (upstream re-reads it and warns); the model keeps the range it chose.
    if (WARN_ON_ONCE(addr != vma->vm_start || addr + len != vma->vm_end)) {
      vma->vm_start = addr;
      vma->vm_end = addr + len;
    }
  }
  // Divergence: a MAP_SHARED|MAP_ANONYMOUS mapping gets no shmem object (shmem_zero_setup): it is anonymous
  // memory like a private one, and fork copies it.

  mm->vmas[addr] = vma;
  mm->map_count++;
  return addr;
}

// Mirrors mm/mmap.c:do_mmap() @ v4.4 (do_mmap_pgoff).
ErrnoOr<unsigned long> do_mmap(struct mm_struct* mm, struct file* file, unsigned long addr, unsigned long len,
                               unsigned long prot, unsigned long flags, unsigned long pgoff, file_list* to_fput)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(mm->mmap_sem) {
  if (len == 0) return Errno(-EINVAL);
  // round_hint_to_min()
  if (!(flags & MAP_FIXED)) {
    addr &= PAGE_MASK;
    if (addr != 0 && addr < kMmapMinAddr) addr = PAGE_ALIGN(kMmapMinAddr);
  }
  // Careful about overflows.
  len = PAGE_ALIGN(len);
  if (len == 0) return Errno(-ENOMEM);
  if (pgoff + (len >> PAGE_SHIFT) < pgoff) return Errno(-EOVERFLOW);
  if (mm->map_count > kMaxMapCount) return Errno(-ENOMEM);

  ION_ASSIGN_OR_RETURN(addr, get_unmapped_area(mm, addr, len, flags));

  unsigned long vm_flags = calc_vm_prot_bits(prot) | VM_MAYREAD | VM_MAYWRITE;
  if (file != nullptr) {
    switch (flags & MAP_TYPE) {
      case MAP_SHARED:
        if ((prot & PROT_WRITE) && !(file->f_mode & FMODE_WRITE)) return Errno(-EACCES);
        vm_flags |= VM_SHARED | VM_MAYSHARE;
        if (!(file->f_mode & FMODE_WRITE)) vm_flags &= ~(VM_MAYWRITE | VM_SHARED);
        [[fallthrough]];
      case MAP_PRIVATE:
        if (!(file->f_mode & FMODE_READ)) return Errno(-EACCES);
        if (file->f_op == nullptr || file->f_op->mmap == nullptr) return Errno(-ENODEV);
        break;
      default:
        return Errno(-EINVAL);
    }
  } else {
    switch (flags & MAP_TYPE) {
      case MAP_SHARED:
        pgoff = 0;
        vm_flags |= VM_SHARED | VM_MAYSHARE;
        break;
      case MAP_PRIVATE:
        pgoff = addr >> PAGE_SHIFT;
        break;
      default:
        return Errno(-EINVAL);
    }
  }
  return mmap_region(mm, file, addr, len, vm_flags, pgoff, to_fput);
}

// ---- Faults and user accesses ---------------------------------------------------------------------------------

// Mirrors arch/x86/mm/fault.c:access_error() @ v4.4: a write needs VM_WRITE; a read needs any access right
// (a write-only mapping is readable on x86).
bool access_error(const struct vm_area_struct* vma, bool write) {
  const unsigned long flags = vma_flags(vma);
  if (write) return !(flags & VM_WRITE);
  return !(flags & (VM_READ | VM_WRITE));
}

// Mirrors include/linux/mm.h:vma_is_anonymous() @ v4.4.
bool vma_is_anonymous(const struct vm_area_struct* vma) { return vma->vm_ops == nullptr; }

// Copies len bytes (inside the page at addr) to dst or from src if the page table allows it now; with neither
// buffer it only checks. False means the access faults.
bool try_access(struct mm_struct* mm, struct vm_area_struct* vma, unsigned long addr, uint8_t* dst,
                const uint8_t* src, size_t len, bool write) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mm->page_table_lock) {
  lockdep_assert_held(&mm->page_table_lock);
  const size_t idx = pte_index(vma, addr);
  const size_t offset = addr & ~PAGE_MASK;
  uint8_t* anon = vma->anon_pages[idx];
  if (anon != nullptr) {
    if (dst != nullptr) std::memcpy(dst, anon + offset, len);
    if (src != nullptr) std::memcpy(anon + offset, src, len);
    return true;
  }
  struct page* page = vma->ptes[idx];
  if (page != nullptr) {
    // A write to a private mapping copies the page first (do_wp_page).
    if (write && !(vma_flags(vma) & VM_SHARED)) return false;
    // Through the CPU cache (model/kernel/cpu_cache.h): a cached mapping's stores leave dirty lines.
    const bool cacheable = vma->vm_page_prot.cache == page_cache_mode::kCached;
    if (dst != nullptr) cpu_cache_read(page, offset, dst, len, cacheable);
    if (src != nullptr) cpu_cache_write(page, offset, src, len, cacheable);
    return true;
  }
  // Reads of untouched anonymous memory see the zero page.
  if (!write && vma_is_anonymous(vma) && !(vma->vm_file != nullptr && (vma_flags(vma) & VM_SHARED))) {
    if (dst != nullptr) std::memset(dst, 0, len);
    return true;
  }
  return false;
}

// Mirrors mm/memory.c:wp_page_copy() @ v4.4: the private copy replaces the mapped page.
int wp_page_copy(struct mm_struct* mm, struct vm_area_struct* vma, size_t idx) {
  uint8_t* copy = alloc_anon_page();
  if (copy == nullptr) return VM_FAULT_OOM;
  spin_lock(&mm->page_table_lock);
  struct page* page = vma->ptes[idx];
  if (vma->anon_pages[idx] == nullptr && page != nullptr) {
    page_read(page, 0, copy, PAGE_SIZE);
    vma->anon_pages[idx] = copy;
    copy = nullptr;
    vma->ptes[idx] = nullptr;
    if (ptes_hold_references(vma_flags(vma))) put_page(page);
  }
  spin_unlock(&mm->page_table_lock);
  kfree_array(copy);
  return 0;
}

// Mirrors mm/memory.c:do_anonymous_page() @ v4.4.
int do_anonymous_page(struct mm_struct* mm, struct vm_area_struct* vma, size_t idx, bool write) {
  // A file mapping without vm_ops.
  if (vma->vm_file != nullptr && (vma_flags(vma) & VM_SHARED)) return VM_FAULT_SIGBUS;
  if (!write) return 0;  // the zero page
  uint8_t* page = alloc_anon_page();
  if (page == nullptr) return VM_FAULT_OOM;
  spin_lock(&mm->page_table_lock);
  if (vma->anon_pages[idx] == nullptr && vma->ptes[idx] == nullptr) {
    vma->anon_pages[idx] = page;
    page = nullptr;
  }
  spin_unlock(&mm->page_table_lock);
  kfree_array(page);
  return 0;
}

// Mirrors mm/memory.c:__do_fault() @ v4.4: the handler either maps the page itself (VM_FAULT_NOPAGE) or returns
// it in vmf->page with a reference for the caller.
int __do_fault(struct vm_area_struct* vma, unsigned long address, bool write, struct page** page) {
  struct vm_fault vmf = {};
  vmf.flags = write ? FAULT_FLAG_WRITE : 0;
  vmf.pgoff = vma->vm_pgoff + pte_index(vma, address);
  vmf.virtual_address = address;
  vmf.page = nullptr;
  const int ret = vma->vm_ops->fault(vma, &vmf);
  if (ret & (VM_FAULT_ERROR | VM_FAULT_NOPAGE)) return ret;
  if (vmf.page == nullptr) {
    // v4.4 goes on to lock_page(NULL) and oopses.
    bug_slowpath(__FILE__, __LINE__, __func__, "vm_ops->fault returned %#x without a page", ret);
  }
  *page = vmf.page;
  return ret;
}

// Mirrors mm/memory.c:do_read_fault() and do_shared_fault() @ v4.4: the handler's page goes into the page table
// with the handler's reference. In a VM_PFNMAP vma that reference is never dropped (zapping puts nothing there),
// as upstream.
int do_read_or_shared_fault(struct mm_struct* mm, struct vm_area_struct* vma, unsigned long address, bool write) {
  struct page* page = nullptr;
  const int ret = __do_fault(vma, address, write, &page);
  if (ret & (VM_FAULT_ERROR | VM_FAULT_NOPAGE)) return ret;
  const size_t idx = pte_index(vma, address);
  spin_lock(&mm->page_table_lock);
  const bool raced = vma->ptes[idx] != nullptr || vma->anon_pages[idx] != nullptr;
  if (!raced) vma->ptes[idx] = page;
  spin_unlock(&mm->page_table_lock);
  if (raced) put_page(page);
  return ret;
}

// Mirrors mm/memory.c:do_cow_fault() @ v4.4: a write fault on a private file mapping maps a private copy of the
// handler's page and drops the handler's reference.
int do_cow_fault(struct mm_struct* mm, struct vm_area_struct* vma, unsigned long address) {
  uint8_t* copy = alloc_anon_page();
  if (copy == nullptr) return VM_FAULT_OOM;
  struct page* page = nullptr;
  const int ret = __do_fault(vma, address, true, &page);
  if (ret & (VM_FAULT_ERROR | VM_FAULT_NOPAGE)) {
    kfree_array(copy);
    return ret;
  }
  page_read(page, 0, copy, PAGE_SIZE);
  put_page(page);
  const size_t idx = pte_index(vma, address);
  spin_lock(&mm->page_table_lock);
  if (vma->anon_pages[idx] == nullptr && vma->ptes[idx] == nullptr) {
    vma->anon_pages[idx] = copy;
    copy = nullptr;
  }
  spin_unlock(&mm->page_table_lock);
  kfree_array(copy);
  return ret;
}

// Mirrors mm/memory.c:handle_pte_fault() @ v4.4 for a page that try_access() refused: 0 or VM_FAULT_* bits.
int handle_pte_fault(struct mm_struct* mm, struct vm_area_struct* vma, unsigned long address, bool write) {
  const size_t idx = pte_index(vma, address);
  spin_lock(&mm->page_table_lock);
  const bool present = vma->ptes[idx] != nullptr || vma->anon_pages[idx] != nullptr;
  const bool needs_copy = write && vma->anon_pages[idx] == nullptr && vma->ptes[idx] != nullptr;
  spin_unlock(&mm->page_table_lock);
  if (present) return needs_copy ? wp_page_copy(mm, vma, idx) : 0;
  if (vma_is_anonymous(vma)) return do_anonymous_page(mm, vma, idx, write);
  // The vma was not fully populated on mmap() and cannot be.
  if (vma->vm_ops->fault == nullptr) return VM_FAULT_SIGBUS;
  if (write && !(vma_flags(vma) & VM_SHARED)) return do_cow_fault(mm, vma, address);
  return do_read_or_shared_fault(mm, vma, address, write);
}

// One access inside one page at addr, faulting as the MMU would. With neither buffer it only makes the page
// accessible. False where a process gets SIGSEGV/SIGBUS and a uaccess routine stops.
bool access_user_page(struct mm_struct* mm, unsigned long addr, uint8_t* dst, const uint8_t* src, size_t len,
                      bool write) ABSL_SHARED_LOCKS_REQUIRED(mm->mmap_sem) {
  struct vm_area_struct* vma = find_vma(mm, addr);
  if (vma == nullptr || vma->vm_start > addr) return false;
  if (access_error(vma, write)) return false;
  for (int round = 0;; round++) {
    spin_lock(&mm->page_table_lock);
    const bool done = try_access(mm, vma, addr, dst, src, len, write);
    spin_unlock(&mm->page_table_lock);
    if (done) return true;
    if (round == kMaxFaultRounds) {
      report_kernel_event(BugKind::kSoftLockup, __FILE__, __LINE__, __func__, true,
                          "page fault at %#lx retried %d times: vm_ops->fault returns VM_FAULT_NOPAGE without "
                          "mapping the page",
                          addr, kMaxFaultRounds);
      return false;
    }
    if (handle_pte_fault(mm, vma, addr & PAGE_MASK, write) & VM_FAULT_ERROR) return false;
  }
}

// Walks [addr, addr + len) a page at a time; returns the bytes done before the first failing page.
size_t access_user_range(struct mm_struct* mm, unsigned long addr, uint8_t* dst, const uint8_t* src, size_t len,
                         bool write) ABSL_SHARED_LOCKS_REQUIRED(mm->mmap_sem) {
  size_t done = 0;
  while (done < len) {
    const unsigned long at = addr + done;
    const size_t piece = std::min<size_t>(len - done, PAGE_SIZE - (at & ~PAGE_MASK));
    if (!access_user_page(mm, at, dst ? dst + done : nullptr, src ? src + done : nullptr, piece, write)) break;
    done += piece;
  }
  return done;
}

bool user_range_ok(unsigned long addr, size_t len) { return len <= TASK_SIZE && addr <= TASK_SIZE - len; }

Errno user_access(struct mm_struct* mm, unsigned long addr, uint8_t* dst, const uint8_t* src, size_t len,
                  bool write) {
  if (len == 0) return Errno::Ok();
  if (!user_range_ok(addr, len)) return Errno(-EFAULT);
  down_read(&mm->mmap_sem);
  // Every page is made accessible first, so a bad page means nothing was read or written.
  bool ok = access_user_range(mm, addr, nullptr, nullptr, len, write) == len;
  if (ok) ok = access_user_range(mm, addr, dst, src, len, write) == len;
  up_read(&mm->mmap_sem);
  cpu_cache_report(mm->mem, write ? "CPU store" : "CPU load");
  return ok ? Errno::Ok() : Errno(-EFAULT);
}

thread_local bool t_kernel_ds = false;

// The mm a uaccess routine of this thread acts on: the current task's, none in a kernel thread.
struct mm_struct* uaccess_mm() {
  struct task_struct* task = get_current();
  return task == nullptr ? nullptr : task->mm;
}

// ---- Kernel virtual addresses ---------------------------------------------------------------------------------

// Mirrors arch/x86/include/asm/page_64_types.h:__PAGE_OFFSET @ v4.4: the linear map of physical memory.
constexpr unsigned long PAGE_OFFSET = 0xffff880000000000UL;
// Divergence: every machine has a linear map of its own: the n-th machine to ask for one is mapped at
// PAGE_OFFSET + n * 2^40, so the first machine's addresses are exactly PAGE_OFFSET + phys.
constexpr unsigned int kLinearMapShift = 40;
constexpr unsigned int kLinearMapSlots = 64;  // the 64 TiB direct-map window
// Divergence: x86-64 has no highmem; the pkmap window lies in the hole above the direct map.
constexpr unsigned long PKMAP_BASE = PAGE_OFFSET + (static_cast<unsigned long>(kLinearMapSlots) << kLinearMapShift);
// Mirrors arch/arm/include/asm/highmem.h:LAST_PKMAP @ v4.4 (PTRS_PER_PTE).
constexpr unsigned int LAST_PKMAP = 512;
constexpr unsigned int LAST_PKMAP_MASK = LAST_PKMAP - 1;
// Mirrors arch/x86/include/asm/pgtable_64_types.h:VMALLOC_START/VMALLOC_END @ v4.4.
constexpr unsigned long VMALLOC_START = 0xffffc90000000000UL;
constexpr unsigned long VMALLOC_END = 0xffffe8ffffffffffUL;

static_assert(PKMAP_BASE + LAST_PKMAP * PAGE_SIZE <= VMALLOC_START);

struct LinearMap {
  std::mutex mu;
  // A slot is live while its machine is: page_phys_mem() still finds the machine at its mem_map.
  struct phys_mem* mem[kLinearMapSlots] = {};
  const struct page* mem_map[kLinearMapSlots] = {};
};

LinearMap& linear_map() {
  static LinearMap* map = new LinearMap();  // never destroyed: machines may outlive static destruction
  return *map;
}

bool linear_slot_live(const LinearMap& map, unsigned int slot) {
  return map.mem[slot] != nullptr && page_phys_mem(map.mem_map[slot]) == map.mem[slot];
}

unsigned int linear_slot_of(struct phys_mem* mem) {
  LinearMap& map = linear_map();
  std::lock_guard<std::mutex> lock(map.mu);
  int free_slot = -1;
  for (unsigned int i = 0; i < kLinearMapSlots; i++) {
    if (linear_slot_live(map, i)) {
      if (map.mem[i] == mem) return i;
    } else if (free_slot < 0) {
      free_slot = static_cast<int>(i);
    }
  }
  if (free_slot < 0) {
    bug_slowpath(__FILE__, __LINE__, __func__, "more than %u machines have a linear map", kLinearMapSlots);
  }
  map.mem[free_slot] = mem;
  map.mem_map[free_slot] = mem->mem_map;
  return static_cast<unsigned int>(free_slot);
}

struct phys_mem* linear_slot_mem(unsigned int slot) {
  LinearMap& map = linear_map();
  std::lock_guard<std::mutex> lock(map.mu);
  return linear_slot_live(map, slot) ? map.mem[slot] : nullptr;
}

// Mirrors include/linux/mm.h:lowmem_page_address() @ v4.4.
void* lowmem_page_address(const struct page* page) {
  struct phys_mem* mem = page_phys_mem(page);
  const phys_addr_t phys = page_to_phys(page);  // BUGs for a pointer into no machine
  if (phys >> kLinearMapShift) {
    bug_slowpath(__FILE__, __LINE__, __func__, "physical address %#lx is beyond the linear map", phys);
  }
  const unsigned long slot = linear_slot_of(mem);
  return reinterpret_cast<void*>(PAGE_OFFSET + (slot << kLinearMapShift) + phys);
}

// The pkmap slots. Mirrors mm/highmem.c:pkmap_count[] and page_address_htable @ v4.4: count 0 is free, 1 is
// mapped but unused (until the next flush), n > 1 is n - 1 users.
struct Pkmap {
  spinlock_t lock;  // kmap_lock
  int count[LAST_PKMAP] ABSL_GUARDED_BY(lock) = {};
  struct page* page[LAST_PKMAP] ABSL_GUARDED_BY(lock) = {};
  unsigned int last_pkmap_nr ABSL_GUARDED_BY(lock) = 0;
};

Pkmap& pkmap() {
  static Pkmap* state = [] {
    Pkmap* p = new Pkmap();
    spin_lock_init(&p->lock, "kmap_lock");
    return p;
  }();
  return *state;
}

unsigned long PKMAP_ADDR(unsigned int nr) { return PKMAP_BASE + static_cast<unsigned long>(nr) * PAGE_SIZE; }

// The slot mapping page, or -1.
int pkmap_slot_of(Pkmap& p, const struct page* page) ABSL_EXCLUSIVE_LOCKS_REQUIRED(p.lock) {
  for (unsigned int i = 0; i < LAST_PKMAP; i++) {
    if (p.count[i] > 0 && p.page[i] == page) return static_cast<int>(i);
  }
  return -1;
}

// Mirrors mm/highmem.c:flush_all_zero_pkmaps() @ v4.4.
void flush_all_zero_pkmaps(Pkmap& p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(p.lock) {
  for (unsigned int i = 0; i < LAST_PKMAP; i++) {
    if (p.count[i] != 1) continue;
    p.count[i] = 0;
    p.page[i] = nullptr;
  }
}

// Mirrors mm/highmem.c:map_new_virtual() @ v4.4: the next free slot after the last one used, flushing unused
// slots whenever the search wraps. -1 when every slot is in use.
// Divergence: upstream sleeps until a kunmap frees a slot; the model reports and gives up.
int map_new_virtual(Pkmap& p, struct page* page) ABSL_EXCLUSIVE_LOCKS_REQUIRED(p.lock) {
  unsigned int count = LAST_PKMAP;
  for (;;) {
    p.last_pkmap_nr = (p.last_pkmap_nr + 1) & LAST_PKMAP_MASK;
    if (p.last_pkmap_nr == 0) {
      flush_all_zero_pkmaps(p);
      count = LAST_PKMAP;
    }
    if (p.count[p.last_pkmap_nr] == 0) break;
    if (--count) continue;
    return -1;
  }
  p.page[p.last_pkmap_nr] = page;
  p.count[p.last_pkmap_nr] = 1;
  return static_cast<int>(p.last_pkmap_nr);
}

// Mirrors include/linux/vmalloc.h:struct vm_struct @ v4.4; the model keeps the mapped pages as the range's page
// table.
struct vm_struct {
  unsigned long addr;
  unsigned long size;  // with the guard page
  unsigned long flags;
  pgprot_t prot;
  std::vector<struct page*> pages;
};

struct VmallocSpace {
  spinlock_t lock;  // vmap_area_lock
  std::map<unsigned long, struct vm_struct*> areas ABSL_GUARDED_BY(lock);
  unsigned long next ABSL_GUARDED_BY(lock) = VMALLOC_START;
};

VmallocSpace& vmalloc_space() {
  static VmallocSpace* space = [] {
    VmallocSpace* s = new VmallocSpace();
    spin_lock_init(&s->lock, "vmap_area_lock");
    return s;
  }();
  return *space;
}

// The struct page a kernel virtual address maps, or NULL.
struct page* kva_to_page(unsigned long addr, bool* cacheable = nullptr) {
  if (cacheable != nullptr) *cacheable = true;  // the linear map and kmap are PAGE_KERNEL
  if (addr >= VMALLOC_START && addr <= VMALLOC_END) {
    VmallocSpace& space = vmalloc_space();
    struct page* page = nullptr;
    spin_lock(&space.lock);
    auto it = space.areas.upper_bound(addr);
    if (it != space.areas.begin()) {
      const struct vm_struct* area = std::prev(it)->second;
      const unsigned long idx = (addr - area->addr) >> PAGE_SHIFT;
      if (idx < area->pages.size()) page = area->pages[idx];
      if (cacheable != nullptr) *cacheable = area->prot.cache == page_cache_mode::kCached;
    }
    spin_unlock(&space.lock);
    return page;
  }
  if (addr >= PKMAP_BASE && addr < PKMAP_ADDR(LAST_PKMAP)) {
    Pkmap& p = pkmap();
    const unsigned int nr = static_cast<unsigned int>((addr - PKMAP_BASE) >> PAGE_SHIFT);
    spin_lock(&p.lock);
    struct page* page = p.count[nr] > 0 ? p.page[nr] : nullptr;
    spin_unlock(&p.lock);
    // A slot left unused by a machine that has since been destroyed maps nothing.
    return page != nullptr && page_phys_mem(page) != nullptr ? page : nullptr;
  }
  if (addr >= PAGE_OFFSET && addr < PKMAP_BASE) {
    const unsigned int slot = static_cast<unsigned int>((addr - PAGE_OFFSET) >> kLinearMapShift);
    const phys_addr_t phys = (addr - PAGE_OFFSET) & ((1UL << kLinearMapShift) - 1);
    struct phys_mem* mem = linear_slot_mem(slot);
    if (mem == nullptr) return nullptr;
    struct page* page = phys_to_page(mem, phys);
    // The linear map covers lowmem only.
    if (page == nullptr || PageHighMem(page)) return nullptr;
    return page;
  }
  return nullptr;
}

Errno kva_access(unsigned long addr, uint8_t* dst, const uint8_t* src, size_t len) {
  if (len == 0) return Errno::Ok();
  if (addr + len < addr) return Errno(-EFAULT);
  struct piece {
    struct page* page;
    size_t offset;
    size_t len;
    bool cacheable;
  };
  std::vector<piece> pieces;
  for (size_t done = 0; done < len;) {
    const unsigned long at = addr + done;
    const size_t offset = at & ~PAGE_MASK;
    const size_t n = std::min<size_t>(len - done, PAGE_SIZE - offset);
    bool cacheable = true;
    struct page* page = kva_to_page(at, &cacheable);
    if (page == nullptr) return Errno(-EFAULT);
    pieces.push_back({page, offset, n, cacheable});
    done += n;
  }
  size_t done = 0;
  for (const piece& p : pieces) {
    if (dst != nullptr) cpu_cache_read(p.page, p.offset, dst + done, p.len, p.cacheable);
    if (src != nullptr) cpu_cache_write(p.page, p.offset, src + done, p.len, p.cacheable);
    done += p.len;
  }
  cpu_cache_report(page_phys_mem(pieces.front().page), dst != nullptr ? "kernel load" : "kernel store");
  return Errno::Ok();
}

}  // namespace

// ---- Address spaces -------------------------------------------------------------------------------------------

// Mirrors kernel/fork.c:mm_alloc() @ v4.4.
struct mm_struct* mm_create(struct phys_mem* mem) {
  struct mm_struct* mm = kzalloc<struct mm_struct>(GFP_KERNEL);
  if (mm == nullptr) return nullptr;
  init_rwsem(&mm->mmap_sem, "mmap_sem");
  spin_lock_init(&mm->page_table_lock, "page_table_lock");
  mm->mem = mem;
  return mm;
}

// Mirrors kernel/fork.c:dup_mm() -> dup_mmap() @ v4.4. Page tables are copied as mm/memory.c:copy_page_range()
// does: only for VM_PFNMAP/VM_MIXEDMAP vmas and vmas with anonymous pages; any other mapping refaults in the
// child. A failure tears the partial copy down with mmput(), as upstream.
ErrnoOr<struct mm_struct*> dup_mm(struct mm_struct* old) {
  struct mm_struct* mm = mm_create(old->mem);
  if (mm == nullptr) return Errno(-ENOMEM);
  Errno err = Errno::Ok();
  down_write(&old->mmap_sem);
  down_write(&mm->mmap_sem);
  for (const auto& [start, mpnt] : old->vmas) {
    struct vm_area_struct* tmp = vm_area_alloc(mm, mpnt->vm_start, mpnt->vm_end);
    if (tmp == nullptr) {
      err = Errno(-ENOMEM);
      break;
    }
    tmp->vm_page_prot = mpnt->vm_page_prot;
    tmp->vm_flags = vma_flags(mpnt);
    tmp->vm_pgoff = mpnt->vm_pgoff;
    tmp->vm_file = mpnt->vm_file;
    tmp->vm_ops = mpnt->vm_ops;
    tmp->vm_private_data = mpnt->vm_private_data;
    if (tmp->vm_file != nullptr) get_file(tmp->vm_file);
    mm->vmas[tmp->vm_start] = tmp;
    mm->map_count++;

    // copy_page_range()
    spin_lock(&old->page_table_lock);
    const unsigned long flags = vma_flags(mpnt);
    const bool has_anon = std::any_of(mpnt->anon_pages.begin(), mpnt->anon_pages.end(),
                                      [](const uint8_t* p) { return p != nullptr; });
    if ((flags & (VM_PFNMAP | VM_MIXEDMAP)) || has_anon) {
      spin_lock(&mm->page_table_lock);
      for (size_t i = 0; i < mpnt->ptes.size() && err.ok(); i++) {
        if (mpnt->anon_pages[i] != nullptr) {
          uint8_t* copy = alloc_anon_page();
          if (copy == nullptr) {
            err = Errno(-ENOMEM);
            break;
          }
          std::memcpy(copy, mpnt->anon_pages[i], PAGE_SIZE);
          tmp->anon_pages[i] = copy;
        }
        if (mpnt->ptes[i] != nullptr) {
          if (ptes_hold_references(flags)) get_page(mpnt->ptes[i]);
          tmp->ptes[i] = mpnt->ptes[i];
        }
      }
      spin_unlock(&mm->page_table_lock);
    }
    spin_unlock(&old->page_table_lock);

    if (tmp->vm_ops != nullptr && tmp->vm_ops->open != nullptr) tmp->vm_ops->open(tmp);
    if (!err.ok()) break;
  }
  up_write(&mm->mmap_sem);
  up_write(&old->mmap_sem);
  if (!err.ok()) {
    mmput(mm);
    return err;
  }
  return mm;
}

// Mirrors kernel/fork.c:mmput() -> mm/mmap.c:exit_mmap() @ v4.4: every page table is zapped first, then each vma
// is closed and its file reference dropped, lowest address first.
void mmput(struct mm_struct* mm) {
  if (mm == nullptr) return;
  std::vector<struct vm_area_struct*> vmas;
  file_list to_fput;
  down_write(&mm->mmap_sem);
  for (const auto& [start, vma] : mm->vmas) vmas.push_back(vma);
  mm->vmas.clear();
  mm->map_count = 0;
  for (struct vm_area_struct* vma : vmas) unmap_single_vma(mm, vma);
  for (struct vm_area_struct* vma : vmas) remove_vma(vma, &to_fput);
  up_write(&mm->mmap_sem);
  fput_all(to_fput);
  kfree(mm);
}

ErrnoOr<unsigned long> sys_mmap(unsigned long addr, unsigned long len, unsigned long prot, unsigned long flags,
                                int fd, unsigned long offset) {
  syscall_return_work return_work;
  struct task_struct* task = current_task_for_syscall(__func__);
  if (offset & ~PAGE_MASK) return Errno(-EINVAL);
  struct file* file = nullptr;
  if (!(flags & MAP_ANONYMOUS)) {
    file = fget(static_cast<unsigned int>(fd));
    if (file == nullptr) return Errno(-EBADF);
  }
  struct mm_struct* mm = task->mm;
  file_list to_fput;
  // Mirrors mm/util.c:vm_mmap_pgoff() @ v4.4.
  down_write(&mm->mmap_sem);
  ErrnoOr<unsigned long> ret = do_mmap(mm, file, addr, len, prot, flags, offset >> PAGE_SHIFT, &to_fput);
  up_write(&mm->mmap_sem);
  fput_all(to_fput);
  if (file != nullptr) fput(file);
  return ret;
}

// Mirrors mm/mmap.c:SYSCALL_DEFINE2(munmap) -> vm_munmap() @ v4.4.
Errno sys_munmap(unsigned long addr, size_t len) {
  syscall_return_work return_work;
  struct mm_struct* mm = current_task_for_syscall(__func__)->mm;
  file_list to_fput;
  down_write(&mm->mmap_sem);
  const Errno ret = do_munmap(mm, addr, len, &to_fput);
  up_write(&mm->mmap_sem);
  fput_all(to_fput);
  return ret;
}

Errno user_read(struct mm_struct* mm, unsigned long addr, void* buf, size_t len) {
  return user_access(mm, addr, static_cast<uint8_t*>(buf), nullptr, len, false);
}

Errno user_write(struct mm_struct* mm, unsigned long addr, const void* buf, size_t len) {
  return user_access(mm, addr, nullptr, static_cast<const uint8_t*>(buf), len, true);
}

// Mirrors arch/x86/lib/usercopy.c:_copy_from_user() and copy_user_handle_tail() @ v4.4: access_ok() first
// (nothing copied past user space), then byte by byte up to the fault, zeroing the rest.
unsigned long copy_from_user(void* to, user_ptr_t from, unsigned long n) {
  if (n == 0) return 0;
  if (uaccess_kernel()) {
    std::memcpy(to, reinterpret_cast<const void*>(from), n);
    return 0;
  }
  struct mm_struct* mm = uaccess_mm();
  size_t done = 0;
  if (mm != nullptr && user_range_ok(from, n)) {
    down_read(&mm->mmap_sem);
    done = access_user_range(mm, from, static_cast<uint8_t*>(to), nullptr, n, false);
    up_read(&mm->mmap_sem);
  }
  std::memset(static_cast<uint8_t*>(to) + done, 0, n - done);
  return n - done;
}

// Mirrors arch/x86/include/asm/uaccess.h:copy_to_user() -> arch/x86/lib/usercopy.c:copy_user_handle_tail()
// @ v4.4.
unsigned long copy_to_user(user_ptr_t to, const void* from, unsigned long n) {
  if (n == 0) return 0;
  if (uaccess_kernel()) {
    std::memcpy(reinterpret_cast<void*>(to), from, n);
    return 0;
  }
  struct mm_struct* mm = uaccess_mm();
  if (mm == nullptr || !user_range_ok(to, n)) return n;
  down_read(&mm->mmap_sem);
  const size_t done = access_user_range(mm, to, nullptr, static_cast<const uint8_t*>(from), n, true);
  up_read(&mm->mmap_sem);
  return n - done;
}

kernel_ds_scope::kernel_ds_scope() : prev_(t_kernel_ds) { t_kernel_ds = true; }

kernel_ds_scope::~kernel_ds_scope() { t_kernel_ds = prev_; }

// Mirrors arch/x86/include/asm/uaccess.h:segment_eq(get_fs(), KERNEL_DS) @ v4.4.
bool uaccess_kernel() { return t_kernel_ds; }

// ---- Page tables ----------------------------------------------------------------------------------------------

// Divergences: the range must lie inside the vma and every pfn must have a struct page (-EINVAL otherwise;
// upstream writes whatever page table entries it is asked to); the page table keeps no per-page protection, so
// prot is not recorded: accesses are checked against vm_flags.
Errno remap_pfn_range(struct vm_area_struct* vma, unsigned long addr, unsigned long pfn, unsigned long size,
                      pgprot_t /*prot*/) {
  struct mm_struct* mm = vma->vm_mm;
  const unsigned long start = addr & PAGE_MASK;
  const unsigned long end = addr + PAGE_ALIGN(size);
  if (is_cow_mapping(vma_flags(vma))) {
    if (addr != vma->vm_start || end != vma->vm_end) return Errno(-EINVAL);
    vma->vm_pgoff = pfn;
  }
  const unsigned long npages = PAGE_ALIGN(size) >> PAGE_SHIFT;
  if (start < vma->vm_start || start > vma->vm_end || npages > (vma->vm_end - start) >> PAGE_SHIFT) {
    return Errno(-EINVAL);
  }
  std::vector<struct page*> pages(npages);
  for (unsigned long i = 0; i < npages; i++) {
    pages[i] = pfn_to_page(mm->mem, pfn + i);
    if (pages[i] == nullptr) return Errno(-EINVAL);
  }

  __atomic_fetch_or(&vma->vm_flags, VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP, __ATOMIC_RELAXED);
  BUG_ON(addr >= end);
  const size_t first = pte_index(vma, start);
  spin_lock(&mm->page_table_lock);
  for (unsigned long i = 0; i < npages; i++) {
    // remap_pte_range(): remapping over a present entry is a BUG.
    if (vma->ptes[first + i] != nullptr) {
      bug_slowpath(__FILE__, __LINE__, "remap_pte_range", "BUG_ON(!pte_none(*pte)) at %#lx",
                   start + i * PAGE_SIZE);
    }
    vma->ptes[first + i] = pages[i];
  }
  spin_unlock(&mm->page_table_lock);
  return Errno::Ok();
}

// Divergence: a pfn without a struct page is -EINVAL (the model's page tables map struct pages).
Errno vm_insert_pfn(struct vm_area_struct* vma, unsigned long addr, unsigned long pfn) {
  struct mm_struct* mm = vma->vm_mm;
  const unsigned long flags = vma_flags(vma);
  BUG_ON(!(flags & (VM_PFNMAP | VM_MIXEDMAP)));
  BUG_ON((flags & (VM_PFNMAP | VM_MIXEDMAP)) == (VM_PFNMAP | VM_MIXEDMAP));
  BUG_ON((flags & VM_PFNMAP) && is_cow_mapping(flags));
  BUG_ON((flags & VM_MIXEDMAP) && pfn_valid(mm->mem, pfn));
  if (addr < vma->vm_start || addr >= vma->vm_end) return Errno(-EFAULT);
  struct page* page = pfn_to_page(mm->mem, pfn);
  if (page == nullptr) return Errno(-EINVAL);
  // insert_pfn()
  const size_t idx = pte_index(vma, addr);
  spin_lock(&mm->page_table_lock);
  const bool busy = vma->ptes[idx] != nullptr;
  if (!busy) vma->ptes[idx] = page;
  spin_unlock(&mm->page_table_lock);
  return busy ? Errno(-EBUSY) : Errno::Ok();
}

Errno vm_insert_page(struct vm_area_struct* vma, unsigned long addr, struct page* page) {
  struct mm_struct* mm = vma->vm_mm;
  if (addr < vma->vm_start || addr >= vma->vm_end) return Errno(-EFAULT);
  if (!page_count(page)) return Errno(-EINVAL);
  if (!(vma_flags(vma) & VM_MIXEDMAP)) {
    BUG_ON(vma_flags(vma) & VM_PFNMAP);
    __atomic_fetch_or(&vma->vm_flags, VM_MIXEDMAP, __ATOMIC_RELAXED);
  }
  // insert_page(): the entry holds a reference.
  const size_t idx = pte_index(vma, addr);
  spin_lock(&mm->page_table_lock);
  const bool busy = vma->ptes[idx] != nullptr;
  if (!busy) {
    get_page(page);
    vma->ptes[idx] = page;
  }
  spin_unlock(&mm->page_table_lock);
  return busy ? Errno(-EBUSY) : Errno::Ok();
}

int zap_vma_ptes(struct vm_area_struct* vma, unsigned long address, unsigned long size) {
  if (address < vma->vm_start || address + size > vma->vm_end || !(vma_flags(vma) & VM_PFNMAP)) return -1;
  zap_page_range(vma, address, size);
  return 0;
}

// Divergence: the range is clipped to vma (upstream walks on into the following vmas of the mm).
void zap_page_range(struct vm_area_struct* vma, unsigned long start, unsigned long size) {
  struct mm_struct* mm = vma->vm_mm;
  const unsigned long end = start + size < start ? ~0UL : start + size;
  spin_lock(&mm->page_table_lock);
  const unsigned long from = std::max(start, vma->vm_start);
  const unsigned long to = std::min(end, vma->vm_end);
  if (from < to) {
    zap_pte_range(mm, vma, pte_index(vma, from & PAGE_MASK), pte_index(vma, PAGE_ALIGN(to)));
  }
  spin_unlock(&mm->page_table_lock);
}

// Mirrors mm/mmap.c:protection_map[] (x86 __P/__S values) @ v4.4: a private writable mapping is read-only in the
// page table (PAGE_COPY) until copy-on-write.
pgprot_t vm_get_page_prot(unsigned long vm_flags) {
  unsigned long prot = 0;
  if (vm_flags & (VM_READ | VM_WRITE)) prot |= PROT_READ;
  if ((vm_flags & VM_WRITE) && (vm_flags & VM_SHARED)) prot |= PROT_WRITE;
  return pgprot_t{prot, page_cache_mode::kCached};
}

const char* page_cache_mode_name(page_cache_mode mode) {
  switch (mode) {
    case page_cache_mode::kCached:
      return "cached";
    case page_cache_mode::kWriteCombine:
      return "writecombine";
    case page_cache_mode::kUncached:
      return "uncached";
  }
  return "unknown";
}

std::vector<vma_info> mm_vmas(struct mm_struct* mm) {
  std::vector<vma_info> out;
  down_read(&mm->mmap_sem);
  for (const auto& [start, vma] : mm->vmas) {
    vma_info info;
    info.start = vma->vm_start;
    info.end = vma->vm_end;
    info.pgoff = vma->vm_pgoff;
    info.flags = vma_flags(vma);
    const struct inode* inode = vma->vm_file != nullptr ? file_inode(vma->vm_file) : nullptr;
    info.file = inode != nullptr && inode->name != nullptr ? inode->name : "";
    info.cache = vma->vm_page_prot.cache;
    info.present = 0;
    spin_lock(&mm->page_table_lock);
    for (size_t i = 0; i < vma->ptes.size(); i++) {
      if (vma->ptes[i] != nullptr || vma->anon_pages[i] != nullptr) info.present++;
    }
    spin_unlock(&mm->page_table_lock);
    out.push_back(std::move(info));
  }
  up_read(&mm->mmap_sem);
  return out;
}

// ---- Kernel virtual addresses ---------------------------------------------------------------------------------

// Divergence: addresses are never reused (v4.4 reuses a range after its lazy purge), and count is checked
// against the totalram_pages of the pages' machine. Each range is followed by an unmapped guard page.
void* vmap(struct page** pages, unsigned int count, unsigned long flags, pgprot_t prot) {
  struct phys_mem* mem = nullptr;
  for (unsigned int i = 0; i < count && mem == nullptr; i++) {
    if (pages[i] != nullptr) mem = page_phys_mem(pages[i]);
  }
  if (mem != nullptr && count > totalram_pages(mem)) return nullptr;
  // __get_vm_area_node(): an empty area is refused.
  if (count == 0) return nullptr;
  struct vm_struct* area = kzalloc<struct vm_struct>(GFP_KERNEL);
  if (area == nullptr) return nullptr;
  area->size = (static_cast<unsigned long>(count) + 1) * PAGE_SIZE;
  area->flags = flags;
  area->prot = prot;
  // map_vm_area() -> vmap_pte_range(): a NULL page fails the mapping.
  for (unsigned int i = 0; i < count; i++) {
    if (WARN_ON(pages[i] == nullptr)) {
      kfree(area);
      return nullptr;
    }
  }
  area->pages.assign(pages, pages + count);

  VmallocSpace& space = vmalloc_space();
  spin_lock(&space.lock);
  if (VMALLOC_END - space.next + 1 < area->size) {
    spin_unlock(&space.lock);
    kfree(area);
    return nullptr;
  }
  area->addr = space.next;
  space.next += area->size;
  space.areas[area->addr] = area;
  spin_unlock(&space.lock);
  return reinterpret_cast<void*>(area->addr);
}

// Mirrors mm/vmalloc.c:vunmap() -> __vunmap() @ v4.4.
void vunmap(const void* addr) {
  if (addr == nullptr) return;
  const unsigned long va = reinterpret_cast<unsigned long>(addr);
  if (WARN(va & ~PAGE_MASK, "Trying to vfree() bad address (%p)", addr)) return;
  VmallocSpace& space = vmalloc_space();
  struct vm_struct* area = nullptr;
  spin_lock(&space.lock);
  auto it = space.areas.find(va);
  if (it != space.areas.end()) {
    area = it->second;
    space.areas.erase(it);
  }
  spin_unlock(&space.lock);
  if (area == nullptr) {
    WARN(1, "Trying to vfree() nonexistent vm area (%p)", addr);
    return;
  }
  kfree(area);
}

void* page_address(const struct page* page) {
  if (!PageHighMem(page)) return lowmem_page_address(page);
  Pkmap& p = pkmap();
  spin_lock(&p.lock);
  const int nr = pkmap_slot_of(p, page);
  spin_unlock(&p.lock);
  return nr < 0 ? nullptr : reinterpret_cast<void*>(PKMAP_ADDR(static_cast<unsigned int>(nr)));
}

// Mirrors arch/arm/mm/highmem.c:kmap() -> mm/highmem.c:kmap_high() @ v4.4.
void* kmap(struct page* page) {
  if (!PageHighMem(page)) return page_address(page);
  Pkmap& p = pkmap();
  spin_lock(&p.lock);
  int nr = pkmap_slot_of(p, page);
  if (nr < 0) nr = map_new_virtual(p, page);
  if (nr < 0) {
    spin_unlock(&p.lock);
    report_kernel_event(BugKind::kSoftLockup, __FILE__, __LINE__, __func__, true,
                        "kmap_high: all %u pkmap slots are in use; v4.4 would sleep until a kunmap", LAST_PKMAP);
    return nullptr;
  }
  p.count[nr]++;
  BUG_ON(p.count[nr] < 2);
  spin_unlock(&p.lock);
  return reinterpret_cast<void*>(PKMAP_ADDR(static_cast<unsigned int>(nr)));
}

// Mirrors arch/arm/mm/highmem.c:kunmap() -> mm/highmem.c:kunmap_high() @ v4.4.
void kunmap(struct page* page) {
  if (!PageHighMem(page)) return;
  Pkmap& p = pkmap();
  spin_lock(&p.lock);
  const int nr = pkmap_slot_of(p, page);
  BUG_ON(nr < 0);
  // A count of 0 here means the slot was mapped without a user: a kunmap without its kmap.
  BUG_ON(--p.count[nr] == 0);
  spin_unlock(&p.lock);
}

Errno kva_read(const void* kaddr, void* buf, size_t len) {
  return kva_access(reinterpret_cast<unsigned long>(kaddr), static_cast<uint8_t*>(buf), nullptr, len);
}

Errno kva_write(void* kaddr, const void* buf, size_t len) {
  return kva_access(reinterpret_cast<unsigned long>(kaddr), nullptr, static_cast<const uint8_t*>(buf), len);
}

size_t vmap_area_count() {
  VmallocSpace& space = vmalloc_space();
  spin_lock(&space.lock);
  const size_t n = space.areas.size();
  spin_unlock(&space.lock);
  return n;
}

}  // namespace ionsim::kernel
