/*
 * docstream-bench: document stream throughput on real text, one thread.
 *
 *   docstream-bench make OUT.jsonl.zst MIN_MB DIR...
 *	turns every UTF-8 text file under DIRs (compressed ones decoded)
 *	into documents, repeating the corpus with new locators until the
 *	JSONL reaches MIN_MB; written at zstd level 3.
 *   docstream-bench run FILE.jsonl.zst
 *	measures, on one thread:
 *	  read   qn_docreader end to end (decompress, split, parse), MB/s of JSONL
 *	  zstd   decompression alone (libarchive, as the reader uses it)
 *	  json   qn_json_parse_doc alone on the lines in memory: the JSON
 *		 library's share of the read
 *	  write  qn_docwriter at zstd level 3 from documents in memory
 *	  ser    qn_doc_to_json alone: the serializer's share of the write
 *
 * Not a test: it prints numbers and the ratio to the goals of the issue
 * (read >= 300 MB/s, write >= 150 MB/s).
 */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docstream.h"
#include "json.h"
#include "progress.h"
#include "utf8.h"

/* ---- make ---- */

static char **paths;
static size_t npaths;

static int add_path(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
	if (type == FTW_F && S_ISREG(st->st_mode)) {
		paths = realloc(paths, (npaths + 1) * sizeof *paths);
		paths[npaths++] = strdup(p);
	}
	return 0;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The decoded bytes of a file (gz/xz/... decompressed), or -1. */
static long slurp(const char *p, struct qn_buf *out)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	char buf[1 << 16];
	la_ssize_t n;

	qn_buf_reset(out);
	archive_read_support_filter_all(a);
	archive_read_support_format_raw(a);
	if (archive_read_open_filename(a, p, 1 << 16) != ARCHIVE_OK ||
	    archive_read_next_header(a, &e) != ARCHIVE_OK) {
		archive_read_free(a);
		return -1;
	}
	while ((n = archive_read_data(a, buf, sizeof buf)) > 0 && out->len < (64u << 20))
		qn_buf_append(out, buf, (size_t)n);
	archive_read_free(a);
	return n < 0 ? -1 : (long)out->len;
}

