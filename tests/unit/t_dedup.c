/*
 * t_dedup: the signing and clustering of quern-dedup against brute force.
 *
 *  - Words: the chunked path (ASCII rules, ICU for the rest) gives the
 *    same words as ICU's word break iterator over the whole text, on
 *    crafted strings and on real text from /usr/share.
 *  - Normalization: NFC, lowercase and white space as documented.
 *  - On a small set of documents with edited copies, every pair's exact
 *    Jaccard index of word 5-gram sets, computed by brute force on the
 *    strings, equals the one from the shingle hash sets; the MinHash
 *    estimate stays within five standard deviations of it; clustering
 *    puts every pair with J >= 0.9 together; with --verify exact every
 *    duplicate reported is at least the threshold similar to its survivor.
 *  - The LSH probability curve at a few points.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "dedup.h"
#include "utf8.h"
#include "../tap.h"

static int same_words(struct qn_signer *s, const char *t, size_t n)
{
	const uint64_t *w;
	uint64_t *a;
	size_t na, nb;
	int same;

	na = qn_signer_words_icu(s, t, n, &w);
	a = qn_xmalloc((na ? na : 1) * sizeof *a);
	memcpy(a, w, na * sizeof *a);
	nb = qn_signer_words(s, t, n, &w);
	same = na == nb && !memcmp(a, w, na * sizeof *a);
	free(a);
	return same;
}

static char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	char *b;
	long l;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	l = ftell(f);
	rewind(f);
	if (l <= 0 || l > (4 << 20)) {
		fclose(f);
		return NULL;
	}
	b = qn_xmalloc((size_t)l);
	*n = fread(b, 1, (size_t)l, f);
	fclose(f);
	return b;
}

static void test_words(void)
{
	static const char *const crafted[] = {
		"e.g. 3.14 1,000 1;2 don't foo_bar a:b x.y. 'quoted' U.S.A. __init__ _ a_ 1.a a.1",
		"can't've 12'34 ab''cd a..b 1..2 1.,2 end. .start 'x' x' 'x",
		"caf\xc3\xa9 na\xc3\xafve \xe6\x9d\xb1\xe4\xba\xac\xe3\x82\xbf\xe3\x83\xaf\xe3\x83\xbc\xe3\x81\xab\xe8\xa1\x8c\xe3\x81\x8f \xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xd0\xbc\xd0\xb8\xd1\x80",
		"mixed\xc2\xa0nbsp and e\xcc\x81 combining, \xef\xbc\x91\xef\xbc\x92 fullwidth, \xf0\x9f\x98\x80 emoji x\xe2\x80\x8dy",
		"\xe0\xb8\xa0\xe0\xb8\xb2\xe0\xb8\xa9\xe0\xb8\xb2\xe0\xb9\x84\xe0\xb8\x97\xe0\xb8\xa2 Thai, \xed\x95\x9c\xea\xb5\xad\xec\x96\xb4 Korean, tab\there\nnew line  two",
		"a' b' 'c 1,a a,1 1_000 x_1.5 3.x A.B.C. ...",
	};
	struct qn_dedup_params p;
	struct qn_signer *s;
	struct qn_buf path = QN_BUF_INIT;
	DIR *d;
	struct dirent *e;
	size_t i, n;
	int files = 0, bad = 0;
	char *t;

	qn_dedup_params_default(&p);
	s = qn_signer_new(&p);
	for (i = 0; i < sizeof crafted / sizeof *crafted; i++)
		ok(same_words(s, crafted[i], strlen(crafted[i])),
		   "crafted string %zu: the same words as ICU alone", i);
	/* Real text: the licences, and the copyright files of the packages. */
	if ((d = opendir("/usr/share/common-licenses"))) {
		while ((e = readdir(d))) {
			qn_buf_reset(&path);
			qn_buf_appendf(&path, "/usr/share/common-licenses/%s", e->d_name);
			if (e->d_name[0] != '.' && (t = slurp(path.data, &n))) {
				if (qn_utf8_valid(t, n)) {
					bad += !same_words(s, t, n);
					files++;
				}
				free(t);
			}
		}
		closedir(d);
	}
	if ((d = opendir("/usr/share/doc"))) {
		while ((e = readdir(d)) && files < 400) {
			qn_buf_reset(&path);
			qn_buf_appendf(&path, "/usr/share/doc/%s/copyright", e->d_name);
			if (e->d_name[0] != '.' && (t = slurp(path.data, &n))) {
				if (qn_utf8_valid(t, n)) {
					bad += !same_words(s, t, n);
					files++;
				}
				free(t);
			}
		}
		closedir(d);
	}
	if (files)
		ok(!bad, "%d real files: the same words as ICU alone (%d differ)", files, bad);
	else
		ok(1, "# SKIP no text under /usr/share");
	qn_buf_release(&path);
	qn_signer_free(s);
}

