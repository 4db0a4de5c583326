/*
 * shard.c: the shard, sidecar index, metadata and Megatron formats of
 * quern-shard(5): encoding, strict decoding, and the shard writer.
 *
 * Every decoder takes bytes and a length and checks each field against
 * the length before it is used, so a truncated or corrupt file is an
 * error message and never a read out of bounds (tests/fuzz/fuzz_shard.c
 * holds it to that).  Messages read "FILE: what: expected X, found Y".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shard.h"

/* ---- header ---- */

void qn_shard_header_init(struct qn_shard_header *h, uint32_t vocab_size)
{
	memset(h, 0, sizeof *h);
	h->quern = 1;
	h->vocab_size = vocab_size;
	h->eot = -1;
	if (vocab_size <= 65536) {
		h->magic = QN_SHARD_MAGIC16;
		h->version = 1;
		h->token_bytes = 2;
	} else {
		h->magic = QN_SHARD_MAGIC32;
		h->version = 7;
		h->token_bytes = 4;
	}
}

/*
 * Layout of the 256 int32s: [0] magic, [1] version, [2] tokens (llm.c's);
 * then quern's: [3] "quer", [4] 1 (quern header version), [5] vocabulary
 * size, [6] end-of-text id (-1 none), [7..10] tokenizer hash (16 bytes),
 * [11] split, [12] shard number, [13] index entries.  The rest are zero.
 */
void qn_shard_header_encode(const struct qn_shard_header *h,
			    uint8_t out[QN_SHARD_HEADER_BYTES])
{
	memset(out, 0, QN_SHARD_HEADER_BYTES);
	qn_put32(out + 0, h->magic);
	qn_put32(out + 4, h->version);
	qn_put32(out + 8, (uint32_t)h->ntokens);
	if (!h->quern)
		return;
	qn_put32(out + 12, QN_SHARD_QUERN);
	qn_put32(out + 16, 1);
	qn_put32(out + 20, h->vocab_size);
	qn_put32(out + 24, (uint32_t)(int32_t)h->eot);
	memcpy(out + 28, h->tok_hash, 16);
	qn_put32(out + 44, (uint32_t)h->split);
	qn_put32(out + 48, h->number);
	qn_put32(out + 52, (uint32_t)h->ndocs);
}

int qn_shard_header_parse(const void *p, size_t n, const char *name,
			  struct qn_shard_header *h, struct qn_err *err)
{
	const uint8_t *b = p;
	int32_t ntok, eot;
	size_t i;

	memset(h, 0, sizeof *h);
	h->eot = -1;
	if (n < QN_SHARD_HEADER_BYTES)
		return qn_err_set(err, QN_EFORMAT, "%s: truncated header: expected %d bytes, found %zu",
				  name, QN_SHARD_HEADER_BYTES, n);
	h->magic = qn_le32(b);
	h->version = qn_le32(b + 4);
	if (h->magic == QN_SHARD_MAGIC16) {
		h->token_bytes = 2;
		if (h->version != 1)
			return qn_err_set(err, QN_EFORMAT, "%s: version: expected 1 for magic %d, found %" PRIu32,
					  name, QN_SHARD_MAGIC16, h->version);
	} else if (h->magic == QN_SHARD_MAGIC32) {
		h->token_bytes = 4;
		if (h->version != 7)
			return qn_err_set(err, QN_EFORMAT, "%s: version: expected 7 for magic %d, found %" PRIu32,
					  name, QN_SHARD_MAGIC32, h->version);
	} else {
		return qn_err_set(err, QN_EFORMAT, "%s: magic: expected %d or %d, found %" PRId32,
				  name, QN_SHARD_MAGIC16, QN_SHARD_MAGIC32, (int32_t)h->magic);
	}
	ntok = (int32_t)qn_le32(b + 8);
	if (ntok < 0)
		return qn_err_set(err, QN_EFORMAT, "%s: token count: expected 0 or more, found %" PRId32,
				  name, ntok);
	h->ntokens = (uint64_t)ntok;
	if (qn_le32(b + 12) != QN_SHARD_QUERN) {
		/* An llm.c shard from elsewhere: only its own three ints count. */
		return 0;
	}
	h->quern = 1;
	if (qn_le32(b + 16) != 1)
		return qn_err_set(err, QN_EFORMAT, "%s: quern header version: expected 1, found %" PRIu32,
				  name, qn_le32(b + 16));
	h->vocab_size = qn_le32(b + 20);
	if (h->vocab_size == 0 || h->vocab_size > (uint32_t)INT32_MAX)
		return qn_err_set(err, QN_EFORMAT, "%s: vocabulary size: expected 1..%d, found %" PRIu32,
				  name, INT32_MAX, h->vocab_size);
	if (h->token_bytes == 2 && h->vocab_size > 65536)
		return qn_err_set(err, QN_EFORMAT, "%s: vocabulary size: expected at most 65536 with uint16 tokens, found %" PRIu32,
				  name, h->vocab_size);
	eot = (int32_t)qn_le32(b + 24);
	if (eot < -1 || (eot >= 0 && (uint32_t)eot >= h->vocab_size))
		return qn_err_set(err, QN_EFORMAT, "%s: end-of-text id: expected -1 or below %" PRIu32 ", found %" PRId32,
				  name, h->vocab_size, eot);
	h->eot = eot;
	memcpy(h->tok_hash, b + 28, 16);
	h->split = (int)qn_le32(b + 44);
	if (h->split != QN_SHARD_TRAIN && h->split != QN_SHARD_VAL)
		return qn_err_set(err, QN_EFORMAT, "%s: split: expected 0 (train) or 1 (val), found %d",
				  name, h->split);
	h->number = qn_le32(b + 48);
	h->ndocs = qn_le32(b + 52);
	for (i = 56; i < QN_SHARD_HEADER_BYTES; i += 4)
		if (qn_le32(b + i) != 0)
			return qn_err_set(err, QN_EFORMAT, "%s: header[%zu]: expected 0 (reserved), found %" PRId32,
					  name, i / 4, (int32_t)qn_le32(b + i));
	return 0;
}

