// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/*
 * Copyright 2026 The ionsim Authors.
 *
 * The profile table (ion_profile.h, docs/profiles.md). Plain C shared by
 * the module and the model.
 */
#ifdef __KERNEL__
#include <linux/kernel.h>
#include <linux/string.h>
#else
#include <stdio.h>
#include <string.h>
#endif

#include "ion_profile.h"

static const struct ion_profile ion_profiles[] = {
	{
		.name = "4.4-compat",
		.upstream = "Linux 4.4.121 drivers/staging/android/ion + ION_IOC_HEAP_QUERY (4.11), "
			    "the 4.12 ALLOC, DMA_BUF_IOCTL_SYNC (4.6)",
		.about = "the mix AOSP libion of 2017 and later expects",
		.column = 0,
	},
	{
		.name = "4.4",
		.upstream = "Linux 4.4.121 drivers/staging/android/ion, drivers/dma-buf/dma-buf.c",
		.about = "strict mainline 4.4: the legacy handle ABI alone",
		.column = 1,
	},
	{
		.name = "4.4.0",
		.upstream = "Linux 4.4 drivers/staging/android/ion before commit 9590232bb4f4 "
			    "(its FREE read in the 4.1.19 tree and in that commit's parent)",
		.about = "4.4 as released, before the CVE-2016-9120 fix",
		.column = 2,
	},
	{
		.name = "android-3.18",
		.upstream = "Android 3.18 (Pixel marlin) drivers/staging/android/ion/ion.c: the legacy ABI with "
			    "Android's handle hardening (the same patches as linux-4.9.y 4.9.299 ion-ioctl.c)",
		.about = "legacy ION as Android 7/8 devices shipped it: user handle references counted apart",
		.column = 3,
	},
};

#define ION_NR_PROFILES (sizeof(ion_profiles) / sizeof(ion_profiles[0]))

/*
 * The switch table: one row per switch, one column per profile, in the
 * order of ion_profiles[] (4.4-compat, 4.4, 4.4.0, android-3.18).
 */
