/*
 * tok.c: the byte-level BPE tokenizer: tables, encoding, decoding, hash.
 *
 * The model is in tok_impl.h.  Speed comes from three places:
 *  - the pair table maps two ids to (priority, result) with one multiply
 *    and usually one probe, so a merge step never hashes bytes;
 *  - a piece that is itself a token (most words) is one lookup;
 *  - each encoder caches the ids of the pieces it has seen (bounded,
 *    cleared when full), so frequent multi-token words are merged once.
 * Merging a piece rescans its pairs for the lowest priority after each
 * merge, as tiktoken does, while it is short; a long piece (1 MB of text
 * without a space is one piece under the gpt2 pattern) goes through a
 * binary heap of (priority, position) over a linked list of parts, so it
 * costs O(n log n) where tiktoken's rescans cost O(n^2).  Both pick the
 * lowest priority and, among equals, the leftmost pair, so they give the
 * same ids; t_tok checks both against the plain reference.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "hash.h"
#include "tok_impl.h"

#define SMALL_PIECE 64		/* longer pieces merge through the heap */
#define CACHE_SLOTS 65536	/* per encoder; power of two */
#define CACHE_BYTES (4u << 20)	/* arena bound; cleared when reached */
#define CACHE_MAX_PIECE 256

void qn_ids_reserve(struct qn_ids *ids, size_t more)
{
	if (ids->n + more <= ids->cap)
		return;
	size_t c = ids->cap ? ids->cap : 256;

	while (c < ids->n + more)
		c *= 2;
	ids->v = qn_xrealloc(ids->v, c * sizeof *ids->v);
	ids->cap = c;
}

void qn_ids_free(struct qn_ids *ids)
{
	if (!ids)
		return;
	free(ids->v);
	ids->v = NULL;
	ids->n = ids->cap = 0;
}

static inline void ids_push(struct qn_ids *ids, uint32_t v)
{
	if (ids->n == ids->cap)
		qn_ids_reserve(ids, 1);
	ids->v[ids->n++] = v;
}

/* ---- tables ---- */

static inline uint64_t bytes_hash(const void *b, size_t n)
{
	return XXH3_64bits(b, n);
}

int64_t qn_tok_lookup(const struct qn_tok *t, const void *b, size_t n)
{
	size_t i = (size_t)bytes_hash(b, n) & t->tab_mask;

	for (;;) {
		uint32_t v = t->tab[i];

		if (!v)
			return -1;
		v--;
		if (t->off[v + 1] - t->off[v] == n && !memcmp(t->blob + t->off[v], b, n))
			return v;
		i = (i + 1) & t->tab_mask;
	}
}

static void pair_grow(struct qn_tok *t, size_t slots)
{
	uint64_t *ok = t->pkey, *ov = t->pval;
	size_t oslots = ok ? t->pmask + 1 : 0;
	int shift = 64;

	for (size_t s = slots; s > 1; s >>= 1)
		shift--;
	t->pkey = qn_xmalloc(slots * sizeof *t->pkey);
	t->pval = qn_xmalloc(slots * sizeof *t->pval);
	memset(t->pkey, 0xff, slots * sizeof *t->pkey);
	t->pmask = slots - 1;
	t->pshift = shift;
	for (size_t i = 0; i < oslots; i++) {
		if (ok[i] == QN_TOK_NOPAIR)
			continue;
		size_t j = (size_t)((ok[i] * 0x9E3779B97F4A7C15ULL) >> t->pshift);

		while (t->pkey[j] != QN_TOK_NOPAIR)
			j = (j + 1) & t->pmask;
		t->pkey[j] = ok[i];
		t->pval[j] = ov[i];
	}
	free(ok);
	free(ov);
}

/* Sets the pair (a, b); overwrite: replace an existing entry (later merges
 * win in Hugging Face's map), else keep it. */
