/*
 * text.c: the text layer of quern-clean: Unicode normalization, the word
 * splitter every filter counts with, and a small hash table.
 *
 * Normalization (the first step) makes later measurements mean the same
 * thing on every input: NFC (or NFKC) through ICU, control characters
 * out, one kind of line end, no trailing blanks, no runs of blank lines.
 * Most text is ASCII or Latin, which NFC leaves alone; a byte scan
 * proves that before ICU is asked.
 *
 * Words follow datatrove's counting, which uses spaCy for English:
 * maximal runs of letters, marks and digits are words, every other
 * non-space character is a word of its own ("Hello, world." is four
 * words).  Scripts written without spaces (Han, Hiragana, Katakana, Thai,
 * Lao, Khmer, Myanmar) are split at ICU word boundaries instead.
 */
#include <stdlib.h>
#include <string.h>
#include <unicode/uchar.h>
#include <unicode/uscript.h>
#include <unicode/ustring.h>
#include <unicode/utf8.h>
#include <xxhash.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "internal.h"

/* ---- hash table ---- */

void htab_reset(struct htab *t, size_t n)
{
	size_t want = 64;

	while (want < 2 * n + 2)
		want *= 2;
	if (want > t->cap) {
		free(t->s);
		t->s = qn_xmalloc(want * sizeof *t->s);
		t->cap = want;
	}
	t->mask = want - 1;
	t->used = 0;
	memset(t->s, 0, want * sizeof *t->s);
}

void htab_grow(struct htab *t)
{
	size_t want = 2 * (t->mask + 1), mask = want - 1, k, cap;
	struct hslot *s;

	if (want > t->capspare) {
		free(t->spare);
		t->spare = qn_xmalloc(want * sizeof *t->spare);
		t->capspare = want;
	}
	s = t->spare;
	cap = t->capspare;
	memset(s, 0, want * sizeof *s);
	for (k = 0; k <= t->mask; k++) {
		size_t j;

		if (t->s[k].count == 0)
			continue;
		for (j = slot_of(t->s[k].key, mask); s[j].count; j = (j + 1) & mask)
			;
		s[j] = t->s[k];
	}
	t->spare = t->s;
	t->capspare = t->cap;
	t->s = s;
	t->cap = cap;
	t->mask = mask;
}

void htab_release(struct htab *t)
{
	free(t->s);
	free(t->spare);
	memset(t, 0, sizeof *t);
}

/* ---- normalization ---- */

/* UTF-8 to UTF-16 into c->u16a; returns the length or -1. */
static int32_t to_u16(struct qn_cleaner *c, const char *s, size_t n, UChar **buf, int32_t *cap)
{
	UErrorCode e = U_ZERO_ERROR;
	int32_t len;

	if (n > 0x3fffffff)
		return -1;
	if (*cap < (int32_t)n + 1) {
		free(*buf);
		*cap = (int32_t)n + 1;
		*buf = qn_xmalloc((size_t)*cap * sizeof **buf);
	}
	u_strFromUTF8(*buf, *cap, &len, s, (int32_t)n, &e);
	(void)c;
	return U_SUCCESS(e) ? len : -1;
}

/*
 * NFC or NFKC of text, in place.  Returns 1 if it changed.  Code points
 * below U+0300 are NFC-stable and never combine with what precedes them,
 * so text without a byte >= 0xCC needs no NFC; ASCII needs no NFKC.
 * The rest, from just before the first such byte, is checked, and
 * normalized if it must be, as UTF-8 (nfc.cc).
 */
static int unicode_normalize(struct qn_cleaner *c, struct qn_buf *text, int nfkc)
{
	const unsigned char *p = (const unsigned char *)text->data;
	unsigned char limit = nfkc ? 0x80 : 0xCC;
	size_t i;

#ifdef __SSE2__
	for (i = 0; i + 16 <= text->len; i += 16) {	/* 16 bytes at a time */
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + i));

		if (_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_max_epu8(x, _mm_set1_epi8((char)limit)), x)))
			break;
	}
#else
	for (i = 0; i + 8 <= text->len; i += 8) {	/* ASCII 8 bytes at a time */
		uint64_t x;

		memcpy(&x, p + i, 8);
		if (x & 0x8080808080808080ULL)
			break;
	}
