/*
 * t_gpt: the model's contract (gpt.h): configuration checks, parameter
 * sizes (GPT-2 124M has llm.c's 124,475,904), the seeded initialisation
 * (its statistics, its zero rows, and the same bytes for a seed on every
 * machine: a pinned hash), and the fast model against the reference
 * model, forward, backward and over AdamW steps, with the fast path giving
 * the same bytes run to run and on one or two threads, and smaller
 * batches than allocated.
 */
#include <math.h>
#include <omp.h>

#include "gpt.h"
#include "ops.h"
#include "../tap.h"

static uint64_t fnv1a(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 0x100000001b3ULL;
	return h;
}

static void test_config(void)
{
	struct qn_gpt_config c = { .max_seq = 1024, .vocab = 50257, .n_layer = 12,
				   .n_head = 12, .channels = 768 };
	struct qn_err err;
	size_t s[QN_NPARAM];

	is_int(qn_gpt_config_check(&c, &err), 0, "GPT-2 124M config is valid");
	is_int(c.padded_vocab, 50304, "vocab 50257 pads to 50304");
	is_int(qn_gpt_param_sizes(&c, s), 124475904, "GPT-2 124M has 124475904 parameters");
	is_int(s[QN_QKVW], 12 * 3 * 768 * 768, "qkvw is [L, 3C, C]");
	c.vocab = 128;
	qn_gpt_config_check(&c, &err);
	is_int(c.padded_vocab, 128, "vocab 128 stays 128");
	c.vocab = 1;
	qn_gpt_config_check(&c, &err);
	is_int(c.padded_vocab, 128, "vocab 1 pads to 128");

	struct qn_gpt_config bad = c;
	bad.channels = 100;
	is_int(qn_gpt_config_check(&bad, &err), QN_EUSAGE, "channels not a multiple of heads");
	ok(strstr(err.msg, "channels") != NULL, "the message names the field: %s", err.msg);
	bad = c, bad.n_layer = 0;
	is_int(qn_gpt_config_check(&bad, &err), QN_EUSAGE, "zero layers");
	bad = c, bad.vocab = -3;
	is_int(qn_gpt_config_check(&bad, &err), QN_EUSAGE, "negative vocab");
	bad = c, bad.max_seq = 0;
	is_int(qn_gpt_config_check(&bad, &err), QN_EUSAGE, "zero context");

	struct qn_gpt *m = (struct qn_gpt *)&err;
	is_int(qn_gpt_new(&m, &c, 2, 1025, QN_GPT_REF, &err), QN_EUSAGE, "T beyond max_seq");
	ok(m == NULL, "no model on failure");
	qn_gpt_free(NULL);

	int decays = 0;
	for (int p = 0; p < QN_NPARAM; p++)
		decays += qn_gpt_param_decays(p);
	ok(decays == 6 && qn_gpt_param_decays(QN_WTE) && qn_gpt_param_decays(QN_FCPROJW) &&
	   !qn_gpt_param_decays(QN_LN1W) && !qn_gpt_param_decays(QN_QKVB),
	   "weight decay on the 6 matrices and embeddings only");
	is_str(qn_gpt_param_name(QN_ATTPROJW), "attprojw", "tensor names");
}

static void stats(const float *x, size_t n, double *mean, double *sd)
{
	double s = 0, s2 = 0;
	for (size_t i = 0; i < n; i++)
		s += x[i], s2 += (double)x[i] * x[i];
	*mean = s / n;
	*sd = sqrt(s2 / n - *mean * *mean);
}