/* ---- ids ---- */

int qn_shard_id_parse(const char *hex, size_t n, uint8_t id[16])
{
	size_t i;

	if (n != 32)
		return -1;
	for (i = 0; i < 32; i++) {
		int c = (unsigned char)hex[i], v;

		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else
			return -1;
		if (i % 2 == 0)
			id[i / 2] = (uint8_t)(v << 4);
		else
			id[i / 2] |= (uint8_t)v;
	}
	return 0;
}

void qn_shard_id_hex(const uint8_t id[16], char hex[33])
{
	static const char d[] = "0123456789abcdef";
	int i;

	for (i = 0; i < 16; i++) {
		hex[2 * i] = d[id[i] >> 4];
		hex[2 * i + 1] = d[id[i] & 15];
	}
	hex[32] = '\0';
}

/* ---- sidecar index ---- */

/*
 * Header (32 bytes): "QNSHIDX\0", version u32 (1), flags u32 (0),
 * entries u64, tokens u64.  Entry (32 bytes): id[16], first u64,
 * count u32, flags u32.  All little-endian.
 */
void qn_shard_index_encode(const struct qn_shard_doc *docs, uint64_t n,
			   uint64_t ntokens, struct qn_buf *out)
{
	uint8_t b[QN_IDX_ENTRY_BYTES];
	uint64_t i;

	memset(b, 0, sizeof b);
	memcpy(b, QN_IDX_MAGIC, 8);
	qn_put32(b + 8, 1);
	qn_put64(b + 16, n);
	qn_put64(b + 24, ntokens);
	qn_buf_append(out, b, QN_IDX_HEADER_BYTES);
	for (i = 0; i < n; i++) {
		memcpy(b, docs[i].id, 16);
		qn_put64(b + 16, docs[i].first);
		qn_put32(b + 24, docs[i].count);
		qn_put32(b + 28, docs[i].flags);
		qn_buf_append(out, b, QN_IDX_ENTRY_BYTES);
	}
}

int qn_shard_index_parse(const void *p, size_t n, const char *name,
			 uint64_t ntokens, struct qn_shard_doc **docs,
			 uint64_t *ndocs, struct qn_err *err)
{
	const uint8_t *b = p;
	struct qn_shard_doc *d = NULL;
	uint64_t cnt, tok, i, pos = 0;

	*docs = NULL;
	*ndocs = 0;
	if (n < QN_IDX_HEADER_BYTES)
		return qn_err_set(err, QN_EFORMAT, "%s: truncated index header: expected %d bytes, found %zu",
				  name, QN_IDX_HEADER_BYTES, n);
	if (memcmp(b, QN_IDX_MAGIC, 8))
		return qn_err_set(err, QN_EFORMAT, "%s: magic: expected \"QNSHIDX\", found something else", name);
	if (qn_le32(b + 8) != 1)
		return qn_err_set(err, QN_EFORMAT, "%s: version: expected 1, found %" PRIu32, name, qn_le32(b + 8));
	if (qn_le32(b + 12) != 0)
		return qn_err_set(err, QN_EFORMAT, "%s: flags: expected 0, found %" PRIu32, name, qn_le32(b + 12));
	cnt = qn_le64(b + 16);
	tok = qn_le64(b + 24);
	if (tok != ntokens)
		return qn_err_set(err, QN_EFORMAT, "%s: token count: expected %" PRIu64 " (the shard's), found %" PRIu64,
				  name, ntokens, tok);
	if (cnt > (n - QN_IDX_HEADER_BYTES) / QN_IDX_ENTRY_BYTES ||
	    n != QN_IDX_HEADER_BYTES + cnt * QN_IDX_ENTRY_BYTES)
		return qn_err_set(err, QN_EFORMAT, "%s: size: expected %" PRIu64 " bytes for %" PRIu64 " entries, found %zu",
				  name, cnt <= UINT64_MAX / 64 ? QN_IDX_HEADER_BYTES + cnt * QN_IDX_ENTRY_BYTES : UINT64_MAX,
				  cnt, n);
	if (cnt == 0 && ntokens != 0)
		return qn_err_set(err, QN_EFORMAT, "%s: entries: expected some for %" PRIu64 " tokens, found 0",
				  name, ntokens);
	if (cnt)
		d = qn_xmalloc(cnt * sizeof *d);
	for (i = 0; i < cnt; i++) {
		const uint8_t *e = b + QN_IDX_HEADER_BYTES + i * QN_IDX_ENTRY_BYTES;

		memcpy(d[i].id, e, 16);
		d[i].first = qn_le64(e + 16);
		d[i].count = qn_le32(e + 24);
		d[i].flags = qn_le32(e + 28);
		if (d[i].first != pos) {
			qn_err_set(err, QN_EFORMAT, "%s: entry %" PRIu64 ": first token: expected %" PRIu64 ", found %" PRIu64,
				   name, i, pos, d[i].first);
			goto fail;
		}
		if (d[i].count == 0 || d[i].count > ntokens - pos) {
			qn_err_set(err, QN_EFORMAT, "%s: entry %" PRIu64 ": token count: expected 1..%" PRIu64 ", found %" PRIu32,
				   name, i, ntokens - pos, d[i].count);
			goto fail;
		}
		if (d[i].flags & ~(QN_DOC_CONT | QN_DOC_MORE)) {
			qn_err_set(err, QN_EFORMAT, "%s: entry %" PRIu64 ": flags: expected 0..3, found %" PRIu32,
				   name, i, d[i].flags);
			goto fail;
		}
		if ((d[i].flags & QN_DOC_CONT) && i != 0) {
			qn_err_set(err, QN_EFORMAT, "%s: entry %" PRIu64 ": a continued document: expected only as entry 0",
				   name, i);
			goto fail;
		}
		if ((d[i].flags & QN_DOC_MORE) && i != cnt - 1) {
			qn_err_set(err, QN_EFORMAT, "%s: entry %" PRIu64 ": a document going on in the next shard: expected only as the last entry (%" PRIu64 ")",
				   name, i, cnt - 1);
			goto fail;
		}
		pos += d[i].count;
	}
	if (pos != ntokens) {
		qn_err_set(err, QN_EFORMAT, "%s: entries cover %" PRIu64 " tokens: expected %" PRIu64,
			   name, pos, ntokens);
		goto fail;
	}
	*docs = d;
	*ndocs = cnt;
	return 0;
fail:
	free(d);
	return err ? err->code : QN_EFORMAT;
}

