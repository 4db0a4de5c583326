/*
 * quern-dedup: remove exact and near duplicates, and repeated lines, from
 * document streams, and say in the manifest why each document went.
 *
 * Four ways to run it, all made of the same three steps (dedup.h):
 *
 *   quern-dedup -o OUT IN...          sign every IN into a temporary
 *                                     signature file, cluster, filter
 *   quern-dedup sign -o SIG IN        one part's signatures
 *   quern-dedup cluster -o DUPS SIG...  every part's signatures -> the list
 *   quern-dedup filter -d DUPS -o OUT IN  one part without its duplicates
 *
 * Signing runs on the ordered pool: the main thread reads documents in
 * batches, workers normalize, shingle and hash them and serialize their
 * records, and the main thread writes the records in input order, so a
 * signature file is the same for any -j.  Clustering and filtering are
 * sequential and depend only on the signature files and the inputs, so
 * the one-shot output is the map/reduce output byte for byte.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "dedup.h"
#include "docstream.h"
#include "err.h"
#include "hash.h"
#include "manifest.h"
#include "pool.h"
#include "progress.h"

#define MAX_ERRORS_DEFAULT 1000
#define MEM_DEFAULT ((uint64_t)2 << 30)
#define MIN_CHARS_DEFAULT 50

enum cmd { C_ALL, C_SIGN, C_CLUSTER, C_FILTER };
static const char *const cmd_name[] = { "dedup", "sign", "cluster", "filter" };

static struct {
	enum cmd cmd;
	const char *manifest, *output, *dups, *clusters, *index, *tmpdir, *keep_field;
	int threads, quiet, keep;
	struct qn_dedup_params params;
	int exact, near;
	long lines, min_chars, max_errors;
	int verify;
	double threshold;
	uint64_t mem, part_bytes;
} opt;

static struct {
	uint64_t docs, bytes, errors, kept, removed[3], lines_removed, modified, dropped_short;
} cnt;

static struct qn_manifest *manifest;
static char *failure;

static void fail(const char *msg)
{
	if (!failure)
		failure = qn_xstrdup(msg);
}

/* ---- signing ---- */

enum { BATCH_DOCS = 256, BATCH_BYTES = 4 << 20 };

struct batch {
	struct qn_doc *docs;
	int n, cap;
	size_t bytes;
	struct qn_buf out;	/* serialized records, in document order */
};

static struct qn_signer **signers;

/* The --keep value of d. */
static double keep_value(const struct qn_doc *d)
{
	const char *x, *p;
	char *key, *end;
	double v;

	if (opt.keep == QN_KEEP_LONGEST)
		return (double)d->text.len;
	if (opt.keep != QN_KEEP_META)
		return 0;
	/* The first member named FIELD among the other members, at any depth. */
	key = qn_xasprintf("\"%s\"", opt.keep_field);
	x = qn_buf_str(&d->extra);
	v = NAN;
	for (p = strstr(x, key); p; p = strstr(p + 1, key)) {
		const char *q = p + strlen(key);

		while (*q == ' ' || *q == '\t')
			q++;
		if (*q != ':')
			continue;
		q++;
		while (*q == ' ' || *q == '\t')
			q++;
		v = strtod(q, &end);
		if (end == q)
			v = NAN;
		break;
	}
	free(key);
	return v;
}

/* The id of d: its own, else the one its source and locator give. */
static void doc_id(const struct qn_doc *d, struct qn_buf *id)
{
	char hex[QN_HASH_HEX];

	if (d->has_id && d->id.len) {
		qn_buf_set(id, d->id.data, d->id.len);
		return;
	}
	qn_doc_id(qn_buf_str(&d->source), d->source.len, qn_buf_str(&d->locator),
		  d->locator.len, hex);
	qn_buf_set(id, hex, 32);
}

static void sign_work(void *ctx, void *vb, int worker)
{
	struct batch *b = vb;
	struct qn_buf id = QN_BUF_INIT;
	struct qn_docsig s;
	int i;

	(void)ctx;
	qn_buf_reset(&b->out);
	for (i = 0; i < b->n; i++) {
		struct qn_doc *d = &b->docs[i];

		qn_signer_sign(signers[worker], qn_buf_str(&d->text), d->text.len, &s);
		doc_id(d, &id);
		qn_sig_serialize(&b->out, &opt.params, id.data, id.len, d->text.len,
				 keep_value(d), &s);
	}
	qn_buf_release(&id);
}

static struct batch *batch_new(void)
{
	return qn_xcalloc(1, sizeof(struct batch));
}

static void batch_free(struct batch *b)
{
	int i;

	if (!b)
		return;
	for (i = 0; i < b->cap; i++)
		qn_doc_release(&b->docs[i]);
	free(b->docs);
	qn_buf_release(&b->out);
	free(b);
}

/* Counts one bad input line; fails the run past --max-errors. */
static void input_error(const char *msg, int warn)
{
	cnt.errors++;
	if (warn)
		qn_warnx("%s", msg);
	if (opt.max_errors >= 0 && cnt.errors > (uint64_t)opt.max_errors) {
		char *m = qn_xasprintf("more than %ld input errors", opt.max_errors);

		fail(m);
		free(m);
	}
}

