/*
 * gpt_cuda.cu: the GPT-2 model of gpt.h on one GPU (the contract is
 * gpt_cuda.h; the kernels and matrix products are kernels.cu).
 *
 * The forward pass follows llm.c's layer order, with the residual add of
 * each sublayer fused into the LayerNorm that reads it:
 *
 *   ln1 = LN(res)                 (layer 0: res = the embeddings)
 *   qkv = ln1 . qkvw^T + qkvb     atty = attention(qkv)
 *   res2 = res + atty . attprojw^T + attprojb;  ln2 = LN(res2)   (fused)
 *   fchg = GELU(fch), fch = ln2 . fcw^T + fcb   (cuBLASLt epilogue)
 *   res3 = res2 + fchg . fcprojw^T + fcprojb;   next ln1 or lnf = LN(res3)
 *   logits = lnf . wte^T;  losses and dlogits in one kernel
 *
 * and backward walks it in reverse with one residual-stream gradient
 * buffer that each LayerNorm backward adds into.
 */
#include <stdlib.h>
#include <string.h>

#include "gpt_cuda.h"
#include "kernels.cuh"

#define NL 8	/* per-layer activation arrays */

struct qn_gpt_cuda {
	struct qn_gpt_config cfg;
	int B, T;			/* capacity */
	int curB, curT;			/* of the last forward */
	int have_forward;
	int fused;			/* attention: attention.cu's kernel */
	size_t nparams, bytes;
	size_t off[QN_NPARAM], size[QN_NPARAM];
	struct qn_cuda_ctx ctx;

	float *master, *m, *v;		/* fp32, nparams each */
	bf16 *params, *grads;		/* bf16, nparams each */

	/* activations, [L, B*T, width] per layer */
	bf16 *encoded, *ln1, *qkv, *atty, *att, *res2, *ln2, *fch, *fchg, *res3;
	float *ln1m, *ln1r, *ln2m, *ln2r;
	float *lse, *dD;		/* fused attention: [L,B,NH,T], [B,NH,T] */
	bf16 *lnf, *logits;
	float *lnfm, *lnfr, *losses;
	/* scratch */
	bf16 *qkvr, *vacc, *btc, *dres, *dbtc, *dbt4, *datt, *dqkvr, *dqkv;
	int32_t *d_inp, *d_tgt, *d_btok, *d_boff, *d_bpos;
	/* host: the inputs bucketed by token for the embedding backward */
	int32_t *h_cnt, *h_btok, *h_boff, *h_bpos;
	float *h_losses;
	int nbucket;
};

int qn_cuda_device_count(void)
{
	int n = 0;

	if (cudaGetDeviceCount(&n) != cudaSuccess) {
		cudaGetLastError();	/* clear the sticky error */
		return 0;
	}
	return n;
}

void qn_cuda_device_name(char *buf, size_t size)
{
	struct cudaDeviceProp p;
	int dev = 0;

	if (cudaGetDevice(&dev) != cudaSuccess || cudaGetDeviceProperties(&p, dev) != cudaSuccess) {
		snprintf(buf, size, "no CUDA device");
		return;
	}
	snprintf(buf, size, "%s, %d SMs, %.1f GiB", p.name, p.multiProcessorCount,
		 (double)p.totalGlobalMem / (1024.0 * 1024.0 * 1024.0));
}

/* cudaMalloc counted in g->bytes */
static int dalloc(struct qn_gpt_cuda *g, void **p, size_t bytes)
{
	QN_CUDA_CK(&g->ctx, cudaMalloc(p, bytes ? bytes : 1));
	g->bytes += bytes;
	return 0;
}

#define DALLOC(g, p, n) dalloc((g), (void **)&(p), (size_t)(n) * sizeof *(p))

size_t qn_gpt_cuda_nparams(const struct qn_gpt_cuda *g)
{
	return g->nparams;
}

size_t qn_gpt_cuda_memory(const struct qn_gpt_cuda *g)
{
	return g->bytes;
}

