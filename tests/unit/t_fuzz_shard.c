/*
 * t_fuzz_shard: the fuzz target of the shard readers
 * (tests/fuzz/fuzz_shard.c) on 20000 generated inputs: valid shards with
 * their index, metadata files and Megatron indexes, each mutated by byte
 * flips, overwritten counts, insertions, deletions and truncation.  The
 * target aborts on any broken invariant; reaching the end is the test.
 * Longer, coverage-guided runs: tests/fuzz/build.sh (libFuzzer).
 */
#include "shard.h"
#include "../tap.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

/* A valid input for the shard part: 2 cut bytes, the .bin, the .qidx. */
static void make_shard(struct qn_buf *out)
{
	struct qn_shard_header h;
	struct qn_shard_doc d[3];
	uint8_t hdr[QN_SHARD_HEADER_BYTES], tok[2];
	uint64_t ntok = 4 + tap_rand() % 20, i;
	uint32_t vocab = (tap_rand() & 1) ? 1000 : 70000;
	size_t cut;

	qn_shard_header_init(&h, vocab);
	h.eot = vocab - 1;
	h.ntokens = ntok;
	h.ndocs = 3;
	qn_shard_header_encode(&h, hdr);
	cut = QN_SHARD_HEADER_BYTES + ntok * (uint64_t)h.token_bytes;
	/* The cut point is a multiple of 8: pad the .bin with tokens to it. */
	while (cut % 8) {
		ntok++;
		cut += (size_t)h.token_bytes;
	}
	h.ntokens = ntok;
	qn_shard_header_encode(&h, hdr);
	qn_buf_reset(out);
	qn_buf_putc(out, (char)(cut / 8 >> 8));
	qn_buf_putc(out, (char)(cut / 8));
	qn_buf_append(out, hdr, sizeof hdr);
	for (i = 0; i < ntok; i++) {
		uint32_t t = (i == 0 || i == 2 || i == 3) ? vocab - 1 : (uint32_t)(tap_rand() % vocab);

		tok[0] = (uint8_t)t;
		tok[1] = (uint8_t)(t >> 8);
		qn_buf_append(out, tok, 2);
		if (h.token_bytes == 4) {
			tok[0] = (uint8_t)(t >> 16);
			tok[1] = 0;
			qn_buf_append(out, tok, 2);
		}
	}
	memset(d, 0, sizeof d);
	d[0].count = 2;
	d[1].first = 2, d[1].count = 1;
	d[2].first = 3, d[2].count = (uint32_t)ntok - 3, d[2].flags = QN_DOC_MORE;
	d[0].id[0] = 1, d[1].id[0] = 2, d[2].id[0] = 3;
	qn_shard_index_encode(d, 3, ntok, out);
}

static void make_meta(struct qn_buf *out)
{
	qn_buf_reset(out);
	qn_buf_puts(out, "quern-shard-meta 1\nformat llmc\nvocab_size 50257\neot 50256\n"
		    "tokenizer_hash 0123456789abcdef0123456789abcdef\ntoken_bytes 2\nseed 7\n"
		    "val_fraction 0.25\nshard_tokens 1000\nno_split 0\ndocs train 3\ndocs val 1\n"
		    "shard train_000000.bin train 900 3\nshard val_000000.bin val 50 1\n");
}

static void make_mmidx(struct qn_buf *out)
{
	uint32_t sizes[3] = { 2, 0, 5 };

	qn_buf_reset(out);
	qn_mmidx_encode(2, sizes, 3, out);
}

int main(void)
{
	struct qn_buf b = QN_BUF_INIT;
	int iter, accepted = 0;
	size_t i;

	/* The valid inputs themselves are accepted by their reader. */
	make_shard(&b);
	{
		struct qn_shard s;
		struct qn_err err;
		size_t cut = (((size_t)(uint8_t)b.data[0] << 8) | (uint8_t)b.data[1]) * 8;

		is_int(qn_shard_parse(&s, "f.bin", b.data + 2, cut, "f.qidx", b.data + 2 + cut, b.len - 2 - cut, &err), 0,
		       "the generated shard is valid");
		is_int(qn_shard_check_tokens(&s, &err), 0, "and so are its tokens");
		qn_shard_close(&s);
	}
	for (iter = 0; iter < 20000; iter++) {
		int kind = (int)(tap_rand() % 3), op = (int)(tap_rand() % 6);

		if (kind == 0)
			make_shard(&b);
		else if (kind == 1)
			make_meta(&b);
		else
			make_mmidx(&b);
		switch (op) {
		case 0:	/* flip bits */
			for (i = 0; i < 1 + tap_rand() % 4; i++)
				b.data[tap_rand() % b.len] ^= (char)(1u << (tap_rand() % 8));
			break;
		case 1:	/* overwrite 4 bytes with a small or huge count */
			if (b.len > 8) {
				size_t at = tap_rand() % (b.len - 4);
				uint32_t v = (tap_rand() & 1) ? (uint32_t)tap_rand() : (uint32_t)(tap_rand() % 64);

				qn_put32((uint8_t *)b.data + at, v);
			}
			break;
		case 2:	/* insert a byte */
			{
				size_t at = tap_rand() % b.len;

				qn_buf_putc(&b, 0);
				memmove(b.data + at + 1, b.data + at, b.len - at - 1);
				b.data[at] = (char)tap_rand();
			}
			break;
		case 3:	/* delete a byte */
			i = tap_rand() % b.len;
			memmove(b.data + i, b.data + i + 1, b.len - i - 1);
			b.len--;
			break;
		case 4:	/* truncate */
			b.len = tap_rand() % b.len;
			break;
		default:	/* unchanged */
			accepted++;
		}
		LLVMFuzzerTestOneInput((const unsigned char *)b.data, b.len);
	}
	ok(accepted > 0, "20000 generated inputs (%d unchanged): every invariant of the readers held", accepted);
	qn_buf_release(&b);
	return done_testing();
}
