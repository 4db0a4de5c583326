/*
 * t_fuzz_clean: the fuzz target of quern-clean (tests/fuzz/fuzz_clean.c)
 * on generated inputs: seed texts and rules files mutated by byte flips,
 * insertions, deletions, truncation and splicing, and random bytes.  The
 * target aborts on any broken invariant; reaching the end is the test.
 */
#include "../tap.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static const char *const texts[] = {
	"Hello, world.\nThe cat sat on the mat. The cat sat on the mat.\n\n\nLorem ipsum { javascript\n",
	"Caf\xc3\xa9 cre\xcc\x80me \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe6\x96\x87 \xe0\xb8\xa0\xe0\xb8\xb2\xe0\xb8\xa9\xe0\xb8\xb2\xe0\xb9\x84\xe0\xb8\x97\xe0\xb8\xa2\r\n- bullet...\n\xe2\x80\xa2 item\xe2\x80\xa6\n",
	"mail a.b@example.org, 10.0.0.1, fe80::1, +44 20 7946 0958, 4111-1111-1111-1111, (555) 123-4567\n",
	"# # # ... ... \xe2\x80\xa6 [1] [edit] [citation needed] terms of use\n\t \n",
};
static const char *const rules[] = {
	"drop a /fox/i\ndrop-line b |^jumps|\nreplace c /(\\d+)/<$1>/\n",
	"drop cat /^(a+)+$/\nreplace x #o#0#g\n",
	"replace e /(?<n>\\w)\\w*/${n}/u\n# c\n\ndrop-line z /a{2,}?b/ms\n",
};

int main(void)
{
	unsigned char buf[2048];
	size_t n, i;
	int iter;

	for (iter = 0; iter < 3000; iter++) {
		int rulesfile = (int)(tap_rand() % 3) == 0;
		const char *seed = rulesfile ? rules[tap_rand() % 3] : texts[tap_rand() % 4];
		int kind = (int)(tap_rand() % 6);

		n = strlen(seed);
		memcpy(buf + 1, seed, n);
		buf[0] = (unsigned char)((tap_rand() & ~1u) | (rulesfile ? 0 : 1));
		switch (kind) {
		case 0:	/* flip bits */
			for (i = 0; i < 1 + tap_rand() % 4; i++)
				buf[1 + tap_rand() % n] ^= (unsigned char)(1u << (tap_rand() % 8));
			break;
		case 1:	/* insert a special byte */
			if (n + 2 < sizeof buf) {
				size_t at = 1 + tap_rand() % n;

				memmove(buf + at + 1, buf + at, n + 1 - at);
				buf[at] = (unsigned char)"/\\|#(){}[]*+?\n\r\x00\x80\xff$"[tap_rand() % 21];
				n++;
			}
			break;
		case 2:	/* delete a byte */
			i = 1 + tap_rand() % n;
			memmove(buf + i, buf + i + 1, n - i);
			n--;
			break;
		case 3:	/* truncate */
			n = tap_rand() % n;
			break;
		case 4:	/* random bytes */
			n = tap_rand() % 300;
			for (i = 1; i <= n; i++)
				buf[i] = (unsigned char)tap_rand();
			break;
		default:	/* a seed repeated: repetition filters and long inputs */
			while (n + strlen(seed) + 1 < sizeof buf && tap_rand() % 4) {
				memcpy(buf + 1 + n, seed, strlen(seed));
				n += strlen(seed);
			}
		}
		LLVMFuzzerTestOneInput(buf, n + 1);
	}
	ok(1, "3000 generated inputs through the cleaner's fuzz target");
	return done_testing();
}
