// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/*
 * Copyright 2026 The ionsim Authors.
 *
 * Board descriptions (ion_board.h, docs/boards.md): the parser, the layout
 * resolver, the renderer and the embedded boards. The same file is built into
 * the kernel module and into the userspace model. It uses nothing but
 * snprintf()/vsnprintf(), strcmp()/strncmp()/strlen()/memcpy()/memset() and
 * parses its own numbers, so both sides read every text alike.
 */
#ifdef __KERNEL__
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/string.h>
#include <linux/types.h>
#else
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#endif

#include "ion_board.h"
#include "ion_profile.h"

#define BOARD_U64_MAX	(~(uint64_t)0)
#define BOARD_PAGE	ION_BOARD_PAGE_SIZE
/* Characters of user text echoed in an error message. */
#define BOARD_SHOW_MAX	32

#define BOARD_NAME_CHARS \
	"may hold only A-Z a-z 0-9 _ . - (and blanks inside '...')"

#define BOARD_PRINTF(a, b)	__attribute__((format(printf, a, b)))

/* A piece of the text: not NUL-terminated. */
struct board_str {
	const char *p;
	size_t n;
};

/* A piece of user text made printable for a message. */
struct board_show {
	char s[BOARD_SHOW_MAX + 4];
};

static const char *const board_type_names[] = {
	[ION_BOARD_HEAP_SYSTEM] = "system",
	[ION_BOARD_HEAP_SYSTEM_CONTIG] = "system_contig",
	[ION_BOARD_HEAP_CARVEOUT] = "carveout",
	[ION_BOARD_HEAP_CHUNK] = "chunk",
	[ION_BOARD_HEAP_DMA] = "dma",
};

#define BOARD_NR_TYPES \
	((int)(sizeof(board_type_names) / sizeof(board_type_names[0])))

/* The keys of a heap record, in canonical order. */
enum {
	HK_ID,
	HK_NAME,
	HK_BASE,
	HK_SIZE,
	HK_ALIGN,
	HK_CHUNK,
	HK_ADJACENT,
	HK_NR,
};

static const char *const board_heap_keys[HK_NR] = {
	"id", "name", "base", "size", "align", "chunk", "adjacent",
};

/* The keys of the ram record. */
enum {
	RK_SIZE,
	RK_LOWMEM,
	RK_BASE,
	RK_NR,
};

static const char *const board_ram_keys[RK_NR] = {
	"size", "lowmem", "base",
};

/* The first malformed key=value token of a record. */
enum board_bad {
	BOARD_BAD_NONE = 0,
	BOARD_BAD_NOT_KV,
	BOARD_BAD_UNKNOWN_KEY,
	BOARD_BAD_DUPLICATE_KEY,
};

/* The key=value tokens of one record. */
struct board_kv {
	struct board_str val[HK_NR];
	bool seen[HK_NR];
	enum board_bad bad;
	struct board_str bad_tok;
};

