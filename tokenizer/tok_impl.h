/*
 * tok_impl.h: the inside of a loaded tokenizer, shared by the library
 * files (tok.c, tokload.c) and the programs of tokenizer/ only.  Users of
 * the tokenizer see tokenizer.h.
 *
 * The model.  Ids 0..vocab-1; an id is ordinary (bytes), special (a text
 * matched only by qn_tok_encode_special) or unused.  Encoding a piece
 * starts from its bytes' ids and repeatedly merges the adjacent pair with
 * the lowest priority (the leftmost of equals) while any pair has one.
 * The pair table holds, for a pair of ids (a, b), the priority and the
 * resulting id:
 *  - tiktoken files (QN_TOK_RANKS): every pair whose concatenated bytes
 *    are a token, with that token's rank as priority: tiktoken's rule;
 *  - tokenizer.json (QN_TOK_MERGES): the merges list, priority = index:
 *    Hugging Face's rule.
 * whole_first: a piece that is itself a token is that token at once
 * (tiktoken always; Hugging Face with "ignore_merges").
 */
#ifndef QN_TOK_IMPL_H
#define QN_TOK_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "pretok.h"
#include "tokenizer.h"

enum { QN_TOK_RANKS = 0, QN_TOK_MERGES = 1 };
enum { QN_TOK_UNUSED = 0, QN_TOK_ORD = 1, QN_TOK_SPECIAL = 2 };

#define QN_TOK_NOPAIR UINT64_MAX

struct qn_tok {
	uint32_t vocab;		/* max id + 1 */
	uint8_t *kind;		/* [vocab] QN_TOK_UNUSED/ORD/SPECIAL */
	size_t *off;		/* [vocab+1] bytes of id i: blob[off[i]..off[i+1]) */
	uint8_t *blob;
	uint32_t byte_id[256];	/* the id of each single byte; UINT32_MAX for none */
	int nmissing;		/* bytes without a token (a vocabulary trained without them) */

	uint32_t *tab;		/* ordinary bytes -> id+1, open addressing */
	size_t tab_mask;

	uint64_t *pkey;		/* (a << 32 | b), QN_TOK_NOPAIR empty */
	uint64_t *pval;		/* (priority << 32 | result) */
	size_t pmask;
	int pshift;

	int mode;		/* QN_TOK_RANKS or QN_TOK_MERGES */
	int whole_first;
	uint32_t *merges;	/* QN_TOK_MERGES: 2 ids per merge, in order */
	size_t nmerges;

	uint32_t nspecial;
	uint32_t *special;	/* ids of the special tokens, longest text first */

	char *pattern;
	struct qn_pretok *pre;
	char hash[33];
};

/*
 * Builds a tokenizer from its parts (the loaders and the trainer call it).
 * tokens: n entries of (bytes, len, id), ordinary; specials: ns entries of
 * (text, id).  merges NULL: QN_TOK_RANKS; else nmerges pairs of ids.
 */
struct qn_tok_part {
	const uint8_t *b;
	size_t len;
	uint32_t id;
};
int qn_tok_build(const struct qn_tok_part *tokens, size_t n,
		 const struct qn_tok_part *specials, size_t ns,
		 const uint32_t *merges, size_t nmerges, int whole_first,
		 const char *pattern, struct qn_tok **out, struct qn_err *err);

/* qn_tok_load from bytes in memory; path names them in messages. */
int qn_tok_load_mem(const char *path, const char *s, size_t n, struct qn_tok **out,
		    struct qn_err *err);

/* The id of ordinary bytes b[0..n), or -1. */
int64_t qn_tok_lookup(const struct qn_tok *t, const void *b, size_t n);
/* (priority << 32 | result) of the pair (a, b), or QN_TOK_NOPAIR. */
static inline uint64_t qn_tok_pair(const struct qn_tok *t, uint32_t a, uint32_t b)
{
	uint64_t k = (uint64_t)a << 32 | b;
	size_t i = (size_t)((k * 0x9E3779B97F4A7C15ULL) >> t->pshift);

	for (;;) {
		uint64_t got = t->pkey[i];

		if (got == k)
			return t->pval[i];
		if (got == QN_TOK_NOPAIR)
			return QN_TOK_NOPAIR;
		i = (i + 1) & t->pmask;
	}
}

/* Encodes one piece (no pre-tokenization), appending to ids; -1 (nothing
 * appended) when a byte of it has no token. */
int qn_tok_encode_piece(struct qn_tok_enc *e, const uint8_t *p, size_t n, struct qn_ids *ids);
/* The plain reference: O(n^2) rescans, no cache, no shortcut tables. */
void qn_tok_encode_piece_ref(const struct qn_tok *t, const uint8_t *p, size_t n, struct qn_ids *ids);

/* GPT-2's byte-to-character map of byte-level BPE (tokenizer.json vocab). */
uint32_t qn_bytelevel_char(uint8_t b);
/* The byte of a mapped character, or -1. */
int qn_bytelevel_byte(uint32_t c);

/* Standard base64 decoding into out; returns -1 on bad input. */
int qn_base64_decode(const char *s, size_t n, struct qn_buf *out);
void qn_base64_encode(const uint8_t *b, size_t n, struct qn_buf *out);

#endif
