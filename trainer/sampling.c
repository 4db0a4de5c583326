/*
 * sampling.c: temperature, top-k and top-p sampling (see sampling.h).
 *
 * Cost per token: one pass for the maximum and one for the softmax over
 * all n ids, and a sort of the candidates only (a partial selection of
 * the top k when k is given; all n when only top-p is).
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

int qn_sample(struct qn_sampler *s, const float *logits, int n,
	      const struct qn_sample_opts *o, struct qn_rng *r)
{
	struct cand *c = s->c;
	double total, acc, u, inv_t, top;
	int i, k, best = 0;

	if (n > s->n)
		n = s->n;
	for (i = 1; i < n; i++)
		if (logits[i] > logits[best])
			best = i;
	if (o->temperature <= 0)
		return best;

	/* The candidates, best first: all of them, or the top k. */
	k = (o->top_k > 0 && o->top_k < n) ? o->top_k : n;
	if (k < n) {
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
	} else {
		for (i = 0; i < n; i++) {
			c[i].logit = logits[i];
			c[i].id = i;
		}
	}
	qsort(c, (size_t)k, sizeof *c, cmp_cand);

	/* Softmax over the kept candidates (the top-k renormalisation). */
	inv_t = 1.0 / o->temperature;
	top = c[0].logit;
	total = 0;
	for (i = 0; i < k; i++) {
		double e = exp(((double)c[i].logit - top) * inv_t);

		c[i].logit = (float)e;	/* from here on: the weight */
		total += c[i].logit;
	}
	if (o->top_p > 0 && o->top_p < 1) {
		double want = o->top_p * total, kept = 0;

		for (i = 0; i < k; i++) {
			kept += c[i].logit;
			if (kept >= want)
				break;
		}
		k = i < k ? i + 1 : k;
		total = kept;
	}
	u = qn_rng_uniform(r) * total;
	acc = 0;
	for (i = 0; i < k; i++) {
		acc += c[i].logit;
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
