/*
 * charset.c: encoding detection and conversion to UTF-8 with ICU.
 *
 * The common case, text that is UTF-8 already, never touches ICU: one
 * validation pass decides it.  Everything else goes through one ICU
 * converter from the source charset straight to UTF-8 (ucnv_convertEx
 * with a pivot buffer), with a to-Unicode callback that counts each
 * substitution before letting ICU substitute U+FFFD.  The output is
 * validated once more, so a converter bug could not let invalid UTF-8
 * through.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <unicode/ucnv.h>
#include <unicode/ucsdet.h>

#include "charset.h"
#include "utf8.h"

enum { DETECT_BYTES = 64 << 10, META_SCAN = 1024 };

static void copy_name(char dst[CS_NAME_MAX], const char *s, size_t n)
{
	size_t i, k = 0;

	for (i = 0; i < n && k + 1 < CS_NAME_MAX; i++) {
		unsigned char c = (unsigned char)s[i];

		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == ':')
			dst[k++] = (char)c;
		else
			break;
	}
	dst[k] = '\0';
}

int cs_content_type_charset(const char *ct, char name[CS_NAME_MAX])
{
	const char *p;

	for (p = ct; (p = strchr(p, ';')) != NULL;) {
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (!strncasecmp(p, "charset", 7)) {
			p += 7;
			while (*p == ' ')
				p++;
			if (*p != '=')
				continue;
			p++;
			while (*p == ' ' || *p == '"' || *p == '\'')
				p++;
			copy_name(name, p, strlen(p));
			return name[0] ? 0 : -1;
		}
	}
	return -1;
}

/* Case-insensitive search for needle in p[0..n). */
static const char *find_ci(const char *p, size_t n, const char *needle)
{
	size_t k = strlen(needle), i;

	for (i = 0; i + k <= n; i++)
		if (!strncasecmp(p + i, needle, k))
			return p + i;
	return NULL;
}

int cs_html_meta(const char *p, size_t n, char name[CS_NAME_MAX])
{
	const char *m, *end;

	if (n > META_SCAN)
		n = META_SCAN;
	end = p + n;
	for (m = p; (m = find_ci(m, (size_t)(end - m), "<meta")) != NULL; m += 5) {
		const char *gt = memchr(m, '>', (size_t)(end - m));
		const char *cs;
		size_t len = gt ? (size_t)(gt - m) : (size_t)(end - m);

		if ((cs = find_ci(m, len, "charset")) != NULL) {
			const char *v = cs + 7;

			while (v < m + len && (*v == ' ' || *v == '='))
				v++;
			while (v < m + len && (*v == '"' || *v == '\''))
				v++;
			copy_name(name, v, (size_t)(m + len - v));
			if (name[0])
				return 0;
		}
	}
	return -1;
}

/* Counts substitutions, then substitutes as ICU does by default. */
static void UCNV_COUNT_CB(const void *ctx, UConverterToUnicodeArgs *args,
			  const char *units, int32_t len, UConverterCallbackReason reason,
			  UErrorCode *err)
{
	uint64_t *count = (uint64_t *)ctx;

	if (reason <= UCNV_IRREGULAR)
		(*count)++;
	UCNV_TO_U_CALLBACK_SUBSTITUTE(NULL, args, units, len, reason, err);
}

/* Converts with ICU; 0, or -1 if the charset is unknown to ICU. */
static int convert(const char *name, const char *p, size_t n, struct qn_buf *out,
		   uint64_t *replaced)
{
	UErrorCode e = U_ZERO_ERROR;
	UConverter *src, *dst;
	UChar pivot[4096], *ps = pivot, *pt = pivot;
	const char *s = p;
	int rc = 0;

	src = ucnv_open(name, &e);
	if (U_FAILURE(e))
		return -1;
	dst = ucnv_open("UTF-8", &e);
	if (U_FAILURE(e)) {
		ucnv_close(src);
		return -1;
	}
	ucnv_setToUCallBack(src, UCNV_COUNT_CB, replaced, NULL, NULL, &e);
	qn_buf_reset(out);
	for (;;) {
		char *t, *t0;

		qn_buf_grow(out, n + 64);
		t0 = t = out->data + out->len;
		e = U_ZERO_ERROR;
		ucnv_convertEx(dst, src, &t, out->data + out->cap - 1, &s, p + n,
			       pivot, &ps, &pt, pivot + sizeof pivot / sizeof pivot[0],
			       s == p, 1, &e);
		out->len += (size_t)(t - t0);
		out->data[out->len] = '\0';
		if (e == U_BUFFER_OVERFLOW_ERROR)
			continue;
		if (U_FAILURE(e))
			rc = -1;
		break;
	}
	ucnv_close(src);
	ucnv_close(dst);
	return rc;
}

