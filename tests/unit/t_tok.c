/*
 * t_tok.c: the tokenizer library against a plain reference.
 *
 * Random small vocabularies over a four-letter alphabet (so merges fire
 * often) in both priority rules, random pieces of 1..400 bytes (short ones
 * take the rescanning merge, long ones the heap): the encoder must give
 * exactly the ids of qn_tok_encode_piece_ref, tiktoken's algorithm written
 * plainly.  Then round trips of random bytes (invalid UTF-8 included),
 * special tokens, the three loaders and their errors, and the format
 * independence of qn_tok_hash.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tap.h"
#include "tok_impl.h"

static const char *peers_file(const char *name)
{
	static char p[4096];
	const char *peers = getenv("QN_PEERS");

	if (!peers)
		return NULL;
	snprintf(p, sizeof p, "%s/tiktoken/encoders/%s", peers, name);
	FILE *f = fopen(p, "r");

	if (!f)
		return NULL;
	fclose(f);
	return p;
}

/* A random vocabulary: the 256 bytes, then ntok tokens each the
 * concatenation of two earlier ones (a few random strings too). */
static struct qn_tok *random_tok(int merges_mode, int whole_first, int ntok)
{
	struct qn_tok_part *p = qn_xcalloc(256 + (size_t)ntok, sizeof *p);
	uint8_t **own = qn_xcalloc(256 + (size_t)ntok, sizeof *own);
	uint32_t *mg = qn_xcalloc(2 * (size_t)ntok + 2, sizeof *mg);
	size_t n = 0, nm = 0;
	struct qn_tok *t = NULL;
	struct qn_err err;

	for (int b = 0; b < 256; b++) {
		own[n] = qn_xmalloc(1);
		own[n][0] = (uint8_t)b;
		p[n].b = own[n];
		p[n].len = 1;
		p[n].id = (uint32_t)n;
		n++;
	}
	while ((int)n < 256 + ntok) {
		uint32_t a, c;
		size_t len;

		if (tap_rand() % 2) {
			a = 'a' + (uint32_t)(tap_rand() % 4);
			c = 'a' + (uint32_t)(tap_rand() % 4);
		} else {
			a = 256 + (uint32_t)(tap_rand() % (n - 256 + 1)) - 1;
			c = 256 + (uint32_t)(tap_rand() % (n - 256 + 1)) - 1;
			if (a < 256)
				a = 'a';
			if (c < 256)
				c = 'b';
		}
		len = p[a].len + p[c].len;
		if (len > 12)
			continue;
		uint8_t *b = qn_xmalloc(len);
		memcpy(b, p[a].b, p[a].len);
		memcpy(b + p[a].len, p[c].b, p[c].len);
		int dup = 0;
		for (size_t k = 0; k < n && !dup; k++)
			dup = p[k].len == len && !memcmp(p[k].b, b, len);
		if (dup) {
			free(b);
			continue;
		}
		own[n] = b;
		p[n].b = b;
		p[n].len = len;
		p[n].id = (uint32_t)n;
		mg[2 * nm] = a;
		mg[2 * nm + 1] = c;
		nm++;
		n++;
	}
	if (qn_tok_build(p, n, NULL, 0, merges_mode ? mg : NULL, nm, whole_first,
			 qn_pretok_builtin("gpt2"), &t, &err))
		printf("# build: %s\n", err.msg);
	for (size_t k = 0; k < n; k++)
		free(own[k]);
	free(own);
	free(p);
	free(mg);
	return t;
}

static int same_ids(const struct qn_ids *a, const struct qn_ids *b)
{
	return a->n == b->n && !memcmp(a->v, b->v, a->n * sizeof *a->v);
}

