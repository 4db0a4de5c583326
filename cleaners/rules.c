/*
 * rules.c: the user's own rules, a file of PCRE2 patterns that drop
 * documents, drop lines, or replace text.
 *
 *	# comment
 *	drop       NAME  /PATTERN/FLAGS
 *	drop-line  NAME  /PATTERN/FLAGS
 *	replace    NAME  /PATTERN/REPLACEMENT/FLAGS
 *
 * The delimiter is the first character after NAME: any character but a
 * letter, digit, blank or backslash; a backslash before it makes it
 * literal.  FLAGS are i (caseless), m (multiline), s (dotall), x
 * (extended) and u (Unicode properties for \w, \d, \b).  REPLACEMENT
 * uses pcre2_substitute's syntax ($1, ${name}, $$).
 *
 * A pattern can be pathological ((a+)+$ on a long run of a's): every
 * search runs under the match limit and the depth limit (parameters
 * rules.match_limit and rules.depth_limit), and a search that hits one
 * is an error for that document, which is then left out and reported,
 * never a stall of the run.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "utf8.h"

enum action { A_DROP, A_DROP_LINE, A_REPLACE };

struct rule {
	enum action action;
	char name[64];
	char *pattern, *replacement;
	pcre2_code *code;
};

struct qn_rules {
	struct rule *r;
	int n;
};

struct rules_scratch {
	pcre2_match_data *md;
	pcre2_match_context *mc;
	double limit, depth;
};

int qn_rules_count(const struct qn_rules *r)
{
	return r ? r->n : 0;
}

void qn_rules_free(struct qn_rules *r)
{
	int i;

	if (!r)
		return;
	for (i = 0; i < r->n; i++) {
		free(r->r[i].pattern);
		free(r->r[i].replacement);
		pcre2_code_free(r->r[i].code);
	}
	free(r->r);
	free(r);
}

/*
 * Reads a delimited field at *pp up to delim; backslash-delim becomes
 * delim, other backslashes stay.  Returns the field or NULL if unclosed.
 */
static char *field(const char **pp, const char *end, char delim)
{
	const char *p = *pp;
	struct qn_buf b = QN_BUF_INIT;

	qn_buf_puts(&b, "");
	while (p < end && *p != delim) {
		if (*p == '\\' && p + 1 < end && p[1] == delim) {
			qn_buf_putc(&b, delim);
			p += 2;
			continue;
		}
		if (*p == '\\' && p + 1 < end) {
			qn_buf_append(&b, p, 2);
			p += 2;
			continue;
		}
		qn_buf_putc(&b, *p++);
	}
	if (p >= end) {
		qn_buf_release(&b);
		return NULL;
	}
	*pp = p + 1;
	return b.data;
}

static int parse_line(struct qn_rules *rs, const char *p, const char *end,
		      const char *name, long lineno, struct qn_err *err)
{
	struct rule r;
	const char *w;
	uint32_t opts = PCRE2_UTF;
	int e;
	PCRE2_SIZE eoff;
	char delim;

	memset(&r, 0, sizeof r);
	w = p;
	while (p < end && *p != ' ' && *p != '\t')
		p++;
	if ((size_t)(p - w) == 4 && !memcmp(w, "drop", 4))
		r.action = A_DROP;
	else if ((size_t)(p - w) == 9 && !memcmp(w, "drop-line", 9))
		r.action = A_DROP_LINE;
	else if ((size_t)(p - w) == 7 && !memcmp(w, "replace", 7))
		r.action = A_REPLACE;
	else
		return qn_err_set(err, QN_EUSAGE, "%s:%ld: unknown action '%.*s' (drop, drop-line, replace)",
				  name, lineno, (int)(p - w), w);
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	w = p;
	while (p < end && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			   (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.'))
		p++;
	if (p == w || p - w >= (long)sizeof r.name || (p < end && *p != ' ' && *p != '\t'))
		return qn_err_set(err, QN_EUSAGE, "%s:%ld: expected a rule name ([A-Za-z0-9_.-], at most 63)",
				  name, lineno);
	memcpy(r.name, w, (size_t)(p - w));
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p >= end)
		return qn_err_set(err, QN_EUSAGE, "%s:%ld: expected a pattern", name, lineno);
	delim = *p++;
	if ((delim >= 'a' && delim <= 'z') || (delim >= 'A' && delim <= 'Z') ||
	    (delim >= '0' && delim <= '9') || delim == '\\' || (unsigned char)delim >= 0x80)
		return qn_err_set(err, QN_EUSAGE, "%s:%ld: invalid delimiter '%c'", name, lineno, delim);
	if (!(r.pattern = field(&p, end, delim)))
		return qn_err_set(err, QN_EUSAGE, "%s:%ld: unterminated pattern", name, lineno);
	if (r.action == A_REPLACE && !(r.replacement = field(&p, end, delim))) {
		free(r.pattern);
		return qn_err_set(err, QN_EUSAGE, "%s:%ld: unterminated replacement", name, lineno);
	}
	for (; p < end && *p != ' ' && *p != '\t'; p++) {
		switch (*p) {
		case 'i': opts |= PCRE2_CASELESS; break;
		case 'm': opts |= PCRE2_MULTILINE; break;
		case 's': opts |= PCRE2_DOTALL; break;
		case 'x': opts |= PCRE2_EXTENDED; break;
		case 'u': opts |= PCRE2_UCP; break;
		default:
			free(r.pattern);
			free(r.replacement);
			return qn_err_set(err, QN_EUSAGE, "%s:%ld: unknown flag '%c' (i, m, s, x, u)",
					  name, lineno, *p);
		}
	}
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p < end) {
		free(r.pattern);
		free(r.replacement);
		return qn_err_set(err, QN_EUSAGE, "%s:%ld: unexpected text after the flags", name, lineno);
	}
	r.code = pcre2_compile((PCRE2_SPTR)r.pattern, PCRE2_ZERO_TERMINATED, opts, &e, &eoff, NULL);
	if (!r.code) {
		PCRE2_UCHAR msg[256];

		pcre2_get_error_message(e, msg, sizeof msg);
		free(r.pattern);
		free(r.replacement);
		return qn_err_set(err, QN_EUSAGE, "%s:%ld: pattern error at offset %zu: %s",
				  name, lineno, (size_t)eoff, (const char *)msg);
	}
	pcre2_jit_compile(r.code, PCRE2_JIT_COMPLETE);
	rs->r = qn_xrealloc(rs->r, (size_t)(rs->n + 1) * sizeof *rs->r);
	rs->r[rs->n++] = r;
	return 0;
}

