/*
 * ops_check.cu: the host-array wrappers of ops_cuda.h.  Each call makes
 * its own context and buffers and frees them: slow, simple, for tests.
 */
#include <stdlib.h>
#include <string.h>

#include "kernels.cuh"
#include "ops_cuda.h"

#define MAXBUF 24

struct run {
	struct qn_cuda_ctx ctx;
	void *buf[MAXBUF];
	int nbuf;
	int ok;
};

static int run_init(struct run *r, int max_c, struct qn_err *err)
{
	memset(r, 0, sizeof *r);
	if (qn_cuda_ctx_init(&r->ctx, max_c < 64 ? 64 : max_c, err) < 0) {
		qn_cuda_ctx_release(&r->ctx);
		return QN_EIO;
	}
	return 0;
}

static int run_end(struct run *r, int rc)
{
	if (rc == 0)
		rc = cudaStreamSynchronize(r->ctx.stream) == cudaSuccess ? 0 :
			qn_cuda_fail(&r->ctx, __FILE__, __LINE__, "cudaStreamSynchronize",
				     cudaGetErrorString(cudaGetLastError()));
	for (int i = 0; i < r->nbuf; i++)
		cudaFree(r->buf[i]);
	qn_cuda_ctx_release(&r->ctx);
	return rc;
}

static int dev(struct run *r, void **p, size_t bytes)
{
	if (r->nbuf == MAXBUF)
		return qn_err_set(r->ctx.err, QN_EUSAGE, "ops_check: too many buffers");
	QN_CUDA_CK(&r->ctx, cudaMalloc(p, bytes ? bytes : 1));
	r->buf[r->nbuf++] = *p;
	return 0;
}

/* a bf16 copy of n host floats (NULL stays NULL) */
static int up(struct run *r, bf16 **out, const float *h, size_t n)
{
	float *tmp = NULL;

	*out = NULL;
	if (!h)
		return 0;
	QN_TRY(dev(r, (void **)out, n * sizeof(bf16)));
	QN_TRY(dev(r, (void **)&tmp, n * sizeof(float)));
	QN_CUDA_CK(&r->ctx, cudaMemcpyAsync(tmp, h, n * sizeof(float), cudaMemcpyHostToDevice, r->ctx.stream));
	return qn_k_to_bf16(&r->ctx, *out, tmp, n);
}

static int upf(struct run *r, float **out, const float *h, size_t n)
{
	QN_TRY(dev(r, (void **)out, n * sizeof(float)));
	QN_CUDA_CK(&r->ctx, cudaMemcpyAsync(*out, h, n * sizeof(float), cudaMemcpyHostToDevice, r->ctx.stream));
	return 0;
}

static int upi(struct run *r, int32_t **out, const int32_t *h, size_t n)
{
	QN_TRY(dev(r, (void **)out, n * sizeof(int32_t)));
	QN_CUDA_CK(&r->ctx, cudaMemcpyAsync(*out, h, n * sizeof(int32_t), cudaMemcpyHostToDevice, r->ctx.stream));
	return 0;
}

/* an output: bytes 0xFF, NaN in bf16 and in fp32 */
static int poison(struct run *r, void **out, size_t bytes)
{
	QN_TRY(dev(r, out, bytes));
	QN_CUDA_CK(&r->ctx, cudaMemsetAsync(*out, 0xFF, bytes, r->ctx.stream));
	return 0;
}

static int down(struct run *r, float *h, const bf16 *d, size_t n)
{
	float *tmp;

	if (!h)
		return 0;
	QN_TRY(dev(r, (void **)&tmp, n * sizeof(float)));
	QN_TRY(qn_k_to_f32(&r->ctx, tmp, d, n));
	QN_CUDA_CK(&r->ctx, cudaMemcpyAsync(h, tmp, n * sizeof(float), cudaMemcpyDeviceToHost, r->ctx.stream));
	return 0;
}

static int downf(struct run *r, float *h, const float *d, size_t n)
{
	if (!h)
		return 0;
	QN_CUDA_CK(&r->ctx, cudaMemcpyAsync(h, d, n * sizeof(float), cudaMemcpyDeviceToHost, r->ctx.stream));
	return 0;
}

#define BEGIN(maxc) struct run r_; struct run *r = &r_; int rc; \
	if (run_init(r, (maxc), err) < 0) return QN_EIO;
#define TRY(call) do { if ((rc = (call)) < 0) return run_end(r, rc); } while (0)
#define END() return run_end(r, 0)

