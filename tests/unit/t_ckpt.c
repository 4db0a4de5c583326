/*
 * t_ckpt: quern-train's checkpoint file (trainer/checkpoint.c).
 *
 * A checkpoint read back holds exactly what was written, every float bit
 * included; a rewrite replaces the file atomically and leaves no
 * temporary behind; the reader refuses, with a message naming the file,
 * every truncation, a flipped byte anywhere, trailing bytes, another
 * magic or version, and a header whose sizes disagree.  The parameter
 * count of GPT-2 124M is llm.c's.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <math.h>
#include <sys/stat.h>

#include "../tap.h"
#include "../../trainer/checkpoint.h"

static void fill(struct qn_ckpt *c)
{
	size_t i;

	memset(c, 0, sizeof *c);
	c->cfg = (struct qn_gpt_config){ 16, 300, 384, 2, 2, 8 };
	c->train = (struct qn_train_opts){ .B = 2, .T = 8, .total_batch = 32, .steps = 20,
					   .warmup = 2, .lr = 3e-4, .min_lr = 3e-5,
					   .weight_decay = 0.1, .beta1 = 0.9, .beta2 = 0.95,
					   .eps = 1e-8, .grad_clip = 1.0, .seed = 1234,
					   .shuffle = 1, .doc_aligned = 0 };
	c->step = 10;
	c->rng[0] = 0x0123456789abcdefULL;
	c->rng[3] = ~0ULL;
	c->loader = (struct qn_loader_state){ 3, 17, 99 };
	strcpy(c->tok_hash, "00112233445566778899aabbccddeeff");
	c->config_json = "{\"layers\":2}";
	c->nparams = qn_ckpt_nparams(&c->cfg, NULL);
	c->params = malloc(c->nparams * sizeof(float));
	c->m = malloc(c->nparams * sizeof(float));
	c->v = malloc(c->nparams * sizeof(float));
	for (i = 0; i < c->nparams; i++) {
		uint32_t b = (uint32_t)tap_rand();

		memcpy(&c->params[i], &b, 4);	/* any bits, NaNs included */
		c->m[i] = (float)i;
		c->v[i] = -(float)i;
	}
}

static unsigned char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	unsigned char *p;
	long sz;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	sz = ftell(f);
	rewind(f);
	p = malloc((size_t)sz + 16);
	*n = fread(p, 1, (size_t)sz, f);
	fclose(f);
	return p;
}

