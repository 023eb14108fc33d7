// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// ion_smoke: the guest smoke test of the ION module, run by `tools/qemu/ionsim-qemu smoke` inside QEMU.
// It drives /dev/ion through every ioctl of kmod/uapi/ion.h, the dma-buf fds it hands out, fork, fd passing and
// debugfs, takes mappings of every heap apart in every cache mode (checking x86 PAT's memtype records), reloads
// the module (ionsim-reload) and maps the same pages again, and prints one line per check:
//   SMOKE ok <name>
//   SMOKE FAIL <name>: <detail>
//   SMOKE info <text>                  (heaps found, and so on; not a check)
// and finally "SMOKE_RESULT PASS|FAIL <n_ok> <n_fail>". It exits 0 only when every check passed.
// Works on any board: heaps are found with ION_IOC_HEAP_QUERY; checks that need a heap type the board lacks
// are reported as "SMOKE info skip <name>: ...".
//
// Expected errnos are those of drivers/staging/android/ion @ v4.4 (with HEAP_QUERY from v4.11 and the 4.12
// ALLOC), as the model in model/ion-ioctl.cc returns them. Not exercised on purpose: HEAP_QUERY with a nonzero
// reserved field, whose EINVAL comes with a WARN_ON_ONCE in v4.11, which panics a guest booted with
// panic_on_warn=1.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/dma-buf.h>
#include <linux/types.h>

#include "kmod/uapi/ion.h"

#define ION_DEV "/dev/ion"
#define ION_DEBUGFS "/sys/kernel/debug/ion"
#define PAGE 4096UL
// An address no test process maps: copy_from_user/copy_to_user fail on it.
#define BAD_PTR ((void *)8)

static int n_ok;
static int n_fail;

static void ok(const char *name)
{
	printf("SMOKE ok %s\n", name);
	n_ok++;
}

static void __attribute__((format(printf, 2, 3))) fail(const char *name, const char *fmt, ...)
{
	va_list ap;

	printf("SMOKE FAIL %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	n_fail++;
}

static void __attribute__((format(printf, 1, 2))) info(const char *fmt, ...)
{
	va_list ap;

	printf("SMOKE info ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static const char *errname(int e)
{
	const char *s;

	if (e == 0)
		return "0";
	s = strerrorname_np(e < 0 ? -e : e);
	return s ? s : "E?";
}

// One ioctl: 0 or -errno.
static int xioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) < 0 ? -errno : 0;
}

// Checks that an ioctl returned -want (or 0 when want is 0).
static void expect(const char *name, int ret, int want)
{
	if (ret == -want)
		ok(name);
	else
		fail(name, "returned %s, want %s", errname(ret), errname(want));
}

// --- ION calls ----------------------------------------------------------------------------------------------

static int ion_open(void)
{
	return open(ION_DEV, O_RDONLY | O_CLOEXEC);
}

static int ion_alloc(int fd, size_t len, size_t align, unsigned int mask, unsigned int flags, int *handle)
{
	struct ion_allocation_data d = { .len = len, .align = align, .heap_id_mask = mask, .flags = flags };
	int r = xioctl(fd, ION_IOC_ALLOC, &d);

	if (r == 0)
		*handle = d.handle;
	return r;
}

static int ion_free(int fd, int handle)
{
	struct ion_handle_data d = { .handle = handle };

	return xioctl(fd, ION_IOC_FREE, &d);
}

static int ion_fd_call(int fd, unsigned long cmd, int handle, int *out_fd)
{
	struct ion_fd_data d = { .handle = handle, .fd = -1 };
	int r = xioctl(fd, cmd, &d);

	if (r == 0 && out_fd)
		*out_fd = d.fd;
	return r;
}

static int ion_share(int fd, int handle, int *dmabuf)
{
	return ion_fd_call(fd, ION_IOC_SHARE, handle, dmabuf);
}

static int ion_import(int fd, int dmabuf, int *handle)
{
	struct ion_fd_data d = { .handle = 0, .fd = dmabuf };
	int r = xioctl(fd, ION_IOC_IMPORT, &d);

	if (r == 0)
		*handle = d.handle;
	return r;
}

static int ion_sync(int fd, int dmabuf)
{
	struct ion_fd_data d = { .handle = 0, .fd = dmabuf };

	return xioctl(fd, ION_IOC_SYNC, &d);
}

static int ion_new_alloc(int fd, uint64_t len, unsigned int mask, unsigned int flags, int *dmabuf)
{
	struct ion_new_allocation_data d = { .len = len, .heap_id_mask = mask, .flags = flags };
	int r = xioctl(fd, ION_IOC_NEW_ALLOC, &d);

	if (r == 0)
		*dmabuf = (int)d.fd;
	return r;
}

static int dmabuf_sync(int dmabuf, uint64_t flags)
{
	struct dma_buf_sync s = { .flags = flags };

	return xioctl(dmabuf, DMA_BUF_IOCTL_SYNC, &s);
}

static void *map_dmabuf(int dmabuf, size_t len)
{
	return mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, dmabuf, 0);
}

static int is_cloexec(int fd)
{
	int f = fcntl(fd, F_GETFD);

	return f >= 0 && (f & FD_CLOEXEC);
}

// --- memory access that survives a broken mapping -----------------------------------------------------------

static sigjmp_buf fault_jmp;
static volatile sig_atomic_t fault_armed;

static void on_fault(int sig)
{
	if (fault_armed)
		siglongjmp(fault_jmp, sig);
	signal(sig, SIG_DFL);
	raise(sig);
}

static uint32_t pattern(uint32_t seed, size_t i)
{
	return seed ^ (uint32_t)(i * 2654435761u);
}

// Fills p with the seed's pattern (seed 0 writes zeros). Returns 0, or the signal that hit.
static int fill(void *p, size_t len, uint32_t seed)
{
	volatile uint32_t *w = p;
	int sig;

	if ((sig = sigsetjmp(fault_jmp, 1)) != 0) {
		fault_armed = 0;
		return sig;
	}
	fault_armed = 1;
	for (size_t i = 0; i < len / 4; i++)
		w[i] = seed ? pattern(seed, i) : 0;
	fault_armed = 0;
	return 0;
}

// Returns -1 when p holds the seed's pattern (zeros for seed 0), else the first bad byte offset; a fault is
// reported through *sig.
static long verify(const void *p, size_t len, uint32_t seed, int *sig)
{
	const volatile uint32_t *w = p;
	int s;

	*sig = 0;
	if ((s = sigsetjmp(fault_jmp, 1)) != 0) {
		fault_armed = 0;
		*sig = s;
		return 0;
	}
	fault_armed = 1;
	for (size_t i = 0; i < len / 4; i++) {
		uint32_t want = seed ? pattern(seed, i) : 0;

		if (w[i] != want) {
			fault_armed = 0;
			return (long)(i * 4);
		}
	}
	fault_armed = 0;
	return -1;
}

// Verifies with a failure message; returns 1 when the data is right.
static int verify_msg(const void *p, size_t len, uint32_t seed, char *msg, size_t msglen)
{
	int sig;
	long off = verify(p, len, seed, &sig);

	if (sig) {
		snprintf(msg, msglen, "signal %d (%s) reading the mapping", sig, strsignal(sig));
		return 0;
	}
	if (off >= 0) {
		snprintf(msg, msglen, "word at offset %ld is 0x%08" PRIx32 ", want 0x%08" PRIx32, off,
			 *(const volatile uint32_t *)((const char *)p + off),
			 seed ? pattern(seed, (size_t)off / 4) : 0);
		return 0;
	}
	return 1;
}

// --- debugfs ------------------------------------------------------------------------------------------------

