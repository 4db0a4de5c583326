/*
 * bpe.h: training byte-level BPE (quern-bpe-train's engine).
 *
 * Two parts.  A word map counts pre-tokens (the pieces of the split
 * pattern) with 64-bit counts; the program fills one map per batch of
 * documents on worker threads and adds them, in batch order, into one
 * global map, which it prunes when it grows past its bound.  Then
 * qn_bpe_train learns merges from the distinct words and their counts.
 *
 * Merging: the pair of adjacent symbols with the highest total count
 * (summed over all words, each word weighted by its count) is merged
 * next; ties go to the pair with the smaller left id, then the smaller
 * right id.  Ids 0..255 are the bytes; each merge makes the next id,
 * unless its bytes are already a token (two different pairs can spell
 * the same bytes), in which case the merge maps to that token.  Pair
 * counts are kept up to date incrementally: a merge visits only the
 * words that hold its pair (a list per pair) and adjusts the counts of
 * the pairs around each occurrence; a max-heap with lazy deletion gives
 * the next pair.  The result does not depend on the order of the words
 * or on any thread count.
 */
#ifndef QN_BPE_H
#define QN_BPE_H

#include <stddef.h>
#include <stdint.h>

/* ---- counting words ---- */

struct qn_wmap {
	uint32_t *slot;		/* entry index + 1, 0 empty */
	size_t mask;
	uint64_t *count;	/* per entry */
	size_t *off;		/* per entry: bytes at keys + off[i] */
	uint32_t *len;
	size_t n, cap;
	uint8_t *keys;
	size_t nkeys, capkeys;
};

void qn_wmap_init(struct qn_wmap *m);
void qn_wmap_release(struct qn_wmap *m);
void qn_wmap_clear(struct qn_wmap *m);
/* Adds count to the word b[0..n). */
void qn_wmap_add(struct qn_wmap *m, const void *b, uint32_t n, uint64_t count);
/* Adds every word of src into dst. */
void qn_wmap_merge(struct qn_wmap *dst, const struct qn_wmap *src);
/*
 * Keeps at most max words: drops every word whose count is at most the
 * smallest threshold that brings the map to max/2 words or fewer.
 * Returns the threshold (0: nothing dropped); adds the words and
 * occurrences dropped to *words and *occurrences.
 */
uint64_t qn_wmap_prune(struct qn_wmap *m, size_t max, uint64_t *words, uint64_t *occurrences);

/* ---- learning merges ---- */

struct qn_bpe {
	uint32_t ntok;		/* ids 0..ntok-1 */
	uint8_t *blob;		/* bytes of id i: blob[off[i]..off[i+1]) */
	size_t *off;
	uint32_t *merges;	/* nmerges pairs (a, b) */
	uint32_t *result;	/* the id each merge makes */
	uint64_t *mcount;	/* the count of each merge's pair when it was chosen */
	size_t nmerges;
};

/*
 * Learns merges until there are max_tokens ids or no pair occurs
 * min_count times.  Words are the distinct entries of m (their order does
 * not matter).  progress, if not NULL, is called now and then with the
 * merges done so far.
 */
void qn_bpe_train(const struct qn_wmap *m, uint32_t max_tokens, uint64_t min_count,
		  struct qn_bpe *out, void (*progress)(void *, size_t), void *arg);
/* The same by brute force: every pair recounted after each merge (tests). */
void qn_bpe_train_ref(const struct qn_wmap *m, uint32_t max_tokens, uint64_t min_count,
		      struct qn_bpe *out);
void qn_bpe_release(struct qn_bpe *b);

#endif
