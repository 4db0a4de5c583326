/*
 * ops_fast.c: the fast path of the model's operations (ops.h), the same
 * signatures and math as ops_ref.c.
 *
 * Every matrix product is an OpenBLAS sgemm, including the attention's
 * Q K^T and att V per (batch, head) and all their backward products; the
 * rest are loops over rows, vectorised (#pragma omp simd) and spread over
 * OpenMP threads.
 *
 * Threads: OpenBLAS is set to one thread and the OpenMP threads call it on
 * disjoint slabs of the output, so the two thread pools never compete for
 * the cores.  No result depends on the number of threads: slabs are cut
 * by shape alone, sums over rows are split by column, not by row, and the
 * global norm adds fixed chunks in order; so the bytes are the same run
 * to run and for any OMP_NUM_THREADS (on one machine: the exp-heavy loops
 * have AVX2 and AVX2+FMA builds whose sums differ in the last bits from
 * the SSE2 one).  Slabs and chunks of any size are handed out
 * dynamically: on cores shared with other programs, a thread that loses
 * its core for a time slice would otherwise hold the rest at the end of
 * the loop.
 *
 * On cores shared with other programs, OMP_WAIT_POLICY=passive matters:
 * libgomp's threads spin between parallel regions by default, taking the
 * cores the working threads need (about 3x slower steps here under load);
 * passive waiting costs 15-25 microseconds per region here (~100 per
 * step), a time slice when the cores are busy, which is why elementwise
 * work under PAR_MIN floats stays on the calling thread.
 *
 * The output projection and the cross-entropy are one fused op each way
 * (qn_fast_head_forward and _backward), by vocabulary chunks small enough
 * to stay in cache: no [N,Vp] probabilities are stored.
 *
 * exp and tanh are computed by the vectorisable exp below (range
 * reduction by ln 2 and a degree-6 polynomial, ~2 ulp), not libm, which
 * would keep the loops scalar.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <omp.h>
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#endif

#include "err.h"
#include "ops.h"

#define LN_EPS 1e-5f

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

static void blas_single(void)
{
	openblas_set_num_threads(1);
}

static void blas_init(void)
{
	pthread_once(&blas_once, blas_single);
}

/*
 * A matrix product's output is cut into slabs along one side, at most 8,
 * each at least `least` rows or columns, whatever the number of threads:
 * sgemm's result for an element can depend on the shape of the slab it is
 * in, so the shape must not depend on the thread count.  Slabs of rows
 * are at least 128 high: each one packs the whole of the other operand
 * again (for the logits' backward, all of wte).
 */
#define SLAB_COLS 32
#define SLAB_ROWS 128
#define SLAB_MAX 8

static int nslabs(int len, int least)
{
	int n = len / least;
	return n < 1 ? 1 : n > SLAB_MAX ? SLAB_MAX : n;
}

/* [lo, hi) of slab i of n over len items, in multiples of align. */
static void slab(int len, int n, int i, int align, int *lo, int *hi)
{
	int units = (len + align - 1) / align;
	int a = (int)((long)units * i / n), b = (int)((long)units * (i + 1) / n);

	*lo = a * align < len ? a * align : len;
	*hi = b * align < len ? b * align : len;
}

/*
 * Elementwise work under PAR_MIN floats runs on the calling thread alone:
 * waking a sleeping worker for it (OMP_WAIT_POLICY=passive) costs tens of
 * microseconds on idle cores and up to a time slice on busy ones, more
 * than the work (a LayerNorm of issue 7's 256 x 128 takes about 10 us).
 * The results are the same either way.
 */
#define PAR_MIN ((size_t)1 << 18)

static int par(size_t n)
{
	return n >= PAR_MIN;
}

/*
 * The loops heavy in exp (the cross-entropy's rows, GELU) are built twice,
 * for AVX2 and for any x86-64, and chosen when the program loads.
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define WIDE __attribute__((target_clones("avx2", "default")))
#else
#define WIDE
#endif

/* exp(x) for float, vectorisable; inputs are clamped to [-87.3, 88.7]. */
#pragma omp declare simd notinbranch
static inline float vexp(float x)
{
	x = x > -87.3f ? x : -87.3f;
	x = x < 88.7f ? x : 88.7f;
	float k = x * 1.44269504f;
	/* round to nearest by the 1.5 * 2^23 trick (|k| < 2^22) */
	k = (k + 12582912.0f) - 12582912.0f;
	float r = x - k * 0.693359375f;	/* ln 2, high part (exact) */
	r = r - k * -2.12194440e-4f;	/* and the rest */
	float p = 1.0f / 720;
	p = p * r + 1.0f / 120;
	p = p * r + 1.0f / 24;
	p = p * r + 1.0f / 6;
	p = p * r + 0.5f;
	p = p * r + 1.0f;
	p = p * r + 1.0f;
	int32_t bits = ((int32_t)k + 127) << 23;	/* 2^k */
	float scale;
	memcpy(&scale, &bits, sizeof scale);
	return p * scale;
}

