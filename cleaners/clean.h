/*
 * clean.h: the document cleaner behind quern-clean.
 *
 * A cleaner runs the steps of quern-clean(1) on one document's text, in
 * this order: normalize, langid, gopher_repetition, gopher_quality, c4,
 * fineweb, pii, rules.  Each step may change the text (normalize, c4,
 * pii, rules), measure it (every filter), and decide to drop it.  What
 * was measured, what changed and why a document goes are handed back in
 * a struct qn_clean_result, for the program to write as manifest events
 * and histogram counters.
 *
 * Configuration is one table of named numeric parameters (every step's
 * switch and every threshold), set from flags or a config file with
 * qn_clean_config_set(), plus the language list and the rules file.  The
 * quern-clean(1) page defines every measured value and rule exactly.
 *
 * A struct qn_cleaner holds one thread's scratch space (word arrays, hash
 * tables, ICU and PCRE2 state); the configuration it was made from is
 * shared read-only by all of them.  Results depend only on the text and
 * the configuration, never on the thread.
 */
#ifndef QN_CLEAN_H
#define QN_CLEAN_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define QN_LANG_CODE 16

/* langid.cc: CLD2's language and score for UTF-8 text. */
double qn_langid(const char *text, size_t n, char code[QN_LANG_CODE]);
/* The same, with CLD2's reliability and the bytes of letters it scored. */
double qn_langid_sample(const char *text, size_t n, char code[QN_LANG_CODE],
			int *reliable, size_t *letters);

/* ---- parameters ---- */

enum qn_param {
	/* step switches */
	P_NORMALIZE, P_LANGID, P_GOPHER_REP, P_GOPHER_QUALITY, P_C4, P_FINEWEB,
	P_PII, P_RULES,
	/* normalize */
	P_NFKC,
	/* langid */
	P_LANG_MIN_SCORE, P_LANG_MAX_BYTES, P_LANG_FIRST_BYTES, P_LANG_FIRST_MIN_SCORE,
	/* gopher_repetition */
	P_GR_DUP_PARA_FRAC, P_GR_DUP_PARA_CHAR_FRAC, P_GR_DUP_LINE_FRAC,
	P_GR_DUP_LINE_CHAR_FRAC, P_GR_TOP_2, P_GR_TOP_3, P_GR_TOP_4,
	P_GR_DUP_5, P_GR_DUP_6, P_GR_DUP_7, P_GR_DUP_8, P_GR_DUP_9, P_GR_DUP_10,
	/* gopher_quality */
	P_GQ_MIN_WORDS, P_GQ_MAX_WORDS, P_GQ_MIN_MEAN, P_GQ_MAX_MEAN,
	P_GQ_MAX_HASH, P_GQ_MAX_ELLIPSIS, P_GQ_MAX_BULLET_LINES,
	P_GQ_MAX_ELLIPSIS_LINES, P_GQ_MIN_ALPHA_WORDS, P_GQ_MIN_STOP_WORDS,
	/* c4 */
	P_C4_TERMINAL_PUNCT, P_C4_MIN_WORDS_PER_LINE, P_C4_MAX_WORD_LENGTH,
	P_C4_MIN_SENTENCES, P_C4_LOREM, P_C4_JAVASCRIPT, P_C4_CURLY, P_C4_POLICY,
	P_C4_CITATIONS,
	/* fineweb */
	P_FW_MIN_LINE_PUNCT, P_FW_PUNCT_EXCLUDE_ZERO, P_FW_MAX_SHORT_LINES,
	P_FW_SHORT_LINE_LENGTH, P_FW_MAX_CHAR_DUP, P_FW_MAX_NEWLINE_RATIO,
	/* pii */
	P_PII_EMAIL, P_PII_IP, P_PII_PHONE, P_PII_CARD,
	/* rules */
	P_RULES_MATCH_LIMIT, P_RULES_DEPTH_LIMIT,
	QN_NPARAMS
};

struct qn_param_def {
	const char *name;	/* "gopher_quality.min_words" */
	double def;		/* default; NAN: off */
	const char *help;
};
extern const struct qn_param_def qn_param_defs[QN_NPARAMS];

/* ---- measured values and rules ---- */

enum qn_measure {
	M_LANG_SCORE,
	M_GR_DUP_PARA_FRAC, M_GR_DUP_PARA_CHAR_FRAC, M_GR_DUP_LINE_FRAC,
	M_GR_DUP_LINE_CHAR_FRAC, M_GR_TOP_2, M_GR_TOP_3, M_GR_TOP_4,
	M_GR_DUP_5, M_GR_DUP_6, M_GR_DUP_7, M_GR_DUP_8, M_GR_DUP_9, M_GR_DUP_10,
	M_GQ_WORDS, M_GQ_MEAN_WORD_LENGTH, M_GQ_HASH_RATIO, M_GQ_ELLIPSIS_RATIO,
	M_GQ_BULLET_LINES, M_GQ_ELLIPSIS_LINES, M_GQ_ALPHA_WORDS, M_GQ_STOP_WORDS,
	M_C4_LOREM, M_C4_CURLY, M_C4_SENTENCES, M_C4_LINES_REMOVED,
	M_FW_LINE_PUNCT, M_FW_SHORT_LINES, M_FW_CHAR_DUP, M_FW_NEWLINE_RATIO,
	QN_NMEASURES
};

enum qn_hist { H_FRAC, H_COUNT, H_MEAN, H_BOOL };

struct qn_measure_def {
	const char *step, *name;	/* "gopher_quality", "mean_word_length" */
	enum qn_hist hist;
};
extern const struct qn_measure_def qn_measure_defs[QN_NMEASURES];