char *qn_shard_idx_path(const char *bin_path)
{
	size_t n = strlen(bin_path);

	if (n > 4 && !strcmp(bin_path + n - 4, ".bin"))
		return qn_xasprintf("%.*s.qidx", (int)(n - 4), bin_path);
	return qn_xasprintf("%s.qidx", bin_path);
}

/* ---- shards ---- */

int qn_shard_parse(struct qn_shard *s, const char *name, const void *bin,
		   size_t binlen, const char *idx_name, const void *idx,
		   size_t idxlen, struct qn_err *err)
{
	uint64_t want;
	int rc;

	memset(s, 0, sizeof *s);
	rc = qn_shard_header_parse(bin, binlen, name, &s->h, err);
	if (rc)
		return rc;
	want = QN_SHARD_HEADER_BYTES + s->h.ntokens * (uint64_t)s->h.token_bytes;
	if ((uint64_t)binlen != want)
		return qn_err_set(err, QN_EFORMAT, "%s: size: expected %" PRIu64 " bytes for %" PRIu64 " tokens of %d bytes, found %zu%s",
				  name, want, s->h.ntokens, s->h.token_bytes, binlen,
				  (uint64_t)binlen < want ? " (truncated)" : "");
	s->tokens = (const uint8_t *)bin + QN_SHARD_HEADER_BYTES;
	if (!idx) {
		if (s->h.quern)
			return qn_err_set(err, QN_EFORMAT, "%s: no index: expected %s", name, idx_name ? idx_name : "a .qidx file");
		return 0;
	}
	rc = qn_shard_index_parse(idx, idxlen, idx_name, s->h.ntokens, &s->docs, &s->ndocs, err);
	if (rc)
		return rc;
	if (s->h.quern && s->h.ndocs != s->ndocs) {
		rc = qn_err_set(err, QN_EFORMAT, "%s: index entries: expected %" PRIu64 " (the shard header's), found %" PRIu64,
				idx_name, s->h.ndocs, s->ndocs);
		free(s->docs);
		s->docs = NULL;
		return rc;
	}
	return 0;
}

/* Maps path read-only; an empty file gives an empty mapping.  0 or QN_EIO/QN_ENOTFOUND. */
static int map_file(const char *path, void **map, size_t *len, struct qn_err *err)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*map = NULL;
	*len = 0;
	if (fd < 0)
		return qn_err_set(err, errno == ENOENT ? QN_ENOTFOUND : QN_EIO, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		int e = errno;

		close(fd);
		return qn_err_set(err, QN_EIO, "%s: %s", path, S_ISREG(st.st_mode) ? strerror(e) : "not a regular file");
	}
	if (st.st_size > 0) {
		*map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
		if (*map == MAP_FAILED) {
			int e = errno;

			*map = NULL;
			close(fd);
			return qn_err_set(err, QN_EIO, "%s: mmap: %s", path, strerror(e));
		}
		*len = (size_t)st.st_size;
	}
	close(fd);
	return 0;
}

int qn_shard_open(struct qn_shard *s, const char *path, struct qn_err *err)
{
	void *map, *imap = NULL;
	size_t len, ilen = 0;
	char *ipath = qn_shard_idx_path(path);
	int rc, have_idx;

	memset(s, 0, sizeof *s);
	rc = map_file(path, &map, &len, err);
	if (rc) {
		free(ipath);
		return rc;
	}
	rc = map_file(ipath, &imap, &ilen, err);
	have_idx = rc == 0;
	if (rc && rc != QN_ENOTFOUND)
		goto fail;
	rc = qn_shard_parse(s, path, map ? map : "", len, ipath, have_idx ? (imap ? imap : "") : NULL, ilen, err);
	if (imap)
		munmap(imap, ilen);
	imap = NULL;
	if (rc)
		goto fail;
	s->map = map;
	s->map_len = len;
	s->path = qn_xstrdup(path);
	s->idx_path = ipath;
	if (map)
		madvise(map, len, MADV_WILLNEED);
	return 0;
fail:
	if (map)
		munmap(map, len);
	if (imap)
		munmap(imap, ilen);
	free(ipath);
	memset(s, 0, sizeof *s);
	return rc;
}

