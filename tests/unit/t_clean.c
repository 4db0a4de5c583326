/*
 * t_clean: the pieces of quern-clean: the word splitter, normalization,
 * the Luhn check, parameters and histograms, the rules-file parser, the
 * word-at-a-time byte counters against byte loops, and
 * the Gopher repetition measures against a plain quadratic reference on
 * random texts made of few words (so that n-grams repeat).
 */
#include <ctype.h>
#include <math.h>

#include "../tap.h"
#include "clean.h"
#include "internal.h"

static struct qn_clean_config cfg;

static size_t words(struct qn_cleaner *c, const char *s, const struct qn_word **w)
{
	return qn_clean_words(c, s, strlen(s), w);
}

static void test_words(struct qn_cleaner *c)
{
	const struct qn_word *w;
	size_t n;

	n = words(c, "Hello, world.", &w);
	is_int(n, 4, "'Hello, world.' is four words");
	ok(w[0].flags & W_ALPHA && !(w[0].flags & W_SYMBOL), "a word has a letter and is no symbol");
	ok(w[1].flags & W_SYMBOL && !(w[1].flags & W_ALPHA), "',' is a symbol");
	is_int(words(c, "don't stop", &w), 4, "don't splits at the apostrophe");
	is_int(words(c, "the The of with", &w), 4, "four words");
	is_int((w[0].flags & W_STOP) && !(w[1].flags & W_STOP) && (w[2].flags & W_STOP) && (w[3].flags & W_STOP),
	       1, "stop words are case-sensitive");
	n = words(c, "na\xc3\xafve caf\xc3\xa9 x\xcc\x81y", &w);
	is_int(n, 3, "letters with accents and combining marks stay in one word");
	is_int(w[2].nchars, 3, "lengths in code points");
	n = words(c, "\xc2\xa7 \xef\xbc\x91 $ \xe2\x80\x94", &w);
	is_int(n, 4, "single characters");
	ok(!(w[0].flags & W_SYMBOL), "section sign is not in datatrove's punctuation");
	ok(w[1].flags & W_SYMBOL, "fullwidth 1 is (datatrove's set has it)");
	ok(w[2].flags & W_SYMBOL && w[3].flags & W_SYMBOL, "'$' and em dash are symbols");
	n = words(c, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe6\x96\x87\xe7\xab\xa0\xe3\x81\xa7\xe3\x81\x99", &w);
	ok(n >= 3 && n <= 8, "Japanese without spaces is split at ICU word boundaries (%zu words)", n);
	n = words(c, "Linux\xe4\xb8\xad\xe6\x96\x87", &w);
	ok(n >= 2 && w[0].len == 5, "a Latin run then Han: Linux first");
	is_int(words(c, "", &w), 0, "no words in nothing");
	is_int(words(c, " \t\n ", &w), 0, "nor in blanks");
	is_int(words(c, "a1b2 3.14", &w), 4, "letters and digits run together, dots split");
}

/*
 * The splitter reads ASCII letters and digits 8 bytes at a time: random
 * texts of ASCII and one Latin letter, split by a byte-at-a-time
 * reference (runs of letters and digits, é among them, are words, blanks
 * split, any other character is a word alone); equal words must have
 * equal hashes and different words different ones.
 */
static void test_words_random(struct qn_cleaner *c)
{
	static const char *const piece[] = {
		"a", "Z", "7", "word", "Words09", "abcdefgh", "abcdefghijklmnopq", "\xc3\xa9",
		" ", "  ", "\n", "\t", ",", ".", "-", "'", "(", "@", "_", "`", "{", "~", "[", "/",
	};
	struct qn_buf t = QN_BUF_INIT;
	int r, bad = 0;

	for (r = 0; r < 2000; r++) {
		const unsigned char *p;
		const struct qn_word *w;
		size_t np = (size_t)(tap_rand() % 30), k, i, nw, ref = 0;

		qn_buf_reset(&t);
		for (k = 0; k < np; k++)
			qn_buf_puts(&t, piece[tap_rand() % (sizeof piece / sizeof piece[0])]);
		p = (const unsigned char *)t.data;
		nw = qn_clean_words(c, t.data, t.len, &w);
		for (i = 0; i < t.len && !bad;) {
			size_t a = i, chars = 0;
			int alpha = 0;

			if (p[i] == ' ' || p[i] == '\n' || p[i] == '\t') {
				i++;
				continue;
			}
			if (isalnum(p[i]) || p[i] == 0xC3) {
				while (i < t.len && (isalnum(p[i]) || p[i] == 0xC3)) {
					alpha |= isalpha(p[i]) || p[i] == 0xC3;
					i += p[i] == 0xC3 ? 2 : 1;
					chars++;
				}
			} else {
				i++;
				chars = 1;
			}
			if (ref >= nw || w[ref].off != a || w[ref].len != i - a || w[ref].nchars != chars ||
			    !(w[ref].flags & W_ALPHA) != !alpha)
				bad++;
			ref++;
		}
		if (!bad && ref != nw)
			bad++;
		for (i = 0; i < nw && !bad; i++)
			for (k = 0; k < i; k++)
				if ((w[i].len == w[k].len && !memcmp(t.data + w[i].off, t.data + w[k].off, w[i].len)) !=
				    (w[i].hash == w[k].hash))
					bad++;
		if (bad) {
			printf("# words random %d: '%s'\n", r, t.data);
			break;
		}
	}
	is_int(bad, 0, "words: random ASCII texts against a byte-at-a-time reference, hashes equal iff words are");
	qn_buf_release(&t);
}

static void norm(struct qn_cleaner *c, const char *in, int nfkc, const char *want, unsigned want_what,
		 const char *what)
{
	struct qn_buf b = QN_BUF_INIT;
	unsigned got;

	qn_buf_puts(&b, in);
	got = qn_clean_normalize(c, &b, nfkc);
	is_str(qn_buf_str(&b), want, "normalize: %s", what);
	is_int(got, want_what, "normalize: %s: what changed", what);
	qn_buf_release(&b);
}

/*
 * Normalization looks at 16 bytes at a time (8 without SSE2): each kind
 * of byte it must stop at, at every offset of two 16-byte blocks, between plain letters
 * (and a letter with an accent, which must pass untouched).
 */
static void test_normalize_offsets(struct qn_cleaner *c)
{
	static const struct { const char *in, *out; unsigned what; } k[] = {
		{ "\x01", "", NORM_CONTROL }, { "\x1f", "", NORM_CONTROL },
		{ "\x7f", "", NORM_CONTROL }, { "\xc2\x80", "", NORM_CONTROL },
		{ "\xc2\x9f", "", NORM_CONTROL }, { "\r", "\n", NORM_LINE_ENDS },
		{ "\xc2\x85", "\n", NORM_LINE_ENDS }, { "\xe2\x80\xa9", "\n", NORM_LINE_ENDS },
		{ "\n", "\n", 0 }, { "\t", "\t", 0 }, { "\xc2\xa0", "\xc2\xa0", 0 },
		{ "\xe2\x80\x94", "\xe2\x80\x94", 0 }, { "\xc3\xa9", "\xc3\xa9", 0 },
		{ " ", " ", 0 }, { "~", "~", 0 },
	};
	struct qn_buf b = QN_BUF_INIT;
	char in[96], want[96];
	size_t i, off;
	int bad = 0;

	for (i = 0; i < sizeof k / sizeof k[0]; i++)
		for (off = 1; off < 34; off++) {
			unsigned got;

			snprintf(in, sizeof in, "%.*s%s%.*s", (int)off, "abcdefghijklmnopqrstuvwxyz0123456789", k[i].in,
				 (int)(34 - off), "ABCDEFGHIJKLMNOPQRSTUVWXYZ!$%&()*+");
			snprintf(want, sizeof want, "%.*s%s%.*s", (int)off, "abcdefghijklmnopqrstuvwxyz0123456789", k[i].out,
				 (int)(34 - off), "ABCDEFGHIJKLMNOPQRSTUVWXYZ!$%&()*+");
			qn_buf_reset(&b);
			qn_buf_puts(&b, in);
			got = qn_clean_normalize(c, &b, 0);
			if ((strcmp(qn_buf_str(&b), want) || got != k[i].what) && bad++ < 5)
				printf("# normalize case %zu at %zu: got '%s' (%u)\n", i, off, qn_buf_str(&b), got);
		}
	is_int(bad, 0, "normalize: controls and line ends at every offset of two 16-byte blocks");
	qn_buf_release(&b);
}

/* The line-end and control pass of normalization, a byte at a time. */
static void ref_newline(struct qn_buf *o, unsigned *what)
{
	while (o->len && (o->data[o->len - 1] == ' ' || o->data[o->len - 1] == '\t')) {
		o->len--;
		*what |= NORM_TRAILING_SPACE;
	}
	if (o->len == 0 || (o->len >= 2 && o->data[o->len - 1] == '\n' && o->data[o->len - 2] == '\n'))
		*what |= NORM_BLANK_LINES;
	else
		o->data[o->len++] = '\n';
}

static unsigned ref_normalize(const char *in, size_t n, struct qn_buf *o)
{
	const unsigned char *p = (const unsigned char *)in;
	unsigned what = 0;
	size_t i;

	qn_buf_reset(o);
	qn_buf_grow(o, n + 1);
	for (i = 0; i < n; i++) {
		if (p[i] == '\n') {
			ref_newline(o, &what);
		} else if (p[i] == '\r') {
			i += i + 1 < n && p[i + 1] == '\n';
			what |= NORM_LINE_ENDS;
			ref_newline(o, &what);
		} else if (p[i] == 0xC2 && i + 1 < n && p[i + 1] >= 0x80 && p[i + 1] <= 0x9F) {
			if (p[++i] == 0x85) {
				what |= NORM_LINE_ENDS;
				ref_newline(o, &what);
			} else {
				what |= NORM_CONTROL;
			}
		} else if (p[i] == 0xE2 && i + 2 < n && p[i + 1] == 0x80 && (p[i + 2] == 0xA8 || p[i + 2] == 0xA9)) {
			i += 2;
			what |= NORM_LINE_ENDS;
			ref_newline(o, &what);
		} else if ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7F) {
			what |= NORM_CONTROL;
		} else {
			o->data[o->len++] = (char)p[i];
		}
	}
	while (o->len && (o->data[o->len - 1] == ' ' || o->data[o->len - 1] == '\t')) {
		o->len--;
		what |= NORM_TRAILING_SPACE;
	}
	while (o->len >= 2 && o->data[o->len - 1] == '\n' && o->data[o->len - 2] == '\n') {
		o->len--;
		what |= NORM_BLANK_LINES;
	}
	o->data[o->len] = '\0';
	return what;
}

