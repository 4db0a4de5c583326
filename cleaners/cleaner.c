/*
 * cleaner.c: one document through every enabled step of quern-clean, in
 * order, and the decision.
 *
 * Steps measure; the rule table (config.c) decides.  After each step the
 * rules of that step are checked in table order and the first that holds
 * drops the document, with an event that names the rule and shows the
 * value against the threshold ("1.8 < 3").  With dry_run the document
 * goes on, so every later step still measures it.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

void qn_result_event(struct qn_clean_result *res, const char *kind,
		     const char *rule, const char *fmt, ...)
{
	struct qn_clean_event *e;
	va_list ap;

	if (res->nevents >= QN_CLEAN_MAX_EVENTS)
		return;
	e = &res->events[res->nevents++];
	snprintf(e->kind, sizeof e->kind, "%s", kind);
	snprintf(e->rule, sizeof e->rule, "%s", rule);
	va_start(ap, fmt);
	vsnprintf(e->value, sizeof e->value, fmt, ap);
	va_end(ap);
}

struct qn_cleaner *qn_cleaner_new(const struct qn_clean_config *cfg)
{
	struct qn_cleaner *c = qn_xcalloc(1, sizeof *c);
	UErrorCode e = U_ZERO_ERROR;

	c->cfg = cfg;
	c->brk = ubrk_open(UBRK_WORD, "", NULL, 0, &e);
	if (U_FAILURE(e))
		c->brk = NULL;
	c->pii = pii_new();
	if (cfg->rules)
		c->rs = rules_scratch_new(cfg->rules);
	return c;
}

void qn_cleaner_free(struct qn_cleaner *c)
{
	if (!c)
		return;
	free(c->w);
	qn_buf_release(&c->tmp);
	qn_buf_release(&c->tmp2);
	free(c->u16a);
	if (c->brk)
		ubrk_close(c->brk);
	htab_release(&c->ht);
	free(c->rep);
	free(c->gk);
	free(c->gk2);
	free(c->gh);
	pii_free(c->pii);
	rules_scratch_free(c->rs);
	free(c);
}

void qn_cleaner_timing(struct qn_cleaner *c, int on)
{
	c->timing = on;
}

static double now(const struct qn_cleaner *c)
{
	struct timespec ts;

	if (!c->timing)
		return 0;
	/* the thread's CPU time: a shared machine's other work is not counted */
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int holds(enum qn_cmp cmp, double v, double thr)
{
	if (isnan(thr))
		return 0;
	switch (cmp) {
	case DROP_LT: return v < thr;
	case DROP_GT: return v > thr;
	case DROP_LE: return v <= thr;
	case DROP_GE: return v >= thr;
	default: return thr != 0 && v != 0;
	}
}

static const char *const cmp_sym[] = { "<", ">", "<=", ">=", "" };

