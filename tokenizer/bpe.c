/*
 * bpe.c: counting pre-tokens and learning BPE merges (see bpe.h).
 */
#include <stdlib.h>
#include <string.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "bpe.h"
#include "err.h"

/* ---- the word map ---- */

void qn_wmap_init(struct qn_wmap *m)
{
	memset(m, 0, sizeof *m);
	m->mask = 1023;
	m->slot = qn_xcalloc(m->mask + 1, sizeof *m->slot);
}

void qn_wmap_release(struct qn_wmap *m)
{
	if (!m)
		return;
	free(m->slot);
	free(m->count);
	free(m->off);
	free(m->len);
	free(m->keys);
	memset(m, 0, sizeof *m);
}

void qn_wmap_clear(struct qn_wmap *m)
{
	memset(m->slot, 0, (m->mask + 1) * sizeof *m->slot);
	m->n = 0;
	m->nkeys = 0;
}

static void wmap_rehash(struct qn_wmap *m, size_t slots)
{
	free(m->slot);
	m->slot = qn_xcalloc(slots, sizeof *m->slot);
	m->mask = slots - 1;
	for (size_t e = 0; e < m->n; e++) {
		size_t i = (size_t)XXH3_64bits(m->keys + m->off[e], m->len[e]) & m->mask;

		while (m->slot[i])
			i = (i + 1) & m->mask;
		m->slot[i] = (uint32_t)e + 1;
	}
}

static inline size_t wmap_find(const struct qn_wmap *m, const void *b, uint32_t n, uint64_t h, int *found)
{
	size_t i = (size_t)h & m->mask;

	for (;;) {
		uint32_t s = m->slot[i];

		if (!s) {
			*found = 0;
			return i;
		}
		s--;
		if (m->len[s] == n && !memcmp(m->keys + m->off[s], b, n)) {
			*found = 1;
			return s;
		}
		i = (i + 1) & m->mask;
	}
}

static void wmap_add_h(struct qn_wmap *m, const void *b, uint32_t n, uint64_t count, uint64_t h)
{
	int found;
	size_t i = wmap_find(m, b, n, h, &found);

	if (found) {
		m->count[i] += count;
		return;
	}
	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 1024;
		m->count = qn_xrealloc(m->count, m->cap * sizeof *m->count);
		m->off = qn_xrealloc(m->off, m->cap * sizeof *m->off);
		m->len = qn_xrealloc(m->len, m->cap * sizeof *m->len);
	}
	if (m->nkeys + n > m->capkeys) {
		size_t c = m->capkeys ? m->capkeys : 65536;

		while (m->nkeys + n > c)
			c *= 2;
		m->keys = qn_xrealloc(m->keys, c);
		m->capkeys = c;
	}
	memcpy(m->keys + m->nkeys, b, n);
	m->off[m->n] = m->nkeys;
	m->len[m->n] = n;
	m->count[m->n] = count;
	m->nkeys += n;
	m->slot[i] = (uint32_t)++m->n;
	if (2 * m->n > m->mask + 1)
		wmap_rehash(m, 2 * (m->mask + 1));
}

void qn_wmap_add(struct qn_wmap *m, const void *b, uint32_t n, uint64_t count)
{
	wmap_add_h(m, b, n, count, XXH3_64bits(b, n));
}

void qn_wmap_merge(struct qn_wmap *dst, const struct qn_wmap *src)
{
	for (size_t e = 0; e < src->n; e++)
		qn_wmap_add(dst, src->keys + src->off[e], src->len[e], src->count[e]);
}

uint64_t qn_wmap_prune(struct qn_wmap *m, size_t max, uint64_t *words, uint64_t *occurrences)
{
	enum { H = 1 << 16 };
	size_t *hist, keep;
	uint64_t k;

	if (m->n <= max)
		return 0;
	/* hist[c]: words with count c (the last bucket: c >= H-1) */
	hist = qn_xcalloc(H, sizeof *hist);
	for (size_t e = 0; e < m->n; e++)
		hist[m->count[e] < H - 1 ? m->count[e] : H - 1]++;
	keep = m->n;
	for (k = 1; k < H - 1; k++) {
		keep -= hist[k];
		if (keep <= max / 2)
			break;
	}
	free(hist);
	/* compact: drop every word with count <= k */
	struct qn_wmap t;
	qn_wmap_init(&t);
	for (size_t e = 0; e < m->n; e++) {
		if (m->count[e] <= k) {
			(*words)++;
			*occurrences += m->count[e];
		} else {
			qn_wmap_add(&t, m->keys + m->off[e], m->len[e], m->count[e]);
		}
	}
	qn_wmap_release(m);
	*m = t;
	return k;
}