static void pair_set(struct qn_tok *t, size_t *count, uint32_t a, uint32_t b,
		     uint32_t prio, uint32_t res, int overwrite)
{
	uint64_t k = (uint64_t)a << 32 | b;

	if (2 * (*count + 1) > t->pmask + 1)
		pair_grow(t, 2 * (t->pmask + 1));
	size_t i = (size_t)((k * 0x9E3779B97F4A7C15ULL) >> t->pshift);

	while (t->pkey[i] != QN_TOK_NOPAIR && t->pkey[i] != k)
		i = (i + 1) & t->pmask;
	if (t->pkey[i] == k && !overwrite)
		return;
	if (t->pkey[i] != k)
		(*count)++;
	t->pkey[i] = k;
	t->pval[i] = (uint64_t)prio << 32 | res;
}

static int cmp_special(const void *a, const void *b, void *arg)
{
	const struct qn_tok *t = arg;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	size_t lx = t->off[x + 1] - t->off[x], ly = t->off[y + 1] - t->off[y];

	if (lx != ly)
		return lx > ly ? -1 : 1;
	return x < y ? -1 : x > y;
}

static void compute_hash(struct qn_tok *t)
{
	struct qn_hasher *h = qn_hasher_new();
	struct qn_buf b = QN_BUF_INIT;

	qn_buf_appendf(&b, "quern-tok 1\nmode %s\nwhole_first %d\nvocab %u\npattern %zu\n",
		       t->mode == QN_TOK_RANKS ? "ranks" : "merges", t->whole_first,
		       t->vocab, strlen(t->pattern));
	qn_hasher_update(h, b.data, b.len);
	qn_hasher_update(h, t->pattern, strlen(t->pattern));
	for (uint32_t i = 0; i < t->vocab; i++) {
		uint64_t len = t->off[i + 1] - t->off[i];
		uint8_t k = t->kind[i];

		qn_hasher_update(h, &k, 1);
		qn_hasher_update(h, &len, sizeof len);
		qn_hasher_update(h, t->blob + t->off[i], len);
	}
	if (t->mode == QN_TOK_MERGES)
		qn_hasher_update(h, t->merges, t->nmerges * 2 * sizeof *t->merges);
	qn_hash_hex(qn_hasher_digest(h), t->hash);
	qn_hasher_free(h);
	qn_buf_release(&b);
}

