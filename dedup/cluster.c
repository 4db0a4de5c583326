/*
 * cluster.c: from signature files to the list of duplicates.
 *
 * Documents are numbered 0, 1, ... in the order of the signature files
 * and of the records in them: the input order.  One sequential read of
 * every file keeps, per document, what the decision needs later (the
 * exact hash, the --keep value, where its record is: 36 bytes) and feeds
 * two external sorters: exact-hash keys and band keys (12 bytes a record,
 * 1 + bands records a document, spilled to disk past the budget).  Equal
 * keys in sorted order are unions in a union-find over the documents; a
 * component of two or more is a cluster.
 *
 * In each cluster the survivor is the member with the largest keep value,
 * ties to the earliest (the keep value is 0 for --keep first, the text
 * length for --keep longest, a meta field, or +inf for documents of the
 * index, which always win: they were published already).  The other
 * members are read back from their files and, in preference order:
 *  - without verification, each is a duplicate of the survivor, with the
 *    similarity estimated from the signatures (1 for equal exact hashes);
 *  - with verification, each is compared to the cluster's kept members in
 *    turn (survivor first) and is a duplicate of the first one it is at
 *    least --threshold similar to (estimated from the full signatures, or
 *    the exact Jaccard index of the shingle sets), else it is kept too: a
 *    false positive of the bands splits off as its own survivor.
 * None of this depends on the order unions happened in, on threads, or on
 * hash-table order, so the list is the same on every run.
 *
 * Repeated lines (--lines N): the line hashes of every surviving document
 * are counted with a third sorter (each document's hashes are distinct,
 * so the count is the number of survivors that have the line); lines in
 * more than N survivors are listed for removal.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dedup.h"
#include "err.h"

char *qn_dedup_field(const char *s)
{
	char *r = qn_xstrdup(s), *c;

	for (c = r; *c; c++)
		if (*c == '\t' || *c == '\n' || *c == '\r')
			*c = '?';
	return r;
}

const char *qn_rule_name(int rule)
{
	return rule == QN_RULE_EXACT ? "dedup:exact" : "dedup:minhash";
}

void qn_dups_release(struct qn_dups *d)
{
	int p;
	uint64_t i;

	if (!d)
		return;
	for (p = 0; p < d->nparts; p++) {
		struct qn_part_dups *q = &d->parts[p];

		for (i = 0; i < q->ndups; i++) {
			free(q->id[i]);
			free(q->other[i]);
		}
		free(q->name);
		free(q->ord);
		free(q->id);
		free(q->other);
		free(q->rule);
		free(q->value);
	}
	free(d->parts);
	free(d->lines);
	memset(d, 0, sizeof *d);
}

static void add_dup(struct qn_part_dups *q, uint64_t ord, const char *id, const char *other,
		    int rule, double value)
{
	uint64_t n = q->ndups;

	if ((n & (n - 1)) == 0) {	/* capacity doubles at powers of two */
		size_t c = n ? 2 * n : 1;

		q->ord = qn_xrealloc(q->ord, c * sizeof *q->ord);
		q->id = qn_xrealloc(q->id, c * sizeof *q->id);
		q->other = qn_xrealloc(q->other, c * sizeof *q->other);
		q->rule = qn_xrealloc(q->rule, c * sizeof *q->rule);
		q->value = qn_xrealloc(q->value, c * sizeof *q->value);
	}
	q->ord[n] = ord;
	q->id[n] = qn_dedup_field(id);
	q->other[n] = qn_dedup_field(other);
	q->rule[n] = (unsigned char)rule;
	q->value[n] = (float)value;
	q->ndups = n + 1;
}

struct member {
	uint32_t g;
	struct qn_sigrec rec;
};

struct state {
	int nparts;
	struct qn_sigreader **rd;
	uint64_t *start;		/* first document number of each part */
	uint32_t ndocs;
	double *keep;
	struct qn_hash128 *exact;
	uint64_t *loc;			/* part << 48 | offset */
	struct qn_uf uf;
	int k;
};

static int part_of(const struct state *s, uint32_t g)
{
	return (int)(s->loc[g] >> 48);
}

