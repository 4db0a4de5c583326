/*
 * t_shard: the shard formats of quern-shard(5): llm.c headers both ways
 * (uint16 and uint32 tokens), the sidecar index, shards.meta and
 * Megatron's MMIDIDX, each written, read back, then truncated and
 * corrupted field by field; the packer's shard cutting against a plain
 * re-reading of what it wrote.
 */
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shard.h"
#include "../tap.h"

static uint8_t tokhash[16] = { 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };

static void test_header(void)
{
	struct qn_shard_header h, g;
	uint8_t b[QN_SHARD_HEADER_BYTES];
	struct qn_err err;

	qn_shard_header_init(&h, 50257);
	is_int(h.magic, 20240520, "vocabulary 50257: magic 20240520");
	is_int(h.version, 1, "version 1");
	is_int(h.token_bytes, 2, "uint16 tokens");
	h.ntokens = 12345;
	h.eot = 50256;
	memcpy(h.tok_hash, tokhash, 16);
	h.split = QN_SHARD_VAL;
	h.number = 7;
	h.ndocs = 3;
	qn_shard_header_encode(&h, b);
	is_int(qn_le32(b), 20240520, "header[0] is the magic");
	is_int(qn_le32(b + 4), 1, "header[1] is the version");
	is_int(qn_le32(b + 8), 12345, "header[2] is the token count");
	is_int(qn_shard_header_parse(b, sizeof b, "x.bin", &g, &err), 0, "header parses");
	ok(g.quern && g.vocab_size == 50257 && g.eot == 50256 && g.split == QN_SHARD_VAL &&
	   g.number == 7 && g.ndocs == 3 && !memcmp(g.tok_hash, tokhash, 16) && g.ntokens == 12345,
	   "every field comes back");

	qn_shard_header_init(&h, 65536);
	is_int(h.token_bytes, 2, "vocabulary 65536 still fits uint16");
	qn_shard_header_init(&h, 128256);
	is_int(h.magic, 20240801, "vocabulary 128256: magic 20240801");
	is_int(h.version, 7, "version 7");
	is_int(h.token_bytes, 4, "uint32 tokens");
	qn_shard_header_encode(&h, b);
	is_int(qn_shard_header_parse(b, sizeof b, "x.bin", &g, &err), 0, "uint32 header parses");
	is_int(g.token_bytes, 4, "and reads as uint32");

	is_int(qn_shard_header_parse(b, 1000, "x.bin", &g, &err), QN_EFORMAT, "short header rejected");
	is_str(err.msg, "x.bin: truncated header: expected 1024 bytes, found 1000", "message names file, expected, found");
	qn_put32(b, 20240520);
	is_int(qn_shard_header_parse(b, sizeof b, "x.bin", &g, &err), QN_EFORMAT, "magic 20240520 with version 7 rejected");
	ok(strstr(err.msg, "version: expected 1") != NULL, "says which version: %s", err.msg);
	qn_put32(b, 12345);
	is_int(qn_shard_header_parse(b, sizeof b, "x.bin", &g, &err), QN_EFORMAT, "bad magic rejected");
	is_str(err.msg, "x.bin: magic: expected 20240520 or 20240801, found 12345", "magic message");

	qn_shard_header_init(&h, 1000);
	h.eot = 1000;
	qn_shard_header_encode(&h, b);
	is_int(qn_shard_header_parse(b, sizeof b, "x.bin", &g, &err), QN_EFORMAT, "end-of-text past the vocabulary rejected");
	qn_shard_header_init(&h, 100000);
	qn_shard_header_encode(&h, b);
	qn_put32(b, 20240520);
	qn_put32(b + 4, 1);
	is_int(qn_shard_header_parse(b, sizeof b, "x.bin", &g, &err), QN_EFORMAT, "uint16 shard with vocabulary 100000 rejected");
	qn_shard_header_init(&h, 1000);
	qn_shard_header_encode(&h, b);
	b[900] = 1;
	is_int(qn_shard_header_parse(b, sizeof b, "x.bin", &g, &err), QN_EFORMAT, "non-zero reserved int rejected");
	memset(b, 0, sizeof b);
	qn_put32(b, 20240520);
	qn_put32(b + 4, 1);
	qn_put32(b + 8, 5);
	is_int(qn_shard_header_parse(b, sizeof b, "x.bin", &g, &err), 0, "a plain llm.c header (zeros past [2]) parses");
	ok(!g.quern && g.ntokens == 5, "as a shard quern did not write");
}

