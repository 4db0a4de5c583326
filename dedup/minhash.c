/*
 * minhash.c: what quern-dedup computes for one document.
 *
 * Normalization (each step optional): Unicode NFC, full lowercase (ICU,
 * root locale), and whitespace collapsed (every run of Unicode white space
 * becomes one space; none at the ends).  ASCII text takes a short path
 * that gives the same bytes as ICU would.
 *
 * Shingles: word n-grams, the words being the segments ICU's word break
 * iterator marks as words, letters, numbers, kana or ideographs (so
 * punctuation and spaces are not words, and CJK text is segmented by
 * ICU's dictionary); or character n-grams of the normalized text (UTF-16
 * code units).  Each word is hashed with xxh3-64, each shingle is the
 * xxh3-64 of its n word hashes.  A document with fewer than n words has
 * one shingle, all of its words; one without words has none, and takes no
 * part in near-duplicate detection.
 *
 * MinHash: hash function i of the K = bands * rows is the permutation
 * h_i(x) = a_i x + b_i mod 2^32 (a_i odd) of the shingle hash folded to
 * 32 bits; the signature keeps each one's minimum over the shingles.  Band b's key is the xxh3-64 of its rows,
 * seeded by b, so keys of different bands never meet in one sort.
 */
#include <stdlib.h>
#include <string.h>

#include <unicode/ubrk.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "dedup.h"
#include "err.h"

void qn_dedup_params_default(struct qn_dedup_params *p)
{
	memset(p, 0, sizeof *p);
	p->bands = 14;
	p->rows = 8;
	p->shingle = QN_SHINGLE_WORD;
	p->ngram = 5;
	p->norm = QN_NORM_NFC | QN_NORM_LOWER | QN_NORM_SPACE;
	p->seed = 1;
}

int qn_dedup_params_cmp(const struct qn_dedup_params *a, const struct qn_dedup_params *b)
{
	return !(a->bands == b->bands && a->rows == b->rows && a->shingle == b->shingle &&
		 a->ngram == b->ngram && a->norm == b->norm && a->seed == b->seed);
}

static unsigned char wclass[128];	/* word classes of ASCII, see words_ascii */
static void wclass_init(void);

struct qn_signer {
	struct qn_dedup_params p;
	int k;
	uint32_t *a, *b;
	uint32_t *sig;
	UChar *u16, *u16b;		/* the text as UTF-16, and a second buffer */
	int32_t u16cap;
	UBreakIterator *brk;
	const UNormalizer2 *nfc;
	uint64_t *words, *sh, *lines, *set;
	size_t wcap, shcap, lcap, setcap;
	struct qn_buf norm, line;
};

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

struct qn_signer *qn_signer_new(const struct qn_dedup_params *p)
{
	struct qn_signer *s = qn_xcalloc(1, sizeof *s);
	UErrorCode ec = U_ZERO_ERROR;
	uint64_t st = p->seed;
	int i;

	if (!wclass['a'])
		wclass_init();	/* idempotent: threads racing here write the same bytes */
	s->p = *p;
	s->k = p->bands * p->rows;
	{
		/* Whole 32-byte vectors for minhash(); the padding is never read out. */
		size_t bytes = (size_t)(s->k + 7) / 8 * 32;

		if (posix_memalign((void **)&s->a, 32, bytes) || posix_memalign((void **)&s->b, 32, bytes) ||
		    posix_memalign((void **)&s->sig, 32, bytes))
			abort();
		memset(s->a, 0, bytes);
		memset(s->b, 0, bytes);
	}
	for (i = 0; i < s->k; i++) {
		s->a[i] = (uint32_t)(splitmix(&st) >> 32) | 1;
		s->b[i] = (uint32_t)(splitmix(&st) >> 32);
	}
	s->brk = ubrk_open(UBRK_WORD, "", NULL, 0, &ec);
	if (U_FAILURE(ec))
		abort();	/* ICU's data is part of the library */
	s->nfc = unorm2_getNFCInstance(&ec);
	if (U_FAILURE(ec))
		abort();
	return s;
}

void qn_signer_free(struct qn_signer *s)
{
	if (!s)
		return;
	free(s->a);
	free(s->b);
	free(s->sig);
	free(s->u16);
	free(s->u16b);
	ubrk_close(s->brk);
	free(s->words);
	free(s->sh);
	free(s->lines);
	free(s->set);
	qn_buf_release(&s->norm);
	qn_buf_release(&s->line);
	free(s);
}

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return p;
	*cap = need + need / 2 + 16;
	return qn_xrealloc(p, *cap * elem);
}

