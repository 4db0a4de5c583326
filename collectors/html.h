/*
 * html.h: the main text of an HTML page, as readable plain text.
 *
 * The page is parsed by html.c's own tokenizer and tree builder (the
 * parts of HTML5's parsing rules that decide where text ends up: implied
 * end tags, raw text, scopes; see html.c) and the tree is written out as
 * text: headings, paragraphs, list items (with "- " or "1. "), table rows
 * (cells between " | "), definition lists and preformatted code (kept
 * verbatim) each on their own lines, blocks apart by a blank line.
 *
 * Left out: what is never content (script, style, head, forms, embedded
 * media), the HTML5 boilerplate elements (nav, header, footer, aside)
 * and ARIA roles of the same meaning, blocks whose class or id names
 * them as navigation, sidebars, menus, breadcrumbs and the like, blocks
 * made mostly of links (link density), and permalink markers.  The rules
 * are generic; none names a site.
 */
#ifndef QN_COLLECT_HTML_H
#define QN_COLLECT_HTML_H

#include <stddef.h>

#include "buf.h"

/*
 * Appends the main text of the UTF-8 page p[0..n) to out (valid UTF-8 if p is,
 * no blank lines at either end).  If title is not NULL, it is set to the
 * page's <title>, whitespace collapsed.  Any bytes are parsed (none is an
 * error); the time is linear in n.  Returns 0, or -1 (nothing appended)
 * for a page of 4 GiB or more.  Thread-safe.
 */
int html_extract(const char *p, size_t n, struct qn_buf *out, struct qn_buf *title);

/* Whether p[0..n) looks like HTML (a doctype or an <html>/<head>/<body> tag near the start). */
int html_sniff(const char *p, size_t n);

#endif
