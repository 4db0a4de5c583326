/*
 * t_fuzz_tok: the fuzz target of the tokenizer loaders
 * (tests/fuzz/fuzz_tok.c) on 20000 generated inputs: small valid
 * tokenizers in each format (a .tiktoken rank file, npm tiktoken's JSON,
 * a Hugging Face tokenizer.json with merges and an added token), mutated
 * by byte flips, insertions of syntax bytes, deletions and truncation,
 * and random bytes.  The target aborts on any broken invariant; reaching
 * the end is the test.
 */
#include "../tap.h"
#include "buf.h"
#include "tok_impl.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static void seeds(struct qn_buf s[3])
{
	struct qn_buf b64 = QN_BUF_INIT;
	static const char *extra[] = { "he", "ll", "hell", "o ", "wo", "rl", "hello", " w" };

	for (int i = 0; i < 3; i++)
		qn_buf_init(&s[i]);
	/* .tiktoken */
	for (int r = 0; r < 256 + 8; r++) {
		uint8_t c = (uint8_t)r;

		qn_buf_reset(&b64);
		if (r < 256)
			qn_base64_encode(&c, 1, &b64);
		else
			qn_base64_encode((const uint8_t *)extra[r - 256], strlen(extra[r - 256]), &b64);
		qn_buf_appendf(&s[0], "%s %d\n", qn_buf_str(&b64), r);
	}
	/* npm tiktoken JSON */
	qn_buf_puts(&s[1], "{\"pat_str\":\"'s|'t| ?\\\\p{L}+| ?\\\\p{N}+| ?[^\\\\s\\\\p{L}\\\\p{N}]+|\\\\s+(?!\\\\S)|\\\\s+\","
		    "\"special_tokens\":{\"<|endoftext|>\":264},\"bpe_ranks\":\"! 0");
	for (int r = 0; r < 256 + 8; r++) {
		uint8_t c = (uint8_t)r;

		qn_buf_reset(&b64);
		if (r < 256)
			qn_base64_encode(&c, 1, &b64);
		else
			qn_base64_encode((const uint8_t *)extra[r - 256], strlen(extra[r - 256]), &b64);
		qn_buf_appendf(&s[1], " %s", qn_buf_str(&b64));
	}
	qn_buf_puts(&s[1], "\"}");
	/* tokenizer.json */
	qn_buf_puts(&s[2], "{\"added_tokens\":[{\"id\":262,\"content\":\"<|endoftext|>\",\"special\":true}],"
		    "\"normalizer\":null,\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":["
		    "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"\\\\p{L}+|\\\\s+|[^\\\\s\\\\p{L}]+\"},\"behavior\":\"Isolated\",\"invert\":false},"
		    "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":false}]},"
		    "\"model\":{\"type\":\"BPE\",\"ignore_merges\":true,\"vocab\":{");
	for (int b = 0; b < 256; b++) {
		uint32_t c = qn_bytelevel_char((uint8_t)b);
		char u[3] = { 0 };

		if (c < 0x80)
			u[0] = (char)c;
		else {
			u[0] = (char)(0xc0 | c >> 6);
			u[1] = (char)(0x80 | (c & 0x3f));
		}
		qn_buf_append_json_str(&s[2], u, strlen(u));
		qn_buf_appendf(&s[2], ":%d,", b);
	}
	qn_buf_puts(&s[2], "\"he\":256,\"ll\":257,\"hell\":258,\"hello\":259,\"\xc4\xa0w\":260,\"wo\":261},"
		    "\"merges\":[\"h e\",[\"l\",\"l\"],[\"he\",\"ll\"],\"hell o\",\"\xc4\xa0 w\",[\"w\",\"o\"]]}}");
	qn_buf_release(&b64);
}

int main(void)
{
	struct qn_buf s[3];
	static unsigned char buf[16384];
	size_t n, i;
	int iter, loaded = 0;

	seeds(s);
	for (int k = 0; k < 3; k++) {
		struct qn_tok *t;
		struct qn_err err;
		static const char *names[] = { "x.tiktoken", "x.json", "tokenizer.json" };

		ok(qn_tok_load_mem(names[k], s[k].data, s[k].len, &t, &err) == 0, "seed %d loads%s%s", k,
		   t ? "" : ": ", t ? "" : err.msg);
		qn_tok_free(t);
	}
	for (iter = 0; iter < 20000; iter++) {
		const struct qn_buf *seed = &s[tap_rand() % 3];
		int kind = (int)(tap_rand() % 5);

		n = seed->len < sizeof buf - 8 ? seed->len : sizeof buf - 8;
		memcpy(buf, seed->data, n);
		switch (kind) {
		case 0:
			for (i = 0; i < 1 + tap_rand() % 4; i++)
				buf[tap_rand() % n] ^= (unsigned char)(1u << (tap_rand() % 8));
			break;
		case 1: {
			size_t at = tap_rand() % n;

			memmove(buf + at + 1, buf + at, n - at);
			buf[at] = (unsigned char)"\"\\{}[]:, \n!=0A\x80\xff"[tap_rand() % 17];
			n++;
			break;
		}
		case 2:
			i = tap_rand() % n;
			memmove(buf + i, buf + i + 1, n - i - 1);
			n--;
			break;
		case 3:
			n = tap_rand() % n;
			break;
		default:
			n = tap_rand() % 300;
			for (i = 0; i < n; i++)
				buf[i] = (unsigned char)tap_rand();
		}
		LLVMFuzzerTestOneInput(buf, n);
		struct qn_tok *t;
		struct qn_err err;
		if (qn_tok_load_mem("x.tiktoken", (const char *)buf, n, &t, &err) == 0)
			loaded++;
		qn_tok_free(t);
	}
	ok(1, "%d generated inputs: every invariant of the loaders held", iter);
	ok(loaded > 100, "%d of them loaded, so the encoder was exercised too", loaded);
	for (int k = 0; k < 3; k++)
		qn_buf_release(&s[k]);
	return done_testing();
}
