/*
 * quern-tokenize: text to token ids and back, with any tokenizer quern
 * loads (tokenizer.json, .tiktoken, npm tiktoken's encoder JSON).
 *
 * A thin front end over libqntok (tokenizer.h): it reads each input
 * whole, encodes it as one text (or each line on its own with --lines,
 * or each document of a document stream with --docs), and prints ids; -d reads ids and prints the bytes they stand for.  It
 * is a filter for looking at a tokenizer, so it records nothing in the
 * manifest; quern-shard is the program that tokenizes corpora.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "docstream.h"
#include "err.h"
#include "tokenizer.h"

static struct {
	const char *tokenizer, *output;
	int lines, decode, count, special, docs;
} opt;

static FILE *out;
static struct qn_buf obuf;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: quern-tokenize -t TOKENIZER [--lines] [--special] [--count] [-o OUT] [FILE...]\n"
		"       quern-tokenize -t TOKENIZER -d [--lines] [-o OUT] [FILE...]\n"
		"Encodes text as token ids, one id a line (each FILE, or standard input,\n"
		"is one text), or decodes ids back to text with -d.\n"
		"  -t, --tokenizer FILE  tokenizer.json, .tiktoken, or npm tiktoken encoder JSON\n"
		"      --lines           each line on its own: ids space-separated, a line each\n"
		"  -d, --decode          ids in (separated by white space), text out\n"
		"      --docs            inputs are document streams: each document's text on its\n"
		"                        own, ids space-separated, a line per document\n"
		"  -c, --count           print the number of tokens only\n"
		"      --special         special tokens' text becomes their ids\n"
		"  -o, --output FILE     write to FILE instead of standard output\n"
		"  -h, --help            this help\n"
		"  -V, --version         the version\n");
}

static void flush_out(int force)
{
	if (obuf.len && (force || obuf.len >= (1 << 16))) {
		if (fwrite(obuf.data, 1, obuf.len, out) != obuf.len)
			qn_errx(QN_EXIT_FAIL, "%s: %s", opt.output ? opt.output : "standard output",
				strerror(errno));
		qn_buf_reset(&obuf);
	}
}

static void put_u32(uint32_t v)
{
	char b[16];
	int n = 0;

	do {
		b[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	qn_buf_grow(&obuf, (size_t)n + 1);
	while (n)
		obuf.data[obuf.len++] = b[--n];
	obuf.data[obuf.len] = 0;
}

static int read_all(const char *path, struct qn_buf *b)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	char chunk[1 << 16];
	size_t got;

	qn_buf_reset(b);
	if (!f) {
		qn_warnx("%s: %s", path, strerror(errno));
		return -1;
	}
	while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
		qn_buf_append(b, chunk, got);
	if (ferror(f)) {
		qn_warnx("%s: read error: %s", path, strerror(errno));
		if (f != stdin)
			fclose(f);
		return -1;
	}
	if (f != stdin)
		fclose(f);
	else
		clearerr(stdin);
	return 0;
}

/* Encodes s[0..n) and prints it: ids one a line, or sep-separated, or the count. */
static int encode_one(struct qn_tok_enc *e, const char *name, size_t line, const char *s, size_t n,
		      char sep, uint64_t *total, struct qn_ids *ids)
{
	struct qn_err err;
	int rc;

	ids->n = 0;
	rc = opt.special ? qn_tok_encode_special(e, s, n, ids, &err) : qn_tok_encode(e, s, n, ids, &err);
	if (rc) {
		if (line)
			qn_warnx("%s:%zu: %s", name, line, err.msg);
		else
			qn_warnx("%s: %s", name, err.msg);
		return -1;
	}
	*total += ids->n;
	if (opt.count)
		return 0;
	for (size_t i = 0; i < ids->n; i++) {
		if (sep == ' ' && i)
			qn_buf_putc(&obuf, ' ');
		put_u32(ids->v[i]);
		if (sep == '\n')
			qn_buf_putc(&obuf, '\n');
		flush_out(0);
	}
	return 0;
}

/* Decodes the ids written in s[0..n); line 0 means "count lines from first". */
static int decode_text(const struct qn_tok *t, const char *name, size_t first, const char *s, size_t n,
		       struct qn_ids *ids)
{
	struct qn_err err;
	size_t line = first;

	ids->n = 0;
	for (size_t i = 0; i < n;) {
		if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n') {
			line += s[i] == '\n';
			i++;
			continue;
		}
		size_t j = i;
		uint64_t v = 0;

