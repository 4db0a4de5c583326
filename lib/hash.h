/*
 * hash.h: xxh3-128 of strings and files, and its hex form.
 *
 * One hash for the whole suite: document ids (xxh3-128 of source "\n"
 * locator), file identity in the manifest (xxh3-128 of the bytes) and tag
 * verification.  The hex form is 32 lowercase digits, high half first, as
 * the xxhsum tool prints it (XXH128_canonical_t).
 */
#ifndef QN_HASH_H
#define QN_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define QN_HASH_HEX 33	/* 32 digits and the NUL */

struct qn_hash128 {
	uint64_t hi, lo;
};

struct qn_hash128 qn_hash_bytes(const void *p, size_t n);
/* Writes the 32 lowercase hex digits and a NUL into hex. */
void qn_hash_hex(struct qn_hash128 h, char hex[QN_HASH_HEX]);
/* The document id of DESIGN.md: hex xxh3-128 of source "\n" locator. */
void qn_doc_id(const char *source, size_t source_len, const char *locator,
	       size_t locator_len, char hex[QN_HASH_HEX]);
/*
 * Hashes the file at path as a stream of bytes.  On success returns 0 and
 * sets *h and *size (size may be NULL); on failure QN_EIO with the reason.
 */
int qn_hash_file(const char *path, struct qn_hash128 *h, uint64_t *size,
		 struct qn_err *err);

/* A streaming hash for bytes that go past in pieces (a file being written). */
struct qn_hasher;
struct qn_hasher *qn_hasher_new(void);
void qn_hasher_update(struct qn_hasher *hs, const void *p, size_t n);
struct qn_hash128 qn_hasher_digest(const struct qn_hasher *hs);
void qn_hasher_free(struct qn_hasher *hs);

#endif
