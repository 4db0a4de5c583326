/*
 * sigfile.c: signature files, what "quern-dedup sign" writes for one input
 * part and "quern-dedup cluster" reads.
 *
 * Binary, little-endian (the byte order of every machine quern runs on),
 * described in quern-dedup(1):
 *
 *   header  "QNDSIG01", u32 bands, rows, shingle, ngram, norm, parts,
 *           u64 seed, u64 input hash (high, low), u32 name length, name
 *   record  u8 'D', u32 id length, id, u64 text bytes, f64 keep value,
 *           u64 exact hash (high, low), u32 x bands*rows signature,
 *           [u32 n, u64 x n line hashes]     if parts has QN_SIG_LINES
 *           [u32 n, u64 x n shingle hashes]  if parts has QN_SIG_SHINGLES
 *   trailer u8 'E', u64 record count, u64 xxh64 of every byte before it
 *
 * The writer publishes the file under its name only when complete (a
 * temporary name, fsync, rename).  The reader trusts nothing: every
 * length is checked against the bytes left in the file before anything is
 * allocated, and a file is good only when its trailer's count and checksum
 * match.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "dedup.h"
#include "err.h"

static const char MAGIC[8] = "QNDSIG01";
#define MAX_ID 65536
#define MAX_NAME 65536

/* ---- writing ---- */

struct qn_sigwriter {
	FILE *f;
	char *path, *tmp;
	int k, parts;
	uint64_t docs;
	XXH64_state_t *xs;
	int failed;
};

static void wbytes(struct qn_sigwriter *w, const void *p, size_t n)
{
	if (!n)
		return;
	if (fwrite(p, 1, n, w->f) != n)
		w->failed = 1;
	XXH64_update(w->xs, p, n);
}

static void w32(struct qn_sigwriter *w, uint32_t v) { wbytes(w, &v, 4); }
static void w64(struct qn_sigwriter *w, uint64_t v) { wbytes(w, &v, 8); }

struct qn_sigwriter *qn_sigwriter_open(const char *path, const struct qn_dedup_params *p,
				       struct qn_hash128 input_hash, const char *name,
				       struct qn_err *err)
{
	struct qn_sigwriter *w = qn_xcalloc(1, sizeof *w);
	int fd;

	w->path = qn_xstrdup(path);
	w->tmp = qn_xasprintf("%s.tmp.XXXXXX", path);
	if ((fd = mkstemp(w->tmp)) < 0 || !(w->f = fdopen(fd, "wb"))) {
		qn_err_set(err, QN_EIO, "%s: %s", path, strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(w->tmp);
		}
		free(w->tmp);
		free(w->path);
		free(w);
		return NULL;
	}
	{
		/* mkstemp makes 0600; a published file gets what open() would give. */
		mode_t um = umask(0);

		umask(um);
		fchmod(fd, 0666 & ~um);
	}
	setvbuf(w->f, NULL, _IOFBF, 1 << 20);
	w->xs = XXH64_createState();
	XXH64_reset(w->xs, 0);
	w->k = p->bands * p->rows;
	w->parts = p->parts;
	wbytes(w, MAGIC, 8);
	w32(w, (uint32_t)p->bands);
	w32(w, (uint32_t)p->rows);
	w32(w, (uint32_t)p->shingle);
	w32(w, (uint32_t)p->ngram);
	w32(w, (uint32_t)p->norm);
	w32(w, (uint32_t)p->parts);
	w64(w, p->seed);
	w64(w, input_hash.hi);
	w64(w, input_hash.lo);
	w32(w, (uint32_t)strlen(name));
	wbytes(w, name, strlen(name));
	return w;
}