/* Random texts of plain runs, blanks, line ends and controls against it. */
static void test_normalize_random(struct qn_cleaner *c)
{
	static const char *const piece[] = {
		"a", "word", "plain text of some length, ", "\xc3\xa9", "\xe2\x80\x94", "\xc2\xa0",
		" ", "  ", "\t", "\n", "\n\n\n", "\r", "\r\n", "\xc2\x85", "\xc2\x80",
		"\xe2\x80\xa8", "\xe2\x80\xa9", "\x01", "\x1f", "\x7f", "\xc2", "\xe2\x80",
	};
	struct qn_buf in = QN_BUF_INIT, got = QN_BUF_INIT, want = QN_BUF_INIT;
	int t, bad = 0;

	for (t = 0; t < 3000; t++) {
		size_t k, np = (size_t)(tap_rand() % 40);
		unsigned gw, ww;

		qn_buf_reset(&in);
		for (k = 0; k < np; k++)
			qn_buf_puts(&in, piece[tap_rand() % (sizeof piece / sizeof piece[0])]);
		/* "\xc2" and "\xe2\x80" alone are cut characters: end them */
		qn_buf_puts(&in, "z");
		ww = ref_normalize(in.data, in.len, &want);
		qn_buf_set(&got, in.data, in.len);
		gw = qn_clean_normalize(c, &got, 0) & ~(unsigned)NORM_NFC;
		if ((got.len != want.len || memcmp(got.data, want.data, got.len) || gw != ww) && bad++ < 3)
			printf("# normalize random %d: got %zu bytes (%u), want %zu (%u)\n", t, got.len, gw, want.len, ww);
	}
	is_int(bad, 0, "normalize: random texts against a byte-at-a-time reference");
	qn_buf_release(&in);
	qn_buf_release(&got);
	qn_buf_release(&want);
}

