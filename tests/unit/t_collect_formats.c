/*
 * t_collect_formats: quern-collect's reader (collectors/content.c) on
 * archives of every format libarchive can write -- tar (ustar, pax, GNU),
 * cpio (newc, odc), ar (GNU, BSD), zip, 7z, ISO 9660 -- under every compression
 * filter it can write, and archives nested in archives.  The archives are
 * written here, into files, with libarchive's writer; each is read back
 * with collect_item as quern-collect reads a file, and every member must
 * come out as its document, with its locator.  RAR has no writer: the
 * CLI tests cannot make one either, so RAR is read but not tested.
 *
 * Then the shortcut for plain and gzip'd text (files read whole, gzip
 * undone by libdeflate) against the general path through libarchive: on
 * texts, gzip members of every kind (several, empty, with header fields,
 * trailing bytes, truncated, corrupt, bombs) and texts that libarchive
 * would take for something else, every result must be the same.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include "../tap.h"
#include "../../collectors/collect.h"
#include "../../collectors/warc.h"
#include "docstream.h"
#include "json.h"

struct member {
	const char *name, *text;
};

static const struct member members[] = {
	{ "a.txt", "first member\n" },
	{ "dir/b.md", "# second\n\nmarkdown text\n" },
	{ "c.txt", "third, caf\xc3\xa9\n" },
};
enum { NMEMBERS = 3 };

/* Writes an archive of format/filter to memory; returns its size, 0 if unsupported. */
static size_t write_archive(const char *format, int filter, const struct member *m, int n,
			    char *out, size_t cap)
{
	struct archive *a = archive_write_new();
	size_t used = 0;
	int i;

	if (archive_write_set_format_by_name(a, format) != ARCHIVE_OK ||
	    (filter != ARCHIVE_FILTER_NONE && archive_write_add_filter(a, filter) != ARCHIVE_OK)) {
		archive_write_free(a);
		return 0;
	}
	archive_write_set_bytes_in_last_block(a, 1);
	if (archive_write_open_memory(a, out, cap, &used) != ARCHIVE_OK) {
		archive_write_free(a);
		return 0;
	}
	for (i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		size_t len = strlen(m[i].text);

		archive_entry_set_pathname(e, m[i].name);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, (la_int64_t)len);
		archive_entry_set_mtime(e, 1700000000, 0);
		if (archive_write_header(a, e) != ARCHIVE_OK ||
		    archive_write_data(a, m[i].text, len) != (la_ssize_t)len) {
			archive_entry_free(e);
			archive_write_free(a);
			return 0;
		}
		archive_entry_free(e);
	}
	if (archive_write_close(a) != ARCHIVE_OK)
		used = 0;
	archive_write_free(a);
	return used;
}

static void put_file(const char *path, const char *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || write(fd, p, n) != (ssize_t)n)
		abort();
	close(fd);
}

struct got {
	int docs, skips, errors;
	char texts[8][256], locators[8][256];
};

/* Reads path as quern-collect does and parses the documents back. */
static void collect_path(const char *path, struct got *g)
{
	struct scratch *s = scratch_new();
	struct qn_json *j = qn_json_new();
	struct collect_out out;
	struct qn_buf json;
	struct item it;
	struct qn_doc d;
	size_t off = 0;
	int i;

	memset(g, 0, sizeof *g);
	memset(&it, 0, sizeof it);
	it.kind = IT_FILE;
	it.path = qn_xstrdup(path);
	it.source = qn_xasprintf("file://%s", path);
	collect_out_init(&out, 0);
	collect_item(&it, s, &out);
	json = out.json;	/* never spilled: all in memory */
	qn_doc_init(&d);
	qn_buf_grow(&json, QN_JSON_PADDING);
	for (i = 0; i < it.nres; i++) {
		struct result *r = &it.res[i];

		if (r->outcome == R_SKIP) {
			g->skips++;
			g->errors += r->error;
			printf("#   skipped %s: %s: %s\n", r->locator, reason_name[r->reason], r->msg);
			continue;
		}
		if (g->docs < 8) {
			struct qn_err err;

			if (qn_json_parse_doc(j, json.data + r->json_off, r->json_len - 1, &d, &err) == 0) {
				snprintf(g->texts[g->docs], sizeof g->texts[0], "%s", qn_buf_str(&d.text));
				snprintf(g->locators[g->docs], sizeof g->locators[0], "%s", qn_buf_str(&d.locator));
			}
		}
		g->docs++;
		off = r->json_off + r->json_len;
	}
	(void)off;
	if (it.error)
		printf("#   error: %s\n", it.error);
	g->errors += it.error != NULL;
	item_release(&it);
	qn_doc_release(&d);
	qn_buf_release(&json);
	qn_json_free(j);
	scratch_free(s);
}

