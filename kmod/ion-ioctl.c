// SPDX-License-Identifier: GPL-2.0-only
/*
 * ionsim: /dev/ion's ioctl handler. The legacy commands mirror
 * ion.c:ion_ioctl() @ v4.4; ION_IOC_HEAP_QUERY mirrors ion-ioctl.c @ v4.11,
 * where it sat beside the legacy commands; the 4.12 ALLOC answers on its own
 * command number (ION_IOC_NEW_ALLOC) with ion.c:ion_alloc_fd() @ v4.14
 * semantics.
 */

#include <linux/bug.h>
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "ion.h"
#include "ion_priv.h"

/*
 * The argument union of ion.c:ion_ioctl() @ v4.4 with the v4.11 and v4.14
 * members added: 32 bytes, as in v4.4 (ion_allocation_data is the largest).
 */
union ion_ioctl_arg {
	struct ion_fd_data fd;
	struct ion_allocation_data allocation;
	struct ion_handle_data handle;
	struct ion_custom_data custom;
	struct ion_heap_query query;
	struct ion_new_allocation_data new_allocation;
};

static_assert(sizeof(union ion_ioctl_arg) ==
	      sizeof(struct ion_allocation_data));

/* Mirrors ion-ioctl.c:validate_ioctl_arg() @ v4.11. */
static int validate_ioctl_arg(unsigned int cmd, union ion_ioctl_arg *arg)
{
	int ret = 0;

	switch (cmd) {
	case ION_IOC_HEAP_QUERY:
		ret = arg->query.reserved0 != 0;
		ret |= arg->query.reserved1 != 0;
		ret |= arg->query.reserved2 != 0;
		break;
	default:
		break;
	}

	return ret ? -EINVAL : 0;
}

/*
 * Mirrors ion.c:ion_ioctl_dir() @ v4.4: FREE, SYNC and CUSTOM are declared
 * _IOWR but only read from userspace.
 */
static unsigned int ion_ioctl_dir(unsigned int cmd)
{
	switch (cmd) {
	case ION_IOC_SYNC:
	case ION_IOC_FREE:
	case ION_IOC_CUSTOM:
		return _IOC_WRITE;
	default:
		return _IOC_DIR(cmd);
	}
}

/*
 * Mirrors ion.c:ion_ioctl() @ v4.4 (HEAP_QUERY from ion-ioctl.c @ v4.11,
 * NEW_ALLOC from ion.c:ion_alloc_fd() @ v4.14).
 */
