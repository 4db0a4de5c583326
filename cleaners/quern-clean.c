/*
 * quern-clean: normalize, identify the language of, filter and redact a
 * document stream, the second step of every quern pipeline.
 *
 * The steps and their rules live in cleaners/ (clean.h); this file is the
 * program around them.  Its shape is that of quern-collect: the main
 * thread reads documents in input order and packs them into batches;
 * workers of the ordered pool (lib/pool.h) clean each document and
 * serialize the survivors into their batch; the main thread takes the
 * batches back in submission order, writes the lines, records every
 * drop and change as a manifest event, and adds the measured values to
 * the run's histograms.  Nothing that reaches the output or the manifest
 * depends on which worker did what, so -j1 and -jN give the same bytes.
 *
 * Lines that are not documents (invalid JSON, no string "text") are
 * reported with file:line, counted, and recorded as "reject" events on
 * the id the line's position gives them (the input name and
 * "line=N"); past --max-errors the run fails.  Documents over
 * --max-doc-bytes are left out as "clean:too_large".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "buf.h"
#include "clean.h"
#include "cli.h"
#include "docstream.h"
#include "err.h"
#include "hash.h"
#include "manifest.h"
#include "pool.h"
#include "progress.h"

enum {
	BATCH_DOCS = 256,		/* documents per batch at most */
	BATCH_BYTES = 4 << 20		/* and text bytes */
};

#define MAX_DOC_BYTES_DEFAULT ((uint64_t)16 << 20)
#define MAX_ERRORS_DEFAULT 1000

static struct {
	const char *manifest, *output, *config, *rules, *measures;
	int threads, quiet, dry_run, profile;
	uint64_t max_doc_bytes, part_bytes;
	long max_errors;
} opt;

static struct qn_clean_config cfg;

/* ---- batches ---- */

enum item_kind { IT_DOC, IT_BAD, IT_TOO_LARGE };

struct item {
	enum item_kind kind;
	struct qn_doc doc;
	char *msg;			/* IT_BAD: the message; IT_TOO_LARGE: the value */
	const char *input;		/* the input's name in messages */
	char id[QN_HASH_HEX];		/* the id events name */
	uint64_t in_bytes;		/* text bytes read */
	struct qn_clean_result res;
	size_t json_off, json_len;	/* the output line in the batch's json, if kept */
	size_t meas_off, meas_len;	/* the --measures line in the batch's meas */
};

struct batch {
	struct item *items;
	int n, cap;
	uint64_t bytes;
	struct qn_buf json;
	struct qn_buf meas;	/* --measures lines */
};

static struct batch *batch_new(void)
{
	return qn_xcalloc(1, sizeof(struct batch));
}

static void batch_free(struct batch *b)
{
	int i;

	if (!b)
		return;
	for (i = 0; i < b->n; i++) {
		qn_doc_release(&b->items[i].doc);
		free(b->items[i].msg);
	}
	free(b->items);
	qn_buf_release(&b->json);
	qn_buf_release(&b->meas);
	free(b);
}

static struct item *batch_add(struct batch *b)
{
	struct item *it;

	if (b->n == b->cap) {
		b->cap = b->cap ? 2 * b->cap : BATCH_DOCS;
		b->items = qn_xrealloc(b->items, (size_t)b->cap * sizeof *b->items);
	}
	it = &b->items[b->n++];
	memset(it, 0, sizeof *it);
	qn_doc_init(&it->doc);
	return it;
}

/* ---- the document's meta member ---- */

