/*
 * manifest.h: the SQLite manifest, the record of everything quern did.
 *
 * One database file (DESIGN.md, "Manifest") shared by every program of a
 * pipeline, also by programs running at once under make -j: WAL mode,
 * a long busy timeout, and short write transactions (BEGIN IMMEDIATE).
 *
 * A program records one run: qn_manifest_run_begin writes the run as
 * 'running' and commits at once, so a run that is killed stays visible
 * (and is reported as interrupted).  Its files, documents, events, shard
 * rows and metrics are queued in memory and written in batches, each in
 * one short transaction; qn_manifest_run_end writes what is left, the
 * counters, and the final status.  A crash loses at most the uncommitted
 * batch and never leaves the database inconsistent.
 *
 * Only this module talks to SQLite.  The reports quern-manifest prints are
 * queries here too; each hands its rows to a callback as text cells.
 *
 * The schema is described in quern-manifest(5).
 */
#ifndef QN_MANIFEST_H
#define QN_MANIFEST_H

#include <stdint.h>

#include "err.h"
#include "hash.h"

#define QN_MANIFEST_SCHEMA 1	/* PRAGMA user_version after migration */

struct qn_manifest;

/* The manifest path: opt if given, else $QUERN_MANIFEST, else "quern.db". */
const char *qn_manifest_path(const char *opt);

/*
 * Opens (creating if need be) and migrates the manifest at path.  Returns
 * NULL with err set on failure, also when the file has a newer schema than
 * this build knows.
 */
struct qn_manifest *qn_manifest_open(const char *path, struct qn_err *err);
/* Writes what is queued (see run_end for runs left open) and closes. */
void qn_manifest_close(struct qn_manifest *m);
/* The schema version of the open file. */
int qn_manifest_schema(struct qn_manifest *m);

/* ---- recording a run ---- */

enum qn_role { QN_INPUT, QN_OUTPUT };

/*
 * Starts this process's run: tool name, the command line, and the
 * effective configuration as a JSON object (NULL: "{}").  Commits the
 * 'running' row before returning.
 */
int qn_manifest_run_begin(struct qn_manifest *m, const char *tool,
			  int argc, char *const argv[], const char *config_json,
			  struct qn_err *err);
/* The run's row id and its globally unique id (32 hex digits). */
int64_t qn_manifest_run_id(const struct qn_manifest *m);
const char *qn_manifest_run_uuid(const struct qn_manifest *m);

/* Hashes the file at path now and records it as an input or output. */
int qn_manifest_file(struct qn_manifest *m, const char *path,
		     enum qn_role role, struct qn_err *err);
/* The same for a file whose size and hash the caller already has. */
int qn_manifest_file_hashed(struct qn_manifest *m, const char *path,
			    uint64_t size, struct qn_hash128 h,
			    enum qn_role role, struct qn_err *err);
/*
 * The same for a path the caller knows to be absolute and resolved, as
 * realpath(3) would give it (no symbolic link, no "." or ".." part): it
 * is recorded as it is.  quern-collect builds such paths as it walks,
 * and saves a realpath (one readlink per component) per file.
 */
int qn_manifest_file_hashed_abs(struct qn_manifest *m, const char *abspath,
				uint64_t size, struct qn_hash128 h,
				enum qn_role role, struct qn_err *err);
/* A collected document.  Recording the same id twice keeps the first. */
int qn_manifest_doc(struct qn_manifest *m, const char *id, const char *source,
		    const char *locator, uint64_t size, struct qn_err *err);
/*
 * A document event: kind is "drop", "modify", "duplicate" or "reject";
 * rule names the step and rule ("gopher_quality:mean_word_length");
 * value the measurement ("1.8 < 3"), other a related document (the
 * survivor of a duplicate).  value and other may be NULL.
 */
int qn_manifest_event(struct qn_manifest *m, const char *doc, const char *kind,
		      const char *rule, const char *value, const char *other,
		      struct qn_err *err);
