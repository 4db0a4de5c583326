/*
 * t_docstream: document streams end to end on real files: round trips
 * through every compression, every kind of bad line, huge and empty
 * inputs, truncated compressed files, stdin/stdout, output parts, and a
 * writer killed before it commits.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "docstream.h"
#include "../tap.h"

#define path tap_path

static void write_file(const char *p, const void *data, size_t n)
{
	FILE *f = fopen(p, "wb");

	fwrite(data, 1, n, f);
	fclose(f);
}

static int have(const char *tool)
{
	char cmd[256];

	snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", tool);
	return system(cmd) == 0;
}

/* The test documents: odd characters, empty text, unknown members. */
static void make_docs(struct qn_doc *d, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		char src[64], loc[64], text[256];

		qn_doc_init(&d[i]);
		snprintf(src, sizeof src, "file:///doc/%d", i);
		snprintf(loc, sizeof loc, "line=%d", i);
		snprintf(text, sizeof text, "doc %d: \"quoted\" \\ tab\t nl\n caf\xc3\xa9 \xf0\x9f\x98\x80 \x01", i);
		qn_doc_set_origin(&d[i], src, loc);
		qn_buf_set(&d[i].text, text, i % 7 == 3 ? 0 : strlen(text));
		if (i % 3 == 0)
			qn_buf_puts(&d[i].extra, "\"meta\":{\"n\":123456789012345678901234567890,\"x\":[1.50,null,true]}");
	}
}

static int same_doc(const struct qn_doc *a, const struct qn_doc *b)
{
	return a->id.len == b->id.len && !memcmp(qn_buf_str(&a->id), qn_buf_str(&b->id), a->id.len) &&
	       a->text.len == b->text.len && !memcmp(qn_buf_str(&a->text), qn_buf_str(&b->text), a->text.len) &&
	       !strcmp(qn_buf_str(&a->source), qn_buf_str(&b->source)) &&
	       !strcmp(qn_buf_str(&a->locator), qn_buf_str(&b->locator)) &&
	       !strcmp(qn_buf_str(&a->extra), qn_buf_str(&b->extra));
}

/* Reads every document of p; returns how many matched want[] in order, -1 on error. */
static int read_back(const char *p, const struct qn_doc *want, int n)
{
	struct qn_docreader *r;
	struct qn_doc d;
	struct qn_err err;
	int i = 0, rc, good = 0;

	r = qn_docreader_open(p, NULL, &err);
	if (!r) {
		printf("# %s\n", err.msg);
		return -1;
	}
	qn_doc_init(&d);
	while ((rc = qn_docreader_next(r, &d, &err)) == 1) {
		if (i < n && same_doc(&d, &want[i]))
			good++;
		i++;
	}
	if (rc < 0)
		printf("# %s\n", err.msg);
	qn_doc_release(&d);
	qn_docreader_close(r);
	return rc < 0 || i != n ? -1 : good;
}

static int write_docs_threads(const char *p, const struct qn_doc *d, int n, uint64_t part_bytes, int threads)
{
	struct qn_docwriter_opts o = { part_bytes, 0, threads };
	struct qn_docwriter *w;
	struct qn_err err;
	int i, rc = 0;

	w = qn_docwriter_open(p, &o, &err);
	if (!w)
		return -1;
	for (i = 0; i < n && !rc; i++)
		rc = qn_docwriter_write(w, &d[i], &err);
	if (!rc)
		rc = qn_docwriter_commit(w, &err);
	if (rc)
		printf("# %s\n", err.msg);
	qn_docwriter_free(w);
	return rc;
}

static int write_docs(const char *p, const struct qn_doc *d, int n, uint64_t part_bytes)
{
	return write_docs_threads(p, d, n, part_bytes, 0);
}

