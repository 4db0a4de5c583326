/*
 * fuzz_docstream: the document stream parser under arbitrary bytes.
 *
 * One input is used twice:
 *  - as one JSON line for qn_json_parse_doc: a document it accepts must
 *    have valid UTF-8 text, and must survive qn_doc_to_json and a second
 *    parse unchanged (the writer never emits what the reader rejects);
 *  - as a whole file for qn_docreader (any compression, any lines): every
 *    call returns a document, a counted bad line, the end, or a stream
 *    error, and the loop always ends.
 *
 * Built as a libFuzzer target by tests/fuzz/build.sh (clang), and run by
 * make check through tests/unit/t_fuzz_docstream.c on generated inputs.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "docstream.h"
#include "json.h"
#include "utf8.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n", #c, __FILE__, __LINE__); abort(); } } while (0)

static int same(const struct qn_buf *a, const struct qn_buf *b)
{
	return a->len == b->len && !memcmp(qn_buf_str(a), qn_buf_str(b), a->len);
}

static void one_line(const uint8_t *data, size_t size)
{
	static struct qn_json *j;
	static struct qn_doc d, back;
	static struct qn_buf line, out;
	struct qn_err err;

	if (!j) {
		j = qn_json_new();
		qn_doc_init(&d);
		qn_doc_init(&back);
	}
	qn_buf_set(&line, data, size);
	qn_buf_grow(&line, QN_JSON_PADDING);
	if (qn_json_parse_doc(j, line.data, line.len, &d, &err)) {
		CHECK(err.code == QN_EINPUT && err.msg[0]);
		return;
	}
	CHECK(qn_utf8_valid(qn_buf_str(&d.text), d.text.len));
	qn_buf_reset(&out);
	qn_doc_to_json(&d, &out);
	CHECK(out.len > 0 && out.data[out.len - 1] == '\n');
	qn_buf_grow(&out, QN_JSON_PADDING);
	CHECK(qn_json_parse_doc(j, out.data, out.len - 1, &back, &err) == 0);
	CHECK(same(&d.text, &back.text) && same(&d.id, &back.id) && same(&d.source, &back.source) &&
	      same(&d.locator, &back.locator) && same(&d.extra, &back.extra));
	CHECK(d.has_id == back.has_id && d.has_source == back.has_source && d.has_locator == back.has_locator);
}

static void whole_stream(const uint8_t *data, size_t size)
{
	struct qn_docreader_opts o = { 1 << 16 };
	struct qn_docreader *r;
	struct qn_doc d;
	struct qn_err err;
	char path[64];
	int fd, rc, n = 0;

	fd = memfd_create("fuzz", 0);
	if (fd < 0)
		return;
	if (size && write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return;
	}
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	qn_doc_init(&d);
	r = qn_docreader_open(path, &o, &err);
	if (r) {
		while ((rc = qn_docreader_next(r, &d, &err)) != 0) {
			CHECK(rc == 1 || rc == QN_EINPUT || rc == QN_EFORMAT || rc == QN_EIO);
			if (rc == 1)
				CHECK(qn_utf8_valid(qn_buf_str(&d.text), d.text.len));
			else
				CHECK(strstr(err.msg, path) == err.msg);
			if (rc == QN_EFORMAT || rc == QN_EIO)
				break;
			CHECK(++n <= (int)size + 1);	/* every call consumes input */
		}
		qn_docreader_close(r);
	}
	qn_doc_release(&d);
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	one_line(data, size);
	whole_stream(data, size);
	return 0;
}
