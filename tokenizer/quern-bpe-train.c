/*
 * quern-bpe-train: learn a byte-level BPE tokenizer from documents.
 *
 * Two passes in one run.  Counting: the main thread reads documents (the
 * document stream, or plain text files with --text) into batches of
 * about 4 MB; workers split each batch's texts by the split pattern and
 * count the pieces ("words") in a map of their own; the main thread adds
 * the maps, in batch order, into one global map, pruned by the
 * --max-words rule whenever it grows past that bound.  Batches are cut by
 * bytes read, never by thread, and the maps are added in order, so the
 * counts (and any pruning) are the same for every -j.  Learning: the
 * merges of bpe.c over the distinct words.  Then the files: tokenizer.json
 * (loaded back through libqntok before it is published), and on request
 * a .tiktoken rank file and llm.c's tokenizer .bin.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpe.h"
#include "buf.h"
#include "cli.h"
#include "docstream.h"
#include "err.h"
#include "manifest.h"
#include "pool.h"
#include "pretok.h"
#include "progress.h"
#include "tok_impl.h"
#include "utf8.h"

#define BATCH_BYTES (4u << 20)
#define MAX_ERRORS_DEFAULT 1000
#define MAX_WORDS_DEFAULT (16u << 20)

static struct {
	const char *manifest, *output, *pattern, *tiktoken, *llmc;
	int threads, quiet, text;
	uint64_t vocab, min_freq, max_words;
	long max_errors;
	char **special;
	int nspecial;
} opt;

static struct {
	uint64_t docs, bytes, errors, pruned_words, pruned_occ, prunes, max_threshold;
} cnt;

static struct qn_pretok *pre;
static struct qn_pretok_state **states;	/* one per worker */
static struct qn_wmap words;
static struct qn_manifest *manifest;
static struct qn_progress progress;

struct batch {
	struct qn_buf text;	/* the texts, back to back */
	size_t *end;		/* end offset of each text */
	size_t n, cap;
	struct qn_wmap map;
	int failed;
	struct qn_err err;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: quern-bpe-train [-q] [-j N] [-m DB] --vocab-size N -o TOKENIZER [--text]\n"
		"                       [--pattern NAME|REGEX] [--special TEXT]... [--min-frequency N]\n"
		"                       [--max-words N] [--tiktoken FILE] [--llmc FILE] [--max-errors N] IN...\n"
		"Learns a byte-level BPE tokenizer from document streams (or plain text files\n"
		"with --text) and writes it as a Hugging Face tokenizer.json.\n"
		"  -o, --output FILE      the tokenizer.json to write\n"
		"      --vocab-size N     ids in all: 256 bytes, merges, special tokens\n"
		"      --text             inputs are plain text files, not document streams\n"
		"      --pattern P        split pattern: gpt2, cl100k_base, o200k_base, or a PCRE2\n"
		"                         regex (default gpt2)\n"
		"      --special TEXT     a special token (repeatable; default <|endoftext|>)\n"
		"      --min-frequency N  merge only pairs seen at least N times (default 2)\n"
		"      --max-words N      distinct words kept while counting (default 16M); past\n"
		"                         it the rarest are pruned\n"
		"      --tiktoken FILE    also write a .tiktoken rank file\n"
		"      --llmc FILE        also write llm.c's tokenizer .bin\n"
		"      --max-errors N     fail after more than N bad documents (default 1000)\n"
		"  -j, --threads N        threads (default: all cores)\n"
		"  -m, --manifest DB      the manifest (default $QUERN_MANIFEST or quern.db)\n"
		"  -q, --quiet            no progress or summary\n"
		"  -h, --help             this help\n"
		"  -V, --version          the version\n\n"
		"See quern-bpe-train(1).\n");
}

/* ---- counting ---- */

static int count_piece(void *arg, const char *p, size_t n)
{
	struct qn_wmap *m = arg;

	if (n <= UINT32_MAX)
		qn_wmap_add(m, p, (uint32_t)n, 1);
	return 0;
}