/*
 * Signs the document stream at in into the signature file sigpath.
 * Returns 0, or -1 after fail().
 */
static int sign_file(const char *in, const char *sigpath, struct qn_progress *prog)
{
	struct qn_docreader *r;
	struct qn_sigwriter *w;
	struct qn_pool *pool;
	struct qn_hash128 h;
	struct batch *cur = NULL, *b, *spare = NULL;
	struct qn_err err;
	uint64_t size = 0;
	int rc, ok = 1;

	if (qn_hash_file(in, &h, &size, &err) < 0) {
		fail(err.msg);
		return -1;
	}
	if (!(r = qn_docreader_open(in, NULL, &err))) {
		fail(err.msg);
		return -1;
	}
	if (!(w = qn_sigwriter_open(sigpath, &opt.params, h, in, &err))) {
		qn_docreader_close(r);
		fail(err.msg);
		return -1;
	}
	pool = qn_pool_new(opt.threads, sign_work, NULL, 0);
	for (;;) {
		int more;

		if (!cur) {
			cur = spare ? spare : batch_new();
			spare = NULL;
			cur->n = 0;
			cur->bytes = 0;
		}
		if (cur->n == cur->cap) {
			int i;

			cur->cap = cur->cap ? 2 * cur->cap : 32;
			cur->docs = qn_xrealloc(cur->docs, (size_t)cur->cap * sizeof *cur->docs);
			for (i = cur->n; i < cur->cap; i++)
				qn_doc_init(&cur->docs[i]);
		}
		rc = qn_signalled ? 0 : qn_docreader_next(r, &cur->docs[cur->n], &err);
		if (rc == QN_EINPUT) {
			input_error(err.msg, 1);
			if (failure)
				break;
			continue;
		}
		if (rc < 0) {
			fail(err.msg);
			break;
		}
		if (rc == 1) {
			cnt.docs++;
			cnt.bytes += cur->docs[cur->n].text.len;
			cur->bytes += cur->docs[cur->n].text.len;
			cur->n++;
		}
		more = rc == 1;
		if (cur->n && (!more || cur->n >= BATCH_DOCS || cur->bytes >= BATCH_BYTES)) {
			if (qn_pool_full(pool)) {
				b = qn_pool_next(pool);
				if (ok && qn_sigwriter_add_raw(w, b->out.data, b->out.len,
							      (uint64_t)b->n, &err) < 0) {
					fail(err.msg);
					ok = 0;
				}
				spare = b;
			}
			qn_pool_submit(pool, cur);
			cur = NULL;
			if (prog)
				qn_progress_update(prog, cnt.docs, cnt.bytes);
		}
		if (!more)
			break;
	}
	while ((b = qn_pool_next(pool)) != NULL) {
		if (ok && !failure && qn_sigwriter_add_raw(w, b->out.data, b->out.len,
							   (uint64_t)b->n, &err) < 0) {
			fail(err.msg);
			ok = 0;
		}
		batch_free(b);
	}
	qn_pool_free(pool);
	batch_free(cur);
	batch_free(spare);
	if (qn_signalled)
		fail("interrupted by a signal");
	if (!failure && qn_sigwriter_commit(w, &err) < 0)
		fail(err.msg);
	qn_sigwriter_free(w);
	qn_docreader_close(r);
	if (!failure && manifest && qn_manifest_file_hashed(manifest, in, size, h, QN_INPUT, &err) < 0)
		fail(err.msg);
	return failure ? -1 : 0;
}

/* ---- filtering ---- */

/* Characters of text that are not white space (code points). */
static size_t visible_chars(const char *t, size_t n)
{
	size_t i, c = 0;

	for (i = 0; i < n; i++) {
		unsigned char b = (unsigned char)t[i];

		if ((b & 0xc0) == 0x80 || b == ' ' || (b >= 9 && b <= 13))
			continue;
		c++;
	}
	return c;
}

/*
 * Removes the listed lines from d's text.  Returns the number of lines
 * removed.
 */
static long strip_lines(struct qn_signer *s, const struct qn_dups *dl, struct qn_doc *d,
			struct qn_buf *tmp)
{
	const char *t = qn_buf_str(&d->text);
	size_t n = d->text.len, i = 0;
	long removed = 0;

	qn_buf_reset(tmp);
	while (i < n) {
		const char *e = memchr(t + i, '\n', n - i);
		size_t l = e ? (size_t)(e - (t + i)) : n - i;
		uint64_t h = qn_signer_line_hash(s, t + i, l);

		if (h && qn_dups_line(dl, h))
			removed++;
		else
			qn_buf_append(tmp, t + i, l + (e ? 1 : 0));
		i += l + 1;
	}
	if (removed)
		qn_buf_set(&d->text, tmp->data ? tmp->data : "", tmp->len);
	return removed;
}

static void event(const char *id, const char *kind, const char *rule, const char *value,
		  const char *other)
{
	struct qn_err err;

	if (manifest && qn_manifest_event(manifest, id, kind, rule, value, other, &err) < 0)
		fail(err.msg);
}

/*
 * Writes the documents of input in that survive part q of the list dl to w.
 * warn: report bad lines (not when signing already did).
 */