static void check_random_pieces(const struct qn_tok *t, const char *what, int rounds,
				const char *alpha, size_t maxlen)
{
	struct qn_tok_enc *e = qn_tok_enc_new(t);
	struct qn_ids got = { 0 }, want = { 0 };
	uint8_t buf[4096];
	int bad = 0, i;
	size_t al = strlen(alpha);

	for (i = 0; i < rounds && !bad; i++) {
		size_t n = 1 + tap_rand() % maxlen;

		for (size_t k = 0; k < n; k++)
			buf[k] = (uint8_t)alpha[tap_rand() % al];
		got.n = want.n = 0;
		qn_tok_encode_piece(e, buf, n, &got);
		qn_tok_encode_piece(e, buf, n, &got);	/* the second time from the cache */
		qn_tok_encode_piece_ref(t, buf, n, &want);
		qn_tok_encode_piece_ref(t, buf, n, &want);
		if (!same_ids(&got, &want)) {
			printf("# %s: piece '%.*s' differs\n", what, (int)n, buf);
			bad = 1;
		}
	}
	ok(!bad, "%s: %d random pieces as the reference", what, i);
	qn_ids_free(&got);
	qn_ids_free(&want);
	qn_tok_enc_free(e);
}

static void check_roundtrip(const struct qn_tok *t, const char *what)
{
	struct qn_tok_enc *e = qn_tok_enc_new(t);
	struct qn_ids ids = { 0 };
	struct qn_buf out = QN_BUF_INIT;
	struct qn_err err;
	char buf[2048];
	int bad = 0, i;
	/* pieces of text that mix valid, invalid and truncated UTF-8 */
	static const char *bits[] = { "a", " ", "  ", "\n", "\r\n", "7", "12345", "'s", "é",
		"\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xff", "\xc3", "\xe2\x82", "\xed\xa0\x80",
		"\xc0\xaf", "\x00", "\xf4\x90\x80\x80", "\xcc\x81", "\xe4\xb8\xad", "<|endoftext|>" };

	for (i = 0; i < 2000 && !bad; i++) {
		size_t n = 0, k = tap_rand() % 60;

		while (k-- && n < sizeof buf - 16) {
			if (tap_rand() % 4 == 0) {
				buf[n++] = (char)(tap_rand() & 0xff);
			} else {
				const char *s = bits[tap_rand() % (sizeof bits / sizeof bits[0])];
				size_t l = s[0] ? strlen(s) : 1;

				memcpy(buf + n, s, l);
				n += l;
			}
		}
		ids.n = 0;
		qn_buf_reset(&out);
		if (qn_tok_encode(e, buf, n, &ids, &err) ||
		    qn_tok_decode(t, ids.v, ids.n, &out, &err) || out.len != n ||
		    memcmp(out.data, buf, n))
			bad = 1;
	}
	ok(!bad, "%s: %d random byte strings round-trip", what, i);
	qn_ids_free(&ids);
	qn_buf_release(&out);
	qn_tok_enc_free(e);
}

static int write_file(const char *path, const char *s, size_t n)
{
	FILE *f = fopen(path, "wb");

	if (!f)
		return -1;
	fwrite(s, 1, n, f);
	return fclose(f);
}

static void test_random_vocabs(void)
{
	for (int mode = 0; mode < 2; mode++)
		for (int wf = 0; wf < 2; wf++) {
			struct qn_tok *t = random_tok(mode, wf, 300);
			char what[64];

			snprintf(what, sizeof what, "random vocab, %s, whole_first %d",
				 mode ? "merges" : "ranks", wf);
			ok(t != NULL, "%s builds", what);
			if (!t)
				continue;
			check_random_pieces(t, what, 3000, "abcd", 40);
			check_random_pieces(t, what, 300, "abcd", 400);
			check_random_pieces(t, what, 300, "abcdx", 2000);
			check_roundtrip(t, what);
			qn_tok_free(t);
		}
}