/* One gzip member of p[0..n) appended to out; flags: 1 name, 2 comment, 4 extra, 8 header CRC. */
static void gz_member(struct qn_buf *out, const void *p, size_t n, int flags)
{
	z_stream z;
	gz_header h;
	static unsigned char extra[] = "XYab";

	memset(&z, 0, sizeof z);
	memset(&h, 0, sizeof h);
	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		abort();
	h.name = flags & 1 ? (Bytef *)"name.txt" : NULL;
	h.comment = flags & 2 ? (Bytef *)"a comment" : NULL;
	h.extra = flags & 4 ? extra : NULL;
	h.extra_len = flags & 4 ? 4 : 0;
	h.hcrc = (flags & 8) != 0;
	h.os = 3;
	deflateSetHeader(&z, &h);
	qn_buf_grow(out, deflateBound(&z, n) + 64);
	z.next_in = (Bytef *)p;
	z.avail_in = (uInt)n;
	z.next_out = (Bytef *)out->data + out->len;
	z.avail_out = (uInt)(out->cap - out->len - 1);
	if (deflate(&z, Z_FINISH) != Z_STREAM_END)
		abort();
	out->len += z.total_out;
	deflateEnd(&z);
}

/*
 * Every result of collecting path, and the JSON of its documents, as one
 * string.  With a scratch s (else a new one), which may hold what an
 * earlier file left: the results must not depend on it.  The documents
 * spill to a temporary file past spill_at bytes (0: never) and are read
 * back from there as quern-collect does.
 */
static void collect_all(const char *path, struct qn_buf *out, struct scratch *used,
			size_t spill_at)
{
	struct scratch *s = used ? used : scratch_new();
	struct collect_out json;
	struct qn_buf back = QN_BUF_INIT;
	struct item it;
	int i;

	memset(&it, 0, sizeof it);
	it.kind = IT_FILE;
	it.path = qn_xstrdup(path);
	it.source = qn_xasprintf("file://%s", path);
	collect_out_init(&json, spill_at);
	collect_item(&it, s, &json);
	qn_buf_reset(out);
	if (json.error)
		qn_buf_appendf(out, "spill error %s\n", json.error);
	for (i = 0; i < it.nres; i++) {
		struct result *r = &it.res[i];

		qn_buf_appendf(out, "%s %s %d %.32s %s [%s] %s %llu\n",
			       r->outcome == R_DOC ? "doc" : "skip", reason_name[r->reason], r->error,
			       r->id, r->source ? r->source : "-", r->locator, r->msg ? r->msg : "",
			       (unsigned long long)r->text_bytes);
		if (r->outcome == R_DOC) {
			const char *line = collect_out_line(&json, r->json_off, r->json_len, &back);

			if (line)
				qn_buf_append(out, line, r->json_len);
			else
				qn_buf_appendf(out, "read back: %s\n", strerror(errno));
		}
	}
	qn_buf_appendf(out, "raw %llu hashed %d %016llx%016llx error %s\n",
		       (unsigned long long)it.raw_bytes, it.hashed,
		       (unsigned long long)it.hash.hi, (unsigned long long)it.hash.lo,
		       it.error ? it.error : "-");
	item_release(&it);
	collect_out_release(&json);
	qn_buf_release(&back);
	if (!used)
		scratch_free(s);
}

