/*
 * t_fuzz_collect_html: the fuzz target of charset detection and HTML
 * extraction (tests/fuzz/fuzz_collect_html.c) on 3000 generated inputs:
 * random tag soup from a vocabulary of content, boilerplate and void
 * elements with attributes, text in several encodings, unclosed and
 * deeply nested tags (up to 20000 levels), and random bytes.  Reaching
 * the end is the test.
 */
#include "../tap.h"
#include "buf.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int main(void)
{
	static const char *const parts[] = {
		"<p>", "</p>", "<div class=\"sidebar\">", "<div id=main>", "</div>", "<ul>", "<li>",
		"</ul>", "<ol start=3>", "</ol>", "<table><tr><td>", "</td><td>", "</table>", "<pre>",
		"</pre>", "<a href=\"#x\">", "<a href=\"/y\">link</a>", "</a>", "<h2>", "</h2>",
		"<script>var x = '</p>';</script>", "<style>p{}</style>", "<nav>", "</nav>",
		"<br>", "<hr/>", "<img src=x>", "<!-- c -->", "<![CDATA[x]]>", "&amp;", "&#8212;",
		"&#xD800;", "text ", "caf\xc3\xa9 ", "caf\xe9 ", "\x82\xa0", "\xef\xbb\xbf", "\0",
		"<meta charset=\"shift_jis\">", "<meta http-equiv=Content-Type content='text/html; charset=koi8-r'>",
		"<template><p>t</template>", "<svg><p>s</svg>", "<math>", "<select><option>o",
		"<dl><dt>term<dd>def</dl>", "<div role=navigation>", "<aside>", "<footer>",
		"<body>", "<html>", "<head><title>Title</title></head>", "   \n\t ", "<",
		">", "\"", "'", "=",
	};
	struct qn_buf b = QN_BUF_INIT;
	int iter;

	for (iter = 0; iter < 3000; iter++) {
		int kind = (int)(tap_rand() % 10), k, n;

		qn_buf_reset(&b);
		if (kind == 0) {
			n = (int)(tap_rand() % 400);
			for (k = 0; k < n; k++)
				qn_buf_putc(&b, (char)tap_rand());
		} else if (kind == 1 && iter % 50 == 1) {
			/* Deep nesting. */
			for (k = 0; k < 20000; k++)
				qn_buf_puts(&b, tap_rand() % 2 ? "<div>" : "<b>");
			qn_buf_puts(&b, "deep");
		} else {
			n = 1 + (int)(tap_rand() % 120);
			for (k = 0; k < n; k++) {
				const char *p = parts[tap_rand() % (sizeof parts / sizeof parts[0])];

				qn_buf_append(&b, p, p[0] ? strlen(p) : 1);
			}
		}
		LLVMFuzzerTestOneInput((const unsigned char *)qn_buf_str(&b), b.len);
	}
	ok(1, "3000 generated HTML inputs extracted without a broken invariant");
	qn_buf_release(&b);
	return done_testing();
}
