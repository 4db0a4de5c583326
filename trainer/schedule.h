/*
 * schedule.h: the arithmetic of a training step that needs no model:
 * the learning rate schedule, gradient accumulation, clipping, and the
 * trainer's and sampler's random number generator.
 */
#ifndef QN_SCHEDULE_H
#define QN_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

#include "checkpoint.h"

/*
 * The learning rate of optimizer step `step` (0-based) of o->steps:
 * linear warmup from lr/warmup to lr over the first o->warmup steps, then
 * a cosine from lr down to min_lr at the last step (as llm.c's
 * train_gpt2.c).  With warmup == steps the rate stays at lr.
 */
double qn_lr_at(const struct qn_train_opts *o, uint64_t step);

/*
 * Micro-batches per optimizer step: total_batch / (B*T), or 0 when
 * total_batch is not a positive multiple of B*T.
 */
uint64_t qn_accum_steps(const struct qn_train_opts *o);

/*
 * After accumulating `accum` micro-batch gradients (each the gradient of
 * that micro-batch's mean loss), makes g the gradient of the mean over
 * all of them, and clips it to global norm `clip` (0: no clipping).
 * Returns the global norm before clipping (of the averaged gradient).
 * norm_fn computes sqrt(sum g^2) (qn_ref_global_norm or qn_fast_...).
 */
double qn_grad_finish(float *g, size_t n, uint64_t accum, double clip,
		      double (*norm_fn)(const float *, size_t));
/*
 * qn_grad_finish without the clipping pass: averages g and returns its
 * norm, with *scale the factor clipping multiplies it by (1 when the norm
 * is within the bound), for an optimizer that scales as it reads
 * (qn_fast_adamw_scaled): g * *scale is what qn_grad_finish leaves.
 */
double qn_grad_norm(float *g, size_t n, uint64_t accum, double clip,
		    double (*norm_fn)(const float *, size_t), float *scale);

/*
 * xoshiro256** (Blackman and Vigna), seeded through splitmix64: the same
 * seed gives the same numbers everywhere.  The state is four words so a
 * checkpoint can save it.
 */
struct qn_rng {
	uint64_t s[4];
};
void qn_rng_seed(struct qn_rng *r, uint64_t seed);
uint64_t qn_rng_next(struct qn_rng *r);
/* Uniform in [0, 1), 53 bits. */
double qn_rng_uniform(struct qn_rng *r);

#endif