int qn_shard_check_tokens(const struct qn_shard *s, struct qn_err *err)
{
	uint64_t i;

	if (s->h.quern) {
		for (i = 0; i < s->h.ntokens; i++) {
			uint32_t t = qn_shard_token(s, i);

			if (t >= s->h.vocab_size)
				return qn_err_set(err, QN_EFORMAT, "%s: token %" PRIu64 ": expected an id below %" PRIu32 ", found %" PRIu32,
						  s->path ? s->path : "shard", i, s->h.vocab_size, t);
		}
	}
	if (s->h.eot < 0)
		return 0;
	for (i = 0; i < s->ndocs; i++) {
		uint32_t t;

		if (s->docs[i].flags & QN_DOC_CONT)
			continue;
		t = qn_shard_token(s, s->docs[i].first);
		if (t != (uint32_t)s->h.eot) {
			char hex[33];

			qn_shard_id_hex(s->docs[i].id, hex);
			return qn_err_set(err, QN_EFORMAT, "%s: document %s at token %" PRIu64 ": expected the end-of-text token %" PRId64 " first, found %" PRIu32,
					  s->path ? s->path : "shard", hex, s->docs[i].first, s->h.eot, t);
		}
	}
	return 0;
}

void qn_shard_close(struct qn_shard *s)
{
	if (!s)
		return;
	if (s->map)
		munmap(s->map, s->map_len);
	free(s->docs);
	free(s->path);
	free(s->idx_path);
	memset(s, 0, sizeof *s);
}

/* ---- writer ---- */

struct qn_shard_writer {
	char *path, *tmp, *idx_path, *idx_tmp;
	int fd;
	struct qn_shard_header h;
	uint8_t *buf;
	size_t blen;
	struct qn_shard_doc *docs;
	uint64_t ndocs, cap;
	uint64_t ntokens;
};

enum { WBUF = 1 << 20 };

static int write_all(int fd, const void *p, size_t n, const char *name, struct qn_err *err)
{
	if (qn_write_all(fd, p, n) < 0)
		return qn_err_set(err, QN_EIO, "%s: write: %s", name, strerror(errno));
	return 0;
}

int qn_shard_writer_open(const char *path, const struct qn_shard_header *h,
			 struct qn_shard_writer **out, struct qn_err *err)
{
	struct qn_shard_writer *w = qn_xcalloc(1, sizeof *w);
	uint8_t hdr[QN_SHARD_HEADER_BYTES];

	*out = NULL;
	w->path = qn_xstrdup(path);
	w->tmp = qn_xasprintf("%s.tmp", path);
	w->idx_path = qn_shard_idx_path(path);
	w->idx_tmp = qn_xasprintf("%s.tmp", w->idx_path);
	w->h = *h;
	w->h.ntokens = 0;
	w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		int rc = qn_err_set(err, QN_EIO, "%s: %s", w->tmp, strerror(errno));

		qn_shard_writer_free(w);
		return rc;
	}
	w->buf = qn_xmalloc(WBUF);
	qn_shard_header_encode(&w->h, hdr);
	if (write_all(w->fd, hdr, sizeof hdr, w->tmp, err)) {
		int rc = err ? err->code : QN_EIO;

		qn_shard_writer_free(w);
		return rc;
	}
	*out = w;
	return 0;
}

void qn_shard_writer_doc(struct qn_shard_writer *w, const uint8_t id[16], uint32_t flags)
{
	struct qn_shard_doc *d;

	if (w->ndocs == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 1024;
		w->docs = qn_xrealloc(w->docs, w->cap * sizeof *w->docs);
	}
	d = &w->docs[w->ndocs++];
	memcpy(d->id, id, 16);
	d->first = w->ntokens;
	d->count = 0;
	d->flags = flags;
}

void qn_shard_writer_more(struct qn_shard_writer *w)
{
	if (w->ndocs)
		w->docs[w->ndocs - 1].flags |= QN_DOC_MORE;
}

int qn_shard_writer_tokens(struct qn_shard_writer *w, const uint32_t *ids,
			   size_t n, struct qn_err *err)
{
	size_t i;
	int tb = w->h.token_bytes;

	if (n > QN_SHARD_MAX_TOKENS - w->ntokens)
		return qn_err_set(err, QN_EUSAGE, "%s: over %u tokens in one shard", w->path, QN_SHARD_MAX_TOKENS);
	for (i = 0; i < n; i++) {
		if (w->blen + 4 > WBUF) {
			if (write_all(w->fd, w->buf, w->blen, w->tmp, err))
				return QN_EIO;
			w->blen = 0;
		}
		if (tb == 2) {
			w->buf[w->blen++] = (uint8_t)ids[i];
			w->buf[w->blen++] = (uint8_t)(ids[i] >> 8);
		} else {
			qn_put32(w->buf + w->blen, ids[i]);
			w->blen += 4;
		}
	}
	w->ntokens += n;
	if (w->ndocs)
		w->docs[w->ndocs - 1].count += (uint32_t)n;
	return 0;
}

int qn_shard_writer_raw(struct qn_shard_writer *w, const void *le, size_t n,
			struct qn_err *err)
{
	const uint8_t *p = le;
	size_t bytes = n * (size_t)w->h.token_bytes;

	if (n > QN_SHARD_MAX_TOKENS - w->ntokens)
		return qn_err_set(err, QN_EUSAGE, "%s: over %u tokens in one shard", w->path, QN_SHARD_MAX_TOKENS);
	while (bytes) {
		size_t take = WBUF - w->blen;

		if (take == 0) {
			if (write_all(w->fd, w->buf, w->blen, w->tmp, err))
				return QN_EIO;
			w->blen = 0;
			continue;
		}
		if (take > bytes)
			take = bytes;
		memcpy(w->buf + w->blen, p, take);
		w->blen += take;
		p += take;
		bytes -= take;
	}
	w->ntokens += n;
	if (w->ndocs)
		w->docs[w->ndocs - 1].count += (uint32_t)n;
	return 0;
}

uint64_t qn_shard_writer_ntokens(const struct qn_shard_writer *w)
{
	return w->ntokens;
}

uint64_t qn_shard_writer_ndocs(const struct qn_shard_writer *w)
{
	return w->ndocs;
}

