/*
 * t_ops: the fast path (qn_fast_*) against the reference loops (qn_ref_*)
 * on random inputs, every op forward and backward, on shapes that are not
 * multiples of anything (odd T, a head size of 16, a padded vocabulary),
 * plus gradients added into non-zero buffers (the += contract) and the
 * fast path giving the same bytes run to run and for one or two threads.
 */
#include <math.h>
#include <omp.h>

#include "ops.h"
#include "../tap.h"

static float urand(void)
{
	return (float)((tap_rand() >> 11) * 0x1p-53) * 2 - 1;	/* [-1, 1) */
}

static float *rnd(size_t n, float scale)
{
	float *x = malloc(n * sizeof *x);
	for (size_t i = 0; i < n; i++)
		x[i] = urand() * scale;
	return x;
}

static float *dup(const float *x, size_t n)
{
	float *y = malloc(n * sizeof *y);
	memcpy(y, x, n * sizeof *y);
	return y;
}

/* ok if |got - want| <= atol + rtol |want| everywhere; prints the worst */
static void close_to(const float *got, const float *want, size_t n, double rtol,
		     double atol, const char *what)
{
	double worst = 0;
	size_t wi = 0;
	int bad = 0;

	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)got[i] - want[i]);
		double lim = atol + rtol * fabs(want[i]);
		if (!(d <= lim))
			bad = 1;
		double r = lim > 0 ? d / lim : d > 0 ? INFINITY : 0;
		if (!(r <= worst)) {
			worst = r;
			wi = i;
		}
	}
	if (!ok(!bad && n > 0, "%s (%zu values, worst %.3g of tolerance)", what, n, worst))
		printf("#   at %zu: got %.9g, want %.9g\n", wi, got[wi], want[wi]);
}

enum { B = 2, T = 13, C = 48, NH = 3, N = B * T, V = 100, Vp = 128 };

static void test_encoder(void)
{
	int32_t inp[N];
	float *wte = rnd((size_t)Vp * C, 1), *wpe = rnd((size_t)T * C, 1);
	float *o1 = rnd((size_t)N * C, 1), *o2 = dup(o1, (size_t)N * C);

	for (int i = 0; i < N; i++)
		inp[i] = (int32_t)(tap_rand() % 7);	/* repeats on purpose */
	qn_ref_encoder_forward(o1, inp, wte, wpe, B, T, C);
	qn_fast_encoder_forward(o2, inp, wte, wpe, B, T, C);
	close_to(o2, o1, (size_t)N * C, 0, 0, "encoder forward");

	float *dwte1 = rnd((size_t)Vp * C, 1), *dwte2 = dup(dwte1, (size_t)Vp * C);
	float *dwpe1 = rnd((size_t)T * C, 1), *dwpe2 = dup(dwpe1, (size_t)T * C);
	qn_ref_encoder_backward(dwte1, dwpe1, o1, inp, B, T, C);
	qn_fast_encoder_backward(dwte2, dwpe2, o1, inp, B, T, C);
	close_to(dwte2, dwte1, (size_t)Vp * C, 1e-6, 1e-6, "encoder backward dwte");
	close_to(dwpe2, dwpe1, (size_t)T * C, 1e-6, 1e-6, "encoder backward dwpe");
	free(wte), free(wpe), free(o1), free(o2);
	free(dwte1), free(dwte2), free(dwpe1), free(dwpe2);
}

static void test_layernorm(void)
{
	size_t n = (size_t)N * C;
	float *x = rnd(n, 2), *w = rnd(C, 1), *b = rnd(C, 1);
	float *o1 = malloc(n * 4), *o2 = malloc(n * 4);
	float m1[N], r1[N], m2[N], r2[N];

	for (size_t i = 0; i < n; i++)
		x[i] += 0.5f;	/* a non-zero mean */
	qn_ref_layernorm_forward(o1, m1, r1, x, w, b, N, C);
	qn_fast_layernorm_forward(o2, m2, r2, x, w, b, N, C);
	close_to(o2, o1, n, 1e-4, 1e-5, "layernorm forward out");
	close_to(m2, m1, N, 1e-5, 1e-6, "layernorm forward mean");
	close_to(r2, r1, N, 1e-5, 1e-6, "layernorm forward rstd");

	float *dout = rnd(n, 1), *dx1 = rnd(n, 1), *dx2 = dup(dx1, n);
	float *dw1 = rnd(C, 1), *dw2 = dup(dw1, C), *db1 = rnd(C, 1), *db2 = dup(db1, C);
	qn_ref_layernorm_backward(dx1, dw1, db1, dout, x, w, m1, r1, N, C);
	qn_fast_layernorm_backward(dx2, dw2, db2, dout, x, w, m1, r1, N, C);
	close_to(dx2, dx1, n, 1e-4, 1e-5, "layernorm backward dinp");
	close_to(dw2, dw1, C, 1e-4, 1e-5, "layernorm backward dw");
	close_to(db2, db1, C, 1e-4, 1e-5, "layernorm backward db");
	free(x), free(w), free(b), free(o1), free(o2), free(dout);
	free(dx1), free(dx2), free(dw1), free(dw2), free(db1), free(db2);
}

