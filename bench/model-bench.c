/*
 * model-bench: training steps of the CPU model (forward, backward, AdamW
 * over every tensor with decay on the matrices) on random tokens, timed.
 *
 *	model-bench L HEADS WIDTH T B VOCAB STEPS [fast|ref]
 *	model-bench sgemm [SIZE]
 *	model-bench head N WIDTH VOCAB
 *
 * Prints ms/step (the mean over STEPS after one warm-up step), tokens/s,
 * the CPU time per step (on a machine shared with other work the wall
 * time says more about the others than about us), and the share of
 * that CPU time spent inside cblas_sgemm: this file
 * defines cblas_sgemm itself, timing each call around OpenBLAS's (found
 * with dlsym(RTLD_NEXT)), so the model library's calls come here.
 *
 * The second form measures the machine rather than the model: a plain
 * SIZE x SIZE sgemm (default 1024) on OpenBLAS's own threads, the median
 * GFLOP/s of 9 calls, the figure issue 7 quotes for its machine (165-200
 * GFLOP/s on 2 cores), so a run on a busier or slower machine can say how
 * far it is from that.
 *
 * The third measures the output projection's three products alone, each
 * one whole sgemm call on OpenBLAS's own threads, the way a plain
 * implementation would make them: logits[N,Vp] = x[N,C] wte[Vp,C]^T,
 * dwte = dlogits^T x and dx = dlogits wte (Vp the vocabulary padded to
 * 128).  On issue 7's shape they are 9.9 of the step's 11.2 GFLOP, so
 * their rate on these shapes (narrow, C = 128), not on a square, is what
 * bounds the step.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "gpt.h"
#include "ops.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef void sgemm_fn(const enum CBLAS_ORDER, const enum CBLAS_TRANSPOSE,
		      const enum CBLAS_TRANSPOSE, const blasint, const blasint,
		      const blasint, const float, const float *, const blasint,
		      const float *, const blasint, const float, float *, const blasint);

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The calling thread's CPU time: sgemm's share stays right on busy cores. */
static double thread_cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static sgemm_fn *real_sgemm;
static double sgemm_seconds;	/* CPU seconds, summed over threads */
static double sgemm_flops;

void cblas_sgemm(const enum CBLAS_ORDER o, const enum CBLAS_TRANSPOSE ta,
		 const enum CBLAS_TRANSPOSE tb, const blasint M, const blasint N,
		 const blasint K, const float alpha, const float *A, const blasint lda,
		 const float *B, const blasint ldb, const float beta, float *C,
		 const blasint ldc)
{
	double t0 = thread_cpu();

	real_sgemm(o, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
	double dt = thread_cpu() - t0;
#pragma omp atomic
	sgemm_seconds += dt;
#pragma omp atomic
	sgemm_flops += 2.0 * M * N * K;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The median GFLOP/s of 9 SIZE^2 sgemm calls (wall time), after one. */
static int sgemm_rate(int n)
{
	float *a = malloc((size_t)n * n * 4), *b = malloc((size_t)n * n * 4);
	float *c = malloc((size_t)n * n * 4);
	double rate[9];

	if (n <= 0 || !a || !b || !c) {
		fprintf(stderr, "model-bench: bad sgemm size %d\n", n);
		return 2;
	}
	for (size_t i = 0; i < (size_t)n * n; i++)
		a[i] = b[i] = (float)(i % 17) * 0.01f;
	real_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n,
		   0.0f, c, n);
	for (int r = 0; r < 9; r++) {
		double t = now();
		real_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b,
			   n, 0.0f, c, n);
		rate[r] = 2.0 * n * n * n / (now() - t) * 1e-9;
	}
	qsort(rate, 9, sizeof *rate, cmp_double);
	printf("model-bench: sgemm %dx%d, %d OpenBLAS threads: %.0f GFLOP/s (median of 9; %.0f-%.0f)\n",
	       n, n, openblas_get_num_threads(), rate[4], rate[0], rate[8]);
	printf("RESULT sgemm_gflops=%.1f\n", rate[4]);
	free(a), free(b), free(c);
	return 0;
}

/*
 * The head's three products, whole, on OpenBLAS's threads: the median of
 * 5 repetitions (after one) of each, in ms and GFLOP/s.
 */