static int is_ascii(const char *t, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)t[i] >= 0x80)
			return 0;
	return 1;
}

/* ASCII white space as Unicode's White_Space has it (\t..\r, space). */
static int ascii_space(unsigned char c)
{
	return c == ' ' || (c >= 9 && c <= 13);
}

/* Collapses white space of UTF-16 u[0..n) in place; returns the new length. */
static int32_t collapse16(UChar *u, int32_t n)
{
	int32_t i, o = 0;
	int sp = 0;

	for (i = 0; i < n; i++) {
		if (u[i] < 0x80 ? ascii_space((unsigned char)u[i]) : u_isUWhiteSpace(u[i])) {
			sp = 1;
			continue;
		}
		if (sp && o)
			u[o++] = ' ';
		sp = 0;
		u[o++] = u[i];
	}
	return o;
}

/* Makes sure both UTF-16 buffers hold n units. */
static void need16(struct qn_signer *s, size_t n)
{
	if (n + 1 > (size_t)INT32_MAX / 4)
		abort();
	if ((int32_t)n + 1 > s->u16cap) {
		s->u16cap = (int32_t)n + 1 + (int32_t)(n / 2);
		s->u16 = qn_xrealloc(s->u16, (size_t)s->u16cap * sizeof(UChar));
		s->u16b = qn_xrealloc(s->u16b, (size_t)s->u16cap * sizeof(UChar));
	}
}

/*
 * Normalizes text into s->u16 (UTF-16), returning its length.  Lowercase
 * may lengthen a string (U+0130 -> i + U+0307): retried with room.
 */
static int32_t norm16(struct qn_signer *s, const char *text, size_t n)
{
	UErrorCode ec = U_ZERO_ERROR;
	int32_t len = 0, l2;

	need16(s, n);
	u_strFromUTF8Lenient(s->u16, s->u16cap, &len, text, (int32_t)n, &ec);
	if (U_FAILURE(ec))
		return 0;
	if (s->p.norm & QN_NORM_NFC) {
		for (;;) {
			ec = U_ZERO_ERROR;
			l2 = unorm2_normalize(s->nfc, s->u16, len, s->u16b, s->u16cap, &ec);
			if (ec != U_BUFFER_OVERFLOW_ERROR)
				break;
			need16(s, (size_t)l2 + 16);
		}
		if (U_FAILURE(ec))
			return 0;
		memcpy(s->u16, s->u16b, (size_t)l2 * sizeof(UChar));
		len = l2;
	}
	if (s->p.norm & QN_NORM_LOWER) {
		for (;;) {
			ec = U_ZERO_ERROR;
			l2 = u_strToLower(s->u16b, s->u16cap, s->u16, len, "", &ec);
			if (ec != U_BUFFER_OVERFLOW_ERROR)
				break;
			need16(s, (size_t)l2 + 16);
		}
		if (U_FAILURE(ec))
			return 0;
		memcpy(s->u16, s->u16b, (size_t)l2 * sizeof(UChar));
		len = l2;
	}
	if (s->p.norm & QN_NORM_SPACE)
		len = collapse16(s->u16, len);
	return len;
}

/* ASCII normalization straight into out (NFC is the identity on ASCII). */
static void norm_ascii(int norm, const char *t, size_t n, struct qn_buf *out)
{
	size_t i;
	int sp = 0;

	qn_buf_reset(out);
	qn_buf_grow(out, n);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)t[i];

		if ((norm & QN_NORM_SPACE) && ascii_space(c)) {
			sp = 1;
			continue;
		}
		if (sp && out->len)
			out->data[out->len++] = ' ';
		sp = 0;
		if ((norm & QN_NORM_LOWER) && c >= 'A' && c <= 'Z')
			c = (unsigned char)(c + 32);
		out->data[out->len++] = (char)c;
	}
	out->data[out->len] = '\0';
}

static void to_utf8(struct qn_signer *s, int32_t len, struct qn_buf *out)
{
	UErrorCode ec = U_ZERO_ERROR;
	int32_t n = 0;

	qn_buf_reset(out);
	qn_buf_grow(out, (size_t)len * 3 + 1);
	u_strToUTF8(out->data, (int32_t)out->cap, &n, s->u16, len, &ec);
	out->len = U_SUCCESS(ec) ? (size_t)n : 0;
	out->data[out->len] = '\0';
}