int qn_tok_build(const struct qn_tok_part *tokens, size_t n,
		 const struct qn_tok_part *specials, size_t ns,
		 const uint32_t *merges, size_t nmerges, int whole_first,
		 const char *pattern, struct qn_tok **out, struct qn_err *err)
{
	struct qn_tok *t = qn_xcalloc(1, sizeof *t);
	uint32_t maxid = 0;
	size_t total = 0, npairs = 0;
	int rc;

	*out = NULL;
	if (n == 0)
		return qn_err_set(err, QN_EFORMAT, "no tokens"), free(t), QN_EFORMAT;
	for (size_t i = 0; i < n; i++) {
		if (tokens[i].id > maxid)
			maxid = tokens[i].id;
		total += tokens[i].len;
	}
	for (size_t i = 0; i < ns; i++) {
		if (specials[i].id > maxid)
			maxid = specials[i].id;
		total += specials[i].len;
	}
	if (maxid >= UINT32_MAX - 1 || maxid > (1u << 26)) {
		qn_tok_free(t);
		return qn_err_set(err, QN_EFORMAT, "id %u is too large", maxid);
	}
	t->vocab = maxid + 1;
	t->mode = merges ? QN_TOK_MERGES : QN_TOK_RANKS;
	t->whole_first = whole_first;
	t->kind = qn_xcalloc(t->vocab, 1);
	t->off = qn_xcalloc((size_t)t->vocab + 1, sizeof *t->off);
	t->blob = qn_xmalloc(total + 1);
	t->pattern = qn_xstrdup(pattern);

	/* lengths first, then prefix sums, then the bytes */
	size_t *len = qn_xcalloc(t->vocab, sizeof *len);
	for (size_t i = 0; i < n + ns; i++) {
		const struct qn_tok_part *p = i < n ? &tokens[i] : &specials[i - n];

		if (t->kind[p->id]) {
			rc = qn_err_set(err, QN_EFORMAT, "id %u is given twice", p->id);
			goto fail;
		}
		if (p->len == 0) {
			rc = qn_err_set(err, QN_EFORMAT, "id %u is empty", p->id);
			goto fail;
		}
		t->kind[p->id] = i < n ? QN_TOK_ORD : QN_TOK_SPECIAL;
		len[p->id] = p->len;
	}
	for (uint32_t i = 0; i < t->vocab; i++)
		t->off[i + 1] = t->off[i] + len[i];
	for (size_t i = 0; i < n + ns; i++) {
		const struct qn_tok_part *p = i < n ? &tokens[i] : &specials[i - n];

		memcpy(t->blob + t->off[p->id], p->b, p->len);
	}

	/* bytes -> id for ordinary tokens */
	size_t slots = 1024;
	while (slots < 2 * n)
		slots *= 2;
	t->tab = qn_xcalloc(slots, sizeof *t->tab);
	t->tab_mask = slots - 1;
	for (size_t k = 0; k < n; k++) {
		uint32_t id = tokens[k].id;
		const uint8_t *b = t->blob + t->off[id];
		size_t i = (size_t)bytes_hash(b, len[id]) & t->tab_mask;

		while (t->tab[i]) {
			uint32_t o = t->tab[i] - 1;

			if (len[o] == len[id] && !memcmp(t->blob + t->off[o], b, len[id])) {
				rc = qn_err_set(err, QN_EFORMAT, "ids %u and %u have the same bytes", o, id);
				goto fail;
			}
			i = (i + 1) & t->tab_mask;
		}
		t->tab[i] = id + 1;
	}
	/*
	 * A byte-level vocabulary has a token for every byte, but Hugging
	 * Face's trainer keeps only the bytes its corpus had: such a
	 * tokenizer loads, and text with a byte it lacks fails to encode.
	 */
	for (int c = 0; c < 256; c++) {
		uint8_t b = (uint8_t)c;
		int64_t id = qn_tok_lookup(t, &b, 1);

		t->byte_id[c] = id < 0 ? UINT32_MAX : (uint32_t)id;
		t->nmissing += id < 0;
	}
	if (t->nmissing == 256) {
		rc = qn_err_set(err, QN_EFORMAT, "no token for any single byte (not a byte-level vocabulary)");
		goto fail;
	}

	/* the pair table */
	pair_grow(t, 4096);
	if (!merges) {
		for (size_t k = 0; k < n; k++) {
			uint32_t id = tokens[k].id;
			const uint8_t *b = t->blob + t->off[id];

			for (size_t s = 1; s < len[id]; s++) {
				int64_t a = qn_tok_lookup(t, b, s), c;

				if (a < 0 || (c = qn_tok_lookup(t, b + s, len[id] - s)) < 0)
					continue;
				pair_set(t, &npairs, (uint32_t)a, (uint32_t)c, id, id, 0);
			}
		}
	} else {
		struct qn_buf cat = QN_BUF_INIT;

		t->merges = qn_xmalloc((nmerges ? nmerges : 1) * 2 * sizeof *t->merges);
		t->nmerges = nmerges;
		memcpy(t->merges, merges, nmerges * 2 * sizeof *merges);
		for (size_t k = 0; k < nmerges; k++) {
			uint32_t a = merges[2 * k], b = merges[2 * k + 1];
			int64_t r;

			if (a >= t->vocab || b >= t->vocab || t->kind[a] != QN_TOK_ORD ||
			    t->kind[b] != QN_TOK_ORD) {
				qn_buf_release(&cat);
				rc = qn_err_set(err, QN_EFORMAT, "merge %zu: not two ordinary tokens", k);
				goto fail;
			}
			qn_buf_set(&cat, t->blob + t->off[a], len[a]);
			qn_buf_append(&cat, t->blob + t->off[b], len[b]);
			r = qn_tok_lookup(t, cat.data, cat.len);
			if (r < 0) {
				qn_buf_release(&cat);
				rc = qn_err_set(err, QN_EFORMAT, "merge %zu: the result is not in the vocabulary", k);
				goto fail;
			}
			pair_set(t, &npairs, a, b, (uint32_t)k, (uint32_t)r, 1);
		}
		qn_buf_release(&cat);
	}

	/* specials, longest first */
	t->special = qn_xmalloc((ns ? ns : 1) * sizeof *t->special);
	t->nspecial = (uint32_t)ns;
	for (size_t i = 0; i < ns; i++)
		t->special[i] = specials[i].id;
	qsort_r(t->special, ns, sizeof *t->special, cmp_special, t);

	if ((rc = qn_pretok_new(pattern, &t->pre, err)))
		goto fail;
	compute_hash(t);
	free(len);
	*out = t;
	return 0;
fail:
	free(len);
	qn_tok_free(t);
	return rc;
}