/*
 * The same exp with fused multiply-adds, for the loops chosen at run time
 * on CPUs with AVX2 and FMA (the cross-entropy's, which compute exp for
 * every logit twice a step): the polynomial's chain of dependent
 * operations is half as long.
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define HAVE_FMA_PATH 1
#define FMA_TARGET __attribute__((target("avx2,fma")))

FMA_TARGET static inline float vexp_fma(float x)
{
	x = x > -87.3f ? x : -87.3f;
	x = x < 88.7f ? x : 88.7f;
	float k = x * 1.44269504f;
	k = (k + 12582912.0f) - 12582912.0f;
	float r = __builtin_fmaf(k, -0.693359375f, x);
	r = __builtin_fmaf(k, 2.12194440e-4f, r);
	float p = 1.0f / 720;
	p = __builtin_fmaf(p, r, 1.0f / 120);
	p = __builtin_fmaf(p, r, 1.0f / 24);
	p = __builtin_fmaf(p, r, 1.0f / 6);
	p = __builtin_fmaf(p, r, 0.5f);
	p = __builtin_fmaf(p, r, 1.0f);
	p = __builtin_fmaf(p, r, 1.0f);
	int32_t bits = ((int32_t)k + 127) << 23;
	float scale;
	memcpy(&scale, &bits, sizeof scale);
	return p * scale;
}
#else
#define HAVE_FMA_PATH 0
#endif

static pthread_once_t fma_once = PTHREAD_ONCE_INIT;
static int fma_on;	/* AVX2 and FMA: the cross-entropy's FMA loops */

static void fma_detect(void)
{
#if HAVE_FMA_PATH
	__builtin_cpu_init();
	fma_on = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
}

static int use_fma(void)
{
	pthread_once(&fma_once, fma_detect);
	return fma_on;
}

int qn_fast_use_fma(int on)
{
	int was = use_fma();

	if (on >= 0)
		fma_on = on && HAVE_FMA_PATH;
	return was;
}

#pragma omp declare simd notinbranch
static inline float vtanh(float u)
{
	return 1.0f - 2.0f / (vexp(2.0f * u) + 1.0f);
}

void qn_fast_encoder_forward(float *out, const int32_t *inp, const float *wte,
			     const float *wpe, int B, int T, int C)
{
#pragma omp parallel for schedule(static) if (par((size_t)B * T * C))
	for (int bt = 0; bt < B * T; bt++) {
		float *o = out + (size_t)bt * C;
		const float *e = wte + (size_t)inp[bt] * C, *p = wpe + (size_t)(bt % T) * C;
#pragma omp simd
		for (int i = 0; i < C; i++)
			o[i] = e[i] + p[i];
	}
}

/* Scatter-adds into dwte (tokens repeat) one row after another, in order. */
void qn_fast_encoder_backward(float *dwte, float *dwpe, const float *dout,
			      const int32_t *inp, int B, int T, int C)
{
#pragma omp parallel if (par((size_t)B * T * C))
	{
		int lo, hi;
		slab(C, omp_get_num_threads(), omp_get_thread_num(), 16, &lo, &hi);
		for (int bt = 0; bt < B * T; bt++) {
			const float *d = dout + (size_t)bt * C;
			float *de = dwte + (size_t)inp[bt] * C;
			float *dp = dwpe + (size_t)(bt % T) * C;
#pragma omp simd
			for (int i = lo; i < hi; i++) {
				de[i] += d[i];
				dp[i] += d[i];
			}
		}
	}
}

void qn_fast_layernorm_forward(float *out, float *mean, float *rstd,
			       const float *inp, const float *w, const float *b, int N, int C)
{
#pragma omp parallel for schedule(static) if (par((size_t)N * C))
	for (int n = 0; n < N; n++) {
		const float *x = inp + (size_t)n * C;
		float *o = out + (size_t)n * C;
		float m = 0, v = 0;
#pragma omp simd reduction(+:m)
		for (int i = 0; i < C; i++)
			m += x[i];
		m /= C;
#pragma omp simd reduction(+:v)
		for (int i = 0; i < C; i++)
			v += (x[i] - m) * (x[i] - m);
		v /= C;
		float s = 1.0f / sqrtf(v + LN_EPS);
#pragma omp simd
		for (int i = 0; i < C; i++)
			o[i] = (x[i] - m) * s * w[i] + b[i];
		mean[n] = m;
		rstd[n] = s;
	}
}

