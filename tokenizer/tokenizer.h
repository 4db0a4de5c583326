/*
 * tokenizer.h: byte-level BPE, the model of GPT-2 and tiktoken.
 *
 * The contract between the tokenizer (tokenizer/, issue 5) and its users:
 * quern-shard (datasets/), quern-train and quern-sample (trainer/).
 *
 * A tokenizer is immutable once loaded and may be shared by threads; each
 * thread encodes through its own struct qn_tok_enc (scratch space and
 * caches).  Any byte string encodes, and decodes back to itself exactly.
 * Token ids are uint32_t.
 */
#ifndef QN_TOKENIZER_H
#define QN_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

struct qn_tok;
struct qn_tok_enc;

/* A growable array of token ids. */
struct qn_ids {
	uint32_t *v;
	size_t n, cap;
};
void qn_ids_reserve(struct qn_ids *ids, size_t more);
void qn_ids_free(struct qn_ids *ids);

/*
 * Loads a tokenizer: our (Hugging Face) tokenizer.json, a .tiktoken rank
 * file (its split pattern and special tokens taken from the built-in
 * encoding of the same name, or gpt2's when unknown), or an encoding JSON
 * of npm's tiktoken package (pat_str, special_tokens, bpe_ranks).  The
 * format is recognised from the content, not the name.  Errors name the
 * file and, where it applies, the line or byte offset.
 */
int qn_tok_load(const char *path, struct qn_tok **out, struct qn_err *err);
void qn_tok_free(struct qn_tok *t);

/* Number of ids: the largest id, ordinary or special, plus one. */
uint32_t qn_tok_vocab_size(const struct qn_tok *t);
/* The id of a special token by its text ("<|endoftext|>"), or -1. */
int64_t qn_tok_special(const struct qn_tok *t, const char *text);
/* The end-of-text id (<|endoftext|>), or -1 when the tokenizer has none. */
int64_t qn_tok_eot(const struct qn_tok *t);
/*
 * A stable hash of what the tokenizer does (ranks, pattern, specials),
 * 32 hex digits, independent of the file format it was loaded from.
 * Shards and checkpoints record it; the trainer and sampler compare it.
 */
const char *qn_tok_hash(const struct qn_tok *t);
/* The bytes of one id (NULL for an id out of range). */
const uint8_t *qn_tok_bytes(const struct qn_tok *t, uint32_t id, size_t *len);

struct qn_tok_enc *qn_tok_enc_new(const struct qn_tok *t);
void qn_tok_enc_free(struct qn_tok_enc *e);

/*
 * Encodes text[0..len) as ordinary text (as tiktoken's encode_ordinary: a
 * special token's string in the text is encoded as plain bytes, so a
 * document can never forge a boundary) and appends the ids to ids.
 */
int qn_tok_encode(struct qn_tok_enc *e, const char *text, size_t len,
		  struct qn_ids *ids, struct qn_err *err);
/* The same, but the tokenizer's special tokens in the text become their ids. */
int qn_tok_encode_special(struct qn_tok_enc *e, const char *text, size_t len,
			  struct qn_ids *ids, struct qn_err *err);
/*
 * Appends the bytes of ids to out.  QN_EINPUT for an id out of range.
 * The result may end inside a UTF-8 sequence (a token can hold part of a
 * character): callers printing text keep the tail for the next call.
 */
int qn_tok_decode(const struct qn_tok *t, const uint32_t *ids, size_t n,
		  struct qn_buf *out, struct qn_err *err);

#endif
