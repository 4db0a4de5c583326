/*
 * manifest.c: the SQLite manifest (see manifest.h).
 *
 * Writes are queued as rows in memory (the strings in one arena) and
 * written by flush() in a single BEGIN IMMEDIATE transaction with
 * prepared statements.  Queuing rather than holding a transaction open
 * keeps the write lock short whatever the program does between records,
 * which is what lets eight processes share one file without waiting long.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "manifest.h"

/* ---- schema ---- */

/*
 * Migrations, in order: migrations[i] takes user_version i to i + 1.
 * Never edit one that has shipped; add the next.
 */
static const char *const migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE runs ("
	"  id INTEGER PRIMARY KEY,"
	"  uuid TEXT NOT NULL UNIQUE,"
	"  tool TEXT NOT NULL,"
	"  version TEXT NOT NULL,"
	"  argv TEXT NOT NULL,"		/* JSON array */
	"  config TEXT NOT NULL,"	/* JSON object, defaults included */
	"  host TEXT NOT NULL,"
	"  pid INTEGER NOT NULL,"
	"  started TEXT NOT NULL,"	/* ISO 8601 UTC */
	"  ended TEXT,"
	"  status TEXT NOT NULL CHECK (status IN ('running','ok','failed')),"
	"  error TEXT,"
	"  counters TEXT NOT NULL DEFAULT '{}'"
	");"
	"CREATE TABLE files ("
	"  id INTEGER PRIMARY KEY,"
	"  path TEXT NOT NULL,"
	"  size INTEGER NOT NULL,"
	"  hash TEXT NOT NULL,"		/* xxh3-128, 32 hex digits */
	"  UNIQUE (path, size, hash)"
	");"
	"CREATE INDEX files_hash ON files(hash);"
	"CREATE TABLE run_files ("
	"  run INTEGER NOT NULL REFERENCES runs(id),"
	"  file INTEGER NOT NULL REFERENCES files(id),"
	"  role TEXT NOT NULL CHECK (role IN ('input','output')),"
	"  PRIMARY KEY (run, file, role)"
	") WITHOUT ROWID;"
	"CREATE INDEX run_files_file ON run_files(file, role);"
	"CREATE TABLE docs ("
	"  id TEXT PRIMARY KEY,"
	"  source TEXT NOT NULL,"
	"  locator TEXT NOT NULL,"
	"  size INTEGER NOT NULL,"
	"  run INTEGER NOT NULL REFERENCES runs(id)"
	") WITHOUT ROWID;"
	/* Rules are few and events many: events name their rule by number. */
	"CREATE TABLE rules ("
	"  id INTEGER PRIMARY KEY,"
	"  kind TEXT NOT NULL CHECK (kind IN ('drop','modify','duplicate','reject')),"
	"  name TEXT NOT NULL,"
	"  UNIQUE (kind, name)"
	");"
	/*
	 * Clustered by document: one B-tree, and a document's events sit
	 * together.  seq numbers a run's events in the order they happened.
	 */
	"CREATE TABLE events ("
	"  doc TEXT NOT NULL,"
	"  run INTEGER NOT NULL REFERENCES runs(id),"
	"  seq INTEGER NOT NULL,"
	"  rule INTEGER NOT NULL REFERENCES rules(id),"
	"  value TEXT,"
	"  other TEXT,"
	"  PRIMARY KEY (doc, run, seq)"
	") WITHOUT ROWID;"
	"CREATE VIEW doc_events AS"
	"  SELECT e.doc, e.run, e.seq, r.kind, r.name AS rule, e.value, e.other"
	"  FROM events e JOIN rules r ON r.id = e.rule;"
	"CREATE TABLE shard_docs ("
	"  run INTEGER NOT NULL REFERENCES runs(id),"
	"  shard TEXT NOT NULL,"
	"  doc TEXT NOT NULL,"
	"  first_token INTEGER NOT NULL,"
	"  n_tokens INTEGER NOT NULL,"
	"  PRIMARY KEY (shard, first_token, run)"
	") WITHOUT ROWID;"
	"CREATE INDEX shard_docs_doc ON shard_docs(doc);"
	"CREATE TABLE tags ("
	"  name TEXT PRIMARY KEY,"
	"  note TEXT,"
	"  created TEXT NOT NULL,"
	"  run INTEGER REFERENCES runs(id)"
	");"
	"CREATE TABLE tag_files ("
	"  tag TEXT NOT NULL REFERENCES tags(name),"
	"  file INTEGER NOT NULL REFERENCES files(id),"
	"  PRIMARY KEY (tag, file)"
	") WITHOUT ROWID;"
	"CREATE TABLE train_runs ("
	"  run INTEGER PRIMARY KEY REFERENCES runs(id),"
	"  tag TEXT,"
	"  tokenizer TEXT,"
	"  config TEXT NOT NULL,"
	"  seed INTEGER"
	");"
	"CREATE TABLE train_metrics ("
	"  run INTEGER NOT NULL REFERENCES runs(id),"
	"  step INTEGER NOT NULL,"
	"  name TEXT NOT NULL,"
	"  value REAL,"
	"  PRIMARY KEY (run, step, name)"
	") WITHOUT ROWID;"
	"CREATE TABLE checkpoints ("
	"  run INTEGER NOT NULL REFERENCES runs(id),"
	"  step INTEGER NOT NULL,"
	"  file INTEGER NOT NULL REFERENCES files(id),"
	"  PRIMARY KEY (run, step)"
	") WITHOUT ROWID;",
};
#define NMIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

/* ---- queued rows ---- */

enum stmt_id {
	S_FILE,		/* path size hash */
	S_RUN_FILE,	/* run path size hash role */
	S_DOC,		/* id source locator size run */
	S_EVENT,	/* run doc rule-index value other seq (index into m->rules) */
	S_SHARD,	/* run shard doc first n */
	S_TRAIN,	/* run tag tokenizer config seed */
	S_METRIC,	/* run step name value */
	S_CKPT,		/* run step path size hash */
	S_RULE_ADD,	/* kind name */
	S_RULE_GET,	/* kind name -> id */
	S_EVENT_MANY,	/* EVENTS_PER_STMT events at once */
	NSTMT
};

/* Events go in EVENTS_PER_STMT rows per statement: per-statement cost halves. */
#define EVENTS_PER_STMT 50
#define EVENT_VALUES "(?,?,?,?,?,?)"
#define EVENT_VALUES10 EVENT_VALUES "," EVENT_VALUES "," EVENT_VALUES "," EVENT_VALUES "," \
	EVENT_VALUES "," EVENT_VALUES "," EVENT_VALUES "," EVENT_VALUES "," EVENT_VALUES "," EVENT_VALUES

static const char *const stmt_sql[NSTMT] = {
	[S_FILE] = "INSERT OR IGNORE INTO files(path,size,hash) VALUES(?1,?2,?3)",
	[S_RUN_FILE] = "INSERT OR IGNORE INTO run_files(run,file,role) "
		       "SELECT ?1, id, ?5 FROM files WHERE path=?2 AND size=?3 AND hash=?4",
	[S_DOC] = "INSERT OR IGNORE INTO docs(id,source,locator,size,run) VALUES(?1,?2,?3,?4,?5)",
	[S_EVENT] = "INSERT INTO events(run,doc,rule,value,other,seq) VALUES(?1,?2,?3,?4,?5,?6)",
	[S_SHARD] = "INSERT OR REPLACE INTO shard_docs(run,shard,doc,first_token,n_tokens) VALUES(?1,?2,?3,?4,?5)",
	[S_TRAIN] = "INSERT OR REPLACE INTO train_runs(run,tag,tokenizer,config,seed) VALUES(?1,?2,?3,?4,?5)",
	[S_METRIC] = "INSERT OR REPLACE INTO train_metrics(run,step,name,value) VALUES(?1,?2,?3,?4)",
	[S_CKPT] = "INSERT OR REPLACE INTO checkpoints(run,step,file) "
		   "SELECT ?1, ?2, id FROM files WHERE path=?3 AND size=?4 AND hash=?5",
	[S_RULE_ADD] = "INSERT OR IGNORE INTO rules(kind,name) VALUES(?1,?2)",
	[S_RULE_GET] = "SELECT id FROM rules WHERE kind=?1 AND name=?2",
	[S_EVENT_MANY] = "INSERT INTO events(run,doc,rule,value,other,seq) VALUES " EVENT_VALUES10 ","
			 EVENT_VALUES10 "," EVENT_VALUES10 "," EVENT_VALUES10 "," EVENT_VALUES10,
};

