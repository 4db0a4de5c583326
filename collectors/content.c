/*
 * content.c: from one input file to its documents.
 *
 * A file is read once, as a stream, through libarchive (every archive
 * format quern takes and every compression filter) unless its first bytes
 * show a WARC, which the WARC reader takes from the raw bytes so it can
 * skip corrupt gzip members.  What libarchive gives is one of:
 *
 *   - the members of an archive: each is read into memory (up to
 *     --max-doc-bytes) and handed to content(), which looks at its bytes
 *     again, so archives and compressed files inside archives are opened
 *     in turn, to --max-depth;
 *   - the decompressed bytes of a single stream ("raw" format): a JSONL
 *     document stream or a WARC is read on as a stream; anything else is
 *     read into memory and handed to content().
 *
 * content() ends at a document: text is converted to UTF-8 (charset.c),
 * HTML reduced to its main text (html.c), and the document's JSON line
 * appended to the batch.  Every document and every thing left out gets a
 * result, with a locator that says how it was reached: the chain of
 * "filter=NAME" and "member=NAME" steps from the file down, then
 * "line=N" for a JSONL line or "warc=...;offset=N;record=ID" for a WARC
 * record (whose document's source is its target URI).  Member names are
 * only ever text in the locator, never paths: nothing is written to disk.
 *
 * Bombs: every byte a decompressor produces counts against the file's
 * budget, max-ratio times the stored bytes read so far plus 1 MiB; past
 * it the file is given up as a "bomb".  No single text may pass
 * --max-doc-bytes either.
 */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libdeflate.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "charset.h"
#include "collect.h"
#include "docstream.h"
#include "err.h"
#include "hash.h"
#include "html.h"
#include "json.h"
#include "utf8.h"
#include "warc.h"

enum {
	SNIFF_BYTES = 64 << 10,		/* a NUL in these first bytes: binary */
	READ_CHUNK = 256 << 10,		/* read() size for input files */
	TEXT_CHUNK = 256 << 10,		/* archive_read_data() size */
	BOMB_FLOOR = 1 << 20		/* bytes any file may expand to */
};

/* Standard input is read whole, up to this or 16 times --max-doc-bytes. */
#define STDIN_MAX ((uint64_t)1 << 30)

const char *const reason_name[NREASONS] = {
	"empty", "binary", "invalid_utf8", "too_large", "bomb", "depth",
	"truncated", "corrupt", "bad_record",
	"symlink", "loop", "special"
};

struct collect_limits limits = { (uint64_t)64 << 20, 200, 4 };
int collect_shortcuts = 1;
enum html_parser collect_html_parser = HTML_PARSER_QUERN;

/* Per-worker scratch, reused from file to file. */
struct scratch {
	struct qn_doc doc;
	struct qn_json *json;
	struct qn_buf text, conv, html, title, meta, line;
	/* the input file */
	int fd;
	uint64_t size;		/* its size if known (a regular file, or stdin read whole) */
	int regular;		/* a regular file: libarchive may seek in it */
	struct qn_hasher *hasher;
	uint64_t raw;
	int seeked, raw_eof;
	const unsigned char *peek;	/* the bytes read ahead: buf, or whole */
	size_t peek_len, peek_pos;	/* bytes in peek, and how many handed out */
	unsigned char *whole;		/* a file read whole, when larger than buf */
	size_t whole_cap;
	struct libdeflate_decompressor *inflater;	/* gzip files read whole */
	unsigned char *gz;		/* what they decompress to */
	size_t gz_cap;
	unsigned char buf[READ_CHUNK + 1];	/* + 1: a NUL after a whole file */
};

struct scratch *scratch_new(void)
{
	struct scratch *s = qn_xcalloc(1, sizeof *s);

	s->json = qn_json_new();
	return s;
}

void scratch_free(struct scratch *s)
{
	if (!s)
		return;
	qn_doc_release(&s->doc);
	qn_json_free(s->json);
	qn_buf_release(&s->text);
	qn_buf_release(&s->conv);
	qn_buf_release(&s->html);
	qn_buf_release(&s->title);
	qn_buf_release(&s->meta);
	qn_buf_release(&s->line);
	free(s->whole);
	free(s->gz);
	libdeflate_free_decompressor(s->inflater);
	free(s);
}

void item_release(struct item *it)
{
	int i;

	free(it->path);
	free(it->source);
	free(it->abspath);
	free(it->error);
	for (i = 0; i < it->nres; i++) {
		free(it->res[i].source);
		free(it->res[i].locator);
		free(it->res[i].msg);
	}
	free(it->res);
}

/* What one file is being read with. */
struct ctx {
	struct item *it;
	struct scratch *s;
	struct collect_out *out;
	struct qn_buf loc;	/* the locator so far */
	uint64_t expanded;	/* bytes produced by decompression */
	int stop;		/* a bomb: give up the file */
};

/* ---- the output: memory, then a spill file ---- */

void collect_out_init(struct collect_out *o, size_t spill_at)
{
	memset(o, 0, sizeof *o);
	o->fd = -1;
	o->spill_at = spill_at;
}

/* Empties o for another batch, keeping its memory; the spill file goes. */
void collect_out_reset(struct collect_out *o)
{
	qn_buf_reset(&o->json);
	if (o->fd >= 0)
		close(o->fd);
	o->fd = -1;
	o->spilled = 0;
	free(o->error);
	o->error = NULL;
}

void collect_out_release(struct collect_out *o)
{
	if (!o)
		return;
	collect_out_reset(o);
	qn_buf_release(&o->json);
}

/* An unlinked file in $TMPDIR (or /tmp), read and write; -1 with errno set. */
static int spill_file(const char *dir)
{
	char *name;
	int fd, e;

#ifdef O_TMPFILE
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
#endif
	/* No O_TMPFILE in this kernel or file system: a name, unlinked at once. */
	name = qn_xasprintf("%s/quern-collect-XXXXXX", dir);
	fd = mkostemp(name, O_CLOEXEC);
	e = errno;
	if (fd >= 0)
		unlink(name);
	free(name);
	errno = e;
	return fd;
}

/*
 * Moves the lines in memory to the spill file once they are spill_at
 * bytes or more.  A failure (no space left) is kept in o->error for the
 * main thread to fail the run with; the lines are dropped then, so that
 * memory stays bounded anyway.
 */
static void spill_maybe(struct ctx *c)
{
	struct collect_out *o = c->out;
	const char *dir;

	if (!o->spill_at || o->json.len < o->spill_at)
		return;
	if (o->error) {
		qn_buf_reset(&o->json);
		return;
	}
	dir = getenv("TMPDIR");
	if (!dir || !*dir)
		dir = "/tmp";
	if (o->fd < 0 && (o->fd = spill_file(dir)) < 0) {
		o->error = qn_xasprintf("%s: cannot make a temporary file in %s for its documents: %s",
					c->it->path, dir, strerror(errno));
		qn_buf_reset(&o->json);
		return;
	}
	if (qn_write_all(o->fd, o->json.data, o->json.len) < 0)
		o->error = qn_xasprintf("%s: cannot write its documents to a temporary file in %s: %s",
					c->it->path, dir, strerror(errno));
	o->spilled += o->json.len;
	qn_buf_reset(&o->json);
}

const char *collect_out_line(struct collect_out *o, size_t off, size_t len, struct qn_buf *tmp)
{
	size_t got = 0;

	if (off >= o->spilled)
		return o->json.data + (off - o->spilled);
	qn_buf_reset(tmp);
	qn_buf_grow(tmp, len);
	while (got < len) {
		ssize_t r = pread(o->fd, tmp->data + got, len - got, (off_t)(off + got));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (!r)
				errno = EIO;	/* shorter than written */
			return NULL;
		}
		got += (size_t)r;
	}
	tmp->len = len;
	tmp->data[len] = '\0';
	return tmp->data;
}

/* d's JSON line, appended to the output as r's; may spill. */
static void put_doc(struct ctx *c, struct result *r, const struct qn_doc *d)
{
	struct collect_out *o = c->out;

	r->json_off = (size_t)(o->spilled + o->json.len);
	qn_doc_to_json(d, &o->json);
	r->json_len = (size_t)(o->spilled + o->json.len) - r->json_off;
	spill_maybe(c);
}

/* ---- results ---- */

