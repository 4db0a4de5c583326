/*
 * internal.h: what the files of cleaners/ share and nobody else needs:
 * one thread's scratch space (struct qn_cleaner) and the step functions.
 */
#ifndef QN_CLEAN_INTERNAL_H
#define QN_CLEAN_INTERNAL_H

#include <string.h>
#include <unicode/ubrk.h>

#include "clean.h"

/*
 * A hash table of 64-bit keys with a count and the index of the first
 * occurrence.  A slot is empty while its count is 0.  Each use sizes the
 * table to its own keys (htab_reset), so a small document after a large
 * one probes a small, cached table rather than the large one's memory.
 */
struct hslot {
	uint64_t key;
	uint32_t count;
	uint32_t first;		/* index of the key's first addition */
};
struct htab {
	struct hslot *s;
	size_t cap;		/* slots allocated */
	size_t mask;		/* slots in use, minus one (a power of two) */
	size_t used;		/* keys in the table */
	struct hslot *spare;	/* where htab_grow rehashes to */
	size_t capspare;
};

/* An n-gram's hash and its position. */
struct gkey {
	uint64_t key;
	uint32_t pos;
};

struct pii;
struct rules_scratch;

struct qn_cleaner {
	const struct qn_clean_config *cfg;
	struct qn_word *w;
	size_t nw, capw;
	struct qn_buf tmp, tmp2;
	UChar *u16a;		/* UTF-16 for ICU's word breaks */
	int32_t cap16a;
	UBreakIterator *brk;
	struct htab ht;
	unsigned char *rep;	/* per word position: bit n-2 set if its n-gram repeats */
	size_t capslot;
	struct gkey *gk;	/* the n-gram hashes of the candidate positions */
	struct gkey *gk2;	/* gk split into parts */
	uint64_t *gh;		/* per word position: the hash of the n-gram there */
	size_t capg;
	struct pii *pii;
	struct rules_scratch *rs;
	int timing;
	/* The words of wtext[0..wlen), while wvalid: steps that do not
	 * change the text share one split. */
	const char *wtext;
	size_t wlen;
	int wvalid;
};

/* The words of text, split once for as long as the text is unchanged. */
size_t qn_words_cached(struct qn_cleaner *c, const char *text, size_t n,
		       const struct qn_word **words);

/* Empties t and makes room for n keys at a load of at most one half. */
void htab_reset(struct htab *t, size_t n);
/* Doubles t's slots, every key kept with its count and first index. */
void htab_grow(struct htab *t);
void htab_release(struct htab *t);

static inline size_t slot_of(uint64_t key, size_t mask)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdULL;
	key ^= key >> 33;
	return (size_t)key & mask;
}

/* Asks for key's slot to be brought into the cache. */
static inline void htab_prefetch(const struct htab *t, uint64_t key)
{
	__builtin_prefetch(&t->s[slot_of(key, t->mask)], 1);
}

/*
 * Adds key at index i: returns the slot.  s[slot].count is the number of
 * times key was added, s[slot].first the index of its first addition.
 * Inline: it is the inner loop of the repetition filter.
 */
static inline size_t htab_add(struct htab *t, uint64_t key, uint32_t i)
{
	size_t s = slot_of(key, t->mask);

	for (;;) {
		struct hslot *h = &t->s[s];

		if (h->count == 0) {
			h->key = key;
			h->count = 1;
			h->first = i;
			t->used++;
			return s;
		}
		if (h->key == key) {
			h->count++;
			return s;
		}
		s = (s + 1) & t->mask;
	}
}

/*
 * As htab_add, on a table sized for fewer keys than will come: it
 * doubles before it is more than half full.  A slot index is valid
 * until the next addition.
 */
static inline size_t htab_add_grow(struct htab *t, uint64_t key, uint32_t i)
{
	if (__builtin_expect(2 * t->used >= t->mask, 0))
		htab_grow(t);
	return htab_add(t, key, i);
}

/* Whether key is in t (without adding it). */
static inline int htab_has(const struct htab *t, uint64_t key)
{
	size_t s = slot_of(key, t->mask);

	while (t->s[s].count != 0) {
		if (t->s[s].key == key)
			return 1;
		s = (s + 1) & t->mask;
	}
	return 0;
}


#ifdef __cplusplus
extern "C" {
#endif
/*
 * nfc.cc: 0 if s[0..n) is in NFC (NFKC with nfkc), 1 with out set to its
 * normal form if not, -1 if ICU fails.
 */
int qn_normalize_utf8(const char *s, size_t n, int nfkc, struct qn_buf *out);
#ifdef __cplusplus
}
#endif

/* The steps (filters.c); each fills its measures in res. */
/* stop: return at the first value that fails a rule (no dry run). */
void qn_step_gopher_rep(struct qn_cleaner *c, const char *text, size_t n, int stop,
			struct qn_clean_result *res);
void qn_step_gopher_quality(struct qn_cleaner *c, const char *text, size_t n,
			    int english, struct qn_clean_result *res);
/* C4 may rewrite text (lines removed); returns 1 if it did. */
int qn_step_c4(struct qn_cleaner *c, struct qn_buf *text,
	       struct qn_clean_result *res, char *note, size_t note_len);
void qn_step_fineweb(struct qn_cleaner *c, const char *text, size_t n,
		     struct qn_clean_result *res);

/* pii.c */
struct pii *pii_new(void);
void pii_free(struct pii *p);
/* Masks text in place; adds the replacement counts to counts[4]. */
int pii_mask(struct pii *p, const double *params, struct qn_buf *text,
	     struct qn_buf *tmp, uint64_t counts[4]);

/* rules.c: applies the user rules; QN_DROP / QN_ERROR with a reason. */
struct rules_scratch *rules_scratch_new(const struct qn_rules *r);
void rules_scratch_free(struct rules_scratch *s);
enum qn_verdict rules_apply(const struct qn_rules *r, struct rules_scratch *s,
			    const double *params, struct qn_buf *text,
			    struct qn_buf *tmp, struct qn_clean_result *res);

/* The bytes of x with bit 7 set, when no other bit is (no popcnt needed). */
static inline size_t qn_high_bits(uint64_t x)
{
	return (size_t)(((x >> 7) * 0x0101010101010101ULL) >> 56);
}

/* Code points in s[0..n) (valid UTF-8): the bytes that are no 10xxxxxx. */
static inline size_t qn_nchars(const char *s, size_t n)
{
	size_t i = 0, k = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t x;

		memcpy(&x, s + i, 8);
		/* bit 7 of a byte, and not bit 6 (moved up into bit 7) */
		k += qn_high_bits(x & ~(x << 1) & 0x8080808080808080ULL);
	}
	for (; i < n; i++)
		k += ((unsigned char)s[i] & 0xC0) == 0x80;
	return n - k;
}

/* The bytes equal to ch in s[0..n). */
static inline size_t qn_count_byte(const char *s, size_t n, unsigned char ch)
{
	const uint64_t ones = 0x0101010101010101ULL, low7 = 0x7F7F7F7F7F7F7F7FULL;
	size_t i = 0, k = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t x, t;

		memcpy(&x, s + i, 8);
		x ^= ones * ch;	/* the bytes equal to ch are now 0 */
		t = ((x & low7) + low7) | x;	/* bit 7 clear exactly in the 0 bytes */
		k += qn_high_bits(~t & ~low7);
	}
	for (; i < n; i++)
		k += (unsigned char)s[i] == ch;
	return k;
}

/* An event appended to res (dropped silently past QN_CLEAN_MAX_EVENTS). */
void qn_result_event(struct qn_clean_result *res, const char *kind,
		     const char *rule, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