/* Both slab directions (OC >= N and OC < N), with and without bias. */
static void test_matmul(int n, int c, int oc, int bias)
{
	char what[128];
	float *x = rnd((size_t)n * c, 1), *w = rnd((size_t)oc * c, 1), *bv = rnd(oc, 1);
	float *o1 = malloc((size_t)n * oc * 4), *o2 = malloc((size_t)n * oc * 4);

	qn_ref_matmul_forward(o1, x, w, bias ? bv : NULL, n, c, oc);
	qn_fast_matmul_forward(o2, x, w, bias ? bv : NULL, n, c, oc);
	snprintf(what, sizeof what, "matmul forward %dx%d -> %d%s", n, c, oc, bias ? " +bias" : "");
	close_to(o2, o1, (size_t)n * oc, 1e-4, 1e-4, what);

	float *dout = rnd((size_t)n * oc, 1);
	float *dx1 = rnd((size_t)n * c, 1), *dx2 = dup(dx1, (size_t)n * c);
	float *dw1 = rnd((size_t)oc * c, 1), *dw2 = dup(dw1, (size_t)oc * c);
	float *db1 = rnd(oc, 1), *db2 = dup(db1, oc);
	qn_ref_matmul_backward(dx1, dw1, bias ? db1 : NULL, dout, x, w, n, c, oc);
	qn_fast_matmul_backward(dx2, dw2, bias ? db2 : NULL, dout, x, w, n, c, oc);
	snprintf(what, sizeof what, "matmul backward %dx%d -> %d dinp", n, c, oc);
	close_to(dx2, dx1, (size_t)n * c, 1e-4, 1e-4, what);
	snprintf(what, sizeof what, "matmul backward %dx%d -> %d dw", n, c, oc);
	close_to(dw2, dw1, (size_t)oc * c, 1e-4, 1e-4, what);
	if (bias) {
		snprintf(what, sizeof what, "matmul backward %dx%d -> %d dbias", n, c, oc);
		close_to(db2, db1, oc, 1e-4, 1e-4, what);
	}
	free(x), free(w), free(bv), free(o1), free(o2), free(dout);
	free(dx1), free(dx2), free(dw1), free(dw2), free(db1), free(db2);
}

static void test_attention(int b, int t, int c, int nh)
{
	char what[128];
	size_t nq = (size_t)b * t * 3 * c, na = (size_t)b * nh * t * t, no = (size_t)b * t * c;
	float *qkv = rnd(nq, 2);
	float *o1 = malloc(no * 4), *o2 = malloc(no * 4);
	float *pre1 = malloc(na * 4), *pre2 = malloc(na * 4);
	float *a1 = malloc(na * 4), *a2 = malloc(na * 4);

	qn_ref_attention_forward(o1, pre1, a1, qkv, b, t, c, nh);
	qn_fast_attention_forward(o2, pre2, a2, qkv, b, t, c, nh);
	snprintf(what, sizeof what, "attention forward B=%d T=%d C=%d NH=%d out", b, t, c, nh);
	close_to(o2, o1, no, 1e-4, 1e-5, what);
	snprintf(what, sizeof what, "attention forward B=%d T=%d C=%d NH=%d att", b, t, c, nh);
	close_to(a2, a1, na, 1e-4, 1e-6, what);

	float *dout = rnd(no, 1), *dq1 = rnd(nq, 1), *dq2 = dup(dq1, nq);
	float *s1 = malloc(na * 4), *s2 = malloc(na * 4), *s3 = malloc(na * 4), *s4 = malloc(na * 4);
	qn_ref_attention_backward(dq1, s1, s2, dout, qkv, a1, b, t, c, nh);
	qn_fast_attention_backward(dq2, s3, s4, dout, qkv, a1, b, t, c, nh);
	snprintf(what, sizeof what, "attention backward B=%d T=%d C=%d NH=%d dqkv", b, t, c, nh);
	close_to(dq2, dq1, nq, 1e-4, 1e-5, what);
	free(qkv), free(o1), free(o2), free(pre1), free(pre2), free(a1), free(a2);
	free(dout), free(dq1), free(dq2), free(s1), free(s2), free(s3), free(s4);
}