static void test_init(void)
{
	struct qn_gpt_config c = { .max_seq = 64, .vocab = 1000, .n_layer = 8,
				   .n_head = 4, .channels = 64 };
	struct qn_gpt *a, *b;
	struct qn_err err;
	double mean, sd;

	qn_gpt_new(&a, &c, 1, 8, QN_GPT_FAST, &err);
	qn_gpt_new(&b, &c, 1, 8, QN_GPT_REF, &err);
	qn_gpt_init(a, 42);
	qn_gpt_init(b, 42);
	ok(!memcmp(a->params, b->params, a->nparams * 4), "same seed, same bytes");
	/*
	 * The pinned hash: any machine, compiler or libm must give these
	 * bytes for seed 42 (the generator uses no libm function but sqrt).
	 */
	uint64_t h = fnv1a(a->params, a->nparams * 4);
	if (!ok(h == 0x5ace53c766eee417ULL, "init bytes for seed 42 are the pinned ones"))
		printf("#   hash %016llx\n", (unsigned long long)h);
	qn_gpt_init(b, 43);
	ok(memcmp(a->params, b->params, a->nparams * 4) != 0, "another seed, other bytes");

	stats(a->param[QN_WTE], (size_t)c.vocab * c.channels, &mean, &sd);
	ok(fabs(mean) < 0.001 && fabs(sd - 0.02) < 0.0005, "wte ~ N(0, 0.02): mean %.5f sd %.5f", mean, sd);
	stats(a->param[QN_FCW], a->param_size[QN_FCW], &mean, &sd);
	ok(fabs(mean) < 0.001 && fabs(sd - 0.02) < 0.0005, "fcw ~ N(0, 0.02): mean %.5f sd %.5f", mean, sd);
	double want = 0.02 / sqrt(2.0 * c.n_layer);
	stats(a->param[QN_FCPROJW], a->param_size[QN_FCPROJW], &mean, &sd);
	ok(fabs(sd - want) < 0.03 * want, "fcprojw scaled by 1/sqrt(2L): sd %.5f want %.5f", sd, want);
	stats(a->param[QN_ATTPROJW], a->param_size[QN_ATTPROJW], &mean, &sd);
	ok(fabs(sd - want) < 0.03 * want, "attprojw scaled by 1/sqrt(2L): sd %.5f want %.5f", sd, want);
	/* the tails of a normal: about 0.27% beyond 3 sd */
	size_t far = 0, n = a->param_size[QN_FCW];
	for (size_t i = 0; i < n; i++)
		far += fabsf(a->param[QN_FCW][i]) > 0.06f;
	ok(far > n * 0.0018 && far < n * 0.0036, "fcw tails beyond 3 sd: %.4f%%", 100.0 * far / n);

	int zero = 1, one = 1;
	for (size_t i = (size_t)c.vocab * c.channels; i < a->param_size[QN_WTE]; i++)
		zero &= a->param[QN_WTE][i] == 0;
	ok(zero, "padded vocabulary rows are zero");
	zero = 1;
	for (int p = 0; p < QN_NPARAM; p++) {
		int bias = p == QN_LN1B || p == QN_QKVB || p == QN_ATTPROJB || p == QN_LN2B ||
			   p == QN_FCB || p == QN_FCPROJB || p == QN_LNFB;
		int lnw = p == QN_LN1W || p == QN_LN2W || p == QN_LNFW;
		for (size_t i = 0; i < a->param_size[p]; i++) {
			if (bias)
				zero &= a->param[p][i] == 0;
			if (lnw)
				one &= a->param[p][i] == 1;
		}
	}
	ok(zero && one, "biases zero, LayerNorm weights one");
	qn_gpt_free(a);
	qn_gpt_free(b);
}

/* relative L2 error of got against want */
static double relerr(const float *got, const float *want, size_t n)
{
	double num = 0, den = 0;
	for (size_t i = 0; i < n; i++) {
		double d = (double)got[i] - want[i];
		num += d * d;
		den += (double)want[i] * want[i];
	}
	return den > 0 ? sqrt(num / den) : sqrt(num);
}

enum { B = 3, T = 16 };

static void batch(int32_t *inp, int32_t *tgt, int n, int vocab)
{
	for (int i = 0; i < n; i++) {
		inp[i] = (int32_t)(tap_rand() % vocab);
		tgt[i] = (int32_t)(tap_rand() % vocab);
	}
}

static void adamw_all(struct qn_gpt *m, float *mm, float *vv, int t, int fast)
{
	for (int p = 0; p < QN_NPARAM; p++) {
		size_t off = m->param[p] - m->params;
		float wd = qn_gpt_param_decays(p) ? 0.1f : 0.0f;
		(fast ? qn_fast_adamw : qn_ref_adamw)(m->param[p], m->grad[p], mm + off, vv + off,
						      m->param_size[p], 1e-3f, 0.9f, 0.95f,
						      1e-8f, wd, t);
	}
}