static const struct {
	struct ion_profile_switch_info info;
	bool on[ION_NR_PROFILES];
} ion_switches[ION_SW_COUNT] = {
	[ION_SW_HEAP_QUERY] = {
		{ "heap_query",
		  "ION_IOC_HEAP_QUERY lists the heaps, and a nonzero reserved field is EINVAL with a WARN_ON_ONCE",
		  "drivers/staging/android/ion/ion-ioctl.c:ion_ioctl(), validate_ioctl_arg() @ v4.11",
		  "ENOTTY, after the argument is copied in (ion.c:ion_ioctl() @ v4.4)" },
		{ true, false, false, false },
	},
	[ION_SW_NEW_ALLOC] = {
		{ "new_alloc",
		  "ION_IOC_NEW_ALLOC allocates and returns an O_CLOEXEC dma-buf fd, no handle",
		  "drivers/staging/android/ion/ion.c:ion_alloc() @ v4.14 (the 4.12 ALLOC)",
		  "ENOTTY, after the argument is copied in (ion.c:ion_ioctl() @ v4.4)" },
		{ true, false, false, false },
	},
	[ION_SW_DMA_BUF_SYNC] = {
		{ "dma_buf_sync",
		  "DMA_BUF_IOCTL_SYNC on a dma-buf fd brackets CPU access (begin/end_cpu_access)",
		  "drivers/dma-buf/dma-buf.c:dma_buf_ioctl() @ v4.6",
		  "a dma-buf file has no ioctl: ENOTTY (dma_buf_fops @ v4.4)" },
		{ true, false, false, false },
	},
	[ION_SW_FREE_ONE_LOCK] = {
		{ "free_one_lock",
		  "ION_IOC_FREE looks the handle up, frees it and drops its reference in one client->lock section",
		  "drivers/staging/android/ion/ion.c:ion_ioctl() @ v4.4.121 (commit 9590232bb4f4, CVE-2016-9120)",
		  "four client->lock sections: ion_handle_get_by_id(), ion_free()'s validate, its put, the final put "
		  "(ion.c:ion_ioctl() @ v4.4)" },
		{ true, true, false, true },
	},
	[ION_SW_USER_REF_COUNT] = {
		{ "user_ref_count",
		  "ALLOC and IMPORT pass the handle to userspace through user_ref_count (one kref for all of "
		  "userspace's references); FREE drops a user reference, and WARNs \"User does not have access!\" "
		  "and does nothing when the user holds none",
		  "drivers/staging/android/ion/ion-ioctl.c:pass_to_user(), user_ion_free_nolock() @ v4.9.299 "
		  "(Android 3.18 marlin ion.c; \"ion: Protect kref from userspace manipulation\")",
		  "every ALLOC, IMPORT and FREE moves the handle's kref itself (ion.c:ion_ioctl() @ v4.4)" },
		{ false, false, false, true },
	},
	[ION_SW_ALLOC_GRAB_HANDLE] = {
		{ "alloc_grab_handle",
		  "ALLOC takes an extra handle reference under client->lock before the id becomes visible and drops "
		  "it when the ioctl ends",
		  "drivers/staging/android/ion/ion.c:__ion_alloc() @ v4.9.299 (grab_handle; Android 3.18 marlin; "
		  "\"ion: Fix use after free during ION_IOC_ALLOC\")",
		  "the id is live and freeable by another thread before ALLOC reads handle->id (ion.c:ion_alloc() @ "
		  "v4.4)" },
		{ false, false, false, true },
	},
	[ION_SW_HANDLE_OVERFLOW_CHECK] = {
		{ "handle_overflow_check",
		  "a handle reference taken for userspace (lookup by id, IMPORT of a held buffer, the user count) "
		  "fails with EOVERFLOW instead of wrapping",
		  "drivers/staging/android/ion/ion.c:ion_handle_get_check_overflow(), ion-ioctl.c:"
		  "user_ion_handle_get_check_overflow() @ v4.9.299 (Android 3.18 marlin; \"ion: check for kref "
		  "overflow\")",
		  "the count wraps (ion.c:ion_handle_get() @ v4.4)" },
		{ false, false, false, true },
	},
	[ION_SW_CLIENT_DESTROY_LOCK] = {
		{ "client_destroy_lock",
		  "ion_client_destroy() destroys the client's handles under client->lock",
		  "drivers/staging/android/ion/ion.c:ion_client_destroy() @ Android 3.18 marlin",
		  "the handle walk takes no lock (ion.c:ion_client_destroy() @ v4.4)" },
		{ false, false, false, true },
	},
};

const struct ion_profile *ion_profile_find(const char *name)
{
	unsigned int i;

	if (!name)
		return NULL;
	for (i = 0; i < ION_NR_PROFILES; i++)
		if (!strcmp(ion_profiles[i].name, name))
			return &ion_profiles[i];
	return NULL;
}

const struct ion_profile *ion_profile_default(void)
{
	return ion_profile_find(ION_PROFILE_DEFAULT);
}

const struct ion_profile *ion_profile_at(unsigned int index)
{
	return index < ION_NR_PROFILES ? &ion_profiles[index] : NULL;
}

const struct ion_profile_switch_info *
ion_profile_switch_info(enum ion_profile_switch sw)
{
	return (unsigned int)sw < ION_SW_COUNT ? &ion_switches[sw].info : NULL;
}

bool ion_profile_has(const struct ion_profile *profile,
		     enum ion_profile_switch sw)
{
	if (!profile || (unsigned int)sw >= ION_SW_COUNT ||
	    profile->column >= ION_NR_PROFILES)
		return false;
	return ion_switches[sw].on[profile->column];
}

void ion_profile_names(char *buf, size_t len)
{
	size_t used = 0;
	unsigned int i;
	int n;

	if (!len)
		return;
	buf[0] = '\0';
	for (i = 0; i < ION_NR_PROFILES && used < len; i++) {
		n = snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
			     ion_profiles[i].name);
		if (n < 0)
			return;
		used += (size_t)n;
	}
}