static void work(void *ctx, void *b_, int worker)
{
	struct batch *b = b_;
	size_t start = 0;

	(void)ctx;
	for (size_t i = 0; i < b->n; i++) {
		if (qn_pretok_split(states[worker], b->text.data + start, b->end[i] - start, count_piece,
				    &b->map, &b->err)) {
			b->failed = 1;
			return;
		}
		start = b->end[i];
	}
}

static struct batch *batch_new(void)
{
	struct batch *b = qn_xcalloc(1, sizeof *b);

	qn_wmap_init(&b->map);
	return b;
}

static void batch_free(struct batch *b)
{
	qn_buf_release(&b->text);
	free(b->end);
	qn_wmap_release(&b->map);
	free(b);
}

static void batch_add(struct batch *b, const char *s, size_t n)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? 2 * b->cap : 256;
		b->end = qn_xrealloc(b->end, b->cap * sizeof *b->end);
	}
	qn_buf_append(&b->text, s, n);
	b->end[b->n++] = b->text.len;
}

/* Adds a finished batch into the global map; pruning keeps memory bounded. */
static int take(struct batch *b)
{
	int rc = 0;

	if (b->failed) {
		qn_warnx("%s", b->err.msg);
		rc = -1;
	} else {
		qn_wmap_merge(&words, &b->map);
		if (words.n > opt.max_words) {
			uint64_t k = qn_wmap_prune(&words, opt.max_words, &cnt.pruned_words, &cnt.pruned_occ);

			cnt.prunes++;
			if (k > cnt.max_threshold)
				cnt.max_threshold = k;
		}
	}
	batch_free(b);
	return rc;
}

static int bad_doc(const char *msg)
{
	qn_warnx("%s", msg);
	if (++cnt.errors > (uint64_t)opt.max_errors) {
		qn_warnx("more than %ld bad documents: giving up", opt.max_errors);
		return -1;
	}
	return 0;
}

/* Submits b, first taking a finished batch when the pool is full. */
static int submit(struct qn_pool *pool, struct batch *b)
{
	int rc = 0;

	if (qn_pool_full(pool))
		rc = take(qn_pool_next(pool));
	qn_pool_submit(pool, b);
	qn_progress_update(&progress, cnt.docs, cnt.bytes);
	return rc;
}

/*
 * A plain text file, in pieces of about BATCH_BYTES cut just after a
 * newline that a non-white-space byte follows (no built-in pattern has a
 * piece across such a place), so the pieces do not depend on -j.
 */
static int read_text(const char *path, struct qn_pool *pool, struct batch **cur)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	struct qn_buf carry = QN_BUF_INIT;
	char *chunk = qn_xmalloc(BATCH_BYTES);
	size_t got;
	int rc = 0;

	if (!f) {
		qn_warnx("%s: %s", path, strerror(errno));
		free(chunk);
		return -1;
	}
	for (;;) {
		got = fread(chunk, 1, BATCH_BYTES, f);
		qn_buf_append(&carry, chunk, got);
		int eof = got < BATCH_BYTES;
		size_t cut = carry.len;

		if (!eof) {
			cut = 0;
			for (size_t i = carry.len - 1; i > 0; i--)
				if (carry.data[i - 1] == '\n' && !strchr(" \t\r\n\v\f", carry.data[i])) {
					cut = i;
					break;
				}
			if (cut == 0 && carry.len < 4 * (size_t)BATCH_BYTES)
				continue;	/* no place to cut yet: read more */
			if (cut == 0)
				cut = carry.len;
		}
		if (cut) {
			batch_add(*cur, carry.data, cut);
			cnt.bytes += cut;
			memmove(carry.data, carry.data + cut, carry.len - cut);
			carry.len -= cut;
			if ((rc = submit(pool, *cur)))
				break;
			*cur = batch_new();
		}
		if (eof)
			break;
		if (qn_signalled)
			break;
	}
	cnt.docs++;	/* a text file counts as one document */
	if (ferror(f)) {
		qn_warnx("%s: read error: %s", path, strerror(errno));
		rc = -1;
	}
	if (f != stdin)
		fclose(f);
	qn_buf_release(&carry);
	free(chunk);
	return rc;
}