/*
 * Two passes: rows in parallel for dinp, then columns in parallel for dw
 * and db (sums over rows in row order, whatever the thread count).
 */
void qn_fast_layernorm_backward(float *dinp, float *dw, float *db,
				const float *dout, const float *inp, const float *w,
				const float *mean, const float *rstd, int N, int C)
{
#pragma omp parallel if (par((size_t)N * C))
	{
#pragma omp for schedule(static)
		for (int n = 0; n < N; n++) {
			const float *x = inp + (size_t)n * C, *d = dout + (size_t)n * C;
			float *dx = dinp + (size_t)n * C;
			float m = mean[n], s = rstd[n], dm = 0, dnm = 0;
#pragma omp simd reduction(+:dm, dnm)
			for (int i = 0; i < C; i++) {
				float dnorm = w[i] * d[i];
				dm += dnorm;
				dnm += dnorm * (x[i] - m) * s;
			}
			dm /= C;
			dnm /= C;
#pragma omp simd
			for (int i = 0; i < C; i++) {
				float norm = (x[i] - m) * s;
				dx[i] += (w[i] * d[i] - dm - norm * dnm) * s;
			}
		}
		int lo, hi;
		slab(C, omp_get_num_threads(), omp_get_thread_num(), 16, &lo, &hi);
		for (int n = 0; n < N; n++) {
			const float *x = inp + (size_t)n * C, *d = dout + (size_t)n * C;
			float m = mean[n], s = rstd[n];
#pragma omp simd
			for (int i = lo; i < hi; i++) {
				db[i] += d[i];
				dw[i] += (x[i] - m) * s * d[i];
			}
		}
	}
}

/*
 * out[N,OC] = inp[N,C] w[OC,C]^T + bias: each thread one slab of the
 * output, cut along the longer side.
 */
void qn_fast_matmul_forward(float *out, const float *inp, const float *w,
			    const float *bias, int N, int C, int OC)
{
	int by_col = OC >= N, ns = by_col ? nslabs(OC, SLAB_COLS) : nslabs(N, SLAB_ROWS);

	blas_init();
#pragma omp parallel for schedule(dynamic, 1)
	for (int i = 0; i < ns; i++) {
		int lo, hi;
		if (by_col) {
			slab(OC, ns, i, 16, &lo, &hi);
			if (hi <= lo)
				continue;
			if (bias)
				for (int r = 0; r < N; r++)
					memcpy(out + (size_t)r * OC + lo, bias + lo,
					       (hi - lo) * sizeof *bias);
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, hi - lo, C,
				    1.0f, inp, C, w + (size_t)lo * C, C, bias ? 1.0f : 0.0f,
				    out + lo, OC);
		} else {
			slab(N, ns, i, 4, &lo, &hi);
			if (hi <= lo)
				continue;
			if (bias)
				for (int r = lo; r < hi; r++)
					memcpy(out + (size_t)r * OC, bias, OC * sizeof *bias);
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, hi - lo, OC, C,
				    1.0f, inp + (size_t)lo * C, C, w, C, bias ? 1.0f : 0.0f,
				    out + (size_t)lo * OC, OC);
		}
	}
}

/*
 * dinp[N,C] += dout[N,OC] w[OC,C]   (slabs of rows of N)
 * dw[OC,C] += dout^T inp            (slabs of rows of OC)
 * dbias[OC] += column sums of dout  (the same OC slabs, rows in order)
 */
void qn_fast_matmul_backward(float *dinp, float *dw, float *dbias,
			     const float *dout, const float *inp, const float *w,
			     int N, int C, int OC)
{
	int nsn = nslabs(N, SLAB_ROWS), nso = nslabs(OC, SLAB_COLS);

	blas_init();
	/* dynamic: the N slabs (K = OC) cost several OC slabs each */
#pragma omp parallel for schedule(dynamic, 1)
	for (int i = 0; i < nsn + nso; i++) {
		int lo, hi;
		if (i < nsn) {
			slab(N, nsn, i, 4, &lo, &hi);
			if (hi > lo)
				cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, hi - lo, C, OC,
					    1.0f, dout + (size_t)lo * OC, OC, w, C, 1.0f,
					    dinp + (size_t)lo * C, C);
			continue;
		}
		slab(OC, nso, i - nsn, 16, &lo, &hi);
		if (hi <= lo)
			continue;
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, hi - lo, C, N,
			    1.0f, dout + lo, OC, inp, C, 1.0f, dw + (size_t)lo * C, C);
		if (dbias)
			for (int r = 0; r < N; r++) {
				const float *d = dout + (size_t)r * OC;
#pragma omp simd
				for (int o = lo; o < hi; o++)
					dbias[o] += d[o];
			}
	}
}

