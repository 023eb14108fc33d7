/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/*
 * Copyright 2026 The ionsim Authors.
 *
 * Board descriptions: RAM and one record per ION heap, in a small text
 * format (docs/boards.md). The one parser, layout resolver and renderer,
 * compiled into the kernel module (ion-y += ion_board.o) and into the
 * userspace model, so both build the same heaps at the same relative
 * addresses. No allocation: the caller owns struct ion_board.
 *
 * Text format, one record per line (';' also ends a record, '#' starts a
 * comment that runs to the end of the record):
 *
 *   board <name>
 *   ram size=<size> [lowmem=<size>] [base=<addr>]
 *   heap <type> id=<n> name=<name> [base=<addr>|auto] [size=<size>]
 *        [align=<size>] [chunk=<size>] [adjacent=<id>]
 *   profile <name>          (optional: an ION profile, ion_profile.h)
 *
 * Every function that can fail returns 0 or -EINVAL and writes a one-line
 * message ("board:<line>: ...") into err when err is not NULL.
 */
#ifndef _ION_BOARD_H
#define _ION_BOARD_H

#ifdef __KERNEL__
#include <linux/types.h>
#else
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* At most this many heap records (the bits of an ION heap id mask). */
#define ION_BOARD_MAX_HEAPS	32
/* Heap ids are bit numbers of a heap id mask. */
#define ION_BOARD_MAX_ID	31
/* Board and heap names: at most this many characters. */
#define ION_BOARD_NAME_MAX	31
/* Sizes and explicit bases are multiples of this. */
#define ION_BOARD_PAGE_SIZE	4096ULL
/* RAM base when the ram record has no base=. */
#define ION_BOARD_DEFAULT_RAM_BASE	0x80000000ULL
/* The embedded board used when none is named. */
#define ION_BOARD_DEFAULT	"dummy"
/* An error buffer this large never truncates a message. */
#define ION_BOARD_ERR_LEN	256

/* Same values as enum ion_heap_type of the v4.4 ION uapi. */
enum ion_board_heap_type {
	ION_BOARD_HEAP_SYSTEM = 0,
	ION_BOARD_HEAP_SYSTEM_CONTIG = 1,
	ION_BOARD_HEAP_CARVEOUT = 2,
	ION_BOARD_HEAP_CHUNK = 3,
	ION_BOARD_HEAP_DMA = 4,
};

/* How a heap's physical range is chosen. */
enum ion_board_place {
	ION_BOARD_PLACE_NONE = 0,	/* system heaps: no range */
	ION_BOARD_PLACE_FIXED,		/* base=<addr> */
	ION_BOARD_PLACE_AUTO,		/* base=auto, or no base= */
	ION_BOARD_PLACE_ADJACENT,	/* adjacent=<id>: first of a pair */
};

struct ion_board_heap {
	enum ion_board_heap_type type;
	unsigned int id;
	char name[ION_BOARD_NAME_MAX + 1];
	enum ion_board_place place;
	uint64_t base;		/* PLACE_FIXED: the base as written */
	uint64_t size;		/* bytes; 0 for system heaps */
	uint64_t align;		/* 0: none */
	uint64_t chunk;		/* chunk heaps: the chunk size */
	unsigned int adjacent;	/* PLACE_ADJACENT: the id it names */
	unsigned int line;	/* text line of the record */
	uint64_t phys;		/* after layout: the resolved base */
};

struct ion_board {
	char name[ION_BOARD_NAME_MAX + 1];
	/* profile record: the ION profile (ion_profile.h); "" for the default */
	char profile[ION_BOARD_NAME_MAX + 1];
	unsigned int profile_line;
	uint64_t ram_base;
	uint64_t ram_size;
	uint64_t lowmem_size;
	unsigned int board_line;
	unsigned int ram_line;
	unsigned int nr_heaps;
	/* phys of every carveout, chunk and dma heap is valid */
	bool laid_out;
	struct ion_board_heap heaps[ION_BOARD_MAX_HEAPS];
};

/*
 * Parses len bytes of board text into board (which is cleared first) and
 * checks every rule that needs no addresses. The board is not laid out.
 */
int ion_board_parse(struct ion_board *board, const char *text, size_t len,
		    char *err, size_t errlen);

/*
 * Like ion_board_parse(), but a text that is a single word names an
 * embedded board ("dummy", "msm8x25", "phone").
 */
int ion_board_load(struct ion_board *board, const char *text_or_name,
		   size_t len, char *err, size_t errlen);

/*
 * Resolves every heap's physical range inside [base, base + size): explicit
 * bases are kept; each adjacent= pair is taken as one block, then every
 * other auto heap, both packed downward from the top of the range in board
 * order; then every range must lie inside [base, base + size) and no two
 * may overlap. ion_board_layout(b, b->ram_base, b->ram_size, ...) is the
 * model's layout.
 */
int ion_board_layout(struct ion_board *board, uint64_t base, uint64_t size,
		     char *err, size_t errlen);

/* Adds delta to every explicit base and, once laid out, every range. */
void ion_board_relocate(struct ion_board *board, int64_t delta);

/*
 * The lowest base and the end (exclusive) of the laid-out ranges: 0, or
 * -ENOENT when the board has no range, -EINVAL when it is not laid out.
 */
int ion_board_span(const struct ion_board *board, uint64_t *start,
		   uint64_t *end);

/*
 * The kernel module's call: lays the board out in its own RAM (the model's
 * layout), then moves the whole layout, keeping every offset between heaps
 * and every alignment, to the lowest suitable address of [base, base + size).
 */
int ion_board_fit(struct ion_board *board, uint64_t base, uint64_t size,
		  char *err, size_t errlen);

/*
 * The canonical text of board, NUL-terminated in buf when len > 0. Returns
 * the length of the whole text, as snprintf() does, so a return value >= len
 * means it was truncated.
 */
int ion_board_render(const struct ion_board *board, char *buf, size_t len);

/* The text of an embedded board, or NULL. */
const char *ion_board_builtin(const char *name);
/* The name of embedded board number index, or NULL past the last one. */
const char *ion_board_builtin_name(unsigned int index);
/* "system", "system_contig", "carveout", "chunk", "dma"; NULL otherwise. */
const char *ion_board_heap_type_name(enum ion_board_heap_type type);

#ifdef __cplusplus
}
#endif

#endif /* _ION_BOARD_H */