static void test_normalize(struct qn_cleaner *c)
{
	norm(c, "plain text\n", 0, "plain text\n", 0, "plain text is left alone");
	norm(c, "Cafe\xcc\x81\n", 0, "Caf\xc3\xa9\n", NORM_NFC, "NFD to NFC");
	norm(c, "d\xc3\xa9j\xc3\xa0 vu, caf\xc3\xa9" "e\xcc\x81\n", 0, "d\xc3\xa9j\xc3\xa0 vu, caf\xc3\xa9\xc3\xa9\n", NORM_NFC,
	     "NFD after NFC text: the letter before the first mark composes");
	norm(c, "x\xcc\x81\xcc\xa3\n", 0, "x\xcc\xa3\xcc\x81\n", NORM_NFC, "marks reordered at the start");
	norm(c, "\xef\xac\x81le\n", 0, "\xef\xac\x81le\n", 0, "NFC keeps the fi ligature");
	norm(c, "\xef\xac\x81le\n", 1, "file\n", NORM_NFC, "NFKC does not");
	norm(c, "a\r\nb\rc\xc2\x85" "d\xe2\x80\xa8" "e", 0, "a\nb\nc\nd\ne", NORM_LINE_ENDS, "line ends");
	norm(c, "a\x01\x7f\xc2\x80z\tx", 0, "az\tx", NORM_CONTROL, "controls out, tab stays");
	norm(c, "a  \t\nb \n", 0, "a\nb\n", NORM_TRAILING_SPACE, "trailing blanks");
	norm(c, "\n\n\na\n\n\n\nb\n\n\n", 0, "a\n\nb\n", NORM_BLANK_LINES, "blank lines");
	norm(c, "a\n \n\t\n \nb", 0, "a\n\nb", NORM_TRAILING_SPACE | NORM_BLANK_LINES,
	     "lines of blanks are blank lines");
	norm(c, "", 0, "", 0, "nothing");
	test_normalize_offsets(c);
	test_normalize_random(c);
}

