/*
 * kv.c: generation with a key/value cache (see gpt.h).
 *
 * Each step feeds one token at the next position: the layers run on that
 * one row, its keys and values are appended to the cache ([L, max_seq, C]
 * each), and attention reads the cached rows of every earlier position,
 * so a new token costs one position's work plus a dot product per cached
 * position, not a forward pass over the whole prefix.  The arithmetic is
 * the model's own ops (ops.h) on a batch of one row, with the model's
 * implementation (reference or fast), and single-query causal attention
 * written here as llm.c's attention_forward does it for the last row;
 * the logits agree with a full forward over the prefix (t_gpt_kv).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gpt.h"
#include "ops.h"

struct qn_gpt_kv {
	int pos;		/* the next position */
	int L, C, T;
	float *k, *v;		/* [L, T, C] */
	float *x, *ln, *mean, *rstd, *qkv, *att, *atty, *proj, *fch, *fchg;
};

typedef void (*ln_fn)(float *, float *, float *, const float *, const float *,
		      const float *, int, int);
typedef void (*mm_fn)(float *, const float *, const float *, const float *,
		      int, int, int);
typedef void (*gelu_fn)(float *, const float *, size_t);

struct qn_gpt_kv *qn_gpt_kv_new(const struct qn_gpt *m)
{
	struct qn_gpt_kv *kv = qn_xcalloc(1, sizeof *kv);
	size_t L = (size_t)m->cfg.n_layer, C = (size_t)m->cfg.channels;
	size_t T = (size_t)m->cfg.max_seq;

	kv->L = (int)L;
	kv->C = (int)C;
	kv->T = (int)T;
	kv->k = qn_xcalloc(L * T * C, sizeof(float));
	kv->v = qn_xcalloc(L * T * C, sizeof(float));
	kv->x = qn_xcalloc(C, sizeof(float));
	kv->ln = qn_xcalloc(C, sizeof(float));
	kv->mean = qn_xcalloc(1, sizeof(float));
	kv->rstd = qn_xcalloc(1, sizeof(float));
	kv->qkv = qn_xcalloc(3 * C, sizeof(float));
	kv->att = qn_xcalloc(T, sizeof(float));
	kv->atty = qn_xcalloc(C, sizeof(float));
	kv->proj = qn_xcalloc(C, sizeof(float));
	kv->fch = qn_xcalloc(4 * C, sizeof(float));
	kv->fchg = qn_xcalloc(4 * C, sizeof(float));
	return kv;
}

void qn_gpt_kv_reset(struct qn_gpt_kv *kv)
{
	kv->pos = 0;
}

void qn_gpt_kv_free(struct qn_gpt_kv *kv)
{
	if (!kv)
		return;
	free(kv->k);
	free(kv->v);
	free(kv->x);
	free(kv->ln);
	free(kv->mean);
	free(kv->rstd);
	free(kv->qkv);
	free(kv->att);
	free(kv->atty);
	free(kv->proj);
	free(kv->fch);
	free(kv->fchg);
	free(kv);
}

/*
 * One query row q [C] against the cached keys and values of positions
 * 0..t of one layer (kc, vc: [T, C]): out [C], head by head.
 */
static void attend(float *out, float *att, const float *q, const float *kc,
		   const float *vc, int t, int C, int NH)
{
	int hs = C / NH;
	float scale = 1.0f / sqrtf((float)hs);

	for (int h = 0; h < NH; h++) {
		const float *qh = q + h * hs;
		float maxv = -INFINITY, sum = 0, *oh = out + h * hs;

		for (int t2 = 0; t2 <= t; t2++) {
			const float *kh = kc + (size_t)t2 * C + h * hs;
			float val = 0;

			for (int i = 0; i < hs; i++)
				val += qh[i] * kh[i];
			val *= scale;
			if (val > maxv)
				maxv = val;
			att[t2] = val;
		}
		for (int t2 = 0; t2 <= t; t2++) {
			float e = expf(att[t2] - maxv);

			sum += e;
			att[t2] = e;
		}
		float inv = sum == 0 ? 0 : 1.0f / sum;

		memset(oh, 0, (size_t)hs * sizeof *oh);
		for (int t2 = 0; t2 <= t; t2++) {
			const float *vh = vc + (size_t)t2 * C + h * hs;
			float w = att[t2] * inv;

			for (int i = 0; i < hs; i++)
				oh[i] += w * vh[i];
		}
	}
}