void qn_sig_serialize(struct qn_buf *out, const struct qn_dedup_params *p,
		      const char *id, size_t idlen, uint64_t text_bytes, double keep,
		      const struct qn_docsig *s)
{
	unsigned char tag = 'D';
	uint32_t l = (uint32_t)(idlen > MAX_ID ? MAX_ID : idlen);

	qn_buf_append(out, &tag, 1);
	qn_buf_append(out, &l, 4);
	qn_buf_append(out, id, l);	/* longer ids are cut (never seen in practice) */
	qn_buf_append(out, &text_bytes, 8);
	qn_buf_append(out, &keep, 8);
	qn_buf_append(out, &s->exact.hi, 8);
	qn_buf_append(out, &s->exact.lo, 8);
	qn_buf_append(out, s->sig, (size_t)p->bands * (size_t)p->rows * 4);
	if (p->parts & QN_SIG_LINES) {
		qn_buf_append(out, &s->nlines, 4);
		qn_buf_append(out, s->lines, (size_t)s->nlines * 8);
	}
	if (p->parts & QN_SIG_SHINGLES) {
		qn_buf_append(out, &s->nshingle_set, 4);
		qn_buf_append(out, s->shingles, (size_t)s->nshingle_set * 8);
	}
}

int qn_sigwriter_add_raw(struct qn_sigwriter *w, const void *bytes, size_t n, uint64_t ndocs,
			 struct qn_err *err)
{
	wbytes(w, bytes, n);
	w->docs += ndocs;
	if (w->failed)
		return qn_err_set(err, QN_EIO, "%s: %s", w->tmp, strerror(errno));
	return 0;
}

int qn_sigwriter_add(struct qn_sigwriter *w, const char *id, size_t idlen,
		     uint64_t text_bytes, double keep, const struct qn_docsig *s,
		     struct qn_err *err)
{
	struct qn_dedup_params p;
	struct qn_buf b = QN_BUF_INIT;
	int rc;

	memset(&p, 0, sizeof p);
	p.bands = w->k;
	p.rows = 1;
	p.parts = w->parts;
	qn_sig_serialize(&b, &p, id, idlen, text_bytes, keep, s);
	rc = qn_sigwriter_add_raw(w, b.data, b.len, 1, err);
	qn_buf_release(&b);
	return rc;
}

int qn_sigwriter_commit(struct qn_sigwriter *w, struct qn_err *err)
{
	unsigned char tag = 'E';
	uint64_t sum;

	wbytes(w, &tag, 1);
	w64(w, w->docs);
	sum = XXH64_digest(w->xs);
	if (fwrite(&sum, 8, 1, w->f) != 1)
		w->failed = 1;
	if (w->failed || fflush(w->f) || fsync(fileno(w->f)) || fclose(w->f)) {
		w->f = NULL;
		return qn_err_set(err, QN_EIO, "%s: %s", w->tmp, strerror(errno));
	}
	w->f = NULL;
	if (rename(w->tmp, w->path) < 0)
		return qn_err_set(err, QN_EIO, "%s: %s", w->path, strerror(errno));
	free(w->tmp);
	w->tmp = NULL;
	return 0;
}

uint64_t qn_sigwriter_docs(const struct qn_sigwriter *w)
{
	return w->docs;
}

void qn_sigwriter_free(struct qn_sigwriter *w)
{
	if (!w)
		return;
	if (w->f)
		fclose(w->f);
	if (w->tmp) {
		unlink(w->tmp);
		free(w->tmp);
	}
	if (w->xs)
		XXH64_freeState(w->xs);
	free(w->path);
	free(w);
}

/* ---- reading ---- */

struct qn_sigreader {
	FILE *f;
	char *name, *input_name;
	struct qn_dedup_params p;
	struct qn_hash128 input_hash;
	uint64_t size, pos, docs;
	XXH64_state_t *xs;
	int hashing, done, random;
	int k;
};

void qn_sigrec_init(struct qn_sigrec *rec)
{
	memset(rec, 0, sizeof *rec);
}

void qn_sigrec_release(struct qn_sigrec *rec)
{
	qn_buf_release(&rec->id);
	free(rec->sig);
	free(rec->lines);
	free(rec->shingles);
	memset(rec, 0, sizeof *rec);
}

/*
 * Reads n bytes; 0, or -1 when the file ends first.  Random reads (of one
 * record, by qn_sigreader_read_at) use pread: they leave the stream's
 * buffer and offset alone, and read only the record's bytes.
 */