static void test_luhn(void)
{
	ok(qn_luhn_ok("4111 1111 1111 1111", 19), "Luhn: Visa test number");
	ok(!qn_luhn_ok("4111 1111 1111 1112", 19), "Luhn: off by one");
	ok(qn_luhn_ok("79927398713", 11), "Luhn: the textbook example");
	ok(!qn_luhn_ok("79927398710", 11), "Luhn: and its wrong check digit");
}

static void test_params(void)
{
	struct qn_clean_config c;
	struct qn_err err;
	int i;

	qn_clean_config_init(&c);
	for (i = 0; i < QN_NPARAMS; i++)
		ok(qn_param_defs[i].name != NULL && qn_param_defs[i].help != NULL, "parameter %d has a name", i);
	is_int(qn_clean_config_set(&c, "gopher_quality.min_words", "40", &err), 0, "set a threshold");
	ok(c.p[P_GQ_MIN_WORDS] == 40, "to 40");
	qn_clean_config_set(&c, "gopher_quality.min_words", "off", &err);
	ok(isnan(c.p[P_GQ_MIN_WORDS]), "a threshold off is NaN");
	qn_clean_config_set(&c, "c4", "off", &err);
	ok(c.p[P_C4] == 0, "a step off is 0");
	qn_clean_config_set(&c, "c4.javascript", "off", &err);
	ok(c.p[P_C4_JAVASCRIPT] == 0, "a switch off is 0");
	is_int(qn_clean_config_set(&c, "nope", "1", &err), QN_EUSAGE, "unknown names are usage errors");
	is_int(qn_clean_config_set(&c, "fineweb.max_char_dup", "-1", &err), QN_EUSAGE, "negative values too");
	is_int(qn_clean_config_set(&c, "fineweb.max_char_dup", "1x", &err), QN_EUSAGE, "and junk");
	qn_clean_config_set(&c, "lang", " en, de ,,fr ", &err);
	is_int(c.nlangs, 3, "a language list");
	is_str(c.langs[1], "de", "trimmed");
	qn_clean_config_release(&c);

	is_int(qn_hist_bin(H_FRAC, 0), 0, "fraction 0: bin 0");
	is_int(qn_hist_bin(H_FRAC, 0.05), 1, "fraction 0.05: bin 1");
	is_int(qn_hist_bin(H_FRAC, 0.3), 6, "fraction 0.3: bin 6");
	is_int(qn_hist_bin(H_FRAC, 7), 20, "fractions of 1 and more: the last bin");
	is_int(qn_hist_bin(H_COUNT, 0), 0, "count 0");
	is_int(qn_hist_bin(H_COUNT, 1), 1, "count 1");
	is_int(qn_hist_bin(H_COUNT, 3), 2, "count 3 in 2-3");
	is_int(qn_hist_bin(H_COUNT, 4), 3, "count 4 in 4-7");
	is_int(qn_hist_bin(H_MEAN, 3.5), 7, "mean 3.5");
	is_int(qn_hist_bin(H_MEAN, NAN), 0, "NaN in the first bin");
}