static struct result *add_result_at(struct ctx *c, enum outcome o, const char *source,
				    const char *locator)
{
	struct item *it = c->it;
	struct result *r;

	if (it->nres == it->capres) {
		it->capres = it->capres ? 2 * it->capres : 4;
		it->res = qn_xrealloc(it->res, (size_t)it->capres * sizeof *it->res);
	}
	r = &it->res[it->nres++];
	memset(r, 0, sizeof *r);
	r->outcome = o;
	r->source = source ? qn_xstrdup(source) : NULL;
	r->locator = qn_xstrdup(locator);
	source = source ? source : it->source;
	qn_doc_id(source, strlen(source), r->locator, strlen(r->locator), r->id);
	return r;
}

static struct result *add_result(struct ctx *c, enum outcome o, const char *source)
{
	return add_result_at(c, o, source, qn_buf_str(&c->loc));
}

static void skip(struct ctx *c, const char *source, enum reason why, int error,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void skip(struct ctx *c, const char *source, enum reason why, int error,
		 const char *fmt, ...)
{
	struct result *r = add_result(c, R_SKIP, source);
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	/* Messages come from input (libarchive, headers): keep them UTF-8. */
	if (!qn_utf8_valid(s, strlen(s))) {
		char *p;

		for (p = s; *p; p++)
			if ((unsigned char)*p >= 0x80)
				*p = '?';
	}
	r->reason = why;
	r->error = error;
	r->msg = s;
}

/* Appends "key=value" to the locator, ';'-separated; returns the old length. */
static size_t loc_push(struct ctx *c, const char *key, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t old = c->loc.len;
	const unsigned char *p;

	if (c->loc.len)
		qn_buf_putc(&c->loc, ';');
	qn_buf_puts(&c->loc, key);
	qn_buf_putc(&c->loc, '=');
	/* ';', '%' and bytes that are not printable UTF-8 as %XX. */
	for (p = (const unsigned char *)value; *p; p++) {
		if (*p < 0x20 || *p == 0x7f || *p == ';' || *p == '%' ||
		    (*p >= 0x80 && !qn_utf8_valid(value, strlen(value)))) {
			qn_buf_putc(&c->loc, '%');
			qn_buf_putc(&c->loc, hex[*p >> 4]);
			qn_buf_putc(&c->loc, hex[*p & 15]);
		} else {
			qn_buf_putc(&c->loc, (char)*p);
		}
	}
	return old;
}

static void loc_pop(struct ctx *c, size_t old)
{
	c->loc.len = old;
	if (c->loc.data)
		c->loc.data[old] = '\0';
}

/* Counts n more decompressed bytes; 1 (and c->stop) past the budget. */
static int expand(struct ctx *c, uint64_t n)
{
	uint64_t raw = c->s->raw > c->s->size ? c->s->raw : c->s->size;

	if (!raw)
		raw = 1;

	c->expanded += n;
	if (!c->stop && c->expanded > limits.max_ratio * raw + BOMB_FLOOR) {
		skip(c, NULL, SK_BOMB, 0, "expands to over %llu bytes from %llu (more than %llu times)",
		     (unsigned long long)c->expanded, (unsigned long long)raw,
		     (unsigned long long)limits.max_ratio);
		c->stop = 1;
	}
	return c->stop;
}

/* truncated or corrupt, from libarchive's message. */
static enum reason broken(const char *why)
{
	return why && (strcasestr(why, "truncat") || strcasestr(why, "premature") ||
		       strcasestr(why, "unexpected end")) ? SK_TRUNCATED : SK_CORRUPT;
}

/* ---- documents ---- */

/* Appends ,"key":"value" (a JSON string) to the meta object being built. */
static void meta_str(struct qn_buf *m, const char *key, const char *v, size_t n)
{
	qn_buf_appendf(m, "%s\"%s\":", m->len ? "," : "", key);
	if (qn_utf8_valid(v, n)) {
		qn_buf_append_json_str(m, v, n);
	} else {
		qn_buf_append_json_str(m, "", 0);
	}
}

/* Hints about a text from where it was found. */
struct hints {
	const char *name;		/* member or file name, for the .html test */
	const char *charset;		/* declared by HTTP */
	const char *content_type;	/* from HTTP or WARC */
	const char *source;		/* the document's source if not the item's */
	struct qn_buf *meta;		/* meta members already known (WARC), or NULL */
};

static int name_is_html(const char *name)
{
	const char *dot = name ? strrchr(name, '.') : NULL;

	return dot && (!strcasecmp(dot, ".html") || !strcasecmp(dot, ".htm") ||
		       !strcasecmp(dot, ".xhtml") || !strcasecmp(dot, ".shtml"));
}

static int type_is_html(const char *ct)
{
	return ct && (!strncasecmp(ct, "text/html", 9) || !strncasecmp(ct, "application/xhtml", 17));
}

/* A Content-Type that is not text of any kind. */
static int type_not_text(const char *ct)
{
	if (!ct || !*ct)
		return 0;
	return strncasecmp(ct, "text/", 5) && !type_is_html(ct) &&
	       strncasecmp(ct, "application/json", 16) && strncasecmp(ct, "application/xml", 15) &&
	       strncasecmp(ct, "application/javascript", 22) && strncasecmp(ct, "message/", 8);
}

/* Text p[0..n), no NUL in its first bytes: a document, converted and extracted. */
static void text_doc(struct ctx *c, const char *p, size_t n, const struct hints *h)
{
	struct scratch *s = c->s;
	struct cs_result cs;
	struct result *r;
	struct qn_doc *d = &s->doc;
	struct qn_buf kept;
	int html, plain_utf8;
	const char *t;
	size_t tn;

	html = type_is_html(h->content_type) || (!h->content_type && name_is_html(h->name)) ||
	       ((!h->content_type || !*h->content_type) && html_sniff(p, n));
	if (cs_to_utf8(p, n, h->charset, html, &s->conv, &cs) < 0) {
		size_t bad = qn_utf8_check(p, n);

		skip(c, h->source, SK_INVALID_UTF8, 0, "invalid UTF-8 at offset %zu, charset unknown", bad);
		return;
	}
	t = cs.converted ? s->conv.data : p + cs.skip;
	tn = cs.converted ? s->conv.len : n - cs.skip;
	/* Converted UTF-16 may hold NULs that the sniffing could not see. */
	if (cs.converted && memchr(t, '\0', tn)) {
		skip(c, h->source, SK_BINARY, 0, "NUL character at offset %zu after conversion from %s",
		     (size_t)((const char *)memchr(t, '\0', tn) - t), cs.name);
		return;
	}
	plain_utf8 = !html && !strcmp(cs.name, "UTF-8") && !cs.replaced && !h->meta;
	qn_buf_reset(&s->meta);
	if (h->meta)
		qn_buf_append(&s->meta, h->meta->data, h->meta->len);
	if (html) {
		qn_buf_reset(&s->html);
		if (html_extract_with(collect_html_parser, t, tn, &s->html, &s->title) < 0) {
			skip(c, h->source, SK_CORRUPT, 0, "HTML could not be parsed");
			return;
		}
		t = s->html.data ? s->html.data : "";
		tn = s->html.len;
		meta_str(&s->meta, "format", "html", 4);
		if (s->title.len)
			meta_str(&s->meta, "title", s->title.data, s->title.len);
		if (!tn) {
			skip(c, h->source, SK_EMPTY, 0, "no text left after HTML extraction");
			return;
		}
	}
	if (!plain_utf8) {
		meta_str(&s->meta, "charset", cs.name, strlen(cs.name));
		if (cs.replaced)
			qn_buf_appendf(&s->meta, ",\"replaced\":%llu", (unsigned long long)cs.replaced);
	}
	r = add_result(c, R_DOC, h->source);
	r->text_bytes = tn;
	qn_buf_set(&d->id, r->id, 32);
	qn_buf_set(&d->source, h->source ? h->source : c->it->source,
		   strlen(h->source ? h->source : c->it->source));
	qn_buf_set(&d->locator, r->locator, strlen(r->locator));
	qn_buf_reset(&d->extra);
	if (s->meta.len) {
		qn_buf_puts(&d->extra, "\"meta\":{");
		qn_buf_append(&d->extra, s->meta.data, s->meta.len);
		qn_buf_putc(&d->extra, '}');
	}
	d->has_id = d->has_source = d->has_locator = 1;
	/* The text is lent to the document, not copied: qn_doc_to_json only reads it. */
	kept = d->text;
	d->text.data = (char *)t;
	d->text.len = tn;
	d->text.cap = tn + 1;
	put_doc(c, r, d);
	d->text = kept;
	if (s->conv.cap > 4 * (size_t)TEXT_CHUNK + limits.max_doc_bytes / 4)
		qn_buf_release(&s->conv);
}

/* ---- JSONL document streams ---- */

/* Whether p[0..n) starts with a JSON line that is a document. */
static int jsonl_sniff(struct ctx *c, const char *p, size_t n)
{
	const char *nl;
	size_t len, i = 0;
	struct qn_err err;
	int ok;

	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
		i++;
	if (i == n || p[i] != '{')
		return 0;
	nl = memchr(p + i, '\n', n - i);
	len = nl ? (size_t)(nl - p - i) : n - i;
	qn_buf_set(&c->s->line, p + i, len);
	qn_buf_grow(&c->s->line, QN_JSON_PADDING);
	ok = !qn_json_parse_doc(c->s->json, c->s->line.data, len, &c->s->doc, &err);
	return ok;
}

/* One JSONL line (number lineno): its document, kept as it is, or a bad_record. */
static void jsonl_line(struct ctx *c, const char *p, size_t n, long lineno)
{
	struct scratch *s = c->s;
	struct qn_doc *d = &s->doc;
	struct qn_err err;
	struct result *r;
	char num[32];
	size_t old;
	const char *src;

	while (n && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (!n)
		return;
	snprintf(num, sizeof num, "%ld", lineno);
	qn_buf_set(&s->line, p, n);
	qn_buf_grow(&s->line, QN_JSON_PADDING);
	if (qn_json_parse_doc(s->json, s->line.data, n, d, &err) < 0) {
		old = loc_push(c, "line", num);
		skip(c, NULL, SK_BAD_RECORD, 0, "line %ld: %s", lineno, err.msg);
		loc_pop(c, old);
		return;
	}
	/*
	 * A document keeps its id, source and locator.  One without an id gets
	 * one from its source (else this file) and locator (else the line).
	 */
	src = d->has_source ? qn_buf_str(&d->source) : c->it->source;
	old = loc_push(c, "line", num);
	r = add_result_at(c, R_DOC, src == c->it->source ? NULL : src,
			  d->has_locator ? qn_buf_str(&d->locator) : qn_buf_str(&c->loc));
	if (d->has_id && d->id.len == 32 && strspn(d->id.data, "0123456789abcdef") == 32)
		memcpy(r->id, d->id.data, 32);
	else if (d->has_id) {
		/* An id that is not ours: kept in the document, the manifest gets the hash of it. */
		qn_doc_id(d->id.data, d->id.len, "", 0, r->id);
	}
	if (!d->has_id) {
		qn_buf_set(&d->id, r->id, 32);
		d->has_id = 1;
		if (!d->has_source) {
			qn_buf_set(&d->source, src, strlen(src));
			d->has_source = 1;
		}
		if (!d->has_locator) {
			qn_buf_set(&d->locator, r->locator, strlen(r->locator));
			d->has_locator = 1;
		}
	}
	r->text_bytes = d->text.len;
	put_doc(c, r, d);
	loc_pop(c, old);
}

/* Every line of p[0..n) from line first on; returns the bytes taken (complete lines, all if last). */
static size_t jsonl_lines(struct ctx *c, const char *p, size_t n, long *lineno, int last)
{
	size_t i = 0;

	while (i < n) {
		const char *nl = memchr(p + i, '\n', n - i);

		if (!nl && !last)
			break;
		(*lineno)++;
		jsonl_line(c, p + i, nl ? (size_t)(nl - p - i) : n - i, *lineno);
		i = nl ? (size_t)(nl - p) + 1 : n;
	}
	return i;
}

/* ---- WARC ---- */

static void content(struct ctx *c, const char *p, size_t n, int depth, const struct hints *h);

static void warc_read_all(struct ctx *c, warc_read_fn fn, void *fctx, int depth)
{
	struct warc_reader *w = warc_open(fn, fctx, limits.max_doc_bytes + (64 << 10));
	struct warc_record rec;
	struct qn_err err;
	struct qn_buf meta = QN_BUF_INIT;
	char *chain = qn_xstrdup(qn_buf_str(&c->loc));
	size_t base = c->loc.len;
	int rc;

	/* The document's source is the target URI: the WARC file's goes first in the locator. */
	qn_buf_reset(&c->loc);
	loc_push(c, "warc", c->it->source);
	if (*chain) {
		qn_buf_putc(&c->loc, ';');
		qn_buf_puts(&c->loc, chain);
	}
	while (!c->stop && (rc = warc_next(w, &rec, &err)) != 0) {
		char off[32];
		size_t old = c->loc.len;
		struct hints h;

		if (rc == QN_EIO) {
			skip(c, NULL, SK_TRUNCATED, 1, "read error in WARC");
			break;
		}
		if (rc == QN_EINPUT) {
			/* "offset N: what": the offset goes into the locator. */
			char *colon = strchr(err.msg, ':');
			const char *num = err.msg + 7;

			if (!strncmp(err.msg, "offset ", 7) && colon) {
				*colon = '\0';
				loc_push(c, "offset", num);
				skip(c, NULL, strstr(colon + 1, "truncated") ? SK_TRUNCATED :
				     strstr(colon + 1, "gzip") ? SK_CORRUPT : SK_BAD_RECORD,
				     1, "WARC:%s", colon + 1);
			} else {
				skip(c, NULL, SK_BAD_RECORD, 1, "WARC: %s", err.msg);
			}
			loc_pop(c, old);
			continue;
		}
		if (strcmp(rec.type, "response") && strcmp(rec.type, "conversion") &&
		    strcmp(rec.type, "resource"))
			continue;	/* request, metadata, warcinfo, revisit: no document */
		snprintf(off, sizeof off, "%llu", (unsigned long long)rec.offset);
		loc_push(c, "offset", off);
		loc_push(c, "record", rec.record_id);
		memset(&h, 0, sizeof h);
		h.source = *rec.target_uri ? rec.target_uri : NULL;
		qn_buf_reset(&meta);
		meta_str(&meta, "warc_type", rec.type, strlen(rec.type));
		if (*rec.date)
			meta_str(&meta, "warc_date", rec.date, strlen(rec.date));
		h.meta = &meta;
		if (rec.too_large) {
			skip(c, h.source, SK_TOO_LARGE, 0, "record over %llu bytes",
			     (unsigned long long)limits.max_doc_bytes);
		} else if (rec.http_status) {
			char cs[CS_NAME_MAX];

			qn_buf_appendf(&meta, ",\"http_status\":%d", rec.http_status);
			if (*rec.http_content_type)
				meta_str(&meta, "content_type", rec.http_content_type,
					 strlen(rec.http_content_type));
			h.content_type = rec.http_content_type;
			if (!cs_content_type_charset(rec.http_content_type, cs))
				h.charset = cs;
			/* Redirects and errors have no content. */
			if (rec.http_status >= 200 && rec.http_status <= 299) {
				if (rec.http_coding_failed)
					skip(c, h.source, SK_CORRUPT, 0, "Content-Encoding %s could not be undone",
					     rec.http_content_encoding);
				else
					content(c, rec.payload, rec.payload_len, depth + 1, &h);
			}
		} else {
			char cs[CS_NAME_MAX];

			if (strncasecmp(rec.content_type, "application/http", 16)) {
				h.content_type = rec.content_type;
				if (!cs_content_type_charset(rec.content_type, cs))
					h.charset = cs;
				if (*rec.content_type)
					meta_str(&meta, "content_type", rec.content_type,
						 strlen(rec.content_type));
			}
			content(c, rec.block, rec.block_len, depth + 1, &h);
		}
		loc_pop(c, old);
	}
	qn_buf_set(&c->loc, chain, base);
	free(chain);
	qn_buf_release(&meta);
	warc_close(w);
}

struct memsrc {
	const char *p;
	size_t n, pos;
};

static long mem_read(void *ctx, void *buf, size_t n)
{
	struct memsrc *m = ctx;

	if (n > m->n - m->pos)
		n = m->n - m->pos;
	memcpy(buf, m->p + m->pos, n);
	m->pos += n;
	return (long)n;
}

/* ---- archives ---- */

static const char *filter_name(int code)
{
	switch (code) {
	case ARCHIVE_FILTER_GZIP: return "gzip";
	case ARCHIVE_FILTER_BZIP2: return "bzip2";
	case ARCHIVE_FILTER_COMPRESS: return "compress";
	case ARCHIVE_FILTER_LZMA: return "lzma";
	case ARCHIVE_FILTER_XZ: return "xz";
	case ARCHIVE_FILTER_UU: return "uu";
	case ARCHIVE_FILTER_RPM: return "rpm";
	case ARCHIVE_FILTER_LZIP: return "lzip";
	case ARCHIVE_FILTER_LRZIP: return "lrzip";
	case ARCHIVE_FILTER_LZOP: return "lzop";
	case ARCHIVE_FILTER_GRZIP: return "grzip";
	case ARCHIVE_FILTER_LZ4: return "lz4";
	case ARCHIVE_FILTER_ZSTD: return "zstd";
	default: return "other";
	}
}

/* "filter=xz,gzip": libarchive's filters, outermost first; none for plain bytes. */
static void push_filters(struct ctx *c, struct archive *a)
{
	int i, n = archive_filter_count(a), first = 1;

	for (i = n - 1; i >= 0; i--) {
		if (archive_filter_code(a, i) == ARCHIVE_FILTER_NONE)
			continue;
		if (first) {
			if (c->loc.len)
				qn_buf_putc(&c->loc, ';');
			qn_buf_puts(&c->loc, "filter=");
		} else {
			qn_buf_putc(&c->loc, ',');
		}
		qn_buf_puts(&c->loc, filter_name(archive_filter_code(a, i)));
		first = 0;
	}
}

static int has_filter(struct archive *a)
{
	int i;

	for (i = 0; i < archive_filter_count(a); i++)
		if (archive_filter_code(a, i) != ARCHIVE_FILTER_NONE)
			return 1;
	return 0;
}

static struct archive *new_reader(int raw_too)
{
	struct archive *a = archive_read_new();

	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	archive_read_support_format_zip(a);
	archive_read_support_format_7zip(a);
	archive_read_support_format_cpio(a);
	archive_read_support_format_ar(a);
	archive_read_support_format_iso9660(a);
	archive_read_support_format_rar(a);
	archive_read_support_format_rar5(a);
	archive_read_support_format_xar(a);
	archive_read_support_format_cab(a);
	archive_read_support_format_lha(a);
	if (raw_too) {
		archive_read_support_format_raw(a);
		archive_read_support_format_empty(a);
	}
	return a;
}

static int is_raw(struct archive *a)
{
	return archive_format(a) == ARCHIVE_FORMAT_RAW || archive_format(a) == ARCHIVE_FORMAT_EMPTY;
}

/* A reader of one stream as its bytes, undoing any compression on the way. */
static struct archive *unpack_reader(void)
{
	struct archive *a = archive_read_new();

	archive_read_support_filter_all(a);
	archive_read_support_format_raw(a);
	archive_read_support_format_empty(a);
	return a;
}

/*
 * Whether a, its first header read, is a 7z under a compressor:
 * libarchive's 7z reader seeks, which it cannot do through a filter.  Such
 * a stream is read whole through unpack_reader() instead, and the 7z
 * opened from memory (as a zip or ISO image could be too, but their
 * readers stream).
 */
static int seeks_under_filter(struct archive *a)
{
	return has_filter(a) && (archive_format(a) & ARCHIVE_FORMAT_BASE_MASK) == ARCHIVE_FORMAT_7ZIP;
}

/*
 * Reads the current entry (or raw stream) of a into out, up to
 * max_doc_bytes.  Returns 0 read whole, 1 too large (stopped), -1 a
 * read error (skip recorded), 2 a bomb.
 */
static int read_entry(struct ctx *c, struct archive *a, struct qn_buf *out)
{
	qn_buf_reset(out);
	for (;;) {
		la_ssize_t n;

		qn_buf_grow(out, TEXT_CHUNK);
		n = archive_read_data(a, out->data + out->len, TEXT_CHUNK);
		if (n < 0) {
			const char *why = archive_error_string(a);

			out->data[out->len] = '\0';
			skip(c, NULL, broken(why), 1, "%s", why ? why : "truncated or corrupt data");
			return -1;
		}
		if (n == 0)
			break;
		out->len += (size_t)n;
		out->data[out->len] = '\0';
		if (expand(c, (uint64_t)n))
			return 2;
		if (out->len > limits.max_doc_bytes)
			return 1;
	}
	return 0;
}

/* A too-large text: binary wins over too large, whatever the limit. */
static void too_large(struct ctx *c, const struct qn_buf *b, const char *source)
{
	const char *nul = memchr(b->data, '\0', b->len < SNIFF_BYTES ? b->len : SNIFF_BYTES);

	if (nul)
		skip(c, source, SK_BINARY, 0, "NUL byte at offset %zu", (size_t)(nul - b->data));
	else
		skip(c, source, SK_TOO_LARGE, 0, "over %llu bytes",
		     (unsigned long long)limits.max_doc_bytes);
}

/*
 * The member names seen in one archive, by hash, so that a name met again
 * (tar -r appends a new version under the same name) gets its own
 * locator and id.
 */
struct names {
	uint64_t *h;
	size_t cap, n;
};

/* Adds name; returns whether it was there already. */
static int names_add(struct names *s, const char *name)
{
	struct qn_hash128 hh = qn_hash_bytes(name, strlen(name));
	uint64_t h = hh.lo | 1;
	size_t i;

	if (2 * (s->n + 1) > s->cap) {
		uint64_t *old = s->h;
		size_t oldcap = s->cap;

		s->cap = s->cap ? 2 * s->cap : 64;
		s->h = qn_xcalloc(s->cap, sizeof *s->h);
		s->n = 0;
		for (i = 0; i < oldcap; i++) {
			size_t k;

			if (!old[i])
				continue;
			for (k = (size_t)old[i] & (s->cap - 1); s->h[k]; k = (k + 1) & (s->cap - 1))
				;
			s->h[k] = old[i];
			s->n++;
		}
		free(old);
	}
	for (i = (size_t)h & (s->cap - 1); s->h[i]; i = (i + 1) & (s->cap - 1))
		if (s->h[i] == h)
			return 1;
	s->h[i] = h;
	s->n++;
	return 0;
}

/* The members of the archive a, at depth (the members' own). */
static void walk_archive(struct ctx *c, struct archive *a, int depth, struct archive_entry *ent)
{
	struct qn_buf mem = QN_BUF_INIT;
	struct names seen = { NULL, 0, 0 };
	long ordinal = 0;

	while (!c->stop) {
		int rc = ent ? ARCHIVE_OK : archive_read_next_header(a, &ent);
		const char *name;
		size_t old;
		uint64_t size;
		struct hints h;

		if (rc == ARCHIVE_EOF)
			break;
		if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
			const char *why = archive_error_string(a);

			skip(c, NULL, broken(why), 1, "%s", why ? why : "corrupt archive");
			break;
		}
		ordinal++;
		/* ar members carry no file type: 0 is a file too. */
		if (archive_entry_filetype(ent) != AE_IFREG && archive_entry_filetype(ent) != 0) {
			ent = NULL;
			continue;
		}
		name = archive_entry_pathname_utf8(ent);
		if (!name)
			name = archive_entry_pathname(ent);
		if (!name)
			name = "";
		old = loc_push(c, "member", name);
		if (names_add(&seen, name)) {
			char num[32];

			snprintf(num, sizeof num, "%ld", ordinal);
			loc_push(c, "entry", num);	/* the same name again: which entry */
		}
		if (archive_entry_size_is_set(ent) && (uint64_t)archive_entry_size(ent) > limits.max_doc_bytes) {
			skip(c, NULL, SK_TOO_LARGE, 0, "over %llu bytes",
			     (unsigned long long)limits.max_doc_bytes);
			/* Skipping it through a filter decompresses it: that counts against the budget. */
			if (has_filter(a))
				expand(c, (uint64_t)archive_entry_size(ent));
			loc_pop(c, old);
			ent = NULL;
			continue;
		}
		/*
		 * libarchive 3.6's xar reader gives bytes past a member's end
		 * (found on xar files its own writer made): the table of
		 * contents' size is the member.
		 */
		size = archive_format(a) == ARCHIVE_FORMAT_XAR && archive_entry_size_is_set(ent) ?
			(uint64_t)archive_entry_size(ent) : UINT64_MAX;
		ent = NULL;
		rc = read_entry(c, a, &mem);
		if (rc == 0 && mem.len > size)
			mem.data[mem.len = (size_t)size] = '\0';
		if (rc == 0) {
			memset(&h, 0, sizeof h);
			h.name = name;
			content(c, mem.data ? mem.data : "", mem.len, depth, &h);
		} else if (rc == 1) {
			too_large(c, &mem, NULL);
		}
		loc_pop(c, old);
		if (rc == -1)
			break;	/* libarchive cannot go on after a data error */
		if (mem.cap > 4 * (size_t)TEXT_CHUNK)
			qn_buf_release(&mem);
	}
	qn_buf_release(&mem);
	free(seen.h);
}

/* The magic numbers of what libarchive would open: compressors and archives. */
static int container_magic(const unsigned char *b, size_t n)
{
	static const struct { size_t off; const char *m; size_t len; } magic[] = {
		{ 0, "\x1f\x8b", 2 }, { 0, "\xfd" "7zXZ", 6 }, { 0, "BZh", 3 },
		{ 0, "\x28\xb5\x2f\xfd", 4 }, { 0, "\x04\x22\x4d\x18", 4 }, { 0, "\x1f\x9d", 2 },
		{ 0, "LZIP", 4 }, { 0, "\x89LZO", 4 }, { 0, "PK\x03\x04", 4 }, { 0, "PK\x05\x06", 4 },
		{ 0, "7z\xbc\xaf\x27\x1c", 6 }, { 0, "Rar!\x1a\x07", 6 }, { 0, "!<arch>\n", 8 },
		{ 0, "070701", 6 }, { 0, "070702", 6 }, { 0, "070707", 6 }, { 0, "\xc7\x71", 2 },
		{ 0, "\x71\xc7", 2 }, { 0, "xar!", 4 }, { 0, "MSCF", 4 }, { 257, "ustar", 5 },
		{ 32769, "CD001", 5 },
	};
	size_t i;

	for (i = 0; i < sizeof magic / sizeof magic[0]; i++)
		if (n >= magic[i].off + magic[i].len &&
		    !memcmp(b + magic[i].off, magic[i].m, magic[i].len))
			return 1;
	return 0;
}

/*
 * Bytes found at depth (the file itself is 0): an archive or compressed
 * stream to open, a WARC, a JSONL stream, or a text.
 */
static void content(struct ctx *c, const char *p, size_t n, int depth, const struct hints *h)
{
	const char *nul;

	if (c->stop)
		return;
	if (n == 0) {
		skip(c, h->source, SK_EMPTY, 0, "0 bytes");
		return;
	}
	if (!h->content_type && warc_sniff(p, n)) {
		struct memsrc m = { p, n, 0 };

		if (depth >= limits.max_depth) {
			skip(c, h->source, SK_DEPTH, 0, "a WARC at depth %d (--max-depth %d)", depth, limits.max_depth);
			return;
		}
		warc_read_all(c, mem_read, &m, depth);
		return;
	}
	if (container_magic((const unsigned char *)p, n)) {
		struct archive *a = new_reader(1);
		struct archive_entry *ent;
		int rc = archive_read_open_memory(a, p, n);

		if (rc == ARCHIVE_OK)
			rc = archive_read_next_header(a, &ent);
		if (seeks_under_filter(a)) {
			archive_read_free(a);
			a = unpack_reader();
			rc = archive_read_open_memory(a, p, n);
			if (rc == ARCHIVE_OK)
				rc = archive_read_next_header(a, &ent);
		}
		if (rc == ARCHIVE_OK && (!is_raw(a) || has_filter(a))) {
			size_t old = c->loc.len;

			if (depth >= limits.max_depth) {
				skip(c, h->source, SK_DEPTH, 0, "an archive or compressed file at depth %d (--max-depth %d)",
				     depth, limits.max_depth);
			} else if (!is_raw(a)) {
				push_filters(c, a);
				walk_archive(c, a, depth + 1, ent);
			} else {
				struct qn_buf mem = QN_BUF_INIT;
				struct hints hh;

				push_filters(c, a);
				rc = read_entry(c, a, &mem);
				if (rc == 0) {
					memset(&hh, 0, sizeof hh);
					hh.name = h->name;
					content(c, mem.data ? mem.data : "", mem.len, depth + 1, &hh);
				} else if (rc == 1) {
					too_large(c, &mem, h->source);
				}
				qn_buf_release(&mem);
			}
			loc_pop(c, old);
			archive_read_free(a);
			return;
		}
		if (rc != ARCHIVE_OK && rc != ARCHIVE_EOF) {
			const char *why = archive_error_string(a);

			/* Only real compressors' and archives' errors are errors; else it is bytes. */
			if (memcmp(p, "\xc7\x71", 2) && memcmp(p, "\x71\xc7", 2)) {
				skip(c, h->source, broken(why), 1, "%s", why ? why : "corrupt data");
				archive_read_free(a);
				return;
			}
		}
		archive_read_free(a);
	}
	nul = memchr(p, '\0', n < SNIFF_BYTES ? n : SNIFF_BYTES);
	if (nul && !(n >= 2 && ((unsigned char)p[0] == 0xFF || (unsigned char)p[0] == 0xFE))) {
		skip(c, h->source, SK_BINARY, 0, "NUL byte at offset %zu", (size_t)(nul - p));
		return;
	}
	if (h->content_type && type_not_text(h->content_type)) {
		skip(c, h->source, SK_BINARY, 0, "Content-Type %s", h->content_type);
		return;
	}
	if (!h->content_type && !h->source && jsonl_sniff(c, p, n)) {
		long line = 0;
		char *copy = qn_xmalloc(n + QN_JSON_PADDING);

		memcpy(copy, p, n);
		jsonl_lines(c, copy, n, &line, 1);
		free(copy);
		return;
	}
	if (n > limits.max_doc_bytes) {
		skip(c, h->source, SK_TOO_LARGE, 0, "over %llu bytes", (unsigned long long)limits.max_doc_bytes);
		return;
	}
	text_doc(c, p, n, h);
}

/* ---- the file ---- */

/* Reads from the file: what was read ahead first, then read(), hashing every byte once. */
static long fd_read(void *ctx, void *dst, size_t n)
{
	struct scratch *s = ctx;
	ssize_t k;

	if (s->peek_pos < s->peek_len) {
		if (n > s->peek_len - s->peek_pos)
			n = s->peek_len - s->peek_pos;
		memcpy(dst, s->peek + s->peek_pos, n);
		s->peek_pos += n;
		return (long)n;
	}
	do
		k = read(s->fd, dst, n);
	while (k < 0 && errno == EINTR);
	if (k < 0)
		return -1;
	if (!s->seeked) {
		qn_hasher_update(s->hasher, dst, (size_t)k);
		s->raw += (uint64_t)k;
	}
	if (k == 0)
		s->raw_eof = 1;
	return (long)k;
}

static la_ssize_t la_read(struct archive *a, void *client, const void **out)
{
	struct scratch *s = client;
	long n;

	if (s->peek_pos < s->peek_len) {
		*out = s->peek + s->peek_pos;
		n = (long)(s->peek_len - s->peek_pos);
		s->peek_pos = s->peek_len;
		return n;
	}
	n = fd_read(s, s->buf, READ_CHUNK);
	if (n < 0) {
		archive_set_error(a, errno, "%s", strerror(errno));
		return -1;
	}
	*out = s->buf;
	return n;
}

static la_int64_t la_seek(struct archive *a, void *client, la_int64_t off, int whence)
{
	struct scratch *s = client;
	off_t r;

	(void)a;
	s->seeked = 1;	/* the hash is taken in a separate pass */
	s->peek_pos = s->peek_len = 0;
	r = lseek(s->fd, off, whence);
	return r < 0 ? ARCHIVE_FATAL : r;
}

/* Reads the rest of the file for its hash.  0 or -errno. */
static int drain(struct scratch *s)
{
	if (s->seeked) {
		uint64_t total = 0;

		qn_hasher_free(s->hasher);
		s->hasher = qn_hasher_new();
		if (lseek(s->fd, 0, SEEK_SET) < 0)
			return -errno;
		for (;;) {
			ssize_t n = read(s->fd, s->buf, READ_CHUNK);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return -errno;
			if (n == 0)
				break;
			qn_hasher_update(s->hasher, s->buf, (size_t)n);
			total += (uint64_t)n;
		}
		s->raw = total;
		return 0;
	}
	s->peek_pos = s->peek_len;
	while (!s->raw_eof)
		if (fd_read(s, s->buf, READ_CHUNK) < 0)
			return -errno;
	return 0;
}

/* Whether the file starts with a compressor's real magic number (not legacy .lzma). */
static int strong_magic(const unsigned char *b, size_t n)
{
	return container_magic(b, n) || warc_sniff(b, n);
}

/* A plain stream out of libarchive: JSONL and WARC read on as streams, the rest as one text. */
struct lasrc {
	struct archive *a;
	const char *pre;
	size_t pre_len;
	int failed;
};

static long la_data_read(void *ctx, void *buf, size_t n)
{
	struct lasrc *l = ctx;
	la_ssize_t k;

	if (l->pre_len) {
		if (n > l->pre_len)
			n = l->pre_len;
		memcpy(buf, l->pre, n);
		l->pre += n;
		l->pre_len -= n;
		return (long)n;
	}
	k = archive_read_data(l->a, buf, n);
	if (k < 0)
		l->failed = 1;
	return k;
}

static void raw_stream(struct ctx *c, struct archive *a)
{
	struct scratch *s = c->s;
	struct qn_buf *text = &s->text;
	struct qn_buf mem = QN_BUF_INIT;
	size_t old = c->loc.len;
	int rc;

	push_filters(c, a);
	/* The first chunk decides. */
	qn_buf_reset(&mem);
	for (;;) {
		la_ssize_t n;

		qn_buf_grow(&mem, TEXT_CHUNK);
		n = archive_read_data(a, mem.data + mem.len, TEXT_CHUNK);
		if (n < 0) {
			const char *why = archive_error_string(a);

			skip(c, NULL, broken(why), 1, "%s", why ? why : "truncated or corrupt data");
			goto out;
		}
		mem.len += (size_t)n;
		mem.data[mem.len] = '\0';
		if (n == 0)
			break;
		/* Enough to decide, unless it may be JSONL whose first line is longer. */
		if (mem.len >= 4096 && (mem.data[strspn(mem.data, " \t\r\n")] != '{' ||
					memchr(mem.data, '\n', mem.len) || mem.len > limits.max_doc_bytes))
			break;
	}
	if (expand(c, mem.len))
		goto out;
	if (mem.len >= 5 && warc_sniff(mem.data, mem.len) == 1 && has_filter(a)) {
		struct lasrc l = { a, mem.data, mem.len, 0 };

		warc_read_all(c, la_data_read, &l, 0);
		goto out;
	}
	if (jsonl_sniff(c, mem.data, mem.len)) {
		long line = 0;

		for (;;) {
			size_t used = jsonl_lines(c, mem.data, mem.len, &line, 0);
			la_ssize_t n;

			memmove(mem.data, mem.data + used, mem.len - used);
			mem.len -= used;
			if (c->stop)
				goto out;
			qn_buf_grow(&mem, TEXT_CHUNK + QN_JSON_PADDING);
			n = archive_read_data(a, mem.data + mem.len, TEXT_CHUNK);
			if (n < 0) {
				const char *why = archive_error_string(a);

				skip(c, NULL, broken(why), 1, "%s", why ? why : "truncated or corrupt data");
				goto out;
			}
			if (n == 0)
				break;
			mem.len += (size_t)n;
			if (expand(c, (uint64_t)n))
				goto out;
			if (mem.len > limits.max_doc_bytes + (1 << 20)) {
				skip(c, NULL, SK_TOO_LARGE, 0, "a JSONL line over %llu bytes",
				     (unsigned long long)limits.max_doc_bytes);
				goto out;
			}
		}
		jsonl_lines(c, mem.data, mem.len, &line, 1);
		goto out;
	}
	/* One text: the rest of the stream. */
	qn_buf_set(text, mem.data ? mem.data : "", mem.len);
	rc = 0;
	while (text->len <= limits.max_doc_bytes) {
		la_ssize_t n;

		qn_buf_grow(text, TEXT_CHUNK);
		n = archive_read_data(a, text->data + text->len, TEXT_CHUNK);
		if (n < 0) {
			const char *why = archive_error_string(a);

			skip(c, NULL, broken(why), 1, "%s", why ? why : "truncated or corrupt data");
			rc = -1;
			break;
		}
		if (n == 0)
			break;
		text->len += (size_t)n;
		text->data[text->len] = '\0';
		if (expand(c, (uint64_t)n)) {
			rc = -1;
			break;
		}
		/*
		 * A NUL early on: binary, read no further -- unless it is a
		 * 7z, zip or ISO image under a compressor, which is read by
		 * seeking and so is opened from memory once decompressed.
		 */
		if (text->len >= SNIFF_BYTES && text->len - (size_t)n < SNIFF_BYTES &&
		    memchr(text->data, '\0', SNIFF_BYTES) &&
		    !(has_filter(a) && container_magic((const unsigned char *)text->data, text->len)))
			break;
	}
	if (!rc) {
		struct hints h;

		memset(&h, 0, sizeof h);
		h.name = c->it->path;
		if (text->len > limits.max_doc_bytes) {
			too_large(c, text, NULL);
		} else {
			/* Already decompressed: no second opening of the same bytes. */
			const char *nul = memchr(text->data ? text->data : "", '\0',
						 text->len < SNIFF_BYTES ? text->len : SNIFF_BYTES);

			if (has_filter(a))	/* its bytes may be an archive again */
				content(c, text->data, text->len, 1, &h);
			else if (text->len == 0)
				skip(c, NULL, SK_EMPTY, 0, "0 bytes");
			else if (nul && !(text->len >= 2 && ((unsigned char)text->data[0] == 0xFF ||
							     (unsigned char)text->data[0] == 0xFE)))
				skip(c, NULL, SK_BINARY, 0, "NUL byte at offset %zu", (size_t)(nul - text->data));
			else
				text_doc(c, text->data, text->len, &h);
		}
	}
out:
	loc_pop(c, old);
	qn_buf_release(&mem);
	if (text->cap > 4 * (size_t)TEXT_CHUNK + limits.max_doc_bytes / 4)
		qn_buf_release(text);
}

/*
 * Reads the start of the file into s->peek: the whole file when it is a
 * regular file of at most --max-doc-bytes (one read for most files: a
 * short read at its size is its end), else up to READ_CHUNK bytes, and a
 * NUL after them.  0, or -1 with errno.
 */
/* Back to the file's first byte, to be read again from scratch; 0 or -1. */
static int rewind_file(struct scratch *s)
{
	if (lseek(s->fd, 0, SEEK_SET) != 0)
		return -1;
	qn_hasher_free(s->hasher);
	s->hasher = qn_hasher_new();
	s->raw = 0;
	s->seeked = s->raw_eof = 0;
	s->peek_len = s->peek_pos = 0;
	return 0;
}

static int read_ahead(struct scratch *s)
{
	unsigned char *dst = s->buf;
	size_t cap = READ_CHUNK;

	if (s->regular && s->size >= READ_CHUNK && s->size < limits.max_doc_bytes) {
		cap = (size_t)s->size + 1;	/* one byte more: a file that grew is not whole */
		if (s->whole_cap < cap + 1) {
			free(s->whole);
			s->whole = qn_xmalloc(cap + 1);
			s->whole_cap = cap + 1;
		}
		dst = s->whole;
	}
	s->peek = dst;
	while (s->peek_len < cap) {
		ssize_t n;

		do
			n = read(s->fd, dst + s->peek_len, cap - s->peek_len);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return -1;
		if (n == 0) {
			s->raw_eof = 1;
			break;
		}
		qn_hasher_update(s->hasher, dst + s->peek_len, (size_t)n);
		s->peek_len += (size_t)n;
		s->raw += (uint64_t)n;
		if (s->regular && s->raw == s->size && s->peek_len < cap) {
			s->raw_eof = 1;
			break;
		}
	}
	/* Text is handed on NUL-terminated, as a qn_buf would be. */
	dst[s->peek_len] = '\0';
	return 0;
}

/* Frees what one large file left in the scratch. */
static void trim_scratch(struct scratch *s)
{
	size_t keep = 4 * (size_t)TEXT_CHUNK;

	if (s->whole_cap > keep) {
		free(s->whole);
		s->whole = NULL;
		s->whole_cap = 0;
	}
	if (s->gz_cap > keep) {
		free(s->gz);
		s->gz = NULL;
		s->gz_cap = 0;
	}
}

/* Makes s->gz hold at least n bytes and a NUL, keeping its first len. */
static void gz_reserve(struct scratch *s, size_t n, size_t len)
{
	if (s->gz_cap >= n + 1)
		return;
	if (len)
		s->gz = qn_xrealloc(s->gz, n + 1);
	else {
		free(s->gz);
		s->gz = qn_xmalloc(n + 1);
	}
	s->gz_cap = n + 1;
}

/*
 * The gzip file p[0..n) decompressed whole into s->gz, member after
 * member as libarchive's gzip filter reads them: after a member, bytes
 * that start like a gzip header are the next member, anything else is
 * ignored.  At most cap bytes come out, and no more is allocated than
 * that.  Returns the length, -2 when warc_stop and the first member
 * starts a WARC record (the rest is left), or -1 for anything else (corrupt, truncated,
 * over cap): libarchive reads such a file, so that its messages and the
 * bomb accounting stay the reference.
 */
static long gunzip_whole(struct scratch *s, const unsigned char *p, size_t n, size_t cap,
			 int warc_stop)
{
	size_t len = 0, avail;
	uint32_t isize;
	int first = warc_stop;

	if (n < 18)
		return -1;
	if (!s->inflater && !(s->inflater = libdeflate_alloc_decompressor()))
		abort();	/* out of memory for its tables (tens of KiB) */
	/* The trailer's ISIZE is the (last) member's size modulo 2^32: a first guess. */
	isize = (uint32_t)p[n - 4] | (uint32_t)p[n - 3] << 8 | (uint32_t)p[n - 2] << 16 |
		(uint32_t)p[n - 1] << 24;
	avail = isize > cap ? cap : isize;
	if (avail < 4 * n && 4 * n <= cap)
		avail = 4 * n;
	gz_reserve(s, avail, 0);
	while (n) {
		size_t in_used, out_got;
		enum libdeflate_result r;

		r = libdeflate_gzip_decompress_ex(s->inflater, p, n, s->gz + len, avail - len,
						  &in_used, &out_got);
		if (r == LIBDEFLATE_INSUFFICIENT_SPACE) {
			if (avail == cap)
				return -1;
			avail = avail > cap / 2 ? cap : 2 * avail + 4096;
			if (avail > cap)
				avail = cap;
			gz_reserve(s, avail, len);
			continue;	/* the member again, with room */
		}
		if (r != LIBDEFLATE_SUCCESS)
			return -1;
		len += out_got;
		p += in_used;
		n -= in_used;
		/* A WARC is the WARC reader's, from the raw bytes: no need to go on. */
		if (first && len >= 5 && !memcmp(s->gz, "WARC/", 5))
			return -2;
		first = 0;
		/* libarchive takes what follows for a member only from its first 10 bytes. */
		if (n < 10 || p[0] != 0x1f || p[1] != 0x8b || p[2] != 8)
			break;
	}
	s->gz[len] = '\0';
	return (long)len;
}

/*
 * Whether the 512 bytes at h could pass libarchive's tar checksum test:
 * the field at 148 read as libarchive reads a number (octal after blanks,
 * maybe signed; base-256 when its first byte has the top bit), cut to an
 * int, equal to the sum of the header's bytes taken unsigned or signed,
 * with the field as spaces.  (libarchive may also refuse a field with
 * other bytes than digits, blanks and NUL: this says yes more often.)
 */
static int tar_checksum_ok(const unsigned char *h)
{
	int v = 0, us = 0, ss = 0, i = 148, neg = 0;

	if (h[148] & 0x80) {
		uint64_t l = h[148] & 0x40 ? ~(uint64_t)0 : 0;

		l = (l << 8) | (h[148] & 0x40 ? h[148] | 0x80 : h[148] & 0x7f);
		for (i = 149; i < 156; i++)
			l = (l << 8) | h[i];
		v = (int)(int64_t)l;
	} else {
		for (; i < 156 && (h[i] == ' ' || h[i] == '\t'); i++)
			;
		if (i < 156 && h[i] == '-') {
			neg = 1;
			i++;
		}
		for (; i < 156 && h[i] >= '0' && h[i] <= '7'; i++)
			v = 8 * v + (h[i] - '0');
		if (neg)
			v = -v;
	}
	for (i = 0; i < 512; i++) {
		int b = i >= 148 && i < 156 ? ' ' : h[i];

		us += b;
		ss += (signed char)b;
	}
	return v == us || v == ss;
}

/* "begin " and an octal digit, or "begin-": maybe a uuencode start. */
static int uu_start(const unsigned char *p, size_t n)
{
	return n >= 7 && !memcmp(p, "begin", 5) &&
	       ((p[5] == ' ' && p[6] >= '0' && p[6] <= '7') || p[5] == '-');
}

/*
 * Whether a line of p[0..n) may start uuencoded data: uudecode's bidder
 * looks at every line of its first 128 KiB for "begin " or "begin-base64 "
 * then a mode in octal.
 */
static int begin_line(const unsigned char *p, size_t n)
{
	size_t i = 0;

	if (uu_start(p, n))
		return 1;
#ifdef __SSE2__
	{
		const __m128i nl = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r'),
			      b = _mm_set1_epi8('b');

		for (; i + 17 <= n; i += 16) {
			__m128i x = _mm_loadu_si128((const __m128i *)(p + i));
			__m128i y = _mm_loadu_si128((const __m128i *)(p + i + 1));
			unsigned m = (unsigned)_mm_movemask_epi8(
				_mm_and_si128(_mm_or_si128(_mm_cmpeq_epi8(x, nl), _mm_cmpeq_epi8(x, cr)),
					      _mm_cmpeq_epi8(y, b)));

			for (; m; m &= m - 1) {
				size_t j = i + (size_t)__builtin_ctz(m) + 1;

				if (uu_start(p + j, n - j))
					return 1;
			}
		}
	}
#endif
	for (; i + 1 < n; i++)
		if ((p[i] == '\n' || p[i] == '\r') && uu_start(p + i + 1, n - i - 1))
			return 1;
	return 0;
}

/*
 * Whether libarchive (3.6, with new_reader's formats and every filter)
 * takes the stream p[0..n) for plain bytes, and content() for one text:
 * then the text goes straight to text_doc.  Conservative: anything that
 * might be claimed says no, and the file takes the libarchive path.
 * What is looked at: a NUL in the first bytes (binary; and every
 * heuristic of a format without a magic number, legacy lzma's and iso's,
 * needs one); magic numbers at the start; a WARC start; a tar
 * header's checksum field; a line starting "begin" in the first 128 KiB
 * (uudecode's bidder); "PK\5\6" in the last 16 KiB of a file that can be
 * seeked (zip's end of central directory).  Whether it is a JSONL stream
 * is for the caller to ask (jsonl_sniff).
 */
static int plain_text(const unsigned char *p, size_t n, int seekable)
{
	const unsigned char *q;

	if (n == 0 || n > limits.max_doc_bytes || memchr(p, '\0', n < SNIFF_BYTES ? n : SNIFF_BYTES))
		return 0;
	if (container_magic(p, n) || (n >= 5 && !memcmp(p, "WARC/", 5)))
		return 0;
	if (n >= 2 && (!memcmp(p, "PK", 2) || !memcmp(p, "MZ", 2)))
		return 0;
	if (n >= 4 && ((p[2] == 'M' && p[3] == 0x18) || !memcmp(p, "LRZI", 4) ||
		       !memcmp(p, "GRZi", 4) || !memcmp(p, "\xed\xab\xee\xdb", 4) ||
		       !memcmp(p, "0707", 4) || !memcmp(p, "\x7f" "ELF", 4)))
		return 0;
	if (n >= 7 && p[2] == '-' && p[3] == 'l' && p[6] == '-')
		return 0;	/* lha */
	if (n >= 512 && tar_checksum_ok(p))
		return 0;
	if (begin_line(p, n < (136 << 10) ? n : 136 << 10))
		return 0;
	if (seekable) {
		q = n > (16 << 10) + 22 ? p + n - (16 << 10) - 22 : p;
		if (memmem(q, (size_t)(p + n - q), "PK\x05\x06", 4))
			return 0;
	}
	return 1;
}

/*
 * Whether p[0..n) is a JSONL stream: its first line, after blank space, a
 * document.  raw_stream asks with at least that whole line in hand.
 */
static int maybe_jsonl(struct ctx *c, const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'); i++)
		;
	return i < n && p[i] == '{' && jsonl_sniff(c, (const char *)p, n);
}

/*
 * A file read whole whose content libarchive would give as one plain
 * text, straight or through gzip: its document, without libarchive.
 * Returns 1 when done so, 0 for the general path.  Every result is the
 * one raw_stream gives for the same bytes.
 */
static int whole_file(struct ctx *c)
{
	struct scratch *s = c->s;
	const unsigned char *p = s->peek;
	size_t n = s->peek_len;
	struct hints h;

	memset(&h, 0, sizeof h);
	h.name = c->it->path;
	if (n == 0) {
		skip(c, NULL, SK_EMPTY, 0, "0 bytes");
		return 1;
	}
	if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b) {
		uint64_t raw = s->raw > s->size ? s->raw : s->size;
		uint64_t budget = limits.max_ratio * raw + BOMB_FLOOR;
		uint64_t cap = budget < limits.max_doc_bytes ? budget : limits.max_doc_bytes;
		long len;
		size_t old;

		if (cap > (uint64_t)LONG_MAX / 2)
			cap = (uint64_t)LONG_MAX / 2;
		len = gunzip_whole(s, p, n, (size_t)cap, 1);
		if (len == -1)
			return 0;
		/* A gzip'd WARC is read by the WARC reader from the raw bytes. */
		if (len == -2 && warc_sniff(p, n))
			return 0;
		if (len == -2)
			len = gunzip_whole(s, p, n, (size_t)cap, 0);
		if (len < 0)
			return 0;
		if (!plain_text(s->gz, (size_t)len, 0) || maybe_jsonl(c, s->gz, (size_t)len))
			return 0;
		c->expanded += (uint64_t)len;
		old = loc_push(c, "filter", "gzip");
		text_doc(c, (const char *)s->gz, (size_t)len, &h);
		loc_pop(c, old);
		return 1;
	}
	if (!plain_text(p, n, s->regular) || warc_sniff(p, n) || maybe_jsonl(c, p, n))
		return 0;
	text_doc(c, (const char *)p, n, &h);
	return 1;
}