const struct qn_shard_doc *qn_shard_writer_docs(const struct qn_shard_writer *w)
{
	return w->docs;
}

int qn_shard_writer_commit(struct qn_shard_writer *w, struct qn_err *err)
{
	uint8_t hdr[QN_SHARD_HEADER_BYTES];
	struct qn_buf idx = QN_BUF_INIT;
	int fd, rc;

	if (w->blen && write_all(w->fd, w->buf, w->blen, w->tmp, err))
		return QN_EIO;
	w->blen = 0;
	w->h.ntokens = w->ntokens;
	w->h.ndocs = w->ndocs;
	qn_shard_header_encode(&w->h, hdr);
	if (pwrite(w->fd, hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr)
		return qn_err_set(err, QN_EIO, "%s: write: %s", w->tmp, strerror(errno));
	if (fsync(w->fd) < 0)
		return qn_err_set(err, QN_EIO, "%s: fsync: %s", w->tmp, strerror(errno));
	qn_shard_index_encode(w->docs, w->ndocs, w->ntokens, &idx);
	fd = open(w->idx_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		qn_buf_release(&idx);
		return qn_err_set(err, QN_EIO, "%s: %s", w->idx_tmp, strerror(errno));
	}
	rc = write_all(fd, idx.data, idx.len, w->idx_tmp, err);
	qn_buf_release(&idx);
	if (!rc && fsync(fd) < 0)
		rc = qn_err_set(err, QN_EIO, "%s: fsync: %s", w->idx_tmp, strerror(errno));
	if (close(fd) < 0 && !rc)
		rc = qn_err_set(err, QN_EIO, "%s: close: %s", w->idx_tmp, strerror(errno));
	if (rc)
		return rc;
	if (close(w->fd) < 0) {
		w->fd = -1;
		return qn_err_set(err, QN_EIO, "%s: close: %s", w->tmp, strerror(errno));
	}
	w->fd = -1;
	if (rename(w->idx_tmp, w->idx_path) < 0)
		return qn_err_set(err, QN_EIO, "%s: rename: %s", w->idx_path, strerror(errno));
	if (rename(w->tmp, w->path) < 0)
		return qn_err_set(err, QN_EIO, "%s: rename: %s", w->path, strerror(errno));
	free(w->tmp);
	free(w->idx_tmp);
	w->tmp = w->idx_tmp = NULL;
	return 0;
}

void qn_shard_writer_free(struct qn_shard_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (w->tmp)
		unlink(w->tmp);
	if (w->idx_tmp)
		unlink(w->idx_tmp);
	free(w->tmp);
	free(w->idx_tmp);
	free(w->path);
	free(w->idx_path);
	free(w->buf);
	free(w->docs);
	free(w);
}

/* ---- metadata ---- */

/*
 * shards.meta, line by line:
 *	quern-shard-meta 1
 *	format llmc|megatron
 *	vocab_size N
 *	eot N                (-1: none)
 *	tokenizer_hash HEX32
 *	token_bytes 2|4
 *	seed N
 *	val_fraction X
 *	shard_tokens N
 *	no_split 0|1
 *	docs SPLIT N         (whole documents in the split)
 *	shard NAME SPLIT TOKENS ENTRIES
 * SPLIT is "train" or "val".  Unknown keys are skipped (a later version
 * may add some); a known key with a bad value is an error.
 */
void qn_shard_meta_format(const struct qn_shard_meta *m, struct qn_buf *out)
{
	size_t i;

	qn_buf_appendf(out, "quern-shard-meta 1\nformat %s\nvocab_size %" PRIu32 "\neot %" PRId64 "\n",
		       m->format, m->vocab_size, m->eot);
	if (m->tok_hash[0])
		qn_buf_appendf(out, "tokenizer_hash %s\n", m->tok_hash);
	qn_buf_appendf(out, "token_bytes %d\nseed %" PRIu64 "\nval_fraction %.17g\nshard_tokens %" PRIu64
		       "\nno_split %d\ndocs train %" PRIu64 "\ndocs val %" PRIu64 "\n",
		       m->token_bytes, m->seed, m->val_fraction,
		       m->shard_tokens, m->no_split, m->docs[0], m->docs[1]);
	for (i = 0; i < m->nshards; i++)
		qn_buf_appendf(out, "shard %s %s %" PRIu64 " %" PRIu64 "\n", m->shards[i].name,
			       m->shards[i].split == QN_SHARD_VAL ? "val" : "train", m->shards[i].tokens,
			       m->shards[i].docs);
}

void qn_shard_meta_add(struct qn_shard_meta *m, const char *name, int split,
		       uint64_t tokens, uint64_t docs)
{
	struct qn_meta_shard *s;

	m->shards = qn_xrealloc(m->shards, (m->nshards + 1) * sizeof *m->shards);
	s = &m->shards[m->nshards++];
	s->name = qn_xstrdup(name);
	s->split = split;
	s->tokens = tokens;
	s->docs = docs;
}

void qn_shard_meta_release(struct qn_shard_meta *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->nshards; i++)
		free(m->shards[i].name);
	free(m->shards);
	memset(m, 0, sizeof *m);
}

/* Parses a whole decimal uint64 word; 0 or -1. */
static int parse_u64(const char *s, uint64_t *v)
{
	uint64_t x = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || x > (UINT64_MAX - 9) / 10)
			return -1;
		x = x * 10 + (uint64_t)(*s - '0');
	}
	*v = x;
	return 0;
}

static int parse_split(const char *s)
{
	if (!strcmp(s, "train"))
		return QN_SHARD_TRAIN;
	if (!strcmp(s, "val"))
		return QN_SHARD_VAL;
	return -1;
}

