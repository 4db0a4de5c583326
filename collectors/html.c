/*
 * html.c: main-text extraction from HTML, with a tokenizer and tree
 * builder of our own.
 *
 * Why not a library parser: on python3.11-doc's pages gumbo parses at
 * about 13 MB of HTML per CPU second and libxml2's HTML parser at 24 (its
 * SAX interface, building no tree, at 37), while the goal is 30 MB of
 * extracted text per CPU second, about 170 MB of HTML.  What extraction
 * needs from a parse is much less than a DOM: element kinds (a fixed set
 * of tags; any other is "other"), six attributes reduced to flags at the
 * start tag (class, id, role, hidden, aria-hidden and whether href starts
 * with '#'), and the text.  So one pass over the bytes (text decoded on
 * the way to the next '<') builds a compact tree of nodes in an array
 * (about 330 MB of HTML per CPU second on the same pages, writing the
 * text included), following the parts of
 * the HTML5 tree-construction rules that change what text ends up where:
 * void elements; raw text (script, style, ...) and RCDATA (title,
 * textarea); the end tags that a start tag implies (p before a block, li,
 * dt/dd, table rows and cells, headings, a nested <a>); end tags matched
 * within their scope (a table cell is a boundary) and ignored when
 * nothing matches; one leading newline dropped after <pre>; CR LF and CR
 * read as LF; character references (numeric ones with HTML5's
 * windows-1252 fix-ups, named ones from libxml2's table of HTML 4's
 * entities and a list of HTML5's common additions); <svg> and <math>
 * left open ended by an HTML tag.  Not followed: foster parenting of text
 * misplaced inside a table, the adoption agency's re-opening of
 * misnested formatting elements (so an <a name=x/> left open ends with
 * its parent, instead of making the rest of the page one link), implied
 * <tr> and <tbody>, and the structure of <head> (its elements are never
 * text anyway).  On tag soup the text may differ from a browser's in
 * where a line break falls or which block a misplaced text joins.
 *
 * Each element's statistics for link density (visible bytes below it,
 * how many of them sit inside links, how many links) are summed
 * bottom-up as elements are closed, so the writer needs one walk.  The
 * open-element stack keeps, per tag, the position of the topmost open
 * element of that tag, and the position of the topmost scope boundary:
 * every end tag is matched or ignored in O(1), and the stack is capped at
 * MAX_DEPTH (deeper start tags are ignored), so hostile input stays linear.
 *
 * The reference.  gumbo_parse_into fills the same nodes from gumbo's
 * parse (a complete implementation of HTML5's tree construction), walking
 * its tree with the same push and pop, the same tag ids and attribute
 * flags, and its text (gumbo decodes it) appended as it is; the one writer
 * below then makes the text from either tree.  tests/unit/t_html_ref.c
 * holds the two to the same text on python3.11-doc's pages, the other
 * pages of /usr/share/doc (differences listed with the reason: the parts
 * of HTML5 named "not followed" above) and random well-formed documents.
 * Other known differences: <noscript> is raw text here (as with scripting
 * on), gumbo parses its content (scripting off), which moves text in a
 * <noscript> before <body> into the body; a <table> in quirks mode (no
 * doctype) ends an open <p> here; attribute values are read as written
 * (gumbo decodes references in them); invalid UTF-8 passes through here
 * and is U+FFFD in gumbo (quern-collect converts pages to valid UTF-8
 * first).
 *
 * Whitespace is collapsed as a browser does outside <pre>: the writer
 * keeps "a space is pending" and "N line breaks are pending" and emits
 * them only before the next visible character, which is also how blocks
 * get exactly one blank line between them and none at the ends.
 */
#define _GNU_SOURCE		/* memmem */
#include <ctype.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <gumbo.h>
#include <libxml/HTMLparser.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "html.h"
#include "utf8.h"

enum { MAX_DEPTH = 400 };

/*
 * For the few helpers the fast parser calls per tag or per text run and
 * gumbo's walk calls too: two callers would otherwise stop the compiler
 * from inlining them into the fast path (3% more instructions).
 */
#define FAST_PATH inline __attribute__((always_inline))

/* The tags the rules below name; any other is T_OTHER. */
#define TAGS(X) \
	X(A, "a") X(ADDRESS, "address") X(APPLET, "applet") X(AREA, "area") \
	X(ARTICLE, "article") X(ASIDE, "aside") X(AUDIO, "audio") X(BASE, "base") \
	X(BASEFONT, "basefont") X(BGSOUND, "bgsound") X(BLOCKQUOTE, "blockquote") \
	X(BODY, "body") X(BR, "br") X(BUTTON, "button") X(CANVAS, "canvas") \
	X(CAPTION, "caption") X(CENTER, "center") X(COL, "col") X(DD, "dd") \
	X(DETAILS, "details") X(DIALOG, "dialog") X(DIR, "dir") X(DIV, "div") \
	X(DL, "dl") X(DT, "dt") X(EMBED, "embed") X(FIELDSET, "fieldset") \
	X(FIGCAPTION, "figcaption") X(FIGURE, "figure") X(FOOTER, "footer") \
	X(FORM, "form") X(FRAME, "frame") X(H1, "h1") X(H2, "h2") X(H3, "h3") \
	X(H4, "h4") X(H5, "h5") X(H6, "h6") X(HEAD, "head") X(HEADER, "header") \
	X(HGROUP, "hgroup") X(HR, "hr") X(HTML, "html") X(IFRAME, "iframe") \
	X(IMAGE, "image") X(IMG, "img") X(INPUT, "input") X(KEYGEN, "keygen") \
	X(LABEL, "label") X(LI, "li") X(LINK, "link") X(LISTING, "listing") \
	X(MAIN, "main") X(MAP, "map") X(MARQUEE, "marquee") X(MATH, "math") \
	X(MENU, "menu") X(META, "meta") X(NAV, "nav") X(NOEMBED, "noembed") \
	X(NOFRAMES, "noframes") X(NOSCRIPT, "noscript") X(OBJECT, "object") \
	X(OL, "ol") X(OPTGROUP, "optgroup") X(OPTION, "option") X(P, "p") \
	X(PARAM, "param") X(PLAINTEXT, "plaintext") X(PRE, "pre") \
	X(SCRIPT, "script") X(SECTION, "section") X(SELECT, "select") \
	X(SOURCE, "source") X(STYLE, "style") X(SUMMARY, "summary") X(SVG, "svg") \
	X(TABLE, "table") X(TBODY, "tbody") X(TD, "td") X(TEMPLATE, "template") \
	X(TEXTAREA, "textarea") X(TFOOT, "tfoot") X(TH, "th") X(THEAD, "thead") \
	X(TITLE, "title") X(TR, "tr") X(TRACK, "track") X(UL, "ul") \
	X(VIDEO, "video") X(WBR, "wbr") X(XMP, "xmp") \
	X(B, "b") X(BIG, "big") X(CODE, "code") X(EM, "em") X(I, "i") X(NOBR, "nobr") \
	X(RUBY, "ruby") X(S, "s") X(SMALL, "small") X(SPAN, "span") X(STRONG, "strong") \
	X(STRIKE, "strike") X(SUB, "sub") X(SUP, "sup") X(TT, "tt") X(U, "u") X(VAR, "var") \
	X(DESC, "desc") X(FOREIGNOBJECT, "foreignobject") X(MI, "mi") X(MO, "mo") \
	X(MN, "mn") X(MS, "ms") X(MTEXT, "mtext")

enum tag {
	T_ROOT, T_TEXT, T_OTHER,
#define X(e, s) T_##e,
	TAGS(X)
#undef X
	T_COUNT
};
typedef char tag_fits_a_byte[T_COUNT <= 256 ? 1 : -1];

static const char *const tag_names[T_COUNT] = {
#define X(e, s) [T_##e] = s,
	TAGS(X)
#undef X
};

/*
 * Words in class and id values that name boilerplate.  A value is split
 * into words at every character that is not a letter or digit, so
 * "sphinxsidebarwrapper" is not "sidebar", but "mobile-nav" holds "nav";
 * a word that starts with one of the prefixes marked '*' matches too
 * ("sphinxsidebar", "navbar").
 */
static const char *const boiler_words[] = {
	"nav", "navbar", "navigation", "navlinks", "menu", "menubar", "sidebar",
	"sidenav", "breadcrumb", "breadcrumbs", "related", "footer", "masthead",
	"banner", "cookie", "cookies", "consent", "share", "sharing", "social",
	"advert", "advertisement", "ads", "ad", "sponsor", "skip", "skiplink",
	"pagination", "pager", "toolbar", "topbar", "subscribe", "newsletter",
	"popup", "modal", "comments", "widget", "searchbox", "search", "signup",
	"login", "sphinxsidebar", "sphinxsidebarwrapper", "copyright",
	NULL
};

