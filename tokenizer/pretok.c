/*
 * pretok.c: split patterns with PCRE2 (see pretok.h).
 *
 * tiktoken matches with Rust's fancy-regex, Hugging Face tokenizers with
 * Oniguruma; both take \s as the Unicode White_Space property.  PCRE2's
 * \s under PCRE2_UCP is Perl's space (no U+0085 NEXT LINE, among others),
 * so every \s and \S outside a bracket class, and every \s inside one, is
 * rewritten to the explicit White_Space set before compiling.  The other
 * constructs the built-in patterns use (\p{..} classes, (?i:..) groups,
 * the lookahead in \s+(?!\S), {1,3}) mean the same in all three engines;
 * tests/unit/t_tok_exact compares against tiktoken on real text.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "pretok.h"

/* The patterns exactly as the encoder JSON files of npm tiktoken carry them. */
static const char PAT_GPT2[] =
	"'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
static const char PAT_CL100K[] =
	"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char PAT_O200K[] =
	"[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
	"|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
	"|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

static const struct {
	const char *name, *pat;
} builtins[] = {
	{ "gpt2", PAT_GPT2 },
	{ "r50k_base", PAT_GPT2 },
	{ "p50k_base", PAT_GPT2 },
	{ "cl100k_base", PAT_CL100K },
	{ "o200k_base", PAT_O200K },
};

const char *qn_pretok_builtin(const char *name)
{
	for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++)
		if (!strcmp(name, builtins[i].name))
			return builtins[i].pat;
	return NULL;
}

const char *qn_pretok_builtin_name(const char *pattern)
{
	for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++)
		if (!strcmp(pattern, builtins[i].pat))
			return builtins[i].name;
	return NULL;
}

enum { FAST_NONE, FAST_GPT2, FAST_CL100K, FAST_O200K };

struct qn_pretok {
	char *pattern;
	pcre2_code *re;
	int jit;
	int fast;	/* a hand-written splitter for ASCII text, or FAST_NONE */
};

struct qn_pretok_state {
	const struct qn_pretok *p;
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	pcre2_jit_stack *stack;
};

/* Unicode White_Space, as the body of a bracket class. */
#define WS_SET "\\t\\n\\x{0b}\\f\\r \\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}" \
	"\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}"

/* Rewrites \s and \S to White_Space classes (see the top of the file). */
static void rewrite_ws(const char *pat, struct qn_buf *out)
{
	int in_class = 0;

	for (const char *s = pat; *s; s++) {
		if (*s == '\\' && s[1]) {
			if (s[1] == 's') {
				qn_buf_puts(out, in_class ? WS_SET : "[" WS_SET "]");
			} else if (s[1] == 'S' && !in_class) {
				qn_buf_puts(out, "[^" WS_SET "]");
			} else if (s[1] == 'Q') {
				/* \Q...\E: literal text, copied as is */
				const char *e = strstr(s + 2, "\\E");
				size_t n = e ? (size_t)(e + 2 - s) : strlen(s);

				qn_buf_append(out, s, n);
				s += n - 1;
				continue;
			} else {
				qn_buf_append(out, s, 2);
			}
			s++;
			continue;
		}
		if (!in_class && *s == '[') {
			in_class = 1;
			qn_buf_putc(out, *s);
			/* a ']' right after '[' or '[^' is literal */
			if (s[1] == '^') {
				qn_buf_putc(out, *++s);
			}
			if (s[1] == ']')
				qn_buf_putc(out, *++s);
			continue;
		}
		if (in_class && *s == '[' && s[1] == ':') {
			/* POSIX class [:alpha:] inside a class */
			const char *e = strstr(s + 2, ":]");

			if (e) {
				qn_buf_append(out, s, (size_t)(e + 2 - s));
				s = e + 1;
				continue;
			}
		}
		if (in_class && *s == ']')
			in_class = 0;
		qn_buf_putc(out, *s);
	}
}

