/*
 * extsort.c: sorting (key, doc) records past memory, and union-find.
 *
 * The clustering step of quern-dedup needs every band key of every
 * document in key order: equal keys are the candidate pairs.  At 14 bands
 * that is 14 records of 12 bytes per document, more than memory holds at
 * large scale, so records go into a buffer of at most the --mem budget
 * (half for the records, half for the radix sort's scratch); a full buffer
 * is sorted and written out as a run, and the runs are merged with a
 * binary heap when read back.  While everything fits, nothing touches the
 * disk.
 *
 * The in-memory sort is an LSD radix sort on bytes, doc bytes first then
 * key bytes, each pass stable, passes whose byte is the same for every
 * record skipped; the merge breaks key ties by doc, so the order is
 * (key, doc) however the records were split into runs.
 *
 * Union-find keeps the smallest index as the root of every set, so the
 * root of a cluster is its earliest document whatever order the unions
 * came in.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dedup.h"
#include "err.h"

static unsigned char rec_byte(const struct qn_rec *r, int pass)
{
	/* passes 0..3: doc bytes low to high; 4..11: key bytes low to high */
	if (pass < 4)
		return (unsigned char)(r->doc >> (8 * pass));
	return (unsigned char)(r->key >> (8 * (pass - 4)));
}

void qn_rec_sort(struct qn_rec *r, size_t n, struct qn_rec *tmp)
{
	size_t count[256], i;
	struct qn_rec *src = r, *dst = tmp;
	int pass, b;

	if (n < 2)
		return;
	for (pass = 0; pass < 12; pass++) {
		size_t sum = 0;

		memset(count, 0, sizeof count);
		for (i = 0; i < n; i++)
			count[rec_byte(&src[i], pass)]++;
		if (count[rec_byte(&src[0], pass)] == n)
			continue;
		for (b = 0; b < 256; b++) {
			size_t c = count[b];

			count[b] = sum;
			sum += c;
		}
		for (i = 0; i < n; i++)
			dst[count[rec_byte(&src[i], pass)]++] = src[i];
		{
			struct qn_rec *t = src;

			src = dst;
			dst = t;
		}
	}
	if (src != r)
		memcpy(r, src, n * sizeof *r);
}

struct run {
	FILE *f;
	char *path;
	struct qn_rec cur;
};

struct qn_extsort {
	char *dir;
	struct qn_rec *buf, *tmp;
	size_t n, cap, pos;
	struct run *runs;
	int nruns;
	int *heap, nheap;
	int finished;
};

struct qn_extsort *qn_extsort_new(const char *dir, uint64_t mem)
{
	struct qn_extsort *x = qn_xcalloc(1, sizeof *x);
	uint64_t cap = mem / (2 * sizeof(struct qn_rec));

	x->dir = qn_xstrdup(dir ? dir : "/tmp");
	x->cap = cap < 1024 ? 1024 : (size_t)cap;
	return x;
}

static int spill(struct qn_extsort *x, struct qn_err *err)
{
	struct run *r;
	int fd;

	if (!x->tmp)
		x->tmp = qn_xmalloc(x->cap * sizeof *x->tmp);
	qn_rec_sort(x->buf, x->n, x->tmp);
	x->runs = qn_xrealloc(x->runs, (size_t)(x->nruns + 1) * sizeof *x->runs);
	r = &x->runs[x->nruns];
	memset(r, 0, sizeof *r);
	r->path = qn_xasprintf("%s/quern-dedup-run.XXXXXX", x->dir);
	if ((fd = mkstemp(r->path)) < 0) {
		qn_err_set(err, QN_EIO, "%s: %s", r->path, strerror(errno));
		free(r->path);
		return QN_EIO;
	}
	unlink(r->path);	/* the open file lives until closed, and no longer */
	x->nruns++;
	if (!(r->f = fdopen(fd, "w+b"))) {
		close(fd);
		return qn_err_set(err, QN_EIO, "%s: %s", r->path, strerror(errno));
	}
	if (fwrite(x->buf, sizeof *x->buf, x->n, r->f) != x->n || fflush(r->f))
		return qn_err_set(err, QN_EIO, "%s: %s", r->path, strerror(errno));
	x->n = 0;
	return 0;
}

int qn_extsort_add(struct qn_extsort *x, uint64_t key, uint32_t doc, struct qn_err *err)
{
	if (!x->buf)
		x->buf = qn_xmalloc(x->cap * sizeof *x->buf);
	if (x->n == x->cap) {
		int rc = spill(x, err);

		if (rc < 0)
			return rc;
	}
	x->buf[x->n].key = key;
	x->buf[x->n].doc = doc;
	x->n++;
	return 0;
}