/* Is a preferred over b as a survivor? */
static int prefer(const struct state *s, uint32_t a, uint32_t b)
{
	if (s->keep[a] != s->keep[b])
		return s->keep[a] > s->keep[b];
	return a < b;
}

static const struct state *sort_state;

static int cmp_pref(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;

	if (a == b)
		return 0;
	return prefer(sort_state, a, b) ? -1 : 1;
}

static int read_member(struct state *s, uint32_t g, struct qn_sigrec *rec, struct qn_err *err)
{
	int rc = qn_sigreader_read_at(s->rd[part_of(s, g)], s->loc[g] & ((1ULL << 48) - 1),
				      rec, err);

	return rc == 1 ? 0 : rc;
}

static double similarity(const struct state *s, const struct qn_cluster_opts *o,
			 const struct member *a, const struct member *b)
{
	if (o->verify == QN_VERIFY_EXACT)
		return qn_set_jaccard(a->rec.shingles, a->rec.nshingles,
				      b->rec.shingles, b->rec.nshingles);
	return qn_sig_similarity(a->rec.sig, b->rec.sig, s->k);
}

static int eq128(struct qn_hash128 a, struct qn_hash128 b)
{
	return a.hi == b.hi && a.lo == b.lo;
}

/*
 * Decides one cluster: g[0..n) its members.  Records the duplicates in
 * dups and the cluster in o->clusters.
 */
static int decide(struct state *s, const struct qn_cluster_opts *o, uint32_t *g, uint32_t n,
		  struct member **mbuf, uint32_t *mcap, struct qn_dups *dups, uint8_t *removed,
		  struct qn_err *err)
{
	struct member *m;
	uint32_t *reps, nreps = 0, i, j;
	int rc = 0;

	sort_state = s;
	qsort(g, n, sizeof *g, cmp_pref);
	if (n > *mcap) {
		*mbuf = qn_xrealloc(*mbuf, (size_t)n * sizeof **mbuf);
		for (i = *mcap; i < n; i++)
			qn_sigrec_init(&(*mbuf)[i].rec);
		*mcap = n;
	}
	m = *mbuf;
	reps = qn_xmalloc((size_t)n * sizeof *reps);
	for (i = 0; i < n; i++) {
		m[i].g = g[i];
		if ((rc = read_member(s, g[i], &m[i].rec, err)) < 0)
			goto out;
	}
	if (o->clusters)
		fprintf(o->clusters, "cluster\t%s\t%u\n", qn_buf_str(&m[0].rec.id), n);
	reps[nreps++] = 0;
	if (o->clusters)
		fprintf(o->clusters, "\t%s\tsurvivor\n", qn_buf_str(&m[0].rec.id));
	for (i = 1; i < n; i++) {
		int rule = 0, p;
		double v = 0;
		uint32_t to = 0;

		for (j = 0; j < nreps && !rule; j++)
			if (o->exact && eq128(s->exact[m[i].g], s->exact[m[reps[j]].g])) {
				rule = QN_RULE_EXACT;
				v = 1;
				to = reps[j];
			}
		if (!rule && o->verify == QN_VERIFY_NONE) {
			rule = QN_RULE_MINHASH;
			v = similarity(s, o, &m[i], &m[0]);
			to = 0;
		}
		for (j = 0; j < nreps && !rule; j++) {
			double x = similarity(s, o, &m[i], &m[reps[j]]);

			if (x >= o->threshold) {
				rule = QN_RULE_MINHASH;
				v = x;
				to = reps[j];
			}
		}
		if (!rule) {
			reps[nreps++] = i;
			if (o->clusters)
				fprintf(o->clusters, "\t%s\tkept\n", qn_buf_str(&m[i].rec.id));
			continue;
		}
		p = part_of(s, m[i].g);
		removed[m[i].g / 8] |= (uint8_t)(1u << (m[i].g % 8));
		if (o->clusters)
			fprintf(o->clusters, "\t%s\t%s\t%s\t%.3f\n", qn_buf_str(&m[i].rec.id),
				qn_rule_name(rule), qn_buf_str(&m[to].rec.id), v);
		if (p < o->nindex)
			continue;	/* an indexed document is not output anyway */
		add_dup(&dups->parts[p - o->nindex], m[i].g - s->start[p],
			qn_buf_str(&m[i].rec.id), qn_buf_str(&m[to].rec.id), rule, v);
		dups->ndups++;
	}
out:
	free(reps);
	return rc;
}

