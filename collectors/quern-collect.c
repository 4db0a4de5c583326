/*
 * quern-collect: turn directories and files of text into a document
 * stream, the first step of every quern pipeline.
 *
 * Each file becomes one document whose text is the file's bytes, after
 * any compression libarchive recognises by content has been undone
 * (libarchive's "raw" format with every filter: README.gz is read as
 * README).  What is not text is left out and said why: content with a
 * NUL byte near the start is "binary", content that is not UTF-8 is
 * "invalid_utf8", and so on; each such file is counted and recorded in
 * the manifest as a "reject" event on the id its document would have
 * had, so an auditor can tell what a corpus is missing and why.
 *
 * The shape of the program is the ordered pool of lib/pool.h.  The main
 * thread walks the sources in a fixed order (each directory's entries
 * sorted by strcmp, so documents come out in the byte order of their
 * paths whatever the locale or the file system), packs file names into
 * batches and submits them; workers read the files, check the text and
 * serialize the JSON lines into their batch; the main thread takes the
 * batches back in submission order, writes the lines, and records
 * documents, events and files in the manifest.  Nothing that reaches the
 * output depends on which worker did what, so -j1 and -jN write the same
 * bytes.  Walk errors (an unreadable directory) travel in the batches
 * too, so messages and the --max-errors cut-off come in path order.
 *
 * Archives, WARC/WET, HTML extraction and charset detection are not in
 * this version: a tar file comes out of the raw format as tar bytes and
 * is left out as binary.
 */
#define _GNU_SOURCE
#include <archive.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "docstream.h"
#include "err.h"
#include "hash.h"
#include "manifest.h"
#include "pool.h"
#include "progress.h"
#include "utf8.h"

enum {
	BATCH_FILES = 64,		/* files per batch at most */
	BATCH_BYTES = 8 << 20,		/* and bytes (by file size) */
	SNIFF_BYTES = 64 << 10,		/* a NUL in these first bytes: binary */
	READ_CHUNK = 256 << 10,		/* read() size for input files */
	TEXT_CHUNK = 256 << 10		/* archive_read_data() size */
};

#define MAX_FILE_BYTES_DEFAULT ((uint64_t)64 << 20)
#define MAX_ERRORS_DEFAULT 1000

/* Options, as given or defaulted. */
static struct {
	const char *manifest, *output;
	int threads, quiet, follow;
	uint64_t max_file_bytes, part_bytes;
	long max_errors;
	char **include, **exclude;
	int ninclude, nexclude;
} opt;

/*
 * Why a file gave no document.  The first ones are decided by its content
 * (recorded as reject events), the others by the walk (only counted).
 */
enum reason {
	SK_EMPTY, SK_BINARY, SK_INVALID_UTF8, SK_TOO_LARGE,
	SK_SYMLINK, SK_LOOP, SK_SPECIAL, NREASONS
};
static const char *const reason_name[NREASONS] = {
	"empty", "binary", "invalid_utf8", "too_large",
	"symlink", "loop", "special"
};

static struct {
	uint64_t files, docs, bytes, raw_bytes, errors, excluded;
	uint64_t skipped[NREASONS];
} cnt;

/* ---- batches ---- */

enum item_kind { IT_FILE, IT_STDIN, IT_ERROR };
enum outcome { R_DOC, R_SKIP, R_ERROR };

/*
 * One input file and, once a worker is done with it, what came of it.
 * IT_ERROR items carry a walk error to be reported in order.
 */
struct item {
	enum item_kind kind;
	char *path;		/* to open and to name in messages; "-" for stdin */
	char *source;		/* the file:// URI (NULL for IT_ERROR) */
	/* set by the worker */
	enum outcome outcome;
	enum reason reason;	/* with R_SKIP */
	char *msg;		/* R_ERROR: the message; R_SKIP: the measured value */
	char *locator;
	char id[QN_HASH_HEX];
	uint64_t text_bytes;	/* decompressed bytes read */
	uint64_t raw_bytes;	/* bytes of the file as stored, read so far */
	struct qn_hash128 hash;	/* of all raw bytes, when hashed */
	int hashed;		/* the whole file was read: raw_bytes is its size */
	size_t json_off, json_len;	/* the document's line in the batch's json */
};

struct batch {
	struct item *items;
	int n, cap;
	uint64_t bytes;		/* sum of file sizes, for batching */
	struct qn_buf json;	/* the serialized documents, in item order */
};

static struct batch *batch_new(void)
{
	return qn_xcalloc(1, sizeof(struct batch));
}

static void batch_free(struct batch *b)
{
	int i;

	if (!b)
		return;
	for (i = 0; i < b->n; i++) {
		free(b->items[i].path);
		free(b->items[i].source);
		free(b->items[i].msg);
		free(b->items[i].locator);
	}
	free(b->items);
	qn_buf_release(&b->json);
	free(b);
}

static struct item *batch_add(struct batch *b)
{
	struct item *it;