#define MAXP 6

/* A parameter: an integer, a real, NULL, or a string at an arena offset. */
struct param {
	char type;	/* 'i', 'r', 'n', 't' */
	union {
		int64_t i;
		double r;
		size_t off;
	} u;
};

struct row {
	unsigned char stmt, np;
	struct param p[MAXP];
};

struct counter {
	char *name;
	int64_t value;
};

/* A rule seen by this handle; id is its row in rules, -1 until written. */
struct rule {
	char *kind, *name;
	int64_t id;
};

struct qn_manifest {
	sqlite3 *db;
	char *path;
	sqlite3_stmt *stmt[NSTMT];
	int64_t run;
	char uuid[QN_HASH_HEX];
	struct row *rows;
	size_t nrows, caprows;
	struct qn_buf arena;
	struct counter *counters;
	int ncounters;
	struct rule *rules;
	int nrules, last_rule;
	int64_t event_seq;	/* events of this run so far */
	size_t flush_rows;	/* rows per transaction */
	int run_open;
};

/*
 * Rows per transaction.  Large batches matter: events are indexed by a
 * random document id, so each batch dirties most index pages, and each
 * commit writes them again.
 */
enum { FLUSH_ROWS = 1000000, FLUSH_ARENA = 128 << 20 };

/*
 * The system's reason behind an I/O error, as " (File too large)", or "":
 * SQLite says only "disk I/O error" whether the disk is full, the file is
 * over the process's size limit or the device failed.  e is errno as the
 * failed call left it, after setting it to 0 before (0: not known); else
 * SQLite's own record of it, which it does not always keep.
 */
static const char *os_reason(struct qn_manifest *m, int e, char *buf, size_t n)
{
	int code = sqlite3_errcode(m->db) & 0xff;

	buf[0] = '\0';
	if (!e)
		e = sqlite3_system_errno(m->db);
	if (e && (code == SQLITE_IOERR || code == SQLITE_FULL || code == SQLITE_CANTOPEN))
		snprintf(buf, n, " (%s)", strerror(e));
	return buf;
}

/* Sets err to "PATH: WHAT: SQLite's message (the reason)"; e as for os_reason. */
static int dberr_e(struct qn_manifest *m, struct qn_err *err, const char *what, int e)
{
	char why[128];

	return qn_err_set(err, QN_EDB, "%s: %s: %s%s", m->path, what, sqlite3_errmsg(m->db),
			  os_reason(m, e, why, sizeof why));
}

static int dberr(struct qn_manifest *m, struct qn_err *err, const char *what)
{
	return dberr_e(m, err, what, 0);
}

