/*
 * tjson.c: the JSON reader for tokenizer files (see tjson.h).
 *
 * Recursive descent over the text.  A container's children are pushed on
 * a scratch stack while it is parsed and copied into the kids array when
 * it closes, so every container's children are contiguous.
 */
#include <stdlib.h>
#include <string.h>

#include "utf8.h"
#include "tjson.h"

#define TJ_MAX_DEPTH 128

struct tj_parser {
	struct tj_doc *d;
	const char *s;
	size_t n, i;
	uint32_t *stack;
	size_t nstack, capstack;
	struct qn_err *err;
};

static int fail(struct tj_parser *p, const char *what)
{
	return qn_err_set(p->err, QN_EFORMAT, "byte %zu: invalid JSON: %s", p->i, what);
}

static void skip_ws(struct tj_parser *p)
{
	while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\n' ||
			       p->s[p->i] == '\r' || p->s[p->i] == '\t'))
		p->i++;
}

static uint32_t new_node(struct tj_parser *p, int type)
{
	struct tj_doc *d = p->d;

	if (d->nnodes == d->capnodes) {
		d->capnodes = d->capnodes ? 2 * d->capnodes : 256;
		d->nodes = qn_xrealloc(d->nodes, d->capnodes * sizeof *d->nodes);
	}
	memset(&d->nodes[d->nnodes], 0, sizeof d->nodes[0]);
	d->nodes[d->nnodes].type = (uint8_t)type;
	return (uint32_t)d->nnodes++;
}

static void push(struct tj_parser *p, uint32_t v)
{
	if (p->nstack == p->capstack) {
		p->capstack = p->capstack ? 2 * p->capstack : 256;
		p->stack = qn_xrealloc(p->stack, p->capstack * sizeof *p->stack);
	}
	p->stack[p->nstack++] = v;
}

static void str_put(struct tj_doc *d, const char *b, size_t n)
{
	if (d->nstrs + n + 1 > d->capstrs) {
		size_t c = d->capstrs ? d->capstrs : 4096;

		while (d->nstrs + n + 1 > c)
			c *= 2;
		d->strs = qn_xrealloc(d->strs, c);
		d->capstrs = c;
	}
	memcpy(d->strs + d->nstrs, b, n);
	d->nstrs += n;
}

static void put_utf8(struct tj_doc *d, uint32_t c)
{
	char b[4];

	str_put(d, b, qn_utf8_encode(c, b));
}

static int hex4(struct tj_parser *p, uint32_t *out)
{
	uint32_t v = 0;

	if (p->n - p->i < 4)
		return fail(p, "truncated \\u escape");
	for (int k = 0; k < 4; k++) {
		char c = p->s[p->i++];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return fail(p, "bad \\u escape");
	}
	*out = v;
	return 0;
}

/* Parses a string at p->i (the opening quote) into the arena. */
static int parse_str(struct tj_parser *p, uint32_t node)
{
	struct tj_doc *d = p->d;
	size_t start = d->nstrs;

	p->i++;
	for (;;) {
		size_t j = p->i;

		while (j < p->n && p->s[j] != '"' && p->s[j] != '\\' &&
		       (unsigned char)p->s[j] >= 0x20)
			j++;
		str_put(d, p->s + p->i, j - p->i);
		p->i = j;
		if (j >= p->n)
			return fail(p, "unterminated string");
		if (p->s[j] == '"') {
			p->i++;
			break;
		}
		if ((unsigned char)p->s[j] < 0x20)
			return fail(p, "control character in string");
		p->i++;
		if (p->i >= p->n)
			return fail(p, "unterminated string");
		char c = p->s[p->i++];
		uint32_t u, lo;
		switch (c) {
		case '"': str_put(d, "\"", 1); break;
		case '\\': str_put(d, "\\", 1); break;
		case '/': str_put(d, "/", 1); break;
		case 'b': str_put(d, "\b", 1); break;
		case 'f': str_put(d, "\f", 1); break;
		case 'n': str_put(d, "\n", 1); break;
		case 'r': str_put(d, "\r", 1); break;
		case 't': str_put(d, "\t", 1); break;
		case 'u':
			if (hex4(p, &u))
				return p->err->code;
			if (u >= 0xd800 && u < 0xdc00 && p->n - p->i >= 6 &&
			    p->s[p->i] == '\\' && p->s[p->i + 1] == 'u') {
				size_t save = p->i;

				p->i += 2;
				if (hex4(p, &lo))
					return p->err->code;
				if (lo >= 0xdc00 && lo < 0xe000)
					u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
				else
					p->i = save;
			}
			if (u >= 0xd800 && u < 0xe000)
				u = 0xfffd;
			put_utf8(d, u);
			break;
		default:
			return fail(p, "bad escape");
		}
	}
	str_put(d, "", 1);	/* NUL after every string */
	d->nstrs--;
	d->nodes[node].off = start;
	if (d->nstrs - start > UINT32_MAX)
		return fail(p, "string too long");
	d->nodes[node].n = (uint32_t)(d->nstrs - start);
	d->nstrs++;
	return 0;
}

static int parse_value(struct tj_parser *p, int depth, uint32_t *out);