	if (b->n == b->cap) {
		b->cap = b->cap ? 2 * b->cap : BATCH_FILES;
		b->items = qn_xrealloc(b->items, (size_t)b->cap * sizeof *b->items);
	}
	it = &b->items[b->n++];
	memset(it, 0, sizeof *it);
	return it;
}

/* ---- reading one file (on a worker) ---- */

/* Per-worker scratch, reused from file to file. */
struct scratch {
	struct qn_doc doc;
	struct qn_hasher *hasher;	/* the current file's */
	int fd;
	uint64_t raw;
	char buf[READ_CHUNK];
};

static struct scratch **scratch;

/*
 * libarchive's read callback: reads the file itself so that every raw
 * byte is hashed on the way, whatever libarchive then does with it.
 */
static la_ssize_t read_cb(struct archive *a, void *client, const void **out)
{
	struct scratch *s = client;
	ssize_t n;

	do
		n = read(s->fd, s->buf, sizeof s->buf);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		archive_set_error(a, errno, "%s", strerror(errno));
		return -1;
	}
	qn_hasher_update(s->hasher, s->buf, (size_t)n);
	s->raw += (uint64_t)n;
	*out = s->buf;
	return n;
}

/* Reads what libarchive left of the file, for the hash.  0 or -errno. */
static int drain(struct scratch *s)
{
	for (;;) {
		ssize_t n = read(s->fd, s->buf, sizeof s->buf);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		qn_hasher_update(s->hasher, s->buf, (size_t)n);
		s->raw += (uint64_t)n;
	}
}

/* A stable short name for a libarchive filter, for the locator. */
static const char *filter_name(struct archive *a, int i)
{
	switch (archive_filter_code(a, i)) {
	case ARCHIVE_FILTER_GZIP: return "gzip";
	case ARCHIVE_FILTER_BZIP2: return "bzip2";
	case ARCHIVE_FILTER_COMPRESS: return "compress";
	case ARCHIVE_FILTER_LZMA: return "lzma";
	case ARCHIVE_FILTER_XZ: return "xz";
	case ARCHIVE_FILTER_UU: return "uu";
	case ARCHIVE_FILTER_RPM: return "rpm";
	case ARCHIVE_FILTER_LZIP: return "lzip";
	case ARCHIVE_FILTER_LRZIP: return "lrzip";
	case ARCHIVE_FILTER_LZOP: return "lzop";
	case ARCHIVE_FILTER_GRZIP: return "grzip";
	case ARCHIVE_FILTER_LZ4: return "lz4";
	case ARCHIVE_FILTER_ZSTD: return "zstd";
	default: return "other";
	}
}

/*
 * The locator of a file's document: "" for a plain file, else
 * "filter=NAME", the outermost compression first when there are several
 * ("filter=xz,gzip" for README.gz.xz).  libarchive numbers its filters
 * from the one nearest the data (0) to the file itself (count - 1, the
 * "none" reader).
 */
static void set_filters(struct qn_buf *loc, struct archive *a)
{
	int i, n = archive_filter_count(a), first = 1;

	for (i = n - 1; i >= 0; i--) {
		if (archive_filter_code(a, i) == ARCHIVE_FILTER_NONE)
			continue;
		qn_buf_puts(loc, first ? "filter=" : ",");
		qn_buf_puts(loc, filter_name(a, i));
		first = 0;
	}
}

/*
 * Whether the file starts with the magic number of a compressor that has
 * one (gzip, xz, bzip2, zstd, lz4, compress, lzip, lzop): its decoding
 * errors are real.  Legacy .lzma and uuencode have none.
 */
static int strong_magic(int fd)
{
	static const struct { const char *m; size_t n; } magic[] = {
		{ "\x1f\x8b", 2 }, { "\xfd" "7zXZ", 6 }, { "BZh", 3 }, { "\x28\xb5\x2f\xfd", 4 },
		{ "\x04\x22\x4d\x18", 4 }, { "\x1f\x9d", 2 }, { "LZIP", 4 }, { "\x89LZO", 4 },
	};
	unsigned char b[6];
	ssize_t n = pread(fd, b, sizeof b, 0);
	size_t i;

	for (i = 0; n > 0 && i < sizeof magic / sizeof magic[0]; i++)
		if ((size_t)n >= magic[i].n && !memcmp(b, magic[i].m, magic[i].n))
			return 1;
	return 0;
}

static void item_error(struct item *it, const char *what)
{
	it->outcome = R_ERROR;
	it->msg = qn_xasprintf("%s: %s", it->path, what);
}

static void item_skip(struct item *it, enum reason r, char *value)
{
	it->outcome = R_SKIP;
	it->reason = r;
	it->msg = value;
}

/*
 * Reads it->path (or stdin), decides whether it is a document, and if so
 * appends its JSON line to json.  Sets the item's outcome; never fails
 * the run.
 */
