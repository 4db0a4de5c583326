/*
 * warc.c: the WARC reader.
 *
 * Three layers.  Raw bytes come from the callback into `in`.  The
 * decompressed stream is kept in a window (`win`, from `wpos` on): in a
 * gzip WARC, zlib inflates one member after the other (inflateReset at
 * each member's end), remembering where each member began in the raw
 * input; in a plain WARC the raw bytes are the stream.  Records are
 * parsed from the window: a "WARC/" version line, header lines up to a
 * blank line, Content-Length bytes of block, and the two newlines that
 * end a record.
 *
 * A member that lies whole in `in` and inflates to at most INFLATE_CHUNK
 * bytes, what one inflate call would take in one go, is inflated by
 * libdeflate instead (twice zlib's speed); zlib reads everything else,
 * so that what is said about a bad member is always zlib's.
 *
 * Resynchronisation: when zlib fails on a member, or the window does not
 * start a record where one should start, the partial record is dropped,
 * the window cleared, and the raw input scanned for the next gzip member
 * header (1f 8b 08); in a plain WARC, the window is scanned for the next
 * "\nWARC/1." instead.  Each such skip is one QN_EINPUT from warc_next,
 * and the reader always advances, so no input makes it loop.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <libdeflate.h>
#include <zlib.h>

#include "buf.h"
#include "warc.h"

int warc_whole_members = 1;

enum {
	RAW_CHUNK = 256 << 10,
	INFLATE_CHUNK = 256 << 10,
	MAX_HEADER = 64 << 10
};

struct warc_reader {
	warc_read_fn read;
	void *ctx;
	uint64_t max_block;
	int gz, started, eof, ioerr;
	/* raw input */
	unsigned char *in;
	size_t in_len, in_pos;
	uint64_t in_base;	/* raw offset of in[0] */
	/* decompression */
	z_stream z;
	int zinit, zend;	/* zend: between members */
	struct libdeflate_decompressor *dd;
	uint64_t member_off;
	/* the window */
	struct qn_buf win;
	size_t wpos;
	uint64_t win_base;	/* stream offset of win.data[0] */
	/* the current record's strings, and its decoded HTTP body */
	struct qn_buf hdr, http, body, body2;
	char *corrupt;		/* a pending resync message */
};

struct warc_reader *warc_open(warc_read_fn read, void *ctx, uint64_t max_block)
{
	struct warc_reader *r = calloc(1, sizeof *r);

	if (!r)
		abort();
	r->read = read;
	r->ctx = ctx;
	r->max_block = max_block;
	r->in = malloc(RAW_CHUNK);
	if (!r->in)
		abort();
	r->zend = 1;
	return r;
}

void warc_close(struct warc_reader *r)
{
	if (!r)
		return;
	if (r->zinit)
		inflateEnd(&r->z);
	libdeflate_free_decompressor(r->dd);
	free(r->in);
	qn_buf_release(&r->win);
	qn_buf_release(&r->hdr);
	qn_buf_release(&r->http);
	qn_buf_release(&r->body);
	qn_buf_release(&r->body2);
	free(r->corrupt);
	free(r);
}

uint64_t warc_raw_bytes(const struct warc_reader *r)
{
	return r->in_base + r->in_len;
}

/* More raw bytes after what is left unread: the count, 0 at the end, -1 on error. */
static long raw_fill(struct warc_reader *r)
{
	long n;

	if (r->eof)
		return 0;
	if (r->in_pos) {
		memmove(r->in, r->in + r->in_pos, r->in_len - r->in_pos);
		r->in_base += r->in_pos;
		r->in_len -= r->in_pos;
		r->in_pos = 0;
	}
	if (r->in_len == RAW_CHUNK)
		return 1;	/* full of unread bytes already */
	n = r->read(r->ctx, r->in + r->in_len, RAW_CHUNK - r->in_len);
	if (n < 0) {
		r->ioerr = 1;
		return -1;
	}
	if (n == 0)
		r->eof = 1;
	r->in_len += (size_t)n;
	return n;
}

/*
 * Drops the partial record and moves to the next gzip member header at
 * or after raw position `from` (an index into in).
 */