// Reads a whole file into a static buffer; returns NULL (and sets errno) on failure.
static char *slurp(const char *path)
{
	static char buf[1 << 20];
	size_t n = 0;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	while (n < sizeof(buf) - 1 && (r = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
		n += (size_t)r;
	close(fd);
	buf[n] = '\0';
	return buf;
}

static int write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return -errno;
	r = write(fd, text, strlen(text));
	close(fd);
	return r < 0 ? -errno : 0;
}

// Empties every deferred-free list (ion/drain), so what follows sees freed buffers gone.
static void drain(void)
{
	int r = write_text(ION_DEBUGFS "/drain", "0\n");

	if (r)
		info("writing " ION_DEBUGFS "/drain: %s", errname(r));
}

// Counts the lines of text that start with prefix.
static int count_lines(const char *text, const char *prefix)
{
	int n = 0;
	size_t plen = strlen(prefix);

	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (strncmp(l, prefix, plen) == 0)
			n++;
	return n;
}

// Copies the first line of text that contains needle into out; returns 1 when found.
static int find_line(const char *text, const char *needle, char *out, size_t outlen)
{
	for (const char *l = text; l && *l;) {
		const char *e = strchr(l, '\n');
		size_t len = e ? (size_t)(e - l) : strlen(l);

		if (memmem(l, len, needle, strlen(needle))) {
			snprintf(out, outlen, "%.*s", (int)len, l);
			return 1;
		}
		l = e ? e + 1 : NULL;
	}
	return 0;
}

// --- heaps --------------------------------------------------------------------------------------------------

struct heap {
	char name[MAX_HEAP_NAME];
	unsigned int type;
	unsigned int id;
};

static struct heap heaps[ION_NUM_HEAP_IDS];
static int n_heaps;

static const struct heap *heap_of_type(unsigned int type)
{
	for (int i = 0; i < n_heaps; i++)
		if (heaps[i].type == type)
			return &heaps[i];
	return NULL;
}

static unsigned int all_heaps_mask(void)
{
	unsigned int m = 0;

	for (int i = 0; i < n_heaps; i++)
		m |= 1U << heaps[i].id;
	return m;
}

// A check name for a heap: its name with blanks turned into '_'.
static const char *heap_check(const struct heap *h, const char *what)
{
	static char name[128];
	char hn[MAX_HEAP_NAME];

	snprintf(hn, sizeof(hn), "%.31s", h->name);
	for (char *c = hn; *c; c++)
		if (*c == ' ')
			*c = '_';
	snprintf(name, sizeof(name), "heap_%s_%s", hn, what);
	return name;
}

// A length every heap type accepts: a multiple of the dummy board's 16 KiB chunk.
#define TEST_LEN (64 * 1024UL)

// --- the checks ---------------------------------------------------------------------------------------------

static void check_heap_query(int fd)
{
	struct ion_heap_query q;
	struct ion_heap_data data[ION_NUM_HEAP_IDS + 4];
	int r;
	unsigned int cnt;

	memset(&q, 0, sizeof(q));
	r = xioctl(fd, ION_IOC_HEAP_QUERY, &q);
	if (r || q.cnt == 0 || q.cnt > ION_NUM_HEAP_IDS) {
		fail("heap_query_count", "returned %s, cnt %u", errname(r), q.cnt);
		return;
	}
	ok("heap_query_count");
	cnt = q.cnt;

	memset(data, 0x5a, sizeof(data));
	memset(&q, 0, sizeof(q));
	q.cnt = cnt + 4;
	q.heaps = (uintptr_t)data;
	r = xioctl(fd, ION_IOC_HEAP_QUERY, &q);
	if (r || q.cnt != cnt) {
		fail("heap_query_list", "returned %s, cnt %u, want %u", errname(r), q.cnt, cnt);
		return;
	}
	n_heaps = 0;
	{
		char why[160] = "";

		for (unsigned int i = 0; i < cnt; i++) {
			struct ion_heap_data *d = &data[i];

			if (memchr(d->name, '\0', sizeof(d->name)) == NULL || d->name[0] == '\0')
				snprintf(why, sizeof(why), "entry %u: name empty or not terminated", i);
			else if (d->heap_id >= ION_NUM_HEAP_IDS)
				snprintf(why, sizeof(why), "entry %u (%.31s): id %u", i, d->name, d->heap_id);
			else if (d->reserved0 || d->reserved1 || d->reserved2)
				snprintf(why, sizeof(why), "entry %u (%.31s): reserved fields not zero", i, d->name);
			else if (i > 0 && d->heap_id > data[i - 1].heap_id)
				snprintf(why, sizeof(why), "entry %u (%.31s, id %u) after id %u: not in plist order", i,
					 d->name, d->heap_id, data[i - 1].heap_id);
			if (why[0])
				break;
			snprintf(heaps[n_heaps].name, sizeof(heaps[n_heaps].name), "%.31s", d->name);
			heaps[n_heaps].type = d->type;
			heaps[n_heaps].id = d->heap_id;
			n_heaps++;
			info("heap id=%u type=%u name='%s'", d->heap_id, d->type, d->name);
		}
		if (why[0])
			fail("heap_query_list", "%s", why);
		else if (data[cnt].name[0] != 0x5a)
			fail("heap_query_list", "wrote past the %u entries it reported", cnt);
		else
			ok("heap_query_list");
	}

	memset(&q, 0, sizeof(q));
	q.cnt = 1;
	q.heaps = (uintptr_t)data;
	r = xioctl(fd, ION_IOC_HEAP_QUERY, &q);
	if (r || q.cnt != 1 || data[0].heap_id != heaps[0].id)
		fail("heap_query_cnt1_gives_first_heap", "returned %s, cnt %u, id %u", errname(r), q.cnt,
		     data[0].heap_id);
	else
		ok("heap_query_cnt1_gives_first_heap");

	memset(&q, 0, sizeof(q));
	q.heaps = (uintptr_t)data;
	expect("heap_query_cnt0_with_buffer_einval", xioctl(fd, ION_IOC_HEAP_QUERY, &q), EINVAL);

	memset(&q, 0, sizeof(q));
	q.cnt = cnt;
	q.heaps = (uintptr_t)BAD_PTR;
	expect("heap_query_bad_heaps_pointer_efault", xioctl(fd, ION_IOC_HEAP_QUERY, &q), EFAULT);
	expect("heap_query_bad_arg_efault", xioctl(fd, ION_IOC_HEAP_QUERY, BAD_PTR), EFAULT);
}

static void check_prelude_and_errnos(int fd)
{
	unsigned char big[64] = { 0 };
	struct ion_custom_data custom = { .cmd = 0, .arg = 0 };
	unsigned int absent = 0;
	int h = 0, dfd = -1, other;

	expect("unknown_cmd_enotty", xioctl(fd, _IOWR(ION_IOC_MAGIC, 0x7f, int), big), ENOTTY);
	expect("foreign_magic_enotty", xioctl(fd, _IOWR('X', 1, int), big), ENOTTY);
	expect("abi_version_cmd_enotty", xioctl(fd, _IOR(ION_IOC_MAGIC, 9, __u32), big), ENOTTY);
	expect("size_field_beyond_union_einval", xioctl(fd, _IOWR(ION_IOC_MAGIC, 0x7f, unsigned char[64]), big),
	       EINVAL);
	expect("custom_without_handler_enotty", xioctl(fd, ION_IOC_CUSTOM, &custom), ENOTTY);
	expect("custom_bad_pointer_efault", xioctl(fd, ION_IOC_CUSTOM, BAD_PTR), EFAULT);

	// libion's legacy-ABI probe: FREE of handle 0 is EINVAL on a legacy kernel (ENOTTY on 4.12+).
	expect("free_handle0_einval", ion_free(fd, 0), EINVAL);
	expect("free_unknown_handle_einval", ion_free(fd, 4242), EINVAL);
	expect("free_negative_handle_einval", ion_free(fd, -1), EINVAL);
	expect("free_bad_pointer_efault", xioctl(fd, ION_IOC_FREE, BAD_PTR), EFAULT);
	expect("share_unknown_handle_einval", ion_share(fd, 4242, &dfd), EINVAL);
	expect("map_unknown_handle_einval", ion_fd_call(fd, ION_IOC_MAP, 4242, &dfd), EINVAL);
	expect("share_bad_pointer_efault", xioctl(fd, ION_IOC_SHARE, BAD_PTR), EFAULT);
	expect("import_closed_fd_ebadf", ion_import(fd, 1000, &h), EBADF);
	expect("import_negative_fd_ebadf", ion_import(fd, -1, &h), EBADF);
	expect("import_non_dmabuf_einval", ion_import(fd, fd, &h), EINVAL);
	expect("sync_closed_fd_ebadf", ion_sync(fd, 1000), EBADF);
	expect("sync_non_dmabuf_einval", ion_sync(fd, fd), EINVAL);

	expect("alloc_empty_heap_mask_enodev", ion_alloc(fd, TEST_LEN, 0, 0, 0, &h), ENODEV);
	for (unsigned int id = ION_NUM_HEAP_IDS; id-- > 0;)
		if (!(all_heaps_mask() & (1U << id))) {
			absent = 1U << id;
			break;
		}
	if (absent)
		expect("alloc_absent_heap_id_enodev", ion_alloc(fd, TEST_LEN, 0, absent, 0, &h), ENODEV);
	expect("alloc_len0_einval", ion_alloc(fd, 0, 0, all_heaps_mask(), 0, &h), EINVAL);
	expect("alloc_len_wrapping_page_align_einval", ion_alloc(fd, SIZE_MAX - 100, 0, all_heaps_mask(), 0, &h),
	       EINVAL);
	expect("alloc_bad_pointer_efault", xioctl(fd, ION_IOC_ALLOC, BAD_PTR), EFAULT);
	expect("new_alloc_empty_heap_mask_enodev", ion_new_alloc(fd, TEST_LEN, 0, 0, &other), ENODEV);
	expect("new_alloc_len0_einval", ion_new_alloc(fd, 0, all_heaps_mask(), 0, &other), EINVAL);
	expect("new_alloc_bad_pointer_efault", xioctl(fd, ION_IOC_NEW_ALLOC, BAD_PTR), EFAULT);
}

// ENOMEM from each heap type that can run out, and the carveout's exhaustion and recovery.
static void check_enomem(int fd)
{
	const struct heap *sys = heap_of_type(ION_HEAP_TYPE_SYSTEM);
	const struct heap *co = heap_of_type(ION_HEAP_TYPE_CARVEOUT);
	const struct heap *chunk = heap_of_type(ION_HEAP_TYPE_CHUNK);
	int h;

	if (sys)
		expect("alloc_system_beyond_half_of_ram_enomem",
		       ion_alloc(fd, 1UL << 30, 0, 1U << sys->id, 0, &h), ENOMEM);
	if (chunk)
		expect("alloc_chunk_beyond_heap_enomem", ion_alloc(fd, 1UL << 30, 0, 1U << chunk->id, 0, &h), ENOMEM);
	if (!co) {
		info("skip carveout checks: the board has no carveout heap");
		return;
	}
	expect("alloc_carveout_beyond_heap_enomem", ion_alloc(fd, 1UL << 30, 0, 1U << co->id, 0, &h), ENOMEM);
	expect("alloc_carveout_align_beyond_page_einval", ion_alloc(fd, TEST_LEN, 2 * PAGE, 1U << co->id, 0, &h),
	       EINVAL);

	// Fill the carveout with 256 KiB buffers until it refuses.
	{
		enum { MAX = 4096 };
		static int handles[MAX];
		int n = 0, r = 0, r2;
		const size_t len = 256 * 1024;

		while (n < MAX && (r = ion_alloc(fd, len, 0, 1U << co->id, 0, &handles[n])) == 0)
			n++;
		if (r == -ENOMEM && n > 0)
			ok("carveout_exhausted_enomem");
		else
			fail("carveout_exhausted_enomem", "after %d buffers of 256 KiB: %s", n, errname(r));
		info("carveout '%s' held %d buffers of 256 KiB", co->name, n);
		for (int i = 0; i < n; i++)
			ion_free(fd, handles[i]);
		// The freed buffers sit on the deferred-free list. ALLOC's own drain-and-retry would race with the
		// deferred-free thread, which destroys the buffer it popped outside the list lock (v4.4), so the
		// list is drained through ion/drain, which waits for that destroy.
		drain();
		r2 = n > 0 ? ion_alloc(fd, (size_t)n * len, 0, 1U << co->id, 0, &h) : -ENOMEM;
		if (r2 == 0) {
			ok("carveout_whole_again_after_free_and_drain");
			ion_free(fd, h);
		} else {
			fail("carveout_whole_again_after_free_and_drain", "allocating the %zu bytes just freed: %s",
			     (size_t)n * len, errname(r2));
		}
		drain();
	}
}

// Allocation, SHARE/MAP, mmap with DMA_BUF_IOCTL_SYNC, ION_IOC_SYNC, zeroing and FREE, on one heap.
static void check_heap_roundtrip(int fd, const struct heap *h, unsigned int flags, const char *suffix)
{
	char name[160], msg[200];
	int handle = 0, dfd = -1, dfd2 = -1, r;
	void *m = MAP_FAILED, *m2 = MAP_FAILED;
	int pass = 1;

	snprintf(name, sizeof(name), "%s", heap_check(h, suffix));
	for (int round = 0; round < 2 && pass; round++) {
		r = ion_alloc(fd, TEST_LEN, 0, 1U << h->id, flags, &handle);
		if (r || handle <= 0) {
			fail(name, "round %d: ALLOC returned %s, handle %d", round, errname(r), handle);
			return;
		}
		r = ion_share(fd, handle, &dfd);
		if (r || dfd < 0) {
			fail(name, "round %d: SHARE returned %s", round, errname(r));
			pass = 0;
			goto free_handle;
		}
		if (!is_cloexec(dfd)) {
			fail(name, "SHARE's fd lacks FD_CLOEXEC");
			pass = 0;
		}
		m = map_dmabuf(dfd, TEST_LEN);
		if (m == MAP_FAILED) {
			fail(name, "round %d: mmap of the dma-buf: %s", round, strerrorname_np(errno));
			pass = 0;
			goto close_fd;
		}
		r = dmabuf_sync(dfd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW);
		if (r) {
			fail(name, "DMA_BUF_IOCTL_SYNC START: %s", errname(r));
			pass = 0;
		}
		// Every heap hands out zeroed memory, also right after a buffer with data was freed into it.
		if (pass && !verify_msg(m, TEST_LEN, 0, msg, sizeof(msg))) {
			fail(name, "round %d: fresh buffer not zeroed: %s", round, msg);
			pass = 0;
		}
		if (pass && fill(m, TEST_LEN, 0x1000 + h->id)) {
			fail(name, "round %d: fault writing the mapping", round);
			pass = 0;
		}
		r = dmabuf_sync(dfd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW);
		if (pass && r) {
			fail(name, "DMA_BUF_IOCTL_SYNC END: %s", errname(r));
			pass = 0;
		}
		r = ion_sync(fd, dfd);
		if (pass && r) {
			fail(name, "ION_IOC_SYNC: %s", errname(r));
			pass = 0;
		}
		// MAP is SHARE under another name: a second dma-buf of the same buffer.
		r = ion_fd_call(fd, ION_IOC_MAP, handle, &dfd2);
		if (pass && (r || dfd2 < 0)) {
			fail(name, "MAP returned %s", errname(r));
			pass = 0;
		}
		if (pass) {
			m2 = map_dmabuf(dfd2, TEST_LEN);
			if (m2 == MAP_FAILED) {
				fail(name, "mmap of MAP's dma-buf: %s", strerrorname_np(errno));
				pass = 0;
			} else if (!verify_msg(m2, TEST_LEN, 0x1000 + h->id, msg, sizeof(msg))) {
				fail(name, "MAP's dma-buf does not show SHARE's data: %s", msg);
				pass = 0;
			}
		}
		if (m2 != MAP_FAILED)
			munmap(m2, TEST_LEN);
		m2 = MAP_FAILED;
		if (dfd2 >= 0)
			close(dfd2);
		dfd2 = -1;
		munmap(m, TEST_LEN);
		m = MAP_FAILED;
close_fd:
		close(dfd);
		dfd = -1;
free_handle:
		r = ion_free(fd, handle);
		if (pass && r) {
			fail(name, "FREE returned %s", errname(r));
			pass = 0;
		}
		r = ion_free(fd, handle);
		if (pass && r != -EINVAL) {
			fail(name, "second FREE of handle %d returned %s, want EINVAL", handle, errname(r));
			pass = 0;
		}
		drain();
	}
	if (pass)
		ok(name);
}

// The 4.12 ALLOC: a dma-buf fd straight away, usable by mmap and by the legacy IMPORT.
static void check_new_alloc(int fd, const struct heap *h)
{
	char name[160], msg[200];
	int dfd = -1, handle = 0, dfd2 = -1, r;
	void *m;

	snprintf(name, sizeof(name), "%s", heap_check(h, "new_alloc_roundtrip"));
	r = ion_new_alloc(fd, TEST_LEN, 1U << h->id, 0, &dfd);
	if (r || dfd < 0) {
		fail(name, "NEW_ALLOC returned %s", errname(r));
		return;
	}
	if (!is_cloexec(dfd)) {
		fail(name, "NEW_ALLOC's fd lacks FD_CLOEXEC");
		goto out;
	}
	m = map_dmabuf(dfd, TEST_LEN);
	if (m == MAP_FAILED) {
		fail(name, "mmap: %s", strerrorname_np(errno));
		goto out;
	}
	dmabuf_sync(dfd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW);
	if (!verify_msg(m, TEST_LEN, 0, msg, sizeof(msg))) {
		fail(name, "not zeroed: %s", msg);
	} else if (fill(m, TEST_LEN, 0x2000 + h->id)) {
		fail(name, "fault writing the mapping");
	} else {
		dmabuf_sync(dfd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW);
		r = ion_import(fd, dfd, &handle);
		if (r || handle <= 0) {
			fail(name, "IMPORT of NEW_ALLOC's fd returned %s", errname(r));
		} else {
			void *m2 = MAP_FAILED;

			r = ion_share(fd, handle, &dfd2);
			if (r == 0)
				m2 = map_dmabuf(dfd2, TEST_LEN);
			if (r)
				fail(name, "SHARE of the imported handle: %s", errname(r));
			else if (m2 == MAP_FAILED)
				fail(name, "mmap of the re-shared fd: %s", strerrorname_np(errno));
			else if (!verify_msg(m2, TEST_LEN, 0x2000 + h->id, msg, sizeof(msg)))
				fail(name, "re-shared fd does not show the data: %s", msg);
			else
				ok(name);
			if (m2 != MAP_FAILED)
				munmap(m2, TEST_LEN);
			if (dfd2 >= 0)
				close(dfd2);
			ion_free(fd, handle);
		}
	}
	munmap(m, TEST_LEN);
out:
	close(dfd);
	drain();
}

// A buffer written through one mapping and read through another client's dma-buf, then the other way round.
static void check_two_directions(int fd, const struct heap *h)
{
	const size_t len = 3 * PAGE;
	char msg[200];
	int fd_b, ha = 0, hb = 0, ha2 = 0, d1 = -1, d2 = -1, r;
	void *m1 = MAP_FAILED, *m2 = MAP_FAILED;

	fd_b = ion_open();
	if (fd_b < 0) {
		fail("dmabuf_mmap_two_directions", "second open of " ION_DEV ": %s", strerrorname_np(errno));
		return;
	}
	r = ion_alloc(fd, len, 0, 1U << h->id, 0, &ha);
	if (r) {
		fail("dmabuf_mmap_two_directions", "ALLOC: %s", errname(r));
		close(fd_b);
		return;
	}
	if ((r = ion_share(fd, ha, &d1)) || (m1 = map_dmabuf(d1, len)) == MAP_FAILED) {
		fail("dmabuf_mmap_two_directions", "SHARE/mmap in client A: %s", r ? errname(r) : "mmap failed");
		goto out;
	}
	dmabuf_sync(d1, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
	fill(m1, len, 0x3001);
	dmabuf_sync(d1, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);

	if ((r = ion_import(fd_b, d1, &hb)) || (r = ion_share(fd_b, hb, &d2)) ||
	    (m2 = map_dmabuf(d2, len)) == MAP_FAILED) {
		fail("dmabuf_mmap_two_directions", "IMPORT/SHARE/mmap in client B: %s",
		     r ? errname(r) : "mmap failed");
		goto out;
	}
	dmabuf_sync(d2, DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW);
	if (!verify_msg(m2, len, 0x3001, msg, sizeof(msg))) {
		fail("dmabuf_mmap_two_directions", "B does not see A's write: %s", msg);
		dmabuf_sync(d2, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW);
		goto out;
	}
	fill(m2, len, 0x3002);
	dmabuf_sync(d2, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW);
	dmabuf_sync(d1, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
	if (!verify_msg(m1, len, 0x3002, msg, sizeof(msg)))
		fail("dmabuf_mmap_two_directions", "A does not see B's write: %s", msg);
	else
		ok("dmabuf_mmap_two_directions");
	dmabuf_sync(d1, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);

	// The dma-buf core refuses a mapping beyond the buffer.
	{
		void *big = mmap(NULL, len + PAGE, PROT_READ, MAP_SHARED, d1, 0);

		if (big == MAP_FAILED && errno == EINVAL) {
			ok("dmabuf_mmap_past_end_einval");
		} else {
			fail("dmabuf_mmap_past_end_einval", "mmap of %zu bytes of a %zu-byte buffer: %s",
			     len + PAGE, len, big == MAP_FAILED ? strerrorname_np(errno) : "succeeded");
			if (big != MAP_FAILED)
				munmap(big, len + PAGE);
		}
	}

	// IMPORT into the client that already holds the buffer returns its handle, with one more reference.
	r = ion_import(fd, d1, &ha2);
	if (r || ha2 != ha) {
		fail("import_of_held_buffer_returns_same_id", "IMPORT returned %s, handle %d, want %d", errname(r), ha2,
		     ha);
	} else {
		int t = -1;

		ok("import_of_held_buffer_returns_same_id");
		r = ion_free(fd, ha);
		if (r || ion_share(fd, ha, &t) != 0)
			fail("import_takes_a_handle_reference", "after one FREE the handle is gone (FREE: %s)",
			     errname(r));
		else if (ion_free(fd, ha) != 0 || ion_share(fd, ha, &t) != -EINVAL)
			fail("import_takes_a_handle_reference", "after the second FREE the handle is still there");
		else
			ok("import_takes_a_handle_reference");
		if (t >= 0)
			close(t);
		ha = 0;
	}
out:
	if (m1 != MAP_FAILED)
		munmap(m1, len);
	if (m2 != MAP_FAILED)
		munmap(m2, len);
	if (d1 >= 0)
		close(d1);
	if (d2 >= 0)
		close(d2);
	if (ha)
		ion_free(fd, ha);
	if (hb)
		ion_free(fd_b, hb);
	close(fd_b);
	drain();
}

// Handle ids: the lowest free id >= 1, reused at once; an ALLOC whose result cannot be copied out frees its
// handle; FREE and SYNC copy nothing back, so their argument may sit in read-only memory.
static void check_ids_and_copy_direction(const struct heap *h)
{
	int fd = ion_open(), a = 0, b = 0, c = 0, r, dfd = -1;
	struct ion_allocation_data *ro_alloc;
	void *page;

	if (fd < 0) {
		fail("handle_ids_start_at_1", "open: %s", strerrorname_np(errno));
		return;
	}
	ion_alloc(fd, PAGE, 0, 1U << h->id, 0, &a);
	ion_alloc(fd, PAGE, 0, 1U << h->id, 0, &b);
	if (a == 1 && b == 2)
		ok("handle_ids_start_at_1");
	else
		fail("handle_ids_start_at_1", "first two ids %d and %d", a, b);
	ion_free(fd, a);
	ion_alloc(fd, PAGE, 0, 1U << h->id, 0, &c);
	if (c == a)
		ok("handle_ids_lowest_free_reused");
	else
		fail("handle_ids_lowest_free_reused", "after freeing %d the next id is %d", a, c);

	page = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED) {
		fail("alloc_copy_out_efault_frees_handle", "mmap: %s", strerrorname_np(errno));
		goto out;
	}
	ro_alloc = page;
	ro_alloc->len = PAGE;
	ro_alloc->heap_id_mask = 1U << h->id;
	mprotect(page, PAGE, PROT_READ);
	r = xioctl(fd, ION_IOC_ALLOC, ro_alloc);
	{
		int next = 0;

		ion_alloc(fd, PAGE, 0, 1U << h->id, 0, &next);
		if (r == -EFAULT && next == 3)
			ok("alloc_copy_out_efault_frees_handle");
		else
			fail("alloc_copy_out_efault_frees_handle",
			     "ALLOC into read-only memory returned %s, next id %d (want EFAULT, 3)", errname(r), next);
		if (next > 0)
			ion_free(fd, next);
	}
	// FREE is declared _IOWR but the kernel only reads its argument (ion_ioctl_dir).
	mprotect(page, PAGE, PROT_READ | PROT_WRITE);
	((struct ion_handle_data *)page)->handle = b;
	mprotect(page, PAGE, PROT_READ);
	expect("free_arg_in_read_only_memory_ok", xioctl(fd, ION_IOC_FREE, page), 0);
	b = 0;
	if (ion_share(fd, c, &dfd) == 0) {
		mprotect(page, PAGE, PROT_READ | PROT_WRITE);
		((struct ion_fd_data *)page)->handle = 0;
		((struct ion_fd_data *)page)->fd = dfd;
		mprotect(page, PAGE, PROT_READ);
		expect("sync_arg_in_read_only_memory_ok", xioctl(fd, ION_IOC_SYNC, page), 0);
		close(dfd);
	}
	munmap(page, PAGE);
out:
	if (b)
		ion_free(fd, b);
	if (c)
		ion_free(fd, c);
	close(fd);
	drain();
}

struct child_report {
	int status; // 0 when every step passed
	int value;
	char msg[200];
};

static void report_to(int wfd, int status, int value, const char *fmt, ...)
{
	struct child_report rep = { .status = status, .value = value };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rep.msg, sizeof(rep.msg), fmt, ap);
	va_end(ap);
	if (write(wfd, &rep, sizeof(rep)) != (ssize_t)sizeof(rep))
		_exit(3);
}

static int read_report(int rfd, struct child_report *rep)
{
	ssize_t n = read(rfd, rep, sizeof(*rep));

	if (n != (ssize_t)sizeof(*rep)) {
		rep->status = -1;
		snprintf(rep->msg, sizeof(rep->msg), "no report from the child (read %zd)", n);
		return 0;
	}
	return 1;
}

static int wait_child(pid_t pid)
{
	int st = 0;

	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

// fork: the child shares the parent's client through the inherited /dev/ion fd and the buffer through the
// inherited dma-buf fd and mapping.
static void check_fork(int fd, const struct heap *h)
{
	const size_t len = 2 * PAGE;
	char msg[200];
	int handle = 0, dfd = -1, p[2], r, st;
	void *m;
	pid_t pid;
	struct child_report rep;

	if ((r = ion_alloc(fd, len, 0, 1U << h->id, 0, &handle)) || (r = ion_share(fd, handle, &dfd))) {
		fail("fork_child_frees_parents_handle", "ALLOC/SHARE: %s", errname(r));
		return;
	}
	m = map_dmabuf(dfd, len);
	if (m == MAP_FAILED || pipe(p) < 0) {
		fail("fork_child_frees_parents_handle", "mmap/pipe: %s", strerrorname_np(errno));
		goto out;
	}
	fill(m, len, 0x4001);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int h2 = 0;
		long off;
		int sig;
		void *m2;

		close(p[0]);
		off = verify(m, len, 0x4001, &sig);
		if (sig || off >= 0) {
			report_to(p[1], 1, 0, "child: the inherited mapping does not show the parent's data");
			_exit(1);
		}
		// Allocate first, so the new handle cannot reuse the id of the one freed next.
		r = ion_alloc(fd, PAGE, 0, 1U << h->id, 0, &h2);
		if (r) {
			report_to(p[1], 1, 0, "child: ALLOC through the inherited fd: %s", errname(r));
			_exit(1);
		}
		r = ion_free(fd, handle);
		if (r) {
			report_to(p[1], 1, h2, "child: FREE of the inherited handle: %s", errname(r));
			_exit(1);
		}
		m2 = map_dmabuf(dfd, len);
		if (m2 == MAP_FAILED || fill(m2, len, 0x4002)) {
			report_to(p[1], 1, h2, "child: mmap/write of the inherited dma-buf fd failed");
			_exit(1);
		}
		report_to(p[1], 0, h2, "ok");
		_exit(0);
	}
	close(p[1]);
	read_report(p[0], &rep);
	close(p[0]);
	st = wait_child(pid);
	if (rep.status != 0 || st != 0) {
		fail("fork_child_frees_parents_handle", "%s (exit %d)", rep.msg, st);
		goto unmap;
	}
	r = ion_free(fd, handle);
	if (r == -EINVAL)
		ok("fork_child_frees_parents_handle");
	else
		fail("fork_child_frees_parents_handle", "the parent's FREE after the child's returned %s, want EINVAL",
		     errname(r));
	if (verify_msg(m, len, 0x4002, msg, sizeof(msg)))
		ok("fork_child_write_visible_to_parent");
	else
		fail("fork_child_write_visible_to_parent", "%s", msg);
	{
		int t = -1;

		r = ion_share(fd, rep.value, &t);
		if (r == 0 && ion_free(fd, rep.value) == 0)
			ok("fork_child_alloc_visible_to_parent");
		else
			fail("fork_child_alloc_visible_to_parent", "SHARE of the child's handle %d: %s", rep.value,
			     errname(r));
		if (t >= 0)
			close(t);
	}
unmap:
	munmap(m, len);
out:
	close(dfd);
	drain();
}

static int send_fd(int sock, int fd)
{
	char byte = 'F';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			      .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	memset(&u, 0, sizeof(u));
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -errno;
}

static int recv_fd(int sock)
{
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			      .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c;
	int fd = -1;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		return -1;
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

// A dma-buf fd passed over a unix socket to a process with its own client, imported and used there.
static void check_scm_rights(int fd, const struct heap *h)
{
	const size_t len = 4 * PAGE;
	char msg[200], path[128];
	int sv[2], handle = 0, dfd = -1, r, st;
	void *m = MAP_FAILED;
	pid_t pid;
	struct child_report rep;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		fail("scm_rights_import_in_other_process", "socketpair: %s", strerrorname_np(errno));
		return;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int cfd, rfd, ch = 0, d2 = -1;
		void *cm;
		long off;
		int sig;
		char go;

		close(sv[0]);
		close(fd);
		rfd = recv_fd(sv[1]);
		if (rfd < 0) {
			report_to(sv[1], 1, 0, "child: no fd received");
			_exit(1);
		}
		cfd = ion_open();
		if (cfd < 0) {
			report_to(sv[1], 1, 0, "child: open: %s", strerrorname_np(errno));
			_exit(1);
		}
		r = ion_import(cfd, rfd, &ch);
		if (r || ch != 1) {
			report_to(sv[1], 1, 0, "child: IMPORT in a fresh client returned %s, handle %d (want 1)",
				  errname(r), ch);
			_exit(1);
		}
		close(rfd);
		r = ion_share(cfd, ch, &d2);
		cm = r ? MAP_FAILED : map_dmabuf(d2, len);
		if (cm == MAP_FAILED) {
			report_to(sv[1], 1, 0, "child: SHARE/mmap of the imported handle: %s", errname(r));
			_exit(1);
		}
		dmabuf_sync(d2, DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW);
		off = verify(cm, len, 0x5001, &sig);
		if (sig || off >= 0) {
			report_to(sv[1], 1, 0, "child: the passed buffer does not hold the parent's data (offset %ld)",
				  off);
			_exit(1);
		}
		fill(cm, len, 0x5002);
		dmabuf_sync(d2, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW);
		// The parent looks at debugfs while this client is open.
		report_to(sv[1], 0, (int)getpid(), "ok");
		if (read(sv[1], &go, 1) != 1)
			_exit(2);
		munmap(cm, len);
		close(d2);
		r = ion_free(cfd, ch);
		close(cfd);
		_exit(r ? 1 : 0);
	}
	close(sv[1]);
	if ((r = ion_alloc(fd, len, 0, 1U << h->id, 0, &handle)) || (r = ion_share(fd, handle, &dfd)) ||
	    (m = map_dmabuf(dfd, len)) == MAP_FAILED) {
		fail("scm_rights_import_in_other_process", "ALLOC/SHARE/mmap: %s", r ? errname(r) : "mmap failed");
		close(sv[0]);
		wait_child(pid);
		goto out;
	}
	fill(m, len, 0x5001);
	r = send_fd(sv[0], dfd);
	if (r) {
		fail("scm_rights_import_in_other_process", "sendmsg: %s", errname(r));
		close(sv[0]);
		wait_child(pid);
		goto out;
	}
	read_report(sv[0], &rep);
	if (rep.status == 0) {
		DIR *d = opendir(ION_DEBUGFS "/clients");
		struct dirent *e;
		int found = 0;

		snprintf(path, sizeof(path), "%d-", rep.value);
		while (d && (e = readdir(d)) != NULL)
			if (strncmp(e->d_name, path, strlen(path)) == 0)
				found = 1;
		if (d)
			closedir(d);
		if (found)
			ok("debugfs_client_file_per_process");
		else
			fail("debugfs_client_file_per_process", "no " ION_DEBUGFS "/clients/%s<serial>", path);
	}
	if (write(sv[0], "g", 1) != 1)
		info("cannot release the child");
	st = wait_child(pid);
	close(sv[0]);
	if (rep.status != 0 || st != 0) {
		fail("scm_rights_import_in_other_process", "%s (exit %d)", rep.msg, st);
		goto out;
	}
	dmabuf_sync(dfd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
	if (verify_msg(m, len, 0x5002, msg, sizeof(msg)))
		ok("scm_rights_import_in_other_process");
	else
		fail("scm_rights_import_in_other_process", "the child's write is not visible: %s", msg);
	dmabuf_sync(dfd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
out:
	if (m != MAP_FAILED)
		munmap(m, len);
	if (dfd >= 0) {
		close(dfd);
		ion_free(fd, handle);
	}
	drain();
}

// Looks for an orphaned-allocation row of the given size and pid in ion/heaps/<name>. Returns 1 when present.
static int orphan_row(const char *heap_name, size_t size, pid_t pid, char *row, size_t rowlen)
{
	char path[128];
	const char *text, *l;
	int in_orphans = 0;

	snprintf(path, sizeof(path), ION_DEBUGFS "/heaps/%s", heap_name);
	text = slurp(path);
	if (!text)
		return -1;
	for (l = text; l && *l;) {
		const char *e = strchr(l, '\n');
		size_t n = e ? (size_t)(e - l) : strlen(l);
		char line[256];
		char comm[64];
		unsigned int rpid;
		size_t rsize;
		int kmap, ref;

		snprintf(line, sizeof(line), "%.*s", (int)n, l);
		if (strstr(line, "orphaned allocations"))
			in_orphans = 1;
		else if (in_orphans && line[0] == '-')
			in_orphans = 0;
		else if (in_orphans && sscanf(line, "%63s %u %zu %d %d", comm, &rpid, &rsize, &kmap, &ref) == 5 &&
			 rsize == size && rpid == (unsigned int)pid) {
			snprintf(row, rowlen, "%s", line);
			return 1;
		}
		l = e ? e + 1 : NULL;
	}
	return 0;
}

// Closing the /dev/ion fd while a dma-buf of its buffer is open: the buffer lives on, orphaned, until the last
// dma-buf reference goes.
static void check_client_close_with_live_dmabuf(const struct heap *h)
{
	const size_t len = 5 * PAGE;
	char msg[200], row[1024], needle[128];
	int cfd, handle = 0, dfd = -1, r;
	void *m = MAP_FAILED, *m2;
	const char *state;

	cfd = ion_open();
	if (cfd < 0 || (r = ion_alloc(cfd, len, 0, 1U << h->id, 0, &handle)) || (r = ion_share(cfd, handle, &dfd)) ||
	    (m = map_dmabuf(dfd, len)) == MAP_FAILED) {
		fail("dmabuf_outlives_its_client", "open/ALLOC/SHARE/mmap failed");
		if (cfd >= 0)
			close(cfd);
		if (dfd >= 0)
			close(dfd);
		return;
	}
	fill(m, len, 0x6001);
	close(cfd);

	if (!verify_msg(m, len, 0x6001, msg, sizeof(msg))) {
		fail("dmabuf_outlives_its_client", "old mapping after the client closed: %s", msg);
	} else if (fill(m, len, 0x6002)) {
		fail("dmabuf_outlives_its_client", "fault writing the old mapping after the client closed");
	} else if ((m2 = map_dmabuf(dfd, len)) == MAP_FAILED) {
		fail("dmabuf_outlives_its_client", "new mmap after the client closed: %s", strerrorname_np(errno));
	} else {
		if (verify_msg(m2, len, 0x6002, msg, sizeof(msg)))
			ok("dmabuf_outlives_its_client");
		else
			fail("dmabuf_outlives_its_client", "new mapping: %s", msg);
		munmap(m2, len);
	}

	r = orphan_row(h->name, len, getpid(), row, sizeof(row));
	if (r == 1) {
		ok("debugfs_heap_shows_orphaned_buffer");
		info("orphan row: %s", row);
	} else {
		fail("debugfs_heap_shows_orphaned_buffer", "%s",
		     r < 0 ? "cannot read the heap file" : "no orphaned row with this size and pid");
	}
	state = slurp(ION_DEBUGFS "/state");
	snprintf(needle, sizeof(needle), "size=%zu ", len);
	if (state && find_line(state, needle, row, sizeof(row)) && strstr(row, " handles=0 ") &&
	    strstr(row, " ref=1 "))
		ok("state_shows_orphan_with_no_handles");
	else
		fail("state_shows_orphan_with_no_handles", "no 'buffer ... size=%zu ... ref=1 handles=0' in ion/state",
		     len);

	munmap(m, len);
	close(dfd);
	drain();
	r = orphan_row(h->name, len, getpid(), row, sizeof(row));
	state = slurp(ION_DEBUGFS "/state");
	if (r == 0 && state && !find_line(state, needle, row, sizeof(row)))
		ok("orphan_freed_with_last_dmabuf_reference");
	else
		fail("orphan_freed_with_last_dmabuf_reference", "the buffer is still listed after munmap, close, drain");
}

// Reads every ion/ debugfs file and checks the shapes that do not depend on the board.
static void check_debugfs(int fd, const struct heap *h)
{
	char path[300], want[128];
	const char *text;
	DIR *d;
	struct dirent *e;
	int files = 0, bad = 0, handle = 0, found_heaps = 0;

	d = opendir(ION_DEBUGFS "/heaps");
	while (d && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), ION_DEBUGFS "/heaps/%s", e->d_name);
		text = slurp(path);
		files++;
		if (!text) {
			fail("debugfs_heaps_files_read", "%s: %s", path, strerrorname_np(errno));
			bad = 1;
			continue;
		}
		for (int i = 0; i < n_heaps; i++)
			if (strcmp(heaps[i].name, e->d_name) == 0) {
				found_heaps++;
				if (!strstr(text, "orphaned allocations (info is from last known client):") ||
				    !strstr(text, "total orphaned")) {
					fail("debugfs_heaps_files_read", "%s lacks the v4.4 layout", path);
					bad = 1;
				}
			}
	}
	if (d)
		closedir(d);
	if (!d)
		fail("debugfs_heaps_files_read", "opendir " ION_DEBUGFS "/heaps: %s", strerrorname_np(errno));
	else if (found_heaps != n_heaps)
		fail("debugfs_heaps_files_read", "%d of %d heaps have a file", found_heaps, n_heaps);
	else if (!bad)
		ok("debugfs_heaps_files_read");
	info("read %d files in " ION_DEBUGFS "/heaps", files);

	// This process's client file, before and after an allocation.
	if (ion_alloc(fd, TEST_LEN, 0, 1U << h->id, 0, &handle) == 0) {
		int found = 0;

		snprintf(want, sizeof(want), "%d-", getpid());
		d = opendir(ION_DEBUGFS "/clients");
		while (d && (e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), ION_DEBUGFS "/clients/%s", e->d_name);
			text = slurp(path);
			if (!text) {
				fail("debugfs_client_file", "%s: %s", path, strerrorname_np(errno));
				continue;
			}
			if (strncmp(e->d_name, want, strlen(want)) == 0 && strstr(text, "heap_name") &&
			    strstr(text, "size_in_bytes")) {
				char expect_line[128];

				snprintf(expect_line, sizeof(expect_line), "%16.16s: %16zu", h->name, TEST_LEN);
				if (strstr(text, expect_line))
					found = 1;
			}
		}
		if (d)
			closedir(d);
		if (found)
			ok("debugfs_client_file");
		else
			fail("debugfs_client_file", "no clients/%s<serial> file with '%s: %lu'", want, h->name,
			     TEST_LEN);
		ion_free(fd, handle);
		drain();
	}

	text = slurp(ION_DEBUGFS "/state");
	if (text && strncmp(text, "ionsim-state 1\n", 15) == 0 && count_lines(text, "heap ") == n_heaps)
		ok("debugfs_state");
	else
		fail("debugfs_state", "%s", text ? "not 'ionsim-state 1' with one heap line per heap" : "unreadable");
	text = slurp(ION_DEBUGFS "/board");
	if (text && text[0])
		ok("debugfs_board");
	else
		fail("debugfs_board", "ion/board: %s", text ? "empty" : strerrorname_np(errno));
	text = slurp(ION_DEBUGFS "/counters");
	if (text && text[0])
		ok("debugfs_counters");
	else
		fail("debugfs_counters", "ion/counters: %s", text ? "empty" : strerrorname_np(errno));
}