int qn_cuda_encoder_forward(float *out, const int32_t *inp, const float *wte,
	const float *wpe, int B, int T, int C, int V, struct qn_err *err)
{
	BEGIN(C);
	size_t n = (size_t)B * T * C;
	bf16 *dout, *dwte, *dwpe;
	int32_t *dinp;
	TRY(up(r, &dwte, wte, (size_t)V * C));
	TRY(up(r, &dwpe, wpe, (size_t)T * C));
	TRY(upi(r, &dinp, inp, (size_t)B * T));
	TRY(poison(r, (void **)&dout, n * sizeof(bf16)));
	TRY(qn_k_encoder_forward(&r->ctx, dout, dinp, dwte, dwpe, B, T, C));
	TRY(down(r, out, dout, n));
	END();
}

int qn_cuda_encoder_backward(float *dwte, float *dwpe, const float *dout,
	const int32_t *inp, int B, int T, int C, int V, struct qn_err *err)
{
	BEGIN(C);
	int N = B * T, nb = 0, o = 0;
	int32_t *cnt = (int32_t *)qn_xcalloc((size_t)V, sizeof(int32_t));
	int32_t *tok = (int32_t *)qn_xmalloc((size_t)N * sizeof(int32_t));
	int32_t *off = (int32_t *)qn_xmalloc((size_t)(N + 1) * sizeof(int32_t));
	int32_t *pos = (int32_t *)qn_xmalloc((size_t)N * sizeof(int32_t));
	bf16 *gwte, *gwpe, *gout;
	int32_t *dtok, *doff, *dpos;

	/* the same bucketing as gpt_cuda.cu */
	for (int i = 0; i < N; i++)
		cnt[inp[i]]++;
	for (int v = 0; v < V; v++) {
		if (!cnt[v])
			continue;
		tok[nb] = v;
		off[nb++] = o;
		o += cnt[v];
		cnt[v] = o - cnt[v];
	}
	off[nb] = o;
	for (int i = 0; i < N; i++)
		pos[cnt[inp[i]]++] = i;
	rc = 0;
	if ((rc = up(r, &gwte, dwte, (size_t)V * C)) == 0 && (rc = up(r, &gwpe, dwpe, (size_t)T * C)) == 0 &&
	    (rc = up(r, &gout, dout, (size_t)N * C)) == 0 && (rc = upi(r, &dtok, tok, (size_t)nb)) == 0 &&
	    (rc = upi(r, &doff, off, (size_t)nb + 1)) == 0 && (rc = upi(r, &dpos, pos, (size_t)N)) == 0 &&
	    (rc = qn_k_encoder_backward(&r->ctx, gwte, gwpe, gout, dtok, doff, dpos, nb, B, T, C)) == 0 &&
	    (rc = down(r, dwte, gwte, (size_t)V * C)) == 0)
		rc = down(r, dwpe, gwpe, (size_t)T * C);
	/* the host arrays are read by the copies: wait before freeing them */
	rc = run_end(r, rc);
	free(cnt);
	free(tok);
	free(off);
	free(pos);
	return rc;
}

int qn_cuda_layernorm_forward(float *res, float *out, float *mean, float *rstd,
	const float *a, const float *b, const float *w, const float *bias,
	int N, int C, struct qn_err *err)
{
	BEGIN(C);
	size_t n = (size_t)N * C;
	bf16 *da, *db, *dw, *dbias, *dres = NULL, *dout;
	float *dmean, *drstd;
	TRY(up(r, &da, a, n));
	TRY(up(r, &db, res ? b : NULL, n));
	TRY(up(r, &dw, w, (size_t)C));
	TRY(up(r, &dbias, bias, (size_t)C));
	if (res)
		TRY(poison(r, (void **)&dres, n * sizeof(bf16)));
	TRY(poison(r, (void **)&dout, n * sizeof(bf16)));
	TRY(poison(r, (void **)&dmean, (size_t)N * sizeof(float)));
	TRY(poison(r, (void **)&drstd, (size_t)N * sizeof(float)));
	TRY(qn_k_layernorm_forward(&r->ctx, dres, dout, dmean, drstd, da, db, dw, dbias, N, C));
	TRY(down(r, res, dres, n));
	TRY(down(r, out, dout, n));
	TRY(downf(r, mean, dmean, (size_t)N));
	TRY(downf(r, rstd, drstd, (size_t)N));
	END();
}

