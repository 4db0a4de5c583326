/*
 * quern-collect: turn directories, archives, WARC files and document
 * streams into one document stream, the first step of every quern
 * pipeline.
 *
 * This file is the program's shape: options, the walk over the SOURCEs,
 * and the ordered pool of lib/pool.h.  The main thread walks the sources
 * in a fixed order (each directory's entries sorted by strcmp, so
 * documents come out in the byte order of their paths whatever the
 * locale or the file system), packs file names into batches and submits
 * them; workers read each file (content.c: archives, compression, WARC,
 * JSONL, charsets, HTML) into results, one per document or per thing
 * left out, serializing the JSON lines into their batch (past 32 MiB into
 * the batch's temporary file, so that a WARC or JSONL stream of gigabytes
 * waits on disk, not in memory: struct collect_out); the main thread
 * takes the batches back in submission order, writes the lines, and
 * records documents, reject events and files in the manifest.  Nothing
 * that reaches the output depends on which worker did what, so -j1 and
 * -jN write the same bytes.  Walk errors (an unreadable directory)
 * travel in the batches too, so messages and the --max-errors cut-off
 * come in path order.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <getopt.h>
#include <limits.h>
#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "collect.h"
#include "docstream.h"
#include "err.h"
#include "hash.h"
#include "manifest.h"
#include "pool.h"
#include "progress.h"
#include "utf8.h"

enum {
	BATCH_FILES = 64,		/* files per batch at most */
	BATCH_BYTES = 8 << 20		/* and bytes (by file size) */
};

#define MAX_ERRORS_DEFAULT 1000

/* Options, as given or defaulted. */
static struct {
	const char *manifest, *output;
	int threads, quiet, follow;
	uint64_t part_bytes;
	long max_errors;
	char **include, **exclude;
	int ninclude, nexclude;
} opt;

static struct {
	uint64_t files, docs, bytes, raw_bytes, errors, excluded;
	uint64_t skipped[NREASONS];
} cnt;

/* ---- batches ---- */

struct batch {
	struct item *items;
	int n, cap;
	uint64_t bytes;		/* sum of file sizes, for batching */
	struct collect_out out;	/* the serialized documents, in item order */
};

/* Bytes of a batch's documents kept in memory; past them they wait on disk. */
static size_t spill_bytes = COLLECT_SPILL_BYTES;

/*
 * Batches done with, kept for their buffers: a new batch's JSON then goes
 * into memory already mapped, not into fresh pages that the kernel must
 * zero (about as much as the text written).  Only the main thread makes
 * and frees batches.
 */
enum { SPARE_BATCHES = 8 };
static struct batch *spare[SPARE_BATCHES];
static int nspare;

static struct batch *batch_new(void)
{
	struct batch *b;

	if (!nspare) {
		b = qn_xcalloc(1, sizeof(struct batch));
		collect_out_init(&b->out, spill_bytes);
		return b;
	}
	b = spare[--nspare];
	b->n = 0;
	b->bytes = 0;
	collect_out_reset(&b->out);
	return b;
}

/* Frees b for good. */
static void batch_destroy(struct batch *b)
{
	if (!b)
		return;
	free(b->items);
	collect_out_release(&b->out);
	free(b);
}

/*
 * A directory of the walk, kept open while its files wait in batches, so
 * that a worker opens each file by its name relative to it (openat)
 * rather than by its whole path: one component to look up, not every
 * one.  At most MAX_DIRREFS are open; past that files are opened by path.
 * Only the main thread takes and drops references.
 */
struct dirref {
	int fd;		/* -1: none, open by path */
	int refs;
};

enum { MAX_DIRREFS = 256 };
static int ndirrefs;

static struct dirref *dirref_new(int fd)
{
	struct dirref *d = qn_xmalloc(sizeof *d);

	d->fd = fd;
	d->refs = 1;
	if (fd >= 0)
		ndirrefs++;
	return d;
}

static void dirref_put(struct dirref *d)
{
	if (!d || --d->refs)
		return;
	if (d->fd >= 0) {
		close(d->fd);
		ndirrefs--;
	}
	free(d);
}

