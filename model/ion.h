// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// The ION kernel API, mirroring drivers/staging/android/ion/ion.h @ v4.4: platform heap descriptions, device
// and heap creation, and the in-kernel client interface (ion_client_create, ion_alloc, ion_free,
// ion_map_kernel, ion_share_dma_buf, ion_import_dma_buf). Userspace reaches the same code through /dev/ion
// (ion_ioctl, in ion_priv.h).
#ifndef MODEL_ION_H_
#define MODEL_ION_H_

#include <cstddef>
#include <string>

#include "kmod/ion_profile.h"
#include "kmod/uapi/ion.h"
#include "model/kernel/dma_buf.h"
#include "model/kernel/err.h"
#include "model/kernel/mm.h"

namespace ionsim::kernel {

struct ion_device;
struct ion_heap;
struct ion_client;
struct ion_handle;
struct ion_buffer;

using ion_phys_addr_t = unsigned long;

// Mirrors ion.h:struct ion_platform_heap @ v4.4.
struct ion_platform_heap {
  enum ion_heap_type type;
  unsigned int id;
  const char* name;
  ion_phys_addr_t base;
  size_t size;
  ion_phys_addr_t align;
  void* priv;
  // Divergence: the machine whose pages the heap hands out (the kernel has one global page allocator).
  struct phys_mem* mem;
};

// Mirrors ion.h:struct ion_platform_data @ v4.4.
struct ion_platform_data {
  int nr;
  const struct ion_platform_heap* heaps;
};

// Mirrors ion.c:ion_device_create() @ v4.4: registers the misc device /dev/ion and the debugfs tree
// ion/{heaps,clients}. The error of misc_register (-EBUSY for a second device) or -ENOMEM.
// Divergence: takes the profile the device runs (kmod/ion_profile.h; NULL: the default), which v4.4, being one
// era, has no notion of.
ErrnoOr<struct ion_device*> ion_device_create(struct phys_mem* mem,
                                              long (*custom_ioctl)(struct ion_client* client, unsigned int cmd,
                                                                   unsigned long arg),
                                              const struct ion_profile* profile = nullptr);
// Mirrors ion.c:ion_device_destroy() @ v4.4: deregisters /dev/ion and removes the debugfs tree. v4.4 frees
// neither heaps nor clients ("XXX need to free the heaps and clients ?"): destroy every heap first with
// ion_device_remove_heap() + ion_heap_destroy(); a device with heaps, clients or buffers left WARNs.
void ion_device_destroy(struct ion_device* dev);
// Mirrors ion.c:ion_device_add_heap() @ v4.4 (plus heap_cnt from v4.11): deferred-free thread, shrinker,
// plist at priority -id, the heaps/<name> and heaps/<name>_shrink debugfs files.
void ion_device_add_heap(struct ion_device* dev, struct ion_heap* heap);
// Drains every deferred-free list now, head first (the debugfs file ion/drain); returns the bytes drained.
size_t ion_device_drain(struct ion_device* dev);
// Module unload (v4.4 has none: ION is built in). Destroys every client still open, then every buffer still
// alive whatever holds it, then removes and destroys every heap and the device. Returns the leak report, one
// line per leaked object (also logged with pr_warn), "" for a clean unload:
//   ion: teardown: client <display name> (pid <pid>) still open with <n> handles
//   ion: teardown: buffer b<serial> heap <name> size <bytes> leaked by <comm> (pid <pid>): ref <n>, handles <n>
// The owner of a buffer is the last client that dropped its handles (v4.4's orphan bookkeeping), "?" if none.
std::string ion_device_teardown(struct ion_device* dev);
// Removes a heap from the device before ion_heap_destroy() (v4.4 never removes heaps; module unload needs
// it): unlinks it from the plist, removes its debugfs files, unregisters its shrinker and drains its free
// list. The heap must have no live buffers (WARN otherwise).
void ion_device_remove_heap(struct ion_device* dev, struct ion_heap* heap);

// Mirrors ion_heap.c:ion_heap_create() @ v4.4: -EINVAL for an unknown type or a failed heap creation.
ErrnoOr<struct ion_heap*> ion_heap_create(const struct ion_platform_heap* heap_data);
// Mirrors ion_heap.c:ion_heap_destroy() @ v4.4.
void ion_heap_destroy(struct ion_heap* heap);

// Mirrors ion.c:ion_client_create() @ v4.4: the display name is "name-serial"; the client belongs to
// get_current() (NULL current: a kernel client without a task). -ENOMEM on allocation failure.
ErrnoOr<struct ion_client*> ion_client_create(struct ion_device* dev, const char* name);
// Mirrors ion.c:ion_client_destroy() @ v4.4: destroys every handle in buffer-address order, ignoring counts.
void ion_client_destroy(struct ion_client* client);

// Mirrors ion.c:ion_alloc() @ v4.4.
ErrnoOr<struct ion_handle*> ion_alloc(struct ion_client* client, size_t len, size_t align, unsigned int heap_id_mask,
                                      unsigned int flags);
// Mirrors ion.c:ion_free() @ v4.4.
void ion_free(struct ion_client* client, struct ion_handle* handle);
// Mirrors ion.c:ion_phys() @ v4.4.
int ion_phys(struct ion_client* client, struct ion_handle* handle, ion_phys_addr_t* addr, size_t* len);
// Mirrors ion.c:ion_map_kernel() @ v4.4.
ErrnoOr<void*> ion_map_kernel(struct ion_client* client, struct ion_handle* handle);
// Mirrors ion.c:ion_unmap_kernel() @ v4.4.
void ion_unmap_kernel(struct ion_client* client, struct ion_handle* handle);
// Mirrors ion.c:ion_share_dma_buf() @ v4.4.
ErrnoOr<struct dma_buf*> ion_share_dma_buf(struct ion_client* client, struct ion_handle* handle);
// Mirrors ion.c:ion_import_dma_buf() @ v4.4.
ErrnoOr<struct ion_handle*> ion_import_dma_buf(struct ion_client* client, int fd);
// Mirrors ion.c:ion_handle_put() @ v4.4.
int ion_handle_put(struct ion_handle* handle);

}  // namespace ionsim::kernel

#endif  // MODEL_ION_H_