/* ---- tokens ---- */

static void tok_add(struct qn_bpe *b, size_t *cap, size_t *capblob, const uint8_t *x, size_t xl,
		    const uint8_t *y, size_t yl)
{
	if (b->ntok + 1 >= *cap) {
		*cap = *cap ? 2 * *cap : 1024;
		b->off = qn_xrealloc(b->off, (*cap + 1) * sizeof *b->off);
	}
	size_t need = b->off[b->ntok] + xl + yl;
	if (need > *capblob) {
		while (need > *capblob)
			*capblob = *capblob ? 2 * *capblob : 65536;
		b->blob = qn_xrealloc(b->blob, *capblob);
	}
	memmove(b->blob + b->off[b->ntok], x, xl);
	if (yl)
		memmove(b->blob + b->off[b->ntok] + xl, y, yl);
	b->off[b->ntok + 1] = need;
	b->ntok++;
}

static void bpe_start(struct qn_bpe *b, size_t *cap, size_t *capblob, struct qn_wmap *tmap)
{
	memset(b, 0, sizeof *b);
	*cap = *capblob = 0;
	b->off = NULL;
	*cap = 1024;
	b->off = qn_xcalloc(*cap + 1, sizeof *b->off);
	qn_wmap_init(tmap);
	for (int c = 0; c < 256; c++) {
		uint8_t x = (uint8_t)c;

		tok_add(b, cap, capblob, &x, 1, NULL, 0);
		qn_wmap_add(tmap, &x, 1, (uint64_t)c);
	}
}

/* The id of the merge of a and b: an existing token with those bytes, or a new one. */
static uint32_t tok_merge(struct qn_bpe *b, size_t *cap, size_t *capblob, struct qn_wmap *tmap,
			  uint32_t a, uint32_t c)
{
	size_t al = b->off[a + 1] - b->off[a], cl = b->off[c + 1] - b->off[c];
	uint8_t stackbuf[256], *buf = al + cl <= sizeof stackbuf ? stackbuf : qn_xmalloc(al + cl);
	int found;
	uint32_t id;

	memcpy(buf, b->blob + b->off[a], al);
	memcpy(buf + al, b->blob + b->off[c], cl);
	uint64_t h = XXH3_64bits(buf, al + cl);
	size_t i = wmap_find(tmap, buf, (uint32_t)(al + cl), h, &found);

	if (found) {
		id = (uint32_t)tmap->count[i];
	} else {
		id = b->ntok;
		tok_add(b, cap, capblob, buf, al + cl, NULL, 0);
		wmap_add_h(tmap, buf, (uint32_t)(al + cl), id, h);
	}
	if (buf != stackbuf)
		free(buf);
	return id;
}

static void merge_add(struct qn_bpe *b, size_t *mcap, uint32_t a, uint32_t c, uint32_t r, uint64_t count)
{
	if (b->nmerges == *mcap) {
		*mcap = *mcap ? 2 * *mcap : 1024;
		b->merges = qn_xrealloc(b->merges, *mcap * 2 * sizeof *b->merges);
		b->result = qn_xrealloc(b->result, *mcap * sizeof *b->result);
		b->mcount = qn_xrealloc(b->mcount, *mcap * sizeof *b->mcount);
	}
	b->merges[2 * b->nmerges] = a;
	b->merges[2 * b->nmerges + 1] = c;
	b->result[b->nmerges] = r;
	b->mcount[b->nmerges] = count;
	b->nmerges++;
}

void qn_bpe_release(struct qn_bpe *b)
{
	if (!b)
		return;
	free(b->blob);
	free(b->off);
	free(b->merges);
	free(b->result);
	free(b->mcount);
	memset(b, 0, sizeof *b);
}

/* ---- the incremental trainer ---- */

