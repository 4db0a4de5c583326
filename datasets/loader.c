/*
 * loader.c: the training reader of loader.h over the shards of one split.
 *
 * A shard set is its shards mapped and laid end to end: one sequence of
 * N tokens (end-of-text tokens included), so a window may begin in one
 * shard and end in the next.  A window is T+1 consecutive tokens: inputs
 * are its first T, targets its last T.
 *
 * Windows.  Sequential and shuffled loaders use the windows that start at
 * 0, T, 2T, ... while start + T + 1 <= N: W = (N - 1) / T of them, as
 * llm.c steps through its shards.  A document-aligned loader uses one
 * window per document, starting at the document's end-of-text token
 * (the index entries that begin a document), again only where T + 1
 * tokens remain.
 *
 * Order.  An epoch is nb = max(1, W / B) batches; batch i takes the
 * windows at slots i*B .. i*B+B-1 of the epoch's order, slot j meaning
 * window j mod W (so a set with fewer than B windows still fills a
 * batch).  Sequential order is the identity; shuffled order is a
 * permutation of 0..W-1 keyed by (seed, epoch): a 4-round Feistel network
 * over the smallest even number of bits covering W, walking the cycle
 * until the result is below W.  It needs no memory and no state beyond
 * (epoch, slot, seed), which is why the checkpointed state is three
 * integers and restoring it continues the exact sequence of batches.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"
#include "shard.h"

struct qn_shardset {
	struct qn_shard *shards;
	size_t n;
	uint64_t *start;	/* [n + 1]: each shard's first position in the set */
	uint64_t *doc_starts;	/* positions where a document begins (its EOT) */
	uint64_t ndoc_starts;
	struct qn_shardset_info info;
};

struct qn_loader {
	const struct qn_shardset *s;
	struct qn_loader_opts o;
	uint64_t W;		/* windows */
	uint64_t nb;		/* batches per epoch */
	struct qn_loader_state st;
	size_t cur;		/* shard of the last read, a search hint */
	uint32_t *win;		/* T + 1 tokens */
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Checks that shard i agrees with shard 0 and belongs to split. */
static int agree(const struct qn_shard *a, const struct qn_shard *b, enum qn_split split,
		 struct qn_err *err)
{
	if (!b->h.quern)
		return qn_err_set(err, QN_EFORMAT, "%s: not written by quern-shard: expected its header fields (vocabulary, end-of-text, tokenizer), found none",
				  b->path);
	if (b->h.split != (int)split)
		return qn_err_set(err, QN_EFORMAT, "%s: split: expected %s, found %s", b->path,
				  split == QN_SPLIT_VAL ? "val" : "train", b->h.split == QN_SHARD_VAL ? "val" : "train");
	if (a == b)
		return 0;
	if (a->h.vocab_size != b->h.vocab_size || a->h.eot != b->h.eot ||
	    a->h.token_bytes != b->h.token_bytes || memcmp(a->h.tok_hash, b->h.tok_hash, 16)) {
		char ha[33], hb[33];

		qn_shard_id_hex(a->h.tok_hash, ha);
		qn_shard_id_hex(b->h.tok_hash, hb);
		return qn_err_set(err, QN_EFORMAT, "%s: tokenizer: expected vocabulary %" PRIu32 ", end-of-text %" PRId64 ", hash %s as %s, found %" PRIu32 ", %" PRId64 ", %s",
				  b->path, a->h.vocab_size, a->h.eot, ha, a->path, b->h.vocab_size, b->h.eot, hb);
	}
	return 0;
}

int qn_shardset_open_files(const char *const *paths, size_t n,
			   enum qn_split split, struct qn_shardset **out,
			   struct qn_err *err)
{
	struct qn_shardset *s;
	size_t i;
	uint64_t j, nds = 0;
	int rc;

