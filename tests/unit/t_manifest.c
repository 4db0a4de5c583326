/*
 * t_manifest: the manifest on real SQLite files: a run's records and the
 * reports over them, migration from an empty file, eight processes
 * writing at once, a writer killed with SIGKILL in the middle of its
 * writes, merging twice, tags and verify catching a changed byte.
 *
 * The checks read the database with plain SQL, as an auditor would.
 */
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "manifest.h"
#include "../tap.h"

#define path tap_path

/* One integer from a query on the file at db. */
static long long q(const char *db, const char *sql)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	long long v = -1;

	if (sqlite3_open(db, &h) != SQLITE_OK)
		return -2;
	sqlite3_busy_timeout(h, 10000);
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	} else {
		printf("# %s: %s\n", sql, sqlite3_errmsg(h));
	}
	sqlite3_close(h);
	return v;
}

static void write_file(const char *p, const char *s)
{
	FILE *f = fopen(p, "w");

	fputs(s, f);
	fclose(f);
}

/* Records a run with ndocs documents, one event each; returns 0 on success. */
static int writer(const char *db, const char *tool, int ndocs, const char *in, const char *out)
{
	struct qn_manifest *m;
	struct qn_err err;
	char *argv[] = { (char *)tool, (char *)"--x", NULL };
	int i, rc;

	m = qn_manifest_open(db, &err);
	if (!m) {
		printf("# %s\n", err.msg);
		return -1;
	}
	rc = qn_manifest_run_begin(m, tool, 2, argv, "{\"k\":1}", &err);
	if (!rc && in)
		rc = qn_manifest_file(m, in, QN_INPUT, &err);
	for (i = 0; i < ndocs && !rc; i++) {
		char id[64];

		snprintf(id, sizeof id, "%s-%d-%d", tool, (int)getpid(), i);
		rc = qn_manifest_doc(m, id, "file:///x", "line=1", 10, &err);
		if (!rc)
			rc = qn_manifest_event(m, id, "drop", "test:rule", "1.8 < 3", NULL, &err);
		qn_manifest_count(m, "docs", 1);
	}
	if (!rc && out)
		rc = qn_manifest_file(m, out, QN_OUTPUT, &err);
	if (!rc)
		rc = qn_manifest_run_end(m, 1, NULL, &err);
	if (rc)
		printf("# %s\n", err.msg);
	qn_manifest_close(m);
	return rc;
}

static int count_rows(void *ctx, const struct qn_row *r)
{
	(*(int *)ctx)++;
	return 0;
}

struct find {
	const char *col, *want;
	int found;
};

static int find_cell(void *ctx, const struct qn_row *r)
{
	struct find *f = ctx;
	int i;

	for (i = 0; i < r->ncols; i++)
		if (!strcmp(r->names[i], f->col) && r->values[i] && strstr(r->values[i], f->want))
			f->found++;
	return 0;
}

static void test_run_and_reports(void)
{
	const char *db = path("a.db");
	struct qn_manifest *m;
	struct qn_err err;
	char *argv[] = { (char *)"quern-test", NULL };
	struct find f;
	int n;

	write_file(path("in.txt"), "input bytes\n");
	write_file(path("out.txt"), "output bytes\n");
	write_file(path("empty.db"), "");
	m = qn_manifest_open(path("empty.db"), &err);
	ok(m && qn_manifest_schema(m) == QN_MANIFEST_SCHEMA, "an empty file is migrated to schema %d", QN_MANIFEST_SCHEMA);
	qn_manifest_close(m);

	m = qn_manifest_open(db, &err);
	ok(m != NULL, "created a manifest");
	is_int(q(db, "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = 'wal'"), 1, "the manifest is in WAL mode");
	is_int(qn_manifest_run_begin(m, "quern-test", 1, argv, "{\"a\":true}", &err), 0, "run begun");
	is_int(q(db, "SELECT count(*) FROM runs WHERE status = 'running'"), 1, "the running row is committed at once");
	qn_manifest_file(m, path("in.txt"), QN_INPUT, &err);
	qn_manifest_doc(m, "doc1", "file:///in.txt", "line=1", 12, &err);
	qn_manifest_event(m, "doc1", "modify", "clean:nfc", NULL, NULL, &err);
	qn_manifest_event(m, "doc1", "duplicate", "dedup:minhash", "0.93", "doc0", &err);
	qn_manifest_shard_doc(m, path("out.txt"), "doc1", 1000, 42, &err);
	ok(qn_manifest_event(m, "doc1", "vanish", "x", NULL, NULL, &err) == QN_EUSAGE, "an unknown event kind is refused");
	qn_manifest_count(m, "docs_out", 1);
	qn_manifest_count(m, "docs_out", 2);
	qn_manifest_file(m, path("out.txt"), QN_OUTPUT, &err);
	is_int(qn_manifest_run_end(m, 1, NULL, &err), 0, "run ended");
	is_int(q(db, "SELECT count(*) FROM runs WHERE status = 'ok' AND json_extract(counters, '$.docs_out') = 3"
		 " AND json_extract(config, '$.a') = 1 AND json_extract(argv, '$[0]') = 'quern-test' AND ended IS NOT NULL"),
	       1, "status, counters, config and argv recorded");
	is_int(q(db, "SELECT count(*) FROM files f JOIN run_files rf ON rf.file = f.id WHERE length(f.hash) = 32"), 2,
	       "input and output files with their hashes");

	n = 0;
	is_int(qn_manifest_why(m, "doc1", count_rows, &n, &err), 0, "why doc1");
	is_int(n, 4, "why: collected, two events, one shard position");
	ok(qn_manifest_why(m, "nope", count_rows, &n, &err) == QN_ENOTFOUND, "why on an unknown document says so");
	f = (struct find){ "name", "in.txt", 0 };
	is_int(qn_manifest_lineage(m, path("out.txt"), find_cell, &f, &err), 0, "lineage of the output file");
	is_int(f.found, 1, "lineage reaches the input file through the run");
	f = (struct find){ "name", "in.txt", 0 };
	is_int(qn_manifest_lineage(m, "doc1", find_cell, &f, &err), 0, "lineage of a document");
	is_int(f.found, 1, "document lineage reaches the input file");
	qn_manifest_close(m);
}

