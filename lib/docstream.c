/*
 * docstream.c: reading and writing document streams (see docstream.h).
 *
 * Reading goes through libarchive's "raw" format with every filter
 * enabled, so compression is detected by content, then splits lines and
 * hands each to the JSON parser.  The line buffer keeps QN_JSON_PADDING
 * spare bytes after every line, which simdjson needs.
 *
 * Writing serializes into a buffer and compresses with zstd or zlib
 * directly.  Each part goes to an unnamed O_TMPFILE file in the target
 * directory (or a hidden temporary name where the file system has no
 * O_TMPFILE) and is given its name (qn_link_unnamed) only at commit.
 */
#define _GNU_SOURCE
#include <archive.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "docstream.h"
#include "hash.h"
#include "json.h"

void qn_doc_init(struct qn_doc *d)
{
	memset(d, 0, sizeof *d);
}

void qn_doc_release(struct qn_doc *d)
{
	if (!d)
		return;
	qn_buf_release(&d->id);
	qn_buf_release(&d->text);
	qn_buf_release(&d->source);
	qn_buf_release(&d->locator);
	qn_buf_release(&d->extra);
}

void qn_doc_copy(struct qn_doc *dst, const struct qn_doc *src)
{
	qn_buf_set(&dst->id, qn_buf_str(&src->id), src->id.len);
	qn_buf_set(&dst->text, qn_buf_str(&src->text), src->text.len);
	qn_buf_set(&dst->source, qn_buf_str(&src->source), src->source.len);
	qn_buf_set(&dst->locator, qn_buf_str(&src->locator), src->locator.len);
	qn_buf_set(&dst->extra, qn_buf_str(&src->extra), src->extra.len);
	dst->has_id = src->has_id;
	dst->has_source = src->has_source;
	dst->has_locator = src->has_locator;
	dst->line = src->line;
}

void qn_doc_set_origin(struct qn_doc *d, const char *source, const char *locator)
{
	char hex[QN_HASH_HEX];

	qn_buf_set(&d->source, source, strlen(source));
	qn_buf_set(&d->locator, locator, strlen(locator));
	qn_doc_id(source, strlen(source), locator, strlen(locator), hex);
	qn_buf_set(&d->id, hex, 32);
	d->has_id = d->has_source = d->has_locator = 1;
}

void qn_doc_to_json(const struct qn_doc *d, struct qn_buf *out)
{
	qn_buf_putc(out, '{');
	if (d->has_id) {
		qn_buf_puts(out, "\"id\":");
		qn_buf_append_json_str(out, qn_buf_str(&d->id), d->id.len);
		qn_buf_putc(out, ',');
	}
	qn_buf_puts(out, "\"text\":");
	qn_buf_append_json_str(out, qn_buf_str(&d->text), d->text.len);
	if (d->has_source) {
		qn_buf_puts(out, ",\"source\":");
		qn_buf_append_json_str(out, qn_buf_str(&d->source), d->source.len);
	}
	if (d->has_locator) {
		qn_buf_puts(out, ",\"locator\":");
		qn_buf_append_json_str(out, qn_buf_str(&d->locator), d->locator.len);
	}
	if (d->extra.len) {
		qn_buf_putc(out, ',');
		qn_buf_append(out, d->extra.data, d->extra.len);
	}
	qn_buf_append(out, "}\n", 2);
}

/* ---- reading ---- */

enum { READ_CHUNK = 1 << 18 };

struct qn_docreader {
	struct archive *a;
	char *name;
	struct qn_json *json;
	struct qn_buf lb;	/* lb.data[start..lb.len) is unread */
	size_t start;
	size_t scan;		/* bytes after start known to hold no '\n' */
	size_t max_line;
	long line;
	uint64_t bytes;
	int eof, failed, skipping;
};

struct qn_docreader *qn_docreader_open(const char *path,
				       const struct qn_docreader_opts *opts,
				       struct qn_err *err)
{
	struct qn_docreader *r = qn_xcalloc(1, sizeof *r);
	struct archive_entry *ent;
	int rc;

	r->name = qn_xstrdup(strcmp(path, "-") ? path : "<stdin>");
	r->max_line = opts && opts->max_line ? opts->max_line : QN_MAX_LINE_DEFAULT;
	r->a = archive_read_new();
	archive_read_support_filter_all(r->a);
	archive_read_support_format_raw(r->a);
	archive_read_support_format_empty(r->a);
	if (!strcmp(path, "-"))
		rc = archive_read_open_fd(r->a, 0, READ_CHUNK);
	else
		rc = archive_read_open_filename(r->a, path, READ_CHUNK);
	if (rc == ARCHIVE_OK) {
		rc = archive_read_next_header(r->a, &ent);
		if (rc == ARCHIVE_EOF) {
			r->eof = 1;	/* an empty file: no documents */
			rc = ARCHIVE_OK;
		}
	}
	if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
		const char *why = archive_error_string(r->a);