static int read_docs(const char *path, struct qn_pool *pool, struct batch **cur)
{
	struct qn_err err;
	struct qn_docreader *r = qn_docreader_open(path, NULL, &err);
	struct qn_doc d;
	int rc = 0, got;

	if (!r) {
		qn_warnx("%s", err.msg);
		return -1;
	}
	qn_doc_init(&d);
	while ((got = qn_docreader_next(r, &d, &err)) != 0 && !qn_signalled) {
		if (got == QN_EINPUT) {
			if ((rc = bad_doc(err.msg)))
				break;
			continue;
		}
		if (got < 0) {
			qn_warnx("%s", err.msg);
			rc = -1;
			break;
		}
		batch_add(*cur, d.text.data ? d.text.data : "", d.text.len);
		cnt.docs++;
		cnt.bytes += d.text.len;
		if ((*cur)->text.len >= BATCH_BYTES) {
			if ((rc = submit(pool, *cur)))
				break;
			*cur = batch_new();
		}
	}
	qn_doc_release(&d);
	qn_docreader_close(r);
	return rc;
}

/* ---- writing ---- */

static void put_bytelevel(struct qn_buf *b, const uint8_t *s, size_t n)
{
	struct qn_buf u = QN_BUF_INIT;

	for (size_t i = 0; i < n; i++) {
		uint32_t c = qn_bytelevel_char(s[i]);

		if (c < 0x80) {
			qn_buf_putc(&u, (char)c);
		} else {
			qn_buf_putc(&u, (char)(0xc0 | c >> 6));
			qn_buf_putc(&u, (char)(0x80 | (c & 0x3f)));
		}
	}
	qn_buf_append_json_str(b, qn_buf_str(&u), u.len);
	qn_buf_release(&u);
}

static void tokenizer_json(const struct qn_bpe *bpe, struct qn_buf *j)
{
	qn_buf_puts(j, "{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n"
		    "  \"added_tokens\": [");
	for (int i = 0; i < opt.nspecial; i++) {
		qn_buf_appendf(j, "%s\n    {\"id\": %u, \"content\": ", i ? "," : "", bpe->ntok + (uint32_t)i);
		qn_buf_append_json_str(j, opt.special[i], strlen(opt.special[i]));
		qn_buf_puts(j, ", \"single_word\": false, \"lstrip\": false, \"rstrip\": false, "
			    "\"normalized\": false, \"special\": true}");
	}
	qn_buf_puts(j, "\n  ],\n  \"normalizer\": null,\n  \"pre_tokenizer\": {\"type\": \"Sequence\", "
		    "\"pretokenizers\": [\n    {\"type\": \"Split\", \"pattern\": {\"Regex\": ");
	qn_buf_append_json_str(j, opt.pattern, strlen(opt.pattern));
	qn_buf_puts(j, "}, \"behavior\": \"Isolated\", \"invert\": false},\n"
		    "    {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": true, "
		    "\"use_regex\": false}\n  ]},\n  \"post_processor\": null,\n"
		    "  \"decoder\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true, "
		    "\"trim_offsets\": true, \"use_regex\": true},\n"
		    "  \"model\": {\n    \"type\": \"BPE\",\n    \"dropout\": null,\n    \"unk_token\": null,\n"
		    "    \"continuing_subword_prefix\": null,\n    \"end_of_word_suffix\": null,\n"
		    "    \"fuse_unk\": false,\n    \"byte_fallback\": false,\n    \"ignore_merges\": false,\n"
		    "    \"vocab\": {");
	for (uint32_t i = 0; i < bpe->ntok; i++) {
		qn_buf_puts(j, i ? ",\n      " : "\n      ");
		put_bytelevel(j, bpe->blob + bpe->off[i], bpe->off[i + 1] - bpe->off[i]);
		qn_buf_appendf(j, ": %u", i);
	}
	qn_buf_puts(j, "\n    },\n    \"merges\": [");
	for (size_t k = 0; k < bpe->nmerges; k++) {
		uint32_t a = bpe->merges[2 * k], b = bpe->merges[2 * k + 1];

		qn_buf_puts(j, k ? ",\n      [" : "\n      [");
		put_bytelevel(j, bpe->blob + bpe->off[a], bpe->off[a + 1] - bpe->off[a]);
		qn_buf_puts(j, ", ");
		put_bytelevel(j, bpe->blob + bpe->off[b], bpe->off[b + 1] - bpe->off[b]);
		qn_buf_puts(j, "]");
	}
	qn_buf_puts(j, "\n    ]\n  }\n}\n");
}

