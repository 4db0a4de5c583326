/*
 * fuzz_ckpt: quern-train's checkpoint reader (trainer/checkpoint.c) under
 * arbitrary bytes.
 *
 * The input is read as a checkpoint file (through fmemopen).  The reader
 * must either fail with QN_EFORMAT or QN_EIO and a message, or accept a
 * checkpoint whose every field is in range: a valid configuration whose
 * parameter count is the one stored, sound training options, a hex
 * tokenizer hash.  An accepted checkpoint must write back to exactly the
 * input bytes (the format has one spelling of each checkpoint).
 *
 * Built as a libFuzzer target by tests/fuzz/build.sh (clang), and run by
 * make check through tests/unit/t_fuzz_ckpt.c on generated inputs.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../trainer/checkpoint.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n", #c, __FILE__, __LINE__); abort(); } } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Writes c back and compares the file's bytes with the input. */
static void rewrite(const struct qn_ckpt *c, const uint8_t *data, size_t size)
{
	char path[64], *back;
	struct qn_err err;
	FILE *f;
	size_t n;

	snprintf(path, sizeof path, "/tmp/fuzz_ckpt.%ld", (long)getpid());
	CHECK(qn_ckpt_write(path, c, &err) == 0);
	f = fopen(path, "rb");
	CHECK(f);
	back = malloc(size + 1);
	CHECK(back);
	n = fread(back, 1, size + 1, f);
	fclose(f);
	unlink(path);
	CHECK(n == size && !memcmp(back, data, size));
	free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qn_ckpt c;
	struct qn_err err;
	const char *why = NULL;
	FILE *f;
	int rc;

	if (!size)
		return 0;
	f = fmemopen((void *)data, size, "rb");
	CHECK(f);
	err.msg[0] = '\0';
	rc = qn_ckpt_read_fp(f, "fuzz", &c, &err);
	fclose(f);
	if (rc) {
		CHECK((rc == QN_EFORMAT || rc == QN_EIO) && err.code == rc && err.msg[0]);
		CHECK(!c.params && !c.m && !c.v && !c.config_json);
		return 0;
	}
	CHECK(c.nparams && qn_ckpt_nparams(&c.cfg, &why) == c.nparams);
	CHECK(c.train.B >= 1 && c.train.T >= 1 && c.train.T <= c.cfg.max_seq);
	CHECK(c.train.total_batch % ((uint64_t)c.train.B * (uint64_t)c.train.T) == 0);
	CHECK(c.step <= c.train.steps && c.train.warmup <= c.train.steps);
	CHECK(c.tok_hash[0] == '\0' || strlen(c.tok_hash) == 32);
	CHECK(c.config_json && c.params && c.m && c.v);
	rewrite(&c, data, size);
	qn_ckpt_release(&c);
	return 0;
}