static void rules_err(const char *text, const char *want, const char *what)
{
	struct qn_err err;
	struct qn_rules *r = qn_rules_parse(text, strlen(text), "R", &err);

	ok(r == NULL, "rules: %s is an error", what);
	if (!ok(strstr(err.msg, want) != NULL, "rules: %s: message", what))
		printf("#   got '%s'\n", err.msg);
	qn_rules_free(r);
}

static void test_rules(void)
{
	struct qn_err err;
	const char *good = "# comment\n\n  drop a /x/i\ndrop-line b |^y|\nreplace c #a\\#b#c#\nreplace d /\\/(\\d+)/n$1/msxu\n";
	struct qn_rules *r = qn_rules_parse(good, strlen(good), "R", &err);

	ok(r != NULL, "rules: a good file parses");
	is_int(qn_rules_count(r), 4, "rules: four rules");
	qn_rules_free(r);
	rules_err("drop a /x/\nfoo b /x/\n", "R:2: unknown action 'foo'", "unknown action");
	rules_err("drop /x/\n", "R:1: expected a rule name", "no name");
	rules_err("drop a\n", "R:1: expected a pattern", "no pattern");
	rules_err("drop a /x\n", "R:1: unterminated pattern", "unterminated");
	rules_err("replace a /x/y\n", "R:1: unterminated replacement", "no replacement end");
	rules_err("drop a axa\n", "R:1: invalid delimiter 'a'", "letter delimiter");
	rules_err("drop a /x/z\n", "R:1: unknown flag 'z'", "unknown flag");
	rules_err("drop a /x/ junk\n", "R:1: unexpected text", "junk");
	rules_err("drop a /(/\n", "R:1: pattern error at offset 1", "bad pattern");
	rules_err("drop a /\xff/\n", "invalid UTF-8", "bad UTF-8");
}