static void spit(const char *path, const unsigned char *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	fwrite(p, 1, n, f);
	fclose(f);
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

int main(void)
{
	struct qn_gpt_config g124 = { 1024, 50257, 50304, 12, 12, 768 };
	struct qn_ckpt w, r;
	struct qn_err err;
	unsigned char *bytes, *mut;
	size_t n, cut;
	const char *why;
	int rc, bad_trunc = 0, bad_flip = 0, i;

	tap_tmpdir();
	is_int(qn_ckpt_nparams(&g124, NULL), 124475904, "GPT-2 124M has llm.c's parameter count");
	g124.padded_vocab = 50257;
	why = NULL;
	ok(qn_ckpt_nparams(&g124, &why) == 0 && why, "an unpadded vocabulary is refused: %s", why);
	g124 = (struct qn_gpt_config){ 1024, 50257, 50304, 12, 5, 768 };
	ok(qn_ckpt_nparams(&g124, &why) == 0, "heads that do not divide the width are refused");

	fill(&w);
	rc = qn_ckpt_write(tap_path("a.ckpt"), &w, &err);
	is_int(rc, 0, "write");
	rc = qn_ckpt_read(tap_path("a.ckpt"), &r, &err);
	is_int(rc, 0, "read back");
	ok(!memcmp(&r.cfg, &w.cfg, sizeof w.cfg), "model configuration");
	ok(!memcmp(&r.train, &w.train, sizeof w.train), "training options");
	ok(r.step == 10 && !memcmp(r.rng, w.rng, sizeof w.rng), "step and RNG state");
	ok(r.loader.epoch == 3 && r.loader.pos == 17 && r.loader.seed == 99, "loader state");
	is_str(r.tok_hash, w.tok_hash, "tokenizer hash");
	is_str(r.config_json, w.config_json, "configuration JSON");
	ok(r.nparams == w.nparams &&
	   !memcmp(r.params, w.params, w.nparams * 4) &&
	   !memcmp(r.m, w.m, w.nparams * 4) && !memcmp(r.v, w.v, w.nparams * 4),
	   "weights and both moments, bit for bit (%zu floats each)", w.nparams);
	qn_ckpt_release(&r);

	/* Rewriting replaces atomically, no temporary left behind. */
	w.step = 11;
	w.tok_hash[0] = '\0';
	w.config_json = NULL;
	is_int(qn_ckpt_write(tap_path("a.ckpt"), &w, &err), 0, "rewrite in place");
	is_int(count_entries(tap_dir), 1, "no temporary file left");
	is_int(qn_ckpt_read(tap_path("a.ckpt"), &r, &err), 0, "read the rewrite");
	ok(r.step == 11 && r.tok_hash[0] == '\0' && r.config_json && !r.config_json[0],
	   "the rewrite's step, no tokenizer hash, empty JSON");
	qn_ckpt_release(&r);
	w.step = 10;
	strcpy(w.tok_hash, "00112233445566778899aabbccddeeff");
	w.config_json = "{\"layers\":2}";
	qn_ckpt_write(tap_path("a.ckpt"), &w, &err);

	rc = qn_ckpt_write(tap_path("nodir/a.ckpt"), &w, &err);
	ok(rc == QN_EIO && strstr(err.msg, "nodir"), "a missing directory is an I/O error: %s", err.msg);
	w.cfg.n_head = 3;
	rc = qn_ckpt_write(tap_path("b.ckpt"), &w, &err);
	is_int(rc, QN_EUSAGE, "writing an invalid configuration is refused");
	w.cfg.n_head = 2;

	rc = qn_ckpt_read(tap_path("missing.ckpt"), &r, &err);
	is_int(rc, QN_ENOTFOUND, "a missing file is not found");

	bytes = slurp(tap_path("a.ckpt"), &n);
	mut = malloc(n + 16);
	/* Every truncation is refused. */
	for (cut = 0; cut < n; cut += (cut < 300 ? 1 : 97)) {
		spit(tap_path("t.ckpt"), bytes, cut);
		rc = qn_ckpt_read(tap_path("t.ckpt"), &r, &err);
		if (rc != QN_EFORMAT || !strstr(err.msg, "t.ckpt"))
			bad_trunc++;
	}
	is_int(bad_trunc, 0, "every truncation is a format error naming the file");
	spit(tap_path("t.ckpt"), bytes, n - 1);
	qn_ckpt_read(tap_path("t.ckpt"), &r, &err);
	ok(strstr(err.msg, "truncated") != NULL, "and says so: %s", err.msg);

	/* A flipped bit anywhere is refused. */
	for (i = 0; i < 400; i++) {
		size_t at = i < 248 ? (size_t)i : (size_t)(tap_rand() % n);

		memcpy(mut, bytes, n);
		mut[at] ^= (unsigned char)(1u << (tap_rand() % 8));
		spit(tap_path("f.ckpt"), mut, n);
		if (qn_ckpt_read(tap_path("f.ckpt"), &r, &err) == 0) {
			bad_flip++;
			qn_ckpt_release(&r);
		}
	}
	is_int(bad_flip, 0, "a flipped bit in any header byte or 152 random places is refused");
	memcpy(mut, bytes, n);
	mut[n / 2] ^= 1;
	spit(tap_path("f.ckpt"), mut, n);
	qn_ckpt_read(tap_path("f.ckpt"), &r, &err);
	ok(strstr(err.msg, "checksum") != NULL, "a payload flip is a checksum mismatch: %s", err.msg);

	memcpy(mut, bytes, n);
	mut[n] = 0;
	spit(tap_path("x.ckpt"), mut, n + 1);
	rc = qn_ckpt_read(tap_path("x.ckpt"), &r, &err);
	ok(rc == QN_EFORMAT && strstr(err.msg, "trailing"), "trailing bytes: %s", err.msg);

	memcpy(mut, bytes, n);
	mut[0] = 'X';
	spit(tap_path("m.ckpt"), mut, n);
	rc = qn_ckpt_read(tap_path("m.ckpt"), &r, &err);
	ok(rc == QN_EFORMAT && strstr(err.msg, "magic"), "bad magic: %s", err.msg);

	memcpy(mut, bytes, n);
	mut[8] = 2;
	spit(tap_path("v.ckpt"), mut, n);
	rc = qn_ckpt_read(tap_path("v.ckpt"), &r, &err);
	ok(rc == QN_EFORMAT && strstr(err.msg, "version 2"), "another version: %s", err.msg);

	memcpy(mut, bytes, n);
	mut[12 + 12] = 3;	/* n_layer 2 -> 3: the count no longer matches */
	spit(tap_path("l.ckpt"), mut, n);
	rc = qn_ckpt_read(tap_path("l.ckpt"), &r, &err);
	ok(rc == QN_EFORMAT && strstr(err.msg, "parameters"), "a configuration that disagrees with the count: %s", err.msg);

	spit(tap_path("d.ckpt"), (const unsigned char *)"", 0);
	rc = qn_ckpt_read(tap_path("d.ckpt"), &r, &err);
	is_int(rc, QN_EFORMAT, "an empty file");
	qn_ckpt_release(NULL);

	free(bytes);
	free(mut);
	free(w.params);
	free(w.m);
	free(w.v);
	tap_cleanup();
	return done_testing();
}
