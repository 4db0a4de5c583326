/*
 * t_dedup_sort: the external sort and the union-find of quern-dedup
 * against plain references on random inputs: qsort of the same records
 * (with budgets that force many spilled runs, one run, and none), and
 * connected components found by a breadth-first search.
 */
#include <stdlib.h>

#include "dedup.h"
#include "../tap.h"

static int cmp_rec(const void *a, const void *b)
{
	const struct qn_rec *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->doc < y->doc ? -1 : x->doc > y->doc;
}

/* Sorts n random records (keys drawn from nkeys values) with budget mem. */
static void sort_case(size_t n, uint64_t nkeys, uint64_t mem, const char *what)
{
	struct qn_rec *want = qn_xmalloc((n ? n : 1) * sizeof *want), r;
	struct qn_extsort *x = qn_extsort_new(tap_dir, mem);
	struct qn_err err;
	size_t i, bad = 0, got = 0;
	int rc;

	for (i = 0; i < n; i++) {
		want[i].key = nkeys ? tap_rand() % nkeys : tap_rand();
		want[i].doc = (uint32_t)(tap_rand() % 1000000);
		if (qn_extsort_add(x, want[i].key, want[i].doc, &err) < 0)
			bad++;
	}
	ok(!bad, "%s: records added", what);
	ok(qn_extsort_finish(x, &err) == 0, "%s: finished (%d runs on disk)", what,
	   qn_extsort_runs(x));
	qsort(want, n, sizeof *want, cmp_rec);
	while ((rc = qn_extsort_next(x, &r, &err)) == 1) {
		if (got >= n || r.key != want[got].key || r.doc != want[got].doc)
			bad++;
		got++;
	}
	ok(rc == 0 && got == n && !bad, "%s: %zu records in (key, doc) order like qsort", what, n);
	if (mem < n * sizeof(struct qn_rec))
		ok(qn_extsort_runs(x) > 1, "%s: the budget forced spilled runs", what);
	qn_extsort_free(x);
	free(want);
}

/* Components by BFS over an adjacency list: label = smallest member. */
static void uf_case(uint32_t n, uint32_t nedges)
{
	uint32_t *ea = qn_xmalloc(nedges * sizeof *ea), *eb = qn_xmalloc(nedges * sizeof *eb);
	uint32_t *deg = qn_xcalloc(n + 1, sizeof *deg), *adj, *label, *queue, i, e;
	struct qn_uf u;
	int bad = 0;

	for (e = 0; e < nedges; e++) {
		ea[e] = (uint32_t)(tap_rand() % n);
		eb[e] = (uint32_t)(tap_rand() % n);
		deg[ea[e] + 1]++;
		deg[eb[e] + 1]++;
	}
	for (i = 0; i < n; i++)
		deg[i + 1] += deg[i];
	adj = qn_xmalloc((2 * (size_t)nedges + 1) * sizeof *adj);
	{
		uint32_t *fill = qn_xmalloc((n + 1) * sizeof *fill);

		memcpy(fill, deg, (n + 1) * sizeof *fill);
		for (e = 0; e < nedges; e++) {
			adj[fill[ea[e]]++] = eb[e];
			adj[fill[eb[e]]++] = ea[e];
		}
		free(fill);
	}
	label = qn_xmalloc(n * sizeof *label);
	queue = qn_xmalloc(n * sizeof *queue);
	for (i = 0; i < n; i++)
		label[i] = UINT32_MAX;
	for (i = 0; i < n; i++) {	/* in index order: the first seen is the smallest */
		uint32_t h = 0, t = 0;

		if (label[i] != UINT32_MAX)
			continue;
		label[i] = i;
		queue[t++] = i;
		while (h < t) {
			uint32_t v = queue[h++], k;

			for (k = deg[v]; k < deg[v + 1]; k++)
				if (label[adj[k]] == UINT32_MAX) {
					label[adj[k]] = i;
					queue[t++] = adj[k];
				}
		}
	}
	qn_uf_init(&u, n);
	for (e = 0; e < nedges; e++)
		qn_uf_union(&u, ea[e], eb[e]);
	for (i = 0; i < n; i++)
		bad += qn_uf_find(&u, i) != label[i];
	ok(!bad, "union-find on %u nodes, %u random edges: roots are the smallest members, as BFS finds", n,
	   nedges);
	qn_uf_release(&u);
	free(ea);
	free(eb);
	free(deg);
	free(adj);
	free(label);
	free(queue);
}

int main(void)
{
	tap_tmpdir();
	sort_case(0, 0, 1 << 20, "empty");
	sort_case(1, 0, 1 << 20, "one record");
	sort_case(200000, 0, 64 << 20, "in memory, distinct keys");
	sort_case(200000, 1000, 64 << 20, "in memory, many equal keys");
	sort_case(200000, 0, 100000, "external, distinct keys");
	sort_case(200000, 50, 30000, "external, many equal keys");
	sort_case(100003, 1ULL << 40, 1 << 16, "external, odd count");
	uf_case(10, 3);
	uf_case(1000, 500);
	uf_case(100000, 90000);
	uf_case(100000, 300000);
	tap_cleanup();
	return done_testing();
}