static int head_rate(int n, int c, int v)
{
	int vp = (v + 127) / 128 * 128;
	float *x = malloc((size_t)n * c * 4), *w = malloc((size_t)vp * c * 4);
	float *l = malloc((size_t)n * vp * 4), *dw = malloc((size_t)vp * c * 4);
	float *dx = malloc((size_t)n * c * 4);
	double t[3][5], flop = 2.0 * n * c * vp, sum = 0;
	static const char *const name[3] = { "logits = x wte^T", "dwte = dlogits^T x",
					      "dx = dlogits wte" };

	if (n <= 0 || c <= 0 || v <= 0 || !x || !w || !l || !dw || !dx) {
		fprintf(stderr, "model-bench: bad head shape %d %d %d\n", n, c, v);
		return 2;
	}
	for (size_t i = 0; i < (size_t)n * c; i++)
		x[i] = (float)(i % 13) * 0.01f;
	for (size_t i = 0; i < (size_t)vp * c; i++)
		w[i] = (float)(i % 17) * 0.001f;
	for (int r = -1; r < 5; r++) {
		double a = now();
		real_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, vp, c, 1.0f, x, c, w, c,
			   0.0f, l, vp);
		double b = now();
		real_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, vp, c, n, 1.0f, l, vp, x, c,
			   0.0f, dw, c);
		double d = now();
		real_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, c, vp, 1.0f, l, vp, w, c,
			   0.0f, dx, c);
		double e = now();
		if (r >= 0)
			t[0][r] = b - a, t[1][r] = d - b, t[2][r] = e - d;
	}
	printf("model-bench: the head's products for N=%d C=%d Vp=%d, one sgemm each, %d OpenBLAS threads"
	       " (median of 5):\n", n, c, vp, openblas_get_num_threads());
	for (int k = 0; k < 3; k++) {
		qsort(t[k], 5, sizeof t[k][0], cmp_double);
		sum += t[k][2];
		printf("  %-20s %6.1f ms, %4.0f GFLOP/s\n", name[k], 1000 * t[k][2], flop / t[k][2] * 1e-9);
	}
	printf("  all three            %6.1f ms, %4.0f GFLOP/s\n", 1000 * sum, 3 * flop / sum * 1e-9);
	printf("RESULT head_ms=%.2f head_gflops=%.1f\n", 1000 * sum, 3 * flop / sum * 1e-9);
	free(x), free(w), free(l), free(dw), free(dx);
	return 0;
}

