/*
 * kernels.cu: the GPU path's kernels, matrix products and their launchers
 * (see kernels.cuh for the contracts, the shapes and why every reduction
 * is deterministic).  The CPU reference each one is checked against is
 * model/ops_ref.c (tests/unit/t_cuda_ops.c).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernels.cuh"

#define WARP 32
#define FULL 0xffffffffu

int qn_cuda_fail(struct qn_cuda_ctx *ctx, const char *file, int line,
		 const char *call, const char *what)
{
	return qn_err_set(ctx ? ctx->err : NULL, QN_EIO, "%s:%d: %s: %s", file, line, call, what);
}

static unsigned int blocks_for(size_t n, unsigned int per)
{
	return (unsigned int)((n + per - 1) / per);
}

/* ---- warp and block reductions: a fixed tree, so a fixed result ---- */

__device__ static inline float warp_sum(float x)
{
	for (int o = 16; o > 0; o >>= 1)
		x += __shfl_xor_sync(FULL, x, o);
	return x;
}

__device__ static inline float warp_max(float x)
{
	for (int o = 16; o > 0; o >>= 1)
		x = fmaxf(x, __shfl_xor_sync(FULL, x, o));
	return x;
}

/* Every thread of the block gets the result; blockDim.x a multiple of 32, <= 1024. */
__device__ static float block_reduce(float x, bool is_max, float *shared)
{
	int lane = threadIdx.x % WARP, wid = threadIdx.x / WARP, nw = blockDim.x / WARP;

	x = is_max ? warp_max(x) : warp_sum(x);
	__syncthreads();	/* shared may still be read from a previous call */
	if (lane == 0)
		shared[wid] = x;
	__syncthreads();
	x = lane < nw ? shared[lane] : (is_max ? -INFINITY : 0.0f);
	return is_max ? warp_max(x) : warp_sum(x);
}

/* ---- context ---- */

int qn_cuda_ctx_init(struct qn_cuda_ctx *ctx, int max_c, struct qn_err *err)
{
	int dev;

	memset(ctx, 0, sizeof *ctx);
	ctx->err = err;
	QN_CUDA_CK(ctx, cudaGetDevice(&dev));
	QN_CUDA_CK(ctx, cudaDeviceGetAttribute(&ctx->nsm, cudaDevAttrMultiProcessorCount, dev));
	QN_CUDA_CK(ctx, cudaStreamCreate(&ctx->stream));
	QN_BLAS_CK(ctx, cublasLtCreate(&ctx->lt));
	QN_BLAS_CK(ctx, cublasCreate(&ctx->blas));
	QN_BLAS_CK(ctx, cublasSetStream(ctx->blas, ctx->stream));
	ctx->ws_size = 32u << 20;
	QN_CUDA_CK(ctx, cudaMalloc(&ctx->ws, ctx->ws_size));
	QN_BLAS_CK(ctx, cublasSetWorkspace(ctx->blas, ctx->ws, ctx->ws_size));
	/* LayerNorm: 2 * nsm blocks x 2C; bias: 64 chunks x 4C; norm: 1024 */
	ctx->red_size = (size_t)(4 * ctx->nsm + 256) * (size_t)max_c + 4096;
	QN_CUDA_CK(ctx, cudaMalloc(&ctx->red, ctx->red_size * sizeof(float)));
	return 0;
}

void qn_cuda_ctx_release(struct qn_cuda_ctx *ctx)
{
	if (!ctx)
		return;
	cudaFree(ctx->red);
	/* cuBLAS may still hold ws for the stream's last call */
	if (ctx->stream)
		cudaStreamSynchronize(ctx->stream);
	if (ctx->blas)
		cublasDestroy(ctx->blas);
	cudaFree(ctx->ws);
	if (ctx->lt)
		cublasLtDestroy(ctx->lt);
	if (ctx->stream)
		cudaStreamDestroy(ctx->stream);
	memset(ctx, 0, sizeof *ctx);
}

/* ---- conversions ---- */

__global__ static void to_bf16_kernel(bf16 *out, const float *in, size_t n)
{
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		out[i] = __float2bfloat16(in[i]);
}

__global__ static void to_f32_kernel(float *out, const bf16 *in, size_t n)
{
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		out[i] = __bfloat162float(in[i]);
}

int qn_k_to_bf16(struct qn_cuda_ctx *ctx, bf16 *out, const float *in, size_t n)
{
	if (n == 0)
		return 0;
	to_bf16_kernel<<<blocks_for(n, 256), 256, 0, ctx->stream>>>(out, in, n);
	QN_LAUNCH_CK(ctx);
	return 0;
}

int qn_k_to_f32(struct qn_cuda_ctx *ctx, float *out, const bf16 *in, size_t n)
{
	if (n == 0)
		return 0;
	to_f32_kernel<<<blocks_for(n, 256), 256, 0, ctx->stream>>>(out, in, n);
	QN_LAUNCH_CK(ctx);
	return 0;
}

/* ---- embeddings ---- */

