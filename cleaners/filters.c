/*
 * filters.c: the published quality filters: Gopher repetition, Gopher
 * quality, C4 and FineWeb, as datatrove implements them.
 *
 * Each step measures every one of its values (no early exit), so the
 * run's histograms show the whole distribution and --dry-run sees
 * everything; the decision is taken afterwards from the rule table in
 * config.c.  The exact definitions, and where they differ from
 * datatrove's, are in quern-clean(1); the comments here say how.
 *
 * Lengths are in code points, as Python's len(); a ratio whose
 * denominator is 0 divides by 1 instead.  Lines, paragraphs and n-grams
 * are compared by 64-bit hashes (xxh3 for lines, a sequence hash of the
 * words' hashes for n-grams): a collision would need 2^32 distinct items
 * in one document.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "internal.h"

/*
 * The length of the whitespace character at s[i] (Python's str.isspace:
 * what str.split() and str.strip() remove), or 0.
 */
static size_t py_space(const char *s, size_t n, size_t i)
{
	const unsigned char *p = (const unsigned char *)s + i;
	size_t left = n - i;

	if (*p < 0x80)
		return (*p == ' ' || (*p >= '\t' && *p <= '\r') || (*p >= 0x1c && *p <= 0x1f)) ? 1 : 0;
	if (left >= 2 && p[0] == 0xC2 && (p[1] == 0x85 || p[1] == 0xA0))
		return 2;
	if (left >= 3 && p[0] == 0xE1 && p[1] == 0x9A && p[2] == 0x80)
		return 3;	/* U+1680 */
	if (left >= 3 && p[0] == 0xE2 && p[1] == 0x80 &&
	    ((p[2] >= 0x80 && p[2] <= 0x8A) || p[2] == 0xA8 || p[2] == 0xA9 || p[2] == 0xAF))
		return 3;	/* U+2000-U+200A, U+2028, U+2029, U+202F */
	if (left >= 3 && p[0] == 0xE2 && p[1] == 0x81 && p[2] == 0x9F)
		return 3;	/* U+205F */
	if (left >= 3 && p[0] == 0xE3 && p[1] == 0x80 && p[2] == 0x80)
		return 3;	/* U+3000 */
	return 0;
}

/* Whether s[0..i) ends with a whitespace character; its length if so. */
static size_t py_space_before(const char *s, size_t i)
{
	size_t k;

	for (k = 1; k <= 3 && k <= i; k++)
		if (((unsigned char)s[i - k] & 0xC0) != 0x80 || k == 3)
			return py_space(s, i, i - k) == k ? k : 0;
	return 0;
}

/* s[*a..*b) with Python's strip(). */
static void py_strip(const char *s, size_t *a, size_t *b)
{
	size_t k;

	while (*a < *b && (k = py_space(s, *b, *a)))
		*a += k;
	while (*b > *a && (k = py_space_before(s, *b)))
		*b -= k;
}

/* Whether ch is one of set (never for NUL, which text may hold). */
static int one_of(const char *set, char ch)
{
	return ch && strchr(set, ch);
}

static double ratio(double a, double b)
{
	return a / (b > 0 ? b : 1);
}

static void set(struct qn_clean_result *res, enum qn_measure m, double v)
{
	res->m[m] = v;
	res->measured[m] = 1;
}

/*
 * find_duplicates over the pieces of text[0..n) between separators: a
 * separator is a run of at least minrun '\n' (paragraphs: 2, lines: 1).
 * Counts pieces, and the pieces and characters of those seen before.
 */