int qn_pretok_new(const char *pattern, struct qn_pretok **out, struct qn_err *err)
{
	struct qn_buf pat = QN_BUF_INIT;
	int ec;
	PCRE2_SIZE eo;
	pcre2_code *re;
	struct qn_pretok *p;

	*out = NULL;
	rewrite_ws(pattern, &pat);
	re = pcre2_compile((PCRE2_SPTR)qn_buf_str(&pat), pat.len,
			   PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &ec, &eo, NULL);
	qn_buf_release(&pat);
	if (!re) {
		PCRE2_UCHAR msg[256];

		pcre2_get_error_message(ec, msg, sizeof msg);
		return qn_err_set(err, QN_EUSAGE, "split pattern: %s", (char *)msg);
	}
	p = qn_xcalloc(1, sizeof *p);
	p->pattern = qn_xstrdup(pattern);
	p->re = re;
	p->jit = pcre2_jit_compile(re, PCRE2_JIT_COMPLETE) == 0;
	if (!strcmp(pattern, PAT_GPT2))
		p->fast = FAST_GPT2;
	else if (!strcmp(pattern, PAT_CL100K))
		p->fast = FAST_CL100K;
	else if (!strcmp(pattern, PAT_O200K))
		p->fast = FAST_O200K;
	*out = p;
	return 0;
}

void qn_pretok_free(struct qn_pretok *p)
{
	if (!p)
		return;
	pcre2_code_free(p->re);
	free(p->pattern);
	free(p);
}

const char *qn_pretok_pattern(const struct qn_pretok *p)
{
	return p->pattern;
}

int qn_pretok_set_fast(struct qn_pretok *p, int on)
{
	int was = p->fast != FAST_NONE;

	if (!on)
		p->fast = FAST_NONE;
	else if (!strcmp(p->pattern, PAT_GPT2))
		p->fast = FAST_GPT2;
	else if (!strcmp(p->pattern, PAT_CL100K))
		p->fast = FAST_CL100K;
	else if (!strcmp(p->pattern, PAT_O200K))
		p->fast = FAST_O200K;
	return was;
}

/*
 * The fast splitters.  For the gpt2, cl100k_base and o200k_base patterns, a piece
 * whose extent is decided by ASCII bytes alone is found by a scan over a
 * class table, as the regex would find it (alternatives in order, greedy
 * runs, the lookahead of \s+(?!\S)).  Wherever a byte of 0x80 or above
 * could change the answer (a letter run ending at one: it may be a
 * letter; a white-space run ending at one: it may be U+00A0), the scan
 * gives up and PCRE2 matches that one piece.  t_tok_pretok checks both
 * ways against each other on random text.
 */
enum { C_P, C_L, C_N, C_W };	/* other, letter, digit, white space */

static const uint8_t ascii_class[128] = {
	['\t'] = C_W, ['\n'] = C_W, [0x0b] = C_W, ['\f'] = C_W, ['\r'] = C_W, [' '] = C_W,
	['0'] = C_N, ['1'] = C_N, ['2'] = C_N, ['3'] = C_N, ['4'] = C_N,
	['5'] = C_N, ['6'] = C_N, ['7'] = C_N, ['8'] = C_N, ['9'] = C_N,
#define L2(a) [a] = C_L, [a + 32] = C_L
	L2('A'), L2('B'), L2('C'), L2('D'), L2('E'), L2('F'), L2('G'), L2('H'), L2('I'),
	L2('J'), L2('K'), L2('L'), L2('M'), L2('N'), L2('O'), L2('P'), L2('Q'), L2('R'),
	L2('S'), L2('T'), L2('U'), L2('V'), L2('W'), L2('X'), L2('Y'), L2('Z'),
#undef L2
};

/* The end of the run of class k from i, or 0 when a non-ASCII byte ends it. */
static inline size_t run_of(const unsigned char *s, size_t n, size_t i, int k)
{
	while (i < n && s[i] < 0x80 && ascii_class[s[i]] == k)
		i++;
	if (i < n && s[i] >= 0x80)
		return 0;
	return i;
}

/* White space from i: sets *e to the run's end; 0 when a non-ASCII byte ends it. */
static inline int ws_run(const unsigned char *s, size_t n, size_t i, size_t *e)
{
	*e = run_of(s, n, i, C_W);
	return *e != 0;
}

static size_t fast_gpt2(const unsigned char *s, size_t n, size_t i)
{
	unsigned c = s[i];
	size_t j = i, e;

	if (c >= 0x80)
		return 0;
	if (c == '\'' && i + 1 < n) {
		unsigned c1 = s[i + 1];

		if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd')
			return i + 2;
		if (i + 2 < n && ((c1 == 'r' && s[i + 2] == 'e') || (c1 == 'v' && s[i + 2] == 'e') ||
				  (c1 == 'l' && s[i + 2] == 'l')))
			return i + 3;
	}
	if (c == ' ' && i + 1 < n) {
		if (s[i + 1] >= 0x80)
			return 0;
		if (ascii_class[s[i + 1]] != C_W)
			j = i + 1;
	}
	switch (ascii_class[s[j]]) {
	case C_L:
		return run_of(s, n, j + 1, C_L);
	case C_N:
		return run_of(s, n, j + 1, C_N);
	case C_P:
		return run_of(s, n, j + 1, C_P);
	default:
		break;
	}
	if (!ws_run(s, n, i, &e))
		return 0;
	if (e == n)
		return n;		/* \s+(?!\S) to the end */
	return e - i >= 2 ? e - 1 : e;	/* \s+(?!\S) leaves the last; else \s+ */
}