__global__ static void encoder_forward_kernel(bf16 *out, const int32_t *inp, const bf16 *wte,
					      const bf16 *wpe, int N, int T, int C)
{
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= (size_t)N * C)
		return;
	int n = (int)(i / C), c = (int)(i % C), t = n % T;
	float x = __bfloat162float(wte[(size_t)inp[n] * C + c]) + __bfloat162float(wpe[(size_t)t * C + c]);
	out[i] = __float2bfloat16(x);
}

int qn_k_encoder_forward(struct qn_cuda_ctx *ctx, bf16 *out, const int32_t *inp,
			 const bf16 *wte, const bf16 *wpe, int B, int T, int C)
{
	size_t n = (size_t)B * T * C;
	encoder_forward_kernel<<<blocks_for(n, 256), 256, 0, ctx->stream>>>(out, inp, wte, wpe, B * T, T, C);
	QN_LAUNCH_CK(ctx);
	return 0;
}

/* one thread per (t, c): the sum over b in order */
__global__ static void encoder_backward_wpe_kernel(bf16 *dwpe, const bf16 *dout, int B, int T, int C)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= T * C)
		return;
	float s = __bfloat162float(dwpe[i]);
	for (int b = 0; b < B; b++)
		s += __bfloat162float(dout[(size_t)b * T * C + i]);
	dwpe[i] = __float2bfloat16(s);
}

/* grid.x: one distinct token; threads over channels; positions in order */
__global__ static void encoder_backward_wte_kernel(bf16 *dwte, const bf16 *dout, const int32_t *tokens,
						   const int32_t *offsets, const int32_t *pos, int C)
{
	int k = blockIdx.x, c = blockIdx.y * blockDim.x + threadIdx.x;
	if (c >= C)
		return;
	float s = 0.0f;
	for (int j = offsets[k]; j < offsets[k + 1]; j++)
		s += __bfloat162float(dout[(size_t)pos[j] * C + c]);
	size_t o = (size_t)tokens[k] * C + c;
	dwte[o] = __float2bfloat16(__bfloat162float(dwte[o]) + s);
}

int qn_k_encoder_backward(struct qn_cuda_ctx *ctx, bf16 *dwte, bf16 *dwpe,
			  const bf16 *dout, const int32_t *tokens, const int32_t *offsets,
			  const int32_t *pos, int nb, int B, int T, int C)
{
	encoder_backward_wpe_kernel<<<blocks_for((size_t)T * C, 256), 256, 0, ctx->stream>>>(dwpe, dout, B, T, C);
	QN_LAUNCH_CK(ctx);
	if (nb > 0) {
		dim3 grid((unsigned int)nb, blocks_for((size_t)C, 256));
		encoder_backward_wte_kernel<<<grid, 256, 0, ctx->stream>>>(dwte, dout, tokens, offsets, pos, C);
		QN_LAUNCH_CK(ctx);
	}
	return 0;
}

/* ---- LayerNorm, the residual add fused in ---- */

/* one warp per row; x = a (+ b rounded to bf16 as stored) */
__device__ static inline float ln_in(const bf16 *a, const bf16 *b, size_t i)
{
	if (!b)
		return __bfloat162float(a[i]);
	return __bfloat162float(__float2bfloat16(__bfloat162float(a[i]) + __bfloat162float(b[i])));
}

__global__ static void layernorm_forward_kernel(bf16 *res_out, bf16 *out, float *mean, float *rstd,
						const bf16 *a, const bf16 *b, const bf16 *w,
						const bf16 *bias, int N, int C)
{
	int lane = threadIdx.x % WARP;
	int row = blockIdx.x * (blockDim.x / WARP) + threadIdx.x / WARP;
	if (row >= N)
		return;
	size_t base = (size_t)row * C;
	float s = 0.0f;
	for (int c = lane; c < C; c += WARP) {
		float x = ln_in(a, b, base + c);
		if (res_out)
			res_out[base + c] = __float2bfloat16(x);
		s += x;
	}
	float m = warp_sum(s) / C;
	float v = 0.0f;
	for (int c = lane; c < C; c += WARP) {
		float d = ln_in(a, b, base + c) - m;
		v += d * d;
	}
	float r = 1.0f / sqrtf(warp_sum(v) / C + 1e-5f);
	for (int c = lane; c < C; c += WARP) {
		float n = (ln_in(a, b, base + c) - m) * r;
		out[base + c] = __float2bfloat16(n * __bfloat162float(w[c]) + __bfloat162float(bias[c]));
	}
	if (lane == 0) {
		mean[row] = m;
		rstd[row] = r;
	}
}

int qn_k_layernorm_forward(struct qn_cuda_ctx *ctx, bf16 *res_out, bf16 *out,
			   float *mean, float *rstd, const bf16 *a, const bf16 *b,
			   const bf16 *w, const bf16 *bias, int N, int C)
{
	layernorm_forward_kernel<<<blocks_for((size_t)N, 8), 8 * WARP, 0, ctx->stream>>>(
		res_out, out, mean, rstd, a, res_out ? b : NULL, w, bias, N, C);
	QN_LAUNCH_CK(ctx);
	return 0;
}