static void test_pointwise(void)
{
	size_t n = 1003;
	float *x = rnd(n, 6), *y = rnd(n, 1), *o1 = malloc(n * 4), *o2 = malloc(n * 4);

	x[0] = 0, x[1] = -20, x[2] = 20, x[3] = 1e-3f;
	qn_ref_gelu_forward(o1, x, n);
	qn_fast_gelu_forward(o2, x, n);
	close_to(o2, o1, n, 1e-5, 1e-6, "gelu forward");
	float *d1 = rnd(n, 1), *d2 = dup(d1, n);
	qn_ref_gelu_backward(d1, x, y, n);
	qn_fast_gelu_backward(d2, x, y, n);
	close_to(d2, d1, n, 1e-4, 1e-6, "gelu backward");
	qn_ref_residual_forward(o1, x, y, n);
	qn_fast_residual_forward(o2, x, y, n);
	close_to(o2, o1, n, 0, 0, "residual forward");
	free(x), free(y), free(o1), free(o2), free(d1), free(d2);
}

static void test_xent(void)
{
	size_t n = (size_t)N * Vp;
	float *l = rnd(n, 8), *p1 = malloc(n * 4), *p2 = malloc(n * 4);
	float l1[N], l2[N];
	int32_t tg[N];

	for (int i = 0; i < N; i++)
		tg[i] = (int32_t)(tap_rand() % V);
	tg[0] = V - 1;
	l[3] = 80;	/* a very confident row: exp must not overflow */
	qn_ref_softmax_xent_forward(l1, p1, l, tg, N, V, Vp);
	qn_fast_softmax_xent_forward(l2, p2, l, tg, N, V, Vp);
	close_to(p2, p1, n, 1e-5, 1e-8, "softmax forward probs");
	close_to(l2, l1, N, 1e-5, 1e-5, "cross-entropy forward losses");
	int pad0 = 1;
	for (int r = 0; r < N; r++)
		for (int i = V; i < Vp; i++)
			pad0 &= p2[(size_t)r * Vp + i] == 0;
	ok(pad0, "padded columns have probability 0");

	float *d1 = rnd(n, 1), *d2 = dup(d1, n);
	qn_ref_softmax_xent_backward(d1, p1, tg, 1.0f / N, N, V, Vp);
	qn_fast_softmax_xent_backward(d2, p1, tg, 1.0f / N, N, V, Vp);
	close_to(d2, d1, n, 1e-5, 1e-7, "cross-entropy backward");
	free(l), free(p1), free(p2), free(d1), free(d2);
}

/*
 * The fused output projection and cross-entropy against the reference's
 * matmul and softmax_xent, on a vocabulary of several chunks whose last
 * chunks are all padding; then the same bytes on one and two threads.
 */
