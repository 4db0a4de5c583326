/*
 * t_loader: the training reader (datasets/loader.h) on shards written by
 * the packer, checked against the plain concatenation of the tokens:
 * sequential batches are the windows at 0, T, 2T, ... across shard
 * boundaries; a shuffled epoch visits each window once, in an order
 * that depends on the seed and the epoch; a saved and restored state
 * continues the identical sequence of batches; document-aligned windows
 * start at end-of-text tokens; the validation split reads apart; sets
 * that disagree or are too small are refused.
 */
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loader.h"
#include "shard.h"
#include "../tap.h"

enum { VOCAB = 70000, EOT = 69999 };

static uint32_t *ref;	/* the train split's tokens, in order */
static uint64_t nref;
static uint64_t *docstart;	/* positions of the train documents' EOTs */
static uint64_t ndocstart;

/* Packs ndocs documents into dir's split; the train tokens are kept in ref. */
static void make_split(const char *dir, const char *prefix, int split, int ndocs, uint8_t hashbyte,
		       struct qn_shard_meta *meta)
{
	struct qn_packer_opts o;
	struct qn_packer *p;
	struct qn_err err;
	uint32_t ids[400];
	int i, j, shards;

	memset(&o, 0, sizeof o);
	o.dir = dir;
	o.prefix = prefix;
	qn_shard_header_init(&o.proto, VOCAB);
	o.proto.eot = EOT;
	memset(o.proto.tok_hash, hashbyte, 16);
	o.proto.split = split;
	o.shard_tokens = 500;
	if (qn_packer_new(&o, &p, &err))
		abort();
	for (i = 0; i < ndocs; i++) {
		uint8_t id[16] = { (uint8_t)i, (uint8_t)(i >> 8), 7 };
		int n = (int)(tap_rand() % 300);

		for (j = 0; j < n; j++)
			ids[j] = (uint32_t)(tap_rand() % EOT);
		if (split == QN_SHARD_TRAIN && meta) {
			docstart[ndocstart++] = nref;
			ref[nref++] = EOT;
			memcpy(ref + nref, ids, (size_t)n * 4);
			nref += (uint64_t)n;
		}
		if (qn_packer_doc(p, id, ids, (size_t)n, &err))
			abort();
	}
	if (qn_packer_finish(p, &err))
		abort();
	qn_packer_free(p);
	if (!meta)
		return;
	for (shards = 0;; shards++) {
		char *path = qn_xasprintf("%s/%s_%06d.bin", dir, prefix, shards);
		char *name = strrchr(path, '/') + 1;
		struct qn_shard s;

		if (access(path, F_OK)) {
			free(path);
			break;
		}
		if (qn_shard_open(&s, path, &err))
			abort();
		qn_shard_meta_add(meta, name, split, s.h.ntokens, s.ndocs);
		qn_shard_close(&s);
		free(path);
	}
}

/* The window index whose tokens inputs[0..T) and targets are, or -1. */
static long find_window(const int32_t *in, const int32_t *tg, int T)
{
	uint64_t k, i;

	for (k = 0; (k + 1) * (uint64_t)T + 1 <= nref; k++) {
		for (i = 0; i < (uint64_t)T; i++)
			if ((uint32_t)in[i] != ref[k * T + i] || (uint32_t)tg[i] != ref[k * T + i + 1])
				break;
		if (i == (uint64_t)T)
			return (long)k;
	}
	return -1;
}