void collect_bytes(struct item *it, struct scratch *s, const void *p, size_t n,
		   struct qn_buf *json)
{
	struct ctx c;
	struct hints h;
	struct collect_out out;

	collect_out_init(&out, 0);
	out.json = *json;	/* lent, and given back grown */
	memset(&c, 0, sizeof c);
	c.it = it;
	c.s = s;
	c.out = &out;
	s->raw = s->size = n;
	memset(&h, 0, sizeof h);
	content(&c, n ? p : "", n, 0, &h);
	qn_buf_release(&c.loc);
	*json = out.json;
}

static void file_error(struct item *it, const char *what)
{
	it->error = qn_xasprintf("%s: %s", it->path, what);
}

void collect_item(struct item *it, struct scratch *s, struct collect_out *out)
{
	struct ctx c;
	struct archive *a = NULL;
	struct archive_entry *ent;
	int rc;
	enum { ANY, PLAIN, UNPACK } as = ANY;	/* what libarchive may read the file as */
	long n;

	memset(&c, 0, sizeof c);
	c.it = it;
	c.s = s;
	c.out = out;
	s->raw = s->size = 0;
	s->regular = 0;
	s->seeked = s->raw_eof = 0;
	s->peek = s->buf;
	s->peek_len = s->peek_pos = 0;
	s->hasher = qn_hasher_new();
	if (it->kind == IT_STDIN) {
		s->fd = 0;
	} else {
		struct stat st;

		/* O_NONBLOCK: a file swapped for a FIFO after the walk must not hang us. */
		if (it->name)	/* relative to its directory: one path component to look up */
			s->fd = openat(it->dirfd, it->name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		else
			s->fd = open(it->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		if (s->fd < 0) {
			file_error(it, strerror(errno));
			qn_hasher_free(s->hasher);
			return;
		}
		if (fstat(s->fd, &st) < 0 || S_ISDIR(st.st_mode)) {
			file_error(it, S_ISDIR(st.st_mode) ? "is a directory" : strerror(errno));
			goto out;
		}
		if (!S_ISREG(st.st_mode))	/* an operand that is a pipe: block as usual */
			fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) & ~O_NONBLOCK);
		else
			s->size = (uint64_t)st.st_size;
		s->regular = S_ISREG(st.st_mode);
	}
	if (it->kind == IT_STDIN) {
		/* Standard input is read whole: its ids name the hash of its bytes. */
		struct qn_buf all = QN_BUF_INIT;
		struct hints h;
		char hex[QN_HASH_HEX];

		uint64_t cap = limits.max_doc_bytes * 16 > STDIN_MAX ? limits.max_doc_bytes * 16 : STDIN_MAX;

		for (;;) {
			qn_buf_grow(&all, READ_CHUNK);
			n = fd_read(s, all.data + all.len, READ_CHUNK);
			if (n < 0) {
				file_error(it, strerror(errno));
				qn_buf_release(&all);
				goto out;
			}
			if (n == 0)
				break;
			all.len += (size_t)n;
			if (all.len > cap) {
				/* Held in memory: bounded.  The id is the one of the bytes read so far. */
				char hx[QN_HASH_HEX];

				qn_hash_hex(qn_hasher_digest(s->hasher), hx);
				loc_push(&c, "xxh3", hx);
				skip(&c, NULL, SK_TOO_LARGE, 0, "standard input over %llu bytes",
				     (unsigned long long)cap);
				qn_buf_release(&all);
				goto out;
			}
		}
		it->hashed = 1;
		it->hash = qn_hasher_digest(s->hasher);
		s->size = all.len;
		qn_hash_hex(it->hash, hex);
		loc_push(&c, "xxh3", hex);
		memset(&h, 0, sizeof h);
		content(&c, all.data ? all.data : "", all.len, 0, &h);
		qn_buf_release(&all);
		goto out;
	}
	/* Read ahead: a WARC is read from its raw bytes. */
	if (read_ahead(s) < 0) {
		file_error(it, strerror(errno));
		goto out;
	}
	if (s->raw_eof && collect_shortcuts && whole_file(&c))
		goto done;
	if (warc_sniff(s->peek, s->peek_len)) {
		warc_read_all(&c, fd_read, s, 0);
		goto done;
	}
again:
	if (as == UNPACK) {
		a = unpack_reader();
	} else if (as == PLAIN) {
		a = archive_read_new();
		archive_read_support_format_raw(a);
		archive_read_support_format_empty(a);
	} else {
		a = new_reader(1);
	}
	if (s->regular)
		archive_read_set_seek_callback(a, la_seek);
	archive_read_set_read_callback(a, la_read);
	archive_read_set_callback_data(a, s);
	rc = archive_read_open1(a);
	if (rc == ARCHIVE_OK || rc == ARCHIVE_WARN)
		rc = archive_read_next_header(a, &ent);
	if (as == ANY && seeks_under_filter(a) && rewind_file(s) == 0) {
		archive_read_free(a);
		as = UNPACK;
		goto again;
	}
	if (rc == ARCHIVE_EOF) {
		skip(&c, NULL, SK_EMPTY, 0, "0 bytes");
	} else if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
		const char *why = archive_error_string(a);

		/*
		 * Legacy .lzma has no real magic number, so libarchive takes
		 * some binary files for it (fortune's .dat files) and fails
		 * on the first block.  Such a file, without the magic of a
		 * real compressor, is read as the bytes it is.
		 */
		if (as == ANY && !strong_magic(s->peek, s->peek_len) && rewind_file(s) == 0) {
			archive_read_free(a);
			as = PLAIN;
			goto again;
		}
		skip(&c, NULL, broken(why), 1, "%s", why ? why : "truncated or corrupt data");
	} else if (is_raw(a)) {
		raw_stream(&c, a);
	} else if (limits.max_depth == 0) {
		skip(&c, NULL, SK_DEPTH, 0, "an archive at depth 0 (--max-depth 0)");
	} else {
		/* An archive: its members, from the first, whose header was read. */
		size_t old = c.loc.len;

		push_filters(&c, a);
		walk_archive(&c, a, 1, ent);
		loc_pop(&c, old);
	}
done:
	/* The file's hash needs all of its bytes, unless the file was given up. */
	if (!c.stop && !it->error) {
		int e = drain(s);

		if (e < 0) {
			file_error(it, strerror(-e));
		} else {
			it->hashed = 1;
			it->hash = qn_hasher_digest(s->hasher);
		}
	}
out:
	it->raw_bytes = s->raw;
	archive_read_free(a);
	trim_scratch(s);
	qn_hasher_free(s->hasher);
	s->hasher = NULL;
	if (it->kind != IT_STDIN)
		close(s->fd);
	qn_buf_release(&c.loc);
}
