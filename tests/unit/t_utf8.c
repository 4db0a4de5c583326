/*
 * t_utf8: the validator against a plain decoder on random byte strings,
 * and the classic malformed cases.
 */
#include <stdint.h>

#include "utf8.h"
#include "../tap.h"

/* Reference: decode one code point at a time per RFC 3629. */
static size_t ref_check(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i], len, k;
		uint32_t cp;

		if (c < 0x80) { i++; continue; }
		if ((c & 0xe0) == 0xc0) { len = 2; cp = c & 0x1f; }
		else if ((c & 0xf0) == 0xe0) { len = 3; cp = c & 0x0f; }
		else if ((c & 0xf8) == 0xf0) { len = 4; cp = c & 0x07; }
		else return i;
		if (i + len > n)
			return i;
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return i;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return i;
		i += len;
	}
	return n;
}

int main(void)
{
	static const struct { const char *s; int valid; const char *what; } cases[] = {
		{ "plain ascii", 1, "ASCII" },
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 1, "2, 3 and 4 byte sequences" },
		{ "\xc0\xaf", 0, "overlong slash" },
		{ "\xe0\x80\xaf", 0, "overlong 3-byte" },
		{ "\xed\xa0\x80", 0, "surrogate" },
		{ "\xf4\x90\x80\x80", 0, "above U+10FFFF" },
		{ "abc\xe2\x82", 0, "truncated at the end" },
		{ "\x80", 0, "lone continuation" },
		{ "\xff", 0, "0xff" },
	};
	unsigned char s[64];
	size_t i;
	int bad = 0;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		is_int(qn_utf8_valid(cases[i].s, strlen(cases[i].s)), cases[i].valid, "%s", cases[i].what);
	is_int(qn_utf8_check("abcdefghij\xff", 11), 10, "offset of the first bad byte past the 8-byte fast path");
	for (i = 0; i < 200000; i++) {
		size_t n = tap_rand() % sizeof s, k;

		for (k = 0; k < n; k++) {
			uint64_t r = tap_rand();

			/* Mostly valid-looking text with some random high bytes. */
			s[k] = (r & 3) ? (unsigned char)('a' + r % 26) : (unsigned char)(0x80 + (r >> 8) % 0x80);
		}
		if (qn_utf8_check((const char *)s, n) != ref_check(s, n))
			bad++;
	}
	is_int(bad, 0, "validator equals the reference decoder on 200000 random strings");
	return done_testing();
}