static int alloc_all(struct qn_gpt_cuda *g)
{
	const struct qn_gpt_config *c = &g->cfg;
	size_t L = (size_t)c->n_layer, C = (size_t)c->channels, NH = (size_t)c->n_head;
	size_t BT = (size_t)g->B * g->T, T = (size_t)g->T, Vp = (size_t)c->padded_vocab;

	QN_TRY(DALLOC(g, g->master, g->nparams));
	QN_TRY(DALLOC(g, g->m, g->nparams));
	QN_TRY(DALLOC(g, g->v, g->nparams));
	QN_TRY(DALLOC(g, g->params, g->nparams));
	QN_TRY(DALLOC(g, g->grads, g->nparams));
	QN_TRY(DALLOC(g, g->encoded, BT * C));
	QN_TRY(DALLOC(g, g->ln1, L * BT * C));
	QN_TRY(DALLOC(g, g->qkv, L * BT * 3 * C));
	QN_TRY(DALLOC(g, g->atty, L * BT * C));
	if (g->fused) {
		QN_TRY(DALLOC(g, g->lse, L * BT * NH));
		QN_TRY(DALLOC(g, g->dD, BT * NH));
	} else {
		QN_TRY(DALLOC(g, g->att, L * BT * NH * T));
		QN_TRY(DALLOC(g, g->datt, BT * NH * T));
		QN_TRY(DALLOC(g, g->dqkvr, 3 * BT * C));
	}
	QN_TRY(DALLOC(g, g->res2, L * BT * C));
	QN_TRY(DALLOC(g, g->ln2, L * BT * C));
	QN_TRY(DALLOC(g, g->fch, L * BT * 4 * C));
	QN_TRY(DALLOC(g, g->fchg, L * BT * 4 * C));
	QN_TRY(DALLOC(g, g->res3, L * BT * C));
	QN_TRY(DALLOC(g, g->ln1m, L * BT));
	QN_TRY(DALLOC(g, g->ln1r, L * BT));
	QN_TRY(DALLOC(g, g->ln2m, L * BT));
	QN_TRY(DALLOC(g, g->ln2r, L * BT));
	QN_TRY(DALLOC(g, g->lnf, BT * C));
	QN_TRY(DALLOC(g, g->lnfm, BT));
	QN_TRY(DALLOC(g, g->lnfr, BT));
	QN_TRY(DALLOC(g, g->logits, BT * Vp));
	QN_TRY(DALLOC(g, g->losses, BT));
	QN_TRY(DALLOC(g, g->qkvr, 3 * BT * C));
	QN_TRY(DALLOC(g, g->vacc, BT * C));
	QN_TRY(DALLOC(g, g->btc, BT * C));
	QN_TRY(DALLOC(g, g->dres, BT * C));
	QN_TRY(DALLOC(g, g->dbtc, BT * C));
	QN_TRY(DALLOC(g, g->dbt4, BT * 4 * C));
	QN_TRY(DALLOC(g, g->dqkv, BT * 3 * C));
	QN_TRY(DALLOC(g, g->d_inp, BT));
	QN_TRY(DALLOC(g, g->d_tgt, BT));
	QN_TRY(DALLOC(g, g->d_btok, BT));
	QN_TRY(DALLOC(g, g->d_boff, BT + 1));
	QN_TRY(DALLOC(g, g->d_bpos, BT));
	g->h_cnt = (int32_t *)qn_xcalloc(Vp, sizeof(int32_t));
	g->h_btok = (int32_t *)qn_xmalloc(BT * sizeof(int32_t));
	g->h_boff = (int32_t *)qn_xmalloc((BT + 1) * sizeof(int32_t));
	g->h_bpos = (int32_t *)qn_xmalloc(BT * sizeof(int32_t));
	g->h_losses = (float *)qn_xmalloc(BT * sizeof(float));
	return 0;
}

