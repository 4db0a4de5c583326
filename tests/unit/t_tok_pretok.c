/*
 * t_tok_pretok.c: the hand-written splitters of the gpt2, cl100k_base and
 * o200k_base patterns against PCRE2 on random text.
 *
 * The text is drawn from the characters that decide where pieces end:
 * ASCII letters, digits, punctuation, apostrophes before contraction
 * letters in both cases, every ASCII white space, and non-ASCII letters,
 * digits, marks, symbols and white space (U+00A0, U+0085, U+3000) next to
 * them, plus invalid bytes.  Both ways must give the same pieces.  Also:
 * pieces always concatenate back to the text, for any pattern.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tap.h"
#include "buf.h"
#include "pretok.h"

struct pieces {
	size_t *end;
	size_t n, cap;
	const char *base;
};

static int collect(void *arg, const char *p, size_t n)
{
	struct pieces *ps = arg;

	if (ps->n == ps->cap) {
		ps->cap = ps->cap ? 2 * ps->cap : 1024;
		ps->end = qn_xrealloc(ps->end, ps->cap * sizeof *ps->end);
	}
	ps->end[ps->n++] = (size_t)(p - ps->base) + n;
	return 0;
}

static const char *frag[] = {
	"a", "Z", "q", "Ab", "ABc", "aB", "HELLO", "world", "'S", "/", "\xc3\x89", "\xc3\xa9", "'", "'s", "'S", "'t", "'T", "'re", "'RE", "'Ve", "'ll", "'LL", "'m", "'d", "'D",
	"'\xc5\xbf", "'x", "0", "7", "42", "123", "9999", ".", ",", "!", "(", ")", "/", "-", "_", "\"",
	"#", "\x7f", "\x1c", " ", " ", " ", "  ", "\t", "\n", "\n", "\r\n", "\r", "\x0b", "\x0c",
	"\xc2\xa0", "\xc2\x85", "\xe3\x80\x80", "\xe2\x80\xa8", "\xc3\xa9", "\xd0\xb4", "\xe4\xb8\xad",
	"\xd9\xa3", "\xef\xbc\x91", "\xcc\x81", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xe2\x80\x94",
	"\xff", "\xc3", "\xe2\x82", "\x00"
};

int main(void)
{
	static const char *names[] = { "gpt2", "cl100k_base", "o200k_base" };
	struct qn_buf t = QN_BUF_INIT;
	struct qn_err err;

	for (int k = 0; k < 3; k++) {
		struct qn_pretok *p;
		struct qn_pretok_state *s;
		struct pieces a = { 0 }, b = { 0 };
		int bad = 0, i;

		if (qn_pretok_new(qn_pretok_builtin(names[k]), &p, &err)) {
			ok(0, "%s: %s", names[k], err.msg);
			continue;
		}
		s = qn_pretok_state_new(p);
		for (i = 0; i < 20000 && !bad; i++) {
			int n = 1 + (int)(tap_rand() % 30);

			qn_buf_reset(&t);
			while (n--)
				qn_buf_puts(&t, frag[tap_rand() % (sizeof frag / sizeof frag[0])]);
			if (tap_rand() % 7 == 0)
				qn_buf_putc(&t, 0);
			a.n = b.n = 0;
			a.base = b.base = t.data;
			qn_pretok_set_fast(p, 1);
			qn_pretok_split(s, t.data, t.len, collect, &a, &err);
			qn_pretok_set_fast(p, 0);
			qn_pretok_split(s, t.data, t.len, collect, &b, &err);
			if (a.n != b.n || memcmp(a.end, b.end, a.n * sizeof *a.end) ||
			    (a.n && a.end[a.n - 1] != t.len)) {
				printf("# %s differs on:", names[k]);
				for (size_t j = 0; j < t.len; j++)
					printf(" %02x", (unsigned char)t.data[j]);
				printf("\n");
				bad = 1;
			}
		}
		ok(!bad, "%s: the fast splitter gives PCRE2's pieces on %d random texts", names[k], i);
		qn_pretok_set_fast(p, 1);
		free(a.end);
		free(b.end);
		qn_pretok_state_free(s);
		qn_pretok_free(p);
	}

	/* any pattern: the pieces cover the text, gaps and empty matches included */
	static const char *pats[] = { "[a-z]+", "x*", "(?=a)", "\\p{L}+|\\p{N}", "o200k_base" };
	for (size_t k = 0; k < sizeof pats / sizeof pats[0]; k++) {
		struct qn_pretok *p;
		struct qn_pretok_state *s;
		struct pieces a = { 0 };
		const char *pat = qn_pretok_builtin(pats[k]) ? qn_pretok_builtin(pats[k]) : pats[k];
		int bad = 0;

		if (qn_pretok_new(pat, &p, &err)) {
			ok(0, "%s: %s", pats[k], err.msg);
			continue;
		}
		s = qn_pretok_state_new(p);
		for (int i = 0; i < 3000 && !bad; i++) {
			int n = 1 + (int)(tap_rand() % 20);
			size_t prev = 0;

			qn_buf_reset(&t);
			while (n--)
				qn_buf_puts(&t, frag[tap_rand() % (sizeof frag / sizeof frag[0])]);
			a.n = 0;
			a.base = t.data;
			qn_pretok_split(s, t.data, t.len, collect, &a, &err);
			for (size_t j = 0; j < a.n; j++) {
				if (a.end[j] <= prev)
					bad = 1;
				prev = a.end[j];
			}
			if (prev != t.len)
				bad = 1;
		}
		ok(!bad, "pattern '%s': non-empty pieces that cover every byte", pats[k]);
		free(a.end);
		qn_pretok_state_free(s);
		qn_pretok_free(p);
	}
	qn_buf_release(&t);
	return done_testing();
}