/*
 * Per (b, h), in parallel: preatt = scale Q K^T (sgemm, all T x T), the
 * causal softmax row by row, out = att V (sgemm).  Q, K, V and out are
 * strided views into qkv [B,T,3C] and out [B,T,C].
 */
void qn_fast_attention_forward(float *out, float *preatt, float *att,
			       const float *qkv, int B, int T, int C, int NH)
{
	int hs = C / NH;
	float scale = 1.0f / sqrtf((float)hs);

	blas_init();
#pragma omp parallel for schedule(dynamic, 1)
	for (int bh = 0; bh < B * NH; bh++) {
		int b = bh / NH, h = bh % NH;
		const float *q = qkv + (size_t)b * T * 3 * C + h * hs;
		float *pre = preatt + (size_t)bh * T * T, *a = att + (size_t)bh * T * T;

		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, scale,
			    q, 3 * C, q + C, 3 * C, 0.0f, pre, T);
		for (int t = 0; t < T; t++) {
			float *p = pre + (size_t)t * T, *r = a + (size_t)t * T;
			float max = -INFINITY, sum = 0;
#pragma omp simd reduction(max:max)
			for (int t2 = 0; t2 <= t; t2++)
				max = p[t2] > max ? p[t2] : max;
#pragma omp simd reduction(+:sum)
			for (int t2 = 0; t2 <= t; t2++) {
				r[t2] = vexp(p[t2] - max);
				sum += r[t2];
			}
			float inv = 1.0f / sum;
#pragma omp simd
			for (int t2 = 0; t2 <= t; t2++)
				r[t2] *= inv;
			for (int t2 = t + 1; t2 < T; t2++)
				p[t2] = r[t2] = 0;
		}
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T, 1.0f,
			    a, T, q + 2 * C, 3 * C, 0.0f, out + (size_t)b * T * C + h * hs, C);
	}
}

/*
 * Per (b, h): datt = dout V^T, dV += att^T dout, the softmax backward
 * dpreatt = att (datt - rowsum(att datt)) scaled by 1/sqrt(hs) here, then
 * dQ += dpreatt K and dK += dpreatt^T Q.  Heads write disjoint columns
 * of dqkv.
 */
void qn_fast_attention_backward(float *dqkv, float *dpreatt, float *datt,
				const float *dout, const float *qkv, const float *att,
				int B, int T, int C, int NH)
{
	int hs = C / NH;
	float scale = 1.0f / sqrtf((float)hs);

	blas_init();
#pragma omp parallel for schedule(dynamic, 1)
	for (int bh = 0; bh < B * NH; bh++) {
		int b = bh / NH, h = bh % NH;
		size_t qoff = (size_t)b * T * 3 * C + h * hs;
		const float *q = qkv + qoff, *k = q + C, *v = q + 2 * C;
		float *dq = dqkv + qoff, *dk = dq + C, *dv = dq + 2 * C;
		const float *d = dout + (size_t)b * T * C + h * hs;
		const float *a = att + (size_t)bh * T * T;
		float *da = datt + (size_t)bh * T * T, *dp = dpreatt + (size_t)bh * T * T;

		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, 1.0f,
			    d, C, v, 3 * C, 0.0f, da, T);
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T, 1.0f,
			    a, T, d, C, 1.0f, dv, 3 * C);
		for (int t = 0; t < T; t++) {
			const float *ar = a + (size_t)t * T;
			const float *dar = da + (size_t)t * T;
			float *dpr = dp + (size_t)t * T, dot = 0;
#pragma omp simd reduction(+:dot)
			for (int t2 = 0; t2 <= t; t2++)
				dot += ar[t2] * dar[t2];
#pragma omp simd
			for (int t2 = 0; t2 <= t; t2++)
				dpr[t2] = scale * ar[t2] * (dar[t2] - dot);
			for (int t2 = t + 1; t2 < T; t2++)
				dpr[t2] = 0;
		}
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T, 1.0f,
			    dp, T, k, 3 * C, 1.0f, dq, 3 * C);
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T, 1.0f,
			    dp, T, q, 3 * C, 1.0f, dk, 3 * C);
	}
}

#define GELU_SCALE 0.7978845608f
#define GELU_CUBE 0.044715f

WIDE static void gelu_fwd(float *out, const float *inp, size_t n)
{
#pragma omp simd
	for (size_t i = 0; i < n; i++) {
		float x = inp[i];
		float u = GELU_SCALE * (x + GELU_CUBE * x * x * x);
		out[i] = 0.5f * x * (1.0f + vtanh(u));
	}
}