static void dup_pieces(struct qn_cleaner *c, const char *s, size_t n, int minrun,
		       size_t *npieces, size_t *ndup, size_t *dupchars)
{
	size_t i = 0, start = 0, np = 0, nd = 0, dc = 0, est = 1 + qn_count_byte(s, n, '\n');

	htab_reset(&c->ht, est);
	for (;;) {
		const char *nl = memchr(s + i, '\n', n - i);
		size_t end = nl ? (size_t)(nl - s) : n, run = 0;

		/* s[start..end) is text; count the '\n' run that follows. */
		while (end + run < n && s[end + run] == '\n')
			run++;
		if (end + run < n && run < (size_t)minrun && run > 0) {
			i = end + run;	/* a single '\n' inside a paragraph */
			continue;
		}
		{
			uint64_t h = XXH3_64bits(s + start, end - start);
			size_t slot = htab_add(&c->ht, h, (uint32_t)np);

			if (c->ht.s[slot].count > 1) {
				nd++;
				dc += qn_nchars(s + start, end - start);
			}
			np++;
		}
		if (end + run >= n) {
			if (run > 0 && minrun == 1) {
				/* "a\n" splits into "a" and "" with re.split("\n+") */
				size_t slot = htab_add(&c->ht, XXH3_64bits("", 0), (uint32_t)np);

				if (c->ht.s[slot].count > 1)
					nd++;
				np++;
			}
			break;
		}
		start = i = end + run;
	}
	*npieces = np;
	*ndup = nd;
	*dupchars = dc;
}

/* How many candidates ahead the n-gram loops prefetch table slots. */
#define PF 16
/*
 * The tables are sized for the distinct keys rather than for every key
 * (a large document's n-grams repeat a lot: its 2-grams are a few in a
 * hundred distinct), so that they stay in the cache.  For the top
 * n-grams of a document of more than SAMPLE_MIN words, the keys whose
 * slot hash has its top SAMPLE_BITS bits clear, one in 2^SAMPLE_BITS,
 * estimate how many distinct keys there are; up to ONE_TABLE are
 * counted in one table, more are split into parts of about PART_KEYS
 * distinct keys each.  The duplicated n-grams' table starts at a
 * DUP_START-th of its candidates past DUP_SMALL.  A table that was
 * sized too small grows (htab_add_grow); no size changes any count.
 */
#define SAMPLE_MIN 16384
#define SAMPLE_BITS 6
#define ONE_TABLE 131072
#define PART_KEYS 4096
#define PART_MAXBITS 10
#define DUP_SMALL 32768
#define DUP_START 4

/*
 * N-gram hashes are a left fold of the words' hashes from one seed, so
 * the n-gram at i is the (n-1)-gram at i folded with word i+n-1: each
 * round extends the last round's hashes by one word (c->gh) instead of
 * hashing n words again.
 */
#define GRAM_SEED 0x243F6A8885A308D3ULL

static inline uint64_t gram_more(uint64_t h, uint64_t word)
{
	return (h ^ word) * 0x9E3779B97F4A7C15ULL + (h >> 29);
}

static size_t gram_chars(const struct qn_word *w, size_t i, int n)
{
	size_t k, s = 0;

	for (k = 0; k < (size_t)n; k++)
		s += w[i + k].nchars;
	return s;
}

/*
 * Counts the n-grams of keys gk[0..n).key at positions gk[0..n).pos (in
 * increasing order): marks the positions of those seen more than once in
 * rep, and keeps the most frequent, the first seen among equals, in
 * *bestcount and *bestfirst.  The table starts with room for est keys
 * and grows.  The slot of the key PF ahead is prefetched.
 */