#define LNB_WARPS 4

/*
 * Each warp takes rows row0 + k * stride and keeps its own dw/db partial
 * sums in shared memory (no atomics); the block then adds its warps'
 * partials in warp order into part[blockIdx.x][2C].
 */
__global__ static void layernorm_backward_kernel(bf16 *dinp, float *part, const bf16 *dout,
						 const bf16 *inp, const bf16 *w, const float *mean,
						 const float *rstd, int N, int C)
{
	extern __shared__ float sh[];	/* [LNB_WARPS][2C] */
	int lane = threadIdx.x % WARP, wid = threadIdx.x / WARP;
	float *mine = sh + (size_t)wid * 2 * C;

	for (int c = lane; c < 2 * C; c += WARP)
		mine[c] = 0.0f;
	__syncwarp();
	for (int row = blockIdx.x * LNB_WARPS + wid; row < N; row += gridDim.x * LNB_WARPS) {
		size_t base = (size_t)row * C;
		float m = mean[row], r = rstd[row];
		float s1 = 0.0f, s2 = 0.0f;
		for (int c = lane; c < C; c += WARP) {
			float n = (__bfloat162float(inp[base + c]) - m) * r;
			float dn = __bfloat162float(w[c]) * __bfloat162float(dout[base + c]);
			s1 += dn;
			s2 += dn * n;
		}
		s1 = warp_sum(s1) / C;
		s2 = warp_sum(s2) / C;
		for (int c = lane; c < C; c += WARP) {
			float dy = __bfloat162float(dout[base + c]);
			float n = (__bfloat162float(inp[base + c]) - m) * r;
			float dn = __bfloat162float(w[c]) * dy;
			float d = (dn - s1 - n * s2) * r;
			dinp[base + c] = __float2bfloat16(__bfloat162float(dinp[base + c]) + d);
			mine[c] += n * dy;	/* dw */
			mine[C + c] += dy;	/* db */
		}
	}
	__syncthreads();
	for (int c = threadIdx.x; c < 2 * C; c += blockDim.x) {
		float s = 0.0f;
		for (int k = 0; k < LNB_WARPS; k++)
			s += sh[(size_t)k * 2 * C + c];
		part[(size_t)blockIdx.x * 2 * C + c] = s;
	}
}

/* dw[c] += sum_k part[k][c]; db[c] += sum_k part[k][C + c], k in order */
__global__ static void layernorm_backward_sum_kernel(bf16 *dw, bf16 *db, const float *part, int nblk, int C)
{
	int c = blockIdx.x * blockDim.x + threadIdx.x;
	if (c >= C)
		return;
	float sw = 0.0f, sb = 0.0f;
	for (int k = 0; k < nblk; k++) {
		sw += part[(size_t)k * 2 * C + c];
		sb += part[(size_t)k * 2 * C + C + c];
	}
	dw[c] = __float2bfloat16(__bfloat162float(dw[c]) + sw);
	db[c] = __float2bfloat16(__bfloat162float(db[c]) + sb);
}

int qn_k_layernorm_backward(struct qn_cuda_ctx *ctx, bf16 *dinp, bf16 *dw, bf16 *db,
			    const bf16 *dout, const bf16 *inp, const bf16 *w,
			    const float *mean, const float *rstd, int N, int C)
{
	int nblk = 2 * ctx->nsm;
	size_t shmem = (size_t)LNB_WARPS * 2 * C * sizeof(float);

	if ((size_t)N < (size_t)nblk * LNB_WARPS)
		nblk = (int)blocks_for((size_t)N, LNB_WARPS);
	if ((size_t)nblk * 2 * C > ctx->red_size)
		return qn_err_set(ctx->err, QN_EUSAGE, "layernorm backward: %d channels exceed the scratch", C);
	if (shmem > 48 * 1024)
		QN_CUDA_CK(ctx, cudaFuncSetAttribute(layernorm_backward_kernel,
			cudaFuncAttributeMaxDynamicSharedMemorySize, (int)shmem));
	layernorm_backward_kernel<<<nblk, LNB_WARPS * WARP, shmem, ctx->stream>>>(
		dinp, ctx->red, dout, inp, w, mean, rstd, N, C);
	QN_LAUNCH_CK(ctx);
	layernorm_backward_sum_kernel<<<blocks_for((size_t)C, 256), 256, 0, ctx->stream>>>(
		dw, db, ctx->red, nblk, C);
	QN_LAUNCH_CK(ctx);
	return 0;
}

/* ---- elementwise ---- */

#define GELU_S 0.7978845608028654f	/* sqrt(2/pi) */

__global__ static void gelu_forward_kernel(bf16 *out, const bf16 *inp, size_t n)
{
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= n)
		return;
	float x = __bfloat162float(inp[i]);
	out[i] = __float2bfloat16(0.5f * x * (1.0f + tanhf(GELU_S * (x + 0.044715f * x * x * x))));
}