int qn_gpt_cuda_new(struct qn_gpt_cuda **out, const struct qn_gpt_config *c,
		    int B, int T, const float *params, struct qn_err *err)
{
	struct qn_gpt_cuda *g;
	const char *attn;
	size_t o = 0;
	int rc;

	*out = NULL;
	if (B < 1 || T < 1 || T > c->max_seq)
		return qn_err_set(err, QN_EUSAGE, "batch %d x %d does not fit the model (max_seq %d)", B, T, c->max_seq);
	if (c->n_head < 1 || c->channels % c->n_head || c->channels % 8 || c->padded_vocab % 8)
		return qn_err_set(err, QN_EUSAGE, "channels %d must be a multiple of 8 and of n_head %d",
				  c->channels, c->n_head);
	if (qn_cuda_device_count() < 1)
		return qn_err_set(err, QN_EIO, "no CUDA device");
	g = (struct qn_gpt_cuda *)qn_xcalloc(1, sizeof *g);
	g->cfg = *c;
	attn = getenv("QN_CUDA_ATTENTION");
	g->fused = attn && !strcmp(attn, "flash");
	if (g->fused && !qn_k_flash_supported(c->channels, c->n_head)) {
		free(g);
		return qn_err_set(err, QN_EUSAGE, "QN_CUDA_ATTENTION=flash: head size %d is not 16, 32, 64 or 128",
				  c->channels / c->n_head);
	}
	g->B = B;
	g->T = T;
	g->nparams = qn_gpt_param_sizes(c, g->size);
	for (int p = 0; p < QN_NPARAM; p++) {
		g->off[p] = o;
		o += g->size[p];
	}
	if ((rc = qn_cuda_ctx_init(&g->ctx, c->channels, err)) < 0 || (rc = alloc_all(g)) < 0 ||
	    (rc = qn_gpt_cuda_set(g, params, NULL, NULL, err)) < 0) {
		qn_gpt_cuda_free(g);
		return rc;
	}
	g->ctx.err = err;
	if ((rc = (cudaMemsetAsync(g->m, 0, g->nparams * sizeof(float), g->ctx.stream) != cudaSuccess ||
		   cudaMemsetAsync(g->v, 0, g->nparams * sizeof(float), g->ctx.stream) != cudaSuccess ||
		   cudaMemsetAsync(g->grads, 0, g->nparams * sizeof(bf16), g->ctx.stream) != cudaSuccess ||
		   cudaStreamSynchronize(g->ctx.stream) != cudaSuccess))) {
		qn_err_set(err, QN_EIO, "%s", cudaGetErrorString(cudaGetLastError()));
		qn_gpt_cuda_free(g);
		return QN_EIO;
	}
	*out = g;
	return 0;
}

void qn_gpt_cuda_free(struct qn_gpt_cuda *g)
{
	if (!g)
		return;
	if (g->ctx.stream)
		cudaStreamSynchronize(g->ctx.stream);
	void *all[] = {
		g->master, g->m, g->v, g->params, g->grads, g->encoded, g->ln1, g->qkv, g->atty,
		g->att, g->res2, g->ln2, g->fch, g->fchg, g->res3, g->ln1m, g->ln1r, g->ln2m,
		g->ln2r, g->lse, g->dD, g->lnf, g->lnfm, g->lnfr, g->logits, g->losses, g->qkvr, g->vacc, g->btc,
		g->dres, g->dbtc, g->dbt4, g->datt, g->dqkvr, g->dqkv, g->d_inp, g->d_tgt,
		g->d_btok, g->d_boff, g->d_bpos,
	};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		cudaFree(all[i]);
	qn_cuda_ctx_release(&g->ctx);
	free(g->h_cnt);
	free(g->h_btok);
	free(g->h_boff);
	free(g->h_bpos);
	free(g->h_losses);
	free(g);
}

/* views of the bf16 weights and gradients; layer l of a per-layer tensor */
static bf16 *P(struct qn_gpt_cuda *g, int p, int l)
{
	return g->params + g->off[p] + (size_t)l * (g->size[p] / (size_t)g->cfg.n_layer);
}

static bf16 *G(struct qn_gpt_cuda *g, int p, int l)
{
	return g->grads + g->off[p] + (size_t)l * (g->size[p] / (size_t)g->cfg.n_layer);
}