// After every fd is closed and ion/drain written: no buffers, no clients, empty free lists.
// --- partial unmaps and the x86 PAT memtype records ---------------------------------------------------------
//
// A dma-buf mapping of a carveout, chunk or dma heap covers pages outside System RAM (the memmap= reservation),
// for which x86 PAT keeps a memtype record per mapped range. Each sequence below maps a buffer, takes the mapping
// apart piece by piece (head, tail or middle munmap, an mprotect that splits it, a fork whose child unmaps one
// half), checks every byte that is still mapped, frees the buffer, and then maps the same pages again with the
// other cache mode. Nothing may fail, and the number of records in x86/pat_memtype_list must be what it was
// before the sequence.

#define PAT_LIST "/sys/kernel/debug/x86/pat_memtype_list"
#define PAT_PAGES 16

// The number of records x86 PAT lists, or -1 when the kernel has no such file.
static int pat_records(void)
{
	const char *text = slurp(PAT_LIST);

	return text ? count_lines(text, "PAT: ") : -1;
}

enum pat_seq { PAT_HEAD, PAT_TAIL, PAT_MIDDLE, PAT_MPROTECT, PAT_FORK, PAT_OFFSET, PAT_NSEQ };
static const char *const pat_seq_name[PAT_NSEQ] = { "head", "tail", "middle", "mprotect", "fork", "offset" };