struct qn_rules *qn_rules_parse(const char *text, size_t n, const char *name,
				struct qn_err *err)
{
	struct qn_rules *rs;
	const char *p = text, *end = text + n;
	long lineno = 0;
	size_t bad = qn_utf8_check(text, n);

	if (bad != n) {
		qn_err_set(err, QN_EUSAGE, "%s: invalid UTF-8 at byte %zu", name, bad);
		return NULL;
	}
	rs = qn_xcalloc(1, sizeof *rs);

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end, *a = p, *b = le;

		lineno++;
		p = nl ? nl + 1 : end;
		while (a < b && (*a == ' ' || *a == '\t'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\r'))
			b--;
		if (a == b || *a == '#')
			continue;
		if (memchr(a, '\0', (size_t)(b - a))) {
			qn_err_set(err, QN_EUSAGE, "%s:%ld: NUL byte", name, lineno);
			qn_rules_free(rs);
			return NULL;
		}
		if (parse_line(rs, a, b, name, lineno, err) < 0) {
			qn_rules_free(rs);
			return NULL;
		}
	}
	return rs;
}

struct qn_rules *qn_rules_load(const char *path, struct qn_err *err)
{
	FILE *f = fopen(path, "rb");
	struct qn_buf b = QN_BUF_INIT;
	struct qn_rules *r;
	char chunk[8192];
	size_t k;

	if (!f) {
		qn_err_set(err, QN_EIO, "%s: %s", path, strerror(errno));
		return NULL;
	}
	while ((k = fread(chunk, 1, sizeof chunk, f)) > 0)
		qn_buf_append(&b, chunk, k);
	if (ferror(f)) {
		fclose(f);
		qn_buf_release(&b);
		qn_err_set(err, QN_EIO, "%s: read error", path);
		return NULL;
	}
	fclose(f);
	r = qn_rules_parse(qn_buf_str(&b), b.len, path, err);
	qn_buf_release(&b);
	return r;
}

struct rules_scratch *rules_scratch_new(const struct qn_rules *r)
{
	struct rules_scratch *s = qn_xcalloc(1, sizeof *s);

	(void)r;
	s->md = pcre2_match_data_create(32, NULL);
	s->mc = pcre2_match_context_create(NULL);
	s->limit = s->depth = -1;
	return s;
}

void rules_scratch_free(struct rules_scratch *s)
{
	if (!s)
		return;
	pcre2_match_data_free(s->md);
	pcre2_match_context_free(s->mc);
	free(s);
}

static int limit_error(int rc)
{
	return rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
	       rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT ||
	       rc == PCRE2_ERROR_NOMEMORY;
}

static enum qn_verdict limit_hit(const struct rule *r, int rc, struct qn_clean_result *res)
{
	PCRE2_UCHAR msg[128];
	char rule[80];

