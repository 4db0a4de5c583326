/*
 * t_train_model: the trainer's two pieces of the model library,
 * generation with a key/value cache (model/kv.c) and llm.c's model file
 * (model/llmc.c).
 *
 * The cache's logits at every position must match a full forward over
 * the prefix (both implementations, several prompts); a position past
 * the context and an out-of-range token are errors.  An llm.c file
 * written and read back gives the same configuration and the same
 * parameter bytes; its header is llm.c's (checked field by field); a
 * file padded differently has its rows moved; truncated, trailing,
 * foreign and bf16 files are refused with a message.
 */
#define _GNU_SOURCE
#include <math.h>

#include "../tap.h"
#include "gpt.h"

static void spit(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	fwrite(p, 1, n, f);
	fclose(f);
}

static void *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	char *p;
	long sz;

	fseek(f, 0, SEEK_END);
	sz = ftell(f);
	rewind(f);
	p = malloc((size_t)sz + 8);
	*n = fread(p, 1, (size_t)sz, f);
	fclose(f);
	return p;
}

static void kv_against_forward(enum qn_gpt_impl impl, const char *name)
{
	struct qn_gpt_config c = { 24, 300, 0, 2, 4, 32 };
	struct qn_gpt *m;
	struct qn_gpt_kv *kv;
	struct qn_err err;
	int32_t toks[24];
	float *logits;
	double worst = 0;
	int t, i, tails = 1, rc, trial;

	if (qn_gpt_config_check(&c, &err) < 0 || qn_gpt_new(&m, &c, 1, 24, impl, &err) < 0) {
		ok(0, "%s: model: %s", name, err.msg);
		return;
	}
	kv = qn_gpt_kv_new(m);
	logits = malloc((size_t)c.padded_vocab * sizeof *logits);
	for (trial = 0; trial < 3; trial++) {
		qn_gpt_init(m, 7 + (uint64_t)trial);
		/* make biases and LayerNorms nonzero, so they count */
		for (i = 0; i < QN_NPARAM; i++)
			if (i != QN_WTE && i != QN_WPE && i != QN_QKVW && i != QN_ATTPROJW &&
			    i != QN_FCW && i != QN_FCPROJW)
				for (size_t j = 0; j < m->param_size[i]; j++)
					m->param[i][j] += (float)((int)(tap_rand() % 2001) - 1000) * 1e-4f;
		for (t = 0; t < 24; t++)
			toks[t] = (int32_t)(tap_rand() % 300);
		qn_gpt_forward(m, toks, NULL, 1, 24);
		const float *all = qn_gpt_logits(m);
		qn_gpt_kv_reset(kv);
		for (t = 0; t < 24; t++) {
			const float *full = all + (size_t)t * c.padded_vocab;

			rc = qn_gpt_kv_step(m, kv, toks[t], logits, &err);
			if (rc) {
				ok(0, "%s: step %d: %s", name, t, err.msg);
				break;
			}
			for (i = 0; i < c.vocab; i++) {
				double d = fabs((double)logits[i] - full[i]) / (1 + fabs(full[i]));

				if (d > worst)
					worst = d;
			}
			for (i = c.vocab; i < c.padded_vocab; i++)
				if (!(isinf(logits[i]) && logits[i] < 0))
					tails = 0;
		}
	}
	ok(worst < 1e-4, "%s: cached logits match a full forward at all 24 positions of 3 models (worst %.2e)",
	   name, worst);
	ok(tails, "%s: the padded logits are -inf", name);
	rc = qn_gpt_kv_step(m, kv, 1, logits, &err);
	ok(rc == QN_EUSAGE && strstr(err.msg, "context"), "%s: past the context: %s", name, err.msg);
	qn_gpt_kv_reset(kv);
	rc = qn_gpt_kv_step(m, kv, 300, logits, &err);
	ok(rc == QN_EUSAGE && strstr(err.msg, "out of range"), "%s: a token out of range: %s", name, err.msg);
	qn_gpt_kv_free(kv);
	qn_gpt_kv_free(NULL);
	free(logits);
	qn_gpt_free(m);
}