// The pattern seed of page i of a buffer filled from seed: each page its own, so a page at the wrong place shows
// (never 0, which fill() and verify() take for zeros).
static uint32_t pat_page_seed(uint32_t seed, size_t i)
{
	return (seed ^ (uint32_t)i) ? (seed ^ (uint32_t)i) : 1;
}

// Fills pages [first, first + n) of the mapping with their patterns; 0 when a store faults.
static int pat_fill(char *m, size_t first, size_t n, uint32_t seed)
{
	for (size_t i = first; i < first + n; i++)
		if (fill(m + i * PAGE, PAGE, pat_page_seed(seed, i)))
			return 0;
	return 1;
}

// Checks pages [first, first + n) of a mapping of the whole buffer; 0 with the first bad page in msg.
static int pat_check_pages(const char *m, size_t first, size_t n, uint32_t seed, char *msg, size_t msglen)
{
	char why[160];

	for (size_t i = first; i < first + n; i++) {
		if (!verify_msg(m + i * PAGE, PAGE, pat_page_seed(seed, i), why, sizeof(why))) {
			snprintf(msg, msglen, "page %zu: %s", i, why);
			return 0;
		}
	}
	return 1;
}

// One sequence on a mapping m of the whole PAT_PAGES-page buffer behind dfd. Leaves nothing mapped. Returns 1
// when every still-mapped byte was right.
static int pat_take_apart(enum pat_seq seq, int dfd, char *m, uint32_t seed, char *msg, size_t msglen)
{
	const size_t n = PAT_PAGES, q = PAT_PAGES / 4;
	int ok_ = 1;

	switch (seq) {
	case PAT_HEAD:
		munmap(m, q * PAGE);
		ok_ = pat_check_pages(m, q, n - q, seed, msg, msglen);
		munmap(m + q * PAGE, (n - q) * PAGE);
		break;
	case PAT_TAIL:
		munmap(m + (n - q) * PAGE, q * PAGE);
		ok_ = pat_check_pages(m, 0, n - q, seed, msg, msglen);
		munmap(m, (n - q) * PAGE);
		break;
	case PAT_MIDDLE:
		munmap(m + q * PAGE, q * PAGE);
		ok_ = pat_check_pages(m, 0, q, seed, msg, msglen) &&
		      pat_check_pages(m, 2 * q, n - 2 * q, seed, msg, msglen);
		munmap(m, q * PAGE);
		munmap(m + 2 * q * PAGE, (n - 2 * q) * PAGE);
		break;
	case PAT_MPROTECT:
		if (mprotect(m + q * PAGE, q * PAGE, PROT_READ)) {
			snprintf(msg, msglen, "mprotect: %s", strerrorname_np(errno));
			ok_ = 0;
		} else {
			ok_ = pat_check_pages(m, 0, n, seed, msg, msglen);
		}
		munmap(m + 2 * q * PAGE, q * PAGE);
		munmap(m, n * PAGE);
		break;
	case PAT_FORK: {
		pid_t pid;
		int st;

		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			// The child drops the head half, checks the tail half and exits with the tail still mapped.
			munmap(m, n / 2 * PAGE);
			_exit(pat_check_pages(m, n / 2, n / 2, seed, msg, msglen) ? 0 : 1);
		}
		st = pid < 0 ? -1 : wait_child(pid);
		if (st != 0) {
			snprintf(msg, msglen, "the forked child's check of its inherited half failed (exit %d)", st);
			ok_ = 0;
		}
		munmap(m + n / 2 * PAGE, n / 2 * PAGE);
		if (ok_)
			ok_ = pat_check_pages(m, 0, n / 2, seed, msg, msglen);
		munmap(m, n / 2 * PAGE);
		break;
	}
	case PAT_OFFSET: {
		// A second mapping of the buffer's middle half (vm_pgoff != 0), then cut in two.
		char *o = mmap(NULL, n / 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, dfd, (off_t)(q * PAGE));

		if (o == MAP_FAILED) {
			snprintf(msg, msglen, "mmap at offset %zu: %s", q * PAGE, strerrorname_np(errno));
			ok_ = 0;
		} else {
			munmap(o, q * PAGE);
			ok_ = pat_check_pages(o - q * PAGE, 2 * q, q, seed, msg, msglen);
			munmap(o + q * PAGE, q * PAGE);
		}
		munmap(m + q * PAGE, PAGE);
		munmap(m, n * PAGE);
		break;
	}
	case PAT_NSEQ:
		break;
	}
	return ok_;
}