static void count_top(struct qn_cleaner *c, const struct gkey *gk, size_t n, size_t est,
		      unsigned char mark, size_t *bestcount, size_t *bestfirst)
{
	/*
	 * The table, rep and the best so far in locals: rep's bytes may
	 * alias anything, and each mark written there would otherwise
	 * reload them from memory.
	 */
	struct htab t;
	unsigned char *rep = c->rep;
	size_t k, bc = *bestcount, bf = *bestfirst;

	htab_reset(&c->ht, est < n ? est : n);
	t = c->ht;
	for (k = 0; k < n; k++) {
		const struct hslot *h;
		size_t i = gk[k].pos;
		uint32_t count, first;

		if (__builtin_expect(2 * t.used >= t.mask, 0)) {
			c->ht = t;
			htab_grow(&c->ht);
			t = c->ht;
		}
		if (k + PF < n)
			htab_prefetch(&t, gk[k + PF].key);
		h = &t.s[htab_add(&t, gk[k].key, (uint32_t)i)];
		count = h->count;
		first = h->first;
		if (count > 1) {
			/* it repeats: mark it here, and where it first was */
			rep[i] |= mark;
			if (count == 2)
				rep[first] |= mark;
		}
		if (count > bc || (count == bc && first < bf)) {
			bc = count;
			bf = first;
		}
	}
	c->ht = t;
	*bestcount = bc;
	*bestfirst = bf;
}

/* The part of key among 2^bits: the top bits of the hash slot_of mixes. */
static inline size_t part_of(uint64_t key, unsigned bits)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdULL;
	key ^= key >> 33;
	return (size_t)(key >> (64 - bits));
}

/*
 * Whether a rule on measure m drops the document at value v: for the
 * filters that stop at their first failing rule (as datatrove does)
 * when no dry run needs every value.
 */
static int fails(const struct qn_cleaner *c, enum qn_measure m, double v)
{
	int i;

	for (i = 0; i < qn_nrule_defs; i++) {
		const struct qn_rule_def *r = &qn_rule_defs[i];
		double t = c->cfg->p[r->thr];

		if (r->m != m || isnan(t))
			continue;
		if ((r->cmp == DROP_LT && v < t) || (r->cmp == DROP_GT && v > t) ||
		    (r->cmp == DROP_LE && v <= t) || (r->cmp == DROP_GE && v >= t) ||
		    (r->cmp == DROP_TRUE && t != 0 && v != 0))
			return 1;
	}
	return 0;
}

/* Sets a measure; returns 1 if the step should stop there. */
static int set_stop(const struct qn_cleaner *c, struct qn_clean_result *res, enum qn_measure m,
		    double v, int stop)
{
	res->m[m] = v;
	res->measured[m] = 1;
	return stop && fails(c, m, v);
}

void qn_step_gopher_rep(struct qn_cleaner *c, const char *text, size_t n, int stop,
			struct qn_clean_result *res)
{
	const struct qn_word *w;
	size_t total = qn_nchars(text, n), np, nd, dc, nw, bound = 0, a = 0, b = n;
	int g;

	/* Paragraphs: re.split("\n{2,}", text.strip()). */
	py_strip(text, &a, &b);
	dup_pieces(c, text + a, b - a, 2, &np, &nd, &dc);
	if (set_stop(c, res, M_GR_DUP_PARA_FRAC, ratio((double)nd, (double)np), stop) ||
	    set_stop(c, res, M_GR_DUP_PARA_CHAR_FRAC, ratio((double)dc, (double)total), stop))
		return;
	/* Lines: re.split("\n+", text). */
	dup_pieces(c, text, n, 1, &np, &nd, &dc);
	if (set_stop(c, res, M_GR_DUP_LINE_FRAC, ratio((double)nd, (double)np), stop) ||
	    set_stop(c, res, M_GR_DUP_LINE_CHAR_FRAC, ratio((double)dc, (double)total), stop))
		return;