static void collect(struct item *it, struct scratch *s, struct qn_buf *json)
{
	struct qn_buf *text = &s->doc.text;
	struct qn_buf loc = QN_BUF_INIT;
	struct archive *a;
	struct archive_entry *ent;
	int rc, sniffed = 0, whole = 0, stop = 0, plain = 0;
	size_t bad;

	qn_buf_reset(text);
	if (it->kind == IT_STDIN) {
		s->fd = 0;
	} else {
		struct stat st;

		/* O_NONBLOCK: a file swapped for a FIFO after the walk must not hang us. */
		s->fd = open(it->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		if (s->fd < 0) {
			item_error(it, strerror(errno));
			return;
		}
		if (fstat(s->fd, &st) < 0) {
			item_error(it, strerror(errno));
			close(s->fd);
			return;
		}
		if (S_ISDIR(st.st_mode)) {
			item_error(it, "is a directory");
			close(s->fd);
			return;
		}
		if (!S_ISREG(st.st_mode))	/* an operand that is a pipe: block as usual */
			fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) & ~O_NONBLOCK);
	}
again:
	s->hasher = qn_hasher_new();
	s->raw = 0;
	a = archive_read_new();
	if (!plain)
		archive_read_support_filter_all(a);
	archive_read_support_format_raw(a);
	archive_read_support_format_empty(a);
	rc = archive_read_open(a, s, NULL, read_cb, NULL);
	if (rc == ARCHIVE_OK || rc == ARCHIVE_WARN)
		rc = archive_read_next_header(a, &ent);
	if (rc == ARCHIVE_EOF) {
		whole = 1;		/* format "empty": no bytes at all */
	} else if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
		const char *why = archive_error_string(a);

		/*
		 * Legacy .lzma has no real magic number, so libarchive takes
		 * some binary files for it (fortune's .dat files) and fails
		 * on the first block.  Such a file, without the magic of a
		 * real compressor, is read as the bytes it is; the text
		 * checks decide.
		 */
		if (!plain && it->kind != IT_STDIN && !strong_magic(s->fd) &&
		    lseek(s->fd, 0, SEEK_SET) == 0) {
			archive_read_free(a);
			qn_hasher_free(s->hasher);
			plain = 1;
			goto again;
		}
		item_error(it, why ? why : "truncated or corrupt compressed data");
		goto out;
	} else {
		set_filters(&loc, a);
	}
	while (!whole && !stop) {
		la_ssize_t n;

		qn_buf_grow(text, TEXT_CHUNK);
		n = archive_read_data(a, text->data + text->len, TEXT_CHUNK);
		if (n < 0) {
			const char *why = archive_error_string(a);

			text->data[text->len] = '\0';
			item_error(it, why ? why : "truncated or corrupt compressed data");
			goto out;
		}
		if (n == 0) {
			whole = 1;
			break;
		}
		text->len += (size_t)n;
		if (!sniffed && text->len >= SNIFF_BYTES) {
			const char *nul = memchr(text->data, '\0', SNIFF_BYTES);

			sniffed = 1;
			if (nul) {
				item_skip(it, SK_BINARY, qn_xasprintf("NUL byte at offset %zu",
								      (size_t)(nul - text->data)));
				stop = 1;
			}
		}
		if (!stop && text->len > opt.max_file_bytes) {
			/* Binary wins over too large, whatever the limit. */
			const char *nul = sniffed ? NULL : memchr(text->data, '\0', text->len);

			if (nul)
				item_skip(it, SK_BINARY, qn_xasprintf("NUL byte at offset %zu",
								      (size_t)(nul - text->data)));
			else
				item_skip(it, SK_TOO_LARGE, qn_xasprintf("over %llu bytes",
									  (unsigned long long)opt.max_file_bytes));
			stop = 1;
		}
	}
	if (text->data)
		text->data[text->len] = '\0';
	it->text_bytes = text->len;
	/*
	 * The file's hash needs all of its bytes: drain what libarchive did
	 * not read when the content was read to its end, and always for
	 * stdin, whose locator holds the hash.
	 */
	if (whole || it->kind == IT_STDIN) {
		int e = drain(s);

		if (e < 0) {
			free(it->msg);
			it->msg = NULL;
			item_error(it, strerror(-e));
			goto out;
		}
		it->hashed = 1;
		it->hash = qn_hasher_digest(s->hasher);
	}
	if (it->kind == IT_STDIN) {
		char hex[QN_HASH_HEX];

		qn_hash_hex(it->hash, hex);
		qn_buf_appendf(&loc, "%sxxh3=%s", loc.len ? ";" : "", hex);
	}
	qn_doc_id(it->source, strlen(it->source), qn_buf_str(&loc), loc.len, it->id);
	it->locator = qn_xstrdup(qn_buf_str(&loc));
	if (stop)
		goto out;
	if (text->len == 0) {
		item_skip(it, SK_EMPTY, qn_xstrdup("0 bytes"));
	} else if (!sniffed && memchr(text->data, '\0', text->len)) {
		const char *nul = memchr(text->data, '\0', text->len);

		item_skip(it, SK_BINARY, qn_xasprintf("NUL byte at offset %zu",
						      (size_t)(nul - text->data)));
	} else if ((bad = qn_utf8_check(text->data, text->len)) != text->len) {
		item_skip(it, SK_INVALID_UTF8, qn_xasprintf("invalid UTF-8 at offset %zu", bad));
	} else {
		it->outcome = R_DOC;
		qn_buf_set(&s->doc.source, it->source, strlen(it->source));
		qn_buf_set(&s->doc.locator, it->locator, strlen(it->locator));
		qn_buf_set(&s->doc.id, it->id, 32);
		s->doc.has_id = s->doc.has_source = s->doc.has_locator = 1;
		it->json_off = json->len;
		qn_doc_to_json(&s->doc, json);
		it->json_len = json->len - it->json_off;
	}
