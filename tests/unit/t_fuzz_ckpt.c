/*
 * t_fuzz_ckpt: the checkpoint reader's fuzz target
 * (tests/fuzz/fuzz_ckpt.c) on 6000 generated inputs: a valid small
 * checkpoint mutated by byte flips in the header and the payload,
 * header fields set to edge values (0, -1, huge) with the checksum made
 * right again so the field checks themselves are reached, truncations,
 * extensions, and random bytes.  The target aborts on any broken
 * invariant; reaching the end is the test.  Longer, coverage-guided
 * runs: tests/fuzz/build.sh (libFuzzer).
 */
#define _GNU_SOURCE
#include "../tap.h"
#include "hash.h"
#include "../../trainer/checkpoint.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

#define HDR 248

static unsigned char *load(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	unsigned char *p;
	long sz;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	sz = ftell(f);
	rewind(f);
	p = malloc((size_t)sz + 64);
	*n = fread(p, 1, (size_t)sz, f);
	fclose(f);
	return p;
}

/* Recomputes the trailing checksum of a (mutated) file of n bytes. */
static void fix_sum(unsigned char *p, size_t n)
{
	struct qn_hash128 h;
	int i;

	if (n < 16)
		return;
	h = qn_hash_bytes(p, n - 16);
	for (i = 0; i < 8; i++) {
		p[n - 16 + i] = (unsigned char)(h.hi >> (56 - 8 * i));
		p[n - 8 + i] = (unsigned char)(h.lo >> (56 - 8 * i));
	}
}

int main(void)
{
	static const uint32_t edges[] = { 0, 1, 2, 3, 127, 128, 129, 0x7fffffff,
					  0x80000000u, 0xffffffffu, 1024, 65536 };
	struct qn_ckpt c;
	struct qn_err err;
	unsigned char *orig, *buf;
	size_t n, m, i;
	int iter, accepted = 0;

	tap_tmpdir();
	memset(&c, 0, sizeof c);
	c.cfg = (struct qn_gpt_config){ 4, 5, 128, 1, 2, 4 };
	c.train = (struct qn_train_opts){ .B = 1, .T = 4, .total_batch = 8, .steps = 3,
					  .warmup = 1, .lr = 1e-3, .min_lr = 1e-4,
					  .weight_decay = 0.1, .beta1 = 0.9, .beta2 = 0.95,
					  .eps = 1e-8, .grad_clip = 1, .seed = 7, .shuffle = 1 };
	c.step = 2;
	c.rng[0] = 1;
	strcpy(c.tok_hash, "0123456789abcdef0123456789abcdef");
	c.config_json = "{\"a\":1}";
	c.nparams = qn_ckpt_nparams(&c.cfg, NULL);
	c.params = calloc(c.nparams, sizeof(float));
	c.m = calloc(c.nparams, sizeof(float));
	c.v = calloc(c.nparams, sizeof(float));
	for (i = 0; i < c.nparams; i++)
		c.params[i] = (float)i * 0.25f;
	if (qn_ckpt_write(tap_path("seed.ckpt"), &c, &err))
		skip_all(err.msg);
	orig = load(tap_path("seed.ckpt"), &n);
	ok(orig && n > HDR, "seed checkpoint written (%zu bytes)", n);
	buf = malloc(n + 64);

	LLVMFuzzerTestOneInput(orig, n);
	for (iter = 0; iter < 6000; iter++) {
		int kind = (int)(tap_rand() % 6);

		memcpy(buf, orig, n);
		m = n;
		switch (kind) {
		case 0:	/* flip header bits, checksum fixed */
			for (i = 0; i < 1 + tap_rand() % 3; i++)
				buf[tap_rand() % HDR] ^= (unsigned char)(1u << (tap_rand() % 8));
			fix_sum(buf, m);
			break;
		case 1: {	/* one 32-bit header field to an edge value */
			size_t at = 8 + 4 * (tap_rand() % ((HDR - 8) / 4));
			uint32_t v = edges[tap_rand() % (sizeof edges / sizeof edges[0])];

			memcpy(buf + at, &v, 4);
			fix_sum(buf, m);
			break;
		}
		case 2:	/* flip payload bits: the checksum must catch it */
			buf[HDR + tap_rand() % (n - HDR)] ^= (unsigned char)(1u << (tap_rand() % 8));
			break;
		case 3:	/* truncate */
			m = tap_rand() % n;
			break;
		case 4:	/* extend */
			m = n + 1 + tap_rand() % 63;
			for (i = n; i < m; i++)
				buf[i] = (unsigned char)tap_rand();
			if (tap_rand() & 1)
				fix_sum(buf, m);
			break;
		default:	/* random bytes, sometimes with the magic */
			m = tap_rand() % (n + 1);
			for (i = 0; i < m; i++)
				buf[i] = (unsigned char)tap_rand();
			if (m >= 8 && (tap_rand() & 1))
				memcpy(buf, QN_CKPT_MAGIC, 8);
		}
		LLVMFuzzerTestOneInput(buf, m);
		if (!memcmp(buf, orig, m < n ? m : n) && m == n)
			accepted++;
	}
	ok(1, "6000 generated inputs: every invariant of the reader held (%d unchanged)", accepted);
	free(buf);
	free(orig);
	free(c.params);
	free(c.m);
	free(c.v);
	tap_cleanup();
	return done_testing();
}
