/*
 * shard.h: the token shard formats of quern-shard(5), read and written.
 *
 * A shard directory holds, per split (train, val), numbered shards:
 *
 *	train_000000.bin   llm.c data shard: 256 x int32 header, then tokens
 *	train_000000.qidx  its sidecar index: one entry per document piece
 *	shards.meta        the directory's metadata (text, one key a line)
 *
 * The .bin header is llm.c's (magic 20240520 version 1 with uint16 tokens,
 * or magic 20240801 version 7 with uint32 tokens; the token count in
 * header[2]); quern also fills some of the ints llm.c leaves zero (the
 * vocabulary size, the end-of-text id, the tokenizer hash, the split and
 * the shard's number), so that a shard describes itself.  An end-of-text
 * token comes before every document.
 *
 * Everything here validates strictly: a reader never trusts a size, an
 * offset or a count it has not checked against the file, and an error
 * names the file and what was expected and found.  The readers parse
 * from memory (the caller maps or reads the file), which is also what
 * the fuzz target drives.
 */
#ifndef QN_SHARD_H
#define QN_SHARD_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

#define QN_SHARD_HEADER_INTS 256
#define QN_SHARD_HEADER_BYTES 1024
#define QN_SHARD_MAGIC16 20240520	/* version 1, uint16 tokens */
#define QN_SHARD_MAGIC32 20240801	/* version 7, uint32 tokens */
#define QN_SHARD_QUERN 0x6e726571	/* "quer": header[3] when quern wrote it */
#define QN_SHARD_MAX_TOKENS 2147483647u	/* header[2] is an int32 */

#define QN_IDX_MAGIC "QNSHIDX"		/* 8 bytes with the NUL */
#define QN_IDX_HEADER_BYTES 32
#define QN_IDX_ENTRY_BYTES 32

#define QN_META_NAME "shards.meta"

enum { QN_SHARD_TRAIN = 0, QN_SHARD_VAL = 1 };

/* The header of a .bin shard, decoded. */
struct qn_shard_header {
	uint32_t magic, version;
	uint64_t ntokens;
	int token_bytes;	/* 2 or 4 */
	int quern;		/* 1: the quern fields below were present */
	uint32_t vocab_size;
	int64_t eot;		/* -1: none */
	uint8_t tok_hash[16];
	int split;		/* QN_SHARD_TRAIN or QN_SHARD_VAL */
	uint32_t number;	/* the shard's number in its split */
	uint64_t ndocs;		/* entries in the sidecar index */
};

/* Sets magic, version and token_bytes for a vocabulary size. */
void qn_shard_header_init(struct qn_shard_header *h, uint32_t vocab_size);
/* The 1024 header bytes (little-endian int32s). */
void qn_shard_header_encode(const struct qn_shard_header *h,
			    uint8_t out[QN_SHARD_HEADER_BYTES]);
/*
 * Decodes and checks a header from the first n bytes of a file named
 * name.  QN_EFORMAT with "name: what: expected .., found .." on a bad one.
 */
int qn_shard_header_parse(const void *p, size_t n, const char *name,
			  struct qn_shard_header *h, struct qn_err *err);

/*
 * One entry of the sidecar index: a piece of a document.  first is the
 * position in the shard of the piece's first token, which for a piece
 * that begins a document is the end-of-text token written before it;
 * count includes that token.  A document cut at a shard boundary has a
 * piece with QN_DOC_MORE at the end of one shard and a piece with
 * QN_DOC_CONT (no end-of-text token) at the start of the next.
 */
struct qn_shard_doc {
	uint8_t id[16];		/* the document id, the 32 hex digits as bytes */
	uint64_t first;
	uint32_t count;
	uint32_t flags;
};
#define QN_DOC_CONT 1u	/* continues a document begun in the previous shard */
#define QN_DOC_MORE 2u	/* the document goes on in the next shard */

/*
 * Decodes and checks a sidecar index of a shard of ntokens tokens:
 * magic, version, size, and that the pieces tile the shard exactly (the
 * first at 0, each next where the last ended, the last ending at
 * ntokens; CONT only on the first piece, MORE only on the last).  On
 * success *docs is a malloc'd array of *ndocs entries (NULL when 0).
 */
int qn_shard_index_parse(const void *p, size_t n, const char *name,
			 uint64_t ntokens, struct qn_shard_doc **docs,
			 uint64_t *ndocs, struct qn_err *err);