/*
 * The inputs bucketed by token, in token order, positions ascending in
 * each: the embedding backward then sums each row in a fixed order.
 */
static void bucket(struct qn_gpt_cuda *g, const int32_t *inp, int N)
{
	int Vp = g->cfg.padded_vocab, nb = 0, o = 0;

	memset(g->h_cnt, 0, (size_t)Vp * sizeof(int32_t));
	for (int n = 0; n < N; n++)
		g->h_cnt[inp[n]]++;
	for (int v = 0; v < Vp; v++) {
		if (!g->h_cnt[v])
			continue;
		g->h_btok[nb] = v;
		g->h_boff[nb++] = o;
		o += g->h_cnt[v];
		g->h_cnt[v] = o - g->h_cnt[v];	/* now the next free slot */
	}
	g->h_boff[nb] = o;
	for (int n = 0; n < N; n++)
		g->h_bpos[g->h_cnt[inp[n]]++] = n;
	g->nbucket = nb;
}

int qn_gpt_cuda_forward(struct qn_gpt_cuda *g, const int32_t *inputs,
			const int32_t *targets, int B, int T, float *loss,
			struct qn_err *err)
{
	struct qn_cuda_ctx *x = &g->ctx;
	const struct qn_gpt_config *c = &g->cfg;
	int L = c->n_layer, C = c->channels, NH = c->n_head, Vp = c->padded_vocab, N = B * T;
	size_t cap = (size_t)g->B * g->T;	/* the layer stride of the activations */
	double sum = 0.0;

	x->err = err;
	g->have_forward = 0;
	if (B < 1 || T < 1 || B > g->B || T > g->T)
		return qn_err_set(err, QN_EUSAGE, "batch %d x %d exceeds the model's %d x %d", B, T, g->B, g->T);
	for (int n = 0; n < N; n++)
		if (inputs[n] < 0 || inputs[n] >= c->vocab || targets[n] < 0 || targets[n] >= c->vocab)
			return qn_err_set(err, QN_EUSAGE, "token %d at position %d is outside the vocabulary (%d)",
					  inputs[n] < 0 || inputs[n] >= c->vocab ? inputs[n] : targets[n], n, c->vocab);
	bucket(g, inputs, N);
	QN_CUDA_CK(x, cudaMemcpyAsync(g->d_inp, inputs, (size_t)N * sizeof(int32_t), cudaMemcpyHostToDevice, x->stream));
	QN_CUDA_CK(x, cudaMemcpyAsync(g->d_tgt, targets, (size_t)N * sizeof(int32_t), cudaMemcpyHostToDevice, x->stream));
	QN_CUDA_CK(x, cudaMemcpyAsync(g->d_btok, g->h_btok, (size_t)g->nbucket * sizeof(int32_t), cudaMemcpyHostToDevice, x->stream));
	QN_CUDA_CK(x, cudaMemcpyAsync(g->d_boff, g->h_boff, (size_t)(g->nbucket + 1) * sizeof(int32_t), cudaMemcpyHostToDevice, x->stream));
	QN_CUDA_CK(x, cudaMemcpyAsync(g->d_bpos, g->h_bpos, (size_t)N * sizeof(int32_t), cudaMemcpyHostToDevice, x->stream));