static int exec(struct qn_manifest *m, const char *sql, struct qn_err *err)
{
	char *msg = NULL, why[128];

	errno = 0;
	if (sqlite3_exec(m->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		qn_err_set(err, QN_EDB, "%s: %s%s", m->path, msg ? msg : sqlite3_errmsg(m->db),
			   os_reason(m, errno, why, sizeof why));
		sqlite3_free(msg);
		return QN_EDB;
	}
	return 0;
}

static int user_version(struct qn_manifest *m)
{
	sqlite3_stmt *st;
	int v = -1;

	if (sqlite3_prepare_v2(m->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Applies every migration past the file's version, each in its own transaction. */
static int migrate(struct qn_manifest *m, struct qn_err *err)
{
	for (;;) {
		int v, rc;
		char sql[64];

		if ((rc = exec(m, "BEGIN IMMEDIATE", err)))
			return rc;
		v = user_version(m);
		if (v < 0) {
			exec(m, "ROLLBACK", NULL);
			return dberr(m, err, "reading the schema version");
		}
		if (v > NMIGRATIONS) {
			exec(m, "ROLLBACK", NULL);
			return qn_err_set(err, QN_EDB, "%s: schema version %d is newer than this quern (%d): upgrade quern",
					  m->path, v, NMIGRATIONS);
		}
		if (v == NMIGRATIONS)
			return exec(m, "COMMIT", err);
		snprintf(sql, sizeof sql, "PRAGMA user_version=%d", v + 1);
		if ((rc = exec(m, migrations[v], err)) || (rc = exec(m, sql, err)) ||
		    (rc = exec(m, "COMMIT", err))) {
			exec(m, "ROLLBACK", NULL);
			return rc;
		}
	}
}

const char *qn_manifest_path(const char *opt)
{
	const char *env;

	if (opt && *opt)
		return opt;
	env = getenv("QUERN_MANIFEST");
	return env && *env ? env : "quern.db";
}

struct qn_manifest *qn_manifest_open(const char *path, struct qn_err *err)
{
	struct qn_manifest *m = qn_xcalloc(1, sizeof *m);
	int i, tries;

	m->path = qn_xstrdup(path);
	/* QUERN_MANIFEST_BATCH: rows per write transaction (memory vs speed). */
	m->flush_rows = FLUSH_ROWS;
	if (getenv("QUERN_MANIFEST_BATCH")) {
		long v = atol(getenv("QUERN_MANIFEST_BATCH"));

		if (v > 0 && v < (long)FLUSH_ROWS * 16)
			m->flush_rows = (size_t)v;
	}
	if (sqlite3_open_v2(path, &m->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			    SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI, NULL) != SQLITE_OK) {
		qn_err_set(err, QN_EDB, "%s: %s", path, m->db ? sqlite3_errmsg(m->db) : "cannot open");
		goto fail;
	}
	sqlite3_busy_timeout(m->db, 600000);
	sqlite3_extended_result_codes(m->db, 1);
	/* Switching to WAL takes a lock that busy_timeout does not always wait for. */
	for (tries = 0;; tries++) {
		struct qn_err e2;

		if (!exec(m, "PRAGMA journal_mode=WAL", &e2))
			break;
		if (tries > 200 || !strstr(e2.msg, "locked")) {
			if (err)
				*err = e2;
			goto fail;
		}
		usleep(50000);
	}
	if (exec(m, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=OFF;"
		 "PRAGMA cache_size=-262144; PRAGMA temp_store=MEMORY", err))
		goto fail;
	if (migrate(m, err))
		goto fail;
	for (i = 0; i < NSTMT; i++)
		if (sqlite3_prepare_v3(m->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
				       &m->stmt[i], NULL) != SQLITE_OK) {
			dberr(m, err, "preparing statements");
			goto fail;
		}
	return m;
fail:
	qn_manifest_close(m);
	return NULL;
}

int qn_manifest_schema(struct qn_manifest *m)
{
	return user_version(m);
}

static void free_counters(struct qn_manifest *m)
{
	int i;

	for (i = 0; i < m->ncounters; i++)
		free(m->counters[i].name);
	free(m->counters);
	m->counters = NULL;
	m->ncounters = 0;
}

void qn_manifest_close(struct qn_manifest *m)
{
	int i;

	if (!m)
		return;
	if (m->db) {
		if (m->nrows)
			qn_manifest_flush(m, NULL);
		for (i = 0; i < NSTMT; i++)
			sqlite3_finalize(m->stmt[i]);
		sqlite3_close(m->db);
	}
	free(m->rows);
	qn_buf_release(&m->arena);
	free_counters(m);
	for (i = 0; i < m->nrules; i++) {
		free(m->rules[i].kind);
		free(m->rules[i].name);
	}
	free(m->rules);
	free(m->path);
	free(m);
}

/* ---- queue ---- */

static struct row *queue(struct qn_manifest *m, enum stmt_id s)
{
	struct row *r;

	if (m->nrows == m->caprows) {
		m->caprows = m->caprows ? m->caprows * 2 : 1024;
		m->rows = qn_xrealloc(m->rows, m->caprows * sizeof *m->rows);
	}
	r = &m->rows[m->nrows++];
	r->stmt = (unsigned char)s;
	r->np = 0;
	return r;
}

static void p_int(struct row *r, int64_t v)
{
	r->p[r->np].type = 'i';
	r->p[r->np++].u.i = v;
}

static void p_real(struct row *r, double v)
{
	r->p[r->np].type = 'r';
	r->p[r->np++].u.r = v;
}

static void p_text(struct qn_manifest *m, struct row *r, const char *s)
{
	if (!s) {
		r->p[r->np++].type = 'n';
		return;
	}
	r->p[r->np].type = 't';
	r->p[r->np++].u.off = m->arena.len;
	qn_buf_append(&m->arena, s, strlen(s) + 1);
}

static int maybe_flush(struct qn_manifest *m, struct qn_err *err)
{
	if (m->nrows >= m->flush_rows || m->arena.len >= FLUSH_ARENA)
		return qn_manifest_flush(m, err);
	return 0;
}

/*
 * The index in m->rules of rule (kind, name), interned on first sight.
 * Programs name few rules and repeat them, so the last one is tried first.
 */
static int intern_rule(struct qn_manifest *m, const char *kind, const char *name)
{
	int i = m->last_rule;

	if (i < m->nrules && !strcmp(m->rules[i].name, name) && !strcmp(m->rules[i].kind, kind))
		return i;
	for (i = 0; i < m->nrules; i++)
		if (!strcmp(m->rules[i].name, name) && !strcmp(m->rules[i].kind, kind))
			return m->last_rule = i;
	m->rules = qn_xrealloc(m->rules, (size_t)(m->nrules + 1) * sizeof *m->rules);
	m->rules[m->nrules].kind = qn_xstrdup(kind);
	m->rules[m->nrules].name = qn_xstrdup(name);
	m->rules[m->nrules].id = -1;
	return m->last_rule = m->nrules++;
}

/*
 * The row id of interned rule i, adding the rule to the table if new.
 * Called inside flush's transaction.  Ids stay right for the life of the
 * handle, rules are never deleted, except that a transaction rolled back
 * takes the rules it added with it: rollback() forgets every id.
 */
static int64_t rule_id(struct qn_manifest *m, int i)
{
	sqlite3_stmt *add = m->stmt[S_RULE_ADD], *get = m->stmt[S_RULE_GET];
	struct rule *r = &m->rules[i];
	int rc;

	if (r->id >= 0)
		return r->id;
	sqlite3_bind_text(add, 1, r->kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(add, 2, r->name, -1, SQLITE_STATIC);
	rc = sqlite3_step(add);
	sqlite3_reset(add);
	if (rc != SQLITE_DONE)
		return -1;
	sqlite3_bind_text(get, 1, r->kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(get, 2, r->name, -1, SQLITE_STATIC);
	if (sqlite3_step(get) == SQLITE_ROW)
		r->id = sqlite3_column_int64(get, 0);
	sqlite3_reset(get);
	return r->id;
}

static void bind(struct qn_manifest *m, sqlite3_stmt *st, int at, const struct param *p)
{
	switch (p->type) {
	case 'i': sqlite3_bind_int64(st, at, p->u.i); break;
	case 'r': sqlite3_bind_double(st, at, p->u.r); break;
	case 't': sqlite3_bind_text(st, at, m->arena.data + p->u.off, -1, SQLITE_STATIC); break;
	default: sqlite3_bind_null(st, at);
	}
}

/*
 * Binds event r (queued as run doc rule-index value other seq) as the six
 * columns of events, starting at parameter at.
 */
static int bind_event(struct qn_manifest *m, sqlite3_stmt *st, int at, const struct row *r)
{
	int64_t id = rule_id(m, (int)r->p[2].u.i);
	int i;

	if (id < 0)
		return -1;
	for (i = 0; i < 6; i++)
		if (i == 2)
			sqlite3_bind_int64(st, at + 2, id);
		else
			bind(m, st, at + i, &r->p[i]);
	return 0;
}

static int step_row(struct qn_manifest *m, const struct row *r)
{
	sqlite3_stmt *st = m->stmt[r->stmt];
	int i, rc;

	if (r->stmt == S_EVENT) {
		if (bind_event(m, st, 1, r))
			return SQLITE_ERROR;
	} else {
		for (i = 0; i < r->np; i++)
			bind(m, st, i + 1, &r->p[i]);
	}
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : rc;
}

/*
 * Rows keyed by a random document id (docs by id, events by doc) are
 * written in key order: B-tree inserts then walk the index pages in
 * order instead of all over them, which roughly halves their cost.
 *
 * The sort is an LSD radix sort on the key's first eight bytes, then a
 * sort by the whole key and queue position within each run of equal
 * prefixes, so one document's events keep their order.  Docs sort before
 * events through the top bit.
 */
struct sortkey {
	uint64_t prefix;
	uint32_t row;
};

static uint64_t prefix_of(const char *s, int is_doc)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8 && s[i]; i++)
		v |= (uint64_t)(unsigned char)s[i] << (56 - 8 * i);
	/* Keys are text, so bytes are never 0xff in practice; the top bit orders types. */
	return is_doc ? v >> 1 : (v >> 1) | (1ULL << 63);
}

static const struct qn_manifest *sort_rows;

static const char *row_key(const struct row *r)
{
	return sort_rows->arena.data + r->p[r->stmt == S_DOC ? 0 : 1].u.off;
}

/* Whole keys, then queue order: equal keys keep the order they were queued in. */
static int cmp_full(const void *a, const void *b)
{
	const struct sortkey *x = a, *y = b;
	int c = strcmp(row_key(&sort_rows->rows[x->row]), row_key(&sort_rows->rows[y->row]));

	if (c)
		return c;
	return x->row < y->row ? -1 : x->row > y->row;
}

static void sort_keys(const struct qn_manifest *m, struct sortkey *k, size_t n)
{
	struct sortkey *tmp = qn_xmalloc(n * sizeof *tmp), *a = k, *b = tmp, *t;
	size_t count[256], i, j;
	int pass;

	for (pass = 0; pass < 8; pass++) {
		int shift = 8 * pass;
		size_t sum = 0;

		memset(count, 0, sizeof count);
		for (i = 0; i < n; i++)
			count[(a[i].prefix >> shift) & 255]++;
		for (i = 0; i < 256; i++) {
			size_t c = count[i];

			count[i] = sum;
			sum += c;
		}
		for (i = 0; i < n; i++)
			b[count[(a[i].prefix >> shift) & 255]++] = a[i];
		t = a, a = b, b = t;
	}
	/* After an even number of passes the result is back in k. */
	free(tmp);
	/* Runs of equal prefixes (ids like "doc-0000001") are sorted in full. */
	sort_rows = m;
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && k[j].prefix == k[i].prefix; j++)
			;
		if (j - i > 1)
			qsort(k + i, j - i, sizeof *k, cmp_full);
	}
}

/* Writes every queued row: in queue order, then docs and events sorted. */
static int write_rows(struct qn_manifest *m)
{
	struct sortkey *key = qn_xmalloc(m->nrows * sizeof *key);
	size_t i, k, n = 0;
	int rc = 0;

	for (i = 0; i < m->nrows && !rc; i++) {
		const struct row *r = &m->rows[i];

		if (r->stmt == S_DOC || r->stmt == S_EVENT) {
			key[n].prefix = prefix_of(m->arena.data + r->p[r->stmt == S_DOC ? 0 : 1].u.off,
						  r->stmt == S_DOC);
			key[n++].row = (uint32_t)i;
		} else {
			rc = step_row(m, r);
		}
	}
	sort_keys(m, key, n);
	/* Docs first: the top bit of the prefix put them there. */
	for (i = 0; i < n && !rc && m->rows[key[i].row].stmt == S_DOC; i++)
		rc = step_row(m, &m->rows[key[i].row]);
	while (i < n && !rc) {
		sqlite3_stmt *st = m->stmt[S_EVENT_MANY];
		uint32_t batch[EVENTS_PER_STMT];

		for (k = 0; k < EVENTS_PER_STMT && i < n; i++)
			batch[k++] = key[i].row;
		if (k == EVENTS_PER_STMT) {
			for (k = 0; k < EVENTS_PER_STMT && !rc; k++)
				rc = bind_event(m, st, 1 + 6 * (int)k, &m->rows[batch[k]]) ? SQLITE_ERROR : 0;
			if (!rc) {
				rc = sqlite3_step(st) == SQLITE_DONE ? 0 : SQLITE_ERROR;
				sqlite3_reset(st);
			}
		} else {
			size_t j;

			for (j = 0; j < k && !rc; j++)
				rc = step_row(m, &m->rows[batch[j]]);
		}
	}
	free(key);
	return rc;
}

static int write_counters(struct qn_manifest *m, struct qn_err *err);
static int write_status(struct qn_manifest *m, int ok, const char *error,
			struct qn_err *err);

/* Rolls the open transaction back; rule ids it gave out are gone with it. */
static void rollback(struct qn_manifest *m)
{
	int i;

	exec(m, "ROLLBACK", NULL);
	for (i = 0; i < m->nrules; i++)
		m->rules[i].id = -1;
}

/*
 * One transaction: every queued row, the run's counters (while a run is
 * open) and, when status is 1 (ok) or 0 (failed), the run's end.  On
 * failure nothing of it is written and the rows stay queued.
 */
static int write_all_rows(struct qn_manifest *m, int status, const char *error,
			  struct qn_err *err)
{
	int rc;

	if ((rc = exec(m, "BEGIN IMMEDIATE", err)))
		return rc;
	if (write_rows(m)) {
		dberr(m, err, "writing");
		rollback(m);
		return QN_EDB;
	}
	if ((m->run_open && (rc = write_counters(m, err))) ||
	    (status >= 0 && (rc = write_status(m, status, error, err))) ||
	    (rc = exec(m, "COMMIT", err))) {
		rollback(m);
		return rc;
	}
	m->nrows = 0;
	qn_buf_reset(&m->arena);
	return 0;
}

int qn_manifest_flush(struct qn_manifest *m, struct qn_err *err)
{
	if (!m->nrows && !m->run_open)
		return 0;
	return write_all_rows(m, -1, NULL, err);
}

/* ---- runs ---- */

static void make_uuid(char out[QN_HASH_HEX])
{
	struct {
		unsigned char rnd[16];
		struct timespec ts;
		pid_t pid;
	} seed;

	memset(&seed, 0, sizeof seed);
	if (getrandom(seed.rnd, sizeof seed.rnd, 0) < 0)
		memset(seed.rnd, 0, sizeof seed.rnd);
	clock_gettime(CLOCK_REALTIME, &seed.ts);
	seed.pid = getpid();
	qn_hash_hex(qn_hash_bytes(&seed, sizeof seed), out);
}

int qn_manifest_run_begin(struct qn_manifest *m, const char *tool,
			  int argc, char *const argv[], const char *config_json,
			  struct qn_err *err)
{
	struct qn_buf av = QN_BUF_INIT;
	char host[HOST_NAME_MAX + 1] = "";
	sqlite3_stmt *st;
	int i, rc, e;

	qn_buf_putc(&av, '[');
	for (i = 0; i < argc; i++) {
		if (i)
			qn_buf_putc(&av, ',');
		qn_buf_append_json_str(&av, argv[i], strlen(argv[i]));
	}
	qn_buf_putc(&av, ']');
	gethostname(host, sizeof host - 1);
	make_uuid(m->uuid);
	if (sqlite3_prepare_v2(m->db,
			       "INSERT INTO runs(uuid,tool,version,argv,config,host,pid,started,status)"
			       " VALUES(?1,?2,?3,?4,json(?5),?6,?7,strftime('%Y-%m-%dT%H:%M:%fZ','now'),'running')",
			       -1, &st, NULL) != SQLITE_OK) {
		qn_buf_release(&av);
		return dberr(m, err, "starting the run");
	}
	sqlite3_bind_text(st, 1, m->uuid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, tool, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, QN_VERSION, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, av.data, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, config_json ? config_json : "{}", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, host, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, (int64_t)getpid());
	errno = 0;
	rc = sqlite3_step(st);
	e = errno;
	sqlite3_finalize(st);
	qn_buf_release(&av);
	if (rc != SQLITE_DONE)
		return dberr_e(m, err, "starting the run", e);
	m->run = sqlite3_last_insert_rowid(m->db);
	m->run_open = 1;
	m->event_seq = 0;
	return 0;
}

int64_t qn_manifest_run_id(const struct qn_manifest *m)
{
	return m->run;
}

const char *qn_manifest_run_uuid(const struct qn_manifest *m)
{
	return m->uuid;
}

/* The absolute form of path, so that records mean the same from any directory. */
static char *abs_path(const char *path)
{
	char *r = realpath(path, NULL);

	if (!r) {
		char cwd[PATH_MAX];

		if (path[0] == '/' || !getcwd(cwd, sizeof cwd))
			return qn_xstrdup(path);
		return qn_xasprintf("%s/%s", cwd, path);
	}
	return r;
}

static int need_run(struct qn_manifest *m, struct qn_err *err)
{
	return m->run_open ? 0 : qn_err_set(err, QN_EUSAGE, "%s: no run started", m->path);
}

static void queue_file(struct qn_manifest *m, const char *apath, uint64_t size,
		       const char *hex)
{
	struct row *r = queue(m, S_FILE);

	p_text(m, r, apath);
	p_int(r, (int64_t)size);
	p_text(m, r, hex);
}

int qn_manifest_file_hashed_abs(struct qn_manifest *m, const char *abspath,
				uint64_t size, struct qn_hash128 h,
				enum qn_role role, struct qn_err *err)
{
	char hex[QN_HASH_HEX];
	struct row *r;

	if (need_run(m, err))
		return QN_EUSAGE;
	qn_hash_hex(h, hex);
	queue_file(m, abspath, size, hex);
	r = queue(m, S_RUN_FILE);
	p_int(r, m->run);
	p_text(m, r, abspath);
	p_int(r, (int64_t)size);
	p_text(m, r, hex);
	p_text(m, r, role == QN_INPUT ? "input" : "output");
	return maybe_flush(m, err);
}

int qn_manifest_file_hashed(struct qn_manifest *m, const char *path,
			    uint64_t size, struct qn_hash128 h,
			    enum qn_role role, struct qn_err *err)
{
	char *apath;
	int rc;

	if (need_run(m, err))
		return QN_EUSAGE;
	apath = abs_path(path);
	rc = qn_manifest_file_hashed_abs(m, apath, size, h, role, err);
	free(apath);
	return rc;
}

int qn_manifest_file(struct qn_manifest *m, const char *path,
		     enum qn_role role, struct qn_err *err)
{
	struct qn_hash128 h;
	uint64_t size;
	int rc;

	if ((rc = qn_hash_file(path, &h, &size, err)))
		return rc;
	return qn_manifest_file_hashed(m, path, size, h, role, err);
}

int qn_manifest_doc(struct qn_manifest *m, const char *id, const char *source,
		    const char *locator, uint64_t size, struct qn_err *err)
{
	struct row *r;

	if (need_run(m, err))
		return QN_EUSAGE;
	r = queue(m, S_DOC);
	p_text(m, r, id);
	p_text(m, r, source ? source : "");
	p_text(m, r, locator ? locator : "");
	p_int(r, (int64_t)size);
	p_int(r, m->run);
	return maybe_flush(m, err);
}

int qn_manifest_event(struct qn_manifest *m, const char *doc, const char *kind,
		      const char *rule, const char *value, const char *other,
		      struct qn_err *err)
{
	struct row *r;

	if (need_run(m, err))
		return QN_EUSAGE;
	if (strcmp(kind, "drop") && strcmp(kind, "modify") &&
	    strcmp(kind, "duplicate") && strcmp(kind, "reject"))
		return qn_err_set(err, QN_EUSAGE, "unknown event kind '%s'", kind);
	r = queue(m, S_EVENT);
	p_int(r, m->run);
	p_text(m, r, doc);
	p_int(r, intern_rule(m, kind, rule));
	p_text(m, r, value);
	p_text(m, r, other);
	p_int(r, m->event_seq++);
	return maybe_flush(m, err);
}

int qn_manifest_shard_doc(struct qn_manifest *m, const char *shard,
			  const char *doc, int64_t first_token,
			  int64_t n_tokens, struct qn_err *err)
{
	struct row *r;
	char *apath;

	if (need_run(m, err))
		return QN_EUSAGE;
	apath = abs_path(shard);
	r = queue(m, S_SHARD);
	p_int(r, m->run);
	p_text(m, r, apath);
	p_text(m, r, doc);
	p_int(r, first_token);
	p_int(r, n_tokens);
	free(apath);
	return maybe_flush(m, err);
}

int qn_manifest_train(struct qn_manifest *m, const char *tag,
		      const char *tokenizer_hash, const char *config_json,
		      int64_t seed, struct qn_err *err)
{
	struct row *r;

	if (need_run(m, err))
		return QN_EUSAGE;
	r = queue(m, S_TRAIN);
	p_int(r, m->run);
	p_text(m, r, tag);
	p_text(m, r, tokenizer_hash);
	p_text(m, r, config_json ? config_json : "{}");
	p_int(r, seed);
	return maybe_flush(m, err);
}

int qn_manifest_metric(struct qn_manifest *m, int64_t step, const char *name,
		       double value, struct qn_err *err)
{
	struct row *r;

	if (need_run(m, err))
		return QN_EUSAGE;
	r = queue(m, S_METRIC);
	p_int(r, m->run);
	p_int(r, step);
	p_text(m, r, name);
	p_real(r, value);
	return maybe_flush(m, err);
}

int qn_manifest_checkpoint(struct qn_manifest *m, int64_t step,
			   const char *path, struct qn_err *err)
{
	struct qn_hash128 h;
	char hex[QN_HASH_HEX], *apath;
	uint64_t size;
	struct row *r;
	int rc;

	if (need_run(m, err))
		return QN_EUSAGE;
	if ((rc = qn_hash_file(path, &h, &size, err)))
		return rc;
	if ((rc = qn_manifest_file_hashed(m, path, size, h, QN_OUTPUT, err)))
		return rc;
	qn_hash_hex(h, hex);
	apath = abs_path(path);
	r = queue(m, S_CKPT);
	p_int(r, m->run);
	p_int(r, step);
	p_text(m, r, apath);
	p_int(r, (int64_t)size);
	p_text(m, r, hex);
	free(apath);
	return maybe_flush(m, err);
}

void qn_manifest_count(struct qn_manifest *m, const char *name, int64_t delta)
{
	int i;

	for (i = 0; i < m->ncounters; i++)
		if (!strcmp(m->counters[i].name, name)) {
			m->counters[i].value += delta;
			return;
		}
	m->counters = qn_xrealloc(m->counters, (size_t)(m->ncounters + 1) * sizeof *m->counters);
	m->counters[m->ncounters].name = qn_xstrdup(name);
	m->counters[m->ncounters++].value = delta;
}

/* Counters as a JSON object, in the order first counted. */
static int write_counters(struct qn_manifest *m, struct qn_err *err)
{
	struct qn_buf js = QN_BUF_INIT;
	sqlite3_stmt *st;
	int i, rc;

	qn_buf_putc(&js, '{');
	for (i = 0; i < m->ncounters; i++) {
		if (i)
			qn_buf_putc(&js, ',');
		qn_buf_append_json_str(&js, m->counters[i].name, strlen(m->counters[i].name));
		qn_buf_appendf(&js, ":%lld", (long long)m->counters[i].value);
	}
	qn_buf_putc(&js, '}');
	if (sqlite3_prepare_v2(m->db, "UPDATE runs SET counters=?1 WHERE id=?2", -1, &st, NULL) != SQLITE_OK) {
		qn_buf_release(&js);
		return dberr(m, err, "writing counters");
	}
	sqlite3_bind_text(st, 1, js.data, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, m->run);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	qn_buf_release(&js);
	return rc == SQLITE_DONE ? 0 : dberr(m, err, "writing counters");
}

/* Sets the open run's status, error and end time (inside a transaction). */
static int write_status(struct qn_manifest *m, int ok, const char *error,
			struct qn_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(m->db, "UPDATE runs SET status=?1, error=?2,"
			       " ended=strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id=?3",
			       -1, &st, NULL) != SQLITE_OK)
		return dberr(m, err, "ending the run");
	sqlite3_bind_text(st, 1, ok ? "ok" : "failed", -1, SQLITE_STATIC);
	if (error)
		sqlite3_bind_text(st, 2, error, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, m->run);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : dberr(m, err, "ending the run");
}

/*
 * The queued rows, the counters and the status go in one transaction, so
 * a run is never "ok" without its records.  When they cannot be written
 * (a full disk), the records are dropped and the run is marked failed,
 * with the reason it failed or, for a run that was to end ok, why its
 * records could not be written: a smaller write, into space the failed
 * transaction used, so a run is marked failed whenever that can be done
 * at all.  The first error is what is returned.
 */
int qn_manifest_run_end(struct qn_manifest *m, int ok, const char *error,
			struct qn_err *err)
{
	struct qn_err own, again;
	int rc;

	if (!err)
		err = &own;
	if (need_run(m, err))
		return QN_EUSAGE;
	if ((rc = write_all_rows(m, ok, error, err))) {
		m->nrows = 0;
		qn_buf_reset(&m->arena);
		if (write_all_rows(m, 0, ok ? err->msg : error, &again))
			return rc;
	}
	m->run_open = 0;
	free_counters(m);
	return rc;
}

/* ---- reports ---- */

/*
 * Steps st to the end, handing each row to fn.  fix, if not NULL, may
 * rewrite cells (as text) before fn sees them.
 */
typedef void (*fix_fn)(const char **values, enum qn_cell *types, int n);

static int emit_rows(struct qn_manifest *m, sqlite3_stmt *st, fix_fn fix,
		     qn_row_fn fn, void *ctx, int *count, struct qn_err *err)
{
	const char *names[32], *values[32];
	enum qn_cell types[32];
	struct qn_row row = { 0, names, values, types };
	int i, rc;

	row.ncols = sqlite3_column_count(st);
	if (row.ncols > 32)
		row.ncols = 32;
	for (i = 0; i < row.ncols; i++)
		names[i] = sqlite3_column_name(st, i);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (i = 0; i < row.ncols; i++) {
			switch (sqlite3_column_type(st, i)) {
			case SQLITE_INTEGER: types[i] = QN_CELL_INT; break;
			case SQLITE_FLOAT: types[i] = QN_CELL_REAL; break;
			case SQLITE_NULL: types[i] = QN_CELL_NULL; break;
			default: types[i] = QN_CELL_TEXT;
			}
			values[i] = (const char *)sqlite3_column_text(st, i);
		}
		if (fix)
			fix(values, types, row.ncols);
		if (count)
			(*count)++;
		if (fn(ctx, &row))
			return 0;
	}
	return rc == SQLITE_DONE ? 0 : dberr(m, err, "reading");
}