		qn_err_set(err, QN_EIO, "%s: %s", r->name,
			   why ? why : "cannot read");
		qn_docreader_close(r);
		return NULL;
	}
	r->json = qn_json_new();
	return r;
}

const char *qn_docreader_name(const struct qn_docreader *r)
{
	return r->name;
}

uint64_t qn_docreader_bytes(const struct qn_docreader *r)
{
	return r->bytes;
}

uint64_t qn_docreader_raw_bytes(const struct qn_docreader *r)
{
	return (uint64_t)archive_filter_bytes(r->a, -1);
}

/* Reads more input after lb.len; returns bytes read, 0 at EOF, <0 on error. */
static ssize_t fill(struct qn_docreader *r, struct qn_err *err)
{
	la_ssize_t n;

	if (r->eof)
		return 0;
	/* Drop consumed bytes before growing. */
	if (r->start > 0 && (r->start >= r->lb.len / 2 || r->lb.len + READ_CHUNK + QN_JSON_PADDING > r->lb.cap)) {
		memmove(r->lb.data, r->lb.data + r->start, r->lb.len - r->start);
		r->lb.len -= r->start;
		r->start = 0;
	}
	qn_buf_grow(&r->lb, READ_CHUNK + QN_JSON_PADDING);
	n = archive_read_data(r->a, r->lb.data + r->lb.len, READ_CHUNK);
	if (n < 0) {
		const char *why = archive_error_string(r->a);

		r->failed = 1;
		return qn_err_set(err, QN_EFORMAT, "%s:%ld: %s", r->name,
				  r->line + 1, why ? why : "read error");
	}
	if (n == 0)
		r->eof = 1;
	r->lb.len += (size_t)n;
	r->lb.data[r->lb.len] = '\0';
	return n;
}

int qn_docreader_next(struct qn_docreader *r, struct qn_doc *d,
		      struct qn_err *err)
{
	for (;;) {
		char *p, *nl, *end;
		size_t n;
		int rc;

		if (r->failed)
			return qn_err_set(err, QN_EFORMAT, "%s: stream already failed", r->name);
		p = r->lb.data ? r->lb.data + r->start : NULL;
		nl = p ? memchr(p + r->scan, '\n', r->lb.len - r->start - r->scan) : NULL;
		if (!nl) {
			size_t have = r->lb.len - r->start;
			ssize_t got;

			if (have > r->max_line && !r->skipping) {
				/* Report once, then drop bytes up to the next newline. */
				r->skipping = 1;
				r->line++;
				r->bytes += have;
				r->start = r->lb.len;
				r->scan = 0;
				return qn_err_set(err, QN_EINPUT,
						  "%s:%ld: line longer than %zu bytes",
						  r->name, r->line, r->max_line);
			}
			if (r->skipping) {
				r->bytes += have;
				r->start = r->lb.len;
				have = 0;
			}
			r->scan = have;
			got = fill(r, err);
			if (got < 0)
				return (int)got;
			if (got > 0)
				continue;
			/* End of input: a last line without '\n'. */
			if (have == 0) {
				r->skipping = 0;
				return 0;
			}
			nl = r->lb.data + r->lb.len;
			p = r->lb.data + r->start;
		}
		r->scan = 0;
		end = nl;
		n = (size_t)(end - p);
		r->start += n + (nl < r->lb.data + r->lb.len);
		r->bytes += n + (nl < r->lb.data + r->lb.len);
		if (r->skipping) {
			r->skipping = 0;
			continue;
		}
		r->line++;
		if (n > r->max_line)
			return qn_err_set(err, QN_EINPUT, "%s:%ld: line longer than %zu bytes",
					  r->name, r->line, r->max_line);
		if (n && end[-1] == '\r')
			n--;
		/* Skip blank lines. */
		{
			size_t i = 0;

			while (i < n && (p[i] == ' ' || p[i] == '\t'))
				i++;
			if (i == n)
				continue;
		}
		/*
		 * simdjson reads up to QN_JSON_PADDING bytes past the line;
		 * fill() always leaves that much room after lb.len.
		 */
		rc = qn_json_parse_doc(r->json, p, n, d, err);
		if (rc) {
			char why[QN_ERR_MSG];

			if (!err)
				return rc;
			memcpy(why, err->msg, sizeof why);
			return qn_err_set(err, QN_EINPUT, "%s:%ld: %s", r->name, r->line, why);
		}
		d->line = r->line;
		return 1;
	}
}

