/*
 * config.c: quern-clean's parameters, measured values and rules, as
 * tables.
 *
 * Every step switch and threshold is one named number in
 * qn_param_defs, so flags (--set NAME=VALUE), the config file and the
 * manifest's record of the effective configuration all use one list,
 * and the man page's table is checked against --list-params by a test.
 * A rule is a measured value, a threshold parameter and a comparison;
 * the first rule that holds, in table order, is the reason a document
 * is dropped.  The table order is datatrove's order of checks.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clean.h"

#define OFF NAN

const struct qn_param_def qn_param_defs[QN_NPARAMS] = {
	[P_NORMALIZE] = { "normalize", 1, "step: Unicode NFC, controls, line ends, spaces, blank lines" },
	[P_LANGID] = { "langid", 1, "step: language identification with CLD2" },
	[P_GOPHER_REP] = { "gopher_repetition", 1, "step: Gopher repetition filter" },
	[P_GOPHER_QUALITY] = { "gopher_quality", 1, "step: Gopher quality filter" },
	[P_C4] = { "c4", 1, "step: C4 line and document filter" },
	[P_FINEWEB] = { "fineweb", 1, "step: FineWeb quality filter" },
	[P_PII] = { "pii", 1, "step: mask e-mail, IP, phone and card numbers" },
	[P_RULES] = { "rules", 1, "step: the rules file (when one is given)" },
	[P_NFKC] = { "normalize.nfkc", 0, "NFKC instead of NFC" },
	[P_LANG_MIN_SCORE] = { "langid.min_score", 0.65, "drop below this language score" },
	[P_LANG_MAX_BYTES] = { "langid.max_bytes", 16384, "identify on the first N bytes only (0: all)" },
	[P_LANG_FIRST_BYTES] = { "langid.first_bytes", 4096, "try the first N bytes before max_bytes (0: one sample)" },
	[P_LANG_FIRST_MIN_SCORE] = { "langid.first_min_score", 0.99, "the score that lets the first sample stand" },
	[P_GR_DUP_PARA_FRAC] = { "gopher_repetition.dup_para_frac", 0.30, "max duplicate paragraph fraction" },
	[P_GR_DUP_PARA_CHAR_FRAC] = { "gopher_repetition.dup_para_char_frac", 0.20, "max duplicate paragraph character fraction" },
	[P_GR_DUP_LINE_FRAC] = { "gopher_repetition.dup_line_frac", 0.30, "max duplicate line fraction" },
	[P_GR_DUP_LINE_CHAR_FRAC] = { "gopher_repetition.dup_line_char_frac", 0.20, "max duplicate line character fraction" },
	[P_GR_TOP_2] = { "gopher_repetition.top_2_gram", 0.20, "max top 2-gram character fraction" },
	[P_GR_TOP_3] = { "gopher_repetition.top_3_gram", 0.18, "max top 3-gram character fraction" },
	[P_GR_TOP_4] = { "gopher_repetition.top_4_gram", 0.16, "max top 4-gram character fraction" },
	[P_GR_DUP_5] = { "gopher_repetition.dup_5_gram", 0.15, "max duplicated 5-gram character fraction" },
	[P_GR_DUP_6] = { "gopher_repetition.dup_6_gram", 0.14, "max duplicated 6-gram character fraction" },
	[P_GR_DUP_7] = { "gopher_repetition.dup_7_gram", 0.13, "max duplicated 7-gram character fraction" },
	[P_GR_DUP_8] = { "gopher_repetition.dup_8_gram", 0.12, "max duplicated 8-gram character fraction" },
	[P_GR_DUP_9] = { "gopher_repetition.dup_9_gram", 0.11, "max duplicated 9-gram character fraction" },
	[P_GR_DUP_10] = { "gopher_repetition.dup_10_gram", 0.10, "max duplicated 10-gram character fraction" },
	[P_GQ_MIN_WORDS] = { "gopher_quality.min_words", 50, "min words (not counting symbols)" },
	[P_GQ_MAX_WORDS] = { "gopher_quality.max_words", 100000, "max words (not counting symbols)" },
	[P_GQ_MIN_MEAN] = { "gopher_quality.min_mean_word_length", 3, "min mean word length" },
	[P_GQ_MAX_MEAN] = { "gopher_quality.max_mean_word_length", 10, "max mean word length" },
	[P_GQ_MAX_HASH] = { "gopher_quality.max_hash_ratio", 0.1, "max '#' per word" },
	[P_GQ_MAX_ELLIPSIS] = { "gopher_quality.max_ellipsis_ratio", 0.1, "max ellipses per word" },
	[P_GQ_MAX_BULLET_LINES] = { "gopher_quality.max_bullet_lines", 0.9, "max fraction of lines starting with a bullet" },
	[P_GQ_MAX_ELLIPSIS_LINES] = { "gopher_quality.max_ellipsis_lines", 0.3, "max fraction of lines ending with an ellipsis" },
	[P_GQ_MIN_ALPHA_WORDS] = { "gopher_quality.min_alpha_words", 0.8, "min fraction of words with a letter" },
	[P_GQ_MIN_STOP_WORDS] = { "gopher_quality.min_stop_words", 2, "min English stop words (English only)" },
	[P_C4_TERMINAL_PUNCT] = { "c4.terminal_punct", 0, "drop lines without terminal punctuation" },
	[P_C4_MIN_WORDS_PER_LINE] = { "c4.min_words_per_line", 3, "drop lines with fewer words" },
	[P_C4_MAX_WORD_LENGTH] = { "c4.max_word_length", 1000, "drop lines with a longer word" },
	[P_C4_MIN_SENTENCES] = { "c4.min_sentences", 5, "drop documents with fewer sentences" },
	[P_C4_LOREM] = { "c4.lorem_ipsum", 1, "drop documents with \"lorem ipsum\"" },
	[P_C4_JAVASCRIPT] = { "c4.javascript", 1, "drop lines with \"javascript\"" },
	[P_C4_CURLY] = { "c4.curly_bracket", 1, "drop documents with '{'" },
	[P_C4_POLICY] = { "c4.policy", 1, "drop cookie and policy lines" },
	[P_C4_CITATIONS] = { "c4.remove_citations", 1, "remove [1], [edit], [citation needed]" },
	[P_FW_MIN_LINE_PUNCT] = { "fineweb.min_line_punct", 0.12, "drop at or below this fraction of lines ending in punctuation" },
	[P_FW_PUNCT_EXCLUDE_ZERO] = { "fineweb.line_punct_exclude_zero", 0, "keep documents with no such line at all" },
	[P_FW_MAX_SHORT_LINES] = { "fineweb.max_short_lines", 0.67, "drop at or above this fraction of short lines" },
	[P_FW_SHORT_LINE_LENGTH] = { "fineweb.short_line_length", 30, "a short line has at most this many characters" },
	[P_FW_MAX_CHAR_DUP] = { "fineweb.max_char_dup", 0.01, "drop at or above this duplicated-line character fraction" },
	[P_FW_MAX_NEWLINE_RATIO] = { "fineweb.max_newline_ratio", 0.3, "max newlines per word" },
	[P_PII_EMAIL] = { "pii.email", 1, "mask e-mail addresses" },
	[P_PII_IP] = { "pii.ip", 1, "mask IPv4 and IPv6 addresses" },
	[P_PII_PHONE] = { "pii.phone", 1, "mask phone numbers" },
	[P_PII_CARD] = { "pii.card", 1, "mask payment card numbers (Luhn-checked)" },
	[P_RULES_MATCH_LIMIT] = { "rules.match_limit", 1000000, "PCRE2 match limit per search" },
	[P_RULES_DEPTH_LIMIT] = { "rules.depth_limit", 10000, "PCRE2 depth limit per search" },
};

const struct qn_measure_def qn_measure_defs[QN_NMEASURES] = {
	[M_LANG_SCORE] = { "langid", "score", H_FRAC },
	[M_GR_DUP_PARA_FRAC] = { "gopher_repetition", "dup_para_frac", H_FRAC },
	[M_GR_DUP_PARA_CHAR_FRAC] = { "gopher_repetition", "dup_para_char_frac", H_FRAC },
	[M_GR_DUP_LINE_FRAC] = { "gopher_repetition", "dup_line_frac", H_FRAC },
	[M_GR_DUP_LINE_CHAR_FRAC] = { "gopher_repetition", "dup_line_char_frac", H_FRAC },
	[M_GR_TOP_2] = { "gopher_repetition", "top_2_gram", H_FRAC },
	[M_GR_TOP_3] = { "gopher_repetition", "top_3_gram", H_FRAC },
	[M_GR_TOP_4] = { "gopher_repetition", "top_4_gram", H_FRAC },
	[M_GR_DUP_5] = { "gopher_repetition", "dup_5_gram", H_FRAC },
	[M_GR_DUP_6] = { "gopher_repetition", "dup_6_gram", H_FRAC },
	[M_GR_DUP_7] = { "gopher_repetition", "dup_7_gram", H_FRAC },
	[M_GR_DUP_8] = { "gopher_repetition", "dup_8_gram", H_FRAC },
	[M_GR_DUP_9] = { "gopher_repetition", "dup_9_gram", H_FRAC },
	[M_GR_DUP_10] = { "gopher_repetition", "dup_10_gram", H_FRAC },
	[M_GQ_WORDS] = { "gopher_quality", "words", H_COUNT },
	[M_GQ_MEAN_WORD_LENGTH] = { "gopher_quality", "mean_word_length", H_MEAN },
	[M_GQ_HASH_RATIO] = { "gopher_quality", "hash_ratio", H_FRAC },
	[M_GQ_ELLIPSIS_RATIO] = { "gopher_quality", "ellipsis_ratio", H_FRAC },
	[M_GQ_BULLET_LINES] = { "gopher_quality", "bullet_lines", H_FRAC },
	[M_GQ_ELLIPSIS_LINES] = { "gopher_quality", "ellipsis_lines", H_FRAC },
	[M_GQ_ALPHA_WORDS] = { "gopher_quality", "alpha_words", H_FRAC },
	[M_GQ_STOP_WORDS] = { "gopher_quality", "stop_words", H_COUNT },
	[M_C4_LOREM] = { "c4", "lorem_ipsum", H_BOOL },
	[M_C4_CURLY] = { "c4", "curly_bracket", H_BOOL },
	[M_C4_SENTENCES] = { "c4", "sentences", H_COUNT },
	[M_C4_LINES_REMOVED] = { "c4", "lines_removed", H_FRAC },
	[M_FW_LINE_PUNCT] = { "fineweb", "line_punct_ratio", H_FRAC },
	[M_FW_SHORT_LINES] = { "fineweb", "short_line_ratio", H_FRAC },
	[M_FW_CHAR_DUP] = { "fineweb", "char_dup_ratio", H_FRAC },
	[M_FW_NEWLINE_RATIO] = { "fineweb", "newline_ratio", H_FRAC },
};

const struct qn_rule_def qn_rule_defs[] = {
	{ M_LANG_SCORE, P_LANG_MIN_SCORE, DROP_LT, "score" },
	{ M_GR_DUP_PARA_FRAC, P_GR_DUP_PARA_FRAC, DROP_GT, "dup_para_frac" },
	{ M_GR_DUP_PARA_CHAR_FRAC, P_GR_DUP_PARA_CHAR_FRAC, DROP_GT, "dup_para_char_frac" },
	{ M_GR_DUP_LINE_FRAC, P_GR_DUP_LINE_FRAC, DROP_GT, "dup_line_frac" },
	{ M_GR_DUP_LINE_CHAR_FRAC, P_GR_DUP_LINE_CHAR_FRAC, DROP_GT, "dup_line_char_frac" },
	{ M_GR_TOP_2, P_GR_TOP_2, DROP_GT, "top_2_gram" },
	{ M_GR_TOP_3, P_GR_TOP_3, DROP_GT, "top_3_gram" },
	{ M_GR_TOP_4, P_GR_TOP_4, DROP_GT, "top_4_gram" },
	{ M_GR_DUP_5, P_GR_DUP_5, DROP_GT, "dup_5_gram" },
	{ M_GR_DUP_6, P_GR_DUP_6, DROP_GT, "dup_6_gram" },
	{ M_GR_DUP_7, P_GR_DUP_7, DROP_GT, "dup_7_gram" },
	{ M_GR_DUP_8, P_GR_DUP_8, DROP_GT, "dup_8_gram" },
	{ M_GR_DUP_9, P_GR_DUP_9, DROP_GT, "dup_9_gram" },
	{ M_GR_DUP_10, P_GR_DUP_10, DROP_GT, "dup_10_gram" },
	{ M_GQ_WORDS, P_GQ_MIN_WORDS, DROP_LT, "words" },
	{ M_GQ_WORDS, P_GQ_MAX_WORDS, DROP_GT, "words" },
	{ M_GQ_MEAN_WORD_LENGTH, P_GQ_MIN_MEAN, DROP_LT, "mean_word_length" },
	{ M_GQ_MEAN_WORD_LENGTH, P_GQ_MAX_MEAN, DROP_GT, "mean_word_length" },
	{ M_GQ_HASH_RATIO, P_GQ_MAX_HASH, DROP_GT, "hash_ratio" },
	{ M_GQ_ELLIPSIS_RATIO, P_GQ_MAX_ELLIPSIS, DROP_GT, "ellipsis_ratio" },
	{ M_GQ_BULLET_LINES, P_GQ_MAX_BULLET_LINES, DROP_GT, "bullet_lines" },
	{ M_GQ_ELLIPSIS_LINES, P_GQ_MAX_ELLIPSIS_LINES, DROP_GT, "ellipsis_lines" },
	{ M_GQ_ALPHA_WORDS, P_GQ_MIN_ALPHA_WORDS, DROP_LT, "alpha_words" },
	{ M_GQ_STOP_WORDS, P_GQ_MIN_STOP_WORDS, DROP_LT, "stop_words" },
	{ M_C4_LOREM, P_C4_LOREM, DROP_TRUE, "lorem_ipsum" },
	{ M_C4_CURLY, P_C4_CURLY, DROP_TRUE, "curly_bracket" },
	{ M_C4_SENTENCES, P_C4_MIN_SENTENCES, DROP_LT, "sentences" },
	{ M_FW_LINE_PUNCT, P_FW_MIN_LINE_PUNCT, DROP_LE, "line_punct_ratio" },
	{ M_FW_SHORT_LINES, P_FW_MAX_SHORT_LINES, DROP_GE, "short_line_ratio" },
	{ M_FW_CHAR_DUP, P_FW_MAX_CHAR_DUP, DROP_GE, "char_dup_ratio" },
	{ M_FW_NEWLINE_RATIO, P_FW_MAX_NEWLINE_RATIO, DROP_GT, "newline_ratio" },
};
const int qn_nrule_defs = (int)(sizeof qn_rule_defs / sizeof qn_rule_defs[0]);

const char *const qn_step_names[QN_NSTEPS] = {
	"normalize", "langid", "gopher_repetition", "gopher_quality", "c4",
	"fineweb", "pii", "rules"
};

/*
 * Histograms: fractions in 20 bins of 0.05 and one for 1 and above;
 * counts in powers of two (0, 1, 2-3, 4-7, ...); means in bins of 0.5
 * up to 20; booleans 0 and 1.  A bin is named by its lower edge.
 */
