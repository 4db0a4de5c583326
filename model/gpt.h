/*
 * gpt.h: the GPT-2 model on the CPU, fp32.
 *
 * The contract between the model (model/, issue 7), the trainer and the
 * sampler (trainer/), and the GPU path (model/cuda/, issue 8).
 *
 * Token and learned position embeddings, pre-LayerNorm blocks, causal
 * multi-head attention, GELU (tanh) MLP of 4x width, a final LayerNorm,
 * and the output projection tied to the token embedding; the vocabulary is
 * padded to a multiple of 128 (padded rows are zero and never predicted).
 *
 * Parameters live in one contiguous float array, tensors in llm.c's order
 * and shapes (enum qn_gpt_param), so the array is llm.c's model file
 * payload and moves between the CPU, the GPU and llm.c unchanged.
 * Gradients have the same layout.
 */
#ifndef QN_GPT_H
#define QN_GPT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct qn_gpt_config {
	int max_seq;		/* context length, the position table's rows */
	int vocab;		/* the tokenizer's vocabulary */
	int padded_vocab;	/* vocab rounded up to a multiple of 128 */
	int n_layer;
	int n_head;
	int channels;		/* width; a multiple of n_head */
};

/* Fills padded_vocab and checks the rest (QN_EUSAGE naming the field). */
int qn_gpt_config_check(struct qn_gpt_config *c, struct qn_err *err);

/* Tensors, in order; L = n_layer, C = channels, Vp = padded_vocab. */
enum qn_gpt_param {
	QN_WTE,		/* [Vp, C] */
	QN_WPE,		/* [max_seq, C] */
	QN_LN1W,	/* [L, C] */
	QN_LN1B,	/* [L, C] */
	QN_QKVW,	/* [L, 3C, C] */
	QN_QKVB,	/* [L, 3C] */
	QN_ATTPROJW,	/* [L, C, C] */
	QN_ATTPROJB,	/* [L, C] */
	QN_LN2W,	/* [L, C] */
	QN_LN2B,	/* [L, C] */
	QN_FCW,		/* [L, 4C, C] */
	QN_FCB,		/* [L, 4C] */
	QN_FCPROJW,	/* [L, C, 4C] */
	QN_FCPROJB,	/* [L, C] */
	QN_LNFW,	/* [C] */
	QN_LNFB,	/* [C] */
	QN_NPARAM
};
/* Element counts of each tensor; returns their sum. */
size_t qn_gpt_param_sizes(const struct qn_gpt_config *c, size_t sizes[QN_NPARAM]);
/* 1 for the tensors AdamW decays (the matrices and embeddings), else 0. */
int qn_gpt_param_decays(enum qn_gpt_param p);
const char *qn_gpt_param_name(enum qn_gpt_param p);

enum qn_gpt_impl {
	QN_GPT_REF,	/* the plain reference ops (ops.h): one thread, loops */
	QN_GPT_FAST	/* OpenBLAS sgemm for every matrix product, threads for the rest */
};

struct qn_gpt {
	struct qn_gpt_config cfg;
	enum qn_gpt_impl impl;
	int B, T;			/* the largest batch the activations hold */
	size_t nparams;
	float *params, *grads;		/* nparams floats each */
	float *param[QN_NPARAM];	/* views into params */
	float *grad[QN_NPARAM];		/* views into grads */
	size_t param_size[QN_NPARAM];
	float loss;			/* mean loss of the last forward, or -1 */
	void *priv;			/* activations and scratch */
};

/* Allocates the model for batches of up to B x T (T <= max_seq). */
int qn_gpt_new(struct qn_gpt **out, const struct qn_gpt_config *c, int B, int T,
	       enum qn_gpt_impl impl, struct qn_err *err);
void qn_gpt_free(struct qn_gpt *m);
/*
 * GPT-2's initialisation, seeded: N(0, 0.02) for matrices and embeddings,
 * residual projections (ATTPROJW, FCPROJW) scaled by 1/sqrt(2 L), biases
 * zero, LayerNorm weights one; the padded vocabulary rows zero.  The same
 * seed gives the same bytes on every machine.
 */
void qn_gpt_init(struct qn_gpt *m, uint64_t seed);
/*
 * Forward pass over inputs[b*T + t] (b < B, t < T, within the sizes given
 * to qn_gpt_new).  With targets, computes and returns the mean loss (and
 * keeps what backward needs); without (NULL), returns -1.  Every input
 * and target must be below cfg.vocab (asserted: the caller checks data).
 */
float qn_gpt_forward(struct qn_gpt *m, const int32_t *inputs,
		     const int32_t *targets, int B, int T);
/*
 * The logits of the last forward, [B, T, Vp] for its B x T (the padded
 * columns 0); valid until the next forward.  The fast path keeps them in
 * another order and writes them out here (into a buffer the model owns).
 */
const float *qn_gpt_logits(struct qn_gpt *m);
/*
 * Starts a new gradient: the next backward's gradient is not added to
 * the old one.  (The fast path zeroes every tensor's gradient but the
 * token embedding's, which that backward overwrites; read m->grads after
 * a backward.)
 */
void qn_gpt_zero_grad(struct qn_gpt *m);
/*
 * Adds the gradient of the last forward's mean loss to m->grads; needs a
 * forward with targets.  The logits of that forward stay as they were.
 */
void qn_gpt_backward(struct qn_gpt *m);

/*
 * Generation with a key/value cache: each call feeds one token at the next
 * position and writes the logits of the following token (padded_vocab
 * floats, the padded tail -inf).  Positions beyond max_seq are an error.
 */
struct qn_gpt_kv;
struct qn_gpt_kv *qn_gpt_kv_new(const struct qn_gpt *m);
void qn_gpt_kv_reset(struct qn_gpt_kv *kv);
int qn_gpt_kv_step(const struct qn_gpt *m, struct qn_gpt_kv *kv, int32_t token,
		   float *logits, struct qn_err *err);
void qn_gpt_kv_free(struct qn_gpt_kv *kv);

/*
 * llm.c's GPT-2 model file (gpt2_124M.bin layout: a 256 x int32 header,
 * magic 20240326, version 3 (fp32), then the parameters in this order).
 */
int qn_gpt_load_llmc(const char *path, struct qn_gpt_config *c, float **params,
		     struct qn_err *err);
int qn_gpt_save_llmc(const char *path, const struct qn_gpt *m, struct qn_err *err);

#endif