void qn_tok_free(struct qn_tok *t)
{
	if (!t)
		return;
	free(t->kind);
	free(t->off);
	free(t->blob);
	free(t->tab);
	free(t->pkey);
	free(t->pval);
	free(t->merges);
	free(t->special);
	free(t->pattern);
	qn_pretok_free(t->pre);
	free(t);
}

uint32_t qn_tok_vocab_size(const struct qn_tok *t)
{
	return t->vocab;
}

int64_t qn_tok_special(const struct qn_tok *t, const char *text)
{
	size_t n = strlen(text);

	for (uint32_t i = 0; i < t->nspecial; i++) {
		uint32_t id = t->special[i];

		if (t->off[id + 1] - t->off[id] == n && !memcmp(t->blob + t->off[id], text, n))
			return id;
	}
	return -1;
}

int64_t qn_tok_eot(const struct qn_tok *t)
{
	return qn_tok_special(t, "<|endoftext|>");
}

const char *qn_tok_hash(const struct qn_tok *t)
{
	return t->hash;
}

const uint8_t *qn_tok_bytes(const struct qn_tok *t, uint32_t id, size_t *len)
{
	if (id >= t->vocab || t->kind[id] == QN_TOK_UNUSED) {
		if (len)
			*len = 0;
		return NULL;
	}
	if (len)
		*len = t->off[id + 1] - t->off[id];
	return t->blob + t->off[id];
}

int qn_tok_decode(const struct qn_tok *t, const uint32_t *ids, size_t n,
		  struct qn_buf *out, struct qn_err *err)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t id = ids[i];

		if (id >= t->vocab || t->kind[id] == QN_TOK_UNUSED)
			return qn_err_set(err, QN_EINPUT, "id %u is not in the vocabulary", id);
		qn_buf_append(out, t->blob + t->off[id], t->off[id + 1] - t->off[id]);
	}
	return 0;
}

/* ---- encoding ---- */

struct cache_slot {
	uint64_t h;
	uint32_t off;	/* piece bytes at arena+off, then nids uint32 ids (aligned) */
	uint16_t len, nids;
};

struct heap_ent {
	uint64_t pv;
	uint32_t pos, ver;
};

struct qn_tok_enc {
	const struct qn_tok *t;
	int missing;		/* the byte without a token that stopped encoding, or -1 */
	struct qn_pretok_state *ps;
	struct qn_ids *out;
	/* merge scratch */
	uint32_t *id, *nxt, *prv, *ver;
	uint64_t *pv;
	size_t cap;
	struct heap_ent *heap;
	size_t heapcap;
	/* piece cache */
	struct cache_slot *slot;
	size_t used;
	uint8_t *arena;
	size_t narena;
};

struct qn_tok_enc *qn_tok_enc_new(const struct qn_tok *t)
{
	struct qn_tok_enc *e = qn_xcalloc(1, sizeof *e);

	e->t = t;
	e->ps = qn_pretok_state_new(t->pre);
	e->slot = qn_xcalloc(CACHE_SLOTS, sizeof *e->slot);
	e->arena = qn_xmalloc(CACHE_BYTES);
	return e;
}

void qn_tok_enc_free(struct qn_tok_enc *e)
{
	if (!e)
		return;
	qn_pretok_state_free(e->ps);
	free(e->id);
	free(e->nxt);
	free(e->prv);
	free(e->ver);
	free(e->pv);
	free(e->heap);
	free(e->slot);
	free(e->arena);
	free(e);
}

