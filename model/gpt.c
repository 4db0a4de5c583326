/*
 * gpt.c: the GPT-2 model on the CPU (gpt.h): the parameter layout, the
 * activations for B x T, the forward and backward pass over the ops the
 * model was made with (the reference loops or the fast path), and
 * GPT-2's seeded initialisation.
 *
 * The pass itself lives in gpt_pass.h, written once over a real type, so
 * the gradient test can run the same composition in double precision.
 *
 * Initialisation is reproducible to the byte on any machine: each tensor
 * draws from its own splitmix64 stream (seeded by the seed and the
 * tensor's index), uniforms take the top 53 bits, and normals come from
 * Marsaglia's polar method with a logarithm written here in plain double
 * arithmetic (libm's log may differ in the last bit between systems; the
 * library is built with -ffp-contract=off so no compiler fuses it).
 */
#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gpt.h"
#include "ops.h"

/* The ops of one implementation, as a table of pointers. */
#define QN_OP_LIST(X) X(encoder_forward) X(encoder_backward) \
	X(layernorm_forward) X(layernorm_backward) X(matmul_forward) \
	X(matmul_backward) X(attention_forward) X(attention_backward) \
	X(gelu_forward) X(gelu_backward) X(residual_forward) \
	X(softmax_xent_forward) X(softmax_xent_backward)

struct pass_ops {
#define OP_FIELD(n) __typeof__(qn_ref_##n) *n;
	QN_OP_LIST(OP_FIELD)
#undef OP_FIELD
	/* the output projection fused with the cross-entropy, by vocabulary
	 * chunks (ops_fast.c); NULL: matmul and softmax_xent apart */
	__typeof__(qn_fast_head_forward) *head_forward;
	__typeof__(qn_fast_head_backward) *head_backward;
};

static const struct pass_ops ref_ops = {
#define OP_REF(n) .n = qn_ref_##n,
	QN_OP_LIST(OP_REF)
#undef OP_REF
	.head_forward = NULL,
	.head_backward = NULL,
};

static const struct pass_ops fast_ops = {
#define OP_FAST(n) .n = qn_fast_##n,
	QN_OP_LIST(OP_FAST)
#undef OP_FAST
	.head_forward = qn_fast_head_forward,
	.head_backward = qn_fast_head_backward,
};

#define REAL float
#define OP(name) ops->name
#define PASS_FUSED_XENT(ops) ((ops)->head_forward != NULL)
#include "gpt_pass.h"

struct gpt_priv {
	const struct pass_ops *ops;
	float *acts;
	float *a[A_COUNT];
	int32_t *inputs, *targets;	/* copies from the last forward */
	int B, T;			/* of the last forward */
	int have_targets;
	float *rows;			/* qn_gpt_logits' [B,T,Vp] for the fast path */
	int wte_grad_stale;		/* zero_grad left grad[QN_WTE] to the backward */
};

int qn_gpt_config_check(struct qn_gpt_config *c, struct qn_err *err)
{
	if (c->max_seq <= 0)
		return qn_err_set(err, QN_EUSAGE, "max_seq must be positive (got %d)", c->max_seq);
	if (c->vocab <= 0 || c->vocab > (1 << 30))
		return qn_err_set(err, QN_EUSAGE, "vocab out of range (got %d)", c->vocab);
	if (c->n_layer <= 0)
		return qn_err_set(err, QN_EUSAGE, "n_layer must be positive (got %d)", c->n_layer);
	if (c->n_head <= 0)
		return qn_err_set(err, QN_EUSAGE, "n_head must be positive (got %d)", c->n_head);
	if (c->channels <= 0 || c->channels % c->n_head)
		return qn_err_set(err, QN_EUSAGE,
				  "channels must be a positive multiple of n_head (got %d, %d heads)",
				  c->channels, c->n_head);
	c->padded_vocab = (c->vocab + 127) / 128 * 128;
	return 0;
}

size_t qn_gpt_param_sizes(const struct qn_gpt_config *c, size_t s[QN_NPARAM])
{
	size_t L = c->n_layer, C = c->channels, sum = 0;

	s[QN_WTE] = (size_t)c->padded_vocab * C;
	s[QN_WPE] = (size_t)c->max_seq * C;
	s[QN_LN1W] = s[QN_LN1B] = L * C;
	s[QN_QKVW] = L * 3 * C * C;
	s[QN_QKVB] = L * 3 * C;
	s[QN_ATTPROJW] = L * C * C;
	s[QN_ATTPROJB] = L * C;
	s[QN_LN2W] = s[QN_LN2B] = L * C;
	s[QN_FCW] = L * 4 * C * C;
	s[QN_FCB] = L * 4 * C;
	s[QN_FCPROJW] = L * C * 4 * C;
	s[QN_FCPROJB] = L * C;
	s[QN_LNFW] = s[QN_LNFB] = C;
	for (int i = 0; i < QN_NPARAM; i++)
		sum += s[i];
	return sum;
}