static void test_fast_vs_ref(void)
{
	struct qn_gpt_config c = { .max_seq = 32, .vocab = 300, .n_layer = 2,
				   .n_head = 4, .channels = 64 };
	struct qn_gpt *r, *f;
	struct qn_err err;
	int32_t inp[B * T], tgt[B * T];

	qn_gpt_new(&r, &c, B, T, QN_GPT_REF, &err);
	qn_gpt_new(&f, &c, B, T, QN_GPT_FAST, &err);
	qn_gpt_init(r, 5);
	qn_gpt_init(f, 5);
	batch(inp, tgt, B * T, c.vocab);

	size_t n = r->nparams, nl = (size_t)B * T * r->cfg.padded_vocab;
	float *mr = calloc(n, 4), *vr = calloc(n, 4), *mf = calloc(n, 4), *vf = calloc(n, 4);
	for (int step = 1; step <= 3; step++) {
		qn_gpt_zero_grad(r);
		qn_gpt_zero_grad(f);
		float lr = qn_gpt_forward(r, inp, tgt, B, T);
		float lf = qn_gpt_forward(f, inp, tgt, B, T);
		ok(fabsf(lr - lf) <= 1e-5f * lr, "step %d: fast loss %.7f, ref %.7f", step, lf, lr);
		/* step 1 starts from the same weights; after it, AdamW's
		 * normalised steps carry the fp32 differences along */
		double tol = step == 1 ? 1e-5 : 1e-4;
		ok(relerr(qn_gpt_logits(f), qn_gpt_logits(r), nl) < tol, "step %d: logits agree (%.3g)",
		   step, relerr(qn_gpt_logits(f), qn_gpt_logits(r), nl));
		qn_gpt_backward(r);
		qn_gpt_backward(f);
		double worst = 0;
		int wp = 0;
		for (int p = 0; p < QN_NPARAM; p++) {
			double e = relerr(f->grad[p], r->grad[p], r->param_size[p]);
			if (e > worst)
				worst = e, wp = p;
		}
		ok(worst < 10 * tol, "step %d: every gradient agrees (worst %s, %.3g)", step,
		   qn_gpt_param_name(wp), worst);
		adamw_all(r, mr, vr, step, 0);
		adamw_all(f, mf, vf, step, 1);
	}
	ok(relerr(f->params, r->params, n) < 1e-5, "after 3 AdamW steps the weights agree (%.3g)",
	   relerr(f->params, r->params, n));

	/* forward without targets: the same logits, loss -1 */
	float *keep = malloc(nl * 4);
	qn_gpt_forward(f, inp, tgt, B, T);
	memcpy(keep, qn_gpt_logits(f), nl * 4);
	ok(qn_gpt_forward(f, inp, NULL, B, T) == -1 && f->loss == -1, "no targets, loss -1");
	ok(!memcmp(keep, qn_gpt_logits(f), nl * 4), "no targets, the same logits");

	/* the same bytes twice and for one and two threads */
	float *g1 = malloc(n * 4);
	qn_gpt_zero_grad(f);
	float l1 = qn_gpt_forward(f, inp, tgt, B, T);
	qn_gpt_backward(f);
	memcpy(g1, f->grads, n * 4);
	int saved = omp_get_max_threads();
	for (int th = 2; th >= 1; th--) {
		omp_set_num_threads(th);
		qn_gpt_zero_grad(f);
		float l2 = qn_gpt_forward(f, inp, tgt, B, T);
		qn_gpt_backward(f);
		ok(l1 == l2 && !memcmp(g1, f->grads, n * 4),
		   "fast model, %d thread%s: the same loss and gradient bytes", th, th > 1 ? "s" : "");
	}
	omp_set_num_threads(saved);

	/* gradient accumulation: two backward passes add up */
	int32_t inp2[B * T], tgt2[B * T];
	float *g2 = malloc(n * 4), *sum = malloc(n * 4);
	batch(inp2, tgt2, B * T, c.vocab);
	qn_gpt_zero_grad(f);
	qn_gpt_forward(f, inp2, tgt2, B, T);
	qn_gpt_backward(f);
	memcpy(g2, f->grads, n * 4);
	for (size_t i = 0; i < n; i++)
		sum[i] = g1[i] + g2[i];
	qn_gpt_zero_grad(f);
	qn_gpt_forward(f, inp, tgt, B, T);
	qn_gpt_backward(f);
	qn_gpt_forward(f, inp2, tgt2, B, T);
	qn_gpt_backward(f);
	ok(relerr(f->grads, sum, n) < 1e-6, "two backward passes add their gradients (%.2g)",
	   relerr(f->grads, sum, n));
	free(g2), free(sum);

	/* a smaller batch than allocated equals a model made for it */
	struct qn_gpt *s;
	qn_gpt_new(&s, &c, 2, 9, QN_GPT_REF, &err);
	memcpy(s->params, r->params, n * 4);
	qn_gpt_zero_grad(r);
	qn_gpt_zero_grad(s);
	float a = qn_gpt_forward(r, inp, tgt, 2, 9), b = qn_gpt_forward(s, inp, tgt, 2, 9);
	qn_gpt_backward(r);
	qn_gpt_backward(s);
	ok(a == b && !memcmp(r->grads, s->grads, n * 4) &&
	   !memcmp(qn_gpt_logits(r), qn_gpt_logits(s), (size_t)2 * 9 * c.padded_vocab * 4),
	   "a 2 x 9 batch in a 3 x 16 model: the same bytes as a 2 x 9 model");
	qn_gpt_free(s);

	free(mr), free(vr), free(mf), free(vf), free(keep), free(g1);
	qn_gpt_free(r);
	qn_gpt_free(f);
}

int main(void)
{
	test_config();
	test_init();
	test_fast_vs_ref();
	return done_testing();
}
