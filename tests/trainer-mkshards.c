/*
 * trainer-mkshards: a test-only writer of small token shards for the
 * trainer's CLI tests (tests/cli/t08xx, t09xx), used where quern-shard
 * is not built.  It writes what quern-shard(5) describes through the
 * datasets library's packer (datasets/shard.h): llm.c headers with
 * quern's fields and the sidecar indexes, no shards.meta (the loader
 * then takes the SPLIT_*.bin files in name order).
 *
 *	trainer-mkshards TOKENIZER DIR SHARD_TOKENS FILE...
 *
 * Each FILE is split into documents at lines holding only "%" (the
 * fortune format; a file without such lines is one document); every
 * tenth document goes to the val split, the rest to train.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "hash.h"
#include "../datasets/shard.h"
#include "../tokenizer/tokenizer.h"

static void die(const char *msg)
{
	fprintf(stderr, "trainer-mkshards: %s\n", msg);
	exit(1);
}

int main(int argc, char **argv)
{
	struct qn_packer *pk[2];
	struct qn_packer_opts po;
	struct qn_tok *tok;
	struct qn_tok_enc *enc;
	struct qn_ids ids = { NULL, 0, 0 };
	struct qn_buf doc = QN_BUF_INIT;
	struct qn_err err;
	uint64_t ndoc = 0;
	char line[65536];
	int i, s;

	if (argc < 5)
		die("usage: trainer-mkshards TOKENIZER DIR SHARD_TOKENS FILE...");
	if (qn_tok_load(argv[1], &tok, &err) < 0)
		die(err.msg);
	enc = qn_tok_enc_new(tok);
	mkdir(argv[2], 0777);
	for (s = 0; s < 2; s++) {
		memset(&po, 0, sizeof po);
		po.dir = argv[2];
		po.prefix = s ? "val" : "train";
		qn_shard_header_init(&po.proto, qn_tok_vocab_size(tok));
		po.proto.eot = qn_tok_eot(tok);
		po.proto.split = s ? QN_SHARD_VAL : QN_SHARD_TRAIN;
		for (i = 0; i < 16; i++) {
			unsigned v;

			sscanf(qn_tok_hash(tok) + 2 * i, "%2x", &v);
			po.proto.tok_hash[i] = (uint8_t)v;
		}
		po.shard_tokens = strtoull(argv[3], NULL, 10);
		if (qn_packer_new(&po, &pk[s], &err) < 0)
			die(err.msg);
	}
	for (i = 4; i < argc; i++) {
		FILE *f = fopen(argv[i], "r");
		int lineno = 0, more = 1;

		if (!f)
			die(argv[i]);
		while (more) {
			more = fgets(line, sizeof line, f) != NULL;
			if (more && strcmp(line, "%\n")) {
				qn_buf_puts(&doc, line);
				continue;
			}
			if (doc.len) {
				char loc[64];
				uint8_t id[16];
				char hex[QN_HASH_HEX];

				snprintf(loc, sizeof loc, "doc=%d", lineno++);
				qn_doc_id(argv[i], strlen(argv[i]), loc, strlen(loc), hex);
				qn_shard_id_parse(hex, 32, id);
				ids.n = 0;
				if (qn_tok_encode(enc, doc.data, doc.len, &ids, &err) < 0)
					die(err.msg);
				s = (++ndoc % 10) == 0;
				if (qn_packer_doc(pk[s], id, ids.v, ids.n, &err) < 0)
					die(err.msg);
			}
			qn_buf_reset(&doc);
		}
		fclose(f);
	}
	for (s = 0; s < 2; s++) {
		if (qn_packer_finish(pk[s], &err) < 0)
			die(err.msg);
		qn_packer_free(pk[s]);
	}
	qn_ids_free(&ids);
	qn_buf_release(&doc);
	qn_tok_enc_free(enc);
	qn_tok_free(tok);
	return 0;
}