/* A file name that stays inside the directory. */
static int good_name(const char *s)
{
	return *s && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

int qn_shard_meta_parse(const char *text, size_t n, const char *name,
			struct qn_shard_meta *m, struct qn_err *err)
{
	size_t off = 0;
	long line = 0;
	int seen_magic = 0, seen_vocab = 0, seen_format = 0, seen_tb = 0;
	char *l = NULL;

	memset(m, 0, sizeof *m);
	m->eot = -1;
	while (off < n) {
		const char *nl = memchr(text + off, '\n', n - off);
		size_t len = nl ? (size_t)(nl - (text + off)) : n - off;
		char *w[6], *save = NULL, *tok;
		int nw = 0;
		uint64_t v = 0, v2 = 0;

		line++;
		free(l);
		l = qn_xstrndup(text + off, len);
		off += len + (nl ? 1 : 0);
		if (strlen(l) != len) {
			qn_err_set(err, QN_EFORMAT, "%s:%ld: NUL byte in the line", name, line);
			goto fail;
		}
		for (tok = strtok_r(l, " \t\r", &save); tok && nw < 6; tok = strtok_r(NULL, " \t\r", &save))
			w[nw++] = tok;
		if (nw == 0)
			continue;
		if (!seen_magic) {
			if (strcmp(w[0], "quern-shard-meta") || nw != 2 || strcmp(w[1], "1")) {
				qn_err_set(err, QN_EFORMAT, "%s:%ld: expected \"quern-shard-meta 1\", found \"%.60s\"",
					   name, line, w[0]);
				goto fail;
			}
			seen_magic = 1;
			continue;
		}
#define NEED(k) do { if (nw != (k)) { qn_err_set(err, QN_EFORMAT, "%s:%ld: %s: expected %d values, found %d", name, line, w[0], (k) - 1, nw - 1); goto fail; } } while (0)
#define BAD(what) do { qn_err_set(err, QN_EFORMAT, "%s:%ld: %s: expected %s, found \"%.60s\"", name, line, w[0], what, w[1]); goto fail; } while (0)
		if (!strcmp(w[0], "format")) {
			NEED(2);
			if (strcmp(w[1], "llmc") && strcmp(w[1], "megatron"))
				BAD("llmc or megatron");
			snprintf(m->format, sizeof m->format, "%s", w[1]);
			seen_format = 1;
		} else if (!strcmp(w[0], "vocab_size")) {
			NEED(2);
			if (parse_u64(w[1], &v) || v == 0 || v > INT32_MAX)
				BAD("1..2147483647");
			m->vocab_size = (uint32_t)v;
			seen_vocab = 1;
		} else if (!strcmp(w[0], "eot")) {
			NEED(2);
			if (!strcmp(w[1], "-1"))
				m->eot = -1;
			else if (parse_u64(w[1], &v) || v > INT32_MAX)
				BAD("-1 or a token id");
			else
				m->eot = (int64_t)v;
		} else if (!strcmp(w[0], "tokenizer_hash")) {
			uint8_t id[16];

			NEED(2);
			if (qn_shard_id_parse(w[1], strlen(w[1]), id))
				BAD("32 lowercase hex digits");
			memcpy(m->tok_hash, w[1], 33);
		} else if (!strcmp(w[0], "token_bytes")) {
			NEED(2);
			if (strcmp(w[1], "2") && strcmp(w[1], "4"))
				BAD("2 or 4");
			m->token_bytes = w[1][0] - '0';
			seen_tb = 1;
		} else if (!strcmp(w[0], "seed")) {
			NEED(2);
			if (parse_u64(w[1], &m->seed))
				BAD("a number");
		} else if (!strcmp(w[0], "shard_tokens")) {
			NEED(2);
			if (parse_u64(w[1], &m->shard_tokens))
				BAD("a number");
		} else if (!strcmp(w[0], "no_split")) {
			NEED(2);
			if (strcmp(w[1], "0") && strcmp(w[1], "1"))
				BAD("0 or 1");
			m->no_split = w[1][0] - '0';
		} else if (!strcmp(w[0], "val_fraction")) {
			char *end;

			NEED(2);
			m->val_fraction = strtod(w[1], &end);
			if (*end || !(m->val_fraction >= 0 && m->val_fraction <= 1))
				BAD("a number in [0, 1]");
		} else if (!strcmp(w[0], "docs")) {
			int sp;

			NEED(3);
			sp = parse_split(w[1]);
			if (sp < 0)
				BAD("train or val");
			if (parse_u64(w[2], &v)) {
				w[1] = w[2];
				BAD("a number");
			}
			m->docs[sp] = v;
		} else if (!strcmp(w[0], "shard")) {
			int sp;

			NEED(5);
			if (!good_name(w[1]))
				BAD("a file name");
			sp = parse_split(w[2]);
			if (sp < 0) {
				w[1] = w[2];
				BAD("train or val");
			}
			if (parse_u64(w[3], &v) || parse_u64(w[4], &v2)) {
				w[1] = w[3];
				BAD("token and entry counts");
			}
			qn_shard_meta_add(m, w[1], sp, v, v2);
		}
#undef NEED
#undef BAD
	}
	free(l);
	l = NULL;
	if (!seen_magic) {
		qn_err_set(err, QN_EFORMAT, "%s: expected \"quern-shard-meta 1\", found an empty file", name);
		goto fail;
	}
	if (!seen_format || !seen_vocab || !seen_tb) {
		qn_err_set(err, QN_EFORMAT, "%s: expected format, vocab_size and token_bytes, found %s missing", name,
			   !seen_format ? "format" : !seen_vocab ? "vocab_size" : "token_bytes");
		goto fail;
	}
	if (m->eot >= (int64_t)m->vocab_size) {
		qn_err_set(err, QN_EFORMAT, "%s: eot: expected below vocab_size %" PRIu32 ", found %" PRId64,
			   name, m->vocab_size, m->eot);
		goto fail;
	}
	return 0;
fail:
	free(l);
	qn_shard_meta_release(m);
	return err ? err->code : QN_EFORMAT;
}

int qn_shard_meta_read(const char *dir, struct qn_shard_meta *m, struct qn_err *err)
{
	char *path = qn_xasprintf("%s/%s", dir, QN_META_NAME);
	void *map;
	size_t len;
	int rc;

	memset(m, 0, sizeof *m);
	rc = map_file(path, &map, &len, err);
	if (!rc) {
		rc = qn_shard_meta_parse(map ? map : "", len, path, m, err);
		if (map)
			munmap(map, len);
	}
	free(path);
	return rc;
}

/* ---- Megatron MMIDIDX ---- */

/*
 * .idx: "MMIDIDX\0\0", version u64 (1), dtype u8, sequence count u64,
 * document index count u64, int32 sizes[seq], int64 pointers[seq],
 * int64 doc_idx[docs].  dtype codes as Megatron-LM: 4 int32, 8 uint16.
 */
void qn_mmidx_encode(int token_bytes, const uint32_t *sizes, uint64_t nseq,
		     struct qn_buf *out)
{
	uint8_t b[8];
	uint64_t i, ptr = 0;

	qn_buf_append(out, QN_MMIDX_MAGIC, 9);
	qn_put64(b, 1);
	qn_buf_append(out, b, 8);
	b[0] = token_bytes == 2 ? 8 : 4;
	qn_buf_append(out, b, 1);
	qn_put64(b, nseq);
	qn_buf_append(out, b, 8);
	qn_put64(b, nseq + 1);
	qn_buf_append(out, b, 8);
	for (i = 0; i < nseq; i++) {
		qn_put32(b, sizes[i]);
		qn_buf_append(out, b, 4);
	}
	for (i = 0; i < nseq; i++) {
		qn_put64(b, ptr);
		qn_buf_append(out, b, 8);
		ptr += (uint64_t)sizes[i] * (uint64_t)token_bytes;
	}
	for (i = 0; i <= nseq; i++) {
		qn_put64(b, i);
		qn_buf_append(out, b, 8);
	}
}

int qn_mmidx_parse(const void *p, size_t n, const char *name, uint64_t binlen,
		   struct qn_mmidx *x, struct qn_err *err)
{
	const uint8_t *b = p;
	uint64_t i, ptr = 0, prev = 0, need;

	memset(x, 0, sizeof *x);
	if (n < 34)
		return qn_err_set(err, QN_EFORMAT, "%s: truncated header: expected 34 bytes, found %zu", name, n);
	if (memcmp(b, QN_MMIDX_MAGIC, 9))
		return qn_err_set(err, QN_EFORMAT, "%s: magic: expected \"MMIDIDX\", found something else", name);
	if (qn_le64(b + 9) != 1)
		return qn_err_set(err, QN_EFORMAT, "%s: version: expected 1, found %" PRIu64, name, qn_le64(b + 9));
	x->dtype = b[17];
	if (x->dtype == 8)
		x->token_bytes = 2;
	else if (x->dtype == 4)
		x->token_bytes = 4;
	else
		return qn_err_set(err, QN_EFORMAT, "%s: dtype: expected 8 (uint16) or 4 (int32), found %d", name, x->dtype);
	x->nseq = qn_le64(b + 18);
	x->ndoc_idx = qn_le64(b + 26);
	if (x->nseq > n / 12 || x->ndoc_idx > n / 8 ||
	    (need = 34 + 12 * x->nseq + 8 * x->ndoc_idx) != n)
		return qn_err_set(err, QN_EFORMAT, "%s: size: expected 34 + 12 x %" PRIu64 " sequences + 8 x %" PRIu64 " document entries bytes, found %zu",
				  name, x->nseq, x->ndoc_idx, n);
	x->sizes = b + 34;
	x->pointers = x->sizes + 4 * x->nseq;
	x->doc_idx = x->pointers + 8 * x->nseq;
	for (i = 0; i < x->nseq; i++) {
		int32_t sz = (int32_t)qn_le32(x->sizes + 4 * i);

		if (qn_le64(x->pointers + 8 * i) != ptr)
			return qn_err_set(err, QN_EFORMAT, "%s: sequence %" PRIu64 ": pointer: expected %" PRIu64 ", found %" PRIu64,
					  name, i, ptr, qn_le64(x->pointers + 8 * i));
		if (sz < 0)
			return qn_err_set(err, QN_EFORMAT, "%s: sequence %" PRIu64 ": size: expected 0 or more, found %" PRId32,
					  name, i, sz);
		ptr += (uint64_t)sz * (uint64_t)x->token_bytes;
	}
	if (ptr != binlen)
		return qn_err_set(err, QN_EFORMAT, "%s: sequences cover %" PRIu64 " bytes: expected %" PRIu64 " (the .bin's size)",
				  name, ptr, binlen);
	if (x->ndoc_idx < 1 || qn_le64(x->doc_idx) != 0)
		return qn_err_set(err, QN_EFORMAT, "%s: document index: expected to start at 0", name);
	for (i = 1; i < x->ndoc_idx; i++) {
		uint64_t d = qn_le64(x->doc_idx + 8 * i);

		if (d < prev || d > x->nseq)
			return qn_err_set(err, QN_EFORMAT, "%s: document index %" PRIu64 ": expected %" PRIu64 "..%" PRIu64 ", found %" PRIu64,
					  name, i, prev, x->nseq, d);
		prev = d;
	}
	if (qn_le64(x->doc_idx + 8 * (x->ndoc_idx - 1)) != x->nseq)
		return qn_err_set(err, QN_EFORMAT, "%s: document index: expected to end at %" PRIu64 ", found %" PRIu64,
				  name, x->nseq, qn_le64(x->doc_idx + 8 * (x->ndoc_idx - 1)));
	return 0;
}

/* ---- packing ---- */

struct qn_packer {
	struct qn_packer_opts o;
	struct qn_shard_writer *w;
	char *name;
	uint32_t number;
	uint64_t docs;
};

int qn_packer_new(const struct qn_packer_opts *o, struct qn_packer **out,
		  struct qn_err *err)
{
	struct qn_packer *p;

	*out = NULL;
	if (o->shard_tokens < 2 || o->shard_tokens > QN_SHARD_MAX_TOKENS)
		return qn_err_set(err, QN_EUSAGE, "shard size: expected 2..%u tokens, found %" PRIu64,
				  QN_SHARD_MAX_TOKENS, o->shard_tokens);
	p = qn_xcalloc(1, sizeof *p);
	p->o = *o;
	*out = p;
	return 0;
}

static int packer_commit(struct qn_packer *p, struct qn_err *err)
{
	int rc;

	if (!p->w)
		return 0;
	rc = qn_shard_writer_commit(p->w, err);
	if (rc)
		return rc;
	if (p->o.shard_done)
		p->o.shard_done(p->o.ctx, p->name, qn_shard_writer_docs(p->w),
				qn_shard_writer_ndocs(p->w), qn_shard_writer_ntokens(p->w));
	qn_shard_writer_free(p->w);
	p->w = NULL;
	free(p->name);
	p->name = NULL;
	return 0;
}

static int packer_open(struct qn_packer *p, struct qn_err *err)
{
	struct qn_shard_header h = p->o.proto;
	char *path;
	int rc;

	h.number = p->number;
	p->name = qn_xasprintf("%s_%06" PRIu32 ".bin", p->o.prefix, p->number);
	path = qn_xasprintf("%s/%s", p->o.dir, p->name);
	rc = qn_shard_writer_open(path, &h, &p->w, err);
	free(path);
	if (rc)
		return rc;
	p->number++;
	return 0;
}

/* Writes n tokens from ids (uint32) or else raw (the shard's width). */
static int put(struct qn_packer *p, const uint32_t *ids, const uint8_t *raw, size_t n,
	       struct qn_err *err)
{
	return ids ? qn_shard_writer_tokens(p->w, ids, n, err) : qn_shard_writer_raw(p->w, raw, n, err);
}

static int pack(struct qn_packer *p, const uint8_t id[16], const uint32_t *ids,
		const uint8_t *raw, size_t n, struct qn_err *err)
{
	uint32_t eot = (uint32_t)p->o.proto.eot;
	int has_eot = p->o.proto.eot >= 0, rc, tb = p->o.proto.token_bytes;
	uint64_t total = n + (has_eot ? 1 : 0), cur, room;
	uint32_t flags = 0;

	if (total == 0)
		return 0;	/* no end-of-text and no tokens: nothing to place */
	cur = p->w ? qn_shard_writer_ntokens(p->w) : 0;
	if (p->o.no_split) {
		if (total > QN_SHARD_MAX_TOKENS)
			return qn_err_set(err, QN_EINPUT, "a document of %" PRIu64 " tokens: expected at most %u with --no-split",
					  total, QN_SHARD_MAX_TOKENS);
		if (p->w && cur && cur + total > p->o.shard_tokens && (rc = packer_commit(p, err)))
			return rc;
		if (!p->w && (rc = packer_open(p, err)))
			return rc;
		qn_shard_writer_doc(p->w, id, 0);
		if ((has_eot && (rc = qn_shard_writer_tokens(p->w, &eot, 1, err))) ||
		    (rc = put(p, ids, raw, n, err)))
			return rc;
		p->docs++;
		return 0;
	}
	/* Split: fill the shard, cut, go on in the next. */
	while (total) {
		uint64_t take;

		if (!p->w && (rc = packer_open(p, err)))
			return rc;
		cur = qn_shard_writer_ntokens(p->w);
		room = p->o.shard_tokens - cur;
		if (room == 0) {
			if ((rc = packer_commit(p, err)))
				return rc;
			continue;
		}
		take = total < room ? total : room;
		qn_shard_writer_doc(p->w, id, flags);
		if (!flags && has_eot) {
			if ((rc = qn_shard_writer_tokens(p->w, &eot, 1, err)))
				return rc;
			take--;
			total--;
		}
		if ((rc = put(p, ids, raw, take, err)))
			return rc;
		if (ids)
			ids += take;
		else
			raw += take * (uint64_t)tb;
		total -= take;
		if (total) {
			qn_shard_writer_more(p->w);
			if ((rc = packer_commit(p, err)))
				return rc;
		}
		flags = QN_DOC_CONT;
	}
	p->docs++;
	return 0;
}

int qn_packer_doc(struct qn_packer *p, const uint8_t id[16], const uint32_t *ids,
		  size_t n, struct qn_err *err)
{
	static const uint32_t none[1];

	return pack(p, id, ids ? ids : none, NULL, n, err);
}

int qn_packer_doc_raw(struct qn_packer *p, const uint8_t id[16], const void *le,
		      size_t n, struct qn_err *err)
{
	return pack(p, id, NULL, le ? le : "", n, err);
}

int qn_packer_finish(struct qn_packer *p, struct qn_err *err)
{
	return packer_commit(p, err);
}

uint64_t qn_packer_docs(const struct qn_packer *p)
{
	return p->docs;
}

void qn_packer_free(struct qn_packer *p)
{
	if (!p)
		return;
	qn_shard_writer_free(p->w);
	free(p->name);
	free(p);
}