void qn_signer_normalize(struct qn_signer *s, const char *text, size_t n, struct qn_buf *out)
{
	if (is_ascii(text, n)) {
		norm_ascii(s->p.norm, text, n, out);
		return;
	}
	to_utf8(s, norm16(s, text, n), out);
}

uint64_t qn_signer_line_hash(struct qn_signer *s, const char *line, size_t n)
{
	uint64_t h;

	qn_signer_normalize(s, line, n, &s->line);
	if (!(s->p.norm & QN_NORM_SPACE)) {
		/* Blank still means only white space. */
		size_t i;

		for (i = 0; i < s->line.len && ascii_space((unsigned char)s->line.data[i]); i++)
			;
		if (i == s->line.len)
			return 0;
	} else if (s->line.len == 0) {
		return 0;
	}
	h = XXH3_64bits(s->line.data, s->line.len);
	return h ? h : 1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Sorts and removes repeats; returns the new count. */
static size_t sort_unique(uint64_t *v, size_t n)
{
	size_t i, o = 0;

	qsort(v, n, sizeof *v, cmp_u64);
	for (i = 0; i < n; i++)
		if (!o || v[o - 1] != v[i])
			v[o++] = v[i];
	return o;
}

/* Appends the word hashes of s->u16[0..len) to s->words[0..nw); returns the new count. */
static size_t words16(struct qn_signer *s, int32_t len, size_t nw)
{
	UErrorCode ec = U_ZERO_ERROR;
	int32_t a, b;
	char w8[256];

	if (len == 0)
		return nw;
	ubrk_setText(s->brk, s->u16, len, &ec);
	if (U_FAILURE(ec))
		return nw;
	a = ubrk_first(s->brk);
	while ((b = ubrk_next(s->brk)) != UBRK_DONE) {
		if (ubrk_getRuleStatus(s->brk) != UBRK_WORD_NONE) {
			int32_t n8 = 0;
			uint64_t h;

			/* Hashed as UTF-8, as the ASCII path hashes its words. */
			ec = U_ZERO_ERROR;
			u_strToUTF8(w8, sizeof w8, &n8, s->u16 + a, b - a, &ec);
			if (U_SUCCESS(ec) && ec != U_STRING_NOT_TERMINATED_WARNING) {
				h = XXH3_64bits(w8, (size_t)n8);
			} else {
				struct qn_buf t = QN_BUF_INIT;

				qn_buf_grow(&t, (size_t)n8 + 1);
				ec = U_ZERO_ERROR;
				u_strToUTF8(t.data, (int32_t)t.cap, &n8, s->u16 + a, b - a, &ec);
				h = XXH3_64bits(t.data, (size_t)n8);
				qn_buf_release(&t);
			}
			s->words = grow(s->words, &s->wcap, nw + 1, sizeof *s->words);
			s->words[nw++] = h;
		}
		a = b;
	}
	return nw;
}

/*
 * Word Break classes (UAX #29 as ICU tailors it) of the ASCII characters
 * that can be inside a word: letters and '@' (ALetter in ICU), digits,
 * '_' (ExtendNumLet), '.' and '\'' (MidNumLet, Single_Quote), ',' and ';'
 * (MidNum).  ICU leaves ':' out of MidLetter.  t_dedup checks these
 * against ICU itself on crafted and real text.
 */
enum { W_OTHER, W_LETTER, W_DIGIT, W_ENL, W_MIDNUMLET, W_MIDNUM };

static void wclass_init(void)
{
	int c;

	for (c = 'a'; c <= 'z'; c++)
		wclass[c] = W_LETTER;
	for (c = 'A'; c <= 'Z'; c++)
		wclass[c] = W_LETTER;
	for (c = '0'; c <= '9'; c++)
		wclass[c] = W_DIGIT;
	wclass['@'] = W_LETTER;	/* ICU's tailoring, for e-mail addresses */
	wclass['_'] = W_ENL;
	wclass['.'] = W_MIDNUMLET;
	wclass['\''] = W_MIDNUMLET;
	wclass[','] = W_MIDNUM;
	wclass[';'] = W_MIDNUM;
}

/*
 * The words of ASCII text t[0..n), as ICU's word break iterator finds
 * them: runs of letters, digits and '_', joined across one '.' or '\''
 * between letters or between digits, or one ',' or ';' between digits.
 * Appends their hashes to s->words[0..nw); returns the new count.
 */
static size_t words_ascii(struct qn_signer *s, const char *t, size_t n, size_t nw)
{
	const unsigned char *u = (const unsigned char *)t;
	size_t i = 0;

	while (i < n) {
		size_t j;

		if (wclass[u[i]] < W_LETTER || wclass[u[i]] > W_ENL) {
			i++;
			continue;
		}
		j = i + 1;
		for (;;) {
			int c, p, q;

			if (j < n && (c = wclass[u[j]]) >= W_LETTER && c <= W_ENL) {
				j++;
				continue;
			}
			if (j + 1 >= n)
				break;
			c = wclass[u[j]];
			p = wclass[u[j - 1]];
			q = wclass[u[j + 1]];
			if (c == W_MIDNUMLET && ((p == W_LETTER && q == W_LETTER) ||
						 (p == W_DIGIT && q == W_DIGIT))) {
				j += 2;
				continue;
			}
			if (c == W_MIDNUM && p == W_DIGIT && q == W_DIGIT) {
				j += 2;
				continue;
			}
			break;
		}
		/* One '_' alone is not a word to ICU (two are). */
		if (j - i > 1 || u[i] != '_') {
			s->words = grow(s->words, &s->wcap, nw + 1, sizeof *s->words);
			s->words[nw++] = XXH3_64bits(t + i, j - i);
		}
		i = j;
	}
	return nw;
}

/*
 * Words of normalized UTF-8 text t[0..n).  ICU never joins a word across
 * white space, so the text is cut at ASCII white space into chunks that
 * are segmented independently with the same result: ASCII chunks by
 * words_ascii, the others by ICU.
 */
static size_t words_utf8(struct qn_signer *s, const char *t, size_t n)
{
	size_t i = 0, nw = 0;

	while (i < n) {
		size_t j = i;
		int ascii = 1;

		while (j < n && !ascii_space((unsigned char)t[j])) {
			ascii &= (unsigned char)t[j] < 0x80;
			j++;
		}
		if (j > i && ascii) {
			nw = words_ascii(s, t + i, j - i, nw);
		} else if (j > i) {
			UErrorCode ec = U_ZERO_ERROR;
			int32_t len = 0;

			need16(s, j - i);
			u_strFromUTF8Lenient(s->u16, s->u16cap, &len, t + i, (int32_t)(j - i), &ec);
			if (U_SUCCESS(ec))
				nw = words16(s, len, nw);
		}
		i = j + 1;
	}
	return nw;
}

/* The word hashes of text by ICU alone, for the tests of the chunked path. */
size_t qn_signer_words_icu(struct qn_signer *s, const char *text, size_t n,
			   const uint64_t **words)
{
	size_t nw = words16(s, norm16(s, text, n), 0);

	*words = s->words;
	return nw;
}

size_t qn_signer_words(struct qn_signer *s, const char *text, size_t n,
		       const uint64_t **words)
{
	size_t nw;

	qn_signer_normalize(s, text, n, &s->norm);
	nw = words_utf8(s, qn_buf_str(&s->norm), s->norm.len);
	*words = s->words;
	return nw;
}

/*
 * The minima of the K hash functions over the shingles sh[0..n).  Hash
 * function i maps a shingle's hash x (folded to 32 bits) to
 * a_i x + b_i mod 2^32, a_i odd: a permutation of the 32-bit values, as
 * MinHash asks for, and 32-bit multiplies that vectorize eight wide
 * (AVX2 where the CPU has it).  t_dedup checks the estimates against the
 * exact Jaccard index of every pair of a brute-force set.
 */
typedef uint32_t v8u32 __attribute__((vector_size(32)));

__attribute__((target_clones("avx2", "default")))
static void minhash(uint32_t *restrict sig, const uint32_t *restrict a,
		    const uint32_t *restrict b, int k, const uint64_t *sh, size_t n)
{
	v8u32 *vs = (v8u32 *)sig;
	const v8u32 *va = (const v8u32 *)a, *vb = (const v8u32 *)b;
	int i, nv = (k + 7) / 8;	/* the arrays are padded to whole vectors */
	size_t j;

	for (i = 0; i < nv; i++)
		vs[i] = (v8u32){ 0 } - 1;
	for (j = 0; j < n; j++) {
		uint32_t x = (uint32_t)(sh[j] ^ (sh[j] >> 32));
		v8u32 vx = (v8u32){ 0 } + x;

		for (i = 0; i < nv; i++) {
			v8u32 v = va[i] * vx + vb[i];
			v8u32 lt = (v8u32)(v < vs[i]);

			vs[i] = (v & lt) | (vs[i] & ~lt);
		}
	}
}

void qn_signer_sign(struct qn_signer *s, const char *text, size_t n, struct qn_docsig *out)
{
	size_t nsh = 0, j, nw = 0, l;
	int32_t len = 0;
	int ng = s->p.ngram, ascii = is_ascii(text, n);

	memset(out, 0, sizeof *out);
	if (ascii) {
		norm_ascii(s->p.norm, text, n, &s->norm);
		if (s->p.shingle == QN_SHINGLE_WORD) {
			nw = words_utf8(s, qn_buf_str(&s->norm), s->norm.len);
		} else {
			need16(s, s->norm.len);
			for (j = 0; j < s->norm.len; j++)
				s->u16[j] = (UChar)(unsigned char)s->norm.data[j];
			len = (int32_t)s->norm.len;
		}
	} else {
		len = norm16(s, text, n);
		to_utf8(s, len, &s->norm);
		if (s->p.shingle == QN_SHINGLE_WORD)
			nw = words_utf8(s, qn_buf_str(&s->norm), s->norm.len);
	}
	out->exact = qn_hash_bytes(qn_buf_str(&s->norm), s->norm.len);

	if (s->p.shingle == QN_SHINGLE_WORD) {
		if (nw) {
			nsh = nw >= (size_t)ng ? nw - (size_t)ng + 1 : 1;
			s->sh = grow(s->sh, &s->shcap, nsh, sizeof *s->sh);
			for (j = 0; j < nsh; j++) {
				size_t m = nw - j < (size_t)ng ? nw - j : (size_t)ng;

				s->sh[j] = XXH3_64bits_withSeed(s->words + j, m * 8, s->p.seed);
			}
		}
	} else if (len > 0) {
		l = (size_t)len;
		nsh = l >= (size_t)ng ? l - (size_t)ng + 1 : 1;
		s->sh = grow(s->sh, &s->shcap, nsh, sizeof *s->sh);
		for (j = 0; j < nsh; j++) {
			size_t m = l - j < (size_t)ng ? l - j : (size_t)ng;

			s->sh[j] = XXH3_64bits_withSeed(s->u16 + j, m * sizeof(UChar), s->p.seed);
		}
	}
	minhash(s->sig, s->a, s->b, s->k, s->sh, nsh);
	out->sig = s->sig;
	out->nshingles = nsh;

	if (s->p.parts & QN_SIG_SHINGLES) {
		s->set = grow(s->set, &s->setcap, nsh, sizeof *s->set);
		if (nsh)
			memcpy(s->set, s->sh, nsh * sizeof *s->set);
		out->shingles = s->set;
		out->nshingle_set = (uint32_t)sort_unique(s->set, nsh);
	}
	if (s->p.parts & QN_SIG_LINES) {
		size_t nl = 0, i = 0;

		while (i < n) {
			const char *e = memchr(text + i, '\n', n - i);
			size_t ll = e ? (size_t)(e - (text + i)) : n - i;
			uint64_t h = qn_signer_line_hash(s, text + i, ll);

			if (h) {
				s->lines = grow(s->lines, &s->lcap, nl + 1, sizeof *s->lines);
				s->lines[nl++] = h;
			}
			i += ll + 1;
		}
		out->lines = s->lines;
		out->nlines = (uint32_t)sort_unique(s->lines, nl);
	}
}

double qn_sig_similarity(const uint32_t *a, const uint32_t *b, int k)
{
	int i, eq = 0;

	if (k <= 0 || a[0] == UINT32_MAX || b[0] == UINT32_MAX)
		return 0;
	for (i = 0; i < k; i++)
		eq += a[i] == b[i];
	return (double)eq / k;
}

double qn_set_jaccard(const uint64_t *a, uint32_t na, const uint64_t *b, uint32_t nb)
{
	uint32_t i = 0, j = 0, inter = 0;

	if (!na && !nb)
		return 0;
	while (i < na && j < nb) {
		if (a[i] == b[j]) {
			inter++;
			i++;
			j++;
		} else if (a[i] < b[j]) {
			i++;
		} else {
			j++;
		}
	}
	return (double)inter / (double)(na + nb - inter);
}

uint64_t qn_band_key(const uint32_t *sig, int band, int rows)
{
	uint64_t h = XXH3_64bits_withSeed(sig + (size_t)band * (size_t)rows,
					  (size_t)rows * sizeof *sig, (uint64_t)band + 1);

	return h ? h : 1;
}

double qn_lsh_probability(double s, int bands, int rows)
{
	double p = 1, q = 1;
	int i;

	for (i = 0; i < rows; i++)
		p *= s;
	for (i = 0; i < bands; i++)
		q *= 1 - p;
	return 1 - q;
}
