/*
 * fuzz_collect_archive: quern-collect's reader of a file's content
 * (collectors/content.c: archives through libarchive, compression, WARC,
 * JSONL, charsets, HTML) on any bytes, as if they were a file.
 * Invariants: every document's JSON line parses back as a document whose
 * text is valid UTF-8 and whose id is 32 hex digits (or kept from JSONL
 * input); every result has a reason or a line; no crash, hang or bomb.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../collectors/collect.h"
#include "docstream.h"
#include "json.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static struct scratch *s;
	static struct qn_json *j;
	struct qn_buf json = QN_BUF_INIT;
	struct item it;
	struct qn_doc d;
	int i;

	if (!s) {
		s = scratch_new();
		j = qn_json_new();
		limits.max_doc_bytes = 1 << 20;
		limits.max_ratio = 50;
	}
	memset(&it, 0, sizeof it);
	it.kind = IT_FILE;
	it.path = strdup("fuzz");
	it.source = strdup("file:///fuzz");
	collect_bytes(&it, s, data, size, &json);
	qn_doc_init(&d);
	qn_buf_grow(&json, QN_JSON_PADDING);
	for (i = 0; i < it.nres; i++) {
		struct result *r = &it.res[i];
		struct qn_err err;

		if (!r->locator || strlen(r->id) != 32)
			abort();
		if (r->outcome == R_SKIP) {
			if (r->reason >= NREASONS || !r->msg || !qn_utf8_valid(r->msg, strlen(r->msg)))
				abort();
			continue;
		}
		if (r->json_off + r->json_len > json.len || !r->json_len ||
		    json.data[r->json_off + r->json_len - 1] != '\n')
			abort();
		if (qn_json_parse_doc(j, json.data + r->json_off, r->json_len - 1, &d, &err) < 0)
			abort();
		if (!qn_utf8_valid(d.text.data ? d.text.data : "", d.text.len) || !d.has_id)
			abort();
	}
	item_release(&it);
	qn_doc_release(&d);
	qn_buf_release(&json);
	return 0;
}