/* Runs sql with text parameters (NULL-terminated list) and reports its rows. */
static int report(struct qn_manifest *m, const char *sql, const char *const *params,
		  fix_fn fix, qn_row_fn fn, void *ctx, int *count, struct qn_err *err)
{
	sqlite3_stmt *st;
	int i, rc;

	if (sqlite3_prepare_v2(m->db, sql, -1, &st, NULL) != SQLITE_OK)
		return dberr(m, err, "query");
	for (i = 0; params && params[i]; i++)
		sqlite3_bind_text(st, i + 1, params[i], -1, SQLITE_STATIC);
	rc = emit_rows(m, st, fix, fn, ctx, count, err);
	sqlite3_finalize(st);
	return rc;
}

/*
 * A run still 'running' whose process is gone from this host was killed:
 * show it as interrupted.  Columns: status at 2, host at 6, pid at 7.
 */
static void fix_status(const char **v, enum qn_cell *t, int n)
{
	static char host[HOST_NAME_MAX + 1];
	long pid;

	if (n < 8 || !v[2] || strcmp(v[2], "running") || !v[6] || !v[7])
		return;
	if (!host[0])
		gethostname(host, sizeof host - 1);
	pid = strtol(v[7], NULL, 10);
	if (!strcmp(v[6], host) && pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH)
		v[2] = "interrupted";
}