static void test_index(void)
{
	struct qn_shard_doc d[3], *got;
	struct qn_buf b = QN_BUF_INIT;
	uint64_t n;
	struct qn_err err;
	int i;

	for (i = 0; i < 3; i++) {
		memset(d[i].id, i + 1, 16);
		d[i].flags = 0;
	}
	d[0].first = 0, d[0].count = 5, d[0].flags = QN_DOC_CONT;
	d[1].first = 5, d[1].count = 10;
	d[2].first = 15, d[2].count = 7, d[2].flags = QN_DOC_MORE;
	qn_shard_index_encode(d, 3, 22, &b);
	is_int(b.len, 32 + 3 * 32, "index size: 32 + 32 per entry");
	is_int(qn_shard_index_parse(b.data, b.len, "x.qidx", 22, &got, &n, &err), 0, "index parses");
	ok(n == 3 && !memcmp(got, d, sizeof d), "entries come back");
	free(got);
	is_int(qn_shard_index_parse(b.data, b.len, "x.qidx", 23, &got, &n, &err), QN_EFORMAT, "token count other than the shard's rejected");
	is_str(err.msg, "x.qidx: token count: expected 23 (the shard's), found 22", "token count message");
	is_int(qn_shard_index_parse(b.data, b.len - 1, "x.qidx", 22, &got, &n, &err), QN_EFORMAT, "truncated index rejected");
	ok(strstr(err.msg, "size: expected 128 bytes for 3 entries, found 127") != NULL, "size message: %s", err.msg);
	qn_put64((uint8_t *)b.data + 32 + 32 + 16, 6);
	is_int(qn_shard_index_parse(b.data, b.len, "x.qidx", 22, &got, &n, &err), QN_EFORMAT, "a gap between pieces rejected");
	is_str(err.msg, "x.qidx: entry 1: first token: expected 5, found 6", "gap message");
	qn_put64((uint8_t *)b.data + 32 + 32 + 16, 5);
	qn_put32((uint8_t *)b.data + 32 + 32 + 28, QN_DOC_CONT);
	is_int(qn_shard_index_parse(b.data, b.len, "x.qidx", 22, &got, &n, &err), QN_EFORMAT, "a continued piece in the middle rejected");
	qn_put32((uint8_t *)b.data + 32 + 32 + 28, QN_DOC_MORE);
	is_int(qn_shard_index_parse(b.data, b.len, "x.qidx", 22, &got, &n, &err), QN_EFORMAT, "a cut piece in the middle rejected");
	qn_put32((uint8_t *)b.data + 32 + 32 + 28, 0);
	qn_put32((uint8_t *)b.data + 32 + 64 + 24, 6);
	is_int(qn_shard_index_parse(b.data, b.len, "x.qidx", 22, &got, &n, &err), QN_EFORMAT, "pieces short of the shard rejected");
	is_str(err.msg, "x.qidx: entries cover 21 tokens: expected 22", "coverage message");
	qn_put64((uint8_t *)b.data + 16, (uint64_t)1 << 62);
	is_int(qn_shard_index_parse(b.data, b.len, "x.qidx", 22, &got, &n, &err), QN_EFORMAT, "a huge entry count rejected without reading past the end");
	b.data[0] = 'X';
	is_int(qn_shard_index_parse(b.data, b.len, "x.qidx", 22, &got, &n, &err), QN_EFORMAT, "bad magic rejected");
	qn_buf_release(&b);
}