int qn_cuda_layernorm_backward(float *dinp, float *dw, float *db,
	const float *dout, const float *inp, const float *w, const float *mean,
	const float *rstd, int N, int C, struct qn_err *err)
{
	BEGIN(C);
	size_t n = (size_t)N * C;
	bf16 *gdinp, *gdw, *gdb, *gdout, *ginp, *gw;
	float *gmean, *grstd;
	TRY(up(r, &gdinp, dinp, n));
	TRY(up(r, &gdw, dw, (size_t)C));
	TRY(up(r, &gdb, db, (size_t)C));
	TRY(up(r, &gdout, dout, n));
	TRY(up(r, &ginp, inp, n));
	TRY(up(r, &gw, w, (size_t)C));
	TRY(upf(r, &gmean, mean, (size_t)N));
	TRY(upf(r, &grstd, rstd, (size_t)N));
	TRY(qn_k_layernorm_backward(&r->ctx, gdinp, gdw, gdb, gdout, ginp, gw, gmean, grstd, N, C));
	TRY(down(r, dinp, gdinp, n));
	TRY(down(r, dw, gdw, (size_t)C));
	TRY(down(r, db, gdb, (size_t)C));
	END();
}

int qn_cuda_matmul_forward(float *out, float *gelu_pre, const float *inp,
	const float *w, const float *bias, int N, int C, int OC, struct qn_err *err)
{
	BEGIN(OC > C ? OC : C);
	bf16 *gout, *gpre = NULL, *ginp, *gw, *gb;
	TRY(up(r, &ginp, inp, (size_t)N * C));
	TRY(up(r, &gw, w, (size_t)OC * C));
	TRY(up(r, &gb, bias, (size_t)OC));
	TRY(poison(r, (void **)&gout, (size_t)N * OC * sizeof(bf16)));
	if (gelu_pre)
		TRY(poison(r, (void **)&gpre, (size_t)N * OC * sizeof(bf16)));
	TRY(qn_k_matmul_forward(&r->ctx, gout, gpre, ginp, gw, gb, N, C, OC));
	TRY(down(r, out, gout, (size_t)N * OC));
	TRY(down(r, gelu_pre, gpre, (size_t)N * OC));
	END();
}

int qn_cuda_matmul_backward(float *dinp, float *dw, float *dbias,
	const float *dout, const float *inp, const float *w, int N, int C, int OC,
	struct qn_err *err)
{
	BEGIN(OC > C ? OC : C);
	bf16 *gdinp, *gdw, *gdb, *gdout, *ginp, *gw;
	TRY(poison(r, (void **)&gdinp, (size_t)N * C * sizeof(bf16)));
	TRY(up(r, &gdw, dw, (size_t)OC * C));
	TRY(up(r, &gdb, dbias, (size_t)OC));
	TRY(up(r, &gdout, dout, (size_t)N * OC));
	TRY(up(r, &ginp, inp, (size_t)N * C));
	TRY(up(r, &gw, w, (size_t)OC * C));
	TRY(qn_k_matmul_backward(&r->ctx, gdinp, gdw, gdb, gdout, ginp, gw, N, C, OC));
	TRY(down(r, dinp, gdinp, (size_t)N * C));
	TRY(down(r, dw, gdw, (size_t)OC * C));
	TRY(down(r, dbias, gdb, (size_t)OC));
	END();
}

int qn_cuda_attention_forward(float *out, float *att, const float *qkv,
	int B, int T, int C, int NH, int fused, struct qn_err *err)
{
	BEGIN(C);
	size_t n = (size_t)B * T * C, na = (size_t)B * NH * T * T, nr = (size_t)B * NH * T;
	bf16 *gout, *gatt, *gqkvr, *gvacc, *gqkv;
	float *glse;
	if (fused && att)
		return run_end(r, qn_err_set(err, QN_EUSAGE, "the fused attention keeps no probabilities"));
	TRY(up(r, &gqkv, qkv, 3 * n));
	TRY(poison(r, (void **)&gout, n * sizeof(bf16)));
	TRY(poison(r, (void **)&gqkvr, 3 * n * sizeof(bf16)));
	if (fused) {
		TRY(poison(r, (void **)&glse, nr * sizeof(float)));
		TRY(qn_k_flash_attention_forward(&r->ctx, gout, glse, gqkvr, gqkv, B, T, C, NH));
	} else {
		TRY(poison(r, (void **)&gatt, na * sizeof(bf16)));
		TRY(poison(r, (void **)&gvacc, n * sizeof(bf16)));
		TRY(qn_k_attention_forward(&r->ctx, gout, gatt, gqkvr, gvacc, gqkv, B, T, C, NH));
		TRY(down(r, att, gatt, na));
	}
	TRY(down(r, out, gout, n));
	END();
}