out:
	it->raw_bytes = s->raw;
	archive_read_free(a);
	qn_hasher_free(s->hasher);
	s->hasher = NULL;
	if (it->kind != IT_STDIN)
		close(s->fd);
	qn_buf_release(&loc);
	/* Do not keep a huge buffer around for the next, small file. */
	if (text->cap > 4 * (size_t)TEXT_CHUNK + opt.max_file_bytes / 4)
		qn_buf_release(text);
}

static void work(void *ctx, void *batch, int worker)
{
	struct batch *b = batch;
	int i;

	for (i = 0; i < b->n; i++)
		if (b->items[i].kind != IT_ERROR)
			collect(&b->items[i], scratch[worker], &b->json);
}

/* ---- writing (on the main thread) ---- */

static struct qn_pool *pool;
static struct qn_docwriter *writer;
static struct qn_manifest *manifest;
static struct qn_progress progress;
static struct batch *cur;
static char *failure;		/* why the run failed; NULL while it goes on */

static void fail(const char *msg)
{
	if (!failure)
		failure = qn_xstrdup(msg);
}

/* "SOURCE[ LOCATOR]: what", the value of a reject event. */
static char *reject_value(const struct item *it)
{
	return qn_xasprintf("%s%s%s: %s", it->source, *it->locator ? " " : "",
			    it->locator, it->msg);
}

/* Writes a finished batch and records it; frees it. */
static void consume(struct batch *b)
{
	struct qn_err err;
	int i;

	for (i = 0; i < b->n && !failure; i++) {
		struct item *it = &b->items[i];
		int rc = 0;

		if (it->kind != IT_ERROR) {
			cnt.files++;
			cnt.raw_bytes += it->raw_bytes;
		}
		if (it->kind == IT_ERROR || it->outcome == R_ERROR) {
			qn_warnx("%s", it->msg);
			if (++cnt.errors > (uint64_t)opt.max_errors) {
				char *m = qn_xasprintf("more than %ld errors (--max-errors), giving up",
						       opt.max_errors);

				fail(m);
				free(m);
			}
			continue;
		}
		if (it->outcome == R_DOC) {
			rc = qn_docwriter_write_json(writer, b->json.data + it->json_off,
						     it->json_len, &err);
			if (!rc)
				rc = qn_manifest_doc(manifest, it->id, it->source, it->locator,
						     it->text_bytes, &err);
			cnt.docs++;
			cnt.bytes += it->text_bytes;
		} else {
			char *value = reject_value(it);
			char rule[64];

			snprintf(rule, sizeof rule, "collect:%s", reason_name[it->reason]);
			rc = qn_manifest_event(manifest, it->id, "reject", rule, value, NULL, &err);
			free(value);
			cnt.skipped[it->reason]++;
		}
		if (!rc && it->hashed && it->kind == IT_FILE)
			rc = qn_manifest_file_hashed(manifest, it->path, it->raw_bytes,
						     it->hash, QN_INPUT, &err);
		if (rc)
			fail(err.msg);
	}
	qn_progress_update(&progress, cnt.files, cnt.raw_bytes);
	batch_free(b);
}

/* Hands the current batch to the pool, first taking back one if it is full. */
static void submit(void)
{
	if (!cur || !cur->n)
		return;
	if (qn_pool_full(pool))
		consume(qn_pool_next(pool));
	qn_pool_submit(pool, cur);
	cur = NULL;
}

static struct item *new_item(void)
{
	if (!cur)
		cur = batch_new();
	return batch_add(cur);
}

static void batch_done_maybe(void)
{
	if (cur && (cur->n >= BATCH_FILES || cur->bytes >= BATCH_BYTES))
		submit();
}