static void test_meta(void)
{
	struct qn_shard_meta m, g;
	struct qn_buf b = QN_BUF_INIT;
	struct qn_err err;
	const char *bad;

	memset(&m, 0, sizeof m);
	strcpy(m.format, "llmc");
	m.vocab_size = 50257;
	m.eot = 50256;
	strcpy(m.tok_hash, "0123456789abcdef0123456789abcdef");
	m.token_bytes = 2;
	m.seed = 42;
	m.val_fraction = 0.01;
	m.shard_tokens = 100000000;
	m.docs[0] = 10;
	m.docs[1] = 2;
	qn_shard_meta_add(&m, "train_000000.bin", QN_SHARD_TRAIN, 1000, 10);
	qn_shard_meta_add(&m, "val_000000.bin", QN_SHARD_VAL, 100, 2);
	qn_shard_meta_format(&m, &b);
	is_int(qn_shard_meta_parse(b.data, b.len, "shards.meta", &g, &err), 0, "metadata parses");
	ok(!strcmp(g.format, "llmc") && g.vocab_size == 50257 && g.eot == 50256 && g.token_bytes == 2 &&
	   g.seed == 42 && g.val_fraction == 0.01 && g.shard_tokens == 100000000 && g.docs[0] == 10 &&
	   g.docs[1] == 2 && !strcmp(g.tok_hash, m.tok_hash), "every field comes back");
	ok(g.nshards == 2 && !strcmp(g.shards[1].name, "val_000000.bin") && g.shards[1].split == QN_SHARD_VAL &&
	   g.shards[0].tokens == 1000 && g.shards[0].docs == 10, "shard lines come back");
	qn_shard_meta_release(&g);
	qn_buf_appendf(&b, "later_key something\n");
	is_int(qn_shard_meta_parse(b.data, b.len, "shards.meta", &g, &err), 0, "an unknown key is skipped");
	qn_shard_meta_release(&g);
	qn_shard_meta_release(&m);

	bad = "quern-shard-meta 1\nformat llmc\nvocab_size 100\ntoken_bytes 2\nshard ../x.bin train 1 1\n";
	is_int(qn_shard_meta_parse(bad, strlen(bad), "m", &g, &err), QN_EFORMAT, "a shard name outside the directory rejected");
	is_str(err.msg, "m:5: shard: expected a file name, found \"../x.bin\"", "names line and value");
	bad = "quern-shard-meta 1\nformat llmc\nvocab_size x\n";
	is_int(qn_shard_meta_parse(bad, strlen(bad), "m", &g, &err), QN_EFORMAT, "a bad number rejected");
	bad = "quern-shard-meta 2\n";
	is_int(qn_shard_meta_parse(bad, strlen(bad), "m", &g, &err), QN_EFORMAT, "another version rejected");
	bad = "quern-shard-meta 1\nformat llmc\nvocab_size 100\n";
	is_int(qn_shard_meta_parse(bad, strlen(bad), "m", &g, &err), QN_EFORMAT, "a missing key rejected");
	is_str(err.msg, "m: expected format, vocab_size and token_bytes, found token_bytes missing", "says which");
	is_int(qn_shard_meta_parse("", 0, "m", &g, &err), QN_EFORMAT, "an empty file rejected");
	qn_buf_release(&b);
}

static void test_mmidx(void)
{
	uint32_t sizes[4] = { 3, 0, 5, 2 };
	struct qn_buf b = QN_BUF_INIT;
	struct qn_mmidx x;
	struct qn_err err;

	qn_mmidx_encode(2, sizes, 4, &b);
	is_int(b.len, 9 + 8 + 1 + 8 + 8 + 4 * 4 + 8 * 4 + 8 * 5, "MMIDIDX size");
	ok(!memcmp(b.data, "MMIDIDX\0\0", 9), "magic");
	is_int(qn_mmidx_parse(b.data, b.len, "x.idx", 20, &x, &err), 0, "parses with a .bin of 20 bytes");
	ok(x.nseq == 4 && x.ndoc_idx == 5 && x.dtype == 8 && qn_le64(x.pointers + 16) == 6, "fields");
	is_int(qn_mmidx_parse(b.data, b.len, "x.idx", 22, &x, &err), QN_EFORMAT, "a .bin of the wrong size rejected");
	is_int(qn_mmidx_parse(b.data, b.len - 8, "x.idx", 20, &x, &err), QN_EFORMAT, "truncated rejected");
	b.data[17] = 3;
	is_int(qn_mmidx_parse(b.data, b.len, "x.idx", 20, &x, &err), QN_EFORMAT, "unknown dtype rejected");
	qn_buf_release(&b);
}