/* How many histogram bins a kind has, and bin i's name (its lower edge). */
int qn_hist_bins(enum qn_hist h);
int qn_hist_bin(enum qn_hist h, double v);
void qn_hist_label(enum qn_hist h, int bin, char *out, size_t n);

/* ---- configuration ---- */

struct qn_rules;

struct qn_clean_config {
	double p[QN_NPARAMS];
	char **langs;		/* keep only these languages; NULL: any */
	int nlangs;
	struct qn_rules *rules;	/* NULL: none */
};

/* Every parameter at its default, no language list, no rules. */
void qn_clean_config_init(struct qn_clean_config *c);
void qn_clean_config_release(struct qn_clean_config *c);
/*
 * Sets parameter name to value: a number, "on"/"off" (1, and off: the
 * rule is not applied), "true"/"false".  The names "lang" (a comma list)
 * is accepted too.  QN_EUSAGE with a message for an unknown name or a
 * bad value.
 */
int qn_clean_config_set(struct qn_clean_config *c, const char *name,
			const char *value, struct qn_err *err);
/*
 * Reads a config file: "name = value" lines, '#' comments, blank lines.
 * Messages are "FILE:LINE: what".
 */
int qn_clean_config_file(struct qn_clean_config *c, const char *path,
			 struct qn_err *err);
/* Sets the language list from "en,de" (empty: any). */
void qn_clean_config_langs(struct qn_clean_config *c, const char *list);

/* ---- user rules (rules.c) ---- */

/*
 * Parses a rules file's text (see quern-clean(1), RULES FILE) and compiles
 * its patterns with PCRE2 (JIT where available).  name is used in
 * messages ("NAME:LINE: what").  NULL with err set on any error.
 */
struct qn_rules *qn_rules_parse(const char *text, size_t n, const char *name,
				struct qn_err *err);
struct qn_rules *qn_rules_load(const char *path, struct qn_err *err);
int qn_rules_count(const struct qn_rules *r);
void qn_rules_free(struct qn_rules *r);

/* ---- cleaning one document ---- */

enum qn_verdict { QN_KEEP, QN_DROP, QN_ERROR };
enum qn_step {
	S_NORMALIZE, S_LANGID, S_GOPHER_REP, S_GOPHER_QUALITY, S_C4, S_FINEWEB,
	S_PII, S_RULES, QN_NSTEPS
};
extern const char *const qn_step_names[QN_NSTEPS];

#define QN_CLEAN_MAX_EVENTS 24

struct qn_clean_event {
	char kind[8];		/* "drop", "modify", "reject" */
	char rule[80];		/* "gopher_quality:mean_word_length" */
	char value[200];	/* "1.8 < 3" */
};

struct qn_clean_result {
	enum qn_verdict verdict;
	int drop_rule;		/* index into qn_rule_defs when dropped by one; else -1 */
	char drop_name[80];	/* the rule that dropped it, any kind */
	int nevents;
	struct qn_clean_event events[QN_CLEAN_MAX_EVENTS];
	double m[QN_NMEASURES];
	unsigned char measured[QN_NMEASURES];
	char lang[QN_LANG_CODE];	/* "" when langid did not run */
	double lang_score;
	uint64_t pii[4];	/* email, ip, phone, card replacements */
	uint64_t rules_hits;	/* user-rule replacements and line drops */
	unsigned changed : 1;	/* the text differs from the input */
	double step_seconds[QN_NSTEPS];	/* when timing is on */
};

/* The rules that drop a document on a measured value. */
enum qn_cmp { DROP_LT, DROP_GT, DROP_LE, DROP_GE, DROP_TRUE };
struct qn_rule_def {
	enum qn_measure m;
	enum qn_param thr;	/* the threshold (or the switch for DROP_TRUE) */
	enum qn_cmp cmp;
	const char *name;	/* the rule's name, usually the measure's */
};
extern const struct qn_rule_def qn_rule_defs[];
extern const int qn_nrule_defs;

struct qn_cleaner;

struct qn_cleaner *qn_cleaner_new(const struct qn_clean_config *cfg);
void qn_cleaner_free(struct qn_cleaner *c);
/* Measures each step's CPU time (the calling thread's) into result.step_seconds when on. */
void qn_cleaner_timing(struct qn_cleaner *c, int on);
/*
 * Runs every enabled step on text, changing it in place.  With dry_run,
 * a document that a rule would drop goes on through the later steps (so
 * every value is measured) and is reported as dropped all the same.
 */
void qn_cleaner_run(struct qn_cleaner *c, struct qn_buf *text, int dry_run,
		    struct qn_clean_result *res);

/* ---- the pieces, for tests ---- */

struct qn_word {
	uint32_t off, len;	/* bytes in the text */
	uint32_t nchars;	/* code points */
	uint32_t flags;
	uint64_t hash;
};
enum { W_ALPHA = 1, W_SYMBOL = 2, W_STOP = 4 };

/* Splits text into words (see WORDS in quern-clean(1)); returns the count. */
size_t qn_clean_words(struct qn_cleaner *c, const char *text, size_t n,
		      const struct qn_word **words);
/* Normalizes text in place; returns a bit set of what changed (NORM_*). */
enum {
	NORM_NFC = 1, NORM_CONTROL = 2, NORM_LINE_ENDS = 4,
	NORM_TRAILING_SPACE = 8, NORM_BLANK_LINES = 16
};
unsigned qn_clean_normalize(struct qn_cleaner *c, struct qn_buf *text, int nfkc);
/* The Luhn check of the digits in s[0..n) (other characters ignored). */
int qn_luhn_ok(const char *s, size_t n);

#ifdef __cplusplus
}
#endif

#endif