int main(int argc, char **argv)
{
	struct qn_gpt_config c = { 0 };
	struct qn_gpt *m;
	struct qn_err err;

	real_sgemm = (sgemm_fn *)dlsym(RTLD_NEXT, "cblas_sgemm");
	if (!real_sgemm) {
		fprintf(stderr, "model-bench: cblas_sgemm not found\n");
		return 1;
	}
	if (argc >= 2 && strcmp(argv[1], "sgemm") == 0)
		return sgemm_rate(argc > 2 ? atoi(argv[2]) : 1024);
	if (argc == 5 && strcmp(argv[1], "head") == 0)
		return head_rate(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
	if (argc < 8) {
		fprintf(stderr, "usage: model-bench L HEADS WIDTH T B VOCAB STEPS [fast|ref]\n"
			"       model-bench sgemm [SIZE]\n"
			"       model-bench head N WIDTH VOCAB\n");
		return 2;
	}
	c.n_layer = atoi(argv[1]);
	c.n_head = atoi(argv[2]);
	c.channels = atoi(argv[3]);
	int T = atoi(argv[4]), B = atoi(argv[5]), steps = atoi(argv[7]);
	c.max_seq = T;
	c.vocab = atoi(argv[6]);
	int fast = argc < 9 || strcmp(argv[8], "ref") != 0;
	if (qn_gpt_new(&m, &c, B, T, fast ? QN_GPT_FAST : QN_GPT_REF, &err) < 0) {
		fprintf(stderr, "model-bench: %s\n", err.msg);
		return 1;
	}
	qn_gpt_init(m, 1);
	int32_t *inp = malloc((size_t)B * T * 4), *tgt = malloc((size_t)B * T * 4);
	uint64_t s = 12345;
	for (int i = 0; i < B * T; i++) {
		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		inp[i] = (int32_t)((s >> 33) % c.vocab);
		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		tgt[i] = (int32_t)((s >> 33) % c.vocab);
	}
	float *mm = calloc(m->nparams, 4), *vv = calloc(m->nparams, 4);
	double t0 = 0, c0 = 0, tf = 0, tb = 0, to = 0, cf = 0, cb = 0, co = 0;
	float loss = 0;
	for (int step = 0; step <= steps; step++) {
		if (step == 1) {	/* the first step is warm-up */
			t0 = now();
			c0 = cpu_now();
			sgemm_seconds = sgemm_flops = tf = tb = to = cf = cb = co = 0;
		}
		double a = now(), ca = cpu_now();
		qn_gpt_zero_grad(m);
		loss = qn_gpt_forward(m, inp, tgt, B, T);
		double b = now(), cb0 = cpu_now();
		qn_gpt_backward(m);
		double d = now(), cd = cpu_now();
		for (int p = 0; p < QN_NPARAM; p++) {
			size_t off = m->param[p] - m->params;
			float wd = qn_gpt_param_decays(p) ? 0.1f : 0.0f;
			(fast ? qn_fast_adamw : qn_ref_adamw)(m->param[p], m->grad[p], mm + off,
				vv + off, m->param_size[p], 3e-4f, 0.9f, 0.95f, 1e-8f, wd, step + 1);
		}
		double e = now(), ce = cpu_now();
		tf += b - a, tb += d - b, to += e - d;
		cf += cb0 - ca, cb += cd - cb0, co += ce - cd;
	}
	double wall = now() - t0, cpu = cpu_now() - c0, ms = 1000 * wall / steps;
	int threads = fast ? omp_get_max_threads() : 1;
	double share = 1 - sgemm_seconds / cpu;
	printf("model-bench: L=%d heads=%d width=%d T=%d B=%d vocab=%d (%zu params) %s, %d thread%s\n",
	       c.n_layer, c.n_head, c.channels, T, B, c.vocab, m->nparams, fast ? "fast" : "ref",
	       threads, threads > 1 ? "s" : "");
	printf("  %.1f ms/step (forward %.1f, backward %.1f, adamw %.1f), %.0f tokens/s, loss %.4f after %d steps\n",
	       ms, 1000 * tf / steps, 1000 * tb / steps, 1000 * to / steps,
	       (double)B * T * steps / wall, loss, steps + 1);
	printf("  CPU time %.1f ms/step over %d thread%s (%.1f ms/step if they had the cores to themselves;"
	       " forward %.1f, backward %.1f, adamw %.1f)\n",
	       1000 * cpu / steps, threads, threads > 1 ? "s" : "", 1000 * cpu / steps / threads,
	       1000 * cf / steps, 1000 * cb / steps, 1000 * co / steps);
	printf("  sgemm: %.1f GFLOP/step at %.0f GFLOP per CPU second; CPU time outside sgemm: %.0f%%\n",
	       sgemm_flops / steps * 1e-9,
	       sgemm_seconds > 0 ? sgemm_flops / sgemm_seconds * 1e-9 : 0, 100 * share);
	/*
	 * A floor: the sgemm calls' CPU time split evenly over the threads,
	 * as if they ran back to back with no other work and no waiting.
	 */
	printf("  the step's sgemm calls alone: %.1f ms of CPU/step, %.1f ms/step on %d thread%s at best;"
	       " the rest: %.1f ms of CPU/step\n", 1000 * sgemm_seconds / steps,
	       1000 * sgemm_seconds / steps / threads, threads, threads > 1 ? "s" : "",
	       1000 * (cpu - sgemm_seconds) / steps);
	printf("RESULT ms_per_step=%.2f tokens_per_s=%.0f outside_sgemm=%.3f cpu_ms_per_step=%.2f"
	       " sgemm_ms_per_step=%.2f\n", ms, (double)B * T * steps / wall, share, 1000 * cpu / steps,
	       1000 * sgemm_seconds / steps / threads);
	free(inp), free(tgt), free(mm), free(vv);
	qn_gpt_free(m);
	return 0;
}
