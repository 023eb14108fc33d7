/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An ION program written against the ABI header alone (no libion, no ionsim code), as a vendor test tool is:
 * raw ioctls on /dev/ion, a dma-buf mapped twice, dup2/fcntl of the fds, a fork whose child maps and writes
 * the buffer, ION's debugfs, and the errors a careless program meets. It prints what it observes; the test
 * runs it under `ionsim exec` and compares with raw_ion.expected. Built with plain `cc`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ion.h"

#define SIZE (4 * 4096)

static const char *err(int ret) { return ret < 0 ? strerror(errno) : "ok"; }

int main(void) {
	struct ion_allocation_data alloc;
	struct ion_fd_data share, import;
	struct ion_handle_data hd;
	char text[8192];
	unsigned char *a, *b;
	int ion, dbg, copy, status;
	ssize_t n;
	pid_t pid;

	ion = open("/dev/ion", O_RDWR | O_CLOEXEC);
	printf("open /dev/ion: %s\n", ion >= 0 ? "ok" : strerror(errno));
	memset(&alloc, 0, sizeof(alloc));
	alloc.len = SIZE;
	alloc.heap_id_mask = 1u << 2; /* the dummy board's carveout */
	printf("ALLOC carveout: %s\n", err(ioctl(ion, ION_IOC_ALLOC, &alloc)));
	memset(&share, 0, sizeof(share));
	share.handle = alloc.handle;
	printf("SHARE: %s\n", err(ioctl(ion, ION_IOC_SHARE, &share)));
	printf("dma-buf fd is close-on-exec: %s\n", (fcntl(share.fd, F_GETFD) & FD_CLOEXEC) ? "yes" : "no");
	a = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, share.fd, 0);
	copy = fcntl(share.fd, F_DUPFD_CLOEXEC, 50);
	printf("F_DUPFD_CLOEXEC: %s\n", copy >= 50 ? "ok" : strerror(errno));
	b = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, copy, 0);
	printf("mmap twice: %s\n", a != MAP_FAILED && b != MAP_FAILED ? "ok" : strerror(errno));
	memset(a, 0x5a, SIZE);
	printf("second mapping reads 0x%02x at the end\n", b[SIZE - 1]);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		unsigned char *c = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, copy, 0);
		c[0] = 0xc1;
		_exit(c[SIZE - 1] == 0x5a ? 0 : 1);
	}
	waitpid(pid, &status, 0);
	printf("child saw the parent's bytes: %s; parent sees 0x%02x\n", WEXITSTATUS(status) == 0 ? "yes" : "no", a[0]);
	memset(&import, 0, sizeof(import));
	import.fd = copy;
	printf("IMPORT of the copy: %s\n", err(ioctl(ion, ION_IOC_IMPORT, &import)));
	printf("same handle: %s\n", import.handle == alloc.handle ? "yes" : "no");
	dbg = open("/sys/kernel/debug/ion/heaps/carveout", O_RDONLY);
	n = read(dbg, text, sizeof(text) - 1);
	text[n > 0 ? n : 0] = '\0';
	printf("debugfs names this process: %s\n", strstr(text, "raw_ion") ? "yes" : "no");
	close(dbg);
	/* Misuse. */
	printf("munmap of half a mapping: %s\n", err(munmap(a, SIZE / 2)));
	printf("mmap beyond the buffer: %s\n", mmap(NULL, 2 * SIZE, PROT_READ, MAP_SHARED, copy, 0) == MAP_FAILED ?
	       strerror(errno) : "mapped");
	printf("read of a dma-buf fd: %s\n", err((int)read(copy, text, 16)));
	hd.handle = alloc.handle;
	printf("FREE: %s\n", err(ioctl(ion, ION_IOC_FREE, &hd)));
	printf("FREE: %s\n", err(ioctl(ion, ION_IOC_FREE, &hd)));
	printf("FREE of a freed handle: %s\n", err(ioctl(ion, ION_IOC_FREE, &hd)));
	printf("ALLOC with a bad pointer: %s\n", err(ioctl(ion, ION_IOC_ALLOC, (void *)16)));
	printf("dup2 over the ion fd: %s\n", err(dup2(copy, ion)));
	close(ion);
	printf("ioctl on a closed fd: %s\n", err(ioctl(ion, ION_IOC_FREE, &hd)));
	munmap(a + SIZE / 2, SIZE / 2);
	munmap(b, SIZE);
	close(copy);
	close(share.fd);
	return 0;
}
