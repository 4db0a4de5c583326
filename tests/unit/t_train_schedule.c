/*
 * t_train_schedule: the learning rate schedule, gradient accumulation
 * and clipping, the generator, and the sampler (trainer/schedule.c,
 * trainer/sampling.c), each against a plain computation written here.
 */
#define _GNU_SOURCE
#include <math.h>

#include "../tap.h"
#include "../../trainer/sampling.h"

static double norm_plain(const float *g, size_t n)
{
	double s = 0;
	size_t i;

	for (i = 0; i < n; i++)
		s += (double)g[i] * g[i];
	return sqrt(s);
}

int main(void)
{
	struct qn_train_opts o = { .B = 4, .T = 8, .total_batch = 128, .steps = 100,
				   .warmup = 10, .lr = 6e-4, .min_lr = 6e-5 };
	struct qn_sample_opts so;
	struct qn_rng r1, r2;
	struct qn_sampler *s;
	float g[100], logits[50];
	double prev, worst = 0, nrm;
	long counts[4] = { 0 };
	uint64_t i;
	int j, mono = 1, same = 1, in_top = 1, id;

	/* Schedule. */
	ok(fabs(qn_lr_at(&o, 0) - 6e-5) < 1e-15, "first warmup step: lr/warmup");
	ok(fabs(qn_lr_at(&o, 4) - 3e-4) < 1e-15, "warmup is linear");
	ok(fabs(qn_lr_at(&o, 9) - 6e-4) < 1e-15, "warmup ends at the peak");
	ok(fabs(qn_lr_at(&o, 10) - 6e-4) < 1e-15, "the cosine starts at the peak");
	ok(fabs(qn_lr_at(&o, 99) - 6e-5) < 1e-15, "the last step is at min_lr");
	prev = qn_lr_at(&o, 10);
	for (i = 11; i < 100; i++) {
		double lr = qn_lr_at(&o, i);
		double ratio = (double)(i - 10) / 89.0;
		double want = 6e-5 + 0.5 * (1 + cos(M_PI * ratio)) * (6e-4 - 6e-5);

		if (lr > prev)
			mono = 0;
		if (fabs(lr - want) > worst)
			worst = fabs(lr - want);
		prev = lr;
	}
	ok(mono, "the cosine never rises");
	ok(worst < 1e-15, "every step matches the cosine formula (worst %g)", worst);
	{
		struct qn_train_opts h = o;

		h.steps = 21;
		h.warmup = 0;
		ok(fabs(qn_lr_at(&h, 10) - (6e-5 + 6e-4) / 2) < 1e-15,
		   "half way is the mean of peak and floor");
	}
	o.warmup = 100;
	ok(fabs(qn_lr_at(&o, 99) - 6e-4) < 1e-15, "warmup over the whole run ends at lr");
	o.warmup = 0;
	ok(fabs(qn_lr_at(&o, 0) - 6e-4) < 1e-15, "no warmup starts at the peak");

	/* Accumulation. */
	is_int(qn_accum_steps(&o), 4, "128 tokens of 4x8 batches: 4 micro-batches");
	o.total_batch = 100;
	is_int(qn_accum_steps(&o), 0, "a total that is not a multiple of B*T is refused");
	o.total_batch = 0;
	is_int(qn_accum_steps(&o), 0, "a zero total is refused");

	for (j = 0; j < 100; j++)
		g[j] = (float)(j % 7) - 3.0f;	/* sum of squares: known */
	nrm = qn_grad_finish(g, 100, 2, 0, norm_plain);
	ok(fabs(g[0] + 1.5f) < 1e-7 && fabs(g[6] - 1.5f) < 1e-7, "accumulated gradients are averaged");
	ok(fabs(nrm - norm_plain(g, 100)) < 1e-9, "the norm returned is the averaged gradient's");
	nrm = qn_grad_finish(g, 100, 1, 1.0, norm_plain);
	ok(nrm > 1 && fabs(norm_plain(g, 100) - 1.0) < 1e-6, "clipped to norm 1 (from %.3f)", nrm);
	nrm = qn_grad_finish(g, 100, 1, 5.0, norm_plain);
	ok(fabs(norm_plain(g, 100) - 1.0) < 1e-6, "a norm under the bound is left alone");
	{
		float h[100], k[100], sc;
		double n1, n2;

		for (j = 0; j < 100; j++)
			h[j] = k[j] = (float)(j % 5) * 0.75f - 1.3f;
		n1 = qn_grad_finish(h, 100, 3, 0.5, norm_plain);
		n2 = qn_grad_norm(k, 100, 3, 0.5, norm_plain, &sc);
		for (j = 0; j < 100 && h[j] == k[j] * sc; j++)
			;
		ok(n1 == n2 && sc < 1 && j == 100,
		   "qn_grad_norm: the same norm, and g times its scale is qn_grad_finish's g");
		n2 = qn_grad_norm(k, 100, 1, 1e9, norm_plain, &sc);
		ok(sc == 1.0f, "qn_grad_norm: scale 1 within the bound");
	}

	/* Generator. */
	qn_rng_seed(&r1, 42);
	qn_rng_seed(&r2, 42);
	for (j = 0; j < 1000; j++)
		if (qn_rng_next(&r1) != qn_rng_next(&r2))
			same = 0;
	ok(same, "the same seed gives the same numbers");
	qn_rng_seed(&r2, 43);
	ok(qn_rng_next(&r1) != qn_rng_next(&r2), "another seed other numbers");
	/* splitmix64(0)'s first output, the published test value. */
	qn_rng_seed(&r1, 0);
	ok(r1.s[0] == 0xe220a8397b1dcdafULL, "seeded through splitmix64");
	for (j = 0, prev = 0; j < 100000; j++) {
		double u = qn_rng_uniform(&r1);

		if (u < 0 || u >= 1)
			same = 0;
		prev += u;
	}
	ok(same && fabs(prev / 100000 - 0.5) < 0.01, "uniform in [0,1), mean %.4f", prev / 100000);

	/* Sampling. */
	s = qn_sampler_new(50);
	for (j = 0; j < 50; j++)
		logits[j] = (float)((j * 37) % 50) * 0.1f;	/* a permutation */
	so = (struct qn_sample_opts){ 0, 0, 1 };
	id = qn_sample(s, logits, 50, &so, &r1);
	is_int(logits[id], logits[id], "greedy");
	ok(logits[id] == 4.9f, "greedy takes the highest logit");
	so = (struct qn_sample_opts){ 1.0, 1, 1 };
	ok(qn_sample(s, logits, 50, &so, &r1) == id, "top-k 1 is greedy");
	so = (struct qn_sample_opts){ 1.0, 0, 1e-9 };
	ok(qn_sample(s, logits, 50, &so, &r1) == id, "a tiny top-p is greedy");
	so = (struct qn_sample_opts){ 5.0, 3, 1 };
	for (j = 0; j < 2000; j++) {
		id = qn_sample(s, logits, 50, &so, &r1);
		if (logits[id] < 4.65f)
			in_top = 0;
	}
	ok(in_top, "top-k 3 at a high temperature only picks the 3 best");
	/* Frequencies against the softmax: logits 0, 1, 2, 3 at T=1. */
	{
		float l4[4] = { 0, 1, 2, 3 };
		double z = 1 + exp(1) + exp(2) + exp(3), dev = 0;
		struct qn_sampler *s4 = qn_sampler_new(4);

		so = (struct qn_sample_opts){ 1.0, 0, 1 };
		for (j = 0; j < 40000; j++)
			counts[qn_sample(s4, l4, 4, &so, &r1)]++;
		for (j = 0; j < 4; j++)
			dev = fmax(dev, fabs(counts[j] / 40000.0 - exp(j) / z));
		ok(dev < 0.01, "frequencies follow the softmax (worst deviation %.4f)", dev);
		/* top-p 0.7: {3} holds 0.644, {3, 2} 0.881: both kept, renormalised. */
		memset(counts, 0, sizeof counts);
		so.top_p = 0.7;
		for (j = 0; j < 40000; j++)
			counts[qn_sample(s4, l4, 4, &so, &r1)]++;
		ok(counts[0] == 0 && counts[1] == 0, "top-p 0.7 keeps only ids 3 and 2");
		ok(fabs(counts[3] / 40000.0 - exp(1) / (1 + exp(1))) < 0.01,
		   "and renormalises them (%.4f)", counts[3] / 40000.0);
		/* Ties: the lower id first. */
		l4[0] = l4[1] = l4[2] = l4[3] = 1;
		so = (struct qn_sample_opts){ 0, 0, 1 };
		is_int(qn_sample(s4, l4, 4, &so, &r1), 0, "greedy on a tie takes the lower id");
		so = (struct qn_sample_opts){ 1, 2, 1 };
		memset(counts, 0, sizeof counts);
		for (j = 0; j < 1000; j++)
			counts[qn_sample(s4, l4, 4, &so, &r1)]++;
		ok(counts[2] == 0 && counts[3] == 0 && counts[0] > 400 && counts[1] > 400,
		   "top-k 2 on a tie keeps the two lowest ids");
		qn_sampler_free(s4);
	}
	qn_rng_seed(&r1, 9);
	qn_rng_seed(&r2, 9);
	so = (struct qn_sample_opts){ 0.8, 10, 0.9 };
	for (j = 0, same = 1; j < 500; j++)
		if (qn_sample(s, logits, 50, &so, &r1) != qn_sample(s, logits, 50, &so, &r2))
			same = 0;
	ok(same, "the same seed samples the same tokens");
	qn_sampler_free(s);
	qn_sampler_free(NULL);

	/* Truncation against a brute force over a flat vocabulary of 5000,
	 * where the nucleus holds thousands of ids. */
	{
		enum { NV = 5000 };
		static float lv[NV];
		static int order[NV], inset[NV];
		struct qn_sampler *sv = qn_sampler_new(NV);
		static const struct { int k; double p; } cases[] = {
			{ 0, 0.5 }, { 200, 0.5 }, { 100, 1.0 }, { 3000, 0.9 }, { 0, 0.2 }
		};
		int ci, a, b2, outside, kept, hit_last;

		for (j = 0; j < NV; j++)
			lv[j] = (float)(tap_rand() % 100000) * 2e-5f;
		for (j = 0; j < NV; j++)
			order[j] = j;
		/* insertion sort by (logit desc, id asc): plain and obviously right */
		for (a = 1; a < NV; a++) {
			int x = order[a];

			for (b2 = a; b2 > 0 && (lv[order[b2 - 1]] < lv[x] ||
					       (lv[order[b2 - 1]] == lv[x] && order[b2 - 1] > x)); b2--)
				order[b2] = order[b2 - 1];
			order[b2] = x;
		}
		for (ci = 0; ci < 5; ci++) {
			int k = cases[ci].k ? cases[ci].k : NV;
			double tot = 0, acc2 = 0;

			for (j = 0; j < k; j++)
				tot += (float)exp((double)lv[order[j]] - lv[order[0]]);
			memset(inset, 0, sizeof inset);
			for (j = 0, kept = 0; j < k; j++) {
				inset[order[j]] = 1;
				kept++;
				acc2 += (float)exp((double)lv[order[j]] - lv[order[0]]);
				if (cases[ci].p < 1 && acc2 >= cases[ci].p * tot)
					break;
			}
			so = (struct qn_sample_opts){ 1.0, cases[ci].k, cases[ci].p };
			outside = 0;
			hit_last = 0;
			for (j = 0; j < 3000; j++) {
				id = qn_sample(sv, lv, NV, &so, &r1);
				if (!inset[id])
					outside++;
				for (a = kept - 10; a < kept; a++)
					if (id == order[a])
						hit_last = 1;
			}
			ok(outside == 0 && hit_last, 
			   "top-k %d top-p %.3f: only the %d ids of the brute-force set, its last ten reached",
			   cases[ci].k, cases[ci].p, kept);
			if (outside || !hit_last)
				printf("#   %d draws outside, last ten %s\n", outside, hit_last ? "reached" : "never drawn");
		}
		qn_sampler_free(sv);
	}

	/* Printing decoded bytes: hold back an unfinished UTF-8 character. */
	is_int(qn_utf8_ready("abc", 3), 3, "ASCII is ready");
	is_int(qn_utf8_ready("", 0), 0, "nothing is ready");
	is_int(qn_utf8_ready("a\xc3", 2), 1, "a lone 2-byte lead is held");
	is_int(qn_utf8_ready("a\xc3\xa9", 3), 3, "a whole 2-byte character is ready");
	is_int(qn_utf8_ready("a\xe2\x82", 3), 1, "2 bytes of a 3-byte character are held");
	is_int(qn_utf8_ready("a\xe2\x82\xac", 4), 4, "the whole euro sign is ready");
	is_int(qn_utf8_ready("a\xf0\x9f\x98", 4), 1, "3 bytes of an emoji are held");
	is_int(qn_utf8_ready("\xf0\x9f\x98\x80", 4), 4, "the whole emoji is ready");
	is_int(qn_utf8_ready("a\x80\x80\x80\x80", 5), 5, "stray continuation bytes are not held");
	is_int(qn_utf8_ready("a\xff", 2), 2, "a byte that cannot start UTF-8 is not held");
	{
		/* Split a text at every byte: ready prefixes rejoin to the text. */
		const char *txt = "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80!";
		size_t len = strlen(txt), cut;
		int good = 1;

		for (cut = 0; cut <= len; cut++) {
			size_t r = qn_utf8_ready(txt, cut);

			/* what is held is a proper prefix of one character */
			if (r > cut || cut - r > 3 || (r < cut && ((unsigned char)txt[r] & 0xc0) != 0xc0))
				good = 0;
		}
		ok(good, "at every cut of a mixed text only an unfinished character is held");
	}
	return done_testing();
}
