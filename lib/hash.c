/*
 * hash.c: xxh3-128 through libxxhash (see hash.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "hash.h"

static struct qn_hash128 from_xxh(XXH128_hash_t x)
{
	struct qn_hash128 h = { x.high64, x.low64 };

	return h;
}

struct qn_hash128 qn_hash_bytes(const void *p, size_t n)
{
	return from_xxh(XXH3_128bits(p, n));
}

void qn_hash_hex(struct qn_hash128 h, char hex[QN_HASH_HEX])
{
	static const char d[] = "0123456789abcdef";
	int i;

	for (i = 0; i < 16; i++) {
		hex[i] = d[(h.hi >> (60 - 4 * i)) & 15];
		hex[16 + i] = d[(h.lo >> (60 - 4 * i)) & 15];
	}
	hex[32] = '\0';
}

void qn_doc_id(const char *source, size_t source_len, const char *locator,
	       size_t locator_len, char hex[QN_HASH_HEX])
{
	XXH3_state_t st;

	XXH3_128bits_reset(&st);
	XXH3_128bits_update(&st, source, source_len);
	XXH3_128bits_update(&st, "\n", 1);
	XXH3_128bits_update(&st, locator, locator_len);
	qn_hash_hex(from_xxh(XXH3_128bits_digest(&st)), hex);
}

struct qn_hasher {
	XXH3_state_t st;
};

struct qn_hasher *qn_hasher_new(void)
{
	struct qn_hasher *hs;

	/* XXH3_state_t wants 64-byte alignment. */
	if (posix_memalign((void **)&hs, 64, sizeof *hs))
		abort();
	XXH3_128bits_reset(&hs->st);
	return hs;
}

void qn_hasher_update(struct qn_hasher *hs, const void *p, size_t n)
{
	XXH3_128bits_update(&hs->st, p, n);
}

struct qn_hash128 qn_hasher_digest(const struct qn_hasher *hs)
{
	return from_xxh(XXH3_128bits_digest(&hs->st));
}

void qn_hasher_free(struct qn_hasher *hs)
{
	free(hs);
}

int qn_hash_file(const char *path, struct qn_hash128 *h, uint64_t *size,
		 struct qn_err *err)
{
	enum { BUFSZ = 1 << 20 };
	struct qn_hasher *hs;
	uint64_t total = 0;
	char *buf;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return qn_err_set(err, QN_EIO, "%s: %s", path, strerror(errno));
	hs = qn_hasher_new();
	buf = qn_xmalloc(BUFSZ);
	while ((n = read(fd, buf, BUFSZ)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			qn_err_set(err, QN_EIO, "%s: %s", path, strerror(errno));
			break;
		}
		qn_hasher_update(hs, buf, (size_t)n);
		total += (uint64_t)n;
	}
	if (n == 0) {
		*h = qn_hasher_digest(hs);
		if (size)
			*size = total;
	}
	free(buf);
	qn_hasher_free(hs);
	close(fd);
	return n == 0 ? 0 : QN_EIO;
}