int qn_hist_bins(enum qn_hist h)
{
	switch (h) {
	case H_FRAC: return 21;
	case H_COUNT: return 34;
	case H_MEAN: return 41;
	default: return 2;
	}
}

int qn_hist_bin(enum qn_hist h, double v)
{
	int b;

	if (!(v >= 0))		/* negative or NaN */
		return 0;
	switch (h) {
	case H_FRAC:
		b = (int)floor(v * 20 + 1e-9);
		return b > 20 ? 20 : b;
	case H_COUNT:
		if (v < 1)
			return 0;
		b = 1 + (int)floor(log2(v) + 1e-12);
		return b > 33 ? 33 : b;
	case H_MEAN:
		b = (int)floor(v * 2);
		return b > 40 ? 40 : b;
	default:
		return v != 0;
	}
}

void qn_hist_label(enum qn_hist h, int bin, char *out, size_t n)
{
	switch (h) {
	case H_FRAC: snprintf(out, n, "%.2f", bin * 0.05); break;
	case H_COUNT: snprintf(out, n, "%llu", bin ? 1ULL << (bin - 1) : 0ULL); break;
	case H_MEAN: snprintf(out, n, "%.1f", bin * 0.5); break;
	default: snprintf(out, n, "%d", bin); break;
	}
}