void qn_docreader_close(struct qn_docreader *r)
{
	if (!r)
		return;
	if (r->a)
		archive_read_free(r->a);
	qn_json_free(r->json);
	qn_buf_release(&r->lb);
	free(r->name);
	free(r);
}

/* ---- writing ---- */

enum { COMP_PLAIN, COMP_ZSTD, COMP_GZIP };
enum { OUT_FLUSH = 1 << 20 };

struct part {
	char *path;	/* final name */
	char *tmp;	/* hidden temporary name, when O_TMPFILE is not available */
	int fd;
};

struct qn_docwriter {
	char *tmpl;		/* the name given, with a part conversion or not */
	int has_conv, to_stdout, comp, level, threads;
	uint64_t part_bytes, cur_bytes, docs;
	struct part *parts;
	int nparts, committed, failed;
	struct qn_buf in;	/* serialized, not yet compressed */
	struct qn_buf out;	/* compressed, not yet written */
	ZSTD_CCtx *zc;
	z_stream zs;
	int zs_live;
};

/*
 * Checks that tmpl holds exactly one conversion of the form %[0][width]d
 * and no other '%' (except "%%").
 */
static int count_conversions(const char *t)
{
	int n = 0;

	for (; *t; t++) {
		if (*t != '%')
			continue;
		if (t[1] == '%') {
			t++;
			continue;
		}
		t++;
		while (*t >= '0' && *t <= '9')
			t++;
		if (*t != 'd')
			return -1;
		n++;
	}
	return n;
}

static int ends_with(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);

	return a >= b && !strcmp(s + a - b, suf);
}

struct qn_docwriter *qn_docwriter_open(const char *path,
				       const struct qn_docwriter_opts *opts,
				       struct qn_err *err)
{
	struct qn_docwriter *w;
	int conv = count_conversions(path);

	if (conv < 0 || conv > 1) {
		qn_err_set(err, QN_EUSAGE, "%s: output name may hold one %%d conversion for the part number, nothing else", path);
		return NULL;
	}
	if (opts && opts->part_bytes && !conv) {
		qn_err_set(err, QN_EUSAGE, "%s: output parts need a %%d (e.g. out-%%05d.jsonl.zst) in the name", path);
		return NULL;
	}
	w = qn_xcalloc(1, sizeof *w);
	w->tmpl = qn_xstrdup(path);
	w->has_conv = conv;
	w->to_stdout = !strcmp(path, "-");
	w->part_bytes = opts ? opts->part_bytes : 0;
	w->level = opts ? opts->level : 0;
	w->threads = opts ? opts->threads : 0;
	if (w->to_stdout)
		w->comp = COMP_PLAIN;
	else if (ends_with(path, ".zst") || ends_with(path, ".zstd"))
		w->comp = COMP_ZSTD;
	else if (ends_with(path, ".gz"))
		w->comp = COMP_GZIP;
	else
		w->comp = COMP_PLAIN;
	return w;
}

static int write_all(int fd, const char *p, size_t n, const char *name,
		     struct qn_err *err)
{
	if (qn_write_all(fd, p, n) < 0)
		return qn_err_set(err, QN_EIO, "%s: write: %s", name, strerror(errno));
	return 0;
}

static char *part_name(const struct qn_docwriter *w, int i)
{
	return w->has_conv ? qn_xasprintf(w->tmpl, i) : qn_xstrdup(w->tmpl);
}

