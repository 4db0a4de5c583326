/*
 * llmc.c: llm.c's GPT-2 model file, so models move between quern and
 * llm.c (train_gpt2.c, train_gpt2.py's write_model).
 *
 * The file is a header of 256 little-endian int32 (magic 20240326,
 * version 3 for fp32, max_seq, vocab, n_layer, n_head, channels,
 * padded_vocab, the rest zero) and then the parameters as fp32 in the
 * order of enum qn_gpt_param, which is also the order of our parameter
 * array: the payload is copied as is.  Version 5 (bf16) is refused with
 * a message.  A file whose padded vocabulary differs from ours (vocab
 * rounded up to 128) is accepted: the token rows are copied and our
 * padding rows set to zero.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gpt.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "llmc.c reads llm.c's little-endian files as they are in memory"
#endif

#define LLMC_MAGIC 20240326
#define LLMC_FP32 3
#define LLMC_BF16 5

static int read_floats(FILE *f, float *p, size_t n)
{
	return fread(p, sizeof(float), n, f) == n ? 0 : -1;
}

int qn_gpt_load_llmc(const char *path, struct qn_gpt_config *c, float **params,
		     struct qn_err *err)
{
	int32_t h[256];
	struct qn_gpt_config fc;
	struct qn_err cerr;
	size_t sizes[QN_NPARAM], fsizes[QN_NPARAM], n, fn;
	float *p = NULL, *dst;
	off_t size;
	int rc = 0, fvp;
	FILE *f;

	*params = NULL;
	if (!(f = fopen(path, "rbe")))
		return qn_err_set(err, errno == ENOENT ? QN_ENOTFOUND : QN_EIO, "%s: %s",
				  path, strerror(errno));
	if (fseeko(f, 0, SEEK_END) < 0 || (size = ftello(f)) < 0 || fseeko(f, 0, SEEK_SET) < 0) {
		rc = qn_err_set(err, QN_EIO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (fread(h, sizeof h, 1, f) != 1) {
		rc = qn_err_set(err, QN_EFORMAT, "%s: truncated header (%lld bytes)", path,
				(long long)size);
		goto out;
	}
	if (h[0] != LLMC_MAGIC) {
		rc = qn_err_set(err, QN_EFORMAT, "%s: not an llm.c model file (magic %d, want %d)",
				path, h[0], LLMC_MAGIC);
		goto out;
	}
	if (h[1] != LLMC_FP32) {
		rc = qn_err_set(err, QN_EFORMAT, "%s: llm.c model version %d%s; only version 3 (fp32) is read",
				path, h[1], h[1] == LLMC_BF16 ? " (bf16)" : "");
		goto out;
	}
	memset(&fc, 0, sizeof fc);
	fc.max_seq = h[2];
	fc.vocab = h[3];
	fc.n_layer = h[4];
	fc.n_head = h[5];
	fc.channels = h[6];
	fvp = h[7];
	if (qn_gpt_config_check(&fc, &cerr) < 0) {
		rc = qn_err_set(err, QN_EFORMAT, "%s: %s", path, cerr.msg);
		goto out;
	}
	if (fvp < fc.vocab || fvp - fc.vocab > (1 << 20)) {
		rc = qn_err_set(err, QN_EFORMAT, "%s: padded vocabulary %d out of range for vocabulary %d",
				path, fvp, fc.vocab);
		goto out;
	}
	n = qn_gpt_param_sizes(&fc, sizes);
	*c = fc;
	fc.padded_vocab = fvp;
	fn = qn_gpt_param_sizes(&fc, fsizes);
	if ((uint64_t)size != sizeof h + fn * sizeof(float)) {
		rc = qn_err_set(err, QN_EFORMAT, "%s: %lld bytes, the header needs %llu (%s)", path,
				(long long)size, (unsigned long long)(sizeof h + fn * sizeof(float)),
				(uint64_t)size < sizeof h + fn * sizeof(float) ? "truncated" : "trailing bytes");
		goto out;
	}
	p = qn_xcalloc(n, sizeof(float));
	/* wte: the file's rows, then our padding (zero) or theirs dropped */
	if (read_floats(f, p, (size_t)fc.vocab * fc.channels) < 0 ||
	    fseeko(f, (off_t)((size_t)(fvp - fc.vocab) * fc.channels * sizeof(float)), SEEK_CUR) < 0)
		goto short_read;
	dst = p + sizes[QN_WTE];
	if (read_floats(f, dst, n - sizes[QN_WTE]) < 0)
		goto short_read;
	*params = p;
	p = NULL;
	goto out;
short_read:
	rc = qn_err_set(err, ferror(f) ? QN_EIO : QN_EFORMAT, "%s: truncated", path);
out:
	free(p);
	fclose(f);
	return rc;
}

int qn_gpt_save_llmc(const char *path, const struct qn_gpt *m, struct qn_err *err)
{
	int32_t h[256];
	char *tmp = qn_xasprintf("%s.tmp.%ld", path, (long)getpid());
	FILE *f = fopen(tmp, "wbe");
	int rc = 0;

	if (!f) {
		rc = qn_err_set(err, QN_EIO, "%s: %s", tmp, strerror(errno));
		free(tmp);
		return rc;
	}
	memset(h, 0, sizeof h);
	h[0] = LLMC_MAGIC;
	h[1] = LLMC_FP32;
	h[2] = m->cfg.max_seq;
	h[3] = m->cfg.vocab;
	h[4] = m->cfg.n_layer;
	h[5] = m->cfg.n_head;
	h[6] = m->cfg.channels;
	h[7] = m->cfg.padded_vocab;
	if (fwrite(h, sizeof h, 1, f) != 1 ||
	    fwrite(m->params, sizeof(float), m->nparams, f) != m->nparams ||
	    fflush(f) != 0 || fsync(fileno(f)) < 0) {
		rc = qn_err_set(err, QN_EIO, "%s: %s", path, strerror(errno));
		fclose(f);
		unlink(tmp);
	} else if (fclose(f) != 0 || rename(tmp, path) < 0) {
		rc = qn_err_set(err, QN_EIO, "%s: %s", path, strerror(errno));
		unlink(tmp);
	}
	free(tmp);
	return rc;
}
