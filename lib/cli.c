/*
 * cli.c: program edges: messages, exit codes, option values (see cli.h).
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "utf8.h"

#include "err.h"

const char *qn_progname = "quern";
int qn_cli_argc;
char **qn_cli_argv;

void qn_cli_init(int argc, char **argv)
{
	const char *slash = argc > 0 ? strrchr(argv[0], '/') : NULL;
	int i;

	if (argc > 0)
		qn_progname = slash ? slash + 1 : argv[0];
	qn_cli_argc = argc;
	qn_cli_argv = qn_xcalloc((size_t)argc + 1, sizeof *qn_cli_argv);
	for (i = 0; i < argc; i++)
		qn_cli_argv[i] = argv[i];
}

static void vwarn(const char *fmt, va_list ap)
{
	fflush(stdout);
	fprintf(stderr, "%s: ", qn_progname);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void qn_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
}

void qn_errx(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
	exit(code);
}

void qn_usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try '%s --help' for more information.\n", qn_progname);
	exit(QN_EXIT_USAGE);
}

void qn_print_version(void)
{
	printf("%s (quern) %s\n", qn_progname, QN_VERSION);
	exit(qn_finish_stdout(QN_EXIT_OK));
}

int qn_ncores(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (int)n : 1;
}

int qn_parse_threads(const char *arg)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(arg, &end, 10);
	if (errno || *end || n < 0 || n > 4096)
		qn_usage_error("invalid thread count '%s'", arg);
	return n == 0 ? qn_ncores() : (int)n;
}

int qn_parse_size(const char *arg, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno || end == arg || arg[0] == '-')
		return -1;
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	default: break;
	}
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end)
		return -1;
	*out = v;
	return 0;
}

volatile int qn_signalled;

static void on_signal(int sig)
{
	qn_signalled = sig;
	signal(sig, SIG_DFL);	/* the next one is not caught */
}

void qn_catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

int qn_finish_stdout(int status)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "%s: write error on standard output: %s\n", qn_progname, strerror(errno));
		return QN_EXIT_FAIL;
	}
	return status;
}

void qn_config_init(struct qn_config *c)
{
	qn_buf_init(&c->json);
}

/*
 * s as a JSON string.  Command-line values need not be UTF-8 (file names
 * are bytes); invalid bytes become U+FFFD so the JSON stays valid.
 */
static void put_str(struct qn_buf *b, const char *s)
{
	struct qn_buf fixed = QN_BUF_INIT;
	size_t n = strlen(s), at;

	while ((at = qn_utf8_check(s, n)) != n) {
		qn_buf_append(&fixed, s, at);
		qn_buf_puts(&fixed, "\xef\xbf\xbd");
		s += at + 1;
		n -= at + 1;
	}
	if (!fixed.len) {
		qn_buf_append_json_str(b, s, n);
		return;
	}
	qn_buf_append(&fixed, s, n);
	qn_buf_append_json_str(b, fixed.data, fixed.len);
	qn_buf_release(&fixed);
}

static void key(struct qn_config *c, const char *k)
{
	qn_buf_putc(&c->json, c->json.len ? ',' : '{');
	put_str(&c->json, k);
	qn_buf_putc(&c->json, ':');
}

void qn_config_str(struct qn_config *c, const char *k, const char *val)
{
	key(c, k);
	if (val)
		put_str(&c->json, val);
	else
		qn_buf_puts(&c->json, "null");
}

void qn_config_strv(struct qn_config *c, const char *k, char *const *v, int n)
{
	int i;

	key(c, k);
	qn_buf_putc(&c->json, '[');
	for (i = 0; i < n; i++) {
		if (i)
			qn_buf_putc(&c->json, ',');
		put_str(&c->json, v[i]);
	}
	qn_buf_putc(&c->json, ']');
}

void qn_config_int(struct qn_config *c, const char *k, int64_t val)
{
	key(c, k);
	qn_buf_appendf(&c->json, "%lld", (long long)val);
}

void qn_config_bool(struct qn_config *c, const char *k, int val)
{
	key(c, k);
	qn_buf_puts(&c->json, val ? "true" : "false");
}

const char *qn_config_json(struct qn_config *c)
{
	static const char empty[] = "{}";

	if (!c->json.len)
		return empty;
	/*
	 * Close the object after len without counting the brace, so that a
	 * later key overwrites it and the object stays open for more.
	 */
	qn_buf_putc(&c->json, '}');
	c->json.len--;
	return c->json.data;
}

void qn_config_release(struct qn_config *c)
{
	qn_buf_release(&c->json);
}

void qn_remove_scratch_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		char *p;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		p = qn_xasprintf("%s/%s", dir, e->d_name);
		unlink(p);
		free(p);
	}
	closedir(d);
	rmdir(dir);
}