static void tiktoken_file(const struct qn_bpe *bpe, struct qn_buf *o)
{
	struct qn_buf b64 = QN_BUF_INIT;

	for (uint32_t i = 0; i < bpe->ntok; i++) {
		qn_buf_reset(&b64);
		qn_base64_encode(bpe->blob + bpe->off[i], bpe->off[i + 1] - bpe->off[i], &b64);
		qn_buf_appendf(o, "%s %u\n", qn_buf_str(&b64), i);
	}
	qn_buf_release(&b64);
}

/* llm.c's tokenizer file: 256 uint32 of header, then a length byte and the bytes of each id. */
static int llmc_file(const struct qn_bpe *bpe, struct qn_buf *o)
{
	uint32_t h[256] = { 0 };
	int64_t eot = -1;

	for (int i = 0; i < opt.nspecial; i++)
		if (!strcmp(opt.special[i], "<|endoftext|>"))
			eot = bpe->ntok + (uint32_t)i;
	h[0] = 20240328;
	h[1] = 2;
	h[2] = bpe->ntok + (uint32_t)opt.nspecial;
	h[3] = eot < 0 ? (opt.nspecial ? bpe->ntok : 0) : (uint32_t)eot;
	qn_buf_append(o, h, sizeof h);
	for (uint32_t i = 0; i < bpe->ntok + (uint32_t)opt.nspecial; i++) {
		const uint8_t *s = i < bpe->ntok ? bpe->blob + bpe->off[i] : (const uint8_t *)opt.special[i - bpe->ntok];
		size_t n = i < bpe->ntok ? bpe->off[i + 1] - bpe->off[i] : strlen(opt.special[i - bpe->ntok]);

		if (n > 255) {
			qn_warnx("%s: id %u is %zu bytes long, more than llm.c's 255", opt.llmc, i, n);
			return -1;
		}
		uint8_t l = (uint8_t)n;
		qn_buf_append(o, &l, 1);
		qn_buf_append(o, s, n);
	}
	return 0;
}

/* Writes b to path under a temporary name, then renames it. */
static int publish(const char *path, const struct qn_buf *b)
{
	char *tmp = qn_xasprintf("%s.tmp%ld", path, (long)getpid());
	FILE *f = fopen(tmp, "wb");
	int ok = f && fwrite(b->data, 1, b->len, f) == b->len;

	if (f && fflush(f) == 0 && ok)
		ok = fsync(fileno(f)) == 0;
	if (f && fclose(f) != 0)
		ok = 0;
	if (!ok || rename(tmp, path) != 0) {
		qn_warnx("%s: %s", path, strerror(errno));
		unlink(tmp);
		free(tmp);
		return -1;
	}
	free(tmp);
	return 0;
}

static uint64_t size_arg(const char *name, const char *arg, int zero_ok)
{
	uint64_t v;

	if (qn_parse_size(arg, &v) < 0 || (!zero_ok && v == 0))
		qn_usage_error("invalid number '%s' for %s", arg, name);
	return v;
}

static void progress_merges(void *arg, size_t n)
{
	(void)arg;
	qn_progress_update(&progress, n, 0);
}