int qn_gpt_kv_step(const struct qn_gpt *m, struct qn_gpt_kv *kv, int32_t token,
		   float *logits, struct qn_err *err)
{
	const struct qn_gpt_config *c = &m->cfg;
	int fast = m->impl == QN_GPT_FAST;
	ln_fn layernorm = fast ? qn_fast_layernorm_forward : qn_ref_layernorm_forward;
	mm_fn matmul = fast ? qn_fast_matmul_forward : qn_ref_matmul_forward;
	gelu_fn gelu = fast ? qn_fast_gelu_forward : qn_ref_gelu_forward;
	int C = c->channels, t = kv->pos;
	float *const *p = m->param;

	if (kv->C != C || kv->L != c->n_layer || kv->T != c->max_seq)
		return qn_err_set(err, QN_EUSAGE, "key/value cache made for another model");
	if (t >= c->max_seq)
		return qn_err_set(err, QN_EUSAGE, "position %d is past the context length %d",
				  t, c->max_seq);
	if (token < 0 || token >= c->vocab)
		return qn_err_set(err, QN_EUSAGE, "token %d out of range (vocabulary %d)",
				  (int)token, c->vocab);
	for (int i = 0; i < C; i++)
		kv->x[i] = p[QN_WTE][(size_t)token * C + i] + p[QN_WPE][(size_t)t * C + i];
	for (int l = 0; l < c->n_layer; l++) {
		size_t cc = (size_t)l * C * C, lt = (size_t)l * kv->T * C;

		layernorm(kv->ln, kv->mean, kv->rstd, kv->x, p[QN_LN1W] + l * C,
			  p[QN_LN1B] + l * C, 1, C);
		matmul(kv->qkv, kv->ln, p[QN_QKVW] + 3 * cc, p[QN_QKVB] + l * 3 * C, 1, C, 3 * C);
		memcpy(kv->k + lt + (size_t)t * C, kv->qkv + C, (size_t)C * sizeof(float));
		memcpy(kv->v + lt + (size_t)t * C, kv->qkv + 2 * C, (size_t)C * sizeof(float));
		attend(kv->atty, kv->att, kv->qkv, kv->k + lt, kv->v + lt, t, C, c->n_head);
		matmul(kv->proj, kv->atty, p[QN_ATTPROJW] + cc, p[QN_ATTPROJB] + l * C, 1, C, C);
		for (int i = 0; i < C; i++)
			kv->x[i] += kv->proj[i];
		layernorm(kv->ln, kv->mean, kv->rstd, kv->x, p[QN_LN2W] + l * C,
			  p[QN_LN2B] + l * C, 1, C);
		matmul(kv->fch, kv->ln, p[QN_FCW] + 4 * cc, p[QN_FCB] + l * 4 * C, 1, C, 4 * C);
		gelu(kv->fchg, kv->fch, (size_t)4 * C);
		matmul(kv->proj, kv->fchg, p[QN_FCPROJW] + 4 * cc, p[QN_FCPROJB] + l * C, 1, 4 * C, C);
		for (int i = 0; i < C; i++)
			kv->x[i] += kv->proj[i];
	}
	layernorm(kv->ln, kv->mean, kv->rstd, kv->x, p[QN_LNFW], p[QN_LNFB], 1, C);
	matmul(logits, kv->ln, p[QN_WTE], NULL, 1, C, c->vocab);
	for (int i = c->vocab; i < c->padded_vocab; i++)
		logits[i] = -INFINITY;
	kv->pos++;
	return 0;
}
