/*
 * ops_ref.c: the reference implementation of every model operation,
 * forward and backward, as plain loops (llm.c's CPU math).
 *
 * This is the version to read: one thread, no blocking, no tricks; each
 * function is the formula written as loops over the shapes in ops.h.  The
 * fast path (ops_fast.c) and the GPU kernels are tested against it.
 *
 * The file is written over a type `real`: built normally it is float and
 * the functions are qn_ref_*; the gradient test builds it a second time
 * with -DQN_REF_DOUBLE, where real is double and the functions are
 * qn_refd_*, so finite differences can be taken in double precision on
 * the same code.  <tgmath.h> makes exp, log, sqrt and tanh follow the type.
 *
 * Shapes follow llm.c: N = B*T rows of width C; the attention input qkv
 * holds, per row, the query, key and value ([3C], each C = NH heads of
 * hs = C/NH); the vocabulary is padded from V to Vp columns.
 */
#include <string.h>
#include <tgmath.h>

#include "ops.h"

#ifdef QN_REF_DOUBLE
typedef double real;
#define REF(name) qn_refd_##name
QN_OPS_T(qn_refd_, double)
#else
typedef float real;
#define REF(name) qn_ref_##name
#endif

#define LN_EPS 1e-5

/* out[b,t,:] = wte[inp[b,t],:] + wpe[t,:] */
void REF(encoder_forward)(real *out, const int32_t *inp, const real *wte,
			  const real *wpe, int B, int T, int C)
{
	for (int b = 0; b < B; b++)
		for (int t = 0; t < T; t++) {
			real *o = out + ((size_t)b * T + t) * C;
			const real *e = wte + (size_t)inp[b * T + t] * C;
			const real *p = wpe + (size_t)t * C;
			for (int i = 0; i < C; i++)
				o[i] = e[i] + p[i];
		}
}

void REF(encoder_backward)(real *dwte, real *dwpe, const real *dout,
			   const int32_t *inp, int B, int T, int C)
{
	for (int b = 0; b < B; b++)
		for (int t = 0; t < T; t++) {
			const real *d = dout + ((size_t)b * T + t) * C;
			real *de = dwte + (size_t)inp[b * T + t] * C;
			real *dp = dwpe + (size_t)t * C;
			for (int i = 0; i < C; i++) {
				de[i] += d[i];
				dp[i] += d[i];
			}
		}
}

/*
 * out = (x - mean) * rstd * w + b per row, rstd = 1 / sqrt(var + eps),
 * var the biased variance.
 */
void REF(layernorm_forward)(real *out, real *mean, real *rstd,
			    const real *inp, const real *w, const real *b, int N, int C)
{
	for (int n = 0; n < N; n++) {
		const real *x = inp + (size_t)n * C;
		real *o = out + (size_t)n * C;
		real m = 0, v = 0;

		for (int i = 0; i < C; i++)
			m += x[i];
		m /= C;
		for (int i = 0; i < C; i++)
			v += (x[i] - m) * (x[i] - m);
		v /= C;
		real s = 1 / sqrt(v + (real)LN_EPS);
		for (int i = 0; i < C; i++)
			o[i] = (x[i] - m) * s * w[i] + b[i];
		mean[n] = m;
		rstd[n] = s;
	}
}

/*
 * With norm = (x - mean) * rstd and dnorm = w * dout:
 * dx = rstd * (dnorm - mean(dnorm) - norm * mean(dnorm * norm)).
 */
void REF(layernorm_backward)(real *dinp, real *dw, real *db,
			     const real *dout, const real *inp, const real *w,
			     const real *mean, const real *rstd, int N, int C)
{
	for (int n = 0; n < N; n++) {
		const real *x = inp + (size_t)n * C;
		const real *d = dout + (size_t)n * C;
		real *dx = dinp + (size_t)n * C;
		real m = mean[n], s = rstd[n];
		real dnorm_mean = 0, dnorm_norm_mean = 0;

		for (int i = 0; i < C; i++) {
			real norm = (x[i] - m) * s;
			real dnorm = w[i] * d[i];
			dnorm_mean += dnorm;
			dnorm_norm_mean += dnorm * norm;
		}
		dnorm_mean /= C;
		dnorm_norm_mean /= C;
		for (int i = 0; i < C; i++) {
			real norm = (x[i] - m) * s;
			real dnorm = w[i] * d[i];
			db[i] += d[i];
			dw[i] += norm * d[i];
			dx[i] += (dnorm - dnorm_mean - norm * dnorm_norm_mean) * s;
		}
	}
}