/* "file://" and the absolute path, bytes outside [A-Za-z0-9-._~/] as %XX. */
static char *file_uri(const char *abs, const char *rel)
{
	static const char hex[] = "0123456789ABCDEF";
	struct qn_buf b = QN_BUF_INIT;
	const char *parts[2] = { abs, rel };
	int k;

	qn_buf_puts(&b, "file://");
	for (k = 0; k < 2; k++) {
		const unsigned char *p = (const unsigned char *)parts[k];

		if (!p)
			continue;
		if (k == 1 && b.len && b.data[b.len - 1] != '/')
			qn_buf_putc(&b, '/');
		for (; *p; p++) {
			if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			    (*p >= '0' && *p <= '9') || strchr("-._~/", *p)) {
				qn_buf_putc(&b, (char)*p);
			} else {
				qn_buf_putc(&b, '%');
				qn_buf_putc(&b, hex[*p >> 4]);
				qn_buf_putc(&b, hex[*p & 15]);
			}
		}
	}
	return b.data;	/* detached */
}

static void add_file(const char *path, const char *abs_root, const char *rel,
		     uint64_t size)
{
	struct item *it = new_item();

	it->kind = IT_FILE;
	it->path = qn_xstrdup(path);
	it->source = file_uri(abs_root, rel);
	cur->bytes += size;
	batch_done_maybe();
	if (qn_signalled && !failure) {
		char *m = qn_xasprintf("interrupted by %s", strsignal(qn_signalled));

		fail(m);
		free(m);
	}
}

static void add_stdin(void)
{
	struct item *it = new_item();

	it->kind = IT_STDIN;
	it->path = qn_xstrdup("-");
	it->source = qn_xstrdup("stdin:");
	submit();
}

/* A walk error, reported in order with the files around it. */
static void add_error(const char *path, int errnum)
{
	struct item *it = new_item();

	it->kind = IT_ERROR;
	it->path = qn_xstrdup(path);
	it->msg = qn_xasprintf("%s: %s", path, strerror(errnum));
	batch_done_maybe();
}

/* ---- the walk (on the main thread) ---- */

static int match_any(char *const *pats, int n, const char *rel, const char *base)
{
	int i;

	for (i = 0; i < n; i++)
		if (!fnmatch(pats[i], rel, 0) || !fnmatch(pats[i], base, 0))
			return 1;
	return 0;
}

/* Whether a file (or anything that is not a directory) is collected. */
static int selected(const char *rel, const char *base)
{
	if (match_any(opt.exclude, opt.nexclude, rel, base))
		return 0;
	return !opt.ninclude || match_any(opt.include, opt.ninclude, rel, base);
}

enum ent_type { E_FILE, E_DIR, E_LINK, E_SPECIAL, E_ERROR };

struct ent {
	char *name;
	enum ent_type type;
	int errnum;		/* with E_ERROR */
	uint64_t size;
	dev_t dev;
	ino_t ino;
};

/*
 * Entries compare as their names with a '/' after a directory's, so the
 * depth-first walk visits files in the strcmp order of their whole
 * paths ("a-b" before "a/x", as LC_ALL=C sort has them).
 */
static int cmp_ent(const void *pa, const void *pb)
{
	const struct ent *a = pa, *b = pb;
	size_t la = strlen(a->name), lb = strlen(b->name), i;

	for (i = 0;; i++) {
		unsigned ca = i < la ? (unsigned char)a->name[i] : i == la && a->type == E_DIR ? '/' : 0;
		unsigned cb = i < lb ? (unsigned char)b->name[i] : i == lb && b->type == E_DIR ? '/' : 0;

		if (ca != cb)
			return ca < cb ? -1 : 1;
		if (!ca)
			return 0;
	}
}

/* dev/ino of the directories from the SOURCE root down to here. */
static struct dirid {
	dev_t dev;
	ino_t ino;
} *stack;
static int depth, stack_cap;

static int on_stack(dev_t dev, ino_t ino)
{
	int i;

	for (i = 0; i < depth; i++)
		if (stack[i].dev == dev && stack[i].ino == ino)
			return 1;
	return 0;
}

static void push_dir(dev_t dev, ino_t ino)
{
	if (depth == stack_cap) {
		stack_cap = stack_cap ? 2 * stack_cap : 64;
		stack = qn_xrealloc(stack, (size_t)stack_cap * sizeof *stack);
	}
	stack[depth].dev = dev;
	stack[depth++].ino = ino;
}

/* Reads and classifies the entries of the directory open as d. */
static struct ent *read_dir(DIR *d, const char *path, int *np)
{
	struct ent *ents = NULL;
	struct dirent *de;
	int n = 0, cap = 0, fd = dirfd(d);

	for (;;) {
		struct stat st;
		struct ent *e;

		errno = 0;
		if (!(de = readdir(d))) {
			if (errno)
				add_error(path, errno);
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 32;
			ents = qn_xrealloc(ents, (size_t)cap * sizeof *ents);
		}
		e = &ents[n++];
		memset(e, 0, sizeof *e);
		e->name = qn_xstrdup(de->d_name);
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			e->type = E_ERROR;
			e->errnum = errno;
			continue;
		}
		if (S_ISLNK(st.st_mode)) {
			/* A dangling link or a loop of links is a skipped symlink, not an error. */
			if (!opt.follow || fstatat(fd, de->d_name, &st, 0) < 0) {
				if (opt.follow && errno != ENOENT && errno != ELOOP) {
					e->type = E_ERROR;
					e->errnum = errno;
				} else {
					e->type = E_LINK;
				}
				continue;
			}
		}
		e->type = S_ISDIR(st.st_mode) ? E_DIR : S_ISREG(st.st_mode) ? E_FILE : E_SPECIAL;
		e->size = (uint64_t)st.st_size;
		e->dev = st.st_dev;
		e->ino = st.st_ino;
	}
	*np = n;
	return ents;
}