/* ---- Gopher repetition against a quadratic reference ---- */

struct tok {
	const char *s;
	size_t n;
};

static int gram_eq(const struct tok *t, size_t i, size_t j, int n)
{
	int k;

	for (k = 0; k < n; k++)
		if (t[i + k].n != t[j + k].n || memcmp(t[i + k].s, t[j + k].s, t[i + k].n))
			return 0;
	return 1;
}

static size_t gram_len(const struct tok *t, size_t i, int n)
{
	size_t k, s = 0;

	for (k = 0; k < (size_t)n; k++)
		s += t[i + k].n;
	return s;
}

static void test_repetition(struct qn_cleaner *c)
{
	static const char *const vocab[] = { "a", "bb", "the", "cat", ",", ".", "sat" };
	struct qn_clean_result res;
	struct qn_buf text = QN_BUF_INIT;
	struct tok t[400];
	int iter, bad = 0;

	for (iter = 0; iter < 300; iter++) {
		size_t nw = 1 + tap_rand() % 300, i, j, total;
		int g, v = 2 + (int)(tap_rand() % 5);

		qn_buf_reset(&text);
		for (i = 0; i < nw; i++) {
			const char *w = vocab[tap_rand() % (size_t)v];

			if (i)
				qn_buf_putc(&text, (tap_rand() % 10) ? ' ' : '\n');
			t[i].n = strlen(w);
			t[i].s = w;
			qn_buf_puts(&text, w);
		}
		total = text.len;	/* ASCII: bytes are characters */
		qn_cleaner_run(c, &text, 1, &res);
		for (g = 2; g <= 4; g++) {
			size_t best = 0, bestcount = 0;
			double want;

			for (i = 0; i + g <= nw; i++) {
				size_t k = 0;

				for (j = 0; j + g <= nw; j++)
					k += gram_eq(t, i, j, g);
				if (k > bestcount) {	/* strictly: the first among equals wins */
					bestcount = k;
					best = i;
				}
			}
			want = bestcount < 2 ? 0 : (double)((gram_len(t, best, g) + g - 1) * bestcount) / total;
			if (fabs(want - res.m[M_GR_TOP_2 + g - 2]) > 1e-12) {
				if (bad++ < 5)
					printf("# top_%d: got %g want %g (iter %d)\n", g, res.m[M_GR_TOP_2 + g - 2], want, iter);
			}
		}
		for (g = 5; g <= 10; g++) {
			size_t idx, rep;
			double want;

			/* datatrove's walk, with the set as the positions visited and added */
			{
				static unsigned char visited[400];

				memset(visited, 0, sizeof visited);
				idx = 0;
				rep = 0;
				while (idx + g <= nw) {
					int found = 0;

					for (j = 0; j < idx && !found; j++)
						found = visited[j] && gram_eq(t, idx, j, g);
					if (found) {
						rep += gram_len(t, idx, g);
						idx += (size_t)g;
					} else {
						visited[idx] = 1;
						idx++;
					}
				}
			}
			want = (double)rep / total;
			if (fabs(want - res.m[M_GR_DUP_5 + g - 5]) > 1e-12) {
				if (bad++ < 5)
					printf("# dup_%d: got %g want %g (iter %d)\n", g, res.m[M_GR_DUP_5 + g - 5], want, iter);
			}
		}
	}
	is_int(bad, 0, "Gopher n-gram measures equal the quadratic reference on 300 random texts");
	qn_buf_release(&text);
}

/*
 * Large texts, where the tables are sized from a sample of the keys and
 * grow, and the n-grams of many distinct ones are counted in parts of
 * the hash space: each word a number below a vocabulary size, checked
 * against a plain map of the n-grams by their first position (equal
 * when their numbers are): counts for the top n-grams, datatrove's
 * greedy walk over a set for the duplicated ones.
 */