static void test_gpt2(void)
{
	const char *path = peers_file("gpt2.json");
	struct qn_tok *t, *t2;
	struct qn_err err;
	struct qn_ids ids = { 0 };
	struct qn_buf tk = QN_BUF_INIT, b64 = QN_BUF_INIT;

	if (!path) {
		printf("# SKIP gpt2 tests: $QN_PEERS/tiktoken is missing\n");
		return;
	}
	is_int(qn_tok_load(path, &t, &err), 0, "gpt2.json loads");
	is_int(qn_tok_vocab_size(t), 50257, "gpt2 vocab size");
	is_int(qn_tok_eot(t), 50256, "gpt2 <|endoftext|>");
	is_int(qn_tok_special(t, "<|nope|>"), -1, "unknown special");
	check_random_pieces(t, "gpt2", 2000, "abcdefghijklmnopqrstuvwxyz", 300);
	check_random_pieces(t, "gpt2 bytes", 500, "\xe4\xb8\xad\xc3\xa9\xf0\x9f\x98\x80", 300);
	check_roundtrip(t, "gpt2");

	struct qn_tok_enc *e = qn_tok_enc_new(t);
	const char *s = "a<|endoftext|>b";
	qn_tok_encode(e, s, strlen(s), &ids, &err);
	ok(ids.n > 3, "encode: a special token's text is ordinary text (%zu ids)", ids.n);
	ids.n = 0;
	qn_tok_encode_special(e, s, strlen(s), &ids, &err);
	ok(ids.n == 3 && ids.v[1] == 50256, "encode_special: the special token is one id");
	ids.n = 0;
	s = "<|endoftext|><|endoftext|>x<|endoftext|";
	qn_tok_encode_special(e, s, strlen(s), &ids, &err);
	ok(ids.n >= 3 && ids.v[0] == 50256 && ids.v[1] == 50256 && ids.v[2] != 50256,
	   "encode_special: adjacent specials and a truncated one");
	qn_tok_enc_free(e);

	/* the same ranks as a .tiktoken file: the same tokenizer, the same hash */
	for (uint32_t id = 0; id < 50256; id++) {
		size_t n;
		const uint8_t *b = qn_tok_bytes(t, id, &n);

		qn_buf_reset(&b64);
		qn_base64_encode(b, n, &b64);
		qn_buf_appendf(&tk, "%s %u\n", qn_buf_str(&b64), id);
	}
	write_file(tap_path("gpt2.tiktoken"), tk.data, tk.len);
	is_int(qn_tok_load(tap_path("gpt2.tiktoken"), &t2, &err), 0, "gpt2.tiktoken loads");
	if (t2) {
		is_str(qn_tok_hash(t2), qn_tok_hash(t), "hash independent of the file format");
		qn_tok_free(t2);
	}
	write_file(tap_path("mine.tiktoken"), tk.data, tk.len);
	is_int(qn_tok_load(tap_path("mine.tiktoken"), &t2, &err), 0, "an unknown name loads");
	if (t2) {
		is_int(qn_tok_eot(t2), 50256, "unknown name: <|endoftext|> after the last rank");
		qn_tok_free(t2);
	}
	/* a corrupt line names the file and the line */
	tk.data[5 * 9 + 3] = '#';
	qn_buf_append(&tk, "bad line\n", 9);
	write_file(tap_path("bad.tiktoken"), tk.data, tk.len);
	ok(qn_tok_load(tap_path("bad.tiktoken"), &t2, &err) == QN_EFORMAT && strstr(err.msg, "bad.tiktoken:") &&
	   strstr(err.msg, "expected 'BASE64 RANK'"), "corrupt .tiktoken: %s", err.msg);

	qn_ids_free(&ids);
	qn_buf_release(&tk);
	qn_buf_release(&b64);
	qn_tok_free(t);
}