/*
 * Walks the directory at path (a buffer, extended and restored for each
 * entry).  rel_off is where the path relative to the SOURCE root starts;
 * abs_root is the root's absolute path, for the URIs.
 */
static void walk_dir(struct qn_buf *path, size_t rel_off, const char *abs_root)
{
	struct ent *ents;
	DIR *d;
	int i, n;

	if (!(d = opendir(path->data))) {
		add_error(path->data, errno);
		return;
	}
	ents = read_dir(d, path->data, &n);
	closedir(d);
	qsort(ents, (size_t)n, sizeof *ents, cmp_ent);
	for (i = 0; i < n && !failure; i++) {
		struct ent *e = &ents[i];
		size_t len = path->len;
		const char *rel;

		if (path->len && path->data[path->len - 1] != '/')
			qn_buf_putc(path, '/');
		qn_buf_puts(path, e->name);
		rel = path->data + rel_off;
		switch (e->type) {
		case E_DIR:
			if (match_any(opt.exclude, opt.nexclude, rel, e->name)) {
				cnt.excluded++;
			} else if (on_stack(e->dev, e->ino)) {
				cnt.skipped[SK_LOOP]++;
			} else {
				push_dir(e->dev, e->ino);
				walk_dir(path, rel_off, abs_root);
				depth--;
			}
			break;
		case E_FILE:
			if (selected(rel, e->name))
				add_file(path->data, abs_root, rel, e->size);
			else
				cnt.excluded++;
			break;
		case E_LINK:
		case E_SPECIAL:
			if (selected(rel, e->name))
				cnt.skipped[e->type == E_LINK ? SK_SYMLINK : SK_SPECIAL]++;
			else
				cnt.excluded++;
			break;
		case E_ERROR:
			add_error(path->data, e->errnum);
			break;
		}
		path->len = len;
		path->data[len] = '\0';
	}
	for (i = 0; i < n; i++)
		free(ents[i].name);
	free(ents);
}

/* The absolute form of path: resolved when possible, else joined to the cwd. */
static char *absolute(const char *path)
{
	char *r = realpath(path, NULL);
	char cwd[PATH_MAX];

	if (r)
		return r;
	if (path[0] == '/' || !getcwd(cwd, sizeof cwd))
		return qn_xstrdup(path);
	return qn_xasprintf("%s/%s", cwd, path);
}

/* One SOURCE operand, already checked to exist (st is its stat). */
static void walk_source(const char *src, const struct stat *st)
{
	char *abs;

	if (!strcmp(src, "-")) {
		add_stdin();
		return;
	}
	abs = absolute(src);
	if (S_ISDIR(st->st_mode)) {
		struct qn_buf path = QN_BUF_INIT;
		size_t rel_off;

		qn_buf_puts(&path, src);
		rel_off = path.len + (path.data[path.len - 1] != '/');
		depth = 0;
		push_dir(st->st_dev, st->st_ino);
		walk_dir(&path, rel_off, abs);
		depth = 0;
		qn_buf_release(&path);
	} else {
		const char *base = strrchr(src, '/') ? strrchr(src, '/') + 1 : src;

		if (selected(base, base))
			add_file(src, abs, NULL, (uint64_t)st->st_size);
		else
			cnt.excluded++;
	}
	free(abs);
}

/* ---- main ---- */

static void usage(void)
{
	printf("usage: quern-collect [-m DB] -o OUT [-j N] [-q] [--include GLOB]... [--exclude GLOB]...\n"
	       "                     [--follow-symlinks] [--max-file-bytes N] [--part-bytes N]\n"
	       "                     [--max-errors N] SOURCE...\n\n"
	       "Turns files into a document stream: each file of each SOURCE (a directory,\n"
	       "walked in byte order; a file; or - for stdin) becomes one document,\n"
	       "decompressed if compressed.  Binary, invalid UTF-8, empty and too large\n"
	       "files are left out, counted, and recorded in the manifest.\n\n"
	       "Options:\n"
	       "  -o, --output OUT        the stream to write: a file (compressed by its name:\n"
	       "                          .zst, .gz, else plain), - for stdout, or a name with\n"
	       "                          %%05d for parts (with --part-bytes)\n"
	       "  -m, --manifest DB       the manifest (default $QUERN_MANIFEST, else quern.db)\n"
	       "  -j, --threads N         worker threads (default 0: all cores)\n"
	       "  -q, --quiet             no progress meter and no summary\n"
	       "      --include GLOB      collect only files whose path below SOURCE or base\n"
	       "                          name matches GLOB (may be repeated)\n"
	       "      --exclude GLOB      leave out files and directories that match GLOB;\n"
	       "                          wins over --include (may be repeated)\n"
	       "      --follow-symlinks   follow symbolic links (never into a directory loop)\n"
	       "      --max-file-bytes N  leave out files larger than N bytes once\n"
	       "                          decompressed (default 64M; k, M, G suffixes)\n"
	       "      --part-bytes N      start a new output part after N bytes\n"
	       "      --max-errors N      fail the run after more than N read errors\n"
	       "                          (default 1000)\n"
	       "  -h, --help              this help\n"
	       "  -V, --version           the version\n\n"
	       "See quern-collect(1).\n");
}