static int filter_file(const char *in, const struct qn_dups *dl, int q,
		       struct qn_docwriter *w, int warn, struct qn_progress *prog)
{
	const struct qn_part_dups *pd = &dl->parts[q];
	struct qn_docreader *r;
	struct qn_signer *s = NULL;
	struct qn_doc d;
	struct qn_buf id = QN_BUF_INIT, tmp = QN_BUF_INIT;
	struct qn_err err;
	uint64_t ord = 0, next = 0;
	char val[128];
	int rc;

	if (!(r = qn_docreader_open(in, NULL, &err))) {
		fail(err.msg);
		return -1;
	}
	if (dl->nlines)
		s = qn_signer_new(&dl->params);
	qn_doc_init(&d);
	while (!failure && (rc = qn_signalled ? QN_EIO : qn_docreader_next(r, &d, &err)) != 0) {
		if (rc == QN_EINPUT) {
			if (warn)	/* else signing counted it already */
				input_error(err.msg, 1);
			continue;
		}
		if (rc < 0) {
			fail(qn_signalled ? "interrupted by a signal" : err.msg);
			break;
		}
		if (!warn) {
			cnt.docs++;
			cnt.bytes += d.text.len;
		}
		doc_id(&d, &id);
		if (next < pd->ndups && pd->ord[next] == ord) {
			char *f = qn_dedup_field(id.data);

			if (strcmp(f, pd->id[next])) {
				char *m = qn_xasprintf("%s:%ld: document %llu is '%s', the duplicates "
						       "list says '%s': not the input that was signed",
						       qn_docreader_name(r), d.line,
						       (unsigned long long)ord, f, pd->id[next]);
				fail(m);
				free(m);
				free(f);
				break;
			}
			free(f);
			snprintf(val, sizeof val, "%.3f", (double)pd->value[next]);
			event(id.data, "duplicate", qn_rule_name(pd->rule[next]), val,
			      pd->other[next]);
			cnt.removed[pd->rule[next]]++;
			next++;
			ord++;
			continue;
		}
		ord++;
		if (s) {
			long k = strip_lines(s, dl, &d, &tmp);

			if (k) {
				size_t left = visible_chars(qn_buf_str(&d.text), d.text.len);

				cnt.lines_removed += (uint64_t)k;
				if (left < (size_t)opt.min_chars) {
					snprintf(val, sizeof val, "%ld lines removed, %zu < %ld chars left",
						 k, left, opt.min_chars);
					event(id.data, "drop", "dedup:lines", val, NULL);
					cnt.dropped_short++;
					continue;
				}
				snprintf(val, sizeof val, "%ld lines removed", k);
				event(id.data, "modify", "dedup:lines", val, NULL);
				cnt.modified++;
			}
		}
		if (qn_docwriter_write(w, &d, &err) < 0) {
			fail(err.msg);
			break;
		}
		cnt.kept++;
		if (prog && (ord & 1023) == 0)
			qn_progress_update(prog, ord, 0);
	}
	if (!failure && ord != pd->ndocs) {
		char *m = qn_xasprintf("%s: %llu documents, the duplicates list says %llu: not the "
				       "input that was signed", in, (unsigned long long)ord,
				       (unsigned long long)pd->ndocs);
		fail(m);
		free(m);
	}
	qn_doc_release(&d);
	qn_buf_release(&id);
	qn_buf_release(&tmp);
	qn_signer_free(s);
	qn_docreader_close(r);
	return failure ? -1 : 0;
}

/* ---- the index ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The signature files of the index directory, sorted by name. */
static char **index_list(const char *dir, int *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **v = NULL;
	int c = 0;

	*n = 0;
	if (!d) {
		if (errno == ENOENT)
			return NULL;
		qn_errx(QN_EXIT_FAIL, "%s: %s", dir, strerror(errno));
	}
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);

		if (l < 5 || strcmp(e->d_name + l - 4, ".sig") || e->d_name[0] == '.')
			continue;
		if (*n == c) {
			c = c ? 2 * c : 16;
			v = qn_xrealloc(v, (size_t)c * sizeof *v);
		}
		v[(*n)++] = qn_xasprintf("%s/%s", dir, e->d_name);
	}
	closedir(d);
	if (*n)
		qsort(v, (size_t)*n, sizeof *v, cmp_str);
	return v;
}

/* Copies src to dst (published by rename). */
static int copy_file(const char *src, const char *dst)
{
	char *tmp = qn_xasprintf("%s.tmp", dst), buf[1 << 16];
	FILE *a = fopen(src, "rb"), *b = a ? fopen(tmp, "wb") : NULL;
	size_t n;
	int ok = a && b;

	while (ok && (n = fread(buf, 1, sizeof buf, a)) > 0)
		ok = fwrite(buf, 1, n, b) == n;
	if (a && ferror(a))
		ok = 0;
	if (a)
		fclose(a);
	if (b && (fflush(b) || fsync(fileno(b)) || fclose(b)))
		ok = 0;
	if (ok && rename(tmp, dst) < 0)
		ok = 0;
	if (!ok)
		unlink(tmp);
	free(tmp);
	return ok ? 0 : -1;
}

/* ---- main ---- */

