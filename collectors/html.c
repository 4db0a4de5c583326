/*
 * html.c: main-text extraction from HTML with gumbo.
 *
 * Two walks over gumbo's tree.  fill() counts, for each container element
 * (lists, divs, tables, sections), the bytes of visible text below it and
 * how many of them sit inside links; emit() writes the text out, deciding
 * for each element whether it is kept, dropped, or a block boundary.  So
 * the cost stays near two passes; both walks stop descending past MAX_DEPTH so a
 * hostile page of a million nested tags cannot exhaust the stack.
 *
 * Whitespace is collapsed as a browser does outside <pre>: the writer
 * keeps "a space is pending" and "N line breaks are pending" and emits
 * them only before the next visible character, which is also how blocks
 * get exactly one blank line between them and none at the ends.
 */
#include <ctype.h>
#include <gumbo.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "html.h"

enum { MAX_DEPTH = 400 };

struct stats {
	size_t text, link, links;
};

/* Stats of container elements, by node, filled by one pass before writing. */
struct memo {
	const GumboNode **key;
	struct stats *val;
	size_t cap, n;
};

struct writer {
	struct memo memo;
	struct qn_buf *out;
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

static void put_text(struct writer *w, const char *s, size_t n)
{
	size_t i = 0;

	if (w->pre) {
		if (n) {
			flush(w);
			qn_buf_append(w->out, s, n);
		}
		return;
	}
	while (i < n) {
		size_t j = i;

		while (j < n && !isspace((unsigned char)s[j]))
			j++;
		if (j > i) {
			flush(w);
			qn_buf_append(w->out, s + i, j - i);
		}
		if (j < n) {
			w->space = 1;
			while (j < n && isspace((unsigned char)s[j]))
				j++;
		}
		i = j;
	}
}

static void put_raw(struct writer *w, const char *s)
{
	flush(w);
	qn_buf_puts(w->out, s);
}

/* Elements whose content is never text for a reader. */
static int never_text(GumboTag t)
{
	switch (t) {
	case GUMBO_TAG_SCRIPT: case GUMBO_TAG_STYLE: case GUMBO_TAG_NOSCRIPT:
	case GUMBO_TAG_TEMPLATE: case GUMBO_TAG_HEAD: case GUMBO_TAG_TITLE:
	case GUMBO_TAG_FORM: case GUMBO_TAG_BUTTON: case GUMBO_TAG_SELECT:
	case GUMBO_TAG_OPTION: case GUMBO_TAG_TEXTAREA: case GUMBO_TAG_INPUT:
	case GUMBO_TAG_LABEL: case GUMBO_TAG_IFRAME: case GUMBO_TAG_OBJECT:
	case GUMBO_TAG_EMBED: case GUMBO_TAG_SVG: case GUMBO_TAG_MATH:
	case GUMBO_TAG_CANVAS: case GUMBO_TAG_AUDIO: case GUMBO_TAG_VIDEO:
	case GUMBO_TAG_MAP: case GUMBO_TAG_NAV: case GUMBO_TAG_HEADER:
	case GUMBO_TAG_FOOTER: case GUMBO_TAG_ASIDE: case GUMBO_TAG_MENU:
		return 1;
	default:
		return 0;
	}
}

static int block(GumboTag t)
{
	switch (t) {
	case GUMBO_TAG_P: case GUMBO_TAG_DIV: case GUMBO_TAG_SECTION:
	case GUMBO_TAG_ARTICLE: case GUMBO_TAG_MAIN: case GUMBO_TAG_BLOCKQUOTE:
	case GUMBO_TAG_H1: case GUMBO_TAG_H2: case GUMBO_TAG_H3:
	case GUMBO_TAG_H4: case GUMBO_TAG_H5: case GUMBO_TAG_H6:
	case GUMBO_TAG_UL: case GUMBO_TAG_OL: case GUMBO_TAG_DL:
	case GUMBO_TAG_TABLE: case GUMBO_TAG_PRE: case GUMBO_TAG_FIGURE:
	case GUMBO_TAG_FIGCAPTION: case GUMBO_TAG_ADDRESS: case GUMBO_TAG_HR:
	case GUMBO_TAG_CAPTION: case GUMBO_TAG_DETAILS: case GUMBO_TAG_SUMMARY:
	case GUMBO_TAG_CENTER: case GUMBO_TAG_FIELDSET:
		return 1;
	default:
		return 0;
	}
}

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

static int boiler_value(const char *v)
{
	char word[64];

	while (*v) {
		size_t k = 0;
		int i;

		while (*v && !isalnum((unsigned char)*v))
			v++;
		while (*v && isalnum((unsigned char)*v)) {
			if (k + 1 < sizeof word)
				word[k++] = (char)tolower((unsigned char)*v);
			v++;
		}
		word[k] = '\0';
		if (!k)
			continue;
		for (i = 0; boiler_words[i]; i++)
			if (!strcmp(word, boiler_words[i]))
				return 1;
		if (!strncmp(word, "sidebar", 7) || !strncmp(word, "navbar", 6) ||
		    !strncmp(word, "breadcrumb", 10) || !strncmp(word, "footer", 6) ||
		    (k > 7 && !strcmp(word + k - 7, "sidebar")))
			return 1;
	}
	return 0;
}

static const char *attr(const GumboElement *e, const char *name)
{
	GumboAttribute *a = gumbo_get_attribute(&e->attributes, name);

	return a ? a->value : NULL;
}

/* Boilerplate by ARIA role, class or id, or hidden. */
static int boilerplate(const GumboElement *e)
{
	const char *role = attr(e, "role"), *v;

	if (role && (!strcasecmp(role, "navigation") || !strcasecmp(role, "banner") ||
		     !strcasecmp(role, "contentinfo") || !strcasecmp(role, "complementary") ||
		     !strcasecmp(role, "search") || !strcasecmp(role, "menu") ||
		     !strcasecmp(role, "menubar")))
		return 1;
	if (attr(e, "hidden") || ((v = attr(e, "aria-hidden")) && !strcasecmp(v, "true")))
		return 1;
	/* Body and main-like elements are never dropped by name: a class there styles the page. */
	if (e->tag == GUMBO_TAG_BODY || e->tag == GUMBO_TAG_MAIN || e->tag == GUMBO_TAG_ARTICLE ||
	    e->tag == GUMBO_TAG_HTML)
		return 0;
	if ((v = attr(e, "class")) && boiler_value(v))
		return 1;
	if ((v = attr(e, "id")) && boiler_value(v))
		return 1;
	return 0;
}

static size_t visible(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += !isspace((unsigned char)*s);
	return n;
}

static int container(GumboTag t)
{
	switch (t) {
	case GUMBO_TAG_UL: case GUMBO_TAG_OL: case GUMBO_TAG_DIV:
	case GUMBO_TAG_TABLE: case GUMBO_TAG_SECTION: case GUMBO_TAG_DL:
		return 1;
	default:
		return 0;
	}
}

static size_t slot(const struct memo *m, const GumboNode *n)
{
	size_t h = ((size_t)(uintptr_t)n >> 4) * 0x9E3779B97F4A7C15u;

	for (h &= m->cap - 1; m->key[h] && m->key[h] != n; h = (h + 1) & (m->cap - 1))
		;
	return h;
}

static void memo_put(struct memo *m, const GumboNode *n, const struct stats *st)
{
	size_t i;

	if (2 * (m->n + 1) > m->cap) {
		struct memo old = *m;

		m->cap = m->cap ? 2 * m->cap : 256;
		m->key = qn_xcalloc(m->cap, sizeof *m->key);
		m->val = qn_xcalloc(m->cap, sizeof *m->val);
		m->n = 0;
		for (i = 0; i < old.cap; i++)
			if (old.key[i])
				memo_put(m, old.key[i], &old.val[i]);
		free(old.key);
		free(old.val);
	}
	i = slot(m, n);
	if (!m->key[i])
		m->n++;
	m->key[i] = n;
	m->val[i] = *st;
}

/*
 * The stats of the text below n (bytes visible, bytes inside links, links)
 * are added into *up.  With a memo, one bottom-up pass also keeps each
 * container's own stats there; without (NULL), it measures one subtree.
 */
static void fill(struct memo *m, const GumboNode *n, int in_link, int depth, struct stats *up)
{
	struct stats st = { 0, 0, 0 };
	size_t i;

	if (depth > MAX_DEPTH)
		return;
	if (n->type == GUMBO_NODE_TEXT || n->type == GUMBO_NODE_CDATA) {
		size_t v = visible(n->v.text.text);

		up->text += v;
		if (in_link)
			up->link += v;
		return;
	}
	if (n->type != GUMBO_NODE_ELEMENT && n->type != GUMBO_NODE_TEMPLATE)
		return;
	if (never_text(n->v.element.tag))
		return;
	if (n->v.element.tag == GUMBO_TAG_A) {
		in_link = 1;
		st.links++;
	}
	for (i = 0; i < n->v.element.children.length; i++)
		fill(m, n->v.element.children.data[i], in_link, depth + 1, &st);
	/* Inside a link, a container's own stats would count no new link. */
	if (m && container(n->v.element.tag) && !in_link)
		memo_put(m, n, &st);
	up->text += st.text;
	up->link += st.link;
	up->links += st.links;
}

/* A container made mostly of links: a menu, a table of contents, a link farm. */
static int link_dense(const struct writer *w, const GumboNode *n)
{
	struct stats st = { 0, 0, 0 };
	size_t i;

	if (!container(n->v.element.tag))
		return 0;
	if (w->memo.cap && w->memo.key[i = slot(&w->memo, n)] == n)
		st = w->memo.val[i];
	else
		fill(NULL, n, 0, 0, &st);
	return st.links >= 3 && st.link * 10 > st.text * 7;
}

/* A permalink marker: an in-page link whose text is a symbol or two ("¶", "#"). */
static int permalink(const GumboElement *e)
{
	const char *href = attr(e, "href");
	size_t i, vis = 0;

	if (!href || href[0] != '#')
		return 0;
	for (i = 0; i < e->children.length; i++) {
		const GumboNode *c = e->children.data[i];

		if (c->type == GUMBO_NODE_ELEMENT)
			return 0;
		if (c->type == GUMBO_NODE_TEXT) {
			const unsigned char *s = (const unsigned char *)c->v.text.text;

			for (; *s; s++) {
				if (isalnum(*s))
					return 0;
				vis += !isspace(*s) && (*s & 0xC0) != 0x80;
			}
		}
	}
	return vis <= 2;
}

static void emit(struct writer *w, const GumboNode *n, int depth, int list_kind);

static void children(struct writer *w, const GumboNode *n, int depth, int list_kind)
{
	const GumboVector *v = &n->v.element.children;
	size_t i;
	int item = 0;

	for (i = 0; i < v->length; i++) {
		const GumboNode *c = v->data[i];

		if (list_kind && c->type == GUMBO_NODE_ELEMENT && c->v.element.tag == GUMBO_TAG_LI)
			item++;
		emit(w, c, depth + 1, list_kind > 0 ? item : list_kind);
	}
}

/*
 * list_kind: inside <ol>, the number of the item being written (> 0);
 * inside <ul>, -1; else 0.
 */
static void emit(struct writer *w, const GumboNode *n, int depth, int list_kind)
{
	const GumboElement *e;
	GumboTag t;

	if (depth > MAX_DEPTH)
		return;
	switch (n->type) {
	case GUMBO_NODE_TEXT:
	case GUMBO_NODE_CDATA:
	case GUMBO_NODE_WHITESPACE:
		put_text(w, n->v.text.text, strlen(n->v.text.text));
		return;
	case GUMBO_NODE_ELEMENT:
	case GUMBO_NODE_TEMPLATE:
		break;
	default:
		return;
	}
	e = &n->v.element;
	t = e->tag;
	if (never_text(t) || boilerplate(e) || link_dense(w, n))
		return;
	if (t == GUMBO_TAG_A && permalink(e))
		return;
	switch (t) {
	case GUMBO_TAG_BR:
		brk(w, 1);
		return;
	case GUMBO_TAG_IMG:
		return;
	case GUMBO_TAG_H1: case GUMBO_TAG_H2: case GUMBO_TAG_H3:
	case GUMBO_TAG_H4: case GUMBO_TAG_H5: case GUMBO_TAG_H6:
		brk(w, 2);
		children(w, n, depth, 0);
		brk(w, 2);
		return;
	case GUMBO_TAG_UL:
		brk(w, 2);
		children(w, n, depth, -1);
		brk(w, 2);
		return;
	case GUMBO_TAG_OL:
		brk(w, 2);
		children(w, n, depth, 1);
		brk(w, 2);
		return;
	case GUMBO_TAG_LI:
		brk(w, 1);
		if (list_kind > 0) {
			char num[16];

			snprintf(num, sizeof num, "%d. ", list_kind);
			put_raw(w, num);
		} else {
			put_raw(w, "- ");
		}
		children(w, n, depth, 0);
		brk(w, 1);
		return;
	case GUMBO_TAG_DT:
		brk(w, 1);
		children(w, n, depth, 0);
		brk(w, 1);
		return;
	case GUMBO_TAG_DD:
		brk(w, 1);
		children(w, n, depth, 0);
		brk(w, 1);
		return;
	case GUMBO_TAG_TR:
		brk(w, 1);
		children(w, n, depth, 0);
		brk(w, 1);
		return;
	case GUMBO_TAG_TD:
	case GUMBO_TAG_TH:
		if (w->out->len > w->start && w->out->data[w->out->len - 1] != '\n' && !w->nl) {
			w->space = 0;
			put_raw(w, " |");
		}
		w->space = 1;
		children(w, n, depth, 0);
		w->space = 1;
		return;
	case GUMBO_TAG_PRE: {
		int was = w->pre;

		brk(w, 2);
		w->pre = 1;
		children(w, n, depth, 0);
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
		brk(w, t == GUMBO_TAG_DIV ? 1 : 2);
		children(w, n, depth, 0);
		brk(w, t == GUMBO_TAG_DIV ? 1 : 2);
	} else {
		children(w, n, depth, list_kind);
	}
}

/* The first <title> below n, depth first. */
static const GumboNode *find_title(const GumboNode *n, int depth)
{
	size_t i;

	if (n->type != GUMBO_NODE_ELEMENT || depth > 8)
		return NULL;
	if (n->v.element.tag == GUMBO_TAG_TITLE)
		return n;
	if (n->v.element.tag != GUMBO_TAG_HTML && n->v.element.tag != GUMBO_TAG_HEAD)
		return NULL;
	for (i = 0; i < n->v.element.children.length; i++) {
		const GumboNode *r = find_title(n->v.element.children.data[i], depth + 1);

		if (r)
			return r;
	}
	return NULL;
}

int html_extract(const char *p, size_t n, struct qn_buf *out, struct qn_buf *title)
{
	GumboOptions o = kGumboDefaultOptions;
	GumboOutput *g;
	struct writer w;

	o.max_errors = 0;
	g = gumbo_parse_with_options(&o, p, n);
	if (!g)
		return -1;
	memset(&w, 0, sizeof w);
	w.out = out;
	w.start = out->len;
	{
		struct stats all = { 0, 0, 0 };

		fill(&w.memo, g->root, 0, 0, &all);
	}
	emit(&w, g->root, 0, 0);
	free(w.memo.key);
	free(w.memo.val);
	if (title) {
		const GumboNode *tn = find_title(g->root, 0);
		struct writer tw;
		size_t i;

		qn_buf_reset(title);
		memset(&tw, 0, sizeof tw);
		tw.out = title;
		for (i = 0; tn && i < tn->v.element.children.length; i++) {
			const GumboNode *c = tn->v.element.children.data[i];

			if (c->type == GUMBO_NODE_TEXT)
				put_text(&tw, c->v.text.text, strlen(c->v.text.text));
		}
	}
	gumbo_destroy_output(&o, g);
	return 0;
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