static uint64_t size_arg(const char *name, const char *arg, int zero_ok)
{
	uint64_t v;

	if (qn_parse_size(arg, &v) < 0 || (!zero_ok && v == 0))
		qn_usage_error("invalid size '%s' for %s", arg, name);
	return v;
}

/* A JSON array of strings in the configuration object. */
static void print_summary(void)
{
	int r, first = 1;

	fprintf(stderr, "%s: %llu document%s (%.1f MB) from %llu file%s",
		qn_progname, (unsigned long long)cnt.docs, cnt.docs == 1 ? "" : "s",
		(double)cnt.bytes / 1e6, (unsigned long long)cnt.files,
		cnt.files == 1 ? "" : "s");
	for (r = 0; r < NREASONS; r++) {
		if (!cnt.skipped[r])
			continue;
		fprintf(stderr, "%s%llu %s", first ? "; skipped: " : ", ",
			(unsigned long long)cnt.skipped[r], reason_name[r]);
		first = 0;
	}
	fprintf(stderr, "; %llu error%s\n", (unsigned long long)cnt.errors,
		cnt.errors == 1 ? "" : "s");
}

static void record_counters(void)
{
	char name[64];
	int r;

	qn_manifest_count(manifest, "files", (int64_t)cnt.files);
	qn_manifest_count(manifest, "docs", (int64_t)cnt.docs);
	qn_manifest_count(manifest, "bytes", (int64_t)cnt.bytes);
	qn_manifest_count(manifest, "raw_bytes", (int64_t)cnt.raw_bytes);
	for (r = 0; r < NREASONS; r++) {
		snprintf(name, sizeof name, "skipped_%s", reason_name[r]);
		qn_manifest_count(manifest, name, (int64_t)cnt.skipped[r]);
	}
	qn_manifest_count(manifest, "excluded", (int64_t)cnt.excluded);
	qn_manifest_count(manifest, "errors", (int64_t)cnt.errors);
}