static void usage(void)
{
	printf("usage: quern-dedup [-m DB] -o OUT [options] IN...\n"
	       "       quern-dedup sign [-m DB] -o SIG [options] IN\n"
	       "       quern-dedup cluster [-m DB] -o DUPS [options] SIG...\n"
	       "       quern-dedup filter [-m DB] -d DUPS -o OUT [options] IN\n\n"
	       "Removes exact and near duplicates (MinHash LSH) and repeated lines from\n"
	       "document streams; every removed document is recorded in the manifest as a\n"
	       "duplicate of its survivor.\n\n"
	       "Options:\n"
	       "  -o, --output OUT        the output (stream, signature file or list)\n"
	       "  -m, --manifest DB       the manifest (default $QUERN_MANIFEST, else quern.db)\n"
	       "  -j, --threads N         signing threads (default 0: all cores)\n"
	       "  -q, --quiet             no progress meter and no summary\n"
	       "      --method LIST       exact, near, lines, comma-separated (default exact,near)\n"
	       "      --bands N           LSH bands (default 14)\n"
	       "      --rows N            rows per band (default 8)\n"
	       "      --shingle word:N|char:N  shingles (default word:5)\n"
	       "      --normalize LIST    nfc, lower, space, or none (default nfc,lower,space)\n"
	       "      --seed N            hash seed (default 1)\n"
	       "      --verify MODE       none, sig or exact (default none)\n"
	       "      --threshold X       similarity a verified duplicate needs (default 0.75)\n"
	       "      --keep POLICY       first, longest or meta:FIELD (default first)\n"
	       "      --lines N           remove lines in more than N documents (default 0: off)\n"
	       "      --min-chars N       drop documents left shorter by --lines (default 50)\n"
	       "      --clusters FILE     write every cluster to FILE\n"
	       "      --index DIR         deduplicate against, and add to, earlier signatures\n"
	       "      --mem SIZE          memory for sorting band keys (default 2G)\n"
	       "      --tmp-dir DIR       where to spill (default $TMPDIR, else /tmp)\n"
	       "      --part-bytes N      start a new output part after N bytes\n"
	       "      --max-errors N      fail after more than N bad input lines (default 1000)\n"
	       "  -d, --duplicates DUPS   the list for filter\n"
	       "  -h, --help              this help\n"
	       "  -V, --version           the version\n\n"
	       "See quern-dedup(1).\n");
}

static long count_arg(const char *name, const char *arg, long min)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < min)
		qn_usage_error("invalid count '%s' for %s", arg, name);
	return v;
}

static void parse_methods(const char *arg)
{
	char *s = qn_xstrdup(arg), *tok, *save = NULL;

	opt.exact = opt.near = 0;
	for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "exact"))
			opt.exact = 1;
		else if (!strcmp(tok, "near") || !strcmp(tok, "minhash"))
			opt.near = 1;
		else if (!strcmp(tok, "lines")) {
			if (!opt.lines)
				opt.lines = 10;
		} else
			qn_usage_error("unknown method '%s' (exact, near, lines)", tok);
	}
	free(s);
}

static void parse_norm(const char *arg)
{
	char *s = qn_xstrdup(arg), *tok, *save = NULL;

	opt.params.norm = 0;
	for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "nfc"))
			opt.params.norm |= QN_NORM_NFC;
		else if (!strcmp(tok, "lower"))
			opt.params.norm |= QN_NORM_LOWER;
		else if (!strcmp(tok, "space"))
			opt.params.norm |= QN_NORM_SPACE;
		else if (strcmp(tok, "none"))
			qn_usage_error("unknown normalization '%s' (nfc, lower, space, none)", tok);
	}
	free(s);
}

static void print_summary(void)
{
	uint64_t rm = cnt.removed[QN_RULE_EXACT] + cnt.removed[QN_RULE_MINHASH];

	fprintf(stderr, "%s: %llu documents (%.1f MB): kept %llu, removed %llu (%llu exact, "
		"%llu near)", qn_progname, (unsigned long long)cnt.docs, (double)cnt.bytes / 1e6,
		(unsigned long long)cnt.kept, (unsigned long long)rm,
		(unsigned long long)cnt.removed[QN_RULE_EXACT],
		(unsigned long long)cnt.removed[QN_RULE_MINHASH]);
	if (opt.lines)
		fprintf(stderr, "; %llu repeated lines removed from %llu documents, %llu dropped "
			"as too short", (unsigned long long)cnt.lines_removed,
			(unsigned long long)(cnt.modified + cnt.dropped_short),
			(unsigned long long)cnt.dropped_short);
	fprintf(stderr, "; %llu error%s\n", (unsigned long long)cnt.errors,
		cnt.errors == 1 ? "" : "s");
}