void qn_clean_config_init(struct qn_clean_config *c)
{
	int i;

	memset(c, 0, sizeof *c);
	for (i = 0; i < QN_NPARAMS; i++)
		c->p[i] = qn_param_defs[i].def;
}

void qn_clean_config_release(struct qn_clean_config *c)
{
	int i;

	for (i = 0; i < c->nlangs; i++)
		free(c->langs[i]);
	free(c->langs);
	qn_rules_free(c->rules);
	c->langs = NULL;
	c->nlangs = 0;
	c->rules = NULL;
}

void qn_clean_config_langs(struct qn_clean_config *c, const char *list)
{
	const char *p = list, *e;
	int i;

	for (i = 0; i < c->nlangs; i++)
		free(c->langs[i]);
	free(c->langs);
	c->langs = NULL;
	c->nlangs = 0;
	while (*p) {
		e = strchr(p, ',');
		if (!e)
			e = p + strlen(p);
		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		if (e > p) {
			const char *q = e;

			while (q > p && (q[-1] == ' ' || q[-1] == '\t'))
				q--;
			c->langs = qn_xrealloc(c->langs, (size_t)(c->nlangs + 1) * sizeof *c->langs);
			c->langs[c->nlangs++] = qn_xstrndup(p, (size_t)(q - p));
		}
		p = *e ? e + 1 : e;
	}
}