static void test_hf_json(void)
{
	/* bytes a b c, merges (a b) then (ab c), a special, a Split pattern */
	struct qn_buf j = QN_BUF_INIT;
	struct qn_tok *t;
	struct qn_err err;
	struct qn_ids ids = { 0 };

	qn_buf_puts(&j, "{\"version\":\"1.0\",\"added_tokens\":[{\"id\":0,\"content\":\"<|endoftext|>\",\"special\":true}],"
		    "\"normalizer\":null,\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":["
		    "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"[a-z]+|[^a-z]+\"},\"behavior\":\"Isolated\",\"invert\":false},"
		    "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,\"use_regex\":false}]},"
		    "\"model\":{\"type\":\"BPE\",\"dropout\":null,\"ignore_merges\":false,\"vocab\":{");
	for (int b = 0; b < 256; b++) {
		uint32_t c = qn_bytelevel_char((uint8_t)b);
		char u[4] = { 0 };

		if (c < 0x80)
			u[0] = (char)c;
		else {
			u[0] = (char)(0xc0 | c >> 6);
			u[1] = (char)(0x80 | (c & 0x3f));
		}
		qn_buf_append_json_str(&j, u, strlen(u) ? strlen(u) : 1);
		qn_buf_appendf(&j, ":%d,", b + 1);
	}
	qn_buf_puts(&j, "\"ab\":257,\"abc\":258,\"bc\":259},\"merges\":[[\"b\",\"c\"],\"a b\",[\"ab\",\"c\"]]}}");
	write_file(tap_path("tokenizer.json"), j.data, j.len);
	is_int(qn_tok_load(tap_path("tokenizer.json"), &t, &err), 0, "tokenizer.json loads");
	if (!t) {
		printf("# %s\n", err.msg);
		return;
	}
	struct qn_tok_enc *e = qn_tok_enc_new(t);
	qn_tok_encode(e, "abc", 3, &ids, &err);
	/* merges rule: (b c) first, then nothing merges a+bc: ids a, bc */
	ok(ids.n == 2 && ids.v[0] == 'a' + 1 && ids.v[1] == 259, "merges by merge order, not by rank");
	ids.n = 0;
	qn_tok_encode_special(e, "ab<|endoftext|>", 15, &ids, &err);
	ok(ids.n == 2 && ids.v[0] == 257 && ids.v[1] == 0, "added token is special");
	qn_tok_enc_free(e);
	qn_tok_free(t);

	/* errors */
	static const char *bad[] = {
		"{\"model\":{\"vocab\":{},\"merges\":[]},\"pre_tokenizer\":{\"type\":\"ByteLevel\"}}",
		"{\"model\":{\"type\":\"WordPiece\",\"vocab\":{},\"merges\":[]}}",
		"{\"model\":{\"vocab\":{\"a\":1},\"merges\":[]},\"normalizer\":{\"type\":\"NFC\"}}",
		"{\"model\":{\"vocab\":{\"a\":1},\"merges\":[]},\"pre_tokenizer\":{\"type\":\"Whitespace\"}}",
		"{\"bpe_ranks\":\"! 0 YWI=\",\"pat_str\":\"a\"}",
		"{\"bpe_ranks\":\"! 0 Y!Q==\",\"pat_str\":\"a\"}",
		"{\"bpe_ranks\":\"! x\",\"pat_str\":\"a\"}",
		"{\"a\":1}",
		"{\"model\":[1,2,",
		"",
	};
	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		int rc = qn_tok_load_mem("bad.json", bad[k], strlen(bad[k]), &t, &err);

		ok(rc < 0 && t == NULL && !strncmp(err.msg, "bad.json", 8), "rejected: %s", err.msg);
	}
	/* a vocabulary without some bytes (Hugging Face trains only those seen) */
	const char *few = "{\"bpe_ranks\":\"! 0 YQ== Yg== YWI=\",\"pat_str\":\"[a-z]+|[^a-z]+\"}";
	is_int(qn_tok_load_mem("few.json", few, strlen(few), &t, &err), 0, "a vocabulary without every byte loads");
	if (t) {
		struct qn_tok_enc *e2 = qn_tok_enc_new(t);

		ids.n = 0;
		ok(qn_tok_encode(e2, "abab", 4, &ids, &err) == 0 && ids.n == 2 && ids.v[0] == 2,
		   "  text of its bytes encodes");
		ok(qn_tok_encode(e2, "abc", 3, &ids, &err) == QN_EINPUT && strstr(err.msg, "0x63"),
		   "  a byte it lacks is an error: %s", err.msg);
		qn_tok_enc_free(e2);
		qn_tok_free(t);
	}
	qn_ids_free(&ids);
	qn_buf_release(&j);
}

static void test_pretok(void)
{
	struct qn_pretok *p;
	struct qn_err err;

	is_int(qn_pretok_new(qn_pretok_builtin("cl100k_base"), &p, &err), 0, "cl100k pattern compiles");
	qn_pretok_free(p);
	is_int(qn_pretok_new("(", &p, &err), QN_EUSAGE, "a bad pattern: %s", err.msg);
	ok(qn_pretok_builtin_name(qn_pretok_builtin("o200k_base")) != NULL, "built-in names");
}

int main(void)
{
	tap_tmpdir();
	test_random_vocabs();
	test_gpt2();
	test_hf_json();
	test_pretok();
	tap_cleanup();
	return done_testing();
}
