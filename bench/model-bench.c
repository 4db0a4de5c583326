/*
 * model-bench: training steps of the CPU model (forward, backward, AdamW
 * over every tensor with decay on the matrices) on random tokens, timed.
 *
 *	model-bench L HEADS WIDTH T B VOCAB STEPS [fast|ref]
 *
 * Prints ms/step (the mean over STEPS after one warm-up step), tokens/s,
 * the CPU time per step (on a machine shared with other work the wall
 * time says more about the others than about us), and the share of
 * that CPU time spent inside cblas_sgemm: this file
 * defines cblas_sgemm itself, timing each call around OpenBLAS's (found
 * with dlsym(RTLD_NEXT)), so the model library's calls come here.
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

int main(int argc, char **argv)
{
	struct qn_gpt_config c = { 0 };
	struct qn_gpt *m;
	struct qn_err err;

	if (argc < 8) {
		fprintf(stderr, "usage: model-bench L HEADS WIDTH T B VOCAB STEPS [fast|ref]\n");
		return 2;
	}
	real_sgemm = (sgemm_fn *)dlsym(RTLD_NEXT, "cblas_sgemm");
	if (!real_sgemm) {
		fprintf(stderr, "model-bench: cblas_sgemm not found\n");
		return 1;
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
	double t0 = 0, c0 = 0, tf = 0, tb = 0, to = 0;
	float loss = 0;
	for (int step = 0; step <= steps; step++) {
		if (step == 1) {	/* the first step is warm-up */
			t0 = now();
			c0 = cpu_now();
			sgemm_seconds = sgemm_flops = tf = tb = to = 0;
		}
		double a = now();
		qn_gpt_zero_grad(m);
		loss = qn_gpt_forward(m, inp, tgt, B, T);
		double b = now();
		qn_gpt_backward(m);
		double d = now();
		for (int p = 0; p < QN_NPARAM; p++) {
			size_t off = m->param[p] - m->params;
			float wd = qn_gpt_param_decays(p) ? 0.1f : 0.0f;
			(fast ? qn_fast_adamw : qn_ref_adamw)(m->param[p], m->grad[p], mm + off,
				vv + off, m->param_size[p], 3e-4f, 0.9f, 0.95f, 1e-8f, wd, step + 1);
		}
		double e = now();
		tf += b - a, tb += d - b, to += e - d;
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
	printf("  CPU time %.1f ms/step over %d thread%s (%.1f ms/step if they had the cores to themselves)\n",
	       1000 * cpu / steps, threads, threads > 1 ? "s" : "", 1000 * cpu / steps / threads);
	printf("  sgemm: %.1f GFLOP/step at %.0f GFLOP per CPU second; CPU time outside sgemm: %.0f%%\n",
	       sgemm_flops / steps * 1e-9,
	       sgemm_seconds > 0 ? sgemm_flops / sgemm_seconds * 1e-9 : 0, 100 * share);
	printf("RESULT ms_per_step=%.2f tokens_per_s=%.0f outside_sgemm=%.3f cpu_ms_per_step=%.2f\n", ms,
	       (double)B * T * steps / wall, share, 1000 * cpu / steps);
	free(inp), free(tgt), free(mm), free(vv);
	qn_gpt_free(m);
	return 0;
}
