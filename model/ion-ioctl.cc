// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// /dev/ion's ioctl handler. The legacy commands mirror ion.c:ion_ioctl() @ v4.4; ION_IOC_HEAP_QUERY mirrors
// ion-ioctl.c @ v4.11, where it sat beside the legacy commands; the 4.12 ALLOC answers on its own command
// number (ION_IOC_NEW_ALLOC) with ion.c:ion_alloc_fd() @ v4.14 semantics. The device's profile
// (kmod/ion_profile.h) says which of them exist and which form FREE takes.
#include <cstring>

#include "model/ion_priv.h"
#include "model/kernel/bug.h"

namespace ionsim::kernel {
namespace {

// Mirrors include/uapi/asm-generic/ioctl.h @ v4.4.
constexpr unsigned int kIocNrBits = 8, kIocTypeBits = 8, kIocSizeBits = 14;
constexpr unsigned int kIocSizeShift = kIocNrBits + kIocTypeBits;
constexpr unsigned int kIocDirShift = kIocSizeShift + kIocSizeBits;
constexpr unsigned int kIocWrite = 1U, kIocRead = 2U;
constexpr unsigned int ioc_size(unsigned int cmd) { return (cmd >> kIocSizeShift) & ((1U << kIocSizeBits) - 1); }
constexpr unsigned int ioc_dir(unsigned int cmd) { return (cmd >> kIocDirShift) & 3U; }

// Mirrors ion.c:ion_ioctl_dir() @ v4.4: FREE, SYNC and CUSTOM are declared _IOWR but only read from userspace.
unsigned int ion_ioctl_dir(unsigned int cmd) {
  switch (cmd) {
    case ION_IOC_SYNC:
    case ION_IOC_FREE:
    case ION_IOC_CUSTOM:
      return kIocWrite;
    default:
      return ioc_dir(cmd);
  }
}

// Mirrors ion-ioctl.c:validate_ioctl_arg() @ v4.11.
int validate_ioctl_arg(unsigned int cmd, const struct ion_heap_query& query) {
  if (cmd != ION_IOC_HEAP_QUERY) return 0;
  const bool bad = query.reserved0 != 0 || query.reserved1 != 0 || query.reserved2 != 0;
  return bad ? -EINVAL : 0;
}

// The argument union of ion.c:ion_ioctl() @ v4.4 with the v4.11 and v4.14 members added (32 bytes on LP64,
// as in v4.4: ion_allocation_data is the largest member).
union ion_ioctl_arg {
  struct ion_fd_data fd;
  struct ion_allocation_data allocation;
  struct ion_handle_data handle;
  struct ion_custom_data custom;
  struct ion_heap_query query;
  struct ion_new_allocation_data new_allocation;
};
static_assert(sizeof(union ion_ioctl_arg) == sizeof(struct ion_allocation_data));

}  // namespace

// Mirrors ion.c:ion_ioctl() @ v4.4 (HEAP_QUERY from ion-ioctl.c @ v4.11, NEW_ALLOC from v4.14).
long ion_ioctl(struct file* filp, unsigned int cmd, unsigned long arg) {
  struct ion_client* client = static_cast<struct ion_client*>(filp->private_data);
  struct ion_device* dev = client->dev;
  struct ion_handle* cleanup_handle = nullptr;
  int ret = 0;
  union ion_ioctl_arg data;
  // v4.4 leaves data uninitialised when the command has no write direction; the model zeroes it, which v4.11
  // does explicitly, so nothing reads host garbage.
  std::memset(&data, 0, sizeof(data));

  const unsigned int dir = ion_ioctl_dir(cmd);
  if (ioc_size(cmd) > sizeof(data)) return -EINVAL;

  if (dir & kIocWrite) {
    if (copy_from_user(&data, arg, ioc_size(cmd))) return -EFAULT;
  }
  // v4.11 validates the query before dispatch and WARNs once (reference ion.md section 1.3). Profile switch
  // heap_query: v4.4 has no such check.
  if (ion_profile_has(dev->profile, ION_SW_HEAP_QUERY)) {
    ret = validate_ioctl_arg(cmd, data.query);
    if (WARN_ON_ONCE(ret)) return ret;
  }

  switch (cmd) {
    case ION_IOC_ALLOC: {
      // Profile android-3.18 (switches alloc_grab_handle, user_ref_count): ion-ioctl.c:ion_ioctl() @ v4.9.299
      // grabs a reference until the ioctl ends and passes the handle to userspace, ignoring pass_to_user()'s
      // result.
      ErrnoOr<struct ion_handle*> handle =
          __ion_alloc(client, data.allocation.len, data.allocation.align, data.allocation.heap_id_mask,
                      data.allocation.flags, ion_profile_has(dev->profile, ION_SW_ALLOC_GRAB_HANDLE));
      if (!handle.ok()) return handle.error().kernel_ret();
      if (ion_profile_has(dev->profile, ION_SW_USER_REF_COUNT)) pass_to_user(handle.value()).IgnoreError();
      data.allocation.handle = handle.value()->id;
      cleanup_handle = handle.value();
      break;
    }
    case ION_IOC_FREE: {
      if (!ion_profile_has(dev->profile, ION_SW_FREE_ONE_LOCK)) {
        // Mirrors ion.c:ion_ioctl() ION_IOC_FREE @ v4.4.0 (profile 4.4.0): four client->lock sections.
        ErrnoOr<struct ion_handle*> handle = ion_handle_get_by_id(client, data.handle.handle);
        if (!handle.ok()) return handle.error().kernel_ret();
        ion_free_unlocked_put(client, handle.value());
        ion_handle_put(handle.value());
        break;
      }
      // Mirrors ion.c:ion_ioctl() ION_IOC_FREE @ v4.4.121: one client->lock section (CVE-2016-9120 fix).
      mutex_lock(&client->lock);
      ErrnoOr<struct ion_handle*> handle = ion_handle_get_by_id_nolock(client, data.handle.handle);
      if (!handle.ok()) {
        mutex_unlock(&client->lock);
        return handle.error().kernel_ret();
      }
      // Profile android-3.18 (switch user_ref_count): user_ion_free_nolock() @ v4.9.299 drops a user reference.
      if (ion_profile_has(dev->profile, ION_SW_USER_REF_COUNT)) {
        user_ion_free_nolock(client, handle.value());
      } else {
        ion_free_nolock(client, handle.value());
      }
      // Test-only (ion_priv.h: ion_injected_bugs): besides the reference ion_handle_get_by_id_nolock() took, a
      // handle still referenced after the free's put is held by another import.
      if (ion_injected_bugs.free_unlinks_referenced_handle && kref_read(&handle.value()->ref) > 1) {
        idr_remove(&client->idr, handle.value()->id);
      }
      ion_handle_put_nolock(handle.value());
      mutex_unlock(&client->lock);
      break;
    }
    case ION_IOC_SHARE:
    case ION_IOC_MAP: {
      ErrnoOr<struct ion_handle*> handle = ion_handle_get_by_id(client, data.handle.handle);
      if (!handle.ok()) return handle.error().kernel_ret();
      data.fd.fd = ion_share_dma_buf_fd(client, handle.value());
      ion_handle_put(handle.value());
      if (data.fd.fd < 0) ret = data.fd.fd;
      break;
    }
    case ION_IOC_IMPORT: {
      ErrnoOr<struct ion_handle*> handle = ion_import_dma_buf(client, data.fd.fd);
      // Profile android-3.18 (switch user_ref_count): the import's reference becomes a user reference.
      if (handle.ok() && ion_profile_has(dev->profile, ION_SW_USER_REF_COUNT)) handle = pass_to_user(handle.value());
      if (!handle.ok()) {
        ret = handle.error().kernel_ret();
      } else {
        data.handle.handle = handle.value()->id;
      }
      break;
    }
    case ION_IOC_SYNC: {
      ret = ion_sync_for_device(client, data.fd.fd);
      break;
    }
    case ION_IOC_CUSTOM: {
      if (!dev->custom_ioctl) return -ENOTTY;
      ret = static_cast<int>(dev->custom_ioctl(client, data.custom.cmd, data.custom.arg));
      break;
    }
    case ION_IOC_HEAP_QUERY: {
      // Profile switch heap_query: unknown to v4.4 (the default case's ENOTTY).
      if (!ion_profile_has(dev->profile, ION_SW_HEAP_QUERY)) return -ENOTTY;
      ret = ion_query_heaps(client, &data.query);
      break;
    }
    case ION_IOC_NEW_ALLOC: {
      // Profile switch new_alloc: unknown to v4.4 (the default case's ENOTTY).
      if (!ion_profile_has(dev->profile, ION_SW_NEW_ALLOC)) return -ENOTTY;
      const int fd = ion_alloc_fd(dev, static_cast<size_t>(data.new_allocation.len),
                                  data.new_allocation.heap_id_mask, data.new_allocation.flags);
      if (fd < 0) return fd;
      data.new_allocation.fd = static_cast<__u32>(fd);
      break;
    }
    default:
      return -ENOTTY;
  }

  const bool grabbed = ion_profile_has(dev->profile, ION_SW_ALLOC_GRAB_HANDLE);
  if (dir & kIocRead) {
    if (copy_to_user(arg, &data, ioc_size(cmd))) {
      if (cleanup_handle) {
        if (ion_profile_has(dev->profile, ION_SW_USER_REF_COUNT)) {
          // Mirrors ion-ioctl.c:ion_ioctl() @ v4.9.299: the user reference and the grabbed one, in one section.
          mutex_lock(&client->lock);
          user_ion_free_nolock(client, cleanup_handle);
          if (grabbed) ion_handle_put_nolock(cleanup_handle);
          mutex_unlock(&client->lock);
        } else {
          ion_free(client, cleanup_handle);
          if (grabbed) ion_handle_put(cleanup_handle);
        }
      }
      return -EFAULT;
    }
  }
  // Profile android-3.18 (switch alloc_grab_handle): ALLOC's grabbed reference ends with the ioctl.
  if (cleanup_handle && grabbed) ion_handle_put(cleanup_handle);
  return ret;
}

}  // namespace ionsim::kernel