#endif
	for (; i < text->len; i++)
		if (p[i] >= limit)
			break;
	if (i == text->len)
		return 0;
	/*
	 * Only the text from the code point before p[i] on can change: it
	 * is below U+0300 (ASCII for NFKC), so normalization has a boundary
	 * before it, and everything before it stays as it is.
	 */
	if (i > 0)
		for (i--; i > 0 && (p[i] & 0xC0) == 0x80; i--)
			;
	if (qn_normalize_utf8(text->data + i, text->len - i, nfkc, &c->tmp) != 1)
		return 0;
	if (c->tmp.len == text->len - i && !memcmp(c->tmp.data, text->data + i, c->tmp.len))
		return 0;
	text->len = i;
	qn_buf_append(text, c->tmp.data, c->tmp.len);
	return 1;
}

/* Appends a line end to out: blanks before it trimmed, blank runs collapsed. */
static void put_newline(struct qn_buf *out, unsigned *what)
{
	while (out->len && (out->data[out->len - 1] == ' ' || out->data[out->len - 1] == '\t')) {
		out->len--;
		*what |= NORM_TRAILING_SPACE;
	}
	if (out->len == 0 || (out->len >= 2 && out->data[out->len - 1] == '\n' &&
			      out->data[out->len - 2] == '\n')) {
		*what |= NORM_BLANK_LINES;
		out->data[out->len] = '\0';
		return;
	}
	qn_buf_putc(out, '\n');
}

/*
 * How many bytes at p, of one block (PLAIN_BLOCK bytes, all readable),
 * are plain: none below 0x20, 0x7F, 0xC2 or 0xE2 (the lead bytes of C1
 * controls, NEL, U+2028 and U+2029).  With SSE2, 16 bytes are compared
 * at once and the count runs up to the first special byte; without, a
 * block of 8 is all plain (8) or not (0).
 */
#ifdef __SSE2__
#define PLAIN_BLOCK 16
static inline size_t plain_prefix(const unsigned char *p)
{
	const __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
	__m128i m = _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(0x1F)), x);	/* below 0x20 */
	unsigned bits;

	m = _mm_or_si128(m, _mm_cmpeq_epi8(x, _mm_set1_epi8(0x7F)));
	m = _mm_or_si128(m, _mm_cmpeq_epi8(x, _mm_set1_epi8((char)0xC2)));
	m = _mm_or_si128(m, _mm_cmpeq_epi8(x, _mm_set1_epi8((char)0xE2)));
	bits = (unsigned)_mm_movemask_epi8(m);
	return bits ? (size_t)__builtin_ctz(bits) : 16;
}
#else
#define PLAIN_BLOCK 8
static inline size_t plain_prefix(const unsigned char *p)
{
	const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
	uint64_t x, d, e, f;

	memcpy(&x, p, 8);
	d = x ^ (ones * 0x7F);
	e = x ^ (ones * 0xC2);
	f = x ^ (ones * 0xE2);
	/* a byte below n (n <= 128), and zero bytes of d, e, f: exact tests */
	return (((x - ones * 0x20) & ~x) | ((d - ones) & ~d) | ((e - ones) & ~e) |
		((f - ones) & ~f)) & high ? 0 : 8;
}
#endif