/* Opens the file that will become part nparts. */
static int open_part(struct qn_docwriter *w, struct qn_err *err)
{
	struct part *pt;
	char *dcopy, *bcopy, *hidden;

	w->parts = qn_xrealloc(w->parts, (size_t)(w->nparts + 1) * sizeof *w->parts);
	pt = &w->parts[w->nparts];
	memset(pt, 0, sizeof *pt);
	if (w->to_stdout) {
		pt->path = qn_xstrdup("-");
		pt->fd = 1;
		w->nparts++;
		return 0;
	}
	pt->path = part_name(w, w->nparts);
	dcopy = qn_xstrdup(pt->path);
	bcopy = qn_xstrdup(pt->path);
	hidden = qn_xasprintf("%s/.%s.tmp%ld", dirname(dcopy), basename(bcopy), (long)getpid());
	pt->fd = qn_open_unnamed(pt->path, hidden, 0666, &pt->tmp);
	free(dcopy);
	free(bcopy);
	free(hidden);
	if (pt->fd < 0) {
		qn_err_set(err, QN_EIO, "%s: %s", pt->path, strerror(errno));
		free(pt->path);
		free(pt->tmp);
		return QN_EIO;
	}
	w->nparts++;
	w->cur_bytes = 0;
	if (w->comp == COMP_ZSTD) {
		if (!w->zc)
			w->zc = ZSTD_createCCtx();
		ZSTD_CCtx_reset(w->zc, ZSTD_reset_session_and_parameters);
		ZSTD_CCtx_setParameter(w->zc, ZSTD_c_compressionLevel, w->level ? w->level : 3);
		ZSTD_CCtx_setParameter(w->zc, ZSTD_c_checksumFlag, 1);
		if (w->threads > 0 &&
		    ZSTD_isError(ZSTD_CCtx_setParameter(w->zc, ZSTD_c_nbWorkers, w->threads)))
			return qn_err_set(err, QN_EIO, "%s: this libzstd cannot compress with threads", pt->path);
	} else if (w->comp == COMP_GZIP) {
		memset(&w->zs, 0, sizeof w->zs);
		if (deflateInit2(&w->zs, w->level ? w->level : 6, Z_DEFLATED, 15 + 16, 8,
				 Z_DEFAULT_STRATEGY) != Z_OK)
			return qn_err_set(err, QN_EIO, "%s: cannot start gzip", pt->path);
		w->zs_live = 1;
	}
	return 0;
}

/* Compresses w->in (all of it) into the current part; last ends the frame. */
static int flush_in(struct qn_docwriter *w, int last, struct qn_err *err)
{
	struct part *pt = &w->parts[w->nparts - 1];
	int rc;

	if (w->comp == COMP_PLAIN) {
		rc = write_all(pt->fd, qn_buf_str(&w->in), w->in.len, pt->path, err);
		qn_buf_reset(&w->in);
		return rc;
	}
	qn_buf_reset(&w->out);
	if (w->comp == COMP_ZSTD) {
		ZSTD_inBuffer ib = { w->in.data, w->in.len, 0 };
		size_t left;
		int end = 0;

		/*
		 * All input goes in with e_continue, then e_end on nothing:
		 * starting a frame with e_end would take zstd's one-shot path,
		 * whose multi-threaded output may depend on the thread count.
		 */
		do {
			ZSTD_outBuffer ob;

			qn_buf_grow(&w->out, ZSTD_CStreamOutSize());
			ob.dst = w->out.data + w->out.len;
			ob.size = w->out.cap - w->out.len - 1;
			ob.pos = 0;
			end = last && ib.pos == ib.size;
			left = ZSTD_compressStream2(w->zc, &ob, &ib, end ? ZSTD_e_end : ZSTD_e_continue);
			if (ZSTD_isError(left))
				return qn_err_set(err, QN_EIO, "%s: zstd: %s", pt->path, ZSTD_getErrorName(left));
			w->out.len += ob.pos;
		} while (end ? left != 0 : (ib.pos < ib.size || last));
	} else {
		int zr;

		w->zs.next_in = (Bytef *)w->in.data;
		w->zs.avail_in = (uInt)w->in.len;
		do {
			qn_buf_grow(&w->out, 1 << 16);
			w->zs.next_out = (Bytef *)w->out.data + w->out.len;
			w->zs.avail_out = (uInt)(w->out.cap - w->out.len - 1);
			zr = deflate(&w->zs, last ? Z_FINISH : Z_NO_FLUSH);
			if (zr == Z_STREAM_ERROR)
				return qn_err_set(err, QN_EIO, "%s: gzip failed", pt->path);
			w->out.len = (size_t)((char *)w->zs.next_out - w->out.data);
		} while (last ? zr != Z_STREAM_END : (w->zs.avail_in > 0 || w->zs.avail_out == 0));
		if (last) {
			deflateEnd(&w->zs);
			w->zs_live = 0;
		}
	}
	qn_buf_reset(&w->in);
	return write_all(pt->fd, w->out.data, w->out.len, pt->path, err);
}

/* Ends the current part: the rest of its bytes, then fsync. */
static int close_part(struct qn_docwriter *w, struct qn_err *err)
{
	struct part *pt = &w->parts[w->nparts - 1];
	int rc = flush_in(w, 1, err);

	if (rc)
		return rc;
	if (!w->to_stdout && fsync(pt->fd) < 0)
		return qn_err_set(err, QN_EIO, "%s: fsync: %s", pt->path, strerror(errno));
	return 0;
}

