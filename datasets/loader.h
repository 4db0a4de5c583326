/*
 * loader.h: reading token shards for training.
 *
 * The contract between the datasets library (datasets/, issue 6) and the
 * trainer (trainer/, issue 7).  Shards are memory-mapped; a loader yields
 * batches of B x T inputs and their targets (the next tokens), in
 * sequential or seeded shuffled order over all shards of a split.  Its
 * position is a small fixed-size state that a checkpoint saves and
 * restores exactly.  The shard and index formats are in quern-shard(5).
 */
#ifndef QN_LOADER_H
#define QN_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum qn_split { QN_SPLIT_TRAIN, QN_SPLIT_VAL };

struct qn_shardset;

/* What every shard of a set agrees on (checked when opening). */
struct qn_shardset_info {
	uint32_t vocab_size;		/* the tokenizer's, not padded */
	int64_t eot;			/* end-of-text id written before each document */
	char tokenizer_hash[33];	/* qn_tok_hash of the tokenizer used */
	uint64_t tokens;		/* tokens in the set, EOTs included */
	uint64_t docs;			/* documents in the set */
	size_t nshards;
};

/*
 * Opens the shards of one split in a directory written by quern-shard,
 * checking headers, sizes and indexes (QN_EFORMAT naming the file and
 * what is wrong).  QN_ENOTFOUND when the split has no shard.
 */
int qn_shardset_open(const char *dir, enum qn_split split,
		     struct qn_shardset **out, struct qn_err *err);
/* The same from an explicit list of shard files (a tagged snapshot). */
int qn_shardset_open_files(const char *const *paths, size_t n,
			   enum qn_split split, struct qn_shardset **out,
			   struct qn_err *err);
void qn_shardset_info(const struct qn_shardset *s, struct qn_shardset_info *info);
void qn_shardset_free(struct qn_shardset *s);

struct qn_loader_opts {
	int B, T;		/* batch rows and sequence length */
	uint64_t seed;		/* shuffle seed */
	int shuffle;		/* 0: sequential windows; 1: seeded order */
	int doc_aligned;	/* 1: every window starts at a document's EOT */
};

/* The position: restoring it continues the exact sequence of batches. */
struct qn_loader_state {
	uint64_t epoch;		/* completed passes over the set */
	uint64_t pos;		/* next window in this epoch's order */
	uint64_t seed;
};

struct qn_loader;

int qn_loader_new(const struct qn_shardset *s, const struct qn_loader_opts *o,
		  struct qn_loader **out, struct qn_err *err);
/*
 * Fills inputs[B*T] and targets[B*T] (targets[i] is the token after
 * inputs[i]).  Wraps to the next epoch (a new order when shuffled) at the
 * end of the set.  QN_EINPUT when the set holds fewer than T+1 tokens.
 */
int qn_loader_next(struct qn_loader *l, int32_t *inputs, int32_t *targets,
		   struct qn_err *err);
void qn_loader_get_state(const struct qn_loader *l, struct qn_loader_state *st);
int qn_loader_set_state(struct qn_loader *l, const struct qn_loader_state *st,
			struct qn_err *err);
/* Back to the start of epoch 0 (validation passes start here each time). */
void qn_loader_reset(struct qn_loader *l);
/* Windows per epoch (the number of next calls before wrapping). */
uint64_t qn_loader_batches(const struct qn_loader *l);
void qn_loader_free(struct qn_loader *l);

#endif
