/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The 4.12 ABI as a HAL uses it: allocate a buffer as a dma-buf fd, map it, write a frame, then map it a second
 * time (as a consumer would) and read the frame back through the second mapping.
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <ion/ion.h>

#define BUF_SIZE (16 * 4096)

int main(void) {
	int ion, buf, ret, ok = 1;
	unsigned char *producer, *consumer;
	size_t i;

	ion = ion_open();
	if (ion < 0) {
		printf("ion_open: %s\n", strerror(-ion));
		return 1;
	}
	printf("legacy ABI: %s\n", ion_is_legacy(ion) ? "yes" : "no");
	ret = ion_alloc_fd(ion, BUF_SIZE, 0, ION_HEAP_SYSTEM_MASK, 0, &buf);
	if (ret < 0) {
		printf("ion_alloc_fd: %s\n", strerror(-ret));
		return 1;
	}
	producer = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
	consumer = mmap(NULL, BUF_SIZE, PROT_READ, MAP_SHARED, buf, 0);
	if (producer == MAP_FAILED || consumer == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	for (i = 0; i < BUF_SIZE; i++)
		producer[i] = (unsigned char)(i * 7 + 3);
	for (i = 0; i < BUF_SIZE; i++)
		ok &= consumer[i] == (unsigned char)(i * 7 + 3);
	printf("second mapping sees the frame: %s\n", ok ? "yes" : "no");
	printf("mmap beyond the buffer: %s\n",
	       mmap(NULL, 2 * BUF_SIZE, PROT_READ, MAP_SHARED, buf, 0) == MAP_FAILED ? "refused" : "mapped");
	munmap(producer, BUF_SIZE);
	munmap(consumer, BUF_SIZE);
	close(buf);
	ion_close(ion);
	return ok ? 0 : 1;
}
