/*
 * pretok.h: pre-tokenization, the split of text into pieces before BPE.
 *
 * A split pattern is a PCRE2 regular expression compiled in UTF mode with
 * Unicode properties (PCRE2_UTF | PCRE2_UCP) and JIT.  The three patterns
 * of tiktoken's encodings are built in by name.  Pieces are the pattern's
 * successive leftmost matches, as tiktoken's find_iter; unlike tiktoken,
 * no byte is ever dropped: a run of bytes the pattern does not match (for
 * the built-in patterns that only happens for invalid UTF-8, which
 * PCRE2_MATCH_INVALID_UTF makes unmatchable) becomes a piece of its own,
 * and an empty match makes the next character a piece of its own.  So the
 * pieces always concatenate back to the input.
 *
 * A compiled pattern is immutable and shared by threads; each thread
 * splits through its own qn_pretok_state.
 */
#ifndef QN_PRETOK_H
#define QN_PRETOK_H

#include <stddef.h>

#include "err.h"

/* The pattern of a built-in encoding ("gpt2", "r50k_base", "p50k_base",
 * "cl100k_base", "o200k_base"), or NULL. */
const char *qn_pretok_builtin(const char *name);
/* The name of the built-in pattern equal to pattern, or NULL. */
const char *qn_pretok_builtin_name(const char *pattern);

struct qn_pretok;
struct qn_pretok_state;

int qn_pretok_new(const char *pattern, struct qn_pretok **out, struct qn_err *err);
void qn_pretok_free(struct qn_pretok *p);
const char *qn_pretok_pattern(const struct qn_pretok *p);

/*
 * Turns the hand-written splitters of the gpt2, cl100k_base and o200k_base
 * patterns on (the default) or off, so tests can compare them with PCRE2;
 * returns whether one was on.  Not to be called while the pattern is in use.
 */
int qn_pretok_set_fast(struct qn_pretok *p, int on);

struct qn_pretok_state *qn_pretok_state_new(const struct qn_pretok *p);
void qn_pretok_state_free(struct qn_pretok_state *s);

/*
 * Calls piece(arg, start, len) for each piece of text[0..len) in order.
 * Returns 0, the first non-zero value piece returned, or QN_EINPUT when
 * the regex engine fails (a match limit), with the reason in err.
 */
typedef int (*qn_pretok_fn)(void *arg, const char *piece, size_t len);
int qn_pretok_split(struct qn_pretok_state *s, const char *text, size_t len,
		    qn_pretok_fn piece, void *arg, struct qn_err *err);

#endif
