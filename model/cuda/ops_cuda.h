/*
 * ops_cuda.h: each GPU kernel of kernels.cu behind a host-array call with
 * the shapes of its CPU reference op in ops.h, for the tests and the
 * device script (tests/unit/t_cuda_ops.c, bench/gpu.sh).
 *
 * Every call uploads its fp32 inputs as bf16 (the storage the model
 * uses), fills each output on the device with 0xFF bytes (bf16 NaN) so
 * that an element the kernel fails to write comes back NaN, runs the
 * kernel, and copies the outputs back as fp32.  "in/out" arrays are
 * uploaded first: the kernel adds to them, as the reference does.
 * Returns 0, or QN_EIO with CUDA's words in err.
 */
#ifndef QN_OPS_CUDA_H
#define QN_OPS_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* out[B*T,C]; wte has V rows */
int qn_cuda_encoder_forward(float *out, const int32_t *inp, const float *wte,
	const float *wpe, int B, int T, int C, int V, struct qn_err *err);
/* dwte [V,C], dwpe [T,C] in/out */
int qn_cuda_encoder_backward(float *dwte, float *dwpe, const float *dout,
	const int32_t *inp, int B, int T, int C, int V, struct qn_err *err);
/*
 * out = LN(x), mean, rstd [N] (fp32 on the device too); x = a, or with
 * res (NULL: plain) x = a + b, written to res: the fused residual add.
 */
int qn_cuda_layernorm_forward(float *res, float *out, float *mean, float *rstd,
	const float *a, const float *b, const float *w, const float *bias,
	int N, int C, struct qn_err *err);
/* dinp [N,C], dw, db [C] in/out */
int qn_cuda_layernorm_backward(float *dinp, float *dw, float *db,
	const float *dout, const float *inp, const float *w, const float *mean,
	const float *rstd, int N, int C, struct qn_err *err);
/* out [N,OC]; with gelu_pre, out = GELU(product) and gelu_pre the product */
int qn_cuda_matmul_forward(float *out, float *gelu_pre, const float *inp,
	const float *w, const float *bias, int N, int C, int OC, struct qn_err *err);
/* dinp [N,C] overwritten; dw [OC,C], dbias [OC] (may be NULL) in/out */
int qn_cuda_matmul_backward(float *dinp, float *dw, float *dbias,
	const float *dout, const float *inp, const float *w, int N, int C, int OC,
	struct qn_err *err);
/*
 * out [B,T,C] from qkv [B,T,3C]; fused 0: the cuBLAS version, att
 * [B,NH,T,T] (may be NULL) its probabilities; fused 1: the flash-style
 * kernel of attention.cu (att must be NULL: it has none).
 */
int qn_cuda_attention_forward(float *out, float *att, const float *qkv,
	int B, int T, int C, int NH, int fused, struct qn_err *err);
/* dqkv [B,T,3C] overwritten (the forward runs first) */
int qn_cuda_attention_backward(float *dqkv, const float *dout, const float *qkv,
	int B, int T, int C, int NH, int fused, struct qn_err *err);
int qn_cuda_gelu_forward(float *out, const float *inp, size_t n, struct qn_err *err);
/* dinp overwritten */
int qn_cuda_gelu_backward(float *dinp, const float *inp, const float *dout,
	size_t n, struct qn_err *err);
int qn_cuda_residual_forward(float *out, const float *a, const float *b, size_t n,
	struct qn_err *err);
/* losses [N]; dlogits [N,Vp] = (softmax - onehot) * dloss, padded columns 0 */
int qn_cuda_softmax_xent(float *losses, float *dlogits, const float *logits,
	const int32_t *targets, float dloss, int N, int V, int Vp, struct qn_err *err);
/*
 * params, m, v in/out (fp32 on the device too); grads uploaded as bf16;
 * wcopy (may be NULL) receives the bf16 weights the kernel writes.
 */
int qn_cuda_adamw(float *params, float *wcopy, const float *grads, float *m, float *v,
	size_t n, float lr, float beta1, float beta2, float eps, float wd, int t,
	float gscale, struct qn_err *err);
int qn_cuda_global_norm(double *norm, const float *g, size_t n, struct qn_err *err);

/*
 * The bf16 matrix product rate of this path (qn_k_matmul_forward through
 * cuBLASLt, fp32 accumulation) for out[m,n] = a[m,k] . b[n,k]^T on random
 * data: the mean of iters timed products after 3 untimed, in TFLOP/s.
 */
int qn_cuda_gemm_rate(int m, int n, int k, int iters, double *tflops, struct qn_err *err);

#ifdef __cplusplus
}
#endif

#endif