int qn_manifest_runs(struct qn_manifest *m, qn_row_fn fn, void *ctx,
		     struct qn_err *err)
{
	return report(m,
		      "SELECT id, tool, status, started, ended,"
		      " round((julianday(coalesce(ended, started)) - julianday(started)) * 86400, 3) AS seconds,"
		      " host, pid, counters, argv, error, uuid FROM runs ORDER BY id",
		      NULL, fix_status, fn, ctx, NULL, err);
}

int qn_manifest_files(struct qn_manifest *m, qn_row_fn fn, void *ctx,
		      struct qn_err *err)
{
	return report(m,
		      "SELECT f.id, f.path, f.size, f.hash,"
		      " (SELECT group_concat(run, ',') FROM run_files WHERE file = f.id AND role = 'output') AS written_by,"
		      " (SELECT group_concat(run, ',') FROM run_files WHERE file = f.id AND role = 'input') AS read_by"
		      " FROM files f ORDER BY f.id",
		      NULL, NULL, fn, ctx, NULL, err);
}

/*
 * Upstream walk.  Seeds are (kind, id, depth) rows; from a file we go to
 * the runs that wrote it, from a run to the files it read.  The depth cap
 * stops cycles (a run that reads and writes the same bytes).
 */
#define LINEAGE_WALK \
	" up(kind, id, depth) AS (SELECT kind, id, depth FROM seed" \
	"  UNION SELECT 'run', rf.run, up.depth + 1 FROM up JOIN run_files rf" \
	"   ON up.kind = 'file' AND rf.file = up.id AND rf.role = 'output' WHERE up.depth < 64" \
	"  UNION SELECT 'file', rf.file, up.depth + 1 FROM up JOIN run_files rf" \
	"   ON up.kind = 'run' AND rf.run = up.id AND rf.role = 'input' WHERE up.depth < 64)," \
	" best(kind, id, depth) AS (SELECT kind, id, min(depth) FROM up GROUP BY kind, id)" \
	" SELECT b.depth, b.kind, b.id," \
	"  CASE b.kind WHEN 'run' THEN r.tool ELSE f.path END AS name," \
	"  CASE b.kind WHEN 'run' THEN r.status || ' ' || r.started ELSE f.size || ' bytes' END AS detail," \
	"  CASE b.kind WHEN 'run' THEN r.uuid ELSE f.hash END AS hash" \
	" FROM best b LEFT JOIN runs r ON b.kind = 'run' AND r.id = b.id" \
	" LEFT JOIN files f ON b.kind = 'file' AND f.id = b.id" \
	" ORDER BY b.depth, b.kind DESC, b.id"

