/*
 * tjson.h: a small JSON reader for tokenizer files.
 *
 * libquern's JSON module reads documents; tokenizer files are different
 * (a Hugging Face tokenizer.json, npm tiktoken's encoder JSON): one large
 * tree read once at load time.  This parses the whole text into a flat
 * node array (no per-node allocation) and lets the loader walk it.
 * Strings are unescaped into one byte arena; \u escapes become UTF-8, a
 * lone surrogate becomes U+FFFD (as JavaScript's TextEncoder does).
 * Nesting is limited to 128 levels so hostile input cannot exhaust the
 * stack.
 */
#ifndef QN_TJSON_H
#define QN_TJSON_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum { TJ_NULL, TJ_FALSE, TJ_TRUE, TJ_NUM, TJ_STR, TJ_ARR, TJ_OBJ };

struct tj_node {
	uint8_t type;
	uint32_t n;	/* string length, array length or object member count */
	size_t off;	/* string: offset in strs; array/object: first kid index in kids */
	double num;
};

struct tj_doc {
	struct tj_node *nodes;
	size_t nnodes, capnodes;
	uint32_t *kids;	/* array: n node indices; object: n (key, value) index pairs */
	size_t nkids, capkids;
	char *strs;
	size_t nstrs, capstrs;
};

/* Parses text[0..len) into doc (root is node 0).  Errors give the byte offset. */
int tj_parse(struct tj_doc *doc, const char *text, size_t len, struct qn_err *err);
void tj_release(struct tj_doc *doc);

static inline const struct tj_node *tj_node(const struct tj_doc *d, uint32_t i)
{
	return &d->nodes[i];
}
static inline const char *tj_str(const struct tj_doc *d, const struct tj_node *s)
{
	return d->strs + s->off;
}
/* The member of object o named key, or NULL (also when o is not an object). */
const struct tj_node *tj_get(const struct tj_doc *d, const struct tj_node *o, const char *key);
/* The i-th element of an array (i < n), or for an object the i-th value. */
const struct tj_node *tj_at(const struct tj_doc *d, const struct tj_node *a, uint32_t i);
/* The i-th key of an object. */
const struct tj_node *tj_key(const struct tj_doc *d, const struct tj_node *o, uint32_t i);

#endif