int qn_cuda_attention_backward(float *dqkv, const float *dout, const float *qkv,
	int B, int T, int C, int NH, int fused, struct qn_err *err)
{
	BEGIN(C);
	size_t n = (size_t)B * T * C, na = (size_t)B * NH * T * T, nr = (size_t)B * NH * T;
	bf16 *gout, *gatt = NULL, *gqkvr, *gvacc, *gqkv, *gdqkv, *gdatt = NULL, *gdqkvr = NULL, *gdout;
	float *glse = NULL, *gD = NULL;
	TRY(up(r, &gqkv, qkv, 3 * n));
	TRY(up(r, &gdout, dout, n));
	TRY(poison(r, (void **)&gout, n * sizeof(bf16)));
	TRY(poison(r, (void **)&gqkvr, 3 * n * sizeof(bf16)));
	TRY(poison(r, (void **)&gvacc, n * sizeof(bf16)));
	TRY(poison(r, (void **)&gdqkv, 3 * n * sizeof(bf16)));
	if (fused) {
		TRY(poison(r, (void **)&glse, nr * sizeof(float)));
		TRY(poison(r, (void **)&gD, nr * sizeof(float)));
		TRY(qn_k_flash_attention_forward(&r->ctx, gout, glse, gqkvr, gqkv, B, T, C, NH));
	} else {
		TRY(poison(r, (void **)&gatt, na * sizeof(bf16)));
		TRY(poison(r, (void **)&gdatt, na * sizeof(bf16)));
		TRY(poison(r, (void **)&gdqkvr, 3 * n * sizeof(bf16)));
		TRY(qn_k_attention_forward(&r->ctx, gout, gatt, gqkvr, gvacc, gqkv, B, T, C, NH));
	}
	/* poison the scratch again: backward must not depend on forward's leftovers */
	TRY(cudaMemsetAsync(gqkvr, 0xFF, 3 * n * sizeof(bf16), r->ctx.stream) == cudaSuccess ? 0 : QN_EIO);
	TRY(cudaMemsetAsync(gvacc, 0xFF, n * sizeof(bf16), r->ctx.stream) == cudaSuccess ? 0 : QN_EIO);
	if (fused)
		TRY(qn_k_flash_attention_backward(&r->ctx, gdqkv, gqkvr, gvacc, gD, gdout, gout, gqkv, glse,
						  B, T, C, NH));
	else
		TRY(qn_k_attention_backward(&r->ctx, gdqkv, gdatt, gqkvr, gdqkvr, gvacc, gdout, gqkv, gatt,
					    B, T, C, NH));
	TRY(down(r, dqkv, gdqkv, 3 * n));
	END();
}

int qn_cuda_gelu_forward(float *out, const float *inp, size_t n, struct qn_err *err)
{
	BEGIN(64);
	bf16 *gout, *ginp;
	TRY(up(r, &ginp, inp, n));
	TRY(poison(r, (void **)&gout, n * sizeof(bf16)));
	TRY(qn_k_gelu_forward(&r->ctx, gout, ginp, n));
	TRY(down(r, out, gout, n));
	END();
}

int qn_cuda_gelu_backward(float *dinp, const float *inp, const float *dout,
	size_t n, struct qn_err *err)
{
	BEGIN(64);
	bf16 *gdinp, *ginp, *gdout;
	TRY(up(r, &ginp, inp, n));
	TRY(up(r, &gdout, dout, n));
	TRY(poison(r, (void **)&gdinp, n * sizeof(bf16)));
	TRY(qn_k_gelu_backward(&r->ctx, gdinp, ginp, gdout, n));
	TRY(down(r, dinp, gdinp, n));
	END();
}

int qn_cuda_residual_forward(float *out, const float *a, const float *b, size_t n,
	struct qn_err *err)
{
	BEGIN(64);
	bf16 *gout, *ga, *gb;
	TRY(up(r, &ga, a, n));
	TRY(up(r, &gb, b, n));
	TRY(poison(r, (void **)&gout, n * sizeof(bf16)));
	TRY(qn_k_residual_forward(&r->ctx, gout, ga, gb, n));
	TRY(down(r, out, gout, n));
	END();
}