// Allocates a PAT_PAGES-page buffer on h with flags through the 4.12 ALLOC and maps it whole; 0 or -errno.
static int pat_alloc_map(int fd, const struct heap *h, unsigned int flags, int *dfd, char **m)
{
	int r = ion_new_alloc(fd, PAT_PAGES * PAGE, 1U << h->id, flags, dfd);

	if (r)
		return r;
	*m = map_dmabuf(*dfd, PAT_PAGES * PAGE);
	if (*m == MAP_FAILED) {
		r = -errno;
		close(*dfd);
		return r;
	}
	return 0;
}

// Every sequence, cached and uncached, on heap h; then the same pages in the other cache mode. With reload set,
// the module was just reloaded and only the remap in both cache modes runs (the check after a reload).
static void check_pat_sequences(int fd, const struct heap *h, int reload)
{
	// Cached buffers map page by page from the fault handler; cached buffers that ask for explicit syncs and
	// uncached ones map at mmap time, through the heap's map_user.
	static const struct {
		unsigned int flags;
		const char *name;
	} modes[3] = {
		{ ION_FLAG_CACHED, "cached" },
		{ ION_FLAG_CACHED | ION_FLAG_CACHED_NEEDS_SYNC, "cached_needs_sync" },
		{ 0, "uncached" },
	};
	char name[160], msg[200];
	int before = pat_records();

	for (int mi = 0; mi < 3; mi++) {
		const unsigned int flags = modes[mi].flags;
		const int dma = h->type == ION_HEAP_TYPE_DMA;
		// The dma heap refuses cached buffers (EINVAL): its pages map again uncached.
		const unsigned int other = flags || dma ? 0 : ION_FLAG_CACHED | ION_FLAG_CACHED_NEEDS_SYNC;
		const char *mode = modes[mi].name;

		if (dma && flags)
			continue;
		for (int s = 0; s < (reload ? 1 : PAT_NSEQ); s++) {
			uint32_t seed = 0x5a000000u | (uint32_t)(h->id << 8) | (uint32_t)(mi << 4) | (uint32_t)s;
			int dfd, r, pass = 1, after;
			char *m;

			snprintf(name, sizeof(name), "%s",
				 heap_check(h, reload ? "pat_remap_after_reload" : "pat_partial_unmap"));
			snprintf(name + strlen(name), sizeof(name) - strlen(name), "_%s_%s", mode,
				 reload ? "then_other_mode" : pat_seq_name[s]);
			r = pat_alloc_map(fd, h, flags, &dfd, &m);
			if (r) {
				fail(name, "ALLOC+mmap: %s", errname(r));
				continue;
			}
			if (!pat_fill(m, 0, PAT_PAGES, seed)) {
				fail(name, "fault writing the mapping");
				pass = 0;
			}
			if (pass && !reload && !pat_take_apart((enum pat_seq)s, dfd, m, seed, msg, sizeof(msg))) {
				fail(name, "%s", msg);
				pass = 0;
			}
			if (reload)
				munmap(m, PAT_PAGES * PAGE);
			close(dfd);
			drain();
			// The same pages (a carveout, chunk or dma heap hands out its lowest free range first), now in the
			// other cache mode.
			r = pat_alloc_map(fd, h, other, &dfd, &m);
			if (r) {
				if (pass)
					fail(name, "%s ALLOC+mmap of the freed pages: %s",
					     other ? "cached_needs_sync" : "uncached", errname(r));
				pass = 0;
				continue;
			}
			if (pass && (!pat_fill(m, 0, PAT_PAGES, ~seed) ||
				     !pat_check_pages(m, 0, PAT_PAGES, ~seed, msg, sizeof(msg)))) {
				fail(name, "the pages mapped %s: %s", other ? "cached_needs_sync" : "uncached", msg);
				pass = 0;
			}
			munmap(m, PAT_PAGES * PAGE);
			close(dfd);
			drain();
			after = pat_records();
			if (pass && after != before) {
				fail(name, "x86/pat_memtype_list has %d records, %d before the sequence", after, before);
				pass = 0;
			}
			before = after;
			if (pass)
				ok(name);
		}
	}
}

