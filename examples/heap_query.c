/* SPDX-License-Identifier: Apache-2.0 */
/* Lists the heaps /dev/ion offers (ION_IOC_HEAP_QUERY), as a gralloc picking a heap by type does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ion/ion.h>

static const char *type_name(unsigned int type) {
	switch (type) {
	case ION_HEAP_TYPE_SYSTEM: return "system";
	case ION_HEAP_TYPE_SYSTEM_CONTIG: return "system_contig";
	case ION_HEAP_TYPE_CARVEOUT: return "carveout";
	case ION_HEAP_TYPE_CHUNK: return "chunk";
	case ION_HEAP_TYPE_DMA: return "dma";
	default: return "custom";
	}
}

static int by_id(const void *a, const void *b) {
	return (int)((const struct ion_heap_data *)a)->heap_id - (int)((const struct ion_heap_data *)b)->heap_id;
}

int main(void) {
	struct ion_heap_data *heaps;
	int ion, cnt, ret, i;

	ion = ion_open();
	if (ion < 0) {
		printf("ion_open: %s\n", strerror(-ion));
		return 1;
	}
	ret = ion_query_heap_cnt(ion, &cnt);
	if (ret < 0) {
		printf("ion_query_heap_cnt: %s\n", strerror(-ret));
		return 1;
	}
	printf("%d heaps\n", cnt);
	heaps = calloc((size_t)cnt, sizeof(*heaps));
	ret = ion_query_get_heaps(ion, cnt, heaps);
	if (ret < 0) {
		printf("ion_query_get_heaps: %s\n", strerror(-ret));
		return 1;
	}
	qsort(heaps, (size_t)cnt, sizeof(*heaps), by_id);
	for (i = 0; i < cnt; i++)
		printf("heap %u: %s (%s)\n", heaps[i].heap_id, heaps[i].name, type_name(heaps[i].type));
	printf("NULL count pointer: %s\n", strerror(-ion_query_heap_cnt(ion, NULL)));
	free(heaps);
	ion_close(ion);
	return 0;
}