__global__ static void gelu_backward_kernel(bf16 *dinp, const bf16 *inp, const bf16 *dout, size_t n)
{
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= n)
		return;
	float x = __bfloat162float(inp[i]);
	float u = GELU_S * (x + 0.044715f * x * x * x);
	float th = tanhf(u);
	float sech2 = 1.0f - th * th;
	float g = 0.5f * (1.0f + th) + 0.5f * x * sech2 * GELU_S * (1.0f + 3.0f * 0.044715f * x * x);
	dinp[i] = __float2bfloat16(g * __bfloat162float(dout[i]));
}

__global__ static void residual_forward_kernel(bf16 *out, const bf16 *a, const bf16 *b, size_t n)
{
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		out[i] = __float2bfloat16(__bfloat162float(a[i]) + __bfloat162float(b[i]));
}

int qn_k_gelu_forward(struct qn_cuda_ctx *ctx, bf16 *out, const bf16 *inp, size_t n)
{
	gelu_forward_kernel<<<blocks_for(n, 256), 256, 0, ctx->stream>>>(out, inp, n);
	QN_LAUNCH_CK(ctx);
	return 0;
}

int qn_k_gelu_backward(struct qn_cuda_ctx *ctx, bf16 *dinp, const bf16 *inp,
		       const bf16 *dout, size_t n)
{
	gelu_backward_kernel<<<blocks_for(n, 256), 256, 0, ctx->stream>>>(dinp, inp, dout, n);
	QN_LAUNCH_CK(ctx);
	return 0;
}

int qn_k_residual_forward(struct qn_cuda_ctx *ctx, bf16 *out, const bf16 *a,
			  const bf16 *b, size_t n)
{
	residual_forward_kernel<<<blocks_for(n, 256), 256, 0, ctx->stream>>>(out, a, b, n);
	QN_LAUNCH_CK(ctx);
	return 0;
}

/* ---- matrix products (cuBLASLt) ---- */

enum epi { EPI_NONE, EPI_BIAS, EPI_GELU_BIAS };

/*
 * Column-major D[m,n] = op(A) op(B) (+ beta D), bf16 in and out, fp32
 * accumulation; the bias has m entries.  With EPI_GELU_BIAS, aux[m,n]
 * (ld m) receives the value before GELU.  Returns 1 (and does nothing)
 * where cuBLASLt offers no algorithm, so the caller can fall back.
 */
static int lt_matmul(struct qn_cuda_ctx *ctx, bf16 *d, const bf16 *a, const bf16 *b,
		     const bf16 *bias, bf16 *aux, enum epi epi, int m, int n, int k,
		     bool ta, bool tb, bool accumulate)
{
	cublasLtMatmulDesc_t desc = NULL;
	cublasLtMatrixLayout_t la = NULL, lb = NULL, lc = NULL;
	cublasLtMatmulPreference_t pref = NULL;
	cublasLtMatmulHeuristicResult_t heur;
	cublasOperation_t opa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, opb = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
	cublasLtEpilogue_t e = CUBLASLT_EPILOGUE_DEFAULT;
	uint32_t scheme = CUBLASLT_REDUCTION_SCHEME_NONE | CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE |
		CUBLASLT_REDUCTION_SCHEME_OUTPUT_TYPE;	/* not INPLACE: no atomics */
	float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
	int found = 0, rc = 0;
	cublasStatus_t s;

#define LT(call) do { s = (call); if (s != CUBLAS_STATUS_SUCCESS) { \
	rc = qn_cuda_fail(ctx, __FILE__, __LINE__, #call, cublasGetStatusString(s)); goto out; } } while (0)
	LT(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
	LT(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof opa));
	LT(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof opb));
	if (epi == EPI_BIAS)
		e = CUBLASLT_EPILOGUE_BIAS;
	else if (epi == EPI_GELU_BIAS)
		e = bias ? CUBLASLT_EPILOGUE_GELU_AUX_BIAS : CUBLASLT_EPILOGUE_GELU_AUX;
	LT(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &e, sizeof e));
	if (bias && epi != EPI_NONE)
		LT(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
	if (epi == EPI_GELU_BIAS) {
		int64_t ld = m;
		LT(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &aux, sizeof aux));
		LT(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, &ld, sizeof ld));
	}
	LT(cublasLtMatrixLayoutCreate(&la, CUDA_R_16BF, ta ? k : m, ta ? m : k, ta ? k : m));
	LT(cublasLtMatrixLayoutCreate(&lb, CUDA_R_16BF, tb ? n : k, tb ? k : n, tb ? n : k));
	LT(cublasLtMatrixLayoutCreate(&lc, CUDA_R_16BF, m, n, m));
	LT(cublasLtMatmulPreferenceCreate(&pref));
	LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
		&ctx->ws_size, sizeof ctx->ws_size));
	LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK,
		&scheme, sizeof scheme));
	s = cublasLtMatmulAlgoGetHeuristic(ctx->lt, desc, la, lb, lc, lc, pref, 1, &heur, &found);
	if (s != CUBLAS_STATUS_SUCCESS || found == 0) {
		rc = 1;
		goto out;
	}
	LT(cublasLtMatmul(ctx->lt, desc, &alpha, a, la, b, lb, &beta, d, lc, d, lc, &heur.algo,
		ctx->ws, ctx->ws_size, ctx->stream));
