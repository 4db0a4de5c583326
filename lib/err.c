/*
 * err.c: error values, aborting allocators, the write loop and the naming
 * of unnamed files (see err.h).
 */
#define _GNU_SOURCE	/* linkat's AT_SYMLINK_FOLLOW on /proc/self/fd */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"

int qn_err_vset(struct qn_err *err, int code, const char *fmt, va_list ap)
{
	if (err) {
		err->code = code;
		vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	}
	return code;
}

int qn_err_set(struct qn_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	qn_err_vset(err, code, fmt, ap);
	va_end(ap);
	return code;
}

void qn_err_clear(struct qn_err *err)
{
	if (err) {
		err->code = QN_OK;
		err->msg[0] = '\0';
	}
}

static void oom(size_t n)
{
	fprintf(stderr, "quern: out of memory allocating %zu bytes\n", n);
	abort();
}

void *qn_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		oom(n);
	return p;
}

void *qn_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		oom(n * size);
	return p;
}

void *qn_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q)
		oom(n);
	return q;
}

char *qn_xstrndup(const char *s, size_t n)
{
	char *d = qn_xmalloc(n + 1);

	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

char *qn_xstrdup(const char *s)
{
	return qn_xstrndup(s, strlen(s));
}

char *qn_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	s = qn_xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

int qn_write_all(int fd, const void *p, size_t n)
{
	const char *s = p;

	while (n) {
		ssize_t w = write(fd, s, n > (1u << 30) ? (1u << 30) : n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return -1;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

int qn_open_unnamed(const char *path, const char *fallback, int mode, char **tmp)
{
	char *dir = qn_xstrdup(path), *slash = strrchr(dir, '/');
	int fd, e;

	*tmp = NULL;
	if (slash)
		slash[slash == dir] = '\0';
	fd = open(slash ? dir : ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, mode);
	e = errno;
	free(dir);
	if (fd >= 0 || (e != EOPNOTSUPP && e != EISDIR && e != EINVAL)) {
		errno = e;
		return fd;
	}
	fd = open(fallback, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd >= 0)
		*tmp = qn_xstrdup(fallback);
	return fd;
}

int qn_link_unnamed(int fd, const char *path)
{
	char fdpath[64], *tmp;
	int e;

	snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, fdpath, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0)
		return 0;
	if (errno != EEXIST)
		return -1;
	tmp = qn_xasprintf("%s.tmp%ld", path, (long)getpid());
	unlink(tmp);
	if (linkat(AT_FDCWD, fdpath, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) < 0 || rename(tmp, path) < 0) {
		e = errno;
		unlink(tmp);
		free(tmp);
		errno = e;
		return -1;
	}
	free(tmp);
	return 0;
}
