/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ION system-call throughput of whatever serves /dev/ion: ION_IOC_ALLOC + ION_IOC_FREE pairs per second and
 * mmap + munmap pairs per second of one 4 KiB dma-buf, on the system heap (heap id 0). Plain C over the ABI
 * header: run it under `ionsim exec` (the model through the preload) or statically in the QEMU guest (the
 * module). Times are the process's CPU time (user + system). Usage: ion_bench [PAIRS]   (default 20000)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "ion.h"

/* CPU time of the process: the figure does not depend on what else the machine runs. */
static double now(void) {
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
	long pairs = argc > 1 ? atol(argv[1]) : 20000, i;
	struct ion_allocation_data alloc;
	struct ion_handle_data hd;
	struct ion_fd_data share;
	double t0, t1;
	int ion;

	ion = open("/dev/ion", O_RDONLY | O_CLOEXEC);
	if (ion < 0) {
		perror("/dev/ion");
		return 1;
	}
	t0 = now();
	for (i = 0; i < pairs; i++) {
		memset(&alloc, 0, sizeof(alloc));
		alloc.len = 4096;
		alloc.heap_id_mask = 1;
		if (ioctl(ion, ION_IOC_ALLOC, &alloc) < 0) {
			perror("ION_IOC_ALLOC");
			return 1;
		}
		hd.handle = alloc.handle;
		if (ioctl(ion, ION_IOC_FREE, &hd) < 0) {
			perror("ION_IOC_FREE");
			return 1;
		}
	}
	t1 = now();
	printf("ALLOC+FREE: %ld pairs in %.3f CPU s: %.0f pairs/s\n", pairs, t1 - t0, (double)pairs / (t1 - t0));

	memset(&alloc, 0, sizeof(alloc));
	alloc.len = 4096;
	alloc.heap_id_mask = 1;
	if (ioctl(ion, ION_IOC_ALLOC, &alloc) < 0) {
		perror("ION_IOC_ALLOC");
		return 1;
	}
	share.handle = alloc.handle;
	if (ioctl(ion, ION_IOC_SHARE, &share) < 0) {
		perror("ION_IOC_SHARE");
		return 1;
	}
	t0 = now();
	for (i = 0; i < pairs; i++) {
		unsigned char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, share.fd, 0);

		if (p == MAP_FAILED) {
			perror("mmap");
			return 1;
		}
		p[0] = (unsigned char)i;
		munmap(p, 4096);
	}
	t1 = now();
	printf("mmap+munmap: %ld pairs in %.3f CPU s: %.0f pairs/s\n", pairs, t1 - t0, (double)pairs / (t1 - t0));
	close(share.fd);
	hd.handle = alloc.handle;
	ioctl(ion, ION_IOC_FREE, &hd);
	close(ion);
	return 0;
}