	QN_TRY(qn_k_encoder_forward(x, g->encoded, g->d_inp, g->params + g->off[QN_WTE], g->params + g->off[QN_WPE], B, T, C));
	QN_TRY(qn_k_layernorm_forward(x, NULL, g->ln1, g->ln1m, g->ln1r, g->encoded, NULL,
				      P(g, QN_LN1W, 0), P(g, QN_LN1B, 0), N, C));
	for (int l = 0; l < L; l++) {
		const bf16 *res = l ? g->res3 + (l - 1) * cap * C : g->encoded;
		bf16 *ln1 = g->ln1 + l * cap * C, *qkv = g->qkv + l * cap * 3 * C;
		bf16 *atty = g->atty + l * cap * C, *att = g->att ? g->att + l * cap * NH * g->T : NULL;
		bf16 *res2 = g->res2 + l * cap * C, *ln2 = g->ln2 + l * cap * C;
		bf16 *fch = g->fch + l * cap * 4 * C, *fchg = g->fchg + l * cap * 4 * C;
		bf16 *res3 = g->res3 + l * cap * C;

		/* att holds [B,NH,T,T] at the current T, inside its capacity */
		QN_TRY(qn_k_matmul_forward(x, qkv, NULL, ln1, P(g, QN_QKVW, l), P(g, QN_QKVB, l), N, C, 3 * C));
		if (g->fused)
			QN_TRY(qn_k_flash_attention_forward(x, atty, g->lse + l * cap * NH, g->qkvr, qkv, B, T, C, NH));
		else
			QN_TRY(qn_k_attention_forward(x, atty, att, g->qkvr, g->vacc, qkv, B, T, C, NH));
		QN_TRY(qn_k_matmul_forward(x, g->btc, NULL, atty, P(g, QN_ATTPROJW, l), P(g, QN_ATTPROJB, l), N, C, C));
		QN_TRY(qn_k_layernorm_forward(x, res2, ln2, g->ln2m + l * cap, g->ln2r + l * cap, res, g->btc,
					      P(g, QN_LN2W, l), P(g, QN_LN2B, l), N, C));
		QN_TRY(qn_k_matmul_forward(x, fchg, fch, ln2, P(g, QN_FCW, l), P(g, QN_FCB, l), N, C, 4 * C));
		QN_TRY(qn_k_matmul_forward(x, g->btc, NULL, fchg, P(g, QN_FCPROJW, l), P(g, QN_FCPROJB, l), N, 4 * C, C));
		if (l + 1 < L)
			QN_TRY(qn_k_layernorm_forward(x, res3, g->ln1 + (l + 1) * cap * C, g->ln1m + (l + 1) * cap,
						      g->ln1r + (l + 1) * cap, res2, g->btc,
						      P(g, QN_LN1W, l + 1), P(g, QN_LN1B, l + 1), N, C));
		else
			QN_TRY(qn_k_layernorm_forward(x, res3, g->lnf, g->lnfm, g->lnfr, res2, g->btc,
						      g->params + g->off[QN_LNFW], g->params + g->off[QN_LNFB], N, C));
	}
	QN_TRY(qn_k_matmul_forward(x, g->logits, NULL, g->lnf, g->params + g->off[QN_WTE], NULL, N, C, Vp));
	QN_TRY(qn_k_softmax_xent(x, g->losses, g->logits, g->d_tgt, 1.0f / (float)N, N, c->vocab, Vp));
	QN_CUDA_CK(x, cudaMemcpyAsync(g->h_losses, g->losses, (size_t)N * sizeof(float), cudaMemcpyDeviceToHost, x->stream));
	QN_CUDA_CK(x, cudaStreamSynchronize(x->stream));
	for (int n = 0; n < N; n++)
		sum += g->h_losses[n];
	*loss = (float)(sum / N);
	g->curB = B;
	g->curT = T;
	g->have_forward = 1;
	return 0;
}

int qn_gpt_cuda_zero_grad(struct qn_gpt_cuda *g, struct qn_err *err)
{
	g->ctx.err = err;
	QN_CUDA_CK(&g->ctx, cudaMemsetAsync(g->grads, 0, g->nparams * sizeof(bf16), g->ctx.stream));
	return 0;
}

