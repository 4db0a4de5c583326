/*
 * docstream.h: the document stream, quern's one interchange format.
 *
 * A stream is JSON Lines, one document a line (DESIGN.md, "Document
 * stream"): {"id":..,"text":..,"source":..,"locator":..,...}.  Readers take
 * any compression libarchive detects by content (plain, gzip, zstd, xz,
 * bzip2, lz4, ...) from a file or stdin; writers compress by the output
 * name (.zst, .gz, else plain; "-" is stdout, plain) and publish a file
 * only when it is complete, so a killed writer leaves earlier outputs as
 * they were and no partial file behind.
 *
 * Members other than the four known ones are kept as raw JSON bytes and
 * written back unchanged, in their input order, after the known ones.
 */
#ifndef QN_DOCSTREAM_H
#define QN_DOCSTREAM_H

#include <stdint.h>

#include "buf.h"
#include "err.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * One document.  All members are owned buffers, reused when the same
 * struct is read into again.  extra holds the other members as raw JSON,
 * comma-separated, without braces ("" when there are none).
 */
struct qn_doc {
	struct qn_buf id;
	struct qn_buf text;
	struct qn_buf source;
	struct qn_buf locator;
	struct qn_buf extra;
	unsigned has_id : 1, has_source : 1, has_locator : 1;
	long line;		/* input line it was read from; 0 if none */
};

void qn_doc_init(struct qn_doc *d);
void qn_doc_release(struct qn_doc *d);
/* Copies every member of src into dst (dst keeps its allocations). */
void qn_doc_copy(struct qn_doc *dst, const struct qn_doc *src);
/* Sets source and locator, and the id that DESIGN.md derives from them. */
void qn_doc_set_origin(struct qn_doc *d, const char *source, const char *locator);
/* Appends d as one JSON line, newline included, to out. */
void qn_doc_to_json(const struct qn_doc *d, struct qn_buf *out);

/* Reading. */

#define QN_MAX_LINE_DEFAULT (256u << 20)

struct qn_docreader_opts {
	size_t max_line;	/* longest line accepted; 0: QN_MAX_LINE_DEFAULT */
};

struct qn_docreader;

/*
 * Opens path ("-" is stdin) for reading; NULL with err set if it cannot be
 * opened or its compression is not recognised.  opts may be NULL.
 */
struct qn_docreader *qn_docreader_open(const char *path,
				       const struct qn_docreader_opts *opts,
				       struct qn_err *err);
/*
 * Reads the next document into d.  Returns 1 with a document, 0 at the end
 * of the stream, QN_EINPUT for one bad line (invalid JSON, invalid UTF-8,
 * no string "text", a line over max_line) after which the next call goes
 * on with the following line, or QN_EIO/QN_EFORMAT when the stream itself
 * is broken (read error, truncated or corrupt compression): stop then.
 * Messages read "NAME:LINE: what".  Blank lines are skipped.
 */
int qn_docreader_next(struct qn_docreader *r, struct qn_doc *d,
		      struct qn_err *err);
/* The name used in messages ("<stdin>" for "-"). */
const char *qn_docreader_name(const struct qn_docreader *r);
/* Bytes consumed so far: of the file as stored, and decompressed. */
uint64_t qn_docreader_raw_bytes(const struct qn_docreader *r);
uint64_t qn_docreader_bytes(const struct qn_docreader *r);
void qn_docreader_close(struct qn_docreader *r);

/* Writing. */

struct qn_docwriter_opts {
	uint64_t part_bytes;	/* start a new part past this many bytes (uncompressed); 0: one part */
	int level;		/* compression level; 0: the format's default (zstd 3, gzip 6) */
	/*
	 * zstd worker threads; 0 compresses on the caller's thread.  The
	 * bytes are the same for every threads >= 1 (zstd's streaming
	 * multi-threaded format), but differ from threads = 0: a program
	 * passes its -j here, never 0 for -j1, so its output is the same
	 * for any -j.
	 */
	int threads;
};

struct qn_docwriter;

/*
 * Opens a writer.  path is a file name, "-" (stdout), or a name with one
 * printf conversion for the part number ("out-%05d.jsonl.zst"), which
 * part_bytes requires.  Nothing appears under the final name until
 * qn_docwriter_commit.
 */
struct qn_docwriter *qn_docwriter_open(const char *path,
				       const struct qn_docwriter_opts *opts,
				       struct qn_err *err);
int qn_docwriter_write(struct qn_docwriter *w, const struct qn_doc *d,
		       struct qn_err *err);
/* Writes lines already serialized by qn_doc_to_json (one or more). */
int qn_docwriter_write_json(struct qn_docwriter *w, const char *lines,
			    size_t n, struct qn_err *err);
/*
 * Finishes every part, flushes it to disk and renames it into place, then
 * removes parts with higher numbers left by an earlier run.  Returns 0 or
 * QN_EIO; after a failure nothing has been published.
 */
int qn_docwriter_commit(struct qn_docwriter *w, struct qn_err *err);
/* After commit: how many files were written, and their names. */
int qn_docwriter_nparts(const struct qn_docwriter *w);
const char *qn_docwriter_part(const struct qn_docwriter *w, int i);
/* Documents written so far. */
uint64_t qn_docwriter_docs(const struct qn_docwriter *w);
/* Frees w; an uncommitted writer's temporary files are removed. */
void qn_docwriter_free(struct qn_docwriter *w);

#ifdef __cplusplus
}
#endif

#endif
