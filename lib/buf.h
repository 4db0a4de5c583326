/*
 * buf.h: a growable byte buffer, always NUL-terminated.
 *
 * Most of quern moves text from one place to another; qn_buf is the one
 * container for it.  A buffer is embedded (qn_buf_init / qn_buf_release)
 * and reused: qn_buf_reset keeps the allocation, so a loop over documents
 * allocates nothing once it has seen its largest document.
 */
#ifndef QN_BUF_H
#define QN_BUF_H

#include <stddef.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

struct qn_buf {
	char *data;	/* NUL-terminated; NULL until the first write */
	size_t len;
	size_t cap;
};

#define QN_BUF_INIT { NULL, 0, 0 }

void qn_buf_init(struct qn_buf *b);
void qn_buf_release(struct qn_buf *b);
/* Makes room for at least n more bytes (plus the NUL). */
void qn_buf_grow(struct qn_buf *b, size_t n);
void qn_buf_append(struct qn_buf *b, const void *p, size_t n);
void qn_buf_appendf(struct qn_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void qn_buf_set(struct qn_buf *b, const void *p, size_t n);
/* Appends s as a JSON string literal, quotes included.  s must be UTF-8. */
void qn_buf_append_json_str(struct qn_buf *b, const char *s, size_t n);

static inline void qn_buf_reset(struct qn_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

static inline void qn_buf_putc(struct qn_buf *b, char c)
{
	if (b->len + 2 > b->cap)
		qn_buf_grow(b, 1);
	b->data[b->len++] = c;
	b->data[b->len] = '\0';
}

static inline void qn_buf_puts(struct qn_buf *b, const char *s)
{
	qn_buf_append(b, s, strlen(s));
}

/* The contents, "" for a buffer never written. */
static inline const char *qn_buf_str(const struct qn_buf *b)
{
	return b->data ? b->data : "";
}

#ifdef __cplusplus
}
#endif

#endif