int qn_gpt_cuda_backward(struct qn_gpt_cuda *g, struct qn_err *err)
{
	struct qn_cuda_ctx *x = &g->ctx;
	const struct qn_gpt_config *c = &g->cfg;
	int L = c->n_layer, C = c->channels, NH = c->n_head, Vp = c->padded_vocab;
	int B = g->curB, T = g->curT, N = B * T;
	size_t cap = (size_t)g->B * g->T;

	x->err = err;
	if (!g->have_forward)
		return qn_err_set(err, QN_EUSAGE, "backward without a forward pass with targets");
	g->have_forward = 0;	/* the logits' gradient is consumed */
	QN_CUDA_CK(x, cudaMemsetAsync(g->dres, 0, (size_t)N * C * sizeof(bf16), x->stream));
	QN_TRY(qn_k_matmul_backward(x, g->dbtc, g->grads + g->off[QN_WTE], NULL, g->logits, g->lnf,
				    g->params + g->off[QN_WTE], N, C, Vp));
	QN_TRY(qn_k_layernorm_backward(x, g->dres, g->grads + g->off[QN_LNFW], g->grads + g->off[QN_LNFB],
				       g->dbtc, g->res3 + (L - 1) * cap * C, g->params + g->off[QN_LNFW],
				       g->lnfm, g->lnfr, N, C));
	for (int l = L - 1; l >= 0; l--) {
		const bf16 *res = l ? g->res3 + (l - 1) * cap * C : g->encoded;
		bf16 *ln1 = g->ln1 + l * cap * C, *qkv = g->qkv + l * cap * 3 * C;
		bf16 *atty = g->atty + l * cap * C, *att = g->att ? g->att + l * cap * NH * g->T : NULL;
		bf16 *res2 = g->res2 + l * cap * C, *ln2 = g->ln2 + l * cap * C;
		bf16 *fch = g->fch + l * cap * 4 * C, *fchg = g->fchg + l * cap * 4 * C;

		/* MLP: dres is the gradient of res3 */
		QN_TRY(qn_k_matmul_backward(x, g->dbt4, G(g, QN_FCPROJW, l), G(g, QN_FCPROJB, l), g->dres,
					    fchg, P(g, QN_FCPROJW, l), N, 4 * C, C));
		QN_TRY(qn_k_gelu_backward(x, g->dbt4, fch, g->dbt4, (size_t)N * 4 * C));
		QN_TRY(qn_k_matmul_backward(x, g->dbtc, G(g, QN_FCW, l), G(g, QN_FCB, l), g->dbt4,
					    ln2, P(g, QN_FCW, l), N, C, 4 * C));
		QN_TRY(qn_k_layernorm_backward(x, g->dres, G(g, QN_LN2W, l), G(g, QN_LN2B, l), g->dbtc,
					       res2, P(g, QN_LN2W, l), g->ln2m + l * cap, g->ln2r + l * cap, N, C));
		/* attention: dres is now the gradient of res2 */
		QN_TRY(qn_k_matmul_backward(x, g->dbtc, G(g, QN_ATTPROJW, l), G(g, QN_ATTPROJB, l), g->dres,
					    atty, P(g, QN_ATTPROJW, l), N, C, C));
		if (g->fused)
			QN_TRY(qn_k_flash_attention_backward(x, g->dqkv, g->qkvr, g->vacc, g->dD, g->dbtc, atty,
							     qkv, g->lse + l * cap * NH, B, T, C, NH));
		else
			QN_TRY(qn_k_attention_backward(x, g->dqkv, g->datt, g->qkvr, g->dqkvr, g->vacc, g->dbtc,
						       qkv, att, B, T, C, NH));
		QN_TRY(qn_k_matmul_backward(x, g->dbtc, G(g, QN_QKVW, l), G(g, QN_QKVB, l), g->dqkv,
					    ln1, P(g, QN_QKVW, l), N, C, 3 * C));
		QN_TRY(qn_k_layernorm_backward(x, g->dres, G(g, QN_LN1W, l), G(g, QN_LN1B, l), g->dbtc,
					       res, P(g, QN_LN1W, l), g->ln1m + l * cap, g->ln1r + l * cap, N, C));
	}
	QN_TRY(qn_k_encoder_backward(x, g->grads + g->off[QN_WTE], g->grads + g->off[QN_WPE], g->dres,
				     g->d_btok, g->d_boff, g->d_bpos, g->nbucket, B, T, C));
	QN_CUDA_CK(x, cudaStreamSynchronize(x->stream));
	return 0;
}

