/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The legacy handle ABI across fork: the parent allocates a handle, shares it as a dma-buf fd and writes a
 * message; the forked child imports the fd into its own /dev/ion client, maps it, reads the message and writes
 * its answer; the parent reads the answer after the child exits.
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ion/ion.h>

#define BUF_SIZE 4096

int main(void) {
	ion_user_handle_t handle;
	unsigned char *p;
	int ion, share, ret, status;
	pid_t pid;

	ion = ion_open();
	if (ion < 0 || !ion_is_legacy(ion)) {
		printf("needs /dev/ion with the legacy ABI\n");
		return 1;
	}
	ret = ion_alloc(ion, BUF_SIZE, 0, ION_HEAP_SYSTEM_MASK, 0, &handle);
	if (ret == 0)
		ret = ion_share(ion, handle, &share);
	if (ret < 0) {
		printf("alloc/share: %s\n", strerror(-ret));
		return 1;
	}
	p = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, share, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	strcpy((char *)p, "hello from the parent");
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		ion_user_handle_t imported;
		int child_ion = ion_open();
		unsigned char *q;

		ret = ion_import(child_ion, share, &imported);
		printf("child: import %s\n", ret == 0 ? "ok" : strerror(-ret));
		q = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, share, 0);
		printf("child: reads \"%s\"\n", (char *)q);
		strcpy((char *)q, "hello from the child");
		printf("child: free of the imported handle: %s\n", strerror(-ion_free(child_ion, imported)));
		printf("child: second free: %s\n", strerror(-ion_free(child_ion, imported)));
		munmap(q, BUF_SIZE);
		ion_close(child_ion);
		fflush(stdout);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	printf("parent: child exited %d\n", WEXITSTATUS(status));
	printf("parent: reads \"%s\"\n", (char *)p);
	munmap(p, BUF_SIZE);
	close(share);
	printf("parent: free: %s\n", strerror(-ion_free(ion, handle)));
	ion_close(ion);
	return 0;
}