static const uint64_t *ord_key;

static int cmp_ord(const void *a, const void *b)
{
	uint64_t x = ord_key[*(const uint64_t *)a], y = ord_key[*(const uint64_t *)b];

	return x < y ? -1 : x > y;
}

/* Puts a part's duplicates in ordinal order, the order filter reads them in. */
static void sort_part(struct qn_part_dups *q)
{
	uint64_t *ix, i, n = q->ndups;
	uint64_t *ord;
	char **id, **other;
	unsigned char *rule;
	float *value;

	if (n < 2)
		return;
	ix = qn_xmalloc(n * sizeof *ix);
	for (i = 0; i < n; i++)
		ix[i] = i;
	ord_key = q->ord;
	qsort(ix, n, sizeof *ix, cmp_ord);
	ord = qn_xmalloc(n * sizeof *ord);
	id = qn_xmalloc(n * sizeof *id);
	other = qn_xmalloc(n * sizeof *other);
	rule = qn_xmalloc(n * sizeof *rule);
	value = qn_xmalloc(n * sizeof *value);
	for (i = 0; i < n; i++) {
		ord[i] = q->ord[ix[i]];
		id[i] = q->id[ix[i]];
		other[i] = q->other[ix[i]];
		rule[i] = q->rule[ix[i]];
		value[i] = q->value[ix[i]];
	}
	free(q->ord);
	free(q->id);
	free(q->other);
	free(q->rule);
	free(q->value);
	q->ord = ord;
	q->id = id;
	q->other = other;
	q->rule = rule;
	q->value = value;
	free(ix);
}

/* Unions the documents of every run of equal keys in x. */
static int link_runs(struct state *s, struct qn_extsort *x, int check_exact, struct qn_err *err)
{
	struct qn_rec r, first = { 0, 0 };
	int rc, have = 0;

	if ((rc = qn_extsort_finish(x, err)) < 0)
		return rc;
	while ((rc = qn_extsort_next(x, &r, err)) == 1) {
		if (have && r.key == first.key) {
			if (!check_exact || eq128(s->exact[r.doc], s->exact[first.doc]))
				qn_uf_union(&s->uf, first.doc, r.doc);
		} else {
			first = r;
			have = 1;
		}
	}
	return rc;
}

int qn_dedup_cluster(char *const *paths, int n, const struct qn_cluster_opts *o,
		     struct qn_dups *dups, struct qn_err *err)
{
	struct state s;
	struct qn_extsort *xe = NULL, *xb = NULL, *xl = NULL;
	struct qn_sigrec rec;
	struct member *mbuf = NULL;
	uint32_t mcap = 0, *order = NULL, i, norder = 0;
	uint64_t cap = 0, mem_ex, mem_b;
	uint8_t *removed = NULL;
	int p, rc = 0, b;

	memset(&s, 0, sizeof s);
	memset(dups, 0, sizeof *dups);
	qn_sigrec_init(&rec);
	if (n < 1 || n >= 1 << 15)
		return qn_err_set(err, QN_EUSAGE, "between 1 and 32767 signature files");
	s.nparts = n;
	s.rd = qn_xcalloc((size_t)n, sizeof *s.rd);
	s.start = qn_xcalloc((size_t)n + 1, sizeof *s.start);
	for (p = 0; p < n; p++) {
		if (!(s.rd[p] = qn_sigreader_open(paths[p], err))) {
			rc = err->code ? err->code : QN_EIO;
			goto out;
		}
		if (p && qn_dedup_params_cmp(qn_sigreader_params(s.rd[p]),
					     qn_sigreader_params(s.rd[0]))) {
			rc = qn_err_set(err, QN_EUSAGE, "%s: signed with other parameters than %s",
					paths[p], paths[0]);
			goto out;
		}
		if (o->lines && !(qn_sigreader_params(s.rd[p])->parts & QN_SIG_LINES)) {
			rc = qn_err_set(err, QN_EUSAGE, "%s: signed without line hashes (sign --lines)",
					paths[p]);
			goto out;
		}
		if (o->verify == QN_VERIFY_EXACT &&
		    !(qn_sigreader_params(s.rd[p])->parts & QN_SIG_SHINGLES)) {
			rc = qn_err_set(err, QN_EUSAGE,
					"%s: signed without shingle sets (sign --verify exact)", paths[p]);
			goto out;
		}
	}
	dups->params = *qn_sigreader_params(s.rd[0]);
	s.k = dups->params.bands * dups->params.rows;
	dups->nparts = n - o->nindex;
	dups->parts = qn_xcalloc((size_t)(dups->nparts ? dups->nparts : 1), sizeof *dups->parts);