static void test_head(int n, int c, int v, int vp)
{
	size_t nl = (size_t)n * vp, nc = (size_t)n * c;
	float *x = rnd(nc, 1), *w = rnd((size_t)vp * c, 1);
	float *l1 = malloc(nl * 4), *l2 = malloc(nl * 4), *p1 = malloc(nl * 4);
	float *d1 = calloc(nl, 4), *loss1 = malloc(n * 4), *loss2 = malloc(n * 4);
	float *lse = malloc(n * 4), *dx1 = rnd(nc, 1), *dx2 = dup(dx1, nc);
	float *dw1 = rnd((size_t)vp * c, 1), *dw2 = dup(dw1, (size_t)vp * c);
	int32_t *tg = malloc(n * 4);
	char what[80];

	for (size_t i = (size_t)v * c; i < (size_t)vp * c; i++)
		w[i] = 0;	/* padded rows, as the model keeps them */
	for (int i = 0; i < n; i++)
		tg[i] = (int32_t)(tap_rand() % v);
	tg[0] = v - 1;
	for (int i = 0; i < c; i++)	/* a very confident row */
		w[(size_t)tg[1] * c + i] = x[c + i] * 4;
	qn_ref_matmul_forward(l1, x, w, NULL, n, c, vp);
	qn_ref_softmax_xent_forward(loss1, p1, l1, tg, n, v, vp);
	qn_fast_head_forward(loss2, lse, l2, x, w, tg, n, c, v, vp);
	float *rows = malloc(nl * 4);
	qn_fast_head_logits(rows, l2, n, vp);
	snprintf(what, sizeof what, "head forward %dx%d -> %d of %d logits", n, c, v, vp);
	close_to(rows, l1, nl, 1e-5, 1e-5, what);
	free(rows);
	snprintf(what, sizeof what, "head forward %dx%d -> %d of %d losses", n, c, v, vp);
	close_to(loss2, loss1, n, 1e-5, 1e-5, what);
	qn_ref_softmax_xent_backward(d1, p1, tg, 1.0f / n, n, v, vp);
	qn_ref_matmul_backward(dx1, dw1, NULL, d1, x, w, n, c, vp);
	float *keep = dup(l2, nl);
	qn_fast_head_backward(dx2, dw2, l2, lse, x, w, tg, 1.0f / n, n, c, v, vp, 0);
	ok(!memcmp(keep, l2, nl * 4), "head backward leaves the logits");
	free(keep);

	/* fresh_dwte: dwte written over whatever it held (NaN here) */
	float *dwz = calloc((size_t)vp * c, 4), *dwf = malloc((size_t)vp * c * 4);
	float *dxz = calloc(nc, 4), *dxf = calloc(nc, 4);
	for (size_t i = 0; i < (size_t)vp * c; i++)
		dwf[i] = NAN;
	qn_fast_head_backward(dxz, dwz, l2, lse, x, w, tg, 1.0f / n, n, c, v, vp, 0);
	qn_fast_head_backward(dxf, dwf, l2, lse, x, w, tg, 1.0f / n, n, c, v, vp, 1);
	ok(!memcmp(dwf, dwz, (size_t)vp * c * 4) && !memcmp(dxf, dxz, nc * 4),
	   "head backward, fresh dwte: the bytes of adding into zeros");
	free(dwz), free(dwf), free(dxz), free(dxf);
	snprintf(what, sizeof what, "head backward %dx%d -> %d of %d dinp", n, c, v, vp);
	close_to(dx2, dx1, nc, 1e-4, 1e-6, what);
	snprintf(what, sizeof what, "head backward %dx%d -> %d of %d dwte", n, c, v, vp);
	close_to(dw2, dw1, (size_t)vp * c, 1e-4, 1e-6, what);

	int saved = omp_get_max_threads(), same = 1;
	float *dx3 = dup(dx1, nc), *dw3 = dup(dw1, (size_t)vp * c), *l3 = malloc(nl * 4);
	float *loss3 = malloc(n * 4), *lse3 = malloc(n * 4);
	for (int th = 1; th <= 2; th++) {
		float *a = th == 1 ? dx3 : dx1, *b = th == 1 ? dw3 : dw1;
		omp_set_num_threads(th);
		memcpy(a, dx2, nc * 4);
		memcpy(b, dw2, (size_t)vp * c * 4);
		qn_fast_head_forward(th == 1 ? loss3 : loss1, th == 1 ? lse3 : p1,
				     th == 1 ? l3 : l1, x, w, tg, n, c, v, vp);
		qn_fast_head_backward(a, b, th == 1 ? l3 : l1, th == 1 ? lse3 : p1, x, w, tg,
				      1.0f / n, n, c, v, vp, 0);
	}
	omp_set_num_threads(saved);
	same = !memcmp(l3, l1, nl * 4) && !memcmp(loss3, loss1, n * 4) &&
	       !memcmp(lse3, p1, n * 4) && !memcmp(dx3, dx1, nc * 4) &&
	       !memcmp(dw3, dw1, (size_t)vp * c * 4);
	ok(same, "fused head: same bytes on 1 and 2 threads");
	free(x), free(w), free(l1), free(l2), free(l3), free(p1), free(d1);
	free(loss1), free(loss2), free(loss3), free(lse), free(lse3);
	free(dx1), free(dx2), free(dx3), free(dw1), free(dw2), free(dw3), free(tg);
}

