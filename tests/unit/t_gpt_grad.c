/*
 * t_gpt_grad: every gradient of the model against finite differences in
 * double precision, on a tiny model.
 *
 * The reference ops are built a second time over double (qn_refd_*, this
 * test's copy of model/ops_ref.c compiled with -DQN_REF_DOUBLE) and this
 * file includes model/gpt_pass.h over double: the same forward and
 * backward composition that gpt.c runs in fp32.  Then
 *  1. every parameter's analytic gradient (double) is checked against the
 *     central difference (L(p + h) - L(p - h)) / 2h of the double loss,
 *     h = 1e-5: the truncation error is ~h^2 and the rounding ~1e-16/h,
 *     both far below the tolerance, so a wrong backward cannot hide;
 *  2. the fp32 model (qn_gpt_*, the reference and the fast path) gives
 *     the same loss and gradients as the double pass to fp32 accuracy.
 * Together: the fp32 model's gradients are the derivative of its loss.
 */
#include <math.h>

#include "gpt.h"
#include "ops.h"
#include "../tap.h"

QN_OPS_T(qn_refd_, double)

struct pass_ops { int unused; };
#define REAL double
#define OP(name) qn_refd_##name
#include "gpt_pass.h"

enum { B = 2, T = 5 };

static double urand(void)
{
	return (double)(tap_rand() >> 11) * 0x1p-53 * 2 - 1;
}

int main(void)
{
	struct qn_gpt_config cfg = { .max_seq = 7, .vocab = 37, .n_layer = 2,
				     .n_head = 2, .channels = 8 };
	struct qn_gpt *m;
	struct qn_err err;
	int32_t inp[B * T], tgt[B * T];

	if (qn_gpt_new(&m, &cfg, B, T, QN_GPT_REF, &err) < 0) {
		printf("# %s\n", err.msg);
		return 1;
	}
	cfg = m->cfg;
	qn_gpt_init(m, 11);
	/* random, not-so-small weights everywhere (biases and LayerNorm too),
	 * so every path carries gradient; the padded vocabulary stays zero */
	for (int p = 0; p < QN_NPARAM; p++)
		for (size_t i = 0; i < m->param_size[p]; i++)
			m->param[p][i] += (float)(0.3 * urand());
	memset(m->param[QN_WTE] + (size_t)cfg.vocab * cfg.channels, 0,
	       (size_t)(cfg.padded_vocab - cfg.vocab) * cfg.channels * sizeof(float));
	for (int i = 0; i < B * T; i++) {
		inp[i] = (int32_t)(tap_rand() % cfg.vocab);
		tgt[i] = (int32_t)(tap_rand() % cfg.vocab);
	}
	inp[3] = inp[1];	/* a repeated token: its embedding gradient adds up */

	/* the double model: parameters, gradients, activations */
	size_t n = m->nparams, asz[A_COUNT], atotal = pass_act_sizes(&cfg, B, T, asz);
	double *P = calloc(n, sizeof *P), *G = calloc(n, sizeof *G);
	double *acts = calloc(atotal, sizeof *acts), *pv[QN_NPARAM], *gv[QN_NPARAM], *av[A_COUNT];
	for (size_t i = 0; i < n; i++)
		P[i] = m->params[i];
	for (int p = 0, off = 0; p < QN_NPARAM; off += (int)m->param_size[p], p++) {
		pv[p] = P + off;
		gv[p] = G + off;
	}
	for (int i = 0, off = 0; i < A_COUNT; off += (int)asz[i], i++)
		av[i] = acts + off;

	double loss = pass_forward(NULL, &cfg, pv, av, inp, tgt, B, T);
	pass_backward(NULL, &cfg, pv, gv, av, inp, tgt, B, T, 0);
	ok(loss > 0 && isfinite(loss), "double loss %.12f", loss);

	/* 1. finite differences for every parameter */
	const double h = 1e-5;
	for (int p = 0; p < QN_NPARAM; p++) {
		double worst = 0, gmax = 0;
		size_t wi = 0;
		for (size_t i = 0; i < m->param_size[p]; i++) {
			double save = pv[p][i];
			pv[p][i] = save + h;
			double lp = pass_forward(NULL, &cfg, pv, av, inp, tgt, B, T);
			pv[p][i] = save - h;
			double lm = pass_forward(NULL, &cfg, pv, av, inp, tgt, B, T);
			pv[p][i] = save;
			double fd = (lp - lm) / (2 * h), e = fabs(fd - gv[p][i]);
			if (fabs(gv[p][i]) > gmax)
				gmax = fabs(gv[p][i]);
			e /= 1e-8 + 1e-6 * fabs(gv[p][i]);
			if (e > worst) {
				worst = e;
				wi = i;
			}
		}
		if (!ok(worst <= 1 && gmax > 0, "%s: %zu gradients match finite differences "
			"(largest %.3g, worst %.3g of tolerance)", qn_gpt_param_name(p),
			m->param_size[p], gmax, worst))
			printf("#   at %zu: analytic %.12g\n", wi, gv[p][wi]);
	}

	/* 2. the fp32 model against the double pass */
	for (int impl = QN_GPT_REF; impl <= QN_GPT_FAST; impl++) {
		struct qn_gpt *f;
		const char *name = impl == QN_GPT_REF ? "ref" : "fast";

		qn_gpt_new(&f, &cfg, B, T, impl, &err);
		memcpy(f->params, m->params, n * sizeof(float));
		qn_gpt_zero_grad(f);
		float l32 = qn_gpt_forward(f, inp, tgt, B, T);
		qn_gpt_backward(f);
		ok(fabs(l32 - loss) <= 1e-6 * loss, "%s fp32 loss %.8f = double %.8f", name, l32, loss);
		double lmax = 0;
		const float *fl = qn_gpt_logits(f);
		for (size_t i = 0; i < (size_t)B * T * cfg.padded_vocab; i++)
			lmax = fmax(lmax, fabs(fl[i] - av[A_LOGITS][i]));
		ok(lmax < 1e-5, "%s fp32 logits within %.3g of double", name, lmax);
		for (int p = 0; p < QN_NPARAM; p++) {
			double num = 0, den = 0;
			for (size_t i = 0; i < m->param_size[p]; i++) {
				double d = f->grad[p][i] - gv[p][i];
				num += d * d;
				den += gv[p][i] * gv[p][i];
			}
			double rel = sqrt(num / den);
			ok(rel < 1e-5, "%s fp32 %s gradient: relative error %.3g",
			   name, qn_gpt_param_name(p), rel);
		}
		qn_gpt_free(f);
	}
	free(P), free(G), free(acts);
	qn_gpt_free(m);
	return done_testing();
}