WIDE static void gelu_bwd(float *dinp, const float *inp, const float *dout, size_t n)
{
#pragma omp simd
	for (size_t i = 0; i < n; i++) {
		float x = inp[i];
		float u = GELU_SCALE * (x + GELU_CUBE * x * x * x);
		float th = vtanh(u);
		float du = GELU_SCALE * (1.0f + 3.0f * GELU_CUBE * x * x);
		float g = 0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * du;
		dinp[i] += g * dout[i];
	}
}

/* Pointwise work in chunks of 4096, spread over the threads. */
#define CHUNK 4096

void qn_fast_gelu_forward(float *out, const float *inp, size_t n)
{
	long chunks = (long)((n + CHUNK - 1) / CHUNK);

#pragma omp parallel for schedule(dynamic, 1) if (par(n))
	for (long c = 0; c < chunks; c++) {
		size_t lo = (size_t)c * CHUNK, len = n - lo < CHUNK ? n - lo : CHUNK;
		gelu_fwd(out + lo, inp + lo, len);
	}
}

void qn_fast_gelu_backward(float *dinp, const float *inp, const float *dout, size_t n)
{
	long chunks = (long)((n + CHUNK - 1) / CHUNK);

#pragma omp parallel for schedule(dynamic, 1) if (par(n))
	for (long c = 0; c < chunks; c++) {
		size_t lo = (size_t)c * CHUNK, len = n - lo < CHUNK ? n - lo : CHUNK;
		gelu_bwd(dinp + lo, inp + lo, dout + lo, len);
	}
}

void qn_fast_residual_forward(float *out, const float *a, const float *b, size_t n)
{
#pragma omp parallel for simd schedule(static) if (par(n))
	for (size_t i = 0; i < n; i++)
		out[i] = a[i] + b[i];
}

/* One row of the softmax over V of Vp columns; returns the loss. */
WIDE static float xent_row(float *p, const float *l, int target, int V, int Vp)
{
	float max = -INFINITY, sum = 0;

#pragma omp simd reduction(max:max)
	for (int i = 0; i < V; i++)
		max = l[i] > max ? l[i] : max;
#pragma omp simd reduction(+:sum)
	for (int i = 0; i < V; i++) {
		p[i] = vexp(l[i] - max);
		sum += p[i];
	}
	float inv = 1.0f / sum;
#pragma omp simd
	for (int i = 0; i < V; i++)
		p[i] *= inv;
	for (int i = V; i < Vp; i++)
		p[i] = 0;
	return logf(sum) - (l[target] - max);
}

/* Rows in parallel: max, exp and sum, scale; the loss from log(sum). */
void qn_fast_softmax_xent_forward(float *losses, float *probs, const float *logits,
				  const int32_t *targets, int N, int V, int Vp)
{
#pragma omp parallel for schedule(static)
	for (int n = 0; n < N; n++)
		losses[n] = xent_row(probs + (size_t)n * Vp, logits + (size_t)n * Vp,
				     targets[n], V, Vp);
}

void qn_fast_softmax_xent_backward(float *dlogits, const float *probs,
				   const int32_t *targets, float dloss, int N, int V, int Vp)
{
#pragma omp parallel for schedule(static)
	for (int n = 0; n < N; n++) {
		const float *p = probs + (size_t)n * Vp;
		float *d = dlogits + (size_t)n * Vp;
#pragma omp simd
		for (int i = 0; i < V; i++)
			d[i] += p[i] * dloss;
		d[targets[n]] -= dloss;
	}
}

/*
 * The output projection and the cross-entropy together (gpt.c's fused
 * path), one vocabulary chunk of HEAD_CHUNK columns at a time, so that a
 * chunk of logits is still in cache for the work on it: no [N,Vp]
 * probabilities are kept, and the backward reads the logits once.  The
 * logits are kept by chunks, each chunk's [N, w] contiguous (chunk c's
 * columns [c*HEAD_CHUNK, c*HEAD_CHUNK + w) at logits + N*c*HEAD_CHUNK):
 * a chunk's rows Vp apart would be 256 short runs, which the hardware
 * prefetcher does not follow, and each row's first lines would miss.
 * The shapes and the order of every sum depend on Vp alone, not on the
 * thread count.
 */
#define HEAD_CHUNK 256
#define HEAD_GROUPS 8

/*
 * A row's max and sum of exp(l - max) over its n columns of one chunk,
 * and d[i] = exp(l[i] - lse) * dloss: built for any x86-64 (vexp, and an
 * AVX2 clone) and with FMA (vexp_fma), chosen at run time by use_fma().
 */
