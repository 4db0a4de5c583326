/*
 * fuzz_collect_warc: the WARC reader (collectors/warc.c) on any bytes,
 * fed through the read callback in pieces of varying size.  Invariants:
 * every call returns one of its documented codes, a record's block is
 * as long as it says and within the limit, the payload lies inside the
 * block or was decoded within the limit, and the reader ends (each call
 * consumes input).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../collectors/warc.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

struct src {
	const unsigned char *p;
	size_t n, pos;
	unsigned step;
};

static long piece(void *ctx, void *buf, size_t n)
{
	struct src *s = ctx;
	size_t k = s->n - s->pos;

	if (k > n)
		k = n;
	if (s->step && k > s->step)
		k = s->step;
	memcpy(buf, s->p + s->pos, k);
	s->pos += k;
	return (long)k;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct src s = { data, size, 0, size ? 1u + data[size - 1] % 64 * 37 : 0 };
	struct warc_reader *r = warc_open(piece, &s, 4096);
	struct warc_record rec;
	struct qn_err err;
	long calls = 0;
	int rc;

	if (size && data[0] & 1)
		s.step = 0;	/* whole chunks */
	while ((rc = warc_next(r, &rec, &err)) != 0) {
		if (rc == QN_EIO)
			break;
		if (rc == QN_EINPUT) {
			if (!err.msg[0])
				abort();
		} else if (rc == 1) {
			if (!rec.type || !rec.record_id || !rec.target_uri || !rec.content_type)
				abort();
			if (rec.too_large) {
				if (rec.block || rec.block_len <= 4096)
					abort();
			} else {
				if (rec.block_len > 4096 || (!rec.block && rec.block_len))
					abort();
				/* The payload is in the block, or decoded (chunked, gzip) within the limit. */
				if ((rec.payload < rec.block ||
				     rec.payload + rec.payload_len > rec.block + rec.block_len) &&
				    (rec.payload_len > 4096 || (!rec.payload && rec.payload_len)))
					abort();
			}
		} else {
			abort();
		}
		/* Every call moves on: at most one call per input byte, and a few more. */
		if (++calls > (long)size * 4 + 16)
			abort();
	}
	warc_close(r);
	return 0;
}