/* Packs docs with the packer and reads every shard back. */
static void test_packer(int no_split, uint32_t vocab)
{
	struct qn_packer_opts o;
	struct qn_packer *p;
	struct qn_err err;
	uint32_t ids[200];
	uint8_t id[16];
	int i, j, rc = 0, nshards, bad = 0;
	uint64_t total = 0, want_total = 0;
	char path[600];

	memset(&o, 0, sizeof o);
	o.dir = tap_dir;
	o.prefix = no_split ? "nosplit" : "split";
	qn_shard_header_init(&o.proto, vocab);
	o.proto.eot = vocab - 1;
	o.shard_tokens = 100;
	o.no_split = no_split;
	is_int(qn_packer_new(&o, &p, &err), 0, "packer opens");
	for (i = 0; i < 40 && !rc; i++) {
		int n = (int)(tap_rand() % (i == 7 ? 180 : 30));

		for (j = 0; j < n; j++)
			ids[j] = (uint32_t)(i * 1000 + j) % (vocab - 1);
		memset(id, 0, 16);
		id[15] = (uint8_t)i;
		if (i % 2) {	/* every other document from raw little-endian bytes */
			uint8_t raw[800];

			for (j = 0; j < n; j++) {
				if (o.proto.token_bytes == 2) {
					raw[2 * j] = (uint8_t)ids[j];
					raw[2 * j + 1] = (uint8_t)(ids[j] >> 8);
				} else {
					qn_put32(raw + 4 * j, ids[j]);
				}
			}
			rc = qn_packer_doc_raw(p, id, raw, (size_t)n, &err);
		} else {
			rc = qn_packer_doc(p, id, ids, (size_t)n, &err);
		}
		want_total += (uint64_t)n + 1;
	}
	is_int(rc, 0, "40 documents packed");
	is_int(qn_packer_finish(p, &err), 0, "last shard committed");
	qn_packer_free(p);
	/* Read back in order: each document's tokens in sequence after its EOT. */
	i = -1;
	j = 0;
	for (nshards = 0;; nshards++) {
		struct qn_shard s;
		uint64_t k, e;

		snprintf(path, sizeof path, "%s/%s_%06d.bin", tap_dir, o.prefix, nshards);
		if (access(path, F_OK))
			break;
		if (qn_shard_open(&s, path, &err) || qn_shard_check_tokens(&s, &err)) {
			printf("# %s\n", err.msg);
			bad++;
			break;
		}
		if (!no_split && s.h.ntokens > 100)
			bad++;
		if (s.h.number != (uint32_t)nshards)
			bad++;
		for (e = 0; e < s.ndocs; e++) {
			if (!(s.docs[e].flags & QN_DOC_CONT)) {
				i++;
				j = -1;
			} else if (s.docs[e].id[15] != (uint8_t)i) {
				bad++;
			}
			if (s.docs[e].id[15] != (uint8_t)i)
				bad++;
			for (k = s.docs[e].first; k < s.docs[e].first + s.docs[e].count; k++, j++) {
				uint32_t want = j < 0 ? vocab - 1 : (uint32_t)(i * 1000 + j) % (vocab - 1);

				if (qn_shard_token(&s, k) != want)
					bad++;
			}
		}
		total += s.h.ntokens;
		qn_shard_close(&s);
	}
	is_int(bad, 0, "%s, vocabulary %u: every shard reads back with each document's tokens after its EOT",
	       no_split ? "no split" : "split", vocab);
	is_int(total, want_total, "tokens: documents plus one EOT each");
	is_int(i, 39, "all 40 documents found");
	ok(nshards > 1, "several shards (%d)", nshards);
	if (no_split) {
		struct qn_shard s;

		/* Document 7 may be longer than a shard: then it sits alone in one. */
		snprintf(path, sizeof path, "%s/%s_%06d.bin", tap_dir, o.prefix, 0);
		ok(qn_shard_open(&s, path, &err) == 0 && !(s.docs[0].flags & QN_DOC_CONT) &&
		   !(s.docs[s.ndocs - 1].flags & QN_DOC_MORE), "no piece is flagged as cut");
		qn_shard_close(&s);
	}
}

