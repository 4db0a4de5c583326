/*
 * fuzz_tok: the tokenizer file loaders under arbitrary bytes.
 *
 * The input is loaded as a tokenizer file (qn_tok_load_mem: the format is
 * recognised by content, so one target reaches the tokenizer.json, npm
 * tiktoken JSON and .tiktoken loaders and the JSON reader under them),
 * under a name chosen by the input's length so both the built-in
 * ".tiktoken" names and unknown ones are taken.  Loading must fail with a
 * message naming the file, or give a tokenizer that encodes the input
 * itself and a fixed text, with and without special tokens, into ids that
 * decode back to exactly those bytes.
 *
 * libFuzzer build (clang):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Ilib -Itokenizer \
 *     tests/fuzz/fuzz_tok.c tokenizer/{tok,tokload,pretok,tjson}.c \
 *     lib/{buf,err,hash}.c -lpcre2-8 -lxxhash -o fuzz_tok
 * make check runs it through tests/unit/t_fuzz_tok.c on generated inputs.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok_impl.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n", #c, __FILE__, __LINE__); abort(); } } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void roundtrip(struct qn_tok_enc *e, const struct qn_tok *t, const char *s, size_t n, int special)
{
	struct qn_ids ids = { 0 };
	struct qn_buf back = QN_BUF_INIT;
	struct qn_err err;
	int rc = special ? qn_tok_encode_special(e, s, n, &ids, &err) : qn_tok_encode(e, s, n, &ids, &err);

	/* a pattern from the file may hit PCRE2's match limits: an error, not a crash */
	if (rc == 0) {
		for (size_t i = 0; i < ids.n; i++)
			CHECK(ids.v[i] < qn_tok_vocab_size(t));
		CHECK(qn_tok_decode(t, ids.v, ids.n, &back, &err) == 0);
		CHECK(back.len == n && !memcmp(qn_buf_str(&back), s, n));
	} else {
		CHECK(rc == QN_EINPUT && err.msg[0]);
	}
	qn_ids_free(&ids);
	qn_buf_release(&back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *names[] = { "fuzz.json", "gpt2.tiktoken", "cl100k_base.tiktoken", "x.tiktoken" };
	static const char text[] = "Hello world's 12345 <|endoftext|>  \n\n caf\xc3\xa9 \xf0\x9f\x98\x80 \xff\xfe";
	const char *name = names[size % 4];
	struct qn_tok *t = NULL;
	struct qn_err err;

	if (qn_tok_load_mem(name, (const char *)data, size, &t, &err) < 0) {
		CHECK(t == NULL);
		CHECK(!strncmp(err.msg, name, strlen(name)));
		return 0;
	}
	CHECK(t != NULL && qn_tok_vocab_size(t) >= 1);
	CHECK(strlen(qn_tok_hash(t)) == 32);
	struct qn_tok_enc *e = qn_tok_enc_new(t);
	roundtrip(e, t, text, sizeof text - 1, 0);
	roundtrip(e, t, text, sizeof text - 1, 1);
	roundtrip(e, t, (const char *)data, size < 4096 ? size : 4096, 0);
	roundtrip(e, t, (const char *)data, size < 4096 ? size : 4096, 1);
	qn_tok_enc_free(e);
	qn_tok_free(t);
	return 0;
}