static void test_newer_schema(void)
{
	struct qn_manifest *m;
	struct qn_err err;
	sqlite3 *h;

	sqlite3_open(path("future.db"), &h);
	sqlite3_exec(h, "PRAGMA user_version = 99", NULL, NULL, NULL);
	sqlite3_close(h);
	m = qn_manifest_open(path("future.db"), &err);
	ok(!m && strstr(err.msg, "newer"), "a manifest from a newer quern is refused: %s", err.msg);
}

static void test_concurrent(void)
{
	const char *db = path("conc.db");
	pid_t pids[8];
	int i, st, fails = 0;

	for (i = 0; i < 8; i++) {
		pids[i] = fork();
		if (pids[i] == 0)
			_exit(writer(db, "quern-conc", 5000, NULL, NULL) ? 1 : 0);
	}
	for (i = 0; i < 8; i++) {
		waitpid(pids[i], &st, 0);
		fails += !WIFEXITED(st) || WEXITSTATUS(st) != 0;
	}
	is_int(fails, 0, "8 processes wrote one manifest at once, none failed (no 'database is locked')");
	is_int(q(db, "SELECT count(*) FROM runs WHERE status = 'ok'"), 8, "8 runs, all ok");
	is_int(q(db, "SELECT count(*) FROM doc_events"), 40000, "no event lost");
	is_int(q(db, "SELECT count(*) FROM docs"), 40000, "no document lost");
	is_int(q(db, "SELECT sum(json_extract(counters, '$.docs')) FROM runs"), 40000, "counters add up");
}

static void test_killed(void)
{
	const char *db = path("kill.db");
	struct qn_manifest *m;
	struct qn_err err;
	struct find f = { "status", "interrupted", 0 };
	struct timespec ts = { 0, 50 * 1000000L };
	long long victim;
	pid_t pid;

	writer(db, "quern-before", 10, NULL, NULL);
	pid = fork();
	if (pid == 0) {
		/* Small transactions, so that some commit before the kill. */
		setenv("QUERN_MANIFEST_BATCH", "20000", 1);
		_exit(writer(db, "quern-victim", 5000000, NULL, NULL) ? 1 : 0);
	}
	/* Wait for a first committed batch, then kill it in the middle of a later one. */
	for (victim = 0; victim < 400 && q(db, "SELECT count(*) FROM events") < 10000; victim++)
		nanosleep(&ts, NULL);
	nanosleep(&ts, NULL);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	is_int(q(db, "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check = 'ok'"), 1,
	       "after SIGKILL mid-write the database passes integrity_check");
	victim = q(db, "SELECT count(*) FROM doc_events e JOIN runs r ON r.id = e.run WHERE r.tool = 'quern-victim'");
	ok(victim > 0 && victim < 5000000 && victim % 10000 == 0,
	   "the victim's rows are whole batches of 10000 events: no half transaction (%lld)", victim);
	is_int(q(db, "SELECT count(*) FROM runs WHERE tool = 'quern-before' AND status = 'ok'"), 1, "the earlier run is intact");
	m = qn_manifest_open(db, &err);
	qn_manifest_runs(m, find_cell, &f, &err);
	is_int(f.found, 1, "the killed run is reported as interrupted");
	qn_manifest_close(m);
	is_int(writer(db, "quern-after", 10, NULL, NULL), 0, "the manifest takes new runs afterwards");
}

