/*
 * kernels.cuh: the GPU path's kernels and matrix products, internal to
 * model/cuda/ (C++; the C interfaces are gpt_cuda.h and ops_cuda.h).
 *
 * Storage is bf16 (weights, activations, gradients); every reduction
 * (LayerNorm statistics, softmax, losses, norms, AdamW) runs in fp32 or
 * double.  Shapes follow llm.c and model/ops.h: N = B*T rows, C channels,
 * NH heads, HS = C/NH, Vp the padded vocabulary.
 *
 * Determinism: no float atomics anywhere.  Column sums (bias, LayerNorm
 * weight and embedding gradients, the gradient norm) are computed as
 * per-block partial sums written to a scratch array and summed by a
 * second kernel in a fixed order; warp and block reductions use a fixed
 * shuffle tree.  cuBLASLt is asked for algorithms without in-place
 * (atomic) split-K reduction.  The same inputs therefore give the same
 * bits on the same device, run after run.
 *
 * Every launcher returns 0 or a negative QN_E* code with the message
 * (file:line, the call, CUDA's words) in ctx->err.
 */
#ifndef QN_CUDA_KERNELS_CUH
#define QN_CUDA_KERNELS_CUH

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cublas_v2.h>
#include <cublasLt.h>

#include "err.h"

typedef __nv_bfloat16 bf16;

struct qn_cuda_ctx {
	cudaStream_t stream;
	cublasLtHandle_t lt;
	cublasHandle_t blas;
	void *ws;		/* cuBLASLt workspace */
	size_t ws_size;
	float *red;		/* fp32 scratch for two-pass reductions */
	size_t red_size;	/* floats */
	int nsm;		/* multiprocessors: fixes the reduction grids */
	struct qn_err *err;	/* where failures are written */
};

/* Sets ctx->err to "file:line: call: what" and returns QN_EIO. */
int qn_cuda_fail(struct qn_cuda_ctx *ctx, const char *file, int line,
		 const char *call, const char *what);

/* on failure also clears CUDA's last error, so that a failed allocation
 * (not sticky) is not reported again by the next launch check */
#define QN_CUDA_CK(ctx, call) do { \
	cudaError_t e_ = (call); \
	if (e_ != cudaSuccess) { \
		cudaGetLastError(); \
		return qn_cuda_fail((ctx), __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
	} \
} while (0)
#define QN_LAUNCH_CK(ctx) QN_CUDA_CK(ctx, cudaGetLastError())
#define QN_BLAS_CK(ctx, call) do { \
	cublasStatus_t s_ = (call); \
	if (s_ != CUBLAS_STATUS_SUCCESS) \
		return qn_cuda_fail((ctx), __FILE__, __LINE__, #call, cublasGetStatusString(s_)); \
} while (0)
#define QN_TRY(call) do { int r_ = (call); if (r_ < 0) return r_; } while (0)

/*
 * Creates the stream, the cuBLAS and cuBLASLt handles, the workspace and
 * a reduction scratch able to serve rows of up to max_c channels (and
 * matrix products of up to 4 * max_c output columns).
 */
int qn_cuda_ctx_init(struct qn_cuda_ctx *ctx, int max_c, struct qn_err *err);
void qn_cuda_ctx_release(struct qn_cuda_ctx *ctx);

/* fp32 <-> bf16 copies on the device (round to nearest even). */
int qn_k_to_bf16(struct qn_cuda_ctx *ctx, bf16 *out, const float *in, size_t n);
int qn_k_to_f32(struct qn_cuda_ctx *ctx, float *out, const bf16 *in, size_t n);

/* out[N,C] = wte[inp[n]] + wpe[n % T] */
int qn_k_encoder_forward(struct qn_cuda_ctx *ctx, bf16 *out, const int32_t *inp,
			 const bf16 *wte, const bf16 *wpe, int B, int T, int C);
/*
 * dwpe[t] += sum_b dout[b,t]; dwte[tok] += the sum of dout over the
 * positions holding tok, in position order.  The positions arrive bucketed
 * by token (built on the host from the inputs): tokens[nb] distinct,
 * offsets[nb+1] into pos[N].
 */
int qn_k_encoder_backward(struct qn_cuda_ctx *ctx, bf16 *dwte, bf16 *dwpe,
			  const bf16 *dout, const int32_t *tokens, const int32_t *offsets,
			  const int32_t *pos, int nb, int B, int T, int C);

/*
 * LayerNorm over rows of C (eps 1e-5), statistics in fp32 saved for
 * backward.  With res_out, the input is a + b, stored in res_out (bf16)
 * and normalised as stored: the residual add fused in.  Without, a alone.
 */
int qn_k_layernorm_forward(struct qn_cuda_ctx *ctx, bf16 *res_out, bf16 *out,
			   float *mean, float *rstd, const bf16 *a, const bf16 *b,
			   const bf16 *w, const bf16 *bias, int N, int C);