/* Records a drop for rule; returns 1 if processing should stop. */
static int drop(struct qn_clean_result *res, const char *rule, int dry_run,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int drop(struct qn_clean_result *res, const char *rule, int dry_run,
		const char *fmt, ...)
{
	char v[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v, sizeof v, fmt, ap);
	va_end(ap);
	if (res->verdict == QN_KEEP) {
		res->verdict = QN_DROP;
		snprintf(res->drop_name, sizeof res->drop_name, "%s", rule);
		qn_result_event(res, "drop", rule, "%s%s", v, dry_run ? " (dry run)" : "");
	}
	return !dry_run;
}

/* Checks the rules of step; returns 1 if the document is dropped and we stop. */
static int decide(const struct qn_cleaner *c, enum qn_step step, int dry_run,
		  struct qn_clean_result *res)
{
	const double *p = c->cfg->p;
	int i;

	if (res->verdict != QN_KEEP)
		return 0;
	for (i = 0; i < qn_nrule_defs; i++) {
		const struct qn_rule_def *r = &qn_rule_defs[i];
		const struct qn_measure_def *m = &qn_measure_defs[r->m];
		double v = res->m[r->m];
		char rule[80];

		if (!res->measured[r->m] || strcmp(m->step, qn_step_names[step]))
			continue;
		if (!holds(r->cmp, v, p[r->thr]))
			continue;
		if (r->thr == P_FW_MIN_LINE_PUNCT && v == 0 && p[P_FW_PUNCT_EXCLUDE_ZERO] != 0)
			continue;
		snprintf(rule, sizeof rule, "%s:%s", m->step, r->name);
		res->drop_rule = i;
		if (r->cmp == DROP_TRUE)
			return drop(res, rule, dry_run, "found");
		return drop(res, rule, dry_run, "%.4g %s %.4g", v, cmp_sym[r->cmp], p[r->thr]);
	}
	return 0;
}

/*
 * The length of text's first max bytes (0 or NAN: all of it), shortened
 * to the start of a character.
 */
static size_t utf8_prefix(const struct qn_buf *text, double max)
{
	size_t n = text->len;

	if (isnan(max) || max < 1 || (double)n <= max)
		return n;
	n = (size_t)max;
	while (n > 0 && ((unsigned char)text->data[n] & 0xC0) == 0x80)
		n--;
	return n;
}

static int lang_listed(const struct qn_clean_config *cfg, const char *lang)
{
	int i;

	for (i = 0; i < cfg->nlangs; i++)
		if (!strcmp(cfg->langs[i], lang))
			return 1;
	return 0;
}

void qn_cleaner_run(struct qn_cleaner *c, struct qn_buf *text, int dry_run,
		    struct qn_clean_result *res)
{
	const struct qn_clean_config *cfg = c->cfg;
	const double *p = cfg->p;
	int english = 1;
	double t0, t1;
	char note[200];

	memset(res, 0, sizeof *res);
	res->drop_rule = -1;
	c->wvalid = 0;
	if (!text->data)
		qn_buf_puts(text, "");
	t0 = now(c);
	if (p[P_NORMALIZE] != 0) {
		unsigned what = qn_clean_normalize(c, text, p[P_NFKC] != 0);

		if (what) {
			static const char *const names[] = {
				"nfc", "control", "line_ends", "trailing_space", "blank_lines"
			};
			size_t l = 0;
			int k;

			note[0] = '\0';
			for (k = 0; k < 5; k++)
				if (what & (1u << k))
					l += (size_t)snprintf(note + l, sizeof note - l, "%s%s",
							      l ? ", " : "", k == 0 && p[P_NFKC] != 0 ? "nfkc" : names[k]);
			qn_result_event(res, "modify", "normalize", "%s", note);
			res->changed = 1;
		}
	}
	t1 = now(c);
	res->step_seconds[S_NORMALIZE] = t1 - t0;
	if (text->len == 0 && drop(res, "clean:empty", dry_run, "0 bytes"))
		return;

	if (p[P_LANGID] != 0) {
		size_t n = utf8_prefix(text, p[P_LANG_MAX_BYTES]);
		size_t n1 = utf8_prefix(text, p[P_LANG_FIRST_BYTES]), letters;
		double need = p[P_LANG_FIRST_MIN_SCORE];
		int reliable, first = 0;

		/*
		 * Two samples: the short first one stands when CLD2 calls its
		 * answer reliable, the score is at least first_min_score (and
		 * min_score), and at least half of it was letters; otherwise
		 * the long one decides.  See langid in quern-clean(1).
		 */
		if (n1 < n && !isnan(need)) {
			res->lang_score = qn_langid_sample(text->data, n1, res->lang, &reliable, &letters);
			first = reliable && res->lang_score >= need && 2 * letters >= n1 &&
				!(res->lang_score < p[P_LANG_MIN_SCORE]);
		}
		if (!first)
			res->lang_score = qn_langid_sample(text->data, n, res->lang, &reliable, &letters);
		res->m[M_LANG_SCORE] = res->lang_score;
		res->measured[M_LANG_SCORE] = 1;
		english = !strcmp(res->lang, "en");
		t0 = now(c);
		res->step_seconds[S_LANGID] = t0 - t1;
		t1 = t0;
		if (cfg->nlangs && !lang_listed(cfg, res->lang)) {
			struct qn_buf l = QN_BUF_INIT;
			int i;

			for (i = 0; i < cfg->nlangs; i++) {
				qn_buf_puts(&l, i ? "," : "");
				qn_buf_puts(&l, cfg->langs[i]);
			}
			i = drop(res, "langid:lang", dry_run, "%s not in %.100s", res->lang, qn_buf_str(&l));
			qn_buf_release(&l);
			if (i)
				return;
		}
		if (decide(c, S_LANGID, dry_run, res))
			return;
	}
	if (p[P_GOPHER_REP] != 0) {
		qn_step_gopher_rep(c, text->data, text->len, !dry_run, res);
		t0 = now(c);
		res->step_seconds[S_GOPHER_REP] = t0 - t1;
		t1 = t0;
		if (decide(c, S_GOPHER_REP, dry_run, res))
			return;
	}
	if (p[P_GOPHER_QUALITY] != 0) {
		qn_step_gopher_quality(c, text->data, text->len, english, res);
		t0 = now(c);
		res->step_seconds[S_GOPHER_QUALITY] = t0 - t1;
		t1 = t0;
		if (decide(c, S_GOPHER_QUALITY, dry_run, res))
			return;
	}
	if (p[P_C4] != 0) {
		int changed = qn_step_c4(c, text, res, note, sizeof note);

		c->wvalid = 0;	/* the text may have moved even when unchanged */
		if (changed) {
			qn_result_event(res, "modify", "c4:lines", "%s", note);
			res->changed = 1;
		}
		t0 = now(c);
		res->step_seconds[S_C4] = t0 - t1;
		t1 = t0;
		if (decide(c, S_C4, dry_run, res))
			return;
	}
	if (p[P_FINEWEB] != 0) {
		qn_step_fineweb(c, text->data, text->len, res);
		t0 = now(c);
		res->step_seconds[S_FINEWEB] = t0 - t1;
		t1 = t0;
		if (decide(c, S_FINEWEB, dry_run, res))
			return;
	}
	if (p[P_PII] != 0) {
		static const char *const kinds[4] = { "pii:email", "pii:ip", "pii:phone", "pii:card" };

		if (pii_mask(c->pii, p, text, &c->tmp, res->pii)) {
			int k;

			for (k = 0; k < 4; k++)
				if (res->pii[k])
					qn_result_event(res, "modify", kinds[k], "x%llu",
							(unsigned long long)res->pii[k]);
			res->changed = 1;
		}
		t0 = now(c);
		res->step_seconds[S_PII] = t0 - t1;
		t1 = t0;
	}
	if (p[P_RULES] != 0 && cfg->rules && c->rs) {
		enum qn_verdict v = rules_apply(cfg->rules, c->rs, p, text, &c->tmp, res);

		if (v != QN_KEEP) {
			/* rules_apply's last event is the drop or the reject. */
			struct qn_clean_event *e = &res->events[res->nevents - 1];

			if (res->verdict == QN_KEEP || v == QN_ERROR) {
				snprintf(res->drop_name, sizeof res->drop_name, "%s", e->rule);
				res->drop_rule = -1;
				res->verdict = v;
				if (dry_run && v == QN_DROP) {
					size_t l = strlen(e->value);

					snprintf(e->value + l, sizeof e->value - l, " (dry run)");
				}
			} else {
				res->nevents--;	/* dropped before: the first reason stands */
			}
		}
		t0 = now(c);
		res->step_seconds[S_RULES] = t0 - t1;
	}
}
