/*
 * fuzz_collect_html: charset detection and conversion
 * (collectors/charset.c) then HTML text extraction (collectors/html.c)
 * on any bytes, through both of html.c's parsers (gumbo, the reference,
 * on inputs under 4 KiB: its time grows with the square of the nesting).
 * Invariants: the conversion's output is valid UTF-8, and so is the
 * extracted text and title; nothing crashes or hangs on deep nesting or
 * tag soup.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../collectors/charset.h"
#include "../../collectors/html.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct qn_buf conv = QN_BUF_INIT, out = QN_BUF_INIT, title = QN_BUF_INIT;
	struct cs_result cs;
	const char *hint = size && data[0] == 'H' ? "windows-1252" : NULL;
	const char *p = (const char *)data;
	size_t n = size;

	if (cs_to_utf8(p, n, hint, 1, &conv, &cs) == 0) {
		if (cs.converted) {
			p = conv.data ? conv.data : "";
			n = conv.len;
		} else {
			p += cs.skip;
			n -= cs.skip;
		}
		if (!qn_utf8_valid(p, n))
			abort();
		for (int ref = 0; ref < 1 + (n < 4096); ref++) {
			qn_buf_reset(&out);
			qn_buf_reset(&title);
			if (html_extract_with(ref ? HTML_PARSER_GUMBO : HTML_PARSER_QUERN, p, n, &out, &title))
				continue;
			if (!qn_utf8_valid(qn_buf_str(&out), out.len) ||
			    !qn_utf8_valid(qn_buf_str(&title), title.len))
				abort();
			if (out.len && (out.data[0] == '\n' || out.data[out.len - 1] == '\n'))
				abort();	/* no blank lines at either end */
		}
	}
	html_sniff((const char *)data, size);
	qn_buf_release(&conv);
	qn_buf_release(&out);
	qn_buf_release(&title);
	return 0;
}