	/* Half of the budget for the band records, an eighth for exact keys. */
	mem_b = o->mem / 2;
	mem_ex = o->mem / 8;
	xe = qn_extsort_new(o->tmpdir, mem_ex);
	xb = qn_extsort_new(o->tmpdir, mem_b);
	for (p = 0; p < n; p++) {
		s.start[p] = s.ndocs;
		while ((rc = qn_sigreader_next(s.rd[p], &rec, err)) == 1) {
			uint32_t g = s.ndocs;

			if (s.ndocs == UINT32_MAX - 1 || rec.offset >= 1ULL << 48) {
				rc = qn_err_set(err, QN_EUSAGE, "more than 2^32 documents");
				goto out;
			}
			if (g >= cap) {
				cap = cap ? 2 * cap : 4096;
				s.keep = qn_xrealloc(s.keep, cap * sizeof *s.keep);
				s.exact = qn_xrealloc(s.exact, cap * sizeof *s.exact);
				s.loc = qn_xrealloc(s.loc, cap * sizeof *s.loc);
			}
			s.keep[g] = p < o->nindex ? INFINITY : isnan(rec.keep) ? -INFINITY : rec.keep;
			s.exact[g] = rec.exact;
			s.loc[g] = (uint64_t)p << 48 | rec.offset;
			if (o->exact && (rc = qn_extsort_add(xe, rec.exact.lo ^ rec.exact.hi, g, err)) < 0)
				goto out;
			if (o->near && rec.sig[0] != UINT32_MAX)
				for (b = 0; b < dups->params.bands; b++)
					if ((rc = qn_extsort_add(xb, qn_band_key(rec.sig, b, dups->params.rows),
								 g, err)) < 0)
						goto out;
			s.ndocs++;
		}
		if (rc < 0)
			goto out;
		if (p >= o->nindex) {
			struct qn_part_dups *q = &dups->parts[p - o->nindex];

			q->input_hash = qn_sigreader_input_hash(s.rd[p]);
			q->name = qn_xstrdup(qn_sigreader_input_name(s.rd[p]));
			q->ndocs = s.ndocs - s.start[p];
		}
	}
	s.start[n] = s.ndocs;
	dups->ndocs = s.ndocs - s.start[o->nindex];
	qn_uf_init(&s.uf, s.ndocs);
	if ((rc = link_runs(&s, xe, 1, err)) < 0 || (rc = link_runs(&s, xb, 0, err)) < 0)
		goto out;
	dups->memory_peak = (uint64_t)s.ndocs * 40 + (o->exact ? mem_ex : 0) + (o->near ? mem_b : 0);
	qn_extsort_free(xe);
	qn_extsort_free(xb);
	xe = xb = NULL;