static void test_files(void)
{
	struct qn_shard_header h;
	struct qn_shard_writer *w;
	struct qn_shard s;
	struct qn_err err;
	uint32_t t[5] = { 9, 1, 2, 9, 3 };
	uint8_t id[16] = { 1 };
	char *p = tap_path("f_000000.bin"), *ip = qn_shard_idx_path(p);
	struct stat st;
	FILE *f;

	qn_shard_header_init(&h, 10);
	h.eot = 9;
	is_int(qn_shard_writer_open(p, &h, &w, &err), 0, "writer opens");
	qn_shard_writer_doc(w, id, 0);
	qn_shard_writer_tokens(w, t, 3, &err);
	id[0] = 2;
	qn_shard_writer_doc(w, id, 0);
	qn_shard_writer_tokens(w, t + 3, 2, &err);
	ok(access(p, F_OK) != 0, "nothing under the final name before commit");
	is_int(qn_shard_writer_commit(w, &err), 0, "commit");
	qn_shard_writer_free(w);
	ok(stat(p, &st) == 0 && st.st_size == 1024 + 10, "file size: header plus 5 x 2 bytes");
	is_int(qn_shard_open(&s, p, &err), 0, "opens");
	is_int(qn_shard_check_tokens(&s, &err), 0, "tokens check");
	ok(s.ndocs == 2 && s.docs[1].first == 3 && s.docs[1].count == 2, "index entries");
	qn_shard_close(&s);

	/* Truncated by one byte: the size check names the file. */
	is_int(truncate(p, 1024 + 9), 0, "truncate");
	is_int(qn_shard_open(&s, p, &err), QN_EFORMAT, "a truncated shard is rejected");
	ok(strstr(err.msg, "size: expected 1034 bytes for 5 tokens of 2 bytes, found 1033 (truncated)") && strstr(err.msg, p),
	   "message: %s", err.msg);
	is_int(truncate(p, 1024 + 10), 0, "restore size");
	/* A token past the vocabulary, then a document not starting with EOT. */
	f = fopen(p, "r+b");
	fseek(f, 1024 + 2, SEEK_SET);
	fputc(11, f);
	fclose(f);
	is_int(qn_shard_open(&s, p, &err), 0, "structure still fine");
	is_int(qn_shard_check_tokens(&s, &err), QN_EFORMAT, "a token past the vocabulary is found");
	ok(strstr(err.msg, "token 1: expected an id below 10, found 11") != NULL, "message: %s", err.msg);
	qn_shard_close(&s);
	f = fopen(p, "r+b");
	fseek(f, 1024 + 2, SEEK_SET);
	fputc(1, f);
	fseek(f, 1024 + 6, SEEK_SET);
	fputc(2, f);
	fclose(f);
	is_int(qn_shard_open(&s, p, &err), 0, "opens");
	is_int(qn_shard_check_tokens(&s, &err), QN_EFORMAT, "a document without its EOT is found");
	ok(strstr(err.msg, "document 02000000000000000000000000000000 at token 3: expected the end-of-text token 9 first, found 2") != NULL,
	   "message: %s", err.msg);
	qn_shard_close(&s);
	unlink(ip);
	is_int(qn_shard_open(&s, p, &err), QN_EFORMAT, "a quern shard without its index is rejected");
	ok(strstr(err.msg, "no index") != NULL, "message: %s", err.msg);
	free(ip);
}

int main(void)
{
	tap_tmpdir();
	test_header();
	test_index();
	test_meta();
	test_mmidx();
	test_packer(0, 1000);
	test_packer(1, 1000);
	test_packer(0, 100000);
	test_files();
	tap_cleanup();
	return done_testing();
}
