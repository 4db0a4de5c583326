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
 * for a page of 4 GiB or more.  Thread-safe.  Parses with HTML_PARSER_QUERN.
 */
int html_extract(const char *p, size_t n, struct qn_buf *out, struct qn_buf *title);

/*
 * Which parser builds the tree the text is written from.  Both fill the
 * same compact tree (element kinds, attribute flags, decoded text), and one
 * writer makes the text from it, so they differ only where the trees do.
 *
 * HTML_PARSER_QUERN: html.c's own tokenizer and tree builder, the fast
 * path (about 14 times less CPU than gumbo).
 *
 * HTML_PARSER_GUMBO: gumbo (libgumbo), a complete implementation of
 * HTML5's parsing algorithm, its tree copied node by node.  It is the
 * reference the fast path is tested against (tests/unit/t_html_ref.c),
 * as every fast numeric kernel in quern is against a plain one.  On
 * well-formed pages the text is the same byte for byte (all 461
 * python3.11-doc pages, random well-formed documents).  Where HTML5's
 * error recovery comes in, quern's parser deliberately does less:
 *   - misnested or unclosed formatting elements are not re-opened by the
 *     adoption agency (gtk-doc's <a name="x"/> left open: gumbo makes the
 *     rest of the page one link, which link density may then drop);
 *   - text misplaced inside a <table> (not in a cell) is not
 *     foster-parented to before the table;
 *   - <tbody> and <tr> are not implied and <head> has no structure;
 *   - <noscript> is raw text, as in a browser with scripting on (gumbo
 *     parses its content, as with scripting off: text in a <noscript>
 *     before <body> then moves into the body);
 *   - no quirks mode: without a doctype, a <table> still ends an open <p>;
 *   - attribute values are read as written (gumbo decodes character
 *     references in them), and invalid UTF-8 is passed through (gumbo
 *     reads it as U+FFFD; quern-collect converts pages to UTF-8 first).
 */
enum html_parser { HTML_PARSER_QUERN, HTML_PARSER_GUMBO };

/*
 * html_extract with the parser chosen.  Returns 0, or -1 (nothing
 * appended) for a page of 4 GiB or more or if gumbo fails (out of memory).
 */
int html_extract_with(enum html_parser parser, const char *p, size_t n, struct qn_buf *out,
		      struct qn_buf *title);

/* Whether p[0..n) looks like HTML (a doctype or an <html>/<head>/<body> tag near the start). */
int html_sniff(const char *p, size_t n);

#endif