	/*
	 * Members of clusters, grouped by root: (root, doc) pairs sorted.
	 * Roots are their clusters' smallest documents, so a pass in
	 * document order meets every cluster's root first.
	 */
	for (i = 0; i < s.ndocs; i++)
		if (qn_uf_find(&s.uf, i) != i)
			norder++;
	if (norder) {
		uint32_t *cnt = qn_xcalloc(s.ndocs, sizeof *cnt), *pos, nroot = 0, r, j;

		for (i = 0; i < s.ndocs; i++)
			cnt[qn_uf_find(&s.uf, i)]++;
		/* Members laid out cluster after cluster, in order of roots. */
		pos = cnt;
		{
			uint64_t sum = 0;

			for (i = 0; i < s.ndocs; i++) {
				uint32_t c = cnt[i];

				if (c > 1) {
					pos[i] = (uint32_t)sum;
					sum += c;
					nroot++;
				} else {
					pos[i] = UINT32_MAX;
				}
			}
			order = qn_xmalloc((size_t)sum * sizeof *order);
			norder = (uint32_t)sum;
		}
		for (i = 0; i < s.ndocs; i++) {
			r = qn_uf_find(&s.uf, i);
			if (pos[r] != UINT32_MAX)
				order[pos[r]++] = i;
		}
		free(cnt);
		dups->nclusters = nroot;
		removed = qn_xcalloc((size_t)s.ndocs / 8 + 1, 1);
		for (i = 0; i < norder; i = j) {
			r = qn_uf_find(&s.uf, order[i]);
			for (j = i + 1; j < norder && qn_uf_find(&s.uf, order[j]) == r; j++)
				;
			if ((rc = decide(&s, o, order + i, j - i, &mbuf, &mcap, dups, removed,
					 err)) < 0)
				goto out;
		}
	}
	for (p = 0; p < dups->nparts; p++)
		sort_part(&dups->parts[p]);
	if (o->clusters && fflush(o->clusters)) {
		rc = qn_err_set(err, QN_EIO, "writing the clusters: %s", strerror(errno));
		goto out;
	}

	if (o->lines) {
		struct qn_rec r, first = { 0, 0 };
		uint64_t count = 0, cap_l = 0;
		uint32_t g = 0;

		xl = qn_extsort_new(o->tmpdir, o->mem / 2);
		for (p = 0; p < n; p++) {
			struct qn_err e2;

			qn_sigreader_close(s.rd[p]);
			if (!(s.rd[p] = qn_sigreader_open(paths[p], err))) {
				rc = err->code ? err->code : QN_EIO;
				goto out;
			}
			while ((rc = qn_sigreader_next(s.rd[p], &rec, &e2)) == 1) {
				if (!removed || !(removed[g / 8] & (1u << (g % 8))))
					for (i = 0; i < rec.nlines; i++)
						if ((rc = qn_extsort_add(xl, rec.lines[i], g, err)) < 0)
							goto out;
				g++;
			}
			if (rc < 0) {
				*err = e2;
				goto out;
			}
		}
		if ((rc = qn_extsort_finish(xl, err)) < 0)
			goto out;
		for (;;) {
			rc = qn_extsort_next(xl, &r, err);
			if (rc < 0)
				goto out;
			if (rc == 1 && count && r.key == first.key) {
				count++;
				continue;
			}
			if (count > (uint64_t)o->lines) {
				if (dups->nlines == cap_l) {
					cap_l = cap_l ? 2 * cap_l : 64;
					dups->lines = qn_xrealloc(dups->lines, cap_l * sizeof *dups->lines);
				}
				dups->lines[dups->nlines++] = first.key;
			}
			if (rc == 0)
				break;
			first = r;
			count = 1;
		}
		rc = 0;
	}
	rc = 0;
out:
	for (i = 0; i < mcap; i++)
		qn_sigrec_release(&mbuf[i].rec);
	free(mbuf);
	free(order);
	free(removed);
	qn_extsort_free(xe);
	qn_extsort_free(xb);
	qn_extsort_free(xl);
	qn_sigrec_release(&rec);
	qn_uf_release(&s.uf);
	for (p = 0; p < n; p++)
		qn_sigreader_close(s.rd[p]);
	free(s.rd);
	free(s.start);
	free(s.keep);
	free(s.exact);
	free(s.loc);
	if (rc < 0)
		qn_dups_release(dups);
	return rc;
}

/* ---- the duplicates list ---- */

/*
 *   quern-dedup duplicates 1
 *   params	BANDS	ROWS	SHINGLE	NGRAM	NORM	SEED
 *   part	INPUT-HASH	NDOCS	NDUPS	NAME
 *   dup	ORDINAL	ID	SURVIVOR	RULE	VALUE     (ndups lines after their part)
 *   line	HASH                                        (16 hex digits)
 *   end	NPARTS	NDUPS	NLINES
 */
