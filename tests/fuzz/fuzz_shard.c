/*
 * fuzz_shard: the shard, sidecar index, shards.meta and MMIDIDX readers
 * under arbitrary bytes.
 *
 * The input is split at a point named by its first two bytes into a
 * .bin and a .qidx; each reader must accept (and then every offset it
 * hands out lies inside the input, which reading every token and every
 * piece checks under ASan) or refuse with QN_EFORMAT and a message that
 * names the file first.  The whole input is also read as shards.meta
 * (whose output, formatted again, must parse to the same thing) and as
 * a Megatron .idx.
 *
 * Built as a libFuzzer target by tests/fuzz/build.sh (clang), and run by
 * make check through tests/unit/t_fuzz_shard.c on generated inputs.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shard.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n", #c, __FILE__, __LINE__); abort(); } } while (0)

static void shard(const uint8_t *data, size_t size)
{
	struct qn_shard s;
	struct qn_err err;
	size_t cut;
	uint8_t *bin, *idx;
	uint64_t i, pos = 0, sum = 0;
	int rc;

	if (size < 2)
		return;
	cut = ((size_t)data[0] << 8 | data[1]) * 8;
	data += 2;
	size -= 2;
	if (cut > size)
		cut = size;
	/* Copies: the readers must not read past these exact lengths. */
	bin = malloc(cut ? cut : 1);
	idx = malloc(size - cut ? size - cut : 1);
	memcpy(bin, data, cut);
	memcpy(idx, data + cut, size - cut);
	rc = qn_shard_parse(&s, "f.bin", bin, cut, "f.qidx", idx, size - cut, &err);
	if (rc) {
		CHECK(rc == QN_EFORMAT);
		CHECK(!strncmp(err.msg, "f.bin: ", 7) || !strncmp(err.msg, "f.qidx: ", 8));
	} else {
		CHECK(cut == QN_SHARD_HEADER_BYTES + s.h.ntokens * (uint64_t)s.h.token_bytes);
		for (i = 0; i < s.h.ntokens; i++)
			sum += qn_shard_token(&s, i);
		for (i = 0; i < s.ndocs; i++) {
			CHECK(s.docs[i].first == pos);
			pos += s.docs[i].count;
		}
		CHECK(pos == s.h.ntokens || s.ndocs == 0);
		rc = qn_shard_check_tokens(&s, &err);
		CHECK(rc == 0 || (rc == QN_EFORMAT && err.msg[0]));
		qn_shard_close(&s);
	}
	(void)sum;
	rc = qn_shard_parse(&s, "f.bin", bin, cut, NULL, NULL, 0, &err);
	if (!rc)
		qn_shard_close(&s);
	free(bin);
	free(idx);
}

static void meta(const uint8_t *data, size_t size)
{
	struct qn_shard_meta m, m2;
	struct qn_buf b = QN_BUF_INIT;
	struct qn_err err;
	char *copy = malloc(size ? size : 1);
	size_t i;
	int rc;

	memcpy(copy, data, size);
	rc = qn_shard_meta_parse(copy, size, "shards.meta", &m, &err);
	if (rc) {
		CHECK(rc == QN_EFORMAT && !strncmp(err.msg, "shards.meta", 11));
	} else {
		qn_shard_meta_format(&m, &b);
		CHECK(qn_shard_meta_parse(b.data, b.len, "again", &m2, &err) == 0);
		CHECK(m2.nshards == m.nshards && m2.vocab_size == m.vocab_size && m2.eot == m.eot);
		for (i = 0; i < m.nshards; i++)
			CHECK(!strcmp(m.shards[i].name, m2.shards[i].name) && m.shards[i].tokens == m2.shards[i].tokens &&
			      !strchr(m.shards[i].name, '/'));
		qn_shard_meta_release(&m2);
		qn_shard_meta_release(&m);
	}
	qn_buf_release(&b);
	free(copy);
}

static void mmidx(const uint8_t *data, size_t size)
{
	struct qn_mmidx x;
	struct qn_err err;
	uint8_t *copy = malloc(size ? size : 1);
	uint64_t i, binlen = size * 3, s = 0;

	memcpy(copy, data, size);
	if (qn_mmidx_parse(copy, size, "f.idx", binlen, &x, &err) == 0) {
		for (i = 0; i < x.nseq; i++)
			s += qn_le32(x.sizes + 4 * i) + qn_le64(x.pointers + 8 * i);
		for (i = 0; i < x.ndoc_idx; i++)
			s += qn_le64(x.doc_idx + 8 * i);
		(void)s;
	} else {
		CHECK(!strncmp(err.msg, "f.idx: ", 7));
	}
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	shard(data, size);
	meta(data, size);
	mmidx(data, size);
	return 0;
}