#undef LT
out:
	if (pref)
		cublasLtMatmulPreferenceDestroy(pref);
	if (lc)
		cublasLtMatrixLayoutDestroy(lc);
	if (lb)
		cublasLtMatrixLayoutDestroy(lb);
	if (la)
		cublasLtMatrixLayoutDestroy(la);
	if (desc)
		cublasLtMatmulDescDestroy(desc);
	return rc;
}

static int lt_must(struct qn_cuda_ctx *ctx, int rc, const char *what, int m, int n, int k)
{
	if (rc == 1)
		return qn_err_set(ctx->err, QN_EIO, "cuBLASLt has no algorithm for %s (%d x %d x %d)", what, m, n, k);
	return rc;
}

int qn_k_matmul_forward(struct qn_cuda_ctx *ctx, bf16 *out, bf16 *gelu_pre,
			const bf16 *inp, const bf16 *w, const bf16 *bias,
			int N, int C, int OC)
{
	/* out^T [OC,N] = (w^T)^T [OC,C] . inp^T [C,N], all column-major views */
	int rc;

	if (gelu_pre) {
		rc = lt_matmul(ctx, out, w, inp, bias, gelu_pre, EPI_GELU_BIAS, OC, N, C, true, false, false);
		if (rc != 1)
			return rc;
		/* no fused algorithm: the product into gelu_pre, then the kernel */
		rc = lt_matmul(ctx, gelu_pre, w, inp, bias, NULL, bias ? EPI_BIAS : EPI_NONE, OC, N, C, true, false, false);
		QN_TRY(lt_must(ctx, rc, "matmul forward", OC, N, C));
		return qn_k_gelu_forward(ctx, out, gelu_pre, (size_t)N * OC);
	}
	rc = lt_matmul(ctx, out, w, inp, bias, NULL, bias ? EPI_BIAS : EPI_NONE, OC, N, C, true, false, false);
	return lt_must(ctx, rc, "matmul forward", OC, N, C);
}

#define DB_ROWS 8	/* threadIdx.y */
#define DB_CHUNKS 64	/* row chunks, fixed: the result does not depend on the grid */

/* part[chunk][oc] = the column sums of dout over the chunk's rows */
__global__ static void dbias_kernel(float *part, const bf16 *dout, int N, int OC)
{
	__shared__ float sh[DB_ROWS][WARP];
	int oc = blockIdx.x * WARP + threadIdx.x, chunk = blockIdx.y;
	int rows = (N + DB_CHUNKS - 1) / DB_CHUNKS;
	int r0 = chunk * rows, r1 = min(N, r0 + rows);
	float s = 0.0f;

	if (oc < OC)
		for (int r = r0 + threadIdx.y; r < r1; r += DB_ROWS)
			s += __bfloat162float(dout[(size_t)r * OC + oc]);
	sh[threadIdx.y][threadIdx.x] = s;
	__syncthreads();
	if (threadIdx.y == 0 && oc < OC) {
		for (int y = 1; y < DB_ROWS; y++)
			s += sh[y][threadIdx.x];
		part[(size_t)chunk * OC + oc] = s;
	}
}

__global__ static void dbias_sum_kernel(bf16 *dbias, const float *part, int OC)
{
	int oc = blockIdx.x * blockDim.x + threadIdx.x;
	if (oc >= OC)
		return;
	float s = 0.0f;
	for (int k = 0; k < DB_CHUNKS; k++)
		s += part[(size_t)k * OC + oc];
	dbias[oc] = __float2bfloat16(__bfloat162float(dbias[oc]) + s);
}

int qn_k_matmul_backward(struct qn_cuda_ctx *ctx, bf16 *dinp, bf16 *dw, bf16 *dbias,
			 const bf16 *dout, const bf16 *inp, const bf16 *w,
			 int N, int C, int OC)
{
	int rc;

	/* dinp^T [C,N] = w^T [C,OC] . dout^T [OC,N] */
	if (dinp) {
		rc = lt_matmul(ctx, dinp, w, dout, NULL, NULL, EPI_NONE, C, N, OC, false, false, false);
		QN_TRY(lt_must(ctx, rc, "matmul backward (input)", C, N, OC));
	}
	/* dw^T [C,OC] += inp^T [C,N] . dout [N,OC] */
	rc = lt_matmul(ctx, dw, inp, dout, NULL, NULL, EPI_NONE, C, OC, N, false, true, true);
	QN_TRY(lt_must(ctx, rc, "matmul backward (weight)", C, OC, N));
	if (dbias) {
		if ((size_t)DB_CHUNKS * OC > ctx->red_size)
			return qn_err_set(ctx->err, QN_EUSAGE, "matmul backward: %d columns exceed the scratch", OC);
		dim3 grid(blocks_for((size_t)OC, WARP), DB_CHUNKS), block(WARP, DB_ROWS);
		dbias_kernel<<<grid, block, 0, ctx->stream>>>(ctx->red, dout, N, OC);
		QN_LAUNCH_CK(ctx);
		dbias_sum_kernel<<<blocks_for((size_t)OC, 256), 256, 0, ctx->stream>>>(dbias, ctx->red, OC);
		QN_LAUNCH_CK(ctx);
	}
	return 0;
}