struct pairs {
	uint64_t *key;		/* a << 32 | b; UINT64_MAX empty */
	uint32_t *idx;
	size_t mask, n, cap;
	int64_t *cnt;
	uint32_t *a, *b;
	uint32_t **wv, *wn, *wcap;
	uint32_t *touched;	/* merge number + 1 when last increased */
};

static inline size_t pair_slot(uint64_t k, size_t mask)
{
	return (size_t)((k * 0x9E3779B97F4A7C15ULL) >> 17) & mask;
}

static void pairs_grow(struct pairs *P)
{
	size_t slots = 2 * (P->mask + 1);

	free(P->key);
	free(P->idx);
	P->key = qn_xmalloc(slots * sizeof *P->key);
	memset(P->key, 0xff, slots * sizeof *P->key);
	P->idx = qn_xmalloc(slots * sizeof *P->idx);
	P->mask = slots - 1;
	for (size_t p = 0; p < P->n; p++) {
		uint64_t k = (uint64_t)P->a[p] << 32 | P->b[p];
		size_t i = pair_slot(k, P->mask);

		while (P->key[i] != UINT64_MAX)
			i = (i + 1) & P->mask;
		P->key[i] = k;
		P->idx[i] = (uint32_t)p;
	}
}

/* The index of pair (a, b); created when create, else UINT32_MAX if absent. */
static uint32_t pair_get(struct pairs *P, uint32_t a, uint32_t b, int create)
{
	uint64_t k = (uint64_t)a << 32 | b;
	size_t i = pair_slot(k, P->mask);

	while (P->key[i] != UINT64_MAX) {
		if (P->key[i] == k)
			return P->idx[i];
		i = (i + 1) & P->mask;
	}
	if (!create)
		return UINT32_MAX;
	if (P->n == P->cap) {
		P->cap = P->cap ? 2 * P->cap : 4096;
		P->cnt = qn_xrealloc(P->cnt, P->cap * sizeof *P->cnt);
		P->a = qn_xrealloc(P->a, P->cap * sizeof *P->a);
		P->b = qn_xrealloc(P->b, P->cap * sizeof *P->b);
		P->wv = qn_xrealloc(P->wv, P->cap * sizeof *P->wv);
		P->wn = qn_xrealloc(P->wn, P->cap * sizeof *P->wn);
		P->wcap = qn_xrealloc(P->wcap, P->cap * sizeof *P->wcap);
		P->touched = qn_xrealloc(P->touched, P->cap * sizeof *P->touched);
	}
	uint32_t p = (uint32_t)P->n++;

	P->cnt[p] = 0;
	P->a[p] = a;
	P->b[p] = b;
	P->wv[p] = NULL;
	P->wn[p] = P->wcap[p] = 0;
	P->touched[p] = 0;
	P->key[i] = k;
	P->idx[i] = p;
	if (2 * P->n > P->mask + 1)
		pairs_grow(P);
	return p;
}

static inline void where_add(struct pairs *P, uint32_t p, uint32_t w)
{
	if (P->wn[p] && P->wv[p][P->wn[p] - 1] == w)
		return;
	if (P->wn[p] == P->wcap[p]) {
		P->wcap[p] = P->wcap[p] ? 2 * P->wcap[p] : 4;
		P->wv[p] = qn_xrealloc(P->wv[p], P->wcap[p] * sizeof **P->wv);
	}
	P->wv[p][P->wn[p]++] = w;
}

struct hent {
	uint64_t cnt;
	uint32_t a, b;
};

struct heap {
	struct hent *v;
	size_t n, cap;
};

/* a comes out before b: higher count, then smaller left id, then smaller right id */
static inline int hbefore(const struct hent *x, const struct hent *y)
{
	if (x->cnt != y->cnt)
		return x->cnt > y->cnt;
	if (x->a != y->a)
		return x->a < y->a;
	return x->b < y->b;
}