/* out[n,o] = bias[o] + sum_c inp[n,c] w[o,c] */
void REF(matmul_forward)(real *out, const real *inp, const real *w,
			 const real *bias, int N, int C, int OC)
{
	for (int n = 0; n < N; n++)
		for (int o = 0; o < OC; o++) {
			real s = bias ? bias[o] : 0;
			for (int c = 0; c < C; c++)
				s += inp[(size_t)n * C + c] * w[(size_t)o * C + c];
			out[(size_t)n * OC + o] = s;
		}
}

/*
 * dinp[n,c] += sum_o dout[n,o] w[o,c];  dw[o,c] += sum_n dout[n,o] inp[n,c];
 * dbias[o] += sum_n dout[n,o] (dbias may be NULL).
 */
void REF(matmul_backward)(real *dinp, real *dw, real *dbias,
			  const real *dout, const real *inp, const real *w,
			  int N, int C, int OC)
{
	for (int n = 0; n < N; n++)
		for (int c = 0; c < C; c++) {
			real s = 0;
			for (int o = 0; o < OC; o++)
				s += dout[(size_t)n * OC + o] * w[(size_t)o * C + c];
			dinp[(size_t)n * C + c] += s;
		}
	for (int o = 0; o < OC; o++) {
		for (int c = 0; c < C; c++) {
			real s = 0;
			for (int n = 0; n < N; n++)
				s += dout[(size_t)n * OC + o] * inp[(size_t)n * C + c];
			dw[(size_t)o * C + c] += s;
		}
		if (dbias) {
			real s = 0;
			for (int n = 0; n < N; n++)
				s += dout[(size_t)n * OC + o];
			dbias[o] += s;
		}
	}
}

/*
 * Causal self-attention, per batch row b, head h and query position t:
 * preatt[t2] = q_t . k_t2 / sqrt(hs) for t2 <= t, att = softmax(preatt)
 * over t2 <= t, out_t = sum_t2 att[t2] v_t2.  Entries t2 > t are 0 in both
 * preatt and att.
 */
void REF(attention_forward)(real *out, real *preatt, real *att,
			    const real *qkv, int B, int T, int C, int NH)
{
	int hs = C / NH;
	real scale = 1 / sqrt((real)hs);

	for (int b = 0; b < B; b++)
		for (int h = 0; h < NH; h++)
			for (int t = 0; t < T; t++) {
				const real *q = qkv + ((size_t)b * T + t) * 3 * C + h * hs;
				real *pre = preatt + (((size_t)b * NH + h) * T + t) * T;
				real *a = att + (((size_t)b * NH + h) * T + t) * T;
				real *o = out + ((size_t)b * T + t) * C + h * hs;
				real max = -INFINITY, sum = 0;

				for (int t2 = 0; t2 <= t; t2++) {
					const real *k = qkv + ((size_t)b * T + t2) * 3 * C + C + h * hs;
					real s = 0;
					for (int i = 0; i < hs; i++)
						s += q[i] * k[i];
					s *= scale;
					pre[t2] = s;
					if (s > max)
						max = s;
				}
				for (int t2 = 0; t2 <= t; t2++) {
					a[t2] = exp(pre[t2] - max);
					sum += a[t2];
				}
				for (int t2 = 0; t2 <= t; t2++)
					a[t2] /= sum;
				for (int t2 = t + 1; t2 < T; t2++)
					pre[t2] = a[t2] = 0;
				for (int i = 0; i < hs; i++)
					o[i] = 0;
				for (int t2 = 0; t2 <= t; t2++) {
					const real *v = qkv + ((size_t)b * T + t2) * 3 * C + 2 * C + h * hs;
					for (int i = 0; i < hs; i++)
						o[i] += a[t2] * v[i];
				}
			}
}

/*
 * Backward through the three steps above, per (b, h, t):
 * datt[t2] = dout_t . v_t2 and dv_t2 += att[t2] dout_t;
 * softmax: dpreatt[t2] = att[t2] (datt[t2] - sum_t3 att[t3] datt[t3]);
 * dq_t += scale sum_t2 dpreatt[t2] k_t2 and dk_t2 += scale dpreatt[t2] q_t.
 * datt and dpreatt are scratch, overwritten.
 */
