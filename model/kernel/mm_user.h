// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// User address spaces and the kernel's access to them, as mm/mmap.c, mm/memory.c, mm/vmalloc.c and the
// uaccess routines @ v4.4 behave for a driver:
//   - an mm_struct is a set of vm_area_structs; sys_mmap() picks the lowest free range at or above
//     TASK_UNMAPPED_BASE (bottom-up, deterministic), takes a file reference for a file mapping and calls
//     f_op->mmap(); a failing f_op->mmap() undoes the mapping and its error is returned;
//   - anonymous memory is real bytes, allocated a page at a time on first write (untouched pages read as zeros);
//   - a file mapping's page table maps each page to a struct page: remap_pfn_range() fills it at mmap time,
//     vm_insert_pfn()/vm_insert_page() from a vm_ops->fault handler on first touch, zap_vma_ptes() empties it so
//     the next touch faults again;
//   - munmap() may split a mapping (vm_ops->open runs for the new piece, which holds its own file reference)
//     and unmaps whole pages; closing a mapping calls vm_ops->close() and drops its file reference;
//   - copy_from_user()/copy_to_user() return the number of bytes NOT copied, stopping at the first page that is
//     unmapped, lacks the needed protection, or faults with VM_FAULT_SIGBUS: that is where ioctls get -EFAULT;
//   - vmap() gives a kernel virtual address for an array of pages; kernel code reads and writes it with
//     kva_read()/kva_write().
// The model's addresses are those of a 64-bit task: user space below TASK_SIZE.
//
// Divergence: a kernel virtual address from vmap() or page_address() is an opaque value the model resolves to
// struct pages, not a host pointer: dereferencing it directly would bypass the simulated memory.
#ifndef MODEL_KERNEL_MM_USER_H_
#define MODEL_KERNEL_MM_USER_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "model/kernel/err.h"
#include "model/kernel/fs.h"
#include "model/kernel/lock.h"
#include "model/kernel/mm.h"