int qn_manifest_lineage(struct qn_manifest *m, const char *target,
			qn_row_fn fn, void *ctx, struct qn_err *err)
{
	const char *params[3] = { target, NULL, NULL };
	char *apath = abs_path(target);
	int n = 0, rc;

	params[1] = apath;
	/* A document id first; then a path (as given or absolute) or a file hash. */
	rc = report(m,
		    "WITH RECURSIVE seed(kind, id, depth) AS ("
		    "  SELECT 'run', run, 1 FROM docs WHERE id = ?1"
		    "  UNION SELECT 'run', run, 1 FROM doc_events WHERE doc = ?1"
		    "  UNION SELECT 'run', run, 1 FROM shard_docs WHERE doc = ?1"
		    "  UNION SELECT 'file', f.id, 1 FROM shard_docs s JOIN files f ON f.path = s.shard WHERE s.doc = ?1),"
		    LINEAGE_WALK, params, NULL, fn, ctx, &n, err);
	if (!rc && !n)
		rc = report(m,
			    "WITH RECURSIVE seed(kind, id, depth) AS ("
			    "  SELECT 'file', max(id), 0 FROM files WHERE path = ?1 OR path = ?2"
			    "  HAVING max(id) IS NOT NULL"
			    "  UNION SELECT 'file', id, 0 FROM files WHERE hash = ?1),"
			    LINEAGE_WALK, params, NULL, fn, ctx, &n, err);
	free(apath);
	if (!rc && !n)
		rc = qn_err_set(err, QN_ENOTFOUND, "%s: no document or file '%s' in the manifest", m->path, target);
	return rc;
}

int qn_manifest_why(struct qn_manifest *m, const char *doc, qn_row_fn fn,
		    void *ctx, struct qn_err *err)
{
	const char *params[2] = { doc, NULL };
	int n = 0, rc;

	rc = report(m,
		    "SELECT run, tool, time, event, rule, value, other FROM ("
		    " SELECT r.id AS run, r.tool, r.started AS time, 'collected' AS event,"
		    "  CASE d.locator WHEN '' THEN d.source ELSE d.source || ' ' || d.locator END AS rule,"
		    "  d.size || ' bytes' AS value, NULL AS other, 0 AS kind_order, 0 AS seq"
		    "  FROM docs d JOIN runs r ON r.id = d.run WHERE d.id = ?1"
		    " UNION ALL"
		    " SELECT r.id, r.tool, r.started, e.kind, e.rule, e.value, e.other, 1, e.seq"
		    "  FROM doc_events e JOIN runs r ON r.id = e.run WHERE e.doc = ?1"
		    " UNION ALL"
		    " SELECT r.id, r.tool, r.started, 'sharded', s.shard,"
		    "  'tokens ' || s.first_token || '..' || (s.first_token + s.n_tokens), NULL, 2,"
		    "  printf('%s %020d', s.shard, s.first_token)"  /* pieces in shard order */
		    "  FROM shard_docs s JOIN runs r ON r.id = s.run WHERE s.doc = ?1"
		    ") ORDER BY run, kind_order, seq",
		    params, NULL, fn, ctx, &n, err);
	if (!rc && !n)
		rc = qn_err_set(err, QN_ENOTFOUND, "%s: no document '%s' in the manifest", m->path, doc);
	return rc;
}