/* zstd with worker threads: the same bytes for 1, 2 and 4 threads. */
static void test_zstd_threads(void)
{
	struct qn_doc d[3000];
	char cmd[1200];
	int i;

	make_docs(d, 3000);
	for (i = 0; i < 3000; i++)
		qn_buf_appendf(&d[i].text, " %d %d %d", i * 7919 % 1000003, i * i, i);
	ok(!write_docs_threads(path("mt1.jsonl.zst"), d, 3000, 0, 1) &&
	   !write_docs_threads(path("mt2.jsonl.zst"), d, 3000, 0, 2) &&
	   !write_docs_threads(path("mt4.jsonl.zst"), d, 3000, 0, 4), "wrote with 1, 2 and 4 zstd threads");
	snprintf(cmd, sizeof cmd, "cmp -s %s %s && cmp -s %s %s", path("mt1.jsonl.zst"), path("mt2.jsonl.zst"),
		 path("mt1.jsonl.zst"), path("mt4.jsonl.zst"));
	ok(system(cmd) == 0, "zstd output bytes do not depend on the thread count");
	is_int(read_back(path("mt2.jsonl.zst"), d, 3000), 3000, "and read back");
	for (i = 0; i < 3000; i++)
		qn_doc_release(&d[i]);
}

static void test_round_trips(void)
{
	static const char *names[] = { "rt.jsonl", "rt.jsonl.gz", "rt.jsonl.zst" };
	static const struct { const char *tool, *cmd, *out; } ext[] = {
		{ "xz", "xz -k -c %s > %s", "rt.jsonl.xz" },
		{ "bzip2", "bzip2 -k -c %s > %s", "rt.jsonl.bz2" },
		{ "lz4", "lz4 -q -c %s > %s", "rt.jsonl.lz4" },
	};
	struct qn_doc d[50];
	unsigned char magic[4] = { 0 };
	size_t i;
	FILE *f;

	make_docs(d, 50);
	for (i = 0; i < 3; i++) {
		is_int(write_docs(path(names[i]), d, 50, 0), 0, "write %s", names[i]);
		is_int(read_back(path(names[i]), d, 50), 50, "%s reads back every document unchanged", names[i]);
	}
	f = fopen(path("rt.jsonl.zst"), "rb");
	if (f) {
		if (fread(magic, 1, 4, f) != 4)
			memset(magic, 0, 4);
		fclose(f);
	}
	ok(magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd, ".zst output is a zstd frame");
	for (i = 0; i < sizeof ext / sizeof ext[0]; i++) {
		char cmd[1200];

		if (!have(ext[i].tool)) {
			printf("ok %d - # SKIP %s not installed\n", ++tap_n, ext[i].tool);
			continue;
		}
		snprintf(cmd, sizeof cmd, ext[i].cmd, path("rt.jsonl"), path(ext[i].out));
		ok(system(cmd) == 0, "made %s", ext[i].out);
		is_int(read_back(path(ext[i].out), d, 50), 50, "%s (compression detected by content)", ext[i].out);
	}
	/* The same bytes under a misleading name still read: detection is by content. */
	ok(rename(path("rt.jsonl.zst"), path("rt.misnamed.txt")) == 0 &&
	   read_back(path("rt.misnamed.txt"), d, 50) == 50, "a zstd file named .txt reads by content");
	for (i = 0; i < 50; i++)
		qn_doc_release(&d[i]);
}

static void test_passthrough(void)
{
	const char *line = "{\"text\":\"x\",\"meta\":{\"n\":123456789012345678901234567890,\"f\":1.50e+2,"
			   "\"s\":\"\\u00e9\\n\",\"a\":[ 1 , {\"b\" : null} ]},\"zz\":-0.0}\n";
	struct qn_docwriter *w;
	struct qn_docreader *r;
	struct qn_doc d;
	struct qn_err err;
	char buf[1024] = "";
	FILE *f;

	write_file(path("pt.jsonl"), line, strlen(line));
	qn_doc_init(&d);
	r = qn_docreader_open(path("pt.jsonl"), NULL, &err);
	is_int(qn_docreader_next(r, &d, &err), 1, "read a document with unknown members");
	ok(!d.has_id && !d.has_source, "absent id and source stay absent");
	w = qn_docwriter_open(path("pt.out.jsonl"), NULL, &err);
	qn_docwriter_write(w, &d, &err);
	is_int(qn_docwriter_commit(w, &err), 0, "wrote it back");
	qn_docwriter_free(w);
	qn_docreader_close(r);
	f = fopen(path("pt.out.jsonl"), "r");
	if (f) {
		if (!fgets(buf, sizeof buf, f))
			buf[0] = '\0';
		fclose(f);
	}
	is_str(buf, "{\"text\":\"x\",\"meta\":{\"n\":123456789012345678901234567890,\"f\":1.50e+2,"
		    "\"s\":\"\\u00e9\\n\",\"a\":[ 1 , {\"b\" : null} ]},\"zz\":-0.0}\n",
	       "unknown members come out byte for byte (big integers, escapes, spacing)");
	qn_doc_release(&d);
}