static inline unsigned lower(unsigned c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static size_t fast_cl100k(const unsigned char *s, size_t n, size_t i)
{
	unsigned c = s[i];
	size_t e;

	if (c >= 0x80)
		return 0;
	/* (?i:'s|'t|'re|'ve|'m|'ll|'d) */
	if (c == '\'' && i + 1 < n) {
		unsigned c1 = s[i + 1];

		if (c1 >= 0x80)
			return 0;	/* U+017F folds to s */
		c1 = lower(c1);
		if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd')
			return i + 2;
		if (i + 2 < n && s[i + 2] < 0x80) {
			unsigned c2 = lower(s[i + 2]);

			if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l'))
				return i + 3;
		}
	}
	int k = ascii_class[c];
	/* [^\r\n\p{L}\p{N}]?\p{L}+ */
	if (k == C_L)
		return run_of(s, n, i + 1, C_L);
	if (c != '\r' && c != '\n' && k != C_N && i + 1 < n) {
		if (s[i + 1] >= 0x80)
			return 0;
		if (ascii_class[s[i + 1]] == C_L)
			return run_of(s, n, i + 2, C_L);
	}
	/* \p{N}{1,3} */
	if (k == C_N) {
		for (e = i + 1; e < n && e - i < 3; e++) {
			if (s[e] >= 0x80)
				return 0;
			if (ascii_class[s[e]] != C_N)
				break;
		}
		return e;
	}
	/*  ?[^\s\p{L}\p{N}]+[\r\n]* */
	size_t j = i;
	if (c == ' ' && i + 1 < n) {
		if (s[i + 1] >= 0x80)
			return 0;
		if (ascii_class[s[i + 1]] == C_P)
			j = i + 1;
	}
	if (ascii_class[s[j]] == C_P) {
		if (!(e = run_of(s, n, j + 1, C_P)))
			return 0;
		while (e < n && (s[e] == '\r' || s[e] == '\n'))
			e++;
		return e;
	}
	/* white space: \s*[\r\n]+, then \s+(?!\S), then \s+ */
	if (!ws_run(s, n, i, &e))
		return 0;
	for (size_t l = e; l > i; l--)
		if (s[l - 1] == '\r' || s[l - 1] == '\n')
			return l;
	if (e == n)
		return n;
	return e - i >= 2 ? e - 1 : e;
}

struct qn_pretok_state *qn_pretok_state_new(const struct qn_pretok *p)
{
	struct qn_pretok_state *s = qn_xcalloc(1, sizeof *s);

	s->p = p;
	s->md = pcre2_match_data_create_from_pattern(p->re, NULL);
	s->mctx = pcre2_match_context_create(NULL);
	if (!s->md || !s->mctx)
		abort();
	if (p->jit) {
		/* lookahead and backtracking on long runs need more than the default 32K */
		s->stack = pcre2_jit_stack_create(64 * 1024, 64 * 1024 * 1024, NULL);
		if (!s->stack)
			abort();
		pcre2_jit_stack_assign(s->mctx, NULL, s->stack);
	}
	return s;
}

void qn_pretok_state_free(struct qn_pretok_state *s)
{
	if (!s)
		return;
	pcre2_match_data_free(s->md);
	pcre2_match_context_free(s->mctx);
	if (s->stack)
		pcre2_jit_stack_free(s->stack);
	free(s);
}

/* The length of the UTF-8 character at t[0..n), 1 for an invalid byte. */
static size_t char_len(const unsigned char *t, size_t n)
{
	size_t k = t[0] < 0x80 ? 1 : t[0] < 0xc2 ? 0 : t[0] < 0xe0 ? 2 : t[0] < 0xf0 ? 3 : t[0] < 0xf5 ? 4 : 0;

	if (k == 0 || k > n)
		return 1;
	for (size_t i = 1; i < k; i++)
		if ((t[i] & 0xc0) != 0x80)
			return 1;
	return k;
}

/* (?i:'s|'t|'re|'ve|'m|'ll|'d) at i: its end, i when none, 0 when undecided. */
static size_t contraction_ci(const unsigned char *s, size_t n, size_t i)
{
	if (i >= n || s[i] != '\'' || i + 1 >= n)
		return i;
	unsigned c1 = s[i + 1];

	if (c1 >= 0x80)
		return 0;	/* U+017F folds to s */
	c1 = lower(c1);
	if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd')
		return i + 2;
	if (i + 2 < n && s[i + 2] < 0x80) {
		unsigned c2 = lower(s[i + 2]);

		if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l'))
			return i + 3;
	}
	return i;
}

static size_t fast_o200k(const unsigned char *s, size_t n, size_t i)
{
	unsigned c = s[i];
	size_t j = i, e;
	int k;

	if (c >= 0x80)
		return 0;
	k = ascii_class[c];
	/* [^\r\n\p{L}\p{N}]? before the letters of the first two alternatives */
	if (k != C_L && k != C_N && c != '\r' && c != '\n' && i + 1 < n) {
		if (s[i + 1] >= 0x80)
			return 0;
		if (ascii_class[s[i + 1]] == C_L)
			j = i + 1;
	}
	if (ascii_class[s[j]] == C_L) {
		/* upper* lower+ , else upper+ lower*: ASCII upper then lower runs */
		size_t u = j, l;

		while (u < n && s[u] >= 'A' && s[u] <= 'Z')
			u++;
		if (u < n && s[u] >= 0x80)
			return 0;
		l = u;
		while (l < n && s[l] >= 'a' && s[l] <= 'z')
			l++;
		if (l < n && s[l] >= 0x80)
			return 0;
		e = l > u ? l : u;
		return contraction_ci(s, n, e);
	}
	/* \p{N}{1,3} */
	if (k == C_N) {
		for (e = i + 1; e < n && e - i < 3; e++) {
			if (s[e] >= 0x80)
				return 0;
			if (ascii_class[s[e]] != C_N)
				break;
		}
		return e;
	}
	/*  ?[^\s\p{L}\p{N}]+[\r\n/]* */
	j = i;
	if (c == ' ' && i + 1 < n) {
		if (s[i + 1] >= 0x80)
			return 0;
		if (ascii_class[s[i + 1]] == C_P)
			j = i + 1;
	}
	if (ascii_class[s[j]] == C_P) {
		if (!(e = run_of(s, n, j + 1, C_P)))
			return 0;
		while (e < n && (s[e] == '\r' || s[e] == '\n' || s[e] == '/'))
			e++;
		return e;
	}
	/* white space: \s*[\r\n]+, then \s+(?!\S), then \s+ */
	if (!ws_run(s, n, i, &e))
		return 0;
	for (size_t l = e; l > i; l--)
		if (s[l - 1] == '\r' || s[l - 1] == '\n')
			return l;
	if (e == n)
		return n;
	return e - i >= 2 ? e - 1 : e;
}

int qn_pretok_split(struct qn_pretok_state *s, const char *text, size_t len,
		    qn_pretok_fn piece, void *arg, struct qn_err *err)
{
	const struct qn_pretok *p = s->p;
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
	size_t pos = 0;
	int rc;

	while (pos < len) {
		if (p->fast) {
			const unsigned char *u = (const unsigned char *)text;
			size_t e = p->fast == FAST_GPT2 ? fast_gpt2(u, len, pos)
				   : p->fast == FAST_CL100K ? fast_cl100k(u, len, pos)
				   : fast_o200k(u, len, pos);

			if (e > pos) {
				if ((rc = piece(arg, text + pos, e - pos)))
					return rc;
				pos = e;
				continue;
			}
		}
		if (p->jit)
			rc = pcre2_jit_match(p->re, (PCRE2_SPTR)text, len, pos, 0, s->md, s->mctx);
		else
			rc = pcre2_match(p->re, (PCRE2_SPTR)text, len, pos, 0, s->md, s->mctx);
		if (rc == PCRE2_ERROR_NOMATCH)
			return piece(arg, text + pos, len - pos);
		if (rc < 0) {
			PCRE2_UCHAR msg[256];

			pcre2_get_error_message(rc, msg, sizeof msg);
			return qn_err_set(err, QN_EINPUT, "byte %zu: split pattern: %s", pos, (char *)msg);
		}
		size_t b = ov[0], e = ov[1];

		if (b > pos && (rc = piece(arg, text + pos, b - pos)))
			return rc;
		if (e == b) {
			/* an empty match: the next character is a piece of its own */
			if (b >= len)
				break;
			e = b + char_len((const unsigned char *)text + b, len - b);
		}
		if ((rc = piece(arg, text + b, e - b)))
			return rc;
		pos = e;
	}
	return 0;
}