	*out = NULL;
	if (n == 0)
		return qn_err_set(err, QN_ENOTFOUND, "no %s shard", split == QN_SPLIT_VAL ? "val" : "train");
	s = qn_xcalloc(1, sizeof *s);
	s->shards = qn_xcalloc(n, sizeof *s->shards);
	s->start = qn_xcalloc(n + 1, sizeof *s->start);
	for (i = 0; i < n; i++) {
		rc = qn_shard_open(&s->shards[i], paths[i], err);
		if (rc)
			goto fail;
		s->n = i + 1;
		rc = agree(&s->shards[0], &s->shards[i], split, err);
		if (rc)
			goto fail;
		/* A piece continued from the previous shard needs one there. */
		if (s->shards[i].ndocs && (s->shards[i].docs[0].flags & QN_DOC_CONT) &&
		    (i == 0 || !s->shards[i - 1].ndocs ||
		     !(s->shards[i - 1].docs[s->shards[i - 1].ndocs - 1].flags & QN_DOC_MORE) ||
		     memcmp(s->shards[i - 1].docs[s->shards[i - 1].ndocs - 1].id, s->shards[i].docs[0].id, 16))) {
			rc = qn_err_set(err, QN_EFORMAT, "%s: its first document continues one from the previous shard: expected %s to end with it, found %s",
					paths[i], i ? paths[i - 1] : "a previous shard", i ? "another document" : "none");
			goto fail;
		}
		s->start[i + 1] = s->start[i] + s->shards[i].h.ntokens;
		for (j = 0; j < s->shards[i].ndocs; j++)
			if (!(s->shards[i].docs[j].flags & QN_DOC_CONT))
				nds++;
	}
	s->doc_starts = qn_xmalloc((nds ? nds : 1) * sizeof *s->doc_starts);
	for (i = 0; i < n; i++)
		for (j = 0; j < s->shards[i].ndocs; j++)
			if (!(s->shards[i].docs[j].flags & QN_DOC_CONT))
				s->doc_starts[s->ndoc_starts++] = s->start[i] + s->shards[i].docs[j].first;
	s->info.vocab_size = s->shards[0].h.vocab_size;
	s->info.eot = s->shards[0].h.eot;
	qn_shard_id_hex(s->shards[0].h.tok_hash, s->info.tokenizer_hash);
	s->info.tokens = s->start[n];
	s->info.docs = s->ndoc_starts;
	s->info.nshards = n;
	*out = s;
	return 0;
fail:
	qn_shardset_free(s);
	return rc;
}

/*
 * The shards of a split are those shards.meta lists for it, in its order;
 * without the file (a directory of shards copied by hand), the files
 * SPLIT_*.bin in name order.
 */
int qn_shardset_open(const char *dir, enum qn_split split,
		     struct qn_shardset **out, struct qn_err *err)
{
	struct qn_shard_meta m;
	char **paths = NULL;
	size_t n = 0, i;
	int rc;
	const char *sp = split == QN_SPLIT_VAL ? "val" : "train";