/* The index file's bytes for docs[0..n) of a shard of ntokens tokens. */
void qn_shard_index_encode(const struct qn_shard_doc *docs, uint64_t n,
			   uint64_t ntokens, struct qn_buf *out);

/* 32 hex digits to 16 bytes: 0, or -1 when hex is not 32 lowercase hex digits. */
int qn_shard_id_parse(const char *hex, size_t n, uint8_t id[16]);
void qn_shard_id_hex(const uint8_t id[16], char hex[33]);

/* A shard open for reading: the .bin mapped, its index decoded. */
struct qn_shard {
	char *path, *idx_path;
	struct qn_shard_header h;
	const uint8_t *tokens;		/* h.ntokens * h.token_bytes bytes */
	struct qn_shard_doc *docs;
	uint64_t ndocs;
	void *map;
	size_t map_len;
};

/*
 * Checks a shard held in memory: bin[0..binlen) and its index
 * idx[0..idxlen) (idx NULL: no index, allowed for llm.c shards that quern
 * did not write).  The size must be the header's exactly.  s->tokens
 * points into bin; s->docs is allocated; release with qn_shard_close.
 */
int qn_shard_parse(struct qn_shard *s, const char *name, const void *bin,
		   size_t binlen, const char *idx_name, const void *idx,
		   size_t idxlen, struct qn_err *err);
/*
 * Maps path and reads its sidecar index (path with .bin replaced by
 * .qidx; required when the header says quern wrote it) and checks both.
 */
int qn_shard_open(struct qn_shard *s, const char *path, struct qn_err *err);
/*
 * The full check that qn_shard_open leaves out because it reads every
 * token: each token below the vocabulary size, and an end-of-text token
 * at the start of each piece that begins a document.
 */
int qn_shard_check_tokens(const struct qn_shard *s, struct qn_err *err);
void qn_shard_close(struct qn_shard *s);