	pcre2_get_error_message(rc, msg, sizeof msg);
	snprintf(rule, sizeof rule, "rules:%s", r->name);
	qn_result_event(res, "reject", rule, "%s", (const char *)msg);
	return QN_ERROR;
}

/* The first up to 40 bytes of s[0..n), cut at a character boundary. */
static int clip(const char *s, size_t n)
{
	size_t k = n > 40 ? 40 : n;

	while (k < n && k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
		k--;
	return (int)k;
}

enum qn_verdict rules_apply(const struct qn_rules *rs, struct rules_scratch *sc,
			    const double *params, struct qn_buf *text,
			    struct qn_buf *tmp, struct qn_clean_result *res)
{
	int i, rc;

	if (sc->limit != params[P_RULES_MATCH_LIMIT] || sc->depth != params[P_RULES_DEPTH_LIMIT]) {
		sc->limit = params[P_RULES_MATCH_LIMIT];
		sc->depth = params[P_RULES_DEPTH_LIMIT];
		pcre2_set_match_limit(sc->mc, sc->limit >= 1 && sc->limit < 4e9 ? (uint32_t)sc->limit : 1000000);
		pcre2_set_depth_limit(sc->mc, sc->depth >= 1 && sc->depth < 4e9 ? (uint32_t)sc->depth : 10000);
	}
	for (i = 0; i < rs->n; i++) {
		const struct rule *r = &rs->r[i];
		const char *s = qn_buf_str(text);
		size_t n = text->len;
		char rule[80];

		snprintf(rule, sizeof rule, "rules:%s", r->name);
		if (r->action == A_DROP) {
			rc = pcre2_match(r->code, (PCRE2_SPTR)s, n, 0, PCRE2_NO_UTF_CHECK, sc->md, sc->mc);
			if (rc >= 0) {
				PCRE2_SIZE *ov = pcre2_get_ovector_pointer(sc->md);
				size_t len = ov[1] > ov[0] ? ov[1] - ov[0] : 0;

				qn_result_event(res, "drop", rule, "matched '%.*s' at byte %zu",
						clip(s + ov[0], len), s + ov[0], (size_t)ov[0]);
				return QN_DROP;
			}
			if (limit_error(rc))
				return limit_hit(r, rc, res);
		} else if (r->action == A_DROP_LINE) {
			size_t start = 0, removed = 0, total = 0;

			qn_buf_reset(tmp);
			while (start < n) {
				const char *nl = memchr(s + start, '\n', n - start);
				size_t end = nl ? (size_t)(nl - s) : n;

				total++;
				rc = pcre2_match(r->code, (PCRE2_SPTR)(s + start), end - start, 0,
						 PCRE2_NO_UTF_CHECK, sc->md, sc->mc);
				if (rc >= 0)
					removed++;
				else if (limit_error(rc))
					return limit_hit(r, rc, res);
				else
					qn_buf_append(tmp, s + start, (nl ? end + 1 : end) - start);
				start = nl ? end + 1 : n;
			}
			if (removed) {
				struct qn_buf t = *text;

				*text = *tmp;
				*tmp = t;
				res->rules_hits += removed;
				res->changed = 1;
				qn_result_event(res, "modify", rule, "removed %zu of %zu lines", removed, total);
			}
		} else {
			PCRE2_SIZE outlen;

			qn_buf_reset(tmp);
			qn_buf_grow(tmp, n + 64);
			outlen = tmp->cap;
			rc = pcre2_substitute(r->code, (PCRE2_SPTR)s, n, 0,
					      PCRE2_NO_UTF_CHECK | PCRE2_SUBSTITUTE_GLOBAL |
					      PCRE2_SUBSTITUTE_OVERFLOW_LENGTH,
					      sc->md, sc->mc, (PCRE2_SPTR)r->replacement,
					      PCRE2_ZERO_TERMINATED, (PCRE2_UCHAR *)tmp->data, &outlen);
			if (rc == PCRE2_ERROR_NOMEMORY) {
				qn_buf_grow(tmp, outlen + 1);
				outlen = tmp->cap;
				rc = pcre2_substitute(r->code, (PCRE2_SPTR)s, n, 0,
						      PCRE2_NO_UTF_CHECK | PCRE2_SUBSTITUTE_GLOBAL,
						      sc->md, sc->mc, (PCRE2_SPTR)r->replacement,
						      PCRE2_ZERO_TERMINATED, (PCRE2_UCHAR *)tmp->data, &outlen);
			}
			if (rc < 0) {
				if (limit_error(rc))
					return limit_hit(r, rc, res);
				/* A replacement error ($9 with no group 9) is the document's error too. */
				return limit_hit(r, rc, res);
			}
			if (rc > 0) {
				struct qn_buf t;

				tmp->len = outlen;
				tmp->data[outlen] = '\0';
				t = *text;
				*text = *tmp;
				*tmp = t;
				res->rules_hits += (uint64_t)rc;
				res->changed = 1;
				qn_result_event(res, "modify", rule, "replaced x%d", rc);
			}
		}
	}
	return QN_KEEP;
}