#define CHUNK_FNS(suffix, attr, EXP) \
attr static void chunk_lse##suffix(const float *l, int n, float *max_out, float *sum_out) \
{ \
	float max = -INFINITY, sum = 0; \
	_Pragma("omp simd reduction(max:max)") \
	for (int i = 0; i < n; i++) \
		max = l[i] > max ? l[i] : max; \
	_Pragma("omp simd reduction(+:sum)") \
	for (int i = 0; i < n; i++) \
		sum += EXP(l[i] - max); \
	*max_out = max; \
	*sum_out = sum; \
} \
attr static void chunk_dlogits##suffix(float *d, const float *l, int n, float lse, float dloss) \
{ \
	_Pragma("omp simd") \
	for (int i = 0; i < n; i++) \
		d[i] = EXP(l[i] - lse) * dloss; \
}

CHUNK_FNS(_plain, WIDE, vexp)
#if HAVE_FMA_PATH
/*
 * The FMA builds by hand: the compiler's vectorisation of vexp_fma turns
 * the clamps into six blends after the polynomial.  Here the inputs are
 * at most 0 (l - max, l - lse), so one max with -87.3 is the only clamp;
 * the rest is vexp_fma's arithmetic, 8 lanes at a time.
 */
FMA_TARGET static inline __m256 exp8_fma(__m256 x)
{
	x = _mm256_max_ps(x, _mm256_set1_ps(-87.3f));
	__m256 k = _mm256_mul_ps(x, _mm256_set1_ps(1.44269504f));
	k = _mm256_sub_ps(_mm256_add_ps(k, _mm256_set1_ps(12582912.0f)),
			  _mm256_set1_ps(12582912.0f));
	__m256 r = _mm256_fmadd_ps(k, _mm256_set1_ps(-0.693359375f), x);
	r = _mm256_fmadd_ps(k, _mm256_set1_ps(2.12194440e-4f), r);
	__m256 p = _mm256_set1_ps(1.0f / 720);
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
	__m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(k),
						       _mm256_set1_epi32(127)), 23);
	return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

FMA_TARGET static void chunk_lse_fma(const float *l, int n, float *max_out, float *sum_out)
{
	__m256 vm = _mm256_set1_ps(-INFINITY), vs = _mm256_setzero_ps();
	float max = -INFINITY, sum = 0, lane[8];
	int i;

	for (i = 0; i + 8 <= n; i += 8)
		vm = _mm256_max_ps(vm, _mm256_loadu_ps(l + i));
	_mm256_storeu_ps(lane, vm);
	for (int j = 0; j < 8; j++)
		max = lane[j] > max ? lane[j] : max;
	for (; i < n; i++)
		max = l[i] > max ? l[i] : max;
	__m256 bm = _mm256_set1_ps(max);
	for (i = 0; i + 8 <= n; i += 8)
		vs = _mm256_add_ps(vs, exp8_fma(_mm256_sub_ps(_mm256_loadu_ps(l + i), bm)));
	_mm256_storeu_ps(lane, vs);
	for (int j = 0; j < 8; j++)
		sum += lane[j];
	for (; i < n; i++)
		sum += vexp_fma(l[i] - max);
	*max_out = max;
	*sum_out = sum;
}

FMA_TARGET static void chunk_dlogits_fma(float *d, const float *l, int n, float lse, float dloss)
{
	__m256 bl = _mm256_set1_ps(lse), bd = _mm256_set1_ps(dloss);
	int i;

	for (i = 0; i + 8 <= n; i += 8)
		_mm256_storeu_ps(d + i, _mm256_mul_ps(exp8_fma(_mm256_sub_ps(_mm256_loadu_ps(l + i), bl)), bd));
	for (; i < n; i++)
		d[i] = vexp_fma(l[i] - lse) * dloss;
}

#define CHUNK_CALL(name, fma, ...) ((fma) ? name##_fma(__VA_ARGS__) : name##_plain(__VA_ARGS__))
#else
#define CHUNK_CALL(name, fma, ...) ((void)(fma), name##_plain(__VA_ARGS__))
#endif

/*
 * logits = inp[N,C] wte[Vp,C]^T chunk by chunk (by chunks, as above,
 * qn_fast_head_logits gives them as [N,Vp]); each chunk's
 * columns below V give each row a (max, sum of exp) pair, and the pairs
 * of a row combine in chunk order into lse[n] = log sum_i exp(logits[n,i])
 * and losses[n] = lse[n] - logits[n, targets[n]].  Without targets
 * (NULL), only the logits.
 */