unsigned qn_clean_normalize(struct qn_cleaner *c, struct qn_buf *text, int nfkc)
{
	struct qn_buf *out = &c->tmp2;
	const unsigned char *p;
	unsigned what = 0;
	size_t i, n;

	if (unicode_normalize(c, text, nfkc))
		what |= NORM_NFC;
	p = (const unsigned char *)qn_buf_str(text);
	n = text->len;
	qn_buf_reset(out);
	qn_buf_grow(out, n + 1);
	for (i = 0; i < n; i++) {
		unsigned char b;

		if (i + PLAIN_BLOCK <= n) {
			/*
			 * The plain bytes of a block are copied at once (a whole
			 * block is copied; only they are kept).  There is room:
			 * no byte gives more than one, so out->len <= i.
			 */
			size_t k = plain_prefix(p + i);

			memcpy(out->data + out->len, p + i, PLAIN_BLOCK);
			out->len += k;
			i += k;
			if (k == PLAIN_BLOCK) {
				i--;
				continue;
			}
		}
		b = p[i];
		if (b >= 0x20 && b != 0x7f && b != 0xC2 && b != 0xE2) {
			out->data[out->len++] = (char)b;	/* room was made above */
			continue;
		}
		if (b == '\n') {
			put_newline(out, &what);
		} else if (b == '\t') {
			out->data[out->len++] = '\t';
		} else if (b == '\r') {
			if (i + 1 < n && p[i + 1] == '\n')
				i++;
			what |= NORM_LINE_ENDS;
			put_newline(out, &what);
		} else if (b == 0xC2 && i + 1 < n && p[i + 1] >= 0x80 && p[i + 1] <= 0x9F) {
			/* C1 controls; NEL (U+0085) is a line end */
			if (p[i + 1] == 0x85) {
				what |= NORM_LINE_ENDS;
				put_newline(out, &what);
			} else {
				what |= NORM_CONTROL;
			}
			i++;
		} else if (b == 0xE2 && i + 2 < n && p[i + 1] == 0x80 &&
			   (p[i + 2] == 0xA8 || p[i + 2] == 0xA9)) {
			/* U+2028 LINE SEPARATOR, U+2029 PARAGRAPH SEPARATOR */
			what |= NORM_LINE_ENDS;
			put_newline(out, &what);
			i += 2;
		} else if (b == 0xC2 || b == 0xE2) {
			out->data[out->len++] = (char)b;
		} else {
			what |= NORM_CONTROL;	/* C0 controls but \t \n \r, and DEL */
		}
	}
	out->data[out->len] = '\0';
	/* The end: no trailing blanks, at most one final line end. */
	while (out->len && (out->data[out->len - 1] == ' ' || out->data[out->len - 1] == '\t')) {
		out->len--;
		what |= NORM_TRAILING_SPACE;
	}
	while (out->len >= 2 && out->data[out->len - 1] == '\n' && out->data[out->len - 2] == '\n') {
		out->len--;
		what |= NORM_BLANK_LINES;
	}
	out->data[out->len] = '\0';
	if (what & ~NORM_NFC) {
		struct qn_buf t = *text;

		*text = *out;
		*out = t;
	}
	return what;
}

/* ---- words ---- */

/* datatrove's PUNCTUATION_SET, the characters of "symbol" words. */
static int in_punct_set(UChar32 cp)
{
	static const UChar32 wide[] = {
		0x00A0 - 1,	/* sentinel, never matched */
		0x00AB, 0x00B4, 0x00BB, 0x2013, 0x2014, 0x201C, 0x201D, 0x201E,
		0x2019, 0x2026, 0x2236, 0x2501, 0x25BA, 0x3001, 0x3002, 0x3008,
		0x3009, 0x300A, 0x300B, 0x300C, 0x300D, 0x3010, 0x3011, 0xFF01,
		0xFF05, 0xFF08, 0xFF09, 0xFF0C, 0xFF0E, 0xFF11, 0xFF1A, 0xFF1B,
		0xFF1F, 0xFF5E
	};
	size_t i;

	if (cp < 0x80)
		return cp < 9 || cp == 11 || cp == 12 || (cp >= 13 && cp < 32) ||
		       (cp < 127 && strchr("!/:&(\\#%+^]~';{|[=-`*$,><)?@_.\"}", (int)cp) && cp) ||
		       cp == 127;
	if (cp < 160)
		return 1;
	for (i = 1; i < sizeof wide / sizeof wide[0]; i++)
		if (wide[i] == cp)
			return 1;
	return 0;
}

enum { C_SPACE, C_WORD, C_SINGLE };

/* ASCII classes: letters and digits make words, blanks split, the rest are single. */
static unsigned char ascii_class[128];
static unsigned char ascii_punct[128];

static void init_ascii(void)
{
	int i;

	for (i = 0; i < 128; i++) {
		ascii_class[i] = (i >= 'a' && i <= 'z') || (i >= 'A' && i <= 'Z') ||
				 (i >= '0' && i <= '9') ? C_WORD :
				 (i == ' ' || (i >= 9 && i <= 13) || (i >= 28 && i <= 31)) ? C_SPACE : C_SINGLE;
		ascii_punct[i] = (unsigned char)in_punct_set(i);
	}
}

/* Whether cp belongs to a script written without spaces between words. */
static int nospace_script(UChar32 cp)
{
	UErrorCode e = U_ZERO_ERROR;
	UScriptCode s;

	if (cp < 0x0E00)
		return 0;
	s = uscript_getScript(cp, &e);
	return s == USCRIPT_HAN || s == USCRIPT_HIRAGANA || s == USCRIPT_KATAKANA ||
	       s == USCRIPT_THAI || s == USCRIPT_LAO || s == USCRIPT_KHMER ||
	       s == USCRIPT_MYANMAR;
}