static void llmc(void)
{
	struct qn_gpt_config c = { 16, 200, 0, 2, 2, 8 }, back;
	struct qn_gpt *m;
	struct qn_err err;
	float *params;
	int32_t *h;
	size_t n, np, i;
	char *bytes, *big;
	int rc, same;

	qn_gpt_config_check(&c, &err);
	qn_gpt_new(&m, &c, 1, 16, QN_GPT_REF, &err);
	qn_gpt_init(m, 3);
	for (i = 0; i < m->nparams; i++)
		if (m->params[i] == 0)
			m->params[i] = (float)i;	/* no zero rows: rows must land right */
	for (i = (size_t)c.vocab * c.channels; i < (size_t)c.padded_vocab * c.channels; i++)
		m->params[i] = 0;	/* but the padding stays zero, as the model keeps it */
	rc = qn_gpt_save_llmc(tap_path("m.bin"), m, &err);
	is_int(rc, 0, "llm.c file written");
	bytes = slurp(tap_path("m.bin"), &n);
	h = (int32_t *)bytes;
	ok(n == 1024 + m->nparams * 4, "1024-byte header, then the parameters (%zu bytes)", n);
	ok(h[0] == 20240326 && h[1] == 3 && h[2] == 16 && h[3] == 200 && h[4] == 2 &&
	   h[5] == 2 && h[6] == 8 && h[7] == 256 && h[8] == 0 && h[255] == 0,
	   "llm.c's header: magic, version 3, maxT, V, L, NH, C, Vp");
	ok(!memcmp(bytes + 1024, m->params, m->nparams * 4), "the payload is the parameter array");
	rc = qn_gpt_load_llmc(tap_path("m.bin"), &back, &params, &err);
	is_int(rc, 0, "read back");
	ok(!memcmp(&back, &m->cfg, sizeof back), "the same configuration");
	ok(params && !memcmp(params, m->params, m->nparams * 4), "the same parameter bytes");
	free(params);

	/* A file padded to 384 rows (another Vp): rows move, padding is dropped. */
	np = (m->nparams + (size_t)128 * c.channels);
	big = calloc(1, 1024 + np * 4);
	memcpy(big, bytes, 1024);
	((int32_t *)big)[7] = 384;
	memcpy(big + 1024, bytes + 1024, (size_t)c.padded_vocab * c.channels * 4);
	memcpy(big + 1024 + (size_t)384 * c.channels * 4,
	       bytes + 1024 + (size_t)c.padded_vocab * c.channels * 4,
	       (m->nparams - (size_t)c.padded_vocab * c.channels) * 4);
	spit(tap_path("big.bin"), big, 1024 + np * 4);
	rc = qn_gpt_load_llmc(tap_path("big.bin"), &back, &params, &err);
	same = rc == 0 && back.padded_vocab == 256 && !memcmp(params, m->params, m->nparams * 4);
	ok(same, "a file with a larger padded vocabulary loads to the same parameters%s%s",
	   rc ? ": " : "", rc ? err.msg : "");
	free(params);
	free(big);

	spit(tap_path("t.bin"), bytes, n - 4);
	rc = qn_gpt_load_llmc(tap_path("t.bin"), &back, &params, &err);
	ok(rc == QN_EFORMAT && strstr(err.msg, "truncated") && !params, "truncated: %s", err.msg);
	bytes = realloc(bytes, n + 4);
	memset(bytes + n, 0, 4);
	spit(tap_path("t.bin"), bytes, n + 4);
	rc = qn_gpt_load_llmc(tap_path("t.bin"), &back, &params, &err);
	ok(rc == QN_EFORMAT && strstr(err.msg, "trailing"), "trailing bytes: %s", err.msg);
	spit(tap_path("t.bin"), bytes, 100);
	rc = qn_gpt_load_llmc(tap_path("t.bin"), &back, &params, &err);
	ok(rc == QN_EFORMAT && strstr(err.msg, "header"), "a short header: %s", err.msg);
	h = (int32_t *)bytes;
	h[1] = 5;
	spit(tap_path("t.bin"), bytes, n);
	rc = qn_gpt_load_llmc(tap_path("t.bin"), &back, &params, &err);
	ok(rc == QN_EFORMAT && strstr(err.msg, "bf16"), "bf16: %s", err.msg);
	h[1] = 3;
	h[5] = 3;
	spit(tap_path("t.bin"), bytes, n);
	rc = qn_gpt_load_llmc(tap_path("t.bin"), &back, &params, &err);
	ok(rc == QN_EFORMAT, "heads that do not divide the width: %s", err.msg);
	h[0] = 20240520;
	spit(tap_path("t.bin"), bytes, n);
	rc = qn_gpt_load_llmc(tap_path("t.bin"), &back, &params, &err);
	ok(rc == QN_EFORMAT && strstr(err.msg, "magic"), "a data shard is not a model: %s", err.msg);
	rc = qn_gpt_load_llmc(tap_path("none.bin"), &back, &params, &err);
	is_int(rc, QN_ENOTFOUND, "a missing file");
	rc = qn_gpt_save_llmc(tap_path("no/dir.bin"), m, &err);
	is_int(rc, QN_EIO, "an unwritable path");
	free(bytes);
	qn_gpt_free(m);
}

int main(void)
{
	tap_tmpdir();
	kv_against_forward(QN_GPT_REF, "reference");
	kv_against_forward(QN_GPT_FAST, "fast");
	llmc();
	tap_cleanup();
	return done_testing();
}
