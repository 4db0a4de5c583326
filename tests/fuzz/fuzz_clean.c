/*
 * fuzz_clean: quern-clean's parsers and filters under arbitrary bytes.
 *
 * The first byte chooses what the rest is:
 *  - even: a rules file for qn_rules_parse.  A file it accepts is applied
 *    (with small match limits) to a fixed text and to the input itself
 *    when that is UTF-8: every outcome is keep, drop or an error for the
 *    document, the text stays UTF-8, and the call returns;
 *  - odd: a document's text (made UTF-8 by replacing bad bytes), run
 *    through every step with the defaults, once normally and once as a
 *    dry run: the text stays UTF-8, every measured value is finite and
 *    not negative, a dry run measures at least as much, and the verdict
 *    is one of the three.
 *
 * Built as a libFuzzer target with clang (see quern-clean's notes in
 * tests/fuzz/build.sh), and run by make check through
 * tests/unit/t_fuzz_clean.c on generated inputs.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clean.h"
#include "utf8.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n", #c, __FILE__, __LINE__); abort(); } } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_result(const struct qn_clean_result *r, const struct qn_buf *text)
{
	int k;

	CHECK(r->verdict == QN_KEEP || r->verdict == QN_DROP || r->verdict == QN_ERROR);
	CHECK(r->nevents >= 0 && r->nevents <= QN_CLEAN_MAX_EVENTS);
	CHECK(qn_utf8_valid(qn_buf_str(text), text->len));
	for (k = 0; k < QN_NMEASURES; k++)
		if (r->measured[k])
			CHECK(isfinite(r->m[k]) && r->m[k] >= 0);
	if (r->verdict != QN_KEEP)
		CHECK(r->drop_name[0] != '\0');
}

/* The input as UTF-8: each invalid byte becomes U+FFFD. */
static void to_utf8(const uint8_t *p, size_t n, struct qn_buf *out)
{
	size_t i = 0;

	qn_buf_reset(out);
	qn_buf_puts(out, "");
	while (i < n) {
		size_t ok = qn_utf8_check((const char *)p + i, n - i);

		qn_buf_append(out, p + i, ok);
		i += ok;
		if (i < n) {
			qn_buf_puts(out, "\xef\xbf\xbd");
			i++;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct qn_clean_config cfg, rcfg;
	static struct qn_cleaner *c;
	static struct qn_buf text;
	struct qn_clean_result res, dry;
	struct qn_err err;
	int k;

	if (!c) {
		qn_clean_config_init(&cfg);
		c = qn_cleaner_new(&cfg);
	}
	if (size == 0)
		return 0;
	if (!(data[0] & 1)) {
		struct qn_rules *r = qn_rules_parse((const char *)data + 1, size - 1, "fuzz", &err);
		struct qn_cleaner *rc;
		int i;

		if (!r) {
			CHECK(err.code == QN_EUSAGE && err.msg[0]);
			return 0;
		}
		qn_clean_config_init(&rcfg);
		for (i = 0; i < P_NFKC; i++)
			rcfg.p[i] = 0;
		rcfg.p[P_RULES] = 1;
		rcfg.p[P_RULES_MATCH_LIMIT] = 20000;
		rcfg.p[P_RULES_DEPTH_LIMIT] = 200;
		rcfg.rules = r;
		rc = qn_cleaner_new(&rcfg);
		qn_buf_reset(&text);
		qn_buf_puts(&text, "The quick brown fox\njumps over 12 lazy dogs.\naaaaaaaaaaaaaaaaaaaaaaaab\n");
		qn_cleaner_run(rc, &text, 0, &res);
		check_result(&res, &text);
		to_utf8(data + 1, size - 1, &text);
		qn_cleaner_run(rc, &text, 1, &res);
		check_result(&res, &text);
		qn_cleaner_free(rc);
		qn_clean_config_release(&rcfg);	/* frees r */
		return 0;
	}
	to_utf8(data + 1, size - 1, &text);
	qn_cleaner_run(c, &text, 0, &res);
	check_result(&res, &text);
	to_utf8(data + 1, size - 1, &text);
	qn_cleaner_run(c, &text, 1, &dry);
	check_result(&dry, &text);
	CHECK(dry.verdict == res.verdict || (res.verdict == QN_DROP && dry.verdict == QN_ERROR));
	for (k = 0; k < QN_NMEASURES; k++)
		CHECK(!res.measured[k] || dry.measured[k]);
	return 0;
}