int qn_cuda_softmax_xent(float *losses, float *dlogits, const float *logits,
	const int32_t *targets, float dloss, int N, int V, int Vp, struct qn_err *err)
{
	BEGIN(64);
	bf16 *gl;
	float *gloss;
	int32_t *gt;
	TRY(up(r, &gl, logits, (size_t)N * Vp));
	TRY(upi(r, &gt, targets, (size_t)N));
	TRY(poison(r, (void **)&gloss, (size_t)N * sizeof(float)));
	TRY(qn_k_softmax_xent(&r->ctx, gloss, gl, gt, dloss, N, V, Vp));
	TRY(downf(r, losses, gloss, (size_t)N));
	TRY(down(r, dlogits, gl, (size_t)N * Vp));
	END();
}

int qn_cuda_adamw(float *params, float *wcopy, const float *grads, float *m, float *v,
	size_t n, float lr, float beta1, float beta2, float eps, float wd, int t,
	float gscale, struct qn_err *err)
{
	BEGIN(64);
	float *gp, *gm, *gv;
	bf16 *gg, *gw;
	TRY(upf(r, &gp, params, n));
	TRY(upf(r, &gm, m, n));
	TRY(upf(r, &gv, v, n));
	TRY(up(r, &gg, grads, n));
	TRY(poison(r, (void **)&gw, n * sizeof(bf16)));
	TRY(qn_k_adamw(&r->ctx, gp, gw, gg, gm, gv, n, lr, beta1, beta2, eps, wd, t, gscale));
	TRY(downf(r, params, gp, n));
	TRY(downf(r, m, gm, n));
	TRY(downf(r, v, gv, n));
	TRY(down(r, wcopy, gw, n));
	END();
}

int qn_cuda_global_norm(double *norm, const float *g, size_t n, struct qn_err *err)
{
	BEGIN(64);
	bf16 *gg;
	TRY(up(r, &gg, g, n));
	TRY(qn_k_global_norm(&r->ctx, norm, gg, n));
	END();
}

/* uniform in [-1, 1) from a hash of the index: no host round trip */
__global__ static void fill_kernel(bf16 *p, size_t n, uint32_t seed)
{
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= n)
		return;
	uint32_t h = (uint32_t)i * 2654435761u ^ seed;
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	p[i] = __float2bfloat16((float)(h >> 8) / 8388608.0f - 1.0f);
}

int qn_cuda_gemm_rate(int m, int n, int k, int iters, double *tflops, struct qn_err *err)
{
	BEGIN(64);
	bf16 *a, *b, *out;
	cudaEvent_t e0 = NULL, e1 = NULL;
	float ms = 0;
	size_t na = (size_t)m * k, nb = (size_t)n * k;
	TRY(dev(r, (void **)&a, na * sizeof(bf16)));
	TRY(dev(r, (void **)&b, nb * sizeof(bf16)));
	TRY(dev(r, (void **)&out, (size_t)m * n * sizeof(bf16)));
	fill_kernel<<<(unsigned int)((na + 255) / 256), 256, 0, r->ctx.stream>>>(a, na, 1u);
	fill_kernel<<<(unsigned int)((nb + 255) / 256), 256, 0, r->ctx.stream>>>(b, nb, 2u);
	TRY(cudaGetLastError() == cudaSuccess ? 0 : QN_EIO);
	for (int i = 0; i < 3; i++)
		TRY(qn_k_matmul_forward(&r->ctx, out, NULL, a, b, NULL, m, k, n));
	TRY(cudaEventCreate(&e0) == cudaSuccess && cudaEventCreate(&e1) == cudaSuccess ? 0 :
	    qn_cuda_fail(&r->ctx, __FILE__, __LINE__, "cudaEventCreate", "failed"));
	TRY(cudaEventRecord(e0, r->ctx.stream) == cudaSuccess ? 0 : QN_EIO);
	for (int i = 0; i < iters; i++)
		TRY(qn_k_matmul_forward(&r->ctx, out, NULL, a, b, NULL, m, k, n));
	TRY(cudaEventRecord(e1, r->ctx.stream) == cudaSuccess ? 0 : QN_EIO);
	TRY(cudaEventSynchronize(e1) == cudaSuccess ? 0 : QN_EIO);
	cudaEventElapsedTime(&ms, e0, e1);
	cudaEventDestroy(e0);
	cudaEventDestroy(e1);
	*tflops = 2.0 * m * n * (double)k * iters / (ms * 1e-3) / 1e12;
	END();
}
