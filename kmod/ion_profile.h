/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/*
 * Copyright 2026 The ionsim Authors.
 *
 * ION profiles: the eras of ION a device can run, as named sets of
 * behaviour switches (docs/profiles.md). One table, compiled into the
 * kernel module (ion-y += ion_profile.o) and into the userspace model, so
 * both read the same switches. A profile is chosen when the device is
 * created (the board's profile record, the module's profile= parameter,
 * ionsim's --profile) and never changes under it.
 *
 * Each switch is a row of the table in ion_profile.c with one column per
 * profile: adding an era is adding a column (and a profile entry).
 */
#ifndef _ION_PROFILE_H
#define _ION_PROFILE_H

#ifdef __KERNEL__
#include <linux/types.h>
#else
#include <stdbool.h>
#include <stddef.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The profile of a board without a profile record. */
#define ION_PROFILE_DEFAULT	"4.4-compat"
/* Profile names: at most this many characters. */
#define ION_PROFILE_NAME_MAX	31

enum ion_profile_switch {
	/* ION_IOC_HEAP_QUERY and its reserved-field check (v4.11). */
	ION_SW_HEAP_QUERY,
	/* The 4.12 fd-returning ALLOC on ION_IOC_NEW_ALLOC. */
	ION_SW_NEW_ALLOC,
	/* dma-buf's DMA_BUF_IOCTL_SYNC (v4.6). */
	ION_SW_DMA_BUF_SYNC,
	/*
	 * ION_IOC_FREE as one client->lock section (the CVE-2016-9120 fix);
	 * off: four sections, the race window of v4.4.0.
	 */
	ION_SW_FREE_ONE_LOCK,
	/*
	 * Android's hardening of the legacy ABI (Android 3.18, 4.4 and 4.9
	 * trees, Bug 34276203): userspace holds at most one handle reference,
	 * counted in handle->user_ref_count; FREE drops only that.
	 */
	ION_SW_USER_REF_COUNT,
	/*
	 * ALLOC holds an extra handle reference from before the id is visible
	 * until the ioctl returns (__ion_alloc(grab_handle)).
	 */
	ION_SW_ALLOC_GRAB_HANDLE,
	/* Handle references userspace can take fail with EOVERFLOW at wrap. */
	ION_SW_HANDLE_OVERFLOW_CHECK,
	/* ion_client_destroy() walks the handles under client->lock. */
	ION_SW_CLIENT_DESTROY_LOCK,
	ION_SW_COUNT
};

struct ion_profile {
	const char *name;
	/* The upstream tree and version it follows. */
	const char *upstream;
	/* One line: what the profile is for. */
	const char *about;
	/* Its column in the switch table. */
	unsigned int column;
};

struct ion_profile_switch_info {
	const char *name;
	/* What the switch turns on. */
	const char *what;
	/* Where that behaviour comes from upstream: file:function() @ version. */
	const char *provenance;
	/* What the profiles without it do instead. */
	const char *without;
};

/* The profile named name, or NULL. */
const struct ion_profile *ion_profile_find(const char *name);
/* The default profile (ION_PROFILE_DEFAULT). */
const struct ion_profile *ion_profile_default(void);
/* The index-th profile, or NULL past the last. */
const struct ion_profile *ion_profile_at(unsigned int index);
/* The description of a switch. */
const struct ion_profile_switch_info *
ion_profile_switch_info(enum ion_profile_switch sw);
/* Whether profile has switch sw on. */
bool ion_profile_has(const struct ion_profile *profile,
		     enum ion_profile_switch sw);
/*
 * Writes the known profile names, separated by ", ", into buf (len bytes,
 * always terminated when len > 0), for error messages.
 */
void ion_profile_names(char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* _ION_PROFILE_H */