static void check_final_state(void)
{
	const char *text;
	char line[256];

	drain();
	text = slurp(ION_DEBUGFS "/state");
	if (!text) {
		fail("final_state_empty", "ion/state: %s", strerrorname_np(errno));
		return;
	}
	if (count_lines(text, "buffer ") || count_lines(text, "client ")) {
		find_line(text, count_lines(text, "buffer ") ? "buffer " : "client ", line, sizeof(line));
		fail("final_state_empty", "%d buffer(s), %d client(s) left, e.g. '%s'", count_lines(text, "buffer "),
		     count_lines(text, "client "), line);
	} else if (find_line(text, "free_list=b", line, sizeof(line))) {
		fail("final_state_empty", "a free list is not empty after the drain: '%s'", line);
	} else {
		ok("final_state_empty");
	}
	printf("%s", text);
}

// Reloads the module (ionsim-reload, on PATH under ionsim-qemu) and maps the pages the sequences used once more
// in each cache mode: a memtype record left behind by the unloaded module would make one of them fail.
static void check_after_reload(void)
{
	int fd, r;

	fflush(stdout);
	r = system("ionsim-reload");
	if (r != 0) {
		fail("reload_module", "ionsim-reload exited with status %d", r);
		return;
	}
	ok("reload_module");
	fd = ion_open();
	if (fd < 0) {
		fail("reload_open_dev_ion", "%s: %s", ION_DEV, strerrorname_np(errno));
		return;
	}
	for (int i = 0; i < n_heaps; i++)
		check_pat_sequences(fd, &heaps[i], 1);
	close(fd);
	drain();
}