namespace ionsim::kernel {

// Mirrors include/uapi/asm-generic/mman-common.h @ v4.4.
inline constexpr unsigned long PROT_NONE = 0x0;
inline constexpr unsigned long PROT_READ = 0x1;
inline constexpr unsigned long PROT_WRITE = 0x2;
inline constexpr unsigned long MAP_SHARED = 0x01;
inline constexpr unsigned long MAP_PRIVATE = 0x02;
inline constexpr unsigned long MAP_FIXED = 0x10;
inline constexpr unsigned long MAP_ANONYMOUS = 0x20;

// Mirrors include/linux/mm.h VM_* flags @ v4.4 (the ones drivers test or set).
inline constexpr unsigned long VM_READ = 0x00000001;
inline constexpr unsigned long VM_WRITE = 0x00000002;
inline constexpr unsigned long VM_SHARED = 0x00000008;
inline constexpr unsigned long VM_MAYREAD = 0x00000010;
inline constexpr unsigned long VM_MAYWRITE = 0x00000020;
inline constexpr unsigned long VM_MAYSHARE = 0x00000080;
inline constexpr unsigned long VM_PFNMAP = 0x00000400;
inline constexpr unsigned long VM_IO = 0x00004000;
inline constexpr unsigned long VM_DONTEXPAND = 0x00040000;
inline constexpr unsigned long VM_MIXEDMAP = 0x10000000;
inline constexpr unsigned long VM_DONTDUMP = 0x04000000;

// Mirrors arch/x86/include/asm/processor.h:TASK_SIZE and TASK_UNMAPPED_BASE @ v4.4 (x86-64; the model's mmap
// searches bottom-up from TASK_UNMAPPED_BASE).
inline constexpr unsigned long TASK_SIZE = 0x00007ffffffff000UL;
inline constexpr unsigned long TASK_UNMAPPED_BASE = 0x00002aaaaaaab000UL & PAGE_MASK;

// The cache attribute of a mapping (pgprot_t's memory type).
enum class page_cache_mode { kCached = 0, kWriteCombine = 1, kUncached = 2 };
// Mirrors arch/*/include/asm/pgtable.h:pgprot_t @ v4.4, reduced to protection bits and the memory type.
struct pgprot_t {
  unsigned long prot;  // PROT_* bits
  page_cache_mode cache;
};
// Mirrors include/linux/mm.h:vm_get_page_prot() @ v4.4.
pgprot_t vm_get_page_prot(unsigned long vm_flags);
// Mirrors arch/x86/include/asm/pgtable_types.h:pgprot_writecombine() @ v4.4.
inline pgprot_t pgprot_writecombine(pgprot_t prot) { return pgprot_t{prot.prot, page_cache_mode::kWriteCombine}; }
// Mirrors arch/x86/include/asm/pgtable_types.h:pgprot_noncached() @ v4.4.
inline pgprot_t pgprot_noncached(pgprot_t prot) { return pgprot_t{prot.prot, page_cache_mode::kUncached}; }
const char* page_cache_mode_name(page_cache_mode mode);  // "cached", "writecombine", "uncached"
// Mirrors include/linux/mm_types.h PAGE_KERNEL @ v4.4.
inline constexpr pgprot_t PAGE_KERNEL{PROT_READ | PROT_WRITE, page_cache_mode::kCached};

struct mm_struct;
struct vm_area_struct;

// Mirrors include/linux/mm.h:struct vm_fault @ v4.4.
struct vm_fault {
  unsigned int flags;
  unsigned long pgoff;            // offset in the file, in pages (vm_pgoff + page index in the vma)
  unsigned long virtual_address;  // the faulting user address, page aligned
  struct page* page;              // set by a handler returning 0, with a reference the page table takes over
};
// Mirrors include/linux/mm.h:FAULT_FLAG_WRITE @ v4.4 (vm_fault.flags of a write fault).
inline constexpr unsigned int FAULT_FLAG_WRITE = 0x01;
// Mirrors include/linux/mm.h VM_FAULT_* @ v4.4.
inline constexpr int VM_FAULT_OOM = 0x0001;
inline constexpr int VM_FAULT_SIGBUS = 0x0002;
inline constexpr int VM_FAULT_NOPAGE = 0x0100;
inline constexpr int VM_FAULT_ERROR = VM_FAULT_OOM | VM_FAULT_SIGBUS;

// Mirrors include/linux/mm.h:struct vm_operations_struct @ v4.4 (open, close, fault).
struct vm_operations_struct {
  void (*open)(struct vm_area_struct* vma);
  void (*close)(struct vm_area_struct* vma);
  int (*fault)(struct vm_area_struct* vma, struct vm_fault* vmf);
};

// Mirrors include/linux/mm_types.h:struct vm_area_struct @ v4.4.
struct vm_area_struct {
  unsigned long vm_start;
  unsigned long vm_end;  // exclusive
  struct mm_struct* vm_mm;
  pgprot_t vm_page_prot;
  unsigned long vm_flags;
  unsigned long vm_pgoff;  // offset in the file in pages
  struct file* vm_file;    // NULL for anonymous memory
  const struct vm_operations_struct* vm_ops;
  void* vm_private_data;
  // The page table of this range: one entry per page, NULL when not present. Anonymous memory keeps its bytes
  // in anon_pages instead (NULL: never written, reads as zeros).
  std::vector<struct page*> ptes;
  std::vector<uint8_t*> anon_pages;
};

// Mirrors include/linux/mm_types.h:struct mm_struct @ v4.4.
struct mm_struct {
  struct rw_semaphore mmap_sem;
  std::map<unsigned long, struct vm_area_struct*> vmas ABSL_GUARDED_BY(mmap_sem);  // by vm_start
  struct phys_mem* mem;  // the machine whose pages file mappings map
  unsigned long map_count ABSL_GUARDED_BY(mmap_sem);
  // The page table lock: every vma's ptes and anon_pages, and its bounds while a split moves them, change under
  // it, so faults (under mmap_sem for read) and zap_page_range() from other tasks can run side by side.
  spinlock_t page_table_lock;
};

// An empty address space over mem.
struct mm_struct* mm_create(struct phys_mem* mem);
// Mirrors kernel/fork.c:dup_mm() @ v4.4: anonymous bytes are copied; file mappings are shared (get_file,
// vm_ops->open) and their page tables copied.
ErrnoOr<struct mm_struct*> dup_mm(struct mm_struct* old);
// Mirrors kernel/fork.c:mmput() -> exit_mmap() @ v4.4: unmaps everything (vm_ops->close, fput) and frees mm.
void mmput(struct mm_struct* mm);

// The following act on get_current()->mm.
// Mirrors arch/x86/kernel/sys_x86_64.c:SYSCALL_DEFINE6(mmap) -> mm/mmap.c:SYSCALL_DEFINE6(mmap_pgoff) @ v4.4,
// with offset in bytes as mmap(2) takes it: -EINVAL for an unaligned offset, len 0, an unaligned MAP_FIXED
// address, or neither or both of MAP_SHARED/MAP_PRIVATE; -EBADF for a bad fd without MAP_ANONYMOUS; -ENOMEM for
// a length that overflows when page aligned or exceeds TASK_SIZE, and when no range fits; -EACCES for
// PROT_WRITE|MAP_SHARED on a file not open for writing, or any mapping of a file not open for reading; -ENODEV
// without f_op->mmap; otherwise f_op->mmap()'s error. A hint address without MAP_FIXED is used when the range
// there is free.
ErrnoOr<unsigned long> sys_mmap(unsigned long addr, unsigned long len, unsigned long prot, unsigned long flags,
                                int fd, unsigned long offset);
// Mirrors mm/mmap.c:do_munmap() @ v4.4: -EINVAL for an unaligned addr, len 0 or a range beyond TASK_SIZE; an
// unmapped range is not an error.
Errno sys_munmap(unsigned long addr, size_t len);

// Userspace's own loads and stores (what a process does with a pointer): through its page tables, faulting file
// pages in with vm_ops->fault. -EFAULT (nothing is accessed) for an address that is unmapped, lacks the
// protection, or whose fault handler fails (SIGBUS/SIGSEGV in a real process).
Errno user_read(struct mm_struct* mm, unsigned long addr, void* buf, size_t len);
Errno user_write(struct mm_struct* mm, unsigned long addr, const void* buf, size_t len);

// Mirrors arch/x86/include/asm/uaccess.h:copy_from_user() @ v4.4 on get_current()->mm: returns the number of
// bytes not copied (0 on success); the bytes before the first bad page are copied, the rest of `to` is zeroed.
unsigned long copy_from_user(void* to, user_ptr_t from, unsigned long n);
// Mirrors arch/x86/include/asm/uaccess.h:copy_to_user() @ v4.4: returns the number of bytes not copied.
unsigned long copy_to_user(user_ptr_t to, const void* from, unsigned long n);

// Mirrors arch/x86/include/asm/uaccess.h:set_fs(KERNEL_DS) @ v4.4: inside the scope, on this thread, a user_ptr_t
// given to copy_from_user()/copy_to_user() is a host address (kernel_read/kernel_write of a kernel buffer).
class kernel_ds_scope {
 public:
  kernel_ds_scope();
  ~kernel_ds_scope();
  kernel_ds_scope(const kernel_ds_scope&) = delete;
  kernel_ds_scope& operator=(const kernel_ds_scope&) = delete;