/* ---- attention ---- */

/* qkv [B,T,3,NH,HS] -> qkvr [3][B,NH,T,HS] */
__global__ static void permute_kernel(bf16 *qkvr, const bf16 *qkv, int B, int T, int NH, int HS)
{
	size_t n = (size_t)B * NH * T * HS, i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= n)
		return;
	int d = (int)(i % HS);
	int t = (int)((i / HS) % T);
	int h = (int)((i / HS / T) % NH);
	int b = (int)(i / HS / T / NH);
	size_t src = (((size_t)b * T + t) * 3 * NH + h) * HS + d;
	qkvr[i] = qkv[src];
	qkvr[n + i] = qkv[src + (size_t)NH * HS];
	qkvr[2 * n + i] = qkv[src + 2 * (size_t)NH * HS];
}

/* the inverse: dqkvr [3][B,NH,T,HS] -> dqkv [B,T,3,NH,HS] */
__global__ static void permute_back_kernel(bf16 *dqkv, const bf16 *dqkvr, int B, int T, int NH, int HS)
{
	size_t n = (size_t)B * NH * T * HS, i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= n)
		return;
	int d = (int)(i % HS);
	int t = (int)((i / HS) % T);
	int h = (int)((i / HS / T) % NH);
	int b = (int)(i / HS / T / NH);
	size_t dst = (((size_t)b * T + t) * 3 * NH + h) * HS + d;
	dqkv[dst] = dqkvr[i];
	dqkv[dst + (size_t)NH * HS] = dqkvr[n + i];
	dqkv[dst + 2 * (size_t)NH * HS] = dqkvr[2 * n + i];
}

/* y [B,NH,T,HS] <-> out [B,T,NH,HS]; dir 0: to out, 1: from out */
__global__ static void unpermute_kernel(bf16 *out, bf16 *y, int B, int T, int NH, int HS, int dir)
{
	size_t n = (size_t)B * NH * T * HS, i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= n)
		return;
	int d = (int)(i % HS);
	int t = (int)((i / HS) % T);
	int h = (int)((i / HS / T) % NH);
	int b = (int)(i / HS / T / NH);
	size_t o = (((size_t)b * T + t) * NH + h) * HS + d;
	if (dir == 0)
		out[o] = y[i];
	else
		y[i] = out[o];
}

/* one warp per row (b, h, t): att[t, j] = softmax_j<=t(scale * pre[t, j]), 0 for j > t */
__global__ static void softmax_forward_kernel(bf16 *att, const bf16 *pre, float scale, int rows, int T)
{
	int lane = threadIdx.x % WARP;
	int row = blockIdx.x * (blockDim.x / WARP) + threadIdx.x / WARP;
	if (row >= rows)
		return;
	int t = row % T;
	const bf16 *p = pre + (size_t)row * T;
	bf16 *a = att + (size_t)row * T;
	float mx = -INFINITY;
	for (int j = lane; j <= t; j += WARP)
		mx = fmaxf(mx, scale * __bfloat162float(p[j]));
	mx = warp_max(mx);
	float s = 0.0f;
	for (int j = lane; j <= t; j += WARP)
		s += expf(scale * __bfloat162float(p[j]) - mx);
	s = warp_sum(s);
	for (int j = lane; j < T; j += WARP)
		a[j] = __float2bfloat16(j <= t ? expf(scale * __bfloat162float(p[j]) - mx) / s : 0.0f);
}

/*
 * In place: d [rows, T] holds datt and becomes the gradient of the raw
 * (unscaled) scores, scale * att * (datt - sum_k att datt), 0 above the
 * diagonal.
 */
__global__ static void softmax_backward_kernel(bf16 *d, const bf16 *att, float scale, int rows, int T)
{
	int lane = threadIdx.x % WARP;
	int row = blockIdx.x * (blockDim.x / WARP) + threadIdx.x / WARP;
	if (row >= rows)
		return;
	int t = row % T;
	const bf16 *a = att + (size_t)row * T;
	bf16 *g = d + (size_t)row * T;
	float s = 0.0f;
	for (int j = lane; j <= t; j += WARP)
		s += __bfloat162float(a[j]) * __bfloat162float(g[j]);
	s = warp_sum(s);
	for (int j = lane; j < T; j += WARP) {
		float v = 0.0f;
		if (j <= t)
			v = scale * __bfloat162float(a[j]) * (__bfloat162float(g[j]) - s);
		g[j] = __float2bfloat16(v);
	}
}