int qn_gpt_param_decays(enum qn_gpt_param p)
{
	return p == QN_WTE || p == QN_WPE || p == QN_QKVW || p == QN_ATTPROJW ||
	       p == QN_FCW || p == QN_FCPROJW;
}

const char *qn_gpt_param_name(enum qn_gpt_param p)
{
	static const char *const names[QN_NPARAM] = {
		"wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb",
		"ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb",
	};
	return (unsigned)p < QN_NPARAM ? names[p] : "?";
}

int qn_gpt_new(struct qn_gpt **out, const struct qn_gpt_config *c, int B, int T,
	       enum qn_gpt_impl impl, struct qn_err *err)
{
	struct qn_gpt_config cfg = *c;
	struct qn_gpt *m;
	struct gpt_priv *pv;
	size_t as[A_COUNT], total;
	float *at;
	int rc;

	*out = NULL;
	if ((rc = qn_gpt_config_check(&cfg, err)) < 0)
		return rc;
	if (B <= 0 || T <= 0 || T > cfg.max_seq)
		return qn_err_set(err, QN_EUSAGE, "batch %d x %d does not fit (context %d)",
				  B, T, cfg.max_seq);
	if (impl != QN_GPT_REF && impl != QN_GPT_FAST)
		return qn_err_set(err, QN_EUSAGE, "unknown implementation %d", (int)impl);
	m = qn_xcalloc(1, sizeof *m);
	pv = qn_xcalloc(1, sizeof *pv);
	m->cfg = cfg;
	m->impl = impl;
	m->B = B;
	m->T = T;
	m->priv = pv;
	m->loss = -1;
	pv->ops = impl == QN_GPT_FAST ? &fast_ops : &ref_ops;

	m->nparams = qn_gpt_param_sizes(&cfg, m->param_size);
	m->params = qn_xcalloc(m->nparams, sizeof(float));
	m->grads = qn_xcalloc(m->nparams, sizeof(float));
	float *p = m->params, *g = m->grads;
	for (int i = 0; i < QN_NPARAM; i++) {
		m->param[i] = p;
		m->grad[i] = g;
		p += m->param_size[i];
		g += m->param_size[i];
	}

	total = pass_act_sizes(&cfg, B, T, as);
	if (pv->ops->head_forward) {	/* no probabilities, no dlogits */
		total -= as[A_PROBS] + as[D_LOGITS];
		as[A_PROBS] = as[D_LOGITS] = 0;
	}
	pv->acts = at = qn_xcalloc(total, sizeof(float));
	for (int i = 0; i < A_COUNT; i++) {
		pv->a[i] = at;
		at += as[i];
	}
	pv->inputs = qn_xcalloc((size_t)B * T, sizeof(int32_t));
	pv->targets = qn_xcalloc((size_t)B * T, sizeof(int32_t));
	*out = m;
	return 0;
}

void qn_gpt_free(struct qn_gpt *m)
{
	struct gpt_priv *pv;

	if (!m)
		return;
	pv = m->priv;
	free(pv->acts);
	free(pv->inputs);
	free(pv->targets);
	free(pv->rows);
	free(pv);
	free(m->params);
	free(m->grads);
	free(m);
}

/* ---- seeded initialisation ---- */

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A uniform double in [0, 1) from the top 53 bits. */
static double uniform(uint64_t *s)
{
	return (double)(splitmix64(s) >> 11) * 0x1p-53;
}

/*
 * log(x) for x in (0, 1], in plain double arithmetic so that every IEEE
 * machine gives the same bits: x = m 2^e with m in [sqrt(1/2), sqrt(2)),
 * log m = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + ...), s = (m-1)/(m+1),
 * |s| < 0.172; 13 terms reach far below double precision.
 */
static double portable_log(double x)
{
	int e;
	double m = frexp(x, &e);	/* exact */

	if (m < 0.70710678118654752440) {
		m *= 2;
		e--;
	}
	double s = (m - 1) / (m + 1), s2 = s * s, poly = 1.0 / 25;
	for (int k = 23; k >= 1; k -= 2)
		poly = 1.0 / k + s2 * poly;
	return 2 * s * poly + e * 0.69314718055994530942;
}

