/*
 * t_gpt_torch: the model against PyTorch.  The same tiny model (same
 * weights, same batch) runs here, on the reference and the fast path,
 * and in tests/model/gpt_torch.py under $TORCH_PYTHON (Debian's
 * python3-torch belongs to /usr/bin/python3, the default); compared:
 * logits, loss and every parameter gradient after one forward/backward
 * (relative tolerances as llm.c's test: 1e-2 on logits, 2e-2 on
 * gradients; the errors reached are printed, ~1e-6), then the losses of
 * 10 AdamW steps (qn_fast_adamw against torch.optim.AdamW, the same
 * hyperparameters, decay on the tensors qn_gpt_param_decays names).
 * Skips when that Python has no torch.
 */
#include <math.h>

#include "gpt.h"
#include "ops.h"
#include "../tap.h"

enum { B = 2, T = 12, STEPS = 10 };
static const float LR = 1e-3f, BETA1 = 0.9f, BETA2 = 0.95f, EPS = 1e-8f, WD = 0.1f;

static const char *python(void)
{
	const char *p = getenv("TORCH_PYTHON");
	return p && *p ? p : "/usr/bin/python3";
}

/* max |got - want| over max |want|: the error relative to the tensor's scale */
static double relmax(const float *got, const float *want, size_t n)
{
	double d = 0, s = 0;
	for (size_t i = 0; i < n; i++) {
		d = fmax(d, fabs((double)got[i] - want[i]));
		s = fmax(s, fabs((double)want[i]));
	}
	return s > 0 ? d / s : d;
}

int main(void)
{
	struct qn_gpt_config cfg = { .max_seq = 16, .vocab = 211, .n_layer = 2,
				     .n_head = 4, .channels = 32 };
	struct qn_gpt *m;
	struct qn_err err;
	char cmd[2048];
	int32_t inp[B * T], tgt[B * T];

	snprintf(cmd, sizeof cmd, "'%s' -c 'import torch' >/dev/null 2>&1", python());
	if (system(cmd) != 0) {
		snprintf(cmd, sizeof cmd, "%s cannot import torch (apt-get install python3-torch)",
			 python());
		skip_all(cmd);
	}
	const char *src = getenv("QN_TOP_SRCDIR");
	if (!src)
		src = ".";
	tap_tmpdir();

	qn_gpt_new(&m, &cfg, B, T, QN_GPT_REF, &err);
	cfg = m->cfg;
	qn_gpt_init(m, 20240326);
	/* biases and LayerNorm parameters off their initial 0 and 1, so their
	 * gradients are tested as they will be after some training */
	for (int p = 0; p < QN_NPARAM; p++)
		if (!qn_gpt_param_decays(p))
			for (size_t i = 0; i < m->param_size[p]; i++)
				m->param[p][i] += (float)((int)(tap_rand() % 2001) - 1000) * 1e-4f;
	for (int i = 0; i < B * T; i++) {
		inp[i] = (int32_t)(tap_rand() % cfg.vocab);
		tgt[i] = (int32_t)(tap_rand() % cfg.vocab);
	}

	/* the input file */
	int32_t hdr[12] = { 0x71677074, cfg.max_seq, cfg.vocab, cfg.padded_vocab, cfg.n_layer,
			    cfg.n_head, cfg.channels, B, T, STEPS, 0, 0 };
	float hyper[5] = { LR, BETA1, BETA2, EPS, WD };
	FILE *f = fopen(tap_path("in.bin"), "wb");
	fwrite(hdr, sizeof hdr, 1, f);
	fwrite(m->params, 4, m->nparams, f);
	fwrite(inp, 4, B * T, f);
	fwrite(tgt, 4, B * T, f);
	fwrite(hyper, sizeof hyper, 1, f);
	ok(fclose(f) == 0, "weights and batch written (%zu parameters)", m->nparams);

	snprintf(cmd, sizeof cmd, "'%s' '%s/tests/model/gpt_torch.py' '%s' '%s'", python(), src,
		 tap_path("in.bin"), tap_path("out.bin"));
	if (!ok(system(cmd) == 0, "PyTorch ran the model")) {
		tap_cleanup();
		return done_testing();
	}
	size_t nl = (size_t)B * T * cfg.padded_vocab, nout = nl + 1 + m->nparams + STEPS;
	float *want = malloc(nout * 4);
	f = fopen(tap_path("out.bin"), "rb");
	size_t got = f ? fread(want, 4, nout, f) : 0;
	if (f)
		fclose(f);
	if (!ok(got == nout, "PyTorch's results read (%zu of %zu floats)", got, nout)) {
		tap_cleanup();
		return done_testing();
	}
	const float *wlogits = want, *wloss = want + nl, *wgrad = want + nl + 1;
	const float *wlosses = wgrad + m->nparams;

	float *init = malloc(m->nparams * 4);
	memcpy(init, m->params, m->nparams * 4);
	for (int impl = QN_GPT_REF; impl <= QN_GPT_FAST; impl++) {
		const char *name = impl == QN_GPT_REF ? "ref" : "fast";
		struct qn_gpt *g;

		qn_gpt_new(&g, &cfg, B, T, impl, &err);
		memcpy(g->params, init, g->nparams * 4);
		qn_gpt_zero_grad(g);
		float loss = qn_gpt_forward(g, inp, tgt, B, T);
		qn_gpt_backward(g);
		double e = relmax(qn_gpt_logits(g), wlogits, nl);
		ok(e < 1e-2, "%s: logits match PyTorch (relative error %.2g)", name, e);
		e = fabs(loss - *wloss) / *wloss;
		ok(e < 1e-2, "%s: loss %.6f, PyTorch %.6f (relative error %.2g)", name, loss, *wloss, e);
		for (int p = 0; p < QN_NPARAM; p++) {
			size_t off = g->param[p] - g->params;
			e = relmax(g->grad[p], wgrad + off, g->param_size[p]);
			ok(e < 2e-2, "%s: %s gradient matches PyTorch (relative error %.2g)", name,
			   qn_gpt_param_name(p), e);
		}

		/* 10 AdamW steps from the same start */
		float *mm = calloc(g->nparams, 4), *vv = calloc(g->nparams, 4);
		double worst = 0;
		int ws = 0;
		for (int step = 1; step <= STEPS; step++) {
			qn_gpt_zero_grad(g);
			float l = qn_gpt_forward(g, inp, tgt, B, T);
			qn_gpt_backward(g);
			for (int p = 0; p < QN_NPARAM; p++) {
				size_t off = g->param[p] - g->params;
				(impl == QN_GPT_FAST ? qn_fast_adamw : qn_ref_adamw)(
					g->param[p], g->grad[p], mm + off, vv + off, g->param_size[p],
					LR, BETA1, BETA2, EPS, qn_gpt_param_decays(p) ? WD : 0, step);
			}
			e = fabs(l - wlosses[step - 1]) / wlosses[step - 1];
			printf("# %s step %2d: loss %.6f, PyTorch %.6f\n", name, step, l, wlosses[step - 1]);
			if (e > worst)
				worst = e, ws = step;
		}
		ok(worst < 1e-2 && wlosses[STEPS - 1] < wlosses[0] - 0.05f,
		   "%s: 10 AdamW steps give PyTorch's losses (worst relative error %.2g at step %d; "
		   "%.4f -> %.4f)", name, worst, ws, wlosses[0], wlosses[STEPS - 1]);
		free(mm), free(vv);
		qn_gpt_free(g);
	}
	free(init), free(want);
	qn_gpt_free(m);
	tap_cleanup();
	return done_testing();
}
