/*
 * pii.c: masking personal data with PCRE2 (JIT): e-mail addresses, IPv4
 * and IPv6 addresses, phone numbers and payment card numbers.
 *
 * Each kind is one pattern that finds candidates, and a check that
 * confirms them where a pattern cannot: inet_pton(3) for addresses, the
 * Luhn checksum and a length of 13-19 digits for cards, 7-15 digits for
 * phones.  Matches of all kinds are gathered, overlaps resolved (the
 * earlier start wins, then the longer match), and each replaced by a
 * fixed placeholder, the ones Dolma uses:
 *	|||EMAIL_ADDRESS|||  |||IP_ADDRESS|||  |||PHONE_NUMBER|||  |||CARD_NUMBER|||
 * The compiled patterns are shared by all threads; each cleaner has its
 * own match data.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <arpa/inet.h>
#include <pcre2.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

enum { K_EMAIL, K_IPV4, K_IPV6, K_PHONE, K_CARD, NKINDS };

static const char *const pattern[NKINDS] = {
	[K_EMAIL] = "(?<![\\w.+-])[\\w.+-]+@[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}(?![\\w-])",
	[K_IPV4] = "(?<![\\w.])(?:\\d{1,3}\\.){3}\\d{1,3}(?!\\w|\\.\\d)",
	[K_IPV6] = "(?<![\\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:(?:\\d{1,3}\\.){3}\\d{1,3}|[0-9A-Fa-f]{1,4})?(?![\\w:])",
	[K_PHONE] = "(?<![\\w+.-])(?:\\+\\d{1,3}[ .-]?(?:\\(\\d{1,4}\\)[ .-]?)?\\d{1,4}(?:[ .-]\\d{2,8}){1,4}"
		    "|\\(\\d{3}\\)[ .-]?\\d{3}[ .-]\\d{4}|\\d{3}([-.])\\d{3}\\1\\d{4})(?![\\w-]|\\.\\d)",
	[K_CARD] = "(?<![\\d-])\\d(?:[ -]?\\d){12,18}(?![\\d-])",
};

/* Which counter of qn_clean_result.pii a kind adds to. */
static const int counter_of[NKINDS] = { 0, 1, 1, 2, 3 };
static const char *const placeholder[4] = {
	"|||EMAIL_ADDRESS|||", "|||IP_ADDRESS|||", "|||PHONE_NUMBER|||", "|||CARD_NUMBER|||"
};

static pcre2_code *code[NKINDS];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void compile_all(void)
{
	int i, e;
	PCRE2_SIZE off;

	for (i = 0; i < NKINDS; i++) {
		code[i] = pcre2_compile((PCRE2_SPTR)pattern[i], PCRE2_ZERO_TERMINATED,
					PCRE2_UTF, &e, &off, NULL);
		if (!code[i])
			abort();	/* the patterns are fixed: a failure is a bug */
		pcre2_jit_compile(code[i], PCRE2_JIT_COMPLETE);	/* interpreted if JIT is missing */
	}
}

struct match {
	size_t start, end;
	int kind;
};

struct pii {
	pcre2_match_data *md;
	struct match *m;
	size_t nm, cap;
};

struct pii *pii_new(void)
{
	struct pii *p = qn_xcalloc(1, sizeof *p);

	pthread_once(&once, compile_all);
	p->md = pcre2_match_data_create(8, NULL);
	return p;
}

void pii_free(struct pii *p)
{
	if (!p)
		return;
	pcre2_match_data_free(p->md);
	free(p->m);
	free(p);
}

int qn_luhn_ok(const char *s, size_t n)
{
	int sum = 0, dbl = 0;
	size_t i;

	for (i = n; i-- > 0;) {
		int d;

		if (s[i] < '0' || s[i] > '9')
			continue;
		d = s[i] - '0';
		if (dbl && (d *= 2) > 9)
			d -= 9;
		sum += d;
		dbl = !dbl;
	}
	return sum % 10 == 0;
}

