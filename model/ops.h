/*
 * ops.h: the model's operations, forward and backward, as plain reference
 * loops (ops_ref.c) and as the fast path (ops_fast.c) with the same
 * signatures (qn_ref_* and qn_fast_*).  The reference is the one a reader
 * learns from; the fast path and the GPU kernels (model/cuda/) are tested
 * against it.  fp32; shapes as llm.c's; N = B*T rows; Vp = padded vocab.
 * Backward functions add into their gradient outputs (+=).
 */
#ifndef QN_OPS_H
#define QN_OPS_H

#include <stddef.h>
#include <stdint.h>

#define QN_OPS(p) \
/* out[N,C] = wte[inp] + wpe[t] */ \
void p##encoder_forward(float *out, const int32_t *inp, const float *wte, \
	const float *wpe, int B, int T, int C); \
void p##encoder_backward(float *dwte, float *dwpe, const float *dout, \
	const int32_t *inp, int B, int T, int C); \
/* mean and rstd [N] are saved for backward; eps 1e-5 */ \
void p##layernorm_forward(float *out, float *mean, float *rstd, \
	const float *inp, const float *w, const float *b, int N, int C); \
void p##layernorm_backward(float *dinp, float *dw, float *db, \
	const float *dout, const float *inp, const float *w, \
	const float *mean, const float *rstd, int N, int C); \
/* out[N,OC] = inp[N,C] . w[OC,C]^T + bias[OC] (bias may be NULL) */ \
void p##matmul_forward(float *out, const float *inp, const float *w, \
	const float *bias, int N, int C, int OC); \
void p##matmul_backward(float *dinp, float *dw, float *dbias, \
	const float *dout, const float *inp, const float *w, int N, int C, int OC); \
/* qkv [B,T,3C] -> out [B,T,C]; att [B,NH,T,T] softmaxed scores kept */ \
void p##attention_forward(float *out, float *preatt, float *att, \
	const float *qkv, int B, int T, int C, int NH); \
void p##attention_backward(float *dqkv, float *dpreatt, float *datt, \
	const float *dout, const float *qkv, const float *att, \
	int B, int T, int C, int NH); \
/* GELU, tanh approximation */ \
void p##gelu_forward(float *out, const float *inp, size_t n); \
void p##gelu_backward(float *dinp, const float *inp, const float *dout, size_t n); \
void p##residual_forward(float *out, const float *a, const float *b, size_t n); \
/* probs [N,Vp] (padded columns 0), losses [N] = -log probs[target] */ \
void p##softmax_xent_forward(float *losses, float *probs, const float *logits, \
	const int32_t *targets, int N, int V, int Vp); \
/* dlogits[N,Vp] += (probs - onehot) * dloss (padded columns untouched) */ \
void p##softmax_xent_backward(float *dlogits, const float *probs, \
	const int32_t *targets, float dloss, int N, int V, int Vp); \
/* One AdamW step (t counts from 1); decoupled weight decay wd */ \
void p##adamw(float *params, const float *grads, float *m, float *v, size_t n, \
	float lr, float beta1, float beta2, float eps, float wd, int t); \
/* sqrt(sum g^2), summed in double */ \
double p##global_norm(const float *g, size_t n);

QN_OPS(qn_ref_)
QN_OPS(qn_fast_)

#undef QN_OPS

#endif