	*out = NULL;
	rc = qn_shard_meta_read(dir, &m, err);
	if (rc == 0) {
		if (strcmp(m.format, "llmc")) {
			rc = qn_err_set(err, QN_EFORMAT, "%s/%s: format: expected llmc for training, found %s",
					dir, QN_META_NAME, m.format);
			qn_shard_meta_release(&m);
			return rc;
		}
		paths = qn_xcalloc(m.nshards + 1, sizeof *paths);
		for (i = 0; i < m.nshards; i++)
			if (m.shards[i].split == (int)split)
				paths[n++] = qn_xasprintf("%s/%s", dir, m.shards[i].name);
		qn_shard_meta_release(&m);
	} else if (rc == QN_ENOTFOUND) {
		DIR *d = opendir(dir);
		struct dirent *e;
		size_t cap = 0, sl = strlen(sp);

		if (!d)
			return qn_err_set(err, QN_ENOTFOUND, "%s: cannot open the directory", dir);
		while ((e = readdir(d)) != NULL) {
			size_t l = strlen(e->d_name);

			if (l > sl + 5 && !strncmp(e->d_name, sp, sl) && e->d_name[sl] == '_' &&
			    !strcmp(e->d_name + l - 4, ".bin")) {
				if (n == cap) {
					cap = cap ? 2 * cap : 16;
					paths = qn_xrealloc(paths, cap * sizeof *paths);
				}
				paths[n++] = qn_xasprintf("%s/%s", dir, e->d_name);
			}
		}
		closedir(d);
		if (n)
			qsort(paths, n, sizeof *paths, cmp_str);
	} else {
		return rc;
	}
	if (n == 0)
		rc = qn_err_set(err, QN_ENOTFOUND, "%s: no %s shard", dir, sp);
	else
		rc = qn_shardset_open_files((const char *const *)paths, n, split, out, err);
	for (i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
	return rc;
}

void qn_shardset_info(const struct qn_shardset *s, struct qn_shardset_info *info)
{
	*info = s->info;
}

void qn_shardset_free(struct qn_shardset *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->n; i++)
		qn_shard_close(&s->shards[i]);
	free(s->shards);
	free(s->start);
	free(s->doc_starts);
	free(s);
}

/* ---- the order ---- */

static uint64_t feistel(uint64_t x, int half, uint64_t seed, uint64_t epoch)
{
	uint64_t mask = ((uint64_t)1 << half) - 1, l = x >> half, r = x & mask;
	int round;

	for (round = 0; round < 4; round++) {
		uint64_t f = qn_mix64(r ^ qn_mix64(seed ^ qn_mix64(epoch * 4 + (uint64_t)round + 0x9e3779b97f4a7c15ULL))) & mask;
		uint64_t t = l ^ f;

		l = r;
		r = t;
	}
	return l << half | r;
}

/* The window at slot j of epoch's order. */
static uint64_t window_at(const struct qn_loader *l, uint64_t epoch, uint64_t j)
{
	uint64_t k = j % l->W;

	if (l->o.shuffle && l->W > 1) {
		int bits = 1, half;

		while (bits < 64 && ((uint64_t)1 << bits) < l->W)
			bits++;
		half = (bits + 1) / 2;
		do
			k = feistel(k, half, l->st.seed, epoch);
		while (k >= l->W);
	}
	return l->o.doc_aligned ? l->s->doc_starts[k] : k * (uint64_t)l->o.T;
}

int qn_loader_new(const struct qn_shardset *s, const struct qn_loader_opts *o,
		  struct qn_loader **out, struct qn_err *err)
{
	struct qn_loader *l;
	uint64_t N = s->info.tokens, T;

	*out = NULL;
	if (o->B < 1 || o->T < 1)
		return qn_err_set(err, QN_EUSAGE, "batch size and sequence length must be positive, found B=%d T=%d",
				  o->B, o->T);
	T = (uint64_t)o->T;
	if (N < T + 1)
		return qn_err_set(err, QN_EINPUT, "%s: the set holds %" PRIu64 " tokens: expected at least T+1 = %" PRIu64,
				  s->shards[0].path, N, T + 1);
	l = qn_xcalloc(1, sizeof *l);
	l->s = s;
	l->o = *o;
	if (o->doc_aligned) {
		/* Document starts are increasing: count those with room for a window. */
		uint64_t lo = 0, hi = s->ndoc_starts;

		while (lo < hi) {
			uint64_t mid = lo + (hi - lo) / 2;

			if (s->doc_starts[mid] + T + 1 <= N)
				lo = mid + 1;
			else
				hi = mid;
		}
		l->W = lo;
		if (l->W == 0) {
			free(l);
			return qn_err_set(err, QN_EINPUT, "%s: no document starts %" PRIu64 " tokens before the end of the set",
					  s->shards[0].path, T + 1);
		}
	} else {
		l->W = (N - 1) / T;
	}
	l->nb = l->W / (uint64_t)o->B;
	if (l->nb == 0)
		l->nb = 1;
	l->st.seed = o->seed;
	l->win = qn_xmalloc((size_t)(T + 1) * sizeof *l->win);
	*out = l;
	return 0;
}

/* Copies the tokens [pos, pos + n) of the set into dst, checking each. */
static int copy_tokens(struct qn_loader *l, uint64_t pos, uint64_t n, uint32_t *dst,
		       struct qn_err *err)
{
	const struct qn_shardset *s = l->s;
	uint32_t V = s->info.vocab_size;