int qn_gpt_cuda_step(struct qn_gpt_cuda *g, const struct qn_adamw_hp *hp, int t,
		     int accum, float *grad_norm, struct qn_err *err)
{
	struct qn_cuda_ctx *x = &g->ctx;
	double norm;
	float gscale;

	x->err = err;
	if (t < 1 || accum < 1)
		return qn_err_set(err, QN_EUSAGE, "AdamW step %d over %d passes: both count from 1", t, accum);
	QN_TRY(qn_k_global_norm(x, &norm, g->grads, g->nparams));
	norm /= accum;
	gscale = 1.0f / (float)accum;
	if (grad_norm)
		*grad_norm = (float)norm;
	if (hp->grad_clip > 0 && norm > hp->grad_clip)
		gscale *= (float)(hp->grad_clip / norm);
	for (int p = 0; p < QN_NPARAM; p++) {
		size_t o = g->off[p];
		float wd = qn_gpt_param_decays((enum qn_gpt_param)p) ? hp->weight_decay : 0.0f;
		QN_TRY(qn_k_adamw(x, g->master + o, g->params + o, g->grads + o, g->m + o, g->v + o,
				  g->size[p], hp->lr, hp->beta1, hp->beta2, hp->eps, wd, t, gscale));
	}
	QN_CUDA_CK(x, cudaStreamSynchronize(x->stream));
	return 0;
}

int qn_gpt_cuda_get(struct qn_gpt_cuda *g, float *params, float *m, float *v,
		    struct qn_err *err)
{
	struct qn_cuda_ctx *x = &g->ctx;
	size_t b = g->nparams * sizeof(float);

	x->err = err;
	QN_CUDA_CK(x, cudaStreamSynchronize(x->stream));
	if (params)
		QN_CUDA_CK(x, cudaMemcpy(params, g->master, b, cudaMemcpyDeviceToHost));
	if (m)
		QN_CUDA_CK(x, cudaMemcpy(m, g->m, b, cudaMemcpyDeviceToHost));
	if (v)
		QN_CUDA_CK(x, cudaMemcpy(v, g->v, b, cudaMemcpyDeviceToHost));
	return 0;
}

int qn_gpt_cuda_set(struct qn_gpt_cuda *g, const float *params, const float *m,
		    const float *v, struct qn_err *err)
{
	struct qn_cuda_ctx *x = &g->ctx;
	size_t b = g->nparams * sizeof(float);

	x->err = err;
	QN_CUDA_CK(x, cudaStreamSynchronize(x->stream));
	if (params) {
		QN_CUDA_CK(x, cudaMemcpy(g->master, params, b, cudaMemcpyHostToDevice));
		QN_TRY(qn_k_to_bf16(x, g->params, g->master, g->nparams));
	}
	if (m)
		QN_CUDA_CK(x, cudaMemcpy(g->m, m, b, cudaMemcpyHostToDevice));
	if (v)
		QN_CUDA_CK(x, cudaMemcpy(g->v, v, b, cudaMemcpyHostToDevice));
	QN_CUDA_CK(x, cudaStreamSynchronize(x->stream));
	return 0;
}

int qn_gpt_cuda_get_grads(struct qn_gpt_cuda *g, float *grads, struct qn_err *err)
{
	struct qn_cuda_ctx *x = &g->ctx;
	float *tmp = NULL;
	int rc = 0;

	x->err = err;
	QN_CUDA_CK(x, cudaMalloc((void **)&tmp, g->nparams * sizeof(float)));
	if ((rc = qn_k_to_f32(x, tmp, g->grads, g->nparams)) == 0 &&
	    cudaStreamSynchronize(x->stream) == cudaSuccess &&
	    cudaMemcpy(grads, tmp, g->nparams * sizeof(float), cudaMemcpyDeviceToHost) != cudaSuccess)
		rc = qn_cuda_fail(x, __FILE__, __LINE__, "cudaMemcpy", cudaGetErrorString(cudaGetLastError()));
	cudaFree(tmp);
	return rc;
}
