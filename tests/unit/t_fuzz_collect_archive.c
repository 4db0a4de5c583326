/*
 * t_fuzz_collect_archive: the fuzz target of quern-collect's content
 * reader (tests/fuzz/fuzz_collect_archive.c) on 1500 generated inputs:
 * archives written here with libarchive (tar.gz, zip, 7z, cpio.xz, ar,
 * a zip inside a tar), a gzip WARC, JSONL and HTML, then mutated by bit
 * flips, truncation, deleted and repeated ranges and inserted bytes.
 * Reaching the end is the test.
 */
#include <archive.h>
#include <archive_entry.h>

#include "../tap.h"
#include "buf.h"
#include "err.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

/* An archive of the given members (name, bytes, length) in memory. */
static size_t archive(const char *format, int filter, const char *const *names,
		      const char *const *data, const size_t *lens, int n, char *out, size_t cap)
{
	struct archive *a = archive_write_new();
	size_t used = 0;
	int i;

	archive_write_set_format_by_name(a, format);
	if (filter)
		archive_write_add_filter(a, filter);
	archive_write_open_memory(a, out, cap, &used);
	for (i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();

		archive_entry_set_pathname(e, names[i]);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, (la_int64_t)lens[i]);
		archive_write_header(a, e);
		archive_write_data(a, data[i], lens[i]);
		archive_entry_free(e);
	}
	archive_write_close(a);
	archive_write_free(a);
	return used;
}

int main(void)
{
	static char seeds[8][64 << 10];
	static size_t seedlen[8];
	const char *names[] = { "a.txt", "../up/b.html", "c.jsonl" };
	const char *data[] = { "plain text\n", "<html><body><p>caf\xe9</p><nav>x</nav></body></html>",
			       "{\"text\":\"j\",\"id\":\"x\"}\n{\"text\":1}\n" };
	size_t lens[3];
	struct qn_buf in = QN_BUF_INIT;
	int i, iter, nseeds = 0;

	for (i = 0; i < 3; i++)
		lens[i] = strlen(data[i]);
	seedlen[nseeds] = archive("ustar", ARCHIVE_FILTER_GZIP, names, data, lens, 3, seeds[nseeds], sizeof seeds[0]);
	nseeds++;
	seedlen[nseeds] = archive("zip", 0, names, data, lens, 3, seeds[nseeds], sizeof seeds[0]);
	nseeds++;
	seedlen[nseeds] = archive("7zip", 0, names, data, lens, 3, seeds[nseeds], sizeof seeds[0]);
	nseeds++;
	seedlen[nseeds] = archive("newc", ARCHIVE_FILTER_XZ, names, data, lens, 3, seeds[nseeds], sizeof seeds[0]);
	nseeds++;
	{
		const char *an[] = { "a.txt", "b.txt" };

		seedlen[nseeds] = archive("argnu", 0, an, data, lens, 2, seeds[nseeds], sizeof seeds[0]);
		nseeds++;
	}
	{
		const char *zn[] = { "inner.zip", "x.txt" };
		const char *zd[] = { seeds[1], "x\n" };
		size_t zl[] = { seedlen[1], 2 };

		seedlen[nseeds] = archive("pax", 0, zn, zd, zl, 2, seeds[nseeds], sizeof seeds[0]);
		nseeds++;
	}
	{
		const char *w = "WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: http://x/\r\n"
				"WARC-Record-ID: <urn:uuid:1>\r\nContent-Type: application/http\r\n"
				"Content-Length: 60\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<p>warc page</p>\r\n\r\n";
		const char *n1[] = { "x.warc" };
		size_t wl = strlen(w);

		seedlen[nseeds] = archive("raw", ARCHIVE_FILTER_GZIP, n1, &w, &wl, 1, seeds[nseeds], sizeof seeds[0]);
		nseeds++;
	}
	memcpy(seeds[nseeds], data[2], lens[2]);
	seedlen[nseeds++] = lens[2];
	for (i = 0; i < nseeds; i++)
		ok(seedlen[i] > 0, "seed %d written (%zu bytes)", i, seedlen[i]);

	for (iter = 0; iter < 1500; iter++) {
		int s = (int)(tap_rand() % (unsigned)nseeds);
		size_t n, k;

		qn_buf_set(&in, seeds[s], seedlen[s]);
		n = in.len;
		if (!n)
			continue;
		switch (tap_rand() % 6) {
		case 0:
			for (k = 0; k < 1 + tap_rand() % 6; k++)
				in.data[tap_rand() % n] ^= (char)(1u << (tap_rand() % 8));
			break;
		case 1:
			in.len = tap_rand() % n;
			break;
		case 2: {
			size_t a = tap_rand() % n, len = tap_rand() % (n - a + 1);

			memmove(in.data + a, in.data + a + len, n - a - len);
			in.len -= len;
			break;
		}
		case 3: {
			size_t a = tap_rand() % n, len = tap_rand() % (n - a + 1);

			char *copy = qn_xstrndup(in.data + a, len);

			qn_buf_append(&in, copy, len);	/* not from in itself: it may move */
			free(copy);
			break;
		}
		case 4:
			in.data[tap_rand() % n] = (char)tap_rand();
			break;
		default:
			break;
		}
		LLVMFuzzerTestOneInput((const unsigned char *)in.data, in.len);
	}
	ok(1, "1500 generated archives read without a broken invariant");
	qn_buf_release(&in);
	return done_testing();
}
