/*
 * utf8.h: UTF-8 validation, and the one encoder of a code point.
 *
 * Every text quern writes is valid UTF-8; this is the one check used to
 * make sure of it.  Valid means RFC 3629: shortest forms only, no
 * surrogates, nothing above U+10FFFF.
 */
#ifndef QN_UTF8_H
#define QN_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Returns n if s[0..n) is valid UTF-8, else the offset of the first bad byte. */
size_t qn_utf8_check(const char *s, size_t n);

static inline int qn_utf8_valid(const char *s, size_t n)
{
	return qn_utf8_check(s, n) == n;
}

/*
 * Writes code point c (at most U+10FFFF, not a surrogate: the caller's
 * promise) to u as UTF-8 and returns its length, 1 to 4.
 */
static inline size_t qn_utf8_encode(uint32_t c, char u[4])
{
	if (c < 0x80) {
		u[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		u[0] = (char)(0xC0 | c >> 6);
		u[1] = (char)(0x80 | (c & 0x3F));
		return 2;
	}
	if (c < 0x10000) {
		u[0] = (char)(0xE0 | c >> 12);
		u[1] = (char)(0x80 | (c >> 6 & 0x3F));
		u[2] = (char)(0x80 | (c & 0x3F));
		return 3;
	}
	u[0] = (char)(0xF0 | c >> 18);
	u[1] = (char)(0x80 | (c >> 12 & 0x3F));
	u[2] = (char)(0x80 | (c >> 6 & 0x3F));
	u[3] = (char)(0x80 | (c & 0x3F));
	return 4;
}

#endif