int qn_manifest_tag(struct qn_manifest *m, const char *name, const char *note,
		    int nfiles, char *const files[], struct qn_err *err)
{
	sqlite3_stmt *st = NULL;
	int i, rc;

	if (!*name || strchr(name, '/') || strspn(name, " \t\n") == strlen(name))
		return qn_err_set(err, QN_EUSAGE, "'%s' is not a valid tag name", name);
	if (nfiles < 1)
		return qn_err_set(err, QN_EUSAGE, "tag '%s' names no files", name);
	/* Hash and queue every file first: a missing one tags nothing. */
	for (i = 0; i < nfiles; i++) {
		struct qn_hash128 h;
		char hex[QN_HASH_HEX], *apath;
		uint64_t size;

		if ((rc = qn_hash_file(files[i], &h, &size, err)))
			return rc;
		if (m->run_open) {
			/* The tagging run read these files: record them as its inputs. */
			if ((rc = qn_manifest_file_hashed(m, files[i], size, h, QN_INPUT, err)))
				return rc;
			continue;
		}
		qn_hash_hex(h, hex);
		apath = abs_path(files[i]);
		queue_file(m, apath, size, hex);
		free(apath);
	}
	if ((rc = qn_manifest_flush(m, err)) || (rc = exec(m, "BEGIN IMMEDIATE", err)))
		return rc;
	if (sqlite3_prepare_v2(m->db, "INSERT INTO tags(name, note, created, run)"
			       " VALUES(?1, ?2, strftime('%Y-%m-%dT%H:%M:%fZ','now'), ?3)",
			       -1, &st, NULL) != SQLITE_OK)
		goto dbfail;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (note)
		sqlite3_bind_text(st, 2, note, -1, SQLITE_STATIC);
	if (m->run_open)
		sqlite3_bind_int64(st, 3, m->run);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	st = NULL;
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE) {
		exec(m, "ROLLBACK", NULL);
		return qn_err_set(err, QN_EUSAGE, "tag '%s' already exists: tags are immutable", name);
	}
	if (rc != SQLITE_DONE)
		goto dbfail;
	/* The newest version of each path is the one just hashed. */
	if (sqlite3_prepare_v2(m->db, "INSERT OR IGNORE INTO tag_files(tag, file)"
			       " SELECT ?1, id FROM files WHERE path = ?2 ORDER BY id DESC LIMIT 1",
			       -1, &st, NULL) != SQLITE_OK)
		goto dbfail;
	for (i = 0; i < nfiles; i++) {
		char *apath = abs_path(files[i]);

		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, apath, -1, SQLITE_TRANSIENT);
		free(apath);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			goto dbfail;
	}
	sqlite3_finalize(st);
	st = NULL;
	if ((rc = exec(m, "COMMIT", err)))
		return rc;
	/* The same path named twice is one file of the tag. */
	if (sqlite3_prepare_v2(m->db, "SELECT count(*) FROM tag_files WHERE tag = ?1", -1, &st, NULL) != SQLITE_OK)
		return dberr(m, err, "tagging");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : dberr(m, err, "tagging");
	sqlite3_finalize(st);
	return rc;
dbfail:
	dberr(m, err, "tagging");
	sqlite3_finalize(st);
	exec(m, "ROLLBACK", NULL);
	return QN_EDB;
}

int qn_manifest_tags(struct qn_manifest *m, qn_row_fn fn, void *ctx,
		     struct qn_err *err)
{
	return report(m,
		      "SELECT t.name, t.created, count(tf.file) AS files, coalesce(sum(f.size), 0) AS bytes,"
		      " t.run, t.note FROM tags t LEFT JOIN tag_files tf ON tf.tag = t.name"
		      " LEFT JOIN files f ON f.id = tf.file GROUP BY t.name ORDER BY t.created, t.name",
		      NULL, NULL, fn, ctx, NULL, err);
}