static struct scratch *dirty;	/* has read a long file of HTML without NULs */

/*
 * The file p[0..n) collected with the shortcut, by a scratch that has
 * read another file before, and without, by a new one: the same results.
 * And with every document spilled to disk and read back: the same again.
 */
static void same_both_ways(const char *what, const void *p, size_t n)
{
	struct qn_buf a = QN_BUF_INIT, b = QN_BUF_INIT;

	if (!dirty) {
		struct qn_buf junk = QN_BUF_INIT;

		while (junk.len < (700 << 10))
			qn_buf_puts(&junk, "<p>left over <b>from</b> an earlier file\n");
		put_file(tap_path("dirty.in"), junk.data, junk.len);
		dirty = scratch_new();
		collect_all(tap_path("dirty.in"), &a, dirty, 0);
		qn_buf_release(&junk);
	}
	put_file(tap_path("short.in"), p, n);
	collect_shortcuts = warc_whole_members = 1;
	collect_all(tap_path("short.in"), &a, dirty, 0);
	collect_shortcuts = warc_whole_members = 0;
	collect_all(tap_path("short.in"), &b, NULL, 0);
	collect_shortcuts = warc_whole_members = 1;
	if (!ok(a.len == b.len && !memcmp(a.data, b.data, a.len), "shortcut: %s", what)) {
		printf("#   shortcut:\n%s#   general:\n%s", a.data, b.data);
	}
	collect_all(tap_path("short.in"), &b, NULL, 1);
	if (!ok(a.len == b.len && !memcmp(a.data, b.data, a.len), "spilled: %s", what))
		printf("#   in memory:\n%s#   spilled:\n%s", a.data, b.data);
	qn_buf_release(&a);
	qn_buf_release(&b);
}