	nw = qn_words_cached(c, text, n, &w);
	if (nw + 1 > c->capslot) {
		free(c->rep);
		free(c->gk);
		free(c->gk2);
		free(c->gh);
		c->capslot = nw + 1024;
		c->rep = qn_xmalloc(c->capslot);
		c->gk = qn_xmalloc(c->capslot * sizeof *c->gk);
		c->gk2 = qn_xmalloc(c->capslot * sizeof *c->gk2);
		c->gh = qn_xmalloc(c->capslot * sizeof *c->gh);
	}
	memset(c->rep, 0, nw + 1);
	/*
	 * Top n-grams: the most frequent n-gram, the first seen among equals
	 * (Counter.most_common); its characters joined by spaces, times its
	 * count.  Unlike datatrove, an n-gram seen once is no repetition: 0.
	 *
	 * Only n-grams seen twice matter, here and below, which prunes the
	 * work: an n-gram can repeat only where the (n-1)-grams at i and i+1
	 * both repeat, and a duplicated n-gram (n >= 5) only where the 4-grams
	 * at i, i+1, ..., i+n-4 all repeat; the others are unique and never
	 * looked up.  rep[i] has bit n-2 set when the n-gram at i occurs more
	 * than once.
	 *
	 * The candidates' positions and hashes are listed first (gk), so
	 * the loop that counts them can ask for the table slot of the
	 * candidate PF ahead while it works on this one: on a large document
	 * the table is far bigger than the cache and the time is the wait
	 * for memory, which the prefetch overlaps.
	 */
	for (g = 2; g <= 4; g++) {
		size_t i, k, cand = 0, ns = 0, est, bestcount = 0, bestfirst = 0;
		unsigned char need = g > 2 ? (unsigned char)(1u << (g - 3)) : 0;
		unsigned char mark = (unsigned char)(1u << (g - 2));
		int sample = nw > SAMPLE_MIN;

		/*
		 * A candidate at i for n > 2 was one for n - 1 (its (n-1)-gram
		 * repeats), so c->gh[i] holds that (n-1)-gram's hash.  The
		 * sampled keys go to gk2.
		 */
		if (g == 2) {
			for (i = 0; i + g <= nw; i++) {
				uint64_t h = gram_more(gram_more(GRAM_SEED, w[i].hash), w[i + 1].hash);

				c->gh[i] = h;
				c->gk[i].pos = (uint32_t)i;
				c->gk[i].key = h;
				if (sample && part_of(h, SAMPLE_BITS) == 0)
					c->gk2[ns++].key = h;
			}
			cand = i;
		} else {
			/*
			 * Without a branch: whether a position is a candidate
			 * is data.  Each position's hash is extended and stored,
			 * and the list's end moves on only for a candidate (a
			 * position that is none never becomes one again, and its
			 * hash, from the 2-grams on, is never read).
			 */
			for (i = 0; i + g <= nw; i++) {
				uint64_t h = gram_more(c->gh[i], w[i + g - 1].hash);
				size_t is = (c->rep[i] & c->rep[i + 1] & need) != 0;

				c->gh[i] = h;
				c->gk[cand].pos = (uint32_t)i;
				c->gk[cand].key = h;
				cand += is;
				if (sample) {
					c->gk2[ns].key = h;
					ns += is & (part_of(h, SAMPLE_BITS) == 0);
				}
			}
		}
		est = cand;
		if (sample) {
			htab_reset(&c->ht, ns);
			for (k = 0; k < ns; k++)
				htab_add(&c->ht, c->gk2[k].key, 0);
			/* a quarter more, against the sample's error */
			est = (c->ht.used << SAMPLE_BITS) + (c->ht.used << (SAMPLE_BITS - 2)) + 64;
		}
		if (est <= ONE_TABLE) {
			count_top(c, c->gk, cand, est, mark, &bestcount, &bestfirst);
		} else {
			/*
			 * Many distinct keys: the candidates split by the top
			 * bits of their keys' slot hash into parts small enough
			 * for the cache, each counted in order; a key lives in
			 * one part only, and the best n-gram (most counts, then
			 * first seen) does not depend on the order the parts
			 * come in.
			 */
			size_t start[(1u << PART_MAXBITS) + 1], nparts;
			unsigned bits = 1;

			while (((size_t)PART_KEYS << bits) < est && bits < PART_MAXBITS)
				bits++;
			nparts = (size_t)1 << bits;
			memset(start, 0, (nparts + 1) * sizeof start[0]);
			for (k = 0; k < cand; k++)
				start[part_of(c->gk[k].key, bits) + 1]++;
			for (k = 0; k < nparts; k++)
				start[k + 1] += start[k];
			for (k = 0; k < cand; k++) {
				c->gk2[start[part_of(c->gk[k].key, bits)]++] = c->gk[k];
			}
			/* start[p] is now where part p ends */
			for (k = 0; k < nparts; k++) {
				size_t from = k ? start[k - 1] : 0;

				count_top(c, c->gk2 + from, start[k] - from, est >> bits, mark,
					  &bestcount, &bestfirst);
			}
		}
		if (set_stop(c, res, (enum qn_measure)(M_GR_TOP_2 + g - 2), bestcount < 2 ? 0 :
			     ratio((double)((gram_chars(w, bestfirst, g) + (size_t)g - 1) * bestcount),
				   (double)total), stop))
			return;
	}
	/*
	 * Duplicated n-grams: datatrove's find_all_duplicate, greedy from the
	 * left.  An n-gram with a unique 4-gram in it is unique too: it
	 * cannot be found, and adding it would change nothing, so it is
	 * skipped.  rep[i] bits 3 and up are reused to hold how many of the
	 * 4-grams from i on repeat in a row (up to 7, enough for 10-grams).
	 */
	{
		unsigned run = 0;
		size_t i;

		for (i = nw >= 4 ? nw - 4 + 1 : 0; i-- > 0;) {
			/* without a branch: whether a 4-gram repeats is data */
			run = (run + 1 - (run == 7)) & -(unsigned)((c->rep[i] >> 2) & 1);
			c->rep[i] = (unsigned char)((c->rep[i] & 7) | (run << 3));
		}
	}
	for (g = 5; g <= 10; g++) {
		size_t i, k, slot, cand = 0, next = 0, rep = 0;
		unsigned need = (unsigned)g - 3;

		/*
		 * As above: a candidate for n was one for n - 1.  After the
		 * 5-grams the last round's list (in position order, with
		 * its hashes) is read instead of every position, and
		 * shrinks in place.
		 */
		if (g == 5) {
			for (i = 0; i + g <= nw; i++) {
				c->gk[cand].pos = (uint32_t)i;
				c->gk[cand].key = gram_more(c->gh[i], w[i + g - 1].hash);
				cand += (unsigned)(c->rep[i] >> 3) >= need;
			}
		} else {
			for (k = 0; k < bound; k++) {
				size_t last;
				uint64_t h = c->gk[k].key;

				i = c->gk[k].pos;
				last = i + g - 1 < nw ? i + g - 1 : nw - 1;	/* read inside w */
				c->gk[cand].pos = (uint32_t)i;
				c->gk[cand].key = gram_more(h, w[last].hash);
				cand += ((unsigned)(c->rep[i] >> 3) >= need) & (i + g <= nw);
			}
		}
		bound = cand;
		htab_reset(&c->ht, cand <= DUP_SMALL ? cand : cand / DUP_START);
		for (k = 0; k < cand; k++) {
			if (k + PF < cand)
				htab_prefetch(&c->ht, c->gk[k + PF].key);
			i = c->gk[k].pos;
			if (i < next)
				continue;	/* inside the n-gram just found */
			/* One probe: a key found again counts 2 (the extra count is harmless). */
			slot = htab_add_grow(&c->ht, c->gk[k].key, (uint32_t)i);
			if (c->ht.s[slot].count > 1) {
				rep += gram_chars(w, i, g);
				next = i + (size_t)g;
			}
		}
		if (set_stop(c, res, (enum qn_measure)(M_GR_DUP_5 + g - 5), ratio((double)rep, (double)total),
			     stop))
			return;
	}
}

