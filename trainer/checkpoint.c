/*
 * checkpoint.c: writing and strictly reading quern-train's checkpoints
 * (see checkpoint.h and quern-train(1), FILES).
 *
 * The file is a fixed 248-byte header, the training configuration as
 * JSON, the weights, AdamW's first and second moments (nparams floats
 * each), and the xxh3-128 of all of that (hi then lo, big-endian, as the
 * hex form reads).  The reader learns the file's size first and checks
 * that the header predicts exactly that size before it allocates
 * anything, so a corrupt or hostile header costs nothing.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "hash.h"
#include "checkpoint.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "checkpoint.c writes floats as they are in memory: little-endian hosts only"
#endif

#define HEADER_BYTES 248
#define MAX_JSON (1u << 20)

/* Limits that keep every size computation far from overflow. */
#define MAX_SEQ (1 << 20)
#define MAX_VOCAB (1 << 24)
#define MAX_LAYERS 1024
#define MAX_CHANNELS (1 << 16)

size_t qn_ckpt_nparams(const struct qn_gpt_config *c, const char **why)
{
	const char *w = NULL;
	size_t L, C, Vp, T;

	if (c->max_seq < 1 || c->max_seq > MAX_SEQ)
		w = "max_seq out of range";
	else if (c->vocab < 1 || c->vocab > MAX_VOCAB)
		w = "vocab out of range";
	else if (c->padded_vocab != (c->vocab + 127) / 128 * 128)
		w = "padded_vocab is not vocab rounded up to a multiple of 128";
	else if (c->n_layer < 1 || c->n_layer > MAX_LAYERS)
		w = "n_layer out of range";
	else if (c->channels < 1 || c->channels > MAX_CHANNELS)
		w = "channels out of range";
	else if (c->n_head < 1 || c->n_head > c->channels || c->channels % c->n_head)
		w = "n_head does not divide channels";
	if (w) {
		if (why)
			*why = w;
		return 0;
	}
	L = (size_t)c->n_layer;
	C = (size_t)c->channels;
	Vp = (size_t)c->padded_vocab;
	T = (size_t)c->max_seq;
	/* wte, wpe, per layer (ln1 w b, qkv w b, attproj w b, ln2 w b,
	 * fc w b, fcproj w b), lnf w b */
	return Vp * C + T * C +
	       L * (2 * C + 3 * C * C + 3 * C + C * C + C + 2 * C +
		    4 * C * C + 4 * C + 4 * C * C + C) +
	       2 * C;
}

/* ---- little-endian fields ---- */