void qn_fast_head_forward(float *losses, float *lse, float *logits, const float *inp,
			  const float *wte, const int32_t *targets, int N, int C, int V, int Vp)
{
	int nch = (Vp + HEAD_CHUNK - 1) / HEAD_CHUNK;
	float *cmax = qn_xmalloc((size_t)2 * nch * N * sizeof *cmax), *csum = cmax + (size_t)nch * N;
	int fma = use_fma();

	blas_init();
#pragma omp parallel
	{
#pragma omp for schedule(dynamic, 1)
		for (int c = 0; c < nch; c++) {
			int lo = c * HEAD_CHUNK, hi = lo + HEAD_CHUNK < Vp ? lo + HEAD_CHUNK : Vp;
			int vhi = hi < V ? hi : V;
			float *blk = logits + (size_t)N * lo;
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, hi - lo, C, 1.0f,
				    inp, C, wte + (size_t)lo * C, C, 0.0f, blk, hi - lo);
			for (int n = 0; n < (targets ? N : 0); n++) {
				float *mx = cmax + (size_t)c * N + n, *sm = csum + (size_t)c * N + n;
				if (vhi > lo)
					CHUNK_CALL(chunk_lse, fma, blk + (size_t)n * (hi - lo),
						   vhi - lo, mx, sm);
				else
					*mx = -INFINITY, *sm = 0;
			}
		}
#pragma omp for schedule(static)
		for (int n = 0; n < (targets ? N : 0); n++) {
			float max = -INFINITY;
			double sum = 0;
			for (int c = 0; c < nch; c++)
				max = cmax[(size_t)c * N + n] > max ? cmax[(size_t)c * N + n] : max;
			for (int c = 0; c < nch; c++)
				if (csum[(size_t)c * N + n] > 0)
					sum += csum[(size_t)c * N + n] *
					       exp((double)cmax[(size_t)c * N + n] - max);
			float ls = max + (float)log(sum);
			lse[n] = ls;
			int t = targets[n], lo = t / HEAD_CHUNK * HEAD_CHUNK;
			int w = lo + HEAD_CHUNK < Vp ? HEAD_CHUNK : Vp - lo;
			losses[n] = ls - logits[(size_t)N * lo + (size_t)n * w + (t - lo)];
		}
	}
	free(cmax);
}

/*
 * The backward of qn_fast_head_forward for the mean loss (dloss = 1/N
 * per row): chunk by chunk, dlogits = (softmax - onehot) * dloss from the
 * kept logits and lse, into a chunk of scratch (padded columns 0); then
 * dwte[chunk] += dlogits^T inp and dinp += dlogits wte[chunk] while the
 * chunk is in cache (with fresh_dwte, dwte[chunk] = rather than +=, which
 * spares the model zeroing 6.4 M gradients a step).  Each chunk owns its rows of dwte; dinp's sum over
 * the vocabulary is split into HEAD_GROUPS runs of consecutive chunks,
 * each summed into its own partial, and the partials added in order.
 */
void qn_fast_head_backward(float *dinp, float *dwte, const float *logits, const float *lse,
			   const float *inp, const float *wte, const int32_t *targets,
			   float dloss, int N, int C, int V, int Vp, int fresh_dwte)
{
	int nch = (Vp + HEAD_CHUNK - 1) / HEAD_CHUNK;
	int ng = nch < HEAD_GROUPS ? nch : HEAD_GROUPS;
	size_t nc = (size_t)N * C;
	float *part = qn_xmalloc(ng * nc * sizeof *part);
	int fma = use_fma();

	blas_init();
#pragma omp parallel
	{
		float *d = qn_xmalloc((size_t)N * HEAD_CHUNK * sizeof *d);
#pragma omp for schedule(dynamic, 1)
		for (int g = 0; g < ng; g++) {
			int c0 = (int)((long)nch * g / ng), c1 = (int)((long)nch * (g + 1) / ng);
			for (int c = c0; c < c1; c++) {
				int lo = c * HEAD_CHUNK, hi = lo + HEAD_CHUNK < Vp ? lo + HEAD_CHUNK : Vp;
				int w = hi - lo, vw = (hi < V ? hi : V) - lo;
				if (vw < 0)
					vw = 0;
				for (int n = 0; n < N; n++) {
					float *dr = d + (size_t)n * w;
					int t = targets[n];
					CHUNK_CALL(chunk_dlogits, fma, dr,
						   logits + (size_t)N * lo + (size_t)n * w,
						   vw, lse[n], dloss);
					if (t >= lo && t < hi)
						dr[t - lo] -= dloss;
					for (int i = vw; i < w; i++)
						dr[i] = 0;
				}
				cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, w, C, N,
					    1.0f, d, w, inp, C, fresh_dwte ? 0.0f : 1.0f,
					    dwte + (size_t)lo * C, C);
				cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, w,
					    1.0f, d, w, wte + (size_t)lo * C, C,
					    c == c0 ? 0.0f : 1.0f, part + g * nc, C);
			}
		}
		free(d);