		while (j < n && s[j] >= '0' && s[j] <= '9' && v <= UINT32_MAX)
			v = v * 10 + (uint64_t)(s[j++] - '0');
		if (j == i || (j < n && !strchr(" \t\r\n", s[j])) || v > UINT32_MAX ||
		    !qn_tok_bytes(t, (uint32_t)v, NULL)) {
			size_t k = i;

			while (k < n && !strchr(" \t\r\n", s[k]))
				k++;
			qn_warnx("%s:%zu: '%.*s' is not a token id of this tokenizer", name, line,
				 (int)(k - i > 40 ? 40 : k - i), s + i);
			return -1;
		}
		qn_ids_reserve(ids, 1);
		ids->v[ids->n++] = (uint32_t)v;
		i = j;
	}
	if (qn_tok_decode(t, ids->v, ids->n, &obuf, &err)) {
		qn_warnx("%s: %s", name, err.msg);
		return -1;
	}
	flush_out(0);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "tokenizer", required_argument, NULL, 't' },
		{ "lines", no_argument, NULL, 'L' },
		{ "decode", no_argument, NULL, 'd' },
		{ "count", no_argument, NULL, 'c' },
		{ "special", no_argument, NULL, 'S' },
		{ "docs", no_argument, NULL, 'D' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct qn_tok *t;
	struct qn_tok_enc *e = NULL;
	struct qn_err err;
	struct qn_buf in = QN_BUF_INIT;
	struct qn_ids ids = { 0 };
	uint64_t total = 0;
	int c, status = QN_EXIT_OK;
	char *tmpname = NULL;

	qn_cli_init(argc, argv);
	while ((c = getopt_long(argc, argv, "t:dco:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 't': opt.tokenizer = optarg; break;
		case 'L': opt.lines = 1; break;
		case 'd': opt.decode = 1; break;
		case 'c': opt.count = 1; break;
		case 'S': opt.special = 1; break;
		case 'D': opt.docs = 1; break;
		case 'o': opt.output = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'V': qn_print_version();
		default: usage(stderr); return QN_EXIT_USAGE;
		}
	}
	if (!opt.tokenizer)
		qn_usage_error("-t TOKENIZER is required");
	if (opt.decode && (opt.count || opt.special || opt.docs))
		qn_usage_error("-d does not go with --count, --special or --docs");
	if (opt.docs && opt.lines)
		qn_usage_error("--docs does not go with --lines");
	if (qn_tok_load(opt.tokenizer, &t, &err))
		qn_errx(QN_EXIT_FAIL, "%s", err.msg);
	if (opt.output) {
		tmpname = qn_xasprintf("%s.tmp%ld", opt.output, (long)getpid());
		if (!(out = fopen(tmpname, "wb")))
			qn_errx(QN_EXIT_FAIL, "%s: %s", tmpname, strerror(errno));
	} else {
		out = stdout;
	}
	if (!opt.decode)
		e = qn_tok_enc_new(t);

	char *stdin_only[] = { (char *)"-" };
	char **files = optind < argc ? argv + optind : stdin_only;
	int nfiles = optind < argc ? argc - optind : 1;

	for (int f = 0; f < nfiles; f++) {
		const char *name = strcmp(files[f], "-") ? files[f] : "standard input";

		if (opt.docs) {
			/* each document's text on its own, a line each */
			struct qn_docreader *r = qn_docreader_open(files[f], NULL, &err);
			struct qn_doc d;
			int got;

			if (!r) {
				qn_warnx("%s", err.msg);
				status = QN_EXIT_FAIL;
				continue;
			}
			qn_doc_init(&d);
			while ((got = qn_docreader_next(r, &d, &err)) != 0) {
				uint64_t before = total;

				if (got < 0) {
					qn_warnx("%s", err.msg);
					status = QN_EXIT_FAIL;
					if (got == QN_EINPUT)
						continue;
					break;
				}
				if (encode_one(e, qn_docreader_name(r), (size_t)d.line, qn_buf_str(&d.text),
					       d.text.len, ' ', &total, &ids)) {
					status = QN_EXIT_FAIL;
					break;
				}
				if (opt.count)
					qn_buf_appendf(&obuf, "%llu", (unsigned long long)(total - before));
				qn_buf_putc(&obuf, '\n');
				flush_out(0);
			}
			qn_doc_release(&d);
			qn_docreader_close(r);
			continue;
		}
		if (read_all(files[f], &in)) {
			status = QN_EXIT_FAIL;
			continue;
		}
		if (!opt.lines) {
			int rc = opt.decode ? decode_text(t, name, 1, in.data ? in.data : "", in.len, &ids)
					    : encode_one(e, name, 0, qn_buf_str(&in), in.len, '\n', &total, &ids);

			if (rc)
				status = QN_EXIT_FAIL;
			continue;
		}
		/* --lines: each line (without its newline) on its own */
		size_t line = 0;
		for (size_t i = 0; i < in.len;) {
			const char *s = in.data + i, *nl = memchr(s, '\n', in.len - i);
			size_t n = nl ? (size_t)(nl - s) : in.len - i;
			uint64_t before = total;

			line++;
			if (opt.decode) {
				if (decode_text(t, name, line, s, n, &ids)) {
					status = QN_EXIT_FAIL;
					break;
				}
			} else if (encode_one(e, name, line, s, n, ' ', &total, &ids)) {
				status = QN_EXIT_FAIL;
				break;
			}
			if (opt.count)
				qn_buf_appendf(&obuf, "%llu", (unsigned long long)(total - before));
			qn_buf_putc(&obuf, '\n');
			flush_out(0);
			i += n + 1;
		}
	}
	if (opt.count && !opt.lines && !opt.docs)
		qn_buf_appendf(&obuf, "%llu\n", (unsigned long long)total);
	flush_out(1);
	qn_tok_enc_free(e);
	qn_tok_free(t);
	qn_ids_free(&ids);
	qn_buf_release(&in);
	qn_buf_release(&obuf);
	if (opt.output) {
		if (fclose(out) != 0) {
			qn_warnx("%s: %s", tmpname, strerror(errno));
			status = QN_EXIT_FAIL;
		}
		if (status == QN_EXIT_OK && rename(tmpname, opt.output) != 0) {
			qn_warnx("%s: %s", opt.output, strerror(errno));
			status = QN_EXIT_FAIL;
		}
		if (status != QN_EXIT_OK)
			unlink(tmpname);
		free(tmpname);
		return status;
	}
	return qn_finish_stdout(status);
}