/* A BOM: its charset and length, or 0. */
static size_t bom(const unsigned char *b, size_t n, const char **name)
{
	if (n >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF)
		return *name = "UTF-8", 3;
	if (n >= 4 && b[0] == 0xFF && b[1] == 0xFE && b[2] == 0 && b[3] == 0)
		return *name = "UTF-32LE", 4;
	if (n >= 4 && b[0] == 0 && b[1] == 0 && b[2] == 0xFE && b[3] == 0xFF)
		return *name = "UTF-32BE", 4;
	if (n >= 2 && b[0] == 0xFF && b[1] == 0xFE)
		return *name = "UTF-16LE", 2;
	if (n >= 2 && b[0] == 0xFE && b[1] == 0xFF)
		return *name = "UTF-16BE", 2;
	return 0;
}

/* Whether a declared name means UTF-8 (or its ASCII subset). */
static int is_utf8_name(const char *s)
{
	return !strcasecmp(s, "utf-8") || !strcasecmp(s, "utf8");
}

/*
 * Uses name for p[0..n): UTF-8 that validates needs no conversion.
 * Returns 0, or -1 if ICU does not know name.
 */
static int use(const char *name, const char *how, const char *p, size_t n,
	       struct qn_buf *out, struct cs_result *res)
{
	if (is_utf8_name(name) && qn_utf8_valid(p, n)) {
		copy_name(res->name, "UTF-8", 5);
		res->how = how;
		return 0;
	}
	res->replaced = 0;
	if (convert(name, p, n, out, &res->replaced) < 0)
		return -1;
	/* ICU wrote it, but the contract is ours: check. */
	if (!qn_utf8_valid(out->data, out->len))
		return -1;
	{
		/* The name as IANA registers it ("ISO-8859-1", not "latin1"). */
		UErrorCode e = U_ZERO_ERROR;
		const char *std = ucnv_getStandardName(name, "MIME", &e);

		if (!std || U_FAILURE(e)) {
			e = U_ZERO_ERROR;
			std = ucnv_getStandardName(name, "IANA", &e);
		}
		if (!std || U_FAILURE(e))
			std = name;
		copy_name(res->name, std, strlen(std));
	}
	res->how = how;
	res->converted = 1;
	return 0;
}

int cs_to_utf8(const char *p, size_t n, const char *hint, int html,
	       struct qn_buf *out, struct cs_result *res)
{
	char decl[CS_NAME_MAX];
	const char *bname;
	size_t b;

	memset(res, 0, sizeof *res);
	if ((b = bom((const unsigned char *)p, n, &bname)) != 0) {
		if (!strcmp(bname, "UTF-8") && qn_utf8_valid(p + b, n - b)) {
			copy_name(res->name, "UTF-8", 5);
			res->how = "bom";
			res->skip = b;
			return 0;
		}
		if (!use(bname, "bom", p + b, n - b, out, res))
			return 0;
	}
	if (hint && *hint && !use(hint, "http", p, n, out, res))
		return 0;
	if (html && !cs_html_meta(p, n, decl)) {
		/* A page served as UTF-16 would have had a BOM; this is ASCII-compatible. */
		if (!strncasecmp(decl, "utf-16", 6))
			copy_name(decl, "UTF-8", 5);
		if (!use(decl, "meta", p, n, out, res))
			return 0;
	}
	if (qn_utf8_valid(p, n)) {
		copy_name(res->name, "UTF-8", 5);
		res->how = "utf8";
		return 0;
	}
	{
		UErrorCode e = U_ZERO_ERROR;
		UCharsetDetector *d = ucsdet_open(&e);
		const UCharsetMatch *m;
		const char *name = NULL;
		char found[CS_NAME_MAX];

		if (U_FAILURE(e))
			return -1;
		ucsdet_enableInputFilter(d, html);
		ucsdet_setText(d, p, (int32_t)(n > DETECT_BYTES ? DETECT_BYTES : n), &e);
		m = ucsdet_detect(d, &e);
		if (U_SUCCESS(e) && m)
			name = ucsdet_getName(m, &e);
		if (U_FAILURE(e) || !name) {
			ucsdet_close(d);
			return -1;
		}
		copy_name(found, name, strlen(name));
		ucsdet_close(d);
		/* The detector says UTF-8 for text we know is not: fall back to Latin-1's superset. */
		if (is_utf8_name(found))
			copy_name(found, "windows-1252", 12);
		if (!use(found, "detected", p, n, out, res))
			return 0;
	}
	res->name[0] = '\0';
	return -1;
}