static int rbytes(struct qn_sigreader *r, void *p, size_t n)
{
	if (!n)
		return 0;
	if (n > r->size - r->pos)
		return -1;
	if (r->random) {
		char *c = p;
		size_t got = 0;

		while (got < n) {
			ssize_t k = pread(fileno(r->f), c + got, n - got, (off_t)(r->pos + got));

			if (k <= 0) {
				if (k < 0 && errno == EINTR)
					continue;
				return -1;
			}
			got += (size_t)k;
		}
		r->pos += n;
		return 0;
	}
	if (fread(p, 1, n, r->f) != n)
		return -1;
	r->pos += n;
	if (r->hashing)
		XXH64_update(r->xs, p, n);
	return 0;
}

static int r32(struct qn_sigreader *r, uint32_t *v) { return rbytes(r, v, 4); }
static int r64(struct qn_sigreader *r, uint64_t *v) { return rbytes(r, v, 8); }

static int bad(struct qn_sigreader *r, struct qn_err *err, const char *what)
{
	return qn_err_set(err, QN_EFORMAT, "%s: offset %llu: not a valid signature file: %s",
			  r->name, (unsigned long long)r->pos, what);
}

struct qn_sigreader *qn_sigreader_fopen(FILE *f, const char *name, struct qn_err *err)
{
	struct qn_sigreader *r = qn_xcalloc(1, sizeof *r);
	struct stat st;
	char magic[8];
	uint32_t v[6], nlen;

	r->f = f;
	r->name = qn_xstrdup(name);
	r->xs = XXH64_createState();
	XXH64_reset(r->xs, 0);
	r->hashing = 1;
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
		qn_err_set(err, QN_EFORMAT, "%s: not a regular file", name);
		goto fail;
	}
	r->size = (uint64_t)st.st_size;
	setvbuf(f, NULL, _IOFBF, 1 << 20);
	if (rbytes(r, magic, 8) || memcmp(magic, MAGIC, 8)) {
		bad(r, err, "bad magic");
		goto fail;
	}
	if (r32(r, &v[0]) || r32(r, &v[1]) || r32(r, &v[2]) || r32(r, &v[3]) ||
	    r32(r, &v[4]) || r32(r, &v[5]) || r64(r, &r->p.seed) ||
	    r64(r, &r->input_hash.hi) || r64(r, &r->input_hash.lo) || r32(r, &nlen)) {
		bad(r, err, "truncated header");
		goto fail;
	}
	if (v[0] < 1 || v[1] < 1 || v[0] > QN_DEDUP_MAX_HASHES || v[1] > QN_DEDUP_MAX_HASHES ||
	    v[0] * v[1] > QN_DEDUP_MAX_HASHES || v[2] > 1 || v[3] < 1 || v[3] > 64 ||
	    v[4] > 7 || v[5] > 3 || nlen > MAX_NAME) {
		bad(r, err, "parameters out of range");
		goto fail;
	}
	r->p.bands = (int)v[0];
	r->p.rows = (int)v[1];
	r->p.shingle = (int)v[2];
	r->p.ngram = (int)v[3];
	r->p.norm = (int)v[4];
	r->p.parts = (int)v[5];
	r->k = r->p.bands * r->p.rows;
	r->input_name = qn_xcalloc(1, (size_t)nlen + 1);
	if (rbytes(r, r->input_name, nlen)) {
		bad(r, err, "truncated header");
		goto fail;
	}
	return r;
fail:
	qn_sigreader_close(r);
	return NULL;
}

struct qn_sigreader *qn_sigreader_open(const char *path, struct qn_err *err)
{
	FILE *f = fopen(path, "rb");

	if (!f) {
		qn_err_set(err, errno == ENOENT ? QN_ENOTFOUND : QN_EIO, "%s: %s", path,
			   strerror(errno));
		return NULL;
	}
	return qn_sigreader_fopen(f, path, err);
}

const struct qn_dedup_params *qn_sigreader_params(const struct qn_sigreader *r)
{
	return &r->p;
}

struct qn_hash128 qn_sigreader_input_hash(const struct qn_sigreader *r)
{
	return r->input_hash;
}