static void record_counters(const struct qn_dups *d)
{
	qn_manifest_count(manifest, "docs", (int64_t)cnt.docs);
	qn_manifest_count(manifest, "bytes", (int64_t)cnt.bytes);
	qn_manifest_count(manifest, "kept", (int64_t)cnt.kept);
	qn_manifest_count(manifest, "removed_exact", (int64_t)cnt.removed[QN_RULE_EXACT]);
	qn_manifest_count(manifest, "removed_near", (int64_t)cnt.removed[QN_RULE_MINHASH]);
	qn_manifest_count(manifest, "lines_removed", (int64_t)cnt.lines_removed);
	qn_manifest_count(manifest, "modified", (int64_t)cnt.modified);
	qn_manifest_count(manifest, "dropped_short", (int64_t)cnt.dropped_short);
	qn_manifest_count(manifest, "errors", (int64_t)cnt.errors);
	if (d) {
		qn_manifest_count(manifest, "clusters", (int64_t)d->nclusters);
		qn_manifest_count(manifest, "repeated_lines", (int64_t)d->nlines);
	}
}

static void cluster_opts(struct qn_cluster_opts *co, FILE *clusters, int nindex)
{
	memset(co, 0, sizeof *co);
	co->exact = opt.exact;
	co->near = opt.near;
	co->verify = opt.verify;
	co->threshold = opt.threshold;
	co->lines = opt.lines;
	co->mem = opt.mem;
	co->tmpdir = opt.tmpdir;
	co->clusters = clusters;
	co->nindex = nindex;
}

/* Makes a private scratch directory under --tmp-dir. */
static char *scratch_dir(void)
{
	char *d = qn_xasprintf("%s/quern-dedup.XXXXXX", opt.tmpdir);

	if (!mkdtemp(d))
		qn_errx(QN_EXIT_FAIL, "%s: %s", d, strerror(errno));
	return d;
}

/* Copies stdin into a file in dir (the steps read their input twice). */
static char *save_stdin(const char *dir)
{
	char *p = qn_xasprintf("%s/stdin", dir), buf[1 << 16];
	FILE *f = fopen(p, "wb");
	size_t n;

	if (!f)
		qn_errx(QN_EXIT_FAIL, "%s: %s", p, strerror(errno));
	while ((n = fread(buf, 1, sizeof buf, stdin)) > 0)
		if (fwrite(buf, 1, n, f) != n)
			qn_errx(QN_EXIT_FAIL, "%s: %s", p, strerror(errno));
	if (ferror(stdin) || fclose(f))
		qn_errx(QN_EXIT_FAIL, "reading stdin: %s", strerror(errno));
	return p;
}