static inline uint32_t qn_shard_token(const struct qn_shard *s, uint64_t i)
{
	const uint8_t *p = s->tokens + i * (uint64_t)s->h.token_bytes;

	if (s->h.token_bytes == 2)
		return (uint32_t)p[0] | (uint32_t)p[1] << 8;
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/*
 * Writing a shard: tokens go to "PATH.tmp" and the index is built on the
 * way; commit writes the final header and the index, syncs both and
 * renames them into place.  free without commit removes the temporaries.
 */
struct qn_shard_writer;

int qn_shard_writer_open(const char *path, const struct qn_shard_header *h,
			 struct qn_shard_writer **out, struct qn_err *err);
/* Starts a piece of document id at the current position (flags QN_DOC_*). */
void qn_shard_writer_doc(struct qn_shard_writer *w, const uint8_t id[16],
			 uint32_t flags);
/* Marks the current (last) piece as going on in the next shard. */
void qn_shard_writer_more(struct qn_shard_writer *w);
int qn_shard_writer_tokens(struct qn_shard_writer *w, const uint32_t *ids,
			   size_t n, struct qn_err *err);
/* The same from n tokens already in the shard's width, little-endian. */
int qn_shard_writer_raw(struct qn_shard_writer *w, const void *le, size_t n,
			struct qn_err *err);
uint64_t qn_shard_writer_ntokens(const struct qn_shard_writer *w);
uint64_t qn_shard_writer_ndocs(const struct qn_shard_writer *w);
const struct qn_shard_doc *qn_shard_writer_docs(const struct qn_shard_writer *w);
int qn_shard_writer_commit(struct qn_shard_writer *w, struct qn_err *err);
void qn_shard_writer_free(struct qn_shard_writer *w);

/*
 * Packing documents into the numbered shards of one split: an
 * end-of-text token, then the document's tokens, document after
 * document, a new shard when one holds shard_tokens tokens.  A document
 * that does not fit is cut there and goes on in the next shard (the
 * pieces flagged QN_DOC_MORE and QN_DOC_CONT in the indexes), unless
 * no_split: then it starts a new shard, which holds it whole even past
 * shard_tokens (a document longer than the 2^31-1 tokens a shard can
 * hold is an error).  Shards are PREFIX_NNNNNN.bin with their .qidx in
 * dir, committed (renamed into place) one by one.
 */
struct qn_packer_opts {
	const char *dir;
	const char *prefix;		/* "train", "val" */
	struct qn_shard_header proto;	/* vocabulary, eot, hash, split */
	uint64_t shard_tokens;
	int no_split;
	/* Called after each shard is committed, with its index entries. */
	void (*shard_done)(void *ctx, const char *name, const struct qn_shard_doc *docs,
			   uint64_t ndocs, uint64_t ntokens);
	void *ctx;
};

struct qn_packer;

int qn_packer_new(const struct qn_packer_opts *o, struct qn_packer **out,
		  struct qn_err *err);
/* Adds a document: the end-of-text token (when the tokenizer has one), then ids. */
int qn_packer_doc(struct qn_packer *p, const uint8_t id[16], const uint32_t *ids,
		  size_t n, struct qn_err *err);
/* The same from n tokens already in the shard's width, little-endian. */
int qn_packer_doc_raw(struct qn_packer *p, const uint8_t id[16], const void *le,
		      size_t n, struct qn_err *err);
/* Commits the last shard. */
int qn_packer_finish(struct qn_packer *p, struct qn_err *err);
uint64_t qn_packer_docs(const struct qn_packer *p);
void qn_packer_free(struct qn_packer *p);

/* The .qidx path of a .bin path (malloc'd). */
char *qn_shard_idx_path(const char *bin_path);

/* ---- the directory's metadata (shards.meta) ---- */

struct qn_meta_shard {
	char *name;		/* file name inside the directory */
	int split;
	uint64_t tokens, docs;	/* docs: index entries (pieces) */
};

struct qn_shard_meta {
	char format[16];	/* "llmc" or "megatron" */
	uint32_t vocab_size;
	int64_t eot;
	char tok_hash[33];
	int token_bytes;
	uint64_t seed, shard_tokens;
	double val_fraction;
	int no_split;
	uint64_t docs[2];	/* whole documents per split */
	struct qn_meta_shard *shards;
	size_t nshards;
};

/*
 * Parses text[0..n) (name for messages, "name:LINE: what").  Lines are
 * "key value"; unknown keys are an error only when they cannot be a later
 * version's (the first line says "quern-shard-meta 1").
 */
int qn_shard_meta_parse(const char *text, size_t n, const char *name,
			struct qn_shard_meta *m, struct qn_err *err);
int qn_shard_meta_read(const char *dir, struct qn_shard_meta *m,
		       struct qn_err *err);
void qn_shard_meta_format(const struct qn_shard_meta *m, struct qn_buf *out);
void qn_shard_meta_add(struct qn_shard_meta *m, const char *name, int split,
		       uint64_t tokens, uint64_t docs);
void qn_shard_meta_release(struct qn_shard_meta *m);

/* ---- Megatron-LM indexed dataset (MMIDIDX version 1) ---- */

#define QN_MMIDX_MAGIC "MMIDIDX\0\0"	/* 9 bytes */

struct qn_mmidx {
	int dtype;		/* 8: uint16, 4: int32 */
	int token_bytes;
	uint64_t nseq, ndoc_idx;
	const uint8_t *sizes;	/* int32[nseq], little-endian, into the buffer */
	const uint8_t *pointers;	/* int64[nseq] byte offsets into .bin */
	const uint8_t *doc_idx;	/* int64[ndoc_idx] */
};

/*
 * Checks a .idx of a .bin of binlen bytes: header, sizes, pointers that
 * follow each other exactly from 0 to binlen, doc_idx from 0 rising to
 * nseq.  The pointers stay into p.
 */
int qn_mmidx_parse(const void *p, size_t n, const char *name, uint64_t binlen,
		   struct qn_mmidx *x, struct qn_err *err);
/* The .idx bytes for sequences of the given lengths, one document each. */
void qn_mmidx_encode(int token_bytes, const uint32_t *sizes, uint64_t nseq,
		     struct qn_buf *out);

/* Little-endian loads and stores. */
static inline uint32_t qn_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t qn_le64(const uint8_t *p)
{
	return (uint64_t)qn_le32(p) | (uint64_t)qn_le32(p + 4) << 32;
}

static inline void qn_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline void qn_put64(uint8_t *p, uint64_t v)
{
	qn_put32(p, (uint32_t)v);
	qn_put32(p + 4, (uint32_t)(v >> 32));
}

/* A 64-bit mixer (splitmix64's finaliser): the hash behind every order. */
static inline uint64_t qn_mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

#endif