#pragma omp for schedule(static)
		for (size_t i = 0; i < nc; i++) {
			float s = dinp[i];
			for (int g = 0; g < ng; g++)
				s += part[g * nc + i];
			dinp[i] = s;
		}
	}
	free(part);
}

void qn_fast_head_logits(float *out, const float *logits, int N, int Vp)
{
#pragma omp parallel for schedule(static)
	for (int n = 0; n < N; n++)
		for (int lo = 0; lo < Vp; lo += HEAD_CHUNK) {
			int w = lo + HEAD_CHUNK < Vp ? HEAD_CHUNK : Vp - lo;
			memcpy(out + (size_t)n * Vp + lo, logits + (size_t)N * lo + (size_t)n * w,
			       w * sizeof *out);
		}
}

/*
 * One thread's part of AdamW.  Every operation is elementwise and exactly
 * rounded (sqrt and division included), so the AVX2 build gives the same
 * bytes as the SSE2 one.
 */
WIDE static void adamw_part(float *params, const float *grads, float *m, float *v,
			    size_t n, float gscale, float lr, float beta1, float beta2,
			    float eps, float wd, float ic1, float ic2)
{
#pragma omp simd
	for (size_t i = 0; i < n; i++) {
		float g = grads[i] * gscale;
		float mi = beta1 * m[i] + (1.0f - beta1) * g;
		float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
		m[i] = mi;
		v[i] = vi;
		params[i] -= lr * (mi * ic1 / (sqrtf(vi * ic2) + eps) + wd * params[i]);
	}
}

/* Parts of whole cache lines, one per thread. */
void qn_fast_adamw_scaled(float *params, const float *grads, float *m, float *v, size_t n,
			  float gscale, float lr, float beta1, float beta2, float eps,
			  float wd, int t)
{
	float c1 = 1.0f - powf(beta1, (float)t), c2 = 1.0f - powf(beta2, (float)t);
	float ic1 = 1.0f / c1, ic2 = 1.0f / c2;

#pragma omp parallel if (par(n))
	{
		size_t nt = (size_t)omp_get_num_threads(), i = (size_t)omp_get_thread_num();
		size_t lo = (n * i / nt) & ~(size_t)15, hi = i + 1 == nt ? n : (n * (i + 1) / nt) & ~(size_t)15;
		if (hi > lo)
			adamw_part(params + lo, grads + lo, m + lo, v + lo, hi - lo, gscale, lr,
				   beta1, beta2, eps, wd, ic1, ic2);
	}
}

/* g * 1.0f is g: the same bytes as without a scale. */
void qn_fast_adamw(float *params, const float *grads, float *m, float *v, size_t n,
		   float lr, float beta1, float beta2, float eps, float wd, int t)
{
	qn_fast_adamw_scaled(params, grads, m, v, n, 1.0f, lr, beta1, beta2, eps, wd, t);
}

/*
 * Fixed chunks, each summed in double over NORM_LANES interleaved lanes
 * (lane j takes the elements j mod NORM_LANES; the lanes vectorise, where
 * one running sum would wait on each addition), the lanes then the chunks
 * added in order: the same bits for any thread count and either build.
 */
#define NORM_CHUNKS 64
#define NORM_LANES 8

WIDE static double sumsq(const float *g, size_t n)
{
	double lane[NORM_LANES] = { 0 }, s = 0;
	size_t i = 0;

	for (; i + NORM_LANES <= n; i += NORM_LANES)
#pragma omp simd
		for (int j = 0; j < NORM_LANES; j++)
			lane[j] += (double)g[i + j] * g[i + j];
	for (; i < n; i++)
		lane[i % NORM_LANES] += (double)g[i] * g[i];
	for (int j = 0; j < NORM_LANES; j++)
		s += lane[j];
	return s;
}

double qn_fast_global_norm(const float *g, size_t n)
{
	double part[NORM_CHUNKS], s = 0;

#pragma omp parallel for schedule(static)
	for (int c = 0; c < NORM_CHUNKS; c++) {
		size_t lo = n * c / NORM_CHUNKS, hi = n * (c + 1) / NORM_CHUNKS;
		part[c] = sumsq(g + lo, hi - lo);
	}
	for (int c = 0; c < NORM_CHUNKS; c++)
		s += part[c];
	return sqrt(s);
}
