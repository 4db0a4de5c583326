/*
 * utf8.h: UTF-8 validation.
 *
 * Every text quern writes is valid UTF-8; this is the one check used to
 * make sure of it.  Valid means RFC 3629: shortest forms only, no
 * surrogates, nothing above U+10FFFF.
 */
#ifndef QN_UTF8_H
#define QN_UTF8_H

#include <stddef.h>

/* Returns n if s[0..n) is valid UTF-8, else the offset of the first bad byte. */
size_t qn_utf8_check(const char *s, size_t n);

static inline int qn_utf8_valid(const char *s, size_t n)
{
	return qn_utf8_check(s, n) == n;
}

#endif
