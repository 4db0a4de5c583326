/*
 * json-peers: why simdjson.  Parses the same document lines (plain JSONL
 * in memory) with quern's parser (simdjson On-Demand + full validation of
 * pass-through members), Jansson and cJSON, the C JSON libraries Debian
 * ships, extracting "text" from each line.  One thread, best of three.
 *
 *   json-peers FILE.jsonl
 *
 * Built by bench/docstream.sh when libjansson-dev and libcjson-dev are
 * installed; not part of the build.
 */
#include <cjson/cJSON.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docstream.h"
#include "json.h"
#include "progress.h"

static struct qn_buf all;

typedef size_t (*parse_fn)(const char *p, size_t n, void *ctx);

static struct qn_json *qj;
static struct qn_doc qd;

static size_t p_quern(const char *p, size_t n, void *ctx)
{
	struct qn_err err;

	return qn_json_parse_doc(qj, p, n, &qd, &err) ? 0 : qd.text.len;
}

static size_t p_jansson(const char *p, size_t n, void *ctx)
{
	json_error_t e;
	json_t *j = json_loadb(p, n, 0, &e);
	size_t len = 0;

	if (j) {
		len = json_string_length(json_object_get(j, "text"));
		json_decref(j);
	}
	return len;
}

static size_t p_cjson(const char *p, size_t n, void *ctx)
{
	cJSON *j = cJSON_ParseWithLength(p, n);
	size_t len = 0;

	if (j) {
		cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "text");

		len = cJSON_IsString(t) ? strlen(t->valuestring) : 0;
		cJSON_Delete(j);
	}
	return len;
}

static double run(parse_fn fn, size_t *text)
{
	double best = 1e9;
	int rep;

	for (rep = 0; rep < 3; rep++) {
		char *p = all.data, *end = all.data + all.len;
		double t = qn_now();

		*text = 0;
		while (p < end) {
			char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

			*text += fn(p, n, NULL);
			p += n + 1;
		}
		t = qn_now() - t;
		if (t < best)
			best = t;
	}
	return best;
}

int main(int argc, char **argv)
{
	static const struct { const char *name; parse_fn fn; } libs[] = {
		{ "quern (simdjson 3 On-Demand)", p_quern },
		{ "Jansson 2.14", p_jansson },
		{ "cJSON 1.7", p_cjson },
	};
	size_t i, text;
	double base = 0;
	FILE *f;

	if (argc != 2 || !(f = fopen(argv[1], "rb"))) {
		fprintf(stderr, "usage: json-peers FILE.jsonl\n");
		return 2;
	}
	for (;;) {
		size_t n;

		qn_buf_grow(&all, 1 << 20);
		n = fread(all.data + all.len, 1, 1 << 20, f);
		if (!n)
			break;
		all.len += n;
	}
	fclose(f);
	qn_buf_grow(&all, QN_JSON_PADDING);
	qj = qn_json_new();
	qn_doc_init(&qd);
	printf("JSON parse of %.1f MB of document lines, one thread:\n", all.len / 1e6);
	for (i = 0; i < sizeof libs / sizeof libs[0]; i++) {
		double t = run(libs[i].fn, &text);

		if (i == 0)
			base = t;
		printf("  %-30s %8.1f MB/s  (quern is %.1fx faster)  text %zu bytes\n",
		       libs[i].name, all.len / 1e6 / t, t / base, text);
	}
	return 0;
}