/* dinp += (the residual stream's gradient); dw += ; db += . */
int qn_k_layernorm_backward(struct qn_cuda_ctx *ctx, bf16 *dinp, bf16 *dw, bf16 *db,
			    const bf16 *dout, const bf16 *inp, const bf16 *w,
			    const float *mean, const float *rstd, int N, int C);

/*
 * out[N,OC] = inp[N,C] . w[OC,C]^T (+ bias[OC]); with gelu_pre, out is
 * GELU of that and gelu_pre keeps the value before GELU (cuBLASLt's
 * GELU_AUX_BIAS epilogue, or a separate kernel where no algorithm offers
 * it).
 */
int qn_k_matmul_forward(struct qn_cuda_ctx *ctx, bf16 *out, bf16 *gelu_pre,
			const bf16 *inp, const bf16 *w, const bf16 *bias,
			int N, int C, int OC);
/* dinp = dout . w (overwritten); dw += dout^T . inp; dbias += column sums. */
int qn_k_matmul_backward(struct qn_cuda_ctx *ctx, bf16 *dinp, bf16 *dw, bf16 *dbias,
			 const bf16 *dout, const bf16 *inp, const bf16 *w,
			 int N, int C, int OC);

/*
 * Causal attention, the simple version: q.k^T for all T x T pairs through
 * cuBLAS (strided batched), a causal softmax kernel, att.v through cuBLAS.
 * att [B,NH,T,T] is kept for backward; qkvr [3,B,NH,T,HS] and vacc
 * [B,NH,T,HS] are scratch.  A fused (flash) kernel replaces this later.
 */
int qn_k_attention_forward(struct qn_cuda_ctx *ctx, bf16 *out, bf16 *att,
			   bf16 *qkvr, bf16 *vacc, const bf16 *qkv,
			   int B, int T, int C, int NH);
/*
 * dqkv [B,T,3C] (overwritten) from dout [B,T,C]; scratch: datt [B,NH,T,T],
 * qkvr and dqkvr [3,B,NH,T,HS], dvacc [B,NH,T,HS].
 */
int qn_k_attention_backward(struct qn_cuda_ctx *ctx, bf16 *dqkv, bf16 *datt,
			    bf16 *qkvr, bf16 *dqkvr, bf16 *dvacc, const bf16 *dout,
			    const bf16 *qkv, const bf16 *att, int B, int T, int C, int NH);

/*
 * The fused (flash-style) attention of attention.cu: never stores T x T.
 * Forward: out [B,T,C] and lse [B,NH,T] (fp32, kept for backward);
 * qkvr [3,B,NH,T,HS] scratch.  Backward: dqkv [B,T,3C] overwritten from
 * dout and the forward's out and lse; scratch qkvr, dor [B,NH,T,HS] and
 * D [B,NH,T] (fp32).  Head sizes 16, 32, 64, 128 (qn_k_flash_supported).
 */
int qn_k_flash_supported(int C, int NH);
int qn_k_flash_attention_forward(struct qn_cuda_ctx *ctx, bf16 *out, float *lse, bf16 *qkvr,
				 const bf16 *qkv, int B, int T, int C, int NH);
int qn_k_flash_attention_backward(struct qn_cuda_ctx *ctx, bf16 *dqkv, bf16 *qkvr, bf16 *dor,
				  float *D, const bf16 *dout, const bf16 *out, const bf16 *qkv,
				  const float *lse, int B, int T, int C, int NH);

int qn_k_gelu_forward(struct qn_cuda_ctx *ctx, bf16 *out, const bf16 *inp, size_t n);
/* dinp = gelu'(inp) * dout (dinp may be dout) */
int qn_k_gelu_backward(struct qn_cuda_ctx *ctx, bf16 *dinp, const bf16 *inp,
		       const bf16 *dout, size_t n);
int qn_k_residual_forward(struct qn_cuda_ctx *ctx, bf16 *out, const bf16 *a,
			  const bf16 *b, size_t n);

/*
 * Softmax and cross-entropy fused, one block per row: losses[N] (fp32) =
 * logsumexp(logits[:V]) - logits[target]; then, where dloss != 0, logits
 * is overwritten by its gradient (softmax - onehot) * dloss, the padded
 * columns V..Vp-1 set to zero.
 */
int qn_k_softmax_xent(struct qn_cuda_ctx *ctx, float *losses, bf16 *logits,
		      const int32_t *targets, float dloss, int N, int V, int Vp);

/*
 * One AdamW step on n fp32 master weights (llm.c's form, t from 1) with
 * the gradient multiplied by gscale (clipping) first; writes the bf16
 * copy the model computes with.
 */
int qn_k_adamw(struct qn_cuda_ctx *ctx, float *master, bf16 *param, const bf16 *grad,
	       float *m, float *v, size_t n, float lr, float beta1, float beta2,
	       float eps, float wd, int t, float gscale);
/* *norm = sqrt(sum g^2) over n bf16 gradients, summed deterministically (syncs). */
int qn_k_global_norm(struct qn_cuda_ctx *ctx, double *norm, const bf16 *g, size_t n);

#endif