/*
 * The words above in a hash set, and each byte's lowercase form if it is
 * an ASCII letter or digit (0 if not), both filled once by tables_init:
 * class values are on most elements (syntax highlighting puts one on
 * every token), so the test must not cost a search per word.
 */
enum { BOILER_HASH = 256 };
static unsigned char boiler_hash[BOILER_HASH];	/* index + 1 into boiler_words; 0 empty */
static unsigned boiler_hval[sizeof boiler_words / sizeof boiler_words[0]];	/* their hash_name */
static unsigned char alnum_lower[256];

/* Byte classes for the scanners, and each byte in ASCII lowercase. */
enum { C_SPACE = 1, C_TAG_END = 2, C_STOP = 4, C_LT = 8 };
static unsigned char byte_class[256], lower[256];
static uint8_t tag_len[256];
static unsigned tag_hval[256];	/* hash_name of each tag's name */
static uint64_t tag_words[256][2];	/* each tag's name, zero-padded to 16 bytes */

/* Tag name to enum: an open-addressing table filled once. */
enum { TAG_HASH = 512 };
static unsigned char tag_hash[TAG_HASH];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static unsigned hash_name(const char *s, size_t n)
{
	unsigned h = 2166136261u;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

static void tables_init(void)
{
	int t, c;

	for (t = T_OTHER + 1; t < T_COUNT; t++) {
		unsigned h = hash_name(tag_names[t], strlen(tag_names[t])) & (TAG_HASH - 1);

		while (tag_hash[h])
			h = (h + 1) & (TAG_HASH - 1);
		tag_hash[h] = (unsigned char)t;
	}
	for (t = 0; boiler_words[t]; t++) {
		unsigned h = hash_name(boiler_words[t], strlen(boiler_words[t])) & (BOILER_HASH - 1);

		while (boiler_hash[h])
			h = (h + 1) & (BOILER_HASH - 1);
		boiler_hash[h] = (unsigned char)(t + 1);
		boiler_hval[t] = hash_name(boiler_words[t], strlen(boiler_words[t]));
	}
	for (t = T_OTHER + 1; t < T_COUNT; t++) {
		tag_len[t] = (uint8_t)strlen(tag_names[t]);
		tag_hval[t] = hash_name(tag_names[t], tag_len[t]);
		memcpy(tag_words[t], tag_names[t], tag_len[t]);
	}
	for (c = 0; c < 256; c++) {
		int space = c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v';

		alnum_lower[c] = (unsigned char)(c >= 'A' && c <= 'Z' ? c + 32 :
						 (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ? c : 0);
		lower[c] = (unsigned char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		byte_class[c] = (unsigned char)((space ? C_SPACE : 0) | (space || c == '/' || c == '>' ? C_TAG_END : 0) |
						(c == '&' || c == '\r' || c == 0 ? C_STOP : 0) | (c == '<' ? C_LT : 0));
	}
}

/*
 * s[0..16) holds the name, already lowercase, zero-padded; n is its
 * length (at most 16) and h its hash_name.
 */
static FAST_PATH enum tag tag_lookup(const char *s, size_t n, unsigned h)
{
	unsigned h0 = h;
	uint64_t w[2];

	memcpy(w, s, sizeof w);
	for (h &= TAG_HASH - 1; tag_hash[h]; h = (h + 1) & (TAG_HASH - 1)) {
		int t = tag_hash[h];

		if (tag_hval[t] == h0 && tag_len[t] == n && tag_words[t][0] == w[0] && tag_words[t][1] == w[1])
			return (enum tag)t;
	}
	return T_OTHER;
}

/* Elements whose content is never text for a reader. */
static int never_text_rule(int t)
{
	switch (t) {
	case T_SCRIPT: case T_STYLE: case T_NOSCRIPT:
	case T_TEMPLATE: case T_HEAD: case T_TITLE:
	case T_FORM: case T_BUTTON: case T_SELECT:
	case T_OPTION: case T_TEXTAREA: case T_INPUT:
	case T_LABEL: case T_IFRAME: case T_OBJECT:
	case T_EMBED: case T_SVG: case T_MATH:
	case T_CANVAS: case T_AUDIO: case T_VIDEO:
	case T_MAP: case T_NAV: case T_HEADER:
	case T_FOOTER: case T_ASIDE: case T_MENU:
		return 1;
	default:
		return 0;
	}
}

static int block_rule(int t)
{
	switch (t) {
	case T_P: case T_DIV: case T_SECTION:
	case T_ARTICLE: case T_MAIN: case T_BLOCKQUOTE:
	case T_H1: case T_H2: case T_H3:
	case T_H4: case T_H5: case T_H6:
	case T_UL: case T_OL: case T_DL:
	case T_TABLE: case T_PRE: case T_FIGURE:
	case T_FIGCAPTION: case T_ADDRESS: case T_HR:
	case T_CAPTION: case T_DETAILS: case T_SUMMARY:
	case T_CENTER: case T_FIELDSET: case T_LISTING:
		return 1;
	default:
		return 0;
	}
}

static int container_rule(int t)
{
	switch (t) {
	case T_UL: case T_OL: case T_DIV:
	case T_TABLE: case T_SECTION: case T_DL:
		return 1;
	default:
		return 0;
	}
}

/* Elements with no content and no end tag. */
static int void_elem_rule(int t)
{
	switch (t) {
	case T_AREA: case T_BASE: case T_BASEFONT: case T_BGSOUND: case T_BR:
	case T_COL: case T_EMBED: case T_FRAME: case T_HR: case T_IMAGE:
	case T_IMG: case T_INPUT: case T_KEYGEN: case T_LINK: case T_META:
	case T_PARAM: case T_SOURCE: case T_TRACK: case T_WBR:
		return 1;
	default:
		return 0;
	}
}

/* Start tags that close an open <p> (HTML5's "close a p element"). */
static int closes_p_rule(int t)
{
	switch (t) {
	case T_ADDRESS: case T_ARTICLE: case T_ASIDE: case T_BLOCKQUOTE:
	case T_CENTER: case T_DETAILS: case T_DIALOG: case T_DIR: case T_DIV:
	case T_DL: case T_FIELDSET: case T_FIGCAPTION: case T_FIGURE:
	case T_FOOTER: case T_FORM: case T_H1: case T_H2: case T_H3: case T_H4:
	case T_H5: case T_H6: case T_HEADER: case T_HGROUP: case T_HR:
	case T_MAIN: case T_MENU: case T_NAV: case T_OL: case T_P: case T_PRE:
	case T_SECTION: case T_SUMMARY: case T_TABLE: case T_UL: case T_LI:
	case T_DD: case T_DT: case T_LISTING: case T_PLAINTEXT: case T_XMP:
		return 1;
	default:
		return 0;
	}
}

/* Scope boundaries: an end tag does not reach past these to an element below. */
static int boundary_rule(int t)
{
	switch (t) {
	case T_APPLET: case T_CAPTION: case T_TABLE: case T_TD: case T_TH:
	case T_MARQUEE: case T_OBJECT: case T_TEMPLATE: case T_BUTTON:
	case T_SVG: case T_MATH:
		return 1;
	default:
		return 0;
	}
}

/* HTML start tags that end an <svg> or <math> left open (HTML5's "breakout"). */
static int breaks_foreign_rule(int t)
{
	switch (t) {
	case T_B: case T_BIG: case T_BLOCKQUOTE: case T_BODY: case T_BR: case T_CENTER:
	case T_CODE: case T_DD: case T_DIV: case T_DL: case T_DT: case T_EM: case T_EMBED:
	case T_H1: case T_H2: case T_H3: case T_H4: case T_H5: case T_H6: case T_HEAD:
	case T_HR: case T_I: case T_IMG: case T_LI: case T_LISTING: case T_MENU: case T_META:
	case T_NOBR: case T_OL: case T_P: case T_PRE: case T_RUBY: case T_S: case T_SMALL:
	case T_SPAN: case T_STRONG: case T_STRIKE: case T_SUB: case T_SUP: case T_TABLE:
	case T_TT: case T_U: case T_UL: case T_VAR:
		return 1;
	default:
		return 0;
	}
}

/* Foreign elements whose content is HTML again (HTML5's integration points). */
static int integration_point_rule(int t)
{
	switch (t) {
	case T_TITLE: case T_DESC: case T_FOREIGNOBJECT: case T_MI: case T_MO: case T_MN:
	case T_MS: case T_MTEXT:
		return 1;
	default:
		return 0;
	}
}

/* The rules above as one bit set per tag, filled once by tables_init. */
enum {
	P_NEVER_TEXT = 1, P_BLOCK = 2, P_CONTAINER = 4, P_VOID = 8, P_CLOSES_P = 16,
	P_BOUNDARY = 32, P_BREAKS_FOREIGN = 64, P_INTEGRATION = 128
};
static unsigned char tag_props[256];

static void props_init(void)
{
	int t;

	for (t = 0; t < T_COUNT; t++)
		tag_props[t] = (unsigned char)((never_text_rule(t) ? P_NEVER_TEXT : 0) | (block_rule(t) ? P_BLOCK : 0) |
					       (container_rule(t) ? P_CONTAINER : 0) | (void_elem_rule(t) ? P_VOID : 0) |
					       (closes_p_rule(t) ? P_CLOSES_P : 0) | (boundary_rule(t) ? P_BOUNDARY : 0) |
					       (breaks_foreign_rule(t) ? P_BREAKS_FOREIGN : 0) |
					       (integration_point_rule(t) ? P_INTEGRATION : 0));
}

static int never_text(int t) { return tag_props[t] & P_NEVER_TEXT; }
static int block(int t) { return tag_props[t] & P_BLOCK; }
static int container(int t) { return tag_props[t] & P_CONTAINER; }
static int void_elem(int t) { return tag_props[t] & P_VOID; }
static int closes_p(int t) { return tag_props[t] & P_CLOSES_P; }
static int boundary(int t) { return tag_props[t] & P_BOUNDARY; }
static int breaks_foreign(int t) { return tag_props[t] & P_BREAKS_FOREIGN; }
static int integration_point(int t) { return tag_props[t] & P_INTEGRATION; }

static int heading(int t)
{
	return t >= T_H1 && t <= T_H6;
}

static int boiler_word(const char *word, size_t k, unsigned h)
{
	unsigned i;

	for (i = h & (BOILER_HASH - 1); boiler_hash[i]; i = (i + 1) & (BOILER_HASH - 1)) {
		const char *b = boiler_words[boiler_hash[i] - 1];

		if (boiler_hval[boiler_hash[i] - 1] == h && strlen(b) == k && !memcmp(b, word, k))
			return 1;
	}
	return (k >= 7 && !memcmp(word, "sidebar", 7)) || (k >= 6 && !memcmp(word, "navbar", 6)) ||
	       (k >= 10 && !memcmp(word, "breadcrumb", 10)) || (k >= 6 && !memcmp(word, "footer", 6)) ||
	       (k > 7 && !memcmp(word + k - 7, "sidebar", 7));
}

static int boiler_value(const char *v, size_t n)
{
	const unsigned char *s = (const unsigned char *)v, *end = s + n;
	char word[64];

	while (s < end) {
		size_t k = 0;
		unsigned h = 2166136261u;

		while (s < end && !alnum_lower[*s])
			s++;
		while (s < end && alnum_lower[*s]) {
			unsigned char c = alnum_lower[*s++];

			if (k + 1 < sizeof word) {
				word[k++] = (char)c;
				h = (h ^ c) * 16777619u;
			}
		}
		word[k] = '\0';
		if (k >= 2 && boiler_word(word, k, h))
			return 1;
	}
	return 0;
}

enum {
	F_BOILER = 1,		/* boilerplate by role, class, id or hidden */
	F_HREF_HASH = 2,	/* href starts with '#' */
};

struct node {
	uint8_t tag, flags;
	uint32_t first, last, next;	/* children; 0 is none (the root is never a child) */
	union {
		struct {
			uint32_t off, len;	/* text: in the arena */
		} t;
		struct {
			uint32_t text, link, links;	/* element: visible bytes, in links, links */
		} s;
	} u;
};

struct open {
	uint32_t node;
	uint32_t prev_same;	/* stack position of the next open element of this tag below */
	uint32_t prev_bound;	/* stack position of the next scope boundary below */
	uint32_t name;		/* T_OTHER: a hash of the tag name */
	uint8_t tag;
};

struct parser {
	struct node *nodes;
	size_t nn, ncap;
	struct open stack[MAX_DEPTH + 1];
	uint32_t depth;			/* stack[0] is the root */
	uint32_t top[T_COUNT];		/* per tag, the topmost open one's position, 0 none */
	uint32_t top_bound;
	int drop;			/* open never-text elements */
	int foreign;			/* open <svg> and <math> */
	int pre_nl;			/* the next token may be a newline to drop */
	int body;			/* the body has begun: a later <title> is not the page's */
	int plaintext;
	struct qn_buf arena;		/* text, decoded */
	struct qn_buf *title;
	int title_done;
	/* The verdicts on recent class values (most repeat: "pre", "reference internal"). */
	struct {
		const char *v;		/* in the page */
		size_t n;
		int boiler;
	} class_memo[64];
};

struct writer {
	struct qn_buf *out;
	const struct node *nodes;
	const char *arena;
	size_t start;		/* where this page's text begins in out */
	int nl;			/* line breaks pending (0, 1 or 2) */
	int space;		/* a space is pending */
	int pre;		/* inside <pre>: whitespace is kept */
};

static void flush(struct writer *w)
{
	if (w->out->len > w->start) {
		if (w->nl) {
			qn_buf_append(w->out, "\n\n", (size_t)w->nl);
		} else if (w->space && w->out->data[w->out->len - 1] != '\n') {
			qn_buf_putc(w->out, ' ');
		}
	}
	w->nl = 0;
	w->space = 0;
}

static void brk(struct writer *w, int n)
{
	if (w->nl < n)
		w->nl = n;
	w->space = 0;
}

static int is_space(unsigned char c)
{
	return byte_class[c] & C_SPACE;
}

/* Whether s[0..n) is lit (lowercase) in any case. */
static int name_is(const char *s, const char *lit, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (lower[(unsigned char)s[i]] != (unsigned char)lit[i])
			return 0;
	return 1;
}

static void put_text(struct writer *w, const char *s, size_t n)
{
	size_t i = 0;

	if (w->pre) {
		if (w->out->len == w->start) {
			/* No blank lines at the start of the text, even from a <pre>. */
			size_t k = 0;

			while (k < n && is_space((unsigned char)s[k]))
				if (s[k++] == '\n' || k == n) {
					s += k;
					n -= k;
					k = 0;
				}
		}
		if (n) {
			flush(w);
			qn_buf_append(w->out, s, n);
		}
		return;
	}
	while (i < n) {
		size_t j = i;

		if (is_space((unsigned char)s[i])) {
			w->space = 1;
			while (i < n && is_space((unsigned char)s[i]))
				i++;
			continue;
		}
		/* Words apart by single spaces are written as they are, in one piece. */
		for (;;) {
			while (j < n && !is_space((unsigned char)s[j]))
				j++;
			if (j + 1 < n && s[j] == ' ' && !is_space((unsigned char)s[j + 1]))
				j += 2;
			else
				break;
		}
		flush(w);
		qn_buf_append(w->out, s + i, j - i);
		i = j;
	}
}

static void put_raw(struct writer *w, const char *s)
{
	flush(w);
	qn_buf_puts(w->out, s);
}

/* ---- the tree ---- */

static uint32_t new_node(struct parser *ps, int tag)
{
	struct node *nd;
	uint32_t parent = ps->stack[ps->depth].node;

	if (ps->nn == ps->ncap) {
		ps->ncap = ps->ncap ? 2 * ps->ncap : 256;
		ps->nodes = qn_xrealloc(ps->nodes, ps->ncap * sizeof *ps->nodes);
	}
	nd = &ps->nodes[ps->nn];
	memset(nd, 0, sizeof *nd);
	nd->tag = (uint8_t)tag;
	if (ps->nodes[parent].last)
		ps->nodes[ps->nodes[parent].last].next = (uint32_t)ps->nn;
	else
		ps->nodes[parent].first = (uint32_t)ps->nn;
	ps->nodes[parent].last = (uint32_t)ps->nn;
	return (uint32_t)ps->nn++;
}

static void push(struct parser *ps, int tag, int flags, uint32_t name)
{
	struct open *o;
	uint32_t nd = new_node(ps, tag);

	ps->nodes[nd].flags = (uint8_t)flags;
	o = &ps->stack[++ps->depth];
	o->node = nd;
	o->tag = (uint8_t)tag;
	o->name = name;
	o->prev_same = ps->top[tag];
	ps->top[tag] = ps->depth;
	o->prev_bound = ps->top_bound;
	if (boundary(tag))
		ps->top_bound = ps->depth;
	if (never_text(tag))
		ps->drop++;
	if (tag == T_SVG || tag == T_MATH)
		ps->foreign++;
}

/* Closes the topmost open element, adding its statistics to its parent's. */
static void pop(struct parser *ps)
{
	struct open *o = &ps->stack[ps->depth];
	struct node *nd = &ps->nodes[o->node];

	ps->top[o->tag] = o->prev_same;
	ps->top_bound = o->prev_bound;
	if (never_text(o->tag))
		ps->drop--;
	if (o->tag == T_SVG || o->tag == T_MATH)
		ps->foreign--;
	if (o->tag == T_A) {
		nd->u.s.link = nd->u.s.text;
		nd->u.s.links++;
	}
	ps->depth--;
	/* What a never-text element holds counts for nothing above it. */
	if (ps->depth && !never_text(o->tag)) {
		struct node *up = &ps->nodes[ps->stack[ps->depth].node];

		up->u.s.text += nd->u.s.text;
		up->u.s.link += nd->u.s.link;
		up->u.s.links += nd->u.s.links;
	}
}

static void pop_to(struct parser *ps, uint32_t pos)
{
	while (ps->depth >= pos && ps->depth)
		pop(ps);
}

/* ---- text ---- */

static void put_utf8(struct qn_buf *b, uint32_t c)
{
	char u[4];

	qn_buf_append(b, u, qn_utf8_encode(c, u));
}

/* HTML5's reading of &#128; to &#159; as windows-1252 (0: the number itself). */
static const uint16_t cp1252[32] = {
	0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017D, 0,
	0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
};

/*
 * Names HTML5 added to HTML 4's character entities that libxml2's table
 * (HTML 4's) lacks, a selection of the common ones (punctuation, arrows,
 * relations), sorted for bsearch (strcmp order); read only with a ';'.
 */
static const struct html5_entity {
	const char *name;
	uint32_t value;
} html5_entities[] = {
	{ "AMP", 0x0026 },
	{ "COPY", 0x00A9 },
	{ "GT", 0x003E },
	{ "Hat", 0x005E },
	{ "LT", 0x003C },
	{ "Leftarrow", 0x21D0 },
	{ "NewLine", 0x000A },
	{ "QUOT", 0x0022 },
	{ "REG", 0x00AE },
	{ "Rightarrow", 0x21D2 },
	{ "TRADE", 0x2122 },
	{ "Tab", 0x0009 },
	{ "ThinSpace", 0x2009 },
	{ "ZeroWidthSpace", 0x200B },
	{ "approx", 0x2248 },
	{ "ast", 0x002A },
	{ "bsol", 0x005C },
	{ "bullet", 0x2022 },
	{ "centerdot", 0x00B7 },
	{ "check", 0x2713 },
	{ "colon", 0x003A },
	{ "comma", 0x002C },
	{ "commat", 0x0040 },
	{ "cross", 0x2717 },
	{ "dash", 0x2010 },
	{ "dollar", 0x0024 },
	{ "downarrow", 0x2193 },
	{ "emptyset", 0x2205 },
	{ "equals", 0x003D },
	{ "excl", 0x0021 },
	{ "frac13", 0x2153 },
	{ "frac23", 0x2154 },
	{ "geq", 0x2265 },
	{ "gg", 0x226B },
	{ "grave", 0x0060 },
	{ "hairsp", 0x200A },
	{ "half", 0x00BD },
	{ "hookrightarrow", 0x21AA },
	{ "hyphen", 0x2010 },
	{ "iff", 0x21D4 },
	{ "in", 0x2208 },
	{ "lbrace", 0x007B },
	{ "lbrack", 0x005B },
	{ "lcub", 0x007B },
	{ "leftarrow", 0x2190 },
	{ "leq", 0x2264 },
	{ "ll", 0x226A },
	{ "lowbar", 0x005F },
	{ "lpar", 0x0028 },
	{ "lsqb", 0x005B },
	{ "mapsto", 0x21A6 },
	{ "mid", 0x2223 },
	{ "midast", 0x002A },
	{ "nbsp", 0x00A0 },
	{ "nexist", 0x2204 },
	{ "num", 0x0023 },
	{ "parallel", 0x2225 },
	{ "percnt", 0x0025 },
	{ "period", 0x002E },
	{ "plus", 0x002B },
	{ "pm", 0x00B1 },
	{ "quest", 0x003F },
	{ "rbrace", 0x007D },
	{ "rbrack", 0x005D },
	{ "rcub", 0x007D },
	{ "rightarrow", 0x2192 },
	{ "rpar", 0x0029 },
	{ "rsqb", 0x005D },
	{ "semi", 0x003B },
	{ "setminus", 0x2216 },
	{ "simeq", 0x2243 },
	{ "sol", 0x002F },
	{ "star", 0x2606 },
	{ "starf", 0x2605 },
	{ "subseteq", 0x2286 },
	{ "supseteq", 0x2287 },
	{ "uparrow", 0x2191 },
	{ "varepsilon", 0x03F5 },
	{ "varphi", 0x03D5 },
	{ "vee", 0x2228 },
	{ "verbar", 0x007C },
	{ "vert", 0x007C },
	{ "wedge", 0x2227 },
};

static int entity_cmp(const void *key, const void *e)
{
	return strcmp(key, ((const struct html5_entity *)e)->name);
}

/*
 * A character reference at s[0] == '&' (s < end): its decoded text is
 * appended to b and the bytes it took returned; 0 if it is none (the '&'
 * is then text).
 */
static size_t char_ref(struct qn_buf *b, const char *s, const char *end)
{
	const char *q = s + 1;

	if (q < end && *q == '#') {
		uint32_t c = 0;
		int hex = 0, digits = 0;

		q++;
		if (q < end && (*q == 'x' || *q == 'X')) {
			hex = 1;
			q++;
		}
		for (; q < end; q++, digits++) {
			int d;

			if (*q >= '0' && *q <= '9')
				d = *q - '0';
			else if (hex && *q >= 'a' && *q <= 'f')
				d = *q - 'a' + 10;
			else if (hex && *q >= 'A' && *q <= 'F')
				d = *q - 'A' + 10;
			else
				break;
			if (c <= 0x10FFFF)
				c = c * (hex ? 16 : 10) + (uint32_t)d;
		}
		if (!digits)
			return 0;
		if (q < end && *q == ';')
			q++;
		if (c >= 0x80 && c <= 0x9F && cp1252[c - 0x80])
			c = cp1252[c - 0x80];
		if (!c || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
			c = 0xFFFD;
		put_utf8(b, c);
		return (size_t)(q - s);
	} else {
		char name[32];
		size_t k = 0;
		const htmlEntityDesc *e;

		while (q < end && isalnum((unsigned char)*q) && k + 1 < sizeof name)
			name[k++] = *q++;
		name[k] = '\0';
		if (!k || (q < end && isalnum((unsigned char)*q)))
			return 0;
		if (q < end && *q == ';') {
			q++;
		} else if (q < end && *q == '=') {
			return 0;
		}
		switch (k) {	/* the common ones without a search */
		case 2:
			if (!strcmp(name, "lt")) {
				qn_buf_putc(b, '<');
				return (size_t)(q - s);
			}
			if (!strcmp(name, "gt")) {
				qn_buf_putc(b, '>');
				return (size_t)(q - s);
			}
			break;
		case 3:
			if (!strcmp(name, "amp")) {
				qn_buf_putc(b, '&');
				return (size_t)(q - s);
			}
			break;
		default:
			break;
		}
		e = htmlEntityLookup((const xmlChar *)name);
		if (!e) {
			const struct html5_entity *e5 = q[-1] == ';' ?
				bsearch(name, html5_entities, sizeof html5_entities / sizeof html5_entities[0],
					sizeof html5_entities[0], entity_cmp) : NULL;

			if (!e5)
				return 0;
			put_utf8(b, e5->value);
			return (size_t)(q - s);
		}
		/* Without ';', only HTML's legacy names (Latin-1 and the four above) count. */
		if (q[-1] != ';' && e->value > 255)
			return 0;
		put_utf8(b, e->value);
		return (size_t)(q - s);
	}
}

/*
 * Appends the text from s to the arena, up to end or (if stop_lt) the
 * next '<', decoding character references (if refs), reading CR LF and
 * CR as LF and dropping NUL.  Returns where it stopped; *vis gets the
 * visible bytes written.  Decoding never makes text longer (the shortest
 * reference, "&lt" or "&#9", is 3 bytes for at most 3), so an arena as
 * large as the page never grows.
 */
static const char *decode(struct qn_buf *b, const char *s, const char *end, int refs, int stop_lt,
			  size_t *vis_out)
{
	const unsigned char mask = (unsigned char)(C_STOP | (stop_lt ? C_LT : 0));
	size_t vis = 0;
	char *d;

	if (b->cap - b->len < (size_t)(end - s) + 1)
		qn_buf_grow(b, (size_t)(end - s));
	d = b->data + b->len;
	while (s < end) {
		unsigned char c;

#ifdef __SSE2__
		/*
		 * 16 bytes at a time: those before the first that needs a look
		 * are copied (the store may write past them: the arena has room
		 * for what is left of the input), spaces counted by mask.
		 */
		if (end - s >= 16) {
			__m128i v = _mm_loadu_si128((const __m128i *)(const void *)s);
			__m128i stop = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('&')),
								 _mm_cmpeq_epi8(v, _mm_set1_epi8('\r'))),
						    _mm_cmpeq_epi8(v, _mm_setzero_si128()));
			unsigned m, k;

			if (stop_lt)
				stop = _mm_or_si128(stop, _mm_cmpeq_epi8(v, _mm_set1_epi8('<')));
			m = (unsigned)_mm_movemask_epi8(stop);
			k = m ? (unsigned)__builtin_ctz(m) : 16;
			if (k) {
				/* ' ', or 9 to 12 (\t \n \v \f; \r is a stop): (v - 9) < 4 unsigned */
				__m128i sp = _mm_or_si128(
					_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')),
					_mm_cmplt_epi8(_mm_xor_si128(_mm_sub_epi8(v, _mm_set1_epi8(9)),
								     _mm_set1_epi8((char)0x80)),
						       _mm_set1_epi8((char)(4 ^ 0x80))));
				unsigned spaces = (unsigned)_mm_movemask_epi8(sp) & ((1u << k) - 1);

				_mm_storeu_si128((__m128i *)(void *)d, v);
				vis += k - (unsigned)__builtin_popcount(spaces);
				s += k;
				d += k;
				continue;
			}
		}
#endif
		c = (unsigned char)*s;
		if (!(byte_class[c] & mask)) {
			*d++ = (char)c;
			vis += !(byte_class[c] & C_SPACE);
			s++;
			continue;
		}
		if (c == '<')
			break;
		if (c == '&') {
			size_t k, at = (size_t)(d - b->data);

			b->len = at;
			k = refs ? char_ref(b, s, end) : 0;
			d = b->data + at;	/* (char_ref never grows the arena; were it to) */
			if (k) {
				for (; d < b->data + b->len; d++)
					vis += !is_space((unsigned char)*d);
				s += k;
			} else {
				*d++ = '&';
				vis++;
				s++;
			}
		} else if (c == '\r') {
			*d++ = '\n';
			s += s + 1 < end && s[1] == '\n' ? 2 : 1;
		} else {
			s++;	/* NUL */
		}
	}
	b->len = (size_t)(d - b->data);
	b->data[b->len] = '\0';
	*vis_out = vis;
	return s;
}

/*
 * The arena's text from off to its end, vis bytes of it visible, as the
 * current element's last child (joined to a text child just before it).
 */
static FAST_PATH void text_node(struct parser *ps, size_t off, size_t vis)
{
	struct node *cur;
	uint32_t last;

	cur = &ps->nodes[ps->stack[ps->depth].node];
	cur->u.s.text += (uint32_t)vis;
	last = cur->last;
	if (last && ps->nodes[last].tag == T_TEXT &&
	    ps->nodes[last].u.t.off + ps->nodes[last].u.t.len == off) {
		ps->nodes[last].u.t.len += (uint32_t)(ps->arena.len - off);
	} else {
		uint32_t t = new_node(ps, T_TEXT);

		ps->nodes[t].u.t.off = (uint32_t)off;
		ps->nodes[t].u.t.len = (uint32_t)(ps->arena.len - off);
	}
}

/*
 * Text from p[i], up to end or (if stop_lt) the next '<', as the current
 * element's last child; returns the position after it.
 */
static size_t text(struct parser *ps, const char *p, size_t i, size_t end, int refs, int stop_lt)
{
	size_t off, vis;

	if (ps->pre_nl) {
		ps->pre_nl = 0;
		if (i < end && p[i] == '\n')
			i++;
		else if (i + 1 < end && p[i] == '\r' && p[i + 1] == '\n')
			i += 2;
	}
	if (ps->drop) {
		const char *q = stop_lt ? memchr(p + i, '<', end - i) : NULL;

		return q ? (size_t)(q - p) : end;
	}
	off = ps->arena.len;
	i = (size_t)(decode(&ps->arena, p + i, p + end, refs, stop_lt, &vis) - p);
	if (ps->arena.len == off)
		return i;
	if (vis)
		ps->body = 1;
	text_node(ps, off, vis);
	return i;
}

/* ---- tags ---- */

struct attrs {
	const char *class_, *id, *role, *aria_hidden;
	size_t class_n, id_n, role_n, aria_hidden_n;
	int hidden, href, href_hash;
};

static int span_is(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && name_is(s, lit, n);
}

static FAST_PATH int boiler_class(struct parser *ps, const char *v, size_t n)
{
	unsigned i = n ? (unsigned)(n * 31 + (unsigned char)v[0] * 7 + (unsigned char)v[n - 1]) & 63 : 0;

	if (ps->class_memo[i].v && ps->class_memo[i].n == n && !memcmp(ps->class_memo[i].v, v, n))
		return ps->class_memo[i].boiler;
	ps->class_memo[i].v = v;
	ps->class_memo[i].n = n;
	return ps->class_memo[i].boiler = boiler_value(v, n);
}

static FAST_PATH int boilerplate(struct parser *ps, int tag, const struct attrs *a)
{
	if (a->role && (span_is(a->role, a->role_n, "navigation") || span_is(a->role, a->role_n, "banner") ||
			span_is(a->role, a->role_n, "contentinfo") ||
			span_is(a->role, a->role_n, "complementary") ||
			span_is(a->role, a->role_n, "search") || span_is(a->role, a->role_n, "menu") ||
			span_is(a->role, a->role_n, "menubar")))
		return 1;
	if (a->hidden || (a->aria_hidden && span_is(a->aria_hidden, a->aria_hidden_n, "true")))
		return 1;
	/* Body and main-like elements are never dropped by name: a class there styles the page. */
	if (tag == T_BODY || tag == T_MAIN || tag == T_ARTICLE || tag == T_HTML)
		return 0;
	if (a->class_ && boiler_class(ps, a->class_, a->class_n))
		return 1;
	if (a->id && boiler_value(a->id, a->id_n))
		return 1;
	return 0;
}

static void start_tag(struct parser *ps, int tag, uint32_t name, const struct attrs *a, int self_closing)
{
	int flags = 0;
	uint32_t i;

	if (tag == T_HTML || tag == T_HEAD)
		return;
	if (tag == T_BODY) {
		ps->body = 1;
		return;
	}
	if (tag != T_TITLE && tag != T_META && tag != T_LINK && tag != T_STYLE && tag != T_SCRIPT &&
	    tag != T_BASE && tag != T_NOSCRIPT && tag != T_TEMPLATE)
		ps->body = 1;
	if (ps->foreign && breaks_foreign(tag) && !integration_point(ps->stack[ps->depth].tag))
		while (ps->foreign)
			pop(ps);
	if (ps->foreign) {
		if (ps->depth < MAX_DEPTH && !self_closing)
			push(ps, tag, 0, name);
		return;
	}
	if (closes_p(tag) && ps->top[T_P] > ps->top_bound)
		pop_to(ps, ps->top[T_P]);
	switch (tag) {
	case T_LI:
		i = ps->top[T_LI];
		if (i > ps->top_bound && i > ps->top[T_UL] && i > ps->top[T_OL])
			pop_to(ps, i);
		break;
	case T_DT: case T_DD:
		i = ps->top[T_DT] > ps->top[T_DD] ? ps->top[T_DT] : ps->top[T_DD];
		if (i > ps->top_bound && i > ps->top[T_DL])
			pop_to(ps, i);
		break;
	case T_H1: case T_H2: case T_H3: case T_H4: case T_H5: case T_H6:
		if (heading(ps->stack[ps->depth].tag))
			pop(ps);
		break;
	case T_A:
		if (ps->top[T_A] > ps->top_bound)
			pop_to(ps, ps->top[T_A]);
		break;
	case T_TD: case T_TH:
		i = ps->top[T_TD] > ps->top[T_TH] ? ps->top[T_TD] : ps->top[T_TH];
		if (i && i > ps->top[T_TABLE])
			pop_to(ps, i);
		break;
	case T_TR:
		if (ps->top[T_TR] && ps->top[T_TR] > ps->top[T_TABLE])
			pop_to(ps, ps->top[T_TR]);
		break;
	case T_THEAD: case T_TBODY: case T_TFOOT:
		i = ps->top[T_THEAD];
		if (ps->top[T_TBODY] > i)
			i = ps->top[T_TBODY];
		if (ps->top[T_TFOOT] > i)
			i = ps->top[T_TFOOT];
		if (i && i > ps->top[T_TABLE])
			pop_to(ps, i);
		break;
	case T_TABLE:
		if (ps->top[T_TABLE] && ps->top[T_TABLE] == ps->top_bound)
			pop_to(ps, ps->top[T_TABLE]);
		break;
	case T_OPTION: case T_OPTGROUP:
		if (ps->stack[ps->depth].tag == T_OPTION)
			pop(ps);
		break;
	default:
		break;
	}
	if (boilerplate(ps, tag, a))
		flags |= F_BOILER;
	if (a->href_hash)
		flags |= F_HREF_HASH;
	if (void_elem(tag)) {
		if (!ps->drop && (tag == T_BR || tag == T_HR)) {
			uint32_t nd = new_node(ps, tag);

			ps->nodes[nd].flags = (uint8_t)flags;
		}
		return;
	}
	if (self_closing && (tag == T_SVG || tag == T_MATH))
		return;	/* foreign elements may close themselves */
	if (ps->depth < MAX_DEPTH)
		push(ps, tag, flags, name);
	if (tag == T_PRE || tag == T_LISTING)
		ps->pre_nl = 1;
}

static void end_tag(struct parser *ps, int tag, uint32_t name)
{
	uint32_t i;

	switch (tag) {
	case T_HTML: case T_HEAD: case T_BODY:
		return;
	case T_BR:
		if (!ps->foreign && !ps->drop)
			new_node(ps, T_BR);
		return;
	case T_P:
		if (ps->foreign || ps->top[T_P] > ps->top_bound)
			break;
		/* </p> with no <p> open is an empty paragraph. */
		if (!ps->drop && ps->depth < MAX_DEPTH) {
			push(ps, T_P, 0, 0);
			pop(ps);
		}
		return;
	case T_H1: case T_H2: case T_H3: case T_H4: case T_H5: case T_H6: {
		int h;

		if (ps->foreign)
			break;
		for (i = 0, h = T_H1; h <= T_H6; h++)
			if (ps->top[h] > i)
				i = ps->top[h];
		if (i > ps->top_bound)
			pop_to(ps, i);
		return;
	}
	case T_LI:
		i = ps->top[T_LI];
		if (i > ps->top_bound && i > ps->top[T_UL] && i > ps->top[T_OL])
			pop_to(ps, i);
		return;
	case T_TABLE:
		if (ps->top[T_TABLE])
			pop_to(ps, ps->top[T_TABLE]);
		return;
	case T_OTHER:
	{
		int steps = 0;

		/* An open unknown element of the same name, among the 16 topmost, not past a boundary. */
		for (i = ps->top[T_OTHER]; i > ps->top_bound && steps < 16; i = ps->stack[i].prev_same, steps++)
			if (ps->stack[i].name == name) {
				pop_to(ps, i);
				return;
			}
		return;
	}
	default:
		if (void_elem(tag))
			return;
		break;
	}
	i = ps->top[tag];
	if (!i)
		return;
	if (boundary(tag) ? i < ps->top_bound : i <= ps->top_bound)
		return;
	pop_to(ps, i);
}

static int tag_char_end(unsigned char c)
{
	return byte_class[c] & C_TAG_END;
}


/*
 * The attributes from p[i] to the tag's '>', the interesting ones into a;
 * returns the position after the '>', or 0 if the input ends first (the
 * tag is then dropped, as HTML5 does).
 */
static size_t parse_attrs(const char *p, size_t n, size_t i, struct attrs *a, int *self_closing)
{
	*self_closing = 0;
	for (;;) {
		size_t ns, nn, vs = 0, vn = 0;
		int has_value = 0;

		while (i < n && (is_space((unsigned char)p[i]) || p[i] == '/')) {
			if (p[i] == '/' && i + 1 < n && p[i + 1] == '>')
				*self_closing = 1;
			i++;
		}
		if (i >= n)
			return 0;
		if (p[i] == '>')
			return i + 1;
		ns = i++;
		while (i < n && !tag_char_end((unsigned char)p[i]) && p[i] != '=')
			i++;
		nn = i - ns;
		while (i < n && is_space((unsigned char)p[i]))
			i++;
		if (i < n && p[i] == '=') {
			i++;
			while (i < n && is_space((unsigned char)p[i]))
				i++;
			if (i >= n)
				return 0;
			if (p[i] == '"' || p[i] == '\'') {
				const char *q = memchr(p + i + 1, p[i], n - i - 1);

				if (!q)
					return 0;
				vs = i + 1;
				vn = (size_t)(q - p) - vs;
				i = (size_t)(q - p) + 1;
			} else {
				vs = i;
				while (i < n && !is_space((unsigned char)p[i]) && p[i] != '>')
					i++;
				vn = i - vs;
			}
			has_value = 1;
		}
		switch (nn) {
		case 2:
			if (!a->id && name_is(p + ns, "id", 2) && has_value) {
				a->id = p + vs;
				a->id_n = vn;
			}
			break;
		case 4:
			if (!a->role && name_is(p + ns, "role", 4) && has_value) {
				a->role = p + vs;
				a->role_n = vn;
			} else if (!a->href && name_is(p + ns, "href", 4) && has_value) {
				a->href = 1;
				a->href_hash = vn && p[vs] == '#';
			}
			break;
		case 5:
			if (!a->class_ && name_is(p + ns, "class", 5) && has_value) {
				a->class_ = p + vs;
				a->class_n = vn;
			}
			break;
		case 6:
			if (name_is(p + ns, "hidden", 6))
				a->hidden = 1;
			break;
		case 11:
			if (!a->aria_hidden && name_is(p + ns, "aria-hidden", 11) && has_value) {
				a->aria_hidden = p + vs;
				a->aria_hidden_n = vn;
			}
			break;
		default:
			break;
		}
	}
}

/* The end of raw text begun at p[i] for tag name s[0..k): the position of "</name". */
static size_t raw_end(const char *p, size_t n, size_t i, const char *s, size_t k)
{
	while (i < n) {
		const char *q = memchr(p + i, '<', n - i);

		if (!q)
			return n;
		i = (size_t)(q - p);
		if (i + 2 + k <= n && p[i + 1] == '/' && !strncasecmp(p + i + 2, s, k) &&
		    (i + 2 + k == n || tag_char_end((unsigned char)p[i + 2 + k])))
			return i;
		i++;
	}
	return n;
}

/* After a '>' or '<' search: the position after the next '>' from i, or n. */
static size_t skip_past(const char *p, size_t n, size_t i, char c)
{
	const char *q = i < n ? memchr(p + i, c, n - i) : NULL;

	return q ? (size_t)(q - p) + 1 : n;
}

/* The title's text, whitespace collapsed. */
static void title_text(struct parser *ps, const char *s, size_t n)
{
	struct writer tw;
	size_t off = ps->arena.len, vis;

	memset(&tw, 0, sizeof tw);
	tw.out = ps->title;
	decode(&ps->arena, s, s + n, 1, 0, &vis);
	put_text(&tw, ps->arena.data + off, ps->arena.len - off);
	ps->arena.len = off;
	ps->arena.data[off] = '\0';
}

/* Markup at p[i] == '<': returns the position after it. */
static size_t markup(struct parser *ps, const char *p, size_t n, size_t i)
{
	char name[16] = { 0 };
	size_t k, ns, j;
	int tag, end = 0, self_closing;
	uint32_t h = 0;
	struct attrs a;

	if (i + 1 >= n)
		return text(ps, p, i, n, 0, 0);
	if (p[i + 1] == '!') {
		ps->pre_nl = 0;
		if (i + 4 <= n && p[i + 2] == '-' && p[i + 3] == '-') {
			const char *q;

			if (i + 4 < n && p[i + 4] == '>')
				return i + 5;
			if (i + 5 < n && p[i + 4] == '-' && p[i + 5] == '>')
				return i + 6;
			q = i + 4 < n ? memmem(p + i + 4, n - i - 4, "-->", 3) : NULL;
			return q ? (size_t)(q - p) + 3 : n;
		}
		return skip_past(p, n, i + 2, '>');
	}
	if (p[i + 1] == '?') {
		ps->pre_nl = 0;
		return skip_past(p, n, i + 2, '>');
	}
	if (p[i + 1] == '/') {
		if (i + 2 < n && p[i + 2] == '>')
			return i + 3;
		if (i + 2 >= n || !isalpha((unsigned char)p[i + 2])) {
			if (i + 2 >= n)
				return text(ps, p, i, n, 0, 0);
			ps->pre_nl = 0;
			return skip_past(p, n, i + 2, '>');	/* a bogus comment */
		}
		end = 1;
	} else if (!isalpha((unsigned char)p[i + 1])) {
		return text(ps, p, i, i + 1, 0, 0);
	}
	ps->pre_nl = 0;
	ns = i + 1 + (size_t)end;
	h = 2166136261u;
	for (j = ns, k = 0; j < n && !(byte_class[(unsigned char)p[j]] & C_TAG_END); j++) {
		unsigned char c = lower[(unsigned char)p[j]];

		if (k < sizeof name)
			name[k] = (char)c;
		k++;
		h = (h ^ c) * 16777619u;
	}
	tag = k <= sizeof name ? (int)tag_lookup(name, k, h) : T_OTHER;
	memset(&a, 0, sizeof a);
	j = parse_attrs(p, n, j, &a, &self_closing);
	if (!j)
		return n;
	if (end) {
		end_tag(ps, tag, h);
		return j;
	}
	start_tag(ps, tag, h, &a, self_closing);
	if (ps->foreign)
		return j;
	switch (tag) {
	case T_SCRIPT: case T_STYLE: case T_NOSCRIPT: case T_IFRAME: case T_XMP:
	case T_NOEMBED: case T_NOFRAMES: case T_TITLE: case T_TEXTAREA: {
		size_t e = raw_end(p, n, j, tag_names[tag], k);

		if (tag == T_TITLE && ps->title && !ps->title_done && ps->depth == 1 && !ps->body) {
			title_text(ps, p + j, e - j);
			ps->title_done = 1;
		}
		if (tag == T_XMP || tag == T_NOEMBED || tag == T_NOFRAMES)
			text(ps, p, j, e, 0, 0);
		if (ps->stack[ps->depth].tag == tag)
			pop(ps);
		return e < n ? skip_past(p, n, e, '>') : n;
	}
	case T_PLAINTEXT:
		ps->plaintext = 1;
		return j;
	default:
		return j;
	}
}

static void parse(struct parser *ps, const char *p, size_t n)
{
	size_t i = 0;

	ps->nn = 0;
	new_node(ps, T_ROOT);	/* its own child: undone below */
	ps->nodes[0].first = ps->nodes[0].last = 0;
	ps->depth = 0;
	ps->stack[0].node = 0;
	ps->stack[0].tag = T_ROOT;
	while (i < n) {
		if (ps->plaintext)
			i = text(ps, p, i, n, 0, 0);
		else if (p[i] != '<')
			i = text(ps, p, i, n, 1, 1);
		else
			i = markup(ps, p, n, i);
	}
	while (ps->depth)
		pop(ps);
}

/* ---- the reference: gumbo's tree in the same nodes ---- */

/* Each gumbo tag's enum tag here (by name), filled once by init_once. */
static unsigned char gumbo_tags[GUMBO_TAG_LAST + 1];

/* The tag named s[0..n), in any case. */
static int tag_of_name(const char *s, size_t n)
{
	char name[16] = { 0 };
	unsigned h = 2166136261u;
	size_t k;

	if (n > sizeof name)
		return T_OTHER;
	for (k = 0; k < n; k++) {
		name[k] = (char)lower[(unsigned char)s[k]];
		h = (h ^ (unsigned char)name[k]) * 16777619u;
	}
	return (int)tag_lookup(name, n, h);
}

static void gumbo_tags_init(void)
{
	int g;

	for (g = 0; g < GUMBO_TAG_UNKNOWN; g++) {
		const char *s = gumbo_normalized_tagname((GumboTag)g);

		gumbo_tags[g] = (unsigned char)(s ? tag_of_name(s, strlen(s)) : T_OTHER);
	}
	gumbo_tags[GUMBO_TAG_UNKNOWN] = gumbo_tags[GUMBO_TAG_LAST] = T_OTHER;
}

static int gumbo_tag_of(const GumboElement *e)
{
	GumboStringPiece sp;

	if (e->tag != GUMBO_TAG_UNKNOWN)
		return gumbo_tags[e->tag < GUMBO_TAG_LAST ? e->tag : GUMBO_TAG_LAST];
	/* Tags gumbo does not know may still be ones named here (its list is HTML5's of 2013). */
	sp = e->original_tag;
	gumbo_tag_from_original_text(&sp);
	return sp.data ? tag_of_name(sp.data, sp.length) : T_OTHER;
}

/* The attributes the rules read, from gumbo's (names lowercase, values decoded, first of a name kept). */
static void gumbo_attrs(const GumboElement *e, struct attrs *a)
{
	unsigned i;

	memset(a, 0, sizeof *a);
	for (i = 0; i < e->attributes.length; i++) {
		const GumboAttribute *at = e->attributes.data[i];
		const char *v = at->value;

		if (!strcmp(at->name, "class")) {
			a->class_ = v;
			a->class_n = strlen(v);
		} else if (!strcmp(at->name, "id")) {
			a->id = v;
			a->id_n = strlen(v);
		} else if (!strcmp(at->name, "role")) {
			a->role = v;
			a->role_n = strlen(v);
		} else if (!strcmp(at->name, "aria-hidden")) {
			a->aria_hidden = v;
			a->aria_hidden_n = strlen(v);
		} else if (!strcmp(at->name, "hidden")) {
			a->hidden = 1;
		} else if (!strcmp(at->name, "href")) {
			a->href = 1;
			a->href_hash = v[0] == '#';
		}
	}
}

/* The text of a <title>'s children, whitespace collapsed. */
static void gumbo_title(struct parser *ps, const GumboElement *e)
{
	struct writer tw;
	unsigned i;

	memset(&tw, 0, sizeof tw);
	tw.out = ps->title;
	for (i = 0; i < e->children.length; i++) {
		const GumboNode *c = e->children.data[i];

		if (c->type == GUMBO_NODE_TEXT || c->type == GUMBO_NODE_WHITESPACE)
			put_text(&tw, c->v.text.text, strlen(c->v.text.text));
	}
	ps->title_done = 1;
}

/*
 * An element of gumbo's tree met on the walk: the node it makes here, as
 * start_tag would (html, head and body make none, void elements none but
 * <br> and <hr>, never-text ones an empty one).  Returns whether the walk
 * goes into its children; *pushed gets whether it is now the open top.
 */
static int gumbo_element(struct parser *ps, const GumboNode *g, int *pushed)
{
	const GumboElement *e = &g->v.element;
	int tag = gumbo_tag_of(e), flags = 0;
	struct attrs a;

	*pushed = 0;
	if (tag == T_HTML || tag == T_HEAD || tag == T_BODY)
		return 1;
	if (tag == T_TITLE && ps->title && !ps->title_done && g->parent &&
	    g->parent->type == GUMBO_NODE_ELEMENT && g->parent->v.element.tag == GUMBO_TAG_HEAD)
		gumbo_title(ps, e);
	gumbo_attrs(e, &a);
	if (boilerplate(ps, tag, &a))
		flags |= F_BOILER;
	if (a.href_hash)
		flags |= F_HREF_HASH;
	if (void_elem(tag)) {
		if (tag == T_BR || tag == T_HR) {
			uint32_t nd = new_node(ps, tag);

			ps->nodes[nd].flags = (uint8_t)flags;
		}
		return 0;
	}
	if (ps->depth >= MAX_DEPTH)
		return !never_text(tag);
	push(ps, tag, flags, 0);
	if (never_text(tag)) {
		pop(ps);	/* what it holds is never written */
		return 0;
	}
	*pushed = 1;
	return 1;
}

/* A text node of gumbo's (already decoded) as the current element's last child. */
static void gumbo_text(struct parser *ps, const char *s)
{
	size_t n = strlen(s), off = ps->arena.len, vis = 0, i;

	if (!n || off + n >= UINT32_MAX)
		return;	/* offsets are 32-bit: invalid bytes read as U+FFFD may triple a page */
	qn_buf_append(&ps->arena, s, n);
	for (i = 0; i < n; i++)
		vis += !is_space((unsigned char)s[i]);
	text_node(ps, off, vis);
}

/*
 * The nodes of gumbo's parse of p[0..n), walked in document order without
 * recursion (gumbo's tree has no depth limit).  Returns 0, or -1 if gumbo
 * gives no tree.
 */
static int gumbo_parse_into(struct parser *ps, const char *p, size_t n)
{
	GumboOptions o = kGumboDefaultOptions;
	GumboOutput *out;
	struct walk {
		const GumboNode *g;
		unsigned next;	/* the next child to visit */
		int pushed;
	} *st = NULL;
	size_t depth = 0, cap = 0;

	o.max_errors = 0;	/* errors are not read: recording them costs time */
	out = gumbo_parse_with_options(&o, p, n);
	if (!out)
		return -1;
	ps->nn = 0;
	new_node(ps, T_ROOT);
	ps->nodes[0].first = ps->nodes[0].last = 0;
	ps->depth = 0;
	ps->stack[0].node = 0;
	ps->stack[0].tag = T_ROOT;
	cap = 64;
	st = qn_xmalloc(cap * sizeof *st);
	st[0].g = out->document;
	st[0].next = 0;
	st[0].pushed = 0;
	depth = 1;
	while (depth) {
		struct walk *w = &st[depth - 1];
		const GumboVector *kids = w->g->type == GUMBO_NODE_DOCUMENT ? &w->g->v.document.children :
					  &w->g->v.element.children;
		const GumboNode *c;
		int pushed;

		if (w->next >= kids->length) {
			if (w->pushed)
				pop(ps);
			depth--;
			continue;
		}
		c = kids->data[w->next++];
		switch (c->type) {
		case GUMBO_NODE_TEXT:
		case GUMBO_NODE_CDATA:
		case GUMBO_NODE_WHITESPACE:
			gumbo_text(ps, c->v.text.text);
			break;
		case GUMBO_NODE_ELEMENT:
		case GUMBO_NODE_TEMPLATE:
			if (gumbo_element(ps, c, &pushed)) {
				if (depth == cap) {
					cap *= 2;
					st = qn_xrealloc(st, cap * sizeof *st);
				}
				st[depth].g = c;
				st[depth].next = 0;
				st[depth].pushed = pushed;
				depth++;
			}
			break;
		default:
			break;	/* comments, the doctype */
		}
	}
	while (ps->depth)
		pop(ps);
	free(st);
	gumbo_destroy_output(&o, out);
	return 0;
}

/* ---- writing ---- */

/* A container made mostly of links: a menu, a table of contents, a link farm. */
static int link_dense(const struct node *nd)
{
	return container(nd->tag) && nd->u.s.links >= 3 && nd->u.s.link * 10 > nd->u.s.text * 7;
}

/* A permalink marker: an in-page link whose text is a symbol or two ("¶", "#"). */
static int permalink(const struct writer *w, const struct node *nd)
{
	uint32_t c;
	size_t vis = 0;

	if (!(nd->flags & F_HREF_HASH))
		return 0;
	for (c = nd->first; c; c = w->nodes[c].next) {
		const struct node *cn = &w->nodes[c];
		const unsigned char *s, *e;

		if (cn->tag != T_TEXT)
			return 0;
		s = (const unsigned char *)w->arena + cn->u.t.off;
		for (e = s + cn->u.t.len; s < e; s++) {
			if (alnum_lower[*s])
				return 0;
			vis += !is_space(*s) && (*s & 0xC0) != 0x80;
		}
	}
	return vis <= 2;
}

static void emit(struct writer *w, uint32_t id, int depth, int list_kind);

static void children(struct writer *w, uint32_t id, int depth, int list_kind)
{
	uint32_t c;
	int item = 0;

	for (c = w->nodes[id].first; c; c = w->nodes[c].next) {
		if (list_kind && w->nodes[c].tag == T_LI)
			item++;
		emit(w, c, depth + 1, list_kind > 0 ? item : list_kind);
	}
}

/*
 * list_kind: inside <ol>, the number of the item being written (> 0);
 * inside <ul>, -1; else 0.
 */
static void emit(struct writer *w, uint32_t id, int depth, int list_kind)
{
	const struct node *nd = &w->nodes[id];
	int t = nd->tag;

	if (depth > MAX_DEPTH + 1)
		return;	/* never: text under the deepest element is at MAX_DEPTH + 1 */
	if (t == T_TEXT) {
		put_text(w, w->arena + nd->u.t.off, nd->u.t.len);
		return;
	}
	if (never_text(t) || (nd->flags & F_BOILER) || link_dense(nd))
		return;
	if (t == T_A && permalink(w, nd))
		return;
	switch (t) {
	case T_BR:
		brk(w, 1);
		return;
	case T_H1: case T_H2: case T_H3:
	case T_H4: case T_H5: case T_H6:
		brk(w, 2);
		children(w, id, depth, 0);
		brk(w, 2);
		return;
	case T_UL:
		brk(w, 2);
		children(w, id, depth, -1);
		brk(w, 2);
		return;
	case T_OL:
		brk(w, 2);
		children(w, id, depth, 1);
		brk(w, 2);
		return;
	case T_LI:
		brk(w, 1);
		if (list_kind > 0) {
			char num[16];

			snprintf(num, sizeof num, "%d. ", list_kind);
			put_raw(w, num);
		} else {
			put_raw(w, "- ");
		}
		children(w, id, depth, 0);
		brk(w, 1);
		return;
	case T_DT:
	case T_DD:
	case T_TR:
		brk(w, 1);
		children(w, id, depth, 0);
		brk(w, 1);
		return;
	case T_TD:
	case T_TH:
		if (w->out->len > w->start && w->out->data[w->out->len - 1] != '\n' && !w->nl) {
			w->space = 0;
			put_raw(w, " |");
		}
		w->space = 1;
		children(w, id, depth, 0);
		w->space = 1;
		return;
	case T_PRE:
	case T_LISTING: {
		int was = w->pre;

		brk(w, 2);
		w->pre = 1;
		children(w, id, depth, 0);
		w->pre = was;
		/* The newline that usually ends a <pre> is not a blank line. */
		while (w->out->len > w->start && w->out->data[w->out->len - 1] == '\n')
			w->out->data[--w->out->len] = '\0';
		brk(w, 2);
		return;
	}
	default:
		break;
	}
	if (block(t)) {
		brk(w, t == T_DIV ? 1 : 2);
		children(w, id, depth, 0);
		brk(w, t == T_DIV ? 1 : 2);
	} else {
		children(w, id, depth, list_kind);
	}
}

static void init_once(void)
{
	tables_init();
	props_init();
	gumbo_tags_init();
}

int html_extract_with(enum html_parser parser, const char *p, size_t n, struct qn_buf *out,
		      struct qn_buf *title)
{
	struct parser *ps;
	struct writer w;

	if (n >= UINT32_MAX)
		return -1;	/* node indices and text offsets are 32-bit */
	pthread_once(&tables_once, init_once);
	ps = qn_xcalloc(1, sizeof *ps);
	ps->title = title;
	if (title)
		qn_buf_reset(title);
	/* Both sized for the page at once: pages not written to cost nothing. */
	qn_buf_grow(&ps->arena, n + 16);
	ps->ncap = n / 16 + 64;
	ps->nodes = qn_xmalloc(ps->ncap * sizeof *ps->nodes);
	if (parser == HTML_PARSER_GUMBO) {
		if (gumbo_parse_into(ps, p, n) < 0) {
			free(ps->nodes);
			qn_buf_release(&ps->arena);
			free(ps);
			return -1;
		}
	} else {
		parse(ps, p, n);
	}
	memset(&w, 0, sizeof w);
	w.out = out;
	w.start = out->len;
	w.nodes = ps->nodes;
	w.arena = qn_buf_str(&ps->arena);
	emit(&w, 0, 0, 0);
	free(ps->nodes);
	qn_buf_release(&ps->arena);
	free(ps);
	return 0;
}

int html_extract(const char *p, size_t n, struct qn_buf *out, struct qn_buf *title)
{
	return html_extract_with(HTML_PARSER_QUERN, p, n, out, title);
}

int html_sniff(const char *p, size_t n)
{
	size_t i = 0, lim = n < 1024 ? n : 1024;

	if (lim >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3))
		i = 3;
	while (i < lim && isspace((unsigned char)p[i]))
		i++;
	if (i < lim && p[i] == '<') {
		static const char *const starts[] = {
			"<!doctype html", "<html", "<head", "<body", "<!--", "<meta", "<title", NULL
		};
		int k;

		for (k = 0; starts[k]; k++) {
			size_t len = strlen(starts[k]);

			if (lim - i >= len && !strncasecmp(p + i, starts[k], len)) {
				if (k == 4)	/* a comment first: look for an <html after it */
					break;
				return 1;
			}
		}
	}
	for (; i + 5 <= lim; i++)
		if (p[i] == '<' && (!strncasecmp(p + i, "<html", 5) || !strncasecmp(p + i, "<body", 5)))
			return 1;
	return 0;
}