static int cp_class(UChar32 cp, int *alpha)
{
	int8_t t = u_charType(cp);

	*alpha = 0;
	switch (t) {
	case U_UPPERCASE_LETTER: case U_LOWERCASE_LETTER: case U_TITLECASE_LETTER:
	case U_MODIFIER_LETTER: case U_OTHER_LETTER:
		*alpha = 1;
		return C_WORD;
	case U_NON_SPACING_MARK: case U_ENCLOSING_MARK: case U_COMBINING_SPACING_MARK:
	case U_DECIMAL_DIGIT_NUMBER: case U_LETTER_NUMBER: case U_OTHER_NUMBER:
		return C_WORD;
	case U_SPACE_SEPARATOR: case U_LINE_SEPARATOR: case U_PARAGRAPH_SEPARATOR:
	case U_CONTROL_CHAR:
		return C_SPACE;
	default:
		return C_SINGLE;
	}
}

static struct qn_word *new_word(struct qn_cleaner *c)
{
	if (c->nw == c->capw) {
		c->capw = c->capw ? 2 * c->capw : 1024;
		c->w = qn_xrealloc(c->w, c->capw * sizeof *c->w);
	}
	return &c->w[c->nw++];
}

/*
 * A word's hash, computed once its end is known.  A word of at most 8
 * bytes is one 64-bit load (when 8 bytes of text are there to read),
 * masked to its length, with the length in the top byte, which a word
 * of 8 bytes never has there (0x09-0x0F are blanks or single characters),
 * so different words give different values; then a bijective mix (the
 * murmur3 finalizer): no two such words collide.  Longer words go to
 * XXH3.  Every word, from every path below, is hashed by this function.
 */