void REF(attention_backward)(real *dqkv, real *dpreatt, real *datt,
			     const real *dout, const real *qkv, const real *att,
			     int B, int T, int C, int NH)
{
	int hs = C / NH;
	real scale = 1 / sqrt((real)hs);

	for (int b = 0; b < B; b++)
		for (int h = 0; h < NH; h++)
			for (int t = 0; t < T; t++) {
				size_t row = (((size_t)b * NH + h) * T + t) * T;
				const real *a = att + row;
				real *da = datt + row, *dpre = dpreatt + row;
				const real *d = dout + ((size_t)b * T + t) * C + h * hs;
				const real *q = qkv + ((size_t)b * T + t) * 3 * C + h * hs;
				real *dq = dqkv + ((size_t)b * T + t) * 3 * C + h * hs;
				real dot = 0;

				for (int t2 = 0; t2 < T; t2++)
					da[t2] = dpre[t2] = 0;
				for (int t2 = 0; t2 <= t; t2++) {
					size_t r2 = ((size_t)b * T + t2) * 3 * C + h * hs;
					const real *v = qkv + r2 + 2 * C;
					real *dv = dqkv + r2 + 2 * C;
					for (int i = 0; i < hs; i++) {
						da[t2] += d[i] * v[i];
						dv[i] += a[t2] * d[i];
					}
					dot += a[t2] * da[t2];
				}
				for (int t2 = 0; t2 <= t; t2++)
					dpre[t2] = a[t2] * (da[t2] - dot);
				for (int t2 = 0; t2 <= t; t2++) {
					size_t r2 = ((size_t)b * T + t2) * 3 * C + h * hs;
					const real *k = qkv + r2 + C;
					real *dk = dqkv + r2 + C;
					for (int i = 0; i < hs; i++) {
						dq[i] += scale * dpre[t2] * k[i];
						dk[i] += scale * dpre[t2] * q[i];
					}
				}
			}
}

#define GELU_SCALE 0.7978845608028654	/* sqrt(2 / pi) */
#define GELU_CUBE 0.044715

/* gelu(x) = x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
void REF(gelu_forward)(real *out, const real *inp, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		real x = inp[i];
		real u = (real)GELU_SCALE * (x + (real)GELU_CUBE * x * x * x);
		out[i] = (real)0.5 * x * (1 + tanh(u));
	}
}

void REF(gelu_backward)(real *dinp, const real *inp, const real *dout, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		real x = inp[i];
		real u = (real)GELU_SCALE * (x + (real)GELU_CUBE * x * x * x);
		real th = tanh(u);
		real du = (real)GELU_SCALE * (1 + 3 * (real)GELU_CUBE * x * x);
		real grad = (real)0.5 * (1 + th) + (real)0.5 * x * (1 - th * th) * du;
		dinp[i] += grad * dout[i];
	}
}

void REF(residual_forward)(real *out, const real *a, const real *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = a[i] + b[i];
}

/*
 * Softmax over the first V columns of each row (the padded columns are
 * never predicted: their probability is 0) and the cross-entropy
 * -log p[target], computed as log(sum exp(l - max)) - (l[target] - max)
 * so a tiny probability does not become an infinite loss.
 */
void REF(softmax_xent_forward)(real *losses, real *probs, const real *logits,
			       const int32_t *targets, int N, int V, int Vp)
{
	for (int n = 0; n < N; n++) {
		const real *l = logits + (size_t)n * Vp;
		real *p = probs + (size_t)n * Vp;
		real max = -INFINITY, sum = 0;

		for (int i = 0; i < V; i++)
			if (l[i] > max)
				max = l[i];
		for (int i = 0; i < V; i++) {
			p[i] = exp(l[i] - max);
			sum += p[i];
		}
		for (int i = 0; i < V; i++)
			p[i] /= sum;
		for (int i = V; i < Vp; i++)
			p[i] = 0;
		losses[n] = log(sum) - (l[targets[n]] - max);
	}
}

void REF(softmax_xent_backward)(real *dlogits, const real *probs,
				const int32_t *targets, real dloss, int N, int V, int Vp)
{
	for (int n = 0; n < N; n++) {
		const real *p = probs + (size_t)n * Vp;
		real *d = dlogits + (size_t)n * Vp;
		for (int i = 0; i < V; i++)
			d[i] += (p[i] - (i == targets[n])) * dloss;
	}
}

/*
 * AdamW (Loshchilov & Hutter): m and v are the running first and second
 * moments, bias-corrected by 1 - beta^t; the weight decay is decoupled
 * from the gradient (applied to the parameter directly), as in
 * torch.optim.AdamW and llm.c.
 */
void REF(adamw)(real *params, const real *grads, real *m, real *v, size_t n,
		real lr, real beta1, real beta2, real eps, real wd, int t)
{
	real c1 = 1 - pow(beta1, (real)t), c2 = 1 - pow(beta2, (real)t);

	for (size_t i = 0; i < n; i++) {
		real g = grads[i];
		m[i] = beta1 * m[i] + (1 - beta1) * g;
		v[i] = beta2 * v[i] + (1 - beta2) * g * g;
		real mhat = m[i] / c1, vhat = v[i] / c2;
		params[i] -= lr * (mhat / (sqrt(vhat) + eps) + wd * params[i]);
	}
}

double REF(global_norm)(const real *g, size_t n)
{
	double s = 0;

	for (size_t i = 0; i < n; i++)
		s += (double)g[i] * g[i];
	return sqrt(s);
}