static void test_bad_lines(void)
{
	static const struct { const char *line, *why; } bad[] = {
		{ "{\"text\":\"a\"", "invalid JSON" },
		{ "{\"id\":\"x\"}", "no \"text\" member" },
		{ "{\"text\":42}", "\"text\" is not a string" },
		{ "{\"text\":\"bad \xff utf8\"}", "invalid UTF-8" },
		{ "{\"text\":\"a\"} trailing", "trailing" },
		{ "[1,2]", "not an object" },
		{ "{\"text\":\"a\",\"meta\":{\"x\":tru}}", "invalid JSON" },
		{ "{\"text\":\"a\",\"text\":\"b\"}", "duplicate member" },
		{ "{\"text\":\"a\",\"source\":null}", "\"source\" is not a string" },
		{ "{\"text\":\"bad escape \\q\"}", "invalid JSON" },
	};
	struct qn_buf all = QN_BUF_INIT;
	struct qn_docreader_opts o = { 100 };
	struct qn_docreader *r;
	struct qn_doc d;
	struct qn_err err;
	size_t i;
	int rc;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		qn_buf_appendf(&all, "{\"text\":\"good %zu\"}\n", i);
		qn_buf_appendf(&all, "%s\n", bad[i].line);
	}
	qn_buf_puts(&all, "\n   \n{\"text\":\"");
	for (i = 0; i < 200; i++)
		qn_buf_putc(&all, 'x');
	qn_buf_puts(&all, "\"}\r\n{\"text\":\"last, no newline\"}");
	write_file(path("bad.jsonl"), all.data, all.len);
	qn_doc_init(&d);
	r = qn_docreader_open(path("bad.jsonl"), &o, &err);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char want[64], prefix[600];

		snprintf(want, sizeof want, "good %zu", i);
		rc = qn_docreader_next(r, &d, &err);
		ok(rc == 1 && !strcmp(qn_buf_str(&d.text), want), "good line %zu before a bad one", i);
		rc = qn_docreader_next(r, &d, &err);
		snprintf(prefix, sizeof prefix, "%s:%zu: ", path("bad.jsonl"), 2 * i + 2);
		ok(rc == QN_EINPUT && !strncmp(err.msg, prefix, strlen(prefix)) && strstr(err.msg, bad[i].why),
		   "bad line %zu is QN_EINPUT '%s'", i, bad[i].why);
		if (rc != QN_EINPUT || !strstr(err.msg, bad[i].why))
			printf("#   got %d '%s'\n", rc, err.msg);
	}
	rc = qn_docreader_next(r, &d, &err);
	ok(rc == QN_EINPUT && strstr(err.msg, "longer than 100 bytes"), "a line over --max-line is reported (%s)", err.msg);
	rc = qn_docreader_next(r, &d, &err);
	ok(rc == 1 && !strcmp(qn_buf_str(&d.text), "last, no newline"), "reading goes on after it; last line needs no newline");
	is_int(qn_docreader_next(r, &d, &err), 0, "then the end");
	qn_docreader_close(r);
	qn_doc_release(&d);
	qn_buf_release(&all);
}

static void test_huge_line(void)
{
	enum { N = 100 << 20 };
	struct qn_doc d, back;
	struct qn_docreader *r;
	struct qn_err err;
	size_t i;
	int ok1;

	qn_doc_init(&d);
	qn_doc_init(&back);
	qn_buf_grow(&d.text, N);
	for (i = 0; i < N; i++)
		d.text.data[i] = (char)('a' + i % 26 - (i % 1000 == 999 ? 'a' - '\n' : 0));
	d.text.len = N;
	d.text.data[N] = '\0';
	qn_doc_set_origin(&d, "file:///huge", "");
	is_int(write_docs(path("huge.jsonl.zst"), &d, 1, 0), 0, "wrote one 100 MB document");
	r = qn_docreader_open(path("huge.jsonl.zst"), NULL, &err);
	ok1 = r && qn_docreader_next(r, &back, &err) == 1;
	ok(ok1 && back.text.len == N && !memcmp(back.text.data, d.text.data, N), "a 100 MB single line reads back");
	ok(r && qn_docreader_next(r, &back, &err) == 0, "and is the only one");
	qn_docreader_close(r);
	qn_doc_release(&d);
	qn_doc_release(&back);
}