static void test_normalize(void)
{
	struct qn_dedup_params p;
	struct qn_signer *s;
	struct qn_buf out = QN_BUF_INIT;
	struct qn_docsig a, b;
	struct qn_hash128 h;

	qn_dedup_params_default(&p);
	s = qn_signer_new(&p);
	qn_signer_normalize(s, "  Hello\t\tWORLD \n", 16, &out);
	is_str(qn_buf_str(&out), "hello world", "lowercase, white space collapsed and trimmed");
	qn_signer_normalize(s, "Cafe\xcc\x81\xc2\xa0\xc3\x89T\xc3\x89", 13, &out);
	is_str(qn_buf_str(&out), "caf\xc3\xa9 \xc3\xa9t\xc3\xa9", "NFC, Unicode lowercase and white space");
	qn_signer_sign(s, "Caf\xc3\xa9  au lait", 15, &a);
	h = a.exact;
	qn_signer_sign(s, "cafe\xcc\x81 AU\nlait", 15, &b);
	ok(h.hi == b.exact.hi && h.lo == b.exact.lo, "exact hash equal after normalization");
	qn_signer_free(s);
	p.norm = 0;
	s = qn_signer_new(&p);
	qn_signer_normalize(s, "A  b", 4, &out);
	is_str(qn_buf_str(&out), "A  b", "--normalize none leaves the text");
	qn_signer_free(s);
	qn_buf_release(&out);
}

/* ---- brute force on a small set ---- */

#define NDOC 160
#define NG 5

static char *docs[NDOC];
static int base_of[NDOC];

static const char *vocab(int i)
{
	static char w[4096][10];
	static int init;

	if (!init) {
		int k, j;

		for (k = 0; k < 4096; k++) {
			int l = 3 + (int)(tap_rand() % 6);

			for (j = 0; j < l; j++)
				w[k][j] = (char)('a' + tap_rand() % 26);
			w[k][l] = '\0';
		}
		init = 1;
	}
	return w[i % 4096];
}