static int parse_container(struct tj_parser *p, int depth, uint32_t node, int obj)
{
	struct tj_doc *d = p->d;
	size_t base = p->nstack;
	char close = obj ? '}' : ']';
	uint32_t count = 0;

	p->i++;
	skip_ws(p);
	if (p->i < p->n && p->s[p->i] == close) {
		p->i++;
	} else {
		for (;;) {
			uint32_t v;

			skip_ws(p);
			if (obj) {
				if (p->i >= p->n || p->s[p->i] != '"')
					return fail(p, "expected a member name");
				v = new_node(p, TJ_STR);
				if (parse_str(p, v))
					return p->err->code;
				push(p, v);
				skip_ws(p);
				if (p->i >= p->n || p->s[p->i] != ':')
					return fail(p, "expected ':'");
				p->i++;
			}
			if (parse_value(p, depth + 1, &v))
				return p->err->code;
			push(p, v);
			count++;
			skip_ws(p);
			if (p->i < p->n && p->s[p->i] == ',') {
				p->i++;
				continue;
			}
			if (p->i < p->n && p->s[p->i] == close) {
				p->i++;
				break;
			}
			return fail(p, obj ? "expected ',' or '}'" : "expected ',' or ']'");
		}
	}
	size_t k = p->nstack - base;
	if (d->nkids + k > d->capkids) {
		size_t c = d->capkids ? d->capkids : 256;

		while (d->nkids + k > c)
			c *= 2;
		d->kids = qn_xrealloc(d->kids, c * sizeof *d->kids);
		d->capkids = c;
	}
	if (k)
		memcpy(d->kids + d->nkids, p->stack + base, k * sizeof *d->kids);
	d->nodes[node].off = d->nkids;
	d->nodes[node].n = count;
	d->nkids += k;
	p->nstack = base;
	return 0;
}

static int parse_value(struct tj_parser *p, int depth, uint32_t *out)
{
	uint32_t node;

	if (depth > TJ_MAX_DEPTH)
		return fail(p, "nested too deeply");
	skip_ws(p);
	if (p->i >= p->n)
		return fail(p, "unexpected end");
	char c = p->s[p->i];
	switch (c) {
	case '{':
	case '[':
		node = new_node(p, c == '{' ? TJ_OBJ : TJ_ARR);
		*out = node;
		return parse_container(p, depth, node, c == '{');
	case '"':
		node = new_node(p, TJ_STR);
		*out = node;
		return parse_str(p, node);
	case 't':
	case 'f':
	case 'n': {
		const char *w = c == 't' ? "true" : c == 'f' ? "false" : "null";
		size_t wl = strlen(w);

		if (p->n - p->i < wl || memcmp(p->s + p->i, w, wl))
			return fail(p, "unexpected word");
		p->i += wl;
		*out = new_node(p, c == 't' ? TJ_TRUE : c == 'f' ? TJ_FALSE : TJ_NULL);
		return 0;
	}
	default:
		break;
	}
	if (c == '-' || (c >= '0' && c <= '9')) {
		char tmp[64];
		size_t j = p->i, k = 0;
		char *end;

		while (j < p->n && k < sizeof tmp - 1 &&
		       (strchr("+-.eE", p->s[j]) || (p->s[j] >= '0' && p->s[j] <= '9')))
			tmp[k++] = p->s[j++];
		tmp[k] = 0;
		node = new_node(p, TJ_NUM);
		p->d->nodes[node].num = strtod(tmp, &end);
		if (end != tmp + k || k == sizeof tmp - 1)
			return fail(p, "bad number");
		p->i = j;
		*out = node;
		return 0;
	}
	return fail(p, "unexpected character");
}

int tj_parse(struct tj_doc *doc, const char *text, size_t len, struct qn_err *err)
{
	struct tj_parser p = { .d = doc, .s = text, .n = len, .err = err };
	uint32_t root;
	int rc;

	memset(doc, 0, sizeof *doc);
	rc = parse_value(&p, 0, &root);
	if (!rc) {
		skip_ws(&p);
		if (p.i != p.n)
			rc = fail(&p, "trailing bytes after the value");
	}
	free(p.stack);
	if (rc)
		tj_release(doc);
	return rc;
}

void tj_release(struct tj_doc *doc)
{
	if (!doc)
		return;
	free(doc->nodes);
	free(doc->kids);
	free(doc->strs);
	memset(doc, 0, sizeof *doc);
}

const struct tj_node *tj_get(const struct tj_doc *d, const struct tj_node *o, const char *key)
{
	size_t kl = strlen(key);

	if (!o || o->type != TJ_OBJ)
		return NULL;
	for (uint32_t i = 0; i < o->n; i++) {
		const struct tj_node *k = &d->nodes[d->kids[o->off + 2 * i]];

		if (k->n == kl && !memcmp(d->strs + k->off, key, kl))
			return &d->nodes[d->kids[o->off + 2 * i + 1]];
	}
	return NULL;
}

const struct tj_node *tj_at(const struct tj_doc *d, const struct tj_node *a, uint32_t i)
{
	if (a->type == TJ_OBJ)
		return &d->nodes[d->kids[a->off + 2 * i + 1]];
	return &d->nodes[d->kids[a->off + i]];
}

const struct tj_node *tj_key(const struct tj_doc *d, const struct tj_node *o, uint32_t i)
{
	return &d->nodes[d->kids[o->off + 2 * i]];
}