static void test_empty_and_truncated(void)
{
	struct qn_doc d[200];
	struct qn_docreader *r;
	struct qn_doc x;
	struct qn_err err;
	struct stat st;
	char *buf;
	int i, rc, n = 0;
	FILE *f;

	write_file(path("empty.jsonl"), "", 0);
	is_int(read_back(path("empty.jsonl"), NULL, 0), 0, "an empty file has no documents");
	is_int(write_docs(path("empty.jsonl.zst"), NULL, 0, 0), 0, "an empty stream writes");
	is_int(read_back(path("empty.jsonl.zst"), NULL, 0), 0, "an empty .zst has no documents");
	r = qn_docreader_open(path("does-not-exist.jsonl"), NULL, &err);
	ok(!r && strstr(err.msg, "does-not-exist.jsonl"), "a missing file is an error naming it");

	make_docs(d, 200);
	for (i = 0; i < 2; i++) {
		const char *name = i ? "trunc.jsonl.gz" : "trunc.jsonl.zst";

		write_docs(path(name), d, 200, 0);
		stat(path(name), &st);
		buf = malloc((size_t)st.st_size);
		f = fopen(path(name), "rb");
		if (fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size)
			st.st_size = 0;
		fclose(f);
		write_file(path(name), buf, (size_t)st.st_size * 2 / 3);
		free(buf);
		qn_doc_init(&x);
		r = qn_docreader_open(path(name), NULL, &err);
		n = 0;
		rc = 0;
		if (r)
			while ((rc = qn_docreader_next(r, &x, &err)) == 1 || rc == QN_EINPUT)
				n++;
		ok((!r || rc == QN_EFORMAT || rc == QN_EIO) && n < 200,
		   "a truncated %s is an error, not a short stream (%d docs, '%s')", i ? "gzip" : "zstd", n, err.msg);
		qn_docreader_close(r);
		qn_doc_release(&x);
	}
	for (i = 0; i < 200; i++)
		qn_doc_release(&d[i]);
}