int main(int argc, char **argv)
{
	enum {
		O_INCLUDE = 256, O_EXCLUDE, O_FOLLOW, O_MAX_FILE_BYTES,
		O_PART_BYTES, O_MAX_ERRORS
	};
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "manifest", required_argument, NULL, 'm' },
		{ "threads", required_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "include", required_argument, NULL, O_INCLUDE },
		{ "exclude", required_argument, NULL, O_EXCLUDE },
		{ "follow-symlinks", no_argument, NULL, O_FOLLOW },
		{ "max-file-bytes", required_argument, NULL, O_MAX_FILE_BYTES },
		{ "part-bytes", required_argument, NULL, O_PART_BYTES },
		{ "max-errors", required_argument, NULL, O_MAX_ERRORS },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct qn_docwriter_opts wopts;
	struct qn_config cfg;
	struct qn_err err;
	struct stat *st;
	struct batch *b;
	int c, i, nsrc, stdin_seen = 0;
	char **srcs, *end;

	qn_cli_init(argc, argv);
	qn_catch_signals();
	opt.threads = 0;
	opt.max_file_bytes = MAX_FILE_BYTES_DEFAULT;
	opt.max_errors = MAX_ERRORS_DEFAULT;
	opt.include = qn_xcalloc((size_t)argc, sizeof *opt.include);
	opt.exclude = qn_xcalloc((size_t)argc, sizeof *opt.exclude);
	while ((c = getopt_long(argc, argv, "o:m:j:qhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'o': opt.output = optarg; break;
		case 'm': opt.manifest = optarg; break;
		case 'j': opt.threads = qn_parse_threads(optarg); break;
		case 'q': opt.quiet = 1; break;
		case O_INCLUDE: opt.include[opt.ninclude++] = optarg; break;
		case O_EXCLUDE: opt.exclude[opt.nexclude++] = optarg; break;
		case O_FOLLOW: opt.follow = 1; break;
		case O_MAX_FILE_BYTES:
			opt.max_file_bytes = size_arg("--max-file-bytes", optarg, 0);
			break;
		case O_PART_BYTES:
			opt.part_bytes = size_arg("--part-bytes", optarg, 1);
			break;
		case O_MAX_ERRORS:
			errno = 0;
			opt.max_errors = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || opt.max_errors < 0)
				qn_usage_error("invalid count '%s' for --max-errors", optarg);
			break;
		case 'h': usage(); return qn_finish_stdout(QN_EXIT_OK);
		case 'V': qn_print_version();
		default: qn_usage_error("invalid option");
		}
	}
	if (!opt.threads)
		opt.threads = qn_ncores();
	srcs = argv + optind;
	nsrc = argc - optind;
	if (!opt.output)
		qn_usage_error("no output given (-o OUT)");
	if (nsrc < 1)
		qn_usage_error("no SOURCE given");
	for (i = 0; i < nsrc; i++)
		if (!strcmp(srcs[i], "-") && stdin_seen++)
			qn_usage_error("'-' (stdin) given more than once");

	memset(&wopts, 0, sizeof wopts);
	wopts.part_bytes = opt.part_bytes;
	wopts.threads = opt.threads;	/* zstd's bytes are the same for any count >= 1 */
	if (!(writer = qn_docwriter_open(opt.output, &wopts, &err))) {
		if (err.code == QN_EUSAGE)
			qn_usage_error("%s", err.msg);
		qn_errx(QN_EXIT_FAIL, "%s", err.msg);
	}
	if (!(manifest = qn_manifest_open(qn_manifest_path(opt.manifest), &err)))
		qn_errx(QN_EXIT_FAIL, "%s", err.msg);

	qn_config_init(&cfg);
	qn_config_str(&cfg, "output", opt.output);
	qn_config_str(&cfg, "manifest", qn_manifest_path(opt.manifest));
	qn_config_int(&cfg, "threads", opt.threads);
	qn_config_bool(&cfg, "quiet", opt.quiet);
	qn_config_strv(&cfg, "include", opt.include, opt.ninclude);
	qn_config_strv(&cfg, "exclude", opt.exclude, opt.nexclude);
	qn_config_bool(&cfg, "follow_symlinks", opt.follow);
	qn_config_int(&cfg, "max_file_bytes", (int64_t)opt.max_file_bytes);
	qn_config_int(&cfg, "part_bytes", (int64_t)opt.part_bytes);
	qn_config_int(&cfg, "max_errors", opt.max_errors);
	if (qn_manifest_run_begin(manifest, "quern-collect", qn_cli_argc, qn_cli_argv,
				  qn_config_json(&cfg), &err) < 0) {
		qn_config_release(&cfg);
		qn_manifest_close(manifest);
		qn_errx(QN_EXIT_FAIL, "%s", err.msg);
	}
	qn_config_release(&cfg);

	/* Every SOURCE must exist before anything is read. */
	st = qn_xcalloc((size_t)nsrc, sizeof *st);
	for (i = 0; i < nsrc && !failure; i++) {
		if (!strcmp(srcs[i], "-"))
			continue;
		if (stat(srcs[i], &st[i]) < 0) {
			char *m = qn_xasprintf("%s: %s", srcs[i], strerror(errno));

			fail(m);
			free(m);
		}
	}

	scratch = qn_xcalloc((size_t)opt.threads, sizeof *scratch);
	for (i = 0; i < opt.threads; i++)
		scratch[i] = qn_xcalloc(1, sizeof **scratch);
	pool = qn_pool_new(opt.threads, work, NULL, 0);
	qn_progress_init(&progress, stderr, !opt.quiet, "files", 0);
	for (i = 0; i < nsrc && !failure; i++)
		walk_source(srcs[i], &st[i]);
	if (!failure)
		submit();
	batch_free(cur);
	cur = NULL;
	/* Take back what is in flight; after a failure only to free it. */
	while ((b = qn_pool_next(pool)) != NULL) {
		if (failure)
			batch_free(b);
		else
			consume(b);
	}
	qn_pool_free(pool);
	qn_progress_end(&progress);

	if (!failure && qn_docwriter_commit(writer, &err) < 0)
		fail(err.msg);
	if (!failure && strcmp(opt.output, "-")) {
		for (i = 0; i < qn_docwriter_nparts(writer) && !failure; i++)
			if (qn_manifest_file(manifest, qn_docwriter_part(writer, i),
					     QN_OUTPUT, &err) < 0)
				fail(err.msg);
	}
	record_counters();
	if (failure) {
		qn_warnx("%s", failure);
		qn_manifest_run_end(manifest, 0, failure, NULL);
	} else if (qn_manifest_run_end(manifest, 1, NULL, &err) < 0) {
		fail(err.msg);
		qn_warnx("%s", failure);
	}
	if (!failure && !opt.quiet)
		print_summary();

	qn_docwriter_free(writer);
	qn_manifest_close(manifest);
	for (i = 0; i < opt.threads; i++) {
		qn_doc_release(&scratch[i]->doc);
		free(scratch[i]);
	}
	free(scratch);
	free(stack);
	free(st);
	free(opt.include);
	free(opt.exclude);
	c = failure ? QN_EXIT_FAIL : QN_EXIT_OK;
	free(failure);
	return qn_finish_stdout(c);
}