static inline uint64_t word_hash(const unsigned char *s, size_t len, size_t room)
{
	uint64_t x = 0;

	if (len > 8)
		return XXH3_64bits(s, len);
	if (room >= 8) {
		memcpy(&x, s, 8);
		if (len < 8)
			x &= ((uint64_t)1 << (8 * len)) - 1;
	} else {
		memcpy(&x, s, len);
	}
	x ^= (uint64_t)len << 56;
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

#define ONES 0x0101010101010101ULL
#define HIGH 0x8080808080808080ULL

/*
 * Bit 7 of each byte of x that is an ASCII letter (*letters) or an ASCII
 * letter or digit (the return value).  Range tests on the low 7 bits,
 * which cannot carry into the next byte; bytes >= 0x80 are none.
 */
static inline uint64_t ascii_alnum8(uint64_t x, uint64_t *letters)
{
	uint64_t y = x & ~HIGH, l = y | (ONES * 0x20);
	uint64_t dig = (y + ONES * (0x80 - '0')) & ~(y + ONES * (0x7F - '9'));
	uint64_t let = (l + ONES * (0x80 - 'a')) & ~(l + ONES * (0x7F - 'z'));

	*letters = let & ~x & HIGH;
	return (dig | let) & ~x & HIGH;
}

static int is_stop(const char *s, size_t n)
{
	/* the, be, to, of, and, that, have, with: by length */
	switch (n) {
	case 2:
		return !memcmp(s, "be", 2) || !memcmp(s, "to", 2) || !memcmp(s, "of", 2);
	case 3:
		return !memcmp(s, "the", 3) || !memcmp(s, "and", 3);
	case 4:
		return !memcmp(s, "that", 4) || !memcmp(s, "have", 4) || !memcmp(s, "with", 4);
	default:
		return 0;
	}
}

/* Splits s[0..n), a run of no-space-script text, at ICU word boundaries. */
static void split_nospace(struct qn_cleaner *c, const char *s, size_t off, size_t n)
{
	UErrorCode e = U_ZERO_ERROR;
	int32_t n16, b, prev, i16 = 0;
	size_t i8 = 0, start8 = 0;

	n16 = to_u16(c, s + off, n, &c->u16a, &c->cap16a);
	if (n16 < 0 || !c->brk) {
		struct qn_word *w = new_word(c);

		w->off = (uint32_t)off;
		w->len = (uint32_t)n;
		w->nchars = (uint32_t)qn_nchars(s + off, n);
		w->flags = W_ALPHA;
		w->hash = word_hash((const unsigned char *)s + off, n, n);
		return;
	}
	ubrk_setText(c->brk, c->u16a, n16, &e);
	if (U_FAILURE(e))
		return;
	prev = ubrk_first(c->brk);
	while ((b = ubrk_next(c->brk)) != UBRK_DONE) {
		struct qn_word *w;
		size_t k = 0;

		/* Walk both encodings to the boundary. */
		while (i16 < b) {
			UChar32 cp;
			size_t j = off + i8;

			U8_NEXT_UNSAFE(s, j, cp);
			i16 += U16_LENGTH(cp);
			i8 = j - off;
			k++;
		}
		w = new_word(c);
		w->off = (uint32_t)(off + start8);
		w->len = (uint32_t)(i8 - start8);
		w->nchars = (uint32_t)k;
		w->flags = W_ALPHA;
		w->hash = word_hash((const unsigned char *)s + w->off, w->len, n - (w->off - off));
		start8 = i8;
		prev = b;
	}
	(void)prev;
}

size_t qn_words_cached(struct qn_cleaner *c, const char *text, size_t n,
		       const struct qn_word **words)
{
	if (c->wvalid && c->wtext == text && c->wlen == n) {
		*words = c->w;
		return c->nw;
	}
	qn_clean_words(c, text, n, words);
	c->wtext = text;
	c->wlen = n;
	c->wvalid = 1;
	return c->nw;
}

size_t qn_clean_words(struct qn_cleaner *c, const char *s, size_t n,
		      const struct qn_word **words)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	if (!ascii_class['a'])
		init_ascii();
	c->nw = 0;
	c->wvalid = 0;
	while (i < n) {
		unsigned char b = p[i];
		UChar32 cp;
		size_t start = i, j;
		int cls, alpha;

		if (b < 0x80) {
			cls = ascii_class[b];
			alpha = cls == C_WORD && b > '9';
			j = i + 1;
			cp = b;
		} else {
			j = i;
			U8_NEXT_UNSAFE(p, j, cp);
			cls = cp_class(cp, &alpha);
		}
		if (cls == C_SPACE) {
			i = j;
			continue;
		}
		if (cls == C_SINGLE) {
			struct qn_word *w = new_word(c);

			w->off = (uint32_t)i;
			w->len = (uint32_t)(j - i);
			w->nchars = 1;
			w->flags = (b < 0x80 ? ascii_punct[b] : in_punct_set(cp)) ? W_SYMBOL : 0;
			w->hash = word_hash(p + i, j - i, n - i);
			i = j;
			continue;
		}
		if (cp >= 0x0E00 && alpha && nospace_script(cp)) {
			/* A run of no-space script letters, with their marks. */
			i = j;
			while (i < n && p[i] >= 0x80) {
				UChar32 d;
				int a2;

				j = i;
				U8_NEXT_UNSAFE(p, j, d);
				if (cp_class(d, &a2) != C_WORD || (a2 && !nospace_script(d) &&
				    u_charType(d) != U_MODIFIER_LETTER) ||
				    (!a2 && !(U_GET_GC_MASK(d) & U_GC_M_MASK)))
					break;
				i = j;
			}
			split_nospace(c, s, start, i - start);
			continue;
		}
		{
			struct qn_word *w;
			size_t k = 1;
			int any_alpha = alpha, all_punct = b < 0x80 ? ascii_punct[b] : in_punct_set(cp);

			i = j;
			while (i < n) {
				unsigned char d;
				UChar32 e;
				int a2;

				if (i + 8 <= n) {
					/* ASCII letters and digits 8 bytes at a time */
					uint64_t x, let, stop;
					size_t m;

					memcpy(&x, p + i, 8);
					stop = ~ascii_alnum8(x, &let) & HIGH;
					m = stop ? (size_t)__builtin_ctzll(stop) / 8 : 8;
					if (m) {
						if (m < 8)
							let &= ((uint64_t)1 << (8 * m)) - 1;
						any_alpha |= let != 0;
						all_punct = 0;
						i += m;
						k += m;
						if (m == 8)
							continue;
					}
				}
				if (i >= n)
					break;
				d = p[i];
				if (d < 0x80) {
					if (ascii_class[d] != C_WORD)
						break;
					any_alpha |= d > '9';
					all_punct = 0;
					i++;
					k++;
					continue;
				}
				j = i;
				U8_NEXT_UNSAFE(p, j, e);
				if (cp_class(e, &a2) != C_WORD || (a2 && e >= 0x0E00 && nospace_script(e)))
					break;
				any_alpha |= a2;
				all_punct &= in_punct_set(e);
				i = j;
				k++;
			}
			w = new_word(c);
			w->off = (uint32_t)start;
			w->len = (uint32_t)(i - start);
			w->nchars = (uint32_t)k;
			w->flags = (any_alpha ? W_ALPHA : 0) | (all_punct ? W_SYMBOL : 0) |
				   (is_stop(s + start, i - start) ? W_STOP : 0);
			w->hash = word_hash(p + start, i - start, n - start);
		}
	}
	*words = c->w;
	return c->nw;
}