static void scratch(struct qn_tok_enc *e, size_t n)
{
	if (n <= e->cap)
		return;
	size_t c = e->cap ? e->cap : 256;

	while (c < n)
		c *= 2;
	e->id = qn_xrealloc(e->id, c * sizeof *e->id);
	e->nxt = qn_xrealloc(e->nxt, c * sizeof *e->nxt);
	e->prv = qn_xrealloc(e->prv, c * sizeof *e->prv);
	e->ver = qn_xrealloc(e->ver, c * sizeof *e->ver);
	e->pv = qn_xrealloc(e->pv, c * sizeof *e->pv);
	e->cap = c;
}

/* Rescanning merge of a short piece into e->id[0..return). */
static size_t merge_small(struct qn_tok_enc *e, const uint8_t *p, size_t n)
{
	const struct qn_tok *t = e->t;
	uint32_t *id = e->id;
	uint64_t *pv = e->pv;
	size_t m = n;

	for (size_t i = 0; i < n; i++)
		id[i] = t->byte_id[p[i]];
	for (size_t i = 0; i + 1 < n; i++)
		pv[i] = qn_tok_pair(t, id[i], id[i + 1]);
	while (m > 1) {
		uint64_t best = QN_TOK_NOPAIR;
		size_t bi = 0;

		for (size_t i = 0; i + 1 < m; i++)
			if (pv[i] < best) {
				best = pv[i];
				bi = i;
			}
		if (best == QN_TOK_NOPAIR)
			break;
		id[bi] = (uint32_t)best;
		if (bi + 2 < m) {
			memmove(id + bi + 1, id + bi + 2, (m - bi - 2) * sizeof *id);
			memmove(pv + bi + 1, pv + bi + 2, (m - bi - 2) * sizeof *pv);
		}
		m--;
		if (bi + 1 < m)
			pv[bi] = qn_tok_pair(t, id[bi], id[bi + 1]);
		if (bi > 0)
			pv[bi - 1] = qn_tok_pair(t, id[bi - 1], id[bi]);
	}
	return m;
}

static inline int heap_less(const struct heap_ent *a, const struct heap_ent *b)
{
	return a->pv < b->pv || (a->pv == b->pv && a->pos < b->pos);
}

static void heap_push(struct qn_tok_enc *e, size_t *hn, uint64_t pv, uint32_t pos, uint32_t ver)
{
	if (*hn == e->heapcap) {
		e->heapcap = e->heapcap ? 2 * e->heapcap : 1024;
		e->heap = qn_xrealloc(e->heap, e->heapcap * sizeof *e->heap);
	}
	struct heap_ent x = { pv, pos, ver };
	size_t i = (*hn)++;

	while (i > 0) {
		size_t up = (i - 1) / 2;

		if (!heap_less(&x, &e->heap[up]))
			break;
		e->heap[i] = e->heap[up];
		i = up;
	}
	e->heap[i] = x;
}

static struct heap_ent heap_pop(struct qn_tok_enc *e, size_t *hn)
{
	struct heap_ent top = e->heap[0], x = e->heap[--(*hn)];
	size_t i = 0, n = *hn;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && heap_less(&e->heap[c + 1], &e->heap[c]))
			c++;
		if (!heap_less(&e->heap[c], &x))
			break;
		e->heap[i] = e->heap[c];
		i = c;
	}
	if (n)
		e->heap[i] = x;
	return top;
}

#define DEAD UINT32_MAX

/* Heap merge of a long piece into e->id[0..return) (see the top). */
static size_t merge_large(struct qn_tok_enc *e, const uint8_t *p, size_t n)
{
	const struct qn_tok *t = e->t;
	uint32_t *id = e->id, *nxt = e->nxt, *prv = e->prv, *ver = e->ver;
	size_t hn = 0, m = 0;

	for (size_t i = 0; i < n; i++) {
		id[i] = t->byte_id[p[i]];
		nxt[i] = i + 1 < n ? (uint32_t)(i + 1) : DEAD;
		prv[i] = i > 0 ? (uint32_t)(i - 1) : DEAD;
		ver[i] = 0;
	}
	for (size_t i = 0; i + 1 < n; i++) {
		uint64_t v = qn_tok_pair(t, id[i], id[i + 1]);

		if (v != QN_TOK_NOPAIR)
			heap_push(e, &hn, v, (uint32_t)i, 0);
	}
	while (hn) {
		struct heap_ent x = heap_pop(e, &hn);
		uint32_t i = x.pos, j, k, q;

		if (id[i] == DEAD || ver[i] != x.ver)
			continue;
		j = nxt[i];
		id[i] = (uint32_t)x.pv;
		id[j] = DEAD;
		ver[j]++;
		k = nxt[j];
		nxt[i] = k;
		if (k != DEAD)
			prv[k] = i;
		ver[i]++;
		if (k != DEAD) {
			uint64_t v = qn_tok_pair(t, id[i], id[k]);

			if (v != QN_TOK_NOPAIR)
				heap_push(e, &hn, v, i, ver[i]);
		}
		q = prv[i];
		if (q != DEAD) {
			uint64_t v = qn_tok_pair(t, id[q], id[i]);

			ver[q]++;
			if (v != QN_TOK_NOPAIR)
				heap_push(e, &hn, v, q, ver[q]);
		}
	}
	for (uint32_t i = 0; i != DEAD; i = nxt[i])
		id[m++] = id[i];
	return m;
}