static void test_stdio(void)
{
	struct qn_doc d[10];
	struct qn_docwriter *w;
	int saved, fd, i, rc = 0;
	struct qn_err err;

	make_docs(d, 10);
	/* stdout: point fd 1 at a file for the duration. */
	fflush(stdout);
	saved = dup(1);
	fd = open(path("stdout.jsonl"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	dup2(fd, 1);
	close(fd);
	w = qn_docwriter_open("-", NULL, &err);
	for (i = 0; i < 10; i++)
		rc |= qn_docwriter_write(w, &d[i], &err);
	rc |= qn_docwriter_commit(w, &err);
	qn_docwriter_free(w);
	dup2(saved, 1);
	close(saved);
	is_int(rc, 0, "wrote to standard output");
	is_int(read_back(path("stdout.jsonl"), d, 10), 10, "standard output got plain JSONL");
	/* stdin: a zstd stream on fd 0. */
	write_docs(path("stdin.jsonl.zst"), d, 10, 0);
	saved = dup(0);
	fd = open(path("stdin.jsonl.zst"), O_RDONLY);
	dup2(fd, 0);
	close(fd);
	is_int(read_back("-", d, 10), 10, "'-' reads standard input, compression detected");
	dup2(saved, 0);
	close(saved);
	for (i = 0; i < 10; i++)
		qn_doc_release(&d[i]);
}

static void test_parts_and_kill(void)
{
	struct qn_doc d[300];
	struct qn_docwriter *w;
	struct qn_err err;
	struct stat st;
	char name[64];
	int i, n, good = 0, total = 0;
	pid_t pid;

	make_docs(d, 300);
	is_int(write_docs(path("part-%03d.jsonl.zst"), d, 300, 4096), 0, "wrote parts of 4 KiB");
	for (n = 0;; n++) {
		snprintf(name, sizeof name, "part-%03d.jsonl.zst", n);
		if (stat(path(name), &st) < 0)
			break;
	}
	ok(n > 3, "several parts (%d)", n);
	for (i = 0; i < n; i++) {
		struct qn_docreader *r;
		struct qn_doc x;
		int rc;

		snprintf(name, sizeof name, "part-%03d.jsonl.zst", i);
		r = qn_docreader_open(path(name), NULL, &err);
		qn_doc_init(&x);
		while (r && (rc = qn_docreader_next(r, &x, &err)) == 1) {
			good += total < 300 && same_doc(&x, &d[total]);
			total++;
		}
		qn_doc_release(&x);
		qn_docreader_close(r);
	}
	ok(total == 300 && good == 300, "the parts hold every document once, in order (%d/%d)", good, total);
	is_int(write_docs(path("part-%03d.jsonl.zst"), d, 10, 4096), 0, "rewrote with fewer documents");
	ok(stat(path("part-000.jsonl.zst"), &st) == 0 && stat(path("part-001.jsonl.zst"), &st) < 0,
	   "stale higher parts of the earlier run are gone");
	ok(qn_docwriter_open(path("x.jsonl"), &(struct qn_docwriter_opts){ .part_bytes = 4096 }, &err) == NULL,
	   "part size without %%d in the name is refused");

	/* A writer killed before commit: the earlier output stays, nothing partial appears. */
	write_docs(path("kill.jsonl.zst"), d, 5, 0);
	pid = fork();
	if (pid == 0) {
		w = qn_docwriter_open(path("kill.jsonl.zst"), NULL, &err);
		qn_docwriter_open(path("kill-new.jsonl"), NULL, &err);
		for (i = 0; i < 300; i++)
			qn_docwriter_write(w, &d[i], &err);
		raise(SIGKILL);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	is_int(read_back(path("kill.jsonl.zst"), d, 5), 5, "a killed writer leaves the earlier output as it was");
	{
		char cmd[700];

		snprintf(cmd, sizeof cmd, "test -z \"$(ls -A %s | grep -v -e '^rt\\.' -e '^pt\\.' -e '^bad\\.' -e '^huge\\.' -e '^full\\.' -e '^mt'"
			 " -e '^empty\\.' -e '^trunc\\.' -e '^std' -e '^part-' -e '^kill\\.jsonl\\.zst$')\"", tap_dir);
		ok(system(cmd) == 0, "and no partial or temporary file");
	}
	for (i = 0; i < 300; i++)
		qn_doc_release(&d[i]);
}

/*
 * A full disk, simulated by a file size limit (writes fail with EFBIG as
 * they would with ENOSPC): the write or the commit reports it, nothing is
 * published, and the earlier output stays.
 */
static void test_full_disk(void)
{
	struct qn_doc d[300];
	int i, st;
	pid_t pid;

	make_docs(d, 300);
	write_docs(path("full.jsonl"), d, 3, 0);
	pid = fork();
	if (pid == 0) {
		struct rlimit rl = { 16384, 16384 };
		struct qn_docwriter *w;
		struct qn_err err;
		int rc = 0;

		signal(SIGXFSZ, SIG_IGN);
		setrlimit(RLIMIT_FSIZE, &rl);
		w = qn_docwriter_open(path("full.jsonl"), NULL, &err);
		for (i = 0; i < 300 && !rc; i++)
			rc = qn_docwriter_write(w, &d[i], &err);
		if (!rc)
			rc = qn_docwriter_commit(w, &err);
		qn_docwriter_free(w);
		/* Exit 3 when the failure was reported as an I/O error naming the file. */
		_exit(rc == QN_EIO && strstr(err.msg, "full.jsonl") && strstr(err.msg, "large") ? 3 : 0);
	}
	waitpid(pid, &st, 0);
	is_int(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 3, "a write past the disk's end is an I/O error naming the file");
	is_int(read_back(path("full.jsonl"), d, 3), 3, "and the earlier output is untouched");
	for (i = 0; i < 300; i++)
		qn_doc_release(&d[i]);
}

int main(void)
{
	tap_tmpdir();
	test_round_trips();
	test_zstd_threads();
	test_passthrough();
	test_bad_lines();
	test_huge_line();
	test_empty_and_truncated();
	test_stdio();
	test_parts_and_kill();
	test_full_disk();
	tap_cleanup();
	return done_testing();
}
