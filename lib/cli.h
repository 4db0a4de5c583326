/*
 * cli.h: what every quern program does the same way at its edges.
 *
 * This is the one part of libquern that prints: it is the programs' side
 * of the error convention (STYLE.md).  Messages go to stderr as
 * "quern-X: what"; the exit codes are 0 ok, 1 failure, 2 usage.
 */
#ifndef QN_CLI_H
#define QN_CLI_H

#include <stdint.h>

#include "buf.h"

enum { QN_EXIT_OK = 0, QN_EXIT_FAIL = 1, QN_EXIT_USAGE = 2 };

/* The program's name for messages; set by qn_cli_init from argv[0]. */
extern const char *qn_progname;
/*
 * The command line as it was given, saved by qn_cli_init before getopt
 * permutes argv: what the manifest records as the run's argv.
 */
extern int qn_cli_argc;
extern char **qn_cli_argv;

void qn_cli_init(int argc, char **argv);
/* "prog: msg" on stderr. */
void qn_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* qn_warnx, then exit(code). */
void qn_errx(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));
/* "prog: msg\nTry 'prog --help'." and exit 2. */
void qn_usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
/* Prints "prog (quern) VERSION" and exits 0. */
void qn_print_version(void) __attribute__((noreturn));
/* Parses a -j argument: a positive integer, or 0 for all cores. */
int qn_parse_threads(const char *arg);
/* The number of online cores. */
int qn_ncores(void);
/* Parses a size with an optional k/M/G suffix (powers of 1024). */
int qn_parse_size(const char *arg, uint64_t *out);
/*
 * SIGINT, SIGTERM and SIGHUP set qn_signalled to the signal's number; a
 * program checks it where it can stop cleanly, ends its manifest run as
 * failed and publishes nothing.  A second signal ends the process at once.
 */
extern volatile int qn_signalled;
void qn_catch_signals(void);

/* Flushes stdout and reports a write error; returns the exit status to use. */
int qn_finish_stdout(int status);

/*
 * The effective configuration of a run as a JSON object, defaults
 * included, for the manifest: qn_config_str(&c, "output", path), ...
 * Strings that are not UTF-8 (file names can be any bytes) are recorded
 * with U+FFFD in place of the invalid bytes.
 */
struct qn_config {
	struct qn_buf json;
};
void qn_config_init(struct qn_config *c);
void qn_config_str(struct qn_config *c, const char *key, const char *val);
void qn_config_int(struct qn_config *c, const char *key, int64_t val);
void qn_config_bool(struct qn_config *c, const char *key, int val);
/* A list of strings, as a JSON array. */
void qn_config_strv(struct qn_config *c, const char *key, char *const *v, int n);
/* The object so far ("{...}"); stays valid until the next call on c. */
const char *qn_config_json(struct qn_config *c);
void qn_config_release(struct qn_config *c);

/*
 * Removes a program's scratch directory: the files directly in dir, then
 * dir itself (no recursion).  Best effort, for cleanup paths: errors are
 * ignored, and a missing dir is no error.
 */
void qn_remove_scratch_dir(const char *dir);

#endif