/* Makes sure a part is open to take more bytes: the first, or the next one. */
static int ready(struct qn_docwriter *w, struct qn_err *err)
{
	int rc;

	if (w->failed || w->committed)
		return qn_err_set(err, QN_EUSAGE, "%s: writer is closed", w->tmpl);
	if (w->nparts && !(w->part_bytes && w->cur_bytes >= w->part_bytes))
		return 0;
	if ((w->nparts && (rc = close_part(w, err))) || (rc = open_part(w, err))) {
		w->failed = 1;
		return rc;
	}
	return 0;
}

/* Counts bytes appended to w->in since before, and compresses a full buffer. */
static int appended(struct qn_docwriter *w, size_t before, uint64_t docs, struct qn_err *err)
{
	int rc;

	w->cur_bytes += w->in.len - before;
	w->docs += docs;
	if (w->in.len >= OUT_FLUSH && (rc = flush_in(w, 0, err))) {
		w->failed = 1;
		return rc;
	}
	return 0;
}

int qn_docwriter_write_json(struct qn_docwriter *w, const char *lines,
			    size_t n, struct qn_err *err)
{
	uint64_t docs = 0;
	size_t before;
	const char *p;
	int rc;

	if ((rc = ready(w, err)))
		return rc;
	before = w->in.len;
	qn_buf_append(&w->in, lines, n);
	for (p = lines; (p = memchr(p, '\n', (size_t)(lines + n - p))); p++)
		docs++;
	return appended(w, before, docs, err);
}

int qn_docwriter_write(struct qn_docwriter *w, const struct qn_doc *d,
		       struct qn_err *err)
{
	size_t before;
	int rc;

	if ((rc = ready(w, err)))
		return rc;
	/* Serialized straight into the pending input: no copy. */
	before = w->in.len;
	qn_doc_to_json(d, &w->in);
	return appended(w, before, 1, err);
}

/* Links an O_TMPFILE descriptor, or renames the temporary, to the final name. */
static int publish(struct part *pt, struct qn_err *err)
{
	if (pt->tmp) {
		if (rename(pt->tmp, pt->path) < 0)
			return qn_err_set(err, QN_EIO, "%s: rename: %s", pt->path, strerror(errno));
		free(pt->tmp);
		pt->tmp = NULL;
		return 0;
	}
	if (qn_link_unnamed(pt->fd, pt->path) < 0)
		return qn_err_set(err, QN_EIO, "%s: %s", pt->path, strerror(errno));
	return 0;
}

int qn_docwriter_commit(struct qn_docwriter *w, struct qn_err *err)
{
	int i, rc;

	if (w->failed || w->committed)
		return qn_err_set(err, QN_EUSAGE, "%s: writer already %s", w->tmpl,
				  w->failed ? "failed" : "committed");
	/* An empty stream is still a (empty) file. */
	if (!w->nparts && (rc = open_part(w, err)))
		goto fail;
	if ((rc = close_part(w, err)))
		goto fail;
	if (w->to_stdout) {
		w->committed = 1;
		return 0;
	}
	for (i = 0; i < w->nparts; i++)
		if ((rc = publish(&w->parts[i], err)))
			goto fail;
	/* Make the renames durable, then drop stale higher parts. */
	{
		char *dcopy = qn_xstrdup(w->parts[0].path);
		int dfd = open(dirname(dcopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
		free(dcopy);
	}
	if (w->has_conv) {
		for (i = w->nparts;; i++) {
			char *stale = part_name(w, i);
			int gone = unlink(stale);

			free(stale);
			if (gone < 0)
				break;
		}
	}
	w->committed = 1;
	return 0;
fail:
	w->failed = 1;
	return rc;
}

int qn_docwriter_nparts(const struct qn_docwriter *w)
{
	return w->nparts;
}

const char *qn_docwriter_part(const struct qn_docwriter *w, int i)
{
	return i >= 0 && i < w->nparts ? w->parts[i].path : NULL;
}

uint64_t qn_docwriter_docs(const struct qn_docwriter *w)
{
	return w->docs;
}

void qn_docwriter_free(struct qn_docwriter *w)
{
	int i;

	if (!w)
		return;
	for (i = 0; i < w->nparts; i++) {
		struct part *pt = &w->parts[i];

		if (pt->tmp) {
			unlink(pt->tmp);	/* never published */
			free(pt->tmp);
		}
		if (pt->fd > 2)
			close(pt->fd);
		free(pt->path);
	}
	free(w->parts);
	if (w->zs_live)
		deflateEnd(&w->zs);
	ZSTD_freeCCtx(w->zc);
	qn_buf_release(&w->in);
	qn_buf_release(&w->out);
	free(w->tmpl);
	free(w);
}
