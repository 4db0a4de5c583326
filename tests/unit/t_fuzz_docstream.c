/*
 * t_fuzz_docstream: the fuzz target of the document stream parser
 * (tests/fuzz/fuzz_docstream.c) on 20000 generated inputs: valid lines
 * mutated by byte flips, insertions, deletions and truncation, lines of
 * random bytes, many-line streams, and the same compressed.  The target
 * aborts on any broken invariant; reaching the end is the test.
 * Longer, coverage-guided runs: tests/fuzz/build.sh (libFuzzer).
 */
#include <zstd.h>

#include "../tap.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static const char *const seeds[] = {
	"{\"id\":\"9f2c0000000000000000000000000000\",\"text\":\"hello\\nworld \\u00e9 \\ud83d\\ude00\",\"source\":\"file:///a\",\"locator\":\"line=1\"}",
	"{\"text\":\"x\",\"meta\":{\"n\":123456789012345678901234567890,\"a\":[1,2.5e-3,true,null,{\"b\":\"c\"}]}}",
	"{\"text\":\"\",\"zz\":-0.0,\"q\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}",
	"  {\"text\" : \"spaces\" , \"x\" : [ ] }  ",
	"{\"text\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}",
};

int main(void)
{
	unsigned char buf[4096], z[8192];
	size_t n, i;
	int iter;

	for (iter = 0; iter < 20000; iter++) {
		const char *seed = seeds[tap_rand() % (sizeof seeds / sizeof seeds[0])];
		int kind = (int)(tap_rand() % 6);

		n = strlen(seed);
		memcpy(buf, seed, n);
		switch (kind) {
		case 0:	/* flip bytes */
			for (i = 0; i < 1 + tap_rand() % 4; i++)
				buf[tap_rand() % n] ^= (unsigned char)(1u << (tap_rand() % 8));
			break;
		case 1:	/* insert a special byte */
			if (n < sizeof buf - 1) {
				size_t at = tap_rand() % n;

				memmove(buf + at + 1, buf + at, n - at);
				buf[at] = (unsigned char)"\"\\{}[]:,\n\r\x00\x80\xff"[tap_rand() % 14];
				n++;
			}
			break;
		case 2:	/* delete a byte */
			i = tap_rand() % n;
			memmove(buf + i, buf + i + 1, n - i - 1);
			n--;
			break;
		case 3:	/* truncate */
			n = tap_rand() % n;
			break;
		case 4:	/* random bytes */
			n = tap_rand() % 200;
			for (i = 0; i < n; i++)
				buf[i] = (unsigned char)tap_rand();
			break;
		default:	/* several lines, some of them seeds */
			n = 0;
			for (i = 0; i < 1 + tap_rand() % 5; i++) {
				const char *s = seeds[tap_rand() % (sizeof seeds / sizeof seeds[0])];
				size_t l = strlen(s);

				if (n + l + 2 >= sizeof buf)
					break;
				memcpy(buf + n, s, l);
				n += l;
				buf[n++] = (tap_rand() & 1) ? '\n' : 'x';
			}
		}
		LLVMFuzzerTestOneInput(buf, n);
		if (iter % 10 == 0) {
			/* The same input compressed, whole or cut short. */
			size_t zn = ZSTD_compress(z, sizeof z, buf, n, 1);

			if (!ZSTD_isError(zn))
				LLVMFuzzerTestOneInput(z, (iter % 20) ? zn : zn / 2);
		}
	}
	ok(1, "20000 generated inputs: every invariant of the parser held");
	return done_testing();
}
