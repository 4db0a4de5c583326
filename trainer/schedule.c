/*
 * schedule.c: learning rate, accumulation, clipping, and the generator
 * (see schedule.h).
 */
#define _GNU_SOURCE
#include <math.h>

#include "schedule.h"

double qn_lr_at(const struct qn_train_opts *o, uint64_t step)
{
	double ratio;

	if (step < o->warmup)
		return o->lr * (double)(step + 1) / (double)o->warmup;
	if (o->steps <= o->warmup + 1)
		return o->lr;
	if (step >= o->steps)
		step = o->steps - 1;
	/* 0 at the first step after warmup, 1 at the last step */
	ratio = (double)(step - o->warmup) / (double)(o->steps - 1 - o->warmup);
	return o->min_lr + 0.5 * (1.0 + cos(M_PI * ratio)) * (o->lr - o->min_lr);
}

uint64_t qn_accum_steps(const struct qn_train_opts *o)
{
	uint64_t bt;

	if (o->B < 1 || o->T < 1)
		return 0;
	bt = (uint64_t)o->B * (uint64_t)o->T;
	if (!o->total_batch || o->total_batch % bt)
		return 0;
	return o->total_batch / bt;
}

double qn_grad_norm(float *g, size_t n, uint64_t accum, double clip,
		    double (*norm_fn)(const float *, size_t), float *scale)
{
	double norm;
	size_t i;

	if (accum > 1) {
		float s = 1.0f / (float)accum;

		for (i = 0; i < n; i++)
			g[i] *= s;
	}
	norm = norm_fn(g, n);
	*scale = clip > 0 && norm > clip ? (float)(clip / norm) : 1.0f;
	return norm;
}

double qn_grad_finish(float *g, size_t n, uint64_t accum, double clip,
		      double (*norm_fn)(const float *, size_t))
{
	float s;
	double norm = qn_grad_norm(g, n, accum, clip, norm_fn, &s);

	if (s != 1.0f)
		for (size_t i = 0; i < n; i++)
			g[i] *= s;
	return norm;
}

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void qn_rng_seed(struct qn_rng *r, uint64_t seed)
{
	int i;

	for (i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t qn_rng_next(struct qn_rng *r)
{
	uint64_t *s = r->s;
	uint64_t res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

double qn_rng_uniform(struct qn_rng *r)
{
	return (double)(qn_rng_next(r) >> 11) * 0x1.0p-53;
}