/* Fills x[n] with N(0, std) draws from stream s (Marsaglia's polar method). */
static void fill_normal(float *x, size_t n, double std, uint64_t *s)
{
	size_t i = 0;

	while (i < n) {
		double u, v, r;
		do {
			u = 2 * uniform(s) - 1;
			v = 2 * uniform(s) - 1;
			r = u * u + v * v;
		} while (r >= 1 || r == 0);
		double f = sqrt(-2 * portable_log(r) / r);
		x[i++] = (float)(std * u * f);
		if (i < n)
			x[i++] = (float)(std * v * f);
	}
}

void qn_gpt_init(struct qn_gpt *m, uint64_t seed)
{
	const struct qn_gpt_config *c = &m->cfg;
	double proj = 0.02 / sqrt(2.0 * c->n_layer);

	memset(m->params, 0, m->nparams * sizeof(float));
	for (int i = 0; i < QN_NPARAM; i++) {
		uint64_t s = seed ^ (0xd1b54a32d192ed03ULL * (uint64_t)(i + 1));
		size_t n = m->param_size[i];

		switch (i) {
		case QN_WTE:	/* the padded rows stay zero */
			fill_normal(m->param[i], (size_t)c->vocab * c->channels, 0.02, &s);
			break;
		case QN_WPE: case QN_QKVW: case QN_FCW:
			fill_normal(m->param[i], n, 0.02, &s);
			break;
		case QN_ATTPROJW: case QN_FCPROJW:
			fill_normal(m->param[i], n, proj, &s);
			break;
		case QN_LN1W: case QN_LN2W: case QN_LNFW:
			for (size_t j = 0; j < n; j++)
				m->param[i][j] = 1;
			break;
		default:	/* biases */
			break;
		}
	}
}

/* ---- passes ---- */

float qn_gpt_forward(struct qn_gpt *m, const int32_t *inputs,
		     const int32_t *targets, int B, int T)
{
	struct gpt_priv *pv = m->priv;
	size_t n = (size_t)B * T;

	assert(B > 0 && T > 0 && B <= m->B && T <= m->T);
	for (size_t i = 0; i < n; i++)
		assert(inputs[i] >= 0 && inputs[i] < m->cfg.vocab);
	memcpy(pv->inputs, inputs, n * sizeof *inputs);
	pv->have_targets = targets != NULL;
	if (targets) {
		for (size_t i = 0; i < n; i++)
			assert(targets[i] >= 0 && targets[i] < m->cfg.vocab);
		memcpy(pv->targets, targets, n * sizeof *targets);
	}
	pv->B = B;
	pv->T = T;
	m->loss = (float)pass_forward(pv->ops, &m->cfg, m->param, pv->a, inputs,
				      targets, B, T);
	return m->loss;
}

const float *qn_gpt_logits(struct qn_gpt *m)
{
	struct gpt_priv *pv = m->priv;

	if (!pv->ops->head_forward)
		return pv->a[A_LOGITS];
	if (!pv->rows)
		pv->rows = qn_xmalloc((size_t)m->B * m->T * m->cfg.padded_vocab * sizeof(float));
	qn_fast_head_logits(pv->rows, pv->a[A_LOGITS], pv->B * pv->T, m->cfg.padded_vocab);
	return pv->rows;
}

/*
 * The fast path leaves the token embedding's gradient (6.4 M of issue 7's
 * 7.2 M) to the next backward, whose head writes it rather than adding
 * to it.
 */
void qn_gpt_zero_grad(struct qn_gpt *m)
{
	struct gpt_priv *pv = m->priv;
	float *wte = m->grad[QN_WTE], *end = m->grads + m->nparams;
	size_t nwte = m->param_size[QN_WTE];

	if (!pv->ops->head_backward) {
		memset(m->grads, 0, m->nparams * sizeof(float));
		return;
	}
	memset(m->grads, 0, (size_t)(wte - m->grads) * sizeof(float));
	memset(wte + nwte, 0, (size_t)(end - (wte + nwte)) * sizeof(float));
	pv->wte_grad_stale = 1;
}

void qn_gpt_backward(struct qn_gpt *m)
{
	struct gpt_priv *pv = m->priv;

	assert(pv->have_targets);
	pass_backward(pv->ops, &m->cfg, m->param, m->grad, pv->a, pv->inputs,
		      pv->targets, pv->B, pv->T, pv->wte_grad_stale);
	pv->wte_grad_stale = 0;
}