static const char *skip_ws(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

static const char *skip_string(const char *p, const char *e)
{
	for (p++; p < e && *p != '"'; p++)
		if (*p == '\\')
			p++;
	return p < e ? p + 1 : e;
}

/* Skips one JSON value (already validated by the reader). */
static const char *skip_value(const char *p, const char *e)
{
	int depth = 0;

	if (p < e && *p == '"')
		return skip_string(p, e);
	if (p < e && (*p == '{' || *p == '[')) {
		while (p < e) {
			if (*p == '"') {
				p = skip_string(p, e);
				continue;
			}
			if (*p == '{' || *p == '[')
				depth++;
			else if ((*p == '}' || *p == ']') && --depth == 0)
				return p + 1;
			p++;
		}
		return e;
	}
	while (p < e && !strchr(",}] \t\n\r", *p))
		p++;
	return p;
}

/*
 * Walks the members of an object body (members separated by commas, no
 * braces); calls fn with each key (quotes included) and value span.
 */
typedef void (*member_fn)(void *ctx, const char *k, size_t kn, const char *v, size_t vn);

static void members(const char *p, const char *e, member_fn fn, void *ctx)
{
	for (;;) {
		const char *k, *ke, *v, *ve;

		p = skip_ws(p, e);
		if (p >= e || *p != '"')
			return;
		k = p;
		ke = skip_string(p, e);
		p = skip_ws(ke, e);
		if (p >= e || *p != ':')
			return;
		v = skip_ws(p + 1, e);
		ve = skip_value(v, e);
		fn(ctx, k, (size_t)(ke - k), v, (size_t)(ve - v));
		p = skip_ws(ve, e);
		if (p >= e || *p != ',')
			return;
		p++;
	}
}

struct meta_ctx {
	struct qn_buf *out;
	const char *lang;
	double score;
	int found, first;
};

static void meta_member(void *ctx, const char *k, size_t kn, const char *v, size_t vn)
{
	struct meta_ctx *m = ctx;

	if ((kn == 6 && !memcmp(k, "\"lang\"", 6)) || (kn == 12 && !memcmp(k, "\"lang_score\"", 12)))
		return;
	qn_buf_putc(m->out, ',');
	qn_buf_append(m->out, k, kn);
	qn_buf_putc(m->out, ':');
	qn_buf_append(m->out, v, vn);
}

static void put_lang(struct qn_buf *out, const char *lang, double score)
{
	qn_buf_puts(out, "{\"lang\":");
	qn_buf_append_json_str(out, lang, strlen(lang));
	qn_buf_appendf(out, ",\"lang_score\":%.3f", score);
}

static void top_member(void *ctx, const char *k, size_t kn, const char *v, size_t vn)
{
	struct meta_ctx *m = ctx;

	if (!m->first)
		qn_buf_putc(m->out, ',');
	m->first = 0;
	qn_buf_append(m->out, k, kn);
	qn_buf_putc(m->out, ':');
	if (kn == 6 && !memcmp(k, "\"meta\"", 6) && vn >= 2 && v[0] == '{') {
		struct meta_ctx inner = *m;

		m->found = 1;
		put_lang(m->out, m->lang, m->score);
		members(v + 1, v + vn - 1, meta_member, &inner);
		qn_buf_putc(m->out, '}');
	} else {
		if (kn == 6 && !memcmp(k, "\"meta\"", 6))
			m->found = 1;	/* not an object: left as it is */
		qn_buf_append(m->out, v, vn);
	}
}

/* Sets meta.lang and meta.lang_score in the document's other members. */
static void set_meta(struct qn_doc *d, const char *lang, double score, struct qn_buf *tmp)
{
	struct meta_ctx m = { tmp, lang, score, 0, 1 };
	const char *p = qn_buf_str(&d->extra);

	qn_buf_reset(tmp);
	members(p, p + d->extra.len, top_member, &m);
	if (!m.found) {
		qn_buf_puts(tmp, m.first ? "\"meta\":" : ",\"meta\":");
		put_lang(tmp, lang, score);
		qn_buf_putc(tmp, '}');
	}
	qn_buf_set(&d->extra, tmp->data, tmp->len);
}

/* ---- cleaning (on a worker) ---- */

static struct qn_cleaner **cleaners;
static struct qn_buf *scratch;

/*
 * One --measures line: the document's id, verdict, the rule that decided,
 * its language and every value measured, as
 * {"id":..,"verdict":"drop","rule":"gopher_quality:words","lang":"en",
 *  "m":{"gopher_quality:words":12,...}}.
 */
static void measures_line(const struct item *it, struct qn_buf *out)
{
	const struct qn_clean_result *r = &it->res;
	int k, first = 1;

	qn_buf_appendf(out, "{\"id\":\"%s\",\"verdict\":\"%s\",\"rule\":", it->id,
		       r->verdict == QN_KEEP ? "keep" : r->verdict == QN_DROP ? "drop" : "error");
	qn_buf_append_json_str(out, r->drop_name, strlen(r->drop_name));
	qn_buf_puts(out, ",\"lang\":");
	qn_buf_append_json_str(out, r->lang, strlen(r->lang));
	qn_buf_puts(out, ",\"m\":{");
	for (k = 0; k < QN_NMEASURES; k++) {
		if (!r->measured[k])
			continue;
		qn_buf_appendf(out, "%s\"%s:%s\":%.9g", first ? "" : ",", qn_measure_defs[k].step,
			       qn_measure_defs[k].name, r->m[k]);
		first = 0;
	}
	qn_buf_puts(out, "}}\n");
}

static void work(void *ctx, void *batch, int worker)
{
	struct batch *b = batch;
	int i;

	(void)ctx;
	for (i = 0; i < b->n; i++) {
		struct item *it = &b->items[i];

		if (it->kind != IT_DOC)
			continue;
		qn_cleaner_run(cleaners[worker], &it->doc.text, opt.dry_run, &it->res);
		if (opt.measures) {
			it->meas_off = b->meas.len;
			measures_line(it, &b->meas);
			it->meas_len = b->meas.len - it->meas_off;
		}
		if (it->res.verdict == QN_ERROR || (it->res.verdict == QN_DROP && !opt.dry_run))
			continue;
		if (it->res.lang[0])
			set_meta(&it->doc, it->res.lang, it->res.lang_score, &scratch[worker]);
		it->json_off = b->json.len;
		qn_doc_to_json(&it->doc, &b->json);
		it->json_len = b->json.len - it->json_off;
	}
}

/* ---- writing and recording (on the main thread) ---- */

static struct qn_pool *pool;
static struct qn_docwriter *writer;
static struct qn_manifest *manifest;
static struct qn_progress progress;
static struct batch *cur;
static char *failure;
static FILE *measures;

static struct {
	uint64_t docs_in, docs_out, dropped, modified, bytes_in, bytes_out, errors, too_large;
	uint64_t rule_drops[64];	/* by qn_rule_defs index */
	uint64_t pii[4], rules_hits;
	uint64_t hist[QN_NMEASURES][41];
	double step_seconds[QN_NSTEPS];
} cnt;

/* Drops by a rule outside the rule table ("langid:lang", "rules:NAME", ...). */
static struct other_drop {
	char name[80];
	uint64_t n;
} *other;
static int nother;

static void fail(const char *msg)
{
	if (!failure)
		failure = qn_xstrdup(msg);
}

static void count_other(const char *name)
{
	int i;

	for (i = 0; i < nother; i++)
		if (!strcmp(other[i].name, name))
			break;
	if (i == nother) {
		other = qn_xrealloc(other, (size_t)(nother + 1) * sizeof *other);
		snprintf(other[nother].name, sizeof other[nother].name, "%s", name);
		other[nother++].n = 0;
	}
	other[i].n++;
}

static void error_counted(void)
{
	if (++cnt.errors > (uint64_t)opt.max_errors) {
		char *m = qn_xasprintf("more than %ld errors (--max-errors), giving up", opt.max_errors);

		fail(m);
		free(m);
	}
}

static void consume(struct batch *b)
{
	struct qn_err err;
	int i, j, k;

	for (i = 0; i < b->n && !failure; i++) {
		struct item *it = &b->items[i];
		const struct qn_clean_result *r = &it->res;
		int rc = 0;

		if (it->kind == IT_BAD) {
			qn_warnx("%s", it->msg);
			rc = qn_manifest_event(manifest, it->id, "reject", "clean:invalid_input",
					       it->msg, NULL, &err);
			error_counted();
			if (rc)
				fail(err.msg);
			continue;
		}
		cnt.docs_in++;
		cnt.bytes_in += it->in_bytes;
		if (it->kind == IT_TOO_LARGE) {
			cnt.too_large++;
			count_other("clean:too_large");
			if (qn_manifest_event(manifest, it->id, "reject", "clean:too_large",
					      it->msg, NULL, &err) < 0)
				fail(err.msg);
			continue;
		}
		for (j = 0; j < r->nevents && !rc; j++)
			rc = qn_manifest_event(manifest, it->id, r->events[j].kind, r->events[j].rule,
					       r->events[j].value, NULL, &err);
		if (rc) {
			fail(err.msg);
			break;
		}
		if (measures && it->meas_len &&
		    fwrite(b->meas.data + it->meas_off, 1, it->meas_len, measures) != it->meas_len) {
			fail("--measures: write error");
			break;
		}
		for (k = 0; k < QN_NMEASURES; k++)
			if (r->measured[k])
				cnt.hist[k][qn_hist_bin(qn_measure_defs[k].hist, r->m[k])]++;
		for (k = 0; k < 4; k++)
			cnt.pii[k] += r->pii[k];
		cnt.rules_hits += r->rules_hits;
		for (k = 0; k < QN_NSTEPS; k++)
			cnt.step_seconds[k] += r->step_seconds[k];
		if (r->changed)
			cnt.modified++;
		if (r->verdict == QN_ERROR) {
			qn_warnx("%s:%ld: document %s: %s: %s", it->input, it->doc.line,
				 it->id, r->drop_name, r->nevents ? r->events[r->nevents - 1].value : "");
			error_counted();
			continue;
		}
		if (r->verdict == QN_DROP) {
			cnt.dropped++;
			if (r->drop_rule >= 0)
				cnt.rule_drops[r->drop_rule]++;
			else
				count_other(r->drop_name);
		}
		if (it->json_len) {
			if (qn_docwriter_write_json(writer, b->json.data + it->json_off, it->json_len,
						    &err) < 0) {
				fail(err.msg);
				break;
			}
			cnt.docs_out++;
			cnt.bytes_out += it->doc.text.len;
		}
	}
	qn_progress_update(&progress, cnt.docs_in, cnt.bytes_in);
	batch_free(b);
}

static void submit(void)
{
	if (!cur || !cur->n)
		return;
	if (qn_pool_full(pool))
		consume(qn_pool_next(pool));
	qn_pool_submit(pool, cur);
	cur = NULL;
}

/* Reads one input into batches. */
static void read_input(const char *path)
{
	struct qn_docreader_opts ro;
	struct qn_docreader *r;
	struct qn_err err;
	char locator[64];
	int rc;

	memset(&ro, 0, sizeof ro);
	if (!(r = qn_docreader_open(path, &ro, &err))) {
		fail(err.msg);
		return;
	}
	for (;;) {
		struct item *it;

		if (qn_signalled) {
			char *m = qn_xasprintf("interrupted by %s", strsignal(qn_signalled));

			fail(m);
			free(m);
			break;
		}
		if (!cur)
			cur = batch_new();
		it = batch_add(cur);
		it->input = strcmp(path, "-") ? path : "<stdin>";
		rc = qn_docreader_next(r, &it->doc, &err);
		if (rc == 0 || rc == QN_EIO || rc == QN_EFORMAT) {
			qn_doc_release(&it->doc);
			cur->n--;
			if (rc < 0)
				fail(err.msg);
			break;
		}
		if (rc == QN_EINPUT) {
			/* The line's number ends the message's "NAME:LINE:" prefix. */
			const char *name = qn_docreader_name(r);
			long line = 0;
			size_t nl = strlen(name);

			if (!strncmp(err.msg, name, nl) && err.msg[nl] == ':')
				line = strtol(err.msg + nl + 1, NULL, 10);
			snprintf(locator, sizeof locator, "line=%ld", line);
			it->kind = IT_BAD;
			it->msg = qn_xstrdup(err.msg);
			qn_doc_id(name, strlen(name), locator, strlen(locator), it->id);
		} else {
			it->in_bytes = it->doc.text.len;
			if (!it->doc.has_id) {
				/* An id from where the document came from, as DESIGN.md derives it. */
				const char *name = qn_docreader_name(r);

				if (it->doc.has_source) {
					qn_doc_id(it->doc.source.data, it->doc.source.len,
						  qn_buf_str(&it->doc.locator), it->doc.locator.len, it->id);
				} else {
					snprintf(locator, sizeof locator, "line=%ld", it->doc.line);
					qn_doc_id(name, strlen(name), locator, strlen(locator), it->id);
				}
				qn_buf_set(&it->doc.id, it->id, 32);
				it->doc.has_id = 1;
			} else {
				snprintf(it->id, sizeof it->id, "%.32s", qn_buf_str(&it->doc.id));
			}
			if (it->doc.text.len > opt.max_doc_bytes) {
				it->kind = IT_TOO_LARGE;
				it->msg = qn_xasprintf("%zu bytes > %llu", it->doc.text.len,
						       (unsigned long long)opt.max_doc_bytes);
				qn_buf_release(&it->doc.text);
			}
			cur->bytes += it->in_bytes;
		}
		if (cur->n >= BATCH_DOCS || cur->bytes >= BATCH_BYTES)
			submit();
		if (failure)
			break;
	}
	qn_docreader_close(r);
}

/* ---- main ---- */

static void usage(void)
{
	printf("usage: quern-clean [-m DB] -o OUT [-j N] [-q] [--config FILE] [--set NAME=VALUE]...\n"
	       "                   [--lang LIST] [--min-lang-score X] [--no-STEP]... [--nfkc]\n"
	       "                   [--rules FILE] [--dry-run] [--max-doc-bytes N] [--part-bytes N]\n"
	       "                   [--max-errors N] [--measures FILE] [--list-params] [--profile] IN...\n\n"
	       "Cleans a document stream: normalizes the text, identifies its language,\n"
	       "applies the Gopher, C4 and FineWeb filters, masks personal data and applies\n"
	       "your own rules.  Every drop and change is recorded in the manifest.\n\n"
	       "Options:\n"
	       "  -o, --output OUT        the stream to write (.zst, .gz, plain; - is stdout;\n"
	       "                          a name with %%05d for parts with --part-bytes)\n"
	       "  -m, --manifest DB       the manifest (default $QUERN_MANIFEST, else quern.db)\n"
	       "  -j, --threads N         worker threads (default 0: all cores)\n"
	       "  -q, --quiet             no progress meter and no summary\n"
	       "  -c, --config FILE       'name = value' lines, as --set (read first)\n"
	       "  -s, --set NAME=VALUE    set a parameter (see --list-params); off disables\n"
	       "      --lang LIST         keep only these languages (CLD2 codes: en,de)\n"
	       "      --min-lang-score X  drop below this language score (default 0.65)\n"
	       "      --no-STEP           turn a step off: --no-normalize, --no-langid,\n"
	       "                          --no-gopher-repetition, --no-gopher-quality,\n"
	       "                          --no-c4, --no-fineweb, --no-pii\n"
	       "      --nfkc              NFKC instead of NFC\n"
	       "      --rules FILE        a rules file of PCRE2 patterns (see quern-clean(1))\n"
	       "  -n, --dry-run           measure and record, drop nothing\n"
	       "      --max-doc-bytes N   leave out documents over N bytes (default 16M)\n"
	       "      --part-bytes N      start a new output part after N bytes\n"
	       "      --max-errors N      fail after more than N bad lines (default 1000)\n"
	       "      --list-params       print every parameter and its default, and exit\n"
	       "      --profile           print each step's share of the time on stderr\n"
	       "      --measures FILE     write every document's measured values and verdict\n"
	       "                          as JSON lines (- for stdout)\n"
	       "  -h, --help              this help\n"
	       "  -V, --version           the version\n\n"
	       "See quern-clean(1).\n");
}

static void list_params(void)
{
	int i;

	for (i = 0; i < QN_NPARAMS; i++) {
		double v = cfg.p[i];

		if (isnan(v))
			printf("%-40s off\t%s\n", qn_param_defs[i].name, qn_param_defs[i].help);
		else
			printf("%-40s %g\t%s\n", qn_param_defs[i].name, v, qn_param_defs[i].help);
	}
}

static uint64_t size_arg(const char *name, const char *arg, int zero_ok)
{
	uint64_t v;

	if (qn_parse_size(arg, &v) < 0 || (!zero_ok && v == 0))
		qn_usage_error("invalid size '%s' for %s", arg, name);
	return v;
}

static void set_param(const char *name, const char *value)
{
	struct qn_err err;

	if (qn_clean_config_set(&cfg, name, value, &err) < 0)
		qn_usage_error("%s", err.msg);
}

static void print_summary(void)
{
	int i, first = 1;

	fprintf(stderr, "%s: %llu document%s in (%.1f MB), %llu out (%.1f MB)%s, %llu modified",
		qn_progname, (unsigned long long)cnt.docs_in, cnt.docs_in == 1 ? "" : "s",
		(double)cnt.bytes_in / 1e6, (unsigned long long)cnt.docs_out,
		(double)cnt.bytes_out / 1e6, opt.dry_run ? " (dry run)" : "",
		(unsigned long long)cnt.modified);
	for (i = 0; i < qn_nrule_defs; i++) {
		const struct qn_rule_def *r = &qn_rule_defs[i];
		uint64_t n = cnt.rule_drops[i];

		/* A value with a minimum and a maximum has two rules of one name. */
		while (i + 1 < qn_nrule_defs && qn_rule_defs[i + 1].m == r->m &&
		       !strcmp(qn_rule_defs[i + 1].name, r->name))
			n += cnt.rule_drops[++i];
		if (!n)
			continue;
		fprintf(stderr, "%s%llu %s:%s", first ? "; dropped: " : ", ",
			(unsigned long long)n, qn_measure_defs[r->m].step, r->name);
		first = 0;
	}
	for (i = 0; i < nother; i++) {
		fprintf(stderr, "%s%llu %s", first ? "; dropped: " : ", ",
			(unsigned long long)other[i].n, other[i].name);
		first = 0;
	}
	fprintf(stderr, "; %llu error%s\n", (unsigned long long)cnt.errors, cnt.errors == 1 ? "" : "s");
}

/*
 * The steps' CPU time (each worker measures its own thread's), their
 * shares, and the rest of the process's CPU time: reading, decompressing
 * and parsing the input, writing the output, the manifest.
 */
static void print_profile(double wall)
{
	struct rusage ru;
	double total = 0, cpu = 0;
	int i;

	if (getrusage(RUSAGE_SELF, &ru) == 0)
		cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 +
		      (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
	for (i = 0; i < QN_NSTEPS; i++)
		total += cnt.step_seconds[i];
	fprintf(stderr, "%s: profile: %.1f MB in %.3f s wall, %.1f MB/s; %.3f s CPU, %.1f MB per CPU second; "
		"steps %.3f s CPU\n",
		qn_progname, (double)cnt.bytes_in / 1e6, wall,
		wall > 0 ? (double)cnt.bytes_in / 1e6 / wall : 0, cpu,
		cpu > 0 ? (double)cnt.bytes_in / 1e6 / cpu : 0, total);
	for (i = 0; i < QN_NSTEPS; i++)
		fprintf(stderr, "%s: profile: %-18s %7.3f s %5.1f%%\n", qn_progname, qn_step_names[i],
			cnt.step_seconds[i], cpu > 0 ? 100 * cnt.step_seconds[i] / cpu : 0);
	fprintf(stderr, "%s: profile: %-18s %7.3f s %5.1f%%\n", qn_progname, "other",
		cpu > total ? cpu - total : 0, cpu > total ? 100 * (cpu - total) / cpu : 0);
}

static void record_counters(void)
{
	char name[160], label[32];
	int i, k, b;

	qn_manifest_count(manifest, "docs_in", (int64_t)cnt.docs_in);
	qn_manifest_count(manifest, "docs_out", (int64_t)cnt.docs_out);
	qn_manifest_count(manifest, "docs_dropped", (int64_t)cnt.dropped);
	qn_manifest_count(manifest, "docs_modified", (int64_t)cnt.modified);
	qn_manifest_count(manifest, "bytes_in", (int64_t)cnt.bytes_in);
	qn_manifest_count(manifest, "bytes_out", (int64_t)cnt.bytes_out);
	qn_manifest_count(manifest, "errors", (int64_t)cnt.errors);
	qn_manifest_count(manifest, "skipped_too_large", (int64_t)cnt.too_large);
	for (i = 0; i < qn_nrule_defs; i++) {
		const struct qn_rule_def *r = &qn_rule_defs[i];

		if (!cnt.rule_drops[i])
			continue;
		snprintf(name, sizeof name, "drop:%s:%s", qn_measure_defs[r->m].step, r->name);
		qn_manifest_count(manifest, name, (int64_t)cnt.rule_drops[i]);
	}
	for (i = 0; i < nother; i++) {
		snprintf(name, sizeof name, "drop:%s", other[i].name);
		qn_manifest_count(manifest, name, (int64_t)other[i].n);
	}
	{
		static const char *const kinds[4] = { "email", "ip", "phone", "card" };

		for (i = 0; i < 4; i++) {
			snprintf(name, sizeof name, "pii:%s", kinds[i]);
			qn_manifest_count(manifest, name, (int64_t)cnt.pii[i]);
		}
	}
	qn_manifest_count(manifest, "rules_hits", (int64_t)cnt.rules_hits);
	for (k = 0; k < QN_NMEASURES; k++) {
		const struct qn_measure_def *m = &qn_measure_defs[k];

		for (b = 0; b < qn_hist_bins(m->hist); b++) {
			if (!cnt.hist[k][b])
				continue;
			qn_hist_label(m->hist, b, label, sizeof label);
			snprintf(name, sizeof name, "hist:%s:%s:%s", m->step, m->name, label);
			qn_manifest_count(manifest, name, (int64_t)cnt.hist[k][b]);
		}
	}
}

int main(int argc, char **argv)
{
	enum {
		O_LANG = 256, O_MIN_LANG_SCORE, O_NFKC, O_RULES, O_MAX_DOC_BYTES,
		O_PART_BYTES, O_MAX_ERRORS, O_LIST, O_PROFILE,
		O_NO_NORMALIZE, O_NO_LANGID, O_NO_GREP, O_NO_GQ, O_NO_C4, O_NO_FINEWEB,
		O_NO_PII, O_MEASURES
	};
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "manifest", required_argument, NULL, 'm' },
		{ "threads", required_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "config", required_argument, NULL, 'c' },
		{ "set", required_argument, NULL, 's' },
		{ "lang", required_argument, NULL, O_LANG },
		{ "min-lang-score", required_argument, NULL, O_MIN_LANG_SCORE },
		{ "nfkc", no_argument, NULL, O_NFKC },
		{ "rules", required_argument, NULL, O_RULES },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "max-doc-bytes", required_argument, NULL, O_MAX_DOC_BYTES },
		{ "part-bytes", required_argument, NULL, O_PART_BYTES },
		{ "max-errors", required_argument, NULL, O_MAX_ERRORS },
		{ "list-params", no_argument, NULL, O_LIST },
		{ "profile", no_argument, NULL, O_PROFILE },
		{ "no-normalize", no_argument, NULL, O_NO_NORMALIZE },
		{ "no-langid", no_argument, NULL, O_NO_LANGID },
		{ "no-gopher-repetition", no_argument, NULL, O_NO_GREP },
		{ "no-gopher-quality", no_argument, NULL, O_NO_GQ },
		{ "no-c4", no_argument, NULL, O_NO_C4 },
		{ "no-fineweb", no_argument, NULL, O_NO_FINEWEB },
		{ "no-pii", no_argument, NULL, O_NO_PII },
		{ "measures", required_argument, NULL, O_MEASURES },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	static const char shortopts[] = "o:m:j:qc:s:nhV";
	struct qn_docwriter_opts wopts;
	struct qn_config qcfg;
	struct qn_err err;
	struct batch *b;
	int c, i, nin, stdin_seen = 0, list = 0;
	char **ins, *end;
	double t0;

	qn_cli_init(argc, argv);
	qn_catch_signals();
	qn_clean_config_init(&cfg);
	opt.max_doc_bytes = MAX_DOC_BYTES_DEFAULT;
	opt.max_errors = MAX_ERRORS_DEFAULT;
	/* The config file first, so that flags override it wherever they stand. */
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1)
		if (c == 'c')
			opt.config = optarg;
	if (opt.config && qn_clean_config_file(&cfg, opt.config, &err) < 0) {
		if (err.code == QN_EUSAGE)
			qn_usage_error("%s", err.msg);
		qn_errx(QN_EXIT_FAIL, "%s", err.msg);
	}
	opterr = 1;
	optind = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		switch (c) {
		case 'o': opt.output = optarg; break;
		case 'm': opt.manifest = optarg; break;
		case 'j': opt.threads = qn_parse_threads(optarg); break;
		case 'q': opt.quiet = 1; break;
		case 'c': break;
		case 's': {
			char *eq = strchr(optarg, '='), *name;

			if (!eq)
				qn_usage_error("--set wants NAME=VALUE, not '%s'", optarg);
			name = qn_xstrndup(optarg, (size_t)(eq - optarg));
			set_param(name, eq + 1);
			free(name);
			break;
		}
		case O_LANG: qn_clean_config_langs(&cfg, optarg); break;
		case O_MIN_LANG_SCORE: set_param("langid.min_score", optarg); break;
		case O_NFKC: cfg.p[P_NFKC] = 1; break;
		case O_RULES: opt.rules = optarg; break;
		case 'n': opt.dry_run = 1; break;
		case O_MAX_DOC_BYTES: opt.max_doc_bytes = size_arg("--max-doc-bytes", optarg, 0); break;
		case O_PART_BYTES: opt.part_bytes = size_arg("--part-bytes", optarg, 1); break;
		case O_MAX_ERRORS:
			errno = 0;
			opt.max_errors = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || opt.max_errors < 0)
				qn_usage_error("invalid count '%s' for --max-errors", optarg);
			break;
		case O_LIST: list = 1; break;
		case O_PROFILE: opt.profile = 1; break;
		case O_NO_NORMALIZE: cfg.p[P_NORMALIZE] = 0; break;
		case O_NO_LANGID: cfg.p[P_LANGID] = 0; break;
		case O_NO_GREP: cfg.p[P_GOPHER_REP] = 0; break;
		case O_NO_GQ: cfg.p[P_GOPHER_QUALITY] = 0; break;
		case O_NO_C4: cfg.p[P_C4] = 0; break;
		case O_NO_FINEWEB: cfg.p[P_FINEWEB] = 0; break;
		case O_NO_PII: cfg.p[P_PII] = 0; break;
		case O_MEASURES: opt.measures = optarg; break;
		case 'h': usage(); return qn_finish_stdout(QN_EXIT_OK);
		case 'V': qn_print_version();
		default: qn_usage_error("invalid option");
		}
	}
	if (list) {
		list_params();
		qn_clean_config_release(&cfg);
		return qn_finish_stdout(QN_EXIT_OK);
	}
	if (!opt.threads)
		opt.threads = qn_ncores();
	ins = argv + optind;
	nin = argc - optind;
	if (!opt.output)
		qn_usage_error("no output given (-o OUT)");
	if (nin < 1)
		qn_usage_error("no input given");
	for (i = 0; i < nin; i++)
		if (!strcmp(ins[i], "-") && stdin_seen++)
			qn_usage_error("'-' (stdin) given more than once");
	if (opt.rules && !(cfg.rules = qn_rules_load(opt.rules, &err))) {
		if (err.code == QN_EUSAGE)
			qn_usage_error("%s", err.msg);
		qn_errx(QN_EXIT_FAIL, "%s", err.msg);
	}

	memset(&wopts, 0, sizeof wopts);
	wopts.part_bytes = opt.part_bytes;
	wopts.threads = opt.threads;
	if (!(writer = qn_docwriter_open(opt.output, &wopts, &err))) {
		if (err.code == QN_EUSAGE)
			qn_usage_error("%s", err.msg);
		qn_errx(QN_EXIT_FAIL, "%s", err.msg);
	}
	if (!(manifest = qn_manifest_open(qn_manifest_path(opt.manifest), &err)))
		qn_errx(QN_EXIT_FAIL, "%s", err.msg);
	if (opt.measures && !(measures = !strcmp(opt.measures, "-") ? stdout : fopen(opt.measures, "w")))
		qn_errx(QN_EXIT_FAIL, "%s: %s", opt.measures, strerror(errno));

	qn_config_init(&qcfg);
	qn_config_str(&qcfg, "output", opt.output);
	qn_config_str(&qcfg, "manifest", qn_manifest_path(opt.manifest));
	qn_config_int(&qcfg, "threads", opt.threads);
	qn_config_bool(&qcfg, "quiet", opt.quiet);
	qn_config_bool(&qcfg, "dry_run", opt.dry_run);
	qn_config_str(&qcfg, "config", opt.config ? opt.config : "");
	qn_config_str(&qcfg, "rules", opt.rules ? opt.rules : "");
	qn_config_str(&qcfg, "measures", opt.measures ? opt.measures : "");
	qn_config_int(&qcfg, "rules_count", qn_rules_count(cfg.rules));
	qn_config_strv(&qcfg, "lang", cfg.langs, cfg.nlangs);
	qn_config_int(&qcfg, "max_doc_bytes", (int64_t)opt.max_doc_bytes);
	qn_config_int(&qcfg, "part_bytes", (int64_t)opt.part_bytes);
	qn_config_int(&qcfg, "max_errors", opt.max_errors);
	for (i = 0; i < QN_NPARAMS; i++) {
		char v[64];

		if (isnan(cfg.p[i]))
			snprintf(v, sizeof v, "off");
		else
			snprintf(v, sizeof v, "%.17g", cfg.p[i]);
		qn_config_str(&qcfg, qn_param_defs[i].name, v);
	}
	if (qn_manifest_run_begin(manifest, "quern-clean", qn_cli_argc, qn_cli_argv,
				  qn_config_json(&qcfg), &err) < 0) {
		qn_config_release(&qcfg);
		qn_manifest_close(manifest);
		qn_errx(QN_EXIT_FAIL, "%s", err.msg);
	}
	qn_config_release(&qcfg);

	cleaners = qn_xcalloc((size_t)opt.threads, sizeof *cleaners);
	scratch = qn_xcalloc((size_t)opt.threads, sizeof *scratch);
	for (i = 0; i < opt.threads; i++) {
		cleaners[i] = qn_cleaner_new(&cfg);
		qn_cleaner_timing(cleaners[i], opt.profile);
	}
	pool = qn_pool_new(opt.threads, work, NULL, 0);
	qn_progress_init(&progress, stderr, !opt.quiet, "docs", 0);
	t0 = qn_now();
	for (i = 0; i < nin && !failure; i++)
		read_input(ins[i]);
	if (!failure)
		submit();
	batch_free(cur);
	cur = NULL;
	while ((b = qn_pool_next(pool)) != NULL) {
		if (failure)
			batch_free(b);
		else
			consume(b);
	}
	qn_pool_free(pool);
	qn_progress_end(&progress);
	t0 = qn_now() - t0;

	if (measures && measures != stdout && (fflush(measures) || ferror(measures)))
		fail("--measures: write error");
	if (measures && measures != stdout)
		fclose(measures);
	for (i = 0; i < nin && !failure; i++) {
		struct stat st;

		if (strcmp(ins[i], "-") && stat(ins[i], &st) == 0 && S_ISREG(st.st_mode) &&
		    qn_manifest_file(manifest, ins[i], QN_INPUT, &err) < 0)
			fail(err.msg);
	}
	record_counters();
	/*
	 * The manifest's bulk (the events, inputs and counters) is written
	 * before the output is published, so a manifest that cannot take it
	 * (a full disk) fails the run with nothing published.  What is left
	 * after publishing (the outputs' rows and the status) is one small
	 * transaction.
	 */
	if (!failure && qn_manifest_flush(manifest, &err) < 0)
		fail(err.msg);
	if (!failure && qn_docwriter_commit(writer, &err) < 0)
		fail(err.msg);
	if (!failure && strcmp(opt.output, "-")) {
		for (i = 0; i < qn_docwriter_nparts(writer) && !failure; i++)
			if (qn_manifest_file(manifest, qn_docwriter_part(writer, i), QN_OUTPUT, &err) < 0)
				fail(err.msg);
	}
	if (failure) {
		qn_warnx("%s", failure);
		qn_manifest_run_end(manifest, 0, failure, NULL);
	} else if (qn_manifest_run_end(manifest, 1, NULL, &err) < 0) {
		fail(err.msg);
		qn_warnx("%s", failure);
	}
	if (!failure && !opt.quiet)
		print_summary();
	if (!failure && opt.profile)
		print_profile(t0);

	qn_docwriter_free(writer);
	qn_manifest_close(manifest);
	for (i = 0; i < opt.threads; i++) {
		qn_cleaner_free(cleaners[i]);
		qn_buf_release(&scratch[i]);
	}
	free(cleaners);
	free(scratch);
	free(other);
	qn_clean_config_release(&cfg);
	c = failure ? QN_EXIT_FAIL : QN_EXIT_OK;
	free(failure);
	return qn_finish_stdout(c);
}