/* Non-overlapping occurrences of pat, as Python's str.count. */
static size_t count_str(const char *s, size_t n, const char *pat)
{
	size_t k = 0, m = strlen(pat);
	const char *p = s, *end = s + n;

	while ((size_t)(end - p) >= m && (p = memmem(p, (size_t)(end - p), pat, m))) {
		k++;
		p += m;
	}
	return k;
}

static int ends_with(const char *s, size_t n, const char *suf)
{
	size_t m = strlen(suf);

	return n >= m && !memcmp(s + n - m, suf, m);
}

void qn_step_gopher_quality(struct qn_cleaner *c, const char *text, size_t n,
			    int english, struct qn_clean_result *res)
{
	const struct qn_word *w;
	size_t nw = qn_words_cached(c, text, n, &w), i, nonsym = 0, chars = 0,
	       alpha = 0, stop = 0, nlines = 0, bullets = 0, ell = 0, start;

	for (i = 0; i < nw; i++) {
		if (!(w[i].flags & W_SYMBOL)) {
			nonsym++;
			chars += w[i].nchars;
		}
		alpha += (w[i].flags & W_ALPHA) != 0;
		stop += (w[i].flags & W_STOP) != 0;
	}
	set(res, M_GQ_WORDS, (double)nonsym);
	set(res, M_GQ_MEAN_WORD_LENGTH, nonsym ? (double)chars / (double)nonsym : 0);
	set(res, M_GQ_HASH_RATIO, ratio((double)count_str(text, n, "#"), (double)nw));
	set(res, M_GQ_ELLIPSIS_RATIO, ratio((double)(count_str(text, n, "...") +
						      count_str(text, n, "\xe2\x80\xa6")), (double)nw));
	/* Lines as str.splitlines: no empty last line after a final '\n'. */
	for (start = 0; start < n;) {
		const char *nl = memchr(text + start, '\n', n - start);
		size_t end = nl ? (size_t)(nl - text) : n, a = start, b = end;

		py_strip(text, &a, &b);
		nlines++;
		if (a < b && (text[a] == '-' || (b - a >= 3 && !memcmp(text + a, "\xe2\x80\xa2", 3))))
			bullets++;
		if (ends_with(text + a, b - a, "...") || ends_with(text + a, b - a, "\xe2\x80\xa6"))
			ell++;
		start = end + 1;
	}
	set(res, M_GQ_BULLET_LINES, ratio((double)bullets, (double)nlines));
	set(res, M_GQ_ELLIPSIS_LINES, ratio((double)ell, (double)nlines));
	set(res, M_GQ_ALPHA_WORDS, nw ? (double)alpha / (double)nw : 0);
	if (english)
		set(res, M_GQ_STOP_WORDS, (double)stop);
}