	while (n) {
		const struct qn_shard *sh;
		uint64_t off, take, i;
		size_t lo, hi;

		if (!(pos >= s->start[l->cur] && pos < s->start[l->cur + 1])) {
			lo = 0;
			hi = s->n;	/* find the last shard with start <= pos */
			while (hi - lo > 1) {
				size_t mid = (lo + hi) / 2;

				if (s->start[mid] <= pos)
					lo = mid;
				else
					hi = mid;
			}
			l->cur = lo;
			/* Skip empty shards. */
			while (l->cur + 1 < s->n && s->start[l->cur + 1] <= pos)
				l->cur++;
		}
		sh = &s->shards[l->cur];
		off = pos - s->start[l->cur];
		take = sh->h.ntokens - off;
		if (take > n)
			take = n;
		if (sh->h.token_bytes == 2) {
			const uint8_t *p = sh->tokens + 2 * off;

			for (i = 0; i < take; i++)
				dst[i] = (uint32_t)p[2 * i] | (uint32_t)p[2 * i + 1] << 8;
		} else {
			const uint8_t *p = sh->tokens + 4 * off;

			for (i = 0; i < take; i++)
				dst[i] = qn_le32(p + 4 * i);
		}
		for (i = 0; i < take; i++)
			if (dst[i] >= V)
				return qn_err_set(err, QN_EFORMAT, "%s: token %" PRIu64 ": expected an id below %" PRIu32 ", found %" PRIu32,
						  sh->path, off + i, V, dst[i]);
		dst += take;
		pos += take;
		n -= take;
	}
	return 0;
}

int qn_loader_next(struct qn_loader *l, int32_t *inputs, int32_t *targets,
		   struct qn_err *err)
{
	uint64_t T = (uint64_t)l->o.T, b, i;
	int rc;

	for (b = 0; b < (uint64_t)l->o.B; b++) {
		uint64_t start = window_at(l, l->st.epoch, l->st.pos + b);

		rc = copy_tokens(l, start, T + 1, l->win, err);
		if (rc)
			return rc;
		for (i = 0; i < T; i++) {
			inputs[b * T + i] = (int32_t)l->win[i];
			targets[b * T + i] = (int32_t)l->win[i + 1];
		}
	}
	l->st.pos += (uint64_t)l->o.B;
	if (l->st.pos >= l->nb * (uint64_t)l->o.B) {
		l->st.pos = 0;
		l->st.epoch++;
	}
	return 0;
}

void qn_loader_get_state(const struct qn_loader *l, struct qn_loader_state *st)
{
	*st = l->st;
}

int qn_loader_set_state(struct qn_loader *l, const struct qn_loader_state *st,
			struct qn_err *err)
{
	if (st->pos % (uint64_t)l->o.B || st->pos >= l->nb * (uint64_t)l->o.B)
		return qn_err_set(err, QN_EUSAGE, "loader state: position %" PRIu64 ": expected a multiple of B=%d below %" PRIu64 " (this set's windows per epoch)",
				  st->pos, l->o.B, l->nb * (uint64_t)l->o.B);
	l->st = *st;
	return 0;
}

void qn_loader_reset(struct qn_loader *l)
{
	l->st.epoch = 0;
	l->st.pos = 0;
}

uint64_t qn_loader_batches(const struct qn_loader *l)
{
	return l->nb;
}

void qn_loader_free(struct qn_loader *l)
{
	if (!l)
		return;
	free(l->win);
	free(l);
}
