/*
 * t_hash: xxh3-128 hex form, document ids, and streaming file hashes.
 */
#include <stdio.h>
#include <unistd.h>

#include "hash.h"
#include "../tap.h"

int main(void)
{
	char hex[QN_HASH_HEX], hex2[QN_HASH_HEX], path[] = "/tmp/t_hash.XXXXXX";
	struct qn_hash128 h, fh;
	struct qn_err err;
	uint64_t size;
	static char big[3 << 20];
	size_t i;
	int fd;

	/* xxhsum -H2 of the empty input. */
	qn_hash_hex(qn_hash_bytes("", 0), hex);
	is_str(hex, "99aa06d3014798d86001c324468d497f", "xxh3-128 of the empty string, as xxhsum -H2 prints it");
	qn_doc_id("file:///a", 9, "x", 1, hex);
	h = qn_hash_bytes("file:///a\nx", 11);
	qn_hash_hex(h, hex2);
	is_str(hex, hex2, "document id is the hash of source \\n locator");
	is_int(strlen(hex), 32, "32 hex digits");

	for (i = 0; i < sizeof big; i++)
		big[i] = (char)(i * 2654435761u >> 13);
	fd = mkstemp(path);
	ok(fd >= 0 && write(fd, big, sizeof big) == (ssize_t)sizeof big, "wrote a 3 MiB file");
	close(fd);
	is_int(qn_hash_file(path, &fh, &size, &err), 0, "hashed the file");
	h = qn_hash_bytes(big, sizeof big);
	ok(h.hi == fh.hi && h.lo == fh.lo, "streaming file hash equals the one-shot hash");
	is_int(size, sizeof big, "size reported");
	unlink(path);
	ok(qn_hash_file(path, &fh, &size, &err) == QN_EIO && strstr(err.msg, path), "a missing file is an error naming it");
	return done_testing();
}
