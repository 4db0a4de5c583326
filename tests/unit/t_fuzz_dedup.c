/*
 * t_fuzz_dedup: the fuzz target of quern-dedup's file readers
 * (tests/fuzz/fuzz_dedup.c) on 20000 generated inputs: a valid signature
 * file (with line hashes and shingle sets) and a valid duplicates list,
 * mutated by byte flips, insertions, deletions, truncation and splices,
 * and random bytes.  The target aborts on any broken invariant; reaching
 * the end is the test.  Longer, coverage-guided runs: libFuzzer (see the
 * target's comment).
 */
#include "dedup.h"
#include "../tap.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static unsigned char *sig_seed(size_t *n)
{
	static const char *const texts[] = {
		"one two three four five six seven",
		"Caf\xc3\xa9 au lait\nsecond line\n\nsecond line",
		"",
		"\xe5\x90\xbe\xe8\xbc\xa9\xe3\x81\xaf\xe7\x8c\xab\xe3\x81\xa7\xe3\x81\x82\xe3\x82\x8b",
	};
	struct qn_dedup_params p;
	struct qn_signer *s;
	struct qn_sigwriter *w;
	struct qn_docsig ds;
	struct qn_hash128 h = { 1, 2 };
	struct qn_err err;
	unsigned char *b;
	size_t i;
	FILE *f;
	long l;

	qn_dedup_params_default(&p);
	p.bands = 3;
	p.rows = 2;
	p.parts = QN_SIG_LINES | QN_SIG_SHINGLES;
	s = qn_signer_new(&p);
	w = qn_sigwriter_open(tap_path("seed.sig"), &p, h, "seed", &err);
	for (i = 0; i < sizeof texts / sizeof *texts; i++) {
		qn_signer_sign(s, texts[i], strlen(texts[i]), &ds);
		qn_sigwriter_add(w, "id", 2, strlen(texts[i]), 1.5, &ds, &err);
	}
	qn_sigwriter_commit(w, &err);
	qn_sigwriter_free(w);
	qn_signer_free(s);
	f = fopen(tap_path("seed.sig"), "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	l = ftell(f);
	rewind(f);
	b = qn_xmalloc((size_t)l);
	*n = fread(b, 1, (size_t)l, f);
	fclose(f);
	return b;
}

static const char dups_seed[] =
	"quern-dedup duplicates 1\n"
	"params\t14\t8\tword\t5\t7\t1\n"
	"part\t0123456789abcdef0123456789abcdef\t10\t2\tpart-0.jsonl\n"
	"dup\t3\taaaa\tbbbb\tdedup:exact\t1.000\n"
	"dup\t7\tcccc\tbbbb\tdedup:minhash\t0.812\n"
	"part\tfedcba9876543210fedcba9876543210\t4\t0\tpart-1.jsonl\n"
	"line\t00000000000000ff\n"
	"line\t0123456789abcdef\n"
	"end\t2\t2\t2\n";

int main(void)
{
	unsigned char *sig, buf[8192];
	size_t nsig = 0, n, i;
	int iter;

	tap_tmpdir();
	sig = sig_seed(&nsig);
	ok(sig && nsig > 100, "a valid signature file to start from (%zu bytes)", nsig);
	if (!sig)
		return done_testing();
	LLVMFuzzerTestOneInput(sig, nsig);
	LLVMFuzzerTestOneInput((const unsigned char *)dups_seed, sizeof dups_seed - 1);
	for (iter = 0; iter < 20000; iter++) {
		int which = (int)(tap_rand() % 2), kind = (int)(tap_rand() % 6);
		const unsigned char *seed = which ? sig : (const unsigned char *)dups_seed;

		n = which ? nsig : sizeof dups_seed - 1;
		if (n > sizeof buf - 16)
			n = sizeof buf - 16;
		memcpy(buf, seed, n);
		switch (kind) {
		case 0:	/* flip bytes */
			for (i = 0; i < 1 + tap_rand() % 4; i++)
				buf[tap_rand() % n] ^= (unsigned char)(1u << (tap_rand() % 8));
			break;
		case 1: {	/* insert a special byte */
			size_t at = tap_rand() % n;

			memmove(buf + at + 1, buf + at, n - at);
			buf[at] = (unsigned char)"\t\n0f-9D\x00\xff"[tap_rand() % 9];
			n++;
			break;
		}
		case 2:	/* delete a byte */
			i = tap_rand() % n;
			memmove(buf + i, buf + i + 1, n - i - 1);
			n--;
			break;
		case 3:	/* truncate */
			n = tap_rand() % n;
			break;
		case 4:	/* random bytes */
			n = tap_rand() % 300;
			for (i = 0; i < n; i++)
				buf[i] = (unsigned char)tap_rand();
			break;
		default:	/* a large count written over a length field */
			if (n > 8) {
				uint32_t v = (uint32_t)tap_rand() >> (tap_rand() % 32);

				memcpy(buf + tap_rand() % (n - 4), &v, 4);
			}
		}
		LLVMFuzzerTestOneInput(buf, n);
	}
	ok(1, "20000 generated inputs: every invariant of the readers held");
	free(sig);
	tap_cleanup();
	return done_testing();
}