static int BOARD_PRINTF(4, 5)
board_error(char *err, size_t errlen, unsigned int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!err || !errlen)
		return -EINVAL;
	if (line)
		n = snprintf(err, errlen, "board:%u: ", line);
	else
		n = snprintf(err, errlen, "board: ");
	if (n >= 0 && (size_t)n < errlen) {
		va_start(ap, fmt);
		vsnprintf(err + n, errlen - n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static const char *board_show(struct board_show *out, struct board_str s)
{
	size_t n = s.n < BOARD_SHOW_MAX ? s.n : BOARD_SHOW_MAX;
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s.p[i];

		out->s[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	if (s.n > n) {
		memcpy(out->s + n, "...", 3);
		n += 3;
	}
	out->s[n] = '\0';
	return out->s;
}

static bool board_str_is(struct board_str s, const char *lit)
{
	size_t n = strlen(lit);

	return s.n == n && strncmp(s.p, lit, n) == 0;
}

static bool board_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static bool board_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* nr_heaps, bounded for boards that were filled in rather than parsed. */
static unsigned int board_nr(const struct ion_board *b)
{
	return b->nr_heaps < ION_BOARD_MAX_HEAPS ? b->nr_heaps :
						   ION_BOARD_MAX_HEAPS;
}

static bool board_has_range(const struct ion_board_heap *h)
{
	return h->type == ION_BOARD_HEAP_CARVEOUT ||
	       h->type == ION_BOARD_HEAP_CHUNK ||
	       h->type == ION_BOARD_HEAP_DMA;
}

const char *ion_board_heap_type_name(enum ion_board_heap_type type)
{
	if ((int)type < 0 || (int)type >= BOARD_NR_TYPES)
		return NULL;
	return board_type_names[type];
}

/*
 * The next blank-separated token of rec from *pos. A single quote opens a
 * part in which blanks do not separate, up to the next single quote.
 * Returns 1 with *tok set, 0 at the end of the record, -EINVAL when a quote
 * is not closed.
 */
static int board_next_token(struct board_str rec, size_t *pos,
			    struct board_str *tok)
{
	size_t i = *pos;
	size_t start;
	bool quoted = false;

	while (i < rec.n && board_blank(rec.p[i]))
		i++;
	if (i == rec.n) {
		*pos = i;
		return 0;
	}
	start = i;
	while (i < rec.n && (quoted || !board_blank(rec.p[i]))) {
		if (rec.p[i] == '\'')
			quoted = !quoted;
		i++;
	}
	*pos = i;
	tok->p = rec.p + start;
	tok->n = i - start;
	return quoted ? -EINVAL : 1;
}

/*
 * Decimal or 0x-hex, then with suffix one of k K m M g G (as memparse()).
 * 0, or -EINVAL (not a number), -ERANGE (above 2^64 - 1), -EDOM (a leading
 * zero, which memparse() would read as octal).
 */
static int board_parse_u64(struct board_str v, bool suffix, uint64_t *out)
{
	uint64_t val = 0;
	unsigned int base = 10;
	unsigned int shift;
	unsigned int d;
	size_t i = 0;
	bool any = false;
	char c;

	if (v.n >= 2 && v.p[0] == '0' && (v.p[1] == 'x' || v.p[1] == 'X')) {
		base = 16;
		i = 2;
	} else if (v.n >= 2 && v.p[0] == '0' &&
		   v.p[1] >= '0' && v.p[1] <= '9') {
		return -EDOM;
	}
	for (; i < v.n; i++) {
		c = v.p[i];
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (base == 16 && c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			break;
		if (val > (BOARD_U64_MAX - d) / base)
			return -ERANGE;
		val = val * base + d;
		any = true;
	}
	if (!any)
		return -EINVAL;
	if (i < v.n) {
		if (!suffix || i + 1 != v.n)
			return -EINVAL;
		switch (v.p[i]) {
		case 'k':
		case 'K':
			shift = 10;
			break;
		case 'm':
		case 'M':
			shift = 20;
			break;
		case 'g':
		case 'G':
			shift = 30;
			break;
		default:
			return -EINVAL;
		}
		if (val > (BOARD_U64_MAX >> shift))
			return -ERANGE;
		val <<= shift;
	}
	*out = val;
	return 0;
}

static const char *board_num_why(int ret)
{
	switch (ret) {
	case -ERANGE:
		return "is out of range";
	case -EDOM:
		return "has a leading zero (memparse() would read octal)";
	default:
		return "is not a number";
	}
}

static bool board_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

/*
 * A name: [A-Za-z0-9_.-]+, or the same characters and blanks between single
 * quotes. NULL with the name in out, or what is wrong with it.
 */
static const char *board_parse_name(struct board_str v, char *out)
{
	bool quoted = v.n >= 2 && v.p[0] == '\'' && v.p[v.n - 1] == '\'';
	size_t i;

	if (quoted) {
		v.p++;
		v.n -= 2;
	}
	if (!v.n)
		return "is empty";
	if (v.n > ION_BOARD_NAME_MAX)
		return "is longer than 31 characters";
	for (i = 0; i < v.n; i++) {
		if (!board_name_char(v.p[i]) && !(quoted && v.p[i] == ' '))
			return BOARD_NAME_CHARS;
	}
	memcpy(out, v.p, v.n);
	out[v.n] = '\0';
	return NULL;
}

/* NULL when the NUL-terminated name in a struct is a valid name. */
static const char *board_check_name(const char *name)
{
	size_t n;

	for (n = 0; n <= ION_BOARD_NAME_MAX && name[n]; n++) {
		if (!board_name_char(name[n]) && name[n] != ' ')
			return BOARD_NAME_CHARS;
	}
	if (!n)
		return "is empty";
	if (n > ION_BOARD_NAME_MAX)
		return "is longer than 31 characters";
	return NULL;
}

/*
 * Collects the key=value tokens of rec from pos. The first malformed token
 * (no '=', an unknown key, a key seen before) is kept in kv->bad so that the
 * caller can report it once it knows the record's name. -EINVAL only for an
 * unclosed quote.
 */
static int board_collect(struct board_str rec, size_t pos,
			 const char *const *keys, int nkeys,
			 struct board_kv *kv)
{
	struct board_str tok;
	struct board_str key;
	size_t eq;
	int ret;
	int k;

	memset(kv, 0, sizeof(*kv));
	for (;;) {
		ret = board_next_token(rec, &pos, &tok);
		if (ret <= 0)
			return ret;
		for (eq = 0; eq < tok.n && tok.p[eq] != '='; eq++)
			;
		if (eq == 0 || eq == tok.n) {
			if (!kv->bad) {
				kv->bad = BOARD_BAD_NOT_KV;
				kv->bad_tok = tok;
			}
			continue;
		}
		key.p = tok.p;
		key.n = eq;
		for (k = 0; k < nkeys; k++) {
			if (board_str_is(key, keys[k]))
				break;
		}
		if (k == nkeys || kv->seen[k]) {
			if (!kv->bad) {
				kv->bad = k == nkeys ? BOARD_BAD_UNKNOWN_KEY :
						       BOARD_BAD_DUPLICATE_KEY;
				kv->bad_tok = key;
			}
			continue;
		}
		kv->seen[k] = true;
		kv->val[k].p = tok.p + eq + 1;
		kv->val[k].n = tok.n - eq - 1;
	}
}

static int board_report_bad(const struct board_kv *kv, const char *what,
			    char *err, size_t errlen, unsigned int line)
{
	struct board_show show;
	const char *tok = board_show(&show, kv->bad_tok);

	switch (kv->bad) {
	case BOARD_BAD_NOT_KV:
		return board_error(err, errlen, line,
				   "%s: expected key=value, got '%s'", what,
				   tok);
	case BOARD_BAD_UNKNOWN_KEY:
		return board_error(err, errlen, line, "%s: unknown key '%s'",
				   what, tok);
	default:
		return board_error(err, errlen, line,
				   "%s: duplicate key '%s'", what, tok);
	}
}

static int board_check_ram(const struct ion_board *b, char *err,
			   size_t errlen)
{
	unsigned int line = b->ram_line;

	if (!b->ram_size)
		return board_error(err, errlen, line,
				   "ram: size must not be 0");
	if (b->ram_size % BOARD_PAGE)
		return board_error(err, errlen, line,
				   "ram: size 0x%llx is not a multiple of 4096",
				   (unsigned long long)b->ram_size);
	if (!b->lowmem_size)
		return board_error(err, errlen, line,
				   "ram: lowmem must not be 0");
	if (b->lowmem_size % BOARD_PAGE)
		return board_error(err, errlen, line,
				   "ram: lowmem 0x%llx is not a multiple of 4096",
				   (unsigned long long)b->lowmem_size);
	if (b->lowmem_size > b->ram_size)
		return board_error(err, errlen, line,
				   "ram: lowmem 0x%llx exceeds size 0x%llx",
				   (unsigned long long)b->lowmem_size,
				   (unsigned long long)b->ram_size);
	if (b->ram_base % BOARD_PAGE)
		return board_error(err, errlen, line,
				   "ram: base 0x%llx is not page aligned",
				   (unsigned long long)b->ram_base);
	if (b->ram_size > BOARD_U64_MAX - b->ram_base)
		return board_error(err, errlen, line,
				   "ram: base 0x%llx + size 0x%llx wraps around",
				   (unsigned long long)b->ram_base,
				   (unsigned long long)b->ram_size);
	return 0;
}

/* The rules one heap keeps on its own, whether parsed or filled in. */
static int board_check_heap(const struct ion_board *b, unsigned int i,
			    char *err, size_t errlen)
{
	const struct ion_board_heap *h = &b->heaps[i];
	const char *type = ion_board_heap_type_name(h->type);
	const char *why = board_check_name(h->name);
	unsigned int line = h->line;

	if (why)
		return board_error(err, errlen, line, "heap: name %s", why);
	if (!type)
		return board_error(err, errlen, line,
				   "heap '%s': unknown type %d", h->name,
				   (int)h->type);
	if (h->id > ION_BOARD_MAX_ID)
		return board_error(err, errlen, line,
				   "heap '%s': id %u is out of range (0-31)",
				   h->name, h->id);
	if (h->align && !board_pow2(h->align))
		return board_error(err, errlen, line,
				   "heap '%s': align 0x%llx is not a power of two",
				   h->name, (unsigned long long)h->align);
	if (!board_has_range(h)) {
		if (h->place != ION_BOARD_PLACE_NONE || h->size || h->chunk)
			return board_error(err, errlen, line,
					   "heap '%s': %s heaps take no base=, size=, chunk= or adjacent=",
					   h->name, type);
		return 0;
	}
	if (h->place != ION_BOARD_PLACE_FIXED &&
	    h->place != ION_BOARD_PLACE_AUTO &&
	    h->place != ION_BOARD_PLACE_ADJACENT)
		return board_error(err, errlen, line,
				   "heap '%s': %s heaps need base= or adjacent=",
				   h->name, type);
	if (!h->size)
		return board_error(err, errlen, line,
				   "heap '%s': size must not be 0", h->name);
	if (h->size % BOARD_PAGE)
		return board_error(err, errlen, line,
				   "heap '%s': size 0x%llx is not a multiple of 4096",
				   h->name, (unsigned long long)h->size);
	if (h->place == ION_BOARD_PLACE_FIXED) {
		if (h->base % BOARD_PAGE)
			return board_error(err, errlen, line,
					   "heap '%s': base 0x%llx is not page aligned",
					   h->name,
					   (unsigned long long)h->base);
		if (h->size > BOARD_U64_MAX - h->base)
			return board_error(err, errlen, line,
					   "heap '%s': base 0x%llx + size 0x%llx wraps around",
					   h->name,
					   (unsigned long long)h->base,
					   (unsigned long long)h->size);
	}
	if (h->type == ION_BOARD_HEAP_CHUNK) {
		if (h->chunk < BOARD_PAGE || !board_pow2(h->chunk))
			return board_error(err, errlen, line,
					   "heap '%s': chunk 0x%llx is not a power of two >= 4096",
					   h->name,
					   (unsigned long long)h->chunk);
		if (h->size % h->chunk)
			return board_error(err, errlen, line,
					   "heap '%s': size 0x%llx is not a multiple of chunk 0x%llx",
					   h->name,
					   (unsigned long long)h->size,
					   (unsigned long long)h->chunk);
	} else if (h->chunk) {
		return board_error(err, errlen, line,
				   "heap '%s': chunk= is only valid for chunk heaps",
				   h->name);
	}
	return 0;
}

/*
 * The first heap with this id, as the msm fixup's find_heap() looks it up;
 * -1 when there is none.
 */
static int board_find(const struct ion_board *b, unsigned int id)
{
	unsigned int i;

	for (i = 0; i < board_nr(b); i++) {
		if (b->heaps[i].id == id)
			return (int)i;
	}
	return -1;
}

/*
 * adjacent= pairs: the named heap must be a carveout, chunk or dma heap of
 * this board other than the naming one, without base= or adjacent= of its
 * own, and named by one heap only.
 */
static int board_check_adjacency(const struct ion_board *b, char *err,
				 size_t errlen)
{
	const struct ion_board_heap *h;
	const struct ion_board_heap *t;
	unsigned int i;
	unsigned int j;
	int ti;

	for (i = 0; i < b->nr_heaps; i++) {
		h = &b->heaps[i];
		if (h->place != ION_BOARD_PLACE_ADJACENT)
			continue;
		ti = board_find(b, h->adjacent);
		if (ti < 0)
			return board_error(err, errlen, h->line,
					   "heap '%s': adjacent=%u names no heap of this board",
					   h->name, h->adjacent);
		if ((unsigned int)ti == i)
			return board_error(err, errlen, h->line,
					   "heap '%s': adjacent=%u names the heap itself",
					   h->name, h->adjacent);
		t = &b->heaps[ti];
		if (!board_has_range(t))
			return board_error(err, errlen, h->line,
					   "heap '%s': adjacent=%u names heap '%s', which is not a carveout, chunk or dma heap",
					   h->name, h->adjacent, t->name);
		if (t->place == ION_BOARD_PLACE_FIXED)
			return board_error(err, errlen, h->line,
					   "heap '%s': adjacent=%u names heap '%s', which has its own base=",
					   h->name, h->adjacent, t->name);
		if (t->place == ION_BOARD_PLACE_ADJACENT)
			return board_error(err, errlen, h->line,
					   "heap '%s': adjacent=%u names heap '%s', which has adjacent= itself",
					   h->name, h->adjacent, t->name);
		for (j = 0; j < i; j++) {
			const struct ion_board_heap *o = &b->heaps[j];

			if (o->place == ION_BOARD_PLACE_ADJACENT &&
			    board_find(b, o->adjacent) == ti)
				return board_error(err, errlen, h->line,
						   "heap '%s': adjacent=%u names heap '%s', which already follows heap '%s' (line %u)",
						   h->name, h->adjacent,
						   t->name, o->name, o->line);
		}
	}
	return 0;
}

static int board_check(const struct ion_board *b, char *err, size_t errlen)
{
	const char *why = board_check_name(b->name);
	unsigned int i;
	int ret;

	if (why)
		return board_error(err, errlen, b->board_line,
				   "board: name %s", why);
	if (b->nr_heaps > ION_BOARD_MAX_HEAPS)
		return board_error(err, errlen, 0, "more than %d heaps",
				   ION_BOARD_MAX_HEAPS);
	ret = board_check_ram(b, err, errlen);
	for (i = 0; !ret && i < b->nr_heaps; i++)
		ret = board_check_heap(b, i, err, errlen);
	if (!ret)
		ret = board_check_adjacency(b, err, errlen);
	return ret;
}

struct board_parser {
	struct ion_board *b;
	char *err;
	size_t errlen;
	unsigned int line;
};

/*
 * The one word after a record's keyword (kind: "board", "profile") into
 * *tok, once per board: *seen_line is the line of an earlier such record.
 */
static int board_one_word(struct board_parser *p, struct board_str rec,
			  size_t pos, const char *kind, unsigned int seen_line,
			  struct board_str *tok)
{
	struct board_str extra;
	struct board_show show;
	int ret;

	if (seen_line)
		return board_error(p->err, p->errlen, p->line,
				   "duplicate %s record (first at line %u)",
				   kind, seen_line);
	ret = board_next_token(rec, &pos, tok);
	if (ret < 0)
		return board_error(p->err, p->errlen, p->line,
				   "%s: unclosed ' quote", kind);
	if (!ret)
		return board_error(p->err, p->errlen, p->line,
				   "%s: missing name", kind);
	ret = board_next_token(rec, &pos, &extra);
	if (ret < 0)
		return board_error(p->err, p->errlen, p->line,
				   "%s: unclosed ' quote", kind);
	if (ret)
		return board_error(p->err, p->errlen, p->line,
				   "%s: unexpected '%s' after the name", kind,
				   board_show(&show, extra));
	return 0;
}

/* board <name> */
static int board_parse_board(struct board_parser *p, struct board_str rec,
			     size_t pos)
{
	struct ion_board *b = p->b;
	struct board_str tok;
	struct board_show show;
	const char *why;
	int ret;

	ret = board_one_word(p, rec, pos, "board", b->board_line, &tok);
	if (ret)
		return ret;
	why = board_parse_name(tok, b->name);
	if (why)
		return board_error(p->err, p->errlen, p->line,
				   "board: name '%s' %s",
				   board_show(&show, tok), why);
	b->board_line = p->line;
	return 0;
}

/* profile <name> (ion_profile.h) */
static int board_parse_profile(struct board_parser *p, struct board_str rec,
			       size_t pos)
{
	struct ion_board *b = p->b;
	struct board_str tok;
	struct board_show show;
	char names[128];
	int ret;

	ret = board_one_word(p, rec, pos, "profile", b->profile_line, &tok);
	if (ret)
		return ret;
	if (tok.n <= ION_PROFILE_NAME_MAX) {
		memcpy(b->profile, tok.p, tok.n);
		b->profile[tok.n] = '\0';
	}
	if (tok.n > ION_PROFILE_NAME_MAX || !ion_profile_find(b->profile)) {
		b->profile[0] = '\0';
		ion_profile_names(names, sizeof(names));
		return board_error(p->err, p->errlen, p->line,
				   "unknown profile '%s' (known: %s)",
				   board_show(&show, tok), names);
	}
	b->profile_line = p->line;
	return 0;
}

/* ram size=<size> [lowmem=<size>] [base=<addr>] */
static int board_parse_ram(struct board_parser *p, struct board_str rec,
			   size_t pos)
{
	struct ion_board *b = p->b;
	struct board_kv kv;
	struct board_show show;
	uint64_t *dst[RK_NR];
	int k;
	int ret;

	if (b->ram_line)
		return board_error(p->err, p->errlen, p->line,
				   "duplicate ram record (first at line %u)",
				   b->ram_line);
	ret = board_collect(rec, pos, board_ram_keys, RK_NR, &kv);
	if (ret)
		return board_error(p->err, p->errlen, p->line,
				   "ram: unclosed ' quote");
	if (kv.bad)
		return board_report_bad(&kv, "ram", p->err, p->errlen,
					p->line);
	if (!kv.seen[RK_SIZE])
		return board_error(p->err, p->errlen, p->line,
				   "ram: missing size=");
	dst[RK_SIZE] = &b->ram_size;
	dst[RK_LOWMEM] = &b->lowmem_size;
	dst[RK_BASE] = &b->ram_base;
	for (k = 0; k < RK_NR; k++) {
		if (!kv.seen[k])
			continue;
		ret = board_parse_u64(kv.val[k], true, dst[k]);
		if (ret)
			return board_error(p->err, p->errlen, p->line,
					   "ram: %s '%s' %s", board_ram_keys[k],
					   board_show(&show, kv.val[k]),
					   board_num_why(ret));
	}
	if (!kv.seen[RK_LOWMEM])
		b->lowmem_size = b->ram_size;
	if (!kv.seen[RK_BASE])
		b->ram_base = ION_BOARD_DEFAULT_RAM_BASE;
	b->ram_line = p->line;
	return board_check_ram(b, p->err, p->errlen);
}

static int board_heap_num(struct board_parser *p, const struct board_kv *kv,
			  int k, bool suffix, const char *name, uint64_t *out)
{
	struct board_show show;
	int ret = board_parse_u64(kv->val[k], suffix, out);

	if (ret)
		return board_error(p->err, p->errlen, p->line,
				   "heap '%s': %s '%s' %s", name,
				   board_heap_keys[k],
				   board_show(&show, kv->val[k]),
				   board_num_why(ret));
	return 0;
}

/*
 * heap <type> id=<n> name=<name> [base=<addr>|auto] [size=<size>]
 *      [align=<size>] [chunk=<size>] [adjacent=<id>]
 */
static int board_parse_heap(struct board_parser *p, struct board_str rec,
			    size_t pos)
{
	static const int no_range_keys[] = {
		HK_BASE, HK_SIZE, HK_CHUNK, HK_ADJACENT,
	};
	struct ion_board *b = p->b;
	struct ion_board_heap *h;
	struct board_str type_tok;
	struct board_show show;
	struct board_kv kv;
	char name[ION_BOARD_NAME_MAX + 1];
	const char *why;
	uint64_t v;
	unsigned int k;
	int type;
	int ret;

	ret = board_next_token(rec, &pos, &type_tok);
	if (ret < 0)
		return board_error(p->err, p->errlen, p->line,
				   "heap: unclosed ' quote");
	if (!ret)
		return board_error(p->err, p->errlen, p->line,
				   "heap: missing type");
	ret = board_collect(rec, pos, board_heap_keys, HK_NR, &kv);
	if (ret)
		return board_error(p->err, p->errlen, p->line,
				   "heap: unclosed ' quote");
	if (!kv.seen[HK_NAME])
		return board_error(p->err, p->errlen, p->line,
				   "heap: missing name=");
	why = board_parse_name(kv.val[HK_NAME], name);
	if (why)
		return board_error(p->err, p->errlen, p->line,
				   "heap: name '%s' %s",
				   board_show(&show, kv.val[HK_NAME]), why);
	if (kv.bad) {
		char what[ION_BOARD_NAME_MAX + 10];

		snprintf(what, sizeof(what), "heap '%s'", name);
		return board_report_bad(&kv, what, p->err, p->errlen, p->line);
	}
	for (type = 0; type < BOARD_NR_TYPES; type++) {
		if (board_str_is(type_tok, board_type_names[type]))
			break;
	}
	if (type == BOARD_NR_TYPES)
		return board_error(p->err, p->errlen, p->line,
				   "heap '%s': unknown type '%s'", name,
				   board_show(&show, type_tok));
	if (b->nr_heaps == ION_BOARD_MAX_HEAPS)
		return board_error(p->err, p->errlen, p->line,
				   "heap '%s': more than %d heaps", name,
				   ION_BOARD_MAX_HEAPS);
	if (!kv.seen[HK_ID])
		return board_error(p->err, p->errlen, p->line,
				   "heap '%s': missing id=", name);
	ret = board_heap_num(p, &kv, HK_ID, false, name, &v);
	if (ret)
		return ret;
	if (v > ION_BOARD_MAX_ID)
		return board_error(p->err, p->errlen, p->line,
				   "heap '%s': id %llu is out of range (0-31)",
				   name, (unsigned long long)v);

	h = &b->heaps[b->nr_heaps];
	memset(h, 0, sizeof(*h));
	h->type = (enum ion_board_heap_type)type;
	h->id = (unsigned int)v;
	memcpy(h->name, name, sizeof(name));
	h->line = p->line;

	if (kv.seen[HK_ALIGN]) {
		ret = board_heap_num(p, &kv, HK_ALIGN, true, name, &h->align);
		if (ret)
			return ret;
	}
	if (!board_has_range(h)) {
		for (k = 0; k < sizeof(no_range_keys) / sizeof(int); k++) {
			if (kv.seen[no_range_keys[k]])
				return board_error(p->err, p->errlen, p->line,
						   "heap '%s': %s= is not valid for %s heaps",
						   name,
						   board_heap_keys[no_range_keys[k]],
						   board_type_names[type]);
		}
		h->place = ION_BOARD_PLACE_NONE;
		b->nr_heaps++;
		return board_check_heap(b, b->nr_heaps - 1, p->err,
					p->errlen);
	}

	if (!kv.seen[HK_SIZE])
		return board_error(p->err, p->errlen, p->line,
				   "heap '%s': missing size=", name);
	ret = board_heap_num(p, &kv, HK_SIZE, true, name, &h->size);
	if (ret)
		return ret;
	if (kv.seen[HK_CHUNK] && h->type != ION_BOARD_HEAP_CHUNK)
		return board_error(p->err, p->errlen, p->line,
				   "heap '%s': chunk= is only valid for chunk heaps",
				   name);
	if (!kv.seen[HK_CHUNK] && h->type == ION_BOARD_HEAP_CHUNK)
		return board_error(p->err, p->errlen, p->line,
				   "heap '%s': chunk heaps need chunk=", name);
	if (kv.seen[HK_CHUNK]) {
		ret = board_heap_num(p, &kv, HK_CHUNK, true, name, &h->chunk);
		if (ret)
			return ret;
	}
	if (kv.seen[HK_ADJACENT]) {
		if (kv.seen[HK_BASE])
			return board_error(p->err, p->errlen, p->line,
					   "heap '%s': base= and adjacent= are mutually exclusive",
					   name);
		ret = board_heap_num(p, &kv, HK_ADJACENT, false, name, &v);
		if (ret)
			return ret;
		if (v > ION_BOARD_MAX_ID)
			return board_error(p->err, p->errlen, p->line,
					   "heap '%s': adjacent=%llu names no heap of this board",
					   name, (unsigned long long)v);
		h->adjacent = (unsigned int)v;
		h->place = ION_BOARD_PLACE_ADJACENT;
	} else if (kv.seen[HK_BASE] && !board_str_is(kv.val[HK_BASE], "auto")) {
		ret = board_heap_num(p, &kv, HK_BASE, true, name, &h->base);
		if (ret)
			return ret;
		h->place = ION_BOARD_PLACE_FIXED;
	} else {
		h->place = ION_BOARD_PLACE_AUTO;
	}
	b->nr_heaps++;
	return board_check_heap(b, b->nr_heaps - 1, p->err, p->errlen);
}

static int board_parse_record(struct board_parser *p, struct board_str rec)
{
	struct board_str kind;
	struct board_show show;
	size_t pos = 0;
	int ret;

	ret = board_next_token(rec, &pos, &kind);
	if (!ret)
		return 0;
	if (ret < 0)
		return board_error(p->err, p->errlen, p->line,
				   "unclosed ' quote");
	if (board_str_is(kind, "board"))
		return board_parse_board(p, rec, pos);
	if (board_str_is(kind, "ram"))
		return board_parse_ram(p, rec, pos);
	if (board_str_is(kind, "heap"))
		return board_parse_heap(p, rec, pos);
	if (board_str_is(kind, "profile"))
		return board_parse_profile(p, rec, pos);
	return board_error(p->err, p->errlen, p->line,
			   "unknown record '%s'", board_show(&show, kind));
}

int ion_board_parse(struct ion_board *board, const char *text, size_t len,
		    char *err, size_t errlen)
{
	struct board_parser p;
	struct board_str rec;
	unsigned int line = 1;
	size_t pos = 0;
	size_t start;
	size_t i;
	int ret;

	if (err && errlen)
		err[0] = '\0';
	memset(board, 0, sizeof(*board));
	if (!text)
		len = 0;
	p.b = board;
	p.err = err;
	p.errlen = errlen;
	while (pos < len) {
		start = pos;
		p.line = line;
		while (pos < len && text[pos] != '\n' && text[pos] != ';')
			pos++;
		rec.p = text + start;
		rec.n = pos - start;
		if (pos < len) {
			if (text[pos] == '\n')
				line++;
			pos++;
		}
		for (i = 0; i < rec.n; i++) {
			if (rec.p[i] == '#') {
				rec.n = i;
				break;
			}
		}
		ret = board_parse_record(&p, rec);
		if (ret)
			return ret;
	}
	if (!board->board_line)
		return board_error(err, errlen, 0, "missing board record");
	if (!board->ram_line)
		return board_error(err, errlen, 0, "missing ram record");
	return board_check_adjacency(board, err, errlen);
}

/*
 * Takes size bytes aligned to align (at least a page) from the top of
 * [floor, *top) and lowers *top to them.
 */
static bool board_take(uint64_t *top, uint64_t floor, uint64_t size,
		       uint64_t align, uint64_t *out)
{
	uint64_t a = align > BOARD_PAGE ? align : BOARD_PAGE;
	uint64_t at;

	if (*top - floor < size)
		return false;
	at = (*top - size) & ~(a - 1);
	if (at < floor)
		return false;
	*top = at;
	*out = at;
	return true;
}

/*
 * Mirrors drivers/gpu/ion/msm/msm_ion.c:is_heap_overlapping() @ CAF msm-3.4:
 * the ends compared are inclusive (base + size - 1).
 */
static bool board_overlapping(const struct ion_board_heap *a,
			      const struct ion_board_heap *b)
{
	uint64_t a_last = a->phys + a->size - 1;
	uint64_t b_last = b->phys + b->size - 1;

	if (a->phys <= b->phys)
		return a_last >= b->phys;
	return b_last >= a->phys;
}

int ion_board_layout(struct ion_board *board, uint64_t base, uint64_t size,
		     char *err, size_t errlen)
{
	struct ion_board_heap *h;
	struct ion_board_heap *t;
	uint64_t top;
	uint64_t end;
	uint64_t need;
	uint32_t placed = 0;
	unsigned int i;
	unsigned int j;
	int ret;

	if (err && errlen)
		err[0] = '\0';
	board->laid_out = false;
	ret = board_check(board, err, errlen);
	if (ret)
		return ret;
	if (!size || size > BOARD_U64_MAX - base)
		return board_error(err, errlen, 0,
				   "region 0x%llx + 0x%llx is empty or wraps around",
				   (unsigned long long)base,
				   (unsigned long long)size);
	end = base + size;
	top = end;
	for (i = 0; i < board->nr_heaps; i++) {
		h = &board->heaps[i];
		h->phys = 0;
		if (h->place == ION_BOARD_PLACE_FIXED) {
			h->phys = h->base;
			placed |= 1U << i;
		}
	}

	/*
	 * Mirrors drivers/gpu/ion/msm/msm_ion.c:msm_ion_heap_fixup() @ CAF
	 * msm-3.4: in board order, a heap with adjacent=<id> and heap <id>
	 * take one block of both sizes, aligned as the first; the first gets
	 * its start and heap <id> the bytes right after it. The pairs are
	 * taken before any other heap.
	 */
	for (i = 0; i < board->nr_heaps; i++) {
		h = &board->heaps[i];
		if (h->place != ION_BOARD_PLACE_ADJACENT)
			continue;
		t = &board->heaps[board_find(board, h->adjacent)];
		need = h->size + t->size;
		if (need < h->size ||
		    !board_take(&top, base, need, h->align, &h->phys))
			return board_error(err, errlen, h->line,
					   "heap '%s': no room for 0x%llx bytes with heap '%s' below 0x%llx in 0x%llx-0x%llx",
					   h->name, (unsigned long long)need,
					   t->name, (unsigned long long)top,
					   (unsigned long long)base,
					   (unsigned long long)(end - 1));
		t->phys = h->phys + h->size;
		placed |= 1U << i;
		placed |= 1U << (t - board->heaps);
	}

	/*
	 * Mirrors drivers/gpu/ion/msm/msm_ion.c:msm_ion_allocate() @ CAF
	 * msm-3.4: every other heap without a base, in board order.
	 * Divergence: msm places a heap only when it has an alignment; here
	 * every auto heap is placed, at least page aligned.
	 */
	for (i = 0; i < board->nr_heaps; i++) {
		h = &board->heaps[i];
		if (h->place != ION_BOARD_PLACE_AUTO || (placed & (1U << i)))
			continue;
		if (!board_take(&top, base, h->size, h->align, &h->phys))
			return board_error(err, errlen, h->line,
					   "heap '%s': no room for 0x%llx bytes below 0x%llx in 0x%llx-0x%llx",
					   h->name,
					   (unsigned long long)h->size,
					   (unsigned long long)top,
					   (unsigned long long)base,
					   (unsigned long long)(end - 1));
		placed |= 1U << i;
	}

	for (i = 0; i < board->nr_heaps; i++) {
		h = &board->heaps[i];
		if (!board_has_range(h))
			continue;
		if (h->phys < base || h->phys > end ||
		    h->size > end - h->phys)
			return board_error(err, errlen, h->line,
					   "heap '%s': 0x%llx-0x%llx lies outside 0x%llx-0x%llx",
					   h->name,
					   (unsigned long long)h->phys,
					   (unsigned long long)(h->phys +
								h->size - 1),
					   (unsigned long long)base,
					   (unsigned long long)(end - 1));
	}

	/*
	 * Mirrors drivers/gpu/ion/msm/msm_ion.c:check_for_heap_overlap() @ CAF
	 * msm-3.4: every pair in board order, named as there; fatal.
	 * Divergence: msm skips heaps whose base is 0 (not placed); here every
	 * range is placed, so a heap at physical address 0 is checked too.
	 */
	for (i = 0; i < board->nr_heaps; i++) {
		h = &board->heaps[i];
		if (!board_has_range(h))
			continue;
		for (j = i + 1; j < board->nr_heaps; j++) {
			t = &board->heaps[j];
			if (board_has_range(t) && board_overlapping(h, t))
				return board_error(err, errlen, h->line,
						   "Memory in heap %s overlaps with heap %s (line %u)",
						   h->name, t->name, t->line);
		}
	}
	board->laid_out = true;
	return 0;
}

void ion_board_relocate(struct ion_board *board, int64_t delta)
{
	uint64_t d = (uint64_t)delta;
	unsigned int i;

	for (i = 0; i < board_nr(board); i++) {
		struct ion_board_heap *h = &board->heaps[i];

		if (h->place == ION_BOARD_PLACE_FIXED)
			h->base += d;
		if (board->laid_out && board_has_range(h))
			h->phys += d;
	}
}

int ion_board_span(const struct ion_board *board, uint64_t *start,
		   uint64_t *end)
{
	uint64_t lo = 0;
	uint64_t hi = 0;
	bool any = false;
	unsigned int i;

	if (!board->laid_out)
		return -EINVAL;
	for (i = 0; i < board_nr(board); i++) {
		const struct ion_board_heap *h = &board->heaps[i];

		if (!board_has_range(h))
			continue;
		if (!any || h->phys < lo)
			lo = h->phys;
		if (!any || h->phys + h->size > hi)
			hi = h->phys + h->size;
		any = true;
	}
	if (!any)
		return -ENOENT;
	*start = lo;
	*end = hi;
	return 0;
}

int ion_board_fit(struct ion_board *board, uint64_t base, uint64_t size,
		  char *err, size_t errlen)
{
	uint64_t align = BOARD_PAGE;
	uint64_t lo;
	uint64_t hi;
	uint64_t start;
	uint64_t end;
	unsigned int i;
	int ret;

	ret = ion_board_layout(board, board->ram_base, board->ram_size, err,
			       errlen);
	if (ret)
		return ret;
	if (ion_board_span(board, &lo, &hi))
		return 0;
	if (!size || size > BOARD_U64_MAX - base) {
		board->laid_out = false;
		return board_error(err, errlen, 0,
				   "reserved range 0x%llx + 0x%llx is empty or wraps around",
				   (unsigned long long)base,
				   (unsigned long long)size);
	}
	for (i = 0; i < board->nr_heaps; i++) {
		if (board_has_range(&board->heaps[i]) &&
		    board->heaps[i].align > align)
			align = board->heaps[i].align;
	}
	/* The lowest start >= base with the offset lo has within align. */
	end = base + size;
	start = (base & ~(align - 1)) | (lo & (align - 1));
	if (start < base)
		start = start > BOARD_U64_MAX - align ? end : start + align;
	if (start >= end || end - start < hi - lo) {
		board->laid_out = false;
		return board_error(err, errlen, 0,
				   "the heaps span 0x%llx bytes (0x%llx-0x%llx in RAM) and do not fit in 0x%llx-0x%llx",
				   (unsigned long long)(hi - lo),
				   (unsigned long long)lo,
				   (unsigned long long)(hi - 1),
				   (unsigned long long)base,
				   (unsigned long long)(end - 1));
	}
	ion_board_relocate(board, (int64_t)(start - lo));
	return 0;
}

struct board_out {
	char *buf;
	size_t len;
	size_t pos;
};

static void BOARD_PRINTF(2, 3) board_put(struct board_out *o,
					 const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	if (o->pos < o->len)
		n = vsnprintf(o->buf + o->pos, o->len - o->pos, fmt, ap);
	else
		n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->pos += n;
}

/* A size in the largest unit that divides it: 4M, 16K, 12288, 0. */
static void board_put_size(struct board_out *o, const char *key, uint64_t v)
{
	static const struct {
		unsigned int shift;
		char unit;
	} units[] = { { 30, 'G' }, { 20, 'M' }, { 10, 'K' } };
	unsigned int i;

	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (v && !(v & ((1ULL << units[i].shift) - 1))) {
			board_put(o, " %s=%llu%c", key,
				  (unsigned long long)(v >> units[i].shift),
				  units[i].unit);
			return;
		}
	}
	board_put(o, " %s=%llu", key, (unsigned long long)v);
}

static void board_put_name(struct board_out *o, const char *name)
{
	size_t i;

	for (i = 0; name[i]; i++) {
		if (name[i] == ' ') {
			board_put(o, "'%s'", name);
			return;
		}
	}
	board_put(o, "%s", name);
}

/* Whether heap i is placed by another heap's adjacent=. */
static bool board_is_adjacent_target(const struct ion_board *b,
				     unsigned int i)
{
	unsigned int j;

	for (j = 0; j < board_nr(b); j++) {
		if (b->heaps[j].place == ION_BOARD_PLACE_ADJACENT &&
		    board_find(b, b->heaps[j].adjacent) == (int)i)
			return true;
	}
	return false;
}

int ion_board_render(const struct ion_board *board, char *buf, size_t len)
{
	struct board_out o = { buf, buf ? len : 0, 0 };
	const struct ion_board_heap *h;
	const char *type;
	unsigned int i;

	if (o.len)
		o.buf[0] = '\0';
	board_put(&o, "board ");
	board_put_name(&o, board->name);
	board_put(&o, "\nram");
	board_put_size(&o, "size", board->ram_size);
	if (board->lowmem_size != board->ram_size)
		board_put_size(&o, "lowmem", board->lowmem_size);
	board_put(&o, " base=0x%llx\n", (unsigned long long)board->ram_base);
	if (board->profile[0])
		board_put(&o, "profile %s\n", board->profile);
	for (i = 0; i < board_nr(board); i++) {
		h = &board->heaps[i];
		type = ion_board_heap_type_name(h->type);
		board_put(&o, "heap %s id=%u name=", type ? type : "?", h->id);
		board_put_name(&o, h->name);
		if (h->place == ION_BOARD_PLACE_FIXED)
			board_put(&o, " base=0x%llx",
				  (unsigned long long)h->base);
		else if (h->place == ION_BOARD_PLACE_AUTO &&
			 !board_is_adjacent_target(board, i))
			board_put(&o, " base=auto");
		if (board_has_range(h))
			board_put_size(&o, "size", h->size);
		if (h->align)
			board_put_size(&o, "align", h->align);
		if (h->type == ION_BOARD_HEAP_CHUNK)
			board_put_size(&o, "chunk", h->chunk);
		if (h->place == ION_BOARD_PLACE_ADJACENT)
			board_put(&o, " adjacent=%u", h->adjacent);
		if (board->laid_out && board_has_range(h))
			board_put(&o, " # 0x%llx-0x%llx",
				  (unsigned long long)h->phys,
				  (unsigned long long)(h->phys + h->size - 1));
		board_put(&o, "\n");
	}
	return (int)o.pos;
}

/*
 * Mirrors drivers/staging/android/ion/ion_dummy_driver.c:dummy_heaps[] @
 * v4.4: the four heaps with their ids, names, sizes, the chunk heap's 16 KiB
 * align and chunk size. Divergence: the driver takes the carveout and chunk
 * memory from alloc_pages_exact() at init; here both are reserved at the
 * top of RAM (auto placement). The 512 MiB of RAM at 0x80000000 with
 * 448 MiB of lowmem is a 32-bit ARM-like machine, so the system heap also
 * allocates from highmem.
 */
static const char board_dummy[] =
	"board dummy\n"
	"ram size=512M lowmem=448M base=0x80000000\n"
	"heap system id=0 name=system\n"
	"heap system_contig id=1 name='system contig'\n"
	"heap carveout id=2 name=carveout size=4M\n"
	"heap chunk id=3 name=chunk size=4M align=16K chunk=16K\n";

/*
 * Mirrors arch/arm/mach-msm/board-msm7x27a.c:msm7627a_heaps[] and
 * fix_sizes() @ CAF msm-3.4 (android-legacy/android_kernel_msm_caf, the
 * board file of the msm7627a and msm8625 SURF/FFA/EVB boards): the heap
 * order system, camera, audio, sf; msm_ion_camera_size = pmem_adsp_size =
 * MSM_PMEM_ADSP_SIZE 0x1200000 (DDR <= 512 MiB; above it CAMERA_ZSL_SIZE),
 * msm_ion_audio_size = MSM_PMEM_AUDIO_SIZE 0x1F4000 + PMEM_KERNEL_EBI1_SIZE
 * 0x3A000, msm_ion_sf_size = pmem_mdp_size = MSM_PMEM_MDP_SIZE 0x1B00000;
 * co_ion_pdata.align = PAGE_SIZE and no adjacent heap.
 * Ids and names: include/linux/msm_ion.h of CAF msm-3.4 trees for msm8x25
 * (c8813q-dev/android_kernel_huawei_c8813q): ION_SYSTEM_HEAP_ID 30 named
 * ION_VMALLOC_HEAP_NAME "vmalloc", ION_CAMERA_HEAP_ID 20 "camera_preview",
 * ION_AUDIO_HEAP_ID 28 "audio", ION_SF_HEAP_ID 24 "sf".
 * RAM starts at PHYS_OFFSET 0x00200000 (arch/arm/mach-msm/Kconfig, boards
 * without stacked memory). Not verified: the RAM size the bootloader passes
 * (taken as 512 MiB of DDR less the 2 MiB below PHYS_OFFSET, all lowmem
 * under a 3G/1G split) and the addresses allocate_contiguous_ebi_nomap()
 * returned (the heaps are placed automatically here).
 */
static const char board_msm8x25[] =
	"board msm8x25\n"
	"ram size=510M base=0x200000\n"
	"heap system id=30 name=vmalloc\n"
	"heap carveout id=20 name=camera_preview size=0x1200000 align=4K\n"
	"heap carveout id=28 name=audio size=0x22e000 align=4K\n"
	"heap carveout id=24 name=sf size=0x1b00000 align=4K\n";

/*
 * A 3 GiB arm64-like phone, all lowmem. The video firmware carveout sits
 * directly below the video heap through adjacent= (as the msm 8960 boards
 * placed their MM firmware heap); the pair is placed at the top of RAM. The
 * CMA area, the camera, secure display and audio carveouts and the chunk heap
 * have fixed bases right below it, so the whole layout spans 424 MiB.
 */
static const char board_phone[] =
	"board phone\n"
	"ram size=3G base=0x80000000\n"
	"heap system id=0 name=system\n"
	"heap system_contig id=1 name=system_contig\n"
	"heap carveout id=2 name=camera base=0x129800000 size=96M align=1M\n"
	"heap carveout id=3 name=video_fw size=5M align=128K adjacent=8\n"
	"heap carveout id=4 name=secure_display base=0x12f800000 size=92M align=1M\n"
	"heap carveout id=5 name=audio base=0x135400000 size=12M\n"
	"heap dma id=6 name=cma base=0x125800000 size=64M\n"
	"heap chunk id=7 name=chunk base=0x136000000 size=32M align=64K chunk=64K\n"
	"heap carveout id=8 name=video size=120M align=1M\n";

static const struct {
	const char *name;
	const char *text;
} board_builtins[] = {
	{ "dummy", board_dummy },
	{ "msm8x25", board_msm8x25 },
	{ "phone", board_phone },
};

#define BOARD_NR_BUILTINS \
	(sizeof(board_builtins) / sizeof(board_builtins[0]))

const char *ion_board_builtin_name(unsigned int index)
{
	return index < BOARD_NR_BUILTINS ? board_builtins[index].name : NULL;
}

static const char *board_builtin_str(struct board_str name)
{
	unsigned int i;

	for (i = 0; i < BOARD_NR_BUILTINS; i++) {
		if (board_str_is(name, board_builtins[i].name))
			return board_builtins[i].text;
	}
	return NULL;
}

const char *ion_board_builtin(const char *name)
{
	struct board_str s;

	if (!name)
		return NULL;
	s.p = name;
	s.n = strlen(name);
	return board_builtin_str(s);
}

int ion_board_load(struct ion_board *board, const char *text_or_name,
		   size_t len, char *err, size_t errlen)
{
	struct board_str word;
	struct board_show show;
	const char *text;
	char names[64];
	size_t pos = 0;
	size_t i;
	int n;

	if (!text_or_name)
		len = 0;
	word.p = text_or_name;
	word.n = len;
	while (word.n && (board_blank(word.p[0]) || word.p[0] == '\n')) {
		word.p++;
		word.n--;
	}
	while (word.n && (board_blank(word.p[word.n - 1]) ||
			  word.p[word.n - 1] == '\n'))
		word.n--;
	for (i = 0; i < word.n; i++) {
		char c = word.p[i];

		if (board_blank(c) || c == '\n' || c == ';' || c == '#' ||
		    c == '=')
			break;
	}
	if (!word.n || i < word.n)
		return ion_board_parse(board, text_or_name, len, err, errlen);

	text = board_builtin_str(word);
	if (text)
		return ion_board_parse(board, text, strlen(text), err, errlen);
	memset(board, 0, sizeof(*board));
	names[0] = '\0';
	for (i = 0; i < BOARD_NR_BUILTINS && pos < sizeof(names); i++) {
		n = snprintf(names + pos, sizeof(names) - pos, "%s%s",
			     i ? ", " : "", board_builtins[i].name);
		if (n < 0)
			break;
		pos += n;
	}
	return board_error(err, errlen, 0,
			   "no embedded board '%s' (embedded: %s)",
			   board_show(&show, word), names);
}