static size_t digits(const char *s, size_t n)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		k += s[i] >= '0' && s[i] <= '9';
	return k;
}

/* Whether a candidate of kind k at s[0..n) is the real thing. */
static int confirmed(int k, const char *s, size_t n)
{
	char buf[64];
	unsigned char addr[16];
	size_t d;

	switch (k) {
	case K_IPV4:
	case K_IPV6:
		if (n >= sizeof buf || (k == K_IPV6 && !digits(s, n)))
			return 0;
		memcpy(buf, s, n);
		buf[n] = '\0';
		return inet_pton(k == K_IPV4 ? AF_INET : AF_INET6, buf, addr) == 1;
	case K_PHONE:
		d = digits(s, n);
		return d >= 7 && d <= 15;
	case K_CARD:
		d = digits(s, n);
		return d >= 13 && d <= 19 && qn_luhn_ok(s, n);
	default:
		return 1;
	}
}

static int cmp_match(const void *a, const void *b)
{
	const struct match *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->end != y->end)
		return x->end > y->end ? -1 : 1;
	return x->kind - y->kind;
}

static void find(struct pii *p, int k, const char *s, size_t n)
{
	PCRE2_SIZE off = 0;

	while (off <= n) {
		int rc = pcre2_match(code[k], (PCRE2_SPTR)s, n, off, PCRE2_NO_UTF_CHECK, p->md, NULL);
		PCRE2_SIZE *ov;

		if (rc < 0)
			break;
		ov = pcre2_get_ovector_pointer(p->md);
		if (ov[1] == ov[0]) {	/* the patterns never match empty; be safe */
			off = ov[1] + 1;
			continue;
		}
		if (confirmed(k, s + ov[0], ov[1] - ov[0])) {
			if (p->nm == p->cap) {
				p->cap = p->cap ? 2 * p->cap : 64;
				p->m = qn_xrealloc(p->m, p->cap * sizeof *p->m);
			}
			p->m[p->nm].start = ov[0];
			p->m[p->nm].end = ov[1];
			p->m[p->nm++].kind = k;
			off = ov[1];
		} else {
			/* Move past the candidate's first character (one UTF-8 sequence). */
			off = ov[0] + 1;
			while (off < n && ((unsigned char)s[off] & 0xC0) == 0x80)
				off++;
		}
	}
}

int pii_mask(struct pii *p, const double *params, struct qn_buf *text,
	     struct qn_buf *tmp, uint64_t counts[4])
{
	const char *s = qn_buf_str(text);
	size_t n = text->len, i, pos = 0, last_end = 0;
	int has_digit = 0, has_at = memchr(s, '@', n) != NULL, has_colon = memchr(s, ':', n) != NULL;

	for (i = 0; i < n && !has_digit; i++)
		has_digit = (unsigned)(s[i] - '0') < 10;
	p->nm = 0;
	if (params[P_PII_EMAIL] != 0 && has_at)
		find(p, K_EMAIL, s, n);
	if (params[P_PII_IP] != 0 && has_digit) {
		find(p, K_IPV4, s, n);
		if (has_colon)
			find(p, K_IPV6, s, n);
	}
	if (params[P_PII_PHONE] != 0 && has_digit)
		find(p, K_PHONE, s, n);
	if (params[P_PII_CARD] != 0 && has_digit)
		find(p, K_CARD, s, n);
	if (!p->nm)
		return 0;
	qsort(p->m, p->nm, sizeof *p->m, cmp_match);
	qn_buf_reset(tmp);
	for (i = 0; i < p->nm; i++) {
		const struct match *m = &p->m[i];

		if (m->start < last_end)
			continue;	/* overlaps a match already taken */
		qn_buf_append(tmp, s + pos, m->start - pos);
		qn_buf_puts(tmp, placeholder[counter_of[m->kind]]);
		counts[counter_of[m->kind]]++;
		pos = last_end = m->end;
	}
	qn_buf_append(tmp, s + pos, n - pos);
	{
		struct qn_buf t = *text;

		*text = *tmp;
		*tmp = t;
	}
	return 1;
}