static void cache_clear(struct qn_tok_enc *e)
{
	memset(e->slot, 0, CACHE_SLOTS * sizeof *e->slot);
	e->used = 0;
	e->narena = 0;
}

static int missing_byte(struct qn_tok_enc *e, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (e->t->byte_id[p[i]] == UINT32_MAX) {
			e->missing = p[i];
			return -1;
		}
	return 0;
}

int qn_tok_encode_piece(struct qn_tok_enc *e, const uint8_t *p, size_t n, struct qn_ids *ids)
{
	const struct qn_tok *t = e->t;
	uint64_t h = 0;
	size_t si = 0, m;
	int cacheable;

	if (n == 0)
		return 0;
	if (t->nmissing && missing_byte(e, p, n))
		return -1;
	if (n == 1) {
		ids_push(ids, t->byte_id[p[0]]);
		return 0;
	}
	cacheable = n <= CACHE_MAX_PIECE;
	if (cacheable || t->whole_first) {
		h = bytes_hash(p, n);
		if (t->whole_first) {
			size_t i = (size_t)h & t->tab_mask;

			for (;;) {
				uint32_t v = t->tab[i];

				if (!v)
					break;
				v--;
				if (t->off[v + 1] - t->off[v] == n && !memcmp(t->blob + t->off[v], p, n)) {
					ids_push(ids, v);
					return 0;
				}
				i = (i + 1) & t->tab_mask;
			}
		}
	}
	if (cacheable) {
		si = (size_t)(h >> 20) & (CACHE_SLOTS - 1);
		for (;;) {
			struct cache_slot *s = &e->slot[si];

			if (!s->len)
				break;
			if (s->h == h && s->len == n && !memcmp(e->arena + s->off, p, n)) {
				const uint32_t *v = (const uint32_t *)(e->arena + s->off + ((n + 3) & ~(size_t)3));

				qn_ids_reserve(ids, s->nids);
				memcpy(ids->v + ids->n, v, s->nids * sizeof *v);
				ids->n += s->nids;
				return 0;
			}
			si = (si + 1) & (CACHE_SLOTS - 1);
		}
	}
	scratch(e, n);
	m = n <= SMALL_PIECE ? merge_small(e, p, n) : merge_large(e, p, n);
	qn_ids_reserve(ids, m);
	memcpy(ids->v + ids->n, e->id, m * sizeof *e->id);
	ids->n += m;
	if (cacheable) {
		size_t need = ((n + 3) & ~(size_t)3) + m * sizeof(uint32_t);

		if (e->narena + need > CACHE_BYTES || 4 * (e->used + 1) > 3 * CACHE_SLOTS) {
			cache_clear(e);
			si = (size_t)(h >> 20) & (CACHE_SLOTS - 1);
		}
		struct cache_slot *s = &e->slot[si];

		s->h = h;
		s->off = (uint32_t)e->narena;
		s->len = (uint16_t)n;
		s->nids = (uint16_t)m;
		memcpy(e->arena + e->narena, p, n);
		memcpy(e->arena + e->narena + ((n + 3) & ~(size_t)3), e->id, m * sizeof *e->id);
		e->narena += need;
		e->used++;
	}
	return 0;
}