struct big_map {
	uint32_t *pos;	/* first position + 1, 0 when empty */
	uint32_t *cnt;
	size_t cap;
};

static size_t big_find(const struct big_map *m, const uint32_t *id, size_t i, int g, int *found)
{
	uint64_t h = 0;
	size_t s;
	int k;

	for (k = 0; k < g; k++)
		h = (h + id[i + (size_t)k] + 1) * 0x9E3779B97F4A7C15ULL;
	for (s = (size_t)(h >> 40) & (m->cap - 1); m->pos[s]; s = (s + 1) & (m->cap - 1))
		if (!memcmp(id + m->pos[s] - 1, id + i, (size_t)g * sizeof *id)) {
			*found = 1;
			return s;
		}
	*found = 0;
	return s;
}

static void big_check(struct qn_cleaner *c, const uint32_t *id, size_t nw, struct big_map *m,
		      int *bad, const char *what)
{
	struct qn_clean_result res;
	struct qn_buf text = QN_BUF_INIT;
	size_t i, total;
	int g;

	for (i = 0; i < nw; i++) {
		char w[16];

		snprintf(w, sizeof w, "%sq%04u", i ? ((tap_rand() % 10) ? " " : "\n") : "",
			 (unsigned)id[i]);
		qn_buf_puts(&text, w);
	}
	total = text.len;	/* ASCII: bytes are characters; every word is 5 */
	qn_cleaner_run(c, &text, 1, &res);
	for (g = 2; g <= 10; g++) {
		size_t idx, best = 0, rep = 0, s;
		double want, got;
		int found;

		memset(m->pos, 0, m->cap * sizeof *m->pos);
		if (g <= 4) {
			for (i = 0; i + g <= nw; i++) {
				s = big_find(m, id, i, g, &found);
				if (!found) {
					m->pos[s] = (uint32_t)i + 1;
					m->cnt[s] = 0;
				}
				/* the first among equals wins: a later one needs more */
				if (++m->cnt[s] > best)
					best = m->cnt[s];
			}
			want = best < 2 ? 0 : (double)((5 * (size_t)g + (size_t)g - 1) * best) / (double)total;
			got = res.m[M_GR_TOP_2 + g - 2];
		} else {
			for (idx = 0; idx + g <= nw;) {
				s = big_find(m, id, idx, g, &found);
				if (found) {
					rep += 5 * (size_t)g;
					idx += (size_t)g;
				} else {
					m->pos[s] = (uint32_t)idx + 1;
					idx++;
				}
			}
			want = (double)rep / (double)total;
			got = res.m[M_GR_DUP_5 + g - 5];
		}
		if (fabs(want - got) > 1e-12 && (*bad)++ < 5)
			printf("# %s: %d-grams: got %g want %g\n", what, g, got, want);
	}
	qn_buf_release(&text);
}

static void test_repetition_large(struct qn_cleaner *c)
{
	/* words, vocabulary: few and many distinct n-grams of each size */
	/*
	 * words, vocabulary, and 1 where passages of 5 to 44 words are
	 * copied from earlier (many distinct n-grams, and duplicated ones
	 * in every part of the hash space)
	 */
	static const size_t kind[][3] = {
		{ 40000, 40, 0 }, { 40000, 22, 0 }, { 40000, 32, 0 }, { 300000, 2000, 0 },
		{ 300000, 2000, 1 }, { 200000, 12, 0 }, { 200000, 5, 0 }, { 150000, 150, 1 }
	};
	struct big_map m;
	uint32_t *id = malloc(300000 * sizeof *id);
	size_t t, i;
	int bad = 0;

	m.cap = 1 << 20;
	m.pos = malloc(m.cap * sizeof *m.pos);
	m.cnt = malloc(m.cap * sizeof *m.cnt);
	for (t = 0; t < sizeof kind / sizeof kind[0]; t++) {
		char what[40];

		for (i = 0; i < kind[t][0]; i++) {
			if (kind[t][2] && i > 100 && tap_rand() % 40 == 0) {
				size_t from = tap_rand() % (i - 50), len = 5 + tap_rand() % 40;

				for (; len-- > 0 && i < kind[t][0]; i++)
					id[i] = id[from++];
				i--;
				continue;
			}
			id[i] = (uint32_t)(tap_rand() % kind[t][1]);
		}
		snprintf(what, sizeof what, "%zu words of %zu%s", kind[t][0], kind[t][1],
			 kind[t][2] ? ", copied passages" : "");
		big_check(c, id, kind[t][0], &m, &bad, what);
	}
	is_int(bad, 0, "Gopher n-gram measures of texts of 40000 to 300000 words equal a plain map");
	free(id);
	free(m.pos);
	free(m.cnt);
}

