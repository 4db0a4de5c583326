/*
 * ops.h: the model's operations, forward and backward, as plain reference
 * loops (ops_ref.c) and as the fast path (ops_fast.c) with the same
 * signatures (qn_ref_* and qn_fast_*).  The reference is the one a reader
 * learns from; the fast path and the GPU kernels (model/cuda/) are tested
 * against it.  fp32; shapes as llm.c's; N = B*T rows; Vp = padded vocab.
 * Backward functions add into their gradient outputs (+=), except the
 * attention's dpreatt and datt, which are scratch [B,NH,T,T] that both
 * paths overwrite.
 *
 * QN_OPS_T(prefix, real) declares the set over a real type: float for
 * qn_ref_ and qn_fast_ here; the gradient test builds the reference a
 * second time over double (qn_refd_) and declares it with the same macro.
 */
#ifndef QN_OPS_H
#define QN_OPS_H

#include <stddef.h>
#include <stdint.h>

#define QN_OPS_T(p, real) \
/* out[N,C] = wte[inp] + wpe[t] */ \
void p##encoder_forward(real *out, const int32_t *inp, const real *wte, \
	const real *wpe, int B, int T, int C); \
void p##encoder_backward(real *dwte, real *dwpe, const real *dout, \
	const int32_t *inp, int B, int T, int C); \
/* mean and rstd [N] are saved for backward; eps 1e-5 */ \
void p##layernorm_forward(real *out, real *mean, real *rstd, \
	const real *inp, const real *w, const real *b, int N, int C); \
void p##layernorm_backward(real *dinp, real *dw, real *db, \
	const real *dout, const real *inp, const real *w, \
	const real *mean, const real *rstd, int N, int C); \
/* out[N,OC] = inp[N,C] . w[OC,C]^T + bias[OC] (bias may be NULL) */ \
void p##matmul_forward(real *out, const real *inp, const real *w, \
	const real *bias, int N, int C, int OC); \
void p##matmul_backward(real *dinp, real *dw, real *dbias, \
	const real *dout, const real *inp, const real *w, int N, int C, int OC); \
/* qkv [B,T,3C] -> out [B,T,C]; att [B,NH,T,T] softmaxed scores kept */ \
void p##attention_forward(real *out, real *preatt, real *att, \
	const real *qkv, int B, int T, int C, int NH); \
void p##attention_backward(real *dqkv, real *dpreatt, real *datt, \
	const real *dout, const real *qkv, const real *att, \
	int B, int T, int C, int NH); \
/* GELU, tanh approximation */ \
void p##gelu_forward(real *out, const real *inp, size_t n); \
void p##gelu_backward(real *dinp, const real *inp, const real *dout, size_t n); \
void p##residual_forward(real *out, const real *a, const real *b, size_t n); \
/* probs [N,Vp] (padded columns 0), losses [N] = -log probs[target] */ \
void p##softmax_xent_forward(real *losses, real *probs, const real *logits, \
	const int32_t *targets, int N, int V, int Vp); \
/* dlogits[N,Vp] += (probs - onehot) * dloss (padded columns untouched) */ \
void p##softmax_xent_backward(real *dlogits, const real *probs, \
	const int32_t *targets, real dloss, int N, int V, int Vp); \
/* One AdamW step (t counts from 1); decoupled weight decay wd */ \
void p##adamw(real *params, const real *grads, real *m, real *v, size_t n, \
	real lr, real beta1, real beta2, real eps, real wd, int t); \
/* sqrt(sum g^2), summed in double */ \
double p##global_norm(const real *g, size_t n);

QN_OPS_T(qn_ref_, float)
QN_OPS_T(qn_fast_, float)

/*
 * The fast path's output projection fused with the cross-entropy, by
 * vocabulary chunks (no [N,Vp] probabilities):
 * forward: logits = inp[N,C] wte[Vp,C]^T, lse[N] = log sum_{i<V}
 * exp(logits[n,i]), losses[N] = lse - logits[n, targets[n]] (targets
 * NULL: the logits alone);
 * backward: with dlogits = (softmax(logits) - onehot) * dloss (padded
 * columns 0), dwte += dlogits^T inp and dinp += dlogits wte; the logits
 * are left as they are.  With fresh_dwte, dwte = dlogits^T inp instead
 * (whatever it held, every one of its Vp rows is written).
 * The N*Vp logits are kept in the order the chunks are computed in, not
 * as [N,Vp]; qn_fast_head_logits writes them out as [N,Vp].
 */
void qn_fast_head_forward(float *losses, float *lse, float *logits, const float *inp,
	const float *wte, const int32_t *targets, int N, int C, int V, int Vp);
void qn_fast_head_backward(float *dinp, float *dwte, const float *logits,
	const float *lse, const float *inp, const float *wte, const int32_t *targets,
	float dloss, int N, int C, int V, int Vp, int fresh_dwte);
void qn_fast_head_logits(float *out, const float *logits, int N, int Vp);

/*
 * qn_fast_adamw on the gradient times gscale (each g * gscale rounded as
 * if the gradient had been scaled in place first): clipping without a
 * pass of its own.
 */
void qn_fast_adamw_scaled(float *params, const float *grads, float *m, float *v,
	size_t n, float gscale, float lr, float beta1, float beta2, float eps,
	float wd, int t);

/*
 * Whether the fused head's loops use the AVX2+FMA build (1) or the one
 * for any x86-64 (0); -1 asks.  Chosen by the CPU when first used; a test
 * sets it to check both builds.  Returns the previous setting.
 */
int qn_fast_use_fma(int on);

#endif
