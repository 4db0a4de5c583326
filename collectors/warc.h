/*
 * warc.h: a streaming reader of WARC files (ISO 28500), plain or with a
 * gzip member per record as Common Crawl writes them (WARC, WET, WAT).
 *
 * The reader pulls raw bytes through a callback, so it reads a file, a
 * pipe, or an archive member alike, and holds at most one record (up to
 * a limit) in memory.  A corrupt or truncated gzip member, or bytes that
 * are not a WARC record, do not end the file: warc_next reports them and
 * the next call goes on from the next gzip member (or, in a plain WARC,
 * the next line that starts a record).
 */
#ifndef QN_COLLECT_WARC_H
#define QN_COLLECT_WARC_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Reads up to n raw bytes into buf: the count, 0 at the end, < 0 on error. */
typedef long (*warc_read_fn)(void *ctx, void *buf, size_t n);

/*
 * One record.  The strings and the block are the reader's, valid until
 * the next call; a header that is absent reads "".
 */
struct warc_record {
	const char *type;		/* WARC-Type: "response", "conversion", ... */
	const char *target_uri;		/* WARC-Target-URI */
	const char *record_id;		/* WARC-Record-ID, "<urn:uuid:...>" */
	const char *date;		/* WARC-Date */
	const char *content_type;	/* the record's Content-Type */
	uint64_t offset;		/* of its gzip member, or of the record in a plain WARC */
	const char *block;		/* the content block (NULL when too_large) */
	size_t block_len;
	int too_large;			/* the block is over max_block: skipped, block_len is its length */
	/* With a Content-Type of application/http (request, response): */
	int http_status;		/* 0 if the block is no HTTP response */
	const char *http_content_type;	/* its Content-Type header */
	const char *http_content_encoding;	/* its Content-Encoding ("" if none) */
	int http_coding_failed;		/* a content coding that could not be undone */
	const char *payload;		/* the body after the HTTP headers, chunked
					   transfer coding and gzip/deflate content
					   coding undone; else the block */
	size_t payload_len;
};

struct warc_reader;

/* A reader over read(ctx, ...); blocks over max_block bytes are skipped. */
struct warc_reader *warc_open(warc_read_fn read, void *ctx, uint64_t max_block);
/*
 * The next record: 1 with one in rec, 0 at the end, QN_EINPUT when a
 * corrupt gzip member or a malformed record was skipped (err says where
 * and why; call again to go on), QN_EIO when read failed (stop).
 */
int warc_next(struct warc_reader *r, struct warc_record *rec, struct qn_err *err);
/* Raw bytes read so far. */
uint64_t warc_raw_bytes(const struct warc_reader *r);
void warc_close(struct warc_reader *r);

/*
 * 1 (the default): a gzip member that can be is inflated whole by
 * libdeflate (see warc.c), with the same results as zlib; tests set 0 to
 * compare with zlib alone.
 */
extern int warc_whole_members;

/* Whether p[0..n) starts a WARC file: 1 plain, 2 gzip-compressed, 0 not. */
int warc_sniff(const void *p, size_t n);

#endif