/*
 * The hash table started small and grown, against one large enough
 * never to grow: every key with the same count and first index.
 */
static void test_htab_grow(void)
{
	struct htab small = { 0 }, big = { 0 };
	int t, bad = 0;

	for (t = 0; t < 20; t++) {
		size_t n = 1 + tap_rand() % 50000, distinct = 1 + tap_rand() % n, i, grew = 0;

		htab_reset(&small, tap_rand() % 8);
		htab_reset(&big, n);
		for (i = 0; i < n; i++) {
			uint64_t key = (tap_rand() % distinct) * 0x100000001B3ULL;
			size_t mask = small.mask, a = htab_add_grow(&small, key, (uint32_t)i);
			size_t b = htab_add(&big, key, (uint32_t)i);

			grew += small.mask != mask;
			if (small.s[a].count != big.s[b].count || small.s[a].first != big.s[b].first)
				bad++;
		}
		if (small.used != big.used || (distinct > 100 && !grew))
			bad++;
	}
	is_int(bad, 0, "a growing hash table counts as a large one on 20 random key streams");
	htab_release(&small);
	htab_release(&big);
}

/* The word-at-a-time counters against byte loops, at every length and offset. */
static void test_counters(void)
{
	static const unsigned char alphabet[] = { 'a', '\n', ' ', 0x00, 0x0a ^ 0x80, 0x7f, 0x80,
						  0xbf, 0xc3, 0xe2, 0xff, 0x8a };
	char s[80];
	int t, bad_chars = 0, bad_nl = 0;

	for (t = 0; t < 2000; t++) {
		size_t n = (size_t)(tap_rand() % 70), off = (size_t)(tap_rand() % 8), i, chars = 0, nl = 0;

		for (i = 0; i < n; i++) {
			s[off + i] = (char)alphabet[tap_rand() % sizeof alphabet];
			chars += ((unsigned char)s[off + i] & 0xC0) != 0x80;
			nl += s[off + i] == '\n';
		}
		bad_chars += qn_nchars(s + off, n) != chars;
		bad_nl += qn_count_byte(s + off, n, '\n') != nl;
	}
	is_int(bad_chars, 0, "qn_nchars equals a byte loop on 2000 random strings");
	is_int(bad_nl, 0, "qn_count_byte equals a byte loop on 2000 random strings");
}

int main(void)
{
	struct qn_cleaner *c;
	int i;

	qn_clean_config_init(&cfg);
	c = qn_cleaner_new(&cfg);
	test_words(c);
	test_words_random(c);
	test_normalize(c);
	test_luhn();
	test_params();
	test_rules();
	test_counters();
	test_htab_grow();
	qn_cleaner_free(c);
	/* Only the repetition step, so every text reaches it. */
	for (i = 0; i < P_NFKC; i++)
		cfg.p[i] = 0;
	cfg.p[P_GOPHER_REP] = 1;
	c = qn_cleaner_new(&cfg);
	test_repetition(c);
	test_repetition_large(c);
	qn_cleaner_free(c);
	qn_clean_config_release(&cfg);
	return done_testing();
}