int main(int argc, char **argv)
{
	enum {
		O_METHOD = 256, O_BANDS, O_ROWS, O_SHINGLE, O_NORM, O_SEED, O_VERIFY, O_THRESHOLD,
		O_KEEP, O_LINES, O_MIN_CHARS, O_CLUSTERS, O_INDEX, O_MEM, O_TMPDIR, O_PART_BYTES,
		O_MAX_ERRORS
	};
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "manifest", required_argument, NULL, 'm' },
		{ "threads", required_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "duplicates", required_argument, NULL, 'd' },
		{ "method", required_argument, NULL, O_METHOD },
		{ "bands", required_argument, NULL, O_BANDS },
		{ "rows", required_argument, NULL, O_ROWS },
		{ "shingle", required_argument, NULL, O_SHINGLE },
		{ "normalize", required_argument, NULL, O_NORM },
		{ "seed", required_argument, NULL, O_SEED },
		{ "verify", required_argument, NULL, O_VERIFY },
		{ "threshold", required_argument, NULL, O_THRESHOLD },
		{ "keep", required_argument, NULL, O_KEEP },
		{ "lines", required_argument, NULL, O_LINES },
		{ "min-chars", required_argument, NULL, O_MIN_CHARS },
		{ "clusters", required_argument, NULL, O_CLUSTERS },
		{ "index", required_argument, NULL, O_INDEX },
		{ "mem", required_argument, NULL, O_MEM },
		{ "tmp-dir", required_argument, NULL, O_TMPDIR },
		{ "part-bytes", required_argument, NULL, O_PART_BYTES },
		{ "max-errors", required_argument, NULL, O_MAX_ERRORS },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct qn_docwriter_opts wopts;
	struct qn_docwriter *writer = NULL;
	struct qn_cluster_opts co;
	struct qn_config cfg;
	struct qn_dups dl;
	struct qn_err err;
	struct qn_progress prog;
	FILE *clusters = NULL;
	char **ins, **sigs = NULL, **idx = NULL, *scratch = NULL, *end;
	const char *tool_cmd;
	int c, i, nin, nidx = 0, nsigs = 0, have_dl = 0;

	qn_cli_init(argc, argv);
	qn_catch_signals();
	memset(&dl, 0, sizeof dl);
	opt.cmd = C_ALL;
	if (argc > 1) {
		for (i = 1; i < 4; i++)
			if (!strcmp(argv[1], cmd_name[i])) {
				opt.cmd = (enum cmd)i;
				argv++;
				argc--;
				break;
			}
	}
	qn_dedup_params_default(&opt.params);
	opt.exact = opt.near = 1;
	opt.min_chars = MIN_CHARS_DEFAULT;
	opt.max_errors = MAX_ERRORS_DEFAULT;
	opt.threshold = 0.75;
	opt.mem = MEM_DEFAULT;
	opt.tmpdir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	while ((c = getopt_long(argc, argv, "o:m:j:qd:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'o': opt.output = optarg; break;
		case 'm': opt.manifest = optarg; break;
		case 'j': opt.threads = qn_parse_threads(optarg); break;
		case 'q': opt.quiet = 1; break;
		case 'd': opt.dups = optarg; break;
		case O_METHOD: parse_methods(optarg); break;
		case O_BANDS: opt.params.bands = (int)count_arg("--bands", optarg, 1); break;
		case O_ROWS: opt.params.rows = (int)count_arg("--rows", optarg, 1); break;
		case O_SHINGLE:
			if (!strncmp(optarg, "word:", 5))
				opt.params.shingle = QN_SHINGLE_WORD;
			else if (!strncmp(optarg, "char:", 5))
				opt.params.shingle = QN_SHINGLE_CHAR;
			else
				qn_usage_error("invalid shingle '%s' (word:N or char:N)", optarg);
			opt.params.ngram = (int)count_arg("--shingle", optarg + 5, 1);
			if (opt.params.ngram > 64)
				qn_usage_error("shingles of at most 64 words or characters");
			break;
		case O_NORM: parse_norm(optarg); break;
		case O_SEED:
			errno = 0;
			opt.params.seed = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end || *optarg == '-')
				qn_usage_error("invalid seed '%s'", optarg);
			break;
		case O_VERIFY:
			if (!strcmp(optarg, "none"))
				opt.verify = QN_VERIFY_NONE;
			else if (!strcmp(optarg, "sig"))
				opt.verify = QN_VERIFY_SIG;
			else if (!strcmp(optarg, "exact"))
				opt.verify = QN_VERIFY_EXACT;
			else
				qn_usage_error("invalid --verify '%s' (none, sig, exact)", optarg);
			break;
		case O_THRESHOLD:
			errno = 0;
			opt.threshold = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(opt.threshold > 0 && opt.threshold <= 1))
				qn_usage_error("invalid threshold '%s' (0 < X <= 1)", optarg);
			break;
		case O_KEEP:
			if (!strcmp(optarg, "first"))
				opt.keep = QN_KEEP_FIRST;
			else if (!strcmp(optarg, "longest"))
				opt.keep = QN_KEEP_LONGEST;
			else if (!strncmp(optarg, "meta:", 5) && optarg[5] &&
				 !strpbrk(optarg + 5, "\"\\")) {
				opt.keep = QN_KEEP_META;
				opt.keep_field = optarg + 5;
			} else
				qn_usage_error("invalid --keep '%s' (first, longest, meta:FIELD)", optarg);
			break;
		case O_LINES: opt.lines = count_arg("--lines", optarg, 0); break;
		case O_MIN_CHARS: opt.min_chars = count_arg("--min-chars", optarg, 0); break;
		case O_CLUSTERS: opt.clusters = optarg; break;
		case O_INDEX: opt.index = optarg; break;
		case O_MEM:
			if (qn_parse_size(optarg, &opt.mem) < 0 || opt.mem < (64 << 10))
				qn_usage_error("invalid size '%s' for --mem (at least 64k)", optarg);
			break;
		case O_TMPDIR: opt.tmpdir = optarg; break;
		case O_PART_BYTES:
			if (qn_parse_size(optarg, &opt.part_bytes) < 0)
				qn_usage_error("invalid size '%s' for --part-bytes", optarg);
			break;
		case O_MAX_ERRORS: opt.max_errors = count_arg("--max-errors", optarg, 0); break;
		case 'h': usage(); return qn_finish_stdout(QN_EXIT_OK);
		case 'V': qn_print_version();
		default: qn_usage_error("invalid option");
		}
	}
	if (!opt.threads)
		opt.threads = qn_ncores();
	if (opt.params.bands * opt.params.rows > QN_DEDUP_MAX_HASHES)
		qn_usage_error("bands * rows is at most %d", QN_DEDUP_MAX_HASHES);
	if (!opt.exact && !opt.near && !opt.lines)
		qn_usage_error("no method");
	if (opt.lines)
		opt.params.parts |= QN_SIG_LINES;
	if (opt.verify == QN_VERIFY_EXACT)
		opt.params.parts |= QN_SIG_SHINGLES;
	ins = argv + optind;
	nin = argc - optind;
	if (!opt.output)
		qn_usage_error("no output given (-o OUT)");
	if (nin < 1)
		qn_usage_error("no input given");
	if ((opt.cmd == C_SIGN || opt.cmd == C_FILTER) && nin != 1)
		qn_usage_error("%s takes one input", cmd_name[opt.cmd]);
	if (opt.cmd == C_FILTER && !opt.dups)
		qn_usage_error("filter needs the duplicates list (-d DUPS)");
	if (opt.cmd != C_FILTER && opt.dups)
		qn_usage_error("-d is for filter");
	for (i = 0; i < nin; i++)
		if (!strcmp(ins[i], "-") && (opt.cmd != C_ALL || nin > 1))
			qn_usage_error("'-' (stdin) only as the one input of the one-shot command");

	if (opt.cmd == C_ALL || opt.cmd == C_FILTER) {
		memset(&wopts, 0, sizeof wopts);
		wopts.part_bytes = opt.part_bytes;
		wopts.threads = opt.threads;
		if (!(writer = qn_docwriter_open(opt.output, &wopts, &err))) {
			if (err.code == QN_EUSAGE)
				qn_usage_error("%s", err.msg);
			qn_errx(QN_EXIT_FAIL, "%s", err.msg);
		}
	}
	if (!(manifest = qn_manifest_open(qn_manifest_path(opt.manifest), &err)))
		qn_errx(QN_EXIT_FAIL, "%s", err.msg);
	qn_config_init(&cfg);
	qn_config_str(&cfg, "command", cmd_name[opt.cmd]);
	qn_config_str(&cfg, "output", opt.output);
	qn_config_str(&cfg, "manifest", qn_manifest_path(opt.manifest));
	qn_config_int(&cfg, "threads", opt.threads);
	qn_config_bool(&cfg, "exact", opt.exact);
	qn_config_bool(&cfg, "near", opt.near);
	qn_config_int(&cfg, "bands", opt.params.bands);
	qn_config_int(&cfg, "rows", opt.params.rows);
	qn_config_str(&cfg, "shingle", opt.params.shingle == QN_SHINGLE_WORD ? "word" : "char");
	qn_config_int(&cfg, "ngram", opt.params.ngram);
	qn_config_int(&cfg, "normalize", opt.params.norm);
	qn_config_int(&cfg, "seed", (int64_t)opt.params.seed);
	qn_config_str(&cfg, "verify", opt.verify == QN_VERIFY_NONE ? "none" :
		      opt.verify == QN_VERIFY_SIG ? "sig" : "exact");
	{
		char t[32];

		snprintf(t, sizeof t, "%.3f", opt.threshold);
		qn_config_str(&cfg, "threshold", t);
	}
	qn_config_str(&cfg, "keep", opt.keep == QN_KEEP_FIRST ? "first" :
		      opt.keep == QN_KEEP_LONGEST ? "longest" : opt.keep_field);
	qn_config_int(&cfg, "lines", opt.lines);
	qn_config_int(&cfg, "min_chars", opt.min_chars);
	qn_config_int(&cfg, "mem", (int64_t)opt.mem);
	qn_config_str(&cfg, "index", opt.index ? opt.index : "");
	qn_config_str(&cfg, "duplicates", opt.dups ? opt.dups : "");
	qn_config_int(&cfg, "max_errors", opt.max_errors);
	tool_cmd = "quern-dedup";
	if (qn_manifest_run_begin(manifest, tool_cmd, qn_cli_argc, qn_cli_argv,
				  qn_config_json(&cfg), &err) < 0) {
		qn_config_release(&cfg);
		qn_manifest_close(manifest);
		qn_errx(QN_EXIT_FAIL, "%s", err.msg);
	}
	qn_config_release(&cfg);
	qn_progress_init(&prog, stderr, !opt.quiet, "docs", 0);

	if (opt.cmd == C_SIGN || opt.cmd == C_ALL) {
		signers = qn_xcalloc((size_t)opt.threads, sizeof *signers);
		for (i = 0; i < opt.threads; i++)
			signers[i] = qn_signer_new(&opt.params);
	}
	if (opt.cmd == C_SIGN) {
		if (sign_file(ins[0], opt.output, &prog) == 0 &&
		    qn_manifest_file(manifest, opt.output, QN_OUTPUT, &err) < 0)
			fail(err.msg);
	} else if (opt.cmd == C_ALL) {
		scratch = scratch_dir();
		if (nin == 1 && !strcmp(ins[0], "-"))
			ins[0] = save_stdin(scratch);
		if (opt.index) {
			idx = index_list(opt.index, &nidx);
		}
		sigs = qn_xcalloc((size_t)(nidx + nin), sizeof *sigs);
		for (i = 0; i < nidx; i++)
			sigs[nsigs++] = qn_xstrdup(idx[i]);
		for (i = 0; i < nin && !failure; i++) {
			sigs[nsigs] = qn_xasprintf("%s/%06d.sig", scratch, i);
			nsigs++;
			sign_file(ins[i], sigs[nsigs - 1], &prog);
		}
	} else if (opt.cmd == C_CLUSTER) {
		if (opt.index)
			idx = index_list(opt.index, &nidx);
		sigs = qn_xcalloc((size_t)(nidx + nin), sizeof *sigs);
		for (i = 0; i < nidx; i++)
			sigs[nsigs++] = qn_xstrdup(idx[i]);
		for (i = 0; i < nin; i++)
			sigs[nsigs++] = qn_xstrdup(ins[i]);
	}
	if (!failure && (opt.cmd == C_ALL || opt.cmd == C_CLUSTER)) {
		if (opt.clusters && !(clusters = fopen(opt.clusters, "w"))) {
			char *m = qn_xasprintf("%s: %s", opt.clusters, strerror(errno));

			fail(m);
			free(m);
		}
		cluster_opts(&co, clusters, nidx);
		if (!failure && qn_dedup_cluster(sigs, nsigs, &co, &dl, &err) < 0)
			fail(err.msg);
		else if (!failure)
			have_dl = 1;
		if (qn_signalled)
			fail("interrupted by a signal");
		if (clusters && fclose(clusters) && !failure)
			fail("writing the clusters file failed");
		if (!failure && opt.cmd == C_CLUSTER) {
			char *tmp = qn_xasprintf("%s.tmp", opt.output);
			FILE *f = fopen(tmp, "w");

			if (!f || qn_dups_write(&dl, f, &err) < 0 || fsync(fileno(f)) ||
			    fclose(f) || rename(tmp, opt.output) < 0) {
				char *m = qn_xasprintf("%s: %s", opt.output, strerror(errno));

				fail(m);
				free(m);
				unlink(tmp);
			} else if (qn_manifest_file(manifest, opt.output, QN_OUTPUT, &err) < 0) {
				fail(err.msg);
			}
			free(tmp);
			for (i = 0; i < nin && !failure; i++)
				if (qn_manifest_file(manifest, ins[i], QN_INPUT, &err) < 0)
					fail(err.msg);
		}
	}
	if (!failure && opt.cmd == C_FILTER) {
		FILE *f = fopen(opt.dups, "r");
		struct qn_hash128 h;
		int q;

		if (!f) {
			char *m = qn_xasprintf("%s: %s", opt.dups, strerror(errno));

			fail(m);
			free(m);
		} else if (qn_dups_read(f, opt.dups, &dl, &err) < 0) {
			fail(err.msg);
		} else {
			have_dl = 1;
		}
		if (f)
			fclose(f);
		if (!failure && qn_hash_file(ins[0], &h, NULL, &err) < 0)
			fail(err.msg);
		if (!failure && (q = qn_dups_find(&dl, h)) < 0) {
			char *m = qn_xasprintf("%s: not an input of the duplicates list %s",
					       ins[0], opt.dups);
			fail(m);
			free(m);
		}
		if (!failure) {
			opt.lines = dl.nlines ? 1 : opt.lines;
			filter_file(ins[0], &dl, q, writer, 1, &prog);
			if (!failure && (qn_manifest_file(manifest, ins[0], QN_INPUT, &err) < 0 ||
					 qn_manifest_file(manifest, opt.dups, QN_INPUT, &err) < 0))
				fail(err.msg);
		}
	}
	if (!failure && opt.cmd == C_ALL) {
		uint64_t docs = cnt.docs, bytes = cnt.bytes;

		for (i = 0; i < nin && !failure; i++)
			filter_file(ins[i], &dl, i, writer, 0, &prog);
		cnt.docs = docs;	/* counted when signing */
		cnt.bytes = bytes;
	}
	qn_progress_end(&prog);
	if (!failure && writer && qn_docwriter_commit(writer, &err) < 0)
		fail(err.msg);
	if (!failure && writer && strcmp(opt.output, "-")) {
		for (i = 0; i < qn_docwriter_nparts(writer) && !failure; i++)
			if (qn_manifest_file(manifest, qn_docwriter_part(writer, i), QN_OUTPUT,
					     &err) < 0)
				fail(err.msg);
	}
	if (!failure && opt.cmd == C_ALL && opt.index) {
		/* The new signatures join the index, numbered after the old ones. */
		if (mkdir(opt.index, 0777) < 0 && errno != EEXIST) {
			char *m = qn_xasprintf("%s: %s", opt.index, strerror(errno));

			fail(m);
			free(m);
		}
		for (i = 0; i < nin && !failure; i++) {
			char *dst = qn_xasprintf("%s/%06d.sig", opt.index, nidx + i);

			if (copy_file(sigs[nidx + i], dst) < 0) {
				char *m = qn_xasprintf("%s: %s", dst, strerror(errno));

				fail(m);
				free(m);
			}
			free(dst);
		}
	}
	if (manifest) {
		record_counters(have_dl ? &dl : NULL);
		if (failure) {
			qn_warnx("%s", failure);
			qn_manifest_run_end(manifest, 0, failure, NULL);
		} else if (qn_manifest_run_end(manifest, 1, NULL, &err) < 0) {
			fail(err.msg);
			qn_warnx("%s", failure);
		}
	}
	if (!failure && !opt.quiet) {
		if (opt.cmd == C_CLUSTER)
			fprintf(stderr, "%s: %llu documents, %llu clusters, %llu duplicates, "
				"%llu repeated lines\n", qn_progname, (unsigned long long)dl.ndocs,
				(unsigned long long)dl.nclusters, (unsigned long long)dl.ndups,
				(unsigned long long)dl.nlines);
		else if (opt.cmd == C_SIGN)
			fprintf(stderr, "%s: signed %llu documents (%.1f MB); %llu errors\n",
				qn_progname, (unsigned long long)cnt.docs, (double)cnt.bytes / 1e6,
				(unsigned long long)cnt.errors);
		else
			print_summary();
	}
	qn_dups_release(&dl);
	qn_docwriter_free(writer);
	qn_manifest_close(manifest);
	if (signers)
		for (i = 0; i < opt.threads; i++)
			qn_signer_free(signers[i]);
	free(signers);
	for (i = 0; i < nsigs; i++)
		free(sigs[i]);
	free(sigs);
	for (i = 0; i < nidx; i++)
		free(idx[i]);
	free(idx);
	if (scratch) {
		qn_remove_scratch_dir(scratch);
		free(scratch);
	}
	c = failure ? QN_EXIT_FAIL : QN_EXIT_OK;
	free(failure);
	return qn_finish_stdout(c);
}
