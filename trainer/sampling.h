/*
 * sampling.h: choosing the next token from a model's logits.
 *
 * The logits are divided by the temperature and turned into weights
 * exp((l - max) / T) (in double, rounded to float).  Top-k and top-p
 * look at the candidates ordered by logit, highest first, ties by the
 * lower id, so the order never depends on a sort: top-k keeps the first
 * k, top-p then keeps the shortest prefix whose weight reaches p of the
 * total (of all ids, or of the top k; at least one token).  One number
 * u = qn_rng_uniform in [0, 1) times the kept total picks the first
 * candidate, in that order, whose cumulative weight exceeds it; with
 * neither top-k nor top-p every id is kept and the ids are walked in id
 * order.  Temperature 0 is greedy (the highest logit, lowest id on a
 * tie) and draws nothing.  The same logits, options and generator state
 * give the same token on every machine.
 */
#ifndef QN_SAMPLING_H
#define QN_SAMPLING_H

#include <stddef.h>
#include <stdint.h>

#include "schedule.h"

struct qn_sample_opts {
	double temperature;	/* 0: greedy */
	int top_k;		/* 0: all */
	double top_p;		/* 1: all */
};

struct qn_sampler;

/* A sampler for vocabularies of n ids (its scratch space). */
struct qn_sampler *qn_sampler_new(int n);
void qn_sampler_free(struct qn_sampler *s);
/* Picks an id in [0, n) from logits[0..n) (see the top of this file). */
int qn_sample(struct qn_sampler *s, const float *logits, int n,
	      const struct qn_sample_opts *o, struct qn_rng *r);

/*
 * The length of the prefix of p[0..n) that can be printed now: all of it
 * unless it ends inside a UTF-8 sequence (a lead byte among the last
 * three whose sequence runs past the end), which is held back until the
 * next token's bytes complete it.  Bytes that are not UTF-8 at all are
 * never held.
 */
size_t qn_utf8_ready(const char *p, size_t n);

#endif