/* ---- C4 ---- */

/* Whether lower[0..n), already lowercased, contains pat (lowercase). */
static int contains(const char *lower, size_t n, const char *pat)
{
	return memmem(lower, n, pat, strlen(pat)) != NULL;
}

static int is_ascii_alnum(unsigned char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch >= 0x80;
}

/*
 * Sentences in a line, after spaCy's sentencizer: a sentence ends at a
 * whitespace-separated chunk ending in '.', '!' or '?' (closing quotes
 * and brackets after it allowed; "..." is not an end), and the next
 * sentence starts at the next chunk with a letter or digit.
 */
static size_t sentences(const char *s, size_t n)
{
	size_t i = 0, k = 0;
	int seen = 1;

	while (i < n) {
		size_t a, b, e;
		int alnum = 0;

		size_t sp;

		while (i < n && (sp = py_space(s, n, i)))
			i += sp;
		if (i >= n)
			break;
		a = i;
		while (i < n && !py_space(s, n, i)) {
			alnum |= is_ascii_alnum((unsigned char)s[i]);
			i++;
		}
		b = i;
		if (seen && alnum) {
			k++;
			seen = 0;
		}
		e = b;
		while (e > a && one_of("\"')]", s[e - 1]))
			e--;
		if (e > a && one_of(".!?", s[e - 1]) && !ends_with(s + a, e - a, "..."))
			seen = 1;
	}
	return k;
}