int qn_dups_write(const struct qn_dups *d, FILE *f, struct qn_err *err)
{
	int p;
	uint64_t i;
	char hex[QN_HASH_HEX];

	fprintf(f, "quern-dedup duplicates 1\n");
	fprintf(f, "params\t%d\t%d\t%s\t%d\t%d\t%llu\n", d->params.bands, d->params.rows,
		d->params.shingle == QN_SHINGLE_WORD ? "word" : "char", d->params.ngram,
		d->params.norm, (unsigned long long)d->params.seed);
	for (p = 0; p < d->nparts; p++) {
		const struct qn_part_dups *q = &d->parts[p];

		qn_hash_hex(q->input_hash, hex);
		fprintf(f, "part\t%s\t%llu\t%llu\t", hex, (unsigned long long)q->ndocs,
			(unsigned long long)q->ndups);
		/* Names may hold any bytes: tabs and newlines would break the line. */
		for (const char *c = q->name; *c; c++)
			fputc(*c == '\t' || *c == '\n' || *c == '\r' ? '?' : *c, f);
		fputc('\n', f);
		for (i = 0; i < q->ndups; i++)
			fprintf(f, "dup\t%llu\t%s\t%s\t%s\t%.3f\n", (unsigned long long)q->ord[i],
				q->id[i], q->other[i], qn_rule_name(q->rule[i]), (double)q->value[i]);
	}
	for (i = 0; i < d->nlines; i++)
		fprintf(f, "line\t%016llx\n", (unsigned long long)d->lines[i]);
	fprintf(f, "end\t%d\t%llu\t%llu\n", d->nparts, (unsigned long long)d->ndups,
		(unsigned long long)d->nlines);
	if (fflush(f) || ferror(f))
		return qn_err_set(err, QN_EIO, "writing the duplicates list: %s", strerror(errno));
	return 0;
}

static int parse_hex128(const char *s, struct qn_hash128 *h)
{
	int i;
	uint64_t v[2] = { 0, 0 };

	for (i = 0; i < 32; i++) {
		int c = s[i], x;

		if (c >= '0' && c <= '9')
			x = c - '0';
		else if (c >= 'a' && c <= 'f')
			x = c - 'a' + 10;
		else
			return -1;
		v[i / 16] = v[i / 16] << 4 | (uint64_t)x;
	}
	if (s[32])
		return -1;
	h->hi = v[0];
	h->lo = v[1];
	return 0;
}

/* Splits line at tabs into at most max fields; returns the count. */
static int split(char *line, char **f, int max)
{
	int n = 0;

	f[n++] = line;
	while (n < max && (line = strchr(line, '\t')) != NULL) {
		*line++ = '\0';
		f[n++] = line;
	}
	return n;
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (!*s || *s == '-' || *s == '+' || *s == ' ')
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno || *end ? -1 : 0;
}