static int make(const char *out, double min_mb, char **dirs, int ndirs)
{
	struct qn_docwriter_opts o = { .level = 3 };
	struct qn_docwriter *w;
	struct qn_doc d;
	struct qn_buf text = QN_BUF_INIT, line = QN_BUF_INIT;
	struct qn_err err;
	double bytes = 0;
	size_t i, docs = 0;
	int pass, d_i;

	for (d_i = 0; d_i < ndirs; d_i++)
		nftw(dirs[d_i], add_path, 64, FTW_PHYS);
	qsort(paths, npaths, sizeof *paths, cmp);
	w = qn_docwriter_open(out, &o, &err);
	if (!w) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	qn_doc_init(&d);
	for (pass = 0; bytes < min_mb * 1e6 && pass < 1000; pass++) {
		size_t pass_docs = 0;

		for (i = 0; i < npaths && bytes < min_mb * 1e6; i++) {
			char src[4200], loc[64];

			if (slurp(paths[i], &text) <= 0 || memchr(text.data, 0, text.len) ||
			    !qn_utf8_valid(text.data, text.len))
				continue;
			snprintf(src, sizeof src, "file://%s", paths[i]);
			snprintf(loc, sizeof loc, "copy=%d", pass);
			qn_doc_set_origin(&d, src, loc);
			qn_buf_set(&d.text, text.data, text.len);
			qn_buf_reset(&line);
			qn_doc_to_json(&d, &line);
			bytes += (double)line.len;
			qn_docwriter_write_json(w, line.data, line.len, &err);
			docs++;
			pass_docs++;
		}
		if (!pass_docs)
			break;
	}
	if (qn_docwriter_commit(w, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	qn_docwriter_free(w);
	printf("made %s: %zu documents, %.1f MB of JSONL from %zu files, %d pass(es)\n",
	       out, docs, bytes / 1e6, npaths, pass);
	return 0;
}

/* ---- run ---- */

static double best(double a, double b)
{
	return a < b ? a : b;
}

static int run(const char *path)
{
	struct qn_docreader *r;
	struct qn_docwriter *w;
	struct qn_err err;
	struct qn_doc d, *docs = NULL;
	struct qn_buf all = QN_BUF_INIT, ser = QN_BUF_INIT;
	size_t ndocs = 0, cap = 0, i;
	double t, t_read = 1e9, t_zstd = 1e9, t_json = 1e9, t_write = 1e9, t_ser = 1e9, mb;
	int rep, rc;

	/* zstd alone: decode the whole file into memory (kept for the json phase). */
	for (rep = 0; rep < 3; rep++) {
		struct archive *a = archive_read_new();
		struct archive_entry *e;
		la_ssize_t n;

		qn_buf_reset(&all);
		archive_read_support_filter_all(a);
		archive_read_support_format_raw(a);
		t = qn_now();
		if (archive_read_open_filename(a, path, 1 << 18) != ARCHIVE_OK ||
		    archive_read_next_header(a, &e) != ARCHIVE_OK) {
			fprintf(stderr, "%s: %s\n", path, archive_error_string(a));
			return 1;
		}
		do {
			qn_buf_grow(&all, 1 << 20);
			n = archive_read_data(a, all.data + all.len, 1 << 20);
			if (n > 0)
				all.len += (size_t)n;
		} while (n > 0);
		t_zstd = best(t_zstd, qn_now() - t);
		archive_read_free(a);
	}
	qn_buf_grow(&all, QN_JSON_PADDING);
	mb = (double)all.len / 1e6;

	/* JSON alone: parse every line from memory. */
	qn_doc_init(&d);
	for (rep = 0; rep < 3; rep++) {
		struct qn_json *j = qn_json_new();
		char *p = all.data, *end = all.data + all.len;

		t = qn_now();
		while (p < end) {
			char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

			if (qn_json_parse_doc(j, p, n, &d, &err)) {
				fprintf(stderr, "parse: %s\n", err.msg);
				return 1;
			}
			p += n + 1;
		}
		t_json = best(t_json, qn_now() - t);
		qn_json_free(j);
	}

	/* The reader end to end; the last pass keeps the documents for writing. */
	for (rep = 0; rep < 3; rep++) {
		r = qn_docreader_open(path, NULL, &err);
		t = qn_now();
		while ((rc = qn_docreader_next(r, &d, &err)) == 1) {
			if (rep == 2) {
				if (ndocs == cap) {
					cap = cap ? cap * 2 : 4096;
					docs = realloc(docs, cap * sizeof *docs);
				}
				qn_doc_init(&docs[ndocs]);
				qn_doc_copy(&docs[ndocs++], &d);
			}
		}
		if (rep < 2)
			t_read = best(t_read, qn_now() - t);
		if (rc < 0) {
			fprintf(stderr, "%s\n", err.msg);
			return 1;
		}
		qn_docreader_close(r);
	}

	/* Serializer alone, then the writer at zstd level 3. */
	for (rep = 0; rep < 3; rep++) {
		t = qn_now();
		for (i = 0; i < ndocs; i++) {
			qn_buf_reset(&ser);
			qn_doc_to_json(&docs[i], &ser);
		}
		t_ser = best(t_ser, qn_now() - t);
	}
	for (rep = 0; rep < 2; rep++) {
		struct qn_docwriter_opts o = { .level = 3 };

		w = qn_docwriter_open("/tmp/docstream-bench.out.jsonl.zst", &o, &err);
		t = qn_now();
		for (i = 0; i < ndocs; i++)
			qn_docwriter_write(w, &docs[i], &err);
		qn_docwriter_commit(w, &err);
		t_write = best(t_write, qn_now() - t);
		qn_docwriter_free(w);
	}
	remove("/tmp/docstream-bench.out.jsonl.zst");

	printf("input: %s, %.1f MB of JSONL, %zu documents (best of 2-3 runs, one thread)\n", path, mb, ndocs);
	printf("%-34s %8.1f MB/s  (goal 300: %.2fx)\n", "read (qn_docreader, zstd JSONL)", mb / t_read, mb / t_read / 300);
	printf("%-34s %8.1f MB/s\n", "  zstd decompression alone", mb / t_zstd);
	printf("%-34s %8.1f MB/s  = %.0f%% of read time\n", "  JSON parse alone (simdjson)", mb / t_json, 100 * t_json / t_read);
	printf("%-34s %8.1f MB/s  (goal 150: %.2fx)\n", "write (qn_docwriter, zstd -3)", mb / t_write, mb / t_write / 150);
	printf("%-34s %8.1f MB/s  = %.0f%% of write time\n", "  JSON serialize alone", mb / t_ser, 100 * t_ser / t_write);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 5 && !strcmp(argv[1], "make"))
		return make(argv[2], atof(argv[3]), argv + 4, argc - 4);
	if (argc == 3 && !strcmp(argv[1], "run"))
		return run(argv[2]);
	fprintf(stderr, "usage: docstream-bench make OUT MIN_MB DIR... | run FILE\n");
	return 2;
}