/* Removes [123], [], [edit] and [citation needed] from line (in place). */
static size_t remove_citations(char *s, size_t n)
{
	size_t i = 0, o = 0;

	while (i < n) {
		if (s[i] == '[') {
			size_t j = i + 1;

			while (j < n && s[j] >= '0' && s[j] <= '9')
				j++;
			if (j < n && s[j] == ']') {
				i = j + 1;
				continue;
			}
			if (n - i >= 6 && !memcmp(s + i, "[edit]", 6)) {
				i += 6;
				continue;
			}
			if (n - i >= 17 && !memcmp(s + i, "[citation needed]", 17)) {
				i += 17;
				continue;
			}
		}
		s[o++] = s[i++];
	}
	return o;
}

int qn_step_c4(struct qn_cleaner *c, struct qn_buf *text, struct qn_clean_result *res,
	       char *note, size_t note_len)
{
	static const char *const policy[] = {
		"terms of use", "privacy policy", "cookie policy", "uses cookies",
		"use of cookies", "use cookies"
	};
	const double *p = c->cfg->p;
	const char *s = qn_buf_str(text);
	struct qn_buf *out = &c->tmp;
	size_t n = text->len, start = 0, total = 0, kept = 0, sent = 0;
	size_t r_long = 0, r_punct = 0, r_few = 0, r_js = 0, r_policy = 0;
	int lorem = 0, curly = 0, changed;

	qn_buf_reset(out);
	qn_buf_grow(out, n + 1);
	while (start < n) {
		const char *nl = memchr(s + start, '\n', n - start);
		size_t end = nl ? (size_t)(nl - s) : n, a = start, b = end, nwords = 0, i, len;
		size_t maxw = 0;
		char *line;
		const char *lower;

		start = end + 1;
		total++;
		py_strip(s, &a, &b);
		/* words = line.split() */
		for (i = a; i < b;) {
			size_t w0, k;

			while (i < b && (k = py_space(s, b, i)))
				i += k;
			if (i >= b)
				break;
			w0 = i;
			while (i < b && !py_space(s, b, i))
				i++;
			nwords++;
			/* code points never outnumber bytes: count only when it can matter */
			if (i - w0 > maxw) {
				size_t wc = qn_nchars(s + w0, i - w0);

				if (wc > maxw)
					maxw = wc;
			}
		}
		if (!isnan(p[P_C4_MAX_WORD_LENGTH]) && (double)maxw > p[P_C4_MAX_WORD_LENGTH]) {
			r_long++;
			continue;
		}
		line = out->data + out->len + (out->len ? 1 : 0);
		memcpy(line, s + a, b - a);
		len = b - a;
		if (p[P_C4_CITATIONS] != 0)
			len = remove_citations(line, len);
		if (p[P_C4_TERMINAL_PUNCT] != 0 &&
		    (len == 0 || !one_of(".?!\"'", line[len - 1]) || ends_with(line, len, "..."))) {
			r_punct++;
			continue;
		}
		if (!isnan(p[P_C4_MIN_WORDS_PER_LINE]) && (double)nwords < p[P_C4_MIN_WORDS_PER_LINE]) {
			r_few++;
			continue;
		}
		/* line.lower(), for the ASCII phrases below */
		qn_buf_reset(&c->tmp2);
		qn_buf_grow(&c->tmp2, len + 1);
		for (i = 0; i < len; i++)
			c->tmp2.data[i] = (char)(line[i] >= 'A' && line[i] <= 'Z' ? line[i] + 32 : line[i]);
		lower = c->tmp2.data;
		if (!lorem && !curly && p[P_C4_LOREM] != 0 && contains(lower, len, "lorem ipsum"))
			lorem = 1;
		if (p[P_C4_JAVASCRIPT] != 0 && contains(lower, len, "javascript")) {
			r_js++;
			continue;
		}
		if (!lorem && !curly && p[P_C4_CURLY] != 0 && memchr(line, '{', len))
			curly = 1;
		if (p[P_C4_POLICY] != 0) {
			size_t k;

			for (k = 0; k < sizeof policy / sizeof policy[0]; k++)
				if (contains(lower, len, policy[k]))
					break;
			if (k < sizeof policy / sizeof policy[0]) {
				r_policy++;
				continue;
			}
		}
		sent += sentences(line, len);
		kept++;
		if (out->len)
			out->data[out->len++] = '\n';
		out->len += len;
	}
	out->data[out->len] = '\0';
	/* "\n".join(kept).strip(): the lines are stripped already. */
	set(res, M_C4_LOREM, lorem);
	set(res, M_C4_CURLY, curly);
	set(res, M_C4_SENTENCES, (double)sent);
	set(res, M_C4_LINES_REMOVED, ratio((double)(total - kept), (double)total));
	changed = out->len != n || memcmp(out->data, s, n) != 0;
	/*
	 * The output never ends with a line end ("\n".join); losing only
	 * the final one is no change worth an event.
	 */
	if (changed && kept == total && out->len + 1 == n && s[n - 1] == '\n' &&
	    !memcmp(out->data, s, out->len)) {
		struct qn_buf t = *text;

		*text = *out;
		*out = t;
		return 0;
	}
	if (changed) {
		struct qn_buf t = *text;

		snprintf(note, note_len, "kept %zu of %zu lines", kept, total);
		if (total > kept) {
			size_t l = strlen(note);
			const char *sep = " (";

#define NOTE(cnt, name) if (cnt && l < note_len) { \
				l += (size_t)snprintf(note + l, note_len - l, "%s%s %zu", sep, name, cnt); sep = ", "; }
			NOTE(r_long, "too_long_word");
			NOTE(r_punct, "no_terminal_punct");
			NOTE(r_few, "too_few_words");
			NOTE(r_js, "javascript");
			NOTE(r_policy, "policy");
#undef NOTE
			if (l < note_len)
				snprintf(note + l, note_len - l, ")");
		}
		*text = *out;
		*out = t;
	}
	return changed;
}