int qn_dups_read(FILE *f, const char *name, struct qn_dups *d, struct qn_err *err)
{
	char *line = NULL, *fld[8];
	size_t cap = 0;
	ssize_t len;
	long ln = 0;
	int nf, ended = 0, rc = 0;
	uint64_t want = 0, cap_l = 0;
	struct qn_part_dups *q = NULL;

	memset(d, 0, sizeof *d);
#define BAD(what) do { rc = qn_err_set(err, QN_EFORMAT, "%s:%ld: %s", name, ln, what); goto out; } while (0)
	while ((len = getline(&line, &cap, f)) > 0) {
		ln++;
		if (line[len - 1] != '\n')
			BAD("line without a newline (truncated?)");
		line[len - 1] = '\0';
		if ((size_t)len - 1 != strlen(line))
			BAD("NUL byte");
		if (ended)
			BAD("text after the end line");
		if (ln == 1) {
			if (strcmp(line, "quern-dedup duplicates 1"))
				BAD("not a quern-dedup duplicates list");
			continue;
		}
		nf = split(line, fld, 8);
		if (!strcmp(fld[0], "params")) {
			uint64_t v[5], seed;
			int i;

			if (nf != 7 || ln != 2)
				BAD("bad params line");
			for (i = 0; i < 5; i++)
				if (i != 2 && parse_u64(fld[1 + i], &v[i]))
					BAD("bad params line");
			if (parse_u64(fld[6], &seed) || v[0] < 1 || v[1] < 1 ||
			    v[0] > QN_DEDUP_MAX_HASHES || v[1] > QN_DEDUP_MAX_HASHES ||
			    v[0] * v[1] > QN_DEDUP_MAX_HASHES || v[3] < 1 || v[3] > 64 || v[4] > 7 ||
			    (strcmp(fld[3], "word") && strcmp(fld[3], "char")))
				BAD("bad params line");
			d->params.bands = (int)v[0];
			d->params.rows = (int)v[1];
			d->params.shingle = strcmp(fld[3], "word") ? QN_SHINGLE_CHAR : QN_SHINGLE_WORD;
			d->params.ngram = (int)v[3];
			d->params.norm = (int)v[4];
			d->params.seed = seed;
		} else if (!strcmp(fld[0], "part")) {
			if (ln < 3 || nf != 5 || (q && q->ndups != want) || d->nlines)
				BAD("bad part line");
			d->parts = qn_xrealloc(d->parts, (size_t)(d->nparts + 1) * sizeof *d->parts);
			q = &d->parts[d->nparts++];
			memset(q, 0, sizeof *q);
			if (parse_hex128(fld[1], &q->input_hash) || parse_u64(fld[2], &q->ndocs) ||
			    parse_u64(fld[3], &want) || want > q->ndocs)
				BAD("bad part line");
			q->name = qn_xstrdup(fld[4]);
			d->ndocs += q->ndocs;
		} else if (!strcmp(fld[0], "dup")) {
			uint64_t ord;
			char *end;
			double v;
			int rule;

			if (!q || nf != 6 || q->ndups >= want || parse_u64(fld[1], &ord) ||
			    ord >= q->ndocs || (q->ndups && ord <= q->ord[q->ndups - 1]))
				BAD("bad dup line");
			rule = !strcmp(fld[4], "dedup:exact") ? QN_RULE_EXACT :
			       !strcmp(fld[4], "dedup:minhash") ? QN_RULE_MINHASH : 0;
			errno = 0;
			v = strtod(fld[5], &end);
			if (!rule || errno || *end || end == fld[5] || !(v >= 0 && v <= 1) ||
			    !*fld[2] || !*fld[3])
				BAD("bad dup line");
			add_dup(q, ord, fld[2], fld[3], rule, v);
			d->ndups++;
		} else if (!strcmp(fld[0], "line")) {
			char *end;
			uint64_t h;

			if (nf != 2 || strlen(fld[1]) != 16 || (q && q->ndups != want))
				BAD("bad line line");
			errno = 0;
			h = strtoull(fld[1], &end, 16);
			if (errno || *end || (d->nlines && h <= d->lines[d->nlines - 1]) || fld[1][0] == '-')
				BAD("bad line line");
			if (d->nlines == cap_l) {
				cap_l = cap_l ? 2 * cap_l : 64;
				d->lines = qn_xrealloc(d->lines, cap_l * sizeof *d->lines);
			}
			d->lines[d->nlines++] = h;
		} else if (!strcmp(fld[0], "end")) {
			uint64_t np, nd, nl;

			if (nf != 4 || parse_u64(fld[1], &np) || parse_u64(fld[2], &nd) ||
			    parse_u64(fld[3], &nl) || np != (uint64_t)d->nparts || nd != d->ndups ||
			    nl != d->nlines || (q && q->ndups != want))
				BAD("end line does not match the list");
			ended = 1;
		} else {
			BAD("unknown line");
		}
	}
	if (ferror(f))
		BAD("read error");
	if (!ended) {
		ln++;
		BAD("no end line (truncated?)");
	}
#undef BAD
out:
	free(line);
	if (rc < 0)
		qn_dups_release(d);
	return rc;
}

int qn_dups_find(const struct qn_dups *d, struct qn_hash128 h)
{
	int p;

	for (p = 0; p < d->nparts; p++)
		if (eq128(d->parts[p].input_hash, h))
			return p;
	return -1;
}

int qn_dups_line(const struct qn_dups *d, uint64_t h)
{
	uint64_t lo = 0, hi = d->nlines;

	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;

		if (d->lines[mid] == h)
			return 1;
		if (d->lines[mid] < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}