static void hpush(struct heap *h, uint64_t cnt, uint32_t a, uint32_t b)
{
	struct hent x = { cnt, a, b };
	size_t i;

	if (h->n == h->cap) {
		h->cap = h->cap ? 2 * h->cap : 4096;
		h->v = qn_xrealloc(h->v, h->cap * sizeof *h->v);
	}
	i = h->n++;
	while (i > 0 && hbefore(&x, &h->v[(i - 1) / 2])) {
		h->v[i] = h->v[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h->v[i] = x;
}

static struct hent hpop(struct heap *h)
{
	struct hent top = h->v[0], x = h->v[--h->n];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && hbefore(&h->v[c + 1], &h->v[c]))
			c++;
		if (!hbefore(&h->v[c], &x))
			break;
		h->v[i] = h->v[c];
		i = c;
	}
	if (h->n)
		h->v[i] = x;
	return top;
}

void qn_bpe_train(const struct qn_wmap *m, uint32_t max_tokens, uint64_t min_count,
		  struct qn_bpe *out, void (*progress)(void *, size_t), void *arg)
{
	size_t cap, capblob, mcap = 0, total = 0;
	struct qn_wmap tmap;
	struct pairs P = { 0 };
	struct heap H = { 0 };
	uint32_t *sym, *wlen, *stamp, *tl = NULL;
	size_t *wstart, ntl = 0, captl = 0;

	bpe_start(out, &cap, &capblob, &tmap);
	if (min_count < 1)
		min_count = 1;
	for (size_t w = 0; w < m->n; w++)
		total += m->len[w];
	sym = qn_xmalloc((total ? total : 1) * sizeof *sym);
	wstart = qn_xmalloc((m->n ? m->n : 1) * sizeof *wstart);
	wlen = qn_xmalloc((m->n ? m->n : 1) * sizeof *wlen);
	stamp = qn_xcalloc(m->n ? m->n : 1, sizeof *stamp);
	total = 0;
	P.mask = 4095;
	P.key = qn_xmalloc((P.mask + 1) * sizeof *P.key);
	memset(P.key, 0xff, (P.mask + 1) * sizeof *P.key);
	P.idx = qn_xmalloc((P.mask + 1) * sizeof *P.idx);
	for (size_t w = 0; w < m->n; w++) {
		const uint8_t *k = m->keys + m->off[w];

		wstart[w] = total;
		wlen[w] = m->len[w];
		for (uint32_t i = 0; i < m->len[w]; i++)
			sym[total++] = k[i];
		for (uint32_t i = 0; i + 1 < m->len[w]; i++) {
			uint32_t p = pair_get(&P, k[i], k[i + 1], 1);

			P.cnt[p] += (int64_t)m->count[w];
			where_add(&P, p, (uint32_t)w);
		}
	}
	for (size_t p = 0; p < P.n; p++)
		hpush(&H, (uint64_t)P.cnt[p], P.a[p], P.b[p]);

	while (out->ntok < max_tokens && H.n) {
		struct hent top = hpop(&H);
		uint32_t p = pair_get(&P, top.a, top.b, 0);
		int64_t c = P.cnt[p];

		if ((uint64_t)c != top.cnt) {
			if (c > 0 && (uint64_t)c < top.cnt)
				hpush(&H, (uint64_t)c, top.a, top.b);
			continue;
		}
		if ((uint64_t)c < min_count)
			break;
		uint32_t a = top.a, b = top.b;
		uint32_t r = tok_merge(out, &cap, &capblob, &tmap, a, b);
		uint32_t mi = (uint32_t)out->nmerges + 1;

		merge_add(out, &mcap, a, b, r, (uint64_t)c);
		ntl = 0;
		for (uint32_t wi = 0; wi < P.wn[p]; wi++) {
			uint32_t w = P.wv[p][wi];

			if (stamp[w] == mi)
				continue;
			stamp[w] = mi;
			uint32_t *s = sym + wstart[w], L = wlen[w], k = 0, o = 0;
			int64_t wc = (int64_t)m->count[w];

			while (k < L) {
				if (k + 1 < L && s[k] == a && s[k + 1] == b) {
					uint32_t q;

					if (o > 0) {
						P.cnt[pair_get(&P, s[o - 1], a, 1)] -= wc;
						q = pair_get(&P, s[o - 1], r, 1);
						P.cnt[q] += wc;
						where_add(&P, q, w);
						if (P.touched[q] != mi) {
							P.touched[q] = mi;
							if (ntl == captl) {
								captl = captl ? 2 * captl : 1024;
								tl = qn_xrealloc(tl, captl * sizeof *tl);
							}
							tl[ntl++] = q;
						}
					}
					if (k + 2 < L) {
						P.cnt[pair_get(&P, b, s[k + 2], 1)] -= wc;
						q = pair_get(&P, r, s[k + 2], 1);
						P.cnt[q] += wc;
						where_add(&P, q, w);
						if (P.touched[q] != mi) {
							P.touched[q] = mi;
							if (ntl == captl) {
								captl = captl ? 2 * captl : 1024;
								tl = qn_xrealloc(tl, captl * sizeof *tl);
							}
							tl[ntl++] = q;
						}
					}
					s[o++] = r;
					k += 2;
				} else {
					s[o++] = s[k++];
				}
			}
			wlen[w] = o;
		}
		/* p may have moved: pair_get can grow the arrays, not renumber */
		p = pair_get(&P, a, b, 0);
		P.cnt[p] = 0;
		free(P.wv[p]);
		P.wv[p] = NULL;
		P.wn[p] = P.wcap[p] = 0;
		for (size_t i = 0; i < ntl; i++)
			if (P.cnt[tl[i]] > 0)
				hpush(&H, (uint64_t)P.cnt[tl[i]], P.a[tl[i]], P.b[tl[i]]);
		if (progress && out->nmerges % 1000 == 0)
			progress(arg, out->nmerges);
	}
	for (size_t p = 0; p < P.n; p++)
		free(P.wv[p]);
	free(P.key);
	free(P.idx);
	free(P.cnt);
	free(P.a);
	free(P.b);
	free(P.wv);
	free(P.wn);
	free(P.wcap);
	free(P.touched);
	free(H.v);
	free(tl);
	free(sym);
	free(wstart);
	free(wlen);
	free(stamp);
	qn_wmap_release(&tmap);
}

