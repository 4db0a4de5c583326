/*
 * charset.h: from bytes in any encoding to UTF-8, for quern-collect.
 *
 * The encoding is decided in the order the web uses: a byte order mark,
 * then the charset a transport declared (an HTTP Content-Type header),
 * then for HTML the page's own <meta charset> or http-equiv declaration,
 * then, for bytes that are not valid UTF-8 already, ICU's detector.
 * Conversion goes through ICU; bytes that are invalid in the chosen
 * encoding become U+FFFD and are counted, so the result is always valid
 * UTF-8.
 */
#ifndef QN_COLLECT_CHARSET_H
#define QN_COLLECT_CHARSET_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum { CS_NAME_MAX = 48 };

struct cs_result {
	char name[CS_NAME_MAX];	/* the charset used, as ICU names it ("UTF-8", "Shift_JIS") */
	const char *how;	/* "bom", "http", "meta", "utf8", "detected" */
	uint64_t replaced;	/* invalid sequences replaced by U+FFFD */
	int converted;		/* out holds the text; else the input was UTF-8 as is */
	size_t skip;		/* when not converted: bytes of BOM to leave out */
};

/*
 * Decides the encoding of p[0..n) and, unless it is UTF-8 without
 * invalid sequences, converts it into out (reset first).  hint is a
 * declared charset (NULL if none); html asks for the <meta> prescan.
 * Returns 0, or -1 when no encoding could be found (res->name empty).
 */
int cs_to_utf8(const char *p, size_t n, const char *hint, int html,
	       struct qn_buf *out, struct cs_result *res);

/*
 * The charset an HTML document declares in its first 1024 bytes
 * (<meta charset=X> or <meta http-equiv=Content-Type content="...;
 * charset=X">), copied into name; 0 if found, -1 if not.
 */
int cs_html_meta(const char *p, size_t n, char name[CS_NAME_MAX]);

/* The charset parameter of a Content-Type value; 0 if found, -1 if not. */
int cs_content_type_charset(const char *ct, char name[CS_NAME_MAX]);

#endif
