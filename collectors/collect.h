/*
 * collect.h: what quern-collect's main loop (quern-collect.c) and its
 * readers (content.c: files, archives, WARC, JSONL, text and HTML) share.
 *
 * The main thread walks the SOURCEs into batches of items, one item per
 * input file; a worker turns each item into results, one per document
 * found or per thing left out (a file holds many documents when it is an
 * archive, a WARC or a JSONL stream), appending each document's JSON line
 * to its batch; the main thread writes and records the results in order.
 */
#ifndef QN_COLLECT_H
#define QN_COLLECT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "hash.h"
#include "html.h"

/*
 * Why something gave no document.  Up to SK_BAD_RECORD they are decided
 * by content and recorded as reject events; the last ones only counted.
 */
enum reason {
	SK_EMPTY, SK_BINARY, SK_INVALID_UTF8, SK_TOO_LARGE, SK_BOMB, SK_DEPTH,
	SK_TRUNCATED, SK_CORRUPT, SK_BAD_RECORD,
	SK_SYMLINK, SK_LOOP, SK_SPECIAL, NREASONS
};
extern const char *const reason_name[NREASONS];

/* The limits that content.c applies (set by main). */
struct collect_limits {
	uint64_t max_doc_bytes;	/* longest text of one document, decompressed */
	uint64_t max_ratio;	/* decompressed / stored bytes past 1 MiB: a bomb */
	int max_depth;		/* archives and compressions inside each other */
};
extern struct collect_limits limits;

/*
 * 1 (the default): a file read whole whose bytes are plain text, or gzip
 * members of plain text, goes straight to its document (libdeflate, no
 * libarchive reader).  The general path gives the same results for the
 * same bytes; tests set 0 to compare against it.
 */
extern int collect_shortcuts;

/*
 * The parser HTML pages go through: HTML_PARSER_QUERN (the default, the
 * fast one) or HTML_PARSER_GUMBO (the reference; see html.h).
 */
extern enum html_parser collect_html_parser;

enum item_kind { IT_FILE, IT_STDIN, IT_ERROR };
enum outcome { R_DOC, R_SKIP };

/* A document or a thing left out, found in an item. */
struct result {
	enum outcome outcome;
	enum reason reason;	/* with R_SKIP */
	int error;		/* R_SKIP that is also a read error (corrupt, truncated) */
	char id[QN_HASH_HEX];
	char *source;		/* NULL: the item's */
	char *locator;
	char *msg;		/* R_SKIP: what was found */
	uint64_t text_bytes;
	size_t json_off, json_len;	/* R_DOC: its line in the batch's output */
};

/*
 * One input file and, once a worker is done with it, what came of it.
 * IT_ERROR items carry a walk error to be reported in order.
 */
struct item {
	enum item_kind kind;
	char *path;		/* to open and to name in messages; "-" for stdin */
	char *source;		/* the file:// URI (NULL for IT_ERROR) */
	char *abspath;		/* path resolved, when the walk knows it (else NULL) */
	const char *name;	/* non-NULL: path's base name, to open relative to dirfd */
	int dirfd;		/* the walk's open directory of path, with name */
	void *dir;		/* what holds dirfd open (quern-collect.c's) */
	/* set by the worker */
	char *error;		/* the file could not be read at all */
	struct result *res;
	int nres, capres;
	uint64_t raw_bytes;	/* bytes of the file as stored, read */
	struct qn_hash128 hash;	/* of all raw bytes, when hashed */
	int hashed;		/* the whole file was read: raw_bytes is its size */
};

/*
 * Where a batch's JSON lines go, in item order: memory, and once that
 * holds spill_at bytes, an unlinked temporary file in $TMPDIR (or /tmp),
 * so that a container of many documents (a WARC, a JSONL stream, a tar)
 * waits for the main thread on disk rather than in memory.  Offsets are
 * logical: a line at off < spilled is in fd at off, any other in json at
 * off - spilled.  Whole lines are spilled, so none straddles the two.
 */
struct collect_out {
	struct qn_buf json;	/* the lines not spilled */
	int fd;			/* the spill file; -1 until one is needed */
	uint64_t spilled;	/* bytes in it */
	size_t spill_at;	/* 0: never spill */
	char *error;		/* a spill failed: why (the lines are lost) */
};

/*
 * Bytes of a batch's lines held in memory before they go to disk: 32 MiB,
 * or QUERN_COLLECT_SPILL (read by main; tests set a few bytes).
 */
#define COLLECT_SPILL_BYTES ((size_t)32 << 20)

/* An empty output spilling at spill_at; collect_out_reset empties it, keeping memory. */
void collect_out_init(struct collect_out *o, size_t spill_at);
void collect_out_reset(struct collect_out *o);
void collect_out_release(struct collect_out *o);
/*
 * The line at logical offset off, len bytes: in memory, or read back from
 * the spill file into tmp.  NULL with errno set on a read error.
 */
const char *collect_out_line(struct collect_out *o, size_t off, size_t len, struct qn_buf *tmp);

struct scratch;
struct scratch *scratch_new(void);
void scratch_free(struct scratch *s);

/*
 * Reads it->path (or stdin) and appends its results to it, and the JSON
 * lines of its documents to out.  Never fails the run (a failed spill is
 * out->error).
 */
void collect_item(struct item *it, struct scratch *s, struct collect_out *out);
/*
 * The same for bytes in memory, as if they were a file's content
 * (it->source names them), the lines all in json; for tests and fuzzing.
 * Sets no hash.
 */
void collect_bytes(struct item *it, struct scratch *s, const void *p, size_t n,
		   struct qn_buf *json);
void item_release(struct item *it);

#endif
