/*
 * gpu-bench.c: training throughput of the GPU path (gpt_cuda.h) on GPT-2
 * (124M by default): tokens per second and model FLOPs utilisation, with
 * the bf16 matrix product rate of the same cuBLASLt path measured in the
 * same run.  Run by bench/gpu.sh on the device machine; prints one
 * "quern: key=value ..." line that the script tabulates.
 *
 *	gpu-bench [-L layers] [-H heads] [-C channels] [-T seq] [-V vocab]
 *		  [-B batch (0: the largest that fits)] [-s steps] [-w warmup]
 *		  [-a cublas|flash]
 *
 * -a flash runs the fused attention (QN_CUDA_ATTENTION=flash) and labels
 * the line "quern-flash:".
 *
 * FLOPs per token: 6 * parameters + 6 * layers * channels * T (the
 * issue's formula, parameters with the padded vocabulary as stored);
 * peak: the H100's bf16 dense 989 TFLOP/s.  Exit 77 without a GPU.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "gpt.h"
#include "cuda/gpt_cuda.h"
#include "cuda/ops_cuda.h"

#define PEAK 989e12

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int step(struct qn_gpt_cuda *g, const int32_t *inp, const int32_t *tgt, int B, int T,
		int t, float *loss, struct qn_err *err)
{
	static const struct qn_adamw_hp hp = { 6e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, 1.0f };
	float norm;

	if (qn_gpt_cuda_zero_grad(g, err) < 0 || qn_gpt_cuda_forward(g, inp, tgt, B, T, loss, err) < 0 ||
	    qn_gpt_cuda_backward(g, err) < 0 || qn_gpt_cuda_step(g, &hp, t, 1, &norm, err) < 0)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct qn_gpt_config cfg = { .max_seq = 1024, .vocab = 50257, .n_layer = 12, .n_head = 12, .channels = 768 };
	static const int tries[] = { 64, 48, 32, 24, 16, 12, 8, 4, 2, 1 };
	int B = 0, T = 1024, steps = 20, warmup = 3, opt, flash = 0;
	struct qn_gpt *cpu = NULL;
	struct qn_gpt_cuda *g = NULL;
	struct qn_err err;
	int32_t *inp = NULL, *tgt = NULL;
	uint64_t x = 88172645463325252ULL;
	float loss = 0;
	char name[160];
	double t0, dt, tps, fpt, gemm = 0, gemm_model = 0;

	while ((opt = getopt(argc, argv, "L:H:C:T:V:B:s:w:a:")) != -1) {
		switch (opt) {
		case 'L': cfg.n_layer = atoi(optarg); break;
		case 'H': cfg.n_head = atoi(optarg); break;
		case 'C': cfg.channels = atoi(optarg); break;
		case 'T': T = cfg.max_seq = atoi(optarg); break;
		case 'V': cfg.vocab = atoi(optarg); break;
		case 'B': B = atoi(optarg); break;
		case 's': steps = atoi(optarg); break;
		case 'w': warmup = atoi(optarg); break;
		case 'a': flash = !strcmp(optarg, "flash"); break;
		default:
			fprintf(stderr, "usage: gpu-bench [-L n] [-H n] [-C n] [-T n] [-V n] [-B n] [-s n] [-w n] [-a cublas|flash]\n");
			return 2;
		}
	}
	if (flash)
		setenv("QN_CUDA_ATTENTION", "flash", 1);
	if (qn_cuda_device_count() < 1) {
		printf("gpu-bench: no CUDA device\n");
		return 77;
	}
	qn_cuda_device_name(name, sizeof name);
	printf("# %s\n", name);
	if (qn_gpt_config_check(&cfg, &err) < 0 || qn_gpt_new(&cpu, &cfg, 1, 1, QN_GPT_REF, &err) < 0) {
		fprintf(stderr, "gpu-bench: %s\n", err.msg);
		return 1;
	}
	qn_gpt_init(cpu, 1337);
	for (size_t i = 0; i < sizeof tries / sizeof tries[0] && !g; i++) {
		int b = B ? B : tries[i];
		if (B && i > 0)
			break;
		free(inp);
		free(tgt);
		inp = qn_xmalloc((size_t)b * T * sizeof *inp);
		tgt = qn_xmalloc((size_t)b * T * sizeof *tgt);
		for (size_t j = 0; j < (size_t)b * T; j++) {
			x ^= x << 13; x ^= x >> 7; x ^= x << 17;
			inp[j] = (int32_t)(x % (uint64_t)cfg.vocab);
			tgt[j] = (int32_t)((x >> 32) % (uint64_t)cfg.vocab);
		}
		if (qn_gpt_cuda_new(&g, &cfg, b, T, cpu->params, &err) == 0 &&
		    step(g, inp, tgt, b, T, 1, &loss, &err) < 0) {
			qn_gpt_cuda_free(g);
			g = NULL;
		}
		if (!g)
			printf("# batch %d: %s\n", b, err.msg);
		else
			B = b;
	}
	if (!g) {
		fprintf(stderr, "gpu-bench: no batch fits\n");
		return 1;
	}
	for (int i = 1; i < warmup; i++)
		if (step(g, inp, tgt, B, T, 1 + i, &loss, &err) < 0)
			goto fail;
	t0 = now();
	for (int i = 0; i < steps; i++)
		if (step(g, inp, tgt, B, T, warmup + 1 + i, &loss, &err) < 0)
			goto fail;
	dt = now() - t0;
	tps = (double)B * T * steps / dt;
	fpt = 6.0 * (double)qn_gpt_cuda_nparams(g) + 6.0 * cfg.n_layer * cfg.channels * (double)T;
	printf("# %zu parameters, %.1f GiB on the device, batch %d x %d, last loss %.4f\n",
	       qn_gpt_cuda_nparams(g), qn_gpt_cuda_memory(g) / 1073741824.0, B, T, loss);
	qn_gpt_cuda_free(g);
	if (qn_cuda_gemm_rate(8192, 8192, 8192, 20, &gemm, &err) < 0 ||
	    qn_cuda_gemm_rate(B * T, 4 * cfg.channels, cfg.channels, 50, &gemm_model, &err) < 0) {
		fprintf(stderr, "gpu-bench: gemm: %s\n", err.msg);
		return 1;
	}
	printf("%s: B=%d T=%d ms_per_step=%.1f tokens_per_s=%.0f tflops=%.1f mfu=%.4f "
	       "gemm_tflops=%.1f gemm_model_tflops=%.1f mfu_vs_gemm=%.4f loss=%.4f\n",
	       flash ? "quern-flash" : "quern", B, T, dt / steps * 1e3, tps, tps * fpt / 1e12, tps * fpt / PEAK, gemm, gemm_model,
	       tps * fpt / (gemm * 1e12), loss);
	qn_gpt_free(cpu);
	free(inp);
	free(tgt);
	return 0;
fail:
	fprintf(stderr, "gpu-bench: %s\n", err.msg);
	return 1;
}