static void put32(struct qn_buf *b, uint32_t v)
{
	unsigned char p[4];
	int i;

	for (i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
	qn_buf_append(b, p, 4);
}

static void put64(struct qn_buf *b, uint64_t v)
{
	unsigned char p[8];
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
	qn_buf_append(b, p, 8);
}

static void putf64(struct qn_buf *b, double d)
{
	uint64_t v;

	memcpy(&v, &d, 8);
	put64(b, v);
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t get64(const unsigned char *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static double getf64(const unsigned char *p)
{
	uint64_t v = get64(p);
	double d;

	memcpy(&d, &v, 8);
	return d;
}

static void hash_bytes(struct qn_hash128 h, unsigned char out[16])
{
	int i;

	for (i = 0; i < 8; i++) {
		out[i] = (unsigned char)(h.hi >> (56 - 8 * i));
		out[8 + i] = (unsigned char)(h.lo >> (56 - 8 * i));
	}
}

static int is_hex32(const char *s)
{
	int i;

	for (i = 0; i < 32; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[32] == '\0';
}

static void header(struct qn_buf *b, const struct qn_ckpt *c, uint32_t json_len)
{
	const struct qn_train_opts *o = &c->train;
	int i;

	qn_buf_append(b, QN_CKPT_MAGIC, 8);
	put32(b, QN_CKPT_VERSION);
	put32(b, (uint32_t)c->cfg.max_seq);
	put32(b, (uint32_t)c->cfg.vocab);
	put32(b, (uint32_t)c->cfg.padded_vocab);
	put32(b, (uint32_t)c->cfg.n_layer);
	put32(b, (uint32_t)c->cfg.n_head);
	put32(b, (uint32_t)c->cfg.channels);
	put32(b, (uint32_t)o->B);
	put32(b, (uint32_t)o->T);
	put64(b, o->total_batch);
	put64(b, o->steps);
	put64(b, o->warmup);
	put64(b, o->seed);
	putf64(b, o->lr);
	putf64(b, o->min_lr);
	putf64(b, o->weight_decay);
	putf64(b, o->beta1);
	putf64(b, o->beta2);
	putf64(b, o->eps);
	putf64(b, o->grad_clip);
	put32(b, (uint32_t)o->shuffle);
	put32(b, (uint32_t)o->doc_aligned);
	put64(b, c->step);
	for (i = 0; i < 4; i++)
		put64(b, c->rng[i]);
	put64(b, c->loader.epoch);
	put64(b, c->loader.pos);
	put64(b, c->loader.seed);
	if (c->tok_hash[0])
		qn_buf_append(b, c->tok_hash, 32);
	else
		qn_buf_append(b, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 32);
	put64(b, (uint64_t)c->nparams);
	put32(b, json_len);
	assert(b->len == HEADER_BYTES);
}

/* ---- writing ---- */

static int write_all(int fd, const void *p, size_t n, struct qn_hasher *hs)
{
	if (hs)
		qn_hasher_update(hs, p, n);
	return qn_write_all(fd, p, n);
}

/* Gives the finished file its name, replacing any file there. */
static int name_it(int fd, const char *tmp, const char *path)
{
	return tmp ? rename(tmp, path) : qn_link_unnamed(fd, path);
}

int qn_ckpt_write(const char *path, const struct qn_ckpt *c, struct qn_err *err)
{
	struct qn_buf b = QN_BUF_INIT;
	struct qn_hasher *hs;
	unsigned char sum[16];
	const char *why = NULL, *what = "write";
	size_t json_len = c->config_json ? strlen(c->config_json) : 0;
	char *fallback, *tmp, *slash, *dir;
	int fd, rc = 0, dfd, e;

	if (qn_ckpt_nparams(&c->cfg, &why) != c->nparams || !c->nparams)
		return qn_err_set(err, QN_EUSAGE, "%s: invalid model configuration: %s",
				  path, why ? why : "nparams does not match");
	if (json_len > MAX_JSON)
		return qn_err_set(err, QN_EUSAGE, "%s: configuration JSON too long", path);
	if (c->tok_hash[0] && !is_hex32(c->tok_hash))
		return qn_err_set(err, QN_EUSAGE, "%s: tokenizer hash is not 32 hex digits", path);

	fallback = qn_xasprintf("%s.tmp.%ld", path, (long)getpid());
	fd = qn_open_unnamed(path, fallback, 0644, &tmp);
	free(fallback);
	if (fd < 0)
		return qn_err_set(err, QN_EIO, "%s: %s", path, strerror(errno));
	hs = qn_hasher_new();
	header(&b, c, (uint32_t)json_len);
	qn_buf_append(&b, c->config_json ? c->config_json : "", json_len);
	if (write_all(fd, b.data, b.len, hs) < 0 ||
	    write_all(fd, c->params, c->nparams * sizeof(float), hs) < 0 ||
	    write_all(fd, c->m, c->nparams * sizeof(float), hs) < 0 ||
	    write_all(fd, c->v, c->nparams * sizeof(float), hs) < 0)
		goto io_error;
	hash_bytes(qn_hasher_digest(hs), sum);
	if (write_all(fd, sum, 16, NULL) < 0)
		goto io_error;
	what = "fsync";
	if (fsync(fd) < 0)
		goto io_error;
	what = "rename";
	if (name_it(fd, tmp, path) < 0)
		goto io_error;
	what = "close";
	e = close(fd);
	fd = -1;
	if (e < 0)
		goto io_error;
	/* Make the name itself durable. */
	dir = qn_xstrdup(path);
	slash = strrchr(dir, '/');
	if (slash)
		slash[slash == dir] = '\0';
	dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	free(dir);
	goto out;
io_error:
	rc = qn_err_set(err, QN_EIO, "%s: %s: %s", path, what, strerror(errno));
	if (fd >= 0)
		close(fd);
	if (tmp)
		unlink(tmp);
out:
	qn_hasher_free(hs);
	qn_buf_release(&b);
	free(tmp);
	return rc;
}

/* ---- reading ---- */

void qn_ckpt_release(struct qn_ckpt *c)
{
	if (!c)
		return;
	free(c->params);
	free(c->m);
	free(c->v);
	free(c->config_json);
	c->params = c->m = c->v = NULL;
	c->config_json = NULL;
}

static int bad(struct qn_err *err, const char *name, const char *what)
{
	return qn_err_set(err, QN_EFORMAT, "%s: %s", name, what);
}

/* Checks the options a header holds; NULL when they are sound. */
static const char *check_train(const struct qn_ckpt *c)
{
	const struct qn_train_opts *o = &c->train;

	if (o->B < 1 || o->T < 1 || o->T > c->cfg.max_seq)
		return "batch shape B x T out of range";
	if (!o->total_batch || o->total_batch % ((uint64_t)o->B * (uint64_t)o->T))
		return "total batch is not a multiple of B*T";
	if (!o->steps || c->step > o->steps)
		return "step count out of range";
	if (o->warmup > o->steps)
		return "warmup longer than the run";
	if (!isfinite(o->lr) || !isfinite(o->min_lr) || o->lr < 0 || o->min_lr < 0 ||
	    !isfinite(o->weight_decay) || o->weight_decay < 0 ||
	    !(o->beta1 >= 0 && o->beta1 < 1) || !(o->beta2 >= 0 && o->beta2 < 1) ||
	    !(o->eps > 0) || !isfinite(o->eps) || !(o->grad_clip >= 0) ||
	    !isfinite(o->grad_clip))
		return "optimizer settings out of range";
	if ((o->shuffle != 0 && o->shuffle != 1) ||
	    (o->doc_aligned != 0 && o->doc_aligned != 1))
		return "loader flags out of range";
	return NULL;
}

static int read_hashed(FILE *f, void *p, size_t n, struct qn_hasher *hs)
{
	if (fread(p, 1, n, f) != n)
		return -1;
	qn_hasher_update(hs, p, n);
	return 0;
}

int qn_ckpt_read_fp(FILE *f, const char *name, struct qn_ckpt *c,
		    struct qn_err *err)
{
	unsigned char h[HEADER_BYTES], sum[16], want[16];
	struct qn_hasher *hs = NULL;
	const unsigned char *p;
	const char *why = NULL;
	uint64_t nparams, expect;
	uint32_t version, json_len;
	off_t size;
	size_t n;
	int i, rc;

	memset(c, 0, sizeof *c);
	if (fseeko(f, 0, SEEK_END) < 0 || (size = ftello(f)) < 0 ||
	    fseeko(f, 0, SEEK_SET) < 0)
		return qn_err_set(err, QN_EIO, "%s: cannot find the file's size: %s",
				  name, strerror(errno));
	if (size < 8 || fread(h, 1, 8, f) != 8 || memcmp(h, QN_CKPT_MAGIC, 8))
		return bad(err, name, "not a quern checkpoint (bad magic)");
	if ((uint64_t)size < HEADER_BYTES + 16 || fread(h + 8, 1, HEADER_BYTES - 8, f) != HEADER_BYTES - 8)
		return bad(err, name, "truncated header");
	version = get32(h + 8);
	if (version != QN_CKPT_VERSION)
		return qn_err_set(err, QN_EFORMAT, "%s: checkpoint version %u, this build reads %d",
				  name, version, QN_CKPT_VERSION);
	p = h + 12;
	c->cfg.max_seq = (int)get32(p);
	c->cfg.vocab = (int)get32(p + 4);
	c->cfg.padded_vocab = (int)get32(p + 8);
	c->cfg.n_layer = (int)get32(p + 12);
	c->cfg.n_head = (int)get32(p + 16);
	c->cfg.channels = (int)get32(p + 20);
	p += 24;
	c->train.B = (int)get32(p);
	c->train.T = (int)get32(p + 4);
	p += 8;
	c->train.total_batch = get64(p);
	c->train.steps = get64(p + 8);
	c->train.warmup = get64(p + 16);
	c->train.seed = get64(p + 24);
	p += 32;
	c->train.lr = getf64(p);
	c->train.min_lr = getf64(p + 8);
	c->train.weight_decay = getf64(p + 16);
	c->train.beta1 = getf64(p + 24);
	c->train.beta2 = getf64(p + 32);
	c->train.eps = getf64(p + 40);
	c->train.grad_clip = getf64(p + 48);
	p += 56;
	c->train.shuffle = (int)get32(p);
	c->train.doc_aligned = (int)get32(p + 4);
	p += 8;
	c->step = get64(p);
	for (i = 0; i < 4; i++)
		c->rng[i] = get64(p + 8 + 8 * i);
	p += 40;
	c->loader.epoch = get64(p);
	c->loader.pos = get64(p + 8);
	c->loader.seed = get64(p + 16);
	p += 24;
	memcpy(c->tok_hash, p, 32);
	c->tok_hash[32] = '\0';
	p += 32;
	nparams = get64(p);
	json_len = get32(p + 8);

	if (!(n = qn_ckpt_nparams(&c->cfg, &why))) {
		rc = qn_err_set(err, QN_EFORMAT, "%s: invalid model configuration: %s", name, why);
		goto fail;
	}
	if (nparams != n) {
		rc = qn_err_set(err, QN_EFORMAT, "%s: %llu parameters, the configuration has %zu",
				name, (unsigned long long)nparams, n);
		goto fail;
	}
	if ((why = check_train(c))) {
		rc = bad(err, name, why);
		goto fail;
	}
	for (i = 0; i < 32 && !c->tok_hash[i]; i++)
		;
	if (i == 32)
		c->tok_hash[0] = '\0';
	else if (!is_hex32(c->tok_hash)) {
		rc = bad(err, name, "tokenizer hash is not 32 hex digits");
		goto fail;
	}
	if (json_len > MAX_JSON) {
		rc = bad(err, name, "configuration JSON too long");
		goto fail;
	}
	expect = HEADER_BYTES + (uint64_t)json_len + 12 * nparams + 16;
	if ((uint64_t)size != expect) {
		rc = qn_err_set(err, QN_EFORMAT, "%s: %s: %llu bytes, the header needs %llu",
				name, (uint64_t)size < expect ? "truncated" : "trailing bytes",
				(unsigned long long)size, (unsigned long long)expect);
		goto fail;
	}

	hs = qn_hasher_new();
	qn_hasher_update(hs, h, HEADER_BYTES);
	c->config_json = qn_xmalloc((size_t)json_len + 1);
	if (read_hashed(f, c->config_json, json_len, hs) < 0)
		goto short_read;
	c->config_json[json_len] = '\0';
	if (strlen(c->config_json) != json_len) {
		rc = bad(err, name, "NUL byte in the configuration JSON");
		goto fail;
	}
	c->nparams = (size_t)nparams;
	c->params = qn_xmalloc(c->nparams * sizeof(float));
	c->m = qn_xmalloc(c->nparams * sizeof(float));
	c->v = qn_xmalloc(c->nparams * sizeof(float));
	if (read_hashed(f, c->params, c->nparams * sizeof(float), hs) < 0 ||
	    read_hashed(f, c->m, c->nparams * sizeof(float), hs) < 0 ||
	    read_hashed(f, c->v, c->nparams * sizeof(float), hs) < 0 ||
	    fread(sum, 1, 16, f) != 16)
		goto short_read;
	hash_bytes(qn_hasher_digest(hs), want);
	if (memcmp(sum, want, 16)) {
		rc = bad(err, name, "checksum mismatch (the file is corrupt)");
		goto fail;
	}
	qn_hasher_free(hs);
	return 0;
short_read:
	rc = ferror(f) ? qn_err_set(err, QN_EIO, "%s: %s", name, strerror(errno))
		       : bad(err, name, "truncated");
fail:
	qn_hasher_free(hs);
	qn_ckpt_release(c);
	return rc;
}

int qn_ckpt_read(const char *path, struct qn_ckpt *c, struct qn_err *err)
{
	FILE *f = fopen(path, "rbe");
	int rc;

	if (!f) {
		memset(c, 0, sizeof *c);
		return qn_err_set(err, errno == ENOENT ? QN_ENOTFOUND : QN_EIO, "%s: %s",
				  path, strerror(errno));
	}
	rc = qn_ckpt_read_fp(f, path, c, err);
	fclose(f);
	return rc;
}
