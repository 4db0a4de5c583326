/*
 * err.h: how libquern reports failure.
 *
 * The library never prints and never exits.  A function that can fail
 * returns 0 (or a count) on success and a negative QN_E* code on failure,
 * and writes a one-line message into the caller's struct qn_err.  Messages
 * that concern input name the place first ("part-003.jsonl.zst:1207:
 * invalid JSON: ..."), so a program prints "quern-X: " + msg and is done.
 *
 * Allocation failure is not an error a caller could handle usefully: the
 * qn_x* allocators abort with the size that failed.
 */
#ifndef QN_ERR_H
#define QN_ERR_H

#include <stddef.h>
#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
	QN_OK = 0,
	QN_EIO = -1,      /* read, write, rename, fsync failed; disk full */
	QN_EINPUT = -2,   /* one bad record: the stream goes on after it */
	QN_EFORMAT = -3,  /* the stream as a whole is unreadable (corrupt, truncated) */
	QN_EDB = -4,      /* the manifest database failed */
	QN_EUSAGE = -5,   /* the caller passed something invalid */
	QN_ENOTFOUND = -6 /* a named thing (file, tag, run) does not exist */
};

#define QN_ERR_MSG 1024

struct qn_err {
	int code;
	char msg[QN_ERR_MSG];
};

/* Sets err (if not NULL) to code and the formatted message; returns code. */
int qn_err_set(struct qn_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int qn_err_vset(struct qn_err *err, int code, const char *fmt, va_list ap);
/* Clears err to QN_OK and an empty message. */
void qn_err_clear(struct qn_err *err);

/* Allocators that abort with the failing size instead of returning NULL. */
void *qn_xmalloc(size_t n);
void *qn_xcalloc(size_t n, size_t size);
void *qn_xrealloc(void *p, size_t n);
char *qn_xstrdup(const char *s);
char *qn_xstrndup(const char *s, size_t n);
char *qn_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * The one write loop: write(2) until all n bytes of p are written, EINTR
 * retried.  Returns 0, or -1 with errno set (a write of 0 bytes is EIO).
 */
int qn_write_all(int fd, const void *p, size_t n);

/*
 * Opens for writing the file that will become path: an unnamed file in
 * path's directory (O_TMPFILE), so that a run killed while writing leaves
 * nothing behind, or, where the file system has no unnamed files, the
 * named file fallback (*tmp then a copy of it; else NULL).  Returns the
 * descriptor, or -1 with errno set.
 */
int qn_open_unnamed(const char *path, const char *fallback, int mode, char **tmp);

/*
 * Gives an unnamed file (qn_open_unnamed's, without *tmp) the name path, replacing
 * any file there: linked straight to path when the name is free, so a
 * kill at any moment leaves either nothing or the whole file; otherwise
 * (linkat cannot replace) linked under PATH.tmpPID and renamed over path.
 * Returns 0, or -1 with errno set.
 */
int qn_link_unnamed(int fd, const char *path);

#ifdef __cplusplus
}
#endif

#endif