static void test_merge_and_verify(void)
{
	const char *a = path("ma.db"), *b = path("mb.db");
	struct qn_manifest *m;
	struct qn_err err;
	char *files[2];
	long long runs1, ev1, docs1, files1;
	struct find f;
	int bad;
	FILE *fp;

	write_file(path("t1.txt"), "first file\n");
	write_file(path("t2.txt"), "second file\n");
	writer(a, "quern-a", 100, path("t1.txt"), path("t2.txt"));
	writer(b, "quern-b", 200, path("t1.txt"), NULL);
	writer(b, "quern-b2", 50, NULL, NULL);
	m = qn_manifest_open(a, &err);
	is_int(qn_manifest_merge(m, b, &err), 2, "merge copied the 2 runs of the other manifest");
	qn_manifest_close(m);
	runs1 = q(a, "SELECT count(*) FROM runs");
	ev1 = q(a, "SELECT count(*) FROM doc_events");
	docs1 = q(a, "SELECT count(*) FROM docs");
	files1 = q(a, "SELECT count(*) FROM files");
	ok(runs1 == 3 && ev1 == 350 && docs1 == 350, "after one merge: 3 runs, 350 events, 350 docs");
	m = qn_manifest_open(a, &err);
	is_int(qn_manifest_merge(m, b, &err), 0, "merging again copies nothing");
	ok(qn_manifest_merge(m, a, &err) < 0, "merging a manifest into itself is refused");
	qn_manifest_close(m);
	ok(q(a, "SELECT count(*) FROM runs") == runs1 && q(a, "SELECT count(*) FROM doc_events") == ev1 &&
	   q(a, "SELECT count(*) FROM docs") == docs1 && q(a, "SELECT count(*) FROM files") == files1,
	   "merge is idempotent: no duplicates");
	is_int(q(a, "SELECT count(*) FROM run_files rf JOIN runs r ON r.id = rf.run WHERE r.tool = 'quern-b'"), 1,
	       "the merged run keeps its file records");

	/* Tags and verify. */
	m = qn_manifest_open(a, &err);
	files[0] = path("t1.txt");
	files[1] = path("t2.txt");
	{
		char *argv[] = { (char *)"quern-manifest", NULL };

		qn_manifest_run_begin(m, "quern-manifest", 1, argv, NULL, &err);
	}
	is_int(qn_manifest_tag(m, "snap1", "a note", 2, files, &err), 2, "tagged two files");
	ok(qn_manifest_tag(m, "snap1", NULL, 2, files, &err) == QN_EUSAGE, "a tag name cannot be reused");
	qn_manifest_run_end(m, 1, NULL, &err);
	is_int(qn_manifest_verify(m, "snap1", count_rows, &(int){ 0 }, &err), 0, "verify: the tag is intact");
	fp = fopen(path("t2.txt"), "r+");
	fputc('S', fp);	/* "second" -> "Second": one byte, same size */
	fclose(fp);
	f = (struct find){ "status", "changed", 0 };
	bad = qn_manifest_verify(m, "snap1", find_cell, &f, &err);
	ok(bad == 1 && f.found == 1, "verify catches a changed byte");
	unlink(path("t1.txt"));
	f = (struct find){ "status", "missing", 0 };
	bad = qn_manifest_verify(m, "snap1", find_cell, &f, &err);
	ok(bad == 2 && f.found == 1, "and a missing file");
	ok(qn_manifest_verify(m, "nosuch", count_rows, &(int){ 0 }, &err) == QN_ENOTFOUND, "verify of an unknown tag fails");
	qn_manifest_close(m);
}

/* A full disk under the manifest: errors come back, the file stays consistent. */
static void test_full_disk(void)
{
	const char *db = path("full.db");
	int st;
	pid_t pid;

	writer(db, "quern-before", 10, NULL, NULL);
	pid = fork();
	if (pid == 0) {
		struct rlimit rl = { 2 << 20, 2 << 20 };

		signal(SIGXFSZ, SIG_IGN);
		setrlimit(RLIMIT_FSIZE, &rl);
		/* writer() returns non-zero when a write reports the error. */
		_exit(writer(db, "quern-full", 200000, NULL, NULL) ? 3 : 0);
	}
	waitpid(pid, &st, 0);
	is_int(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 3, "a manifest write past the disk's end returns an error (no crash)");
	is_int(q(db, "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check = 'ok'"), 1,
	       "and the database stays consistent");
	is_int(q(db, "SELECT count(*) FROM runs WHERE tool = 'quern-before' AND status = 'ok'"), 1, "earlier runs intact");
	is_int(q(db, "SELECT count(*) FROM events e JOIN runs r ON r.id = e.run WHERE r.tool = 'quern-full'"), 0,
	       "none of the failed batch was kept");
}

int main(void)
{
	tap_tmpdir();
	test_run_and_reports();
	test_newer_schema();
	test_concurrent();
	test_killed();
	test_merge_and_verify();
	test_full_disk();
	tap_cleanup();
	return done_testing();
}