 private:
  bool prev_;
};
// Whether the current thread is inside a kernel_ds_scope.
bool uaccess_kernel();

// Mirrors mm/memory.c:remap_pfn_range() @ v4.4: maps size bytes of consecutive pfns at addr, sets
// VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP. -EINVAL when the range leaves the vma or a pfn has no
// struct page.
Errno remap_pfn_range(struct vm_area_struct* vma, unsigned long addr, unsigned long pfn, unsigned long size,
                      pgprot_t prot);
// Mirrors mm/memory.c:vm_insert_pfn() @ v4.4 (from a fault handler): -EFAULT outside the vma, -EBUSY when a
// page is already mapped there, -EINVAL for an unknown pfn.
Errno vm_insert_pfn(struct vm_area_struct* vma, unsigned long addr, unsigned long pfn);
// Mirrors mm/memory.c:vm_insert_page() @ v4.4.
Errno vm_insert_page(struct vm_area_struct* vma, unsigned long addr, struct page* page);
// Mirrors mm/memory.c:zap_vma_ptes() @ v4.4 / zap_page_range(): removes the mappings of the range; the next touch
// faults. -1 (as upstream) when the range leaves the vma or the vma is not VM_PFNMAP.
int zap_vma_ptes(struct vm_area_struct* vma, unsigned long address, unsigned long size);
// Mirrors mm/memory.c:zap_page_range() @ v4.4.
void zap_page_range(struct vm_area_struct* vma, unsigned long start, unsigned long size);
// Mirrors include/linux/mm.h:vma_pages() @ v4.4.
inline unsigned long vma_pages(const struct vm_area_struct* vma) {
  return (vma->vm_end - vma->vm_start) >> PAGE_SHIFT;
}

// The mappings of an address space, by start address, for dumps: start, end, pgoff, flags, the file's inode
// name and the cache mode.
struct vma_info {
  unsigned long start, end, pgoff, flags;
  std::string file;
  page_cache_mode cache;
  unsigned long present;  // pages present in the page table (file) or backed (anonymous)
};
std::vector<vma_info> mm_vmas(struct mm_struct* mm);

// ---- Kernel virtual addresses ----------------------------------------------------------------------------------

// Mirrors include/linux/vmalloc.h:VM_MAP @ v4.4.
inline constexpr unsigned long VM_MAP = 0x00000004;
// Mirrors mm/vmalloc.c:vmap() @ v4.4: a kernel virtual range mapping count pages in order; NULL on failure
// (count 0 or above totalram_pages, a NULL page in the array (WARN), or an allocation failure). Each vmap()
// returns a fresh address range.
void* vmap(struct page** pages, unsigned int count, unsigned long flags, pgprot_t prot);
// Mirrors mm/vmalloc.c:vunmap() @ v4.4: NULL is ignored; an address vmap() did not return WARNs ("Trying to
// vfree() nonexistent vm area") and nothing is freed.
void vunmap(const void* addr);
// Mirrors mm/highmem.c:page_address() @ v4.4: a lowmem page's linear-map address; a highmem page has none
// (NULL) except while it holds a pkmap slot.
void* page_address(const struct page* page);
// Mirrors include/linux/highmem.h:kmap() @ v4.4: page_address() for lowmem; a highmem page gets one of the
// LAST_PKMAP (512) pkmap slots, shared by nested kmaps of the same page (mm/highmem.c:kmap_high). When every slot
// is in use v4.4 sleeps; the model reports a soft lockup and returns NULL.
void* kmap(struct page* page);
// Mirrors include/linux/highmem.h:kunmap() @ v4.4: an unused slot stays mapped (and readable) until the slot
// allocator wraps and flushes unused slots, as mm/highmem.c:kunmap_high leaves it. kunmap of a highmem page
// that is not kmapped is a BUG.
void kunmap(struct page* page);
// Reads or writes len bytes at a kernel virtual address from vmap(), page_address() or kmap(). -EFAULT (nothing
// accessed) when any byte is outside a live mapping.
Errno kva_read(const void* kaddr, void* buf, size_t len);
Errno kva_write(void* kaddr, const void* buf, size_t len);
// Live vmap() ranges (for leak checks).
size_t vmap_area_count();

}  // namespace ionsim::kernel

#endif  // MODEL_KERNEL_MM_USER_H_
