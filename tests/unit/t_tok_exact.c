/*
 * t_tok_exact.c: gpt2, cl100k_base and o200k_base ids identical to npm
 * tiktoken's (encode_ordinary), loaded from tiktoken's own encoder files.
 *
 * Inputs: real multilingual text (the localized man pages under
 * /usr/share/man and Python's NEWS), generated edge cases (runs of spaces
 * and newlines with Unicode white space among them, digits, emoji and
 * other 4-byte UTF-8, combining marks, contractions in any case, mixed
 * scripts), 1 MB of real text with its white space removed, and one long
 * piece of letters (20 KB: npm tiktoken merges a piece in quadratic time,
 * 16 s for 100 KB here, so longer single pieces are checked against the
 * reference in t_tok instead).  Skips when node or the npm package is
 * missing.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tap.h"
#include "tok_impl.h"
#include "utf8.h"

static void slurp(const char *path, struct qn_buf *b)
{
	FILE *f = fopen(path, "rb");
	char c[65536];
	size_t g;

	qn_buf_reset(b);
	if (!f)
		return;
	while ((g = fread(c, 1, sizeof c, f)) > 0)
		qn_buf_append(b, c, g);
	fclose(f);
}

static void spit(const char *path, const struct qn_buf *b)
{
	FILE *f = fopen(path, "wb");

	if (f) {
		fwrite(b->data, 1, b->len, f);
		fclose(f);
	}
}

/* Replaces invalid UTF-8 with '?', so node reads the same text. */
static void make_valid(struct qn_buf *b)
{
	size_t i = 0;

	while (i < b->len) {
		size_t k = qn_utf8_check(b->data + i, b->len - i);

		i += k;
		if (i < b->len)
			b->data[i++] = '?';
	}
}

static void multilingual(struct qn_buf *b)
{
	FILE *p = popen("for d in ja ko ru zh_CN zh_TW uk de fr pl tr cs; do "
			"ls /usr/share/man/$d/man1/*.gz 2>/dev/null | head -4; done | "
			"xargs -r zcat 2>/dev/null | head -c 600000; "
			"zcat /usr/share/doc/python3.11/NEWS.gz 2>/dev/null | head -c 200000", "r");
	char c[65536];
	size_t g;

	qn_buf_reset(b);
	while (p && (g = fread(c, 1, sizeof c, p)) > 0)
		qn_buf_append(b, c, g);
	if (p)
		pclose(p);
	make_valid(b);
}

static void edge_cases(struct qn_buf *b)
{
	static const char *ws[] = { " ", "\n", "\t", "\r", "\r\n", "\xc2\xa0", "\xc2\x85",
		"\xe2\x80\xa8", "\xe3\x80\x80", "\xe2\x80\x8b", "\xef\xbb\xbf", "\xe1\xa0\x8e", "\x0b", "\x0c" };
	static const char *frag[] = { "hello", "World", "don't", "DON'T", "it's", "IT'S", "we'll",
		"I'M", "they'RE", "you'Ve", "he'D", "x'\xc5\xbf", "'s", "'", "''", "0", "7", "42", "123",
		"1234", "12345678901234567890", "3.14159", "1,000,000", "\xf0\x9f\x98\x80",
		"\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb", "\xf0\x9f\x87\xab\xf0\x9f\x87\xb7",
		"\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd", "\xf0\xa0\x80\x80", "\xf0\x9d\x90\x80", "e\xcc\x81",
		"a\xcc\x88\xcc\xa3", "\xe0\xa4\xb9\xe0\xa4\xbf\xe0\xa4\xa8\xe0\xa5\x8d\xe0\xa4\xa6\xe0\xa5\x80",
		"\xe0\xb8\xa0\xe0\xb8\xb2\xe0\xb8\xa9\xe0\xb8\xb2", "\xe1\x84\x92\xe1\x85\xa1\xe1\x86\xab",
		"\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82", "\xe4\xb8\xad\xe6\x96\x87",
		"\xd8\xa7\xd9\x84\xd8\xb9\xd8\xb1\xd8\xa8\xd9\x8a\xd8\xa9", "\xce\x95\xce\xbb\xce\xbb\xce\xac\xce\xb4\xce\xb1",
		"abc\xd0\xb4\xd0\xb5\xe4\xb8\xad" "1\xd9\xa3", "\xef\xbc\x91\xef\xbc\x92", "\xe2\x85\xa0\xe2\x85\xa1",
		"Stra\xc3\x9f" "e", "\xc7\x85", "\xe1\xbe\x88", "//", "/path/to/x", "<|endoftext|>", "...", "?!",
		"(x)", "#", "$$", "\\", "\"", "\xc2\xbf", "\xe2\x80\x94", "\xe2\x80\x9cq\xe2\x80\x9d", "-", "_a_",
		"\xf0\x9f\x8e\x89\xf0\x9f\x8e\x89\xf0\x9f\x8e\x89", "\xe2\x9d\xa4\xef\xb8\x8f", "x\xcd\x8f",
		"\xea\xb0\x80\xea\xb0\x81", "\xe3\x81\x82\xe3\x82\xa2", "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d" };
	qn_buf_reset(b);
	/* runs of one kind of space or newline, every length to 40 */
	for (size_t w = 0; w < sizeof ws / sizeof ws[0]; w++)
		for (int n = 1; n <= 40; n++) {
			qn_buf_puts(b, "x");
			for (int k = 0; k < n; k++)
				qn_buf_puts(b, ws[w]);
			qn_buf_puts(b, n % 2 ? "y" : "7");
		}
	/* digit runs of every length to 25 */
	for (int n = 1; n <= 25; n++) {
		qn_buf_puts(b, n % 3 ? " " : "a");
		for (int k = 0; k < n; k++)
			qn_buf_putc(b, (char)('0' + (k * 7 + n) % 10));
	}
	/* random mixtures */
	for (int i = 0; i < 30000; i++) {
		if (tap_rand() % 3 == 0) {
			int n = 1 + (int)(tap_rand() % (tap_rand() % 8 ? 2 : 12));

			while (n--)
				qn_buf_puts(b, ws[tap_rand() % (sizeof ws / sizeof ws[0])]);
		} else {
			qn_buf_puts(b, frag[tap_rand() % (sizeof frag / sizeof frag[0])]);
		}
	}
	qn_buf_puts(b, "   \n\n  ");	/* trailing white space */
}

