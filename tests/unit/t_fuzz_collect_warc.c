/*
 * t_fuzz_collect_warc: the WARC reader's fuzz target
 * (tests/fuzz/fuzz_collect_warc.c) on 4000 generated inputs: WARC files
 * of a few records, plain and one gzip member per record, mutated by bit
 * flips, truncation, deleted and repeated ranges and inserted garbage,
 * read in pieces of varying size.  The target aborts on any broken
 * invariant; reaching the end is the test.  Coverage-guided runs:
 * tests/fuzz/build.sh OUTDIR collect_warc (libFuzzer).
 */
#include <zlib.h>

#include "../tap.h"
#include "buf.h"
#include "err.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static void record(struct qn_buf *b, const char *type, const char *ct, const char *block)
{
	qn_buf_appendf(b, "WARC/1.1\r\nWARC-Type: %s\r\nWARC-Target-URI: http://example.com/%zu\r\n"
		       "WARC-Record-ID: <urn:uuid:%08x-0000-0000-0000-000000000000>\r\n"
		       "WARC-Date: 2026-01-01T00:00:00Z\r\nContent-Type: %s\r\n"
		       "Content-Length: %zu\r\n\r\n%s\r\n\r\n",
		       type, b->len, (unsigned)tap_rand(), ct, strlen(block), block);
}

static void gz(struct qn_buf *out, const char *p, size_t n)
{
	z_stream z;

	memset(&z, 0, sizeof z);
	if (deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		abort();
	qn_buf_grow(out, deflateBound(&z, n) + 32);
	z.next_in = (unsigned char *)p;
	z.avail_in = (uInt)n;
	z.next_out = (unsigned char *)out->data + out->len;
	z.avail_out = (uInt)(out->cap - out->len - 1);
	if (deflate(&z, Z_FINISH) != Z_STREAM_END)
		abort();
	out->len += z.total_out;
	deflateEnd(&z);
}

int main(void)
{
	static const char *const blocks[][3] = {
		{ "response", "application/http; msgtype=response",
		  "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>hello</p>" },
		{ "conversion", "text/plain", "plain text of a page\nsecond line" },
		{ "request", "application/http; msgtype=request", "GET / HTTP/1.1\r\nHost: x\r\n\r\n" },
		{ "response", "application/http; msgtype=response", "HTTP/1.1 404 Not Found\r\n\r\n" },
		{ "resource", "text/plain", "" },
		{ "response", "application/http; msgtype=response", "HTTP/1.1 20" },
		{ "response", "application/http; msgtype=response",
		  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3;x=y\r\n th\r\n0\r\n\r\n" },
		{ "response", "application/http; msgtype=response",
		  "HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\n\r\nx\x9c\xcbH\xcd\xc9\xc9\x07\x00\x06,\x02\x15" },
	};
	struct qn_buf plain = QN_BUF_INIT, zipped = QN_BUF_INIT, in = QN_BUF_INIT;
	int iter;

	for (iter = 0; iter < 4000; iter++) {
		int k, nrec = 1 + (int)(tap_rand() % 4), z = (int)(tap_rand() % 2);
		size_t n, i;

		qn_buf_reset(&plain);
		qn_buf_reset(&zipped);
		for (k = 0; k < nrec; k++) {
			size_t start = plain.len;
			const char *const *b = blocks[tap_rand() % (sizeof blocks / sizeof blocks[0])];

			record(&plain, b[0], b[1], b[2]);
			gz(&zipped, plain.data + start, plain.len - start);
		}
		qn_buf_set(&in, z ? zipped.data : plain.data, z ? zipped.len : plain.len);
		n = in.len;
		switch (tap_rand() % 6) {
		case 0:	/* flip bits */
			for (i = 0; i < 1 + tap_rand() % 8; i++)
				in.data[tap_rand() % n] ^= (char)(1u << (tap_rand() % 8));
			break;
		case 1:	/* truncate */
			in.len = tap_rand() % n;
			break;
		case 2: {	/* delete a range */
			size_t a = tap_rand() % n, len = tap_rand() % (n - a + 1);

			memmove(in.data + a, in.data + a + len, n - a - len);
			in.len -= len;
			break;
		}
		case 3: {	/* repeat a range */
			size_t a = tap_rand() % n, len = tap_rand() % (n - a + 1);

			char *copy = qn_xstrndup(in.data + a, len);

			qn_buf_append(&in, copy, len);	/* not from in itself: it may move */
			free(copy);
			break;
		}
		case 4: {	/* garbage in the middle */
			size_t a = tap_rand() % n, len = 1 + tap_rand() % 40, j;
			char g[41];

			for (j = 0; j < len; j++)
				g[j] = (char)tap_rand();
			qn_buf_grow(&in, len);
			memmove(in.data + a + len, in.data + a, n - a);
			memcpy(in.data + a, g, len);
			in.len += len;
			break;
		}
		default:	/* as it is */
			break;
		}
		LLVMFuzzerTestOneInput((const unsigned char *)in.data, in.len);
	}
	ok(1, "4000 generated WARC inputs read without a broken invariant");
	qn_buf_release(&plain);
	qn_buf_release(&zipped);
	qn_buf_release(&in);
	return done_testing();
}
