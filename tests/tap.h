/*
 * tap.h: a tiny TAP producer for the unit tests.
 *
 *	ok(cond, "what");  is_int(got, want, "what");  is_str(...);
 *	return done_testing();
 *
 * Output follows TAP 13 ("ok N - what", "# SKIP"); automake's tap driver
 * counts it.  A failure prints the values compared as a comment.
 */
#ifndef QN_TAP_H
#define QN_TAP_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n, tap_failed;

static inline int tap_ok(int cond, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static inline int tap_ok(int cond, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", cond ? "" : "not ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (!cond) {
		printf("#   failed at %s:%d\n", file, line);
		tap_failed++;
	}
	fflush(stdout);
	return cond;
}

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

#define is_int(got, want, ...) do { \
	long long g_ = (long long)(got), w_ = (long long)(want); \
	if (!ok(g_ == w_, __VA_ARGS__)) \
		printf("#   got %lld, want %lld\n", g_, w_); \
} while (0)

#define is_str(got, want, ...) do { \
	const char *g_ = (got), *w_ = (want); \
	if (!ok(g_ && w_ && !strcmp(g_, w_), __VA_ARGS__)) \
		printf("#   got '%s'\n#  want '%s'\n", g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
} while (0)

/* A deterministic xorshift64 generator for random test inputs. */
static uint64_t tap_rng = 88172645463325252ULL;

static inline uint64_t tap_rand(void)
{
	tap_rng ^= tap_rng << 13;
	tap_rng ^= tap_rng >> 7;
	tap_rng ^= tap_rng << 17;
	return tap_rng;
}

/*
 * A scratch directory for the test's files: tap_tmpdir() makes it (or
 * skips the whole test), tap_path("x") names a file in it (eight results
 * stay valid at once), tap_cleanup() removes it.
 */
static char tap_dir[64];

static inline void skip_all(const char *why);

static inline void tap_tmpdir(void)
{
	snprintf(tap_dir, sizeof tap_dir, "%s", "/tmp/quern-unit.XXXXXX");
	if (!mkdtemp(tap_dir))
		skip_all("cannot make a temporary directory");
}

static inline char *tap_path(const char *name)
{
	static char p[8][512];
	static int i;

	i = (i + 1) % 8;
	snprintf(p[i], sizeof p[i], "%s/%s", tap_dir, name);
	return p[i];
}

static inline void tap_cleanup(void)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tap_dir);
	if (tap_dir[0] && system(cmd) != 0)
		printf("# could not remove %s\n", tap_dir);
}

static inline void skip_all(const char *why)
{
	printf("1..0 # SKIP %s\n", why);
	/*
	 * automake's TAP driver reads the plan and counts a non-zero exit
	 * as an error, so under make check (QN_TOP_BUILDDIR set) the plan
	 * alone says "skipped"; by hand, 77 says it as automake does.
	 */
	exit(getenv("QN_TOP_BUILDDIR") ? 0 : 77);
}

static inline int done_testing(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif
