/*
 * quern-manifest: ask the manifest what happened, tag snapshots, verify
 * them, and merge manifests written on several machines.
 *
 * Every report is a query in lib/manifest.c; this file parses the command
 * line and renders rows as an aligned table or, with --json, as one JSON
 * array of objects.  Commands that change the manifest (tag, merge) are
 * recorded as runs like any other program's.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "manifest.h"

static int opt_json, opt_quiet;

static void usage(void)
{
	printf("usage: quern-manifest [-m DB] [--json] COMMAND [ARGS]\n\n"
	       "Commands:\n"
	       "  init                 create the manifest, or bring its schema up to date\n"
	       "  runs                 every program run, its status and counters\n"
	       "  files                every file version read or written, and by which runs\n"
	       "  lineage FILE|DOC     every run and file upstream of a file or document\n"
	       "  why DOC              a document's story: collection, events, shards\n"
	       "  tag [--note TEXT] NAME FILE...\n"
	       "                       record a named snapshot of files, by content hash\n"
	       "  tags                 the tags and their sizes\n"
	       "  verify [TAG]         re-hash a tag's files (or every recorded file);\n"
	       "                       exit 1 if any is missing or changed\n"
	       "  merge OTHER.db...    copy the runs of other manifests into this one\n\n"
	       "Options:\n"
	       "  -m, --manifest DB    the manifest (default $QUERN_MANIFEST, else quern.db)\n"
	       "      --json           rows as a JSON array of objects\n"
	       "      --note TEXT      with tag: a note kept with the tag\n"
	       "  -q, --quiet          print nothing on success (tag, verify, merge)\n"
	       "  -h, --help           this help\n"
	       "  -V, --version        the version\n\n"
	       "See quern-manifest(1) and, for the schema and example queries, quern-manifest(5).\n");
}

/* Rows kept for a table, whose column widths need all rows first. */
struct table {
	int ncols, nrows;
	char **names;
	char **cells;	/* nrows * ncols, NULL for NULL */
	int first;
};

static struct table tbl;
static struct qn_buf out;

static void json_row(const struct qn_row *r)
{
	int i;

	qn_buf_puts(&out, tbl.first ? "[\n  {" : ",\n  {");
	tbl.first = 0;
	for (i = 0; i < r->ncols; i++) {
		const char *v = r->values[i];

		if (i)
			qn_buf_putc(&out, ',');
		qn_buf_append_json_str(&out, r->names[i], strlen(r->names[i]));
		qn_buf_putc(&out, ':');
		if (!v)
			qn_buf_puts(&out, "null");
		else if (r->types[i] == QN_CELL_INT || r->types[i] == QN_CELL_REAL)
			qn_buf_puts(&out, v);
		else if (!strcmp(r->names[i], "argv") || !strcmp(r->names[i], "counters") ||
			 !strcmp(r->names[i], "config"))
			qn_buf_puts(&out, v);	/* stored as JSON already */
		else
			qn_buf_append_json_str(&out, v, strlen(v));
	}
	qn_buf_putc(&out, '}');
	fwrite(out.data, 1, out.len, stdout);
	qn_buf_reset(&out);
}

static int on_row(void *ctx, const struct qn_row *r)
{
	int i;

	if (opt_json) {
		json_row(r);
		return 0;
	}
	if (!tbl.names) {
		tbl.ncols = r->ncols;
		tbl.names = qn_xcalloc((size_t)r->ncols, sizeof *tbl.names);
		for (i = 0; i < r->ncols; i++)
			tbl.names[i] = qn_xstrdup(r->names[i]);
	}
	tbl.cells = qn_xrealloc(tbl.cells, (size_t)(tbl.nrows + 1) * (size_t)tbl.ncols * sizeof *tbl.cells);
	for (i = 0; i < tbl.ncols; i++)
		tbl.cells[tbl.nrows * tbl.ncols + i] = r->values[i] ? qn_xstrdup(r->values[i]) : NULL;
	tbl.nrows++;
	return 0;
}

/* Column widths count UTF-8 characters, not bytes. */
static int width(const char *s)
{
	int w = 0;

	for (; s && *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

static void flush_table(void)
{
	int *w, i, j;

	if (opt_json) {
		fputs(tbl.first ? "[]\n" : "\n]\n", stdout);
		return;
	}
	if (!tbl.ncols)
		return;
	w = qn_xcalloc((size_t)tbl.ncols, sizeof *w);
	for (j = 0; j < tbl.ncols; j++) {
		w[j] = width(tbl.names[j]);
		for (i = 0; i < tbl.nrows; i++) {
			int cw = width(tbl.cells[i * tbl.ncols + j]);

			if (cw > w[j])
				w[j] = cw;
		}
	}
	for (i = -1; i < tbl.nrows; i++) {
		for (j = 0; j < tbl.ncols; j++) {
			const char *c = i < 0 ? tbl.names[j] : tbl.cells[i * tbl.ncols + j];

			if (!c)
				c = "-";
			if (j == tbl.ncols - 1)
				fputs(c, stdout);
			else
				printf("%s%*s  ", c, w[j] - width(c), "");
		}
		putchar('\n');
	}
	for (i = 0; i < tbl.nrows * tbl.ncols; i++)
		free(tbl.cells[i]);
	for (j = 0; j < tbl.ncols; j++)
		free(tbl.names[j]);
	free(tbl.cells);
	free(tbl.names);
	free(w);
	memset(&tbl, 0, sizeof tbl);
	tbl.first = 1;
}

/* s as a JSON string literal, in a static buffer. */
static const char *json_quote(const char *s)
{
	static struct qn_buf b;

	qn_buf_reset(&b);
	qn_buf_append_json_str(&b, s, strlen(s));
	return qn_buf_str(&b);
}

static void need_args(const char *cmd, int have, int min, int max)
{
	if (have < min)
		qn_usage_error("%s: missing argument", cmd);
	if (max >= 0 && have > max)
		qn_usage_error("%s: too many arguments", cmd);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "manifest", required_argument, NULL, 'm' },
		{ "json", no_argument, NULL, 'J' },
		{ "note", required_argument, NULL, 'N' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const char *mpath = NULL, *note = NULL, *cmd;
	struct qn_manifest *m;
	struct qn_err err;
	int c, rc = 0, status = QN_EXIT_OK, nargs;
	char **args;

	qn_cli_init(argc, argv);
	/* Options may come anywhere ("--" ends them); the first operand is the command. */
	while ((c = getopt_long(argc, argv, "m:qhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'm': mpath = optarg; break;
		case 'J': opt_json = 1; break;
		case 'N': note = optarg; break;
		case 'q': opt_quiet = 1; break;
		case 'h': usage(); return qn_finish_stdout(QN_EXIT_OK);
		case 'V': qn_print_version();
		default: qn_usage_error("invalid option");
		}
	}
	if (optind >= argc)
		qn_usage_error("no command given");
	cmd = argv[optind++];
	args = argv + optind;
	nargs = argc - optind;
	tbl.first = 1;

	if (!strcmp(cmd, "init") || !strcmp(cmd, "runs") || !strcmp(cmd, "files") || !strcmp(cmd, "tags"))
		need_args(cmd, nargs, 0, 0);
	else if (!strcmp(cmd, "lineage") || !strcmp(cmd, "why"))
		need_args(cmd, nargs, 1, 1);
	else if (!strcmp(cmd, "tag"))
		need_args(cmd, nargs, 2, -1);
	else if (!strcmp(cmd, "verify"))
		need_args(cmd, nargs, 0, 1);
	else if (!strcmp(cmd, "merge"))
		need_args(cmd, nargs, 1, -1);
	else
		qn_usage_error("unknown command '%s'", cmd);
	if (note && strcmp(cmd, "tag"))
		qn_usage_error("--note goes with tag");

	/* Reports need a manifest: a mistyped name must not leave an empty one behind. */
	if (strcmp(cmd, "init") && strcmp(cmd, "tag") && strcmp(cmd, "merge") &&
	    access(qn_manifest_path(mpath), F_OK) < 0)
		qn_errx(QN_EXIT_FAIL, "%s: no manifest there (%s); 'quern-manifest init' makes one",
			qn_manifest_path(mpath), strerror(errno));
	m = qn_manifest_open(qn_manifest_path(mpath), &err);
	if (!m)
		qn_errx(QN_EXIT_FAIL, "%s", err.msg);

	if (!strcmp(cmd, "init")) {
		if (!opt_quiet)
			printf("%s: schema version %d\n", qn_manifest_path(mpath), qn_manifest_schema(m));
	} else if (!strcmp(cmd, "runs")) {
		rc = qn_manifest_runs(m, on_row, NULL, &err);
	} else if (!strcmp(cmd, "files")) {
		rc = qn_manifest_files(m, on_row, NULL, &err);
	} else if (!strcmp(cmd, "lineage")) {
		rc = qn_manifest_lineage(m, args[0], on_row, NULL, &err);
	} else if (!strcmp(cmd, "why")) {
		rc = qn_manifest_why(m, args[0], on_row, NULL, &err);
	} else if (!strcmp(cmd, "tags")) {
		rc = qn_manifest_tags(m, on_row, NULL, &err);
	} else if (!strcmp(cmd, "verify")) {
		rc = qn_manifest_verify(m, nargs ? args[0] : NULL, on_row, NULL, &err);
		if (rc > 0) {
			if (!opt_quiet || opt_json)
				flush_table();
			qn_warnx("%d file%s missing or changed", rc, rc == 1 ? "" : "s");
			qn_manifest_close(m);
			return qn_finish_stdout(QN_EXIT_FAIL);
		}
		if (opt_quiet && !rc && !opt_json) {
			qn_manifest_close(m);
			return qn_finish_stdout(QN_EXIT_OK);
		}
	} else {
		/* tag and merge change the manifest: they are runs themselves. */
		struct qn_config cfg;
		int i;

		qn_config_init(&cfg);
		qn_config_str(&cfg, "command", cmd);
		qn_config_str(&cfg, "manifest", qn_manifest_path(mpath));
		if (note)
			qn_config_str(&cfg, "note", note);
		rc = qn_manifest_run_begin(m, "quern-manifest", qn_cli_argc, qn_cli_argv, qn_config_json(&cfg), &err);
		qn_config_release(&cfg);
		if (!rc && !strcmp(cmd, "tag")) {
			rc = qn_manifest_tag(m, args[0], note, nargs - 1, args + 1, &err);
			if (rc >= 0) {
				qn_manifest_count(m, "files_tagged", rc);
				if (opt_json)
					printf("{\"tag\":%s,\"files\":%d}\n", json_quote(args[0]), rc);
				else if (!opt_quiet)
					printf("tagged %s: %d file%s\n", args[0], rc, rc == 1 ? "" : "s");
				rc = 0;
			}
		} else if (!rc) {
			for (i = 0; i < nargs && rc >= 0; i++) {
				rc = qn_manifest_merge(m, args[i], &err);
				if (rc >= 0) {
					qn_manifest_count(m, "runs_merged", rc);
					if (opt_json)
						printf("{\"merged\":%s,\"runs\":%d}\n", json_quote(args[i]), rc);
					else if (!opt_quiet)
						printf("merged %s: %d run%s\n", args[i], rc, rc == 1 ? "" : "s");
				}
			}
			if (rc > 0)
				rc = 0;
		}
		opt_json = 0;	/* the lines above were the whole output */
		if (rc < 0)
			qn_manifest_run_end(m, 0, err.msg, NULL);
		else
			rc = qn_manifest_run_end(m, 1, NULL, &err);
	}
	if (rc < 0) {
		qn_warnx("%s", err.msg);
		status = rc == QN_EUSAGE ? QN_EXIT_USAGE : QN_EXIT_FAIL;
	} else {
		flush_table();
	}
	qn_manifest_close(m);
	return qn_finish_stdout(status);
}
