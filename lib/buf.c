/*
 * buf.c: growable buffers and JSON string escaping (see buf.h).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "buf.h"
#include "err.h"

void qn_buf_init(struct qn_buf *b)
{
	b->data = NULL;
	b->len = b->cap = 0;
}

void qn_buf_release(struct qn_buf *b)
{
	if (!b)
		return;
	free(b->data);
	qn_buf_init(b);
}

void qn_buf_grow(struct qn_buf *b, size_t n)
{
	size_t need = b->len + n + 1, cap;

	if (need <= b->cap)
		return;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap + cap / 2 + 64;
	b->data = qn_xrealloc(b->data, cap);
	b->cap = cap;
}

void qn_buf_append(struct qn_buf *b, const void *p, size_t n)
{
	qn_buf_grow(b, n);
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void qn_buf_set(struct qn_buf *b, const void *p, size_t n)
{
	qn_buf_reset(b);
	qn_buf_append(b, p, n);
}

void qn_buf_appendf(struct qn_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	qn_buf_grow(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/*
 * Bytes that need escaping in a JSON string: the quote, the backslash and
 * the C0 controls.  Everything else, UTF-8 included, is copied as is.
 * Runs of plain bytes are found 16 bytes at a time (SSE2), else 8 (in a
 * uint64_t), and each run ends at the first special byte, found by a
 * count of trailing zeros: man pages and source code have a backslash or
 * a newline every few dozen bytes, so runs are short and must be cheap.
 * The output has room for six bytes per input byte, so a whole block may
 * be stored before knowing how much of it is plain.
 */
static const char hexdig[] = "0123456789abcdef";

static inline int needs_escape(unsigned char c)
{
	return c < 0x20 || c == '"' || c == '\\';
}

/* The index of the first special byte of the 8 at p, or 8. */
static inline unsigned first_special8(const unsigned char *p)
{
	uint64_t w, x, y, t;

	memcpy(&w, p, 8);
	x = w ^ 0x2222222222222222ULL;
	y = w ^ 0x5c5c5c5c5c5c5c5cULL;
	/*
	 * A lane's top bit is set when it is < 0x20, == '"' or == '\\'
	 * (bytes >= 0x80 are masked by ~w).  Borrows may also set lanes
	 * above a special one, never below: the lowest set lane is exact.
	 */
	t = (((w - 0x2020202020202020ULL) & ~w) | ((x - 0x0101010101010101ULL) & ~x) |
	     ((y - 0x0101010101010101ULL) & ~y)) & 0x8080808080808080ULL;
	return t ? (unsigned)__builtin_ctzll(t) >> 3 : 8;
}

void qn_buf_append_json_str(struct qn_buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	char *o;
#ifdef __SSE2__
	const __m128i c1f = _mm_set1_epi8(0x1f), cq = _mm_set1_epi8('"'),
		      cb = _mm_set1_epi8('\\');
#endif

	/* Worst case every byte becomes \u00XX. */
	qn_buf_grow(b, n * 6 + 2);
	o = b->data + b->len;
	*o++ = '"';
	while (p < end) {
#ifdef __SSE2__
		while (end - p >= 16) {
			__m128i v = _mm_loadu_si128((const __m128i *)p);
			__m128i sp = _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(v, c1f), v),
						  _mm_or_si128(_mm_cmpeq_epi8(v, cq),
							       _mm_cmpeq_epi8(v, cb)));
			unsigned m = (unsigned)_mm_movemask_epi8(sp);

			_mm_storeu_si128((__m128i *)o, v);
			if (m) {
				unsigned k = (unsigned)__builtin_ctz(m);

				o += k;
				p += k;
				goto special;
			}
			o += 16;
			p += 16;
		}
#endif
		while (end - p >= 8) {
			unsigned k = first_special8(p);

			memcpy(o, p, 8);
			o += k;
			p += k;
			if (k < 8)
				goto special;
		}
		if (p >= end)
			break;
		if (!needs_escape(*p)) {
			*o++ = (char)*p++;
			continue;
		}
special:
		*o++ = '\\';
		switch (*p) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '\n': *o++ = 'n'; break;
		case '\t': *o++ = 't'; break;
		case '\r': *o++ = 'r'; break;
		case '\b': *o++ = 'b'; break;
		case '\f': *o++ = 'f'; break;
		default:
			*o++ = 'u';
			*o++ = '0';
			*o++ = '0';
			*o++ = hexdig[*p >> 4];
			*o++ = hexdig[*p & 15];
		}
		p++;
	}
	*o++ = '"';
	*o = '\0';
	b->len = (size_t)(o - b->data);
}