int main(void)
{
	struct qn_shardset *set, *val, *bad;
	struct qn_shardset_info info;
	struct qn_loader *l, *l2;
	struct qn_loader_opts o;
	struct qn_loader_state st;
	struct qn_shard_meta meta;
	struct qn_buf mb = QN_BUF_INIT;
	struct qn_err err;
	int B = 4, T = 16, i, b, mismatch, rc;
	int32_t in[4 * 16], tg[4 * 16], in2[4 * 16], tg2[4 * 16];
	uint64_t W, k, nb;
	char *seen;
	FILE *f;

	tap_tmpdir();
	ref = qn_xmalloc(400 * 401 * sizeof *ref);
	docstart = qn_xmalloc(400 * sizeof *docstart);
	memset(&meta, 0, sizeof meta);
	strcpy(meta.format, "llmc");
	meta.vocab_size = VOCAB;
	meta.eot = EOT;
	meta.token_bytes = 4;
	make_split(tap_dir, "train", QN_SHARD_TRAIN, 120, 0xab, &meta);
	make_split(tap_dir, "val", QN_SHARD_VAL, 20, 0xab, &meta);
	qn_shard_meta_format(&meta, &mb);
	f = fopen(tap_path("shards.meta"), "w");
	fwrite(mb.data, 1, mb.len, f);
	fclose(f);
	qn_buf_release(&mb);
	ok(meta.nshards > 10, "the set has %zu shards", meta.nshards);
	qn_shard_meta_release(&meta);

	rc = qn_shardset_open(tap_dir, QN_SPLIT_TRAIN, &set, &err);
	is_int(rc, 0, "train split opens");
	if (rc) {
		printf("# %s\n", err.msg);
		return done_testing();
	}
	qn_shardset_info(set, &info);
	ok(info.vocab_size == VOCAB && info.eot == EOT && info.tokens == nref && info.docs == 120 &&
	   !strcmp(info.tokenizer_hash, "abababababababababababababababab"), "info: vocabulary, EOT, tokens, documents, hash");

	/* Sequential: batch i holds windows i*B .. i*B+B-1. */
	memset(&o, 0, sizeof o);
	o.B = B;
	o.T = T;
	is_int(qn_loader_new(set, &o, &l, &err), 0, "sequential loader");
	W = (nref - 1) / (uint64_t)T;
	nb = qn_loader_batches(l);
	is_int(nb, W / (uint64_t)B, "batches per epoch: (N-1)/T windows over B");
	mismatch = 0;
	for (k = 0; k < nb + 3; k++) {
		uint64_t e = k % nb;

		if (qn_loader_next(l, in, tg, &err))
			mismatch++;
		for (b = 0; b < B; b++)
			for (i = 0; i < T; i++) {
				uint64_t pos = (e * B + (uint64_t)b) * (uint64_t)T + (uint64_t)i;

				if ((uint32_t)in[b * T + i] != ref[pos] || (uint32_t)tg[b * T + i] != ref[pos + 1])
					mismatch++;
			}
	}
	is_int(mismatch, 0, "sequential batches equal the concatenated tokens, across shard boundaries and into epoch 2");
	qn_loader_get_state(l, &st);
	ok(st.epoch == 1 && st.pos == 3 * (uint64_t)B, "state after one epoch and 3 batches: epoch 1, pos 12");
	qn_loader_reset(l);
	qn_loader_next(l, in, tg, &err);
	ok((uint32_t)in[0] == ref[0] && (uint32_t)in[T] == ref[T], "reset goes back to the first window");
	qn_loader_free(l);

	/* Shuffled: one epoch is a permutation of windows. */
	o.shuffle = 1;
	o.seed = 1234;
	is_int(qn_loader_new(set, &o, &l, &err), 0, "shuffled loader");
	seen = qn_xcalloc(W, 1);
	mismatch = 0;
	{
		long first[4] = { 0 }, second[4] = { 0 };

		for (k = 0; k < nb; k++) {
			qn_loader_next(l, in, tg, &err);
			for (b = 0; b < B; b++) {
				long w = find_window(in + b * T, tg + b * T, T);

				if (w < 0 || seen[w])
					mismatch++;
				else
					seen[w] = 1;
				if (k == 0)
					first[b] = w;
			}
		}
		is_int(mismatch, 0, "one shuffled epoch visits %llu distinct windows", (unsigned long long)(nb * B));
		qn_loader_next(l, in, tg, &err);
		for (b = 0; b < B; b++)
			second[b] = find_window(in + b * T, tg + b * T, T);
		ok(memcmp(first, second, sizeof first) != 0, "the next epoch has another order");
		ok(!(first[0] == 0 && first[1] == 1 && first[2] == 2), "the order is not sequential");
	}
	free(seen);

	/* Another seed, another order; the same seed, the same order. */
	o.seed = 99;
	is_int(qn_loader_new(set, &o, &l2, &err), 0, "second shuffled loader");
	qn_loader_reset(l);
	qn_loader_next(l, in, tg, &err);
	qn_loader_next(l2, in2, tg2, &err);
	ok(memcmp(in, in2, sizeof in) != 0, "another seed gives another first batch");
	qn_loader_free(l2);
	o.seed = 1234;
	qn_loader_new(set, &o, &l2, &err);
	qn_loader_next(l2, in2, tg2, &err);
	ok(memcmp(in, in2, sizeof in) == 0 && memcmp(tg, tg2, sizeof tg) == 0, "the same seed gives the same first batch");

	/* Save after some batches, restore in a new loader: the same sequence. */
	for (k = 0; k < nb - 2; k++)
		qn_loader_next(l, in, tg, &err);
	qn_loader_get_state(l, &st);
	qn_loader_free(l2);
	o.seed = 5;	/* the state's seed wins */
	qn_loader_new(set, &o, &l2, &err);
	is_int(qn_loader_set_state(l2, &st, &err), 0, "state restored in a new loader");
	mismatch = 0;
	for (k = 0; k < 6; k++) {	/* crosses into the next epoch */
		qn_loader_next(l, in, tg, &err);
		qn_loader_next(l2, in2, tg2, &err);
		if (memcmp(in, in2, sizeof in) || memcmp(tg, tg2, sizeof tg))
			mismatch++;
	}
	is_int(mismatch, 0, "the restored loader gives the identical batches, across an epoch boundary");
	st.pos = 3;
	is_int(qn_loader_set_state(l2, &st, &err), QN_EUSAGE, "a position not a multiple of B is refused");
	st.pos = nb * B;
	is_int(qn_loader_set_state(l2, &st, &err), QN_EUSAGE, "a position past the epoch is refused");
	qn_loader_free(l);
	qn_loader_free(l2);

	/* Document-aligned: every window starts at an EOT that begins a document. */
	o.shuffle = 1;
	o.doc_aligned = 1;
	is_int(qn_loader_new(set, &o, &l, &err), 0, "document-aligned loader");
	mismatch = 0;
	for (k = 0; k < qn_loader_batches(l); k++) {
		qn_loader_next(l, in, tg, &err);
		for (b = 0; b < B; b++) {
			uint64_t d;
			int found = 0;

			for (d = 0; d < ndocstart && !found; d++) {
				uint64_t s = docstart[d];

				if (s + (uint64_t)T + 1 > nref)
					continue;
				for (i = 0; i < T; i++)
					if ((uint32_t)in[b * T + i] != ref[s + i] || (uint32_t)tg[b * T + i] != ref[s + i + 1])
						break;
				found = i == T;
			}
			if (!found || in[b * T] != EOT)
				mismatch++;
		}
	}
	is_int(mismatch, 0, "every document-aligned window is a document's EOT and what follows");
	{
		uint64_t d, wd = 0;

		for (d = 0; d < ndocstart; d++)
			wd += docstart[d] + (uint64_t)T + 1 <= nref;
		is_int(qn_loader_batches(l), wd / (uint64_t)B, "batches per epoch: documents with room for a window, over B");
	}
	qn_loader_free(l);

	/* Validation split. */
	is_int(qn_shardset_open(tap_dir, QN_SPLIT_VAL, &val, &err), 0, "val split opens");
	qn_shardset_info(val, &info);
	ok(info.docs == 20 && info.tokens < nref, "val: 20 documents, apart from train");
	o.shuffle = 0;
	o.doc_aligned = 0;
	is_int(qn_loader_new(val, &o, &l, &err), 0, "val loader");
	qn_loader_next(l, in, tg, &err);
	ok(in[0] == EOT && find_window(in, tg, T) != 0, "val starts at its own first document");
	qn_loader_free(l);
	qn_shardset_free(val);

	/* Too few tokens. */
	o.T = (int)nref;
	is_int(qn_loader_new(set, &o, &l, &err), QN_EINPUT, "T+1 past the set's tokens is refused");
	qn_shardset_free(set);

	/* A shard of another tokenizer, a val shard in a train list, a truncated shard. */
	{
		char d2[600];
		const char *paths[2];
		char *other;
		int sh;

		snprintf(d2, sizeof d2, "%s/other", tap_dir);
		mkdir(d2, 0755);
		make_split(d2, "train", QN_SHARD_TRAIN, 3, 0xcd, NULL);
		paths[0] = tap_path("train_000000.bin");
		other = qn_xasprintf("%s/train_000000.bin", d2);
		paths[1] = other;
		is_int(qn_shardset_open_files(paths, 2, QN_SPLIT_TRAIN, &bad, &err), QN_EFORMAT,
		       "shards of two tokenizers are refused");
		ok(strstr(err.msg, "tokenizer: expected") != NULL, "message: %s", err.msg);
		paths[1] = tap_path("val_000000.bin");
		is_int(qn_shardset_open_files(paths, 2, QN_SPLIT_TRAIN, &bad, &err), QN_EFORMAT,
		       "a val shard in a train list is refused");
		ok(strstr(err.msg, "split: expected train, found val") != NULL, "message: %s", err.msg);
		for (sh = 1; sh < 20; sh++) {
			struct qn_shard s;
			char name[32];

			snprintf(name, sizeof name, "train_%06d.bin", sh);
			paths[0] = tap_path(name);
			if (qn_shard_open(&s, paths[0], &err) == 0 && (s.docs[0].flags & QN_DOC_CONT)) {
				qn_shard_close(&s);
				break;
			}
			qn_shard_close(&s);
		}
		is_int(qn_shardset_open_files(paths, 1, QN_SPLIT_TRAIN, &bad, &err), QN_EFORMAT,
		       "a shard that continues a document on its own is refused");
		is_int(qn_shardset_open(d2, QN_SPLIT_VAL, &bad, &err), QN_ENOTFOUND, "no val shard: not found");
		is_int(qn_shardset_open(d2, QN_SPLIT_TRAIN, &bad, &err), 0, "without shards.meta the files are found by name");
		qn_shardset_free(bad);
		truncate(tap_path("train_000003.bin"), 1500);
		is_int(qn_shardset_open(tap_dir, QN_SPLIT_TRAIN, &bad, &err), QN_EFORMAT, "a truncated shard is refused");
		ok(strstr(err.msg, "train_000003.bin: size: expected") != NULL, "message names it: %s", err.msg);
		free(other);
	}
	free(ref);
	free(docstart);
	tap_cleanup();
	return done_testing();
}