/* Whether parameter i is an on/off switch rather than a threshold. */
static int is_switch(int i)
{
	switch (i) {
	case P_NFKC: case P_C4_TERMINAL_PUNCT: case P_C4_LOREM: case P_C4_JAVASCRIPT:
	case P_C4_CURLY: case P_C4_POLICY: case P_C4_CITATIONS:
	case P_FW_PUNCT_EXCLUDE_ZERO: case P_PII_EMAIL: case P_PII_IP:
	case P_PII_PHONE: case P_PII_CARD:
		return 1;
	default:
		return i < P_NFKC;
	}
}

int qn_clean_config_set(struct qn_clean_config *c, const char *name,
			const char *value, struct qn_err *err)
{
	char *end;
	double v;
	int i;

	if (!strcmp(name, "lang")) {
		qn_clean_config_langs(c, value);
		return 0;
	}
	for (i = 0; i < QN_NPARAMS; i++)
		if (!strcmp(qn_param_defs[i].name, name))
			break;
	if (i == QN_NPARAMS)
		return qn_err_set(err, QN_EUSAGE, "unknown parameter '%s' (see --list-params)", name);
	if (!strcmp(value, "off") || !strcmp(value, "false") || !strcmp(value, "no")) {
		/* A switch off is 0; a threshold off is NaN (its rule is not applied). */
		v = is_switch(i) ? 0 : OFF;
	} else if (!strcmp(value, "on") || !strcmp(value, "true") || !strcmp(value, "yes")) {
		v = 1;
	} else {
		errno = 0;
		v = strtod(value, &end);
		if (errno || end == value || *end || !isfinite(v) || v < 0)
			return qn_err_set(err, QN_EUSAGE, "invalid value '%s' for %s", value, name);
	}
	c->p[i] = v;
	return 0;
}

