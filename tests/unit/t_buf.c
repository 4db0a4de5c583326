/*
 * t_buf: growable buffers and JSON string escaping, checked against a
 * byte-at-a-time reference escaper on random inputs.
 */
#include <stdint.h>

#include "buf.h"
#include "../tap.h"

/* The plain reference: one byte at a time, no word tricks. */
static void ref_escape(struct qn_buf *b, const unsigned char *s, size_t n)
{
	size_t i;

	qn_buf_putc(b, '"');
	for (i = 0; i < n; i++) {
		unsigned char c = s[i];

		if (c == '"')
			qn_buf_puts(b, "\\\"");
		else if (c == '\\')
			qn_buf_puts(b, "\\\\");
		else if (c == '\n')
			qn_buf_puts(b, "\\n");
		else if (c == '\t')
			qn_buf_puts(b, "\\t");
		else if (c == '\r')
			qn_buf_puts(b, "\\r");
		else if (c == '\b')
			qn_buf_puts(b, "\\b");
		else if (c == '\f')
			qn_buf_puts(b, "\\f");
		else if (c < 0x20)
			qn_buf_appendf(b, "\\u%04x", c);
		else
			qn_buf_putc(b, (char)c);
	}
	qn_buf_putc(b, '"');
}

int main(void)
{
	struct qn_buf a = QN_BUF_INIT, b = QN_BUF_INIT;
	unsigned char s[300];
	int i, bad = 0;

	is_str(qn_buf_str(&a), "", "an unwritten buffer reads as empty");
	qn_buf_appendf(&a, "%d-%s", 42, "x");
	is_str(qn_buf_str(&a), "42-x", "appendf");
	qn_buf_reset(&a);
	is_int(a.len, 0, "reset empties");
	qn_buf_append_json_str(&a, "a\"b\\c\n\x01\xc3\xa9", 9);
	is_str(qn_buf_str(&a), "\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\"", "escapes quote, backslash, controls; keeps UTF-8");

	/* Random strings biased towards the special bytes, every length to 300. */
	for (i = 0; i < 20000; i++) {
		size_t n = tap_rand() % sizeof s, k;

		for (k = 0; k < n; k++) {
			uint64_t r = tap_rand();

			s[k] = (r & 7) == 0 ? "\"\\\n\x01\x1f\x7f\xff "[(r >> 3) % 8] : (unsigned char)(r >> 8);
		}
		qn_buf_reset(&a);
		qn_buf_reset(&b);
		qn_buf_append_json_str(&a, (const char *)s, n);
		ref_escape(&b, s, n);
		if (a.len != b.len || memcmp(a.data, b.data, a.len))
			bad++;
	}
	is_int(bad, 0, "fast escaper equals the reference on 20000 random strings");
	qn_buf_release(&a);
	qn_buf_release(&b);
	qn_buf_release(NULL);
	return done_testing();
}