static void no_whitespace(const struct qn_buf *src, struct qn_buf *b)
{
	qn_buf_reset(b);
	while (b->len < 1000000) {
		for (size_t i = 0; i < src->len && b->len < 1000000; i++) {
			unsigned char c = (unsigned char)src->data[i];

			if (c != ' ' && c != '\n' && c != '\t' && c != '\r' && c != '\f' && c != '\v')
				qn_buf_putc(b, (char)c);
		}
	}
	/* end on a character boundary */
	while (b->len && ((unsigned char)b->data[b->len - 1] & 0xc0) == 0x80)
		b->len--;
	if (b->len && (unsigned char)b->data[b->len - 1] >= 0xc0)
		b->len--;
	b->data[b->len] = 0;
}

int main(void)
{
	const char *peers = getenv("QN_PEERS");
	static const char *encs[] = { "gpt2", "cl100k_base", "o200k_base" };
	static const char *files[] = { "multilingual.txt", "edge.txt", "nows.txt", "piece.txt" };
	struct qn_buf text[4], got = QN_BUF_INIT, cmd = QN_BUF_INIT, ref = QN_BUF_INIT;
	char path[4096];

	if (!peers)
		skip_all("QN_PEERS is not set");
	snprintf(path, sizeof path, "%s/tiktoken/encoders/gpt2.json", peers);
	if (access(path, R_OK))
		skip_all("npm tiktoken is not installed in $QN_PEERS");
	if (system("node --version >/dev/null 2>&1"))
		skip_all("node is not installed");
	tap_tmpdir();
	for (int i = 0; i < 4; i++)
		qn_buf_init(&text[i]);
	multilingual(&text[0]);
	edge_cases(&text[1]);
	no_whitespace(&text[0], &text[2]);
	for (int i = 0; i < 20000; i++)
		qn_buf_putc(&text[3], (char)('a' + tap_rand() % 26));
	ok(text[0].len > 100000, "multilingual text: %zu bytes", text[0].len);
	for (int i = 0; i < 4; i++)
		spit(tap_path(files[i]), &text[i]);

	for (size_t k = 0; k < 3; k++) {
		struct qn_tok *t;
		struct qn_err err;

		snprintf(path, sizeof path, "%s/tiktoken/encoders/%s.json", peers, encs[k]);
		if (qn_tok_load(path, &t, &err)) {
			ok(0, "%s loads: %s", encs[k], err.msg);
			continue;
		}
		qn_buf_reset(&cmd);
		qn_buf_appendf(&cmd, "NODE_PATH='%s' node '%s/tokenizer/tiktoken-ids.js' %s", peers,
			       getenv("QN_TOP_SRCDIR") ? getenv("QN_TOP_SRCDIR") : "../..", encs[k]);
		for (int i = 0; i < 4; i++)
			qn_buf_appendf(&cmd, " '%s'", tap_path(files[i]));
		is_int(system(cmd.data), 0, "%s: npm tiktoken ran", encs[k]);

		struct qn_tok_enc *e = qn_tok_enc_new(t);
		for (int i = 0; i < 4; i++) {
			struct qn_ids ids = { 0 };

			qn_tok_encode(e, text[i].data, text[i].len, &ids, &err);
			qn_buf_reset(&got);
			for (size_t j = 0; j < ids.n; j++)
				qn_buf_appendf(&got, "%u\n", ids.v[j]);
			snprintf(path, sizeof path, "%s.%s.ids", tap_path(files[i]), encs[k]);
			slurp(path, &ref);
			int same = got.len == ref.len && !memcmp(got.data, ref.data, got.len);
			ok(same, "%s %s: %zu ids identical to tiktoken's", encs[k], files[i], ids.n);
			if (!same) {
				size_t d = 0, line = 0;

				while (d < got.len && d < ref.len && got.data[d] == ref.data[d])
					line += got.data[d++] == '\n';
				printf("#   first difference at id %zu\n", line);
			}
			qn_ids_free(&ids);
		}
		qn_tok_enc_free(e);
		qn_tok_free(t);
	}
	for (int i = 0; i < 4; i++)
		qn_buf_release(&text[i]);
	qn_buf_release(&got);
	qn_buf_release(&cmd);
	qn_buf_release(&ref);
	tap_cleanup();
	return done_testing();
}