static void resync(struct warc_reader *r, size_t from)
{
	r->win_base += r->win.len;
	qn_buf_reset(&r->win);
	r->wpos = 0;
	r->in_pos = from < r->in_len ? from : r->in_len;
	for (;;) {
		size_t i;

		for (i = r->in_pos; i + 3 <= r->in_len; i++)
			if (r->in[i] == 0x1f && r->in[i + 1] == 0x8b && r->in[i + 2] == 8)
				break;
		if (i + 3 <= r->in_len) {
			r->in_pos = i;
			break;
		}
		r->in_pos = r->in_len >= 2 ? r->in_len - 2 : 0;
		if (r->in_pos < i)
			r->in_pos = i < r->in_len ? i : r->in_len;
		if (raw_fill(r) <= 0) {
			r->in_pos = r->in_len;	/* nothing more: the end */
			break;
		}
	}
	r->zend = 1;
}

static void set_corrupt(struct warc_reader *r, const char *what)
{
	free(r->corrupt);
	r->corrupt = malloc(strlen(what) + 64);
	if (!r->corrupt)
		abort();
	sprintf(r->corrupt, "offset %llu: %s", (unsigned long long)r->member_off, what);
}

/*
 * The member at in_pos inflated by libdeflate into the window, as one
 * inflate call with INFLATE_CHUNK of room would have it, when it lies
 * whole in `in`: 1 done (between members again), 0 left to zlib.  A
 * member with a header CRC is left to zlib, which checks it.
 */
static int whole_member(struct warc_reader *r)
{
	const unsigned char *p = r->in + r->in_pos;
	size_t n = r->in_len - r->in_pos, used, got;

	if (!warc_whole_members || n < 18 || (p[3] & 0x02))
		return 0;
	if (!r->dd && !(r->dd = libdeflate_alloc_decompressor()))
		abort();
	qn_buf_grow(&r->win, INFLATE_CHUNK);
	if (libdeflate_gzip_decompress_ex(r->dd, p, n, r->win.data + r->win.len, INFLATE_CHUNK,
					  &used, &got) != LIBDEFLATE_SUCCESS)
		return 0;
	r->in_pos += used;
	r->win.len += got;
	r->win.data[r->win.len] = '\0';
	return 1;
}

/*
 * Makes need bytes available at win.data + wpos.  1 when they are, 0 at
 * the end of the input with fewer, -1 after a corrupt member (resynced,
 * message in r->corrupt), -2 on a read error.
 */
static int dfill(struct warc_reader *r, size_t need)
{
	while (r->win.len - r->wpos < need) {
		long rc;

		/* Keep the window small: drop what was consumed. */
		if (r->wpos && r->wpos >= r->win.len / 2) {
			memmove(r->win.data, r->win.data + r->wpos, r->win.len - r->wpos);
			r->win.len -= r->wpos;
			r->win_base += r->wpos;
			r->wpos = 0;
		}
		if (!r->gz) {
			if (r->in_pos == r->in_len && (rc = raw_fill(r)) <= 0)
				return rc < 0 ? -2 : 0;
			qn_buf_append(&r->win, r->in + r->in_pos, r->in_len - r->in_pos);
			r->in_pos = r->in_len;
			continue;
		}
		if (r->zend) {
			if (r->in_len - r->in_pos < 3 && raw_fill(r) < 0)
				return -2;
			if (r->in_pos == r->in_len)
				return 0;
			r->member_off = r->in_base + r->in_pos;
			if (r->in_len - r->in_pos < 3 || r->in[r->in_pos] != 0x1f ||
			    r->in[r->in_pos + 1] != 0x8b || r->in[r->in_pos + 2] != 8) {
				set_corrupt(r, "not a gzip member");
				resync(r, r->in_pos + 1);
				return -1;
			}
			if (whole_member(r))
				continue;
			if (!r->zinit) {
				memset(&r->z, 0, sizeof r->z);
				if (inflateInit2(&r->z, 15 + 16) != Z_OK)
					abort();
				r->zinit = 1;
			} else {
				inflateReset(&r->z);
			}
			r->zend = 0;
		}
		if (r->in_pos == r->in_len) {
			if ((rc = raw_fill(r)) < 0)
				return -2;
			if (rc == 0) {
				set_corrupt(r, "truncated gzip member");
				resync(r, r->in_len);
				return -1;
			}
		}
		qn_buf_grow(&r->win, INFLATE_CHUNK);
		r->z.next_in = r->in + r->in_pos;
		r->z.avail_in = (uInt)(r->in_len - r->in_pos);
		r->z.next_out = (unsigned char *)r->win.data + r->win.len;
		r->z.avail_out = INFLATE_CHUNK;
		rc = inflate(&r->z, Z_NO_FLUSH);
		r->in_pos = r->in_len - r->z.avail_in;
		r->win.len = INFLATE_CHUNK - r->z.avail_out + r->win.len;
		r->win.data[r->win.len] = '\0';
		if (rc == Z_STREAM_END) {
			r->zend = 1;
		} else if (rc != Z_OK && rc != Z_BUF_ERROR) {
			char what[128];
			uint64_t at = r->member_off;

			snprintf(what, sizeof what, "corrupt gzip member: %s",
				 r->z.msg ? r->z.msg : "invalid data");
			set_corrupt(r, what);
			/* Go on after this member's start, whatever zlib consumed. */
			resync(r, at >= r->in_base && at + 1 - r->in_base > r->in_pos ?
			       (size_t)(at + 1 - r->in_base) : r->in_pos);
			return -1;
		}
	}
	return 1;
}