/* Where a document's tokens sit in a shard file. */
int qn_manifest_shard_doc(struct qn_manifest *m, const char *shard,
			  const char *doc, int64_t first_token,
			  int64_t n_tokens, struct qn_err *err);
/* Training: the run's tag, tokenizer hash, configuration and seed. */
int qn_manifest_train(struct qn_manifest *m, const char *tag,
		      const char *tokenizer_hash, const char *config_json,
		      int64_t seed, struct qn_err *err);
int qn_manifest_metric(struct qn_manifest *m, int64_t step, const char *name,
		       double value, struct qn_err *err);
int qn_manifest_checkpoint(struct qn_manifest *m, int64_t step,
			   const char *path, struct qn_err *err);
/* Adds delta to the run's counter name (written with the run). */
void qn_manifest_count(struct qn_manifest *m, const char *name, int64_t delta);
/* Writes everything queued, in one transaction. */
int qn_manifest_flush(struct qn_manifest *m, struct qn_err *err);
/*
 * Ends the run: writes what is queued, the counters, the end time and the
 * status ("ok" when ok, else "failed" with error as the reason), all in
 * one transaction, so a run is never "ok" without its records.  When that
 * write fails (a full disk), what was queued is dropped and the run is
 * marked failed with only its status and counters (the reason: error, or
 * for ok the write's own error), and that error is returned.
 */
int qn_manifest_run_end(struct qn_manifest *m, int ok, const char *error,
			struct qn_err *err);

/* ---- reports ---- */

enum qn_cell { QN_CELL_NULL, QN_CELL_INT, QN_CELL_REAL, QN_CELL_TEXT };

struct qn_row {
	int ncols;
	const char *const *names;	/* column names */
	const char *const *values;	/* text of each cell, NULL for NULL */
	const enum qn_cell *types;
};

/* Called once per row; a non-zero return stops the report. */
typedef int (*qn_row_fn)(void *ctx, const struct qn_row *row);

/* Every run, newest last; status 'interrupted' for a dead 'running' run. */
int qn_manifest_runs(struct qn_manifest *m, qn_row_fn fn, void *ctx,
		     struct qn_err *err);
/* Every file version, with the runs that wrote and read it. */
int qn_manifest_files(struct qn_manifest *m, qn_row_fn fn, void *ctx,
		      struct qn_err *err);
/*
 * Everything upstream of target, a file path or a document id: one row per
 * run and per file, with its depth.  QN_ENOTFOUND if target is unknown.
 */
int qn_manifest_lineage(struct qn_manifest *m, const char *target,
			qn_row_fn fn, void *ctx, struct qn_err *err);
/* A document's story: collection, every event, every shard position. */
int qn_manifest_why(struct qn_manifest *m, const char *doc, qn_row_fn fn,
		    void *ctx, struct qn_err *err);
/*
 * Creates tag name over files, hashed now; inside a run, the files are
 * recorded as the run's inputs.  Returns the number of distinct files
 * tagged, or a negative error (QN_EUSAGE for a name already taken: tags
 * are immutable).
 */
int qn_manifest_tag(struct qn_manifest *m, const char *name, const char *note,
		    int nfiles, char *const files[], struct qn_err *err);
int qn_manifest_tags(struct qn_manifest *m, qn_row_fn fn, void *ctx,
		     struct qn_err *err);
/*
 * Re-hashes the files of tag (NULL: the newest recorded version of every
 * path) and reports each as ok, changed or missing.  Returns the number of
 * files that are not ok, or a negative error.
 */
int qn_manifest_verify(struct qn_manifest *m, const char *tag, qn_row_fn fn,
		       void *ctx, struct qn_err *err);
/*
 * Copies every run of the manifest at other_path that m does not already
 * hold in its final state, with all its rows.  Idempotent.  Returns the
 * number of runs copied, or a negative error.
 */
int qn_manifest_merge(struct qn_manifest *m, const char *other_path,
		      struct qn_err *err);

#endif
