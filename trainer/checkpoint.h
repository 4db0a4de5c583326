/*
 * checkpoint.h: quern-train's checkpoint file, everything a resumed run
 * needs to continue bit for bit as if it had never stopped.
 *
 * A checkpoint holds the model configuration, the training options, the
 * optimizer step, the trainer's RNG state, the data loader's position
 * (struct qn_loader_state), the tokenizer hash of the data, the training
 * configuration as JSON (for people and the manifest), and three arrays
 * of nparams floats: the weights and AdamW's two moments.  The layout is
 * in quern-train(1), FILES; all integers and floats are little-endian,
 * and the file ends with the xxh3-128 of everything before it.
 *
 * Writing is atomic: a temporary file in the same directory, fsync, then
 * rename, so a reader sees either the old file or the whole new one.
 * Reading is strict: wrong magic, version, sizes, configuration, trailing
 * bytes or checksum are QN_EFORMAT naming the file and what is wrong.
 * The reader needs nothing of the model library, so the fuzz target and
 * the unit tests link without it.
 */
#ifndef QN_CHECKPOINT_H
#define QN_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"
#include "../model/gpt.h"
#include "../datasets/loader.h"

#define QN_CKPT_MAGIC "QUERNCKP"
#define QN_CKPT_VERSION 1

/* The options that decide what a training run computes. */
struct qn_train_opts {
	int B, T;		/* micro-batch rows and sequence length */
	uint64_t total_batch;	/* tokens per optimizer step (B*T*accumulation) */
	uint64_t steps;		/* optimizer steps in the whole run */
	uint64_t warmup;	/* linear warmup steps */
	double lr, min_lr;	/* peak and final learning rate */
	double weight_decay;	/* decoupled, on the tensors qn_gpt_param_decays */
	double beta1, beta2, eps;
	double grad_clip;	/* global gradient norm bound; 0: none */
	uint64_t seed;		/* initialisation and data order */
	int shuffle;		/* loader: seeded order */
	int doc_aligned;	/* loader: windows start at a document */
};

struct qn_ckpt {
	struct qn_gpt_config cfg;
	struct qn_train_opts train;
	uint64_t step;			/* optimizer steps done */
	uint64_t rng[4];		/* the trainer's generator */
	struct qn_loader_state loader;	/* the next training batch */
	char tok_hash[33];		/* 32 hex digits, or "" when unknown */
	char *config_json;		/* may be NULL on write */
	size_t nparams;
	float *params, *m, *v;		/* nparams each */
};

/*
 * Number of parameters of a configuration (what qn_gpt_param_sizes sums),
 * or 0 when the configuration is invalid; *why (if not NULL) then names
 * what is wrong.  padded_vocab must already be set.
 */
size_t qn_ckpt_nparams(const struct qn_gpt_config *c, const char **why);

/*
 * Writes c to path atomically: into an unnamed file in path's directory
 * (O_TMPFILE), fsynced, then named path (qn_link_unnamed), so a kill
 * while writing leaves no file behind; where the file system has no
 * O_TMPFILE, a named temporary file (PATH.tmp.PID) instead.
 */
int qn_ckpt_write(const char *path, const struct qn_ckpt *c, struct qn_err *err);
/*
 * Reads a checkpoint into c (which it initialises; release with
 * qn_ckpt_release).  name is used in messages.  On failure c holds
 * nothing to release.
 */
int qn_ckpt_read(const char *path, struct qn_ckpt *c, struct qn_err *err);
int qn_ckpt_read_fp(FILE *f, const char *name, struct qn_ckpt *c,
		    struct qn_err *err);
/* Frees what a read allocated (params, m, v, config_json). */
void qn_ckpt_release(struct qn_ckpt *c);

#endif