/* The value of header name in the header block h (lines "Name: value\0"), or "". */
static const char *header(const struct qn_buf *h, const char *name)
{
	size_t k = strlen(name), i = 0;

	while (i < h->len) {
		const char *line = h->data + i;
		size_t len = strlen(line);

		if (len > k && !strncasecmp(line, name, k) && line[k] == ':') {
			const char *v = line + k + 1;

			while (*v == ' ' || *v == '\t')
				v++;
			return v;
		}
		i += len + 1;
	}
	return "";
}

/* Copies the header lines p[0..n) into h as NUL-ended lines, values trimmed. */
static void split_headers(struct qn_buf *h, const char *p, size_t n)
{
	size_t i = 0;

	qn_buf_reset(h);
	while (i < n) {
		const char *nl = memchr(p + i, '\n', n - i);
		size_t e = nl ? (size_t)(nl - p) : n, len = e - i;

		while (len && (p[i + len - 1] == '\r' || p[i + len - 1] == ' '))
			len--;
		if (len) {
			size_t k;

			for (k = 0; k < len; k++)	/* no NULs inside a value */
				qn_buf_putc(h, p[i + k] ? p[i + k] : ' ');
			qn_buf_putc(h, '\0');
		}
		i = e + 1;
	}
}

/* The end of a header block at p[0..n): the offset after the blank line, or 0. */
static size_t header_end(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i++) {
		if (p[i] != '\n')
			continue;
		if (p[i + 1] == '\n')
			return i + 2;
		if (i + 2 < n && p[i + 1] == '\r' && p[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* Undoes chunked transfer coding of p[0..n) into out; what is malformed ends it. */
static void dechunk(const char *p, size_t n, struct qn_buf *out)
{
	size_t i = 0;

	qn_buf_reset(out);
	while (i < n) {
		uint64_t len = 0;
		int digits = 0;

		while (i < n && ((p[i] >= '0' && p[i] <= '9') || ((p[i] | 32) >= 'a' && (p[i] | 32) <= 'f'))) {
			len = len * 16 + (uint64_t)(p[i] <= '9' ? p[i] - '0' : (p[i] | 32) - 'a' + 10);
			if (len > n)
				return;
			digits++;
			i++;
		}
		if (!digits)
			return;
		while (i < n && p[i] != '\n')	/* chunk extensions */
			i++;
		i++;
		if (len == 0 || i >= n)
			return;
		if (len > n - i)
			len = n - i;	/* a cut last chunk: keep what is there */
		qn_buf_append(out, p + i, (size_t)len);
		i += (size_t)len;
		if (i < n && p[i] == '\r')
			i++;
		if (i < n && p[i] == '\n')
			i++;
	}
}

/*
 * Undoes gzip or deflate content coding of p[0..n) into out, up to max
 * bytes.  0, or -1 if the data is not what it says (out is left as far
 * as it got) or longer than max.
 */
static int decode(const char *p, size_t n, int gzip, uint64_t max, struct qn_buf *out)
{
	z_stream z;
	int rc, raw;

	qn_buf_reset(out);
	for (raw = 0; raw < 2; raw++) {
		memset(&z, 0, sizeof z);
		/* deflate is meant to be zlib, but servers send raw deflate too. */
		if (inflateInit2(&z, gzip ? 15 + 16 : raw ? -15 : 15) != Z_OK)
			return -1;
		z.next_in = (unsigned char *)p;
		z.avail_in = (uInt)n;
		qn_buf_reset(out);
		do {
			qn_buf_grow(out, INFLATE_CHUNK);
			z.next_out = (unsigned char *)out->data + out->len;
			z.avail_out = INFLATE_CHUNK;
			rc = inflate(&z, Z_NO_FLUSH);
			out->len = INFLATE_CHUNK - z.avail_out + out->len;
			out->data[out->len] = '\0';
			if (out->len > max) {
				inflateEnd(&z);
				return -1;
			}
		} while (rc == Z_OK && z.avail_in);
		inflateEnd(&z);
		if (rc == Z_STREAM_END || (rc == Z_OK && !z.avail_in && out->len))
			return 0;
		if (gzip || out->len)
			return -1;
	}
	return -1;
}

static void parse_http(struct warc_reader *r, struct warc_record *rec)
{
	const char *te, *ce;
	const char *b = rec->block;
	size_t n = rec->block_len, end;

	if (n < 12 || strncmp(b, "HTTP/", 5))
		return;
	if (!(end = header_end(b, n > MAX_HEADER ? MAX_HEADER : n)))
		return;
	{
		const char *sp = memchr(b, ' ', end);
		int st = 0, k;

		if (!sp)
			return;
		for (k = 1; k <= 3; k++) {
			if (sp[k] < '0' || sp[k] > '9')
				return;
			st = st * 10 + (sp[k] - '0');
		}
		rec->http_status = st;
	}
	split_headers(&r->http, b, end);
	rec->http_content_type = header(&r->http, "Content-Type");
	rec->payload = b + end;
	rec->payload_len = n - end;
	/* Crawlers that keep the bytes as sent keep their codings: undo them. */
	te = header(&r->http, "Transfer-Encoding");
	if (strcasestr(te, "chunked")) {
		dechunk(rec->payload, rec->payload_len, &r->body);
		rec->payload = r->body.data ? r->body.data : "";
		rec->payload_len = r->body.len;
	}
	ce = header(&r->http, "Content-Encoding");
	if (!strcasecmp(ce, "gzip") || !strcasecmp(ce, "x-gzip") || !strcasecmp(ce, "deflate")) {
		if (decode(rec->payload, rec->payload_len, strcasecmp(ce, "deflate") != 0,
			   r->max_block, &r->body2) == 0) {
			rec->payload = r->body2.data;
			rec->payload_len = r->body2.len;
		} else {
			rec->http_coding_failed = 1;
		}
	} else if (*ce && strcasecmp(ce, "identity")) {
		rec->http_coding_failed = 1;	/* br, zstd, compress: not undone */
	}
	rec->http_content_encoding = ce;
}

/* Parses a Content-Length value; -1 if it is not a number. */
static int64_t parse_len(const char *s)
{
	int64_t v = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > INT64_MAX / 16)
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

int warc_next(struct warc_reader *r, struct warc_record *rec, struct qn_err *err)
{
	size_t hend, lim;
	int64_t len;
	int rc;

	memset(rec, 0, sizeof *rec);
	if (!r->started) {
		r->started = 1;
		if (raw_fill(r) < 0)
			return qn_err_set(err, QN_EIO, "read error");
		r->gz = r->in_len >= 2 && r->in[0] == 0x1f && r->in[1] == 0x8b;
	}
	/* Skip the newlines that end the previous record. */
	for (;;) {
		rc = dfill(r, 1);
		if (rc == -2)
			return qn_err_set(err, QN_EIO, "read error");
		if (rc == -1)
			return qn_err_set(err, QN_EINPUT, "%s", r->corrupt);
		if (rc == 0)
			return 0;
		if (r->win.data[r->wpos] != '\r' && r->win.data[r->wpos] != '\n')
			break;
		r->wpos++;
	}
	rec->offset = r->gz ? r->member_off : r->win_base + r->wpos;
	rc = dfill(r, 8);
	if (rc < -1)
		return qn_err_set(err, QN_EIO, "read error");
	if (rc == -1)
		return qn_err_set(err, QN_EINPUT, "%s", r->corrupt);
	if (rc == 0 || memcmp(r->win.data + r->wpos, "WARC/", 5)) {
		uint64_t at = rec->offset;

		if (r->gz) {
			resync(r, r->in_pos);
		} else {
			/* The next line that starts a record. */
			for (;;) {
				char *p = memmem(r->win.data + r->wpos + 1, r->win.len - r->wpos - (r->win.len > r->wpos),
						 "\nWARC/", 6);

				if (p) {
					r->wpos = (size_t)(p + 1 - r->win.data);
					break;
				}
				r->wpos = r->win.len > 6 ? r->win.len - 6 : r->wpos;
				if (dfill(r, r->win.len - r->wpos + 1) <= 0) {
					r->wpos = r->win.len;
					break;
				}
			}
		}
		return qn_err_set(err, QN_EINPUT, "offset %llu: not a WARC record",
				  (unsigned long long)at);
	}
	/* The header block, up to MAX_HEADER bytes. */
	for (lim = 256;; lim *= 2) {
		rc = dfill(r, lim);
		if (rc < -1)
			return qn_err_set(err, QN_EIO, "read error");
		if (rc == -1)
			return qn_err_set(err, QN_EINPUT, "%s", r->corrupt);
		hend = header_end(r->win.data + r->wpos, r->win.len - r->wpos < MAX_HEADER ?
				  r->win.len - r->wpos : MAX_HEADER);
		if (hend)
			break;
		if (rc == 0 || lim >= MAX_HEADER) {
			uint64_t at = rec->offset;

			if (r->gz)
				resync(r, r->in_pos);
			else
				r->wpos += 5;	/* past "WARC/": the scan finds the next one */
			return qn_err_set(err, QN_EINPUT, "offset %llu: %s", (unsigned long long)at,
					  rc == 0 ? "truncated record header" : "record header too long");
		}
	}
	split_headers(&r->hdr, r->win.data + r->wpos, hend);
	len = parse_len(header(&r->hdr, "Content-Length"));
	if (len < 0) {
		uint64_t at = rec->offset;

		r->wpos += hend;
		if (r->gz)
			resync(r, r->in_pos);
		return qn_err_set(err, QN_EINPUT, "offset %llu: no valid Content-Length",
				  (unsigned long long)at);
	}
	rec->type = header(&r->hdr, "WARC-Type");
	rec->target_uri = header(&r->hdr, "WARC-Target-URI");
	rec->record_id = header(&r->hdr, "WARC-Record-ID");
	rec->date = header(&r->hdr, "WARC-Date");
	rec->content_type = header(&r->hdr, "Content-Type");
	rec->http_content_type = "";
	rec->http_content_encoding = "";
	r->wpos += hend;
	if ((uint64_t)len > r->max_block) {
		uint64_t left = (uint64_t)len;

		rec->too_large = 1;
		rec->block_len = (size_t)len;
		while (left) {
			size_t take;

			rc = dfill(r, 1);
			if (rc < -1)
				return qn_err_set(err, QN_EIO, "read error");
			if (rc == -1)
				return qn_err_set(err, QN_EINPUT, "%s", r->corrupt);
			if (rc == 0)
				break;
			take = r->win.len - r->wpos;
			if (take > left)
				take = (size_t)left;
			r->wpos += take;
			left -= take;
		}
		return 1;
	}
	rc = dfill(r, (size_t)len);
	if (rc < -1)
		return qn_err_set(err, QN_EIO, "read error");
	if (rc == -1)
		return qn_err_set(err, QN_EINPUT, "%s", r->corrupt);
	if (rc == 0) {
		uint64_t at = rec->offset;

		r->wpos = r->win.len;
		return qn_err_set(err, QN_EINPUT, "offset %llu: truncated record", (unsigned long long)at);
	}
	rec->block = r->win.data + r->wpos;
	rec->block_len = (size_t)len;
	r->wpos += (size_t)len;
	rec->payload = rec->block;
	rec->payload_len = rec->block_len;
	if (!strncasecmp(rec->content_type, "application/http", 16))
		parse_http(r, rec);
	return 1;
}

int warc_sniff(const void *p, size_t n)
{
	const unsigned char *b = p;
	unsigned char out[16];
	z_stream z;
	int ok;

	if (n >= 5 && !memcmp(b, "WARC/", 5))
		return 1;
	if (n < 10 || b[0] != 0x1f || b[1] != 0x8b)
		return 0;
	memset(&z, 0, sizeof z);
	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return 0;
	z.next_in = (unsigned char *)b;
	z.avail_in = (uInt)(n > (1 << 16) ? 1 << 16 : n);
	z.next_out = out;
	z.avail_out = sizeof out;
	inflate(&z, Z_SYNC_FLUSH);
	ok = sizeof out - z.avail_out >= 5 && !memcmp(out, "WARC/", 5);
	inflateEnd(&z);
	return ok ? 2 : 0;
}