/* Texts and gzip files, each also compressed, cut and damaged. */
static void shortcut_tests(void)
{
	static const char *const texts[] = {
		"hello\n",
		".TH LS 1\n.SH NAME\nls \\- list \\fBdirectory\\fR contents\n\"quoted\"\ttab\n",
		"{\"text\":\"a JSONL document\"}\n{\"text\":\"another\"}\n",
		"  \n{\"text\":\"JSONL after blank lines\"}\n",
		"{ a Pascal comment }\nprogram p;\n",
		"{\"not\": \"a document\"}\n",
		"text\nbeginnt mit begin\nbegin-base64 not octal\n",
		"begin with a letter\nbegin 64 too short\n",
		"WARC/1.0\r\nWARC-Type: resource\r\nWARC-Record-ID: <urn:x>\r\nContent-Length: 3\r\n\r\nabc\r\n\r\n",
		"text\nbegin 644 f.txt\n#86)C\n`\nend\n",
		"begin-base64 644 f\nYWJj\n====\n",
		"<!DOCTYPE html><html><head><title>T</title></head><body><p>a page</p></body></html>\n",
		"<html><body><p>no end",
		"<p>x",
		"caf\xe9 cr\xe8me br\xfbl\xe9\n",
		"caf\xc3\xa9 UTF-8\n",
		"\xef\xbb\xbf" "BOM then text\n",
		"\xff\xfeh\0i\0\n\0",
		"bin\0ary\n",
		"07070 not quite cpio\n",
		"PK is not always zip\n",
		"MZ is not always an exe\n",
		"ab-lh5- lha\n",
		"!<arch>\nnot really\n",
		"BZh91AY&SY not bzip2\n",
		"\x1f\x8b not gzip\n",
		"",
	};
	struct qn_buf in = QN_BUF_INIT, gz = QN_BUF_INIT, big = QN_BUF_INIT;
	char what[160];
	size_t i, k;
	uint64_t saved_max = limits.max_doc_bytes, saved_ratio = limits.max_ratio;

	/* A long text of man-page lines; a tar-like text with an octal checksum field. */
	for (i = 0; big.len < (1536 << 10); i++)
		qn_buf_appendf(&big, ".SH LINE %zu\n\\fBword\\fR %llx \"q\"\n", i,
			       (unsigned long long)tap_rand());
	for (i = 0; i < sizeof texts / sizeof texts[0] + 3; i++) {
		const char *t;
		size_t tn;
		char tarish[600];

		if (i < sizeof texts / sizeof texts[0]) {
			t = texts[i];
			tn = !strncmp(t, "\xff\xfe", 2) ? 10 : !strncmp(t, "bin", 3) ? 8 : strlen(t);
		} else if (i == sizeof texts / sizeof texts[0]) {
			t = big.data;
			tn = big.len;
		} else if (i == sizeof texts / sizeof texts[0] + 1) {
			memset(tarish, 'x', sizeof tarish);
			memcpy(tarish + 148, " 012345", 7);
			t = tarish;
			tn = sizeof tarish;
		} else {
			/* Ends in something like a zip's end of central directory. */
			qn_buf_set(&in, big.data, 70000);
			qn_buf_append(&in, "PK\x05\x06\x01\x01\x01\x01", 8);
			t = in.data;
			tn = in.len;
		}
		snprintf(what, sizeof what, "text %zu as it is", i);
		same_both_ways(what, t, tn);
		for (k = 0; k < 16; k++) {
			qn_buf_reset(&gz);
			gz_member(&gz, t, tn, (int)(k & 15));
			snprintf(what, sizeof what, "text %zu in gzip, header fields %zu", i, k & 15);
			same_both_ways(what, gz.data, gz.len);
		}
		/* Several members, an empty one, and what may follow the last. */
		qn_buf_reset(&gz);
		gz_member(&gz, t, tn / 2, 0);
		gz_member(&gz, "", 0, 0);
		gz_member(&gz, t + tn / 2, tn - tn / 2, 1);
		snprintf(what, sizeof what, "text %zu in three gzip members", i);
		same_both_ways(what, gz.data, gz.len);
		k = gz.len;
		qn_buf_append(&gz, "trailing garbage", 16);
		snprintf(what, sizeof what, "text %zu in gzip, then garbage", i);
		same_both_ways(what, gz.data, gz.len);
		gz.len = k;
		qn_buf_append(&gz, "\0\0\0\0", 4);
		snprintf(what, sizeof what, "text %zu in gzip, then zeros", i);
		same_both_ways(what, gz.data, gz.len);
		gz.len = k;
		qn_buf_append(&gz, "\x1f\x8b\x08\x00\0\0\0\0\0\x03garbage", 17);
		snprintf(what, sizeof what, "text %zu in gzip, then a broken member", i);
		same_both_ways(what, gz.data, gz.len);
		gz.len = k;
		qn_buf_append(&gz, "\x1f\x8b\x08\xe0\0\0\0\0\0\x03garbage", 17);
		snprintf(what, sizeof what, "text %zu in gzip, then a member with reserved flags", i);
		same_both_ways(what, gz.data, gz.len);
		/* Compressed twice. */
		qn_buf_reset(&in);
		gz_member(&in, t, tn, 0);
		qn_buf_reset(&gz);
		gz_member(&gz, in.data, in.len, 0);
		snprintf(what, sizeof what, "text %zu in gzip twice", i);
		same_both_ways(what, gz.data, gz.len);
		/* Cut and damaged. */
		qn_buf_reset(&gz);
		gz_member(&gz, t, tn, 0);
		for (k = 1; k < 6; k++) {
			size_t cut = k * gz.len / 6;

			snprintf(what, sizeof what, "text %zu in gzip, cut at %zu of %zu", i, cut, gz.len);
			same_both_ways(what, gz.data, cut);
		}
		gz.data[gz.len - 6] ^= 1;	/* the CRC */
		snprintf(what, sizeof what, "text %zu in gzip, a bad CRC", i);
		same_both_ways(what, gz.data, gz.len);
		gz.data[gz.len - 6] ^= 1;
		gz.data[gz.len - 2] ^= 1;	/* the size */
		snprintf(what, sizeof what, "text %zu in gzip, a bad size", i);
		same_both_ways(what, gz.data, gz.len);
		gz.data[gz.len - 2] ^= 1;
		if (gz.len > 20) {
			gz.data[gz.len / 2] ^= 0x55;
			snprintf(what, sizeof what, "text %zu in gzip, a damaged block", i);
			same_both_ways(what, gz.data, gz.len);
			gz.data[gz.len / 2] ^= 0x55;
		}
		/* Limits: too large, and a bomb, as text and as gzip. */
		if (tn > 100) {
			limits.max_doc_bytes = tn - 1;
			snprintf(what, sizeof what, "text %zu over --max-doc-bytes", i);
			same_both_ways(what, t, tn);
			snprintf(what, sizeof what, "text %zu in gzip over --max-doc-bytes", i);
			same_both_ways(what, gz.data, gz.len);
			limits.max_doc_bytes = tn;
			snprintf(what, sizeof what, "text %zu in gzip at --max-doc-bytes", i);
			same_both_ways(what, gz.data, gz.len);
			limits.max_doc_bytes = saved_max;
		}
	}
	/* Long HTML, read into the whole-file buffer, ending without a newline. */
	qn_buf_reset(&in);
	for (i = 0; in.len < (400 << 10); i++)
		qn_buf_appendf(&in, "<h2>part %zu</h2><p>text of part %zu</p>", i, i);
	same_both_ways("400 kB of HTML", in.data, in.len);
	qn_buf_reset(&gz);
	gz_member(&gz, in.data, in.len, 0);
	same_both_ways("400 kB of HTML in gzip", gz.data, gz.len);
	/* uuencoded text after lines of every length, plain and in gzip. */
	for (i = 0; i < 40; i++) {
		qn_buf_reset(&in);
		for (k = 0; k < i; k++)
			qn_buf_putc(&in, k + 1 == i ? '\n' : 'x');
		qn_buf_puts(&in, "begin 644 f.txt\n#86)C\n`\nend\n");
		snprintf(what, sizeof what, "uuencoded text after %zu bytes", i);
		same_both_ways(what, in.data, in.len);
		qn_buf_reset(&gz);
		gz_member(&gz, in.data, in.len, 0);
		snprintf(what, sizeof what, "uuencoded text after %zu bytes, in gzip", i);
		same_both_ways(what, gz.data, gz.len);
	}
	/* A header with a right tar checksum and no NUL: libarchive's to judge. */
	{
		char h[1024];
		unsigned sum = 0;

		memset(h, 'a', sizeof h);
		memcpy(h, "name.txt", 8);
		memcpy(h + 100, "0000644 ", 8);
		memcpy(h + 124, "00000000012 ", 12);
		memcpy(h + 148, "        ", 8);
		h[156] = '0';
		for (k = 0; k < 512; k++)
			sum += (unsigned char)h[k];
		snprintf(h + 148, 9, "%06o ", sum);
		h[155] = ' ';
		same_both_ways("text with a tar checksum", h, sizeof h);
		qn_buf_reset(&gz);
		gz_member(&gz, h, sizeof h, 0);
		same_both_ways("text with a tar checksum, in gzip", gz.data, gz.len);
	}
	/* The same in base-256 (a negative signed sum, in Latin-1 text), and UTF-8 in the field. */
	{
		unsigned char h[1024];
		int ss = 0;

		memset(h, 0xe9, sizeof h);
		memcpy(h, "name", 4);
		for (k = 0; k < 512; k++)
			ss += (signed char)(k >= 148 && k < 156 ? ' ' : h[k]);
		memset(h + 148, 0xff, 4);
		h[152] = (unsigned char)((unsigned)ss >> 24);
		h[153] = (unsigned char)((unsigned)ss >> 16);
		h[154] = (unsigned char)((unsigned)ss >> 8);
		h[155] = (unsigned char)ss;
		same_both_ways("Latin-1 text with a base-256 tar checksum", h, sizeof h);
		memcpy(h + 140, "\xc3\xa9t\xc3\xa9 2023-02-05 caf\xc3\xa9", 21);
		same_both_ways("UTF-8 text at the tar checksum", h, sizeof h);
		qn_buf_reset(&gz);
		gz_member(&gz, h, sizeof h, 0);
		same_both_ways("UTF-8 text at the tar checksum, in gzip", gz.data, gz.len);
	}
	/*
	 * A gzip WARC, a member per record (one with a header CRC, one of
	 * 300 kB, over what libdeflate takes in one go), cut and damaged.
	 */
	{
		struct qn_buf rec = QN_BUF_INIT, w = QN_BUF_INIT;
		size_t ends[8], nend = 0, j;

		for (i = 0; i < 7; i++) {
			size_t len = i == 3 ? 300000 : 40 + 500 * i;

			qn_buf_reset(&in);
			for (k = 0; in.len < len; k++)
				qn_buf_appendf(&in, "<p>record %zu line %zu</p>\n", i, k);
			qn_buf_reset(&rec);
			qn_buf_appendf(&rec, "WARC/1.0\r\nWARC-Type: resource\r\nWARC-Record-ID: <urn:r%zu>\r\n"
				       "WARC-Target-URI: http://x/%zu.html\r\nContent-Type: text/html\r\n"
				       "Content-Length: %zu\r\n\r\n", i, i, in.len);
			qn_buf_append(&rec, in.data, in.len);
			qn_buf_puts(&rec, "\r\n\r\n");
			gz_member(&w, rec.data, rec.len, i == 5 ? 8 : 0);
			ends[nend++] = w.len;
		}
		same_both_ways("a gzip WARC", w.data, w.len);
		for (j = 0; j < nend; j++) {
			snprintf(what, sizeof what, "a gzip WARC cut after member %zu", j);
			same_both_ways(what, w.data, ends[j]);
			snprintf(what, sizeof what, "a gzip WARC cut inside member %zu", j);
			same_both_ways(what, w.data, ends[j] - 7);
		}
		for (j = 0; j < 60; j++) {
			size_t at = (size_t)(tap_rand() % w.len);
			unsigned char bit = (unsigned char)(1u << (tap_rand() % 8));

			w.data[at] ^= (char)bit;
			snprintf(what, sizeof what, "a gzip WARC with a bit flipped at %zu", at);
			same_both_ways(what, w.data, w.len);
			w.data[at] ^= (char)bit;
		}
		qn_buf_release(&rec);
		qn_buf_release(&w);
	}
	/* Bombs: the budget is max-ratio times the file plus 1 MiB. */
	qn_buf_reset(&in);
	for (i = 0; i < (3 << 20); i += 64)
		qn_buf_append(&in, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", 64);
	qn_buf_reset(&gz);
	gz_member(&gz, in.data, in.len, 0);
	same_both_ways("3 MiB of a in gzip (a bomb)", gz.data, gz.len);
	limits.max_ratio = 2000;
	same_both_ways("the same with --max-ratio 2000", gz.data, gz.len);
	limits.max_doc_bytes = 1 << 20;
	same_both_ways("and --max-doc-bytes 1M", gz.data, gz.len);
	limits.max_doc_bytes = saved_max;
	limits.max_ratio = saved_ratio;
	/* A tar in gzip, as a .tar.gz is. */
	{
		static char tbuf[1 << 16];
		size_t tn = write_archive("ustar", ARCHIVE_FILTER_NONE, members, NMEMBERS, tbuf, sizeof tbuf);

		qn_buf_reset(&gz);
		gz_member(&gz, tbuf, tn, 0);
		same_both_ways("a tar in gzip", gz.data, gz.len);
	}
	qn_buf_release(&in);
	qn_buf_release(&gz);
	qn_buf_release(&big);
}

int main(void)
{
	static const char *const formats[] = {
		"ustar", "pax", "gnutar", "newc", "odc", "argnu", "arbsd", "zip", "7zip", "iso9660", "xar",
	};
	static const struct { int code; const char *name; } filters[] = {
		{ ARCHIVE_FILTER_NONE, "" }, { ARCHIVE_FILTER_GZIP, "gzip" },
		{ ARCHIVE_FILTER_BZIP2, "bzip2" }, { ARCHIVE_FILTER_XZ, "xz" },
		{ ARCHIVE_FILTER_ZSTD, "zstd" }, { ARCHIVE_FILTER_LZ4, "lz4" },
		{ ARCHIVE_FILTER_LZIP, "lzip" }, { ARCHIVE_FILTER_COMPRESS, "compress" },
	};
	static char buf[1 << 20], inner[1 << 20];
	struct got g;
	size_t fi, li, n;
	int k;

	tap_tmpdir();
	for (fi = 0; fi < sizeof formats / sizeof formats[0]; fi++) {
		for (li = 0; li < sizeof filters / sizeof filters[0]; li++) {
			int ar = !strncmp(formats[fi], "ar", 2);
			const struct member flat[] = { { "a.txt", "first member\n" },
						       { "b.md", "# second\n\nmarkdown text\n" },
						       { "c.txt", "third, caf\xc3\xa9\n" } };
			char want[128];

			/*
			 * zip, 7z and ISO images compress by themselves and are
			 * read by seeking: under an outer filter they are opened
			 * from memory once decompressed.
			 */
			n = write_archive(formats[fi], filters[li].code, ar ? flat : members,
					  NMEMBERS, buf, sizeof buf);
			if (!n) {
				printf("ok %d - # SKIP libarchive cannot write %s %s\n", ++tap_n,
				       formats[fi], filters[li].name);
				continue;
			}
			put_file(tap_path("x.archive"), buf, n);
			collect_path(tap_path("x.archive"), &g);
			is_int(g.docs, NMEMBERS, "%s %s: one document per member", formats[fi],
			       filters[li].name);
			is_int(g.skips, 0, "%s %s: nothing skipped", formats[fi], filters[li].name);
			is_str(g.texts[1], members[1].text, "%s %s: member text", formats[fi],
			       filters[li].name);
			if (!strcmp(formats[fi], "iso9660")) {
				/* ISO 9660 may rename; the member name is there, in some case. */
				ok(strstr(g.locators[0], "member=") != NULL, "iso9660: a member locator");
				continue;
			}
			snprintf(want, sizeof want, "%s%s%smember=%s", *filters[li].name ? "filter=" : "",
				 filters[li].name, *filters[li].name ? ";" : "",
				 ar ? flat[1].name : members[1].name);
			is_str(g.locators[1], want, "%s %s: locator", formats[fi], filters[li].name);
		}
	}

	/* Nested: a zip inside a tar.xz inside a cpio.gz. */
	n = write_archive("zip", ARCHIVE_FILTER_NONE, members, NMEMBERS, inner, sizeof inner);
	{
		struct member m1[2] = { { "in.zip", NULL }, { "top.txt", "top\n" } };
		static char mid[1 << 20];
		size_t nm;
		char *copy = qn_xmalloc(n + 1);

		memcpy(copy, inner, n);
		copy[n] = '\0';
		/* write_archive takes strings: zip bytes have NULs, so write it by hand. */
		{
			struct archive *a = archive_write_new();
			struct archive_entry *e;
			size_t used = 0;

			archive_write_set_format_pax_restricted(a);
			archive_write_add_filter_xz(a);
			archive_write_open_memory(a, mid, sizeof mid, &used);
			e = archive_entry_new();
			archive_entry_set_pathname(e, m1[0].name);
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, 0644);
			archive_entry_set_size(e, (la_int64_t)n);
			archive_write_header(a, e);
			archive_write_data(a, copy, n);
			archive_entry_clear(e);
			archive_entry_set_pathname(e, m1[1].name);
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, 0644);
			archive_entry_set_size(e, 4);
			archive_write_header(a, e);
			archive_write_data(a, m1[1].text, 4);
			archive_entry_free(e);
			archive_write_close(a);
			archive_write_free(a);
			nm = used;
		}
		{
			struct archive *a = archive_write_new();
			struct archive_entry *e = archive_entry_new();
			size_t used = 0;

			archive_write_set_format_cpio_newc(a);
			archive_write_add_filter_gzip(a);
			archive_write_open_memory(a, buf, sizeof buf, &used);
			archive_entry_set_pathname(e, "mid.tar.xz");
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, 0644);
			archive_entry_set_size(e, (la_int64_t)nm);
			archive_write_header(a, e);
			archive_write_data(a, mid, nm);
			archive_entry_free(e);
			archive_write_close(a);
			archive_write_free(a);
			n = used;
		}
		free(copy);
		put_file(tap_path("nested.cpio.gz"), buf, n);
		collect_path(tap_path("nested.cpio.gz"), &g);
		is_int(g.docs, NMEMBERS + 1, "nested: every member of every level");
		is_str(g.locators[0], "filter=gzip;member=mid.tar.xz;filter=xz;member=in.zip;member=a.txt",
		       "nested: the locator is the whole path");
		is_str(g.texts[3], "top\n", "nested: the outer member after the inner archive");
		limits.max_depth = 2;
		collect_path(tap_path("nested.cpio.gz"), &g);
		is_int(g.docs, 1, "--max-depth 2: only the member at depth 2");
		is_int(g.skips, 1, "--max-depth 2: the zip at depth 2 is skipped");
		limits.max_depth = 4;
	}

	/* A 7z under gzip inside a tar: 7z is read by seeking, so from memory once unpacked. */
	n = write_archive("7zip", ARCHIVE_FILTER_GZIP, members, NMEMBERS, inner, sizeof inner);
	{
		struct archive *a = archive_write_new();
		struct archive_entry *e = archive_entry_new();
		size_t used = 0;
		char want[128];

		archive_write_set_format_ustar(a);
		archive_write_open_memory(a, buf, sizeof buf, &used);
		archive_entry_set_pathname(e, "in.7z.gz");
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, (la_int64_t)n);
		archive_write_header(a, e);
		archive_write_data(a, inner, n);
		archive_entry_free(e);
		archive_write_close(a);
		archive_write_free(a);
		put_file(tap_path("in7z.tar"), buf, used);
		collect_path(tap_path("in7z.tar"), &g);
		is_int(g.docs, NMEMBERS, "a 7z.gz in a tar: every member");
		is_int(g.skips, 0, "a 7z.gz in a tar: nothing skipped");
		snprintf(want, sizeof want, "member=in.7z.gz;filter=gzip;member=%s", members[1].name);
		is_str(g.locators[1], want, "a 7z.gz in a tar: the locator");
	}

	/* A truncated archive: the members before the cut, then a reason. */
	n = write_archive("ustar", ARCHIVE_FILTER_GZIP, members, NMEMBERS, buf, sizeof buf);
	for (k = 0; k < 3; k++) {
		size_t cut = k == 0 ? n - 30 : k == 1 ? n / 2 : 12;

		put_file(tap_path("trunc.tar.gz"), buf, cut);
		collect_path(tap_path("trunc.tar.gz"), &g);
		ok(g.errors >= 1, "truncated at %zu of %zu: an error", cut, n);
		ok(g.docs <= NMEMBERS, "truncated at %zu: no more documents than members", cut);
	}
	shortcut_tests();
	scratch_free(dirty);
	tap_cleanup();
	return done_testing();
}