int main(int argc, char **argv)
{
	enum { O_VOCAB = 256, O_TEXT, O_PATTERN, O_SPECIAL, O_MINFREQ, O_MAXWORDS, O_TIKTOKEN, O_LLMC,
	       O_MAXERR };
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "vocab-size", required_argument, NULL, O_VOCAB },
		{ "text", no_argument, NULL, O_TEXT },
		{ "pattern", required_argument, NULL, O_PATTERN },
		{ "special", required_argument, NULL, O_SPECIAL },
		{ "min-frequency", required_argument, NULL, O_MINFREQ },
		{ "max-words", required_argument, NULL, O_MAXWORDS },
		{ "tiktoken", required_argument, NULL, O_TIKTOKEN },
		{ "llmc", required_argument, NULL, O_LLMC },
		{ "max-errors", required_argument, NULL, O_MAXERR },
		{ "threads", required_argument, NULL, 'j' },
		{ "manifest", required_argument, NULL, 'm' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct qn_err err;
	struct qn_config cfg;
	const char *failure = NULL;
	char *failbuf = NULL;
	int c;
	char *end;
	static char *default_special[] = { (char *)"<|endoftext|>" };

	qn_cli_init(argc, argv);
	qn_catch_signals();
	opt.threads = qn_ncores();
	opt.min_freq = 2;
	opt.max_words = MAX_WORDS_DEFAULT;
	opt.max_errors = MAX_ERRORS_DEFAULT;
	opt.pattern = "gpt2";
	while ((c = getopt_long(argc, argv, "o:j:m:qhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'o': opt.output = optarg; break;
		case O_VOCAB: opt.vocab = size_arg("--vocab-size", optarg, 0); break;
		case O_TEXT: opt.text = 1; break;
		case O_PATTERN: opt.pattern = optarg; break;
		case O_SPECIAL:
			opt.special = qn_xrealloc(opt.special, (size_t)(opt.nspecial + 1) * sizeof *opt.special);
			opt.special[opt.nspecial++] = optarg;
			break;
		case O_MINFREQ: opt.min_freq = size_arg("--min-frequency", optarg, 1); break;
		case O_MAXWORDS: opt.max_words = size_arg("--max-words", optarg, 0); break;
		case O_TIKTOKEN: opt.tiktoken = optarg; break;
		case O_LLMC: opt.llmc = optarg; break;
		case O_MAXERR:
			errno = 0;
			opt.max_errors = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || opt.max_errors < 0)
				qn_usage_error("invalid number '%s' for --max-errors", optarg);
			break;
		case 'j': opt.threads = qn_parse_threads(optarg); break;
		case 'm': opt.manifest = optarg; break;
		case 'q': opt.quiet = 1; break;
		case 'h': usage(stdout); return 0;
		case 'V': qn_print_version();
		default: usage(stderr); return QN_EXIT_USAGE;
		}
	}
	if (!opt.output)
		qn_usage_error("-o TOKENIZER is required");
	if (!opt.vocab)
		qn_usage_error("--vocab-size N is required");
	if (optind >= argc)
		qn_usage_error("no input");
	if (!opt.special) {
		opt.special = default_special;
		opt.nspecial = 1;
	}
	for (int i = 0; i < opt.nspecial; i++) {
		if (!opt.special[i][0] || !qn_utf8_valid(opt.special[i], strlen(opt.special[i])))
			qn_usage_error("--special: '%s' is empty or not UTF-8", opt.special[i]);
		for (int k = 0; k < i; k++)
			if (!strcmp(opt.special[i], opt.special[k]))
				qn_usage_error("--special: '%s' is given twice", opt.special[i]);
	}
	if (opt.vocab < 256 + (uint64_t)opt.nspecial || opt.vocab > (1u << 24))
		qn_usage_error("--vocab-size must be between %d and %u", 256 + opt.nspecial, 1u << 24);
	if (opt.max_words < 1024)
		qn_usage_error("--max-words must be at least 1024");
	if (qn_pretok_builtin(opt.pattern))
		opt.pattern = qn_pretok_builtin(opt.pattern);
	if (!qn_utf8_valid(opt.pattern, strlen(opt.pattern)))
		qn_usage_error("--pattern is not UTF-8");
	if (qn_pretok_new(opt.pattern, &pre, &err))
		qn_usage_error("--pattern: %s", err.msg);

	if (!(manifest = qn_manifest_open(qn_manifest_path(opt.manifest), &err)))
		qn_errx(QN_EXIT_FAIL, "%s", err.msg);
	qn_config_init(&cfg);
	qn_config_str(&cfg, "output", opt.output);
	qn_config_str(&cfg, "manifest", qn_manifest_path(opt.manifest));
	qn_config_int(&cfg, "vocab_size", (int64_t)opt.vocab);
	qn_config_bool(&cfg, "text", opt.text);
	qn_config_str(&cfg, "pattern", opt.pattern);
	qn_config_strv(&cfg, "special", opt.special, opt.nspecial);
	qn_config_int(&cfg, "min_frequency", (int64_t)opt.min_freq);
	qn_config_int(&cfg, "max_words", (int64_t)opt.max_words);
	qn_config_str(&cfg, "tiktoken", opt.tiktoken ? opt.tiktoken : "");
	qn_config_str(&cfg, "llmc", opt.llmc ? opt.llmc : "");
	qn_config_int(&cfg, "max_errors", opt.max_errors);
	qn_config_int(&cfg, "threads", opt.threads);
	qn_config_bool(&cfg, "quiet", opt.quiet);
	if (qn_manifest_run_begin(manifest, "quern-bpe-train", qn_cli_argc, qn_cli_argv,
				  qn_config_json(&cfg), &err) < 0) {
		qn_config_release(&cfg);
		qn_manifest_close(manifest);
		qn_errx(QN_EXIT_FAIL, "%s", err.msg);
	}
	qn_config_release(&cfg);

	/* ---- counting ---- */
	states = qn_xcalloc((size_t)opt.threads, sizeof *states);
	for (int i = 0; i < opt.threads; i++)
		states[i] = qn_pretok_state_new(pre);
	qn_wmap_init(&words);
	struct qn_pool *pool = qn_pool_new(opt.threads, work, NULL, 0);
	struct batch *cur = batch_new(), *done;
	int rc = 0;

	qn_progress_init(&progress, stderr, !opt.quiet, "docs", 0);
	for (int i = optind; i < argc && !rc && !qn_signalled; i++) {
		rc = opt.text ? read_text(argv[i], pool, &cur) : read_docs(argv[i], pool, &cur);
		if (!rc && strcmp(argv[i], "-") && qn_manifest_file(manifest, argv[i], QN_INPUT, &err) < 0) {
			qn_warnx("%s", err.msg);
			rc = -1;
		}
	}
	if (!rc && cur->n)
		rc = submit(pool, cur);
	else
		batch_free(cur);
	while ((done = qn_pool_next(pool)) != NULL)
		if (take(done))
			rc = -1;
	qn_pool_free(pool);
	qn_progress_end(&progress);
	for (int i = 0; i < opt.threads; i++)
		qn_pretok_state_free(states[i]);
	free(states);

	struct qn_bpe bpe = { 0 };
	if (qn_signalled)
		failure = failbuf = qn_xasprintf("interrupted by %s", strsignal(qn_signalled));
	else if (rc)
		failure = "reading the input failed";
	if (!failure) {
		/* ---- learning ---- */
		qn_progress_init(&progress, stderr, !opt.quiet, "merges", 0);
		qn_bpe_train(&words, (uint32_t)opt.vocab - (uint32_t)opt.nspecial, opt.min_freq, &bpe,
			     progress_merges, NULL);
		qn_progress_end(&progress);
		if (qn_signalled)
			failure = failbuf = qn_xasprintf("interrupted by %s", strsignal(qn_signalled));
	}
	if (!failure) {
		/* ---- writing ---- */
		struct qn_buf j = QN_BUF_INIT;
		struct qn_tok *t = NULL;

		tokenizer_json(&bpe, &j);
		/* what is published must load: check it through the library */
		if (qn_tok_load_mem(opt.output, j.data, j.len, &t, &err)) {
			qn_warnx("%s", err.msg);
			failure = "the tokenizer written does not load";
		} else if (publish(opt.output, &j) || qn_manifest_file(manifest, opt.output, QN_OUTPUT, &err) < 0) {
			failure = "writing the tokenizer failed";
		}
		if (!failure && opt.tiktoken) {
			qn_buf_reset(&j);
			tiktoken_file(&bpe, &j);
			if (publish(opt.tiktoken, &j) || qn_manifest_file(manifest, opt.tiktoken, QN_OUTPUT, &err) < 0)
				failure = "writing the .tiktoken file failed";
		}
		if (!failure && opt.llmc) {
			qn_buf_reset(&j);
			if (llmc_file(&bpe, &j) || publish(opt.llmc, &j) ||
			    qn_manifest_file(manifest, opt.llmc, QN_OUTPUT, &err) < 0)
				failure = "writing the llm.c file failed";
		}
		if (!opt.quiet && !failure)
			fprintf(stderr, "%s: %llu document%s (%.1f MB), %zu distinct words%s, %zu merges, "
				"%u ids; hash %s\n", qn_progname, (unsigned long long)cnt.docs,
				cnt.docs == 1 ? "" : "s", (double)cnt.bytes / 1e6, words.n,
				cnt.prunes ? " after pruning" : "", bpe.nmerges,
				bpe.ntok + (uint32_t)opt.nspecial, t ? qn_tok_hash(t) : "");
		qn_tok_free(t);
		qn_buf_release(&j);
	}
	if (cnt.prunes && !opt.quiet)
		fprintf(stderr, "%s: --max-words %llu: pruned %llu times, %llu distinct words "
			"(%llu occurrences) with counts up to %llu dropped\n", qn_progname,
			(unsigned long long)opt.max_words, (unsigned long long)cnt.prunes,
			(unsigned long long)cnt.pruned_words, (unsigned long long)cnt.pruned_occ,
			(unsigned long long)cnt.max_threshold);
	if (cnt.errors && !opt.quiet)
		fprintf(stderr, "%s: %llu bad document%s skipped\n", qn_progname,
			(unsigned long long)cnt.errors, cnt.errors == 1 ? "" : "s");
	qn_manifest_count(manifest, "docs", (int64_t)cnt.docs);
	qn_manifest_count(manifest, "bytes", (int64_t)cnt.bytes);
	qn_manifest_count(manifest, "errors", (int64_t)cnt.errors);
	qn_manifest_count(manifest, "words", (int64_t)words.n);
	qn_manifest_count(manifest, "pruned_words", (int64_t)cnt.pruned_words);
	qn_manifest_count(manifest, "pruned_occurrences", (int64_t)cnt.pruned_occ);
	qn_manifest_count(manifest, "prunes", (int64_t)cnt.prunes);
	qn_manifest_count(manifest, "prune_threshold", (int64_t)cnt.max_threshold);
	qn_manifest_count(manifest, "merges", (int64_t)bpe.nmerges);
	qn_manifest_count(manifest, "vocab_size", failure ? 0 : (int64_t)(bpe.ntok + (uint32_t)opt.nspecial));
	if (failure) {
		qn_warnx("%s", failure);
		qn_manifest_run_end(manifest, 0, failure, NULL);
	} else if (qn_manifest_run_end(manifest, 1, NULL, &err) < 0) {
		qn_warnx("%s", err.msg);
		failure = "manifest";
	}
	qn_manifest_close(manifest);
	qn_bpe_release(&bpe);
	qn_wmap_release(&words);
	qn_pretok_free(pre);
	if (opt.special != default_special)
		free(opt.special);
	free(failbuf);
	return failure ? QN_EXIT_FAIL : QN_EXIT_OK;
}