/* row-major batched products through cuBLAS, column-major underneath */
static int gemm_batched(struct qn_cuda_ctx *ctx, bool ta, bool tb, int m, int n, int k,
			const bf16 *a, int lda, long long sa, const bf16 *b, int ldb, long long sb,
			bf16 *c, int ldc, long long sc, int batch)
{
	float alpha = 1.0f, beta = 0.0f;
	QN_BLAS_CK(ctx, cublasGemmStridedBatchedEx(ctx->blas, ta ? CUBLAS_OP_T : CUBLAS_OP_N,
		tb ? CUBLAS_OP_T : CUBLAS_OP_N, m, n, k, &alpha, a, CUDA_R_16BF, lda, sa,
		b, CUDA_R_16BF, ldb, sb, &beta, c, CUDA_R_16BF, ldc, sc, batch,
		CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
	return 0;
}

int qn_k_attention_forward(struct qn_cuda_ctx *ctx, bf16 *out, bf16 *att,
			   bf16 *qkvr, bf16 *vacc, const bf16 *qkv,
			   int B, int T, int C, int NH)
{
	int HS = C / NH, BH = B * NH;
	size_t n = (size_t)B * T * C;
	long long sq = (long long)T * HS, st = (long long)T * T;
	bf16 *q = qkvr, *k = qkvr + n, *v = qkvr + 2 * n;
	float scale = 1.0f / sqrtf((float)HS);

	permute_kernel<<<blocks_for(n, 256), 256, 0, ctx->stream>>>(qkvr, qkv, B, T, NH, HS);
	QN_LAUNCH_CK(ctx);
	/* pre [T,T] = q [T,HS] . k^T, into att (the softmax runs in place) */
	QN_TRY(gemm_batched(ctx, true, false, T, T, HS, k, HS, sq, q, HS, sq, att, T, st, BH));
	softmax_forward_kernel<<<blocks_for((size_t)BH * T, 8), 8 * WARP, 0, ctx->stream>>>(
		att, att, scale, BH * T, T);
	QN_LAUNCH_CK(ctx);
	/* y [T,HS] = att [T,T] . v [T,HS] */
	QN_TRY(gemm_batched(ctx, false, false, HS, T, T, v, HS, sq, att, T, st, vacc, HS, sq, BH));
	unpermute_kernel<<<blocks_for(n, 256), 256, 0, ctx->stream>>>(out, vacc, B, T, NH, HS, 0);
	QN_LAUNCH_CK(ctx);
	return 0;
}

int qn_k_attention_backward(struct qn_cuda_ctx *ctx, bf16 *dqkv, bf16 *datt,
			    bf16 *qkvr, bf16 *dqkvr, bf16 *dvacc, const bf16 *dout,
			    const bf16 *qkv, const bf16 *att, int B, int T, int C, int NH)
{
	int HS = C / NH, BH = B * NH;
	size_t n = (size_t)B * T * C;
	long long sq = (long long)T * HS, st = (long long)T * T;
	bf16 *q = qkvr, *k = qkvr + n, *v = qkvr + 2 * n;
	bf16 *dq = dqkvr, *dk = dqkvr + n, *dv = dqkvr + 2 * n;
	float scale = 1.0f / sqrtf((float)HS);

	permute_kernel<<<blocks_for(n, 256), 256, 0, ctx->stream>>>(qkvr, qkv, B, T, NH, HS);
	QN_LAUNCH_CK(ctx);
	unpermute_kernel<<<blocks_for(n, 256), 256, 0, ctx->stream>>>((bf16 *)dout, dvacc, B, T, NH, HS, 1);
	QN_LAUNCH_CK(ctx);
	/* datt [T,T] = dy [T,HS] . v^T */
	QN_TRY(gemm_batched(ctx, true, false, T, T, HS, v, HS, sq, dvacc, HS, sq, datt, T, st, BH));
	/* dv [T,HS] = att^T . dy */
	QN_TRY(gemm_batched(ctx, false, true, HS, T, T, dvacc, HS, sq, att, T, st, dv, HS, sq, BH));
	softmax_backward_kernel<<<blocks_for((size_t)BH * T, 8), 8 * WARP, 0, ctx->stream>>>(
		datt, att, scale, BH * T, T);
	QN_LAUNCH_CK(ctx);
	/* dq [T,HS] = dS [T,T] . k [T,HS]; dk = dS^T . q */
	QN_TRY(gemm_batched(ctx, false, false, HS, T, T, k, HS, sq, datt, T, st, dq, HS, sq, BH));
	QN_TRY(gemm_batched(ctx, false, true, HS, T, T, q, HS, sq, datt, T, st, dk, HS, sq, BH));
	permute_back_kernel<<<blocks_for(n, 256), 256, 0, ctx->stream>>>(dqkv, dqkvr, B, T, NH, HS);
	QN_LAUNCH_CK(ctx);
	return 0;
}

/* ---- softmax + cross-entropy over the padded vocabulary ---- */

__global__ static void softmax_xent_kernel(float *losses, bf16 *logits, const int32_t *targets,
					   float dloss, int V, int Vp)
{
	__shared__ float sh[WARP];
	size_t base = (size_t)blockIdx.x * Vp;
	int tgt = targets[blockIdx.x];
	float mx = -INFINITY, s = 0.0f;

	for (int j = threadIdx.x; j < V; j += blockDim.x)
		mx = fmaxf(mx, __bfloat162float(logits[base + j]));
	mx = block_reduce(mx, true, sh);
	for (int j = threadIdx.x; j < V; j += blockDim.x)
		s += expf(__bfloat162float(logits[base + j]) - mx);
	s = block_reduce(s, false, sh);
	/* every thread has read its logits: the target's may now be overwritten */
	float lt = __bfloat162float(logits[base + tgt]);
	__syncthreads();
	if (threadIdx.x == 0)
		losses[blockIdx.x] = logf(s) + mx - lt;
	if (dloss == 0.0f)
		return;
	for (int j = threadIdx.x; j < Vp; j += blockDim.x) {
		float g = 0.0f;
		if (j < V)
			g = (expf(__bfloat162float(logits[base + j]) - mx) / s - (j == tgt ? 1.0f : 0.0f)) * dloss;
		logits[base + j] = __float2bfloat16(g);
	}
}

int qn_k_softmax_xent(struct qn_cuda_ctx *ctx, float *losses, bf16 *logits,
		      const int32_t *targets, float dloss, int N, int V, int Vp)
{
	softmax_xent_kernel<<<N, 512, 0, ctx->stream>>>(losses, logits, targets, dloss, V, Vp);
	QN_LAUNCH_CK(ctx);
	return 0;
}

/* ---- AdamW and the gradient norm ---- */

__global__ static void adamw_kernel(float *master, bf16 *param, const bf16 *grad, float *m, float *v,
				    size_t n, float lr, float b1, float b2, float eps, float wd,
				    float c1, float c2, float gscale)
{
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= n)
		return;
	float g = __bfloat162float(grad[i]) * gscale;
	float mi = b1 * m[i] + (1.0f - b1) * g;
	float vi = b2 * v[i] + (1.0f - b2) * g * g;
	float mh = mi / c1, vh = vi / c2;
	float p = master[i];
	p -= lr * (mh / (sqrtf(vh) + eps) + wd * p);
	m[i] = mi;
	v[i] = vi;
	master[i] = p;
	param[i] = __float2bfloat16(p);
}

int qn_k_adamw(struct qn_cuda_ctx *ctx, float *master, bf16 *param, const bf16 *grad,
	       float *m, float *v, size_t n, float lr, float beta1, float beta2,
	       float eps, float wd, int t, float gscale)
{
	float c1 = 1.0f - powf(beta1, (float)t), c2 = 1.0f - powf(beta2, (float)t);

	if (n == 0)
		return 0;
	adamw_kernel<<<blocks_for(n, 256), 256, 0, ctx->stream>>>(master, param, grad, m, v, n,
		lr, beta1, beta2, eps, wd, c1, c2, gscale);
	QN_LAUNCH_CK(ctx);
	return 0;
}

#define NORM_BLOCKS 1024

__global__ static void sumsq_kernel(float *part, const bf16 *g, size_t n)
{
	__shared__ float sh[WARP];
	float s = 0.0f;
	for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
		float x = __bfloat162float(g[i]);
		s += x * x;
	}
	s = block_reduce(s, false, sh);
	if (threadIdx.x == 0)
		part[blockIdx.x] = s;
}

__global__ static void sumsq_final_kernel(double *out, const float *part, int nblk)
{
	if (threadIdx.x != 0 || blockIdx.x != 0)
		return;
	double s = 0.0;
	for (int k = 0; k < nblk; k++)
		s += part[k];
	*out = s;
}

int qn_k_global_norm(struct qn_cuda_ctx *ctx, double *norm, const bf16 *g, size_t n)
{
	double s = 0.0;
	double *dsum = (double *)(ctx->red + NORM_BLOCKS + 2);	/* 8-byte aligned: red is */

	sumsq_kernel<<<NORM_BLOCKS, 256, 0, ctx->stream>>>(ctx->red, g, n);
	QN_LAUNCH_CK(ctx);
	sumsq_final_kernel<<<1, 32, 0, ctx->stream>>>(dsum, ctx->red, NORM_BLOCKS);
	QN_LAUNCH_CK(ctx);
	QN_CUDA_CK(ctx, cudaMemcpyAsync(&s, dsum, sizeof s, cudaMemcpyDeviceToHost, ctx->stream));
	QN_CUDA_CK(ctx, cudaStreamSynchronize(ctx->stream));
	*norm = sqrt(s);
	return 0;
}