static void batch_free(struct batch *b)
{
	int i;

	if (!b)
		return;
	for (i = 0; i < b->n; i++) {
		dirref_put(b->items[i].dir);
		item_release(&b->items[i]);
	}
	collect_out_reset(&b->out);	/* its spill file goes now */
	/* A batch of large documents gives its buffer back. */
	if (nspare < SPARE_BATCHES && b->out.json.cap <= 4 * (size_t)BATCH_BYTES)
		spare[nspare++] = b;
	else
		batch_destroy(b);
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

static struct scratch **scratch;

static void work(void *ctx, void *batch, int worker)
{
	struct batch *b = batch;
	int i;

	(void)ctx;
	for (i = 0; i < b->n; i++)
		if (b->items[i].kind != IT_ERROR)
			collect_item(&b->items[i], scratch[worker], &b->out);
}

/* ---- writing (on the main thread) ---- */

static struct qn_pool *pool;
static struct qn_docwriter *writer;
static struct qn_manifest *manifest;
static struct qn_progress progress;
static struct batch *cur;
static char *failure;		/* why the run failed; NULL while it goes on */
static struct qn_buf readback;	/* a document read back from a spill file */

static void fail(const char *msg)
{
	if (!failure)
		failure = qn_xstrdup(msg);
}

/* "SOURCE[ LOCATOR]: what", the value of a reject event. */
static char *reject_value(const struct item *it, const struct result *r)
{
	return qn_xasprintf("%s%s%s: %s", r->source ? r->source : it->source,
			    *r->locator ? " " : "", r->locator, r->msg);
}

static void count_error(void)
{
	if (++cnt.errors > (uint64_t)opt.max_errors) {
		char *m = qn_xasprintf("more than %ld errors (--max-errors), giving up",
				       opt.max_errors);

		fail(m);
		free(m);
	}
}

/* Writes a finished batch and records it; frees it. */
static void consume(struct batch *b)
{
	struct qn_err err;
	int i, k;

	if (b->out.error)	/* no space left for the spill file, say */
		fail(b->out.error);
	for (i = 0; i < b->n && !failure; i++) {
		struct item *it = &b->items[i];
		int rc = 0;

		if (it->kind != IT_ERROR) {
			cnt.files++;
			cnt.raw_bytes += it->raw_bytes;
		}
		if (it->kind == IT_ERROR) {
			qn_warnx("%s", it->error);
			count_error();
			continue;
		}
		for (k = 0; k < it->nres && !rc && !failure; k++) {
			struct result *r = &it->res[k];

			if (r->outcome == R_DOC) {
				const char *line = collect_out_line(&b->out, r->json_off,
								    r->json_len, &readback);

				if (!line) {
					char *m = qn_xasprintf("%s: cannot read its documents back from "
							       "their temporary file: %s",
							       it->path, strerror(errno));

					fail(m);
					free(m);
					break;
				}
				rc = qn_docwriter_write_json(writer, line, r->json_len, &err);
				if (!rc)
					rc = qn_manifest_doc(manifest, r->id,
							     r->source ? r->source : it->source,
							     r->locator, r->text_bytes, &err);
				cnt.docs++;
				cnt.bytes += r->text_bytes;
			} else {
				char *value = reject_value(it, r);
				char rule[64];

				snprintf(rule, sizeof rule, "collect:%s", reason_name[r->reason]);
				rc = qn_manifest_event(manifest, r->id, "reject", rule, value, NULL, &err);
				free(value);
				cnt.skipped[r->reason]++;
				if (r->error) {
					if (*r->locator)
						qn_warnx("%s: %s: %s", it->path, r->locator, r->msg);
					else
						qn_warnx("%s: %s", it->path, r->msg);
					count_error();
				}
			}
		}
		if (!rc && it->error) {
			qn_warnx("%s", it->error);
			count_error();
		}
		if (!rc && it->hashed && it->kind == IT_FILE && it->abspath)
			rc = qn_manifest_file_hashed_abs(manifest, it->abspath, it->raw_bytes,
							 it->hash, QN_INPUT, &err);
		else if (!rc && it->hashed && it->kind == IT_FILE)
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

/*
 * A file to read: path to open (name in dir, when dir is open), abs_root/rel
 * for its URI.  resolved: the
 * walk went through no symbolic link and abs_root came from realpath, so
 * abs_root/rel is what realpath(path) would say, and the manifest need
 * not ask again (a readlink per component of every file).
 */
static void add_file(const char *path, const char *abs_root, const char *rel,
		     uint64_t size, int resolved, struct dirref *dir, const char *name)
{
	struct item *it = new_item();

	it->kind = IT_FILE;
	it->path = qn_xstrdup(path);
	if (dir && dir->fd >= 0) {
		dir->refs++;
		it->dir = dir;
		it->dirfd = dir->fd;
		it->name = it->path + strlen(it->path) - strlen(name);
	}
	it->source = file_uri(abs_root, rel);
	if (resolved && !rel)
		it->abspath = qn_xstrdup(abs_root);
	else if (resolved)
		it->abspath = qn_xasprintf("%s%s%s", abs_root,
					   abs_root[strlen(abs_root) - 1] == '/' ? "" : "/", rel);
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
	it->error = qn_xasprintf("%s: %s", path, strerror(errnum));
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
static void walk_dir(struct qn_buf *path, size_t rel_off, const char *abs_root,
		     int resolved)
{
	struct ent *ents;
	struct dirref *dir;
	DIR *d;
	int i, n, fd;

	/* As opendir(3) opens it. */
	fd = open(path->data, O_RDONLY | O_NONBLOCK | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		add_error(path->data, errno);
		if (fd >= 0)
			close(fd);
		return;
	}
	ents = read_dir(d, path->data, &n);
	dir = dirref_new(ndirrefs < MAX_DIRREFS ? fcntl(dirfd(d), F_DUPFD_CLOEXEC, 0) : -1);
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
				walk_dir(path, rel_off, abs_root, resolved);
				depth--;
			}
			break;
		case E_FILE:
			if (selected(rel, e->name))
				add_file(path->data, abs_root, rel, e->size, resolved, dir, e->name);
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
	dirref_put(dir);
}

/*
 * The absolute form of path: resolved when possible (*resolved set), else
 * joined to the cwd.
 */
static char *absolute(const char *path, int *resolved)
{
	char *r = realpath(path, NULL);
	char cwd[PATH_MAX];

	*resolved = r != NULL;
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
	int resolved;

	if (!strcmp(src, "-")) {
		add_stdin();
		return;
	}
	abs = absolute(src, &resolved);
	/* Symbolic links followed below the root: the manifest resolves each path. */
	if (opt.follow && S_ISDIR(st->st_mode))
		resolved = 0;
	if (S_ISDIR(st->st_mode)) {
		struct qn_buf path = QN_BUF_INIT;
		size_t rel_off;

		qn_buf_puts(&path, src);
		rel_off = path.len + (path.data[path.len - 1] != '/');
		depth = 0;
		push_dir(st->st_dev, st->st_ino);
		walk_dir(&path, rel_off, abs, resolved);
		depth = 0;
		qn_buf_release(&path);
	} else {
		const char *base = strrchr(src, '/') ? strrchr(src, '/') + 1 : src;

		if (selected(base, base))
			add_file(src, abs, NULL, (uint64_t)st->st_size, resolved, NULL, NULL);
		else
			cnt.excluded++;
	}
	free(abs);
}

/* ---- main ---- */

static void usage(void)
{
	printf("usage: quern-collect [-m DB] -o OUT [-j N] [-q] [--include GLOB]... [--exclude GLOB]...\n"
	       "                     [--follow-symlinks] [--max-doc-bytes N] [--max-depth N]\n"
	       "                     [--max-ratio R] [--part-bytes N] [--max-errors N]\n"
	       "                     [--html-parser quern|gumbo] SOURCE...\n\n"
	       "Turns files into a document stream.  Each file of each SOURCE (a directory,\n"
	       "walked in byte order; a file; or - for stdin) is read by its content:\n"
	       "compressed files are decompressed, archives (tar, zip, 7z, cpio, ar, iso,\n"
	       "rar, ...) opened, WARC/WET records and JSONL documents read one by one,\n"
	       "HTML reduced to its main text, other charsets converted to UTF-8.  What is\n"
	       "left out (binary, empty, too large, corrupt, ...) is counted and recorded\n"
	       "in the manifest.\n\n"
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
	       "      --max-doc-bytes N   leave out texts longer than N bytes once\n"
	       "                          decompressed (default 64M; k, M, G suffixes);\n"
	       "                          --max-file-bytes is the same\n"
	       "      --max-depth N       open archives inside archives down to N levels\n"
	       "                          (default 4; 0 opens none)\n"
	       "      --max-ratio R       give up a file that expands past R times its\n"
	       "                          size plus 1 MiB: a bomb (default 200)\n"
	       "      --part-bytes N      start a new output part after N bytes\n"
	       "      --max-errors N      fail the run after more than N read errors\n"
	       "                          (default 1000)\n"
	       "      --html-parser P     quern (default: the fast one) or gumbo (the\n"
	       "                          reference HTML5 parser; about 20 times the CPU)\n"
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
		O_INCLUDE = 256, O_EXCLUDE, O_FOLLOW, O_MAX_FILE_BYTES, O_MAX_DEPTH, O_MAX_RATIO,
		O_PART_BYTES, O_MAX_ERRORS, O_HTML_PARSER
	};
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "manifest", required_argument, NULL, 'm' },
		{ "threads", required_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "include", required_argument, NULL, O_INCLUDE },
		{ "exclude", required_argument, NULL, O_EXCLUDE },
		{ "follow-symlinks", no_argument, NULL, O_FOLLOW },
		{ "max-doc-bytes", required_argument, NULL, O_MAX_FILE_BYTES },
		{ "max-file-bytes", required_argument, NULL, O_MAX_FILE_BYTES },
		{ "max-depth", required_argument, NULL, O_MAX_DEPTH },
		{ "max-ratio", required_argument, NULL, O_MAX_RATIO },
		{ "part-bytes", required_argument, NULL, O_PART_BYTES },
		{ "max-errors", required_argument, NULL, O_MAX_ERRORS },
		{ "html-parser", required_argument, NULL, O_HTML_PARSER },
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
	long v;
	char **srcs, *end;

	qn_cli_init(argc, argv);
	qn_catch_signals();
	/*
	 * libarchive converts member names through the locale: a UTF-8 one,
	 * whatever the user's, so names come out as UTF-8.
	 */
	if (!setlocale(LC_CTYPE, "C.UTF-8"))
		setlocale(LC_CTYPE, "");
	opt.threads = 0;
	opt.max_errors = MAX_ERRORS_DEFAULT;
	/* QUERN_COLLECT_SPILL: bytes of a batch's documents held in memory (tests set a few). */
	if (getenv("QUERN_COLLECT_SPILL")) {
		long long sv = atoll(getenv("QUERN_COLLECT_SPILL"));

		if (sv > 0)
			spill_bytes = (size_t)sv;
	}
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
			limits.max_doc_bytes = size_arg("--max-doc-bytes", optarg, 0);
			break;
		case O_MAX_DEPTH:
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || v < 0 || v > 64)
				qn_usage_error("invalid depth '%s' for --max-depth (0 to 64)", optarg);
			limits.max_depth = (int)v;
			break;
		case O_MAX_RATIO:
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || v < 1)
				qn_usage_error("invalid ratio '%s' for --max-ratio", optarg);
			limits.max_ratio = (uint64_t)v;
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
		case O_HTML_PARSER:
			if (!strcmp(optarg, "quern"))
				collect_html_parser = HTML_PARSER_QUERN;
			else if (!strcmp(optarg, "gumbo"))
				collect_html_parser = HTML_PARSER_GUMBO;
			else
				qn_usage_error("invalid parser '%s' for --html-parser (quern or gumbo)", optarg);
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
	qn_config_int(&cfg, "max_file_bytes", (int64_t)limits.max_doc_bytes);
	qn_config_int(&cfg, "max_depth", limits.max_depth);
	qn_config_int(&cfg, "max_ratio", (int64_t)limits.max_ratio);
	qn_config_int(&cfg, "part_bytes", (int64_t)opt.part_bytes);
	qn_config_int(&cfg, "max_errors", opt.max_errors);
	qn_config_str(&cfg, "html_parser", collect_html_parser == HTML_PARSER_GUMBO ? "gumbo" : "quern");
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
		scratch[i] = scratch_new();
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
	while (nspare)
		batch_destroy(spare[--nspare]);
	qn_buf_release(&readback);
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
	for (i = 0; i < opt.threads; i++)
		scratch_free(scratch[i]);
	free(scratch);
	free(stack);
	free(st);
	free(opt.include);
	free(opt.exclude);
	c = failure ? QN_EXIT_FAIL : QN_EXIT_OK;
	free(failure);
	return qn_finish_stdout(c);
}