/* ---- FineWeb ---- */

void qn_step_fineweb(struct qn_cleaner *c, const char *text, size_t n,
		     struct qn_clean_result *res)
{
	const double *p = c->cfg->p;
	const struct qn_word *w;
	size_t start = 0, nlines = 0, punct = 0, shortl = 0, dupchars = 0, nl_count = 0, nw;
	size_t shortlen = isnan(p[P_FW_SHORT_LINE_LENGTH]) ? 0 : (size_t)p[P_FW_SHORT_LINE_LENGTH];

	htab_reset(&c->ht, 1 + qn_count_byte(text, n, '\n'));
	/* lines = text.split("\n"): every piece, the empty last one too. */
	for (;;) {
		const char *nl = memchr(text + start, '\n', n - start);
		size_t end = nl ? (size_t)(nl - text) : n, len = end - start, a, b;
		size_t nch = qn_nchars(text + start, len);

		nlines++;
		if (len && one_of(".'\"!?", text[end - 1]))
			punct++;
		if (nch <= shortlen)
			shortl++;
		/* find_duplicates over the lines that are not blank */
		a = start;
		b = end;
		py_strip(text, &a, &b);
		if (a < b) {
			size_t s = htab_add(&c->ht, XXH3_64bits(text + start, len), (uint32_t)nlines);

			if (c->ht.s[s].count > 1)
				dupchars += nch;
		}
		if (!nl)
			break;
		nl_count++;
		start = end + 1;
	}
	set(res, M_FW_LINE_PUNCT, ratio((double)punct, (double)nlines));
	set(res, M_FW_SHORT_LINES, ratio((double)shortl, (double)nlines));
	set(res, M_FW_CHAR_DUP, ratio((double)dupchars, (double)(qn_nchars(text, n) - nl_count)));
	nw = qn_words_cached(c, text, n, &w);
	set(res, M_FW_NEWLINE_RATIO, ratio((double)nl_count, (double)nw));
}
