/*
 * sampling.c: temperature, top-k and top-p sampling (see sampling.h).
 *
 * Cost per token: a few passes over the n logits (the maximum, the
 * weights), and a heap selection of the best candidates only when top-k
 * or top-p truncates: the best 64 first, doubling until the nucleus is
 * found, so the whole vocabulary is never sorted in the usual case.
 */
#include <math.h>
#include <stdlib.h>

#include "err.h"
#include "sampling.h"

struct cand {
	float logit;
	int id;
};

struct qn_sampler {
	int n;
	struct cand *c;
};

struct qn_sampler *qn_sampler_new(int n)
{
	struct qn_sampler *s = qn_xcalloc(1, sizeof *s);

	s->n = n;
	s->c = qn_xcalloc((size_t)n, sizeof *s->c);
	return s;
}

void qn_sampler_free(struct qn_sampler *s)
{
	if (!s)
		return;
	free(s->c);
	free(s);
}

/* Highest logit first, then the lower id: a total order. */
static int cmp_cand(const void *pa, const void *pb)
{
	const struct cand *a = pa, *b = pb;

	if (a->logit != b->logit)
		return a->logit > b->logit ? -1 : 1;
	return (a->id > b->id) - (a->id < b->id);
}

static int before(const struct cand *a, const struct cand *b)
{
	return cmp_cand(a, b) < 0;
}

/* A binary min-heap (by the order above: the root is the weakest) of k. */
static void sift_down(struct cand *h, int k, int i)
{
	for (;;) {
		int l = 2 * i + 1, r = l + 1, w = i;
		struct cand t;

		if (l < k && before(&h[w], &h[l]))
			w = l;
		if (r < k && before(&h[w], &h[r]))
			w = r;
		if (w == i)
			return;
		t = h[i];
		h[i] = h[w];
		h[w] = t;
		i = w;
	}
}

/* The best k of logits[0..n) into c[0..k), best first. */
static void select_top(struct cand *c, const float *logits, int n, int k)
{
	int i;

	for (i = 0; i < k; i++) {
		c[i].logit = logits[i];
		c[i].id = i;
	}
	for (i = k / 2 - 1; i >= 0; i--)
		sift_down(c, k, i);
	for (i = k; i < n; i++) {
		struct cand x = { logits[i], i };

		if (before(&x, &c[0])) {
			c[0] = x;
			sift_down(c, k, 0);
		}
	}
	qsort(c, (size_t)k, sizeof *c, cmp_cand);
}

/* The weight of a logit: exp((l - max) / T), rounded to float. */
static float weight(float l, float max, double inv_t)
{
	return (float)exp(((double)l - (double)max) * inv_t);
}

int qn_sample(struct qn_sampler *s, const float *logits, int n,
	      const struct qn_sample_opts *o, struct qn_rng *r)
{
	struct cand *c = s->c;
	double total, acc, u, inv_t, want;
	int i, k, limit, best = 0;

	if (n > s->n)
		n = s->n;
	for (i = 1; i < n; i++)
		if (logits[i] > logits[best])
			best = i;
	if (o->temperature <= 0)
		return best;
	inv_t = 1.0 / o->temperature;
	limit = (o->top_k > 0 && o->top_k < n) ? o->top_k : n;

	/*
	 * With neither top-k nor top-p, every id is a candidate: their order
	 * only maps u to a token, so the ids are walked as they are, with no
	 * sort (the draw is the same distribution either way).
	 */
	if (limit == n && !(o->top_p > 0 && o->top_p < 1)) {
		total = 0;
		for (i = 0; i < n; i++)
			total += weight(logits[i], logits[best], inv_t);
		u = qn_rng_uniform(r) * total;
		acc = 0;
		for (i = 0; i < n; i++) {
			acc += weight(logits[i], logits[best], inv_t);
			if (u < acc)
				return i;
		}
		return best;
	}

	/*
	 * Top-p's share is of the probability of all of the top-k (of all
	 * ids without top-k).  The candidates are selected best first, k at
	 * a time, doubling k until the kept prefix reaches that share: the
	 * nucleus is usually small, and no sort of the whole vocabulary is
	 * needed to find it.
	 */
	total = 0;
	if (limit == n) {
		for (i = 0; i < n; i++)
			total += weight(logits[i], logits[best], inv_t);
	}
	k = limit < n ? limit : (n < 64 ? n : 64);
	for (;;) {
		double kept = 0;

		select_top(c, logits, n, k);
		if (limit < n && k == limit) {
			total = 0;
			for (i = 0; i < k; i++)
				total += weight(c[i].logit, c[0].logit, inv_t);
		}
		want = (o->top_p > 0 && o->top_p < 1) ? o->top_p * total : total;
		for (i = 0; i < k; i++) {
			kept += weight(c[i].logit, c[0].logit, inv_t);
			if (kept >= want)
				break;
		}
		if (i < k) {
			k = i + 1;
			total = kept;
			break;
		}
		if (k == limit) {	/* rounding: all of them */
			total = kept;
			break;
		}
		k = k > limit / 2 ? limit : 2 * k;
	}
	u = qn_rng_uniform(r) * total;
	acc = 0;
	for (i = 0; i < k; i++) {
		acc += weight(c[i].logit, c[0].logit, inv_t);
		if (u < acc)
			return c[i].id;
	}
	return c[k - 1].id;
}

size_t qn_utf8_ready(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i;

	for (i = n; i > 0 && n - i < 3; i--) {
		unsigned char b = p[i - 1];
		size_t need;

		if (b < 0x80)
			return n;
		if ((b & 0xc0) == 0x80)
			continue;	/* a continuation byte: look further back */
		need = b >= 0xf8 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
		return n - (i - 1) < need ? i - 1 : n;
	}
	return n;
}