static int rec_less(const struct qn_rec *a, const struct qn_rec *b)
{
	return a->key < b->key || (a->key == b->key && a->doc < b->doc);
}

static void sift_down(struct qn_extsort *x, int i)
{
	for (;;) {
		int l = 2 * i + 1, m = i, t;

		if (l < x->nheap && rec_less(&x->runs[x->heap[l]].cur, &x->runs[x->heap[m]].cur))
			m = l;
		if (l + 1 < x->nheap && rec_less(&x->runs[x->heap[l + 1]].cur, &x->runs[x->heap[m]].cur))
			m = l + 1;
		if (m == i)
			return;
		t = x->heap[i];
		x->heap[i] = x->heap[m];
		x->heap[m] = t;
		i = m;
	}
}

/* Reads run i's next record; 1, 0 at its end, QN_EIO. */
static int run_next(struct qn_extsort *x, int i, struct qn_err *err)
{
	struct run *r = &x->runs[i];

	if (fread(&r->cur, sizeof r->cur, 1, r->f) == 1)
		return 1;
	if (ferror(r->f))
		return qn_err_set(err, QN_EIO, "%s: read error", r->path);
	return 0;
}

int qn_extsort_finish(struct qn_extsort *x, struct qn_err *err)
{
	int i, rc;

	x->finished = 1;
	if (!x->nruns) {
		if (!x->tmp && x->n)
			x->tmp = qn_xmalloc(x->n * sizeof *x->tmp);
		qn_rec_sort(x->buf, x->n, x->tmp);
		free(x->tmp);
		x->tmp = NULL;
		x->pos = 0;
		return 0;
	}
	if (x->n && (rc = spill(x, err)) < 0)
		return rc;
	free(x->buf);
	free(x->tmp);
	x->buf = x->tmp = NULL;
	x->heap = qn_xmalloc((size_t)x->nruns * sizeof *x->heap);
	for (i = 0; i < x->nruns; i++) {
		/* A large read buffer per run: the merge reads them in turn. */
		rewind(x->runs[i].f);
		setvbuf(x->runs[i].f, NULL, _IOFBF, 1 << 20);
		if ((rc = run_next(x, i, err)) < 0)
			return rc;
		if (rc)
			x->heap[x->nheap++] = i;
	}
	for (i = x->nheap / 2 - 1; i >= 0; i--)
		sift_down(x, i);
	return 0;
}

int qn_extsort_next(struct qn_extsort *x, struct qn_rec *r, struct qn_err *err)
{
	int rc;

	if (!x->nruns) {
		if (x->pos >= x->n)
			return 0;
		*r = x->buf[x->pos++];
		return 1;
	}
	if (!x->nheap)
		return 0;
	*r = x->runs[x->heap[0]].cur;
	if ((rc = run_next(x, x->heap[0], err)) < 0)
		return rc;
	if (!rc)
		x->heap[0] = x->heap[--x->nheap];
	sift_down(x, 0);
	return 1;
}

int qn_extsort_runs(const struct qn_extsort *x)
{
	return x->nruns;
}

void qn_extsort_free(struct qn_extsort *x)
{
	int i;

	if (!x)
		return;
	for (i = 0; i < x->nruns; i++) {
		if (x->runs[i].f)
			fclose(x->runs[i].f);
		free(x->runs[i].path);
	}
	free(x->runs);
	free(x->heap);
	free(x->buf);
	free(x->tmp);
	free(x->dir);
	free(x);
}

/* ---- union-find ---- */

void qn_uf_init(struct qn_uf *u, uint32_t n)
{
	uint32_t i;

	u->n = n;
	u->parent = qn_xmalloc((size_t)(n ? n : 1) * sizeof *u->parent);
	for (i = 0; i < n; i++)
		u->parent[i] = i;
}

void qn_uf_release(struct qn_uf *u)
{
	free(u->parent);
	u->parent = NULL;
	u->n = 0;
}

uint32_t qn_uf_find(struct qn_uf *u, uint32_t x)
{
	uint32_t r = x, t;

	while (u->parent[r] != r)
		r = u->parent[r];
	while (u->parent[x] != r) {	/* path compression */
		t = u->parent[x];
		u->parent[x] = r;
		x = t;
	}
	return r;
}

void qn_uf_union(struct qn_uf *u, uint32_t a, uint32_t b)
{
	a = qn_uf_find(u, a);
	b = qn_uf_find(u, b);
	if (a < b)
		u->parent[b] = a;
	else if (b < a)
		u->parent[a] = b;
}