const char *qn_sigreader_input_name(const struct qn_sigreader *r)
{
	return r->input_name;
}

uint64_t qn_sigreader_docs(const struct qn_sigreader *r)
{
	return r->docs;
}

/* Reads an array of u64 with its u32 count, the count checked first. */
static int read_arr(struct qn_sigreader *r, uint64_t **v, uint32_t *n)
{
	uint32_t c;

	if (r32(r, &c) || (uint64_t)c * 8 > r->size - r->pos)
		return -1;
	*v = qn_xrealloc(*v, (size_t)(c ? c : 1) * 8);
	*n = c;
	return rbytes(r, *v, (size_t)c * 8);
}

static int read_record(struct qn_sigreader *r, struct qn_sigrec *rec, struct qn_err *err)
{
	uint32_t idlen;

	rec->offset = r->pos - 1;
	if (r32(r, &idlen))
		return bad(r, err, "truncated record");
	if (idlen > MAX_ID || idlen > r->size - r->pos)
		return bad(r, err, "id length out of range");
	qn_buf_reset(&rec->id);
	qn_buf_grow(&rec->id, idlen);
	if (rbytes(r, rec->id.data, idlen))
		return bad(r, err, "truncated record");
	rec->id.len = idlen;
	rec->id.data[idlen] = '\0';
	if (r64(r, &rec->text_bytes) || rbytes(r, &rec->keep, 8) ||
	    r64(r, &rec->exact.hi) || r64(r, &rec->exact.lo))
		return bad(r, err, "truncated record");
	rec->sig = qn_xrealloc(rec->sig, (size_t)r->k * 4);
	if (rbytes(r, rec->sig, (size_t)r->k * 4))
		return bad(r, err, "truncated record");
	rec->nlines = rec->nshingles = 0;
	if ((r->p.parts & QN_SIG_LINES) && read_arr(r, &rec->lines, &rec->nlines))
		return bad(r, err, "bad line hashes");
	if ((r->p.parts & QN_SIG_SHINGLES) && read_arr(r, &rec->shingles, &rec->nshingles))
		return bad(r, err, "bad shingle hashes");
	return 1;
}

int qn_sigreader_next(struct qn_sigreader *r, struct qn_sigrec *rec, struct qn_err *err)
{
	unsigned char tag;
	uint64_t n, sum, want;
	int rc;

	if (r->done)
		return 0;
	if (rbytes(r, &tag, 1))
		return bad(r, err, "truncated (no trailer)");
	if (tag == 'D') {
		if ((rc = read_record(r, rec, err)) == 1)
			r->docs++;
		return rc;
	}
	if (tag != 'E')
		return bad(r, err, "bad record tag");
	if (r64(r, &n))
		return bad(r, err, "truncated trailer");
	want = XXH64_digest(r->xs);
	r->hashing = 0;
	if (r64(r, &sum))
		return bad(r, err, "truncated trailer");
	if (n != r->docs)
		return bad(r, err, "record count does not match");
	if (sum != want)
		return bad(r, err, "checksum does not match");
	if (r->pos != r->size)
		return bad(r, err, "bytes after the trailer");
	r->done = 1;
	return 0;
}

int qn_sigreader_read_at(struct qn_sigreader *r, uint64_t offset, struct qn_sigrec *rec,
			 struct qn_err *err)
{
	unsigned char tag;
	int hashing = r->hashing, rc;
	uint64_t pos = r->pos;

	if (offset >= r->size)
		return bad(r, err, "bad record offset");
	r->hashing = 0;
	r->random = 1;
	r->pos = offset;
	if (rbytes(r, &tag, 1) || tag != 'D')
		rc = bad(r, err, "bad record offset");
	else
		rc = read_record(r, rec, err);
	r->random = 0;
	r->hashing = hashing;
	r->pos = pos;	/* a sequential read goes on where it was */
	return rc;
}

void qn_sigreader_close(struct qn_sigreader *r)
{
	if (!r)
		return;
	if (r->f)
		fclose(r->f);
	if (r->xs)
		XXH64_freeState(r->xs);
	free(r->name);
	free(r->input_name);
	free(r);
}