void qn_tok_encode_piece_ref(const struct qn_tok *t, const uint8_t *p, size_t n, struct qn_ids *ids)
{
	/* parts as byte offsets: part i is p[s[i]..s[i+1]) */
	size_t *s = qn_xmalloc((n + 1) * sizeof *s), m = n;
	int64_t whole;

	if (n == 0) {
		free(s);
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (t->byte_id[p[i]] == UINT32_MAX) {
			free(s);
			return;
		}
	if (t->whole_first && (whole = qn_tok_lookup(t, p, n)) >= 0) {
		ids_push(ids, (uint32_t)whole);
		free(s);
		return;
	}
	for (size_t i = 0; i <= n; i++)
		s[i] = i;
	for (;;) {
		uint64_t best = QN_TOK_NOPAIR;
		size_t bi = 0;

		for (size_t i = 0; i + 1 < m; i++) {
			uint64_t prio;

			if (t->mode == QN_TOK_RANKS) {
				/* tiktoken: the rank of the concatenated bytes */
				int64_t r = qn_tok_lookup(t, p + s[i], s[i + 2] - s[i]);

				prio = r < 0 ? QN_TOK_NOPAIR : (uint64_t)r;
			} else {
				int64_t a = qn_tok_lookup(t, p + s[i], s[i + 1] - s[i]);
				int64_t b = qn_tok_lookup(t, p + s[i + 1], s[i + 2] - s[i + 1]);
				uint64_t v = qn_tok_pair(t, (uint32_t)a, (uint32_t)b);

				prio = v == QN_TOK_NOPAIR ? v : v >> 32;
			}
			if (prio < best) {
				best = prio;
				bi = i;
			}
		}
		if (best == QN_TOK_NOPAIR)
			break;
		memmove(s + bi + 1, s + bi + 2, (m - bi - 1) * sizeof *s);
		m--;
	}
	for (size_t i = 0; i < m; i++)
		ids_push(ids, (uint32_t)qn_tok_lookup(t, p + s[i], s[i + 1] - s[i]));
	free(s);
}

static int on_piece(void *arg, const char *piece, size_t len)
{
	struct qn_tok_enc *e = arg;

	return qn_tok_encode_piece(e, (const uint8_t *)piece, len, e->out) ? 1 : 0;
}

int qn_tok_encode(struct qn_tok_enc *e, const char *text, size_t len,
		  struct qn_ids *ids, struct qn_err *err)
{
	int rc;

	e->out = ids;
	e->missing = -1;
	rc = qn_pretok_split(e->ps, text, len, on_piece, e, err);
	e->out = NULL;
	if (rc == 1)
		rc = qn_err_set(err, QN_EINPUT, "byte 0x%02x has no token in this tokenizer", e->missing);
	return rc;
}

int qn_tok_encode_special(struct qn_tok_enc *e, const char *text, size_t len,
			  struct qn_ids *ids, struct qn_err *err)
{
	const struct qn_tok *t = e->t;
	size_t pos = 0, ns = t->nspecial;
	size_t stackbuf[16], *next = ns <= 16 ? stackbuf : qn_xmalloc(ns * sizeof *next);
	int rc = 0;

	for (size_t j = 0; j < ns; j++)
		next[j] = (size_t)-1;	/* not searched yet */
	while (pos < len) {
		size_t best = len, bj = 0;

		for (size_t j = 0; j < ns; j++) {
			uint32_t id = t->special[j];
			size_t sl = t->off[id + 1] - t->off[id];

			if (next[j] == (size_t)-1 || (next[j] < pos && next[j] != len)) {
				const char *f = memmem(text + pos, len - pos, t->blob + t->off[id], sl);

				next[j] = f ? (size_t)(f - text) : len;
			}
			if (next[j] < best) {	/* specials are longest first: ties keep the longest */
				best = next[j];
				bj = j;
			}
		}
		if ((rc = qn_tok_encode(e, text + pos, best - pos, ids, err)))
			break;
		if (best == len)
			break;
		uint32_t id = t->special[bj];

		ids_push(ids, id);
		pos = best + (t->off[id + 1] - t->off[id]);
	}
	if (next != stackbuf)
		free(next);
	return rc;
}