/* ---- the brute-force reference ---- */

void qn_bpe_train_ref(const struct qn_wmap *m, uint32_t max_tokens, uint64_t min_count,
		      struct qn_bpe *out)
{
	size_t cap, capblob, mcap = 0;
	struct qn_wmap tmap;
	uint32_t **ws = qn_xcalloc(m->n + 1, sizeof *ws), *wl = qn_xcalloc(m->n + 1, sizeof *wl);

	bpe_start(out, &cap, &capblob, &tmap);
	if (min_count < 1)
		min_count = 1;
	for (size_t w = 0; w < m->n; w++) {
		ws[w] = qn_xmalloc((m->len[w] + 1) * sizeof **ws);
		wl[w] = m->len[w];
		for (uint32_t i = 0; i < m->len[w]; i++)
			ws[w][i] = m->keys[m->off[w] + i];
	}
	while (out->ntok < max_tokens) {
		/* count every pair from scratch */
		struct qn_wmap pc;
		uint64_t best = 0;
		uint32_t ba = 0, bb = 0;

		qn_wmap_init(&pc);
		for (size_t w = 0; w < m->n; w++)
			for (uint32_t i = 0; i + 1 < wl[w]; i++) {
				uint32_t k[2] = { ws[w][i], ws[w][i + 1] };

				qn_wmap_add(&pc, k, sizeof k, m->count[w]);
			}
		for (size_t e = 0; e < pc.n; e++) {
			uint32_t k[2];

			memcpy(k, pc.keys + pc.off[e], sizeof k);
			if (pc.count[e] > best || (pc.count[e] == best && best &&
						   (k[0] < ba || (k[0] == ba && k[1] < bb)))) {
				best = pc.count[e];
				ba = k[0];
				bb = k[1];
			}
		}
		qn_wmap_release(&pc);
		if (best < min_count)
			break;
		uint32_t r = tok_merge(out, &cap, &capblob, &tmap, ba, bb);

		merge_add(out, &mcap, ba, bb, r, best);
		for (size_t w = 0; w < m->n; w++) {
			uint32_t o = 0, k = 0;

			while (k < wl[w]) {
				if (k + 1 < wl[w] && ws[w][k] == ba && ws[w][k + 1] == bb) {
					ws[w][o++] = r;
					k += 2;
				} else {
					ws[w][o++] = ws[w][k++];
				}
			}
			wl[w] = o;
		}
	}
	for (size_t w = 0; w < m->n; w++)
		free(ws[w]);
	free(ws);
	free(wl);
	qn_wmap_release(&tmap);
}