int main(void)
{
	struct sigaction sa;
	const struct heap *any, *co;
	int fd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fault;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);

	fd = ion_open();
	if (fd < 0) {
		fail("open_dev_ion", "%s: %s", ION_DEV, strerrorname_np(errno));
		goto done;
	}
	ok("open_dev_ion");
	check_heap_query(fd);
	if (n_heaps == 0) {
		fail("heaps_present", "HEAP_QUERY listed no heap; nothing else can run");
		close(fd);
		goto done;
	}
	check_prelude_and_errnos(fd);
	check_enomem(fd);
	for (int i = 0; i < n_heaps; i++) {
		check_heap_roundtrip(fd, &heaps[i], 0, "legacy_roundtrip");
		check_new_alloc(fd, &heaps[i]);
	}
	if (heap_of_type(ION_HEAP_TYPE_SYSTEM))
		check_heap_roundtrip(fd, heap_of_type(ION_HEAP_TYPE_SYSTEM), ION_FLAG_CACHED, "cached_roundtrip");
	if (heap_of_type(ION_HEAP_TYPE_DMA)) {
		int h;

		expect("alloc_dma_cached_einval",
		       ion_alloc(fd, TEST_LEN, 0, 1U << heap_of_type(ION_HEAP_TYPE_DMA)->id, ION_FLAG_CACHED, &h),
		       EINVAL);
	}
	co = heap_of_type(ION_HEAP_TYPE_CARVEOUT);
	any = co ? co : &heaps[0];
	check_two_directions(fd, any);
	check_ids_and_copy_direction(any);
	check_fork(fd, heap_of_type(ION_HEAP_TYPE_SYSTEM) ? heap_of_type(ION_HEAP_TYPE_SYSTEM) : any);
	check_scm_rights(fd, any);
	check_client_close_with_live_dmabuf(any);
	check_debugfs(fd, any);
	for (int i = 0; i < n_heaps; i++)
		check_pat_sequences(fd, &heaps[i], 0);
	close(fd);
	check_final_state();
	check_after_reload();
done:
	printf("SMOKE_RESULT %s %d %d\n", n_fail == 0 && n_ok > 0 ? "PASS" : "FAIL", n_ok, n_fail);
	return n_fail == 0 && n_ok > 0 ? 0 : 1;
}