static void test_adamw(void)
{
	size_t n = 1001;
	float *p1 = rnd(n, 1), *p2 = dup(p1, n), *g = rnd(n, 0.1f);
	float *m1 = rnd(n, 0.01f), *m2 = dup(m1, n), *v1 = rnd(n, 0.001f), *v2;

	for (size_t i = 0; i < n; i++)
		v1[i] = fabsf(v1[i]);
	v2 = dup(v1, n);
	for (int t = 1; t <= 3; t++) {
		qn_ref_adamw(p1, g, m1, v1, n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, t);
		qn_fast_adamw(p2, g, m2, v2, n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, t);
	}
	close_to(p2, p1, n, 1e-6, 1e-7, "adamw params");
	close_to(m2, m1, n, 1e-6, 1e-9, "adamw m");
	close_to(v2, v1, n, 1e-6, 1e-12, "adamw v");

	/* clipping as AdamW reads: the same bytes as scaling in place first */
	float *p3 = dup(p2, n), *m3 = dup(m2, n), *v3 = dup(v2, n), *gs = dup(g, n);
	for (size_t i = 0; i < n; i++)
		gs[i] *= 0.37f;
	qn_fast_adamw(p2, gs, m2, v2, n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 4);
	qn_fast_adamw_scaled(p3, g, m3, v3, n, 0.37f, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 4);
	ok(!memcmp(p3, p2, n * 4) && !memcmp(m3, m2, n * 4) && !memcmp(v3, v2, n * 4),
	   "adamw with a gradient scale: the bytes of scaling first");
	free(p3), free(m3), free(v3), free(gs);

	double a = qn_ref_global_norm(g, n), b = qn_fast_global_norm(g, n), s = 0;
	for (size_t i = 0; i < n; i++)
		s += (double)g[i] * g[i];
	ok(fabs(a - sqrt(s)) < 1e-12 && fabs(b - a) < 1e-12 * a,
	   "global norm %.15g (ref %.15g)", b, a);
	free(p1), free(p2), free(g), free(m1), free(m2), free(v1), free(v2);

	/* a large tensor: the norm's chunks and lanes, on one and two threads */
	size_t big = 300007;
	float *gb = rnd(big, 1);
	int saved = omp_get_max_threads();
	double r = qn_ref_global_norm(gb, big), f[2];
	for (int th = 1; th <= 2; th++) {
		omp_set_num_threads(th);
		f[th - 1] = qn_fast_global_norm(gb, big);
	}
	omp_set_num_threads(saved);
	ok(fabs(f[0] - r) < 1e-12 * r && f[0] == f[1],
	   "global norm of %zu values %.15g (ref %.15g), the same on 1 and 2 threads", big, f[0], r);
	free(gb);
}

/* The same bytes twice, and with one thread as with two. */
static void test_determinism(void)
{
	int n = 70, c = 96, oc = 500;
	float *x = rnd((size_t)n * c, 1), *w = rnd((size_t)oc * c, 1), *d = rnd((size_t)n * oc, 1);
	float *o[3], *dx[3], *dw[3];
	int threads[3] = { 2, 2, 1 }, saved = omp_get_max_threads();

	for (int k = 0; k < 3; k++) {
		omp_set_num_threads(threads[k]);
		o[k] = malloc((size_t)n * oc * 4);
		dx[k] = calloc((size_t)n * c, 4);
		dw[k] = calloc((size_t)oc * c, 4);
		qn_fast_matmul_forward(o[k], x, w, NULL, n, c, oc);
		qn_fast_matmul_backward(dx[k], dw[k], NULL, d, x, w, n, c, oc);
	}
	omp_set_num_threads(saved);
	ok(!memcmp(o[0], o[1], (size_t)n * oc * 4) && !memcmp(dx[0], dx[1], (size_t)n * c * 4) &&
	   !memcmp(dw[0], dw[1], (size_t)oc * c * 4), "fast matmul: same bytes run to run");
	ok(!memcmp(o[0], o[2], (size_t)n * oc * 4) && !memcmp(dx[0], dx[2], (size_t)n * c * 4) &&
	   !memcmp(dw[0], dw[2], (size_t)oc * c * 4), "fast matmul: same bytes on 1 and 2 threads");
	for (int k = 0; k < 3; k++)
		free(o[k]), free(dx[k]), free(dw[k]);
	free(x), free(w), free(d);
}

int main(void)
{
	test_encoder();
	test_layernorm();
	test_matmul(N, C, 3 * C, 1);
	test_matmul(N, 4 * C, C, 1);
	test_matmul(N, C, Vp, 0);
	test_matmul(300, 40, 17, 1);	/* N > OC: row slabs */
	test_matmul(5, 33, 1001, 1);	/* tiny N */
	test_attention(B, T, C, NH);
	test_attention(1, 1, 8, 2);
	test_attention(3, 64, 64, 4);
	test_pointwise();
	test_xent();
	/* the head's loops for any x86-64, then (where the CPU has it) FMA */
	int fma = qn_fast_use_fma(0);
	test_head(N, C, V, Vp);
	test_head(37, 40, 1100, 1664);	/* chunks of padding only at the end */
	qn_fast_use_fma(1);
	if (qn_fast_use_fma(-1)) {
		test_head(N, C, V, Vp);
		test_head(37, 40, 1100, 1664);
	} else {
		ok(1, "fused head with FMA # SKIP no AVX2 and FMA here");
	}
	qn_fast_use_fma(fma);
	test_adamw();
	test_determinism();
	return done_testing();
}
