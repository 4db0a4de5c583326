/*
 * buf.c: growable buffers and JSON string escaping (see buf.h).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

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
 * the C0 controls.  Everything else, UTF-8 included, is copied as is, in
 * runs found eight bytes at a time: documents are mostly plain text.
 */
static const char hexdig[] = "0123456789abcdef";

static inline int needs_escape(unsigned char c)
{
	return c < 0x20 || c == '"' || c == '\\';
}

void qn_buf_append_json_str(struct qn_buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	char *o;

	/* Worst case every byte becomes \u00XX. */
	qn_buf_grow(b, n * 6 + 2);
	o = b->data + b->len;
	*o++ = '"';
	while (p < end) {
		while (end - p >= 8) {
			uint64_t w, t;

			memcpy(&w, p, 8);
			/* A byte lane is "special" if < 0x20, == '"' or == '\\'. */
			t = ((w - 0x2020202020202020ULL) & ~w) |
			    (((w ^ 0x2222222222222222ULL) - 0x0101010101010101ULL) & ~(w ^ 0x2222222222222222ULL)) |
			    (((w ^ 0x5c5c5c5c5c5c5c5cULL) - 0x0101010101010101ULL) & ~(w ^ 0x5c5c5c5c5c5c5c5cULL));
			if (t & 0x8080808080808080ULL)
				break;
			memcpy(o, p, 8);
			o += 8;
			p += 8;
		}
		if (p >= end)
			break;
		if (!needs_escape(*p)) {
			*o++ = (char)*p++;
			continue;
		}
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