int qn_clean_config_file(struct qn_clean_config *c, const char *path,
			 struct qn_err *err)
{
	FILE *f = fopen(path, "r");
	char line[4096];
	long lineno = 0;

	if (!f)
		return qn_err_set(err, QN_EIO, "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof line, f)) {
		char *p = line, *eq, *k, *v, *e;

		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			fclose(f);
			return qn_err_set(err, QN_EUSAGE, "%s:%ld: line too long", path, lineno);
		}
		if ((e = strchr(p, '#')))
			*e = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		e = p + strlen(p);
		while (e > p && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		if (!*p)
			continue;
		if (!(eq = strchr(p, '='))) {
			fclose(f);
			return qn_err_set(err, QN_EUSAGE, "%s:%ld: expected 'name = value'", path, lineno);
		}
		k = p;
		v = eq + 1;
		e = eq;
		while (e > k && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		*e = '\0';
		while (*v == ' ' || *v == '\t')
			v++;
		if (qn_clean_config_set(c, k, v, err) < 0) {
			char msg[QN_ERR_MSG];

			snprintf(msg, sizeof msg, "%s", err->msg);
			fclose(f);
			return qn_err_set(err, QN_EUSAGE, "%s:%ld: %s", path, lineno, msg);
		}
	}
	if (ferror(f)) {
		fclose(f);
		return qn_err_set(err, QN_EIO, "%s: read error", path);
	}
	fclose(f);
	return 0;
}