long ion_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	struct ion_client *client = filp->private_data;
	struct ion_device *dev = client->dev;
	struct ion_handle *cleanup_handle = NULL;
	bool grabbed;
	int ret = 0;
	unsigned int dir;
	union ion_ioctl_arg data;

	dir = ion_ioctl_dir(cmd);

	if (_IOC_SIZE(cmd) > sizeof(data))
		return -EINVAL;

	/*
	 * Port: v4.4 leaves data uninitialised for commands without the write
	 * direction; it is zeroed first, as v4.11 does, so no stack bytes
	 * reach userspace.
	 */
	memset(&data, 0, sizeof(data));
	if (dir & _IOC_WRITE)
		if (copy_from_user(&data, (void __user *)arg, _IOC_SIZE(cmd)))
			return -EFAULT;

	/* Profile switch heap_query: v4.4 has no such check. */
	if (ion_profile_has(dev->profile, ION_SW_HEAP_QUERY)) {
		ret = validate_ioctl_arg(cmd, &data);
		if (WARN_ON_ONCE(ret))
			return ret;
	}

	switch (cmd) {
	case ION_IOC_ALLOC:
	{
		struct ion_handle *handle;

		/*
		 * Profile android-3.18 (switches alloc_grab_handle,
		 * user_ref_count): ion-ioctl.c:ion_ioctl() @ v4.9.299 grabs a
		 * reference until the ioctl ends and passes the handle to
		 * userspace, ignoring pass_to_user()'s result.
		 */
		handle = __ion_alloc(client, data.allocation.len,
				     data.allocation.align,
				     data.allocation.heap_id_mask,
				     data.allocation.flags,
				     ion_profile_has(dev->profile,
						     ION_SW_ALLOC_GRAB_HANDLE));
		if (IS_ERR(handle))
			return PTR_ERR(handle);
		if (ion_profile_has(dev->profile, ION_SW_USER_REF_COUNT))
			pass_to_user(handle);

		data.allocation.handle = handle->id;

		cleanup_handle = handle;
		break;
	}
	case ION_IOC_FREE:
	{
		struct ion_handle *handle;

		if (!ion_profile_has(dev->profile, ION_SW_FREE_ONE_LOCK)) {
			/*
			 * Mirrors ion.c:ion_ioctl() ION_IOC_FREE @ v4.4.0
			 * (profile 4.4.0): four client->lock sections.
			 */
			handle = ion_handle_get_by_id(client,
						      data.handle.handle);
			if (IS_ERR(handle))
				return PTR_ERR(handle);
			ion_free_unlocked_put(client, handle);
			ion_handle_put(handle);
			break;
		}
		/*
		 * Mirrors ion.c:ion_ioctl() ION_IOC_FREE @ v4.4.121: one
		 * client->lock section (CVE-2016-9120 fix).
		 */
		mutex_lock(&client->lock);
		handle = ion_handle_get_by_id_nolock(client,
						     data.handle.handle);
		if (IS_ERR(handle)) {
			mutex_unlock(&client->lock);
			return PTR_ERR(handle);
		}
		/*
		 * Profile android-3.18 (switch user_ref_count):
		 * user_ion_free_nolock() @ v4.9.299 drops a user reference.
		 */
		if (ion_profile_has(dev->profile, ION_SW_USER_REF_COUNT))
			user_ion_free_nolock(client, handle);
		else
			ion_free_nolock(client, handle);
		ion_handle_put_nolock(handle);
		mutex_unlock(&client->lock);
		break;
	}
	case ION_IOC_SHARE:
	case ION_IOC_MAP:
	{
		struct ion_handle *handle;

		handle = ion_handle_get_by_id(client, data.handle.handle);
		if (IS_ERR(handle))
			return PTR_ERR(handle);
		data.fd.fd = ion_share_dma_buf_fd(client, handle);
		ion_handle_put(handle);
		if (data.fd.fd < 0)
			ret = data.fd.fd;
		break;
	}
	case ION_IOC_IMPORT:
	{
		struct ion_handle *handle;

		handle = ion_import_dma_buf(client, data.fd.fd);
		/*
		 * Profile android-3.18 (switch user_ref_count): the import's
		 * reference becomes a user reference.
		 */
		if (!IS_ERR(handle) &&
		    ion_profile_has(dev->profile, ION_SW_USER_REF_COUNT))
			handle = pass_to_user(handle);
		if (IS_ERR(handle))
			ret = PTR_ERR(handle);
		else
			data.handle.handle = handle->id;
		break;
	}
	case ION_IOC_SYNC:
	{
		ret = ion_sync_for_device(client, data.fd.fd);
		break;
	}
	case ION_IOC_CUSTOM:
	{
		if (!dev->custom_ioctl)
			return -ENOTTY;
		ret = dev->custom_ioctl(client, data.custom.cmd,
						data.custom.arg);
		break;
	}
	case ION_IOC_HEAP_QUERY:
		/* Profile switch heap_query: unknown to v4.4. */
		if (!ion_profile_has(dev->profile, ION_SW_HEAP_QUERY))
			return -ENOTTY;
		ret = ion_query_heaps(client, &data.query);
		break;
	case ION_IOC_NEW_ALLOC:
	{
		int fd;

		/* Profile switch new_alloc: unknown to v4.4. */
		if (!ion_profile_has(dev->profile, ION_SW_NEW_ALLOC))
			return -ENOTTY;
		fd = ion_alloc_fd(dev, data.new_allocation.len,
				  data.new_allocation.heap_id_mask,
				  data.new_allocation.flags);
		if (fd < 0)
			return fd;

		data.new_allocation.fd = fd;
		break;
	}
	default:
		return -ENOTTY;
	}

	grabbed = ion_profile_has(dev->profile, ION_SW_ALLOC_GRAB_HANDLE);
	if (dir & _IOC_READ) {
		if (copy_to_user((void __user *)arg, &data, _IOC_SIZE(cmd))) {
			if (cleanup_handle &&
			    ion_profile_has(dev->profile,
					    ION_SW_USER_REF_COUNT)) {
				/*
				 * Mirrors ion-ioctl.c:ion_ioctl() @ v4.9.299:
				 * the user reference and the grabbed one, in
				 * one section.
				 */
				mutex_lock(&client->lock);
				user_ion_free_nolock(client, cleanup_handle);
				if (grabbed)
					ion_handle_put_nolock(cleanup_handle);
				mutex_unlock(&client->lock);
			} else if (cleanup_handle) {
				ion_free(client, cleanup_handle);
				if (grabbed)
					ion_handle_put(cleanup_handle);
			}
			return -EFAULT;
		}
	}
	/*
	 * Profile android-3.18 (switch alloc_grab_handle): ALLOC's grabbed
	 * reference ends with the ioctl.
	 */
	if (cleanup_handle && grabbed)
		ion_handle_put(cleanup_handle);
	return ret;
}