int qn_manifest_verify(struct qn_manifest *m, const char *tag, qn_row_fn fn,
		       void *ctx, struct qn_err *err)
{
	static const char *const names[] = { "status", "path", "size", "hash", "actual" };
	static const enum qn_cell types[] = { QN_CELL_TEXT, QN_CELL_TEXT, QN_CELL_INT, QN_CELL_TEXT, QN_CELL_TEXT };
	sqlite3_stmt *st;
	int bad = 0, rc, n = 0;

	if (tag) {
		if (sqlite3_prepare_v2(m->db, "SELECT 1 FROM tags WHERE name = ?1", -1, &st, NULL) != SQLITE_OK)
			return dberr(m, err, "verify");
		sqlite3_bind_text(st, 1, tag, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
		if (rc != SQLITE_ROW)
			return qn_err_set(err, QN_ENOTFOUND, "%s: no tag '%s'", m->path, tag);
		rc = sqlite3_prepare_v2(m->db, "SELECT f.path, f.size, f.hash FROM tag_files tf"
					" JOIN files f ON f.id = tf.file WHERE tf.tag = ?1 ORDER BY f.path",
					-1, &st, NULL);
	} else {
		rc = sqlite3_prepare_v2(m->db, "SELECT path, size, hash FROM files"
					" WHERE id IN (SELECT max(id) FROM files GROUP BY path) ORDER BY path",
					-1, &st, NULL);
	}
	if (rc != SQLITE_OK)
		return dberr(m, err, "verify");
	if (tag)
		sqlite3_bind_text(st, 1, tag, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *path = (const char *)sqlite3_column_text(st, 0);
		const char *size = (const char *)sqlite3_column_text(st, 1);
		const char *want = (const char *)sqlite3_column_text(st, 2);
		const char *values[5];
		struct qn_row row = { 5, names, values, types };
		char hex[QN_HASH_HEX] = "";
		struct qn_hash128 h;
		struct qn_err e2;
		uint64_t got_size;

		values[0] = "ok";
		if (qn_hash_file(path, &h, &got_size, &e2)) {
			values[0] = "missing";
		} else {
			qn_hash_hex(h, hex);
			if (strcmp(hex, want) || got_size != strtoull(size, NULL, 10))
				values[0] = "changed";
		}
		values[1] = path;
		values[2] = size;
		values[3] = want;
		values[4] = hex[0] ? hex : NULL;
		bad += strcmp(values[0], "ok") != 0;
		n++;
		if (fn(ctx, &row))
			break;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return dberr(m, err, "verify");
	return bad;
}

/* The merge, as statements run in order inside one transaction. */
static const char *const merge_sql[] = {
	"CREATE TEMP TABLE IF NOT EXISTS merge_runs(old INTEGER PRIMARY KEY, new INTEGER)",
	"CREATE TEMP TABLE IF NOT EXISTS merge_files(old INTEGER PRIMARY KEY, new INTEGER)",
	"DELETE FROM merge_runs",
	"DELETE FROM merge_files",
	/* Runs to take: unknown here, or known here only as still running. */
	"INSERT INTO merge_runs(old) SELECT o.id FROM other.runs o"
	" WHERE NOT EXISTS (SELECT 1 FROM main.runs r WHERE r.uuid = o.uuid"
	"  AND (r.status <> 'running' OR o.status = 'running'))",
	/* Drop the stale 'running' copies that are about to be replaced. */
	"CREATE TEMP TABLE IF NOT EXISTS merge_stale(id INTEGER PRIMARY KEY)",
	"DELETE FROM merge_stale",
	"INSERT INTO merge_stale SELECT r.id FROM main.runs r JOIN other.runs o ON o.uuid = r.uuid"
	" WHERE o.id IN (SELECT old FROM merge_runs)",
	"DELETE FROM main.run_files WHERE run IN merge_stale",
	"DELETE FROM main.docs WHERE run IN merge_stale",
	"DELETE FROM main.events WHERE run IN merge_stale",
	"DELETE FROM main.shard_docs WHERE run IN merge_stale",
	"DELETE FROM main.train_runs WHERE run IN merge_stale",
	"DELETE FROM main.train_metrics WHERE run IN merge_stale",
	"DELETE FROM main.checkpoints WHERE run IN merge_stale",
	/* A stale copy keeps its id (tags may name it) and takes the newer state. */
	"UPDATE main.runs SET (ended, status, error, counters) ="
	" (SELECT o.ended, o.status, o.error, o.counters FROM other.runs o WHERE o.uuid = runs.uuid)"
	" WHERE id IN merge_stale",
	"INSERT INTO main.runs(uuid, tool, version, argv, config, host, pid, started, ended, status, error, counters)"
	" SELECT uuid, tool, version, argv, config, host, pid, started, ended, status, error, counters"
	" FROM other.runs WHERE id IN (SELECT old FROM merge_runs)"
	" AND uuid NOT IN (SELECT uuid FROM main.runs) ORDER BY started, id",
	"UPDATE merge_runs SET new = (SELECT r.id FROM main.runs r JOIN other.runs o ON o.uuid = r.uuid"
	" WHERE o.id = merge_runs.old)",
	"INSERT OR IGNORE INTO main.files(path, size, hash) SELECT path, size, hash FROM other.files ORDER BY id",
	"INSERT INTO merge_files(old, new) SELECT o.id, f.id FROM other.files o"
	" JOIN main.files f ON f.path = o.path AND f.size = o.size AND f.hash = o.hash",
	"INSERT OR IGNORE INTO main.run_files(run, file, role) SELECT mr.new, mf.new, rf.role"
	" FROM other.run_files rf JOIN merge_runs mr ON mr.old = rf.run JOIN merge_files mf ON mf.old = rf.file",
	"INSERT OR IGNORE INTO main.docs(id, source, locator, size, run) SELECT d.id, d.source, d.locator, d.size, mr.new"
	" FROM other.docs d JOIN merge_runs mr ON mr.old = d.run",
	"INSERT OR IGNORE INTO main.rules(kind, name) SELECT kind, name FROM other.rules ORDER BY id",
	"INSERT INTO main.events(doc, run, seq, rule, value, other) SELECT e.doc, mr.new, e.seq, r.id, e.value, e.other"
	" FROM other.events e JOIN merge_runs mr ON mr.old = e.run JOIN other.rules o ON o.id = e.rule"
	" JOIN main.rules r ON r.kind = o.kind AND r.name = o.name",
	"INSERT OR REPLACE INTO main.shard_docs(run, shard, doc, first_token, n_tokens)"
	" SELECT mr.new, s.shard, s.doc, s.first_token, s.n_tokens FROM other.shard_docs s JOIN merge_runs mr ON mr.old = s.run",
	"INSERT OR REPLACE INTO main.train_runs(run, tag, tokenizer, config, seed)"
	" SELECT mr.new, t.tag, t.tokenizer, t.config, t.seed FROM other.train_runs t JOIN merge_runs mr ON mr.old = t.run",
	"INSERT OR REPLACE INTO main.train_metrics(run, step, name, value)"
	" SELECT mr.new, t.step, t.name, t.value FROM other.train_metrics t JOIN merge_runs mr ON mr.old = t.run",
	"INSERT OR REPLACE INTO main.checkpoints(run, step, file)"
	" SELECT mr.new, c.step, mf.new FROM other.checkpoints c JOIN merge_runs mr ON mr.old = c.run"
	" JOIN merge_files mf ON mf.old = c.file",
	"INSERT OR IGNORE INTO main.tags(name, note, created, run)"
	" SELECT t.name, t.note, t.created, (SELECT r.id FROM main.runs r JOIN other.runs o ON o.uuid = r.uuid WHERE o.id = t.run)"
	" FROM other.tags t",
	"INSERT OR IGNORE INTO main.tag_files(tag, file) SELECT tf.tag, mf.new FROM other.tag_files tf"
	" JOIN merge_files mf ON mf.old = tf.file",
};

int qn_manifest_merge(struct qn_manifest *m, const char *other_path,
		      struct qn_err *err)
{
	sqlite3_stmt *st;
	char *a = realpath(other_path, NULL), *b = realpath(m->path, NULL);
	size_t i;
	int rc, copied = 0, v = -1, same = a && b && !strcmp(a, b);

	free(a);
	free(b);
	if (access(other_path, R_OK) < 0)
		return qn_err_set(err, QN_ENOTFOUND, "%s: %s", other_path, strerror(errno));
	if (same)
		return qn_err_set(err, QN_EUSAGE, "%s: cannot merge a manifest into itself", other_path);
	/* Read the other manifest only: it is another machine's record. */
	if (sqlite3_prepare_v2(m->db, "ATTACH DATABASE 'file:' || ?1 || '?mode=ro' AS other", -1, &st, NULL) != SQLITE_OK)
		return dberr(m, err, "merge");
	{
		/* As a URI, the path's '%', '?' and '#' must be escaped. */
		struct qn_buf uri = QN_BUF_INIT;
		const char *c;

		for (c = other_path; *c; c++) {
			if (*c == '%' || *c == '?' || *c == '#')
				qn_buf_appendf(&uri, "%%%02X", (unsigned char)*c);
			else
				qn_buf_putc(&uri, *c);
		}
		sqlite3_bind_text(st, 1, uri.data, -1, SQLITE_TRANSIENT);
		qn_buf_release(&uri);
	}
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return dberr(m, err, other_path);
	if (sqlite3_prepare_v2(m->db, "PRAGMA other.user_version", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	if (v != NMIGRATIONS) {
		rc = qn_err_set(err, QN_EDB, "%s: schema version %d, this quern writes %d: %s", other_path, v, NMIGRATIONS,
				v < NMIGRATIONS ? "upgrade it first (quern-manifest -m FILE runs migrates it)" : "upgrade quern");
		goto detach;
	}
	/* A tag of the same name must name the same bytes. */
	if (sqlite3_prepare_v2(m->db,
			       "SELECT t.name FROM other.tags t JOIN main.tags u ON u.name = t.name"
			       " WHERE (SELECT group_concat(h, ',') FROM (SELECT f.hash || f.path AS h FROM other.tag_files tf"
			       "   JOIN other.files f ON f.id = tf.file WHERE tf.tag = t.name ORDER BY 1))"
			       " IS NOT (SELECT group_concat(h, ',') FROM (SELECT f.hash || f.path AS h FROM main.tag_files tf"
			       "   JOIN main.files f ON f.id = tf.file WHERE tf.tag = t.name ORDER BY 1))",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = dberr(m, err, "merge");
		goto detach;
	}
	if (sqlite3_step(st) == SQLITE_ROW) {
		rc = qn_err_set(err, QN_EUSAGE, "%s: tag '%s' names other files than the tag of that name here",
				other_path, (const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
		goto detach;
	}
	sqlite3_finalize(st);
	if ((rc = exec(m, "BEGIN IMMEDIATE", err)))
		goto detach;
	for (i = 0; i < sizeof merge_sql / sizeof merge_sql[0]; i++)
		if ((rc = exec(m, merge_sql[i], err))) {
			exec(m, "ROLLBACK", NULL);
			goto detach;
		}
	if (sqlite3_prepare_v2(m->db, "SELECT count(*) FROM merge_runs", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			copied = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	if ((rc = exec(m, "COMMIT", err)))
		exec(m, "ROLLBACK", NULL);
detach:
	exec(m, "DETACH DATABASE other", NULL);
	return rc ? rc : copied;
}