/* Splits s at spaces into an array of word pointers (s is modified). */
static int split_words(char *s, char **w, int max)
{
	int n = 0;
	char *save = NULL, *t;

	for (t = strtok_r(s, " ", &save); t && n < max; t = strtok_r(NULL, " ", &save))
		w[n++] = t;
	return n;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The distinct word 5-grams of doc as strings, sorted. */
static char **grams(const char *doc, int *ng)
{
	char *c = qn_xstrdup(doc), *w[4096], **g;
	int n = split_words(c, w, 4096), m, i, j, o = 0;

	m = n >= NG ? n - NG + 1 : (n ? 1 : 0);
	g = qn_xcalloc((size_t)m + 1, sizeof *g);
	for (i = 0; i < m; i++) {
		struct qn_buf b = QN_BUF_INIT;

		for (j = i; j < i + NG && j < n; j++)
			qn_buf_appendf(&b, "%s ", w[j]);
		g[i] = b.data;
	}
	qsort(g, (size_t)m, sizeof *g, cmp_str);
	for (i = 0; i < m; i++) {
		if (o && !strcmp(g[o - 1], g[i])) {
			free(g[i]);
			continue;
		}
		g[o++] = g[i];
	}
	*ng = o;
	free(c);
	return g;
}

static double brute_jaccard(char **a, int na, char **b, int nb)
{
	int i, inter = 0;

	for (i = 0; i < na; i++)
		if (bsearch(&a[i], b, (size_t)nb, sizeof *b, cmp_str))
			inter++;
	return na + nb ? (double)inter / (na + nb - inter) : 0;
}

/* A random document of n words, or an edited copy of base. */
static char *make_doc(const char *base, int n, int edits)
{
	struct qn_buf b = QN_BUF_INIT;
	char *c, *w[4096];
	int m, i;

	if (!base) {
		for (i = 0; i < n; i++)
			qn_buf_appendf(&b, "%s%s", i ? " " : "", vocab((int)(tap_rand() % 4096)));
		return b.data;
	}
	c = qn_xstrdup(base);
	m = split_words(c, w, 4096);
	for (i = 0; i < m; i++) {
		int r = (int)(tap_rand() % 1000);

		if (r < edits) {	/* substitute */
			qn_buf_appendf(&b, "%s%s", b.len ? " " : "", vocab((int)(tap_rand() % 4096)));
		} else if (r < edits + edits / 3) {	/* delete */
			continue;
		} else {
			qn_buf_appendf(&b, "%s%s", b.len ? " " : "", w[i]);
			if (r >= 1000 - edits / 3)	/* insert */
				qn_buf_appendf(&b, " %s", vocab((int)(tap_rand() % 4096)));
		}
	}
	free(c);
	return b.data ? b.data : qn_xstrdup("");
}

static void test_brute_force(void)
{
	struct qn_dedup_params p;
	struct qn_signer *s;
	struct qn_sigwriter *w;
	struct qn_docsig ds;
	struct qn_cluster_opts co;
	struct qn_dups dl;
	struct qn_err err;
	struct qn_hash128 h0 = { 0, 0 };
	uint32_t *sigs = NULL;
	uint64_t *sets[NDOC];
	uint32_t nsets[NDOC];
	char **g[NDOC], id[40], *path = NULL;
	int ng[NDOC], i, j, k, nb = 0, bad_exact = 0, bad_est = 0, pairs9 = 0, miss9 = 0;
	int bad_verify = 0, ndup_verify = 0;
	double J[NDOC][NDOC];
	int survivor_of[NDOC];

	/* 40 originals; 120 copies with 0.2% to 20% of the words edited. */
	for (i = 0; i < NDOC; i++) {
		if (i < 40) {
			docs[i] = make_doc(NULL, 40 + (int)(tap_rand() % 300), 0);
			base_of[i] = i;
		} else {
			int b = (int)(tap_rand() % 40);

			docs[i] = i % 17 == 0 ? qn_xstrdup(docs[b]) :
				  make_doc(docs[b], 0, i % 2 ? 1 + (int)(tap_rand() % 15) : 2 + (int)(tap_rand() % 200));
			base_of[i] = b;
		}
		g[i] = grams(docs[i], &ng[i]);
	}
	qn_dedup_params_default(&p);
	p.parts = QN_SIG_SHINGLES;
	s = qn_signer_new(&p);
	sigs = qn_xmalloc((size_t)NDOC * 112 * sizeof *sigs);
	path = qn_xstrdup(tap_path("set.sig"));
	w = qn_sigwriter_open(path, &p, h0, "set", &err);
	ok(w != NULL, "signature file opened");
	for (i = 0; i < NDOC; i++) {
		qn_signer_sign(s, docs[i], strlen(docs[i]), &ds);
		memcpy(sigs + (size_t)i * 112, ds.sig, 112 * sizeof *sigs);
		sets[i] = qn_xmalloc((ds.nshingle_set + 1) * sizeof **sets);
		memcpy(sets[i], ds.shingles, ds.nshingle_set * sizeof **sets);
		nsets[i] = ds.nshingle_set;
		snprintf(id, sizeof id, "doc%03d", i);
		if (qn_sigwriter_add(w, id, strlen(id), strlen(docs[i]), 0, &ds, &err) < 0)
			nb++;
	}
	ok(!nb && qn_sigwriter_commit(w, &err) == 0, "%d documents signed and written", NDOC);
	qn_sigwriter_free(w);

	for (i = 0; i < NDOC; i++)
		for (j = i + 1; j < NDOC; j++) {
			double est, sd;

			J[i][j] = J[j][i] = brute_jaccard(g[i], ng[i], g[j], ng[j]);
			if (fabs(qn_set_jaccard(sets[i], nsets[i], sets[j], nsets[j]) - J[i][j]) > 1e-12)
				bad_exact++;
			est = qn_sig_similarity(sigs + (size_t)i * 112, sigs + (size_t)j * 112, 112);
			sd = sqrt(J[i][j] * (1 - J[i][j]) / 112);
			if (fabs(est - J[i][j]) > 5 * sd + 0.02)
				bad_est++;
		}
	is_int(bad_exact, 0, "exact Jaccard from shingle hashes = brute force on strings, all %d pairs",
	       NDOC * (NDOC - 1) / 2);
	is_int(bad_est, 0, "MinHash estimates within 5 sd of the true Jaccard, all pairs");

	/* Without verification: pairs at J >= 0.9 never both survive. */
	memset(&co, 0, sizeof co);
	co.exact = co.near = 1;
	co.mem = 1 << 20;
	co.tmpdir = tap_dir;
	ok(qn_dedup_cluster(&path, 1, &co, &dl, &err) == 0, "clustered (%s)", err.msg);
	for (i = 0; i < NDOC; i++)
		survivor_of[i] = -1;
	for (k = 0; k < (int)dl.parts[0].ndups; k++)
		survivor_of[dl.parts[0].ord[k]] = atoi(dl.parts[0].other[k] + 3);
	for (i = 0; i < NDOC; i++)
		for (j = i + 1; j < NDOC; j++)
			if (J[i][j] >= 0.9) {
				pairs9++;
				if (survivor_of[i] < 0 && survivor_of[j] < 0)
					miss9++;
			}
	ok(pairs9 > 20, "the set has %d pairs at J >= 0.9", pairs9);
	is_int(miss9, 0, "no pair at J >= 0.9 survives whole");
	{
		int exact_ok = 1;

		for (k = 0; k < (int)dl.parts[0].ndups; k++) {
			int a = (int)dl.parts[0].ord[k], b = atoi(dl.parts[0].other[k] + 3);

			if (dl.parts[0].rule[k] == QN_RULE_EXACT && strcmp(docs[a], docs[b]))
				exact_ok = 0;
			if (b >= a && dl.parts[0].rule[k])
				exact_ok = 0;	/* keep first: survivors come earlier */
		}
		ok(exact_ok, "exact duplicates are equal texts; survivors are earlier documents");
	}
	qn_dups_release(&dl);

	/* Verified exactly: every duplicate is >= the threshold similar to its survivor. */
	co.verify = QN_VERIFY_EXACT;
	co.threshold = 0.8;
	ok(qn_dedup_cluster(&path, 1, &co, &dl, &err) == 0, "clustered with --verify exact");
	for (k = 0; k < (int)dl.parts[0].ndups; k++) {
		int a = (int)dl.parts[0].ord[k], b = atoi(dl.parts[0].other[k] + 3);

		ndup_verify++;
		if (J[a][b] < 0.8 && strcmp(docs[a], docs[b]))
			bad_verify++;
		if (fabs(dl.parts[0].value[k] - (strcmp(docs[a], docs[b]) ? J[a][b] : 1)) > 1e-3)
			bad_verify++;
	}
	ok(ndup_verify > 10 && bad_verify == 0,
	   "%d verified duplicates, each at J >= 0.8 of its survivor, with that J as its value",
	   ndup_verify);
	qn_dups_release(&dl);

	for (i = 0; i < NDOC; i++) {
		for (j = 0; j < ng[i]; j++)
			free(g[i][j]);
		free(g[i]);
		free(docs[i]);
		free(sets[i]);
	}
	free(sigs);
	free(path);
	qn_signer_free(s);
}

static void test_curve(void)
{
	ok(fabs(qn_lsh_probability(0.8, 14, 8) - (1 - pow(1 - pow(0.8, 8), 14))) < 1e-12,
	   "P(0.8) for 14 x 8 is 1 - (1 - 0.8^8)^14");
	ok(qn_lsh_probability(0.5, 14, 8) < 0.06 && qn_lsh_probability(0.9, 14, 8) > 0.999,
	   "14 x 8: P(0.5) = %.4f, P(0.9) = %.6f", qn_lsh_probability(0.5, 14, 8),
	   qn_lsh_probability(0.9, 14, 8));
}

int main(void)
{
	tap_tmpdir();
	test_words();
	test_normalize();
	test_brute_force();
	test_curve();
	tap_cleanup();
	return done_testing();
}
